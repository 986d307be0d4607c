//! Migrations applied to databases made at an older schema, with data in
//! them: each upgrade fills what the new schema adds and the figures
//! check.
//!
//! Every case runs on SQLite and (with `LEDGER_TEST_POSTGRES_URL`) PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use std::str::FromStr;

use chrono::Duration;
use ledger_core::conformance::Harness;
use ledger_core::conformance::invariants::{self, all_transactions};
use ledger_core::{
    AccountCode, AccountId, AccountKind, Actor, Amount, CaptureHold, Currency, Deposit, HistoryFilter, IdempotencyKey,
    Ledger, NormalBalance, OpenAccount, PlaceHold, Store, Transaction, Transfer, UserId, Withdraw,
};
use sqlx::Connection;

use common::db::{Db, pg_connection};
use common::people::{device, login_with, registration};

on_both!(
    schema_0002_applies_on_a_0001_database_with_data,
    schema_0004_backfills_history_on_a_0003_database_with_data,
    schema_0005_fills_running_balances_on_a_0004_database_with_data,
    schema_0006_starts_the_change_feed_on_a_0005_database_with_data,
);

// Migrations.

/// The schema's description: every table, column, index and constraint,
/// one line each, sorted.
async fn describe_schema(db: &Db) -> Vec<String> {
    let mut lines = match db {
        Db::Sqlite { .. } => {
            db.strings("SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(sql, '') FROM sqlite_master")
                .await
        }
        Db::Postgres { .. } => {
            db.strings(
                "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' \
                        || coalesce(column_default, '') \
                   FROM information_schema.columns WHERE table_schema = $1 \
                 UNION ALL \
                 SELECT 'index ' || tablename || ' ' || replace(indexdef, $1 || '.', '') \
                   FROM pg_indexes WHERE schemaname = $1 \
                 UNION ALL \
                 SELECT 'constraint ' || cl.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid) \
                   FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid \
                   JOIN pg_namespace n ON n.oid = con.connamespace WHERE n.nspname = $1",
            )
            .await
        }
    };
    lines.sort();
    lines
}

/// Applies only migration 0001 to an empty database, as the build before
/// identity did (the same file, so the same checksum).
async fn migrate_to_0001(db: &Db) {
    migrate_to(db, 1).await;
}

/// Applies this build's migrations up to `version` alone.
async fn migrate_to(db: &Db, version: i64) {
    let dialect = if db.is_postgres() { "postgres" } else { "sqlite" };
    let dir = tempfile::tempdir().unwrap();
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect);
    for entry in std::fs::read_dir(&migrations).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let number: i64 = name[..4].parse().unwrap();
        if number <= version {
            std::fs::copy(migrations.join(&name), dir.path().join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    assert_eq!(migrator.iter().map(|m| m.version).collect::<Vec<_>>(), (1..=version).collect::<Vec<_>>());
    match db {
        Db::Sqlite { url } => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url).unwrap().create_if_missing(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
            migrator.run(&mut conn).await.unwrap();
        }
        Db::Postgres { url, schema } => migrator.run(&mut pg_connection(url, schema).await).await.unwrap(),
    }
}

/// Undoes migration 0007 (booking apart, PostgreSQL's: SQLite's is empty)
/// and drops its record, leaving a 0006 database.
async fn strip_0007(db: &Db) {
    let mut statements = Vec::new();
    if db.is_postgres() {
        statements.extend([
            "DROP TABLE pending",
            "DROP SEQUENCE tickets",
            "ALTER TABLE accounts DROP COLUMN ticket",
            "ALTER TABLE transactions DROP COLUMN ticket",
            "ALTER TABLE users DROP COLUMN ticket",
            "ALTER TABLE audit_log DROP COLUMN ticket",
        ]);
    }
    statements.push("DELETE FROM _sqlx_migrations WHERE version >= 7");
    db.raw(&statements.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).await.unwrap();
}

/// Undoes migrations 0007 and 0006 (the change feed) and drops their
/// records, leaving a 0005 database.
async fn strip_0006(db: &Db) {
    strip_0007(db).await;
    let statements = ["DROP TABLE changes", "DROP TABLE sink_cursors", "DROP TABLE leases"];
    let mut statements: Vec<String> = statements.iter().map(|s| (*s).to_owned()).collect();
    statements.push("DELETE FROM _sqlx_migrations WHERE version >= 6".to_owned());
    db.raw(&statements).await.unwrap();
}

