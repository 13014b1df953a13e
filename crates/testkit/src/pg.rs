//! A throwaway PostgreSQL cluster on loopback for tests.
//!
//! Why a hand-rolled helper: the crates that do this either download
//! PostgreSQL (`postgresql_embedded`, `pg-embed`), need a Docker engine
//! (`testcontainers`), or shell out to `sudo` when run as root (`pgtemp`);
//! CI runs as root without sudo or network (design notes, stack.md §12.2).
//! Debian's `postgresql` package is all this needs, and the testkit stays
//! free of sqlx: callers get URLs and connect with whatever they use.
//!
//! The recipe: the server binaries come from `$TRUSTDESK_TEST_PG_BINDIR`,
//! else `pg_config --bindir`, else the newest `/usr/lib/postgresql/NN/bin`
//! (Debian keeps them off `PATH`), else `PATH`. `initdb` with trust
//! authentication and no fsync, then `pg_ctl start` on a port picked by
//! binding `127.0.0.1:0`, listening on loopback only, with durability
//! switched off (a test database never has to survive a crash), and the
//! Unix socket inside the temporary directory so that nothing lands in
//! `/var/run/postgresql`. Should another process take the port between the
//! pick and the bind, start retries on a new port.
//!
//! Root: PostgreSQL refuses to run as root. When the effective uid is 0 the
//! temporary directory is handed to the `postgres` system user (created by
//! the Debian package) and `initdb`/`pg_ctl` run as that user through
//! `CommandExt::{uid, gid}`; no sudo, no unsafe code. `psql` needs no such
//! care and runs as the caller.
//!
//! Cleanup: `Drop` stops the server (`pg_ctl -m immediate stop`) and removes
//! the directory. That does not cover [`shared`] (statics never drop) nor a
//! test process that is killed, so every cluster also gets a watchdog: a
//! tiny `sh` running as the cluster's user, in its own process group (a
//! Ctrl-C on the terminal does not reach it), blocked reading a pipe whose
//! only write end this process holds. When the process ends, however it
//! ends, the kernel closes that end, the watchdog reads end-of-file, stops
//! the server and removes the directory; `Drop` instead writes `disarm` and
//! the watchdog exits without doing anything. A pipe rather than polling
//! `kill -0 <pid>`: as the `postgres` user `kill -0` on a root process fails
//! with EPERM even while it lives, and a pid can be reused; end-of-file on a
//! pipe is exact and immediate.

use std::ffi::OsStr;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

/// The cluster's superuser (trust authentication, no password).
pub const USER: &str = "trustdesk";

/// Environment variable naming the directory with `initdb`, `pg_ctl` and
/// `psql`, overriding the search.
pub const BINDIR_ENV: &str = "TRUSTDESK_TEST_PG_BINDIR";

/// How many ports start tries when the picked one is taken meanwhile.
const PORT_ATTEMPTS: usize = 5;

/// A running PostgreSQL server in a temporary directory, listening on
/// `127.0.0.1`; stopped and removed on drop.
pub struct PgCluster {
    bindir: PathBuf,
    port: u16,
    /// `(uid, gid)` the server processes run as, when not as this process.
    run_as: Option<(u32, u32)>,
    watchdog: Option<Child>,
    // Last: removed after `Drop::drop` stopped the server.
    dir: tempfile::TempDir,
}

/// One cluster per test process, started on first use and stopped by its
/// watchdog when the process exits. Panics when it cannot start (with the
/// reason, e.g. the package to install).
pub fn shared() -> &'static PgCluster {
    static SHARED: OnceLock<PgCluster> = OnceLock::new();
    SHARED.get_or_init(|| PgCluster::start().unwrap_or_else(|e| panic!("{e}")))
}

impl PgCluster {
    /// Creates, starts and returns a new cluster (about a second, most of
    /// it `initdb`).
    pub fn start() -> io::Result<PgCluster> {
        Self::start_inner(None)
    }

    /// The same, serving TLS (and plain connections) with this certificate
    /// and key (PEM), for tests of encrypted connections.
    pub fn start_with_tls(cert_pem: &str, key_pem: &str) -> io::Result<PgCluster> {
        Self::start_inner(Some((cert_pem, key_pem)))
    }

