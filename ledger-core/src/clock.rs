//! Time, injectable so tests can move it (hold expiry).

use std::sync::Mutex;

use chrono::{DateTime, SubsecRound, Utc};

/// A source of the current instant. Instants are truncated to microseconds,
/// the precision every backend stores, so what is read back equals what was
/// written (and audit hashes recompute).
pub trait Clock: Send + Sync + 'static {
    /// The current instant, at microsecond precision.
    fn now(&self) -> DateTime<Utc>;
}

/// The earliest instant the ledger takes from outside (a filter's bound, a
/// requested moment): 0001-01-01T00:00:00Z.
pub fn instant_min() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(-62_135_596_800, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The latest instant the ledger takes from outside: 9999-12-31T23:59:59.999999Z.
pub fn instant_max() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(253_402_300_799, 999_999_000).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether every backend stores and compares `at` exactly: years 1 to 9999,
/// the years an RFC 3339 timestamp writes with four digits. Outside them
/// SQLite's microseconds since 1970 or PostgreSQL's `timestamptz` run out
/// before chrono's range does.
pub fn is_storable_instant(at: DateTime<Utc>) -> bool {
    (instant_min()..=instant_max()).contains(&at)
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(start.trunc_subsecs(6)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now = (*now + by).trunc_subsecs(6);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod range_tests {
    use super::*;

    #[test]
    fn the_storable_range_is_years_1_to_9999() {
        assert_eq!(instant_min().to_rfc3339(), "0001-01-01T00:00:00+00:00");
        assert_eq!(instant_max().to_rfc3339(), "9999-12-31T23:59:59.999999+00:00");
        assert!(is_storable_instant(Utc::now()));
        assert!(!is_storable_instant(DateTime::<Utc>::MAX_UTC));
        assert!(!is_storable_instant(DateTime::<Utc>::MIN_UTC));
    }
}
