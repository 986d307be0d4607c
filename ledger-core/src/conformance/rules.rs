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
        .deposit(&SYS, key(), Deposit { account, amount: amount(text), description: None })
        .await
        .expect("a deposit to an active account")
}

fn transfer(from: AccountId, to: impl Into<AccountRef>, text: &str) -> Transfer {
    Transfer { from, to: to.into(), amount: amount(text), description: None }
}

fn hold(account: AccountId, text: &str) -> PlaceHold {
    PlaceHold { account, amount: amount(text), destination: None, expires_at: None, description: None }
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

// ---------------------------------------------------------------- accounts

/// Opening accounts: valid, unique numbers; zero balances; active.
pub async fn open_account_assigns_a_valid_unique_number_and_zero_balances(h: Harness) {
    let owner = UserId::new();
    let mut numbers = Vec::new();
    for kind in [AccountKind::Checking, AccountKind::Savings, AccountKind::Investment].repeat(5) {
        let command = OpenAccount { name: Some(" Rainy day ".into()), ..OpenAccount::new(owner, kind, Currency::Eur) };
        let account = h.ledger.open_account(&SYS, command).await.expect("opening an account");
        assert_eq!(AccountNumber::parse(&account.number.to_string()), Ok(account.number));
        assert_eq!((account.kind, account.currency, account.owner), (kind, Currency::Eur, owner));
        assert_eq!(account.status, AccountStatus::Active);
        assert_eq!(account.name.as_deref(), Some("Rainy day"));
        assert_eq!(balances(&h, account.id).await, (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO));
        assert_eq!(h.ledger.account_by_number(&SYS, account.number).await.map(|a| a.id), Ok(account.id));
        numbers.push(account.number);
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 15, "account numbers must be unique");
}

/// Bad account parameters are refused, create nothing and are audited.
pub async fn open_account_rejects_bad_input_and_audits_it(h: Harness) {
    let owner = UserId::new();
    let base = OpenAccount::new(owner, AccountKind::Checking, Currency::Usd);
    let cases = [
        (OpenAccount { kind: AccountKind::Settlement, ..base.clone() }, "invalid_account_kind"),
        (OpenAccount { name: Some("x".repeat(65)), ..base.clone() }, "invalid_account_name"),
        (OpenAccount { name: Some("tab\there".into()), ..base.clone() }, "invalid_account_name"),
        (OpenAccount { overdraft_limit: dec("-1"), ..base.clone() }, "invalid_overdraft_limit"),
        (OpenAccount { overdraft_limit: dec("0.001"), ..base.clone() }, "invalid_overdraft_limit"),
        (OpenAccount { overdraft_limit: dec("1000000000001"), ..base.clone() }, "invalid_overdraft_limit"),
    ];
    for (command, code) in cases {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.open_account(&SYS, command).await, code).await;
    }
    assert!(h.ledger.accounts_of(&SYS, owner).await.expect("listing").is_empty());
}

/// Accounts are found by id, by number and by owner (oldest first), and
/// unknown ones are reported as not found.
pub async fn accounts_are_found_by_id_number_and_owner(h: Harness) {
    let owner = UserId::new();
    let a = open_for(&h, owner, Currency::Usd).await;
    let b = open_for(&h, owner, Currency::Eur).await;
    let c = open_for(&h, owner, Currency::Gbp).await;
    let stranger = open(&h, Currency::Usd).await;
    assert_eq!(h.ledger.account(&SYS, b.id).await, Ok(b.clone()));
    assert_eq!(h.ledger.account_by_number(&SYS, c.number).await, Ok(c.clone()));
    let mine: Vec<AccountId> = h.ledger.accounts_of(&SYS, owner).await.expect("listing").iter().map(|x| x.id).collect();
    assert_eq!(mine, vec![a.id, b.id, c.id]);
    assert!(!mine.contains(&stranger.id));
    let missing = AccountId::new();
    assert_eq!(h.ledger.account(&SYS, missing).await, Err(LedgerError::AccountNotFound { account: missing }));
    let unknown = AccountNumber::random(&mut rand::rng());
    assert_eq!(
        h.ledger.account_by_number(&SYS, unknown).await,
        Err(LedgerError::AccountNumberNotFound { number: unknown })
    );
}

// ---------------------------------------------------------------- money

/// A deposit credits the account and debits the currency's settlement account.
pub async fn deposit_credits_the_account_and_debits_settlement(h: Harness) {
    let account = open(&h, Currency::Usd).await;
    let receipt = h
        .ledger
        .deposit(&SYS, key(), Deposit { account: account.id, amount: amount("100.5"), description: Some("pay".into()) })
        .await
        .expect("deposit");
    let t = &receipt.transaction;
    assert!(!receipt.replayed);
    assert_eq!((t.kind, t.status, t.currency), (TransactionKind::Deposit, TransactionStatus::Posted, Currency::Usd));
    assert_eq!((t.from_account, t.to_account), (None, Some(account.id)));
    assert_eq!(t.amount.to_string(), "100.50", "amounts carry the currency's minor units");
    assert_eq!(t.description.as_deref(), Some("pay"));
    assert_eq!(balances(&h, account.id).await, (dec("100.5"), Decimal::ZERO, dec("100.5")));
    assert_eq!(posted(&h, AccountId::settlement(Currency::Usd)).await, dec("-100.5"));
    assert_eq!(h.ledger.transaction(&SYS, t.id).await, Ok(t.clone()));
}

