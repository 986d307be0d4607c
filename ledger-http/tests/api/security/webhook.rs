//! The signed transactions webhook.

use axum::http::StatusCode;
use ledger_http::routes::webhook::{SIGNATURE_TOLERANCE_SECS, sign};
use serde_json::{Value, json};

use crate::common::*;

const PATH: &str = "/api/webhooks/transactions";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn event(id: &str, number: &str, amount: &str, currency: &str) -> Value {
    json!({"id": id, "type": "deposit.settled", "account_number": number, "amount": amount, "currency": currency, "reference": "psp-ref-1"})
}

async fn post_signed(app: &TestApp, body: &Value, signature: Option<String>) -> TestResponse {
    let body = body.to_string();
    let mut call = app.post(PATH).raw(Some("application/json"), body);
    if let Some(signature) = signature {
        call = call.header("ledger-signature", &signature);
    }
    call.send().await
}

fn signed(body: &Value, at: i64) -> Option<String> {
    Some(sign(WEBHOOK_SECRET.as_bytes(), at, body.to_string().as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_settlement_credits_once() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let (acc, number) = app.account(&alice, "USD").await;
    let body = event("evt_1", &number, "42.50", "USD");

    let r = post_signed(&app, &body, signed(&body, now())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let first = r.json();
    assert_eq!(first["kind"], "deposit");
    assert_eq!(first["amount"], "42.50");
    assert_eq!(first["to_account_id"], acc.as_str());
    assert_eq!(first["description"], "psp-ref-1");
    assert_eq!(first["metadata"], json!({"webhook.event_id": "evt_1"}), "found by the processor's event id");
    assert_eq!(app.available(&alice, &acc).await, "42.50");
    let r = app.get("/api/transactions?metadata.webhook.event_id=evt_1").bearer(&alice).send().await;
    assert_eq!(r.json()["items"][0]["id"], first["id"]);

    // The same event again (a processor retry): same answer, nothing applied twice.
    let r = post_signed(&app, &body, signed(&body, now())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json(), first);
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.available(&alice, &acc).await, "42.50");

    // The same event id with another body is a conflict.
    let changed = event("evt_1", &number, "99.00", "USD");
    post_signed(&app, &changed, signed(&changed, now()))
        .await
        .assert_problem(StatusCode::CONFLICT, "idempotency_conflict");
    assert_eq!(app.available(&alice, &acc).await, "42.50");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_missing_or_stale_signatures_are_401_and_change_nothing() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let (acc, number) = app.account(&alice, "USD").await;
    let body = event("evt_2", &number, "10", "USD");

    post_signed(&app, &body, None).await.assert_problem(StatusCode::UNAUTHORIZED, "signature_missing");
    let wrong_secret = Some(sign(b"not the secret", now(), body.to_string().as_bytes()));
    post_signed(&app, &body, wrong_secret).await.assert_problem(StatusCode::UNAUTHORIZED, "signature_invalid");
    // Signed for another body (tampered amount).
    let other = event("evt_2", &number, "1000", "USD");
    post_signed(&app, &body, signed(&other, now())).await.assert_problem(StatusCode::UNAUTHORIZED, "signature_invalid");
    let t = now();
    post_signed(&app, &body, Some(format!("t={t},v1=zz")))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "signature_invalid");
    post_signed(&app, &body, Some("garbage".into()))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "signature_invalid");
    post_signed(&app, &body, signed(&body, now() - 301))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "signature_expired");
    post_signed(&app, &body, signed(&body, now() + 600))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "signature_expired");
    // A signature's timestamp cannot be swapped for a fresh one.
    let old = signed(&body, now() - 1000).unwrap();
    let v1 = old.split_once(",v1=").map(|(_, v)| v.to_owned()).unwrap();
    let swapped = Some(format!("t={},v1={v1}", now()));
    post_signed(&app, &body, swapped).await.assert_problem(StatusCode::UNAUTHORIZED, "signature_invalid");

    assert_eq!(app.available(&alice, &acc).await, "0.00");
    // Still usable afterwards: a valid delivery of the same event applies.
    assert_eq!(post_signed(&app, &body, signed(&body, now())).await.status, StatusCode::OK);
    assert_eq!(app.available(&alice, &acc).await, "10.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_accounts_and_currency_mismatches_are_422() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let (acc, number) = app.account(&alice, "USD").await;

    let body = event("evt_3", &unused_account_number(), "10", "USD");
    post_signed(&app, &body, signed(&body, now()))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_account");
    let body = event("evt_4", &number, "10", "EUR");
    post_signed(&app, &body, signed(&body, now()))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "currency_mismatch");
    let body = event("evt_5", "123", "10", "USD");
    post_signed(&app, &body, signed(&body, now()))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_account_number");
    let mut body = event("evt_6", &number, "10", "USD");
    body["type"] = json!("deposit.reversed");
    post_signed(&app, &body, signed(&body, now()))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unsupported_event_type");
    let body = event("evt_7", &number, "10.001", "USD");
    post_signed(&app, &body, signed(&body, now()))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount");
    // The settlement account's number is not a customer account.
    // (USD's settlement number has the ISO numeric code 840 as its body.)
    let body = event("evt_8", &account_number_with_body(840), "10", "USD");
    post_signed(&app, &body, signed(&body, now()))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_account");
    // Nor is a ledger account's.
    let admin = app.admin().await;
    let r = app
        .post("/api/ledger-accounts")
        .bearer(&admin)
        .json(json!({"code": "escrow", "currency": "USD", "normal_balance": "credit"}))
        .send()
        .await;
    let escrow_id = r.json()["id"].as_str().unwrap().to_owned();
    let escrow = app.get(&format!("/api/accounts/{escrow_id}")).bearer(&admin).send().await.json();
    let body = event("evt_9", escrow["number"].as_str().unwrap(), "10", "USD");
    post_signed(&app, &body, signed(&body, now()))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "unknown_account");
    let raw = "{not json";
    let signature = sign(WEBHOOK_SECRET.as_bytes(), now(), raw.as_bytes());
    let r = app.post(PATH).raw(Some("application/json"), raw).header("ledger-signature", &signature).send().await;
    r.assert_problem(StatusCode::BAD_REQUEST, "malformed_json");
    assert_eq!(app.available(&alice, &acc).await, "0.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_the_webhook_is_disabled() {
    let app = TestApp::with(|b| b.webhook_secret(None)).await;
    let body = event("evt_9", &unused_account_number(), "10", "USD");
    post_signed(&app, &body, signed(&body, now()))
        .await
        .assert_problem(StatusCode::SERVICE_UNAVAILABLE, "webhook_disabled");
}

