//! The transactions webhook's event.
//!
//! Amounts cross JSON as strings ("12.50"), never as numbers; request
//! bodies refuse unknown fields.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An inbound event of the transactions webhook.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct WebhookEvent {
    /// The processor's event id: the idempotency key of what it causes.
    pub id: String,
    /// The event type; only `deposit.settled` is handled.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The account credited, by number.
    pub account_number: String,
    /// Amount as a decimal string.
    pub amount: String,
    /// ISO 4217 code; must be the account's currency.
    pub currency: String,
    /// The processor's reference, kept as the description.
    #[serde(default)]
    pub reference: Option<String>,
}
