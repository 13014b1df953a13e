//! Records as both stores keep them, and their conversion into domain
//! types. The SQLite and PostgreSQL schemas have the same tables and
//! columns (times as unix seconds, ids as signed 64-bit integers, lists
//! as JSON text), so one set of row types serves both: each store fills
//! them from its own queries (`query_as!` rows, or SQLite's JSON pages,
//! hence `Deserialize`) and calls the conversions here. No I/O.
//!
//! A value a store could not have written (an unknown status, a role id
//! out of range) is a [`StoreError::Backend`]: the database was changed
//! behind the store's back.

use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;

use crate::access_key::{AccessKey, KeyOwner, KeyStatus};
use crate::certcentral::{AccessRole, ApiKey, ApiKeyStatus, Container, KeyRole, Profile, UserKind};
use crate::certificate::{Certificate, CertificateId, CertificateInfo};
use crate::error::StoreError;
use crate::group::Group;
use crate::ids::{AccessKeyId, AccountId, ApiKeyId, ContainerId, GroupId, UserId};
use crate::ram_policy::{ManagedPolicy, PolicyType};
use crate::user::User;
use crate::validate::{
    CertificateName, Comments, Description, DisplayName, Email, GroupName, MobilePhone, PolicyName,
    UserName,
};

fn bad(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("bad {what} {value} in the database"))
}

/// Unix seconds, as stored.
pub fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub fn from_ts(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// SQLite keeps booleans as 0/1; its JSON pages carry them so.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
    }
    Ok(match Flag::deserialize(d)? {
        Flag::Bool(b) => b,
        Flag::Int(i) => i != 0,
    })
}

/// A user's columns, in the order every user query selects them.
#[derive(Debug, Deserialize)]
pub struct UserRow {
    pub account_id: i64,
    pub user_id: i64,
    pub user_name: String,
    pub display_name: Option<String>,
    pub mobile_phone: Option<String>,
    pub email: Option<String>,
    pub comments: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<String>,
    pub telephone: Option<String>,
    pub access_role: i64,
    pub container_id: Option<i64>,
    pub container_assignments: String,
    pub user_type: String,
    #[serde(deserialize_with = "flag")]
    pub saml_sso_only: bool,
}

/// [`UserRow`]'s columns, for queries built at run time (the `query!`
/// macros need literal SQL, so they spell the same list out).
pub const USER_COLUMNS: &str = "account_id, user_id, user_name, display_name, mobile_phone, \
     email, comments, created_at, updated_at, last_login_at, first_name, last_name, job_title, \
     telephone, access_role, container_id, container_assignments, user_type, saml_sso_only";

impl UserRow {
    pub fn into_user(self) -> Result<User, StoreError> {
        let role = u64::try_from(self.access_role)
            .ok()
            .and_then(AccessRole::from_id)
            .ok_or_else(|| bad("access role", self.access_role))?;
        let container = self
            .container_id
            .map(|c| ContainerId(c as u64))
            .ok_or_else(|| bad("container (none) of user", self.user_id))?;
        let assignments: Vec<u64> = serde_json::from_str(&self.container_assignments)
            .map_err(|e| bad("container assignments", e))?;
        let kind =
            UserKind::parse(&self.user_type).ok_or_else(|| bad("user type", &self.user_type))?;
        Ok(User {
            id: UserId(self.user_id as u64),
            account: AccountId(self.account_id as u64),
            name: UserName::from_trusted(self.user_name),
            display_name: self.display_name.map(DisplayName::from_trusted),
            mobile_phone: self.mobile_phone.map(MobilePhone::from_trusted),
            email: self.email.map(Email::from_trusted),
            comments: self.comments.map(Comments::from_trusted),
            created_at: from_ts(self.created_at),
            updated_at: from_ts(self.updated_at),
            last_login_at: self.last_login_at.map(from_ts),
            profile: Profile {
                first_name: self.first_name,
                last_name: self.last_name,
                job_title: self.job_title,
                telephone: self.telephone,
                role,
                container,
                container_assignments: assignments.into_iter().map(ContainerId).collect(),
                kind,
                saml_sso_only: self.saml_sso_only,
            },
        })
    }
}

