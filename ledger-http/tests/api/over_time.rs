//! Reversals, balances as of an instant, balance history and statements
//! over HTTP: shapes, who may ask, CSV, and that the figures add up.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use ledger_core::MemoryStore;
use ledger_core::conformance::recording::RecordingStore;
use serde_json::{Value, json};

use crate::common::*;

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().and_then(|s| s.parse().ok()).expect("an RFC 3339 instant")
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true).replace('+', "%2B")
}

/// Opens the ledger accounts `assets:cash` (debit-normal) and `equity`
/// (credit-normal) as `admin` and posts 500 USD from cash to equity; returns
/// when that transaction was created.
async fn cash_paid_in_as_equity(app: &Client, admin: &User) -> DateTime<Utc> {
    for (code, normal) in [("assets:cash", "debit"), ("equity", "credit")] {
        let body = json!({"code": code, "currency": "USD", "normal_balance": normal});
        let r = app.post("/api/ledger-accounts").bearer(admin).json(body).send().await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    }
    // Dr cash, Cr equity: a posting debits its source and credits its destination.
    let posting =
        json!({"postings": [{"source": "@assets:cash", "destination": "@equity", "amount": "500", "currency": "USD"}]});
    let r = app.post("/api/transactions").bearer(admin).key("capital").json(posting).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    instant(&r.json()["created_at"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_reverses_whole_or_in_parts_and_a_customer_may_not() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let alice = app.user("alice@example.com").await;
    app.verify(&alice).await;
    let (acc, _) = app.account(&alice, "USD").await;
    let (other, _) = app.account(&alice, "USD").await;
    let deposit = app.deposit(&alice, &acc, "100", "dep").await.json();
    let id = deposit["id"].as_str().unwrap();
    let path = format!("/api/transactions/{id}/reverse");

    let r = app.post(&path).bearer(&alice).key("alice-rev").json(json!({"amount": "1"})).send().await;
    r.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let r = app
        .post(&path)
        .bearer(&admin)
        .key("rev-1")
        .json(json!({"amount": "30", "description": "partial refund", "metadata": {"ticket": "T-1"}}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let first = r.json();
    assert_eq!(
        (first["kind"].as_str(), first["reverses"].as_str(), first["amount"].as_str()),
        (Some("reversal"), Some(id), Some("30.00"))
    );
    assert_eq!(first["postings"][0]["source_id"], acc.as_str());
    assert_eq!(first["metadata"]["ticket"], "T-1");
    let r = app
        .post(&path)
        .bearer(&admin)
        .key("rev-1")
        .json(json!({"amount": "30", "description": "partial refund", "metadata": {"ticket": "T-1"}}))
        .send()
        .await;
    assert_eq!((r.status, r.header("idempotent-replayed")), (StatusCode::CREATED, Some("true")));
    assert_eq!(r.json()["id"], first["id"]);
    let r = app.post(&path).bearer(&admin).key("rev-2").json(json!({"amount": "70.01"})).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "reversal_exceeds_original");
    let r = app.get(&format!("/api/transactions/{id}")).bearer(&alice).send().await;
    assert_eq!(r.json()["reversed_amount"], "30.00");
    // No body: all that is left.
    let r = app.post(&path).bearer(&admin).key("rev-3").send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["amount"], "70.00");
    assert_eq!(app.available(&alice, &acc).await, "0.00");
    app.post(&path).bearer(&admin).key("rev-4").send().await.assert_problem(StatusCode::CONFLICT, "already_reversed");

    let r = app
        .post("/api/holds")
        .bearer(&alice)
        .key("hold")
        .json(json!({"account_id": other, "amount": "1"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "no funds to hold: {}", r.text());
    app.deposit(&alice, &other, "5", "dep-2").await;
    let r = app
        .post("/api/holds")
        .bearer(&alice)
        .key("hold-2")
        .json(json!({"account_id": other, "amount": "1"}))
        .send()
        .await;
    let hold = r.json()["id"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/api/transactions/{hold}/reverse")).bearer(&admin).key("rev-hold").send().await;
    r.assert_problem(StatusCode::CONFLICT, "not_reversible");
    let unknown = uuid::Uuid::now_v7();
    let r = app.post(&format!("/api/transactions/{unknown}/reverse")).bearer(&admin).key("rev-unknown").send().await;
    r.assert_problem(StatusCode::NOT_FOUND, "transaction_not_found");
    let r = app.get("/api/transactions?kind=reversal").bearer(&alice).send().await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(2), "customers see reversals of their own");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balances_as_of_history_and_statements_add_up() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    app.verify(&alice).await;
    let (acc, _) = app.account(&alice, "USD").await;
    let (_, bob_number) = app.account(&bob, "USD").await;
    let mut committed = Vec::new();
    for (i, amount) in ["100", "20.5", "0.25"].into_iter().enumerate() {
        committed.push(app.deposit(&alice, &acc, amount, &format!("d{i}")).await.json());
    }
    let r = app
        .post("/api/transactions/transfers")
        .bearer(&alice)
        .key("t")
        .json(json!({"from_account_id": acc, "to_account_number": bob_number, "amount": "50", "description": "rent, \"May\""}))
        .send()
        .await;
    committed.push(r.json());
    let at = |i: usize| instant(&committed[i]["created_at"]);

    // As of each commit: the balance after it; just before the first: zero.
    let as_of =
        |t: DateTime<Utc>| app.get(&format!("/api/accounts/{acc}/balance?as_of={}", rfc3339(t))).bearer(&alice).send();
    for (i, expected) in ["100.00", "120.50", "120.75", "70.75"].into_iter().enumerate() {
        let r = as_of(at(i)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let body = r.json();
        assert_eq!(body["posted"], expected, "as of commit {i}");
        assert_eq!(instant(&body["as_of"]), at(i), "as_of echoes the instant");
        assert!(body.get("available").is_none(), "only posted is known of the past");
    }
    assert_eq!(as_of(at(0) - Duration::microseconds(1)).await.json()["posted"], "0.00");
    as_of(Utc::now() + Duration::hours(1)).await.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "instant_in_future");
    let r = app.get(&format!("/api/accounts/{acc}/balance?as_of=yesterday")).bearer(&alice).send().await;
    r.assert_problem(StatusCode::BAD_REQUEST, "invalid_query");
    let now = app.get(&format!("/api/accounts/{acc}/balance")).bearer(&alice).send().await.json();
    assert_eq!((now["posted"].as_str(), now["available"].as_str()), (Some("70.75"), Some("70.75")));

    // History: newest first, two to a page.
    let mut items = Vec::new();
    let mut path = format!("/api/accounts/{acc}/balance-history?limit=2");
    loop {
        let r = app.get(&path).bearer(&alice).send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let page = r.json();
        items.extend(page["items"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/accounts/{acc}/balance-history?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let changes: Vec<(&str, &str)> =
        items.iter().map(|i| (i["change"].as_str().unwrap(), i["balance"].as_str().unwrap())).collect();
    assert_eq!(changes, [("-50.00", "70.75"), ("0.25", "120.75"), ("20.50", "120.50"), ("100.00", "100.00")]);
    assert_eq!(items[0]["transaction_id"], committed[3]["id"]);
    let r = app.get(&format!("/api/accounts/{acc}/balance-history?cursor=nonsense")).bearer(&alice).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_cursor");
    let period = format!("from={}&to={}", rfc3339(at(1)), rfc3339(at(3)));
    let r = app.get(&format!("/api/accounts/{acc}/balance-history?{period}")).bearer(&alice).send().await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(2), "[from, to) holds the 2nd and 3rd deposits");
    let backwards = format!("from={}&to={}", rfc3339(at(3)), rfc3339(at(1)));
    let r = app.get(&format!("/api/accounts/{acc}/statement?{backwards}")).bearer(&alice).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_period");

    // A statement from the second deposit on, as JSON and as CSV.
    let from = rfc3339(at(1));
    let r = app.get(&format!("/api/accounts/{acc}/statement?from={from}")).bearer(&alice).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let json_statement = r.json();
    assert_eq!(
        (json_statement["opening_balance"].as_str(), json_statement["closing_balance"].as_str()),
        (Some("100.00"), Some("70.75"))
    );
    assert_eq!(json_statement["items"].as_array().map(Vec::len), Some(3));
    assert_eq!(json_statement["items"][2]["kind"], "transfer");
    for csv_request in [
        app.get(&format!("/api/accounts/{acc}/statement?from={from}")).bearer(&alice).header("accept", "text/csv"),
        app.get(&format!("/api/accounts/{acc}/statement?from={from}&format=csv")).bearer(&alice),
    ] {
        let r = csv_request.send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
        let text = r.text();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            reader.headers().unwrap(),
            vec!["date", "transaction_id", "kind", "description", "change", "balance"]
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 5, "opening, three postings, closing");
        assert_eq!((&rows[0][2], &rows[0][5]), ("opening", "100.00"));
        assert_eq!((&rows[4][2], &rows[4][5]), ("closing", "70.75"));
        assert_eq!(&rows[3][3], "rent, \"May\"", "quoted as RFC 4180 says");
        let opening: rust_decimal::Decimal = rows[0][5].parse().unwrap();
        let changes: rust_decimal::Decimal =
            rows[1..4].iter().map(|r| r[4].parse::<rust_decimal::Decimal>().unwrap()).sum();
        assert_eq!((opening + changes).to_string(), rows[4][5].to_string());
    }
    let r = app.get(&format!("/api/accounts/{acc}/statement?format=xml")).bearer(&alice).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_format");

    // Bob sees none of it; Alice's account does not exist for him.
    for path in [
        format!("/api/accounts/{acc}/balance?as_of={}", rfc3339(at(0))),
        format!("/api/accounts/{acc}/balance-history"),
        format!("/api/accounts/{acc}/statement"),
    ] {
        app.get(&path).bearer(&bob).send().await.assert_problem(StatusCode::NOT_FOUND, "account_not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_accounts_answer_the_same_under_their_code_for_admins_only() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let alice = app.user("alice@example.com").await;
    let at = cash_paid_in_as_equity(&app, &admin).await;
    let before = rfc3339(at - Duration::microseconds(1));
    let r =
        app.get(&format!("/api/ledger-accounts/assets:cash/balance?as_of={}", rfc3339(at))).bearer(&admin).send().await;
    assert_eq!(r.json()["posted"], "500.00", "debit-normal: the debit raised it");
    let r = app.get(&format!("/api/ledger-accounts/assets:cash/balance?as_of={before}")).bearer(&admin).send().await;
    assert_eq!(r.json()["posted"], "0.00");
    let r = app.get("/api/ledger-accounts/equity/balance-history").bearer(&admin).send().await;
    assert_eq!(r.json()["items"][0]["balance"], "500.00", "credit-normal: the credit raised it");
    let r = app.get("/api/ledger-accounts/assets:cash/statement").bearer(&admin).send().await;
    let statement = r.json();
    assert_eq!(
        (statement["opening_balance"].as_str(), statement["closing_balance"].as_str()),
        (Some("0.00"), Some("500.00"))
    );
    // To a customer every code is forbidden alike, existing, unknown or
    // not a code at all, on every path.
    let as_of = format!("/api/ledger-accounts/assets:cash/balance?as_of={before}");
    for path in [
        "/api/ledger-accounts/assets:cash/balance",
        as_of.as_str(),
        "/api/ledger-accounts/equity/balance-history",
        "/api/ledger-accounts/nothing/statement",
        "/api/ledger-accounts/NOT%20A%20CODE/balance-history",
        "/api/ledger-accounts/NOT%20A%20CODE/balance?as_of=2026-01-01T00:00:00Z",
    ] {
        app.get(path).bearer(&alice).send().await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    }
    app.get("/api/ledger-accounts/NOT%20A%20CODE/balance-history")
        .bearer(&admin)
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_account_code");
    app.get("/api/ledger-accounts/nothing/balance")
        .bearer(&admin)
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "account_code_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_account_balance_now_reads_the_account_once_by_its_code() {
    let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), std::time::Duration::ZERO));
    let app = TestApp::on_store(store.clone(), |b| b).await;
    let admin = app.admin().await;
    let committed = cash_paid_in_as_equity(&app, &admin).await;

    let reads = store.account_reads();
    let r = app.get("/api/ledger-accounts/assets:cash/balance").bearer(&admin).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(store.account_reads(), reads + 1, "the account read by its code is the balance");
    let balance = r.json();
    assert_eq!(
        (balance["posted"].as_str(), balance["pending"].as_str(), balance["available"].as_str()),
        (Some("500.00"), Some("0.00"), Some("500.00"))
    );
    assert_eq!(balance["currency"], "USD");
    assert!(instant(&balance["as_of"]) >= committed, "stamped when read, after the commit it shows");
    let account = app.get("/api/ledger-accounts/assets:cash").bearer(&admin).send().await.json();
    assert_eq!(balance["account_id"], account["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balances_over_time_read_no_account_once_its_facts_are_known() {
    let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), std::time::Duration::ZERO));
    let app = TestApp::on_store(store.clone(), |b| b).await;
    let admin = app.admin().await;
    // The entry named both codes, so their accounts' facts are known.
    let capital = cash_paid_in_as_equity(&app, &admin).await;
    let alice = app.user("alice@example.com").await;
    app.verify(&alice).await;
    let (acc, _) = app.account(&alice, "USD").await;
    app.deposit(&alice, &acc, "100", "d").await;

    let reads = store.account_reads();
    let as_of = format!("/api/ledger-accounts/assets:cash/balance?as_of={}", rfc3339(capital));
    let r = app.get(&as_of).bearer(&admin).send().await;
    assert_eq!((r.status, r.json()["posted"].as_str()), (StatusCode::OK, Some("500.00")), "{}", r.text());
    let r = app.get("/api/ledger-accounts/equity/balance-history").bearer(&admin).send().await;
    assert_eq!(r.json()["items"][0]["balance"], "500.00");
    let r = app.get(&format!("/api/accounts/{acc}/balance-history")).bearer(&alice).send().await;
    assert_eq!(r.json()["items"][0]["change"], "100.00", "formatted in the account's currency");
    assert_eq!(store.account_reads(), reads, "a balance over time read an account whose facts were known");

    // A ledger account this ledger opened is known at once (never read);
    // a code that does not exist is read each time and stays unknown.
    let r = app
        .post("/api/ledger-accounts")
        .bearer(&admin)
        .json(json!({"code": "fees", "currency": "USD", "normal_balance": "credit"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let reads = store.account_reads();
    for _ in 0..2 {
        let r = app.get("/api/ledger-accounts/fees/balance-history").bearer(&admin).send().await;
        assert_eq!(r.json()["items"], json!([]));
        app.get("/api/ledger-accounts/nowhere/balance-history")
            .bearer(&admin)
            .send()
            .await
            .assert_problem(StatusCode::NOT_FOUND, "account_code_not_found");
    }
    assert_eq!(store.account_reads(), reads + 2, "fees never, the unknown code twice");
}
