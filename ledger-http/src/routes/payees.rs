//! Confirmation of payee: before a customer sends money to an account
//! number, the name its owner goes by, as a bank shows it ("Alice N.").
//!
//! What it tells is what a transfer would: an active customer account with
//! that number exists in that currency, and its owner's first name and last
//! initial. Anything else (no such number, another currency, a frozen or
//! closed account, a ledger account) is the same `payee_not_found`, and each
//! user has a small budget of look-ups ([`crate::rate_limit::PayeeLookups`])
//! on top of the per-address rate limit, so it maps few numbers to names.

pub mod dto;

use axum::Json;
use axum::extract::State;
use ledger_core::{AccountStatus, Actor, LedgerError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::dto::{PayeeDto, PayeeQuery};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiPath, ApiQuery};
use crate::names::display_name;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(payee))
}

/// The display name of the owner of an account number, for the caller to
/// confirm before a transfer.
#[utoipa::path(
    get,
    path = "/api/payees/{number}",
    tag = "accounts",
    params(("number" = String, Path, description = "The 12-digit account number"), PayeeQuery),
    responses(
        (status = 200, description = "An active customer account in that currency, and its owner's display name", body = PayeeDto),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active customer account with that number in that currency (`payee_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an account number, or an unknown currency", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The caller's look-ups are spent for now (`payee_lookups_exhausted`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn payee(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(number): ApiPath<String>,
    ApiQuery(query): ApiQuery<PayeeQuery>,
) -> Result<Json<PayeeDto>, ApiError> {
    let number = crate::command::account_number(&number)?;
    let currency = crate::command::currency(&query.currency)?;
    if let Err(retry_after_secs) = state.payee_lookups().check(auth.authenticated.user.id) {
        return Err(ApiError::too_many_requests(
            "payee_lookups_exhausted",
            "too many account numbers looked up; try again later",
            retry_after_secs,
        ));
    }
    let not_found = || ApiError::not_found("payee_not_found", "no account to pay with this number in this currency");
    let account = match state.ledger().account_by_number(&Actor::System, number).await {
        Ok(account) => account,
        Err(LedgerError::AccountNumberNotFound { .. }) => return Err(not_found()),
        Err(other) => return Err(other.into()),
    };
    if !account.kind.is_customer() || account.currency != currency || account.status != AccountStatus::Active {
        return Err(not_found());
    }
    let owner = state.ledger().user(&Actor::System, account.owner).await?;
    Ok(Json(PayeeDto {
        number: account.number.to_string(),
        currency: currency.code().to_owned(),
        display_name: display_name(&owner.profile.full_name),
        own: account.owner == auth.authenticated.user.id,
    }))
}
