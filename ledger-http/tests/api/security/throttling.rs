//! Login throttling: five wrong passwords for one email within 15 minutes,
//! and the sixth attempt is 429 with `Retry-After`, even with the right
//! password; other emails are unaffected; the lock lifts when the window passes.

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::json;

use crate::common::*;
use crate::security::tokens::app_with_clock;

async fn attempt(app: &TestApp, email: &str, password: &str) -> TestResponse {
    app.post("/api/auth/login").json(json!({"email": email, "password": password})).send().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sixth_failed_login_is_429_and_even_the_right_password_waits() {
    let (app, clock) = app_with_clock().await;
    app.user("alice@example.com").await;
    app.user("bob@example.com").await;
    for _ in 0..5 {
        attempt(&app, "alice@example.com", "not the password")
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let r = attempt(&app, "alice@example.com", "not the password").await;
    r.assert_problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    let retry: i64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=15 * 60).contains(&retry), "Retry-After {retry}");
    // The right password is refused too while locked (no oracle for guesses).
    let r = attempt(&app, "alice@example.com", PASSWORD).await;
    r.assert_problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    // The email's case does not dodge the lock.
    attempt(&app, "ALICE@Example.com", PASSWORD)
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    // Another user is not locked out by Alice's attacker.
    assert_eq!(attempt(&app, "bob@example.com", PASSWORD).await.status, StatusCode::OK);

    clock.advance(Duration::seconds(retry - 1));
    attempt(&app, "alice@example.com", PASSWORD)
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    clock.advance(Duration::seconds(1));
    assert_eq!(attempt(&app, "alice@example.com", PASSWORD).await.status, StatusCode::OK, "the window has passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_emails_are_throttled_like_known_ones() {
    let app = TestApp::new().await;
    for _ in 0..5 {
        attempt(&app, "nobody@example.com", "whatever it is")
            .await
            .assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    attempt(&app, "nobody@example.com", "whatever it is")
        .await
        .assert_problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
}
