//! [`SledStore`]: the [`Store`] implementation over [`Trees`].

use std::collections::BinaryHeap;
use std::ops::Bound;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledger_core::identity::{Email, ResetToken, Session, SessionId, User};
use ledger_core::{
    Account, AccountId, AccountNumber, AuditRecord, BatchOutcome, Digest, HistoryFilter, IdempotencyKey,
    IdempotencyRecord, Posting, StorageError, StorageErrorKind, Store, Transaction, TransactionId, UserId, WriteBatch,
    apply_batches_now,
};

use crate::account_cache::AccountCache;
use crate::codec::{decode, encode};
use crate::config::{Durability, SledConfig};
use crate::error::{self, BACKEND, corrupt};
use crate::keys;
use crate::trees::{Staged, Trees};

/// A ledger [`Store`] in a sled database directory.
///
/// Cheap to clone; clones share the database. sled locks the directory, so
/// one process at a time owns it.
#[derive(Debug, Clone)]
pub struct SledStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    trees: Trees,
    durability: Durability,
    /// Held by one writer at a time: an `apply` while it reads, decides and
    /// commits, or a `touch_session`. So no two applies decide on the same
    /// state, and a touch never lands between an apply's read of a session
    /// and its commit.
    writer: Mutex<()>,
    /// Held for writing while a sled transaction commits and for reading by
    /// every query. A query makes several reads (an index entry, then the
    /// record it names), and sled's scans do not wait for a commit between
    /// two steps, so without the gate a query could see half a commit (a
    /// history index entry before its transaction, one side of a transfer
    /// before the other).
    commit_gate: RwLock<()>,
    /// Committed accounts, filled by the writer.
    accounts: AccountCache,
    /// Set when a flush fails. Commits made since may rest on writes that
    /// flush lost, so from then on every apply and sync fails.
    flush_failed: AtomicBool,
    /// Tests set it to make the next flush fail.
    #[cfg(test)]
    fail_next_flush: AtomicBool,
    /// For [`SledStore::temporary`]: the directory, deleted when dropped.
    /// Declared last so the database closes before its files go.
    temp_dir: Option<tempfile::TempDir>,
}

impl SledStore {
    /// Opens (creating if missing) the database at `path` with
    /// [`Durability::Flush`].
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, StorageError> {
        SledStore::open_with(SledConfig::new(path))
    }

    /// Opens (creating if missing) the database a config names.
    ///
    /// Fails with a [`StorageError`] (never a panic) when the path is not a
    /// directory sled can use, holds something other than a ledger database,
    /// or is locked by another open store.
    pub fn open_with(config: SledConfig) -> Result<SledStore, StorageError> {
        SledStore::open_inner(config, None)
    }

    /// A store in a fresh temporary directory, deleted when the last clone
    /// drops: for tests and throwaway runs. Uses [`Durability::Flush`], so it
    /// behaves (and performs) like a real one.
    pub fn temporary() -> Result<SledStore, StorageError> {
        let dir = tempfile::Builder::new()
            .prefix("ledger-sled-")
            .tempdir()
            .map_err(|e| StorageError::with_source(BACKEND, "cannot create a temporary directory", e))?;
        SledStore::open_inner(SledConfig::new(dir.path()), Some(dir))
    }

