//! RAM groups, custom policies with versions, and attachments (schema
//! 0005). Every write runs on the group-commit writer; refusals are decided
//! inside the writing job (a statement that does nothing, then a read in
//! the same transaction says why), as for users.
//!
//! These queries are checked at run time (`sqlx::query`) rather than by
//! the compile-time macros; the conformance suite exercises every one.

use async_trait::async_trait;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;
use trustdesk_domain::store::{GroupStore, PolicyStore};
use trustdesk_domain::{
    AccountId, AttachTarget, Attachment, Comments, Description, EffectivePolicy, Entity, Group,
    GroupCursor, GroupId, GroupMembership, GroupName, GroupPage, GroupPatch, ManagedPolicy, Member,
    MemberPage, NewPolicy, PolicyEntities, PolicyName, PolicyType, PolicyVersion, RotateStrategy,
    StoreError, User, UserId, UserName,
};

use crate::writer::Writes;
use crate::{SqliteStore, USER_COLUMNS, UserRow, backend, from_ts, job, ts};

fn group_from(r: &sqlx::sqlite::SqliteRow) -> Result<Group, StoreError> {
    Ok(Group {
        id: GroupId(r.try_get::<i64, _>("group_id").map_err(backend)? as u64),
        account: AccountId(r.try_get::<i64, _>("account_id").map_err(backend)? as u64),
        name: GroupName::from_trusted(r.try_get("group_name").map_err(backend)?),
        comments: r
            .try_get::<Option<String>, _>("comments")
            .map_err(backend)?
            .map(Comments::from_trusted),
        created_at: from_ts(r.try_get("created_at").map_err(backend)?),
        updated_at: from_ts(r.try_get("updated_at").map_err(backend)?),
    })
}

const GROUP_COLUMNS: &str =
    "seq, account_id, group_id, group_name, comments, created_at, updated_at";

/// Our own SQL assembled from constants (column lists), never from input;
/// every value is bound.
fn safe(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

fn user_from_json(text: &str) -> Result<User, StoreError> {
    let row: UserRow = serde_json::from_str(text).map_err(backend)?;
    row.into_user()
}

async fn group_row(
    conn: &mut SqliteConnection,
    account: i64,
    folded: &str,
) -> Result<Option<(i64, Group)>, StoreError> {
    let row = sqlx::query(safe(format!(
        "SELECT {GROUP_COLUMNS} FROM groups WHERE account_id = ? AND group_name_folded = ?"
    )))
    .bind(account)
    .bind(folded)
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    row.map(|r| Ok((r.try_get("seq").map_err(backend)?, group_from(&r)?)))
        .transpose()
}

async fn user_id_of(
    conn: &mut SqliteConnection,
    account: i64,
    name: &UserName,
) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar::<_, i64>(
        "SELECT user_id FROM users WHERE account_id = ? AND user_name_folded = ?",
    )
    .bind(account)
    .bind(name.folded())
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)
}

fn policy_from(r: &sqlx::sqlite::SqliteRow) -> Result<ManagedPolicy, StoreError> {
    Ok(ManagedPolicy {
        name: PolicyName::from_trusted(r.try_get("policy_name").map_err(backend)?),
        kind: PolicyType::Custom,
        description: r
            .try_get::<Option<String>, _>("description")
            .map_err(backend)?
            .map(Description::from_trusted),
        default_version: format!(
            "v{}",
            r.try_get::<i64, _>("default_version").map_err(backend)?
        ),
        attachment_count: r.try_get::<i64, _>("attachments").map_err(backend)?.max(0) as u64,
        created_at: from_ts(r.try_get("created_at").map_err(backend)?),
        updated_at: from_ts(r.try_get("updated_at").map_err(backend)?),
    })
}

const POLICY_SELECT: &str = "SELECT p.seq, p.policy_name, p.description, p.default_version, p.created_at, \
     p.updated_at, (SELECT COUNT(*) FROM policy_attachments a WHERE a.account_id = p.account_id \
     AND a.policy_type = 'Custom' AND a.policy_name = p.policy_name) AS attachments FROM policies p";

