//! Accounts: kinds, the status state machine, balances and floors.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::account_code::AccountCode;
use crate::account_number::AccountNumber;
use crate::error::LedgerError;
use crate::id::{AccountId, UserId};
use crate::metadata::Metadata;
use crate::money::Currency;

/// The most accounts one owner may have, enforced by `decide` inside the
/// store's transaction against the owner's count there, so concurrent
/// opens cannot pass it together.
pub const ACCOUNTS_PER_OWNER_MAX: usize = 100;

/// The most characters in an account's display name.
pub const ACCOUNT_NAME_LEN_MAX: usize = 64;

/// What an account is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Everyday customer account.
    Checking,
    /// Customer savings.
    Savings,
    /// Customer investment cash.
    Investment,
    /// The ledger's own per-currency account that mirrors money entering and
    /// leaving the ledger (`settlement:<currency>`). Never opened by
    /// customers; debit-normal, with no floor.
    Settlement,
    /// An account the embedding application (or an admin) opens and names
    /// by a code: revenue, fees, escrow, FX positions. Owned by no customer.
    Ledger,
}

impl AccountKind {
    /// Every kind, internal ones included.
    pub const ALL: &'static [AccountKind] = &[
        AccountKind::Checking,
        AccountKind::Savings,
        AccountKind::Investment,
        AccountKind::Settlement,
        AccountKind::Ledger,
    ];

    /// The stable lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AccountKind::Checking => "checking",
            AccountKind::Savings => "savings",
            AccountKind::Investment => "investment",
            AccountKind::Settlement => "settlement",
            AccountKind::Ledger => "ledger",
        }
    }

    /// Parses [`AccountKind::as_str`].
    pub fn parse(text: &str) -> Option<AccountKind> {
        AccountKind::ALL.iter().copied().find(|k| k.as_str() == text)
    }

    /// Whether a customer may open an account of this kind.
    pub const fn is_customer(self) -> bool {
        !self.is_ledger()
    }

    /// Whether it is a ledger account (named by a code, owned by no
    /// customer): the settlement accounts and the application's own.
    pub const fn is_ledger(self) -> bool {
        matches!(self, AccountKind::Settlement | AccountKind::Ledger)
    }
}

/// The side an account's balance is reported on: a debit raises a
/// debit-normal account's balance (assets, expenses), a credit raises a
/// credit-normal one's (liabilities, equity, revenue; every customer
/// account, which is the bank's liability to the customer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormalBalance {
    /// Debits raise the balance.
    Debit,
    /// Credits raise the balance.
    #[default]
    Credit,
}

impl NormalBalance {
    /// The stable lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            NormalBalance::Debit => "debit",
            NormalBalance::Credit => "credit",
        }
    }

    /// Parses [`NormalBalance::as_str`].
    pub fn parse(text: &str) -> Option<NormalBalance> {
        [NormalBalance::Debit, NormalBalance::Credit].into_iter().find(|n| n.as_str() == text)
    }

    /// A stored (credit-positive) amount as seen from this side.
    pub fn reported(self, credit_positive: Decimal) -> Decimal {
        match self {
            NormalBalance::Credit => credit_positive,
            // Negating zero would make a negative zero, shown as `-0.00`.
            NormalBalance::Debit if credit_positive.is_zero() => Decimal::ZERO,
            NormalBalance::Debit => -credit_positive,
        }
    }
}

/// Where an account is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Accepts postings.
    Active,
    /// Accepts no postings until unfrozen; holds may still be voided.
    Frozen,
    /// Final: accepts nothing.
    Closed,
}

impl AccountStatus {
    /// Every status.
    pub const ALL: &'static [AccountStatus] = &[AccountStatus::Active, AccountStatus::Frozen, AccountStatus::Closed];

    /// The stable lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Frozen => "frozen",
            AccountStatus::Closed => "closed",
        }
    }

    /// Parses [`AccountStatus::as_str`].
    pub fn parse(text: &str) -> Option<AccountStatus> {
        AccountStatus::ALL.iter().copied().find(|s| s.as_str() == text)
    }
}

/// A change of status a command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusChange {
    /// active -> frozen.
    Freeze,
    /// frozen -> active.
    Unfreeze,
    /// active or frozen -> closed, with a zero balance and no open holds.
    Close,
}

impl StatusChange {
    /// The status after the change.
    pub const fn target(self) -> AccountStatus {
        match self {
            StatusChange::Freeze => AccountStatus::Frozen,
            StatusChange::Unfreeze => AccountStatus::Active,
            StatusChange::Close => AccountStatus::Closed,
        }
    }

