//! Crash safety: a child process commits transfers and prints the id of each
//! acknowledged one; the parent kills it with SIGKILL mid-stream, reopens the
//! database and checks that every acknowledged transfer is there exactly
//! once, nothing is half-applied, and the ledger's invariants hold.
//!
//! The child is this test binary run again with only
//! `crash_child_commits_until_killed` selected and the database in
//! `LEDGER_SQL_CRASH_CHILD_URL` (plus `LEDGER_SQL_CRASH_CHILD_SCHEMA` on
//! PostgreSQL). Without those variables that test returns at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ledger_core::conformance::crash::{ACK, acked_id};
use ledger_core::conformance::invariants;
use ledger_core::{
    AccountId, AccountKind, Actor, Amount, Currency, Deposit, HistoryFilter, IdempotencyKey, Ledger, OpenAccount,
    TransactionId, TransactionKind, Transfer, UserId,
};
use ledger_sql::{SqlOptions, SqlStore};
use rust_decimal::Decimal;

const CHILD_URL_VAR: &str = "LEDGER_SQL_CRASH_CHILD_URL";
const CHILD_SCHEMA_VAR: &str = "LEDGER_SQL_CRASH_CHILD_SCHEMA";
/// The child's bounds, in case nobody kills it.
const CHILD_TRANSFERS_MAX: usize = 20_000;
const CHILD_RUN_MAX: Duration = Duration::from_secs(60);
/// How many acknowledgements the parent waits for before killing, and how long.
const ACKS_BEFORE_KILL: usize = 200;
const WAIT_FOR_ACKS_MAX: Duration = Duration::from_secs(120);

/// The fixed owner of the two accounts, so a rerun of the child finds them.
fn owner() -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(0x5eed_c4a5_0000_0000_0000_0000_0000_0001))
}

async fn open_store(url: &str, schema: Option<String>) -> SqlStore {
    let options = SqlOptions::default().max_connections(2).schema(schema);
    SqlStore::connect_with(url, options).await.expect("opening the store")
}

/// The owner's two accounts, opened on the first run and funded once.
async fn two_accounts(ledger: &Ledger) -> (AccountId, AccountId) {
    let mut accounts = ledger.accounts_of(&Actor::System, owner()).await.unwrap();
    while accounts.len() < 2 {
        let command = OpenAccount::new(owner(), AccountKind::Checking, Currency::Usd);
        accounts.push(ledger.open_account(&Actor::System, command).await.unwrap());
    }
    let deposit = Deposit {
        account: accounts[0].id,
        amount: Amount::parse("1000000").unwrap(),
        description: None,
        metadata: Default::default(),
    };
    ledger.deposit(&Actor::System, IdempotencyKey::new("crash-funding").unwrap(), deposit).await.unwrap();
    (accounts[0].id, accounts[1].id)
}

/// The child: commits transfers until killed (or its bounds run out).
#[test]
fn crash_child_commits_until_killed() {
    let Ok(url) = std::env::var(CHILD_URL_VAR) else { return };
    let schema = std::env::var(CHILD_SCHEMA_VAR).ok();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let ledger = Ledger::open(open_store(&url, schema).await).await.unwrap();
        let (from, to) = two_accounts(&ledger).await;
        let run = uuid::Uuid::now_v7().simple().to_string();
        let started = Instant::now();
        let mut stdout = std::io::stdout();
        for i in 0..CHILD_TRANSFERS_MAX {
            if started.elapsed() > CHILD_RUN_MAX {
                break;
            }
            let key = IdempotencyKey::new(format!("crash-{run}-{i}")).unwrap();
            let command = Transfer {
                from,
                to: to.into(),
                amount: Amount::parse("0.01").unwrap(),
                description: None,
                metadata: Default::default(),
            };
            let receipt = ledger.transfer(&Actor::System, key, command).await.unwrap();
            writeln!(stdout, "{ACK}{}", receipt.transaction.id).unwrap();
            stdout.flush().unwrap();
        }
    });
}

