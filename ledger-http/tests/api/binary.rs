//! The real binary: starts on port 0, prints its address, serves, and stops
//! cleanly (exit 0) on SIGTERM; with sled, data survives a restart.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::Server;

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_health_and_stops_cleanly_on_sigterm() {
    let server = Server::start(&["--storage", "memory:"], &[]);
    let r = client().get(format!("{}/health", server.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["storage"], "memory");
    let r = client().get(format!("{}/nope", server.url)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_storage_survives_a_restart_and_the_admin_is_bootstrapped() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sled:{}", dir.path().join("data").display());
    restart_keeps_data(&storage, "sled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_storage_survives_a_restart_and_the_admin_is_bootstrapped() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite:{}", dir.path().join("ledger.db").display());
    restart_keeps_data(&storage, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_storage_survives_a_restart_and_the_admin_is_bootstrapped() {
    let Ok(url) = std::env::var("LEDGER_TEST_POSTGRES_URL") else {
        eprintln!("skipped: ledger-http on PostgreSQL (set LEDGER_TEST_POSTGRES_URL to run)");
        return;
    };
    restart_keeps_data(&url, "postgres").await;
}

/// Runs the binary on `storage`: bootstraps an admin, opens an account,
/// credits it through the signed webhook, stops; restarts on the same
/// storage and finds the session and the money.
async fn restart_keeps_data(storage: &str, backend: &str) {
    // Unique per run, so a shared PostgreSQL database can host many runs.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let admin = format!("root{nanos}@example.com");
    let envs = [
        ("LEDGER_STORAGE", storage),
        ("LEDGER_BOOTSTRAP_ADMIN_EMAIL", admin.as_str()),
        ("LEDGER_BOOTSTRAP_ADMIN_PASSWORD", "a long admin passphrase"),
        ("LEDGER_WEBHOOK_SECRET", "whsec_binary"),
    ];
    let http = client();
    let server = Server::start(&[], &envs);
    let r = http.get(format!("{}/health", server.url)).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["storage"], backend);
    let login = json!({"email": admin, "password": "a long admin passphrase"});
    let r = http.post(format!("{}/api/auth/login", server.url)).json(&login).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let r = http
        .post(format!("{}/api/accounts", server.url))
        .bearer_auth(&token)
        .json(&json!({"kind": "savings", "currency": "GBP"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let account = r.json::<Value>().await.unwrap();
    let number = account["number"].as_str().unwrap().to_owned();
    // Credit it through the signed webhook of the real binary.
    let event = json!({"id": format!("evt-{nanos}"), "type": "deposit.settled", "account_number": number, "amount": "12.34", "currency": "GBP"}).to_string();
    let signature =
        ledger_http::routes::webhook::sign(b"whsec_binary", chrono::Utc::now().timestamp(), event.as_bytes());
    let r = http
        .post(format!("{}/api/webhooks/transactions", server.url))
        .header("ledger-signature", signature)
        .header("content-type", "application/json")
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(server.terminate().success());

    // Restarted on the same storage: the admin (not created twice), the session and the money are there.
    let server = Server::start(&[], &envs);
    let r = http.get(format!("{}/api/accounts", server.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let accounts = r.json::<Value>().await.unwrap();
    assert_eq!(accounts["items"][0]["balance"]["available"], "12.34");
    assert!(server.terminate().success());
}

/// Two binaries on one PostgreSQL database: a stream open on A hears a
/// deposit credited through B (LISTEN/NOTIFY wired by the real startup).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_binaries_share_live_events() {
    let Ok(url) = std::env::var("LEDGER_TEST_POSTGRES_URL") else {
        eprintln!("skipped: live events across two binaries on PostgreSQL (set LEDGER_TEST_POSTGRES_URL to run)");
        return;
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let admin = format!("events{nanos}@example.com");
    let envs = [
        ("LEDGER_STORAGE", url.as_str()),
        ("LEDGER_BOOTSTRAP_ADMIN_EMAIL", admin.as_str()),
        ("LEDGER_BOOTSTRAP_ADMIN_PASSWORD", "a long admin passphrase"),
        ("LEDGER_WEBHOOK_SECRET", "whsec_binary"),
    ];
    let http = client();
    let a = Server::start(&[], &envs);
    let b = Server::start(&[], &envs);
    let login = json!({"email": admin, "password": "a long admin passphrase"});
    let r = http.post(format!("{}/api/auth/login", b.url)).json(&login).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let r = http
        .post(format!("{}/api/accounts", b.url))
        .bearer_auth(&token)
        .json(&json!({"kind": "savings", "currency": "GBP"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let account = r.json::<Value>().await.unwrap();
    let (id, number) = (account["id"].as_str().unwrap().to_owned(), account["number"].as_str().unwrap().to_owned());

    let mut events = http.get(format!("{}/api/events", a.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(events.status(), 200);

    let event = json!({"id": format!("evt-live-{nanos}"), "type": "deposit.settled", "account_number": number, "amount": "5.50", "currency": "GBP"}).to_string();
    let signature =
        ledger_http::routes::webhook::sign(b"whsec_binary", chrono::Utc::now().timestamp(), event.as_bytes());
    let r = http
        .post(format!("{}/api/webhooks/transactions", b.url))
        .header("ledger-signature", signature)
        .header("content-type", "application/json")
        .body(event)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.split("\n\n").any(|f| f.contains("event: balance") && f.contains(&id) && f.contains("\"5.50\"")) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "the balance event did not reach A: {seen}");
    drop(events);
    assert!(a.terminate().success());
    assert!(b.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_without_pg_notify_commits_and_has_no_shared_event_source() {
    let Ok(url) = std::env::var("LEDGER_TEST_POSTGRES_URL") else {
        eprintln!("skipped: ledger-http on PostgreSQL without pg_notify (set LEDGER_TEST_POSTGRES_URL to run)");
        return;
    };
    let parsed: ledger_http::storage::StorageUrl = url.parse().unwrap();
    let opened = ledger_http::storage::open(&parsed, false).await.unwrap();
    assert!(opened.event_source().await.unwrap().is_none(), "no LISTEN without pg_notify");
    let opened = ledger_http::storage::open(&parsed, true).await.unwrap();
    assert!(opened.event_source().await.unwrap().is_some());
    // The real binary accepts the switch and serves on PostgreSQL.
    let server = Server::start(&["--storage", &url, "--no-pg-notify"], &[]);
    let r = client().get(format!("{}/health", server.url)).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["storage"], "postgres");
    assert!(server.terminate().success());
}
