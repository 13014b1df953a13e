//! The store conformance suite, against SQLite and against PostgreSQL (a
//! throwaway cluster on loopback, see `trustdesk_testkit::pg`).

use std::sync::Arc;

#[tokio::test]
async fn sqlite_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let store = trustdesk_store_sqlite::SqliteStore::open(&url, Default::default())
        .await
        .unwrap();
    trustdesk_testkit::conformance::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_the_conformance_suite() {
    let (store, _) = trustdesk_testkit::postgres_store().await;
    trustdesk_testkit::conformance::run_all(&store).await;
}

/// The races of the suite, with the store's writers really running side
/// by side (several pool connections, several runtime threads).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_passes_the_concurrent_suite() {
    let (store, _) = trustdesk_testkit::postgres_store().await;
    trustdesk_testkit::conformance::run_concurrent(Arc::new(store)).await;
}

/// Two stores on one database are two nodes: each sees the other's writes
/// at once and races between them have one winner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_postgres_stores_on_one_database_pass_the_concurrent_suite() {
    let (a, url) = trustdesk_testkit::postgres_store().await;
    let b = trustdesk_store_postgres::PgStore::open(&url, Default::default())
        .await
        .unwrap();
    trustdesk_testkit::conformance::run_across(Arc::new(a), Arc::new(b)).await;
}

/// Both stores keep the same numbered migrations, so `trustdesk copy` can
/// move rows one to one and an upgrade means the same on both.
#[test]
fn both_stores_have_the_same_migrations() {
    let sqlite = trustdesk_store_sqlite::migration_names();
    let postgres = trustdesk_store_postgres::migration_names();
    assert!(sqlite.len() >= 5, "{sqlite:?}");
    assert_eq!(sqlite, postgres);
}

/// TLS to the database: with `sslmode=verify-ca` and the CA that issued
/// the server's certificate the store connects and its connections are
/// encrypted; with another CA it refuses to connect.
#[tokio::test]
async fn postgres_connections_can_be_tls() {
    use trustdesk_testkit::certs::{Alg, Ca};
    let now = crate::binary::now();
    let ca = Ca::root("Test Database CA", Alg::P256, now);
    let server = ca.leaf(&["localhost"], Alg::P256, now);
    let cluster =
        trustdesk_testkit::pg::PgCluster::start_with_tls(&server.cert_pem, &server.key_pem)
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trusted = dir.path().join("ca.pem");
    std::fs::write(&trusted, &ca.cert_pem).unwrap();
    let url = format!(
        "{}?sslmode=verify-ca&sslrootcert={}",
        cluster.url(),
        trusted.display()
    );
    let store = trustdesk_store_postgres::PgStore::open(&url, Default::default())
        .await
        .unwrap();
    let encrypted: bool =
        sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(encrypted);

    let stranger = dir.path().join("other-ca.pem");
    std::fs::write(
        &stranger,
        Ca::root("Some Other CA", Alg::P256, now).cert_pem,
    )
    .unwrap();
    let url = format!(
        "{}?sslmode=verify-ca&sslrootcert={}",
        cluster.url(),
        stranger.display()
    );
    let refused = trustdesk_store_postgres::PgStore::connect(
        &url,
        trustdesk_store_postgres::PgOptions {
            acquire_timeout: std::time::Duration::from_secs(5),
            ..Default::default()
        },
    )
    .await;
    assert!(refused.is_err(), "a server certificate from an unknown CA");
}
