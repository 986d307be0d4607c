//! [`Store::apply`](ledger_core::Store::apply) for both databases: one storage
//! transaction per call, in which ledger-core's apply loop
//! ([`apply_batches`]) runs over this crate's [`Staging`]: the head locked
//! first, each batch's keys loaded (or the group's at once, [`load`]), and
//! every verdict staged in one [`Bulk`], written before the commit (and
//! before any later load, which must see it): on PostgreSQL the last write
//! (the staged rows, the audit head and the change notification) is one
//! statement, one round trip (see [`crate::write_steps`]).
//!
//! The backends differ only in how the storage transaction starts (its
//! `BEGIN` statement), which failures are worth running the whole call
//! again ([`run_call`]), and where the call runs: PostgreSQL on a pooled
//! sqlx connection ([`transact`]), SQLite on one rusqlite connection on a
//! blocking thread, behind an in-process gate (`sqlite_writes.rs`).

use std::time::Duration;

use ledger_core::{
    AuditHead, AuditRecord, BatchOutcome, Keys, Rows, Snapshot, Staging, StorageError, StorageErrorKind, WriteBatch,
    Writes, apply_batches, rows_hold,
};
#[cfg(feature = "postgres")]
use sqlx::{Database, Pool};

use crate::bulk::Bulk;
use crate::load;
use crate::notify::Changed;
use crate::queries;
use crate::session::{Session, corrupt};
use crate::stmt::Dialect;

/// The table holding the audit head, one row.
const AUDIT_HEAD_TABLE: &str = "audit_head";

/// How many times a call is run in all when it keeps failing retryably.
pub(crate) const ATTEMPTS_MAX: u32 = 8;

/// The scale of retry pauses: the n-th retry waits about `BASE * 2^n` ms.
const BACKOFF_BASE_MILLIS: u64 = 2;

/// Runs `batches` in one storage transaction opened with `begin`, running the
/// whole call again (up to [`ATTEMPTS_MAX`] times in all, with jittered
/// exponential backoff) while `retryable` says the failure left nothing
/// behind and is worth another try. (SQLite runs its calls on rusqlite:
/// `sqlite_writes.rs`.)
#[cfg(feature = "postgres")]
pub(crate) async fn transact<DB>(
    pool: &Pool<DB>,
    begin: &'static str,
    batches: &[WriteBatch],
    retryable: fn(&sqlx::Error) -> bool,
    notify: Option<&str>,
) -> Result<Vec<BatchOutcome>, CallFailed>
where
    DB: Database,
    DB::Connection: Session,
{
    run_call(batches, retryable, || transact_once(pool, begin, batches, notify)).await
}

/// Runs one call of `apply` (`once`: one storage transaction over
/// `batches`) until it commits, fails for good, or has run
/// [`ATTEMPTS_MAX`] times, as [`worth_running_again`] decides.
pub(crate) async fn run_call<T, F, Fut>(
    batches: &[WriteBatch],
    retryable: fn(&sqlx::Error) -> bool,
    once: F,
) -> Result<T, CallFailed>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallFailed>>,
{
    // Before COMMIT a retryable failure left nothing applied. At COMMIT only
    // a rollback the database reported did; a connection lost at COMMIT (a
    // failover) may have applied the call, so it runs again only when every
    // batch carries an idempotency key: a batch that did commit then
    // replays its first outcome, and one that did not applies once.
    let all_keyed = batches.iter().all(WriteBatch::has_idempotency_key);
    let retryable = move |failed: &CallFailed| worth_running_again(failed, all_keyed, retryable);
    with_retries("a ledger commit", retryable, once).await
}

/// A failed call and whether it failed at `COMMIT`, the one point where a
/// failure leaves its outcome unknown (before it, the database rolls the
/// transaction back; see [`CallFailed::kind`]).
#[derive(Debug)]
pub(crate) struct CallFailed {
    pub(crate) error: sqlx::Error,
    pub(crate) at_commit: bool,
}

impl CallFailed {
    pub(crate) fn before_commit(error: sqlx::Error) -> CallFailed {
        CallFailed { error, at_commit: false }
    }

