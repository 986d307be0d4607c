//! The outside security review's findings, one case each (see
//! `docs/reliability.md`): every one failed before its fix, on every
//! backend or at least on the one the review broke.
//!
//! Races are made deterministic with a [`RecordingStore`] that holds one
//! commit at its gate while the other side of the race commits.

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;

use super::Harness;
use super::people::{
    PASSWORD, admin, amount, assert_last_audit_rejected, audit_sequence, code, customer, key, login_from, register,
    registration,
};
use super::recording::RecordingStore;
use crate::account::{ACCOUNTS_PER_OWNER_MAX, AccountKind};
use crate::audit::{AuditOutcome, AuditRecord};
use crate::command::{CaptureHold, OpenAccount, PlaceHold, Transfer, VoidHold, Withdraw};
use crate::error::LedgerError;
use crate::identity::{Actor, Device, HashParams, KycStatus, KycTransition, ProfilePatch};
use crate::ledger::{GroupCommit, Ledger, LedgerConfig, LoginRequest};
use crate::money::Currency;
use crate::stored_text::{AUDIT_TEXT_LEN_MAX, is_storable};

const SYS: Actor = Actor::System;

/// A second ledger over the harness's store, through a recording wrapper,
/// with group commit off: each command is its own store call, so a test
/// can hold one at the gate while another commits.
async fn recording_ledger(h: &Harness) -> (Ledger, Arc<RecordingStore>) {
    let store = Arc::new(RecordingStore::new(h.store.clone(), Duration::ZERO));
    let config =
        LedgerConfig::default().password_hash(HashParams::INSECURE_FAST_FOR_TESTS).group_commit(GroupCommit::DISABLED);
    let opened = Ledger::builder(store.clone()).clock(h.clock.clone()).config(config).notifier(h.notifier.clone());
    (opened.open().await.expect("opening a ledger over the recording store"), store)
}

fn request(email: &str, password: &str) -> LoginRequest {
    LoginRequest { email: email.into(), password: password.into(), device: Device::default() }
}

async fn last_audit(h: &Harness) -> AuditRecord {
    let head = audit_sequence(h).await;
    h.ledger.audit_log(&SYS, head - 1, 1).await.expect("audit").remove(0)
}

/// Holds `ledger`'s next commit at the store's gate: starts `command` and
/// returns once its commit waits there.
async fn held<F>(store: &RecordingStore, command: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    store.hold_next_apply();
    let task = tokio::spawn(command);
    tokio::time::timeout(Duration::from_secs(20), store.wait_until_held()).await.expect("the commit reaches the gate");
    task
}

/// Finding 1 and 12: a login email with a NUL, or as long as the body
/// limit, is audited (it was not: PostgreSQL refused the record) in an
/// escaped, bounded form, throttled attempts included.
pub async fn hostile_login_input_is_audited_escaped_and_bounded(h: Harness) {
    let long = format!("{}@example.com", "a".repeat(60 * 1024));
    for email in ["evil\0@example.com", long.as_str()] {
        for _ in 0..7 {
            let refused = code(login_from(&h, email, "any old password", Device::default()).await);
            assert!(matches!(refused, Err("invalid_credentials" | "too_many_attempts")), "{refused:?}");
            let record = last_audit(&h).await;
            assert_eq!(record.action, "auth.login", "the attempt itself is audited");
            assert!(matches!(record.outcome, AuditOutcome::Rejected { .. }));
            assert!(is_storable(&record.target), "{:?}", &record.target[..20]);
            assert!(record.target.chars().count() <= AUDIT_TEXT_LEN_MAX, "the record is bounded");
        }
        assert_last_audit_rejected(&h, "too_many_attempts").await;
    }
    let log = h.ledger.audit_log(&SYS, 0, 1000).await.expect("audit");
    assert!(log.iter().any(|r| r.target == "email:evil\\u{0}@example.com"), "the NUL is kept, escaped");
    h.ledger.verify_audit_chain(&SYS, None).await.expect("the chain verifies");
}

/// Finding 1: a refusal whose audit record cannot be written is an error
/// the caller sees (it was a log line, and the attempt went unrecorded).
pub async fn a_rejection_that_cannot_be_audited_is_an_error_the_caller_sees(h: Harness) {
    let (ledger, store) = recording_ledger(&h).await;
    store.fail_next_apply();
    let refused = ledger.login(request("nobody@example.com", "any old password")).await;
    assert!(matches!(refused, Err(LedgerError::Storage(_))), "{refused:?}");
    let audited = ledger.login(request("nobody@example.com", "any old password")).await;
    assert_eq!(code(audited), Err("invalid_credentials"));
    assert_last_audit_rejected(&h, "invalid_credentials").await;
}

