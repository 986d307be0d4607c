//! Request and response bodies of the money routes: commands and the transactions they return.
//!
//! Amounts cross JSON as strings ("12.50"), never as numbers; request
//! bodies refuse unknown fields.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger_core::Transaction;
use ledger_core::money::format_minor;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `POST /api/transactions/deposits`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepositRequest {
    /// The account credited.
    pub account_id: Uuid,
    /// Amount as a decimal string ("12.50").
    pub amount: String,
    /// Free text, up to 256 characters.
    #[serde(default)]
    pub description: Option<String>,
    /// The application's own details (at most 16 keys `[a-z0-9_.-]{1,64}`,
    /// values of at most 256 printable characters), stored on the transaction.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `POST /api/transactions/withdrawals`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    /// The account debited.
    pub account_id: Uuid,
    /// Amount as a decimal string.
    pub amount: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The application's own details (at most 16 keys `[a-z0-9_.-]{1,64}`,
    /// values of at most 256 printable characters), stored on the transaction.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `POST /api/transactions/transfers`: give exactly one of
/// `to_account_id` (one of the caller's accounts) and `to_account_number`
/// (anyone's account).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// The account debited (the caller's).
    pub from_account_id: Uuid,
    /// The account credited, by id.
    #[serde(default)]
    pub to_account_id: Option<Uuid>,
    /// The account credited, by its 12-digit number.
    #[serde(default)]
    pub to_account_number: Option<String>,
    /// Amount as a decimal string.
    pub amount: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The application's own details (at most 16 keys `[a-z0-9_.-]{1,64}`,
    /// values of at most 256 printable characters), stored on the transaction.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `POST /api/holds`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// The account whose funds are reserved.
    pub account_id: Uuid,
    /// Amount as a decimal string.
    pub amount: String,
    /// When the hold stops being capturable (at most 30 days ahead).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// Where a capture pays to, by account number; out of the ledger if absent.
    #[serde(default)]
    pub to_account_number: Option<String>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// The application's own details (at most 16 keys `[a-z0-9_.-]{1,64}`,
    /// values of at most 256 printable characters), stored on the transaction.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `POST /api/holds/{id}/capture`; an empty body captures the whole hold.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    /// How much to post (at most the held amount); the rest is released.
    #[serde(default)]
    pub amount: Option<String>,
}

/// A transaction (a money movement, or a hold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransactionDto {
    /// Transaction id (a hold's id).
    pub id: Uuid,
    /// `deposit`, `withdrawal`, `transfer`, `hold`, `entry` or `reversal`.
    pub kind: String,
    /// `pending` (an open hold), `posted` or `voided`.
    pub status: String,
    /// Amount as a decimal string.
    pub amount: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The account debited, if any.
    pub from_account_id: Option<Uuid>,
    /// The account credited, if any.
    pub to_account_id: Option<Uuid>,
    /// Free text.
    pub description: Option<String>,
    /// For a captured hold: the amount posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured_amount: Option<String>,
    /// For a hold: when it stops being capturable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When committed.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
    /// Its movements, in order: each moves `amount` from `source_id`
    /// (debited) to `destination_id` (credited).
    pub postings: Vec<PostingDto>,
    /// The application's own details.
    pub metadata: BTreeMap<String, String>,
    /// For a reversal: the transaction it reverses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverses: Option<Uuid>,
    /// How much of it reversals have moved back (absent when nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversed_amount: Option<String>,
    /// In history and transaction reads: the other people whose customer
    /// accounts it touches, by account id, as they are shown to others
    /// ("Alice N."); absent when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<Uuid, String>,
}

/// One movement of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PostingDto {
    /// The account debited.
    pub source_id: Uuid,
    /// The account credited.
    pub destination_id: Uuid,
    /// Amount as a decimal string.
    pub amount: String,
    /// ISO 4217 code.
    pub currency: String,
}

/// Metadata as JSON shows it.
pub fn metadata_map(metadata: &ledger_core::Metadata) -> BTreeMap<String, String> {
    metadata.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

impl From<&Transaction> for TransactionDto {
    fn from(t: &Transaction) -> TransactionDto {
        TransactionDto {
            id: *t.id.as_uuid(),
            kind: t.kind.as_str().to_owned(),
            status: t.status.as_str().to_owned(),
            amount: format_minor(t.amount, t.currency),
            currency: t.currency.code().to_owned(),
            from_account_id: t.from_account.map(|a| *a.as_uuid()),
            to_account_id: t.to_account.map(|a| *a.as_uuid()),
            description: t.description.clone(),
            captured_amount: t.captured_amount.map(|a| format_minor(a, t.currency)),
            expires_at: t.expires_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
            postings: t
                .legs()
                .iter()
                .map(|leg| PostingDto {
                    source_id: *leg.source.as_uuid(),
                    destination_id: *leg.destination.as_uuid(),
                    amount: format_minor(leg.amount, leg.currency),
                    currency: leg.currency.code().to_owned(),
                })
                .collect(),
            metadata: metadata_map(&t.metadata),
            reverses: t.reverses.map(|r| *r.as_uuid()),
            reversed_amount: (!t.reversed_amount.is_zero()).then(|| format_minor(t.reversed_amount, t.currency)),
            names: BTreeMap::new(),
        }
    }
}
