//! The audit log (own records; all for admins) and the chain check.

pub mod dto;

use axum::Json;
use axum::extract::State;
use ledger_core::LedgerError;
use ledger_core::audit::AUDIT_PAGE_SIZE_MAX;
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

/// Audit records, oldest first: the caller's own, or everyone's for an admin.
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
    let records = state.ledger().audit_log(&auth.actor(), query.after.unwrap_or(0), limit).await?;
    let next_after = if records.len() == limit { records.last().map(|r| r.sequence) } else { None };
    Ok(Json(AuditPage { items: records.iter().map(AuditRecordDto::from).collect(), next_after }))
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
