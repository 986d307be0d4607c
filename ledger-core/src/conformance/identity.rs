//! Identity, sessions, KYC and authorization, including every attack the
//! brief names: each gets a typed error, changes nothing, and security
//! events are audited.

use std::net::{IpAddr, Ipv4Addr};

use chrono::Duration;
use rust_decimal::Decimal;

use super::Harness;
use super::invariants::all_accounts;
use super::people::*;
use crate::account::{AccountKind, AccountStatus};
use crate::audit::AuditOutcome;
use crate::command::{CaptureHold, Deposit, MoneyCommand, OpenAccount, PlaceHold, Transfer, VoidHold, Withdraw};
use crate::error::LedgerError;
use crate::id::UserId;
use crate::idempotency::IdempotencyKey;
use crate::identity::{Actor, Device, KycStatus, KycTransition, ProfilePatch, Role, SecretToken};
use crate::ledger::Registration;
use crate::money::Currency;
use crate::query::{HistoryFilter, PageRequest};

// ---------------------------------------------------------------- users

/// Emails are normalised and unique whatever their case.
pub async fn register_normalises_email_and_refuses_duplicates_case_insensitively(h: Harness) {
    let user = register(&h, "  Alice@Example.COM ").await;
    assert_eq!(user.email.as_str(), "alice@example.com");
    assert_eq!((user.role, user.kyc_status), (Role::Customer, KycStatus::Unverified));
    let again = h.ledger.register(registration("ALICE@example.com")).await;
    assert_eq!(code(again), Err("email_taken"));
    assert_last_audit_rejected(&h, "email_taken").await;
}

/// Bad emails, weak passwords and bad names are refused and audited.
pub async fn registration_rejects_bad_input_and_audits_it(h: Harness) {
    let cases = [
        (Registration { email: "not-an-email".into(), ..registration("x@y.example") }, "invalid_email"),
        (Registration { password: "short".into(), ..registration("a@b.example") }, "weak_password"),
        (Registration { password: "password123".into(), ..registration("a@b.example") }, "weak_password"),
        (Registration { password: "x".repeat(129), ..registration("a@b.example") }, "weak_password"),
        (Registration { password: "carol-is-my-name".into(), ..registration("carol@b.example") }, "weak_password"),
        (Registration { full_name: " ".into(), ..registration("a@b.example") }, "invalid_profile"),
        (Registration { full_name: "x".repeat(101), ..registration("a@b.example") }, "invalid_profile"),
    ];
    for (bad, expected) in cases {
        let before = audit_sequence(&h).await;
        assert_eq!(code(h.ledger.register(bad).await), Err(expected));
        assert_eq!(audit_sequence(&h).await, before + 1);
        assert_last_audit_rejected(&h, expected).await;
    }
    assert!(h.store.users(None, 10).await.expect("users").is_empty(), "nothing was created");
}

/// Passwords are stored only as argon2id digests.
pub async fn passwords_are_stored_as_argon2id_digests(h: Harness) {
    let user = register(&h, "dora@example.com").await;
    let stored = h.store.user(user.id).await.expect("read").expect("stored");
    assert!(stored.password.as_str().starts_with("$argon2id$v=19$"));
    assert!(!stored.password.as_str().contains(PASSWORD));
    assert!(stored.password.verify(PASSWORD));
}

/// The first admin comes from configuration; registration never makes one.
pub async fn bootstrap_admin_is_idempotent_and_never_self_registered(h: Harness) {
    let first = h.ledger.bootstrap_admin(registration("root@bank.example")).await.expect("bootstrap");
    assert_eq!(first.role, Role::Admin);
    let again = h.ledger.bootstrap_admin(registration("ROOT@bank.example")).await.expect("again");
    assert_eq!(again.id, first.id);
    let customer = register(&h, "eve@example.com").await;
    assert_eq!(customer.role, Role::Customer);
    assert_eq!(code(h.ledger.bootstrap_admin(registration("eve@example.com")).await), Err("email_taken"));
}

// ---------------------------------------------------------------- login & sessions