    /// What the failure says about the call's writes: unknown at `COMMIT`
    /// (unless the database said it rolled back: a serialization failure);
    /// before it, refused when the database refused the data (SQLSTATE
    /// classes 22 and 23 on PostgreSQL; constraint, size and type errors on
    /// SQLite), else unavailable.
    pub(crate) fn kind(&self, refused: fn(&sqlx::Error) -> bool) -> StorageErrorKind {
        if self.at_commit && !crate::error::rolled_back(&self.error) {
            StorageErrorKind::Unknown
        } else if refused(&self.error) {
            StorageErrorKind::Refused
        } else {
            StorageErrorKind::Unavailable
        }
    }
}

/// Whether a failed call may run again: before `COMMIT` when `retryable`
/// says so (nothing was applied); at `COMMIT` when the database rolled it
/// back, or when the connection was lost there (the outcome unknown) and
/// every batch carries an idempotency key, so that running it again
/// replays what did commit and applies once what did not.
pub(crate) fn worth_running_again(failed: &CallFailed, all_keyed: bool, retryable: fn(&sqlx::Error) -> bool) -> bool {
    if !failed.at_commit {
        return retryable(&failed.error);
    }
    let lost = crate::error::transient(&failed.error) && !crate::error::rolled_back(&failed.error);
    if lost { all_keyed } else { retryable(&failed.error) }
}

/// Runs `run` until it succeeds, fails for good, or has run [`ATTEMPTS_MAX`]
/// times, pausing with jittered exponential backoff between runs. Each run
/// must leave nothing behind when it fails retryably (a rolled-back
/// transaction, or one statement that did not apply).
pub(crate) async fn with_retries<T, E, F, Fut>(what: &str, retryable: impl Fn(&E) -> bool, mut run: F) -> Result<T, E>
where
    E: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match run().await {
            Err(error) if attempt < ATTEMPTS_MAX && retryable(&error) => {
                tracing::debug!(?error, attempt, "retrying {what}");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

#[cfg(feature = "postgres")]
async fn transact_once<DB>(
    pool: &Pool<DB>,
    begin: &'static str,
    batches: &[WriteBatch],
    notify: Option<&str>,
) -> Result<Vec<BatchOutcome>, CallFailed>
where
    DB: Database,
    DB::Connection: Session,
{
    // Dropping `db_tx` on an early return (or if the caller drops this
    // future) rolls back before the connection is reused.
    let mut db_tx = pool.begin_with(begin).await.map_err(CallFailed::before_commit)?;
    let outcomes = apply_in(&mut *db_tx, batches, notify).await.map_err(CallFailed::before_commit)?;
    db_tx.commit().await.map_err(|error| CallFailed { error, at_commit: true })?;
    Ok(outcomes)
}

/// A pause of `BASE * 2^attempt`, scaled by a random factor in [0.5, 1.5) so
/// that colliding committers do not collide again.
fn backoff(attempt: u32) -> Duration {
    let nominal = BACKOFF_BASE_MILLIS.saturating_mul(1 << attempt.min(10));
    let jitter = rand::random_range(0.5..1.5);
    Duration::from_secs_f64(nominal as f64 * jitter / 1000.0)
}

/// The SQL backends' side of an apply call: the storage transaction, and
/// the writes staged in it and not yet sent.
struct SqlStaging<'s, S: Session> {
    s: &'s mut S,
    pending: Bulk,
    /// The head when the call started, and after the last staged record.
    start: AuditHead,
    head: AuditHead,
    /// The ids the committed batches changed, for `pg_notify`.
    changed: Changed,
    /// Whether batches whose keys allow it are loaded with the head
    /// ([`load::head_and_rows`]); off only for tests that compare the two
    /// ways of loading.
    together: bool,
    /// The database's own error behind a failed step: the retry and the
    /// failure's kind are judged on it, not on its `StorageError`.
    failure: Option<sqlx::Error>,
}

impl<S: Session> SqlStaging<'_, S> {
    /// Keeps `error` for the caller and reports it to the loop.
    fn failed(&mut self, error: sqlx::Error) -> StorageError {
        let reported = StorageError::new(S::DIALECT.backend(), error.to_string());
        self.failure = Some(error);
        reported
    }

    /// Records the head the call starts from (and, nothing staged yet, ends at).
    fn started_at(&mut self, head: AuditHead) -> AuditHead {
        (self.start, self.head) = (head, head);
        head
    }

    /// Sends the staged writes.
    async fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.pending.is_empty() { Ok(()) } else { self.pending.write(self.s).await }
    }
}

