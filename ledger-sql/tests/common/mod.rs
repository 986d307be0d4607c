//! Helpers shared by the integration tests: fresh, isolated databases.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
pub mod db;
pub mod people;

use std::time::Duration;

use ledger_sql::{SqlOptions, SqlStore};
use sqlx::Connection;

/// The PostgreSQL server tests run against, if the environment names one.
pub const POSTGRES_URL_VAR: &str = "LEDGER_TEST_POSTGRES_URL";

/// The PostgreSQL URL, or `None` after printing why the caller skips.
pub fn postgres_url(what: &str) -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: {what} (set {POSTGRES_URL_VAR} to run)");
            None
        }
    }
}

/// Creates a new, empty schema and returns its name: every test gets its own
/// tables, so tests run in parallel against one database.
pub async fn fresh_schema(url: &str) -> String {
    let schema = format!("ledger_t_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connecting to the test PostgreSQL");
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.expect("creating a test schema");
    conn.close().await.expect("closing the setup connection");
    schema
}

/// Pool options for tests: small pools (tests run in parallel and the
/// server allows about a hundred connections), on `schema`.
pub fn test_options(schema: &str) -> SqlOptions {
    SqlOptions::default().max_connections(5).connect_timeout(Duration::from_secs(30)).schema(Some(schema.to_owned()))
}

/// A store on a fresh schema.
pub async fn fresh_postgres_store(url: &str) -> SqlStore {
    let schema = fresh_schema(url).await;
    SqlStore::connect_with(url, test_options(&schema)).await.expect("opening the PostgreSQL store")
}

/// A `sqlite:` URL of a new database file in a temporary directory that is
/// kept (tests may reopen it, or a child process may write to it).
pub fn fresh_sqlite_url() -> String {
    let dir = tempfile::Builder::new().prefix("ledger-sql-test").tempdir().expect("a temporary directory").keep();
    format!("sqlite:{}", dir.join("ledger.db").display())
}
