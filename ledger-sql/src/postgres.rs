//! The PostgreSQL backend: connecting, binding values, reading cells, and
//! the storage transaction of [`Store::apply`](ledger_core::Store::apply).

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::dump::DumpChunk;
use ledger_core::{BatchOutcome, StorageError, WriteBatch};
use rust_decimal::Decimal;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{Connection, Postgres, Row};
use uuid::Uuid;

use crate::SqlOptions;
use crate::apply;
use crate::booking::{self, sealer::Sealer};
use crate::error::{postgres_refused, postgres_retryable, storage_error};
use crate::migrate;
use crate::notify::{self, ChangeListener};
use crate::session::{Cells, Session};
use crate::stmt::{Dialect, Stmt, Value};

/// The backend's name.
pub(crate) const BACKEND: &str = Dialect::Postgres.backend();

/// Each call's storage transaction. READ COMMITTED is enough because every
/// committer first locks the audit head row and then re-reads what it
/// decides on under row locks (see the crate docs); saying so explicitly
/// keeps a server whose default is another level from changing the cost.
///
/// Sequential scans are off inside it: every statement of a write is a
/// lookup by key or a write of given rows, for which an index is the right
/// plan at any table size, but a connection's cached plan is made once (on
/// about the sixth run) for the statistics of that moment and kept until
/// the table is next analysed. The idempotency table starts empty and grows
/// by a row per command, so the plan made while it was small was a
/// sequential scan, kept by every pooled connection: each group commit read
/// the whole table (2.5 ms of a 3 ms group at 20,000 records in the
/// harness) until autovacuum's next `ANALYZE`, or, after a bulk import,
/// its first. Sent with `BEGIN` in one message: no extra round trip.
pub(crate) const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL enable_seqscan = off";

/// Every table of the schema (in the connection's `search_path`).
const ANALYZE: &str = "ANALYZE users, sessions, reset_tokens, accounts, transactions, account_transactions, \
     transaction_metadata, postings, idempotency, audit_log, audit_head, changes, sink_cursors, leases, pending";

/// A PostgreSQL connection pool with the ledger's schema.
#[derive(Debug, Clone)]
pub(crate) struct PgBackend {
    pool: PgPool,
    connect_timeout: std::time::Duration,
    /// The schema the tables live in (`current_schema()` on connect).
    schema: String,
    /// Whether commits are announced with `pg_notify`.
    notify: bool,
    /// The seal passes of this instance's bookings, if it books apart.
    sealer: Option<Arc<Sealer>>,
}

impl PgBackend {
    /// Connects (one connection first, so failures carry their real cause),
    /// migrates the schema on it, then opens the pool.
    pub(crate) async fn connect(url: &str, options: &SqlOptions) -> Result<PgBackend, StorageError> {
        let mut connect =
            PgConnectOptions::from_str(url).map_err(|e| storage_error(BACKEND, "invalid PostgreSQL URL", e))?;
        if connect.get_application_name().is_none() {
            connect = connect.application_name("ledger");
        }
        if let Some(schema) = &options.schema {
            connect = connect.options([("search_path", checked_schema(schema)?)]);
        }
        let place = format!("{}:{}/{}", connect.get_host(), connect.get_port(), connect.get_database().unwrap_or(""));
        let first = tokio::time::timeout(options.connect_timeout, PgConnection::connect_with(&connect)).await;
        let mut conn = match first {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(storage_error(BACKEND, &format!("cannot connect to PostgreSQL at {place}"), e)),
            Err(_) => {
                return Err(StorageError::new(
                    BACKEND,
                    format!("cannot connect to PostgreSQL at {place}: no answer within {:?}", options.connect_timeout),
                ));
            }
        };
        if options.read_only {
            // A standby cannot be migrated: it must already hold the schema.
            migrate::check_current(&mut conn, BACKEND, &migrate::POSTGRES).await?;
            connect = connect.options([("default_transaction_read_only", "on")]);
        } else {
            // sqlx serialises concurrent migrators with an advisory lock; a
            // connection dropped on failure releases it with its session.
            migrate::POSTGRES
                .run(&mut conn)
                .await
                .map_err(|e| migrate::migration_error(BACKEND, &migrate::POSTGRES, e))?;
        }
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| storage_error(BACKEND, "reading the current schema", e))?;
        let _ = conn.close().await;
        // No ping before each use: it costs a round trip on every read and
        // every commit, and a connection that died since (a failover) fails
        // its first statement instead, which is retried like any lost
        // connection (see `apply::transact` and `reads`).
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.connect_timeout)
            .test_before_acquire(false)
            .connect_lazy_with(connect);
        let sealer = options.book_apart.then(Arc::default);
        Ok(PgBackend { pool, connect_timeout: options.connect_timeout, schema, notify: options.notify, sealer })
    }

    /// Listens for the changes committed to this schema, by any process.
    pub(crate) async fn listen(&self) -> Result<ChangeListener, StorageError> {
        if !self.notify {
            return Err(StorageError::new(BACKEND, "change notifications are off for this store (SqlOptions::notify)"));
        }
        // A pool of one, never recycled, only so that the listener can
        // reconnect (and LISTEN again) by itself.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(self.connect_timeout)
            .connect_lazy_with(PgConnectOptions::clone(&self.pool.connect_options()));
        let context = "listening for ledger changes";
        let mut listener = PgListener::connect_with(&pool).await.map_err(|e| storage_error(BACKEND, context, e))?;
        listener.ignore_pool_close_event(true);
        listener.listen(notify::CHANNEL).await.map_err(|e| storage_error(BACKEND, context, e))?;
        Ok(ChangeListener::new(listener, self.schema.clone()))
    }

    /// The pool.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies batches in one READ COMMITTED transaction, retried on
    /// serialization failures and deadlocks.
    pub(crate) async fn apply(&self, batches: &[WriteBatch]) -> Result<Vec<BatchOutcome>, StorageError> {
        let notify = self.notify.then_some(self.schema.as_str());
        if let Some(sealer) = &self.sealer {
            return booking::apply(&self.pool, sealer, batches, notify).await;
        }
        apply::transact(&self.pool, BEGIN, batches, postgres_retryable, notify).await.map_err(|failed| {
            let kind = failed.kind(postgres_refused);
            storage_error(BACKEND, "applying a batch", failed.error).of_kind(kind)
        })
    }

    /// Writes dumped records in one transaction (not retried: a dump is
    /// imported into a store no one else writes to).
    pub(crate) async fn restore(&self, chunk: &DumpChunk) -> Result<(), StorageError> {
        let restored = crate::dump::restore(&self.pool, BEGIN, chunk).await;
        restored.map_err(|e| storage_error(BACKEND, "restoring dumped records", e))
    }

    /// Refreshes the planner's statistics of every ledger table (after an
    /// import: until autovacuum's first `ANALYZE` the tables look empty).
    pub(crate) async fn analyze(&self) -> Result<(), StorageError> {
        sqlx::raw_sql(ANALYZE)
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(|e| storage_error(BACKEND, "refreshing the tables' statistics", e))
    }

    /// Runs one write statement on its own (autocommit), retried like a
    /// call of `apply`; returns how many rows it changed.
    pub(crate) async fn write_one(&self, context: &str, stmt: &Stmt) -> Result<u64, StorageError> {
        let run = || async {
            let mut conn = self.pool.acquire().await?;
            Session::execute(&mut *conn, stmt).await
        };
        apply::with_retries(context, postgres_retryable, run).await.map_err(|e| storage_error(BACKEND, context, e))
    }
}

