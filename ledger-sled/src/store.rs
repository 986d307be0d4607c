//! [`SledStore`]: the [`Store`] implementation over [`Trees`], and how its
//! calls run: the writer lock, the commit gate, and sync work kept off the
//! async runtime's threads.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledger_core::dump::{DumpChunk, SinkCursor};
use ledger_core::identity::{Email, ResetToken, Session, SessionId, User};
use ledger_core::{
    Account, AccountCode, AccountId, AccountNumber, AuditRecord, BatchOutcome, Change, Digest, HistoryFilter,
    IdempotencyKey, IdempotencyRecord, Posting, PostingRange, StorageError, Store, Transaction, TransactionId, UserId,
    WriteBatch,
};

use crate::account_cache::AccountCache;
use crate::config::Durability;
use crate::error::{self, BACKEND};
use crate::keys;
use crate::trees::Trees;
use ledger_core::store::lease::LocalLeases;

/// A ledger [`Store`] in a sled database directory.
///
/// Cheap to clone; clones share the database. sled locks the directory, so
/// one process at a time owns it.
#[derive(Debug, Clone)]
pub struct SledStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) path: PathBuf,
    pub(crate) trees: Trees,
    pub(crate) durability: Durability,
    /// Held by one writer at a time: an `apply` while it reads, decides and
    /// commits, or a `touch_session`. So no two applies decide on the same
    /// state, and a touch never lands between an apply's read of a session
    /// and its commit.
    pub(crate) writer: Mutex<()>,
    /// Held for writing while a sled transaction commits and for reading by
    /// every query. A query makes several reads (an index entry, then the
    /// record it names), and sled's scans do not wait for a commit between
    /// two steps, so without the gate a query could see half a commit (a
    /// history index entry before its transaction, one side of a transfer
    /// before the other).
    pub(crate) commit_gate: RwLock<()>,
    /// Committed accounts, filled by the writer.
    pub(crate) accounts: AccountCache,
    /// Set when a flush fails. Commits made since may rest on writes that
    /// flush lost, so from then on every apply and sync fails.
    pub(crate) flush_failed: AtomicBool,
    /// The publishers' leases (see `try_lease`).
    pub(crate) leases: LocalLeases,
    /// Tests set it to make the next flush fail.
    #[cfg(test)]
    pub(crate) fail_next_flush: AtomicBool,
    /// For [`SledStore::temporary`]: the directory, deleted when dropped.
    /// Declared last so the database closes before its files go.
    pub(crate) temp_dir: Option<tempfile::TempDir>,
}

impl SledStore {
    /// The durability this store was opened with.
    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// Flushes everything committed so far to disk (useful with
    /// [`Durability::Relaxed`] before a planned shutdown).
    pub async fn flush(&self) -> Result<(), StorageError> {
        self.blocking(|inner| inner.flush()).await
    }

    /// Runs a query behind the commit gate (shared).
    async fn read<T, F>(&self, query: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StorageError> + Send + 'static,
    {
        self.holding(Lock::Gate, query).await
    }

    /// Runs a write outside `apply` as the one writer.
    async fn write<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StorageError> + Send + 'static,
    {
        self.holding(Lock::Writer, work).await
    }

    /// Runs `work` holding `lock`: right here when that needs no waiting (a
    /// read from sled's cache takes microseconds, far less than handing it to
    /// another thread), else off the async runtime's worker threads, which
    /// must not wait out a commit.
    async fn holding<T, F>(&self, lock: Lock, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StorageError> + Send + 'static,
    {
        if let Some(_held) = self.inner.try_hold(lock) {
            return work(&self.inner);
        }
        self.blocking(move |inner| {
            let _held = inner.hold(lock);
            work(inner)
        })
        .await
    }

    /// Runs sync sled work off the async runtime's worker threads.
    pub(crate) async fn blocking<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StorageError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner)).await.map_err(error::join)?
    }
}

/// The locks a query or a write outside `apply` runs under.
#[derive(Debug, Clone, Copy)]
enum Lock {
    /// The commit gate, shared: every query.
    Gate,
    /// The writer mutex: `touch_session`.
    Writer,
}

