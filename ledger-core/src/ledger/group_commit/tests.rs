//! Group commit's unit tests: grouping, bounds, drop safety, syncing
//! apart and gathering, over a recording memory store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::task::Poll;
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
/// group, and waits until the second has been applied (unsynced). An
/// announced command planning meanwhile (the returned task, to abort) keeps
/// either leader from committing alone.
async fn second_group_applied_while_first_syncs(f: &Fixture) -> [JoinHandle<Outcomes>; 3] {
    let company = planning(&f.committer, "company", Duration::from_secs(600), true).await;
    f.store.hold_next_sync();
    let first = spawn_apply(&f.committer, vec![opening(Currency::Usd)]);
    tokio::time::timeout(WAIT_MAX, f.store.wait_until_sync_held()).await.unwrap();
    let second = spawn_apply(&f.committer, vec![opening(Currency::Eur)]);
    wait_applied(&f.store, 2).await;
    [first, second, company]
}

#[tokio::test]
async fn the_next_group_commits_while_the_previous_one_syncs() {
    let mut f = fixture(8);
    let [first, second, company] = second_group_applied_while_first_syncs(&f).await;
    company.abort();
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
    let [first, eur, company] = second_group_applied_while_first_syncs(&f).await;
    company.abort();
    f.store.fail_next_sync();
    f.store.release_sync();
    finish(first).await;
    let error = tokio::time::timeout(WAIT_MAX, eur).await.unwrap().unwrap().unwrap_err();
    assert_eq!(error.message, "injected sync failure");
    assert_eq!(opened(&mut f.events), [Currency::Usd], "the failed group published nothing");
    f.committer.apply(vec![opening(Currency::Gbp)]).await.unwrap();
    assert_eq!(opened(&mut f.events), [Currency::Gbp]);
}

/// Whether each recorded apply call was synced (`apply`) rather than
/// followed by a sync of its group (`apply_unsynced`).
fn synced(store: &RecordingStore) -> Vec<bool> {
    store.calls().iter().map(|c| c.synced).collect()
}

#[tokio::test]
async fn a_lone_caller_commits_in_one_synced_call() {
    let f = fixture(8);
    f.committer.apply(vec![opening(Currency::Usd)]).await.unwrap();
    f.committer.apply(vec![batch("again")]).await.unwrap();
    assert_eq!(synced(&f.store), [true, true], "no separate sync call for a caller with nobody behind it");
}

#[tokio::test]
async fn a_leader_with_an_announced_command_in_flight_syncs_apart() {
    let f = fixture(8);
    let company = planning(&f.committer, "company", Duration::from_secs(600), true).await;
    announced_now(&f.committer, "leader").await;
    assert_eq!(synced(&f.store), [false], "the command in flight may commit during this group's sync");
    company.abort();
    assert!(company.await.unwrap_err().is_cancelled());
    announced_now(&f.committer, "alone").await;
    assert_eq!(synced(&f.store), [false, true], "once it is gone the next leader commits alone");
}

#[tokio::test]
async fn a_lone_caller_behind_a_syncing_group_commits_without_waiting_for_that_sync() {
    let mut f = fixture(8);
    let company = planning(&f.committer, "company", Duration::from_secs(600), true).await;
    f.store.hold_next_sync();
    let first = spawn_apply(&f.committer, vec![opening(Currency::Usd)]);
    tokio::time::timeout(WAIT_MAX, f.store.wait_until_sync_held()).await.unwrap();
    company.abort();
    assert!(company.await.unwrap_err().is_cancelled());
    let lone = spawn_apply(&f.committer, vec![opening(Currency::Eur)]);
    wait_applied(&f.store, 2).await;
    assert_eq!(synced(&f.store), [false, false], "the earlier group holds the sync turn, so it is not alone");
    assert!(!lone.is_finished(), "answered only after the earlier group's sync");
    f.store.release_sync();
    finish(first).await;
    finish(lone).await;
    assert_eq!(opened(&mut f.events), [Currency::Usd, Currency::Eur], "published in commit order");
}

#[test]
fn settings_are_capped() {
    let wild = GroupCommit { batches_max: usize::MAX, wait_micros: u64::MAX }.capped();
    assert_eq!(wild, GroupCommit { batches_max: GROUP_COMMIT_BATCHES_CAP, wait_micros: GROUP_COMMIT_WAIT_MICROS_MAX });
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
