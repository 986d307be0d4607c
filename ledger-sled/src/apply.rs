//! `apply`, `sync` and the one write outside them: ledger-core's apply loop
//! over the staged view, one sled transaction per call, the flush and what
//! a failed flush means.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use ledger_core::identity::SessionId;
use ledger_core::{AuditRecord, BatchOutcome, StorageError, StorageErrorKind, WriteBatch, apply_batches_now};

use ledger_core::{AuditHead, Keys, Snapshot, Staging, Writes};

use crate::codec::encode;
use crate::config::Durability;
use crate::error::{self, BACKEND};
use crate::keys;
use crate::store::Inner;
use crate::trees::Staged;

/// A failure while staging a call: nothing reached the trees, so nothing
/// was applied (a refusal of the data stays a refusal).
fn not_applied(error: StorageError) -> StorageError {
    match error.kind {
        StorageErrorKind::Unknown => error.of_kind(StorageErrorKind::Unavailable),
        _ => error,
    }
}

/// The sled store's side of an apply call: the staged view. Every method
/// is synchronous underneath (point reads of sled's trees), so the loop runs
/// with `apply_batches_now`.
impl Staging for Staged<'_> {
    async fn audit_head(&mut self) -> Result<AuditHead, StorageError> {
        self.head()
    }

    async fn load(&mut self, keys: &Keys) -> Result<Snapshot, StorageError> {
        self.snapshot(keys)
    }

    async fn stage(&mut self, writes: &Writes) -> Result<(), StorageError> {
        self.write(writes)
    }

    async fn stage_rejection(&mut self, audit: &AuditRecord) -> Result<(), StorageError> {
        self.append_audit(audit)
    }
}

impl Inner {
    /// Flushes to disk. A failure is remembered: see `flush_failed`.
    pub(crate) fn flush(&self) -> Result<(), StorageError> {
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
    pub(crate) fn check_flushed(&self) -> Result<(), StorageError> {
        if self.flush_failed.load(Ordering::SeqCst) {
            return Err(StorageError::new(
                BACKEND,
                "an earlier flush to disk failed; what was committed since may be lost: reopen the store",
            ));
        }
        Ok(())
    }

    /// `sync`: a flush, unless the store is opened [`Durability::Relaxed`].
    pub(crate) fn sync(&self) -> Result<(), StorageError> {
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
    pub(crate) fn apply_unsynced(&self, batches: &[WriteBatch]) -> Result<Vec<BatchOutcome>, StorageError> {
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
    pub(crate) fn apply(&self, batches: &[WriteBatch]) -> Result<Vec<BatchOutcome>, StorageError> {
        let outcomes = self.apply_unsynced(batches)?;
        self.sync()?;
        Ok(outcomes)
    }

    /// Caches the accounts of committed outcomes, in commit order.
    pub(crate) fn cache_committed(&self, outcomes: &[BatchOutcome]) {
        for outcome in outcomes {
            if let BatchOutcome::Committed(writes) = outcome {
                writes.accounts().for_each(|account| self.accounts.insert_committed(account));
            }
        }
    }

    /// Moves a session's last-seen time forward, unless it is revoked. The
    /// caller holds the writer lock, so no `apply` and no other touch reads
    /// or writes the session meanwhile.
    /// Not flushed: last-seen is telemetry, written out by sled's background
    /// flusher or the next flushed `apply`.
    pub(crate) fn touch_session(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StorageError> {
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

    /// Moves a sink's cursor forward to `to` (never back). Not flushed on
    /// its own: a cursor lost in a crash only makes the sink send again
    /// what it had sent, under the same event ids.
    pub(crate) fn advance_sink_cursor(&self, sink: &str, to: u64) -> Result<(), StorageError> {
        if self.sink_cursor(sink)? < to {
            let cursor = keys::sequence(to);
            self.trees
                .sink_cursors
                .insert(sink.as_bytes(), &cursor[..])
                .map_err(|e| error::sled("advancing a sink cursor", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::Ordering;

    use ledger_core::{AccountKind, Actor, Currency, Ledger, OpenAccount, Store, UserId};

    use crate::SledStore;

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
