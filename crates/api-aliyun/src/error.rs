//! The vendor's error envelope, and the one place where every failure (a
//! gateway check or a domain error) becomes a vendor code and HTTP status.
//!
//! Body (reference §a.6): `{"RequestId","HostId","Code","Message","Recommend"}`
//! in JSON, or `<Error>` with the same children in XML, which must go out as
//! exactly `text/xml;charset=utf-8` or the tea SDK cannot read it.
//! `Recommend` is a troubleshooting URL (the SDKs ignore it); ours points at
//! the error page this server itself serves, `/docs/errors`, so it works on
//! isolated networks: `http://<Host>/docs/errors?code=<Code>&requestId=<id>`.
//! `NoPermission` carries `AccessDeniedDetail`, which the tea SDK exposes.
//!
//! Codes that the reference marks [INF] and that we chose:
//! * malformed percent-encoding or a parameter repeated within the query or
//!   within the body: `InvalidParameter` 400;
//! * non-empty `SignatureType`: `InvalidSignatureType` 400 (other auth modes
//!   are not supported);
//! * `SignatureNonce` longer than 64 characters:
//!   `InvalidParameter.SignatureNonce.Length` 400;
//! * `UnsupportedHTTPMethod` answers 403 (one of the two vendor lists).

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use trustdesk_domain::{
    Entity, Error, ImportProblem, ImportRejection, Principal, PrincipalKind, Problem,
};
use trustdesk_service::RequestId;

use crate::action::Action;
use crate::encode::{Format, JSON_CONTENT_TYPE, XML_CONTENT_TYPE, to_xml};

/// A failed RPC call, ready to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: Cow<'static, str>,
    pub access_denied: Option<Box<AccessDeniedDetail>>,
}

/// Why a permission check failed, as the vendor reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessDeniedDetail {
    pub auth_action: String,
    pub auth_principal_owner_id: String,
    pub auth_principal_type: String,
    pub auth_principal_display_name: String,
    pub no_permission_type: String,
    pub policy_type: String,
    pub encoded_diagnostic_message: String,
}

