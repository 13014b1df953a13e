//! The gateway: signatures, timestamps, nonces, keys, dispatch errors and
//! request-shape limits. Every refusal is a vendor 4xx, never a 5xx.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use pretty_assertions::assert_eq;
use trustdesk_auth::Params;
use trustdesk_testkit::{Creds, T0, acs3_request, nonce, v1_request, v1_request_with};

use crate::support::{Harness, assert_error};

/// A V1 request whose signed query is then edited with `edit`.
fn edited(h: &Harness, params: &[(&str, &str)], edit: impl Fn(String) -> String) -> Request<Body> {
    let req = v1_request(&h.root(), T0, "GetUser", params);
    let uri = edit(req.uri().to_string());
    Request::builder()
        .method("POST")
        .uri(uri)
        .header("host", "127.0.0.1:8080")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn wrong_secret_is_signature_mismatch_with_string_to_sign() {
    let h = Harness::new().await;
    let bad = Creds {
        id: h.root().id,
        secret: "not-the-secret-at-all".into(),
    };
    let r = h.call_as(&bad, "ListUsers", &[]).await;
    assert_error(&r, 400, "SignatureDoesNotMatch");
    let msg = r.json()["Message"].as_str().unwrap().to_owned();
    let (head, sts) = msg.split_once(':').unwrap();
    assert_eq!(
        head,
        "Specified signature is not matched with our calculation. server string to sign is"
    );
    assert!(sts.starts_with("POST&%2F&AccessKeyId%3D"), "{sts}");
    assert!(!sts.contains(':'));
}

#[tokio::test]
async fn unknown_and_inactive_keys() {
    let h = Harness::new().await;
    let ghost = Creds {
        id: "LTAIghostghostghostghost".into(),
        secret: "x".repeat(30),
    };
    assert_error(
        &h.call_as(&ghost, "ListUsers", &[]).await,
        404,
        "InvalidAccessKeyId.NotFound",
    );

    h.create_user("kim").await;
    let kim = h.create_key("kim").await;
    // A RAM user without policies authenticates but may do nothing.
    let r = h.call_as(&kim, "GetUser", &[("UserName", "kim")]).await;
    assert_error(&r, 403, "NoPermission");
    let j = r.json();
    assert_eq!(
        j["Message"],
        "You are not authorized to do this action. You should be authorized by RAM."
    );
    assert_eq!(j["AccessDeniedDetail"]["AuthAction"], "ram:GetUser");
    assert_eq!(j["AccessDeniedDetail"]["AuthPrincipalType"], "SubUser");
    assert_eq!(j["AccessDeniedDetail"]["AuthPrincipalDisplayName"], "kim");
    for action in [
        "ListUsers",
        "CreateUser",
        "CreateAccessKey",
        "ListAccessKeys",
    ] {
        assert_error(
            &h.call_as(&kim, action, &[("UserName", "zed")]).await,
            403,
            "NoPermission",
        );
    }
    assert_error(
        &h.call_acs3(&kim, "ListUsers", &[]).await,
        403,
        "NoPermission",
    );
    assert_error(
        &h.call("GetUser", &[("UserName", "zed")]).await,
        404,
        "EntityNotExist.User",
    );

    let off = h
        .call(
            "UpdateAccessKey",
            &[
                ("UserName", "kim"),
                ("UserAccessKeyId", &kim.id),
                ("Status", "Inactive"),
            ],
        )
        .await;
    assert_eq!(off.status, StatusCode::OK);
    assert_error(
        &h.call_as(&kim, "ListUsers", &[]).await,
        400,
        "InvalidAccessKeyId.Inactive",
    );
    h.call(
        "UpdateAccessKey",
        &[
            ("UserName", "kim"),
            ("UserAccessKeyId", &kim.id),
            ("Status", "Active"),
        ],
    )
    .await;
    assert_error(
        &h.call_as(&kim, "ListUsers", &[]).await,
        403,
        "NoPermission",
    );
    h.call(
        "DeleteAccessKey",
        &[("UserName", "kim"), ("UserAccessKeyId", &kim.id)],
    )
    .await;
    assert_error(
        &h.call_as(&kim, "ListUsers", &[]).await,
        404,
        "InvalidAccessKeyId.NotFound",
    );
}

#[tokio::test]
async fn timestamps_and_nonces() {
    let h = Harness::new().await;
    let old = v1_request(
        &h.root(),
        T0 - time::Duration::minutes(16),
        "ListUsers",
        &[],
    );
    assert_error(&h.send(old).await, 400, "InvalidTimeStamp.Expired");
    let future = v1_request(
        &h.root(),
        T0 + time::Duration::minutes(16),
        "ListUsers",
        &[],
    );
    assert_error(&h.send(future).await, 400, "InvalidTimeStamp.Expired");
    let edge = v1_request(
        &h.root(),
        T0 + time::Duration::minutes(14),
        "ListUsers",
        &[],
    );
    assert_eq!(h.send(edge).await.status, StatusCode::OK);
    let garbled = edited(&h, &[("UserName", "a")], |u| {
        u.replace("Timestamp=2026-01-02T03%3A04%3A05Z", "Timestamp=yesterday")
    });
    assert_error(&h.send(garbled).await, 400, "InvalidTimeStamp.Format");

    let first = v1_request(&h.root(), T0, "ListUsers", &[]);
    let uri = first.uri().clone();
    assert_eq!(h.send(first).await.status, StatusCode::OK);
    let replay = Request::builder()
        .method("POST")
        .uri(uri.clone())
        .body(Body::empty())
        .unwrap();
    assert_error(&h.send(replay).await, 400, "SignatureNonceUsed");
    // Still refused much later, while the timestamp would pass... and after
    // the window the timestamp itself is refused.
    h.ts.clock.advance(time::Duration::minutes(20));
    let late = Request::builder()
        .method("POST")
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    assert_error(&h.send(late).await, 400, "InvalidTimeStamp.Expired");
}

#[tokio::test]
async fn forged_requests_do_not_burn_nonces() {
    let h = Harness::new().await;
    let n = nonce();
    let forged = trustdesk_auth::sign::v1_query(
        "POST",
        Params::from_pairs([("Action", "ListUsers"), ("Version", "2015-05-01")]),
        &h.root().id,
        "wrong-secret-wrong-secret",
        &n,
        T0,
    );
    let r = h
        .send(
            Request::builder()
                .method("POST")
                .uri(format!("/?{forged}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_error(&r, 400, "SignatureDoesNotMatch");
    let genuine = trustdesk_auth::sign::v1_query(
        "POST",
        Params::from_pairs([("Action", "ListUsers"), ("Version", "2015-05-01")]),
        &h.root().id,
        &h.root().secret,
        &n,
        T0,
    );
    let r = h
        .send(
            Request::builder()
                .method("POST")
                .uri(format!("/?{genuine}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn method_is_signed() {
    let h = Harness::new().await;
    let get = v1_request_with(&h.root(), T0, "GET", "ListUsers", "JSON", &[]);
    let as_post = Request::builder()
        .method("POST")
        .uri(get.uri().clone())
        .body(Body::empty())
        .unwrap();
    assert_error(&h.send(as_post).await, 400, "SignatureDoesNotMatch");
    assert_eq!(h.send(get).await.status, StatusCode::OK);
    let put = v1_request_with(&h.root(), T0, "PUT", "ListUsers", "JSON", &[]);
    assert_error(&h.send(put).await, 403, "UnsupportedHTTPMethod");
}

#[tokio::test]
async fn dispatch_and_common_parameter_errors() {
    let h = Harness::new().await;
    let p = &[("UserName", "a")];
    let cases: Vec<(Request<Body>, u16, &str)> = vec![
        (
            edited(&h, p, |u| u.replace("Action=GetUser", "Action=GetUserX")),
            404,
            "InvalidAction.NotFound",
        ),
        (
            edited(&h, p, |u| u.replace("Action=GetUser", "Action=getuser")),
            404,
            "InvalidAction.NotFound",
        ),
        (
            edited(&h, p, |u| {
                u.replace("Version=2015-05-01", "Version=2099-01-01")
            }),
            400,
            "InvalidVersion",
        ),
        (
            edited(&h, p, |u| u.replace("Action=GetUser&", "")),
            400,
            "MissingAction",
        ),
        (
            edited(&h, p, |u| u.replace("Version=2015-05-01&", "")),
            400,
            "MissingVersion",
        ),
        (
            edited(&h, p, |u| u.replace("Format=JSON", "Format=YAML")),
            400,
            "InvalidParameter.Format",
        ),
        (
            edited(&h, p, |u| {
                u.replace("SignatureMethod=HMAC-SHA1", "SignatureMethod=HMAC-SHA256")
            }),
            400,
            "InvalidSignatureMethod",
        ),
        (
            edited(&h, p, |u| {
                u.replace("SignatureVersion=1.0", "SignatureVersion=2.0")
            }),
            400,
            "InvalidSignatureVersion",
        ),
        (
            edited(&h, p, |u| format!("{u}&SecurityToken=abc")),
            400,
            "InvalidSecurityToken.Malformed",
        ),
        (
            edited(&h, p, |u| format!("{u}&SignatureType=BEARERTOKEN")),
            400,
            "InvalidSignatureType",
        ),
        (
            edited(&h, p, |u| format!("{u}&UserName=b")),
            400,
            "InvalidParameter",
        ),
        (
            edited(&h, p, |u| format!("{u}&Bad=%zz")),
            400,
            "InvalidParameter",
        ),
        (
            edited(&h, p, |u| format!("{u}&Bad=%ff%fe")),
            400,
            "InvalidParameter",
        ),
        (
            edited(&h, p, |u| format!("{u}&Extra=1")),
            400,
            "SignatureDoesNotMatch",
        ),
    ];
    for (name, drop) in [
        ("AccessKeyId", "AccessKeyId="),
        ("Signature", "Signature="),
        ("SignatureMethod", "SignatureMethod="),
        ("SignatureVersion", "SignatureVersion="),
        ("SignatureNonce", "SignatureNonce="),
        ("Timestamp", "Timestamp="),
    ] {
        let req = edited(&h, p, |u| {
            let (path, q) = u.split_once('?').unwrap();
            let kept: Vec<&str> = q.split('&').filter(|kv| !kv.starts_with(drop)).collect();
            format!("{path}?{}", kept.join("&"))
        });
        let r = h.send(req).await;
        assert_error(&r, 400, &format!("Missing{name}"));
        assert_eq!(
            r.json()["Message"],
            format!("{name} is mandatory for this action.")
        );
    }
    for (req, status, code) in cases {
        let r = h.send(req).await;
        assert_error(&r, status, code);
    }
    let long_nonce = edited(&h, p, |u| {
        let start = u.find("SignatureNonce=").unwrap() + "SignatureNonce=".len();
        let end = start + u[start..].find('&').unwrap_or(u.len() - start);
        format!("{}{}{}", &u[..start], "n".repeat(65), &u[end..])
    });
    assert_error(
        &h.send(long_nonce).await,
        400,
        "InvalidParameter.SignatureNonce.Length",
    );
}

#[tokio::test]
async fn form_bodies_merge_and_large_targets_pass() {
    let h = Harness::new().await;
    // As the old SDK's CommonRequest sends it: system parameters in the
    // query, business parameters in a form body, all signed together.
    let mut params = Params::from_pairs([
        ("Action", "CreateUser"),
        ("Version", "2015-05-01"),
        ("Format", "JSON"),
    ]);
    params.insert("UserName", "formed");
    params.insert("DisplayName", "Form-User");
    let full = trustdesk_auth::sign::v1_query(
        "POST",
        params,
        &h.root().id,
        &h.root().secret,
        &nonce(),
        T0,
    );
    let (system, business): (Vec<&str>, Vec<&str>) = full
        .split('&')
        .partition(|kv| !(kv.starts_with("UserName=") || kv.starts_with("DisplayName=")));
    let req = Request::builder()
        .method("POST")
        .uri(format!("/?{}", system.join("&")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(business.join("&")))
        .unwrap();
    let r = h.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["User"]["DisplayName"], "Form-User");

    // A ~63 KiB request target (the old CAS SDK puts PEM bundles in GET
    // URLs); 65,534 bytes is the most an HTTP request target can carry here.
    let pad = "p".repeat(63 * 1024);
    let r = h
        .send(v1_request_with(
            &h.root(),
            T0,
            "GET",
            "ListUsers",
            "JSON",
            &[("Padding", &pad)],
        ))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{}",
        &r.body[..r.body.len().min(300)]
    );

    let huge = vec![b'a'; 2 * 1024 * 1024];
    let req = Request::builder()
        .method("POST")
        .uri("/?Action=ListUsers")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-length", huge.len())
        .body(Body::from(huge))
        .unwrap();
    assert_eq!(h.send(req).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn acs3_requests() {
    let h = Harness::new().await;
    let r = h
        .call_acs3(
            &h.root(),
            "CreateUser",
            &[("UserName", "acs3-user"), ("Comments", "a b*c~d/e+f")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["User"]["Comments"], "a b*c~d/e+f");
    let bad = Creds {
        id: h.root().id,
        secret: "wrong-wrong-wrong".into(),
    };
    let r = h
        .call_acs3(&bad, "GetUser", &[("UserName", "acs3-user")])
        .await;
    assert_error(&r, 400, "SignatureDoesNotMatch");
    assert!(r.json()["Message"].as_str().unwrap().starts_with("Specified signature does not match our calculation. server StringToSign is [ACS3-HMAC-SHA256\n"));

    let tamper = |f: &dyn Fn(&mut axum::http::HeaderMap)| {
        let mut req = acs3_request(&h.root(), T0, "GetUser", &[("UserName", "acs3-user")]);
        f(req.headers_mut());
        req
    };
    let r = h
        .send(tamper(&|hm| {
            hm.insert("x-acs-content-sha256", "00".repeat(32).parse().unwrap());
        }))
        .await;
    assert_error(&r, 400, "IncompleteSignature");
    let r = h
        .send(tamper(&|hm| {
            let v = hm["authorization"]
                .to_str()
                .unwrap()
                .replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3");
            hm.insert("authorization", v.parse().unwrap());
        }))
        .await;
    assert_error(&r, 400, "InvalidSignatureMethod");
    let r = h
        .send(tamper(&|hm| {
            let v = hm["authorization"].to_str().unwrap().replace("host;", "");
            hm.insert("authorization", v.parse().unwrap());
        }))
        .await;
    assert_error(&r, 400, "IncompleteSignature");
    let r = h
        .send(tamper(&|hm| {
            hm.insert("x-acs-action", "DeleteUser".parse().unwrap());
        }))
        .await;
    assert_error(&r, 400, "SignatureDoesNotMatch");
    let r = h
        .send(tamper(&|hm| {
            hm.insert("x-acs-version", "2099-01-01".parse().unwrap());
        }))
        .await;
    assert_error(&r, 400, "InvalidVersion");
    let r = h
        .send(tamper(&|hm| {
            hm.insert("x-acs-security-token", "t".parse().unwrap());
        }))
        .await;
    assert_error(&r, 400, "InvalidSecurityToken.Malformed");
    let req = tamper(&|_| {});
    let uri = req.uri().clone();
    let headers = req.headers().clone();
    assert_eq!(h.send(req).await.status, StatusCode::OK);
    let mut replay = Request::builder()
        .method("POST")
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    *replay.headers_mut() = headers;
    assert_error(&h.send(replay).await, 400, "SignatureNonceUsed");
}

#[tokio::test]
async fn health_endpoints() {
    let h = Harness::new().await;
    let r = h
        .send(
            Request::builder()
                .uri("/healthz")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .send(
            Request::builder()
                .uri("/readyz")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["x-acs-request-id"].len(), 36);
    // The page every error's Recommend points at.
    let r = h
        .send(
            Request::builder()
                .uri("/docs/errors")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("SignatureDoesNotMatch") && r.body.contains("EntityNotExist.User"));
    let err = h.call("GetUser", &[("UserName", "nobody")]).await.json();
    let recommend = err["Recommend"].as_str().unwrap();
    assert!(
        recommend
            .starts_with("http://127.0.0.1:8080/docs/errors?code=EntityNotExist.User&requestId="),
        "{recommend}"
    );
    assert_eq!(err["HostId"], "127.0.0.1");
}
