//! A store wrapper that records every `apply` (and `apply_unsynced`) call
//! and can hold one at a gate, slow every call down, fail one, refuse the
//! calls naming an account, or capture the batches instead of applying
//! them (or as well); it can also hold or fail a `sync`, break every call, or slow the
//! ping. It is the one forwarding decorator the test suites use.
//! That is what group commit tests need to make groups form and to prove
//! that they did, and what backend tests need to get the batches a ledger
//! plans. It also counts account reads, for tests of what planning reads.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore};

use crate::account::Account;
use crate::account_code::AccountCode;
use crate::account_number::AccountNumber;
use crate::audit::AuditRecord;
use crate::balance_query::PostingRange;
use crate::digest::Digest;
use crate::dump::{DumpChunk, SinkCursor};
use crate::error::{StorageError, StorageErrorKind};
use crate::id::{AccountId, TransactionId, UserId};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};
use crate::identity::{Email, ResetToken, Session, SessionId, User};
use crate::posting::Posting;
use crate::query::HistoryFilter;
use crate::store::Store;
use crate::transaction::Transaction;
use crate::write_batch::{BatchOutcome, WriteBatch};

/// One recorded `apply` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyCall {
    /// The idempotency key each batch claimed, in order.
    pub keys: Vec<Option<IdempotencyKey>>,
    /// What happened to each batch (`committed`, `replayed`, `rejected`), or
    /// nothing if the call failed.
    pub outcomes: Vec<&'static str>,
    /// The call was `apply` (durable when it returned), not `apply_unsynced`.
    pub synced: bool,
}

impl ApplyCall {
    /// How many batches the call carried.
    pub fn batches(&self) -> usize {
        self.keys.len()
    }
}

/// Wraps a store; `apply` is recorded, and can be held, delayed or failed.
pub struct RecordingStore {
    inner: Arc<dyn Store>,
    calls: Mutex<Vec<ApplyCall>>,
    delay: Duration,
    /// Where `apply` calls can be held or failed.
    applies: Checkpoint,
    capturing: AtomicBool,
    /// Batches are kept, and applied too.
    keeping: AtomicBool,
    captured: Mutex<Vec<WriteBatch>>,
    /// What the kept batches' calls returned.
    kept_outcomes: Mutex<Vec<BatchOutcome>>,
    account_reads: AtomicUsize,
    /// Where `sync` calls can be held or failed.
    syncs: Checkpoint,
    /// Calls carrying a batch that names one of these accounts are refused.
    refused_accounts: Mutex<Vec<AccountId>>,
    /// While set, every call fails with this message and kind (a broken
    /// disk, a database out of reach).
    broken: Mutex<Option<(String, StorageErrorKind)>>,
    /// How long `ping` takes.
    ping_delay: Mutex<Duration>,
}

impl RecordingStore {
    /// Wraps `inner`; every `apply` first sleeps for `delay`.
    pub fn new(inner: Arc<dyn Store>, delay: Duration) -> RecordingStore {
        RecordingStore {
            inner,
            calls: Mutex::new(Vec::new()),
            delay,
            applies: Checkpoint::default(),
            capturing: AtomicBool::new(false),
            keeping: AtomicBool::new(false),
            captured: Mutex::new(Vec::new()),
            kept_outcomes: Mutex::new(Vec::new()),
            account_reads: AtomicUsize::new(0),
            syncs: Checkpoint::default(),
            refused_accounts: Mutex::new(Vec::new()),
            broken: Mutex::new(None),
            ping_delay: Mutex::new(Duration::ZERO),
        }
    }

    /// From now on every call, reads included, fails with a storage error
    /// carrying `message` (for tests that no internal detail leaks).
    pub fn break_with(&self, message: impl Into<String>) {
        *self.broken.lock().unwrap_or_else(|p| p.into_inner()) = Some((message.into(), StorageErrorKind::Unknown));
    }

    /// From now on every call, reads included, fails as a database out of
    /// reach does (a [`StorageErrorKind::Unavailable`] error, nothing
    /// applied): a failover in progress, until [`RecordingStore::mend`].
    pub fn break_unavailable(&self, message: impl Into<String>) {
        *self.broken.lock().unwrap_or_else(|p| p.into_inner()) = Some((message.into(), StorageErrorKind::Unavailable));
    }

    /// Ends [`RecordingStore::break_with`] and [`RecordingStore::break_unavailable`]:
    /// calls reach the inner store again.
    pub fn mend(&self) {
        *self.broken.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// From now on `ping` takes `delay` (for timeout tests).
    pub fn slow_ping(&self, delay: Duration) {
        *self.ping_delay.lock().unwrap_or_else(|p| p.into_inner()) = delay;
    }

    /// Fails if the store was broken.
    fn check(&self) -> Result<(), StorageError> {
        match self.broken.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some((message, kind)) => Err(StorageError::new(self.inner.backend(), message.clone()).of_kind(*kind)),
            None => Ok(()),
        }
    }