async fn policy_row(
    conn: &mut SqliteConnection,
    account: i64,
    name: &str,
) -> Result<Option<(i64, ManagedPolicy)>, StoreError> {
    let row = sqlx::query(safe(format!(
        "{POLICY_SELECT} WHERE p.account_id = ? AND p.policy_name = ?"
    )))
    .bind(account)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    row.map(|r| Ok((r.try_get("seq").map_err(backend)?, policy_from(&r)?)))
        .transpose()
}

/// `v<N>` → N.
fn version_number(id: &str) -> Option<i64> {
    id.strip_prefix('v')
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n.len() < 10)
        .and_then(|n| n.parse().ok())
}

/// The target's row key: `(user_id, group_seq)`, one of them set.
async fn target_key(
    conn: &mut SqliteConnection,
    account: i64,
    target: &AttachTarget,
) -> Result<(Option<i64>, Option<i64>), StoreError> {
    match target {
        AttachTarget::User(u) => {
            let id = user_id_of(conn, account, u)
                .await?
                .ok_or(StoreError::NotFound(Entity::User))?;
            Ok((Some(id), None))
        }
        AttachTarget::Group(g) => {
            let (seq, _) = group_row(conn, account, &g.folded())
                .await?
                .ok_or(StoreError::NotFound(Entity::Group))?;
            Ok((None, Some(seq)))
        }
    }
}

