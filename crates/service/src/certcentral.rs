//! CertCentral use cases: users (standard and API-only), containers and
//! API keys, on the same user records RAM manages.
//!
//! Authentication: a request's `X-DC-DEVKEY` is hashed (SHA-256) and looked
//! up by hash; the result, with the owner's record and role, is cached and
//! dropped at once when this node changes the key or its owner. The
//! principal carries the owner's access role as its identity policy and the
//! key's restriction as its scope, so [`Service::authorize`] decides
//! CertCentral calls exactly as it decides RAM calls.
//!
//! Cached callers and container lists remember the account's
//! `policy_epoch` they were loaded under and are used only while it is
//! still the epoch (re-read at most every [`EPOCH_RECHECK`](crate::EPOCH_RECHECK)):
//! a key revoked or restricted, a user's role, name or assignments changed
//! or a container created on another node take effect here within a
//! second. `key_cache_ttl` (5 s) stays as a backstop.
//!
//! Visibility: a caller sees its own container and everything below it,
//! narrowed to its container assignments when it has any. Users and
//! containers outside that are "not found", as the vendor answers for
//! objects another division owns.
//!
//! Wire validation (field presence, lengths, charsets) is the face's job;
//! this layer checks what needs the store: references to containers and
//! roles, uniqueness, and who may do what to whom.

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;
use trustdesk_domain::certcentral::{ROOT_TEMPLATE, subtree};
use trustdesk_domain::{
    AccessKeyId, AccessRole, AccountId, ApiKey, ApiKeyId, ApiKeyStatus, Authorized, Container,
    ContainerId, Email, Entity, Error, KeyRole, NewApiKey, NewContainer, OrNotFound, Principal,
    PrincipalKind, Problem, Profile, ProfilePatch, User, UserId, UserKind, UserListing, UserName,
    UserPatch, UserQuery,
};
use trustdesk_secrets::{
    AccessKeySecret, api_key_hash, generate_api_key, random_16_digits_json_safe, random_hex,
};

use crate::Service;
use crate::cache::{TtlMap, UsageLog};
use crate::ram::internal;

/// An authenticated CertCentral caller: the key, its owner as loaded with
/// it, and the principal the evaluator judges.
#[derive(Debug)]
pub struct ApiCaller {
    pub principal: Principal,
    pub key: ApiKey,
    pub user: User,
}

#[derive(Default)]
pub(crate) struct CcCache {
    /// By key hash: the caller, with the account epoch it was loaded under.
    callers: TtlMap<[u8; 32], (u64, Arc<ApiCaller>)>,
    /// By account: its containers, with the epoch they were loaded under.
    containers: TtlMap<AccountId, (u64, Arc<Vec<Container>>)>,
    /// API key uses not yet written (flushed with the access keys').
    pub(crate) usage: UsageLog<ApiKeyId>,
}

impl crate::Inner {
    pub(crate) fn cc_forget_callers(&self) {
        self.cc.forget_callers();
    }
}

impl CcCache {
    fn forget_callers(&self) {
        self.callers.clear();
    }

    fn forget_containers(&self, account: AccountId) {
        self.containers.remove(&account);
    }
}

/// A user to add through CertCentral (validated by the face).
#[derive(Debug, Clone)]
pub struct NewCcUser {
    pub username: UserName,
    pub first_name: String,
    pub last_name: String,
    pub email: Email,
    pub job_title: Option<String>,
    pub telephone: Option<String>,
    /// `None`: the caller's own container.
    pub container: Option<ContainerId>,
    pub role: AccessRole,
    pub container_assignments: Vec<ContainerId>,
    pub saml_sso_only: bool,
}

/// A service (API-only) user to add: its e-mail and its first key.
#[derive(Debug, Clone)]
pub struct NewServiceUser {
    pub email: Email,
    pub key_name: String,
    pub key_role: KeyRole,
    /// `None`: the creating administrator's own assignments.
    pub container_assignments: Option<Vec<ContainerId>>,
}

