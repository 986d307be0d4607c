//! Embed the ledger on sled: money moved in one run is there in the next.
//!
//! Opens a sled database (in a temporary directory, or at the path given),
//! opens two accounts, deposits, transfers, prints balances, then closes the
//! store, reopens it and shows the same data read back from disk. Given a
//! path, a second run finds the accounts again and its commands are answered
//! as replays: the idempotency keys were stored with their effects.
//!
//! Run: `cargo run --example sled [PATH]`

use std::error::Error;
use std::path::PathBuf;

use ledger::SledStore;
use ledger::{
    AccountKind, AccountRef, Actor, Amount, Currency, Deposit, HistoryFilter, IdempotencyKey, Ledger, OpenAccount,
    PageRequest, Transfer, UserId,
};

/// One fixed owner, so a rerun on the same path finds the same accounts.
const OWNER: &str = "0198f000-0000-7000-8000-00000000e5a1";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Keep the temporary directory alive until the end of main.
    let temp = tempfile::tempdir()?;
    let path = std::env::args_os().nth(1).map(PathBuf::from).unwrap_or_else(|| temp.path().join("ledger"));
    println!("sled database: {}", path.display());

    let owner: UserId = OWNER.parse()?;
    let (alice, bob) = {
        // Durability::Flush by default: each acknowledged command is on disk.
        let ledger = Ledger::open(SledStore::open(&path)?).await?;
        let mut accounts = ledger.accounts_of(&Actor::System, owner).await?;
        while accounts.len() < 2 {
            accounts.push(
                ledger
                    .open_account(&Actor::System, OpenAccount::new(owner, AccountKind::Checking, Currency::Eur))
                    .await?,
            );
        }
        let (alice, bob) = (accounts[0].clone(), accounts[1].clone());

        let deposit = Deposit {
            account: alice.id,
            amount: Amount::parse("250.00")?,
            description: Some("salary".into()),
            metadata: Default::default(),
        };
        let receipt = ledger.deposit(&Actor::System, IdempotencyKey::new("sled-example-deposit")?, deposit).await?;
        println!("deposit {} (replayed: {})", receipt.transaction.id, receipt.replayed);

        let transfer = Transfer {
            from: alice.id,
            to: AccountRef::Number(bob.number),
            amount: Amount::parse("40.00")?,
            description: Some("rent share".into()),
            metadata: Default::default(),
        };
        let receipt = ledger.transfer(&Actor::System, IdempotencyKey::new("sled-example-transfer")?, transfer).await?;
        println!("transfer {} (replayed: {})", receipt.transaction.id, receipt.replayed);

        for account in [&alice, &bob] {
            let balance = ledger.balance(&Actor::System, account.id).await?;
            println!("  {}: posted {} available {}", account.number, balance.posted, balance.available());
        }
        (alice, bob)
        // The ledger and its store drop here, closing the database.
    };

    println!("reopened:");
    let ledger = Ledger::open(SledStore::open(&path)?).await?;
    for account in [&alice, &bob] {
        let balance = ledger.balance(&Actor::System, account.id).await?;
        println!("  {}: posted {} available {}", account.number, balance.posted, balance.available());
    }
    let history = ledger.history(&Actor::System, &HistoryFilter::account(alice.id), PageRequest::default()).await?;
    for t in history.items {
        println!(
            "  {} {:<8} {:>7} {} {}",
            t.created_at.format("%F %T"),
            t.kind.as_str(),
            t.amount,
            t.currency,
            t.description.as_deref().unwrap_or("")
        );
    }
    let head = ledger.verify_audit_chain(&Actor::System, None).await?;
    println!("audit chain verified: {} records", head.sequence);
    Ok(())
}
