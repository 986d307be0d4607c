//! PostgreSQL's side of [`Store::apply_unsynced`] and [`Store::sync`]
//! (ledger-core's group commit: the next group commits while this one's
//! flush runs): a group's transaction commits with `synchronous_commit`
//! off, so `COMMIT` returns, and the audit head is free for the next group,
//! before the commit record reaches the disk (and a synchronous standby);
//! [`Unflushed::flush`] then waits for that on the session that committed.
//!
//! **How the flush is waited for.** The session runs one more transaction,
//! `SELECT pg_current_xact_id()`, with the session's own (synchronous)
//! setting: a transaction that holds an xid writes a commit record and
//! waits until the WAL up to it is flushed (and, with synchronous
//! replication, acknowledged), and PostgreSQL's WAL is one sequence, so
//! everything before that record, the group's commit included, is durable
//! when it returns.
//!
//! **Why on the same session.** A session ends with its server: if the
//! session still answers, the server that holds the unflushed commit is
//! the one that flushed it. On any other connection the flush could run on
//! a server restarted since, or on a standby promoted since, which never
//! had the commit, and report it durable. A session that fails the flush
//! leaves the group's outcome unknown ([`StorageErrorKind::Unknown`]),
//! as a connection lost at `COMMIT` does.
//!
//! **Why the store stays usable after a failed flush** (the contract lets a
//! backend whose log is flushed in order do so): a commit is durable only
//! with every commit before it in the WAL, so a later group that read this
//! group's writes and became durable made them durable too; and if the
//! server lost them, it lost every later commit with them.
//!
//! **Who could see an unflushed commit.** Its own callers do not: group
//! commit answers them after the flush. A call replaying one of its
//! idempotency keys (from any instance) locks the audit head, which gives
//! it an xid, so its own `COMMIT` (or flush) waits for the WAL past it.
//! Standbys do not: a walsender sends only flushed WAL. The change feed
//! does not ([`crate::reads`] flushes after reading a page of it before
//! returning it, so no sink publishes a change that a crash could still
//! take back). Plain reads may, for about one flush (as on any store whose
//! group commit syncs apart, per the contract).

use std::sync::{Mutex, PoisonError};

use ledger_core::{StorageError, StorageErrorKind};
use sqlx::Postgres;
use sqlx::pool::PoolConnection;

use crate::error::storage_error;

/// `BEGIN` for a group whose flush is waited for apart: the storage
/// transaction of [`crate::postgres::BEGIN`], committing without waiting
/// for its WAL flush (`SET LOCAL`: the session's own setting is back after
/// it, for the flush).
pub(crate) const BEGIN_UNFLUSHED: &str =
    "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL enable_seqscan = off; SET LOCAL synchronous_commit = off";

/// A transaction that commits with an xid, so its `COMMIT` waits for the
/// WAL up to its commit record to be flushed (and replicated, where the
/// session's `synchronous_commit` asks for it).
pub(crate) const FLUSH: &str = "SELECT pg_current_xact_id()";

/// The sessions whose commits are not yet known to be durable.
#[derive(Debug, Default)]
pub(crate) struct Unflushed {
    pub(crate) sessions: Mutex<Vec<PoolConnection<Postgres>>>,
}

impl Unflushed {
    /// Keeps the session that committed a group without waiting for its
    /// flush, until the next [`Unflushed::flush`].
    pub(crate) fn keep(&self, session: PoolConnection<Postgres>) {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner).push(session);
    }

    /// Waits until every kept session's commits are durable; the sessions
    /// go back to the pool. Fails (outcome unknown) if any session fails
    /// its flush.
    pub(crate) async fn flush(&self, backend: &'static str) -> Result<(), StorageError> {
        let sessions = std::mem::take(&mut *self.sessions.lock().unwrap_or_else(PoisonError::into_inner));
        let mut failed = None;
        for mut session in sessions {
            // Every session is flushed, even after one failed: each holds
            // commits of its own.
            if let Err(error) = sqlx::query(FLUSH).execute(&mut *session).await {
                // Not back into the pool: the session may be dead.
                session.close_on_drop();
                let error = storage_error(backend, "waiting for a group's commit to be flushed", error);
                failed = Some(error.of_kind(StorageErrorKind::Unknown));
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests;
