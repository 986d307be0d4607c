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
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{Notify, broadcast, oneshot};

use crate::error::{StorageError, StorageErrorKind};
use crate::event::LedgerEvent;
use crate::store::Store;
use crate::write_batch::{BatchOutcome, WriteBatch};

/// The default for [`GroupCommit::batches_max`]: past a few hundred batches
/// the fixed cost of a commit (an fsync of milliseconds) is already spread to
/// a small share of each batch's own work, while a larger group only holds
/// the store's commit lock longer and makes its last caller wait longer.
pub const GROUP_COMMIT_BATCHES_DEFAULT: usize = 256;

/// The most batches a group may ever be configured to carry.
pub const GROUP_COMMIT_BATCHES_CAP: usize = 4096;

/// The longest a leader may be configured to wait for company: 10 ms.
pub const GROUP_COMMIT_WAIT_MICROS_MAX: u64 = 10_000;

/// Group commit settings of a [`Ledger`](crate::Ledger).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// The most batches one `Store::apply` call carries (capped at
    /// [`GROUP_COMMIT_BATCHES_CAP`]); 0 or 1 disables group commit.
    pub batches_max: usize,
    /// How long a leader may wait for announced money commands still on
    /// their way to the queue, in microseconds (capped at
    /// [`GROUP_COMMIT_WAIT_MICROS_MAX`]); 0 never waits, and groups form only
    /// from callers who arrive while a commit is in flight. A leader with no
    /// command on its way commits at once. A wait needs Tokio's time driver.
    pub wait_micros: u64,
}

impl GroupCommit {
    /// The same settings, with `batches_max` set.
    pub fn batches_max(mut self, batches_max: usize) -> GroupCommit {
        self.batches_max = batches_max;
        self
    }

    /// The same settings, with `wait_micros` set.
    pub fn wait_micros(mut self, wait_micros: u64) -> GroupCommit {
        self.wait_micros = wait_micros;
        self
    }
}

impl GroupCommit {
    /// Every caller applies its own batches in its own `Store::apply` call.
    pub const DISABLED: GroupCommit = GroupCommit { batches_max: 1, wait_micros: 0 };

    /// Whether batches of different callers may share a commit.
    pub fn is_enabled(&self) -> bool {
        self.batches_max > 1
    }

    fn capped(self) -> GroupCommit {
        GroupCommit {
            batches_max: self.batches_max.min(GROUP_COMMIT_BATCHES_CAP),
            wait_micros: self.wait_micros.min(GROUP_COMMIT_WAIT_MICROS_MAX),
        }
    }
}

impl Default for GroupCommit {
    /// Enabled, up to [`GROUP_COMMIT_BATCHES_DEFAULT`] batches, no waiting.
    fn default() -> Self {
        GroupCommit { batches_max: GROUP_COMMIT_BATCHES_DEFAULT, wait_micros: 0 }
    }
}

