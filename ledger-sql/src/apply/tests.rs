//! Loading a group together against loading batch by batch: the same
//! batches applied one by one and in one call give the same outcomes and
//! leave the same rows, and a call loaded together costs a number of
//! statements that does not grow with its batches. Each path runs in a storage transaction that is rolled back, so
//! both start from the same state. PostgreSQL cases need
//! `LEDGER_TEST_POSTGRES_URL` and are skipped without it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ledger_core::conformance::recording::RecordingStore;
use ledger_core::identity::{KycTransition, ProfilePatch, User};
use ledger_core::{
    Account, AccountId, AccountKind, AccountRef, Actor, Amount, AuditRecord, BatchOutcome, CaptureHold, Currency,
    Deposit, IdempotencyKey, IdempotencyRecord, Ledger, OpenAccount, PlaceHold, Posting, Registration, Store,
    Transaction, Transfer, UserId, VoidHold, Withdraw, WriteBatch,
};
use sqlx::{Database, Pool};

use crate::apply::{apply_batch_by_batch, apply_in};
use crate::row::{
    self, ACCOUNT_COLUMNS, AUDIT_COLUMNS, IDEMPOTENCY_COLUMNS, POSTING_COLUMNS, TRANSACTION_COLUMNS, USER_COLUMNS,
};
use crate::session::{Cells, Session};
use crate::stmt::{Dialect, Stmt, Value};
use crate::store::Inner;
use crate::{SqlOptions, SqlStore};

const SYS: Actor = Actor::System;

/// The most statements a grouped call runs (below every chunk size): lock
/// the head with the accounts and read the idempotency records; lock holds,
/// users; insert
/// accounts, update accounts, insert transactions, update transactions,
/// insert postings, index transactions under their accounts and their
/// metadata, insert idempotency records, update users, insert audit
/// records; move the head; notify.
const STATEMENTS_MAX: usize = 15;

/// The most statements a grouped call runs on PostgreSQL, where every write
/// is one statement (see `write_steps`): lock the head with the accounts
/// and read the idempotency records; lock holds, users; write.
const POSTGRES_STATEMENTS_MAX: usize = 4;

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

fn amount(text: &str) -> Amount {
    Amount::parse(text).unwrap()
}

// Stores.

async fn sqlite_store() -> SqlStore {
    let dir = tempfile::Builder::new().prefix("ledger-sql-group").tempdir().unwrap().keep();
    SqlStore::connect(&format!("sqlite:{}", dir.join("ledger.db").display())).await.unwrap()
}

/// A store on a new schema of the test server, or `None` without one.
async fn postgres_store() -> Option<(SqlStore, String)> {
    let (url, schema) = crate::test_postgres::fresh_schema("PostgreSQL grouped apply").await?;
    let options = SqlOptions::default().max_connections(3).schema(Some(schema.clone()));
    Some((SqlStore::connect_with(&url, options).await.unwrap(), schema))
}

async fn capturing_ledger(store: &Arc<SqlStore>) -> (Ledger, Arc<RecordingStore>) {
    let capture = Arc::new(RecordingStore::new(store.clone(), Duration::ZERO));
    (Ledger::builder(capture.clone()).open().await.unwrap(), capture)
}

fn registration(email: &str) -> Registration {
    Registration { email: email.into(), password: "correct horse battery staple".into(), full_name: "Test".into() }
}

/// What a KYC submission needs in the profile: an address and a date of birth.
fn reviewable() -> ProfilePatch {
    ProfilePatch {
        address: Some(Some("1 Main Street".into())),
        date_of_birth: Some(chrono::NaiveDate::from_ymd_opt(1990, 5, 17)),
        ..ProfilePatch::default()
    }
}

// Scenarios: commands planned against committed state, captured as batches.