/// A withdrawal needs the available balance; short of it nothing changes.
pub async fn withdrawal_needs_available_funds(h: Harness) {
    let account = open(&h, Currency::Gbp).await;
    deposit(&h, account.id, "50").await;
    let w = |text: &str| Withdraw { account: account.id, amount: amount(text), description: None };
    let receipt = h.ledger.withdraw(&SYS, key(), w("20")).await.expect("withdrawal");
    assert_eq!(receipt.transaction.kind, TransactionKind::Withdrawal);
    assert_eq!((receipt.transaction.from_account, receipt.transaction.to_account), (Some(account.id), None));
    assert_eq!(posted(&h, account.id).await, dec("30"));
    assert_eq!(posted(&h, AccountId::settlement(Currency::Gbp)).await, dec("-30"));
    let before = state(&h).await;
    let result = h.ledger.withdraw(&SYS, key(), w("30.01")).await;
    assert!(matches!(
        &result,
        Err(LedgerError::InsufficientFunds { available, requested, .. })
            if *available == dec("30") && *requested == dec("30.01")
    ));
    assert_rejected(&h, &before, result, "insufficient_funds").await;
    h.ledger.withdraw(&SYS, key(), w("30")).await.expect("withdrawing everything");
    assert_eq!(posted(&h, account.id).await, Decimal::ZERO);
}

/// With an overdraft limit, the floor is minus the limit.
pub async fn overdraft_limit_is_the_floor(h: Harness) {
    let command = OpenAccount {
        overdraft_limit: dec("100"),
        ..OpenAccount::new(UserId::new(), AccountKind::Checking, Currency::Usd)
    };
    let account = h.ledger.open_account(&SYS, command).await.expect("opening");
    let w = |text: &str| Withdraw { account: account.id, amount: amount(text), description: None };
    h.ledger.withdraw(&SYS, key(), w("60")).await.expect("within the overdraft");
    h.ledger.withdraw(&SYS, key(), w("40")).await.expect("down to the floor");
    assert_eq!(posted(&h, account.id).await, dec("-100"));
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.withdraw(&SYS, key(), w("0.01")).await, "insufficient_funds").await;
}

/// A transfer debits one account and credits the other, nothing else.
pub async fn transfer_moves_money_between_accounts(h: Harness) {
    let (a, b) = (open(&h, Currency::Eur).await, open(&h, Currency::Eur).await);
    deposit(&h, a.id, "80").await;
    let settlement_before = posted(&h, AccountId::settlement(Currency::Eur)).await;
    let receipt = h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "30.25")).await.expect("transfer");
    let t = &receipt.transaction;
    assert_eq!((t.kind, t.status), (TransactionKind::Transfer, TransactionStatus::Posted));
    assert_eq!((t.from_account, t.to_account), (Some(a.id), Some(b.id)));
    assert_eq!(posted(&h, a.id).await, dec("49.75"));
    assert_eq!(posted(&h, b.id).await, dec("30.25"));
    assert_eq!(posted(&h, AccountId::settlement(Currency::Eur)).await, settlement_before);
    let before = state(&h).await;
    assert_rejected(
        &h,
        &before,
        h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "49.76")).await,
        "insufficient_funds",
    )
    .await;
}

/// A transfer may credit another owner's account named by its number.
pub async fn transfer_by_account_number_reaches_another_owner(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    assert_ne!(a.owner, b.owner);
    deposit(&h, a.id, "10").await;
    let receipt = h.ledger.transfer(&SYS, key(), transfer(a.id, b.number, "7")).await.expect("transfer by number");
    assert_eq!(receipt.transaction.to_account, Some(b.id));
    assert_eq!(posted(&h, b.id).await, dec("7"));
}

/// Both sides of a transfer must hold the same currency.
pub async fn transfer_rejects_currency_mismatch(h: Harness) {
    let (usd, eur) = (open(&h, Currency::Usd).await, open(&h, Currency::Eur).await);
    deposit(&h, usd.id, "10").await;
    let before = state(&h).await;
    let result = h.ledger.transfer(&SYS, key(), transfer(usd.id, eur.id, "1")).await;
    assert!(matches!(result, Err(LedgerError::CurrencyMismatch { expected: Currency::Usd, found: Currency::Eur })));
    assert_rejected(&h, &before, result, "currency_mismatch").await;
    let before = state(&h).await;
    assert_rejected(
        &h,
        &before,
        h.ledger.transfer(&SYS, key(), transfer(usd.id, eur.number, "1")).await,
        "currency_mismatch",
    )
    .await;
}

/// A transfer to the account it comes from is refused, by id or number.
pub async fn transfer_rejects_same_account(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "10").await;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.transfer(&SYS, key(), transfer(a.id, a.id, "1")).await, "same_account").await;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.transfer(&SYS, key(), transfer(a.id, a.number, "1")).await, "same_account")
        .await;
}

