//! The model's fixture: accounts, holds and transfers set up on a memory
//! store, then the proptest's commands planned against it, each batch kept
//! (and applied, so a later command can name what an earlier one created).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::account::AccountKind;
use crate::audit::{AuditHead, AuditRecord};
use crate::clock::ManualClock;
use crate::command::{CaptureHold, Deposit, MoneyCommand, OpenAccount, PlaceHold, Reverse, Transfer, VoidHold};
use crate::conformance::recording::RecordingStore;
use crate::id::{AccountId, TransactionId, UserId};
use crate::idempotency::IdempotencyKey;
use crate::identity::Actor;
use crate::ledger::Ledger;
use crate::memory::MemoryStore;
use crate::metadata::Metadata;
use crate::money::{Amount, Currency};
use crate::store::Store;
use crate::store::rows::Rows;
use crate::write_batch::WriteBatch;

use super::Lock;

/// Accounts the commands move money between.
const ACCOUNTS: usize = 4;
/// Holds placed before the commands, each captured or voided by some.
const HOLDS: usize = 3;
/// Transfers made before the commands, each reversed by some.
const REVERSIBLE: usize = 2;

/// A command to plan, naming setup records by index.
#[derive(Debug, Clone)]
enum Intent {
    Open { owner: usize },
    Transfer { from: usize, to: usize, cents: i64 },
    Deposit { to: usize, cents: i64 },
    Hold { from: usize, to: usize, cents: i64 },
    Capture { hold: usize, cents: Option<i64> },
    Void { hold: usize },
    Reverse { of: usize, cents: Option<i64> },
}

/// One planned command: what, under which key, how long after the last.
#[derive(Debug, Clone)]
pub(super) struct Planned {
    intent: Intent,
    /// A key shared with other commands (`Some`), or one of its own.
    shared_key: Option<u8>,
    /// Sent again: the previous command, under the previous key (a replay
    /// once that one is booked).
    again: bool,
    seconds_later: i64,
}

fn intent() -> impl Strategy<Value = Intent> {
    let cents = 1i64..=6_000;
    // Accounts are named by index among all opened so far (setup first).
    let account = 0..ACCOUNTS * 2;
    prop_oneof![
        1 => (0..ACCOUNTS).prop_map(|owner| Intent::Open { owner }),
        4 => (account.clone(), account.clone(), cents.clone())
            .prop_map(|(from, to, cents)| Intent::Transfer { from, to, cents }),
        2 => (account.clone(), cents.clone()).prop_map(|(to, cents)| Intent::Deposit { to, cents }),
        1 => (account.clone(), account, cents.clone()).prop_map(|(from, to, cents)| Intent::Hold { from, to, cents }),
        1 => (0..HOLDS * 3, proptest::option::of(cents.clone())).prop_map(|(hold, cents)| Intent::Capture { hold, cents }),
        1 => (0..HOLDS * 3).prop_map(|hold| Intent::Void { hold }),
        1 => (0..REVERSIBLE * 4, proptest::option::of(1i64..=2_000)).prop_map(|(of, cents)| Intent::Reverse { of, cents }),
    ]
}

pub(super) fn planned() -> impl Strategy<Value = Planned> {
    (intent(), proptest::option::weighted(0.2, 0u8..3), proptest::bool::weighted(0.15), 0i64..3)
        .prop_map(|(intent, shared_key, again, seconds_later)| Planned { intent, shared_key, again, seconds_later })
}

fn amount(cents: i64) -> Amount {
    Amount::new(Decimal::new(cents, 2)).unwrap()
}

/// The batches to book, and the state they start from.
pub(super) struct Fixture {
    pub(super) batches: Vec<WriteBatch>,
    /// The batch that created each account and transaction the batches
    /// created (a batch naming one books only after that batch committed:
    /// its client learned the id from the receipt).
    pub(super) creators: HashMap<Lock, usize>,
    pub(super) rows: Rows,
    pub(super) head: AuditHead,
}

