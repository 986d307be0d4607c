//! The change feed: every committed change, in commit order, as of its
//! commit; nothing rejected or replayed; cursors and leases for publishers.

use super::*;
use crate::change::{CHANGES_PAGE_MAX, Change, ChangeKind};
use crate::clock::Clock;
use crate::command::Reverse;
use crate::conformance::invariants::all_changes;
use crate::metadata::Metadata;

/// The changes after `after`, as (kind, transaction or account id).
fn story(changes: &[Change]) -> Vec<(ChangeKind, uuid::Uuid)> {
    changes
        .iter()
        .map(|c| {
            let id = match (&c.transaction, &c.account) {
                (Some(t), _) => *t.id.as_uuid(),
                (None, Some(a)) => *a.id.as_uuid(),
                (None, None) => panic!("change {} names nothing", c.sequence),
            };
            (c.kind, id)
        })
        .collect()
}

/// Opening, money movements, a hold's life, a reversal and a freeze each
/// appear once, in commit order, with the balances the commit left; a
/// rejected command and a replay add nothing.
pub async fn the_feed_lists_every_committed_change_in_commit_order(h: Harness) {
    let start = all_changes(&h.ledger).await.last().map_or(0, |c| c.sequence);
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let deposit_key = key();
    let command = Deposit { account: a.id, amount: amount("100"), description: None, metadata: Default::default() };
    let deposited = h.ledger.deposit(&SYS, deposit_key.clone(), command.clone()).await.expect("deposit").transaction;
    h.ledger.deposit(&SYS, deposit_key, command).await.expect("a replay");
    let sent = h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "30")).await.expect("transfer").transaction;
    let overdraw = h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "1000")).await;
    assert!(matches!(overdraw, Err(LedgerError::InsufficientFunds { .. })));
    let captured = h.ledger.place_hold(&SYS, key(), hold(a.id, "20")).await.expect("hold").transaction;
    let capture = CaptureHold { hold: captured.id, amount: Some(amount("15")) };
    h.ledger.capture_hold(&SYS, key(), capture).await.expect("capture");
    let voided = h.ledger.place_hold(&SYS, key(), hold(a.id, "5")).await.expect("hold").transaction;
    h.ledger.void_hold(&SYS, key(), VoidHold { hold: voided.id }).await.expect("void");
    let refund = Reverse { transaction: sent.id, amount: None, description: None, metadata: Metadata::empty() };
    let reversal = h.ledger.reverse(&SYS, key(), refund).await.expect("reversal").transaction;
    h.ledger.freeze(&SYS, b.id).await.expect("freeze");

    let changes = h.ledger.events_after(start, CHANGES_PAGE_MAX).await.expect("the feed");
    let settlement_opened = |(kind, id): &(ChangeKind, uuid::Uuid)| {
        *kind == ChangeKind::AccountOpened && id != a.id.as_uuid() && id != b.id.as_uuid()
    };
    let told: Vec<_> = story(&changes).into_iter().filter(|c| !settlement_opened(c)).collect();
    assert_eq!(
        told,
        vec![
            (ChangeKind::AccountOpened, *a.id.as_uuid()),
            (ChangeKind::AccountOpened, *b.id.as_uuid()),
            (ChangeKind::TransactionPosted, *deposited.id.as_uuid()),
            (ChangeKind::TransactionPosted, *sent.id.as_uuid()),
            (ChangeKind::TransactionPending, *captured.id.as_uuid()),
            (ChangeKind::TransactionPosted, *captured.id.as_uuid()),
            (ChangeKind::TransactionPending, *voided.id.as_uuid()),
            (ChangeKind::TransactionVoided, *voided.id.as_uuid()),
            (ChangeKind::TransactionReversed, *reversal.id.as_uuid()),
            (ChangeKind::AccountStatusChanged, *b.id.as_uuid()),
        ]
    );
    let of = |id: TransactionId, kind: ChangeKind| {
        changes
            .iter()
            .find(|c| c.kind == kind && c.transaction.as_ref().is_some_and(|t| t.id == id))
            .expect("in the feed")
    };
    // Each change carries the balances its commit left.
    let after_deposit = of(deposited.id, ChangeKind::TransactionPosted);
    let a_then = after_deposit.balances.iter().find(|x| x.id == a.id).expect("a's balance");
    assert_eq!((a_then.balance.posted, a_then.balance.pending), (dec("100"), Decimal::ZERO));
    let placed = of(captured.id, ChangeKind::TransactionPending);
    assert_eq!(placed.transaction.as_ref().map(|t| t.status), Some(TransactionStatus::Pending));
    let a_held = placed.balances.iter().find(|x| x.id == a.id).expect("a's balance");
    assert_eq!((a_held.balance.posted, a_held.balance.pending), (dec("70"), dec("20")));
    let posted_hold = of(captured.id, ChangeKind::TransactionPosted);
    assert_eq!(posted_hold.transaction.as_ref().and_then(|t| t.captured_amount), Some(dec("15")));
    let reversed = of(reversal.id, ChangeKind::TransactionReversed);
    assert_eq!(reversed.transaction.as_ref().and_then(|t| t.reverses), Some(sent.id));
    let frozen = changes.last().and_then(|c| c.account.as_ref()).expect("the freeze names b");
    assert_eq!(frozen.status, AccountStatus::Frozen);
    for change in &changes {
        assert!(change.sequence > start);
        assert!(change.at >= after_deposit.at || change.sequence < after_deposit.sequence);
    }
    // Reading again, or in pages of one, gives the very same changes.
    assert_eq!(h.ledger.events_after(start, CHANGES_PAGE_MAX).await.expect("again"), changes);
    let mut paged: Vec<Change> = Vec::new();
    loop {
        let after = paged.last().map_or(start, |c| c.sequence);
        let page = h.ledger.events_after(after, 1).await.expect("a page");
        let Some(first) = page.into_iter().next() else { break };
        paged.push(first);
    }
    assert_eq!(paged, changes);
    let ids: std::collections::HashSet<String> = changes.iter().map(Change::event_id).collect();
    assert_eq!(ids.len(), changes.len(), "event ids are unique");
    let count = h.ledger.events_count_after(start).await.expect("a count");
    assert_eq!(count, changes.len() as u64);
    assert_eq!(h.ledger.events_count_after(changes[2].sequence).await.expect("a count"), changes.len() as u64 - 3);
    for limit in [0, CHANGES_PAGE_MAX + 1] {
        let refused = h.ledger.events_after(start, limit).await;
        assert_eq!(refused, Err(LedgerError::InvalidPageSize { max: CHANGES_PAGE_MAX }));
    }
}

