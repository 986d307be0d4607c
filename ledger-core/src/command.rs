//! Commands: what callers ask the ledger to do.
//!
//! Money-moving commands ([`MoneyCommand`]) always travel with an
//! [`IdempotencyKey`](crate::IdempotencyKey), alone or in an atomic batch.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::account::{AccountKind, NormalBalance};
use crate::account_code::AccountCode;
use crate::account_number::AccountNumber;
use crate::digest::Hasher;
use crate::error::LedgerError;
use crate::id::{AccountId, TransactionId, UserId};
use crate::metadata::Metadata;
use crate::money::{Amount, Currency};

/// The most commands in one atomic batch.
pub const BATCH_SIZE_MAX: usize = 1000;

/// The most posting lines one atomic batch writes (two per leg of a
/// transfer or entry, as many as the original's for a reversal). A commit's
/// lines are numbered within its [`SEQUENCE_STRIDE`](crate::SEQUENCE_STRIDE)
/// of sequences; more would take the next commit's numbers.
pub const BATCH_POSTINGS_MAX: usize = 4000;

/// The furthest ahead a hold may expire: 30 days.
pub const HOLD_EXPIRY_SECS_MAX: i64 = 30 * 24 * 60 * 60;

/// An account named by id, by its human-readable number, or (a ledger
/// account) by its code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRef {
    /// By id.
    Id(AccountId),
    /// By number (how people pay other people).
    Number(AccountNumber),
    /// A ledger account by its code.
    Code(AccountCode),
}

impl From<AccountId> for AccountRef {
    fn from(id: AccountId) -> Self {
        AccountRef::Id(id)
    }
}

impl From<AccountNumber> for AccountRef {
    fn from(number: AccountNumber) -> Self {
        AccountRef::Number(number)
    }
}

impl From<AccountCode> for AccountRef {
    fn from(code: AccountCode) -> Self {
        AccountRef::Code(code)
    }
}

impl AccountRef {
    /// Reads how people write an account: a UUID, a 12-digit number, or `@`
    /// and a ledger account's code.
    pub fn parse(text: &str) -> Result<AccountRef, LedgerError> {
        if let Some(code) = text.strip_prefix('@') {
            return Ok(AccountRef::Code(AccountCode::parse(code)?));
        }
        if let Ok(id) = text.parse::<uuid::Uuid>() {
            return Ok(AccountRef::Id(AccountId::from_uuid(id)));
        }
        Ok(AccountRef::Number(AccountNumber::parse(text)?))
    }
}

/// Opens a customer account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAccount {
    /// Who will own it.
    pub owner: UserId,
    /// Checking, savings or investment.
    pub kind: AccountKind,
    /// Its one currency.
    pub currency: Currency,
    /// Optional display name.
    pub name: Option<String>,
    /// How far below zero `available` may go; zero for none.
    #[serde(with = "rust_decimal::serde::str")]
    pub overdraft_limit: Decimal,
    /// The application's own details.
    #[serde(default)]
    pub metadata: Metadata,
}

impl OpenAccount {
    /// A plain account: no name, no overdraft, no metadata.
    pub fn new(owner: UserId, kind: AccountKind, currency: Currency) -> OpenAccount {
        OpenAccount { owner, kind, currency, name: None, overdraft_limit: Decimal::ZERO, metadata: Metadata::empty() }
    }
}

/// Opens a ledger account: one the application names by a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenLedgerAccount {
    /// Its unique code.
    pub code: AccountCode,
    /// Its one currency.
    pub currency: Currency,
    /// Optional display name.
    pub name: Option<String>,
    /// The side its balance is reported on.
    pub normal_balance: NormalBalance,
    /// The lowest balance allowed on that side: `None` for the default (zero
    /// for credit-normal accounts, unbounded for debit-normal ones),
    /// `Some(None)` for unbounded, `Some(Some(floor))` for that floor (any
    /// decimal, zero or negative, at the currency's precision).
    #[serde(default)]
    pub floor: Option<Option<Decimal>>,
    /// The application's own details.
    #[serde(default)]
    pub metadata: Metadata,
}

impl OpenLedgerAccount {
    /// A ledger account with the default floor, no name and no metadata.
    pub fn new(code: AccountCode, currency: Currency, normal_balance: NormalBalance) -> OpenLedgerAccount {
        OpenLedgerAccount { code, currency, name: None, normal_balance, floor: None, metadata: Metadata::empty() }
    }

