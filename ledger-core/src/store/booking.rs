//! The booking loop: what a store that books apart (ARCHITECTURE.md,
//! "PostgreSQL without one commit lock") runs in its money transaction
//! instead of [`apply_batches`](crate::apply_batches). It judges each batch
//! on the rows it names, as the store's transaction sees them (locked), with
//! what earlier batches of the call booked, and hands each verdict to the
//! store to write unsealed; the head is neither read nor moved. Sealing is
//! [`seal_booked`](crate::seal_booked), later, in the store's sealer.

use std::future::Future;

use crate::error::StorageError;
use crate::rules::decision::decide;
use crate::store::apply::run_now;
use crate::write_batch::{Keys, Snapshot, Verdict, WriteBatch};

/// A backend's side of one booking call, inside its storage transaction.
///
/// **Contract.** [`BookingStaging::load`] returns the state of `keys`, rows
/// locked in the order the keys iterate where the backend locks, *including
/// what this call staged earlier*; it must also note, for the sealer, which
/// rows it found written by bookings not yet sealed (their writer's and
/// creator's tickets: what [`EarlierSeals`](crate::EarlierSeals) answers
/// later). [`BookingStaging::stage`] keeps a verdict to write unsealed
/// (rows under placeholder sequences, the verdict queued for the sealer);
/// replays are not staged. The backend takes a staged batch's ticket there,
/// after that batch's loads, so every row it locked was last written by a
/// booking with a lower ticket (or, loading a whole call at once, one
/// ticket after all its locks, its batches ordered by their place in it);
/// then it commits, and nothing is written if it does not.
pub trait BookingStaging: Send {
    /// The state of one batch's keys: committed (sealed or not), plus what
    /// this call staged.
    fn load(&mut self, keys: &Keys) -> impl Future<Output = Result<Snapshot, StorageError>> + Send;

    /// Stages a booking or a refusal, the `index`-th of the call's batches.
    fn stage(&mut self, index: usize, verdict: &Verdict) -> impl Future<Output = Result<(), StorageError>> + Send;
}

/// Judges `batches` in order against what `staging` loads, staging every
/// booking and refusal, and returns one verdict per batch. The caller
/// commits its storage transaction if this returns `Ok`.
pub async fn book_batches<S: BookingStaging>(
    staging: &mut S,
    batches: &[WriteBatch],
) -> Result<Vec<Verdict>, StorageError> {
    let mut verdicts = Vec::with_capacity(batches.len());
    for (index, batch) in batches.iter().enumerate() {
        let snapshot = staging.load(&batch.keys()).await?;
        // Booked at the time it was planned; its seal moves it to the
        // head's time if that is later.
        let verdict = decide(batch, snapshot, batch.at());
        if !matches!(verdict, Verdict::Replay(_)) {
            staging.stage(index, &verdict).await?;
        }
        verdicts.push(verdict);
    }
    Ok(verdicts)
}

/// [`book_batches`] for a staging that never waits: runs the loop to its
/// end on the calling thread, without an executor.
pub fn book_batches_now<S: BookingStaging>(
    staging: &mut S,
    batches: &[WriteBatch],
) -> Result<Vec<Verdict>, StorageError> {
    run_now(book_batches(staging, batches))
}
