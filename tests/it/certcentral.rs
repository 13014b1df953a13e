//! The CertCentral face through the whole router: every endpoint, its
//! validation and errors (reference digicert-certcentral.md), role
//! enforcement, and the one identity it shares with RAM.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Harness, Ordered, assert_cc_error, assert_error};

const INVALID_KEY: &str = r#"{"errors":[{"code":"access_denied|access_denied_invalid_key","message":"Access denied due to access_denied_invalid_key."}]}"#;

/// Keys of the object at `path` in a reply body, in wire order.
fn keys_at(r: &crate::support::Reply, path: &[&str]) -> Vec<String> {
    let mut v = Ordered::parse(&r.body);
    for p in path {
        v = v.get(p).unwrap().clone();
    }
    v.keys().into_iter().map(str::to_owned).collect()
}

#[tokio::test]
async fn bad_keys_get_the_recorded_403_before_routing() {
    let h = Harness::certcentral().await;
    for key in [None, Some(""), Some("   "), Some("wrong-key")] {
        for (m, p) in [
            ("GET", "/user/me"),
            ("GET", "/no/such/route"),
            ("POST", "/user"),
        ] {
            let r = h.cc_as(key, m, p, None).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{key:?} {m} {p}");
            assert_eq!(r.body, INVALID_KEY);
            assert_eq!(r.content_type(), "application/json");
        }
    }
    // The value is trimmed; the header name is case-insensitive (the
    // replay test sends the recorded spellings over a socket).
    let r = h.cc_as(Some(" test-key "), "GET", "/user/me", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn routes_methods_and_trailing_slashes() {
    let h = Harness::certcentral().await;
    assert_eq!(h.cc("GET", "/user/", None).await.status, StatusCode::OK);
    assert_eq!(h.cc("GET", "/user/me/", None).await.status, StatusCode::OK);
    assert_eq!(h.cc("HEAD", "/account", None).await.status, StatusCode::OK);
    for (m, p) in [
        ("PATCH", "/user/me"),
        ("DELETE", "/key/1"),
        ("GET", "/user/abc"),
        ("GET", "/order/certificate"),
        ("GET", "/certificate/123"),
        ("GET", ""),
    ] {
        let r = h.cc(m, p, None).await;
        assert_cc_error(&r, 404, "not_found|route");
        assert_eq!(
            r.json()["errors"][0]["message"],
            "The specified route was not found."
        );
    }
}

#[tokio::test]
async fn me_account_and_key_roles_shapes() {
    let h = Harness::certcentral().await;
    let r = h.cc("GET", "/user/me", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["cache-control"], "private,no-cache");
    assert_eq!(r.content_type(), "application/json");
    let me = r.json();
    assert_eq!(
        r.keys(),
        [
            "id",
            "username",
            "account_id",
            "first_name",
            "last_name",
            "email",
            "status",
            "container",
            "access_roles",
            "type",
            "has_container_assignments",
            "is_cert_central",
            "is_enterprise",
            "is_saml_sso_only",
            "language_id",
            "account_language_id",
            "container_visibility",
        ]
    );
    assert_eq!(me["id"], h.ts.admin.0);
    assert_eq!(me["account_id"], h.ts.account.0);
    assert_eq!(
        me["access_roles"],
        json!([{"id": 1, "name": "Administrator"}])
    );
    assert_eq!(me["type"], "standard");
    assert_eq!(
        keys_at(&r, &["container"]),
        [
            "id",
            "public_id",
            "name",
            "parent_id",
            "template_id",
            "ekey",
            "has_logo",
            "is_active"
        ]
    );
    assert_eq!(me["container"]["parent_id"], 0);
    assert_eq!(me["container"]["template_id"], 5);

    let a = h.cc("GET", "/account", None).await.json();
    assert_eq!(a["id"], h.ts.account.0);
    assert_eq!(a["root_container_id"], me["container"]["id"]);
    assert!(a["ent_support_plan"].is_string());
    assert_eq!(a.as_object().unwrap().len(), 20);

    let roles = h.cc("GET", "/key/api-roles", None).await.json();
    assert_eq!(
        roles,
        json!({"access_roles":[{"id":100,"name":"Orders"},{"id":101,"name":"Orders, Domains, Organizations"},{"id":102,"name":"View Only"},{"id":103,"name":"User Management"}]})
    );
    let root = me["container"]["id"].as_u64().unwrap();
    let croles = h
        .cc("GET", &format!("/container/{root}/role"), None)
        .await
        .json();
    assert_eq!(
        croles,
        json!({"access_roles":[{"id":1,"name":"Administrator"},{"id":2,"name":"Limited User"},{"id":3,"name":"Finance Manager"},{"id":4,"name":"Manager"},{"id":5,"name":"Standard User"}]})
    );
}

#[tokio::test]
async fn add_get_update_delete_a_user() {
    let h = Harness::certcentral().await;
    let body = r#"{"username":"jill.valentine","first_name":"Jill","last_name":"Valentine","email":"jill.valentine@example.test","job_title":"Alpha Team","telephone":"555-555-5555","access_roles":[{"id":5}]}
"#;
    let r = h.cc("POST", "/user", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_u64().unwrap();
    assert_eq!(r.body, format!(r#"{{"id":{id}}}"#), "exactly {{\"id\":N}}");

    let u = h.cc("GET", &format!("/user/{id}"), None).await.json();
    assert_eq!(u["job_title"], "Alpha Team");
    assert_eq!(u["telephone"], "555-555-5555");
    assert_eq!(
        u["access_roles"],
        json!([{"id": 5, "name": "Standard User"}])
    );
    assert!(u.get("last_login_date").is_none());

    // The captured PUT: `id` in the body is ignored, omitted job_title and
    // telephone are cleared.
    let put = r#"{"id":201,"username":"jill.valentine","first_name":"Jill","last_name":"V","email":"jill@example.test"}
"#;
    let r = h.cc("PUT", &format!("/user/{id}"), Some(put)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(r.body, "");
    assert!(r.headers.get("content-type").is_none());
    let u = h.cc("GET", &format!("/user/{id}"), None).await.json();
    assert_eq!(u["last_name"], "V");
    assert_eq!(u["email"], "jill@example.test");
    assert!(u.get("job_title").is_none() && u.get("telephone").is_none());

    let r = h.cc("DELETE", &format!("/user/{id}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h.cc("GET", &format!("/user/{id}"), None).await;
    assert_cc_error(&r, 404, "not_found|user");
    let r = h.cc("DELETE", &format!("/user/{id}"), None).await;
    assert_cc_error(&r, 404, "not_found|user");
    // Deleting oneself is refused.
    let r = h
        .cc("DELETE", &format!("/user/{}", h.ts.admin.0), None)
        .await;
    assert_cc_error(&r, 400, "cannot_delete_own_user");
    let r = h.cc("DELETE", "/user/me", None).await;
    assert_cc_error(&r, 400, "cannot_delete_own_user");
}

#[tokio::test]
async fn add_user_validation_reports_every_field_in_order() {
    let h = Harness::certcentral().await;
    let cases: &[(Value, &[&str])] = &[
        (
            json!({}),
            &[
                "required_param|username",
                "required_param|first_name",
                "required_param|last_name",
                "required_param|email",
                "required_param|access_roles",
            ],
        ),
        (
            json!({"username":"has space","first_name":"a".repeat(129),"last_name":"L","email":"x@y","access_roles":[{"id":5}]}),
            &[
                "invalid_param|username",
                "invalid_param|first_name",
                "invalid_email",
            ],
        ),
        (
            json!({"username":"u".repeat(256),"first_name":"F","last_name":"","email":format!("{}@example.test", "a".repeat(250)),"access_roles":[]}),
            &[
                "invalid_param|username",
                "required_param|last_name",
                "invalid_param|email",
                "invalid_param|access_roles",
            ],
        ),
        (
            json!({"username":"ok","first_name":"F","last_name":"L","email":"a@b.c","job_title":"j".repeat(65),"telephone":7,"access_roles":[{"id":9}]}),
            &[
                "invalid_param|job_title",
                "invalid_param|telephone",
                "invalid_access_role",
            ],
        ),
        (
            json!({"username":"ok","first_name":"F","last_name":"L","email":"a@b.c","access_roles":[{"id":5},{"id":1}],"container":{"id":"x"},"container_id_assignments":"no","is_saml_sso_only":3}),
            &[
                "invalid_param|container.id",
                "invalid_param|access_roles",
                "invalid_param|container_id_assignments",
                "invalid_param|is_saml_sso_only",
            ],
        ),
        (
            json!({"username":null,"first_name":"  ","last_name":"L","email":"a@b.c","access_roles":[{"id":1}]}),
            &["required_param|username", "required_param|first_name"],
        ),
    ];
    for (body, want) in cases {
        let r = h.cc("POST", "/user", Some(&body.to_string())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        let got: Vec<String> = r.json()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["code"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, *want, "{body}");
    }
    // Messages name the field and the limit.
    let r = h
        .cc("POST", "/user", Some(&json!({"username":"ok","first_name":"F","last_name":"L","email":"a@b.c","job_title":"j".repeat(65),"access_roles":[{"id":5}]}).to_string()))
        .await;
    assert_eq!(
        r.json()["errors"][0]["message"],
        "job_title must be at most 64 characters."
    );
    // Bodies that are not JSON objects.
    for bad in ["", "[]", "{", "<user/>", "null"] {
        let r = h.cc("POST", "/user", Some(bad)).await;
        assert_cc_error(&r, 400, "bad_request_format");
    }
    // Unknown containers and invisible references.
    let r = h
        .cc("POST", "/user", Some(r#"{"username":"c1","first_name":"F","last_name":"L","email":"a@b.c","access_roles":[{"id":5}],"container":{"id":999999}}"#))
        .await;
    assert_cc_error(&r, 400, "invalid_param|container.id");
    let r = h
        .cc("POST", "/user", Some(r#"{"username":"c1","first_name":"F","last_name":"L","email":"a@b.c","access_roles":[{"id":5}],"container_id_assignments":[999999]}"#))
        .await;
    assert_cc_error(&r, 400, "invalid_param|container_id_assignments");
    // Nothing was stored by any refused request.
    let list = h.cc("GET", "/user", None).await.json();
    assert_eq!(list["page"]["total"], 1, "{list}");
}

#[tokio::test]
async fn usernames_are_unique_ignoring_case_and_use_the_certcentral_charset() {
    let h = Harness::certcentral().await;
    h.cc_add_user("Jill+ops", 5).await;
    let body = json!({"username":"jill+OPS","first_name":"F","last_name":"L","email":"a@b.c","access_roles":[{"id":5}]});
    let r = h.cc("POST", "/user", Some(&body.to_string())).await;
    assert_cc_error(&r, 400, "duplicate_username");
    assert_eq!(
        r.json()["errors"][0]["message"],
        "The username is already in use."
    );
    // A RAM user's name is taken on CertCentral too, and the reverse.
    h.create_user("ram.user").await;
    let body = json!({"username":"RAM.USER","first_name":"F","last_name":"L","email":"a@b.c","access_roles":[{"id":5}]});
    assert_cc_error(
        &h.cc("POST", "/user", Some(&body.to_string())).await,
        400,
        "duplicate_username",
    );
    h.cc_add_user("cc.user", 5).await;
    let r = h.call("CreateUser", &[("UserName", "CC.user")]).await;
    assert_error(&r, 409, "EntityAlreadyExists.User");
}

#[tokio::test]
async fn list_paging_filters_and_sort() {
    let h = Harness::certcentral().await;
    for (i, role) in [5, 4, 3, 5, 1].iter().enumerate() {
        h.cc_add_user(&format!("user{i}"), *role).await;
    }
    let reply = h.cc("GET", "/user", None).await;
    let all = reply.json();
    assert_eq!(all["page"], json!({"total": 6, "limit": 1000, "offset": 0}));
    assert_eq!(reply.keys(), ["users", "page"]);
    assert_eq!(keys_at(&reply, &["page"]), ["total", "limit", "offset"]);
    // Default order: id ascending.
    let ids: Vec<u64> = all["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_u64().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    // List items have no get-only fields.
    assert!(all["users"][0].get("is_cert_central").is_none());

    let p = h.cc("GET", "/user?offset=4&limit=2", None).await.json();
    assert_eq!(p["page"], json!({"total": 6, "limit": 2, "offset": 4}));
    assert_eq!(p["users"].as_array().unwrap().len(), 2);
    let p = h.cc("GET", "/user?offset=10", None).await.json();
    assert_eq!(p["users"], json!([]));
    assert_eq!(p["page"]["total"], 6);
    let p = h.cc("GET", "/user?limit=5000", None).await.json();
    assert_eq!(p["page"]["limit"], 1000);
    for bad in [
        "limit=0",
        "limit=-3",
        "offset=x",
        "sort=colour",
        "access_role_id=12",
    ] {
        let r = h.cc("GET", &format!("/user?{bad}"), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            r.json()["errors"][0]["code"]
                .as_str()
                .unwrap()
                .starts_with("invalid_param|")
        );
    }

    let p = h.cc("GET", "/user?access_role_id=5", None).await.json();
    assert_eq!(p["page"]["total"], 2);
    let p = h
        .cc("GET", "/user?filters%5Bsearch%5D=USER3", None)
        .await
        .json();
    assert_eq!(p["page"]["total"], 1, "exact, ignoring case");
    assert_eq!(p["users"][0]["username"], "user3");
    let p = h
        .cc("GET", "/user?filters[search]=%25ser", None)
        .await
        .json();
    assert_eq!(p["page"]["total"], 5, "contains");
    let p = h.cc("GET", "/user?filters[search]=%25_", None).await.json();
    assert_eq!(p["page"]["total"], 0, "`_` is literal");
    let p = h
        .cc("GET", "/user?filters[status]=inactive", None)
        .await
        .json();
    assert_eq!(p["page"]["total"], 0);
    let p = h
        .cc("GET", "/user?filters[status]=active&sort=-username", None)
        .await
        .json();
    let names: Vec<&str> = p["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["user4", "user3", "user2", "user1", "user0", "admin"]
    );
    let p = h
        .cc("GET", "/user?without_container=true&limit=1", None)
        .await
        .json();
    assert!(p["users"][0].get("container").is_none());
}

#[tokio::test]
async fn roles_are_enforced_through_the_evaluator() {
    let h = Harness::certcentral().await;
    let standard = h.cc_add_user("std", 5).await;
    let manager = h.cc_add_user("mgr", 4).await;
    let std_key = h.cc_key_for(standard, 0).await;
    let mgr_key = h.cc_key_for(manager, 0).await;
    let add = json!({"username":"new1","first_name":"F","last_name":"L","email":"a@b.c","access_roles":[{"id":5}]}).to_string();

    // A Standard User reads itself and the account, nothing else.
    assert_eq!(
        h.cc_as(Some(&std_key), "GET", "/user/me", None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        h.cc_as(Some(&std_key), "GET", "/account", None)
            .await
            .status,
        StatusCode::OK
    );
    for (m, p, b) in [
        ("POST", "/user", Some(add.as_str())),
        ("GET", "/user", None),
        ("GET", "/key", None),
    ] {
        let r = h.cc_as(Some(&std_key), m, p, b).await;
        assert_cc_error(&r, 403, "access_denied|missing_permission");
        assert_eq!(
            r.json()["errors"][0]["message"],
            "Access denied due to missing_permission."
        );
    }
    // A Manager lists and edits users but cannot add or delete them.
    assert_eq!(
        h.cc_as(Some(&mgr_key), "GET", "/user", None).await.status,
        StatusCode::OK
    );
    let edit = json!({"email":"std@example.test"}).to_string();
    let r = h
        .cc_as(
            Some(&mgr_key),
            "PUT",
            &format!("/user/{standard}"),
            Some(&edit),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_cc_error(
        &h.cc_as(Some(&mgr_key), "POST", "/user", Some(&add)).await,
        403,
        "access_denied|missing_permission",
    );
    assert_cc_error(
        &h.cc_as(Some(&mgr_key), "DELETE", &format!("/user/{standard}"), None)
            .await,
        403,
        "access_denied|missing_permission",
    );
    // The permission check comes before the object check.
    assert_cc_error(
        &h.cc_as(Some(&std_key), "GET", "/user/1", None).await,
        403,
        "access_denied|missing_permission",
    );

    // An Administrator's View Only key reads but changes nothing.
    let view = h.cc_key_for(h.ts.admin.0, 102).await;
    assert_eq!(
        h.cc_as(Some(&view), "GET", "/user", None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.cc_as(Some(&view), "GET", "/key", None).await.status,
        StatusCode::OK
    );
    assert_cc_error(
        &h.cc_as(Some(&view), "POST", "/user", Some(&add)).await,
        403,
        "access_denied|missing_permission",
    );
    // User Management: users yes, keys no.
    let um = h.cc_key_for(h.ts.admin.0, 103).await;
    assert_eq!(
        h.cc_as(Some(&um), "POST", "/user", Some(&add)).await.status,
        StatusCode::CREATED
    );
    assert_cc_error(
        &h.cc_as(Some(&um), "GET", "/key", None).await,
        403,
        "access_denied|missing_permission",
    );

    // Promotion takes effect for the user's existing key.
    let r = h
        .cc(
            "PUT",
            &format!("/user/{standard}/role"),
            Some(r#"{"access_roles":[{"id":1}]}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let add2 = json!({"username":"new2","first_name":"F","last_name":"L","email":"a@b.c","access_roles":[{"id":5}]}).to_string();
    assert_eq!(
        h.cc_as(Some(&std_key), "POST", "/user", Some(&add2))
            .await
            .status,
        StatusCode::CREATED
    );
    let r = h
        .cc(
            "PUT",
            &format!("/user/{standard}/role"),
            Some(r#"{"access_roles":[{"id":8}]}"#),
        )
        .await;
    assert_cc_error(&r, 400, "invalid_access_role");
}

#[tokio::test]
async fn api_keys_create_list_get_update_revoke() {
    let h = Harness::certcentral().await;
    let uid = h.cc_add_user("keyholder", 1).await;
    let r = h
        .cc(
            "POST",
            &format!("/key/user/{uid}"),
            Some(r#"{"name":"ci","restricted_to_role_id":102}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let created = r.json();
    assert_eq!(r.keys(), ["id", "api_key"]);
    let (kid, secret) = (
        created["id"].as_u64().unwrap(),
        created["api_key"].as_str().unwrap().to_owned(),
    );
    assert_eq!(secret.len(), 47);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));

    let kr = h.cc("GET", &format!("/key/{kid}"), None).await;
    let k = kr.json();
    assert_eq!(
        kr.keys(),
        [
            "id",
            "user",
            "status",
            "create_date",
            "name",
            "is_legacy",
            "restricted_to_role_id"
        ]
    );
    assert_eq!(
        k["user"],
        json!({"id": uid, "first_name": "First", "last_name": "Last"})
    );
    assert_eq!(k["status"], "active");
    assert_eq!(k["restricted_to_role_id"], 102);
    assert!(!k.to_string().contains(&secret), "never the secret again");

    // Using the key stamps last_used_date.
    assert_eq!(
        h.cc_as(Some(&secret), "GET", "/user/me", None).await.status,
        StatusCode::OK
    );
    let k = h.cc("GET", &format!("/key/{kid}"), None).await.json();
    assert!(k["last_used_date"].as_str().unwrap().ends_with("+00:00"));

    let lr = h.cc("GET", "/key", None).await;
    let list = lr.json();
    assert_eq!(lr.keys(), ["api_keys"]);
    assert_eq!(
        list["api_keys"].as_array().unwrap().len(),
        2,
        "the bootstrap key and this one"
    );
    let mine = h
        .cc("GET", &format!("/key?user_id={uid}"), None)
        .await
        .json();
    assert_eq!(mine["api_keys"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret));

    let r = h
        .cc("PUT", &format!("/key/{kid}"), Some(r#"{"name":"ci-2"}"#))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let k = h.cc("GET", &format!("/key/{kid}"), None).await.json();
    assert_eq!(
        (k["name"].as_str(), k["restricted_to_role_id"].as_u64()),
        (Some("ci-2"), Some(102))
    );
    assert_cc_error(
        &h.cc("PUT", &format!("/key/{kid}"), Some("{}")).await,
        400,
        "required_param|name",
    );
    assert_cc_error(
        &h.cc(
            "PUT",
            &format!("/key/{kid}"),
            Some(r#"{"name":"x","restricted_to_role_id":7}"#),
        )
        .await,
        400,
        "invalid_param|restricted_to_role_id",
    );

    // Revocation stops the key at once on this node; re-activation works.
    let r = h
        .cc(
            "PUT",
            &format!("/key/{kid}/status"),
            Some(r#"{"status":"revoked"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h.cc_as(Some(&secret), "GET", "/user/me", None).await;
    assert_eq!(r.body, INVALID_KEY);
    assert_cc_error(
        &h.cc(
            "PUT",
            &format!("/key/{kid}/status"),
            Some(r#"{"status":"paused"}"#),
        )
        .await,
        400,
        "invalid_param|status",
    );
    let r = h
        .cc(
            "PUT",
            &format!("/key/{kid}/status"),
            Some(r#"{"status":"active"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        h.cc_as(Some(&secret), "GET", "/user/me", None).await.status,
        StatusCode::OK
    );

    assert_cc_error(
        &h.cc("GET", "/key/999999", None).await,
        404,
        "not_found|key",
    );
    assert_cc_error(
        &h.cc("POST", "/key/user/999999", Some(r#"{"name":"x"}"#))
            .await,
        404,
        "not_found|user",
    );
    assert_cc_error(
        &h.cc("POST", &format!("/key/user/{uid}"), Some("{}")).await,
        400,
        "required_param|name",
    );

    // Deleting the user revokes its keys.
    assert_eq!(
        h.cc("DELETE", &format!("/user/{uid}"), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.cc_as(Some(&secret), "GET", "/user/me", None).await.body,
        INVALID_KEY
    );
}

#[tokio::test]
async fn service_users() {
    let h = Harness::certcentral().await;
    let r = h
        .cc("POST", "/user", Some(r#"{"is_api_only":true,"email":"svc@example.test","api_name":"deployer","restricted_to_role_id":103}"#))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v = r.json();
    assert_eq!(r.keys(), ["id", "api_key"]);
    let key = v["api_key"].as_str().unwrap();
    let me = h.cc_as(Some(key), "GET", "/user/me", None).await.json();
    assert_eq!(me["type"], "api_only");
    assert_eq!(
        (me["first_name"].as_str(), me["last_name"].as_str()),
        (Some("Service"), Some("User"))
    );
    assert_eq!(me["username"].as_str().unwrap().len(), 20);
    // Listed under /user/api-only, not /user.
    let std = h.cc("GET", "/user", None).await.json();
    assert_eq!(std["page"]["total"], 1);
    let svc = h.cc("GET", "/user/api-only", None).await.json();
    assert_eq!(svc["page"]["total"], 1);
    // Its User Management key may add users.
    let add = json!({"username":"by.svc","first_name":"F","last_name":"L","email":"a@b.c","access_roles":[{"id":5}]}).to_string();
    assert_eq!(
        h.cc_as(Some(key), "POST", "/user", Some(&add)).await.status,
        StatusCode::CREATED
    );
    // Required fields of the variant.
    let r = h.cc("POST", "/user", Some(r#"{"is_api_only":true}"#)).await;
    let codes: Vec<String> = r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes, ["required_param|email", "required_param|api_name"]);
    // Only administrators create service users.
    let mgr = h.cc_add_user("mgr", 4).await;
    let mgr_key = h.cc_key_for(mgr, 0).await;
    let r = h
        .cc_as(
            Some(&mgr_key),
            "POST",
            "/user",
            Some(r#"{"is_api_only":true,"email":"s@example.test","api_name":"x"}"#),
        )
        .await;
    assert_cc_error(&r, 403, "access_denied|missing_permission");
}

#[tokio::test]
async fn containers_and_visibility() {
    let h = Harness::certcentral().await;
    let me = h.cc("GET", "/user/me", None).await.json();
    let root = me["container"]["id"].as_u64().unwrap();
    let r = h
        .cc(
            "POST",
            &format!("/container/{root}/children"),
            Some(r#"{"name":"Division A","template_id":6,"description":"first"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let a = r.json()["id"].as_u64().unwrap();
    let b = h
        .cc(
            "POST",
            &format!("/container/{root}/children"),
            Some(r#"{"name":"Division B","template_id":6}"#),
        )
        .await
        .json()["id"]
        .as_u64()
        .unwrap();
    assert_cc_error(
        &h.cc(
            "POST",
            &format!("/container/{root}/children"),
            Some(r#"{"template_id":6}"#),
        )
        .await,
        400,
        "required_param|name",
    );
    assert_cc_error(
        &h.cc(
            "POST",
            &format!("/container/{root}/children"),
            Some(r#"{"name":"x","template_id":77}"#),
        )
        .await,
        400,
        "invalid_param|template_id",
    );
    assert_cc_error(
        &h.cc(
            "POST",
            "/container/999999/children",
            Some(r#"{"name":"x","template_id":6}"#),
        )
        .await,
        404,
        "not_found|container",
    );

    let list = h.cc("GET", "/container", None).await.json();
    assert_eq!(list["containers"].as_array().unwrap().len(), 3);
    let c = h.cc("GET", &format!("/container/{a}"), None).await.json();
    assert_eq!(
        (
            c["name"].as_str(),
            c["parent_id"].as_u64(),
            c["description"].as_str()
        ),
        (Some("Division A"), Some(root), Some("first"))
    );
    assert_eq!(
        h.cc("GET", &format!("/container/{a}/parent"), None)
            .await
            .json()["id"],
        root
    );
    let kids = h
        .cc("GET", &format!("/container/{root}/children"), None)
        .await
        .json();
    assert_eq!(kids["containers"].as_array().unwrap().len(), 2);
    assert_eq!(
        h.cc(
            "PUT",
            &format!("/container/{a}"),
            Some(r#"{"name":"Division A1"}"#)
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.cc("GET", &format!("/container/{a}"), None).await.json()["name"],
        "Division A1"
    );

    // A Manager in division A sees A's users only.
    let body = json!({"username":"mgr.a","first_name":"F","last_name":"L","email":"a@b.c","access_roles":[{"id":4}],"container":{"id":a}}).to_string();
    let mgr_a = h.cc("POST", "/user", Some(&body)).await.json()["id"]
        .as_u64()
        .unwrap();
    let body = json!({"username":"in.b","first_name":"F","last_name":"L","email":"a@b.c","access_roles":[{"id":5}],"container":{"id":b}}).to_string();
    let in_b = h.cc("POST", "/user", Some(&body)).await.json()["id"]
        .as_u64()
        .unwrap();
    let key = h.cc_key_for(mgr_a, 0).await;
    let seen = h.cc_as(Some(&key), "GET", "/user", None).await.json();
    assert_eq!(seen["page"]["total"], 1, "{seen}");
    assert_cc_error(
        &h.cc_as(Some(&key), "GET", &format!("/user/{in_b}"), None)
            .await,
        404,
        "not_found|user",
    );
    let cs = h.cc_as(Some(&key), "GET", "/container", None).await.json();
    assert_eq!(cs["containers"].as_array().unwrap().len(), 1);
    assert_cc_error(
        &h.cc_as(Some(&key), "GET", &format!("/container/{b}"), None)
            .await,
        404,
        "not_found|container",
    );
    // The administrator restricts a user to division B.
    let r = h
        .cc(
            "PUT",
            &format!("/user/{in_b}/container-assignments"),
            Some(&json!({"container_id_assignments":[b]}).to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let u = h.cc("GET", &format!("/user/{in_b}"), None).await.json();
    assert_eq!(u["has_container_assignments"], true);
    assert_eq!(u["container_assignments"][0]["id"], b);
    assert_cc_error(
        &h.cc(
            "PUT",
            &format!("/user/{in_b}/container-assignments"),
            Some("{}"),
        )
        .await,
        400,
        "required_param|container_id_assignments",
    );
}

/// One identity: CertCentral users are RAM users and the reverse.
#[tokio::test]
async fn one_identity_across_faces() {
    let h = Harness::certcentral().await;
    let id = h.cc_add_user("jill.valentine", 5).await;
    let r = h.call("GetUser", &[("UserName", "jill.valentine")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let u = &r.json()["User"];
    assert_eq!(u["UserId"], id.to_string(), "the same id on both faces");
    assert_eq!(u["DisplayName"], "First Last");
    assert_eq!(u["Email"], "jill.valentine@example.test");

    // RAM renames and sets a DisplayName; CertCentral sees the rename and
    // keeps its own names.
    let r = h
        .call(
            "UpdateUser",
            &[
                ("UserName", "jill.valentine"),
                ("NewUserName", "jill.v"),
                ("NewDisplayName", "JV"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let u = h.cc("GET", &format!("/user/{id}"), None).await.json();
    assert_eq!(
        (u["username"].as_str(), u["first_name"].as_str()),
        (Some("jill.v"), Some("First"))
    );

    // A RAM user appears in CertCentral as a Standard User of the root.
    let ram = h.create_user("ram.only").await;
    let list = h
        .cc("GET", "/user?filters[search]=ram.only", None)
        .await
        .json();
    assert_eq!(list["page"]["total"], 1);
    let item = &list["users"][0];
    assert_eq!(item["id"].to_string(), ram["UserId"].as_str().unwrap());
    assert_eq!(
        item["access_roles"],
        json!([{"id": 5, "name": "Standard User"}])
    );
    assert_eq!(
        (item["first_name"].as_str(), item["last_name"].as_str()),
        (Some("ram.only"), Some("ram.only"))
    );
    assert!(item.get("email").is_none(), "omitted, not null");

    // A CertCentral username RAM cannot hold is listed by RAM but refused
    // by name at RAM's edge.
    h.cc_add_user("plus+sign", 5).await;
    let names: Vec<String> = h.call("ListUsers", &[]).await.json()["Users"]["User"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"plus+sign".to_owned()));
    let r = h.call("GetUser", &[("UserName", "plus+sign")]).await;
    assert_error(&r, 400, "InvalidParameter.UserName.InvalidChars");

    // Deleting through RAM removes the CertCentral user (and its API keys).
    let key = h.cc_key_for(id, 0).await;
    let r = h.call("DeleteUser", &[("UserName", "jill.v")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_cc_error(
        &h.cc("GET", &format!("/user/{id}"), None).await,
        404,
        "not_found|user",
    );
    assert_eq!(
        h.cc_as(Some(&key), "GET", "/user/me", None).await.body,
        INVALID_KEY
    );
}

/// 64 concurrent adds of one username: exactly one wins, the rest get
/// `duplicate_username`.
#[tokio::test]
async fn concurrent_adds_of_one_username() {
    let h = std::sync::Arc::new(Harness::certcentral().await);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"username":"Same.Name","first_name":"F","last_name":format!("L{i}"),"email":"a@b.c","access_roles":[{"id":5}]}).to_string();
            let r = h.cc("POST", "/user", Some(&body)).await;
            (r.status, r.body)
        }));
    }
    let mut created = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::BAD_REQUEST => assert!(body.contains("duplicate_username"), "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(
        h.cc("GET", "/user?filters[search]=same.name", None)
            .await
            .json()["page"]["total"],
        1
    );
}
