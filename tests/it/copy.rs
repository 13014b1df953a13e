//! `trustdesk copy`: an embedded installation with something of every kind
//! (RAM users, access keys, groups, memberships, custom policies with
//! versions, attachments, CertCentral users, containers and API keys,
//! certificates, audit events, nonces) moved to PostgreSQL answers every
//! read exactly as before, through all three faces, with the same
//! credentials; ids handed out afterwards never repeat one used before the
//! move; a second copy into the same database is refused.

use axum::http::StatusCode;
use serde_json::Value;
use trustdesk_testkit::certs::{Alg, self_signed};
use trustdesk_testkit::{T0, TestService};

use crate::support::{Harness, Reply};

/// A reply without what differs per request.
fn settled(r: &Reply) -> (StatusCode, Value) {
    let mut v: Value = serde_json::from_str(&r.body).unwrap_or(Value::String(r.body.clone()));
    if let Some(o) = v.as_object_mut() {
        // Both name the request.
        o.remove("RequestId");
        o.remove("Recommend");
    }
    (r.status, v)
}

async fn reads(
    h: &Harness,
    user_key: &trustdesk_testkit::Creds,
) -> Vec<(String, StatusCode, Value)> {
    let mut out = Vec::new();
    let ram: &[(&str, &[(&str, &str)])] = &[
        ("ListUsers", &[]),
        ("ListUsers", &[("MaxItems", "2")]),
        ("GetUser", &[("UserName", "alice")]),
        ("ListAccessKeys", &[("UserName", "alice")]),
        ("ListAccessKeys", &[]),
        ("ListGroups", &[]),
        ("ListGroupsForUser", &[("UserName", "alice")]),
        ("ListUsersForGroup", &[("GroupName", "ops")]),
        ("ListPolicies", &[]),
        ("ListPolicies", &[("PolicyType", "Custom")]),
        (
            "GetPolicy",
            &[("PolicyType", "Custom"), ("PolicyName", "ReadAll")],
        ),
        (
            "ListPolicyVersions",
            &[("PolicyType", "Custom"), ("PolicyName", "ReadAll")],
        ),
        ("ListPoliciesForUser", &[("UserName", "alice")]),
        ("ListPoliciesForGroup", &[("GroupName", "ops")]),
        (
            "ListEntitiesForPolicy",
            &[("PolicyType", "Custom"), ("PolicyName", "ReadAll")],
        ),
    ];
    for (action, params) in ram {
        let r = h.call(action, params).await;
        let (s, v) = settled(&r);
        out.push((format!("RAM {action} {params:?}"), s, v));
    }
    // The copied user key still signs, and its policies still decide.
    let r = h.call_as(user_key, "GetUser", &[("UserName", "bob")]).await;
    let (s, v) = settled(&r);
    out.push(("RAM GetUser as alice".into(), s, v));
    let r = h
        .call_as(user_key, "DeleteUser", &[("UserName", "bob")])
        .await;
    let (s, v) = settled(&r);
    out.push(("RAM DeleteUser as alice (denied)".into(), s, v));
    for (action, params) in [
        ("DescribeUserCertificateList", vec![]),
        (
            "DescribeUserCertificateList",
            vec![("ShowSize", "1"), ("CurrentPage", "2")],
        ),
    ] {
        let r = h.cas(action, &params).await;
        let (s, v) = settled(&r);
        out.push((format!("CAS {action} {params:?}"), s, v));
    }
    for path in [
        "/user",
        "/user/me",
        "/container",
        "/key",
        "/account",
        "/user/api-only",
    ] {
        let r = h.cc("GET", path, None).await;
        let (s, v) = settled(&r);
        out.push((format!("CertCentral GET {path}"), s, v));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_moves_an_embedded_installation_to_postgres_whole() {
    let h = Harness::certcentral().await;
    // RAM: users, a key, a group with a member, a custom policy with two
    // versions attached to a user and to a group.
    h.create_user("alice").await;
    h.create_user("bob").await;
    let alice = h.create_key("alice").await;
    for (action, params) in [
        (
            "CreateGroup",
            vec![("GroupName", "ops"), ("Comments", "on call")],
        ),
        (
            "AddUserToGroup",
            vec![("GroupName", "ops"), ("UserName", "alice")],
        ),
        (
            "CreatePolicy",
            vec![
                ("PolicyName", "ReadAll"),
                (
                    "PolicyDocument",
                    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:Get*","Resource":"*"}]}"#,
                ),
            ],
        ),
        (
            "CreatePolicyVersion",
            vec![
                ("PolicyName", "ReadAll"),
                (
                    "PolicyDocument",
                    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:Get*","ram:List*"],"Resource":"*"}]}"#,
                ),
                ("SetAsDefault", "true"),
            ],
        ),
        (
            "AttachPolicyToUser",
            vec![
                ("PolicyType", "Custom"),
                ("PolicyName", "ReadAll"),
                ("UserName", "alice"),
            ],
        ),
        (
            "AttachPolicyToGroup",
            vec![
                ("PolicyType", "System"),
                ("PolicyName", "ReadOnlyAccess"),
                ("GroupName", "ops"),
            ],
        ),
    ] {
        let r = h.call(action, &params).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
    }
    // CertCentral: a user with an API key, a child container.
    let carol = h.cc_add_user("carol", 2).await;
    let carol_key = h.cc_key_for(carol, 0).await;
    let me = h.cc("GET", "/user/me", None).await.json();
    let root = me["container"]["id"].as_u64().unwrap();
    let r = h
        .cc(
            "POST",
            &format!("/container/{root}/children"),
            Some(r#"{"name":"Division","template_id":6}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // CAS: three certificates, the newest deleted (its id must never come
    // back).
    let mut ids = Vec::new();
    for name in ["one", "two", "three"] {
        let pair = self_signed(&[&format!("{name}.example.test")], Alg::P256, T0);
        let r = h
            .cas(
                "CreateUserCertificate",
                &[
                    ("Name", name),
                    ("Cert", &pair.cert_pem),
                    ("Key", &pair.key_pem),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        ids.push(r.json()["CertId"].as_u64().unwrap());
    }
    let r = h
        .cas("DeleteUserCertificate", &[("CertId", &ids[2].to_string())])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let before = reads(&h, &alice).await;

    // The copy.
    let cluster = trustdesk_testkit::pg::shared();
    let url = cluster.fresh_database().unwrap();
    let from = format!("sqlite://{}", h.ts.db_path().display());
    let mut progress = Vec::new();
    let report = trustdesk::copy::run(&Default::default(), &from, &url, &mut progress)
        .await
        .unwrap();
    let progress = String::from_utf8(progress).unwrap();
    assert!(progress.contains("users: 4 rows"), "{progress}");
    assert!(progress.contains("copied and verified"), "{progress}");
    let rows = |t: &str| report.tables.iter().find(|(n, _)| *n == t).unwrap().1;
    assert_eq!(rows("users"), 4); // admin, alice, bob, carol
    assert_eq!(rows("certificates"), 2);
    assert!(
        rows("audit_events") >= 4,
        "uploads and the delete are audited"
    );
    assert!(rows("nonces") > 10, "every signed call left its nonce");

    // The same answers on PostgreSQL, and the same credentials work.
    let store = trustdesk_store_postgres::PgStore::open(&url, Default::default())
        .await
        .unwrap();
    let moved = Harness::from(TestService::attach(std::sync::Arc::new(store)).await);
    let after = reads(&moved, &alice).await;
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "{} differs after the copy", b.0);
    }
    let r = moved.cc_as(Some(&carol_key), "GET", "/user/me", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["id"], carol);
    // Ids handed out after the move never repeat one used before it.
    let pair = self_signed(&["four.example.test"], Alg::P256, T0);
    let r = moved
        .cas(
            "CreateUserCertificate",
            &[
                ("Name", "four"),
                ("Cert", &pair.cert_pem),
                ("Key", &pair.key_pem),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.json()["CertId"].as_u64().unwrap() > ids[2]);
    let r = moved
        .cc(
            "POST",
            &format!("/container/{root}/children"),
            Some(r#"{"name":"After the move","template_id":6}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // And a second copy into the same database is refused.
    let again = trustdesk::copy::run(&Default::default(), &from, &url, &mut Vec::new()).await;
    assert!(
        again.unwrap_err().to_string().contains("already holds"),
        "copy never merges"
    );
}
