//! Two independent stores on one PostgreSQL schema, as two service processes
//! would share a database: racing transfers over a few hot accounts and
//! racing withdrawals through both. No overdraft, no lost update, and the
//! ledger's invariants hold. Skipped without `LEDGER_TEST_POSTGRES_URL`.
//!
//! The same race runs on two SQLite stores sharing one file (each with its
//! own pool and in-process writer queue, so they meet only at SQLite's lock).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use ledger_core::conformance::invariants;
use ledger_core::{
    AccountId, AccountKind, Actor, Amount, Currency, Deposit, HistoryFilter, IdempotencyKey, Ledger, LedgerError,
    OpenAccount, TransactionKind, Transfer, UserId, Withdraw,
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