/// Runs the child on a database, kills it after enough acknowledgements,
/// and returns every id it acknowledged.
fn run_and_kill_child(url: &str, schema: Option<&str>) -> Vec<TransactionId> {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", "crash_child_commits_until_killed", "--nocapture", "--test-threads=1"])
        .env(CHILD_URL_VAR, url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(schema) = schema {
        command.env(CHILD_SCHEMA_VAR, schema);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(id) = acked_id(&line) {
                let _ = lines.send(id);
            }
        }
    });
    let deadline = Instant::now() + WAIT_FOR_ACKS_MAX;
    let mut acks = Vec::new();
    while acks.len() < ACKS_BEFORE_KILL {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(id) => acks.push(id),
            Err(_) => {
                let _ = child.kill();
                panic!("the child acknowledged only {} transfers in {WAIT_FOR_ACKS_MAX:?}", acks.len());
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, no rollback runs in the child.
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished");
    reader.join().unwrap();
    // Lines written before the kill and still in the pipe count as acknowledged too.
    acks.extend(received.try_iter());
    acks
}

/// Reopens the database and checks what the killed child left.
async fn check_after_crash(url: &str, schema: Option<String>, acks: &[TransactionId]) {
    let ledger = Ledger::open(open_store(url, schema).await).await.unwrap();
    let (from, to) = two_accounts(&ledger).await;
    let filter = HistoryFilter { kind: Some(TransactionKind::Transfer), ..HistoryFilter::account(to) };
    let history = invariants::all_transactions(&ledger, &filter).await;
    let mut counts: HashMap<TransactionId, usize> = HashMap::new();
    for t in &history {
        *counts.entry(t.id).or_default() += 1;
    }
    for id in acks {
        assert_eq!(counts.get(id), Some(&1), "acknowledged transfer {id} is in history exactly once");
    }
    eprintln!("crash test: {} transfers acknowledged, {} stored", acks.len(), history.len());
    // At most the one transfer in flight at the kill committed unacknowledged.
    assert!(history.len() <= acks.len() + 1, "{} transfers stored, {} acknowledged", history.len(), acks.len());
    // Nothing half-applied: each transfer moved one cent, both sides.
    let moved = Decimal::new(history.len() as i64, 2);
    assert_eq!(ledger.balance(&Actor::System, to).await.unwrap().posted, moved);
    assert_eq!(ledger.balance(&Actor::System, from).await.unwrap().posted, Decimal::from(1_000_000) - moved);
    let cent = Decimal::new(1, 2);
    let lines_of = |postings: Vec<ledger_core::Posting>| {
        let mut by_transaction: HashMap<TransactionId, Vec<Decimal>> = HashMap::new();
        for p in postings {
            by_transaction.entry(p.transaction_id).or_default().push(p.amount);
        }
        by_transaction
    };
    let credits = lines_of(invariants::all_postings(&ledger, to).await);
    let debits = lines_of(invariants::all_postings(&ledger, from).await);
    for t in &history {
        assert_eq!(credits.get(&t.id), Some(&vec![cent]), "transfer {} credited once", t.id);
        assert_eq!(debits.get(&t.id), Some(&vec![-cent]), "transfer {} debited once", t.id);
    }
    invariants::check(&ledger).await;
}

#[test]
fn sqlite_survives_sigkill_with_every_acknowledged_transfer() {
    if std::env::var(CHILD_URL_VAR).is_ok() {
        return; // Inside a child: only the child test runs.
    }
    let url = common::fresh_sqlite_url();
    let acks = run_and_kill_child(&url, None);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(check_after_crash(&url, None, &acks));
}

#[test]
fn postgres_survives_sigkill_with_every_acknowledged_transfer() {
    if std::env::var(CHILD_URL_VAR).is_ok() {
        return;
    }
    let Some(url) = common::postgres_url("PostgreSQL crash test") else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = runtime.block_on(common::fresh_schema(&url));
    let acks = run_and_kill_child(&url, Some(&schema));
    runtime.block_on(check_after_crash(&url, Some(schema), &acks));
}
