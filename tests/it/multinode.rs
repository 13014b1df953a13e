//! Several real `trustdesk serve` nodes on one PostgreSQL database (a
//! throwaway cluster on loopback): they start together against an empty
//! database (migrations and the bootstrap happen once), and then behave
//! as one server: a write on one node is read on another at once, races
//! across nodes have one winner, a nonce used on one node is refused on
//! the others, and a key disabled on one node stops working on the others
//! within the documented bound (the service re-reads the account's epoch
//! at most every second; see trustdesk-service's iam.rs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use trustdesk_auth::Params;
use trustdesk_testkit::nonce;
use trustdesk_testkit::pg::PgCluster;

use crate::binary::{ROOT_ID, ROOT_SECRET, Server, boot_env, cc, http, now, signed, signed_for};

const DEVKEY: &str = "MultiNodeDevKey0123456789abcdefghijklmnopqrstu";

/// How late another node may honour a key disabled elsewhere: the epoch
/// re-check (1 s) plus scheduling slack on a loaded CI machine.
const PROPAGATION_BOUND: Duration = Duration::from_secs(3);

fn database_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

fn node_env(url: &str) -> Vec<(&'static str, String)> {
    let mut env: Vec<(&'static str, String)> = boot_env()
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
    env.push(("TRUSTDESK_DATABASE_URL", url.to_owned()));
    env.push(("TRUSTDESK_BOOTSTRAP_API_KEY", DEVKEY.to_owned()));
    env.push(("TRUSTDESK_DATABASE_MAX_CONNECTIONS", "8".to_owned()));
    env
}

/// Starts `n` nodes at the same moment, each with its own data directory.
fn start_nodes(n: usize, url: &str) -> (Vec<tempfile::TempDir>, Vec<Server>) {
    let dirs: Vec<_> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    let env = node_env(url);
    let nodes = std::thread::scope(|s| {
        let handles: Vec<_> = dirs
            .iter()
            .map(|d| {
                let env = &env;
                s.spawn(move || {
                    let env: Vec<(&str, &str)> =
                        env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    Server::start(d.path(), &env)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    (dirs, nodes)
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn root(port: u16, action: &str, params: &[(&str, &str)]) -> (u16, Value) {
    let (status, body) = signed(port, ROOT_ID, ROOT_SECRET, action, params).unwrap();
    (status, json(&body))
}

fn code(v: &Value) -> &str {
    v["Code"].as_str().unwrap_or("")
}

fn scalar(cluster: &PgCluster, db: &str, sql: &str) -> String {
    cluster.psql(db, sql).unwrap()
}

#[test]
fn nodes_on_one_database_act_as_one_server() {
    let cluster = trustdesk_testkit::pg::shared();
    let url = cluster.fresh_database().unwrap();
    let db = database_name(&url);

    // Three nodes start together on an empty database.
    let (_dirs, nodes) = start_nodes(3, &url);
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    assert_eq!(scalar(cluster, db, "SELECT count(*) FROM accounts"), "1");
    let migrations = trustdesk_store_postgres::migration_names().len();
    assert_eq!(
        scalar(
            cluster,
            db,
            "SELECT count(*) || ' ' || count(DISTINCT version) FROM _sqlx_migrations WHERE success"
        ),
        format!("{migrations} {migrations}")
    );
    assert_eq!(
        scalar(
            cluster,
            db,
            "SELECT count(*) FROM users WHERE user_name = 'admin'"
        ),
        "1",
        "one CertCentral administrator"
    );

    // Read after write, across nodes, with no wait.
    for (i, &writer) in ports.iter().enumerate() {
        let name = format!("written-on-{i}");
        let (status, body) = root(writer, "CreateUser", &[("UserName", &name)]);
        assert_eq!(status, 200, "{body}");
        for &reader in &ports {
            let (status, body) = root(reader, "GetUser", &[("UserName", &name)]);
            assert_eq!(status, 200, "node {reader} reading {name}: {body}");
            assert_eq!(body["User"]["UserName"], name.as_str());
        }
    }
    // A CertCentral user added on one node is the RAM user on another.
    let (status, body) = cc(
        ports[1],
        DEVKEY,
        "POST",
        "/user",
        r#"{"first_name":"Ada","last_name":"Node","email":"ada@example.test","username":"ada.node","access_roles":[{"id":5}]}"#,
    );
    assert_eq!(status, 201, "{body}");
    let cc_id = json(&body)["id"].as_u64().unwrap();
    let (status, body) = root(ports[2], "GetUser", &[("UserName", "ada.node")]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["User"]["UserId"], cc_id.to_string().as_str());
    // Containers too.
    let (status, body) = cc(ports[0], DEVKEY, "GET", "/user/me", "");
    assert_eq!(status, 200, "{body}");
    let root_container = json(&body)["container"]["id"].as_u64().unwrap();
    let (status, body) = cc(
        ports[0],
        DEVKEY,
        "POST",
        &format!("/container/{root_container}/children"),
        r#"{"name":"Made on node 0","template_id":6}"#,
    );
    assert_eq!(status, 201, "{body}");
    let child = json(&body)["id"].as_u64().unwrap();
    let (status, body) = cc(ports[2], DEVKEY, "GET", &format!("/container/{child}"), "");
    assert_eq!(status, 200, "{body}");

    // The same name created on every node at once: one winner.
    let results: Vec<(u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let port = ports[i % ports.len()];
                s.spawn(move || root(port, "CreateUser", &[("UserName", "Contended")]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won = results.iter().filter(|(s, _)| *s == 200).count();
    let lost = results
        .iter()
        .filter(|(s, v)| *s == 409 && code(v) == "EntityAlreadyExists.User")
        .count();
    assert_eq!((won, lost), (1, 23), "{results:?}");

    // A nonce used on one node is refused on every other.
    let mut p = Params::from_pairs([
        ("Action", "GetUser"),
        ("Version", trustdesk_testkit::RAM),
        ("Format", "JSON"),
        ("UserName", "written-on-0"),
    ]);
    p.insert("Extra", "x");
    let query = trustdesk_auth::sign::v1_query("POST", p, ROOT_ID, ROOT_SECRET, &nonce(), now());
    let (status, body) = http(ports[0], "POST", &format!("/?{query}"), "").unwrap();
    assert_eq!(status, 200, "{body}");
    for &port in &ports[1..] {
        let (status, body) = http(port, "POST", &format!("/?{query}"), "").unwrap();
        assert_eq!(
            (status, code(&json(&body))),
            (400, "SignatureNonceUsed"),
            "{body}"
        );
    }

    // A key disabled on node 0 stops working on nodes 1 and 2.
    assert_eq!(
        root(ports[0], "CreateUser", &[("UserName", "keyuser")]).0,
        200
    );
    let (status, body) = root(
        ports[0],
        "AttachPolicyToUser",
        &[
            ("PolicyType", "System"),
            ("PolicyName", "AdministratorAccess"),
            ("UserName", "keyuser"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = root(ports[0], "CreateAccessKey", &[("UserName", "keyuser")]);
    assert_eq!(status, 200, "{body}");
    let id = body["AccessKey"]["AccessKeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = body["AccessKey"]["AccessKeySecret"]
        .as_str()
        .unwrap()
        .to_owned();
    let as_user = |port: u16| {
        let (status, body) =
            signed(port, &id, &secret, "GetUser", &[("UserName", "keyuser")]).unwrap();
        (status, json(&body))
    };
    // Used (and so cached) on the other nodes first.
    for &port in &ports {
        let (status, body) = as_user(port);
        assert_eq!(status, 200, "node {port}: {body}");
    }
    let (status, body) = root(
        ports[0],
        "UpdateAccessKey",
        &[
            ("UserName", "keyuser"),
            ("UserAccessKeyId", &id),
            ("Status", "Inactive"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let disabled = Instant::now();
    for &port in &ports[1..] {
        loop {
            let (status, body) = as_user(port);
            if code(&body) == "InvalidAccessKeyId.Inactive" {
                eprintln!(
                    "node {port} refused the disabled key {} ms after node {} disabled it",
                    disabled.elapsed().as_millis(),
                    ports[0]
                );
                break;
            }
            assert_eq!(status, 200, "{body}");
            assert!(
                disabled.elapsed() < PROPAGATION_BOUND,
                "node {port} still accepts a key disabled {:?} ago",
                disabled.elapsed()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // Certificates uploaded on one node are listed by another.
    let pem = trustdesk_testkit::certs::self_signed(
        &["multinode.example.test"],
        trustdesk_testkit::certs::Alg::P256,
        now(),
    );
    let (status, body) = signed_for(
        ports[1],
        ROOT_ID,
        ROOT_SECRET,
        trustdesk_testkit::CAS,
        "CreateUserCertificate",
        &[
            ("Name", "multinode"),
            ("Cert", &pem.cert_pem),
            ("Key", &pem.key_pem),
        ],
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let cert_id = json(&body)["CertId"].as_u64().unwrap();
    let (status, body) = signed_for(
        ports[2],
        ROOT_ID,
        ROOT_SECRET,
        trustdesk_testkit::CAS,
        "DescribeUserCertificateDetail",
        &[("CertId", &cert_id.to_string())],
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["Name"], "multinode");

    for node in nodes {
        assert!(node.terminate().success());
    }
}

/// A node that is `kill -9`ed loses nothing it acknowledged, and its
/// peers go on serving meanwhile: the database is the only state.
#[test]
fn a_node_killed_mid_flight_loses_nothing_and_the_others_carry_on() {
    let cluster = trustdesk_testkit::pg::shared();
    let url = cluster.fresh_database().unwrap();
    let (_dirs, mut nodes) = start_nodes(2, &url);
    let survivor = nodes.pop().unwrap();
    let victim = nodes.pop().unwrap();
    let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let port = victim.port;
    let writer = {
        let acked = acked.clone();
        std::thread::spawn(move || {
            for i in 0.. {
                let name = format!("acked-{i}");
                match signed(
                    port,
                    ROOT_ID,
                    ROOT_SECRET,
                    "CreateUser",
                    &[("UserName", &name)],
                ) {
                    Ok((200, _)) => acked.lock().unwrap().push(name),
                    _ => break,
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(700));
    victim.kill9();
    writer.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty());
    for name in &acked {
        let (status, body) = root(survivor.port, "GetUser", &[("UserName", name)]);
        assert_eq!(
            status, 200,
            "{name} was acknowledged by the killed node: {body}"
        );
    }
    // The start-up lock died with the killed node's connection (if it held
    // it): a new node starts.
    let dir = tempfile::tempdir().unwrap();
    let env = node_env(&url);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let restarted = Server::start(dir.path(), &env);
    let (status, _) = root(restarted.port, "GetUser", &[("UserName", &acked[0])]);
    assert_eq!(status, 200);
    assert!(restarted.terminate().success());
    assert!(survivor.terminate().success());
}

/// Nodes on PostgreSQL share one master key and never invent one: a node
/// started without one refuses to start and says what to set (before it
/// touches the database).
#[test]
fn a_node_without_a_master_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(crate::binary::BIN)
        .arg("serve")
        .env_clear()
        .env("TRUSTDESK_DATA_DIR", dir.path().join("data"))
        .env(
            "TRUSTDESK_DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/none",
        )
        .env("TRUSTDESK_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("every node needs the same master key")
            && stderr.contains("TRUSTDESK_MASTER_KEY"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("data").join("master.key").exists(),
        "no key was generated"
    );
}
