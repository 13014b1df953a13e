//! The store conformance suite against SQLite (PostgreSQL joins when its
//! store lands).

#[tokio::test]
async fn sqlite_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let store = trustdesk_store_sqlite::SqliteStore::open(&url, Default::default())
        .await
        .unwrap();
    trustdesk_testkit::conformance::run_all(&store).await;
}
