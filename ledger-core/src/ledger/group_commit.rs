//! Group commit: concurrent callers' batches share one [`Store::apply`] call,
//! so one storage transaction (and one fsync) carries many commands, as
//! PostgreSQL's WAL group commit does.
//!
//! **Leader/follower.** A caller who finds no commit in flight leads: it
//! applies its batches at once, so a lone caller waits for nothing. Callers
//! arriving while a commit is in flight queue up. When the commit ends, its
//! leader hands leadership to the first queued caller, which takes the queue
//! (up to [`GroupCommit::batches_max`] batches) into the next commit. The
//! store decides each batch on its own, in order, against the writes of the
//! batches before it (the [`Store`] contract), so coalescing changes no
//! command's result and no command's atomicity.
//!
//! **Bounds.** A commit carries at most `batches_max` batches; a caller's own
//! list longer than that is applied in consecutive commits of at most
//! `batches_max`. The queue needs no bound of its own: every queued caller is
//! a suspended task that holds its batches anyway, and the queue drains
//! `batches_max` at a time.
//!
//! **Gathering.** Between two commits, the callers the first one answered
//! are planning their next commands while the next leader commits without
//! them, so under a closed loop of N callers groups settle at about N/2.
//! With `wait_micros` set (at most [`GROUP_COMMIT_WAIT_MICROS_MAX`]) a
//! leader waits, for at most that long, while money commands announced to
//! the committer ([`Committer::announced`]: `Ledger::execute` and
//! `execute_batch`) are in flight but not yet queued: they are on their way.
//! A lone caller, or a leader with everyone in flight already queued, waits
//! for nothing, as PostgreSQL's `commit_delay` waits only with
//! `commit_siblings` active.
//!
//! **Syncing while the next group commits.** A leader applies its group with
//! [`Store::apply_unsynced`], takes its turn to sync, passes leadership on,
//! and only then calls [`Store::sync`]: the next group commits while this
//! one's fsync runs (on sled, where the fsync is a sixth of a group's time,
//! this is what lets the flush stop being dead time). Turns are taken in
//! commit order and the next leader takes its own only after the previous
//! group has synced, so at most two groups are in flight and they sync in
//! order. No caller is answered and no event published before its group's
//! sync returned `Ok`; a failed sync fails every caller of its group, and
//! the store fails every later one (the [`Store`] contract), since later
//! groups may rest on the writes the failed sync lost.
//!
//! **Committing alone.** A leader that took no followers, while no other
//! announced command is in flight and no earlier group is still syncing,
//! commits with one synced [`Store::apply`] instead: nobody could commit
//! during its sync, and the two calls would cost a lone caller a second
//! hop (on sled, a second blocking task) for nothing. It holds leadership
//! through the sync, so a caller arriving meanwhile waits for it, as with
//! group commit off.
//!
//! **Events** are published by the leader for every committed batch of its
//! group, in commit order, once the group is durable.
//!
//! **One batch never fails its group.** A storage error that says nothing
//! was applied because the storage refused the call's data
//! ([`StorageErrorKind::Refused`]: a constraint, an encoding error) belongs
//! to some batch of the group, not to the others. The group is then applied
//! again in halves, and a half that is refused again in halves, until the
//! batch that carries the cause fails alone: a hostile request costs its
//! group about two calls per halving, and every honest batch commits. This is
//! safe because a refused call applied nothing. Any other storage error
//! reaches the callers of the call that met it: a store that cannot be
//! reached would refuse the halves alike, and an error while committing
//! ([`StorageErrorKind::Unknown`]) may have applied the call, so applying
//! its batches again could apply twice those without an idempotency key.
//! Backends already retry what is safe to retry (serialization failures).
//!
//! **Drop safety.** A caller's future may be dropped at any await point:
//! - a queued follower that is dropped leaves its request behind with a
//!   closed reply channel; the next leader skips it, so its batches are not
//!   applied, and no other caller's batches move;
//! - a follower dropped just after being handed leadership passes it on from
//!   its destructor ([`Waiter`]), so the queue never waits on a dead task;
//! - a leader dropped mid-commit cannot pull its group out of a storage
//!   transaction in flight: the commit is moved to a fresh task on the current
//!   Tokio runtime ([`InFlight`]) that finishes it, answers the followers and
//!   passes leadership on. Without a runtime the commit is dropped: its
//!   followers get [`GroupCommitError::Abandoned`] (the outcome is unknown,
//!   as for any storage error) and leadership still passes on ([`Leadership`]).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tracing::Instrument as _;

