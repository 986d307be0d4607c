//! Request bodies of general ledger entries (`POST /api/transactions`).
//!
//! Amounts cross JSON as strings ("12.50"), never as numbers; request
//! bodies refuse unknown fields.

use std::collections::BTreeMap;

use serde::Deserialize;
use utoipa::ToSchema;

/// `POST /api/transactions`: postings applied all or nothing.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryRequest {
    /// 1 to 64 postings, in order.
    pub postings: Vec<PostingRequest>,
    /// Free text, up to 256 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// The application's own details (at most 16 keys `[a-z0-9_.-]{1,64}`,
    /// values of at most 256 printable characters), stored on the transaction.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// One posting: `amount` of `currency` from `source` (debited) to
/// `destination` (credited). Each account is an id, a 12-digit account
/// number, or `@` and a ledger account's code.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingRequest {
    /// The account debited.
    pub source: String,
    /// The account credited.
    pub destination: String,
    /// Amount as a decimal string.
    pub amount: String,
    /// ISO 4217 code: `USD`, `EUR` or `GBP`.
    pub currency: String,
}
