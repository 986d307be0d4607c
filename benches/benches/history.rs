//! A history page over 1,000,000 postings: the newest page of one
//! account's history and of the whole ledger, and a page deep behind a
//! cursor; and that account's balances over time against its current
//! balance: the balance as of a random instant, and a 100-row page of
//! balance history ending at a random instant. On every backend: memory
//! built in process, SQLite and sled built once and cached under
//! `target/bench-data`, PostgreSQL (when `LEDGER_BENCH_POSTGRES_URL` is set)
//! built once into a schema of its own.
//!
//! Run: `cargo bench -p ledger-bench --bench history`, then `cargo run
//! --release -p ledger-bench -- history-ratios` for each backend's balance
//! cases as multiples of its current balance (the bar is 2x).
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use ledger_bench::criterion_ratios::{HISTORY_BASELINE, HISTORY_CASES};
use ledger_bench::fixture::{BACKENDS, HISTORY_ACCOUNTS, HistoryCache, history, unless_skipped};
use ledger_core::{AccountId, Actor, Cursor, HistoryFilter, Ledger, LedgerError, PageRequest, PostingRange};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::runtime::Runtime;

/// Postings in the history each query pages through.
const POSTINGS: usize = 1_000_000;
/// Items per page.
const PAGE_LEN: usize = 50;
/// Rows per balance-history page.
const BALANCE_PAGE_LEN: usize = 100;
/// Random instants drawn before a case runs; its iterations take them in
/// turn (so drawing costs the timed loop nothing but an index).
const INSTANTS: usize = 4096;
/// Seed of the random instants: every run and backend draws the same ones
/// relative to its account's span.
const SEED: u64 = 0x0ba1_a9ce;

/// When one account's postings committed: the span the balance cases draw
/// their instants from.
struct Span {
    /// Its first posting's commit time.
    first: DateTime<Utc>,
    /// Just after its `BALANCE_PAGE_LEN + 1`-th posting's: a page ending at
    /// or after this instant holds `BALANCE_PAGE_LEN` rows.
    full_page: DateTime<Utc>,
    /// Its last posting's.
    last: DateTime<Utc>,
}

impl Span {
    /// Reads the account's first and last postings (and the one a full
    /// page needs) and checks, untimed, that the cases about to be timed
    /// answer what they should.
    async fn of(ledger: &Ledger, account: AccountId) -> Result<Span, LedgerError> {
        let range = PostingRange { account, from: None, until: None, after: None, newest_first: false };
        let oldest = ledger.store().postings_in(&range, BALANCE_PAGE_LEN + 1).await?;
        let newest = ledger.balance_history(&Actor::System, account, (None, None), None, 1).await?;
        let (Some(first), Some(page_end), Some(last)) =
            (oldest.first(), oldest.get(BALANCE_PAGE_LEN), newest.items.first())
        else {
            panic!("the busy account has fewer than {} postings", BALANCE_PAGE_LEN + 1);
        };
        let span = Span { first: first.at, full_page: page_end.at + chrono::Duration::nanoseconds(1), last: last.at };
        let current = ledger.balance(&Actor::System, account).await?;
        let at_last = ledger.balance_as_of(&Actor::System, account, span.last).await?;
        assert_eq!(at_last.posted, current.posted, "the balance as of the last posting is the current balance");
        let page =
            ledger.balance_history(&Actor::System, account, (None, Some(span.full_page)), None, BALANCE_PAGE_LEN);
        assert_eq!(page.await?.items.len(), BALANCE_PAGE_LEN, "the earliest page drawn is full");
        Ok(span)
    }

    /// `INSTANTS` instants drawn uniformly from `[from, self.last]`.
    fn draw(&self, from: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let nanos = (self.last - from).num_nanoseconds().unwrap_or(i64::MAX).max(0);
        let mut rng = StdRng::seed_from_u64(SEED);
        (0..INSTANTS).map(|_| from + chrono::Duration::nanoseconds(rng.random_range(0..=nanos))).collect()
    }
}

/// Hands out `instants` in turn, round and round.
fn in_turn(instants: &[DateTime<Utc>]) -> impl FnMut() -> DateTime<Utc> + '_ {
    let mut next = 0;
    move || {
        next = (next + 1) % instants.len();
        instants[next]
    }
}

fn history_pages(c: &mut Criterion) {
    let Ok(rt) = Runtime::new() else { return };
    let cache = HistoryCache::from_env();
    for backend in BACKENDS {
        let started = std::time::Instant::now();
        let built = rt
            .block_on(history(backend, POSTINGS, &cache))
            .unwrap_or_else(|error| panic!("building the {} history failed: {error}", backend.name()));
        // Built, or opened from the cache: the first run's line is the build time.
        eprintln!("history/{}: fixture ready in {:.1} s", backend.name(), started.elapsed().as_secs_f64());
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
        // Balances over time, each against the current balance of the same
        // account in the same group (`ledger-bench history-ratios`).
        let busy = fixture.accounts[0];
        let span = rt
            .block_on(Span::of(ledger, busy))
            .unwrap_or_else(|error| panic!("reading the {} history's span failed: {error}", backend.name()));
        let (as_of, until) = (span.draw(span.first), span.draw(span.full_page));
        group.bench_function(HISTORY_BASELINE, |b| {
            b.to_async(&rt).iter(|| ledger.balance(&Actor::System, busy));
        });
        group.bench_function(HISTORY_CASES[0], |b| {
            let mut instant = in_turn(&as_of);
            b.to_async(&rt).iter(|| ledger.balance_as_of(&Actor::System, busy, instant()));
        });
        group.bench_function(HISTORY_CASES[1], |b| {
            let mut until = in_turn(&until);
            b.to_async(&rt)
                .iter(|| ledger.balance_history(&Actor::System, busy, (None, Some(until())), None, BALANCE_PAGE_LEN));
        });
        group.finish();
    }
}

criterion_group!(benches, history_pages);
criterion_main!(benches);