use tokio::sync::{Notify, broadcast, oneshot};

use crate::error::{StorageError, StorageErrorKind};
use crate::event::LedgerEvent;
use crate::store::Store;
use crate::write_batch::{BatchOutcome, WriteBatch};
use cancellation::{Flight, InFlight, Waiter};

pub use settings::{
    GROUP_COMMIT_BATCHES_CAP, GROUP_COMMIT_BATCHES_DEFAULT, GROUP_COMMIT_WAIT_MICROS_MAX,
    GROUP_COMMIT_WAIT_MICROS_SERVICE, GroupCommit, GroupCommitError,
};

type Outcomes = Result<Vec<BatchOutcome>, StorageError>;

/// One result per batch: a batch's own outcome, or the storage error of the
/// call that carried it.
type Results = Vec<Result<BatchOutcome, StorageError>>;

/// Applies batches for the ledger, coalescing concurrent callers.
#[derive(Clone)]
pub(crate) struct Committer(Arc<Shared>);

struct Shared {
    store: Arc<dyn Store>,
    events: broadcast::Sender<LedgerEvent>,
    settings: GroupCommit,
    queue: Mutex<Queue>,
    /// Woken when a caller queues or an announced command ends, for a
    /// gathering leader to look again.
    arrivals: Notify,
    /// Held by a group from the end of its commit until it has synced and
    /// published: taken while leading, so groups sync and publish in commit
    /// order (tokio's mutex is fair).
    sync_turn: Arc<tokio::sync::Mutex<()>>,
}

/// A group's turn to sync and publish (see [`Shared::sync_turn`]).
type SyncTurn = tokio::sync::OwnedMutexGuard<()>;

#[derive(Default)]
struct Queue {
    /// A leader holds the role (committing, or about to).
    leading: bool,
    waiting: VecDeque<Request>,
    /// Batches in `waiting`.
    waiting_batches: usize,
    /// Callers in `waiting` that run an announced command.
    waiting_announced: usize,
    /// Announced commands between their start and their end, wherever they
    /// are: planning, queued, committing or reading their outcome.
    announced: usize,
}

impl Queue {
    /// Takes the first queued request out, keeping the counts.
    fn pop(&mut self) -> Option<Request> {
        let request = self.waiting.pop_front()?;
        self.waiting_batches -= request.batches.len();
        self.waiting_announced -= usize::from(request.announced);
        Some(request)
    }
}

tokio::task_local! {
    /// Set while the task runs an announced command ([`Committer::announced`]).
    static ANNOUNCED: ();
}

/// Whether the current task runs an announced command.
fn is_announced() -> bool {
    ANNOUNCED.try_with(|_| ()).is_ok()
}

/// A queued caller: its batches and where to tell it what happened.
struct Request {
    batches: Vec<WriteBatch>,
    reply: oneshot::Sender<Turn>,
    /// The caller runs an announced command.
    announced: bool,
}

/// What a queued caller is told.
enum Turn {
    /// A leader committed (or failed to commit) the caller's batches.
    Done(Outcomes),
    /// The caller leads the next commit, with its own batches given back.
    Lead(Vec<WriteBatch>),
}

/// What a caller becomes on arrival.
enum Role {
    Lead(Leadership, Vec<WriteBatch>),
    Follow(oneshot::Receiver<Turn>),
}

impl Committer {
    /// A committer for a store, publishing committed changes to `events`.
    pub(crate) fn new(store: Arc<dyn Store>, events: broadcast::Sender<LedgerEvent>, settings: GroupCommit) -> Self {
        let queue = Mutex::new(Queue::default());
        let sync_turn = Arc::new(tokio::sync::Mutex::new(()));
        Committer(Arc::new(Shared {
            store,
            events,
            settings: settings.capped(),
            queue,
            arrivals: Notify::new(),
            sync_turn,
        }))
    }

    /// Runs `command` announced: from its start to its end it counts as on
    /// its way to the queue whenever it is not queued, so a gathering leader
    /// may wait for it and no leader commits alone meanwhile (see the
    /// module docs).
    pub(crate) async fn announced<F: Future>(&self, command: F) -> F::Output {
        if !self.0.settings.is_enabled() {
            // No leader ever gathers or commits alone: skip the bookkeeping.
            return command.await;
        }
        let _in_flight = Announcement::new(self.0.clone());
        ANNOUNCED.scope((), command).await
    }

