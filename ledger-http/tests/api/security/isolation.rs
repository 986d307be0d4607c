//! Other users' things do not exist: every route taking an id answers 404
//! for another user's id exactly as for an unknown one, and changes nothing.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_with_an_id_answers_404_for_another_users_things() {
    let app = TestApp::new().await;
    cross_user_isolation(&app).await;
}

/// Alice probes every route that takes an id with Bob's ids and unknown ones.
/// Also run against the real binary on every backend (`backends.rs`).
pub async fn cross_user_isolation(app: &Client) {
    let alice = app.user(&app.email("alice")).await;
    let bob = app.user(&app.email("bob")).await;
    app.verify(&alice).await;
    app.verify(&bob).await;
    let (alice_acc, _) = app.account(&alice, "USD").await;
    let (bob_acc, _) = app.account(&bob, "USD").await;
    let r = app.deposit(&bob, &bob_acc, "100", "bob-dep").await;
    let bob_tx = r.json()["id"].as_str().unwrap().to_owned();
    let r = app
        .post("/api/holds")
        .bearer(&bob)
        .key("bob-hold")
        .json(json!({"account_id": bob_acc, "amount": "10"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let bob_hold = r.json()["id"].as_str().unwrap().to_owned();
    app.deposit(&alice, &alice_acc, "5", "alice-dep").await;
    let unknown = uuid::Uuid::now_v7().to_string();

    // (method, path, body, needs an idempotency key) for Bob's id and for an unknown one.
    let cases = |acc: &str, tx: &str, hold: &str, session: &str, user: &str| {
        vec![
            (Method::GET, format!("/api/accounts/{acc}"), None, false),
            (Method::GET, format!("/api/accounts/{acc}/balance"), None, false),
            (Method::POST, format!("/api/accounts/{acc}/freeze"), None, false),
            (Method::POST, format!("/api/accounts/{acc}/unfreeze"), None, false),
            (Method::POST, format!("/api/accounts/{acc}/close"), None, false),
            (Method::GET, format!("/api/transactions/{tx}"), None, false),
            (Method::GET, format!("/api/transactions?account_id={acc}"), None, false),
            (Method::POST, "/api/transactions/deposits".into(), Some(json!({"account_id": acc, "amount": "1"})), true),
            (
                Method::POST,
                "/api/transactions/withdrawals".into(),
                Some(json!({"account_id": acc, "amount": "1"})),
                true,
            ),
            (
                Method::POST,
                "/api/transactions/transfers".into(),
                Some(json!({"from_account_id": acc, "to_account_id": alice_acc, "amount": "1"})),
                true,
            ),
            (
                Method::POST,
                "/api/transactions/transfers".into(),
                Some(json!({"from_account_id": alice_acc, "to_account_id": acc, "amount": "1"})),
                true,
            ),
            (Method::POST, "/api/holds".into(), Some(json!({"account_id": acc, "amount": "1"})), true),
            (Method::POST, format!("/api/holds/{hold}/capture"), None, true),
            (Method::POST, format!("/api/holds/{hold}/void"), None, true),
            (Method::DELETE, format!("/api/auth/sessions/{session}"), None, false),
            (Method::POST, format!("/api/admin/users/{user}/kyc"), Some(json!({"decision": "verified"})), false),
        ]
    };
    let foreign = cases(&bob_acc, &bob_tx, &bob_hold, &bob.session, &bob.id);
    let missing = cases(&unknown, &unknown, &unknown, &unknown, &unknown);
    for (n, ((method, path, body, keyed), (_, missing_path, missing_body, _))) in
        foreign.into_iter().zip(missing).enumerate()
    {
        let send = |path: String, body: Option<serde_json::Value>| {
            let mut call = app.call(method.clone(), &path).bearer(&alice);
            if keyed {
                call = call.key(&format!("probe-{n}-{}", path.len()));
            }
            if let Some(body) = body {
                call = call.json(body);
            }
            call.send()
        };
        let r = send(path.clone(), body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {path}: {}", r.text());
        let code = r.json()["code"].clone();
        let r = send(missing_path.clone(), missing_body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {missing_path}: {}", r.text());
        assert_eq!(r.json()["code"], code, "foreign and unknown ids must look alike: {method} {path}");
    }

    // Nothing of Bob's changed.
    assert_eq!(app.available(&bob, &bob_acc).await, "90.00");
    let r = app.get(&format!("/api/accounts/{bob_acc}")).bearer(&bob).send().await;
    assert_eq!(r.json()["status"], "active");
    let r = app.get(&format!("/api/transactions/{bob_hold}")).bearer(&bob).send().await;
    assert_eq!(r.json()["status"], "pending");
    assert_eq!(app.get("/api/me").bearer(&bob).send().await.status, StatusCode::OK);
    let r = app.get("/api/me").bearer(&bob).send().await;
    assert_eq!(r.json()["kyc_status"], "verified");
    // Alice's own history does not show Bob's transactions.
    let r = app.get("/api/transactions").bearer(&alice).send().await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(1));
}
