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
    _dir: tempfile::TempDir,
}

impl SqliteBaseline {
    /// Creates the ledger's schema (through its migrations) in a new file
    /// with the ledger's settings (WAL, `synchronous=FULL`) and seeds it.
    pub async fn open(accounts: usize, clients: usize) -> Result<SqliteBaseline, BenchError> {
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
        Ok(SqliteBaseline { pool, write_gate: tokio::sync::Mutex::new(()), accounts, _dir: dir })
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
        let moves: Vec<(Uuid, Uuid)> =
            pairs.iter().map(|&(from, to)| (self.accounts[from], self.accounts[to])).collect();
        let amount = Decimal::new(TRANSFER_UNITS, 4);
        let now = micros(Utc::now());
        let _gate = self.write_gate.lock().await;
        let mut db_tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let (head, _hash): (i64, Vec<u8>) =
            sqlx::query_as("SELECT sequence, hash FROM audit_head WHERE id = 1").fetch_one(&mut *db_tx).await?;
        let locked = lock_order(&moves);
        let mut q = sqlx::QueryBuilder::new("SELECT id, posted FROM accounts WHERE id IN (");
        let mut list = q.separated(", ");
        for id in &locked {
            list.push_bind(*id);
        }
        q.push(") ORDER BY id");
        let rows: Vec<(Uuid, String)> = q.build_query_as().fetch_all(&mut *db_tx).await?;
        let replay: Option<(String,)> =
            sqlx::query_as(IDEMPOTENCY_SELECT).bind(key).fetch_optional(&mut *db_tx).await?;
        if replay.is_some() {
            return Ok(());
        }
        let mut balances: HashMap<Uuid, Decimal> =
            rows.into_iter().filter_map(|(id, posted)| Some((id, Decimal::from_str(&posted).ok()?))).collect();
        settle(&mut balances, &moves, amount)?;
        for id in &locked {
            let posted = balances.get(id).map(Decimal::to_string);
            sqlx::query(BALANCE_UPDATE).bind(posted).bind(now).bind(id).execute(&mut *db_tx).await?;
        }
        let seq = head + 1;
        let base = seq * SEQUENCE_STRIDE;
        let ids: Vec<Uuid> = moves.iter().map(|_| Uuid::now_v7()).collect();
        // SQLite binds at most 32766 values per statement: 13 per row fits 1000 rows.
        let mut q = sqlx::QueryBuilder::new(TRANSACTIONS_INSERT);
        q.push_values(moves.iter().zip(&ids).enumerate(), |mut row, (i, ((from, to), id))| {
            row.push_bind(*id).push_bind(base + i as i64).push_bind("transfer").push_bind("posted");
            row.push_bind(TRANSFER_UNITS).push_bind("USD").push_bind(*from).push_bind(*to).push_bind(None::<String>);
            row.push_bind(None::<i64>).push_bind(None::<i64>).push_bind(now).push_bind(now);
        });
        q.build().execute(&mut *db_tx).await?;
        let mut q = sqlx::QueryBuilder::new(POSTINGS_INSERT);
        let lines = moves
            .iter()
            .zip(&ids)
            .flat_map(|((from, to), id)| [(*id, *from, -TRANSFER_UNITS), (*id, *to, TRANSFER_UNITS)]);
        q.push_values(lines.enumerate(), |mut row, (i, (id, account, units))| {
            row.push_bind(base + i as i64).push_bind(id).push_bind(account).push_bind(units).push_bind("USD");
        });
        q.build().execute(&mut *db_tx).await?;
        sqlx::query(IDEMPOTENCY_INSERT)
            .bind(key)
            .bind(digest_bytes(seq))
            .bind(transaction_ids(&ids))
            .bind(now)
            .execute(&mut *db_tx)
            .await?;
        sqlx::query(AUDIT_INSERT)
            .bind(seq)
            .bind(now)
            .bind(audit_target(&moves))
            .bind(audit_metadata(key))
            .bind(digest_bytes(head))
            .bind(digest_bytes(seq))
            .execute(&mut *db_tx)
            .await?;
        sqlx::query(AUDIT_HEAD_UPDATE).bind(seq).bind(digest_bytes(seq)).execute(&mut *db_tx).await?;
        db_tx.commit().await?;
        Ok(())
    }
}
