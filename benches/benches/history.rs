//! A history page over 1,000,000 postings: the newest page of one
//! account's history and of the whole ledger, and a page deep behind a
//! cursor, on memory (built in process) and SQLite (built once and cached
//! under `target/bench-data`).
//!
//! Run: `cargo bench -p ledger-bench --bench history`
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ledger_bench::fixture::{BenchLedger, HISTORY_ACCOUNTS, add_history, seeded, sqlite_history};
use ledger_bench::options::Backend;
use ledger_core::{Actor, Cursor, HistoryFilter, PageRequest};
use tokio::runtime::Runtime;

/// Postings in the history each query pages through.
const POSTINGS: usize = 1_000_000;
/// Items per page.
const PAGE_LEN: usize = 50;

fn memory_history(rt: &Runtime) -> Option<BenchLedger> {
    let fixture = rt.block_on(seeded(Backend::Memory, HISTORY_ACCOUNTS, 1)).ok()??;
    rt.block_on(add_history(&fixture.ledger, &fixture.accounts, POSTINGS)).ok()?;
    Some(fixture)
}

fn history(c: &mut Criterion) {
    let Ok(rt) = Runtime::new() else { return };
    let fixtures = [("memory", memory_history(&rt)), ("sqlite", rt.block_on(sqlite_history(POSTINGS)).ok())];
    for (name, fixture) in fixtures {
        let Some(fixture) = fixture else { panic!("building the {name} history failed") };
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
        let mut group = c.benchmark_group(format!("history/{name}"));
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

criterion_group!(benches, history);
criterion_main!(benches);
