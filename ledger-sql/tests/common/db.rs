//! One case on both databases: the `Db` a case gets (SQLite, or PostgreSQL
//! on a fresh schema), raw SQL against it, and the `on_both!` macro that
//! makes one test per database.

use std::str::FromStr;
use std::sync::Arc;

use ledger_sql::{SqlOptions, SqlStore};
use sqlx::Connection;

/// Which database a case runs on, and how to reach it with raw SQL.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite { url: String },
    Postgres { url: String, schema: String },
}

impl Db {
    pub fn sqlite() -> Db {
        Db::Sqlite { url: super::fresh_sqlite_url() }
    }

    pub async fn postgres() -> Option<Db> {
        let url = super::postgres_url("PostgreSQL identity tests")?;
        let schema = super::fresh_schema(&url).await;
        Some(Db::Postgres { url, schema })
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres { .. })
    }

    pub async fn store(&self) -> Arc<SqlStore> {
        let store = match self {
            Db::Sqlite { url } => SqlStore::connect_with(url, SqlOptions::default().max_connections(5)).await,
            Db::Postgres { url, schema } => SqlStore::connect_with(url, super::test_options(schema)).await,
        };
        Arc::new(store.expect("opening the store"))
    }

    /// Runs raw SQL statements, returning the first failure's message.
    pub async fn raw(&self, statements: &[String]) -> Result<(), String> {
        match self {
            Db::Sqlite { url } => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query("PRAGMA foreign_keys = ON").execute(&mut conn).await.unwrap();
                for sql in statements {
                    sqlx::query(sql).execute(&mut conn).await.map_err(|e| e.to_string())?;
                }
            }
            Db::Postgres { url, schema } => {
                let mut conn = pg_connection(url, schema).await;
                for sql in statements {
                    sqlx::query(sql).execute(&mut conn).await.map_err(|e| e.to_string())?;
                }
            }
        }
        Ok(())
    }

    /// A one-column text query.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        match self {
            Db::Sqlite { url } => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
            Db::Postgres { url, schema } => {
                let mut conn = pg_connection(url, schema).await;
                let query = sqlx::query_scalar(sql);
                let query = if sql.contains("$1") { query.bind(schema) } else { query };
                query.fetch_all(&mut conn).await.unwrap()
            }
        }
    }

    /// The plan of a query, one line per node.
    pub async fn plan(&self, sql: &str) -> String {
        use sqlx::Row;
        let lines: Vec<String> = match self {
            Db::Sqlite { url } => {
                let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
                let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}")).fetch_all(&mut conn).await.unwrap();
                rows.iter().map(|r| r.get("detail")).collect()
            }
            Db::Postgres { url, schema } => {
                let mut conn = pg_connection(url, schema).await;
                // A handful of rows: make the planner show which index it can use.
                sqlx::query("SET enable_seqscan = off").execute(&mut conn).await.unwrap();
                let rows = sqlx::query(&format!("EXPLAIN {sql}")).fetch_all(&mut conn).await.unwrap();
                rows.iter().map(|r| r.get("QUERY PLAN")).collect()
            }
        };
        lines.join("\n")
    }

    /// The schema's recorded migration versions.
    pub async fn versions(&self) -> Vec<String> {
        self.strings("SELECT CAST(version AS TEXT) FROM _sqlx_migrations ORDER BY version").await
    }
}

pub async fn pg_connection(url: &str, schema: &str) -> sqlx::PgConnection {
    let options = sqlx::postgres::PgConnectOptions::from_str(url).unwrap().options([("search_path", schema)]);
    sqlx::PgConnection::connect_with(&options).await.unwrap()
}

/// One `#[tokio::test]` per database for an `async fn(Db)` case.
#[allow(unused_macros)]
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$case(super::Db::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = super::Db::postgres().await else { return };
                super::$case(db).await;
            }
        }
    )*};
}
