//! CertCentral's access roles and API-key roles as permission sets
//! (reference digicert-certcentral.md §2), expressed as policy documents so
//! that a CertCentral call is decided by the same evaluator as a RAM call:
//! a role is a system policy of `certcentral:<Operation>` permissions.
//!
//! A key acts with its user's role, narrowed by the key's restriction
//! (`restricted_to_role_id`): both must allow an operation ([`allows`]).
//!
//! The matrix is the reference's (marked [inferred] there, as the vendor
//! does not publish one): every role may read itself, the account, the
//! key-role list and its container tree; Administrator and Manager read and
//! edit users; only Administrator adds, deletes and re-roles users and
//! manages containers and keys. Key roles: View Only keeps the reads,
//! User Management the user operations, Orders / Orders-Domains-
//! Organizations only the order side (not served yet) and the always-on
//! reads.
//!
//! This module is the CertCentral face's single table of what each
//! operation needs; the face maps each route to one [`Operation`].
//!
//! # One identity, two rule sets
//!
//! A user added through CertCentral is a RAM user of the same account, and
//! the reverse; the store keeps one record. Each face enforces its own
//! vendor's rules at its edge ([`fields`] for CertCentral, `validate` for
//! RAM) and the record holds what either accepted:
//!
//! * The CertCentral `username` is the RAM `UserName`, unique per account
//!   compared case-insensitively (both vendors' rule). CertCentral allows
//!   up to 255 characters of `a–z A–Z 0–9 @ - _ + .`; RAM 1–64 of
//!   `A–Z a–z 0–9 . @ _ -`. A CertCentral name RAM would refuse (a `+`, or
//!   longer than 64) still shows in RAM's ListUsers, but RAM calls that
//!   name it are refused at RAM's edge with RAM's own code, exactly as the
//!   vendor's RAM treats a name it cannot hold. Nothing is rewritten.
//! * `first_name` / `last_name` are kept as given. RAM's `DisplayName`,
//!   when never set through RAM, reads as `"<first> <last>"`; a RAM
//!   DisplayName set through RAM is kept and does not change the names.
//! * `email` is shared. `telephone` (free text on CertCentral) and RAM's
//!   `MobilePhone` (`<cc>-<number>`) are separate attributes: neither
//!   vendor's format can hold the other's.
//! * A user created through RAM appears in CertCentral with the role
//!   Standard User in the account's root container, names taken from its
//!   DisplayName (first) and UserName (last) until CertCentral edits them.

use time::OffsetDateTime;

use crate::ids::{AccountId, ContainerId, UserId};
use crate::policy::{Decision, Effect, PolicyDocument, Statement, evaluate};
use crate::user::User;

pub use crate::ids::ApiKeyId;

/// A CertCentral operation and the permission it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    GetCurrentUser,
    GetAccount,
    ListApiKeyRoles,
    ListContainers,
    GetContainer,
    ListUsers,
    GetUser,
    ListServiceUsers,
    ListContainerRoles,
    UpdateUser,
    AddUser,
    AddServiceUser,
    DeleteUser,
    SetUserRole,
    SetContainerAssignments,
    CreateContainer,
    UpdateContainer,
    ListApiKeys,
    GetApiKey,
    CreateApiKey,
    UpdateApiKey,
    SetApiKeyStatus,
}

