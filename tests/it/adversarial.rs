//! Tampering, malformed input and races on every face: each bad request
//! gets a vendor 4xx (never a 5xx, never a panic) and leaves nothing
//! behind; racing writers get exactly one success and the vendor's
//! conflict for the rest.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use trustdesk_testkit::{T0, acs3_request, v1_request};

use crate::support::{Harness, Reply};

#[track_caller]
fn no_server_error(r: &Reply, what: &str) {
    assert!(
        r.status.is_client_error() || r.status.is_success(),
        "{what}: {} {}",
        r.status,
        &r.body[..r.body.len().min(300)]
    );
}

async fn user_names(h: &Harness) -> Vec<String> {
    h.call("ListUsers", &[("MaxItems", "1000")]).await.json()["Users"]["User"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["UserName"].as_str().unwrap().to_owned())
        .collect()
}

/// Every byte of a signed V1 request target, changed one at a time: the
/// signature no longer matches (or the request no longer parses), so it
/// is refused with a 4xx; a change that keeps the same parameters (the
/// case of a percent-escape's hex digits) may pass once and is then a
/// replay. No other user ever appears.
#[tokio::test]
async fn every_byte_of_a_v1_request_flipped() {
    let h = Harness::new().await;
    let original = v1_request(
        &h.root(),
        T0,
        "CreateUser",
        &[("UserName", "flip.target"), ("Comments", "a b/c")],
    );
    let target = original.uri().to_string();
    let bytes = target.as_bytes();
    let mut accepted = 0;
    for i in 2..bytes.len() {
        let mut b = bytes.to_vec();
        // Another printable character in the same position.
        b[i] = if b[i] == b'z' {
            b'y'
        } else if b[i].is_ascii_graphic() && b[i] < b'~' {
            b[i] + 1
        } else {
            b'a'
        };
        let Ok(uri) = String::from_utf8(b) else {
            continue;
        };
        let Ok(req) = Request::builder()
            .method("POST")
            .uri(&uri)
            .header("host", "127.0.0.1:8080")
            .body(Body::empty())
        else {
            continue;
        };
        let r = h.send(req).await;
        no_server_error(&r, &format!("byte {i} of {target}"));
        if r.status.is_success() {
            accepted += 1;
        }
    }
    assert!(
        accepted <= 1,
        "at most one equivalent spelling creates the user"
    );
    let names = user_names(&h).await;
    assert!(names.iter().all(|n| n == "flip.target"), "{names:?}");
}

/// The same for the ACS3 `Authorization` header and `x-acs-*` headers.
#[tokio::test]
async fn every_byte_of_acs3_headers_flipped() {
    let h = Harness::new().await;
    let original = acs3_request(&h.root(), T0, "CreateUser", &[("UserName", "acs3.flip")]);
    let headers: Vec<(String, String)> = original
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    let uri = original.uri().to_string();
    for (name, value) in headers
        .iter()
        .filter(|(k, _)| k == "authorization" || k.starts_with("x-acs-"))
    {
        for i in 0..value.len() {
            let mut v = value.as_bytes().to_vec();
            v[i] = if v[i] == b'0' { b'1' } else { b'0' };
            let v = String::from_utf8(v).unwrap();
            let mut b = Request::builder().method("POST").uri(&uri);
            for (k, val) in &headers {
                b = b.header(
                    k.as_str(),
                    if k == name { v.as_str() } else { val.as_str() },
                );
            }
            let r = h.send(b.body(Body::empty()).unwrap()).await;
            no_server_error(&r, &format!("{name} byte {i}"));
            if v != *value {
                assert!(
                    !r.status.is_success() || name == "x-acs-signature-nonce",
                    "{name} byte {i} accepted"
                );
            }
        }
    }
    let names = user_names(&h).await;
    assert!(names.len() <= 1, "{names:?}");
}

