//! The single writer and its group commit.
//!
//! Why one writer: SQLite admits one writer at a time anyway, and queueing
//! writes in our own channel is cheaper and fairer than having connections
//! sleep in SQLite's busy handler.
//!
//! Why group commit: a durable commit costs an fsync (~0.2 ms here) and
//! every sqlx statement a hop to its worker thread (~60 µs on this VM, see
//! design/limits.md). The writer therefore drains everything queued (up to
//! `max_batch`), runs it in one `BEGIN IMMEDIATE … COMMIT`, and only then
//! answers each job: nothing is acknowledged before it is durable, and one
//! fsync serves the whole batch.
//!
//! Jobs must not affect each other. A single-statement job gets this from
//! SQLite's statement atomicity (a failed statement undoes itself and
//! leaves the transaction open); a multi-statement job runs inside
//! `SAVEPOINT job` and is rolled back to it when it fails. If `COMMIT`
//! itself fails, every job of the batch gets the error.
//!
//! Nonces arrive with every authenticated request, so the batch inserts all
//! of them with one statement (a JSON array bound as one parameter). A nonce
//! is unique per (access key, signed timestamp): a replay repeats both, since
//! the timestamp is signed. Keying on the timestamp first keeps the inserts
//! at the right edge of the index (see migrations/0001_initial.sql); the
//! only difference from a per-key-only rule is that a client reusing a
//! nonce with a *new* timestamp is not refused, which no SDK does (they
//! draw a random nonce per request).

use std::collections::HashSet;

use futures_util::future::BoxFuture;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};
use trustdesk_domain::StoreError;

use crate::backend;

/// Called after the batch's commit with its outcome.
pub(crate) type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A write: runs on the writer's connection inside the open transaction and
/// returns whether it succeeded (to release or roll back its savepoint) and
/// what to do once the commit outcome is known.
pub(crate) type Work =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Finish)> + Send>;

/// Batches at least this big mean load: linger before the next commit.
const LINGER_THRESHOLD: usize = 4;
/// Scheduler yields spent gathering more jobs before committing.
const LINGER_ROUNDS: usize = 2;

pub(crate) enum Job {
    Write {
        work: Work,
        savepoint: bool,
    },
    Nonce {
        key: String,
        nonce: String,
        expires_at: i64,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
}

pub(crate) fn spawn(conn: SqliteConnection, max_batch: usize) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel(4096);
    tokio::spawn(run(conn, rx, max_batch.max(1)));
    tx
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Job>, max_batch: usize) {
    let mut batch = Vec::with_capacity(max_batch);
    let mut last_len = 0;
    loop {
        if rx.recv_many(&mut batch, max_batch).await == 0 {
            break;
        }
        // Under load (the previous batch was not tiny), give the request
        // tasks that are already running a moment to enqueue their writes:
        // a bigger batch shares one fsync among more requests. When idle,
        // commit at once, so a lone request pays no extra latency.
        if last_len >= LINGER_THRESHOLD {
            for _ in 0..LINGER_ROUNDS {
                tokio::task::yield_now().await;
                while batch.len() < max_batch {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
            }
        }
        last_len = batch.len();
        run_batch(&mut conn, std::mem::take(&mut batch)).await;
    }
    let _ = conn.close().await;
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), StoreError> {
    sqlx::raw_sql(sql)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(backend)
}

async fn run_batch(conn: &mut SqliteConnection, batch: Vec<Job>) {
    let mut nonces = Vec::new();
    let mut writes = Vec::new();
    for job in batch {
        match job {
            Job::Nonce {
                key,
                nonce,
                expires_at,
                reply,
            } => nonces.push((key, nonce, expires_at, reply)),
            Job::Write { work, savepoint } => writes.push((work, savepoint)),
        }
    }
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        fail_all(nonces, writes, &e);
        return;
    }
    let nonce_outcome = insert_nonces(conn, &nonces).await;
    let mut finishes = Vec::with_capacity(writes.len());
    for (work, savepoint) in writes {
        if savepoint && let Err(e) = exec(conn, "SAVEPOINT job").await {
            // Not run: dropping the work drops its reply channel, which its
            // caller sees as a failed write.
            tracing::error!(error = %e, "opening a savepoint failed");
            drop(work);
            continue;
        }
        let (ok, finish) = (work)(conn).await;
        if savepoint {
            let end = if ok {
                exec(conn, "RELEASE job").await
            } else {
                exec(conn, "ROLLBACK TO job; RELEASE job").await
            };
            if let Err(e) = end {
                tracing::error!(error = %e, "ending a savepoint failed");
            }
        }
        finishes.push(finish);
    }
    let commit = exec(conn, "COMMIT").await;
    if commit.is_err() {
        let _ = exec(conn, "ROLLBACK").await;
    }
    match (&commit, &nonce_outcome) {
        (Ok(()), Ok(fresh)) => {
            for ((_, _, _, reply), f) in nonces.into_iter().zip(fresh) {
                let _ = reply.send(Ok(*f));
            }
        }
        (Err(e), _) | (Ok(()), Err(e)) => {
            for (_, _, _, reply) in nonces {
                let _ = reply.send(Err(clone_err(e)));
            }
        }
    }
    for finish in finishes {
        finish(commit.as_ref().map(|_| ()).map_err(clone_err));
    }
}

type NonceJob = (
    String,
    String,
    i64,
    oneshot::Sender<Result<bool, StoreError>>,
);

/// Inserts the batch's nonces in one statement; returns, per job, whether
/// its nonce was new. Two jobs with the same (key, nonce) in one batch: only
/// the first is fresh.
async fn insert_nonces(
    conn: &mut SqliteConnection,
    nonces: &[NonceJob],
) -> Result<Vec<bool>, StoreError> {
    if nonces.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<serde_json::Value> = nonces
        .iter()
        .map(|(k, n, e, _)| serde_json::json!([k, n, e]))
        .collect();
    let json = serde_json::Value::Array(rows).to_string();
    let inserted = sqlx::query!(
        r#"INSERT INTO nonces (access_key_id, nonce, expires_at)
           SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
           FROM json_each($1) WHERE true
           ON CONFLICT DO NOTHING
           RETURNING expires_at AS "expires_at!: i64", access_key_id AS "access_key_id!: String", nonce AS "nonce!: String""#,
        json
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    let mut fresh: HashSet<(i64, String, String)> = inserted
        .into_iter()
        .map(|r| (r.expires_at, r.access_key_id, r.nonce))
        .collect();
    Ok(nonces
        .iter()
        .map(|(k, n, e, _)| fresh.remove(&(*e, k.clone(), n.clone())))
        .collect())
}

fn clone_err(e: &StoreError) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn fail_all(nonces: Vec<NonceJob>, writes: Vec<(Work, bool)>, e: &StoreError) {
    for (_, _, _, reply) in nonces {
        let _ = reply.send(Err(clone_err(e)));
    }
    // The work closures were never run; dropping them drops their reply
    // senders, which their callers see as a closed writer.
    drop(writes);
    tracing::error!(error = %e, "could not begin a write transaction");
}
