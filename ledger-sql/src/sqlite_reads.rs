//! SQLite reads on rusqlite connections: one thread hand-off per read.
//!
//! sqlx runs each SQLite connection on a worker thread of its own and talks
//! to it over channels: a read is a hand-off there and back for the
//! statement, one more per row, and a ping when the connection returns to
//! the pool. Under the HTTP read load those wake-ups were over half of the
//! service's CPU (`perf record`: futex wakes, `finish_task_switch`, flume
//! signals). Here a read takes an idle connection and runs start to finish
//! on one blocking thread (`spawn_blocking`): one hand-off there, one back.
//! Writes stay on sqlx (`sqlite.rs`); both sides bind values through
//! [`stored`] and decode them through the same functions.
//!
//! A [`Reach::Point`] read (one row by its key: a few B-tree pages, tens
//! of microseconds from the page cache) skips even that hand-off when a
//! connection is idle: it runs on the calling task's thread, with SQLite's
//! busy handler off so it never sleeps there. The two hand-offs cost more
//! than the read (under the HTTP read load, each balance request made two
//! point reads and spent about a fifth of the service's CPU parking and
//! waking blocking threads). If SQLite answers busy (in WAL mode only while
//! another connection recovers the WAL or holds the file in exclusive
//! locking mode) the read goes to a blocking thread, where the busy handler
//! waits. What such a read may still wait for on the calling thread is the
//! disk, for the few pages of its path through the B-trees that neither
//! SQLite's cache nor the operating system's holds. Scans always go to a
//! blocking thread: their length has no bound the caller chose.
//!
//! The pool is a list of idle connections behind a semaphore of
//! `max_connections` permits. It is written here rather than taken from a
//! crate: r2d2 cannot be closed ([`SqlStore::close`](crate::SqlStore::close)
//! promises that later calls fail), and deadpool-sqlite runs a query on
//! every checkout, the round trip this module exists to avoid.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::reads::{MapRow, Reach};
use crate::sqlite::{self, BUSY_TIMEOUT};
use crate::sqlite_cells::{PreparedConnection, RowCells, each_row, failed};
use crate::stmt::Stmt;

/// Prepared statements kept per connection: the reads' distinct statements
/// (history filters make a few shapes each), so each is parsed once.
const STATEMENTS_CACHED_MAX: usize = 64;

/// Read-only connections to the database file, at most `max_connections`
/// in use at once.
#[derive(Debug)]
pub(crate) struct SqliteReads {
    pool: Arc<Idle>,
    permits: Arc<Semaphore>,
    /// How many permits there are: all of them back means no read in flight.
    permits_max: u32,
    acquire_timeout: Duration,
}

/// The connections not in use, and where to open more.
#[derive(Debug)]
struct Idle {
    path: PathBuf,
    connections: Mutex<Vec<PreparedConnection>>,
}

impl SqliteReads {
    /// Reads of the database at `path`; connections open on first use.
    pub(crate) fn new(path: PathBuf, connections_max: u32, acquire_timeout: Duration) -> SqliteReads {
        let permits_max = connections_max.clamp(1, u32::try_from(Semaphore::MAX_PERMITS).unwrap_or(u32::MAX));
        let permits = usize::try_from(permits_max).unwrap_or(1);
        SqliteReads {
            pool: Arc::new(Idle { path, connections: Mutex::new(Vec::new()) }),
            permits: Arc::new(Semaphore::new(permits)),
            permits_max,
            acquire_timeout,
        }
    }

