//! The model of booking apart and sealing later (ARCHITECTURE.md,
//! "PostgreSQL without one commit lock", build order step 3): the proof
//! obligation "seal order is a serial order", checked before any SQL
//! relies on it.
//!
//! A ledger on the memory store opens accounts and plans money commands
//! (transfers, deposits, holds placed, captured and voided, reversals;
//! keys reused, so some replay and some conflict; later commands naming
//! what earlier ones created), keeping each batch (`fixture.rs`). Sessions
//! then book them the way a database without the head lock would, in
//! calls of one to three batches, one batch at a time through the booking
//! loop (`book_batches`): a batch locks the rows it names (accounts,
//! holds, the owner's row to count their accounts, and its idempotency
//! key, whose unique index serializes two claims) once no other session
//! holds them, is judged on them as committed with what its call booked
//! before, notes which rows it read unsealed, and takes its ticket; the
//! call's commit leaves its rows unsealed (booked times, positions, the
//! ticket of the last writer on each row) and keeps each batch as the
//! JSON of its `Unsealed` form. A sealer pass takes the committed bookings
//! (its snapshot), waits for rows bookings in flight hold (as PostgreSQL's
//! `UPDATE` would: here it is not scheduled while one does) and seals each
//! in ticket order with `seal_booked`, which settles the copies of rows it
//! read unsealed from their writers' seals; then it moves the sequences
//! and the times a seal moved onto the rows: unconditionally where only
//! that booking writes (a created record's sequence and `created_at`),
//! elsewhere only where the row still carries that booking's ticket.
//! Which session moves, and when the sealer runs, is the proptest's choice.
//!
//! The sealed log must equal a one-at-a-time run of the same batches in
//! seal order through the apply loop (every sealed outcome: writes,
//! sequences, times, hashes, change bodies; refusals), and the rows and
//! the head, once the sealer has caught up, what that run left.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture;

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use crate::audit::{AuditHead, AuditRecord};
use crate::error::LedgerError;
use crate::error::StorageError;
use crate::id::{AccountId, TransactionId, UserId};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};
use crate::rules::seal::{EarlierSeals, seal_booked};
use crate::store::apply::{Staging, apply_batches_now};
use crate::store::booking::{BookingStaging, book_batches_now};
use crate::store::rows::Rows;
use crate::write_batch::{BatchOutcome, Keys, Sealed, Snapshot, Unsealed, Verdict, Writes};
use fixture::{Fixture, fixture, planned};

/// Sessions booking at once.
const SESSIONS: usize = 3;

/// A lockable thing a batch names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Lock {
    Account(AccountId),
    Transaction(TransactionId),
    Key(IdempotencyKey),
    /// An owner's row, locked to count their accounts.
    Owner(UserId),
}

fn locks(keys: &Keys) -> Vec<Lock> {
    let accounts = keys.accounts.iter().map(|id| Lock::Account(*id));
    let transactions = keys.transactions.iter().map(|id| Lock::Transaction(*id));
    let owners = keys.owners.iter().map(|id| Lock::Owner(*id));
    let keys = keys.idempotency.iter().cloned().map(Lock::Key);
    accounts.chain(transactions).chain(owners).chain(keys).collect()
}

/// What a store loads for `keys` from `rows`: the named rows, and for an
/// opening the owner's count of accounts and the numbers taken (a store
/// counts and probes these under the owner's lock and a unique index).
fn snapshot(rows: &Rows, keys: &Keys) -> Snapshot {
    let mut snapshot = rows.snapshot(keys);
    for owner in &keys.owners {
        let owned = rows.accounts.values().filter(|a| a.owner == *owner).count();
        if owned > 0 {
            snapshot.owned_accounts.insert(*owner, owned);
        }
    }
    let numbers = rows.accounts.values().map(|a| a.number);
    snapshot.taken_numbers = numbers.filter(|n| keys.account_numbers.contains(n)).collect();
    snapshot
}

/// Who wrote a row: the ticket its batch took, after that batch's loads.
type Writer = u64;

/// What a booking read unsealed: each account's last writer and creator,
/// and each transaction's creator, that had not sealed.
#[derive(Default)]
struct Read {
    accounts: HashMap<AccountId, Writer>,
    created_accounts: HashMap<AccountId, Writer>,
    transactions: HashMap<TransactionId, Writer>,
}

