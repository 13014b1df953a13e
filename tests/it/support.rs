//! In-process harness: the whole application router over a fresh service.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use trustdesk::app::{self, HttpLimits};
use trustdesk_testkit::{
    Backend, CAS, Creds, TestService, acs3_request, acs3_request_for, v1_request, v1_request_for,
    v1_request_with,
};

pub struct Harness {
    pub ts: TestService,
    pub router: Router,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The top-level keys of a JSON object body, in wire order.
    pub fn keys(&self) -> Vec<String> {
        Ordered::parse(&self.body)
            .keys()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// The vendor error code of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["Code"].as_str().unwrap_or_default().to_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::from(TestService::new().await)
    }

    /// With the CertCentral administrator (key `test-key`).
    pub async fn certcentral() -> Self {
        Self::certcentral_on(Backend::Sqlite).await
    }

    /// The same on the given database.
    pub async fn certcentral_on(backend: Backend) -> Self {
        Self::from(
            TestService::on(backend)
                .await
                .with_certcentral_admin()
                .await,
        )
    }

    pub fn from(ts: TestService) -> Self {
        let router = app::router(ts.service.clone(), &HttpLimits::default());
        Self { ts, router }
    }

    pub fn root(&self) -> Creds {
        self.ts.root.clone()
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body(), 64 << 20)
            .await
            .expect("body");
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// A V1 call (POST, query only, JSON) as root.
    pub async fn call(&self, action: &str, params: &[(&str, &str)]) -> Reply {
        self.call_as(&self.root(), action, params).await
    }

    pub async fn call_as(&self, creds: &Creds, action: &str, params: &[(&str, &str)]) -> Reply {
        let now = trustdesk_domain::Clock::now(&self.ts.clock);
        self.send(v1_request(creds, now, action, params)).await
    }

    pub async fn call_xml(&self, action: &str, params: &[(&str, &str)]) -> Reply {
        let now = trustdesk_domain::Clock::now(&self.ts.clock);
        self.send(v1_request_with(
            &self.root(),
            now,
            "POST",
            action,
            "XML",
            params,
        ))
        .await
    }

    pub async fn call_acs3(&self, creds: &Creds, action: &str, params: &[(&str, &str)]) -> Reply {
        let now = trustdesk_domain::Clock::now(&self.ts.clock);
        self.send(acs3_request(creds, now, action, params)).await
    }

