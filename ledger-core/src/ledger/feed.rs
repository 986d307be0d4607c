//! The change feed for consumers: the ordered, resumable list of every
//! committed change, each sink's durable cursor, and the lease that makes
//! one process at a time publish a sink.

use chrono::{DateTime, Utc};

use super::*;
use crate::change::{CHANGES_PAGE_MAX, Change};
use crate::store::lease::LEASE_NAME_LEN_MAX;

impl Ledger {
    /// Committed changes with sequence above `after`, oldest first, at most
    /// `limit` (1 to [`CHANGES_PAGE_MAX`]). Resume from the last sequence
    /// handled: the feed never reorders, and a change once read reads the
    /// same forever.
    pub async fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Change>, LedgerError> {
        if limit == 0 || limit > CHANGES_PAGE_MAX {
            return Err(LedgerError::InvalidPageSize { max: CHANGES_PAGE_MAX });
        }
        let changes = self.store.changes_after(after, limit).await?;
        debug_assert!(changes.windows(2).all(|w| w[0].sequence < w[1].sequence));
        debug_assert!(changes.first().is_none_or(|c| c.sequence > after));
        Ok(changes)
    }

    /// How many committed changes have a sequence above `after` (a
    /// consumer's lag, in events).
    pub async fn events_count_after(&self, after: u64) -> Result<u64, LedgerError> {
        Ok(self.store.changes_count_after(after).await?)
    }

    /// The sequence up to which the sink named `sink` confirmed delivery
    /// (0: none yet).
    pub async fn sink_cursor(&self, sink: &str) -> Result<u64, LedgerError> {
        check_name(sink)?;
        Ok(self.store.sink_cursor(sink).await?)
    }

    /// Records that the sink confirmed every change up to `sequence`; a
    /// cursor never moves back.
    pub async fn advance_sink_cursor(&self, sink: &str, sequence: u64) -> Result<(), LedgerError> {
        check_name(sink)?;
        Ok(self.store.advance_sink_cursor(sink, sequence).await?)
    }

    /// Takes or renews the lease `name` for `holder` until `until`; whether
    /// `holder` holds it now. One holder at a time across every process
    /// sharing the store; a holder that stops renewing loses it at `until`.
    pub async fn try_lease(&self, name: &str, holder: &str, until: DateTime<Utc>) -> Result<bool, LedgerError> {
        check_name(name)?;
        check_name(holder)?;
        let now = self.clock.now();
        Ok(self.store.try_lease(name, holder, now, until).await?)
    }
}

/// A sink, lease or holder name every backend can store: 1 to
/// [`LEASE_NAME_LEN_MAX`] bytes, no control characters.
fn check_name(name: &str) -> Result<(), LedgerError> {
    let valid = !name.is_empty() && name.len() <= LEASE_NAME_LEN_MAX && !name.chars().any(char::is_control);
    if valid { Ok(()) } else { Err(LedgerError::InvalidSinkName) }
}
