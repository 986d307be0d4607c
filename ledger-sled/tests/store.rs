//! sled-specific tests: persistence across reopen, opening bad paths, indexes
//! and the expiry sweep. The shared rules are in `conformance.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use ledger_core::{
    Account, AccountId, AccountKind, AccountRef, Actor, Amount, Currency, Deposit, HistoryFilter, IdempotencyKey,
    Ledger, ManualClock, OpenAccount, PageRequest, PlaceHold, Store, TransactionKind, TransactionStatus, Transfer,
    UserId, Withdraw,
};
use ledger_sled::{Durability, SledConfig, SledStore};
use rust_decimal::Decimal;

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

fn amount(text: &str) -> Amount {
    Amount::parse(text).unwrap()
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[tokio::test]
async fn data_survives_drop_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let owner = UserId::new();
    let (alice, bob, transfer_id) = {
        let ledger = Ledger::open(SledStore::open(dir.path()).unwrap()).await.unwrap();
        let alice = ledger
            .open_account(&Actor::System, OpenAccount::new(owner, AccountKind::Checking, Currency::Usd))
            .await
            .unwrap();
        let bob = ledger
            .open_account(&Actor::System, OpenAccount::new(owner, AccountKind::Savings, Currency::Usd))
            .await
            .unwrap();
        ledger
            .deposit(
                &Actor::System,
                key("d1"),
                Deposit {
                    account: alice.id,
                    amount: amount("100.00"),
                    description: None,
                    metadata: Default::default(),
                },
            )
            .await
            .unwrap();
        let transfer = Transfer {
            from: alice.id,
            to: AccountRef::Number(bob.number),
            amount: amount("12.50"),
            description: Some("lunch".into()),
            metadata: Default::default(),
        };
        let first = ledger.transfer(&Actor::System, key("t1"), transfer.clone()).await.unwrap();
        let replay = ledger.transfer(&Actor::System, key("t1"), transfer).await.unwrap();
        assert!(replay.replayed);
        assert_eq!(replay.transaction.id, first.transaction.id);
        (alice, bob, first.transaction.id)
    };

    let store = SledStore::open(dir.path()).unwrap();
    let ledger = Ledger::open(store.clone()).await.unwrap();
    assert_eq!(ledger.balance(&Actor::System, alice.id).await.unwrap().posted, dec("87.50"));
    assert_eq!(ledger.balance(&Actor::System, bob.id).await.unwrap().posted, dec("12.50"));
    assert_eq!(ledger.account_by_number(&Actor::System, bob.number).await.unwrap().id, bob.id);
    let mine: Vec<_> = ledger.accounts_of(&Actor::System, owner).await.unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(mine, vec![alice.id, bob.id]);
    assert_eq!(ledger.transaction(&Actor::System, transfer_id).await.unwrap().amount, dec("12.50"));

    let history =
        ledger.history(&Actor::System, &HistoryFilter::account(alice.id), PageRequest::first(10)).await.unwrap();
    let kinds: Vec<_> = history.items.iter().map(|t| t.kind).collect();
    assert_eq!(kinds, vec![TransactionKind::Transfer, TransactionKind::Deposit]);

    // The replay is still answered from storage after the reopen.
    let again = ledger
        .transfer(
            &Actor::System,
            key("t1"),
            Transfer {
                from: alice.id,
                to: AccountRef::Number(bob.number),
                amount: amount("12.50"),
                description: Some("lunch".into()),
                metadata: Default::default(),
            },
        )
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(ledger.balance(&Actor::System, alice.id).await.unwrap().posted, dec("87.50"));

    // The audit chain carries on where it stopped, without a gap.
    let head = ledger.verify_audit_chain(&Actor::System, None).await.unwrap();
    assert!(head.sequence >= 5);
    store.ping().await.unwrap();
}

#[tokio::test]
async fn relaxed_durability_round_trips_after_a_clean_drop() {
    let dir = tempfile::tempdir().unwrap();
    let config = SledConfig::new(dir.path()).durability(Durability::Relaxed);
    let account = {
        let store = SledStore::open_with(config.clone()).unwrap();
        assert_eq!(store.durability(), Durability::Relaxed);
        let ledger = Ledger::open(store.clone()).await.unwrap();
        let a = ledger
            .open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Eur))
            .await
            .unwrap();
        ledger
            .deposit(
                &Actor::System,
                key("d"),
                Deposit { account: a.id, amount: amount("5"), description: None, metadata: Default::default() },
            )
            .await
            .unwrap();
        store.flush().await.unwrap();
        a
    };
    let ledger = Ledger::open(SledStore::open_with(config).unwrap()).await.unwrap();
    assert_eq!(ledger.balance(&Actor::System, account.id).await.unwrap().posted, dec("5"));
}

