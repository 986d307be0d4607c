//! The ledger's invariants, checked against everything a store holds.
//!
//! Call only while no command is in flight: the checks read the store page by
//! page, not in one snapshot.

use std::collections::HashMap;

use rust_decimal::Decimal;

use crate::account::Account;
use crate::id::{AccountId, TransactionId};
use crate::identity::Actor;
use crate::ledger::Ledger;
use crate::money::Currency;
use crate::posting::Posting;
use crate::query::{HistoryFilter, PAGE_SIZE_MAX, PageRequest};
use crate::transaction::{Transaction, TransactionKind, TransactionStatus};

/// Conformance cases act as the embedding program itself.
const SYS: Actor = Actor::System;

const ACCOUNTS_PAGE_LEN: usize = 500;
const POSTINGS_PAGE_LEN: usize = 1000;

/// Every account in the store, in id order.
pub async fn all_accounts(ledger: &Ledger) -> Vec<Account> {
    let mut all = Vec::new();
    loop {
        let page = ledger
            .store()
            .accounts(all.last().map(|a: &Account| a.id), ACCOUNTS_PAGE_LEN)
            .await
            .unwrap_or_else(|e| panic!("listing accounts failed: {e}"));
        let done = page.len() < ACCOUNTS_PAGE_LEN;
        all.extend(page);
        if done {
            return all;
        }
    }
}

/// Every posting of an account, oldest first.
pub async fn all_postings(ledger: &Ledger, account: AccountId) -> Vec<Posting> {
    let mut all: Vec<Posting> = Vec::new();
    loop {
        let after = all.last().map(|p| p.sequence);
        let page = ledger
            .store()
            .postings(account, after, POSTINGS_PAGE_LEN)
            .await
            .unwrap_or_else(|e| panic!("listing postings failed: {e}"));
        let done = page.len() < POSTINGS_PAGE_LEN;
        all.extend(page);
        if done {
            return all;
        }
    }
}

/// Every transaction passing a filter, newest first, through the public pager.
pub async fn all_transactions(ledger: &Ledger, filter: &HistoryFilter) -> Vec<Transaction> {
    let mut all = Vec::new();
    let mut page = PageRequest::first(PAGE_SIZE_MAX);
    loop {
        let result = ledger.history(&SYS, filter, page).await.unwrap_or_else(|e| panic!("reading history failed: {e}"));
        all.extend(result.items);
        match result.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return all,
        }
    }
}

/// Checks every invariant, panicking with a description of the first broken one:
///
/// - per currency, the posted balances of all accounts (settlement included) sum to zero;
/// - each account's posted balance equals the sum of its postings;
/// - each account's pending balance equals the sum of its pending holds;
/// - no account's available balance (on its normal side) is below its
///   floor, no pending balance is negative, and ledger accounts hold nothing;
/// - each transaction's postings sum to zero per currency; a posted
///   transaction's postings are exactly its legs (any number, currencies
///   mixed), pending or voided ones have none;
/// - transaction sequences are unique; the audit chain verifies.
pub async fn check(ledger: &Ledger) {
    let accounts = all_accounts(ledger).await;
    let mut totals: HashMap<Currency, Decimal> = HashMap::new();
    let mut lines_by_transaction: HashMap<TransactionId, Vec<Posting>> = HashMap::new();
    for account in &accounts {
        *totals.entry(account.currency).or_default() += account.balance.posted;
        let postings = all_postings(ledger, account.id).await;
        let sum: Decimal = postings.iter().map(|p| p.amount).sum();
        assert_eq!(account.balance.posted, sum, "account {} posted balance != sum of its postings", account.id);
        check_running_balances(account, &postings);
        for p in postings {
            assert_eq!(p.currency, account.currency, "posting in another currency on {}", account.id);
            lines_by_transaction.entry(p.transaction_id).or_default().push(p);
        }
        check_floor(account);
    }
    for (currency, total) in &totals {
        assert!(total.is_zero(), "{currency} balances sum to {total}, not zero");
    }
    let transactions = all_transactions(ledger, &HistoryFilter::default()).await;
    check_transactions(&transactions, &lines_by_transaction);
    check_pending(&accounts, &transactions);
    check_feed(&accounts, &transactions, &all_changes(ledger).await);
    if let Err(e) = ledger.verify_audit_chain(&SYS, None).await {
        panic!("audit chain does not verify: {e}");
    }
    // The operators' check agrees: no false alarm on a sound ledger.
    let report = ledger.verify_integrity(&SYS).await.expect("verifying integrity");
    assert!(report.is_ok(), "verify_integrity reports problems on a sound ledger: {:?}", report.problems);
    assert_eq!(report.accounts, accounts.len() as u64);
    assert_eq!(report.transactions, transactions.len() as u64);
}

