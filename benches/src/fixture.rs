//! Set-ups the criterion benches share: a seeded ledger per backend, unique
//! idempotency keys, and a history of many postings cached between runs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ledger_core::{
    AccountId, AccountKind, Actor, Amount, BATCH_SIZE_MAX, IdempotencyKey, Ledger, MoneyCommand, Store, Transfer,
};
use ledger_sled::SledStore;
use ledger_sql::{SqlOptions, SqlStore};

use crate::BenchError;
use crate::backend::{
    OpenedStore, TRANSFER_AMOUNT, fresh_schema, open_store, postgres_url as postgres_url_with, seed_accounts,
};
use crate::options::{Backend, Durability};

/// Accounts a history fixture spreads its transfers over.
pub const HISTORY_ACCOUNTS: usize = 100;

/// The generation of the cached history fixtures, part of their names (the
/// SQLite file, the sled directory, the PostgreSQL schema): bump it whenever
/// the stores' formats or what [`history`] writes change, so that no run
/// measures a fixture an older build left. Version 2: postings carry their
/// commit time and running balance (sled format 4, SQL migration 0005).
/// An older fixture would be upgraded in place when opened, but the upgrade
/// rewrites every posting (sled keeps both versions in its log until it
/// cleans it, PostgreSQL keeps the dead rows until a vacuum), so its reads
/// would not be those of a fixture built in the current format. The
/// version 1 files (`history-<postings>.*`, no version in the name) are
/// deleted when the version 2 ones are built; an old PostgreSQL schema
/// `bench_history_<postings>` is left alone (drop it by hand).
pub const HISTORY_FIXTURE_VERSION: u32 = 2;

/// Every backend, in the order the benches run and report them.
pub const BACKENDS: [Backend; 4] = [Backend::Memory, Backend::Sled, Backend::Sqlite, Backend::Postgres];

/// The fixture `bench` runs on `backend`, or `None` after saying on stderr
/// that it skipped the backend (PostgreSQL without `LEDGER_BENCH_POSTGRES_URL`).
pub fn unless_skipped(bench: &str, backend: Backend, fixture: Option<BenchLedger>) -> Option<BenchLedger> {
    if fixture.is_none() {
        eprintln!("{bench}/{}: skipped (set LEDGER_BENCH_POSTGRES_URL)", backend.name());
    }
    fixture
}

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
    let opened = open_store(backend, Durability::Strict, &url, clients, false).await?;
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
    MoneyCommand::Transfer(Transfer { from, to: to.into(), amount, description: None, metadata: Default::default() })
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

/// Where history fixtures are kept between runs.
#[derive(Debug, Clone)]
pub struct HistoryCache {
    /// The directory of the SQLite and sled fixtures.
    pub dir: PathBuf,
    /// The PostgreSQL server of the PostgreSQL fixture, if any.
    pub postgres: Option<String>,
}

impl HistoryCache {
    /// [`cache_dir`] and `LEDGER_BENCH_POSTGRES_URL`.
    pub fn from_env() -> HistoryCache {
        HistoryCache { dir: cache_dir(), postgres: postgres_url() }
    }
}

/// A ledger on `backend` holding `postings` postings (and one funding
/// deposit per account) over [`HISTORY_ACCOUNTS`] accounts.
///
/// Memory is built in process. The others are built once and kept in
/// `cache`: a SQLite file or a sled directory under `cache.dir` (delete it to
/// rebuild), a schema `bench_history_v<version>_<postings>` on PostgreSQL
/// (see [`HISTORY_FIXTURE_VERSION`]). A build
/// that did not finish leaves no completion marker and is discarded and
/// redone. `None` for PostgreSQL without a server in `cache`.
pub async fn history(
    backend: Backend,
    postings: usize,
    cache: &HistoryCache,
) -> Result<Option<BenchLedger>, BenchError> {
    match backend {
        Backend::Memory => {
            let Some(fixture) = seeded(Backend::Memory, HISTORY_ACCOUNTS, 1).await? else { return Ok(None) };
            add_history(&fixture.ledger, &fixture.accounts, postings).await?;
            Ok(Some(fixture))
        }
        Backend::Sled => file_history(OnDisk::Sled, postings, &cache.dir).await.map(Some),
        Backend::Sqlite => file_history(OnDisk::Sqlite, postings, &cache.dir).await.map(Some),
        Backend::Postgres => match &cache.postgres {
            Some(url) => postgres_history(url, postings).await.map(Some),
            None => Ok(None),
        },
    }
}

/// A store kept in the file system.
#[derive(Debug, Clone, Copy)]
enum OnDisk {
    Sled,
    Sqlite,
}

/// The file names of a sled or SQLite history fixture of `postings`
/// postings: the store's, and its completion marker's. `version` 1 had no
/// version in the names.
fn fixture_files(kind: OnDisk, postings: usize, version: u32) -> (String, String) {
    let stem = match version {
        1 => format!("history-{postings}"),
        _ => format!("history-v{version}-{postings}"),
    };
    match kind {
        OnDisk::Sled => (format!("{stem}.sled"), format!("{stem}.sled.done")),
        OnDisk::Sqlite => (format!("{stem}.db"), format!("{stem}.done")),
    }
}

