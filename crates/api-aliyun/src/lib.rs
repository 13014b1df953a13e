//! The Alibaba Cloud RPC ("POP") face, served on `/`.
//!
//! Wire map (reference `aliyun-rpc.md` §a–§e):
//!
//! * `GET` or `POST /`, parameters in the query string and, for
//!   `application/x-www-form-urlencoded` bodies, in the body (merged, body
//!   wins). Everything else answers `UnsupportedHTTPMethod`.
//! * Signature V1: `Action`, `Version`, `AccessKeyId`, `Signature*`,
//!   `Timestamp` are parameters; HMAC-SHA1 over the canonical query.
//!   ACS3-HMAC-SHA256: the same facts travel in `x-acs-*` headers and the
//!   `Authorization` header. A request with an `Action` parameter is V1 even
//!   if it also carries `x-acs-action` (the old SDK sends both).
//! * Responses: `RequestId` in every body and in `x-acs-request-id`; JSON
//!   (`application/json;charset=utf-8`) unless `Format=XML`
//!   (`text/xml;charset=utf-8`, root element `<{Action}Response>`); errors
//!   in the vendor envelope with the vendor's code and status.
//!
//! Module layout: [`action`] names every operation and the permission it
//! needs; [`verify`] turns an HTTP request into a [`verify::Verified`] one
//! (the only way to reach a handler); [`ram`] holds one handler per RAM
//! action; [`encode`] renders bodies; [`error`] maps every failure to the
//! vendor's code in one place.

pub mod action;
pub mod cas;
pub mod encode;
pub mod error;
pub mod params;
pub mod ram;
pub mod verify;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use trustdesk_domain::{Principal, PrincipalKind};
use trustdesk_service::{RequestId, Service};

use crate::action::{Action, Api};
use crate::encode::{Format, Reply};
use crate::error::RpcError;
use crate::params::Args;
use crate::verify::Verified;

/// Largest body the face reads (the server's limit layer answers 413 before
/// this is reached; this is the face's own guard).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The RPC face's router, to be merged at `/`.
pub fn router(service: Service) -> Router {
    Router::new()
        .route("/", any(handle))
        .route("/docs/errors", axum::routing::get(error_page))
        .with_state(service)
}

/// The page error bodies' `Recommend` points at: every code this face
/// answers, with its status and meaning. Served by the server itself so it
/// is reachable wherever the API is.
async fn error_page() -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        include_str!("errors.txt"),
    )
}

async fn handle(State(service): State<Service>, request: Request<Body>) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate);
    let host = verify::host(&request);
    match verify::verify(&service, request).await {
        Ok(verified) => {
            let format = verified.format;
            match dispatch(&service, verified, &request_id).await {
                Ok(response) => response,
                Err(e) => e.into_response(&request_id, &host, format),
            }
        }
        Err((e, format)) => e.into_response(&request_id, &host, format.unwrap_or(Format::Json)),
    }
}

/// Runs a verified request: authorization, then the action.
async fn dispatch(
    service: &Service,
    verified: Verified,
    request_id: &RequestId,
) -> Result<Response, RpcError> {
    let Verified {
        principal,
        action,
        format,
        args,
    } = verified;
    let resource = resource_for(service, action, &principal, &args);
    let auth = service
        .authorize(&principal, action.permission(), &resource, request_id)
        .await
        .map_err(|e| RpcError::denied(e, &principal, action))?;
    let reply = Reply {
        request_id,
        format,
        action,
    };
    match action.api() {
        Api::Ram => ram::run(service, auth, &args, reply).await,
        Api::Cas => cas::run(service, auth, &args, reply).await,
    }
}

/// The resource each action acts on, for the policy evaluator. Built from
/// the raw parameter: validation comes after authorization, so an
/// unauthorized caller learns nothing about parameter rules.
fn resource_for(service: &Service, action: Action, principal: &Principal, args: &Args) -> String {
    let caller_name = match &principal.kind {
        PrincipalKind::Root => "*",
        PrincipalKind::User { name, .. } => name.as_str(),
    };
    let user = |name: &str| service.user_resource(principal, name);
    let cert = |id: &str| service.certificate_resource(principal, id);
    match action {
        Action::CreateUser | Action::ListUsers => user("*"),
        Action::GetUser | Action::UpdateUser | Action::DeleteUser => {
            user(args.optional("UserName").unwrap_or("*"))
        }
        Action::CreateAccessKey
        | Action::ListAccessKeys
        | Action::UpdateAccessKey
        | Action::DeleteAccessKey
        | Action::GetAccessKeyLastUsed => user(
            args.optional("UserName")
                .filter(|n| !n.is_empty())
                .unwrap_or(caller_name),
        ),
        Action::CreateUserCertificate
        | Action::DescribeUserCertificateList
        | Action::CreateDVOrderAudit
        | Action::DescribeDVOrderResult
        | Action::DescribeOrderInstanceList => cert("*"),
        Action::DescribeUserCertificateDetail | Action::DeleteUserCertificate => {
            cert(args.optional("CertId").unwrap_or("*"))
        }
    }
}
