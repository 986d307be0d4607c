//! Set-ups the criterion benches share: a seeded ledger per backend, unique
//! idempotency keys, and a history of many postings cached on disk.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use ledger_core::{
    AccountId, AccountKind, Actor, Amount, BATCH_SIZE_MAX, IdempotencyKey, Ledger, MoneyCommand, Store, Transfer,
};
use ledger_sql::{SqlOptions, SqlStore};

use crate::BenchError;
use crate::backend::{OpenedStore, TRANSFER_AMOUNT, open_store, seed_accounts};
use crate::options::{Backend, Durability};

/// Accounts a history fixture spreads its transfers over.
pub const HISTORY_ACCOUNTS: usize = 100;

/// A ledger over a freshly seeded store, with what keeps the store alive.
pub struct BenchLedger {
    /// The ledger.
    pub ledger: Ledger,
    /// Its seeded accounts.
    pub accounts: Vec<AccountId>,
    /// Keeps temporary files until the fixture drops.
    pub opened: Option<OpenedStore>,
}

/// Where benches cache data between runs: `<target dir>/bench-data`.
pub fn cache_dir() -> PathBuf {
    let target = option_env!("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
    target.join("bench-data")
}

/// The PostgreSQL URL benches use, if `LEDGER_BENCH_POSTGRES_URL` is set.
pub fn postgres_url() -> Option<String> {
    std::env::var("LEDGER_BENCH_POSTGRES_URL").ok().filter(|u| !u.is_empty())
}

/// A ledger on `backend` (strict durability) with `accounts` funded
/// accounts, sized for `clients` callers. `None` for PostgreSQL without
/// `LEDGER_BENCH_POSTGRES_URL`.
pub async fn seeded(backend: Backend, accounts: usize, clients: usize) -> Result<Option<BenchLedger>, BenchError> {
    let url = match backend {
        Backend::Postgres => match postgres_url() {
            Some(url) => url,
            None => return Ok(None),
        },
        _ => String::new(),
    };
    let opened = open_store(backend, Durability::Strict, &url, clients).await?;
    let ledger = Ledger::builder(opened.store.clone()).open().await?;
    let accounts = seed_accounts(&ledger, accounts).await?;
    Ok(Some(BenchLedger { ledger, accounts, opened: Some(opened) }))
}

/// A fresh idempotency key, unique across processes and calls.
pub fn key() -> IdempotencyKey {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static RUN: std::sync::OnceLock<uuid::Uuid> = std::sync::OnceLock::new();
    let run = RUN.get_or_init(uuid::Uuid::now_v7);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    IdempotencyKey::new(format!("bench-{run}-{n}")).unwrap_or_else(|_| unreachable!("a printable key of 60 bytes"))
}

/// A transfer of [`TRANSFER_AMOUNT`] between two accounts.
pub fn transfer(from: AccountId, to: AccountId) -> MoneyCommand {
    let amount = Amount::parse(TRANSFER_AMOUNT).unwrap_or_else(|_| unreachable!("a valid literal amount"));
    MoneyCommand::Transfer(Transfer { from, to: to.into(), amount, description: None })
}

/// Adds transfers (two postings each) round-robin between `accounts` until
/// the store holds `postings` more postings, in atomic batches.
pub async fn add_history(ledger: &Ledger, accounts: &[AccountId], postings: usize) -> Result<(), BenchError> {
    let transfers = postings / 2;
    let len = accounts.len();
    let mut done = 0;
    while done < transfers {
        let n = (transfers - done).min(BATCH_SIZE_MAX);
        let batch = (done..done + n).map(|i| transfer(accounts[i % len], accounts[(i * 7 + 1) % len])).collect();
        ledger.execute_batch(&Actor::System, key(), batch).await?;
        done += n;
    }
    Ok(())
}

/// A SQLite ledger holding at least `postings` postings over
/// [`HISTORY_ACCOUNTS`] accounts, built once and cached under
/// [`cache_dir`] (delete the file to rebuild it).
pub async fn sqlite_history(postings: usize) -> Result<BenchLedger, BenchError> {
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::io(format!("creating {}", dir.display()), e))?;
    let path = dir.join(format!("history-{postings}.db"));
    let done = dir.join(format!("history-{postings}.done"));
    if !done.exists() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    let store = SqlStore::connect_with(&format!("sqlite:{}", path.display()), SqlOptions::default()).await?;
    let ledger = Ledger::open(store).await?;
    if !done.exists() {
        let accounts = seed_accounts(&ledger, HISTORY_ACCOUNTS).await?;
        add_history(&ledger, &accounts, postings).await?;
        std::fs::write(&done, b"").map_err(|e| BenchError::io(format!("writing {}", done.display()), e))?;
    }
    let accounts = customer_accounts(ledger.store().as_ref()).await?;
    Ok(BenchLedger { ledger, accounts, opened: None })
}

/// The store's customer accounts (settlement accounts left out).
pub async fn customer_accounts(store: &dyn Store) -> Result<Vec<AccountId>, BenchError> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = store.accounts(after, 500).await?;
        after = page.last().map(|a| a.id);
        ids.extend(page.iter().filter(|a| a.kind != AccountKind::Settlement).map(|a| a.id));
        if page.len() < 500 {
            return Ok(ids);
        }
    }
}
