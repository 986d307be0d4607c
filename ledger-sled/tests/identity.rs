//! sled-specific tests of the identity trees, past what the conformance
//! suite reaches (listings, touches and the audit actor index are its
//! `store_contract` cases): reopening, and the format marker.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use ledger_core::conformance::Harness;
use ledger_core::identity::{Device, Email};
use ledger_core::{Actor, Login, LoginRequest, Registration, Store};
use ledger_sled::SledStore;

const PASSWORD: &str = "correct horse battery staple";

fn registration(email: &str) -> Registration {
    Registration { email: email.into(), password: PASSWORD.into(), full_name: "Test User".into() }
}

fn device(label: &str) -> Device {
    Device::new(Some("test agent"), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), Some(label)).unwrap()
}

async fn login(h: &Harness, email: &str, label: &str) -> Login {
    let request = LoginRequest { email: email.into(), password: PASSWORD.into(), device: device(label) };
    h.ledger.login(request).await.unwrap()
}

fn labels(sessions: &[ledger_core::identity::Session]) -> Vec<String> {
    sessions.iter().map(|s| s.device.label.clone().unwrap_or_default()).collect()
}

async fn harness(store: &SledStore) -> Harness {
    Harness::new(Arc::new(store.clone())).await
}

#[tokio::test]
async fn identity_survives_drop_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (user, kept, other, reset, audit) = {
        let store = SledStore::open(dir.path()).unwrap();
        let h = harness(&store).await;
        let user = h.ledger.register(registration("pia@example.com")).await.unwrap();
        let kept = login(&h, "pia@example.com", "laptop").await;
        let other = login(&h, "pia@example.com", "phone").await;
        h.ledger.request_password_reset("pia@example.com").await.unwrap();
        let reset = h.notifier.last_token_for("pia@example.com").unwrap();
        let audit = store.audit_records_by_actor(&Actor::customer(user.id).audit_name(), 0, 100).await.unwrap();
        assert!(!audit.is_empty());
        (user, kept, other, reset, audit)
    };

    let store = SledStore::open(dir.path()).unwrap();
    let email = Email::parse("pia@example.com").unwrap();
    assert_eq!(store.user_by_email(&email).await.unwrap().map(|u| u.id), Some(user.id));
    assert_eq!(store.users(None, 10).await.unwrap().len(), 1);
    assert_eq!(store.session_by_token(&kept.token.digest()).await.unwrap(), Some(kept.session.clone()));
    assert_eq!(labels(&store.sessions_of(user.id, 10).await.unwrap()), ["phone", "laptop"]);
    let stored_reset = store.reset_token(&reset.digest()).await.unwrap().unwrap();
    assert_eq!((stored_reset.user_id, stored_reset.used_at), (user.id, None));
    let actor = Actor::customer(user.id).audit_name();
    assert_eq!(store.audit_records_by_actor(&actor, 0, 100).await.unwrap(), audit);

    // apply reads the reopened live list and reset token.
    let h = harness(&store).await;
    let auth = h.ledger.authenticate(kept.token.expose()).await.unwrap();
    assert_eq!(h.ledger.revoke_other_sessions(&auth).await, Ok(1));
    assert!(h.ledger.authenticate(other.token.expose()).await.is_err());
    h.ledger.reset_password(reset.expose(), "a brand new passphrase").await.unwrap();
    assert!(h.ledger.authenticate(kept.token.expose()).await.is_err(), "a reset ends every session");
    assert!(store.reset_token(&reset.digest()).await.unwrap().unwrap().used_at.is_some());
    assert!(store.sessions_of(user.id, 10).await.unwrap().iter().all(|s| s.revoked_at.is_some()));
    h.ledger.verify_audit_chain(&Actor::System, None).await.unwrap();
    assert!(store.audit_records_by_actor(&actor, 0, 100).await.unwrap().len() > audit.len());
}

/// Writes a sled database that carries a ledger format marker of `version`.
fn sled_with_format(path: &Path, version: &[u8]) {
    let db = sled::open(path).unwrap();
    db.open_tree("meta").unwrap().insert(b"format_version", version).unwrap();
    db.flush().unwrap();
}

#[test]
fn a_version_1_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    sled_with_format(dir.path(), b"1");
    let error = SledStore::open(dir.path()).unwrap_err();
    assert!(error.message.contains("unsupported storage format version \"1\""), "{error}");
    assert!(error.message.contains("reads version 2"), "{error}");

    let dir = tempfile::tempdir().unwrap();
    sled_with_format(dir.path(), b"2");
    SledStore::open(dir.path()).unwrap();
}