/// Undoes migrations 0006 and 0005 (running balances) and drops their
/// records, leaving a 0004 database.
async fn strip_0005(db: &Db) {
    strip_0006(db).await;
    let mut statements = vec!["DROP INDEX postings_account_time_idx", "ALTER TABLE audit_head DROP COLUMN at"];
    if db.is_postgres() {
        statements.extend([
            "ALTER TABLE postings DROP COLUMN balance_after, DROP COLUMN at",
            "ALTER TABLE transactions DROP COLUMN reverses, DROP COLUMN reversed_amount",
        ]);
    } else {
        statements.extend([
            "ALTER TABLE postings DROP COLUMN balance_after",
            "ALTER TABLE postings DROP COLUMN at",
            "ALTER TABLE transactions DROP COLUMN reverses",
            "ALTER TABLE transactions DROP COLUMN reversed_amount",
        ]);
    }
    statements.push("DELETE FROM _sqlx_migrations WHERE version >= 5");
    db.raw(&statements.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).await.unwrap();
}

/// Undoes migration 0004 (general ledger I) and drops its record, leaving a
/// 0003 database: its tables and columns go, the two per-side history
/// indexes it replaced come back.
async fn strip_0004(db: &Db) {
    let mut statements = vec![
        "DROP TABLE transaction_metadata",
        "DROP TABLE account_transactions",
        "CREATE INDEX transactions_from_account_idx ON transactions (from_account, sequence)",
        "CREATE INDEX transactions_to_account_idx ON transactions (to_account, sequence)",
    ];
    if db.is_postgres() {
        statements.extend([
            "ALTER TABLE accounts DROP COLUMN code, DROP COLUMN normal_balance, DROP COLUMN ledger_floor, \
             DROP COLUMN metadata",
            "ALTER TABLE transactions DROP COLUMN legs, DROP COLUMN metadata",
        ]);
    } else {
        statements.extend([
            "DROP INDEX accounts_code_key",
            "ALTER TABLE accounts DROP COLUMN code",
            "ALTER TABLE accounts DROP COLUMN normal_balance",
            "ALTER TABLE accounts DROP COLUMN ledger_floor",
            "ALTER TABLE accounts DROP COLUMN metadata",
            "ALTER TABLE transactions DROP COLUMN legs",
            "ALTER TABLE transactions DROP COLUMN metadata",
        ]);
    }
    statements.push("DELETE FROM _sqlx_migrations WHERE version >= 4");
    db.raw(&statements.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).await.unwrap();
}

/// Drops what migrations 0002 and 0003 add and their records, leaving a
/// 0001 database (0003 only adds a column to 0002's `users`). Strip 0004
/// first.
async fn strip_0002(db: &Db) {
    let statements = [
        "DROP TABLE reset_tokens",
        "DROP TABLE sessions",
        "DROP TABLE users",
        "DROP INDEX audit_log_actor_idx",
        "DELETE FROM _sqlx_migrations WHERE version >= 2",
    ];
    db.raw(&statements.map(str::to_owned)).await.unwrap();
}