/// Finding 2: 60 concurrent wrong passwords for one email get at most the
/// throttle's 5 verdicts; the rest are refused before any hashing.
pub async fn concurrent_wrong_passwords_pass_the_throttle_at_most_its_limit(h: Harness) {
    const ATTEMPTS: usize = 60;
    // A hash slow enough that every attempt starts before the first ends.
    let slow = HashParams { memory_kib: 4096, iterations: 3, lanes: 1 };
    let config = LedgerConfig::default().password_hash(slow);
    let ledger = Ledger::builder(h.store.clone()).clock(h.clock.clone()).config(config).open().await.expect("ledger");
    ledger.register(registration("wes@example.com")).await.expect("register");
    let start = Arc::new(tokio::sync::Barrier::new(ATTEMPTS));
    let attempts: Vec<_> = (0..ATTEMPTS)
        .map(|i| {
            let (ledger, start) = (ledger.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                code(ledger.login(request("wes@example.com", &format!("wrong guess {i}"))).await)
            })
        })
        .collect();
    let mut verdicts = Vec::new();
    for attempt in attempts {
        verdicts.push(attempt.await.expect("attempt"));
    }
    let wrong = verdicts.iter().filter(|v| **v == Err("invalid_credentials")).count();
    let throttled = verdicts.iter().filter(|v| **v == Err("too_many_attempts")).count();
    assert_eq!((wrong, throttled), (5, ATTEMPTS - 5), "{verdicts:?}");
    let right = ledger.login(request("wes@example.com", PASSWORD)).await;
    assert_eq!(code(right), Err("too_many_attempts"), "even the right password waits");
}

/// Finding 3: a login that verified the old password while a password
/// change committed opens no session (it opened one that kept working).
pub async fn a_login_racing_a_password_change_opens_no_session(h: Harness) {
    register(&h, "xia@example.com").await;
    let (ledger, store) = recording_ledger(&h).await;
    let first = ledger.login(request("xia@example.com", PASSWORD)).await.expect("login");
    let auth = ledger.authenticate(first.token.expose()).await.expect("auth");
    let racing = {
        let ledger = ledger.clone();
        held(&store, async move { ledger.login(request("xia@example.com", PASSWORD)).await }).await
    };
    ledger.change_password(&auth, PASSWORD, "a brand new passphrase").await.expect("change");
    store.release();
    assert_eq!(code(racing.await.expect("login task")), Err("invalid_credentials"));
    assert_eq!(ledger.sessions(&auth).await.map(|s| s.len()), Ok(1), "only the changing session lives");
}

/// Finding 3, through a password reset.
pub async fn a_login_racing_a_password_reset_opens_no_session(h: Harness) {
    register(&h, "yoko@example.com").await;
    let (ledger, store) = recording_ledger(&h).await;
    let racing = {
        let ledger = ledger.clone();
        held(&store, async move { ledger.login(request("yoko@example.com", PASSWORD)).await }).await
    };
    ledger.request_password_reset("yoko@example.com").await.expect("request");
    let token = h.notifier.last_token_for("yoko@example.com").expect("token");
    ledger.reset_password(token.expose(), "reset while logging in").await.expect("reset");
    store.release();
    assert_eq!(code(racing.await.expect("login task")), Err("invalid_credentials"));
    let fresh = ledger.login(request("yoko@example.com", "reset while logging in")).await.expect("login");
    let auth = ledger.authenticate(fresh.token.expose()).await.expect("auth");
    assert_eq!(ledger.sessions(&auth).await.map(|s| s.len()), Ok(1), "no session with the old password");
}

/// Finding 4: a newer reset token, a completed reset or a password change
/// voids every older token (an older token reset the password again).
pub async fn issuing_or_using_a_reset_token_voids_the_others(h: Harness) {
    let user = register(&h, "zoe@example.com").await;
    let tokens = {
        let mut tokens = Vec::new();
        for _ in 0..2 {
            h.ledger.request_password_reset("zoe@example.com").await.expect("request");
            tokens.push(h.notifier.last_token_for("zoe@example.com").expect("token"));
        }
        tokens
    };
    let older = h.ledger.reset_password(tokens[0].expose(), "the older token's pick").await;
    assert_eq!(code(older), Err("invalid_reset_token"), "a newer token voided it");
    h.ledger.reset_password(tokens[1].expose(), "the newer token's pick").await.expect("reset");
    for token in &tokens {
        assert_eq!(
            code(h.ledger.reset_password(token.expose(), "one more time now").await),
            Err("invalid_reset_token")
        );
    }
    h.ledger.request_password_reset("zoe@example.com").await.expect("request");
    let pending = h.notifier.last_token_for("zoe@example.com").expect("token");
    let login = login_from(&h, "zoe@example.com", "the newer token's pick", Device::default()).await.expect("login");
    let auth = h.ledger.authenticate(login.token.expose()).await.expect("auth");
    h.ledger.change_password(&auth, "the newer token's pick", "changed by hand instead").await.expect("change");
    assert_eq!(code(h.ledger.reset_password(pending.expose(), "too late now sadly").await), Err("invalid_reset_token"));
    assert!(login_from(&h, "zoe@example.com", "changed by hand instead", Device::default()).await.is_ok());
    assert_eq!(h.store.user(user.id).await.expect("read").and_then(|u| u.reset_token), None);
}