/// Where the sled or SQLite history fixture of `postings` postings lives
/// under `dir` (see [`HISTORY_FIXTURE_VERSION`]): the store, and the marker
/// of a finished build. `None` for the other backends.
pub fn history_paths(backend: Backend, postings: usize, dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let kind = match backend {
        Backend::Sled => OnDisk::Sled,
        Backend::Sqlite => OnDisk::Sqlite,
        Backend::Memory | Backend::Postgres => return None,
    };
    let (store_file, done_file) = fixture_files(kind, postings, HISTORY_FIXTURE_VERSION);
    Some((dir.join(store_file), dir.join(done_file)))
}

/// The sled or SQLite history fixture under `dir`, with a `.done` file
/// beside it once built.
async fn file_history(kind: OnDisk, postings: usize, dir: &Path) -> Result<BenchLedger, BenchError> {
    std::fs::create_dir_all(dir).map_err(|e| BenchError::io(format!("creating {}", dir.display()), e))?;
    let (store_file, done_file) = fixture_files(kind, postings, HISTORY_FIXTURE_VERSION);
    let (path, done) = (dir.join(store_file), dir.join(done_file));
    let built = done.exists();
    if !built {
        remove_unfinished(&path)?;
        remove_older_versions(kind, postings, dir)?;
    }
    let store: Arc<dyn Store> = match kind {
        OnDisk::Sled => Arc::new(SledStore::open(&path)?),
        OnDisk::Sqlite => {
            Arc::new(SqlStore::connect_with(&format!("sqlite:{}", path.display()), SqlOptions::default()).await?)
        }
    };
    let fixture = build_once(store, built, postings).await?;
    if !built {
        std::fs::write(&done, b"").map_err(|e| BenchError::io(format!("writing {}", done.display()), e))?;
    }
    Ok(fixture)
}

/// Removes the fixtures of `postings` postings that older versions of this
/// builder left under `dir` (see [`HISTORY_FIXTURE_VERSION`]).
fn remove_older_versions(kind: OnDisk, postings: usize, dir: &Path) -> Result<(), BenchError> {
    for version in 1..HISTORY_FIXTURE_VERSION {
        let (store_file, done_file) = fixture_files(kind, postings, version);
        let (path, done) = (dir.join(store_file), dir.join(done_file));
        if path.exists() || done.exists() {
            eprintln!("history fixture: removing {} (version {version}, superseded)", path.display());
        }
        remove_unfinished(&path)?;
        if done.exists() {
            std::fs::remove_file(&done).map_err(|e| BenchError::io(format!("removing {}", done.display()), e))?;
        }
    }
    Ok(())
}

/// Removes what an unfinished build left at `path`: a sled directory, or a
/// SQLite file with its WAL and shared-memory files.
fn remove_unfinished(path: &Path) -> Result<(), BenchError> {
    let removing = |e| BenchError::io(format!("removing {}", path.display()), e);
    if path.is_dir() {
        return std::fs::remove_dir_all(path).map_err(removing);
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::remove_file(&file).map_err(removing)?;
        }
    }
    Ok(())
}

/// The schema of the PostgreSQL history fixture of `postings` postings.
pub fn history_schema(postings: usize) -> String {
    format!("bench_history_v{HISTORY_FIXTURE_VERSION}_{postings}")
}

/// The PostgreSQL history fixture, in schema [`history_schema`]; a table
/// `bench_history_built` in it marks a finished build.
async fn postgres_history(url: &str, postings: usize) -> Result<BenchLedger, BenchError> {
    let schema = history_schema(postings);
    let marker = format!("{schema}.bench_history_built");
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?;
    let found: Option<String> =
        sqlx::query_scalar("SELECT to_regclass($1)::text").bind(&marker).fetch_one(&pool).await?;
    let built = found.is_some();
    if !built {
        fresh_schema(url, &schema).await?;
    }
    let options = SqlOptions::default().schema(Some(schema)).notify(false);
    let store = SqlStore::connect_with(&postgres_url_with(url, Durability::Strict), options).await?;
    let fixture = build_once(Arc::new(store), built, postings).await?;
    if !built {
        sqlx::query(&format!("CREATE TABLE {marker} (postings bigint NOT NULL)")).execute(&pool).await?;
    }
    pool.close().await;
    Ok(fixture)
}

/// A ledger over `store`, given [`HISTORY_ACCOUNTS`] funded accounts and
/// `postings` postings between them unless `built` already.
async fn build_once(store: Arc<dyn Store>, built: bool, postings: usize) -> Result<BenchLedger, BenchError> {
    let ledger = Ledger::builder(store).open().await?;
    if !built {
        let accounts = seed_accounts(&ledger, HISTORY_ACCOUNTS).await?;
        add_history(&ledger, &accounts, postings).await?;
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
