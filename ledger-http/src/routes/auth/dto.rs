//! Request and response bodies of the auth routes: registration, login, sessions, passwords.
//!
//! Amounts cross JSON as strings ("12.50"), never as numbers; request
//! bodies refuse unknown fields.

use chrono::{DateTime, Utc};
use ledger_core::identity::Session;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::routes::profile::dto::UserDto;

/// `POST /api/auth/register`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Email address (unique, case-insensitive).
    pub email: String,
    /// Password: 10 to 128 characters, not a common one.
    pub password: String,
    /// Full name.
    pub full_name: String,
}

/// `POST /api/auth/login`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
    /// A name for this device, shown in the sessions list.
    #[serde(default)]
    pub device_label: Option<String>,
}

/// A successful login. The token is shown once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// The bearer token (also set as the HttpOnly `ledger_session` cookie).
    pub token: String,
    /// The CSRF token cookie-authenticated writes send as `X-CSRF-Token`.
    pub csrf_token: String,
    /// The session opened.
    pub session: SessionDto,
    /// Who logged in.
    pub user: UserDto,
}

/// A login session (the token itself is never shown again).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionDto {
    /// Session id (for revocation).
    pub id: Uuid,
    /// The browser or client that opened it.
    pub user_agent: Option<String>,
    /// The address it was opened from.
    pub client_addr: Option<String>,
    /// The device label given at login.
    pub label: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was last used (updated at most once a minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends regardless of use.
    pub expires_at: DateTime<Utc>,
    /// Whether this is the session making the request.
    pub current: bool,
}

impl SessionDto {
    /// The view of a session; `current` marks the caller's own.
    pub fn new(session: &Session, current: bool) -> SessionDto {
        SessionDto {
            id: session.id.0,
            user_agent: session.device.user_agent.clone(),
            client_addr: session.device.client_addr.map(|a| a.to_string()),
            label: session.device.label.clone(),
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            expires_at: session.expires_at,
            current,
        }
    }
}

/// The caller's live sessions, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    /// The sessions.
    pub items: Vec<SessionDto>,
}

/// How many sessions were revoked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RevokedSessions {
    /// The count.
    pub revoked: usize,
}

/// `POST /api/auth/password/change`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The current password.
    pub current_password: String,
    /// The new password.
    pub new_password: String,
}

/// `POST /api/auth/password/reset-request`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestRequest {
    /// The account's email; the answer is the same whether it exists or not.
    pub email: String,
}

/// `POST /api/auth/password/reset`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The single-use token delivered to the user.
    pub token: String,
    /// The new password.
    pub new_password: String,
}