#[test]
fn opening_a_locked_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = SledStore::open(dir.path()).unwrap();
    let error = SledStore::open(dir.path()).unwrap_err();
    assert_eq!(error.backend, "sled");
    assert!(error.message.contains(&dir.path().display().to_string()), "{error}");
}

#[test]
fn an_open_waits_for_a_lock_released_moments_later() {
    let dir = tempfile::tempdir().unwrap();
    drop(SledStore::open(dir.path()).unwrap());
    let (held, lock_taken) = std::sync::mpsc::channel();
    let path = dir.path().to_owned();
    let holder = std::thread::spawn(move || {
        let store = SledStore::open(&path).unwrap();
        held.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        drop(store);
    });
    lock_taken.recv().unwrap();
    let started = std::time::Instant::now();
    SledStore::open(dir.path()).unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(100), "it waited for the holder");
    holder.join().unwrap();
}

#[test]
fn opening_a_regular_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain.txt");
    std::fs::write(&file, b"hello").unwrap();
    let error = SledStore::open(&file).unwrap_err();
    assert_eq!(error.backend, "sled");
}

#[test]
fn opening_garbage_files_is_an_error_not_a_panic() {
    for name in ["db", "conf"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), vec![0xAB; 4096]).unwrap();
        let error = SledStore::open(dir.path()).unwrap_err();
        assert_eq!(error.backend, "sled", "{name}: {error}");
    }
}

#[tokio::test]
async fn opening_a_database_with_an_unreadable_log_is_an_error_not_a_fresh_ledger() {
    let dir = tempfile::tempdir().unwrap();
    {
        let ledger = Ledger::open(SledStore::open(dir.path()).unwrap()).await.unwrap();
        ledger
            .open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd))
            .await
            .unwrap();
    }
    // sled itself recovers a log it cannot read as an empty database.
    let log = dir.path().join("db");
    let len = std::fs::metadata(&log).unwrap().len() as usize;
    std::fs::write(&log, vec![0x5A; len.max(4096)]).unwrap();
    let error = SledStore::open(dir.path()).unwrap_err();
    assert!(error.message.contains("no ledger format marker"), "{error}");
}

#[test]
fn opening_an_empty_sled_database_of_another_program_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(sled::open(dir.path()).unwrap());
    let error = SledStore::open(dir.path()).unwrap_err();
    assert!(error.message.contains("no ledger format marker"), "{error}");
}

#[test]
fn opening_another_programs_sled_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.insert(b"hello", b"world").unwrap();
        db.flush().unwrap();
    }
    let error = SledStore::open(dir.path()).unwrap_err();
    assert!(error.message.contains("not a ledger database"), "{error}");

    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("hello").unwrap().insert(b"1", b"x").unwrap();
        db.flush().unwrap();
    }
    let error = SledStore::open(dir.path()).unwrap_err();
    assert!(error.message.contains("not a ledger database"), "{error}");
}

