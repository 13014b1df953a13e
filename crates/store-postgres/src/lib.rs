//! PostgreSQL implementation of the trustdesk store traits, for several
//! stateless nodes on one database.
//!
//! Layout: one sqlx pool; every write is one transaction (the
//! `transaction!` macro), every read one statement on the pool. The schema
//! in `migrations/` mirrors the SQLite store's table for table and column
//! for column under the same numbered names (a unit test holds the two
//! lists together), so `trustdesk copy` moves rows one to one.
//!
//! Durability: a write returns `Ok` only after its `COMMIT` returned, and
//! PostgreSQL's default `synchronous_commit=on` flushes the WAL first, so
//! a 2xx built on it survives `kill -9` of any node and of the database.
//! (The test clusters turn fsync off; production settings are the
//! operator's, and `synchronous_commit=off` would break this promise.)
//!
//! Concurrency: PostgreSQL runs writers side by side (READ COMMITTED), so
//! unlike SQLite's single writer, a check and the write it guards are not
//! atomic by themselves. Every limit and conflict is decided under a row
//! lock, and every check runs in a statement of its own after the lock
//! (a statement that waited for a lock still reads the rows as they were
//! when it started). Locks are taken in one order everywhere: policy,
//! group, user, then account (the account row last: the epoch lives
//! there, and triggers lock it at the first write of most transactions).
//! A user's keys, memberships and attachments are decided under the user's
//! row; groups and custom policies under the account's. The user limit is
//! the exception that keeps creates from queueing on one row: counts are
//! spread over 16 delta rows per account and the limit is kept exact with
//! an advisory lock, shared per insert and exclusive near the limit (see
//! `insert_user`). Uniqueness rests on unique
//! indexes (`ON CONFLICT DO NOTHING`, then a read says why), so it holds
//! across nodes. Deadlocks and serialization failures, which PostgreSQL
//! may still report under contention, are retried (three attempts) before
//! they surface as backend errors.
//!
//! Caching: none here. Every node reads the one truth; the service's
//! caches follow `accounts.policy_epoch`, which triggers move in the same
//! transaction as every change a node may have cached (migrations 0005,
//! 0006).
//!
//! Migrations: `sqlx::migrate!`; sqlx's PostgreSQL migrator holds a
//! session advisory lock while it runs, so nodes starting together apply
//! each migration once (tested in `tests/it/multinode.rs`).
//!
//! SQL is checked at compile time with sqlx's macros against the schema;
//! the offline data lives in `.sqlx/` (see README.md).

mod certcentral;
mod certificates;
mod groups;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::ConnectOptions;
use sqlx::error::ErrorKind;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use time::OffsetDateTime;
use trustdesk_domain::store::{
    AccessKeyStore, Account, AccountStore, NonceStore, Store, UserCursor, UserPage, UserStore,
};
use trustdesk_domain::{
    AccessKey, AccessKeyId, AccountId, ApiKeyId, Entity, KeyOwner, KeyStatus, NewAccessKey,
    NewApiKey, NewContainer, StoreError, StoredAccessKey, User, UserId, UserListing, UserName,
    UserPatch, UserQuery,
};

/// Tunables.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Connections in the pool (each node has its own pool; the database's
    /// `max_connections` must cover every node's).
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// The key of the start-up advisory lock ("trustdsk" in ASCII; sqlx's
/// migrator uses its own key derived from the database name).
const START_LOCK: i64 = 0x7472_7573_7464_736b;

/// Holds the start-up lock until dropped (closing its connection ends the
/// session, which releases the lock).
pub struct StartLock {
    _conn: PgConnection,
}

/// The PostgreSQL store. Cheap to share behind an `Arc`.
pub struct PgStore {
    pool: PgPool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The migrations' names (`0001_initial`, …), for the check that both
/// stores keep the same list.
pub fn migration_names() -> Vec<String> {
    MIGRATOR
        .iter()
        .map(|m| format!("{:04}_{}", m.version, m.description.replace(' ', "_")))
        .collect()
}

/// Marks a backend error the transaction loop may retry.
const RETRY: &str = "retryable: ";

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A database error as a store error; deadlocks and serialization
/// failures are marked so that [`PgStore::write`] retries them.
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(d) = &e
        && matches!(d.code().as_deref(), Some("40001" | "40P01"))
    {
        return StoreError::Backend(format!("{RETRY}{e}"));
    }
    backend(e)
}

fn retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Backend(m) if m.starts_with(RETRY))
}

