//! Balances over time: an account's balance history and statements (its
//! balance as of an instant is `GET .../balance?as_of=`, in `accounts.rs`),
//! and the same three for ledger accounts by code. Customers ask about
//! their own accounts (404 for others); admins about any.

pub mod dto;

use axum::Json;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use ledger_core::query::PAGE_SIZE_DEFAULT;
use ledger_core::{Account, AccountId, PostingCursor};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Auth;
use crate::dto::{BalanceQuery, BalanceResponse};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::accounts::balance_as_of_response;
use crate::routes::balances::dto::{
    BalanceChangeDto, BalanceHistoryPage, BalanceHistoryQuery, StatementDto, StatementQuery, statement_csv,
};
use crate::routes::ledger_accounts::admin_and_code;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(balance_history))
        .routes(routes!(statement))
        .routes(routes!(ledger_account_balance))
        .routes(routes!(ledger_account_balance_history))
        .routes(routes!(ledger_account_statement))
}

/// An account's postings in a period, newest first: the change each made
/// and the balance after it.
#[utoipa::path(
    get,
    path = "/api/accounts/{id}/balance-history",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id"), BalanceHistoryQuery),
    responses(
        (status = 200, description = "A page of balance history", body = BalanceHistoryPage),
        (status = 400, description = "Unparsable query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_period`, `invalid_cursor`, page size out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn balance_history(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<BalanceHistoryQuery>,
) -> Result<Json<BalanceHistoryPage>, ApiError> {
    history_page(&state, &auth, AccountId::from_uuid(id), query).await.map(Json)
}

/// An account's statement for a period, as JSON or (with `Accept:
/// text/csv` or `format=csv`) RFC 4180 CSV with an opening and a closing row.
#[utoipa::path(
    get,
    path = "/api/accounts/{id}/statement",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "Account id"), StatementQuery),
    responses(
        (status = 200, description = "The statement", content(
            (StatementDto = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Unparsable query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_period`, `statement_too_long`, unknown format", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn statement(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<StatementQuery>,
) -> Result<Response, ApiError> {
    statement_response(&state, &auth, &headers, AccountId::from_uuid(id), query).await
}

/// A ledger account's balance now, or its posted balance at a past instant (admins only).
#[utoipa::path(
    get,
    path = "/api/ledger-accounts/{code}/balance",
    tag = "ledger",
    params(("code" = String, Path, description = "The account's code, as is (no `@`)"), BalanceQuery),
    responses(
        (status = 200, description = "Balances now, or the posted balance as of the instant asked", body = BalanceResponse),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No ledger account has this code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid code; `as_of` in the future", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn ledger_account_balance(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(code): ApiPath<String>,
    ApiQuery(query): ApiQuery<BalanceQuery>,
) -> Result<Json<BalanceResponse>, ApiError> {
    match query.as_of {
        // The code's account id comes from memory once known: the posting
        // as of the instant is then the only read.
        Some(at) => {
            let account = ledger_account_id(&state, &auth, &code).await?;
            balance_as_of_response(&state, &auth, account, at).await.map(Json)
        }
        // The balance now is the account as read by its code: one read, taken
        // after the instant the response is stamped with (as `get_balance`).
        None => {
            let read_at = state.ledger().now();
            let account = ledger_account(&state, &auth, &code).await?;
            Ok(Json(BalanceResponse::new(&account, read_at)))
        }
    }
}

/// A ledger account's balance history (admins only).
#[utoipa::path(
    get,
    path = "/api/ledger-accounts/{code}/balance-history",
    tag = "ledger",
    params(("code" = String, Path, description = "The account's code, as is (no `@`)"), BalanceHistoryQuery),
    responses(
        (status = 200, description = "A page of balance history", body = BalanceHistoryPage),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No ledger account has this code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid code, `invalid_period`, `invalid_cursor`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn ledger_account_balance_history(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(code): ApiPath<String>,
    ApiQuery(query): ApiQuery<BalanceHistoryQuery>,
) -> Result<Json<BalanceHistoryPage>, ApiError> {
    let account = ledger_account_id(&state, &auth, &code).await?;
    history_page(&state, &auth, account, query).await.map(Json)
}

/// A ledger account's statement (admins only), as JSON or CSV.
#[utoipa::path(
    get,
    path = "/api/ledger-accounts/{code}/statement",
    tag = "ledger",
    params(("code" = String, Path, description = "The account's code, as is (no `@`)"), StatementQuery),
    responses(
        (status = 200, description = "The statement", content(
            (StatementDto = "application/json"),
            (String = "text/csv"),
        )),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No ledger account has this code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid code, `invalid_period`, `statement_too_long`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn ledger_account_statement(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiPath(code): ApiPath<String>,
    ApiQuery(query): ApiQuery<StatementQuery>,
) -> Result<Response, ApiError> {
    let account = ledger_account_id(&state, &auth, &code).await?;
    statement_response(&state, &auth, &headers, account, query).await
}

/// The id of the ledger account with this code, from memory once known
/// (admins only: [`admin_and_code`]).
async fn ledger_account_id(state: &AppState, auth: &Auth, code: &str) -> Result<AccountId, ApiError> {
    let (actor, code) = admin_and_code(auth, code)?;
    Ok(state.ledger().ledger_account_id(&actor, &code).await?)
}

/// The ledger account with this code (admins only: [`admin_and_code`]).
async fn ledger_account(state: &AppState, auth: &Auth, code: &str) -> Result<Account, ApiError> {
    let (actor, code) = admin_and_code(auth, code)?;
    Ok(state.ledger().ledger_account(&actor, &code).await?)
}

async fn history_page(
    state: &AppState,
    auth: &Auth,
    account: AccountId,
    query: BalanceHistoryQuery,
) -> Result<BalanceHistoryPage, ApiError> {
    let cursor = query.cursor.as_deref().map(str::parse::<PostingCursor>).transpose()?;
    let limit = query.limit.unwrap_or(PAGE_SIZE_DEFAULT);
    let history = state.ledger().balance_history(&auth.actor(), account, (query.from, query.to), cursor, limit).await?;
    Ok(BalanceHistoryPage {
        items: history.items.iter().map(|c| BalanceChangeDto::new(c, history.currency)).collect(),
        next_cursor: history.next_cursor.map(|c| c.to_string()),
    })
}

async fn statement_response(
    state: &AppState,
    auth: &Auth,
    headers: &HeaderMap,
    account: AccountId,
    query: StatementQuery,
) -> Result<Response, ApiError> {
    let csv = match query.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(_) => return Err(ApiError::unprocessable("invalid_format", "format must be `json` or `csv`")),
        None => headers
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.split(',').any(|part| part.trim().starts_with("text/csv"))),
    };
    let statement = state.ledger().statement(&auth.actor(), account, query.from, query.to).await?;
    let dto = StatementDto::from(&statement);
    if !csv {
        return Ok(Json(dto).into_response());
    }
    let body = statement_csv(&dto).map_err(ApiError::internal)?;
    let filename = format!("attachment; filename=\"statement-{}.csv\"", dto.account_id);
    let mut response = body.into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(disposition) = HeaderValue::from_str(&filename) {
        response.headers_mut().insert(CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}
