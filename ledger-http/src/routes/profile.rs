//! The caller's profile and KYC submission; the admin's user list and KYC review.

pub mod dto;

use axum::Json;
use axum::extract::State;
use ledger_core::identity::{KycTransition, ProfilePatch};
use ledger_core::{Actor, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Auth;
use crate::dto::{KycDecision, KycReviewRequest, ProfilePatchRequest, UserDto, UserList, UsersQuery};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::state::AppState;

/// The largest page of the admin's user list (the core's own limit).
pub const USERS_PAGE_SIZE_MAX: usize = 200;
/// The page size when none is asked for.
pub const USERS_PAGE_SIZE_DEFAULT: usize = 50;
/// How many users one search request reads at most.
pub const USERS_SEARCH_SCAN_MAX: usize = 5_000;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me))
        .routes(routes!(submit_kyc))
        .routes(routes!(list_users))
        .routes(routes!(review_kyc))
}

/// The caller.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "profile",
    responses(
        (status = 200, description = "The caller's profile", body = UserDto),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn me(auth: Auth) -> Json<UserDto> {
    Json(UserDto::from(&auth.authenticated.user.view()))
}

/// Changes profile fields; one invalid field changes nothing.
#[utoipa::path(
    patch,
    path = "/api/me",
    tag = "profile",
    request_body = ProfilePatchRequest,
    responses(
        (status = 200, description = "The updated profile", body = UserDto),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid field (`invalid_profile`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn update_me(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ProfilePatchRequest>,
) -> Result<Json<UserDto>, ApiError> {
    let patch = ProfilePatch {
        full_name: body.full_name,
        phone: body.phone,
        address: body.address,
        date_of_birth: body.date_of_birth,
    };
    let user = state.ledger().update_profile(&auth.actor(), auth.authenticated.user.id, patch).await?;
    state.user_changed(user.id);
    Ok(Json(UserDto::from(&user)))
}

/// Submits one's details for identity review (unverified or rejected ->
/// pending). The profile must hold what a reviewer checks: a date of birth
/// and an address (`profile_incomplete` names what is missing). With
/// `--dev-auto-approve-kyc` the system approves it at once (`verified`).
#[utoipa::path(
    post,
    path = "/api/me/kyc",
    tag = "profile",
    responses(
        (status = 200, description = "Submitted; status is now `pending` (`verified` in the development mode that approves at once)", body = UserDto),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already pending or verified (`invalid_kyc_transition`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The profile lacks a date of birth or an address (`profile_incomplete`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn submit_kyc(State(state): State<AppState>, auth: Auth) -> Result<Json<UserDto>, ApiError> {
    let id = auth.authenticated.user.id;
    let mut user = state.ledger().submit_kyc(&auth.actor(), id).await?;
    if state.settings().dev_auto_approve_kyc {
        tracing::warn!(user = %id, "development mode: KYC approved without review");
        user = state.ledger().review_kyc(&Actor::System, id, KycTransition::Approve).await?;
    }
    state.user_changed(id);
    Ok(Json(UserDto::from(&user)))
}

/// Users in id order (admins only), optionally only those matching `q`.
#[utoipa::path(
    get,
    path = "/api/admin/users",
    tag = "admin",
    params(UsersQuery),
    responses(
        (status = 200, description = "A page of users", body = UserList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn list_users(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<UsersQuery>,
) -> Result<Json<UserList>, ApiError> {
    let limit = query.limit.unwrap_or(USERS_PAGE_SIZE_DEFAULT).min(USERS_PAGE_SIZE_MAX);
    let after = query.after.map(UserId::from_uuid);
    let needle = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_lowercase);
    let Some(needle) = needle else {
        let users = state.ledger().users(&auth.actor(), after, limit).await?;
        let next_after = if users.len() == limit { users.last().map(|u| *u.id.as_uuid()) } else { None };
        return Ok(Json(UserList { items: users.iter().map(UserDto::from).collect(), next_after }));
    };
    // A search reads pages in id order until it has `limit` matches or has
    // read USERS_SEARCH_SCAN_MAX users; `next_after` resumes after the last read.
    let mut items = Vec::new();
    let mut cursor = after;
    let mut scanned = 0;
    loop {
        let page = state.ledger().users(&auth.actor(), cursor, USERS_PAGE_SIZE_MAX).await?;
        let full = page.len() == USERS_PAGE_SIZE_MAX;
        for user in &page {
            scanned += 1;
            cursor = Some(user.id);
            let name = user.profile.full_name.to_lowercase();
            if name.contains(&needle) || user.email.as_str().contains(&needle) {
                items.push(UserDto::from(user));
                if items.len() == limit {
                    return Ok(Json(UserList { items, next_after: cursor.map(|c| *c.as_uuid()) }));
                }
            }
        }
        if !full {
            return Ok(Json(UserList { items, next_after: None }));
        }
        if scanned >= USERS_SEARCH_SCAN_MAX {
            return Ok(Json(UserList { items, next_after: cursor.map(|c| *c.as_uuid()) }));
        }
    }
}

/// Approves or rejects a pending KYC submission (admins only).
#[utoipa::path(
    post,
    path = "/api/admin/users/{id}/kyc",
    tag = "admin",
    params(("id" = Uuid, Path, description = "User id")),
    request_body = KycReviewRequest,
    responses(
        (status = 200, description = "The user after the decision", body = UserDto),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending (`invalid_kyc_transition`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rejection without a reason", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn review_kyc(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<KycReviewRequest>,
) -> Result<Json<UserDto>, ApiError> {
    let transition = match body.decision {
        KycDecision::Verified => KycTransition::Approve,
        KycDecision::Rejected => KycTransition::Reject { reason: body.reason.unwrap_or_default() },
    };
    let user = state.ledger().review_kyc(&auth.actor(), UserId::from_uuid(id), transition).await?;
    state.user_changed(user.id);
    Ok(Json(UserDto::from(&user)))
}
