//! Errors as RFC 9457 problem details (`application/problem+json`).
//!
//! Every error response carries a stable machine-readable `code`. Handlers
//! return [`ApiError`]; [`problem_details`] (a middleware) adds the request
//! id and path to it, logs the hidden cause of a 500, and turns any other
//! error response (axum's plain-text rejections, a timeout, a panic) into a
//! problem too, so no client ever sees a plain-text error.
//!
//! How [`LedgerError`]s map to statuses is [`status_of`]: validation 422,
//! unknown or foreign things 404 (never 403, so ids reveal nothing),
//! authentication 401, role 403, conflicts of state 409, throttling 429,
//! storage out of reach (a failover, a lost connection, a commit whose
//! outcome a retry with the same idempotency key will tell) 503 with
//! `Retry-After`, anything else 500.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ledger_core::{ErrorCategory, LedgerError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::REQUEST_ID_HEADER;

/// What a 503 for storage out of reach asks clients to wait, in seconds: a
/// failover on a Patroni cluster takes a few.
pub const STORAGE_RETRY_AFTER_SECS: u64 = 1;

/// The media type of problem responses.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`urn:ledger:problem:<code>`).
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the problem type (the status's reason phrase).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The stable machine-readable code (`insufficient_funds`, `malformed_json`, ...).
    pub code: String,
    /// The request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request id (also in the `x-request-id` header), to quote to support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For `insufficient_funds` on a multi-posting transaction: the 0-based
    /// index of the posting whose account would end below its floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posting: Option<usize>,
}

impl Problem {
    fn new(status: StatusCode, code: &str, detail: Option<String>) -> Problem {
        Problem {
            type_uri: format!("urn:ledger:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
            instance: None,
            request_id: None,
            posting: None,
        }
    }
}

/// An error a handler returns; rendered as a problem response.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: Option<String>,
    retry_after_secs: Option<u64>,
    /// The posting a floor breach names (see [`Problem::posting`]).
    posting: Option<usize>,
    /// For 500s: what actually failed. Logged with the request id, never sent.
    cause: Option<String>,
}

impl ApiError {
    /// An error with a status, a stable code and a detail for people.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { status, code, detail: Some(detail.into()), retry_after_secs: None, posting: None, cause: None }
    }

    /// 400: the request is malformed (syntax, headers, query string).
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 422: the request is well-formed but its content is invalid.
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 401: no valid credentials.
    pub fn unauthenticated() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "authentication required")
    }

    /// 403: authenticated, but the request may not be made this way.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, detail)
    }

    /// 404: nothing here (or nothing the caller may see).
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, detail)
    }

    /// 429: try again after the given seconds.
    pub fn too_many_requests(code: &'static str, detail: impl Into<String>, retry_after_secs: u64) -> ApiError {
        ApiError {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, detail)
        }
    }

    /// 500: the cause is logged with the request id and never sent.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal_error",
            detail: Some("the server could not complete the request; quote the request id to support".into()),
            retry_after_secs: None,
            posting: None,
            cause: Some(cause.to_string()),
        }
    }

    /// 503: storage is out of reach for now; retry (with the same
    /// idempotency key) after [`STORAGE_RETRY_AFTER_SECS`]. The cause is
    /// logged with the request id and never sent.
    pub fn storage_unavailable(cause: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "storage_unavailable",
            detail: Some(
                "storage is unavailable for a moment; retry the same request (with the same Idempotency-Key) \
                 after Retry-After seconds"
                    .into(),
            ),
            retry_after_secs: Some(STORAGE_RETRY_AFTER_SECS),
            posting: None,
            cause: Some(cause.to_string()),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)
    }
}

impl std::error::Error for ApiError {}

/// The HTTP status of a ledger error (see the module docs for the scheme):
/// by its category, exhaustively, so a new kind of error is a compile error
/// here rather than a silent 500.
pub fn status_of(error: &LedgerError) -> StatusCode {
    match error.category() {
        ErrorCategory::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCategory::InvalidToken => StatusCode::BAD_REQUEST,
        ErrorCategory::NotFound => StatusCode::NOT_FOUND,
        ErrorCategory::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCategory::Forbidden => StatusCode::FORBIDDEN,
        ErrorCategory::Conflict => StatusCode::CONFLICT,
        ErrorCategory::Throttled => StatusCode::TOO_MANY_REQUESTS,
        ErrorCategory::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCategory::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> ApiError {
        let status = status_of(&error);
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            return ApiError::internal(format!("{}: {error}", error.code()));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return ApiError::storage_unavailable(error);
        }
        let mut api = ApiError::new(status, error.code(), error.to_string());
        match error.root() {
            LedgerError::TooManyAttempts { retry_after_secs } => {
                api.retry_after_secs = Some(u64::try_from(*retry_after_secs).unwrap_or(1).max(1));
            }
            LedgerError::InsufficientFunds { posting, .. } => api.posting = *posting,
            _ => {}
        }
        api
    }
}

