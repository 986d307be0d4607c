//! The SQLite backend: connecting (WAL, full sync), storing money and
//! instants exactly in SQLite's types, and the storage transaction of
//! [`Store::apply`](ledger_core::Store::apply).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::format::{Item, Numeric, Pad, Parsed};
use chrono::{DateTime, NaiveDate, Utc};
use ledger_core::dump::DumpChunk;
use ledger_core::{BatchOutcome, StorageError, WriteBatch};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use sqlx::migrate::MigrateError;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, Row, Sqlite};
use uuid::Uuid;

use crate::SqlOptions;
use crate::apply;
use crate::error::{sqlite_refused, sqlite_retryable, storage_error};
use crate::migrate;
use crate::session::{Cells, Session, corrupt};
use crate::sqlite_cells::{PreparedConnection, failed};
use crate::sqlite_reads::SqliteReads;
use crate::sqlite_writes::SqliteWriter;
use crate::stmt::{Dialect, Stmt, Value};

/// The backend's name.
pub(crate) const BACKEND: &str = Dialect::Sqlite.backend();

/// Takes the database's write lock when the transaction starts, not at its
/// first write: two deferred transactions that both read and then try to
/// write would otherwise fail with SQLITE_BUSY half way through.
pub(crate) const BEGIN: &str = "BEGIN IMMEDIATE";

/// How long a connection waits for another (process's) writer.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a rusqlite connection to the (created and migrated) database at
/// `path`, with the busy timeout, `pragmas` run and up to
/// `statements_cached` prepared statements (and their column names) kept.
pub(crate) fn open_rusqlite(
    path: &std::path::Path,
    pragmas: &str,
    statements_cached: usize,
) -> Result<PreparedConnection, sqlx::Error> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(failed)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
    conn.execute_batch(pragmas).map_err(failed)?;
    conn.set_prepared_statement_cache_capacity(statements_cached);
    Ok(PreparedConnection::new(conn))
}

/// Bounded amounts are stored as integers in units of 10^-4
/// ([`ledger_core::money::AMOUNT_SCALE_MAX`] decimal places).
const AMOUNT_SCALE: u32 = ledger_core::money::AMOUNT_SCALE_MAX;

/// A SQLite connection pool with the ledger's schema.
#[derive(Debug)]
pub(crate) struct SqliteBackend {
    /// Single statements written on their own (`write_one`), restores and
    /// `EXPLAIN`s run on sqlx's pool.
    pool: SqlitePool,
    /// Reads run on rusqlite's connections, one thread hand-off each.
    reads: SqliteReads,
    /// `apply` runs on one rusqlite connection, one hand-off per call.
    writer: SqliteWriter,
    /// Lets one of this process's writers at a time wait for the write lock,
    /// on a fair async queue instead of SQLite's sleeping busy handler.
    write_gate: tokio::sync::Mutex<()>,
}

/// Creates the directory the database file goes in, if missing: SQLite
/// creates a file but not its directory. (Blocking, once per connect.)
fn create_parent_dir(file: &std::path::Path) -> Result<(), StorageError> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir)
            .map_err(|e| StorageError::with_source(BACKEND, "creating the database's directory", e)),
        _ => Ok(()),
    }
}

