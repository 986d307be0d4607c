//! The [`Ledger`] facade: the one entry point the rest of the world calls.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::account::Account;
use crate::audit::AuditDraft;
use crate::clock::{Clock, SystemClock};
use crate::command::MoneyCommand;
use crate::digest::Hasher;
use crate::error::LedgerError;
use crate::event::{EVENT_BUFFER_LEN, LedgerEvent};
use crate::id::{AccountId, TransactionId};
use crate::idempotency::{IdempotencyClaim, IdempotencyRecord};
use crate::identity::notifier::{LogNotifier, Notifier};
use crate::identity::{Actor, HashParams, LoginThrottle, SessionPolicy, ThrottlePolicy};
use crate::money::Currency;
use crate::plan::KycPolicy;
use crate::plan::Planner;
use crate::store::Store;
use crate::transaction::Transaction;
use crate::write_batch::{BatchOutcome, Op, WriteBatch, Writes};
use account_facts::AccountFactsCache;

pub(crate) mod account_facts;
mod accounts;
mod auth;
mod balances;
mod feed;
mod group_commit;
pub(crate) mod verify;

use group_commit::Committer;
pub use group_commit::{
    GROUP_COMMIT_BATCHES_CAP, GROUP_COMMIT_BATCHES_DEFAULT, GROUP_COMMIT_WAIT_MICROS_MAX,
    GROUP_COMMIT_WAIT_MICROS_SERVICE, GroupCommit, GroupCommitError,
};

pub use auth::{Authenticated, Login, LoginRequest, Registration};
mod money;
mod profile;
mod queries;

/// How many times opening an account draws a new number after a collision.
pub const ACCOUNT_NUMBER_ATTEMPTS_MAX: usize = 8;

/// The most expired holds one sweep releases.
pub const EXPIRY_SWEEP_SIZE_MAX: usize = 500;

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

/// Settings of a ledger; every field has a production default.
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct LedgerConfig {
    /// argon2id cost for new password digests.
    pub password_hash: HashParams,
    /// Session idle and absolute lifetimes.
    pub sessions: SessionPolicy,
    /// Login throttling limits.
    pub throttle: ThrottlePolicy,
    /// Which money commands need a KYC-verified customer.
    pub kyc: KycPolicy,
    /// How concurrent commands share storage transactions.
    pub group_commit: GroupCommit,
}

impl LedgerConfig {
    /// The same config, with `password_hash` set.
    pub fn password_hash(mut self, password_hash: HashParams) -> LedgerConfig {
        self.password_hash = password_hash;
        self
    }

    /// The same config, with `sessions` set.
    pub fn sessions(mut self, sessions: SessionPolicy) -> LedgerConfig {
        self.sessions = sessions;
        self
    }

    /// The same config, with `throttle` set.
    pub fn throttle(mut self, throttle: ThrottlePolicy) -> LedgerConfig {
        self.throttle = throttle;
        self
    }

    /// The same config, with `kyc` set.
    pub fn kyc(mut self, kyc: KycPolicy) -> LedgerConfig {
        self.kyc = kyc;
        self
    }

    /// The same config, with `group_commit` set.
    pub fn group_commit(mut self, group_commit: GroupCommit) -> LedgerConfig {
        self.group_commit = group_commit;
        self
    }
}

/// A double-entry ledger over any [`Store`].
///
/// Cheap to clone; clones share the store, the group commit queue, the event
/// channel, the login throttle, the notifier and the cache of account facts.
#[derive(Clone)]
pub struct Ledger {
    store: Arc<dyn Store>,
    committer: Committer,
    clock: Arc<dyn Clock>,
    events: broadcast::Sender<LedgerEvent>,
    config: Arc<LedgerConfig>,
    throttle: Arc<LoginThrottle>,
    notifier: Arc<dyn Notifier>,
    /// Immutable account facts for planning.
    facts: Arc<AccountFactsCache>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("backend", &self.store.backend()).finish()
    }
}

/// Builds a [`Ledger`] with a clock, configuration and notifier of choice.
pub struct LedgerBuilder {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: LedgerConfig,
    notifier: Arc<dyn Notifier>,
}

impl LedgerBuilder {
    /// Uses this clock instead of the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses this configuration.
    pub fn config(mut self, config: LedgerConfig) -> Self {
        self.config = config;
        self
    }

    /// Delivers password-reset tokens through this notifier.
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    /// Opens the ledger, creating the settlement accounts if missing.
    pub async fn open(self) -> Result<Ledger, LedgerError> {
        let (events, _) = broadcast::channel(EVENT_BUFFER_LEN);
        let committer = Committer::new(self.store.clone(), events.clone(), self.config.group_commit);
        let ledger = Ledger {
            store: self.store,
            committer,
            clock: self.clock,
            events,
            config: Arc::new(self.config),
            throttle: Arc::new(LoginThrottle::new()),
            notifier: self.notifier,
            facts: Arc::new(AccountFactsCache::default()),
        };
        ledger.ensure_settlement_accounts().await?;
        Ok(ledger)
    }
}

