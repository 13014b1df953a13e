//! Router assembly: every face plus health endpoints, and the layers that
//! apply to all of them once (request id, tracing without query strings or
//! credentials, body cap, timeout, panic guard).

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;
use trustdesk_service::{RequestId, Service};

/// Settings the HTTP layers need.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// The whole HTTP application.
pub fn router(service: Service, limits: &HttpLimits) -> Router {
    let health = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(service.clone());
    Router::new()
        .merge(health)
        .merge(trustdesk_api_aliyun::router(service))
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(request_context))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            HeaderName::from_static("x-dc-devkey"),
        ]))
}

async fn readyz(State(service): State<Service>) -> Response {
    match service.ready().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database not reachable").into_response()
        }
    }
}

/// Gives every request an id (the vendor's `RequestId`), a span carrying it
/// and the path (never the query string: the old SDKs put private keys and
/// passwords there), and one access-log line.
async fn request_context(mut request: Request, next: Next) -> Response {
    let id = RequestId::generate();
    request.extensions_mut().insert(id.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id.as_str(),
        method = %request.method(),
        path = %request.uri().path(),
    );
    async move {
        let started = std::time::Instant::now();
        let mut response = next.run(request).await;
        let status = response.status();
        if let Ok(v) = HeaderValue::from_str(id.as_str()) {
            response
                .headers_mut()
                .entry("x-acs-request-id")
                .or_insert(v);
        }
        let micros = started.elapsed().as_micros() as u64;
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), micros, "request finished");
        } else {
            tracing::debug!(status = status.as_u16(), micros, "request finished");
        }
        response
    }
    .instrument(span)
    .await
}
