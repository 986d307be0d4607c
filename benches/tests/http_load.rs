//! The HTTP load generator against an in-process ledger-http on 127.0.0.1:
//! set-up through the real API (register, KYC, signed webhook deposits),
//! a bounded mixed load, memory samples, and the books still balanced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use ledger_bench::BenchError;
use ledger_bench::http::{HttpArgs, run};
use ledger_bench::invariants::check_balances;
use ledger_core::{MemoryStore, Registration};
use ledger_http::state::WebhookSecret;
use ledger_http::{AppState, app};

const SECRET: &str = "http-load-test-secret";
const ADMIN_EMAIL: &str = "load-admin@example.com";
const ADMIN_PASSWORD: &str = "load admin password 2026";

/// Serves a fresh in-memory service on 127.0.0.1; returns its URL and state.
async fn serve() -> (String, AppState) {
    let state = AppState::builder(Arc::new(MemoryStore::new()))
        .insecure_fast_password_hashing()
        .webhook_secret(WebhookSecret::new(SECRET))
        .build()
        .await
        .unwrap();
    let admin = Registration { email: ADMIN_EMAIL.into(), password: ADMIN_PASSWORD.into(), full_name: "Admin".into() };
    state.ledger().bootstrap_admin(admin).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = app(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, state)
}

fn args(url: String) -> HttpArgs {
    HttpArgs {
        url: Some(url),
        server_bin: None,
        storage: None,
        baseline: false,
        baseline_bin: None,
        rounds: 1,
        rate: None,
        check_bars: false,
        pid: Some(std::process::id()),
        admin_email: ADMIN_EMAIL.into(),
        admin_password: ADMIN_PASSWORD.into(),
        webhook_secret: SECRET.into(),
        users: 3,
        clients: 4,
        seconds: 1.0,
        read_percent: 50,
        rss_interval_seconds: 0.2,
        seed: 7,
        json: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_reads_balances_and_transfers_between_funded_users_and_samples_memory() {
    let (url, state) = serve().await;
    let report = run(&args(url), &mut |_: &str| {}).await.unwrap();
    let [balance, transfer] = &report.kinds[..] else { panic!("{report:?}") };
    assert_eq!((balance.kind, transfer.kind), ("balance", "transfer"));
    assert!(balance.ok > 0 && transfer.ok > 0, "{report:?}");
    assert_eq!(balance.errors + transfer.errors, 0, "{report:?}");
    assert!(report.requests_per_second > 0.0 && transfer.latency.p50_micros > 0, "{report:?}");
    assert!(report.rss.len() >= 3 && report.rss.iter().all(|s| s.rss_kib > 0), "{:?}", report.rss);
    assert!(report.markdown().contains("| transfer |"), "{}", report.markdown());
    let check = check_balances(state.ledger().store().as_ref()).await.unwrap();
    assert!(check.balanced, "{check:?}");
    assert_eq!(check.sums.get("USD").map(String::as_str), Some("0"), "{check:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_rate_sends_on_schedule_not_as_fast_as_answers_come() {
    let (url, _state) = serve().await;
    let mut args = args(url);
    args.rate = Some(100.0);
    args.pid = None;
    let report = run(&args, &mut |_: &str| {}).await.unwrap();
    let sent: u64 = report.kinds.iter().map(|k| k.ok + k.errors).sum();
    // 100/s for one second over four clients: about 100, never the
    // thousands a closed loop gets from an in-memory service.
    assert!((80..=110).contains(&sent), "{sent} requests: {report:?}");
}

#[tokio::test]
async fn a_wrong_webhook_secret_fails_the_set_up_with_the_service_answer() {
    let (url, _state) = serve().await;
    let mut args = args(url);
    args.webhook_secret = "not-the-secret".into();
    let error = run(&args, &mut |_: &str| {}).await.err();
    let Some(BenchError::Http(message)) = error else { panic!("{error:?}") };
    assert!(message.contains("webhook deposit: 401"), "{message}");
}
