//! RAM groups, custom policies with versions, and attachments (schema
//! 0005).
//!
//! Writes run on the group-commit writer, and as for users each is, where
//! it can be, ONE statement that both decides and writes: the target, the
//! policy and the limit are looked up inside the `INSERT … SELECT` or
//! `DELETE … WHERE` itself, so the happy path costs one statement. When
//! such a statement writes nothing, a read in the same job, still inside
//! the writer's transaction, says why (in the order the trait documents).
//! Uniqueness comes from unique indexes (`ON CONFLICT DO NOTHING`), so a
//! duplicate never gets in whatever the interleaving.
//!
//! Reads that return several rows return them as one JSON row (see
//! `list_users` in `lib.rs`: sqlx-sqlite hands every row across threads
//! separately), ordered inside the aggregate. `effective_policies`, on the
//! authorization path, is one statement.
//!
//! `accounts.policy_epoch` is kept by triggers (see the migration), not
//! here: it moves with whatever statement changed a membership, an
//! attachment, a policy or a version, cascades included.

use async_trait::async_trait;
use sqlx::SqliteConnection;
use time::OffsetDateTime;
use trustdesk_domain::store::{GroupStore, PolicyStore};
use trustdesk_domain::{
    AccountId, AttachTarget, Attachment, Description, EffectivePolicy, Entity, Group, GroupCursor,
    GroupMembership, GroupName, GroupPage, GroupPatch, ManagedPolicy, Member, MemberPage,
    NewPolicy, PolicyEntities, PolicyName, PolicyType, PolicyVersion, RotateStrategy, StoreError,
    UserId, UserName,
};

use crate::writer::Writes;
use crate::{SqliteStore, UserRow, backend, classify, from_ts, job, ts};
use trustdesk_domain::rows::{GroupRow, PolicyRow, policy_type, version_id, version_number};

// ---- rows ----

fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(backend)
}

/// Two groups drew the same random public id: not a business outcome (the
/// service retries with a new id), as for user ids.
fn group_id_collision() -> StoreError {
    backend("group id collision; retry with another id")
}

// ---- lookups (readers and writer alike) ----

async fn group_row(
    conn: &mut SqliteConnection,
    account: i64,
    folded: &str,
) -> Result<Option<GroupRow>, StoreError> {
    sqlx::query_as!(
        GroupRow,
        r#"SELECT seq AS "seq!: i64", account_id, group_id, group_name, comments, created_at, updated_at
           FROM groups WHERE account_id = $1 AND group_name_folded = $2"#,
        account,
        folded
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)
}

async fn user_exists(
    conn: &mut SqliteConnection,
    account: i64,
    folded: &str,
) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND user_name_folded = $2) AS "e!: bool""#,
        account,
        folded
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)
}

async fn group_exists(
    conn: &mut SqliteConnection,
    account: i64,
    folded: &str,
) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM groups WHERE account_id = $1 AND group_name_folded = $2) AS "e!: bool""#,
        account,
        folded
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)
}

async fn policy_exists(
    conn: &mut SqliteConnection,
    account: i64,
    name: &str,
) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM policies WHERE account_id = $1 AND policy_name = $2) AS "e!: bool""#,
        account,
        name
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)
}

/// `NotFound(User)` / `NotFound(Group)` unless the target exists.
async fn require_target(
    conn: &mut SqliteConnection,
    account: i64,
    target: &AttachTarget,
) -> Result<(), StoreError> {
    let (exists, what) = match target {
        AttachTarget::User(u) => (user_exists(conn, account, &u.folded()).await?, Entity::User),
        AttachTarget::Group(g) => (
            group_exists(conn, account, &g.folded()).await?,
            Entity::Group,
        ),
    };
    if exists {
        Ok(())
    } else {
        Err(StoreError::NotFound(what))
    }
}