/// Batches where later ones depend on earlier ones: a hot account debited to
/// its floor and past it, a key replayed and reused with another payload,
/// a settlement account created by one batch and changed by later ones, a
/// hold captured then voided, a KYC change, a KYC refusal, a planner
/// refusal, a freeze followed by a deposit to the frozen account.
async fn dependent_batches(store: &Arc<SqlStore>) -> Vec<WriteBatch> {
    let (ledger, capture) = capturing_ledger(store).await;
    let admin = ledger.bootstrap_admin(registration("root@bank.example")).await.unwrap().actor();
    let alice = ledger.register(registration("alice@bank.example")).await.unwrap();
    let alice_actor = Actor::customer(alice.id);
    ledger.update_profile(&alice_actor, alice.id, reviewable()).await.unwrap();
    ledger.submit_kyc(&alice_actor, alice.id).await.unwrap();
    ledger.review_kyc(&admin, alice.id, KycTransition::Approve).await.unwrap();
    let bob = ledger.register(registration("bob@bank.example")).await.unwrap();
    let bob_actor = Actor::customer(bob.id);
    ledger.update_profile(&bob_actor, bob.id, reviewable()).await.unwrap();
    let open = |owner, currency| OpenAccount::new(owner, AccountKind::Checking, currency);
    let hot = ledger.open_account(&alice_actor, open(alice.id, Currency::Usd)).await.unwrap().id;
    let other = ledger.open_account(&SYS, open(UserId::new(), Currency::Usd)).await.unwrap();
    let (other, other_number) = (other.id, other.number);
    let bobs = ledger.open_account(&bob_actor, open(bob.id, Currency::Usd)).await.unwrap().id;
    let euro = ledger.open_account(&SYS, open(UserId::new(), Currency::Eur)).await.unwrap().id;
    for (account, k) in [(hot, "fund-hot"), (other, "fund-other"), (bobs, "fund-bob")] {
        ledger
            .deposit(
                &SYS,
                key(k),
                Deposit { account, amount: amount("100"), description: None, metadata: Default::default() },
            )
            .await
            .unwrap();
    }
    let hold = PlaceHold {
        account: hot,
        amount: amount("10"),
        destination: None,
        expires_at: None,
        description: None,
        metadata: Default::default(),
    };
    let hold = ledger.place_hold(&SYS, key("hold"), hold).await.unwrap().transaction.id;

    // Without its settlement account, a ledger opening ensures it: a batch
    // creating an account that later batches change.
    remove_account(store, AccountId::settlement(Currency::Eur)).await;
    capture.start_capture();
    assert!(Ledger::builder(capture.clone()).open().await.is_err(), "the opening was captured");
    let withdraw =
        |a: &str| Withdraw { account: hot, amount: amount(a), description: None, metadata: Default::default() };
    let _ = ledger.withdraw(&SYS, key("w1"), withdraw("50")).await;
    let _ = ledger.withdraw(&SYS, key("w2"), withdraw("50")).await; // past the floor
    let _ = ledger.withdraw(&SYS, key("w1"), withdraw("50")).await; // replay
    let _ = ledger.withdraw(&SYS, key("w1"), withdraw("30")).await; // conflict
    let to_other = |from, a: &str| Transfer {
        from,
        to: AccountRef::Number(other_number),
        amount: amount(a),
        description: None,
        metadata: Default::default(),
    };
    let _ = ledger.transfer(&alice_actor, key("t1"), to_other(hot, "40")).await; // to the floor
    let _ = ledger.transfer(&alice_actor, key("t2"), to_other(hot, "0.01")).await; // past it
    let euros = |a: &str| Deposit { account: euro, amount: amount(a), description: None, metadata: Default::default() };
    let _ = ledger.deposit(&SYS, key("e1"), euros("5")).await; // changes the new settlement account
    let _ = ledger.deposit(&SYS, key("e2"), euros("7")).await; // and again
    let _ = ledger.capture_hold(&SYS, key("c1"), CaptureHold { hold, amount: None }).await;
    let _ = ledger.void_hold(&SYS, key("v1"), VoidHold { hold }).await; // no longer pending
    let _ = ledger.submit_kyc(&bob_actor, bob.id).await;
    let _ = ledger.transfer(&bob_actor, key("b1"), to_other(bobs, "1")).await; // not verified
    let self_transfer = Transfer {
        from: hot,
        to: AccountRef::Id(hot),
        amount: amount("1"),
        description: None,
        metadata: Default::default(),
    };
    let _ = ledger.transfer(&SYS, key("same"), self_transfer).await; // refused by the planner
    let _ = ledger.freeze(&admin, other).await;
    let frozen = Deposit { account: other, amount: amount("1"), description: None, metadata: Default::default() };
    let _ = ledger.deposit(&SYS, key("f1"), frozen).await;
    capture.stop_capture()
}

