//! The checker: from the client's records and what the ledger shows after
//! the run, proves (or refutes)
//!
//! - every acknowledged operation is present exactly once, as acknowledged
//!   (same transaction id, kind, accounts, amount), else it is *lost*;
//! - every key is applied at most once (a key found on two transactions, or
//!   a transaction id listed twice, is *duplicated*);
//! - a rejected operation left nothing, and every transaction belongs to an
//!   operation (else *phantom*); an indeterminate one was applied once or
//!   not at all (counted);
//! - a deliberate replay answered with the original transaction id;
//! - per currency, customer balances total deposits minus withdrawals, and
//!   settlement holds the opposite;
//! - no customer account is below its floor (0: the bank opens none with an
//!   overdraft);
//! - each balance equals the sum of its own history, and each account's
//!   history is exactly the whole history's transactions touching it;
//! - the audit chain verifies; the store's own invariant checks pass; each
//!   stored idempotency record names exactly what the client was told.

use std::collections::{BTreeMap, HashMap, HashSet};

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::observed::{Observed, TransactionState};
use crate::op::{OpRecord, Outcome, ReplayCheck};

/// How many failure messages a report keeps (the counts stay exact).
const FAILURES_SHOWN_MAX: usize = 50;

/// The verdict of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Operations issued.
    pub attempted: usize,
    /// Answered 2xx.
    pub acknowledged: usize,
    /// Answered with a definite 4xx.
    pub rejected: usize,
    /// No definite answer.
    pub indeterminate: usize,
    /// Indeterminate operations that turned out applied (once).
    pub indeterminate_applied: usize,
    /// Operations sent more than once with the same key.
    pub retried: usize,
    /// Acknowledged operations missing from history (or altered).
    pub lost: usize,
    /// Keys applied more than once, or transactions listed twice.
    pub duplicated: usize,
    /// Transactions no operation explains, or rejected operations applied.
    pub phantom: usize,
    /// Every property that failed, with details (at most [`FAILURES_SHOWN_MAX`]).
    pub failures: Vec<String>,
    /// How many failures there were in all.
    pub failure_count: usize,
}

impl Report {
    /// Whether every property held.
    pub fn passed(&self) -> bool {
        self.failure_count == 0
    }

    /// Records a failed property.
    pub fn fail(&mut self, message: String) {
        self.failure_count += 1;
        if self.failures.len() < FAILURES_SHOWN_MAX {
            self.failures.push(message);
        }
    }
}

/// Checks every property; see the module docs.
pub fn check(records: &[OpRecord], observed: &Observed) -> Report {
    let mut report = Report { attempted: records.len(), ..Report::default() };
    let by_key = transactions_by_key(&observed.transactions);
    count_repeated_ids(&mut report, &observed.transactions);
    for record in records {
        let found = by_key.get(record.op.key.as_str()).map(Vec::as_slice).unwrap_or_default();
        check_operation(&mut report, record, found);
        if let Some(store) = &observed.store {
            check_idempotency_record(&mut report, record, store.idempotency.get(&record.op.key), found);
        }
    }
    check_unexplained(&mut report, records, &observed.transactions);
    check_totals(&mut report, records, &by_key, observed);
    check_accounts(&mut report, observed);
    check_audit(&mut report, observed);
    report
}

/// History indexed by description (the client's key).
fn transactions_by_key(transactions: &[TransactionState]) -> HashMap<&str, Vec<&TransactionState>> {
    let mut by_key: HashMap<&str, Vec<&TransactionState>> = HashMap::new();
    for t in transactions {
        if let Some(key) = t.description.as_deref() {
            by_key.entry(key).or_default().push(t);
        }
    }
    by_key
}

fn count_repeated_ids(report: &mut Report, transactions: &[TransactionState]) {
    let mut seen = HashSet::new();
    for t in transactions {
        if !seen.insert(t.id) {
            report.duplicated += 1;
            report.fail(format!("transaction {} is listed twice in history", t.id));
        }
    }
}

