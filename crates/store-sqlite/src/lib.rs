//! SQLite implementation of the trustdesk store traits.
//!
//! Layout: one writer connection owned by a task that commits in groups
//! (see [`writer`]), and a pool of reader connections (WAL lets readers run
//! beside the writer). Pragmas: `journal_mode=WAL`, `synchronous=FULL` (a
//! commit is on disk before anyone is told about it, so a 2xx survives
//! `kill -9` and power loss), `foreign_keys=ON`, `busy_timeout=5s`.
//!
//! Every business outcome is decided by the statement that writes, so it
//! holds under concurrency: user names are unique through a unique index on
//! `(account_id, user_name_folded)`; the per-account user limit is checked
//! in the same `INSERT … SELECT … WHERE user_count < ?` that inserts, with
//! `user_count` kept by triggers (O(1), no `COUNT(*)` over the users); the
//! access-key limit the same way over the owner's keys.
//!
//! SQL is checked at compile time with sqlx's macros against the schema in
//! `migrations/`; the offline data lives in `.sqlx/` (see README.md).

mod cache;
mod writer;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::BoxFuture;
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
    AccessKey, AccessKeyId, AccountId, Comments, DisplayName, Email, Entity, KeyOwner, KeyStatus,
    MobilePhone, NewAccessKey, StoreError, StoredAccessKey, User, UserId, UserName, UserPatch,
};

use crate::writer::{Finish, Job};

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

/// The SQLite store. Cheap to share behind an `Arc`.
pub struct SqliteStore {
    reads: SqlitePool,
    writer: mpsc::Sender<Job>,
    users: cache::UserCache,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn writer_gone() -> StoreError {
    StoreError::Backend("the database writer has stopped".into())
}

/// `sqlite://path`, `sqlite:path` or a plain path.
fn connect_options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
    let url = if url.starts_with("sqlite:") {
        url.to_owned()
    } else {
        format!("sqlite://{url}")
    };
    Ok(SqliteConnectOptions::from_str(&url)
        .map_err(backend)?
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
    /// Opens (creating if needed) and migrates the database.
    pub async fn open(url: &str, opts: SqliteOptions) -> Result<Self, StoreError> {
        let options = connect_options(url)?;
        let mut conn = options.connect().await.map_err(backend)?;
        MIGRATOR.run(&mut conn).await.map_err(backend)?;
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
            users: cache::UserCache::default(),
        })
    }

    /// Runs `f` on the writer inside the batch transaction and returns its
    /// result once the batch is durable. `single_statement` jobs skip the
    /// savepoint (a failed statement undoes itself).
    async fn write<T, F>(&self, single_statement: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let work: writer::Work = Box::new(move |conn| {
            Box::pin(async move {
                let result = f(conn).await;
                let ok = result.is_ok();
                let finish: Finish = Box::new(move |commit| {
                    let _ = tx.send(commit.and(result));
                });
                (ok, finish)
            })
        });
        self.writer
            .send(Job::Write {
                work,
                savepoint: !single_statement,
            })
            .await
            .map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())?
    }
}

// ---- conversions ----

fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn from_ts(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn is_unique_violation(e: &sqlx::Error, index_column: &str) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation && db.message().contains(index_column))
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation)
}

fn owner_id(owner: KeyOwner) -> Option<i64> {
    match owner {
        KeyOwner::Root => None,
        KeyOwner::User(id) => Some(id.0 as i64),
    }
}

struct UserRow {
    account_id: i64,
    user_id: i64,
    user_name: String,
    display_name: Option<String>,
    mobile_phone: Option<String>,
    email: Option<String>,
    comments: Option<String>,
    created_at: i64,
    updated_at: i64,
    last_login_at: Option<i64>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.user_id as u64),
            account: AccountId(r.account_id as u64),
            name: UserName::from_trusted(r.user_name),
            display_name: r.display_name.map(DisplayName::from_trusted),
            mobile_phone: r.mobile_phone.map(MobilePhone::from_trusted),
            email: r.email.map(Email::from_trusted),
            comments: r.comments.map(Comments::from_trusted),
            created_at: from_ts(r.created_at),
            updated_at: from_ts(r.updated_at),
            last_login_at: r.last_login_at.map(from_ts),
        }
    }
}

