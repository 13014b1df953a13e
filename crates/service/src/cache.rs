//! The two small in-memory structures the use cases share: a map whose
//! entries expire (decrypted credentials, API-key callers, containers,
//! policy epochs), and a log of when credentials were last used, flushed
//! to the store in batches.
//!
//! Credentials, callers and container lists are also tagged with the
//! account's `policy_epoch` they were loaded under and used only while it
//! is still current (`Service::account_epoch`, in `iam`); their TTL is
//! only a backstop.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, RwLock};

use time::{Duration, OffsetDateTime};

/// Values with the time they were loaded; older than the caller's `ttl`
/// counts as absent. Lock poisoning is ignored: the map holds no invariant
/// a panicking writer could break.
pub(crate) struct TtlMap<K, V> {
    map: RwLock<HashMap<K, (V, OffsetDateTime)>>,
}

impl<K, V> Default for TtlMap<K, V> {
    fn default() -> Self {
        Self {
            map: RwLock::default(),
        }
    }
}

impl<K: Eq + Hash, V: Clone> TtlMap<K, V> {
    pub(crate) fn get(&self, key: &K, now: OffsetDateTime, ttl: Duration) -> Option<V> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .filter(|(_, at)| now - *at < ttl)
            .map(|(v, _)| v.clone())
    }

    /// The value whatever its age, and whether it is younger than `ttl`
    /// (an expired entry still tells, say, which account it belongs to).
    pub(crate) fn lookup(&self, key: &K, now: OffsetDateTime, ttl: Duration) -> Option<(V, bool)> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .map(|(v, at)| (v.clone(), now - *at < ttl))
    }

    pub(crate) fn insert(&self, key: K, value: V, now: OffsetDateTime) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (value, now));
    }

    pub(crate) fn remove(&self, key: &K) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    pub(crate) fn clear(&self) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// When credentials were last used and the store does not know yet.
pub(crate) struct UsageLog<K> {
    pending: Mutex<HashMap<K, OffsetDateTime>>,
}

impl<K> Default for UsageLog<K> {
    fn default() -> Self {
        Self {
            pending: Mutex::default(),
        }
    }
}

impl<K: Eq + Hash + Clone> UsageLog<K> {
    pub(crate) fn touch(&self, key: K, now: OffsetDateTime) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, now);
    }

    /// Everything pending, for a flush.
    pub(crate) fn take(&self) -> Vec<(K, OffsetDateTime)> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect()
    }

    /// Puts back what a failed flush took, without overwriting a use
    /// noted meanwhile.
    pub(crate) fn restore(&self, taken: Vec<(K, OffsetDateTime)>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        for (k, t) in taken {
            pending.entry(k).or_insert(t);
        }
    }

    /// The later of a pending use and what the store has.
    pub(crate) fn latest(&self, key: &K, stored: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied();
        match (pending, stored) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn entries_expire_and_usage_keeps_the_latest() {
        let t = datetime!(2026-01-01 00:00:00 UTC);
        let m = TtlMap::default();
        m.insert(1, "a", t);
        assert_eq!(
            m.get(&1, t + Duration::seconds(4), Duration::seconds(5)),
            Some("a")
        );
        assert_eq!(
            m.get(&1, t + Duration::seconds(5), Duration::seconds(5)),
            None
        );
        assert_eq!(
            m.lookup(&1, t + Duration::seconds(5), Duration::seconds(5)),
            Some(("a", false)),
            "an expired entry is still there to look at"
        );
        assert_eq!(m.lookup(&1, t, Duration::seconds(5)), Some(("a", true)));
        m.remove(&1);
        assert_eq!(m.get(&1, t, Duration::seconds(5)), None);
        assert_eq!(m.lookup(&1, t, Duration::seconds(5)), None);

        let log = UsageLog::default();
        log.touch("k", t);
        assert_eq!(log.latest(&"k", Some(t - Duration::hours(1))), Some(t));
        assert_eq!(
            log.latest(&"k", Some(t + Duration::hours(1))),
            Some(t + Duration::hours(1))
        );
        let taken = log.take();
        assert_eq!(log.latest(&"k", None), None);
        log.touch("k", t + Duration::seconds(1));
        log.restore(taken);
        assert_eq!(
            log.latest(&"k", None),
            Some(t + Duration::seconds(1)),
            "a newer use wins"
        );
    }
}
