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
//! fsync serves the whole batch. The same hop cost is why each job is, where
//! possible, a single statement that both decides and writes.
//!
//! Jobs must not affect each other. A job with one writing statement gets
//! this from SQLite's statement atomicity (a failed statement undoes itself
//! and leaves the transaction open); a job with several runs inside
//! `SAVEPOINT job` and is rolled back to it when it fails. If `COMMIT`
//! itself fails, every job of the batch gets the error.
//!
//! When the batch transaction itself is in doubt (a savepoint cannot be
//! ended, or an I/O-class error made SQLite roll the whole transaction back,
//! after which later statements would autocommit one by one), the batch is
//! *poisoned*: the jobs not yet run are not run, the transaction is rolled
//! back and every job is answered with the error. Failing a batch that would
//! have been fine is acceptable; acknowledging a write that is not durable,
//! or committing half a job, is not.
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

/// How a job ended on the connection (before the commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Wrote what it meant to.
    Done,
    /// A business outcome (`AlreadyExists`, `NotFound`, ...): its statement
    /// or savepoint undid itself; the transaction is fine.
    Refused,
    /// Anything else: the transaction may have been rolled back under us.
    Failed,
}

/// How many statements of a job write. Decides whether it needs a
/// savepoint: only a job that could fail after a write has something to
/// undo. A job declared [`Writes::One`] must not fail after its write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writes {
    One,
    Many,
}

/// A write job as the writer sees it.
pub(crate) trait Work: Send {
    /// Runs inside the batch transaction.
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, Outcome>;
    /// Called once the batch's fate is known (after `COMMIT`, or instead of
    /// running when the batch was poisoned). Answers the caller.
    fn finish(self: Box<Self>, commit: Result<(), StoreError>);
}

/// Batches at least this big mean load: linger before the next commit.
const LINGER_THRESHOLD: usize = 4;
/// Scheduler yields spent gathering more jobs before committing.
const LINGER_ROUNDS: usize = 2;

pub(crate) enum Job {
    Write { work: Box<dyn Work>, writes: Writes },
    Nonce(NonceJob),
}

pub(crate) struct NonceJob {
    pub(crate) key: String,
    pub(crate) nonce: String,
    pub(crate) expires_at: i64,
    pub(crate) reply: oneshot::Sender<Result<bool, StoreError>>,
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

/// After a statement failed in an unexpected way: is the batch transaction
/// still open? SQLite rolls the whole transaction back on some errors
/// (disk full, I/O, out of memory). `BEGIN` fails inside a transaction and
/// succeeds outside one (then we roll the fresh one back at the end).
async fn transaction_lost(conn: &mut SqliteConnection) -> bool {
    exec(conn, "BEGIN").await.is_ok()
}

fn poisoned(cause: &StoreError) -> StoreError {
    StoreError::Backend(format!("write batch rolled back: {cause}"))
}

async fn run_batch(conn: &mut SqliteConnection, batch: Vec<Job>) {
    let mut nonces = Vec::new();
    let mut writes = Vec::new();
    for job in batch {
        match job {
            Job::Nonce(n) => nonces.push(n),
            Job::Write { work, writes: w } => writes.push((work, w)),
        }
    }
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        tracing::error!(error = %e, "could not begin a write transaction");
        answer(nonces, Err(&e), writes.into_iter().map(|(w, _)| w), Err(&e));
        return;
    }

    let mut poison: Option<StoreError> = None;
    let nonce_outcome = insert_nonces(conn, &nonces).await;
    if let Err(e) = &nonce_outcome
        && transaction_lost(conn).await
    {
        poison = Some(poisoned(e));
    }

