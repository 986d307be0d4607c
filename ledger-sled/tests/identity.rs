//! sled-specific tests of the identity trees and indexes, past what the
//! conformance suite reaches: session listing order and limits, the live
//! session lists `apply` reads, touches, the audit actor index, user paging,
//! reopening, and the format marker.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use chrono::Duration;
use ledger_core::conformance::Harness;
use ledger_core::identity::{Device, Email, SessionId};
use ledger_core::{
    AccountKind, Actor, Amount, Currency, Deposit, IdempotencyKey, Login, LoginRequest, OpenAccount, Registration,
    Store, UserId,
};
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

async fn harness(store: &SledStore) -> Harness {
    Harness::new(Arc::new(store.clone())).await
}

fn labels(sessions: &[ledger_core::identity::Session]) -> Vec<String> {
    sessions.iter().map(|s| s.device.label.clone().unwrap_or_default()).collect()
}

#[tokio::test]
async fn sessions_of_lists_newest_first_within_the_limit_revoked_included() {
    let store = SledStore::temporary().unwrap();
    let h = harness(&store).await;
    let lee = h.ledger.register(registration("lee@example.com")).await.unwrap();
    let mo = h.ledger.register(registration("mo@example.com")).await.unwrap();
    let mut logins = Vec::new();
    for i in 0..5 {
        logins.push(login(&h, "lee@example.com", &format!("s{i}")).await);
        if i == 2 {
            login(&h, "mo@example.com", "mo").await;
        }
        h.clock.advance(Duration::seconds(1));
    }

    let all = store.sessions_of(lee.id, 100).await.unwrap();
    assert_eq!(labels(&all), ["s4", "s3", "s2", "s1", "s0"]);
    assert_eq!(labels(&store.sessions_of(lee.id, 3).await.unwrap()), ["s4", "s3", "s2"]);
    assert!(store.sessions_of(lee.id, 0).await.unwrap().is_empty());
    assert_eq!(labels(&store.sessions_of(mo.id, 100).await.unwrap()), ["mo"]);
    assert!(store.sessions_of(UserId::new(), 100).await.unwrap().is_empty());

    // Revoked sessions stay listed, in place.
    let auth = h.ledger.authenticate(logins[2].token.expose()).await.unwrap();
    h.ledger.revoke_session(&auth, logins[0].session.id).await.unwrap();
    let all = store.sessions_of(lee.id, 100).await.unwrap();
    assert_eq!(labels(&all), ["s4", "s3", "s2", "s1", "s0"]);
    assert!(all[4].revoked_at.is_some());
    assert!(all[..4].iter().all(|s| s.revoked_at.is_none()));

    // The live list apply reads knows s0 is gone: only s1, s3 and s4 are revoked now.
    assert_eq!(h.ledger.revoke_other_sessions(&auth).await, Ok(3));
    assert_eq!(h.ledger.revoke_other_sessions(&auth).await, Ok(0));
    let all = store.sessions_of(lee.id, 100).await.unwrap();
    let live: Vec<_> = all.iter().filter(|s| s.revoked_at.is_none()).map(|s| s.id).collect();
    assert_eq!(live, vec![logins[2].session.id]);
    // The other user's session was not touched.
    assert!(store.sessions_of(mo.id, 100).await.unwrap()[0].revoked_at.is_none());
    // Logging out empties the live list; a new login starts it again.
    h.ledger.logout(&auth).await.unwrap();
    let fresh = login(&h, "lee@example.com", "s5").await;
    let auth = h.ledger.authenticate(fresh.token.expose()).await.unwrap();
    assert_eq!(h.ledger.revoke_other_sessions(&auth).await, Ok(0));
    assert_eq!(labels(&store.sessions_of(lee.id, 2).await.unwrap()), ["s5", "s4"]);
}

async fn seen(store: &SledStore, token: &ledger_core::Digest) -> ledger_core::identity::Session {
    store.session_by_token(token).await.unwrap().unwrap()
}

