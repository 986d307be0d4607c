//! Request body of reversals (`POST /api/transactions/{id}/reverse`).

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

/// `POST /api/transactions/{id}/reverse`; an empty body reverses all that
/// is left.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    /// How much to move back, as a decimal string (a single-posting
    /// transaction only); absent: all that is left to reverse.
    #[serde(default)]
    pub amount: Option<String>,
    /// Free text, up to 256 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// The application's own details, stored on the reversal.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}
