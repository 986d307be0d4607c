//! Every error path answers a problem+json with a stable code.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use ledger_core::MemoryStore;
use ledger_http::rate_limit::RateLimit;
use ledger_http::state::HttpSettings;
use serde_json::json;

use crate::common::*;
use ledger_core::conformance::recording::RecordingStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_checked_before_anything_happens() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let (acc, _) = app.account(&alice, "USD").await;
    let deposits = "/api/transactions/deposits";

    let r = app.post(deposits).bearer(&alice).key("k").raw(Some("application/json"), "{\"account_id\": ").send().await;
    r.assert_problem(StatusCode::BAD_REQUEST, "malformed_json");
    let r = app.post(deposits).bearer(&alice).key("k").raw(Some("text/plain"), "{}").send().await;
    r.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let r = app.post(deposits).bearer(&alice).key("k").raw(None, "{}").send().await;
    r.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let r = app.post(deposits).bearer(&alice).key("k").json(json!({"account_id": acc})).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let r = app
        .post(deposits)
        .bearer(&alice)
        .key("k")
        .json(json!({"account_id": acc, "amount": "1", "colour": "red"}))
        .send()
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    // Amounts are strings with a strict grammar; floats are refused.
    let r = app.post(deposits).bearer(&alice).key("k").json(json!({"account_id": acc, "amount": 12.5})).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    for bad in ["-1", "0", "1.001", "1e3", " 1", "abc"] {
        let r = app.post(deposits).bearer(&alice).key("k").json(json!({"account_id": acc, "amount": bad})).send().await;
        r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount");
    }
    let r = app.post(deposits).bearer(&alice).json(json!({"account_id": acc, "amount": "1"})).send().await;
    r.assert_problem(StatusCode::BAD_REQUEST, "idempotency_key_required");
    let r =
        app.post(deposits).bearer(&alice).key("has space").json(json!({"account_id": acc, "amount": "1"})).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_idempotency_key");

    let big = json!({"account_id": acc, "amount": "1", "description": "x".repeat(70 * 1024)});
    let r = app.post(deposits).bearer(&alice).key("k").json(big).send().await;
    r.assert_problem(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let r = app
        .post("/api/transactions/transfers")
        .bearer(&alice)
        .key("k")
        .json(json!({"from_account_id": acc, "amount": "1"}))
        .send()
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let r = app.post("/api/accounts").bearer(&alice).json(json!({"kind": "checking", "currency": "XYZ"})).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_currency");
    let r =
        app.post("/api/accounts").bearer(&alice).json(json!({"kind": "settlement", "currency": "USD"})).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_account_kind");

    // Nothing above moved money.
    assert_eq!(app.available(&alice, &acc).await, "0.00");
    let r = app.get("/api/transactions").bearer(&alice).send().await;
    assert_eq!(r.json()["items"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallbacks_queries_and_paths_are_problems_too() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    app.get("/api/nothing-here").send().await.assert_problem(StatusCode::NOT_FOUND, "route_not_found");
    let r = app.call(Method::PUT, "/api/accounts").bearer(&alice).send().await;
    r.assert_problem(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    app.get("/api/accounts/not-a-uuid").bearer(&alice).send().await.assert_problem(StatusCode::NOT_FOUND, "not_found");
    let r = app.get("/api/transactions?limit=abc").bearer(&alice).send().await;
    r.assert_problem(StatusCode::BAD_REQUEST, "invalid_query");
    let r = app.get("/api/transactions?from=yesterday").bearer(&alice).send().await;
    r.assert_problem(StatusCode::BAD_REQUEST, "invalid_query");
    let r = app.get("/api/transactions?cursor=zzz").bearer(&alice).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor");
    let r = app.get("/api/transactions?kind=gift").bearer(&alice).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_filter");
    let r = app.get("/api/transactions?min_amount=10&max_amount=1").bearer(&alice).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_filter");
    let r = app.get("/api/transactions?limit=0").bearer(&alice).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_page_size");
    // Oversized pages are capped, not refused.
    assert_eq!(app.get("/api/transactions?limit=100000").bearer(&alice).send().await.status, StatusCode::OK);
    // A client's request id is kept and echoed.
    let r = app.get("/api/nothing").header("x-request-id", "req-42").send().await;
    assert_eq!(r.header("x-request-id"), Some("req-42"));
    assert_eq!(r.json()["request_id"], "req-42");
    assert_eq!(r.json()["instance"], "/api/nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_and_forged_tokens_get_401() {
    let app = TestApp::new().await;
    let r = app.get("/api/accounts").send().await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let forged = "ab".repeat(32);
    for header in [format!("Bearer {forged}"), "Bearer short".into(), format!("Basic {forged}"), "Bearer".into()] {
        let r = app.get("/api/me").header("authorization", &header).send().await;
        r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    }
    let r = app
        .post("/api/transactions/deposits")
        .key("k")
        .json(json!({"account_id": uuid_zero(), "amount": "1"}))
        .send()
        .await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let r = app
        .post("/api/auth/login")
        .json(json!({"email": "alice@example.com", "password": "wrong password!"}))
        .send()
        .await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
}

/// The account and balance routes read the session and the account in one
/// store read, and still judge in the order of two: a missing or forged
/// token is 401 whatever the path (a malformed id included); then a
/// malformed id, another customer's account and an unknown one are the same
/// 404; then the caller's own account is answered, by cookie as by bearer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_reads_judge_the_token_before_the_account() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let (own, _) = app.account(&alice, "USD").await;
    let (bobs, _) = app.account(&bob, "USD").await;
    let forged = format!("Bearer {}", "ab".repeat(32));
    for suffix in ["", "/balance"] {
        for id in [own.as_str(), "not-a-uuid"] {
            let path = format!("/api/accounts/{id}{suffix}");
            app.get(&path).send().await.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
            let r = app.get(&path).header("authorization", &forged).send().await;
            r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
        }
        let missing = app.get(&format!("/api/accounts/not-a-uuid{suffix}")).bearer(&alice).send().await;
        missing.assert_problem(StatusCode::NOT_FOUND, "not_found");
        let foreign = app.get(&format!("/api/accounts/{bobs}{suffix}")).bearer(&alice).send().await;
        let unknown = app.get(&format!("/api/accounts/{}{suffix}", uuid_zero())).bearer(&alice).send().await;
        foreign.assert_problem(StatusCode::NOT_FOUND, "account_not_found");
        unknown.assert_problem(StatusCode::NOT_FOUND, "account_not_found");
        assert_eq!(foreign.json()["detail"], unknown.json()["detail"].as_str().unwrap().replace(&uuid_zero(), &bobs));
        let path = format!("/api/accounts/{own}{suffix}");
        let by_bearer = app.get(&path).bearer(&alice).send().await;
        assert_eq!(by_bearer.status, StatusCode::OK, "{}", by_bearer.text());
        let cookie = format!("ledger_session={}", alice.token);
        let by_cookie = app.get(&path).header("cookie", &cookie).send().await;
        assert_eq!(by_cookie.status, StatusCode::OK, "{}", by_cookie.text());
        let id = if suffix.is_empty() { "id" } else { "account_id" };
        assert_eq!(by_bearer.json()[id], own.as_str());
        assert_eq!(by_cookie.json()[id], own.as_str());
    }
    let r = app.get(&format!("/api/accounts/{own}/balance")).bearer(&alice).send().await;
    assert_eq!(r.json()["posted"], "0.00", "{}", r.text());
}

fn uuid_zero() -> String {
    uuid::Uuid::nil().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_replays_and_conflicts() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let (acc, _) = app.account(&alice, "USD").await;
    let first = app.deposit(&alice, &acc, "10.00", "same-key").await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app.deposit(&alice, &acc, "10.00", "same-key").await;
    assert_eq!(again.status, first.status);
    assert_eq!(again.json(), first.json(), "a replay answers like the original");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.available(&alice, &acc).await, "10.00", "applied once");
    let other = app.deposit(&alice, &acc, "11.00", "same-key").await;
    other.assert_problem(StatusCode::CONFLICT, "idempotency_conflict");
    // Keys are per user: Bob's equal key is his own.
    let bob = app.user("bob@example.com").await;
    let (bob_acc, _) = app.account(&bob, "USD").await;
    assert_eq!(app.deposit(&bob, &bob_acc, "1", "same-key").await.status, StatusCode::CREATED);
    assert_eq!(app.available(&alice, &acc).await, "10.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_bad_logins_are_throttled_with_retry_after() {
    let app = TestApp::new().await;
    app.user("alice@example.com").await;
    let wrong = json!({"email": "alice@example.com", "password": "not the password"});
    for _ in 0..5 {
        let r = app.post("/api/auth/login").json(wrong.clone()).send().await;
        r.assert_problem(StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let r = app.post("/api/auth/login").json(wrong).send().await;
    r.assert_problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1);
    // Even the right password waits.
    let r = app.post("/api/auth/login").json(json!({"email": "alice@example.com", "password": PASSWORD})).send().await;
    r.assert_problem(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_needs_kyc_until_an_admin_approves() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let (acc, _) = app.account(&alice, "USD").await;
    app.deposit(&alice, &acc, "20", "d").await;
    let withdraw = json!({"account_id": acc, "amount": "5"});
    let r = app.post("/api/transactions/withdrawals").bearer(&alice).key("w").json(withdraw.clone()).send().await;
    r.assert_problem(StatusCode::FORBIDDEN, "kyc_required");
    assert_eq!(app.available(&alice, &acc).await, "20.00");
    app.verify(&alice).await;
    let r = app.post("/api/transactions/withdrawals").bearer(&alice).key("w").json(withdraw).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(app.available(&alice, &acc).await, "15.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_on_registration() {
    let app = TestApp::new().await;
    app.user("alice@example.com").await;
    let r = app
        .post("/api/auth/register")
        .json(json!({"email": "ALICE@example.com", "password": PASSWORD, "full_name": "A"}))
        .send()
        .await;
    r.assert_problem(StatusCode::CONFLICT, "email_taken");
    let r = app
        .post("/api/auth/register")
        .json(json!({"email": "b@example.com", "password": "short", "full_name": "B"}))
        .send()
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "weak_password");
    let r = app
        .post("/api/auth/register")
        .json(json!({"email": "nope", "password": PASSWORD, "full_name": "B"}))
        .send()
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_email");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_answers_429_with_retry_after() {
    let limit = RateLimit { per_second: NonZeroU32::MIN, burst: NonZeroU32::new(2).unwrap() };
    let app = TestApp::with(|b| b.rate_limit(Some(limit))).await;
    assert_eq!(app.get("/health").send().await.status, StatusCode::OK);
    assert_eq!(app.get("/health").send().await.status, StatusCode::OK);
    let r = app.get("/health").send().await;
    r.assert_problem(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(r.header("retry-after").is_some());
}

/// Text in the storage error that must never reach a client.
const SECRET_DETAIL: &str = "/var/lib/secret-disk-path";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_outage_is_503_with_retry_after_health_degraded_not_ready_then_recovers() {
    let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), Duration::ZERO));
    let app = TestApp::on_store(store.clone(), |b| b).await;
    let alice = app.user("alice@example.com").await;
    let (account, _) = app.account(&alice, "USD").await;
    assert_eq!(app.get("/health").send().await.json()["status"], "ok");

    // A failover: every storage call fails as a database out of reach does.
    store.break_unavailable(format!("connection to the primary at {SECRET_DETAIL} lost"));
    let r = app.get("/health").send().await;
    assert_eq!(r.status, StatusCode::OK, "the process still serves");
    assert_eq!(r.json()["status"], "degraded");
    assert_eq!(r.json()["storage"], "memory");
    assert_eq!(app.get("/health/live").send().await.status, StatusCode::OK);
    let r = app.get("/health/ready").send().await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json()["status"], "unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    let r = app.get("/api/accounts").bearer(&alice).send().await;
    let body = r.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(!r.text().contains(SECRET_DETAIL), "{body}");
    let r = app.deposit(&alice, &account, "5.00", "k-1").await;
    r.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));

    // The new leader answers: the same request with the same key applies once.
    store.mend();
    assert_eq!(app.get("/health").send().await.json()["status"], "ok");
    assert_eq!(app.get("/health/ready").send().await.status, StatusCode::OK);
    let first = app.deposit(&alice, &account, "5.00", "k-1").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let again = app.deposit(&alice, &account, "5.00", "k-1").await;
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(app.available(&alice, &account).await, "5.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_failures_of_refused_data_are_500_without_internals() {
    let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), Duration::ZERO));
    let app = TestApp::on_store(store.clone(), |b| b).await;
    let alice = app.user("alice@example.com").await;
    let (account, _) = app.account(&alice, "USD").await;
    store.refuse_batches_naming(account.parse().unwrap());
    let r = app.deposit(&alice, &account, "5.00", "k-2").await;
    let body = r.assert_problem(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert!(r.header("retry-after").is_none(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_with_a_problem() {
    let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), Duration::ZERO));
    let settings = HttpSettings::default().request_timeout(Duration::from_millis(200));
    let app = TestApp::on_store(store.clone(), |b| b.settings(settings)).await;
    store.slow_ping(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let r = app.get("/health").send().await;
    r.assert_problem(StatusCode::SERVICE_UNAVAILABLE, "request_timeout");
    assert!(started.elapsed() < Duration::from_secs(2));
}
