//! Criterion benches on the in-memory store: one transfer, and atomic batches.
//!
//! Run: `cargo bench -p ledger-benches`
//!
//! Each sample runs on a fresh ledger inside one `block_on` of a
//! current-thread runtime (one client on one core), so the numbers are the
//! ledger's own cost, and memory stays bounded by the largest sample.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ledger_core::{
    AccountKind, Amount, Currency, Deposit, IdempotencyKey, Ledger, LedgerError, MemoryStore, MoneyCommand,
    OpenAccount, Transfer, UserId,
};
use tokio::runtime::Runtime;

const SYS: ledger_core::Actor = ledger_core::Actor::System;

/// Atomic batch sizes measured, in transfers.
const BATCH_SIZES: [usize; 4] = [1, 10, 100, 1000];

struct Fixture {
    ledger: Ledger,
    from: ledger_core::AccountId,
    to: ledger_core::AccountId,
}

async fn fixture() -> Result<Fixture, LedgerError> {
    let ledger = Ledger::open(MemoryStore::new()).await?;
    let open = || OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
    let from = ledger.open_account(&SYS, open()).await?.id;
    let to = ledger.open_account(&SYS, open()).await?.id;
    let amount = Amount::parse("1000000000")?;
    ledger.deposit(&SYS, IdempotencyKey::new("seed")?, Deposit { account: from, amount, description: None }).await?;
    Ok(Fixture { ledger, from, to })
}

fn transfer(f: &Fixture) -> Transfer {
    let amount = Amount::parse("0.01").unwrap_or_else(|_| unreachable!("a literal amount"));
    Transfer { from: f.from, to: f.to.into(), amount, description: None }
}

fn key(n: u64) -> IdempotencyKey {
    IdempotencyKey::new(format!("k{n}")).unwrap_or_else(|_| unreachable!("keys are printable"))
}

/// Runs `iters` calls of `step` on a fresh fixture; times only the calls.
fn timed<F>(rt: &Runtime, iters: u64, step: F) -> Duration
where
    F: AsyncFn(&Fixture, u64) -> Result<(), LedgerError>,
{
    rt.block_on(async {
        let f = fixture().await.unwrap_or_else(|error| panic!("cannot set up the bench ledger: {error}"));
        let start = Instant::now();
        for n in 0..iters {
            if let Err(error) = step(&f, n).await {
                panic!("a benchmarked command failed: {error}");
            }
        }
        start.elapsed()
    })
}

fn benches(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    let mut single = c.benchmark_group("memory");
    single.throughput(Throughput::Elements(1)).sample_size(20).measurement_time(Duration::from_secs(3));
    single.bench_function("transfer", |b| {
        b.iter_custom(|iters| {
            timed(&rt, iters, async |f, n| f.ledger.transfer(&SYS, key(n), transfer(f)).await.map(drop))
        })
    });
    single.finish();
    let mut group = c.benchmark_group("memory/batch");
    group.sample_size(10).measurement_time(Duration::from_secs(3));
    for size in BATCH_SIZES {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.iter_custom(|iters| {
                timed(&rt, iters, async |f, n| {
                    let commands = vec![MoneyCommand::Transfer(transfer(f)); size];
                    f.ledger.execute_batch(&SYS, key(n), commands).await.map(drop)
                })
            })
        });
    }
    group.finish();
}

criterion_group!(transfer_benches, benches);
criterion_main!(transfer_benches);