/// One operation against the transactions carrying its key.
fn check_operation(report: &mut Report, record: &OpRecord, found: &[&TransactionState]) {
    let op = &record.op;
    if record.attempts > 1 {
        report.retried += 1;
    }
    if found.len() > 1 {
        report.duplicated += 1;
        let ids: Vec<String> = found.iter().map(|t| t.id.to_string()).collect();
        report.fail(format!("key {} applied {} times: {}", op.key, found.len(), ids.join(", ")));
    }
    match &record.outcome {
        Outcome::Acknowledged { transaction } => {
            report.acknowledged += 1;
            match found.iter().find(|t| t.id == *transaction) {
                None => {
                    report.lost += 1;
                    report.fail(format!("acknowledged {} ({transaction}) is not in history", op.key));
                }
                Some(t) if !matches(record, t) => {
                    report.lost += 1;
                    report.fail(format!("acknowledged {} is in history altered: {t:?} for {op:?}", op.key));
                }
                Some(_) => {}
            }
            let replayed_same = |r: &ReplayCheck| match &r.outcome {
                Outcome::Acknowledged { transaction: again } => again == transaction && r.marked_replayed,
                // Not answered before the retry budget ran out: nothing learned.
                Outcome::Indeterminate { .. } => true,
                Outcome::Rejected { .. } => false,
            };
            if let Some(replay) = record.replay.as_ref().filter(|r| !replayed_same(r)) {
                report.duplicated += 1;
                report.fail(format!("replay of {} answered {replay:?}, not the original {transaction}", op.key));
            }
        }
        Outcome::Rejected { status, code } => {
            report.rejected += 1;
            if !found.is_empty() {
                report.phantom += 1;
                report.fail(format!("{} was rejected ({status} {code}) but applied", op.key));
            }
        }
        Outcome::Indeterminate { .. } => {
            report.indeterminate += 1;
            if let [t] = found {
                report.indeterminate_applied += 1;
                if !matches(record, t) {
                    report.fail(format!("indeterminate {} applied altered: {t:?} for {op:?}", op.key));
                }
            }
        }
    }
}

/// Whether a transaction is what the operation asked for.
fn matches(record: &OpRecord, t: &TransactionState) -> bool {
    let op = &record.op;
    t.kind == op.kind.transaction_kind()
        && t.status == "posted"
        && t.amount == op.amount
        && t.currency == op.currency
        && (op.from.is_none() || t.from == op.from)
        && (op.to.is_none() || t.to == op.to)
}

/// The store's idempotency record for a key against the client's answer
/// and against history.
fn check_idempotency_record(
    report: &mut Report,
    record: &OpRecord,
    stored: Option<&Vec<Uuid>>,
    found: &[&TransactionState],
) {
    let key = &record.op.key;
    let in_history: Vec<Uuid> = found.iter().map(|t| t.id).collect();
    match (&record.outcome, stored) {
        (Outcome::Acknowledged { transaction }, Some(ids)) if ids.as_slice() == [*transaction] => {}
        (Outcome::Acknowledged { transaction }, other) => {
            report.fail(format!("key {key}: acknowledged {transaction}, but the store's record names {other:?}"));
        }
        (Outcome::Rejected { .. }, None) => {}
        (Outcome::Rejected { .. }, Some(ids)) => {
            report.fail(format!("key {key}: rejected, but the store holds a record naming {ids:?}"));
        }
        (Outcome::Indeterminate { .. }, stored) => {
            if stored.cloned().unwrap_or_default() != in_history {
                report.fail(format!("key {key}: the store's record names {stored:?}, history has {in_history:?}"));
            }
        }
    }
}

/// Transactions whose description is no operation's key.
fn check_unexplained(report: &mut Report, records: &[OpRecord], transactions: &[TransactionState]) {
    let keys: HashSet<&str> = records.iter().map(|r| r.op.key.as_str()).collect();
    for t in transactions {
        if !t.description.as_deref().is_some_and(|d| keys.contains(d)) {
            report.phantom += 1;
            report.fail(format!("transaction {} ({}, {}) belongs to no operation", t.id, t.kind, t.amount));
        }
    }
}