    /// The stable lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            StatusChange::Freeze => "freeze",
            StatusChange::Unfreeze => "unfreeze",
            StatusChange::Close => "close",
        }
    }
}

/// The three balances of an account, as stored.
///
/// `posted` is the sum of the account's postings (credits positive);
/// `pending` is the sum of its open holds; `available = posted - pending`.
/// [`Account::reported_balance`] turns them to the account's normal side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Balance {
    /// Sum of postings.
    #[serde(with = "rust_decimal::serde::str")]
    pub posted: Decimal,
    /// Sum of open holds.
    #[serde(with = "rust_decimal::serde::str")]
    pub pending: Decimal,
}

impl Balance {
    /// What may still be spent: posted minus pending.
    pub fn available(&self) -> Decimal {
        self.posted - self.pending
    }
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Identity.
    pub id: AccountId,
    /// The unique human-readable number.
    pub number: AccountNumber,
    /// The owner ([`UserId::SYSTEM`] for settlement accounts).
    pub owner: UserId,
    /// What the account is for.
    pub kind: AccountKind,
    /// The one currency it holds.
    pub currency: Currency,
    /// Optional display name.
    pub name: Option<String>,
    /// Life-cycle status.
    pub status: AccountStatus,
    /// How far below zero `available` may go (zero: no overdraft).
    #[serde(with = "rust_decimal::serde::str")]
    pub overdraft_limit: Decimal,
    /// Posted and pending balances.
    pub balance: Balance,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When its status or balance last changed.
    pub updated_at: DateTime<Utc>,
    /// A ledger account's code (`settlement:usd` for a settlement account);
    /// `None` for customer accounts.
    #[serde(default)]
    pub code: Option<AccountCode>,
    /// The side its balance is reported on (credit for customer accounts,
    /// debit for settlement accounts).
    #[serde(default)]
    pub normal_balance: NormalBalance,
    /// A ledger account's floor: the lowest balance allowed on its normal
    /// side (any decimal), or `None` for unbounded. Customer accounts floor
    /// at minus their overdraft limit instead.
    #[serde(default, with = "rust_decimal::serde::str_option")]
    pub ledger_floor: Option<Decimal>,
    /// The application's own details.
    #[serde(default)]
    pub metadata: Metadata,
}

impl Account {
    /// The lowest balance allowed on the normal side (`available` there),
    /// or `None` for no floor.
    pub fn floor(&self) -> Option<Decimal> {
        match self.kind {
            AccountKind::Settlement => None,
            AccountKind::Ledger => self.ledger_floor,
            _ => Some(-self.overdraft_limit),
        }
    }

    /// The balances on the account's normal side: what is shown. (Holds
    /// exist only on credit-normal customer accounts.)
    pub fn reported_balance(&self) -> Balance {
        Balance { posted: self.normal_balance.reported(self.balance.posted), pending: self.balance.pending }
    }

    /// A settlement account, as the ledger creates it for each currency.
    pub fn settlement(currency: Currency, now: DateTime<Utc>) -> Account {
        Account {
            id: AccountId::settlement(currency),
            number: AccountNumber::settlement(currency),
            owner: UserId::SYSTEM,
            kind: AccountKind::Settlement,
            currency,
            name: Some(format!("{currency} settlement")),
            status: AccountStatus::Active,
            overdraft_limit: Decimal::ZERO,
            balance: Balance::default(),
            created_at: now,
            updated_at: now,
            code: Some(AccountCode::settlement(currency)),
            normal_balance: NormalBalance::Debit,
            ledger_floor: None,
            metadata: Metadata::default(),
        }
    }

    /// Checks that the account may take a posting now.
    pub fn ensure_postable(&self) -> Result<(), LedgerError> {
        match self.status {
            AccountStatus::Active => Ok(()),
            AccountStatus::Frozen => Err(LedgerError::AccountFrozen { account: self.id, number: self.number }),
            AccountStatus::Closed => Err(LedgerError::AccountClosed { account: self.id, number: self.number }),
        }
    }

    /// Checks the floor after a change that lowered the available balance
    /// on the normal side by `requested`.
    pub fn ensure_above_floor(&self, requested: Decimal) -> Result<(), LedgerError> {
        let available = self.reported_balance().available();
        match self.floor() {
            Some(floor) if available < floor => Err(LedgerError::InsufficientFunds {
                account: self.id,
                number: self.number,
                available: available + requested,
                requested,
                posting: None,
            }),
            _ => Ok(()),
        }
    }

