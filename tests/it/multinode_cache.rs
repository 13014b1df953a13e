//! Two nodes on one database: two services over ONE store (as two servers
//! on one PostgreSQL are), each with its own caches, on one settable clock.
//! A change made through node A reaches node B's cached credentials, API-key
//! callers and container lists through the account's epoch in the store
//! within `EPOCH_RECHECK` (1 s), well before the caches' 5 s TTL. Each step
//! shows B's stale answer first, so the test would notice the caches going
//! away as well as the epoch not moving.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;
use trustdesk_secrets::{AccessKeySecret, MasterKey};
use trustdesk_service::{Bootstrap, BootstrapKey, EPOCH_RECHECK, Limits, Service};
use trustdesk_store_sqlite::{SqliteOptions, SqliteStore};
use trustdesk_testkit::{Creds, DEVKEY, FixedClock, T0, TestService};

use crate::support::{Harness, assert_cc_error, assert_error};

struct Nodes {
    a: Harness,
    b: Harness,
    clock: FixedClock,
}

impl Nodes {
    /// Both nodes on one fresh database, bootstrapped through A with the
    /// root key and the CertCentral administrator.
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("shared.db").display());
        let store = Arc::new(
            SqliteStore::open(&url, SqliteOptions::default())
                .await
                .unwrap(),
        );
        let clock = FixedClock::at(T0);
        let node = || {
            Service::new(
                store.clone(),
                MasterKey::from_bytes(&[42u8; 32]).unwrap(),
                Arc::new(clock.clone()),
                Limits::default(),
            )
        };
        let (a, b) = (node(), node());
        let root = Creds::root();
        let Bootstrap::Created { account, .. } = a
            .bootstrap(Some(BootstrapKey {
                id: root.id.clone(),
                secret: AccessKeySecret::new(root.secret.clone()),
            }))
            .await
            .unwrap()
        else {
            panic!("fresh database expected")
        };
        let (admin, _) = a
            .bootstrap_administrator(
                account,
                &trustdesk_domain::UserName::from_trusted("admin".into()),
                &trustdesk_domain::Email::from_trusted("admin@example.test".into()),
                Some(AccessKeySecret::new(DEVKEY.into())),
            )
            .await
            .unwrap()
            .unwrap();
        let harness = |service, dir| {
            Harness::from(TestService {
                service,
                clock: clock.clone(),
                root: root.clone(),
                account,
                devkey: DEVKEY.into(),
                admin,
                dir,
            })
        };
        Self {
            a: harness(a, dir),
            b: harness(b, tempfile::tempdir().unwrap()),
            clock: clock.clone(),
        }
    }

    /// Lets B's once-a-second epoch check come due.
    fn recheck(&self) {
        self.clock.advance(EPOCH_RECHECK);
    }
}

