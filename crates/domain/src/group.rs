//! RAM groups: named sets of users whose attached policies count for every
//! member (reference aliyun-rpc.md §e.11).

use time::OffsetDateTime;

use crate::ids::{AccountId, GroupId};
use crate::user::User;
use crate::validate::{Comments, GroupName};

/// A group as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub account: AccountId,
    pub name: GroupName,
    pub comments: Option<Comments>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A change to a group (outer `None`: leave it; `Some(None)` clears).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPatch {
    pub name: Option<GroupName>,
    pub comments: Option<Option<Comments>>,
}

impl GroupPatch {
    /// Applies the patch to a copy of `group`, stamping `updated_at`.
    pub fn apply(&self, group: &Group, now: OffsetDateTime) -> Group {
        let mut out = group.clone();
        if let Some(n) = &self.name {
            out.name = n.clone();
        }
        if let Some(c) = &self.comments {
            out.comments = c.clone();
        }
        out.updated_at = now;
        out
    }
}

/// A position in a group list (creation order); opaque to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupCursor(pub i64);

/// One page of groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPage {
    pub groups: Vec<Group>,
    pub next: Option<GroupCursor>,
}

/// A group a user belongs to, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMembership {
    pub group: Group,
    pub joined_at: OffsetDateTime,
}

/// A member of a group, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub joined_at: OffsetDateTime,
}

/// One page of a group's members (in joining order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPage {
    pub members: Vec<Member>,
    pub next: Option<GroupCursor>,
}
