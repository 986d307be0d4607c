//! Planning: turns a validated command into the [`Op`]s of a write batch.
//!
//! Planning reads only facts that never change once written (an account's
//! existence, owner, kind, currency and number; a hold's accounts, amount
//! and currency), so reading them outside the store's transaction is safe,
//! and the account facts are served from memory once read
//! ([`AccountFactsCache`]). Everything that can change is left to
//! [`decide`](crate::decide).

use chrono::{DateTime, Duration, Utc};

use crate::account::AccountKind;
use crate::account_code::AccountCode;
use crate::account_number::AccountNumber;
use crate::command::{
    AccountRef, CaptureHold, Deposit, ENTRY_POSTINGS_MAX, Entry, HOLD_EXPIRY_SECS_MAX, MoneyCommand, PlaceHold,
    Reverse, Transfer, VoidHold, Withdraw,
};
use crate::error::LedgerError;
use crate::id::{AccountId, TransactionId};
use crate::identity::{Actor, Role};
use crate::ledger::account_facts::{AccountFacts, AccountFactsCache};
use crate::metadata::Metadata;
use crate::money::{Amount, Currency, Money};
use crate::posting;
use crate::store::Store;
use crate::transaction::{Leg, Transaction, TransactionKind, TransactionStatus, validate_description};
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
    pub facts: &'a AccountFactsCache,
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
            MoneyCommand::Entry(c) => self.entry(c).await,
            MoneyCommand::Reverse(c) => self.reverse(c).await,
        }
    }

    /// A reversal: privileged actors only; the original must have moved
    /// money (posted, with postings) and not be a reversal itself; a part
    /// only of a single-posting original, at its currency's precision. What
    /// is left to reverse is judged by `decide`, on the locked original.
    async fn reverse(&self, c: &Reverse) -> Result<Vec<Op>, LedgerError> {
        if !self.actor.is_privileged() {
            return Err(LedgerError::Forbidden);
        }
        let description = validate_description(c.description.as_deref())?;
        let id = c.transaction;
        let original = self.store.transaction(id).await?.ok_or(LedgerError::TransactionNotFound { transaction: id })?;
        if original.status != TransactionStatus::Posted || original.kind == TransactionKind::Reversal {
            return Err(LedgerError::NotReversible { transaction: id });
        }
        let legs = original.legs();
        let amount = match c.amount {
            Some(_) if legs.len() != 1 => {
                return Err(LedgerError::InvalidReversal("only a single-posting transaction is reversed in part"));
            }
            Some(amount) => Some(Money::new(amount, original.currency)?.value()),
            None => None,
        };
        let sides = (original.to_account, original.from_account);
        let mut reversal =
            self.record_of(TransactionKind::Reversal, rust_decimal::Decimal::ZERO, original.currency, sides);
        reversal.description = description;
        reversal.metadata = c.metadata.clone();
        reversal.reverses = Some(id);
        let mut accounts: Vec<AccountId> = Vec::new();
        for account in legs.iter().flat_map(|l| [l.source, l.destination]) {
            if !accounts.contains(&account) {
                accounts.push(account);
            }
        }
        Ok(vec![Op::Reverse { original: id, reversal, amount, accounts }])
    }

    async fn deposit(&self, c: &Deposit) -> Result<Vec<Op>, LedgerError> {
        let description = validate_description(c.description.as_deref())?;
        let account = self.customer_account(c.account).await?;
        let money = Money::new(c.amount, account.currency)?;
        let settlement = AccountId::settlement(account.currency);
        let sides = (None, Some(account.id));
        Ok(vec![self.posted(TransactionKind::Deposit, money, sides, (description, &c.metadata), settlement)])
    }

    async fn withdraw(&self, c: &Withdraw) -> Result<Vec<Op>, LedgerError> {
        let description = validate_description(c.description.as_deref())?;
        let account = self.customer_account(c.account).await?;
        let money = Money::new(c.amount, account.currency)?;
        let settlement = AccountId::settlement(account.currency);
        let mut ops = self.kyc_guard(self.kyc.withdrawals);
        let sides = (Some(account.id), None);
        ops.push(self.posted(TransactionKind::Withdrawal, money, sides, (description, &c.metadata), settlement));
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
        let to = self.counterparty(&from, &c.to).await?;
        let money = Money::new(c.amount, from.currency)?;
        let unused = AccountId::settlement(from.currency);
        let mut ops = self.kyc_guard(self.kyc.outgoing_transfers);
        let sides = (Some(from.id), Some(to.id));
        ops.push(self.posted(TransactionKind::Transfer, money, sides, (description, &c.metadata), unused));
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
        let destination = match &c.destination {
            Some(r) => Some(self.counterparty(&account, r).await?.id),
            None => None,
        };
        let money = Money::new(c.amount, account.currency)?;
        let sides = (Some(account.id), destination);
        let mut transaction = self.record(TransactionKind::Hold, money, sides, (description, &c.metadata));
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

    /// A hold the actor may capture or void, and the account it reserves on.
    ///
    /// Who decides a hold follows card processing: a hold with a destination
    /// is a payment authorised by the payer, and the payee (the merchant)
    /// captures it or releases it; the payer, who could otherwise take back
    /// a payment the merchant relies on, may do neither (forbidden: the hold
    /// is theirs to see). A hold without a destination reserves the owner's
    /// own funds toward the ledger (a pending withdrawal), and its owner
    /// decides it. Admins and the embedding program decide any hold. To
    /// anyone else the hold does not exist.
    async fn hold(&self, id: TransactionId) -> Result<(Transaction, AccountId), LedgerError> {
        let not_found = LedgerError::TransactionNotFound { transaction: id };
        let hold = self.store.transaction(id).await?.ok_or(not_found.clone())?;
        let owns = |side: Option<AccountId>| async move {
            match side {
                Some(side) => {
                    Ok::<_, LedgerError>(self.account(side).await?.is_some_and(|a| self.actor.may_act_for(a.owner)))
                }
                None => Ok(false),
            }
        };
        let (payer, payee) = (owns(hold.from_account).await?, owns(hold.to_account).await?);
        let privileged = self.actor.is_privileged();
        if !(privileged || payer || payee) {
            return Err(not_found);
        }
        let (TransactionKind::Hold, Some(from)) = (hold.kind, hold.from_account) else {
            return Err(LedgerError::NotAHold { transaction: id });
        };
        if !(privileged || payee || hold.to_account.is_none()) {
            return Err(LedgerError::Forbidden);
        }
        Ok((hold, from))
    }

    /// A customer account the actor may act on; internal accounts are
    /// refused, and to customers they do not exist.
    pub async fn customer_account(&self, id: AccountId) -> Result<AccountFacts, LedgerError> {
        let not_found = LedgerError::AccountNotFound { account: id };
        let account = self.account(id).await?.ok_or(not_found.clone())?;
        let account = self.not_internal(account, not_found.clone())?;
        if !self.actor.may_act_for(account.owner) {
            return Err(not_found);
        }
        Ok(account)
    }

    /// An account whose status the actor may change: a customer account
    /// they may act on or, for admins and the program, an application's
    /// ledger account. The settlement accounts never change status.
    pub async fn status_target(&self, id: AccountId) -> Result<AccountFacts, LedgerError> {
        let account = self.account(id).await?.ok_or(LedgerError::AccountNotFound { account: id })?;
        if account.kind == AccountKind::Ledger && self.actor.is_privileged() {
            return Ok(account);
        }
        self.customer_account(id).await
    }

    /// Refuses the ledger's internal accounts: by name to admins, and as
    /// `not_found` to customers, for whom they do not exist.
    fn not_internal(&self, account: AccountFacts, not_found: LedgerError) -> Result<AccountFacts, LedgerError> {
        if !account.kind.is_ledger() {
            return Ok(account);
        }
        Err(if self.actor.is_privileged() { LedgerError::InternalAccount { account: account.id } } else { not_found })
    }

    /// The other side of a transfer or hold: a different customer account in
    /// the same currency, found by id or by number.
    async fn counterparty(&self, from: &AccountFacts, to: &AccountRef) -> Result<AccountFacts, LedgerError> {
        let to = match to {
            AccountRef::Id(id) => self.customer_account(*id).await?,
            AccountRef::Number(number) => {
                let not_found = LedgerError::AccountNumberNotFound { number: *number };
                let account = self.account_by_number(*number).await?.ok_or(not_found.clone())?;
                self.not_internal(account, not_found)?
            }
            AccountRef::Code(code) => {
                let account = self.account_by_code(code).await?.ok_or(LedgerError::AccountCodeNotFound)?;
                self.not_internal(account, LedgerError::AccountCodeNotFound)?
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

    /// The facts of an account, from memory once read.
    async fn account(&self, id: AccountId) -> Result<Option<AccountFacts>, LedgerError> {
        Ok(self.facts.get_or_read(self.store, id).await?)
    }

    /// The facts of the account with this number, from memory once read.
    async fn account_by_number(&self, number: AccountNumber) -> Result<Option<AccountFacts>, LedgerError> {
        if let Some(facts) = self.facts.by_number(number) {
            return Ok(Some(facts));
        }
        Ok(self.store.account_by_number(number).await?.map(|account| self.facts.remember(&account)))
    }

    /// The facts of the ledger account with this code, from memory once read.
    async fn account_by_code(&self, code: &AccountCode) -> Result<Option<AccountFacts>, LedgerError> {
        Ok(self.facts.by_code_or_read(self.store, code).await?)
    }

    /// Any account, named any way: for the embedding program and admins,
    /// who may post to every account (entries).
    async fn any_account(&self, account: &AccountRef) -> Result<AccountFacts, LedgerError> {
        match account {
            AccountRef::Id(id) => self.account(*id).await?.ok_or(LedgerError::AccountNotFound { account: *id }),
            AccountRef::Number(number) => {
                self.account_by_number(*number).await?.ok_or(LedgerError::AccountNumberNotFound { number: *number })
            }
            AccountRef::Code(code) => self.account_by_code(code).await?.ok_or(LedgerError::AccountCodeNotFound),
        }
    }

    /// A general entry: each posting resolved (any account), checked
    /// (distinct sides, both in the posting's currency, the amount at its
    /// precision) and turned into two lines.
    async fn entry(&self, c: &Entry) -> Result<Vec<Op>, LedgerError> {
        if !self.actor.is_privileged() {
            return Err(LedgerError::Forbidden);
        }
        let description = validate_description(c.description.as_deref())?;
        if c.postings.is_empty() {
            return Err(LedgerError::InvalidEntry("an entry needs at least one posting"));
        }
        if c.postings.len() > ENTRY_POSTINGS_MAX {
            return Err(LedgerError::InvalidEntry("an entry has at most 64 postings"));
        }
        let mut legs = Vec::with_capacity(c.postings.len());
        for p in &c.postings {
            let (source, destination) = (self.any_account(&p.source).await?, self.any_account(&p.destination).await?);
            if source.id == destination.id {
                return Err(LedgerError::InvalidEntry("a posting moves money from an account to itself"));
            }
            for side in [source, destination] {
                if side.currency != p.currency {
                    return Err(LedgerError::CurrencyMismatch { expected: side.currency, found: p.currency });
                }
            }
            let amount = Money::new(p.amount, p.currency)?.value();
            legs.push(Leg { source: source.id, destination: destination.id, amount, currency: p.currency });
        }
        let first = legs[0];
        let amount = legs.iter().filter(|l| l.currency == first.currency).map(|l| l.amount).sum();
        let mut transaction = self.record_of(
            TransactionKind::Entry,
            amount,
            first.currency,
            (Some(first.source), Some(first.destination)),
        );
        transaction.description = description;
        transaction.metadata = c.metadata.clone();
        let postings = legs
            .iter()
            .flat_map(|l| posting::pair(transaction.id, l.source, l.destination, l.amount, l.currency))
            .collect();
        transaction.legs = legs;
        Ok(vec![Op::Post { transaction, postings }])
    }

    /// A posted transaction with its two lines. The debit side is `from` or,
    /// for a deposit, the settlement account; the credit side likewise.
    fn posted(
        &self,
        kind: TransactionKind,
        money: Money,
        sides: (Option<AccountId>, Option<AccountId>),
        details: (Option<String>, &Metadata),
        settlement: AccountId,
    ) -> Op {
        let transaction = self.record(kind, money, sides, details);
        let debit = sides.0.unwrap_or(settlement);
        let credit = sides.1.unwrap_or(settlement);
        let postings = posting::pair(transaction.id, debit, credit, money.value(), money.currency()).to_vec();
        Op::Post { transaction, postings }
    }

    /// A retail transaction's record, with its one leg: from `from` (or the
    /// settlement account) to `to` (or the settlement account).
    fn record(
        &self,
        kind: TransactionKind,
        money: Money,
        (from_account, to_account): (Option<AccountId>, Option<AccountId>),
        (description, metadata): (Option<String>, &Metadata),
    ) -> Transaction {
        let mut transaction = self.record_of(kind, money.value(), money.currency(), (from_account, to_account));
        let settlement = AccountId::settlement(money.currency());
        transaction.legs = vec![Leg {
            source: from_account.unwrap_or(settlement),
            destination: to_account.unwrap_or(settlement),
            amount: money.value(),
            currency: money.currency(),
        }];
        transaction.description = description;
        transaction.metadata = metadata.clone();
        transaction
    }

    /// A posted transaction's record with no legs, description or metadata yet.
    fn record_of(
        &self,
        kind: TransactionKind,
        amount: rust_decimal::Decimal,
        currency: Currency,
        (from_account, to_account): (Option<AccountId>, Option<AccountId>),
    ) -> Transaction {
        Transaction {
            id: TransactionId::new(),
            sequence: 0,
            kind,
            status: TransactionStatus::Posted,
            amount,
            currency,
            from_account,
            to_account,
            description: None,
            captured_amount: None,
            expires_at: None,
            created_at: self.at,
            updated_at: self.at,
            legs: Vec::new(),
            metadata: Metadata::empty(),
            reverses: None,
            reversed_amount: rust_decimal::Decimal::ZERO,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::time::Duration;

    use rust_decimal::Decimal;

    use super::*;
    use crate::account::Account;
    use crate::command::OpenAccount;
    use crate::conformance::recording::RecordingStore;
    use crate::domain::account::AccountKind;
    use crate::idempotency::IdempotencyKey;
    use crate::memory::MemoryStore;
    use crate::money::Currency;
    use crate::{Ledger, UserId};

    struct Fixture {
        ledger: Ledger,
        store: Arc<RecordingStore>,
        from: Account,
        to: Account,
        keys: std::cell::Cell<u32>,
    }

    impl Fixture {
        async fn new() -> Fixture {
            let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), Duration::ZERO));
            let ledger = Ledger::builder(store.clone()).open().await.unwrap();
            let open = || OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
            let from = ledger.open_account(&Actor::System, open()).await.unwrap();
            let to = ledger.open_account(&Actor::System, open()).await.unwrap();
            let fixture = Fixture { ledger, store, from, to, keys: std::cell::Cell::new(0) };
            let deposit = Deposit {
                account: fixture.from.id,
                amount: amount(100),
                description: None,
                metadata: Default::default(),
            };
            fixture.ledger.deposit(&Actor::System, fixture.key(), deposit).await.unwrap();
            fixture
        }

        fn key(&self) -> IdempotencyKey {
            self.keys.set(self.keys.get() + 1);
            IdempotencyKey::new(format!("k{}", self.keys.get())).unwrap()
        }

        async fn transfer(&self, to: impl Into<AccountRef>, units: i64) -> Result<(), LedgerError> {
            let command = Transfer {
                from: self.from.id,
                to: to.into(),
                amount: amount(units),
                description: None,
                metadata: Default::default(),
            };
            self.ledger.transfer(&Actor::System, self.key(), command).await.map(|_| ())
        }
    }

    fn amount(units: i64) -> Amount {
        Amount::new(Decimal::from(units)).unwrap()
    }

    #[tokio::test]
    async fn planning_reads_each_account_from_the_store_only_once() {
        let f = Fixture::new().await;
        f.transfer(f.to.id, 1).await.unwrap();
        let warm = f.store.account_reads();
        f.transfer(f.to.id, 1).await.unwrap();
        f.transfer(f.to.number, 1).await.unwrap();
        f.ledger.freeze(&Actor::System, f.to.id).await.unwrap();
        assert_eq!(f.store.account_reads(), warm, "planning read an account it had read before");
    }

    #[tokio::test]
    async fn remembered_accounts_still_meet_the_rules_on_what_changes() {
        let f = Fixture::new().await;
        f.transfer(f.to.id, 1).await.unwrap();
        let too_much = f.transfer(f.to.id, 1_000).await;
        assert!(matches!(too_much, Err(LedgerError::InsufficientFunds { .. })), "{too_much:?}");
        f.ledger.freeze(&Actor::System, f.to.id).await.unwrap();
        let frozen = f.transfer(f.to.number, 1).await;
        assert!(matches!(frozen, Err(LedgerError::AccountFrozen { .. })), "{frozen:?}");
        assert_eq!(f.ledger.account(&Actor::System, f.from.id).await.unwrap().balance.posted, Decimal::from(99));
    }

    #[tokio::test]
    async fn an_account_not_found_is_looked_up_again_every_time() {
        let f = Fixture::new().await;
        let unknown = AccountId::new();
        for _ in 0..2 {
            let reads = f.store.account_reads();
            let missing = f.transfer(unknown, 1).await;
            assert!(matches!(missing, Err(LedgerError::AccountNotFound { account }) if account == unknown));
            assert_eq!(f.store.account_reads(), reads + 1, "a missing account is never remembered");
        }
    }
}
