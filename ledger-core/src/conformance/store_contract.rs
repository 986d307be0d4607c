//! The [`Store`](crate::Store) contract's reads and its one write outside
//! `apply`, checked on the store itself: listings in their order and within
//! their limits, cursors strictly after, `touch_session` moving forward
//! only, the session read with its user. Every backend must give the same
//! answers.

use std::net::IpAddr;

use chrono::Duration;

use super::Harness;
use super::people::{PASSWORD, customer, registration};
use crate::account::AccountKind;
use crate::clock::Clock;
use crate::command::{Deposit, OpenAccount};
use crate::error::LedgerError;
use crate::id::UserId;
use crate::idempotency::IdempotencyKey;
use crate::identity::{Actor, Device, Email, ProfilePatch, Session, SessionId};
use crate::ledger::{Login, LoginRequest};
use crate::money::{Amount, Currency};

fn device(label: &str) -> Device {
    Device::new(Some("test agent"), Some(IpAddr::from([192, 0, 2, 10])), Some(label)).expect("a valid device")
}

async fn login_with(h: &Harness, email: &str, device: Device) -> Login {
    let request = LoginRequest { email: email.into(), password: PASSWORD.into(), device };
    h.ledger.login(request).await.expect("login")
}

fn labels(sessions: &[Session]) -> Vec<String> {
    sessions.iter().map(|s| s.device.label.clone().unwrap_or_default()).collect()
}

/// `sessions_of` lists a user's sessions newest first, revoked ones in
/// place, within the limit; revoking all others touches only live ones.
pub async fn sessions_of_lists_newest_first_within_the_limit_revoked_included(h: Harness) {
    let store = &h.store;
    let lee = h.ledger.register(registration("lee@example.com")).await.expect("register");
    let mo = h.ledger.register(registration("mo@example.com")).await.expect("register");
    let mut logins = Vec::new();
    for i in 0..5 {
        logins.push(login_with(&h, "lee@example.com", device(&format!("s{i}"))).await);
        if i == 2 {
            login_with(&h, "mo@example.com", device("mo")).await;
        }
    }
    let listed = |user, limit| async move { store.sessions_of(user, limit).await.expect("sessions") };

    let all = listed(lee.id, 100).await;
    assert_eq!(labels(&all), ["s4", "s3", "s2", "s1", "s0"]);
    assert_eq!(all[0], logins[4].session);
    assert_eq!(labels(&listed(lee.id, 3).await), ["s4", "s3", "s2"]);
    assert!(listed(lee.id, 0).await.is_empty());
    assert_eq!(labels(&listed(mo.id, 100).await), ["mo"]);
    assert!(listed(UserId::new(), 100).await.is_empty());

    // Revoked sessions stay listed, in place.
    let auth = h.ledger.authenticate(logins[2].token.expose()).await.expect("auth");
    let first_revocation = h.clock.now();
    h.ledger.revoke_session(&auth, logins[0].session.id).await.expect("revoke");
    h.clock.advance(Duration::seconds(1));
    let all = listed(lee.id, 100).await;
    assert_eq!(labels(&all), ["s4", "s3", "s2", "s1", "s0"]);
    assert!(all[4].revoked_at.is_some() && all[..4].iter().all(|s| s.revoked_at.is_none()));

    // Revoking the others loads only the unrevoked ones: s1, s3 and s4.
    assert_eq!(h.ledger.revoke_other_sessions(&auth).await, Ok(3));
    assert_eq!(h.ledger.revoke_other_sessions(&auth).await, Ok(0));
    let all = listed(lee.id, 100).await;
    let live: Vec<SessionId> = all.iter().filter(|s| s.revoked_at.is_none()).map(|s| s.id).collect();
    assert_eq!(live, vec![logins[2].session.id]);
    assert_eq!(all[4].revoked_at, Some(first_revocation), "s0 kept its first revocation");
    assert!([&all[0], &all[1], &all[3]].iter().all(|s| s.revoked_at == Some(h.clock.now())));
    assert!(listed(mo.id, 100).await[0].revoked_at.is_none(), "another user's session");

    // Logging out empties the live list; a new login starts it again.
    h.ledger.logout(&auth).await.expect("logout");
    let fresh = login_with(&h, "lee@example.com", device("s5")).await;
    let auth = h.ledger.authenticate(fresh.token.expose()).await.expect("auth");
    assert_eq!(h.ledger.revoke_other_sessions(&auth).await, Ok(0));
    assert_eq!(labels(&listed(lee.id, 2).await), ["s5", "s4"]);
    assert_eq!(h.ledger.sessions(&auth).await, Ok(vec![fresh.session]));
}