impl RpcError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            access_denied: None,
        }
    }

    fn bad(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    // ---- gateway errors (reference §d) ----

    /// A common parameter (`Timestamp`, `AccessKeyId`, ...) is absent.
    pub fn missing_common(name: &'static str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("Missing{name}"),
            format!("{name} is mandatory for this action."),
        )
    }

    /// A business parameter is absent.
    pub fn missing_parameter(name: &str) -> Self {
        Self::bad(
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }

    pub fn action_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        )
    }

    pub fn invalid_version() -> Self {
        Self::bad(
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        )
    }

    pub fn invalid_format() -> Self {
        Self::bad(
            "InvalidParameter.Format",
            "Specified parameter format is not valid.",
        )
    }

    pub fn timestamp_format() -> Self {
        Self::bad(
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        )
    }

    pub fn timestamp_expired() -> Self {
        Self::bad(
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        )
    }

    pub fn signature_method() -> Self {
        Self::bad(
            "InvalidSignatureMethod",
            "Specified signature method is not valid.",
        )
    }

    pub fn signature_version() -> Self {
        Self::bad(
            "InvalidSignatureVersion",
            "Specified signature version is not valid.",
        )
    }

    pub fn signature_type() -> Self {
        Self::bad(
            "InvalidSignatureType",
            "Specified signature type is not supported.",
        )
    }

    pub fn key_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        )
    }

    pub fn key_inactive() -> Self {
        Self::bad(
            "InvalidAccessKeyId.Inactive",
            "Specified access key is disabled.",
        )
    }

    /// V1 mismatch. The old Python SDK splits the message at the first `:`
    /// and compares the rest with its own string to sign, so exactly one
    /// `:` precedes it (the string to sign never contains a raw `:`).
    pub fn v1_signature_mismatch(string_to_sign: &str) -> Self {
        Self::bad(
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
        )
    }

    pub fn acs3_signature_mismatch(string_to_sign: &str) -> Self {
        Self::bad(
            "SignatureDoesNotMatch",
            format!(
                "Specified signature does not match our calculation. server StringToSign is [{string_to_sign}]"
            ),
        )
    }

    pub fn incomplete_signature(string_to_sign: &str) -> Self {
        Self::bad(
            "IncompleteSignature",
            format!(
                "The request signature does not conform to Aliyun standards. server string to sign is:{string_to_sign}"
            ),
        )
    }

    pub fn nonce_used() -> Self {
        Self::bad(
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        )
    }

    pub fn unsupported_method() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "UnsupportedHTTPMethod",
            "This http method not supported.",
        )
    }

    pub fn security_token() -> Self {
        Self::bad(
            "InvalidSecurityToken.Malformed",
            "Specified SecurityToken is malformed.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "The request processing has failed due to some unknown error, exception or failure.",
        )
    }

    /// A parameter whose value is unusable for a reason with no more
    /// specific code, e.g. `InvalidParameter.MaxItems`.
    pub fn invalid_parameter(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("InvalidParameter.{name}"),
            format!("The parameter - \"{name}\" is invalid."),
        )
    }

    /// A value failed a validation rule (`InvalidParameter.<Name>.<Problem>`).
    pub fn validation(field: &str, problem: Problem) -> Self {
        let (suffix, message) = match problem {
            Problem::InvalidChars => (
                "InvalidChars",
                format!("The parameter - \"{field}\" contains invalid chars."),
            ),
            Problem::Length => (
                "Length",
                format!("The parameter - \"{field}\" beyond the length limit."),
            ),
            // RAM parameters never name another object; a stray reference
            // problem reads as a format problem.
            Problem::Format | Problem::Unknown | Problem::NotOffered => (
                "Format",
                format!("The format of the parameter - \"{field}\" is incorrect."),
            ),
        };
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("InvalidParameter.{field}.{suffix}"),
            message,
        )
    }

    /// The caller is not allowed; RAM's code.
    pub fn no_permission(detail: Option<AccessDeniedDetail>) -> Self {
        Self {
            access_denied: detail.map(Box::new),
            ..Self::new(
                StatusCode::FORBIDDEN,
                "NoPermission",
                "You are not authorized to do this action. You should be authorized by RAM.",
            )
        }
    }

    /// A CAS value longer than the vendor allows (the vendor's code).
    pub fn data_too_long(field: &str, limit: usize) -> Self {
        Self::bad(
            "DataTooLongException",
            format!("The value of \"{field}\" is too long: at most {limit} characters."),
        )
    }

    /// A CAS upload refused by the import checks: the vendor's code where
    /// the reference has one, else one in its style (README, errors.txt).
    /// The message is the vendor's sentence followed by the check's own,
    /// which names the problem.
    pub fn import_rejected(r: &ImportRejection) -> Self {
        use ImportProblem as P;
        let (code, vendor): (&'static str, &str) = match r.problem {
            P::TooLarge => ("DataTooLongException", "The input is too long."),
            P::CertNotPem => (
                "CertificateFormatException",
                "The certificate format is invalid. Check the input.",
            ),
            P::NoCertificate => (
                "CertificateFormatException.NoCertificate",
                "The certificate format is invalid. Check the input.",
            ),
            P::CertUnparsable => (
                "ParseCertificateFailed",
                "The certificate format is invalid. Check the input.",
            ),
            P::ChainTooLong => (
                "CertificateChainNotMatch.TooLong",
                "The certificate chain does not match.",
            ),
            P::MultipleLeaves => (
                "CertificateChainNotMatch.MultipleLeaves",
                "The certificate chain does not match.",
            ),
            P::ChainNotMatch => (
                "CertificateChainNotMatch",
                "The certificate chain does not match.",
            ),
            P::KeyNotPem => (
                "PrivateKeyFormatException",
                "The private key format is invalid. Check the input.",
            ),
            P::KeyEncrypted => (
                "PrivateKeyFormatException.Encrypted",
                "The private key format is invalid. Check the input.",
            ),
            P::KeyUnparsable => (
                "ParsePrivateKeyFailed",
                "The private key format is invalid. Check the input.",
            ),
            P::KeyUnsupported => (
                "UnsupportedKeyAlgorithm",
                "The key algorithm or key size is not supported.",
            ),
            P::KeyMismatch => (
                "CertificateKeyNotMatch",
                "The certificate and private key do not match.",
            ),
            P::Expired => ("CertificateExpired", "The certificate has expired."),
            P::NotYetValid => (
                "CertificateNotYetValid",
                "The certificate is not yet valid.",
            ),
        };
        let mut detail = r.message.clone();
        if let Some(first) = detail.get(..1) {
            let upper = first.to_ascii_uppercase();
            detail.replace_range(..1, &upper);
        }
        Self::bad(code, format!("{vendor} {detail}."))
    }

    /// A refusal of the policy evaluator, with the vendor's
    /// `AccessDeniedDetail`; any other error maps as usual.
    pub fn denied(e: Error, principal: &Principal, action: Action) -> Self {
        let Error::Denied { .. } = e else {
            return e.into();
        };
        let (kind, display) = match &principal.kind {
            PrincipalKind::Root => ("Account", principal.account.to_string()),
            PrincipalKind::User { name, .. } => ("SubUser", name.to_string()),
        };
        Self::no_permission(Some(AccessDeniedDetail {
            auth_action: action.permission().to_owned(),
            auth_principal_owner_id: principal.account.to_string(),
            auth_principal_type: kind.to_owned(),
            auth_principal_display_name: display,
            no_permission_type: "ImplicitDeny".to_owned(),
            policy_type: String::new(),
            encoded_diagnostic_message: String::new(),
        }))
    }

    // ---- rendering ----

    /// Renders the error. `host` is the request's Host header (with port);
    /// `HostId` is its name alone.
    pub fn into_response(self, request_id: &RequestId, host: &str, format: Format) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = %self.code, "request failed");
        } else {
            tracing::debug!(code = %self.code, status = self.status.as_u16(), "request refused");
        }
        let recommend = format!(
            "http://{host}/docs/errors?code={}&requestId={}",
            self.code,
            request_id.as_str()
        );
        let body = ErrorBody {
            request_id: request_id.as_str(),
            host_id: crate::verify::strip_port(host),
            code: &self.code,
            message: &self.message,
            recommend: &recommend,
            access_denied_detail: self.access_denied.as_deref(),
        };
        let (content_type, bytes) = match format {
            Format::Json => (JSON_CONTENT_TYPE, serde_json::to_vec(&body).ok()),
            Format::Xml => (XML_CONTENT_TYPE, to_xml(&body).ok().map(String::into_bytes)),
        };
        // Encoding our own flat struct cannot fail; if it ever did, a fixed
        // body still tells the client what happened.
        let bytes = bytes.unwrap_or_else(|| {
            br#"{"Code":"InternalError","Message":"error encoding failed"}"#.to_vec()
        });
        let mut response = (self.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(v) = HeaderValue::from_str(request_id.as_str()) {
            headers.insert("x-acs-request-id", v);
        }
        response
    }
}

