//! sled-specific tests of the identity trees, past what the conformance
//! suite reaches (listings, touches and the audit actor index are its
//! `store_contract` cases): reopening, and the format marker.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use ledger_core::conformance::Harness;
use ledger_core::identity::{Device, Email};
use ledger_core::{
    AccountCode, AccountId, AccountKind, Actor, Amount, Currency, Deposit, HistoryFilter, IdempotencyKey, Login,
    LoginRequest, NormalBalance, OpenAccount, PageRequest, Registration, Store, Transfer, UserId,
};
use ledger_sled::SledStore;
use rust_decimal::Decimal;

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

/// Opens the database with sled alone, waiting (as `SledStore::open` does)
/// for the lock that a handle dropped a moment ago can still hold: sled 0.34
/// releases it only when its I/O threads finish (spacejam/sled#1234), so an
/// immediate reopen failed now and then with "could not acquire lock".
fn open_raw(path: &Path) -> sled::Db {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::open(path) {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            opened => return opened.unwrap(),
        }
    }
}

/// Writes a sled database that carries a ledger format marker of `version`.
fn sled_with_format(path: &Path, version: &[u8]) {
    let db = open_raw(path);
    db.open_tree("meta").unwrap().insert(b"format_version", version).unwrap();
    db.flush().unwrap();
}

#[test]
fn a_version_1_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    sled_with_format(dir.path(), b"1");
    let error = SledStore::open(dir.path()).unwrap_err();
    assert!(error.message.contains("unsupported storage format version \"1\""), "{error}");
    assert!(error.message.contains("reads version 5"), "{error}");
}

/// Rewrites a format 4 database as format 3 wrote it: postings without a
/// running balance or commit time, no time index, a head without a time.
fn downgrade_to_format_3(path: &Path) {
    downgrade_to_format_4(path);
    let db = open_raw(path);
    let postings = db.open_tree("account_postings").unwrap();
    for entry in postings.iter() {
        let (key, bytes) = entry.unwrap();
        let mut posting: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let fields = posting.as_object_mut().unwrap();
        fields.remove("balance_after");
        fields.remove("at");
        postings.insert(key, serde_json::to_vec(&posting).unwrap()).unwrap();
    }
    db.drop_tree("posting_times").unwrap();
    let meta = db.open_tree("meta").unwrap();
    let head = meta.get(b"audit_head").unwrap().unwrap();
    meta.insert(b"audit_head", &head[..40]).unwrap();
    meta.insert(b"format_version", b"3").unwrap();
    db.flush().unwrap();
}

/// Rewrites a format 5 database as format 4 wrote it: no change feed and
/// no sink cursors.
fn downgrade_to_format_4(path: &Path) {
    let db = open_raw(path);
    db.drop_tree("changes").unwrap();
    db.drop_tree("sink_cursors").unwrap();
    db.open_tree("meta").unwrap().insert(b"format_version", b"4").unwrap();
    db.flush().unwrap();
}

/// A version 4 database opens as version 5: its change feed starts empty
/// at the upgrade (earlier commits were never recorded as changes) and
/// records every commit from then on.
#[tokio::test]
async fn a_version_4_database_starts_its_change_feed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let sys = Actor::System;
    let account = {
        let store = SledStore::open(dir.path()).unwrap();
        let h = harness(&store).await;
        let open = OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
        let account = h.ledger.open_account(&sys, open).await.unwrap();
        h.ledger.advance_sink_cursor("nats", 4096).await.unwrap();
        store.flush().await.unwrap();
        account
    };
    downgrade_to_format_4(dir.path());

    let store = SledStore::open(dir.path()).unwrap();
    let h = harness(&store).await;
    assert_eq!(h.ledger.events_after(0, 10).await.unwrap(), vec![]);
    assert_eq!(h.ledger.sink_cursor("nats").await.unwrap(), 0);
    h.clock.advance(chrono::Duration::seconds(1));
    let deposit = Deposit {
        account: account.id,
        amount: Amount::parse("5").unwrap(),
        description: None,
        metadata: Default::default(),
    };
    let receipt = h.ledger.deposit(&sys, IdempotencyKey::new("d").unwrap(), deposit).await.unwrap();
    let feed = h.ledger.events_after(0, 10).await.unwrap();
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0].transaction.as_ref().map(|t| t.id), Some(receipt.transaction.id));
    ledger_core::conformance::invariants::check(&h.ledger).await;
    drop(h);
    drop(store);
    let reopened = SledStore::open(dir.path()).unwrap();
    assert_eq!(reopened.changes_after(0, 10).await.unwrap(), feed, "the feed survives a reopen");
}

/// Rewrites a format 3 database as format 2 wrote it: settlement accounts
/// without a code or normal side, no code or metadata trees, and no history
/// under the settlement accounts (format 2 indexed only a transaction's
/// first two accounts, and a deposit's first is none).
fn downgrade_to_format_2(path: &Path) {
    downgrade_to_format_3(path);
    let db = open_raw(path);
    let accounts = db.open_tree("accounts").unwrap();
    for entry in accounts.iter() {
        let (key, bytes) = entry.unwrap();
        let mut account: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        if account["kind"] == "settlement" {
            let fields = account.as_object_mut().unwrap();
            for field in ["code", "normal_balance", "ledger_floor", "metadata"] {
                fields.remove(field);
            }
            accounts.insert(key, serde_json::to_vec(&account).unwrap()).unwrap();
        }
    }
    db.drop_tree("account_codes").unwrap();
    db.drop_tree("metadata_index").unwrap();
    let history = db.open_tree("account_history").unwrap();
    for currency in [Currency::Usd, Currency::Eur, Currency::Gbp] {
        for key in history.scan_prefix(AccountId::settlement(currency).as_uuid().as_bytes()).keys() {
            history.remove(key.unwrap()).unwrap();
        }
    }
    db.open_tree("meta").unwrap().insert(b"format_version", b"2").unwrap();
    db.flush().unwrap();
}

