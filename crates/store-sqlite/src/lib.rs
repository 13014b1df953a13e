//! SQLite implementation of the trustdesk store traits.
//!
//! Layout: one writer connection owned by a task that commits in groups
//! (see [`writer`]), and a pool of reader connections (WAL lets readers run
//! beside the writer). Pragmas: `journal_mode=WAL`, `synchronous=FULL`,
//! `foreign_keys=ON`, `busy_timeout=5s`.
//!
//! Durability contract: a write method returns `Ok` only after the `COMMIT`
//! of the batch holding it returned, and with `synchronous=FULL` in WAL
//! mode that commit has been fsynced; so a 2xx built on it survives
//! `kill -9` and power loss. A write that returns an error made no change,
//! except that a batch-level error (failed `COMMIT`, poisoned batch) may
//! also be reported for a write a later retry finds done; never the reverse.
//!
//! Every business outcome is decided by the statement that writes, so it
//! holds under concurrency and costs no extra round trip on the happy path:
//! user names are unique through a unique index on
//! `(account_id, user_name_folded)`; the per-account user limit is checked
//! in the same `INSERT … SELECT … WHERE user_count < ?` that inserts, with
//! `user_count` kept by triggers (O(1), no `COUNT(*)` over the users); the
//! access-key limit the same way over the owner's keys (at most a handful
//! of rows under one index entry). When such a statement writes nothing, a
//! read in the same job, still inside the writer's transaction, says why.
//!
//! SQLite reports which *columns* a constraint covers but not its name, so
//! errors are classified by kind only ([`classify`]), and each statement is
//! shaped so that only one unique constraint can fire in it.
//!
//! CertCentral's containers, API keys and filtered user list live in
//! [`certcentral`]; a user is one row of `users` whichever face made it.
//! RAM groups, custom policies with their versions, and attachments live in
//! [`groups`]; the account's `policy_epoch` is kept by triggers (migration
//! 0005), so it moves with whatever statement changed a decision.
//!
//! SQL is checked at compile time with sqlx's macros against the schema in
//! `migrations/`; the offline data lives in `.sqlx/` (see README.md).

mod cache;
mod certcentral;
mod certificates;
mod groups;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
use sqlx::error::ErrorKind;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use trustdesk_domain::store::{
    AccessKeyStore, Account, AccountStore, NonceStore, Store, UserCursor, UserPage, UserStore,
};
use trustdesk_domain::{
    AccessKey, AccessKeyId, AccountId, ApiKeyId, Entity, KeyOwner, KeyStatus, NewAccessKey,
    NewApiKey, NewContainer, StoreError, StoredAccessKey, User, UserId, UserListing, UserName,
    UserPatch, UserQuery,
};

use crate::writer::{Job, NonceJob, Outcome, Work, Writes};

/// Tunables.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Reader connections (WAL readers run in parallel with the writer).
    pub read_connections: u32,
    /// Most jobs committed together.
    pub max_batch: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            read_connections: 4,
            max_batch: 256,
        }
    }
}

/// The SQLite store. Cheap to share behind an `Arc`; dropping it stops the
/// writer once the queued jobs are done.
pub struct SqliteStore {
    reads: SqlitePool,
    writer: mpsc::Sender<Job>,
    users: Arc<cache::UserCache>,
    /// The last certificate id handed out (see `certificates.rs`).
    certificate_ids: Arc<std::sync::atomic::AtomicI64>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The migrations' names (`0001_initial`, …); the PostgreSQL store keeps
/// the same list.
pub fn migration_names() -> Vec<String> {
    MIGRATOR
        .iter()
        .map(|m| format!("{:04}_{}", m.version, m.description.replace(' ', "_")))
        .collect()
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn writer_gone() -> StoreError {
    StoreError::Backend("the database writer has stopped".into())
}

/// The one place database errors become store errors. `unique` and
/// `foreign` are what a unique or foreign-key violation means for the
/// statement at hand (the caller knows which constraint can fire there).
fn classify(e: sqlx::Error, unique: StoreError, foreign: StoreError) -> StoreError {
    match &e {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation => unique,
            ErrorKind::ForeignKeyViolation => foreign,
            _ => backend(e),
        },
        _ => backend(e),
    }
}

/// `sqlite://path`, `sqlite:path` (with optional `?options`) or a plain
/// path, taken as it is (no URL decoding).
fn connect_options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
    let options = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url).map_err(backend)?
    } else {
        SqliteConnectOptions::new().filename(url)
    };
    Ok(options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        // Statement journals (taken by multi-row statements inside a
        // transaction) stay in memory instead of temporary files.
        .pragma("temp_store", "memory"))
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database. Idempotent:
    /// `trustdesk migrate` is this call followed by dropping the store.
    pub async fn open(url: &str, opts: SqliteOptions) -> Result<Self, StoreError> {
        let options = connect_options(url)?;
        let mut conn = options.connect().await.map_err(backend)?;
        MIGRATOR.run(&mut conn).await.map_err(backend)?;
        let last_certificate = certificates::last_id(&mut conn).await?;
        let reads = SqlitePoolOptions::new()
            .max_connections(opts.read_connections.max(1))
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(backend)?;
        let writer = writer::spawn(conn, opts.max_batch);
        Ok(Self {
            reads,
            writer,
            users: Arc::default(),
            certificate_ids: Arc::new(last_certificate.into()),
        })
    }

    /// Runs `f` on the writer inside the batch transaction and returns its
    /// result once the batch is durable. `after` runs on the writer right
    /// after a successful commit and before the caller is answered, even if
    /// the caller has gone away meanwhile (cache invalidation lives there,
    /// so a cancelled request cannot leave a stale entry behind).
    async fn write<T, F>(
        &self,
        writes: Writes,
        f: F,
        after: impl FnOnce(&T) + Send + 'static,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let work = Box::new(Pending {
            job: Some(f),
            result: None,
            after: Some(after),
            reply,
        });
        self.writer
            .send(Job::Write { work, writes })
            .await
            .map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())?
    }
}

