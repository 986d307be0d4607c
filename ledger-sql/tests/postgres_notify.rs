//! Change notifications: a committed command announces the rows it changed
//! to every listener of its schema; a rejected one announces nothing; a
//! SQLite store has no listener. Skipped without `LEDGER_TEST_POSTGRES_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use ledger_core::{
    AccountKind, Actor, Amount, Currency, Deposit, IdempotencyKey, Ledger, LedgerError, OpenAccount, Transfer, UserId,
};
use ledger_sql::{Change, ChangeListener, ChangeNotice, SqlStore};

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text.to_owned()).unwrap()
}

/// The next change, within a bounded wait.
async fn next(listener: &mut ChangeListener) -> Change {
    tokio::time::timeout(Duration::from_secs(5), listener.recv()).await.expect("no notification in time").unwrap()
}

async fn next_notice(listener: &mut ChangeListener) -> ChangeNotice {
    match next(listener).await {
        Change::Notice(notice) => notice,
        Change::Resync => panic!("unexpected resync"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_transfer_is_announced_and_a_rejected_one_is_not() {
    let Some(url) = common::postgres_url("PostgreSQL change notifications") else { return };
    let schema = common::fresh_schema(&url).await;
    let writer = Arc::new(SqlStore::connect_with(&url, common::test_options(&schema)).await.unwrap());
    // Another store on the same schema, as another process would open it.
    let reader = SqlStore::connect_with(&url, common::test_options(&schema)).await.unwrap();
    // A store on another schema of the same database must not hear these commits.
    let other = common::fresh_postgres_store(&url).await;
    let mut other_listener = other.listen().await.unwrap();

    let ledger = Ledger::builder(writer.clone()).open().await.unwrap();
    let mut listener = reader.listen().await.unwrap();
    let mut own = writer.listen().await.unwrap();

    let open = |ledger: &Ledger| {
        let ledger = ledger.clone();
        async move {
            let command = OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
            ledger.open_account(&Actor::System, command).await.unwrap()
        }
    };
    let from = open(&ledger).await;
    let to = open(&ledger).await;
    assert_eq!(next_notice(&mut listener).await.accounts, vec![from.id]);
    assert_eq!(next_notice(&mut listener).await.accounts, vec![to.id]);

    let deposit = Deposit {
        account: from.id,
        amount: Amount::parse("10").unwrap(),
        description: None,
        metadata: Default::default(),
    };
    let deposited = ledger.deposit(&Actor::System, key("deposit"), deposit).await.unwrap();
    let notice = next_notice(&mut listener).await;
    assert!(notice.accounts.contains(&from.id), "{notice:?}");
    assert_eq!(notice.transactions, vec![deposited.transaction.id]);

    let transfer = Transfer {
        from: from.id,
        to: to.id.into(),
        amount: Amount::parse("4").unwrap(),
        description: None,
        metadata: Default::default(),
    };
    let moved = ledger.transfer(&Actor::System, key("transfer"), transfer).await.unwrap();
    let notice = next_notice(&mut listener).await;
    let mut accounts = notice.accounts.clone();
    accounts.sort();
    let mut expected = vec![from.id, to.id];
    expected.sort();
    assert_eq!(accounts, expected, "{notice:?}");
    assert_eq!(notice.transactions, vec![moved.transaction.id]);

    // Refused (too little money): only an audit record is written, nothing announced.
    let overdraw = Transfer {
        from: from.id,
        to: to.id.into(),
        amount: Amount::parse("100").unwrap(),
        description: None,
        metadata: Default::default(),
    };
    let refused = ledger.transfer(&Actor::System, key("overdraw"), overdraw).await;
    assert!(matches!(refused, Err(LedgerError::InsufficientFunds { .. })), "{refused:?}");
    // A replay of the committed transfer writes nothing either.
    let replay = Transfer {
        from: from.id,
        to: to.id.into(),
        amount: Amount::parse("4").unwrap(),
        description: None,
        metadata: Default::default(),
    };
    ledger.transfer(&Actor::System, key("transfer"), replay).await.unwrap();
    // The next notice is the next commit's, so nothing came in between.
    let last = open(&ledger).await;
    assert_eq!(next_notice(&mut listener).await.accounts, vec![last.id]);

    // The writer's own listener heard the same commits in the same order
    // (the settlement accounts opened by `Ledger::open` came before it listened).
    let mut heard = Vec::new();
    for _ in 0..5 {
        heard.push(next_notice(&mut own).await);
    }
    assert_eq!(heard[0].accounts, vec![from.id]);
    assert_eq!(heard[3].transactions, vec![moved.transaction.id]);
    assert_eq!(heard[4].accounts, vec![last.id]);

    // The other schema's listener heard none of it.
    let silent = tokio::time::timeout(Duration::from_millis(300), other_listener.recv()).await;
    assert!(silent.is_err(), "another schema's listener heard {silent:?}");
}

#[tokio::test]
async fn sqlite_and_disabled_stores_do_not_listen() {
    let store = SqlStore::connect(&common::fresh_sqlite_url()).await.unwrap();
    let error = store.listen().await.unwrap_err().to_string();
    assert!(error.contains("need PostgreSQL"), "{error}");

    let Some(url) = common::postgres_url("PostgreSQL with notifications off") else { return };
    let schema = common::fresh_schema(&url).await;
    let options = common::test_options(&schema).notify(false);
    let store = SqlStore::connect_with(&url, options).await.unwrap();
    let error = store.listen().await.unwrap_err().to_string();
    assert!(error.contains("notifications are off"), "{error}");
    // Commits still work without notifications.
    Ledger::open(store).await.unwrap();
}
