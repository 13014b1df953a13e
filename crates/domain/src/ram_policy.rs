//! RAM policies as stored objects: custom policies with their versions, the
//! read-only system catalogue, and attachments to users and groups
//! (reference aliyun-rpc.md §e.11). The policy *language* and its
//! evaluation live in [`crate::policy`].
//!
//! Documents are kept as the text the caller sent (the vendor returns it
//! verbatim in `PolicyDocument`), after the parser accepted it.

use time::OffsetDateTime;

use crate::group::Group;
use crate::ids::AccountId;
use crate::user::User;
use crate::validate::{Description, GroupName, PolicyName, UserName};

/// `System` (shipped, read-only) or `Custom` (the account's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicyType {
    System,
    Custom,
}

impl PolicyType {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::System => "System",
            PolicyType::Custom => "Custom",
        }
    }

    /// The vendor's spelling, case-sensitive.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "System" => Some(PolicyType::System),
            "Custom" => Some(PolicyType::Custom),
            _ => None,
        }
    }
}

/// A policy's metadata (either type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub name: PolicyName,
    pub kind: PolicyType,
    pub description: Option<Description>,
    /// `v1`, `v2`, …
    pub default_version: String,
    /// Users and groups it is attached to, in this account.
    pub attachment_count: u64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One version of a policy's document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// `v<N>`; numbers grow with every version and are never reused.
    pub id: String,
    pub is_default: bool,
    pub document: String,
    pub created_at: OffsetDateTime,
}

/// A custom policy to create (its first version, `v1`, is the default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicy {
    pub account: AccountId,
    pub name: PolicyName,
    pub description: Option<Description>,
    pub document: String,
    pub created_at: OffsetDateTime,
}

/// What `CreatePolicyVersion` does when the policy already has the
/// maximum number of versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateStrategy {
    /// Refuse (`LimitExceeded(PolicyVersion)`).
    None,
    /// Delete the oldest version that is not the default, then add.
    DeleteOldestNonDefaultVersionWhenLimitExceeded,
}

/// Who a policy is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachTarget {
    User(UserName),
    Group(GroupName),
}

/// A policy attached to a user or group, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub kind: PolicyType,
    pub name: PolicyName,
    pub attached_at: OffsetDateTime,
}

/// Everyone a policy is attached to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyEntities {
    pub users: Vec<(User, OffsetDateTime)>,
    pub groups: Vec<(Group, OffsetDateTime)>,
}

/// A policy that applies to a user, directly or through a group: custom
/// ones with their default version's document, system ones by name (the
/// service has their documents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    pub kind: PolicyType,
    pub name: PolicyName,
    /// The default version's document (custom policies only).
    pub document: Option<String>,
}

/// Limits of the vendor (reference §e.11), checked where the write is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyLimits {
    pub groups_per_account: u32,
    pub groups_per_user: u32,
    pub custom_policies_per_account: u32,
    pub versions_per_policy: u32,
    pub system_policies_per_user: u32,
    pub custom_policies_per_user: u32,
    pub system_policies_per_group: u32,
    pub custom_policies_per_group: u32,
}

impl Default for PolicyLimits {
    fn default() -> Self {
        Self {
            groups_per_account: 50,
            groups_per_user: 5,
            custom_policies_per_account: 1500,
            versions_per_policy: 5,
            system_policies_per_user: 20,
            custom_policies_per_user: 10,
            system_policies_per_group: 20,
            custom_policies_per_group: 5,
        }
    }
}

/// A shipped, read-only policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemPolicy {
    pub name: &'static str,
    pub description: &'static str,
    pub document: &'static str,
}

/// The system catalogue, in name order. CertCentral's access roles are
/// system policies too (`CertCentral<Role>`): a CertCentral user holds the
/// one of its role without an attachment; attaching it to a RAM user or
/// group grants the same CertCentral rights.
pub const SYSTEM_POLICIES: &[SystemPolicy] = &[
    SystemPolicy {
        name: "AdministratorAccess",
        description: "管理所有阿里云资源的权限",
        document: r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    },
    SystemPolicy {
        name: "AliyunRAMFullAccess",
        description: "管理访问控制（RAM）的权限，即管理用户以及授权的权限",
        document: r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":"*"}]}"#,
    },
    SystemPolicy {
        name: "AliyunRAMReadOnlyAccess",
        description: "只读访问访问控制（RAM）的权限，即查看用户、组以及授权信息的权限",
        document: r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["ram:Get*","ram:List*"],"Resource":"*"}]}"#,
    },
    SystemPolicy {
        name: "AliyunYundunCertFullAccess",
        description: "管理云盾证书服务的权限",
        document: r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"yundun-cert:*","Resource":"*"}]}"#,
    },
    SystemPolicy {
        name: "AliyunYundunCertReadOnlyAccess",
        description: "只读访问云盾证书服务的权限",
        document: r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["yundun-cert:Describe*","yundun-cert:Get*","yundun-cert:List*"],"Resource":"*"}]}"#,
    },
    SystemPolicy {
        name: "CertCentralAdministrator",
        description: "CertCentral access role Administrator (id 1)",
        document: "",
    },
    SystemPolicy {
        name: "CertCentralFinanceManager",
        description: "CertCentral access role Finance Manager (id 3)",
        document: "",
    },
    SystemPolicy {
        name: "CertCentralLimitedUser",
        description: "CertCentral access role Limited User (id 2)",
        document: "",
    },
    SystemPolicy {
        name: "CertCentralManager",
        description: "CertCentral access role Manager (id 4)",
        document: "",
    },
    SystemPolicy {
        name: "CertCentralStandardUser",
        description: "CertCentral access role Standard User (id 5)",
        document: "",
    },
    SystemPolicy {
        name: "ReadOnlyAccess",
        description: "只读访问所有阿里云资源的权限",
        document: r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["*:Describe*","*:List*","*:Get*","*:BatchGet*","*:Query*","*:BatchQuery*"],"Resource":"*"}]}"#,
    },
];

/// The system policy of that name (exact match).
pub fn system_policy(name: &str) -> Option<&'static SystemPolicy> {
    SYSTEM_POLICIES.iter().find(|p| p.name == name)
}

/// The system policy standing for a CertCentral access role.
pub fn role_policy_name(role: crate::certcentral::AccessRole) -> &'static str {
    use crate::certcentral::AccessRole as R;
    match role {
        R::Administrator => "CertCentralAdministrator",
        R::LimitedUser => "CertCentralLimitedUser",
        R::FinanceManager => "CertCentralFinanceManager",
        R::Manager => "CertCentralManager",
        R::StandardUser => "CertCentralStandardUser",
    }
}

/// The CertCentral role a `CertCentral<Role>` system policy stands for.
pub fn role_of_policy(name: &str) -> Option<crate::certcentral::AccessRole> {
    crate::certcentral::AccessRole::ALL
        .iter()
        .copied()
        .find(|r| role_policy_name(*r) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_sorted_and_names_are_valid() {
        let names: Vec<&str> = SYSTEM_POLICIES.iter().map(|p| p.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        for p in SYSTEM_POLICIES {
            assert!(PolicyName::parse(p.name).is_ok(), "{}", p.name);
        }
        for r in crate::certcentral::AccessRole::ALL {
            assert_eq!(role_of_policy(role_policy_name(*r)), Some(*r));
            assert!(system_policy(role_policy_name(*r)).is_some());
        }
        assert_eq!(PolicyType::parse("system"), None);
    }
}
