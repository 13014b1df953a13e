//! Cost of one authorization decision with 10 and 100 statements attached
//! (issue target: at most 5 µs with 10). The statements are a realistic
//! mix: most name other actions or resources, some carry conditions, and
//! the one that allows sits last, so every statement is looked at.
//!
//!   cargo bench -p trustdesk-domain --bench evaluate

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use time::macros::datetime;
use trustdesk_domain::policy::{Decision, PolicyDocument, RequestContext, evaluate};

const ACCOUNT: &str = "1234567890123456";

/// `statements` statements; the allowing one last when `allow`.
fn document(statements: usize, offset: usize, allow: bool) -> PolicyDocument {
    let mut parts = Vec::new();
    let body = if allow { statements - 1 } else { statements };
    for i in offset..offset + body {
        let s = match i % 4 {
            0 => format!(
                r#"{{"Effect":"Allow","Action":["ram:List*","ram:CreateGroup{i}"],"Resource":"acs:ram:*:{ACCOUNT}:group/team-{i}-*"}}"#
            ),
            1 => format!(
                r#"{{"Effect":"Deny","Action":"yundun-cert:Delete*","Resource":["acs:yundun-cert:*:{ACCOUNT}:certificate/{i}","acs:yundun-cert:*:{ACCOUNT}:certificate/{i}?"]}}"#
            ),
            2 => format!(
                r#"{{"Effect":"Allow","Action":"ram:GetUser","Resource":"acs:ram:*:{ACCOUNT}:user/svc-{i}","Condition":{{"IpAddress":{{"acs:SourceIp":["10.{i}.0.0/16"]}}}}}}"#
            ),
            _ => format!(
                r#"{{"Effect":"Allow","Action":["ecs:*","oss:Get*","ram:Update?ser"],"Resource":"acs:ram:*:{ACCOUNT}:user/ops-{i}/*"}}"#
            ),
        };
        parts.push(s);
    }
    if allow {
        parts.push(format!(
            r#"{{"Effect":"Allow","Action":"ram:Get*","Resource":"acs:ram:*:{ACCOUNT}:user/*","Condition":{{"DateLessThan":{{"acs:CurrentTime":"2030-01-01T00:00:00Z"}}}}}}"#
        ));
    }
    let text = format!(r#"{{"Version":"1","Statement":[{}]}}"#, parts.join(","));
    PolicyDocument::parse(&text).expect("benchmark document parses")
}

fn bench(c: &mut Criterion) {
    let ctx = RequestContext {
        current_time: datetime!(2026-11-23 08:00:00 UTC),
        source_ip: Some("192.168.7.9".parse().unwrap()),
        secure_transport: false,
        mfa_present: false,
    };
    let resource = format!("acs:ram:*:{ACCOUNT}:user/alice");
    // 10 statements in one policy; 100 as ten attached policies of ten
    // (a document holds at most 6,144 characters).
    for n in [10usize, 100] {
        let docs: Vec<PolicyDocument> = (0..n / 10)
            .map(|d| document(10, d * 10, d == n / 10 - 1))
            .collect();
        assert_eq!(
            evaluate(docs.iter(), "ram:GetUser", &resource, &ctx),
            Decision::Allow
        );
        c.bench_function(
            &format!("evaluate {n} statements (allow at the end)"),
            |b| {
                b.iter(|| {
                    evaluate(
                        black_box(&docs).iter(),
                        black_box("ram:GetUser"),
                        black_box(&resource),
                        &ctx,
                    )
                })
            },
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