/// Unknown accounts are not found; the ledger's internal accounts are off limits.
pub async fn unknown_and_internal_accounts_are_rejected(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "10").await;
    let unknown = AccountId::new();
    let settlement = AccountId::settlement(Currency::Usd);
    let to_deposit = |account| Deposit { account, amount: amount("1"), description: None };
    let audit_before = state(&h).await.audit_sequence;
    let checks: Vec<(Result<Receipt, LedgerError>, &str)> = vec![
        (h.ledger.deposit(&SYS, key(), to_deposit(unknown)).await, "account_not_found"),
        (h.ledger.transfer(&SYS, key(), transfer(a.id, unknown, "1")).await, "account_not_found"),
        (h.ledger.transfer(&SYS, key(), transfer(unknown, a.id, "1")).await, "account_not_found"),
        (
            h.ledger.transfer(&SYS, key(), transfer(a.id, AccountNumber::random(&mut rand::rng()), "1")).await,
            "account_number_not_found",
        ),
        (h.ledger.deposit(&SYS, key(), to_deposit(settlement)).await, "internal_account"),
        (h.ledger.transfer(&SYS, key(), transfer(a.id, settlement, "1")).await, "internal_account"),
        (
            h.ledger.transfer(&SYS, key(), transfer(a.id, AccountNumber::settlement(Currency::Usd), "1")).await,
            "internal_account",
        ),
    ];
    let rejected = checks.len() as u64;
    for (result, code) in checks {
        assert_eq!(result.map(|_| ()).map_err(|e| e.code()), Err(code));
    }
    let after = state(&h).await;
    assert_eq!(after.audit_sequence, audit_before + rejected, "every rejection is audited");
    assert_eq!(posted(&h, a.id).await, dec("10"));
    for status_change in [h.ledger.freeze(&SYS, settlement).await, h.ledger.close(&SYS, settlement).await] {
        assert_eq!(status_change.map(|_| ()).map_err(|e| e.code()), Err("internal_account"));
    }
    assert_eq!(
        h.ledger.freeze(&SYS, unknown).await.map(|_| ()),
        Err(LedgerError::AccountNotFound { account: unknown })
    );
}

/// Malformed account numbers never reach the ledger: parsing refuses them.
pub async fn malformed_account_number_is_rejected(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let good = a.number.to_string();
    let mut flipped = good.clone().into_bytes();
    flipped[3] = if flipped[3] == b'9' { b'0' } else { flipped[3] + 1 };
    let flipped = String::from_utf8(flipped).expect("digits");
    for bad in ["", "12", "abcdefghijkl", good.as_str().get(..11).unwrap_or(""), flipped.as_str()] {
        let error = LedgerError::from(AccountNumber::parse(bad).expect_err("malformed numbers are refused"));
        assert_eq!(error.code(), "invalid_account_number", "{bad:?}");
    }
    assert_eq!(AccountNumber::parse(&good), Ok(a.number));
}

/// Zero, negative, over-precise and huge amounts are refused with a typed
/// error; precision finer than the currency is refused by the ledger,
/// audited, and changes nothing.
pub async fn invalid_amounts_are_rejected_and_audited(h: Harness) {
    assert_eq!(Amount::parse("0"), Err(MoneyError::NotPositive));
    assert_eq!(Amount::parse("-5"), Err(MoneyError::Malformed));
    assert_eq!(Amount::parse("1.00001"), Err(MoneyError::TooPrecise { places: 5, allowed: 4 }));
    assert_eq!(Amount::parse("1000000000000.01"), Err(MoneyError::TooLarge));
    assert_eq!(LedgerError::from(MoneyError::NotPositive).code(), "invalid_amount");
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "5").await;
    let before = state(&h).await;
    let result =
        h.ledger.deposit(&SYS, key(), Deposit { account: a.id, amount: amount("1.005"), description: None }).await;
    assert_eq!(
        result.as_ref().map(|_| ()),
        Err(&LedgerError::InvalidAmount(MoneyError::TooPrecise { places: 3, allowed: 2 }))
    );
    assert_rejected(&h, &before, result, "invalid_amount").await;
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "2")).await.expect("hold");
    let before = state(&h).await;
    let capture = CaptureHold { hold: held.transaction.id, amount: Some(amount("1.001")) };
    assert_rejected(&h, &before, h.ledger.capture_hold(&SYS, key(), capture).await, "invalid_amount").await;
}

/// Descriptions are trimmed, bounded and free of control characters.
pub async fn descriptions_are_validated(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let d = |text: &str| Deposit { account: a.id, amount: amount("1"), description: Some(text.into()) };
    for bad in ["line\nbreak".to_owned(), "x".repeat(257)] {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.deposit(&SYS, key(), d(&bad)).await, "invalid_description").await;
    }
    let ok = h.ledger.deposit(&SYS, key(), d("  <b>'; DROP TABLE accounts;-- ünïcödé  ")).await.expect("deposit");
    assert_eq!(ok.transaction.description.as_deref(), Some("<b>'; DROP TABLE accounts;-- ünïcödé"));
    let stored = h.ledger.transaction(&SYS, ok.transaction.id).await.expect("stored");
    assert_eq!(stored.description, ok.transaction.description, "text is stored literally");
}

// ---------------------------------------------------------------- status

/// A frozen account takes no postings in either direction until unfrozen.
pub async fn frozen_account_accepts_no_postings_until_unfrozen(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    deposit(&h, a.id, "20").await;
    deposit(&h, b.id, "20").await;
    let frozen = h.ledger.freeze(&SYS, a.id).await.expect("freeze");
    assert_eq!(frozen.status, AccountStatus::Frozen);
    let attempts: Vec<MoneyCommand> = vec![
        Deposit { account: a.id, amount: amount("1"), description: None }.into(),
        Withdraw { account: a.id, amount: amount("1"), description: None }.into(),
        transfer(a.id, b.id, "1").into(),
        transfer(b.id, a.id, "1").into(),
        hold(a.id, "1").into(),
    ];
    for command in attempts {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.execute(&SYS, key(), command).await, "account_frozen").await;
    }
    let unfrozen = h.ledger.unfreeze(&SYS, a.id).await.expect("unfreeze");
    assert_eq!(unfrozen.status, AccountStatus::Active);
    deposit(&h, a.id, "1").await;
    assert_eq!(posted(&h, a.id).await, dec("21"));
}

