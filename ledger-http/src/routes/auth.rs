//! Registration, login, logout, sessions and passwords.

pub mod dto;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_core::identity::{Device, SessionId};
use ledger_core::{LoginRequest as CoreLogin, Registration};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Auth, csrf_token, login_cookies, logout_cookies, set_cookies};
use crate::dto::{
    ChangePasswordRequest, LoginRequest, LoginResponse, RegisterRequest, ResetPasswordRequest, ResetRequestRequest,
    RevokedSessions, SessionDto, SessionList, UserDto,
};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ClientInfo};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(list_sessions, revoke_other_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(change_password))
        .routes(routes!(request_password_reset))
        .routes(routes!(reset_password))
}

/// Registers a customer.
#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered", body = UserDto),
        (status = 409, description = "Email taken (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid email, weak password, bad name", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<UserDto>), ApiError> {
    let registration = Registration { email: body.email, password: body.password, full_name: body.full_name };
    let user = state.ledger().register(registration).await?;
    Ok((StatusCode::CREATED, Json(UserDto::from(&user))))
}

/// Logs in: returns the token once and sets the session and CSRF cookies.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in; `Set-Cookie: ledger_session` (HttpOnly) and `ledger_csrf`", body = LoginResponse),
        (status = 401, description = "Wrong email or password (`invalid_credentials`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let device = Device::new(client.user_agent.as_deref(), client.addr, body.device_label.as_deref())?;
    let login = state.ledger().login(CoreLogin { email: body.email, password: body.password, device }).await?;
    let max_age = (login.session.expires_at - state.ledger().now()).num_seconds();
    let mut headers = HeaderMap::new();
    set_cookies(&mut headers, login_cookies(&login.token, max_age, state.settings().cookie_secure));
    let body = LoginResponse {
        token: login.token.expose().to_owned(),
        csrf_token: csrf_token(login.token.expose()),
        session: SessionDto::new(&login.session, true),
        user: UserDto::from(&login.user),
    };
    Ok((headers, Json(body)).into_response())
}

/// Ends the current session and clears the cookies.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn logout(State(state): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    state.ledger().logout(&auth.authenticated).await?;
    let mut headers = HeaderMap::new();
    set_cookies(&mut headers, logout_cookies(state.settings().cookie_secure));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

/// The caller's live sessions.
#[utoipa::path(
    get,
    path = "/api/auth/sessions",
    tag = "auth",
    responses(
        (status = 200, description = "Live sessions, newest first", body = SessionList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn list_sessions(State(state): State<AppState>, auth: Auth) -> Result<Json<SessionList>, ApiError> {
    let current = auth.authenticated.session.id;
    let sessions = state.ledger().sessions(&auth.authenticated).await?;
    let items = sessions.iter().map(|s| SessionDto::new(s, s.id == current)).collect();
    Ok(Json(SessionList { items }))
}

/// Revokes every session of the caller except the current one.
#[utoipa::path(
    delete,
    path = "/api/auth/sessions",
    tag = "auth",
    responses(
        (status = 200, description = "Other sessions revoked", body = RevokedSessions),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn revoke_other_sessions(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<RevokedSessions>, ApiError> {
    let revoked = state.ledger().revoke_other_sessions(&auth.authenticated).await?;
    Ok(Json(RevokedSessions { revoked }))
}

/// Revokes one of the caller's sessions; another user's is not found.
#[utoipa::path(
    delete,
    path = "/api/auth/sessions/{id}",
    tag = "auth",
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such session of the caller", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn revoke_session(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.ledger().revoke_session(&auth.authenticated, SessionId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the password; the caller's other sessions end.
#[utoipa::path(
    post,
    path = "/api/auth/password/change",
    tag = "auth",
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "Not authenticated, or wrong current password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Weak new password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn change_password(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state.ledger().change_password(&auth.authenticated, &body.current_password, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts a password reset. Always 202, whether or not the email exists.
#[utoipa::path(
    post,
    path = "/api/auth/password/reset-request",
    tag = "auth",
    request_body = ResetRequestRequest,
    responses((status = 202, description = "If the email is registered, a reset token is on its way"))
)]
pub async fn request_password_reset(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetRequestRequest>,
) -> Result<StatusCode, ApiError> {
    state.ledger().request_password_reset(&body.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Completes a reset with the delivered token; every session of the user ends.
#[utoipa::path(
    post,
    path = "/api/auth/password/reset",
    tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "Password reset"),
        (status = 400, description = "Unknown, used or expired token (`invalid_reset_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Weak new password", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reset_password(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state.ledger().reset_password(&body.token, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}
