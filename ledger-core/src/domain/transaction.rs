//! Transaction records: the user's view of one money movement.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::LedgerError;
use crate::id::{AccountId, TransactionId};
use crate::metadata::Metadata;
use crate::money::Currency;

/// The most characters in a transaction description.
pub const DESCRIPTION_LEN_MAX: usize = 256;

/// What kind of movement a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// Money entering the ledger into a customer account.
    Deposit,
    /// Money leaving the ledger from a customer account.
    Withdrawal,
    /// Money moving between two accounts of one currency.
    Transfer,
    /// A two-phase reservation, later captured or voided.
    Hold,
    /// A general ledger entry: 1 to 64 postings between any accounts, posted
    /// by the embedding program or an admin.
    Entry,
    /// Undoes (part of) another transaction: its postings moved back.
    Reversal,
}

impl TransactionKind {
    /// Every kind.
    pub const ALL: &'static [TransactionKind] = &[
        TransactionKind::Deposit,
        TransactionKind::Withdrawal,
        TransactionKind::Transfer,
        TransactionKind::Hold,
        TransactionKind::Entry,
        TransactionKind::Reversal,
    ];

    /// The stable lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransactionKind::Deposit => "deposit",
            TransactionKind::Withdrawal => "withdrawal",
            TransactionKind::Transfer => "transfer",
            TransactionKind::Hold => "hold",
            TransactionKind::Entry => "entry",
            TransactionKind::Reversal => "reversal",
        }
    }

    /// Parses [`TransactionKind::as_str`].
    pub fn parse(text: &str) -> Option<TransactionKind> {
        TransactionKind::ALL.iter().copied().find(|k| k.as_str() == text)
    }
}

/// Where a transaction is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    /// A hold that is still open.
    Pending,
    /// Applied to balances (a captured hold is posted).
    Posted,
    /// A hold released without posting (voided or expired).
    Voided,
}

impl TransactionStatus {
    /// Every status.
    pub const ALL: &'static [TransactionStatus] =
        &[TransactionStatus::Pending, TransactionStatus::Posted, TransactionStatus::Voided];

    /// The stable lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::Pending => "pending",
            TransactionStatus::Posted => "posted",
            TransactionStatus::Voided => "voided",
        }
    }

    /// Parses [`TransactionStatus::as_str`].
    pub fn parse(text: &str) -> Option<TransactionStatus> {
        TransactionStatus::ALL.iter().copied().find(|s| s.as_str() == text)
    }
}

/// One movement of a transaction: `amount` of `currency` from `source`
/// (debited) to `destination` (credited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Leg {
    /// The account debited.
    pub source: AccountId,
    /// The account credited.
    pub destination: AccountId,
    /// How much (positive).
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// Of which currency.
    pub currency: Currency,
}

/// A transaction as stored and shown in history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Identity (a hold's id is its transaction id).
    pub id: TransactionId,
    /// Commit order, assigned by the store: newest has the largest. History
    /// pages by it, so pages stay stable while new transactions arrive.
    pub sequence: u64,
    /// What kind of movement.
    pub kind: TransactionKind,
    /// Pending, posted or voided.
    pub status: TransactionStatus,
    /// The amount moved (for a hold, the amount reserved).
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// Its currency.
    pub currency: Currency,
    /// The customer account debited, if any (none for deposits).
    pub from_account: Option<AccountId>,
    /// The customer account credited, if any (none for withdrawals and for
    /// holds captured to the settlement account).
    pub to_account: Option<AccountId>,
    /// Free text from the client.
    pub description: Option<String>,
    /// For a captured hold: the amount posted (at most `amount`).
    #[serde(with = "rust_decimal::serde::str_option")]
    pub captured_amount: Option<Decimal>,
    /// For a hold: when it stops being capturable.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was committed.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
    /// Its movements, in the order given (see [`Transaction::legs`]):
    /// stored for every transaction but those written before legs existed.
    #[serde(default)]
    pub legs: Vec<Leg>,
    /// The application's own details.
    #[serde(default)]
    pub metadata: Metadata,
    /// For a reversal: the transaction it reverses.
    #[serde(default)]
    pub reverses: Option<TransactionId>,
    /// How much of it reversals have moved back so far (in the units of
    /// [`Transaction::effective_amount`]); zero until the first reversal.
    #[serde(default, with = "rust_decimal::serde::str")]
    pub reversed_amount: Decimal,
}

impl Transaction {
    /// What it moved: the captured amount of a captured hold, else its amount.
    pub fn effective_amount(&self) -> Decimal {
        self.captured_amount.unwrap_or(self.amount)
    }

    /// What reversals may still move back.
    pub fn reversible_amount(&self) -> Decimal {
        self.effective_amount() - self.reversed_amount
    }

    /// Its movements: the stored legs, or for a transaction stored before
    /// legs existed, the one its kind implies (a deposit from the currency's
    /// settlement account, a withdrawal to it, a transfer or hold between
    /// its accounts, a captured hold for the amount captured).
    pub fn legs(&self) -> Vec<Leg> {
        if !self.legs.is_empty() {
            return self.legs.clone();
        }
        let settlement = AccountId::settlement(self.currency);
        let amount = self.captured_amount.unwrap_or(self.amount);
        let source = self.from_account.unwrap_or(settlement);
        let destination = self.to_account.unwrap_or(settlement);
        vec![Leg { source, destination, amount, currency: self.currency }]
    }

    /// Whether the transaction touches the account, on any side of any leg.
    pub fn involves(&self, account: AccountId) -> bool {
        self.from_account == Some(account)
            || self.to_account == Some(account)
            || self.legs.iter().any(|l| l.source == account || l.destination == account)
    }

    /// Every account it touches, each once, in order of first appearance.
    pub fn accounts(&self) -> Vec<AccountId> {
        let mut accounts: Vec<AccountId> = Vec::new();
        let named = self.from_account.into_iter().chain(self.to_account);
        for account in named.chain(self.legs.iter().flat_map(|l| [l.source, l.destination])) {
            if !accounts.contains(&account) {
                accounts.push(account);
            }
        }
        accounts
    }
}

/// Validates an optional description: trimmed, bounded, no control characters
/// other than none at all. An empty description becomes `None`.
pub fn validate_description(text: Option<&str>) -> Result<Option<String>, LedgerError> {
    let Some(text) = text.map(str::trim) else { return Ok(None) };
    if text.chars().count() > DESCRIPTION_LEN_MAX || text.chars().any(char::is_control) {
        return Err(LedgerError::InvalidDescription);
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_bounded_and_printable() {
        assert_eq!(validate_description(None), Ok(None));
        assert_eq!(validate_description(Some("   ")), Ok(None));
        assert_eq!(validate_description(Some(" rent ")), Ok(Some("rent".into())));
        assert_eq!(validate_description(Some("x\ny")), Err(LedgerError::InvalidDescription));
        let long = "é".repeat(DESCRIPTION_LEN_MAX + 1);
        assert_eq!(validate_description(Some(&long)), Err(LedgerError::InvalidDescription));
        let limit = "é".repeat(DESCRIPTION_LEN_MAX);
        assert!(validate_description(Some(&limit)).is_ok());
    }

    #[test]
    fn kinds_and_statuses_round_trip() {
        for k in TransactionKind::ALL {
            assert_eq!(TransactionKind::parse(k.as_str()), Some(*k));
        }
        for s in TransactionStatus::ALL {
            assert_eq!(TransactionStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(TransactionKind::parse("Deposit"), None);
    }
}
