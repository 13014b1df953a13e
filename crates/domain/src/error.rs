//! Domain errors. They name what went wrong in domain terms; each API face
//! maps them to its vendor's codes and HTTP statuses in one place.

use std::fmt;

use crate::validate::Problem;

/// Kinds of things errors talk about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Account,
    User,
    AccessKey,
    Certificate,
    Container,
    ApiKey,
    Group,
    Policy,
    PolicyVersion,
    /// A user's membership of a group.
    Membership,
    /// A policy's attachment to a user or group.
    Attachment,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Account => "account",
            Entity::User => "user",
            Entity::AccessKey => "access key",
            Entity::Certificate => "certificate",
            Entity::Container => "container",
            Entity::ApiKey => "API key",
            Entity::Group => "group",
            Entity::Policy => "policy",
            Entity::PolicyVersion => "policy version",
            Entity::Membership => "group membership",
            Entity::Attachment => "policy attachment",
        })
    }
}

/// Errors a store reports. `Backend` covers everything that is not a
/// business outcome (I/O, corruption, a bug); faces answer it with 5xx.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    AlreadyExists(Entity),
    #[error("{0} does not exist")]
    NotFound(Entity),
    #[error("{0} limit reached")]
    LimitExceeded(Entity),
    #[error("{entity} still has a dependent {blocker}")]
    DeleteConflict { entity: Entity, blocker: Entity },
    #[error("storage backend: {0}")]
    Backend(String),
}

/// Errors of the use cases.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value failed validation; `field` is the name the caller used.
    #[error("parameter {field} is invalid: {problem}")]
    Invalid {
        field: &'static str,
        problem: Problem,
    },
    #[error("{what} `{id}` does not exist")]
    NotFound { what: Entity, id: String },
    #[error("{what} `{id}` already exists")]
    AlreadyExists { what: Entity, id: String },
    #[error("{what} limit reached")]
    LimitExceeded { what: Entity },
    #[error("{entity} cannot be deleted while it has a {blocker}")]
    DeleteConflict { entity: Entity, blocker: Entity },
    /// A certificate upload failed the import checks.
    #[error(transparent)]
    Rejected(#[from] crate::certificate::ImportRejection),
    /// A policy document failed to parse; the message points at the bad
    /// part.
    #[error("malformed policy document: {0}")]
    MalformedPolicy(String),
    /// A caller tried to delete the identity it is acting as.
    #[error("cannot delete the calling user")]
    OwnUser,
    /// The policy evaluator did not allow the call.
    #[error("not allowed to perform {permission}")]
    Denied { permission: String },
    #[error(transparent)]
    Storage(StoreError),
}

impl Error {
    pub fn not_found(what: Entity, id: impl fmt::Display) -> Self {
        Self::NotFound {
            what,
            id: id.to_string(),
        }
    }

    pub fn invalid(field: &'static str) -> impl FnOnce(Problem) -> Self {
        move |problem| Self::Invalid { field, problem }
    }

    /// Translates a store outcome, naming the record it was about.
    pub fn from_store(e: StoreError, id: impl fmt::Display) -> Self {
        match e {
            StoreError::AlreadyExists(what) => Self::AlreadyExists {
                what,
                id: id.to_string(),
            },
            StoreError::NotFound(what) => Self::NotFound {
                what,
                id: id.to_string(),
            },
            StoreError::LimitExceeded(what) => Self::LimitExceeded { what },
            StoreError::DeleteConflict { entity, blocker } => {
                Self::DeleteConflict { entity, blocker }
            }
            other @ StoreError::Backend(_) => Self::Storage(other),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Self::from_store(e, "")
    }
}

/// `Option` → `NotFound` with the id that was looked up.
pub trait OrNotFound<T> {
    fn or_not_found(self, what: Entity, id: impl fmt::Display) -> Result<T, Error>;
}

impl<T> OrNotFound<T> for Option<T> {
    fn or_not_found(self, what: Entity, id: impl fmt::Display) -> Result<T, Error> {
        self.ok_or_else(|| Error::not_found(what, id))
    }
}
