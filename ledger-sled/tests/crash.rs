//! Crash safety: a child process commits transfers with `Durability::Flush`
//! from several concurrent tasks (so group commit forms groups, and one
//! group commits while the one before it syncs) and prints each
//! acknowledged id; the parent kills it with SIGKILL mid-stream, reopens the
//! database and checks that every acknowledged transfer is there exactly
//! once and nothing is half-applied.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ledger_core::conformance::crash::{ACK, acked_id};
use ledger_core::{
    Account, AccountKind, AccountRef, Actor, Amount, Currency, Deposit, HistoryFilter, IdempotencyKey, Ledger,
    OpenAccount, PageRequest, Posting, Store, Transaction, TransactionId, TransactionStatus, Transfer, UserId,
};
use ledger_sled::{Durability, SledConfig, SledStore};
use rust_decimal::Decimal;

/// Set by the parent: the database directory the child writes to.
const CHILD_DIR_ENV: &str = "LEDGER_SLED_CRASH_CHILD_DIR";
/// Prefix of the child's acknowledgement lines (libtest prints its own lines too).
/// The child stops by itself after this many transfers...
const CHILD_TRANSFERS_MAX: usize = 20_000;
/// ...or this long, in case the parent never kills it.
const CHILD_RUN_SECS_MAX: u64 = 60;
/// Acknowledgements the parent waits for before each kill.
const ACKS_BEFORE_KILL: usize = 200;
/// How long the parent waits for them.
const ACK_WAIT_SECS_MAX: u64 = 40;
/// Kill, reopen and check this many times on the same database.
const ROUNDS: usize = 3;
/// Concurrent tasks in the child, each committing its own transfers.
const CHILD_TASKS: usize = 8;

