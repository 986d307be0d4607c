//! Group commit on a real backend: concurrent commands coalesce into shared
//! `Store::apply` calls (proved by a [`RecordingStore`] around the backend)
//! and every command still gets its own, unchanged result.
//!
//! The deterministic cases hold the first commit at a gate, queue callers
//! behind it one at a time (so their order in the group is known), then
//! open the gate: the next commit must carry the whole queue.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use tokio::task::JoinHandle;

use super::Harness;
use super::invariants::all_transactions;
use super::recording::{ApplyCall, RecordingStore};
use crate::account::AccountKind;
use crate::command::{Deposit, OpenAccount, Transfer, Withdraw};
use crate::error::LedgerError;
use crate::id::{AccountId, TransactionId, UserId};
use crate::idempotency::IdempotencyKey;
use crate::identity::Actor;
use crate::ledger::{GroupCommit, Ledger, LedgerConfig, Receipt};
use crate::money::{Amount, Currency};
use crate::query::HistoryFilter;

/// Conformance cases act as the embedding program itself.
const SYS: Actor = Actor::System;

/// How long a case waits for callers to queue before it gives up.
const QUEUE_WAIT_MAX: Duration = Duration::from_secs(20);

/// Commands each task of the contention case sends.
const COMMANDS_PER_TASK: usize = 25;

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).expect("test keys are valid")
}

fn amount(text: &str) -> Amount {
    Amount::parse(text).expect("test amounts are valid")
}

/// A second ledger over the harness's store, through a recording wrapper.
async fn recording_ledger(h: &Harness, delay: Duration) -> (Ledger, Arc<RecordingStore>) {
    let store = Arc::new(RecordingStore::new(h.store.clone(), delay));
    let config = LedgerConfig::default().group_commit(GroupCommit::default());
    let ledger = Ledger::builder(store.clone()).clock(h.clock.clone()).config(config).open().await;
    (ledger.expect("opening a ledger over the recording store"), store)
}

async fn funded(ledger: &Ledger, name: &str, funds: &str) -> AccountId {
    let command = OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
    let account = ledger.open_account(&SYS, command).await.expect("opening an account").id;
    let deposit = Deposit { account, amount: amount(funds), description: None, metadata: Default::default() };
    ledger.deposit(&SYS, key(&format!("fund-{name}")), deposit).await.expect("funding");
    account
}

async fn posted(ledger: &Ledger, account: AccountId) -> Decimal {
    ledger.balance(&SYS, account).await.expect("balance").posted
}

/// Holds the next commit at the store's gate: starts `leader` and returns
/// once its commit waits there.
async fn hold_a_commit<F>(store: &RecordingStore, leader: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    store.hold_next_apply();
    let task = tokio::spawn(leader);
    tokio::time::timeout(QUEUE_WAIT_MAX, store.wait_until_held()).await.expect("the leader's commit reaches the gate");
    task
}

