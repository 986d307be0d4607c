//! The browser dashboard: static files from `ledger-http/dashboard/`,
//! embedded in the binary at compile time, served at `/` (the page) and
//! `/assets/...` (its scripts and styles).
//!
//! The dashboard is a client of the public API and nothing more: plain
//! HTML, CSS and JavaScript modules, no build step, no framework. Every
//! response carries a strong `ETag` (the SHA-256 of the file) and
//! `Cache-Control: no-cache`, so browsers revalidate cheaply (`304`) and
//! never run a stale script after an upgrade. The page itself carries a
//! strict Content-Security-Policy: scripts, styles and connections only from
//! this origin, no inline script, no framing.
//!
//! These routes are not API operations, so they are not in the OpenAPI
//! document; unknown paths (under `/api` or not) still fall through to the
//! service's problem+json 404.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use crate::error::ApiError;

/// The dashboard's page and assets, embedded from `dashboard/` (also in
/// debug builds, so what is tested is what ships).
#[derive(RustEmbed)]
#[folder = "dashboard/"]
struct Files;

/// The page's Content-Security-Policy: nothing from other origins, no
/// inline script or style, no plugins, no framing, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The file served at `/`.
const INDEX: &str = "index.html";

/// The dashboard's routes: `GET /` and `GET /assets/{*path}`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(index)).route("/assets/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve(INDEX, &headers)
        .unwrap_or_else(|| ApiError::not_found("asset_not_found", "the dashboard is missing").into_response())
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    // The page is served at `/` only, with its own headers.
    let found = if path == INDEX { None } else { serve(&path, &headers) };
    found.unwrap_or_else(|| ApiError::not_found("asset_not_found", "no such dashboard file").into_response())
}

/// The response for an embedded file, or `None` if there is no such file.
fn serve(path: &str, request: &HeaderMap) -> Option<Response> {
    let file = Files::get(path)?;
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, value);
    }
    if path == INDEX {
        add_page_headers(&mut headers);
    }
    if matches_etag(request, &etag) {
        return Some((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    Some((headers, file.data.into_owned()).into_response())
}

/// The security headers of the HTML page.
fn add_page_headers(headers: &mut HeaderMap) {
    headers
        .insert(HeaderName::from_static("content-security-policy"), HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(HeaderName::from_static("referrer-policy"), HeaderValue::from_static("no-referrer"));
    headers.insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY"));
    headers.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
}

/// Whether `If-None-Match` names this ETag (or `*`).
fn matches_etag(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// The content type of a dashboard file, by extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The paths of every embedded file (for tests and diagnostics).
pub fn files() -> impl Iterator<Item = String> {
    Files::iter().map(|path| path.into_owned())
}

/// An embedded file's bytes (for tests and diagnostics).
pub fn file(path: &str) -> Option<Vec<u8>> {
    Files::get(path).map(|file| file.data.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("noextension"), "application/octet-stream");
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let etag = "\"abc\"";
        let mut headers = HeaderMap::new();
        assert!(!matches_etag(&headers, etag));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"abc\""));
        assert!(matches_etag(&headers, etag));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(matches_etag(&headers, etag));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"abcd\""));
        assert!(!matches_etag(&headers, etag));
    }
}