    fn start_inner(tls: Option<(&str, &str)>) -> io::Result<PgCluster> {
        let bindir = find_bindir()?;
        let run_as = if effective_uid()? == 0 {
            Some(postgres_user()?)
        } else {
            None
        };
        let dir = tempfile::Builder::new().prefix("trustdesk-pg-").tempdir()?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))?;
        }
        let mut cluster = PgCluster {
            bindir,
            port: 0,
            run_as,
            watchdog: None,
            dir,
        };
        cluster.initdb()?;
        if let Some((cert, key)) = tls {
            cluster.enable_tls(cert, key)?;
        }
        // Armed before the server can exist: from here on an error return
        // drops `cluster`, and a killed process leaves it to the watchdog.
        cluster.watchdog = Some(cluster.spawn_watchdog()?);
        cluster.start_server()?;
        Ok(cluster)
    }

    /// The TCP port on `127.0.0.1`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of the `postgres` maintenance database.
    pub fn url(&self) -> String {
        self.database_url("postgres")
    }

    /// URL of the database `name` (which need not exist).
    pub fn database_url(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// The directory the binaries were taken from.
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// Creates the empty database `name` (ASCII letters, digits and `_`,
    /// not starting with a digit, at most 63 bytes) and returns its URL.
    pub fn create_database(&self, name: &str) -> io::Result<String> {
        self.create(name, None)
    }

    /// Creates the database `name` as a copy of `template` (migrate a
    /// template once, copy it per test) and returns its URL. The template
    /// must have no open connections.
    pub fn create_database_from(&self, name: &str, template: &str) -> io::Result<String> {
        check_name(template)?;
        self.create(name, Some(template))
    }

    /// Creates a database with a new unique name, `t_<uuid>`, and returns
    /// its URL.
    pub fn fresh_database(&self) -> io::Result<String> {
        self.create_database(&format!("t_{}", uuid::Uuid::new_v4().simple()))
    }

    /// Runs `sql` with the cluster's `psql` in `database` and returns what
    /// it prints, unaligned and without headers (`select 1` gives `"1"`).
    pub fn psql(&self, database: &str, sql: &str) -> io::Result<String> {
        let psql = self.bindir.join("psql");
        let psql = if psql.is_file() {
            psql
        } else {
            PathBuf::from("psql")
        };
        let port = self.port.to_string();
        let out = command(&psql, None, self.dir.path())
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &port, "-U", USER, "-d", database])
            .args(["-c", sql])
            .output()
            .map_err(|e| spawn_error(&psql, e))?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "psql on {} failed ({}): {}",
                self.database_url(database),
                out.status,
                output_text(&out).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    fn create(&self, name: &str, template: Option<&str>) -> io::Result<String> {
        check_name(name)?;
        let sql = match template {
            Some(t) => format!("CREATE DATABASE \"{name}\" TEMPLATE \"{t}\""),
            None => format!("CREATE DATABASE \"{name}\""),
        };
        self.psql("postgres", &sql)?;
        Ok(self.database_url(name))
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// A command for a server binary, as the cluster's user.
    fn server_command(&self, program: &str) -> (PathBuf, Command) {
        let path = self.bindir.join(program);
        let cmd = command(&path, self.run_as, self.dir.path());
        (path, cmd)
    }

    fn initdb(&self) -> io::Result<()> {
        let (path, mut cmd) = self.server_command("initdb");
        let out = cmd
            .arg("-D")
            .arg(self.data())
            .args(["-U", USER, "--auth=trust", "-N", "-E", "UTF8", "--locale=C"])
            .output()
            .map_err(|e| spawn_error(&path, e))?;
        if !out.status.success() {
            let hint = match self.run_as {
                Some(_) => format!(
                    " (running as root, so initdb ran as the `postgres` user, which must be \
                     able to reach {}; set TMPDIR to a directory it can traverse)",
                    self.dir.path().display()
                ),
                None => String::new(),
            };
            return Err(io::Error::other(format!(
                "initdb failed ({}){hint}: {}",
                out.status,
                output_text(&out).trim()
            )));
        }
        Ok(())
    }

    /// `server.crt` / `server.key` in the data directory (PostgreSQL's
    /// default names), the key readable by the server's user only, and
    /// `ssl = on`.
    fn enable_tls(&self, cert: &str, key: &str) -> io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let data = self.data();
        for (name, pem, mode) in [("server.crt", cert, 0o644), ("server.key", key, 0o600)] {
            let path = data.join(name);
            std::fs::write(&path, pem)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
            if let Some((uid, gid)) = self.run_as {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
            }
        }
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))?;
        writeln!(conf, "ssl = on")
    }

    fn start_server(&mut self) -> io::Result<()> {
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            self.port = free_port()?;
            let log_start = std::fs::metadata(self.log_path()).map_or(0, |m| m.len());
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
                self.port,
                shell_quote(&self.dir.path().to_string_lossy()),
            );
            let (path, mut cmd) = self.server_command("pg_ctl");
            let out = cmd
                .arg("-D")
                .arg(self.data())
                .args(["-w", "-l"])
                .arg(self.log_path())
                .args(["-o", &options, "start"])
                .output()
                .map_err(|e| spawn_error(&path, e))?;
            if out.status.success() {
                return Ok(());
            }
            let log = self.log_since(log_start);
            last = format!(
                "PostgreSQL did not start on 127.0.0.1:{} ({}): {}\n--- end of the server log ---\n{}",
                self.port,
                out.status,
                output_text(&out).trim(),
                log.trim_end()
            );
            // Stop whatever may have half-started before trying again.
            self.stop_server();
            let port_taken =
                log.contains("Address already in use") || log.contains("could not bind");
            if !port_taken {
                break;
            }
        }
        Err(io::Error::other(last))
    }

    /// The end of the server log from byte `from`, at most the last 4 KiB.
    fn log_since(&self, from: u64) -> String {
        let Ok(mut f) = std::fs::File::open(self.log_path()) else {
            return "(no log)".into();
        };
        let len = f.metadata().map_or(0, |m| m.len());
        let start = from.max(len.saturating_sub(4096));
        let mut buf = Vec::new();
        if f.seek(SeekFrom::Start(start)).is_err() || f.read_to_end(&mut buf).is_err() {
            return "(unreadable log)".into();
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// `pg_ctl -m immediate stop`; quiet, since the server may be down.
    fn stop_server(&self) {
        let (_, mut cmd) = self.server_command("pg_ctl");
        let _ = cmd
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    fn spawn_watchdog(&self) -> io::Result<Child> {
        const SCRIPT: &str = r#"trap '' INT HUP
if read -r line && [ "$line" = disarm ]; then exit 0; fi
"$1" -D "$2" -m immediate stop >/dev/null 2>&1
rm -rf "$3""#;
        let (pg_ctl, _) = self.server_command("pg_ctl");
        let mut cmd = command(Path::new("/bin/sh"), self.run_as, self.dir.path());
        cmd.arg("-c")
            .arg(SCRIPT)
            .arg("trustdesk-pg-watchdog")
            .arg(pg_ctl)
            .arg(self.data())
            .arg(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        cmd.spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start the watchdog: {e}")))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop_server();
        if let Some(mut watchdog) = self.watchdog.take() {
            if let Some(mut stdin) = watchdog.stdin.take() {
                let _ = stdin.write_all(b"disarm\n");
            }
            let _ = watchdog.wait();
        }
    }
}

/// A command with a clean `PG*` environment, no stdin, run in `cwd` (the
/// caller's directory may be closed to the `postgres` user) and, when
/// `run_as` is given, as that user.
fn command(program: &Path, run_as: Option<(u32, u32)>, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(cwd).stdin(Stdio::null());
    if let Some((uid, gid)) = run_as {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

const INSTALL_HINT: &str = "install the Debian package `postgresql` \
     (`apt-get install -y postgresql`) or set TRUSTDESK_TEST_PG_BINDIR to the directory holding initdb";

fn find_bindir() -> io::Result<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os(BINDIR_ENV) {
        let dir = PathBuf::from(dir);
        return if has_server(&dir) {
            Ok(dir)
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{BINDIR_ENV}={} has no initdb and pg_ctl: point it at PostgreSQL's \
                     server binaries (e.g. /usr/lib/postgresql/15/bin)",
                    dir.display()
                ),
            ))
        };
    }
    if let Ok(out) = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_server(&dir) {
            return Ok(dir);
        }
    }
    // Debian: /usr/lib/postgresql/<major>/bin, newest first.
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_server(dir))
        .collect();
    debian.sort();
    if let Some((_, dir)) = debian.pop() {
        return Ok(dir);
    }
    if let Some(dir) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| has_server(dir))
    {
        return Ok(dir);
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "PostgreSQL server binaries not found (no initdb from `pg_config --bindir`, \
             /usr/lib/postgresql/*/bin or PATH; a client-only psql is not enough): {INSTALL_HINT}"
        ),
    ))
}

