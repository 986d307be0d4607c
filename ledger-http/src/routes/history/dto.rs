//! The history query and its page.
//!
//! Amounts cross JSON as strings ("12.50"), never as numbers; request
//! bodies refuse unknown fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::routes::money::dto::TransactionDto;

/// `GET /api/transactions` query. `from` is inclusive, `to` exclusive.
/// Besides these, up to four `metadata.<key>=<value>` parameters keep only
/// transactions carrying every such pair; any other parameter is refused.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Only transactions touching this account (default: all of the caller's).
    pub account_id: Option<Uuid>,
    /// `deposit`, `withdrawal`, `transfer`, `hold` or `entry`.
    pub kind: Option<String>,
    /// `pending`, `posted` or `voided`.
    pub status: Option<String>,
    /// Created at or after (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Amount at least (decimal string).
    pub min_amount: Option<String>,
    /// Amount at most (decimal string).
    pub max_amount: Option<String>,
    /// Page size, 1 to 200 (default 50; larger values are capped at 200).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of history, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TransactionPage {
    /// The transactions.
    pub items: Vec<TransactionDto>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
