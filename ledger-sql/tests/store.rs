//! Connecting, the schema version guard, exact round trips of values, and the
//! history query's plans. The PostgreSQL cases that need a server are skipped
//! without `LEDGER_TEST_POSTGRES_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use ledger_core::{
    AccountCode, AccountId, AccountKind, Actor, Amount, Currency, Deposit, ENTRY_POSTINGS_MAX, Entry, EntryPosting,
    HistoryFilter, IdempotencyKey, Ledger, Metadata, MoneyCommand, NormalBalance, OpenAccount, OpenLedgerAccount,
    PlaceHold, TransactionKind, Transfer, UserId,
};
use ledger_sql::{SqlOptions, SqlStore};
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use sqlx::Connection;

fn key(text: impl Into<String>) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text).unwrap()
}

async fn connect_error(url: &str, options: SqlOptions) -> String {
    match SqlStore::connect_with(url, options).await {
        Ok(_) => panic!("connecting to {url} should fail"),
        Err(e) => e.to_string(),
    }
}

// Connecting.

#[tokio::test]
async fn malformed_urls_get_clear_errors() {
    let cases = [
        ("mysql://root:secret@localhost/ledger", "unsupported storage URL (mysql)"),
        ("ledger.db", "unsupported storage URL (no scheme)"),
        ("postgres://user@localhost:notaport/db", "invalid PostgreSQL URL"),
        ("postgresql://user@localhost/db?sslmode=sometimes", "invalid PostgreSQL URL"),
        ("sqlite:", "names no file"),
        ("sqlite::memory:", "in-memory SQLite is not supported"),
        // A directory that cannot be made: /dev/null is a file.
        ("sqlite:/dev/null/ledger-dir/ledger.db", "creating the database's directory"),
    ];
    for (url, expected) in cases {
        let error = connect_error(url, SqlOptions::default()).await;
        assert!(error.contains(expected), "{url}: {error}");
        assert!(!error.contains("secret"), "the URL's password leaked: {error}");
    }
    let options = SqlOptions::default().schema(Some("bad-name".into()));
    let error = connect_error("postgres://postgres@127.0.0.1:1/test", options).await;
    assert!(error.contains("invalid schema name"), "{error}");
}

#[tokio::test]
async fn a_sqlite_file_in_a_missing_directory_is_created_with_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ledger-data").join("nested").join("ledger.sqlite3");
    let store = SqlStore::connect(&format!("sqlite:{}", file.display())).await.unwrap();
    let ledger = Ledger::open(store).await.unwrap();
    let command = OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Gbp);
    let opened = ledger.open_account(&Actor::System, command).await.unwrap();
    assert_eq!(ledger.account(&Actor::System, opened.id).await.unwrap(), opened);
    assert!(file.is_file(), "{} was not created", file.display());
}

#[tokio::test]
async fn unreachable_postgres_fails_fast_with_the_cause() {
    let options = SqlOptions::default().connect_timeout(Duration::from_secs(2));
    let started = Instant::now();
    let error = connect_error("postgres://postgres@127.0.0.1:1/test", options).await;
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(error.starts_with("postgres storage error: cannot connect to PostgreSQL at 127.0.0.1:1/test"), "{error}");
    assert!(error.to_lowercase().contains("refused"), "{error}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts TCP connections (the kernel's backlog does) but never speaks.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("postgres://postgres@{}/test", silent.local_addr().unwrap());
    let options = SqlOptions::default().connect_timeout(Duration::from_millis(500));
    let started = Instant::now();
    let error = connect_error(&url, options).await;
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert!(error.contains("no answer within 500ms"), "{error}");
}

// The schema version guard.

/// Records a migration this build does not know, as a newer build would.
const FUTURE_MIGRATION: &str = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
     VALUES (9999, 'from a newer build', TRUE, X'00', 0)";

#[tokio::test]
async fn sqlite_refuses_a_schema_newer_than_the_build() {
    let url = common::fresh_sqlite_url();
    SqlStore::connect(&url).await.unwrap().close().await;
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(FUTURE_MIGRATION).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let error = connect_error(&url, SqlOptions::default()).await;
    assert!(error.contains("schema version 9999 is newer than this build"), "{error}");
}

/// Service processes started together open (and create) one file at the same
/// moment; SQLite may refuse a connection's opening pragmas with "database is
/// locked" without waiting, and every opener must still get its store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_openers_racing_on_a_new_file_all_open_it() {
    const OPENERS: usize = 8;
    const FILES: usize = 6;
    for _ in 0..FILES {
        let url = common::fresh_sqlite_url();
        let opens = (0..OPENERS).map(|_| SqlStore::connect_with(&url, SqlOptions::default()));
        for open in futures::future::join_all(opens).await {
            let store = open.unwrap_or_else(|e| panic!("a racing opener failed: {e}"));
            store.close().await;
        }
    }
}