/// Rows as bookings left them, and who last wrote (or created) each.
#[derive(Clone)]
struct Booked {
    rows: Rows,
    writers: HashMap<Lock, Writer>,
    creators: HashMap<Lock, Writer>,
}

impl Booked {
    /// Takes in a booking's rows, unsealed, written by `writer`.
    fn fold(&mut self, writer: Writer, verdict: &Verdict) {
        let Verdict::Book(booking) = verdict else { return };
        self.rows.take_in(booking);
        for account in booking.accounts() {
            self.writers.insert(Lock::Account(account.id), writer);
        }
        for transaction in booking.transactions() {
            self.writers.insert(Lock::Transaction(transaction.id), writer);
        }
        for transaction in &booking.new_transactions {
            self.creators.insert(Lock::Transaction(transaction.id), writer);
        }
        for account in &booking.new_accounts {
            self.creators.insert(Lock::Account(account.id), writer);
        }
    }
}

/// One batch of a session's booking call, as its storage transaction
/// sees the rows: committed, with what the call booked before folded in.
struct Call<'a> {
    booked: Booked,
    /// Tickets committed and not yet sealed.
    pending: &'a BTreeMap<u64, Entry>,
    /// The tickets the call's earlier batches took (unsealed too).
    own: &'a [u64],
    ticket: u64,
    /// What the batch read unsealed.
    read: Read,
}

impl Call<'_> {
    fn unsealed(&self, writer: Option<&Writer>) -> Option<Writer> {
        writer.copied().filter(|ticket| self.own.contains(ticket) || self.pending.contains_key(ticket))
    }
}

impl BookingStaging for Call<'_> {
    async fn load(&mut self, keys: &Keys) -> Result<Snapshot, StorageError> {
        let snapshot = snapshot(&self.booked.rows, keys);
        let unsealed = |map: &HashMap<Lock, Writer>, row: Lock| self.unsealed(map.get(&row));
        let accounts = || snapshot.accounts.keys().copied();
        let (writers, creators) = (&self.booked.writers, &self.booked.creators);
        let read = Read {
            accounts: accounts().filter_map(|id| Some((id, unsealed(writers, Lock::Account(id))?))).collect(),
            created_accounts: accounts().filter_map(|id| Some((id, unsealed(creators, Lock::Account(id))?))).collect(),
            transactions: (snapshot.transactions.keys())
                .filter_map(|id| Some((*id, unsealed(creators, Lock::Transaction(*id))?)))
                .collect(),
        };
        self.read = read;
        Ok(snapshot)
    }

    async fn stage(&mut self, _index: usize, verdict: &Verdict) -> Result<(), StorageError> {
        self.booked.fold(self.ticket, verdict);
        Ok(())
    }
}

/// A call a session is booking and has not yet committed: each batch with
/// its ticket, verdict and what it read unsealed; the rows it locked.
#[derive(Default)]
struct InFlight {
    booked: Vec<(usize, u64, Verdict, Read)>,
    locks: Vec<Lock>,
}

/// One batch of a committed call, waiting for its seal.
struct Entry {
    batch: usize,
    /// As the store keeps it: read back from its JSON.
    unsealed: Unsealed,
    /// The error a refusal's caller got at booking.
    refused: Option<LedgerError>,
    read: Read,
}

/// What the seals so far gave the bookings a booking read unsealed.
struct Earlier<'a> {
    read: &'a Read,
    sealed_at: &'a HashMap<Writer, DateTime<Utc>>,
    created: &'a HashMap<TransactionId, (u64, DateTime<Utc>)>,
}

impl EarlierSeals for Earlier<'_> {
    fn account_written_at(&self, account: AccountId) -> Option<DateTime<Utc>> {
        let writer = self.read.accounts.get(&account)?;
        Some(*self.sealed_at.get(writer).expect("a booking's writers seal before it"))
    }

    fn account_created_at(&self, account: AccountId) -> Option<DateTime<Utc>> {
        let creator = self.read.created_accounts.get(&account)?;
        Some(*self.sealed_at.get(creator).expect("a booking's creators seal before it"))
    }

    fn transaction_created(&self, transaction: TransactionId) -> Option<(u64, DateTime<Utc>)> {
        self.read.transactions.get(&transaction)?;
        Some(*self.created.get(&transaction).expect("a booking's creators seal before it"))
    }
}

