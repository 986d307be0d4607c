//! The [`Ledger`] facade: the one entry point the rest of the world calls.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::account::{Account, Balance, StatusChange, validate_account_name};
use crate::account_number::AccountNumber;
use crate::audit::{AUDIT_PAGE_SIZE_MAX, AuditDraft, AuditHead, AuditRecord, ChainVerifier};
use crate::clock::{Clock, SystemClock};
use crate::command::{
    BATCH_SIZE_MAX, CaptureHold, Deposit, MoneyCommand, OpenAccount, PlaceHold, Transfer, VoidHold, Withdraw,
};
use crate::digest::Hasher;
use crate::error::LedgerError;
use crate::event::{EVENT_BUFFER_LEN, LedgerEvent};
use crate::id::{AccountId, TransactionId, UserId};
use crate::idempotency::{IdempotencyClaim, IdempotencyKey, IdempotencyRecord};
use crate::money::Currency;
use crate::plan::{Planner, validate_overdraft_limit};
use crate::query::{Cursor, HistoryFilter, Page, PageRequest};
use crate::store::Store;
use crate::transaction::Transaction;
use crate::write_batch::{BatchOutcome, Op, WriteBatch, Writes};

/// How many times opening an account draws a new number after a collision.
pub const ACCOUNT_NUMBER_ATTEMPTS_MAX: usize = 8;

/// The most expired holds one sweep releases.
pub const EXPIRY_SWEEP_SIZE_MAX: usize = 500;

/// Who the audit log names for commands (identity arrives with users).
const ACTOR_SYSTEM: &str = "system";

/// The result of a money command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction created or changed (its current state on a replay).
    pub transaction: Transaction,
    /// Whether this was a replay of an earlier command with the same key.
    pub replayed: bool,
}

/// The result of an atomic batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchReceipt {
    /// The transactions created or changed, in command order.
    pub transactions: Vec<Transaction>,
    /// Whether this was a replay of an earlier batch with the same key.
    pub replayed: bool,
}

/// A double-entry ledger over any [`Store`].
///
/// Cheap to clone; clones share the store and the event channel.
#[derive(Clone)]
pub struct Ledger {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<LedgerEvent>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("backend", &self.store.backend()).finish()
    }
}

impl Ledger {
    /// Opens a ledger on a store with the system clock, creating the
    /// settlement accounts if they are missing.
    pub async fn open(store: impl Store) -> Result<Ledger, LedgerError> {
        Ledger::open_with_clock(Arc::new(store), Arc::new(SystemClock)).await
    }

