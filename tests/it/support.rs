//! In-process harness: the whole application router over a fresh service.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;
use trustdesk::app::{self, HttpLimits};
use trustdesk_testkit::{
    CAS, Creds, TestService, acs3_request, acs3_request_for, v1_request, v1_request_for,
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
