//! The CertCentral error envelope and the one place domain errors become
//! CertCentral codes (reference §4).
//!
//! `{"errors":[{"code":"…","message":"…"}]}`, always an array, compact
//! JSON, `Content-Type: application/json`. Codes and messages marked
//! [inferred] in the reference are ours; they are listed in the README.
//! Duplicates are 400 (never 409) and bad input never gets a 5xx.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use trustdesk_domain::{Entity, Error, Problem};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub code: String,
    pub message: String,
}

/// A CertCentral error answer: a status and one or more errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub errors: Vec<Item>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    errors: &'a [Item],
}

impl ApiError {
    pub fn one(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            errors: vec![Item {
                code: code.into(),
                message: message.into(),
            }],
        }
    }

    /// Several field errors at once (one per field, in the endpoint's
    /// field order).
    pub fn fields(errors: Vec<Item>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            errors,
        }
    }

    /// The exact body the real API sends for a wrong key (recorded).
    pub fn invalid_key() -> Self {
        Self::one(
            StatusCode::FORBIDDEN,
            "access_denied|access_denied_invalid_key",
            "Access denied due to access_denied_invalid_key.",
        )
    }

    pub fn missing_permission() -> Self {
        Self::one(
            StatusCode::FORBIDDEN,
            "access_denied|missing_permission",
            "Access denied due to missing_permission.",
        )
    }

    pub fn no_route() -> Self {
        Self::one(
            StatusCode::NOT_FOUND,
            "not_found|route",
            "The specified route was not found.",
        )
    }

    pub fn not_found(what: Entity) -> Self {
        let (code, noun) = match what {
            Entity::User => ("not_found|user", "user"),
            Entity::Container => ("not_found|container", "container"),
            Entity::ApiKey => ("not_found|key", "API key"),
            Entity::Account => ("not_found|account", "account"),
            Entity::AccessKey => ("not_found|key", "key"),
            Entity::Certificate => ("not_found|certificate", "certificate"),
            Entity::Group => ("not_found|group", "group"),
            Entity::Policy | Entity::PolicyVersion | Entity::Attachment => {
                ("not_found|policy", "policy")
            }
            Entity::Membership => ("not_found|user", "user"),
        };
        Self::one(
            StatusCode::NOT_FOUND,
            code,
            format!("The specified {noun} was not found."),
        )
    }

    pub fn bad_format() -> Self {
        Self::one(
            StatusCode::BAD_REQUEST,
            "bad_request_format",
            "The request body is malformed.",
        )
    }

    pub fn internal() -> Self {
        Self::one(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "An internal error occurred; it has been logged.",
        )
    }

    /// The error as an HTTP response.
    pub fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Envelope {
            errors: &self.errors,
        })
        .unwrap_or_default();
        crate::wire::json_response(self.status, body)
    }
}

/// `required_param|<f>`.
pub fn required(field: &str) -> Item {
    Item {
        code: format!("required_param|{field}"),
        message: format!("Missing required parameter: {field}."),
    }
}

/// `invalid_param|<f>` for a wrong type, range or reference.
pub fn invalid(field: &str) -> Item {
    Item {
        code: format!("invalid_param|{field}"),
        message: format!("Invalid value for {field}."),
    }
}

pub fn too_long(field: &str, max: usize) -> Item {
    Item {
        code: format!("invalid_param|{field}"),
        message: format!("{field} must be at most {max} characters."),
    }
}

pub fn username_charset() -> Item {
    Item {
        code: "invalid_param|username".into(),
        message: "username may only contain a-z A-Z 0-9 @ - _ + .".into(),
    }
}

pub fn invalid_email() -> Item {
    Item {
        code: "invalid_email".into(),
        message: "The email address is not valid.".into(),
    }
}

pub fn invalid_access_role() -> Item {
    Item {
        code: "invalid_access_role".into(),
        message: "The access role is not valid for this container.".into(),
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid {
                field: "access_roles",
                problem: Problem::NotOffered | Problem::Unknown,
            } => Self::fields(vec![invalid_access_role()]),
            Error::Invalid { field, .. } => Self::fields(vec![invalid(field)]),
            Error::NotFound { what, .. } => Self::not_found(what),
            Error::AlreadyExists {
                what: Entity::User, ..
            } => Self::one(
                StatusCode::BAD_REQUEST,
                "duplicate_username",
                "The username is already in use.",
            ),
            Error::AlreadyExists { what, .. } => Self::one(
                StatusCode::BAD_REQUEST,
                "duplicate",
                format!("The {what} already exists."),
            ),
            Error::LimitExceeded { what } => Self::one(
                StatusCode::BAD_REQUEST,
                "limit_exceeded",
                format!("The account's {what} limit has been reached."),
            ),
            Error::DeleteConflict { entity, blocker } => Self::one(
                StatusCode::BAD_REQUEST,
                "delete_conflict",
                format!("The {entity} cannot be deleted while it has a {blocker}."),
            ),
            Error::OwnUser => Self::one(
                StatusCode::BAD_REQUEST,
                "cannot_delete_own_user",
                "You cannot delete your own user.",
            ),
            Error::Denied { .. } => Self::missing_permission(),
            Error::Rejected(_) | Error::MalformedPolicy(_) => Self::bad_format(),
            Error::Storage(e) => {
                tracing::error!(error = %e, "storage failure on the CertCentral face");
                Self::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invalid_key_body_is_the_recorded_one() {
        let r = ApiError::invalid_key();
        let body = serde_json::to_string(&Envelope { errors: &r.errors }).unwrap();
        assert_eq!(
            body,
            r#"{"errors":[{"code":"access_denied|access_denied_invalid_key","message":"Access denied due to access_denied_invalid_key."}]}"#
        );
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }

    #[test]
    fn domain_errors_map_to_vendor_codes() {
        let e = ApiError::from(Error::AlreadyExists {
            what: Entity::User,
            id: "x".into(),
        });
        assert_eq!(e.errors[0].code, "duplicate_username");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = ApiError::from(Error::Invalid {
            field: "container.id",
            problem: Problem::Unknown,
        });
        assert_eq!(e.errors[0].code, "invalid_param|container.id");
        let e = ApiError::from(Error::not_found(Entity::User, 1));
        assert_eq!(e.errors[0].code, "not_found|user");
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(
            ApiError::from(Error::OwnUser).errors[0].code,
            "cannot_delete_own_user"
        );
    }
}