    let mut ran: Vec<Box<dyn Work>> = Vec::with_capacity(writes.len());
    for (mut work, w) in writes {
        if poison.is_some() {
            ran.push(work);
            continue;
        }
        if w == Writes::Many
            && let Err(e) = exec(conn, "SAVEPOINT job").await
        {
            poison = Some(poisoned(&e));
            ran.push(work);
            continue;
        }
        let outcome = work.run(conn).await;
        if w == Writes::Many {
            let end = if outcome == Outcome::Done {
                exec(conn, "RELEASE job").await
            } else {
                exec(conn, "ROLLBACK TO job; RELEASE job").await
            };
            if let Err(e) = end {
                // The job's writes may or may not still be in the
                // transaction: committing could keep half of it.
                poison = Some(poisoned(&e));
            }
        }
        if poison.is_none() && outcome == Outcome::Failed && transaction_lost(conn).await {
            poison = Some(poisoned(&StoreError::Backend(
                "a statement failed and SQLite rolled the transaction back".into(),
            )));
        }
        ran.push(work);
    }

    let commit = match poison {
        Some(e) => {
            tracing::error!(error = %e, "write batch poisoned");
            Err(e)
        }
        None => exec(conn, "COMMIT").await,
    };
    if commit.is_err() {
        let _ = exec(conn, "ROLLBACK").await;
    }
    answer(
        nonces,
        nonce_outcome.as_deref(),
        ran,
        commit.as_ref().map(|_| ()),
    );
}

/// Answers every job of a batch with its outcome, or with the batch's error.
fn answer(
    nonces: Vec<NonceJob>,
    fresh: Result<&[bool], &StoreError>,
    writes: impl IntoIterator<Item = Box<dyn Work>>,
    commit: Result<(), &StoreError>,
) {
    match (commit, fresh) {
        (Ok(()), Ok(fresh)) => {
            for (job, f) in nonces.into_iter().zip(fresh) {
                let _ = job.reply.send(Ok(*f));
            }
        }
        (Err(e), _) | (Ok(()), Err(e)) => {
            for job in nonces {
                let _ = job.reply.send(Err(clone_err(e)));
            }
        }
    }
    for work in writes {
        work.finish(commit.map_err(clone_err));
    }
}

/// Inserts the batch's nonces in one statement; returns, per job, whether
/// its nonce was new. Two jobs with the same (key, nonce, expiry) in one
/// batch: only the first is fresh.
async fn insert_nonces(
    conn: &mut SqliteConnection,
    nonces: &[NonceJob],
) -> Result<Vec<bool>, StoreError> {
    if nonces.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<serde_json::Value> = nonces
        .iter()
        .map(|n| serde_json::json!([n.key, n.nonce, n.expires_at]))
        .collect();
    let json = serde_json::Value::Array(rows).to_string();
    // `WHERE true` keeps SQLite's parser from reading `ON CONFLICT` as a
    // join constraint of the SELECT.
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
    // `remove`, not `contains`: the first job of a duplicate pair takes the
    // one inserted row, the second finds it gone.
    Ok(nonces
        .iter()
        .map(|n| fresh.remove(&(n.expires_at, n.key.clone(), n.nonce.clone())))
        .collect())
}