/// `touch_session` moves last-seen forward only, settles on the latest of
/// concurrent touches, and never changes a revoked session.
pub async fn touch_session_moves_forward_only_and_never_on_a_revoked_session(h: Harness) {
    let store = h.store.clone();
    h.ledger.register(registration("kim@example.com")).await.expect("register");
    let login = login_with(&h, "kim@example.com", device("phone")).await;
    let id = login.session.id;
    let opened = login.session.last_seen_at;
    let at = move |secs: i64| opened + Duration::seconds(secs);
    let seen = || async { store.session_by_token(&login.token.digest()).await.expect("read").expect("stored") };

    store.touch_session(id, at(10)).await.expect("touch");
    assert_eq!(seen().await, Session { last_seen_at: at(10), ..login.session.clone() });
    store.touch_session(id, at(5)).await.expect("touch");
    assert_eq!(seen().await.last_seen_at, at(10), "never backwards");
    store.touch_session(id, at(10)).await.expect("touch");
    assert_eq!(seen().await.last_seen_at, at(10));
    store.touch_session(SessionId::new(), at(20)).await.expect("an unknown session is no error");

    // Concurrent touches settle on the latest instant.
    let touches: Vec<_> = (1..=24)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.touch_session(id, at(100 + i)).await })
        })
        .collect();
    for touch in touches {
        touch.await.expect("task").expect("touch");
    }
    assert_eq!(seen().await.last_seen_at, at(124));

    // The ledger touches a session used after a minute, and that keeps it alive.
    h.clock.advance(Duration::seconds(200));
    let auth = h.ledger.authenticate(login.token.expose()).await.expect("auth");
    assert_eq!(seen().await.last_seen_at, h.clock.now());

    // Revoked: a touch changes nothing, however late.
    h.ledger.logout(&auth).await.expect("logout");
    let revoked = seen().await;
    assert!(revoked.revoked_at.is_some());
    store.touch_session(id, at(100_000)).await.expect("touch");
    assert_eq!(seen().await, revoked);
    assert_eq!(store.sessions_of(login.user.id, 10).await, Ok(vec![revoked]), "every index finds it alike");
}

/// `session_with_user` answers exactly what `session_by_token` and `user`
/// answer one after the other: the session with its user (each user their
/// own, even with another user's session next to it), and nothing for an
/// unknown token.
pub async fn session_with_user_matches_the_two_reads_it_replaces(h: Harness) {
    let store = &h.store;
    for email in ["ada@example.com", "bo@example.com"] {
        h.ledger.register(registration(email)).await.expect("register");
    }
    let ada = login_with(&h, "ada@example.com", device("laptop")).await;
    let bo = login_with(&h, "bo@example.com", device("phone")).await;
    let patch = ProfilePatch { phone: Some(Some("+44 20 7946 0000".into())), ..ProfilePatch::default() };
    h.ledger.update_profile(&Actor::customer(bo.user.id), bo.user.id, patch).await.expect("profile");
    for login in [&ada, &bo] {
        let digest = login.token.digest();
        let session = store.session_by_token(&digest).await.expect("read").expect("stored");
        let user = store.user(session.user_id).await.expect("read").expect("stored");
        assert_eq!(store.session_with_user(&digest).await, Ok(Some((session, user))));
    }
    let unknown = crate::identity::SecretToken::generate().digest();
    assert_eq!(store.session_with_user(&unknown).await, Ok(None));
}

