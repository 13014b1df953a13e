//! RAM groups and policies (2015-05-01 semantics), and the policies the
//! evaluator judges a user by.
//!
//! A user's identity policies are: the system policy of its CertCentral
//! access role (carried by its credential), the policies attached to it,
//! and those attached to its groups. They are cached per user, parsed.
//! An entry is used while (a) this node has made no change since it was
//! loaded (every change here drops the whole cache at once) and (b) the
//! account's `policy_epoch` in the store, re-read at most every
//! [`EPOCH_RECHECK`], is the one it was loaded under. So a change on this
//! node takes effect for the next request, and a change on another node
//! within `EPOCH_RECHECK` (1 s).
//!
//! The epoch means "anything a node caches for this account changed"
//! (store triggers move it, see the `policy_epoch` trait docs): the other
//! caches, credentials, API-key callers and container lists, are tagged
//! with it the same way through [`Service::account_epoch`], so that one
//! read a second per account keeps every cache of the account current.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use time::{Duration, OffsetDateTime};
use trustdesk_domain::policy::PolicyDocument;
use trustdesk_domain::ram_policy::{SYSTEM_POLICIES, SystemPolicy, role_of_policy, system_policy};
use trustdesk_domain::{
    AccountId, AttachTarget, Attachment, Authorized, Description, Entity, Error, Group,
    GroupCursor, GroupId, GroupMembership, GroupName, GroupPage, GroupPatch, ManagedPolicy,
    MemberPage, NewPolicy, OrNotFound, PolicyEntities, PolicyLimits, PolicyName, PolicyType,
    PolicyVersion, Principal, PrincipalKind, RotateStrategy, UserId, UserName,
};
use trustdesk_secrets::random_16_digits_json_safe;

use crate::Service;
use crate::cache::TtlMap;
use crate::ram::internal;

/// How stale another node's policy change may be seen here.
pub const EPOCH_RECHECK: Duration = Duration::seconds(1);

/// The date system policies carry (they predate every account).
const SYSTEM_DATE: OffsetDateTime = time::macros::datetime!(2015-04-28 16:12:00 UTC);

struct Loaded {
    epoch: u64,
    docs: Arc<[PolicyDocument]>,
}

#[derive(Default)]
pub(crate) struct PolicyCache {
    users: RwLock<HashMap<(AccountId, UserId), Arc<Loaded>>>,
    /// Per account: the store's epoch and when it was read.
    epochs: TtlMap<AccountId, u64>,
    /// System policies, parsed once.
    system: RwLock<HashMap<&'static str, Arc<PolicyDocument>>>,
}

impl PolicyCache {
    pub(crate) fn clear(&self) {
        self.users
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.epochs.clear();
    }

    /// After a change made here that moved the account's epoch: the next
    /// look re-reads it, so every cache of the account sees the change at
    /// once rather than within `EPOCH_RECHECK`.
    pub(crate) fn forget_epoch(&self, account: AccountId) {
        self.epochs.remove(&account);
    }
}

/// A system policy's document as a parsed policy. The CertCentral role
/// policies are built from the roles.
fn system_document(p: &SystemPolicy) -> Result<PolicyDocument, Error> {
    match role_of_policy(p.name) {
        Some(role) => Ok(role.policy()),
        None => PolicyDocument::parse(p.document)
            .map_err(|e| internal(format!("system policy {}: {e}", p.name))),
    }
}

/// The text of a system policy's document as `GetPolicy` shows it.
pub fn system_document_text(p: &SystemPolicy) -> String {
    match role_of_policy(p.name) {
        Some(role) => role.policy().to_json(),
        None => p.document.to_owned(),
    }
}

/// `MalformedPolicyDocument` unless the text is a valid policy.
fn check_document(text: &str) -> Result<(), Error> {
    PolicyDocument::parse(text)
        .map(|_| ())
        .map_err(|e| Error::MalformedPolicy(e.to_string()))
}

fn system_managed(p: &SystemPolicy, attachments: u64) -> ManagedPolicy {
    ManagedPolicy {
        name: PolicyName::from_trusted(p.name.to_owned()),
        kind: PolicyType::System,
        description: Some(Description::from_trusted(p.description.to_owned())),
        default_version: "v1".to_owned(),
        attachment_count: attachments,
        created_at: SYSTEM_DATE,
        updated_at: SYSTEM_DATE,
    }
}

impl Service {
    pub fn policy_limits(&self) -> PolicyLimits {
        self.inner.limits.policies
    }

    /// Drops cached policies after a change made here.
    fn policies_changed(&self) {
        self.inner.iam.clear();
    }

