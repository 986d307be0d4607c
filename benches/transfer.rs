//! Criterion benches on the in-memory store: one transfer, and atomic batches.
//!
//! Run: `cargo bench -p ledger-benches`
#![allow(missing_docs)] // criterion's macros generate undocumented items

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ledger_core::{
    AccountKind, Amount, Currency, Deposit, IdempotencyKey, Ledger, MemoryStore, MoneyCommand, OpenAccount, Transfer,
    UserId,
};
use tokio::runtime::Runtime;

const SYS: ledger_core::Actor = ledger_core::Actor::System;

struct Fixture {
    ledger: Ledger,
    from: ledger_core::AccountId,
    to: ledger_core::AccountId,
}

async fn fixture() -> Result<Fixture, ledger_core::LedgerError> {
    let ledger = Ledger::open(MemoryStore::new()).await?;
    let open = || OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
    let from = ledger.open_account(&SYS, open()).await?.id;
    let to = ledger.open_account(&SYS, open()).await?.id;
    let amount = Amount::parse("1000000000")?;
    ledger.deposit(&SYS, IdempotencyKey::new("seed")?, Deposit { account: from, amount, description: None }).await?;
    Ok(Fixture { ledger, from, to })
}

fn transfer(f: &Fixture) -> MoneyCommand {
    let amount = Amount::parse("0.01").unwrap_or_else(|_| unreachable!("a literal amount"));
    MoneyCommand::Transfer(Transfer { from: f.from, to: f.to.into(), amount, description: None })
}

fn benches(c: &mut Criterion) {
    let Ok(rt) = Runtime::new() else { return };
    let Ok(f) = rt.block_on(fixture()) else { return };
    let mut n = 0u64;
    let mut key = move || {
        n += 1;
        IdempotencyKey::new(format!("k{n}")).unwrap_or_else(|_| unreachable!("keys are printable"))
    };
    c.bench_function("memory/transfer", |b| {
        b.iter(|| rt.block_on(f.ledger.execute(&SYS, key(), transfer(&f))).is_ok());
    });
    let mut group = c.benchmark_group("memory/batch");
    for size in [1usize, 10, 100] {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, &size| {
            b.iter(|| rt.block_on(f.ledger.execute_batch(&SYS, key(), vec![transfer(&f); size])).is_ok());
        });
    }
    group.finish();
}

criterion_group!(transfer_benches, benches);
criterion_main!(transfer_benches);