    /// Applies independent batches, each decided on its own, returning one
    /// outcome per batch; publishes the committed ones.
    pub(crate) async fn apply(&self, mut batches: Vec<WriteBatch>) -> Outcomes {
        let shared = &self.0;
        if !shared.settings.is_enabled() {
            let results = shared.apply_isolating(batches, Durability::Synced).await;
            shared.publish(&results);
            return results.into_iter().collect();
        }
        let max = shared.settings.batches_max;
        if batches.len() <= max {
            return self.submit(batches).await;
        }
        let mut outcomes = Vec::with_capacity(batches.len());
        while !batches.is_empty() {
            let rest = batches.split_off(max.min(batches.len()));
            outcomes.extend(self.submit(std::mem::replace(&mut batches, rest)).await?);
        }
        Ok(outcomes)
    }

    /// Batches queued behind the commit in flight (for tests that need a
    /// group to have formed).
    #[cfg(any(test, feature = "conformance"))]
    pub(crate) fn queued_batches(&self) -> usize {
        self.0.queue.lock().map(|q| q.waiting_batches).unwrap_or_default()
    }

    async fn submit(&self, batches: Vec<WriteBatch>) -> Outcomes {
        match self.0.arrive(batches)? {
            Role::Lead(leadership, batches) => lead(leadership, batches).await,
            Role::Follow(receiver) => follow(self.0.clone(), receiver).await,
        }
    }
}