/// Closed is final: no postings, no status change.
pub async fn closed_account_is_final(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    deposit(&h, b.id, "5").await;
    assert_eq!(h.ledger.close(&SYS, a.id).await.map(|x| x.status), Ok(AccountStatus::Closed));
    let before = state(&h).await;
    let result = h.ledger.deposit(&SYS, key(), Deposit { account: a.id, amount: amount("1"), description: None }).await;
    assert_rejected(&h, &before, result, "account_closed").await;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.transfer(&SYS, key(), transfer(b.id, a.id, "1")).await, "account_closed")
        .await;
    for change in
        [h.ledger.unfreeze(&SYS, a.id).await, h.ledger.freeze(&SYS, a.id).await, h.ledger.close(&SYS, a.id).await]
    {
        assert_eq!(change.map(|_| ()).map_err(|e| e.code()), Err("account_closed"));
    }
}

/// Closing needs a zero balance and no open holds.
pub async fn close_requires_zero_balance_and_no_open_holds(h: Harness) {
    let a = open(&h, Currency::Eur).await;
    deposit(&h, a.id, "10").await;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.close(&SYS, a.id).await, "account_not_empty").await;
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "10")).await.expect("hold");
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.close(&SYS, a.id).await, "account_has_open_holds").await;
    h.ledger.void_hold(&SYS, key(), VoidHold { hold: held.transaction.id }).await.expect("void");
    h.ledger
        .withdraw(&SYS, key(), Withdraw { account: a.id, amount: amount("10"), description: None })
        .await
        .expect("empty");
    assert_eq!(h.ledger.close(&SYS, a.id).await.map(|x| x.status), Ok(AccountStatus::Closed));
}

/// Only the state machine's edges are allowed.
pub async fn status_changes_follow_the_state_machine(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.unfreeze(&SYS, a.id).await, "invalid_status_transition").await;
    h.ledger.freeze(&SYS, a.id).await.expect("freeze");
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.freeze(&SYS, a.id).await, "invalid_status_transition").await;
    assert_eq!(h.ledger.close(&SYS, a.id).await.map(|x| x.status), Ok(AccountStatus::Closed), "frozen -> closed");
}

// ---------------------------------------------------------------- idempotency

/// A replay returns the original transaction and applies nothing.
pub async fn idempotent_replay_returns_the_original_result(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let k = key();
    let d = Deposit { account: a.id, amount: amount("10"), description: Some("once".into()) };
    let first = h.ledger.deposit(&SYS, k.clone(), d.clone()).await.expect("deposit");
    let audit_before = state(&h).await.audit_sequence;
    let again = h.ledger.deposit(&SYS, k.clone(), d.clone()).await.expect("replay");
    assert!(again.replayed && !first.replayed);
    assert_eq!(again.transaction, first.transaction);
    assert_eq!(posted(&h, a.id).await, dec("10"));
    assert_eq!(state(&h).await.audit_sequence, audit_before, "a replay writes nothing");
    // Even when the command would now be refused, the replay answers as before.
    h.ledger.freeze(&SYS, a.id).await.expect("freeze");
    assert_eq!(h.ledger.deposit(&SYS, k, d).await.map(|r| r.transaction.id), Ok(first.transaction.id));
    assert_eq!(posted(&h, a.id).await, dec("10"));
}

/// The same key with a different payload is a conflict.
pub async fn idempotency_key_with_another_payload_conflicts(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let k = key();
    h.ledger
        .deposit(&SYS, k.clone(), Deposit { account: a.id, amount: amount("10"), description: None })
        .await
        .expect("first");
    let variants: Vec<MoneyCommand> = vec![
        Deposit { account: a.id, amount: amount("11"), description: None }.into(),
        Deposit { account: b.id, amount: amount("10"), description: None }.into(),
        Deposit { account: a.id, amount: amount("10"), description: Some("other".into()) }.into(),
        Withdraw { account: a.id, amount: amount("10"), description: None }.into(),
    ];
    for command in variants {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.execute(&SYS, k.clone(), command).await, "idempotency_conflict").await;
    }
    // The same value written differently is the same payload.
    let same = Deposit { account: a.id, amount: amount("10.00"), description: None };
    assert!(h.ledger.deposit(&SYS, k, same).await.map(|r| r.replayed).unwrap_or(false));
}

/// A rejected command stores no key: after fixing the cause, the same key works.
pub async fn rejected_command_can_be_retried_with_its_key(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let k = key();
    let w = Withdraw { account: a.id, amount: amount("10"), description: None };
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.withdraw(&SYS, k.clone(), w.clone()).await, "insufficient_funds").await;
    deposit(&h, a.id, "10").await;
    let retried = h.ledger.withdraw(&SYS, k, w).await.expect("retry after the deposit");
    assert!(!retried.replayed);
    assert_eq!(posted(&h, a.id).await, Decimal::ZERO);
}

// ---------------------------------------------------------------- holds

/// A hold moves funds from available to pending; capture posts them.
pub async fn hold_reserves_funds_and_capture_posts_them(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "100").await;
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "30")).await.expect("hold").transaction;
    assert_eq!((held.kind, held.status), (TransactionKind::Hold, TransactionStatus::Pending));
    assert_eq!(balances(&h, a.id).await, (dec("100"), dec("30"), dec("70")));
    let settlement = posted(&h, AccountId::settlement(Currency::Usd)).await;
    let captured =
        h.ledger.capture_hold(&SYS, key(), CaptureHold { hold: held.id, amount: None }).await.expect("capture");
    assert_eq!(captured.transaction.id, held.id);
    assert_eq!(captured.transaction.status, TransactionStatus::Posted);
    assert_eq!(captured.transaction.captured_amount, Some(dec("30")));
    assert_eq!(balances(&h, a.id).await, (dec("70"), Decimal::ZERO, dec("70")));
    assert_eq!(posted(&h, AccountId::settlement(Currency::Usd)).await, settlement + dec("30"));
}