impl Operation {
    pub const ALL: &'static [Operation] = &[
        Operation::GetCurrentUser,
        Operation::GetAccount,
        Operation::ListApiKeyRoles,
        Operation::ListContainers,
        Operation::GetContainer,
        Operation::ListUsers,
        Operation::GetUser,
        Operation::ListServiceUsers,
        Operation::ListContainerRoles,
        Operation::UpdateUser,
        Operation::AddUser,
        Operation::AddServiceUser,
        Operation::DeleteUser,
        Operation::SetUserRole,
        Operation::SetContainerAssignments,
        Operation::CreateContainer,
        Operation::UpdateContainer,
        Operation::ListApiKeys,
        Operation::GetApiKey,
        Operation::CreateApiKey,
        Operation::UpdateApiKey,
        Operation::SetApiKeyStatus,
    ];

    /// `certcentral:<Operation>`, the permission a policy must allow.
    pub fn permission(self) -> &'static str {
        use Operation as O;
        match self {
            O::GetCurrentUser => "certcentral:GetCurrentUser",
            O::GetAccount => "certcentral:GetAccount",
            O::ListApiKeyRoles => "certcentral:ListApiKeyRoles",
            O::ListContainers => "certcentral:ListContainers",
            O::GetContainer => "certcentral:GetContainer",
            O::ListUsers => "certcentral:ListUsers",
            O::GetUser => "certcentral:GetUser",
            O::ListServiceUsers => "certcentral:ListServiceUsers",
            O::ListContainerRoles => "certcentral:ListContainerRoles",
            O::UpdateUser => "certcentral:UpdateUser",
            O::AddUser => "certcentral:AddUser",
            O::AddServiceUser => "certcentral:AddServiceUser",
            O::DeleteUser => "certcentral:DeleteUser",
            O::SetUserRole => "certcentral:SetUserRole",
            O::SetContainerAssignments => "certcentral:SetContainerAssignments",
            O::CreateContainer => "certcentral:CreateContainer",
            O::UpdateContainer => "certcentral:UpdateContainer",
            O::ListApiKeys => "certcentral:ListApiKeys",
            O::GetApiKey => "certcentral:GetApiKey",
            O::CreateApiKey => "certcentral:CreateApiKey",
            O::UpdateApiKey => "certcentral:UpdateApiKey",
            O::SetApiKeyStatus => "certcentral:SetApiKeyStatus",
        }
    }

    /// Reads every valid key may make, whatever its roles.
    const ALWAYS: &'static [Operation] = &[
        Operation::GetCurrentUser,
        Operation::GetAccount,
        Operation::ListApiKeyRoles,
        Operation::ListContainers,
        Operation::GetContainer,
    ];
    /// Reads of other users (Administrator, Manager; View Only and User
    /// Management keys).
    const USER_READS: &'static [Operation] = &[
        Operation::ListUsers,
        Operation::GetUser,
        Operation::ListServiceUsers,
        Operation::ListContainerRoles,
    ];
    /// Administrator-only user changes (User Management keys).
    const USER_ADMIN: &'static [Operation] = &[
        Operation::AddUser,
        Operation::AddServiceUser,
        Operation::DeleteUser,
        Operation::SetUserRole,
        Operation::SetContainerAssignments,
    ];
    const KEY_READS: &'static [Operation] = &[Operation::ListApiKeys, Operation::GetApiKey];
    const ADMIN_WRITES: &'static [Operation] = &[
        Operation::CreateContainer,
        Operation::UpdateContainer,
        Operation::CreateApiKey,
        Operation::UpdateApiKey,
        Operation::SetApiKeyStatus,
    ];
}

/// A user's access role (`access_roles[].id` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessRole {
    Administrator,
    LimitedUser,
    FinanceManager,
    Manager,
    StandardUser,
}

impl AccessRole {
    pub const ALL: &'static [AccessRole] = &[
        AccessRole::Administrator,
        AccessRole::LimitedUser,
        AccessRole::FinanceManager,
        AccessRole::Manager,
        AccessRole::StandardUser,
    ];

    pub fn id(self) -> u32 {
        match self {
            AccessRole::Administrator => 1,
            AccessRole::LimitedUser => 2,
            AccessRole::FinanceManager => 3,
            AccessRole::Manager => 4,
            AccessRole::StandardUser => 5,
        }
    }

    /// Title case, as the vendor writes it on the wire.
    pub fn name(self) -> &'static str {
        match self {
            AccessRole::Administrator => "Administrator",
            AccessRole::LimitedUser => "Limited User",
            AccessRole::FinanceManager => "Finance Manager",
            AccessRole::Manager => "Manager",
            AccessRole::StandardUser => "Standard User",
        }
    }

    pub fn from_id(id: u64) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| u64::from(r.id()) == id)
    }

    /// The role as a system policy.
    pub fn policy(self) -> PolicyDocument {
        let mut ops: Vec<Operation> = Operation::ALWAYS.to_vec();
        match self {
            AccessRole::Administrator => {
                ops.extend(Operation::USER_READS);
                ops.push(Operation::UpdateUser);
                ops.extend(Operation::USER_ADMIN);
                ops.extend(Operation::KEY_READS);
                ops.extend(Operation::ADMIN_WRITES);
            }
            AccessRole::Manager => {
                ops.extend(Operation::USER_READS);
                ops.push(Operation::UpdateUser);
            }
            AccessRole::LimitedUser | AccessRole::FinanceManager | AccessRole::StandardUser => {}
        }
        allow(&ops)
    }
}