    /// The account's `policy_epoch`, read from the store at most once per
    /// [`EPOCH_RECHECK`] (so a map lookup on most calls). A cache entry
    /// loaded after this returned `e` may be used while it still returns
    /// `e`: read it *before* loading what is cached.
    pub(crate) async fn account_epoch(&self, account: AccountId) -> Result<u64, Error> {
        let now = self.inner.clock.now();
        if let Some(epoch) = self.inner.iam.epochs.get(&account, now, EPOCH_RECHECK) {
            return Ok(epoch);
        }
        let epoch = self.inner.store.policy_epoch(account).await?;
        self.inner.iam.epochs.insert(account, epoch, now);
        Ok(epoch)
    }

    fn system_parsed(&self, name: &str) -> Result<Option<Arc<PolicyDocument>>, Error> {
        if let Some(d) = self
            .inner
            .iam
            .system
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(Some(d.clone()));
        }
        let Some(p) = system_policy(name) else {
            return Ok(None);
        };
        let doc = Arc::new(system_document(p)?);
        self.inner
            .iam
            .system
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(p.name, doc.clone());
        Ok(Some(doc))
    }

    /// The policies attached to `principal`'s user and its groups, parsed
    /// (empty for the root identity, which needs none).
    pub(crate) async fn attached_policies(
        &self,
        principal: &Principal,
    ) -> Result<Arc<[PolicyDocument]>, Error> {
        let PrincipalKind::User { id, .. } = &principal.kind else {
            return Ok(Arc::from([]));
        };
        let key = (principal.account, *id);
        let epoch = self.account_epoch(principal.account).await?;
        if let Some(hit) = self
            .inner
            .iam
            .users
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && hit.epoch == epoch
        {
            return Ok(hit.docs.clone());
        }
        let effective = self
            .inner
            .store
            .effective_policies(principal.account, *id)
            .await?;
        let mut docs = Vec::with_capacity(effective.len());
        for p in effective {
            match (p.kind, p.document) {
                (PolicyType::Custom, Some(text)) => match PolicyDocument::parse(&text) {
                    Ok(d) => docs.push(d),
                    // Stored documents were checked on the way in; one
                    // that no longer parses grants nothing.
                    Err(e) => {
                        tracing::error!(policy = %p.name, error = %e, "a stored policy no longer parses; ignored")
                    }
                },
                (PolicyType::System, _) => {
                    if let Some(d) = self.system_parsed(p.name.as_str())? {
                        docs.push((*d).clone());
                    }
                }
                (PolicyType::Custom, None) => {}
            }
        }
        let docs: Arc<[PolicyDocument]> = docs.into();
        self.inner
            .iam
            .users
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                key,
                Arc::new(Loaded {
                    epoch,
                    docs: docs.clone(),
                }),
            );
        Ok(docs)
    }

    // ---- groups ----

    pub async fn create_group(
        &self,
        auth: Authorized,
        name: GroupName,
        comments: Option<trustdesk_domain::Comments>,
    ) -> Result<Group, Error> {
        auth.require("ram:CreateGroup")?;
        let now = self.inner.clock.now();
        let group = Group {
            id: GroupId(random_16_digits_json_safe().map_err(internal)?),
            account: auth.principal().account,
            name,
            comments,
            created_at: now,
            updated_at: now,
        };
        self.inner
            .store
            .create_group(&group, self.inner.limits.policies.groups_per_account)
            .await
            .map_err(|e| Error::from_store(e, &group.name))?;
        Ok(group)
    }

    pub async fn get_group(&self, auth: Authorized, name: &GroupName) -> Result<Group, Error> {
        auth.require("ram:GetGroup")?;
        self.inner
            .store
            .group(auth.principal().account, name)
            .await?
            .or_not_found(Entity::Group, name)
    }

    pub async fn update_group(
        &self,
        auth: Authorized,
        name: &GroupName,
        patch: GroupPatch,
    ) -> Result<Group, Error> {
        auth.require("ram:UpdateGroup")?;
        let now = self.inner.clock.now();
        let renamed = patch.name.clone();
        self.inner
            .store
            .update_group(auth.principal().account, name, &patch, now)
            .await
            .map_err(|e| match (&e, renamed) {
                (trustdesk_domain::StoreError::AlreadyExists(_), Some(n)) => {
                    Error::from_store(e, n)
                }
                _ => Error::from_store(e, name),
            })
    }

    pub async fn delete_group(&self, auth: Authorized, name: &GroupName) -> Result<(), Error> {
        auth.require("ram:DeleteGroup")?;
        let result = self
            .inner
            .store
            .delete_group(auth.principal().account, name)
            .await;
        self.policies_changed();
        result.map_err(|e| Error::from_store(e, name))
    }

    pub async fn list_groups(
        &self,
        auth: Authorized,
        after: Option<GroupCursor>,
        limit: u32,
    ) -> Result<GroupPage, Error> {
        auth.require("ram:ListGroups")?;
        Ok(self
            .inner
            .store
            .list_groups(auth.principal().account, after, limit)
            .await?)
    }

    pub async fn add_user_to_group(
        &self,
        auth: Authorized,
        group: &GroupName,
        user: &UserName,
    ) -> Result<(), Error> {
        auth.require("ram:AddUserToGroup")?;
        let now = self.inner.clock.now();
        let result = self
            .inner
            .store
            .add_user_to_group(
                auth.principal().account,
                group,
                user,
                self.inner.limits.policies.groups_per_user,
                now,
            )
            .await;
        self.policies_changed();
        result.map_err(|e| match &e {
            trustdesk_domain::StoreError::NotFound(Entity::Group) => Error::from_store(e, group),
            _ => Error::from_store(e, user),
        })
    }

    pub async fn remove_user_from_group(
        &self,
        auth: Authorized,
        group: &GroupName,
        user: &UserName,
    ) -> Result<(), Error> {
        auth.require("ram:RemoveUserFromGroup")?;
        let result = self
            .inner
            .store
            .remove_user_from_group(auth.principal().account, group, user)
            .await;
        self.policies_changed();
        result.map_err(|e| match &e {
            trustdesk_domain::StoreError::NotFound(Entity::Group) => Error::from_store(e, group),
            _ => Error::from_store(e, user),
        })
    }

    pub async fn list_groups_for_user(
        &self,
        auth: Authorized,
        user: &UserName,
    ) -> Result<Vec<GroupMembership>, Error> {
        auth.require("ram:ListGroupsForUser")?;
        self.inner
            .store
            .groups_for_user(auth.principal().account, user)
            .await
            .map_err(|e| Error::from_store(e, user))
    }

    pub async fn list_users_for_group(
        &self,
        auth: Authorized,
        group: &GroupName,
        after: Option<GroupCursor>,
        limit: u32,
    ) -> Result<MemberPage, Error> {
        auth.require("ram:ListUsersForGroup")?;
        self.inner
            .store
            .users_for_group(auth.principal().account, group, after, limit)
            .await
            .map_err(|e| Error::from_store(e, group))
    }

    // ---- policies ----

    /// A policy of either type with its default version.
    async fn policy_with_default(
        &self,
        account: AccountId,
        kind: PolicyType,
        name: &PolicyName,
    ) -> Result<(ManagedPolicy, PolicyVersion), Error> {
        match kind {
            PolicyType::System => {
                let p = system_policy(name.as_str()).or_not_found(Entity::Policy, name)?;
                let count = self.system_count(account, name).await?;
                Ok((
                    system_managed(p, count),
                    PolicyVersion {
                        id: "v1".to_owned(),
                        is_default: true,
                        document: system_document_text(p),
                        created_at: SYSTEM_DATE,
                    },
                ))
            }
            PolicyType::Custom => {
                let store = &self.inner.store;
                let policy = store
                    .custom_policy(account, name)
                    .await?
                    .or_not_found(Entity::Policy, name)?;
                let version = store
                    .policy_versions(account, name)
                    .await
                    .map_err(|e| Error::from_store(e, name))?
                    .into_iter()
                    .find(|v| v.is_default)
                    .ok_or_else(|| internal(format!("policy {name} has no default version")))?;
                Ok((policy, version))
            }
        }
    }

    async fn system_count(&self, account: AccountId, name: &PolicyName) -> Result<u64, Error> {
        Ok(self
            .inner
            .store
            .system_attachment_counts(account)
            .await?
            .into_iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, c)| c))
    }

    pub async fn create_policy(
        &self,
        auth: Authorized,
        name: PolicyName,
        document: String,
        description: Option<Description>,
    ) -> Result<ManagedPolicy, Error> {
        auth.require("ram:CreatePolicy")?;
        check_document(&document)?;
        let policy = NewPolicy {
            account: auth.principal().account,
            name,
            description,
            document,
            created_at: self.inner.clock.now(),
        };
        self.inner
            .store
            .create_policy(
                &policy,
                self.inner.limits.policies.custom_policies_per_account,
            )
            .await
            .map_err(|e| Error::from_store(e, &policy.name))
    }

    pub async fn get_policy(
        &self,
        auth: Authorized,
        kind: PolicyType,
        name: &PolicyName,
    ) -> Result<(ManagedPolicy, PolicyVersion), Error> {
        auth.require("ram:GetPolicy")?;
        self.policy_with_default(auth.principal().account, kind, name)
            .await
    }

    pub async fn update_policy_description(
        &self,
        auth: Authorized,
        name: &PolicyName,
        description: Option<Description>,
    ) -> Result<ManagedPolicy, Error> {
        auth.require("ram:UpdatePolicyDescription")?;
        let now = self.inner.clock.now();
        self.inner
            .store
            .update_policy_description(auth.principal().account, name, description.as_ref(), now)
            .await
            .map_err(|e| Error::from_store(e, name))
    }

    pub async fn delete_policy(
        &self,
        auth: Authorized,
        name: &PolicyName,
        cascade: bool,
    ) -> Result<(), Error> {
        auth.require("ram:DeletePolicy")?;
        let result = self
            .inner
            .store
            .delete_policy(auth.principal().account, name, cascade)
            .await;
        self.policies_changed();
        result.map_err(|e| Error::from_store(e, name))
    }

    /// Every policy of `kind` (both when `None`): system ones first, by
    /// name, then custom ones by name.
    pub async fn list_policies(
        &self,
        auth: Authorized,
        kind: Option<PolicyType>,
    ) -> Result<Vec<ManagedPolicy>, Error> {
        auth.require("ram:ListPolicies")?;
        let account = auth.principal().account;
        let mut out = Vec::new();
        if kind != Some(PolicyType::Custom) {
            let counts = self.inner.store.system_attachment_counts(account).await?;
            for p in SYSTEM_POLICIES {
                let n = counts
                    .iter()
                    .find(|(name, _)| name.as_str() == p.name)
                    .map_or(0, |(_, c)| *c);
                out.push(system_managed(p, n));
            }
        }
        if kind != Some(PolicyType::System) {
            out.extend(self.inner.store.custom_policies(account).await?);
        }
        Ok(out)
    }

    pub async fn create_policy_version(
        &self,
        auth: Authorized,
        name: &PolicyName,
        document: &str,
        set_default: bool,
        rotate: RotateStrategy,
    ) -> Result<PolicyVersion, Error> {
        auth.require("ram:CreatePolicyVersion")?;
        check_document(document)?;
        let now = self.inner.clock.now();
        let result = self
            .inner
            .store
            .create_policy_version(
                auth.principal().account,
                name,
                document,
                set_default,
                rotate,
                self.inner.limits.policies.versions_per_policy,
                now,
            )
            .await;
        self.policies_changed();
        result.map_err(|e| Error::from_store(e, name))
    }

    pub async fn get_policy_version(
        &self,
        auth: Authorized,
        kind: PolicyType,
        name: &PolicyName,
        version: &str,
    ) -> Result<PolicyVersion, Error> {
        auth.require("ram:GetPolicyVersion")?;
        self.versions(auth.principal().account, kind, name)
            .await?
            .into_iter()
            .find(|v| v.id == version)
            .or_not_found(Entity::PolicyVersion, version)
    }

    async fn versions(
        &self,
        account: AccountId,
        kind: PolicyType,
        name: &PolicyName,
    ) -> Result<Vec<PolicyVersion>, Error> {
        match kind {
            PolicyType::System => Ok(vec![self.policy_with_default(account, kind, name).await?.1]),
            PolicyType::Custom => self
                .inner
                .store
                .policy_versions(account, name)
                .await
                .map_err(|e| Error::from_store(e, name)),
        }
    }

    pub async fn list_policy_versions(
        &self,
        auth: Authorized,
        kind: PolicyType,
        name: &PolicyName,
    ) -> Result<Vec<PolicyVersion>, Error> {
        auth.require("ram:ListPolicyVersions")?;
        self.versions(auth.principal().account, kind, name).await
    }

    pub async fn set_default_policy_version(
        &self,
        auth: Authorized,
        name: &PolicyName,
        version: &str,
    ) -> Result<(), Error> {
        auth.require("ram:SetDefaultPolicyVersion")?;
        let now = self.inner.clock.now();
        let result = self
            .inner
            .store
            .set_default_policy_version(auth.principal().account, name, version, now)
            .await;
        self.policies_changed();
        result.map_err(|e| Error::from_store(e, name))
    }

    pub async fn delete_policy_version(
        &self,
        auth: Authorized,
        name: &PolicyName,
        version: &str,
    ) -> Result<(), Error> {
        auth.require("ram:DeletePolicyVersion")?;
        let result = self
            .inner
            .store
            .delete_policy_version(auth.principal().account, name, version)
            .await;
        self.policies_changed();
        result.map_err(|e| Error::from_store(e, name))
    }

    /// `AttachPolicyToUser` / `AttachPolicyToGroup`.
    pub async fn attach_policy(
        &self,
        auth: Authorized,
        kind: PolicyType,
        name: &PolicyName,
        target: &AttachTarget,
    ) -> Result<(), Error> {
        let (permission, limits) = match target {
            AttachTarget::User(_) => (
                "ram:AttachPolicyToUser",
                (
                    self.inner.limits.policies.system_policies_per_user,
                    self.inner.limits.policies.custom_policies_per_user,
                ),
            ),
            AttachTarget::Group(_) => (
                "ram:AttachPolicyToGroup",
                (
                    self.inner.limits.policies.system_policies_per_group,
                    self.inner.limits.policies.custom_policies_per_group,
                ),
            ),
        };
        auth.require(permission)?;
        if kind == PolicyType::System && system_policy(name.as_str()).is_none() {
            return Err(Error::not_found(Entity::Policy, name));
        }
        let max = match kind {
            PolicyType::System => limits.0,
            PolicyType::Custom => limits.1,
        };
        let now = self.inner.clock.now();
        let result = self
            .inner
            .store
            .attach_policy(auth.principal().account, kind, name, target, max, now)
            .await;
        self.policies_changed();
        result.map_err(|e| target_error(e, name, target))
    }

    /// `DetachPolicyFromUser` / `DetachPolicyFromGroup`.
    pub async fn detach_policy(
        &self,
        auth: Authorized,
        kind: PolicyType,
        name: &PolicyName,
        target: &AttachTarget,
    ) -> Result<(), Error> {
        auth.require(match target {
            AttachTarget::User(_) => "ram:DetachPolicyFromUser",
            AttachTarget::Group(_) => "ram:DetachPolicyFromGroup",
        })?;
        let result = self
            .inner
            .store
            .detach_policy(auth.principal().account, kind, name, target)
            .await;
        self.policies_changed();
        result.map_err(|e| target_error(e, name, target))
    }

    /// `ListPoliciesForUser` / `ListPoliciesForGroup`, each with the
    /// policy's description and default version.
    pub async fn list_policies_for(
        &self,
        auth: Authorized,
        target: &AttachTarget,
    ) -> Result<Vec<(Attachment, ManagedPolicy)>, Error> {
        auth.require(match target {
            AttachTarget::User(_) => "ram:ListPoliciesForUser",
            AttachTarget::Group(_) => "ram:ListPoliciesForGroup",
        })?;
        let account = auth.principal().account;
        let attached = self
            .inner
            .store
            .policies_for(account, target)
            .await
            .map_err(|e| target_error(e, &PolicyName::from_trusted(String::new()), target))?;
        let custom = if attached.iter().any(|a| a.kind == PolicyType::Custom) {
            self.inner.store.custom_policies(account).await?
        } else {
            Vec::new()
        };
        let mut out = Vec::with_capacity(attached.len());
        for a in attached {
            let policy = match a.kind {
                PolicyType::System => system_policy(a.name.as_str()).map(|p| system_managed(p, 0)),
                PolicyType::Custom => custom.iter().find(|p| p.name == a.name).cloned(),
            };
            if let Some(p) = policy {
                out.push((a, p));
            }
        }
        Ok(out)
    }

    pub async fn list_entities_for_policy(
        &self,
        auth: Authorized,
        kind: PolicyType,
        name: &PolicyName,
    ) -> Result<PolicyEntities, Error> {
        auth.require("ram:ListEntitiesForPolicy")?;
        let account = auth.principal().account;
        // The policy must exist (of that type).
        self.policy_with_default(account, kind, name).await?;
        Ok(self
            .inner
            .store
            .entities_for_policy(account, kind, name)
            .await?)
    }
}

/// Names the record a target-related store refusal is about.
fn target_error(
    e: trustdesk_domain::StoreError,
    policy: &PolicyName,
    target: &AttachTarget,
) -> Error {
    use trustdesk_domain::StoreError as S;
    match (&e, target) {
        (S::NotFound(Entity::User), AttachTarget::User(u)) => Error::from_store(e, u),
        (S::NotFound(Entity::Group), AttachTarget::Group(g)) => Error::from_store(e, g),
        _ => Error::from_store(e, policy),
    }
}
