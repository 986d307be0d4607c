//! Balances over time: as of an instant, balance history, statements, and
//! commit times that never go back.

use super::*;
use crate::account::NormalBalance;
use crate::account_code::AccountCode;
use crate::balance_query::PostingCursor;
use crate::command::{Entry, EntryPosting, OpenLedgerAccount};
use crate::metadata::Metadata;

/// The balance as of an instant is the balance after the last posting
/// committed at or before it: zero before the first, never in the future.
pub async fn balance_as_of_is_the_balance_after_the_last_posting_at_or_before_it(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let t0 = h.ledger.now();
    let at = |secs: i64| t0 + Duration::seconds(secs);
    h.clock.advance(Duration::seconds(10));
    deposit(&h, a.id, "100").await; // t10
    h.clock.advance(Duration::seconds(10));
    let w = Withdraw { account: a.id, amount: amount("30"), description: None, metadata: Metadata::empty() };
    h.ledger.withdraw(&SYS, key(), w).await.expect("withdrawal"); // t20
    h.clock.advance(Duration::seconds(10));
    h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "20")).await.expect("transfer"); // t30
    h.clock.advance(Duration::seconds(10));
    let ledger = &h.ledger;
    let as_of = |account: AccountId, t| async move { ledger.balance_as_of(&SYS, account, t).await.map(|b| b.posted) };
    for (secs, expected) in
        [(0, "0"), (9, "0"), (10, "100"), (15, "100"), (20, "70"), (29, "70"), (30, "50"), (40, "50")]
    {
        assert_eq!(as_of(a.id, at(secs)).await, Ok(dec(expected)), "a as of t{secs}");
    }
    assert_eq!(as_of(b.id, at(29)).await, Ok(Decimal::ZERO));
    assert_eq!(as_of(b.id, at(30)).await, Ok(dec("20")));
    let answer = h.ledger.balance_as_of(&SYS, a.id, at(15)).await.expect("as of");
    assert_eq!((answer.account, answer.currency, answer.as_of), (a.id, Currency::Usd, at(15)));
    // Settlement is debit-normal: deposits raise it, withdrawals lower it.
    assert_eq!(as_of(AccountId::settlement(Currency::Usd), at(25)).await, Ok(dec("70")));
    assert_eq!(as_of(a.id, h.ledger.now() + Duration::seconds(1)).await, Err(LedgerError::InstantInFuture));
    let stranger = Actor::customer(UserId::new());
    let foreign = h.ledger.balance_as_of(&stranger, a.id, at(15)).await;
    assert_eq!(foreign.map(|b| b.posted), Err(LedgerError::AccountNotFound { account: a.id }));
    let own = h.ledger.balance_as_of(&Actor::customer(a.owner), a.id, at(15)).await;
    assert_eq!(own.map(|b| b.posted), Ok(dec("100")));
}

