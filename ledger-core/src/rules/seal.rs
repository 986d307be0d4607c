//! Sealing: placing a decided batch in the audit chain. [`seal`] gives a
//! booking its audit sequence (one after the head), its link in the hash
//! chain, the sequences of its transactions, postings and changes
//! (`audit sequence * SEQUENCE_STRIDE + position`) and its commit time (never
//! before the head's, `rules::restamp`), so everything a commit writes
//! follows the chain's order.
//!
//! Deciding and sealing are separate steps because they need different
//! things: `decide` needs the rows a batch names, sealing needs only the
//! head. Every store seals in the storage transaction that decided, holding
//! the head from the start (the apply loop); the split is what lets a store
//! book without the head and seal apart (ARCHITECTURE.md, "PostgreSQL
//! without one commit lock").

use chrono::{DateTime, Utc};

use crate::account::Account;
use crate::audit::{AuditEntry, AuditHead, AuditRecord};
use crate::id::{AccountId, IdSet, TransactionId};
use crate::rules::restamp::restamp;
use crate::transaction::Transaction;
use crate::write_batch::{Booking, Decision, SEQUENCE_STRIDE, Sealed, Unsealed, Verdict, Writes};

/// When a batch booked at `booked` commits after `head`: the booked time,
/// or the last audit record's if that is later (another instance's clock
/// ahead of ours, or a batch planned before one that committed first). So
/// audit records, transactions and postings are in time order exactly as
/// in commit order, which is what makes a balance "as of" an instant one
/// seek.
pub(crate) fn commit_time(booked: DateTime<Utc>, head: AuditHead) -> DateTime<Utc> {
    head.at.map_or(booked, |last| booked.max(last))
}

/// Places a verdict after `head`: the decision a store applies, at its
/// [`commit_time`].
pub(crate) fn seal(head: AuditHead, verdict: Verdict) -> Decision {
    match verdict {
        Verdict::Book(booking) => Decision::Commit(Box::new(seal_booking(head, *booking))),
        Verdict::Replay(record) => Decision::Replay(record),
        Verdict::Refuse { error, audit } => Decision::Reject { error, audit: Box::new(seal_refusal(head, *audit)) },
    }
}

/// What a store that books apart knows, when it seals a booking, of the
/// seals of the bookings whose rows that booking read before they were
/// sealed (it records, with each booking, the ticket of each row's last
/// writer and creator as it read them).
pub trait EarlierSeals {
    /// The time the seal of this account's last writer gave it, if the
    /// booking read the account before that seal.
    fn account_written_at(&self, account: AccountId) -> Option<DateTime<Utc>>;

    /// The time the seal of the booking that opened this account gave it,
    /// if the booking read the account before that seal.
    fn account_created_at(&self, account: AccountId) -> Option<DateTime<Utc>>;

    /// This transaction's sealed sequence and creation time, if the booking
    /// read it before its creator's seal.
    fn transaction_created(&self, transaction: TransactionId) -> Option<(u64, DateTime<Utc>)>;
}

/// Places a batch that was booked apart (judged on row locks alone, its
/// rows committed unsealed, kept as [`Unsealed`]; ARCHITECTURE.md,
/// "PostgreSQL without one commit lock") after `head`, as the apply loop places
/// a verdict, a booking once its copies of rows other
/// bookings wrote and had not sealed when it read them are settled to what
/// those seals gave them ([`EarlierSeals`]): an account it lists in its
/// change feed without writing it carries its writer's sealed time, any
/// account it did not open its opener's sealed creation time, and a hold
/// or transaction it changes, its creator's sealed sequence and creation
/// time. Those bookings always seal first: each committed before
/// this one locked the row, so it took an earlier ticket. So the sealed
/// decision is the one a one-at-a-time run in seal order makes.
pub fn seal_booked(head: AuditHead, unsealed: Unsealed, earlier: &impl EarlierSeals) -> Sealed {
    match unsealed {
        Unsealed::Booked(mut booking) => {
            settle_reads(&mut booking, earlier);
            Sealed::Committed(Box::new(seal_booking(head, *booking)))
        }
        Unsealed::Refused(audit) => Sealed::Refused(Box::new(seal_refusal(head, *audit))),
    }
}

