//! The integrity check of a whole store, for operators (`ledger-http
//! verify`) and after an import: the audit chain, the ledger's invariants
//! and the consistency of the store's indexes, read page by page. Unlike the
//! conformance suite's invariants it never panics: it reports what is off.

use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;

use super::*;
use crate::audit::AuditHead;
use crate::change::CHANGES_PAGE_MAX;
use crate::money::Currency;
use crate::posting::Posting;
use crate::query::HistoryFilter;
use crate::transaction::{Transaction, TransactionStatus};

/// Rows read per store call while verifying.
const VERIFY_PAGE_LEN: usize = 1000;

/// The most problems a report lists; it counts the rest.
pub const VERIFY_PROBLEMS_MAX: usize = 100;

/// What [`Ledger::verify_integrity`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Accounts checked.
    pub accounts: u64,
    /// Transactions checked.
    pub transactions: u64,
    /// Postings checked.
    pub postings: u64,
    /// Changes in the feed.
    pub changes: u64,
    /// The verified end of the audit chain (none if it did not verify).
    pub audit_head: Option<AuditHead>,
    /// What is off, at most [`VERIFY_PROBLEMS_MAX`], in the order found.
    pub problems: Vec<String>,
    /// Problems found beyond those listed.
    pub more_problems: u64,
}

impl IntegrityReport {
    /// Whether everything checked out.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, text: String) {
        if self.problems.len() < VERIFY_PROBLEMS_MAX {
            self.problems.push(text);
        } else {
            self.more_problems += 1;
        }
    }
}

/// What the history pass learns, to check the accounts against.
#[derive(Default)]
struct HistoryFacts {
    /// How many transactions touch each account.
    per_account: HashMap<AccountId, u64>,
    /// What each account's open holds reserve.
    held: HashMap<AccountId, Decimal>,
    /// The posted transactions: only they may have postings.
    posted: HashSet<TransactionId>,
}

impl Ledger {
    /// Checks the whole store (admins and the system): the audit chain
    /// verifies; every balance equals the sum of its postings, each
    /// posting's running balance is right and commit times never go back;
    /// each currency sums to zero; pending equals the open holds; every
    /// transaction's postings balance per currency; each account's history
    /// index lists exactly the transactions that touch it; the change feed
    /// is in order. Reads every row once; memory grows with the number of
    /// accounts and transactions, not postings.
    pub async fn verify_integrity(&self, actor: &Actor) -> Result<IntegrityReport, LedgerError> {
        actor.require_admin()?;
        let mut report = IntegrityReport::default();
        match self.verify_audit_chain(actor, None).await {
            Ok(head) => report.audit_head = Some(head),
            Err(LedgerError::Storage(error)) => return Err(LedgerError::Storage(error)),
            Err(error) => report.problem(format!("the audit chain does not verify: {error}")),
        }
        let facts = self.verify_history(&mut report).await?;
        let lines = self.verify_accounts(&mut report, &facts).await?;
        for (transaction, balanced) in lines {
            if !facts.posted.contains(&transaction) {
                report.problem(format!("postings name transaction {transaction}, which history lacks"));
            } else if !balanced {
                report.problem(format!("transaction {transaction}'s postings do not balance"));
            }
        }
        self.verify_feed(&mut report).await?;
        Ok(report)
    }

    /// One pass over the whole history, newest first.
    async fn verify_history(&self, report: &mut IntegrityReport) -> Result<HistoryFacts, LedgerError> {
        let mut facts = HistoryFacts::default();
        let mut before: Option<u64> = None;
        loop {
            let page = self.store.transactions(&HistoryFilter::default(), before, VERIFY_PAGE_LEN).await?;
            for t in &page {
                if before.is_some_and(|b| t.sequence >= b) {
                    report.problem(format!("history is out of order at transaction {}", t.id));
                }
                before = Some(t.sequence);
                report.transactions += 1;
                Ledger::learn(t, &mut facts);
            }
            if page.len() < VERIFY_PAGE_LEN {
                return Ok(facts);
            }
        }
    }

    fn learn(t: &Transaction, facts: &mut HistoryFacts) {
        for account in touched(t) {
            *facts.per_account.entry(account).or_default() += 1;
        }
        match t.status {
            TransactionStatus::Pending => {
                if let Some(from) = t.from_account {
                    *facts.held.entry(from).or_default() += t.amount;
                }
            }
            TransactionStatus::Posted => {
                facts.posted.insert(t.id);
            }
            TransactionStatus::Voided => {}
        }
    }

