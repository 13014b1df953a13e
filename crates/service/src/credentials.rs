//! Signing keys for authentication: lookup with a short-lived cache of
//! decrypted secrets, replay protection, and last-used tracking.
//!
//! Why a cache: every request needs its key's secret in clear, and opening
//! the envelope plus a database read would cost more than the whole
//! signature check. Entries are dropped at once when this node changes or
//! deletes the key. Each remembers the account's `policy_epoch` it was
//! loaded under and is used only while that is still the epoch (re-read at
//! most every [`EPOCH_RECHECK`](crate::EPOCH_RECHECK)), so a change another
//! node makes to the key or its owner's name or role takes effect here
//! within a second. `key_cache_ttl` (5 s) stays as a backstop.
//!
//! Why last-used is batched: writing a timestamp on every request would add
//! a durable write to every read. The vendor's `LastUsedDate` is coarse too;
//! we flush every 5 s and answer from memory first.

use std::sync::Arc;

use time::OffsetDateTime;
use trustdesk_domain::{
    AccessKey, AccessKeyId, Entity, Error, KeyOwner, KeyStatus, OrNotFound, Principal,
    PrincipalKind, StoredAccessKey,
};
use trustdesk_secrets::{AccessKeySecret, open_access_key_secret};

use crate::Service;
use crate::cache::{TtlMap, UsageLog};

/// A signing key as authentication needs it.
#[derive(Debug)]
pub struct Credential {
    pub principal: Principal,
    pub status: KeyStatus,
    pub secret: AccessKeySecret,
}

#[derive(Default)]
pub(crate) struct KeyCache {
    /// Each with the account epoch it was loaded under.
    entries: TtlMap<AccessKeyId, (u64, Arc<Credential>)>,
    usage: UsageLog<AccessKeyId>,
}

impl KeyCache {
    pub(crate) fn forget_all(&self) {
        self.entries.clear();
    }

    pub(crate) fn forget(&self, id: &AccessKeyId) {
        self.entries.remove(id);
    }
}

impl Service {
    /// The key `id` with its owner and decrypted secret, or `None` if no
    /// such key exists.
    pub async fn credential(&self, id: &str) -> Result<Option<Arc<Credential>>, Error> {
        let inner = &self.inner;
        let id = AccessKeyId(id.to_owned());
        let now = inner.clock.now();
        // An entry, even an expired one, names the key's account: its epoch
        // is then read before the key is.
        let mut known = None;
        if let Some(((epoch, cred), fresh)) =
            inner
                .keys
                .entries
                .lookup(&id, now, inner.limits.key_cache_ttl)
        {
            let account = cred.principal.account;
            let current = self.account_epoch(account).await?;
            if fresh && current == epoch {
                return Ok(Some(cred));
            }
            known = Some((account, current));
        }
        let Some(mut stored) = inner.store.access_key(&id).await? else {
            inner.keys.forget(&id);
            return Ok(None);
        };
        let epoch = match known {
            Some((account, epoch)) if account == stored.key.account => epoch,
            _ => {
                // First sight of the key: its account was unknown until it
                // was read, so the epoch comes after the read. Read the key
                // again, so that what is cached is no older than the epoch
                // it is tagged with; else a change made between the two
                // reads would go unseen until the TTL ran out.
                let epoch = self.account_epoch(stored.key.account).await?;
                let Some(again) = inner.store.access_key(&id).await? else {
                    inner.keys.forget(&id);
                    return Ok(None);
                };
                stored = again;
                epoch
            }
        };
        let cred = Arc::new(self.load_credential(id.clone(), stored).await?);
        inner.keys.entries.insert(id, (epoch, cred.clone()), now);
        Ok(Some(cred))
    }

    /// The credential of a key as stored: its owner read, its secret
    /// opened.
    async fn load_credential(
        &self,
        id: AccessKeyId,
        stored: StoredAccessKey,
    ) -> Result<Credential, Error> {
        let inner = &self.inner;
        let key = &stored.key;
        let (kind, policies): (_, Arc<[_]>) = match key.owner {
            KeyOwner::Root => (PrincipalKind::Root, Arc::from([])),
            KeyOwner::User(user_id) => {
                let user = inner
                    .store
                    .user_by_id(key.account, user_id)
                    .await?
                    .or_not_found(Entity::User, user_id)?;
                // The user's CertCentral role is a system policy of
                // `certcentral:` permissions: it grants nothing on RAM or
                // CAS, but is the same mechanism attached RAM policies use.
                let policies = Arc::from([user.profile.role.policy()]);
                (
                    PrincipalKind::User {
                        id: user.id,
                        name: user.name,
                    },
                    policies,
                )
            }
        };
        let secret = open_access_key_secret(&inner.master, id.as_str(), &stored.sealed_secret).map_err(|e| {
            tracing::error!(access_key_id = %id, error = %e, "cannot open a stored access key secret");
            Error::Storage(trustdesk_domain::StoreError::Backend(format!("access key {id}: {e}")))
        })?;
        Ok(Credential {
            principal: Principal {
                account: key.account,
                kind,
                access_key: id,
                policies,
                scope: None,
            },
            status: key.status,
            secret,
        })
    }

    /// Records `nonce` for `key`. `Ok(false)` means it was used before
    /// within the window: a replay. Call only after the signature verified,
    /// so that forged requests cannot burn a client's nonces.
    pub async fn check_nonce(
        &self,
        key: &AccessKeyId,
        nonce: &str,
        timestamp: OffsetDateTime,
    ) -> Result<bool, Error> {
        // A nonce must be remembered for as long as its timestamp would pass
        // the window check.
        let expires_at = timestamp + self.inner.limits.timestamp_window;
        Ok(self
            .inner
            .store
            .record_nonce(key, nonce, expires_at)
            .await?)
    }

    /// Notes that `key` signed a request now.
    pub fn touch(&self, key: &AccessKeyId) {
        self.inner
            .keys
            .usage
            .touch(key.clone(), self.inner.clock.now());
    }

    pub(crate) async fn flush_key_usage(&self) {
        let pending = self.inner.keys.usage.take();
        if pending.is_empty() {
            return;
        }
        if let Err(e) = self.inner.store.record_key_usage(&pending).await {
            tracing::warn!(error = %e, keys = pending.len(), "recording access key usage failed");
            self.inner.keys.usage.restore(pending);
        }
    }

    /// When `key` was last used, counting uses not yet flushed.
    pub(crate) fn pending_usage(&self, key: &AccessKey) -> Option<OffsetDateTime> {
        self.inner.keys.usage.latest(&key.id, key.last_used_at)
    }
}
