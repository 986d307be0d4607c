//! Account commands: open, rename, freeze, unfreeze, close.

use super::*;
use crate::account::{AccountKind, NormalBalance};
use crate::account::{Balance, StatusChange, validate_account_name};
use crate::account_code::AccountCode;
use crate::account_number::AccountNumber;
use crate::command::{OpenAccount, OpenLedgerAccount};
use crate::id::UserId;
use crate::money::{AMOUNT_MAJOR_UNITS_MAX, Currency};
use crate::plan::validate_overdraft_limit;
use crate::query::PAGE_SIZE_MAX;
use rust_decimal::Decimal;

impl Ledger {
    /// Opens a customer account with a fresh, unique number. Customers open
    /// accounts for themselves and without overdraft; admins for anyone.
    pub async fn open_account(&self, actor: &Actor, command: OpenAccount) -> Result<Account, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(actor.audit_name(), "account.open", format!("user:{}", command.owner))
            .with("kind", command.kind.as_str())
            .with("currency", command.currency);
        let (name, overdraft_limit) = match self.check_open(actor, &command).await {
            Ok(valid) => valid,
            Err(error @ LedgerError::Storage(_)) => return Err(error),
            Err(error) => return self.reject(at, draft, error).await,
        };
        for _ in 0..ACCOUNT_NUMBER_ATTEMPTS_MAX {
            let account = Account {
                id: AccountId::new(),
                // Drawn per attempt: a thread-local RNG must not live across
                // an await, or the future stops being Send.
                number: AccountNumber::random(&mut rand::rng()),
                owner: command.owner,
                kind: command.kind,
                currency: command.currency,
                name: name.clone(),
                status: crate::AccountStatus::Active,
                overdraft_limit,
                balance: Balance::default(),
                created_at: at,
                updated_at: at,
                code: None,
                normal_balance: NormalBalance::Credit,
                ledger_floor: None,
                metadata: command.metadata.clone(),
            };
            match self.create_account(at, draft.clone(), account).await {
                Err(LedgerError::AccountNumberTaken) => continue,
                created => return created,
            }
        }
        Err(LedgerError::AccountNumberTaken)
    }

    /// Applies the creation of an account; a taken number is for the caller
    /// to draw again.
    async fn create_account(
        &self,
        at: DateTime<Utc>,
        draft: AuditDraft,
        account: Account,
    ) -> Result<Account, LedgerError> {
        let draft = draft.with("account", account.id).with("number", account.number);
        let writes = self.apply(WriteBatch::new(at, draft, None, vec![Op::CreateAccount(account.clone())])).await?;
        // As committed: stamped at its commit time, which is later than `at`
        // when another commit got there first. (Without a key nothing replays.)
        let committed = writes.and_then(|w| w.new_accounts.into_iter().find(|a| a.id == account.id));
        let Some(committed) = committed else { return Ok(account) };
        // Its facts never change: the first command that names it is planned
        // without reading it back.
        self.facts.remember(&committed);
        Ok(committed)
    }

    /// Opens a ledger account: one the embedding program (or an admin)
    /// names by a unique code, owned by no customer, with its normal side,
    /// floor and metadata. A taken code is [`LedgerError::AccountCodeTaken`].
    pub async fn open_ledger_account(&self, actor: &Actor, command: OpenLedgerAccount) -> Result<Account, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(actor.audit_name(), "ledger_account.open", format!("code:{}", command.code))
            .with("currency", command.currency)
            .with("normal_balance", command.normal_balance.as_str());
        let checked = actor.require_admin().and_then(|()| {
            let name = validate_account_name(command.name.as_deref())?;
            Ok((name, validate_floor(command.resolved_floor(), command.currency)?))
        });
        let (name, floor) = match checked {
            Ok(valid) => valid,
            Err(error) => return self.reject(at, draft, error).await,
        };
        for _ in 0..ACCOUNT_NUMBER_ATTEMPTS_MAX {
            let account = Account {
                id: AccountId::new(),
                number: AccountNumber::random(&mut rand::rng()),
                owner: UserId::SYSTEM,
                kind: AccountKind::Ledger,
                currency: command.currency,
                name: name.clone(),
                status: crate::AccountStatus::Active,
                overdraft_limit: Decimal::ZERO,
                balance: Balance::default(),
                created_at: at,
                updated_at: at,
                code: Some(command.code.clone()),
                normal_balance: command.normal_balance,
                ledger_floor: floor,
                metadata: command.metadata.clone(),
            };
            match self.create_account(at, draft.clone(), account).await {
                Err(LedgerError::AccountNumberTaken) => continue,
                created => return created,
            }
        }
        Err(LedgerError::AccountNumberTaken)
    }

    /// A ledger account by code (the embedding program and admins only).
    pub async fn ledger_account(&self, actor: &Actor, code: &AccountCode) -> Result<Account, LedgerError> {
        actor.require_admin()?;
        let account = self.store.account_by_code(code).await?.ok_or(LedgerError::AccountCodeNotFound)?;
        // Its facts (id, code, currency) never change: later reads by code
        // (a balance as of, a history) need not read it again.
        self.facts.remember(&account);
        Ok(account)
    }

    /// The id of the ledger account with this code, for an admin (or the
    /// embedding program): one store read the first time, none after (a
    /// code never changes once set). Forbidden to anyone else before the
    /// code is looked at, so no code is revealed.
    pub async fn ledger_account_id(&self, actor: &Actor, code: &AccountCode) -> Result<AccountId, LedgerError> {
        actor.require_admin()?;
        let facts = self.facts.by_code_or_read(self.store.as_ref(), code).await?;
        facts.map(|f| f.id).ok_or(LedgerError::AccountCodeNotFound)
    }

    /// Ledger accounts in code order after `after`, at most `limit` (the
    /// embedding program and admins only).
    pub async fn ledger_accounts(
        &self,
        actor: &Actor,
        after: Option<&AccountCode>,
        limit: usize,
    ) -> Result<Vec<Account>, LedgerError> {
        actor.require_admin()?;
        if limit == 0 || limit > PAGE_SIZE_MAX {
            return Err(LedgerError::InvalidPageSize { max: PAGE_SIZE_MAX });
        }
        Ok(self.store.ledger_accounts(after, limit).await?)
    }

    async fn check_open(
        &self,
        actor: &Actor,
        command: &OpenAccount,
    ) -> Result<(Option<String>, rust_decimal::Decimal), LedgerError> {
        if !command.kind.is_customer() {
            return Err(LedgerError::InvalidAccountKind);
        }
        let name = validate_account_name(command.name.as_deref())?;
        let overdraft_limit = validate_overdraft_limit(command.overdraft_limit, command.currency)?;
        if !actor.may_act_for(command.owner) || (!overdraft_limit.is_zero() && !actor.is_privileged()) {
            return Err(LedgerError::Forbidden);
        }
        Ok((name, overdraft_limit))
    }

    /// Freezes an active account: it accepts no postings until unfrozen.
    /// Owners may freeze their own accounts.
    pub async fn freeze(&self, actor: &Actor, account: AccountId) -> Result<Account, LedgerError> {
        self.change_status(actor, account, StatusChange::Freeze).await
    }

    /// Unfreezes a frozen account: admins only.
    pub async fn unfreeze(&self, actor: &Actor, account: AccountId) -> Result<Account, LedgerError> {
        self.change_status(actor, account, StatusChange::Unfreeze).await
    }

    /// Closes an account with a zero balance and no open holds. Final.
    pub async fn close(&self, actor: &Actor, account: AccountId) -> Result<Account, LedgerError> {
        self.change_status(actor, account, StatusChange::Close).await
    }

    /// Gives an account a new display name (`None` clears it): owners
    /// their own accounts, admins and the program any but the settlement
    /// accounts. A closed account keeps its name.
    pub async fn rename_account(
        &self,
        actor: &Actor,
        id: AccountId,
        name: Option<&str>,
    ) -> Result<Account, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(actor.audit_name(), "account.rename", format!("account:{id}"));
        let checked = match self.planner(at, actor).status_target(id).await {
            Ok(_) => validate_account_name(name),
            Err(error) => Err(error),
        };
        let name = match checked {
            Ok(name) => name,
            Err(error @ LedgerError::Storage(_)) => return Err(error),
            Err(error) => return self.reject(at, draft, error).await,
        };
        let draft = draft.with("name", name.as_deref().unwrap_or(""));
        self.apply_to_account(at, draft, id, Op::RenameAccount { account: id, name }).await
    }

    async fn change_status(&self, actor: &Actor, id: AccountId, change: StatusChange) -> Result<Account, LedgerError> {
        let at = self.clock.now();
        let draft =
            AuditDraft::new(actor.audit_name(), format!("account.{}", change.as_str()), format!("account:{id}"));
        let allowed = match self.planner(at, actor).status_target(id).await {
            Ok(_) if change == StatusChange::Unfreeze => actor.require_admin(),
            other => other.map(|_| ()),
        };
        match allowed {
            Err(error @ LedgerError::Storage(_)) => return Err(error),
            Err(error) => return self.reject(at, draft, error).await,
            Ok(()) => {}
        }
        self.apply_to_account(at, draft, id, Op::ChangeStatus { account: id, change }).await
    }

    /// Applies one op on an existing account; returns the account as the
    /// commit left it.
    async fn apply_to_account(
        &self,
        at: DateTime<Utc>,
        draft: AuditDraft,
        id: AccountId,
        op: Op,
    ) -> Result<Account, LedgerError> {
        let writes = self.apply(WriteBatch::new(at, draft, None, vec![op])).await?;
        writes
            .and_then(|w| w.updated_accounts.into_iter().find(|a| a.id == id))
            .ok_or(LedgerError::AccountNotFound { account: id })
    }
}

