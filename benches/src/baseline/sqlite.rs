//! The hand-written SQLite transfer, on the ledger's own tables.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use ledger_sql::SqlStore;
use rust_decimal::Decimal;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use uuid::Uuid;

use super::*;
use crate::driver::Pair;

/// What the ledger's SQLite store waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Transfers by hand on a SQLite file of their own.
pub struct SqliteBaseline {
    pool: SqlitePool,
    /// Writers of this process queue here, as the ledger's store does.
    write_gate: tokio::sync::Mutex<()>,
    accounts: Vec<Uuid>,
    /// Transfers per command: a call of more is several commands.
    command_size: usize,
    _dir: tempfile::TempDir,
}

impl SqliteBaseline {
    /// Creates the ledger's schema (through its migrations) in a new file
    /// with the ledger's settings (WAL, `synchronous=FULL`) and seeds it;
    /// each call's transfers are commands of `command_size`.
    pub async fn open(accounts: usize, clients: usize, command_size: usize) -> Result<SqliteBaseline, BenchError> {
        let dir = tempfile::Builder::new()
            .prefix("ledger-bench-raw-")
            .tempdir()
            .map_err(|e| BenchError::io("temp dir", e))?;
        let url = format!("sqlite:{}", dir.path().join("baseline.db").display());
        drop(SqlStore::connect(&url).await?);
        let connect = SqliteConnectOptions::from_str(&url)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let connections = u32::try_from(clients + 2).unwrap_or(u32::MAX);
        let pool = SqlitePoolOptions::new().max_connections(connections).connect_with(connect).await?;
        let accounts: Vec<Uuid> = (0..accounts).map(|_| Uuid::now_v7()).collect();
        seed(&pool, &accounts).await?;
        Ok(SqliteBaseline { pool, write_gate: tokio::sync::Mutex::new(()), accounts, command_size, _dir: dir })
    }
}

fn micros(at: chrono::DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

async fn seed(pool: &SqlitePool, accounts: &[Uuid]) -> Result<(), BenchError> {
    let balance = Decimal::new(SEED_UNITS, 4).to_string();
    let now = micros(Utc::now());
    for (c, chunk) in accounts.chunks(SEED_ROWS_PER_INSERT / 5).enumerate() {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO accounts (id, number, owner, kind, currency, name, status, overdraft_limit, posted, \
             pending, opened_seq, created_at, updated_at) ",
        );
        q.push_values(chunk.iter().enumerate(), |mut row, (i, id)| {
            let n = (c * SEED_ROWS_PER_INSERT / 5 + i) as i64;
            row.push_bind(*id).push_bind(ACCOUNT_NUMBER_BASE + n).push_bind(Uuid::now_v7()).push_bind("checking");
            row.push_bind("USD").push_bind(None::<String>).push_bind("active").push_bind("0");
            row.push_bind(balance.clone()).push_bind("0").push_bind(n).push_bind(now).push_bind(now);
        });
        q.build().execute(pool).await?;
    }
    Ok(())
}

#[async_trait]
impl Workload for SqliteBaseline {
    async fn transfers(&self, pairs: &[Pair], key: &str) -> Result<(), BenchError> {
        let commands = commands(pairs, key, self.command_size, |i| self.accounts[i]);
        let amount = Decimal::new(TRANSFER_UNITS, 4);
        let now = micros(Utc::now());
        let _gate = self.write_gate.lock().await;
        let mut db_tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (head, _hash): (i64, Vec<u8>) =
            sqlx::query_as("SELECT sequence, hash FROM audit_head WHERE id = 1").fetch_one(&mut *db_tx).await?;
        let locked = lock_order(&commands);
        let mut q = sqlx::QueryBuilder::new("SELECT id, posted FROM accounts WHERE id IN (");
        let mut list = q.separated(", ");
        for id in &locked {
            list.push_bind(*id);
        }
        q.push(") ORDER BY id");
        let rows: Vec<(Uuid, String)> = q.build_query_as().fetch_all(&mut *db_tx).await?;
        let replayed = replayed(&mut db_tx, &commands).await?;
        let written = sequenced(&commands, &replayed, head);
        let Some(&(_, last, _)) = written.last() else { return Ok(()) };
        let mut balances: HashMap<Uuid, Decimal> =
            rows.into_iter().filter_map(|(id, posted)| Some((id, Decimal::from_str(&posted).ok()?))).collect();
        let mut after = Vec::new();
        for (command, _, _) in &written {
            after.extend(settle(&mut balances, &command.moves, amount)?.iter().map(Decimal::to_string));
        }
        let mut q = sqlx::QueryBuilder::new("UPDATE accounts SET posted = v.column2, updated_at = ");
        q.push_bind(now).push(" FROM (");
        q.push_values(&locked, |mut row, id| {
            row.push_bind(*id).push_bind(balances.get(id).map(Decimal::to_string));
        });
        q.push(") AS v WHERE accounts.id = v.column1");
        q.build().execute(&mut *db_tx).await?;
        for mut q in row_inserts::<sqlx::Sqlite, _, _, _>(&written, TRANSFER_UNITS, &after, now) {
            q.build().execute(&mut *db_tx).await?;
        }
        sqlx::query(AUDIT_HEAD_UPDATE).bind(last).bind(digest_bytes(last)).execute(&mut *db_tx).await?;
        db_tx.commit().await?;
        Ok(())
    }
}

