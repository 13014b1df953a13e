//! The RAM policy-document parser and the evaluator over what it accepts:
//! never panics, and a document that parses can be evaluated for any
//! action and resource without panicking; deny-wins holds (adding a
//! statement that denies everything makes every decision a denial).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trustdesk_domain::policy::{
    Decision, Effect, PolicyDocument, RequestContext, Statement, evaluate,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = PolicyDocument::parse(text) else {
        return;
    };
    let ctx = RequestContext {
        current_time: time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
        source_ip: Some(std::net::IpAddr::from([10, 1, 2, 3])),
        secure_transport: false,
        mfa_present: false,
    };
    for (action, resource) in [
        ("ram:GetUser", "acs:ram:*:1234567890123456:user/alice"),
        ("yundun-cert:DeleteUserCertificate", "acs:yundun-cert:*:1:certificate/7"),
        ("", ""),
    ] {
        let _ = evaluate([&doc], action, resource, &ctx);
        let mut denied = doc.clone();
        denied.statements.push(Statement {
            effect: Effect::Deny,
            actions: vec!["*".into()],
            resources: vec!["*".into()],
            conditions: Vec::new(),
        });
        assert_ne!(evaluate([&denied], action, resource, &ctx), Decision::Allow);
    }
});