/// An API key's restriction (`restricted_to_role_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRole {
    /// 0: whatever the owner's role allows.
    Unrestricted,
    Orders,
    OrdersDomainsOrganizations,
    ViewOnly,
    UserManagement,
}

impl KeyRole {
    pub const ALL: &'static [KeyRole] = &[
        KeyRole::Unrestricted,
        KeyRole::Orders,
        KeyRole::OrdersDomainsOrganizations,
        KeyRole::ViewOnly,
        KeyRole::UserManagement,
    ];

    pub fn id(self) -> u32 {
        match self {
            KeyRole::Unrestricted => 0,
            KeyRole::Orders => 100,
            KeyRole::OrdersDomainsOrganizations => 101,
            KeyRole::ViewOnly => 102,
            KeyRole::UserManagement => 103,
        }
    }

    /// As `GET /key/api-roles` names it (none for 0).
    pub fn name(self) -> Option<&'static str> {
        match self {
            KeyRole::Unrestricted => None,
            KeyRole::Orders => Some("Orders"),
            KeyRole::OrdersDomainsOrganizations => Some("Orders, Domains, Organizations"),
            KeyRole::ViewOnly => Some("View Only"),
            KeyRole::UserManagement => Some("User Management"),
        }
    }

    pub fn from_id(id: u64) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| u64::from(r.id()) == id)
    }

    /// The restriction as a policy; `None` for an unrestricted key.
    pub fn policy(self) -> Option<PolicyDocument> {
        let mut ops: Vec<Operation> = Operation::ALWAYS.to_vec();
        match self {
            KeyRole::Unrestricted => return None,
            KeyRole::ViewOnly => {
                ops.extend(Operation::USER_READS);
                ops.extend(Operation::KEY_READS);
            }
            KeyRole::UserManagement => {
                ops.extend(Operation::USER_READS);
                ops.push(Operation::UpdateUser);
                ops.extend(Operation::USER_ADMIN);
            }
            // Orders, domains and organizations are not served yet.
            KeyRole::Orders | KeyRole::OrdersDomainsOrganizations => {}
        }
        Some(allow(&ops))
    }
}

/// Whether a user signs in (`standard`) or exists only to own API keys
/// (`api_only`, a "service user").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserKind {
    Standard,
    ApiOnly,
}

impl UserKind {
    /// The wire spelling of `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::Standard => "standard",
            UserKind::ApiOnly => "api_only",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "standard" => Some(UserKind::Standard),
            "api_only" => Some(UserKind::ApiOnly),
            _ => None,
        }
    }
}

/// The CertCentral side of a user: what CertCentral shows and RAM does not.
/// A user created through RAM gets [`Profile::for_ram_user`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `None` for users created through RAM (see the module docs for what
    /// CertCentral shows then).
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<String>,
    pub telephone: Option<String>,
    pub role: AccessRole,
    /// The container the user belongs to.
    pub container: ContainerId,
    /// Non-empty: the user is restricted to these containers.
    pub container_assignments: Vec<ContainerId>,
    pub kind: UserKind,
    pub saml_sso_only: bool,
}

impl Profile {
    /// A RAM-created user: Standard User in the root container.
    pub fn for_ram_user(root: ContainerId) -> Self {
        Self {
            first_name: None,
            last_name: None,
            job_title: None,
            telephone: None,
            role: AccessRole::StandardUser,
            container: root,
            container_assignments: Vec::new(),
            kind: UserKind::Standard,
            saml_sso_only: false,
        }
    }
}

/// A change to a user's CertCentral attributes (outer `None`: leave it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<Option<String>>,
    pub telephone: Option<Option<String>>,
    pub role: Option<AccessRole>,
    pub container_assignments: Option<Vec<ContainerId>>,
    pub saml_sso_only: Option<bool>,
}

