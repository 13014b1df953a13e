//! CertCentral: containers, API keys, and the user list with filters, sort
//! and an exact total.
//!
//! Ids of containers and keys are SQLite's (AUTOINCREMENT): they grow and
//! are never reused. Unlike certificate ids, nothing written in the same
//! statement needs to name them, so `RETURNING id` hands them back.
//!
//! Ownership is decided by the writing statement: an insert that names a
//! parent container or an owning user only writes when that record is the
//! account's (`INSERT … SELECT … WHERE EXISTS`), and an update only touches
//! the account's row; writing nothing means `NotFound`.
//!
//! The user list is the one query built at run time (its filters and sort
//! keys vary); every value in it is bound, and the only text pasted into it
//! comes from the fixed fragments below. Like the RAM listing and the
//! certificate pages, the page comes back as one JSON row (see `lib.rs`),
//! here ordered inside the aggregate, together with the exact count of
//! matches, in one statement and so from one snapshot.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use time::OffsetDateTime;
use trustdesk_domain::certcentral::{Direction, Search, UserSort};
use trustdesk_domain::store::{ApiKeyStore, ContainerStore};
use trustdesk_domain::{
    AccountId, ApiKey, ApiKeyId, ApiKeyStatus, Container, ContainerId, Entity, KeyRole, NewApiKey,
    NewContainer, StoreError, UserId, UserKind, UserListing, UserQuery,
};

use crate::writer::Writes;
use crate::{SqliteStore, USER_COLUMNS, UserRow, backend, classify, job, ts};
use trustdesk_domain::rows::{ApiKeyRow, ContainerRow};

// ---- containers ----