impl SqliteBackend {
    /// Opens (creating it if missing) and migrates the database file.
    pub(crate) async fn connect(url: &str, options: &SqlOptions) -> Result<SqliteBackend, StorageError> {
        if url.contains(":memory:") || url.contains("mode=memory") {
            // Each pooled connection would need to keep the database alive;
            // the `memory:` store is the in-memory ledger.
            return Err(StorageError::new(BACKEND, "in-memory SQLite is not supported: use sqlite:PATH"));
        }
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(|e| storage_error(BACKEND, "invalid SQLite URL", e))?
            .create_if_missing(true)
            // WAL: readers never block the writer nor each other.
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: the WAL is synced at every commit, so an acknowledged
            // commit survives a power loss, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        if connect.get_filename().as_os_str().is_empty() {
            return Err(StorageError::new(BACKEND, "the SQLite URL names no file (use sqlite:PATH)"));
        }
        create_parent_dir(connect.get_filename())?;
        let place = connect.get_filename().display().to_string();
        let mut conn = open_racing_openers(&connect, &place, options.connect_timeout).await?;
        migrate_racing_openers(&mut conn).await?;
        let _ = conn.close().await;
        // No ping before each use: a connection to a local file does not
        // go away, and the ping is a round trip to the connection's worker
        // thread on every read and every commit.
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.connect_timeout)
            .test_before_acquire(false)
            .connect_lazy_with(connect.clone());
        let reads =
            SqliteReads::new(connect.get_filename().to_path_buf(), options.max_connections, options.connect_timeout);
        let writer = SqliteWriter::new(connect.get_filename().to_path_buf());
        Ok(SqliteBackend { pool, reads, writer, write_gate: tokio::sync::Mutex::new(()) })
    }

    /// The pool.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The reads' connections.
    pub(crate) fn reads(&self) -> &SqliteReads {
        &self.reads
    }

    /// The writes' connection.
    #[cfg(test)]
    pub(crate) fn writer(&self) -> &SqliteWriter {
        &self.writer
    }

    /// Closes the reads, the writer and the pool, each once its
    /// connections in use come back: later calls fail.
    pub(crate) async fn close(&self) {
        self.reads.close().await;
        let _gate = self.write_gate.lock().await;
        self.writer.close();
        self.pool.close().await;
    }

    /// Applies batches in one `BEGIN IMMEDIATE` transaction, retried while
    /// another process holds the write lock past the busy timeout.
    pub(crate) async fn apply(&self, batches: Vec<WriteBatch>) -> Result<Vec<BatchOutcome>, StorageError> {
        let _gate = self.write_gate.lock().await;
        let batches: Arc<[WriteBatch]> = batches.into();
        let once = || self.writer.transact(Arc::clone(&batches));
        apply::run_call(&batches, sqlite_retryable, once).await.map_err(|failed| {
            let kind = failed.kind(sqlite_refused);
            storage_error(BACKEND, "applying a batch", failed.error).of_kind(kind)
        })
    }

    /// Writes dumped records in one transaction, queued behind this
    /// process's other writers.
    pub(crate) async fn restore(&self, chunk: &DumpChunk) -> Result<(), StorageError> {
        let _gate = self.write_gate.lock().await;
        let restored = crate::dump::restore(&self.pool, BEGIN, chunk).await;
        restored.map_err(|e| storage_error(BACKEND, "restoring dumped records", e))
    }

    /// Runs one write statement on its own (autocommit: a single statement
    /// takes the write lock when it starts), queued behind this process's
    /// other writers and retried like a call of `apply`; returns how many
    /// rows it changed.
    pub(crate) async fn write_one(&self, context: &str, stmt: &Stmt) -> Result<u64, StorageError> {
        let _gate = self.write_gate.lock().await;
        let run = || async {
            let mut conn = self.pool.acquire().await?;
            Session::execute(&mut *conn, stmt).await
        };
        apply::with_retries(context, sqlite_retryable, run).await.map_err(|e| storage_error(BACKEND, context, e))
    }
}

/// Opens the first connection within `timeout`, retried like a busy commit
/// ([`apply::with_retries`]) while another opener holds the file locked. A
/// connection's opening pragmas (the switch to WAL on a new file) can meet
/// another opener's lock and get "database is locked" at once, without
/// SQLite's busy handler waiting, so two processes started together would
/// otherwise see one of them fail to start.
async fn open_racing_openers(
    connect: &SqliteConnectOptions,
    place: &str,
    timeout: Duration,
) -> Result<SqliteConnection, StorageError> {
    let opening =
        apply::with_retries("opening a SQLite database", sqlite_retryable, || SqliteConnection::connect_with(connect));
    match tokio::time::timeout(timeout, opening).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(storage_error(BACKEND, &format!("cannot open SQLite database {place}"), e)),
        Err(_) => Err(StorageError::new(BACKEND, format!("cannot open SQLite database {place}: timed out"))),
    }
}

/// How many times opening runs the migrations when another process applies
/// them at the same moment.
const MIGRATION_ATTEMPTS_MAX: u32 = 3;

