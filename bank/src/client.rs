//! The HTTP client of the bank test. A money operation is sent with its
//! Idempotency-Key and retried with the same key and body on a timeout, a
//! connection error, a 5xx or a 429, with backoff, until the service
//! answers definitely or the retry budget is spent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::error::BankError;
use crate::op::Outcome;
use crate::service::Endpoint;

/// How long one HTTP request may take, in seconds.
const REQUEST_SECS_MAX: u64 = 5;
/// How long connecting may take, in milliseconds.
const CONNECT_MILLIS_MAX: u64 = 1000;
/// How long an operation is retried before it is given up as indeterminate, in seconds.
const OP_RETRY_SECS_MAX: u64 = 45;
/// The first pause between retries, in milliseconds (doubled each time).
const BACKOFF_MILLIS_MIN: u64 = 25;
/// The longest pause between retries, in milliseconds.
const BACKOFF_MILLIS_MAX: u64 = 1000;
/// The response header marking a replay.
const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A money request: where it goes and its JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct MoneyRequest {
    /// The route (`/api/transactions/deposits`, ...).
    pub path: &'static str,
    /// The body.
    pub body: Value,
}

/// One answer to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    /// 2xx: the transaction, and whether it was a replay.
    Done { transaction: Uuid, replayed: bool },
    /// A definite refusal.
    Refused { status: u16, code: String },
    /// No definite answer: try again.
    Retry(String),
}

/// The final result of sending an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// What the client was finally told.
    pub outcome: Outcome,
    /// Requests sent.
    pub attempts: u32,
    /// Whether the acknowledging answer was itself marked as a replay.
    pub replayed: bool,
    /// When the acknowledging answer arrived.
    pub acknowledged_at: Option<Instant>,
}

/// Answers the clients were given that say something about the service
/// during faults (counted over every attempt).
#[derive(Debug, Default)]
pub struct Answers {
    /// 500s: the service failing, never right for storage out of reach.
    pub server_errors: AtomicUsize,
    /// 503s: storage (or the instance) unavailable for a moment.
    pub unavailable: AtomicUsize,
    /// 503s without a `Retry-After` header.
    pub unavailable_without_retry_after: AtomicUsize,
}

/// An HTTP client shared by every bank client.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    answers: Arc<Answers>,
}

impl Api {
    /// A client with the bank's timeouts.
    pub fn new() -> Result<Api, BankError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(REQUEST_SECS_MAX))
            .connect_timeout(Duration::from_millis(CONNECT_MILLIS_MAX))
            .build()
            .map_err(|e| BankError::http("building the client", e))?;
        Ok(Api { http, answers: Arc::default() })
    }

    /// What the money requests were answered so far.
    pub fn answers(&self) -> &Answers {
        &self.answers
    }

    /// Sends a money request until a definite answer, starting on
    /// `endpoints[first]` and moving to the next instance on each retry.
    pub async fn send_money(
        &self,
        endpoints: &[Endpoint],
        first: usize,
        token: &str,
        key: &str,
        request: &MoneyRequest,
    ) -> Sent {
        let started = Instant::now();
        let mut backoff = Duration::from_millis(BACKOFF_MILLIS_MIN);
        let mut attempts = 0u32;
        loop {
            let endpoint = &endpoints[(first + attempts as usize) % endpoints.len().max(1)];
            attempts += 1;
            match self.attempt(&endpoint.url(), token, key, request).await {
                Reply::Done { transaction, replayed } => {
                    let outcome = Outcome::Acknowledged { transaction };
                    return Sent { outcome, attempts, replayed, acknowledged_at: Some(Instant::now()) };
                }
                Reply::Refused { status, code } => {
                    return Sent {
                        outcome: Outcome::Rejected { status, code },
                        attempts,
                        replayed: false,
                        acknowledged_at: None,
                    };
                }
                Reply::Retry(reason) if started.elapsed() >= Duration::from_secs(OP_RETRY_SECS_MAX) => {
                    return Sent {
                        outcome: Outcome::Indeterminate { reason },
                        attempts,
                        replayed: false,
                        acknowledged_at: None,
                    };
                }
                Reply::Retry(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(BACKOFF_MILLIS_MAX));
                }
            }
        }
    }

    async fn attempt(&self, base: &str, token: &str, key: &str, request: &MoneyRequest) -> Reply {
        let sent = self
            .http
            .post(format!("{base}{}", request.path))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&request.body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Reply::Retry(format!("transport: {error}")),
        };
        let status = response.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            self.answers.server_errors.fetch_add(1, Ordering::Relaxed);
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            self.answers.unavailable.fetch_add(1, Ordering::Relaxed);
            if !response.headers().contains_key(reqwest::header::RETRY_AFTER) {
                self.answers.unavailable_without_retry_after.fetch_add(1, Ordering::Relaxed);
            }
        }
        let replayed = response.headers().get(REPLAYED_HEADER).is_some_and(|v| v.as_bytes() == b"true");
        let body: Value = match response.json().await {
            Ok(body) => body,
            Err(error) => return Reply::Retry(format!("{status}: unreadable body: {error}")),
        };
        classify(status, replayed, &body)
    }

    /// POSTs JSON (no retries: setup runs before the nemesis).
    pub async fn post(&self, base: &str, path: &str, token: Option<&str>, body: &Value) -> Result<Value, BankError> {
        let mut request = self.http.post(format!("{base}{path}")).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        read(path, request.send().await).await
    }

    /// PATCHes JSON (no retries: setup runs before the nemesis).
    pub async fn patch(&self, base: &str, path: &str, token: &str, body: &Value) -> Result<Value, BankError> {
        read(path, self.http.patch(format!("{base}{path}")).json(body).bearer_auth(token).send().await).await
    }

    /// GETs JSON with a query string.
    pub async fn get_query(
        &self,
        base: &str,
        path: &str,
        token: &str,
        query: &[(String, String)],
    ) -> Result<Value, BankError> {
        read(path, self.http.get(format!("{base}{path}")).query(query).bearer_auth(token).send().await).await
    }

    /// GETs JSON.
    pub async fn get(&self, base: &str, path: &str, token: &str) -> Result<Value, BankError> {
        read(path, self.http.get(format!("{base}{path}")).bearer_auth(token).send().await).await
    }
}

