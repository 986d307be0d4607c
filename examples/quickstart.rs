//! Embed the ledger on the in-memory store: open two accounts, deposit,
//! transfer, print balances and history.
//!
//! Run: `cargo run --example quickstart`

use ledger::{
    AccountKind, AccountRef, Actor, Amount, Currency, Deposit, HistoryFilter, IdempotencyKey, Ledger, LedgerError,
    MemoryStore, OpenAccount, PageRequest, Transfer, UserId,
};

#[tokio::main]
async fn main() -> Result<(), LedgerError> {
    let ledger = Ledger::open(MemoryStore::new()).await?;
    // This program is the bank's back office: it acts as the system, with no
    // ownership limits. A signed-in customer would act as `Actor::customer(id)`.
    let me = Actor::System;

    let alice = ledger.open_account(&me, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd)).await?;
    let bob = ledger.open_account(&me, OpenAccount::new(UserId::new(), AccountKind::Savings, Currency::Usd)).await?;
    println!("alice: {} ({})", alice.number, alice.id);
    println!("bob:   {} ({})", bob.number, bob.id);

    let deposit = Deposit {
        account: alice.id,
        amount: Amount::parse("100.00")?,
        description: Some("salary".into()),
        metadata: Default::default(),
    };
    ledger.deposit(&me, IdempotencyKey::new("quickstart-deposit")?, deposit).await?;

    // Pay Bob by account number, as people do.
    let transfer = Transfer {
        from: alice.id,
        to: AccountRef::Number(bob.number),
        amount: Amount::parse("12.50")?,
        description: Some("lunch".into()),
        metadata: Default::default(),
    };
    let key = IdempotencyKey::new("quickstart-transfer")?;
    let first = ledger.transfer(&me, key.clone(), transfer.clone()).await?;
    // A retry with the same key is answered from the ledger, not applied again.
    let retry = ledger.transfer(&me, key, transfer).await?;
    assert!(retry.replayed && retry.transaction.id == first.transaction.id);

    for account in [&alice, &bob] {
        let balance = ledger.balance(&me, account.id).await?;
        println!("{}: posted {} available {}", account.number, balance.posted, balance.available());
    }

    let history = ledger.history(&me, &HistoryFilter::account(alice.id), PageRequest::default()).await?;
    println!("alice's history, newest first:");
    for t in history.items {
        println!(
            "  {} {:<10} {:>8} {} {:?}",
            t.created_at.format("%H:%M:%S"),
            t.kind.as_str(),
            t.amount,
            t.currency,
            t.description
        );
    }
    Ok(())
}