/// The keys of `commands` already recorded.
async fn replayed(
    db_tx: &mut sqlx::SqliteConnection,
    commands: &[Command<'_, Uuid>],
) -> Result<std::collections::HashSet<String>, BenchError> {
    let mut q = sqlx::QueryBuilder::new("SELECT key FROM idempotency WHERE key IN (");
    let mut list = q.separated(", ");
    for command in commands {
        list.push_bind(command.key.as_ref());
    }
    q.push(")");
    let rows: Vec<(String,)> = q.build_query_as().fetch_all(db_tx).await?;
    Ok(rows.into_iter().map(|(key,)| key).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn count(pool: &SqlitePool, table: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(pool).await.unwrap();
        n
    }

    #[tokio::test]
    async fn a_grouped_call_writes_each_command_with_its_own_key_and_audit_record_once() {
        let baseline = SqliteBaseline::open(10, 1, 1).await.unwrap();
        let pairs = [(0, 1), (2, 3), (4, 5), (0, 9)];
        baseline.transfers(&pairs, "g").await.unwrap();
        baseline.transfers(&pairs, "g").await.unwrap();

        let pool = &baseline.pool;
        let keys: Vec<(String,)> =
            sqlx::query_as("SELECT key FROM idempotency ORDER BY key").fetch_all(pool).await.unwrap();
        let keys: Vec<String> = keys.into_iter().map(|(k,)| k).collect();
        assert_eq!(keys, ["g-0", "g-1", "g-2", "g-3"], "one record per command; the second call replayed them all");
        let audit: Vec<(i64,)> =
            sqlx::query_as("SELECT sequence FROM audit_log ORDER BY sequence").fetch_all(pool).await.unwrap();
        assert_eq!(audit, [(1,), (2,), (3,), (4,)]);
        assert_eq!((count(pool, "transactions").await, count(pool, "postings").await), (4, 8));
        let (head,): (i64,) =
            sqlx::query_as("SELECT sequence FROM audit_head WHERE id = 1").fetch_one(pool).await.unwrap();
        assert_eq!(head, 4);
        let posted: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT id, posted FROM accounts").fetch_all(pool).await.unwrap();
        let balance = |i: usize| {
            let (_, p) = posted.iter().find(|(id, _)| *id == baseline.accounts[i]).unwrap();
            Decimal::from_str(p).unwrap()
        };
        let seed = Decimal::new(SEED_UNITS, 4);
        let unit = Decimal::new(TRANSFER_UNITS, 4);
        assert_eq!((balance(0), balance(1), balance(9)), (seed - unit - unit, seed + unit, seed + unit));
        let after: Vec<(String,)> =
            sqlx::query_as("SELECT balance_after FROM postings ORDER BY sequence").fetch_all(pool).await.unwrap();
        let after: Vec<Decimal> = after.into_iter().map(|(b,)| Decimal::from_str(&b).unwrap()).collect();
        let (down, up) = (seed - unit, seed + unit);
        assert_eq!(
            after,
            [down, up, down, up, down, up, seed - unit - unit, up],
            "each posting keeps its account's balance after it"
        );
    }
}
