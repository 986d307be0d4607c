//! Server-Sent Events deliver the user's own balance and transaction changes.

use std::time::Duration;

use axum::http::StatusCode;
use futures::StreamExt;
use tower::ServiceExt;

use ledger_http::state::HttpSettings;

use crate::common::*;

/// Reads SSE frames until one satisfies `wanted`, within a deadline.
async fn read_until(
    stream: &mut (impl futures::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
    buffer: &mut String,
    wanted: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
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
    let settings = HttpSettings { event_session_check: Duration::from_millis(100), ..HttpSettings::default() };
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
