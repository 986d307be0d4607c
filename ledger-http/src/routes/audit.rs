//! The audit log (own records; all for admins) and the chain check.

pub mod dto;

use axum::Json;
use axum::extract::State;
use std::collections::BTreeMap;

use ledger_core::audit::AUDIT_PAGE_SIZE_MAX;
use ledger_core::{AccountId, Actor, AuditRecord, LedgerError, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Auth;
use crate::dto::{AuditPage, AuditQuery, AuditRecordDto, AuditVerification};
use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::state::AppState;

/// The page size when none is asked for.
pub const AUDIT_PAGE_SIZE_DEFAULT: usize = 100;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit_log)).routes(routes!(verify_chain))
}

/// Audit records, oldest first: the caller's own, or everyone's for an
/// admin, who may also read them newest first (`before`) and gets the
/// names of the users and accounts they mention.
#[utoipa::path(
    get,
    path = "/api/audit",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of audit records", body = AuditPage),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn audit_log(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = query.limit.unwrap_or(AUDIT_PAGE_SIZE_DEFAULT).min(AUDIT_PAGE_SIZE_MAX);
    let actor = auth.actor();
    let Some(before) = query.before else {
        let records = state.ledger().audit_log(&actor, query.after.unwrap_or(0), limit).await?;
        let next_after = if records.len() == limit { records.last().map(|r| r.sequence) } else { None };
        let names = if actor.is_privileged() { audit_names(&state, &records).await } else { BTreeMap::new() };
        let items = records.iter().map(AuditRecordDto::from).collect();
        return Ok(Json(AuditPage { items, next_after, next_before: None, names }));
    };
    if query.after.is_some() {
        return Err(ApiError::unprocessable("invalid_query", "give `after` or `before`, not both"));
    }
    actor.require_admin()?;
    if limit == 0 {
        return Err(LedgerError::InvalidPageSize { max: AUDIT_PAGE_SIZE_MAX }.into());
    }
    // Records with sequence in [start, end], newest first.
    let end = if before == 0 { last_sequence(&state, &actor).await? } else { before - 1 };
    let start = end.saturating_sub(limit as u64 - 1).max(1);
    let mut records = if end == 0 {
        Vec::new()
    } else {
        state.ledger().audit_log(&actor, start - 1, (end - start + 1) as usize).await?
    };
    records.reverse();
    let names = audit_names(&state, &records).await;
    let next_before = (start > 1 && end > 0).then_some(start);
    let items = records.iter().map(AuditRecordDto::from).collect();
    Ok(Json(AuditPage { items, next_after: None, next_before, names }))
}

/// The sequence of the newest audit record (0 when there is none), found by
/// galloping then bisecting over one-record reads: about 2·log2(n) reads.
async fn last_sequence(state: &AppState, actor: &Actor) -> Result<u64, ApiError> {
    let exists = |sequence: u64| async move {
        Ok::<bool, ApiError>(!state.ledger().audit_log(actor, sequence - 1, 1).await?.is_empty())
    };
    if !exists(1).await? {
        return Ok(0);
    }
    // Invariant: `low` exists, `high` does not.
    let mut low = 1u64;
    let mut high = 2u64;
    while exists(high).await? {
        low = high;
        high = high.saturating_mul(2);
    }
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if exists(middle).await? { low = middle } else { high = middle }
    }
    Ok(low)
}

/// Names for the `user:<id>` and `account:<id>` actors and targets of
/// `records` (an admin's page): a user's full name and email, an account's
/// kind or name and number. Unknown ones are left out.
async fn audit_names(state: &AppState, records: &[AuditRecord]) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for name in records.iter().flat_map(|r| [&r.actor, &r.target]) {
        if names.contains_key(name) {
            continue;
        }
        let resolved = if let Some(id) = name.strip_prefix("user:").and_then(|id| id.parse().ok()) {
            let user = state.ledger().user(&Actor::System, UserId::from_uuid(id)).await.ok();
            user.map(|u| format!("{} <{}>", u.profile.full_name, u.email.as_str()))
        } else if let Some(id) = name.strip_prefix("account:").and_then(|id| id.parse().ok()) {
            let account = state.ledger().account(&Actor::System, AccountId::from_uuid(id)).await.ok();
            account.map(|a| {
                let label = a.name.clone().unwrap_or_else(|| title(a.kind.as_str()));
                format!("{label} {}", grouped(&a.number.to_string()))
            })
        } else {
            None
        };
        if let Some(resolved) = resolved {
            names.insert(name.clone(), resolved);
        }
    }
    names
}

/// "checking" -> "Checking".
fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// "123456789012" -> "1234 5678 9012".
fn grouped(number: &str) -> String {
    let digits: Vec<char> = number.chars().collect();
    digits.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

/// Recomputes the whole hash chain (admins only). A broken chain is a
/// finding, reported as `valid: false`, not a failure of the request.
#[utoipa::path(
    get,
    path = "/api/admin/audit/verify",
    tag = "admin",
    responses(
        (status = 200, description = "The verdict", body = AuditVerification),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn verify_chain(State(state): State<AppState>, auth: Auth) -> Result<Json<AuditVerification>, ApiError> {
    let verdict = match state.ledger().verify_audit_chain(&auth.actor(), None).await {
        Ok(head) => AuditVerification {
            valid: true,
            sequence: Some(head.sequence),
            hash: Some(head.hash.to_string()),
            error: None,
        },
        Err(LedgerError::AuditChainBroken(found)) => {
            AuditVerification { valid: false, sequence: None, hash: None, error: Some(found.to_string()) }
        }
        Err(other) => return Err(other.into()),
    };
    Ok(Json(verdict))
}
