//! Other users' things do not exist: every route taking an id answers 404
//! for another user's id exactly as for an unknown one, and changes nothing
//! of the victim's (accounts, balances, transactions, sessions, profile).
//!
//! The routes with a path parameter are read from the served OpenAPI
//! document, so a new route with an id fails this test until it is probed.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_with_an_id_answers_404_for_another_users_things() {
    let app = TestApp::new().await;
    cross_user_isolation(&app).await;
}

/// One request Alice makes with Bob's ids, and its twin with unknown ids.
struct Probe {
    method: Method,
    /// The OpenAPI path of a route with a path parameter; `None` when the id
    /// travels in the body or the query string.
    template: Option<&'static str>,
    path: String,
    body: Option<Value>,
    /// Money commands need an `Idempotency-Key`.
    keyed: bool,
    /// What Alice gets for Bob's thing and for an unknown one alike: 404,
    /// or 403 on admin-only routes that name no user's things.
    expected: StatusCode,
}

/// The ids a probe names: Bob's, or unknown ones.
struct Ids<'a> {
    account: &'a str,
    transaction: &'a str,
    hold: &'a str,
    session: &'a str,
    user: &'a str,
    /// Alice's own account (the other side of a transfer).
    own_account: &'a str,
    /// A ledger account's code.
    code: &'a str,
}

fn probes(ids: &Ids<'_>) -> Vec<Probe> {
    let Ids { account: acc, transaction: tx, hold, session, user, own_account, code } = ids;
    let path = |method: Method, template: &'static str, path: String| Probe {
        method,
        template: Some(template),
        path,
        body: None,
        keyed: false,
        expected: StatusCode::NOT_FOUND,
    };
    let body = |path: &str, body: Value| Probe {
        method: Method::POST,
        template: None,
        path: path.to_owned(),
        body: Some(body),
        keyed: true,
        expected: StatusCode::NOT_FOUND,
    };
    vec![
        path(Method::GET, "/api/accounts/{id}", format!("/api/accounts/{acc}")),
        Probe {
            body: Some(json!({"name": "Mine now"})),
            ..path(Method::PATCH, "/api/accounts/{id}", format!("/api/accounts/{acc}"))
        },
        path(Method::GET, "/api/accounts/{id}/balance", format!("/api/accounts/{acc}/balance")),
        path(Method::GET, "/api/accounts/{id}/balance-history", format!("/api/accounts/{acc}/balance-history")),
        path(Method::GET, "/api/accounts/{id}/statement", format!("/api/accounts/{acc}/statement")),
        path(Method::POST, "/api/accounts/{id}/freeze", format!("/api/accounts/{acc}/freeze")),
        path(Method::POST, "/api/accounts/{id}/unfreeze", format!("/api/accounts/{acc}/unfreeze")),
        path(Method::POST, "/api/accounts/{id}/close", format!("/api/accounts/{acc}/close")),
        path(Method::GET, "/api/transactions/{id}", format!("/api/transactions/{tx}")),
        Probe { keyed: true, ..path(Method::POST, "/api/holds/{id}/capture", format!("/api/holds/{hold}/capture")) },
        Probe { keyed: true, ..path(Method::POST, "/api/holds/{id}/void", format!("/api/holds/{hold}/void")) },
        path(Method::DELETE, "/api/auth/sessions/{id}", format!("/api/auth/sessions/{session}")),
        Probe {
            body: Some(json!({"decision": "verified"})),
            ..path(Method::POST, "/api/admin/users/{id}/kyc", format!("/api/admin/users/{user}/kyc"))
        },
        path(Method::GET, "/api/admin/users/{id}/accounts", format!("/api/admin/users/{user}/accounts")),
        Probe { template: None, ..path(Method::GET, "", format!("/api/transactions?account_id={acc}")) },
        body("/api/transactions/deposits", json!({"account_id": acc, "amount": "1"})),
        body("/api/transactions/withdrawals", json!({"account_id": acc, "amount": "1"})),
        body(
            "/api/transactions/transfers",
            json!({"from_account_id": acc, "to_account_id": own_account, "amount": "1"}),
        ),
        body(
            "/api/transactions/transfers",
            json!({"from_account_id": own_account, "to_account_id": acc, "amount": "1"}),
        ),
        body("/api/holds", json!({"account_id": acc, "amount": "1"})),
        // Ledger accounts are no customer's: an existing code and an unknown
        // one are both just forbidden to a customer.
        Probe {
            expected: StatusCode::FORBIDDEN,
            ..path(Method::GET, "/api/ledger-accounts/{code}", format!("/api/ledger-accounts/{code}"))
        },
        Probe {
            expected: StatusCode::FORBIDDEN,
            ..path(Method::GET, "/api/ledger-accounts/{code}/balance", format!("/api/ledger-accounts/{code}/balance"))
        },
        Probe {
            expected: StatusCode::FORBIDDEN,
            ..path(
                Method::GET,
                "/api/ledger-accounts/{code}/balance-history",
                format!("/api/ledger-accounts/{code}/balance-history"),
            )
        },
        Probe {
            expected: StatusCode::FORBIDDEN,
            ..path(
                Method::GET,
                "/api/ledger-accounts/{code}/statement",
                format!("/api/ledger-accounts/{code}/statement"),
            )
        },
        // Reversing is an admin's: Bob's transaction and an unknown one alike.
        Probe {
            expected: StatusCode::FORBIDDEN,
            keyed: true,
            ..path(Method::POST, "/api/transactions/{id}/reverse", format!("/api/transactions/{tx}/reverse"))
        },
        Probe {
            expected: StatusCode::FORBIDDEN,
            ..body(
                "/api/transactions",
                json!({"postings": [{"source": acc, "destination": own_account, "amount": "1", "currency": "USD"}]}),
            )
        },
    ]
}

