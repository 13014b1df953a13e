//! RAM groups, custom policies with versions, and attachments (schema
//! 0005) on PostgreSQL.
//!
//! Writes: one transaction each that first locks the rows its decision
//! rests on, then checks and writes in later statements. Under READ
//! COMMITTED a statement sees what had committed when it began, so a
//! check in the very statement that waited for a lock could read rows
//! older than the lock; held rows make check and write one decision on
//! every node. Uniqueness rests on the unique indexes (`ON CONFLICT DO
//! NOTHING`, or a classified violation for a rename); a refused write is
//! explained by a read under the same locks, in the trait's (and
//! SQLite's) order.
//!
//! Lock order: policy → group → user(s) → account, then the writes.
//!
//! - Modes: `FOR NO KEY UPDATE` for the row that decides (a user's
//!   memberships and attachments, a group's attachments, a policy's
//!   versions and default); `FOR KEY SHARE` for a row that must only stay
//!   (a new member's group, an attached custom policy, the target a
//!   membership or attachment leaves), which only deletes and renames
//!   wait for; `FOR UPDATE` for a group renamed or deleted and a policy
//!   deleted.
//! - The account last, always, via [`lock`] just before the first write
//!   (for the group and custom-policy limits it is the deciding row). The
//!   epoch triggers lock it at the first write anyway; locking it before
//!   writing means no transaction here waits for it while holding a new
//!   or deleted row or a claimed name, which deadlocks against one that
//!   holds the account and meets that row (a create meeting a rename or
//!   delete of the name, an add meeting the removal of the membership).
//! - User before account is also the order of lib.rs's `delete_user` and
//!   `purge_user`, whose cascades take a user's memberships and
//!   attachments before the triggers take the account: whatever here
//!   deletes those rows holds the user first (a cascading policy delete
//!   holds every attached user, in id order).
//!
//! Reads: one statement on the pool, no locks; an empty listing gets a
//! second read to tell "no such target" from "nothing there". Names sort
//! `COLLATE "C"` (byte order, as in SQLite) whatever the database's
//! collation. `policy_epoch` and `policy_count` are the triggers' (see the
//! migration).

use async_trait::async_trait;
use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;
use trustdesk_domain::store::{GroupStore, PolicyStore};
use trustdesk_domain::{
    AccountId, AttachTarget, Attachment, Description, EffectivePolicy, Entity, Group, GroupCursor,
    GroupMembership, GroupName, GroupPage, GroupPatch, ManagedPolicy, Member, MemberPage,
    NewPolicy, PolicyEntities, PolicyName, PolicyType, PolicyVersion, RotateStrategy, StoreError,
    UserId, UserName,
};

use crate::{PgStore, backend, classify, db, from_ts, lock_account, transaction, ts};
use trustdesk_domain::rows::{GroupRow, PolicyRow, policy_type, version_id, version_number};

// ---- rows ----

/// A [`GroupRow`] from a query record that selects the group's columns by
/// their names (queries that add columns of their own cannot use
/// `query_as!`).
macro_rules! group_row {
    ($r:ident) => {
        GroupRow {
            seq: $r.seq,
            account_id: $r.account_id,
            group_id: $r.group_id,
            group_name: $r.group_name,
            comments: $r.comments,
            created_at: $r.created_at,
            updated_at: $r.updated_at,
        }
    };
}

/// What a version change needs of its (locked) policy.
struct PolicyHead {
    seq: i64,
    default_version: i64,
    next_version: i64,
}

/// Two groups drew the same random public id: not a business outcome (the
/// service retries with a new id), as for user ids.
fn group_id_collision() -> StoreError {
    backend("group id collision; retry with another id")
}

// ---- locks (in the module comment's order) ----

/// How a transaction holds a row other than the account's.
#[derive(Clone, Copy)]
enum Hold {
    /// `FOR KEY SHARE`: the row stays until commit (deletes and renames
    /// wait); others may hold or change it meanwhile.
    Keep,
    /// `FOR NO KEY UPDATE`: this transaction decides on the row's behalf;
    /// others deciding wait.
    Decide,
}

async fn lock_policy(
    conn: &mut PgConnection,
    account: i64,
    name: &str,
    hold: Hold,
) -> Result<Option<PolicyHead>, StoreError> {
    match hold {
        Hold::Keep => {
            sqlx::query_as!(
                PolicyHead,
                "SELECT seq, default_version, next_version FROM policies
                 WHERE account_id = $1 AND policy_name = $2 FOR KEY SHARE",
                account,
                name
            )
            .fetch_optional(&mut *conn)
            .await
        }
        Hold::Decide => {
            sqlx::query_as!(
                PolicyHead,
                "SELECT seq, default_version, next_version FROM policies
                 WHERE account_id = $1 AND policy_name = $2 FOR NO KEY UPDATE",
                account,
                name
            )
            .fetch_optional(&mut *conn)
            .await
        }
    }
    .map_err(db)
}

