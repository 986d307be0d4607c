//! The identity tables past what the conformance suite reaches (listings,
//! touches and the audit actor index are its `store_contract` cases): exact
//! round trips of users, sessions and reset tokens; the actor index in the
//! plan; touches rounded to the stored microsecond; the schema's
//! constraints; and registrations racing across two store instances.
//! Migrations are `migrations.rs`.
//!
//! Every case runs on SQLite and (with `LEDGER_TEST_POSTGRES_URL`) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use ledger_core::conformance::Harness;
use ledger_core::identity::{
    Device, Email, HashParams, KycStatus, KycTransition, Profile, ProfilePatch, ResetToken, Session,
};
use ledger_core::{Actor, Clock, Ledger, LedgerConfig, LedgerError, Store, UserId};

use common::db::Db;
use common::people::{PASSWORD, device, login_with, registration};

on_both!(
    identity_rows_round_trip_exactly,
    audit_records_by_actor_use_the_actor_index,
    touch_session_rounds_down_to_the_stored_microsecond,
    schema_constraints_refuse_what_no_build_could_read,
    concurrent_registrations_of_one_email_across_two_instances_admit_one,
);

// Round trips.

async fn identity_rows_round_trip_exactly(db: Db) {
    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    // Instants with a fraction of a second, to the microsecond.
    h.clock.advance(Duration::microseconds(123_457));

    let zoe = h.ledger.register(registration("  Zoe.Test+Tag@Example.COM ", "  Zoë Ünïcödé-O'Brien ")).await.unwrap();
    let stored = store.user(zoe.id).await.unwrap().unwrap();
    assert_eq!(stored.view(), zoe);
    assert_eq!(stored.email.as_str(), "zoe.test+tag@example.com");
    let name_only =
        Profile { full_name: "Zoë Ünïcödé-O'Brien".into(), phone: None, address: None, date_of_birth: None };
    assert_eq!(stored.profile, name_only);
    assert_eq!((stored.created_at, stored.updated_at), (h.clock.now(), h.clock.now()));
    assert!(stored.password.as_str().starts_with("$argon2id$v=19$"), "{}", stored.password.as_str());
    assert!(stored.password.verify(PASSWORD));
    let by_email = store.user_by_email(&Email::parse("ZOE.test+TAG@example.com").unwrap()).await.unwrap();
    assert_eq!(by_email, Some(stored.clone()));
    assert_eq!(store.user_by_email(&Email::parse("nobody@example.com").unwrap()).await.unwrap(), None);
    assert_eq!(store.user(UserId::new()).await.unwrap(), None);

    // Every profile field set, then cleared again.
    let customer = Actor::customer(zoe.id);
    h.clock.advance(Duration::seconds(1));
    let patch = ProfilePatch {
        phone: Some(Some("+44 20 7946 0958".into())),
        address: Some(Some("1 Rue de l'Église\nParis ✓".into())),
        date_of_birth: Some(NaiveDate::from_ymd_opt(1990, 2, 28)),
        ..ProfilePatch::default()
    };
    let updated = h.ledger.update_profile(&customer, zoe.id, patch).await.unwrap();
    let stored = store.user(zoe.id).await.unwrap().unwrap();
    assert_eq!(stored.view(), updated);
    let full = Profile {
        full_name: "Zoë Ünïcödé-O'Brien".into(),
        phone: Some("+442079460958".into()),
        address: Some("1 Rue de l'Église\nParis ✓".into()),
        date_of_birth: NaiveDate::from_ymd_opt(1990, 2, 28),
    };
    assert_eq!(stored.profile, full);
    assert_eq!((stored.created_at, stored.updated_at), (zoe.created_at, h.clock.now()));

    // KYC: submitted, rejected with a reason, resubmitted.
    let admin = h.ledger.bootstrap_admin(registration("admin@example.com", "Admin")).await.unwrap();
    let admin = Actor::admin(admin.id);
    h.ledger.submit_kyc(&customer, zoe.id).await.unwrap();
    let reason = "Document illegible — «résumé» ✓";
    let rejected = KycTransition::Reject { reason: reason.into() };
    let reviewed = h.ledger.review_kyc(&admin, zoe.id, rejected).await.unwrap();
    let stored = store.user(zoe.id).await.unwrap().unwrap();
    assert_eq!(stored.view(), reviewed);
    assert_eq!((stored.kyc_status, stored.kyc_reason.as_deref()), (KycStatus::Rejected, Some(reason)));
    h.ledger.submit_kyc(&customer, zoe.id).await.unwrap();
    assert_eq!(store.user(zoe.id).await.unwrap().unwrap().kyc_status, KycStatus::Pending);

    let clear =
        ProfilePatch { phone: Some(None), address: Some(None), date_of_birth: Some(None), ..ProfilePatch::default() };
    let cleared = h.ledger.update_profile(&customer, zoe.id, clear).await.unwrap();
    let stored = store.user(zoe.id).await.unwrap().unwrap();
    assert_eq!(stored.view(), cleared);
    assert_eq!(stored.profile, name_only);

    // Sessions from IPv4, IPv6, IPv4-mapped IPv6 and unknown devices.
    let devices = [
        Device::new(Some("Mozilla/5.0 (X11; Linux x86_64) ✓"), Some("203.0.113.7".parse().unwrap()), Some("laptop")),
        Device::new(Some("curl/8.5"), Some("2001:db8::42".parse().unwrap()), None),
        Device::new(None, Some("::ffff:192.0.2.1".parse().unwrap()), Some("phone ✓")),
        Ok(Device::default()),
    ];
    let mut logins = Vec::new();
    for device in devices {
        let device = device.unwrap();
        h.clock.advance(Duration::microseconds(1));
        let login = login_with(&h, "zoe.test+tag@example.com", device.clone()).await;
        let stored = store.session_by_token(&login.token.digest()).await.unwrap().unwrap();
        assert_eq!(stored, login.session);
        assert_eq!(stored.device, device);
        logins.push(login);
    }
    assert_eq!(store.session_by_token(&ledger_core::Digest::ZERO).await.unwrap(), None);

    // Revocation writes the instant and changes nothing else.
    h.clock.advance(Duration::seconds(5));
    let auth = h.ledger.authenticate(logins[0].token.expose()).await.unwrap();
    h.ledger.logout(&auth).await.unwrap();
    let revoked = store.session_by_token(&logins[0].token.digest()).await.unwrap().unwrap();
    assert_eq!(revoked, Session { revoked_at: Some(h.clock.now()), ..logins[0].session.clone() });

    // A reset token, issued and then used.
    h.ledger.request_password_reset("zoe.test+tag@example.com").await.unwrap();
    let token = h.notifier.last_token_for("zoe.test+tag@example.com").unwrap();
    let issued = store.reset_token(&token.digest()).await.unwrap().unwrap();
    assert_eq!(issued, ResetToken::issue(zoe.id, token.digest(), h.clock.now()));
    h.clock.advance(Duration::seconds(7));
    h.ledger.reset_password(token.expose(), "a brand new passphrase 42").await.unwrap();
    let used = store.reset_token(&token.digest()).await.unwrap().unwrap();
    assert_eq!(used, ResetToken { used_at: Some(h.clock.now()), ..issued });
    let user = store.user(zoe.id).await.unwrap().unwrap();
    assert!(user.password.verify("a brand new passphrase 42") && !user.password.verify(PASSWORD));
    assert_eq!(user.updated_at, h.clock.now());
    for login in &logins[1..] {
        let session = store.session_by_token(&login.token.digest()).await.unwrap().unwrap();
        assert_eq!(session, Session { revoked_at: Some(h.clock.now()), ..login.session.clone() });
    }
    assert_eq!(revoked, store.session_by_token(&logins[0].token.digest()).await.unwrap().unwrap(), "revoked once");

    // Listing users: id order, a cursor and a limit.
    let mut ids = vec![zoe.id, admin.user_id().unwrap()];
    ids.sort();
    let all = store.users(None, 10).await.unwrap();
    assert_eq!(all.iter().map(|u| u.id).collect::<Vec<_>>(), ids);
    assert_eq!(all.iter().find(|u| u.id == zoe.id), Some(&user));
    assert_eq!(store.users(None, 1).await.unwrap(), all[..1]);
    assert_eq!(store.users(Some(ids[0]), 10).await.unwrap(), all[1..]);
    assert!(store.users(Some(ids[1]), 10).await.unwrap().is_empty());
    assert!(store.users(None, 0).await.unwrap().is_empty());
}

