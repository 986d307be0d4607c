//! Server-Sent Events deliver the user's own balance, transaction and
//! profile changes.

use std::time::Duration;

use axum::http::StatusCode;
use futures::StreamExt;
use ledger_core::identity::KycTransition;
use ledger_core::{Actor, UserId};
use tower::ServiceExt;

use ledger_http::state::HttpSettings;

use crate::common::*;

/// Reads SSE frames until one satisfies `wanted`, within a deadline.
async fn read_until(
    stream: &mut (impl futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    buffer: &mut String,
    wanted: impl Fn(&str) -> bool,
) -> String {
    // A bound, not a pause: the wait ends as soon as the event arrives. Across
    // two instances an event goes commit -> NOTIFY -> LISTEN -> re-read ->
    // broadcast; 5 s was once too little on a 2-core machine at load 8.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if wanted(&frame) {
                return frame;
            }
            continue;
        }
        let chunk = tokio::time::timeout_at(deadline, stream.next()).await.expect("no matching event in time");
        let chunk = chunk.expect("stream ended").expect("stream failed");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_reaches_the_owners_stream_and_no_one_elses() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let (acc, _) = app.account(&alice, "USD").await;
    let (bob_acc, _) = app.account(&bob, "USD").await;

    let response = app.router.clone().oneshot(app.get("/api/events").bearer(&alice).request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut stream = response.into_body().into_data_stream();
    let mut buffer = String::new();

    // Bob's deposit first: Alice must not see it.
    assert_eq!(app.deposit(&bob, &bob_acc, "1.00", "bob").await.status, StatusCode::CREATED);
    assert_eq!(app.deposit(&alice, &acc, "7.25", "live").await.status, StatusCode::CREATED);

    let balance = read_until(&mut stream, &mut buffer, |f| f.contains("event: balance")).await;
    assert!(balance.contains(&acc), "{balance}");
    assert!(balance.contains("\"available\":\"7.25\""), "{balance}");
    let transaction = read_until(&mut stream, &mut buffer, |f| f.contains("event: transaction")).await;
    assert!(transaction.contains("\"amount\":\"7.25\""), "{transaction}");
    assert!(!buffer.contains(&bob_acc) && !balance.contains(&bob_acc) && !transaction.contains(&bob_acc));

    // A new account of Alice's joins the stream.
    let (second, _) = app.account(&alice, "EUR").await;
    let opened = read_until(&mut stream, &mut buffer, |f| f.contains(&second)).await;
    assert!(opened.contains("event: balance"), "{opened}");

    // Shutdown ends the stream so a graceful stop can finish.
    app.state.shutdown().cancel();
    let rest = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            chunk.unwrap();
        }
    })
    .await;
    assert!(rest.is_ok(), "the stream must end on shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_needs_authentication() {
    let app = TestApp::new().await;
    let r = app.get("/api/events").send().await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_ends_soon_after_logout() {
    let settings = HttpSettings::default().event_session_check(Duration::from_millis(100));
    let app = TestApp::with(|b| b.settings(settings)).await;
    let alice = app.user("alice@example.com").await;
    let response = app.router.clone().oneshot(app.get("/api/events").bearer(&alice).request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.into_body().into_data_stream();
    assert_eq!(app.post("/api/auth/logout").bearer(&alice).send().await.status, StatusCode::NO_CONTENT);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            chunk.unwrap();
        }
    })
    .await;
    assert!(ended.is_ok(), "a revoked session's stream must end");
}

