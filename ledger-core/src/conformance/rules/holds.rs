//! Holds: reserve, capture (full or partial), void, expiry.

use super::*;

// ---------------------------------------------------------------- holds

/// A hold moves funds from available to pending; capture posts them.
pub async fn hold_reserves_funds_and_capture_posts_them(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "100").await;
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "30")).await.expect("hold").transaction;
    assert_eq!((held.kind, held.status), (TransactionKind::Hold, TransactionStatus::Pending));
    assert_eq!(balances(&h, a.id).await, (dec("100"), dec("30"), dec("70")));
    let settlement = posted(&h, AccountId::settlement(Currency::Usd)).await;
    let captured =
        h.ledger.capture_hold(&SYS, key(), CaptureHold { hold: held.id, amount: None }).await.expect("capture");
    assert_eq!(captured.transaction.id, held.id);
    assert_eq!(captured.transaction.status, TransactionStatus::Posted);
    assert_eq!(captured.transaction.captured_amount, Some(dec("30")));
    assert_eq!(balances(&h, a.id).await, (dec("70"), Decimal::ZERO, dec("70")));
    // The capture credits debit-normal settlement: its reported balance falls.
    assert_eq!(posted(&h, AccountId::settlement(Currency::Usd)).await, settlement - dec("30"));
}

/// A partial capture posts part and releases the rest.
pub async fn partial_capture_releases_the_rest(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "100").await;
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "30")).await.expect("hold").transaction;
    let capture = CaptureHold { hold: held.id, amount: Some(amount("10")) };
    let captured = h.ledger.capture_hold(&SYS, key(), capture).await.expect("capture").transaction;
    assert_eq!((captured.amount, captured.captured_amount), (dec("30"), Some(dec("10"))));
    assert_eq!(balances(&h, a.id).await, (dec("90"), Decimal::ZERO, dec("90")));
}

/// Voiding releases the whole hold and posts nothing.
pub async fn void_releases_the_hold(h: Harness) {
    let a = open(&h, Currency::Gbp).await;
    deposit(&h, a.id, "40").await;
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "40")).await.expect("hold").transaction;
    assert_eq!(balances(&h, a.id).await, (dec("40"), dec("40"), Decimal::ZERO));
    let voided = h.ledger.void_hold(&SYS, key(), VoidHold { hold: held.id }).await.expect("void").transaction;
    assert_eq!(voided.status, TransactionStatus::Voided);
    assert_eq!(balances(&h, a.id).await, (dec("40"), Decimal::ZERO, dec("40")));
}

/// A capture cannot exceed its hold.
pub async fn capture_above_the_hold_is_rejected(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "100").await;
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "30")).await.expect("hold").transaction;
    let before = state(&h).await;
    let capture = CaptureHold { hold: held.id, amount: Some(amount("30.01")) };
    assert_rejected(&h, &before, h.ledger.capture_hold(&SYS, key(), capture).await, "capture_exceeds_hold").await;
}

/// A hold is captured or voided once.
pub async fn hold_cannot_be_captured_twice_or_after_void(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "100").await;
    let first = h.ledger.place_hold(&SYS, key(), hold(a.id, "10")).await.expect("hold").transaction;
    h.ledger.capture_hold(&SYS, key(), CaptureHold { hold: first.id, amount: None }).await.expect("capture");
    let second = h.ledger.place_hold(&SYS, key(), hold(a.id, "10")).await.expect("hold").transaction;
    h.ledger.void_hold(&SYS, key(), VoidHold { hold: second.id }).await.expect("void");
    let attempts: Vec<MoneyCommand> = vec![
        CaptureHold { hold: first.id, amount: None }.into(),
        VoidHold { hold: first.id }.into(),
        CaptureHold { hold: second.id, amount: None }.into(),
        VoidHold { hold: second.id }.into(),
    ];
    for command in attempts {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.execute(&SYS, key(), command).await, "hold_not_pending").await;
    }
}

/// A hold with a destination credits that account on capture.
pub async fn hold_to_a_destination_account_credits_it_on_capture(h: Harness) {
    let (a, b) = (open(&h, Currency::Eur).await, open(&h, Currency::Eur).await);
    deposit(&h, a.id, "50").await;
    let mut command = hold(a.id, "20");
    command.destination = Some(AccountRef::Number(b.number));
    let held = h.ledger.place_hold(&SYS, key(), command).await.expect("hold").transaction;
    assert_eq!(held.to_account, Some(b.id));
    assert_eq!(posted(&h, b.id).await, Decimal::ZERO, "nothing moves until capture");
    let capture = CaptureHold { hold: held.id, amount: Some(amount("15")) };
    h.ledger.capture_hold(&SYS, key(), capture).await.expect("capture");
    assert_eq!(balances(&h, a.id).await, (dec("35"), Decimal::ZERO, dec("35")));
    assert_eq!(posted(&h, b.id).await, dec("15"));
    let eur_other = open(&h, Currency::Usd).await;
    let mut mismatch = hold(a.id, "1");
    mismatch.destination = Some(AccountRef::Id(eur_other.id));
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.place_hold(&SYS, key(), mismatch).await, "currency_mismatch").await;
}

