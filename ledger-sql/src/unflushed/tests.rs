//! Commits that wait for their flush apart, against a real PostgreSQL
//! (`LEDGER_TEST_POSTGRES_URL`; skipped without it): the group's
//! transaction alone commits without waiting, its session is kept until
//! `sync` flushes on it, a session that died meanwhile fails the sync as
//! unknown and leaves the store usable, and a read-only store still reads
//! the change feed (it cannot flush, and need not).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use ledger_core::conformance::recording::RecordingStore;
use ledger_core::{
    AccountId, AccountKind, Actor, Amount, BatchOutcome, Currency, Deposit, IdempotencyKey, Ledger, OpenAccount,
    StorageErrorKind, Store, UserId, WriteBatch,
};
use sqlx::{Connection, Row};

use super::BEGIN_UNFLUSHED;
use crate::store::Inner;
use crate::{SqlOptions, SqlStore};

/// A store on a new schema of the test server, and the server's URL and
/// the schema's name.
async fn store() -> Option<(Arc<SqlStore>, String, String)> {
    let (url, schema) = crate::test_postgres::fresh_schema("PostgreSQL commits flushed apart").await?;
    let options = SqlOptions::default().max_connections(3).schema(Some(schema.clone()));
    Some((Arc::new(SqlStore::connect_with(&url, options).await.unwrap()), url, schema))
}

fn kept(store: &SqlStore) -> usize {
    let Inner::Postgres(backend) = store.inner() else { panic!("a PostgreSQL store") };
    backend.unflushed.sessions.lock().unwrap().len()
}

/// An account, and the batches of a deposit of `value` into it (planned by
/// a ledger, not applied).
async fn account_and_deposit(store: &Arc<SqlStore>, value: &str) -> (Ledger, AccountId, Vec<WriteBatch>) {
    let capture = Arc::new(RecordingStore::new(store.clone(), Duration::ZERO));
    let ledger = Ledger::builder(capture.clone()).open().await.unwrap();
    let open = OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
    let account = ledger.open_account(&Actor::System, open).await.unwrap().id;
    capture.start_capture();
    let deposit =
        Deposit { account, amount: Amount::parse(value).unwrap(), description: None, metadata: Default::default() };
    let key = IdempotencyKey::new(format!("deposit-{value}")).unwrap();
    assert!(ledger.deposit(&Actor::System, key, deposit).await.is_err(), "captured, not applied");
    (Ledger::builder(store.clone()).open().await.unwrap(), account, capture.stop_capture())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsynced_commit_is_seen_at_once_and_its_session_is_kept_until_sync_flushes_it() {
    let Some((store, _url, _schema)) = store().await else { return };
    let (ledger, account, batches) = account_and_deposit(&store, "25").await;

    let outcomes = store.apply_unsynced(batches).await.unwrap();
    assert!(matches!(outcomes.as_slice(), [BatchOutcome::Committed(_)]));
    assert_eq!(kept(&store), 1, "the session that committed waits for sync");
    let balance = ledger.balance(&Actor::System, account).await.unwrap();
    assert_eq!(balance.posted.to_string(), "25.00", "committed, so read by others before its flush");

    store.sync().await.unwrap();
    assert_eq!(kept(&store), 0, "flushed, the session is back in the pool");
    store.sync().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_whose_session_died_fails_as_unknown_and_the_store_goes_on() {
    let Some((store, url, _schema)) = store().await else { return };
    let (ledger, account, batches) = account_and_deposit(&store, "40").await;
    store.apply_unsynced(batches).await.unwrap();
    let Inner::Postgres(backend) = store.inner() else { panic!("a PostgreSQL store") };
    let mut session = backend.unflushed.sessions.lock().unwrap().pop().expect("a kept session");
    let pid: i32 = sqlx::query("SELECT pg_backend_pid()").fetch_one(&mut *session).await.unwrap().get(0);
    backend.unflushed.keep(session);
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    let killed: bool =
        sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).fetch_one(&mut admin).await.unwrap().get(0);
    assert!(killed);

    let failed = store.sync().await.expect_err("a flush on a dead session cannot say the commit is durable");
    assert_eq!(failed.kind, StorageErrorKind::Unknown);
    assert_eq!(kept(&store), 0);
    // The server kept the commit, and later commits rest on it.
    let key = IdempotencyKey::new("after").unwrap();
    let more =
        Deposit { account, amount: Amount::parse("2").unwrap(), description: None, metadata: Default::default() };
    ledger.deposit(&Actor::System, key, more).await.unwrap();
    assert_eq!(ledger.balance(&Actor::System, account).await.unwrap().posted.to_string(), "42.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_unflushed_begin_turns_synchronous_commit_off_for_its_transaction_only() {
    let Some(url) = crate::test_postgres::url("PostgreSQL commits flushed apart") else { return };
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    async fn setting(conn: &mut sqlx::PgConnection) -> String {
        sqlx::query("SHOW synchronous_commit").fetch_one(conn).await.unwrap().get(0)
    }
    let session = setting(&mut conn).await;
    assert_ne!(session, "off", "the test server's sessions commit synchronously");
    let mut tx = conn.begin_with(BEGIN_UNFLUSHED).await.unwrap();
    assert_eq!(setting(&mut tx).await, "off");
    tx.commit().await.unwrap();
    assert_eq!(setting(&mut conn).await, session, "the flush runs with the session's own setting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_store_reads_the_change_feed_without_flushing() {
    let Some((store, url, schema)) = store().await else { return };
    let (ledger, _account, _batches) = account_and_deposit(&store, "7").await;
    drop(ledger);
    let written = store.changes_after(0, 100).await.unwrap();
    assert!(!written.is_empty(), "opening an account is a change");
    let options = SqlOptions::default().max_connections(1).schema(Some(schema)).read_only(true);
    let reader = SqlStore::connect_with(&url, options).await.unwrap();
    assert_eq!(reader.changes_after(0, 100).await.unwrap(), written);
}