impl ProfilePatch {
    pub fn apply(&self, p: &mut Profile) {
        if let Some(v) = &self.first_name {
            p.first_name = Some(v.clone());
        }
        if let Some(v) = &self.last_name {
            p.last_name = Some(v.clone());
        }
        if let Some(v) = &self.job_title {
            p.job_title = v.clone();
        }
        if let Some(v) = &self.telephone {
            p.telephone = v.clone();
        }
        if let Some(v) = self.role {
            p.role = v;
        }
        if let Some(v) = &self.container_assignments {
            p.container_assignments = v.clone();
        }
        if let Some(v) = self.saml_sso_only {
            p.saml_sso_only = v;
        }
    }
}

/// A container (CertCentral "division"). Every account has one root
/// (`parent` `None`, template 5) created with the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub id: ContainerId,
    pub account: AccountId,
    pub parent: Option<ContainerId>,
    pub name: String,
    pub description: Option<String>,
    pub template_id: u32,
    /// 32 lowercase hex characters.
    pub public_id: String,
    /// An opaque lowercase hex token the vendor shows beside `public_id`.
    pub ekey: String,
    pub active: bool,
    pub created_at: OffsetDateTime,
}

/// Template of the root container, and of the containers below it.
pub const ROOT_TEMPLATE: u32 = 5;
pub const CHILD_TEMPLATE: u32 = 6;

/// A container to create; the store assigns its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContainer {
    pub account: AccountId,
    /// `None` only for the account's root, made with the account.
    pub parent: Option<ContainerId>,
    pub name: String,
    pub description: Option<String>,
    pub template_id: u32,
    pub public_id: String,
    pub ekey: String,
    pub created_at: OffsetDateTime,
}

/// The containers `from` and everything below it, `from` first.
pub fn subtree(all: &[Container], from: ContainerId) -> Vec<ContainerId> {
    let mut out = vec![from];
    let mut i = 0;
    // Breadth-first over the parent links; a cycle cannot form (parents
    // are fixed at creation), but `contains` keeps a corrupt one finite.
    while i < out.len() {
        let at = out[i];
        for c in all {
            if c.parent == Some(at) && !out.contains(&c.id) {
                out.push(c.id);
            }
        }
        i += 1;
    }
    out
}

/// An API key's state; changed only through `PUT /key/{id}/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKeyStatus {
    Active,
    Revoked,
}

impl ApiKeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKeyStatus::Active => "active",
            ApiKeyStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(ApiKeyStatus::Active),
            "revoked" => Some(ApiKeyStatus::Revoked),
            _ => None,
        }
    }
}

/// An API key's metadata. The key itself is never stored: only its
/// SHA-256, which is how a request's `X-DC-DEVKEY` finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub account: AccountId,
    pub user: UserId,
    pub name: String,
    pub role: KeyRole,
    pub status: ApiKeyStatus,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// A key to create: its metadata and the hash of its secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub account: AccountId,
    pub user: UserId,
    pub name: String,
    pub role: KeyRole,
    pub created_at: OffsetDateTime,
    pub hash: [u8; 32],
}

/// Which users a CertCentral list wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserQuery {
    pub kind: UserKind,
    /// Only users in these containers; `None`: anywhere in the account.
    pub containers: Option<Vec<ContainerId>>,
    pub role: Option<AccessRole>,
    pub search: Option<Search>,
    /// Sort keys in order; empty means by id ascending.
    pub sort: Vec<(UserSort, Direction)>,
    pub offset: u64,
    pub limit: u32,
}

/// `filters[search]`: matches username, first name, last name or e-mail,
/// ignoring ASCII case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Search {
    Exact(String),
    Contains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSort {
    Id,
    Username,
    FirstName,
    LastName,
    Email,
    Status,
    LastLogin,
}

impl UserSort {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "id" => UserSort::Id,
            "username" => UserSort::Username,
            "first_name" => UserSort::FirstName,
            "last_name" => UserSort::LastName,
            "email" => UserSort::Email,
            "status" => UserSort::Status,
            "last_login_date" => UserSort::LastLogin,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

/// One page of a [`UserQuery`] and how many users match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListing {
    pub users: Vec<User>,
    pub total: u64,
}

