//! SQLite's `apply` on one rusqlite connection: a whole call, `BEGIN
//! IMMEDIATE` to `COMMIT`, runs on one blocking thread.
//!
//! On sqlx every statement of a call was a hand-off to the connection's
//! worker thread and back (a transfer is some fifteen statements), and the
//! call held the write lock, and this process's write gate, through all
//! of them: on a two-core machine under load each hand-off waits for a core
//! twice, so the gate's queue, and every writer's latency, grew with them.
//! Here the statements run back to back on the thread that holds the lock.
//!
//! The apply loop is shared async code ([`apply::apply_in`] over a
//! [`Session`]); on this connection every statement completes before its
//! future is first polled, so the loop runs to its end in one poll
//! ([`run_to_completion`]) and never waits for anything but SQLite.
//!
//! One connection serves every call of this process (they queue on the
//! write gate in `sqlite.rs` first); it opens on first use and is dropped,
//! to be opened again, whenever a failure leaves it inside a transaction.

use std::future::Future;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use ledger_core::{BatchOutcome, WriteBatch};
use rusqlite::Connection;

use crate::apply::{self, CallFailed};
use crate::session::Session;
use crate::sqlite::BEGIN;
use crate::sqlite_cells::{OwnedRow, PreparedConnection, each_row, failed, prepared};
use crate::stmt::{Dialect, Stmt};

/// Prepared statements kept on the write connection: the write steps'
/// distinct statements (a batch of any size uses a few shapes of each).
const STATEMENTS_CACHED_MAX: usize = 128;

/// The connection every `apply` call of this process runs on.
#[derive(Debug)]
pub(crate) struct SqliteWriter {
    shared: Arc<Shared>,
}

/// What a call's blocking thread needs: where the file is and the
/// connection between calls.
#[derive(Debug)]
struct Shared {
    path: PathBuf,
    slot: Mutex<Slot>,
}

/// The connection between calls.
#[derive(Debug)]
enum Slot {
    /// `None` before the first call and after a failure left the
    /// connection inside a transaction (it was dropped).
    Open(Option<PreparedConnection>),
    /// After [`SqliteWriter::close`]: calls fail.
    Closed,
}

impl SqliteWriter {
    /// Writes to the database at `path` (created and migrated already).
    pub(crate) fn new(path: PathBuf) -> SqliteWriter {
        SqliteWriter { shared: Arc::new(Shared { path, slot: Mutex::new(Slot::Open(None)) }) }
    }

    /// Runs one storage transaction over `batches` on a blocking thread;
    /// fails with `PoolClosed` after [`SqliteWriter::close`]. The caller
    /// holds the write gate, so no two calls run at once.
    pub(crate) async fn transact(&self, batches: Arc<[WriteBatch]>) -> Result<Vec<BatchOutcome>, CallFailed> {
        let shared = Arc::clone(&self.shared);
        let joined = tokio::task::spawn_blocking(move || {
            let kept = shared.take().map_err(CallFailed::before_commit)?;
            let mut conn = kept.map_or_else(|| open(&shared.path), Ok).map_err(CallFailed::before_commit)?;
            let result = transact_on(&mut conn, &batches);
            // Kept only outside any transaction.
            if conn.conn.is_autocommit() {
                shared.put_back(conn);
            }
            result
        });
        joined.await.map_err(|_| CallFailed::before_commit(sqlx::Error::WorkerCrashed))?
    }

    /// Closes the connection; later calls fail. The caller holds the write
    /// gate, so no call is in flight but one whose caller stopped waiting,
    /// which closes its connection when it finishes.
    pub(crate) fn close(&self) {
        *self.shared.lock() = Slot::Closed;
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection kept from the last call, if any; `PoolClosed` after
    /// `close`.
    fn take(&self) -> Result<Option<PreparedConnection>, sqlx::Error> {
        match &mut *self.lock() {
            Slot::Open(kept) => Ok(kept.take()),
            Slot::Closed => Err(sqlx::Error::PoolClosed),
        }
    }

    /// Keeps `conn` for the next call, or closes it if `close` came first.
    fn put_back(&self, conn: PreparedConnection) {
        if let Slot::Open(kept) = &mut *self.lock() {
            *kept = Some(conn);
        }
    }
}

/// Opens the write connection with the settings sqlx gives its own
/// (`sqlite.rs`): every commit synced, foreign keys on, and the busy
/// handler waiting for another process's writer.
fn open(path: &std::path::Path) -> Result<PreparedConnection, sqlx::Error> {
    let pragmas = "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON";
    crate::sqlite::open_rusqlite(path, pragmas, STATEMENTS_CACHED_MAX)
}

/// `BEGIN IMMEDIATE`, the apply loop, `COMMIT`; on a failure the
/// transaction is rolled back (or, if that fails too, left to the
/// connection's drop).
fn transact_on(conn: &mut PreparedConnection, batches: &[WriteBatch]) -> Result<Vec<BatchOutcome>, CallFailed> {
    conn.conn.execute_batch(BEGIN).map_err(failed).map_err(CallFailed::before_commit)?;
    let applied = run_to_completion(apply::apply_in(&mut WriteSession { conn: &mut *conn }, batches, None));
    let outcomes = match applied {
        Ok(outcomes) => outcomes,
        Err(error) => {
            roll_back(&conn.conn);
            return Err(CallFailed::before_commit(error));
        }
    };
    if let Err(error) = conn.conn.execute_batch("COMMIT") {
        roll_back(&conn.conn);
        return Err(CallFailed { error: failed(error), at_commit: true });
    }
    Ok(outcomes)
}

fn roll_back(conn: &Connection) {
    if !conn.is_autocommit() {
        // A failed rollback leaves the transaction open: the caller then
        // drops the connection, which rolls it back.
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Polls `future` once, which is enough for the apply loop on a
/// [`WriteSession`]: its statements never wait. A future that does wait is
/// a bug in this module, reported as an error rather than a hang.
fn run_to_completion<T>(future: impl Future<Output = Result<T, sqlx::Error>>) -> Result<T, sqlx::Error> {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(sqlx::Error::Protocol("the apply loop waited on a synchronous SQLite connection".into())),
    }
}

/// The write connection inside a call's transaction.
struct WriteSession<'c> {
    conn: &'c mut PreparedConnection,
}

#[async_trait]
impl Session for WriteSession<'_> {
    const DIALECT: Dialect = Dialect::Sqlite;
    type Row = OwnedRow;