    /// From now on every `apply` call that carries a batch naming `account`
    /// fails as the storage refusing that batch's data would (a
    /// [`StorageErrorKind::Refused`] error, nothing applied), the way
    /// PostgreSQL refuses a whole transaction for one bad row.
    pub fn refuse_batches_naming(&self, account: AccountId) {
        self.refused_accounts.lock().unwrap_or_else(|p| p.into_inner()).push(account);
    }

    /// Stops refusing batches.
    pub fn stop_refusing(&self) {
        self.refused_accounts.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn refuses(&self, batches: &[WriteBatch]) -> bool {
        let refused = self.refused_accounts.lock().unwrap_or_else(|p| p.into_inner());
        !refused.is_empty() && batches.iter().any(|b| b.keys().accounts.iter().any(|a| refused.contains(a)))
    }

    /// From now on `apply` keeps its batches and fails without touching the
    /// inner store, so a ledger plans commands that are never applied.
    pub fn start_capture(&self) {
        self.capturing.store(true, Ordering::SeqCst);
    }

    /// From now on `apply` keeps a copy of its batches and applies them as
    /// usual, so a ledger plans each command against what the ones before
    /// it wrote (a hold it placed, for a later capture).
    pub fn start_keeping(&self) {
        self.keeping.store(true, Ordering::SeqCst);
    }

    /// The outcomes of the batches kept since [`RecordingStore::start_keeping`]
    /// (taken: a second call returns only later ones).
    pub fn kept_outcomes(&self) -> Vec<BatchOutcome> {
        std::mem::take(&mut *self.kept_outcomes.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Stops capturing or keeping; the batches kept since
    /// [`RecordingStore::start_capture`] or [`RecordingStore::start_keeping`].
    pub fn stop_capture(&self) -> Vec<WriteBatch> {
        self.capturing.store(false, Ordering::SeqCst);
        self.keeping.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.captured.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The next `apply` call waits, before touching the inner store, until
    /// [`RecordingStore::release`].
    pub fn hold_next_apply(&self) {
        self.applies.hold_next();
    }

    /// Waits until a held `apply` call has arrived at the gate.
    pub async fn wait_until_held(&self) {
        self.applies.wait_until_held().await;
    }

    /// Lets the held call go on.
    pub fn release(&self) {
        self.applies.release();
    }

    /// The next `apply` call to arrive (not one already held) fails without
    /// touching the inner store.
    pub fn fail_next_apply(&self) {
        self.applies.fail_next();
    }

    /// The next `sync` call waits, before syncing the inner store, until
    /// [`RecordingStore::release_sync`].
    pub fn hold_next_sync(&self) {
        self.syncs.hold_next();
    }

    /// Waits until a held `sync` call has arrived at its gate.
    pub async fn wait_until_sync_held(&self) {
        self.syncs.wait_until_held().await;
    }

    /// Lets the held `sync` go on.
    pub fn release_sync(&self) {
        self.syncs.release();
    }

    /// The next `sync` call to arrive fails without syncing the inner store.
    pub fn fail_next_sync(&self) {
        self.syncs.fail_next();
    }

    /// How many accounts were read so far, by id or by number.
    pub fn account_reads(&self) -> usize {
        self.account_reads.load(Ordering::SeqCst)
    }

    /// Every `apply` call so far, in order.
    pub fn calls(&self) -> Vec<ApplyCall> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self, call: ApplyCall) {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).push(call);
    }
}

fn outcome_name(outcome: &BatchOutcome) -> &'static str {
    match outcome {
        BatchOutcome::Committed(_) => "committed",
        BatchOutcome::Replayed(_) => "replayed",
        BatchOutcome::Rejected(_) => "rejected",
    }
}

/// A point a call passes, where the next call can be held until released,
/// or told to fail.
struct Checkpoint {
    hold_next: AtomicBool,
    held: Notify,
    gate: Semaphore,
    fail_next: AtomicBool,
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint {
            hold_next: AtomicBool::new(false),
            held: Notify::new(),
            gate: Semaphore::new(0),
            fail_next: AtomicBool::new(false),
        }
    }
}

impl Checkpoint {
    fn hold_next(&self) {
        self.hold_next.store(true, Ordering::SeqCst);
    }

    fn fail_next(&self) {
        self.fail_next.store(true, Ordering::SeqCst);
    }

