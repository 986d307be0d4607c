//! Reversals: `POST /api/transactions/{id}/reverse` moves (part of) a posted
//! transaction's money back in a new transaction of kind `reversal`. Admins
//! only; idempotent like every money command (see `money.rs`).

pub mod dto;

use axum::extract::State;
use axum::http::StatusCode;
use ledger_core::{LedgerError, Metadata, Reverse, TransactionId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Auth;
use crate::dto::TransactionDto;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, IdempotencyKeyHeader};
use crate::routes::money::{MoneyResponse, execute, money_response};
use crate::routes::reversals::dto::ReverseRequest;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(reverse_transaction))
}

impl ReverseRequest {
    /// The reversal this body asks for, of transaction `id`.
    pub fn into_command(self, id: Uuid) -> Result<Reverse, LedgerError> {
        Ok(Reverse {
            transaction: TransactionId::from_uuid(id),
            amount: self
                .amount
                .as_deref()
                .map(ledger_core::Amount::parse)
                .transpose()
                .map_err(LedgerError::InvalidAmount)?,
            description: self.description,
            metadata: Metadata::new(self.metadata.unwrap_or_default())?,
        })
    }
}

/// Reverses a posted transaction: every posting moved back (destination to
/// source), or, for a single-posting transaction, part of it, as often as
/// needed until all of it is reversed. Floors and statuses apply: a refund
/// the recipient already spent fails as `insufficient_funds`.
#[utoipa::path(
    post,
    path = "/api/transactions/{id}/reverse",
    tag = "ledger",
    params(
        ("id" = Uuid, Path, description = "The transaction to reverse"),
        ("Idempotency-Key" = String, Header, description = "1 to 128 printable ASCII characters; a retry reuses it"),
    ),
    request_body(content = Option<ReverseRequest>, description = "Optional; no body reverses all that is left"),
    responses(
        (status = 201, description = "The reversal (or its replay)", body = TransactionDto),
        (status = 400, description = "Missing Idempotency-Key, malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such transaction", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_reversed`, `not_reversible` (a pending or voided hold, a reversal), key conflict, an account frozen or closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`reversal_exceeds_original`, `invalid_reversal` (a part of several postings), `insufficient_funds`, invalid amount", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn reverse_transaction(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    body: Option<ApiJson<ReverseRequest>>,
) -> Result<MoneyResponse, ApiError> {
    let body = body.map(|ApiJson(b)| b).unwrap_or_default();
    let actor = auth.actor();
    let command = match body.into_command(id) {
        Ok(command) => command,
        Err(error) => return Err(state.ledger().audit_refusal(&actor, "reversal", error).await.into()),
    };
    let (transaction, replayed) = execute(&state, &actor, key, command.into()).await?;
    Ok(money_response(StatusCode::CREATED, transaction, replayed))
}
