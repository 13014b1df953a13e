//! CertCentral: containers, API keys, and the user list with filters, sort
//! and an exact total.
//!
//! Ids of containers and keys come from identity columns: they grow and
//! are never reused (an old reference never comes to name a newer record).
//! Nothing written in the same statement needs to name them, so
//! `RETURNING id` hands them back.
//!
//! Ownership is decided by the writing statement: an insert that names a
//! parent container or an owning user only writes when that record is the
//! account's (`INSERT … SELECT … WHERE EXISTS`), and an update only touches
//! the account's row; writing nothing means `NotFound`. No limit guards
//! these writes, so no lock is taken first: containers are never deleted,
//! and an owner deleted while its key is being inserted makes the key's
//! foreign-key check (which waits for the deleting transaction) fail,
//! which is `NotFound(User)` too.
//!
//! The user list is the one query built at run time (its filters and sort
//! keys vary); every value in it is bound, and the only text pasted into it
//! comes from the fixed fragments below. The page comes back as plain rows
//! beside the exact count of matches, in one statement and so from one
//! snapshot (see [`user_listing`]).
//!
//! Text semantics match the SQLite store's, independently of the
//! database's locale: searches ignore ASCII case only (values are folded
//! with `translate` over A-Z, never `lower()`, which folds other letters
//! too under most locales), and text sort keys compare the ASCII-folded
//! values bytewise (`COLLATE "C"`, SQLite's `NOCASE`). SQL NULL sorts as
//! the smallest value, as in SQLite.

use async_trait::async_trait;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;
use trustdesk_domain::certcentral::{Direction, Search, UserSort};
use trustdesk_domain::store::{ApiKeyStore, ContainerStore};
use trustdesk_domain::{
    AccountId, ApiKey, ApiKeyId, ApiKeyStatus, Container, ContainerId, Entity, KeyRole, NewApiKey,
    NewContainer, StoreError, UserId, UserKind, UserListing, UserQuery,
};

use crate::{PgStore, USER_COLUMNS, backend, classify, db, touched, transaction, ts, user_row};
use trustdesk_domain::rows::{ApiKeyRow, ContainerRow};

// ---- containers ----

/// The account's root container, inside `create_account`'s transaction (a
/// new account has no root yet, so the one-root index cannot fire).
pub(crate) async fn insert_root_container(
    conn: &mut PgConnection,
    c: &NewContainer,
) -> Result<(), StoreError> {
    let account = c.account.0 as i64;
    let template = i64::from(c.template_id);
    let created = ts(c.created_at);
    sqlx::query!(
        r#"INSERT INTO containers (account_id, parent_id, name, description, template_id, public_id, ekey,
                                   is_active, created_at)
           VALUES ($1, NULL, $2, $3, $4, $5, $6, TRUE, $7)"#,
        account,
        c.name,
        c.description,
        template,
        c.public_id,
        c.ekey,
        created
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        classify(
            e,
            StoreError::AlreadyExists(Entity::Container),
            StoreError::NotFound(Entity::Account),
        )
    })?;
    Ok(())
}

#[async_trait]
impl ContainerStore for PgStore {
    async fn containers(&self, account: AccountId) -> Result<Vec<Container>, StoreError> {
        let account = account.0 as i64;
        let rows = sqlx::query_as!(
            ContainerRow,
            r#"SELECT id, account_id, parent_id, name, description, template_id, public_id, ekey,
                      is_active, created_at
               FROM containers WHERE account_id = $1 ORDER BY id"#,
            account
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(Container::from).collect())
    }