#[tokio::test]
async fn touch_session_moves_last_seen_forward_only_and_never_on_a_revoked_session() {
    let store = SledStore::temporary().unwrap();
    let h = harness(&store).await;
    h.ledger.register(registration("kim@example.com")).await.unwrap();
    let login = login(&h, "kim@example.com", "phone").await;
    let id = login.session.id;
    let opened = login.session.last_seen_at;
    let digest = login.token.digest();

    store.touch_session(id, opened + Duration::seconds(10)).await.unwrap();
    assert_eq!(seen(&store, &digest).await.last_seen_at, opened + Duration::seconds(10));
    store.touch_session(id, opened + Duration::seconds(5)).await.unwrap();
    assert_eq!(seen(&store, &digest).await.last_seen_at, opened + Duration::seconds(10), "never backwards");
    store.touch_session(SessionId::new(), opened).await.unwrap();

    // Concurrent touches settle on the latest instant.
    let mut tasks = Vec::new();
    for i in 1..=32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.touch_session(id, opened + Duration::seconds(100 + i)).await }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let touched = seen(&store, &digest).await;
    assert_eq!(touched.last_seen_at, opened + Duration::seconds(132));

    let auth = h.ledger.authenticate(login.token.expose()).await.unwrap();
    h.ledger.logout(&auth).await.unwrap();
    let revoked = seen(&store, &digest).await;
    assert!(revoked.revoked_at.is_some());
    store.touch_session(id, opened + Duration::hours(1)).await.unwrap();
    assert_eq!(seen(&store, &digest).await, revoked, "a revoked session is not touched");
    // Every index still finds the same session.
    assert_eq!(store.sessions_of(login.user.id, 10).await.unwrap(), vec![revoked]);
}

#[tokio::test]
async fn audit_records_by_actor_pages_through_one_actors_records_in_order() {
    let store = SledStore::temporary().unwrap();
    let h = harness(&store).await;
    let amy = h.ledger.register(registration("amy@example.com")).await.unwrap();
    let ben = h.ledger.register(registration("ben@example.com")).await.unwrap();
    let (amy_actor, ben_actor) = (Actor::customer(amy.id), Actor::customer(ben.id));
    for i in 0..4 {
        let open = |owner| OpenAccount::new(owner, AccountKind::Checking, Currency::Usd);
        let account = h.ledger.open_account(&amy_actor, open(amy.id)).await.unwrap();
        h.ledger.open_account(&ben_actor, open(ben.id)).await.unwrap();
        // Rejected commands are indexed under their actor too.
        assert!(h.ledger.open_account(&amy_actor, open(ben.id)).await.is_err());
        let deposit = Deposit { account: account.id, amount: Amount::parse("1").unwrap(), description: None };
        let key = IdempotencyKey::new(format!("d{i}")).unwrap();
        h.ledger.deposit(&Actor::System, key, deposit).await.unwrap();
    }

    let everything = store.audit_records(0, 10_000).await.unwrap();
    for actor in [amy_actor.audit_name(), ben_actor.audit_name(), Actor::System.audit_name()] {
        let expected: Vec<_> = everything.iter().filter(|r| r.actor == actor).cloned().collect();
        assert!(expected.len() >= 4, "{actor}");
        assert_eq!(store.audit_records_by_actor(&actor, 0, 10_000).await.unwrap(), expected);
        let mut paged = Vec::new();
        let mut after = 0;
        loop {
            let page = store.audit_records_by_actor(&actor, after, 3).await.unwrap();
            assert!(page.len() <= 3);
            let Some(last) = page.last() else { break };
            after = last.sequence;
            paged.extend(page);
        }
        assert_eq!(paged, expected, "{actor}");
        // From the middle: strictly after the cursor.
        let middle = expected[1].sequence;
        let rest = store.audit_records_by_actor(&actor, middle, 10_000).await.unwrap();
        assert_eq!(rest, expected[2..]);
        assert!(store.audit_records_by_actor(&actor, u64::MAX, 10).await.unwrap().is_empty());
        assert!(store.audit_records_by_actor(&actor, 0, 0).await.unwrap().is_empty());
    }
    // An actor whose name is a prefix of another's has no records of its own.
    let amy_name = amy_actor.audit_name();
    assert!(store.audit_records_by_actor(&amy_name[..amy_name.len() - 1], 0, 100).await.unwrap().is_empty());
    assert!(store.audit_records_by_actor("user:", 0, 100).await.unwrap().is_empty());
    assert!(store.audit_records_by_actor("", 0, 100).await.unwrap().is_empty());
}

#[tokio::test]
async fn users_are_listed_in_id_order_and_found_by_normalised_email() {
    let store = SledStore::temporary().unwrap();
    let h = harness(&store).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(h.ledger.register(registration(&format!("User{i}@Example.com"))).await.unwrap().id);
    }
    ids.sort();
    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = store.users(after, 2).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        listed.extend(page.into_iter().map(|u| u.id));
    }
    assert_eq!(listed, ids);
    assert!(store.users(None, 0).await.unwrap().is_empty());

    let email = Email::parse("  USER3@example.COM ").unwrap();
    let user = store.user_by_email(&email).await.unwrap().unwrap();
    assert_eq!(user.email.as_str(), "user3@example.com");
    assert_eq!(store.user(user.id).await.unwrap(), Some(user));
    assert!(store.user_by_email(&Email::parse("nobody@example.com").unwrap()).await.unwrap().is_none());
    assert!(store.user(UserId::new()).await.unwrap().is_none());
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
