//! Consume the ledger's change feed with a durable cursor, on SQLite: every
//! committed change in commit order, resumed where the last run stopped.
//!
//! The loop is what `ledger-http`'s publishers do for NATS, RabbitMQ and
//! webhooks (docs/events.md): read the changes after the cursor, handle
//! them, then move the cursor, which the ledger keeps in its own storage.
//! A crash between handling and moving handles some changes again, so a
//! handler deduplicates by `event_id` or by `sequence`.
//!
//! Run: `cargo run --example consumer`

use std::error::Error;

use ledger::{
    AccountKind, Actor, Amount, Change, Currency, Deposit, IdempotencyKey, Ledger, OpenAccount, SqlStore, UserId,
};

/// The consumer's name: its cursor is stored under it.
const CONSUMER: &str = "example-printer";

/// Handles every change after the stored cursor, a page at a time, and
/// moves the cursor after each page. Returns how many it handled.
async fn drain(ledger: &Ledger) -> Result<usize, Box<dyn Error>> {
    let mut handled = 0;
    loop {
        let cursor = ledger.sink_cursor(CONSUMER).await?;
        let page = ledger.events_after(cursor, 100).await?;
        let Some(last) = page.last().map(|c| c.sequence) else { return Ok(handled) };
        for change in &page {
            print(change);
        }
        handled += page.len();
        ledger.advance_sink_cursor(CONSUMER, last).await?;
    }
}

fn print(change: &Change) {
    let what = match (&change.transaction, &change.account) {
        (Some(t), _) => format!("{} {} {} ({})", t.kind.as_str(), t.amount, t.currency, t.status.as_str()),
        (None, Some(a)) => format!("{} {} {}", a.kind.as_str(), a.number, a.status.as_str()),
        (None, None) => String::new(),
    };
    println!("  {:<12} {:<24} {what}", change.event_id(), change.kind.as_str());
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let temp = tempfile::tempdir()?;
    let url = format!("sqlite:{}", temp.path().join("consumer.db").display());
    let me = Actor::System;

    let ledger = Ledger::open(SqlStore::connect(&url).await?).await?;
    let owner = UserId::new();
    let account = ledger.open_account(&me, OpenAccount::new(owner, AccountKind::Checking, Currency::Usd)).await?;
    let deposit = |amount: &str, key: &str| -> Result<(Deposit, IdempotencyKey), Box<dyn Error>> {
        let command = Deposit {
            account: account.id,
            amount: Amount::parse(amount)?,
            description: None,
            metadata: Default::default(),
        };
        Ok((command, IdempotencyKey::new(key)?))
    };
    let (command, key) = deposit("25.00", "consumer-1")?;
    ledger.deposit(&me, key, command).await?;
    println!("first run:");
    let first = drain(&ledger).await?;
    drop(ledger);

    // A later run on the same database: only what committed since.
    let ledger = Ledger::open(SqlStore::connect(&url).await?).await?;
    let (command, key) = deposit("7.50", "consumer-2")?;
    ledger.deposit(&me, key, command).await?;
    ledger.freeze(&me, account.id).await?;
    println!("second run, resumed at {}:", ledger.sink_cursor(CONSUMER).await?);
    let second = drain(&ledger).await?;
    assert_eq!(second, 2, "the second run handles only the deposit and the freeze");
    assert_eq!(ledger.events_count_after(ledger.sink_cursor(CONSUMER).await?).await?, 0);
    println!("handled {first} then {second} changes; nothing twice");
    Ok(())
}