async fn schema_0002_applies_on_a_0001_database_with_data(db: Db) {
    // What a 0001 schema looks like, made by the 0001 migration alone.
    let pristine = match &db {
        Db::Sqlite { .. } => Db::sqlite(),
        Db::Postgres { url, .. } => Db::Postgres { url: url.clone(), schema: common::fresh_schema(url).await },
    };
    migrate_to_0001(&pristine).await;
    assert_eq!(pristine.versions().await, ["1"]);
    let schema_0001 = describe_schema(&pristine).await;
    assert!(schema_0001.iter().any(|line| line.contains("audit_head")), "{schema_0001:?}");
    assert!(!schema_0001.iter().any(|line| line.contains("sessions")), "{schema_0001:?}");

    // A ledger with money in it, taken back to schema 0001.
    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    let owner = UserId::new();
    let from = h.ledger.open_account(&Actor::System, OpenAccount::new(owner, AccountKind::Checking, Currency::Usd));
    let from = from.await.unwrap();
    let to = h.ledger.open_account(&Actor::System, OpenAccount::new(owner, AccountKind::Savings, Currency::Usd));
    let to = to.await.unwrap();
    let deposit = Deposit {
        account: from.id,
        amount: Amount::parse("100").unwrap(),
        description: None,
        metadata: Default::default(),
    };
    h.ledger.deposit(&Actor::System, IdempotencyKey::new("d").unwrap(), deposit).await.unwrap();
    let transfer = Transfer {
        from: from.id,
        to: to.id.into(),
        amount: Amount::parse("42.5").unwrap(),
        description: None,
        metadata: Default::default(),
    };
    h.ledger.transfer(&Actor::System, IdempotencyKey::new("t").unwrap(), transfer).await.unwrap();
    let head = h.ledger.verify_audit_chain(&Actor::System, None).await.unwrap();
    let records = store.audit_records(0, 1_000).await.unwrap();
    drop(h);
    store.close().await;
    strip_0005(&db).await;
    strip_0004(&db).await;
    strip_0002(&db).await;
    assert_eq!(db.versions().await, ["1"]);
    assert_eq!(describe_schema(&db).await, schema_0001, "the stripped database is a 0001 database");

    // Opening it applies 0002 and keeps everything.
    let store = db.store().await;
    assert_eq!(db.versions().await, ["1", "2", "3", "4", "5", "6", "7"]);
    let h = Harness::new(store.clone()).await;
    assert_eq!(h.ledger.verify_audit_chain(&Actor::System, Some(head)).await.unwrap(), head);
    assert_eq!(h.ledger.balance(&Actor::System, from.id).await.unwrap().posted.to_string(), "57.50");
    assert_eq!(h.ledger.balance(&Actor::System, to.id).await.unwrap().posted.to_string(), "42.50");
    assert!(records.iter().all(|r| r.actor == "system"));
    assert_eq!(store.audit_records_by_actor("system", 0, 1_000).await.unwrap(), records, "indexed over old rows");
    let user = h.ledger.register(registration("late@example.com", "Late Comer")).await.unwrap();
    let login = login_with(&h, "late@example.com", device("new")).await;
    assert_eq!(store.sessions_of(user.id, 10).await.unwrap(), vec![login.session]);
    let own = store.audit_records_by_actor(&format!("user:{}", user.id), 0, 10).await.unwrap();
    assert_eq!(own.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(), ["auth.register", "auth.login"]);
    h.ledger.verify_audit_chain(&Actor::System, None).await.unwrap();
    store.close().await;

    // The empty 0001 database opens too, and ends up with the same schema.
    let migrated = pristine.store().await;
    Ledger::builder(migrated.clone()).open().await.unwrap();
    migrated.close().await;
    assert_eq!(pristine.versions().await, ["1", "2", "3", "4", "5", "6", "7"]);
    assert_eq!(describe_schema(&pristine).await, describe_schema(&db).await);
}