/// The effective uid, from `/proc/self/status` (its `Uid:` line lists the
/// real, effective, saved and filesystem uids), else the owner of
/// `/proc/self`.
fn effective_uid() -> io::Result<u32> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(euid) = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|euid| euid.parse().ok())
    {
        return Ok(euid);
    }
    Ok(std::fs::metadata("/proc/self")?.uid())
}

/// `(uid, gid)` of the `postgres` user, from `/etc/passwd`.
fn postgres_user() -> io::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let mut f = line.split(':');
            if f.next()? != "postgres" {
                return None;
            }
            let uid = f.nth(1)?.parse().ok()?;
            let gid = f.next()?.parse().ok()?;
            Some((uid, gid))
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "running as root, and PostgreSQL refuses to: the cluster must run as the \
                     `postgres` user, which /etc/passwd lacks; {INSTALL_HINT} (the package \
                     creates the user), or run the tests as a non-root user"
                ),
            )
        })
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn check_name(name: &str) -> io::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "database name {name:?}: use 1 to 63 ASCII letters, digits and `_`, \
                 not starting with a digit"
            ),
        ))
    }
}

/// Single-quotes `s` for the shell `pg_ctl` hands `-o` to.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn spawn_error(program: &Path, e: io::Error) -> io::Error {
    let hint = if e.kind() == io::ErrorKind::NotFound {
        format!("; {INSTALL_HINT}")
    } else {
        String::new()
    };
    io::Error::new(
        e.kind(),
        format!("cannot run {}: {e}{hint}", program_name(program)),
    )
}