    /// Opens a ledger on a shared store with a given clock.
    pub async fn open_with_clock(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Ledger, LedgerError> {
        let (events, _) = broadcast::channel(EVENT_BUFFER_LEN);
        let ledger = Ledger { store, clock, events };
        ledger.ensure_settlement_accounts().await?;
        Ok(ledger)
    }

    async fn ensure_settlement_accounts(&self) -> Result<(), LedgerError> {
        let mut missing = Vec::new();
        for currency in Currency::ALL {
            if self.store.account(AccountId::settlement(*currency)).await?.is_none() {
                missing.push(*currency);
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let at = self.clock.now();
        let ops = missing.iter().map(|c| Op::EnsureAccount(Account::settlement(*c, at))).collect();
        let draft = AuditDraft::new(ACTOR_SYSTEM, "ledger.init", "settlement");
        self.apply(WriteBatch::new(at, draft, None, ops)).await.map(|_| ())
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The ledger's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Subscribes to changes committed through this ledger from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LedgerEvent> {
        self.events.subscribe()
    }

    // Commands.

    /// Opens a customer account with a fresh, unique number.
    pub async fn open_account(&self, command: OpenAccount) -> Result<Account, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(ACTOR_SYSTEM, "account.open", format!("user:{}", command.owner))
            .with("kind", command.kind.as_str())
            .with("currency", command.currency);
        let checked = (|| {
            if !command.kind.is_customer() {
                return Err(LedgerError::InvalidAccountKind);
            }
            Ok((
                validate_account_name(command.name.as_deref())?,
                validate_overdraft_limit(command.overdraft_limit, command.currency)?,
            ))
        })();
        let (name, overdraft_limit) = match checked {
            Ok(valid) => valid,
            Err(error) => return self.reject(at, draft, error).await,
        };
        let mut rng = rand::rng();
        let mut last = LedgerError::AccountNumberTaken;
        for _ in 0..ACCOUNT_NUMBER_ATTEMPTS_MAX {
            let account = Account {
                id: AccountId::new(),
                number: AccountNumber::random(&mut rng),
                owner: command.owner,
                kind: command.kind,
                currency: command.currency,
                name: name.clone(),
                status: crate::AccountStatus::Active,
                overdraft_limit,
                balance: Balance::default(),
                created_at: at,
                updated_at: at,
            };
            let draft = draft.clone().with("account", account.id).with("number", account.number);
            match self.apply(WriteBatch::new(at, draft, None, vec![Op::CreateAccount(account.clone())])).await {
                Ok(_) => return Ok(account),
                Err(LedgerError::AccountNumberTaken) => last = LedgerError::AccountNumberTaken,
                Err(other) => return Err(other),
            }
        }
        Err(last)
    }

    /// Freezes an active account: it accepts no postings until unfrozen.
    pub async fn freeze(&self, account: AccountId) -> Result<Account, LedgerError> {
        self.change_status(account, StatusChange::Freeze).await
    }

    /// Unfreezes a frozen account.
    pub async fn unfreeze(&self, account: AccountId) -> Result<Account, LedgerError> {
        self.change_status(account, StatusChange::Unfreeze).await
    }

    /// Closes an account with a zero balance and no open holds. Final.
    pub async fn close(&self, account: AccountId) -> Result<Account, LedgerError> {
        self.change_status(account, StatusChange::Close).await
    }

    async fn change_status(&self, id: AccountId, change: StatusChange) -> Result<Account, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(ACTOR_SYSTEM, format!("account.{}", change.as_str()), format!("account:{id}"));
        if let Err(error) = self.planner(at).customer_account(id).await {
            return self.reject(at, draft, error).await;
        }
        let writes =
            self.apply(WriteBatch::new(at, draft, None, vec![Op::ChangeStatus { account: id, change }])).await?;
        writes
            .and_then(|w| w.updated_accounts.into_iter().find(|a| a.id == id))
            .ok_or(LedgerError::AccountNotFound { account: id })
    }

    /// Runs one money command under an idempotency key.
    pub async fn execute(&self, key: IdempotencyKey, command: impl Into<MoneyCommand>) -> Result<Receipt, LedgerError> {
        let command = command.into();
        let at = self.clock.now();
        let draft = AuditDraft::new(ACTOR_SYSTEM, command.action(), command.target()).with("idempotency_key", &key);
        let claim = IdempotencyClaim { key, fingerprint: fingerprint(std::slice::from_ref(&command), false) };
        let ops = match self.planner(at).plan(&command).await {
            Ok(ops) => ops,
            Err(error) => {
                let receipt = self.refuse(at, draft, &claim, error).await?;
                return self.single(receipt);
            }
        };
        let receipt = self.apply_claimed(WriteBatch::new(at, draft, Some(claim), ops)).await?;
        self.single(receipt)
    }

    /// The receipt of a single command from its batch receipt.
    fn single(&self, receipt: BatchReceipt) -> Result<Receipt, LedgerError> {
        let replayed = receipt.replayed;
        let transaction = receipt.transactions.into_iter().next().ok_or_else(|| {
            LedgerError::Storage(crate::StorageError::new(
                self.store.backend(),
                "idempotency record has no transaction",
            ))
        })?;
        Ok(Receipt { transaction, replayed })
    }

    /// Runs several money commands all or nothing, under one idempotency key.
    ///
    /// Commands apply in order and each sees the effects of those before it.
    /// If any fails, none applies and the error is
    /// [`LedgerError::BatchCommandFailed`] with the failing index.
    pub async fn execute_batch(
        &self,
        key: IdempotencyKey,
        commands: Vec<MoneyCommand>,
    ) -> Result<BatchReceipt, LedgerError> {
        let at = self.clock.now();
        let draft = AuditDraft::new(ACTOR_SYSTEM, "batch", format!("batch:{}", commands.len()))
            .with("idempotency_key", &key)
            .with("commands", commands.iter().map(MoneyCommand::action).collect::<Vec<_>>().join(","));
        if commands.is_empty() {
            return self.reject(at, draft, LedgerError::BatchEmpty).await;
        }
        if commands.len() > BATCH_SIZE_MAX {
            return self
                .reject(at, draft, LedgerError::BatchTooLarge { len: commands.len(), max: BATCH_SIZE_MAX })
                .await;
        }
        let claim = IdempotencyClaim { key, fingerprint: fingerprint(&commands, true) };
        let planner = self.planner(at);
        let mut ops = Vec::new();
        for (index, command) in commands.iter().enumerate() {
            match planner.plan(command).await {
                Ok(planned) => ops.extend(planned.into_iter().map(|op| (index, op))),
                Err(error @ LedgerError::Storage(_)) => return Err(error),
                Err(error) => {
                    let error = LedgerError::BatchCommandFailed { index, source: Box::new(error) };
                    return self.refuse(at, draft, &claim, error).await;
                }
            }
        }
        self.apply_claimed(WriteBatch::multi(at, draft, Some(claim), ops)).await
    }

    /// Deposits (see [`Deposit`]).
    pub async fn deposit(&self, key: IdempotencyKey, command: Deposit) -> Result<Receipt, LedgerError> {
        self.execute(key, command).await
    }

    /// Withdraws (see [`Withdraw`]).
    pub async fn withdraw(&self, key: IdempotencyKey, command: Withdraw) -> Result<Receipt, LedgerError> {
        self.execute(key, command).await
    }

    /// Transfers (see [`Transfer`]).
    pub async fn transfer(&self, key: IdempotencyKey, command: Transfer) -> Result<Receipt, LedgerError> {
        self.execute(key, command).await
    }

    /// Places a hold (see [`PlaceHold`]).
    pub async fn place_hold(&self, key: IdempotencyKey, command: PlaceHold) -> Result<Receipt, LedgerError> {
        self.execute(key, command).await
    }

    /// Captures a hold (see [`CaptureHold`]).
    pub async fn capture_hold(&self, key: IdempotencyKey, command: CaptureHold) -> Result<Receipt, LedgerError> {
        self.execute(key, command).await
    }

    /// Voids a hold (see [`VoidHold`]).
    pub async fn void_hold(&self, key: IdempotencyKey, command: VoidHold) -> Result<Receipt, LedgerError> {
        self.execute(key, command).await
    }

    /// Voids pending holds whose expiry has passed, up to
    /// [`EXPIRY_SWEEP_SIZE_MAX`] per call, in one store call. Returns how many
    /// it released. Run it periodically; until it runs, an expired hold
    /// still reserves its funds but can no longer be captured.
    pub async fn expire_holds(&self) -> Result<usize, LedgerError> {
        let at = self.clock.now();
        let expired = self.store.expired_holds(at, EXPIRY_SWEEP_SIZE_MAX).await?;
        let batches: Vec<WriteBatch> = expired
            .iter()
            .filter_map(|hold| {
                let from = hold.from_account?;
                let draft = AuditDraft::new(ACTOR_SYSTEM, "hold.expire", format!("hold:{}", hold.id));
                Some(WriteBatch::new(at, draft, None, vec![Op::VoidHold { hold: hold.id, from }]))
            })
            .collect();
        if batches.is_empty() {
            return Ok(0);
        }
        let outcomes = self.store.apply(batches).await?;
        let mut released = 0;
        for outcome in outcomes {
            if let BatchOutcome::Committed(writes) = outcome {
                self.publish(&writes);
                released += 1;
            }
        }
        Ok(released)
    }

    // Queries.

    /// An account by id.
    pub async fn account(&self, id: AccountId) -> Result<Account, LedgerError> {
        self.store.account(id).await?.ok_or(LedgerError::AccountNotFound { account: id })
    }

    /// An account by number.
    pub async fn account_by_number(&self, number: AccountNumber) -> Result<Account, LedgerError> {
        self.store.account_by_number(number).await?.ok_or(LedgerError::AccountNumberNotFound { number })
    }

    /// An account's balances.
    pub async fn balance(&self, id: AccountId) -> Result<Balance, LedgerError> {
        Ok(self.account(id).await?.balance)
    }

    /// An owner's accounts, oldest first.
    pub async fn accounts_of(&self, owner: UserId) -> Result<Vec<Account>, LedgerError> {
        Ok(self.store.accounts_by_owner(owner).await?)
    }

    /// A transaction by id.
    pub async fn transaction(&self, id: TransactionId) -> Result<Transaction, LedgerError> {
        self.store.transaction(id).await?.ok_or(LedgerError::TransactionNotFound { transaction: id })
    }

    /// A page of transaction history, newest first.
    pub async fn history(&self, filter: &HistoryFilter, page: PageRequest) -> Result<Page<Transaction>, LedgerError> {
        filter.validate()?;
        page.validate()?;
        let before = page.cursor.map(Cursor::before_sequence);
        let mut items = self.store.transactions(filter, before, page.size + 1).await?;
        let next_cursor = if items.len() > page.size {
            items.truncate(page.size);
            items.last().map(Cursor::after)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Audit records after a sequence, in order.
    pub async fn audit_log(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, LedgerError> {
        if limit == 0 || limit > AUDIT_PAGE_SIZE_MAX {
            return Err(LedgerError::InvalidPageSize { max: AUDIT_PAGE_SIZE_MAX });
        }
        Ok(self.store.audit_records(after, limit).await?)
    }

    /// Recomputes the whole audit chain; `expected_head` also catches a
    /// truncated tail.
    pub async fn verify_audit_chain(&self, expected_head: Option<AuditHead>) -> Result<AuditHead, LedgerError> {
        let mut verifier = ChainVerifier::new();
        loop {
            let page = self.store.audit_records(verifier.head().sequence, AUDIT_PAGE_SIZE_MAX).await?;
            for record in &page {
                verifier.push(record)?;
            }
            if page.len() < AUDIT_PAGE_SIZE_MAX {
                return Ok(verifier.finish(expected_head)?);
            }
        }
    }

    // Plumbing.

    fn planner(&self, at: DateTime<Utc>) -> Planner<'_> {
        Planner { store: self.store.as_ref(), at }
    }

    /// Applies one unclaimed batch; a replay cannot happen without a claim.
    async fn apply(&self, batch: WriteBatch) -> Result<Option<Writes>, LedgerError> {
        match self.apply_outcome(batch).await? {
            BatchOutcome::Committed(writes) => Ok(Some(*writes)),
            BatchOutcome::Replayed(_) => Ok(None),
            BatchOutcome::Rejected(error) => Err(error),
        }
    }

    /// Applies a claimed batch, resolving a replay to the stored transactions.
    async fn apply_claimed(&self, batch: WriteBatch) -> Result<BatchReceipt, LedgerError> {
        match self.apply_outcome(batch).await? {
            BatchOutcome::Committed(writes) => {
                let mut transactions: Vec<Transaction> = writes.new_transactions.clone();
                transactions.extend(writes.updated_transactions.iter().cloned());
                let order = writes.idempotency.as_ref().map(|r| r.transaction_ids.clone()).unwrap_or_default();
                transactions.sort_by_key(|t| order.iter().position(|id| *id == t.id));
                Ok(BatchReceipt { transactions, replayed: false })
            }
            BatchOutcome::Replayed(record) => self.replayed(record).await,
            BatchOutcome::Rejected(error) => Err(error),
        }
    }

    async fn replayed(&self, record: IdempotencyRecord) -> Result<BatchReceipt, LedgerError> {
        let mut transactions = Vec::with_capacity(record.transaction_ids.len());
        for id in record.transaction_ids {
            transactions.push(self.transaction(id).await?);
        }
        Ok(BatchReceipt { transactions, replayed: true })
    }

    async fn apply_outcome(&self, batch: WriteBatch) -> Result<BatchOutcome, LedgerError> {
        let outcome = self.store.apply(vec![batch]).await?.into_iter().next().ok_or_else(|| {
            LedgerError::Storage(crate::StorageError::new(self.store.backend(), "apply returned no outcome"))
        })?;
        if let BatchOutcome::Committed(writes) = &outcome {
            self.publish(writes);
        }
        Ok(outcome)
    }

    /// A command that failed planning. Planning can depend on the clock (hold
    /// expiry), so a command that was valid when first applied may fail it
    /// on a replay: the stored result wins over the new verdict.
    async fn refuse(
        &self,
        at: DateTime<Utc>,
        draft: AuditDraft,
        claim: &IdempotencyClaim,
        error: LedgerError,
    ) -> Result<BatchReceipt, LedgerError> {
        if let LedgerError::Storage(_) = error {
            return Err(error);
        }
        match self.store.idempotency_record(&claim.key).await? {
            Some(record) if record.fingerprint == claim.fingerprint => self.replayed(record).await,
            _ => self.reject(at, draft, error).await,
        }
    }

    /// Records a refusal in the audit log and returns the refusal.
    async fn reject<T>(&self, at: DateTime<Utc>, draft: AuditDraft, error: LedgerError) -> Result<T, LedgerError> {
        if let Err(audit_error) = self.store.apply(vec![WriteBatch::rejected(at, draft, error.clone())]).await {
            tracing::error!(%audit_error, rejected = %error, "could not audit a rejected command");
        }
        Err(error)
    }

    fn publish(&self, writes: &Writes) {
        // No subscribers is not an error: events are a convenience for live views.
        for account in writes.accounts() {
            let _ = self.events.send(LedgerEvent::Account(account.clone()));
        }
        for transaction in writes.transactions() {
            let _ = self.events.send(LedgerEvent::Transaction(transaction.clone()));
        }
    }
}

/// The idempotency fingerprint of one command or of a batch.
fn fingerprint(commands: &[MoneyCommand], batch: bool) -> crate::Digest {
    let mut h = Hasher::new("ledger.command.v1");
    if batch {
        h.str("batch").u64(commands.len() as u64);
    }
    for command in commands {
        command.fingerprint(&mut h);
    }
    h.finish()
}