/// The group's `seq`.
async fn lock_group(
    conn: &mut PgConnection,
    account: i64,
    folded: &str,
    hold: Hold,
) -> Result<Option<i64>, StoreError> {
    match hold {
        Hold::Keep => {
            sqlx::query_scalar!(
                "SELECT seq FROM groups WHERE account_id = $1 AND group_name_folded = $2
                 FOR KEY SHARE",
                account,
                folded
            )
            .fetch_optional(&mut *conn)
            .await
        }
        Hold::Decide => {
            sqlx::query_scalar!(
                "SELECT seq FROM groups WHERE account_id = $1 AND group_name_folded = $2
                 FOR NO KEY UPDATE",
                account,
                folded
            )
            .fetch_optional(&mut *conn)
            .await
        }
    }
    .map_err(db)
}

/// The whole group, held `FOR UPDATE` (it is renamed or deleted).
async fn own_group(
    conn: &mut PgConnection,
    account: i64,
    folded: &str,
) -> Result<Option<GroupRow>, StoreError> {
    sqlx::query_as!(
        GroupRow,
        "SELECT seq, account_id, group_id, group_name, comments, created_at, updated_at
         FROM groups WHERE account_id = $1 AND group_name_folded = $2 FOR UPDATE",
        account,
        folded
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)
}

/// The user's id.
async fn lock_user(
    conn: &mut PgConnection,
    account: i64,
    folded: &str,
    hold: Hold,
) -> Result<Option<i64>, StoreError> {
    match hold {
        Hold::Keep => {
            sqlx::query_scalar!(
                "SELECT user_id FROM users WHERE account_id = $1 AND user_name_folded = $2
                 FOR KEY SHARE",
                account,
                folded
            )
            .fetch_optional(&mut *conn)
            .await
        }
        Hold::Decide => {
            sqlx::query_scalar!(
                "SELECT user_id FROM users WHERE account_id = $1 AND user_name_folded = $2
                 FOR NO KEY UPDATE",
                account,
                folded
            )
            .fetch_optional(&mut *conn)
            .await
        }
    }
    .map_err(db)
}

/// An attachment target as stored: a user's id or a group's `seq`.
#[derive(Clone, Copy)]
enum TargetRow {
    User(i64),
    Group(i64),
}

/// Holds the target, or says it does not exist.
async fn lock_target(
    conn: &mut PgConnection,
    account: i64,
    target: &AttachTarget,
    hold: Hold,
) -> Result<TargetRow, StoreError> {
    match target {
        AttachTarget::User(u) => lock_user(conn, account, &u.folded(), hold)
            .await?
            .map(TargetRow::User)
            .ok_or(StoreError::NotFound(Entity::User)),
        AttachTarget::Group(g) => lock_group(conn, account, &g.folded(), hold)
            .await?
            .map(TargetRow::Group)
            .ok_or(StoreError::NotFound(Entity::Group)),
    }
}

/// The account row, last of a transaction's locks, right before its first
/// write (see the module comment).
async fn lock(conn: &mut PgConnection, account: i64) -> Result<(), StoreError> {
    match lock_account(conn, account).await? {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(Entity::Account)),
    }
}

// ---- lookups (no locks of their own) ----

async fn user_exists<'e>(
    ex: impl PgExecutor<'e>,
    account: i64,
    folded: &str,
) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM users WHERE account_id = $1 AND user_name_folded = $2) AS "e!""#,
        account,
        folded
    )
    .fetch_one(ex)
    .await
    .map_err(db)
}

async fn group_exists<'e>(
    ex: impl PgExecutor<'e>,
    account: i64,
    folded: &str,
) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM groups WHERE account_id = $1 AND group_name_folded = $2) AS "e!""#,
        account,
        folded
    )
    .fetch_one(ex)
    .await
    .map_err(db)
}

async fn policy_exists<'e>(
    ex: impl PgExecutor<'e>,
    account: i64,
    name: &str,
) -> Result<bool, StoreError> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM policies WHERE account_id = $1 AND policy_name = $2) AS "e!""#,
        account,
        name
    )
    .fetch_one(ex)
    .await
    .map_err(db)
}

async fn find_group_seq<'e>(
    ex: impl PgExecutor<'e>,
    account: i64,
    folded: &str,
) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar!(
        "SELECT seq FROM groups WHERE account_id = $1 AND group_name_folded = $2",
        account,
        folded
    )
    .fetch_optional(ex)
    .await
    .map_err(db)
}

/// `NotFound(User)` / `NotFound(Group)` unless the target exists.
async fn require_target<'e>(
    ex: impl PgExecutor<'e>,
    account: i64,
    target: &AttachTarget,
) -> Result<(), StoreError> {
    let (exists, what) = match target {
        AttachTarget::User(u) => (user_exists(ex, account, &u.folded()).await?, Entity::User),
        AttachTarget::Group(g) => (group_exists(ex, account, &g.folded()).await?, Entity::Group),
    };
    if exists {
        Ok(())
    } else {
        Err(StoreError::NotFound(what))
    }
}