impl Shared {
    fn lock(&self) -> Result<MutexGuard<'_, Queue>, StorageError> {
        self.queue.lock().map_err(|_| self.error(GroupCommitError::Poisoned))
    }

    fn error(&self, error: GroupCommitError) -> StorageError {
        StorageError::with_source(self.store.backend(), "group commit failed", error)
    }

    /// Takes the leader role if it is free, or queues the batches.
    fn arrive(self: &Arc<Self>, batches: Vec<WriteBatch>) -> Result<Role, StorageError> {
        let mut queue = self.lock()?;
        if !queue.leading {
            queue.leading = true;
            return Ok(Role::Lead(Leadership(self.clone()), batches));
        }
        let (reply, receiver) = oneshot::channel();
        let announced = is_announced();
        queue.waiting_batches += batches.len();
        queue.waiting_announced += usize::from(announced);
        queue.waiting.push_back(Request { batches, reply, announced });
        drop(queue);
        self.arrivals.notify_waiters();
        Ok(Role::Follow(receiver))
    }

    /// Takes queued requests that fit beside `own` batches, in arrival order,
    /// dropping those whose callers are gone (their batches are not applied).
    fn take_followers(&self, own: usize) -> Result<Vec<Request>, StorageError> {
        let mut queue = self.lock()?;
        let mut room = self.settings.batches_max.saturating_sub(own);
        let mut group = Vec::new();
        while let Some(front) = queue.waiting.front() {
            let len = front.batches.len();
            if !front.reply.is_closed() && len > room {
                break;
            }
            let Some(request) = queue.pop() else { break };
            if !request.reply.is_closed() {
                room -= len;
                group.push(request);
            }
        }
        Ok(group)
    }

    /// Waits, at most `wait_micros`, while announced commands are on their
    /// way to the queue and the leader's group (its `own` batches and the
    /// queue's) has room for more.
    async fn gather(&self, own: usize, leader_announced: bool) {
        if self.settings.wait_micros == 0 {
            return;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_micros(self.settings.wait_micros);
        loop {
            // Registered before looking, so an arrival between the look and
            // the wait still wakes this leader.
            let arrival = self.arrivals.notified();
            let mut arrival = std::pin::pin!(arrival);
            arrival.as_mut().enable();
            if !self.on_their_way(own, leader_announced) {
                return;
            }
            if tokio::time::timeout_at(deadline, arrival).await.is_err() {
                return;
            }
        }
    }

    /// Whether announced commands are in flight outside the queue (and not
    /// the leader itself) while the group has room.
    fn on_their_way(&self, own: usize, leader_announced: bool) -> bool {
        let Ok(queue) = self.queue.lock() else { return false };
        let here = queue.waiting_announced + usize::from(leader_announced);
        queue.announced > here && own.saturating_add(queue.waiting_batches) < self.settings.batches_max
    }

    /// The sync turn, if this leader commits alone: it took no followers,
    /// no announced command but its own is in flight (none would join the
    /// next group while this one syncs), and no earlier group is still
    /// syncing (the turn is free, so events keep commit order). Callers that
    /// are not announced are not seen; one arriving meanwhile waits for this
    /// commit's sync, as it would with group commit off.
    fn alone(&self, followers: &[Request], leader_announced: bool) -> Option<SyncTurn> {
        if !followers.is_empty() {
            return None;
        }
        let queue = self.queue.lock().ok()?;
        let company = queue.waiting.len() + queue.announced.saturating_sub(usize::from(leader_announced));
        drop(queue);
        if company > 0 {
            return None;
        }
        self.sync_turn.clone().try_lock_owned().ok()
    }

    /// Passes leadership to the first caller still waiting, or frees it.
    fn hand_over(&self) {
        // Called from destructors, so it cannot fail: a poisoned queue is
        // still consistent (nothing that can panic runs under its lock), and
        // leadership must pass on or every later caller would wait forever.
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(request) = queue.pop() {
            // A closed channel is a caller that is gone: try the next one.
            if request.reply.send(Turn::Lead(request.batches)).is_ok() {
                return;
            }
        }
        queue.leading = false;
    }

    /// Applies a group, in one store call if all goes well; a call the
    /// storage refused is applied again in halves (see the module docs).
    async fn apply_isolating(&self, batches: Vec<WriteBatch>, durability: Durability) -> Results {
        let mut results: Vec<Option<Result<BatchOutcome, StorageError>>> = batches.iter().map(|_| None).collect();
        let mut calls = VecDeque::new();
        calls.push_back(0..batches.len());
        while let Some(range) = calls.pop_front() {
            let Some(call) = batches.get(range.clone()) else { break };
            let expected = call.len();
            let span = tracing::info_span!("storage.apply", backend = self.store.backend(), batches = expected);
            let applied = match durability {
                Durability::Synced => self.store.apply(call.to_vec()).instrument(span).await,
                Durability::Unsynced => self.store.apply_unsynced(call.to_vec()).instrument(span).await,
            };
            match self.counted(expected, applied) {
                Ok(outcomes) => {
                    for (slot, outcome) in results[range].iter_mut().zip(outcomes) {
                        *slot = Some(Ok(outcome));
                    }
                }
                Err(error) if error.kind == StorageErrorKind::Refused && range.len() > 1 => {
                    tracing::warn!(%error, batches = range.len(), "the storage refused a group; applying it in halves");
                    let middle = range.start + range.len() / 2;
                    calls.push_front(middle..range.end);
                    calls.push_front(range.start..middle);
                }
                Err(error) => {
                    for slot in &mut results[range] {
                        *slot = Some(Err(error.clone()));
                    }
                }
            }
        }
        results.into_iter().map(|r| r.unwrap_or_else(|| Err(self.error(GroupCommitError::Abandoned)))).collect()
    }

    /// Makes a group's committed batches durable: if any committed, one
    /// sync; if it fails, every batch that had committed fails with it.
    async fn synced(&self, results: Results) -> Results {
        if !results.iter().any(Result::is_ok) {
            return results;
        }
        match self.store.sync().await {
            Ok(()) => results,
            Err(error) => results.into_iter().map(|r| r.and(Err(error.clone()))).collect(),
        }
    }

    fn counted(&self, expected: usize, applied: Outcomes) -> Outcomes {
        let outcomes = applied?;
        if outcomes.len() != expected {
            return Err(self.error(GroupCommitError::OutcomeCount { expected, found: outcomes.len() }));
        }
        Ok(outcomes)
    }

    fn publish(&self, results: &[Result<BatchOutcome, StorageError>]) {
        // No subscribers is not an error: events are a convenience for live
        // views. Without any, skip cloning what nobody would receive.
        if self.events.receiver_count() == 0 {
            return;
        }
        for outcome in results.iter().flatten() {
            if let BatchOutcome::Committed(writes) = outcome {
                for account in writes.accounts() {
                    let _ = self.events.send(LedgerEvent::Account(account.clone()));
                }
                for transaction in writes.transactions() {
                    let _ = self.events.send(LedgerEvent::Transaction(transaction.clone()));
                }
            }
        }
    }
}

