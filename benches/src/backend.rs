//! Opening each backend's store for a run, and the ledger as a [`Workload`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use ledger_core::{
    AccountCode, AccountId, AccountKind, Actor, Amount, BATCH_SIZE_MAX, Currency, Deposit, Entry, EntryPosting,
    GroupCommit, IdempotencyKey, Ledger, LedgerConfig, MemoryStore, MoneyCommand, NormalBalance, OpenAccount,
    OpenLedgerAccount, Store, Transfer, UserId,
};
use ledger_sled::{SledConfig, SledStore};
use ledger_sql::{SqlOptions, SqlStore};
use rust_decimal::Decimal;

use crate::BenchError;
use crate::driver::{Pair, Workload};
use crate::options::{Backend, Durability, WorkloadKind};

/// What every seeded account starts with.
pub const SEED_BALANCE: &str = "1000000";
/// What every benchmark transfer moves.
pub const TRANSFER_AMOUNT: &str = "0.01";
/// What one split entry moves from its payer: to the payee, to the fee
/// ledger account, to the tax ledger account (1.00 in all).
pub const SPLIT_AMOUNTS: [&str; 3] = ["0.80", "0.15", "0.05"];
/// The code of the ledger account every split's fee posting credits.
pub const FEE_ACCOUNT_CODE: &str = "revenue:fees";
/// The code of the ledger account every split's tax posting credits.
pub const TAX_ACCOUNT_CODE: &str = "liabilities:tax";
/// Accounts opened concurrently while seeding.
const SEED_CONCURRENCY: usize = 16;
/// The most PostgreSQL connections a ledger or baseline pool opens: the
/// server (shared with others) allows 100, and the previous run's pool may
/// still be closing its connections when the next run's opens. Clients
/// beyond this queue for a connection, in ledger and baseline alike.
pub const POSTGRES_CONNECTIONS_MAX: usize = 32;
/// The schema the ledger's PostgreSQL tables live in during a run.
pub const LEDGER_SCHEMA: &str = "bench_ledger";

/// The embedding program itself: no ownership or KYC checks apply.
const SYS: Actor = Actor::System;

/// How a backend keeps acknowledged commits, as the tables say it; `None`
/// when the backend has no such mode.
pub fn durability_label(backend: Backend, durability: Durability) -> Option<&'static str> {
    match (backend, durability) {
        (Backend::Memory, Durability::Strict) => Some("in memory"),
        (Backend::Sled, Durability::Strict) => Some("flush on commit"),
        (Backend::Sled, Durability::Relaxed) => Some("relaxed (background flush)"),
        (Backend::Sqlite, Durability::Strict) => Some("WAL, synchronous=FULL"),
        (Backend::Postgres, Durability::Strict) => Some("synchronous_commit=on"),
        (Backend::Postgres, Durability::Relaxed) => Some("synchronous_commit=off"),
        (Backend::Memory | Backend::Sqlite, Durability::Relaxed) => None,
    }
}

/// A PostgreSQL URL whose sessions use the given durability.
pub fn postgres_url(url: &str, durability: Durability) -> String {
    let setting = match durability {
        Durability::Strict => "on",
        Durability::Relaxed => "off",
    };
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20synchronous_commit%3D{setting}")
}

/// Drops and re-creates a PostgreSQL schema, so every run starts empty.
pub async fn fresh_schema(url: &str, schema: &str) -> Result<(), BenchError> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&pool).await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&pool).await?;
    pool.close().await;
    Ok(())
}

/// A store opened for one run, with whatever must live as long as it.
pub struct OpenedStore {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The temporary directory holding its files (sled, SQLite).
    pub dir: Option<tempfile::TempDir>,
}