/// Login returns a 256-bit token, stores only its digest, tracks the device.
pub async fn login_opens_a_session_with_device_tracking(h: Harness) {
    let user = register(&h, "fay@example.com").await;
    let login = login(&h, "FAY@example.com").await;
    assert_eq!(login.user.id, user.id);
    assert_eq!(login.token.expose().len(), 64);
    let session = &login.session;
    assert_eq!(session.token_digest, login.token.digest());
    assert_eq!(session.device.label.as_deref(), Some("laptop"));
    assert_eq!(session.device.client_addr, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert!(session.device.user_agent.as_deref().is_some_and(|ua| ua.starts_with("Mozilla")));
    let stored = h.store.session_by_token(&login.token.digest()).await.expect("read").expect("stored");
    assert_eq!(&stored, session);
    let auth = h.ledger.authenticate(login.token.expose()).await.expect("authenticate");
    assert_eq!((auth.user.id, auth.session.id), (user.id, session.id));
}

/// Wrong passwords and unknown emails get one error, and both are audited.
pub async fn login_with_wrong_password_or_unknown_email_is_the_same_error_and_audited(h: Harness) {
    register(&h, "gus@example.com").await;
    let wrong = login_from(&h, "gus@example.com", "not the password at all", Device::default()).await;
    assert_eq!(code(wrong), Err("invalid_credentials"));
    assert_last_audit_rejected(&h, "invalid_credentials").await;
    let unknown = login_from(&h, "nobody@example.com", PASSWORD, Device::default()).await;
    assert_eq!(code(unknown), Err("invalid_credentials"));
    assert_last_audit_rejected(&h, "invalid_credentials").await;
    let malformed = login_from(&h, "not an email", PASSWORD, Device::default()).await;
    assert_eq!(code(malformed), Err("invalid_credentials"));
}

/// After repeated failures an email is locked, even for the right password,
/// with the time to wait; it opens again after the window.
pub async fn repeated_failed_logins_are_throttled_with_retry_after(h: Harness) {
    register(&h, "hal@example.com").await;
    for _ in 0..5 {
        let failed = login_from(&h, "hal@example.com", "wrong password 123", Device::default()).await;
        assert_eq!(code(failed), Err("invalid_credentials"));
    }
    let locked = login_from(&h, "hal@example.com", PASSWORD, Device::default()).await;
    assert!(matches!(locked, Err(LedgerError::TooManyAttempts { retry_after_secs }) if retry_after_secs > 0));
    assert_last_audit_rejected(&h, "too_many_attempts").await;
    h.clock.advance(Duration::minutes(16));
    assert!(login_from(&h, "hal@example.com", PASSWORD, Device::default()).await.is_ok());
}

/// Many failures from one client address lock that address for any email.
pub async fn throttling_applies_per_client_address(h: Harness) {
    register(&h, "ivy@example.com").await;
    let attacker = device("bot", [10, 0, 0, 66]);
    for i in 0..20 {
        let _ = login_from(&h, &format!("victim{i}@example.com"), "guess guess guess", attacker.clone()).await;
    }
    let locked = login_from(&h, "ivy@example.com", PASSWORD, attacker).await;
    assert_eq!(code(locked), Err("too_many_attempts"));
    assert!(login_from(&h, "ivy@example.com", PASSWORD, device("home", [10, 0, 0, 1])).await.is_ok());
}

/// Forged, unknown, idle, old and revoked tokens are all unauthenticated.
pub async fn forged_unknown_expired_and_revoked_tokens_are_unauthenticated(h: Harness) {
    register(&h, "jay@example.com").await;
    for forged in ["", "Bearer x", "zz", &"g".repeat(64), &"a".repeat(65)] {
        assert_eq!(code(h.ledger.authenticate(forged).await), Err("unauthenticated"), "{forged:?}");
    }
    let unknown = SecretToken::generate();
    assert_eq!(code(h.ledger.authenticate(unknown.expose()).await), Err("unauthenticated"));
    let idle = login(&h, "jay@example.com").await;
    h.clock.advance(Duration::minutes(31));
    assert_eq!(code(h.ledger.authenticate(idle.token.expose()).await), Err("unauthenticated"));
    assert_last_audit_rejected(&h, "unauthenticated").await;
    let old = login(&h, "jay@example.com").await;
    for _ in 0..26 {
        h.clock.advance(Duration::minutes(29));
        let _ = h.ledger.authenticate(old.token.expose()).await;
    }
    assert_eq!(code(h.ledger.authenticate(old.token.expose()).await), Err("unauthenticated"), "absolute expiry");
    let revoked = login(&h, "jay@example.com").await;
    let auth = h.ledger.authenticate(revoked.token.expose()).await.expect("fresh session");
    h.ledger.logout(&auth).await.expect("logout");
    assert_eq!(code(h.ledger.authenticate(revoked.token.expose()).await), Err("unauthenticated"));
}

/// Use within the idle limit keeps a session alive.
pub async fn using_a_session_keeps_it_alive(h: Harness) {
    register(&h, "kim@example.com").await;
    let login = login(&h, "kim@example.com").await;
    for _ in 0..4 {
        h.clock.advance(Duration::minutes(20));
        h.ledger.authenticate(login.token.expose()).await.expect("still alive");
    }
}

/// Sessions are listed with devices; one or all others can be revoked;
/// another user's session is not found.
pub async fn sessions_are_listed_and_revoked_one_or_all_others(h: Harness) {
    register(&h, "lee@example.com").await;
    register(&h, "mo@example.com").await;
    let phone = login_from(&h, "lee@example.com", PASSWORD, device("phone", [127, 0, 0, 2])).await.expect("login");
    let laptop = login_from(&h, "lee@example.com", PASSWORD, device("laptop", [127, 0, 0, 3])).await.expect("login");
    let tablet = login_from(&h, "lee@example.com", PASSWORD, device("tablet", [127, 0, 0, 4])).await.expect("login");
    let other = login(&h, "mo@example.com").await;
    let auth = h.ledger.authenticate(laptop.token.expose()).await.expect("auth");
    let labels: Vec<String> =
        h.ledger.sessions(&auth).await.expect("list").iter().filter_map(|s| s.device.label.clone()).collect();
    assert_eq!(labels, vec!["tablet", "laptop", "phone"]);
    h.ledger.revoke_session(&auth, phone.session.id).await.expect("revoke phone");
    assert_eq!(code(h.ledger.authenticate(phone.token.expose()).await), Err("unauthenticated"));
    let foreign = h.ledger.revoke_session(&auth, other.session.id).await;
    assert_eq!(code(foreign), Err("session_not_found"));
    assert!(h.ledger.authenticate(other.token.expose()).await.is_ok(), "the other user's session lives");
    assert_eq!(h.ledger.revoke_other_sessions(&auth).await, Ok(1));
    assert_eq!(code(h.ledger.authenticate(tablet.token.expose()).await), Err("unauthenticated"));
    assert!(h.ledger.authenticate(laptop.token.expose()).await.is_ok(), "the current session lives");
    assert_eq!(h.ledger.sessions(&auth).await.map(|s| s.len()), Ok(1));
}

/// Changing the password needs the current one and ends other sessions.
pub async fn change_password_needs_the_current_one_and_revokes_other_sessions(h: Harness) {
    register(&h, "ned@example.com").await;
    let current = login(&h, "ned@example.com").await;
    let other = login(&h, "ned@example.com").await;
    let auth = h.ledger.authenticate(current.token.expose()).await.expect("auth");
    let new = "a much better passphrase";
    // Not "invalid email or password": the user is signed in and gave no email.
    assert_eq!(code(h.ledger.change_password(&auth, "wrong current pw", new).await), Err("wrong_password"));
    assert_last_audit_rejected(&h, "wrong_password").await;
    assert_eq!(code(h.ledger.change_password(&auth, PASSWORD, "short").await), Err("weak_password"));
    assert!(h.ledger.authenticate(other.token.expose()).await.is_ok(), "failures change nothing");
    h.ledger.change_password(&auth, PASSWORD, new).await.expect("change");
    assert!(h.ledger.authenticate(current.token.expose()).await.is_ok());
    assert_eq!(code(h.ledger.authenticate(other.token.expose()).await), Err("unauthenticated"));
    assert_eq!(code(login_from(&h, "ned@example.com", PASSWORD, Device::default()).await), Err("invalid_credentials"));
    assert!(login_from(&h, "ned@example.com", new, Device::default()).await.is_ok());
}

/// A reset request says the same for known and unknown emails; only a known
/// one gets a token.
pub async fn password_reset_request_never_reveals_whether_the_email_exists(h: Harness) {
    register(&h, "ola@example.com").await;
    assert_eq!(h.ledger.request_password_reset("nobody@example.com").await, Ok(()));
    assert_eq!(h.ledger.request_password_reset("not an email").await, Ok(()));
    assert_eq!(h.notifier.count(), 0);
    assert_eq!(h.ledger.request_password_reset("OLA@example.com").await, Ok(()));
    assert_eq!(h.notifier.count(), 1);
    assert!(h.notifier.last_token_for("ola@example.com").is_some());
}

/// A reset token works once, within 30 minutes, and ends every session.
pub async fn reset_token_is_single_use_short_lived_and_revokes_every_session(h: Harness) {
    register(&h, "pia@example.com").await;
    let session = login(&h, "pia@example.com").await;
    h.ledger.request_password_reset("pia@example.com").await.expect("request");
    let token = h.notifier.last_token_for("pia@example.com").expect("token sent");
    let stored = h.store.reset_token(&token.digest()).await.expect("read").expect("stored by digest");
    assert_eq!(stored.expires_at - stored.created_at, Duration::minutes(30));
    assert_eq!(code(h.ledger.reset_password(token.expose(), "short").await), Err("weak_password"));
    let new = "reset to something long";
    h.ledger.reset_password(token.expose(), new).await.expect("reset");
    assert_eq!(code(h.ledger.authenticate(session.token.expose()).await), Err("unauthenticated"));
    assert_eq!(
        code(h.ledger.reset_password(token.expose(), "and again another one").await),
        Err("invalid_reset_token")
    );
    assert_last_audit_rejected(&h, "invalid_reset_token").await;
    assert!(login_from(&h, "pia@example.com", new, Device::default()).await.is_ok());
    h.ledger.request_password_reset("pia@example.com").await.expect("request");
    let late = h.notifier.last_token_for("pia@example.com").expect("token sent");
    h.clock.advance(Duration::minutes(30));
    assert_eq!(code(h.ledger.reset_password(late.expose(), "too late for this one").await), Err("invalid_reset_token"));
    let forged = SecretToken::generate();
    assert_eq!(
        code(h.ledger.reset_password(forged.expose(), "forged token here ok").await),
        Err("invalid_reset_token")
    );
    assert_eq!(code(h.ledger.reset_password("garbage", "forged token here ok").await), Err("invalid_reset_token"));
}

// ---------------------------------------------------------------- profile & KYC

/// Profile fields are validated; a bad patch changes nothing; changes are audited.
pub async fn profile_updates_are_validated_and_audited(h: Harness) {
    let user = register(&h, "quin@example.com").await;
    let me = Actor::customer(user.id);
    let patch = ProfilePatch {
        full_name: Some("Quinn Q".into()),
        phone: Some(Some("+1 415 555 0100".into())),
        address: Some(Some("1 Market St\nSan Francisco".into())),
        date_of_birth: Some(chrono::NaiveDate::from_ymd_opt(1990, 5, 17)),
    };
    let updated = h.ledger.update_profile(&me, user.id, patch).await.expect("update");
    assert_eq!(updated.profile.phone.as_deref(), Some("+14155550100"));
    let bad = ProfilePatch { full_name: Some("Fine".into()), phone: Some(Some("12".into())), ..Default::default() };
    assert_eq!(code(h.ledger.update_profile(&me, user.id, bad).await), Err("invalid_profile"));
    assert_last_audit_rejected(&h, "invalid_profile").await;
    assert_eq!(h.ledger.user(&me, user.id).await.map(|u| u.profile), Ok(updated.profile));
}

/// KYC moves unverified -> pending -> verified/rejected; only admins decide.
pub async fn kyc_follows_its_transitions_and_only_admins_decide(h: Harness) {
    let user = register(&h, "rex@example.com").await;
    let me = Actor::customer(user.id);
    let admin = admin(&h).await;
    let ledger = h.ledger.clone();
    let approve = |a: Actor| {
        let ledger = ledger.clone();
        async move { ledger.review_kyc(&a, user.id, KycTransition::Approve).await }
    };
    assert_eq!(code(approve(admin).await), Err("invalid_kyc_transition"), "nothing submitted yet");
    assert_eq!(code(h.ledger.submit_kyc(&me, user.id).await), Err("profile_incomplete"), "nothing to review");
    assert_last_audit_rejected(&h, "profile_incomplete").await;
    let unchanged = h.ledger.user(&me, user.id).await.map(|u| u.kyc_status);
    assert_eq!(unchanged, Ok(KycStatus::Unverified));
    let half = ProfilePatch { address: Some(Some("1 Main Street".into())), ..Default::default() };
    h.ledger.update_profile(&me, user.id, half).await.expect("an address");
    let refused = h.ledger.submit_kyc(&me, user.id).await;
    assert_eq!(refused, Err(LedgerError::ProfileIncomplete { missing: vec!["date of birth"] }));
    complete_profile(&h, &me, user.id).await;
    assert_eq!(h.ledger.submit_kyc(&me, user.id).await.map(|u| u.kyc_status), Ok(KycStatus::Pending));
    assert_eq!(code(h.ledger.submit_kyc(&me, user.id).await), Err("invalid_kyc_transition"));
    assert_eq!(code(approve(me).await), Err("forbidden"), "customers cannot approve themselves");
    assert_last_audit_rejected(&h, "forbidden").await;
    let no_reason = KycTransition::Reject { reason: " ".into() };
    assert_eq!(code(h.ledger.review_kyc(&admin, user.id, no_reason).await), Err("invalid_kyc_reason"));
    let reject = KycTransition::Reject { reason: "document unreadable".into() };
    let rejected = h.ledger.review_kyc(&admin, user.id, reject).await.expect("reject");
    assert_eq!(
        (rejected.kyc_status, rejected.kyc_reason.as_deref()),
        (KycStatus::Rejected, Some("document unreadable"))
    );
    h.ledger.submit_kyc(&me, user.id).await.expect("resubmit");
    assert_eq!(approve(admin).await.map(|u| u.kyc_status), Ok(KycStatus::Verified));
    let log = h.ledger.audit_log(&admin, 0, 1000).await.expect("audit");
    let actions: Vec<&str> = log
        .iter()
        .filter(|r| r.target == format!("user:{}", user.id) && r.outcome == AuditOutcome::Accepted)
        .map(|r| r.action.as_str())
        .collect();
    let expected =
        ["auth.register", "profile.update", "profile.update", "kyc.submit", "kyc.reject", "kyc.submit", "kyc.approve"];
    assert_eq!(actions, expected);
}

/// Unverified customers may deposit but not move money out.
pub async fn kyc_policy_blocks_unverified_customers_moving_money_out(h: Harness) {
    let (me, account) = customer(&h, "sam@example.com", "50", false).await;
    let (_, payee) = customer(&h, "tia@example.com", "0", false).await;
    let out: Vec<MoneyCommand> = vec![
        Withdraw { account: account.id, amount: amount("1"), description: None, metadata: Default::default() }.into(),
        Transfer {
            from: account.id,
            to: payee.number.into(),
            amount: amount("1"),
            description: None,
            metadata: Default::default(),
        }
        .into(),
        PlaceHold {
            account: account.id,
            amount: amount("1"),
            destination: None,
            expires_at: None,
            description: None,
            metadata: Default::default(),
        }
        .into(),
    ];
    for command in out.clone() {
        assert_eq!(code(h.ledger.execute(&me, key(), command).await), Err("kyc_required"));
        assert_last_audit_rejected(&h, "kyc_required").await;
    }
    assert_eq!(h.ledger.balance(&me, account.id).await.map(|b| b.posted), Ok(Decimal::from(50)));
    let user = me.user_id().expect("a user");
    complete_profile(&h, &me, user).await;
    h.ledger.submit_kyc(&me, user).await.expect("submit");
    let admin = admin(&h).await;
    h.ledger.review_kyc(&admin, user, KycTransition::Approve).await.expect("approve");
    for command in out {
        h.ledger.execute(&me, key(), command).await.expect("allowed once verified");
    }
}

// ---------------------------------------------------------------- authorization

/// Another user's account, hold or transaction is "not found" in every
/// command and query, and nothing changes.
pub async fn customers_cannot_touch_other_users_accounts(h: Harness) {
    let (me, mine) = customer(&h, "uma@example.com", "100", true).await;
    let (them, theirs) = customer(&h, "vic@example.com", "100", true).await;
    let hold = PlaceHold {
        account: theirs.id,
        amount: amount("5"),
        destination: None,
        expires_at: None,
        description: None,
        metadata: Default::default(),
    };
    let their_hold = h.ledger.place_hold(&them, key(), hold).await.expect("their hold").transaction;
    let their_deposit = h.ledger.history(&them, &HistoryFilter::account(theirs.id), PageRequest::default()).await;
    let their_tx = their_deposit.expect("history").items[0].id;
    let before = all_accounts(&h.ledger).await;
    let not_found = |r: Result<(), &'static str>, what: &str| {
        assert!(
            matches!(
                r,
                Err("account_not_found" | "account_number_not_found" | "transaction_not_found" | "user_not_found")
            ),
            "{what} must be not found, got {r:?}"
        );
    };
    let commands: Vec<(&str, MoneyCommand)> = vec![
        (
            "deposit",
            Deposit { account: theirs.id, amount: amount("1"), description: None, metadata: Default::default() }.into(),
        ),
        (
            "withdraw",
            Withdraw { account: theirs.id, amount: amount("1"), description: None, metadata: Default::default() }
                .into(),
        ),
        (
            "transfer from",
            Transfer {
                from: theirs.id,
                to: mine.id.into(),
                amount: amount("1"),
                description: None,
                metadata: Default::default(),
            }
            .into(),
        ),
        (
            "transfer to by id",
            Transfer {
                from: mine.id,
                to: theirs.id.into(),
                amount: amount("1"),
                description: None,
                metadata: Default::default(),
            }
            .into(),
        ),
        (
            "hold",
            PlaceHold {
                account: theirs.id,
                amount: amount("1"),
                destination: None,
                expires_at: None,
                description: None,
                metadata: Default::default(),
            }
            .into(),
        ),
        ("capture", CaptureHold { hold: their_hold.id, amount: None }.into()),
        ("void", VoidHold { hold: their_hold.id }.into()),
    ];
    for (what, command) in commands {
        not_found(code(h.ledger.execute(&me, key(), command).await), what);
    }
    not_found(code(h.ledger.account(&me, theirs.id).await), "account");
    not_found(code(h.ledger.account_by_number(&me, theirs.number).await), "account by number");
    not_found(code(h.ledger.balance(&me, theirs.id).await), "balance");
    not_found(code(h.ledger.transaction(&me, their_tx).await), "transaction");
    not_found(code(h.ledger.history(&me, &HistoryFilter::account(theirs.id), PageRequest::default()).await), "history");
    not_found(code(h.ledger.accounts_of(&me, theirs.owner).await), "accounts of");
    not_found(code(h.ledger.user(&me, theirs.owner).await), "user");
    not_found(code(h.ledger.freeze(&me, theirs.id).await), "freeze");
    not_found(code(h.ledger.close(&me, theirs.id).await), "close");
    let patch = ProfilePatch { full_name: Some("Hijacked".into()), ..Default::default() };
    not_found(code(h.ledger.update_profile(&me, theirs.owner, patch).await), "profile");
    not_found(code(h.ledger.submit_kyc(&me, theirs.owner).await), "kyc");
    assert_eq!(all_accounts(&h.ledger).await, before, "nothing changed");
    assert_last_audit_rejected(&h, "user_not_found").await;
    // Paying another user by account number is allowed.
    let pay = Transfer {
        from: mine.id,
        to: theirs.number.into(),
        amount: amount("10"),
        description: None,
        metadata: Default::default(),
    };
    h.ledger.transfer(&me, key(), pay).await.expect("pay by number");
    let own_history = h.ledger.history(&me, &HistoryFilter::default(), PageRequest::default()).await.expect("history");
    assert!(own_history.items.iter().all(|t| [t.from_account, t.to_account].contains(&Some(mine.id))));
}

