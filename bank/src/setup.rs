//! Before the run: the admin logs in; customers register, log in, submit
//! KYC (withdrawals and outgoing transfers need a verified customer), are
//! approved by the admin, and open one checking account per currency.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::client::Api;
use crate::error::BankError;
use crate::service::PASSWORD;

/// A customer account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerAccount {
    /// Account id.
    pub id: Uuid,
    /// Its 12-digit number (transfers pay to it).
    pub number: String,
    /// ISO 4217 code.
    pub currency: String,
}

/// A verified customer with a session and accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// User id (idempotency keys are scoped to it).
    pub id: Uuid,
    /// Bearer token.
    pub token: String,
    /// One account per currency.
    pub accounts: Vec<CustomerAccount>,
}

impl Customer {
    /// The account in a currency.
    pub fn account(&self, currency: &str) -> Option<&CustomerAccount> {
        self.accounts.iter().find(|a| a.currency == currency)
    }
}

/// Logs in and returns the bearer token.
pub async fn login(api: &Api, base: &str, email: &str) -> Result<String, BankError> {
    let body = api.post(base, "/api/auth/login", None, &json!({"email": email, "password": PASSWORD})).await?;
    text(&body, "token")
}

/// Creates `count` verified customers with an account in each currency.
pub async fn customers(
    api: &Api,
    base: &str,
    admin_token: &str,
    run: &str,
    count: usize,
    currencies: &[String],
) -> Result<Vec<Customer>, BankError> {
    let mut customers = Vec::with_capacity(count);
    for index in 0..count {
        let email = format!("bank-{run}-{index}@example.com");
        let registration = json!({"email": email, "password": PASSWORD, "full_name": format!("Customer {index}")});
        let user = api.post(base, "/api/auth/register", None, &registration).await?;
        let id = uuid(&user, "id")?;
        let token = login(api, base, &email).await?;
        // A KYC submission needs what a reviewer checks.
        let profile = json!({"date_of_birth": "1990-01-01", "address": "1 Bank Street"});
        api.patch(base, "/api/me", &token, &profile).await?;
        api.post(base, "/api/me/kyc", Some(&token), &json!({})).await?;
        let review = json!({"decision": "verified"});
        api.post(base, &format!("/api/admin/users/{id}/kyc"), Some(admin_token), &review).await?;
        let mut accounts = Vec::new();
        for currency in currencies {
            let opened = json!({"kind": "checking", "currency": currency});
            let account = api.post(base, "/api/accounts", Some(&token), &opened).await?;
            accounts.push(CustomerAccount {
                id: uuid(&account, "id")?,
                number: text(&account, "number")?,
                currency: currency.clone(),
            });
        }
        customers.push(Customer { id, token, accounts });
    }
    Ok(customers)
}

/// A string field of a JSON answer.
pub fn text(body: &Value, field: &str) -> Result<String, BankError> {
    body[field].as_str().map(str::to_owned).ok_or_else(|| BankError::http(field, format!("no `{field}` in {body}")))
}

/// A UUID field of a JSON answer.
pub fn uuid(body: &Value, field: &str) -> Result<Uuid, BankError> {
    text(body, field)?.parse().map_err(|e| BankError::http(field, format!("{e} in {body}")))
}