/// `session_with_user_and_account` answers what `session_with_user` and
/// `account` answer one after the other: the session, its user and the
/// account (anyone's: the store judges no visibility), the session without
/// an account for an id that names none, and nothing for an unknown token
/// even with an account that exists.
pub async fn session_with_user_and_account_matches_the_reads_it_replaces(h: Harness) {
    let store = &h.store;
    let (_, adas) = customer(&h, "ada@example.com", "12.50", false).await;
    let (_, bos) = customer(&h, "bo@example.com", "0", false).await;
    let login = login_with(&h, "ada@example.com", device("laptop")).await;
    let digest = login.token.digest();
    let (session, user) = store.session_with_user(&digest).await.expect("read").expect("stored");
    for id in [adas.id, bos.id] {
        let account = store.account(id).await.expect("read").expect("stored");
        let read = store.session_with_user_and_account(&digest, id).await;
        assert_eq!(read, Ok(Some((session.clone(), user.clone(), Some(account)))));
    }
    let nowhere = crate::id::AccountId::new();
    let read = store.session_with_user_and_account(&digest, nowhere).await;
    assert_eq!(read, Ok(Some((session, user, None))));
    let unknown = crate::identity::SecretToken::generate().digest();
    assert_eq!(store.session_with_user_and_account(&unknown, adas.id).await, Ok(None));
}

/// `authenticate_and_read_account` gives what `authenticate` and then
/// `account` give: the caller's own account; another customer's, the
/// settlement accounts and a missing one as not found, in the same words;
/// and for a token that does not authenticate, unauthenticated, whatever
/// the account.
pub async fn authenticating_with_an_account_read_judges_both_as_the_two_calls_do(h: Harness) {
    let (_, adas) = customer(&h, "ada@example.com", "0", false).await;
    let (_, bos) = customer(&h, "bo@example.com", "0", false).await;
    let login = login_with(&h, "ada@example.com", device("laptop")).await;
    let token = login.token.expose();
    let settlement = crate::id::AccountId::settlement(Currency::Usd);
    for id in [adas.id, bos.id, settlement, crate::id::AccountId::new()] {
        let (authenticated, read) = h.ledger.authenticate_and_read_account(token, id).await.expect("authenticated");
        assert_eq!(authenticated, h.ledger.authenticate(token).await.expect("authenticated"));
        assert_eq!(read, h.ledger.account(&authenticated.actor(), id).await, "account {id}");
    }
    let (_, own) = h.ledger.authenticate_and_read_account(token, adas.id).await.expect("authenticated");
    assert_eq!(own.map(|a| a.owner), Ok(login.user.id));
    let (_, foreign) = h.ledger.authenticate_and_read_account(token, bos.id).await.expect("authenticated");
    assert_eq!(foreign, Err(LedgerError::AccountNotFound { account: bos.id }));
    let stranger = crate::identity::SecretToken::generate();
    let refused = h.ledger.authenticate_and_read_account(stranger.expose(), adas.id).await;
    assert_eq!(refused.map(|(a, _)| a), Err(LedgerError::Unauthenticated));
    let malformed = h.ledger.authenticate_and_read_account("not a token", adas.id).await;
    assert_eq!(malformed.map(|(a, _)| a), Err(LedgerError::Unauthenticated));
    h.ledger.logout(&h.ledger.authenticate(token).await.expect("authenticated")).await.expect("logout");
    let revoked = h.ledger.authenticate_and_read_account(token, adas.id).await;
    assert_eq!(revoked.map(|(a, _)| a), Err(LedgerError::Unauthenticated));
}