/// Balance history lists an account's postings newest first with the change
/// and the balance after each, within a period, paged by cursor.
pub async fn balance_history_pages_newest_first_with_the_balance_after_each(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let t0 = h.ledger.now();
    let mut ids = Vec::new();
    for i in 1..=25 {
        h.clock.advance(Duration::seconds(1));
        ids.push(deposit(&h, a.id, &i.to_string()).await.transaction.id);
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<PostingCursor> = None;
    loop {
        let page = h.ledger.balance_history(&SYS, a.id, (None, None), cursor, 10).await.expect("a page");
        assert!(page.items.len() <= 10);
        seen.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.iter().map(|c| c.transaction_id).collect::<Vec<_>>(), ids);
    // Newest first: deposit 25 took the balance from 300 to 325.
    assert_eq!((seen[0].change, seen[0].balance), (dec("25"), dec("325")));
    assert_eq!((seen[24].change, seen[24].balance), (dec("1"), dec("1")));
    assert!(seen.windows(2).all(|w| w[0].balance - w[0].change == w[1].balance), "each starts where the next ended");
    // A period: postings at t5 up to (not including) t8.
    let period = (Some(t0 + Duration::seconds(5)), Some(t0 + Duration::seconds(8)));
    let page = h.ledger.balance_history(&SYS, a.id, period, None, 50).await.expect("a period");
    assert_eq!(page.items.iter().map(|c| c.change).collect::<Vec<_>>(), [dec("7"), dec("6"), dec("5")]);
    let backwards = (Some(t0 + Duration::seconds(8)), Some(t0 + Duration::seconds(5)));
    assert_eq!(h.ledger.balance_history(&SYS, a.id, backwards, None, 10).await, Err(LedgerError::InvalidPeriod));
    assert!(matches!(
        h.ledger.balance_history(&SYS, a.id, (None, None), None, 0).await,
        Err(LedgerError::InvalidPageSize { .. })
    ));
    let stranger = Actor::customer(UserId::new());
    let foreign = h.ledger.balance_history(&stranger, a.id, (None, None), None, 10).await;
    assert_eq!(foreign.map(|p| p.items.len()), Err(LedgerError::AccountNotFound { account: a.id }));
}

/// A statement's opening balance plus its changes is its closing balance;
/// its lines are the period's postings oldest first, with their kinds.
pub async fn statements_open_plus_changes_is_closing(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let fees = h
        .ledger
        .open_ledger_account(
            &SYS,
            OpenLedgerAccount::new(AccountCode::parse("fees").expect("valid"), Currency::Usd, NormalBalance::Credit),
        )
        .await
        .expect("ledger account");
    let t0 = h.ledger.now();
    h.clock.advance(Duration::seconds(1));
    deposit(&h, a.id, "100").await; // t1: before the period
    h.clock.advance(Duration::seconds(9));
    let from = h.ledger.now(); // t10
    let sent = h
        .ledger
        .transfer(&SYS, key(), Transfer { description: Some("rent".into()), ..transfer(a.id, b.id, "40") })
        .await
        .expect("transfer");
    h.clock.advance(Duration::seconds(1));
    let fee = Entry {
        postings: vec![EntryPosting {
            source: a.id.into(),
            destination: fees.id.into(),
            amount: amount("2.5"),
            currency: Currency::Usd,
        }],
        description: Some("monthly fee".into()),
        metadata: Metadata::empty(),
    };
    h.ledger.post_entry(&SYS, key(), fee).await.expect("fee");
    h.clock.advance(Duration::seconds(1));
    h.ledger
        .reverse(
            &SYS,
            key(),
            crate::command::Reverse {
                transaction: sent.transaction.id,
                amount: Some(amount("10")),
                description: None,
                metadata: Metadata::empty(),
            },
        )
        .await
        .expect("refund");
    h.clock.advance(Duration::seconds(8));
    let until = h.ledger.now(); // t20
    h.clock.advance(Duration::seconds(1));
    deposit(&h, a.id, "1000").await; // after the period
    h.clock.advance(Duration::seconds(1));

    let s = h.ledger.statement(&SYS, a.id, Some(from), Some(until)).await.expect("statement");
    assert_eq!((s.account, s.currency, s.from, s.until), (a.id, Currency::Usd, from, until));
    assert_eq!((s.opening, s.closing), (dec("100"), dec("67.5")));
    let kinds: Vec<TransactionKind> = s.lines.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, [TransactionKind::Transfer, TransactionKind::Entry, TransactionKind::Reversal]);
    assert_eq!(s.lines.iter().map(|l| l.change.change).collect::<Vec<_>>(), [dec("-40"), dec("-2.5"), dec("10")]);
    assert_eq!(s.lines[0].description.as_deref(), Some("rent"));
    assert_eq!(s.opening + s.lines.iter().map(|l| l.change.change).sum::<Decimal>(), s.closing);
    assert_eq!(s.lines.last().map(|l| l.change.balance), Some(s.closing));
    // Every period adds up, whatever its bounds.
    for (f, u) in [(0, 1), (0, 15), (1, 2), (5, 12), (11, 30), (0, 30)] {
        let s = h
            .ledger
            .statement(&SYS, a.id, Some(t0 + Duration::seconds(f)), Some(t0 + Duration::seconds(u)))
            .await
            .expect("statement");
        assert_eq!(s.opening + s.lines.iter().map(|l| l.change.change).sum::<Decimal>(), s.closing, "[t{f}, t{u})");
    }
    // A debit-normal account's statement reads on its side.
    let settlement =
        h.ledger.statement(&SYS, AccountId::settlement(Currency::Usd), Some(t0), Some(until)).await.expect("statement");
    assert_eq!((settlement.opening, settlement.closing), (Decimal::ZERO, dec("100")));
    // An end in the future is now; a period that ends before it starts is refused.
    let open_ended =
        h.ledger.statement(&SYS, a.id, Some(from), Some(h.ledger.now() + Duration::days(30))).await.expect("statement");
    assert_eq!(open_ended.until, h.ledger.now());
    assert_eq!(open_ended.closing, dec("1067.5"));
    let whole = h.ledger.statement(&SYS, a.id, None, None).await.expect("statement");
    assert_eq!(
        (whole.from, whole.until, whole.opening, whole.closing),
        (a.created_at, h.ledger.now(), Decimal::ZERO, dec("1067.5"))
    );
    assert_eq!(
        h.ledger.statement(&SYS, a.id, Some(until), Some(from)).await.map(|s| s.closing),
        Err(LedgerError::InvalidPeriod)
    );
    let stranger = Actor::customer(UserId::new());
    assert_eq!(
        h.ledger.statement(&stranger, a.id, Some(from), Some(until)).await.map(|s| s.closing),
        Err(LedgerError::AccountNotFound { account: a.id })
    );
}

