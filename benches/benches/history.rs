//! A history page over 1,000,000 postings: the newest page of one
//! account's history and of the whole ledger, and a page deep behind a
//! cursor, on every backend: memory built in process, SQLite and sled built
//! once and cached under `target/bench-data`, PostgreSQL (when
//! `LEDGER_BENCH_POSTGRES_URL` is set) built once into a schema of its own.
//!
//! Run: `cargo bench -p ledger-bench --bench history`
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ledger_bench::fixture::{BACKENDS, HISTORY_ACCOUNTS, HistoryCache, history, unless_skipped};
use ledger_core::{Actor, Cursor, HistoryFilter, PageRequest};
use tokio::runtime::Runtime;

/// Postings in the history each query pages through.
const POSTINGS: usize = 1_000_000;
/// Items per page.
const PAGE_LEN: usize = 50;

fn history_pages(c: &mut Criterion) {
    let Ok(rt) = Runtime::new() else { return };
    let cache = HistoryCache::from_env();
    for backend in BACKENDS {
        let built = rt
            .block_on(history(backend, POSTINGS, &cache))
            .unwrap_or_else(|error| panic!("building the {} history failed: {error}", backend.name()));
        let Some(fixture) = unless_skipped("history", backend, built) else { continue };
        let ledger = &fixture.ledger;
        let account = HistoryFilter::account(fixture.accounts[0]);
        let everything = HistoryFilter::default();
        let page = PageRequest { cursor: None, size: PAGE_LEN };
        // A cursor about half way back through the account's history.
        let deep: Option<Cursor> = rt.block_on(async {
            let mut page = PageRequest { cursor: None, size: ledger_core::PAGE_SIZE_MAX };
            for _ in 0..(POSTINGS / HISTORY_ACCOUNTS / 2 / ledger_core::PAGE_SIZE_MAX) {
                page.cursor = ledger.history(&Actor::System, &account, page).await.ok()?.next_cursor;
            }
            page.cursor
        });
        let mut group = c.benchmark_group(format!("history/{}", backend.name()));
        group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
        group.bench_function("account_newest_page", |b| {
            b.to_async(&rt).iter(|| ledger.history(&Actor::System, &account, page));
        });
        group.bench_function("all_newest_page", |b| {
            b.to_async(&rt).iter(|| ledger.history(&Actor::System, &everything, page));
        });
        let deep_page = PageRequest { cursor: deep, size: PAGE_LEN };
        group.bench_function("account_page_half_way_back", |b| {
            b.to_async(&rt).iter(|| ledger.history(&Actor::System, &account, deep_page));
        });
        group.finish();
    }
}

criterion_group!(benches, history_pages);
criterion_main!(benches);