#[tokio::test]
async fn history_merges_account_indexes_newest_first_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(SledStore::open(dir.path()).unwrap()).await.unwrap();
    let open = || OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
    let a = ledger.open_account(&Actor::System, open()).await.unwrap();
    let b = ledger.open_account(&Actor::System, open()).await.unwrap();
    let c = ledger.open_account(&Actor::System, open()).await.unwrap();
    ledger
        .deposit(
            &Actor::System,
            key("da"),
            Deposit { account: a.id, amount: amount("100"), description: None, metadata: Default::default() },
        )
        .await
        .unwrap();
    ledger
        .deposit(
            &Actor::System,
            key("dc"),
            Deposit { account: c.id, amount: amount("100"), description: None, metadata: Default::default() },
        )
        .await
        .unwrap();
    for i in 0..10 {
        let (from, to) = if i % 2 == 0 { (a.id, b.id) } else { (c.id, a.id) };
        let t = Transfer {
            from,
            to: AccountRef::Id(to),
            amount: amount("1"),
            description: None,
            metadata: Default::default(),
        };
        ledger.transfer(&Actor::System, key(&format!("t{i}")), t).await.unwrap();
    }
    ledger
        .withdraw(
            &Actor::System,
            key("w"),
            Withdraw { account: b.id, amount: amount("2"), description: None, metadata: Default::default() },
        )
        .await
        .unwrap();

    let filter = HistoryFilter { accounts: vec![a.id, b.id, a.id], ..HistoryFilter::default() };
    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    loop {
        let got = ledger.history(&Actor::System, &filter, page).await.unwrap();
        seen.extend(got.items);
        match got.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    // a's deposit, 10 transfers (all touch a), b's withdrawal.
    assert_eq!(seen.len(), 12);
    assert!(seen.windows(2).all(|w| w[0].sequence > w[1].sequence));
    let ids: HashSet<_> = seen.iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), seen.len());

    let everything = ledger.history(&Actor::System, &HistoryFilter::default(), PageRequest::first(200)).await.unwrap();
    assert_eq!(everything.items.len(), 13);
    let big = HistoryFilter { amount_min: Some(dec("2")), ..HistoryFilter::default() };
    let big = ledger.history(&Actor::System, &big, PageRequest::first(200)).await.unwrap();
    assert_eq!(big.items.len(), 3);
}

#[tokio::test]
async fn expired_holds_are_found_by_the_expiry_index_and_swept() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SledStore::open(dir.path()).unwrap());
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let ledger = Ledger::open_with_clock(store.clone(), clock.clone()).await.unwrap();
    let a = ledger
        .open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd))
        .await
        .unwrap();
    ledger
        .deposit(
            &Actor::System,
            key("d"),
            Deposit { account: a.id, amount: amount("100"), description: None, metadata: Default::default() },
        )
        .await
        .unwrap();
    let mut holds = Vec::new();
    for (i, minutes) in [30, 10, 20].into_iter().enumerate() {
        let hold = PlaceHold {
            account: a.id,
            amount: amount("10"),
            destination: None,
            expires_at: Some(start + Duration::minutes(minutes)),
            description: None,
            metadata: Default::default(),
        };
        holds.push(ledger.place_hold(&Actor::System, key(&format!("h{i}")), hold).await.unwrap().transaction);
    }
    assert_eq!(ledger.balance(&Actor::System, a.id).await.unwrap().pending, dec("30"));

    let due = store.expired_holds(start + Duration::minutes(20), 10).await.unwrap();
    let due: Vec<_> = due.iter().map(|t| t.id).collect();
    assert_eq!(due, vec![holds[1].id, holds[2].id], "oldest expiry first, inclusive");

    clock.advance(Duration::minutes(25));
    assert_eq!(ledger.expire_holds(&Actor::System).await.unwrap(), 2);
    assert_eq!(ledger.balance(&Actor::System, a.id).await.unwrap().pending, dec("10"));
    assert_eq!(ledger.transaction(&Actor::System, holds[1].id).await.unwrap().status, TransactionStatus::Voided);
    // Voided holds left the index; the open one is still there.
    let left = store.expired_holds(start + Duration::hours(1), 10).await.unwrap();
    assert_eq!(left.iter().map(|t| t.id).collect::<Vec<_>>(), vec![holds[0].id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_withdrawals_never_overdraw() {
    let dir = tempfile::tempdir().unwrap();
    let ledger =
        Ledger::open(SledStore::open_with(SledConfig::new(dir.path()).durability(Durability::Relaxed)).unwrap())
            .await
            .unwrap();
    let a = ledger
        .open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd))
        .await
        .unwrap();
    ledger
        .deposit(
            &Actor::System,
            key("d"),
            Deposit { account: a.id, amount: amount("10"), description: None, metadata: Default::default() },
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            ledger
                .withdraw(
                    &Actor::System,
                    key(&format!("w{i}")),
                    Withdraw { account: a.id, amount: amount("1"), description: None, metadata: Default::default() },
                )
                .await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 10);
    assert_eq!(ledger.balance(&Actor::System, a.id).await.unwrap().posted, Decimal::ZERO);
    ledger.verify_audit_chain(&Actor::System, None).await.unwrap();
}

