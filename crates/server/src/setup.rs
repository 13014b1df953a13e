//! Start-up chores: the data directory, the master key, and showing the
//! root credentials exactly once.
//!
//! Master key resolution, first match wins: `TRUSTDESK_MASTER_KEY`, then
//! `TRUSTDESK_MASTER_KEY_FILE`, then `<data dir>/master.key`. If none exists
//! and the database is new, a key is generated into `<data dir>/master.key`
//! (mode 0600) with a warning: a key beside the data it protects only
//! guards against leaked database files, not a leaked data directory. If
//! the database already exists and no key is found, start-up stops: a new
//! key could not open the stored secrets. On a database several nodes share
//! (PostgreSQL) no key is ever generated: each node must be given the same.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use trustdesk_secrets::MasterKey;

use crate::config::Config;

pub const MASTER_KEY_FILE: &str = "master.key";
pub const ROOT_CREDENTIALS_FILE: &str = "root-credentials.json";

/// Creates the data directory (0700) if needed.
pub fn ensure_data_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting data directory {}", dir.display()))?;
    }
    Ok(())
}

/// Writes a new file readable only by its owner; refuses to overwrite.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    Ok(())
}

/// Replaces `path` with a new owner-only file holding `contents`: written
/// beside it, synced, then renamed over it, so a crash leaves either the
/// old or the new file, never half of one.
pub fn replace_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let _ = fs::remove_file(&tmp);
    write_private(&tmp, contents)?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Where the master key came from, for the start-up log.
#[derive(Debug)]
pub enum KeySource {
    Env,
    File(PathBuf),
    Generated(PathBuf),
}

/// The database the key protects, which decides what happens when no key
/// is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// An SQLite database yet to be created: a key is generated.
    NewSqlite,
    /// An existing SQLite database: its secrets need the key it was made with.
    ExistingSqlite,
    /// A database several nodes share (PostgreSQL): every node must be
    /// given the same key, so none invents one.
    Shared,
}

/// Finds or (for a new SQLite database) creates the master key.
pub fn master_key(config: &Config, database: Database) -> anyhow::Result<(MasterKey, KeySource)> {
    if let Some(text) = &config.master_key {
        let key = MasterKey::from_base64(&text.0).context("TRUSTDESK_MASTER_KEY")?;
        return Ok((key, KeySource::Env));
    }
    let default_path = config.data_dir.join(MASTER_KEY_FILE);
    let path = config
        .master_key_file
        .clone()
        .unwrap_or(default_path.clone());
    if path.exists() {
        let text = fs::read_to_string(&path)
            .with_context(|| format!("reading master key {}", path.display()))?;
        let key = MasterKey::from_base64(&text)
            .with_context(|| format!("master key file {}", path.display()))?;
        return Ok((key, KeySource::File(path)));
    }
    if config.master_key_file.is_some() {
        bail!("master key file {} does not exist", path.display());
    }
    match database {
        Database::NewSqlite => {}
        Database::ExistingSqlite => bail!(
            "the database exists but no master key was found (set TRUSTDESK_MASTER_KEY or TRUSTDESK_MASTER_KEY_FILE, \
             or restore {}); a new key could not decrypt the stored secrets",
            default_path.display()
        ),
        Database::Shared => bail!(
            "with PostgreSQL every node needs the same master key: set TRUSTDESK_MASTER_KEY (base64 of 32 random \
             bytes, e.g. `openssl rand -base64 32`) or TRUSTDESK_MASTER_KEY_FILE on every node"
        ),
    }
    let (key, text) = MasterKey::generate()?;
    write_private(&default_path, format!("{}\n", text.as_str()).as_bytes())?;
    Ok((key, KeySource::Generated(default_path)))
}

/// Whether the SQLite database behind `url` has yet to be created.
pub fn sqlite_is_new(url: &str) -> bool {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    !Path::new(path).exists()
}
