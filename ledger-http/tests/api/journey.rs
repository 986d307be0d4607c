//! The whole path of two users through the API.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_open_accounts_deposit_transfer_and_read_history() {
    let app = TestApp::new().await;
    two_users_journey(&app).await;
}

/// Two users register, open accounts, deposit, pass KYC and transfer by
/// number, then read balances and history. Also run against the real binary
/// on every backend (`backends.rs`).
pub async fn two_users_journey(app: &Client) {
    let alice = app.user(&app.email("alice")).await;
    let bob = app.user(&app.email("bob")).await;

    // Accounts start empty, amounts as strings with the currency's places.
    let r = app
        .post("/api/accounts")
        .bearer(&alice)
        .json(json!({"kind": "checking", "currency": "USD", "name": "Main"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let opened = r.json();
    assert_eq!(opened["balance"], json!({"posted": "0.00", "pending": "0.00", "available": "0.00"}));
    assert_eq!(opened["status"], "active");
    assert_eq!(opened["kind"], "checking");
    assert_eq!(opened["number"].as_str().map(str::len), Some(12));
    let alice_acc = opened["id"].as_str().unwrap().to_owned();
    let (bob_acc, bob_number) = app.account(&bob, "USD").await;

    let r = app.deposit(&alice, &alice_acc, "100", "dep-1").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let deposit = r.json();
    assert_eq!(deposit["kind"], "deposit");
    assert_eq!(deposit["amount"], "100.00");
    assert_eq!(deposit["currency"], "USD");
    assert_eq!(deposit["to_account_id"], alice_acc.as_str());
    assert_eq!(r.header("idempotent-replayed"), Some("false"));

    // Outgoing transfers need KYC (the core's default policy).
    let transfer = json!({"from_account_id": alice_acc, "to_account_number": bob_number, "amount": "30.25", "description": "rent"});
    let r = app.post("/api/transactions/transfers").bearer(&alice).key("tr-1").json(transfer.clone()).send().await;
    r.assert_problem(StatusCode::FORBIDDEN, "kyc_required");
    app.verify(&alice).await;
    // A rejected command stores no key: the same key works once the cause is fixed.
    let r = app.post("/api/transactions/transfers").bearer(&alice).key("tr-1").json(transfer).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let moved = r.json();
    assert_eq!(moved["kind"], "transfer");
    assert_eq!(moved["amount"], "30.25");
    assert_eq!(moved["from_account_id"], alice_acc.as_str());
    assert_eq!(moved["to_account_id"], bob_acc.as_str());
    assert_eq!(moved["description"], "rent");

    assert_eq!(app.available(&alice, &alice_acc).await, "69.75");
    assert_eq!(app.available(&bob, &bob_acc).await, "30.25");
    let r = app.get(&format!("/api/accounts/{alice_acc}/balance")).bearer(&alice).send().await;
    let balance = r.json();
    assert_eq!(balance["account_id"], alice_acc.as_str());
    assert_eq!(balance["currency"], "USD");
    assert_eq!(balance["posted"], "69.75");
    assert!(balance["as_of"].as_str().is_some());

    // History, newest first, in pages.
    let r = app.get("/api/transactions").bearer(&alice).send().await;
    let page = r.json();
    let kinds: Vec<_> = page["items"].as_array().unwrap().iter().map(|t| t["kind"].clone()).collect();
    assert_eq!(kinds, vec![json!("transfer"), json!("deposit")]);
    assert_eq!(page["next_cursor"], serde_json::Value::Null);
    let r = app.get("/api/transactions?limit=1").bearer(&alice).send().await;
    let first = r.json();
    assert_eq!(first["items"].as_array().map(Vec::len), Some(1));
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let r = app.get(&format!("/api/transactions?limit=1&cursor={cursor}")).bearer(&alice).send().await;
    assert_eq!(r.json()["items"][0]["kind"], "deposit");
    let r = app
        .get(&format!("/api/transactions?account_id={alice_acc}&kind=deposit&min_amount=50&max_amount=100"))
        .bearer(&alice)
        .send()
        .await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(1), "{}", r.text());
    let r = app.get("/api/transactions?kind=withdrawal").bearer(&alice).send().await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(0));

    // Bob sees the transfer (it credits him), by id and in his history.
    let transfer_id = moved["id"].as_str().unwrap();
    let r = app.get(&format!("/api/transactions/{transfer_id}")).bearer(&bob).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let mut seen = r.json();
    // A read names the other person ("Test U." for the payer); the rest is the receipt.
    let names = seen.as_object_mut().unwrap().remove("names").expect("the payer is named");
    assert_eq!(names.as_object().unwrap().len(), 1, "{names}");
    assert_eq!(seen, moved);
    let r = app.get("/api/transactions").bearer(&bob).send().await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(1));

    // Accounts list and one account.
    let r = app.get("/api/accounts").bearer(&alice).send().await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(1));
    let r = app.get(&format!("/api/accounts/{alice_acc}")).bearer(&alice).send().await;
    assert_eq!(r.json()["balance"]["available"], "69.75");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_withdrawals_and_account_life_cycle() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    app.verify(&alice).await;
    let (acc, _) = app.account(&alice, "EUR").await;
    app.deposit(&alice, &acc, "50.00", "d").await;

    let r =
        app.post("/api/holds").bearer(&alice).key("h1").json(json!({"account_id": acc, "amount": "20"})).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let hold = r.json();
    assert_eq!((hold["kind"].as_str(), hold["status"].as_str()), (Some("hold"), Some("pending")));
    assert_eq!(app.available(&alice, &acc).await, "30.00");
    let hold_id = hold["id"].as_str().unwrap();

    let r = app
        .post(&format!("/api/holds/{hold_id}/capture"))
        .bearer(&alice)
        .key("c1")
        .json(json!({"amount": "5"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "posted");
    assert_eq!(r.json()["captured_amount"], "5.00");
    assert_eq!(app.available(&alice, &acc).await, "45.00");

    // A second hold, voided; then capture of a non-pending hold is a conflict.
    let r =
        app.post("/api/holds").bearer(&alice).key("h2").json(json!({"account_id": acc, "amount": "10"})).send().await;
    let second = r.json()["id"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/api/holds/{second}/void")).bearer(&alice).key("v2").send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["status"], "voided");
    let r = app.post(&format!("/api/holds/{second}/capture")).bearer(&alice).key("c2").send().await;
    r.assert_problem(StatusCode::CONFLICT, "hold_not_pending");

    let r = app
        .post("/api/transactions/withdrawals")
        .bearer(&alice)
        .key("w1")
        .json(json!({"account_id": acc, "amount": "45"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = app
        .post("/api/transactions/withdrawals")
        .bearer(&alice)
        .key("w2")
        .json(json!({"account_id": acc, "amount": "0.01"}))
        .send()
        .await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");

    // Freeze: no postings; customers cannot unfreeze; the admin can.
    let r = app.post(&format!("/api/accounts/{acc}/freeze")).bearer(&alice).send().await;
    assert_eq!(r.json()["status"], "frozen");
    app.deposit(&alice, &acc, "1", "d-frozen").await.assert_problem(StatusCode::CONFLICT, "account_frozen");
    let r = app.post(&format!("/api/accounts/{acc}/unfreeze")).bearer(&alice).send().await;
    r.assert_problem(StatusCode::FORBIDDEN, "forbidden");
    let admin = app.admin().await;
    let r = app.post(&format!("/api/accounts/{acc}/unfreeze")).bearer(&admin).send().await;
    assert_eq!(r.json()["status"], "active", "{}", r.text());
    let r = app.post(&format!("/api/accounts/{acc}/freeze")).bearer(&alice).send().await;
    let r2 = app.post(&format!("/api/accounts/{acc}/freeze")).bearer(&alice).send().await;
    assert_eq!(r.status, StatusCode::OK);
    r2.assert_problem(StatusCode::CONFLICT, "invalid_status_transition");
    // Close (zero balance): final.
    let r = app.post(&format!("/api/accounts/{acc}/close")).bearer(&alice).send().await;
    assert_eq!(r.json()["status"], "closed", "{}", r.text());
    let r = app.post(&format!("/api/accounts/{acc}/close")).bearer(&alice).send().await;
    r.assert_problem(StatusCode::CONFLICT, "account_closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_sessions_passwords_and_audit() {
    let app = TestApp::new().await;
    let alice = app.user("Alice@Example.com").await;

    let r = app.get("/api/me").bearer(&alice).send().await;
    let me = r.json();
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["kyc_status"], "unverified");
    assert_eq!(me["role"], "customer");
    let r = app
        .call(Method::PATCH, "/api/me")
        .bearer(&alice)
        .json(json!({"phone": "+44 20 7946 0958", "address": "1 Main St"}))
        .send()
        .await;
    assert_eq!(r.json()["phone"], "+442079460958", "{}", r.text());
    let r = app.call(Method::PATCH, "/api/me").bearer(&alice).json(json!({"phone": null})).send().await;
    assert_eq!(r.json()["phone"], serde_json::Value::Null);
    assert_eq!(r.json()["address"], "1 Main St", "a field left out is unchanged");
    let r = app.call(Method::PATCH, "/api/me").bearer(&alice).json(json!({"date_of_birth": "2020-01-01"})).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_profile");

    // KYC: a profile without a date of birth cannot be reviewed; submit
    // twice is a conflict; a rejection needs a reason.
    let r = app.post("/api/me/kyc").bearer(&alice).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "profile_incomplete");
    app.complete_profile(&alice).await;
    assert_eq!(app.post("/api/me/kyc").bearer(&alice).send().await.json()["kyc_status"], "pending");
    app.post("/api/me/kyc").bearer(&alice).send().await.assert_problem(StatusCode::CONFLICT, "invalid_kyc_transition");
    let admin = app.admin().await;
    let path = format!("/api/admin/users/{}/kyc", alice.id);
    let r = app.post(&path).bearer(&admin).json(json!({"decision": "rejected"})).send().await;
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "invalid_kyc_reason");
    let r = app.post(&path).bearer(&admin).json(json!({"decision": "rejected", "reason": "blurry photo"})).send().await;
    assert_eq!(r.json()["kyc_reason"], "blurry photo");
    app.post(&path)
        .bearer(&alice)
        .json(json!({"decision": "verified"}))
        .send()
        .await
        .assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // Admin user list; customers are refused.
    let r = app.get("/api/admin/users?limit=1").bearer(&admin).send().await;
    assert_eq!(r.json()["items"].as_array().map(Vec::len), Some(1), "{}", r.text());
    assert!(r.json()["next_after"].as_str().is_some());
    app.get("/api/admin/users").bearer(&alice).send().await.assert_problem(StatusCode::FORBIDDEN, "forbidden");

    // Sessions: two logins, list, revoke one, revoke others, logout.
    let laptop = app.login("alice@example.com").await;
    let r = app.get("/api/auth/sessions").bearer(&alice).send().await;
    let sessions = r.json()["items"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let r = app.call(Method::DELETE, &format!("/api/auth/sessions/{}", laptop.session)).bearer(&alice).send().await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    app.get("/api/me").bearer(&laptop).send().await.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let phone = app.login("alice@example.com").await;
    let r = app.call(Method::DELETE, "/api/auth/sessions").bearer(&alice).send().await;
    assert_eq!(r.json()["revoked"], 1);
    app.get("/api/me").bearer(&phone).send().await.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");

    // Password change: wrong current password, then right.
    let r = app
        .post("/api/auth/password/change")
        .bearer(&alice)
        .json(json!({"current_password": "nope nope nope", "new_password": "another long passphrase"}))
        .send()
        .await;
    // 422, not 401: the caller is signed in, and a 401 would sign the
    // dashboard out over a typo.
    r.assert_problem(StatusCode::UNPROCESSABLE_ENTITY, "wrong_password");
    let r = app
        .post("/api/auth/password/change")
        .bearer(&alice)
        .json(json!({"current_password": PASSWORD, "new_password": "another long passphrase"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());

    // Reset: 202 whether the email exists or not; the token works once and ends every session.
    for email in ["alice@example.com", "nobody@example.com", "not an email"] {
        let r = app.post("/api/auth/password/reset-request").json(json!({"email": email})).send().await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{email}");
    }
    let token = app
        .notifier
        .tokens
        .lock()
        .unwrap()
        .iter()
        .find(|(to, _)| to == "alice@example.com")
        .map(|(_, t)| t.clone())
        .unwrap();
    let reset = json!({"token": token, "new_password": PASSWORD});
    assert_eq!(app.post("/api/auth/password/reset").json(reset.clone()).send().await.status, StatusCode::NO_CONTENT);
    app.post("/api/auth/password/reset")
        .json(reset)
        .send()
        .await
        .assert_problem(StatusCode::BAD_REQUEST, "invalid_reset_token");
    app.get("/api/me").bearer(&alice).send().await.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
    let alice = app.login("alice@example.com").await;

    // Logout ends the session and clears the cookies.
    let r = app.post("/api/auth/logout").bearer(&alice).send().await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.headers.get_all("set-cookie").iter().any(|c| c.to_str().unwrap().contains("Max-Age=0")));
    app.get("/api/me").bearer(&alice).send().await.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");

    // Audit: the customer sees their own records (failed attempts included);
    // the admin sees everyone's and verifies the chain.
    let alice = app.login("alice@example.com").await;
    let r = app.get("/api/audit").bearer(&alice).send().await;
    let records = r.json()["items"].as_array().unwrap().clone();
    assert!(records.iter().all(|a| a["actor"] == format!("user:{}", alice.id)), "{records:?}");
    assert!(records.iter().any(|a| a["outcome"] == "rejected" && a["action"] == "auth.password.change"));
    let r = app.get("/api/audit?limit=1000").bearer(&admin).send().await;
    assert!(r.json()["items"].as_array().unwrap().len() > records.len());
    let r = app.get("/api/audit?after=2&limit=1").bearer(&admin).send().await;
    assert_eq!(r.json()["items"][0]["sequence"], 3);
    assert_eq!(r.json()["next_after"], 3);
    let r = app.get("/api/admin/audit/verify").bearer(&admin).send().await;
    assert_eq!(r.json()["valid"], true, "{}", r.text());
    app.get("/api/admin/audit/verify").bearer(&alice).send().await.assert_problem(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_releases_expired_holds() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    app.verify(&alice).await;
    let (acc, _) = app.account(&alice, "USD").await;
    app.deposit(&alice, &acc, "10", "d").await;
    let expires_at = (chrono::Utc::now() + chrono::Duration::milliseconds(800)).to_rfc3339();
    let r = app
        .post("/api/holds")
        .bearer(&alice)
        .key("h")
        .json(json!({"account_id": acc, "amount": "4", "expires_at": expires_at}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let hold = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(app.available(&alice, &acc).await, "6.00");
    let sweeper = ledger_http::server::spawn_sweeper(app.state.clone(), std::time::Duration::from_millis(100));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while app.get(&format!("/api/transactions/{hold}")).bearer(&alice).send().await.json()["status"] != "voided" {
        assert!(std::time::Instant::now() < deadline, "the hold was not released");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(app.available(&alice, &acc).await, "10.00");
    app.state.shutdown().cancel();
    sweeper.await.unwrap();
}

/// Opening an account runs on a blocking thread (a workaround for a core
/// future that is not `Send`); it must work on a current-thread runtime too.
#[tokio::test]
async fn accounts_open_on_a_current_thread_runtime() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let (acc, _) = app.account(&alice, "GBP").await;
    assert_eq!(app.available(&alice, &acc).await, "0.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_renamed_by_their_owner_or_an_admin_and_keep_everything_else() {
    let app = TestApp::new().await;
    let rita = app.user(&app.email("rita")).await;
    app.verify(&rita).await;
    let (acc, number) = app.account(&rita, "USD").await;
    app.deposit(&rita, &acc, "7.25", "d").await;
    let patch =
        |user: &User, body: Value| app.call(Method::PATCH, &format!("/api/accounts/{acc}")).bearer(user).json(body);

    let r = patch(&rita, json!({"name": "  Bills  "})).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let renamed = r.json();
    assert_eq!(renamed["name"], "Bills");
    assert_eq!((renamed["number"].as_str(), renamed["status"].as_str()), (Some(number.as_str()), Some("active")));
    assert_eq!(renamed["balance"]["posted"], "7.25");
    assert_eq!(app.get(&format!("/api/accounts/{acc}")).bearer(&rita).send().await.json()["name"], "Bills");

    // Bad names and a body without the field change nothing.
    for (body, status, code) in [
        (json!({"name": ""}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_account_name"),
        (json!({"name": "x".repeat(65)}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_account_name"),
        (json!({"name": "new\nline"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_account_name"),
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        (json!({"name": "ok", "owner": "me"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
    ] {
        patch(&rita, body).send().await.assert_problem(status, code);
    }
    assert_eq!(app.get(&format!("/api/accounts/{acc}")).bearer(&rita).send().await.json()["name"], "Bills");

    // An admin may rename it; `null` clears the name.
    let admin = app.admin().await;
    let r = patch(&admin, json!({"name": null})).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["name"], Value::Null);

    // A closed account keeps its name.
    let r = app
        .post("/api/transactions/withdrawals")
        .bearer(&rita)
        .key("w")
        .json(json!({"account_id": acc, "amount": "7.25"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let r = app.post(&format!("/api/accounts/{acc}/close")).bearer(&rita).send().await;
    assert_eq!(r.json()["status"], "closed", "{}", r.text());
    patch(&rita, json!({"name": "Old"})).send().await.assert_problem(StatusCode::CONFLICT, "account_closed");
}