/// A batch planned on a clock behind the last commit (another instance's,
/// or one that lost the race) commits at the last commit's time: times
/// follow commit order, so balances as of an instant stay exact.
pub async fn commit_times_never_go_back_even_when_a_clock_does(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    h.clock.advance(Duration::seconds(100));
    let first = deposit(&h, a.id, "10").await.transaction;
    h.clock.advance(Duration::seconds(-60));
    let second = deposit(&h, a.id, "5").await.transaction;
    assert_eq!(second.created_at, first.created_at, "committed no earlier than the commit before it");
    let stored = h.ledger.transaction(&SYS, second.id).await.expect("stored");
    assert_eq!(stored.created_at, first.created_at);
    let postings = all_postings(&h.ledger, a.id).await;
    assert!(postings.windows(2).all(|w| w[0].at <= w[1].at));
    let records = h.ledger.audit_log(&SYS, 0, 1_000).await.expect("audit");
    assert!(records.windows(2).all(|w| w[0].at <= w[1].at), "audit times follow the chain");
    // Still behind: what a commit opens, creates and changes is stamped at
    // its commit time, and what it does not write keeps its own.
    let placed = h.ledger.place_hold(&SYS, key(), hold(a.id, "3")).await.expect("hold").transaction;
    assert_eq!(placed.created_at, first.created_at);
    h.clock.advance(Duration::seconds(10));
    let voided = h.ledger.void_hold(&SYS, key(), VoidHold { hold: placed.id }).await.expect("void").transaction;
    assert_eq!((voided.created_at, voided.updated_at), (first.created_at, first.created_at));
    let opened = open(&h, Currency::Usd).await;
    assert_eq!((opened.created_at, opened.updated_at), (first.created_at, first.created_at));
    let account = h.ledger.account(&SYS, a.id).await.expect("account");
    assert_eq!((account.created_at, account.updated_at), (a.created_at, first.created_at));
    h.clock.advance(Duration::seconds(50));
    assert_eq!(h.ledger.balance_as_of(&SYS, a.id, first.created_at).await.map(|b| b.posted), Ok(dec("15")));
}
