//! Ledger accounts, multi-posting entries and metadata over HTTP: the
//! shapes, the admin-only rules, the floor breach's `posting` member, the
//! metadata filter, and that every refusal changes nothing and is audited.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

/// Opens a ledger account as `admin`; returns its body.
async fn ledger_account(app: &Client, admin: &User, body: Value) -> Value {
    let r = app.post("/api/ledger-accounts").bearer(admin).json(body).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    r.json()
}

async fn balance_of(app: &Client, admin: &User, code: &str) -> Value {
    let r = app.get(&format!("/api/ledger-accounts/{code}")).bearer(admin).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()["balance"].clone()
}

/// Every record of the audit log (as the admin sees it).
async fn audit_records(app: &Client, admin: &User) -> Vec<Value> {
    let mut records = Vec::new();
    let mut after = 0;
    loop {
        let r = app.get(&format!("/api/audit?after={after}&limit=1000")).bearer(admin).send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let page = r.json();
        records.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_after"].as_u64() {
            Some(next) => after = next,
            None => return records,
        }
    }
}

fn posting(source: &str, destination: &str, amount: &str, currency: &str) -> Value {
    json!({"source": source, "destination": destination, "amount": amount, "currency": currency})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_opens_reads_and_lists_ledger_accounts_by_code() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let fees = ledger_account(
        &app,
        &admin,
        json!({"code": "revenue:fees:usd", "currency": "USD", "name": "Fees", "normal_balance": "credit",
               "metadata": {"owner": "finance"}}),
    )
    .await;
    assert_eq!(fees["code"], "revenue:fees:usd");
    assert_eq!((fees["normal_balance"].as_str(), fees["floor"].as_str()), (Some("credit"), Some("0.00")));
    assert_eq!(fees["balance"], json!({"posted": "0.00", "pending": "0.00", "available": "0.00"}));
    assert_eq!((fees["status"].as_str(), fees["metadata"]["owner"].as_str()), (Some("active"), Some("finance")));
    let cash =
        ledger_account(&app, &admin, json!({"code": "assets:cash", "currency": "USD", "normal_balance": "debit"}))
            .await;
    assert_eq!(cash["floor"], Value::Null, "debit-normal accounts are unbounded by default");
    let float = ledger_account(
        &app,
        &admin,
        json!({"code": "float:eur", "currency": "EUR", "normal_balance": "credit", "floor": "-500"}),
    )
    .await;
    assert_eq!(float["floor"], "-500.00");
    let open = ledger_account(
        &app,
        &admin,
        json!({"code": "suspense", "currency": "GBP", "normal_balance": "credit", "floor": null}),
    )
    .await;
    assert_eq!(open["floor"], Value::Null, "an explicit null floor is unbounded");

    let r = app.get("/api/ledger-accounts/revenue:fees:usd").bearer(&admin).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["id"], fees["id"]);
    let r = app
        .post("/api/ledger-accounts")
        .bearer(&admin)
        .json(json!({"code": "revenue:fees:usd", "currency": "USD", "normal_balance": "credit"}))
        .send()
        .await;
    r.assert_problem(StatusCode::CONFLICT, "account_code_taken");
    app.get("/api/ledger-accounts/revenue:nothing")
        .bearer(&admin)
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "account_code_not_found");

    // Code order, the settlement accounts among them, paged by cursor.
    let mut codes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/ledger-accounts?limit=2&cursor={c}"),
            None => "/api/ledger-accounts?limit=2".to_owned(),
        };
        let r = app.get(&path).bearer(&admin).send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let page = r.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        codes.extend(items.iter().map(|a| a["code"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(codes, sorted);
    for code in ["assets:cash", "float:eur", "revenue:fees:usd", "settlement:usd", "suspense"] {
        assert!(codes.iter().any(|c| c == code), "{code} missing from {codes:?}");
    }
    // The largest page is allowed and, holding them all, has no next page;
    // a page ending exactly at the last account has none either.
    let r = app.get("/api/ledger-accounts?limit=200").bearer(&admin).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["items"].as_array().unwrap().len(), codes.len());
    assert!(r.json()["next_cursor"].is_null());
    let exact = app.get(&format!("/api/ledger-accounts?limit={}", codes.len())).bearer(&admin).send().await.json();
    assert!(exact["next_cursor"].is_null(), "{exact}");
    app.get("/api/ledger-accounts?limit=201")
        .bearer(&admin)
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_page_size");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ledger_accounts_are_refused_with_typed_errors_and_audited() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let alice = app.user("alice@example.com").await;
    let cases = [
        (json!({"code": "Revenue", "currency": "USD", "normal_balance": "credit"}), "invalid_account_code"),
        (json!({"code": "a::b", "currency": "USD", "normal_balance": "credit"}), "invalid_account_code"),
        (json!({"code": "x".repeat(129), "currency": "USD", "normal_balance": "credit"}), "invalid_account_code"),
        (json!({"code": "ok", "currency": "XYZ", "normal_balance": "credit"}), "invalid_currency"),
        (json!({"code": "ok", "currency": "USD", "normal_balance": "up"}), "invalid_normal_balance"),
        (json!({"code": "ok", "currency": "USD", "normal_balance": "credit", "floor": "1e3"}), "invalid_floor"),
        (json!({"code": "ok", "currency": "USD", "normal_balance": "credit", "floor": "-0.001"}), "invalid_floor"),
        (
            json!({"code": "ok", "currency": "USD", "normal_balance": "credit", "metadata": {"Bad Key": "v"}}),
            "invalid_metadata",
        ),
    ];
    for (body, code) in cases {
        let before = audit_records(&app, &admin).await.len();
        let r = app.post("/api/ledger-accounts").bearer(&admin).json(body.clone()).send().await;
        r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, code);
        let records = audit_records(&app, &admin).await;
        let last = records.last().unwrap();
        assert_eq!(records.len(), before + 1, "{body}: the refusal is audited");
        assert_eq!((last["outcome"].as_str(), last["code"].as_str()), (Some("rejected"), Some(code)), "{body}");
    }
    let r = app
        .post("/api/ledger-accounts")
        .bearer(&alice)
        .json(json!({"code": "mine", "currency": "USD", "normal_balance": "credit"}))
        .send()
        .await;
    r.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.get("/api/ledger-accounts").bearer(&alice).send().await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.get("/api/ledger-accounts/settlement:usd")
        .bearer(&alice)
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    app.get("/api/ledger-accounts/nothing")
        .bearer(&alice)
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let r = app.get("/api/ledger-accounts").bearer(&admin).send().await;
    let codes: Vec<Value> = r.json()["items"].as_array().unwrap().iter().map(|a| a["code"].clone()).collect();
    assert_eq!(
        codes,
        [json!("settlement:eur"), json!("settlement:gbp"), json!("settlement:usd")],
        "nothing was opened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_splits_between_seller_fee_and_tax_and_is_found_by_its_order_id() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let buyer = app.user("buyer@example.com").await;
    let seller = app.user("seller@example.com").await;
    let (buyer_acc, _) = app.account(&buyer, "USD").await;
    let (seller_acc, seller_number) = app.account(&seller, "USD").await;
    let r = app.deposit(&buyer, &buyer_acc, "100", "buyer-dep").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    for code in ["escrow:orders", "revenue:fees", "liabilities:tax"] {
        ledger_account(&app, &admin, json!({"code": code, "currency": "USD", "normal_balance": "credit"})).await;
    }
    let body = json!({
        "postings": [
            posting(&buyer_acc, "@escrow:orders", "60.00", "USD"),
            posting("@escrow:orders", &seller_number, "50.00", "USD"),
            posting("@escrow:orders", "@revenue:fees", "4.00", "USD"),
            posting("@escrow:orders", "@liabilities:tax", "6.00", "USD"),
        ],
        "description": "order A-17",
        "metadata": {"order_id": "A-17", "channel": "web"},
    });
    let r = app.post("/api/transactions").bearer(&admin).key("checkout-A-17").json(body.clone()).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.header("idempotent-replayed"), Some("false"));
    let entry = r.json();
    assert_eq!((entry["kind"].as_str(), entry["status"].as_str()), (Some("entry"), Some("posted")));
    assert_eq!(entry["metadata"], json!({"order_id": "A-17", "channel": "web"}));
    let postings = entry["postings"].as_array().unwrap();
    assert_eq!(postings.len(), 4);
    assert_eq!(postings[1]["destination_id"], seller_acc.as_str());
    assert_eq!((postings[3]["amount"].as_str(), postings[3]["currency"].as_str()), (Some("6.00"), Some("USD")));

    assert_eq!(app.available(&buyer, &buyer_acc).await, "40.00");
    assert_eq!(app.available(&seller, &seller_acc).await, "50.00");
    assert_eq!(balance_of(&app, &admin, "escrow:orders").await["posted"], "0.00", "escrow passed through");
    assert_eq!(balance_of(&app, &admin, "revenue:fees").await["posted"], "4.00");
    assert_eq!(balance_of(&app, &admin, "liabilities:tax").await["posted"], "6.00");

    // The replay answers the same; another body under the key conflicts.
    let r = app.post("/api/transactions").bearer(&admin).key("checkout-A-17").json(body).send().await;
    assert_eq!((r.status, r.header("idempotent-replayed")), (StatusCode::CREATED, Some("true")));
    assert_eq!(r.json()["id"], entry["id"]);
    let other = json!({"postings": [posting(&buyer_acc, "@escrow:orders", "1.00", "USD")]});
    let r = app.post("/api/transactions").bearer(&admin).key("checkout-A-17").json(other).send().await;
    r.assert_problem(StatusCode::CONFLICT, "idempotency_conflict");

    // Support finds it by order id; each customer sees it (it touches them), others do not.
    for (who, expected) in [(&admin, 1), (&buyer, 1), (&seller, 1)] {
        let r = app.get("/api/transactions?metadata.order_id=A-17&metadata.channel=web").bearer(who).send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let items = r.json()["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), expected);
        assert_eq!(items[0]["id"], entry["id"]);
    }
    let r = app.get("/api/transactions?metadata.order_id=A-18").bearer(&admin).send().await;
    assert_eq!(r.json()["items"], json!([]));
    let r = app.get("/api/transactions?metadata.order_id=A-17&metadata.channel=app").bearer(&admin).send().await;
    assert_eq!(r.json()["items"], json!([]), "pairs are ANDed");
    let stranger = app.user("stranger@example.com").await;
    app.account(&stranger, "USD").await;
    let r = app.get("/api/transactions?metadata.order_id=A-17").bearer(&stranger).send().await;
    assert_eq!(r.json()["items"], json!([]));
    let five = "metadata.a=1&metadata.b=2&metadata.c=3&metadata.d=4&metadata.e=5";
    app.get(&format!("/api/transactions?{five}"))
        .bearer(&admin)
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_filter");
    app.get("/api/transactions?metdata.order_id=A-17")
        .bearer(&admin)
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_query");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_fx_trade_moves_usd_in_and_eur_out_atomically() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let alice = app.user("alice@example.com").await;
    let (usd, _) = app.account(&alice, "USD").await;
    let (eur, _) = app.account(&alice, "EUR").await;
    app.deposit(&alice, &usd, "100", "fx-dep").await;
    ledger_account(&app, &admin, json!({"code": "fx:usd", "currency": "USD", "normal_balance": "debit"})).await;
    ledger_account(&app, &admin, json!({"code": "fx:eur", "currency": "EUR", "normal_balance": "debit"})).await;
    let body = json!({"postings": [
        posting(&usd, "@fx:usd", "100.00", "USD"),
        posting("@fx:eur", &eur, "92.50", "EUR"),
    ], "metadata": {"rate": "0.925"}});
    let r = app.post("/api/transactions").bearer(&admin).key("fx-1").json(body).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(app.available(&alice, &usd).await, "0.00");
    assert_eq!(app.available(&alice, &eur).await, "92.50");
    // Debit-normal: a credit lowers the reported balance, a debit raises it.
    assert_eq!(balance_of(&app, &admin, "fx:usd").await["posted"], "-100.00");
    assert_eq!(balance_of(&app, &admin, "fx:eur").await["posted"], "92.50");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_entries_are_refused_with_typed_errors_change_nothing_and_are_audited() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let alice = app.user("alice@example.com").await;
    app.verify(&alice).await;
    let (usd, _) = app.account(&alice, "USD").await;
    app.deposit(&alice, &usd, "10", "bad-dep").await;
    for code in ["a", "b", "c"] {
        ledger_account(&app, &admin, json!({"code": code, "currency": "USD", "normal_balance": "credit"})).await;
    }
    ledger_account(&app, &admin, json!({"code": "eur", "currency": "EUR", "normal_balance": "credit"})).await;
    let hop = |from: &str, to: &str, amount: &str| posting(from, to, amount, "USD");
    let big_metadata: serde_json::Map<String, Value> = (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases = [
        // A floor breach in posting 3 of 5: `b` ends at -1 after posting 2 (index 2).
        (
            json!({"postings": [hop(&usd, "@a", "5"), hop("@a", "@b", "5"), hop("@b", "@c", "6"), hop("@c", "@a", "1"), hop("@a", &usd, "1")]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "insufficient_funds",
            Some(2),
        ),
        (json!({"postings": [hop(&usd, "@nowhere", "1")]}), StatusCode::NOT_FOUND, "account_code_not_found", None),
        (
            json!({"postings": [hop(&usd, "@Nowhere", "1")]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_account_code",
            None,
        ),
        (json!({"postings": [hop(&usd, "@eur", "1")]}), StatusCode::UNPROCESSABLE_ENTITY, "currency_mismatch", None),
        (
            json!({"postings": [posting(&usd, "@a", "1", "EUR")]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "currency_mismatch",
            None,
        ),
        (json!({"postings": vec![hop("@a", "@b", "1"); 65]}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_entry", None),
        (json!({"postings": []}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_entry", None),
        (json!({"postings": [hop("@a", "@a", "1")]}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_entry", None),
        (json!({"postings": [hop(&usd, "@a", "0.001")]}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount", None),
        (
            json!({"postings": [hop(&usd, "@a", "1")], "metadata": big_metadata}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_metadata",
            None,
        ),
        (
            json!({"postings": [hop(&usd, "@a", "1")], "metadata": {"k": "x".repeat(257)}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_metadata",
            None,
        ),
    ];
    let before = app.get("/api/transactions?limit=200").bearer(&admin).send().await.json();
    for (n, (body, status, code, index)) in cases.into_iter().enumerate() {
        let audited = audit_records(&app, &admin).await.len();
        let r = app.post("/api/transactions").bearer(&admin).key(&format!("bad-{n}")).json(body.clone()).send().await;
        let problem = r.assert_problem(status, code);
        assert_eq!(problem["posting"].as_u64(), index, "case {n}");
        let records = audit_records(&app, &admin).await;
        assert_eq!(records.len(), audited + 1, "case {n} ({code}) is audited");
        let last = records.last().unwrap();
        assert_eq!((last["outcome"].as_str(), last["code"].as_str()), (Some("rejected"), Some(code)), "case {n}");
    }
    assert_eq!(app.get("/api/transactions?limit=200").bearer(&admin).send().await.json(), before, "nothing changed");
    assert_eq!(app.available(&alice, &usd).await, "10.00");
    for code in ["a", "b", "c"] {
        assert_eq!(balance_of(&app, &admin, code).await["posted"], "0.00");
    }
    // Customers keep using transfers.
    let r = app
        .post("/api/transactions")
        .bearer(&alice)
        .key("alice-entry")
        .json(json!({"postings": [hop(&usd, "@a", "1")]}))
        .send()
        .await;
    r.assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_travels_on_every_money_command_and_account() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    app.verify(&alice).await;
    let r = app
        .post("/api/accounts")
        .bearer(&alice)
        .json(json!({"kind": "checking", "currency": "USD", "metadata": {"purpose": "rent"}}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["metadata"], json!({"purpose": "rent"}));
    let account = r.json()["id"].as_str().unwrap().to_owned();
    let (other, other_number) = app.account(&alice, "USD").await;
    let tagged = |extra: Value| {
        let mut body = extra;
        body["metadata"] = json!({"ref": "m-1"});
        body
    };
    let calls = [
        ("/api/transactions/deposits", tagged(json!({"account_id": account, "amount": "50"}))),
        ("/api/transactions/withdrawals", tagged(json!({"account_id": account, "amount": "5"}))),
        (
            "/api/transactions/transfers",
            tagged(json!({"from_account_id": account, "to_account_number": other_number, "amount": "5"})),
        ),
        ("/api/holds", tagged(json!({"account_id": account, "amount": "5"}))),
    ];
    for (n, (path, body)) in calls.into_iter().enumerate() {
        let r = app.post(path).bearer(&alice).key(&format!("meta-{n}")).json(body).send().await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.text());
        assert_eq!(r.json()["metadata"], json!({"ref": "m-1"}), "{path}");
    }
    let r = app.get("/api/transactions?metadata.ref=m-1").bearer(&alice).send().await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(4));
    let r = app
        .get(&format!("/api/transactions?metadata.ref=m-1&account_id={other}&kind=transfer"))
        .bearer(&alice)
        .send()
        .await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(1), "metadata combines with the other filters");
    let r = app.get("/api/transactions?metadata.ref=m-1&limit=1").bearer(&alice).send().await;
    let cursor = r.json()["next_cursor"].as_str().unwrap().to_owned();
    let r =
        app.get(&format!("/api/transactions?metadata.ref=m-1&limit=10&cursor={cursor}")).bearer(&alice).send().await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(3), "and with the cursor");
    // The same key with other metadata is another command.
    let r = app
        .post("/api/transactions/deposits")
        .bearer(&alice)
        .key("meta-0")
        .json(json!({"account_id": account, "amount": "50", "metadata": {"ref": "m-2"}}))
        .send()
        .await;
    r.assert_problem(StatusCode::CONFLICT, "idempotency_conflict");
}
