//! Request bodies: every operation of the OpenAPI document that takes a
//! body answers 413 to one over [`BODY_SIZE_MAX`] and 400 `malformed_json`
//! to broken JSON, as a problem, and neither changes anything.

use axum::http::{Method, StatusCode};
use ledger_http::BODY_SIZE_MAX;
use ledger_http::routes::webhook::sign;
use serde_json::json;

use crate::common::*;

/// (method, path with ids filled in) of every operation with a request body.
async fn operations_with_bodies(app: &TestApp) -> Vec<(Method, String)> {
    let doc = app.get("/api/openapi.json").send().await.json();
    let id = uuid::Uuid::now_v7().to_string();
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation.get("requestBody").is_some() {
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                found.push((method, path.replace("{id}", &id)));
            }
        }
    }
    found
}

/// A request as an authenticated admin with every header a route may want
/// (idempotency key; for the webhook, a valid signature of this body).
async fn send(app: &TestApp, admin: &User, method: &Method, path: &str, body: Vec<u8>) -> TestResponse {
    let signature = sign(WEBHOOK_SECRET.as_bytes(), chrono::Utc::now().timestamp(), &body);
    app.call(method.clone(), path)
        .bearer(admin)
        .key(&format!("body-{}", unique()))
        .header("ledger-signature", &signature)
        .raw(Some("application/json"), body)
        .send()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_body_over_the_limit_is_413_and_every_malformed_one_400() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let operations = operations_with_bodies(&app).await;
    assert!(operations.len() >= 14, "the document lists the routes with bodies: {operations:?}");
    let oversized = format!("{{\"description\": \"{}\"}}", "x".repeat(BODY_SIZE_MAX)).into_bytes();
    for (method, path) in &operations {
        let r = send(&app, &admin, method, path, oversized.clone()).await;
        r.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        for malformed in ["{", "{1: 2}", "{'amount': '1'}", "\u{feff}{}", "nul\u{0}"] {
            let r = send(&app, &admin, method, path, malformed.as_bytes().to_vec()).await;
            r.assert_problem(StatusCode::BAD_REQUEST, "malformed_json");
        }
    }
    // Nothing was created: no account, no transaction, no user beyond the admin.
    let r = app.get("/api/accounts").bearer(&admin).send().await;
    assert_eq!(r.json()["items"], json!([]), "{}", r.text());
    let r = app.get("/api/transactions").bearer(&admin).send().await;
    assert_eq!(r.json()["items"], json!([]));
    let r = app.get("/api/admin/users").bearer(&admin).send().await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(1), "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_just_under_the_limit_is_read() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    // Valid JSON of nearly the limit: parsed, then refused for its content (422), not its size.
    let description = "x".repeat(BODY_SIZE_MAX - 200);
    let r = app
        .post("/api/accounts")
        .bearer(&alice)
        .json(json!({"kind": "checking", "currency": "USD", "name": description}))
        .send()
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_account_name");
}
