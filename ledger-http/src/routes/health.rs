//! Operational endpoints: health (the report, liveness, readiness),
//! Prometheus metrics, the OpenAPI document, the service's user-visible
//! settings.

pub mod dto;

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::{Health, ServiceConfig};
use crate::error::{ApiError, Problem, STORAGE_RETRY_AFTER_SECS};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
        .routes(routes!(service_config))
}

/// What the dashboard needs to know about how this service runs, before
/// and after sign-in: the development modes that are on.
#[utoipa::path(
    get,
    path = "/api/config",
    tag = "operations",
    responses((status = 200, description = "The service's user-visible settings", body = ServiceConfig))
)]
pub async fn service_config(State(state): State<AppState>) -> Json<ServiceConfig> {
    Json(ServiceConfig { dev_auto_approve_kyc: state.settings().dev_auto_approve_kyc })
}

/// The service and its storage: `ok`, or `degraded` while storage does
/// not answer (still 200: the process serves, and says what it lacks);
/// event sinks failing for long are listed, and leave the service healthy.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses((status = 200, description = "Serving; `status` is `ok`, or `degraded` while storage does not answer", body = Health))
)]
pub async fn health(State(state): State<AppState>) -> Response {
    let word = if storage_answers(&state).await { "ok" } else { "degraded" };
    (StatusCode::OK, Json(report(&state, word))).into_response()
}

/// Liveness: the process is serving (200 whatever the storage says), so an
/// orchestrator restarts it only when it stops answering at all.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "operations",
    responses((status = 200, description = "The process is serving", body = Health))
)]
pub async fn live(State(state): State<AppState>) -> Response {
    (StatusCode::OK, Json(report(&state, "ok"))).into_response()
}

/// Readiness: 200 only while storage answers, so a load balancer stops
/// sending requests during a failover without restarting the instance.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "operations",
    responses(
        (status = 200, description = "Storage answers: ready for requests", body = Health),
        (status = 503, description = "Storage does not answer: send requests elsewhere", body = Health),
    )
)]
pub async fn ready(State(state): State<AppState>) -> Response {
    if storage_answers(&state).await {
        (StatusCode::OK, Json(report(&state, "ok"))).into_response()
    } else {
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(report(&state, "unavailable"))).into_response();
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(STORAGE_RETRY_AFTER_SECS));
        response
    }
}

/// Whether the store answers a ping (its failure is logged).
async fn storage_answers(state: &AppState) -> bool {
    match state.ledger().store().ping().await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(%error, "health check: storage does not answer");
            false
        }
    }
}

fn report(state: &AppState, status: &str) -> Health {
    Health {
        status: status.to_owned(),
        storage: state.ledger().store().backend().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        degraded_sinks: state.publishing().degraded(state.ledger().now()),
    }
}

/// Metrics in the Prometheus text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    state.publishing().refresh_metrics(state.ledger(), state.metrics(), state.ledger().now()).await;
    let text = state.metrics().render().map_err(ApiError::internal)?;
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document of this service", body = Object),
        (status = 500, description = "Server error", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn openapi_json(Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>) -> Json<utoipa::openapi::OpenApi> {
    Json(doc.as_ref().clone())
}
