//! Ledger accounts: the accounts the application opens and names (fees,
//! escrow, FX, revenue), owned by no customer. Admins only.

pub mod dto;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ledger_core::query::{PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX};
use ledger_core::{AccountCode, Actor, LedgerError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::ledger_accounts::dto::{
    LedgerAccountDto, LedgerAccountList, LedgerAccountsQuery, OpenLedgerAccountRequest,
};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_ledger_accounts, open_ledger_account)).routes(routes!(get_ledger_account))
}

/// Opens a ledger account (admins only).
#[utoipa::path(
    post,
    path = "/api/ledger-accounts",
    tag = "ledger",
    request_body = OpenLedgerAccountRequest,
    responses(
        (status = 201, description = "Opened", body = LedgerAccountDto),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The code is taken (`account_code_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid code, currency, normal balance, floor, name or metadata", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn open_ledger_account(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<OpenLedgerAccountRequest>,
) -> Result<(StatusCode, Json<LedgerAccountDto>), ApiError> {
    let actor = auth.actor();
    let command = match body.into_command() {
        Ok(command) => command,
        Err(error) => return Err(state.ledger().audit_refusal(&actor, "ledger_account.open", error).await.into()),
    };
    let account = state.ledger().open_ledger_account(&actor, command).await?;
    Ok((StatusCode::CREATED, Json(LedgerAccountDto::from(&account))))
}

/// Ledger accounts in code order (admins only).
#[utoipa::path(
    get,
    path = "/api/ledger-accounts",
    tag = "ledger",
    params(LedgerAccountsQuery),
    responses(
        (status = 200, description = "A page of ledger accounts", body = LedgerAccountList),
        (status = 400, description = "Unknown query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Page size out of range, malformed cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn list_ledger_accounts(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<LedgerAccountsQuery>,
) -> Result<Json<LedgerAccountList>, ApiError> {
    let limit = query.limit.unwrap_or(PAGE_SIZE_DEFAULT);
    if limit == 0 || limit > PAGE_SIZE_MAX {
        return Err(LedgerError::InvalidPageSize { max: PAGE_SIZE_MAX }.into());
    }
    // The cursor is the last code of the previous page.
    let after = query.cursor.as_deref().map(AccountCode::parse).transpose().map_err(|_| LedgerError::InvalidCursor)?;
    let ledger = state.ledger();
    let accounts = ledger.ledger_accounts(&auth.actor(), after.as_ref(), limit).await?;
    // A full page has a next one if one more account follows its last.
    let last = accounts.last().and_then(|a| a.code.clone()).filter(|_| accounts.len() == limit);
    let next_cursor = match last {
        Some(last) if !ledger.ledger_accounts(&auth.actor(), Some(&last), 1).await?.is_empty() => {
            Some(last.as_str().to_owned())
        }
        _ => None,
    };
    Ok(Json(LedgerAccountList { items: accounts.iter().map(LedgerAccountDto::from).collect(), next_cursor }))
}

/// One ledger account by its code (admins only).
#[utoipa::path(
    get,
    path = "/api/ledger-accounts/{code}",
    tag = "ledger",
    params(("code" = String, Path, description = "The account's code, as is (no `@`)")),
    responses(
        (status = 200, description = "The account", body = LedgerAccountDto),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No ledger account has this code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid code", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn get_ledger_account(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<LedgerAccountDto>, ApiError> {
    let (actor, code) = admin_and_code(&auth, &code)?;
    let account = state.ledger().ledger_account(&actor, &code).await?;
    Ok(Json(LedgerAccountDto::from(&account)))
}

/// The admin asking about a ledger account and the code they named: 403
/// for anyone else before the code is judged, so to them every code, valid
/// or not, existing or not, is forbidden alike and none is revealed.
pub(crate) fn admin_and_code(auth: &Auth, code: &str) -> Result<(Actor, AccountCode), ApiError> {
    let actor = auth.actor();
    actor.require_admin()?;
    Ok((actor, AccountCode::parse(code)?))
}
