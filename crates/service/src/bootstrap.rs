//! First start of an empty database: the root account and its first key.
//!
//! The account id is a random 16-digit number (vendor UIDs look like this),
//! at most 2^53 - 1 so that CertCentral's JSON numbers carry it intact. The
//! account's root container (CertCentral) is created with it.
//! The root key is either supplied by the operator (automation, tests) or
//! generated; a generated secret is handed back exactly once so the binary
//! can show it and write it to a 0600 file. Later starts find the account
//! and create nothing, so they never have a secret to show.

use trustdesk_domain::certcentral::ROOT_TEMPLATE;
use trustdesk_domain::{AccessKey, AccessKeyId, Error};
use trustdesk_domain::{Account, AccountId, KeyOwner, KeyStatus, NewContainer, StoredAccessKey};
use trustdesk_secrets::{
    AccessKeySecret, generate_access_key_id, generate_access_key_secret,
    random_16_digits_json_safe, random_hex, seal_access_key_secret,
};

use crate::Service;
use crate::ram::internal;

/// An operator-supplied root key pair.
#[derive(Debug, Clone)]
pub struct BootstrapKey {
    pub id: String,
    pub secret: AccessKeySecret,
}

/// What [`Service::bootstrap`] found or did.
#[derive(Debug)]
pub enum Bootstrap {
    /// The database already had its account; nothing was created.
    Existing { account: AccountId },
    /// The account and its root key were created now. `generated_secret`
    /// is `Some` when the secret was generated here (show it once).
    Created {
        account: AccountId,
        key_id: String,
        generated_secret: Option<AccessKeySecret>,
    },
}

impl BootstrapKey {
    /// Checks an operator-supplied pair: the id 1–64 ASCII alphanumerics,
    /// the secret 8–128 printable ASCII characters without spaces.
    pub fn validate(&self) -> Result<(), String> {
        let id_ok =
            (1..=64).contains(&self.id.len()) && self.id.bytes().all(|b| b.is_ascii_alphanumeric());
        if !id_ok {
            return Err("bootstrap access key id must be 1-64 ASCII letters and digits".into());
        }
        let s = self.secret.expose();
        if !(8..=128).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("bootstrap access key secret must be 8-128 printable ASCII characters without spaces".into());
        }
        Ok(())
    }
}

impl Service {
    /// Creates the root account and its key unless the database has one.
    pub async fn bootstrap(&self, provided: Option<BootstrapKey>) -> Result<Bootstrap, Error> {
        let store = &self.inner.store;
        if let Some(account) = store.root_account().await? {
            return Ok(Bootstrap::Existing {
                account: account.id,
            });
        }
        let now = self.inner.clock.now();
        let account = Account {
            id: AccountId(random_16_digits_json_safe().map_err(internal)?),
            created_at: now,
        };
        let root_container = NewContainer {
            account: account.id,
            parent: None,
            name: "Root".to_owned(),
            description: None,
            template_id: ROOT_TEMPLATE,
            public_id: random_hex(16).map_err(internal)?,
            ekey: random_hex(16).map_err(internal)?,
            created_at: now,
        };
        let (key_id, secret, generated) = match provided {
            Some(k) => (k.id, k.secret, false),
            None => (
                generate_access_key_id().map_err(internal)?,
                generate_access_key_secret().map_err(internal)?,
                true,
            ),
        };
        let sealed_secret =
            seal_access_key_secret(&self.inner.master, &key_id, &secret).map_err(internal)?;
        let key = StoredAccessKey {
            key: AccessKey {
                id: AccessKeyId(key_id.clone()),
                account: account.id,
                owner: KeyOwner::Root,
                status: KeyStatus::Active,
                created_at: now,
                last_used_at: None,
            },
            sealed_secret,
        };
        store
            .create_account(&account, &root_container, &key)
            .await?;
        Ok(Bootstrap::Created {
            account: account.id,
            key_id,
            generated_secret: generated.then_some(secret),
        })
    }
}
