//! The change feed: every committed change to an account or a transaction,
//! written by the commit that made it, in commit order. It is the outbox the
//! publisher reads ([`Ledger::events_after`](crate::Ledger::events_after)):
//! nothing committed is missed, whichever instance committed it and whatever
//! crashed since, and nothing uncommitted is ever in it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::transaction::Transaction;

/// The most changes one [`Store::changes_after`](crate::Store::changes_after)
/// call returns.
pub const CHANGES_PAGE_MAX: usize = 1000;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChangeKind {
    /// A transaction was posted: a deposit, withdrawal, transfer or entry,
    /// or a hold captured (same transaction id as its `Pending`).
    #[serde(rename = "transaction.posted")]
    TransactionPosted,
    /// A hold was placed.
    #[serde(rename = "transaction.pending")]
    TransactionPending,
    /// A hold was voided (by a void or by expiry).
    #[serde(rename = "transaction.voided")]
    TransactionVoided,
    /// A reversal was posted; its transaction names the original in `reverses`.
    #[serde(rename = "transaction.reversed")]
    TransactionReversed,
    /// An account was opened.
    #[serde(rename = "account.opened")]
    AccountOpened,
    /// An account was frozen, unfrozen or closed.
    #[serde(rename = "account.status_changed")]
    AccountStatusChanged,
    /// An account was given a new display name.
    #[serde(rename = "account.renamed")]
    AccountRenamed,
}

impl ChangeKind {
    /// Every kind.
    pub const ALL: [ChangeKind; 7] = [
        ChangeKind::TransactionPosted,
        ChangeKind::TransactionPending,
        ChangeKind::TransactionVoided,
        ChangeKind::TransactionReversed,
        ChangeKind::AccountOpened,
        ChangeKind::AccountStatusChanged,
        ChangeKind::AccountRenamed,
    ];

    /// The kind's name, as events carry it (`transaction.posted`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::TransactionPosted => "transaction.posted",
            ChangeKind::TransactionPending => "transaction.pending",
            ChangeKind::TransactionVoided => "transaction.voided",
            ChangeKind::TransactionReversed => "transaction.reversed",
            ChangeKind::AccountOpened => "account.opened",
            ChangeKind::AccountStatusChanged => "account.status_changed",
            ChangeKind::AccountRenamed => "account.renamed",
        }
    }
}

/// One committed change, as of its commit.
///
/// Immutable once written: every reading of one sequence gives the same
/// change, so every delivery of its event carries the same body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Strictly increasing in commit order, never reused:
    /// `audit sequence * SEQUENCE_STRIDE + position in the commit`.
    pub sequence: u64,
    /// What happened.
    pub kind: ChangeKind,
    /// The commit time.
    pub at: DateTime<Utc>,
    /// The transaction, as the commit left it (transaction kinds).
    pub transaction: Option<Transaction>,
    /// The account, as the commit left it (account kinds).
    pub account: Option<Account>,
    /// Every account the change touched, as the commit left it.
    pub balances: Vec<Account>,
}

impl Change {
    /// The change's stable event id: `evt_` and its sequence.
    pub fn event_id(&self) -> String {
        event_id(self.sequence)
    }
}

/// The event id of the change with this sequence.
pub fn event_id(sequence: u64) -> String {
    format!("evt_{sequence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_as_their_names() {
        for kind in ChangeKind::ALL {
            let json = serde_json::to_string(&kind).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }

    #[test]
    fn event_ids_follow_sequences() {
        assert_eq!(event_id(4096), "evt_4096");
        assert_ne!(event_id(1), event_id(10));
    }
}