/// Why a membership insert under the user's lock wrote nothing. Already a
/// member wins over the limit: a retried add that had succeeded says
/// AlreadyExists.
async fn membership_refused(
    conn: &mut PgConnection,
    user_id: i64,
    group_seq: i64,
) -> Result<StoreError, StoreError> {
    let member = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM group_members WHERE user_id = $1 AND group_seq = $2) AS "e!""#,
        user_id,
        group_seq
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    Ok(if member {
        StoreError::AlreadyExists(Entity::Membership)
    } else {
        StoreError::LimitExceeded(Entity::Membership)
    })
}

/// Why an attachment insert under the target's lock wrote nothing.
/// Already attached wins over the limit, as for memberships.
async fn attachment_refused(
    conn: &mut PgConnection,
    row: TargetRow,
    kind: &str,
    name: &str,
) -> Result<StoreError, StoreError> {
    let attached = match row {
        TargetRow::User(user_id) => {
            sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM policy_attachments
                                  WHERE user_id = $1 AND policy_type = $2 AND policy_name = $3) AS "e!""#,
                user_id,
                kind,
                name
            )
            .fetch_one(&mut *conn)
            .await
        }
        TargetRow::Group(group_seq) => {
            sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM policy_attachments
                                  WHERE group_seq = $1 AND policy_type = $2 AND policy_name = $3) AS "e!""#,
                group_seq,
                kind,
                name
            )
            .fetch_one(&mut *conn)
            .await
        }
    }
    .map_err(db)?;
    Ok(if attached {
        StoreError::AlreadyExists(Entity::Attachment)
    } else {
        StoreError::LimitExceeded(Entity::Attachment)
    })
}

// ---- groups and memberships ----

