//! Money commands: deposits, withdrawals, transfers, holds.
//!
//! Each needs an `Idempotency-Key` header. New transactions answer 201;
//! capturing or voiding a hold answers 200. A replay (same key, same body)
//! answers like the first request (same status, the transaction as it now
//! stands), with `Idempotent-Replayed: true`; the same key with another
//! body is 409 `idempotency_conflict`. Keys are scoped per user by the core.

pub mod dto;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use ledger_core::{Actor, IdempotencyKey, MoneyCommand, TransactionId, VoidHold};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Auth;
use crate::dto::{CaptureRequest, DepositRequest, HoldRequest, TransactionDto, TransferRequest, WithdrawalRequest};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, IdempotencyKeyHeader};
use crate::state::AppState;

/// Set on every money response: whether it replays an earlier request.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A money command's response: 201, the replay marker, the transaction.
pub type MoneyResponse = (StatusCode, [(HeaderName, HeaderValue); 1], Json<TransactionDto>);

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(deposit))
        .routes(routes!(withdraw))
        .routes(routes!(transfer))
        .routes(routes!(place_hold))
        .routes(routes!(capture_hold))
        .routes(routes!(void_hold))
}

/// Runs a command through the core and counts the outcome.
pub(crate) async fn execute(
    state: &AppState,
    actor: &Actor,
    key: IdempotencyKey,
    command: MoneyCommand,
) -> Result<(TransactionDto, bool), ApiError> {
    let action = command.action();
    match state.ledger().execute(actor, key, command).await {
        Ok(receipt) => {
            if !receipt.replayed {
                state.metrics().transaction_committed(action);
            }
            Ok((TransactionDto::from(&receipt.transaction), receipt.replayed))
        }
        Err(error) => {
            state.metrics().transaction_rejected(error.root().code());
            Err(error.into())
        }
    }
}

/// Runs the command and answers `status` (201 for a new transaction, 200
/// for a change to an existing hold) with the replay marker.
async fn respond(
    state: &AppState,
    auth: &Auth,
    key: IdempotencyKey,
    command: MoneyCommand,
    status: StatusCode,
) -> Result<MoneyResponse, ApiError> {
    let (transaction, replayed) = execute(state, &auth.actor(), key, command).await?;
    Ok(money_response(status, transaction, replayed))
}

/// A money response: status, `Idempotent-Replayed`, the transaction.
pub(crate) fn money_response(status: StatusCode, transaction: TransactionDto, replayed: bool) -> MoneyResponse {
    let marker = HeaderValue::from_static(if replayed { "true" } else { "false" });
    (status, [(HeaderName::from_static(REPLAYED_HEADER), marker)], Json(transaction))
}

/// Credits one of the caller's accounts.
#[utoipa::path(
    post,
    path = "/api/transactions/deposits",
    tag = "money",
    request_body = DepositRequest,
    params(("Idempotency-Key" = String, Header, description = "1 to 128 printable ASCII characters; a retry reuses it")),
    responses(
        (status = 201, description = "Deposited (or replayed)", body = TransactionDto),
        (status = 400, description = "Missing Idempotency-Key, malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Key reused with another body; account frozen or closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid amount or description", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn deposit(
    State(state): State<AppState>,
    auth: Auth,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(body): ApiJson<DepositRequest>,
) -> Result<MoneyResponse, ApiError> {
    respond(&state, &auth, key, body.into_command()?.into(), StatusCode::CREATED).await
}

/// Debits one of the caller's accounts (KYC-verified customers only, by default).
#[utoipa::path(
    post,
    path = "/api/transactions/withdrawals",
    tag = "money",
    request_body = WithdrawalRequest,
    params(("Idempotency-Key" = String, Header, description = "1 to 128 printable ASCII characters")),
    responses(
        (status = 201, description = "Withdrawn (or replayed)", body = TransactionDto),
        (status = 403, description = "KYC verification required (`kyc_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Key conflict; account frozen or closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Insufficient funds, invalid amount", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn withdraw(
    State(state): State<AppState>,
    auth: Auth,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(body): ApiJson<WithdrawalRequest>,
) -> Result<MoneyResponse, ApiError> {
    respond(&state, &auth, key, body.into_command()?.into(), StatusCode::CREATED).await
}

/// Moves money from one of the caller's accounts to another account of the
/// same currency, named by id (the caller's) or by number (anyone's).
#[utoipa::path(
    post,
    path = "/api/transactions/transfers",
    tag = "money",
    request_body = TransferRequest,
    params(("Idempotency-Key" = String, Header, description = "1 to 128 printable ASCII characters")),
    responses(
        (status = 201, description = "Transferred (or replayed)", body = TransactionDto),
        (status = 403, description = "KYC verification required", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown source or destination", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Key conflict; an account frozen or closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Insufficient funds, currency mismatch, same account, invalid amount", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn transfer(
    State(state): State<AppState>,
    auth: Auth,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(body): ApiJson<TransferRequest>,
) -> Result<MoneyResponse, ApiError> {
    respond(&state, &auth, key, body.into_command()?.into(), StatusCode::CREATED).await
}

/// Reserves funds on one of the caller's accounts, to capture or void later.
#[utoipa::path(
    post,
    path = "/api/holds",
    tag = "money",
    request_body = HoldRequest,
    params(("Idempotency-Key" = String, Header, description = "1 to 128 printable ASCII characters")),
    responses(
        (status = 201, description = "Held (a `hold` transaction, `pending`)", body = TransactionDto),
        (status = 403, description = "KYC verification required", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Insufficient funds, invalid expiry or amount", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn place_hold(
    State(state): State<AppState>,
    auth: Auth,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    ApiJson(body): ApiJson<HoldRequest>,
) -> Result<MoneyResponse, ApiError> {
    respond(&state, &auth, key, body.into_command()?.into(), StatusCode::CREATED).await
}

/// Posts all (empty body) or part of a pending hold; the rest is released.
#[utoipa::path(
    post,
    path = "/api/holds/{id}/capture",
    tag = "money",
    params(
        ("id" = Uuid, Path, description = "Hold id"),
        ("Idempotency-Key" = String, Header, description = "1 to 128 printable ASCII characters"),
    ),
    request_body(content = Option<CaptureRequest>, description = "Optional; no body captures the whole hold"),
    responses(
        (status = 200, description = "Captured: the hold, now `posted`", body = TransactionDto),
        (status = 404, description = "No such hold of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Hold not pending or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Capture exceeds the hold", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn capture_hold(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    body: Option<ApiJson<CaptureRequest>>,
) -> Result<MoneyResponse, ApiError> {
    let body = body.map(|ApiJson(b)| b).unwrap_or_default();
    respond(&state, &auth, key, body.into_command(id)?.into(), StatusCode::OK).await
}

/// Releases a pending hold without posting.
#[utoipa::path(
    post,
    path = "/api/holds/{id}/void",
    tag = "money",
    params(
        ("id" = Uuid, Path, description = "Hold id"),
        ("Idempotency-Key" = String, Header, description = "1 to 128 printable ASCII characters"),
    ),
    responses(
        (status = 200, description = "Voided: the hold, now `voided`", body = TransactionDto),
        (status = 404, description = "No such hold of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Hold not pending", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn void_hold(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
) -> Result<MoneyResponse, ApiError> {
    respond(&state, &auth, key, VoidHold { hold: TransactionId::from_uuid(id) }.into(), StatusCode::OK).await
}