/// `Invalid(field)` unless every id is among the visible containers.
fn check_visible(
    visible: &[ContainerId],
    ids: &[ContainerId],
    field: &'static str,
) -> Result<(), Error> {
    if ids.iter().all(|id| visible.contains(id)) {
        Ok(())
    } else {
        Err(Error::Invalid {
            field,
            problem: Problem::Unknown,
        })
    }
}

/// The resource name of a CertCentral object, for policies.
pub fn resource(account: AccountId, what: &str) -> String {
    format!("acs:certcentral:*:{account}:{what}")
}

impl Service {
    /// The caller whose API key is `key`, if the key exists, is active and
    /// its owner still exists. Cached briefly (see the module docs).
    pub async fn api_caller(&self, key: &str) -> Result<Option<Arc<ApiCaller>>, Error> {
        let inner = &self.inner;
        let hash = api_key_hash(key);
        let now = inner.clock.now();
        // An entry, even an expired one, names the key's account: its epoch
        // is then read before the key is.
        let mut known = None;
        if let Some(((epoch, caller), fresh)) =
            inner
                .cc
                .callers
                .lookup(&hash, now, inner.limits.key_cache_ttl)
        {
            let account = caller.principal.account;
            let current = self.account_epoch(account).await?;
            if fresh && current == epoch {
                return Ok(Some(caller));
            }
            known = Some((account, current));
        }
        let gone = || {
            inner.cc.callers.remove(&hash);
            Ok(None)
        };
        let Some(mut key) = inner.store.api_key_by_hash(&hash).await? else {
            return gone();
        };
        let epoch = match known {
            Some((account, epoch)) if account == key.account => epoch,
            _ => {
                // First sight of the key: read it again after the epoch
                // (see `credential`).
                let epoch = self.account_epoch(key.account).await?;
                let Some(again) = inner.store.api_key_by_hash(&hash).await? else {
                    return gone();
                };
                key = again;
                epoch
            }
        };
        if key.status != ApiKeyStatus::Active {
            return gone();
        }
        let Some(user) = inner.store.user_by_id(key.account, key.user).await? else {
            return gone();
        };
        let principal = Principal {
            account: key.account,
            kind: PrincipalKind::User {
                id: user.id,
                name: user.name.clone(),
            },
            access_key: AccessKeyId(format!("ApiKey/{}", key.id)),
            policies: Arc::from([user.profile.role.policy()]),
            scope: key.role.policy().map(Arc::new),
        };
        let caller = Arc::new(ApiCaller {
            principal,
            key,
            user,
        });
        inner.cc.callers.insert(hash, (epoch, caller.clone()), now);
        Ok(Some(caller))
    }

    /// Notes that an API key was used now (flushed with the access keys).
    pub fn touch_api_key(&self, id: ApiKeyId) {
        self.inner.cc.usage.touch(id, self.inner.clock.now());
    }

    pub(crate) async fn flush_api_key_usage(&self) {
        let pending = self.inner.cc.usage.take();
        if pending.is_empty() {
            return;
        }
        if let Err(e) = self.inner.store.record_api_key_usage(&pending).await {
            tracing::warn!(error = %e, keys = pending.len(), "recording API key usage failed");
            self.inner.cc.usage.restore(pending);
        }
    }

    fn key_last_used(&self, key: &ApiKey) -> Option<OffsetDateTime> {
        self.inner.cc.usage.latest(&key.id, key.last_used_at)
    }

