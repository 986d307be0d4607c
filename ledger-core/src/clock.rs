//! Time, injectable so tests can move it (hold expiry).

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SubsecRound, Utc};

/// A source of the current instant. Instants are truncated to microseconds,
/// the precision every backend stores, so what is read back equals what was
/// written (and audit hashes recompute).
pub trait Clock: Send + Sync + 'static {
    /// The current instant, at microsecond precision.
    fn now(&self) -> DateTime<Utc>;

    /// Whether `at` is later than [`Clock::now`].
    fn is_future(&self, at: DateTime<Utc>) -> bool {
        at > self.now()
    }
}

/// The earliest instant the ledger takes from outside (a filter's bound, a
/// requested moment): 0001-01-01T00:00:00Z.
pub fn instant_min() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(INSTANT_MIN_SECONDS, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// [`instant_min`] in seconds since 1970.
const INSTANT_MIN_SECONDS: i64 = -62_135_596_800;
/// [`instant_max`]'s whole seconds since 1970, and its nanoseconds.
const INSTANT_MAX_SECONDS: (i64, u32) = (253_402_300_799, 999_999_000);

/// The latest instant the ledger takes from outside: 9999-12-31T23:59:59.999999Z.
pub fn instant_max() -> DateTime<Utc> {
    let (seconds, nanos) = INSTANT_MAX_SECONDS;
    DateTime::<Utc>::from_timestamp(seconds, nanos).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Whether every backend stores and compares `at` exactly: years 1 to 9999,
/// the years an RFC 3339 timestamp writes with four digits. Outside them
/// SQLite's microseconds since 1970 or PostgreSQL's `timestamptz` run out
/// before chrono's range does.
pub fn is_storable_instant(at: DateTime<Utc>) -> bool {
    // Compared as seconds since 1970: building the bounds' calendar dates
    // on every call cost more than the rest of a balance read as of an instant.
    let since_epoch = (at.timestamp(), at.timestamp_subsec_nanos());
    (INSTANT_MIN_SECONDS, 0) <= since_epoch && since_epoch <= INSTANT_MAX_SECONDS
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        // Truncated on the way in: `Utc::now().trunc_subsecs(6)` converts
        // to a calendar date twice, a quarter of a memory-store balance
        // read as of an instant (which asks the clock whether it is future).
        present_since_epoch()
            .and_then(|(seconds, nanos)| DateTime::from_timestamp(seconds, nanos))
            .unwrap_or_else(|| Utc::now().trunc_subsecs(6))
    }

    fn is_future(&self, at: DateTime<Utc>) -> bool {
        // An instant at or before a present already seen is past, whatever
        // the clock says later: no clock read (a balance as of a past
        // instant spent a seventh of its time reading the clock).
        let at_nanos = at.timestamp_nanos_opt();
        if at_nanos.is_some_and(|at| at <= LATEST_PRESENT_NANOS.load(Ordering::Relaxed)) {
            return false;
        }
        // `at > self.now()`, compared as seconds and nanoseconds since 1970
        // without building the present's calendar date.
        match present_since_epoch() {
            Some(now) => {
                if let Some(nanos) = now.0.checked_mul(NANOS_PER_SECOND).and_then(|n| n.checked_add(i64::from(now.1))) {
                    LATEST_PRESENT_NANOS.fetch_max(nanos, Ordering::Relaxed);
                }
                (at.timestamp(), at.timestamp_subsec_nanos()) > now
            }
            None => at > self.now(),
        }
    }
}

/// The latest present [`SystemClock::is_future`] has read, in nanoseconds
/// since 1970 (0 before the first read): a high-water mark, so a clock
/// stepped back does not make a past instant future again.
static LATEST_PRESENT_NANOS: AtomicI64 = AtomicI64::new(0);

/// Nanoseconds in a second.
const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// The system's present as whole seconds since 1970 and nanoseconds
/// truncated to whole microseconds; `None` before 1970 (a clock set wrong,
/// left to chrono) or past `i64` seconds.
fn present_since_epoch() -> Option<(i64, u32)> {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?;
    Some((i64::try_from(since_epoch.as_secs()).ok()?, since_epoch.subsec_micros() * 1_000))
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
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_storable_range_is_years_1_to_9999() {
        assert_eq!(instant_min().to_rfc3339(), "0001-01-01T00:00:00+00:00");
        assert_eq!(instant_max().to_rfc3339(), "9999-12-31T23:59:59.999999+00:00");
        assert!(is_storable_instant(Utc::now()));
        assert!(!is_storable_instant(DateTime::<Utc>::MAX_UTC));
        assert!(!is_storable_instant(DateTime::<Utc>::MIN_UTC));
        let nano = chrono::Duration::nanoseconds(1);
        for edge in [instant_min(), instant_max()] {
            assert!(is_storable_instant(edge), "{edge} is storable");
        }
        assert!(!is_storable_instant(instant_min() - nano), "just before the year 1");
        assert!(!is_storable_instant(instant_max() + nano), "just after the last microsecond of 9999");
    }

    #[test]
    fn the_system_clock_reads_whole_microseconds_of_the_present() {
        let before = Utc::now().trunc_subsecs(6);
        let now = SystemClock.now();
        let after = Utc::now();
        assert_eq!(now.timestamp_subsec_nanos() % 1_000, 0, "whole microseconds");
        assert!(before <= now && now <= after, "{before} <= {now} <= {after}");
    }

    #[test]
    fn the_system_clock_calls_future_only_what_is_after_its_present() {
        let clock = SystemClock;
        let now = clock.now();
        let micro = chrono::Duration::microseconds(1);
        for past in [now - micro, now - chrono::Duration::nanoseconds(1), instant_min(), DateTime::<Utc>::MIN_UTC] {
            assert!(!clock.is_future(past), "{past} is not future");
        }
        let later = now + chrono::Duration::seconds(5);
        for future in [later, later + chrono::Duration::nanoseconds(1), instant_max(), DateTime::<Utc>::MAX_UTC] {
            assert!(clock.is_future(future), "{future} is future");
        }
        assert!(!clock.is_future(now), "the present read a moment ago is not future");
    }

    #[test]
    fn the_latest_present_seen_answers_for_the_past_and_only_the_past() {
        let clock = SystemClock;
        let seen = clock.now();
        assert!(!clock.is_future(seen));
        let latest = LATEST_PRESENT_NANOS.load(Ordering::Relaxed);
        assert!(latest >= seen.timestamp_nanos_opt().unwrap(), "a present read is kept as the mark");
        let mark = DateTime::from_timestamp_nanos(latest);
        assert!(!clock.is_future(mark), "the mark itself is past");
        assert!(clock.is_future(mark + chrono::Duration::seconds(60)), "beyond the mark the clock decides");
        assert!(
            LATEST_PRESENT_NANOS.load(Ordering::Relaxed)
                < (mark + chrono::Duration::seconds(60)).timestamp_nanos_opt().unwrap()
        );
    }
}