async fn policy_row(
    conn: &mut SqliteConnection,
    account: i64,
    name: &str,
) -> Result<Option<ManagedPolicy>, StoreError> {
    let row = sqlx::query_as!(
        PolicyRow,
        r#"SELECT p.policy_name, p.description, p.default_version, p.created_at, p.updated_at,
                  (SELECT COUNT(*) FROM policy_attachments a
                   WHERE a.account_id = p.account_id AND a.policy_type = 'Custom'
                     AND a.policy_name = p.policy_name) AS "attachments!: i64"
           FROM policies p WHERE p.account_id = $1 AND p.policy_name = $2"#,
        account,
        name
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(row.map(PolicyRow::into_policy))
}

// ---- groups and memberships ----

#[async_trait]
impl GroupStore for SqliteStore {
    async fn create_group(&self, group: &Group, max_groups: u32) -> Result<(), StoreError> {
        let g = group.clone();
        // One writing statement. A taken name makes it do nothing (the
        // only unique violation left is a group-id collision), as does a
        // full account; the read below tells them apart, the name first so
        // that a retried create that had succeeded says AlreadyExists.
        let work = job(move |conn| {
            Box::pin(async move {
                let account = g.account.0 as i64;
                let id = g.id.0 as i64;
                let folded = g.name.folded();
                let comments = g.comments.as_ref().map(|c| c.as_str());
                let created = ts(g.created_at);
                let updated = ts(g.updated_at);
                let max = i64::from(max_groups);
                let done = sqlx::query!(
                    r#"INSERT INTO groups (account_id, group_id, group_name, group_name_folded, comments,
                                           created_at, updated_at)
                       SELECT $1, $2, $3, $4, $5, $6, $7
                       WHERE EXISTS (SELECT 1 FROM accounts WHERE id = $1)
                         AND (SELECT COUNT(*) FROM groups WHERE account_id = $1) < $8
                       ON CONFLICT (account_id, group_name_folded) DO NOTHING"#,
                    account,
                    id,
                    g.name.as_str(),
                    folded,
                    comments,
                    created,
                    updated,
                    max
                )
                .execute(&mut *conn)
                .await
                .map_err(|e| classify(e, group_id_collision(), backend("foreign key on groups")))?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                let why = sqlx::query!(
                    r#"SELECT EXISTS (SELECT 1 FROM groups WHERE account_id = $1 AND group_name_folded = $2) AS "taken!: bool",
                              EXISTS (SELECT 1 FROM accounts WHERE id = $1) AS "account!: bool""#,
                    account,
                    folded
                )
                .fetch_one(&mut *conn)
                .await
                .map_err(backend)?;
                Err(if why.taken {
                    StoreError::AlreadyExists(Entity::Group)
                } else if !why.account {
                    StoreError::NotFound(Entity::Account)
                } else {
                    StoreError::LimitExceeded(Entity::Group)
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
            .map(GroupRow::into_group))
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
        // A read, then one writing statement (the last step): no savepoint.
        let work = job(move |conn| {
            Box::pin(async move {
                let row = group_row(conn, account, &folded)
                    .await?
                    .ok_or(StoreError::NotFound(Entity::Group))?;
                let seq = row.seq;
                let next = patch.apply(&row.into_group(), now);
                let new_folded = next.name.folded();
                let comments = next.comments.as_ref().map(|c| c.as_str());
                let updated = ts(next.updated_at);
                sqlx::query!(
                    "UPDATE groups SET group_name = $1, group_name_folded = $2, comments = $3, updated_at = $4
                     WHERE seq = $5",
                    next.name.as_str(),
                    new_folded,
                    comments,
                    updated,
                    seq
                )
                .execute(&mut *conn)
                .await
                // The name is the only unique column this statement changes.
                .map_err(|e| {
                    classify(
                        e,
                        StoreError::AlreadyExists(Entity::Group),
                        backend("foreign key on groups"),
                    )
                })?;
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
                let done = sqlx::query!(
                    r#"DELETE FROM groups WHERE account_id = $1 AND group_name_folded = $2
                         AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_seq = groups.seq)
                         AND NOT EXISTS (SELECT 1 FROM policy_attachments a WHERE a.group_seq = groups.seq)"#,
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
                    r#"SELECT EXISTS (SELECT 1 FROM group_members m WHERE m.group_seq = g.seq) AS "members!: bool",
                              EXISTS (SELECT 1 FROM policy_attachments a WHERE a.group_seq = g.seq) AS "policies!: bool"
                       FROM groups g WHERE g.account_id = $1 AND g.group_name_folded = $2"#,
                    account,
                    folded
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
                let blocker = match why {
                    None => return Err(StoreError::NotFound(Entity::Group)),
                    Some(w) if w.members => Entity::User,
                    Some(w) if w.policies => Entity::Policy,
                    Some(_) => return Err(backend("group delete wrote nothing")),
                };
                Err(StoreError::DeleteConflict {
                    entity: Entity::Group,
                    blocker,
                })
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
        let account = account.0 as i64;
        let after = after.map_or(0, |c| c.0);
        let fetch = i64::from(limit) + 1;
        let page = sqlx::query_scalar!(
            r#"SELECT json_group_array(
                        json_array(seq, account_id, group_id, group_name, comments, created_at, updated_at)
                        ORDER BY seq) AS "page!: String"
               FROM (SELECT * FROM groups WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3)"#,
            account,
            after,
            fetch
        )
        .fetch_one(&self.reads)
        .await
        .map_err(backend)?;
        let mut rows: Vec<GroupRow> = parse_json(&page)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more {
            rows.last().map(|r| GroupCursor(r.seq))
        } else {
            None
        };
        Ok(GroupPage {
            groups: rows.into_iter().map(GroupRow::into_group).collect(),
            next,
        })
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
        let (group, user) = (group.folded(), user.folded());
        let work = job(move |conn| {
            Box::pin(async move {
                let joined = ts(now);
                let max = i64::from(max_per_user);
                // `WHERE` is always there: it keeps SQLite's parser from
                // reading `ON CONFLICT` as a join constraint.
                let done = sqlx::query!(
                    r#"INSERT INTO group_members (group_seq, user_id, joined_at)
                       SELECT g.seq, u.user_id, $4 FROM users u, groups g
                       WHERE u.account_id = $1 AND u.user_name_folded = $2
                         AND g.account_id = $1 AND g.group_name_folded = $3
                         AND (SELECT COUNT(*) FROM group_members m WHERE m.user_id = u.user_id) < $5
                       ON CONFLICT (user_id, group_seq) DO NOTHING"#,
                    account,
                    user,
                    group,
                    joined,
                    max
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                if !user_exists(conn, account, &user).await? {
                    return Err(StoreError::NotFound(Entity::User));
                }
                if !group_exists(conn, account, &group).await? {
                    return Err(StoreError::NotFound(Entity::Group));
                }
                let member = sqlx::query_scalar!(
                    r#"SELECT EXISTS (SELECT 1 FROM group_members m
                                      JOIN users u ON u.user_id = m.user_id
                                      JOIN groups g ON g.seq = m.group_seq
                                      WHERE u.account_id = $1 AND u.user_name_folded = $2
                                        AND g.account_id = $1 AND g.group_name_folded = $3) AS "e!: bool""#,
                    account,
                    user,
                    group
                )
                .fetch_one(&mut *conn)
                .await
                .map_err(backend)?;
                // Already a member wins over the limit: a retried add that
                // had succeeded says AlreadyExists.
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
        let (group, user) = (group.folded(), user.folded());
        let work = job(move |conn| {
            Box::pin(async move {
                let done = sqlx::query!(
                    r#"DELETE FROM group_members
                       WHERE user_id = (SELECT user_id FROM users WHERE account_id = $1 AND user_name_folded = $2)
                         AND group_seq = (SELECT seq FROM groups WHERE account_id = $1 AND group_name_folded = $3)"#,
                    account,
                    user,
                    group
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                Err(if !user_exists(conn, account, &user).await? {
                    StoreError::NotFound(Entity::User)
                } else if !group_exists(conn, account, &group).await? {
                    StoreError::NotFound(Entity::Group)
                } else {
                    StoreError::NotFound(Entity::Membership)
                })
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
        let folded = user.folded();
        // No row: no such user.
        let page = sqlx::query_scalar!(
            r#"SELECT (SELECT json_group_array(json_array(
                                json_array(g.seq, g.account_id, g.group_id, g.group_name, g.comments,
                                           g.created_at, g.updated_at),
                                m.joined_at) ORDER BY m.seq)
                       FROM group_members m JOIN groups g ON g.seq = m.group_seq
                       WHERE m.user_id = u.user_id) AS "page!: String"
               FROM users u WHERE u.account_id = $1 AND u.user_name_folded = $2"#,
            account,
            folded
        )
        .fetch_optional(&self.reads)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Entity::User))?;
        let rows: Vec<(GroupRow, i64)> = parse_json(&page)?;
        Ok(rows
            .into_iter()
            .map(|(g, joined)| GroupMembership {
                group: g.into_group(),
                joined_at: from_ts(joined),
            })
            .collect())
    }

    async fn users_for_group(
        &self,
        account: AccountId,
        group: &GroupName,
        after: Option<GroupCursor>,
        limit: u32,
    ) -> Result<MemberPage, StoreError> {
        let account = account.0 as i64;
        let folded = group.folded();
        let after = after.map_or(0, |c| c.0);
        let fetch = i64::from(limit) + 1;
        // One statement: no row means no such group; the page walks the
        // group's members in joining order from the cursor.
        let page = sqlx::query_scalar!(
            r#"SELECT (SELECT json_group_array(json_array(m.seq, m.joined_at, json_array(
                                u.account_id, u.user_id, u.user_name, u.display_name, u.mobile_phone,
                                u.email, u.comments, u.created_at, u.updated_at, u.last_login_at,
                                u.first_name, u.last_name, u.job_title, u.telephone, u.access_role,
                                u.container_id, u.container_assignments, u.user_type, u.saml_sso_only))
                              ORDER BY m.seq)
                       FROM (SELECT seq, user_id, joined_at FROM group_members
                             WHERE group_seq = g.seq AND seq > $3 ORDER BY seq LIMIT $4) m
                       JOIN users u ON u.user_id = m.user_id) AS "page!: String"
               FROM groups g WHERE g.account_id = $1 AND g.group_name_folded = $2"#,
            account,
            folded,
            after,
            fetch
        )
        .fetch_optional(&self.reads)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Entity::Group))?;
        let mut rows: Vec<(i64, i64, UserRow)> = parse_json(&page)?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more {
            rows.last().map(|r| GroupCursor(r.0))
        } else {
            None
        };
        let members = rows
            .into_iter()
            .map(|(_, joined, u)| {
                Ok(Member {
                    user: u.into_user()?,
                    joined_at: from_ts(joined),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(MemberPage { members, next })
    }
}

// ---- policies, versions, attachments ----

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn create_policy(
        &self,
        policy: &NewPolicy,
        max_policies: u32,
    ) -> Result<ManagedPolicy, StoreError> {
        let p = policy.clone();
        // Two writes (the policy, then its v1) in one savepoint. The first
        // decides: a taken name or a full account make it insert nothing.
        let work = job(move |conn| {
            Box::pin(async move {
                let account = p.account.0 as i64;
                let description = p.description.as_ref().map(|d| d.as_str());
                let created = ts(p.created_at);
                let max = i64::from(max_policies);
                let seq = sqlx::query_scalar!(
                    r#"INSERT INTO policies (account_id, policy_name, description, default_version,
                                             next_version, created_at, updated_at)
                       SELECT $1, $2, $3, 1, 2, $4, $4
                       WHERE (SELECT policy_count FROM accounts WHERE id = $1) < $5
                       ON CONFLICT (account_id, policy_name) DO NOTHING
                       RETURNING seq AS "seq!: i64""#,
                    account,
                    p.name.as_str(),
                    description,
                    created,
                    max
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
                let Some(seq) = seq else {
                    let why = sqlx::query!(
                        r#"SELECT EXISTS (SELECT 1 FROM policies WHERE account_id = $1 AND policy_name = $2) AS "taken!: bool",
                                  EXISTS (SELECT 1 FROM accounts WHERE id = $1) AS "account!: bool""#,
                        account,
                        p.name.as_str()
                    )
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(backend)?;
                    return Err(if why.taken {
                        StoreError::AlreadyExists(Entity::Policy)
                    } else if !why.account {
                        StoreError::NotFound(Entity::Account)
                    } else {
                        StoreError::LimitExceeded(Entity::Policy)
                    });
                };
                sqlx::query!(
                    "INSERT INTO policy_versions (policy_seq, version, document, created_at)
                     VALUES ($1, 1, $2, $3)",
                    seq,
                    p.document,
                    created
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                Ok(ManagedPolicy {
                    name: p.name,
                    kind: PolicyType::Custom,
                    description: p.description,
                    default_version: version_id(1),
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
        policy_row(&mut conn, account.0 as i64, name.as_str()).await
    }

    async fn custom_policies(&self, account: AccountId) -> Result<Vec<ManagedPolicy>, StoreError> {
        let account = account.0 as i64;
        let page = sqlx::query_scalar!(
            r#"SELECT json_group_array(json_array(
                        p.policy_name, p.description, p.default_version, p.created_at, p.updated_at,
                        (SELECT COUNT(*) FROM policy_attachments a
                         WHERE a.account_id = p.account_id AND a.policy_type = 'Custom'
                           AND a.policy_name = p.policy_name))
                      ORDER BY p.policy_name) AS "page!: String"
               FROM policies p WHERE p.account_id = $1"#,
            account
        )
        .fetch_one(&self.reads)
        .await
        .map_err(backend)?;
        let rows: Vec<PolicyRow> = parse_json(&page)?;
        Ok(rows.into_iter().map(PolicyRow::into_policy).collect())
    }

    async fn system_attachment_counts(
        &self,
        account: AccountId,
    ) -> Result<Vec<(PolicyName, u64)>, StoreError> {
        let account = account.0 as i64;
        let page = sqlx::query_scalar!(
            r#"SELECT json_group_array(json_array(policy_name, n) ORDER BY policy_name) AS "page!: String"
               FROM (SELECT policy_name, COUNT(*) AS n FROM policy_attachments
                     WHERE account_id = $1 AND policy_type = 'System' GROUP BY policy_name)"#,
            account
        )
        .fetch_one(&self.reads)
        .await
        .map_err(backend)?;
        let rows: Vec<(String, i64)> = parse_json(&page)?;
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
        // One statement: the update hands the policy back as stored.
        let work = job(move |conn| {
            Box::pin(async move {
                let description = description.as_ref().map(|d| d.as_str());
                let updated = ts(now);
                let row = sqlx::query_as!(
                    PolicyRow,
                    r#"UPDATE policies SET description = $3, updated_at = $4
                       WHERE account_id = $1 AND policy_name = $2
                       RETURNING policy_name AS "policy_name!: String", description,
                                 default_version AS "default_version!: i64",
                                 created_at AS "created_at!: i64", updated_at AS "updated_at!: i64",
                                 (SELECT COUNT(*) FROM policy_attachments a
                                  WHERE a.account_id = policies.account_id AND a.policy_type = 'Custom'
                                    AND a.policy_name = policies.policy_name) AS "attachments!: i64""#,
                    account,
                    name.as_str(),
                    description,
                    updated
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Entity::Policy))?;
                Ok(row.into_policy())
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
                let name = name.as_str();
                if cascade {
                    // Two writes (attachments, then the policy, whose
                    // versions go by ON DELETE CASCADE) in one savepoint;
                    // a missing policy has no attachments to remove.
                    sqlx::query!(
                        "DELETE FROM policy_attachments
                         WHERE account_id = $1 AND policy_type = 'Custom' AND policy_name = $2",
                        account,
                        name
                    )
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                    let done = sqlx::query!(
                        "DELETE FROM policies WHERE account_id = $1 AND policy_name = $2",
                        account,
                        name
                    )
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                    return if done.rows_affected() == 1 {
                        Ok(())
                    } else {
                        Err(StoreError::NotFound(Entity::Policy))
                    };
                }
                let done = sqlx::query!(
                    r#"DELETE FROM policies WHERE account_id = $1 AND policy_name = $2
                         AND NOT EXISTS (SELECT 1 FROM policy_attachments a
                                         WHERE a.account_id = $1 AND a.policy_type = 'Custom' AND a.policy_name = $2)
                         AND NOT EXISTS (SELECT 1 FROM policy_versions v
                                         WHERE v.policy_seq = policies.seq AND v.version <> policies.default_version)"#,
                    account,
                    name
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                let why = sqlx::query!(
                    r#"SELECT EXISTS (SELECT 1 FROM policy_attachments a
                                      WHERE a.account_id = $1 AND a.policy_type = 'Custom'
                                        AND a.policy_name = $2 AND a.user_id IS NOT NULL) AS "users!: bool",
                              EXISTS (SELECT 1 FROM policy_attachments a
                                      WHERE a.account_id = $1 AND a.policy_type = 'Custom'
                                        AND a.policy_name = $2 AND a.group_seq IS NOT NULL) AS "groups!: bool",
                              EXISTS (SELECT 1 FROM policy_versions v
                                      WHERE v.policy_seq = p.seq AND v.version <> p.default_version) AS "versions!: bool"
                       FROM policies p WHERE p.account_id = $1 AND p.policy_name = $2"#,
                    account,
                    name
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
                let blocker = match why {
                    None => return Err(StoreError::NotFound(Entity::Policy)),
                    Some(w) if w.users => Entity::User,
                    Some(w) if w.groups => Entity::Group,
                    Some(w) if w.versions => Entity::PolicyVersion,
                    Some(_) => return Err(backend("policy delete wrote nothing")),
                };
                Err(StoreError::DeleteConflict {
                    entity: Entity::Policy,
                    blocker,
                })
            })
        });
        let writes = if cascade { Writes::Many } else { Writes::One };
        self.write(writes, work, |_| ()).await
    }

    async fn policy_versions(
        &self,
        account: AccountId,
        name: &PolicyName,
    ) -> Result<Vec<PolicyVersion>, StoreError> {
        let account = account.0 as i64;
        let row = sqlx::query!(
            r#"SELECT p.default_version AS "default_version!: i64",
                      (SELECT json_group_array(json_array(v.version, v.document, v.created_at) ORDER BY v.version)
                       FROM policy_versions v WHERE v.policy_seq = p.seq) AS "versions!: String"
               FROM policies p WHERE p.account_id = $1 AND p.policy_name = $2"#,
            account,
            name.as_str()
        )
        .fetch_optional(&self.reads)
        .await
        .map_err(backend)?
        .ok_or(StoreError::NotFound(Entity::Policy))?;
        let versions: Vec<(i64, String, i64)> = parse_json(&row.versions)?;
        Ok(versions
            .into_iter()
            .map(|(v, document, at)| PolicyVersion {
                id: version_id(v),
                is_default: v == row.default_version,
                document,
                created_at: from_ts(at),
            })
            .collect())
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
        // A read, then up to three writes in one savepoint: make room if
        // rotating, add the version, move the policy's counters.
        let work = job(move |conn| {
            Box::pin(async move {
                let p = sqlx::query!(
                    r#"SELECT seq AS "seq!: i64", default_version, next_version,
                              (SELECT COUNT(*) FROM policy_versions v WHERE v.policy_seq = policies.seq) AS "count!: i64"
                       FROM policies WHERE account_id = $1 AND policy_name = $2"#,
                    account,
                    name.as_str()
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Entity::Policy))?;
                let max = i64::from(max_versions);
                let excess = p.count - max + 1;
                if excess > 0 {
                    if rotate == RotateStrategy::None {
                        return Err(StoreError::LimitExceeded(Entity::PolicyVersion));
                    }
                    // The oldest versions that are not the default (one,
                    // unless the limit went down since they were made).
                    let removed = sqlx::query!(
                        "DELETE FROM policy_versions WHERE policy_seq = $1 AND version IN
                           (SELECT version FROM policy_versions
                            WHERE policy_seq = $1 AND version <> $2 ORDER BY version LIMIT $3)",
                        p.seq,
                        p.default_version,
                        excess
                    )
                    .execute(&mut *conn)
                    .await
                    .map_err(backend)?;
                    if (removed.rows_affected() as i64) < excess {
                        return Err(StoreError::LimitExceeded(Entity::PolicyVersion));
                    }
                }
                let created = ts(now);
                let version = p.next_version;
                sqlx::query!(
                    "INSERT INTO policy_versions (policy_seq, version, document, created_at)
                     VALUES ($1, $2, $3, $4)",
                    p.seq,
                    version,
                    document,
                    created
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                sqlx::query!(
                    "UPDATE policies SET next_version = $2 + 1, updated_at = $3,
                       default_version = CASE WHEN $4 THEN $2 ELSE default_version END
                     WHERE seq = $1",
                    p.seq,
                    version,
                    created,
                    set_default
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                Ok(PolicyVersion {
                    id: version_id(version),
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
        // An id that cannot be ours names no version (0 never exists).
        let version = version_number(version).unwrap_or(0);
        let work = job(move |conn| {
            Box::pin(async move {
                let updated = ts(now);
                let done = sqlx::query!(
                    r#"UPDATE policies SET default_version = $3, updated_at = $4
                       WHERE account_id = $1 AND policy_name = $2
                         AND EXISTS (SELECT 1 FROM policy_versions v
                                     WHERE v.policy_seq = policies.seq AND v.version = $3)"#,
                    account,
                    name.as_str(),
                    version,
                    updated
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    Ok(())
                } else if policy_exists(conn, account, name.as_str()).await? {
                    Err(StoreError::NotFound(Entity::PolicyVersion))
                } else {
                    Err(StoreError::NotFound(Entity::Policy))
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
        let version = version_number(version).unwrap_or(0);
        let work = job(move |conn| {
            Box::pin(async move {
                let done = sqlx::query!(
                    r#"DELETE FROM policy_versions
                       WHERE version = $3
                         AND policy_seq = (SELECT seq FROM policies
                                           WHERE account_id = $1 AND policy_name = $2 AND default_version <> $3)"#,
                    account,
                    name.as_str(),
                    version
                )
                .execute(&mut *conn)
                .await
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                let default = sqlx::query_scalar!(
                    "SELECT default_version FROM policies WHERE account_id = $1 AND policy_name = $2",
                    account,
                    name.as_str()
                )
                .fetch_optional(&mut *conn)
                .await
                .map_err(backend)?;
                Err(match default {
                    None => StoreError::NotFound(Entity::Policy),
                    Some(d) if d == version => StoreError::DeleteConflict {
                        entity: Entity::PolicyVersion,
                        blocker: Entity::Policy,
                    },
                    Some(_) => StoreError::NotFound(Entity::PolicyVersion),
                })
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
        // One writing statement finds the target, checks that a custom
        // policy exists and counts the target's attachments of that type.
        let work = job(move |conn| {
            Box::pin(async move {
                let kind_s = kind.as_str();
                let name_s = name.as_str();
                let at = ts(now);
                let max = i64::from(max);
                let done = match &target {
                    AttachTarget::User(u) => {
                        let folded = u.folded();
                        sqlx::query!(
                            r#"INSERT INTO policy_attachments (account_id, policy_type, policy_name, user_id,
                                                               group_seq, attached_at)
                               SELECT $1, $2, $3, u.user_id, NULL, $5 FROM users u
                               WHERE u.account_id = $1 AND u.user_name_folded = $4
                                 AND ($2 = 'System'
                                      OR EXISTS (SELECT 1 FROM policies p WHERE p.account_id = $1 AND p.policy_name = $3))
                                 AND (SELECT COUNT(*) FROM policy_attachments a
                                      WHERE a.user_id = u.user_id AND a.policy_type = $2) < $6
                               ON CONFLICT (user_id, policy_type, policy_name) DO NOTHING"#,
                            account,
                            kind_s,
                            name_s,
                            folded,
                            at,
                            max
                        )
                        .execute(&mut *conn)
                        .await
                    }
                    AttachTarget::Group(g) => {
                        let folded = g.folded();
                        sqlx::query!(
                            r#"INSERT INTO policy_attachments (account_id, policy_type, policy_name, user_id,
                                                               group_seq, attached_at)
                               SELECT $1, $2, $3, NULL, g.seq, $5 FROM groups g
                               WHERE g.account_id = $1 AND g.group_name_folded = $4
                                 AND ($2 = 'System'
                                      OR EXISTS (SELECT 1 FROM policies p WHERE p.account_id = $1 AND p.policy_name = $3))
                                 AND (SELECT COUNT(*) FROM policy_attachments a
                                      WHERE a.group_seq = g.seq AND a.policy_type = $2) < $6
                               ON CONFLICT (group_seq, policy_type, policy_name) DO NOTHING"#,
                            account,
                            kind_s,
                            name_s,
                            folded,
                            at,
                            max
                        )
                        .execute(&mut *conn)
                        .await
                    }
                }
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                require_target(conn, account, &target).await?;
                if kind == PolicyType::Custom && !policy_exists(conn, account, name_s).await? {
                    return Err(StoreError::NotFound(Entity::Policy));
                }
                // Already attached wins over the limit: a retried attach
                // that had succeeded says AlreadyExists.
                Err(if attached(conn, account, kind, &name, &target).await? {
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
                let kind_s = kind.as_str();
                let name_s = name.as_str();
                let done = match &target {
                    AttachTarget::User(u) => {
                        let folded = u.folded();
                        sqlx::query!(
                            r#"DELETE FROM policy_attachments
                               WHERE user_id = (SELECT user_id FROM users WHERE account_id = $1 AND user_name_folded = $4)
                                 AND policy_type = $2 AND policy_name = $3"#,
                            account,
                            kind_s,
                            name_s,
                            folded
                        )
                        .execute(&mut *conn)
                        .await
                    }
                    AttachTarget::Group(g) => {
                        let folded = g.folded();
                        sqlx::query!(
                            r#"DELETE FROM policy_attachments
                               WHERE group_seq = (SELECT seq FROM groups WHERE account_id = $1 AND group_name_folded = $4)
                                 AND policy_type = $2 AND policy_name = $3"#,
                            account,
                            kind_s,
                            name_s,
                            folded
                        )
                        .execute(&mut *conn)
                        .await
                    }
                }
                .map_err(backend)?;
                if done.rows_affected() == 1 {
                    return Ok(());
                }
                require_target(conn, account, &target).await?;
                Err(StoreError::NotFound(Entity::Attachment))
            })
        });
        self.write(Writes::One, work, |_| ()).await
    }

    async fn policies_for(
        &self,
        account: AccountId,
        target: &AttachTarget,
    ) -> Result<Vec<Attachment>, StoreError> {
        let account = account.0 as i64;
        // One statement each: no row means no such target.
        let page = match target {
            AttachTarget::User(u) => {
                let folded = u.folded();
                sqlx::query_scalar!(
                    r#"SELECT (SELECT json_group_array(json_array(a.policy_type, a.policy_name, a.attached_at)
                                                       ORDER BY a.seq)
                               FROM policy_attachments a WHERE a.user_id = u.user_id) AS "page!: String"
                       FROM users u WHERE u.account_id = $1 AND u.user_name_folded = $2"#,
                    account,
                    folded
                )
                .fetch_optional(&self.reads)
                .await
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Entity::User))?
            }
            AttachTarget::Group(g) => {
                let folded = g.folded();
                sqlx::query_scalar!(
                    r#"SELECT (SELECT json_group_array(json_array(a.policy_type, a.policy_name, a.attached_at)
                                                       ORDER BY a.seq)
                               FROM policy_attachments a WHERE a.group_seq = g.seq) AS "page!: String"
                       FROM groups g WHERE g.account_id = $1 AND g.group_name_folded = $2"#,
                    account,
                    folded
                )
                .fetch_optional(&self.reads)
                .await
                .map_err(backend)?
                .ok_or(StoreError::NotFound(Entity::Group))?
            }
        };
        let rows: Vec<(String, String, i64)> = parse_json(&page)?;
        rows.into_iter()
            .map(|(t, n, at)| {
                Ok(Attachment {
                    kind: policy_type(&t)?,
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
        let account = account.0 as i64;
        let row = sqlx::query!(
            r#"SELECT
                 (SELECT json_group_array(json_array(a.attached_at, json_array(
                            u.account_id, u.user_id, u.user_name, u.display_name, u.mobile_phone,
                            u.email, u.comments, u.created_at, u.updated_at, u.last_login_at,
                            u.first_name, u.last_name, u.job_title, u.telephone, u.access_role,
                            u.container_id, u.container_assignments, u.user_type, u.saml_sso_only))
                          ORDER BY a.seq)
                  FROM policy_attachments a JOIN users u ON u.user_id = a.user_id
                  WHERE a.account_id = $1 AND a.policy_type = $2 AND a.policy_name = $3) AS "users!: String",
                 (SELECT json_group_array(json_array(a.attached_at, json_array(
                            g.seq, g.account_id, g.group_id, g.group_name, g.comments, g.created_at,
                            g.updated_at))
                          ORDER BY a.seq)
                  FROM policy_attachments a JOIN groups g ON g.seq = a.group_seq
                  WHERE a.account_id = $1 AND a.policy_type = $2 AND a.policy_name = $3) AS "groups!: String""#,
            account,
            kind.as_str(),
            name.as_str()
        )
        .fetch_one(&self.reads)
        .await
        .map_err(backend)?;
        let users: Vec<(i64, UserRow)> = parse_json(&row.users)?;
        let groups: Vec<(i64, GroupRow)> = parse_json(&row.groups)?;
        Ok(PolicyEntities {
            users: users
                .into_iter()
                .map(|(at, u)| Ok((u.into_user()?, from_ts(at))))
                .collect::<Result<_, StoreError>>()?,
            groups: groups
                .into_iter()
                .map(|(at, g)| (g.into_group(), from_ts(at)))
                .collect(),
        })
    }

    async fn effective_policies(
        &self,
        account: AccountId,
        user: UserId,
    ) -> Result<Vec<EffectivePolicy>, StoreError> {
        let account = account.0 as i64;
        let Ok(user) = i64::try_from(user.0) else {
            return Ok(Vec::new());
        };
        // One statement: the user's own attachments and its groups',
        // each (type, name) once, custom ones with the default version's
        // document. The account is checked on the user (`me`), not on the
        // attachments: with `a.account_id = ?` in the join SQLite's planner
        // (no statistics) walks the account's attachments by
        // `policy_attachments_policy` instead of the user's by user id.
        let page = sqlx::query_scalar!(
            r#"WITH me (user_id) AS (SELECT user_id FROM users WHERE user_id = $2 AND account_id = $1),
               attached (policy_type, policy_name) AS (
                 SELECT a.policy_type, a.policy_name
                 FROM me JOIN policy_attachments a ON a.user_id = me.user_id
                 UNION
                 SELECT a.policy_type, a.policy_name
                 FROM me JOIN group_members m ON m.user_id = me.user_id
                         JOIN policy_attachments a ON a.group_seq = m.group_seq)
               SELECT json_group_array(json_array(t.policy_type, t.policy_name, v.document)
                                       ORDER BY t.policy_type, t.policy_name) AS "page!: String"
               FROM attached t
               LEFT JOIN policies p
                 ON t.policy_type = 'Custom' AND p.account_id = $1 AND p.policy_name = t.policy_name
               LEFT JOIN policy_versions v ON v.policy_seq = p.seq AND v.version = p.default_version"#,
            account,
            user
        )
        .fetch_one(&self.reads)
        .await
        .map_err(backend)?;
        let rows: Vec<(String, String, Option<String>)> = parse_json(&page)?;
        rows.into_iter()
            .map(|(t, n, document)| {
                Ok(EffectivePolicy {
                    kind: policy_type(&t)?,
                    name: PolicyName::from_trusted(n),
                    document,
                })
            })
            .collect()
    }

    async fn policy_epoch(&self, account: AccountId) -> Result<u64, StoreError> {
        let account = account.0 as i64;
        let epoch = sqlx::query_scalar!(
            r#"SELECT policy_epoch AS "e!: i64" FROM accounts WHERE id = $1"#,
            account
        )
        .fetch_optional(&self.reads)
        .await
        .map_err(backend)?;
        Ok(epoch.unwrap_or(0).max(0) as u64)
    }
}

/// Whether the policy is attached to the (existing) target.
async fn attached(
    conn: &mut SqliteConnection,
    account: i64,
    kind: PolicyType,
    name: &PolicyName,
    target: &AttachTarget,
) -> Result<bool, StoreError> {
    let (kind, name) = (kind.as_str(), name.as_str());
    match target {
        AttachTarget::User(u) => {
            let folded = u.folded();
            sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM policy_attachments a JOIN users u ON u.user_id = a.user_id
                                  WHERE u.account_id = $1 AND u.user_name_folded = $2
                                    AND a.policy_type = $3 AND a.policy_name = $4) AS "e!: bool""#,
                account,
                folded,
                kind,
                name
            )
            .fetch_one(&mut *conn)
            .await
        }
        AttachTarget::Group(g) => {
            let folded = g.folded();
            sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM policy_attachments a JOIN groups g ON g.seq = a.group_seq
                                  WHERE g.account_id = $1 AND g.group_name_folded = $2
                                    AND a.policy_type = $3 AND a.policy_name = $4) AS "e!: bool""#,
                account,
                folded,
                kind,
                name
            )
            .fetch_one(&mut *conn)
            .await
        }
    }
    .map_err(backend)
}
