//! Tests that run the real `trustdesk` binary: first start, restart,
//! SIGTERM, `kill -9` durability, secrets at rest, the command line.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trustdesk_auth::Params;
use trustdesk_testkit::nonce;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_trustdesk");

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
    log: PathBuf,
}

impl Server {
    pub(crate) fn start(dir: &Path, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let log = dir.join(format!("server-{port}.log"));
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .env_clear()
            .env("TRUSTDESK_LISTEN", format!("127.0.0.1:{port}"))
            .env("TRUSTDESK_DATA_DIR", dir.join("data"))
            .env("TRUSTDESK_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn trustdesk");
        let mut s = Server { child, port, log };
        s.wait_ready();
        s
    }

    pub(crate) fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("server exited early with {status}: {}", self.log_text());
            }
            if http(self.port, "GET", "/readyz", "")
                .map(|(s, _)| s == 200)
                .unwrap_or(false)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server not ready: {}", self.log_text());
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn kill9(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Minimal HTTP/1.1 client (one request per connection).
pub(crate) fn http(
    port: u16,
    method: &str,
    target: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    http_with(port, method, target, "", body)
}

/// A CertCentral call with `key` as `X-DC-DEVKEY`.
pub(crate) fn cc(port: u16, key: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    http_with(
        port,
        method,
        &format!("/services/v2{path}"),
        &format!("X-DC-DEVKEY: {key}\r\nContent-Type: application/json\r\n"),
        body,
    )
    .unwrap()
}

/// `extra`: more header lines, each ending in CRLF.
pub(crate) fn http_with(
    port: u16,
    method: &str,
    target: &str,
    extra: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

#[allow(clippy::disallowed_methods)] // the real server checks timestamps against the wall clock
pub(crate) fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

pub(crate) fn signed(
    port: u16,
    id: &str,
    secret: &str,
    action: &str,
    business: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    signed_for(port, id, secret, trustdesk_testkit::RAM, action, business)
}

pub(crate) fn signed_for(
    port: u16,
    id: &str,
    secret: &str,
    version: &str,
    action: &str,
    business: &[(&str, &str)],
) -> std::io::Result<(u16, String)> {
    let mut p = Params::from_pairs([("Action", action), ("Version", version), ("Format", "JSON")]);
    for (k, v) in business {
        p.insert(*k, *v);
    }
    let q = trustdesk_auth::sign::v1_query("POST", p, id, secret, &nonce(), now());
    http(port, "POST", &format!("/?{q}"), "")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn first_start_shows_credentials_once_and_restarts_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let creds_path = dir.path().join("data/root-credentials.json");
    let creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&creds_path).unwrap()).unwrap();
    let id = creds["access_key_id"].as_str().unwrap().to_owned();
    let secret = creds["access_key_secret"].as_str().unwrap().to_owned();
    assert_eq!(creds["account_id"].as_str().unwrap().len(), 16);
    assert!(id.starts_with("LTAI") && id.len() == 24);
    assert_eq!(secret.len(), 30);
    assert_eq!(mode(&creds_path), 0o600);
    assert_eq!(mode(&dir.path().join("data/master.key")), 0o600);
    let first_log = server.log_text();
    assert!(
        first_log.contains(&secret),
        "the generated secret is shown once on stderr"
    );
    assert!(first_log.contains("master key"), "{first_log}");
    // The CertCentral administrator's generated key: in the same file,
    // shown once, and working.
    let devkey = creds["certcentral_api_key"].as_str().unwrap().to_owned();
    assert_eq!(devkey.len(), 47);
    assert_eq!(creds["certcentral_username"], "admin");
    assert!(first_log.contains(&devkey));
    let (status, body) = cc(server.port, &devkey, "GET", "/user/me", "");
    assert_eq!(status, 200, "{body}");
    let (status, body) = signed(
        server.port,
        &id,
        &secret,
        "CreateUser",
        &[("UserName", "persisted")],
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(server.terminate().success(), "SIGTERM exits 0");

    let again = Server::start(dir.path(), &[]);
    assert!(
        !again.log_text().contains(&secret) && !again.log_text().contains(&devkey),
        "later starts never print secrets"
    );
    let (status, body) = cc(again.port, &devkey, "GET", "/user/me", "");
    assert_eq!(status, 200, "{body}");
    let (status, body) = signed(
        again.port,
        &id,
        &secret,
        "GetUser",
        &[("UserName", "persisted")],
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(again.terminate().success());
}

pub(crate) const ROOT_ID: &str = "LTAI5tBinaryTestRootKey1";
pub(crate) const ROOT_SECRET: &str = "BinaryTestRootSecret0123456789";

pub(crate) fn boot_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("TRUSTDESK_BOOTSTRAP_ACCESS_KEY_ID", ROOT_ID),
        ("TRUSTDESK_BOOTSTRAP_ACCESS_KEY_SECRET", ROOT_SECRET),
        (
            "TRUSTDESK_MASTER_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        ),
    ]
}

/// What a crash-test worker wrote and got a 2xx for.
#[derive(Clone, Debug)]
enum Acked {
    RamUser(String),
    CcUser(u64),
    Certificate(String),
}

/// Five rounds: concurrent RAM user creates, CertCentral user adds and
/// certificate uploads, `kill -9` at a different moment each round, then a
/// restart that must find every acknowledged write, whole (each listed
/// certificate still opens with its key; each CertCentral user is the RAM
/// user of the same id), and nothing listed that is half there.
#[test]
fn acknowledged_writes_survive_kill_9() {
    const DEVKEY: &str = "CrashTestDevKey0123456789abcdefghijklmnopqrstu";
    let dir = tempfile::tempdir().unwrap();
    let mut env = boot_env();
    env.push(("TRUSTDESK_BOOTSTRAP_API_KEY", DEVKEY));
    let pair = Arc::new(trustdesk_testkit::certs::self_signed(
        &["crash.example.com"],
        trustdesk_testkit::certs::Alg::P256,
        now(),
    ));
    let mut all_acked: Vec<Acked> = Vec::new();
    // 5 rounds here; bench/crash.sh runs 20.
    let rounds: u64 = std::env::var("TRUSTDESK_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    for round in 0..rounds {
        let server = Server::start(dir.path(), &env);
        let port = server.port;
        let acked = Arc::new(Mutex::new(Vec::<Acked>::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers: Vec<_> = (0..9)
            .map(|w| {
                let (acked, stop, pair) = (acked.clone(), stop.clone(), pair.clone());
                std::thread::spawn(move || {
                    let mut i = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let name = format!("crash-{round}-{w}-{i}");
                        i += 1;
                        match w % 3 {
                            0 => {
                                if let Ok((200, _)) = signed(port, ROOT_ID, ROOT_SECRET, "CreateUser", &[("UserName", &name)]) {
                                    acked.lock().unwrap().push(Acked::RamUser(name));
                                }
                            }
                            1 => {
                                let body = format!(
                                    r#"{{"username":"{name}","first_name":"C","last_name":"R","email":"c@example.test","access_roles":[{{"id":5}}]}}"#
                                );
                                if let Ok((201, reply)) = http_with(
                                    port,
                                    "POST",
                                    "/services/v2/user",
                                    &format!("X-DC-DEVKEY: {DEVKEY}\r\nContent-Type: application/json\r\n"),
                                    &body,
                                ) {
                                    let id = serde_json::from_str::<serde_json::Value>(&reply).unwrap()["id"].as_u64().unwrap();
                                    acked.lock().unwrap().push(Acked::CcUser(id));
                                }
                            }
                            _ => {
                                let r = signed_for(
                                    port,
                                    ROOT_ID,
                                    ROOT_SECRET,
                                    trustdesk_testkit::CAS,
                                    "CreateUserCertificate",
                                    &[("Name", &name), ("Cert", &pair.cert_pem), ("Key", &pair.key_pem)],
                                );
                                if let Ok((200, _)) = r {
                                    acked.lock().unwrap().push(Acked::Certificate(name));
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(250 + 170 * (round % 6)));
        server.kill9();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        assert!(!acked.is_empty(), "no request succeeded before the kill");
        all_acked.extend(acked);

        // Restart: everything acknowledged in this and earlier rounds.
        let server = Server::start(dir.path(), &env);
        let port = server.port;
        for a in &all_acked {
            match a {
                Acked::RamUser(name) => {
                    let (status, body) =
                        signed(port, ROOT_ID, ROOT_SECRET, "GetUser", &[("UserName", name)])
                            .unwrap();
                    assert_eq!(
                        status, 200,
                        "round {round}: acknowledged user {name} lost: {body}"
                    );
                }
                Acked::CcUser(id) => {
                    let (status, body) = cc(port, DEVKEY, "GET", &format!("/user/{id}"), "");
                    assert_eq!(
                        status, 200,
                        "round {round}: acknowledged CertCentral user {id} lost: {body}"
                    );
                    let name =
                        serde_json::from_str::<serde_json::Value>(&body).unwrap()["username"]
                            .as_str()
                            .unwrap()
                            .to_owned();
                    let (status, ram) = signed(
                        port,
                        ROOT_ID,
                        ROOT_SECRET,
                        "GetUser",
                        &[("UserName", &name)],
                    )
                    .unwrap();
                    assert_eq!(status, 200, "{ram}");
                    assert!(ram.contains(&id.to_string()), "one identity: {ram}");
                }
                Acked::Certificate(_) => {}
            }
        }
        // Every listed certificate is whole (its key opens), and every
        // acknowledged one is listed.
        let (status, list) = signed_for(
            port,
            ROOT_ID,
            ROOT_SECRET,
            trustdesk_testkit::CAS,
            "DescribeUserCertificateList",
            &[("ShowSize", "100"), ("CurrentPage", "1")],
        )
        .unwrap();
        assert_eq!(status, 200, "{list}");
        let list: serde_json::Value = serde_json::from_str(&list).unwrap();
        let total = list["TotalCount"].as_u64().unwrap();
        let mut names = Vec::new();
        for page in 1..=total.div_ceil(100) {
            let (_, body) = signed_for(
                port,
                ROOT_ID,
                ROOT_SECRET,
                trustdesk_testkit::CAS,
                "DescribeUserCertificateList",
                &[("ShowSize", "100"), ("CurrentPage", &page.to_string())],
            )
            .unwrap();
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            for c in v["CertificateList"].as_array().unwrap() {
                names.push(c["name"].as_str().unwrap().to_owned());
                let id = c["id"].as_u64().unwrap().to_string();
                let (status, detail) = signed_for(
                    port,
                    ROOT_ID,
                    ROOT_SECRET,
                    trustdesk_testkit::CAS,
                    "DescribeUserCertificateDetail",
                    &[("CertId", &id)],
                )
                .unwrap();
                assert_eq!(status, 200, "{detail}");
                assert!(
                    detail.contains("PRIVATE KEY"),
                    "certificate {id} lost its key"
                );
            }
        }
        assert_eq!(names.len() as u64, total, "the total counts what is listed");
        for a in &all_acked {
            if let Acked::Certificate(name) = a {
                assert!(
                    names.contains(name),
                    "round {round}: acknowledged certificate {name} lost"
                );
            }
        }
        server.kill9();
    }
}

#[test]
fn secrets_never_reach_the_database_or_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = boot_env();
    env.push(("TRUSTDESK_LOG", "debug"));
    const DEVKEY: &str = "BinaryTestBootstrapDevKey0123456789abcdefghijk";
    env.push(("TRUSTDESK_BOOTSTRAP_API_KEY", DEVKEY));
    let server = Server::start(dir.path(), &env);
    let mut secrets = vec![ROOT_SECRET.to_owned(), DEVKEY.to_owned()];
    // CertCentral API keys: a user's key and a service user's key. Only
    // the creating responses carry them.
    let (status, body) = cc(
        server.port,
        DEVKEY,
        "POST",
        "/user",
        r#"{"username":"hygiene","first_name":"H","last_name":"Y","email":"h@example.test","access_roles":[{"id":1}]}"#,
    );
    assert_eq!(status, 201, "{body}");
    let uid = serde_json::from_str::<serde_json::Value>(&body).unwrap()["id"].clone();
    let (status, body) = cc(
        server.port,
        DEVKEY,
        "POST",
        &format!("/key/user/{uid}"),
        r#"{"name":"ci"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let user_key = serde_json::from_str::<serde_json::Value>(&body).unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = cc(
        server.port,
        DEVKEY,
        "POST",
        "/user",
        r#"{"is_api_only":true,"email":"svc@example.test","api_name":"svc"}"#,
    );
    assert_eq!(status, 201, "{body}");
    let svc_key = serde_json::from_str::<serde_json::Value>(&body).unwrap()["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = cc(server.port, &user_key, "GET", "/user/me", "");
    assert_eq!(status, 200);
    let (status, _) = cc(server.port, &svc_key, "GET", "/user/me", "");
    assert_eq!(status, 200);
    let (_, key_list) = cc(server.port, DEVKEY, "GET", "/key", "");
    let (_, user_list) = cc(server.port, DEVKEY, "GET", "/user/api-only", "");
    secrets.push(user_key);
    secrets.push(svc_key);
    for i in 0..3 {
        let user = format!("s{i}");
        assert_eq!(
            signed(
                server.port,
                ROOT_ID,
                ROOT_SECRET,
                "CreateUser",
                &[("UserName", &user)]
            )
            .unwrap()
            .0,
            200
        );
        let (status, body) = signed(
            server.port,
            ROOT_ID,
            ROOT_SECRET,
            "CreateAccessKey",
            &[("UserName", &user)],
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let j: serde_json::Value = serde_json::from_str(&body).unwrap();
        secrets.push(
            j["AccessKey"]["AccessKeySecret"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (_, listed) = signed(
        server.port,
        ROOT_ID,
        ROOT_SECRET,
        "ListAccessKeys",
        &[("UserName", "s0")],
    )
    .unwrap();
    // A certificate's private key: every base64 line of its PEM counts as
    // a secret. Only the detail response may carry it.
    let pair = trustdesk_testkit::certs::self_signed(
        &["hygiene.example.com"],
        trustdesk_testkit::certs::Alg::P256,
        now(),
    );
    let cas = |action: &str, params: &[(&str, &str)]| {
        signed_for(
            server.port,
            ROOT_ID,
            ROOT_SECRET,
            trustdesk_testkit::CAS,
            action,
            params,
        )
        .unwrap()
    };
    let (status, body) = cas(
        "CreateUserCertificate",
        &[
            ("Name", "hygiene"),
            ("Cert", &pair.cert_pem),
            ("Key", &pair.key_pem),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let (status, detail) = cas("DescribeUserCertificateDetail", &[("CertId", "1")]);
    assert_eq!(status, 200, "{detail}");
    assert!(
        detail.contains("PRIVATE KEY"),
        "the one disclosure: {detail}"
    );
    let (_, cert_list) = cas("DescribeUserCertificateList", &[]);
    secrets.extend(
        pair.key_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::to_owned),
    );
    let log = server.log_text();
    assert!(server.terminate().success());
    // The audit trail, as `trustdesk audit` prints it: the upload and the
    // key disclosure, and no secret (checked with the files below).
    let audit = Command::new(BIN)
        .arg("audit")
        .env("TRUSTDESK_DATA_DIR", dir.path().join("data"))
        .env("TRUSTDESK_LOG", "warn")
        .output()
        .unwrap();
    assert!(audit.status.success(), "{audit:?}");
    let audit_text = String::from_utf8(audit.stdout).unwrap();
    let events: Vec<serde_json::Value> = audit_text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("yundun-cert:CreateUserCertificate", "success"),
            ("yundun-cert:DescribeUserCertificateDetail", "success"),
        ]
    );
    assert_eq!(
        events[1]["resource"].as_str().unwrap().rsplit('/').next(),
        Some("1")
    );
    assert_eq!(events[1]["access_key_id"], ROOT_ID);
    let mut files = vec![
        log.into_bytes(),
        listed.into_bytes(),
        key_list.into_bytes(),
        user_list.into_bytes(),
        cert_list.into_bytes(),
        audit_text.into_bytes(),
    ];
    for entry in std::fs::read_dir(dir.path().join("data")).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("trustdesk.db")
        {
            files.push(std::fs::read(&path).unwrap());
        }
    }
    for secret in &secrets {
        for (i, bytes) in files.iter().enumerate() {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "secret found in file #{i}"
            );
        }
    }
}

#[test]
fn command_line_help_version_and_migrate() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["audit", "--help"],
        &["version", "--help"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
    let out = Command::new(BIN).arg("version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("trustdesk "));
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("migrate")
        .env("TRUSTDESK_DATA_DIR", dir.path().join("d"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("d/trustdesk.db").exists());
    let out = Command::new(BIN)
        .arg("serve")
        .env("TRUSTDESK_LISTEN", "nonsense")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("configuration error"));
}