    /// The account's containers (cached while the account's epoch stays).
    pub async fn containers(&self, account: AccountId) -> Result<Arc<Vec<Container>>, Error> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let epoch = self.account_epoch(account).await?;
        if let Some((loaded_under, all)) =
            inner
                .cc
                .containers
                .get(&account, now, inner.limits.key_cache_ttl)
            && loaded_under == epoch
        {
            return Ok(all);
        }
        let all = Arc::new(inner.store.containers(account).await?);
        inner
            .cc
            .containers
            .insert(account, (epoch, all.clone()), now);
        Ok(all)
    }

    /// The account's root container.
    pub async fn root_container(&self, account: AccountId) -> Result<Container, Error> {
        self.containers(account)
            .await?
            .iter()
            .find(|c| c.parent.is_none())
            .cloned()
            .ok_or_else(|| internal(format!("account {account} has no root container")))
    }

    /// The containers `user` sees: its own and those below, narrowed to
    /// its assignments (and what lies below them) when it has any.
    pub async fn visible_containers(&self, user: &User) -> Result<Vec<Container>, Error> {
        let all = self.containers(user.account).await?;
        let mut ids = subtree(&all, user.profile.container);
        if !user.profile.container_assignments.is_empty() {
            let mut allowed = Vec::new();
            for a in &user.profile.container_assignments {
                allowed.extend(subtree(&all, *a));
            }
            ids.retain(|id| allowed.contains(id));
        }
        Ok(all
            .iter()
            .filter(|c| ids.contains(&c.id))
            .cloned()
            .collect())
    }

    async fn visible_ids(&self, caller: &ApiCaller) -> Result<Vec<ContainerId>, Error> {
        Ok(self
            .visible_containers(&caller.user)
            .await?
            .iter()
            .map(|c| c.id)
            .collect())
    }

    /// The ids of the containers the caller sees, making sure the answer
    /// about `wanted` is fresh: if one of them is missing from the cached
    /// list, the list is read again from the store. So a container made on
    /// another node a moment ago is found at once (only positive answers
    /// come from the cache), at the cost of a read for each miss.
    async fn visible_ids_covering(
        &self,
        caller: &ApiCaller,
        wanted: &[ContainerId],
    ) -> Result<Vec<ContainerId>, Error> {
        let visible = self.visible_ids(caller).await?;
        if wanted.iter().all(|id| visible.contains(id)) {
            return Ok(visible);
        }
        self.inner.cc.forget_containers(caller.principal.account);
        self.visible_ids(caller).await
    }

    /// Checks that every id names a container the caller sees.
    async fn check_containers(
        &self,
        caller: &ApiCaller,
        ids: &[ContainerId],
        field: &'static str,
    ) -> Result<(), Error> {
        let visible = self.visible_ids_covering(caller, ids).await?;
        check_visible(&visible, ids, field)
    }

    /// A user the caller may see, or `NotFound(User)`.
    async fn visible_user(&self, caller: &ApiCaller, id: UserId) -> Result<User, Error> {
        let user = self
            .inner
            .store
            .user_by_id(caller.principal.account, id)
            .await?
            .or_not_found(Entity::User, id)?;
        if user.id == caller.user.id
            || self
                .visible_ids_covering(caller, &[user.profile.container])
                .await?
                .contains(&user.profile.container)
        {
            Ok(user)
        } else {
            Err(Error::not_found(Entity::User, id))
        }
    }

    /// Whether the user named in a path exists and the caller sees it
    /// (checked before the body is read, as the vendor orders its checks).
    pub async fn cc_check_user(
        &self,
        _auth: &Authorized,
        caller: &ApiCaller,
        id: UserId,
    ) -> Result<User, Error> {
        self.visible_user(caller, id).await
    }

    /// The same for a container.
    pub async fn cc_check_container(
        &self,
        _auth: &Authorized,
        caller: &ApiCaller,
        id: ContainerId,
    ) -> Result<Container, Error> {
        if !self
            .visible_ids_covering(caller, &[id])
            .await?
            .contains(&id)
        {
            return Err(Error::not_found(Entity::Container, id));
        }
        self.visible_containers(&caller.user)
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| Error::not_found(Entity::Container, id))
    }

    /// The same for an API key.
    pub async fn cc_check_key(
        &self,
        _auth: &Authorized,
        caller: &ApiCaller,
        id: ApiKeyId,
    ) -> Result<(ApiKey, User), Error> {
        self.visible_key(caller, id).await
    }

    /// `POST /user`.
    pub async fn cc_add_user(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        new: NewCcUser,
    ) -> Result<UserId, Error> {
        auth.require("certcentral:AddUser")?;
        let container = new.container.unwrap_or(caller.user.profile.container);
        let mut wanted = new.container_assignments.clone();
        wanted.push(container);
        let visible = self.visible_ids_covering(caller, &wanted).await?;
        check_visible(&visible, &[container], "container.id")?;
        check_visible(
            &visible,
            &new.container_assignments,
            "container_id_assignments",
        )?;
        let now = self.inner.clock.now();
        let user = User {
            id: UserId(random_16_digits_json_safe().map_err(internal)?),
            account: caller.principal.account,
            name: new.username,
            display_name: None,
            mobile_phone: None,
            email: Some(new.email),
            comments: None,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            profile: Profile {
                first_name: Some(new.first_name),
                last_name: Some(new.last_name),
                job_title: new.job_title,
                telephone: new.telephone,
                role: new.role,
                container,
                container_assignments: new.container_assignments,
                kind: UserKind::Standard,
                saml_sso_only: new.saml_sso_only,
            },
        };
        self.inner
            .store
            .create_user(&user, self.inner.limits.max_users_per_account)
            .await
            .map_err(|e| Error::from_store(e, &user.name))?;
        Ok(user.id)
    }

    /// `POST /user` with `is_api_only`: the user and its first key, in
    /// one transaction. The key is returned here and never again.
    pub async fn cc_add_service_user(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        new: NewServiceUser,
    ) -> Result<(UserId, AccessKeySecret), Error> {
        auth.require("certcentral:AddServiceUser")?;
        let assignments = match new.container_assignments {
            Some(ids) => {
                self.check_containers(caller, &ids, "container_id_assignments")
                    .await?;
                ids
            }
            None => caller.user.profile.container_assignments.clone(),
        };
        let now = self.inner.clock.now();
        // The vendor's example service user is named with 20 hex digits.
        let username = UserName::from_trusted(random_hex(10).map_err(internal)?);
        let user = User {
            id: UserId(random_16_digits_json_safe().map_err(internal)?),
            account: caller.principal.account,
            name: username,
            display_name: None,
            mobile_phone: None,
            email: Some(new.email),
            comments: None,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            profile: Profile {
                first_name: Some("Service".to_owned()),
                last_name: Some("User".to_owned()),
                job_title: None,
                telephone: None,
                role: AccessRole::Administrator,
                container: caller.user.profile.container,
                container_assignments: assignments,
                kind: UserKind::ApiOnly,
                saml_sso_only: false,
            },
        };
        let secret = generate_api_key().map_err(internal)?;
        let key = NewApiKey {
            account: user.account,
            user: user.id,
            name: new.key_name,
            role: new.key_role,
            created_at: now,
            hash: api_key_hash(secret.expose()),
        };
        self.inner
            .store
            .create_user_with_api_key(&user, self.inner.limits.max_users_per_account, &key)
            .await
            .map_err(|e| Error::from_store(e, &user.name))?;
        Ok((user.id, secret))
    }

    /// `GET /user` and `/user/api-only`. Without containers in the query,
    /// the caller's visible containers; with them, those of them it sees.
    pub async fn cc_list_users(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        mut query: UserQuery,
    ) -> Result<UserListing, Error> {
        if !matches!(
            auth.permission(),
            "certcentral:ListUsers" | "certcentral:ListServiceUsers"
        ) {
            auth.require("certcentral:ListUsers")?;
        }
        let visible = self.visible_ids(caller).await?;
        let all = self.containers(caller.principal.account).await?;
        query.containers = match query.containers.take() {
            Some(wanted) => Some(wanted.into_iter().filter(|c| visible.contains(c)).collect()),
            // Seeing every container: no filter needed.
            None if visible.len() == all.len() => None,
            None => Some(visible),
        };
        Ok(self
            .inner
            .store
            .query_users(caller.principal.account, &query)
            .await?)
    }

    /// `GET /user/{id}`; `GET /user/me` passes the caller's own id.
    pub async fn cc_get_user(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        id: UserId,
    ) -> Result<User, Error> {
        if id == caller.user.id {
            // Reading oneself needs only the always-on permission.
            if auth.permission() != "certcentral:GetCurrentUser" {
                auth.require("certcentral:GetUser")?;
            }
            return self
                .inner
                .store
                .user_by_id(caller.principal.account, id)
                .await?
                .or_not_found(Entity::User, id);
        }
        auth.require("certcentral:GetUser")?;
        self.visible_user(caller, id).await
    }

    /// `PUT /user/{id}`: `patch` as the face built it from the body.
    pub async fn cc_update_user(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        id: UserId,
        patch: UserPatch,
    ) -> Result<(), Error> {
        auth.require("certcentral:UpdateUser")?;
        self.patch_user(caller, id, patch).await
    }

    /// `PUT /user/{id}/role`.
    pub async fn cc_set_role(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        id: UserId,
        role: AccessRole,
    ) -> Result<(), Error> {
        auth.require("certcentral:SetUserRole")?;
        let patch = UserPatch {
            profile: ProfilePatch {
                role: Some(role),
                ..ProfilePatch::default()
            },
            ..UserPatch::default()
        };
        self.patch_user(caller, id, patch).await
    }

    /// `PUT /user/{id}/container-assignments`.
    pub async fn cc_set_assignments(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        id: UserId,
        ids: Vec<ContainerId>,
    ) -> Result<(), Error> {
        auth.require("certcentral:SetContainerAssignments")?;
        self.check_containers(caller, &ids, "container_id_assignments")
            .await?;
        let patch = UserPatch {
            profile: ProfilePatch {
                container_assignments: Some(ids),
                ..ProfilePatch::default()
            },
            ..UserPatch::default()
        };
        self.patch_user(caller, id, patch).await
    }

    async fn patch_user(
        &self,
        caller: &ApiCaller,
        id: UserId,
        patch: UserPatch,
    ) -> Result<(), Error> {
        let user = self.visible_user(caller, id).await?;
        // A service user's edit uses only the e-mail (reference §6.3).
        let patch = if user.profile.kind == UserKind::ApiOnly {
            UserPatch {
                email: patch.email,
                profile: ProfilePatch {
                    role: patch.profile.role,
                    container_assignments: patch.profile.container_assignments,
                    ..ProfilePatch::default()
                },
                ..UserPatch::default()
            }
        } else {
            patch
        };
        let now = self.inner.clock.now();
        let renamed = patch.name.clone();
        let result = self
            .inner
            .store
            .update_user(caller.principal.account, &user.name, &patch, now)
            .await;
        // Roles and names travel in cached callers: drop them all (changes
        // to users are rare next to the requests they authorize). The role
        // travels in cached access-key credentials too: re-reading the
        // epoch, which the change moved, drops those of the account.
        self.inner.cc.forget_callers();
        self.inner.iam.forget_epoch(caller.principal.account);
        result.map(|_| ()).map_err(|e| {
            let id = match (&e, renamed) {
                (trustdesk_domain::StoreError::AlreadyExists(_), Some(n)) => n.to_string(),
                _ => user.name.to_string(),
            };
            Error::from_store(e, id)
        })
    }

    /// `DELETE /user/{id}`: the user and every key it owns.
    pub async fn cc_delete_user(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        id: UserId,
    ) -> Result<(), Error> {
        auth.require("certcentral:DeleteUser")?;
        if id == caller.user.id {
            return Err(Error::OwnUser);
        }
        let user = self.visible_user(caller, id).await?;
        let result = self
            .inner
            .store
            .purge_user(caller.principal.account, user.id)
            .await;
        self.inner.cc.forget_callers();
        // The user's access keys went with it.
        self.inner.keys.forget_all();
        result.map_err(|e| Error::from_store(e, id))
    }

    /// `GET /container…` reads: the containers the caller sees.
    pub async fn cc_containers(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
    ) -> Result<Vec<Container>, Error> {
        if !matches!(
            auth.permission(),
            "certcentral:ListContainers"
                | "certcentral:GetContainer"
                | "certcentral:ListContainerRoles"
        ) {
            auth.require("certcentral:ListContainers")?;
        }
        self.visible_containers(&caller.user).await
    }

    /// `POST /container/{parent}/children`.
    pub async fn cc_create_container(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        parent: ContainerId,
        name: String,
        description: Option<String>,
        template_id: u32,
    ) -> Result<ContainerId, Error> {
        auth.require("certcentral:CreateContainer")?;
        let account = caller.principal.account;
        if !self
            .visible_ids_covering(caller, &[parent])
            .await?
            .contains(&parent)
        {
            return Err(Error::not_found(Entity::Container, parent));
        }
        let container = NewContainer {
            account,
            parent: Some(parent),
            name,
            description,
            template_id,
            public_id: random_hex(16).map_err(internal)?,
            ekey: random_hex(16).map_err(internal)?,
            created_at: self.inner.clock.now(),
        };
        let result = self.inner.store.create_container(&container).await;
        self.inner.cc.forget_containers(account);
        result.map_err(|e| Error::from_store(e, parent))
    }

    /// `PUT /container/{id}`.
    pub async fn cc_update_container(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        id: ContainerId,
        name: &str,
        description: Option<&str>,
    ) -> Result<(), Error> {
        auth.require("certcentral:UpdateContainer")?;
        let account = caller.principal.account;
        if !self
            .visible_ids_covering(caller, &[id])
            .await?
            .contains(&id)
        {
            return Err(Error::not_found(Entity::Container, id));
        }
        let result = self
            .inner
            .store
            .update_container(account, id, name, description)
            .await;
        self.inner.cc.forget_containers(account);
        result.map_err(|e| Error::from_store(e, id))
    }

    /// `GET /key` (`user_id` narrows to one user's keys), with each key's
    /// owner. Keys of users the caller cannot see are left out.
    pub async fn cc_list_keys(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        user: Option<UserId>,
    ) -> Result<Vec<(ApiKey, User)>, Error> {
        auth.require("certcentral:ListApiKeys")?;
        let keys = self
            .inner
            .store
            .list_api_keys(caller.principal.account, user)
            .await?;
        let mut ids: Vec<UserId> = keys.iter().map(|k| k.user).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut owners: HashMap<UserId, User> = HashMap::new();
        for id in ids {
            if let Ok(owner) = self.visible_user(caller, id).await {
                owners.insert(id, owner);
            }
        }
        let mut out = Vec::with_capacity(keys.len());
        for mut key in keys {
            if let Some(owner) = owners.get(&key.user) {
                key.last_used_at = self.key_last_used(&key);
                out.push((key, owner.clone()));
            }
        }
        Ok(out)
    }

    /// `GET /key/{id}`.
    pub async fn cc_get_key(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        id: ApiKeyId,
    ) -> Result<(ApiKey, User), Error> {
        auth.require("certcentral:GetApiKey")?;
        self.visible_key(caller, id).await
    }

    async fn visible_key(&self, caller: &ApiCaller, id: ApiKeyId) -> Result<(ApiKey, User), Error> {
        let mut key = self
            .inner
            .store
            .api_key(caller.principal.account, id)
            .await?
            .or_not_found(Entity::ApiKey, id)?;
        let owner = self
            .visible_user(caller, key.user)
            .await
            .map_err(|_| Error::not_found(Entity::ApiKey, id))?;
        key.last_used_at = self.key_last_used(&key);
        Ok((key, owner))
    }

    /// `POST /key/user/{user_id}`: the key is returned here and never
    /// again.
    pub async fn cc_create_key(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        user: UserId,
        name: String,
        role: KeyRole,
    ) -> Result<(ApiKeyId, AccessKeySecret), Error> {
        auth.require("certcentral:CreateApiKey")?;
        let owner = self.visible_user(caller, user).await?;
        let secret = generate_api_key().map_err(internal)?;
        let key = NewApiKey {
            account: owner.account,
            user: owner.id,
            name,
            role,
            created_at: self.inner.clock.now(),
            hash: api_key_hash(secret.expose()),
        };
        let id = self
            .inner
            .store
            .create_api_key(&key)
            .await
            .map_err(|e| Error::from_store(e, user))?;
        Ok((id, secret))
    }

    /// `PUT /key/{id}`.
    pub async fn cc_update_key(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        id: ApiKeyId,
        name: &str,
        role: Option<KeyRole>,
    ) -> Result<(), Error> {
        auth.require("certcentral:UpdateApiKey")?;
        let (current, _) = self.visible_key(caller, id).await?;
        let role = role.unwrap_or(current.role);
        let result = self
            .inner
            .store
            .update_api_key(caller.principal.account, id, name, role)
            .await;
        self.inner.cc.forget_callers();
        result.map_err(|e| Error::from_store(e, id))
    }

    /// `PUT /key/{id}/status`.
    pub async fn cc_set_key_status(
        &self,
        auth: Authorized,
        caller: &ApiCaller,
        id: ApiKeyId,
        status: ApiKeyStatus,
    ) -> Result<(), Error> {
        auth.require("certcentral:SetApiKeyStatus")?;
        self.visible_key(caller, id).await?;
        let result = self
            .inner
            .store
            .set_api_key_status(caller.principal.account, id, status)
            .await;
        self.inner.cc.forget_callers();
        result.map_err(|e| Error::from_store(e, id))
    }

    /// Creates the account's first CertCentral administrator with an API
    /// key, unless the account already has API keys or an Administrator. `key`: the
    /// operator's chosen key, else one is generated and returned.
    pub async fn bootstrap_administrator(
        &self,
        account: AccountId,
        username: &UserName,
        email: &Email,
        key: Option<AccessKeySecret>,
    ) -> Result<Option<(UserId, Option<AccessKeySecret>)>, Error> {
        // Runs on every start: an account whose CertCentral face was ever
        // set up holds API keys, and finding one is a single indexed read,
        // where counting Administrators would visit every user.
        if !self
            .inner
            .store
            .list_api_keys(account, None)
            .await?
            .is_empty()
        {
            return Ok(None);
        }
        let admins = self
            .inner
            .store
            .query_users(
                account,
                &UserQuery {
                    kind: UserKind::Standard,
                    containers: None,
                    role: Some(AccessRole::Administrator),
                    search: None,
                    sort: Vec::new(),
                    offset: 0,
                    limit: 1,
                },
            )
            .await?;
        if admins.total > 0 {
            return Ok(None);
        }
        let root = self.root_container(account).await?;
        debug_assert_eq!(root.template_id, ROOT_TEMPLATE);
        let now = self.inner.clock.now();
        let user = User {
            id: UserId(random_16_digits_json_safe().map_err(internal)?),
            account,
            name: username.clone(),
            display_name: None,
            mobile_phone: None,
            email: Some(email.clone()),
            comments: None,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            profile: Profile {
                first_name: Some("trustdesk".to_owned()),
                last_name: Some("Administrator".to_owned()),
                role: AccessRole::Administrator,
                ..Profile::for_ram_user(root.id)
            },
        };
        let (secret, generated) = match key {
            Some(k) => (k, false),
            None => (generate_api_key().map_err(internal)?, true),
        };
        let key = NewApiKey {
            account,
            user: user.id,
            name: "bootstrap".to_owned(),
            role: KeyRole::Unrestricted,
            created_at: now,
            hash: api_key_hash(secret.expose()),
        };
        self.inner
            .store
            .create_user_with_api_key(&user, u32::MAX, &key)
            .await
            .map_err(|e| Error::from_store(e, username))?;
        Ok(Some((user.id, generated.then_some(secret))))
    }
}