/// Deletes an account that nothing references yet.
async fn remove_account(store: &SqlStore, id: AccountId) {
    let delete = |d| {
        let mut stmt = Stmt::new(d, "DELETE FROM accounts WHERE id = ");
        stmt.bind(Value::Uuid(*id.as_uuid()));
        stmt
    };
    let changed = match store.inner() {
        Inner::Postgres(b) => {
            Session::execute(&mut *b.pool().acquire().await.unwrap(), &delete(Dialect::Postgres)).await
        }
        Inner::Sqlite(b) => Session::execute(&mut *b.pool().acquire().await.unwrap(), &delete(Dialect::Sqlite)).await,
    };
    assert_eq!(changed.unwrap(), 1);
}

/// `n` deposits to a few accounts, each with its own key.
async fn deposits(store: &Arc<SqlStore>, n: usize) -> Vec<WriteBatch> {
    let (ledger, capture) = capturing_ledger(store).await;
    let mut accounts = Vec::new();
    for _ in 0..4 {
        let open = OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
        accounts.push(ledger.open_account(&SYS, open).await.unwrap().id);
    }
    ledger
        .deposit(
            &SYS,
            key(&format!("first-{n}")),
            Deposit { account: accounts[0], amount: amount("1"), description: None, metadata: Default::default() },
        )
        .await
        .unwrap();
    capture.start_capture();
    for i in 0..n {
        let deposit = Deposit {
            account: accounts[i % accounts.len()],
            amount: amount("1.25"),
            description: None,
            metadata: Default::default(),
        };
        let _ = ledger.deposit(&SYS, key(&format!("d-{n}-{i}")), deposit).await;
    }
    capture.stop_capture()
}

// Running paths in rolled-back transactions.

/// Counts the statements run through it.
struct Counting<'a, S> {
    inner: &'a mut S,
    statements: usize,
}

#[async_trait]
impl<S: Session> Session for Counting<'_, S> {
    const DIALECT: Dialect = S::DIALECT;
    type Row = S::Row;

    async fn fetch(&mut self, stmt: &Stmt) -> Result<Vec<S::Row>, sqlx::Error> {
        self.statements += 1;
        self.inner.fetch(stmt).await
    }

    async fn execute(&mut self, stmt: &Stmt) -> Result<u64, sqlx::Error> {
        self.statements += 1;
        self.inner.execute(stmt).await
    }
}

/// Everything `apply` writes, read back in a stable order.
#[derive(Debug, PartialEq)]
struct Rows {
    accounts: Vec<(Account, i64)>,
    transactions: Vec<Transaction>,
    postings: Vec<Posting>,
    idempotency: Vec<IdempotencyRecord>,
    audit: Vec<AuditRecord>,
    users: Vec<User>,
    head: (i64, Vec<u8>),
}

async fn all<S: Session, T>(s: &mut S, sql: &str, map: fn(&S::Row) -> Result<T, sqlx::Error>) -> Vec<T> {
    s.fetch(&Stmt::new(S::DIALECT, sql)).await.unwrap().iter().map(|r| map(r).unwrap()).collect()
}