/// Per currency: customer total = applied deposits - applied withdrawals
/// (= -settlement, where the settlement account is seen).
fn check_totals(
    report: &mut Report,
    records: &[OpRecord],
    by_key: &HashMap<&str, Vec<&TransactionState>>,
    observed: &Observed,
) {
    let mut expected: BTreeMap<&str, Decimal> = BTreeMap::new();
    for record in records {
        // An operation counts once if it left a transaction (duplicates are reported above).
        if by_key.get(record.op.key.as_str()).is_some_and(|found| !found.is_empty()) {
            *expected.entry(record.op.currency.as_str()).or_default() += record.op.customer_total_change();
        }
    }
    let mut customers: BTreeMap<&str, Decimal> = BTreeMap::new();
    let mut settlement: BTreeMap<&str, Decimal> = BTreeMap::new();
    for account in &observed.accounts {
        let side = if account.customer { &mut customers } else { &mut settlement };
        *side.entry(account.currency.as_str()).or_default() += account.posted;
    }
    let currencies: HashSet<&str> = expected.keys().chain(customers.keys()).chain(settlement.keys()).copied().collect();
    for currency in currencies {
        let want = expected.get(currency).copied().unwrap_or_default();
        let customer = customers.get(currency).copied().unwrap_or_default();
        let internal = settlement.get(currency).copied().unwrap_or_default();
        if customer != want {
            report.fail(format!("{currency}: customer balances total {customer}, deposits - withdrawals = {want}"));
        }
        // Deposits and withdrawals do not name the settlement account over
        // HTTP; when it is unseen, the store's invariants check the zero sum.
        if settlement.contains_key(currency) && customer + internal != Decimal::ZERO {
            report.fail(format!("{currency}: customer {customer} + settlement {internal} is not zero"));
        }
    }
}

/// Floors, and each balance against its own history and the whole history.
fn check_accounts(report: &mut Report, observed: &Observed) {
    for account in &observed.accounts {
        if account.customer && (account.available < Decimal::ZERO || account.pending < Decimal::ZERO) {
            report.fail(format!("account {} is below its floor: {account:?}", account.id));
        }
        let own = observed.account_history.get(&account.id).map(Vec::as_slice).unwrap_or_default();
        let sum: Decimal = own.iter().map(|t| t.effect_on(account.id)).sum();
        if sum != account.posted {
            report.fail(format!("account {}: posted {} but its history sums to {sum}", account.id, account.posted));
        }
        let own_ids: HashSet<Uuid> = own.iter().map(|t| t.id).collect();
        let touching: HashSet<Uuid> = observed
            .transactions
            .iter()
            .filter(|t| t.from == Some(account.id) || t.to == Some(account.id))
            .map(|t| t.id)
            .collect();
        if own_ids != touching || own_ids.len() != own.len() {
            report.fail(format!(
                "account {}: its history lists {} transactions, the whole history {} touching it",
                account.id,
                own.len(),
                touching.len()
            ));
        }
    }
}