/// The store keeps committed accounts in memory; what it serves from there
/// must be what the trees hold. Readers race the writer throughout, and the
/// balances served at the end must equal those a fresh open reads from disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accounts_served_from_memory_match_the_trees_after_racing_transfers_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path()).unwrap());
    let ledger = Ledger::builder(store.clone()).open().await.unwrap();
    let mut accounts = Vec::new();
    for i in 0..3 {
        let account = ledger
            .open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd))
            .await
            .unwrap();
        let deposit =
            Deposit { account: account.id, amount: amount("100"), description: None, metadata: Default::default() };
        ledger.deposit(&Actor::System, key(&format!("seed{i}")), deposit).await.unwrap();
        accounts.push(account.id);
    }
    let mut tasks = Vec::new();
    for writer in 0..6 {
        let (ledger, accounts) = (ledger.clone(), accounts.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..30 {
                let (from, to) = (accounts[(writer + i) % 3], accounts[(writer + i + 1) % 3]);
                let transfer = Transfer {
                    from,
                    to: AccountRef::Id(to),
                    amount: amount("0.37"),
                    description: None,
                    metadata: Default::default(),
                };
                // Some fail for funds; either way the books stay whole.
                let _ = ledger.transfer(&Actor::System, key(&format!("t{writer}-{i}")), transfer).await;
            }
        }));
    }
    for _ in 0..3 {
        let (store, accounts) = (store.clone(), accounts.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..200 {
                for account in accounts_of(&store, &accounts).await {
                    assert!(account.balance.posted >= Decimal::ZERO, "a reader saw an overdraft: {account:?}");
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let served: Vec<Account> = accounts_of(&store, &accounts).await;
    assert_eq!(served.iter().map(|a| a.balance.posted).sum::<Decimal>(), dec("300"));
    drop(ledger);
    drop(store);
    let reopened = SledStore::open(dir.path()).unwrap();
    let on_disk = accounts_of(&reopened, &accounts).await;
    assert_eq!(served, on_disk, "the accounts served from memory are the ones on disk");
}

async fn accounts_of(store: &SledStore, ids: &[AccountId]) -> Vec<Account> {
    let mut accounts = Vec::new();
    for id in ids {
        accounts.push(store.account(*id).await.unwrap().unwrap());
    }
    accounts
}

#[tokio::test]
async fn a_temporary_store_deletes_its_directory_when_dropped() {
    let store = SledStore::temporary().unwrap();
    let shown = format!("{store:?}");
    let path = shown.split('"').nth(1).map(std::path::PathBuf::from).unwrap();
    assert!(path.join("conf").is_file(), "{shown}");
    let ledger = Ledger::open(store.clone()).await.unwrap();
    ledger
        .open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Gbp))
        .await
        .unwrap();
    drop((ledger, store));
    assert!(!path.exists(), "{} should be gone", path.display());
}

#[tokio::test]
async fn cursors_at_the_edges_return_empty_pages() {
    let store = SledStore::temporary().unwrap();
    let ledger = Ledger::open(store.clone()).await.unwrap();
    let a = ledger
        .open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd))
        .await
        .unwrap();
    ledger
        .deposit(
            &Actor::System,
            key("d"),
            Deposit { account: a.id, amount: amount("1"), description: None, metadata: Default::default() },
        )
        .await
        .unwrap();
    assert!(store.postings(a.id, Some(u64::MAX), 10).await.unwrap().is_empty());
    assert_eq!(store.postings(a.id, None, 10).await.unwrap().len(), 1);
    assert!(store.transactions(&HistoryFilter::account(a.id), Some(0), 10).await.unwrap().is_empty());
    assert!(store.transactions(&HistoryFilter::default(), Some(0), 10).await.unwrap().is_empty());
    assert!(store.transactions(&HistoryFilter::default(), None, 0).await.unwrap().is_empty());
    assert!(store.audit_records(u64::MAX, 10).await.unwrap().is_empty());
    assert!(store.accounts(Some(a.id), 0).await.unwrap().is_empty());
    assert!(store.account(ledger_core::AccountId::new()).await.unwrap().is_none());
    assert!(store.transaction(ledger_core::TransactionId::new()).await.unwrap().is_none());
    assert!(store.idempotency_record(&key("nope")).await.unwrap().is_none());
    assert!(store.idempotency_record(&key("d")).await.unwrap().is_none(), "stored scoped to its actor");
    assert!(store.idempotency_record(&key("d").scoped(&Actor::System)).await.unwrap().is_some());
}