/// Field rules of the CertCentral user endpoints (reference §6.2–§6.6),
/// checked in the reference's order: presence, type, length, charset or
/// format. Lengths count Unicode characters.
pub mod fields {
    /// What is wrong with a field value.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum FieldProblem {
        /// Absent, empty or blank.
        Missing,
        /// Longer than the limit.
        TooLong(usize),
        /// Outside the username charset.
        Charset,
        /// Not an e-mail address.
        Email,
    }

    pub const MAX_USERNAME: usize = 255;
    pub const MAX_NAME: usize = 128;
    pub const MAX_EMAIL: usize = 255;
    pub const MAX_JOB_TITLE: usize = 64;
    pub const MAX_TELEPHONE: usize = 64;

    fn present(v: &str, max: usize) -> Result<(), FieldProblem> {
        if v.trim().is_empty() {
            return Err(FieldProblem::Missing);
        }
        if v.chars().count() > max {
            return Err(FieldProblem::TooLong(max));
        }
        Ok(())
    }

    pub fn username(v: &str) -> Result<(), FieldProblem> {
        present(v, MAX_USERNAME)?;
        if v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'@' | b'-' | b'_' | b'+' | b'.'))
        {
            Ok(())
        } else {
            Err(FieldProblem::Charset)
        }
    }

    /// `first_name`, `last_name`.
    pub fn name(v: &str) -> Result<(), FieldProblem> {
        present(v, MAX_NAME)
    }

    /// One `@`, a non-empty local part, a dot inside the domain, no
    /// whitespace; the length is checked first.
    pub fn email(v: &str) -> Result<(), FieldProblem> {
        present(v, MAX_EMAIL)?;
        let ok = !v.chars().any(char::is_whitespace)
            && v.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain
                        .split_once('.')
                        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty() && !b.ends_with('.'))
            });
        if ok { Ok(()) } else { Err(FieldProblem::Email) }
    }

    /// `job_title`, `telephone` (optional; when given, non-blank).
    pub fn short_text(v: &str, max: usize) -> Result<(), FieldProblem> {
        present(v, max)
    }
}

fn allow(ops: &[Operation]) -> PolicyDocument {
    PolicyDocument {
        statements: vec![Statement {
            effect: Effect::Allow,
            actions: ops.iter().map(|o| o.permission().to_owned()).collect(),
            resources: vec!["*".to_owned()],
            conditions: Vec::new(),
        }],
    }
}