    async fn wait_until_held(&self) {
        self.held.notified().await;
    }

    fn release(&self) {
        self.gate.add_permits(1);
    }

    /// Passes the checkpoint, waiting at the gate if held; whether this
    /// call must fail (decided on arrival, so a failure set while a call is
    /// held falls to the next one).
    async fn pass(&self) -> Result<bool, StorageError> {
        let fail = self.fail_next.swap(false, Ordering::SeqCst);
        if self.hold_next.swap(false, Ordering::SeqCst) {
            self.held.notify_one();
            self.gate.acquire().await.map_err(|e| StorageError::with_source("recording", "gate closed", e))?.forget();
        }
        Ok(fail)
    }
}

/// Which of the inner store's apply calls a recorded call makes.
#[derive(Debug, Clone, Copy)]
enum Durable {
    /// `apply`.
    OnReturn,
    /// `apply_unsynced`.
    AfterSync,
}

impl RecordingStore {
    /// Records an apply call, holding, delaying, failing or capturing it as set.
    async fn recorded(&self, batches: Vec<WriteBatch>, durable: Durable) -> Result<Vec<BatchOutcome>, StorageError> {
        if self.capturing.load(Ordering::SeqCst) {
            self.captured.lock().unwrap_or_else(|p| p.into_inner()).extend(batches);
            return Err(StorageError::new(self.inner.backend(), "captured, not applied"));
        }
        if self.keeping.load(Ordering::SeqCst) {
            self.captured.lock().unwrap_or_else(|p| p.into_inner()).extend(batches.iter().cloned());
        }
        let keys = batches.iter().map(|b| b.0.claim.as_ref().map(|c| c.key.clone())).collect();
        let synced = matches!(durable, Durable::OnReturn);
        let fail = self.applies.pass().await?;
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if fail {
            self.record(ApplyCall { keys, outcomes: Vec::new(), synced });
            return Err(StorageError::new(self.inner.backend(), "injected failure"));
        }
        if self.refuses(&batches) {
            self.record(ApplyCall { keys, outcomes: Vec::new(), synced });
            let refused = StorageError::new(self.inner.backend(), "injected refusal of a batch's data");
            return Err(refused.of_kind(StorageErrorKind::Refused));
        }
        let result = match durable {
            Durable::OnReturn => self.inner.apply(batches).await,
            Durable::AfterSync => self.inner.apply_unsynced(batches).await,
        };
        let outcomes = result.as_ref().map(|o| o.iter().map(outcome_name).collect()).unwrap_or_default();
        self.record(ApplyCall { keys, outcomes, synced });
        if let Ok(outcomes) = &result
            && self.keeping.load(Ordering::SeqCst)
        {
            self.kept_outcomes.lock().unwrap_or_else(|p| p.into_inner()).extend(outcomes.iter().cloned());
        }
        result
    }
}