/// A partial capture posts part and releases the rest.
pub async fn partial_capture_releases_the_rest(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "100").await;
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "30")).await.expect("hold").transaction;
    let capture = CaptureHold { hold: held.id, amount: Some(amount("10")) };
    let captured = h.ledger.capture_hold(&SYS, key(), capture).await.expect("capture").transaction;
    assert_eq!((captured.amount, captured.captured_amount), (dec("30"), Some(dec("10"))));
    assert_eq!(balances(&h, a.id).await, (dec("90"), Decimal::ZERO, dec("90")));
}

/// Voiding releases the whole hold and posts nothing.
pub async fn void_releases_the_hold(h: Harness) {
    let a = open(&h, Currency::Gbp).await;
    deposit(&h, a.id, "40").await;
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "40")).await.expect("hold").transaction;
    assert_eq!(balances(&h, a.id).await, (dec("40"), dec("40"), Decimal::ZERO));
    let voided = h.ledger.void_hold(&SYS, key(), VoidHold { hold: held.id }).await.expect("void").transaction;
    assert_eq!(voided.status, TransactionStatus::Voided);
    assert_eq!(balances(&h, a.id).await, (dec("40"), Decimal::ZERO, dec("40")));
}

/// A capture cannot exceed its hold.
pub async fn capture_above_the_hold_is_rejected(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "100").await;
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "30")).await.expect("hold").transaction;
    let before = state(&h).await;
    let capture = CaptureHold { hold: held.id, amount: Some(amount("30.01")) };
    assert_rejected(&h, &before, h.ledger.capture_hold(&SYS, key(), capture).await, "capture_exceeds_hold").await;
}

/// A hold is captured or voided once.
pub async fn hold_cannot_be_captured_twice_or_after_void(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "100").await;
    let first = h.ledger.place_hold(&SYS, key(), hold(a.id, "10")).await.expect("hold").transaction;
    h.ledger.capture_hold(&SYS, key(), CaptureHold { hold: first.id, amount: None }).await.expect("capture");
    let second = h.ledger.place_hold(&SYS, key(), hold(a.id, "10")).await.expect("hold").transaction;
    h.ledger.void_hold(&SYS, key(), VoidHold { hold: second.id }).await.expect("void");
    let attempts: Vec<MoneyCommand> = vec![
        CaptureHold { hold: first.id, amount: None }.into(),
        VoidHold { hold: first.id }.into(),
        CaptureHold { hold: second.id, amount: None }.into(),
        VoidHold { hold: second.id }.into(),
    ];
    for command in attempts {
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.execute(&SYS, key(), command).await, "hold_not_pending").await;
    }
}

/// A hold with a destination credits that account on capture.
pub async fn hold_to_a_destination_account_credits_it_on_capture(h: Harness) {
    let (a, b) = (open(&h, Currency::Eur).await, open(&h, Currency::Eur).await);
    deposit(&h, a.id, "50").await;
    let mut command = hold(a.id, "20");
    command.destination = Some(AccountRef::Number(b.number));
    let held = h.ledger.place_hold(&SYS, key(), command).await.expect("hold").transaction;
    assert_eq!(held.to_account, Some(b.id));
    assert_eq!(posted(&h, b.id).await, Decimal::ZERO, "nothing moves until capture");
    let capture = CaptureHold { hold: held.id, amount: Some(amount("15")) };
    h.ledger.capture_hold(&SYS, key(), capture).await.expect("capture");
    assert_eq!(balances(&h, a.id).await, (dec("35"), Decimal::ZERO, dec("35")));
    assert_eq!(posted(&h, b.id).await, dec("15"));
    let eur_other = open(&h, Currency::Usd).await;
    let mut mismatch = hold(a.id, "1");
    mismatch.destination = Some(AccountRef::Id(eur_other.id));
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.place_hold(&SYS, key(), mismatch).await, "currency_mismatch").await;
}

/// After its expiry a hold cannot be captured, and the sweep voids it.
pub async fn expired_hold_cannot_be_captured_and_is_swept(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "100").await;
    let mut command = hold(a.id, "25");
    command.expires_at = Some(h.ledger.now() + Duration::seconds(60));
    let held = h.ledger.place_hold(&SYS, key(), command).await.expect("hold").transaction;
    let lasting = h.ledger.place_hold(&SYS, key(), hold(a.id, "5")).await.expect("hold without expiry").transaction;
    assert_eq!(h.ledger.expire_holds(&SYS).await, Ok(0), "nothing has expired yet");
    h.clock.advance(Duration::seconds(60));
    let before = state(&h).await;
    let capture = CaptureHold { hold: held.id, amount: None };
    assert_rejected(&h, &before, h.ledger.capture_hold(&SYS, key(), capture).await, "hold_expired").await;
    assert_eq!(h.ledger.expire_holds(&SYS).await, Ok(1));
    assert_eq!(h.ledger.transaction(&SYS, held.id).await.map(|t| t.status), Ok(TransactionStatus::Voided));
    assert_eq!(h.ledger.transaction(&SYS, lasting.id).await.map(|t| t.status), Ok(TransactionStatus::Pending));
    assert_eq!(balances(&h, a.id).await, (dec("100"), dec("5"), dec("95")));
    assert_eq!(h.ledger.expire_holds(&SYS).await, Ok(0), "a hold is swept once");
}

/// A replay answers with the original hold even after its expiry has passed,
/// when the same command would now be refused as expiring in the past.
pub async fn replay_of_a_hold_after_its_expiry_returns_the_original(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "10").await;
    let mut command = hold(a.id, "4");
    command.expires_at = Some(h.ledger.now() + Duration::seconds(30));
    let k = key();
    let first = h.ledger.place_hold(&SYS, k.clone(), command.clone()).await.expect("hold");
    h.clock.advance(Duration::seconds(31));
    let again = h.ledger.place_hold(&SYS, k, command.clone()).await.expect("the replay");
    assert!(again.replayed);
    assert_eq!(again.transaction.id, first.transaction.id);
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.place_hold(&SYS, key(), command).await, "invalid_expiry").await;
}