/// Starts `caller` and returns once it is queued behind the held commit.
async fn queue_up<F>(ledger: &Ledger, caller: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let before = ledger.queued_batches();
    let task = tokio::spawn(caller);
    let deadline = Instant::now() + QUEUE_WAIT_MAX;
    while ledger.queued_batches() <= before {
        assert!(Instant::now() < deadline, "a caller did not queue behind the held commit");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    task
}

fn deposit_by(
    ledger: &Ledger,
    account: AccountId,
    k: &str,
    a: &str,
) -> impl Future<Output = Result<Receipt, LedgerError>> + use<> {
    let (ledger, k, deposit) = (
        ledger.clone(),
        key(k),
        Deposit { account, amount: amount(a), description: None, metadata: Default::default() },
    );
    async move { ledger.deposit(&SYS, k, deposit).await }
}

fn withdraw_by(
    ledger: &Ledger,
    account: AccountId,
    k: &str,
    a: &str,
) -> impl Future<Output = Result<Receipt, LedgerError>> + use<> {
    let (ledger, k, withdraw) = (
        ledger.clone(),
        key(k),
        Withdraw { account, amount: amount(a), description: None, metadata: Default::default() },
    );
    async move { ledger.withdraw(&SYS, k, withdraw).await }
}

async fn join<T>(task: JoinHandle<T>) -> T {
    task.await.expect("a caller panicked")
}

/// The calls recorded since `mark`.
fn calls_since(store: &RecordingStore, mark: usize) -> Vec<ApplyCall> {
    store.calls().into_iter().skip(mark).collect()
}

/// Callers arriving while a commit is in flight share the next commit: with
/// N + 1 callers there are 2 store calls, the second carrying N batches.
pub async fn group_commit_coalesces_concurrent_callers(h: Harness) {
    const FOLLOWERS: usize = 12;
    let (ledger, store) = recording_ledger(&h, Duration::ZERO).await;
    let account = funded(&ledger, "a", "1").await;
    let mark = store.calls().len();
    let leader = hold_a_commit(&store, deposit_by(&ledger, account, "lead", "1")).await;
    let mut followers = Vec::new();
    for i in 0..FOLLOWERS {
        followers.push(queue_up(&ledger, deposit_by(&ledger, account, &format!("follow-{i}"), "1")).await);
    }
    store.release();
    let mut ids = vec![join(leader).await.expect("the leader's deposit").transaction.id];
    for follower in followers {
        let receipt = join(follower).await.expect("a follower's deposit");
        assert!(!receipt.replayed, "a follower's deposit is fresh");
        ids.push(receipt.transaction.id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), FOLLOWERS + 1, "every caller gets its own transaction");
    let calls = calls_since(&store, mark);
    let sizes: Vec<usize> = calls.iter().map(ApplyCall::batches).collect();
    assert_eq!(sizes, [1, FOLLOWERS], "the leader commits alone, then the whole queue in one call");
    assert!(calls[1].outcomes.iter().all(|o| *o == "committed"), "{:?}", calls[1].outcomes);
    assert_eq!(posted(&ledger, account).await, Decimal::from(FOLLOWERS as u64 + 2));
}

/// Many tasks moving money between a few hot accounts, with every commit
/// slowed so groups form: no overdraft, no lost update, every acknowledged
/// command in history exactly once, and groups did carry several batches.
pub async fn group_commit_keeps_invariants_under_contention(h: Harness) {
    const ACCOUNTS: usize = 4;
    const TASKS: usize = 16;
    let (ledger, store) = recording_ledger(&h, Duration::from_millis(2)).await;
    let mut accounts = Vec::new();
    for i in 0..ACCOUNTS {
        accounts.push(funded(&ledger, &format!("hot-{i}"), "200").await);
    }
    let mark = store.calls().len();
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (ledger, accounts) = (ledger.clone(), accounts.clone());
        tasks.push(tokio::spawn(async move { random_commands(&ledger, &accounts, task).await }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(join(task).await);
    }
    assert!(!acknowledged.is_empty(), "some commands must succeed");
    let mut expected: HashMap<AccountId, Decimal> = accounts.iter().map(|a| (*a, Decimal::from(200))).collect();
    for (_, from, to, value) in &acknowledged {
        *expected.entry(*from).or_default() -= *value;
        if let Some(to) = to {
            *expected.entry(*to).or_default() += *value;
        }
    }
    for account in &accounts {
        let balance = posted(&ledger, *account).await;
        assert!(balance >= Decimal::ZERO, "account {account} overdrawn: {balance}");
        assert_eq!(balance, expected[account], "lost update on {account}");
    }
    let mut counts: HashMap<TransactionId, usize> = HashMap::new();
    for t in all_transactions(&ledger, &HistoryFilter::default()).await {
        *counts.entry(t.id).or_default() += 1;
    }
    for (id, ..) in &acknowledged {
        assert_eq!(counts.get(id), Some(&1), "acknowledged transaction {id} must appear exactly once");
    }
    let calls = calls_since(&store, mark);
    let batches: usize = calls.iter().map(ApplyCall::batches).sum();
    assert!(calls.len() < batches, "{} calls for {batches} batches: nothing coalesced", calls.len());
    let largest = calls.iter().map(ApplyCall::batches).max().unwrap_or_default();
    assert!(largest <= GroupCommit::default().batches_max, "a call carried {largest} batches");
}

/// One task's random transfers and withdrawals; returns what was acknowledged
/// as (transaction, debited, credited, amount).
async fn random_commands(
    ledger: &Ledger,
    accounts: &[AccountId],
    task: usize,
) -> Vec<(TransactionId, AccountId, Option<AccountId>, Decimal)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(task as u64);
    let mut acknowledged = Vec::new();
    for i in 0..COMMANDS_PER_TASK {
        let from = accounts[rng.random_range(0..accounts.len())];
        let to = accounts[rng.random_range(0..accounts.len())];
        let value = Decimal::new(rng.random_range(1..=5_000), 2);
        let amount = Amount::new(value).expect("positive");
        let k = key(&format!("c{task}-{i}"));
        let result = if from == to {
            ledger
                .withdraw(&SYS, k, Withdraw { account: from, amount, description: None, metadata: Default::default() })
                .await
        } else {
            ledger
                .transfer(
                    &SYS,
                    k,
                    Transfer { from, to: to.into(), amount, description: None, metadata: Default::default() },
                )
                .await
        };
        match result {
            Ok(r) => acknowledged.push((r.transaction.id, from, (from != to).then_some(to), value)),
            Err(LedgerError::InsufficientFunds { .. }) => {}
            Err(other) => panic!("a concurrent command failed unexpectedly: {other}"),
        }
    }
    acknowledged
}

/// The same key sent by several callers in one group applies once: the
/// first commits, the others in the same call are replays of it, and the
/// same key with another payload in that call is a conflict.
pub async fn replayed_key_inside_one_group_applies_once(h: Harness) {
    const SENDERS: usize = 5;
    let (ledger, store) = recording_ledger(&h, Duration::ZERO).await;
    let account = funded(&ledger, "a", "1").await;
    let mark = store.calls().len();
    let leader = hold_a_commit(&store, deposit_by(&ledger, account, "lead", "1")).await;
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        senders.push(queue_up(&ledger, deposit_by(&ledger, account, "same", "2.50")).await);
    }
    let conflicting = queue_up(&ledger, deposit_by(&ledger, account, "same", "9")).await;
    store.release();
    join(leader).await.expect("the leader's deposit");
    let receipts: Vec<Receipt> = {
        let mut all = Vec::new();
        for sender in senders {
            all.push(join(sender).await.expect("every sender gets the result"));
        }
        all
    };
    let fresh: Vec<bool> = receipts.iter().map(|r| !r.replayed).collect();
    assert_eq!(fresh.iter().filter(|f| **f).count(), 1, "exactly one sender applies the command: {fresh:?}");
    assert!(fresh[0], "the first in the group applies it");
    assert!(receipts.iter().all(|r| r.transaction == receipts[0].transaction), "all see the same transaction");
    assert_eq!(join(conflicting).await, Err(LedgerError::IdempotencyConflict));
    let calls = calls_since(&store, mark);
    assert_eq!(calls.len(), 2, "{calls:?}");
    let same = key("same").scoped(&SYS);
    assert!(calls[1].keys.iter().all(|k| k.as_ref() == Some(&same)), "the group holds the one key: {calls:?}");
    let mut expected = vec!["committed"];
    expected.extend(["replayed"; SENDERS - 1]);
    expected.push("rejected");
    assert_eq!(calls[1].outcomes, expected);
    assert_eq!(posted(&ledger, account).await, Decimal::new(450, 2));
}

