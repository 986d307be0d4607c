//! History queries: filters, cursors and pages.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::is_storable_instant;
use crate::error::LedgerError;
use crate::id::AccountId;
use crate::metadata::{METADATA_FILTER_PAIRS_MAX, check_key, check_value};
use crate::money::AMOUNT_MAJOR_UNITS_MAX;
use crate::transaction::{Transaction, TransactionKind, TransactionStatus};

/// The most items one page holds.
pub const PAGE_SIZE_MAX: usize = 200;
/// The page size when the caller names none.
pub const PAGE_SIZE_DEFAULT: usize = 50;
/// The most accounts one history filter may name.
pub const FILTER_ACCOUNTS_MAX: usize = 100;

/// Which transactions a history query returns. Every field narrows; the
/// default matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryFilter {
    /// Transactions touching any of these accounts (empty: any account).
    pub accounts: Vec<AccountId>,
    /// Only this kind.
    pub kind: Option<TransactionKind>,
    /// Only this status.
    pub status: Option<TransactionStatus>,
    /// Created at or after this instant.
    pub created_from: Option<DateTime<Utc>>,
    /// Created strictly before this instant.
    pub created_until: Option<DateTime<Utc>>,
    /// Amount at least this.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub amount_min: Option<Decimal>,
    /// Amount at most this.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub amount_max: Option<Decimal>,
    /// Only transactions carrying every one of these metadata pairs (at
    /// most [`METADATA_FILTER_PAIRS_MAX`]).
    #[serde(default)]
    pub metadata: Vec<(String, String)>,
}

impl HistoryFilter {
    /// History of one account.
    pub fn account(id: AccountId) -> HistoryFilter {
        HistoryFilter { accounts: vec![id], ..HistoryFilter::default() }
    }

    /// Refuses contradictory or oversized filters.
    pub fn validate(&self) -> Result<(), LedgerError> {
        if self.accounts.len() > FILTER_ACCOUNTS_MAX {
            return Err(LedgerError::InvalidFilter("too many accounts"));
        }
        if [self.created_from, self.created_until].into_iter().flatten().any(|t| !is_storable_instant(t)) {
            return Err(LedgerError::InvalidFilter("dates must fall in the years 1 to 9999"));
        }
        if [self.amount_min, self.amount_max]
            .into_iter()
            .flatten()
            .any(|a| a.is_sign_negative() || a > Decimal::from(AMOUNT_MAJOR_UNITS_MAX))
        {
            return Err(LedgerError::InvalidFilter("amounts must be between 0 and the largest amount allowed"));
        }
        if self.metadata.len() > METADATA_FILTER_PAIRS_MAX {
            return Err(LedgerError::InvalidFilter("at most 4 metadata pairs"));
        }
        for (key, value) in &self.metadata {
            check_key(key).and_then(|()| check_value(value)).map_err(|_| LedgerError::InvalidFilter("metadata"))?;
        }
        if let (Some(from), Some(until)) = (self.created_from, self.created_until)
            && from > until
        {
            return Err(LedgerError::InvalidFilter("created_from is after created_until"));
        }
        if let (Some(min), Some(max)) = (self.amount_min, self.amount_max)
            && min > max
        {
            return Err(LedgerError::InvalidFilter("amount_min is above amount_max"));
        }
        Ok(())
    }

    /// Whether a transaction passes the filter: the reference semantics every
    /// store's query must reproduce (the conformance suite checks them).
    pub fn matches(&self, t: &Transaction) -> bool {
        (self.accounts.is_empty() || self.accounts.iter().any(|a| t.involves(*a)))
            && self.kind.is_none_or(|k| t.kind == k)
            && self.status.is_none_or(|s| t.status == s)
            && self.created_from.is_none_or(|from| t.created_at >= from)
            && self.created_until.is_none_or(|until| t.created_at < until)
            && self.amount_min.is_none_or(|min| t.amount >= min)
            && self.amount_max.is_none_or(|max| t.amount <= max)
            && t.metadata.contains_all(&self.metadata)
    }
}

/// Where the next page starts: before this transaction sequence. Opaque to
/// clients (`c` and the sequence), stable while new transactions arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cursor(u64);

impl Cursor {
    /// The cursor after (older than) this transaction.
    pub fn after(t: &Transaction) -> Cursor {
        Cursor(t.sequence)
    }

    /// Pages continue with sequences strictly below this.
    pub fn before_sequence(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl FromStr for Cursor {
    type Err = LedgerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix('c').ok_or(LedgerError::InvalidCursor)?;
        if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LedgerError::InvalidCursor);
        }
        digits.parse().map(Cursor).map_err(|_| LedgerError::InvalidCursor)
    }
}

impl TryFrom<String> for Cursor {
    type Error = LedgerError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Cursor> for String {
    fn from(value: Cursor) -> Self {
        value.to_string()
    }
}

/// Which page to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// Continue after this cursor; `None` for the newest page.
    pub cursor: Option<Cursor>,
    /// Items per page, 1 to [`PAGE_SIZE_MAX`].
    pub size: usize,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest { cursor: None, size: PAGE_SIZE_DEFAULT }
    }
}

impl PageRequest {
    /// The first page of a given size.
    pub fn first(size: usize) -> PageRequest {
        PageRequest { cursor: None, size }
    }

    /// Refuses a size of zero or over the maximum.
    pub fn validate(&self) -> Result<(), LedgerError> {
        if self.size == 0 || self.size > PAGE_SIZE_MAX {
            return Err(LedgerError::InvalidPageSize { max: PAGE_SIZE_MAX });
        }
        Ok(())
    }
}

/// One page of results, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T, C = Cursor> {
    /// The items.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<C>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c: Result<Cursor, _> = "c42".parse();
        assert_eq!(c, Ok(Cursor(42)));
        assert_eq!(Cursor(42).to_string(), "c42");
        for bad in ["", "c", "42", "c-1", "cx", "c99999999999999999999999"] {
            assert_eq!(bad.parse::<Cursor>(), Err(LedgerError::InvalidCursor), "{bad:?}");
        }
    }

    #[test]
    fn contradictory_filters_are_refused() {
        let now = Utc::now();
        let f = HistoryFilter {
            created_from: Some(now),
            created_until: Some(now - chrono::Duration::seconds(1)),
            ..Default::default()
        };
        assert!(matches!(f.validate(), Err(LedgerError::InvalidFilter(_))));
        let f = HistoryFilter { amount_min: Some(Decimal::TEN), amount_max: Some(Decimal::ONE), ..Default::default() };
        assert!(matches!(f.validate(), Err(LedgerError::InvalidFilter(_))));
        let f = HistoryFilter { accounts: vec![AccountId::new(); FILTER_ACCOUNTS_MAX + 1], ..Default::default() };
        assert!(matches!(f.validate(), Err(LedgerError::InvalidFilter(_))));
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert!(PageRequest::first(1).validate().is_ok());
        assert!(PageRequest::first(PAGE_SIZE_MAX).validate().is_ok());
        assert!(PageRequest::first(0).validate().is_err());
        assert!(PageRequest::first(PAGE_SIZE_MAX + 1).validate().is_err());
    }
}
