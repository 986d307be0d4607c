//! Hot-account contention: 64 concurrent transfers that all debit one
//! account, against 64 that touch disjoint accounts, on every backend
//! (PostgreSQL when `LEDGER_BENCH_POSTGRES_URL` is set).
//!
//! Run: `cargo bench -p ledger-bench --bench contention`
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ledger_bench::fixture::{BACKENDS, key, seeded, transfer, unless_skipped};
use ledger_core::{AccountId, Actor, Ledger};
use tokio::runtime::Runtime;

/// Concurrent transfers per measured round.
const CONCURRENT: usize = 64;

/// Runs one round of concurrent transfers and waits for all of them.
async fn round(ledger: &Ledger, pairs: &[(AccountId, AccountId)]) {
    let tasks: Vec<_> = pairs
        .iter()
        .map(|&(from, to)| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.execute(&Actor::System, key(), transfer(from, to)).await.is_ok() })
        })
        .collect();
    for task in tasks {
        assert!(matches!(task.await, Ok(true)), "a contended transfer failed");
    }
}

fn contention(c: &mut Criterion) {
    let Ok(rt) = Runtime::new() else { return };
    for backend in BACKENDS {
        let built = rt
            .block_on(seeded(backend, 2 * CONCURRENT + 1, CONCURRENT))
            .unwrap_or_else(|error| panic!("seeding {} failed: {error}", backend.name()));
        let Some(fixture) = unless_skipped("contention", backend, built) else { continue };
        let a = &fixture.accounts;
        let hot: Vec<_> = (1..=CONCURRENT).map(|i| (a[0], a[i])).collect();
        let disjoint: Vec<_> = (0..CONCURRENT).map(|i| (a[2 * i + 1], a[2 * i + 2])).collect();
        let mut group = c.benchmark_group(format!("contention/{}", backend.name()));
        group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
        group.throughput(Throughput::Elements(CONCURRENT as u64));
        for (name, pairs) in [("hot_account", &hot), ("disjoint_accounts", &disjoint)] {
            group.bench_function(name, |b| {
                b.iter_custom(|rounds| {
                    let started = Instant::now();
                    for _ in 0..rounds {
                        rt.block_on(round(&fixture.ledger, pairs));
                    }
                    started.elapsed()
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, contention);
criterion_main!(benches);