/// Checks a ledger account's floor: any decimal (zero or negative too) at
/// the currency's precision and at most the largest amount in size.
fn validate_floor(floor: Option<Decimal>, currency: Currency) -> Result<Option<Decimal>, LedgerError> {
    let Some(floor) = floor else { return Ok(None) };
    let fits = floor.abs() <= Decimal::from(AMOUNT_MAJOR_UNITS_MAX) && floor.normalize().scale() <= currency.exponent();
    if fits { Ok(Some(floor)) } else { Err(LedgerError::InvalidFloor) }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::conformance::recording::RecordingStore;
    use crate::memory::MemoryStore;

    /// A store that counts account reads, and a ledger on it.
    async fn recorded() -> (Arc<RecordingStore>, Ledger) {
        let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), Duration::ZERO));
        let ledger = Ledger::builder(store.clone()).open().await.unwrap();
        (store, ledger)
    }

    /// Two checking accounts in USD, opened by `ledger`, the first funded
    /// with 100.00.
    async fn two_accounts(ledger: &Ledger) -> (AccountId, AccountId) {
        let open = || OpenAccount::new(crate::UserId::new(), crate::AccountKind::Checking, Currency::Usd);
        let from = ledger.open_account(&Actor::System, open()).await.unwrap().id;
        let to = ledger.open_account(&Actor::System, open()).await.unwrap().id;
        let deposit = crate::Deposit {
            account: from,
            amount: crate::Amount::parse("100.00").unwrap(),
            description: None,
            metadata: Default::default(),
        };
        ledger.deposit(&Actor::System, key("fund"), deposit).await.unwrap();
        (from, to)
    }

    fn key(k: &str) -> crate::IdempotencyKey {
        crate::IdempotencyKey::new(k).unwrap()
    }

    /// 10.00 from `from` to `to`.
    fn transfer(from: AccountId, to: AccountId) -> crate::Transfer {
        let amount = crate::Amount::parse("10.00").unwrap();
        crate::Transfer { from, to: crate::AccountRef::Id(to), amount, description: None, metadata: Default::default() }
    }

    /// An account this ledger opened is known to it: planning a deposit
    /// into it and a transfer out of it reads no account.
    #[tokio::test]
    async fn an_account_the_ledger_opened_is_planned_without_reading_it() {
        let (store, ledger) = recorded().await;
        let reads = store.account_reads();
        let (from, to) = two_accounts(&ledger).await;
        ledger.transfer(&Actor::System, key("t1"), transfer(from, to)).await.unwrap();
        assert_eq!(store.account_reads(), reads, "planning read an account this ledger opened");

        // A fresh ledger over the same store reads the accounts it plans with.
        let fresh = Ledger::builder(store.clone()).open().await.unwrap();
        fresh.transfer(&Actor::System, key("t2"), transfer(to, from)).await.unwrap();
        assert!(store.account_reads() >= reads + 2, "a fresh ledger planned without reading");
    }

    /// An account read through the ledger is known to it afterwards: a
    /// transfer between two accounts it has read reads neither again.
    #[tokio::test]
    async fn an_account_read_through_the_ledger_is_planned_without_reading_it_again() {
        let (store, opener) = recorded().await;
        let (from, to) = two_accounts(&opener).await;

        let ledger = Ledger::builder(store.clone()).open().await.unwrap();
        ledger.account(&Actor::System, from).await.unwrap();
        ledger.account(&Actor::System, to).await.unwrap();
        let reads = store.account_reads();
        ledger.transfer(&Actor::System, key("t"), transfer(from, to)).await.unwrap();
        assert_eq!(store.account_reads(), reads, "planning read an account this ledger had read");
    }

    /// Reading a ledger account by its code remembers its facts, so finding
    /// its id by code afterwards reads nothing; a code not found is not
    /// remembered.
    #[tokio::test]
    async fn reading_a_ledger_account_remembers_its_facts() {
        let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), Duration::ZERO));
        let ledger = Ledger::builder(store.clone()).open().await.unwrap();
        let code = AccountCode::parse("revenue:fees").unwrap();
        let command = OpenLedgerAccount::new(code.clone(), Currency::Usd, NormalBalance::Credit);
        let opened = ledger.open_ledger_account(&Actor::System, command).await.unwrap();
        // A fresh ledger over the same store knows no facts yet.
        let ledger = Ledger::builder(store.clone()).open().await.unwrap();
        assert_eq!(ledger.ledger_account(&Actor::System, &code).await.unwrap().id, opened.id);
        let read = store.account_reads();
        assert_eq!(ledger.ledger_account_id(&Actor::System, &code).await.unwrap(), opened.id);
        assert_eq!(store.account_reads(), read, "the id was read again after the account was");

        let missing = AccountCode::parse("revenue:none").unwrap();
        let not_found = Err(LedgerError::AccountCodeNotFound);
        assert_eq!(ledger.ledger_account(&Actor::System, &missing).await.map(|a| a.id), not_found.clone());
        assert_eq!(ledger.ledger_account_id(&Actor::System, &missing).await, not_found);
        assert_eq!(store.account_reads(), read + 2, "a code not found is read each time");
    }
}
