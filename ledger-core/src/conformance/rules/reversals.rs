//! Reversals: whole and partial, never beyond, under floors and statuses.

use super::*;
use crate::account::NormalBalance;
use crate::account_code::AccountCode;
use crate::command::{Entry, EntryPosting, OpenLedgerAccount, Reverse};
use crate::metadata::Metadata;

fn reverse(transaction: TransactionId, amount: Option<&str>) -> Reverse {
    Reverse { transaction, amount: amount.map(self::amount), description: None, metadata: Metadata::empty() }
}

/// A whole reversal moves every posting back, destination to source, in a
/// new transaction linked to the original, which shows what was reversed.
pub async fn a_reversal_moves_every_posting_back_and_links_to_the_original(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    deposit(&h, a.id, "100").await;
    let sent = h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "30")).await.expect("transfer").transaction;
    let command = Reverse {
        description: Some("refund".into()),
        metadata: Metadata::new([("ticket", "T-9")]).expect("valid"),
        ..reverse(sent.id, None)
    };
    let receipt = h.ledger.reverse(&SYS, key(), command).await.expect("reversal");
    let r = &receipt.transaction;
    assert_eq!((r.kind, r.status, r.reverses), (TransactionKind::Reversal, TransactionStatus::Posted, Some(sent.id)));
    assert_eq!((r.from_account, r.to_account, r.amount), (Some(b.id), Some(a.id), dec("30")));
    assert_eq!((r.legs[0].source, r.legs[0].destination), (b.id, a.id));
    assert_eq!((r.description.as_deref(), r.metadata.get("ticket")), (Some("refund"), Some("T-9")));
    assert_eq!((posted(&h, a.id).await, posted(&h, b.id).await), (dec("100"), Decimal::ZERO));
    let original = h.ledger.transaction(&SYS, sent.id).await.expect("original");
    assert_eq!(original.reversed_amount, dec("30"));
    assert!(all_transactions(&h.ledger, &HistoryFilter::account(b.id)).await.iter().any(|t| t.id == r.id));

    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.reverse(&SYS, key(), reverse(sent.id, None)).await, "already_reversed").await;

    // An entry of several postings and currencies comes back whole.
    let fees = h
        .ledger
        .open_ledger_account(
            &SYS,
            OpenLedgerAccount::new(AccountCode::parse("fees").expect("valid"), Currency::Usd, NormalBalance::Credit),
        )
        .await
        .expect("ledger account");
    let c = open(&h, Currency::Usd).await;
    let split = Entry {
        postings: vec![
            EntryPosting {
                source: a.id.into(),
                destination: c.id.into(),
                amount: amount("60"),
                currency: Currency::Usd,
            },
            EntryPosting {
                source: a.id.into(),
                destination: fees.id.into(),
                amount: amount("5"),
                currency: Currency::Usd,
            },
        ],
        description: None,
        metadata: Metadata::empty(),
    };
    let split = h.ledger.post_entry(&SYS, key(), split).await.expect("entry").transaction;
    let back = h.ledger.reverse(&SYS, key(), reverse(split.id, None)).await.expect("reversal").transaction;
    assert_eq!(back.legs.len(), 2);
    assert_eq!(back.amount, dec("65"));
    assert_eq!(
        (posted(&h, a.id).await, posted(&h, c.id).await, posted(&h, fees.id).await),
        (dec("100"), Decimal::ZERO, Decimal::ZERO)
    );
    let before = state(&h).await;
    let part = h.ledger.reverse(&SYS, key(), reverse(split.id, Some("1"))).await;
    assert_rejected(&h, &before, part, "invalid_reversal").await;
}

