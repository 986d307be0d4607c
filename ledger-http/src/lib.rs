//! # ledger-http
//!
//! The ledger's HTTP service: a thin axum layer over [`ledger_core::Ledger`].
//! It parses requests, authenticates them, calls the core and maps the
//! core's errors to RFC 9457 problem responses. Every business rule lives in
//! `ledger-core`; nothing here decides whether money may move.
//!
//! [`app`] builds the router for an [`AppState`]; [`server::run`] is what the
//! `ledger-http` binary does (bind, serve, shut down gracefully). The
//! browser dashboard ([`dashboard`]) is embedded and served at `/`.
//!
//! **Invariant:** only this crate knows HTTP.

pub mod auth;
pub mod cli;
pub mod command;
pub mod config;
pub mod config_file;
pub mod dashboard;
pub mod dto;
pub mod dump_file;
pub mod error;
pub mod events;
pub mod extract;
pub mod media_type;
pub mod metrics;
pub mod names;
pub mod openapi;
pub mod operate;
pub mod publish;
pub mod rate_limit;
pub mod routes;
pub mod server;
#[cfg(feature = "postgres")]
pub mod shared_events;
pub mod state;
pub mod storage;
pub mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension};
use axum::http::{HeaderName, StatusCode};
use tower::ServiceBuilder;
use tower_http::LatencyUnit;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

pub use config::Config;
pub use error::{ApiError, Problem};
pub use state::{AppState, AppStateBuilder};

/// The largest request body accepted, in bytes (64 KiB); larger bodies get 413.
pub const BODY_SIZE_MAX: usize = 64 * 1024;

/// The header carrying each request's id, set if the client sent none.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The service's router, with every route, the OpenAPI document and the
/// middleware stack (request ids, tracing, metrics, problem details, panics,
/// timeout, rate limit, body limit).
pub fn app(state: AppState) -> Router {
    let (router, openapi) = routes::router().split_for_parts();
    let openapi = Arc::new(openapi::finish(openapi));
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let timeout = state.settings().request_timeout;
    // Listed outermost first. The request id is set before anything logs,
    // and problem details are rendered inside metrics so the recorded
    // status is the one the client sees.
    let middleware = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(make_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO).latency_unit(LatencyUnit::Millis)),
        )
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(axum::middleware::from_fn_with_state(Arc::new(state.metrics().clone()), metrics::track))
        .layer(axum::middleware::from_fn(error::problem_details))
        .layer(CatchPanicLayer::new())
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout_or_default(timeout)))
        .layer(axum::middleware::from_fn_with_state(state.limiter().cloned(), rate_limit::limit))
        .layer(axum::middleware::from_fn(media_type::require_json_bodies))
        .layer(DefaultBodyLimit::max(BODY_SIZE_MAX));
    router
        .merge(dashboard::router())
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(Extension(openapi))
        .layer(middleware)
        .with_state(state)
}

/// A zero timeout would fail every request; treat it as "use the default".
fn timeout_or_default(timeout: Duration) -> Duration {
    if timeout.is_zero() { state::REQUEST_TIMEOUT_DEFAULT } else { timeout }
}

/// The tracing span of one request: method, path and request id, so every
/// log line inside it (a 500's cause included) carries the id.
fn make_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
    )
}