/// A batch whose guard fails inside a group is rejected alone; the batches
/// before and after it in the same store call commit.
pub async fn failing_guard_inside_a_group_disturbs_no_other_batch(h: Harness) {
    let (ledger, store) = recording_ledger(&h, Duration::ZERO).await;
    let poor = funded(&ledger, "poor", "10").await;
    let rich = funded(&ledger, "rich", "100").await;
    let mark = store.calls().len();
    let leader = hold_a_commit(&store, deposit_by(&ledger, rich, "lead", "1")).await;
    let before = queue_up(&ledger, withdraw_by(&ledger, rich, "before", "5")).await;
    let failing = queue_up(&ledger, withdraw_by(&ledger, poor, "failing", "50")).await;
    let after = queue_up(&ledger, withdraw_by(&ledger, poor, "after", "4")).await;
    store.release();
    join(leader).await.expect("the leader's deposit");
    join(before).await.expect("the withdrawal before the failing one");
    let result = join(failing).await;
    assert!(matches!(result, Err(LedgerError::InsufficientFunds { .. })), "{result:?}");
    join(after).await.expect("the withdrawal after the failing one");
    let calls = calls_since(&store, mark);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1].outcomes, ["committed", "rejected", "committed"]);
    assert_eq!(posted(&ledger, poor).await, Decimal::from(6));
    assert_eq!(posted(&ledger, rich).await, Decimal::from(96));
    let failed = key("failing").scoped(&SYS);
    assert_eq!(ledger.store().idempotency_record(&failed).await.map(|r| r.is_none()), Ok(true));
}

