//! From an HTTP request to a [`Verified`] one. Holding a `Verified` proves
//! that the API and action exist, the signature (V1 or ACS3) matched a known
//! active key, the timestamp lies within the window and the nonce was fresh.
//!
//! Check order (reference §d, "Recommended check order"): parse → action
//! and version → common parameters → format, signature method and version
//! → timestamp → key lookup (not found / inactive) → signature (constant
//! time) → nonce. The nonce is recorded only after the signature verified,
//! so forged requests cannot burn a client's nonces; the timestamp is
//! checked before the key lookup, so stale replays never reach the store.
//!
//! Parameter reading (§a.2): the query is form-decoded (`+` is a space);
//! a form body is decoded the same way and merged over it. A name repeated
//! within one source is refused: which of the copies was signed would be
//! ambiguous. For ACS3 the canonical query is built from the query alone.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header, request::Parts};
use time::OffsetDateTime;
use trustdesk_auth::{ParamError, Params, acs3, v1};
use trustdesk_domain::{AccessKeyId, KeyStatus, Principal};
use trustdesk_service::Service;

use crate::MAX_BODY_BYTES;
use crate::action::{Action, Api};
use crate::encode::Format;
use crate::error::RpcError;
use crate::params::Args;

/// Longest `SignatureNonce` accepted (SDKs send 32 hex characters).
pub const MAX_NONCE_LEN: usize = 64;

/// A request whose signature, timestamp and nonce checked out.
#[derive(Debug)]
pub struct Verified {
    pub principal: Principal,
    pub action: Action,
    pub format: Format,
    pub args: Args,
}

type Rejection = (RpcError, Option<Format>);

/// The request's Host header (with port), or the vendor's host when absent.
pub fn host(request: &Request<Body>) -> String {
    request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| Api::Ram.vendor_host().to_owned())
}

/// `HostId` for error bodies: a host without its port.
pub fn strip_port(host: &str) -> &str {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn bad_encoding(e: ParamError) -> RpcError {
    match e {
        ParamError::Duplicate(name) => RpcError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            format!("The parameter - \"{name}\" appears more than once."),
        ),
        other => RpcError::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            format!("The request is malformed: {other}."),
        ),
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Runs every check; on failure returns the error and, when already known,
/// the format it should be rendered in.
pub async fn verify(service: &Service, request: Request<Body>) -> Result<Verified, Rejection> {
    let (parts, body) = request.into_parts();
    let query = Params::parse_form(parts.uri.query().unwrap_or("").as_bytes())
        .map_err(|e| (bad_encoding(e), None))?;
    // Peek at Format before anything else can fail, so even early errors
    // come back in the format the client asked for.
    let format_hint = Format::from_param(query.get("Format")).ok();
    if parts.method != Method::GET && parts.method != Method::POST {
        return Err((RpcError::unsupported_method(), format_hint));
    }
    let body = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        (
            RpcError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "The request body is too large.",
            ),
            format_hint,
        )
    })?;
    let form = if is_form(&parts.headers) && !body.is_empty() {
        Some(Params::parse_form(&body).map_err(|e| (bad_encoding(e), format_hint))?)
    } else {
        None
    };
    let has_action =
        query.get("Action").is_some() || form.as_ref().is_some_and(|f| f.get("Action").is_some());
    let acs3_auth = header_str(&parts.headers, "authorization").filter(|v| v.starts_with("ACS3-"));
    if has_action || acs3_auth.is_none() {
        let params = merged(query, form);
        let format = Format::from_param(params.get("Format")).map_err(|e| (e, None))?;
        verify_v1(service, &parts, params, format)
            .await
            .map_err(|e| (e, Some(format)))
    } else {
        verify_acs3(service, &parts, query, form, &body)
            .await
            .map_err(|e| (e, Some(Format::Json)))
    }
}

/// The request's parameters: the query with a form body merged over it.
/// Moves rather than copies: this runs on every request.
fn merged(mut query: Params, form: Option<Params>) -> Params {
    if let Some(form) = form {
        query.merge(form);
    }
    query
}

fn find_action(action: Option<&str>, version: Option<&str>) -> Result<Action, RpcError> {
    let action = action.ok_or_else(|| RpcError::missing_common("Action"))?;
    let version = version.ok_or_else(|| RpcError::missing_common("Version"))?;
    let api = Api::from_version(version).ok_or_else(RpcError::invalid_version)?;
    Action::find(api, action).ok_or_else(RpcError::action_not_found)
}

fn check_window(service: &Service, timestamp: &str) -> Result<OffsetDateTime, RpcError> {
    let ts = trustdesk_auth::parse_timestamp(timestamp).ok_or_else(RpcError::timestamp_format)?;
    let now = service.clock().now();
    if (now - ts).abs() > service.limits().timestamp_window {
        return Err(RpcError::timestamp_expired());
    }
    Ok(ts)
}

fn check_nonce_shape(nonce: &str) -> Result<(), RpcError> {
    if nonce.is_empty() {
        return Err(RpcError::missing_common("SignatureNonce"));
    }
    if nonce.chars().count() > MAX_NONCE_LEN {
        return Err(RpcError::validation(
            "SignatureNonce",
            trustdesk_domain::Problem::Length,
        ));
    }
    Ok(())
}

