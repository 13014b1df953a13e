//! `serve` and `migrate`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;
use trustdesk_domain::{Store, SystemClock};
use trustdesk_secrets::AccessKeySecret;
use trustdesk_service::{Bootstrap, BootstrapKey, Limits, Service};
use trustdesk_store_postgres::{PgOptions, PgStore};
use trustdesk_store_sqlite::{SqliteOptions, SqliteStore};

use crate::app::{self, HttpLimits};
use crate::config::Config;
use crate::setup::{self, KeySource, ROOT_CREDENTIALS_FILE};

/// Whether `url` names a PostgreSQL database (several nodes may share it).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens (creating and migrating if needed) the store named by the URL:
/// `postgres://…` or `postgresql://…` for PostgreSQL, anything else for
/// SQLite (`sqlite://path` or a plain path).
pub async fn open_store(config: &Config, url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let context = || format!("opening the database {}", redact_url(url));
    if is_postgres(url) {
        let store = PgStore::open(url, pg_options(config))
            .await
            .with_context(context)?;
        return Ok(Arc::new(store));
    }
    let store = SqliteStore::open(url, SqliteOptions::default())
        .await
        .with_context(context)?;
    Ok(Arc::new(store))
}

pub fn pg_options(config: &Config) -> PgOptions {
    PgOptions {
        max_connections: config.database_max_connections,
        ..PgOptions::default()
    }
}

/// Database URLs may carry passwords (`postgres://u:pw@h/db`); logs show
/// them without.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// `trustdesk migrate`: bring the schema up to date and exit.
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    setup::ensure_data_dir(&config.data_dir)?;
    let url = config.database_url();
    open_store(config, &url).await?;
    tracing::info!(database = %redact_url(&url), "schema is up to date");
    Ok(())
}

fn bootstrap_key(config: &Config) -> anyhow::Result<Option<BootstrapKey>> {
    match (
        &config.bootstrap_access_key_id,
        &config.bootstrap_access_key_secret,
    ) {
        (None, None) => Ok(None),
        (Some(id), Some(secret)) => {
            let key = BootstrapKey {
                id: id.clone(),
                secret: AccessKeySecret::new(secret.0.clone()),
            };
            key.validate().map_err(anyhow::Error::msg)?;
            Ok(Some(key))
        }
        _ => bail!(
            "set both TRUSTDESK_BOOTSTRAP_ACCESS_KEY_ID and TRUSTDESK_BOOTSTRAP_ACCESS_KEY_SECRET, or neither"
        ),
    }
}

#[derive(Serialize)]
struct RootCredentials<'a> {
    account_id: String,
    access_key_id: &'a str,
    access_key_secret: &'a str,
}

/// Builds the service from configuration: data dir, master key, store,
/// bootstrap. Shows generated root credentials once.
pub async fn prepare(config: &Config) -> anyhow::Result<Service> {
    setup::ensure_data_dir(&config.data_dir)?;
    let url = config.database_url();
    let database = if is_postgres(&url) {
        setup::Database::Shared
    } else if setup::sqlite_is_new(&url) {
        setup::Database::NewSqlite
    } else {
        setup::Database::ExistingSqlite
    };
    let (master, source) = setup::master_key(config, database)?;
    match &source {
        KeySource::Env => {
            tracing::info!(key_id = %master.id_hex(), "master key from TRUSTDESK_MASTER_KEY")
        }
        KeySource::File(p) => {
            tracing::info!(key_id = %master.id_hex(), path = %p.display(), "master key from file")
        }
        KeySource::Generated(p) => tracing::warn!(
            key_id = %master.id_hex(),
            path = %p.display(),
            "generated a new master key inside the data directory; in production keep it elsewhere \
             (TRUSTDESK_MASTER_KEY_FILE) so a copy of the data directory alone cannot decrypt secrets"
        ),
    }
    let store = open_store(config, &url).await?;
    // Nodes starting together against a new database must not each create
    // an account: on PostgreSQL they take turns (a session advisory lock,
    // released when the guard drops, or when a crashed node's connection
    // goes away).
    let start_lock = if is_postgres(&url) {
        Some(
            PgStore::start_lock(&url)
                .await
                .context("waiting for other nodes to finish starting")?,
        )
    } else {
        None
    };
    let limits = Limits {
        max_users_per_account: config.max_users_per_account,
        ..Limits::default()
    };
    let service = Service::new(store, master, Arc::new(SystemClock), limits);
    let account = match service.bootstrap(bootstrap_key(config)?).await? {
        Bootstrap::Existing { account } => {
            tracing::info!(account = %account, "database opened");
            account
        }
        Bootstrap::Created {
            account,
            key_id,
            generated_secret: None,
        } => {
            tracing::info!(account = %account, access_key_id = %key_id, "root account created with the bootstrap access key");
            account
        }
        Bootstrap::Created {
            account,
            key_id,
            generated_secret: Some(secret),
        } => {
            let path = config.data_dir.join(ROOT_CREDENTIALS_FILE);
            let json = serde_json::to_string_pretty(&RootCredentials {
                account_id: account.to_string(),
                access_key_id: &key_id,
                access_key_secret: secret.expose(),
            })?;
            setup::write_private(&path, json.as_bytes())?;
            // Printed once, to stderr, never to the log: later starts find
            // the account and have no secret to show.
            eprintln!(
                "\n=== trustdesk: root account created ===\n  AccountId:       {account}\n  AccessKeyId:     {key_id}\n  AccessKeySecret: {}\n  (also written to {} with mode 0600; this is shown only once)\n",
                secret.expose(),
                path.display()
            );
            tracing::info!(account = %account, access_key_id = %key_id, "root account created");
            account
        }
    };
    bootstrap_administrator(config, &service, account).await?;
    drop(start_lock);
    Ok(service)
}