impl<S: Session> Staging for SqlStaging<'_, S> {
    async fn audit_head(&mut self) -> Result<AuditHead, StorageError> {
        let read = load::read_head(self.s).await;
        let head = read.map_err(|error| self.failed(error))?;
        Ok(self.started_at(head))
    }

    async fn load(&mut self, keys: &Keys) -> Result<Snapshot, StorageError> {
        // A load must see what earlier batches of the call staged.
        let loaded = match self.flush().await {
            Ok(()) => load::load_snapshot(self.s, keys).await,
            Err(error) => Err(error),
        };
        loaded.map_err(|error| self.failed(error))
    }

    fn loads_together(&self, keys: &Keys) -> bool {
        self.together && rows_hold(keys)
    }

    async fn head_and_rows(&mut self, keys: &[Keys]) -> Result<(AuditHead, Rows), StorageError> {
        let read = load::head_and_rows(self.s, keys).await;
        let (head, rows) = read.map_err(|error| self.failed(error))?;
        Ok((self.started_at(head), rows))
    }

    async fn stage(&mut self, writes: &Writes) -> Result<(), StorageError> {
        self.pending.add(writes);
        self.changed.add(writes);
        self.head = writes.audit.head();
        Ok(())
    }

    async fn stage_rejection(&mut self, audit: &AuditRecord) -> Result<(), StorageError> {
        self.pending.add_rejection(audit);
        self.head = audit.head();
        Ok(())
    }
}

/// Applies the batches inside an open storage transaction, then writes what
/// they staged and moves the head. With `notify` (PostgreSQL: the schema's
/// name), the ids the committed batches changed are announced with
/// `pg_notify`, which PostgreSQL delivers only if and when the transaction
/// commits.
pub(crate) async fn apply_in<S: Session>(
    s: &mut S,
    batches: &[WriteBatch],
    notify: Option<&str>,
) -> Result<Vec<BatchOutcome>, sqlx::Error> {
    apply_loading(s, batches, notify, true).await
}

/// [`apply_in`], every batch loaded on its own ([`load::load_snapshot`]):
/// the reference the tests hold the loading together to.
#[cfg(test)]
pub(crate) async fn apply_batch_by_batch<S: Session>(
    s: &mut S,
    batches: &[WriteBatch],
    notify: Option<&str>,
) -> Result<Vec<BatchOutcome>, sqlx::Error> {
    apply_loading(s, batches, notify, false).await
}

async fn apply_loading<S: Session>(
    s: &mut S,
    batches: &[WriteBatch],
    notify: Option<&str>,
    together: bool,
) -> Result<Vec<BatchOutcome>, sqlx::Error> {
    let mut staging = SqlStaging {
        s,
        pending: Bulk::default(),
        start: AuditHead::default(),
        head: AuditHead::default(),
        changed: Changed::default(),
        together,
        failure: None,
    };
    let outcomes = match apply_batches(&mut staging, batches).await {
        Ok(outcomes) => outcomes,
        Err(error) => return Err(staging.failure.take().unwrap_or_else(|| corrupt(error.message))),
    };
    // The last write: what is still staged, the head and the announcement,
    // in one round trip on PostgreSQL (see `write_steps`).
    let mut last = staging.pending.steps(S::DIALECT)?;
    if staging.head != staging.start {
        last.updates(AUDIT_HEAD_TABLE, 1, vec![queries::write_audit_head(S::DIALECT, staging.head)]);
    }
    if let Some(schema) = notify.filter(|_| S::DIALECT == Dialect::Postgres)
        && let Some(statement) = staging.changed.statement(schema)
    {
        last.effect(statement);
    }
    last.run(staging.s).await?;
    Ok(outcomes)
}

#[cfg(all(test, feature = "postgres", feature = "sqlite"))]
mod tests;
