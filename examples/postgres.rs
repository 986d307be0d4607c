//! Embed the ledger on PostgreSQL (or SQLite): open two accounts, deposit,
//! transfer, print balances.
//!
//! Run: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example postgres`
//! (`DATABASE_URL=sqlite:ledger.db` works too). The schema is created on
//! first use; every run opens two new accounts.

use std::process::ExitCode;

use ledger::SqlStore;
use ledger::{
    AccountKind, AccountRef, Actor, Amount, Currency, Deposit, IdempotencyKey, Ledger, OpenAccount, Transfer, UserId,
};

#[tokio::main]
async fn main() -> ExitCode {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("Set DATABASE_URL to the database to use, for example:");
        eprintln!("  DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example postgres");
        return ExitCode::from(2);
    };
    match run(&url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let store = SqlStore::connect(url).await?;
    let ledger = Ledger::open(store).await?;

    // The embedding program acts as `Actor::System` (no ownership limits); a
    // signed-in user would act as `Actor::customer(user_id)`.
    let alice = ledger
        .open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Eur))
        .await?;
    let bob = ledger
        .open_account(&Actor::System, OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Eur))
        .await?;
    println!("alice: {}", alice.number);
    println!("bob:   {}", bob.number);

    // The database outlives this program: keys must be new on every run
    // (a repeated key would replay the earlier command, not apply it again).
    let run = ledger.now().timestamp_micros();
    let deposit = Deposit {
        account: alice.id,
        amount: Amount::parse("250.00")?,
        description: Some("salary".into()),
        metadata: Default::default(),
    };
    ledger.deposit(&Actor::System, IdempotencyKey::new(format!("example-deposit-{run}"))?, deposit).await?;
    let transfer = Transfer {
        from: alice.id,
        to: AccountRef::Number(bob.number),
        amount: Amount::parse("42.10")?,
        description: Some("rent share".into()),
        metadata: Default::default(),
    };
    let receipt =
        ledger.transfer(&Actor::System, IdempotencyKey::new(format!("example-transfer-{run}"))?, transfer).await?;
    println!("transfer {} committed at sequence {}", receipt.transaction.id, receipt.transaction.sequence);

    for (name, account) in [("alice", &alice), ("bob", &bob)] {
        let balance = ledger.balance(&Actor::System, account.id).await?;
        println!("{name}: posted {} available {} {}", balance.posted, balance.available(), account.currency);
    }
    Ok(())
}
