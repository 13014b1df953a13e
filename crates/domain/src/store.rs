//! Storage traits. One trait per aggregate, all object-safe (`async_trait`)
//! so the server holds an `Arc<dyn Store>` and picks SQLite or PostgreSQL at
//! run time. Every implementation must pass the conformance suite in
//! `trustdesk-testkit::conformance`.
//!
//! Contract shared by all implementations:
//! * A method that returns `Ok` has made its change durable (committed and
//!   synced); a 2xx built on it survives `kill -9`.
//! * Business outcomes (`AlreadyExists`, `NotFound`, `LimitExceeded`,
//!   `DeleteConflict`) are decided inside the same transaction as the write,
//!   so they hold under concurrency.
//! * User names are unique per account, compared with [`UserName::folded`].

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::access_key::{AccessKey, KeyOwner, KeyStatus, NewAccessKey, StoredAccessKey};
use crate::audit::AuditEvent;
use crate::certcentral::{
    ApiKey, ApiKeyStatus, Container, KeyRole, NewApiKey, NewContainer, UserListing, UserQuery,
};
use crate::certificate::{CertificateId, CertificatePage, NewCertificate, StoredCertificate};
use crate::error::StoreError;
use crate::group::{Group, GroupCursor, GroupMembership, GroupPage, GroupPatch, MemberPage};
use crate::ids::{AccessKeyId, AccountId, ApiKeyId, ContainerId, UserId};
use crate::ram_policy::{
    AttachTarget, Attachment, EffectivePolicy, ManagedPolicy, NewPolicy, PolicyEntities,
    PolicyType, PolicyVersion, RotateStrategy,
};
use crate::user::{User, UserPatch};
use crate::validate::UserName;
use crate::validate::{Description, GroupName, PolicyName};

/// An account: the tenant every other record belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub created_at: OffsetDateTime,
}

/// A position in the stable listing order of an account's users (creation
/// order). Opaque to callers; the faces encode it into their own markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UserCursor(pub i64);

/// One page of users and where the next page starts, if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    pub users: Vec<User>,
    pub next: Option<UserCursor>,
}

#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The account created at bootstrap, if any.
    async fn root_account(&self) -> Result<Option<Account>, StoreError>;
    /// Creates the account, its root container and its first (root)
    /// access key in one transaction.
    async fn create_account(
        &self,
        account: &Account,
        root_container: &NewContainer,
        root_key: &NewAccessKey,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a fully formed user. `AlreadyExists(User)` if the name is
    /// taken, `LimitExceeded(User)` if the account already has `max_users`,
    /// `NotFound(Container)` if its container does not exist (the service
    /// checks beforehand that the container is the account's).
    async fn create_user(&self, user: &User, max_users: u32) -> Result<(), StoreError>;
    async fn user_by_name(
        &self,
        account: AccountId,
        name: &UserName,
    ) -> Result<Option<User>, StoreError>;
    async fn user_by_id(&self, account: AccountId, id: UserId) -> Result<Option<User>, StoreError>;
    /// Applies `patch` and returns the user as stored afterwards.
    /// `NotFound(User)`, or `AlreadyExists(User)` when a rename collides.
    async fn update_user(
        &self,
        account: AccountId,
        name: &UserName,
        patch: &UserPatch,
        now: OffsetDateTime,
    ) -> Result<User, StoreError>;
    /// `NotFound(User)`, or `DeleteConflict { User, Group | AccessKey |
    /// Policy }` while the user is in a group, has access keys or has
    /// policies attached (checked in that order). API keys go with it.
    async fn delete_user(&self, account: AccountId, name: &UserName) -> Result<(), StoreError>;
    /// Users in creation order, starting after `after`, at most `limit`.
    async fn list_users(
        &self,
        account: AccountId,
        after: Option<UserCursor>,
        limit: u32,
    ) -> Result<UserPage, StoreError>;
    /// Inserts a user and an API key it owns, in one transaction (service
    /// users, the bootstrap administrator). Refusals as [`create_user`].
    ///
    /// [`create_user`]: UserStore::create_user
    async fn create_user_with_api_key(
        &self,
        user: &User,
        max_users: u32,
        key: &NewApiKey,
    ) -> Result<ApiKeyId, StoreError>;
    /// A CertCentral list: filtered, sorted, one offset page, and the exact
    /// number of matches. The search ignores ASCII case; names compare as
    /// shown (a RAM-created user's first name is its DisplayName or user
    /// name, its last name the user name); ties sort by id.
    async fn query_users(
        &self,
        account: AccountId,
        query: &UserQuery,
    ) -> Result<UserListing, StoreError>;
    /// Deletes the user with every access key and API key it owns, in one
    /// transaction (CertCentral's delete, which revokes the user's keys).
    /// `NotFound(User)`.
    async fn purge_user(&self, account: AccountId, id: UserId) -> Result<(), StoreError>;
}

