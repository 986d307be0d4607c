//! The transactions webhook: settled deposits from an external processor.
//!
//! **Signature.** `Ledger-Signature: t=<unix seconds>,v1=<hex>` where the hex
//! is HMAC-SHA256, keyed with `LEDGER_WEBHOOK_SECRET`, of `"<t>.<raw body>"`.
//! Several `v1` entries may be sent (while a secret is rotated); one must
//! verify. Verification is constant-time (`Mac::verify_slice`) and happens
//! before the body is even parsed. A timestamp more than
//! [`SIGNATURE_TOLERANCE_SECS`] away from the server's clock is refused, which
//! bounds how long a captured request can be replayed; within that window a
//! replay is harmless because the event id is the idempotency key.
//!
//! **Effect.** A `deposit.settled` event credits the account with that number
//! as [`Actor::System`] under the idempotency key `webhook:<id>`: the same
//! event id again answers 200 with the same transaction and applies nothing;
//! the same id with a different body is 409.
//!
//! **Disabled** when no secret is configured: every call answers 503
//! `webhook_disabled`, so a misconfiguration is visible rather than silent.

pub mod dto;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use ledger_core::{AccountNumber, Actor, Deposit, IdempotencyKey, LedgerError, Metadata};
use sha2::Sha256;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::money::{MoneyResponse, execute, money_response};
use crate::command::amount;
use crate::dto::{TransactionDto, WebhookEvent};
use crate::error::{ApiError, Problem};
use crate::state::{AppState, WebhookSecret};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "ledger-signature";
/// How far a signature's timestamp may be from the server's clock.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 5 * 60;
/// The one event type handled.
pub const DEPOSIT_SETTLED: &str = "deposit.settled";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(transactions_webhook))
}

/// The `Ledger-Signature` value for a body sent at `timestamp` (what a
/// processor computes; also used by tests).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let hex = mac(secret, timestamp, body).map(|mac| hex::encode(mac.finalize().into_bytes())).unwrap_or_default();
    format!("t={timestamp},v1={hex}")
}

/// The HMAC of `"<timestamp>.<body>"`; `None` only if the key were refused,
/// which HMAC never does (it takes keys of any length).
fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

fn unauthorized(code: &'static str, detail: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, detail)
}

/// Checks a `Ledger-Signature` header against the body at time `now`.
pub fn verify(secret: &WebhookSecret, header: &str, body: &[u8], now: i64) -> Result<(), ApiError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return Err(unauthorized("signature_invalid", "the signature has no valid timestamp"));
    };
    // Checked: a timestamp near i64's ends must be refused, not overflow.
    let skew = now.checked_sub(timestamp).map(i64::unsigned_abs);
    if skew.is_none_or(|skew| skew > SIGNATURE_TOLERANCE_SECS.unsigned_abs()) {
        return Err(unauthorized("signature_expired", "the signature's timestamp is outside the allowed window"));
    }
    let valid = signatures
        .iter()
        .any(|signature| mac(secret.expose(), timestamp, body).is_some_and(|mac| mac.verify_slice(signature).is_ok()));
    if !valid {
        return Err(unauthorized("signature_invalid", "the signature does not match"));
    }
    Ok(())
}

/// Receives an event from the payment processor.
#[utoipa::path(
    post,
    path = "/api/webhooks/transactions",
    tag = "webhooks",
    request_body = WebhookEvent,
    params(("Ledger-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">`")),
    responses(
        (status = 200, description = "Applied, or already applied for this event id", body = TransactionDto),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired signature", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Event id reused with another body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown account, currency mismatch, unsupported type, invalid amount", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No webhook secret configured", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn transactions_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<MoneyResponse, ApiError> {
    let Some(secret) = state.settings().webhook_secret.as_ref() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "webhook_disabled",
            "no webhook secret is configured",
        ));
    };
    let Some(header) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else {
        return Err(unauthorized("signature_missing", "the `Ledger-Signature` header is required"));
    };
    verify(secret, header, &body, state.ledger().now().timestamp())?;
    let event: WebhookEvent = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            ApiError::unprocessable("invalid_body", e.to_string())
        } else {
            ApiError::bad_request("malformed_json", e.to_string())
        }
    })?;
    if event.event_type != DEPOSIT_SETTLED {
        return Err(ApiError::unprocessable("unsupported_event_type", format!("only `{DEPOSIT_SETTLED}` is handled")));
    }
    let key = IdempotencyKey::new(format!("webhook:{}", event.id))?;
    let number = AccountNumber::parse(&event.account_number).map_err(LedgerError::InvalidAccountNumber)?;
    let amount = amount(&event.amount)?;
    let currency = crate::command::currency(&event.currency)?;
    let unknown = || ApiError::unprocessable("unknown_account", format!("no customer account numbered {number}"));
    let account = match state.ledger().account_by_number(&Actor::System, number).await {
        Ok(account) if account.kind.is_customer() => account,
        Ok(_) | Err(LedgerError::AccountNumberNotFound { .. }) => return Err(unknown()),
        Err(other) => return Err(other.into()),
    };
    if account.currency != currency {
        return Err(LedgerError::CurrencyMismatch { expected: account.currency, found: currency }.into());
    }
    // The provider's event id travels as metadata: support finds the deposit by it.
    let metadata = Metadata::new([("webhook.event_id", event.id.as_str())])?;
    let command = Deposit { account: account.id, amount, description: event.reference, metadata };
    let (transaction, replayed) = execute(&state, &Actor::System, key, command.into()).await?;
    Ok(money_response(StatusCode::OK, transaction, replayed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_at_the_ends_of_the_range_are_refused_without_overflow() {
        let Some(secret) = WebhookSecret::new("s") else { unreachable!() };
        let body = b"{}";
        let now = 1_800_000_000;
        for t in [i64::MIN, i64::MIN + 1, -1, i64::MAX, now - SIGNATURE_TOLERANCE_SECS - 1] {
            let header = sign(secret.expose(), t, body);
            let refused = verify(&secret, &header, body, now).map_err(|e| e.code());
            assert_eq!(refused, Err("signature_expired"), "t={t}");
        }
        for now in [i64::MIN, i64::MAX] {
            let header = sign(secret.expose(), 0, body);
            assert!(verify(&secret, &header, body, now).is_err(), "now={now}");
        }
        assert_eq!(verify(&secret, &sign(secret.expose(), now, body), body, now).map_err(|e| e.code()), Ok(()));
    }
}