/// Looks the key up and refuses unknown or disabled ones.
async fn active_key(
    service: &Service,
    id: &str,
) -> Result<std::sync::Arc<trustdesk_service::Credential>, RpcError> {
    let cred = service
        .credential(id)
        .await
        .map_err(RpcError::from)?
        .ok_or_else(RpcError::key_not_found)?;
    if cred.status != KeyStatus::Active {
        return Err(RpcError::key_inactive());
    }
    Ok(cred)
}

async fn accept_nonce(
    service: &Service,
    key: &AccessKeyId,
    nonce: &str,
    ts: OffsetDateTime,
) -> Result<(), RpcError> {
    if !service
        .check_nonce(key, nonce, ts)
        .await
        .map_err(RpcError::from)?
    {
        return Err(RpcError::nonce_used());
    }
    service.touch(key);
    Ok(())
}

async fn verify_v1(
    service: &Service,
    parts: &Parts,
    params: Params,
    format: Format,
) -> Result<Verified, RpcError> {
    let action = find_action(params.get("Action"), params.get("Version"))?;
    if params.get("SecurityToken").is_some() {
        return Err(RpcError::security_token());
    }
    let get = |name: &'static str| {
        params
            .get(name)
            .ok_or_else(|| RpcError::missing_common(name))
    };
    let key_id = get("AccessKeyId")?;
    let signature = get("Signature")?;
    let method = get("SignatureMethod")?;
    let version = get("SignatureVersion")?;
    let nonce = get("SignatureNonce")?;
    let timestamp = get("Timestamp")?;
    if method != "HMAC-SHA1" {
        return Err(RpcError::signature_method());
    }
    if version != "1.0" {
        return Err(RpcError::signature_version());
    }
    if params.get("SignatureType").is_some_and(|t| !t.is_empty()) {
        return Err(RpcError::signature_type());
    }
    check_nonce_shape(nonce)?;
    let ts = check_window(service, timestamp)?;
    let cred = active_key(service, key_id).await?;
    let string_to_sign = v1::string_to_sign(parts.method.as_str(), &params);
    if !v1::verify(cred.secret.expose(), &string_to_sign, signature) {
        return Err(RpcError::v1_signature_mismatch(&string_to_sign));
    }
    accept_nonce(service, &cred.principal.access_key, nonce, ts).await?;
    Ok(Verified {
        principal: cred.principal.clone(),
        action,
        format,
        args: Args(params),
    })
}

async fn verify_acs3(
    service: &Service,
    parts: &Parts,
    query: Params,
    form: Option<Params>,
    body: &[u8],
) -> Result<Verified, RpcError> {
    let headers = &parts.headers;
    let action = find_action(
        header_str(headers, "x-acs-action"),
        header_str(headers, "x-acs-version"),
    )?;
    if headers.contains_key("x-acs-security-token") || headers.contains_key("x-acs-accesskey-id") {
        return Err(RpcError::security_token());
    }
    let authorization = header_str(headers, "authorization").unwrap_or_default();
    let auth = acs3::parse_authorization(authorization).map_err(|e| match e {
        acs3::AuthorizationError::UnsupportedAlgorithm => RpcError::signature_method(),
        acs3::AuthorizationError::Malformed => RpcError::incomplete_signature(""),
    })?;
    let signed = |h: &str| auth.signed_headers.iter().any(|s| s == h);
    if !acs3::REQUIRED_SIGNED_HEADERS.iter().all(|h| signed(h))
        || (!body.is_empty() && !signed("content-type"))
    {
        return Err(RpcError::incomplete_signature(""));
    }
    let timestamp =
        header_str(headers, "x-acs-date").ok_or_else(|| RpcError::missing_common("Timestamp"))?;
    let nonce = header_str(headers, "x-acs-signature-nonce")
        .ok_or_else(|| RpcError::missing_common("SignatureNonce"))?;
    check_nonce_shape(nonce)?;
    let payload_hash = acs3::sha256_hex(body);
    if header_str(headers, "x-acs-content-sha256") != Some(payload_hash.as_str()) {
        return Err(RpcError::incomplete_signature(""));
    }
    let ts = check_window(service, timestamp)?;
    let cred = active_key(service, &auth.access_key_id).await?;
    let header_values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    };
    let canonical = acs3::canonical_request(
        parts.method.as_str(),
        parts.uri.path(),
        &query,
        &auth.signed_headers,
        &header_values,
        &payload_hash,
    );
    let string_to_sign = acs3::string_to_sign(&canonical);
    if !acs3::verify(cred.secret.expose(), &string_to_sign, &auth.signature) {
        return Err(RpcError::acs3_signature_mismatch(&string_to_sign));
    }
    accept_nonce(service, &cred.principal.access_key, nonce, ts).await?;
    Ok(Verified {
        principal: cred.principal.clone(),
        action,
        format: Format::Json,
        args: Args(merged(query, form)),
    })
}