/// Applies the migrations. sqlx's SQLite migrator takes no lock, so two
/// processes opening a new file at once may both try to create the schema;
/// the loser fails (busy, or "table already exists") and runs the migrator
/// again, which then finds the schema recorded and does nothing.
async fn migrate_racing_openers(conn: &mut SqliteConnection) -> Result<(), StorageError> {
    let mut attempt = 1;
    loop {
        match migrate::SQLITE.run(&mut *conn).await {
            Ok(()) => return Ok(()),
            Err(MigrateError::Execute(_) | MigrateError::ExecuteMigration(..)) if attempt < MIGRATION_ATTEMPTS_MAX => {
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(error) => return Err(migrate::migration_error(BACKEND, &migrate::SQLITE, error)),
        }
    }
}

/// A bounded amount in integer units; refuses (never rounds) a value that
/// does not fit exactly.
fn units(value: Decimal) -> Result<i64, sqlx::Error> {
    let scaled = value.checked_mul(Decimal::from(10i64.pow(AMOUNT_SCALE)));
    scaled
        .filter(|s| s.fract().is_zero())
        .and_then(|s| s.to_i64())
        .ok_or_else(|| sqlx::Error::Encode(format!("amount {value} does not fit {AMOUNT_SCALE} decimal places").into()))
}

/// A range bound in units, rounded towards the inside of the range so that
/// `amount >= bound` keeps its meaning for stored (whole-unit) amounts.
fn bound_units(value: Decimal, round: fn(&Decimal) -> Decimal) -> i64 {
    match value.checked_mul(Decimal::from(10i64.pow(AMOUNT_SCALE))) {
        Some(scaled) => round(&scaled).to_i64().unwrap_or(if scaled.is_sign_negative() { i64::MIN } else { i64::MAX }),
        None if value.is_sign_negative() => i64::MIN,
        None => i64::MAX,
    }
}

/// A bound value as SQLite stores it: the one place the ledger's values
/// meet SQLite's storage classes, for sqlx's statements and the rusqlite
/// reads ([`crate::sqlite_reads`]) alike.
#[derive(Debug, PartialEq)]
pub(crate) enum Stored<'a> {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(std::borrow::Cow<'a, str>),
    /// A blob (ids, hashes).
    Blob(&'a [u8]),
}

/// How `value` is stored: ids as 16-byte blobs, bounded amounts as integer
/// units, balances as exact decimal text, instants as microseconds, dates
/// as ISO text. Refuses arrays (SQLite has none) and amounts that do not
/// fit exactly.
pub(crate) fn stored(value: &Value) -> Result<Stored<'_>, sqlx::Error> {
    fn or_null(v: Option<Stored<'_>>) -> Stored<'_> {
        v.unwrap_or(Stored::Null)
    }
    Ok(match value {
        Value::Uuid(v) => Stored::Blob(v.as_bytes()),
        Value::OptUuid(v) => or_null(v.as_ref().map(|v| Stored::Blob(v.as_bytes()))),
        Value::Int(v) => Stored::Int(*v),
        Value::Text(v) => Stored::Text(v.as_str().into()),
        Value::OptText(v) => or_null(v.as_deref().map(|v| Stored::Text(v.into()))),
        Value::Bytes(v) => Stored::Blob(v.as_slice()),
        Value::Amount(v) => Stored::Int(units(*v)?),
        Value::OptAmount(v) => or_null(v.map(units).transpose()?.map(Stored::Int)),
        Value::Balance(v) => Stored::Text(v.to_string().into()),
        Value::AmountAtLeast(v) => Stored::Int(bound_units(*v, Decimal::ceil)),
        Value::AmountAtMost(v) => Stored::Int(bound_units(*v, Decimal::floor)),
        Value::Time(v) => Stored::Int(v.timestamp_micros()),
        Value::OptTime(v) => or_null(v.map(|t| Stored::Int(t.timestamp_micros()))),
        Value::OptDate(v) => or_null(v.map(|d| Stored::Text(d.format(DATE_FORMAT).to_string().into()))),
        Value::UuidArray(_)
        | Value::IntArray(_)
        | Value::TextArray(_)
        | Value::BytesArray(_)
        | Value::OptUuidArray(_)
        | Value::OptTextArray(_)
        | Value::DecimalArray(_)
        | Value::OptDecimalArray(_)
        | Value::TimeArray(_)
        | Value::OptTimeArray(_)
        | Value::OptDateArray(_) => {
            return Err(sqlx::Error::Encode("SQLite has no array values".into()));
        }
    })
}

fn bind(stmt: &Stmt) -> Result<Query<'_, Sqlite, SqliteArguments<'_>>, sqlx::Error> {
    let mut q = sqlx::query(stmt.sql());
    for value in stmt.args() {
        q = match stored(value)? {
            Stored::Null => q.bind(None::<i64>),
            Stored::Int(v) => q.bind(v),
            Stored::Text(v) => q.bind(v),
            Stored::Blob(v) => q.bind(v),
        };
    }
    Ok(q)
}

#[async_trait]
impl Session for SqliteConnection {
    const DIALECT: Dialect = Dialect::Sqlite;
    type Row = SqliteRow;

    async fn fetch(&mut self, stmt: &Stmt) -> Result<Vec<SqliteRow>, sqlx::Error> {
        bind(stmt)?.fetch_all(self).await
    }