/// Opens an empty store of a backend with a durability mode, sized for
/// `clients` concurrent callers.
pub async fn open_store(
    backend: Backend,
    durability: Durability,
    postgres: &str,
    clients: usize,
    book_apart: bool,
) -> Result<OpenedStore, BenchError> {
    let dir = || tempfile::Builder::new().prefix("ledger-bench-").tempdir().map_err(|e| BenchError::io("temp dir", e));
    let connections = u32::try_from(clients + 2).unwrap_or(u32::MAX);
    Ok(match backend {
        Backend::Memory => OpenedStore { store: Arc::new(MemoryStore::new()), dir: None },
        Backend::Sled => {
            let dir = dir()?;
            let mode = match durability {
                Durability::Strict => ledger_sled::Durability::Flush,
                Durability::Relaxed => ledger_sled::Durability::Relaxed,
            };
            let store = SledStore::open_with(SledConfig::new(dir.path().join("sled")).durability(mode))?;
            OpenedStore { store: Arc::new(store), dir: Some(dir) }
        }
        Backend::Sqlite => {
            let dir = dir()?;
            let url = format!("sqlite:{}", dir.path().join("ledger.db").display());
            let options = SqlOptions::default().max_connections(connections);
            OpenedStore { store: Arc::new(SqlStore::connect_with(&url, options).await?), dir: Some(dir) }
        }
        Backend::Postgres => {
            fresh_schema(postgres, LEDGER_SCHEMA).await?;
            // No listener in a benchmark: announcing commits would be wasted work.
            let options = SqlOptions::default()
                .max_connections(postgres_connections(clients))
                .schema(Some(LEDGER_SCHEMA.to_owned()))
                .notify(false)
                .book_apart(book_apart);
            let url = postgres_url(postgres, durability);
            OpenedStore { store: Arc::new(SqlStore::connect_with(&url, options).await?), dir: None }
        }
    })
}

/// The pool size for `clients` callers on PostgreSQL.
pub fn postgres_connections(clients: usize) -> u32 {
    u32::try_from((clients + 2).min(POSTGRES_CONNECTIONS_MAX)).unwrap_or(1)
}

/// The ledger's settings for a run: group commit with its defaults and
/// `wait_micros` (the service's if not given), or every command in its own
/// storage transaction.
pub fn ledger_config(group_commit: bool, wait_micros: Option<u64>) -> LedgerConfig {
    let group_commit = match group_commit {
        true => {
            GroupCommit::default().wait_micros(wait_micros.unwrap_or(ledger_core::GROUP_COMMIT_WAIT_MICROS_SERVICE))
        }
        false => GroupCommit::DISABLED,
    };
    LedgerConfig::default().group_commit(group_commit)
}

/// Opens `count` checking accounts in USD and funds each with
/// [`SEED_BALANCE`], in atomic batches. Returns their ids in opening order.
pub async fn seed_accounts(ledger: &Ledger, count: usize) -> Result<Vec<AccountId>, BenchError> {
    let accounts = open_accounts(ledger, count).await?;
    fund_accounts(ledger, &accounts).await?;
    Ok(accounts)
}

/// Opens `count` checking accounts in USD, `SEED_CONCURRENCY` at a time.
/// Returns their ids in opening order.
pub async fn open_accounts(ledger: &Ledger, count: usize) -> Result<Vec<AccountId>, BenchError> {
    let open = move |_| async move {
        ledger.open_account(&SYS, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd)).await
    };
    Ok(futures::stream::iter(0..count)
        .map(open)
        .buffered(SEED_CONCURRENCY)
        .map_ok(|account| account.id)
        .try_collect()
        .await?)
}

/// Funds each of `accounts` with [`SEED_BALANCE`], in atomic batches. Planning
/// the deposits reads each account once, so `ledger` knows their immutable
/// facts afterwards, as a ledger that has served them before does.
pub async fn fund_accounts(ledger: &Ledger, accounts: &[AccountId]) -> Result<(), BenchError> {
    let amount = Amount::parse(SEED_BALANCE)?;
    for (i, chunk) in accounts.chunks(BATCH_SIZE_MAX).enumerate() {
        let deposits = chunk
            .iter()
            .map(|&account| {
                MoneyCommand::Deposit(Deposit { account, amount, description: None, metadata: Default::default() })
            })
            .collect();
        ledger.execute_batch(&SYS, IdempotencyKey::new(format!("seed-{i}"))?, deposits).await?;
    }
    Ok(())
}

/// The two ledger accounts the split workload credits, opened once per run
/// after seeding: credit-normal (revenue, a tax liability), so the default
/// floor of zero holds, since they only receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitAccounts {
    /// [`FEE_ACCOUNT_CODE`].
    pub fee: AccountId,
    /// [`TAX_ACCOUNT_CODE`].
    pub tax: AccountId,
}

/// Opens the fee and tax ledger accounts (USD, credit-normal).
pub async fn open_split_accounts(ledger: &Ledger) -> Result<SplitAccounts, BenchError> {
    let open = |code: &'static str| async move {
        let command = OpenLedgerAccount::new(AccountCode::parse(code)?, Currency::Usd, NormalBalance::Credit);
        ledger.open_ledger_account(&SYS, command).await.map(|account| account.id)
    };
    Ok(SplitAccounts { fee: open(FEE_ACCOUNT_CODE).await?, tax: open(TAX_ACCOUNT_CODE).await? })
}

