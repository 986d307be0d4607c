//! History: filters, newest first, stable cursors; postings that sum to balances.

use super::*;

// ---------------------------------------------------------------- history

/// Every history filter narrows exactly as [`HistoryFilter::matches`] says.
pub async fn history_filters_by_every_field(h: Harness) {
    let (a, b, c) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let start = h.ledger.now();
    deposit(&h, a.id, "100").await; // t0
    h.clock.advance(Duration::seconds(10));
    deposit(&h, b.id, "5").await; // t10
    h.clock.advance(Duration::seconds(10));
    h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "20")).await.expect("transfer"); // t20
    h.clock.advance(Duration::seconds(10));
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "7")).await.expect("hold").transaction; // t30
    h.ledger.place_hold(&SYS, key(), hold(b.id, "1")).await.expect("hold");
    h.ledger.void_hold(&SYS, key(), VoidHold { hold: held.id }).await.expect("void");
    h.ledger
        .withdraw(
            &SYS,
            key(),
            Withdraw { account: b.id, amount: amount("2.5"), description: None, metadata: Default::default() },
        )
        .await
        .expect("w");
    let everything = all_transactions(&h.ledger, &HistoryFilter::default()).await;
    assert_eq!(everything.len(), 6);
    let at = |secs| start + Duration::seconds(secs);
    let filters: Vec<(HistoryFilter, usize)> = vec![
        (HistoryFilter::account(a.id), 3),
        (HistoryFilter::account(b.id), 4),
        (HistoryFilter::account(c.id), 0),
        (HistoryFilter { accounts: vec![a.id, b.id], ..Default::default() }, 6),
        (HistoryFilter { kind: Some(TransactionKind::Deposit), ..Default::default() }, 2),
        (HistoryFilter { kind: Some(TransactionKind::Hold), ..Default::default() }, 2),
        (HistoryFilter { status: Some(TransactionStatus::Voided), ..Default::default() }, 1),
        (HistoryFilter { status: Some(TransactionStatus::Pending), ..Default::default() }, 1),
        (HistoryFilter { status: Some(TransactionStatus::Posted), ..Default::default() }, 4),
        (HistoryFilter { created_from: Some(at(10)), ..Default::default() }, 5),
        (HistoryFilter { created_until: Some(at(10)), ..Default::default() }, 1),
        (HistoryFilter { created_from: Some(at(10)), created_until: Some(at(30)), ..Default::default() }, 2),
        (HistoryFilter { amount_min: Some(dec("5")), ..Default::default() }, 4),
        (HistoryFilter { amount_max: Some(dec("5")), ..Default::default() }, 3),
        (HistoryFilter { amount_min: Some(dec("2.5")), amount_max: Some(dec("7")), ..Default::default() }, 3),
        (
            HistoryFilter {
                accounts: vec![b.id],
                kind: Some(TransactionKind::Transfer),
                status: Some(TransactionStatus::Posted),
                amount_min: Some(dec("20")),
                ..Default::default()
            },
            1,
        ),
    ];
    for (filter, expected) in filters {
        let got = all_transactions(&h.ledger, &filter).await;
        let reference: Vec<Transaction> = everything.iter().filter(|t| filter.matches(t)).cloned().collect();
        assert_eq!(got, reference, "filter {filter:?} differs from the reference semantics");
        assert_eq!(got.len(), expected, "filter {filter:?}");
    }
}

/// History is newest first; cursors survive new transactions arriving.
pub async fn history_is_newest_first_with_stable_cursor_pagination(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let mut ids = Vec::new();
    for _ in 0..25 {
        ids.push(deposit(&h, a.id, "1").await.transaction.id);
    }
    ids.reverse();
    let filter = HistoryFilter::account(a.id);
    let mut seen = Vec::new();
    let mut page = PageRequest::first(10);
    let mut sizes = Vec::new();
    loop {
        let result = h.ledger.history(&SYS, &filter, page).await.expect("history page");
        sizes.push(result.items.len());
        seen.extend(result.items.iter().map(|t| t.id));
        // New activity between pages must not shift what later pages show.
        h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "0.01")).await.expect("transfer");
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(seen, ids, "each original transaction exactly once, newest first");
    let newest = h.ledger.history(&SYS, &filter, PageRequest::first(1)).await.expect("first page");
    assert_eq!(newest.items[0].kind, TransactionKind::Transfer, "new transactions appear on the first page");
}

/// Page sizes, cursors and contradictory filters are refused.
pub async fn history_rejects_bad_pages_and_filters(h: Harness) {
    let filter = HistoryFilter::default();
    for size in [0, PAGE_SIZE_MAX + 1] {
        let result = h.ledger.history(&SYS, &filter, PageRequest::first(size)).await;
        assert_eq!(result.map(|_| ()), Err(LedgerError::InvalidPageSize { max: PAGE_SIZE_MAX }));
    }
    assert_eq!("x1".parse::<Cursor>(), Err(LedgerError::InvalidCursor));
    let now = h.ledger.now();
    let backwards =
        HistoryFilter { created_from: Some(now), created_until: Some(now - Duration::seconds(1)), ..filter };
    let result = h.ledger.history(&SYS, &backwards, PageRequest::default()).await;
    assert_eq!(result.map(|_| ()).map_err(|e| e.code()), Err("invalid_filter"));
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "1").await;
    let beyond = PageRequest { cursor: Some("c1".parse().expect("cursor")), size: 10 };
    let empty =
        h.ledger.history(&SYS, &HistoryFilter::default(), beyond).await.expect("a page before the first sequence");
    assert!(empty.items.is_empty() && empty.next_cursor.is_none());
}

/// Every posting belongs to a balanced transaction and balances are their sums.
pub async fn postings_balance_and_sum_to_each_balance(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    deposit(&h, a.id, "10").await;
    h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "3")).await.expect("transfer");
    let lines = all_postings(&h.ledger, a.id).await;
    let amounts: Vec<Decimal> = lines.iter().map(|p| p.amount).collect();
    assert_eq!(amounts, vec![dec("10"), dec("-3")], "credits positive, debits negative, oldest first");
    assert!(lines.windows(2).all(|w| w[0].sequence < w[1].sequence));
    let after_first = h.ledger.store().postings(a.id, Some(lines[0].sequence), 10).await.expect("postings");
    assert_eq!(after_first, lines[1..].to_vec());
    assert_eq!(all_postings(&h.ledger, b.id).await.iter().map(|p| p.amount).sum::<Decimal>(), dec("3"));
}