/// The one place database errors become store errors. `unique` and
/// `foreign` are what a unique or foreign-key violation means for the
/// statement at hand (the caller knows which constraint can fire there).
pub(crate) fn classify(e: sqlx::Error, unique: StoreError, foreign: StoreError) -> StoreError {
    match &e {
        sqlx::Error::Database(d) => match d.kind() {
            ErrorKind::UniqueViolation => unique,
            ErrorKind::ForeignKeyViolation => foreign,
            _ => db(e),
        },
        _ => db(e),
    }
}

/// Runs `$body` (a block evaluating to `Result<T, StoreError>`, with
/// `$conn: &mut PgConnection` in scope; `?` and `return` end the body) in
/// a transaction of `$store` and commits unless the body returned an
/// error; retried from the start on a deadlock or serialization failure
/// (three attempts). `Ok` means committed, hence durable. A macro rather
/// than a function taking a closure, so the body can borrow its inputs.
macro_rules! transaction {
    ($store:expr, |$conn:ident| $body:block) => {{
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = async {
                let mut tx = $store.pool.begin().await.map_err($crate::db)?;
                // Its own async block, so that a `return` in the body ends
                // the body, not the transaction before its commit.
                let value: Result<_, trustdesk_domain::StoreError> = async {
                    let $conn: &mut sqlx::PgConnection = &mut tx;
                    $body
                }
                .await;
                let value = value?;
                tx.commit().await.map_err($crate::db)?;
                Ok(value)
            }
            .await;
            match result {
                Err(e) if $crate::retryable(&e) && attempt < 3 => {
                    tracing::debug!(error = %e, attempt, "retrying a transaction");
                }
                other => break other,
            }
        }
    }};
}
#[allow(unused_imports)]
pub(crate) use transaction;

impl PgStore {
    /// Connects and migrates (idempotent; concurrent callers wait on the
    /// migrator's advisory lock). `url` is a libpq-style URL:
    /// `postgres://user:password@host:port/db?sslmode=verify-full&sslrootcert=ca.pem`
    /// for TLS.
    pub async fn open(url: &str, opts: PgOptions) -> Result<Self, StoreError> {
        let store = Self::connect(url, opts).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating (for `trustdesk copy`, which migrates
    /// explicitly, and for tests).
    pub async fn connect(url: &str, opts: PgOptions) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| backend(format!("invalid PostgreSQL URL: {e}")))?
            .application_name("trustdesk");
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(backend)?;
        Ok(Self { pool })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(backend)
    }

    /// Waits for and takes the database-wide start-up lock (a session
    /// advisory lock on a connection of its own). Held while a node
    /// bootstraps, so nodes starting together create one account between
    /// them; released when the guard drops, or by the server when a
    /// crashed node's connection ends.
    pub async fn start_lock(url: &str) -> Result<StartLock, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| backend(format!("invalid PostgreSQL URL: {e}")))?
            .application_name("trustdesk start-up");
        let mut conn = options.connect().await.map_err(backend)?;
        sqlx::query!("SELECT pg_advisory_lock($1)", START_LOCK)
            .execute(&mut conn)
            .await
            .map_err(backend)?;
        Ok(StartLock { _conn: conn })
    }

    /// The pool, for operations tooling (`trustdesk copy`).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// `Ok` if a write touched a row, else `NotFound(missing)`: how an update
/// or delete keyed by id says the record is not there.
pub(crate) fn touched(
    done: sqlx::postgres::PgQueryResult,
    missing: Entity,
) -> Result<(), StoreError> {
    if done.rows_affected() == 0 {
        Err(StoreError::NotFound(missing))
    } else {
        Ok(())
    }
}

// ---- rows (trustdesk_domain::rows, shared with the SQLite store) ----

use trustdesk_domain::rows::KeyRow;
pub(crate) use trustdesk_domain::rows::{
    USER_COLUMNS, UserRow, assignments_json, from_ts, owner_id, ts,
};

/// A [`UserRow`] from a row of a query built at run time that selects
/// [`USER_COLUMNS`].
pub(crate) fn user_row(r: &sqlx::postgres::PgRow) -> Result<UserRow, sqlx::Error> {
    use sqlx::Row;
    Ok(UserRow {
        account_id: r.try_get("account_id")?,
        user_id: r.try_get("user_id")?,
        user_name: r.try_get("user_name")?,
        display_name: r.try_get("display_name")?,
        mobile_phone: r.try_get("mobile_phone")?,
        email: r.try_get("email")?,
        comments: r.try_get("comments")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        last_login_at: r.try_get("last_login_at")?,
        first_name: r.try_get("first_name")?,
        last_name: r.try_get("last_name")?,
        job_title: r.try_get("job_title")?,
        telephone: r.try_get("telephone")?,
        access_role: r.try_get("access_role")?,
        container_id: r.try_get("container_id")?,
        container_assignments: r.try_get("container_assignments")?,
        user_type: r.try_get("user_type")?,
        saml_sso_only: r.try_get("saml_sso_only")?,
    })
}

