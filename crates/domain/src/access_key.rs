//! Access keys: the credential pairs that sign RPC requests.
//!
//! The secret never appears in this crate in clear: stores hold the sealed
//! bytes produced by `trustdesk-secrets`, which this crate treats as opaque.

use std::fmt;

use time::OffsetDateTime;

use crate::ids::{AccessKeyId, AccountId, UserId};

/// Whether a key may sign requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    /// Vendor spelling (exact case).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }

    /// Parses the vendor spelling; case matters, as on the vendor's API.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Active" => Some(KeyStatus::Active),
            "Inactive" => Some(KeyStatus::Inactive),
            _ => None,
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whom a key belongs to: the account's root identity or one of its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOwner {
    Root,
    User(UserId),
}

/// Key metadata (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: AccessKeyId,
    pub account: AccountId,
    pub owner: KeyOwner,
    pub status: KeyStatus,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// A key as the store returns it for authentication: metadata plus the
/// sealed secret.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredAccessKey {
    pub key: AccessKey,
    /// Envelope-encrypted secret (opaque here).
    pub sealed_secret: Vec<u8>,
}

impl fmt::Debug for StoredAccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredAccessKey")
            .field("key", &self.key)
            .field(
                "sealed_secret",
                &format_args!("<{} sealed bytes>", self.sealed_secret.len()),
            )
            .finish()
    }
}

/// What the store inserts for a new key.
pub type NewAccessKey = StoredAccessKey;