#[tokio::test]
async fn access_key_changes_reach_the_other_node_within_a_second() {
    let n = Nodes::new().await;
    let (a, b) = (&n.a, &n.b);
    a.create_user("kim").await;
    let kim = a.create_key("kim").await;
    // Authenticated (kim has no policies): B caches the credential.
    let denied = b.call_as(&kim, "ListUsers", &[]).await;
    assert_error(&denied, 403, "NoPermission");

    // Deactivated on A: B keeps its entry until the epoch check comes due,
    // not until the TTL runs out.
    let r = a
        .call(
            "UpdateAccessKey",
            &[
                ("UserName", "kim"),
                ("UserAccessKeyId", &kim.id),
                ("Status", "Inactive"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_error(
        &b.call_as(&kim, "ListUsers", &[]).await,
        403,
        "NoPermission",
    );
    n.clock
        .advance(EPOCH_RECHECK - time::Duration::milliseconds(1));
    assert_error(
        &b.call_as(&kim, "ListUsers", &[]).await,
        403,
        "NoPermission",
    );
    n.clock.advance(time::Duration::milliseconds(1));
    assert_error(
        &b.call_as(&kim, "ListUsers", &[]).await,
        400,
        "InvalidAccessKeyId.Inactive",
    );

    // Re-activated on A.
    let r = a
        .call(
            "UpdateAccessKey",
            &[
                ("UserName", "kim"),
                ("UserAccessKeyId", &kim.id),
                ("Status", "Active"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_error(
        &b.call_as(&kim, "ListUsers", &[]).await,
        400,
        "InvalidAccessKeyId.Inactive",
    );
    n.recheck();
    assert_error(
        &b.call_as(&kim, "ListUsers", &[]).await,
        403,
        "NoPermission",
    );

    // Renamed on A: the name B's principal carries follows.
    let display = |r: &crate::support::Reply| {
        r.json()["AccessDeniedDetail"]["AuthPrincipalDisplayName"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let r = a
        .call(
            "UpdateUser",
            &[("UserName", "kim"), ("NewUserName", "kimberly")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(display(&b.call_as(&kim, "ListUsers", &[]).await), "kim");
    n.recheck();
    assert_eq!(
        display(&b.call_as(&kim, "ListUsers", &[]).await),
        "kimberly"
    );

    // Deleted on A.
    let r = a
        .call(
            "DeleteAccessKey",
            &[("UserName", "kimberly"), ("UserAccessKeyId", &kim.id)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_error(
        &b.call_as(&kim, "ListUsers", &[]).await,
        403,
        "NoPermission",
    );
    n.recheck();
    assert_error(
        &b.call_as(&kim, "ListUsers", &[]).await,
        404,
        "InvalidAccessKeyId.NotFound",
    );
}

#[tokio::test]
async fn api_key_and_role_changes_reach_the_other_node_within_a_second() {
    let n = Nodes::new().await;
    let (a, b) = (&n.a, &n.b);
    let boss = a.cc_add_user("boss", 1).await;
    let r = a
        .cc(
            "POST",
            &format!("/key/user/{boss}"),
            Some(r#"{"name":"k","restricted_to_role_id":0}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let (kid, key) = (
        r.json()["id"].as_u64().unwrap(),
        r.json()["api_key"].as_str().unwrap().to_owned(),
    );
    let add = |name: &str| {
        json!({"username": name, "first_name": "F", "last_name": "L",
               "email": "f@example.test", "access_roles": [{"id": 5}]})
        .to_string()
    };
    let list = || b.cc_as(Some(&key), "GET", "/user", None);

    // The owner's role: an Administrator demoted on A to Standard User.
    assert_eq!(list().await.status, StatusCode::OK);
    let r = a
        .cc(
            "PUT",
            &format!("/user/{boss}/role"),
            Some(r#"{"access_roles":[{"id":5}]}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(list().await.status, StatusCode::OK, "B's caller is stale");
    n.recheck();
    assert_cc_error(&list().await, 403, "access_denied|missing_permission");
    // And promoted back.
    let r = a
        .cc(
            "PUT",
            &format!("/user/{boss}/role"),
            Some(r#"{"access_roles":[{"id":1}]}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    n.recheck();
    assert_eq!(list().await.status, StatusCode::OK);

    // The key's restriction: View Only adds no users.
    let r = b
        .cc_as(Some(&key), "POST", "/user", Some(&add("first")))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = a
        .cc(
            "PUT",
            &format!("/key/{kid}"),
            Some(r#"{"name":"k","restricted_to_role_id":102}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = b
        .cc_as(Some(&key), "POST", "/user", Some(&add("second")))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "stale: {}", r.body);
    n.recheck();
    assert_cc_error(
        &b.cc_as(Some(&key), "POST", "/user", Some(&add("third")))
            .await,
        403,
        "access_denied|missing_permission",
    );

    // Revoked on A.
    assert_eq!(list().await.status, StatusCode::OK);
    let r = a
        .cc(
            "PUT",
            &format!("/key/{kid}/status"),
            Some(r#"{"status":"revoked"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(list().await.status, StatusCode::OK, "B's caller is stale");
    n.recheck();
    assert_cc_error(
        &list().await,
        403,
        "access_denied|access_denied_invalid_key",
    );
}

#[tokio::test]
async fn containers_and_assignments_reach_the_other_node_within_a_second() {
    let n = Nodes::new().await;
    let (a, b) = (&n.a, &n.b);
    let me = b.cc("GET", "/user/me", None).await.json();
    let root = me["container"]["id"].as_u64().unwrap();
    let count = |r: crate::support::Reply| r.json()["containers"].as_array().unwrap().len();
    assert_eq!(count(b.cc("GET", "/container", None).await), 1);

    // Created on A.
    let r = a
        .cc(
            "POST",
            &format!("/container/{root}/children"),
            Some(r#"{"name":"East","template_id":6}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let east = r.json()["id"].as_u64().unwrap();
    // B's cached list is stale, but a container it does not know is looked
    // up again before B says 404: found at once (and the list refreshed).
    assert_eq!(
        count(b.cc("GET", "/container", None).await),
        1,
        "stale list"
    );
    let r = b.cc("GET", &format!("/container/{east}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(count(b.cc("GET", "/container", None).await), 2);

    // Renamed on A.
    let r = a
        .cc(
            "PUT",
            &format!("/container/{east}"),
            Some(r#"{"name":"East Coast"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let name = || async {
        b.cc("GET", &format!("/container/{east}"), None)
            .await
            .json()["name"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(name().await, "East");
    n.recheck();
    assert_eq!(name().await, "East Coast");

    // A user restricted to East on A sees only East on B.
    let viewer = a.cc_add_user("viewer", 1).await;
    let key = a.cc_key_for(viewer, 0).await;
    let seen = || b.cc_as(Some(&key), "GET", "/container", None);
    assert_eq!(count(seen().await), 2);
    let r = a
        .cc(
            "PUT",
            &format!("/user/{viewer}/container-assignments"),
            Some(&json!({"container_id_assignments": [east]}).to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(count(seen().await), 2, "B's caller is stale");
    n.recheck();
    assert_eq!(count(seen().await), 1);
}
