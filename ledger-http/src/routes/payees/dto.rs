//! Confirmation of payee's query and answer.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /api/payees/{number}` query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PayeeQuery {
    /// The currency the caller would send (ISO 4217): an account in another
    /// currency is not a payee.
    pub currency: String,
}

/// Who an account number pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PayeeDto {
    /// The account number, as stored (12 digits).
    pub number: String,
    /// Its currency.
    pub currency: String,
    /// Its owner's first name and last initial ("Alice N.").
    pub display_name: String,
    /// Whether it is one of the caller's own accounts.
    pub own: bool,
}