/// A sink's cursor only moves forward and is kept per sink; a lease has
/// one holder until it expires unrenewed; bad names are refused.
pub async fn sink_cursors_move_forward_only_and_a_lease_has_one_holder(h: Harness) {
    let l = &h.ledger;
    assert_eq!(l.sink_cursor("nats").await, Ok(0));
    l.advance_sink_cursor("nats", 40_960).await.expect("advance");
    l.advance_sink_cursor("nats", 8_192).await.expect("a step back is ignored");
    assert_eq!(l.sink_cursor("nats").await, Ok(40_960));
    assert_eq!(l.sink_cursor("webhook:http://127.0.0.1:9/hook").await, Ok(0), "cursors are per sink");
    l.advance_sink_cursor("webhook:http://127.0.0.1:9/hook", 7).await.expect("advance");
    assert_eq!(l.sink_cursor("webhook:http://127.0.0.1:9/hook").await, Ok(7));
    for bad in ["", "a\u{0}b", "line\nbreak"] {
        assert_eq!(l.sink_cursor(bad).await, Err(LedgerError::InvalidSinkName));
        assert_eq!(l.advance_sink_cursor(bad, 1).await, Err(LedgerError::InvalidSinkName));
    }
    assert_eq!(l.sink_cursor(&"x".repeat(513)).await, Err(LedgerError::InvalidSinkName));

    let now = h.clock.now();
    let ttl = Duration::seconds(10);
    assert_eq!(l.try_lease("publish:nats", "instance-a", now + ttl).await, Ok(true));
    assert_eq!(l.try_lease("publish:nats", "instance-b", now + ttl).await, Ok(false));
    assert_eq!(l.try_lease("publish:amqp", "instance-b", now + ttl).await, Ok(true), "leases are per name");
    h.clock.advance(Duration::seconds(5));
    assert_eq!(l.try_lease("publish:nats", "instance-a", h.clock.now() + ttl).await, Ok(true), "renewed");
    h.clock.advance(Duration::seconds(9));
    assert_eq!(l.try_lease("publish:nats", "instance-b", h.clock.now() + ttl).await, Ok(false), "still a's");
    h.clock.advance(Duration::seconds(2));
    assert_eq!(l.try_lease("publish:nats", "instance-b", h.clock.now() + ttl).await, Ok(true), "a stopped renewing");
    assert_eq!(l.try_lease("publish:nats", "instance-a", h.clock.now() + ttl).await, Ok(false));
    assert_eq!(l.try_lease("publish:nats", "", now).await, Err(LedgerError::InvalidSinkName));
}