    async fn fetch(&mut self, stmt: &Stmt) -> Result<Vec<OwnedRow>, sqlx::Error> {
        each_row(self.conn, stmt, OwnedRow::copied)
    }

    async fn execute(&mut self, stmt: &Stmt) -> Result<u64, sqlx::Error> {
        let mut statement = prepared(&self.conn.conn, stmt)?;
        // Stepped to its end, rows or not, as sqlx's `execute` does.
        let mut rows = statement.raw_query();
        while rows.next().map_err(failed)?.is_some() {}
        drop(rows);
        Ok(self.conn.conn.changes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use ledger_core::{
        AccountKind, Actor, Amount, Currency, Deposit, IdempotencyKey, Ledger, LedgerError, OpenAccount,
        StorageErrorKind, UserId,
    };

    use super::*;
    use crate::SqlStore;
    use crate::store::Inner;

    /// A store on a fresh file, the ledger on it and the file's path.
    async fn ledger() -> (Ledger, Arc<SqlStore>, PathBuf, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let store = Arc::new(SqlStore::connect(&format!("sqlite:{}", path.display())).await.unwrap());
        let ledger = Ledger::builder(store.clone()).open().await.unwrap();
        (ledger, store, path, dir)
    }

    fn deposit(account: ledger_core::AccountId, amount: &str, description: &str) -> Deposit {
        let amount = Amount::parse(amount).unwrap();
        Deposit { account, amount, description: Some(description.into()), metadata: Default::default() }
    }

    async fn posted(ledger: &Ledger, account: ledger_core::AccountId) -> rust_decimal::Decimal {
        ledger.account(&Actor::System, account).await.unwrap().balance.posted
    }

    async fn opened_account(ledger: &Ledger) -> ledger_core::AccountId {
        let open = OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
        ledger.open_account(&Actor::System, open).await.unwrap().id
    }

    fn writer(store: &SqlStore) -> &SqliteWriter {
        let Inner::Sqlite(b) = store.inner() else { unreachable!("a SQLite store") };
        b.writer()
    }

    #[tokio::test]
    async fn a_write_sqlite_refuses_rolls_back_whole_and_the_next_call_commits() {
        let (ledger, store, path, _dir) = ledger().await;
        let account = opened_account(&ledger).await;
        let poison = rusqlite::Connection::open(&path).unwrap();
        poison
            .execute_batch(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON transactions WHEN NEW.description = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'refused by a test'); END",
            )
            .unwrap();
        let key = IdempotencyKey::new("poisoned").unwrap();
        let refused = ledger.deposit(&Actor::System, key.clone(), deposit(account, "5", "poison")).await;
        assert!(matches!(&refused, Err(LedgerError::Storage(e)) if e.kind == StorageErrorKind::Refused), "{refused:?}");
        assert_eq!(posted(&ledger, account).await, rust_decimal::Decimal::ZERO, "nothing of it applied");
        let kept_outside_a_transaction =
            matches!(&*writer(&store).shared.lock(), Slot::Open(Some(conn)) if conn.conn.is_autocommit());
        assert!(kept_outside_a_transaction, "the connection is back, outside any transaction");
        ledger.deposit(&Actor::System, key, deposit(account, "5", "honest")).await.unwrap();
        assert_eq!(posted(&ledger, account).await, rust_decimal::Decimal::from(5));
    }

    #[tokio::test]
    async fn a_call_waits_for_another_connections_write_lock_then_commits() {
        let (ledger, _store, path, _dir) = ledger().await;
        let account = opened_account(&ledger).await;
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            other.execute_batch("COMMIT").unwrap();
        });
        let key = IdempotencyKey::new("behind-another-writer").unwrap();
        ledger.deposit(&Actor::System, key, deposit(account, "2", "waited")).await.unwrap();
        assert!(release.is_finished(), "the call committed while another connection held the write lock");
        assert_eq!(posted(&ledger, account).await, rust_decimal::Decimal::from(2));
    }

    #[tokio::test]
    async fn a_closed_store_refuses_writes() {
        let (ledger, store, _path, _dir) = ledger().await;
        let open = OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
        ledger.open_account(&Actor::System, open.clone()).await.unwrap();
        store.close().await;
        assert!(matches!(*writer(&store).shared.lock(), Slot::Closed), "the connection is closed");
        let refused = ledger.open_account(&Actor::System, open).await;
        assert!(matches!(refused, Err(LedgerError::Storage(_))), "{refused:?}");
    }

    #[test]
    fn a_future_that_waits_is_an_error_not_a_hang() {
        let waits = std::future::pending::<Result<(), sqlx::Error>>();
        assert!(matches!(run_to_completion(waits), Err(sqlx::Error::Protocol(_))));
        assert!(matches!(run_to_completion(async { Ok::<_, sqlx::Error>(7) }), Ok(7)));
    }
}
