//! Request and response bodies of the account routes: accounts and balances.
//!
//! Amounts cross JSON as strings ("12.50"), never as numbers; request
//! bodies refuse unknown fields.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger_core::Account;
use ledger_core::money::format_minor;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::routes::money::dto::metadata_map;

/// `POST /api/accounts`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenAccountRequest {
    /// `checking`, `savings` or `investment`.
    pub kind: String,
    /// ISO 4217 code: `USD`, `EUR` or `GBP`.
    pub currency: String,
    /// Optional display name.
    #[serde(default)]
    pub name: Option<String>,
    /// The application's own details.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// `PATCH /api/accounts/{id}`: the account's new display name.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameAccountRequest {
    /// The new display name (trimmed, 1 to 64 characters, no control
    /// characters), or `null` to clear it. Required: an empty body must
    /// not clear a name by accident.
    #[serde(deserialize_with = "nullable")]
    #[schema(required = true, nullable = true, max_length = 64)]
    pub name: Option<String>,
}

/// Reads a field that must be present and may be `null`.
fn nullable<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(deserializer)
}

/// Balances, as strings in the currency's minor unit ("12.50").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalanceDto {
    /// Sum of postings.
    pub posted: String,
    /// Sum of open holds.
    pub pending: String,
    /// What may be spent: posted minus pending.
    pub available: String,
}

/// An account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountDto {
    /// Account id.
    pub id: Uuid,
    /// The 12-digit account number (others pay to it).
    pub number: String,
    /// `checking`, `savings` or `investment`.
    pub kind: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Display name.
    pub name: Option<String>,
    /// `active`, `frozen` or `closed`.
    pub status: String,
    /// Balances.
    pub balance: BalanceDto,
    /// When opened.
    pub created_at: DateTime<Utc>,
    /// When its status or balance last changed.
    pub updated_at: DateTime<Utc>,
    /// The application's own details.
    pub metadata: BTreeMap<String, String>,
}

impl From<&Account> for AccountDto {
    fn from(account: &Account) -> AccountDto {
        AccountDto {
            id: *account.id.as_uuid(),
            number: account.number.to_string(),
            kind: account.kind.as_str().to_owned(),
            currency: account.currency.code().to_owned(),
            name: account.name.clone(),
            status: account.status.as_str().to_owned(),
            balance: BalanceDto::from(account),
            created_at: account.created_at,
            updated_at: account.updated_at,
            metadata: metadata_map(&account.metadata),
        }
    }
}

impl From<&Account> for BalanceDto {
    /// On the account's normal side (as customers and people read balances).
    fn from(account: &Account) -> BalanceDto {
        let c = account.currency;
        let b = &account.reported_balance();
        BalanceDto {
            posted: format_minor(b.posted, c),
            pending: format_minor(b.pending, c),
            available: format_minor(b.available(), c),
        }
    }
}

/// The caller's accounts, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountList {
    /// The accounts.
    pub items: Vec<AccountDto>,
}

/// `GET /api/accounts/{id}/balance` (also the `balance` server-sent event).
/// For a past instant (`?as_of=`) only `posted` is known: `pending` and
/// `available` are absent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BalanceResponse {
    /// The account.
    pub account_id: Uuid,
    /// ISO 4217 code.
    pub currency: String,
    /// Sum of postings, on the account's normal side.
    pub posted: String,
    /// Sum of open holds (now only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// posted minus pending (now only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<String>,
    /// When these figures were read (for events: when they changed; for
    /// `?as_of=`: the instant asked about).
    pub as_of: DateTime<Utc>,
}

impl BalanceResponse {
    /// The balances of an account as of an instant.
    pub fn new(account: &Account, as_of: DateTime<Utc>) -> BalanceResponse {
        let BalanceDto { posted, pending, available } = BalanceDto::from(account);
        BalanceResponse {
            account_id: *account.id.as_uuid(),
            currency: account.currency.code().to_owned(),
            posted,
            pending: Some(pending),
            available: Some(available),
            as_of,
        }
    }

    /// An account's posted balance at a past instant.
    pub fn as_of(balance: &ledger_core::BalanceAsOf) -> BalanceResponse {
        BalanceResponse {
            account_id: *balance.account.as_uuid(),
            currency: balance.currency.code().to_owned(),
            posted: format_minor(balance.posted, balance.currency),
            pending: None,
            available: None,
            as_of: balance.as_of,
        }
    }
}

/// `GET /api/accounts/{id}/balance`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    /// An instant in the past (RFC 3339): the posted balance then. Absent: now.
    pub as_of: Option<DateTime<Utc>>,
}