#[derive(Serialize)]
#[serde(rename = "Error", rename_all = "PascalCase")]
struct ErrorBody<'a> {
    request_id: &'a str,
    host_id: &'a str,
    code: &'a str,
    message: &'a str,
    recommend: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_denied_detail: Option<&'a AccessDeniedDetail>,
}

impl RpcError {
    /// `AddUserToGroup` / `RemoveUserFromGroup` outcomes about the
    /// membership itself; everything else as usual.
    pub fn membership(e: Error) -> Self {
        use StatusCode as S;
        match e {
            Error::AlreadyExists {
                what: Entity::Membership,
                ..
            } => Self::new(
                S::CONFLICT,
                "EntityAlreadyExists.User.Group",
                "The user has already joined the group.",
            ),
            Error::LimitExceeded {
                what: Entity::Membership,
            } => Self::new(
                S::CONFLICT,
                "LimitExceeded.User.Group",
                "The count of groups the target user joined beyond the current limits.",
            ),
            Error::NotFound {
                what: Entity::Membership,
                ..
            } => Self::new(
                S::NOT_FOUND,
                "EntityNotExist.User.Group",
                "The user does not belong to the group.",
            ),
            other => other.into(),
        }
    }

    /// Attach / detach outcomes about the attachment, named after the
    /// target kind (`User.Policy`, `Group.Policy`).
    pub fn attachment(e: Error, target: &trustdesk_domain::AttachTarget) -> Self {
        use StatusCode as S;
        let (kind, noun) = match target {
            trustdesk_domain::AttachTarget::User(_) => ("User", "user"),
            trustdesk_domain::AttachTarget::Group(_) => ("Group", "group"),
        };
        match e {
            Error::AlreadyExists {
                what: Entity::Attachment,
                ..
            } => Self::new(
                S::CONFLICT,
                format!("EntityAlreadyExists.{kind}.Policy"),
                format!("The policy has already been attached to the {noun}."),
            ),
            Error::LimitExceeded {
                what: Entity::Attachment,
            } => Self::new(
                S::CONFLICT,
                format!("LimitExceeded.{kind}.Policy"),
                format!("The count of policies attached to the {noun} beyond the current limits."),
            ),
            Error::NotFound {
                what: Entity::Attachment,
                ..
            } => Self::new(
                S::NOT_FOUND,
                format!("EntityNotExist.{kind}.Policy"),
                format!("The policy is not attached to the {noun}."),
            ),
            other => other.into(),
        }
    }
}

