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
pub mod iam;
pub mod params;
pub mod ram;
pub mod verify;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use trustdesk_domain::{Principal, PrincipalKind};
use trustdesk_service::{Client, RequestId, Service};

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
    let client = request
        .extensions()
        .get::<Client>()
        .copied()
        .unwrap_or_default();
    match verify::verify(&service, request).await {
        Ok(verified) => {
            let format = verified.format;
            match dispatch(&service, verified, &request_id, &client).await {
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
    client: &Client,
) -> Result<Response, RpcError> {
    let Verified {
        principal,
        action,
        format,
        args,
    } = verified;
    // Actions on two things (a user and a group, a principal and a
    // policy) need the permission on both resources.
    let mut auth = None;
    for resource in resources_for(service, action, &principal, &args) {
        let token = service
            .authorize(
                &principal,
                action.permission(),
                &resource,
                request_id,
                client,
            )
            .await
            .map_err(|e| RpcError::denied(e, &principal, action))?;
        auth.get_or_insert(token);
    }
    let auth = auth.ok_or_else(RpcError::internal)?;
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

/// The resources each action acts on, for the policy evaluator (one or
/// two: `AddUserToGroup` needs the user and the group, `Attach*` the
/// principal and the policy; reference §e.12). Built from the raw
/// parameters: validation comes after authorization, so an unauthorized
/// caller learns nothing about parameter rules.
fn resources_for(
    service: &Service,
    action: Action,
    principal: &Principal,
    args: &Args,
) -> Vec<String> {
    use Action as A;
    let caller_name = match &principal.kind {
        PrincipalKind::Root => "*",
        PrincipalKind::User { name, .. } => name.as_str(),
    };
    let arg = |name: &str| args.optional(name).filter(|v| !v.is_empty()).unwrap_or("*");
    let user = |name: &str| service.user_resource(principal, name);
    let group = |name: &str| service.ram_resource(principal, "group", name);
    let policy = || {
        let name = arg("PolicyName");
        if args.optional("PolicyType") == Some("System") {
            service.system_policy_resource(name)
        } else {
            service.ram_resource(principal, "policy", name)
        }
    };
    let cert = |id: &str| service.certificate_resource(principal, id);
    match action {
        A::CreateUser | A::ListUsers => vec![user("*")],
        A::GetUser | A::UpdateUser | A::DeleteUser => vec![user(arg("UserName"))],
        A::CreateAccessKey
        | A::ListAccessKeys
        | A::UpdateAccessKey
        | A::DeleteAccessKey
        | A::GetAccessKeyLastUsed => vec![user(
            args.optional("UserName")
                .filter(|n| !n.is_empty())
                .unwrap_or(caller_name),
        )],
        A::CreateGroup | A::ListGroups => vec![group("*")],
        A::GetGroup | A::UpdateGroup | A::DeleteGroup | A::ListUsersForGroup => {
            vec![group(arg("GroupName"))]
        }
        A::ListGroupsForUser => vec![user(arg("UserName"))],
        A::AddUserToGroup | A::RemoveUserFromGroup => {
            vec![user(arg("UserName")), group(arg("GroupName"))]
        }
        A::CreatePolicy | A::ListPolicies => vec![service.ram_resource(principal, "policy", "*")],
        A::GetPolicy
        | A::UpdatePolicyDescription
        | A::DeletePolicy
        | A::CreatePolicyVersion
        | A::GetPolicyVersion
        | A::ListPolicyVersions
        | A::SetDefaultPolicyVersion
        | A::DeletePolicyVersion
        | A::ListEntitiesForPolicy => vec![policy()],
        A::AttachPolicyToUser | A::DetachPolicyFromUser => vec![user(arg("UserName")), policy()],
        A::AttachPolicyToGroup | A::DetachPolicyFromGroup => {
            vec![group(arg("GroupName")), policy()]
        }
        A::ListPoliciesForUser => vec![user(arg("UserName"))],
        A::ListPoliciesForGroup => vec![group(arg("GroupName"))],
        A::CreateUserCertificate
        | A::DescribeUserCertificateList
        | A::CreateDVOrderAudit
        | A::DescribeDVOrderResult
        | A::DescribeOrderInstanceList => vec![cert("*")],
        A::DescribeUserCertificateDetail | A::DeleteUserCertificate => {
            vec![cert(args.optional("CertId").unwrap_or("*"))]
        }
    }
}
