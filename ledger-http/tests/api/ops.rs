//! Health, metrics and the OpenAPI document.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::*;

/// Every route the service has (method, OpenAPI path).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions/{id}"),
    ("post", "/api/auth/password/change"),
    ("post", "/api/auth/password/reset-request"),
    ("post", "/api/auth/password/reset"),
    ("get", "/api/me"),
    ("patch", "/api/me"),
    ("post", "/api/me/kyc"),
    ("get", "/api/admin/users"),
    ("post", "/api/admin/users/{id}/kyc"),
    ("get", "/api/admin/users/{id}/accounts"),
    ("post", "/api/accounts"),
    ("get", "/api/accounts"),
    ("get", "/api/accounts/{id}"),
    ("patch", "/api/accounts/{id}"),
    ("get", "/api/accounts/{id}/balance"),
    ("post", "/api/accounts/{id}/freeze"),
    ("post", "/api/accounts/{id}/unfreeze"),
    ("post", "/api/accounts/{id}/close"),
    ("post", "/api/transactions/deposits"),
    ("post", "/api/transactions/withdrawals"),
    ("post", "/api/transactions/transfers"),
    ("post", "/api/holds"),
    ("post", "/api/holds/{id}/capture"),
    ("post", "/api/holds/{id}/void"),
    ("get", "/api/transactions"),
    ("post", "/api/transactions"),
    ("get", "/api/transactions/{id}"),
    ("post", "/api/ledger-accounts"),
    ("get", "/api/ledger-accounts"),
    ("get", "/api/ledger-accounts/{code}"),
    ("get", "/api/ledger-accounts/{code}/balance"),
    ("get", "/api/ledger-accounts/{code}/balance-history"),
    ("get", "/api/ledger-accounts/{code}/statement"),
    ("get", "/api/accounts/{id}/balance-history"),
    ("get", "/api/accounts/{id}/statement"),
    ("post", "/api/transactions/{id}/reverse"),
    ("get", "/api/audit"),
    ("get", "/api/admin/audit/verify"),
    ("get", "/api/events"),
    ("get", "/api/payees/{number}"),
    ("get", "/api/config"),
    ("post", "/api/webhooks/transactions"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_covers_every_route() {
    let app = TestApp::new().await;
    let r = app.get("/api/openapi.json").send().await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let documented: usize = paths.values().map(|item| item.as_object().unwrap().len()).sum();
    for (method, path) in ROUTES {
        assert!(paths.get(*path).and_then(|p| p.get(*method)).is_some(), "{method} {path} is not documented");
    }
    assert_eq!(documented, ROUTES.len(), "documented operations: {:?}", paths.keys().collect::<Vec<_>>());
    // And every documented operation is served (not a 404/405 fallback).
    for (method, path) in ROUTES {
        let concrete = path
            .replace("{id}", &uuid::Uuid::nil().to_string())
            .replace("{code}", "settlement:usd")
            .replace("{number}", "123456789012");
        let method = method.to_uppercase().parse().unwrap();
        let r = app.call(method, &concrete).send().await;
        let code = if r.header("content-type") == Some("application/problem+json") {
            r.json()["code"].clone()
        } else {
            json!(null)
        };
        assert_ne!(code, json!("route_not_found"), "{path}");
        assert_ne!(code, json!("method_not_allowed"), "{path}");
    }
    for scheme in ["bearer", "cookie"] {
        assert!(doc["components"]["securitySchemes"][scheme].is_object(), "{scheme}");
    }
    for schema in ["Problem", "TransactionDto", "AccountDto", "WebhookEvent", "LoginResponse", "Event", "EventBalance"]
    {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics() {
    let app = TestApp::new().await;
    let r = app.get("/health").send().await;
    assert_eq!(
        r.json(),
        json!({"status": "ok", "storage": "memory", "version": env!("CARGO_PKG_VERSION"), "degraded_sinks": []})
    );
    assert!(r.header("x-request-id").is_some());
    for path in ["/health/live", "/health/ready"] {
        let r = app.get(path).send().await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.json()["status"], "ok", "{path}");
    }

    let alice = app.user("alice@example.com").await;
    let (acc, _) = app.account(&alice, "USD").await;
    app.deposit(&alice, &acc, "5", "m1").await;
    app.deposit(&alice, &acc, "5", "m1").await; // a replay: not counted again
    app.post("/api/transactions/withdrawals")
        .bearer(&alice)
        .key("m2")
        .json(json!({"account_id": acc, "amount": "1"}))
        .send()
        .await;
    app.get("/no/such/route").send().await;

    let r = app.get("/metrics").send().await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let text = r.text();
    for line in [
        r#"http_requests_total{method="GET",route="/health",status="200"} 1"#,
        r#"http_requests_total{method="POST",route="/api/transactions/deposits",status="201"} 2"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"ledger_transactions_committed_total{kind="deposit"} 1"#,
        r#"ledger_transactions_rejected_total{reason="kyc_required"} 1"#,
        "http_request_duration_seconds_bucket",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
}

/// A sink failing past the threshold is named in `/health`, which stays
/// 200; one failing for less is not; `/metrics` shows each sink's series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_sinks_show_in_health_without_making_it_unhealthy() {
    use std::sync::Arc;

    use ledger_http::publish::SinkStatus;

    let app = TestApp::new().await;
    let now = app.state.ledger().now();
    let long = Arc::new(SinkStatus::new("nats:LONG".into(), app.state.metrics().clone()));
    let short = Arc::new(SinkStatus::new("webhook:https://example.com/h".into(), app.state.metrics().clone()));
    let fine = Arc::new(SinkStatus::new("amqp:fine".into(), app.state.metrics().clone()));
    for sink in [&long, &short, &fine] {
        app.state.metrics().sink_registered(sink.name());
        app.state.publishing().register(sink.clone());
    }
    let since = now - chrono::Duration::seconds(61);
    long.failed(since);
    long.failed(now);
    short.failed(now - chrono::Duration::seconds(5));
    fine.failed(since);
    fine.published();

    let r = app.get("/health").send().await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert_eq!(body["status"], "ok");
    let since = serde_json::to_value(since).unwrap();
    assert_eq!(body["degraded_sinks"], json!([{"sink": "nats:LONG", "failing_since": since}]));

    let text = app.get("/metrics").send().await.text();
    for line in [
        r#"ledger_publish_failures_total{sink="nats:LONG"} 2"#,
        r#"ledger_publish_published_total{sink="amqp:fine"} 1"#,
        r#"ledger_publish_lag_events{sink="nats:LONG"} "#,
        r#"ledger_publish_lag_seconds{sink="nats:LONG"} "#,
        r#"ledger_publish_cursor{sink="nats:LONG"} 0"#,
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
    // Nothing confirmed yet: the lag is the whole feed.
    let lag = text.lines().find_map(|l| l.strip_prefix(r#"ledger_publish_lag_events{sink="nats:LONG"} "#)).unwrap();
    let feed = app.state.ledger().events_count_after(0).await.unwrap();
    assert_eq!(lag.parse::<u64>().unwrap(), feed);
}

/// The OpenAPI links stateful fuzzers follow: each starts at a documented
/// response, names an existing operation, and fills parameters that operation has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_links_join_existing_operations() {
    let app = TestApp::new().await;
    let doc = app.get("/api/openapi.json").send().await.json();
    let operations: Vec<&serde_json::Value> =
        doc["paths"].as_object().unwrap().values().flat_map(|item| item.as_object().unwrap().values()).collect();
    let by_id = |id: &str| operations.iter().copied().find(|op| op["operationId"] == id);
    assert!(ledger_http::openapi::LINKS.len() >= 15);
    for link in ledger_http::openapi::LINKS {
        let source = by_id(link.source).unwrap_or_else(|| panic!("no operation {}", link.source));
        let target = by_id(link.target).unwrap_or_else(|| panic!("no operation {}", link.target));
        let links = source["responses"][link.status]["links"].as_object().unwrap_or_else(|| panic!("{link:?}"));
        let served = links.values().find(|l| l["operationId"] == link.target).unwrap_or_else(|| panic!("{link:?}"));
        if let Some((name, _)) = link.parameter {
            let params = target["parameters"].as_array().unwrap();
            assert!(params.iter().any(|p| p["name"] == name), "{} has no parameter {name}", link.target);
            assert!(served["parameters"][name].as_str().unwrap().starts_with("$response.body#/"));
        }
        if link.body.is_some() {
            assert!(target["requestBody"].is_object(), "{} takes no body", link.target);
            assert!(served["requestBody"].is_object());
        }
    }
}