/// Customers may freeze their accounts; only admins unfreeze.
pub async fn customers_may_freeze_but_only_admins_unfreeze(h: Harness) {
    let (me, account) = customer(&h, "wes@example.com", "0", false).await;
    assert_eq!(h.ledger.freeze(&me, account.id).await.map(|a| a.status), Ok(AccountStatus::Frozen));
    assert_eq!(code(h.ledger.unfreeze(&me, account.id).await), Err("forbidden"));
    assert_last_audit_rejected(&h, "forbidden").await;
    let admin = admin(&h).await;
    assert_eq!(h.ledger.unfreeze(&admin, account.id).await.map(|a| a.status), Ok(AccountStatus::Active));
}

/// Admin-only actions are forbidden to customers, and audited.
pub async fn admin_actions_are_forbidden_to_customers_and_audited(h: Harness) {
    let (me, _) = customer(&h, "xan@example.com", "0", false).await;
    let user = me.user_id().expect("user");
    assert_eq!(code(h.ledger.users(&me, None, 10).await), Err("forbidden"));
    assert_last_audit_rejected(&h, "forbidden").await;
    assert_eq!(code(h.ledger.verify_audit_chain(&me, None).await), Err("forbidden"));
    assert_eq!(code(h.ledger.expire_holds(&me).await), Err("forbidden"));
    let overdraft = OpenAccount {
        overdraft_limit: Decimal::from(100),
        ..OpenAccount::new(user, AccountKind::Checking, Currency::Usd)
    };
    assert_eq!(code(h.ledger.open_account(&me, overdraft).await), Err("forbidden"));
    let for_someone_else = OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
    assert_eq!(code(h.ledger.open_account(&me, for_someone_else).await), Err("forbidden"));
    let admin = admin(&h).await;
    assert_eq!(h.ledger.users(&admin, None, 10).await.map(|u| u.len()), Ok(2));
}