/// A schema name safe to put in `search_path` unquoted.
fn checked_schema(schema: &str) -> Result<&str, StorageError> {
    let mut chars = schema.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && schema.len() <= 63;
    if valid {
        Ok(schema)
    } else {
        Err(StorageError::new(BACKEND, format!("invalid schema name {schema:?}: use letters, digits and _")))
    }
}

fn bind(stmt: &Stmt) -> Query<'_, Postgres, PgArguments> {
    // Not persistent: sent as the unnamed statement, which PostgreSQL plans
    // for the values bound to it each time (unless this connection already
    // holds the statement prepared).
    let query = sqlx::query(stmt.sql()).persistent(!stmt.is_planned_each_run());
    stmt.args().iter().fold(query, |q, value| match value {
        Value::Uuid(v) => q.bind(*v),
        Value::OptUuid(v) => q.bind(*v),
        Value::Int(v) => q.bind(*v),
        Value::Text(v) => q.bind(v.as_str()),
        Value::OptText(v) => q.bind(v.as_deref()),
        Value::Bytes(v) => q.bind(v.as_slice()),
        Value::Amount(v) | Value::Balance(v) | Value::AmountAtLeast(v) | Value::AmountAtMost(v) => q.bind(*v),
        Value::OptAmount(v) => q.bind(*v),
        Value::Time(v) => q.bind(*v),
        Value::OptTime(v) => q.bind(*v),
        Value::OptDate(v) => q.bind(*v),
        Value::UuidArray(v) => q.bind(v.as_slice()),
        Value::IntArray(v) => q.bind(v.as_slice()),
        Value::TextArray(v) => q.bind(v.as_slice()),
        Value::BytesArray(v) => q.bind(v.as_slice()),
        Value::OptUuidArray(v) => q.bind(v.as_slice()),
        Value::OptTextArray(v) => q.bind(v.as_slice()),
        Value::DecimalArray(v) => q.bind(v.as_slice()),
        Value::OptDecimalArray(v) => q.bind(v.as_slice()),
        Value::TimeArray(v) => q.bind(v.as_slice()),
        Value::OptTimeArray(v) => q.bind(v.as_slice()),
        Value::OptDateArray(v) => q.bind(v.as_slice()),
    })
}

#[async_trait]
impl Session for PgConnection {
    const DIALECT: Dialect = Dialect::Postgres;
    type Row = PgRow;

    async fn fetch(&mut self, stmt: &Stmt) -> Result<Vec<PgRow>, sqlx::Error> {
        bind(stmt).fetch_all(self).await
    }

    async fn execute(&mut self, stmt: &Stmt) -> Result<u64, sqlx::Error> {
        Ok(bind(stmt).execute(self).await?.rows_affected())
    }
}

impl Cells for PgRow {
    fn uuid(&self, column: &str) -> Result<Uuid, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>, sqlx::Error> {
        self.try_get(column)
    }
    fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
        self.try_get(column)
    }
    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(column)
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, sqlx::Error> {
        self.try_get(column)
    }
    fn amount(&self, column: &str) -> Result<Decimal, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_amount(&self, column: &str) -> Result<Option<Decimal>, sqlx::Error> {
        self.try_get(column)
    }
    fn balance(&self, column: &str) -> Result<Decimal, sqlx::Error> {
        self.try_get(column)
    }
    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.try_get(column)
    }
    fn opt_date(&self, column: &str) -> Result<Option<NaiveDate>, sqlx::Error> {
        self.try_get(column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(checked_schema("ledger_t_0123abcd").is_ok());
        for bad in ["", "1abc", "a-b", "a b", "a;drop", "\"x\""] {
            assert!(checked_schema(bad).is_err(), "{bad:?}");
        }
    }
}
