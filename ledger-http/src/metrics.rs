//! Prometheus metrics: requests by route and status, latency histograms,
//! and money commands committed and rejected (by reason).
//!
//! Each [`AppState`](crate::AppState) owns its registry (no process-global recorder), so
//! several services in one process (as in tests) never mix their numbers.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// The route label of requests that matched no route (kept constant so
/// scanners cannot blow up the label cardinality).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The service's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    committed: IntCounterVec,
    rejected: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to the response head, by method and route")
                .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            &["method", "route"],
        )?;
        let committed = IntCounterVec::new(
            Opts::new("ledger_transactions_committed_total", "Money commands committed, by kind"),
            &["kind"],
        )?;
        let rejected = IntCounterVec::new(
            Opts::new("ledger_transactions_rejected_total", "Money commands rejected, by reason code"),
            &["reason"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(committed.clone()))?;
        registry.register(Box::new(rejected.clone()))?;
        Ok(Metrics { registry, requests, latency, committed, rejected })
    }

    /// Counts a committed money command (replays are not counted again).
    pub fn transaction_committed(&self, kind: &str) {
        self.committed.with_label_values(&[kind]).inc();
    }

    /// Counts a rejected money command by its error code.
    pub fn transaction_rejected(&self, reason: &str) {
        self.rejected.with_label_values(&[reason]).inc();
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// Middleware: counts each request and times it.
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Only standard methods become label values: arbitrary ones would let
    // a client create unbounded series.
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ROUTE.to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics.requests.with_label_values(&[&method, &route, &status]).inc();
    metrics.latency.with_label_values(&[&method, &route]).observe(started.elapsed().as_secs_f64());
    response
}
