//! The apply loop: the one place a store's `apply` turns batches into
//! outcomes. A backend implements [`Staging`], its side of one call inside
//! its storage transaction (load state, stage writes); the loop calls
//! `decide` on each batch in order, seals its verdict after the head
//! (`rules::seal`), and makes batch k see what batches 1..k-1 staged.
//!
//! Two ways to load, one loop:
//! - **batch by batch** (every backend): before each batch the loop asks
//!   [`Staging::load`] for the state of its keys, which must include what
//!   earlier batches of the call staged;
//! - **together** (a backend that says so in [`Staging::loads_together`]):
//!   one [`Staging::head_and_rows`] of the head and the union of every
//!   batch's keys, from which the loop cuts each batch's snapshot and into
//!   which it folds each batch's writes ([`Rows`]), so a database pays one
//!   round trip per key kind for the whole group instead of several per
//!   batch, and may read the head with the first of them.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::audit::{AuditHead, AuditRecord};
use crate::error::StorageError;
use crate::rules::decision::decide;
use crate::rules::seal::seal;
use crate::store::rows::Rows;
use crate::write_batch::{BatchOutcome, Decision, Keys, Snapshot, WriteBatch, Writes};

/// A backend's side of one [`Store::apply`](crate::Store::apply) call, inside
/// its storage transaction: what the [apply loop](apply_batches) needs to
/// read and where it puts what it decided.
///
/// **Contract.** The head is read once, first: by [`Staging::audit_head`],
/// or by [`Staging::head_and_rows`] when [`Staging::loads_together`]
/// accepts every batch's keys (then no `load` follows). A backend with row
/// locks locks the head before any other row, so committers queue in one
/// order. [`Staging::load`] returns the state of `keys` (locking rows in the
/// order the keys iterate, where the backend locks) *including everything
/// staged earlier in the call*. Staged writes and rejections are applied,
/// in the order staged, when the backend commits its storage transaction
/// after the loop; nothing is applied if it does not. The loop keeps the
/// head from there on, moving it with every batch it seals.
pub trait Staging: Send {
    /// The end of the audit chain, as committed (locked where the backend locks).
    fn audit_head(&mut self) -> impl Future<Output = Result<AuditHead, StorageError>> + Send;

    /// The state of one batch's keys: committed, plus what this call staged.
    fn load(&mut self, keys: &Keys) -> impl Future<Output = Result<Snapshot, StorageError>> + Send;

    /// Whether [`Staging::head_and_rows`] can serve a batch with these keys.
    fn loads_together(&self, keys: &Keys) -> bool {
        let _ = keys;
        false
    }

    /// The head (locked first, where the backend locks) and the committed
    /// rows the union of these batches' keys names (locked in key order),
    /// read at once, in place of [`Staging::audit_head`]. Called only when
    /// [`Staging::loads_together`] accepted every batch of the call.
    fn head_and_rows(&mut self, keys: &[Keys]) -> impl Future<Output = Result<(AuditHead, Rows), StorageError>> + Send {
        let _ = keys;
        async { Err(StorageError::new("staging", "this backend does not load batches together")) }
    }

    /// Stages a committed batch's writes.
    fn stage(&mut self, writes: &Writes) -> impl Future<Output = Result<(), StorageError>> + Send;

    /// Stages a rejected batch's audit record.
    fn stage_rejection(&mut self, audit: &AuditRecord) -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// Decides `batches` in order against what `staging` loads, staging each
/// verdict, and returns one outcome per batch. The caller commits its
/// storage transaction if this returns `Ok` (and rolls it back otherwise).
pub async fn apply_batches<S: Staging>(
    staging: &mut S,
    batches: &[WriteBatch],
) -> Result<Vec<BatchOutcome>, StorageError> {
    let keys: Vec<Keys> = batches.iter().map(WriteBatch::keys).collect();
    // Even one batch is loaded together when it can be: the backend may
    // read the head with its rows, one round trip fewer.
    let mut source = if keys.iter().all(|k| staging.loads_together(k)) {
        let (head, rows) = staging.head_and_rows(&keys).await?;
        Source::Rows(rows.with_head(head))
    } else {
        Source::Staging(staging.audit_head().await?)
    };
    let mut outcomes = Vec::with_capacity(batches.len());
    for (batch, keys) in batches.iter().zip(&keys) {
        let snapshot = match &source {
            Source::Rows(rows) => rows.snapshot(keys),
            Source::Staging(_) => staging.load(keys).await?,
        };
        // Booked at the time it was planned; sealing moves it to the head's
        // time if that is later.
        let verdict = decide(batch, snapshot, batch.0.at);
        let decision = seal(source.head(), verdict);
        match &decision {
            Decision::Commit(writes) => {
                staging.stage(writes).await?;
                source.fold(writes);
            }
            Decision::Reject { audit, .. } => {
                staging.stage_rejection(audit).await?;
                source.advance(audit.head());
            }
            Decision::Replay(_) => {}
        }
        outcomes.push(BatchOutcome::from(decision));
    }
    Ok(outcomes)
}

/// Where the next batch's snapshot comes from.
enum Source {
    /// Rows loaded together, with the batches decided so far folded in.
    Rows(Rows),
    /// The staging's `load`, which sees what was staged; the head so far.
    Staging(AuditHead),
}

impl Source {
    /// The end of the audit chain, as the batches so far left it.
    fn head(&self) -> AuditHead {
        match self {
            Source::Rows(rows) => rows.head,
            Source::Staging(head) => *head,
        }
    }

    fn fold(&mut self, writes: &Writes) {
        match self {
            Source::Rows(rows) => rows.fold(writes),
            Source::Staging(head) => *head = writes.audit.head(),
        }
    }

    fn advance(&mut self, head: AuditHead) {
        match self {
            Source::Rows(rows) => rows.head = head,
            Source::Staging(current) => *current = head,
        }
    }
}

/// [`apply_batches`] for a backend whose staging never waits (memory, sled:
/// every method completes when first polled): runs the loop to its end on
/// the calling thread, without an executor.
pub fn apply_batches_now<S: Staging>(
    staging: &mut S,
    batches: &[WriteBatch],
) -> Result<Vec<BatchOutcome>, StorageError> {
    run_now(apply_batches(staging, batches))
}

/// Polls a loop over a staging that never waits once, to its end.
pub(crate) fn run_now<T>(looped: impl Future<Output = Result<T, StorageError>>) -> Result<T, StorageError> {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(looped).poll(&mut cx) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(StorageError::new("staging", "a staging that must never wait waited")),
    }
}
