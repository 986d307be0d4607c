//! Committed changes, published to subscribers after each commit.

use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::transaction::Transaction;

/// How many events a slow subscriber may fall behind before it misses some
/// (it then sees `RecvError::Lagged` and should re-read balances).
pub const EVENT_BUFFER_LEN: usize = 1024;

/// A change that has been committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LedgerEvent {
    /// An account's status or balances changed, or it was opened.
    Account(Account),
    /// A transaction was created or changed status.
    Transaction(Transaction),
}
