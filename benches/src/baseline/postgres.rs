//! The hand-written PostgreSQL transfer, on the ledger's own tables.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::Utc;
use ledger_sql::{SqlOptions, SqlStore};
use rust_decimal::Decimal;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use uuid::Uuid;

use super::*;
use crate::backend::{fresh_schema, postgres_connections, postgres_url};
use crate::driver::Pair;

/// Transfers by hand on PostgreSQL, in a schema of their own.
pub struct PostgresBaseline {
    pool: PgPool,
    accounts: Vec<Uuid>,
    amount: Decimal,
    /// Transfers per command: a call of more is several commands.
    command_size: usize,
}

impl PostgresBaseline {
    /// Creates the ledger's schema (through its migrations, so tables,
    /// indexes and keys are identical) in [`BASELINE_SCHEMA`] and seeds it;
    /// each call's transfers are commands of `command_size`.
    pub async fn open(
        url: &str,
        durability: Durability,
        accounts: usize,
        (clients, command_size): (usize, usize),
    ) -> Result<PostgresBaseline, BenchError> {
        fresh_schema(url, BASELINE_SCHEMA).await?;
        let migrate = SqlOptions::default().schema(Some(BASELINE_SCHEMA.into())).notify(false);
        drop(SqlStore::connect_with(url, migrate).await?);
        let connect =
            PgConnectOptions::from_str(&postgres_url(url, durability))?.options([("search_path", BASELINE_SCHEMA)]);
        let pool = PgPoolOptions::new().max_connections(postgres_connections(clients)).connect_with(connect).await?;
        let accounts: Vec<Uuid> = (0..accounts).map(|_| Uuid::now_v7()).collect();
        seed(&pool, &accounts).await?;
        Ok(PostgresBaseline { pool, accounts, amount: Decimal::new(TRANSFER_UNITS, 4), command_size })
    }
}

async fn seed(pool: &PgPool, accounts: &[Uuid]) -> Result<(), BenchError> {
    let balance = Decimal::new(SEED_UNITS, 4);
    let now = Utc::now();
    for (c, chunk) in accounts.chunks(SEED_ROWS_PER_INSERT).enumerate() {
        let mut q = sqlx::QueryBuilder::new(
            "INSERT INTO accounts (id, number, owner, kind, currency, name, status, overdraft_limit, posted, \
             pending, opened_seq, created_at, updated_at) ",
        );
        q.push_values(chunk.iter().enumerate(), |mut row, (i, id)| {
            let n = (c * SEED_ROWS_PER_INSERT + i) as i64;
            row.push_bind(*id).push_bind(ACCOUNT_NUMBER_BASE + n).push_bind(Uuid::now_v7()).push_bind("checking");
            row.push_bind("USD").push_bind(None::<String>).push_bind("active").push_bind(Decimal::ZERO);
            row.push_bind(balance).push_bind(Decimal::ZERO).push_bind(n).push_bind(now).push_bind(now);
        });
        q.build().execute(pool).await?;
    }
    Ok(())
}

#[async_trait]
impl Workload for PostgresBaseline {
    async fn transfers(&self, pairs: &[Pair], key: &str) -> Result<(), BenchError> {
        let commands = commands(pairs, key, self.command_size, |i| self.accounts[i]);
        let now = Utc::now();
        let mut db_tx = self.pool.begin().await?;
        let (head, _hash): (i64, Vec<u8>) =
            sqlx::query_as("SELECT sequence, hash FROM audit_head WHERE id = 1 FOR UPDATE")
                .fetch_one(&mut *db_tx)
                .await?;
        let locked = lock_order(&commands);
        let rows: Vec<(Uuid, Decimal)> =
            sqlx::query_as("SELECT id, posted FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(&locked)
                .fetch_all(&mut *db_tx)
                .await?;
        let keys: Vec<&str> = commands.iter().map(|c| c.key.as_ref()).collect();
        let replayed: Vec<(String,)> = sqlx::query_as("SELECT key FROM idempotency WHERE key = ANY($1)")
            .bind(&keys)
            .fetch_all(&mut *db_tx)
            .await?;
        let written = sequenced(&commands, &replayed.into_iter().map(|(key,)| key).collect(), head);
        let Some(&(_, last, _)) = written.last() else { return Ok(()) };
        let mut balances: HashMap<Uuid, Decimal> = rows.into_iter().collect();
        let mut after = Vec::new();
        for (command, _, _) in &written {
            after.extend(settle(&mut balances, &command.moves, self.amount)?);
        }
        let posted: Vec<Option<Decimal>> = locked.iter().map(|id| balances.get(id).copied()).collect();
        sqlx::query(
            "UPDATE accounts SET posted = v.posted, updated_at = $1 \
             FROM UNNEST($2::uuid[], $3::numeric[]) AS v(id, posted) WHERE accounts.id = v.id",
        )
        .bind(now)
        .bind(&locked)
        .bind(&posted)
        .execute(&mut *db_tx)
        .await?;
        for mut q in row_inserts::<sqlx::Postgres, _, _, _>(&written, self.amount, &after, now) {
            q.build().execute(&mut *db_tx).await?;
        }
        sqlx::query(AUDIT_HEAD_UPDATE).bind(last).bind(digest_bytes(last)).execute(&mut *db_tx).await?;
        db_tx.commit().await?;
        Ok(())
    }
}