/// The fixed owner of the two accounts, so a restarted child finds them.
fn owner() -> UserId {
    UserId::from_uuid(uuid::Uuid::from_u128(0x6372_6173_6874_6573_7400_0000_0000_0001))
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

/// Not a test on its own: the child process of
/// `acknowledged_transfers_survive_sigkill` (returns at once unless the
/// parent set `LEDGER_SLED_CRASH_CHILD_DIR`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_commits_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else { return };
    let store = SledStore::open_with(SledConfig::new(&dir).durability(Durability::Flush)).unwrap();
    let ledger = Ledger::open(store).await.unwrap();
    let mut accounts = ledger.accounts_of(&Actor::System, owner()).await.unwrap();
    while accounts.len() < 2 {
        let open = OpenAccount::new(owner(), AccountKind::Checking, Currency::Usd);
        accounts.push(ledger.open_account(&Actor::System, open).await.unwrap());
    }
    let (a, b) = (accounts[0].id, accounts[1].id);
    // Both funded: concurrent tasks move money both ways from the start.
    for (account, name) in [(a, "crash-deposit"), (b, "crash-deposit-b")] {
        let deposit = Deposit {
            account,
            amount: Amount::parse("1000.00").unwrap(),
            description: None,
            metadata: Default::default(),
        };
        ledger.deposit(&Actor::System, key(name), deposit).await.unwrap();
    }

    // Keys unique across restarts of the child.
    let run = uuid::Uuid::now_v7();
    let deadline = Instant::now() + Duration::from_secs(CHILD_RUN_SECS_MAX);
    let tasks: Vec<_> = (0..CHILD_TASKS)
        .map(|task| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                for i in (task..CHILD_TRANSFERS_MAX).step_by(CHILD_TASKS) {
                    if Instant::now() > deadline {
                        break;
                    }
                    // Each task goes back and forth, so neither account runs dry.
                    let (from, to) = if (i / CHILD_TASKS) % 2 == 0 { (a, b) } else { (b, a) };
                    let amount = Amount::parse("0.01").unwrap();
                    let transfer = Transfer {
                        from,
                        to: AccountRef::Id(to),
                        amount,
                        description: None,
                        metadata: Default::default(),
                    };
                    let key = key(&format!("crash-{run}-{i}"));
                    let receipt = ledger.transfer(&Actor::System, key, transfer).await.unwrap();
                    // Printed only after the ledger answered: this id is acknowledged.
                    let mut stdout = std::io::stdout().lock();
                    writeln!(stdout, "{ACK}{}", receipt.transaction.id).unwrap();
                    stdout.flush().unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// Kills the child if the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the child until it acknowledged enough transfers, then SIGKILLs it.
/// Returns the acknowledged ids.
fn run_child_and_kill(dir: &Path) -> Vec<TransactionId> {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args(["--exact", "crash_child_commits_until_killed", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + Duration::from_secs(ACK_WAIT_SECS_MAX);
    let mut acked = Vec::new();
    while acked.len() < ACKS_BEFORE_KILL {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => {
                if let Some(id) = acked_id(&line) {
                    acked.push(id);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the child acknowledged only {} transfers in {ACK_WAIT_SECS_MAX}s", acked.len())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                panic!("the child exited after {} acknowledgements (see its stderr above)", acked.len())
            }
        }
    }
    // SIGKILL: no destructor, no final flush.
    child.0.kill().unwrap();
    let status = child.0.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished");
    // Lines already in the pipe were acknowledged before the kill too.
    reader.join().unwrap();
    acked.extend(received.try_iter().filter_map(|line| acked_id(&line)));
    acked
}

async fn all_accounts(store: &SledStore) -> Vec<Account> {
    let mut all: Vec<Account> = Vec::new();
    loop {
        let page = store.accounts(all.last().map(|a| a.id), 100).await.unwrap();
        let done = page.len() < 100;
        all.extend(page);
        if done {
            return all;
        }
    }
}

async fn all_postings(store: &SledStore, account: &Account) -> Vec<Posting> {
    let mut all: Vec<Posting> = Vec::new();
    loop {
        let page = store.postings(account.id, all.last().map(|p| p.sequence), 1000).await.unwrap();
        let done = page.len() < 1000;
        all.extend(page);
        if done {
            return all;
        }
    }
}

async fn all_history(ledger: &Ledger) -> Vec<Transaction> {
    let mut all = Vec::new();
    let mut page = PageRequest::first(200);
    loop {
        let got = ledger.history(&Actor::System, &HistoryFilter::default(), page).await.unwrap();
        all.extend(got.items);
        match got.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return all,
        }
    }
}

/// Reopens the database and checks it against everything acknowledged so far.
async fn check_after_crash(dir: &Path, acked: &[TransactionId]) {
    let store = SledStore::open(dir).unwrap();
    let ledger = Ledger::open(store.clone()).await.unwrap();

    // Every acknowledged transfer is there, exactly once.
    let history = all_history(&ledger).await;
    let mut seen: HashMap<TransactionId, usize> = HashMap::new();
    for t in &history {
        *seen.entry(t.id).or_default() += 1;
    }
    for id in acked {
        assert_eq!(seen.get(id), Some(&1), "acknowledged transfer {id} must be stored exactly once");
        assert!(store.transaction(*id).await.unwrap().is_some());
    }
    assert!(history.windows(2).all(|w| w[0].sequence > w[1].sequence), "history is newest first");

    // Nothing is half-applied: every posted transaction has its two postings,
    // summing to zero; every posting belongs to a stored transaction.
    let accounts = all_accounts(&store).await;
    let mut lines: HashMap<TransactionId, Vec<Posting>> = HashMap::new();
    let mut totals: HashMap<Currency, Decimal> = HashMap::new();
    for account in &accounts {
        let postings = all_postings(&store, account).await;
        let sum: Decimal = postings.iter().map(|p| p.amount).sum();
        assert_eq!(account.balance.posted, sum, "account {} balance equals the sum of its postings", account.id);
        *totals.entry(account.currency).or_default() += account.balance.posted;
        for p in postings {
            lines.entry(p.transaction_id).or_default().push(p);
        }
    }
    for (currency, total) in totals {
        assert_eq!(total, Decimal::ZERO, "balances in {currency} sum to zero");
    }
    let stored: HashSet<TransactionId> = history.iter().map(|t| t.id).collect();
    for id in lines.keys() {
        assert!(stored.contains(id), "posting of unknown transaction {id}");
    }
    for t in &history {
        let postings = lines.get(&t.id).map(Vec::as_slice).unwrap_or_default();
        if t.status == TransactionStatus::Posted {
            assert_eq!(postings.len(), 2, "transaction {} has two postings", t.id);
            assert_eq!(postings.iter().map(|p| p.amount).sum::<Decimal>(), Decimal::ZERO);
        }
    }

    ledger.verify_audit_chain(&Actor::System, None).await.unwrap();
    ledger_core::conformance::invariants::check(&ledger).await;
}

#[test]
fn acknowledged_transfers_survive_sigkill() {
    if std::env::var_os(CHILD_DIR_ENV).is_some() {
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut acked = Vec::new();
    for round in 0..ROUNDS {
        let new = run_child_and_kill(dir.path());
        assert!(new.len() >= ACKS_BEFORE_KILL, "round {round}");
        acked.extend(new);
        runtime.block_on(check_after_crash(dir.path(), &acked));
    }
    eprintln!("{} acknowledged transfers survived {ROUNDS} SIGKILLs in {:?}", acked.len(), started.elapsed());
}