/// A storage error from a group's store call reaches every caller in the
/// group, and nothing of the group is applied; the next commit works.
pub async fn storage_error_reaches_every_caller_in_the_group(h: Harness) {
    const FOLLOWERS: usize = 4;
    let (ledger, store) = recording_ledger(&h, Duration::ZERO).await;
    let account = funded(&ledger, "a", "1").await;
    let leader = hold_a_commit(&store, deposit_by(&ledger, account, "lead", "1")).await;
    let mut followers = Vec::new();
    for i in 0..FOLLOWERS {
        followers.push(queue_up(&ledger, deposit_by(&ledger, account, &format!("doomed-{i}"), "1")).await);
    }
    store.fail_next_apply();
    store.release();
    join(leader).await.expect("the leader's own commit was held, not failed");
    for follower in followers {
        let result = join(follower).await;
        assert!(matches!(result, Err(LedgerError::Storage(_))), "every follower sees the failure: {result:?}");
    }
    assert_eq!(posted(&ledger, account).await, Decimal::from(2), "nothing of the failed group applied");
    let deposit = Deposit { account, amount: amount("1"), description: None, metadata: Default::default() };
    ledger.deposit(&SYS, key("doomed-0"), deposit).await.expect("a retry after the failure commits");
    assert_eq!(posted(&ledger, account).await, Decimal::from(3));
}

/// One batch never fails its group: when the storage refuses one batch's
/// data (as PostgreSQL refuses a whole transaction for one bad row), the
/// group is applied again without sharing its fate, every other batch
/// commits, and only the refused one's caller sees the error.
pub async fn one_refused_batch_never_fails_its_group(h: Harness) {
    const HONEST: usize = 6;
    let (ledger, store) = recording_ledger(&h, Duration::ZERO).await;
    let account = funded(&ledger, "a", "1").await;
    let poisoned = funded(&ledger, "p", "1").await;
    let leader = hold_a_commit(&store, deposit_by(&ledger, account, "lead", "1")).await;
    let mut honest = Vec::new();
    for i in 0..HONEST / 2 {
        honest.push(queue_up(&ledger, deposit_by(&ledger, account, &format!("before-{i}"), "1")).await);
    }
    let hostile = queue_up(&ledger, deposit_by(&ledger, poisoned, "hostile", "1")).await;
    for i in 0..HONEST / 2 {
        honest.push(queue_up(&ledger, deposit_by(&ledger, account, &format!("after-{i}"), "1")).await);
    }
    store.refuse_batches_naming(poisoned);
    let calls_before = store.calls().len();
    store.release();
    join(leader).await.expect("the leader's commit was held, not refused");
    for follower in honest {
        join(follower).await.expect("an honest batch commits beside a refused one");
    }
    let refused = join(hostile).await;
    assert!(
        matches!(&refused, Err(LedgerError::Storage(e)) if e.kind == crate::error::StorageErrorKind::Refused),
        "only the refused batch's caller sees the refusal: {refused:?}"
    );
    assert_eq!(posted(&ledger, account).await, Decimal::from(1 + 1 + HONEST as i64));
    assert_eq!(posted(&ledger, poisoned).await, Decimal::from(1), "nothing of the refused batch applied");
    let group: Vec<ApplyCall> = store.calls()[calls_before + 1..].to_vec();
    assert!(group.iter().any(|c| c.outcomes.is_empty() && c.batches() == HONEST + 1), "the group was tried whole");
    let committed: usize = group.iter().map(|c| c.outcomes.len()).sum();
    assert_eq!(committed, HONEST, "every honest batch committed exactly once, in halves: {group:?}");
    store.stop_refusing();
    let deposit = Deposit { account: poisoned, amount: amount("1"), description: None, metadata: Default::default() };
    ledger.deposit(&SYS, key("hostile"), deposit).await.expect("once the cause is gone, the key applies");
    assert_eq!(posted(&ledger, poisoned).await, Decimal::from(2));
}
