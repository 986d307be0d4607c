//! Session fixation: a session token an attacker chose or planted before
//! login never becomes the victim's session. Login always issues a fresh
//! token (and cookie); logout and revocation end it on the server, so an
//! old cookie is refused afterwards.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::security::tokens::assert_refused;

/// The value of a `Set-Cookie` for `name` in a response.
fn set_cookie(r: &TestResponse, name: &str) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap_or("").to_owned()))
}

async fn login_with_cookie(app: &Client, email: &str, planted: &str) -> TestResponse {
    app.post("/api/auth/login")
        .header("cookie", &format!("ledger_session={planted}"))
        .json(json!({"email": email, "password": PASSWORD}))
        .send()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_chosen_by_an_attacker_before_login_never_becomes_the_session() {
    let app = TestApp::new().await;
    app.user("victim@example.com").await;
    let planted = "ab".repeat(32);
    let r = login_with_cookie(&app, "victim@example.com", &planted).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let issued = r.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(issued, planted);
    assert_eq!(set_cookie(&r, "ledger_session").as_deref(), Some(issued.as_str()), "the cookie is replaced");
    // The attacker's value still authenticates no one.
    assert_refused(&app, &planted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attackers_own_live_session_planted_in_a_browser_stays_the_attackers() {
    let app = TestApp::new().await;
    let attacker = app.user("attacker@example.com").await;
    app.user("victim@example.com").await;
    let r = login_with_cookie(&app, "victim@example.com", &attacker.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let victim_token = r.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(victim_token, attacker.token);
    assert_eq!(set_cookie(&r, "ledger_session").as_deref(), Some(victim_token.as_str()));
    // The planted token still names the attacker, never the victim.
    let r = app.get("/api/me").header("authorization", &format!("Bearer {}", attacker.token)).send().await;
    assert_eq!(r.json()["email"], "attacker@example.com");
    let r = app.get("/api/me").header("authorization", &format!("Bearer {victim_token}")).send().await;
    assert_eq!(r.json()["email"], "victim@example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_login_issues_a_fresh_token_and_session() {
    let app = TestApp::new().await;
    let first = app.user("alice@example.com").await;
    let second = app.login("alice@example.com").await;
    assert_ne!(first.token, second.token);
    assert_ne!(first.session, second.session);
    assert_ne!(first.csrf, second.csrf, "the CSRF token is bound to the session");
    assert_eq!(first.token.len(), 64, "256-bit tokens, hex");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_logout_the_old_cookie_is_refused_and_cleared() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let cookie = format!("ledger_session={}; ledger_csrf={}", alice.token, alice.csrf);
    let r = app.post("/api/auth/logout").header("cookie", &cookie).header("x-csrf-token", &alice.csrf).send().await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(set_cookie(&r, "ledger_session").as_deref(), Some(""), "the browser is told to drop it");
    // A browser (or thief) that kept the cookie is refused: revoked server-side.
    let r = app.get("/api/accounts").header("cookie", &cookie).send().await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let r = app
        .post("/api/accounts")
        .header("cookie", &cookie)
        .header("x-csrf-token", &alice.csrf)
        .json(json!({"kind": "checking", "currency": "USD"}))
        .send()
        .await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}