async fn user_by_folded(
    conn: &mut PgConnection,
    account: i64,
    folded: &str,
) -> Result<Option<User>, StoreError> {
    let row = sqlx::query_as!(
        UserRow,
        r#"SELECT account_id, user_id, user_name, display_name, mobile_phone, email, comments,
                  created_at, updated_at, last_login_at, first_name, last_name, job_title, telephone,
                  access_role, container_id, container_assignments, user_type, saml_sso_only
           FROM users WHERE account_id = $1 AND user_name_folded = $2"#,
        account,
        folded
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.map(UserRow::into_user).transpose()
}

/// Locks the account row for the rest of the transaction; `None` if there
/// is no such account. Taken by writes that a per-account limit other than
/// the user limit guards (groups, custom policies) and by root keys.
pub(crate) async fn lock_account(
    conn: &mut PgConnection,
    account: i64,
) -> Result<Option<()>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT 1 AS one FROM accounts WHERE id = $1 FOR NO KEY UPDATE",
        account
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .map(|_| ()))
}

/// How many users the account has (`account_count`, migration 0002).
/// Sees what has committed, and this transaction's own changes.
async fn user_count(conn: &mut PgConnection, account: i64) -> Result<i64, StoreError> {
    sqlx::query_scalar!(r#"SELECT account_count($1, 1::smallint) AS "n""#, account)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?
        .ok_or(StoreError::NotFound(Entity::Account))
}

/// Inserts of one account that may run side by side: at most one
/// uncommitted insert per delta row, so at most this many besides one's
/// own.
const OTHER_INSERTS_IN_FLIGHT: i64 = 15;

/// Inserts a user; on refusal, says why (and the caller's transaction is
/// rolled back).
///
/// The user limit stays exact without making every insert of an account
/// wait for the one before it to commit. An insert takes the account's
/// advisory lock in shared mode, inserts (its trigger adds +1 to one of
/// the 16 delta rows, locked until the commit, so at most 15 other
/// inserts of the account are uncommitted at any moment) and counts: if
/// even 15 more could not reach the limit, it commits. Near the limit it
/// starts over holding the lock exclusively, which waits for every insert
/// in flight and keeps new ones out, and counts exactly. Deletes take no
/// advisory lock; an uncommitted delete only makes the count higher, so
/// it can refuse early, never admit one too many.
///
/// The insert comes before any lock on the account row, in the lock order
/// (user, then account) that deletes and group changes follow.
async fn insert_user(conn: &mut PgConnection, u: &User, max_users: u32) -> Result<(), StoreError> {
    let account = u.account.0 as i64;
    let max = i64::from(max_users);
    // The shared lock inside a savepoint: rolling back to it also gives
    // the lock back, so the exclusive one below is never an upgrade (two
    // upgrades at once would deadlock).
    sqlx::query!("SAVEPOINT insert_user")
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::query!("SELECT pg_advisory_xact_lock_shared($1)", account)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    insert_user_row(conn, u).await?;
    if user_count(conn, account).await? + OTHER_INSERTS_IN_FLIGHT <= max {
        return Ok(());
    }
    // Near the limit: undo, wait for the inserts in flight, count exactly.
    sqlx::query!("ROLLBACK TO SAVEPOINT insert_user")
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", account)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    insert_user_row(conn, u).await?;
    if user_count(conn, account).await? > max {
        return Err(StoreError::LimitExceeded(Entity::User));
    }
    Ok(())
}

/// The insert itself: `AlreadyExists` for a taken name (which wins over a
/// full account: a retried create that had succeeded reads so).
async fn insert_user_row(conn: &mut PgConnection, u: &User) -> Result<(), StoreError> {
    let account = u.account.0 as i64;
    let p = &u.profile;
    // A taken name makes the statement do nothing rather than fail, so a
    // name clash wins over a full account (a retried create that had
    // succeeded reads AlreadyExists).
    let done = sqlx::query!(
        r#"INSERT INTO users (account_id, user_id, user_name, user_name_folded, display_name,
                              mobile_phone, email, comments, created_at, updated_at, last_login_at,
                              first_name, last_name, job_title, telephone, access_role, container_id,
                              container_assignments, user_type, saml_sso_only)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
           ON CONFLICT (account_id, user_name_folded) DO NOTHING"#,
        account,
        u.id.0 as i64,
        u.name.as_str(),
        u.name.folded(),
        u.display_name.as_ref().map(|v| v.as_str()),
        u.mobile_phone.as_ref().map(|v| v.as_str()),
        u.email.as_ref().map(|v| v.as_str()),
        u.comments.as_ref().map(|v| v.as_str()),
        ts(u.created_at),
        ts(u.updated_at),
        u.last_login_at.map(ts),
        p.first_name,
        p.last_name,
        p.job_title,
        p.telephone,
        i64::from(p.role.id()),
        p.container.0 as i64,
        assignments_json(p),
        p.kind.as_str(),
        p.saml_sso_only
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        // Two foreign keys can fail here; the constraint names which.
        let foreign = match &e {
            sqlx::Error::Database(d) if d.constraint() == Some("users_account_id_fkey") => {
                StoreError::NotFound(Entity::Account)
            }
            _ => StoreError::NotFound(Entity::Container),
        };
        classify(
            e,
            backend("user id collision; retry with another id"),
            foreign,
        )
    })?;
    if done.rows_affected() == 0 {
        return Err(StoreError::AlreadyExists(Entity::User));
    }
    Ok(())
}

