//! General ledger entries: `POST /api/transactions`, postings between any
//! accounts applied all or nothing. Admins only; customers use transfers.
//! Idempotent like every money command (see `money.rs`).

pub mod dto;

use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::dto::TransactionDto;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, IdempotencyKeyHeader};
use crate::routes::entries::dto::EntryRequest;
use crate::routes::money::{MoneyResponse, execute, money_response};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_entry))
}

/// Posts an entry: 1 to 64 postings, each moving an amount of one currency
/// from a source to a destination account (an id, a 12-digit number, or
/// `@code`), applied all or nothing; floors are checked on the final state.
#[utoipa::path(
    post,
    path = "/api/transactions",
    tag = "ledger",
    request_body = EntryRequest,
    params(("Idempotency-Key" = String, Header, description = "1 to 128 printable ASCII characters; a retry reuses it")),
    responses(
        (status = 201, description = "Posted (or replayed)", body = TransactionDto),
        (status = 400, description = "Missing Idempotency-Key, malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "An unknown account, number or code", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Key reused with another body; an account frozen or closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid postings, currency mismatch, metadata; `insufficient_funds` with `posting`, the index of the posting whose account ends below its floor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn post_entry(
    State(state): State<AppState>,
    auth: Auth,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(body): ApiJson<EntryRequest>,
) -> Result<MoneyResponse, ApiError> {
    let actor = auth.actor();
    let command = match body.into_command() {
        Ok(command) => command,
        Err(error) => return Err(state.ledger().audit_refusal(&actor, "entry", error).await.into()),
    };
    let (transaction, replayed) = execute(&state, &actor, key, command.into()).await?;
    Ok(money_response(StatusCode::CREATED, transaction, replayed))
}
