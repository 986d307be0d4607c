//! Accounts: open, list, read, rename, balance, freeze, unfreeze, close.

pub mod dto;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ledger_core::{AccountId, AccountKind, LedgerError, OpenAccount, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Auth, AuthWithAccount};
use crate::dto::{AccountDto, AccountList, BalanceQuery, BalanceResponse, OpenAccountRequest, RenameAccountRequest};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_accounts, open_account))
        .routes(routes!(get_account, rename_account))
        .routes(routes!(get_balance))
        .routes(routes!(freeze))
        .routes(routes!(unfreeze))
        .routes(routes!(close))
        .routes(routes!(user_accounts))
}

/// Opens an account for the caller.
#[utoipa::path(
    post,
    path = "/api/accounts",
    tag = "accounts",
    request_body = OpenAccountRequest,
    responses(
        (status = 201, description = "Opened", body = AccountDto),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too many accounts", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown kind or currency, bad name", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn open_account(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<OpenAccountRequest>,
) -> Result<(StatusCode, Json<AccountDto>), ApiError> {
    // Settlement parses as a kind; the core refuses it for customers.
    let kind = AccountKind::parse(&body.kind).ok_or(LedgerError::InvalidAccountKind)?;
    let currency = crate::command::currency(&body.currency)?;
    let mut command = OpenAccount::new(auth.authenticated.user.id, kind, currency);
    command.name = body.name;
    command.metadata = crate::command::metadata(body.metadata)?;
    let account = state.ledger().open_account(&auth.actor(), command).await?;
    Ok((StatusCode::CREATED, Json(AccountDto::from(&account))))
}

/// The caller's accounts.
#[utoipa::path(
    get,
    path = "/api/accounts",
    tag = "accounts",
    responses(
        (status = 200, description = "The caller's accounts, oldest first", body = AccountList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn list_accounts(State(state): State<AppState>, auth: Auth) -> Result<Json<AccountList>, ApiError> {
    let accounts = state.ledger().accounts_of(&auth.actor(), auth.authenticated.user.id).await?;
    Ok(Json(AccountList { items: accounts.iter().map(AccountDto::from).collect() }))
}

/// One of the caller's accounts.
#[utoipa::path(
    get,
    path = "/api/accounts/{id}",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account", body = AccountDto),
        (status = 404, description = "No such account of the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn get_account(read: AuthWithAccount) -> Result<Json<AccountDto>, ApiError> {
    Ok(Json(AccountDto::from(&read.account?)))
}

/// Gives one of the caller's accounts a new display name (admins: any
/// account but the settlement ones), or clears it with `null`.
#[utoipa::path(
    patch,
    path = "/api/accounts/{id}",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id")),
    request_body = RenameAccountRequest,
    responses(
        (status = 200, description = "Renamed", body = AccountDto),
        (status = 404, description = "No such account of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account is closed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad name", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn rename_account(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<RenameAccountRequest>,
) -> Result<Json<AccountDto>, ApiError> {
    let id = AccountId::from_uuid(id);
    let account = state.ledger().rename_account(&auth.actor(), id, body.name.as_deref()).await?;
    Ok(Json(AccountDto::from(&account)))
}

/// The real-time balance of one of the caller's accounts, or its posted
/// balance at a past instant (`?as_of=`).
#[utoipa::path(
    get,
    path = "/api/accounts/{id}/balance",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id"), BalanceQuery),
    responses(
        (status = 200, description = "Balances as of now, or the posted balance as of the instant asked", body = BalanceResponse),
        (status = 400, description = "Unparsable `as_of`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`as_of` in the future (`instant_in_future`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn get_balance(
    State(state): State<AppState>,
    read: AuthWithAccount,
    ApiQuery(query): ApiQuery<BalanceQuery>,
) -> Result<Json<BalanceResponse>, ApiError> {
    if let Some(at) = query.as_of {
        return balance_as_of_response(&state, &read.auth, read.id, at).await.map(Json);
    }
    Ok(Json(BalanceResponse::new(&read.account?, read.read_at)))
}

/// An account's posted balance at `at`, if the caller may see the account.
pub(crate) async fn balance_as_of_response(
    state: &AppState,
    auth: &Auth,
    account: AccountId,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<BalanceResponse, ApiError> {
    Ok(BalanceResponse::as_of(&state.ledger().balance_as_of(&auth.actor(), account, at).await?))
}

/// Freezes an account: it takes no postings until an admin unfreezes it.
#[utoipa::path(
    post,
    path = "/api/accounts/{id}/freeze",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "Frozen", body = AccountDto),
        (status = 404, description = "No such account of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not active", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn freeze(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<AccountDto>, ApiError> {
    let account = state.ledger().freeze(&auth.actor(), AccountId::from_uuid(id)).await?;
    Ok(Json(AccountDto::from(&account)))
}

/// Unfreezes an account (admins only).
#[utoipa::path(
    post,
    path = "/api/accounts/{id}/unfreeze",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "Active again", body = AccountDto),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not frozen", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn unfreeze(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<AccountDto>, ApiError> {
    let account = state.ledger().unfreeze(&auth.actor(), AccountId::from_uuid(id)).await?;
    Ok(Json(AccountDto::from(&account)))
}

/// Closes an account with a zero balance and no open holds. Final.
#[utoipa::path(
    post,
    path = "/api/accounts/{id}/close",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "Closed", body = AccountDto),
        (status = 404, description = "No such account of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Non-zero balance, open holds or already closed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn close(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<AccountDto>, ApiError> {
    let account = state.ledger().close(&auth.actor(), AccountId::from_uuid(id)).await?;
    Ok(Json(AccountDto::from(&account)))
}

/// A user's accounts, oldest first: any user's for an admin (to freeze or
/// unfreeze them); a customer sees only their own, and other ids are not found.
#[utoipa::path(
    get,
    path = "/api/admin/users/{id}/accounts",
    tag = "admin",
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, description = "The user's accounts, oldest first", body = AccountList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Another user's id, asked by a customer", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn user_accounts(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<AccountList>, ApiError> {
    let accounts = state.ledger().accounts_of(&auth.actor(), UserId::from_uuid(id)).await?;
    Ok(Json(AccountList { items: accounts.iter().map(AccountDto::from).collect() }))
}