/// Whether a key of `key_role` belonging to a user with `role` may perform
/// `op` on `resource`: the user's role and the key's restriction must both
/// allow it.
pub fn allows(role: AccessRole, key_role: KeyRole, op: Operation, resource: &str) -> bool {
    // Roles carry no conditions: any request context decides the same.
    let ctx = crate::policy::RequestContext::at(OffsetDateTime::UNIX_EPOCH);
    let by_role = evaluate([&role.policy()], op.permission(), resource, &ctx) == Decision::Allow;
    let by_key = key_role
        .policy()
        .is_none_or(|p| evaluate([&p], op.permission(), resource, &ctx) == Decision::Allow);
    by_role && by_key
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccessRole as R;
    use KeyRole as K;
    use Operation as O;

    #[test]
    fn ids_and_names_round_trip() {
        for r in AccessRole::ALL {
            assert_eq!(AccessRole::from_id(u64::from(r.id())), Some(*r));
        }
        for k in KeyRole::ALL {
            assert_eq!(KeyRole::from_id(u64::from(k.id())), Some(*k));
        }
        assert_eq!(AccessRole::from_id(6), None);
        assert_eq!(KeyRole::from_id(104), None);
        assert_eq!(R::FinanceManager.name(), "Finance Manager");
        assert_eq!(
            K::OrdersDomainsOrganizations.name(),
            Some("Orders, Domains, Organizations")
        );
        for o in Operation::ALL {
            let (service, name) = o.permission().split_once(':').unwrap();
            assert_eq!(service, "certcentral");
            assert_eq!(name, format!("{o:?}"), "the permission names the operation");
        }
    }

    #[test]
    fn field_rules() {
        use fields::FieldProblem as P;
        use fields::*;
        assert_eq!(username("jill.valentine+ops@example-1_x"), Ok(()));
        assert_eq!(username("jill valentine"), Err(P::Charset));
        assert_eq!(username("jöran"), Err(P::Charset));
        assert_eq!(username(""), Err(P::Missing));
        assert_eq!(username("   "), Err(P::Missing));
        assert_eq!(username(&"a".repeat(255)), Ok(()));
        assert_eq!(username(&"a".repeat(256)), Err(P::TooLong(255)));
        assert_eq!(name(&"é".repeat(128)), Ok(()), "characters, not bytes");
        assert_eq!(name(&"é".repeat(129)), Err(P::TooLong(128)));
        for good in ["a@b.c", "jill.valentine@example.test", "x+y@sub.example.co"] {
            assert_eq!(email(good), Ok(()), "{good}");
        }
        for bad in ["a@b", "@b.c", "a b@c.d", "a@b@c.d", "a@.c", "a@b.", "abc"] {
            assert_eq!(email(bad), Err(P::Email), "{bad}");
        }
        assert_eq!(
            email(&format!("{}@example.test", "a".repeat(250))),
            Err(P::TooLong(255)),
            "length before format"
        );
        assert_eq!(short_text("555-555-5555", MAX_TELEPHONE), Ok(()));
        assert_eq!(
            short_text(&"x".repeat(65), MAX_JOB_TITLE),
            Err(P::TooLong(64))
        );
    }

    /// The reference's permission matrix, row by row.
    #[test]
    fn the_permission_matrix() {
        let yes = |r, k, o| allows(r, k, o, "*");
        // Every role and every key may read itself and the account.
        for r in AccessRole::ALL {
            for k in KeyRole::ALL {
                for o in Operation::ALWAYS {
                    assert!(yes(*r, *k, *o), "{r:?} {k:?} {o:?}");
                }
            }
        }
        // A Standard User cannot add users; an Administrator can.
        assert!(!yes(R::StandardUser, K::Unrestricted, O::AddUser));
        assert!(yes(R::Administrator, K::Unrestricted, O::AddUser));
        // A Manager reads and edits users but does not add or delete them.
        assert!(yes(R::Manager, K::Unrestricted, O::ListUsers));
        assert!(yes(R::Manager, K::Unrestricted, O::UpdateUser));
        assert!(!yes(R::Manager, K::Unrestricted, O::AddUser));
        assert!(!yes(R::Manager, K::Unrestricted, O::DeleteUser));
        assert!(!yes(R::Manager, K::Unrestricted, O::ListApiKeys));
        for r in [R::LimitedUser, R::FinanceManager, R::StandardUser] {
            assert!(!yes(r, K::Unrestricted, O::ListUsers), "{r:?}");
            assert!(!yes(r, K::Unrestricted, O::GetUser), "{r:?}");
        }
        // An Administrator's View Only key reads, but changes nothing.
        assert!(yes(R::Administrator, K::ViewOnly, O::ListUsers));
        assert!(yes(R::Administrator, K::ViewOnly, O::ListApiKeys));
        for o in [
            O::AddUser,
            O::UpdateUser,
            O::DeleteUser,
            O::CreateApiKey,
            O::CreateContainer,
        ] {
            assert!(!yes(R::Administrator, K::ViewOnly, o), "{o:?}");
        }
        // User Management: user operations only, no keys or containers.
        assert!(yes(R::Administrator, K::UserManagement, O::AddUser));
        assert!(yes(R::Administrator, K::UserManagement, O::DeleteUser));
        assert!(!yes(R::Administrator, K::UserManagement, O::ListApiKeys));
        assert!(!yes(
            R::Administrator,
            K::UserManagement,
            O::CreateContainer
        ));
        // Orders keys: only the always-on reads (orders are not served).
        assert!(!yes(R::Administrator, K::Orders, O::ListUsers));
        // The key narrows, never widens: a Manager's User Management key
        // still cannot add users.
        assert!(!yes(R::Manager, K::UserManagement, O::AddUser));
        // Only Administrator keys of scope 0 manage keys and containers.
        for o in Operation::ADMIN_WRITES {
            for r in AccessRole::ALL {
                for k in KeyRole::ALL {
                    assert_eq!(
                        yes(*r, *k, *o),
                        *r == R::Administrator && *k == K::Unrestricted,
                        "{r:?} {k:?} {o:?}"
                    );
                }
            }
        }
    }
}