/// Inserts an access key; the owner's row is locked first so that the
/// per-owner limit holds against concurrent creates on any node.
async fn insert_key(
    conn: &mut PgConnection,
    key: &StoredAccessKey,
    max_per_owner: u32,
) -> Result<(), StoreError> {
    let k = &key.key;
    let account = k.account.0 as i64;
    let user = owner_id(k.owner);
    let owner = match user {
        None => lock_account(conn, account).await?.map(|_| ()),
        // The owner check also pins the user to the key's account, which
        // the foreign key (on user_id alone) would not.
        Some(user) => sqlx::query_scalar!(
            "SELECT 1 AS one FROM users WHERE user_id = $1 AND account_id = $2 FOR NO KEY UPDATE",
            user,
            account
        )
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
        .map(|_| ()),
    };
    if owner.is_none() {
        return Err(if user.is_none() {
            StoreError::NotFound(Entity::Account)
        } else {
            StoreError::NotFound(Entity::User)
        });
    }
    let count = sqlx::query_scalar!(
        r#"SELECT COUNT(*) AS "n!" FROM access_keys
           WHERE account_id = $1 AND user_id IS NOT DISTINCT FROM $2"#,
        account,
        user
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    if count >= i64::from(max_per_owner) {
        return Err(StoreError::LimitExceeded(Entity::AccessKey));
    }
    sqlx::query!(
        r#"INSERT INTO access_keys (id, account_id, user_id, status, secret_sealed, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)"#,
        k.id.as_str(),
        account,
        user,
        k.status.as_str(),
        key.sealed_secret,
        ts(k.created_at)
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        classify(
            e,
            StoreError::AlreadyExists(Entity::AccessKey),
            StoreError::NotFound(Entity::Account),
        )
    })?;
    Ok(())
}

// ---- accounts ----

