//! Login throttling: after repeated failures for one email or from one client
//! address, further attempts are refused until the window has passed.
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
    failures: Mutex<HashMap<String, VecDeque<DateTime<Utc>>>>,
}

impl LoginThrottle {
    /// An empty throttle.
    pub fn new() -> LoginThrottle {
        LoginThrottle::default()
    }

    /// Seconds to wait before `key` may try again, if it is locked.
    pub fn retry_after(&self, key: &str, limit: ThrottleLimit, now: DateTime<Utc>) -> Option<i64> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let recent = map.get(key)?;
        let window = Duration::seconds(limit.window_secs);
        let live: Vec<&DateTime<Utc>> = recent.iter().filter(|t| now - **t < window).collect();
        if live.len() < limit.failures_max {
            return None;
        }
        // Locked until the oldest failure that still counts leaves the window.
        let oldest = live[live.len() - limit.failures_max];
        Some(((*oldest + window) - now).num_seconds().max(1))
    }

    /// Counts a failure for `key`.
    pub fn record_failure(&self, key: &str, limit: ThrottleLimit, now: DateTime<Utc>) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
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

    /// Forgets `key`'s failures (after a successful login).
    pub fn clear(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
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
}