/// Expiry must be after now and within the maximum.
pub async fn hold_expiry_must_be_in_the_near_future(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "10").await;
    let now = h.ledger.now();
    for expiry in [now, now - Duration::seconds(1), now + Duration::days(30) + Duration::seconds(1)] {
        let mut command = hold(a.id, "1");
        command.expires_at = Some(expiry);
        let before = state(&h).await;
        assert_rejected(&h, &before, h.ledger.place_hold(&SYS, key(), command).await, "invalid_expiry").await;
    }
    let mut command = hold(a.id, "1");
    command.expires_at = Some(now + Duration::days(30));
    h.ledger.place_hold(&SYS, key(), command).await.expect("an expiry at the maximum");
}

/// Holds never exceed what is available.
pub async fn hold_beyond_available_is_rejected(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "50").await;
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.place_hold(&SYS, key(), hold(a.id, "50.01")).await, "insufficient_funds")
        .await;
    h.ledger.place_hold(&SYS, key(), hold(a.id, "30")).await.expect("hold");
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.place_hold(&SYS, key(), hold(a.id, "20.01")).await, "insufficient_funds")
        .await;
    let before = state(&h).await;
    let w = Withdraw { account: a.id, amount: amount("20.01"), description: None };
    assert_rejected(&h, &before, h.ledger.withdraw(&SYS, key(), w).await, "insufficient_funds").await;
}

/// Capture and void need a hold.
pub async fn capture_of_a_non_hold_is_rejected(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let deposited = deposit(&h, a.id, "10").await.transaction;
    let before = state(&h).await;
    let capture = CaptureHold { hold: deposited.id, amount: None };
    assert_rejected(&h, &before, h.ledger.capture_hold(&SYS, key(), capture).await, "not_a_hold").await;
    let before = state(&h).await;
    let void = VoidHold { hold: TransactionId::new() };
    assert_rejected(&h, &before, h.ledger.void_hold(&SYS, key(), void).await, "transaction_not_found").await;
}

// ---------------------------------------------------------------- batches

/// A batch applies its commands in order; each sees the ones before it.
pub async fn batch_applies_all_commands_in_order(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let commands: Vec<MoneyCommand> = vec![
        Deposit { account: a.id, amount: amount("100"), description: None }.into(),
        transfer(a.id, b.id, "60").into(),
        Withdraw { account: b.id, amount: amount("10"), description: None }.into(),
        hold(b.id, "50").into(),
    ];
    let receipt = h.ledger.execute_batch(&SYS, key(), commands).await.expect("batch");
    let kinds: Vec<TransactionKind> = receipt.transactions.iter().map(|t| t.kind).collect();
    let expected =
        [TransactionKind::Deposit, TransactionKind::Transfer, TransactionKind::Withdrawal, TransactionKind::Hold];
    assert_eq!(kinds, expected);
    assert_eq!(balances(&h, a.id).await, (dec("40"), Decimal::ZERO, dec("40")));
    assert_eq!(balances(&h, b.id).await, (dec("50"), dec("50"), Decimal::ZERO));
}

/// If one command of a batch fails, none applies.
pub async fn batch_is_all_or_nothing(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let failing_guard: Vec<MoneyCommand> = vec![
        Deposit { account: a.id, amount: amount("100"), description: None }.into(),
        transfer(a.id, b.id, "60").into(),
        transfer(a.id, b.id, "60").into(),
    ];
    let before = state(&h).await;
    let result = h.ledger.execute_batch(&SYS, key(), failing_guard).await;
    assert!(matches!(&result, Err(LedgerError::BatchCommandFailed { index: 2, .. })), "{result:?}");
    assert_rejected(&h, &before, result, "insufficient_funds").await;
    let failing_lookup: Vec<MoneyCommand> = vec![
        Deposit { account: a.id, amount: amount("100"), description: None }.into(),
        Deposit { account: AccountId::new(), amount: amount("1"), description: None }.into(),
    ];
    let before = state(&h).await;
    let result = h.ledger.execute_batch(&SYS, key(), failing_lookup).await;
    assert!(matches!(&result, Err(LedgerError::BatchCommandFailed { index: 1, .. })), "{result:?}");
    assert_rejected(&h, &before, result, "account_not_found").await;
}

/// A batch has at least one and at most [`BATCH_SIZE_MAX`] commands.
pub async fn batch_size_is_limited(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let one: MoneyCommand = Deposit { account: a.id, amount: amount("1"), description: None }.into();
    let before = state(&h).await;
    assert_rejected(&h, &before, h.ledger.execute_batch(&SYS, key(), vec![]).await, "batch_empty").await;
    let before = state(&h).await;
    let too_many = vec![one.clone(); BATCH_SIZE_MAX + 1];
    assert_rejected(&h, &before, h.ledger.execute_batch(&SYS, key(), too_many).await, "batch_too_large").await;
    let receipt = h.ledger.execute_batch(&SYS, key(), vec![one; BATCH_SIZE_MAX]).await.expect("a full batch");
    assert_eq!(receipt.transactions.len(), BATCH_SIZE_MAX);
    assert_eq!(posted(&h, a.id).await, Decimal::from(BATCH_SIZE_MAX as u64));
}

