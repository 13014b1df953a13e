//! The user aggregate: one canonical record per identity, whatever face
//! created it.

use time::OffsetDateTime;

use crate::certcentral::{Profile, ProfilePatch};
use crate::ids::{AccountId, UserId};
use crate::validate::{Comments, DisplayName, Email, MobilePhone, UserName};

/// A RAM user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub account: AccountId,
    pub name: UserName,
    pub display_name: Option<DisplayName>,
    pub mobile_phone: Option<MobilePhone>,
    pub email: Option<Email>,
    pub comments: Option<Comments>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub last_login_at: Option<OffsetDateTime>,
    /// The CertCentral attributes of the same identity.
    pub profile: Profile,
}

impl User {
    /// RAM's `DisplayName`: as set through RAM, else `"<first> <last>"`
    /// from CertCentral, else absent.
    pub fn ram_display_name(&self) -> Option<String> {
        if let Some(d) = &self.display_name {
            return Some(d.as_str().to_owned());
        }
        match (&self.profile.first_name, &self.profile.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        }
    }

    /// CertCentral's `first_name`: as set there, else RAM's DisplayName,
    /// else the user name (a RAM-created user).
    pub fn first_name(&self) -> &str {
        self.profile
            .first_name
            .as_deref()
            .or(self.display_name.as_ref().map(|d| d.as_str()))
            .unwrap_or(self.name.as_str())
    }

    /// CertCentral's `last_name`: as set there, else the user name.
    pub fn last_name(&self) -> &str {
        self.profile
            .last_name
            .as_deref()
            .unwrap_or(self.name.as_str())
    }
}

/// What a caller supplies to create a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub name: UserName,
    pub display_name: Option<DisplayName>,
    pub mobile_phone: Option<MobilePhone>,
    pub email: Option<Email>,
    pub comments: Option<Comments>,
}

/// A change to a user. Outer `None` leaves a field alone; for the optional
/// attributes `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub name: Option<UserName>,
    pub display_name: Option<DisplayName>,
    pub mobile_phone: Option<Option<MobilePhone>>,
    pub email: Option<Option<Email>>,
    pub comments: Option<Option<Comments>>,
    /// CertCentral attributes.
    pub profile: ProfilePatch,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Applies the patch to a copy of `user`, stamping `updated_at`.
    pub fn apply(&self, user: &User, now: OffsetDateTime) -> User {
        let mut out = user.clone();
        if let Some(n) = &self.name {
            out.name = n.clone();
        }
        if let Some(d) = &self.display_name {
            out.display_name = Some(d.clone());
        }
        if let Some(p) = &self.mobile_phone {
            out.mobile_phone = p.clone();
        }
        if let Some(e) = &self.email {
            out.email = e.clone();
        }
        if let Some(c) = &self.comments {
            out.comments = c.clone();
        }
        self.profile.apply(&mut out.profile);
        out.updated_at = now;
        out
    }
}