/// The database: rows as committed (sealed or not), the batches waiting
/// for a seal, and the head.
struct Database {
    booked: Booked,
    pending: BTreeMap<u64, Entry>,
    /// The time each sealed booking's seal gave it.
    sealed_at: HashMap<Writer, DateTime<Utc>>,
    /// The sealed sequence and creation time of each created transaction.
    created: HashMap<TransactionId, (u64, DateTime<Utc>)>,
    head: AuditHead,
    next_ticket: u64,
    /// Each batch's sealed outcome, in seal order; replays, in commit order.
    sealed: Vec<(usize, BatchOutcome)>,
    replays: Vec<(usize, IdempotencyRecord)>,
}

impl Database {
    /// Books batch `index` as the next of `call` through the booking loop,
    /// on the rows as committed now with what the call booked before; it
    /// takes its ticket after its loads.
    fn book(&mut self, fixture: &Fixture, call: &mut InFlight, index: usize) {
        let mut booked = self.booked.clone();
        for (_, ticket, verdict, _) in &call.booked {
            booked.fold(*ticket, verdict);
        }
        let own: Vec<u64> = call.booked.iter().map(|(_, ticket, _, _)| *ticket).collect();
        let ticket = self.next_ticket + 1;
        let mut staging = Call { booked, pending: &self.pending, own: &own, ticket, read: Read::default() };
        let batch = std::slice::from_ref(&fixture.batches[index]);
        let verdict = book_batches_now(&mut staging, batch).expect("the model's staging never fails");
        let read = staging.read;
        self.next_ticket = ticket;
        let verdict = verdict.into_iter().next().expect("one verdict per batch");
        call.booked.push((index, ticket, verdict, read));
        call.locks.extend(locks(&fixture.batches[index].keys()));
    }

    /// Commits a call: its rows, unsealed, each carrying its ticket.
    fn commit(&mut self, call: InFlight) {
        for (batch, ticket, verdict, read) in call.booked {
            self.booked.fold(ticket, &verdict);
            let refused = match &verdict {
                Verdict::Replay(record) => {
                    self.replays.push((batch, record.clone()));
                    continue;
                }
                Verdict::Refuse { error, .. } => Some(error.clone()),
                Verdict::Book(_) => None,
            };
            let unsealed = Unsealed::of(verdict).expect("only a replay has nothing to seal");
            // Kept as a store keeps it, and read back for the sealer.
            let kept = serde_json::to_string(&unsealed).expect("an unsealed booking serializes");
            let unsealed: Unsealed = serde_json::from_str(&kept).expect("an unsealed booking reads back");
            self.pending.insert(ticket, Entry { batch, unsealed, refused, read });
        }
    }

    /// The rows sealing these tickets would restamp.
    fn restamped_rows(&self, tickets: &[u64]) -> Vec<Lock> {
        let mut rows = Vec::new();
        for entry in tickets.iter().filter_map(|t| self.pending.get(t)) {
            if let Unsealed::Booked(booking) = &entry.unsealed {
                rows.extend(booking.accounts().map(|a| Lock::Account(a.id)));
                rows.extend(booking.transactions().map(|t| Lock::Transaction(t.id)));
            }
        }
        rows
    }

    /// Seals the batches a pass took, in ticket order.
    fn seal_pass(&mut self, tickets: &[u64]) {
        for ticket in tickets {
            let entry = self.pending.remove(ticket).expect("a pass seals what it took");
            self.seal_one(*ticket, entry);
        }
    }

    fn seal_one(&mut self, writer: Writer, entry: Entry) {
        let booked_at = match &entry.unsealed {
            Unsealed::Booked(booking) => Some(booking.audit.at),
            Unsealed::Refused(_) => None,
        };
        let earlier = Earlier { read: &entry.read, sealed_at: &self.sealed_at, created: &self.created };
        let sealed = seal_booked(self.head, entry.unsealed, &earlier);
        self.head = sealed.head();
        self.sealed_at.insert(writer, self.head.at.expect("a sealed record has a time"));
        let outcome = match sealed {
            Sealed::Committed(writes) => {
                for t in &writes.new_transactions {
                    self.created.insert(t.id, (t.sequence, t.created_at));
                }
                self.restamp(writer, &writes, booked_at != Some(writes.audit.at));
                BatchOutcome::Committed(writes)
            }
            Sealed::Refused(_) => BatchOutcome::Rejected(entry.refused.expect("a refusal keeps its error")),
        };
        self.sealed.push((entry.batch, outcome));
    }