/// Every change in the feed, oldest first.
pub async fn all_changes(ledger: &Ledger) -> Vec<crate::Change> {
    let mut changes: Vec<crate::Change> = Vec::new();
    loop {
        let after = changes.last().map_or(0, |c| c.sequence);
        let page = ledger.events_after(after, crate::CHANGES_PAGE_MAX).await.expect("reading the change feed");
        let done = page.len() < crate::CHANGES_PAGE_MAX;
        changes.extend(page);
        if done {
            return changes;
        }
    }
}

/// The change feed tells the whole committed story since it began (a
/// store upgraded from a format without a feed starts it empty): sequences
/// strictly increase with commit times never going back; every account
/// and transaction it mentions is, at its last mention, in its current
/// state (a transaction only reversed since excepted: the reversal is its
/// own change); everything committed after the feed began is mentioned,
/// and every account opened since was opened in it.
fn check_feed(accounts: &[Account], transactions: &[Transaction], changes: &[crate::Change]) {
    use crate::ChangeKind;
    for w in changes.windows(2) {
        assert!(w[0].sequence < w[1].sequence, "feed sequences must strictly increase");
        assert!(w[0].at <= w[1].at, "feed commit times must not go back");
    }
    // Empty: nothing committed since the feed began.
    let Some(first) = changes.first() else { return };
    let mut last_state: HashMap<AccountId, &Account> = HashMap::new();
    let mut opened: std::collections::HashSet<AccountId> = std::collections::HashSet::new();
    let mut last_transaction: HashMap<TransactionId, &Transaction> = HashMap::new();
    for change in changes {
        for account in &change.balances {
            last_state.insert(account.id, account);
        }
        if let (ChangeKind::AccountOpened, Some(account)) = (change.kind, &change.account) {
            assert!(opened.insert(account.id), "account {} opened twice in the feed", account.id);
        }
        if let Some(t) = &change.transaction {
            last_transaction.insert(t.id, t);
        }
    }
    for account in accounts {
        match last_state.get(&account.id) {
            Some(fed) => assert_eq!(*fed, account, "the feed's last state of {} is not its state", account.id),
            None => {
                assert!(account.updated_at < first.at, "account {} changed after the feed began, unfed", account.id)
            }
        }
        if account.created_at > first.at {
            assert!(opened.contains(&account.id), "account {} was opened after the feed began, unfed", account.id);
        }
    }
    for t in transactions {
        let Some(fed) = last_transaction.get(&t.id) else {
            assert!(t.sequence < first.sequence, "transaction {} committed after the feed began, unfed", t.id);
            continue;
        };
        let but_reversed =
            Transaction { reversed_amount: t.reversed_amount, updated_at: t.updated_at, ..(*fed).clone() };
        assert_eq!(&but_reversed, t, "the feed's last state of transaction {} is not its state", t.id);
    }
}

/// Each posting's `balance_after` is the sum of the account's postings up to
/// it, and commit times never go back in commit order.
fn check_running_balances(account: &Account, postings: &[Posting]) {
    let mut running = Decimal::ZERO;
    for (i, p) in postings.iter().enumerate() {
        running += p.amount;
        assert_eq!(p.balance_after, running, "account {} posting {}: wrong running balance", account.id, p.sequence);
        if let Some(previous) = i.checked_sub(1).and_then(|j| postings.get(j)) {
            assert!(
                previous.at <= p.at,
                "account {}: posting {} is older than the one before it",
                account.id,
                p.sequence
            );
        }
    }
}

fn check_floor(account: &Account) {
    assert!(account.balance.pending >= Decimal::ZERO, "account {} has negative pending", account.id);
    if let Some(floor) = account.floor() {
        let available = account.reported_balance().available();
        assert!(available >= floor, "account {} is below its floor: available {available} < {floor}", account.id);
    }
    if account.kind.is_ledger() {
        assert!(account.balance.pending.is_zero(), "ledger account {} has holds", account.id);
    }
}

