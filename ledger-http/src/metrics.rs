//! Prometheus metrics: requests by route and status, latency histograms,
//! money commands committed and rejected (by reason), and each event
//! sink's cursor, lag, deliveries and failures.
//!
//! Each [`AppState`](crate::AppState) owns its registry (no process-global recorder), so
//! several services in one process (as in tests) never mix their numbers.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

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
    sink_published: IntCounterVec,
    sink_failures: IntCounterVec,
    sink_cursor: IntGaugeVec,
    sink_lag_events: IntGaugeVec,
    sink_lag_seconds: GaugeVec,
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
        let sink_published = IntCounterVec::new(
            Opts::new("ledger_publish_published_total", "Events a sink confirmed, by sink"),
            &["sink"],
        )?;
        let sink_failures = IntCounterVec::new(
            Opts::new("ledger_publish_failures_total", "Failed deliveries (each retried), by sink"),
            &["sink"],
        )?;
        let sink_cursor = IntGaugeVec::new(
            Opts::new("ledger_publish_cursor", "The sequence up to which a sink confirmed every event"),
            &["sink"],
        )?;
        let sink_lag_events = IntGaugeVec::new(
            Opts::new("ledger_publish_lag_events", "Committed events a sink has not confirmed yet"),
            &["sink"],
        )?;
        let sink_lag_seconds = GaugeVec::new(
            Opts::new("ledger_publish_lag_seconds", "Age of the oldest event a sink has not confirmed (0: none)"),
            &["sink"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(committed.clone()))?;
        registry.register(Box::new(rejected.clone()))?;
        registry.register(Box::new(sink_published.clone()))?;
        registry.register(Box::new(sink_failures.clone()))?;
        registry.register(Box::new(sink_cursor.clone()))?;
        registry.register(Box::new(sink_lag_events.clone()))?;
        registry.register(Box::new(sink_lag_seconds.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            committed,
            rejected,
            sink_published,
            sink_failures,
            sink_cursor,
            sink_lag_events,
            sink_lag_seconds,
        })
    }

    /// Counts an event the sink confirmed.
    pub fn sink_published(&self, sink: &str) {
        self.sink_published.with_label_values(&[sink]).inc();
    }

    /// Counts a failed delivery to the sink.
    pub fn sink_failed(&self, sink: &str) {
        self.sink_failures.with_label_values(&[sink]).inc();
    }

    /// Shows a sink's series from 0 before anything happened.
    pub fn sink_registered(&self, sink: &str) {
        self.sink_published.with_label_values(&[sink]);
        self.sink_failures.with_label_values(&[sink]);
        self.sink_lag(sink, 0, 0, 0.0);
    }

    /// Records a sink's cursor and lag, as read from the store.
    pub fn sink_lag(&self, sink: &str, cursor: u64, lag_events: u64, lag_seconds: f64) {
        self.sink_cursor.with_label_values(&[sink]).set(i64::try_from(cursor).unwrap_or(i64::MAX));
        self.sink_lag_events.with_label_values(&[sink]).set(i64::try_from(lag_events).unwrap_or(i64::MAX));
        self.sink_lag_seconds.with_label_values(&[sink]).set(lag_seconds);
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

/// Middleware: counts each request and times it. Its state is an `Arc`
/// and its labels borrowed: under load, cloning the metrics' ten handles
/// and allocating three label strings per request showed in the profile.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
    let status = response.status();
    metrics.requests.with_label_values(&[method, route, status.as_str()]).inc();
    metrics.latency.with_label_values(&[method, route]).observe(started.elapsed().as_secs_f64());
    response
}

/// The method's label: only standard methods become label values, since
/// arbitrary ones would let a client create unbounded series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_are_their_own_label_and_any_other_is_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        assert_eq!(method_label(&Method::TRACE), "other");
        let invented = Method::from_bytes(b"PROPFIND").unwrap_or(Method::CONNECT);
        assert_eq!(method_label(&invented), "other");
    }
}