/// Why the group commit machinery itself failed a caller. Reported as the
/// source of a [`StorageError`]: like a storage failure, it is never a verdict
/// on the command, and a replay of the idempotency key tells what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupCommitError {
    /// The queue's lock was poisoned by a panic.
    #[error("the group commit queue's lock is poisoned")]
    Poisoned,
    /// The commit carrying the batches was dropped before it finished (its
    /// leader was cancelled outside a Tokio runtime); the outcome is unknown.
    #[error("the commit carrying this command was abandoned; its outcome is unknown")]
    Abandoned,
    /// The store answered with the wrong number of outcomes.
    #[error("the store returned {found} outcomes for {expected} batches")]
    OutcomeCount {
        /// Batches applied.
        expected: usize,
        /// Outcomes returned.
        found: usize,
    },
}

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
    sync_turn: tokio::sync::Mutex<()>,
}

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
        let sync_turn = tokio::sync::Mutex::new(());
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
    /// may wait for it (see the module docs).
    pub(crate) async fn announced<F: Future>(&self, command: F) -> F::Output {
        let settings = self.0.settings;
        if !settings.is_enabled() || settings.wait_micros == 0 {
            // No leader ever gathers: skip the bookkeeping.
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
            let applied = match durability {
                Durability::Synced => self.store.apply(call.to_vec()).await,
                Durability::Unsynced => self.store.apply_unsynced(call.to_vec()).await,
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
    shared.gather(own.len(), is_announced()).await;
    let followers = shared.take_followers(own.len())?;
    let flight: Flight = Box::pin(commit(leadership, own, followers));
    InFlight(Some(flight)).await
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

/// A queued caller's end of its reply channel. If the caller is dropped
/// after leadership was sent to it, the destructor passes leadership on.
struct Waiter {
    shared: Arc<Shared>,
    receiver: Option<oneshot::Receiver<Turn>>,
}

impl Waiter {
    /// The turn, or `None` if its leader vanished without answering.
    async fn turn(&mut self) -> Option<Turn> {
        let receiver = self.receiver.as_mut()?;
        let turn = receiver.await.ok();
        // Received: nothing is left for the destructor to pass on.
        self.receiver = None;
        turn
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if let Some(mut receiver) = self.receiver.take() {
            // Closing first makes the check race-free: a leader sending after
            // this point sees the channel closed and tries the next caller.
            receiver.close();
            if let Ok(Turn::Lead(_)) = receiver.try_recv() {
                self.shared.hand_over();
            }
        }
    }
}

type Flight = Pin<Box<dyn Future<Output = Outcomes> + Send + 'static>>;

/// A commit in flight, awaited by its leader. If the leader is dropped before
/// the commit ends, the commit finishes on a task of its own.
struct InFlight(Option<Flight>);

impl Future for InFlight {
    type Output = Outcomes;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcomes> {
        let Some(flight) = self.0.as_mut() else {
            return Poll::Pending;
        };
        let outcomes = std::task::ready!(flight.as_mut().poll(cx));
        self.0 = None;
        Poll::Ready(outcomes)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(flight) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                // The leader is gone; its followers get their outcomes from `commit`.
                let _ = flight.await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Instant;

    use chrono::Utc;
    use tokio::task::JoinHandle;

    use super::*;
    use crate::account::Account;
    use crate::audit::AuditDraft;
    use crate::conformance::recording::RecordingStore;
    use crate::error::LedgerError;
    use crate::memory::MemoryStore;
    use crate::money::Currency;
    use crate::write_batch::Op;

    const WAIT_MAX: Duration = Duration::from_secs(10);

    struct Fixture {
        committer: Committer,
        store: Arc<RecordingStore>,
        events: broadcast::Receiver<LedgerEvent>,
    }

    fn fixture(batches_max: usize) -> Fixture {
        gathering_fixture(GroupCommit { batches_max, wait_micros: 0 })
    }

    fn gathering_fixture(settings: GroupCommit) -> Fixture {
        let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), Duration::ZERO));
        let (sender, events) = broadcast::channel(64);
        Fixture { committer: Committer::new(store.clone(), sender, settings), store, events }
    }

    /// A batch that appends one audit record, targeted `name`.
    fn batch(name: &str) -> WriteBatch {
        WriteBatch::rejected(Utc::now(), AuditDraft::new("system", "test", name), LedgerError::Forbidden)
    }

    /// A batch that opens a currency's settlement account (and publishes it).
    fn opening(currency: Currency) -> WriteBatch {
        let at = Utc::now();
        let op = Op::EnsureAccount(Account::settlement(currency, at));
        WriteBatch::new(at, AuditDraft::new("system", "test", currency.code()), None, vec![op])
    }

    /// The targets of the audit records written so far, in commit order.
    async fn applied(store: &RecordingStore) -> Vec<String> {
        store.audit_records(0, 1000).await.unwrap().into_iter().map(|r| r.target).collect()
    }

    fn sizes(store: &RecordingStore) -> Vec<usize> {
        store.calls().iter().map(|c| c.batches()).collect()
    }

    fn spawn_apply(committer: &Committer, batches: Vec<WriteBatch>) -> JoinHandle<Outcomes> {
        let committer = committer.clone();
        tokio::spawn(async move { committer.apply(batches).await })
    }

    /// Starts a leader whose commit waits at the store's gate.
    async fn held_leader(f: &Fixture, batches: Vec<WriteBatch>) -> JoinHandle<Outcomes> {
        f.store.hold_next_apply();
        let task = spawn_apply(&f.committer, batches);
        tokio::time::timeout(WAIT_MAX, f.store.wait_until_held()).await.unwrap();
        task
    }

    async fn wait_queued(committer: &Committer, batches: usize) {
        let deadline = Instant::now() + WAIT_MAX;
        while committer.queued_batches() < batches {
            assert!(Instant::now() < deadline, "callers did not queue");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Queues one caller behind the held commit and waits until it is queued.
    async fn queued(f: &Fixture, name: &str) -> JoinHandle<Outcomes> {
        let before = f.committer.queued_batches();
        let task = spawn_apply(&f.committer, vec![batch(name)]);
        wait_queued(&f.committer, before + 1).await;
        task
    }

    async fn finish(task: JoinHandle<Outcomes>) -> Vec<BatchOutcome> {
        tokio::time::timeout(WAIT_MAX, task).await.expect("the caller finishes").unwrap().unwrap()
    }

    #[tokio::test]
    async fn lone_caller_applies_at_once_in_its_own_call() {
        let f = fixture(8);
        let outcomes = f.committer.apply(vec![batch("a")]).await.unwrap();
        assert!(matches!(outcomes[..], [BatchOutcome::Rejected(LedgerError::Forbidden)]));
        assert_eq!(sizes(&f.store), [1]);
        assert_eq!(f.committer.queued_batches(), 0);
    }

    #[tokio::test]
    async fn queued_callers_commit_in_groups_of_at_most_batches_max() {
        let f = fixture(4);
        let leader = held_leader(&f, vec![batch("lead")]).await;
        let mut followers = Vec::new();
        for i in 0..10 {
            followers.push(queued(&f, &format!("f{i}")).await);
        }
        f.store.release();
        finish(leader).await;
        for follower in followers {
            assert_eq!(finish(follower).await.len(), 1);
        }
        assert_eq!(sizes(&f.store), [1, 4, 4, 2]);
        let mut expected = vec!["lead".to_owned()];
        expected.extend((0..10).map(|i| format!("f{i}")));
        assert_eq!(applied(&f.store).await, expected, "each batch applied once, in arrival order");
    }

    #[tokio::test]
    async fn a_long_list_is_applied_in_commits_of_at_most_batches_max() {
        let f = fixture(4);
        let outcomes = f.committer.apply((0..10).map(|i| batch(&i.to_string())).collect()).await.unwrap();
        assert_eq!(outcomes.len(), 10);
        assert_eq!(sizes(&f.store), [4, 4, 2]);
    }

    #[tokio::test]
    async fn disabled_group_commit_never_queues_a_caller() {
        let f = fixture(1);
        let leader = held_leader(&f, vec![batch("held")]).await;
        let other = f.committer.apply(vec![batch("other")]).await.unwrap();
        assert_eq!(other.len(), 1, "a second caller commits while the first is held");
        f.store.release();
        finish(leader).await;
        assert_eq!(sizes(&f.store), [1, 1]);
        assert_eq!(applied(&f.store).await, ["other", "held"]);
    }

    #[tokio::test]
    async fn cancelled_follower_is_skipped_and_the_others_commit() {
        let f = fixture(8);
        let leader = held_leader(&f, vec![batch("lead")]).await;
        let first = queued(&f, "first").await;
        let cancelled = queued(&f, "cancelled").await;
        let last = queued(&f, "last").await;
        cancelled.abort();
        assert!(cancelled.await.unwrap_err().is_cancelled());
        f.store.release();
        finish(leader).await;
        finish(first).await;
        finish(last).await;
        assert_eq!(sizes(&f.store), [1, 2]);
        assert_eq!(applied(&f.store).await, ["lead", "first", "last"]);
    }

    #[tokio::test]
    async fn leader_dropped_mid_commit_finishes_it_and_hands_over() {
        let f = fixture(8);
        let leader = held_leader(&f, vec![batch("lead")]).await;
        let follower = queued(&f, "follower").await;
        leader.abort();
        assert!(leader.await.unwrap_err().is_cancelled(), "the leader's caller is gone mid-commit");
        f.store.release();
        assert_eq!(finish(follower).await.len(), 1, "the follower is answered");
        assert_eq!(applied(&f.store).await, ["lead", "follower"], "the cancelled leader's commit finished once");
        assert_eq!(sizes(&f.store), [1, 1]);
        f.committer.apply(vec![batch("later")]).await.unwrap();
        assert_eq!(f.committer.queued_batches(), 0, "leadership is free again");
    }

    #[tokio::test]
    async fn follower_dropped_after_being_handed_leadership_passes_it_on() {
        let f = fixture(8);
        let leader = held_leader(&f, vec![batch("lead")]).await;
        let mut next = Box::pin(f.committer.apply(vec![batch("dropped")]));
        let pending = std::future::poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx).is_pending())).await;
        assert!(pending, "the caller queues behind the held commit");
        assert_eq!(f.committer.queued_batches(), 1);
        let last = queued(&f, "last").await;
        f.store.release();
        finish(leader).await;
        // Leadership was handed to `next`, which is never polled again.
        drop(next);
        assert_eq!(finish(last).await.len(), 1, "leadership reached the caller after the dropped one");
        assert_eq!(applied(&f.store).await, ["lead", "last"], "the dropped caller's batch was never applied");
    }

    #[tokio::test]
    async fn storage_error_reaches_every_caller_in_the_group() {
        let f = fixture(8);
        let leader = held_leader(&f, vec![batch("lead")]).await;
        let followers = [queued(&f, "a").await, queued(&f, "b").await];
        f.store.fail_next_apply();
        f.store.release();
        finish(leader).await;
        for follower in followers {
            let error = follower.await.unwrap().unwrap_err();
            assert_eq!(error.message, "injected failure");
        }
        assert_eq!(applied(&f.store).await, ["lead"]);
        f.committer.apply(vec![batch("after")]).await.unwrap();
    }

    #[tokio::test]
    async fn events_follow_commit_order_once_per_committed_batch() {
        let mut f = fixture(8);
        let leader = held_leader(&f, vec![opening(Currency::Usd)]).await;
        let eur = spawn_apply(&f.committer, vec![opening(Currency::Eur)]);
        wait_queued(&f.committer, 1).await;
        let rejected = queued(&f, "rejected").await;
        let gbp = spawn_apply(&f.committer, vec![opening(Currency::Gbp)]);
        wait_queued(&f.committer, 3).await;
        f.store.release();
        for task in [leader, eur, rejected, gbp] {
            finish(task).await;
        }
        let mut opened = Vec::new();
        while let Ok(event) = f.events.try_recv() {
            match event {
                LedgerEvent::Account(account) => opened.push(account.currency),
                LedgerEvent::Transaction(t) => panic!("unexpected transaction event {t:?}"),
            }
        }
        assert_eq!(opened, [Currency::Usd, Currency::Eur, Currency::Gbp]);
        assert_eq!(applied(&f.store).await, ["USD", "EUR", "rejected", "GBP"]);
    }

    /// The currencies of the accounts published so far, in order.
    fn opened(events: &mut broadcast::Receiver<LedgerEvent>) -> Vec<Currency> {
        let mut opened = Vec::new();
        while let Ok(event) = events.try_recv() {
            match event {
                LedgerEvent::Account(account) => opened.push(account.currency),
                LedgerEvent::Transaction(t) => panic!("unexpected transaction event {t:?}"),
            }
        }
        opened
    }

    /// Waits until the store has recorded `calls` apply calls.
    async fn wait_applied(store: &RecordingStore, calls: usize) {
        let deadline = Instant::now() + WAIT_MAX;
        while store.calls().len() < calls {
            assert!(Instant::now() < deadline, "the store never saw {calls} apply calls");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Opens USD in a first group whose sync is held, then EUR in a second
    /// group, and waits until the second has been applied (unsynced).
    async fn second_group_applied_while_first_syncs(f: &Fixture) -> (JoinHandle<Outcomes>, JoinHandle<Outcomes>) {
        f.store.hold_next_sync();
        let first = spawn_apply(&f.committer, vec![opening(Currency::Usd)]);
        tokio::time::timeout(WAIT_MAX, f.store.wait_until_sync_held()).await.unwrap();
        let second = spawn_apply(&f.committer, vec![opening(Currency::Eur)]);
        wait_applied(&f.store, 2).await;
        (first, second)
    }

    #[tokio::test]
    async fn the_next_group_commits_while_the_previous_one_syncs() {
        let mut f = fixture(8);
        let (first, second) = second_group_applied_while_first_syncs(&f).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!first.is_finished(), "a caller is answered only once its group has synced");
        assert!(!second.is_finished(), "a later group syncs only after the earlier one");
        assert_eq!(opened(&mut f.events), [], "nothing is published before its sync");
        f.store.release_sync();
        finish(first).await;
        finish(second).await;
        assert_eq!(opened(&mut f.events), [Currency::Usd, Currency::Eur], "published in commit order");
        assert_eq!(sizes(&f.store), [1, 1]);
    }

    #[tokio::test]
    async fn a_failed_sync_fails_every_caller_of_its_group_and_publishes_nothing_of_it() {
        let mut f = fixture(8);
        let (first, eur) = second_group_applied_while_first_syncs(&f).await;
        f.store.fail_next_sync();
        f.store.release_sync();
        finish(first).await;
        let error = tokio::time::timeout(WAIT_MAX, eur).await.unwrap().unwrap().unwrap_err();
        assert_eq!(error.message, "injected sync failure");
        assert_eq!(opened(&mut f.events), [Currency::Usd], "the failed group published nothing");
        f.committer.apply(vec![opening(Currency::Gbp)]).await.unwrap();
        assert_eq!(opened(&mut f.events), [Currency::Gbp]);
    }

    #[test]
    fn settings_are_capped() {
        let wild = GroupCommit { batches_max: usize::MAX, wait_micros: u64::MAX }.capped();
        assert_eq!(
            wild,
            GroupCommit { batches_max: GROUP_COMMIT_BATCHES_CAP, wait_micros: GROUP_COMMIT_WAIT_MICROS_MAX }
        );
        assert!(!GroupCommit::DISABLED.is_enabled());
        assert!(!GroupCommit { batches_max: 0, wait_micros: 0 }.is_enabled());
        assert!(GroupCommit::default().is_enabled());
    }

    /// Gathering waits at most this long.
    const GATHER: GroupCommit = GroupCommit { batches_max: 8, wait_micros: 10_000 };

    /// Starts a command that plans for `planning` before applying one batch,
    /// announced or not; returns once it is in flight.
    async fn planning(committer: &Committer, name: &str, planning: Duration, announced: bool) -> JoinHandle<Outcomes> {
        let (started, in_flight) = oneshot::channel();
        let (applier, batch) = (committer.clone(), batch(name));
        let command = async move {
            let _ = started.send(());
            tokio::time::sleep(planning).await;
            applier.apply(vec![batch]).await
        };
        let announcer = committer.clone();
        let task = match announced {
            true => tokio::spawn(async move { announcer.announced(command).await }),
            false => tokio::spawn(command),
        };
        in_flight.await.unwrap();
        task
    }

    /// Runs one announced command that applies one batch at once.
    async fn announced_now(committer: &Committer, name: &str) -> Vec<BatchOutcome> {
        committer.announced(committer.apply(vec![batch(name)])).await.unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_announced_caller_never_waits_for_company() {
        let f = gathering_fixture(GATHER);
        let started = tokio::time::Instant::now();
        announced_now(&f.committer, "alone").await;
        announced_now(&f.committer, "again").await;
        assert_eq!(started.elapsed(), Duration::ZERO, "no command was on its way, so no leader waited");
        assert_eq!(sizes(&f.store), [1, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_waits_for_an_announced_command_still_planning_and_commits_it_in_its_group() {
        let f = gathering_fixture(GATHER);
        let started = tokio::time::Instant::now();
        let planner = planning(&f.committer, "planner", Duration::from_millis(2), true).await;
        announced_now(&f.committer, "leader").await;
        finish(planner).await;
        assert_eq!(sizes(&f.store), [2], "one commit carried both");
        assert_eq!(applied(&f.store).await, ["leader", "planner"]);
        assert_eq!(started.elapsed(), Duration::from_millis(2), "the leader waited only until the planner queued");
    }

    #[tokio::test(start_paused = true)]
    async fn a_gathering_leader_waits_at_most_wait_micros() {
        let f = gathering_fixture(GATHER);
        let started = tokio::time::Instant::now();
        let slow = planning(&f.committer, "slow", Duration::from_millis(50), true).await;
        announced_now(&f.committer, "leader").await;
        assert_eq!(started.elapsed(), Duration::from_micros(GATHER.wait_micros));
        assert_eq!(sizes(&f.store), [1], "the leader committed alone when the wait ran out");
        finish(slow).await;
        assert_eq!(sizes(&f.store), [1, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn commands_not_announced_are_not_waited_for() {
        let f = gathering_fixture(GATHER);
        let started = tokio::time::Instant::now();
        let quiet = planning(&f.committer, "quiet", Duration::from_millis(2), false).await;
        announced_now(&f.committer, "leader").await;
        assert_eq!(started.elapsed(), Duration::ZERO);
        finish(quiet).await;
        assert_eq!(sizes(&f.store), [1, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_announced_command_stops_counting_as_on_its_way() {
        let f = gathering_fixture(GATHER);
        let started = tokio::time::Instant::now();
        let abandoned = planning(&f.committer, "abandoned", Duration::from_secs(60), true).await;
        let dropper = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(3)).await;
            abandoned.abort();
        });
        announced_now(&f.committer, "leader").await;
        assert_eq!(started.elapsed(), Duration::from_millis(3), "the leader stopped waiting when it was dropped");
        dropper.await.unwrap();
        assert_eq!(sizes(&f.store), [1]);
    }
}
