//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! attributes and the DTOs' `ToSchema` derives; served at `/api/openapi.json`.
//!
//! **Links.** Responses carry OpenAPI links ([`LINKS`]) saying which later
//! call takes a value from them (the account just opened -> its balance,
//! a deposit into it, a hold on it; a hold -> its capture or void), so
//! stateful API fuzzers (schemathesis) can chain real calls instead of
//! guessing ids.

use serde_json::{Value, json};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::link::Link;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, RefOr};

use crate::auth::SESSION_COOKIE;
use crate::error::Problem;
use crate::publish::{EventBalance, EventDto};

/// Completes the document collected from the routes: title, version, the
/// security schemes the routes name, the problem schema, and the `Event`
/// schema of what the publishers send.
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
        // Not a response of any route: what the sinks publish (docs/events.md).
        .schema_from::<EventDto>()
        .schema_from::<EventBalance>()
        .build();
    match openapi.components.as_mut() {
        Some(components) => {
            components.security_schemes.extend(extra.security_schemes);
            components.schemas.extend(extra.schemas);
        }
        None => openapi.components = Some(extra),
    }
    add_links(&mut openapi);
    openapi
}

/// One OpenAPI link: from a response of one operation to another operation.
#[derive(Debug, Clone, Copy)]
pub struct LinkSpec {
    /// The operation whose response holds the value.
    pub source: &'static str,
    /// The response status the link applies to.
    pub status: &'static str,
    /// The operation called next.
    pub target: &'static str,
    /// Its path or query parameter and the runtime expression giving it.
    pub parameter: Option<(&'static str, &'static str)>,
    /// A request body (with runtime expressions) for the target, merged
    /// into what the fuzzer generates; `None` for no body.
    pub body: Option<fn() -> Value>,
}

const ACCOUNT_ID: &str = "$response.body#/id";
const TRANSACTION_ID: &str = "$response.body#/id";

fn deposit_body() -> Value {
    json!({"account_id": "$response.body#/id", "amount": "25.00"})
}

fn small_body() -> Value {
    json!({"account_id": "$response.body#/id", "amount": "1.00"})
}

/// One unit from the ledger account just opened to its currency's
/// settlement account (refused with `currency_mismatch` off USD, which
/// exercises that path too).
fn entry_body() -> Value {
    json!({"postings": [{
        "source": "$response.body#/id",
        "destination": "@settlement:usd",
        "amount": "1.00",
        "currency": "$response.body#/currency",
    }]})
}

fn kyc_verified_body() -> Value {
    json!({"decision": "verified"})
}

