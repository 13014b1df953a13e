//! Cost of one authorization decision with 10 and 100 statements attached
//! (target: at most 5 µs with 10). The statements are a realistic mix:
//! each names 2–3 actions and 2–3 resources, most name other actions or
//! resources, some carry conditions (every fifth statement matches the
//! request but for an address condition that fails), and the one that
//! allows sits last, so every statement is looked at. A third case has
//! nothing that matches (the implicit deny).
//!
//!   cargo bench -p trustdesk-domain --bench evaluate -- --warm-up-time 1 --measurement-time 3

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use time::macros::datetime;
use trustdesk_domain::policy::{Decision, PolicyDocument, RequestContext, evaluate};

const ACCOUNT: &str = "1234567890123456";

/// A document of `statements` statements numbered from `offset`; the
/// allowing one last when `allow`.
fn document(statements: usize, offset: usize, allow: bool) -> PolicyDocument {
    let mut parts = Vec::new();
    let body = if allow { statements - 1 } else { statements };
    for i in offset..offset + body {
        let s = match i % 5 {
            0 => format!(
                r#"{{"Effect":"Allow","Action":["ram:List*","ram:CreateGroup","ram:AddUserToGroup"],"Resource":["acs:ram:*:{ACCOUNT}:group/team-{i}-*","acs:ram:*:{ACCOUNT}:user/team-{i}-*"]}}"#
            ),
            1 => format!(
                r#"{{"Effect":"Deny","Action":["yundun-cert:Delete*","yundun-cert:CreateUserCertificate"],"Resource":["acs:yundun-cert:*:{ACCOUNT}:certificate/{i}","acs:yundun-cert:*:{ACCOUNT}:certificate/{i}?"]}}"#
            ),
            2 => format!(
                r#"{{"Effect":"Allow","Action":["ram:GetUser","ram:UpdateUser"],"Resource":["acs:ram:*:{ACCOUNT}:user/svc-{i}","acs:ram:*:{ACCOUNT}:user/*"],"Condition":{{"IpAddress":{{"acs:SourceIp":["10.{i}.0.0/16","2001:db8:{i}::/48"]}}}}}}"#
            ),
            3 => format!(
                r#"{{"Effect":"Allow","Action":["ecs:*","oss:Get*","ram:Update?ser"],"Resource":["acs:ram:*:{ACCOUNT}:user/ops-{i}/*","acs:ecs:*:{ACCOUNT}:instance/*","acs:oss:*:{ACCOUNT}:bucket-{i}"]}}"#
            ),
            _ => format!(
                r#"{{"Effect":"Deny","Action":["ram:Delete*","ram:Detach*"],"Resource":["acs:ram:*:{ACCOUNT}:user/*","acs:ram:*:{ACCOUNT}:group/*"],"Condition":{{"Bool":{{"acs:SecureTransport":"false"}}}}}}"#
            ),
        };
        parts.push(s);
    }
    if allow {
        parts.push(format!(
            r#"{{"Effect":"Allow","Action":["ram:Get*","ram:ListGroupsForUser"],"Resource":["acs:ram:*:{ACCOUNT}:user/*","acs:ram:*:{ACCOUNT}:group/*"],"Condition":{{"DateLessThan":{{"acs:CurrentTime":"2030-01-01T00:00:00Z"}}}}}}"#
        ));
    }
    let text = format!(r#"{{"Version":"1","Statement":[{}]}}"#, parts.join(","));
    PolicyDocument::parse(&text).expect("benchmark document parses")
}

fn bench(c: &mut Criterion) {
    let ctx = RequestContext {
        current_time: datetime!(2026-11-23 08:00:00 UTC),
        source_ip: Some("192.168.7.9".parse().unwrap()),
        secure_transport: true,
        mfa_present: false,
    };
    let resource = format!("acs:ram:*:{ACCOUNT}:user/alice");
    // 10 statements in one policy; 100 as ten attached policies of ten
    // (a document holds at most 6,144 characters).
    for (n, allow) in [(10usize, true), (100, true), (10, false)] {
        let docs: Vec<PolicyDocument> = (0..n / 10)
            .map(|d| document(10, d * 10, allow && d == n / 10 - 1))
            .collect();
        assert_eq!(docs.iter().map(|d| d.statements.len()).sum::<usize>(), n);
        let want = if allow {
            Decision::Allow
        } else {
            Decision::ImplicitDeny
        };
        assert_eq!(evaluate(docs.iter(), "ram:GetUser", &resource, &ctx), want);
        let name = if allow {
            format!("evaluate {n} statements (allow at the end)")
        } else {
            format!("evaluate {n} statements (nothing matches)")
        };
        c.bench_function(&name, |b| {
            b.iter(|| {
                evaluate(
                    black_box(&docs).iter(),
                    black_box("ram:GetUser"),
                    black_box(&resource),
                    black_box(&ctx),
                )
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