/// A batch replay returns the original transactions; a changed batch conflicts.
pub async fn batch_replay_returns_the_original_result(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let commands: Vec<MoneyCommand> = vec![
        Deposit { account: a.id, amount: amount("10"), description: None }.into(),
        transfer(a.id, b.id, "4").into(),
    ];
    let k = key();
    let first = h.ledger.execute_batch(&SYS, k.clone(), commands.clone()).await.expect("batch");
    let again = h.ledger.execute_batch(&SYS, k.clone(), commands.clone()).await.expect("replay");
    assert!(again.replayed);
    assert_eq!(again.transactions, first.transactions);
    assert_eq!(posted(&h, b.id).await, dec("4"));
    let before = state(&h).await;
    assert_rejected(
        &h,
        &before,
        h.ledger.execute_batch(&SYS, k.clone(), commands[..1].to_vec()).await,
        "idempotency_conflict",
    )
    .await;
    let before = state(&h).await;
    let single = h.ledger.execute(&SYS, k, commands[0].clone()).await;
    assert_rejected(&h, &before, single, "idempotency_conflict").await;
}

// ---------------------------------------------------------------- history

/// Every history filter narrows exactly as [`HistoryFilter::matches`] says.
pub async fn history_filters_by_every_field(h: Harness) {
    let (a, b, c) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let start = h.ledger.now();
    deposit(&h, a.id, "100").await; // t0
    h.clock.advance(Duration::seconds(10));
    deposit(&h, b.id, "5").await; // t10
    h.clock.advance(Duration::seconds(10));
    h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "20")).await.expect("transfer"); // t20
    h.clock.advance(Duration::seconds(10));
    let held = h.ledger.place_hold(&SYS, key(), hold(a.id, "7")).await.expect("hold").transaction; // t30
    h.ledger.place_hold(&SYS, key(), hold(b.id, "1")).await.expect("hold");
    h.ledger.void_hold(&SYS, key(), VoidHold { hold: held.id }).await.expect("void");
    h.ledger
        .withdraw(&SYS, key(), Withdraw { account: b.id, amount: amount("2.5"), description: None })
        .await
        .expect("w");
    let everything = all_transactions(&h.ledger, &HistoryFilter::default()).await;
    assert_eq!(everything.len(), 6);
    let at = |secs| start + Duration::seconds(secs);
    let filters: Vec<(HistoryFilter, usize)> = vec![
        (HistoryFilter::account(a.id), 3),
        (HistoryFilter::account(b.id), 4),
        (HistoryFilter::account(c.id), 0),
        (HistoryFilter { accounts: vec![a.id, b.id], ..Default::default() }, 6),
        (HistoryFilter { kind: Some(TransactionKind::Deposit), ..Default::default() }, 2),
        (HistoryFilter { kind: Some(TransactionKind::Hold), ..Default::default() }, 2),
        (HistoryFilter { status: Some(TransactionStatus::Voided), ..Default::default() }, 1),
        (HistoryFilter { status: Some(TransactionStatus::Pending), ..Default::default() }, 1),
        (HistoryFilter { status: Some(TransactionStatus::Posted), ..Default::default() }, 4),
        (HistoryFilter { created_from: Some(at(10)), ..Default::default() }, 5),
        (HistoryFilter { created_until: Some(at(10)), ..Default::default() }, 1),
        (HistoryFilter { created_from: Some(at(10)), created_until: Some(at(30)), ..Default::default() }, 2),
        (HistoryFilter { amount_min: Some(dec("5")), ..Default::default() }, 4),
        (HistoryFilter { amount_max: Some(dec("5")), ..Default::default() }, 3),
        (HistoryFilter { amount_min: Some(dec("2.5")), amount_max: Some(dec("7")), ..Default::default() }, 3),
        (
            HistoryFilter {
                accounts: vec![b.id],
                kind: Some(TransactionKind::Transfer),
                status: Some(TransactionStatus::Posted),
                amount_min: Some(dec("20")),
                ..Default::default()
            },
            1,
        ),
    ];
    for (filter, expected) in filters {
        let got = all_transactions(&h.ledger, &filter).await;
        let reference: Vec<Transaction> = everything.iter().filter(|t| filter.matches(t)).cloned().collect();
        assert_eq!(got, reference, "filter {filter:?} differs from the reference semantics");
        assert_eq!(got.len(), expected, "filter {filter:?}");
    }
}

/// History is newest first; cursors survive new transactions arriving.
pub async fn history_is_newest_first_with_stable_cursor_pagination(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    let mut ids = Vec::new();
    for _ in 0..25 {
        ids.push(deposit(&h, a.id, "1").await.transaction.id);
    }
    ids.reverse();
    let filter = HistoryFilter::account(a.id);
    let mut seen = Vec::new();
    let mut page = PageRequest::first(10);
    let mut sizes = Vec::new();
    loop {
        let result = h.ledger.history(&SYS, &filter, page).await.expect("history page");
        sizes.push(result.items.len());
        seen.extend(result.items.iter().map(|t| t.id));
        // New activity between pages must not shift what later pages show.
        h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "0.01")).await.expect("transfer");
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(sizes, vec![10, 10, 5]);
    assert_eq!(seen, ids, "each original transaction exactly once, newest first");
    let newest = h.ledger.history(&SYS, &filter, PageRequest::first(1)).await.expect("first page");
    assert_eq!(newest.items[0].kind, TransactionKind::Transfer, "new transactions appear on the first page");
}

