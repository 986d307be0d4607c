//! Request and response bodies of the ledger account routes.
//!
//! Amounts cross JSON as strings ("12.50"), never as numbers; request
//! bodies refuse unknown fields.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger_core::Account;
use ledger_core::money::format_minor;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::routes::accounts::dto::BalanceDto;
use crate::routes::money::dto::metadata_map;

/// `POST /api/ledger-accounts`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenLedgerAccountRequest {
    /// Unique, lowercase `[a-z0-9_]+(:[a-z0-9_]+)*`, at most 128 characters
    /// (`revenue:fees:usd`).
    pub code: String,
    /// ISO 4217 code: `USD`, `EUR` or `GBP`.
    pub currency: String,
    /// Optional display name.
    #[serde(default)]
    pub name: Option<String>,
    /// `debit` (assets, expenses) or `credit` (liabilities, equity, revenue):
    /// the side its balance is reported on.
    pub normal_balance: String,
    /// The lowest balance allowed on its normal side, as a decimal string
    /// (zero or negative too); `null` for unbounded. Omitted: 0 for
    /// credit-normal accounts, unbounded for debit-normal ones.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub floor: Option<Option<String>>,
    /// The application's own details.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

/// A field that is present (its value, which may be `null`), as opposed to
/// omitted (`None` through `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A ledger account: opened and named by the application, owned by no customer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerAccountDto {
    /// Account id (the money routes and entries take it too).
    pub id: Uuid,
    /// Its unique code; entries name it as `@code`.
    pub code: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Display name.
    pub name: Option<String>,
    /// `debit` or `credit`: the side `balance` is reported on.
    pub normal_balance: String,
    /// The lowest balance allowed on that side; `null` for unbounded.
    pub floor: Option<String>,
    /// `active`, `frozen` or `closed`.
    pub status: String,
    /// Balances on its normal side.
    pub balance: BalanceDto,
    /// The application's own details.
    pub metadata: BTreeMap<String, String>,
    /// When opened.
    pub created_at: DateTime<Utc>,
    /// When its status or balance last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&Account> for LedgerAccountDto {
    fn from(account: &Account) -> LedgerAccountDto {
        LedgerAccountDto {
            id: *account.id.as_uuid(),
            code: account.code.as_ref().map(|c| c.as_str().to_owned()).unwrap_or_default(),
            currency: account.currency.code().to_owned(),
            name: account.name.clone(),
            normal_balance: account.normal_balance.as_str().to_owned(),
            floor: account.floor().map(|floor| format_minor(floor, account.currency)),
            status: account.status.as_str().to_owned(),
            balance: BalanceDto::from(account),
            metadata: metadata_map(&account.metadata),
            created_at: account.created_at,
            updated_at: account.updated_at,
        }
    }
}

/// `GET /api/ledger-accounts`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerAccountsQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of ledger accounts in code order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerAccountList {
    /// The accounts.
    pub items: Vec<LedgerAccountDto>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
