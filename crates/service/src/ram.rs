//! Users and access keys (RAM 2015-05-01 semantics, shared by every face).

use trustdesk_domain::policy::{self, resource};
use trustdesk_domain::{
    AccessKey, AccessKeyId, Authorized, Entity, Error, KeyOwner, KeyStatus, NewUser, OrNotFound,
    Principal, PrincipalKind, Profile, StoredAccessKey, User, UserCursor, UserId, UserName,
    UserPage, UserPatch,
};
use trustdesk_secrets::{
    AccessKeySecret, generate_access_key_id, generate_access_key_secret,
    random_16_digits_json_safe, seal_access_key_secret,
};

use crate::Service;

/// Whose keys an access-key call is about: a named user, or (absent) the
/// caller itself, as the vendor defines for `UserName`-less calls.
#[derive(Debug, Clone)]
pub enum KeyTarget {
    Caller,
    User(UserName),
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Error {
    Error::Storage(trustdesk_domain::StoreError::Backend(e.to_string()))
}

impl Service {
    /// Asks the policy evaluator whether `principal` may perform
    /// `permission` on `resource`.
    ///
    /// A user is judged by the policy of its CertCentral role (carried by
    /// its credential), the policies attached to it and to its groups
    /// (cached, see `iam`), and its credential's scope; the root identity
    /// is allowed everything. Conditions see the request time, the peer's
    /// address and whether the transport was secure; there is no MFA
    /// sign-in, so `acs:MFAPresent` is false.
    ///
    /// Refusals of the permissions in [`crate::AUDITED`] are written to the
    /// audit trail.
    pub async fn authorize(
        &self,
        principal: &Principal,
        permission: &'static str,
        resource: &str,
        request: &crate::RequestId,
        client: &crate::Client,
    ) -> Result<Authorized, Error> {
        let attached = self.attached_policies(principal).await?;
        let ctx = policy::RequestContext {
            current_time: self.inner.clock.now(),
            source_ip: client.ip,
            secure_transport: client.secure_transport,
            mfa_present: false,
        };
        let decision = policy::authorize_with(principal, &attached, permission, resource, &ctx);
        if decision.is_err() {
            self.audit_denial(principal, permission, resource, request)
                .await;
        }
        decision
    }

    /// `acs:ram:*:<account>:<kind>/<name>` in the caller's account
    /// (`group`, `policy`; `name` may be `*`).
    pub fn ram_resource(&self, principal: &Principal, kind: &str, name: &str) -> String {
        format!("acs:ram:*:{}:{kind}/{name}", principal.account)
    }

    /// A system policy's resource: `system` stands in for the account.
    pub fn system_policy_resource(&self, name: &str) -> String {
        format!("acs:ram:*:system:policy/{name}")
    }

    /// The resource name of user `name` (or `*`) in the caller's account.
    pub fn user_resource(&self, principal: &Principal, name: &str) -> String {
        resource::ram_user(principal.account, name)
    }

    pub async fn create_user(&self, auth: Authorized, new: NewUser) -> Result<User, Error> {
        auth.require("ram:CreateUser")?;
        let now = self.inner.clock.now();
        let root = self.root_container(auth.principal().account).await?;
        let user = User {
            id: UserId(random_16_digits_json_safe().map_err(internal)?),
            account: auth.principal().account,
            name: new.name,
            display_name: new.display_name,
            mobile_phone: new.mobile_phone,
            email: new.email,
            comments: new.comments,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            profile: Profile::for_ram_user(root.id),
        };
        self.inner
            .store
            .create_user(&user, self.inner.limits.max_users_per_account)
            .await
            .map_err(|e| Error::from_store(e, &user.name))?;
        Ok(user)
    }

    pub async fn get_user(&self, auth: Authorized, name: &UserName) -> Result<User, Error> {
        auth.require("ram:GetUser")?;
        self.inner
            .store
            .user_by_name(auth.principal().account, name)
            .await?
            .or_not_found(Entity::User, name)
    }

    pub async fn update_user(
        &self,
        auth: Authorized,
        name: &UserName,
        patch: UserPatch,
    ) -> Result<User, Error> {
        auth.require("ram:UpdateUser")?;
        let account = auth.principal().account;
        let now = self.inner.clock.now();
        let user = self
            .inner
            .store
            .update_user(account, name, &patch, now)
            .await;
        // A cached CertCentral caller carries the user's name.
        self.inner.cc_forget_callers();
        let user = user.map_err(|e| {
            let id = match (&e, &patch.name) {
                (trustdesk_domain::StoreError::AlreadyExists(_), Some(new)) => new.to_string(),
                _ => name.to_string(),
            };
            Error::from_store(e, id)
        })?;
        Ok(user)
    }