/// Whether a store call must be durable when it returns.
#[derive(Debug, Clone, Copy)]
enum Durability {
    /// [`Store::apply`].
    Synced,
    /// [`Store::apply_unsynced`], followed by a [`Store::sync`] of the group.
    Unsynced,
}

/// An announced command in flight; dropping it (at the command's end, or
/// when its future is dropped) takes it out of the count and wakes a
/// gathering leader.
struct Announcement(Arc<Shared>);

impl Announcement {
    fn new(shared: Arc<Shared>) -> Announcement {
        shared.queue.lock().unwrap_or_else(PoisonError::into_inner).announced += 1;
        Announcement(shared)
    }
}

impl Drop for Announcement {
    fn drop(&mut self) {
        // Nothing that can panic runs under the queue's lock (see `hand_over`).
        let mut queue = self.0.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.announced = queue.announced.saturating_sub(1);
        drop(queue);
        self.0.arrivals.notify_waiters();
    }
}

/// The leader role; dropping it (on any path: done, failed, cancelled,
/// panicked) passes the role on.
struct Leadership(Arc<Shared>);

impl Drop for Leadership {
    fn drop(&mut self) {
        self.0.hand_over();
    }
}

/// Leads one commit: the leader's own batches first, then the followers'.
async fn lead(leadership: Leadership, own: Vec<WriteBatch>) -> Outcomes {
    let shared = leadership.0.clone();
    let announced = is_announced();
    shared.gather(own.len(), announced).await;
    let followers = shared.take_followers(own.len())?;
    let flight: Flight = match shared.alone(&followers, announced) {
        Some(turn) => Box::pin(commit_alone(leadership, turn, own)),
        None => Box::pin(commit(leadership, own, followers)),
    };
    InFlight(Some(flight)).await
}

/// Commits a lone leader's batches in one synced store call: with nobody
/// to commit during its sync, splitting the call in two (apply, then sync)
/// only adds a hop (on sled, a second blocking task per command).
async fn commit_alone(leadership: Leadership, turn: SyncTurn, own: Vec<WriteBatch>) -> Outcomes {
    let shared = leadership.0.clone();
    let results = shared.apply_isolating(own, Durability::Synced).await;
    drop(leadership);
    shared.publish(&results);
    drop(turn);
    results.into_iter().collect()
}

/// Applies a group in one store call, passes leadership on, syncs,
/// publishes and answers the followers. Owns everything it needs, so it can
/// finish on another task when its leader is cancelled.
async fn commit(leadership: Leadership, own: Vec<WriteBatch>, followers: Vec<Request>) -> Outcomes {
    let shared = leadership.0.clone();
    let own_len = own.len();
    let mut batches = own;
    let mut replies = Vec::with_capacity(followers.len());
    for Request { batches: theirs, reply, .. } in followers {
        replies.push((theirs.len(), reply));
        batches.extend(theirs);
    }
    let applied = shared.apply_isolating(batches, Durability::Unsynced).await;
    // Taken while still leading, so turns follow commit order.
    let turn = shared.sync_turn.lock().await;
    // Committed but maybe not durable: the next group may commit meanwhile.
    drop(leadership);
    let results = shared.synced(applied).await;
    shared.publish(&results);
    drop(turn);
    let mut results = results.into_iter();
    let own_outcomes = results.by_ref().take(own_len).collect();
    for (len, reply) in replies {
        // A follower gone since it was taken misses its outcome; its
        // batches were committed all the same (a replay tells).
        let _ = reply.send(Turn::Done(results.by_ref().take(len).collect()));
    }
    own_outcomes
}

/// Waits for a queued caller's turn: its outcomes, or the leader role.
async fn follow(shared: Arc<Shared>, receiver: oneshot::Receiver<Turn>) -> Outcomes {
    let mut waiter = Waiter { shared: shared.clone(), receiver: Some(receiver) };
    match waiter.turn().await {
        Some(Turn::Done(outcomes)) => outcomes,
        Some(Turn::Lead(batches)) => lead(Leadership(shared), batches).await,
        None => Err(shared.error(GroupCommitError::Abandoned)),
    }
}

mod cancellation;
mod settings;
#[cfg(test)]
mod tests;