fn check_audit(report: &mut Report, observed: &Observed) {
    if let Err(error) = &observed.audit_over_http {
        report.fail(format!("audit chain (HTTP): {error}"));
    }
    if let Some(store) = &observed.store {
        if let Err(error) = &store.invariants {
            report.fail(format!("ledger-core invariants: {error}"));
        }
        if let Err(error) = &store.audit_chain {
            report.fail(format!("audit chain (store): {error}"));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a failed expectation must panic
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::observed::{AccountState, StoreEvidence};
    use crate::op::{Op, OpKind};

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    /// A consistent run: customers A and B in USD, settlement S.
    /// op1 deposit 100 to A (acknowledged, tx1); op2 transfer 30 A->B
    /// (acknowledged, tx2); op3 withdrawal 500 from A (rejected); op4
    /// withdrawal 10 from B (indeterminate, applied as tx4); op5 deposit 5
    /// to B (indeterminate, not applied).
    struct Fixture {
        a: Uuid,
        b: Uuid,
        s: Uuid,
        records: Vec<OpRecord>,
        observed: Observed,
    }

    fn op(key: &str, kind: OpKind, from: Option<Uuid>, to: Option<Uuid>, amount: &str) -> Op {
        Op { key: key.into(), kind, actor: Uuid::nil(), from, to, currency: "USD".into(), amount: dec(amount) }
    }

    fn record(op: Op, outcome: Outcome) -> OpRecord {
        OpRecord { op, outcome, attempts: 1, replay: None, acknowledged_at: None }
    }

    fn transaction(key: &str, kind: &str, from: Uuid, to: Uuid, amount: &str) -> TransactionState {
        TransactionState {
            id: Uuid::now_v7(),
            kind: kind.into(),
            status: "posted".into(),
            amount: dec(amount),
            currency: "USD".into(),
            from: Some(from),
            to: Some(to),
            description: Some(key.into()),
        }
    }

    fn account(id: Uuid, customer: bool, posted: &str) -> AccountState {
        AccountState {
            id,
            currency: "USD".into(),
            customer,
            posted: dec(posted),
            pending: dec("0"),
            available: dec(posted),
        }
    }

    fn fixture() -> Fixture {
        let (a, b, s) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let tx1 = transaction("op1", "deposit", s, a, "100.00");
        let tx2 = transaction("op2", "transfer", a, b, "30.00");
        let tx4 = transaction("op4", "withdrawal", b, s, "10.00");
        let records = vec![
            record(op("op1", OpKind::Deposit, None, Some(a), "100"), Outcome::Acknowledged { transaction: tx1.id }),
            record(op("op2", OpKind::Transfer, Some(a), Some(b), "30"), Outcome::Acknowledged { transaction: tx2.id }),
            record(
                op("op3", OpKind::Withdrawal, Some(a), None, "500"),
                Outcome::Rejected { status: 422, code: "insufficient_funds".into() },
            ),
            record(
                op("op4", OpKind::Withdrawal, Some(b), None, "10"),
                Outcome::Indeterminate { reason: "timeout".into() },
            ),
            record(op("op5", OpKind::Deposit, None, Some(b), "5"), Outcome::Indeterminate { reason: "timeout".into() }),
        ];
        let idempotency = HashMap::from([
            ("op1".to_owned(), vec![tx1.id]),
            ("op2".to_owned(), vec![tx2.id]),
            ("op4".to_owned(), vec![tx4.id]),
        ]);
        let transactions = vec![tx4.clone(), tx2.clone(), tx1.clone()];
        let observed = Observed {
            accounts: vec![account(a, true, "70.00"), account(b, true, "20.00"), account(s, false, "-90.00")],
            account_history: HashMap::from([
                (a, vec![tx2.clone(), tx1.clone()]),
                (b, vec![tx4.clone(), tx2]),
                (s, vec![tx4, tx1]),
            ]),
            transactions,
            audit_over_http: Ok(()),
            store: Some(StoreEvidence { invariants: Ok(()), audit_chain: Ok(12), idempotency }),
        };
        Fixture { a, b, s, records, observed }
    }

    fn failures_mention(report: &Report, text: &str) -> bool {
        report.failures.iter().any(|f| f.contains(text))
    }

    fn set_posted(observed: &mut Observed, id: Uuid, posted: &str) {
        let account = observed.accounts.iter_mut().find(|a| a.id == id).unwrap();
        account.posted = dec(posted);
        account.available = dec(posted);
    }

    #[test]
    fn a_consistent_run_passes_with_every_outcome_counted() {
        let f = fixture();
        let report = check(&f.records, &f.observed);
        assert!(report.passed(), "{:?}", report.failures);
        assert_eq!(
            (
                report.attempted,
                report.acknowledged,
                report.rejected,
                report.indeterminate,
                report.indeterminate_applied
            ),
            (5, 2, 1, 2, 1)
        );
        assert_eq!((report.lost, report.duplicated, report.phantom), (0, 0, 0));
    }

    #[test]
    fn an_acknowledged_operation_missing_from_history_is_lost() {
        let mut f = fixture();
        let Outcome::Acknowledged { transaction: tx2 } = f.records[1].outcome else { unreachable!() };
        f.observed.transactions.retain(|t| t.id != tx2);
        for history in f.observed.account_history.values_mut() {
            history.retain(|t| t.id != tx2);
        }
        // Balances as if the transfer never happened.
        set_posted(&mut f.observed, f.a, "100.00");
        set_posted(&mut f.observed, f.b, "-10.00");
        let report = check(&f.records, &f.observed);
        assert_eq!(report.lost, 1);
        assert!(!report.passed());
        assert!(failures_mention(&report, "acknowledged op2"), "{:?}", report.failures);
    }

    #[test]
    fn an_acknowledged_operation_with_another_amount_is_lost() {
        let mut f = fixture();
        f.observed.transactions.iter_mut().find(|t| t.description.as_deref() == Some("op1")).unwrap().amount =
            dec("99.00");
        let report = check(&f.records, &f.observed);
        assert_eq!(report.lost, 1);
        assert!(failures_mention(&report, "altered"), "{:?}", report.failures);
    }

    #[test]
    fn a_key_applied_twice_is_duplicated() {
        let mut f = fixture();
        let again = transaction("op2", "transfer", f.a, f.b, "30.00");
        f.observed.transactions.insert(0, again.clone());
        f.observed.account_history.get_mut(&f.a).unwrap().insert(0, again.clone());
        f.observed.account_history.get_mut(&f.b).unwrap().insert(0, again);
        set_posted(&mut f.observed, f.a, "40.00");
        set_posted(&mut f.observed, f.b, "50.00");
        let report = check(&f.records, &f.observed);
        assert_eq!(report.duplicated, 1);
        assert!(failures_mention(&report, "key op2 applied 2 times"), "{:?}", report.failures);
    }

    #[test]
    fn a_transaction_listed_twice_is_duplicated() {
        let mut f = fixture();
        let first = f.observed.transactions[0].clone();
        f.observed.transactions.push(first);
        let report = check(&f.records, &f.observed);
        assert!(report.duplicated >= 1);
        assert!(failures_mention(&report, "listed twice"), "{:?}", report.failures);
    }

    #[test]
    fn a_balance_that_is_not_the_sum_of_its_history_is_reported() {
        let mut f = fixture();
        set_posted(&mut f.observed, f.a, "71.00");
        let report = check(&f.records, &f.observed);
        assert!(!report.passed());
        assert!(failures_mention(&report, "its history sums to 70.00"), "{:?}", report.failures);
        assert!(failures_mention(&report, "deposits - withdrawals = 90"), "{:?}", report.failures);
    }

    #[test]
    fn customer_and_settlement_balances_that_do_not_cancel_are_reported() {
        let mut f = fixture();
        set_posted(&mut f.observed, f.s, "-80.00");
        let report = check(&f.records, &f.observed);
        assert!(failures_mention(&report, "is not zero"), "{:?}", report.failures);
    }

    #[test]
    fn an_account_history_that_misses_a_transaction_is_reported() {
        let mut f = fixture();
        f.observed.account_history.get_mut(&f.s).unwrap().pop();
        let report = check(&f.records, &f.observed);
        assert!(failures_mention(&report, "the whole history"), "{:?}", report.failures);
    }

    #[test]
    fn a_rejected_operation_that_was_applied_is_a_phantom() {
        let mut f = fixture();
        let applied = transaction("op3", "withdrawal", f.a, f.s, "500.00");
        f.observed.transactions.insert(0, applied);
        let report = check(&f.records, &f.observed);
        assert_eq!(report.phantom, 1);
        assert!(failures_mention(&report, "op3 was rejected (422 insufficient_funds) but applied"));
    }

    #[test]
    fn a_transaction_no_operation_explains_is_a_phantom() {
        let mut f = fixture();
        f.observed.transactions.insert(0, transaction("someone-else", "deposit", f.s, f.a, "1.00"));
        let report = check(&f.records, &f.observed);
        assert_eq!(report.phantom, 1);
    }

    #[test]
    fn an_account_below_its_floor_is_reported() {
        let mut f = fixture();
        f.observed.accounts[1].available = dec("-0.01");
        let report = check(&f.records, &f.observed);
        assert!(failures_mention(&report, "below its floor"), "{:?}", report.failures);
    }

    #[test]
    fn a_replay_that_names_another_transaction_is_reported() {
        let mut f = fixture();
        let other = Outcome::Acknowledged { transaction: Uuid::now_v7() };
        f.records[0].replay = Some(ReplayCheck { outcome: other, marked_replayed: true });
        let report = check(&f.records, &f.observed);
        assert_eq!(report.duplicated, 1);
        assert!(failures_mention(&report, "replay of op1"));
    }

    #[test]
    fn a_replay_not_marked_as_replayed_is_reported_and_a_faithful_one_passes() {
        let mut f = fixture();
        let original = f.records[0].outcome.clone();
        f.records[0].replay = Some(ReplayCheck { outcome: original.clone(), marked_replayed: true });
        assert!(check(&f.records, &f.observed).passed());
        f.records[0].replay = Some(ReplayCheck { outcome: original, marked_replayed: false });
        assert!(!check(&f.records, &f.observed).passed());
    }

    #[test]
    fn a_store_record_for_an_operation_history_does_not_show_is_reported() {
        let mut f = fixture();
        let store = f.observed.store.as_mut().unwrap();
        store.idempotency.insert("op5".into(), vec![Uuid::now_v7()]);
        store.idempotency.insert("op3".into(), vec![Uuid::now_v7()]);
        let report = check(&f.records, &f.observed);
        assert!(failures_mention(&report, "key op5"), "{:?}", report.failures);
        assert!(failures_mention(&report, "key op3: rejected"), "{:?}", report.failures);
    }

    #[test]
    fn broken_store_invariants_and_audit_chains_are_reported() {
        let mut f = fixture();
        f.observed.audit_over_http = Err("record 7 does not link".into());
        let store = f.observed.store.as_mut().unwrap();
        store.invariants = Err("USD balances sum to 1".into());
        store.audit_chain = Err("gap at 9".into());
        let report = check(&f.records, &f.observed);
        assert_eq!(report.failure_count, 3, "{:?}", report.failures);
    }
}