/// `audit_records_by_actor` pages through one actor's records in sequence
/// order, strictly after its cursor, matching the actor exactly.
pub async fn audit_records_by_actor_page_in_sequence_order(h: Harness) {
    let store = &h.store;
    let ann = h.ledger.register(registration("ann@example.com")).await.expect("register");
    let ben = h.ledger.register(registration("ben@example.com")).await.expect("register");
    let account = OpenAccount::new(ann.id, AccountKind::Checking, Currency::Usd);
    let account = h.ledger.open_account(&Actor::System, account).await.expect("open");
    for i in 0..6 {
        login_with(&h, "ann@example.com", device("a")).await;
        login_with(&h, "ben@example.com", device("b")).await;
        let deposit = Deposit {
            account: account.id,
            amount: Amount::parse("1").expect("amount"),
            description: None,
            metadata: Default::default(),
        };
        let key = IdempotencyKey::new(format!("d{i}")).expect("key");
        h.ledger.deposit(&Actor::System, key, deposit).await.expect("deposit");
        let patch = ProfilePatch { full_name: Some(format!("Ann {i}")), ..ProfilePatch::default() };
        h.ledger.update_profile(&Actor::customer(ann.id), ann.id, patch).await.expect("profile");
        if i >= 3 {
            continue; // below the login throttle's limit
        }
        // A rejected command is in its actor's records too.
        let wrong =
            LoginRequest { email: "ben@example.com".into(), password: "not the password".into(), device: device("b") };
        assert_eq!(h.ledger.login(wrong).await.err(), Some(LedgerError::InvalidCredentials));
    }

    let all = store.audit_records(0, 10_000).await.expect("audit");
    let middle = all[all.len() / 2].sequence;
    let by_actor = |actor: String, after, limit| async move {
        store.audit_records_by_actor(&actor, after, limit).await.expect("read")
    };
    for actor in [format!("user:{}", ann.id), format!("user:{}", ben.id), "system".to_owned()] {
        let expected: Vec<_> = all.iter().filter(|r| r.actor == actor).cloned().collect();
        assert!(expected.len() >= 6, "{actor}: {}", expected.len());
        let mut paged = Vec::new();
        let mut after = 0;
        loop {
            let page = by_actor(actor.clone(), after, 4).await;
            assert!(page.len() <= 4);
            let Some(last) = page.last() else { break };
            after = last.sequence;
            paged.extend(page);
        }
        assert_eq!(paged, expected, "{actor}, paged by 4");
        let tail: Vec<_> = expected.iter().filter(|r| r.sequence > middle).cloned().collect();
        assert_eq!(by_actor(actor.clone(), middle, 1_000).await, tail, "{actor} after {middle}");
        assert!(by_actor(actor.clone(), 0, 0).await.is_empty());
        assert!(by_actor(actor.clone(), u64::MAX, 10).await.is_empty());
    }
    assert!(by_actor("user:nobody".into(), 0, 10).await.is_empty());
    // The actor name is matched exactly, not as a prefix or case-insensitively.
    assert!(by_actor("user:".into(), 0, 10).await.is_empty());
    assert!(by_actor("SYSTEM".into(), 0, 10).await.is_empty());
    let ann_name = format!("user:{}", ann.id);
    assert!(by_actor(ann_name[..ann_name.len() - 1].to_owned(), 0, 10).await.is_empty());
    assert!(by_actor(String::new(), 0, 10).await.is_empty());
    let own = h.ledger.audit_log(&Actor::customer(ben.id), 0, 100).await.expect("own log");
    assert_eq!(own, all.iter().filter(|r| r.actor == format!("user:{}", ben.id)).cloned().collect::<Vec<_>>());
}

/// `users` lists in id order after a cursor within a limit; a user is found
/// by id and by normalised email.
pub async fn users_are_listed_in_id_order_and_found_by_normalised_email(h: Harness) {
    let store = &h.store;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(h.ledger.register(registration(&format!("User{i}@Example.com"))).await.expect("register").id);
    }
    ids.sort();
    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = store.users(after, 2).await.expect("users");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        listed.extend(page.into_iter().map(|u| u.id));
    }
    assert_eq!(listed, ids);
    assert_eq!(store.users(None, 0).await.map(|u| u.len()), Ok(0));
    assert_eq!(store.users(ids.last().copied(), 10).await.map(|u| u.len()), Ok(0));

    let email = Email::parse("  USER3@example.COM ").expect("email");
    let user = store.user_by_email(&email).await.expect("read").expect("found");
    assert_eq!(user.email.as_str(), "user3@example.com");
    assert_eq!(store.user(user.id).await, Ok(Some(user)));
    let nobody = Email::parse("nobody@example.com").expect("email");
    assert_eq!(store.user_by_email(&nobody).await, Ok(None));
    assert_eq!(store.user(UserId::new()).await, Ok(None));
}