    /// Every account: its postings, balances, holds, floor and history
    /// index; the currencies' totals. Returns each posted transaction seen
    /// in postings and whether its lines balance per currency.
    async fn verify_accounts(
        &self,
        report: &mut IntegrityReport,
        facts: &HistoryFacts,
    ) -> Result<HashMap<TransactionId, bool>, LedgerError> {
        let mut totals: HashMap<Currency, Decimal> = HashMap::new();
        let mut sums: HashMap<(TransactionId, Currency), Decimal> = HashMap::new();
        let mut after: Option<AccountId> = None;
        loop {
            let page = self.store.accounts(after, VERIFY_PAGE_LEN).await?;
            for account in &page {
                after = Some(account.id);
                report.accounts += 1;
                *totals.entry(account.currency).or_default() += account.balance.posted;
                let postings = self.verify_postings(account, report).await?;
                for p in postings {
                    *sums.entry((p.transaction_id, p.currency)).or_default() += p.amount;
                }
                let held = facts.held.get(&account.id).copied().unwrap_or_default();
                if account.balance.pending != held {
                    report.problem(format!(
                        "account {}: pending {} but open holds {held}",
                        account.id, account.balance.pending
                    ));
                }
                let indexed = self.count_history(account.id).await?;
                let touching = facts.per_account.get(&account.id).copied().unwrap_or_default();
                if indexed != touching {
                    report.problem(format!(
                        "account {}: its history index lists {indexed} transactions, {touching} touch it",
                        account.id
                    ));
                }
            }
            if page.len() < VERIFY_PAGE_LEN {
                break;
            }
        }
        for (currency, total) in totals {
            if !total.is_zero() {
                report.problem(format!("{currency} balances sum to {total}, not zero"));
            }
        }
        let mut balanced: HashMap<TransactionId, bool> = HashMap::new();
        for ((transaction, _), sum) in sums {
            let entry = balanced.entry(transaction).or_insert(true);
            *entry &= sum.is_zero();
        }
        Ok(balanced)
    }

    /// One account's postings: their sum is its balance, each running
    /// balance is right, times never go back. Returns them, for the
    /// per-transaction check (only amounts and ids are kept by the caller).
    async fn verify_postings(
        &self,
        account: &Account,
        report: &mut IntegrityReport,
    ) -> Result<Vec<Posting>, LedgerError> {
        let mut all = Vec::new();
        let mut running = Decimal::ZERO;
        let mut last_at = None;
        let mut after = None;
        loop {
            let page = self.store.postings(account.id, after, VERIFY_PAGE_LEN).await?;
            for p in &page {
                after = Some(p.sequence);
                report.postings += 1;
                running += p.amount;
                if p.balance_after != running {
                    report.problem(format!(
                        "account {} posting {}: running balance {} should be {running}",
                        account.id, p.sequence, p.balance_after
                    ));
                }
                if last_at.is_some_and(|at| p.at < at) {
                    report.problem(format!(
                        "account {} posting {} is older than the one before it",
                        account.id, p.sequence
                    ));
                }
                if p.currency != account.currency {
                    report.problem(format!("account {} has a posting in {}", account.id, p.currency));
                }
                last_at = Some(p.at);
            }
            let done = page.len() < VERIFY_PAGE_LEN;
            all.extend(page);
            if done {
                break;
            }
        }
        if running != account.balance.posted {
            report.problem(format!(
                "account {}: balance {} but its postings sum to {running}",
                account.id, account.balance.posted
            ));
        }
        Ok(all)
    }

    /// How many transactions an account's history index lists.
    async fn count_history(&self, account: AccountId) -> Result<u64, LedgerError> {
        let filter = HistoryFilter::account(account);
        let (mut count, mut before) = (0u64, None);
        loop {
            let page = self.store.transactions(&filter, before, VERIFY_PAGE_LEN).await?;
            count += page.len() as u64;
            before = page.last().map(|t| t.sequence);
            if page.len() < VERIFY_PAGE_LEN {
                return Ok(count);
            }
        }
    }

    /// The change feed's sequences strictly increase.
    async fn verify_feed(&self, report: &mut IntegrityReport) -> Result<(), LedgerError> {
        let mut after = 0;
        loop {
            let page = self.store.changes_after(after, CHANGES_PAGE_MAX).await?;
            for change in &page {
                if change.sequence <= after {
                    report.problem(format!("the change feed is out of order at sequence {}", change.sequence));
                }
                after = change.sequence;
                report.changes += 1;
            }
            if page.len() < CHANGES_PAGE_MAX {
                return Ok(());
            }
        }
    }
}

/// The accounts a transaction's history lists it under: every side it
/// names and, for a posted one stored before transactions kept their legs
/// (upgraded stores), the settlement account its derived leg moved.
fn touched(t: &Transaction) -> Vec<AccountId> {
    let mut accounts = t.accounts();
    if t.legs.is_empty() && t.status == TransactionStatus::Posted {
        for leg in t.legs() {
            for side in [leg.source, leg.destination] {
                if !accounts.contains(&side) {
                    accounts.push(side);
                }
            }
        }
    }
    accounts
}
