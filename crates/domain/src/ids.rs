//! Identifier newtypes, so an account id can never be passed where a user id
//! is expected.

use std::fmt;

/// The 16-digit numeric id of an account (what Alibaba calls the UID of the
/// root account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub u64);

/// The 16-digit numeric id of a RAM user; a string on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub u64);

/// The public half of an access key pair, e.g. `LTAI5t...` (24 characters for
/// generated keys; bootstrap keys may be any printable id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessKeyId(pub String);

/// Smallest and largest 16-digit number: ids are drawn from this range.
pub const SIXTEEN_DIGITS: std::ops::RangeInclusive<u64> =
    1_000_000_000_000_000..=9_999_999_999_999_999;

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AccessKeyId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A CertCentral container (division): a JSON integer on the wire,
/// assigned by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId(pub u64);

/// A CertCentral API key's id (not the secret): a JSON integer on the
/// wire, assigned by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApiKeyId(pub u64);

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Largest id a JavaScript client reads without losing precision
/// (2^53 - 1). New user and account ids stay at or below it, so that the
/// CertCentral face, whose ids are JSON numbers, can show the same id RAM
/// shows as a string.
pub const MAX_JSON_SAFE_ID: u64 = 9_007_199_254_740_991;

/// A RAM group's id: 16 digits, a string on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u64);

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