impl From<Error> for RpcError {
    /// The one mapping from domain errors to RAM codes (reference §e).
    fn from(e: Error) -> Self {
        use StatusCode as S;
        match e {
            Error::Invalid { field, problem } => Self::validation(field, problem),
            Error::NotFound {
                what: Entity::User, ..
            } => Self::new(
                S::NOT_FOUND,
                "EntityNotExist.User",
                "The user does not exist.",
            ),
            Error::NotFound {
                what: Entity::AccessKey,
                ..
            } => Self::new(
                S::NOT_FOUND,
                "EntityNotExist.User.AccessKey",
                "The user access key does not exist.",
            ),
            Error::NotFound {
                what: Entity::Certificate,
                ..
            } => Self::bad("CertNotExist", "The certificate does not exist."),
            Error::NotFound {
                what: Entity::Group,
                ..
            } => Self::new(
                S::NOT_FOUND,
                "EntityNotExist.Group",
                "The group does not exist.",
            ),
            Error::NotFound {
                what: Entity::Policy,
                ..
            } => Self::new(
                S::NOT_FOUND,
                "EntityNotExist.Policy",
                "The policy does not exist.",
            ),
            Error::NotFound {
                what: Entity::PolicyVersion,
                ..
            } => Self::new(
                S::NOT_FOUND,
                "EntityNotExist.Policy.Version",
                "The policy version does not exist.",
            ),
            // Memberships and attachments are mapped by `membership` and
            // `attachment`, which know the target; no RPC action names an
            // account, a container or an API key.
            Error::NotFound {
                what:
                    Entity::Account
                    | Entity::Container
                    | Entity::ApiKey
                    | Entity::Membership
                    | Entity::Attachment,
                ..
            } => Self::internal(),
            Error::AlreadyExists {
                what: Entity::User, ..
            } => Self::new(
                S::CONFLICT,
                "EntityAlreadyExists.User",
                "The user does already EXIST.",
            ),
            Error::AlreadyExists {
                what: Entity::Certificate,
                ..
            } => Self::bad("NameRepeat", "The certificate name already exists."),
            Error::AlreadyExists {
                what: Entity::Group,
                ..
            } => Self::new(
                S::CONFLICT,
                "EntityAlreadyExists.Group",
                "The group does already EXIST.",
            ),
            Error::AlreadyExists {
                what: Entity::Policy,
                ..
            } => Self::new(
                S::CONFLICT,
                "EntityAlreadyExists.Policy",
                "The policy does already EXIST.",
            ),
            Error::AlreadyExists { .. } => Self::internal(),
            Error::LimitExceeded { what: Entity::User } => Self::new(
                S::CONFLICT,
                "LimitExceeded.User",
                "The count of users beyond the current limits.",
            ),
            Error::LimitExceeded {
                what: Entity::AccessKey,
            } => Self::new(
                S::CONFLICT,
                "LimitExceeded.User.AccessKey",
                "The access key count of the user access keys beyond the current limits.",
            ),
            Error::LimitExceeded {
                what: Entity::Group,
            } => Self::new(
                S::CONFLICT,
                "LimitExceeded.Group",
                "The count of groups beyond the current limits.",
            ),
            Error::LimitExceeded {
                what: Entity::Policy,
            } => Self::new(
                S::CONFLICT,
                "LimitExceeded.Policy",
                "The count of policies beyond the current limits.",
            ),
            Error::LimitExceeded {
                what: Entity::PolicyVersion,
            } => Self::new(
                S::CONFLICT,
                "LimitExceeded.Policy.Version",
                "The count of versions of the policy beyond the current limits.",
            ),
            Error::LimitExceeded { .. } => Self::internal(),
            Error::DeleteConflict {
                entity: Entity::User,
                blocker: Entity::AccessKey,
            } => Self::new(
                S::CONFLICT,
                "DeleteConflict.User.AccessKey",
                "The user CAN NOT has any access key while deleting the user.",
            ),
            Error::DeleteConflict {
                entity: Entity::User,
                blocker: Entity::Group,
            } => Self::new(
                S::CONFLICT,
                "DeleteConflict.User.Group",
                "The user CAN NOT be in any group while deleting the user.",
            ),
            Error::DeleteConflict {
                entity: Entity::User,
                blocker: Entity::Policy,
            } => Self::new(
                S::CONFLICT,
                "DeleteConflict.User.Policy",
                "The user CAN NOT has any attached policy while deleting the user.",
            ),
            Error::DeleteConflict {
                entity: Entity::Group,
                blocker: Entity::User,
            } => Self::new(
                S::CONFLICT,
                "DeleteConflict.Group.User",
                "The group CAN NOT be deleted while it has any user.",
            ),
            Error::DeleteConflict {
                entity: Entity::Group,
                blocker: Entity::Policy,
            } => Self::new(
                S::CONFLICT,
                "DeleteConflict.Group.Policy",
                "The group CAN NOT be deleted while any policy is attached to it.",
            ),
            Error::DeleteConflict {
                entity: Entity::Policy,
                blocker: Entity::User,
            } => Self::new(
                S::CONFLICT,
                "DeleteConflict.Policy.User",
                "The policy CAN NOT be deleted while it is attached to any user.",
            ),
            Error::DeleteConflict {
                entity: Entity::Policy,
                blocker: Entity::Group,
            } => Self::new(
                S::CONFLICT,
                "DeleteConflict.Policy.Group",
                "The policy CAN NOT be deleted while it is attached to any group.",
            ),
            Error::DeleteConflict {
                entity: Entity::Policy,
                blocker: Entity::PolicyVersion,
            } => Self::new(
                S::CONFLICT,
                "DeleteConflict.Policy.Version",
                "The policy CAN NOT be deleted while it has any version besides the default.",
            ),
            Error::DeleteConflict {
                entity: Entity::PolicyVersion,
                ..
            } => Self::new(
                S::CONFLICT,
                "DeleteConflict.Policy.Version.Default",
                "The default version of the policy CAN NOT be deleted.",
            ),
            Error::DeleteConflict { .. } => Self::internal(),
            Error::MalformedPolicy(detail) => Self::bad("MalformedPolicyDocument", detail),
            // Only CertCentral's delete refuses the caller's own user.
            Error::OwnUser => Self::internal(),
            Error::Rejected(r) => Self::import_rejected(&r),
            Error::Denied { .. } => Self::no_permission(None),
            Error::Storage(inner) => {
                tracing::error!(error = %inner, "storage failure");
                Self::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::to_bytes;
    use pretty_assertions::assert_eq;

    async fn render(e: RpcError, format: Format) -> (StatusCode, String, String) {
        let r = e.into_response(
            &RequestId("7463B73D-35CC-4D19-A010-6B8D65D242EF".into()),
            "ram.aliyuncs.com",
            format,
        );
        let status = r.status();
        let ct = r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body =
            String::from_utf8(to_bytes(r.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
        (status, ct, body)
    }

    #[tokio::test]
    async fn golden_json_error() {
        let e: RpcError = Error::not_found(Entity::User, "bob").into();
        let (status, ct, body) = render(e, Format::Json).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(ct, "application/json;charset=utf-8");
        assert_eq!(
            body,
            r#"{"RequestId":"7463B73D-35CC-4D19-A010-6B8D65D242EF","HostId":"ram.aliyuncs.com","Code":"EntityNotExist.User","Message":"The user does not exist.","Recommend":"http://ram.aliyuncs.com/docs/errors?code=EntityNotExist.User&requestId=7463B73D-35CC-4D19-A010-6B8D65D242EF"}"#
        );
    }

    #[tokio::test]
    async fn golden_xml_error() {
        let (status, ct, body) = render(
            RpcError::validation("UserName", Problem::InvalidChars),
            Format::Xml,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(ct, "text/xml;charset=utf-8");
        assert_eq!(
            body,
            "<?xml version='1.0' encoding='UTF-8'?>\
             <Error>\
                 <RequestId>7463B73D-35CC-4D19-A010-6B8D65D242EF</RequestId>\
                 <HostId>ram.aliyuncs.com</HostId>\
                 <Code>InvalidParameter.UserName.InvalidChars</Code>\
                 <Message>The parameter - \"UserName\" contains invalid chars.</Message>\
                 <Recommend>http://ram.aliyuncs.com/docs/errors?code=InvalidParameter.UserName.InvalidChars&amp;requestId=7463B73D-35CC-4D19-A010-6B8D65D242EF</Recommend>\
             </Error>"
        );
    }

    #[test]
    fn signature_mismatch_message_has_exactly_one_colon_before_the_string_to_sign() {
        let sts = "POST&%2F&AccessKeyId%3Dtestid";
        let e = RpcError::v1_signature_mismatch(sts);
        assert_eq!(e.message.split(':').nth(1), Some(sts));
        assert_eq!(e.message.matches(':').count(), 1);
    }
}
