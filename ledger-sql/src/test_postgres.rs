//! The crate's own tests' PostgreSQL: the server `LEDGER_TEST_POSTGRES_URL`
//! names (tests skip, saying so, without it) and a new schema per case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sqlx::Connection;

/// The variable naming the test server.
const URL_VAR: &str = "LEDGER_TEST_POSTGRES_URL";

/// The test server's URL, or `None` after printing that `what` is skipped.
pub(crate) fn url(what: &str) -> Option<String> {
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("skipped: {what} (set {URL_VAR} to run)");
    }
    url
}

/// The test server's URL and a new, empty schema on it (its name), or
/// `None` after printing that `what` is skipped.
pub(crate) async fn fresh_schema(what: &str) -> Option<(String, String)> {
    let url = url(what)?;
    let schema = format!("ledger_t_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    Some((url, schema))
}