    async fn create_container(&self, container: &NewContainer) -> Result<ContainerId, StoreError> {
        let c = container;
        let account = c.account.0 as i64;
        // No parent (a second root) or one beyond i64 is no container of
        // the account.
        let Some(parent) = c.parent.and_then(|p| i64::try_from(p.0).ok()) else {
            return Err(StoreError::NotFound(Entity::Container));
        };
        let template = i64::from(c.template_id);
        let created = ts(c.created_at);
        let id = sqlx::query_scalar!(
            r#"INSERT INTO containers (account_id, parent_id, name, description, template_id, public_id,
                                       ekey, is_active, created_at)
               SELECT $1, $2, $3, $4, $5, $6, $7, TRUE, $8
               WHERE EXISTS (SELECT 1 FROM containers WHERE id = $2 AND account_id = $1)
               RETURNING id AS "id!""#,
            account,
            parent,
            c.name,
            c.description,
            template,
            c.public_id,
            c.ekey,
            created
        )
        .fetch_optional(&self.pool)
        .await
        // With a parent, the one-root index cannot fire; the parent was
        // just seen to be the account's, and containers are never deleted.
        .map_err(|e| {
            classify(
                e,
                backend("unique violation on containers"),
                StoreError::NotFound(Entity::Container),
            )
        })?;
        id.map(|id| ContainerId(id as u64))
            .ok_or(StoreError::NotFound(Entity::Container))
    }

    async fn update_container(
        &self,
        account: AccountId,
        id: ContainerId,
        name: &str,
        description: Option<&str>,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let Ok(id) = i64::try_from(id.0) else {
            return Err(StoreError::NotFound(Entity::Container));
        };
        let done = sqlx::query!(
            "UPDATE containers SET name = $1, description = $2 WHERE id = $3 AND account_id = $4",
            name,
            description,
            id,
            account
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        touched(done, Entity::Container)
    }
}

// ---- API keys ----

/// One writing statement, which also checks that the owner is the
/// account's user (the foreign key, on `user_id` alone, would not).
pub(crate) async fn insert_api_key(
    conn: &mut PgConnection,
    k: &NewApiKey,
) -> Result<ApiKeyId, StoreError> {
    let account = k.account.0 as i64;
    let Ok(user) = i64::try_from(k.user.0) else {
        return Err(StoreError::NotFound(Entity::User));
    };
    let hash = &k.hash[..];
    let role = i64::from(k.role.id());
    let created = ts(k.created_at);
    let id = sqlx::query_scalar!(
        r#"INSERT INTO api_keys (account_id, user_id, name, key_hash, restricted_role, status, created_at)
           SELECT $1, $2, $3, $4, $5, 'active', $6
           WHERE EXISTS (SELECT 1 FROM users WHERE user_id = $2 AND account_id = $1)
           RETURNING id AS "id!""#,
        account,
        user,
        k.name,
        hash,
        role,
        created
    )
    .fetch_optional(&mut *conn)
    .await
    // The hash is the only unique column a caller chooses (a repeated
    // secret). The foreign key fails only when the owner, seen above, is
    // deleted by a transaction that commits meanwhile.
    .map_err(|e| {
        classify(
            e,
            StoreError::AlreadyExists(Entity::ApiKey),
            StoreError::NotFound(Entity::User),
        )
    })?;
    id.map(|id| ApiKeyId(id as u64))
        .ok_or(StoreError::NotFound(Entity::User))
}

#[async_trait]
impl ApiKeyStore for PgStore {
    async fn create_api_key(&self, key: &NewApiKey) -> Result<ApiKeyId, StoreError> {
        transaction!(self, |conn| { insert_api_key(conn, key).await })
    }

    async fn api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        let hash = &hash[..];
        let row = sqlx::query_as!(
            ApiKeyRow,
            r#"SELECT id, account_id, user_id, name, restricted_role, status, created_at, last_used_at
               FROM api_keys WHERE key_hash = $1"#,
            hash
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(ApiKeyRow::into_key).transpose()
    }