struct KeyRow {
    id: String,
    account_id: i64,
    user_id: Option<i64>,
    status: String,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl KeyRow {
    fn into_key(self) -> Result<AccessKey, StoreError> {
        Ok(AccessKey {
            id: AccessKeyId(self.id),
            account: AccountId(self.account_id as u64),
            owner: self
                .user_id
                .map_or(KeyOwner::Root, |u| KeyOwner::User(UserId(u as u64))),
            status: KeyStatus::parse(&self.status)
                .ok_or_else(|| backend(format!("bad key status {}", self.status)))?,
            created_at: from_ts(self.created_at),
            last_used_at: self.last_used_at.map(from_ts),
        })
    }
}

async fn user_by_folded(
    conn: &mut SqliteConnection,
    account: i64,
    folded: &str,
) -> Result<Option<User>, StoreError> {
    let row = sqlx::query_as!(
        UserRow,
        r#"SELECT account_id, user_id, user_name, display_name, mobile_phone, email, comments,
                  created_at, updated_at, last_login_at
           FROM users WHERE account_id = $1 AND user_name_folded = $2"#,
        account,
        folded
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(row.map(User::from))
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
        root_key: &NewAccessKey,
    ) -> Result<(), StoreError> {
        let id = account.id.0 as i64;
        let created = ts(account.created_at);
        let key = root_key.clone();
        self.write(false, move |conn| {
            Box::pin(async move {
                sqlx::query!(
                    "INSERT INTO accounts (id, created_at) VALUES ($1, $2)",
                    id,
                    created
                )
                .execute(&mut *conn)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e, "accounts") {
                        StoreError::AlreadyExists(Entity::Account)
                    } else {
                        backend(e)
                    }
                })?;
                insert_key(conn, &key, u32::MAX).await
            })
        })
        .await
    }
}

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
    let done = sqlx::query!(
        r#"INSERT INTO access_keys (id, account_id, user_id, status, secret_sealed, created_at)
           SELECT $1, $2, $3, $4, $5, $6
           WHERE (SELECT COUNT(*) FROM access_keys WHERE account_id = $2 AND user_id IS $3) < $7"#,
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
        if is_foreign_key_violation(&e) {
            StoreError::NotFound(Entity::User)
        } else if is_unique_violation(&e, "access_keys") {
            StoreError::AlreadyExists(Entity::AccessKey)
        } else {
            backend(e)
        }
    })?;
    if done.rows_affected() == 0 {
        Err(StoreError::LimitExceeded(Entity::AccessKey))
    } else {
        Ok(())
    }
}