/// Finding 6: changing the name, birth date or address of a verified
/// customer sends KYC back to review (the customer stayed verified); the
/// phone is not an identity field.
pub async fn changing_identity_fields_sends_a_verified_customer_back_to_review(h: Harness) {
    let (me, account) = customer(&h, "ana@example.com", "100", true).await;
    let id = me.user_id().expect("a customer");
    let phone = ProfilePatch { phone: Some(Some("+447700900123".into())), ..ProfilePatch::default() };
    let view = h.ledger.update_profile(&me, id, phone).await.expect("phone");
    assert_eq!(view.kyc_status, KycStatus::Verified);
    let patches = [
        ProfilePatch { full_name: Some("Someone Else".into()), ..ProfilePatch::default() },
        ProfilePatch { date_of_birth: Some(chrono::NaiveDate::from_ymd_opt(1970, 1, 1)), ..ProfilePatch::default() },
        ProfilePatch { address: Some(Some("2 Other Road".into())), ..ProfilePatch::default() },
    ];
    let admin = admin(&h).await;
    for patch in patches {
        let view = h.ledger.update_profile(&me, id, patch.clone()).await.expect("update");
        assert_eq!(view.kyc_status, KycStatus::Pending, "{patch:?}");
        let out =
            Withdraw { account: account.id, amount: amount("1"), description: None, metadata: Default::default() };
        assert_eq!(code(h.ledger.withdraw(&me, key(), out).await), Err("kyc_required"));
        h.ledger.review_kyc(&admin, id, KycTransition::Approve).await.expect("approve again");
    }
    let out = Withdraw { account: account.id, amount: amount("1"), description: None, metadata: Default::default() };
    h.ledger.withdraw(&me, key(), out).await.expect("verified again");
}

/// Finding 10: the payee (merchant) captures or voids a hold with a
/// destination and the payer does neither; a hold without a destination is
/// its owner's to decide; a stranger does not see it.
pub async fn the_payee_decides_a_hold_with_a_destination_and_the_payer_never_does(h: Harness) {
    let (payer, payer_account) = customer(&h, "bea@example.com", "100", true).await;
    let (payee, payee_account) = customer(&h, "cid@example.com", "0", true).await;
    let (stranger, _) = customer(&h, "dot@example.com", "0", true).await;
    let payment = |amount_text: &str| PlaceHold {
        account: payer_account.id,
        amount: amount(amount_text),
        destination: Some(payee_account.number.into()),
        expires_at: None,
        description: None,
        metadata: Default::default(),
    };
    let first = h.ledger.place_hold(&payer, key(), payment("30")).await.expect("hold").transaction;
    let capture = CaptureHold { hold: first.id, amount: Some(amount("10")) };
    assert_eq!(code(h.ledger.capture_hold(&payer, key(), capture.clone()).await), Err("forbidden"));
    assert_eq!(code(h.ledger.void_hold(&payer, key(), VoidHold { hold: first.id }).await), Err("forbidden"));
    assert_eq!(code(h.ledger.capture_hold(&stranger, key(), capture.clone()).await), Err("transaction_not_found"));
    h.ledger.capture_hold(&payee, key(), capture).await.expect("the payee captures");
    let second = h.ledger.place_hold(&payer, key(), payment("20")).await.expect("hold").transaction;
    assert_eq!(
        code(h.ledger.void_hold(&stranger, key(), VoidHold { hold: second.id }).await),
        Err("transaction_not_found")
    );
    h.ledger.void_hold(&payee, key(), VoidHold { hold: second.id }).await.expect("the payee releases");
    let own = PlaceHold { destination: None, ..payment("5") };
    let third = h.ledger.place_hold(&payer, key(), own.clone()).await.expect("own hold").transaction;
    h.ledger.capture_hold(&payer, key(), CaptureHold { hold: third.id, amount: None }).await.expect("owner captures");
    let fourth = h.ledger.place_hold(&payer, key(), own).await.expect("own hold").transaction;
    h.ledger.void_hold(&payer, key(), VoidHold { hold: fourth.id }).await.expect("owner voids");
    let payer_balance = h.ledger.balance(&SYS, payer_account.id).await.expect("balance");
    assert_eq!((payer_balance.posted, payer_balance.pending), (Decimal::from(85), Decimal::ZERO));
    assert_eq!(h.ledger.balance(&SYS, payee_account.id).await.expect("balance").posted, Decimal::from(10));
}

