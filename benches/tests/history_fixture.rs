//! The history fixture the criterion benches page through: built once per
//! backend, reused by later runs as it is, and rebuilt from nothing when a
//! build did not finish.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ledger_bench::fixture::{BenchLedger, HISTORY_ACCOUNTS, HistoryCache, history, history_paths, history_schema};
use ledger_bench::options::Backend;
use ledger_core::HistoryFilter;

/// Postings in the small histories these tests build.
const POSTINGS: usize = 200;
/// What a built history holds: a funding deposit per account and a
/// transfer (two postings) per two postings.
const TRANSACTIONS: usize = HISTORY_ACCOUNTS + POSTINGS / 2;

async fn transactions(fixture: &BenchLedger) -> usize {
    let everything = HistoryFilter::default();
    fixture.ledger.store().transactions(&everything, None, 10 * TRANSACTIONS).await.unwrap().len()
}

async fn built(backend: Backend, cache: &HistoryCache) -> BenchLedger {
    history(backend, POSTINGS, cache).await.unwrap().expect("a fixture for this backend")
}

/// Builds, reopens and checks that the second open found the same history.
async fn built_once_then_reused(backend: Backend, cache: &HistoryCache) {
    let first = built(backend, cache).await;
    assert_eq!(transactions(&first).await, TRANSACTIONS, "{backend:?}: the first run builds");
    assert_eq!(first.accounts.len(), HISTORY_ACCOUNTS);
    let accounts = first.accounts.clone();
    drop(first);
    let second = built(backend, cache).await;
    assert_eq!(transactions(&second).await, TRANSACTIONS, "{backend:?}: a later run adds nothing");
    assert_eq!(second.accounts, accounts, "{backend:?}: the same accounts, not a rebuild");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_and_sqlite_histories_are_built_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = HistoryCache { dir: dir.path().to_owned(), postgres: None };
    for backend in [Backend::Sled, Backend::Sqlite] {
        built_once_then_reused(backend, &cache).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_whose_build_did_not_finish_is_rebuilt_from_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = HistoryCache { dir: dir.path().to_owned(), postgres: None };
    for backend in [Backend::Sled, Backend::Sqlite] {
        let (_, marker) = history_paths(backend, POSTINGS, dir.path()).unwrap();
        let unfinished = built(backend, &cache).await.accounts;
        std::fs::remove_file(&marker).unwrap();
        let rebuilt = built(backend, &cache).await;
        assert_eq!(transactions(&rebuilt).await, TRANSACTIONS, "{backend:?}: rebuilt, not added to");
        assert_eq!(rebuilt.accounts.len(), HISTORY_ACCOUNTS, "{backend:?}");
        assert!(rebuilt.accounts.iter().all(|a| !unfinished.contains(a)), "{backend:?}: new accounts only");
        assert!(marker.exists(), "{backend:?}: finished again");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn building_a_history_removes_the_fixture_an_older_version_left() {
    let dir = tempfile::tempdir().unwrap();
    let cache = HistoryCache { dir: dir.path().to_owned(), postgres: None };
    // What version 1 (no version in the names) left: a SQLite file with its
    // WAL and marker, a sled directory with its marker.
    let old = ["history-200.db", "history-200.db-wal", "history-200.done", "history-200.sled.done"];
    for file in old {
        std::fs::write(dir.path().join(file), b"old").unwrap();
    }
    std::fs::create_dir(dir.path().join("history-200.sled")).unwrap();
    for backend in [Backend::Sled, Backend::Sqlite] {
        let fixture = built(backend, &cache).await;
        assert_eq!(transactions(&fixture).await, TRANSACTIONS, "{backend:?}: built in the current format");
        assert!(history_paths(backend, POSTINGS, dir.path()).unwrap().1.exists(), "{backend:?}");
    }
    for file in old.iter().chain(&["history-200.sled"]) {
        assert!(!dir.path().join(file).exists(), "{file} is left");
    }
}

#[tokio::test]
async fn without_a_postgres_server_the_postgres_history_is_skipped() {
    let cache = HistoryCache { dir: std::env::temp_dir(), postgres: None };
    assert!(history(Backend::Postgres, POSTINGS, &cache).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_history_is_built_once_into_its_schema_and_reused() {
    let Ok(url) = std::env::var("LEDGER_TEST_POSTGRES_URL") else {
        eprintln!("skipped: the PostgreSQL history fixture (set LEDGER_TEST_POSTGRES_URL to run)");
        return;
    };
    let cache = HistoryCache { dir: std::env::temp_dir(), postgres: Some(url.clone()) };
    let drop_schema = || async {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        let drop = format!("DROP SCHEMA IF EXISTS {} CASCADE", history_schema(POSTINGS));
        sqlx::query(&drop).execute(&pool).await.unwrap();
        pool.close().await;
    };
    drop_schema().await;
    built_once_then_reused(Backend::Postgres, &cache).await;
    drop_schema().await;
}