// Listings.

// Touches.

// What only SQL has: plans and rounding (the listings and touches
// themselves are conformance cases: `conformance::store_contract`).

async fn audit_records_by_actor_use_the_actor_index(db: Db) {
    let _migrated = db.store().await;
    let plan =
        db.plan("SELECT * FROM audit_log WHERE actor = 'system' AND sequence > 5 ORDER BY sequence LIMIT 10").await;
    eprintln!("audit records by actor:\n{plan}");
    assert!(plan.contains("audit_log_actor_idx") && !plan.contains("Sort") && !plan.contains("TEMP B-TREE"), "{plan}");
}

async fn touch_session_rounds_down_to_the_stored_microsecond(db: Db) {
    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    h.ledger.register(registration("kim@example.com", "Kim")).await.unwrap();
    let login = login_with(&h, "kim@example.com", device("phone")).await;
    let later = login.session.last_seen_at + Duration::seconds(10);
    store.touch_session(login.session.id, later + Duration::nanoseconds(1_500)).await.unwrap();
    let seen = store.session_by_token(&login.token.digest()).await.unwrap().unwrap();
    assert_eq!(seen.last_seen_at, later + Duration::microseconds(1), "finer than a microsecond: rounded down");
}

// The schema.

async fn schema_constraints_refuse_what_no_build_could_read(db: Db) {
    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    let user = h.ledger.register(registration("ivy@example.com", "Ivy")).await.unwrap();
    login_with(&h, "ivy@example.com", device("desk")).await;
    h.ledger.request_password_reset("ivy@example.com").await.unwrap();

    let postgres = db.is_postgres();
    let new_id = if postgres { "gen_random_uuid()" } else { "randomblob(16)" };
    let digest_of = |n: usize| {
        if postgres { format!("decode(repeat('ab', {n}), 'hex')") } else { format!("zeroblob({n})") }
    };
    let user_like = |email: &str, role: &str, kyc: &str| {
        format!(
            "INSERT INTO users (id, email, password, full_name, role, kyc_status, created_at, updated_at) \
             SELECT {new_id}, '{email}', password, full_name, '{role}', '{kyc}', created_at, updated_at FROM users"
        )
    };
    let session_like = |user_id: &str, digest: &str| {
        format!(
            "INSERT INTO sessions (id, user_id, token_digest, created_at, last_seen_at, expires_at, idle_secs) \
             SELECT {new_id}, {user_id}, {digest}, created_at, last_seen_at, expires_at, idle_secs FROM sessions"
        )
    };
    let (duplicate_email, unknown_user) = if db.is_postgres() {
        ("users_email_key", "sessions_user_id_fkey")
    } else {
        ("UNIQUE constraint failed: users.email", "FOREIGN KEY constraint failed")
    };
    let cases = [
        (user_like("ivy@example.com", "customer", "unverified"), duplicate_email),
        (user_like("Ivy2@example.com", "customer", "unverified"), "users_email_check"),
        (user_like("ivy3@example.com", "root", "unverified"), "users_role_check"),
        (user_like("ivy4@example.com", "customer", "maybe"), "users_kyc_status_check"),
        (session_like("user_id", &digest_of(31)), "sessions_token_digest_check"),
        (session_like(new_id, &digest_of(32)), unknown_user),
        (
            format!(
                "INSERT INTO reset_tokens (token_digest, user_id, created_at, expires_at) SELECT {}, user_id, created_at, expires_at FROM reset_tokens",
                digest_of(33)
            ),
            "reset_tokens_token_digest_check",
        ),
    ];
    for (sql, expected) in cases {
        let error = db.raw(std::slice::from_ref(&sql)).await.expect_err(&sql);
        assert!(error.contains(expected), "{sql}: {error}");
    }
    if !db.is_postgres() {
        let error = db.raw(&["UPDATE users SET date_of_birth = '28/02/1990'".to_owned()]).await.unwrap_err();
        assert!(error.contains("users_date_of_birth_check"), "{error}");
    }
    // Nothing of that was stored.
    assert_eq!(store.users(None, 10).await.unwrap().len(), 1);
    assert_eq!(store.sessions_of(user.id, 10).await.unwrap().len(), 1);
}

async fn concurrent_registrations_of_one_email_across_two_instances_admit_one(db: Db) {
    const RACERS: usize = 8;
    let (a, b) = tokio::join!(db.store(), db.store());
    let config = LedgerConfig::default().password_hash(HashParams::INSECURE_FAST_FOR_TESTS);
    let a = Ledger::builder(a).config(config.clone()).open().await.unwrap();
    let b = Ledger::builder(b).config(config).open().await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let ledger = if i % 2 == 0 { a.clone() } else { b.clone() };
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            ledger.register(registration(&format!(" Race@Example.com{}", " ".repeat(i)), &format!("Racer {i}"))).await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(view) => winners.push(view),
            Err(LedgerError::EmailTaken) => {}
            Err(other) => panic!("a racing registration failed unexpectedly: {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one registration of the email wins");
    let stored = b.store().user_by_email(&Email::parse("race@example.com").unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.view(), winners[0]);
    assert_eq!(a.store().users(None, 100).await.unwrap(), vec![stored]);
}