fn program_name(program: &Path) -> String {
    program.file_name().map_or_else(
        || program.display().to_string(),
        |n| OsStr::to_string_lossy(n).into_owned(),
    )
}

fn output_text(out: &Output) -> String {
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !stdout.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&stdout);
    }
    text
}

#[cfg(test)]
mod tests {
    use std::net::TcpStream;
    use std::time::Duration;

    use super::*;

    fn refuses(port: u16) -> bool {
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(1))
            .is_err()
    }

    #[test]
    fn databases_answer_and_drop_stops_the_server() {
        let cluster = PgCluster::start().expect("start");
        let port = cluster.port();
        let dir = cluster.dir.path().to_owned();
        assert_eq!(
            cluster.url(),
            format!("postgres://trustdesk@127.0.0.1:{port}/postgres")
        );

        let a = cluster.fresh_database().expect("first database");
        let b = cluster.create_database("second_db").expect("second");
        assert_eq!(b, cluster.database_url("second_db"));
        let a_name = a.rsplit('/').next().unwrap();
        assert!(a_name.starts_with("t_") && a_name.len() == 34, "{a}");
        for db in [a_name, "second_db"] {
            assert_eq!(cluster.psql(db, "select 1").expect("select 1"), "1");
        }

        cluster.psql("second_db", "create table x (v int)").unwrap();
        let c = cluster.create_database_from("third", "second_db").unwrap();
        assert!(c.ends_with("/third"));
        assert_eq!(
            cluster.psql("third", "select count(*) from x").unwrap(),
            "0"
        );

        let dup = cluster.create_database("second_db").unwrap_err();
        assert!(dup.to_string().contains("already exists"), "{dup}");
        let bad = cluster.create_database("x\"; drop").unwrap_err();
        assert_eq!(bad.kind(), io::ErrorKind::InvalidInput);

        drop(cluster);
        assert!(refuses(port), "port {port} still accepts connections");
        assert!(!dir.exists(), "{} left behind", dir.display());
    }

    /// What happens when the test process dies: the watchdog's pipe closes.
    #[test]
    fn watchdog_stops_the_server_when_the_pipe_closes() {
        let mut cluster = PgCluster::start().expect("start");
        let port = cluster.port();
        let dir = cluster.dir.path().to_owned();
        assert_eq!(cluster.psql("postgres", "select 1").unwrap(), "1");

        let mut watchdog = cluster.watchdog.take().expect("watchdog");
        drop(watchdog.stdin.take());
        watchdog.wait().expect("watchdog exits");
        assert!(refuses(port), "port {port} still accepts connections");
        assert!(!dir.exists(), "{} left behind", dir.display());
    }

    #[test]
    fn shared_is_one_cluster() {
        let a = shared();
        assert!(std::ptr::eq(a, shared()));
        let url = a.fresh_database().unwrap();
        let name = url.rsplit('/').next().unwrap();
        assert_eq!(a.psql(name, "select 1").unwrap(), "1");
    }

    #[test]
    fn names_are_checked() {
        for good in ["a", "t_0123", "_x", &"a".repeat(63)] {
            check_name(good).unwrap();
        }
        for bad in ["", "1a", "a-b", "a b", "é", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