#[async_trait]
impl GroupStore for SqliteStore {
    async fn create_group(&self, group: &Group, max_groups: u32) -> Result<(), StoreError> {
        let g = group.clone();
        let work = job(move |conn| {
            Box::pin(async move {
                let account = g.account.0 as i64;
                let done = sqlx::query(
                    "INSERT INTO groups (account_id, group_id, group_name, group_name_folded, comments, created_at, updated_at)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?6
                     WHERE (SELECT COUNT(*) FROM groups WHERE account_id = ?1) < ?7
                     ON CONFLICT (account_id, group_name_folded) DO NOTHING",
                )
                .bind(account)
                .bind(g.id.0 as i64)
                .bind(g.name.as_str())
                .bind(g.name.folded())
                .bind(g.comments.as_ref().map(|c| c.as_str()))
                .bind(ts(g.created_at))
                .bind(i64::from(max_groups))
                .execute(&mut *conn)
                .await
                .map_err(|e| crate::classify(e, backend("group id collision; retry"), StoreError::NotFound(Entity::Account)))?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                Err(match group_row(conn, account, &g.name.folded()).await? {
                    Some(_) => StoreError::AlreadyExists(Entity::Group),
                    None => StoreError::LimitExceeded(Entity::Group),
                })
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }

    async fn group(
        &self,
        account: AccountId,
        name: &GroupName,
    ) -> Result<Option<Group>, StoreError> {
        let mut conn = self.reads.acquire().await.map_err(backend)?;
        Ok(group_row(&mut conn, account.0 as i64, &name.folded())
            .await?
            .map(|(_, g)| g))
    }

    async fn update_group(
        &self,
        account: AccountId,
        name: &GroupName,
        patch: &GroupPatch,
        now: OffsetDateTime,
    ) -> Result<Group, StoreError> {
        let account = account.0 as i64;
        let folded = name.folded();
        let patch = patch.clone();
        let work = job(move |conn| {
            Box::pin(async move {
                let (seq, current) = group_row(conn, account, &folded)
                    .await?
                    .ok_or(StoreError::NotFound(Entity::Group))?;
                let next = patch.apply(&current, now);
                sqlx::query(
                    "UPDATE groups SET group_name = ?, group_name_folded = ?, comments = ?, updated_at = ? WHERE seq = ?",
                )
                .bind(next.name.as_str())
                .bind(next.name.folded())
                .bind(next.comments.as_ref().map(|c| c.as_str()))
                .bind(ts(next.updated_at))
                .bind(seq)
                .execute(&mut *conn)
                .await
                .map_err(|e| crate::classify(e, StoreError::AlreadyExists(Entity::Group), backend("foreign key on groups")))?;
                Ok(next)
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }

    async fn delete_group(&self, account: AccountId, name: &GroupName) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let folded = name.folded();
        let work = job(move |conn| {
            Box::pin(async move {
                let (seq, _) = group_row(conn, account, &folded)
                    .await?
                    .ok_or(StoreError::NotFound(Entity::Group))?;
                let (members, policies): (i64, i64) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM group_members WHERE group_seq = ?1),
                            (SELECT COUNT(*) FROM policy_attachments WHERE group_seq = ?1)",
                )
                .bind(seq)
                .fetch_one(&mut *conn)
                .await
                .map_err(backend)?;
                if members > 0 {
                    return Err(StoreError::DeleteConflict {
                        entity: Entity::Group,
                        blocker: Entity::User,
                    });
                }
                if policies > 0 {
                    return Err(StoreError::DeleteConflict {
                        entity: Entity::Group,
                        blocker: Entity::Policy,
                    });
                }
                sqlx::query("DELETE FROM groups WHERE seq = ?")
                    .bind(seq)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                Ok(())
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }

    async fn list_groups(
        &self,
        account: AccountId,
        after: Option<GroupCursor>,
        limit: u32,
    ) -> Result<GroupPage, StoreError> {
        let rows = sqlx::query(safe(format!(
            "SELECT {GROUP_COLUMNS} FROM groups WHERE account_id = ? AND seq > ? ORDER BY seq LIMIT ?"
        )))
        .bind(account.0 as i64)
        .bind(after.map_or(0, |c| c.0))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.reads)
        .await
        .map_err(backend)?;
        let mut groups = Vec::with_capacity(rows.len());
        let mut last = 0;
        for r in rows.iter().take(limit as usize) {
            last = r.try_get("seq").map_err(backend)?;
            groups.push(group_from(r)?);
        }
        let next = (rows.len() > limit as usize).then_some(GroupCursor(last));
        Ok(GroupPage { groups, next })
    }

    async fn add_user_to_group(
        &self,
        account: AccountId,
        group: &GroupName,
        user: &UserName,
        max_per_user: u32,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let (group, user) = (group.clone(), user.clone());
        let work = job(move |conn| {
            Box::pin(async move {
                let uid = user_id_of(conn, account, &user)
                    .await?
                    .ok_or(StoreError::NotFound(Entity::User))?;
                let (seq, _) = group_row(conn, account, &group.folded())
                    .await?
                    .ok_or(StoreError::NotFound(Entity::Group))?;
                let done = sqlx::query(
                    "INSERT INTO group_members (group_seq, user_id, joined_at)
                     SELECT ?1, ?2, ?3
                     WHERE (SELECT COUNT(*) FROM group_members WHERE user_id = ?2) < ?4
                     ON CONFLICT (group_seq, user_id) DO NOTHING",
                )
                .bind(seq)
                .bind(uid)
                .bind(ts(now))
                .bind(i64::from(max_per_user))
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                let member: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM group_members WHERE group_seq = ? AND user_id = ?)",
                )
                .bind(seq)
                .bind(uid)
                .fetch_one(&mut *conn)
                .await
                .map_err(backend)?;
                Err(if member {
                    StoreError::AlreadyExists(Entity::Membership)
                } else {
                    StoreError::LimitExceeded(Entity::Membership)
                })
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }

    async fn remove_user_from_group(
        &self,
        account: AccountId,
        group: &GroupName,
        user: &UserName,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let (group, user) = (group.clone(), user.clone());
        let work = job(move |conn| {
            Box::pin(async move {
                let uid = user_id_of(conn, account, &user)
                    .await?
                    .ok_or(StoreError::NotFound(Entity::User))?;
                let (seq, _) = group_row(conn, account, &group.folded())
                    .await?
                    .ok_or(StoreError::NotFound(Entity::Group))?;
                let done =
                    sqlx::query("DELETE FROM group_members WHERE group_seq = ? AND user_id = ?")
                        .bind(seq)
                        .bind(uid)
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?;
                if done.rows_affected() == 1 {
                    Ok(())
                } else {
                    Err(StoreError::NotFound(Entity::Membership))
                }
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }

    async fn groups_for_user(
        &self,
        account: AccountId,
        user: &UserName,
    ) -> Result<Vec<GroupMembership>, StoreError> {
        let account = account.0 as i64;
        let mut conn = self.reads.acquire().await.map_err(backend)?;
        let uid = user_id_of(&mut conn, account, user)
            .await?
            .ok_or(StoreError::NotFound(Entity::User))?;
        let rows = sqlx::query(
            "SELECT g.seq, g.account_id, g.group_id, g.group_name, g.comments, g.created_at, g.updated_at, m.joined_at
             FROM group_members m JOIN groups g ON g.seq = m.group_seq
             WHERE m.user_id = ? ORDER BY m.seq",
        )
        .bind(uid)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(GroupMembership {
                    group: group_from(r)?,
                    joined_at: from_ts(r.try_get("joined_at").map_err(backend)?),
                })
            })
            .collect()
    }

    async fn users_for_group(
        &self,
        account: AccountId,
        group: &GroupName,
        after: Option<GroupCursor>,
        limit: u32,
    ) -> Result<MemberPage, StoreError> {
        let account = account.0 as i64;
        let mut conn = self.reads.acquire().await.map_err(backend)?;
        let (seq, _) = group_row(&mut conn, account, &group.folded())
            .await?
            .ok_or(StoreError::NotFound(Entity::Group))?;
        let rows = sqlx::query(safe(format!(
            "SELECT m.seq, m.joined_at,
                    (SELECT json_array({USER_COLUMNS}) FROM users u WHERE u.user_id = m.user_id) AS u
             FROM group_members m WHERE m.group_seq = ? AND m.seq > ? ORDER BY m.seq LIMIT ?"
        )))
        .bind(seq)
        .bind(after.map_or(0, |c| c.0))
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        let mut members = Vec::new();
        let mut last = 0;
        for r in rows.iter().take(limit as usize) {
            last = r.try_get("seq").map_err(backend)?;
            let text: String = r.try_get("u").map_err(backend)?;
            members.push(Member {
                user: user_from_json(&text)?,
                joined_at: from_ts(r.try_get("joined_at").map_err(backend)?),
            });
        }
        let next = (rows.len() > limit as usize).then_some(GroupCursor(last));
        Ok(MemberPage { members, next })
    }
}

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn create_policy(
        &self,
        policy: &NewPolicy,
        max_policies: u32,
    ) -> Result<ManagedPolicy, StoreError> {
        let p = policy.clone();
        let work = job(move |conn| {
            Box::pin(async move {
                let account = p.account.0 as i64;
                let created = ts(p.created_at);
                let seq: Option<i64> = sqlx::query_scalar(
                    "INSERT INTO policies (account_id, policy_name, description, created_at, updated_at)
                     SELECT ?1, ?2, ?3, ?4, ?4
                     WHERE (SELECT COUNT(*) FROM policies WHERE account_id = ?1) < ?5
                     ON CONFLICT (account_id, policy_name) DO NOTHING
                     RETURNING seq",
                )
                .bind(account)
                .bind(p.name.as_str())
                .bind(p.description.as_ref().map(|d| d.as_str()))
                .bind(created)
                .bind(i64::from(max_policies))
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| crate::classify(e, backend("policy insert"), StoreError::NotFound(Entity::Account)))?;
                let Some(seq) = seq else {
                    return Err(match policy_row(conn, account, p.name.as_str()).await? {
                        Some(_) => StoreError::AlreadyExists(Entity::Policy),
                        None => StoreError::LimitExceeded(Entity::Policy),
                    });
                };
                sqlx::query("INSERT INTO policy_versions (policy_seq, version, document, created_at) VALUES (?, 1, ?, ?)")
                    .bind(seq)
                    .bind(&p.document)
                    .bind(created)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                Ok(ManagedPolicy {
                    name: p.name,
                    kind: PolicyType::Custom,
                    description: p.description,
                    default_version: "v1".to_owned(),
                    attachment_count: 0,
                    created_at: from_ts(created),
                    updated_at: from_ts(created),
                })
            })
        });
        self.write(Writes::Many, work, |_| ()).await
    }

    async fn custom_policy(
        &self,
        account: AccountId,
        name: &PolicyName,
    ) -> Result<Option<ManagedPolicy>, StoreError> {
        let mut conn = self.reads.acquire().await.map_err(backend)?;
        Ok(policy_row(&mut conn, account.0 as i64, name.as_str())
            .await?
            .map(|(_, p)| p))
    }

    async fn custom_policies(&self, account: AccountId) -> Result<Vec<ManagedPolicy>, StoreError> {
        let rows = sqlx::query(safe(format!(
            "{POLICY_SELECT} WHERE p.account_id = ? ORDER BY p.policy_name"
        )))
        .bind(account.0 as i64)
        .fetch_all(&self.reads)
        .await
        .map_err(backend)?;
        rows.iter().map(policy_from).collect()
    }

    async fn system_attachment_counts(
        &self,
        account: AccountId,
    ) -> Result<Vec<(PolicyName, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT policy_name, COUNT(*) FROM policy_attachments
             WHERE account_id = ? AND policy_type = 'System' GROUP BY policy_name",
        )
        .bind(account.0 as i64)
        .fetch_all(&self.reads)
        .await
        .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|(n, c)| (PolicyName::from_trusted(n), c.max(0) as u64))
            .collect())
    }

    async fn update_policy_description(
        &self,
        account: AccountId,
        name: &PolicyName,
        description: Option<&Description>,
        now: OffsetDateTime,
    ) -> Result<ManagedPolicy, StoreError> {
        let account = account.0 as i64;
        let name = name.clone();
        let description = description.cloned();
        let work = job(move |conn| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE policies SET description = ?, updated_at = ? WHERE account_id = ? AND policy_name = ?",
                )
                .bind(description.as_ref().map(|d| d.as_str()))
                .bind(ts(now))
                .bind(account)
                .bind(name.as_str())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound(Entity::Policy));
                }
                policy_row(conn, account, name.as_str())
                    .await?
                    .map(|(_, p)| p)
                    .ok_or_else(|| backend("policy vanished"))
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }

    async fn delete_policy(
        &self,
        account: AccountId,
        name: &PolicyName,
        cascade: bool,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let name = name.clone();
        let work = job(move |conn| {
            Box::pin(async move {
                let (seq, _) = policy_row(conn, account, name.as_str())
                    .await?
                    .ok_or(StoreError::NotFound(Entity::Policy))?;
                if !cascade {
                    let (users, groups, versions): (i64, i64, i64) = sqlx::query_as(
                        "SELECT
                           (SELECT COUNT(*) FROM policy_attachments WHERE account_id = ?1 AND policy_type = 'Custom'
                              AND policy_name = ?2 AND user_id IS NOT NULL),
                           (SELECT COUNT(*) FROM policy_attachments WHERE account_id = ?1 AND policy_type = 'Custom'
                              AND policy_name = ?2 AND group_seq IS NOT NULL),
                           (SELECT COUNT(*) FROM policy_versions WHERE policy_seq = ?3) - 1",
                    )
                    .bind(account)
                    .bind(name.as_str())
                    .bind(seq)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(backend)?;
                    let blocker = if users > 0 {
                        Some(Entity::User)
                    } else if groups > 0 {
                        Some(Entity::Group)
                    } else if versions > 0 {
                        Some(Entity::PolicyVersion)
                    } else {
                        None
                    };
                    if let Some(blocker) = blocker {
                        return Err(StoreError::DeleteConflict {
                            entity: Entity::Policy,
                            blocker,
                        });
                    }
                }
                sqlx::query(
                    "DELETE FROM policy_attachments WHERE account_id = ? AND policy_type = 'Custom' AND policy_name = ?",
                )
                .bind(account)
                .bind(name.as_str())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                sqlx::query("DELETE FROM policies WHERE seq = ?")
                    .bind(seq)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                Ok(())
            })
        });
        self.write(Writes::Many, work, |_| ()).await
    }

    async fn policy_versions(
        &self,
        account: AccountId,
        name: &PolicyName,
    ) -> Result<Vec<PolicyVersion>, StoreError> {
        let mut conn = self.reads.acquire().await.map_err(backend)?;
        versions(&mut conn, account.0 as i64, name.as_str()).await
    }

    async fn create_policy_version(
        &self,
        account: AccountId,
        name: &PolicyName,
        document: &str,
        set_default: bool,
        rotate: RotateStrategy,
        max_versions: u32,
        now: OffsetDateTime,
    ) -> Result<PolicyVersion, StoreError> {
        let account = account.0 as i64;
        let name = name.clone();
        let document = document.to_owned();
        let work = job(move |conn| {
            Box::pin(async move {
                let (seq, _) = policy_row(conn, account, name.as_str())
                    .await?
                    .ok_or(StoreError::NotFound(Entity::Policy))?;
                let (count, default, next): (i64, i64, i64) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM policy_versions WHERE policy_seq = ?1), default_version, next_version
                     FROM policies WHERE seq = ?1",
                )
                .bind(seq)
                .fetch_one(&mut *conn)
                .await
                .map_err(backend)?;
                if count >= i64::from(max_versions) {
                    if rotate == RotateStrategy::None {
                        return Err(StoreError::LimitExceeded(Entity::PolicyVersion));
                    }
                    let removed = sqlx::query(
                        "DELETE FROM policy_versions WHERE policy_seq = ?1 AND version =
                           (SELECT MIN(version) FROM policy_versions WHERE policy_seq = ?1 AND version <> ?2)",
                    )
                    .bind(seq)
                    .bind(default)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                    if removed.rows_affected() == 0 {
                        return Err(StoreError::LimitExceeded(Entity::PolicyVersion));
                    }
                }
                let created = ts(now);
                sqlx::query("INSERT INTO policy_versions (policy_seq, version, document, created_at) VALUES (?, ?, ?, ?)")
                    .bind(seq)
                    .bind(next)
                    .bind(&document)
                    .bind(created)
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                sqlx::query(
                    "UPDATE policies SET next_version = ?2 + 1, updated_at = ?3,
                       default_version = CASE WHEN ?4 THEN ?2 ELSE default_version END
                     WHERE seq = ?1",
                )
                .bind(seq)
                .bind(next)
                .bind(created)
                .bind(set_default)
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                Ok(PolicyVersion {
                    id: format!("v{next}"),
                    is_default: set_default,
                    document,
                    created_at: from_ts(created),
                })
            })
        });
        self.write(Writes::Many, work, |_| ()).await
    }

    async fn set_default_policy_version(
        &self,
        account: AccountId,
        name: &PolicyName,
        version: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let name = name.clone();
        let version = version_number(version);
        let work = job(move |conn| {
            Box::pin(async move {
                let (seq, _) = policy_row(conn, account, name.as_str())
                    .await?
                    .ok_or(StoreError::NotFound(Entity::Policy))?;
                let Some(version) = version else {
                    return Err(StoreError::NotFound(Entity::PolicyVersion));
                };
                let done = sqlx::query(
                    "UPDATE policies SET default_version = ?2, updated_at = ?3 WHERE seq = ?1
                     AND EXISTS (SELECT 1 FROM policy_versions WHERE policy_seq = ?1 AND version = ?2)",
                )
                .bind(seq)
                .bind(version)
                .bind(ts(now))
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    Ok(())
                } else {
                    Err(StoreError::NotFound(Entity::PolicyVersion))
                }
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }

    async fn delete_policy_version(
        &self,
        account: AccountId,
        name: &PolicyName,
        version: &str,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let name = name.clone();
        let version = version_number(version);
        let work = job(move |conn| {
            Box::pin(async move {
                let (seq, policy) = policy_row(conn, account, name.as_str())
                    .await?
                    .ok_or(StoreError::NotFound(Entity::Policy))?;
                let Some(version) = version else {
                    return Err(StoreError::NotFound(Entity::PolicyVersion));
                };
                if policy.default_version == format!("v{version}") {
                    return Err(StoreError::DeleteConflict {
                        entity: Entity::PolicyVersion,
                        blocker: Entity::Policy,
                    });
                }
                let done =
                    sqlx::query("DELETE FROM policy_versions WHERE policy_seq = ? AND version = ?")
                        .bind(seq)
                        .bind(version)
                        .execute(&mut *conn)
                        .await
                        .map_err(backend)?;
                if done.rows_affected() == 1 {
                    Ok(())
                } else {
                    Err(StoreError::NotFound(Entity::PolicyVersion))
                }
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }

    async fn attach_policy(
        &self,
        account: AccountId,
        kind: PolicyType,
        name: &PolicyName,
        target: &AttachTarget,
        max: u32,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let (name, target) = (name.clone(), target.clone());
        let work = job(move |conn| {
            Box::pin(async move {
                let (user, group) = target_key(conn, account, &target).await?;
                if kind == PolicyType::Custom
                    && policy_row(conn, account, name.as_str()).await?.is_none()
                {
                    return Err(StoreError::NotFound(Entity::Policy));
                }
                let done = sqlx::query(
                    "INSERT INTO policy_attachments (account_id, policy_type, policy_name, user_id, group_seq, attached_at)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6
                     WHERE NOT EXISTS (SELECT 1 FROM policy_attachments WHERE user_id IS ?4 AND group_seq IS ?5
                                         AND policy_type = ?2 AND policy_name = ?3)
                       AND (SELECT COUNT(*) FROM policy_attachments WHERE user_id IS ?4 AND group_seq IS ?5
                              AND policy_type = ?2) < ?7",
                )
                .bind(account)
                .bind(kind.as_str())
                .bind(name.as_str())
                .bind(user)
                .bind(group)
                .bind(ts(now))
                .bind(i64::from(max))
                .execute(&mut *conn)
                .await
                .map_err(|e| crate::classify(e, StoreError::AlreadyExists(Entity::Attachment), backend("attachment foreign key")))?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                let exists: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM policy_attachments WHERE user_id IS ? AND group_seq IS ?
                       AND policy_type = ? AND policy_name = ?)",
                )
                .bind(user)
                .bind(group)
                .bind(kind.as_str())
                .bind(name.as_str())
                .fetch_one(&mut *conn)
                .await
                .map_err(backend)?;
                Err(if exists {
                    StoreError::AlreadyExists(Entity::Attachment)
                } else {
                    StoreError::LimitExceeded(Entity::Attachment)
                })
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }

    async fn detach_policy(
        &self,
        account: AccountId,
        kind: PolicyType,
        name: &PolicyName,
        target: &AttachTarget,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let (name, target) = (name.clone(), target.clone());
        let work = job(move |conn| {
            Box::pin(async move {
                let (user, group) = target_key(conn, account, &target).await?;
                let done = sqlx::query(
                    "DELETE FROM policy_attachments WHERE user_id IS ? AND group_seq IS ? AND policy_type = ? AND policy_name = ?",
                )
                .bind(user)
                .bind(group)
                .bind(kind.as_str())
                .bind(name.as_str())
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    Ok(())
                } else {
                    Err(StoreError::NotFound(Entity::Attachment))
                }
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }

    async fn policies_for(
        &self,
        account: AccountId,
        target: &AttachTarget,
    ) -> Result<Vec<Attachment>, StoreError> {
        let mut conn = self.reads.acquire().await.map_err(backend)?;
        let (user, group) = target_key(&mut conn, account.0 as i64, target).await?;
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT policy_type, policy_name, attached_at FROM policy_attachments
             WHERE user_id IS ? AND group_seq IS ? ORDER BY seq",
        )
        .bind(user)
        .bind(group)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(t, n, at)| {
                Ok(Attachment {
                    kind: PolicyType::parse(&t)
                        .ok_or_else(|| backend(format!("policy type {t}")))?,
                    name: PolicyName::from_trusted(n),
                    attached_at: from_ts(at),
                })
            })
            .collect()
    }

    async fn entities_for_policy(
        &self,
        account: AccountId,
        kind: PolicyType,
        name: &PolicyName,
    ) -> Result<PolicyEntities, StoreError> {
        let rows = sqlx::query(safe(format!(
            "SELECT a.attached_at,
                    (SELECT json_array({USER_COLUMNS}) FROM users u WHERE u.user_id = a.user_id) AS u,
                    a.group_seq
             FROM policy_attachments a
             WHERE a.account_id = ? AND a.policy_type = ? AND a.policy_name = ? ORDER BY a.seq"
        )))
        .bind(account.0 as i64)
        .bind(kind.as_str())
        .bind(name.as_str())
        .fetch_all(&self.reads)
        .await
        .map_err(backend)?;
        let mut out = PolicyEntities::default();
        for r in &rows {
            let at = from_ts(r.try_get("attached_at").map_err(backend)?);
            if let Some(text) = r.try_get::<Option<String>, _>("u").map_err(backend)? {
                out.users.push((user_from_json(&text)?, at));
            } else if let Some(seq) = r.try_get::<Option<i64>, _>("group_seq").map_err(backend)? {
                let g = sqlx::query(safe(format!(
                    "SELECT {GROUP_COLUMNS} FROM groups WHERE seq = ?"
                )))
                .bind(seq)
                .fetch_one(&self.reads)
                .await
                .map_err(backend)?;
                out.groups.push((group_from(&g)?, at));
            }
        }
        Ok(out)
    }

    async fn effective_policies(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<Vec<EffectivePolicy>, StoreError> {
        let account = account.0 as i64;
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "WITH attached AS (
               SELECT policy_type, policy_name FROM policy_attachments WHERE user_id = ?2
               UNION
               SELECT a.policy_type, a.policy_name FROM policy_attachments a
                 JOIN group_members m ON a.group_seq = m.group_seq WHERE m.user_id = ?2)
             SELECT t.policy_type, t.policy_name,
                    (SELECT v.document FROM policies p JOIN policy_versions v
                       ON v.policy_seq = p.seq AND v.version = p.default_version
                     WHERE p.account_id = ?1 AND p.policy_name = t.policy_name AND t.policy_type = 'Custom')
             FROM attached t",
        )
        .bind(account)
        .bind(user.0 as i64)
        .fetch_all(&self.reads)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(t, n, doc)| {
                Ok(EffectivePolicy {
                    kind: PolicyType::parse(&t)
                        .ok_or_else(|| backend(format!("policy type {t}")))?,
                    name: PolicyName::from_trusted(n),
                    document: doc,
                })
            })
            .collect()
    }

    async fn policy_epoch(&self, account: AccountId) -> Result<u64, StoreError> {
        let epoch: Option<i64> =
            sqlx::query_scalar("SELECT policy_epoch FROM accounts WHERE id = ?")
                .bind(account.0 as i64)
                .fetch_optional(&self.reads)
                .await
                .map_err(backend)?;
        Ok(epoch.unwrap_or(0).max(0) as u64)
    }
}

async fn versions(
    conn: &mut SqliteConnection,
    account: i64,
    name: &str,
) -> Result<Vec<PolicyVersion>, StoreError> {
    let (seq, policy) = policy_row(conn, account, name)
        .await?
        .ok_or(StoreError::NotFound(Entity::Policy))?;
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT version, document, created_at FROM policy_versions WHERE policy_seq = ? ORDER BY version",
    )
    .bind(seq)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(rows
        .into_iter()
        .map(|(v, document, at)| PolicyVersion {
            id: format!("v{v}"),
            is_default: policy.default_version == format!("v{v}"),
            document,
            created_at: from_ts(at),
        })
        .collect())
}