/// Sets up accounts, holds and transfers on a memory store, then plans
/// `commands` against it, keeping each one's batch.
pub(super) async fn fixture(commands: &[Planned]) -> Fixture {
    let store = Arc::new(RecordingStore::new(Arc::new(MemoryStore::new()), Duration::ZERO));
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).single().unwrap()));
    let ledger = Ledger::open_with_clock(store.clone(), clock.clone()).await.unwrap();
    let system = Actor::System;
    let owners: Vec<UserId> = (0..ACCOUNTS).map(|_| UserId::new()).collect();
    let mut accounts = Vec::new();
    for (i, owner) in owners.iter().enumerate() {
        let open = OpenAccount::new(*owner, AccountKind::Checking, Currency::Usd);
        let account = ledger.open_account(&system, open).await.unwrap().id;
        let deposit = Deposit { account, amount: amount(10_000), description: None, metadata: Metadata::empty() };
        ledger.execute(&system, key(&format!("setup-deposit-{i}")), deposit).await.unwrap();
        accounts.push(account);
    }
    let mut holds = Vec::new();
    for i in 0..HOLDS {
        let hold = PlaceHold {
            account: accounts[i % ACCOUNTS],
            amount: amount(3_000),
            destination: Some(accounts[(i + 1) % ACCOUNTS].into()),
            expires_at: None,
            description: None,
            metadata: Metadata::empty(),
        };
        holds.push(ledger.execute(&system, key(&format!("setup-hold-{i}")), hold).await.unwrap().transaction.id);
    }
    let mut reversible = Vec::new();
    for i in 0..REVERSIBLE {
        let transfer = transfer(accounts[i], accounts[i + 1], 2_500);
        reversible.push(ledger.execute(&system, key(&format!("setup-transfer-{i}")), transfer).await.unwrap());
    }
    let mut reversible: Vec<TransactionId> = reversible.into_iter().map(|r| r.transaction.id).collect();
    let rows = rows_of(&*store, &accounts, holds.iter().chain(&reversible)).await;
    let head = store.audit_records(0, 10_000).await.unwrap().last().map(AuditRecord::head).unwrap_or_default();

    // Each command is applied as well as kept, so a later one can name a
    // hold or a transfer it created, as a client can once it has the
    // receipt.
    let mut planned_batches = Vec::new();
    let mut creators = HashMap::new();
    let mut previous: Option<(IdempotencyKey, MoneyCommand)> = None;
    for (i, planned) in commands.iter().enumerate() {
        clock.advance(chrono::Duration::seconds(planned.seconds_later));
        if let Intent::Open { owner } = planned.intent {
            store.start_keeping();
            let open = OpenAccount::new(owners[owner], AccountKind::Checking, Currency::Usd);
            let opened = ledger.open_account(&system, open).await;
            let Some(batch) = store.stop_capture().into_iter().next() else { continue };
            if let Ok(account) = opened {
                creators.insert(Lock::Account(account.id), planned_batches.len());
                accounts.push(account.id);
            }
            planned_batches.push(batch);
            continue;
        }
        let (key, command) = match previous.clone().filter(|_| planned.again) {
            Some(again) => again,
            None => {
                (own_or_shared_key(i, planned.shared_key), command(&planned.intent, &accounts, &holds, &reversible))
            }
        };
        previous = Some((key.clone(), command.clone()));
        store.start_keeping();
        let receipt = ledger.execute(&system, key, command).await;
        let kept = store.stop_capture();
        // A command planning refuses (one account to itself) is no batch.
        let Some(batch) = kept.into_iter().next() else { continue };
        if let Ok(receipt) = receipt
            && !receipt.replayed
            && matches!(planned.intent, Intent::Hold { .. } | Intent::Transfer { .. })
            && !planned.again
        {
            creators.insert(Lock::Transaction(receipt.transaction.id), planned_batches.len());
            match planned.intent {
                Intent::Hold { .. } => holds.push(receipt.transaction.id),
                _ => reversible.push(receipt.transaction.id),
            }
        }
        planned_batches.push(batch);
    }
    Fixture { batches: planned_batches, creators, rows, head }
}

/// The command an intent names, among the records made so far.
fn command(
    intent: &Intent,
    accounts: &[AccountId],
    holds: &[TransactionId],
    reversible: &[TransactionId],
) -> MoneyCommand {
    let account = |i: usize| accounts[i % accounts.len()];
    match *intent {
        Intent::Open { .. } => unreachable!("an opening is no money command"),
        Intent::Transfer { from, to, cents } => transfer(account(from), account(to), cents).into(),
        Intent::Deposit { to, cents } => {
            Deposit { account: account(to), amount: amount(cents), description: None, metadata: Metadata::empty() }
                .into()
        }
        Intent::Hold { from, to, cents } => PlaceHold {
            account: account(from),
            amount: amount(cents),
            destination: Some(account(to).into()),
            expires_at: None,
            description: None,
            metadata: Metadata::empty(),
        }
        .into(),
        Intent::Capture { hold, cents } => {
            CaptureHold { hold: holds[hold % holds.len()], amount: cents.map(amount) }.into()
        }
        Intent::Void { hold } => VoidHold { hold: holds[hold % holds.len()] }.into(),
        Intent::Reverse { of, cents } => Reverse {
            transaction: reversible[of % reversible.len()],
            amount: cents.map(amount),
            description: None,
            metadata: Metadata::empty(),
        }
        .into(),
    }
}

fn own_or_shared_key(i: usize, shared: Option<u8>) -> IdempotencyKey {
    match shared {
        Some(shared) => key(&format!("shared-{shared}")),
        None => key(&format!("own-{i}")),
    }
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::new(text).unwrap()
}

fn transfer(from: AccountId, to: AccountId, cents: i64) -> Transfer {
    Transfer { from, to: to.into(), amount: amount(cents), description: None, metadata: Metadata::empty() }
}

/// The stored rows the commands can name.
async fn rows_of<'a>(
    store: &dyn Store,
    accounts: &[AccountId],
    transactions: impl Iterator<Item = &'a TransactionId>,
) -> Rows {
    let mut rows = Rows::default();
    for id in accounts {
        rows.accounts.insert(*id, store.account(*id).await.unwrap().unwrap());
    }
    for id in transactions {
        rows.transactions.insert(*id, store.transaction(*id).await.unwrap().unwrap());
    }
    rows
}