// ---- users ----

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: &User, max_users: u32) -> Result<(), StoreError> {
        let u = user.clone();
        let (account, folded) = (user.account.0 as i64, user.name.folded());
        let result = self.write(true, move |conn| {
            Box::pin(async move {
                let account = u.account.0 as i64;
                let user_id = u.id.0 as i64;
                let name = u.name.as_str();
                let folded = u.name.folded();
                let display = u.display_name.as_ref().map(|v| v.as_str());
                let phone = u.mobile_phone.as_ref().map(|v| v.as_str());
                let email = u.email.as_ref().map(|v| v.as_str());
                let comments = u.comments.as_ref().map(|v| v.as_str());
                let created = ts(u.created_at);
                let max = i64::from(max_users);
                let done = sqlx::query!(
                    r#"INSERT INTO users (account_id, user_id, user_name, user_name_folded, display_name, mobile_phone,
                                          email, comments, created_at, updated_at)
                       SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $9
                       WHERE (SELECT user_count FROM accounts WHERE id = $1) < $10"#,
                    account,
                    user_id,
                    name,
                    folded,
                    display,
                    phone,
                    email,
                    comments,
                    created,
                    max
                )
                .execute(&mut *conn)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e, "user_name_folded") {
                        StoreError::AlreadyExists(Entity::User)
                    } else {
                        backend(e)
                    }
                })?;
                if done.rows_affected() == 0 { Err(StoreError::LimitExceeded(Entity::User)) } else { Ok(()) }
            })
        })
        .await;
        if result.is_ok() {
            self.users.invalidate(account, &[&folded]);
        }
        result
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
        let id = id.0 as i64;
        let row = sqlx::query_as!(
            UserRow,
            r#"SELECT account_id, user_id, user_name, display_name, mobile_phone, email, comments,
                      created_at, updated_at, last_login_at
               FROM users WHERE account_id = $1 AND user_id = $2"#,
            account,
            id
        )
        .fetch_optional(&self.reads)
        .await
        .map_err(backend)?;
        Ok(row.map(User::from))
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
        let result = self.write(false, move |conn| {
            Box::pin(async move {
                let current = user_by_folded(conn, account, &folded).await?.ok_or(StoreError::NotFound(Entity::User))?;
                let user_id = current.id.0 as i64;
                let next = patch.apply(&current, now);
                let name = next.name.as_str();
                let new_folded = next.name.folded();
                let display = next.display_name.as_ref().map(|v| v.as_str());
                let phone = next.mobile_phone.as_ref().map(|v| v.as_str());
                let email = next.email.as_ref().map(|v| v.as_str());
                let comments = next.comments.as_ref().map(|v| v.as_str());
                let updated = ts(next.updated_at);
                sqlx::query!(
                    r#"UPDATE users SET user_name = $1, user_name_folded = $2, display_name = $3, mobile_phone = $4,
                                        email = $5, comments = $6, updated_at = $7
                       WHERE user_id = $8"#,
                    name,
                    new_folded,
                    display,
                    phone,
                    email,
                    comments,
                    updated,
                    user_id
                )
                .execute(&mut *conn)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e, "user_name_folded") {
                        StoreError::AlreadyExists(Entity::User)
                    } else {
                        backend(e)
                    }
                })?;
                Ok(next)
            })
        })
        .await;
        if let Ok(user) = &result {
            self.users.invalidate(account, &[&old, &user.name.folded()]);
        }
        result
    }

    async fn delete_user(&self, account: AccountId, name: &UserName) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let folded = name.folded();
        let gone = folded.clone();
        let result = self.write(true, move |conn| {
            Box::pin(async move {
                let done = sqlx::query!(
                    r#"DELETE FROM users WHERE account_id = $1 AND user_name_folded = $2
                       AND NOT EXISTS (SELECT 1 FROM access_keys k WHERE k.user_id = users.user_id)"#,
                    account,
                    folded
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                match user_by_folded(conn, account, &folded).await? {
                    None => Err(StoreError::NotFound(Entity::User)),
                    Some(_) => Err(StoreError::DeleteConflict { entity: Entity::User, blocker: Entity::AccessKey }),
                }
            })
        })
        .await;
        if result.is_ok() {
            self.users.invalidate(account, &[&gone]);
        }
        result
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
            r#"SELECT json_group_array(json_array(seq, account_id, user_id, user_name, display_name, mobile_phone,
                                                  email, comments, created_at, updated_at, last_login_at))
                      AS "page!: String"
               FROM (SELECT * FROM users WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)"#,
            account,
            after,
            fetch
        )
        .fetch_one(&self.reads)
        .await
        .map_err(backend)?;
        let mut rows: Vec<PageRow> = serde_json::from_str(&page).map_err(backend)?;
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
            .map(|r| {
                UserRow {
                    account_id: r.1,
                    user_id: r.2,
                    user_name: r.3,
                    display_name: r.4,
                    mobile_phone: r.5,
                    email: r.6,
                    comments: r.7,
                    created_at: r.8,
                    updated_at: r.9,
                    last_login_at: r.10,
                }
                .into()
            })
            .collect();
        Ok(UserPage { users, next })
    }
}

/// One user of a listing page as `json_array(...)` renders it.
type PageRow = (
    i64,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    Option<i64>,
);

// ---- access keys ----

#[async_trait]
impl AccessKeyStore for SqliteStore {
    async fn create_access_key(
        &self,
        key: &NewAccessKey,
        max_per_owner: u32,
    ) -> Result<(), StoreError> {
        let key = key.clone();
        self.write(true, move |conn| {
            Box::pin(async move { insert_key(conn, &key, max_per_owner).await })
        })
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
        self.write(true, move |conn| {
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
        })
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
        self.write(true, move |conn| {
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
        })
        .await
    }

    async fn record_key_usage(
        &self,
        usage: &[(AccessKeyId, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        let usage: Vec<(String, i64)> = usage.iter().map(|(k, t)| (k.0.clone(), ts(*t))).collect();
        self.write(false, move |conn| {
            Box::pin(async move {
                for (id, at) in usage {
                    sqlx::query!(
                        "UPDATE access_keys SET last_used_at = max(coalesce(last_used_at, 0), $1) WHERE id = $2",
                        at,
                        id
                    )
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                }
                Ok(())
            })
        })
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
        let job = Job::Nonce {
            key: key.0.clone(),
            nonce: nonce.to_owned(),
            expires_at: ts(expires_at),
            reply,
        };
        self.writer.send(job).await.map_err(|_| writer_gone())?;
        rx.await.map_err(|_| writer_gone())?
    }

    async fn purge_nonces(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let now = ts(now);
        self.write(true, move |conn| {
            Box::pin(async move {
                let done = sqlx::query!("DELETE FROM nonces WHERE expires_at < $1", now)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected())
            })
        })
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