/// Creates the account's first CertCentral administrator and its API key
/// unless the account has an Administrator. A generated key is shown once
/// and added to the root credentials file.
async fn bootstrap_administrator(
    config: &Config,
    service: &Service,
    account: trustdesk_domain::AccountId,
) -> anyhow::Result<()> {
    use trustdesk_domain::certcentral::fields;
    let username = &config.bootstrap_admin_username;
    let email = &config.bootstrap_admin_email;
    if fields::username(username).is_err() {
        bail!(
            "TRUSTDESK_BOOTSTRAP_ADMIN_USERNAME must be 1-255 characters of a-z A-Z 0-9 @ - _ + ."
        );
    }
    if fields::email(email).is_err() {
        bail!("TRUSTDESK_BOOTSTRAP_ADMIN_EMAIL must be a valid e-mail address");
    }
    let key = match &config.bootstrap_api_key {
        None => None,
        Some(k) if k.0.trim().is_empty() || k.0.trim() != k.0 || k.0.len() > 255 => {
            bail!(
                "TRUSTDESK_BOOTSTRAP_API_KEY must be 1-255 characters without surrounding whitespace"
            )
        }
        Some(k) => Some(AccessKeySecret::new(k.0.clone())),
    };
    let created = service
        .bootstrap_administrator(
            account,
            &trustdesk_domain::UserName::from_trusted(username.clone()),
            &trustdesk_domain::Email::from_trusted(email.clone()),
            key,
        )
        .await
        .with_context(|| format!("creating the CertCentral administrator `{username}`"))?;
    match created {
        None => {}
        Some((user, None)) => {
            tracing::info!(user = %user, username = %username, "CertCentral administrator created with the bootstrap API key")
        }
        Some((user, Some(secret))) => {
            let path = config.data_dir.join(ROOT_CREDENTIALS_FILE);
            let mut doc = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .filter(serde_json::Value::is_object)
                .unwrap_or_else(|| serde_json::json!({ "account_id": account.to_string() }));
            doc["certcentral_username"] = username.clone().into();
            doc["certcentral_api_key"] = secret.expose().into();
            setup::replace_private(&path, serde_json::to_string_pretty(&doc)?.as_bytes())?;
            eprintln!(
                "\n=== trustdesk: CertCentral administrator created ===\n  username:    {username}\n  X-DC-DEVKEY: {}\n  (also written to {} with mode 0600; this is shown only once)\n",
                secret.expose(),
                path.display()
            );
            tracing::info!(user = %user, username = %username, "CertCentral administrator created");
        }
    }
    Ok(())
}

/// `trustdesk serve`.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let service = prepare(&config).await?;
    let housekeeping = service.spawn_housekeeping();
    let limits = HttpLimits {
        max_body_bytes: config.max_body_bytes,
        request_timeout: Duration::from_secs(config.request_timeout_secs),
    };
    let router = app::router(service.clone(), &limits);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(listen = %listener.local_addr()?, startup_ms = started.elapsed().as_millis() as u64, "trustdesk is serving");

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    tokio::select! {
        result = server => result.context("serving")?,
        _ = async {
            let _ = stop_rx.wait_for(|stopped| *stopped).await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!(grace_secs = grace.as_secs(), "in-flight requests did not finish in time"),
    }
    housekeeping.abort();
    service.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: no new connections, finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            super::redact_url("postgres://u:pw@db:5432/x"),
            "postgres://***@db:5432/x"
        );
        assert_eq!(super::redact_url("sqlite://./d/t.db"), "sqlite://./d/t.db");
    }
}
