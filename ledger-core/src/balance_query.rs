//! Balances over time: the ranges of an account's postings a store serves
//! ([`PostingRange`], paged by [`PostingCursor`]), and what the ledger
//! builds from them: a balance as of an instant ([`BalanceAsOf`]), an
//! account's balance history ([`BalanceChange`]) and statements
//! ([`Statement`]).
//!
//! Every stored posting carries its commit time and the account's balance
//! after it (`Posting::at`, `Posting::balance_after`), and commit times
//! follow commit order, so each of these is an index seek and a scan of
//! what is asked for, whatever the account's size.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::account::NormalBalance;
use crate::error::LedgerError;
use crate::id::{AccountId, TransactionId};
use crate::money::Currency;
use crate::posting::Posting;
use crate::transaction::TransactionKind;

/// The most postings one statement holds; ask for shorter periods beyond.
pub const STATEMENT_POSTINGS_MAX: usize = 100_000;

/// Which of an account's postings a store returns, and in which order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingRange {
    /// The account.
    pub account: AccountId,
    /// Committed at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Committed strictly before this instant.
    pub until: Option<DateTime<Utc>>,
    /// Continue past this posting, in the range's order.
    pub after: Option<PostingCursor>,
    /// Newest first (balance history) or oldest first (statements).
    pub newest_first: bool,
}

impl PostingRange {
    /// The reference semantics every store reproduces: whether a posting
    /// of the account belongs to the range.
    pub fn contains(&self, posting: &Posting) -> bool {
        let cursor = PostingCursor::of(posting);
        posting.account_id == self.account
            && self.from.is_none_or(|from| posting.at >= from)
            && self.until.is_none_or(|until| posting.at < until)
            && self.after.is_none_or(|after| if self.newest_first { cursor < after } else { cursor > after })
    }
}

/// A place in an account's postings: commit time, then sequence (the order
/// the postings index is in). Printed as `<seconds>_<nanoseconds>_<sequence>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PostingCursor {
    /// The posting's commit time.
    pub at: DateTime<Utc>,
    /// The posting's sequence.
    pub sequence: u64,
}

impl PostingCursor {
    /// The cursor just past a posting.
    pub fn of(posting: &Posting) -> PostingCursor {
        PostingCursor { at: posting.at, sequence: posting.sequence }
    }
}

impl fmt::Display for PostingCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}_{}", self.at.timestamp(), self.at.timestamp_subsec_nanos(), self.sequence)
    }
}

impl From<PostingCursor> for String {
    fn from(cursor: PostingCursor) -> String {
        cursor.to_string()
    }
}

impl TryFrom<String> for PostingCursor {
    type Error = LedgerError;

    fn try_from(text: String) -> Result<PostingCursor, LedgerError> {
        text.parse()
    }
}

impl FromStr for PostingCursor {
    type Err = LedgerError;

    fn from_str(text: &str) -> Result<PostingCursor, LedgerError> {
        let mut parts = text.splitn(3, '_');
        let (Some(secs), Some(nanos), Some(sequence)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(LedgerError::InvalidCursor);
        };
        let secs: i64 = secs.parse().map_err(|_| LedgerError::InvalidCursor)?;
        let nanos: u32 = nanos.parse().map_err(|_| LedgerError::InvalidCursor)?;
        let sequence: u64 = sequence.parse().map_err(|_| LedgerError::InvalidCursor)?;
        let at = DateTime::from_timestamp(secs, nanos).ok_or(LedgerError::InvalidCursor)?;
        if !crate::clock::is_storable_instant(at) || nanos >= 1_000_000_000 {
            return Err(LedgerError::InvalidCursor);
        }
        Ok(PostingCursor { at, sequence })
    }
}

/// A page of an account's balance history, newest first, with the
/// account's currency (every change is in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceHistory {
    /// The account.
    pub account: AccountId,
    /// Its currency.
    pub currency: Currency,
    /// The changes of the page, newest first.
    pub items: Vec<BalanceChange>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<PostingCursor>,
}

/// An account's posted balance at an instant, on its normal side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceAsOf {
    /// The account.
    pub account: AccountId,
    /// Its currency.
    pub currency: Currency,
    /// The posted balance after every posting committed at or before `as_of`
    /// (zero before the account's first).
    #[serde(with = "rust_decimal::serde::str")]
    pub posted: Decimal,
    /// The instant asked about.
    pub as_of: DateTime<Utc>,
}

/// One posting of an account's balance history, on its normal side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceChange {
    /// The transaction the posting belongs to.
    pub transaction_id: TransactionId,
    /// When it committed.
    pub at: DateTime<Utc>,
    /// The change to the balance (negative lowers it).
    #[serde(with = "rust_decimal::serde::str")]
    pub change: Decimal,
    /// The balance after it.
    #[serde(with = "rust_decimal::serde::str")]
    pub balance: Decimal,
    /// Where it stands in the account's postings (for cursors).
    pub cursor: PostingCursor,
}

impl BalanceChange {
    /// A stored posting as seen from its account's normal side.
    pub fn of(posting: &Posting, side: NormalBalance) -> BalanceChange {
        BalanceChange {
            transaction_id: posting.transaction_id,
            at: posting.at,
            change: side.reported(posting.amount),
            balance: side.reported(posting.balance_after),
            cursor: PostingCursor::of(posting),
        }
    }
}

/// One line of a statement: a balance change with what its transaction was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    /// The change and the balance after it.
    #[serde(flatten)]
    pub change: BalanceChange,
    /// The kind of the transaction.
    pub kind: TransactionKind,
    /// Its description.
    pub description: Option<String>,
}

/// An account's statement for a period `[from, until)`: the opening balance
/// (after everything before `from`), every posting in the period oldest
/// first with the balance after it, and the closing balance. Opening plus
/// the changes is the closing balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// The account.
    pub account: AccountId,
    /// Its currency.
    pub currency: Currency,
    /// The start of the period (inclusive).
    pub from: DateTime<Utc>,
    /// The end of the period (exclusive).
    pub until: DateTime<Utc>,
    /// The balance before the period.
    #[serde(with = "rust_decimal::serde::str")]
    pub opening: Decimal,
    /// The balance at its end.
    #[serde(with = "rust_decimal::serde::str")]
    pub closing: Decimal,
    /// The postings of the period, oldest first.
    pub lines: Vec<StatementLine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_print_and_parse_back() {
        let at = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap_or_default();
        let cursor = PostingCursor { at, sequence: 4097 };
        assert_eq!(cursor.to_string(), "1700000000_123456789_4097");
        assert_eq!("1700000000_123456789_4097".parse(), Ok(cursor));
        let early = PostingCursor { at: DateTime::from_timestamp(-86_400, 0).unwrap_or_default(), sequence: 1 };
        assert_eq!(early.to_string().parse(), Ok(early));
        for bad in ["", "1_2", "a_0_1", "1_1000000000_1", "1_0_-1", "1_0_1_2", "99999999999999_0_1"] {
            assert_eq!(bad.parse::<PostingCursor>(), Err(LedgerError::InvalidCursor), "{bad:?}");
        }
    }
}