/// Two users' equal idempotency keys are independent.
pub async fn idempotency_keys_are_scoped_per_user(h: Harness) {
    let (a, a_account) = customer(&h, "yul@example.com", "0", false).await;
    let (b, b_account) = customer(&h, "zed@example.com", "0", false).await;
    let k = IdempotencyKey::new("same-key").expect("key");
    let da = Deposit { account: a_account.id, amount: amount("3"), description: None, metadata: Default::default() };
    let db = Deposit { account: b_account.id, amount: amount("4"), description: None, metadata: Default::default() };
    assert!(!h.ledger.deposit(&a, k.clone(), da).await.expect("a").replayed);
    assert!(!h.ledger.deposit(&b, k, db).await.expect("b").replayed, "b's key is not a's");
    assert_eq!(h.ledger.balance(&b, b_account.id).await.map(|x| x.posted), Ok(Decimal::from(4)));
}

/// A customer's audit log holds only their own records; an admin's holds all.
pub async fn own_audit_log_shows_only_own_records(h: Harness) {
    let (a, _) = customer(&h, "amy@example.com", "1", false).await;
    let (b, _) = customer(&h, "ben@example.com", "1", false).await;
    login(&h, "amy@example.com").await;
    let mine = h.ledger.audit_log(&a, 0, 1000).await.expect("own log");
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|r| r.actor == a.audit_name()));
    assert!(mine.iter().any(|r| r.action == "auth.login"));
    let theirs = h.ledger.audit_log(&b, 0, 1000).await.expect("own log");
    assert!(theirs.iter().all(|r| r.actor == b.audit_name()));
    let admin = admin(&h).await;
    let all = h.ledger.audit_log(&admin, 0, 1000).await.expect("all");
    assert!(all.len() > mine.len() + theirs.len());
}
