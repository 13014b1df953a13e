//! A read-through cache of users by name.
//!
//! Why: `GetUser` and the principal lookups are the hot reads, and every
//! sqlx-sqlite query costs two cross-thread hops plus, because nonces are
//! written on every request, a re-read of pages the last commit touched.
//! Serving users from memory removes both.
//!
//! Why it is coherent: this store is embedded, so every write to `users`
//! goes through this process. Writers invalidate the name(s) they touched
//! after their commit and before their caller is answered, on the writer
//! task (so a caller that went away cannot skip it), and bump a
//! generation counter; a reader fills the cache only if no invalidation
//! happened since it started its database read, so a stale row read before
//! a commit can never be inserted after it. Negative results are not cached.
//! The cache holds at most `CAPACITY` users and is emptied when full
//! (simple, bounded, and the hot set refills at once).

use std::collections::HashMap;
use std::sync::Mutex;

use trustdesk_domain::User;

const CAPACITY: usize = 10_000;

#[derive(Default)]
pub(crate) struct UserCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_name: HashMap<(i64, String), User>,
    generation: u64,
}

impl UserCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached user, or the generation to pass to [`fill`](Self::fill)
    /// after reading the database.
    pub(crate) fn get(&self, account: i64, folded: &str) -> Result<User, u64> {
        let inner = self.lock();
        match inner.by_name.get(&(account, folded.to_owned())) {
            Some(u) => Ok(u.clone()),
            None => Err(inner.generation),
        }
    }

    pub(crate) fn fill(&self, generation: u64, account: i64, folded: String, user: &User) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.by_name.len() >= CAPACITY {
            inner.by_name.clear();
        }
        inner.by_name.insert((account, folded), user.clone());
    }

    pub(crate) fn invalidate(&self, account: i64, folded: &[&str]) {
        let mut inner = self.lock();
        for name in folded {
            inner.by_name.remove(&(account, (*name).to_owned()));
        }
        inner.generation += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use trustdesk_domain::{AccountId, ContainerId, Profile, UserId, UserName};

    fn user(name: &str) -> User {
        User {
            id: UserId(1),
            account: AccountId(1),
            name: UserName::parse(name).unwrap(),
            display_name: None,
            mobile_phone: None,
            email: None,
            comments: None,
            created_at: datetime!(2026-01-01 0:00 UTC),
            updated_at: datetime!(2026-01-01 0:00 UTC),
            last_login_at: None,
            profile: Profile::for_ram_user(ContainerId(1)),
        }
    }

    #[test]
    fn a_fill_that_raced_an_invalidation_is_dropped() {
        let c = UserCache::default();
        let generation = c.get(1, "a").unwrap_err();
        c.invalidate(1, &["a"]); // a write committed while the reader was reading
        c.fill(generation, 1, "a".into(), &user("a"));
        assert!(c.get(1, "a").is_err());
        let generation = c.get(1, "a").unwrap_err();
        c.fill(generation, 1, "a".into(), &user("a"));
        assert_eq!(c.get(1, "a").unwrap().name.as_str(), "a");
        c.invalidate(1, &["a"]);
        assert!(c.get(1, "a").is_err());
    }
}