/// What an answer means for the operation.
fn classify(status: StatusCode, replayed: bool, body: &Value) -> Reply {
    if status.is_success() {
        return match body["id"].as_str().and_then(|id| id.parse::<Uuid>().ok()) {
            Some(transaction) => Reply::Done { transaction, replayed },
            None => Reply::Retry(format!("{status} without a transaction id: {body}")),
        };
    }
    let definite =
        status.is_client_error() && status != StatusCode::REQUEST_TIMEOUT && status != StatusCode::TOO_MANY_REQUESTS;
    if definite {
        let code = body["code"].as_str().unwrap_or("no_code").to_owned();
        return Reply::Refused { status: status.as_u16(), code };
    }
    Reply::Retry(format!("{status}: {}", body["code"].as_str().unwrap_or("no code")))
}

/// A successful answer's JSON, or the call's error.
async fn read(path: &str, sent: reqwest::Result<reqwest::Response>) -> Result<Value, BankError> {
    let response = sent.map_err(|e| BankError::http(path, e))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| BankError::http(path, e))?;
    if !status.is_success() {
        return Err(BankError::http(path, format!("{status}: {text}")));
    }
    serde_json::from_str(&text).map_err(|e| BankError::http(path, format!("{e}: {text}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_created_transaction_is_done_with_its_id_and_replay_marker() {
        let id = Uuid::now_v7();
        let reply = classify(StatusCode::CREATED, true, &json!({"id": id.to_string()}));
        assert_eq!(reply, Reply::Done { transaction: id, replayed: true });
    }

    #[test]
    fn a_client_error_is_a_definite_refusal_with_its_code() {
        let reply = classify(StatusCode::UNPROCESSABLE_ENTITY, false, &json!({"code": "insufficient_funds"}));
        assert_eq!(reply, Reply::Refused { status: 422, code: "insufficient_funds".into() });
    }

    #[test]
    fn server_errors_throttling_and_timeouts_are_retried() {
        for status in [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::REQUEST_TIMEOUT,
        ] {
            assert!(matches!(classify(status, false, &json!({"code": "x"})), Reply::Retry(_)), "{status}");
        }
    }

    #[test]
    fn a_success_without_a_transaction_id_is_not_an_acknowledgement() {
        assert!(matches!(classify(StatusCode::CREATED, false, &json!({})), Reply::Retry(_)));
    }
}
