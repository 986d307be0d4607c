//! Booking apart against a real PostgreSQL (`LEDGER_TEST_POSTGRES_URL`;
//! skipped without it): bookings of disjoint accounts hold their locks side
//! by side (no head to queue on); a booking whose caller never waited for its seal
//! (killed between its `COMMIT` and its pass) is sealed by the next pass
//! of any instance, in ticket order, a replay of its key through another
//! instance is answered with it sealed, and what the chain then holds is
//! what its caller would have been handed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use ledger_core::conformance::invariants;
use ledger_core::conformance::recording::RecordingStore;
use ledger_core::{
    AccountKind, Actor, Amount, BookingStaging, Currency, Deposit, IdempotencyKey, Keys, Ledger, OpenAccount, Sealed,
    Store, Transfer, Unsealed, UserId,
};
use sqlx::{Connection, Row};

use crate::booking::sealer::{Sealer, resealed};
use crate::booking::staging::PgBooking;
use crate::booking::{book_once, pending::PendingBooking};
use crate::store::Inner;
use crate::{SqlOptions, SqlStore};

/// Two stores booking apart on a new schema of the test server, and its name.
async fn two_stores() -> Option<(Arc<SqlStore>, Arc<SqlStore>, String, String)> {
    let (url, schema) = crate::test_postgres::fresh_schema("PostgreSQL booking apart").await?;
    let options = SqlOptions::default().max_connections(3).schema(Some(schema.clone())).book_apart(true);
    let a = SqlStore::connect_with(&url, options.clone()).await.unwrap();
    let b = SqlStore::connect_with(&url, options).await.unwrap();
    Some((Arc::new(a), Arc::new(b), url, schema))
}

fn amount(text: &str) -> Amount {
    Amount::parse(text).unwrap()
}

fn deposit(account: ledger_core::AccountId, value: &str) -> Deposit {
    Deposit { account, amount: amount(value), description: None, metadata: Default::default() }
}

async fn scalar(url: &str, schema: &str, sql: &str) -> i64 {
    let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
    let mut conn = sqlx::PgConnection::connect_with(&options.options([("search_path", schema)])).await.unwrap();
    sqlx::query(sql).fetch_one(&mut conn).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsealed_booking_its_caller_left_is_sealed_and_replayed_by_another_instance() {
    let Some((a, b, url, schema)) = two_stores().await else { return };
    let capture = Arc::new(RecordingStore::new(a.clone(), Duration::ZERO));
    let planner = Ledger::builder(capture.clone()).open().await.unwrap();
    let open = || OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
    let from = planner.open_account(&Actor::System, open()).await.unwrap().id;
    let to = planner.open_account(&Actor::System, open()).await.unwrap().id;
    let key = |k: &str| IdempotencyKey::new(k).unwrap();
    planner.deposit(&Actor::System, key("fund"), deposit(from, "100")).await.unwrap();

    // Instance A books a transfer and is gone before any pass: its booking
    // is committed, unsealed.
    capture.start_capture();
    let command =
        Transfer { from, to: to.into(), amount: amount("30"), description: None, metadata: Default::default() };
    assert!(planner.transfer(&Actor::System, key("orphan"), command).await.is_err(), "captured");
    let batches = capture.stop_capture();
    let Inner::Postgres(backend) = a.inner() else { panic!("a PostgreSQL store") };
    let gone = Sealer::default();
    let booked = book_once(backend.pool(), &gone, &batches).await.unwrap();
    let [(ticket, orphan)]: [(u64, PendingBooking); 1] = booked.pending.clone().try_into().unwrap();
    drop(booked);
    let Unsealed::Booked(booking) = &orphan.unsealed else { panic!("a booking") };
    let id = booking.new_transactions[0].id;
    assert_eq!(scalar(&url, &schema, "SELECT count(*) FROM pending").await, 1);
    let placeholder = format!("SELECT sequence FROM transactions WHERE id = '{id}'");
    assert!(scalar(&url, &schema, &placeholder).await < 0, "unsealed, under its placeholder");
    assert_eq!(a.transaction(id).await.unwrap(), None, "an unsealed transaction is not read by id");

    // Its client retries through instance B: the replay finds the booking
    // unsealed, and is answered with it sealed (B's pass seals it).
    let ledger = Ledger::builder(b.clone()).open().await.unwrap();
    let again = Transfer { from, to: to.into(), amount: amount("30"), description: None, metadata: Default::default() };
    let replayed = ledger.transfer(&Actor::System, key("orphan"), again).await.unwrap();
    assert_eq!(scalar(&url, &schema, "SELECT count(*) FROM pending").await, 0);
    let sealed = a.transaction(id).await.unwrap().expect("sealed, so read");
    assert!(sealed.sequence > 0);
    assert_eq!(replayed.transaction, sealed);
    ledger.deposit(&Actor::System, key("later"), deposit(to, "5")).await.unwrap();
    let balance = ledger.balance(&Actor::System, from).await.unwrap();
    assert_eq!(balance.posted.to_string(), "70.00");

    // What its caller would have been handed is what the chain holds.
    let Inner::Postgres(backend) = b.inner() else { panic!("a PostgreSQL store") };
    let mut conn = backend.pool().acquire().await.unwrap();
    let Sealed::Committed(writes) = resealed(&mut conn, ticket, orphan).await.unwrap() else { panic!("committed") };
    assert_eq!(writes.new_transactions[0], sealed);
    let audit = format!("SELECT sequence FROM audit_log WHERE ticket = {ticket}");
    assert_eq!(scalar(&url, &schema, &audit).await, i64::try_from(writes.audit.sequence).unwrap());
    invariants::check(&ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_of_disjoint_accounts_hold_their_locks_side_by_side_and_one_account_queues() {
    let Some((a, _b, _url, _schema)) = two_stores().await else { return };
    let ledger = Ledger::builder(a.clone()).open().await.unwrap();
    let open = || OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
    let x = ledger.open_account(&Actor::System, open()).await.unwrap().id;
    let y = ledger.open_account(&Actor::System, open()).await.unwrap().id;
    let keys = |id| Keys { accounts: [id].into_iter().collect(), ..Keys::default() };
    let Inner::Postgres(backend) = a.inner() else { panic!("a PostgreSQL store") };
    let pool = backend.pool();

    let mut first = pool.begin().await.unwrap();
    let mut holding_x = PgBooking::new(&mut first);
    assert!(holding_x.load(&keys(x)).await.unwrap().accounts.contains_key(&x));
    // No head to queue on: another account's booking locks it at once.
    let mut second = pool.begin().await.unwrap();
    let mut holding_y = PgBooking::new(&mut second);
    let beside = tokio::time::timeout(Duration::from_secs(5), holding_y.load(&keys(y))).await;
    assert!(beside.expect("a disjoint booking does not wait").unwrap().accounts.contains_key(&y));
    // The same account's booking waits for the first to end.
    let mut third = pool.begin().await.unwrap();
    let mut after_x = PgBooking::new(&mut third);
    let queued = tokio::time::timeout(Duration::from_millis(300), after_x.load(&keys(x))).await;
    assert!(queued.is_err(), "a booking of a locked account waits for its lock");
}
