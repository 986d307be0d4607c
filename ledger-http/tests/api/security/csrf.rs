//! Browsers authenticate with the session cookie; their writes need the CSRF token.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::*;

fn cookie_header(user: &User) -> String {
    format!("ledger_session={}; ledger_csrf={}", user.token, user.csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_writes_need_the_csrf_header_and_reads_do_not() {
    let app = TestApp::new().await;
    app.user("alice@example.com").await;
    let r = app
        .post("/api/auth/login")
        .json(json!({"email": "alice@example.com", "password": PASSWORD, "device_label": "laptop"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let cookies: Vec<String> = r.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let session = cookies.iter().find(|c| c.starts_with("ledger_session=")).unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/"),
        "{session}"
    );
    let csrf_cookie = cookies.iter().find(|c| c.starts_with("ledger_csrf=")).unwrap();
    assert!(!csrf_cookie.contains("HttpOnly"), "the page's script reads it: {csrf_cookie}");
    let body = r.json();
    assert_eq!(body["session"]["label"], "laptop");
    let alice = User {
        token: body["token"].as_str().unwrap().into(),
        csrf: body["csrf_token"].as_str().unwrap().into(),
        id: body["user"]["id"].as_str().unwrap().into(),
        session: body["session"]["id"].as_str().unwrap().into(),
    };
    assert!(csrf_cookie.contains(&alice.csrf));

    // Reads with the cookie alone work.
    let r = app.get("/api/accounts").header("cookie", &cookie_header(&alice)).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A write with the cookie alone (what a cross-site form could send) is refused.
    let open = json!({"kind": "checking", "currency": "USD"});
    let r = app.post("/api/accounts").header("cookie", &cookie_header(&alice)).json(open.clone()).send().await;
    r.assert_problem(StatusCode::FORBIDDEN, "csrf_token_invalid");
    let r = app
        .post("/api/accounts")
        .header("cookie", &cookie_header(&alice))
        .header("x-csrf-token", &"0".repeat(64))
        .json(open.clone())
        .send()
        .await;
    r.assert_problem(StatusCode::FORBIDDEN, "csrf_token_invalid");
    let r = app.get("/api/accounts").header("cookie", &cookie_header(&alice)).send().await;
    assert_eq!(r.json()["items"], json!([]), "nothing was opened");
    // With the token, it goes through.
    let r = app
        .post("/api/accounts")
        .header("cookie", &cookie_header(&alice))
        .header("x-csrf-token", &alice.csrf)
        .json(open.clone())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    // Bearer clients need no CSRF token.
    assert_eq!(app.post("/api/accounts").bearer(&alice).json(open).send().await.status, StatusCode::CREATED);
    // Another user's CSRF token does not fit this session.
    let bob = app.user("bob@example.com").await;
    let r = app
        .post("/api/auth/logout")
        .header("cookie", &cookie_header(&alice))
        .header("x-csrf-token", &bob.csrf)
        .send()
        .await;
    r.assert_problem(StatusCode::FORBIDDEN, "csrf_token_invalid");
    let r = app
        .post("/api/auth/logout")
        .header("cookie", &cookie_header(&alice))
        .header("x-csrf-token", &alice.csrf)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.get("/api/accounts").header("cookie", &cookie_header(&alice)).send().await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}