    /// The floor it asks for, the default resolved.
    pub fn resolved_floor(&self) -> Option<Decimal> {
        match self.floor {
            Some(floor) => floor,
            None => match self.normal_balance {
                NormalBalance::Credit => Some(Decimal::ZERO),
                NormalBalance::Debit => None,
            },
        }
    }
}

/// Credits a customer account with money entering the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deposit {
    /// The account credited.
    pub account: AccountId,
    /// How much.
    pub amount: Amount,
    /// Free text.
    pub description: Option<String>,
    /// The application's own details, stored on the transaction.
    #[serde(default)]
    pub metadata: Metadata,
}

/// Debits a customer account with money leaving the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdraw {
    /// The account debited.
    pub account: AccountId,
    /// How much.
    pub amount: Amount,
    /// Free text.
    pub description: Option<String>,
    /// The application's own details, stored on the transaction.
    #[serde(default)]
    pub metadata: Metadata,
}

/// Moves money between two accounts of one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// The account debited.
    pub from: AccountId,
    /// The account credited, by id or number (it may be another user's).
    pub to: AccountRef,
    /// How much.
    pub amount: Amount,
    /// Free text.
    pub description: Option<String>,
    /// The application's own details, stored on the transaction.
    #[serde(default)]
    pub metadata: Metadata,
}

/// Reserves funds now, to capture or void later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceHold {
    /// The account whose funds are reserved.
    pub account: AccountId,
    /// How much.
    pub amount: Amount,
    /// Where a capture sends the money; `None` for out of the ledger (the
    /// settlement account), as a card payment does.
    pub destination: Option<AccountRef>,
    /// When it stops being capturable; at most [`HOLD_EXPIRY_SECS_MAX`] ahead.
    pub expires_at: Option<DateTime<Utc>>,
    /// Free text.
    pub description: Option<String>,
    /// The application's own details, stored on the transaction.
    #[serde(default)]
    pub metadata: Metadata,
}

/// Posts all or part of a pending hold and releases the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureHold {
    /// The hold.
    pub hold: TransactionId,
    /// How much to post; `None` for the whole hold.
    pub amount: Option<Amount>,
}

/// Releases a pending hold without posting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoidHold {
    /// The hold.
    pub hold: TransactionId,
}

/// The most postings in one entry.
pub const ENTRY_POSTINGS_MAX: usize = 64;

/// One posting of an [`Entry`]: `amount` of `currency` from `source` (its
/// balance is debited) to `destination` (credited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPosting {
    /// The account debited.
    pub source: AccountRef,
    /// The account credited.
    pub destination: AccountRef,
    /// How much.
    pub amount: Amount,
    /// Of which currency: both accounts must hold it.
    pub currency: Currency,
}

/// A general ledger entry: 1 to [`ENTRY_POSTINGS_MAX`] postings between any
/// accounts (customer or ledger), applied all or nothing; currencies may
/// mix, each posting in one. Floors are checked on the final state, so an
/// account may pass through zero within the entry. Only the embedding
/// program and admins post entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The postings, in order.
    pub postings: Vec<EntryPosting>,
    /// Free text.
    pub description: Option<String>,
    /// The application's own details, stored on the transaction.
    #[serde(default)]
    pub metadata: Metadata,
}

/// Moves a posted transaction's money back: a new transaction of kind
/// `reversal` whose legs are the original's, destination to source. Whole
/// (`amount: None`: what is left to reverse) for any posted transaction;
/// partial only for a single-posting one, repeatable until all of it is
/// reversed. Floors and statuses apply as to any posting. The embedding
/// program and admins only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reverse {
    /// The transaction to reverse.
    pub transaction: TransactionId,
    /// How much to move back; `None` for all that is left.
    pub amount: Option<Amount>,
    /// Free text.
    pub description: Option<String>,
    /// The application's own details, stored on the reversal.
    #[serde(default)]
    pub metadata: Metadata,
}

/// A command that moves or reserves money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MoneyCommand {
    /// See [`Deposit`].
    Deposit(Deposit),
    /// See [`Withdraw`].
    Withdraw(Withdraw),
    /// See [`Transfer`].
    Transfer(Transfer),
    /// See [`PlaceHold`].
    PlaceHold(PlaceHold),
    /// See [`CaptureHold`].
    CaptureHold(CaptureHold),
    /// See [`VoidHold`].
    VoidHold(VoidHold),
    /// See [`Entry`].
    Entry(Entry),
    /// See [`Reverse`].
    Reverse(Reverse),
}

