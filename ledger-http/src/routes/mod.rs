//! The routes, one module per concern. Every route is registered through
//! `utoipa_axum::routes!`, so the OpenAPI document covers exactly the
//! routes that exist.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod balances;
pub mod entries;
pub mod events;
pub mod health;
pub mod history;
pub mod ledger_accounts;
pub mod money;
pub mod payees;
pub mod profile;
pub mod reversals;
pub mod webhook;

use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;

/// Every route of the service, with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .merge(auth::router())
        .merge(profile::router())
        .merge(accounts::router())
        .merge(money::router())
        .merge(payees::router())
        .merge(history::router())
        .merge(entries::router())
        .merge(reversals::router())
        .merge(balances::router())
        .merge(ledger_accounts::router())
        .merge(audit::router())
        .merge(events::router())
        .merge(webhook::router())
}

/// The fallback for paths no route matches.
pub async fn not_found() -> ApiError {
    ApiError::not_found("route_not_found", "no route matches this path")
}

/// The fallback for a known path with another method.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this path does not take this method")
}
