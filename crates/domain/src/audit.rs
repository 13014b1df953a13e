//! The audit trail: who did what to which resource, when, and how it ended.
//! Events never hold secret values; they name resources by id.

use std::fmt;

use time::OffsetDateTime;

use crate::ids::{AccessKeyId, AccountId};
use crate::policy::{Principal, PrincipalKind};

/// How an audited call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditOutcome {
    Success,
    /// The policy evaluator refused the call.
    Denied,
    /// The resource did not exist.
    NotFound,
}

impl AuditOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Denied => "denied",
            AuditOutcome::NotFound => "not_found",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Success, Self::Denied, Self::NotFound]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: OffsetDateTime,
    pub account: AccountId,
    /// `root`, or `user/<UserId>` of the RAM user who called.
    pub actor: String,
    /// The key that signed the call.
    pub access_key: AccessKeyId,
    /// The permission exercised, e.g. `yundun-cert:DescribeUserCertificateDetail`.
    pub action: String,
    /// The resource it was exercised on.
    pub resource: String,
    pub outcome: AuditOutcome,
    /// The request's id, to join the event with logs.
    pub request_id: String,
}

impl AuditEvent {
    /// The actor string for `principal`.
    pub fn actor_of(principal: &Principal) -> String {
        match &principal.kind {
            PrincipalKind::Root => "root".to_owned(),
            PrincipalKind::User { id, .. } => format!("user/{id}"),
        }
    }
}