#[async_trait]
impl AccountStore for PgStore {
    async fn root_account(&self) -> Result<Option<Account>, StoreError> {
        let row =
            sqlx::query!("SELECT id, created_at FROM accounts ORDER BY created_at, id LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
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
        transaction!(self, |conn| {
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
            certcentral::insert_root_container(conn, root_container).await?;
            insert_key(conn, root_key, u32::MAX).await
        })
    }
}

// ---- users ----

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, user: &User, max_users: u32) -> Result<(), StoreError> {
        transaction!(self, |conn| { insert_user(conn, user, max_users).await })
    }

    async fn user_by_name(
        &self,
        account: AccountId,
        name: &UserName,
    ) -> Result<Option<User>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        user_by_folded(&mut conn, account.0 as i64, &name.folded()).await
    }

    async fn user_by_id(&self, account: AccountId, id: UserId) -> Result<Option<User>, StoreError> {
        let Ok(id) = i64::try_from(id.0) else {
            return Ok(None);
        };
        let row = sqlx::query_as!(
            UserRow,
            r#"SELECT account_id, user_id, user_name, display_name, mobile_phone, email, comments,
                      created_at, updated_at, last_login_at, first_name, last_name, job_title, telephone,
                      access_role, container_id, container_assignments, user_type, saml_sso_only
               FROM users WHERE account_id = $1 AND user_id = $2"#,
            account.0 as i64,
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
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
        transaction!(self, |conn| {
            // Locked, so two concurrent patches apply one after the other
            // instead of the later overwriting the earlier's fields.
            let current = sqlx::query_as!(
                    UserRow,
                    r#"SELECT account_id, user_id, user_name, display_name, mobile_phone, email, comments,
                              created_at, updated_at, last_login_at, first_name, last_name, job_title, telephone,
                              access_role, container_id, container_assignments, user_type, saml_sso_only
                       FROM users WHERE account_id = $1 AND user_name_folded = $2 FOR NO KEY UPDATE"#,
                    account,
                    folded
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?
                .ok_or(StoreError::NotFound(Entity::User))?
                .into_user()?;
            let next = patch.apply(&current, now);
            let p = &next.profile;
            sqlx::query!(
                    r#"UPDATE users SET user_name = $1, user_name_folded = $2, display_name = $3, mobile_phone = $4,
                                        email = $5, comments = $6, updated_at = $7, first_name = $10,
                                        last_name = $11, job_title = $12, telephone = $13, access_role = $14,
                                        container_assignments = $15, saml_sso_only = $16
                       WHERE user_id = $8 AND account_id = $9"#,
                    next.name.as_str(),
                    next.name.folded(),
                    next.display_name.as_ref().map(|v| v.as_str()),
                    next.mobile_phone.as_ref().map(|v| v.as_str()),
                    next.email.as_ref().map(|v| v.as_str()),
                    next.comments.as_ref().map(|v| v.as_str()),
                    ts(next.updated_at),
                    current.id.0 as i64,
                    account,
                    p.first_name,
                    p.last_name,
                    p.job_title,
                    p.telephone,
                    i64::from(p.role.id()),
                    assignments_json(p),
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
    }

    async fn delete_user(&self, account: AccountId, name: &UserName) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let folded = name.folded();
        transaction!(self, |conn| {
            // Lock first, then check in a statement of its own: under
            // READ COMMITTED a statement that waited for the lock would
            // still see the rows as they were before it waited. A key or
            // membership being added meanwhile locks the user row too,
            // so it is either committed before the checks or waits.
            let Some(user_id) = sqlx::query_scalar!(
                    "SELECT user_id FROM users WHERE account_id = $1 AND user_name_folded = $2 FOR UPDATE",
                    account,
                    folded
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?
                else {
                    return Err(StoreError::NotFound(Entity::User));
                };
            let why = sqlx::query!(
                    r#"SELECT EXISTS (SELECT 1 FROM group_members m WHERE m.user_id = $1) AS "groups!",
                              EXISTS (SELECT 1 FROM access_keys k WHERE k.user_id = $1) AS "keys!",
                              EXISTS (SELECT 1 FROM policy_attachments a WHERE a.user_id = $1) AS "policies!""#,
                    user_id
                )
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
            // The vendor's documented order: groups, access keys, policies.
            let blocker = if why.groups {
                Entity::Group
            } else if why.keys {
                Entity::AccessKey
            } else if why.policies {
                Entity::Policy
            } else {
                // API keys go with the user (ON DELETE CASCADE).
                sqlx::query!("DELETE FROM users WHERE user_id = $1", user_id)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                return Ok(());
            };
            Err(StoreError::DeleteConflict {
                entity: Entity::User,
                blocker,
            })
        })
    }

    async fn list_users(
        &self,
        account: AccountId,
        after: Option<UserCursor>,
        limit: u32,
    ) -> Result<UserPage, StoreError> {
        let after = after.map_or(0, |c| c.0);
        let rows = sqlx::query!(
            r#"SELECT seq, account_id, user_id, user_name, display_name, mobile_phone, email, comments,
                      created_at, updated_at, last_login_at, first_name, last_name, job_title, telephone,
                      access_role, container_id, container_assignments, user_type, saml_sso_only
               FROM users WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"#,
            account.0 as i64,
            after,
            i64::from(limit) + 1
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let more = rows.len() > limit as usize;
        let mut last = None;
        let mut users = Vec::with_capacity(rows.len().min(limit as usize));
        for r in rows.into_iter().take(limit as usize) {
            last = Some(r.seq);
            users.push(trustdesk_domain::user_row!(r).into_user()?);
        }
        let next = if more { last.map(UserCursor) } else { None };
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
        transaction!(self, |conn| {
            insert_user(conn, user, max_users).await?;
            certcentral::insert_api_key(conn, key).await
        })
    }

    async fn query_users(
        &self,
        account: AccountId,
        query: &UserQuery,
    ) -> Result<UserListing, StoreError> {
        certcentral::query_users(&self.pool, account, query).await
    }

    async fn purge_user(&self, account: AccountId, id: UserId) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let Ok(id) = i64::try_from(id.0) else {
            return Err(StoreError::NotFound(Entity::User));
        };
        transaction!(self, |conn| {
            // The user row first (lock order: user, then account, which
            // the deletes' triggers take). The access keys' foreign key
            // does not cascade; the API keys go with the user.
            sqlx::query_scalar!(
                "SELECT user_id FROM users WHERE account_id = $1 AND user_id = $2 FOR UPDATE",
                account,
                id
            )
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
            .ok_or(StoreError::NotFound(Entity::User))?;
            sqlx::query!(
                "DELETE FROM access_keys WHERE account_id = $1 AND user_id = $2",
                account,
                id
            )
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            let done = sqlx::query!(
                "DELETE FROM users WHERE account_id = $1 AND user_id = $2",
                account,
                id
            )
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            touched(done, Entity::User)
        })
    }
}

// ---- access keys ----

#[async_trait]
impl AccessKeyStore for PgStore {
    async fn create_access_key(
        &self,
        key: &NewAccessKey,
        max_per_owner: u32,
    ) -> Result<(), StoreError> {
        transaction!(self, |conn| { insert_key(conn, key, max_per_owner).await })
    }

    async fn access_key(&self, id: &AccessKeyId) -> Result<Option<StoredAccessKey>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT id, account_id, user_id, status, secret_sealed, created_at, last_used_at
               FROM access_keys WHERE id = $1"#,
            id.as_str()
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
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
        let rows = sqlx::query_as!(
            KeyRow,
            r#"SELECT id, account_id, user_id, status, created_at, last_used_at
               FROM access_keys WHERE account_id = $1 AND user_id IS NOT DISTINCT FROM $2
               ORDER BY created_at, seq"#,
            account.0 as i64,
            owner_id(owner)
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    async fn set_access_key_status(
        &self,
        account: AccountId,
        owner: KeyOwner,
        id: &AccessKeyId,
        status: KeyStatus,
    ) -> Result<(), StoreError> {
        let done = sqlx::query!(
            "UPDATE access_keys SET status = $1
             WHERE id = $2 AND account_id = $3 AND user_id IS NOT DISTINCT FROM $4",
            status.as_str(),
            id.as_str(),
            account.0 as i64,
            owner_id(owner)
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        touched(done, Entity::AccessKey)
    }

    async fn delete_access_key(
        &self,
        account: AccountId,
        owner: KeyOwner,
        id: &AccessKeyId,
    ) -> Result<(), StoreError> {
        let done = sqlx::query!(
            "DELETE FROM access_keys
             WHERE id = $1 AND account_id = $2 AND user_id IS NOT DISTINCT FROM $3",
            id.as_str(),
            account.0 as i64,
            owner_id(owner)
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        touched(done, Entity::AccessKey)
    }

    async fn record_key_usage(
        &self,
        usage: &[(AccessKeyId, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        if usage.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = usage.iter().map(|(k, _)| k.0.clone()).collect();
        let ats: Vec<i64> = usage.iter().map(|(_, t)| ts(*t)).collect();
        // One statement for the whole flush; GREATEST keeps a late, older
        // report (from this or another node) from moving time back.
        sqlx::query!(
            r#"UPDATE access_keys
               SET last_used_at = GREATEST(COALESCE(access_keys.last_used_at, 0), u.at)
               FROM (SELECT id, max(at) AS at FROM unnest($1::text[], $2::bigint[]) AS t(id, at)
                     GROUP BY id) AS u
               WHERE access_keys.id = u.id"#,
            &ids,
            &ats
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }
}

// ---- nonces ----

#[async_trait]
impl NonceStore for PgStore {
    async fn record_nonce(
        &self,
        key: &AccessKeyId,
        nonce: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // The primary key decides, on whichever node the replay arrives.
        let done = sqlx::query!(
            "INSERT INTO nonces (expires_at, access_key_id, nonce) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            ts(expires_at),
            key.as_str(),
            nonce
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn purge_nonces(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let done = sqlx::query!("DELETE FROM nonces WHERE expires_at < $1", ts(now))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar!(r#"SELECT 1 AS "one!""#)
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }
}
