//! PostgreSQL without one commit lock (ARCHITECTURE.md): a call of
//! [`Store::apply`](ledger_core::Store::apply) books its batches in a
//! storage transaction that locks only the rows they name
//! ([`staging`]: ledger-core's [`book_batches`]), commits, then waits for a
//! seal pass ([`sealer`]) to place them in the audit chain and returns the
//! sealed outcomes, exactly what the one-lock apply returns. Writers of
//! disjoint rows no longer queue behind one another; only the pass, which
//! seals every caller's bookings at once, holds the audit head. Measured
//! slower than the one-lock apply with group commit (docs/benchmarks.md,
//! "Booking apart, measured"), so it is off unless asked for.

pub(crate) mod pending;
mod seal_rows;
pub(crate) mod sealer;
mod staging;

use std::collections::HashMap;

use ledger_core::{BatchOutcome, Sealed, StorageError, StorageErrorKind, Verdict, WriteBatch, book_batches};
use sqlx::PgPool;

use crate::apply::{CallFailed, run_call};
use crate::booking::pending::PendingBooking;
use crate::booking::sealer::{Registered, Sealer, resealed};
use crate::booking::staging::PgBooking;
use crate::error::{postgres_booking_retryable, postgres_refused, storage_error};
use crate::postgres::{BACKEND, BEGIN};
use crate::session::corrupt;

/// What one committed booking call left: a verdict per batch and the
/// bookings (and refusals) waiting for their seal, by ticket, in order.
pub(crate) struct Booked<'s> {
    verdicts: Vec<Verdict>,
    pub(crate) pending: Vec<(u64, PendingBooking)>,
    registered: Registered<'s>,
}

/// Books `batches` (retried as the one-lock apply is), then waits for
/// their seal; the outcomes are those of a one-at-a-time run in seal order.
pub(crate) async fn apply(
    pool: &PgPool,
    sealer: &Sealer,
    batches: &[WriteBatch],
    notify: Option<&str>,
) -> Result<Vec<BatchOutcome>, StorageError> {
    let booked =
        run_call(batches, postgres_booking_retryable, || book_once(pool, sealer, batches)).await.map_err(|failed| {
            let kind = failed.kind(postgres_refused);
            storage_error(BACKEND, "booking a batch", failed.error).of_kind(kind)
        })?;
    // Committed: from here a failure leaves the outcome unknown to the
    // caller (the bookings stand and any later pass seals them).
    let unknown = |e: String| StorageError::new(BACKEND, e).of_kind(StorageErrorKind::Unknown);
    let replayed = booked.verdicts.iter().any(|v| matches!(v, Verdict::Replay(_)));
    let mut sealed: HashMap<u64, Option<Sealed>> =
        sealer.sealed(pool, notify, booked.registered, replayed).await.map_err(unknown)?.into_iter().collect();
    let mut outcomes = Vec::with_capacity(booked.verdicts.len());
    let mut pending = booked.pending.into_iter();
    for verdict in booked.verdicts {
        let outcome = match verdict {
            Verdict::Replay(record) => BatchOutcome::Replayed(record),
            Verdict::Refuse { error, .. } => {
                pending.next();
                BatchOutcome::Rejected(error)
            }
            Verdict::Book(_) => {
                let (ticket, booking) = pending.next().ok_or_else(|| unknown("a booking was not staged".into()))?;
                let seal = match sealed.remove(&ticket).flatten() {
                    Some(seal) => seal,
                    None => reseal(pool, ticket, booking).await?,
                };
                match seal {
                    Sealed::Committed(writes) => BatchOutcome::Committed(writes),
                    Sealed::Refused(_) => return Err(unknown(format!("booking {ticket} sealed as a refusal"))),
                }
            }
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// A booking another instance sealed first, rebuilt from the chain.
async fn reseal(pool: &PgPool, ticket: u64, booking: PendingBooking) -> Result<Sealed, StorageError> {
    let context = "reading a booking's seal";
    let mut conn = pool.acquire().await.map_err(|e| storage_error(BACKEND, context, e))?;
    resealed(&mut conn, ticket, booking).await.map_err(|e| storage_error(BACKEND, context, e))
}

/// One run of a booking call: its storage transaction, committed, its
/// bookings registered for their seal just before.
pub(crate) async fn book_once<'s>(
    pool: &PgPool,
    sealer: &'s Sealer,
    batches: &[WriteBatch],
) -> Result<Booked<'s>, CallFailed> {
    // Dropping `db_tx` on an early return rolls back.
    let mut db_tx = pool.begin_with(BEGIN).await.map_err(CallFailed::before_commit)?;
    let mut staging = PgBooking::new(&mut db_tx);
    let verdicts = match book_batches(&mut staging, batches).await {
        Ok(verdicts) => verdicts,
        Err(error) => {
            return Err(CallFailed::before_commit(staging.failure.take().unwrap_or_else(|| corrupt(error.message))));
        }
    };
    staging.flush().await.map_err(CallFailed::before_commit)?;
    let pending = std::mem::take(&mut staging.booked);
    let registered = sealer
        .register(pending.iter().map(|(ticket, _)| *ticket))
        .map_err(|e| CallFailed::before_commit(corrupt(e)))?;
    db_tx.commit().await.map_err(|error| CallFailed { error, at_commit: true })?;
    Ok(Booked { verdicts, pending, registered })
}

#[cfg(all(test, feature = "sqlite"))]
mod tests;
