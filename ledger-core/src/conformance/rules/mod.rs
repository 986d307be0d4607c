//! One case per rule of the ledger, including every rejection path. Each
//! rejection is checked to return its typed error, change nothing, and leave
//! exactly one `rejected` audit record with the error's code.

use chrono::Duration;
use rust_decimal::Decimal;

use super::Harness;
use super::invariants::{all_accounts, all_postings, all_transactions};
use crate::account::{Account, AccountKind, AccountStatus};
use crate::account_number::AccountNumber;
use crate::audit::{AuditHead, AuditOutcome, verify_chain};
use crate::command::{
    AccountRef, BATCH_SIZE_MAX, CaptureHold, Deposit, MoneyCommand, OpenAccount, PlaceHold, Transfer, VoidHold,
    Withdraw,
};
use crate::error::LedgerError;
use crate::event::LedgerEvent;
use crate::id::{AccountId, TransactionId, UserId};
use crate::idempotency::IdempotencyKey;
use crate::identity::Actor;
use crate::ledger::Receipt;
use crate::money::{Amount, Currency, MoneyError};
use crate::query::{Cursor, HistoryFilter, PAGE_SIZE_MAX, PageRequest};
use crate::transaction::{Transaction, TransactionKind, TransactionStatus};

/// Conformance cases act as the embedding program itself.
const SYS: Actor = Actor::System;

// ---------------------------------------------------------------- helpers

fn key() -> IdempotencyKey {
    IdempotencyKey::new(format!("k-{}", uuid::Uuid::now_v7())).expect("a uuid is a valid key")
}

fn amount(text: &str) -> Amount {
    Amount::parse(text).expect("test amounts are valid")
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str_exact(text).expect("test decimals are valid")
}

async fn open(h: &Harness, currency: Currency) -> Account {
    open_for(h, UserId::new(), currency).await
}

async fn open_for(h: &Harness, owner: UserId, currency: Currency) -> Account {
    h.ledger
        .open_account(&SYS, OpenAccount::new(owner, AccountKind::Checking, currency))
        .await
        .expect("opening an account")
}

async fn deposit(h: &Harness, account: AccountId, text: &str) -> Receipt {
    h.ledger
        .deposit(
            &SYS,
            key(),
            Deposit { account, amount: amount(text), description: None, metadata: Default::default() },
        )
        .await
        .expect("a deposit to an active account")
}

fn transfer(from: AccountId, to: impl Into<AccountRef>, text: &str) -> Transfer {
    Transfer { from, to: to.into(), amount: amount(text), description: None, metadata: Default::default() }
}

fn hold(account: AccountId, text: &str) -> PlaceHold {
    PlaceHold {
        account,
        amount: amount(text),
        destination: None,
        expires_at: None,
        description: None,
        metadata: Default::default(),
    }
}

/// (posted, pending, available) of an account.
async fn balances(h: &Harness, account: AccountId) -> (Decimal, Decimal, Decimal) {
    let b = h.ledger.balance(&SYS, account).await.expect("the account exists");
    (b.posted, b.pending, b.available())
}

async fn posted(h: &Harness, account: AccountId) -> Decimal {
    balances(h, account).await.0
}

/// Everything observable, to prove a rejection changed nothing.
#[derive(Debug, PartialEq)]
struct State {
    accounts: Vec<Account>,
    transactions: Vec<Transaction>,
    audit_sequence: u64,
}

async fn state(h: &Harness) -> State {
    let audit_sequence = h.ledger.verify_audit_chain(&SYS, None).await.expect("the audit chain verifies").sequence;
    State {
        accounts: all_accounts(&h.ledger).await,
        transactions: all_transactions(&h.ledger, &HistoryFilter::default()).await,
        audit_sequence,
    }
}

/// Checks a rejection: the code, nothing changed, one rejected audit record.
async fn assert_rejected<T: std::fmt::Debug>(h: &Harness, before: &State, result: Result<T, LedgerError>, code: &str) {
    let error = match result {
        Ok(value) => panic!("expected {code}, got success: {value:?}"),
        Err(error) => error,
    };
    assert_eq!(error.root().code(), code, "wrong error: {error}");
    let after = state(h).await;
    assert_eq!(after.accounts, before.accounts, "a rejected command ({code}) changed an account");
    assert_eq!(after.transactions, before.transactions, "a rejected command ({code}) changed history");
    assert_eq!(after.audit_sequence, before.audit_sequence + 1, "a rejection must add exactly one audit record");
    let last = h.ledger.audit_log(&SYS, before.audit_sequence, 1).await.expect("reading the audit log");
    match &last[0].outcome {
        AuditOutcome::Rejected { code: audited, .. } => assert_eq!(audited, error.code()),
        AuditOutcome::Accepted => panic!("the rejection ({code}) was audited as accepted"),
    }
}

mod accounts;
mod audit;
mod batches;
mod feed;
mod history;
mod holds;
mod ledger;
mod money;
mod over_time;
mod reversals;

pub use accounts::*;
pub use audit::*;
pub use batches::*;
pub use feed::*;
pub use history::*;
pub use holds::*;
pub use ledger::*;
pub use money::*;
pub use over_time::*;
pub use reversals::*;