impl MoneyCommand {
    /// The audit action name.
    pub fn action(&self) -> &'static str {
        match self {
            MoneyCommand::Deposit(_) => "deposit",
            MoneyCommand::Withdraw(_) => "withdrawal",
            MoneyCommand::Transfer(_) => "transfer",
            MoneyCommand::PlaceHold(_) => "hold.place",
            MoneyCommand::CaptureHold(_) => "hold.capture",
            MoneyCommand::VoidHold(_) => "hold.void",
            MoneyCommand::Entry(_) => "entry",
            MoneyCommand::Reverse(_) => "reversal",
        }
    }

    /// The audit target: the account or hold the command is aimed at.
    pub fn target(&self) -> String {
        match self {
            MoneyCommand::Deposit(c) => format!("account:{}", c.account),
            MoneyCommand::Withdraw(c) => format!("account:{}", c.account),
            MoneyCommand::Transfer(c) => format!("account:{}", c.from),
            MoneyCommand::PlaceHold(c) => format!("account:{}", c.account),
            MoneyCommand::CaptureHold(c) => format!("hold:{}", c.hold),
            MoneyCommand::VoidHold(c) => format!("hold:{}", c.hold),
            MoneyCommand::Entry(c) => format!("entry:{}", c.postings.len()),
            MoneyCommand::Reverse(c) => format!("transaction:{}", c.transaction),
        }
    }

    /// Feeds the command's canonical encoding to an idempotency fingerprint.
    pub(crate) fn fingerprint(&self, h: &mut Hasher) {
        h.str(self.action());
        match self {
            MoneyCommand::Deposit(c) => {
                h.str(&c.account.to_string()).decimal(c.amount.value()).opt_str(c.description.as_deref());
                metadata(h, &c.metadata);
            }
            MoneyCommand::Withdraw(c) => {
                h.str(&c.account.to_string()).decimal(c.amount.value()).opt_str(c.description.as_deref());
                metadata(h, &c.metadata);
            }
            MoneyCommand::Transfer(c) => {
                h.str(&c.from.to_string());
                account_ref(h, Some(&c.to));
                h.decimal(c.amount.value()).opt_str(c.description.as_deref());
                metadata(h, &c.metadata);
            }
            MoneyCommand::PlaceHold(c) => {
                h.str(&c.account.to_string()).decimal(c.amount.value());
                account_ref(h, c.destination.as_ref());
                h.opt_time(c.expires_at).opt_str(c.description.as_deref());
                metadata(h, &c.metadata);
            }
            MoneyCommand::CaptureHold(c) => {
                h.str(&c.hold.to_string()).opt_str(c.amount.map(|a| a.value().normalize().to_string()).as_deref());
            }
            MoneyCommand::VoidHold(c) => {
                h.str(&c.hold.to_string());
            }
            MoneyCommand::Entry(c) => {
                h.u64(c.postings.len() as u64);
                for p in &c.postings {
                    account_ref(h, Some(&p.source));
                    account_ref(h, Some(&p.destination));
                    h.decimal(p.amount.value()).str(p.currency.code());
                }
                h.opt_str(c.description.as_deref());
                c.metadata.fingerprint(h);
            }
            MoneyCommand::Reverse(c) => {
                h.str(&c.transaction.to_string());
                h.opt_str(c.amount.map(|a| a.value().normalize().to_string()).as_deref());
                h.opt_str(c.description.as_deref());
                c.metadata.fingerprint(h);
            }
        }
    }
}

fn account_ref(h: &mut Hasher, r: Option<&AccountRef>) {
    match r {
        None => h.str("none"),
        Some(AccountRef::Id(id)) => h.str("id").str(&id.to_string()),
        Some(AccountRef::Number(n)) => h.str("number").str(&n.to_string()),
        Some(AccountRef::Code(code)) => h.str("code").str(code.as_str()),
    };
}

/// Metadata in a retail command's fingerprint. Nothing when empty, so the
/// fingerprints of commands stored before metadata existed stay the same
/// and their replays still match.
fn metadata(h: &mut Hasher, metadata: &Metadata) {
    if !metadata.is_empty() {
        h.str("metadata");
        metadata.fingerprint(h);
    }
}

macro_rules! into_money_command {
    ($($t:ident),+) => {$(
        impl From<$t> for MoneyCommand {
            fn from(c: $t) -> Self {
                MoneyCommand::$t(c)
            }
        }
    )+};
}
into_money_command!(Deposit, Withdraw, Transfer, PlaceHold, CaptureHold, VoidHold, Entry, Reverse);