#[async_trait]
impl GroupStore for PgStore {
    async fn create_group(&self, group: &Group, max_groups: u32) -> Result<(), StoreError> {
        let account = group.account.0 as i64;
        let folded = group.name.folded();
        transaction!(self, |conn| {
            // The account row decides the limit; the insert counts under
            // it. A taken name makes it do nothing (the only unique
            // violation left is a group-id collision), as does a full
            // account; the read below tells them apart, the name first so
            // that a retried create that had succeeded says AlreadyExists.
            lock(conn, account).await?;
            let done = sqlx::query!(
                r#"INSERT INTO groups (account_id, group_id, group_name, group_name_folded, comments,
                                       created_at, updated_at)
                   SELECT $1::bigint, $2::bigint, $3::text, $4::text, $5::text, $6::bigint, $7::bigint
                   WHERE (SELECT COUNT(*) FROM groups WHERE account_id = $1) < $8
                   ON CONFLICT (account_id, group_name_folded) DO NOTHING"#,
                account,
                group.id.0 as i64,
                group.name.as_str(),
                folded,
                group.comments.as_ref().map(|c| c.as_str()),
                ts(group.created_at),
                ts(group.updated_at),
                i64::from(max_groups)
            )
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                classify(
                    e,
                    group_id_collision(),
                    StoreError::NotFound(Entity::Account),
                )
            })?;
            if done.rows_affected() == 1 {
                Ok(())
            } else if group_exists(&mut *conn, account, &folded).await? {
                Err(StoreError::AlreadyExists(Entity::Group))
            } else {
                Err(StoreError::LimitExceeded(Entity::Group))
            }
        })
    }

    async fn group(
        &self,
        account: AccountId,
        name: &GroupName,
    ) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query_as!(
            GroupRow,
            "SELECT seq, account_id, group_id, group_name, comments, created_at, updated_at
             FROM groups WHERE account_id = $1 AND group_name_folded = $2",
            account.0 as i64,
            name.folded()
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(GroupRow::into_group))
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
        transaction!(self, |conn| {
            let row = own_group(conn, account, &folded)
                .await?
                .ok_or(StoreError::NotFound(Entity::Group))?;
            let seq = row.seq;
            let next = patch.apply(&row.into_group(), now);
            // Names are claimed under the account lock, as creates claim
            // them, so a rename never waits for a create that waits for it.
            lock(conn, account).await?;
            sqlx::query!(
                "UPDATE groups SET group_name = $1, group_name_folded = $2, comments = $3, updated_at = $4
                 WHERE seq = $5",
                next.name.as_str(),
                next.name.folded(),
                next.comments.as_ref().map(|c| c.as_str()),
                ts(next.updated_at),
                seq
            )
            .execute(&mut *conn)
            .await
            // The name is the only unique column this statement changes.
            .map_err(|e| {
                classify(
                    e,
                    StoreError::AlreadyExists(Entity::Group),
                    backend("foreign key violation on groups"),
                )
            })?;
            Ok(next)
        })
    }

    async fn delete_group(&self, account: AccountId, name: &GroupName) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let folded = name.folded();
        transaction!(self, |conn| {
            // Held FOR UPDATE: new members and attachments (which hold the
            // group too) wait, so the checks below stay true until commit.
            let seq = own_group(conn, account, &folded)
                .await?
                .ok_or(StoreError::NotFound(Entity::Group))?
                .seq;
            let why = sqlx::query!(
                r#"SELECT EXISTS (SELECT 1 FROM group_members m WHERE m.group_seq = $1) AS "members!",
                          EXISTS (SELECT 1 FROM policy_attachments a WHERE a.group_seq = $1) AS "policies!""#,
                seq
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
            let conflict = |blocker| StoreError::DeleteConflict {
                entity: Entity::Group,
                blocker,
            };
            if why.members {
                Err(conflict(Entity::User))
            } else if why.policies {
                Err(conflict(Entity::Policy))
            } else {
                lock(conn, account).await?;
                sqlx::query!("DELETE FROM groups WHERE seq = $1", seq)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                Ok(())
            }
        })
    }

    async fn list_groups(
        &self,
        account: AccountId,
        after: Option<GroupCursor>,
        limit: u32,
    ) -> Result<GroupPage, StoreError> {
        let after = after.map_or(0, |c| c.0);
        let mut rows = sqlx::query_as!(
            GroupRow,
            "SELECT seq, account_id, group_id, group_name, comments, created_at, updated_at
             FROM groups WHERE account_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            account.0 as i64,
            after,
            i64::from(limit) + 1
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
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
        transaction!(self, |conn| {
            // The group must stay; the user's row decides its limit.
            let group_seq = lock_group(conn, account, &group, Hold::Keep).await?;
            let user_id = lock_user(conn, account, &user, Hold::Decide)
                .await?
                .ok_or(StoreError::NotFound(Entity::User))?;
            let group_seq = group_seq.ok_or(StoreError::NotFound(Entity::Group))?;
            lock(conn, account).await?;
            let done = sqlx::query!(
                "INSERT INTO group_members (group_seq, user_id, joined_at)
                 SELECT $1::bigint, $2::bigint, $3::bigint
                 WHERE (SELECT COUNT(*) FROM group_members WHERE user_id = $2) < $4
                 ON CONFLICT (user_id, group_seq) DO NOTHING",
                group_seq,
                user_id,
                ts(now),
                i64::from(max_per_user)
            )
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(membership_refused(conn, user_id, group_seq).await?)
            }
        })
    }

    async fn remove_user_from_group(
        &self,
        account: AccountId,
        group: &GroupName,
        user: &UserName,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let (group, user) = (group.folded(), user.folded());
        transaction!(self, |conn| {
            // The user is held so that deleting it (whose cascade takes
            // this membership too) waits; the group needs nothing.
            let user_id = lock_user(conn, account, &user, Hold::Keep)
                .await?
                .ok_or(StoreError::NotFound(Entity::User))?;
            let group_seq = find_group_seq(&mut *conn, account, &group)
                .await?
                .ok_or(StoreError::NotFound(Entity::Group))?;
            lock(conn, account).await?;
            let done = sqlx::query!(
                "DELETE FROM group_members WHERE user_id = $1 AND group_seq = $2",
                user_id,
                group_seq
            )
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(StoreError::NotFound(Entity::Membership))
            }
        })
    }

    async fn groups_for_user(
        &self,
        account: AccountId,
        user: &UserName,
    ) -> Result<Vec<GroupMembership>, StoreError> {
        let account = account.0 as i64;
        let folded = user.folded();
        let rows = sqlx::query!(
            "SELECT g.seq, g.account_id, g.group_id, g.group_name, g.comments, g.created_at,
                    g.updated_at, m.joined_at
             FROM users u
             JOIN group_members m ON m.user_id = u.user_id
             JOIN groups g ON g.seq = m.group_seq
             WHERE u.account_id = $1 AND u.user_name_folded = $2
             ORDER BY m.seq",
            account,
            folded
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        if rows.is_empty() && !user_exists(&self.pool, account, &folded).await? {
            return Err(StoreError::NotFound(Entity::User));
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let joined_at = from_ts(r.joined_at);
                GroupMembership {
                    group: group_row!(r).into_group(),
                    joined_at,
                }
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
        // The group's members in joining order from the cursor.
        let mut rows = sqlx::query!(
            "SELECT m.seq AS member_seq, m.joined_at,
                    u.account_id, u.user_id, u.user_name, u.display_name, u.mobile_phone, u.email,
                    u.comments, u.created_at, u.updated_at, u.last_login_at, u.first_name,
                    u.last_name, u.job_title, u.telephone, u.access_role, u.container_id,
                    u.container_assignments, u.user_type, u.saml_sso_only
             FROM groups g
             JOIN group_members m ON m.group_seq = g.seq
             JOIN users u ON u.user_id = m.user_id
             WHERE g.account_id = $1 AND g.group_name_folded = $2 AND m.seq > $3
             ORDER BY m.seq LIMIT $4",
            account,
            folded,
            after,
            i64::from(limit) + 1
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        if rows.is_empty() && !group_exists(&self.pool, account, &folded).await? {
            return Err(StoreError::NotFound(Entity::Group));
        }
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more {
            rows.last().map(|r| GroupCursor(r.member_seq))
        } else {
            None
        };
        let members = rows
            .into_iter()
            .map(|r| {
                let joined_at = from_ts(r.joined_at);
                Ok(Member {
                    user: trustdesk_domain::user_row!(r).into_user()?,
                    joined_at,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(MemberPage { members, next })
    }
}

// ---- policies, versions, attachments ----

#[async_trait]
impl PolicyStore for PgStore {
    async fn create_policy(
        &self,
        policy: &NewPolicy,
        max_policies: u32,
    ) -> Result<ManagedPolicy, StoreError> {
        let account = policy.account.0 as i64;
        let name = policy.name.as_str();
        let description = policy.description.as_ref().map(|d| d.as_str());
        let created = ts(policy.created_at);
        transaction!(self, |conn| {
            // The account row decides the limit (its policy_count, which
            // the triggers move under the same lock). A taken name or a
            // full account make the insert do nothing; the name wins.
            lock(conn, account).await?;
            let seq = sqlx::query_scalar!(
                "INSERT INTO policies (account_id, policy_name, description, default_version,
                                       next_version, created_at, updated_at)
                 SELECT $1::bigint, $2::text, $3::text, 1, 2, $4::bigint, $4::bigint
                 WHERE (SELECT policy_count FROM accounts WHERE id = $1) < $5
                 ON CONFLICT (account_id, policy_name) DO NOTHING
                 RETURNING seq",
                account,
                name,
                description,
                created,
                i64::from(max_policies)
            )
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
            let Some(seq) = seq else {
                return Err(if policy_exists(&mut *conn, account, name).await? {
                    StoreError::AlreadyExists(Entity::Policy)
                } else {
                    StoreError::LimitExceeded(Entity::Policy)
                });
            };
            sqlx::query!(
                "INSERT INTO policy_versions (policy_seq, version, document, created_at)
                 VALUES ($1, 1, $2, $3)",
                seq,
                policy.document,
                created
            )
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            Ok(ManagedPolicy {
                name: policy.name.clone(),
                kind: PolicyType::Custom,
                description: policy.description.clone(),
                default_version: version_id(1),
                attachment_count: 0,
                created_at: from_ts(created),
                updated_at: from_ts(created),
            })
        })
    }

    async fn custom_policy(
        &self,
        account: AccountId,
        name: &PolicyName,
    ) -> Result<Option<ManagedPolicy>, StoreError> {
        let row = sqlx::query_as!(
            PolicyRow,
            r#"SELECT p.policy_name, p.description, p.default_version, p.created_at, p.updated_at,
                      (SELECT COUNT(*) FROM policy_attachments a
                       WHERE a.account_id = p.account_id AND a.policy_type = 'Custom'
                         AND a.policy_name = p.policy_name) AS "attachments!"
               FROM policies p WHERE p.account_id = $1 AND p.policy_name = $2"#,
            account.0 as i64,
            name.as_str()
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(PolicyRow::into_policy))
    }

    async fn custom_policies(&self, account: AccountId) -> Result<Vec<ManagedPolicy>, StoreError> {
        let rows = sqlx::query_as!(
            PolicyRow,
            r#"SELECT p.policy_name, p.description, p.default_version, p.created_at, p.updated_at,
                      (SELECT COUNT(*) FROM policy_attachments a
                       WHERE a.account_id = p.account_id AND a.policy_type = 'Custom'
                         AND a.policy_name = p.policy_name) AS "attachments!"
               FROM policies p WHERE p.account_id = $1
               ORDER BY p.policy_name COLLATE "C""#,
            account.0 as i64
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(PolicyRow::into_policy).collect())
    }

    async fn system_attachment_counts(
        &self,
        account: AccountId,
    ) -> Result<Vec<(PolicyName, u64)>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT policy_name, COUNT(*) AS "n!" FROM policy_attachments
               WHERE account_id = $1 AND policy_type = 'System'
               GROUP BY policy_name ORDER BY policy_name COLLATE "C""#,
            account.0 as i64
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|r| (PolicyName::from_trusted(r.policy_name), r.n.max(0) as u64))
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
        transaction!(self, |conn| {
            let p = lock_policy(conn, account, name.as_str(), Hold::Decide)
                .await?
                .ok_or(StoreError::NotFound(Entity::Policy))?;
            lock(conn, account).await?;
            // The update hands the policy back as stored.
            let row = sqlx::query_as!(
                PolicyRow,
                r#"UPDATE policies SET description = $2, updated_at = $3 WHERE seq = $1
                   RETURNING policy_name, description, default_version, created_at, updated_at,
                             (SELECT COUNT(*) FROM policy_attachments a
                              WHERE a.account_id = policies.account_id AND a.policy_type = 'Custom'
                                AND a.policy_name = policies.policy_name) AS "attachments!""#,
                p.seq,
                description.map(|d| d.as_str()),
                ts(now)
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
            Ok(row.into_policy())
        })
    }

    async fn delete_policy(
        &self,
        account: AccountId,
        name: &PolicyName,
        cascade: bool,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let name = name.as_str();
        transaction!(self, |conn| {
            // Held FOR UPDATE: attaches (which hold the policy too) and
            // version changes wait, so the checks stay true until commit.
            let seq = sqlx::query_scalar!(
                "SELECT seq FROM policies WHERE account_id = $1 AND policy_name = $2 FOR UPDATE",
                account,
                name
            )
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
            .ok_or(StoreError::NotFound(Entity::Policy))?;
            if cascade {
                // The users it is attached to are held before the account,
                // as deleting one of them (whose cascade takes the same
                // attachments) holds it: the lock order.
                sqlx::query_scalar!(
                    "SELECT user_id FROM users WHERE user_id IN
                       (SELECT user_id FROM policy_attachments
                        WHERE account_id = $1 AND policy_type = 'Custom' AND policy_name = $2)
                     ORDER BY user_id FOR KEY SHARE",
                    account,
                    name
                )
                .fetch_all(&mut *conn)
                .await
                .map_err(db)?;
                lock(conn, account).await?;
                // Its versions go by ON DELETE CASCADE.
                sqlx::query!(
                    "DELETE FROM policy_attachments
                     WHERE account_id = $1 AND policy_type = 'Custom' AND policy_name = $2",
                    account,
                    name
                )
                .execute(&mut *conn)
                .await
                .map_err(db)?;
            } else {
                let why = sqlx::query!(
                    r#"SELECT EXISTS (SELECT 1 FROM policy_attachments a
                                      WHERE a.account_id = $1 AND a.policy_type = 'Custom'
                                        AND a.policy_name = $2 AND a.user_id IS NOT NULL) AS "users!",
                              EXISTS (SELECT 1 FROM policy_attachments a
                                      WHERE a.account_id = $1 AND a.policy_type = 'Custom'
                                        AND a.policy_name = $2 AND a.group_seq IS NOT NULL) AS "groups!",
                              EXISTS (SELECT 1 FROM policy_versions v
                                      WHERE v.policy_seq = p.seq AND v.version <> p.default_version) AS "versions!"
                       FROM policies p WHERE p.seq = $3"#,
                    account,
                    name,
                    seq
                )
                .fetch_one(&mut *conn)
                .await
                .map_err(db)?;
                let blocker = if why.users {
                    Some(Entity::User)
                } else if why.groups {
                    Some(Entity::Group)
                } else if why.versions {
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
                lock(conn, account).await?;
            }
            sqlx::query!("DELETE FROM policies WHERE seq = $1", seq)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
            Ok(())
        })
    }

    async fn policy_versions(
        &self,
        account: AccountId,
        name: &PolicyName,
    ) -> Result<Vec<PolicyVersion>, StoreError> {
        let account = account.0 as i64;
        let rows = sqlx::query!(
            "SELECT p.default_version, v.version, v.document, v.created_at
             FROM policies p JOIN policy_versions v ON v.policy_seq = p.seq
             WHERE p.account_id = $1 AND p.policy_name = $2
             ORDER BY v.version",
            account,
            name.as_str()
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        // A policy always has its default version, so no row should mean
        // no policy; the read makes sure.
        if rows.is_empty() && !policy_exists(&self.pool, account, name.as_str()).await? {
            return Err(StoreError::NotFound(Entity::Policy));
        }
        Ok(rows
            .into_iter()
            .map(|r| PolicyVersion {
                id: version_id(r.version),
                is_default: r.version == r.default_version,
                document: r.document,
                created_at: from_ts(r.created_at),
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
        transaction!(self, |conn| {
            // The policy row decides its versions: the count, the number
            // and the default below are all read under it.
            let p = lock_policy(conn, account, name.as_str(), Hold::Decide)
                .await?
                .ok_or(StoreError::NotFound(Entity::Policy))?;
            let count = sqlx::query_scalar!(
                r#"SELECT COUNT(*) AS "n!" FROM policy_versions WHERE policy_seq = $1"#,
                p.seq
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
            let excess = count - i64::from(max_versions) + 1;
            if excess > 0 && rotate == RotateStrategy::None {
                return Err(StoreError::LimitExceeded(Entity::PolicyVersion));
            }
            lock(conn, account).await?;
            if excess > 0 {
                // The oldest versions that are not the default (one, unless
                // the limit went down since they were made). Too few means
                // refusing; the rollback puts them back.
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
                .map_err(db)?;
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
            .map_err(db)?;
            let default = if set_default {
                version
            } else {
                p.default_version
            };
            sqlx::query!(
                "UPDATE policies SET next_version = $2, default_version = $3, updated_at = $4
                 WHERE seq = $1",
                p.seq,
                version + 1,
                default,
                created
            )
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            Ok(PolicyVersion {
                id: version_id(version),
                is_default: set_default,
                document: document.to_owned(),
                created_at: from_ts(created),
            })
        })
    }

    async fn set_default_policy_version(
        &self,
        account: AccountId,
        name: &PolicyName,
        version: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        // An id that cannot be ours names no version (0 never exists).
        let version = version_number(version).unwrap_or(0);
        transaction!(self, |conn| {
            // Held, so the version cannot go before the default points at
            // it (deleting a version holds the policy too).
            let p = lock_policy(conn, account, name.as_str(), Hold::Decide)
                .await?
                .ok_or(StoreError::NotFound(Entity::Policy))?;
            let exists = sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM policy_versions WHERE policy_seq = $1 AND version = $2) AS "e!""#,
                p.seq,
                version
            )
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
            if !exists {
                return Err(StoreError::NotFound(Entity::PolicyVersion));
            }
            lock(conn, account).await?;
            sqlx::query!(
                "UPDATE policies SET default_version = $2, updated_at = $3 WHERE seq = $1",
                p.seq,
                version,
                ts(now)
            )
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            Ok(())
        })
    }

    async fn delete_policy_version(
        &self,
        account: AccountId,
        name: &PolicyName,
        version: &str,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let version = version_number(version).unwrap_or(0);
        transaction!(self, |conn| {
            // Held, so the default cannot move to this version meanwhile.
            let p = lock_policy(conn, account, name.as_str(), Hold::Decide)
                .await?
                .ok_or(StoreError::NotFound(Entity::Policy))?;
            if p.default_version == version {
                return Err(StoreError::DeleteConflict {
                    entity: Entity::PolicyVersion,
                    blocker: Entity::Policy,
                });
            }
            lock(conn, account).await?;
            let done = sqlx::query!(
                "DELETE FROM policy_versions WHERE policy_seq = $1 AND version = $2",
                p.seq,
                version
            )
            .execute(&mut *conn)
            .await
            .map_err(db)?;
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(StoreError::NotFound(Entity::PolicyVersion))
            }
        })
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
        let (kind_s, name_s) = (kind.as_str(), name.as_str());
        let (at, max) = (ts(now), i64::from(max));
        transaction!(self, |conn| {
            // A custom policy must stay until the attachment is in (its
            // delete holds it FOR UPDATE); system names are the caller's.
            let policy = match kind {
                PolicyType::Custom => lock_policy(conn, account, name_s, Hold::Keep)
                    .await?
                    .map(|_| ()),
                PolicyType::System => Some(()),
            };
            // The target's row decides its limit.
            let row = lock_target(conn, account, target, Hold::Decide).await?;
            if policy.is_none() {
                return Err(StoreError::NotFound(Entity::Policy));
            }
            lock(conn, account).await?;
            let done = match row {
                TargetRow::User(user_id) => {
                    sqlx::query!(
                    "INSERT INTO policy_attachments (account_id, policy_type, policy_name, user_id,
                                                         group_seq, attached_at)
                         SELECT $1::bigint, $2::text, $3::text, $4::bigint, NULL, $5::bigint
                         WHERE (SELECT COUNT(*) FROM policy_attachments
                                WHERE user_id = $4 AND policy_type = $2) < $6
                         ON CONFLICT (user_id, policy_type, policy_name) DO NOTHING",
                    account,
                    kind_s,
                    name_s,
                    user_id,
                    at,
                    max
                )
                    .execute(&mut *conn)
                    .await
                }
                TargetRow::Group(group_seq) => {
                    sqlx::query!(
                    "INSERT INTO policy_attachments (account_id, policy_type, policy_name, user_id,
                                                         group_seq, attached_at)
                         SELECT $1::bigint, $2::text, $3::text, NULL, $4::bigint, $5::bigint
                         WHERE (SELECT COUNT(*) FROM policy_attachments
                                WHERE group_seq = $4 AND policy_type = $2) < $6
                         ON CONFLICT (group_seq, policy_type, policy_name) DO NOTHING",
                    account,
                    kind_s,
                    name_s,
                    group_seq,
                    at,
                    max
                )
                    .execute(&mut *conn)
                    .await
                }
            }
            .map_err(db)?;
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(attachment_refused(conn, row, kind_s, name_s).await?)
            }
        })
    }

    async fn detach_policy(
        &self,
        account: AccountId,
        kind: PolicyType,
        name: &PolicyName,
        target: &AttachTarget,
    ) -> Result<(), StoreError> {
        let account = account.0 as i64;
        let (kind_s, name_s) = (kind.as_str(), name.as_str());
        transaction!(self, |conn| {
            // The target is held so that deleting it (whose cascade takes
            // this attachment too) waits.
            let row = lock_target(conn, account, target, Hold::Keep).await?;
            lock(conn, account).await?;
            let done = match row {
                TargetRow::User(user_id) => {
                    sqlx::query!(
                        "DELETE FROM policy_attachments
                         WHERE user_id = $1 AND policy_type = $2 AND policy_name = $3",
                        user_id,
                        kind_s,
                        name_s
                    )
                    .execute(&mut *conn)
                    .await
                }
                TargetRow::Group(group_seq) => {
                    sqlx::query!(
                        "DELETE FROM policy_attachments
                         WHERE group_seq = $1 AND policy_type = $2 AND policy_name = $3",
                        group_seq,
                        kind_s,
                        name_s
                    )
                    .execute(&mut *conn)
                    .await
                }
            }
            .map_err(db)?;
            if done.rows_affected() == 1 {
                Ok(())
            } else {
                Err(StoreError::NotFound(Entity::Attachment))
            }
        })
    }

    async fn policies_for(
        &self,
        account: AccountId,
        target: &AttachTarget,
    ) -> Result<Vec<Attachment>, StoreError> {
        let account = account.0 as i64;
        let rows: Vec<(String, String, i64)> = match target {
            AttachTarget::User(u) => sqlx::query!(
                "SELECT a.policy_type, a.policy_name, a.attached_at
                 FROM users u JOIN policy_attachments a ON a.user_id = u.user_id
                 WHERE u.account_id = $1 AND u.user_name_folded = $2
                 ORDER BY a.seq",
                account,
                u.folded()
            )
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .into_iter()
            .map(|r| (r.policy_type, r.policy_name, r.attached_at))
            .collect(),
            AttachTarget::Group(g) => sqlx::query!(
                "SELECT a.policy_type, a.policy_name, a.attached_at
                 FROM groups g JOIN policy_attachments a ON a.group_seq = g.seq
                 WHERE g.account_id = $1 AND g.group_name_folded = $2
                 ORDER BY a.seq",
                account,
                g.folded()
            )
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .into_iter()
            .map(|r| (r.policy_type, r.policy_name, r.attached_at))
            .collect(),
        };
        if rows.is_empty() {
            require_target(&self.pool, account, target).await?;
        }
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
        let users = sqlx::query!(
            "SELECT a.attached_at,
                    u.account_id, u.user_id, u.user_name, u.display_name, u.mobile_phone, u.email,
                    u.comments, u.created_at, u.updated_at, u.last_login_at, u.first_name,
                    u.last_name, u.job_title, u.telephone, u.access_role, u.container_id,
                    u.container_assignments, u.user_type, u.saml_sso_only
             FROM policy_attachments a JOIN users u ON u.user_id = a.user_id
             WHERE a.account_id = $1 AND a.policy_type = $2 AND a.policy_name = $3
             ORDER BY a.seq",
            account,
            kind.as_str(),
            name.as_str()
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let groups = sqlx::query!(
            "SELECT a.attached_at,
                    g.seq, g.account_id, g.group_id, g.group_name, g.comments, g.created_at,
                    g.updated_at
             FROM policy_attachments a JOIN groups g ON g.seq = a.group_seq
             WHERE a.account_id = $1 AND a.policy_type = $2 AND a.policy_name = $3
             ORDER BY a.seq",
            account,
            kind.as_str(),
            name.as_str()
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(PolicyEntities {
            users: users
                .into_iter()
                .map(|r| {
                    let at = from_ts(r.attached_at);
                    Ok((trustdesk_domain::user_row!(r).into_user()?, at))
                })
                .collect::<Result<_, StoreError>>()?,
            groups: groups
                .into_iter()
                .map(|r| {
                    let at = from_ts(r.attached_at);
                    (group_row!(r).into_group(), at)
                })
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
        // One statement: the user's own attachments and its groups', each
        // (type, name) once, custom ones with the default version's
        // document. The user must be the account's.
        let rows = sqlx::query!(
            r#"WITH me (user_id) AS (SELECT user_id FROM users WHERE user_id = $2 AND account_id = $1),
               attached (policy_type, policy_name) AS (
                 SELECT a.policy_type, a.policy_name
                 FROM me JOIN policy_attachments a ON a.user_id = me.user_id
                 UNION
                 SELECT a.policy_type, a.policy_name
                 FROM me JOIN group_members m ON m.user_id = me.user_id
                         JOIN policy_attachments a ON a.group_seq = m.group_seq)
               SELECT t.policy_type AS "policy_type!", t.policy_name AS "policy_name!",
                      v.document AS "document?"
               FROM attached t
               LEFT JOIN policies p
                 ON t.policy_type = 'Custom' AND p.account_id = $1 AND p.policy_name = t.policy_name
               LEFT JOIN policy_versions v ON v.policy_seq = p.seq AND v.version = p.default_version
               ORDER BY t.policy_type COLLATE "C", t.policy_name COLLATE "C""#,
            account,
            user
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|r| {
                Ok(EffectivePolicy {
                    kind: policy_type(&r.policy_type)?,
                    name: PolicyName::from_trusted(r.policy_name),
                    document: r.document,
                })
            })
            .collect()
    }

    async fn policy_epoch(&self, account: AccountId) -> Result<u64, StoreError> {
        let epoch = sqlx::query_scalar!(
            "SELECT policy_epoch FROM accounts WHERE id = $1",
            account.0 as i64
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(epoch.unwrap_or(0).max(0) as u64)
    }
}