/// A ledger with money in it at schema 0003 gets 0004: the settlement
/// accounts become ledger accounts, every account's history is backfilled
/// (the settlement side of deposits and withdrawals included, which 0003
/// never indexed), and every balance, transaction and audit record stays.
async fn schema_0004_backfills_history_on_a_0003_database_with_data(db: Db) {
    let pristine = match &db {
        Db::Sqlite { .. } => Db::sqlite(),
        Db::Postgres { url, .. } => Db::Postgres { url: url.clone(), schema: common::fresh_schema(url).await },
    };
    migrate_to(&pristine, 3).await;
    let schema_0003 = describe_schema(&pristine).await;

    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    let sys = Actor::System;
    let owner = UserId::new();
    let a = h.ledger.open_account(&sys, OpenAccount::new(owner, AccountKind::Checking, Currency::Usd)).await.unwrap();
    let b = h.ledger.open_account(&sys, OpenAccount::new(owner, AccountKind::Savings, Currency::Usd)).await.unwrap();
    let key = |k: &str| IdempotencyKey::new(k).unwrap();
    let money = |t: &str| Amount::parse(t).unwrap();
    let deposit = Deposit { account: a.id, amount: money("100"), description: None, metadata: Default::default() };
    h.ledger.deposit(&sys, key("d"), deposit).await.unwrap();
    let transfer =
        Transfer { from: a.id, to: b.id.into(), amount: money("30"), description: None, metadata: Default::default() };
    h.ledger.transfer(&sys, key("t"), transfer).await.unwrap();
    let withdrawal = Withdraw { account: b.id, amount: money("5"), description: None, metadata: Default::default() };
    h.ledger.withdraw(&sys, key("w"), withdrawal).await.unwrap();
    let hold = PlaceHold {
        account: a.id,
        amount: money("10"),
        destination: Some(b.number.into()),
        expires_at: None,
        description: None,
        metadata: Default::default(),
    };
    let held = h.ledger.place_hold(&sys, key("h"), hold).await.unwrap().transaction;
    h.ledger.capture_hold(&sys, key("c"), CaptureHold { hold: held.id, amount: Some(money("4")) }).await.unwrap();
    let settlement = AccountId::settlement(Currency::Usd);
    let mut histories = Vec::new();
    for account in [a.id, b.id, settlement] {
        histories.push(all_transactions(&h.ledger, &HistoryFilter::account(account)).await);
    }
    assert_eq!(histories[2].len(), 2, "the deposit and the withdrawal touch settlement");
    let head = h.ledger.verify_audit_chain(&sys, None).await.unwrap();
    drop(h);
    store.close().await;
    strip_0005(&db).await;
    strip_0004(&db).await;
    assert_eq!(db.versions().await, ["1", "2", "3"]);
    assert_eq!(describe_schema(&db).await, schema_0003, "the stripped database is a 0003 database");

    let store = db.store().await;
    assert_eq!(db.versions().await, ["1", "2", "3", "4", "5", "6", "7"]);
    let h = Harness::new(store.clone()).await;
    assert_eq!(h.ledger.verify_audit_chain(&sys, Some(head)).await.unwrap(), head);
    for (account, before) in [a.id, b.id, settlement].into_iter().zip(&histories) {
        let after = all_transactions(&h.ledger, &HistoryFilter::account(account)).await;
        let ids = |ts: &[Transaction]| ts.iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(ids(&after), ids(before), "history of {account} after the backfill");
        let legs = |ts: &[Transaction]| ts.iter().map(Transaction::legs).collect::<Vec<_>>();
        assert_eq!(legs(&after), legs(before), "legs derived from the 0003 rows");
    }
    let code = AccountCode::settlement(Currency::Usd);
    let found = h.ledger.ledger_account(&sys, &code).await.unwrap();
    assert_eq!((found.id, found.normal_balance), (settlement, NormalBalance::Debit));
    assert_eq!(h.ledger.balance(&sys, settlement).await.unwrap().posted.to_string(), "95.00", "debit-normal");
    assert_eq!(h.ledger.balance(&sys, a.id).await.unwrap().posted.to_string(), "66.00");
    assert_eq!(h.ledger.balance(&sys, b.id).await.unwrap().posted.to_string(), "29.00");
    invariants::check(&h.ledger).await;
    store.close().await;
}

/// A ledger with money in it at schema 0004 gets 0005: every posting's
/// running balance and commit time are filled from what is stored, so
/// balances as of past instants and statements come out right, and what
/// commits next goes on from them.
async fn schema_0005_fills_running_balances_on_a_0004_database_with_data(db: Db) {
    let pristine = match &db {
        Db::Sqlite { .. } => Db::sqlite(),
        Db::Postgres { url, .. } => Db::Postgres { url: url.clone(), schema: common::fresh_schema(url).await },
    };
    migrate_to(&pristine, 4).await;
    let schema_0004 = describe_schema(&pristine).await;

    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    let sys = Actor::System;
    let owner = UserId::new();
    let a = h.ledger.open_account(&sys, OpenAccount::new(owner, AccountKind::Checking, Currency::Eur)).await.unwrap();
    let b = h.ledger.open_account(&sys, OpenAccount::new(owner, AccountKind::Savings, Currency::Eur)).await.unwrap();
    let key = |k: &str| IdempotencyKey::new(k).unwrap();
    let money = |t: &str| Amount::parse(t).unwrap();
    let step = || h.clock.advance(Duration::seconds(10));
    let mut instants = Vec::new();
    step();
    let deposit = Deposit { account: a.id, amount: money("1000.25"), description: None, metadata: Default::default() };
    h.ledger.deposit(&sys, key("d"), deposit).await.unwrap();
    instants.push(h.ledger.now());
    step();
    let transfer = Transfer {
        from: a.id,
        to: b.id.into(),
        amount: money("300.5"),
        description: None,
        metadata: Default::default(),
    };
    h.ledger.transfer(&sys, key("t"), transfer).await.unwrap();
    instants.push(h.ledger.now());
    step();
    let hold = PlaceHold {
        account: a.id,
        amount: money("200"),
        destination: None,
        expires_at: None,
        description: None,
        metadata: Default::default(),
    };
    let held = h.ledger.place_hold(&sys, key("h"), hold).await.unwrap().transaction;
    step();
    h.ledger.capture_hold(&sys, key("c"), CaptureHold { hold: held.id, amount: Some(money("150.75")) }).await.unwrap();
    instants.push(h.ledger.now());
    step();
    let withdrawal = Withdraw { account: b.id, amount: money("0.5"), description: None, metadata: Default::default() };
    h.ledger.withdraw(&sys, key("w"), withdrawal).await.unwrap();
    instants.push(h.ledger.now());
    step();
    let accounts = [a.id, b.id, AccountId::settlement(Currency::Eur)];
    let mut expected = Vec::new();
    for account in accounts {
        for at in &instants {
            expected.push(h.ledger.balance_as_of(&sys, account, *at).await.unwrap().posted);
        }
    }
    let statement = h.ledger.statement(&sys, a.id, Some(instants[0]), Some(h.ledger.now())).await.unwrap();
    drop(h);
    store.close().await;
    strip_0005(&db).await;
    assert_eq!(db.versions().await, ["1", "2", "3", "4"]);
    assert_eq!(describe_schema(&db).await, schema_0004, "the stripped database is a 0004 database");

    let store = db.store().await;
    assert_eq!(db.versions().await, ["1", "2", "3", "4", "5", "6", "7"]);
    let h = Harness::new(store.clone()).await;
    h.clock.advance(Duration::seconds(100));
    let mut found = Vec::new();
    for account in accounts {
        for at in &instants {
            found.push(h.ledger.balance_as_of(&sys, account, *at).await.unwrap().posted);
        }
    }
    assert_eq!(found, expected, "balances as of each instant, from the backfilled running balances");
    assert_eq!(
        found.iter().map(ToString::to_string).collect::<Vec<_>>()[..4],
        ["1000.25", "699.75", "549.00", "549.00"],
        "a's balance after the deposit, the transfer, the capture, the withdrawal"
    );
    let again = h.ledger.statement(&sys, a.id, Some(statement.from), Some(statement.until)).await.unwrap();
    assert_eq!(again, statement);
    invariants::check(&h.ledger).await;
    let deposit = Deposit { account: b.id, amount: money("1"), description: None, metadata: Default::default() };
    h.ledger.deposit(&sys, key("after"), deposit).await.unwrap();
    invariants::check(&h.ledger).await;
    store.close().await;
    // The empty 0004 database migrates to the same schema.
    let migrated = pristine.store().await;
    Ledger::builder(migrated.clone()).open().await.unwrap();
    migrated.close().await;
    assert_eq!(describe_schema(&pristine).await, describe_schema(&db).await);
}

