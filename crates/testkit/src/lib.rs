//! Test helpers shared by the integration tests and the store crates:
//! a settable clock, a service on a throwaway SQLite or PostgreSQL
//! database with a known root key, builders for correctly signed V1 and
//! ACS3 requests, the store conformance suite every backend must pass, and
//! throwaway PostgreSQL clusters ([`pg`]).

pub mod certs;
pub mod conformance;
pub mod pg;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::Request;
use time::OffsetDateTime;
use time::macros::datetime;
use trustdesk_auth::Params;
use trustdesk_domain::Clock;
use trustdesk_domain::Store;
use trustdesk_secrets::{AccessKeySecret, MasterKey};
use trustdesk_service::{Bootstrap, BootstrapKey, Limits, Service};
use trustdesk_store_postgres::{PgOptions, PgStore};
use trustdesk_store_sqlite::{SqliteOptions, SqliteStore};

/// A clock tests set and advance by hand.
#[derive(Clone)]
pub struct FixedClock(Arc<Mutex<OffsetDateTime>>);

impl FixedClock {
    pub fn at(t: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(t)))
    }

    pub fn set(&self, t: OffsetDateTime) {
        *self.0.lock().unwrap() = t;
    }

    pub fn advance(&self, d: time::Duration) {
        *self.0.lock().unwrap() += d;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// The moment every test starts at.
pub const T0: OffsetDateTime = datetime!(2026-01-02 03:04:05 UTC);

/// An access key pair.
#[derive(Debug, Clone)]
pub struct Creds {
    pub id: String,
    pub secret: String,
}

impl Creds {
    pub fn root() -> Self {
        Self {
            id: "LTAI5tTestRootKey0000001".into(),
            secret: "TestRootSecret0123456789abcdef".into(),
        }
    }
}

/// Which database a [`TestService`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// A fresh database in this process's shared throwaway cluster.
    Postgres,
}

/// A migrated PostgreSQL store on a fresh database of the shared
/// throwaway cluster, and that database's URL.
pub async fn postgres_store() -> (PgStore, String) {
    let url = pg::shared()
        .fresh_database()
        .expect("create a test database");
    let store = PgStore::open(&url, PgOptions::default())
        .await
        .expect("open the PostgreSQL store");
    (store, url)
}

/// A service on a fresh database (SQLite in a temporary directory unless
/// built with [`TestService::on`]), with the root account bootstrapped
/// with [`Creds::root`].
pub struct TestService {
    pub service: Service,
    pub clock: FixedClock,
    pub root: Creds,
    pub account: trustdesk_domain::AccountId,
    /// The CertCentral administrator's `X-DC-DEVKEY` ([`DEVKEY`]), once
    /// [`TestService::with_certcentral_admin`] created it.
    pub devkey: String,
    /// That administrator's user id (`UserId(0)` until then).
    pub admin: trustdesk_domain::UserId,
    pub dir: tempfile::TempDir,
}

/// The bootstrap administrator's API key in tests (the captured
/// CertCentral vectors' `test-key`).
pub const DEVKEY: &str = "test-key";

impl TestService {
    pub async fn new() -> Self {
        Self::with_limits(Limits::default()).await
    }

    pub async fn with_limits(limits: Limits) -> Self {
        Self::build(Creds::root(), limits).await
    }

    /// With a chosen root key (e.g. the captured vectors' `testid`).
    pub async fn with_root(root: Creds) -> Self {
        Self::build(root, Limits::default()).await
    }

    /// On the given backend.
    pub async fn on(backend: Backend) -> Self {
        Self::build_on(backend, Creds::root(), Limits::default()).await
    }

    async fn build(root: Creds, limits: Limits) -> Self {
        Self::build_on(Backend::Sqlite, root, limits).await
    }

