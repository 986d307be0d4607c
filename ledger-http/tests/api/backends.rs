//! The journey of two users and the cross-user isolation checks, over HTTP
//! against the real binary on each backend: memory, SQLite (a temporary
//! file) and PostgreSQL (`LEDGER_TEST_POSTGRES_URL`; emails are unique per
//! run, so a shared database can host many runs).

use crate::common::{Client, PASSWORD, Server, unique};
use crate::journey::two_users_journey;
use crate::security::isolation::cross_user_isolation;
use crate::security::review::out_of_range_query_parameters_are_refused;

/// Starts the binary on `storage` with a bootstrapped admin and no rate
/// limit, runs both scenarios (each with its own users) and stops it cleanly.
async fn scenarios_on(storage: &str, backend: &str) {
    let admin = format!("root-{}@example.com", unique());
    let server = Server::start(
        &["--storage", storage, "--rate-limit-per-second", "0"],
        &[("LEDGER_BOOTSTRAP_ADMIN_EMAIL", admin.as_str()), ("LEDGER_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)],
    );
    let client = Client::http(&server.url, &admin);
    let health = client.get("/health").send().await.json();
    assert_eq!(health["storage"], backend, "{health}");
    two_users_journey(&client).await;
    cross_user_isolation(&Client::http(&server.url, &admin)).await;
    out_of_range_query_parameters_are_refused(&Client::http(&server.url, &admin)).await;
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_and_isolation_over_http_on_memory() {
    scenarios_on("memory:", "memory").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_and_isolation_over_http_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite:{}", dir.path().join("ledger.db").display());
    scenarios_on(&storage, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_and_isolation_over_http_on_postgres() {
    let Ok(url) = std::env::var("LEDGER_TEST_POSTGRES_URL") else {
        eprintln!("skipped: ledger-http on PostgreSQL (set LEDGER_TEST_POSTGRES_URL to run)");
        return;
    };
    scenarios_on(&url, "postgres").await;
}