    /// Applies a status change if the state machine allows it.
    pub fn change_status(&mut self, change: StatusChange, now: DateTime<Utc>) -> Result<(), LedgerError> {
        use AccountStatus::{Active, Closed, Frozen};
        let allowed = matches!(
            (self.status, change),
            (Active, StatusChange::Freeze) | (Frozen, StatusChange::Unfreeze) | (Active | Frozen, StatusChange::Close)
        );
        if self.status == Closed {
            return Err(LedgerError::AccountClosed { account: self.id, number: self.number });
        }
        if !allowed {
            return Err(LedgerError::InvalidStatusTransition {
                account: self.id,
                number: self.number,
                from: self.status,
                to: change.target(),
            });
        }
        if change == StatusChange::Close {
            if !self.balance.pending.is_zero() {
                return Err(LedgerError::AccountHasOpenHolds { account: self.id, number: self.number });
            }
            if !self.balance.posted.is_zero() {
                return Err(LedgerError::AccountNotEmpty { account: self.id, number: self.number });
            }
        }
        self.status = change.target();
        self.updated_at = now;
        Ok(())
    }

    /// Gives the account a new display name (`None` clears it); a closed
    /// account is final and keeps its name.
    pub fn rename(&mut self, name: Option<String>, now: DateTime<Utc>) -> Result<(), LedgerError> {
        if self.status == AccountStatus::Closed {
            return Err(LedgerError::AccountClosed { account: self.id, number: self.number });
        }
        self.name = name;
        self.updated_at = now;
        Ok(())
    }
}

/// Validates an optional display name: trimmed, non-empty, bounded, no control characters.
pub fn validate_account_name(name: Option<&str>) -> Result<Option<String>, LedgerError> {
    let Some(name) = name.map(str::trim) else { return Ok(None) };
    if name.is_empty() || name.chars().count() > ACCOUNT_NAME_LEN_MAX || name.chars().any(char::is_control) {
        return Err(LedgerError::InvalidAccountName);
    }
    Ok(Some(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(status: AccountStatus, posted: i64, pending: i64) -> Account {
        let mut a = Account::settlement(Currency::Usd, Utc::now());
        a.kind = AccountKind::Checking;
        a.status = status;
        a.balance = Balance { posted: Decimal::from(posted), pending: Decimal::from(pending) };
        a
    }

    #[test]
    fn a_debit_normal_zero_is_reported_as_plain_zero() {
        assert_eq!(NormalBalance::Debit.reported(Decimal::ZERO).to_string(), "0");
        assert_eq!(NormalBalance::Debit.reported(Decimal::new(-125, 2)), Decimal::new(125, 2));
        assert_eq!(NormalBalance::Credit.reported(Decimal::new(-125, 2)), Decimal::new(-125, 2));
    }

    #[test]
    fn status_machine_allows_only_its_edges() {
        use AccountStatus::*;
        let cases = [
            (Active, StatusChange::Freeze, true),
            (Active, StatusChange::Unfreeze, false),
            (Active, StatusChange::Close, true),
            (Frozen, StatusChange::Freeze, false),
            (Frozen, StatusChange::Unfreeze, true),
            (Frozen, StatusChange::Close, true),
            (Closed, StatusChange::Freeze, false),
            (Closed, StatusChange::Unfreeze, false),
            (Closed, StatusChange::Close, false),
        ];
        for (from, change, ok) in cases {
            let mut a = account(from, 0, 0);
            let result = a.change_status(change, Utc::now());
            assert_eq!(result.is_ok(), ok, "{from:?} {change:?}");
            assert_eq!(a.status, if ok { change.target() } else { from });
        }
    }

    #[test]
    fn closing_needs_zero_balance_and_no_holds() {
        let mut a = account(AccountStatus::Active, 5, 0);
        assert!(matches!(a.change_status(StatusChange::Close, Utc::now()), Err(LedgerError::AccountNotEmpty { .. })));
        let mut a = account(AccountStatus::Active, 5, 5);
        assert!(matches!(
            a.change_status(StatusChange::Close, Utc::now()),
            Err(LedgerError::AccountHasOpenHolds { .. })
        ));
        assert_eq!(a.status, AccountStatus::Active);
    }

    #[test]
    fn names_are_bounded_and_printable() {
        assert_eq!(validate_account_name(None), Ok(None));
        assert_eq!(validate_account_name(Some("  Rent  ")), Ok(Some("Rent".into())));
        assert_eq!(validate_account_name(Some("  ")), Err(LedgerError::InvalidAccountName));
        assert_eq!(validate_account_name(Some("a\u{0}b")), Err(LedgerError::InvalidAccountName));
        let long = "x".repeat(ACCOUNT_NAME_LEN_MAX + 1);
        assert_eq!(validate_account_name(Some(&long)), Err(LedgerError::InvalidAccountName));
    }
}