    /// A CAS 2018-07-13 V1 call as `creds` with an explicit method and format.
    pub async fn cas_with(
        &self,
        creds: &Creds,
        method: &str,
        format: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Reply {
        let now = trustdesk_domain::Clock::now(&self.ts.clock);
        self.send(v1_request_for(
            creds, now, method, CAS, action, format, params,
        ))
        .await
    }

    /// A CAS call as root with every parameter in a form body (for values
    /// too large for a request target).
    pub async fn cas_form(&self, action: &str, params: &[(&str, &str)]) -> Reply {
        let mut all = trustdesk_auth::Params::from_pairs([
            ("Action", action),
            ("Version", CAS),
            ("Format", "JSON"),
        ]);
        for (k, v) in params {
            all.insert(*k, *v);
        }
        let now = trustdesk_domain::Clock::now(&self.ts.clock);
        let root = self.root();
        let body = trustdesk_auth::sign::v1_query(
            "POST",
            all,
            &root.id,
            &root.secret,
            &trustdesk_testkit::nonce(),
            now,
        );
        self.send(
            axum::http::Request::builder()
                .method("POST")
                .uri("/")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("request"),
        )
        .await
    }

    /// A CAS call as root (POST, query only, JSON).
    pub async fn cas(&self, action: &str, params: &[(&str, &str)]) -> Reply {
        self.cas_with(&self.root(), "POST", "JSON", action, params)
            .await
    }

    /// A CAS call as the tea SDK makes it: ACS3, parameters in the query
    /// and repeated in a JSON body.
    pub async fn cas_acs3(&self, action: &str, params: &[(&str, &str)]) -> Reply {
        let now = trustdesk_domain::Clock::now(&self.ts.clock);
        let body: serde_json::Map<String, Value> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        let body = Value::Object(body).to_string();
        self.send(acs3_request_for(
            &self.root(),
            now,
            CAS,
            action,
            params,
            Some(&body),
        ))
        .await
    }

    /// A CertCentral request with `key` as `X-DC-DEVKEY` (none when
    /// `None`); `path` is below `/services/v2`.
    pub async fn cc_as(
        &self,
        key: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Reply {
        let mut b = axum::http::Request::builder()
            .method(method)
            .uri(format!("/services/v2{path}"))
            .header("host", "127.0.0.1:8080");
        if let Some(k) = key {
            b = b.header("X-DC-DEVKEY", k);
        }
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        self.send(
            b.body(body.map_or_else(Body::empty, |s| Body::from(s.to_owned())))
                .expect("request"),
        )
        .await
    }

    /// A CertCentral request as the bootstrap administrator.
    pub async fn cc(&self, method: &str, path: &str, body: Option<&str>) -> Reply {
        self.cc_as(Some(&self.ts.devkey), method, path, body).await
    }

    /// Adds a CertCentral user with `role` as the administrator; its id.
    pub async fn cc_add_user(&self, username: &str, role: u32) -> u64 {
        let body = serde_json::json!({
            "username": username, "first_name": "First", "last_name": "Last",
            "email": format!("{username}@example.test"), "access_roles": [{"id": role}],
        });
        let r = self.cc("POST", "/user", Some(&body.to_string())).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.json()["id"].as_u64().unwrap()
    }

    /// Creates an API key for user `id` (restricted to `key_role`); the key.
    pub async fn cc_key_for(&self, id: u64, key_role: u32) -> String {
        let body = serde_json::json!({"name": "k", "restricted_to_role_id": key_role});
        let r = self
            .cc("POST", &format!("/key/user/{id}"), Some(&body.to_string()))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.json()["api_key"].as_str().unwrap().to_owned()
    }

    /// Creates a user as root and returns its JSON `User`.
    pub async fn create_user(&self, name: &str) -> Value {
        let r = self.call("CreateUser", &[("UserName", name)]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()["User"].clone()
    }

    /// Creates an access key for `user` and returns its credentials.
    pub async fn create_key(&self, user: &str) -> Creds {
        let r = self.call("CreateAccessKey", &[("UserName", user)]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let k = &r.json()["AccessKey"];
        Creds {
            id: k["AccessKeyId"].as_str().unwrap().into(),
            secret: k["AccessKeySecret"].as_str().unwrap().into(),
        }
    }
}

/// Asserts a CertCentral error reply: status and first code.
#[track_caller]
pub fn assert_cc_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.json()["errors"][0]["code"], code, "{}", r.body);
    assert_eq!(r.content_type(), "application/json");
}

/// Asserts a JSON error reply.
#[track_caller]
pub fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.code(), code, "{}", r.body);
    let j = r.json();
    assert!(
        j["RequestId"].as_str().is_some_and(|s| s.len() == 36),
        "RequestId missing: {}",
        r.body
    );
    assert!(
        j["Message"].as_str().is_some_and(|s| !s.is_empty()),
        "Message missing: {}",
        r.body
    );
    assert_eq!(r.content_type(), "application/json;charset=utf-8");
}

/// A JSON value that keeps object keys in document order (serde_json's
/// `Value` sorts them), for checking the vendor's key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Ordered {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl Ordered {
    pub fn parse(text: &str) -> Self {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    /// The object's keys in order (empty for non-objects).
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Ordered::Object(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Ordered> {
        match self {
            Ordered::Object(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn at(&self, i: usize) -> Option<&Ordered> {
        match self {
            Ordered::Array(a) => a.get(i),
            _ => None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Ordered::Null => "null",
            Ordered::Bool(_) => "bool",
            Ordered::Number(_) => "number",
            Ordered::String(_) => "string",
            Ordered::Array(_) => "array",
            Ordered::Object(_) => "object",
        }
    }
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
                Ok(Ordered::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
                Ok(Ordered::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
                Ok(Ordered::Number(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Ordered, E> {
                Ok(Ordered::Number(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
                Ok(Ordered::String(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = a.next_element()? {
                    out.push(v);
                }
                Ok(Ordered::Array(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry()? {
                    out.push((k, v));
                }
                Ok(Ordered::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}
