//! Authentication of requests, session cookies and CSRF protection.
//!
//! A request authenticates with `Authorization: Bearer <token>` (API
//! clients) or with the `ledger_session` cookie set at login (browsers). The
//! bearer header wins when both are present.
//!
//! **CSRF.** Browsers attach cookies to cross-site requests on their own, so
//! a cookie-authenticated request that is not `GET`/`HEAD`/`OPTIONS` must
//! also carry `X-CSRF-Token`, equal to the token returned at login (also
//! readable by the page's script from the non-HttpOnly `ledger_csrf` cookie).
//! The token is an HMAC of the session token, so the server stores nothing
//! extra and a cross-site page, which can neither read the session cookie
//! nor set custom headers on a cross-site request without CORS (which this
//! service never grants), cannot produce it. This is the "signed
//! double-submit" pattern; `SameSite=Strict` cookies are a second line.
//! Bearer requests need no CSRF token: browsers never add that header
//! themselves.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use ledger_core::identity::SecretToken;
use ledger_core::{Account, AccountId, Actor, Authenticated, LedgerError};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::state::AppState;

/// The session cookie (HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "ledger_session";
/// The CSRF cookie (readable by the page's script, SameSite=Strict).
pub const CSRF_COOKIE: &str = "ledger_csrf";
/// The header a cookie-authenticated write must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How a request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `Authorization: Bearer`.
    Bearer,
    /// The session cookie.
    Cookie,
}

/// An authenticated request: extract it in a handler to require a session.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The user and session, from the core.
    pub authenticated: Authenticated,
    /// How the request authenticated.
    pub method: AuthMethod,
    /// The presented token (its `Debug` hides it), so long-lived responses
    /// can check later that the session is still live.
    pub(crate) token: SecretToken,
}

impl Auth {
    /// The actor every command and query runs as.
    pub fn actor(&self) -> Actor {
        self.authenticated.actor()
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (token, method) = presented(&parts.headers)?;
        let authenticated = state.ledger().authenticate(&token).await?;
        Auth::admitted(parts, authenticated, &token, method)
    }
}

impl Auth {
    /// The request's `Auth` once the core accepted its token: a cookie
    /// write must also carry the CSRF token.
    fn admitted(
        parts: &Parts,
        authenticated: Authenticated,
        token: &str,
        method: AuthMethod,
    ) -> Result<Auth, ApiError> {
        if method == AuthMethod::Cookie && !is_safe(&parts.method) {
            check_csrf(&parts.headers, token)?;
        }
        // The core accepted it, so it has the token's shape.
        let token = SecretToken::parse(token)?;
        Ok(Auth { authenticated, method, token })
    }
}

/// An authenticated request for the one account its path's `{id}` names
/// (the account, its balance): the session and the account come from one
/// read of the store ([`Ledger::authenticate_and_read_account`]) instead of
/// two. Judged as `Auth` and then `Ledger::account` would: unauthenticated
/// first, then a malformed id, then an account the caller may not see.
///
/// [`Ledger::authenticate_and_read_account`]: ledger_core::Ledger::authenticate_and_read_account
#[derive(Debug, Clone)]
pub struct AuthWithAccount {
    /// The request's authentication.
    pub auth: Auth,
    /// The account's id, from the path.
    pub id: AccountId,
    /// The ledger's time just before the read, so that a balance reported
    /// as of it holds every commit made up to it.
    pub read_at: DateTime<Utc>,
    /// The account, or why the caller cannot read it.
    pub account: Result<Account, LedgerError>,
}

impl FromRequestParts<AppState> for AuthWithAccount {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (token, method) = presented(&parts.headers)?;
        let id = match ApiPath::<Uuid>::from_request_parts(parts, state).await {
            Ok(ApiPath(id)) => AccountId::from_uuid(id),
            Err(malformed) => {
                // As with `Auth` before the path: a bad token says so first.
                Auth::from_request_parts(parts, state).await?;
                return Err(malformed);
            }
        };
        let read_at = state.ledger().now();
        let (authenticated, account) = state.ledger().authenticate_and_read_account(&token, id).await?;
        let auth = Auth::admitted(parts, authenticated, &token, method)?;
        Ok(AuthWithAccount { auth, id, read_at, account })
    }
}

