//! What the dashboard shows of people: confirmation of payee, counterparty
//! names in history, the admin's user search and audit log with names,
//! KYC submission needing a reviewable profile, the development mode that
//! approves KYC at once, and the settings the dashboard reads.

use axum::http::StatusCode;
use ledger_http::state::HttpSettings;
use serde_json::json;

use crate::common::*;

async fn named_user(app: &TestApp, email: &str, full_name: &str) -> User {
    let r = app
        .post("/api/auth/register")
        .json(json!({"email": email, "password": PASSWORD, "full_name": full_name}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    app.login(email).await
}

#[tokio::test]
async fn a_payee_is_named_by_first_name_and_initial_only_for_an_active_account_in_the_currency() {
    let app = TestApp::new().await;
    let alice = named_user(&app, "alice@example.com", "Alice Archer").await;
    let bob = named_user(&app, "bob@example.com", "Bob van Baker").await;
    let (_, alice_number) = app.account(&alice, "USD").await;
    let (bob_usd, bob_number) = app.account(&bob, "USD").await;
    let (_, bob_eur_number) = app.account(&bob, "EUR").await;

    let r = app.get(&format!("/api/payees/{bob_number}?currency=USD")).bearer(&alice).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let body = r.json();
    assert_eq!(body["display_name"], "Bob B.");
    assert_eq!(body["number"], bob_number.as_str());
    assert_eq!(body["own"], false);
    let text = r.text();
    assert!(!text.contains("bob@example.com") && !text.contains("Baker") && !text.contains(&bob_usd), "{text}");

    // One's own account is named too, and says so.
    let r = app.get(&format!("/api/payees/{alice_number}?currency=USD")).bearer(&alice).send().await;
    assert_eq!(r.json()["own"], true);

    // Another currency, an unknown number, a frozen account: the same answer.
    app.get(&format!("/api/payees/{bob_eur_number}?currency=USD"))
        .bearer(&alice)
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "payee_not_found");
    let unknown = if bob_number.starts_with('9') { "100000000007" } else { "900000000006" };
    let r = app.get(&format!("/api/payees/{unknown}?currency=USD")).bearer(&alice).send().await;
    assert!(matches!(r.status, StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY), "{}", r.text());
    let admin = app.admin().await;
    let r = app.post(&format!("/api/accounts/{bob_usd}/freeze")).bearer(&admin).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    app.get(&format!("/api/payees/{bob_number}?currency=USD"))
        .bearer(&alice)
        .send()
        .await
        .assert_problem(StatusCode::NOT_FOUND, "payee_not_found");

    // Malformed input, no session.
    app.get("/api/payees/12?currency=USD")
        .bearer(&alice)
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_account_number");
    let r = app.get(&format!("/api/payees/{bob_number}?currency=XYZ")).bearer(&alice).send().await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let r = app.get(&format!("/api/payees/{bob_number}")).bearer(&alice).send().await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = app.get(&format!("/api/payees/{bob_number}?currency=USD")).send().await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn payee_lookups_have_a_small_budget_per_user() {
    let app = TestApp::new().await;
    let alice = named_user(&app, "alice@example.com", "Alice Archer").await;
    let bob = named_user(&app, "bob@example.com", "Bob Baker").await;
    let (_, bob_number) = app.account(&bob, "USD").await;
    let path = format!("/api/payees/{bob_number}?currency=USD");
    for _ in 0..ledger_http::rate_limit::PAYEE_LOOKUPS_BURST {
        assert_eq!(app.get(&path).bearer(&alice).send().await.status, StatusCode::OK);
    }
    let r = app.get(&path).bearer(&alice).send().await;
    r.assert_problem(StatusCode::TOO_MANY_REQUESTS, "payee_lookups_exhausted");
    assert!(r.header("retry-after").is_some());
    // Another user's budget is their own.
    assert_eq!(app.get(&path).bearer(&bob).send().await.status, StatusCode::OK);
}

#[tokio::test]
async fn history_names_the_other_person_of_a_transfer_on_both_sides() {
    let app = TestApp::new().await;
    let alice = named_user(&app, "alice@example.com", "Alice Archer").await;
    let bob = named_user(&app, "bob@example.com", "Bob Baker").await;
    let (alice_acc, _) = app.account(&alice, "USD").await;
    let (bob_acc, bob_number) = app.account(&bob, "USD").await;
    app.verify(&alice).await;
    assert_eq!(app.deposit(&alice, &alice_acc, "50.00", "d1").await.status, StatusCode::CREATED);
    let r = app
        .post("/api/transactions/transfers")
        .bearer(&alice)
        .key("t1")
        .json(json!({"from_account_id": alice_acc, "to_account_number": bob_number, "amount": "42.50"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let transfer = r.json()["id"].as_str().unwrap().to_owned();

    let page = app.get("/api/transactions?kind=transfer").bearer(&alice).send().await.json();
    assert_eq!(page["items"][0]["names"][&bob_acc], "Bob B.");
    assert!(page["items"][0]["names"].get(&alice_acc).is_none(), "the reader is not named to themselves");
    let page = app.get("/api/transactions").bearer(&bob).send().await.json();
    assert_eq!(page["items"][0]["names"][&alice_acc], "Alice A.");
    let one = app.get(&format!("/api/transactions/{transfer}")).bearer(&bob).send().await.json();
    assert_eq!(one["names"][&alice_acc], "Alice A.");
    // A deposit names no one (the settlement account is nobody).
    let page = app.get("/api/transactions?kind=deposit").bearer(&alice).send().await.json();
    assert!(page["items"][0].get("names").is_none(), "{page}");
}

#[tokio::test]
async fn kyc_needs_a_reviewable_profile_and_names_what_is_missing() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let r = app.post("/api/me/kyc").bearer(&alice).send().await;
    let problem = r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "profile_incomplete");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("date of birth") && detail.contains("address"), "{detail}");
    assert_eq!(app.get("/api/me").bearer(&alice).send().await.json()["kyc_status"], "unverified");
    // Half done: still refused, naming only what is left.
    let r = app
        .call(axum::http::Method::PATCH, "/api/me")
        .bearer(&alice)
        .json(json!({"date_of_birth": "1990-01-01"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let problem = app
        .post("/api/me/kyc")
        .bearer(&alice)
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "profile_incomplete");
    assert!(!problem["detail"].as_str().unwrap().contains("birth"));
    app.complete_profile(&alice).await;
    assert_eq!(app.post("/api/me/kyc").bearer(&alice).send().await.json()["kyc_status"], "pending");
}

#[tokio::test]
async fn the_development_mode_approves_kyc_at_once_and_says_so() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/api/config").send().await.json(), json!({"dev_auto_approve_kyc": false}));
    let alice = app.user("alice@example.com").await;
    app.complete_profile(&alice).await;
    assert_eq!(app.post("/api/me/kyc").bearer(&alice).send().await.json()["kyc_status"], "pending");

    let dev = TestApp::with(|b| b.settings(HttpSettings::default().dev_auto_approve_kyc(true))).await;
    assert_eq!(dev.get("/api/config").send().await.json(), json!({"dev_auto_approve_kyc": true}));
    let bob = dev.user("bob@example.com").await;
    dev.post("/api/me/kyc")
        .bearer(&bob)
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "profile_incomplete");
    dev.complete_profile(&bob).await;
    let r = dev.post("/api/me/kyc").bearer(&bob).send().await;
    assert_eq!(r.json()["kyc_status"], "verified", "{}", r.text());
    // The audit log says the system approved it.
    let admin = dev.admin().await;
    let audit = dev.get("/api/audit?before=0&limit=5").bearer(&admin).send().await.json();
    let approval = audit["items"].as_array().unwrap().iter().find(|r| r["action"] == "kyc.approve").cloned();
    assert_eq!(approval.expect("an approval record")["actor"], "system");
}

#[tokio::test]
async fn admins_read_the_audit_log_newest_first_with_names() {
    let app = TestApp::new().await;
    let alice = named_user(&app, "alice@example.com", "Alice Archer").await;
    let (account, number) = app.account(&alice, "USD").await;
    let admin = app.admin().await;
    let r = app.post(&format!("/api/accounts/{account}/freeze")).bearer(&admin).send().await;
    assert_eq!(r.status, StatusCode::OK);

    let first = app.get("/api/audit?before=0&limit=2").bearer(&admin).send().await.json();
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let (newest, second) = (items[0]["sequence"].as_u64().unwrap(), items[1]["sequence"].as_u64().unwrap());
    assert_eq!(second + 1, newest, "newest first");
    assert_eq!(items[0]["action"], "account.freeze");
    let target = items[0]["target"].as_str().unwrap();
    let grouped = format!("{} {} {}", &number[..4], &number[4..8], &number[8..]);
    assert_eq!(first["names"][target], format!("Checking {grouped}"));
    let actor = items[0]["actor"].as_str().unwrap();
    assert_eq!(first["names"][actor], format!("Admin <{ADMIN_EMAIL}>"));

    // Paging back reaches the first record, then stops.
    let mut before = first["next_before"].as_u64().unwrap();
    assert_eq!(before, second);
    let mut seen = 2;
    loop {
        let page = app.get(&format!("/api/audit?before={before}&limit=2")).bearer(&admin).send().await.json();
        seen += page["items"].as_array().unwrap().len() as u64;
        match page["next_before"].as_u64() {
            Some(next) => before = next,
            None => break,
        }
    }
    assert_eq!(seen, newest, "every record once");
    let all = app.get("/api/audit?after=0&limit=1000").bearer(&admin).send().await.json();
    assert_eq!(all["items"].as_array().unwrap().len() as u64, newest);

    // Customers read their own records oldest first, without `before` or names.
    let r = app.get("/api/audit?before=0").bearer(&alice).send().await;
    r.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let own = app.get("/api/audit").bearer(&alice).send().await.json();
    assert!(own.get("names").is_none(), "{own}");
    app.get("/api/audit?before=0&after=1")
        .bearer(&admin)
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query");
    app.get("/api/audit?before=0&limit=0")
        .bearer(&admin)
        .send()
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_page_size");
}

#[tokio::test]
async fn admins_search_users_by_name_or_email() {
    let app = TestApp::new().await;
    named_user(&app, "alice@example.com", "Alice Archer").await;
    named_user(&app, "bob@example.com", "Bob Baker").await;
    named_user(&app, "carol@example.com", "Carol Archer").await;
    let admin = app.admin().await;
    let found = app.get("/api/admin/users?q=ARCHER").bearer(&admin).send().await.json();
    let emails: Vec<&str> = found["items"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["alice@example.com", "carol@example.com"]);
    assert!(found["next_after"].is_null());
    let by_email = app.get("/api/admin/users?q=bob@").bearer(&admin).send().await.json();
    assert_eq!(by_email["items"][0]["full_name"], "Bob Baker");
    // Paged: one at a time, then the rest.
    let first = app.get("/api/admin/users?q=archer&limit=1").bearer(&admin).send().await.json();
    assert_eq!(first["items"][0]["email"], "alice@example.com");
    let after = first["next_after"].as_str().unwrap();
    let rest = app.get(&format!("/api/admin/users?q=archer&limit=1&after={after}")).bearer(&admin).send().await.json();
    assert_eq!(rest["items"][0]["email"], "carol@example.com");
    let none = app.get("/api/admin/users?q=zed").bearer(&admin).send().await.json();
    assert!(none["items"].as_array().unwrap().is_empty());
    // Customers may not search.
    let alice = app.login("alice@example.com").await;
    app.get("/api/admin/users?q=bob").bearer(&alice).send().await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
}