    /// Moves the sealed sequences onto the rows and, if the seal `moved`
    /// the booking's time, its times too (a sealer rewrites no time that
    /// did not move): where only this booking writes, always; elsewhere
    /// where the row is still its own.
    fn restamp(&mut self, writer: Writer, writes: &Writes, moved: bool) {
        let created: Vec<TransactionId> = writes.new_transactions.iter().map(|t| t.id).collect();
        let Booked { rows, writers, .. } = &mut self.booked;
        for sealed in writes.transactions() {
            let own = writers.get(&Lock::Transaction(sealed.id)) == Some(&writer);
            let row = rows.transactions.get_mut(&sealed.id).expect("a booked transaction is stored");
            if created.contains(&sealed.id) {
                row.sequence = sealed.sequence;
            }
            if !moved {
                continue;
            }
            if created.contains(&sealed.id) {
                row.created_at = sealed.created_at;
            }
            if own {
                row.updated_at = sealed.updated_at;
            }
        }
        if !moved {
            return;
        }
        let opened: Vec<AccountId> = writes.new_accounts.iter().map(|a| a.id).collect();
        for sealed in writes.accounts() {
            let row = rows.accounts.get_mut(&sealed.id).expect("a booked account is stored");
            if opened.contains(&sealed.id) {
                row.created_at = sealed.created_at;
            }
            if writers.get(&Lock::Account(sealed.id)) == Some(&writer) {
                row.updated_at = sealed.updated_at;
            }
        }
        if let Some(record) = &writes.idempotency {
            let row = rows.idempotency.get_mut(&record.key).expect("a booked key is stored");
            row.created_at = record.created_at;
        }
    }
}

/// The most batches one session books in one call.
const CALL_BATCHES_MAX: usize = 3;

/// Books and seals `batches` on `SESSIONS` sessions in the order `choices`
/// picks (which session moves: books the next batch of its call, up to
/// `CALL_BATCHES_MAX`, or commits it; or the sealer), then lets everything
/// finish. Returns the database.
fn interleave(fixture: &Fixture, choices: &[u8]) -> Database {
    let mut db = Database {
        booked: Booked { rows: fixture.rows.clone(), writers: HashMap::new(), creators: HashMap::new() },
        pending: BTreeMap::new(),
        sealed_at: HashMap::new(),
        created: HashMap::new(),
        head: fixture.head,
        next_ticket: 0,
        sealed: Vec::new(),
        replays: Vec::new(),
    };
    let mut queues: Vec<VecDeque<usize>> = vec![VecDeque::new(); SESSIONS];
    for i in 0..fixture.batches.len() {
        queues[i % SESSIONS].push_back(i);
    }
    let mut calls: Vec<InFlight> = (0..SESSIONS).map(|_| InFlight::default()).collect();
    let mut committed = vec![false; fixture.batches.len()];
    // A batch may book once the rows it names are free (or its own call's)
    // and every record it names that another batch creates is committed.
    let may_book = |batch: usize, session: usize, calls: &[InFlight], committed: &[bool]| {
        let held = calls.iter().enumerate().filter(|(s, _)| *s != session).flat_map(|(_, c)| &c.locks);
        let held: Vec<&Lock> = held.collect();
        let locks = locks(&fixture.batches[batch].keys());
        // An opening names the account it creates.
        let named = locks.iter().filter_map(|l| fixture.creators.get(l)).filter(|c| **c != batch);
        locks.iter().all(|l| !held.contains(&l)) && named.into_iter().all(|creator| committed[*creator])
    };
    // The tickets the sealer's pass took (its snapshot of `pending`), while
    // it waits for rows bookings in flight hold.
    let mut sealer: Option<Vec<u64>> = None;
    let mut choices = choices.iter().copied();
    loop {
        let mut moves: Vec<Move> = Vec::new();
        for session in 0..SESSIONS {
            if !calls[session].booked.is_empty() {
                moves.push(Move::Commit(session));
            }
            if calls[session].booked.len() < CALL_BATCHES_MAX
                && let Some(&next) = queues[session].front()
                && may_book(next, session, &calls, &committed)
            {
                moves.push(Move::Book(session));
            }
        }
        let held: Vec<&Lock> = calls.iter().flat_map(|c| &c.locks).collect();
        match &sealer {
            None if !db.pending.is_empty() => moves.push(Move::TakePending),
            Some(taken) if db.restamped_rows(taken).iter().all(|r| !held.contains(&r)) => moves.push(Move::Seal),
            _ => {}
        }
        let Some(chosen) = moves.get(usize::from(choices.next().unwrap_or(0)) % moves.len().max(1)) else {
            break;
        };
        match *chosen {
            Move::Book(session) => {
                let next = queues[session].pop_front().expect("a session books only what it has");
                db.book(fixture, &mut calls[session], next);
            }
            Move::Commit(session) => {
                let call = std::mem::take(&mut calls[session]);
                call.booked.iter().for_each(|(batch, ..)| committed[*batch] = true);
                db.commit(call);
            }
            Move::TakePending => sealer = Some(db.pending.keys().copied().collect()),
            Move::Seal => db.seal_pass(&sealer.take().expect("a pass seals what it took")),
        }
    }
    assert!(queues.iter().all(VecDeque::is_empty) && db.pending.is_empty(), "every batch was booked and sealed");
    db
}

