//! Password-reset tokens: single use, short-lived (30 minutes), and asking
//! for one reveals nothing about whether the email is registered. A reset
//! ends every session of the user.

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::json;

use crate::common::*;
use crate::security::tokens::{app_with_clock, assert_refused};

const NEW_PASSWORD: &str = "another long passphrase 7";

async fn request_reset(app: &TestApp, email: &str) -> Option<String> {
    let before = app.notifier.tokens.lock().unwrap().len();
    let r = app.post("/api/auth/password/reset-request").json(json!({"email": email})).send().await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    let tokens = app.notifier.tokens.lock().unwrap();
    (tokens.len() > before).then(|| tokens.last().unwrap().1.clone())
}

async fn reset(app: &TestApp, token: &str, password: &str) -> TestResponse {
    app.post("/api/auth/password/reset").json(json!({"token": token, "new_password": password})).send().await
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> StatusCode {
    app.post("/api/auth/login").json(json!({"email": email, "password": password})).send().await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_token_works_once_and_ends_every_session() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let token = request_reset(&app, "alice@example.com").await.expect("a token is delivered");
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.status, StatusCode::NO_CONTENT);
    assert_refused(&app, &alice.token).await;
    assert_eq!(login_status(&app, "alice@example.com", NEW_PASSWORD).await, StatusCode::OK);
    assert_eq!(login_status(&app, "alice@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED);

    // Reused: refused, and the password it carries is not set.
    reset(&app, &token, "a third passphrase, never set")
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_reset_token");
    assert_eq!(
        login_status(&app, "alice@example.com", "a third passphrase, never set").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login_status(&app, "alice@example.com", NEW_PASSWORD).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_token_used_after_30_minutes_is_refused_and_changes_nothing() {
    let (app, clock) = app_with_clock().await;
    app.user("alice@example.com").await;
    let token = request_reset(&app, "alice@example.com").await.expect("a token is delivered");
    clock.advance(Duration::minutes(30));
    reset(&app, &token, NEW_PASSWORD).await.assert_problem(StatusCode::BAD_REQUEST, "invalid_reset_token");
    assert_eq!(login_status(&app, "alice@example.com", PASSWORD).await, StatusCode::OK, "the password is unchanged");

    // Just in time still works.
    let token = request_reset(&app, "alice@example.com").await.expect("a token is delivered");
    clock.advance(Duration::minutes(29));
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.status, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_reset_tokens_are_refused_alike() {
    let app = TestApp::new().await;
    app.user("alice@example.com").await;
    for token in ["ab".repeat(32), "short".to_owned(), String::new(), "'; DROP TABLE reset_tokens; --".to_owned()] {
        reset(&app, &token, NEW_PASSWORD).await.assert_problem(StatusCode::BAD_REQUEST, "invalid_reset_token");
    }
    assert_eq!(login_status(&app, "alice@example.com", PASSWORD).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_a_reset_answers_alike_for_unknown_emails() {
    let app = TestApp::new().await;
    app.user("alice@example.com").await;
    let known = app.post("/api/auth/password/reset-request").json(json!({"email": "alice@example.com"})).send().await;
    for email in ["nobody@example.com", "not an email", "ALICE@example.com"] {
        let r = app.post("/api/auth/password/reset-request").json(json!({"email": email})).send().await;
        assert_eq!((r.status, r.body.clone()), (known.status, known.body.clone()), "{email}");
    }
    let delivered: Vec<String> = app.notifier.tokens.lock().unwrap().iter().map(|(to, _)| to.clone()).collect();
    assert_eq!(delivered, vec!["alice@example.com", "alice@example.com"], "only the registered address gets tokens");
}
