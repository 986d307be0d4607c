//! Atomic batches of transfers (one idempotency key, all or nothing) on
//! every backend (PostgreSQL when `LEDGER_BENCH_POSTGRES_URL` is set), sized
//! 1, 10, 100 and 1000 (those within `BATCH_SIZE_MAX`).
//!
//! Run: `cargo bench -p ledger-bench --bench batch`
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ledger_bench::fixture::{BACKENDS, key, seeded, transfer, unless_skipped};
use ledger_core::{Actor, BATCH_SIZE_MAX, MoneyCommand};
use tokio::runtime::Runtime;

fn batches(c: &mut Criterion) {
    let Ok(rt) = Runtime::new() else { return };
    let sizes: Vec<usize> = [1, 10, 100, 1000].into_iter().filter(|&n| n <= BATCH_SIZE_MAX).collect();
    for backend in BACKENDS {
        let built = rt
            .block_on(seeded(backend, 100, 1))
            .unwrap_or_else(|error| panic!("seeding {} failed: {error}", backend.name()));
        let Some(fixture) = unless_skipped("batch", backend, built) else { continue };
        let mut group = c.benchmark_group(format!("batch/{}", backend.name()));
        group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
        for &size in &sizes {
            let commands: Vec<MoneyCommand> =
                (0..size).map(|i| transfer(fixture.accounts[i % 100], fixture.accounts[(i + 1) % 100])).collect();
            group.throughput(Throughput::Elements(size as u64));
            group.bench_with_input(BenchmarkId::from_parameter(size), &commands, |b, commands| {
                b.to_async(&rt).iter(|| async {
                    fixture.ledger.execute_batch(&Actor::System, key(), commands.clone()).await.map(|_| ())
                });
            });
        }
        group.finish();
    }
}

criterion_group!(benches, batches);
criterion_main!(benches);