#[async_trait]
impl Store for RecordingStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn apply(&self, batches: Vec<WriteBatch>) -> Result<Vec<BatchOutcome>, StorageError> {
        self.check()?;
        self.recorded(batches, Durable::OnReturn).await
    }

    async fn apply_unsynced(&self, batches: Vec<WriteBatch>) -> Result<Vec<BatchOutcome>, StorageError> {
        self.check()?;
        self.recorded(batches, Durable::AfterSync).await
    }

    async fn sync(&self) -> Result<(), StorageError> {
        self.check()?;
        if self.syncs.pass().await? {
            return Err(StorageError::new(self.inner.backend(), "injected sync failure"));
        }
        self.inner.sync().await
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StorageError> {
        self.check()?;
        self.account_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.account(id).await
    }

    async fn account_by_number(&self, number: AccountNumber) -> Result<Option<Account>, StorageError> {
        self.check()?;
        self.account_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.account_by_number(number).await
    }

    async fn account_by_code(&self, code: &AccountCode) -> Result<Option<Account>, StorageError> {
        self.check()?;
        self.account_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.account_by_code(code).await
    }

    async fn ledger_accounts(&self, after: Option<&AccountCode>, limit: usize) -> Result<Vec<Account>, StorageError> {
        self.check()?;
        self.inner.ledger_accounts(after, limit).await
    }

    async fn accounts_by_owner(&self, owner: UserId) -> Result<Vec<Account>, StorageError> {
        self.check()?;
        self.inner.accounts_by_owner(owner).await
    }

    async fn accounts(&self, after: Option<AccountId>, limit: usize) -> Result<Vec<Account>, StorageError> {
        self.check()?;
        self.inner.accounts(after, limit).await
    }

    async fn transaction(&self, id: TransactionId) -> Result<Option<Transaction>, StorageError> {
        self.check()?;
        self.inner.transaction(id).await
    }

    async fn transactions(
        &self,
        filter: &HistoryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Transaction>, StorageError> {
        self.check()?;
        self.inner.transactions(filter, before, limit).await
    }

    async fn postings(
        &self,
        account: AccountId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Posting>, StorageError> {
        self.check()?;
        self.inner.postings(account, after, limit).await
    }

    async fn posting_as_of(&self, account: AccountId, at: DateTime<Utc>) -> Result<Option<Posting>, StorageError> {
        self.check()?;
        self.inner.posting_as_of(account, at).await
    }

    async fn postings_in(&self, range: &PostingRange, limit: usize) -> Result<Vec<Posting>, StorageError> {
        self.check()?;
        self.inner.postings_in(range, limit).await
    }

    async fn idempotency_record(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StorageError> {
        self.check()?;
        self.inner.idempotency_record(key).await
    }

    async fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StorageError> {
        self.check()?;
        self.inner.audit_records(after, limit).await
    }

    async fn expired_holds(&self, at: DateTime<Utc>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        self.check()?;
        self.inner.expired_holds(at, limit).await
    }

    async fn audit_records_by_actor(
        &self,
        actor: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        self.check()?;
        self.inner.audit_records_by_actor(actor, after, limit).await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StorageError> {
        self.check()?;
        self.inner.user(id).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StorageError> {
        self.check()?;
        self.inner.user_by_email(email).await
    }

    async fn users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>, StorageError> {
        self.check()?;
        self.inner.users(after, limit).await
    }

    async fn session_by_token(&self, token: &Digest) -> Result<Option<Session>, StorageError> {
        self.check()?;
        self.inner.session_by_token(token).await
    }

    async fn session_with_user(&self, token: &Digest) -> Result<Option<(Session, User)>, StorageError> {
        self.check()?;
        self.inner.session_with_user(token).await
    }

    async fn session_with_user_and_account(
        &self,
        token: &Digest,
        account: AccountId,
    ) -> Result<Option<(Session, User, Option<Account>)>, StorageError> {
        self.check()?;
        self.inner.session_with_user_and_account(token, account).await
    }

    async fn sessions_of(&self, user: UserId, limit: usize) -> Result<Vec<Session>, StorageError> {
        self.check()?;
        self.inner.sessions_of(user, limit).await
    }

    async fn touch_session(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StorageError> {
        self.check()?;
        self.inner.touch_session(id, at).await
    }

    async fn reset_token(&self, token: &Digest) -> Result<Option<ResetToken>, StorageError> {
        self.check()?;
        self.inner.reset_token(token).await
    }

    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<crate::Change>, StorageError> {
        self.check()?;
        self.inner.changes_after(after, limit).await
    }

    async fn changes_count_after(&self, after: u64) -> Result<u64, StorageError> {
        self.check()?;
        self.inner.changes_count_after(after).await
    }

    async fn sink_cursor(&self, sink: &str) -> Result<u64, StorageError> {
        self.check()?;
        self.inner.sink_cursor(sink).await
    }

    async fn advance_sink_cursor(&self, sink: &str, to: u64) -> Result<(), StorageError> {
        self.check()?;
        self.inner.advance_sink_cursor(sink, to).await
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        self.check()?;
        self.inner.try_lease(name, holder, now, until).await
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.check()?;
        let delay = *self.ping_delay.lock().unwrap_or_else(|p| p.into_inner());
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.inner.ping().await
    }

    async fn transactions_after(&self, after: Option<u64>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        self.check()?;
        self.inner.transactions_after(after, limit).await
    }

    async fn sessions(&self, after: Option<SessionId>, limit: usize) -> Result<Vec<Session>, StorageError> {
        self.check()?;
        self.inner.sessions(after, limit).await
    }

    async fn reset_tokens(&self, after: Option<Digest>, limit: usize) -> Result<Vec<ResetToken>, StorageError> {
        self.check()?;
        self.inner.reset_tokens(after, limit).await
    }

    async fn idempotency_records(
        &self,
        after: Option<&IdempotencyKey>,
        limit: usize,
    ) -> Result<Vec<IdempotencyRecord>, StorageError> {
        self.check()?;
        self.inner.idempotency_records(after, limit).await
    }

    async fn sink_cursors(&self) -> Result<Vec<SinkCursor>, StorageError> {
        self.check()?;
        self.inner.sink_cursors().await
    }

    async fn restore(&self, chunk: &DumpChunk) -> Result<(), StorageError> {
        self.check()?;
        self.inner.restore(chunk).await
    }

    async fn finish_restore(&self) -> Result<(), StorageError> {
        self.check()?;
        self.inner.finish_restore().await
    }
}