/// What the ledger runs per pair of account indexes.
enum Shape {
    /// A transfer of [`TRANSFER_AMOUNT`].
    Transfer(Amount),
    /// An entry of three postings, [`SPLIT_AMOUNTS`].
    Split { accounts: SplitAccounts, amounts: [Amount; 3] },
}

/// The ledger under test: one transfer or one split entry per pair, through
/// [`Ledger::execute`], or [`Ledger::execute_batch`] for several per
/// command.
pub struct LedgerWorkload {
    /// The ledger.
    pub ledger: Ledger,
    /// The seeded accounts, by index.
    pub accounts: Arc<Vec<AccountId>>,
    shape: Shape,
    /// Transfers or entries committed so far, warmup included.
    committed: AtomicU64,
}

impl LedgerWorkload {
    /// The transfer workload over seeded accounts.
    pub fn new(ledger: Ledger, accounts: Arc<Vec<AccountId>>) -> Result<LedgerWorkload, BenchError> {
        let shape = Shape::Transfer(Amount::parse(TRANSFER_AMOUNT)?);
        Ok(LedgerWorkload { ledger, accounts, shape, committed: AtomicU64::new(0) })
    }

    /// The split workload over seeded accounts, crediting `split`'s fee and
    /// tax accounts.
    pub fn split(
        ledger: Ledger,
        accounts: Arc<Vec<AccountId>>,
        split: SplitAccounts,
    ) -> Result<LedgerWorkload, BenchError> {
        let [payee, fee, tax] = SPLIT_AMOUNTS;
        let amounts = [Amount::parse(payee)?, Amount::parse(fee)?, Amount::parse(tax)?];
        let shape = Shape::Split { accounts: split, amounts };
        Ok(LedgerWorkload { ledger, accounts, shape, committed: AtomicU64::new(0) })
    }

    /// Which workload this is.
    pub fn kind(&self) -> WorkloadKind {
        match self.shape {
            Shape::Transfer(_) => WorkloadKind::Transfer,
            Shape::Split { .. } => WorkloadKind::Split,
        }
    }

    /// Transfers or entries committed so far, warmup included (a command
    /// that failed counts none of its own).
    pub fn committed(&self) -> u64 {
        self.committed.load(Ordering::Relaxed)
    }

    /// Split workload: the posted balance (credit positive) its fee and tax
    /// accounts must have after [`LedgerWorkload::committed`] entries, each
    /// applied whole.
    pub fn expected_ledger_balances(&self) -> Vec<(AccountId, Decimal)> {
        let Shape::Split { accounts, amounts: [_, fee, tax] } = &self.shape else {
            return Vec::new();
        };
        let n = Decimal::from(self.committed());
        vec![(accounts.fee, fee.value() * n), (accounts.tax, tax.value() * n)]
    }

    /// The command for one pair of account indexes.
    fn command(&self, (from, to): Pair) -> MoneyCommand {
        let (payer, payee) = (self.accounts[from], self.accounts[to]);
        match &self.shape {
            Shape::Transfer(amount) => MoneyCommand::Transfer(Transfer {
                from: payer,
                to: payee.into(),
                amount: *amount,
                description: None,
                metadata: Default::default(),
            }),
            Shape::Split { accounts, amounts: [to_payee, fee, tax] } => {
                let posting = |destination: AccountId, amount: Amount| EntryPosting {
                    source: payer.into(),
                    destination: destination.into(),
                    amount,
                    currency: Currency::Usd,
                };
                MoneyCommand::Entry(Entry {
                    postings: vec![posting(payee, *to_payee), posting(accounts.fee, *fee), posting(accounts.tax, *tax)],
                    description: None,
                    metadata: Default::default(),
                })
            }
        }
    }
}

#[async_trait]
impl Workload for LedgerWorkload {
    async fn transfers(&self, pairs: &[Pair], key: &str) -> Result<(), BenchError> {
        let key = IdempotencyKey::new(key)?;
        match pairs {
            [pair] => {
                self.ledger.execute(&SYS, key, self.command(*pair)).await?;
            }
            _ => {
                let commands = pairs.iter().map(|pair| self.command(*pair)).collect();
                self.ledger.execute_batch(&SYS, key, commands).await?;
            }
        }
        self.committed.fetch_add(pairs.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}