/// Page sizes, cursors and contradictory filters are refused.
pub async fn history_rejects_bad_pages_and_filters(h: Harness) {
    let filter = HistoryFilter::default();
    for size in [0, PAGE_SIZE_MAX + 1] {
        let result = h.ledger.history(&SYS, &filter, PageRequest::first(size)).await;
        assert_eq!(result.map(|_| ()), Err(LedgerError::InvalidPageSize { max: PAGE_SIZE_MAX }));
    }
    assert_eq!("x1".parse::<Cursor>(), Err(LedgerError::InvalidCursor));
    let now = h.ledger.now();
    let backwards =
        HistoryFilter { created_from: Some(now), created_until: Some(now - Duration::seconds(1)), ..filter };
    let result = h.ledger.history(&SYS, &backwards, PageRequest::default()).await;
    assert_eq!(result.map(|_| ()).map_err(|e| e.code()), Err("invalid_filter"));
    let a = open(&h, Currency::Usd).await;
    deposit(&h, a.id, "1").await;
    let beyond = PageRequest { cursor: Some("c1".parse().expect("cursor")), size: 10 };
    let empty =
        h.ledger.history(&SYS, &HistoryFilter::default(), beyond).await.expect("a page before the first sequence");
    assert!(empty.items.is_empty() && empty.next_cursor.is_none());
}

/// Every posting belongs to a balanced transaction and balances are their sums.
pub async fn postings_balance_and_sum_to_each_balance(h: Harness) {
    let (a, b) = (open(&h, Currency::Usd).await, open(&h, Currency::Usd).await);
    deposit(&h, a.id, "10").await;
    h.ledger.transfer(&SYS, key(), transfer(a.id, b.id, "3")).await.expect("transfer");
    let lines = all_postings(&h.ledger, a.id).await;
    let amounts: Vec<Decimal> = lines.iter().map(|p| p.amount).collect();
    assert_eq!(amounts, vec![dec("10"), dec("-3")], "credits positive, debits negative, oldest first");
    assert!(lines.windows(2).all(|w| w[0].sequence < w[1].sequence));
    let after_first = h.ledger.store().postings(a.id, Some(lines[0].sequence), 10).await.expect("postings");
    assert_eq!(after_first, lines[1..].to_vec());
    assert_eq!(all_postings(&h.ledger, b.id).await.iter().map(|p| p.amount).sum::<Decimal>(), dec("3"));
}

// ---------------------------------------------------------------- audit & events

/// Accepted and rejected commands are both audited, in commit order.
pub async fn audit_log_records_accepted_and_rejected_commands(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let start = state(&h).await.audit_sequence;
    deposit(&h, a.id, "5").await;
    let withdrawal_key = key();
    let withdrawal = Withdraw { account: a.id, amount: amount("6"), description: None };
    let _ = h.ledger.withdraw(&SYS, withdrawal_key.clone(), withdrawal).await;
    let records = h.ledger.audit_log(&SYS, start, 10).await.expect("audit log");
    assert_eq!(records.len(), 2);
    // The metadata reads back as stored (the hash covers it too).
    assert_eq!(records[1].metadata.get("idempotency_key"), Some(withdrawal_key.as_str()));
    assert_eq!(records[1].metadata.len(), 1);
    assert_eq!(records[0].sequence, start + 1);
    assert_eq!((records[0].action.as_str(), &records[0].outcome), ("deposit", &AuditOutcome::Accepted));
    assert_eq!(records[0].target, format!("account:{}", a.id));
    assert_eq!(records[1].action, "withdrawal");
    assert!(matches!(&records[1].outcome, AuditOutcome::Rejected { code, .. } if code == "insufficient_funds"));
    assert_eq!(records[1].prev_hash, records[0].hash);
    for limit in [0, crate::audit::AUDIT_PAGE_SIZE_MAX + 1] {
        assert!(matches!(h.ledger.audit_log(&SYS, 0, limit).await, Err(LedgerError::InvalidPageSize { .. })));
    }
}

/// The stored chain verifies, and any tampering with it is detected.
pub async fn audit_chain_detects_tampering_through_the_verifier(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    for _ in 0..3 {
        deposit(&h, a.id, "1").await;
    }
    let head = h.ledger.verify_audit_chain(&SYS, None).await.expect("the chain verifies");
    assert_eq!(h.ledger.verify_audit_chain(&SYS, Some(head)).await, Ok(head));
    let log = h.ledger.audit_log(&SYS, 0, 100).await.expect("audit log");
    assert_eq!(log.last().map(|r| r.head()), Some(head));
    let mut altered = log.clone();
    altered[1].actor = "mallory".into();
    assert!(verify_chain(&altered, None).is_err());
    let mut removed = log.clone();
    removed.remove(1);
    assert!(verify_chain(&removed, None).is_err());
    let ahead = AuditHead { sequence: head.sequence + 1, ..head };
    let truncated = h.ledger.verify_audit_chain(&SYS, Some(ahead)).await;
    assert_eq!(truncated.map(|_| ()).map_err(|e| e.code()), Err("audit_chain_broken"));
}

/// Committed changes are published; rejected commands publish nothing.
pub async fn events_are_published_for_committed_changes(h: Harness) {
    let a = open(&h, Currency::Usd).await;
    let mut events = h.ledger.subscribe();
    let receipt = deposit(&h, a.id, "12").await;
    let mut saw_account = false;
    let mut saw_transaction = false;
    while let Ok(event) = events.try_recv() {
        match event {
            LedgerEvent::Account(acc) if acc.id == a.id => {
                saw_account = true;
                assert_eq!(acc.balance.posted, dec("12"));
            }
            LedgerEvent::Transaction(t) => {
                saw_transaction = true;
                assert_eq!(t, receipt.transaction);
            }
            LedgerEvent::Account(_) => {}
        }
    }
    assert!(saw_account && saw_transaction, "a deposit publishes its account and transaction");
    let _ = h.ledger.withdraw(&SYS, key(), Withdraw { account: a.id, amount: amount("13"), description: None }).await;
    assert!(events.try_recv().is_err(), "a rejected command publishes nothing");
}