#[tokio::test]
async fn a_version_2_database_is_upgraded_to_ledger_accounts_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (deposit_id, customer) = {
        let store = SledStore::open(dir.path()).unwrap();
        let h = harness(&store).await;
        let customer = h
            .ledger
            .open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd))
            .await
            .unwrap();
        let deposit = Deposit {
            account: customer.id,
            amount: Amount::parse("100").unwrap(),
            description: None,
            metadata: Default::default(),
        };
        let receipt =
            h.ledger.deposit(&Actor::System, IdempotencyKey::new("upgrade-deposit").unwrap(), deposit).await.unwrap();
        store.flush().await.unwrap();
        (receipt.transaction.id, customer.id)
    };
    downgrade_to_format_2(dir.path());

    let store = SledStore::open(dir.path()).unwrap();
    let settlement = AccountId::settlement(Currency::Usd);
    let code = AccountCode::settlement(Currency::Usd);
    assert_eq!(store.account_by_code(&code).await.unwrap().map(|a| a.id), Some(settlement));
    let h = harness(&store).await;
    let account = h.ledger.account(&Actor::System, settlement).await.unwrap();
    assert_eq!((account.code.as_ref(), account.normal_balance), (Some(&code), NormalBalance::Debit));
    assert_eq!(h.ledger.balance(&Actor::System, settlement).await.unwrap().posted, Decimal::from(100));
    let history =
        h.ledger.history(&Actor::System, &HistoryFilter::account(settlement), PageRequest::first(10)).await.unwrap();
    assert_eq!(history.items.iter().map(|t| t.id).collect::<Vec<_>>(), [deposit_id]);
    assert_eq!(h.ledger.balance(&Actor::System, customer).await.unwrap().posted, Decimal::from(100));
    drop(h);
    drop(store);
    // The marker moved on: a second open does not upgrade again, and reads the same.
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.account_by_code(&code).await.unwrap().map(|a| a.id), Some(settlement));
}

#[tokio::test]
async fn a_version_3_database_gets_running_balances_and_commit_times_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let sys = Actor::System;
    let (customer, other, times, balances) = {
        let store = SledStore::open(dir.path()).unwrap();
        let h = harness(&store).await;
        let open = |currency| OpenAccount::new(UserId::new(), AccountKind::Checking, currency);
        let customer = h.ledger.open_account(&sys, open(Currency::Usd)).await.unwrap();
        let other = h.ledger.open_account(&sys, open(Currency::Usd)).await.unwrap();
        let money = |t: &str| Amount::parse(t).unwrap();
        let mut times = Vec::new();
        for (i, amount) in ["100", "25.5", "7"].into_iter().enumerate() {
            h.clock.advance(chrono::Duration::seconds(10));
            let deposit = Deposit {
                account: customer.id,
                amount: money(amount),
                description: None,
                metadata: Default::default(),
            };
            h.ledger.deposit(&sys, IdempotencyKey::new(format!("d{i}")).unwrap(), deposit).await.unwrap();
            times.push(h.ledger.now());
        }
        h.clock.advance(chrono::Duration::seconds(10));
        let transfer = Transfer {
            from: customer.id,
            to: other.id.into(),
            amount: money("30"),
            description: None,
            metadata: Default::default(),
        };
        h.ledger.transfer(&sys, IdempotencyKey::new("t").unwrap(), transfer).await.unwrap();
        times.push(h.ledger.now());
        h.clock.advance(chrono::Duration::seconds(10));
        let mut balances = Vec::new();
        for at in &times {
            balances.push(h.ledger.balance_as_of(&sys, customer.id, *at).await.unwrap().posted);
        }
        store.flush().await.unwrap();
        (customer.id, other.id, times, balances)
    };
    assert_eq!(balances.iter().map(ToString::to_string).collect::<Vec<_>>(), ["100.00", "125.50", "132.50", "102.50"]);
    downgrade_to_format_3(dir.path());

    let store = SledStore::open(dir.path()).unwrap();
    let h = harness(&store).await;
    h.clock.advance(chrono::Duration::seconds(100));
    for (at, expected) in times.iter().zip(&balances) {
        assert_eq!(&h.ledger.balance_as_of(&sys, customer, *at).await.unwrap().posted, expected);
    }
    assert_eq!(h.ledger.balance_as_of(&sys, other, times[3]).await.unwrap().posted.to_string(), "30.00");
    ledger_core::conformance::invariants::check(&h.ledger).await;
    // And it goes on: the next commit is not earlier than the last one.
    let deposit = Deposit {
        account: other,
        amount: Amount::parse("1").unwrap(),
        description: None,
        metadata: Default::default(),
    };
    let next = h.ledger.deposit(&sys, IdempotencyKey::new("after").unwrap(), deposit).await.unwrap();
    assert!(next.transaction.created_at >= times[3]);
    ledger_core::conformance::invariants::check(&h.ledger).await;
}