/// A single-posting transaction is reversed in parts, as often as needed,
/// never beyond what it moved; with no amount, what is left.
pub async fn a_single_posting_transaction_is_reversed_in_parts_never_beyond(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let paid = deposit(&h, a.id, "100").await.transaction;
    let first = h.ledger.reverse(&SYS, key(), reverse(paid.id, Some("30"))).await.expect("part").transaction;
    assert_eq!((first.amount, first.from_account, first.to_account), (dec("30"), Some(a.id), None));
    h.ledger.reverse(&SYS, key(), reverse(paid.id, Some("40"))).await.expect("another part");
    assert_eq!(posted(&h, a.id).await, dec("30"));
    let before = state(&h).await;
    let over = h.ledger.reverse(&SYS, key(), reverse(paid.id, Some("30.01"))).await;
    assert!(
        matches!(&over, Err(LedgerError::ReversalExceedsOriginal { remaining, requested }) if *remaining == dec("30") && *requested == dec("30.01"))
    );
    assert_rejected(&h, &before, over, "reversal_exceeds_original").await;
    let before = state(&h).await;
    assert_rejected(
        &h,
        &before,
        h.ledger.reverse(&SYS, key(), reverse(paid.id, Some("0.001"))).await,
        "invalid_amount",
    )
    .await;
    let rest = h.ledger.reverse(&SYS, key(), reverse(paid.id, None)).await.expect("the rest").transaction;
    assert_eq!(rest.amount, dec("30"));
    assert_eq!(posted(&h, a.id).await, Decimal::ZERO);
    assert_eq!(h.ledger.transaction(&SYS, paid.id).await.map(|t| t.reversed_amount), Ok(dec("100")));
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.reverse(&SYS, key(), reverse(paid.id, Some("1"))).await, "already_reversed")
        .await;
}

/// A reversal is a posting like any other: a refund the recipient already
/// spent fails, frozen accounts refuse it; holds that moved nothing, and
/// reversals themselves, cannot be reversed; only the program and admins
/// reverse; a key replays.
pub async fn reversals_obey_floors_statuses_and_who_may_reverse(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    deposit(&h, a.id, "100").await;
    let sent = h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "50")).await.expect("transfer").transaction;
    let w = Withdraw { account: b.id, amount: amount("40"), description: None, metadata: Metadata::empty() };
    h.ledger.withdraw(&SYS, key(), w).await.expect("spent");
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.reverse(&SYS, key(), reverse(sent.id, None)).await, "insufficient_funds")
        .await;
    h.ledger.freeze(&SYS, a.id).await.expect("freeze");
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.reverse(&SYS, key(), reverse(sent.id, Some("5"))).await, "account_frozen")
        .await;
    h.ledger.unfreeze(&SYS, a.id).await.expect("unfreeze");

    let k = key();
    let refund = h.ledger.reverse(&SYS, k.clone(), reverse(sent.id, Some("5"))).await.expect("refund");
    let again = h.ledger.reverse(&SYS, k, reverse(sent.id, Some("5"))).await.expect("replay");
    assert!(again.replayed);
    assert_eq!(again.transaction.id, refund.transaction.id);
    assert_eq!(posted(&h, b.id).await, dec("5"));

    let customer = Actor::customer(a.owner);
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.reverse(&customer, key(), reverse(sent.id, Some("1"))).await, "forbidden")
        .await;
    let before = state(&h).await;
    let of_reversal = h.ledger.reverse(&SYS, key(), reverse(refund.transaction.id, None)).await;
    assert_rejected(&h, &before, of_reversal, "not_reversible").await;
    let pending = h.ledger.place_hold(&SYS, key(), hold(a.id, "10")).await.expect("hold").transaction;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.reverse(&SYS, key(), reverse(pending.id, None)).await, "not_reversible")
        .await;
    h.ledger.void_hold(&SYS, key(), VoidHold { hold: pending.id }).await.expect("void");
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.reverse(&SYS, key(), reverse(pending.id, None)).await, "not_reversible")
        .await;
    let before = state(&h).await;
    let unknown = h.ledger.reverse(&SYS, key(), reverse(TransactionId::new(), None)).await;
    assert_rejected(&h, &before, unknown, "transaction_not_found").await;

    // A partly captured hold reverses what it posted, not what it reserved.
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "20")).await.expect("hold").transaction;
    h.ledger
        .capture_hold(&SYS, key(), CaptureHold { hold: held.id, amount: Some(amount("8")) })
        .await
        .expect("capture");
    let balance = posted(&h, a.id).await;
    let back = h.ledger.reverse(&SYS, key(), reverse(held.id, None)).await.expect("reversal").transaction;
    assert_eq!(back.amount, dec("8"));
    assert_eq!(posted(&h, a.id).await, balance + dec("8"));
}