/// A refusal's audit entry, at its commit time, linked after `head`.
fn seal_refusal(head: AuditHead, mut audit: AuditEntry) -> AuditRecord {
    audit.at = commit_time(audit.at, head);
    audit.seal(head)
}

/// Settles a booking's copies of what it read unsealed ([`seal_booked`]).
fn settle_reads(booking: &mut Booking, earlier: &impl EarlierSeals) {
    let written: IdSet<AccountId> = booking.accounts().map(|a| a.id).collect();
    let opened: IdSet<AccountId> = booking.new_accounts.iter().map(|a| a.id).collect();
    let created: IdSet<TransactionId> = booking.new_transactions.iter().map(|t| t.id).collect();
    let settle_account = |account: &mut Account| {
        if opened.contains(&account.id) {
            return;
        }
        if let Some(sealed) = earlier.account_created_at(account.id) {
            account.created_at = sealed;
        }
        if !written.contains(&account.id)
            && let Some(sealed) = earlier.account_written_at(account.id)
        {
            account.updated_at = sealed;
        }
    };
    booking.updated_accounts.iter_mut().for_each(settle_account);
    let settle_transaction = |t: &mut Transaction| {
        if !created.contains(&t.id)
            && let Some((sequence, created_at)) = earlier.transaction_created(t.id)
        {
            (t.sequence, t.created_at) = (sequence, created_at);
        }
    };
    booking.updated_transactions.iter_mut().for_each(settle_transaction);
    for change in &mut booking.changes {
        change.transaction.iter_mut().for_each(settle_transaction);
        change.account.iter_mut().chain(&mut change.balances).for_each(settle_account);
    }
}

/// A booking's writes, at their commit time, numbered and linked after `head`.
fn seal_booking(head: AuditHead, mut booking: Booking) -> Writes {
    let at = commit_time(booking.audit.at, head);
    if at != booking.audit.at {
        restamp(&mut booking, at);
    }
    let mut writes = booking.map_audit(|entry| entry.seal(head));
    let base = writes.audit.sequence * SEQUENCE_STRIDE;
    for t in &mut writes.new_transactions {
        t.sequence = place(base, t.sequence);
    }
    for p in &mut writes.postings {
        p.sequence = place(base, p.sequence);
    }
    for c in &mut writes.changes {
        c.sequence = place(base, c.sequence);
        // The feed carries each transaction as the commit left it: one this
        // commit created still carries its position, which names it in
        // `new_transactions` (an older one's sequence names no entry there
        // with its id).
        if let Some(t) = &mut c.transaction
            && let Some(created) = usize::try_from(t.sequence).ok().and_then(|i| writes.new_transactions.get(i))
            && created.id == t.id
        {
            t.sequence = created.sequence;
        }
    }
    writes
}

