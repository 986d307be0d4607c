//! The outside review's findings that live at the HTTP edge (the rest are
//! conformance cases in `ledger_core::conformance::hardening`): media types,
//! query parameters out of a backend's range, error details, and the attack
//! that failed everyone's deposits on PostgreSQL.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

/// (method, path with ids filled in) of every operation of the document.
async fn every_operation(app: &Client) -> Vec<(Method, String)> {
    let doc = app.get("/api/openapi.json").send().await.json();
    let id = uuid::Uuid::now_v7().to_string();
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            found.push((method, path.replace("{id}", &id)));
        }
    }
    found
}

/// Finding 7: a capture sent with a JSON body but no Content-Type captured
/// the whole hold. Every route now answers 415 to a body that is not
/// declared JSON, and the hold is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_without_a_json_content_type_is_415_on_every_route() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let operations = every_operation(&app).await;
    assert!(operations.len() >= 30, "{operations:?}");
    for (method, path) in &operations {
        for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
            let r = app
                .call(method.clone(), path)
                .bearer(&admin)
                .key(&format!("mt-{}", unique()))
                .raw(content_type, r#"{"amount":"5.00"}"#)
                .send()
                .await;
            r.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
        }
    }

    let alice = app.user(&app.email("alice")).await;
    app.verify(&alice).await;
    let (account, _) = app.account(&alice, "USD").await;
    assert_eq!(app.deposit(&alice, &account, "100.00", "fund").await.status, StatusCode::CREATED);
    let r = app
        .post("/api/holds")
        .bearer(&alice)
        .key("hold")
        .json(json!({"account_id": account, "amount": "50.00"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let hold = r.json()["id"].as_str().unwrap().to_owned();
    let r = app
        .post(&format!("/api/holds/{hold}/capture"))
        .bearer(&alice)
        .key("capture")
        .raw(None, r#"{"amount":"5.00"}"#)
        .send()
        .await;
    r.assert_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let r = app.get(&format!("/api/transactions/{hold}")).bearer(&alice).send().await;
    assert_eq!(r.json()["status"], "pending", "the hold was not captured: {}", r.text());
    assert_eq!(app.available(&alice, &account).await, "50.00");
}

/// Finding 8: query parameters out of the range a backend stores are 4xx,
/// never 5xx. Run against the real binary on each backend from `backends`.
pub async fn out_of_range_query_parameters_are_refused(app: &Client) {
    let admin = app.admin().await;
    let alice = app.user(&app.email("range")).await;
    let (account, _) = app.account(&alice, "USD").await;
    let instants = [
        "+262142-12-31T23:59:59.999999999Z",
        "-262143-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "0000-12-31T23:59:59Z",
    ];
    let mut queries: Vec<String> = Vec::new();
    for at in instants {
        let at = at.replace('+', "%2B");
        queries.push(format!("to={at}"));
        queries.push(format!("from={at}"));
    }
    for amount in ["1000000000001", "79228162514264337593543950336", "99999999999999999999999999999", "-1", "1e5"] {
        queries.push(format!("min_amount={amount}"));
        queries.push(format!("max_amount={amount}"));
    }
    for cursor in ["c18446744073709551615", "c99999999999999999999", "c-1", "c"] {
        queries.push(format!("cursor={cursor}"));
    }
    for limit in ["0", "-1", "18446744073709551616", "99999999999999999999999"] {
        queries.push(format!("limit={limit}"));
    }
    queries
        .push(format!("account_id={account}&to=9999-12-31T23:59:59.999999Z&min_amount=0.0000000000000000000000000001"));
    for user in [&admin, &alice] {
        for query in &queries {
            let r = app.get(&format!("/api/transactions?{query}")).bearer(user).send().await;
            assert!(r.status.is_client_error() || r.status == StatusCode::OK, "{query}: {} {}", r.status, r.text());
        }
    }
    for query in ["after=18446744073709551615", "after=9223372036854775808", "limit=0", "limit=18446744073709551615"] {
        for user in [&admin, &alice] {
            let r = app.get(&format!("/api/audit?{query}")).bearer(user).send().await;
            assert!(r.status.is_client_error() || r.status == StatusCode::OK, "{query}: {} {}", r.status, r.text());
        }
    }
    // The ends of the range themselves are fine.
    let edges = "from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59.999999Z";
    let r = app.get(&format!("/api/transactions?{edges}")).bearer(&alice).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

/// Finding 11: a problem's detail names the caller's own account by its
/// number, never an id, and nothing of another customer's account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problem_details_name_own_accounts_by_number_and_nothing_of_others() {
    let app = TestApp::new().await;
    let admin = app.admin().await;
    let alice = app.user(&app.email("alice")).await;
    let bob = app.user(&app.email("bob")).await;
    app.verify(&alice).await;
    let (mine, my_number) = app.account(&alice, "USD").await;
    let (theirs, their_number) = app.account(&bob, "USD").await;
    assert_eq!(app.deposit(&alice, &mine, "10.00", "fund").await.status, StatusCode::CREATED);
    let transfer = |amount: &str| json!({"from_account_id": mine, "to_account_number": their_number, "amount": amount});
    let r = app.post("/api/transactions/transfers").bearer(&alice).key("too-much").json(transfer("25.00")).send().await;
    let body = r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(&my_number) && !detail.contains(&mine), "{detail}");
    let r = app.post(&format!("/api/accounts/{theirs}/freeze")).bearer(&admin).send().await;
    assert!(r.status.is_success(), "{}", r.text());
    let r = app.post("/api/transactions/transfers").bearer(&alice).key("to-bob").json(transfer("1.00")).send().await;
    let body = r.assert_problem(StatusCode::CONFLICT, "recipient_unavailable");
    assert_eq!(body["detail"], "the recipient cannot receive payments");
    let leaks = |value: &Value| {
        let text = value.to_string();
        text.contains(&their_number) || text.contains(&theirs) || text.contains("frozen")
    };
    let r = app.get("/api/audit?limit=1000").bearer(&alice).send().await;
    assert!(r.status.is_success(), "{}", r.text());
    assert!(!leaks(&r.json()), "the caller's own audit log names nothing of Bob's: {}", r.text());
}

/// Finding 1, end to end on PostgreSQL: honest deposits running beside
/// hostile logins (a NUL in the email, 60 KiB emails, throttled floods)
/// all succeed. Before the fix, 851 of 1,146 such deposits failed with 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn honest_deposits_beside_hostile_logins_all_succeed_on_postgres() {
    const DEPOSITORS: usize = 4;
    const DEPOSITS_EACH: usize = 40;
    let Ok(url) = std::env::var("LEDGER_TEST_POSTGRES_URL") else {
        eprintln!("skipped: hostile logins on PostgreSQL (set LEDGER_TEST_POSTGRES_URL to run)");
        return;
    };
    let admin_email = format!("root-{}@example.com", unique());
    let server = Server::start(
        &["--storage", &url, "--rate-limit-per-second", "0"],
        &[("LEDGER_BOOTSTRAP_ADMIN_EMAIL", admin_email.as_str()), ("LEDGER_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)],
    );
    let client = std::sync::Arc::new(Client::http(&server.url, &admin_email));
    let admin = client.admin().await;
    let mut accounts = Vec::new();
    for i in 0..DEPOSITORS {
        let user = client.user(&client.email(&format!("honest{i}"))).await;
        let (account, _) = client.account(&user, "USD").await;
        accounts.push((user, account));
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let attackers: Vec<_> = (0..4)
        .map(|i| {
            let (client, stop) = (client.clone(), stop.clone());
            tokio::spawn(async move {
                let emails = ["evil\u{0}@example.com".to_owned(), format!("{}@example.com", "a".repeat(60 * 1024 - i))];
                let mut sent = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let email = &emails[sent % 2];
                    let r = client.post("/api/auth/login").json(json!({"email": email, "password": "x"})).send().await;
                    assert!(r.status.is_client_error(), "a hostile login is refused, never a 5xx: {}", r.status);
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    let depositors: Vec<_> = accounts
        .iter()
        .cloned()
        .map(|(user, account)| {
            let client = client.clone();
            tokio::spawn(async move {
                for n in 0..DEPOSITS_EACH {
                    let r = client.deposit(&user, &account, "1.00", &format!("honest-{n}")).await;
                    assert_eq!(r.status, StatusCode::CREATED, "an honest deposit beside the attack: {}", r.text());
                }
            })
        })
        .collect();
    for depositor in depositors {
        depositor.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut hostile = 0;
    for attacker in attackers {
        hostile += attacker.await.unwrap();
    }
    assert!(hostile >= 8, "the attack ran beside the deposits ({hostile} hostile logins)");
    for (user, account) in &accounts {
        assert_eq!(client.available(user, account).await, format!("{DEPOSITS_EACH}.00"));
    }
    let r = client.get("/api/admin/audit/verify").bearer(&admin).send().await;
    assert_eq!(r.json()["valid"], true, "the audit chain verifies: {}", r.text());
    let mut after = 0;
    let mut audited_nul = false;
    loop {
        let page = client.get(&format!("/api/audit?limit=1000&after={after}")).bearer(&admin).send().await.json();
        let items = page["items"].as_array().unwrap();
        audited_nul |= items.iter().any(|item| item["target"] == "email:evil\\u{0}@example.com");
        let Some(next) = page["next_after"].as_u64() else { break };
        after = next;
    }
    assert!(audited_nul, "the hostile login is audited, escaped");
    assert!(server.terminate().success());
}