/// A V1 request carrying ACS3 headers too (or the other way round) is read
/// as V1, as the vendor's gateway does; an `Authorization` header that is
/// not ACS3 is refused.
#[tokio::test]
async fn mixed_up_signature_schemes() {
    let h = Harness::new().await;
    let v1 = v1_request(&h.root(), T0, "ListUsers", &[]);
    let acs3 = acs3_request(&h.root(), T0, "ListUsers", &[]);
    let mut b = Request::builder().method("POST").uri(v1.uri().to_string());
    for (k, v) in acs3.headers() {
        b = b.header(k, v);
    }
    let r = h.send(b.body(Body::empty()).unwrap()).await;
    no_server_error(&r, "V1 query with ACS3 headers");
    let r = h
        .send(
            Request::builder()
                .method("POST")
                .uri("/?Action=ListUsers&Version=2015-05-01")
                .header("authorization", "Basic dXNlcjpwYXNz")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
}

/// Oversized values, bodies beyond the limit, invalid UTF-8 and
/// duplicated parameters: 4xx before any work, nothing stored.
#[tokio::test]
async fn malformed_and_oversized_input() {
    let h = Harness::new().await;
    let long_name = "n".repeat(30_000);
    let r = h.call("CreateUser", &[("UserName", &long_name)]).await;
    assert_eq!(r.code(), "InvalidParameter.UserName.Length");
    let r = h
        .call(
            "CreateUser",
            &[("UserName", "ok.name"), ("Comments", &"c".repeat(30_000))],
        )
        .await;
    assert_eq!(r.code(), "InvalidParameter.Comments.Length");

    let ten_mb = vec![b'x'; 10 * 1024 * 1024];
    for path in ["/", "/services/v2/user"] {
        let r = h
            .send(
                Request::builder()
                    .method("POST")
                    .uri(path)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-dc-devkey", "test-key")
                    .header("content-length", ten_mb.len())
                    .body(Body::from(ten_mb.clone()))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }

    for query in [
        "/?Action=CreateUser&UserName=%FF%FE",
        "/?Action=CreateUser&UserName=%zz",
        "/?Action=CreateUser&UserName=a&UserName=b",
        "/?Action=Create%00User",
    ] {
        let r = h
            .send(
                Request::builder()
                    .method("POST")
                    .uri(query)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert!(
            r.status.is_client_error(),
            "{query}: {} {}",
            r.status,
            r.body
        );
    }
    let r = h
        .send(
            Request::builder()
                .method("POST")
                .uri("/")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(vec![b'A', b'=', 0xff, 0xfe]))
                .unwrap(),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
    assert!(user_names(&h).await.is_empty());
}

/// SQL and XML metacharacters in every free-text field of every face come
/// back exactly as sent, and break nothing.
#[tokio::test]
async fn metacharacters_round_trip_everywhere() {
    let h = Harness::certcentral().await;
    let nasty = r#"'; DROP TABLE users; --<x a="1">&amp;</x> %_\ "#;
    let r = h
        .call("CreateUser", &[("UserName", "meta"), ("Comments", nasty)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        h.call("GetUser", &[("UserName", "meta")]).await.json()["User"]["Comments"],
        nasty
    );
    let xml = h.call_xml("GetUser", &[("UserName", "meta")]).await;
    assert!(
        xml.body
            .contains("&lt;x a=&quot;1&quot;&gt;&amp;amp;&lt;/x&gt;")
            || xml.body.contains("&lt;x a=\"1\"&gt;&amp;amp;&lt;/x&gt;"),
        "{}",
        xml.body
    );
    // Metacharacters where the charset forbids them are refused, not
    // interpreted.
    let r = h.call("CreateUser", &[("UserName", "x' OR '1'='1")]).await;
    assert_eq!(r.code(), "InvalidParameter.UserName.InvalidChars");

    let body = json!({"username":"meta.cc","first_name":nasty,"last_name":nasty,"email":"m@example.test",
        "job_title":"<b>&'\"","telephone":"1'; --","access_roles":[{"id":5}]});
    let r = h.cc("POST", "/user", Some(&body.to_string())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_u64().unwrap();
    let u = h.cc("GET", &format!("/user/{id}"), None).await.json();
    assert_eq!(
        (
            u["first_name"].as_str(),
            u["job_title"].as_str(),
            u["telephone"].as_str()
        ),
        (Some(nasty), Some("<b>&'\""), Some("1'; --"))
    );
    let found = h
        .cc("GET", "/user?filters%5Bsearch%5D=%25DROP%20TABLE", None)
        .await
        .json();
    assert_eq!(found["page"]["total"], 1, "LIKE metacharacters are literal");
    let found = h
        .cc("GET", "/user?filters%5Bsearch%5D=%25DROP%25TABLE", None)
        .await
        .json();
    assert_eq!(
        found["page"]["total"], 0,
        "a % inside is literal, no wildcard"
    );

    let group = h
        .call(
            "CreateGroup",
            &[("GroupName", "meta-group"), ("Comments", nasty)],
        )
        .await;
    assert_eq!(group.json()["Group"]["Comments"], nasty);
    let doc = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:GetUser","Resource":"acs:ram:*:*:user/'; DROP TABLE x; --"}]}"#;
    let r = h
        .call(
            "CreatePolicy",
            &[
                ("PolicyName", "Meta"),
                ("PolicyDocument", doc),
                ("Description", nasty),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = h
        .call(
            "GetPolicy",
            &[("PolicyName", "Meta"), ("PolicyType", "Custom")],
        )
        .await
        .json();
    assert_eq!(
        (
            p["Policy"]["Description"].as_str(),
            p["DefaultPolicyVersion"]["PolicyDocument"].as_str()
        ),
        (Some(nasty), Some(doc))
    );

    let pair = trustdesk_testkit::certs::self_signed(
        &["meta.example.com"],
        trustdesk_testkit::certs::Alg::P256,
        T0,
    );
    let r = h
        .cas(
            "CreateUserCertificate",
            &[
                ("Name", nasty.trim()),
                ("Cert", &pair.cert_pem),
                ("Key", &pair.key_pem),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = h.cas("DescribeUserCertificateList", &[]).await.json();
    assert_eq!(list["CertificateList"][0]["name"], nasty.trim());
}

/// 64 concurrent creates of one UserName (RAM) and one certificate Name
/// (CAS): exactly one wins, the rest get the vendor's conflict.
#[tokio::test]
async fn racing_creates_of_one_name() {
    let h = Arc::new(Harness::new().await);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let h = h.clone();
            tokio::spawn(async move {
                let name = if i % 2 == 0 { "Race.User" } else { "race.user" };
                h.call("CreateUser", &[("UserName", name)]).await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::OK => ok += 1,
            _ => assert_eq!(r.code(), "EntityAlreadyExists.User", "{}", r.body),
        }
    }
    assert_eq!(ok, 1);

    let pair = Arc::new(trustdesk_testkit::certs::self_signed(
        &["race.example.com"],
        trustdesk_testkit::certs::Alg::P256,
        T0,
    ));
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (h, pair) = (h.clone(), pair.clone());
            tokio::spawn(async move {
                h.cas(
                    "CreateUserCertificate",
                    &[
                        ("Name", "race-cert"),
                        ("Cert", &pair.cert_pem),
                        ("Key", &pair.key_pem),
                    ],
                )
                .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::OK => ok += 1,
            _ => assert_eq!(r.code(), "NameRepeat", "{}", r.body),
        }
    }
    assert_eq!(ok, 1);
    let list = h.cas("DescribeUserCertificateList", &[]).await.json();
    assert_eq!(list["TotalCount"], 1);
}

/// Keys created and deleted concurrently: the per-user limit holds, each
/// key is deleted once, and what is listed afterwards is what remains.
#[tokio::test]
async fn racing_key_creates_and_deletes() {
    let h = Arc::new(Harness::new().await);
    h.create_user("keys.race").await;
    let creates: Vec<_> = (0..16)
        .map(|_| {
            let h = h.clone();
            tokio::spawn(async move {
                h.call("CreateAccessKey", &[("UserName", "keys.race")])
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in creates {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::OK => ids.push(
                r.json()["AccessKey"]["AccessKeyId"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            _ => assert_eq!(r.code(), "LimitExceeded.User.AccessKey", "{}", r.body),
        }
    }
    assert_eq!(ids.len(), 2, "the limit is 2 per user");
    let target = ids[0].clone();
    let deletes: Vec<_> = (0..16)
        .map(|_| {
            let (h, id) = (h.clone(), target.clone());
            tokio::spawn(async move {
                h.call(
                    "DeleteAccessKey",
                    &[("UserName", "keys.race"), ("UserAccessKeyId", &id)],
                )
                .await
            })
        })
        .collect();
    let mut deleted = 0;
    for t in deletes {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::OK => deleted += 1,
            _ => assert_eq!(r.code(), "EntityNotExist.User.AccessKey", "{}", r.body),
        }
    }
    assert_eq!(deleted, 1);
    let listed = h
        .call("ListAccessKeys", &[("UserName", "keys.race")])
        .await
        .json();
    let left: Vec<&str> = listed["AccessKeys"]["AccessKey"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["AccessKeyId"].as_str().unwrap())
        .collect();
    assert_eq!(left, [ids[1].as_str()]);
}