/// The sequence of the record at `position` in the commit starting at `base`.
fn place(base: u64, position: u64) -> u64 {
    assert!(position < SEQUENCE_STRIDE, "a commit holds more records than its stride");
    base + position
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use rust_decimal::Decimal;

    use super::*;
    use crate::account::Account;
    use crate::audit::{AuditDraft, AuditEntry, AuditOutcome, AuditRecord, verify_chain};
    use crate::change::{Change, ChangeKind};
    use crate::error::LedgerError;
    use crate::id::{AccountId, TransactionId};
    use crate::money::Currency;
    use crate::posting::Posting;
    use crate::transaction::{Transaction, TransactionKind, TransactionStatus};

    fn time(second: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, second).single().unwrap_or_default()
    }

    fn entry(at: DateTime<Utc>, outcome: AuditOutcome) -> AuditEntry {
        AuditEntry { draft: AuditDraft::new("system", "transfer", "account:1"), outcome, at }
    }

    /// The head after one sealed record at `at`, and that record.
    fn first_record(at: DateTime<Utc>) -> (AuditHead, AuditRecord) {
        let record = entry(at, AuditOutcome::Accepted).seal(AuditHead::default());
        (record.head(), record)
    }

    fn transaction(sequence: u64, at: DateTime<Utc>) -> Transaction {
        Transaction {
            id: TransactionId::new(),
            sequence,
            kind: TransactionKind::Transfer,
            status: TransactionStatus::Posted,
            amount: Decimal::ONE,
            currency: Currency::Usd,
            from_account: None,
            to_account: None,
            description: None,
            captured_amount: None,
            expires_at: None,
            created_at: at,
            updated_at: at,
            legs: Vec::new(),
            metadata: Default::default(),
            reverses: None,
            reversed_amount: Decimal::ZERO,
        }
    }

    fn posting(position: u64, transaction: &Transaction) -> Posting {
        Posting {
            sequence: position,
            transaction_id: transaction.id,
            account_id: AccountId::new(),
            amount: Decimal::ONE,
            currency: Currency::Usd,
            balance_after: Decimal::ONE,
            at: transaction.created_at,
        }
    }

    fn change(position: u64, transaction: &Transaction) -> Change {
        Change {
            sequence: position,
            kind: ChangeKind::TransactionPosted,
            at: transaction.updated_at,
            transaction: Some(transaction.clone()),
            account: None,
            balances: Vec::new(),
        }
    }

    fn booking(at: DateTime<Utc>) -> Booking {
        Booking {
            new_accounts: Vec::new(),
            updated_accounts: Vec::new(),
            new_transactions: Vec::new(),
            updated_transactions: Vec::new(),
            postings: Vec::new(),
            changes: Vec::new(),
            idempotency: None,
            audit: entry(at, AuditOutcome::Accepted),
            new_users: Vec::new(),
            updated_users: Vec::new(),
            new_sessions: Vec::new(),
            updated_sessions: Vec::new(),
            new_reset_tokens: Vec::new(),
            updated_reset_tokens: Vec::new(),
        }
    }

    #[test]
    fn a_booking_is_numbered_after_the_head_and_linked_to_it() {
        let (head, first) = first_record(time(0));
        let at = time(1);
        let created = [transaction(0, at), transaction(1, at)];
        // Holds earlier commits created, voided by this one, keep their
        // sequences, even one as low as a position (written when the stride
        // was 1024).
        let earlier = transaction(SEQUENCE_STRIDE + 3, time(0));
        let legacy = transaction(1, time(0));
        let mut booking = booking(at);
        booking.new_transactions = created.to_vec();
        booking.updated_transactions = vec![earlier.clone(), legacy.clone()];
        booking.postings = vec![posting(0, &created[0]), posting(1, &created[0]), posting(2, &created[1])];
        booking.changes = vec![change(0, &created[0]), change(1, &earlier), change(2, &created[1]), change(3, &legacy)];

        let Decision::Commit(writes) = seal(head, Verdict::Book(Box::new(booking))) else {
            panic!("a booking seals into a commit");
        };
        let base = 2 * SEQUENCE_STRIDE;
        assert_eq!((writes.audit.sequence, writes.audit.prev_hash, writes.audit.at), (2, head.hash, at));
        assert_eq!(verify_chain(&[first, writes.audit.clone()], Some(writes.audit.head())), Ok(writes.audit.head()));
        let sequences = |s: &mut dyn Iterator<Item = u64>| s.collect::<Vec<_>>();
        assert_eq!(sequences(&mut writes.new_transactions.iter().map(|t| t.sequence)), [base, base + 1]);
        assert_eq!(sequences(&mut writes.postings.iter().map(|p| p.sequence)), [base, base + 1, base + 2]);
        assert_eq!(sequences(&mut writes.changes.iter().map(|c| c.sequence)), [base, base + 1, base + 2, base + 3]);
        let fed = sequences(&mut writes.changes.iter().filter_map(|c| c.transaction.as_ref()).map(|t| t.sequence));
        assert_eq!(fed, [base, SEQUENCE_STRIDE + 3, base + 1, 1], "the feed carries each transaction as sealed");
        assert_eq!(writes.updated_transactions, [earlier, legacy]);
    }

    #[test]
    fn a_booking_booked_before_the_head_commits_at_the_heads_time_moving_only_what_it_stamped() {
        let (booked, later) = (time(1), time(4));
        let (head, _) = first_record(later);
        // Every time below equals the booked instant (a coarse clock), but
        // only those the booking stamped may move.
        let opened = Account::settlement(Currency::Eur, booked);
        let changed = Account::settlement(Currency::Usd, booked);
        let untouched = Account::settlement(Currency::Gbp, booked);
        let created = transaction(0, booked);
        let voided = transaction(SEQUENCE_STRIDE + 3, booked);
        let mut booking = booking(booked);
        booking.new_accounts = vec![opened.clone()];
        booking.updated_accounts = vec![changed.clone()];
        booking.new_transactions = vec![created.clone()];
        booking.updated_transactions = vec![voided.clone()];
        booking.postings = vec![posting(0, &created)];
        booking.changes =
            vec![Change { balances: vec![changed, untouched.clone()], ..change(0, &created) }, change(1, &voided)];

        let Decision::Commit(writes) = seal(head, Verdict::Book(Box::new(booking))) else {
            panic!("a booking seals into a commit");
        };
        assert_eq!(writes.audit.at, later);
        let opened = &writes.new_accounts[0];
        assert_eq!((opened.created_at, opened.updated_at), (later, later), "an account it opened");
        let changed = &writes.updated_accounts[0];
        assert_eq!((changed.created_at, changed.updated_at), (booked, later), "an account it changed");
        let created = &writes.new_transactions[0];
        assert_eq!((created.created_at, created.updated_at), (later, later), "a transaction it created");
        let voided = &writes.updated_transactions[0];
        assert_eq!((voided.created_at, voided.updated_at), (booked, later), "a transaction it changed");
        assert_eq!(writes.postings[0].at, later);
        let fed = &writes.changes[0];
        assert_eq!(fed.at, later);
        assert_eq!(fed.transaction.as_ref().map(|t| (t.created_at, t.updated_at)), Some((later, later)));
        let balances: Vec<_> = fed.balances.iter().map(|a| (a.id, a.created_at, a.updated_at)).collect();
        assert_eq!(balances, [(writes.updated_accounts[0].id, booked, later), (untouched.id, booked, booked)]);
        let fed_void = writes.changes[1].transaction.as_ref().map(|t| (t.created_at, t.updated_at));
        assert_eq!(fed_void, Some((booked, later)));
    }

    #[test]
    fn a_booking_at_or_after_the_heads_time_keeps_its_times() {
        let (head, _) = first_record(time(4));
        for booked in [time(4), time(6)] {
            let created = transaction(0, booked);
            let mut booking = booking(booked);
            booking.new_transactions = vec![created.clone()];
            booking.postings = vec![posting(0, &created)];
            let Decision::Commit(writes) = seal(head, Verdict::Book(Box::new(booking))) else {
                panic!("a booking seals into a commit");
            };
            let times = (writes.audit.at, writes.new_transactions[0].created_at, writes.postings[0].at);
            assert_eq!(times, (booked, booked, booked));
        }
    }

    #[test]
    fn a_refusal_is_numbered_linked_and_never_timed_before_the_head() {
        let (head, first) = first_record(time(2));
        let error = LedgerError::SameAccount;
        let refusal =
            Verdict::Refuse { error: error.clone(), audit: Box::new(entry(time(0), AuditOutcome::rejected(&error))) };
        let Decision::Reject { error: refused, audit } = seal(head, refusal) else {
            panic!("a refusal seals into a rejection");
        };
        assert_eq!((refused, audit.sequence, audit.prev_hash, audit.at), (error, 2, head.hash, time(2)));
        assert_eq!(verify_chain(&[first, *audit], None).map(|h| h.sequence), Ok(2));
    }

    #[test]
    fn a_batch_commits_at_its_booked_time_unless_the_head_is_later() {
        let (head, _) = first_record(time(5));
        assert_eq!(commit_time(time(3), head), time(5), "a clock behind the chain's");
        assert_eq!(commit_time(time(7), head), time(7));
        assert_eq!(commit_time(time(3), AuditHead::default()), time(3), "an empty chain");
    }
}
