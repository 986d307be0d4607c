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
}

impl PostgresBaseline {
    /// Creates the ledger's schema (through its migrations, so tables,
    /// indexes and keys are identical) in [`BASELINE_SCHEMA`] and seeds it.
    pub async fn open(
        url: &str,
        durability: Durability,
        accounts: usize,
        clients: usize,
    ) -> Result<PostgresBaseline, BenchError> {
        fresh_schema(url, BASELINE_SCHEMA).await?;
        let migrate = SqlOptions { schema: Some(BASELINE_SCHEMA.into()), notify: false, ..SqlOptions::default() };
        drop(SqlStore::connect_with(url, migrate).await?);
        let connect =
            PgConnectOptions::from_str(&postgres_url(url, durability))?.options([("search_path", BASELINE_SCHEMA)]);
        let pool = PgPoolOptions::new().max_connections(postgres_connections(clients)).connect_with(connect).await?;
        let accounts: Vec<Uuid> = (0..accounts).map(|_| Uuid::now_v7()).collect();
        seed(&pool, &accounts).await?;
        Ok(PostgresBaseline { pool, accounts, amount: Decimal::new(TRANSFER_UNITS, 4) })
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
        let moves: Vec<(Uuid, Uuid)> =
            pairs.iter().map(|&(from, to)| (self.accounts[from], self.accounts[to])).collect();
        let now = Utc::now();
        let mut db_tx = self.pool.begin().await?;
        let (head, _hash): (i64, Vec<u8>) =
            sqlx::query_as("SELECT sequence, hash FROM audit_head WHERE id = 1 FOR UPDATE")
                .fetch_one(&mut *db_tx)
                .await?;
        let locked = lock_order(&moves);
        let rows: Vec<(Uuid, Decimal)> =
            sqlx::query_as("SELECT id, posted FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(&locked)
                .fetch_all(&mut *db_tx)
                .await?;
        let replay: Option<(String,)> =
            sqlx::query_as(IDEMPOTENCY_SELECT).bind(key).fetch_optional(&mut *db_tx).await?;
        if replay.is_some() {
            return Ok(());
        }
        let mut balances: HashMap<Uuid, Decimal> = rows.into_iter().collect();
        settle(&mut balances, &moves, self.amount)?;
        for id in &locked {
            sqlx::query(BALANCE_UPDATE).bind(balances.get(id)).bind(now).bind(id).execute(&mut *db_tx).await?;
        }
        let seq = head + 1;
        let base = seq * SEQUENCE_STRIDE;
        let ids: Vec<Uuid> = moves.iter().map(|_| Uuid::now_v7()).collect();
        let mut q = sqlx::QueryBuilder::new(TRANSACTIONS_INSERT);
        q.push_values(moves.iter().zip(&ids).enumerate(), |mut row, (i, ((from, to), id))| {
            row.push_bind(*id).push_bind(base + i as i64).push_bind("transfer").push_bind("posted");
            row.push_bind(self.amount).push_bind("USD").push_bind(*from).push_bind(*to).push_bind(None::<String>);
            row.push_bind(None::<Decimal>).push_bind(None::<chrono::DateTime<Utc>>).push_bind(now).push_bind(now);
        });
        q.build().execute(&mut *db_tx).await?;
        let mut q = sqlx::QueryBuilder::new(POSTINGS_INSERT);
        let lines =
            moves.iter().zip(&ids).flat_map(|((from, to), id)| [(*id, *from, -self.amount), (*id, *to, self.amount)]);
        q.push_values(lines.enumerate(), |mut row, (i, (id, account, amount))| {
            row.push_bind(base + i as i64).push_bind(id).push_bind(account).push_bind(amount).push_bind("USD");
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
