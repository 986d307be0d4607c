//! Two independent stores on one PostgreSQL schema, as two service processes
//! would share a database: racing transfers over a few hot accounts and
//! racing withdrawals through both. No overdraft, no lost update, and the
//! ledger's invariants hold. Skipped without `LEDGER_TEST_POSTGRES_URL`.
//!
//! Readers tail the change feed and the audit log, and page through
//! history, while both instances write: none skips or repeats a record.
//!
//! The same races run on two SQLite stores sharing one file (each with its
//! own pool and in-process writer queue, so they meet only at SQLite's lock).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ledger_core::conformance::invariants;
use ledger_core::{
    AccountId, AccountKind, Actor, Amount, Currency, Deposit, HistoryFilter, IdempotencyKey, Ledger, LedgerError,
    OpenAccount, PageRequest, TransactionKind, Transfer, UserId, Withdraw,
};
use ledger_sql::{SqlOptions, SqlStore};
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use tokio::sync::Barrier;

const HOT_ACCOUNTS: usize = 4;
const OPENING_BALANCE: i64 = 300;
const TASKS_PER_INSTANCE: usize = 8;
const TRANSFERS_PER_TASK: usize = 40;
const RACERS: usize = 24;
/// Accounts the tailed writers move money between: enough that most
/// transfers touch disjoint rows and commit side by side.
const TAILED_ACCOUNTS: usize = 8;
/// Records a tailing reader asks for at a time: few, so that it reads many
/// times while the writers run.
const TAIL_PAGE: usize = 16;

fn key(text: String) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

/// Two stores connected at the same moment (their migrations race too),
/// and a ledger on each (their settlement-account setup races too).
async fn two_ledgers(url: &str, options: SqlOptions) -> (Ledger, Ledger) {
    let (a, b) = tokio::join!(SqlStore::connect_with(url, options.clone()), SqlStore::connect_with(url, options));
    let (a, b) = tokio::join!(Ledger::open(a.unwrap()), Ledger::open(b.unwrap()));
    (a.unwrap(), b.unwrap())
}

async fn funded(ledger: &Ledger, name: &str, amount: i64) -> AccountId {
    let account = ledger
        .open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd))
        .await;
    let account = account.unwrap().id;
    let deposit = Deposit {
        account,
        amount: Amount::new(Decimal::from(amount)).unwrap(),
        description: None,
        metadata: Default::default(),
    };
    ledger.deposit(&Actor::System, key(format!("fund-{name}")), deposit).await.unwrap();
    account
}

/// One acknowledged transfer: (id, from, to, amount).
type Ack = (ledger_core::TransactionId, AccountId, AccountId, Decimal);

