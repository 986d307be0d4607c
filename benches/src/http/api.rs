//! The few ledger-http calls a load run makes.

use hmac::{Hmac, Mac};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::BenchError;

/// The password of every load user.
pub const USER_PASSWORD: &str = "bench user password 2026";

/// A client of one service.
#[derive(Clone)]
pub struct Api {
    client: Client,
    base: String,
}

/// A logged-in user with one account.
#[derive(Debug, Clone)]
pub struct LoadUser {
    /// Bearer token.
    pub token: String,
    /// Account id.
    pub account: String,
    /// Account number.
    pub number: String,
}

async fn expect(response: Response, status: StatusCode, what: &str) -> Result<Value, BenchError> {
    let got = response.status();
    let body = response.text().await?;
    if got != status {
        return Err(BenchError::Http(format!("{what}: expected {status}, got {got}: {body}")));
    }
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn text(v: &Value, pointer: &str) -> Result<String, BenchError> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| BenchError::Http(format!("response has no {pointer}: {v}")))
}

/// The `Ledger-Signature` header value for a webhook body sent at `timestamp`:
/// HMAC-SHA256 of `"<timestamp>.<body>"`, hex.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &str) -> Result<String, BenchError> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|e| BenchError::Http(format!("webhook key: {e}")))?;
    mac.update(format!("{timestamp}.{body}").as_bytes());
    Ok(format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes())))
}

impl Api {
    /// A client of the service at `base`.
    pub fn new(base: &str, connections: usize) -> Result<Api, BenchError> {
        let client = Client::builder().pool_max_idle_per_host(connections).build()?;
        Ok(Api { client, base: base.trim_end_matches('/').to_owned() })
    }

    fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(format!("{}{path}", self.base))
    }

    /// Logs in; returns the token and user id.
    pub async fn login(&self, email: &str, password: &str) -> Result<(String, String), BenchError> {
        let r = self.post("/api/auth/login").json(&json!({"email": email, "password": password})).send().await?;
        let body = expect(r, StatusCode::OK, "login").await?;
        Ok((text(&body, "/token")?, text(&body, "/user/id")?))
    }

    /// Registers, logs in, opens a USD checking account and has `admin`
    /// verify the user's KYC.
    pub async fn new_user(&self, email: &str, admin: &str) -> Result<LoadUser, BenchError> {
        let register = json!({"email": email, "password": USER_PASSWORD, "full_name": "Load User"});
        let r = self.post("/api/auth/register").json(&register).send().await?;
        expect(r, StatusCode::CREATED, "register").await?;
        let (token, id) = self.login(email, USER_PASSWORD).await?;
        let r = self.post("/api/accounts").bearer_auth(&token).json(&json!({"kind": "checking", "currency": "USD"}));
        let account = expect(r.send().await?, StatusCode::CREATED, "open account").await?;
        // A KYC submission needs what a reviewer checks.
        let profile = json!({"date_of_birth": "1990-01-01", "address": "1 Load Street"});
        let r = self.client.patch(format!("{}/api/me", self.base)).bearer_auth(&token).json(&profile).send().await?;
        expect(r, StatusCode::OK, "complete the profile").await?;
        let r = self.post("/api/me/kyc").bearer_auth(&token).send().await?;
        expect(r, StatusCode::OK, "submit KYC").await?;
        let r =
            self.post(&format!("/api/admin/users/{id}/kyc")).bearer_auth(admin).json(&json!({"decision": "verified"}));
        expect(r.send().await?, StatusCode::OK, "verify KYC").await?;
        Ok(LoadUser { token, account: text(&account, "/id")?, number: text(&account, "/number")? })
    }

    /// Credits an account through the signed deposit webhook.
    pub async fn webhook_deposit(
        &self,
        secret: &str,
        event: &str,
        number: &str,
        amount: &str,
    ) -> Result<(), BenchError> {
        let body = json!({"id": event, "type": "deposit.settled", "account_number": number, "amount": amount, "currency": "USD"})
            .to_string();
        let signature = webhook_signature(secret, chrono::Utc::now().timestamp(), &body)?;
        let r = self
            .post("/api/webhooks/transactions")
            .header("content-type", "application/json")
            .header("ledger-signature", signature)
            .body(body)
            .send()
            .await?;
        let status = r.status();
        if status.is_success() {
            return Ok(());
        }
        Err(BenchError::Http(format!("webhook deposit: {status}: {}", r.text().await?)))
    }

    /// Reads an account's balance; returns the status.
    pub async fn balance(&self, user: &LoadUser) -> Result<StatusCode, BenchError> {
        let url = format!("{}/api/accounts/{}/balance", self.base, user.account);
        let r = self.client.get(url).bearer_auth(&user.token).send().await?;
        let status = r.status();
        r.bytes().await?;
        Ok(status)
    }

    /// Reads an account's balance; returns the body of a 2xx answer.
    pub async fn balance_body(&self, user: &LoadUser) -> Result<String, BenchError> {
        let url = format!("{}/api/accounts/{}/balance", self.base, user.account);
        let r = self.client.get(url).bearer_auth(&user.token).send().await?;
        let status = r.status();
        let body = r.text().await?;
        if !status.is_success() {
            return Err(BenchError::Http(format!("balance: {status}: {body}")));
        }
        Ok(body)
    }

    /// Transfers to an account number under a key; returns the status.
    pub async fn transfer(
        &self,
        user: &LoadUser,
        to_number: &str,
        amount: &str,
        key: &str,
    ) -> Result<StatusCode, BenchError> {
        let body = json!({"from_account_id": user.account, "to_account_number": to_number, "amount": amount});
        let r = self.post("/api/transactions/transfers").bearer_auth(&user.token).header("idempotency-key", key);
        let r = r.json(&body).send().await?;
        let status = r.status();
        r.bytes().await?;
        Ok(status)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Expected value from `echo -n '1.{}' | openssl dgst -sha256 -hmac key`.
        let signature = webhook_signature("key", 1, "{}").unwrap();
        assert_eq!(signature, "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224");
        assert_ne!(signature, webhook_signature("other", 1, "{}").unwrap());
    }
}
