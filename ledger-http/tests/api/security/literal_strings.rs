//! Hostile text is data: SQL, HTML and odd Unicode in account names,
//! transaction descriptions, profile fields and device labels are stored
//! and returned byte-for-byte, on memory (in process) and through the real
//! binary on SQLite and PostgreSQL. NUL (a control character) is a clear
//! 422 and stores nothing.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

/// Each at most 64 characters (the shortest field limit), without leading
/// or trailing whitespace (fields are trimmed) or control characters.
pub const HOSTILE: &[&str] = &[
    "'; DROP TABLE accounts; --",
    "Robert'); DROP TABLE users;--",
    "1' OR '1'='1",
    "\" OR \"\"=\"; SELECT pg_sleep(10); --",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>&amp;&lt;",
    "\u{202E}gnp.exe (RTL override)",
    "a\u{200D}b \u{1F469}\u{200D}\u{1F4BB} (zero-width joiner)",
    "\u{1F4B8}\u{1F3E6}\u{1F1EC}\u{1F1E7}\u{1F600}",
    "e\u{301}\u{301}\u{301} Z\u{351}\u{334}\u{35C}a\u{308}\u{31B}",
    "\u{FEFF}bom and zero\u{200B}width",
    "line\u{2028}separator",
    "%00 %s %n {{7*7}} ${7*7}",
    "\\u0000 \\n \\' back\\slashes",
    "日本語 العربية עברית",
];

/// Asserts a JSON string field equals the input exactly.
#[track_caller]
fn assert_literal(value: &Value, expected: &str, what: &str) {
    assert_eq!(value.as_str().map(str::as_bytes), Some(expected.as_bytes()), "{what}: {value}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_are_stored_and_returned_literally_on_memory() {
    let app = TestApp::new().await;
    hostile_strings_round_trip(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_are_stored_and_returned_literally_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sqlite:{}", dir.path().join("ledger.db").display());
    on_binary(&storage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_are_stored_and_returned_literally_on_postgres() {
    let Ok(url) = std::env::var("LEDGER_TEST_POSTGRES_URL") else {
        eprintln!("skipped: hostile strings on PostgreSQL (set LEDGER_TEST_POSTGRES_URL to run)");
        return;
    };
    on_binary(&url).await;
}

async fn on_binary(storage: &str) {
    let admin = format!("root-{}@example.com", unique());
    let server = Server::start(
        &["--storage", storage, "--rate-limit-per-second", "0"],
        &[("LEDGER_BOOTSTRAP_ADMIN_EMAIL", admin.as_str()), ("LEDGER_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)],
    );
    hostile_strings_round_trip(&Client::http(&server.url, &admin)).await;
    assert!(server.terminate().success());
}

/// Every hostile string through every free-text field, read back from storage.
pub async fn hostile_strings_round_trip(app: &Client) {
    let email = app.email("literal");
    let user = app.user(&email).await;
    for (n, text) in HOSTILE.iter().enumerate() {
        // Account name.
        let r = app
            .post("/api/accounts")
            .bearer(&user)
            .json(json!({"kind": "savings", "currency": "EUR", "name": text}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{text:?}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        let account = r.json()["id"].as_str().unwrap().to_owned();
        let r = app.get(&format!("/api/accounts/{account}")).bearer(&user).send().await;
        assert_literal(&r.json()["name"], text, "account name");

        // Transaction description.
        let r = app
            .post("/api/transactions/deposits")
            .bearer(&user)
            .key(&format!("literal-{n}"))
            .json(json!({"account_id": account, "amount": "1", "description": text}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{text:?}: {}", r.text());
        let id = r.json()["id"].as_str().unwrap().to_owned();
        let r = app.get(&format!("/api/transactions/{id}")).bearer(&user).send().await;
        assert_literal(&r.json()["description"], text, "description");

        // Profile: full name and address.
        let r = app
            .call(Method::PATCH, "/api/me")
            .bearer(&user)
            .json(json!({"full_name": text, "address": text}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{text:?}: {}", r.text());
        let me = app.get("/api/me").bearer(&user).send().await.json();
        assert_literal(&me["full_name"], text, "full name");
        assert_literal(&me["address"], text, "address");

        // Device label of a session.
        let r = app
            .post("/api/auth/login")
            .json(json!({"email": email, "password": PASSWORD, "device_label": text}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{text:?}: {}", r.text());
        let session = r.json()["session"]["id"].clone();
        let sessions = app.get("/api/auth/sessions").bearer(&user).send().await.json();
        let listed = sessions["items"].as_array().unwrap().iter().find(|s| s["id"] == session).cloned().unwrap();
        assert_literal(&listed["label"], text, "device label");
    }
    // A registration keeps its name literally too.
    let other = app.email("literal-register");
    let r = app
        .post("/api/auth/register")
        .json(json!({"email": other, "password": PASSWORD, "full_name": HOSTILE[0]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_literal(&r.json()["full_name"], HOSTILE[0], "registered name");
    nul_is_refused_and_stores_nothing(app, &user).await;
}

/// NUL is a control character: each field refuses it with 422.
async fn nul_is_refused_and_stores_nothing(app: &Client, user: &User) {
    let nul = "before\u{0}after";
    let accounts_before = app.get("/api/accounts").bearer(user).send().await.json();
    let me_before = app.get("/api/me").bearer(user).send().await.json();
    let r = app
        .post("/api/accounts")
        .bearer(user)
        .json(json!({"kind": "savings", "currency": "EUR", "name": nul}))
        .send()
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_account_name");
    let account = accounts_before["items"][0]["id"].as_str().unwrap();
    let r = app
        .post("/api/transactions/deposits")
        .bearer(user)
        .key("literal-nul")
        .json(json!({"account_id": account, "amount": "1", "description": nul}))
        .send()
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_description");
    let r = app.call(Method::PATCH, "/api/me").bearer(user).json(json!({"full_name": nul})).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_profile");
    assert_eq!(app.get("/api/accounts").bearer(user).send().await.json(), accounts_before);
    assert_eq!(app.get("/api/me").bearer(user).send().await.json(), me_before);
}
