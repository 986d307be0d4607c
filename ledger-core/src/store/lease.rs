//! Leases: who may run a singleton job (a sink's publisher) right now.
//!
//! A lease is held until an instant and renewed before it; a holder that
//! dies stops renewing, and once the instant passes another may take it.
//! [`LocalLeases`] serves stores that one process owns (memory, sled); a
//! store shared by processes keeps its leases in the shared storage.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// The longest lease name or holder a store must keep, in bytes.
pub const LEASE_NAME_LEN_MAX: usize = 512;

/// Leases kept in this process's memory.
#[derive(Debug, Default)]
pub struct LocalLeases {
    held: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
}

impl LocalLeases {
    /// Takes or renews `name` for `holder` until `until`, if it is free,
    /// expired at `now`, or already `holder`'s; whether `holder` holds it.
    pub fn try_take(&self, name: &str, holder: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        let mut held = self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match held.get(name) {
            Some((owner, expiry)) if owner != holder && *expiry > now => false,
            _ => {
                held.insert(name.to_owned(), (holder.to_owned(), until));
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_passes_only_once_it_expired() {
        let leases = LocalLeases::default();
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let ttl = chrono::Duration::seconds(10);
        assert!(leases.try_take("nats", "a", t0, t0 + ttl));
        assert!(!leases.try_take("nats", "b", t0 + chrono::Duration::seconds(9), t0 + ttl * 2));
        assert!(leases.try_take("amqp", "b", t0, t0 + ttl), "names are independent");
        assert!(leases.try_take("nats", "a", t0 + chrono::Duration::seconds(9), t0 + ttl * 2), "renewed");
        assert!(!leases.try_take("nats", "b", t0 + chrono::Duration::seconds(19), t0 + ttl * 3));
        assert!(leases.try_take("nats", "b", t0 + chrono::Duration::seconds(20), t0 + ttl * 3), "expired");
        assert!(!leases.try_take("nats", "a", t0 + chrono::Duration::seconds(21), t0 + ttl * 4));
    }
}