/// A queued write: the job, then its result, then the answer.
struct Pending<F, T, A> {
    job: Option<F>,
    result: Option<Result<T, StoreError>>,
    after: Option<A>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T, A> Work for Pending<F, T, A>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
        + Send
        + 'static,
    A: FnOnce(&T) + Send + 'static,
{
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFuture<'c, Outcome> {
        Box::pin(async move {
            let Some(job) = self.job.take() else {
                return Outcome::Failed;
            };
            let result = job(conn).await;
            let outcome = match &result {
                Ok(_) => Outcome::Done,
                Err(StoreError::Backend(_)) => Outcome::Failed,
                Err(_) => Outcome::Refused,
            };
            self.result = Some(result);
            outcome
        })
    }

    fn finish(self: Box<Self>, commit: Result<(), StoreError>) {
        let Pending {
            result,
            after,
            reply,
            ..
        } = *self;
        let answer = match (commit, result) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(result)) => result,
            (Ok(()), None) => Err(backend("the write was not run")),
        };
        if let (Ok(v), Some(after)) = (&answer, after) {
            after(v);
        }
        let _ = reply.send(answer);
    }
}

/// Gives a write job's closure its higher-ranked signature, so it can be
/// built before the call that queues it.
fn job<T, F>(f: F) -> F
where
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>,
{
    f
}

// ---- rows (trustdesk_domain::rows, shared with the PostgreSQL store) ----

use trustdesk_domain::rows::KeyRow;
pub(crate) use trustdesk_domain::rows::{
    USER_COLUMNS, UserRow, assignments_json, from_ts, owner_id, ts,
};

async fn user_by_folded(
    conn: &mut SqliteConnection,
    account: i64,
    folded: &str,
) -> Result<Option<User>, StoreError> {
    let row = sqlx::query_as!(
        UserRow,
        r#"SELECT account_id, user_id, user_name, display_name, mobile_phone, email, comments,
                  created_at, updated_at, last_login_at, first_name, last_name, job_title, telephone,
                  access_role, container_id, container_assignments, user_type, saml_sso_only AS "saml_sso_only: bool"
           FROM users WHERE account_id = $1 AND user_name_folded = $2"#,
        account,
        folded
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    row.map(UserRow::into_user).transpose()
}

/// Inserts a user: one writing statement; on refusal a read says why.
async fn insert_user(
    conn: &mut SqliteConnection,
    u: &User,
    max_users: u32,
) -> Result<(), StoreError> {
    let account = u.account.0 as i64;
    let user_id = u.id.0 as i64;
    let name = u.name.as_str();
    let folded = u.name.folded();
    let display = u.display_name.as_ref().map(|v| v.as_str());
    let phone = u.mobile_phone.as_ref().map(|v| v.as_str());
    let email = u.email.as_ref().map(|v| v.as_str());
    let comments = u.comments.as_ref().map(|v| v.as_str());
    let created = ts(u.created_at);
    let updated = ts(u.updated_at);
    let last_login = u.last_login_at.map(ts);
    let max = i64::from(max_users);
    let p = &u.profile;
    let role = i64::from(p.role.id());
    let container = p.container.0 as i64;
    let assignments = assignments_json(p);
    let kind = p.kind.as_str();
    // A taken name makes the statement do nothing rather than fail, so
    // that the only unique violation left is a user-id collision, and a
    // name clash and a full account are told apart below without reading
    // error messages. A missing account also writes nothing (its count is
    // NULL), so the only foreign key that can fail is the container's.
    let done = sqlx::query!(
        r#"INSERT INTO users (account_id, user_id, user_name, user_name_folded, display_name,
                              mobile_phone, email, comments, created_at, updated_at, last_login_at,
                              first_name, last_name, job_title, telephone, access_role, container_id,
                              container_assignments, user_type, saml_sso_only)
           SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $13, $14, $15, $16, $17, $18, $19, $20, $21
           WHERE (SELECT user_count FROM accounts WHERE id = $1) < $12
           ON CONFLICT (account_id, user_name_folded) DO NOTHING"#,
        account,
        user_id,
        name,
        folded,
        display,
        phone,
        email,
        comments,
        created,
        updated,
        last_login,
        max,
        p.first_name,
        p.last_name,
        p.job_title,
        p.telephone,
        role,
        container,
        assignments,
        kind,
        p.saml_sso_only
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        classify(
            e,
            backend("user id collision; retry with another id"),
            StoreError::NotFound(Entity::Container),
        )
    })?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    // Which refusal: a taken name wins over a full account, so that
    // retrying a create that succeeded says AlreadyExists.
    let why = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND user_name_folded = $2) AS "taken!: bool",
                  EXISTS (SELECT 1 FROM accounts WHERE id = $1) AS "account!: bool""#,
        account,
        folded
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)?;
    Err(if why.taken {
        StoreError::AlreadyExists(Entity::User)
    } else if !why.account {
        StoreError::NotFound(Entity::Account)
    } else {
        StoreError::LimitExceeded(Entity::User)
    })
}

