//! Planning: turns a validated command into the [`Op`]s of a write batch.
//!
//! Planning reads only facts that never change once written (an account's
//! existence, kind, currency and number; a hold's accounts, amount and
//! currency), so reading them outside the store's transaction is safe.
//! Everything that can change is left to [`decide`](crate::decide).

use chrono::{DateTime, Duration, Utc};

use crate::account::{Account, AccountKind};
use crate::command::{
    AccountRef, CaptureHold, Deposit, HOLD_EXPIRY_SECS_MAX, MoneyCommand, PlaceHold, Transfer, VoidHold, Withdraw,
};
use crate::error::LedgerError;
use crate::id::{AccountId, TransactionId};
use crate::identity::{Actor, Role};
use crate::money::{Amount, Currency, Money};
use crate::posting;
use crate::store::Store;
use crate::transaction::{Transaction, TransactionKind, TransactionStatus, validate_description};
use crate::write_batch::Op;

/// Which money commands need a KYC-verified customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KycPolicy {
    /// Withdrawals.
    pub withdrawals: bool,
    /// Transfers out of the customer's account.
    pub outgoing_transfers: bool,
    /// Holds (a captured hold pays out like a withdrawal).
    pub holds: bool,
}

impl Default for KycPolicy {
    /// Withdrawals, outgoing transfers and holds need a verified customer.
    fn default() -> Self {
        KycPolicy { withdrawals: true, outgoing_transfers: true, holds: true }
    }
}

impl KycPolicy {
    /// No KYC requirement at all (for embedding without identity checks).
    pub const NONE: KycPolicy = KycPolicy { withdrawals: false, outgoing_transfers: false, holds: false };
}

/// Plans commands against a store's immutable facts, for one actor.
///
/// Ownership never changes, so checking it here is race-free: a customer
/// names only their own accounts and holds (anything else is reported as not
/// found, never as existing), except that a transfer or hold may credit any
/// account named by its number.
pub(crate) struct Planner<'a> {
    pub store: &'a dyn Store,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub kyc: KycPolicy,
}

