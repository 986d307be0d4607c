//! Commands: what callers ask the ledger to do.
//!
//! Money-moving commands ([`MoneyCommand`]) always travel with an
//! [`IdempotencyKey`](crate::IdempotencyKey), alone or in an atomic batch.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::account::AccountKind;
use crate::account_number::AccountNumber;
use crate::digest::Hasher;
use crate::id::{AccountId, TransactionId, UserId};
use crate::money::{Amount, Currency};

/// The most commands in one atomic batch.
pub const BATCH_SIZE_MAX: usize = 1000;

/// The furthest ahead a hold may expire: 30 days.
pub const HOLD_EXPIRY_SECS_MAX: i64 = 30 * 24 * 60 * 60;

/// An account named by id or by its human-readable number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountRef {
    /// By id.
    Id(AccountId),
    /// By number (how people pay other people).
    Number(AccountNumber),
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
}

impl OpenAccount {
    /// A plain account: no name, no overdraft.
    pub fn new(owner: UserId, kind: AccountKind, currency: Currency) -> OpenAccount {
        OpenAccount { owner, kind, currency, name: None, overdraft_limit: Decimal::ZERO }
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
        }
    }

    /// Feeds the command's canonical encoding to an idempotency fingerprint.
    pub(crate) fn fingerprint(&self, h: &mut Hasher) {
        h.str(self.action());
        match self {
            MoneyCommand::Deposit(c) => {
                h.str(&c.account.to_string()).decimal(c.amount.value()).opt_str(c.description.as_deref());
            }
            MoneyCommand::Withdraw(c) => {
                h.str(&c.account.to_string()).decimal(c.amount.value()).opt_str(c.description.as_deref());
            }
            MoneyCommand::Transfer(c) => {
                h.str(&c.from.to_string());
                account_ref(h, Some(c.to));
                h.decimal(c.amount.value()).opt_str(c.description.as_deref());
            }
            MoneyCommand::PlaceHold(c) => {
                h.str(&c.account.to_string()).decimal(c.amount.value());
                account_ref(h, c.destination);
                h.opt_time(c.expires_at).opt_str(c.description.as_deref());
            }
            MoneyCommand::CaptureHold(c) => {
                h.str(&c.hold.to_string()).opt_str(c.amount.map(|a| a.value().normalize().to_string()).as_deref());
            }
            MoneyCommand::VoidHold(c) => {
                h.str(&c.hold.to_string());
            }
        }
    }
}

fn account_ref(h: &mut Hasher, r: Option<AccountRef>) {
    match r {
        None => h.str("none"),
        Some(AccountRef::Id(id)) => h.str("id").str(&id.to_string()),
        Some(AccountRef::Number(n)) => h.str("number").str(&n.to_string()),
    };
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
into_money_command!(Deposit, Withdraw, Transfer, PlaceHold, CaptureHold, VoidHold);
