//! Request bodies are JSON, and say so: a request that carries a body
//! without `Content-Type: application/json` (or another `+json` type) is
//! refused with 415 before any handler runs, on every route.
//!
//! Without this, a handler whose body is optional (a capture's amount)
//! would read a JSON body sent without its type as no body at all, and act
//! on a request the client did not make.

use axum::body::HttpBody;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Middleware: 415 for a body that is not declared JSON.
pub async fn require_json_bodies(request: Request, next: Next) -> Response {
    let headers = request.headers();
    // The headers say so on the wire; a request built in process may carry
    // a body without a Content-Length, which its size hint still shows.
    let sized = request.body().size_hint().lower() > 0;
    if (sized || has_body(headers)) && !is_json(headers) {
        let detail = "a request body must be sent with `Content-Type: application/json`";
        return ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", detail).into_response();
    }
    next.run(request).await
}

/// Whether the request says it carries a body: a non-zero length, or a
/// chunked (or otherwise encoded) one.
fn has_body(headers: &HeaderMap) -> bool {
    let length = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(str::trim);
    headers.contains_key(TRANSFER_ENCODING) || length.is_some_and(|l| l != "0")
}

/// `application/json` or `application/<anything>+json`, with any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(axum::http::HeaderName, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), HeaderValue::from_static(v))).collect()
    }

    #[test]
    fn a_body_needs_a_json_type_and_no_body_needs_none() {
        assert!(!has_body(&headers(&[])));
        assert!(!has_body(&headers(&[(CONTENT_LENGTH, "0")])));
        assert!(has_body(&headers(&[(CONTENT_LENGTH, "12")])));
        assert!(has_body(&headers(&[(TRANSFER_ENCODING, "chunked")])));
        assert!(is_json(&headers(&[(CONTENT_TYPE, "application/json")])));
        assert!(is_json(&headers(&[(CONTENT_TYPE, "Application/JSON; charset=utf-8")])));
        assert!(is_json(&headers(&[(CONTENT_TYPE, "application/merge-patch+json")])));
        assert!(!is_json(&headers(&[(CONTENT_TYPE, "text/plain")])));
        assert!(!is_json(&headers(&[(CONTENT_TYPE, "application/jsonx")])));
        assert!(!is_json(&headers(&[])));
    }
}
