//! Bearer tokens and session cookies: forged, expired and revoked ones are
//! 401 `unauthenticated` (the same answer for each, so a prober learns
//! nothing), and a refused token changes nothing.
//!
//! Expiry runs on a [`ManualClock`] given to the state, never on sleeps.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use ledger_core::ManualClock;
use serde_json::json;

use crate::common::*;

/// A test app whose ledger runs on a clock the test moves.
pub async fn app_with_clock() -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = TestApp::with(|b| b.clock(clock.clone())).await;
    (app, clock)
}

/// Asserts the token is refused both as a bearer token and as a cookie.
pub async fn assert_refused(app: &Client, token: &str) {
    let r = app.get("/api/me").header("authorization", &format!("Bearer {token}")).send().await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let r = app.get("/api/me").header("cookie", &format!("ledger_session={token}")).send().await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_401_whatever_their_shape() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    // One character off a real token. (Upper-case hex of a real token is the
    // same secret: tokens are hex, compared after lower-casing.)
    let mut chars: Vec<char> = alice.token.chars().collect();
    chars[10] = if chars[10] == 'a' { 'b' } else { 'a' };
    let one_off: String = chars.into_iter().collect();
    let forged = [
        "ab".repeat(32),
        "0".repeat(64),
        one_off,
        format!("{}0", alice.token),
        alice.token[..alice.token.len() - 1].to_owned(),
        alice.csrf.clone(),
        alice.session.clone(),
        alice.id.clone(),
        String::new(),
        "' OR '1'='1".into(),
        "\u{202e}".repeat(8),
    ];
    for token in &forged {
        assert_refused(&app, token).await;
    }
    // A forged token cannot write either: nothing was opened.
    let r = app
        .post("/api/accounts")
        .header("authorization", &format!("Bearer {}", "ab".repeat(32)))
        .json(json!({"kind": "checking", "currency": "USD"}))
        .send()
        .await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let r = app.get("/api/accounts").bearer(&alice).send().await;
    assert_eq!(r.json()["items"], json!([]));
    // The real token still works.
    assert_eq!(app.get("/api/me").bearer(&alice).send().await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_expires_after_30_minutes_without_use() {
    let (app, clock) = app_with_clock().await;
    let alice = app.user("alice@example.com").await;
    clock.advance(Duration::minutes(29));
    assert_eq!(app.get("/api/me").bearer(&alice).send().await.status, StatusCode::OK, "used in time");
    clock.advance(Duration::minutes(29));
    assert_eq!(app.get("/api/me").bearer(&alice).send().await.status, StatusCode::OK, "use renews idleness");
    clock.advance(Duration::minutes(30));
    assert_refused(&app, &alice.token).await;
    // A fresh login works and the expired session is not listed.
    let again = app.login("alice@example.com").await;
    let r = app.get("/api/auth/sessions").bearer(&again).send().await;
    let ids: Vec<_> = r.json()["items"].as_array().unwrap().iter().map(|s| s["id"].clone()).collect();
    assert_eq!(ids, vec![json!(again.session)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_in_constant_use_still_ends_after_12_hours() {
    let (app, clock) = app_with_clock().await;
    let alice = app.user("alice@example.com").await;
    for _ in 0..(12 * 60 / 25) {
        clock.advance(Duration::minutes(25));
        assert_eq!(app.get("/api/me").bearer(&alice).send().await.status, StatusCode::OK);
    }
    clock.advance(Duration::minutes(25));
    assert_refused(&app, &alice.token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_revokes_the_token_server_side() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let r = app.post("/api/auth/logout").bearer(&alice).send().await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // The token, kept by a client that ignores the cleared cookies, is dead.
    assert_refused(&app, &alice.token).await;
    let r = app.post("/api/auth/logout").bearer(&alice).send().await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_session_by_id_or_all_others_kills_those_tokens_only() {
    let app = TestApp::new().await;
    let laptop = app.user("alice@example.com").await;
    let phone = app.login("alice@example.com").await;
    let tablet = app.login("alice@example.com").await;
    let r = app
        .call(axum::http::Method::DELETE, &format!("/api/auth/sessions/{}", phone.session))
        .bearer(&laptop)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_refused(&app, &phone.token).await;
    assert_eq!(app.get("/api/me").bearer(&tablet).send().await.status, StatusCode::OK);
    let r = app.call(axum::http::Method::DELETE, "/api/auth/sessions").bearer(&laptop).send().await;
    assert_eq!(r.json()["revoked"], 1, "{}", r.text());
    assert_refused(&app, &tablet.token).await;
    assert_eq!(app.get("/api/me").bearer(&laptop).send().await.status, StatusCode::OK, "the caller's own stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_every_other_session() {
    let app = TestApp::new().await;
    let laptop = app.user("alice@example.com").await;
    let phone = app.login("alice@example.com").await;
    let r = app
        .post("/api/auth/password/change")
        .bearer(&laptop)
        .json(json!({"current_password": PASSWORD, "new_password": "a brand new passphrase 42"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_refused(&app, &phone.token).await;
    assert_eq!(app.get("/api/me").bearer(&laptop).send().await.status, StatusCode::OK);
}