/// A ledger with money in it at schema 0005 gets 0006: its change feed
/// starts empty (earlier commits were never recorded as changes) and
/// records every commit from then on; cursors and leases work at once.
async fn schema_0006_starts_the_change_feed_on_a_0005_database_with_data(db: Db) {
    let store = db.store().await;
    let h = Harness::new(store.clone()).await;
    let sys = Actor::System;
    let a = h
        .ledger
        .open_account(&sys, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Eur))
        .await
        .unwrap();
    let money = |t: &str| Amount::parse(t).unwrap();
    let deposit = Deposit { account: a.id, amount: money("10"), description: None, metadata: Default::default() };
    h.ledger.deposit(&sys, IdempotencyKey::new("d").unwrap(), deposit).await.unwrap();
    drop(h);
    store.close().await;
    strip_0006(&db).await;
    assert_eq!(db.versions().await, ["1", "2", "3", "4", "5"]);

    let store = db.store().await;
    assert_eq!(db.versions().await, ["1", "2", "3", "4", "5", "6", "7"]);
    let h = Harness::new(store.clone()).await;
    assert_eq!(h.ledger.events_after(0, 10).await.unwrap(), vec![]);
    h.clock.advance(Duration::seconds(10));
    let deposit = Deposit { account: a.id, amount: money("2.5"), description: None, metadata: Default::default() };
    let receipt = h.ledger.deposit(&sys, IdempotencyKey::new("after").unwrap(), deposit).await.unwrap();
    let feed = h.ledger.events_after(0, 10).await.unwrap();
    assert_eq!(
        feed.iter().map(|c| c.transaction.as_ref().map(|t| t.id)).collect::<Vec<_>>(),
        [Some(receipt.transaction.id)]
    );
    let fed = feed[0].balances.iter().find(|x| x.id == a.id).unwrap();
    assert_eq!(fed.balance.posted.to_string(), "12.50");
    h.ledger.advance_sink_cursor("amqp", feed[0].sequence).await.unwrap();
    assert_eq!(h.ledger.sink_cursor("amqp").await.unwrap(), feed[0].sequence);
    assert!(h.ledger.try_lease("publish:amqp", "me", h.ledger.now() + Duration::seconds(5)).await.unwrap());
    invariants::check(&h.ledger).await;
    store.close().await;
}