// ---- accounts ----

#[async_trait]
impl AccountStore for SqliteStore {
    async fn root_account(&self) -> Result<Option<Account>, StoreError> {
        let row =
            sqlx::query!("SELECT id, created_at FROM accounts ORDER BY created_at, id LIMIT 1")
                .fetch_optional(&self.reads)
                .await
                .map_err(backend)?;
        Ok(row.map(|r| Account {
            id: AccountId(r.id as u64),
            created_at: from_ts(r.created_at),
        }))
    }

    async fn create_account(
        &self,
        account: &Account,
        root_container: &NewContainer,
        root_key: &NewAccessKey,
    ) -> Result<(), StoreError> {
        if root_container.parent.is_some() || root_container.account != account.id {
            return Err(backend(
                "a root container has no parent and belongs to the account being created",
            ));
        }
        let id = account.id.0 as i64;
        let created = ts(account.created_at);
        let root = root_container.clone();
        let key = root_key.clone();
        // Three writes: if the container or the key cannot be inserted, the
        // savepoint takes the account row back out.
        let work = job(move |conn| {
            Box::pin(async move {
                sqlx::query!(
                    "INSERT INTO accounts (id, created_at) VALUES ($1, $2)",
                    id,
                    created
                )
                .execute(&mut *conn)
                .await
                .map_err(|e| {
                    classify(
                        e,
                        StoreError::AlreadyExists(Entity::Account),
                        backend("foreign key violation on accounts"),
                    )
                })?;
                certcentral::insert_root_container(conn, &root).await?;
                insert_key(conn, &key, u32::MAX).await
            })
        });
        self.write(Writes::Many, work, |_| ()).await
    }
}

/// One writing statement; on refusal a read says why.
async fn insert_key(
    conn: &mut SqliteConnection,
    key: &StoredAccessKey,
    max_per_owner: u32,
) -> Result<(), StoreError> {
    let k = &key.key;
    let id = k.id.as_str();
    let account = k.account.0 as i64;
    let user = owner_id(k.owner);
    let status = k.status.as_str();
    let created = ts(k.created_at);
    let max = i64::from(max_per_owner);
    // The owner check also pins the user to the key's account, which the
    // foreign key (on user_id alone) would not.
    let done = sqlx::query!(
        r#"INSERT INTO access_keys (id, account_id, user_id, status, secret_sealed, created_at)
           SELECT $1, $2, $3, $4, $5, $6
           WHERE ($3 IS NULL OR EXISTS (SELECT 1 FROM users WHERE user_id = $3 AND account_id = $2))
             AND (SELECT COUNT(*) FROM access_keys WHERE account_id = $2 AND user_id IS $3) < $7"#,
        id,
        account,
        user,
        status,
        key.sealed_secret,
        created,
        max
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        // Only the primary key is unique; with the owner checked above, the
        // only foreign key left to fail is the account's.
        classify(
            e,
            StoreError::AlreadyExists(Entity::AccessKey),
            StoreError::NotFound(Entity::Account),
        )
    })?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let owner_exists = match user {
        None => true,
        Some(user) => sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM users WHERE user_id = $1 AND account_id = $2) AS "e!: bool""#,
            user,
            account
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(backend)?,
    };
    Err(if owner_exists {
        StoreError::LimitExceeded(Entity::AccessKey)
    } else {
        StoreError::NotFound(Entity::User)
    })
}

