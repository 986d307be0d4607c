//! Concurrency: many tasks on a few hot accounts. Afterwards the invariants
//! hold (the runner checks them), every acknowledged transaction is in
//! history exactly once, and nothing applied twice or overdrew.

use std::collections::HashMap;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use tokio::sync::Barrier;

use super::Harness;
use super::invariants::all_transactions;
use crate::account::{AccountKind, AccountStatus};
use crate::command::{Deposit, OpenAccount, Transfer, Withdraw};
use crate::error::LedgerError;
use crate::id::{AccountId, TransactionId, UserId};
use crate::idempotency::IdempotencyKey;
use crate::identity::Actor;
use crate::ledger::Ledger;
use crate::money::{Amount, Currency};
use crate::query::HistoryFilter;
use crate::transaction::TransactionKind;

/// Conformance cases act as the embedding program itself.
const SYS: Actor = Actor::System;

const HOT_ACCOUNTS: usize = 4;
const TASKS: usize = 16;
const TRANSFERS_PER_TASK: usize = 40;

fn key(text: String) -> IdempotencyKey {
    IdempotencyKey::new(text).expect("generated keys are valid")
}

async fn funded_accounts(ledger: &Ledger, count: usize, each: i64) -> Vec<AccountId> {
    let mut ids = Vec::new();
    for i in 0..count {
        let command = OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd);
        let account = ledger.open_account(&SYS, command).await.expect("opening an account");
        let amount = Amount::new(Decimal::from(each)).expect("a positive amount");
        let deposit = Deposit { account: account.id, amount, description: None, metadata: Default::default() };
        ledger.deposit(&SYS, key(format!("fund-{i}")), deposit).await.expect("funding");
        ids.push(account.id);
    }
    ids
}

/// Random transfers from many tasks over a few hot accounts.
pub async fn concurrent_transfers_keep_invariants(h: Harness) {
    let accounts = funded_accounts(&h.ledger, HOT_ACCOUNTS, 500).await;
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let ledger = h.ledger.clone();
        let accounts = accounts.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(task as u64);
            let mut acknowledged = Vec::new();
            for i in 0..TRANSFERS_PER_TASK {
                let from = accounts[rng.random_range(0..accounts.len())];
                let to = accounts[rng.random_range(0..accounts.len())];
                if from == to {
                    continue;
                }
                let amount = Amount::new(Decimal::new(rng.random_range(1..=10_000), 2)).expect("positive");
                let command = Transfer { from, to: to.into(), amount, description: None, metadata: Default::default() };
                match ledger.transfer(&SYS, key(format!("t{task}-{i}")), command).await {
                    Ok(receipt) => acknowledged.push((receipt.transaction.id, from, to, amount.value())),
                    Err(LedgerError::InsufficientFunds { .. }) => {}
                    Err(other) => panic!("a concurrent transfer failed unexpectedly: {other}"),
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.expect("a transfer task panicked"));
    }
    assert!(!acknowledged.is_empty(), "some transfers must succeed");
    let filter = HistoryFilter { kind: Some(TransactionKind::Transfer), ..HistoryFilter::default() };
    let history = all_transactions(&h.ledger, &filter).await;
    let mut counts: HashMap<TransactionId, usize> = HashMap::new();
    for t in &history {
        *counts.entry(t.id).or_default() += 1;
    }
    for (id, ..) in &acknowledged {
        assert_eq!(counts.get(id), Some(&1), "acknowledged transfer {id} must appear exactly once");
    }
    assert_eq!(history.len(), acknowledged.len(), "history holds only acknowledged transfers");
    // No lost update: each balance is the funding plus the acknowledged effects.
    let mut expected: HashMap<AccountId, Decimal> = accounts.iter().map(|a| (*a, Decimal::from(500))).collect();
    for (_, from, to, amount) in &acknowledged {
        *expected.entry(*from).or_default() -= *amount;
        *expected.entry(*to).or_default() += *amount;
    }
    for account in &accounts {
        let balance = h.ledger.balance(&SYS, *account).await.expect("balance");
        assert_eq!(balance.posted, expected[account], "lost update on {account}");
    }
}

/// The same command sent at once by many tasks with one key applies once.
pub async fn concurrent_replays_apply_once(h: Harness) {
    let accounts = funded_accounts(&h.ledger, 1, 1).await;
    let account = accounts[0];
    const KEYS: usize = 5;
    const SENDERS: usize = 8;
    for round in 0..KEYS {
        let barrier = Arc::new(Barrier::new(SENDERS));
        let mut tasks = Vec::new();
        for _ in 0..SENDERS {
            let (ledger, barrier) = (h.ledger.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                let deposit = Deposit {
                    account,
                    amount: Amount::parse("2.50").expect("amount"),
                    description: None,
                    metadata: Default::default(),
                };
                barrier.wait().await;
                ledger.deposit(&SYS, key(format!("same-{round}")), deposit).await
            }));
        }
        let mut ids = Vec::new();
        let mut fresh = 0;
        for task in tasks {
            let receipt = task.await.expect("a sender panicked").expect("every sender gets the result");
            fresh += usize::from(!receipt.replayed);
            ids.push(receipt.transaction.id);
        }
        assert_eq!(fresh, 1, "exactly one sender applies the command");
        ids.dedup();
        assert_eq!(ids.len(), 1, "every sender sees the same transaction");
    }
    let expected = Decimal::from(1) + Decimal::new(250, 2) * Decimal::from(KEYS as u64);
    assert_eq!(h.ledger.balance(&SYS, account).await.map(|b| b.posted), Ok(expected));
}

/// Racing withdrawals drain an account exactly to zero, never below.
pub async fn concurrent_withdrawals_never_overdraw(h: Harness) {
    const RACERS: usize = 20;
    let accounts = funded_accounts(&h.ledger, 1, 100).await;
    let account = accounts[0];
    let barrier = Arc::new(Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let (ledger, barrier) = (h.ledger.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let withdraw = Withdraw {
                account,
                amount: Amount::parse("10").expect("amount"),
                description: None,
                metadata: Default::default(),
            };
            barrier.wait().await;
            ledger.withdraw(&SYS, key(format!("race-{i}")), withdraw).await
        }));
    }
    let mut succeeded = 0;
    for task in tasks {
        match task.await.expect("a racer panicked") {
            Ok(_) => succeeded += 1,
            Err(LedgerError::InsufficientFunds { .. }) => {}
            Err(other) => panic!("a racing withdrawal failed unexpectedly: {other}"),
        }
    }
    assert_eq!(succeeded, 10, "exactly the funded number of withdrawals succeed");
    let account = h.ledger.account(&SYS, account).await.expect("account");
    assert_eq!(account.balance.posted, Decimal::ZERO);
    assert_eq!(account.status, AccountStatus::Active);
}
