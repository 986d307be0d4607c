//! How the [`Store`](ledger_core::Store) reads run: one statement on a
//! pooled connection, its rows mapped to the domain (the statements are in
//! `queries.rs`, the mapping in `row.rs`).

use ledger_core::{StorageError, Store};
use sqlx::{Database, Pool};

use crate::error::storage_error;
use crate::session::{Cells, Session};
use crate::stmt::Stmt;
use crate::store::{Inner, MapRow, SqlStore};

impl SqlStore {
    /// Runs one read on a pooled connection and maps its rows.
    pub(crate) async fn read<T>(&self, context: &str, stmt: Stmt, map: MapRow<T>) -> Result<Vec<T>, StorageError> {
        let result = match &self.inner {
            Inner::Postgres(b) => fetch(b.pool(), &stmt, map).await,
            Inner::Sqlite(b) => fetch(b.pool(), &stmt, map).await,
        };
        result.map_err(|e| storage_error(self.backend(), context, e))
    }

    pub(crate) async fn read_one<T>(
        &self,
        context: &str,
        stmt: Stmt,
        map: MapRow<T>,
    ) -> Result<Option<T>, StorageError> {
        Ok(self.read(context, stmt, map).await?.into_iter().next())
    }
}

async fn fetch<DB, T>(pool: &Pool<DB>, stmt: &Stmt, map: MapRow<T>) -> Result<Vec<T>, sqlx::Error>
where
    DB: Database,
    DB::Connection: Session,
{
    let mut conn = pool.acquire().await?;
    let rows = conn.fetch(stmt).await?;
    rows.iter().map(|r| map(r)).collect()
}

pub(crate) async fn fetch_column<DB>(pool: &Pool<DB>, stmt: &Stmt, column: &str) -> Result<Vec<String>, sqlx::Error>
where
    DB: Database,
    DB::Connection: Session,
{
    let mut conn = pool.acquire().await?;
    conn.fetch(stmt).await?.iter().map(|r| r.text(column)).collect()
}
