//! Reads by sequence and by commit time see sealed rows only. A booking
//! that is not yet sealed keeps its rows under negative placeholder
//! sequences, `-(ticket * SEQUENCE_STRIDE + position)` (ARCHITECTURE.md,
//! "PostgreSQL without one commit lock", build order step 2): history
//! pages, postings, balances as of an instant and their history, the
//! change feed and exports pass over them, so no cursor hands out a row
//! that its seal would later number below the cursor. Reads by id and of
//! current state are step 4's (what a transaction read before its seal
//! carries for a sequence). The placeholders are written here by hand, as
//! the bookings of step 3 will write them.
//!
//! Every case runs on SQLite and (with `LEDGER_TEST_POSTGRES_URL`) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::sync::Arc;

use chrono::Utc;
use ledger_core::{
    AccountId, AccountKind, Actor, Amount, Currency, Deposit, HistoryFilter, IdempotencyKey, Ledger, Metadata,
    OpenAccount, PostingRange, SEQUENCE_STRIDE, Store, SystemClock, TransactionId, Transfer, UserId,
};

use common::db::Db;

on_both!(reads_by_sequence_and_by_time_pass_over_unsealed_rows);

/// The ticket of the hand-written booking.
const TICKET: u64 = 7;

/// The placeholder of the record at `position` of the unsealed booking.
fn placeholder(position: u64) -> i64 {
    -i64::try_from(TICKET * SEQUENCE_STRIDE + position).unwrap()
}

/// What every read by sequence or time returns, to compare before and
/// after the placeholders are written.
#[derive(Debug, PartialEq)]
struct Sequenced {
    history: Vec<Vec<TransactionId>>,
    postings: Vec<u64>,
    as_of: Option<u64>,
    range: Vec<u64>,
    changes: Vec<u64>,
    exported: Vec<TransactionId>,
}

async fn read_sequenced(store: &dyn Store, a: AccountId, b: AccountId) -> Sequenced {
    let order = vec![("order".to_owned(), "o-1".to_owned())];
    let filters = [
        HistoryFilter::default(),
        HistoryFilter::account(a),
        HistoryFilter { accounts: vec![a, b], ..HistoryFilter::default() },
        HistoryFilter { metadata: order.clone(), ..HistoryFilter::default() },
        HistoryFilter { metadata: order, ..HistoryFilter::account(a) },
    ];
    let mut history = Vec::new();
    for filter in &filters {
        // A page from the newest, and one below a cursor past every row.
        for before in [None, Some(u64::MAX / 4)] {
            let page = store.transactions(filter, before, 50).await.unwrap();
            history.push(page.iter().map(|t| t.id).collect());
        }
    }
    let range = PostingRange { account: a, from: None, until: None, after: None, newest_first: true };
    Sequenced {
        history,
        postings: store.postings(a, None, 50).await.unwrap().iter().map(|p| p.sequence).collect(),
        // A day ahead: past every row, the placeholders' included.
        as_of: store.posting_as_of(a, Utc::now() + chrono::Duration::days(1)).await.unwrap().map(|p| p.sequence),
        range: store.postings_in(&range, 50).await.unwrap().iter().map(|p| p.sequence).collect(),
        changes: store.changes_after(0, 50).await.unwrap().iter().map(|c| c.sequence).collect(),
        exported: store.transactions_after(None, 50).await.unwrap().iter().map(|t| t.id).collect(),
    }
}

async fn reads_by_sequence_and_by_time_pass_over_unsealed_rows(db: Db) {
    let store = db.store().await;
    let ledger = Ledger::open_with_clock(store.clone(), Arc::new(SystemClock)).await.unwrap();
    let owner = UserId::new();
    let open = |owner| OpenAccount::new(owner, AccountKind::Checking, Currency::Usd);
    let a = ledger.open_account(&Actor::System, open(owner)).await.unwrap().id;
    let b = ledger.open_account(&Actor::System, open(UserId::new())).await.unwrap().id;
    let second = ledger.open_account(&Actor::System, open(owner)).await.unwrap().id;
    let deposit =
        Deposit { account: a, amount: Amount::parse("100").unwrap(), description: None, metadata: Metadata::default() };
    ledger.deposit(&Actor::System, IdempotencyKey::new("d-1").unwrap(), deposit).await.unwrap();
    let transfer = Transfer {
        from: a,
        to: b.into(),
        amount: Amount::parse("10").unwrap(),
        description: None,
        metadata: Metadata::new([("order", "o-1")]).unwrap(),
    };
    let sealed =
        ledger.transfer(&Actor::System, IdempotencyKey::new("t-1").unwrap(), transfer).await.unwrap().transaction;
    let before = read_sequenced(&*store, a, b).await;
    assert_eq!(before.history[0].first(), Some(&sealed.id), "the sealed transfer leads history");
    assert_eq!(before.postings.len(), 2, "the deposit's and the transfer's lines on a");

    // The same transfer again, booked and not sealed: its rows under
    // placeholders, a millisecond later than the sealed one. And the
    // owner's second account, opened by that booking.
    let id = |uuid: uuid::Uuid| if db.is_postgres() { format!("'{uuid}'") } else { format!("X'{}'", uuid.simple()) };
    let copy = id(uuid::Uuid::now_v7());
    let (a_id, b_id) = (id(*a.as_uuid()), id(*b.as_uuid()));
    let later = if db.is_postgres() { "at + interval '1 millisecond'" } else { "at + 1000" };
    let (unsealed, line, line2) = (placeholder(0), placeholder(0), placeholder(1));
    db.raw(&[
        format!(
            "INSERT INTO transactions (id, sequence, kind, status, amount, currency, from_account, to_account, \
             description, captured_amount, expires_at, created_at, updated_at, legs, metadata, reverses, \
             reversed_amount) SELECT {copy}, {unsealed}, kind, status, amount, currency, from_account, \
             to_account, description, captured_amount, expires_at, created_at, updated_at, legs, metadata, \
             reverses, reversed_amount FROM transactions WHERE sequence = {}",
            sealed.sequence
        ),
        format!(
            "INSERT INTO postings (sequence, transaction_id, account_id, amount, currency, balance_after, at) \
             SELECT CASE WHEN account_id = {a_id} THEN {line} ELSE {line2} END, {copy}, account_id, amount, \
             currency, balance_after, {later} FROM postings WHERE transaction_id = {}",
            id(*sealed.id.as_uuid())
        ),
        format!(
            "INSERT INTO account_transactions (account_id, sequence) VALUES ({a_id}, {unsealed}), ({b_id}, {unsealed})"
        ),
        format!("INSERT INTO transaction_metadata (key, value, sequence) VALUES ('order', 'o-1', {unsealed})"),
        format!(
            "INSERT INTO changes (sequence, kind, at, body) SELECT {unsealed}, kind, at, body FROM changes \
             WHERE sequence = (SELECT MAX(sequence) FROM changes)"
        ),
        format!("UPDATE accounts SET opened_seq = {} WHERE id = {}", placeholder(2), id(*second.as_uuid())),
    ])
    .await
    .unwrap();

    assert_eq!(read_sequenced(&*store, a, b).await, before, "an unsealed booking shows in no read by sequence or time");

    // A third account of the owner, sealed after the booking was made: the
    // unsealed opening lists last, where its seal will put it.
    let third = ledger.open_account(&Actor::System, open(owner)).await.unwrap().id;
    let listed: Vec<AccountId> = store.accounts_by_owner(owner).await.unwrap().iter().map(|x| x.id).collect();
    assert_eq!(listed, [a, third, second]);
}
