//! Operational endpoints: health, Prometheus metrics, the OpenAPI document.

pub mod dto;

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dto::Health;
use crate::error::{ApiError, Problem};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(metrics)).routes(routes!(openapi_json))
}

/// Liveness and storage readiness; event sinks failing for long are
/// listed, and leave the service healthy.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "Serving, storage answers", body = Health),
        (status = 503, description = "Storage does not answer", body = Health),
    )
)]
pub async fn health(State(state): State<AppState>) -> Response {
    let store = state.ledger().store();
    let (status, word) = match store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(%error, "health check: storage does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    };
    let body = Health {
        status: word.to_owned(),
        storage: store.backend().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        degraded_sinks: state.publishing().degraded(state.ledger().now()),
    };
    (status, Json(body)).into_response()
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