// ---- users ----

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: &User, max_users: u32) -> Result<(), StoreError> {
        let u = user.clone();
        let work = job(move |conn| Box::pin(async move { insert_user(conn, &u, max_users).await }));
        let users = self.users.clone();
        let (account, folded) = (user.account.0 as i64, user.name.folded());
        self.write(Writes::One, work, move |_| {
            users.invalidate(account, &[&folded]);
        })
        .await
    }

    async fn user_by_name(
        &self,
        account: AccountId,
        name: &UserName,
    ) -> Result<Option<User>, StoreError> {
        let (account, folded) = (account.0 as i64, name.folded());
        let generation = match self.users.get(account, &folded) {
            Ok(user) => return Ok(Some(user)),
            Err(generation) => generation,
        };
        let mut conn = self.reads.acquire().await.map_err(backend)?;
        let user = user_by_folded(&mut conn, account, &folded).await?;
        if let Some(u) = &user {
            self.users.fill(generation, account, folded, u);
        }
        Ok(user)
    }

    async fn user_by_id(&self, account: AccountId, id: UserId) -> Result<Option<User>, StoreError> {
        let account = account.0 as i64;
        let Ok(id) = i64::try_from(id.0) else {
            return Ok(None);
        };
        let row = sqlx::query_as!(
            UserRow,
            r#"SELECT account_id, user_id, user_name, display_name, mobile_phone, email, comments,
                      created_at, updated_at, last_login_at, first_name, last_name, job_title, telephone,
                      access_role, container_id, container_assignments, user_type, saml_sso_only AS "saml_sso_only: bool"
               FROM users WHERE account_id = $1 AND user_id = $2"#,
            account,
            id
        )
        .fetch_optional(&self.reads)
        .await
        .map_err(backend)?;
        row.map(UserRow::into_user).transpose()
    }

    async fn update_user(
        &self,
        account: AccountId,
        name: &UserName,
        patch: &UserPatch,
        now: OffsetDateTime,
    ) -> Result<User, StoreError> {
        let account = account.0 as i64;
        let folded = name.folded();
        let old = folded.clone();
        let patch = patch.clone();
        // A read, then one writing statement (the last step): no savepoint.
        let work = job(move |conn| {
            Box::pin(async move {
                let current = user_by_folded(conn, account, &folded)
                    .await?
                    .ok_or(StoreError::NotFound(Entity::User))?;
                let user_id = current.id.0 as i64;
                let next = patch.apply(&current, now);
                let name = next.name.as_str();
                let new_folded = next.name.folded();
                let display = next.display_name.as_ref().map(|v| v.as_str());
                let phone = next.mobile_phone.as_ref().map(|v| v.as_str());
                let email = next.email.as_ref().map(|v| v.as_str());
                let comments = next.comments.as_ref().map(|v| v.as_str());
                let updated = ts(next.updated_at);
                let p = &next.profile;
                let role = i64::from(p.role.id());
                let assignments = assignments_json(p);
                sqlx::query!(
                    r#"UPDATE users SET user_name = $1, user_name_folded = $2, display_name = $3, mobile_phone = $4,
                                        email = $5, comments = $6, updated_at = $7, first_name = $10,
                                        last_name = $11, job_title = $12, telephone = $13, access_role = $14,
                                        container_assignments = $15, saml_sso_only = $16
                       WHERE user_id = $8 AND account_id = $9"#,
                    name,
                    new_folded,
                    display,
                    phone,
                    email,
                    comments,
                    updated,
                    user_id,
                    account,
                    p.first_name,
                    p.last_name,
                    p.job_title,
                    p.telephone,
                    role,
                    assignments,
                    p.saml_sso_only
                )
                .execute(&mut *conn)
                .await
                // The name is the only unique column this statement changes.
                .map_err(|e| {
                    classify(
                        e,
                        StoreError::AlreadyExists(Entity::User),
                        backend("foreign key violation on users"),
                    )
                })?;
                Ok(next)
            })
        });
        let users = self.users.clone();
        self.write(Writes::One, work, move |user: &User| {
            users.invalidate(account, &[&old, &user.name.folded()]);
        })
        .await
    }

    async fn delete_user(&self, account: AccountId, name: &UserName) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let folded = name.folded();
        let gone = folded.clone();
        let work = job(move |conn| {
            Box::pin(async move {
                // One writing statement: a user in a group, with access
                // keys or with policies attached stays; a read then says
                // which, in the vendor's documented order (groups, access
                // keys, policies). API keys go with the user (ON DELETE
                // CASCADE).
                let done = sqlx::query!(
                    r#"DELETE FROM users WHERE account_id = $1 AND user_name_folded = $2
                       AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.user_id = users.user_id)
                       AND NOT EXISTS (SELECT 1 FROM access_keys k WHERE k.user_id = users.user_id)
                       AND NOT EXISTS (SELECT 1 FROM policy_attachments a WHERE a.user_id = users.user_id)"#,
                    account,
                    folded
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                let why = sqlx::query!(
                    r#"SELECT EXISTS (SELECT 1 FROM group_members m WHERE m.user_id = u.user_id) AS "groups!: bool",
                              EXISTS (SELECT 1 FROM access_keys k WHERE k.user_id = u.user_id) AS "keys!: bool",
                              EXISTS (SELECT 1 FROM policy_attachments a WHERE a.user_id = u.user_id) AS "policies!: bool"
                       FROM users u WHERE u.account_id = $1 AND u.user_name_folded = $2"#,
                    account,
                    folded
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
                let blocker = match why {
                    None => return Err(StoreError::NotFound(Entity::User)),
                    Some(w) if w.groups => Entity::Group,
                    Some(w) if w.keys => Entity::AccessKey,
                    Some(w) if w.policies => Entity::Policy,
                    Some(_) => return Err(backend("user delete wrote nothing")),
                };
                Err(StoreError::DeleteConflict {
                    entity: Entity::User,
                    blocker,
                })
            })
        });
        let users = self.users.clone();
        self.write(Writes::One, work, move |_| {
            users.invalidate(account, &[&gone]);
        })
        .await
    }

    async fn list_users(
        &self,
        account: AccountId,
        after: Option<UserCursor>,
        limit: u32,
    ) -> Result<UserPage, StoreError> {
        let account = account.0 as i64;
        let after = after.map_or(0, |c| c.0);
        let fetch = i64::from(limit) + 1;
        // The page comes back as ONE row holding a JSON array: sqlx-sqlite
        // hands every row across threads separately, which for a page of
        // 100 cost more than the query itself (see the module docs).
        let page = sqlx::query_scalar!(
            r#"SELECT json_group_array(json_array(seq, json_array(
                          account_id, user_id, user_name, display_name, mobile_phone, email, comments,
                          created_at, updated_at, last_login_at, first_name, last_name, job_title, telephone,
                          access_role, container_id, container_assignments, user_type, saml_sso_only)))
                      AS "page!: String"
               FROM (SELECT * FROM users WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)"#,
            account,
            after,
            fetch
        )
        .fetch_one(&self.reads)
        .await
        .map_err(backend)?;
        let mut rows: Vec<(i64, UserRow)> = serde_json::from_str(&page).map_err(backend)?;
        // Aggregation order is not promised by SQL; the cursor is.
        rows.sort_unstable_by_key(|r| r.0);
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more {
            rows.last().map(|r| UserCursor(r.0))
        } else {
            None
        };
        let users = rows
            .into_iter()
            .map(|(_, r)| r.into_user())
            .collect::<Result<_, _>>()?;
        Ok(UserPage { users, next })
    }

    async fn create_user_with_api_key(
        &self,
        user: &User,
        max_users: u32,
        key: &NewApiKey,
    ) -> Result<ApiKeyId, StoreError> {
        if key.user != user.id || key.account != user.account {
            return Err(backend(
                "the API key must belong to the user it is created with",
            ));
        }
        let (u, k) = (user.clone(), key.clone());
        // Two writes in one savepoint: a refused user writes nothing, and a
        // key that cannot be stored takes the user back out.
        let work = job(move |conn| {
            Box::pin(async move {
                insert_user(conn, &u, max_users).await?;
                certcentral::insert_api_key(conn, &k).await
            })
        });
        let users = self.users.clone();
        let (account, folded) = (user.account.0 as i64, user.name.folded());
        self.write(Writes::Many, work, move |_| {
            users.invalidate(account, &[&folded]);
        })
        .await
    }

    async fn query_users(
        &self,
        account: AccountId,
        query: &UserQuery,
    ) -> Result<UserListing, StoreError> {
        certcentral::query_users(&self.reads, account, query).await
    }

    async fn purge_user(&self, account: AccountId, id: UserId) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let Ok(id) = i64::try_from(id.0) else {
            return Err(StoreError::NotFound(Entity::User));
        };
        // Two writes (the access keys, whose foreign key does not cascade,
        // then the user, whose API keys go with it by ON DELETE CASCADE);
        // the savepoint keeps them together. The user's name comes back
        // for the cache.
        let work = job(move |conn| {
            Box::pin(async move {
                sqlx::query!(
                    "DELETE FROM access_keys WHERE account_id = $1 AND user_id = $2",
                    account,
                    id
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                sqlx::query_scalar!(
                    r#"DELETE FROM users WHERE account_id = $1 AND user_id = $2
                       RETURNING user_name_folded AS "folded!: String""#,
                    account,
                    id
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Entity::User))
            })
        });
        let users = self.users.clone();
        self.write(Writes::Many, work, move |folded: &String| {
            users.invalidate(account, &[folded]);
        })
        .await
        .map(|_| ())
    }
}