/// Finding 11: an error names the caller's own account by its number and
/// never an internal id; another customer's account state is never named.
pub async fn errors_name_own_accounts_by_number_and_nothing_of_others(h: Harness) {
    let (me, mine) = customer(&h, "eve@example.com", "10", true).await;
    let (them, theirs) = customer(&h, "fay@example.com", "10", true).await;
    let admin = admin(&h).await;
    let too_much = Transfer {
        from: mine.id,
        to: theirs.number.into(),
        amount: amount("25"),
        description: None,
        metadata: Default::default(),
    };
    let short = h.ledger.transfer(&me, key(), too_much).await.expect_err("insufficient funds");
    let text = short.to_string();
    assert!(text.contains(&mine.number.to_string()) && !text.contains(&mine.id.to_string()), "{text}");
    h.ledger.freeze(&admin, theirs.id).await.expect("freeze theirs");
    let pay = Transfer {
        from: mine.id,
        to: theirs.number.into(),
        amount: amount("1"),
        description: None,
        metadata: Default::default(),
    };
    let refused = h.ledger.transfer(&me, key(), pay.clone()).await.expect_err("a frozen recipient");
    assert_eq!(refused, LedgerError::RecipientUnavailable);
    let own_log = h.ledger.audit_log(&me, 0, 1000).await.expect("own audit log");
    let reasons: Vec<String> = own_log
        .iter()
        .filter_map(|r| match &r.outcome {
            AuditOutcome::Rejected { reason, .. } => Some(reason.clone()),
            AuditOutcome::Accepted => None,
        })
        .collect();
    assert!(reasons.iter().all(|r| !r.contains(&theirs.number.to_string()) && !r.contains("frozen")), "{reasons:?}");
    assert_eq!(code(h.ledger.transfer(&admin, key(), pay).await), Err("account_frozen"), "admins see it all");
    // The payee's capture meeting the payer's frozen account.
    h.ledger.unfreeze(&admin, theirs.id).await.expect("unfreeze");
    let hold = PlaceHold {
        account: theirs.id,
        amount: amount("5"),
        destination: Some(mine.number.into()),
        expires_at: None,
        description: None,
        metadata: Default::default(),
    };
    let hold = h.ledger.place_hold(&them, key(), hold).await.expect("hold").transaction;
    h.ledger.freeze(&them, theirs.id).await.expect("the payer freezes");
    let capture = h.ledger.capture_hold(&me, key(), CaptureHold { hold: hold.id, amount: None }).await;
    assert_eq!(capture.map(|_| ()), Err(LedgerError::PayerUnavailable));
}

/// Finding 13: concurrent opens cannot pass the per-owner limit together
/// (it was checked outside the store's transaction).
pub async fn concurrent_opens_never_pass_the_per_owner_limit(h: Harness) {
    const RACERS: usize = 8;
    let user = register(&h, "gus@example.com").await;
    let me = Actor::customer(user.id);
    let open = || OpenAccount::new(user.id, AccountKind::Savings, Currency::Usd);
    for _ in 0..ACCOUNTS_PER_OWNER_MAX - 2 {
        h.ledger.open_account(&me, open()).await.expect("open");
    }
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let (ledger, command) = (h.ledger.clone(), open());
            tokio::spawn(async move { code(ledger.open_account(&me, command).await) })
        })
        .collect();
    let mut opened = 0;
    for racer in racers {
        match racer.await.expect("racer") {
            Ok(()) => opened += 1,
            Err(code) => assert_eq!(code, "too_many_accounts"),
        }
    }
    assert_eq!(opened, 2);
    assert_eq!(h.ledger.accounts_of(&me, user.id).await.map(|a| a.len()), Ok(ACCOUNTS_PER_OWNER_MAX));
    let page = h.ledger.history(&me, &crate::query::HistoryFilter::default(), Default::default()).await;
    assert!(page.is_ok(), "a customer's history covers all their accounts");
}

/// Finding 9: instances bootstrapping the same admin together all succeed
/// with the one admin (the loser of the race exited).
pub async fn instances_bootstrapping_one_admin_together_all_succeed(h: Harness) {
    let (ledger, store) = recording_ledger(&h).await;
    let loser = {
        let ledger = ledger.clone();
        held(&store, async move { ledger.bootstrap_admin(registration("boss@bank.example")).await }).await
    };
    let winner = h.ledger.bootstrap_admin(registration("boss@bank.example")).await.expect("the winner");
    store.release();
    let loser = loser.await.expect("task").expect("the loser finds the winner's admin");
    assert_eq!(loser.id, winner.id);
    let customer = register(&h, "not-admin@example.com").await;
    let taken = h.ledger.bootstrap_admin(registration("not-admin@example.com")).await;
    assert_eq!(code(taken), Err("email_taken"), "a customer's email never becomes an admin ({})", customer.id);
}