/// Marks a response as rendered from an [`ApiError`]: the middleware
/// completes it (request id, path) and logs the cause of a 500.
#[derive(Debug, Clone)]
struct Rendered {
    problem: Problem,
    cause: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem { posting: self.posting, ..Problem::new(self.status, self.code, self.detail) };
        let mut response = problem_response(&problem);
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(Rendered { problem, cause: self.cause });
        response
    }
}

fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // Serializing a struct of strings cannot fail; fall back to a fixed body anyway.
    let body = serde_json::to_vec(problem).unwrap_or_else(|_| br#"{"code":"internal_error"}"#.to_vec());
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

/// The code of an error response that did not come from an [`ApiError`]
/// (axum's own rejections and fallbacks, tower-http's timeout, a panic).
fn code_of_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        // The only unrendered 503 comes from the request timeout layer.
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        s if s.is_server_error() => "internal_error",
        _ => "error",
    }
}

/// Middleware: completes problem responses and converts every other error
/// response into one. JSON error bodies a handler chose on purpose (the
/// health check's 503) are left alone.
pub async fn problem_details(request: Request, next: Next) -> Response {
    let request_id = request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let instance = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    let (mut problem, cause) = match response.extensions_mut().remove::<Rendered>() {
        Some(rendered) => (rendered.problem, rendered.cause),
        None if is_json(&response) => return response,
        None => {
            let problem = Problem::new(status, code_of_status(status), status.canonical_reason().map(str::to_owned));
            let cause = status.is_server_error().then(|| format!("{status} from a layer below the handlers"));
            (problem, cause)
        }
    };
    if let Some(cause) = &cause {
        // The span around this request carries the request id too. Storage
        // out of reach is expected during a failover: a warning, not an error.
        let request_id = request_id.as_deref().unwrap_or("-");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(request_id, %cause, "storage unavailable");
        } else {
            tracing::error!(request_id, %cause, "request failed");
        }
    }
    problem.instance = Some(instance);
    problem.request_id = request_id;
    let mut rebuilt = problem_response(&problem);
    // Keep headers such as Retry-After, WWW-Authenticate and Allow.
    for (name, value) in response.headers() {
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            rebuilt.headers_mut().insert(name.clone(), value.clone());
        }
    }
    rebuilt
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with(PROBLEM_JSON))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_facing_ledger_error_has_a_4xx_status() {
        let cases = [
            (
                LedgerError::InsufficientFunds {
                    account: Default::default(),
                    number: ledger_core::AccountNumber::settlement(ledger_core::Currency::Usd),
                    available: 1.into(),
                    requested: 2.into(),
                    posting: None,
                },
                422,
            ),
            (LedgerError::IdempotencyConflict, 409),
            (LedgerError::EmailTaken, 409),
            (LedgerError::Unauthenticated, 401),
            (LedgerError::KycRequired, 403),
            (LedgerError::UserNotFound, 404),
            (LedgerError::TooManyAttempts { retry_after_secs: 5 }, 429),
            (
                LedgerError::BatchCommandFailed {
                    index: 0,
                    source: Box::new(LedgerError::AccountNotFound { account: Default::default() }),
                },
                404,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(status_of(&error).as_u16(), status, "{error:?}");
        }
    }

    #[test]
    fn storage_errors_hide_their_cause() {
        let error = LedgerError::Storage(
            ledger_core::StorageError::new("sled", "disk on fire at /secret/path")
                .of_kind(ledger_core::StorageErrorKind::Refused),
        );
        let api = ApiError::from(error);
        assert_eq!(api.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!api.detail.unwrap_or_default().contains("secret"));
        assert!(api.cause.unwrap_or_default().contains("secret"));
    }

    #[test]
    fn storage_out_of_reach_or_of_unknown_outcome_is_503_with_retry_after_and_no_cause() {
        use ledger_core::StorageErrorKind::{Unavailable, Unknown};
        for kind in [Unavailable, Unknown] {
            let storage = ledger_core::StorageError::new("postgres", "connection to 10.0.0.7 reset").of_kind(kind);
            let api = ApiError::from(LedgerError::Storage(storage));
            assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE, "{kind:?}");
            assert_eq!(api.code(), "storage_unavailable");
            assert_eq!(api.retry_after_secs, Some(STORAGE_RETRY_AFTER_SECS));
            assert!(!api.detail.clone().unwrap_or_default().contains("10.0.0.7"));
            assert!(api.cause.clone().unwrap_or_default().contains("10.0.0.7"));
            let response = api.into_response();
            assert_eq!(response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()), Some("1"));
        }
    }
}