impl Ledger {
    /// Opens a ledger on a store with the defaults: system clock, production
    /// configuration, reset tokens delivered to the log ([`LogNotifier`]).
    pub async fn open(store: impl Store) -> Result<Ledger, LedgerError> {
        Ledger::builder(Arc::new(store)).open().await
    }

    /// Opens a ledger on a shared store with a given clock.
    pub async fn open_with_clock(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Ledger, LedgerError> {
        Ledger::builder(store).clock(clock).open().await
    }

    /// A builder for a ledger on a shared store.
    pub fn builder(store: Arc<dyn Store>) -> LedgerBuilder {
        LedgerBuilder {
            store,
            clock: Arc::new(SystemClock),
            config: LedgerConfig::default(),
            notifier: Arc::new(LogNotifier),
        }
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
        let draft = AuditDraft::new(Actor::System.audit_name(), "ledger.init", "settlement");
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

    /// Batches queued behind the commit in flight (tests wait on it to know
    /// that a group has formed).
    #[cfg(any(test, feature = "conformance"))]
    pub(crate) fn queued_batches(&self) -> usize {
        self.committer.queued_batches()
    }

    // Plumbing.

    fn planner(&self, at: DateTime<Utc>, actor: &Actor) -> Planner<'_> {
        Planner { store: self.store.as_ref(), facts: &self.facts, at, actor: *actor, kyc: self.config.kyc }
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
                let Writes { new_transactions, updated_transactions, idempotency, .. } = *writes;
                let mut transactions = new_transactions;
                transactions.extend(updated_transactions);
                if let Some(record) = &idempotency {
                    // Command order; a map keeps a batch of 1000 from costing 10^6 comparisons.
                    let position: HashMap<TransactionId, usize> =
                        record.transaction_ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
                    // What the commands produced, as a replay returns it: not
                    // the originals a reversal changed on the way.
                    transactions.retain(|t| position.contains_key(&t.id));
                    transactions.sort_by_key(|t| position.get(&t.id).copied());
                }
                Ok(BatchReceipt { transactions, replayed: false })
            }
            BatchOutcome::Replayed(record) => self.replayed(record).await,
            BatchOutcome::Rejected(error) => Err(error),
        }
    }

    async fn replayed(&self, record: IdempotencyRecord) -> Result<BatchReceipt, LedgerError> {
        let mut transactions = Vec::with_capacity(record.transaction_ids.len());
        for id in record.transaction_ids {
            let missing = LedgerError::TransactionNotFound { transaction: id };
            transactions.push(self.store.transaction(id).await?.ok_or(missing)?);
        }
        Ok(BatchReceipt { transactions, replayed: true })
    }

    /// Applies one batch through the group committer (which publishes its events).
    async fn apply_outcome(&self, batch: WriteBatch) -> Result<BatchOutcome, LedgerError> {
        let outcome = self.committer.apply(vec![batch]).await?.into_iter().next().ok_or_else(|| {
            LedgerError::Storage(crate::StorageError::new(self.store.backend(), "apply returned no outcome"))
        })?;
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

    /// Records in the audit log a request the embedding layer refused before
    /// it could become a command (a body that does not parse: a code with
    /// capitals, oversized metadata, a 65th posting), so every refused money
    /// request is audited as those the core refuses are. `action` names the
    /// request (`entry`, `ledger_account.open`). Returns the error to answer
    /// with: the refusal, or the storage error that kept it from the log.
    pub async fn audit_refusal(&self, actor: &Actor, action: &str, error: LedgerError) -> LedgerError {
        let draft = AuditDraft::new(actor.audit_name(), action, "request");
        match self.log_refusal(self.clock.now(), draft, &error).await {
            Ok(()) => error,
            Err(unlogged) => unlogged,
        }
    }

    /// Records a refusal in the audit log and returns the refusal. A refusal
    /// that cannot be audited is a storage error the caller sees: the audit
    /// log must never silently miss an attempt.
    async fn reject<T>(&self, at: DateTime<Utc>, draft: AuditDraft, error: LedgerError) -> Result<T, LedgerError> {
        self.log_refusal(at, draft, &error).await?;
        Err(error)
    }

    /// Writes the audit record of a refusal.
    async fn log_refusal(&self, at: DateTime<Utc>, draft: AuditDraft, error: &LedgerError) -> Result<(), LedgerError> {
        self.committer.apply(vec![WriteBatch::rejected(at, draft, error.clone())]).await?;
        Ok(())
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