/// After its expiry a hold cannot be captured, and the sweep voids it.
pub async fn expired_hold_cannot_be_captured_and_is_swept(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "100").await;
    let mut command = hold(a.id, "25");
    command.expires_at = Some(h.ledger.now() + Duration::seconds(60));
    let held = h.ledger.place_hold(&SYS, key(), command).await.expect("hold").transaction;
    let lasting = h.ledger.place_hold(&SYS, key(), hold(a.id, "5")).await.expect("hold without expiry").transaction;
    assert_eq!(h.ledger.expire_holds(&SYS).await, Ok(0), "nothing has expired yet");
    h.clock.advance(Duration::seconds(60));
    let before = state(&h).await;
    let capture = CaptureHold { hold: held.id, amount: None };
    assert_rejected(&h, &before, h.ledger.capture_hold(&SYS, key(), capture).await, "hold_expired").await;
    assert_eq!(h.ledger.expire_holds(&SYS).await, Ok(1));
    assert_eq!(h.ledger.transaction(&SYS, held.id).await.map(|t| t.status), Ok(TransactionStatus::Voided));
    assert_eq!(h.ledger.transaction(&SYS, lasting.id).await.map(|t| t.status), Ok(TransactionStatus::Pending));
    assert_eq!(balances(&h, a.id).await, (dec("100"), dec("5"), dec("95")));
    assert_eq!(h.ledger.expire_holds(&SYS).await, Ok(0), "a hold is swept once");
}

/// A replay answers with the original hold even after its expiry has passed,
/// when the same command would now be refused as expiring in the past.
pub async fn replay_of_a_hold_after_its_expiry_returns_the_original(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "10").await;
    let mut command = hold(a.id, "4");
    command.expires_at = Some(h.ledger.now() + Duration::seconds(30));
    let k = key();
    let first = h.ledger.place_hold(&SYS, k.clone(), command.clone()).await.expect("hold");
    h.clock.advance(Duration::seconds(31));
    let again = h.ledger.place_hold(&SYS, k, command.clone()).await.expect("the replay");
    assert!(again.replayed);
    assert_eq!(again.transaction.id, first.transaction.id);
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.place_hold(&SYS, key(), command).await, "invalid_expiry").await;
}

/// Expiry must be after now and within the maximum.
pub async fn hold_expiry_must_be_in_the_near_future(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "10").await;
    let now = h.ledger.now();
    for expiry in [now, now - Duration::seconds(1), now + Duration::days(30) + Duration::seconds(1)] {
        let mut command = hold(a.id, "1");
        command.expires_at = Some(expiry);
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.place_hold(&SYS, key(), command).await, "invalid_expiry").await;
    }
    let mut command = hold(a.id, "1");
    command.expires_at = Some(now + Duration::days(30));
    h.ledger.place_hold(&SYS, key(), command).await.expect("an expiry at the maximum");
}

/// Holds never exceed what is available.
pub async fn hold_beyond_available_is_rejected(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "50").await;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.place_hold(&SYS, key(), hold(a.id, "50.01")).await, "insufficient_funds")
        .await;
    h.ledger.place_hold(&SYS, key(), hold(a.id, "30")).await.expect("hold");
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.place_hold(&SYS, key(), hold(a.id, "20.01")).await, "insufficient_funds")
        .await;
    let before = state(&h).await;
    let w = Withdraw { account: a.id, amount: amount("20.01"), description: None, metadata: Default::default() };
    assert_rejected(&h, &before, h.ledger.withdraw(&SYS, key(), w).await, "insufficient_funds").await;
}

/// Capture and void need a hold.
pub async fn capture_of_a_non_hold_is_rejected(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let deposited = deposit(&h, a.id, "10").await.transaction;
    let before = state(&h).await;
    let capture = CaptureHold { hold: deposited.id, amount: None };
    assert_rejected(&h, &before, h.ledger.capture_hold(&SYS, key(), capture).await, "not_a_hold").await;
    let before = state(&h).await;
    let void = VoidHold { hold: TransactionId::new() };
    assert_rejected(&h, &before, h.ledger.void_hold(&SYS, key(), void).await, "transaction_not_found").await;
}
