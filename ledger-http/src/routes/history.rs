//! Transaction history with filters and cursor pagination; one transaction.

pub mod dto;

use axum::Json;
use axum::extract::State;
use ledger_core::query::PAGE_SIZE_DEFAULT;
use ledger_core::{
    AccountId, Cursor, HistoryFilter, LedgerError, PAGE_SIZE_MAX, PageRequest, TransactionId, TransactionKind,
    TransactionStatus,
};
use std::collections::BTreeMap;

use ledger_core::Transaction;
use rust_decimal::Decimal;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Auth;
use crate::dto::{HistoryQuery, TransactionDto, TransactionPage};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiPath, ApiQuery};
use crate::names::counterparty_names;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(history)).routes(routes!(get_transaction))
}

/// The caller's transactions, newest first.
#[utoipa::path(
    get,
    path = "/api/transactions",
    tag = "history",
    params(HistoryQuery),
    responses(
        (status = 200, description = "A page of transactions", body = TransactionPage),
        (status = 400, description = "Unparsable query string", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`account_id` is not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid filter, cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn history(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<HistoryQuery>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<TransactionPage>, ApiError> {
    let metadata = metadata_filter(&pairs)?;
    let filter = HistoryFilter {
        accounts: query.account_id.map(AccountId::from_uuid).into_iter().collect(),
        kind: query.kind.as_deref().map(parse_kind).transpose()?,
        status: query.status.as_deref().map(parse_status).transpose()?,
        created_from: query.from,
        created_until: query.to,
        amount_min: query.min_amount.as_deref().map(bound).transpose()?,
        amount_max: query.max_amount.as_deref().map(bound).transpose()?,
        metadata,
    };
    // Oversized pages are capped rather than refused; zero is still an error.
    let size = query.limit.unwrap_or(PAGE_SIZE_DEFAULT).min(PAGE_SIZE_MAX);
    let cursor = query.cursor.as_deref().map(str::parse::<Cursor>).transpose()?;
    let page = state.ledger().history(&auth.actor(), &filter, PageRequest { cursor, size }).await?;
    let reader = auth.authenticated.user.id;
    let sides: Vec<AccountId> = page.items.iter().flat_map(|t| [t.from_account, t.to_account]).flatten().collect();
    let names = counterparty_names(state.ledger(), reader, sides).await;
    Ok(Json(TransactionPage {
        items: page.items.iter().map(|t| named(t, &names)).collect(),
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

/// The prefix of a metadata filter parameter: `metadata.order_id=A-1`.
const METADATA_PARAM_PREFIX: &str = "metadata.";

/// The metadata pairs a history query names; any other parameter it does
/// not know is an error (a misspelt filter must not silently match all).
fn metadata_filter(pairs: &[(String, String)]) -> Result<Vec<(String, String)>, ApiError> {
    let mut metadata = Vec::new();
    for (name, value) in pairs {
        match name.strip_prefix(METADATA_PARAM_PREFIX) {
            Some(key) => metadata.push((key.to_owned(), value.clone())),
            None if HISTORY_PARAMS.contains(&name.as_str()) => {}
            None => return Err(ApiError::bad_request("invalid_query", format!("unknown query parameter `{name}`"))),
        }
    }
    Ok(metadata)
}

/// The parameters of [`HistoryQuery`] (besides `metadata.<key>`).
const HISTORY_PARAMS: &[&str] =
    &["account_id", "kind", "status", "from", "to", "min_amount", "max_amount", "limit", "cursor"];

fn parse_kind(text: &str) -> Result<TransactionKind, ApiError> {
    TransactionKind::parse(text).ok_or_else(|| {
        ApiError::unprocessable("invalid_filter", "kind must be deposit, withdrawal, transfer, hold, entry or reversal")
    })
}

fn parse_status(text: &str) -> Result<TransactionStatus, ApiError> {
    TransactionStatus::parse(text)
        .ok_or_else(|| ApiError::unprocessable("invalid_filter", "status must be pending, posted or voided"))
}

/// An amount bound: a plain non-negative decimal, exactly as written.
fn bound(text: &str) -> Result<Decimal, ApiError> {
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    match Decimal::from_str_exact(text) {
        Ok(value) if plain && value >= Decimal::ZERO => Ok(value),
        _ => Err(LedgerError::InvalidFilter("amount bounds are plain non-negative decimals").into()),
    }
}

/// One transaction touching the caller's accounts.
#[utoipa::path(
    get,
    path = "/api/transactions/{id}",
    tag = "history",
    params(("id" = Uuid, Path, description = "Transaction id")),
    responses(
        (status = 200, description = "The transaction", body = TransactionDto),
        (status = 404, description = "No such transaction of the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn get_transaction(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<TransactionDto>, ApiError> {
    let transaction = state.ledger().transaction(&auth.actor(), TransactionId::from_uuid(id)).await?;
    let sides = [transaction.from_account, transaction.to_account].into_iter().flatten();
    let names = counterparty_names(state.ledger(), auth.authenticated.user.id, sides).await;
    Ok(Json(named(&transaction, &names)))
}

/// The transaction with the names of the people on its sides that are not
/// the reader (from `names`, of a whole page).
fn named(transaction: &Transaction, names: &BTreeMap<Uuid, String>) -> TransactionDto {
    let mut dto = TransactionDto::from(transaction);
    for side in [transaction.from_account, transaction.to_account].into_iter().flatten() {
        if let Some(name) = names.get(side.as_uuid()) {
            dto.names.insert(*side.as_uuid(), name.clone());
        }
    }
    dto
}
