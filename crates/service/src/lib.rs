//! Use cases shared by every API face.
//!
//! A face authenticates a request by asking [`Service::credential`] for the
//! signing key (secret decrypted, cached briefly), verifies the signature
//! itself, records the nonce with [`Service::check_nonce`], then asks
//! [`Service::authorize`] for an [`Authorized`] token naming the permission
//! of the action. Every use case takes that token and refuses one issued for
//! another permission, so a face cannot run a use case it did not authorize.

mod bootstrap;
mod cache;
mod certcentral;
mod certificates;
mod credentials;
mod iam;
mod ram;
pub use ram::KeyTarget;

use std::sync::Arc;

use time::Duration;
use trustdesk_domain::{Clock, Store};
use trustdesk_secrets::MasterKey;

pub use bootstrap::{Bootstrap, BootstrapKey};
pub use certcentral::{ApiCaller, NewCcUser, NewServiceUser, resource as certcentral_resource};
pub use certificates::{AUDITED, CertificateDetail, key_algorithm};
pub use credentials::Credential;
pub use iam::{EPOCH_RECHECK, system_document_text};
pub use trustdesk_domain as domain;
pub use trustdesk_domain::{Authorized, Error};
pub use trustdesk_secrets::AccessKeySecret;

/// The id of one HTTP request: the vendor's `RequestId`, echoed in every
/// response body, the `x-acs-request-id` header and every log line. The
/// server sets it as a request extension before any face runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub Arc<str>);

impl RequestId {
    /// A new id in the vendor's shape: an uppercase UUID.
    pub fn generate() -> Self {
        let mut b = [0u8; 16];
        // The OS random source failing is not recoverable anyway; an
        // all-zero id still keeps the request going.
        let _ = trustdesk_secrets::random_fill(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        // Runs on every request: write the 36 characters directly rather
        // than through per-byte `format!` allocations.
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut out = String::with_capacity(36);
        for (i, byte) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out.push('-');
            }
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0x0f)] as char);
        }
        Self(out.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Facts about the connection a request came over, for policy
/// conditions (`acs:SourceIp`, `acs:SecureTransport`). The server sets it
/// as a request extension; absent (in-process tests), it is all unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Client {
    /// The peer's address (not `X-Forwarded-For`: a header anyone can
    /// send is not evidence of where a request came from).
    pub ip: Option<std::net::IpAddr>,
    /// Whether the request arrived over TLS (trustdesk serves plain HTTP
    /// today, so this is false).
    pub secure_transport: bool,
}

/// Tunables of the use cases.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Users per account (vendor default 1,000).
    pub max_users_per_account: u32,
    /// Access keys per RAM user (vendor: 2, active or not).
    pub max_keys_per_user: u32,
    /// Access keys of the root identity. The vendor does not document this
    /// for RAM's API; we allow 5 so that rotation of automation keys is
    /// possible beside the bootstrap key.
    pub max_keys_per_root: u32,
    /// Accepted clock skew of signed requests, either way (vendor: 15 min).
    pub timestamp_window: Duration,
    /// How long a decrypted key (or API-key caller, or container list)
    /// stays cached at most. A backstop: this node invalidates at once on
    /// its own changes, and on another node's within
    /// [`EPOCH_RECHECK`] through the store's per-account epoch.
    pub key_cache_ttl: Duration,
    /// Size and shape limits of certificate uploads.
    pub import: trustdesk_pki::Limits,
    /// Group and policy limits.
    pub policies: trustdesk_domain::PolicyLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_users_per_account: 1000,
            max_keys_per_user: 2,
            max_keys_per_root: 5,
            timestamp_window: Duration::minutes(15),
            key_cache_ttl: Duration::seconds(5),
            import: trustdesk_pki::Limits::default(),
            policies: trustdesk_domain::PolicyLimits::default(),
        }
    }
}

/// The service: store, master key, clock and caches. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    master: MasterKey,
    clock: Arc<dyn Clock>,
    limits: Limits,
    keys: credentials::KeyCache,
    cc: certcentral::CcCache,
    iam: iam::PolicyCache,
}

impl Service {
    pub fn new(
        store: Arc<dyn Store>,
        master: MasterKey,
        clock: Arc<dyn Clock>,
        limits: Limits,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                master,
                clock,
                limits,
                keys: credentials::KeyCache::default(),
                cc: certcentral::CcCache::default(),
                iam: iam::PolicyCache::default(),
            }),
        }
    }

    pub fn clock(&self) -> &dyn Clock {
        self.inner.clock.as_ref()
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Whether the database answers (readiness).
    pub async fn ready(&self) -> Result<(), Error> {
        self.inner.store.ping().await.map_err(Error::from)
    }

    /// Runs the periodic chores (key usage flush, nonce purge) until the
    /// returned handle is aborted or the runtime stops.
    pub fn spawn_housekeeping(&self) -> tokio::task::JoinHandle<()> {
        let svc = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
            let mut rounds: u64 = 0;
            loop {
                tick.tick().await;
                svc.flush_key_usage().await;
                svc.flush_api_key_usage().await;
                rounds += 1;
                if rounds.is_multiple_of(12) {
                    let now = svc.inner.clock.now();
                    if let Err(e) = svc.inner.store.purge_nonces(now).await {
                        tracing::warn!(error = %e, "purging expired nonces failed");
                    }
                }
            }
        })
    }
}

impl Service {
    /// Final chores before the process exits: flush pending key usage.
    pub async fn shutdown(&self) {
        self.flush_key_usage().await;
        self.flush_api_key_usage().await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_look_like_uppercase_uuids() {
        let id = super::RequestId::generate();
        let s = id.as_str();
        assert_eq!(s.len(), 36);
        let groups: Vec<usize> = s.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert!(
            s.chars()
                .all(|c| c == '-' || c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert_eq!(&s[14..15], "4", "version 4");
        assert_ne!(s, super::RequestId::generate().as_str());
    }
}