/// A lock that would block is not taken; a poisoned one is (it guards no data).
fn untried<G>(error: TryLockError<G>) -> Option<G> {
    match error {
        TryLockError::Poisoned(poisoned) => Some(poisoned.into_inner()),
        TryLockError::WouldBlock => None,
    }
}

/// A taken [`Lock`], released when dropped (held only for that, never read).
#[allow(dead_code)]
enum Held<'a> {
    Gate(RwLockReadGuard<'a, ()>),
    Writer(MutexGuard<'a, ()>),
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the trees: sled's Debug prints every node.
        f.debug_struct("SledStore")
            .field("path", &self.path)
            .field("durability", &self.durability)
            .field("temporary", &self.temp_dir.is_some())
            .finish()
    }
}

impl Inner {
    /// Takes `lock`, waiting if need be.
    fn hold(&self, lock: Lock) -> Held<'_> {
        // The locks guard no data, so a panic elsewhere cannot poison anything.
        match lock {
            Lock::Gate => Held::Gate(self.commit_gate.read().unwrap_or_else(|poisoned| poisoned.into_inner())),
            Lock::Writer => Held::Writer(self.writer()),
        }
    }

    /// Takes `lock` if that needs no waiting.
    fn try_hold(&self, lock: Lock) -> Option<Held<'_>> {
        match lock {
            Lock::Gate => self.commit_gate.try_read().map_or_else(untried, Some).map(Held::Gate),
            Lock::Writer => self.writer.try_lock().map_or_else(untried, Some).map(Held::Writer),
        }
    }

    pub(crate) fn writer(&self) -> MutexGuard<'_, ()> {
        // As in `hold`: the mutex guards no data.
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn write_gate(&self) -> RwLockWriteGuard<'_, ()> {
        self.commit_gate.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Store for SledStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn apply(&self, batches: Vec<WriteBatch>) -> Result<Vec<BatchOutcome>, StorageError> {
        self.blocking(move |inner| inner.apply(&batches)).await
    }

    async fn apply_unsynced(&self, batches: Vec<WriteBatch>) -> Result<Vec<BatchOutcome>, StorageError> {
        self.blocking(move |inner| inner.apply_unsynced(&batches)).await
    }

    async fn sync(&self) -> Result<(), StorageError> {
        self.blocking(|inner| inner.sync()).await
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StorageError> {
        // A cached account needs no blocking task and no gate: it is one
        // committed record.
        if let Some(account) = self.inner.accounts.get(id) {
            return Ok(Some(account));
        }
        self.read(move |inner| inner.stored_account(id)).await
    }

    async fn account_by_number(&self, number: AccountNumber) -> Result<Option<Account>, StorageError> {
        self.read(move |inner| inner.account_by_number(number)).await
    }

    async fn account_by_code(&self, code: &AccountCode) -> Result<Option<Account>, StorageError> {
        let code = code.clone();
        self.read(move |inner| inner.account_by_code(&code)).await
    }

    async fn ledger_accounts(&self, after: Option<&AccountCode>, limit: usize) -> Result<Vec<Account>, StorageError> {
        let after = after.cloned();
        self.read(move |inner| inner.ledger_accounts(after.as_ref(), limit)).await
    }

    async fn accounts_by_owner(&self, owner: UserId) -> Result<Vec<Account>, StorageError> {
        self.read(move |inner| inner.accounts_by_owner(owner)).await
    }

    async fn accounts(&self, after: Option<AccountId>, limit: usize) -> Result<Vec<Account>, StorageError> {
        self.read(move |inner| inner.accounts(after, limit)).await
    }

    async fn transaction(&self, id: TransactionId) -> Result<Option<Transaction>, StorageError> {
        self.read(move |inner| inner.transaction(id)).await
    }

    async fn transactions(
        &self,
        filter: &HistoryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Transaction>, StorageError> {
        let filter = filter.clone();
        self.read(move |inner| inner.transactions(&filter, before, limit)).await
    }

    async fn postings(
        &self,
        account: AccountId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Posting>, StorageError> {
        self.read(move |inner| inner.postings(account, after, limit)).await
    }

    async fn posting_as_of(&self, account: AccountId, at: DateTime<Utc>) -> Result<Option<Posting>, StorageError> {
        self.read(move |inner| inner.posting_as_of(account, at)).await
    }

    async fn postings_in(&self, range: &PostingRange, limit: usize) -> Result<Vec<Posting>, StorageError> {
        let range = range.clone();
        self.read(move |inner| inner.postings_in(&range, limit)).await
    }

    async fn idempotency_record(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StorageError> {
        let key = key.clone();
        self.read(move |inner| inner.idempotency_record(&key)).await
    }

    async fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StorageError> {
        self.read(move |inner| inner.audit_records(after, limit)).await
    }

    async fn expired_holds(&self, at: DateTime<Utc>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        self.read(move |inner| inner.expired_holds(at, limit)).await
    }

    async fn audit_records_by_actor(
        &self,
        actor: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        let actor = actor.to_owned();
        self.read(move |inner| inner.audit_records_by_actor(&actor, after, limit)).await
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StorageError> {
        self.read(move |inner| inner.user(id)).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StorageError> {
        let email = email.clone();
        self.read(move |inner| inner.user_by_email(&email)).await
    }

    async fn users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>, StorageError> {
        self.read(move |inner| inner.users(after, limit)).await
    }

    async fn session_by_token(&self, token: &Digest) -> Result<Option<Session>, StorageError> {
        let token = *token;
        self.read(move |inner| inner.session_by_token(&token)).await
    }

    async fn sessions_of(&self, user: UserId, limit: usize) -> Result<Vec<Session>, StorageError> {
        self.read(move |inner| inner.sessions_of(user, limit)).await
    }

    async fn touch_session(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StorageError> {
        // As the writer: a touch never lands between an apply's read of the
        // session and its commit (which would move last-seen backwards).
        self.write(move |inner| inner.touch_session(id, at)).await
    }

    async fn reset_token(&self, token: &Digest) -> Result<Option<ResetToken>, StorageError> {
        let token = *token;
        self.read(move |inner| inner.reset_token(&token)).await
    }

    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<Change>, StorageError> {
        self.read(move |inner| inner.changes_after(after, limit)).await
    }

    async fn changes_count_after(&self, after: u64) -> Result<u64, StorageError> {
        self.read(move |inner| inner.changes_count_after(after)).await
    }

    async fn sink_cursor(&self, sink: &str) -> Result<u64, StorageError> {
        let sink = sink.to_owned();
        self.read(move |inner| inner.sink_cursor(&sink)).await
    }

    async fn advance_sink_cursor(&self, sink: &str, to: u64) -> Result<(), StorageError> {
        let sink = sink.to_owned();
        // As the writer, so two advances never both read the old cursor.
        self.write(move |inner| inner.advance_sink_cursor(&sink, to)).await
    }

    /// One process owns a sled database (its directory lock), so its
    /// leases live in that process.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        Ok(self.inner.leases.try_take(name, holder, now, until))
    }

    async fn ping(&self) -> Result<(), StorageError> {
        self.read(|inner| {
            inner.trees.meta.get(keys::META_FORMAT).map(|_| ()).map_err(|e| error::sled("ping failed", e))
        })
        .await
    }

    async fn transactions_after(&self, after: Option<u64>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        self.read(move |inner| inner.transactions_after(after, limit)).await
    }

    async fn sessions(&self, after: Option<SessionId>, limit: usize) -> Result<Vec<Session>, StorageError> {
        self.read(move |inner| inner.sessions_page(after, limit)).await
    }

    async fn reset_tokens(&self, after: Option<Digest>, limit: usize) -> Result<Vec<ResetToken>, StorageError> {
        self.read(move |inner| inner.reset_tokens_page(after, limit)).await
    }

    async fn idempotency_records(
        &self,
        after: Option<&IdempotencyKey>,
        limit: usize,
    ) -> Result<Vec<IdempotencyRecord>, StorageError> {
        let after = after.cloned();
        self.read(move |inner| inner.idempotency_page(after, limit)).await
    }

    async fn sink_cursors(&self) -> Result<Vec<SinkCursor>, StorageError> {
        self.read(|inner| inner.sink_cursors()).await
    }

    async fn restore(&self, chunk: &DumpChunk) -> Result<(), StorageError> {
        let chunk = chunk.clone();
        self.blocking(move |inner| inner.restore(&chunk)).await
    }
}