    fn open_inner(config: SledConfig, temp_dir: Option<tempfile::TempDir>) -> Result<SledStore, StorageError> {
        let path = config.path.display().to_string();
        refuse_non_sled_directory(&config.path)?;
        let existed = config.path.join("conf").is_file();
        let db = match open_waiting_for_lock(&config) {
            Ok(Ok(db)) => db,
            Ok(Err(source)) => return Err(error::sled(&format!("cannot open a sled database at {path}"), source)),
            Err(_) => {
                return Err(StorageError::new(
                    BACKEND,
                    format!("cannot open a sled database at {path}: sled failed on its files (not a sled database?)"),
                ));
            }
        };
        let trees =
            Trees::open(db, existed).map_err(|e| StorageError { message: format!("{path}: {}", e.message), ..e })?;
        let inner = Inner {
            path: config.path,
            trees,
            durability: config.durability,
            writer: Mutex::new(()),
            commit_gate: RwLock::new(()),
            accounts: AccountCache::default(),
            flush_failed: AtomicBool::new(false),
            #[cfg(test)]
            fail_next_flush: AtomicBool::new(false),
            temp_dir,
        };
        Ok(SledStore { inner: Arc::new(inner) })
    }

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
    async fn blocking<T, F>(&self, work: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StorageError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner)).await.map_err(error::join)?
    }
}

/// How long an open waits for sled's directory lock before reporting the
/// database locked.
const LOCK_WAIT: Duration = Duration::from_millis(1000);
/// The pause between two tries at the lock.
const LOCK_RETRY: Duration = Duration::from_millis(10);

/// Opens the sled database at `path`, waiting up to [`LOCK_WAIT`] for its
/// lock: a store dropped a moment ago in this process can still hold it while
/// sled's I/O threads finish (sled's own tests wait on the lock for the same
/// reason). `Err(_)` outside is a panic inside sled: sled 0.34 checks parts of
/// its recovery with asserts rather than errors, and a damaged directory must
/// not take the caller's process down.
fn open_waiting_for_lock(config: &SledConfig) -> std::thread::Result<sled::Result<sled::Db>> {
    let started = Instant::now();
    loop {
        let opened = catch_unwind(AssertUnwindSafe(|| config.sled().open()));
        // sled 0.34 reports a held lock only in the text of an `Io` error.
        let locked = matches!(&opened, Ok(Err(sled::Error::Io(e))) if e.to_string().contains("could not acquire lock"));
        if !locked || started.elapsed() >= LOCK_WAIT {
            return opened;
        }
        std::thread::sleep(LOCK_RETRY);
    }
}