fn clone_err(e: &StoreError) -> StoreError {
    StoreError::Backend(e.to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A job that runs fixed SQL and then ends as told (or `Refused` if a
    /// statement fails); records the answer it got.
    struct Script {
        sql: &'static [&'static str],
        then: Outcome,
        answer: Arc<Mutex<Option<Result<(), String>>>>,
    }

    impl Work for Script {
        fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, Outcome> {
            Box::pin(async move {
                for &sql in self.sql {
                    if sqlx::raw_sql(sql).execute(&mut *conn).await.is_err() {
                        return Outcome::Refused;
                    }
                }
                self.then
            })
        }

        fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
            *self.answer.lock().unwrap() = Some(commit.map_err(|e| e.to_string()));
        }
    }

    type Answer = Arc<Mutex<Option<Result<(), String>>>>;

    fn script(sql: &'static [&'static str], then: Outcome, writes: Writes) -> (Job, Answer) {
        let answer = Answer::default();
        let work = Box::new(Script {
            sql,
            then,
            answer: answer.clone(),
        });
        (Job::Write { work, writes }, answer)
    }

    fn nonce(key: &str, n: &str) -> (Job, oneshot::Receiver<Result<bool, StoreError>>) {
        let (reply, rx) = oneshot::channel();
        let job = Job::Nonce(NonceJob {
            key: key.into(),
            nonce: n.into(),
            expires_at: 1_800_000_000,
            reply,
        });
        (job, rx)
    }

    async fn accounts(conn: &mut SqliteConnection) -> Vec<i64> {
        sqlx::query_scalar::<_, i64>("SELECT id FROM accounts ORDER BY id")
            .fetch_all(&mut *conn)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn duplicate_nonces_in_one_batch_only_the_first_is_fresh() {
        let (_dir, mut conn) = crate::tests::connection().await;
        let (a, ra) = nonce("k1", "n");
        let (b, rb) = nonce("k1", "n");
        let (c, rc) = nonce("k2", "n");
        let (d, rd) = nonce("k1", "other");
        run_batch(&mut conn, vec![a, b, c, d]).await;
        let got = [
            ra.await.unwrap().unwrap(),
            rb.await.unwrap().unwrap(),
            rc.await.unwrap().unwrap(),
            rd.await.unwrap().unwrap(),
        ];
        assert_eq!(got, [true, false, true, true]);
        // And in a later batch, all of them are replays.
        let (a, ra) = nonce("k1", "n");
        let (c, rc) = nonce("k2", "n");
        run_batch(&mut conn, vec![a, c]).await;
        assert!(!ra.await.unwrap().unwrap());
        assert!(!rc.await.unwrap().unwrap());
    }

    #[tokio::test]
    async fn a_failed_job_leaves_nothing_and_does_not_affect_the_others() {
        let (_dir, mut conn) = crate::tests::connection().await;
        // Writes one row, then refuses: its savepoint must take the row back.
        let (half, half_answer) = script(
            &["INSERT INTO accounts (id, created_at) VALUES (1, 0)"],
            Outcome::Refused,
            Writes::Many,
        );
        let (ok, ok_answer) = script(
            &["INSERT INTO accounts (id, created_at) VALUES (2, 0)"],
            Outcome::Done,
            Writes::One,
        );
        // A failing statement undoes itself (no savepoint needed).
        let (dup, dup_answer) = script(
            &["INSERT INTO accounts (id, created_at) VALUES (2, 0)"],
            Outcome::Done,
            Writes::One,
        );
        let (n, rn) = nonce("k", "n");
        run_batch(&mut conn, vec![half, ok, dup, n]).await;
        assert_eq!(accounts(&mut conn).await, vec![2]);
        // The batch committed, so every job is told so; a `Script` does not
        // report its own refusal, a real job does (see `Pending::finish`).
        for answer in [half_answer, ok_answer, dup_answer] {
            assert_eq!(*answer.lock().unwrap(), Some(Ok(())));
        }
        assert!(rn.await.unwrap().unwrap());
    }

    #[tokio::test]
    async fn a_lost_transaction_poisons_the_whole_batch() {
        let (_dir, mut conn) = crate::tests::connection().await;
        let (before, before_answer) = script(
            &["INSERT INTO accounts (id, created_at) VALUES (1, 0)"],
            Outcome::Done,
            Writes::One,
        );
        // What SQLite does on disk-full or I/O errors: the transaction is
        // gone, and later statements would autocommit one by one.
        let (lost, lost_answer) = script(&["ROLLBACK"], Outcome::Failed, Writes::One);
        let (after, after_answer) = script(
            &["INSERT INTO accounts (id, created_at) VALUES (3, 0)"],
            Outcome::Done,
            Writes::One,
        );
        let (n, rn) = nonce("k", "n");
        run_batch(&mut conn, vec![before, lost, after, n]).await;
        assert_eq!(accounts(&mut conn).await, Vec::<i64>::new());
        for answer in [before_answer, lost_answer, after_answer] {
            assert!(matches!(*answer.lock().unwrap(), Some(Err(_))));
        }
        assert!(rn.await.unwrap().is_err());
        // The connection is usable again, outside any transaction.
        let (again, again_answer) = script(
            &["INSERT INTO accounts (id, created_at) VALUES (4, 0)"],
            Outcome::Done,
            Writes::One,
        );
        run_batch(&mut conn, vec![again]).await;
        assert_eq!(*again_answer.lock().unwrap(), Some(Ok(())));
        assert_eq!(accounts(&mut conn).await, vec![4]);
    }
}
