//! Time is an input. Signature windows, nonce expiry and record timestamps all
//! read "now" from a [`Clock`] so tests can pin it; the wall clock is read in
//! exactly one place (clippy's `disallowed-methods` enforces this).

use time::OffsetDateTime;

/// Source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned wall-clock read
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}