/// A [`UserRow`] from any record that has the user's columns as fields
/// (a `query!` record of a statement that selects more than `query_as!`
/// could take).
#[macro_export]
macro_rules! user_row {
    ($r:ident) => {
        $crate::rows::UserRow {
            account_id: $r.account_id,
            user_id: $r.user_id,
            user_name: $r.user_name,
            display_name: $r.display_name,
            mobile_phone: $r.mobile_phone,
            email: $r.email,
            comments: $r.comments,
            created_at: $r.created_at,
            updated_at: $r.updated_at,
            last_login_at: $r.last_login_at,
            first_name: $r.first_name,
            last_name: $r.last_name,
            job_title: $r.job_title,
            telephone: $r.telephone,
            access_role: $r.access_role,
            container_id: $r.container_id,
            container_assignments: $r.container_assignments,
            user_type: $r.user_type,
            saml_sso_only: $r.saml_sso_only,
        }
    };
}

/// How a user's container assignments are stored (a JSON array of ids).
pub fn assignments_json(p: &Profile) -> String {
    let ids: Vec<u64> = p.container_assignments.iter().map(|c| c.0).collect();
    serde_json::Value::from(ids).to_string()
}

/// An access key without its sealed secret.
#[derive(Debug)]
pub struct KeyRow {
    pub id: String,
    pub account_id: i64,
    pub user_id: Option<i64>,
    pub status: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl KeyRow {
    pub fn into_key(self) -> Result<AccessKey, StoreError> {
        Ok(AccessKey {
            id: AccessKeyId(self.id),
            account: AccountId(self.account_id as u64),
            owner: self
                .user_id
                .map_or(KeyOwner::Root, |u| KeyOwner::User(UserId(u as u64))),
            status: KeyStatus::parse(&self.status)
                .ok_or_else(|| bad("key status", &self.status))?,
            created_at: from_ts(self.created_at),
            last_used_at: self.last_used_at.map(from_ts),
        })
    }
}

/// The stored id of an access key's owner (`NULL`: the account's root).
pub fn owner_id(owner: KeyOwner) -> Option<i64> {
    match owner {
        KeyOwner::Root => None,
        KeyOwner::User(id) => Some(id.0 as i64),
    }
}

#[derive(Debug)]
pub struct ContainerRow {
    pub id: i64,
    pub account_id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub description: Option<String>,
    pub template_id: i64,
    pub public_id: String,
    pub ekey: String,
    pub is_active: bool,
    pub created_at: i64,
}

impl From<ContainerRow> for Container {
    fn from(r: ContainerRow) -> Self {
        Container {
            id: ContainerId(r.id as u64),
            account: AccountId(r.account_id as u64),
            parent: r.parent_id.map(|p| ContainerId(p as u64)),
            name: r.name,
            description: r.description,
            template_id: r.template_id as u32,
            public_id: r.public_id,
            ekey: r.ekey,
            active: r.is_active,
            created_at: from_ts(r.created_at),
        }
    }
}

/// A CertCentral API key without its hash.
#[derive(Debug)]
pub struct ApiKeyRow {
    pub id: i64,
    pub account_id: i64,
    pub user_id: i64,
    pub name: String,
    pub restricted_role: i64,
    pub status: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl ApiKeyRow {
    pub fn into_key(self) -> Result<ApiKey, StoreError> {
        Ok(ApiKey {
            id: ApiKeyId(self.id as u64),
            account: AccountId(self.account_id as u64),
            user: UserId(self.user_id as u64),
            name: self.name,
            role: u64::try_from(self.restricted_role)
                .ok()
                .and_then(KeyRole::from_id)
                .ok_or_else(|| bad("key role", self.restricted_role))?,
            status: ApiKeyStatus::parse(&self.status)
                .ok_or_else(|| bad("API key status", &self.status))?,
            created_at: from_ts(self.created_at),
            last_used_at: self.last_used_at.map(from_ts),
        })
    }
}

/// A certificate's metadata columns (no PEM, no key).
#[derive(Debug, Deserialize)]
pub struct CertificateRow {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub common_name: String,
    pub sans: String,
    pub issuer: String,
    pub subject: String,
    pub organization: String,
    pub province: String,
    pub city: String,
    pub country: String,
    pub serial: String,
    pub sha1_fingerprint: String,
    pub sha256_fingerprint: String,
    pub key_algorithm: String,
    pub not_before: i64,
    pub not_after: i64,
    pub created_at: i64,
}

impl CertificateRow {
    pub fn into_certificate(self) -> Result<Certificate, StoreError> {
        let sans: Vec<String> =
            serde_json::from_str(&self.sans).map_err(|e| bad("subject alternative names", e))?;
        Ok(Certificate {
            id: CertificateId(self.id as u64),
            account: AccountId(self.account_id as u64),
            created_at: from_ts(self.created_at),
            info: CertificateInfo {
                name: CertificateName::from_trusted(self.name),
                common_name: self.common_name,
                sans,
                issuer: self.issuer,
                subject: self.subject,
                organization: self.organization,
                province: self.province,
                city: self.city,
                country: self.country,
                serial: self.serial,
                sha1_fingerprint: self.sha1_fingerprint,
                sha256_fingerprint: self.sha256_fingerprint,
                key_algorithm: self.key_algorithm,
                not_before: from_ts(self.not_before),
                not_after: from_ts(self.not_after),
            },
        })
    }
}

/// A [`CertificateRow`] from any record that has the certificate's
/// metadata columns as fields (a lookup that also selects PEM and key).
#[macro_export]
macro_rules! certificate_row {
    ($r:ident) => {
        $crate::rows::CertificateRow {
            id: $r.id,
            account_id: $r.account_id,
            name: $r.name,
            common_name: $r.common_name,
            sans: $r.sans,
            issuer: $r.issuer,
            subject: $r.subject,
            organization: $r.organization,
            province: $r.province,
            city: $r.city,
            country: $r.country,
            serial: $r.serial,
            sha1_fingerprint: $r.sha1_fingerprint,
            sha256_fingerprint: $r.sha256_fingerprint,
            key_algorithm: $r.key_algorithm,
            not_before: $r.not_before,
            not_after: $r.not_after,
            created_at: $r.created_at,
        }
    };
}

/// A group's columns, in the order every group query selects them.
#[derive(Debug, Deserialize)]
pub struct GroupRow {
    pub seq: i64,
    pub account_id: i64,
    pub group_id: i64,
    pub group_name: String,
    pub comments: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl GroupRow {
    pub fn into_group(self) -> Group {
        Group {
            id: GroupId(self.group_id as u64),
            account: AccountId(self.account_id as u64),
            name: GroupName::from_trusted(self.group_name),
            comments: self.comments.map(Comments::from_trusted),
            created_at: from_ts(self.created_at),
            updated_at: from_ts(self.updated_at),
        }
    }
}

/// A custom policy's columns with its attachment count.
#[derive(Debug, Deserialize)]
pub struct PolicyRow {
    pub policy_name: String,
    pub description: Option<String>,
    pub default_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub attachments: i64,
}

impl PolicyRow {
    pub fn into_policy(self) -> ManagedPolicy {
        ManagedPolicy {
            name: PolicyName::from_trusted(self.policy_name),
            kind: PolicyType::Custom,
            description: self.description.map(Description::from_trusted),
            default_version: version_id(self.default_version),
            attachment_count: self.attachments.max(0) as u64,
            created_at: from_ts(self.created_at),
            updated_at: from_ts(self.updated_at),
        }
    }
}

pub fn policy_type(s: &str) -> Result<PolicyType, StoreError> {
    PolicyType::parse(s).ok_or_else(|| bad("policy type", s))
}

/// A policy version's id as the vendor spells it: `v<N>`.
pub fn version_id(n: i64) -> String {
    format!("v{n}")
}

/// `v<N>` → N, for the spelling [`version_id`] makes (no sign, no leading
/// zero); anything else names no version.
pub fn version_number(id: &str) -> Option<i64> {
    let digits = id.strip_prefix('v')?;
    if digits.is_empty()
        || digits.len() > 18
        || digits.starts_with('0')
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_are_read_as_written() {
        assert_eq!(version_number("v1"), Some(1));
        assert_eq!(version_number("v42"), Some(42));
        assert_eq!(version_number(&version_id(7)), Some(7));
        for bad in [
            "", "v", "1", "V1", "v01", "v0", "v-1", "v+1", "v1 ", "v1.0", "vx",
        ] {
            assert_eq!(version_number(bad), None, "{bad:?}");
        }
        assert_eq!(version_number(&format!("v{}", "9".repeat(19))), None);
    }

    #[test]
    fn flags_read_from_sqlite_pages_and_from_booleans() {
        #[derive(Deserialize)]
        struct F {
            #[serde(deserialize_with = "flag")]
            f: bool,
        }
        for (json, want) in [
            (r#"{"f":1}"#, true),
            (r#"{"f":0}"#, false),
            (r#"{"f":true}"#, true),
        ] {
            assert_eq!(serde_json::from_str::<F>(json).unwrap().f, want);
        }
    }

    #[test]
    fn values_no_store_writes_are_backend_errors() {
        let key = KeyRow {
            id: "LTAIx".into(),
            account_id: 1,
            user_id: None,
            status: "Paused".into(),
            created_at: 0,
            last_used_at: None,
        };
        assert!(matches!(key.into_key(), Err(StoreError::Backend(m)) if m.contains("Paused")));
    }
}