    /// Runs `stmt` and maps its rows: a point read on this thread when a
    /// connection is idle and SQLite is not busy, otherwise on a blocking
    /// thread. Fails with `PoolTimedOut` when no connection frees up within
    /// the acquire timeout, `PoolClosed` after [`SqliteReads::close`].
    pub(crate) async fn fetch<T: Send + 'static>(
        &self,
        stmt: Arc<Stmt>,
        map: MapRow<T>,
        reach: Reach,
    ) -> Result<Vec<T>, sqlx::Error> {
        if reach == Reach::Point
            && let Some(rows) = self.fetch_here(&stmt, map)
        {
            return rows;
        }
        self.fetch_blocking(stmt, map).await
    }

    /// Runs `stmt` on this thread if a permit and an idle connection are
    /// free now; `None` (having changed nothing) when they are not or
    /// SQLite answered busy.
    fn fetch_here<T>(&self, stmt: &Stmt, map: MapRow<T>) -> Option<Result<Vec<T>, sqlx::Error>> {
        let permit = self.permits.try_acquire().ok()?;
        let mut conn = self.pool.take_idle()?;
        let rows = without_busy_wait(&mut conn, |conn| query(conn, stmt, map));
        self.pool.put_back(conn, &self.permits);
        drop(permit);
        match rows {
            Err(error) if is_busy(&error) => None,
            rows => Some(rows),
        }
    }

    /// Runs `stmt` on a blocking thread, waiting for a connection.
    async fn fetch_blocking<T: Send + 'static>(&self, stmt: Arc<Stmt>, map: MapRow<T>) -> Result<Vec<T>, sqlx::Error> {
        let acquired = tokio::time::timeout(self.acquire_timeout, Arc::clone(&self.permits).acquire_owned()).await;
        let permit = acquired.map_err(|_| sqlx::Error::PoolTimedOut)?.map_err(|_| sqlx::Error::PoolClosed)?;
        let pool = Arc::clone(&self.pool);
        let permits = Arc::clone(&self.permits);
        let joined = tokio::task::spawn_blocking(move || {
            let mut conn = pool.take()?;
            let rows = query(&mut conn, &stmt, map);
            pool.put_back(conn, &permits);
            drop(permit);
            rows
        });
        joined.await.map_err(|_| sqlx::Error::WorkerCrashed)?
    }

    /// Waits for the reads in flight (and those already queued for a
    /// connection) to finish, as sqlx's `close` does, then closes every
    /// connection; later reads fail with `PoolClosed`.
    pub(crate) async fn close(&self) {
        // An error means another close already finished.
        let every_permit = self.permits.acquire_many(self.permits_max).await;
        self.permits.close();
        drop(every_permit);
        self.pool.connections.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

impl Idle {
    /// An idle connection, or a new one.
    fn take(&self) -> Result<PreparedConnection, sqlx::Error> {
        self.take_idle().map_or_else(|| self.open(), Ok)
    }

    /// An idle connection, if one is.
    fn take_idle(&self) -> Option<PreparedConnection> {
        self.connections.lock().unwrap_or_else(PoisonError::into_inner).pop()
    }

    /// Keeps `conn` for the next read, or closes it if the reads were
    /// closed meanwhile (checked under the lock that `close` clears under,
    /// so none is kept after `close`).
    fn put_back(&self, conn: PreparedConnection, permits: &Semaphore) {
        let mut idle = self.connections.lock().unwrap_or_else(PoisonError::into_inner);
        if !permits.is_closed() {
            idle.push(conn);
        }
    }

    /// Opens a connection that refuses writes (`query_only`): the file is
    /// already created and migrated by the sqlx side, and WAL (a property
    /// of the file) lets it read while a writer commits.
    fn open(&self) -> Result<PreparedConnection, sqlx::Error> {
        sqlite::open_rusqlite(&self.path, "PRAGMA query_only = ON", STATEMENTS_CACHED_MAX)
    }
}

/// Binds `stmt`'s arguments, steps through its rows and maps each.
fn query<T>(conn: &mut PreparedConnection, stmt: &Stmt, map: MapRow<T>) -> Result<Vec<T>, sqlx::Error> {
    each_row(conn, stmt, |row, columns| map(&RowCells::new(row, columns)))
}

/// Runs `read` with SQLite's busy handler off, so a busy database fails
/// at once instead of sleeping on this thread; the handler is back on
/// after.
fn without_busy_wait<T>(
    conn: &mut PreparedConnection,
    read: impl FnOnce(&mut PreparedConnection) -> Result<T, sqlx::Error>,
) -> Result<T, sqlx::Error> {
    conn.conn.busy_timeout(Duration::ZERO).map_err(failed)?;
    let result = read(conn);
    conn.conn.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
    result
}

/// Whether SQLite answered busy: the database was locked and no busy
/// handler waited.
fn is_busy(error: &sqlx::Error) -> bool {
    let sqlx::Error::AnyDriverError(error) = error else { return false };
    let code = error.downcast_ref::<rusqlite::Error>().and_then(rusqlite::Error::sqlite_error_code);
    code == Some(rusqlite::ErrorCode::DatabaseBusy)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{DateTime, NaiveDate, Utc};
    use rust_decimal::Decimal;
    use sqlx::{Connection, SqliteConnection};
    use uuid::Uuid;

    use super::*;
    use crate::session::Cells;
    use crate::session::Session;
    use crate::stmt::{Dialect, Value};

    const TABLE: &str = "CREATE TABLE cells (id BLOB NOT NULL, maybe_id BLOB, n INTEGER NOT NULL, \
                         label TEXT NOT NULL, note TEXT, hash BLOB NOT NULL, amount INTEGER NOT NULL, \
                         fee INTEGER, balance TEXT NOT NULL, at INTEGER NOT NULL, until INTEGER, due TEXT)";

    /// One row of every kind of cell, as the mapping functions read them.
    #[derive(Debug, PartialEq)]
    struct EveryCell {
        id: Uuid,
        maybe_id: Option<Uuid>,
        n: i64,
        label: String,
        note: Option<String>,
        hash: Vec<u8>,
        amount: Decimal,
        fee: Option<Decimal>,
        balance: Decimal,
        at: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        due: Option<NaiveDate>,
    }

    fn read_cells(c: &dyn Cells) -> Result<EveryCell, sqlx::Error> {
        Ok(EveryCell {
            id: c.uuid("id")?,
            maybe_id: c.opt_uuid("maybe_id")?,
            n: c.int("n")?,
            label: c.text("label")?,
            note: c.opt_text("note")?,
            hash: c.bytes("hash")?,
            amount: c.amount("amount")?,
            fee: c.opt_amount("fee")?,
            balance: c.balance("balance")?,
            at: c.time("at")?,
            until: c.opt_time("until")?,
            due: c.opt_date("due")?,
        })
    }

    fn sample() -> EveryCell {
        let at = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        EveryCell {
            id: Uuid::now_v7(),
            maybe_id: None,
            n: -42,
            label: "Grüße".to_owned(),
            note: Some(String::new()),
            hash: vec![0, 255, 7],
            amount: Decimal::new(12_345, 4),
            fee: None,
            balance: "123456789012345678901234.5678".parse().unwrap(),
            at,
            until: Some(at),
            due: NaiveDate::from_ymd_opt(2026, 12, 31),
        }
    }

    fn insert(row: &EveryCell) -> Stmt {
        let mut s = Stmt::new(Dialect::Sqlite, "INSERT INTO cells VALUES (");
        let values = [
            Value::Uuid(row.id),
            Value::OptUuid(row.maybe_id),
            Value::Int(row.n),
            Value::Text(row.label.clone()),
            Value::OptText(row.note.clone()),
            Value::Bytes(row.hash.clone()),
            Value::Amount(row.amount),
            Value::OptAmount(row.fee),
            Value::Balance(row.balance),
            Value::Time(row.at),
            Value::OptTime(row.until),
            Value::OptDate(row.due),
        ];
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                s.push(", ");
            }
            s.bind(value);
        }
        s.push(")");
        s
    }

    fn select_all() -> Arc<Stmt> {
        Arc::new(Stmt::new(Dialect::Sqlite, "SELECT * FROM cells"))
    }

    /// A database file with the `cells` table, written through sqlx as the
    /// store's writes are.
    async fn database(rows: &[EveryCell]) -> (tempfile::TempDir, PathBuf) {
        database_journaled(rows, "WAL").await
    }

    async fn database_journaled(rows: &[EveryCell], journal_mode: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cells.db");
        let url = format!("sqlite:{}?mode=rwc", path.display());
        let mut conn = SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(&format!("PRAGMA journal_mode = {journal_mode}")).execute(&mut conn).await.unwrap();
        sqlx::query(TABLE).execute(&mut conn).await.unwrap();
        for row in rows {
            Session::execute(&mut conn, &insert(row)).await.unwrap();
        }
        conn.close().await.unwrap();
        (dir, path)
    }

    fn reads(path: PathBuf) -> SqliteReads {
        SqliteReads::new(path, 2, Duration::from_millis(200))
    }

    #[tokio::test]
    async fn every_cell_kind_reads_back_what_the_sqlx_side_wrote() {
        let written = [
            sample(),
            EveryCell {
                maybe_id: Some(Uuid::now_v7()),
                fee: Some(Decimal::ZERO),
                note: None,
                due: None,
                until: None,
                ..sample()
            },
        ];
        let (_dir, path) = database(&written).await;
        let read = reads(path).fetch(select_all(), read_cells, Reach::Scan).await.unwrap();
        assert_eq!(read, written);
    }

    #[tokio::test]
    async fn a_read_connection_refuses_to_write() {
        let (_dir, path) = database(&[]).await;
        let reads = reads(path);
        let refused = reads.fetch(Arc::new(insert(&sample())), |_| Ok(()), Reach::Scan).await;
        assert!(matches!(refused, Err(sqlx::Error::AnyDriverError(_))), "{refused:?}");
        assert!(reads.fetch(select_all(), read_cells, Reach::Scan).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_null_where_a_value_belongs_is_a_decode_error() {
        let (_dir, path) = database(&[]).await;
        let reads = reads(path);
        let stmt = Arc::new(Stmt::new(Dialect::Sqlite, "SELECT NULL AS n, 'x' AS label"));
        let null = reads.fetch(Arc::clone(&stmt), |c| c.int("n"), Reach::Scan).await;
        assert!(matches!(null, Err(sqlx::Error::Decode(_))), "{null:?}");
        let wrong_kind = reads.fetch(Arc::clone(&stmt), |c| c.int("label"), Reach::Scan).await;
        assert!(matches!(wrong_kind, Err(sqlx::Error::Decode(_))), "{wrong_kind:?}");
        let missing = reads.fetch(stmt, |c| c.text("nowhere"), Reach::Scan).await;
        assert!(matches!(missing, Err(sqlx::Error::ColumnNotFound(ref c)) if c == "nowhere"), "{missing:?}");
    }

    #[tokio::test]
    async fn a_closed_pool_refuses_reads() {
        let (_dir, path) = database(&[sample()]).await;
        let reads = reads(path);
        assert_eq!(reads.fetch(select_all(), read_cells, Reach::Scan).await.unwrap().len(), 1);
        reads.close().await;
        assert!(reads.pool.connections.lock().unwrap().is_empty(), "idle connections are closed");
        let refused = reads.fetch(select_all(), read_cells, Reach::Scan).await;
        assert!(matches!(refused, Err(sqlx::Error::PoolClosed)), "{refused:?}");
    }

    #[tokio::test]
    async fn closing_waits_for_the_reads_in_flight() {
        let (_dir, path) = database(&[sample()]).await;
        let reads = reads(path);
        assert_eq!(reads.fetch(select_all(), read_cells, Reach::Scan).await.unwrap().len(), 1);
        let in_flight = reads.permits.acquire().await.unwrap();
        let close = reads.close();
        tokio::pin!(close);
        let early = tokio::time::timeout(Duration::from_millis(50), &mut close).await;
        assert!(early.is_err(), "close returned while a read was in flight");
        drop(in_flight);
        close.await;
        assert!(reads.pool.connections.lock().unwrap().is_empty());
        let refused = reads.fetch(select_all(), read_cells, Reach::Scan).await;
        assert!(matches!(refused, Err(sqlx::Error::PoolClosed)), "{refused:?}");
        reads.close().await;
    }

    #[tokio::test]
    async fn a_read_waits_for_a_free_connection_then_times_out() {
        let (_dir, path) = database(&[sample()]).await;
        let reads = reads(path);
        let all = reads.permits.acquire_many(2).await.unwrap();
        let waited = reads.fetch(select_all(), read_cells, Reach::Scan).await;
        assert!(matches!(waited, Err(sqlx::Error::PoolTimedOut)), "{waited:?}");
        drop(all);
        assert_eq!(reads.fetch(select_all(), read_cells, Reach::Scan).await.unwrap().len(), 1);
    }

    /// The thread the last row was mapped on.
    static MAPPED_ON: Mutex<Option<std::thread::ThreadId>> = Mutex::new(None);
    /// Held by each test that reads [`MAPPED_ON`], so they take turns.
    static MAPPING_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    fn read_cells_noting_the_thread(c: &dyn Cells) -> Result<EveryCell, sqlx::Error> {
        *MAPPED_ON.lock().unwrap() = Some(std::thread::current().id());
        read_cells(c)
    }

    fn mapped_here() -> bool {
        MAPPED_ON.lock().unwrap().take() == Some(std::thread::current().id())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_point_read_runs_on_the_calling_thread_once_a_connection_is_idle() {
        let _turn = MAPPING_TESTS.lock().await;
        let (_dir, path) = database(&[sample()]).await;
        let reads = reads(path);
        let first = reads.fetch(select_all(), read_cells_noting_the_thread, Reach::Point).await.unwrap();
        assert_eq!(first.len(), 1);
        assert!(!mapped_here(), "the first read opens its connection on a blocking thread");
        let second = reads.fetch(select_all(), read_cells_noting_the_thread, Reach::Point).await.unwrap();
        assert_eq!(second, first);
        assert!(mapped_here(), "an idle connection reads on the calling thread");
        let scan = reads.fetch(select_all(), read_cells_noting_the_thread, Reach::Scan).await.unwrap();
        assert_eq!(scan, first);
        assert!(!mapped_here(), "a scan runs on a blocking thread");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_point_read_of_a_locked_database_waits_off_the_calling_thread() {
        let _turn = MAPPING_TESTS.lock().await;
        // A WAL reader meets busy rarely and never on demand; in a
        // rollback-journal file a writer's exclusive lock stages it.
        let (_dir, path) = database_journaled(&[sample()], "DELETE").await;
        let reads = reads(path.clone());
        let written = reads.fetch(select_all(), read_cells, Reach::Point).await.unwrap();
        let holder = rusqlite::Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let started = std::time::Instant::now();
        // The only thread of this runtime releases the lock, so the read
        // finishes only if it left the thread free while it waited.
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(holder);
        });
        let read = reads.fetch(select_all(), read_cells_noting_the_thread, Reach::Point).await.unwrap();
        assert_eq!(read, written);
        assert!(!mapped_here(), "a busy point read goes to a blocking thread");
        assert!(started.elapsed() < BUSY_TIMEOUT / 2, "the read waited {:?}", started.elapsed());
        release.await.unwrap();
        let again = reads.fetch(select_all(), read_cells_noting_the_thread, Reach::Point).await.unwrap();
        assert_eq!(again, read);
        assert!(mapped_here(), "the connection is back, its busy handler too");
    }
}