/// A captured delivery replayed: within the window it is a harmless
/// idempotent replay; after it, the old timestamp is refused. The window
/// is judged by the ledger's clock, moved here without sleeping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_delivery_credits_once_and_is_refused_once_its_timestamp_is_old() {
    let (app, clock) = crate::security::tokens::app_with_clock().await;
    let alice = app.user("alice@example.com").await;
    let (acc, number) = app.account(&alice, "USD").await;
    let body = event("evt_replay", &number, "7.00", "USD");
    let captured = signed(&body, app.state.ledger().now().timestamp());

    assert_eq!(post_signed(&app, &body, captured.clone()).await.status, StatusCode::OK);
    clock.advance(chrono::Duration::seconds(60));
    let r = post_signed(&app, &body, captured.clone()).await;
    assert_eq!((r.status, r.header("idempotent-replayed")), (StatusCode::OK, Some("true")), "{}", r.text());
    assert_eq!(app.available(&alice, &acc).await, "7.00", "credited once");

    clock.advance(chrono::Duration::seconds(SIGNATURE_TOLERANCE_SECS - 60 + 1));
    post_signed(&app, &body, captured).await.assert_problem(StatusCode::UNAUTHORIZED, "signature_expired");
    // A new event under the old signature's timestamp is refused too.
    let other = event("evt_late", &number, "7.00", "USD");
    let old = signed(&other, app.state.ledger().now().timestamp() - SIGNATURE_TOLERANCE_SECS - 1);
    post_signed(&app, &other, old).await.assert_problem(StatusCode::UNAUTHORIZED, "signature_expired");
    assert_eq!(app.available(&alice, &acc).await, "7.00");
}
