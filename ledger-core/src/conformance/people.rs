//! The people of the conformance cases: registering, signing in, an admin,
//! a customer with an account, and the audit checks the identity cases
//! share.

use std::net::{IpAddr, Ipv4Addr};

use super::Harness;
use crate::account::{Account, AccountKind};
use crate::audit::AuditOutcome;
use crate::command::{Deposit, OpenAccount};
use crate::error::LedgerError;
use crate::id::UserId;
use crate::idempotency::IdempotencyKey;
use crate::identity::{Actor, Device, KycTransition, ProfilePatch, UserView};
use crate::ledger::{Login, LoginRequest, Registration};
use crate::money::{Amount, Currency};

const SYS: Actor = Actor::System;

pub(super) const PASSWORD: &str = "correct horse battery staple";

pub(super) fn key() -> IdempotencyKey {
    IdempotencyKey::new(format!("k-{}", uuid::Uuid::now_v7())).expect("a uuid is a valid key")
}

pub(super) fn amount(text: &str) -> Amount {
    Amount::parse(text).expect("valid test amount")
}

pub(super) fn registration(email: &str) -> Registration {
    Registration { email: email.into(), password: PASSWORD.into(), full_name: "Test User".into() }
}

pub(super) async fn register(h: &Harness, email: &str) -> UserView {
    h.ledger.register(registration(email)).await.expect("registration")
}

/// Fills in what a KYC reviewer checks (a date of birth and an address), as
/// a customer must before submitting.
pub(super) async fn complete_profile(h: &Harness, actor: &Actor, user: UserId) {
    let patch = ProfilePatch {
        address: Some(Some("1 Main Street, Springfield".into())),
        date_of_birth: Some(chrono::NaiveDate::from_ymd_opt(1990, 5, 17)),
        ..Default::default()
    };
    h.ledger.update_profile(actor, user, patch).await.expect("complete the profile");
}

pub(super) fn device(label: &str, ip: [u8; 4]) -> Device {
    Device::new(Some("Mozilla/5.0 (X11; Linux x86_64)"), Some(IpAddr::V4(Ipv4Addr::from(ip))), Some(label))
        .expect("valid device")
}

pub(super) async fn login(h: &Harness, email: &str) -> Login {
    login_from(h, email, PASSWORD, device("laptop", [127, 0, 0, 1])).await.expect("login")
}

pub(super) async fn login_from(h: &Harness, email: &str, password: &str, device: Device) -> Result<Login, LedgerError> {
    h.ledger.login(LoginRequest { email: email.into(), password: password.into(), device }).await
}

pub(super) async fn admin(h: &Harness) -> Actor {
    let user = h.ledger.bootstrap_admin(registration("root@bank.example")).await.expect("bootstrap admin");
    user.actor()
}

/// A registered customer with a USD account holding `funds`, optionally KYC-verified.
pub(super) async fn customer(h: &Harness, email: &str, funds: &str, verified: bool) -> (Actor, Account) {
    let user = register(h, email).await;
    let actor = Actor::customer(user.id);
    if verified {
        complete_profile(h, &actor, user.id).await;
        h.ledger.submit_kyc(&actor, user.id).await.expect("submit");
        let admin = admin(h).await;
        h.ledger.review_kyc(&admin, user.id, KycTransition::Approve).await.expect("approve");
    }
    let account = h
        .ledger
        .open_account(&actor, OpenAccount::new(user.id, AccountKind::Checking, Currency::Usd))
        .await
        .expect("open");
    if funds != "0" {
        let deposit =
            Deposit { account: account.id, amount: amount(funds), description: None, metadata: Default::default() };
        h.ledger.deposit(&actor, key(), deposit).await.expect("deposit");
    }
    (actor, account)
}

pub(super) async fn audit_sequence(h: &Harness) -> u64 {
    h.ledger.verify_audit_chain(&SYS, None).await.expect("chain").sequence
}

/// The last audit record, which must be a rejection with `code`.
pub(super) async fn assert_last_audit_rejected(h: &Harness, code: &str) {
    let head = audit_sequence(h).await;
    let last = h.ledger.audit_log(&SYS, head - 1, 1).await.expect("audit");
    assert!(
        matches!(&last[0].outcome, AuditOutcome::Rejected { code: c, .. } if c == code),
        "expected a rejected audit record with {code}, got {:?}",
        last[0]
    );
}

pub(super) fn code<T>(result: Result<T, LedgerError>) -> Result<(), &'static str> {
    result.map(|_| ()).map_err(|e| e.root().code())
}