impl Planner<'_> {
    /// The ops for one money command.
    pub async fn plan(&self, command: &MoneyCommand) -> Result<Vec<Op>, LedgerError> {
        match command {
            MoneyCommand::Deposit(c) => self.deposit(c).await,
            MoneyCommand::Withdraw(c) => self.withdraw(c).await,
            MoneyCommand::Transfer(c) => self.transfer(c).await,
            MoneyCommand::PlaceHold(c) => self.place_hold(c).await,
            MoneyCommand::CaptureHold(c) => self.capture_hold(c).await,
            MoneyCommand::VoidHold(c) => self.void_hold(c).await,
        }
    }

    async fn deposit(&self, c: &Deposit) -> Result<Vec<Op>, LedgerError> {
        let description = validate_description(c.description.as_deref())?;
        let account = self.customer_account(c.account).await?;
        let money = Money::new(c.amount, account.currency)?;
        let settlement = AccountId::settlement(account.currency);
        Ok(vec![self.posted(TransactionKind::Deposit, money, (None, Some(account.id)), description, settlement)])
    }

    async fn withdraw(&self, c: &Withdraw) -> Result<Vec<Op>, LedgerError> {
        let description = validate_description(c.description.as_deref())?;
        let account = self.customer_account(c.account).await?;
        let money = Money::new(c.amount, account.currency)?;
        let settlement = AccountId::settlement(account.currency);
        let mut ops = self.kyc_guard(self.kyc.withdrawals);
        ops.push(self.posted(TransactionKind::Withdrawal, money, (Some(account.id), None), description, settlement));
        Ok(ops)
    }

    /// The KYC policy's guard for money leaving a customer's hands: checked
    /// inside the store's transaction, so a concurrent KYC change cannot slip by.
    fn kyc_guard(&self, required: bool) -> Vec<Op> {
        match self.actor {
            Actor::User { id, role: Role::Customer } if required => vec![Op::RequireVerified { user: id }],
            _ => Vec::new(),
        }
    }

    async fn transfer(&self, c: &Transfer) -> Result<Vec<Op>, LedgerError> {
        let description = validate_description(c.description.as_deref())?;
        if c.to == AccountRef::Id(c.from) {
            return Err(LedgerError::SameAccount);
        }
        let from = self.customer_account(c.from).await?;
        let to = self.counterparty(&from, c.to).await?;
        let money = Money::new(c.amount, from.currency)?;
        let unused = AccountId::settlement(from.currency);
        let mut ops = self.kyc_guard(self.kyc.outgoing_transfers);
        ops.push(self.posted(TransactionKind::Transfer, money, (Some(from.id), Some(to.id)), description, unused));
        Ok(ops)
    }

    async fn place_hold(&self, c: &PlaceHold) -> Result<Vec<Op>, LedgerError> {
        let description = validate_description(c.description.as_deref())?;
        if let Some(expiry) = c.expires_at
            && (expiry <= self.at || expiry > self.at + Duration::seconds(HOLD_EXPIRY_SECS_MAX))
        {
            return Err(LedgerError::InvalidExpiry);
        }
        if c.destination == Some(AccountRef::Id(c.account)) {
            return Err(LedgerError::SameAccount);
        }
        let account = self.customer_account(c.account).await?;
        let destination = match c.destination {
            Some(r) => Some(self.counterparty(&account, r).await?.id),
            None => None,
        };
        let money = Money::new(c.amount, account.currency)?;
        let mut transaction = self.record(TransactionKind::Hold, money, (Some(account.id), destination), description);
        transaction.status = TransactionStatus::Pending;
        transaction.expires_at = c.expires_at;
        let mut ops = self.kyc_guard(self.kyc.holds);
        ops.push(Op::PlaceHold { transaction });
        Ok(ops)
    }

    async fn capture_hold(&self, c: &CaptureHold) -> Result<Vec<Op>, LedgerError> {
        let (hold, from) = self.hold(c.hold).await?;
        let amount = match c.amount {
            Some(amount) => Money::new(amount, hold.currency)?.value(),
            None => hold.amount,
        };
        let to = hold.to_account.unwrap_or_else(|| AccountId::settlement(hold.currency));
        Ok(vec![Op::CaptureHold { hold: hold.id, from, to, amount }])
    }

    async fn void_hold(&self, c: &VoidHold) -> Result<Vec<Op>, LedgerError> {
        let (hold, from) = self.hold(c.hold).await?;
        Ok(vec![Op::VoidHold { hold: hold.id, from }])
    }

    /// A hold the actor may act on, and the account it reserves on.
    async fn hold(&self, id: TransactionId) -> Result<(Transaction, AccountId), LedgerError> {
        let not_found = LedgerError::TransactionNotFound { transaction: id };
        let hold = self.store.transaction(id).await?.ok_or(not_found.clone())?;
        let mut visible = self.actor.is_privileged();
        for side in [hold.from_account, hold.to_account].into_iter().flatten() {
            visible = visible || self.store.account(side).await?.is_some_and(|a| self.actor.may_act_for(a.owner));
        }
        if !visible {
            return Err(not_found);
        }
        match (hold.kind, hold.from_account) {
            (TransactionKind::Hold, Some(from)) => Ok((hold, from)),
            _ => Err(LedgerError::NotAHold { transaction: id }),
        }
    }

    /// A customer account the actor may act on; internal accounts are
    /// refused, and to customers they do not exist.
    pub async fn customer_account(&self, id: AccountId) -> Result<Account, LedgerError> {
        let not_found = LedgerError::AccountNotFound { account: id };
        let account = self.store.account(id).await?.ok_or(not_found.clone())?;
        let account = self.not_internal(account, not_found.clone())?;
        if !self.actor.may_act_for(account.owner) {
            return Err(not_found);
        }
        Ok(account)
    }

    /// Refuses the ledger's internal accounts: by name to admins, and as
    /// `not_found` to customers, for whom they do not exist.
    fn not_internal(&self, account: Account, not_found: LedgerError) -> Result<Account, LedgerError> {
        if account.kind != AccountKind::Settlement {
            return Ok(account);
        }
        Err(if self.actor.is_privileged() { LedgerError::InternalAccount { account: account.id } } else { not_found })
    }

    /// The other side of a transfer or hold: a different customer account in
    /// the same currency, found by id or by number.
    async fn counterparty(&self, from: &Account, to: AccountRef) -> Result<Account, LedgerError> {
        let to = match to {
            AccountRef::Id(id) => self.customer_account(id).await?,
            AccountRef::Number(number) => {
                let not_found = LedgerError::AccountNumberNotFound { number };
                let account = self.store.account_by_number(number).await?.ok_or(not_found.clone())?;
                self.not_internal(account, not_found)?
            }
        };
        if to.id == from.id {
            return Err(LedgerError::SameAccount);
        }
        if to.currency != from.currency {
            return Err(LedgerError::CurrencyMismatch { expected: from.currency, found: to.currency });
        }
        Ok(to)
    }

    /// A posted transaction with its two lines. The debit side is `from` or,
    /// for a deposit, the settlement account; the credit side likewise.
    fn posted(
        &self,
        kind: TransactionKind,
        money: Money,
        (from, to): (Option<AccountId>, Option<AccountId>),
        description: Option<String>,
        settlement: AccountId,
    ) -> Op {
        let transaction = self.record(kind, money, (from, to), description);
        let debit = from.unwrap_or(settlement);
        let credit = to.unwrap_or(settlement);
        let postings = posting::pair(transaction.id, debit, credit, money.value(), money.currency()).to_vec();
        Op::Post { transaction, postings }
    }

    fn record(
        &self,
        kind: TransactionKind,
        money: Money,
        (from_account, to_account): (Option<AccountId>, Option<AccountId>),
        description: Option<String>,
    ) -> Transaction {
        Transaction {
            id: TransactionId::new(),
            sequence: 0,
            kind,
            status: TransactionStatus::Posted,
            amount: money.value(),
            currency: money.currency(),
            from_account,
            to_account,
            description,
            captured_amount: None,
            expires_at: None,
            created_at: self.at,
            updated_at: self.at,
        }
    }
}

/// Checks an overdraft limit against the account's currency.
pub(crate) fn validate_overdraft_limit(
    limit: rust_decimal::Decimal,
    currency: Currency,
) -> Result<rust_decimal::Decimal, LedgerError> {
    if limit.is_zero() {
        return Ok(rust_decimal::Decimal::ZERO);
    }
    let amount = Amount::new(limit).map_err(|_| LedgerError::InvalidOverdraftLimit)?;
    Money::new(amount, currency).map(Money::value).map_err(|_| LedgerError::InvalidOverdraftLimit)
}