/// Two instances on one PostgreSQL schema, each with its own pool, ledger
/// and `LISTEN`: a deposit made through B reaches a stream open on A, and
/// A's own commits reach it once each. Skipped without `LEDGER_TEST_POSTGRES_URL`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_through_one_instance_reaches_a_stream_on_another() {
    use std::sync::Arc;

    use ledger_http::shared_events::SharedEvents;
    use ledger_sql::{SqlOptions, SqlStore};
    use sqlx::Connection;

    let url = match std::env::var("LEDGER_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            eprintln!("skipped: events across two PostgreSQL instances (set LEDGER_TEST_POSTGRES_URL to run)");
            return;
        }
    };
    let schema = format!("ledger_t_{}", uuid::Uuid::now_v7().simple());
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.unwrap();

    let instance = || async {
        let options = SqlOptions::default()
            .max_connections(4)
            .connect_timeout(Duration::from_secs(30))
            .schema(Some(schema.clone()));
        let store = Arc::new(SqlStore::connect_with(&url, options).await.unwrap());
        let events = Arc::new(SharedEvents::start(store.clone()).await.unwrap());
        TestApp::on_store(store, move |b| b.events(events)).await
    };
    let a = instance().await;
    let b = instance().await;

    let alice = b.user("alice@example.com").await;
    let (acc, _) = b.account(&alice, "USD").await;

    let response = a.router.clone().oneshot(a.get("/api/events").bearer(&alice).request()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.into_body().into_data_stream();
    let mut buffer = String::new();

    assert_eq!(b.deposit(&alice, &acc, "7.25", "through-b").await.status, StatusCode::CREATED);
    let balance = read_until(&mut stream, &mut buffer, |f| f.contains("event: balance")).await;
    assert!(balance.contains(&acc) && balance.contains("\"available\":\"7.25\""), "{balance}");
    let transaction = read_until(&mut stream, &mut buffer, |f| f.contains("event: transaction")).await;
    assert!(transaction.contains("\"amount\":\"7.25\""), "{transaction}");

    // A's own deposit arrives once, through the same channel.
    assert_eq!(a.deposit(&alice, &acc, "3.00", "through-a").await.status, StatusCode::CREATED);
    let balance = read_until(&mut stream, &mut buffer, |f| f.contains("event: balance")).await;
    assert!(balance.contains("\"available\":\"10.25\""), "{balance}");
    let transaction = read_until(&mut stream, &mut buffer, |f| f.contains("event: transaction")).await;
    assert!(transaction.contains("\"amount\":\"3.00\"") || transaction.contains("\"amount\":\"3\""), "{transaction}");
    assert_eq!(b.deposit(&alice, &acc, "1.00", "through-b-2").await.status, StatusCode::CREATED);
    let balance = read_until(&mut stream, &mut buffer, |f| f.contains("event: balance")).await;
    assert!(balance.contains("\"available\":\"11.25\""), "no duplicate of an earlier event: {balance}");

    a.state.shutdown().cancel();
    b.state.shutdown().cancel();
    drop(stream);
    drop((a, b));
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&mut conn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kyc_decision_reaches_the_users_stream_as_a_profile_event() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let response = app.router.clone().oneshot(app.get("/api/events").bearer(&alice).request()).await.unwrap();
    let mut stream = response.into_body().into_data_stream();
    let mut buffer = String::new();
    let bobs = app.router.clone().oneshot(app.get("/api/events").bearer(&bob).request()).await.unwrap();
    let mut bob_stream = bobs.into_body().into_data_stream();

    app.complete_profile(&alice).await;
    let saved = read_until(&mut stream, &mut buffer, |f| f.contains("event: profile")).await;
    assert!(
        saved.contains("\"address\":\"1 Main Street\"") && saved.contains("\"kyc_status\":\"unverified\""),
        "{saved}"
    );
    // The stream sends the profile as it is when read: a quick submission
    // and approval may arrive as one event, never out of order.
    app.verify(&alice).await;
    let verified = read_until(&mut stream, &mut buffer, |f| f.contains("\"kyc_status\":\"verified\"")).await;
    assert!(verified.contains("event: profile"), "{verified}");

    // Bob's stream hears nothing of Alice's profile.
    let mut bob_buffer = String::new();
    let heard = tokio::time::timeout(Duration::from_millis(300), bob_stream.next()).await;
    if let Ok(Some(Ok(chunk))) = heard {
        bob_buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!bob_buffer.contains("alice@example.com"), "{bob_buffer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kyc_decision_made_elsewhere_reaches_the_stream_at_its_session_check() {
    let settings = HttpSettings::default().event_session_check(Duration::from_millis(100));
    let app = TestApp::with(|b| b.settings(settings)).await;
    let alice = app.user("alice@example.com").await;
    app.complete_profile(&alice).await;
    assert_eq!(app.post("/api/me/kyc").bearer(&alice).send().await.status, StatusCode::OK);
    let response = app.router.clone().oneshot(app.get("/api/events").bearer(&alice).request()).await.unwrap();
    let mut stream = response.into_body().into_data_stream();
    let mut buffer = String::new();
    // Not through this instance's handlers: as another instance or the
    // `admin kyc` command would.
    let id = UserId::from_uuid(alice.id.parse().unwrap());
    app.state.ledger().review_kyc(&Actor::System, id, KycTransition::Approve).await.unwrap();
    let verified = read_until(&mut stream, &mut buffer, |f| f.contains("event: profile")).await;
    assert!(verified.contains("\"kyc_status\":\"verified\""), "{verified}");
}
