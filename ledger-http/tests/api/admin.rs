//! The admin's view of a user's accounts (what the dashboard's freeze and
//! unfreeze buttons work from).

use axum::http::StatusCode;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_lists_any_users_accounts_and_freezes_one_from_the_list() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let (first, first_number) = app.account(&alice, "USD").await;
    let (second, _) = app.account(&alice, "EUR").await;
    let admin = app.admin().await;

    let r = app.get(&format!("/api/admin/users/{}/accounts", alice.id)).bearer(&admin).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let items = r.json()["items"].as_array().unwrap().clone();
    let ids: Vec<&str> = items.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [first.as_str(), second.as_str()], "oldest first");
    assert_eq!(items[0]["number"], first_number.as_str());
    assert_eq!(items[0]["balance"]["available"], "0.00");

    let r = app.post(&format!("/api/accounts/{first}/freeze")).bearer(&admin).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = app.get(&format!("/api/admin/users/{}/accounts", alice.id)).bearer(&admin).send().await;
    assert_eq!(r.json()["items"][0]["status"], "frozen");
    let r = app.post(&format!("/api/accounts/{first}/unfreeze")).bearer(&admin).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_sees_only_their_own_accounts_there() {
    let app = TestApp::new().await;
    let alice = app.user("alice@example.com").await;
    let bob = app.user("bob@example.com").await;
    let (own, _) = app.account(&alice, "USD").await;
    app.account(&bob, "USD").await;

    let r = app.get(&format!("/api/admin/users/{}/accounts", alice.id)).bearer(&alice).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["items"][0]["id"], own.as_str());
    let r = app.get(&format!("/api/admin/users/{}/accounts", bob.id)).bearer(&alice).send().await;
    r.assert_problem(StatusCode::NOT_FOUND, "user_not_found");
    let r = app.get(&format!("/api/admin/users/{}/accounts", bob.id)).send().await;
    r.assert_problem(StatusCode::UNAUTHORIZED, "unauthenticated");
}
