//! One transfer per backend: memory, sled (flush on commit), SQLite (WAL,
//! synchronous=FULL) and PostgreSQL (when `LEDGER_BENCH_POSTGRES_URL` is set).
//!
//! Run: `cargo bench -p ledger-bench --bench transfer`
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ledger_bench::fixture::{BACKENDS, key, seeded, transfer, unless_skipped};
use ledger_core::Actor;
use tokio::runtime::Runtime;

fn one_transfer(c: &mut Criterion) {
    let Ok(rt) = Runtime::new() else { return };
    let mut group = c.benchmark_group("transfer");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    for backend in BACKENDS {
        let built = rt
            .block_on(seeded(backend, 100, 1))
            .unwrap_or_else(|error| panic!("seeding {} failed: {error}", backend.name()));
        let Some(fixture) = unless_skipped("transfer", backend, built) else { continue };
        let (from, to) = (fixture.accounts[0], fixture.accounts[1]);
        group.bench_function(backend.name(), |b| {
            b.to_async(&rt)
                .iter(|| async { fixture.ledger.execute(&Actor::System, key(), transfer(from, to)).await.map(|_| ()) });
        });
    }
    group.finish();
}

criterion_group!(benches, one_transfer);
criterion_main!(benches);