    async fn api_key(
        &self,
        account: AccountId,
        id: ApiKeyId,
    ) -> Result<Option<ApiKey>, StoreError> {
        let account = account.0 as i64;
        let Ok(id) = i64::try_from(id.0) else {
            return Ok(None);
        };
        let row = sqlx::query_as!(
            ApiKeyRow,
            r#"SELECT id, account_id, user_id, name, restricted_role, status, created_at, last_used_at
               FROM api_keys WHERE id = $1 AND account_id = $2"#,
            id,
            account
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        row.map(ApiKeyRow::into_key).transpose()
    }

    async fn list_api_keys(
        &self,
        account: AccountId,
        user: Option<UserId>,
    ) -> Result<Vec<ApiKey>, StoreError> {
        let account = account.0 as i64;
        let rows = match user {
            None => sqlx::query_as!(
                ApiKeyRow,
                r#"SELECT id, account_id, user_id, name, restricted_role, status, created_at, last_used_at
                   FROM api_keys WHERE account_id = $1 ORDER BY id"#,
                account
            )
            .fetch_all(&self.pool)
            .await
            .map_err(db)?,
            Some(user) => {
                let Ok(user) = i64::try_from(user.0) else {
                    return Ok(Vec::new());
                };
                sqlx::query_as!(
                    ApiKeyRow,
                    r#"SELECT id, account_id, user_id, name, restricted_role, status, created_at, last_used_at
                       FROM api_keys WHERE user_id = $1 AND account_id = $2 ORDER BY id"#,
                    user,
                    account
                )
                .fetch_all(&self.pool)
                .await
                .map_err(db)?
            }
        };
        rows.into_iter().map(ApiKeyRow::into_key).collect()
    }

    async fn update_api_key(
        &self,
        account: AccountId,
        id: ApiKeyId,
        name: &str,
        role: KeyRole,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let Ok(id) = i64::try_from(id.0) else {
            return Err(StoreError::NotFound(Entity::ApiKey));
        };
        let role = i64::from(role.id());
        let done = sqlx::query!(
            "UPDATE api_keys SET name = $1, restricted_role = $2 WHERE id = $3 AND account_id = $4",
            name,
            role,
            id,
            account
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        touched(done, Entity::ApiKey)
    }

    async fn set_api_key_status(
        &self,
        account: AccountId,
        id: ApiKeyId,
        status: ApiKeyStatus,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let Ok(id) = i64::try_from(id.0) else {
            return Err(StoreError::NotFound(Entity::ApiKey));
        };
        let done = sqlx::query!(
            "UPDATE api_keys SET status = $1 WHERE id = $2 AND account_id = $3",
            status.as_str(),
            id,
            account
        )
        .execute(&self.pool)
        .await
        .map_err(db)?;
        touched(done, Entity::ApiKey)
    }

    async fn record_api_key_usage(
        &self,
        usage: &[(ApiKeyId, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        // Ids beyond i64 name no key.
        let (ids, ats): (Vec<i64>, Vec<i64>) = usage
            .iter()
            .filter_map(|(k, t)| i64::try_from(k.0).ok().map(|k| (k, ts(*t))))
            .unzip();
        if ids.is_empty() {
            return Ok(());
        }
        // One statement for the whole flush, as for access keys; a key's
        // latest report wins, and only rows it moves forward are written
        // (the condition is rechecked on the newest row version, so a
        // late, older report from another node never moves time back).
        // Two flushes lock their rows in no particular order and may
        // deadlock: the transaction retries that.
        transaction!(self, |conn| {
            sqlx::query!(
                r#"UPDATE api_keys SET last_used_at = u.at
                   FROM (SELECT id, max(at) AS at FROM unnest($1::bigint[], $2::bigint[]) AS t(id, at)
                         GROUP BY id) AS u
                   WHERE api_keys.id = u.id
                     AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < u.at)"#,
                &ids,
                &ats
            )
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            Ok(())
        })
    }
}

// ---- the user list ----

/// CertCentral's first and last name of a user as shown: as set there, else
/// (a RAM-created user) the DisplayName or user name, and the user name
/// (`User::first_name` / `User::last_name`).
const FIRST_NAME: &str = "COALESCE(first_name, display_name, user_name)";
const LAST_NAME: &str = "COALESCE(last_name, user_name)";

/// `expr` with ASCII letters lowercased and every other character kept,
/// whatever the database's locale (`lower()` would follow it). The same
/// fold as `UserName::folded` and SQLite's `NOCASE`.
fn folded(expr: &str) -> String {
    format!("translate({expr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')")
}

/// The fields a search looks at, ASCII-folded (`user_name_folded` is the
/// user name folded so, by the store).
fn searched() -> [String; 4] {
    [
        "user_name_folded".to_owned(),
        folded(FIRST_NAME),
        folded(LAST_NAME),
        folded("email"),
    ]
}

/// `needle` as a LIKE pattern matching it anywhere, its own `%`, `_` and
/// `\` taken literally (the pattern's escape character is `\`).
fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// `FROM users WHERE …` for the query, every value bound.
fn push_matches(qb: &mut QueryBuilder<Postgres>, account: i64, q: &UserQuery) {
    qb.push(" FROM users WHERE account_id = ");
    qb.push_bind(account);
    qb.push(" AND user_type = ");
    qb.push_bind(q.kind.as_str());
    if let Some(containers) = &q.containers {
        // Ids beyond i64 name no container; an empty list matches nobody.
        let ids: Vec<i64> = containers
            .iter()
            .filter_map(|c| i64::try_from(c.0).ok())
            .collect();
        qb.push(" AND container_id = ANY(");
        qb.push_bind(ids);
        qb.push(")");
    }
    if let Some(role) = q.role {
        qb.push(" AND access_role = ");
        qb.push_bind(i64::from(role.id()));
    }
    if let Some(search) = &q.search {
        let needle = match search {
            Search::Exact(s) | Search::Contains(s) => s,
        };
        if needle.contains('\0') {
            // PostgreSQL text cannot hold NUL, so no stored value holds
            // one, and the needle could not even be bound.
            qb.push(" AND FALSE");
            return;
        }
        // Both sides folded: the search ignores ASCII case only.
        let (op, value, suffix) = match search {
            Search::Exact(s) => (" = ", s.to_ascii_lowercase(), ""),
            Search::Contains(s) => (
                " LIKE ",
                contains_pattern(&s.to_ascii_lowercase()),
                r" ESCAPE '\'",
            ),
        };
        qb.push(" AND (");
        for (i, field) in searched().iter().enumerate() {
            if i > 0 {
                qb.push(" OR ");
            }
            qb.push(field);
            qb.push(op);
            qb.push_bind(value.clone());
            qb.push(suffix);
        }
        qb.push(")");
    }
}

/// `ORDER BY` keys: the requested ones, then the id. Text compares
/// ignoring ASCII case (as the vendor's list does), then bytewise; a
/// missing e-mail or login sorts first ascending (NULL is the smallest
/// value, as in SQLite). Only the nullable keys say where NULLs go, so
/// that the id keys keep matching the indexes (whose order is the
/// default, NULLS LAST ascending).
fn order_by(sort: &[(UserSort, Direction)]) -> String {
    let mut keys: Vec<String> = Vec::with_capacity(sort.len() + 1);
    for (key, dir) in sort {
        let (expr, nullable) = match key {
            UserSort::Id => ("user_id".to_owned(), false),
            UserSort::Username => (r#"user_name_folded COLLATE "C""#.to_owned(), false),
            UserSort::FirstName => (format!(r#"{} COLLATE "C""#, folded(FIRST_NAME)), false),
            UserSort::LastName => (format!(r#"{} COLLATE "C""#, folded(LAST_NAME)), false),
            UserSort::Email => (format!(r#"{} COLLATE "C""#, folded("email")), true),
            // Every user is active (there is no other status yet): the
            // key orders nothing, and the id below keeps the order stable.
            UserSort::Status => continue,
            UserSort::LastLogin => ("last_login_at".to_owned(), true),
        };
        let dir = match (dir, nullable) {
            (Direction::Ascending, false) => "ASC",
            (Direction::Descending, false) => "DESC",
            (Direction::Ascending, true) => "ASC NULLS FIRST",
            (Direction::Descending, true) => "DESC NULLS LAST",
        };
        keys.push(format!("{expr} {dir}"));
    }
    keys.push("user_id ASC".to_owned());
    keys.join(", ")
}

/// The whole statement: the exact count and the page, in one statement
/// so that both see the same snapshot (READ COMMITTED takes one per
/// statement).
///
/// The one-row count is left-joined to the page, so it comes back even
/// when the page is empty (one row, whose user columns are NULL). The
/// page orders itself for its LIMIT, and the outer `ORDER BY` repeats the
/// keys over its few rows (SQL does not promise that a subquery's order
/// survives a join).
///
/// The total, for 1M users: the common listing (standard users, no
/// filter) takes the account's user count, kept by triggers on the
/// account row, minus its service users (few, counted from the
/// `(account_id, user_type, user_id)` index), so it costs no scan of the
/// users. Any other list counts its matches: the service-user list from
/// that index, a filtered one by a scan of the account's users, as the
/// page itself needs (a search or derived sort key has no index).
fn user_listing(account: AccountId, q: &UserQuery) -> QueryBuilder<Postgres> {
    let account = account.0 as i64;
    let order = order_by(&q.sort);
    let limit = i64::from(q.limit);
    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
    let mut qb = QueryBuilder::<Postgres>::new("SELECT t.total, p.* FROM (SELECT ");
    let unfiltered = q.containers.is_none() && q.role.is_none() && q.search.is_none();
    if unfiltered && q.kind == UserKind::Standard {
        // An unknown account has no users.
        qb.push("COALESCE(account_count(");
        qb.push_bind(account);
        qb.push(", 1::smallint) - (SELECT COUNT(*) FROM users WHERE account_id = ");
        qb.push_bind(account);
        qb.push(" AND user_type = 'api_only'), 0)");
    } else {
        qb.push("(SELECT COUNT(*)");
        push_matches(&mut qb, account, q);
        qb.push(")");
    }
    qb.push(format!(
        " AS total) AS t LEFT JOIN (SELECT {USER_COLUMNS}, user_name_folded"
    ));
    push_matches(&mut qb, account, q);
    qb.push(format!(" ORDER BY {order} LIMIT "));
    qb.push_bind(limit);
    qb.push(" OFFSET ");
    qb.push_bind(offset);
    qb.push(format!(") AS p ON TRUE ORDER BY {order}"));
    qb
}

pub(crate) async fn query_users(
    pool: &PgPool,
    account: AccountId,
    q: &UserQuery,
) -> Result<UserListing, StoreError> {
    let mut qb = user_listing(account, q);
    let rows = qb.build().fetch_all(pool).await.map_err(db)?;
    let mut total = 0i64;
    let mut users = Vec::with_capacity(rows.len());
    for row in &rows {
        total = row.try_get("total").map_err(backend)?;
        // The one row of an empty page has no user.
        let id: Option<i64> = row.try_get("user_id").map_err(backend)?;
        if id.is_some() {
            users.push(user_row(row).map_err(backend)?.into_user()?);
        }
    }
    Ok(UserListing {
        users,
        total: total.max(0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_take_the_needle_literally() {
        assert_eq!(contains_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(contains_pattern(""), "%%");
    }

    #[test]
    fn sorts_end_with_the_id() {
        assert_eq!(order_by(&[]), "user_id ASC");
        assert_eq!(
            order_by(&[
                (UserSort::Status, Direction::Descending),
                (UserSort::LastLogin, Direction::Descending),
                (UserSort::Username, Direction::Ascending),
            ]),
            r#"last_login_at DESC NULLS LAST, user_name_folded COLLATE "C" ASC, user_id ASC"#
        );
    }
}