async fn transfer_task(ledger: Ledger, accounts: Vec<AccountId>, seed: u64) -> Vec<Ack> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut acks = Vec::new();
    for i in 0..TRANSFERS_PER_TASK {
        let from = accounts[rng.random_range(0..accounts.len())];
        let to = accounts[rng.random_range(0..accounts.len())];
        if from == to {
            continue;
        }
        let amount = Amount::new(Decimal::new(rng.random_range(1..=5_000), 2)).unwrap();
        let command = Transfer { from, to: to.into(), amount, description: None, metadata: Default::default() };
        match ledger.transfer(&Actor::System, key(format!("t{seed}-{i}")), command).await {
            Ok(receipt) => acks.push((receipt.transaction.id, from, to, amount.value())),
            Err(LedgerError::InsufficientFunds { .. }) => {}
            Err(other) => panic!("transfer failed unexpectedly: {other}"),
        }
    }
    acks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_never_overdraw_nor_lose_updates() {
    let Some(url) = common::postgres_url("PostgreSQL two-instance race") else { return };
    let schema = common::fresh_schema(&url).await;
    let (a, b) = two_ledgers(&url, common::test_options(&schema)).await;
    race(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_postgres_instances_booking_apart_never_overdraw_nor_lose_updates() {
    let Some(url) = common::postgres_url("PostgreSQL two-instance race, booking apart") else { return };
    let schema = common::fresh_schema(&url).await;
    let (a, b) = two_ledgers(&url, common::test_options(&schema).book_apart(true)).await;
    race(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sqlite_instances_never_overdraw_nor_lose_updates() {
    let options = SqlOptions::default().max_connections(5);
    let (a, b) = two_ledgers(&common::fresh_sqlite_url(), options).await;
    race(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_postgres_instances_share_leases_and_cursors() {
    let Some(url) = common::postgres_url("PostgreSQL two-instance leases") else { return };
    let schema = common::fresh_schema(&url).await;
    let (a, b) = two_ledgers(&url, common::test_options(&schema)).await;
    leases_and_cursors(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sqlite_instances_share_leases_and_cursors() {
    let options = SqlOptions::default().max_connections(5);
    let (a, b) = two_ledgers(&common::fresh_sqlite_url(), options).await;
    leases_and_cursors(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_while_two_postgres_instances_write_neither_skip_nor_repeat() {
    let Some(url) = common::postgres_url("PostgreSQL readers while two instances write") else { return };
    let schema = common::fresh_schema(&url).await;
    let (a, b) = two_ledgers(&url, common::test_options(&schema)).await;
    read_while_writing(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_while_two_postgres_instances_booking_apart_write_neither_skip_nor_repeat() {
    let Some(url) = common::postgres_url("PostgreSQL readers during two-instance writes, booking apart") else {
        return;
    };
    let schema = common::fresh_schema(&url).await;
    let (a, b) = two_ledgers(&url, common::test_options(&schema).book_apart(true)).await;
    read_while_writing(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_while_two_sqlite_instances_write_neither_skip_nor_repeat() {
    let options = SqlOptions::default().max_connections(5);
    let (a, b) = two_ledgers(&common::fresh_sqlite_url(), options).await;
    read_while_writing(a, b).await;
}

/// Both instances transfer between a few accounts while readers tail the
/// change feed (through one instance) and the audit log (through the
/// other), and page through history newest first. A record that became
/// visible below one a reader had already passed would be missing from
/// what it read and present in a read made after the writers finished:
/// each tail must equal that read, and each history walk must equal the
/// final history from its first item down.
async fn read_while_writing(a: Ledger, b: Ledger) {
    let mut accounts = Vec::new();
    for i in 0..TAILED_ACCOUNTS {
        let ledger = if i % 2 == 0 { &a } else { &b };
        accounts.push(funded(ledger, &format!("tailed-{i}"), OPENING_BALANCE).await);
    }
    let done = Arc::new(AtomicBool::new(false));
    let feed = tokio::spawn(tail(a.clone(), Log::Changes, done.clone()));
    let audit = tokio::spawn(tail(b.clone(), Log::Audit, done.clone()));
    let walks = tokio::spawn(history_walks(a.clone(), done.clone()));
    let mut writers = Vec::new();
    for task in 0..2 * TASKS_PER_INSTANCE {
        let ledger = if task % 2 == 0 { a.clone() } else { b.clone() };
        writers.push(tokio::spawn(transfer_task(ledger, accounts.clone(), 1_000 + task as u64)));
    }
    let mut acks = 0;
    for writer in writers {
        acks += writer.await.unwrap().len();
    }
    done.store(true, Ordering::SeqCst);
    let (feed, audit, walks) = (feed.await.unwrap(), audit.await.unwrap(), walks.await.unwrap());

    let all_changes = tail(b.clone(), Log::Changes, done.clone()).await;
    assert_eq!(feed, all_changes, "the feed's tail read every change once, in order");
    let all_records = tail(a.clone(), Log::Audit, done.clone()).await;
    assert_eq!(audit, all_records, "the audit log's tail read every record once, in order");
    let numbered: Vec<u64> = (1..=all_records.len() as u64).collect();
    assert_eq!(all_records, numbered, "audit sequences run from 1 without gaps");
    assert!(acks > TASKS_PER_INSTANCE, "most transfers succeed ({acks} did)");

    let history = history_sequences(&b).await;
    assert!(walks.len() > 1, "history was walked while the writers ran ({} walks)", walks.len());
    for walk in &walks {
        let from_its_top: Vec<u64> = history.iter().copied().filter(|s| Some(s) <= walk.first()).collect();
        assert_eq!(walk, &from_its_top, "a history walk skipped or repeated a transaction");
    }
    invariants::check(&a).await;
}

/// A log read by sequence, a page after a given one at a time.
#[derive(Debug, Clone, Copy)]
enum Log {
    /// The change feed.
    Changes,
    /// The audit log.
    Audit,
}

impl Log {
    /// The sequences of the next page after `after`, through `ledger`.
    async fn page_after(self, ledger: &Ledger, after: u64) -> Vec<u64> {
        match self {
            Log::Changes => ledger.events_after(after, TAIL_PAGE).await.unwrap().iter().map(|c| c.sequence).collect(),
            Log::Audit => {
                let records = ledger.audit_log(&Actor::System, after, TAIL_PAGE).await.unwrap();
                records.iter().map(|r| r.sequence).collect()
            }
        }
    }
}

/// Reads `log` through `ledger` until one read after `done` was set comes
/// back empty; asserts on the way that every page continues where the last
/// one ended (never at or below a sequence already read). Returns the
/// sequences read, in order.
async fn tail(ledger: Ledger, log: Log, done: Arc<AtomicBool>) -> Vec<u64> {
    let mut read: Vec<u64> = Vec::new();
    loop {
        // Looked at before the page: a page read after the writers finished
        // and found empty means the tail has everything.
        let finished = done.load(Ordering::SeqCst);
        let page = log.page_after(&ledger, read.last().copied().unwrap_or(0)).await;
        let ascending = read.last().into_iter().chain(&page).is_sorted_by(|x, y| x < y);
        assert!(ascending, "a tail read {page:?} after {:?}", read.last());
        if page.is_empty() {
            if finished {
                return read;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        read.extend(page);
    }
}

/// Walks the whole history newest first, page by page, again and again
/// until `done`; returns each walk's sequences.
async fn history_walks(ledger: Ledger, done: Arc<AtomicBool>) -> Vec<Vec<u64>> {
    let mut walks = Vec::new();
    while !done.load(Ordering::SeqCst) {
        walks.push(history_sequences(&ledger).await);
    }
    walks
}

/// Every transaction's sequence, newest first, read in small pages.
async fn history_sequences(ledger: &Ledger) -> Vec<u64> {
    let mut sequences: Vec<u64> = Vec::new();
    let mut page = PageRequest { cursor: None, size: TAIL_PAGE };
    loop {
        let result = ledger.history(&Actor::System, &HistoryFilter::default(), page).await.unwrap();
        let items: Vec<u64> = result.items.iter().map(|t| t.sequence).collect();
        let descending = sequences.last().into_iter().chain(&items).is_sorted_by(|x, y| x > y);
        assert!(descending, "a history page {items:?} after {:?}", sequences.last());
        sequences.extend(items);
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return sequences,
        }
    }
}

/// Instances racing for a publisher's lease: exactly one wins each round,
/// the winner keeps it by renewing, and the other gets it only once it
/// expired unrenewed. Racing cursor advances leave the highest.
async fn leases_and_cursors(a: Ledger, b: Ledger) {
    for round in 0..20 {
        let name = format!("publish:round-{round}");
        let until = a.now() + chrono::Duration::seconds(30);
        let (won_a, won_b) = tokio::join!(a.try_lease(&name, "a", until), b.try_lease(&name, "b", until));
        let (won_a, won_b) = (won_a.unwrap(), won_b.unwrap());
        assert!(won_a ^ won_b, "round {round}: exactly one instance holds the lease ({won_a}, {won_b})");
        let (holder, other, other_name) = if won_a { (&a, &b, "b") } else { (&b, &a, "a") };
        let holder_name = if won_a { "a" } else { "b" };
        assert!(holder.try_lease(&name, holder_name, until).await.unwrap(), "the holder renews");
        assert!(!other.try_lease(&name, other_name, until).await.unwrap(), "the other waits");
    }
    // An expired lease passes: `until` already past.
    let past = a.now() - chrono::Duration::seconds(1);
    assert!(a.try_lease("publish:expiring", "a", past).await.unwrap());
    assert!(b.try_lease("publish:expiring", "b", b.now() + chrono::Duration::seconds(30)).await.unwrap());
    assert!(!a.try_lease("publish:expiring", "a", a.now() + chrono::Duration::seconds(30)).await.unwrap());

    let mut advances = Vec::new();
    for i in 1..=40u64 {
        let ledger = if i % 2 == 0 { a.clone() } else { b.clone() };
        advances.push(tokio::spawn(async move { ledger.advance_sink_cursor("nats", i * 4096).await }));
    }
    for advance in advances {
        advance.await.unwrap().unwrap();
    }
    assert_eq!(a.sink_cursor("nats").await.unwrap(), 40 * 4096);
    assert_eq!(b.sink_cursor("nats").await.unwrap(), 40 * 4096);
}

async fn race(a: Ledger, b: Ledger) {
    let mut hot = Vec::new();
    for i in 0..HOT_ACCOUNTS {
        hot.push(funded(&a, &format!("hot-{i}"), OPENING_BALANCE).await);
    }
    let racer_account = funded(&b, "racer", 100).await;

    let barrier = Arc::new(Barrier::new(RACERS));
    let mut racers = Vec::new();
    for i in 0..RACERS {
        let ledger = if i % 2 == 0 { a.clone() } else { b.clone() };
        let barrier = barrier.clone();
        racers.push(tokio::spawn(async move {
            let withdraw = Withdraw {
                account: racer_account,
                amount: Amount::parse("10").unwrap(),
                description: None,
                metadata: Default::default(),
            };
            barrier.wait().await;
            ledger.withdraw(&Actor::System, key(format!("race-{i}")), withdraw).await
        }));
    }
    let mut transfers = Vec::new();
    for task in 0..2 * TASKS_PER_INSTANCE {
        let ledger = if task % 2 == 0 { a.clone() } else { b.clone() };
        transfers.push(tokio::spawn(transfer_task(ledger, hot.clone(), task as u64)));
    }

    let mut withdrawn = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(_) => withdrawn += 1,
            Err(LedgerError::InsufficientFunds { .. }) => {}
            Err(other) => panic!("a racing withdrawal failed unexpectedly: {other}"),
        }
    }
    assert_eq!(withdrawn, 10, "exactly the funded number of withdrawals succeed");
    assert_eq!(b.balance(&Actor::System, racer_account).await.unwrap().posted, Decimal::ZERO);

    let mut acks = Vec::new();
    for task in transfers {
        acks.extend(task.await.unwrap());
    }
    assert!(acks.len() > TASKS_PER_INSTANCE, "most transfers succeed ({} did)", acks.len());

    // No lost update: each balance is its opening balance plus what the
    // acknowledged transfers moved, read through either instance.
    let mut expected: HashMap<AccountId, Decimal> =
        hot.iter().map(|id| (*id, Decimal::from(OPENING_BALANCE))).collect();
    for (_, from, to, amount) in &acks {
        *expected.get_mut(from).unwrap() -= amount;
        *expected.get_mut(to).unwrap() += amount;
    }
    for (account, balance) in &expected {
        assert_eq!(
            a.balance(&Actor::System, *account).await.unwrap().posted,
            *balance,
            "account {account} via instance a"
        );
        assert_eq!(
            b.balance(&Actor::System, *account).await.unwrap().posted,
            *balance,
            "account {account} via instance b"
        );
        assert!(*balance >= Decimal::ZERO, "account {account} overdrawn");
    }

    // Every acknowledged transfer is in history exactly once, and nothing else is.
    let filter = HistoryFilter { kind: Some(TransactionKind::Transfer), ..HistoryFilter::default() };
    let history = invariants::all_transactions(&b, &filter).await;
    let mut counts: HashMap<_, usize> = HashMap::new();
    for t in &history {
        *counts.entry(t.id).or_default() += 1;
    }
    assert_eq!(history.len(), acks.len(), "history holds exactly the acknowledged transfers");
    for (id, ..) in &acks {
        assert_eq!(counts.get(id), Some(&1), "transfer {id} is in history once");
    }

    invariants::check(&a).await;
    invariants::check(&b).await;
}