async fn read_rows<S: Session>(s: &mut S) -> Rows {
    let account = |r: &S::Row| Ok((row::account(r)?, r.int("opened_seq")?));
    Rows {
        accounts: all(s, &format!("SELECT {ACCOUNT_COLUMNS}, opened_seq FROM accounts ORDER BY id"), account).await,
        transactions: all(s, &format!("SELECT {TRANSACTION_COLUMNS} FROM transactions ORDER BY sequence"), |r| {
            row::transaction(r)
        })
        .await,
        postings: all(s, &format!("SELECT {POSTING_COLUMNS} FROM postings ORDER BY sequence"), |r| row::posting(r))
            .await,
        idempotency: all(s, &format!("SELECT {IDEMPOTENCY_COLUMNS} FROM idempotency ORDER BY key"), |r| {
            row::idempotency(r)
        })
        .await,
        audit: all(s, &format!("SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY sequence"), |r| row::audit(r)).await,
        users: all(s, &format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"), |r| row::user(r)).await,
        head: all(s, "SELECT sequence, hash FROM audit_head", |r| Ok((r.int("sequence")?, r.bytes("hash")?)))
            .await
            .remove(0),
    }
}

/// What one way of applying produced: outcomes, rows, statements run.
#[derive(Debug)]
struct Run {
    outcomes: Vec<BatchOutcome>,
    rows: Rows,
    statements: usize,
}

/// Applies `batches` in one `apply_in` call (`grouped`) or one call per
/// batch, in a storage transaction that is then rolled back.
async fn run<DB>(pool: &Pool<DB>, batches: &[WriteBatch], grouped: bool, notify: Option<&str>) -> Run
where
    DB: Database,
    DB::Connection: Session,
{
    let mut db_tx = pool.begin().await.unwrap();
    let mut counting = Counting { inner: &mut *db_tx, statements: 0 };
    let mut outcomes = Vec::new();
    if grouped {
        outcomes = apply_in(&mut counting, batches, notify).await.unwrap();
    } else {
        for batch in batches {
            outcomes.extend(apply_batch_by_batch(&mut counting, std::slice::from_ref(batch), notify).await.unwrap());
        }
    }
    let statements = counting.statements;
    let rows = read_rows(&mut *db_tx).await;
    db_tx.rollback().await.unwrap();
    Run { outcomes, rows, statements }
}

async fn run_on(store: &SqlStore, batches: &[WriteBatch], grouped: bool, notify: Option<&str>) -> Run {
    match store.inner() {
        Inner::Postgres(b) => run(b.pool(), batches, grouped, notify).await,
        Inner::Sqlite(b) => run(b.pool(), batches, grouped, None).await,
    }
}

fn names(outcomes: &[BatchOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .map(|o| match o {
            BatchOutcome::Committed(_) => "committed".to_owned(),
            BatchOutcome::Replayed(_) => "replayed".to_owned(),
            BatchOutcome::Rejected(e) => format!("rejected: {}", e.root().code()),
        })
        .collect()
}

// Cases.

async fn grouped_equals_one_by_one(store: SqlStore, notify: Option<&str>) {
    let store = Arc::new(store);
    let batches = dependent_batches(&store).await;
    let expected = [
        "committed",
        "committed",
        "rejected: insufficient_funds",
        "replayed",
        "rejected: idempotency_conflict",
        "committed",
        "rejected: insufficient_funds",
        "committed",
        "committed",
        "committed",
        "rejected: hold_not_pending",
        "committed",
        "rejected: kyc_required",
        "rejected: same_account",
        "committed",
        "rejected: account_frozen",
    ];
    let one_by_one = run_on(&store, &batches, false, notify).await;
    let grouped = run_on(&store, &batches, true, notify).await;
    assert_eq!(names(&one_by_one.outcomes), expected);
    assert_eq!(grouped.outcomes, one_by_one.outcomes);
    assert_eq!(grouped.rows, one_by_one.rows);
    assert!(grouped.statements <= STATEMENTS_MAX, "{} statements", grouped.statements);
    assert!(one_by_one.statements > 4 * grouped.statements, "{} statements", one_by_one.statements);
    // And through the store itself, committed.
    assert_eq!(store.apply(batches.clone()).await.unwrap(), one_by_one.outcomes);
    // A batch naming an account number sends the whole call down the
    // per-batch path, with the same results (here replays and rejections
    // of the batches just committed, and the opening).
    let (ledger, capture) = capturing_ledger(&store).await;
    capture.start_capture();
    let _ = ledger.open_account(&SYS, OpenAccount::new(UserId::new(), AccountKind::Savings, Currency::Gbp)).await;
    let mixed: Vec<WriteBatch> = batches.iter().cloned().chain(capture.stop_capture()).collect();
    assert_eq!(mixed.len(), batches.len() + 1);
    let mixed_one_by_one = run_on(&store, &mixed, false, notify).await;
    let fallen_back = run_on(&store, &mixed, true, notify).await;
    assert_eq!(fallen_back.outcomes, mixed_one_by_one.outcomes);
    assert_eq!(fallen_back.rows, mixed_one_by_one.rows);
    assert!(fallen_back.statements > 2 * STATEMENTS_MAX, "{} statements", fallen_back.statements);
}

async fn grouped_statements_do_not_grow(store: SqlStore) {
    let store = Arc::new(store);
    let few = deposits(&store, 4).await;
    let many = deposits(&store, 100).await;
    let few = run_on(&store, &few, true, Some("public")).await;
    let many = run_on(&store, &many, true, Some("public")).await;
    assert!(many.outcomes.iter().all(|o| matches!(o, BatchOutcome::Committed(_))));
    assert_eq!(many.statements, few.statements, "statements for 100 batches against 4");
    assert!(many.statements <= STATEMENTS_MAX, "{} statements", many.statements);
    if matches!(store.inner(), Inner::Postgres(_)) {
        assert!(many.statements <= POSTGRES_STATEMENTS_MAX, "{} statements on PostgreSQL", many.statements);
    }
}

#[tokio::test]
async fn sqlite_grouped_apply_equals_one_by_one() {
    grouped_equals_one_by_one(sqlite_store().await, None).await;
}

#[tokio::test]
async fn postgres_grouped_apply_equals_one_by_one() {
    if let Some((store, schema)) = postgres_store().await {
        grouped_equals_one_by_one(store, Some(&schema)).await;
    }
}

#[tokio::test]
async fn sqlite_grouped_statements_do_not_grow_with_batches() {
    grouped_statements_do_not_grow(sqlite_store().await).await;
}

#[tokio::test]
async fn postgres_grouped_statements_do_not_grow_with_batches() {
    if let Some((store, _)) = postgres_store().await {
        grouped_statements_do_not_grow(store).await;
    }
}

/// This backend's sequential and index scans of the idempotency table so
/// far (including its transaction in progress).
async fn idempotency_scans(conn: &mut sqlx::PgConnection) -> (i64, i64) {
    let scans = "SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables \
                 WHERE relname = 'idempotency' AND schemaname = current_schema()";
    sqlx::query_as(scans).fetch_one(conn).await.unwrap()
}

/// The idempotency lookups PostgreSQL runs read the primary key once the
/// table has grown, however small it was when the connection first ran
/// them: a connection's cached plan, made while the table was small and
/// kept until autovacuum next analyses it, had been a sequential scan of
/// the whole table on every group commit. Writes run with sequential scans
/// off (`postgres::BEGIN`); the read outside them is planned on every run.
#[tokio::test]
async fn postgres_idempotency_lookups_use_the_primary_key_after_the_table_grows() {
    let Some((store, _)) = postgres_store().await else { return };
    let Inner::Postgres(b) = store.inner() else { unreachable!("a PostgreSQL store") };
    let (mut writer, mut reader) = (b.pool().acquire().await.unwrap(), b.pool().acquire().await.unwrap());
    let insert = |from: u32, to: u32| {
        format!(
            "INSERT INTO idempotency (key, fingerprint, transaction_ids, created_at) \
             SELECT 'system/k-' || g, '\\x00', '', now() FROM generate_series({from}, {to}) AS g"
        )
    };
    sqlx::raw_sql(&format!("{}; ANALYZE idempotency", insert(1, 100))).execute(&mut *writer).await.unwrap();
    // As a group's load and a lone batch's load run them, and as a read.
    let no_accounts: [&AccountId; 0] = [];
    let group = || crate::queries::lock_head_with_rows(Dialect::Postgres, no_accounts, ["system/k-1", "system/k-2"]);
    let lone = || crate::queries::lock_head_with_rows(Dialect::Postgres, no_accounts, ["system/k-3"]);
    let read = || crate::queries::idempotency(Dialect::Postgres, "system/k-4");
    // More runs than PostgreSQL makes before it settles on a cached plan.
    for _ in 0..10 {
        sqlx::raw_sql(crate::postgres::BEGIN).execute(&mut *writer).await.unwrap();
        assert_eq!(writer.fetch(&group()).await.unwrap().len(), 2);
        assert_eq!(writer.fetch(&lone()).await.unwrap().len(), 1);
        sqlx::raw_sql("ROLLBACK").execute(&mut *writer).await.unwrap();
        assert_eq!(reader.fetch(&read()).await.unwrap().len(), 1);
    }
    sqlx::raw_sql(&insert(101, 20_000)).execute(&mut *writer).await.unwrap();

    sqlx::raw_sql(crate::postgres::BEGIN).execute(&mut *writer).await.unwrap();
    let before = idempotency_scans(&mut writer).await;
    assert_eq!(writer.fetch(&group()).await.unwrap().len(), 2);
    assert_eq!(writer.fetch(&lone()).await.unwrap().len(), 1);
    let after = idempotency_scans(&mut writer).await;
    sqlx::raw_sql("ROLLBACK").execute(&mut *writer).await.unwrap();
    assert_eq!(after.0 - before.0, 0, "sequential scans by the write's lookups");
    // One or more per lookup (a scan for `= ANY` may count one per key).
    assert!(after.1 - before.1 >= 2, "{} index scans by the write's lookups", after.1 - before.1);

    sqlx::raw_sql("BEGIN").execute(&mut *reader).await.unwrap();
    let before = idempotency_scans(&mut reader).await;
    assert_eq!(reader.fetch(&read()).await.unwrap().len(), 1);
    let after = idempotency_scans(&mut reader).await;
    sqlx::raw_sql("ROLLBACK").execute(&mut *reader).await.unwrap();
    assert_eq!((after.0 - before.0, after.1 - before.1), (0, 1), "sequential and index scans by the read");
}

/// A pooled connection of `store` in a transaction that holds the audit
/// head, locked by the statement every committer locks it with.
async fn holding_the_head(store: &SqlStore) -> sqlx::pool::PoolConnection<sqlx::Postgres> {
    let Inner::Postgres(b) = store.inner() else { unreachable!("a PostgreSQL store") };
    let mut holder = b.pool().acquire().await.unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut *holder).await.unwrap();
    holder.fetch(&crate::queries::lock_audit_head(Dialect::Postgres)).await.unwrap();
    holder
}

/// Waits until `n` backends wait, directly or behind one that does, for
/// a lock `holder` holds.
async fn wait_for_waiters(holder: &mut sqlx::PgConnection, n: i64) {
    let waiting = "WITH first AS (SELECT pid FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))) \
                   SELECT count(*) FROM pg_stat_activity \
                   WHERE pg_blocking_pids(pid) && (ARRAY(SELECT pid FROM first) || pg_backend_pid())";
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // `holder` is inside a transaction, where pg_stat_activity keeps the
    // backends it listed first: a commit that began waiting after that
    // would never be counted. Each poll drops that snapshot.
    let fresh = || sqlx::raw_sql("SELECT pg_stat_clear_snapshot()");
    while {
        fresh().execute(&mut *holder).await.unwrap();
        sqlx::query_scalar::<_, i64>(waiting).fetch_one(&mut *holder).await.unwrap() < n
    } {
        assert!(std::time::Instant::now() < deadline, "fewer than {n} commits waited for the head");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// An account opened in `store` and a deposit of 7.50 to it under `k`,
/// planned by a ledger but not applied.
async fn planned_deposit(store: &Arc<SqlStore>, k: &str) -> (AccountId, Vec<WriteBatch>) {
    let (ledger, capture) = capturing_ledger(store).await;
    let open = OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
    let account = ledger.open_account(&SYS, open).await.unwrap().id;
    capture.start_capture();
    let deposit = Deposit { account, amount: amount("7.50"), description: None, metadata: Default::default() };
    let _ = ledger.deposit(&SYS, key(k), deposit).await;
    let batches = capture.stop_capture();
    assert_eq!(batches.len(), 1);
    (account, batches)
}

/// A commit that waited for the head while its holder created an account
/// still finds that account. The statement that locks the head reads the
/// accounts too, from a snapshot taken before it waited, which lacks the
/// new account; the ids it did not find are read again once the head is
/// held (`load::head_with_rows`).
#[tokio::test]
async fn postgres_an_account_created_while_a_commit_waits_for_the_head_is_found() {
    let Some((store, _)) = postgres_store().await else { return };
    let store = Arc::new(store);
    let (created, batches) = planned_deposit(&store, "to-the-created-account").await;
    let mut holder = holding_the_head(&store).await;
    // The account out, to be created again while the deposit waits.
    let save = format!("CREATE TEMP TABLE saved AS SELECT * FROM accounts WHERE id = '{created}'");
    sqlx::raw_sql(&save).execute(&mut *holder).await.unwrap();
    remove_account(&store, created).await;
    let applying = tokio::spawn({
        let store = store.clone();
        async move { store.apply(batches).await }
    });
    wait_for_waiters(&mut holder, 1).await;
    sqlx::raw_sql("INSERT INTO accounts SELECT * FROM saved; COMMIT").execute(&mut *holder).await.unwrap();

    let outcomes = applying.await.unwrap().unwrap();
    assert_eq!(names(&outcomes), ["committed"]);
    let account = store.account(created).await.unwrap().unwrap();
    assert_eq!(account.balance.posted, rust_decimal::Decimal::new(750, 2));
}

/// Two calls with one idempotency key, both waiting for the head: the
/// second's statement read its snapshot before the first stored the key,
/// so it decides the deposit afresh; its insert of the key then fails on
/// the primary key, the call runs again and replays the first. The money
/// moves once.
#[tokio::test]
async fn postgres_a_key_stored_while_a_commit_waits_for_the_head_replays() {
    let Some((store, _)) = postgres_store().await else { return };
    let store = Arc::new(store);
    let (account, batches) = planned_deposit(&store, "sent-twice").await;
    let mut holder = holding_the_head(&store).await;
    let mut calls = Vec::new();
    for waiting in 1..=2 {
        let (store, batches) = (store.clone(), batches.clone());
        calls.push(tokio::spawn(async move { store.apply(batches).await }));
        wait_for_waiters(&mut holder, waiting).await;
    }
    sqlx::raw_sql("COMMIT").execute(&mut *holder).await.unwrap();

    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.extend(names(&call.await.unwrap().unwrap()));
    }
    outcomes.sort();
    assert_eq!(outcomes, ["committed", "replayed"]);
    let account = store.account(account).await.unwrap().unwrap();
    assert_eq!(account.balance.posted, rust_decimal::Decimal::new(750, 2));
}