/// The token a request presents and how: the bearer header wins over the
/// cookie; neither is unauthenticated.
fn presented(headers: &HeaderMap) -> Result<(String, AuthMethod), ApiError> {
    Ok(match headers.get(AUTHORIZATION) {
        Some(value) => (bearer_token(value).ok_or_else(ApiError::unauthenticated)?, AuthMethod::Bearer),
        None => (cookie(headers, SESSION_COOKIE).ok_or_else(ApiError::unauthenticated)?, AuthMethod::Cookie),
    })
}

fn bearer_token(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let (scheme, token) = text.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned())
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn check_csrf(headers: &HeaderMap, session_token: &str) -> Result<(), ApiError> {
    let presented = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let expected = csrf_token(session_token);
    // Constant time: the comparison must not reveal how much of a guess is right.
    if presented.is_empty() || !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(ApiError::forbidden(
            "csrf_token_invalid",
            "cookie-authenticated writes need the `X-CSRF-Token` header from login",
        ));
    }
    Ok(())
}

/// The CSRF token bound to a session token: hex HMAC-SHA256 keyed by it.
pub fn csrf_token(session_token: &str) -> String {
    match Hmac::<Sha256>::new_from_slice(session_token.as_bytes()) {
        Ok(mut mac) => {
            mac.update(b"ledger-http csrf v1");
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; unreachable, but never panic.
        Err(_) => String::new(),
    }
}

/// A cookie's value from the `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The `Set-Cookie` headers that log a browser in: the session and the CSRF token.
pub fn login_cookies(token: &SecretToken, max_age_secs: i64, secure: bool) -> Vec<HeaderValue> {
    let max_age = cookie::time::Duration::seconds(max_age_secs.max(0));
    let session = cookie::Cookie::build((SESSION_COOKIE, token.expose().to_owned()))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(max_age)
        .build();
    let csrf = cookie::Cookie::build((CSRF_COOKIE, csrf_token(token.expose())))
        .same_site(cookie::SameSite::Strict)
        .secure(secure)
        .path("/")
        .max_age(max_age)
        .build();
    [session, csrf].iter().filter_map(|c| HeaderValue::from_str(&c.to_string()).ok()).collect()
}

/// The `Set-Cookie` headers that clear both cookies (logout).
pub fn logout_cookies(secure: bool) -> Vec<HeaderValue> {
    [SESSION_COOKIE, CSRF_COOKIE]
        .into_iter()
        .map(|name| {
            cookie::Cookie::build((name, ""))
                .http_only(name == SESSION_COOKIE)
                .same_site(cookie::SameSite::Strict)
                .secure(secure)
                .path("/")
                .max_age(cookie::time::Duration::ZERO)
                .build()
        })
        .filter_map(|c| HeaderValue::from_str(&c.to_string()).ok())
        .collect()
}

/// Adds `Set-Cookie` headers to a header map.
pub fn set_cookies(headers: &mut HeaderMap, cookies: Vec<HeaderValue>) {
    for value in cookies {
        headers.append(SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer_token(&HeaderValue::from_static("Bearer abc")).as_deref(), Some("abc"));
        assert_eq!(bearer_token(&HeaderValue::from_static("bearer abc")).as_deref(), Some("abc"));
        assert_eq!(bearer_token(&HeaderValue::from_static("Basic abc")), None);
        assert_eq!(bearer_token(&HeaderValue::from_static("abc")), None);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; ledger_session=tok; b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_session() {
        assert_eq!(csrf_token("a"), csrf_token("a"));
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a").len(), 64);
    }
}