#[derive(Debug, Clone, Copy)]
enum Move {
    /// A session locks the rows of the next batch of its call and judges it
    /// (the booking loop), taking the batch's ticket.
    Book(usize),
    /// A session commits its call.
    Commit(usize),
    /// The sealer takes the head and reads the committed bookings.
    TakePending,
    /// The sealer, its rows free, seals what it took and commits.
    Seal,
}

/// The apply loop over rows in memory: the one-at-a-time run.
struct Serial {
    rows: Rows,
    head: AuditHead,
}

impl Staging for Serial {
    async fn audit_head(&mut self) -> Result<AuditHead, StorageError> {
        Ok(self.head)
    }

    async fn load(&mut self, keys: &Keys) -> Result<Snapshot, StorageError> {
        Ok(snapshot(&self.rows, keys))
    }

    async fn stage(&mut self, writes: &Writes) -> Result<(), StorageError> {
        self.rows.fold(writes);
        self.head = writes.audit.head();
        Ok(())
    }

    async fn stage_rejection(&mut self, audit: &AuditRecord) -> Result<(), StorageError> {
        self.head = audit.head();
        Ok(())
    }
}

fn check(fixture: &Fixture, choices: &[u8]) {
    let db = interleave(fixture, choices);
    let mut serial = Serial { rows: fixture.rows.clone(), head: fixture.head };
    for (batch, sealed) in &db.sealed {
        let outcome = apply_batches_now(&mut serial, std::slice::from_ref(&fixture.batches[*batch])).unwrap();
        assert_eq!(outcome, vec![sealed.clone()], "batch {batch}, sealed in this order");
    }
    for (batch, record) in &db.replays {
        let outcome = apply_batches_now(&mut serial, std::slice::from_ref(&fixture.batches[*batch])).unwrap();
        let [BatchOutcome::Replayed(serial_record)] = outcome.as_slice() else {
            panic!("batch {batch} replayed when booked, not when run alone: {outcome:?}");
        };
        // A replay returns the record as it found it: before its seal,
        // with the booked time. The caller reads the transactions by id.
        assert_eq!(
            (&record.key, record.fingerprint, &record.transaction_ids),
            (&serial_record.key, serial_record.fingerprint, &serial_record.transaction_ids)
        );
    }
    assert_eq!(db.head, serial.head, "the chain ends where the one-at-a-time run's does");
    assert_eq!(db.booked.rows.accounts, serial.rows.accounts, "accounts, once sealed");
    assert_eq!(db.booked.rows.transactions, serial.rows.transactions, "transactions, once sealed");
    assert_eq!(db.booked.rows.idempotency, serial.rows.idempotency, "idempotency records, once sealed");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn bookings_sealed_in_ticket_order_equal_a_one_at_a_time_run(
        commands in proptest::collection::vec(planned(), 4..24),
        choices in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let fixture = runtime.block_on(fixture(&commands));
        check(&fixture, &choices);
    }
}