/// The links of the document, by operation id (the handler's name).
pub const LINKS: &[LinkSpec] = &[
    // An account just opened: read it, move money on it, change its status.
    LinkSpec {
        source: "open_account",
        status: "201",
        target: "get_account",
        parameter: Some(("id", ACCOUNT_ID)),
        body: None,
    },
    LinkSpec {
        source: "open_account",
        status: "201",
        target: "get_balance",
        parameter: Some(("id", ACCOUNT_ID)),
        body: None,
    },
    LinkSpec {
        source: "open_account",
        status: "201",
        target: "history",
        parameter: Some(("account_id", ACCOUNT_ID)),
        body: None,
    },
    LinkSpec { source: "open_account", status: "201", target: "deposit", parameter: None, body: Some(deposit_body) },
    LinkSpec { source: "open_account", status: "201", target: "withdraw", parameter: None, body: Some(small_body) },
    LinkSpec { source: "open_account", status: "201", target: "place_hold", parameter: None, body: Some(small_body) },
    LinkSpec {
        source: "open_account",
        status: "201",
        target: "freeze",
        parameter: Some(("id", ACCOUNT_ID)),
        body: None,
    },
    LinkSpec {
        source: "open_account",
        status: "201",
        target: "close",
        parameter: Some(("id", ACCOUNT_ID)),
        body: None,
    },
    LinkSpec {
        source: "open_account",
        status: "201",
        target: "rename_account",
        parameter: Some(("id", ACCOUNT_ID)),
        body: None,
    },
    LinkSpec { source: "freeze", status: "200", target: "unfreeze", parameter: Some(("id", ACCOUNT_ID)), body: None },
    LinkSpec {
        source: "freeze",
        status: "200",
        target: "get_account",
        parameter: Some(("id", ACCOUNT_ID)),
        body: None,
    },
    // Money moved: read the transaction; a hold: capture or void it.
    LinkSpec {
        source: "deposit",
        status: "201",
        target: "get_transaction",
        parameter: Some(("id", TRANSACTION_ID)),
        body: None,
    },
    LinkSpec {
        source: "withdraw",
        status: "201",
        target: "get_transaction",
        parameter: Some(("id", TRANSACTION_ID)),
        body: None,
    },
    LinkSpec {
        source: "transfer",
        status: "201",
        target: "get_transaction",
        parameter: Some(("id", TRANSACTION_ID)),
        body: None,
    },
    LinkSpec {
        source: "place_hold",
        status: "201",
        target: "get_transaction",
        parameter: Some(("id", TRANSACTION_ID)),
        body: None,
    },
    LinkSpec {
        source: "place_hold",
        status: "201",
        target: "capture_hold",
        parameter: Some(("id", TRANSACTION_ID)),
        body: None,
    },
    LinkSpec {
        source: "place_hold",
        status: "201",
        target: "void_hold",
        parameter: Some(("id", TRANSACTION_ID)),
        body: None,
    },
    LinkSpec {
        source: "capture_hold",
        status: "200",
        target: "get_transaction",
        parameter: Some(("id", TRANSACTION_ID)),
        body: None,
    },
    LinkSpec {
        source: "void_hold",
        status: "200",
        target: "get_transaction",
        parameter: Some(("id", TRANSACTION_ID)),
        body: None,
    },
    // An account's balance over time; a transaction's reversal.
    LinkSpec {
        source: "open_account",
        status: "201",
        target: "balance_history",
        parameter: Some(("id", ACCOUNT_ID)),
        body: None,
    },
    LinkSpec {
        source: "open_account",
        status: "201",
        target: "statement",
        parameter: Some(("id", ACCOUNT_ID)),
        body: None,
    },
    LinkSpec {
        source: "deposit",
        status: "201",
        target: "reverse_transaction",
        parameter: Some(("id", TRANSACTION_ID)),
        body: None,
    },
    LinkSpec {
        source: "post_entry",
        status: "201",
        target: "reverse_transaction",
        parameter: Some(("id", TRANSACTION_ID)),
        body: None,
    },
    LinkSpec {
        source: "open_ledger_account",
        status: "201",
        target: "ledger_account_balance_history",
        parameter: Some(("code", "$response.body#/code")),
        body: None,
    },
    LinkSpec {
        source: "open_ledger_account",
        status: "201",
        target: "ledger_account_statement",
        parameter: Some(("code", "$response.body#/code")),
        body: None,
    },
    // A ledger account just opened: read it by code, post an entry on it.
    LinkSpec {
        source: "open_ledger_account",
        status: "201",
        target: "get_ledger_account",
        parameter: Some(("code", "$response.body#/code")),
        body: None,
    },
    LinkSpec {
        source: "open_ledger_account",
        status: "201",
        target: "post_entry",
        parameter: None,
        body: Some(entry_body),
    },
    LinkSpec {
        source: "post_entry",
        status: "201",
        target: "get_transaction",
        parameter: Some(("id", TRANSACTION_ID)),
        body: None,
    },
    // A user just registered: an admin reviews their KYC.
    LinkSpec {
        source: "register",
        status: "201",
        target: "review_kyc",
        parameter: Some(("id", "$response.body#/id")),
        body: Some(kyc_verified_body),
    },
];

/// Adds [`LINKS`] to the responses they start from. A link whose source
/// operation or status is missing is skipped (the tests catch that).
fn add_links(openapi: &mut OpenApi) {
    for spec in LINKS {
        let Some(operation) = operation_mut(openapi, spec.source) else { continue };
        let Some(RefOr::T(response)) = operation.responses.responses.get_mut(spec.status) else { continue };
        response.links.insert(link_name(spec), RefOr::T(link(spec)));
    }
}

/// The link object. utoipa 5's `Link` serialises its fields in snake case
/// (`operation_id`), which OpenAPI readers ignore, so the fields are set
/// through its flattened extension map under their OpenAPI names instead.
fn link(spec: &LinkSpec) -> Link {
    let mut fields = vec![("operationId", Value::from(spec.target))];
    if let Some((name, expression)) = spec.parameter {
        fields.push(("parameters", json!({ name: expression })));
    }
    if let Some(body) = spec.body {
        fields.push(("requestBody", body()));
    }
    Link::builder().extensions(Some(Extensions::from_iter(fields))).build()
}

/// `GetAccount`, `CaptureHold`: the target's id in upper camel case.
fn link_name(spec: &LinkSpec) -> String {
    spec.target
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The operation with this id, wherever it is in the document.
pub fn operation_mut<'a>(openapi: &'a mut OpenApi, operation_id: &str) -> Option<&'a mut Operation> {
    openapi.paths.paths.values_mut().find_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.options,
            &mut item.head,
            &mut item.trace,
        ]
        .into_iter()
        .filter_map(Option::as_mut)
        .find(|operation| operation.operation_id.as_deref() == Some(operation_id))
    })
}
