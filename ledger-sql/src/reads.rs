//! How the [`Store`](ledger_core::Store) reads run: one statement on a
//! pooled connection, its rows mapped to the domain (the statements are in
//! `queries.rs`, the mapping in `row.rs`).

use chrono::{DateTime, Utc};
use ledger_core::{AccountId, HistoryFilter, PostingRange, StorageError, Store};
use sqlx::{Database, Pool};

use crate::error::storage_error;
use crate::queries;
use crate::session::{Cells, Session};
use crate::stmt::{Dialect, Stmt};
use crate::store::{Inner, SqlStore};

/// Maps one result row.
pub(crate) type MapRow<T> = fn(&dyn Cells) -> Result<T, sqlx::Error>;

/// How far a read reaches, which decides where SQLite runs it
/// (`sqlite_reads.rs`); PostgreSQL runs every read alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// One row found by its key: may run on the calling thread.
    Point,
    /// Any other read: on a blocking thread.
    Scan,
}

impl SqlStore {
    /// The database's plan for the query [`Store::transactions`] runs with
    /// these arguments (PostgreSQL `EXPLAIN`, SQLite `EXPLAIN QUERY PLAN`),
    /// one line per plan node: for checking that history reads use their
    /// indexes on real data.
    pub async fn explain_transactions(
        &self,
        filter: &HistoryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<String, StorageError> {
        self.explain(queries::history(self.dialect(), filter, before, limit)).await
    }

    /// The database's plan for [`Store::posting_as_of`]: for checking that a
    /// balance as of an instant is one index seek.
    pub async fn explain_posting_as_of(&self, account: AccountId, at: DateTime<Utc>) -> Result<String, StorageError> {
        self.explain(queries::posting_as_of(self.dialect(), account, at)).await
    }

    /// The database's plan for [`Store::postings_in`] (balance history).
    pub async fn explain_postings_in(&self, range: &PostingRange, limit: usize) -> Result<String, StorageError> {
        self.explain(queries::postings_in(self.dialect(), range, limit)).await
    }

    /// One line per plan node of a read.
    async fn explain(&self, query: Stmt) -> Result<String, StorageError> {
        let (prefix, column): (&str, &str) = match self.dialect() {
            Dialect::Postgres => ("EXPLAIN ", "QUERY PLAN"),
            Dialect::Sqlite => ("EXPLAIN QUERY PLAN ", "detail"),
        };
        let explain = query.prefixed(prefix);
        let lines = match &self.inner {
            #[cfg(feature = "postgres")]
            Inner::Postgres(b) => fetch_column(b.pool(), &explain, column).await,
            #[cfg(feature = "sqlite")]
            Inner::Sqlite(b) => fetch_column(b.pool(), &explain, column).await,
        };
        Ok(lines.map_err(|e| storage_error(self.backend(), "explaining a query", e))?.join("\n"))
    }

    /// Runs one read on a pooled connection and maps its rows. A read
    /// changes nothing, so one that met a failover (a connection the dead
    /// primary left in the pool, a node not yet accepting) runs again, with
    /// the same bounded backoff as a commit, before it reports the storage
    /// out of reach.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        context: &str,
        stmt: Stmt,
        map: MapRow<T>,
    ) -> Result<Vec<T>, StorageError> {
        self.read_reaching(context, stmt, map, Reach::Scan).await
    }

    /// Reads the one row a key names (an id, a unique column), or none: a
    /// point read, which SQLite may run on the calling thread.
    pub(crate) async fn read_one<T: Send + 'static>(
        &self,
        context: &str,
        stmt: Stmt,
        map: MapRow<T>,
    ) -> Result<Option<T>, StorageError> {
        Ok(self.read_reaching(context, stmt, map, Reach::Point).await?.into_iter().next())
    }

    #[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
    async fn read_reaching<T: Send + 'static>(
        &self,
        context: &str,
        stmt: Stmt,
        map: MapRow<T>,
        reach: Reach,
    ) -> Result<Vec<T>, StorageError> {
        let stmt = std::sync::Arc::new(stmt);
        let run = || async {
            match &self.inner {
                #[cfg(feature = "postgres")]
                Inner::Postgres(b) => fetch(b.pool(), &stmt, map).await,
                #[cfg(feature = "sqlite")]
                Inner::Sqlite(b) => b.reads().fetch(std::sync::Arc::clone(&stmt), map, reach).await,
            }
        };
        let result = crate::apply::with_retries(context, crate::error::transient, run).await;
        result.map_err(|e| storage_error(self.backend(), context, e))
    }
}

#[cfg(feature = "postgres")]
async fn fetch<DB, T>(pool: &Pool<DB>, stmt: &Stmt, map: MapRow<T>) -> Result<Vec<T>, sqlx::Error>
where
    DB: Database,
    DB::Connection: Session,
{
    let mut conn = pool.acquire().await?;
    let rows = conn.fetch(stmt).await?;
    rows.iter().map(|r| map(r)).collect()
}

async fn fetch_column<DB>(pool: &Pool<DB>, stmt: &Stmt, column: &str) -> Result<Vec<String>, sqlx::Error>
where
    DB: Database,
    DB::Connection: Session,
{
    let mut conn = pool.acquire().await?;
    conn.fetch(stmt).await?.iter().map(|r| r.text(column)).collect()
}