/// Every (method, path) of the served OpenAPI document whose path has a parameter.
pub async fn routes_with_path_parameters(app: &Client) -> BTreeSet<(String, String)> {
    let doc = app.get("/api/openapi.json").send().await.json();
    let paths = doc["paths"].as_object().expect("the document has paths");
    paths
        .iter()
        .filter(|(path, _)| path.contains('{'))
        .flat_map(|(path, item)| {
            item.as_object().into_iter().flatten().map(move |(method, _)| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

/// What Bob can see of his own: accounts with balances, transactions,
/// sessions (without `last_seen_at`, which his own reads may move) and profile.
async fn victim_view(app: &Client, bob: &User) -> Value {
    let mut view = serde_json::Map::new();
    for path in ["/api/accounts", "/api/transactions?limit=200", "/api/auth/sessions", "/api/me"] {
        let r = app.get(path).bearer(bob).send().await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text());
        let mut body = r.json();
        if let Some(items) = body["items"].as_array_mut() {
            for item in items {
                item.as_object_mut().map(|o| o.remove("last_seen_at"));
            }
        }
        view.insert(path.to_owned(), body);
    }
    Value::Object(view)
}

/// Alice probes every route that takes an id with Bob's ids and unknown ones.
/// Also run against the real binary on every backend (`backends.rs`).
pub async fn cross_user_isolation(app: &Client) {
    let alice = app.user(&app.email("alice")).await;
    let bob = app.user(&app.email("bob")).await;
    app.verify(&alice).await;
    app.verify(&bob).await;
    let (alice_acc, _) = app.account(&alice, "USD").await;
    let (bob_acc, _) = app.account(&bob, "USD").await;
    let r = app.deposit(&bob, &bob_acc, "100", "bob-dep").await;
    let bob_tx = r.json()["id"].as_str().unwrap().to_owned();
    let r = app
        .post("/api/holds")
        .bearer(&bob)
        .key("bob-hold")
        .json(json!({"account_id": bob_acc, "amount": "10"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let bob_hold = r.json()["id"].as_str().unwrap().to_owned();
    app.deposit(&alice, &alice_acc, "5", "alice-dep").await;
    let unknown = uuid::Uuid::now_v7().to_string();

    let bobs = Ids {
        account: &bob_acc,
        transaction: &bob_tx,
        hold: &bob_hold,
        session: &bob.session,
        user: &bob.id,
        own_account: &alice_acc,
        code: "settlement:usd",
    };
    let missing = Ids {
        account: &unknown,
        transaction: &unknown,
        hold: &unknown,
        session: &unknown,
        user: &unknown,
        own_account: &alice_acc,
        code: "no:such:code",
    };
    let foreign = probes(&bobs);

    // No route with an id escapes: the probes cover the document exactly.
    let probed: BTreeSet<_> =
        foreign.iter().filter_map(|p| p.template.map(|t| (p.method.to_string(), t.to_owned()))).collect();
    let mut documented = routes_with_path_parameters(app).await;
    // Confirmation of payee answers for other people's account numbers by
    // design (a transfer may credit anyone's); what it tells and how often
    // is tested in `people.rs`.
    assert!(documented.remove(&("GET".to_owned(), "/api/payees/{number}".to_owned())));
    assert_eq!(probed, documented, "routes with a path parameter and no cross-user probe, or stale probes");

    let before = victim_view(app, &bob).await;
    for (n, (probe, twin)) in foreign.into_iter().zip(probes(&missing)).enumerate() {
        let send = |probe: &Probe| {
            let mut call = app.call(probe.method.clone(), &probe.path).bearer(&alice);
            if probe.keyed {
                call = call.key(&format!("probe-{n}-{}", probe.path.len()));
            }
            if let Some(body) = &probe.body {
                call = call.json(body.clone());
            }
            call.send()
        };
        let (method, path) = (&probe.method, &probe.path);
        let r = send(&probe).await;
        assert_eq!(r.status, probe.expected, "{method} {path}: {}", r.text());
        let code = r.json()["code"].clone();
        let r = send(&twin).await;
        assert_eq!(r.status, probe.expected, "{method} {}: {}", twin.path, r.text());
        assert_eq!(r.json()["code"], code, "foreign and unknown ids must look alike: {method} {path}");
    }

    // Nothing of Bob's changed, and his session still works.
    assert_eq!(victim_view(app, &bob).await, before, "a probe changed Bob's things");
    assert_eq!(app.available(&bob, &bob_acc).await, "90.00");
    let r = app.get(&format!("/api/transactions/{bob_hold}")).bearer(&bob).send().await;
    assert_eq!(r.json()["status"], "pending");
    // Alice's own history does not show Bob's transactions.
    let r = app.get("/api/transactions").bearer(&alice).send().await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(1));
}