    pub async fn delete_user(&self, auth: Authorized, name: &UserName) -> Result<(), Error> {
        auth.require("ram:DeleteUser")?;
        let result = self
            .inner
            .store
            .delete_user(auth.principal().account, name)
            .await;
        // The user's API keys went with it.
        self.inner.cc_forget_callers();
        result.map_err(|e| Error::from_store(e, name))
    }

    pub async fn list_users(
        &self,
        auth: Authorized,
        after: Option<UserCursor>,
        limit: u32,
    ) -> Result<UserPage, Error> {
        auth.require("ram:ListUsers")?;
        Ok(self
            .inner
            .store
            .list_users(auth.principal().account, after, limit)
            .await?)
    }

    /// Resolves a key target to the owner whose keys are meant.
    async fn key_owner(
        &self,
        principal: &Principal,
        target: &KeyTarget,
    ) -> Result<KeyOwner, Error> {
        match target {
            KeyTarget::Caller => Ok(match &principal.kind {
                PrincipalKind::Root => KeyOwner::Root,
                PrincipalKind::User { id, .. } => KeyOwner::User(*id),
            }),
            KeyTarget::User(name) => {
                let user = self
                    .inner
                    .store
                    .user_by_name(principal.account, name)
                    .await?
                    .or_not_found(Entity::User, name)?;
                Ok(KeyOwner::User(user.id))
            }
        }
    }

    /// Creates a key; the secret is returned here and never again.
    pub async fn create_access_key(
        &self,
        auth: Authorized,
        target: &KeyTarget,
    ) -> Result<(AccessKey, AccessKeySecret), Error> {
        auth.require("ram:CreateAccessKey")?;
        let principal = auth.principal();
        let owner = self.key_owner(principal, target).await?;
        let limit = match owner {
            KeyOwner::Root => self.inner.limits.max_keys_per_root,
            KeyOwner::User(_) => self.inner.limits.max_keys_per_user,
        };
        let id = AccessKeyId(generate_access_key_id().map_err(internal)?);
        let secret = generate_access_key_secret().map_err(internal)?;
        let sealed_secret =
            seal_access_key_secret(&self.inner.master, id.as_str(), &secret).map_err(internal)?;
        let key = AccessKey {
            id,
            account: principal.account,
            owner,
            status: KeyStatus::Active,
            created_at: self.inner.clock.now(),
            last_used_at: None,
        };
        let record = StoredAccessKey {
            key: key.clone(),
            sealed_secret,
        };
        self.inner
            .store
            .create_access_key(&record, limit)
            .await
            .map_err(|e| Error::from_store(e, &key.id))?;
        Ok((key, secret))
    }

    pub async fn list_access_keys(
        &self,
        auth: Authorized,
        target: &KeyTarget,
    ) -> Result<Vec<AccessKey>, Error> {
        auth.require("ram:ListAccessKeys")?;
        let owner = self.key_owner(auth.principal(), target).await?;
        Ok(self
            .inner
            .store
            .list_access_keys(auth.principal().account, owner)
            .await?)
    }

    pub async fn update_access_key(
        &self,
        auth: Authorized,
        target: &KeyTarget,
        id: &AccessKeyId,
        status: KeyStatus,
    ) -> Result<(), Error> {
        auth.require("ram:UpdateAccessKey")?;
        let owner = self.key_owner(auth.principal(), target).await?;
        let result = self
            .inner
            .store
            .set_access_key_status(auth.principal().account, owner, id, status)
            .await;
        self.inner.keys.forget(id);
        result.map_err(|e| Error::from_store(e, id))
    }

    pub async fn delete_access_key(
        &self,
        auth: Authorized,
        target: &KeyTarget,
        id: &AccessKeyId,
    ) -> Result<(), Error> {
        auth.require("ram:DeleteAccessKey")?;
        let owner = self.key_owner(auth.principal(), target).await?;
        let result = self
            .inner
            .store
            .delete_access_key(auth.principal().account, owner, id)
            .await;
        self.inner.keys.forget(id);
        result.map_err(|e| Error::from_store(e, id))
    }

    /// When the key was last used to sign a request (`None`: never).
    pub async fn access_key_last_used(
        &self,
        auth: Authorized,
        target: &KeyTarget,
        id: &AccessKeyId,
    ) -> Result<Option<time::OffsetDateTime>, Error> {
        auth.require("ram:GetAccessKeyLastUsed")?;
        let principal = auth.principal();
        let owner = self.key_owner(principal, target).await?;
        let keys = self
            .inner
            .store
            .list_access_keys(principal.account, owner)
            .await?;
        let key = keys
            .iter()
            .find(|k| &k.id == id)
            .or_not_found(Entity::AccessKey, id)?;
        Ok(self.pending_usage(key))
    }
}