fn check_transactions(transactions: &[Transaction], lines: &HashMap<TransactionId, Vec<Posting>>) {
    let mut sequences: Vec<u64> = transactions.iter().map(|t| t.sequence).collect();
    sequences.dedup();
    assert_eq!(sequences.len(), transactions.len(), "history repeats a sequence or is not strictly ordered");
    assert!(sequences.windows(2).all(|w| w[0] > w[1]), "history is not newest first");
    for t in transactions {
        let own = lines.get(&t.id).map(Vec::as_slice).unwrap_or_default();
        for &currency in Currency::ALL {
            let sum: Decimal = own.iter().filter(|p| p.currency == currency).map(|p| p.amount).sum();
            assert!(sum.is_zero(), "transaction {} {currency} postings sum to {sum}", t.id);
        }
        match t.status {
            TransactionStatus::Posted => check_lines_follow_legs(t, own),
            TransactionStatus::Pending | TransactionStatus::Voided => {
                assert!(own.is_empty(), "{:?} transaction {} has postings", t.status, t.id);
                assert_eq!(t.kind, TransactionKind::Hold, "only holds can be {:?}", t.status);
            }
        }
        if let Some(captured) = t.captured_amount {
            assert!(captured <= t.amount, "hold {} captured {captured} above its {}", t.id, t.amount);
        }
    }
    check_reversals(transactions);
    let known: std::collections::HashSet<TransactionId> = transactions.iter().map(|t| t.id).collect();
    for id in lines.keys() {
        assert!(known.contains(id), "postings reference transaction {id}, which history does not show");
    }
}

/// A posted transaction's lines are exactly its legs, each a debit of the
/// source and a credit of the destination, and its amount is what its
/// first currency's legs moved (for a captured hold: what was captured).
fn check_lines_follow_legs(t: &Transaction, own: &[Posting]) {
    let legs = t.legs();
    let mut expected: Vec<(AccountId, Decimal, Currency)> =
        legs.iter().flat_map(|l| [(l.source, -l.amount, l.currency), (l.destination, l.amount, l.currency)]).collect();
    let mut found: Vec<(AccountId, Decimal, Currency)> =
        own.iter().map(|p| (p.account_id, p.amount, p.currency)).collect();
    let order = |a: &(AccountId, Decimal, Currency), b: &(AccountId, Decimal, Currency)| {
        (a.0, a.1, a.2.code()).cmp(&(b.0, b.1, b.2.code()))
    };
    expected.sort_by(order);
    found.sort_by(order);
    assert_eq!(found, expected, "posted transaction {} has lines that are not its legs", t.id);
    let moved: Decimal = legs.iter().filter(|l| l.currency == t.currency).map(|l| l.amount).sum();
    let amount = t.captured_amount.unwrap_or(t.amount);
    assert_eq!(moved, amount, "transaction {} moved {moved}, expected {amount}", t.id);
}

/// What each transaction says was reversed of it is what its reversals
/// moved back, and never more than it moved.
fn check_reversals(transactions: &[Transaction]) {
    let mut reversed: HashMap<TransactionId, Decimal> = HashMap::new();
    for t in transactions.iter().filter(|t| t.kind == TransactionKind::Reversal) {
        let original = t.reverses.unwrap_or_else(|| panic!("reversal {} names no original", t.id));
        *reversed.entry(original).or_default() += t.amount;
    }
    for t in transactions {
        let moved_back = reversed.get(&t.id).copied().unwrap_or_default();
        assert_eq!(t.reversed_amount, moved_back, "transaction {}: reversed_amount != its reversals", t.id);
        assert!(t.reversed_amount <= t.effective_amount(), "transaction {} reversed beyond what it moved", t.id);
    }
}

fn check_pending(accounts: &[Account], transactions: &[Transaction]) {
    let mut held: HashMap<AccountId, Decimal> = HashMap::new();
    for t in transactions.iter().filter(|t| t.status == TransactionStatus::Pending) {
        if let Some(from) = t.from_account {
            *held.entry(from).or_default() += t.amount;
        }
    }
    for account in accounts {
        let expected = held.get(&account.id).copied().unwrap_or_default();
        assert_eq!(account.balance.pending, expected, "account {} pending != sum of its open holds", account.id);
    }
}
