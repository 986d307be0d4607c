//! Query strings and bodies of balances over time: balance history and
//! statements. Amounts cross JSON as strings ("12.50"), on the account's
//! normal side.

use chrono::{DateTime, Utc};
use ledger_core::money::format_minor;
use ledger_core::{BalanceChange, Currency, Statement, StatementLine};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// `GET /api/accounts/{id}/balance-history`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BalanceHistoryQuery {
    /// Postings committed at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Postings committed before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One posting of an account: what it changed and the balance after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BalanceChangeDto {
    /// The transaction the posting belongs to.
    pub transaction_id: Uuid,
    /// When it committed.
    pub at: DateTime<Utc>,
    /// The change to the balance (negative lowers it).
    pub change: String,
    /// The balance after it.
    pub balance: String,
}

impl BalanceChangeDto {
    /// A balance change in the account's currency.
    pub fn new(change: &BalanceChange, currency: Currency) -> BalanceChangeDto {
        BalanceChangeDto {
            transaction_id: *change.transaction_id.as_uuid(),
            at: change.at,
            change: format_minor(change.change, currency),
            balance: format_minor(change.balance, currency),
        }
    }
}

/// A page of an account's balance history, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BalanceHistoryPage {
    /// The postings.
    pub items: Vec<BalanceChangeDto>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /api/accounts/{id}/statement`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// The start of the period (RFC 3339); absent: the account's opening.
    pub from: Option<DateTime<Utc>>,
    /// The end of the period, exclusive; absent or later than now: now.
    pub to: Option<DateTime<Utc>>,
    /// `csv` for RFC 4180 CSV (as `Accept: text/csv`), `json` (the default).
    pub format: Option<String>,
}

/// One line of a statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatementItemDto {
    /// When it committed.
    pub at: DateTime<Utc>,
    /// The transaction.
    pub transaction_id: Uuid,
    /// The transaction's kind.
    pub kind: String,
    /// The transaction's description.
    pub description: Option<String>,
    /// The change to the balance.
    pub change: String,
    /// The balance after it.
    pub balance: String,
}

/// An account's statement: opening balance + every change = closing balance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatementDto {
    /// The account.
    pub account_id: Uuid,
    /// ISO 4217 code.
    pub currency: String,
    /// The start of the period.
    pub from: DateTime<Utc>,
    /// The end of the period (exclusive).
    pub to: DateTime<Utc>,
    /// The balance before the period.
    pub opening_balance: String,
    /// The balance at its end.
    pub closing_balance: String,
    /// The period's postings, oldest first.
    pub items: Vec<StatementItemDto>,
}

impl From<&Statement> for StatementDto {
    fn from(s: &Statement) -> StatementDto {
        let money = |amount| format_minor(amount, s.currency);
        StatementDto {
            account_id: *s.account.as_uuid(),
            currency: s.currency.code().to_owned(),
            from: s.from,
            to: s.until,
            opening_balance: money(s.opening),
            closing_balance: money(s.closing),
            items: s.lines.iter().map(|line| item(line, s.currency)).collect(),
        }
    }
}

fn item(line: &StatementLine, currency: Currency) -> StatementItemDto {
    let change = BalanceChangeDto::new(&line.change, currency);
    StatementItemDto {
        at: change.at,
        transaction_id: change.transaction_id,
        kind: line.kind.as_str().to_owned(),
        description: line.description.clone(),
        change: change.change,
        balance: change.balance,
    }
}

/// The header of a CSV statement.
pub const STATEMENT_CSV_HEADER: [&str; 6] = ["date", "transaction_id", "kind", "description", "change", "balance"];

/// A statement as RFC 4180 CSV: the header, an `opening` row, a row per
/// posting oldest first, a `closing` row.
pub fn statement_csv(statement: &StatementDto) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(STATEMENT_CSV_HEADER)?;
    let date = |at: &DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    out.write_record([&date(&statement.from), "", "opening", "", "", &statement.opening_balance])?;
    for item in &statement.items {
        let id = item.transaction_id.to_string();
        let description = item.description.as_deref().unwrap_or("");
        out.write_record([&date(&item.at), &id, &item.kind, description, &item.change, &item.balance])?;
    }
    out.write_record([&date(&statement.to), "", "closing", "", "", &statement.closing_balance])?;
    out.into_inner().map_err(|e| e.into_error().into())
}
