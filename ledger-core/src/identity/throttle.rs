//! Login throttling: after repeated failures for one email or from one client
//! address, further attempts are refused until the window has passed.
//!
//! An attempt is counted *before* its password is verified
//! ([`LoginThrottle::reserve`]): checking and counting happen under one lock,
//! so N concurrent guesses cannot all pass the check while the slow hash of
//! the first is still running. A successful attempt gives its reservation
//! back ([`LoginThrottle::release`], or [`LoginThrottle::clear`] for the
//! email it proved).
//!
//! Counts live in the process (a bounded map), so with several service
//! instances an attacker's budget is per instance; each instance still caps
//! it. Successful logins clear the email's count.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// How many keys the throttle tracks before it forgets the stalest.
pub const THROTTLE_KEYS_MAX: usize = 100_000;

/// Limits for one kind of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimit {
    /// Failures allowed within the window.
    pub failures_max: usize,
    /// The window, in seconds.
    pub window_secs: i64,
}

/// Limits per email and per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Per normalised email.
    pub per_email: ThrottleLimit,
    /// Per client IP address (looser: offices share addresses).
    pub per_client: ThrottleLimit,
}

impl Default for ThrottlePolicy {
    /// 5 failures per email or 20 per address in 15 minutes.
    fn default() -> Self {
        ThrottlePolicy {
            per_email: ThrottleLimit { failures_max: 5, window_secs: 15 * 60 },
            per_client: ThrottleLimit { failures_max: 20, window_secs: 15 * 60 },
        }
    }
}

/// Recent failures per key.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<Failures>,
}

impl LoginThrottle {
    /// An empty throttle.
    pub fn new() -> LoginThrottle {
        LoginThrottle::default()
    }

    /// Seconds to wait before `key` may try again, if it is locked.
    pub fn retry_after(&self, key: &str, limit: ThrottleLimit, now: DateTime<Utc>) -> Option<i64> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        locked_for(&map, key, limit, now)
    }

    /// Counts an attempt for every key at once, unless one of them is
    /// locked: then nothing is counted and the longest wait is returned.
    pub fn reserve(&self, keys: &[(&str, ThrottleLimit)], now: DateTime<Utc>) -> Result<(), i64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(wait) = keys.iter().filter_map(|(key, limit)| locked_for(&map, key, *limit, now)).max() {
            return Err(wait);
        }
        for (key, limit) in keys {
            count(&mut map, key, *limit, now);
        }
        Ok(())
    }

    /// Counts a failure for `key`.
    pub fn record_failure(&self, key: &str, limit: ThrottleLimit, now: DateTime<Utc>) {
        count(&mut self.failures.lock().unwrap_or_else(|p| p.into_inner()), key, limit, now);
    }

    /// Gives back an attempt reserved at `at` (it succeeded).
    pub fn release(&self, key: &str, at: DateTime<Utc>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(times) = map.get_mut(key)
            && let Some(i) = times.iter().rposition(|t| *t == at)
        {
            times.remove(i);
        }
    }

    /// Forgets `key`'s failures (after a successful login).
    pub fn clear(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

type Failures = HashMap<String, VecDeque<DateTime<Utc>>>;

/// Seconds `key` must wait, if it has used up its attempts in the window.
fn locked_for(map: &Failures, key: &str, limit: ThrottleLimit, now: DateTime<Utc>) -> Option<i64> {
    let recent = map.get(key)?;
    let window = Duration::seconds(limit.window_secs);
    let live: Vec<&DateTime<Utc>> = recent.iter().filter(|t| now - **t < window).collect();
    if live.len() < limit.failures_max {
        return None;
    }
    // Locked until the oldest attempt that still counts leaves the window.
    let oldest = live[live.len() - limit.failures_max];
    Some(((*oldest + window) - now).num_seconds().max(1))
}

/// Counts an attempt at `now`, forgetting the stalest key when full.
fn count(map: &mut Failures, key: &str, limit: ThrottleLimit, now: DateTime<Utc>) {
    if map.len() >= THROTTLE_KEYS_MAX && !map.contains_key(key) {
        let window = Duration::seconds(limit.window_secs);
        map.retain(|_, times| times.back().is_some_and(|t| now - *t < window));
        if map.len() >= THROTTLE_KEYS_MAX
            && let Some(stalest) = map.iter().min_by_key(|(_, t)| t.back().copied()).map(|(k, _)| k.clone())
        {
            map.remove(&stalest);
        }
    }
    let times = map.entry(key.to_owned()).or_default();
    times.push_back(now);
    while times.len() > limit.failures_max {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_until_the_window_passes() {
        let t = LoginThrottle::new();
        let limit = ThrottleLimit { failures_max: 3, window_secs: 60 };
        let start = Utc::now();
        for i in 0..3 {
            assert_eq!(t.retry_after("k", limit, start), None, "attempt {i}");
            t.record_failure("k", limit, start + Duration::seconds(i));
        }
        assert_eq!(t.retry_after("k", limit, start + Duration::seconds(10)), Some(50));
        assert_eq!(t.retry_after("other", limit, start), None);
        assert_eq!(t.retry_after("k", limit, start + Duration::seconds(61)), None);
        t.record_failure("k", limit, start + Duration::seconds(70));
        t.clear("k");
        assert_eq!(t.retry_after("k", limit, start + Duration::seconds(71)), None);
    }

    #[test]
    fn concurrent_reservations_pass_at_most_the_limit() {
        let t = std::sync::Arc::new(LoginThrottle::new());
        let limit = ThrottleLimit { failures_max: 5, window_secs: 900 };
        let now = Utc::now();
        let passed: usize = (0..60)
            .map(|_| {
                let t = t.clone();
                std::thread::spawn(move || t.reserve(&[("email:x", limit)], now).is_ok())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| usize::from(h.join().unwrap_or(false)))
            .sum();
        assert_eq!(passed, 5);
    }

    #[test]
    fn a_locked_key_counts_nothing_for_the_others_and_a_release_gives_back_one_attempt() {
        let t = LoginThrottle::new();
        let tight = ThrottleLimit { failures_max: 1, window_secs: 60 };
        let loose = ThrottleLimit { failures_max: 3, window_secs: 60 };
        let now = Utc::now();
        assert_eq!(t.reserve(&[("a", tight), ("b", loose)], now), Ok(()));
        assert_eq!(t.reserve(&[("a", tight), ("b", loose)], now), Err(60));
        assert_eq!(t.reserve(&[("b", loose)], now), Ok(()), "the refused attempt counted nothing for b");
        t.release("a", now);
        assert_eq!(t.reserve(&[("a", tight)], now), Ok(()));
    }
}
