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
    with_layers(
        Router::new()
            .merge(health)
            .merge(trustdesk_api_aliyun::router(service.clone()))
            .nest("/services/v2", trustdesk_api_digicert::router(service)),
        limits,
    )
}

/// The layers every route gets, outermost last.
fn with_layers(routes: Router, limits: &HttpLimits) -> Router {
    routes
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(panicked))
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

/// Marks the response the panic guard made, so that `request_context`
/// can give it the vendor's envelope with the request's id.
#[derive(Clone, Copy)]
struct Panicked;

fn panicked(payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    tracing::error!(panic = %what, "a handler panicked; answered InternalError");
    let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    response.extensions_mut().insert(Panicked);
    response
}

/// Gives every request an id (the vendor's `RequestId`), a span carrying it
/// and the path (never the query string: the old SDKs put private keys and
/// passwords there), and one access-log line.
async fn request_context(mut request: Request, next: Next) -> Response {
    let id = RequestId::generate();
    request.extensions_mut().insert(id.clone());
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    request.extensions_mut().insert(trustdesk_service::Client {
        ip: peer,
        secure_transport: false,
    });
    let span = tracing::info_span!(
        "request",
        request_id = %id.as_str(),
        method = %request.method(),
        path = %request.uri().path(),
    );
    let host = trustdesk_api_aliyun::verify::host(&request);
    let certcentral = request.uri().path().starts_with("/services/v2");
    async move {
        let started = std::time::Instant::now();
        let mut response = next.run(request).await;
        if response.extensions().get::<Panicked>().is_some() {
            // The face's own internal-error envelope; for RPC with the
            // id the log line has.
            response = if certcentral {
                trustdesk_api_digicert::error::ApiError::internal().into_response()
            } else {
                trustdesk_api_aliyun::error::RpcError::internal().into_response(
                    &id,
                    &host,
                    trustdesk_api_aliyun::encode::Format::Json,
                )
            };
        }
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

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_panic_is_answered_with_the_vendor_envelope_and_the_request_id() {
        let app = with_layers(
            Router::new().route(
                "/",
                get(|| async {
                    if true {
                        panic!("boom");
                    }
                    "unreachable"
                }),
            ),
            &HttpLimits::default(),
        );
        let response = app
            .oneshot(
                Request::builder()
                    .uri("/")
                    .header("host", "127.0.0.1:8080")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()["content-type"],
            "application/json;charset=utf-8"
        );
        let id = response.headers()["x-acs-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let j: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(j["Code"], "InternalError");
        assert_eq!(j["RequestId"], id.as_str());
        assert_eq!(j["HostId"], "127.0.0.1");
    }
}