// ---- access keys ----

#[async_trait]
impl AccessKeyStore for SqliteStore {
    async fn create_access_key(
        &self,
        key: &NewAccessKey,
        max_per_owner: u32,
    ) -> Result<(), StoreError> {
        let key = key.clone();
        self.write(
            Writes::One,
            move |conn| Box::pin(async move { insert_key(conn, &key, max_per_owner).await }),
            |_| (),
        )
        .await
    }

    async fn access_key(&self, id: &AccessKeyId) -> Result<Option<StoredAccessKey>, StoreError> {
        let id = id.as_str();
        let row = sqlx::query!(
            r#"SELECT id AS "id!", account_id, user_id, status, secret_sealed, created_at, last_used_at
               FROM access_keys WHERE id = $1"#,
            id
        )
        .fetch_optional(&self.reads)
        .await
        .map_err(backend)?;
        row.map(|r| {
            let key = KeyRow {
                id: r.id,
                account_id: r.account_id,
                user_id: r.user_id,
                status: r.status,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
            }
            .into_key()?;
            Ok(StoredAccessKey {
                key,
                sealed_secret: r.secret_sealed,
            })
        })
        .transpose()
    }

    async fn list_access_keys(
        &self,
        account: AccountId,
        owner: KeyOwner,
    ) -> Result<Vec<AccessKey>, StoreError> {
        let account = account.0 as i64;
        let user = owner_id(owner);
        let rows = sqlx::query_as!(
            KeyRow,
            r#"SELECT id AS "id!", account_id, user_id, status, created_at, last_used_at
               FROM access_keys WHERE account_id = $1 AND user_id IS $2 ORDER BY created_at, rowid"#,
            account,
            user
        )
        .fetch_all(&self.reads)
        .await
        .map_err(backend)?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    async fn set_access_key_status(
        &self,
        account: AccountId,
        owner: KeyOwner,
        id: &AccessKeyId,
        status: KeyStatus,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let user = owner_id(owner);
        let id = id.0.clone();
        self.write(Writes::One, move |conn| {
            Box::pin(async move {
                let status = status.as_str();
                let done = sqlx::query!(
                    "UPDATE access_keys SET status = $1 WHERE id = $2 AND account_id = $3 AND user_id IS $4",
                    status,
                    id,
                    account,
                    user
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 0 { Err(StoreError::NotFound(Entity::AccessKey)) } else { Ok(()) }
            })
        }, |_| ())
        .await
    }

    async fn delete_access_key(
        &self,
        account: AccountId,
        owner: KeyOwner,
        id: &AccessKeyId,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let user = owner_id(owner);
        let id = id.0.clone();
        self.write(
            Writes::One,
            move |conn| {
                Box::pin(async move {
                    let done = sqlx::query!(
                    "DELETE FROM access_keys WHERE id = $1 AND account_id = $2 AND user_id IS $3",
                    id,
                    account,
                    user
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                    if done.rows_affected() == 0 {
                        Err(StoreError::NotFound(Entity::AccessKey))
                    } else {
                        Ok(())
                    }
                })
            },
            |_| (),
        )
        .await
    }

    async fn record_key_usage(
        &self,
        usage: &[(AccessKeyId, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        if usage.is_empty() {
            return Ok(());
        }
        let rows: Vec<serde_json::Value> = usage
            .iter()
            .map(|(k, t)| serde_json::json!([k.as_str(), ts(*t)]))
            .collect();
        let json = serde_json::Value::Array(rows).to_string();
        // One statement for the whole flush (one hop instead of one per
        // key); `max` keeps a late, older report from moving time back.
        self.write(
            Writes::One,
            move |conn| {
                Box::pin(async move {
                    sqlx::query!(
                        r#"UPDATE access_keys
                           SET last_used_at = max(coalesce(access_keys.last_used_at, 0), u.at)
                           FROM (SELECT json_extract(value, '$[0]') AS id, max(json_extract(value, '$[1]')) AS at
                                 FROM json_each($1) GROUP BY 1) AS u
                           WHERE access_keys.id = u.id"#,
                        json
                    )
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                    Ok(())
                })
            },
            |_| (),
        )
        .await
    }
}

// ---- nonces ----

#[async_trait]
impl NonceStore for SqliteStore {
    async fn record_nonce(
        &self,
        key: &AccessKeyId,
        nonce: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (reply, rx) = oneshot::channel();
        let job = Job::Nonce(NonceJob {
            key: key.0.clone(),
            nonce: nonce.to_owned(),
            expires_at: ts(expires_at),
            reply,
        });
        self.writer.send(job).await.map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())?
    }

    async fn purge_nonces(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let now = ts(now);
        self.write(
            Writes::One,
            move |conn| {
                Box::pin(async move {
                    let done = sqlx::query!("DELETE FROM nonces WHERE expires_at < $1", now)
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?;
                    Ok(done.rows_affected())
                })
            },
            |_| (),
        )
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.reads.acquire().await.map_err(backend)?;
        conn.ping().await.map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;
    use time::macros::datetime;
    use trustdesk_domain::store::ContainerStore;

    use trustdesk_domain::{Comments, ContainerId, Profile, UserKind};

    use super::*;

    const T: OffsetDateTime = datetime!(2026-03-04 05:06:07 UTC);

    /// A migrated writer-style connection on a fresh file.
    pub(crate) async fn connection() -> (tempfile::TempDir, SqliteConnection) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = connect_options(dir.path().join("w.db").to_str().unwrap())
            .unwrap()
            .connect()
            .await
            .unwrap();
        MIGRATOR.run(&mut conn).await.unwrap();
        (dir, conn)
    }

    fn key(account: AccountId, id: &str) -> StoredAccessKey {
        StoredAccessKey {
            key: AccessKey {
                id: AccessKeyId(id.into()),
                account,
                owner: KeyOwner::Root,
                status: KeyStatus::Active,
                created_at: T,
                last_used_at: None,
            },
            sealed_secret: vec![7; 40],
        }
    }

    pub(crate) fn root_container(account: AccountId) -> NewContainer {
        NewContainer {
            account,
            parent: None,
            name: "Root".into(),
            description: None,
            template_id: trustdesk_domain::certcentral::ROOT_TEMPLATE,
            public_id: "0123456789abcdef0123456789abcdef".into(),
            ekey: "fedcba9876543210".into(),
            created_at: T,
        }
    }

    async fn create_account(store: &SqliteStore, account: AccountId, key_id: &str) {
        store
            .create_account(
                &Account {
                    id: account,
                    created_at: T,
                },
                &root_container(account),
                &key(account, key_id),
            )
            .await
            .unwrap();
    }

    /// The account's root container, made with the account.
    async fn root(store: &SqliteStore, account: AccountId) -> ContainerId {
        let all = store.containers(account).await.unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].parent, None);
        all[0].id
    }

    fn user(account: AccountId, root: ContainerId, name: &str) -> User {
        User {
            id: UserId(2_000_000_000_000_001),
            account,
            name: UserName::parse(name).unwrap(),
            display_name: None,
            mobile_phone: None,
            email: None,
            comments: None,
            created_at: T,
            updated_at: T,
            last_login_at: None,
            profile: Profile::for_ram_user(root),
        }
    }

    #[tokio::test]
    async fn an_acknowledged_write_is_seen_by_a_new_store_on_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let acct = AccountId(1_000_000_000_000_001);
        let k = AccessKeyId("LTAIpersist".into());
        let durable;
        {
            // A plain path this time; the reopen below uses a URL.
            let store = SqliteStore::open(path.to_str().unwrap(), SqliteOptions::default())
                .await
                .unwrap();
            create_account(&store, acct, &k.0).await;
            let root = root(&store, acct).await;
            durable = user(acct, root, "durable");
            store.create_user(&durable, 10).await.unwrap();
            assert!(store.record_nonce(&k, "n", T).await.unwrap());
            // Not dropped: the first store is still open while the second
            // reads, as when a crashed process left its files behind.
            let again = SqliteStore::open(
                &format!("sqlite://{}", path.display()),
                SqliteOptions::default(),
            )
            .await
            .unwrap();
            let u = again
                .user_by_name(acct, &UserName::parse("DURABLE").unwrap())
                .await
                .unwrap();
            assert_eq!(u, Some(durable.clone()));
            assert_eq!(again.access_key(&k).await.unwrap(), Some(key(acct, &k.0)));
            assert!(!again.record_nonce(&k, "n", T).await.unwrap(), "replay");
            drop(store);
        }
        // Reopening migrates nothing and loses nothing.
        let third = SqliteStore::open(&format!("sqlite:{}", path.display()), Default::default())
            .await
            .unwrap();
        assert_eq!(
            third.root_account().await.unwrap().map(|a| a.id),
            Some(acct)
        );
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_still_invalidates_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(
            dir.path().join("c.db").to_str().unwrap(),
            SqliteOptions::default(),
        )
        .await
        .unwrap();
        let acct = AccountId(1_000_000_000_000_002);
        create_account(&store, acct, "LTAIc").await;
        let root = root(&store, acct).await;
        let name = UserName::parse("cached").unwrap();
        store
            .create_user(&user(acct, root, "cached"), 10)
            .await
            .unwrap();
        let before = store.user_by_name(acct, &name).await.unwrap().unwrap();
        // Poll once (the job is queued), then drop, as a server does with a
        // request whose client hung up.
        let patch = UserPatch {
            comments: Some(Some(Comments::parse("changed").unwrap())),
            ..UserPatch::default()
        };
        let later = T + time::Duration::hours(1);
        assert!(
            store
                .update_user(acct, &name, &patch, later)
                .now_or_never()
                .is_none()
        );
        // The writer handles jobs in order: once this one is answered, the
        // abandoned update has been committed.
        store.purge_nonces(T).await.unwrap();
        let after = store.user_by_name(acct, &name).await.unwrap().unwrap();
        assert_eq!(after, patch.apply(&before, later));
    }

    /// A database made before CertCentral: every account gets a root
    /// container, every user lands in its account's root as a Standard
    /// User, and ids of containers made later come after the roots.
    #[tokio::test]
    async fn migrating_gives_existing_accounts_a_root_container() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let path = path.to_str().unwrap();
        let (a, b) = (
            AccountId(1_000_000_000_000_011),
            AccountId(1_000_000_000_000_022),
        );
        {
            let mut conn = connect_options(path).unwrap().connect().await.unwrap();
            MIGRATOR.run_to(3, &mut conn).await.unwrap();
            sqlx::raw_sql(
                "INSERT INTO accounts (id, created_at) VALUES (1000000000000011, 100), (1000000000000022, 200);
                 INSERT INTO users (account_id, user_id, user_name, user_name_folded, display_name,
                                    created_at, updated_at)
                 VALUES (1000000000000011, 2000000000000001, 'Old', 'old', 'Old.Timer', 1, 1),
                        (1000000000000022, 2000000000000002, 'other', 'other', NULL, 1, 1);",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
        }
        let store = SqliteStore::open(path, SqliteOptions::default())
            .await
            .unwrap();
        let mut public_ids = Vec::new();
        for (acct, created, name) in [(a, 100, "Old"), (b, 200, "other")] {
            let root = store.containers(acct).await.unwrap();
            assert_eq!(root.len(), 1, "{root:?}");
            let r = &root[0];
            assert_eq!((r.account, r.parent, r.name.as_str()), (acct, None, "Root"));
            assert_eq!(
                (r.template_id, r.active, r.description.as_deref()),
                (5, true, None)
            );
            assert_eq!(r.created_at, from_ts(created), "made when the account was");
            for token in [&r.public_id, &r.ekey] {
                assert_eq!(token.len(), 32, "{token}");
                assert!(
                    token
                        .bytes()
                        .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
                    "{token}"
                );
            }
            public_ids.push(r.public_id.clone());
            let u = store
                .user_by_name(acct, &UserName::parse(name).unwrap())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(u.profile, Profile::for_ram_user(r.id));
        }
        assert_ne!(public_ids[0], public_ids[1]);
        let root = store.containers(a).await.unwrap()[0].id;
        let child = store
            .create_container(&NewContainer {
                parent: Some(root),
                template_id: trustdesk_domain::certcentral::CHILD_TEMPLATE,
                ..root_container(a)
            })
            .await
            .unwrap();
        assert!(child > store.containers(b).await.unwrap()[0].id);
    }

    /// The default CertCentral list (no filter, by id) and its total are
    /// answered from the `(account_id, user_type, user_id)` index, without
    /// sorting the account's users.
    #[tokio::test]
    async fn the_default_user_list_walks_its_index() {
        let (_dir, mut conn) = connection().await;
        let q = UserQuery {
            kind: UserKind::Standard,
            containers: None,
            role: None,
            search: None,
            sort: Vec::new(),
            offset: 0,
            limit: 10,
        };
        let plan = certcentral::explain_query_users(&mut conn, AccountId(1), &q).await;
        assert!(!plan.contains("TEMP B-TREE FOR ORDER BY"), "{plan}");
        assert_eq!(plan.matches("users_account_type_id").count(), 2, "{plan}");
    }

    #[tokio::test]
    async fn refusals_are_told_apart_without_reading_messages() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(
            dir.path().join("r.db").to_str().unwrap(),
            SqliteOptions::default(),
        )
        .await
        .unwrap();
        let acct = AccountId(1_000_000_000_000_003);
        let nowhere = AccountId(1_000_000_000_000_004);
        assert!(matches!(
            store
                .create_user(&user(nowhere, ContainerId(1), "x"), 10)
                .await,
            Err(StoreError::NotFound(Entity::Account))
        ));
        create_account(&store, acct, "LTAIr").await;
        let root = root(&store, acct).await;
        store
            .create_user(&user(acct, root, "one"), 1)
            .await
            .unwrap();
        // Full account and taken name: the name wins, so a retried create
        // that had succeeded reads as AlreadyExists.
        let mut again = user(acct, root, "ONE");
        again.id = UserId(2_000_000_000_000_009);
        assert!(matches!(
            store.create_user(&again, 1).await,
            Err(StoreError::AlreadyExists(Entity::User))
        ));
        let mut other = user(acct, root, "two");
        other.id = UserId(2_000_000_000_000_010);
        assert!(matches!(
            store.create_user(&other, 1).await,
            Err(StoreError::LimitExceeded(Entity::User))
        ));
        // Same user id, free name: a collision of random ids, not a clash
        // of names.
        assert!(matches!(
            store.create_user(&user(acct, root, "three"), 5).await,
            Err(StoreError::Backend(_))
        ));
        // A container that does not exist.
        let mut lost = user(acct, ContainerId(999_999), "lost");
        lost.id = UserId(2_000_000_000_000_011);
        assert!(matches!(
            store.create_user(&lost, 5).await,
            Err(StoreError::NotFound(Entity::Container))
        ));
        // A key for a user of another account is refused as NotFound.
        let stranger = AccountId(1_000_000_000_000_005);
        create_account(&store, stranger, "LTAIs").await;
        let mut theirs = key(stranger, "LTAItheirs");
        theirs.key.owner = KeyOwner::User(user(acct, root, "one").id);
        assert!(matches!(
            store.create_access_key(&theirs, 2).await,
            Err(StoreError::NotFound(Entity::User))
        ));
        assert!(matches!(
            store
                .create_access_key(&key(nowhere, "LTAInowhere"), 2)
                .await,
            Err(StoreError::NotFound(Entity::Account))
        ));
    }
}