#[async_trait]
pub trait ContainerStore: Send + Sync {
    /// The account's containers, in id order (an account holds a handful;
    /// callers work out the tree from the parent links).
    async fn containers(&self, account: AccountId) -> Result<Vec<Container>, StoreError>;
    /// Creates a container below `parent` and returns its id (ids grow,
    /// never reused). `NotFound(Container)` if the parent is not the
    /// account's.
    async fn create_container(&self, container: &NewContainer) -> Result<ContainerId, StoreError>;
    /// Renames a container. `NotFound(Container)`.
    async fn update_container(
        &self,
        account: AccountId,
        id: ContainerId,
        name: &str,
        description: Option<&str>,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Inserts a key and returns its id (ids grow, never reused).
    /// `NotFound(User)` if the owner is not the account's user.
    async fn create_api_key(&self, key: &NewApiKey) -> Result<ApiKeyId, StoreError>;
    /// The key whose secret hashes to `hash`, in any account (that is how
    /// requests arrive), with any status.
    async fn api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError>;
    async fn api_key(&self, account: AccountId, id: ApiKeyId)
    -> Result<Option<ApiKey>, StoreError>;
    /// The account's keys (only `user`'s when given), in id order.
    async fn list_api_keys(
        &self,
        account: AccountId,
        user: Option<UserId>,
    ) -> Result<Vec<ApiKey>, StoreError>;
    /// `NotFound(ApiKey)`.
    async fn update_api_key(
        &self,
        account: AccountId,
        id: ApiKeyId,
        name: &str,
        role: KeyRole,
    ) -> Result<(), StoreError>;
    /// `NotFound(ApiKey)`.
    async fn set_api_key_status(
        &self,
        account: AccountId,
        id: ApiKeyId,
        status: ApiKeyStatus,
    ) -> Result<(), StoreError>;
    /// Records when keys were last used (batched, best effort, never
    /// moving a timestamp backwards).
    async fn record_api_key_usage(
        &self,
        usage: &[(ApiKeyId, OffsetDateTime)],
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait AccessKeyStore: Send + Sync {
    /// Inserts a key. `LimitExceeded(AccessKey)` if its owner already has
    /// `max_per_owner` keys (active or not); `NotFound(User)` if the owning
    /// user no longer exists.
    async fn create_access_key(
        &self,
        key: &NewAccessKey,
        max_per_owner: u32,
    ) -> Result<(), StoreError>;
    /// Looks a key up by id, across accounts (that is how requests arrive).
    async fn access_key(&self, id: &AccessKeyId) -> Result<Option<StoredAccessKey>, StoreError>;
    /// The owner's keys, oldest first.
    async fn list_access_keys(
        &self,
        account: AccountId,
        owner: KeyOwner,
    ) -> Result<Vec<AccessKey>, StoreError>;
    /// `NotFound(AccessKey)` unless the key exists and belongs to `owner`.
    async fn set_access_key_status(
        &self,
        account: AccountId,
        owner: KeyOwner,
        id: &AccessKeyId,
        status: KeyStatus,
    ) -> Result<(), StoreError>;
    /// `NotFound(AccessKey)` unless the key exists and belongs to `owner`.
    async fn delete_access_key(
        &self,
        account: AccountId,
        owner: KeyOwner,
        id: &AccessKeyId,
    ) -> Result<(), StoreError>;
    /// Records when keys were last used (batched by the caller; best effort,
    /// a later timestamp never gets overwritten by an earlier one).
    async fn record_key_usage(
        &self,
        usage: &[(AccessKeyId, OffsetDateTime)],
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait NonceStore: Send + Sync {
    /// Remembers `nonce` for `key` until `expires_at`. Returns `true` if it
    /// was new, `false` if it had been seen (a replay). Durable on return.
    async fn record_nonce(
        &self,
        key: &AccessKeyId,
        nonce: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Forgets nonces that expired before `now`; returns how many.
    async fn purge_nonces(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
}

#[async_trait]
pub trait CertificateStore: Send + Sync {
    /// Inserts an uploaded certificate and the audit event recording it, in
    /// one transaction, and returns the id it was given (ids grow with
    /// every insert and are never reused). `AlreadyExists(Certificate)` if
    /// the account already has a certificate of that name (exact match).
    async fn create_certificate(
        &self,
        cert: &NewCertificate,
        audit: &AuditEvent,
    ) -> Result<CertificateId, StoreError>;
    /// The certificate with its PEM and sealed key, if it is the account's.
    async fn certificate(
        &self,
        account: AccountId,
        id: CertificateId,
    ) -> Result<Option<StoredCertificate>, StoreError>;
    /// The account's certificates in id order, skipping `offset`, at most
    /// `limit`, with the account's total.
    async fn list_certificates(
        &self,
        account: AccountId,
        offset: u64,
        limit: u32,
    ) -> Result<CertificatePage, StoreError>;
    /// Deletes the certificate and records `audit`, in one transaction.
    /// `NotFound(Certificate)` unless it exists and is the account's.
    async fn delete_certificate(
        &self,
        account: AccountId,
        id: CertificateId,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an event; durable on return.
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// The account's events with ids above `after` (0 = from the start),
    /// oldest first, at most `limit`, each with its id.
    async fn audit_events(
        &self,
        account: AccountId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<(u64, AuditEvent)>, StoreError>;
}

#[async_trait]
pub trait GroupStore: Send + Sync {
    /// `AlreadyExists(Group)` if the name is taken (ignoring ASCII case),
    /// `LimitExceeded(Group)` if the account has `max_groups`.
    async fn create_group(&self, group: &Group, max_groups: u32) -> Result<(), StoreError>;
    async fn group(
        &self,
        account: AccountId,
        name: &GroupName,
    ) -> Result<Option<Group>, StoreError>;
    /// `NotFound(Group)`, or `AlreadyExists(Group)` when a rename collides.
    async fn update_group(
        &self,
        account: AccountId,
        name: &GroupName,
        patch: &GroupPatch,
        now: OffsetDateTime,
    ) -> Result<Group, StoreError>;
    /// `NotFound(Group)`; `DeleteConflict { Group, User }` while it has
    /// members, `DeleteConflict { Group, Policy }` while policies are
    /// attached to it.
    async fn delete_group(&self, account: AccountId, name: &GroupName) -> Result<(), StoreError>;
    /// Groups in creation order after `after`, at most `limit`.
    async fn list_groups(
        &self,
        account: AccountId,
        after: Option<GroupCursor>,
        limit: u32,
    ) -> Result<GroupPage, StoreError>;
    /// `NotFound(User)` / `NotFound(Group)`, `AlreadyExists(Membership)`,
    /// `LimitExceeded(Membership)` when the user is in `max_per_user`
    /// groups.
    async fn add_user_to_group(
        &self,
        account: AccountId,
        group: &GroupName,
        user: &UserName,
        max_per_user: u32,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// `NotFound(User)` / `NotFound(Group)` / `NotFound(Membership)`.
    async fn remove_user_from_group(
        &self,
        account: AccountId,
        group: &GroupName,
        user: &UserName,
    ) -> Result<(), StoreError>;
    /// The user's groups in joining order. `NotFound(User)`.
    async fn groups_for_user(
        &self,
        account: AccountId,
        user: &UserName,
    ) -> Result<Vec<GroupMembership>, StoreError>;
    /// The group's members in joining order after `after`, at most
    /// `limit`. `NotFound(Group)`.
    async fn users_for_group(
        &self,
        account: AccountId,
        group: &GroupName,
        after: Option<GroupCursor>,
        limit: u32,
    ) -> Result<MemberPage, StoreError>;
}

#[async_trait]
pub trait PolicyStore: Send + Sync {
    /// Creates a custom policy with version `v1` as its default.
    /// `AlreadyExists(Policy)`, `LimitExceeded(Policy)` at `max_policies`.
    async fn create_policy(
        &self,
        policy: &NewPolicy,
        max_policies: u32,
    ) -> Result<ManagedPolicy, StoreError>;
    /// A custom policy of the account.
    async fn custom_policy(
        &self,
        account: AccountId,
        name: &PolicyName,
    ) -> Result<Option<ManagedPolicy>, StoreError>;
    /// Every custom policy of the account, by name (an account holds at
    /// most 1,500).
    async fn custom_policies(&self, account: AccountId) -> Result<Vec<ManagedPolicy>, StoreError>;
    /// How many users and groups each system policy is attached to in the
    /// account (policies attached nowhere are left out).
    async fn system_attachment_counts(
        &self,
        account: AccountId,
    ) -> Result<Vec<(PolicyName, u64)>, StoreError>;
    /// `NotFound(Policy)`.
    async fn update_policy_description(
        &self,
        account: AccountId,
        name: &PolicyName,
        description: Option<&Description>,
        now: OffsetDateTime,
    ) -> Result<ManagedPolicy, StoreError>;
    /// `NotFound(Policy)`. Without `cascade`: `DeleteConflict { Policy,
    /// User }` / `{ Policy, Group }` while attached, `DeleteConflict {
    /// Policy, PolicyVersion }` while it has versions besides the default.
    /// With `cascade` it is detached and its versions go with it.
    async fn delete_policy(
        &self,
        account: AccountId,
        name: &PolicyName,
        cascade: bool,
    ) -> Result<(), StoreError>;
    /// The versions, oldest first. `NotFound(Policy)`.
    async fn policy_versions(
        &self,
        account: AccountId,
        name: &PolicyName,
    ) -> Result<Vec<PolicyVersion>, StoreError>;
    /// Adds a version (`v<N+1>`). `NotFound(Policy)`,
    /// `LimitExceeded(PolicyVersion)` at `max_versions` unless `rotate`
    /// allows deleting the oldest non-default one.
    #[allow(clippy::too_many_arguments)]
    async fn create_policy_version(
        &self,
        account: AccountId,
        name: &PolicyName,
        document: &str,
        set_default: bool,
        rotate: RotateStrategy,
        max_versions: u32,
        now: OffsetDateTime,
    ) -> Result<PolicyVersion, StoreError>;
    /// `NotFound(Policy)` / `NotFound(PolicyVersion)`.
    async fn set_default_policy_version(
        &self,
        account: AccountId,
        name: &PolicyName,
        version: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// `NotFound(Policy)` / `NotFound(PolicyVersion)`;
    /// `DeleteConflict { PolicyVersion, Policy }` for the default version.
    async fn delete_policy_version(
        &self,
        account: AccountId,
        name: &PolicyName,
        version: &str,
    ) -> Result<(), StoreError>;
    /// Attaches a policy. For custom policies `NotFound(Policy)` unless it
    /// exists (system names are checked by the caller); `NotFound(User)` /
    /// `NotFound(Group)` for the target; `AlreadyExists(Attachment)`;
    /// `LimitExceeded(Attachment)` when the target already has `max` of
    /// that policy type.
    async fn attach_policy(
        &self,
        account: AccountId,
        kind: PolicyType,
        name: &PolicyName,
        target: &AttachTarget,
        max: u32,
        now: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// `NotFound(User)` / `NotFound(Group)` / `NotFound(Attachment)`.
    async fn detach_policy(
        &self,
        account: AccountId,
        kind: PolicyType,
        name: &PolicyName,
        target: &AttachTarget,
    ) -> Result<(), StoreError>;
    /// The policies attached to the target, in attachment order.
    /// `NotFound(User)` / `NotFound(Group)`.
    async fn policies_for(
        &self,
        account: AccountId,
        target: &AttachTarget,
    ) -> Result<Vec<Attachment>, StoreError>;
    /// The users and groups a policy is attached to.
    async fn entities_for_policy(
        &self,
        account: AccountId,
        kind: PolicyType,
        name: &PolicyName,
    ) -> Result<PolicyEntities, StoreError>;
    /// Every policy that applies to the user: attached to it or to one of
    /// its groups (each once).
    async fn effective_policies(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<Vec<EffectivePolicy>, StoreError>;
    /// A counter that grows with every change to anything a node caches
    /// for the account: what can change a decision (groups, memberships,
    /// policies, versions, attachments, a user's deletion or access role),
    /// an access key's status or deletion, an API key's status, restriction
    /// or deletion, a user's name, container or container assignments, and
    /// the creation or update of a container. It moves in the same
    /// transaction as the change, by one or more; only "it grew" means
    /// anything. Recording key usage (`last_used_at`) leaves it alone.
    /// Nodes compare it to invalidate cached policies, credentials, API-key
    /// callers and container lists.
    async fn policy_epoch(&self, account: AccountId) -> Result<u64, StoreError>;
}

/// Everything the service needs from storage.
#[async_trait]
pub trait Store:
    AccountStore
    + UserStore
    + AccessKeyStore
    + NonceStore
    + CertificateStore
    + AuditStore
    + ContainerStore
    + ApiKeyStore
    + GroupStore
    + PolicyStore
{
    /// Cheap round trip proving the database answers (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}
