//! Configuration, layered: built-in defaults, then a TOML file (`--config`),
//! then environment variables prefixed `TRUSTDESK_` (e.g. `TRUSTDESK_LISTEN`
//! sets `listen`). Later layers win; a bad value is reported with the layer
//! it came from.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A string that must never be printed (master key, bootstrap secret).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Redacted(pub String);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("**redacted**")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Every setting, with its environment variable in the doc comment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// `TRUSTDESK_LISTEN`: address to serve on.
    pub listen: SocketAddr,
    /// `TRUSTDESK_DATA_DIR`: holds the SQLite database, the generated master
    /// key and the root credentials file.
    pub data_dir: PathBuf,
    /// `TRUSTDESK_DATABASE_URL`: `sqlite://<path>` (default
    /// `<data_dir>/trustdesk.db`) or `postgres://user:password@host:port/db`
    /// (add `?sslmode=verify-full&sslrootcert=<ca.pem>` for TLS), which
    /// several nodes may share.
    pub database_url: Option<String>,
    /// `TRUSTDESK_DATABASE_MAX_CONNECTIONS`: PostgreSQL pool size per node.
    pub database_max_connections: u32,
    /// `TRUSTDESK_LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// `TRUSTDESK_LOG`: log filter (`info`, `trustdesk=debug,warn`, ...);
    /// `RUST_LOG` is used when this is unset.
    pub log: Option<String>,
    /// `TRUSTDESK_MASTER_KEY`: base64 of the 256-bit master key.
    pub master_key: Option<Redacted>,
    /// `TRUSTDESK_MASTER_KEY_FILE`: file holding the base64 master key.
    pub master_key_file: Option<PathBuf>,
    /// `TRUSTDESK_BOOTSTRAP_ACCESS_KEY_ID` / `_SECRET`: the root key pair to
    /// create on first start instead of generating one.
    pub bootstrap_access_key_id: Option<String>,
    pub bootstrap_access_key_secret: Option<Redacted>,
    /// `TRUSTDESK_BOOTSTRAP_API_KEY`: the CertCentral API key of the first
    /// administrator, created on first start instead of generating one.
    pub bootstrap_api_key: Option<Redacted>,
    /// `TRUSTDESK_BOOTSTRAP_ADMIN_USERNAME` / `_EMAIL`: that
    /// administrator's username and e-mail.
    pub bootstrap_admin_username: String,
    pub bootstrap_admin_email: String,
    /// `TRUSTDESK_MAX_USERS_PER_ACCOUNT`: RAM user limit (vendor: 1000).
    pub max_users_per_account: u32,
    /// `TRUSTDESK_REQUEST_TIMEOUT_SECS`: a request still running after this
    /// long is answered 408.
    pub request_timeout_secs: u64,
    /// `TRUSTDESK_MAX_BODY_BYTES`: larger bodies are refused with 413 before
    /// they are read.
    pub max_body_bytes: usize,
    /// `TRUSTDESK_SHUTDOWN_GRACE_SECS`: how long in-flight requests may take
    /// to finish after SIGTERM/SIGINT.
    pub shutdown_grace_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./trustdesk-data"),
            database_url: None,
            database_max_connections: 16,
            log_format: LogFormat::Text,
            log: None,
            master_key: None,
            master_key_file: None,
            bootstrap_access_key_id: None,
            bootstrap_access_key_secret: None,
            bootstrap_api_key: None,
            bootstrap_admin_username: "admin".to_owned(),
            bootstrap_admin_email: "admin@trustdesk.invalid".to_owned(),
            max_users_per_account: 1000,
            request_timeout_secs: 30,
            max_body_bytes: 1024 * 1024,
            shutdown_grace_secs: 20,
        }
    }
}

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            fig = fig.merge(Toml::file_exact(path));
        }
        fig.merge(Env::prefixed("TRUSTDESK_"))
            .extract()
            .map_err(Box::new)
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("trustdesk.db").display()))
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return its own large error type
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "td.toml",
                "listen = \"127.0.0.1:9000\"\nlog_format = \"json\"\nmax_users_per_account = 5\n",
            )?;
            jail.set_env("TRUSTDESK_MAX_USERS_PER_ACCOUNT", "7");
            jail.set_env("TRUSTDESK_MASTER_KEY", "c2VjcmV0");
            let c = Config::load(Some(Path::new("td.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.listen.port(), 9000);
            assert_eq!(c.log_format, LogFormat::Json);
            assert_eq!(c.max_users_per_account, 7);
            assert!(
                !format!("{c:?}").contains("c2VjcmV0"),
                "secrets must not be printed"
            );
            assert_eq!(c.database_url(), "sqlite://./trustdesk-data/trustdesk.db");
            Ok(())
        });
    }

    #[test]
    fn bad_values_name_their_source() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TRUSTDESK_LISTEN", "not an address");
            let e = Config::load(None).unwrap_err().to_string();
            assert!(e.contains("LISTEN") && e.contains("TRUSTDESK_"), "{e}");
            Ok(())
        });
    }
}