    async fn build_on(backend: Backend, root: Creds, limits: Limits) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn Store> = match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("trustdesk.db").display());
                Arc::new(
                    SqliteStore::open(&url, SqliteOptions::default())
                        .await
                        .expect("open store"),
                )
            }
            Backend::Postgres => Arc::new(postgres_store().await.0),
        };
        Self::assemble(store, root, limits, dir, true).await
    }

    /// A service over an existing store (e.g. one `trustdesk copy`
    /// filled), with the same master key, clock start and root key as
    /// every `TestService`; [`DEVKEY`] is taken to be its administrator's
    /// key.
    pub async fn attach(store: Arc<dyn Store>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::assemble(store, Creds::root(), Limits::default(), dir, false).await
    }

    /// The service over `store`, bootstrapped with `root`; `fresh` says
    /// whether the store must be new (the account created now) or must
    /// hold an account already.
    async fn assemble(
        store: Arc<dyn Store>,
        root: Creds,
        limits: Limits,
        dir: tempfile::TempDir,
        fresh: bool,
    ) -> Self {
        let clock = FixedClock::at(T0);
        let master = MasterKey::from_bytes(&[42u8; 32]).expect("master key");
        let service = Service::new(store, master, Arc::new(clock.clone()), limits);
        let boot = service
            .bootstrap(Some(BootstrapKey {
                id: root.id.clone(),
                secret: AccessKeySecret::new(root.secret.clone()),
            }))
            .await
            .expect("bootstrap");
        let account = match boot {
            Bootstrap::Created { account, .. } if fresh => account,
            Bootstrap::Existing { account } if !fresh => account,
            _ if fresh => panic!("fresh database expected"),
            _ => panic!("a database with an account expected"),
        };
        Self {
            service,
            clock,
            root,
            account,
            devkey: DEVKEY.into(),
            admin: trustdesk_domain::UserId(0),
            dir,
        }
    }

    /// Also creates the CertCentral administrator `admin` with the API key
    /// [`DEVKEY`], as the server does on first start.
    pub async fn with_certcentral_admin(mut self) -> Self {
        let (admin, _) = self
            .service
            .bootstrap_administrator(
                self.account,
                &trustdesk_domain::UserName::from_trusted("admin".into()),
                &trustdesk_domain::Email::from_trusted("admin@example.test".into()),
                Some(AccessKeySecret::new(DEVKEY.into())),
            )
            .await
            .expect("bootstrap administrator")
            .expect("fresh database has no administrator");
        self.admin = admin;
        self
    }

    /// Path of the SQLite database file.
    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("trustdesk.db")
    }
}

/// A fresh nonce (32 lowercase hex characters, as the SDKs send).
pub fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A V1-signed request as the old Python SDK sends RAM calls: POST, every
/// parameter in the query string, empty body.
pub fn v1_request(
    creds: &Creds,
    at: OffsetDateTime,
    action: &str,
    business: &[(&str, &str)],
) -> Request<Body> {
    v1_request_with(creds, at, "POST", action, "JSON", business)
}

/// RAM's API version.
pub const RAM: &str = "2015-05-01";
/// CAS's API version.
pub const CAS: &str = "2018-07-13";

/// A V1-signed request with an explicit method and format.
pub fn v1_request_with(
    creds: &Creds,
    at: OffsetDateTime,
    method: &str,
    action: &str,
    format: &str,
    business: &[(&str, &str)],
) -> Request<Body> {
    v1_request_for(creds, at, method, RAM, action, format, business)
}

/// A V1-signed request to any API version.
pub fn v1_request_for(
    creds: &Creds,
    at: OffsetDateTime,
    method: &str,
    version: &str,
    action: &str,
    format: &str,
    business: &[(&str, &str)],
) -> Request<Body> {
    let mut params =
        Params::from_pairs([("Action", action), ("Version", version), ("Format", format)]);
    for (k, v) in business {
        params.insert(*k, *v);
    }
    let query =
        trustdesk_auth::sign::v1_query(method, params, &creds.id, &creds.secret, &nonce(), at);
    Request::builder()
        .method(method)
        .uri(format!("/?{query}"))
        .header("host", "127.0.0.1:8080")
        .body(Body::empty())
        .expect("request")
}

/// An ACS3-signed request as the tea SDK sends RAM calls: POST, business
/// parameters in the query, empty body, facts in `x-acs-*` headers.
pub fn acs3_request(
    creds: &Creds,
    at: OffsetDateTime,
    action: &str,
    business: &[(&str, &str)],
) -> Request<Body> {
    acs3_request_for(creds, at, RAM, action, business, None)
}

/// An ACS3-signed request to any API version; `body` is a JSON body sent
/// beside the query (as the tea CAS SDK repeats its parameters there).
pub fn acs3_request_for(
    creds: &Creds,
    at: OffsetDateTime,
    version: &str,
    action: &str,
    business: &[(&str, &str)],
    body: Option<&str>,
) -> Request<Body> {
    let query = Params::from_pairs(business.iter().copied());
    let content_type = body.map(|_| "application/json; charset=utf-8");
    let signed = trustdesk_auth::sign::acs3_request(
        "POST",
        "127.0.0.1:8080",
        action,
        version,
        &query,
        body.unwrap_or_default().as_bytes(),
        content_type,
        &creds.id,
        &creds.secret,
        &nonce(),
        at,
    );
    let uri = if signed.query.is_empty() {
        "/".to_owned()
    } else {
        format!("/?{}", signed.query)
    };
    let mut builder = Request::builder().method("POST").uri(uri);
    for (k, v) in &signed.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .expect("request")
}
