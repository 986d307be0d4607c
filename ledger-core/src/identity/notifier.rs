//! Delivering password-reset tokens to users.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::email::Email;
use super::token::SecretToken;

/// Delivers messages to users (email, SMS, ...). Delivery is the embedding
/// application's job; the ledger only says what to send. Failures are the
/// notifier's to log: a reset request never tells the requester anything.
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// Sends a password-reset token that expires at `expires_at`.
    async fn send_password_reset(&self, to: &Email, token: &SecretToken, expires_at: DateTime<Utc>);
}

/// For development: writes reset tokens to the log at WARN level. Never use
/// it in production, where the log is not a private channel to the user.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn send_password_reset(&self, to: &Email, token: &SecretToken, expires_at: DateTime<Utc>) {
        tracing::warn!(
            email = %to,
            token = token.expose(),
            %expires_at,
            "development notifier: password-reset token (configure a real Notifier in production)"
        );
    }
}