/// Refuses a path that is not a directory, or a non-empty directory without
/// sled's `conf` file. sled itself would start a fresh database there,
/// treating files it does not recognise as a torn log and writing over them.
fn refuse_non_sled_directory(path: &Path) -> Result<(), StorageError> {
    let shown = path.display();
    match std::fs::read_dir(path).map(|mut entries| entries.next().is_some()) {
        Ok(true) if !path.join("conf").is_file() => Err(StorageError::new(
            BACKEND,
            format!("{shown} is not a sled database: the directory is not empty and has no sled conf file"),
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::with_source(BACKEND, format!("cannot open a sled database at {shown}"), e)),
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

/// A failure while staging a call: nothing reached the trees, so nothing
/// was applied (a refusal of the data stays a refusal).
fn not_applied(error: StorageError) -> StorageError {
    match error.kind {
        StorageErrorKind::Unknown => error.of_kind(StorageErrorKind::Unavailable),
        _ => error,
    }
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

    fn writer(&self) -> MutexGuard<'_, ()> {
        // As in `hold`: the mutex guards no data.
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_gate(&self) -> RwLockWriteGuard<'_, ()> {
        self.commit_gate.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Flushes to disk. A failure is remembered: see `flush_failed`.
    fn flush(&self) -> Result<(), StorageError> {
        self.check_flushed()?;
        let flushed = self.trees.db.flush().map(|_| ()).map_err(|e| error::sled("flushing to disk failed", e));
        #[cfg(test)]
        let flushed = match self.fail_next_flush.swap(false, Ordering::SeqCst) {
            true => Err(StorageError::new(BACKEND, "flushing to disk failed (injected)")),
            false => flushed,
        };
        if flushed.is_err() {
            self.flush_failed.store(true, Ordering::SeqCst);
        }
        flushed
    }

    /// Fails once a flush has failed.
    fn check_flushed(&self) -> Result<(), StorageError> {
        if self.flush_failed.load(Ordering::SeqCst) {
            return Err(StorageError::new(
                BACKEND,
                "an earlier flush to disk failed; what was committed since may be lost: reopen the store",
            ));
        }
        Ok(())
    }

    /// `sync`: a flush, unless the store is opened [`Durability::Relaxed`].
    fn sync(&self) -> Result<(), StorageError> {
        match self.durability {
            Durability::Flush => self.flush(),
            Durability::Relaxed => self.check_flushed(),
        }
    }

    /// The contract's `apply_unsynced`: each batch decided in turn against
    /// the committed trees plus what earlier batches of the call staged, then
    /// all of it committed in one sled transaction; not flushed.
    ///
    /// Only the commit holds the gate and sled's own transaction lock, which
    /// stop every read in the process; reading and deciding happen outside
    /// them, so queries run alongside.
    fn apply_unsynced(&self, batches: &[WriteBatch]) -> Result<Vec<BatchOutcome>, StorageError> {
        self.check_flushed()?;
        let _writer = self.writer();
        let mut staged = Staged::new(&self.trees, &self.accounts);
        let outcomes = apply_batches_now(&mut staged, batches).map_err(not_applied)?;
        let _gate = self.write_gate();
        self.trees.commit(staged)?;
        self.cache_committed(&outcomes);
        Ok(outcomes)
    }

    /// The contract's `apply`: `apply_unsynced`, then `sync`. The flush runs
    /// outside the writer lock and the gate, so neither the next apply nor a
    /// query waits for the fsync; sled's log is ordered, so this flush also
    /// covers every commit before ours.
    fn apply(&self, batches: &[WriteBatch]) -> Result<Vec<BatchOutcome>, StorageError> {
        let outcomes = self.apply_unsynced(batches)?;
        self.sync()?;
        Ok(outcomes)
    }

    /// Caches the accounts of committed outcomes, in commit order.
    fn cache_committed(&self, outcomes: &[BatchOutcome]) {
        for outcome in outcomes {
            if let BatchOutcome::Committed(writes) = outcome {
                writes.accounts().for_each(|account| self.accounts.insert_committed(account));
            }
        }
    }

    /// An account: cached, else as stored.
    fn account(&self, id: AccountId) -> Result<Option<Account>, StorageError> {
        match self.accounts.get(id) {
            Some(account) => Ok(Some(account)),
            None => self.stored_account(id),
        }
    }

    /// An account as the `accounts` tree holds it.
    fn stored_account(&self, id: AccountId) -> Result<Option<Account>, StorageError> {
        let bytes = self.trees.accounts.get(keys::account(id)).map_err(|e| error::sled("reading an account", e))?;
        bytes.map(|b| decode("an account", &b)).transpose()
    }

    fn account_by_number(&self, number: AccountNumber) -> Result<Option<Account>, StorageError> {
        let id = self
            .trees
            .account_numbers
            .get(keys::number(number))
            .map_err(|e| error::sled("reading the account number index", e))?;
        match id {
            Some(id) => self.account(AccountId::from_uuid(keys::uuid_suffix(&id)?)),
            None => Ok(None),
        }
    }

    fn accounts_by_owner(&self, owner: UserId) -> Result<Vec<Account>, StorageError> {
        let mut accounts = Vec::new();
        for entry in self.trees.accounts_by_owner.scan_prefix(keys::user(owner)) {
            let (key, _) = entry.map_err(|e| error::sled("reading the owner index", e))?;
            let id = AccountId::from_uuid(keys::uuid_suffix(&key)?);
            accounts.push(self.account(id)?.ok_or_else(|| corrupt("the owner index names a missing account"))?);
        }
        Ok(accounts)
    }

    fn accounts(&self, after: Option<AccountId>, limit: usize) -> Result<Vec<Account>, StorageError> {
        let start = match after {
            Some(after) => Bound::Excluded(keys::account(after)),
            None => Bound::Unbounded,
        };
        self.trees
            .accounts
            .range::<[u8; keys::ID_LEN], _>((start, Bound::Unbounded))
            .take(limit)
            .map(|entry| {
                let (_, bytes) = entry.map_err(|e| error::sled("listing accounts", e))?;
                decode("an account", &bytes)
            })
            .collect()
    }

    fn transaction_at(&self, seq: u64) -> Result<Option<Transaction>, StorageError> {
        let bytes =
            self.trees.transactions.get(keys::sequence(seq)).map_err(|e| error::sled("reading a transaction", e))?;
        bytes.map(|b| decode("a transaction", &b)).transpose()
    }

    fn transaction(&self, id: TransactionId) -> Result<Option<Transaction>, StorageError> {
        let seq = self
            .trees
            .transaction_ids
            .get(keys::transaction(id))
            .map_err(|e| error::sled("reading the transaction id index", e))?;
        match seq {
            Some(seq) => self.transaction_at(keys::sequence_suffix(&seq)?),
            None => Ok(None),
        }
    }

    /// History, newest first. Without an account filter it walks the
    /// transactions tree backwards; with one it merges the accounts' history
    /// indexes backwards, so it reads only transactions of those accounts.
    fn transactions(
        &self,
        filter: &HistoryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Transaction>, StorageError> {
        let below = before.unwrap_or(u64::MAX);
        let mut found = Vec::new();
        let mut keep = |t: Transaction| {
            if filter.matches(&t) {
                found.push(t);
            }
            found.len() < limit
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        if filter.accounts.is_empty() {
            for entry in self.trees.transactions.range(..keys::sequence(below)).rev() {
                let (_, bytes) = entry.map_err(|e| error::sled("reading history", e))?;
                if !keep(decode("a transaction", &bytes)?) {
                    break;
                }
            }
        } else {
            let mut merge = DescendingMerge::new(&self.trees.account_history, &filter.accounts, below)?;
            while let Some(seq) = merge.next()? {
                let t = self
                    .transaction_at(seq)?
                    .ok_or_else(|| corrupt("the history index names a missing transaction"))?;
                if !keep(t) {
                    break;
                }
            }
        }
        Ok(found)
    }

    fn postings(&self, account: AccountId, after: Option<u64>, limit: usize) -> Result<Vec<Posting>, StorageError> {
        let start = match after {
            Some(after) => Bound::Excluded(keys::account_sequence(account, after)),
            None => Bound::Included(keys::account_sequence(account, 0)),
        };
        let end = Bound::Included(keys::account_sequence(account, u64::MAX));
        self.trees
            .account_postings
            .range((start, end))
            .take(limit)
            .map(|entry| {
                let (_, bytes) = entry.map_err(|e| error::sled("reading postings", e))?;
                decode("a posting", &bytes)
            })
            .collect()
    }

    fn idempotency_record(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StorageError> {
        let bytes = self
            .trees
            .idempotency
            .get(key.as_str().as_bytes())
            .map_err(|e| error::sled("reading an idempotency record", e))?;
        bytes.map(|b| decode("an idempotency record", &b)).transpose()
    }

    fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StorageError> {
        self.trees
            .audit
            .range((Bound::Excluded(keys::sequence(after)), Bound::Unbounded))
            .take(limit)
            .map(|entry| {
                let (_, bytes) = entry.map_err(|e| error::sled("reading the audit log", e))?;
                decode("an audit record", &bytes)
            })
            .collect()
    }

    fn expired_holds(&self, at: DateTime<Utc>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        self.trees
            .holds_by_expiry
            .range(..=keys::expiry_upper(at))
            .take(limit)
            .map(|entry| {
                let (_, seq) = entry.map_err(|e| error::sled("reading the hold expiry index", e))?;
                self.transaction_at(keys::sequence_suffix(&seq)?)?
                    .ok_or_else(|| corrupt("the expiry index names a missing hold"))
            })
            .collect()
    }

    fn audit_records_by_actor(&self, actor: &str, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StorageError> {
        let start = Bound::Excluded(keys::actor_sequence(actor, after));
        let end = Bound::Included(keys::actor_sequence(actor, u64::MAX));
        self.trees
            .audit_by_actor
            .range((start, end))
            .take(limit)
            .map(|entry| {
                let (key, _) = entry.map_err(|e| error::sled("reading the audit actor index", e))?;
                let bytes = self
                    .trees
                    .audit
                    .get(keys::sequence(keys::sequence_suffix(&key)?))
                    .map_err(|e| error::sled("reading the audit log", e))?
                    .ok_or_else(|| corrupt("the audit actor index names a missing record"))?;
                decode("an audit record", &bytes)
            })
            .collect()
    }

    fn user(&self, id: UserId) -> Result<Option<User>, StorageError> {
        let bytes = self.trees.users.get(keys::user(id)).map_err(|e| error::sled("reading a user", e))?;
        bytes.map(|b| decode("a user", &b)).transpose()
    }

    fn user_by_email(&self, email: &Email) -> Result<Option<User>, StorageError> {
        let id =
            self.trees.user_emails.get(keys::email(email)).map_err(|e| error::sled("reading the email index", e))?;
        match id {
            Some(id) => Ok(Some(
                self.user(UserId::from_uuid(keys::uuid_suffix(&id)?))?
                    .ok_or_else(|| corrupt("the email index names a missing user"))?,
            )),
            None => Ok(None),
        }
    }

    fn users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>, StorageError> {
        let start = match after {
            Some(after) => Bound::Excluded(keys::user(after)),
            None => Bound::Unbounded,
        };
        self.trees
            .users
            .range::<[u8; keys::ID_LEN], _>((start, Bound::Unbounded))
            .take(limit)
            .map(|entry| {
                let (_, bytes) = entry.map_err(|e| error::sled("listing users", e))?;
                decode("a user", &bytes)
            })
            .collect()
    }

    fn session(&self, id: SessionId) -> Result<Option<Session>, StorageError> {
        let bytes = self.trees.sessions.get(keys::session(id)).map_err(|e| error::sled("reading a session", e))?;
        bytes.map(|b| decode("a session", &b)).transpose()
    }

    fn session_by_token(&self, token: &Digest) -> Result<Option<Session>, StorageError> {
        let id = self
            .trees
            .session_tokens
            .get(keys::digest(token))
            .map_err(|e| error::sled("reading the session token index", e))?;
        match id {
            Some(id) => Ok(Some(
                self.session(SessionId(keys::uuid_suffix(&id)?))?
                    .ok_or_else(|| corrupt("the session token index names a missing session"))?,
            )),
            None => Ok(None),
        }
    }

    /// A user's sessions, newest (last committed) first.
    fn sessions_of(&self, user: UserId, limit: usize) -> Result<Vec<Session>, StorageError> {
        self.trees
            .user_sessions
            .scan_prefix(keys::user(user))
            .rev()
            .take(limit)
            .map(|entry| {
                let (key, _) = entry.map_err(|e| error::sled("reading the user session index", e))?;
                self.session(SessionId(keys::uuid_suffix(&key)?))?
                    .ok_or_else(|| corrupt("the user session index names a missing session"))
            })
            .collect()
    }

    /// Moves a session's last-seen time forward, unless it is revoked. The
    /// caller holds the writer lock, so no `apply` and no other touch reads
    /// or writes the session meanwhile.
    /// Not flushed: last-seen is telemetry, written out by sled's background
    /// flusher or the next flushed `apply`.
    fn touch_session(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StorageError> {
        let key = keys::session(id);
        let Some(mut session) = self.session(id)? else { return Ok(()) };
        if session.revoked_at.is_some() || session.last_seen_at >= at {
            return Ok(());
        }
        session.last_seen_at = at;
        let touched = encode("a session", &session)?;
        self.trees.sessions.insert(key, touched).map_err(|e| error::sled("touching a session", e))?;
        Ok(())
    }

    fn reset_token(&self, token: &Digest) -> Result<Option<ResetToken>, StorageError> {
        let bytes =
            self.trees.reset_tokens.get(keys::digest(token)).map_err(|e| error::sled("reading a reset token", e))?;
        bytes.map(|b| decode("a reset token", &b)).transpose()
    }
}

/// Merges several accounts' history index ranges into one stream of
/// sequences, highest first, each once (a transfer between two filtered
/// accounts is indexed under both).
struct DescendingMerge {
    ranges: Vec<std::iter::Rev<sled::Iter>>,
    heads: BinaryHeap<(u64, usize)>,
    last: Option<u64>,
}

impl DescendingMerge {
    fn new(index: &sled::Tree, accounts: &[AccountId], below: u64) -> Result<DescendingMerge, StorageError> {
        let ranges = accounts
            .iter()
            .map(|a| index.range(keys::account_sequence(*a, 0)..keys::account_sequence(*a, below)).rev())
            .collect();
        let mut merge = DescendingMerge { ranges, heads: BinaryHeap::new(), last: None };
        for i in 0..merge.ranges.len() {
            merge.advance(i)?;
        }
        Ok(merge)
    }

    /// Pulls range `i`'s next sequence into the heap.
    fn advance(&mut self, i: usize) -> Result<(), StorageError> {
        if let Some(entry) = self.ranges.get_mut(i).and_then(Iterator::next) {
            let (key, _) = entry.map_err(|e| error::sled("reading the history index", e))?;
            self.heads.push((keys::sequence_suffix(&key)?, i));
        }
        Ok(())
    }

    fn next(&mut self) -> Result<Option<u64>, StorageError> {
        while let Some((seq, i)) = self.heads.pop() {
            self.advance(i)?;
            if self.last != Some(seq) {
                self.last = Some(seq);
                return Ok(Some(seq));
            }
        }
        Ok(None)
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

    async fn ping(&self) -> Result<(), StorageError> {
        self.read(|inner| {
            inner.trees.meta.get(keys::META_FORMAT).map(|_| ()).map_err(|e| error::sled("ping failed", e))
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ledger_core::{AccountKind, Actor, Currency, Ledger, OpenAccount};

    use super::*;

    fn opening() -> OpenAccount {
        OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd)
    }

    async fn audit_len(store: &SledStore) -> usize {
        store.audit_records(0, 100).await.unwrap().len()
    }

    #[tokio::test]
    async fn after_a_failed_flush_every_apply_and_sync_fails_and_writes_nothing() {
        let store = SledStore::temporary().unwrap();
        let ledger = Ledger::open(store.clone()).await.unwrap();
        ledger.open_account(&Actor::System, opening()).await.unwrap();
        let before = audit_len(&store).await;

        store.inner.fail_next_flush.store(true, Ordering::SeqCst);
        let failed = ledger.open_account(&Actor::System, opening()).await.unwrap_err();
        assert!(failed.to_string().contains("storage"), "{failed}");
        let committed = audit_len(&store).await;
        assert_eq!(committed, before + 1, "committed, then its flush failed");

        let refused = ledger.open_account(&Actor::System, opening()).await.unwrap_err();
        assert!(format!("{refused:?}").contains("an earlier flush to disk failed"), "{refused:?}");
        assert!(store.sync().await.is_err());
        assert!(store.flush().await.is_err());
        assert_eq!(audit_len(&store).await, committed, "nothing was applied after the failed flush");
    }

    #[tokio::test]
    async fn unsynced_outcomes_are_readable_before_the_sync() {
        let store = SledStore::temporary().unwrap();
        let ledger = Ledger::open(store.clone()).await.unwrap();
        let account = ledger.open_account(&Actor::System, opening()).await.unwrap();
        assert_eq!(store.account(account.id).await.unwrap(), Some(account));
        store.sync().await.unwrap();
    }
}
