//! The real binary: starts on port 0, prints its address, serves, and stops
//! cleanly (exit 0) on SIGTERM; on every store, and on the default store
//! in `./ledger-data` when no `--storage` is given, data survives a restart.

use std::time::Duration;

use axum::http::StatusCode;
use ledger_http::routes::webhook::sign;
use serde_json::{Value, json};

use crate::common::{Client, FreshDatabase, PASSWORD, Server, unique};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_storage_flag_the_store_is_sqlite_in_ledger_data_and_survives_a_restart() {
    let cwd = tempfile::tempdir().unwrap();
    restart_keeps_data_in(Some(cwd.path()), None, "sqlite").await;
    assert!(cwd.path().join("ledger-data").join("ledger.sqlite3").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_storage_flag_a_sled_store_already_in_ledger_data_is_served() {
    let cwd = tempfile::tempdir().unwrap();
    // The default before SQLite: data written there is still found.
    drop(ledger_sled::SledStore::open(cwd.path().join("ledger-data")).unwrap());
    restart_keeps_data_in(Some(cwd.path()), None, "sled").await;
    assert!(!cwd.path().join("ledger-data").join("ledger.sqlite3").exists());
}

/// The environment of a binary on `storage` with a bootstrapped admin
/// (password [`PASSWORD`]) and the webhook secret [`WEBHOOK_SECRET`].
fn admin_envs<'a>(storage: &'a str, admin: &'a str) -> Vec<(&'static str, &'a str)> {
    let mut envs = default_storage_admin_envs(admin);
    envs.push(("LEDGER_STORAGE", storage));
    envs
}

/// [`admin_envs`] with no storage: the binary's default store.
fn default_storage_admin_envs(admin: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("LEDGER_BOOTSTRAP_ADMIN_EMAIL", admin),
        ("LEDGER_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD),
        ("LEDGER_WEBHOOK_SECRET", WEBHOOK_SECRET),
    ]
}

const WEBHOOK_SECRET: &str = "whsec_binary";

/// Credits `number` through the binary's signed webhook; asserts 200.
async fn credit_by_webhook(client: &Client, event_id: &str, number: &str, amount: &str) {
    let event = json!({"id": event_id, "type": "deposit.settled", "account_number": number, "amount": amount, "currency": "GBP"}).to_string();
    let signature = sign(WEBHOOK_SECRET.as_bytes(), chrono::Utc::now().timestamp(), event.as_bytes());
    let r = client
        .post("/api/webhooks/transactions")
        .header("ledger-signature", &signature)
        .raw(Some("application/json"), event)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// Runs the binary on `storage`: bootstraps an admin, opens an account,
/// credits it through the signed webhook, stops; restarts on the same
/// storage and finds the session and the money.
async fn restart_keeps_data(storage: &str, backend: &str) {
    restart_keeps_data_in(None, Some(storage), backend).await;
}

/// [`restart_keeps_data`] in the working directory `cwd`, on `storage` or
/// (with `None`) the binary's default store.
async fn restart_keeps_data_in(cwd: Option<&std::path::Path>, storage: Option<&str>, backend: &str) {
    // Unique per run, so a shared PostgreSQL database can host many runs.
    let run = unique();
    let admin_email = format!("root{run}@example.com");
    let envs = match storage {
        Some(storage) => admin_envs(storage, &admin_email),
        None => default_storage_admin_envs(&admin_email),
    };
    let server = Server::start_in(cwd, &[], &envs);
    let client = Client::http(&server.url, &admin_email);
    assert_eq!(client.get("/health").send().await.json()["storage"], backend);
    let admin = client.admin().await;
    let (_, number) = client.account(&admin, "GBP").await;
    credit_by_webhook(&client, &format!("evt-{run}"), &number, "12.34").await;
    assert!(server.terminate().success());

    // Restarted on the same storage: the admin (not created twice), the session and the money are there.
    let server = Server::start_in(cwd, &[], &envs);
    let client = Client::http(&server.url, &admin_email);
    let r = client.get("/api/accounts").bearer(&admin).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["items"][0]["balance"]["available"], "12.34");
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
    let run = unique();
    let admin_email = format!("events{run}@example.com");
    let envs = admin_envs(&url, &admin_email);
    let a = Server::start(&[], &envs);
    let b = Server::start(&[], &envs);
    let through_b = Client::http(&b.url, &admin_email);
    let admin = through_b.admin().await;
    let (id, number) = through_b.account(&admin, "GBP").await;

    let mut events = client().get(format!("{}/api/events", a.url)).bearer_auth(&admin.token).send().await.unwrap();
    assert_eq!(events.status(), 200);

    credit_by_webhook(&through_b, &format!("evt-live-{run}"), &number, "5.50").await;

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
    let options = ledger_http::storage::StorageOptions { pg_notify: false, ..Default::default() };
    let opened = ledger_http::storage::open(&parsed, options).await.unwrap();
    assert!(opened.event_source().await.unwrap().is_none(), "no LISTEN without pg_notify");
    let opened = ledger_http::storage::open(&parsed, Default::default()).await.unwrap();
    assert!(opened.event_source().await.unwrap().is_some());
    // The real binary accepts the switch and serves on PostgreSQL.
    let server = Server::start(&["--storage", &url, "--no-pg-notify"], &[]);
    let r = client().get(format!("{}/health", server.url)).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["storage"], "postgres");
    assert!(server.terminate().success());
}

/// Finding 9 of the outside review: two instances started together on a
/// fresh PostgreSQL database both come up (one exited, "email already
/// registered", from the bootstrap admin). Three rounds, each on a new
/// database, so both race the migrations and the bootstrap every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_started_together_on_a_fresh_postgres_database_both_serve() {
    const ROUNDS: usize = 3;
    let Ok(admin_url) = std::env::var("LEDGER_TEST_POSTGRES_URL") else {
        eprintln!("skipped: two instances on a fresh PostgreSQL database (set LEDGER_TEST_POSTGRES_URL to run)");
        return;
    };
    for _ in 0..ROUNDS {
        let db = FreshDatabase::create(&admin_url).await;
        let admin = format!("root-{}@example.com", unique());
        let start = || {
            let (url, admin) = (db.url.clone(), admin.clone());
            std::thread::spawn(move || {
                let envs =
                    [("LEDGER_BOOTSTRAP_ADMIN_EMAIL", admin.as_str()), ("LEDGER_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)];
                Server::start(&["--storage", &url, "--rate-limit-per-second", "0"], &envs)
            })
        };
        let (first, second) = (start(), start());
        let servers = [first.join().unwrap(), second.join().unwrap()];
        for server in &servers {
            let client = Client::http(&server.url, &admin);
            let health = client.get("/health").send().await.json();
            assert_eq!(health["status"], "ok", "{health}");
            client.admin().await;
        }
        for server in servers {
            assert!(server.terminate().success());
        }
        db.drop_database().await;
    }
}