#[tokio::test]
async fn postgres_refuses_a_schema_newer_than_the_build() {
    let Some(url) = common::postgres_url("PostgreSQL schema version guard") else { return };
    let schema = common::fresh_schema(&url).await;
    SqlStore::connect_with(&url, common::test_options(&schema)).await.unwrap().close().await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("SET search_path TO {schema}")).execute(&mut conn).await.unwrap();
    sqlx::query(&FUTURE_MIGRATION.replace("X'00'", "'\\x00'")).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let error = connect_error(&url, common::test_options(&schema)).await;
    assert!(error.contains("schema version 9999 is newer than this build"), "{error}");
}

// Exact values.

/// Values at the edges of what the ledger allows come back equal.
async fn values_round_trip_exactly(store: SqlStore) {
    let ledger = Ledger::open(store).await.unwrap();
    let mut command = OpenAccount::new(UserId::new(), AccountKind::Savings, Currency::Eur);
    command.name = Some("Épargne ✓".into());
    command.overdraft_limit = dec("250.75");
    let opened = ledger.open_account(&Actor::System, command).await.unwrap();
    assert_eq!(ledger.account(&Actor::System, opened.id).await.unwrap(), opened);

    let max = Amount::parse("1000000000000").unwrap();
    for i in 0..3 {
        let deposit = Deposit {
            account: opened.id,
            amount: max,
            description: Some(format!("max {i}")),
            metadata: Default::default(),
        };
        let receipt = ledger.deposit(&Actor::System, key(format!("max-{i}")), deposit).await.unwrap();
        assert_eq!(ledger.transaction(&Actor::System, receipt.transaction.id).await.unwrap(), receipt.transaction);
    }
    let cent = Deposit {
        account: opened.id,
        amount: Amount::parse("0.01").unwrap(),
        description: None,
        metadata: Default::default(),
    };
    ledger.deposit(&Actor::System, key("cent"), cent).await.unwrap();
    let balance = ledger.balance(&Actor::System, opened.id).await.unwrap();
    assert_eq!(balance.posted, dec("3000000000000.01"));
    let settlement = ledger.balance(&Actor::System, AccountId::settlement(Currency::Eur)).await.unwrap();
    assert_eq!(settlement.posted, dec("3000000000000.01"), "debit-normal: deposits raise it");

    // A ledger account at the edges: the lowest floor, the most metadata.
    let metadata: Vec<(String, String)> =
        (0..16).map(|i| (format!("{i:02}.{}", "k".repeat(61)), format!("é{}✓", "v".repeat(254 - i)))).collect();
    let command = OpenLedgerAccount {
        name: Some("Float ✓".into()),
        floor: Some(Some(dec("-1000000000000"))),
        metadata: Metadata::new(metadata.clone()).unwrap(),
        ..OpenLedgerAccount::new(AccountCode::parse(&"a".repeat(128)).unwrap(), Currency::Eur, NormalBalance::Credit)
    };
    let float = ledger.open_ledger_account(&Actor::System, command).await.unwrap();
    assert_eq!(ledger.account(&Actor::System, float.id).await.unwrap(), float);
    assert_eq!(ledger.ledger_account(&Actor::System, float.code.as_ref().unwrap()).await.unwrap(), float);
    // The most postings, each at the currency's precision, with that metadata.
    let postings = (0..ENTRY_POSTINGS_MAX)
        .map(|i| EntryPosting {
            source: float.id.into(),
            destination: AccountId::settlement(Currency::Eur).into(),
            amount: Amount::parse(&format!("{}.01", i + 1)).unwrap(),
            currency: Currency::Eur,
        })
        .collect();
    let entry = Entry { postings, description: None, metadata: Metadata::new(metadata).unwrap() };
    let posted = ledger.post_entry(&Actor::System, key("entry"), entry).await.unwrap().transaction;
    assert_eq!(posted.legs.len(), ENTRY_POSTINGS_MAX);
    assert_eq!(ledger.transaction(&Actor::System, posted.id).await.unwrap(), posted);

    let expires_at = Some(ledger.now() + chrono::Duration::seconds(3600));
    let hold = PlaceHold {
        account: opened.id,
        amount: Amount::parse("12.5").unwrap(),
        destination: None,
        expires_at,
        description: None,
        metadata: Default::default(),
    };
    let receipt = ledger.place_hold(&Actor::System, key("hold"), hold).await.unwrap();
    let stored = ledger.transaction(&Actor::System, receipt.transaction.id).await.unwrap();
    assert_eq!(stored, receipt.transaction);
    assert_eq!(stored.amount.to_string(), "12.50", "amounts keep their currency's places");
    assert_eq!(stored.expires_at, expires_at);
    assert_eq!(ledger.account(&Actor::System, opened.id).await.unwrap().balance.pending, dec("12.5"));

    // Filter bounds finer than the stored precision keep their meaning.
    let filter = HistoryFilter {
        amount_min: Some(dec("12.49999")),
        amount_max: Some(dec("12.50001")),
        created_from: Some(stored.created_at),
        created_until: Some(stored.created_at + chrono::Duration::nanoseconds(1)),
        ..HistoryFilter::account(opened.id)
    };
    let found = ledger.store().transactions(&filter, None, 10).await.unwrap();
    assert_eq!(found, vec![stored.clone()]);
    let after = HistoryFilter { created_from: Some(stored.created_at + chrono::Duration::nanoseconds(1)), ..filter };
    assert!(ledger.store().transactions(&after, None, 10).await.unwrap().is_empty());
    assert!(stored.created_at <= Utc::now());
}

