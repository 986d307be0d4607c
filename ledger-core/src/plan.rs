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
use crate::money::{Amount, Currency, Money};
use crate::posting;
use crate::store::Store;
use crate::transaction::{Transaction, TransactionKind, TransactionStatus, validate_description};
use crate::write_batch::Op;

/// Plans commands against a store's immutable facts.
pub(crate) struct Planner<'a> {
    pub store: &'a dyn Store,
    pub at: DateTime<Utc>,
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
        Ok(vec![self.posted(TransactionKind::Withdrawal, money, (Some(account.id), None), description, settlement)])
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
        Ok(vec![self.posted(TransactionKind::Transfer, money, (Some(from.id), Some(to.id)), description, unused)])
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
        Ok(vec![Op::PlaceHold { transaction }])
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

    /// A hold and the account it reserves on.
    async fn hold(&self, id: TransactionId) -> Result<(Transaction, AccountId), LedgerError> {
        let hold = self.store.transaction(id).await?.ok_or(LedgerError::TransactionNotFound { transaction: id })?;
        match (hold.kind, hold.from_account) {
            (TransactionKind::Hold, Some(from)) => Ok((hold, from)),
            _ => Err(LedgerError::NotAHold { transaction: id }),
        }
    }

    /// A customer account by id; internal accounts are refused.
    pub async fn customer_account(&self, id: AccountId) -> Result<Account, LedgerError> {
        let account = self.store.account(id).await?.ok_or(LedgerError::AccountNotFound { account: id })?;
        if account.kind == AccountKind::Settlement {
            return Err(LedgerError::InternalAccount { account: id });
        }
        Ok(account)
    }

    /// The other side of a transfer or hold: a different customer account in
    /// the same currency, found by id or by number.
    async fn counterparty(&self, from: &Account, to: AccountRef) -> Result<Account, LedgerError> {
        let to = match to {
            AccountRef::Id(id) => self.customer_account(id).await?,
            AccountRef::Number(number) => {
                let account =
                    self.store.account_by_number(number).await?.ok_or(LedgerError::AccountNumberNotFound { number })?;
                if account.kind == AccountKind::Settlement {
                    return Err(LedgerError::InternalAccount { account: account.id });
                }
                account
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