    async fn execute(&mut self, stmt: &Stmt) -> Result<u64, sqlx::Error> {
        Ok(bind(stmt)?.execute(self).await?.rows_affected())
    }
}

/// A bounded amount from its stored integer units.
pub(crate) fn amount_from_units(units: i64) -> Decimal {
    // The value is exact; the scale (the currency's places) is restored by
    // the row mapping, which knows the currency.
    Decimal::new(units, AMOUNT_SCALE).normalize()
}

/// Dates are stored as ISO 8601 calendar dates (`YYYY-MM-DD`): they sort
/// and compare like the dates, and read as what they are.
const DATE_FORMAT: &str = "%Y-%m-%d";

/// [`DATE_FORMAT`] parsed once: a user's date of birth is read on every
/// authenticated request, and parsing the format string was a third of
/// reading the date.
const DATE_ITEMS: [Item<'static>; 5] = [
    Item::Numeric(Numeric::Year, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Month, Pad::Zero),
    Item::Literal("-"),
    Item::Numeric(Numeric::Day, Pad::Zero),
];

/// A date from its stored ISO text.
pub(crate) fn date_from_text(text: &str) -> Result<NaiveDate, sqlx::Error> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, text, DATE_ITEMS.iter())
        .and_then(|()| parsed.to_naive_date())
        .map_err(|e| corrupt(format!("date {text:?}: {e}")))
}

/// An instant from its stored microseconds.
pub(crate) fn time_from_micros(micros: i64) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt(format!("instant {micros} µs is out of range")))
}

/// A balance or limit from its stored exact decimal text.
pub(crate) fn balance_from_text(column: &str, text: &str) -> Result<Decimal, sqlx::Error> {
    Decimal::from_str_exact(text).map_err(|e| corrupt(format!("{column} {text:?}: {e}")))
}

impl Cells for SqliteRow {
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
        self.try_get(column).map(amount_from_units)
    }
    fn opt_amount(&self, column: &str) -> Result<Option<Decimal>, sqlx::Error> {
        Ok(self.try_get::<Option<i64>, _>(column)?.map(amount_from_units))
    }
    fn balance(&self, column: &str) -> Result<Decimal, sqlx::Error> {
        balance_from_text(column, &self.try_get::<String, _>(column)?)
    }
    fn time(&self, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
        time_from_micros(self.try_get(column)?)
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.try_get::<Option<i64>, _>(column)?.map(time_from_micros).transpose()
    }
    fn opt_date(&self, column: &str) -> Result<Option<NaiveDate>, sqlx::Error> {
        self.try_get::<Option<String>, _>(column)?.map(|text| date_from_text(&text)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        Decimal::from_str_exact(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn amounts_are_exact_units_or_refused() {
        assert_eq!(units(dec("12.5")).ok(), Some(125_000));
        assert_eq!(units(dec("-0.0001")).ok(), Some(-1));
        assert_eq!(units(dec("1000000000000")).ok(), Some(10_000_000_000_000_000));
        assert!(units(dec("0.00001")).is_err());
        assert_eq!(amount_from_units(125_000), dec("12.5"));
        assert_eq!(amount_from_units(125_000).to_string(), "12.5");
    }

    #[test]
    fn dates_are_iso_text_both_ways() {
        let date = NaiveDate::from_ymd_opt(1990, 2, 3).unwrap_or_default();
        assert_eq!(date.format(DATE_FORMAT).to_string(), "1990-02-03");
        assert_eq!(date_from_text("1990-02-03").ok(), Some(date));
        assert!(date_from_text("1990-2-30").is_err());
        assert!(date_from_text("03/02/1990").is_err());
        assert!(date_from_text("1990-02-03x").is_err());
    }

    #[test]
    fn the_parsed_date_items_are_the_date_format() {
        let items: Vec<Item<'_>> = chrono::format::StrftimeItems::new(DATE_FORMAT).collect();
        assert_eq!(items, DATE_ITEMS);
    }

    #[test]
    fn range_bounds_round_inwards_and_saturate() {
        assert_eq!(bound_units(dec("0.00001"), Decimal::ceil), 1);
        assert_eq!(bound_units(dec("0.00019"), Decimal::floor), 1);
        assert_eq!(bound_units(dec("-0.00001"), Decimal::floor), -1);
        assert_eq!(bound_units(Decimal::MAX, Decimal::floor), i64::MAX);
        assert_eq!(bound_units(Decimal::MIN, Decimal::ceil), i64::MIN);
    }
}