#[tokio::test]
async fn sqlite_values_round_trip_exactly() {
    values_round_trip_exactly(SqlStore::connect(&common::fresh_sqlite_url()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_values_round_trip_exactly() {
    let Some(url) = common::postgres_url("PostgreSQL round trips") else { return };
    values_round_trip_exactly(common::fresh_postgres_store(&url).await).await;
}

// Query plans.

const PLAN_ACCOUNTS: usize = 40;
const PLAN_TRANSFERS: usize = 3_000;
const PLAN_BATCH_LEN: usize = 100;
const PLAN_ORDERS: usize = 600;

/// Fills a ledger with `PLAN_TRANSFERS` transfers among `PLAN_ACCOUNTS`
/// accounts, in atomic batches of `PLAN_BATCH_LEN` to keep it quick. The first account
/// is hot (half of all transfers touch it); every other account's history is
/// a few percent of the table. Each transfer carries an `order` (one of
/// `PLAN_ORDERS`, a handful of rows each) and its batch's `batch` (100 rows
/// each) as metadata. Returns the accounts.
async fn fill(ledger: &Ledger) -> Vec<AccountId> {
    let mut accounts = Vec::new();
    for i in 0..PLAN_ACCOUNTS {
        let account =
            ledger.open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd));
        let account = account.await.unwrap().id;
        let deposit = Deposit {
            account,
            amount: Amount::parse("1000000").unwrap(),
            description: None,
            metadata: Default::default(),
        };
        ledger.deposit(&Actor::System, key(format!("fill-{i}")), deposit).await.unwrap();
        accounts.push(account);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut pick = move || {
        let other = rng.random_range(1..PLAN_ACCOUNTS);
        let (from, to) = match rng.random_range(0..4) {
            0 => (0, other),
            1 => (other, 0),
            _ => (other, 1 + (other + rng.random_range(0..PLAN_ACCOUNTS - 2)) % (PLAN_ACCOUNTS - 1)),
        };
        (from, to, Amount::new(Decimal::new(rng.random_range(1..=10_000), 2)).unwrap())
    };
    for batch in 0..PLAN_TRANSFERS / PLAN_BATCH_LEN {
        let commands = (0..PLAN_BATCH_LEN)
            .map(|i| {
                let (from, to, amount) = pick();
                let order = format!("o-{}", (batch * PLAN_BATCH_LEN + i) % PLAN_ORDERS);
                let metadata = Metadata::new([("order", order), ("batch", batch.to_string())]).unwrap();
                MoneyCommand::from(Transfer {
                    from: accounts[from],
                    to: accounts[to].into(),
                    amount,
                    description: None,
                    metadata,
                })
            })
            .collect();
        ledger.execute_batch(&Actor::System, key(format!("batch-{batch}")), commands).await.unwrap();
    }
    accounts
}

/// The history query on PostgreSQL 15, with a few thousand rows and fresh
/// statistics. What the planner chose (costs and ids elided):
///
/// ```text
/// -- one account, no other filter: its newest 51 rows, then 51 lookups
/// Limit -> Nested Loop
///   -> Limit -> Index Only Scan Backward using account_transactions_pkey (account_id = ...)
///   -> Memoize -> Index Scan using transactions_sequence_key on transactions t (sequence = ...)
/// -- a quiet account, filtered by kind and amount: the account's range, sorted, merged
/// Limit -> Merge Join
///   -> Index Scan Backward using transactions_sequence_key on transactions t (Filter: amount, kind)
///   -> Sort -> Bitmap Heap Scan on account_transactions a -> Bitmap Index Scan on account_transactions_pkey
/// -- an order id: its range of the metadata index, then lookups
/// Limit -> Sort -> Nested Loop
///   -> Bitmap Heap Scan on transaction_metadata m -> Bitmap Index Scan on transaction_metadata_pkey
///   -> Index Scan using transactions_sequence_key on transactions t
/// -- two pairs: the second is a probe of the same primary key
///   ... -> Index Only Scan using transaction_metadata_pkey on transaction_metadata x
/// ```
///
/// Every plan starts from the index range of what the filter names and
/// never scans `transactions` whole; history of one account costs a page of
/// lookups however long it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_history_query_uses_the_account_and_metadata_indexes() {
    let Some(url) = common::postgres_url("PostgreSQL query plans") else { return };
    let schema = common::fresh_schema(&url).await;
    let store = std::sync::Arc::new(SqlStore::connect_with(&url, common::test_options(&schema)).await.unwrap());
    let ledger = Ledger::open_with_clock(store.clone(), std::sync::Arc::new(ledger_core::SystemClock)).await.unwrap();
    let accounts = fill(&ledger).await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    for table in ["transactions", "account_transactions", "transaction_metadata"] {
        sqlx::query(&format!("ANALYZE {schema}.{table}")).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    let plan = |filter: HistoryFilter| {
        let store = store.clone();
        async move { store.explain_transactions(&filter, None, 51).await.unwrap() }
    };
    let whole_table = "Seq Scan on transactions";

    for (name, account) in [("a quiet account", accounts[1]), ("the hot account", accounts[0])] {
        let p = plan(HistoryFilter::account(account)).await;
        eprintln!("{name}:\n{p}");
        assert!(p.contains("account_transactions_pkey") && p.contains("Nested Loop"), "{p}");
        assert_eq!(p.matches("Limit").count(), 2, "the account's rows stop at the page size: {p}");
        assert!(!p.contains("Seq Scan"), "{p}");
    }
    let filtered = HistoryFilter {
        kind: Some(TransactionKind::Transfer),
        amount_min: Some(dec("10")),
        ..HistoryFilter::account(accounts[2])
    };
    let p = plan(filtered).await;
    eprintln!("filtered history of a quiet account:\n{p}");
    assert!(p.contains("account_transactions_pkey") && !p.contains("Seq Scan"), "{p}");
    let two = HistoryFilter { accounts: accounts[..2].to_vec(), ..HistoryFilter::default() };
    let p = plan(two).await;
    eprintln!("history of two accounts:\n{p}");
    assert_eq!(p.matches("account_transactions_pkey").count(), 2, "one range per account: {p}");
    assert!(!p.contains("Seq Scan"), "{p}");
    let p = plan(HistoryFilter::default()).await;
    eprintln!("history of all accounts:\n{p}");
    assert!(p.contains("Index Scan Backward using transactions_sequence_key"), "{p}");

    let by = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let p = plan(HistoryFilter { metadata: by(&[("order", "o-17")]), ..HistoryFilter::default() }).await;
    eprintln!("history of an order:\n{p}");
    assert!(p.contains("Index Scan on transaction_metadata_pkey") && !p.contains("Seq Scan"), "{p}");
    let p =
        plan(HistoryFilter { metadata: by(&[("order", "o-17"), ("batch", "0")]), ..HistoryFilter::default() }).await;
    eprintln!("history of an order in a batch:\n{p}");
    assert_eq!(p.matches("transaction_metadata_pkey").count(), 2, "{p}");
    assert!(!p.contains("Seq Scan"), "{p}");
    let in_hot = HistoryFilter { metadata: by(&[("batch", "3")]), ..HistoryFilter::account(accounts[0]) };
    let p = plan(in_hot).await;
    eprintln!("a batch's transactions of the hot account:\n{p}");
    // The account is a probe the planner may hash (a small table) or look up.
    assert!(p.contains("transaction_metadata_pkey") && !p.contains(whole_table), "{p}");
}

/// The same queries on SQLite: each starts from its index range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_history_query_uses_the_account_and_metadata_indexes() {
    let store = std::sync::Arc::new(SqlStore::connect(&common::fresh_sqlite_url()).await.unwrap());
    let ledger = Ledger::open_with_clock(store.clone(), std::sync::Arc::new(ledger_core::SystemClock)).await.unwrap();
    let accounts = fill(&ledger).await;
    let plan = store.explain_transactions(&HistoryFilter::account(accounts[0]), None, 51).await.unwrap();
    eprintln!("history of one account:\n{plan}");
    assert!(plan.contains("SEARCH account_transactions USING PRIMARY KEY (account_id=? AND sequence>?)"), "{plan}");
    assert!(plan.contains("SEARCH t USING INDEX") && plan.contains("(sequence=?)"), "one lookup per row: {plan}");
    let two = HistoryFilter { accounts: accounts[..2].to_vec(), ..HistoryFilter::default() };
    let plan = store.explain_transactions(&two, None, 51).await.unwrap();
    eprintln!("history of two accounts:\n{plan}");
    assert_eq!(plan.matches("USING PRIMARY KEY (account_id=? AND sequence>?)").count(), 2, "{plan}");
    let order = HistoryFilter { metadata: vec![("order".into(), "o-17".into())], ..HistoryFilter::default() };
    let plan = store.explain_transactions(&order, None, 51).await.unwrap();
    eprintln!("history of an order:\n{plan}");
    assert!(plan.contains("SEARCH m USING PRIMARY KEY (key=? AND value=? AND sequence>?)"), "{plan}");
    assert!(!plan.contains("SCAN t"), "{plan}");
}

/// A balance as of an instant is one step back in `postings_account_time_idx`
/// and a history page one range of it, on both databases (PostgreSQL 15
/// chose, costs elided: `Limit -> Index Scan Backward using
/// postings_account_time_idx on postings (Index Cond: account_id = ... AND
/// at <= ...)`). For a quiet account's history page PostgreSQL may instead
/// sort the account's hundred rows from `postings_account_idx`; never a
/// scan of the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balances_as_of_and_their_history_are_index_ranges() {
    let sqlite = std::sync::Arc::new(SqlStore::connect(&common::fresh_sqlite_url()).await.unwrap());
    let mut stores = vec![("sqlite", sqlite, None)];
    if let Some(url) = common::postgres_url("PostgreSQL balance plans") {
        let schema = common::fresh_schema(&url).await;
        let store = SqlStore::connect_with(&url, common::test_options(&schema)).await.unwrap();
        stores.push(("postgres", std::sync::Arc::new(store), Some((url, schema))));
    }
    for (name, store, postgres) in stores {
        let ledger =
            Ledger::open_with_clock(store.clone(), std::sync::Arc::new(ledger_core::SystemClock)).await.unwrap();
        // accounts[0] is in half of all transfers; the others in a few percent.
        let accounts = fill(&ledger).await;
        if let Some((url, schema)) = postgres {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(&format!("ANALYZE {schema}.postings")).execute(&mut conn).await.unwrap();
            conn.close().await.unwrap();
        }
        for (i, account) in accounts.iter().copied().take(4).enumerate() {
            let plan = store.explain_posting_as_of(account, Utc::now()).await.unwrap();
            eprintln!("{name}, balance as of now:\n{plan}");
            assert!(plan.contains("postings_account_time_idx"), "{name}: {plan}");
            assert!(!plan.contains("Seq Scan") && !plan.contains("SCAN postings"), "{name}: {plan}");
            let range = ledger_core::PostingRange {
                account,
                from: Some(Utc::now() - chrono::Duration::days(1)),
                until: Some(Utc::now()),
                after: None,
                newest_first: true,
            };
            let plan = store.explain_postings_in(&range, 101).await.unwrap();
            eprintln!("{name}, a page of balance history:\n{plan}");
            assert!(!plan.contains("Seq Scan") && !plan.contains("SCAN postings"), "{name}: {plan}");
            if i == 0 || name == "sqlite" {
                assert!(plan.contains("postings_account_time_idx") && !plan.contains("Sort"), "{name}: {plan}");
            }
        }
    }
}

/// After an import (`Store::finish_restore`), every ledger table of the
/// schema has statistics: PostgreSQL no longer plans for tables it believes
/// empty (a table never analysed has `reltuples` -1).
#[tokio::test]
async fn postgres_finishing_a_restore_analyses_every_ledger_table() {
    let Some(url) = common::postgres_url("PostgreSQL statistics after an import") else { return };
    let schema = common::fresh_schema(&url).await;
    let store = SqlStore::connect_with(&url, common::test_options(&schema)).await.unwrap();
    let never_analysed = "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                          WHERE n.nspname = $1 AND c.relkind = 'r' AND c.reltuples < 0 ORDER BY 1";
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let before: Vec<String> = sqlx::query_scalar(never_analysed).bind(&schema).fetch_all(&mut conn).await.unwrap();
    assert!(before.len() > 10, "a fresh schema's tables were never analysed: {before:?}");
    ledger_core::Store::finish_restore(&store).await.unwrap();
    let after: Vec<String> = sqlx::query_scalar(never_analysed).bind(&schema).fetch_all(&mut conn).await.unwrap();
    assert_eq!(after, ["_sqlx_migrations"], "tables still without statistics");
}
