//! Reads the ledger after the run through HTTP as the admin: the whole
//! history page by page, every account the run touched (settlement
//! accounts found from the deposits and withdrawals), each account's own
//! history page by page, and the audit chain's verification.

use std::collections::{BTreeSet, HashMap};

use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use crate::client::Api;
use crate::error::BankError;
use crate::observed::{AccountState, TransactionState};
use crate::setup::{Customer, text, uuid};

/// The page size asked for (the service's maximum).
const PAGE_SIZE: usize = 200;

/// What the admin reads over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpView {
    /// Every account touched.
    pub accounts: Vec<AccountState>,
    /// The whole history, newest first.
    pub transactions: Vec<TransactionState>,
    /// Each account's own history.
    pub account_history: HashMap<Uuid, Vec<TransactionState>>,
    /// The audit chain's verification.
    pub audit: Result<(), String>,
}

/// Reads everything (see the module docs).
pub async fn read(api: &Api, base: &str, admin: &str, customers: &[Customer]) -> Result<HttpView, BankError> {
    let transactions = history(api, base, admin, None).await?;
    let mut ids: BTreeSet<Uuid> = customers.iter().flat_map(|c| c.accounts.iter().map(|a| a.id)).collect();
    ids.extend(transactions.iter().flat_map(|t| [t.from, t.to]).flatten());
    let mut accounts = Vec::with_capacity(ids.len());
    let mut account_history = HashMap::new();
    for id in ids {
        accounts.push(account(&api.get(base, &format!("/api/accounts/{id}"), admin).await?)?);
        account_history.insert(id, history(api, base, admin, Some(id)).await?);
    }
    let verification = api.get(base, "/api/admin/audit/verify", admin).await?;
    let audit = if verification["valid"] == Value::Bool(true) {
        Ok(())
    } else {
        Err(verification["error"].as_str().unwrap_or("not valid").to_owned())
    };
    Ok(HttpView { accounts, transactions, account_history, audit })
}

/// Every page of history, optionally of one account.
async fn history(
    api: &Api,
    base: &str,
    admin: &str,
    account: Option<Uuid>,
) -> Result<Vec<TransactionState>, BankError> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit".to_owned(), PAGE_SIZE.to_string())];
        query.extend(account.map(|a| ("account_id".to_owned(), a.to_string())));
        query.extend(cursor.map(|c| ("cursor".to_owned(), c)));
        let page = api.get_query(base, "/api/transactions", admin, &query).await?;
        for item in page["items"].as_array().into_iter().flatten() {
            all.push(transaction(item)?);
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(all),
        }
    }
}

fn account(body: &Value) -> Result<AccountState, BankError> {
    let balance = &body["balance"];
    Ok(AccountState {
        id: uuid(body, "id")?,
        currency: text(body, "currency")?,
        customer: text(body, "kind")? != "settlement",
        posted: decimal(balance, "posted")?,
        pending: decimal(balance, "pending")?,
        available: decimal(balance, "available")?,
    })
}

fn transaction(body: &Value) -> Result<TransactionState, BankError> {
    let optional_id = |field: &str| body[field].as_str().and_then(|id| id.parse::<Uuid>().ok());
    Ok(TransactionState {
        id: uuid(body, "id")?,
        kind: text(body, "kind")?,
        status: text(body, "status")?,
        amount: decimal(body, "amount")?,
        currency: text(body, "currency")?,
        from: optional_id("from_account_id"),
        to: optional_id("to_account_id"),
        description: body["description"].as_str().map(str::to_owned),
    })
}

/// An amount field: a decimal string, never a JSON number.
fn decimal(body: &Value, field: &str) -> Result<Decimal, BankError> {
    text(body, field)?.parse().map_err(|e| BankError::http(field, format!("{e} in {body}")))
}
