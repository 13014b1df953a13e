//! Replays every recorded CertCentral request (crates/api-digicert/tests/
//! vectors, copied from the reference) against a server on a loopback
//! socket, byte for byte with the recorded header spellings, and checks
//! status codes and body shapes against the expectations in the vectors'
//! README: the real recording's key order, JSON types and omitted keys,
//! and the exact invalid-key 403. Each replay runs once on SQLite and once
//! on PostgreSQL.

use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use trustdesk_testkit::Backend;

use crate::support::{Harness, Ordered};

fn vectors_text(file: &str) -> String {
    let path = format!(
        "{}/../api-digicert/tests/vectors/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn vectors(file: &str) -> Value {
    serde_json::from_str(&vectors_text(file)).unwrap()
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// A server on 127.0.0.1 for the harness's router.
async fn serve(h: &Harness) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = h.router.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// Sends one request exactly as given (headers in order and case) over a
/// fresh connection and reads the whole answer.
async fn send(
    addr: std::net::SocketAddr,
    request_line: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Answer {
    let mut raw = format!("{request_line}\r\n");
    for (k, v) in headers {
        match k.to_ascii_lowercase().as_str() {
            "host" => raw.push_str(&format!("{k}: {addr}\r\n")),
            "content-length" | "connection" => {}
            _ => raw.push_str(&format!("{k}: {v}\r\n")),
        }
    }
    if headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        || body.is_some()
    {
        raw.push_str(&format!("Content-Length: {}\r\n", body.map_or(0, str::len)));
    }
    raw.push_str("Connection: close\r\n\r\n");
    raw.push_str(body.unwrap_or_default());
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(raw.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8(out[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let mut body = out[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked")
    {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_owned(),
                p[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `ours` has the recorded keys in the recorded order (those it leaves
/// out must be optional ones), no others, the same JSON types, and no
/// nulls; nested objects alike.
fn same_shape(ours: &Ordered, recorded: &Ordered, optional: &[&str], at: &str) {
    let (Ordered::Object(o), Ordered::Object(r)) = (ours, recorded) else {
        panic!("{at}: not both objects: {ours:?}");
    };
    let has = |k: &str| o.iter().any(|(x, _)| x == k);
    let expected: Vec<&str> = r
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| has(k))
        .collect();
    let got: Vec<&str> = o.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(got, expected, "{at}: key order (ours vs recorded)");
    for (k, _) in r {
        if !has(k) {
            assert!(optional.contains(&k.as_str()), "{at}: missing `{k}`");
        }
    }
    for (k, v) in o {
        let rec = recorded.get(k).unwrap();
        assert_ne!(v.type_name(), "null", "{at}.{k}: null");
        assert_eq!(v.type_name(), rec.type_name(), "{at}.{k}: type");
        if let Ordered::Object(_) = v {
            same_shape(v, rec, optional, &format!("{at}.{k}"));
        }
    }
}

const OPTIONAL_USER: &[&str] = &["job_title", "telephone", "last_login_date"];

#[tokio::test]
async fn recorded_real_api_traffic() {
    recorded_real_api_traffic_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_real_api_traffic_on_postgres() {
    recorded_real_api_traffic_on(Backend::Postgres).await;
}

async fn recorded_real_api_traffic_on(backend: Backend) {
    let h = Harness::certcentral_on(backend).await;
    let addr = serve(&h).await;
    let doc = vectors("digicert-real-api-jupiterone-har.json");
    let ordered_doc = Ordered::parse(&vectors_text("digicert-real-api-jupiterone-har.json"));
    let recorded_403 = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["response"]["status"] == 403)
        .unwrap()["response"]["body_json_redacted"]
        .clone();
    for (i, e) in doc["entries"].as_array().unwrap().iter().enumerate() {
        let req = &e["request"];
        let want = e["response"]["status"].as_u64().unwrap() as u16;
        let url = req["url"].as_str().unwrap();
        let target = &url[url.find("/services").unwrap()..];
        let key = if want == 200 { "test-key" } else { "wrong-key" };
        let mut headers: Vec<(String, String)> = vec![("host".into(), String::new())];
        for (k, v) in pairs(&req["headers"]) {
            if !k.eq_ignore_ascii_case("host") {
                headers.push((k, v.replace("[REDACTED]", key)));
            }
        }
        let method = req["method"].as_str().unwrap();
        let a = send(addr, &format!("{method} {target} HTTP/1.1"), &headers, None).await;
        assert_eq!(
            a.status,
            want,
            "entry {i} {target}: {}",
            String::from_utf8_lossy(&a.body)
        );
        assert_eq!(
            a.header("content-type"),
            Some("application/json"),
            "entry {i}"
        );
        let ours = a.json();
        if want == 403 {
            assert_eq!(ours, recorded_403, "entry {i}");
            continue;
        }
        assert_eq!(a.header("cache-control"), Some("private,no-cache"));
        let recorded = ordered_doc
            .get("entries")
            .and_then(|x| x.at(i))
            .and_then(|x| x.get("response"))
            .and_then(|x| x.get("body_json_redacted"))
            .unwrap();
        let ours_o = Ordered::parse(std::str::from_utf8(&a.body).unwrap());
        if target.contains("/account") {
            same_shape(&ours_o, recorded, &[], &format!("entry {i}"));
            assert_eq!(ours_o.keys().len(), recorded.keys().len());
        } else {
            // GET /user?offset=0&limit=500
            assert_eq!(ours["page"]["limit"], 500);
            assert_eq!(ours["page"]["offset"], 0);
            assert_eq!(
                ours["page"]["total"],
                ours["users"].as_array().unwrap().len()
            );
            assert_eq!(ours_o.keys(), recorded.keys());
            same_shape(
                ours_o.get("page").unwrap(),
                recorded.get("page").unwrap(),
                &[],
                "page",
            );
            let full = recorded.get("users").and_then(|u| u.at(0)).unwrap();
            let users = ours_o.get("users").unwrap();
            let mut j = 0;
            while let Some(u) = users.at(j) {
                same_shape(u, full, OPTIONAL_USER, &format!("entry {i} user {j}"));
                j += 1;
            }
            assert!(j >= 1);
            // The recorded user without title, phone or sign-in has
            // exactly our bootstrap administrator's keys, in order.
            let rec_user2 = recorded.get("users").and_then(|u| u.at(1)).unwrap();
            assert_eq!(users.at(0).unwrap().keys(), rec_user2.keys());
        }
    }
}

#[tokio::test]
async fn recorded_go_client_user_crud() {
    recorded_go_client_user_crud_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_go_client_user_crud_on_postgres() {
    recorded_go_client_user_crud_on(Backend::Postgres).await;
}

async fn recorded_go_client_user_crud_on(backend: Backend) {
    let h = Arc::new(Harness::certcentral_on(backend).await);
    let addr = serve(&h).await;
    let me = h.cc("GET", "/user/me", None).await.json();
    let root = me["container"]["id"].as_u64().unwrap();
    let doc = vectors("digicert-marqeta-go-digicert.json");
    let mut new_id: Option<u64> = None;
    for r in doc["requests"].as_array().unwrap() {
        let seq = r["seq"].as_u64().unwrap();
        let mut line = r["request_line"].as_str().unwrap().to_owned();
        if let Some(id) = new_id {
            line = line.replace("/user/201", &format!("/user/{id}"));
        }
        let body = r["body_text"].as_str().map(|b| {
            b.replace(
                r#""container":{"id":5}"#,
                &format!(r#""container":{{"id":{root}}}"#),
            )
        });
        let a = send(addr, &line, &pairs(&r["headers"]), body.as_deref()).await;
        let text = String::from_utf8_lossy(&a.body).into_owned();
        match seq {
            1 => {
                assert_eq!(a.status, 200, "{text}");
                assert_eq!(a.json()["id"], me["id"]);
            }
            2 => {
                assert_eq!(a.status, 201, "{text}");
                let id = a.json()["id"].as_u64().unwrap();
                assert_eq!(text, format!(r#"{{"id":{id}}}"#));
                new_id = Some(id);
            }
            3 => {
                assert_eq!(a.status, 200, "{text}");
                let v = a.json();
                assert_eq!(
                    v["page"],
                    serde_json::json!({"total": 2, "limit": 1000, "offset": 0})
                );
                let names: Vec<&str> = v["users"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u["username"].as_str().unwrap())
                    .collect();
                assert!(
                    names.contains(&"admin") && names.contains(&"jill.valentine"),
                    "{names:?}"
                );
            }
            4 => {
                assert_eq!(a.status, 200, "{text}");
                let v = a.json();
                assert_eq!(v["job_title"], "Alpha Team");
                assert_eq!(v["telephone"], "555-555-5555");
                assert_eq!(
                    v["access_roles"],
                    serde_json::json!([{"id": 5, "name": "Standard User"}])
                );
            }
            5 => {
                assert_eq!(a.status, 204, "{text}");
                assert!(a.body.is_empty());
                assert_eq!(a.header("content-type"), None);
                let v = h
                    .cc("GET", &format!("/user/{}", new_id.unwrap()), None)
                    .await
                    .json();
                assert_eq!(v["last_name"], "V");
                assert_eq!(v["email"], "jill@example.test");
                assert!(v.get("job_title").is_none() && v.get("telephone").is_none());
            }
            6 => {
                assert_eq!(a.status, 204, "{text}");
                let v = h
                    .cc("GET", &format!("/user/{}", new_id.unwrap()), None)
                    .await;
                assert_eq!(v.status.as_u16(), 404);
                assert_eq!(v.json()["errors"][0]["code"], "not_found|user");
            }
            7 => {
                assert_eq!(a.status, 403, "{text}");
                assert_eq!(a.header("content-type"), Some("application/json"));
                assert_eq!(
                    text,
                    r#"{"errors":[{"code":"access_denied|access_denied_invalid_key","message":"Access denied due to access_denied_invalid_key."}]}"#
                );
            }
            other => panic!("unexpected seq {other}"),
        }
    }
}

/// The Python clients: `Content-Length: 0` with a JSON content type on a
/// GET, wrong keys, percent-encoded filter brackets, and order routes
/// that are not served yet (404 `not_found|route`).
#[tokio::test]
async fn recorded_python_clients() {
    recorded_python_clients_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_python_clients_on_postgres() {
    recorded_python_clients_on(Backend::Postgres).await;
}

async fn recorded_python_clients_on(backend: Backend) {
    let h = Harness::certcentral_on(backend).await;
    let addr = serve(&h).await;
    for file in [
        "digicert-digicert-client.json",
        "digicert-certmesh.json",
        "digicert-certmesh-cli.json",
    ] {
        let doc = vectors(file);
        for r in doc["requests"].as_array().unwrap() {
            let line = r["request_line"].as_str().unwrap();
            let headers = pairs(&r["headers"]);
            let wrong = headers.iter().any(|(_, v)| v == "wrong-key");
            let a = send(addr, line, &headers, r["body_text"].as_str()).await;
            let v = a.json();
            assert_eq!(
                a.header("content-type"),
                Some("application/json"),
                "{file} {line}"
            );
            if wrong {
                assert_eq!(a.status, 403, "{file} {line}");
                assert_eq!(
                    v["errors"][0]["code"],
                    "access_denied|access_denied_invalid_key"
                );
            } else if line.contains("/user/me") {
                assert_eq!(a.status, 200, "{file} {line}: {v}");
                assert_eq!(v["username"], "admin");
            } else {
                assert_eq!(a.status, 404, "{file} {line}: {v}");
                assert_eq!(v["errors"][0]["code"], "not_found|route");
            }
        }
    }
}
