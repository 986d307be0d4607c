//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! attributes and the DTOs' `ToSchema` derives; served at `/api/openapi.json`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi};

use crate::auth::SESSION_COOKIE;
use crate::error::Problem;

/// Completes the document collected from the routes: title, version, the
/// security schemes the routes name, and the problem schema.
pub fn finish(mut openapi: OpenApi) -> OpenApi {
    openapi.info = InfoBuilder::new()
        .title("ledger-http")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Double-entry ledger service. Amounts are decimal strings. Errors are RFC 9457 \
             `application/problem+json` with a stable `code`. Money commands need an \
             `Idempotency-Key` header. Cookie-authenticated writes need `X-CSRF-Token`.",
        ))
        .build();
    let extra = ComponentsBuilder::new()
        .security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)))
        .security_scheme("cookie", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))))
        .schema_from::<Problem>()
        .build();
    match openapi.components.as_mut() {
        Some(components) => {
            components.security_schemes.extend(extra.security_schemes);
            components.schemas.extend(extra.schemas);
        }
        None => openapi.components = Some(extra),
    }
    openapi
}