/// The account's root container, inside `create_account`'s savepoint (a
/// new account has no root yet, so the one-root index cannot fire).
pub(crate) async fn insert_root_container(
    conn: &mut SqliteConnection,
    c: &NewContainer,
) -> Result<(), StoreError> {
    let account = c.account.0 as i64;
    let template = i64::from(c.template_id);
    let created = ts(c.created_at);
    sqlx::query!(
        r#"INSERT INTO containers (account_id, parent_id, name, description, template_id, public_id, ekey,
                                   is_active, created_at)
           VALUES ($1, NULL, $2, $3, $4, $5, $6, 1, $7)"#,
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
impl ContainerStore for SqliteStore {
    async fn containers(&self, account: AccountId) -> Result<Vec<Container>, StoreError> {
        let account = account.0 as i64;
        let rows = sqlx::query_as!(
            ContainerRow,
            r#"SELECT id AS "id!: i64", account_id, parent_id, name, description, template_id, public_id, ekey,
                      is_active AS "is_active: bool", created_at
               FROM containers WHERE account_id = $1 ORDER BY id"#,
            account
        )
        .fetch_all(&self.reads)
        .await
        .map_err(backend)?;
        Ok(rows.into_iter().map(Container::from).collect())
    }

    async fn create_container(&self, container: &NewContainer) -> Result<ContainerId, StoreError> {
        let c = container.clone();
        let work = job(move |conn| {
            Box::pin(async move {
                let account = c.account.0 as i64;
                // No parent (a second root) or one beyond i64 is no
                // container of the account.
                let Some(parent) = c.parent.and_then(|p| i64::try_from(p.0).ok()) else {
                    return Err(StoreError::NotFound(Entity::Container));
                };
                let template = i64::from(c.template_id);
                let created = ts(c.created_at);
                let id = sqlx::query_scalar!(
                    r#"INSERT INTO containers (account_id, parent_id, name, description, template_id, public_id,
                                               ekey, is_active, created_at)
                       SELECT $1, $2, $3, $4, $5, $6, $7, 1, $8
                       WHERE EXISTS (SELECT 1 FROM containers WHERE id = $2 AND account_id = $1)
                       RETURNING id AS "id!: i64""#,
                    account,
                    parent,
                    c.name,
                    c.description,
                    template,
                    c.public_id,
                    c.ekey,
                    created
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
                id.map(|id| ContainerId(id as u64))
                    .ok_or(StoreError::NotFound(Entity::Container))
            })
        });
        self.write(Writes::One, work, |_| ()).await
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
        let name = name.to_owned();
        let description = description.map(str::to_owned);
        let work = job(move |conn| {
            Box::pin(async move {
                let done = sqlx::query!(
                    "UPDATE containers SET name = $1, description = $2 WHERE id = $3 AND account_id = $4",
                    name,
                    description,
                    id,
                    account
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 0 {
                    Err(StoreError::NotFound(Entity::Container))
                } else {
                    Ok(())
                }
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }
}

// ---- API keys ----

/// One writing statement, which also checks that the owner is the
/// account's user (the foreign key, on `user_id` alone, would not).
pub(crate) async fn insert_api_key(
    conn: &mut SqliteConnection,
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
           RETURNING id AS "id!: i64""#,
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
    // secret); with the owner checked above, no foreign key can fail.
    .map_err(|e| {
        classify(
            e,
            StoreError::AlreadyExists(Entity::ApiKey),
            backend("foreign key violation on api_keys"),
        )
    })?;
    id.map(|id| ApiKeyId(id as u64))
        .ok_or(StoreError::NotFound(Entity::User))
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn create_api_key(&self, key: &NewApiKey) -> Result<ApiKeyId, StoreError> {
        let k = key.clone();
        let work = job(move |conn| Box::pin(async move { insert_api_key(conn, &k).await }));
        self.write(Writes::One, work, |_| ()).await
    }

    async fn api_key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        let hash = &hash[..];
        let row = sqlx::query_as!(
            ApiKeyRow,
            r#"SELECT id AS "id!: i64", account_id, user_id, name, restricted_role, status, created_at,
                      last_used_at
               FROM api_keys WHERE key_hash = $1"#,
            hash
        )
        .fetch_optional(&self.reads)
        .await
        .map_err(backend)?;
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
            r#"SELECT id AS "id!: i64", account_id, user_id, name, restricted_role, status, created_at,
                      last_used_at
               FROM api_keys WHERE id = $1 AND account_id = $2"#,
            id,
            account
        )
        .fetch_optional(&self.reads)
        .await
        .map_err(backend)?;
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
                r#"SELECT id AS "id!: i64", account_id, user_id, name, restricted_role, status, created_at,
                          last_used_at
                   FROM api_keys WHERE account_id = $1 ORDER BY id"#,
                account
            )
            .fetch_all(&self.reads)
            .await
            .map_err(backend)?,
            Some(user) => {
                let Ok(user) = i64::try_from(user.0) else {
                    return Ok(Vec::new());
                };
                sqlx::query_as!(
                    ApiKeyRow,
                    r#"SELECT id AS "id!: i64", account_id, user_id, name, restricted_role, status, created_at,
                              last_used_at
                       FROM api_keys WHERE user_id = $1 AND account_id = $2 ORDER BY id"#,
                    user,
                    account
                )
                .fetch_all(&self.reads)
                .await
                .map_err(backend)?
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
        let name = name.to_owned();
        let role = i64::from(role.id());
        let work = job(move |conn| {
            Box::pin(async move {
                let done = sqlx::query!(
                    "UPDATE api_keys SET name = $1, restricted_role = $2 WHERE id = $3 AND account_id = $4",
                    name,
                    role,
                    id,
                    account
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 0 {
                    Err(StoreError::NotFound(Entity::ApiKey))
                } else {
                    Ok(())
                }
            })
        });
        self.write(Writes::One, work, |_| ()).await
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
        let work = job(move |conn| {
            Box::pin(async move {
                let status = status.as_str();
                let done = sqlx::query!(
                    "UPDATE api_keys SET status = $1 WHERE id = $2 AND account_id = $3",
                    status,
                    id,
                    account
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 0 {
                    Err(StoreError::NotFound(Entity::ApiKey))
                } else {
                    Ok(())
                }
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }

    async fn record_api_key_usage(
        &self,
        usage: &[(ApiKeyId, OffsetDateTime)],
    ) -> Result<(), StoreError> {
        // Ids beyond i64 name no key.
        let rows: Vec<serde_json::Value> = usage
            .iter()
            .filter_map(|(k, t)| {
                i64::try_from(k.0)
                    .ok()
                    .map(|k| serde_json::json!([k, ts(*t)]))
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let json = serde_json::Value::Array(rows).to_string();
        // One statement for the whole flush, as for access keys; a key's
        // latest report wins, and only rows it moves forward are written.
        let work = job(move |conn| {
            Box::pin(async move {
                sqlx::query!(
                    r#"UPDATE api_keys SET last_used_at = u.at
                       FROM (SELECT json_extract(value, '$[0]') AS id, max(json_extract(value, '$[1]')) AS at
                             FROM json_each($1) GROUP BY 1) AS u
                       WHERE api_keys.id = u.id
                         AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < u.at)"#,
                    json
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                Ok(())
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }
}

// ---- the user list ----

/// CertCentral's first and last name of a user as shown: as set there, else
/// (a RAM-created user) the DisplayName or user name, and the user name
/// (`User::first_name` / `User::last_name`).
const FIRST_NAME: &str = "COALESCE(first_name, display_name, user_name)";
const LAST_NAME: &str = "COALESCE(last_name, user_name)";
/// The fields a search looks at.
const SEARCHED: [&str; 4] = ["user_name", FIRST_NAME, LAST_NAME, "email"];

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
fn push_matches(qb: &mut QueryBuilder<Sqlite>, account: i64, q: &UserQuery) {
    qb.push(" FROM users WHERE account_id = ");
    qb.push_bind(account);
    qb.push(" AND user_type = ");
    qb.push_bind(q.kind.as_str());
    if let Some(containers) = &q.containers {
        // Ids beyond i64 name no container.
        let ids: Vec<i64> = containers
            .iter()
            .filter_map(|c| i64::try_from(c.0).ok())
            .collect();
        if ids.is_empty() {
            qb.push(" AND 0");
        } else {
            qb.push(" AND container_id IN (");
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(id);
            }
            qb.push(")");
        }
    }
    if let Some(role) = q.role {
        qb.push(" AND access_role = ");
        qb.push_bind(i64::from(role.id()));
    }
    if let Some(search) = &q.search {
        // NOCASE and LIKE both ignore ASCII case only, as the contract asks.
        let (op, value, suffix) = match search {
            Search::Exact(s) => (" = ", s.clone(), " COLLATE NOCASE"),
            Search::Contains(s) => (" LIKE ", contains_pattern(s), " ESCAPE '\\'"),
        };
        qb.push(" AND (");
        for (i, field) in SEARCHED.iter().enumerate() {
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
/// ignoring ASCII case (as the vendor's list does); a missing e-mail or
/// login sorts first ascending.
fn order_by(sort: &[(UserSort, Direction)]) -> String {
    let mut keys: Vec<String> = Vec::with_capacity(sort.len() + 1);
    for (key, dir) in sort {
        let expr = match key {
            UserSort::Id => "user_id".to_owned(),
            UserSort::Username => "user_name_folded".to_owned(),
            UserSort::FirstName => format!("{FIRST_NAME} COLLATE NOCASE"),
            UserSort::LastName => format!("{LAST_NAME} COLLATE NOCASE"),
            UserSort::Email => "email COLLATE NOCASE".to_owned(),
            // Every user is active (there is no other status yet): the
            // key orders nothing, and the id below keeps the order stable.
            UserSort::Status => continue,
            UserSort::LastLogin => "last_login_at".to_owned(),
        };
        let dir = match dir {
            Direction::Ascending => "ASC",
            Direction::Descending => "DESC",
        };
        keys.push(format!("{expr} {dir}"));
    }
    keys.push("user_id ASC".to_owned());
    keys.join(", ")
}

/// The whole statement: the count and the page, in one statement so that
/// both see the same snapshot. The aggregate orders its elements itself
/// (SQL does not promise that an ordered subquery's order survives
/// aggregation).
fn user_listing(prefix: &str, account: AccountId, q: &UserQuery) -> QueryBuilder<Sqlite> {
    let account = account.0 as i64;
    let order = order_by(&q.sort);
    let limit = i64::from(q.limit);
    let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
    let mut qb = QueryBuilder::<Sqlite>::new(prefix);
    let unfiltered = q.containers.is_none() && q.role.is_none() && q.search.is_none();
    if unfiltered && q.kind == UserKind::Standard {
        // The common listing (everyone, no filter): the account's user
        // count is kept by triggers, and service users are few and
        // indexed, so the total costs no scan of the users.
        qb.push("SELECT ((SELECT user_count FROM accounts WHERE id = ");
        qb.push_bind(account);
        qb.push(") - (SELECT COUNT(*) FROM users WHERE account_id = ");
        qb.push_bind(account);
        qb.push(" AND user_type = 'api_only')");
    } else {
        qb.push("SELECT (SELECT COUNT(*)");
        push_matches(&mut qb, account, q);
    }
    qb.push(format!(
        "), (SELECT json_group_array(json_array({USER_COLUMNS}) ORDER BY {order}) FROM (SELECT *"
    ));
    push_matches(&mut qb, account, q);
    qb.push(format!(" ORDER BY {order} LIMIT "));
    qb.push_bind(limit);
    qb.push(" OFFSET ");
    qb.push_bind(offset);
    qb.push("))");
    qb
}

pub(crate) async fn query_users(
    reads: &SqlitePool,
    account: AccountId,
    q: &UserQuery,
) -> Result<UserListing, StoreError> {
    let mut qb = user_listing("", account, q);
    let (total, page): (i64, String) = qb
        .build_query_as()
        .fetch_one(reads)
        .await
        .map_err(backend)?;
    let rows: Vec<UserRow> = serde_json::from_str(&page).map_err(backend)?;
    let users = rows
        .into_iter()
        .map(UserRow::into_user)
        .collect::<Result<_, _>>()?;
    Ok(UserListing {
        users,
        total: total.max(0) as u64,
    })
}

/// The query plan of [`query_users`], one step a line.
#[cfg(test)]
pub(crate) async fn explain_query_users(
    conn: &mut SqliteConnection,
    account: AccountId,
    q: &UserQuery,
) -> String {
    use sqlx::Row;
    let mut qb = user_listing("EXPLAIN QUERY PLAN ", account, q);
    let rows = qb.build().fetch_all(&mut *conn).await.unwrap();
    rows.iter()
        .map(|r| r.get::<String, _>("detail"))
        .collect::<Vec<_>>()
        .join("\n")
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
                (UserSort::FirstName, Direction::Descending)
            ]),
            "COALESCE(first_name, display_name, user_name) COLLATE NOCASE DESC, user_id ASC"
        );
    }
}
