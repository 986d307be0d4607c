//! The sealer: one pass places every committed booking in the audit chain,
//! in ticket order, in its own storage transaction holding the audit head
//! ([`seal_pass`]). Passes run on demand: a caller whose booking committed
//! waits for a pass that began after its commit ([`Sealer::sealed`]); the
//! first waiter to get the turn runs it for everyone waiting then, so one
//! pass (one head lock, one flush) seals the bookings of every concurrent
//! caller, and a crashed instance's bookings are sealed by the next pass
//! anywhere. A booking a pass did not find was sealed by another
//! instance's pass first; its caller rebuilds the same sealed writes from
//! the chain ([`resealed`]), since sealing is a function of the booking,
//! the head before it and the seals it read.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use ledger_core::{AuditHead, AuditRecord, Sealed, seal_booked};
use sqlx::{PgConnection, PgPool};
use tokio::sync::oneshot;

use crate::booking::pending::{Earlier, PendingBooking, TicketSeal};
use crate::booking::seal_rows::SealRows;
use crate::load;
use crate::notify::Changed;
use crate::queries;
use crate::row;
use crate::session::{Cells, Session, corrupt};
use crate::stmt::{Dialect, List, Stmt, Value, int};

/// What a pass sealed, by ticket.
pub(crate) type SealedTickets = HashMap<u64, Sealed>;

/// One booking's seal, handed to its caller by whichever local pass sealed it.
type Answer = oneshot::Receiver<Sealed>;

/// The bookings of one instance's callers waiting for their seal, by
/// ticket, and the turn to run a pass.
#[derive(Debug, Default)]
pub(crate) struct Sealer {
    waiting: Mutex<HashMap<u64, oneshot::Sender<Sealed>>>,
    turn: tokio::sync::Mutex<()>,
}

/// A call's bookings registered for their seal before its `COMMIT`, so that
/// any local pass that seals them hands their seal over. Dropping it
/// withdraws what is left of the registration: the call did not commit, or
/// has its seals, or went away (a booking sealed by another instance would
/// otherwise stay registered for good).
pub(crate) struct Registered<'s> {
    sealer: &'s Sealer,
    tickets: Vec<u64>,
    answers: Vec<(u64, Answer)>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Ok(mut waiting) = self.sealer.waiting.lock() {
            for ticket in &self.tickets {
                waiting.remove(ticket);
            }
        }
    }
}

impl Sealer {
    /// Registers bookings about to commit.
    pub(crate) fn register(&self, tickets: impl IntoIterator<Item = u64>) -> Result<Registered<'_>, String> {
        let mut waiting = self.waiting.lock().map_err(|_| "the sealer's queue is poisoned")?;
        let tickets: Vec<u64> = tickets.into_iter().collect();
        let answers = tickets
            .iter()
            .map(|&ticket| {
                let (answer, answered) = oneshot::channel();
                waiting.insert(ticket, answer);
                (ticket, answered)
            })
            .collect();
        Ok(Registered { sealer: self, tickets, answers })
    }

    /// The seals of a committed call's bookings, by ticket (`None`: sealed
    /// by another instance's pass): waits for the local passes that seal
    /// them, running one itself once it has the turn if they are not all
    /// sealed by then. A pass it runs begins after its commit, so it seals
    /// every booking of the call no pass had sealed, and every booking
    /// committed before it: with `replayed`, the call replayed a key whose
    /// booking it may have found unsealed, and it runs a pass in any case,
    /// so that its caller reads that booking back sealed.
    pub(crate) async fn sealed(
        &self,
        pool: &PgPool,
        notify: Option<&str>,
        mut registered: Registered<'_>,
        replayed: bool,
    ) -> Result<Vec<(u64, Option<Sealed>)>, String> {
        let mut answers = std::mem::take(&mut registered.answers);
        let mut seals: Vec<(u64, Option<Sealed>)> = Vec::with_capacity(answers.len());
        take_answered(&mut answers, &mut seals);
        if replayed || !answers.is_empty() {
            let turn = self.turn.lock().await;
            take_answered(&mut answers, &mut seals);
            if replayed || !answers.is_empty() {
                let pass = crate::apply::with_retries("a seal pass", crate::error::postgres_retryable, || {
                    seal_pass(pool, notify)
                })
                .await
                .map_err(|e| e.to_string())?;
                self.hand_over(pass)?;
            }
            drop(turn);
            take_answered(&mut answers, &mut seals);
        }
        // Not sealed by a pass of this instance: by another's (dropping
        // `registered` withdraws them).
        seals.extend(answers.into_iter().map(|(ticket, _)| (ticket, None)));
        Ok(seals)
    }

    /// Hands each booking a pass sealed to its registered caller, if any.
    fn hand_over(&self, pass: SealedTickets) -> Result<(), String> {
        let mut waiting = self.waiting.lock().map_err(|_| "the sealer's queue is poisoned")?;
        for (ticket, sealed) in pass {
            if let Some(answer) = waiting.remove(&ticket) {
                // A caller that went away no longer needs it.
                let _ = answer.send(sealed);
            }
        }
        Ok(())
    }
}

/// Moves the answers already given from `answers` to `seals`.
fn take_answered(answers: &mut Vec<(u64, Answer)>, seals: &mut Vec<(u64, Option<Sealed>)>) {
    answers.retain_mut(|(ticket, answer)| match answer.try_recv() {
        Ok(sealed) => {
            seals.push((*ticket, Some(sealed)));
            false
        }
        Err(_) => true,
    });
}

/// Seals every committed booking, in ticket order, after the head: one
/// storage transaction that locks the head, reads `pending`, seals each
/// booking ([`seal_booked`]), writes the log rows and restamps
/// ([`SealRows`]), deletes the pending rows, moves the head and announces
/// the changes.
pub(crate) async fn seal_pass(pool: &PgPool, notify: Option<&str>) -> Result<SealedTickets, sqlx::Error> {
    let mut tx = pool.begin_with(crate::postgres::BEGIN).await?;
    // The head first: `pending` is then read by a statement that starts
    // after every earlier pass committed.
    let start = load::read_head(&mut *tx).await?;
    let pending = read_pending(&mut tx).await?;
    if pending.is_empty() {
        return Ok(SealedTickets::new());
    }
    let read: BTreeSet<u64> = pending.iter().flat_map(|(_, p)| p.read.tickets()).collect();
    let mut seals = ticket_seals(&mut tx, read.into_iter().collect()).await?;
    let (mut head, mut rows, mut changed, mut sealed) =
        (start, SealRows::default(), Changed::default(), SealedTickets::new());
    for (ticket, booking) in pending {
        let done = seal_one(head, booking, &seals)?;
        head = done.head();
        seals.insert(ticket, seal_of(&done)?);
        rows.add(ticket, &done)?;
        if let Sealed::Committed(writes) = &done {
            changed.add(writes);
        }
        sealed.insert(ticket, done);
    }
    for lock in rows.locks() {
        Session::fetch(&mut *tx, &lock).await?;
    }
    let mut steps = rows.steps()?;
    steps.updates("audit_head", 1, vec![queries::write_audit_head(Dialect::Postgres, head)]);
    if let Some(schema) = notify
        && let Some(statement) = changed.statement(schema)
    {
        steps.effect(statement);
    }
    steps.run(&mut *tx).await?;
    tx.commit().await?;
    Ok(sealed)
}

/// Seals one booking after `head`, every booking it read unsealed being in
/// `seals` (a missing one would settle nothing: refused as corruption).
fn seal_one(head: AuditHead, booking: PendingBooking, seals: &HashMap<u64, TicketSeal>) -> Result<Sealed, sqlx::Error> {
    if let Some(missing) = booking.read.tickets().find(|ticket| !seals.contains_key(ticket)) {
        return Err(corrupt(format!(
            "a booking read the writes of ticket {missing}, which is neither pending nor sealed"
        )));
    }
    Ok(seal_booked(head, booking.unsealed, &Earlier { read: &booking.read, seals }))
}

/// Where a sealed booking's audit record sits.
fn seal_of(sealed: &Sealed) -> Result<TicketSeal, sqlx::Error> {
    let record: &AuditRecord = match sealed {
        Sealed::Committed(writes) => &writes.audit,
        Sealed::Refused(record) => record,
    };
    Ok(TicketSeal { sequence: record.sequence, at: record.at })
}

/// Every pending booking, in ticket order.
async fn read_pending(conn: &mut PgConnection) -> Result<Vec<(u64, PendingBooking)>, sqlx::Error> {
    let rows = conn.fetch(&Stmt::new(Dialect::Postgres, "SELECT ticket, booking FROM pending ORDER BY ticket")).await?;
    rows.iter()
        .map(|r| {
            let ticket = row::sequence(r.int("ticket")?)?;
            let booking = serde_json::from_str(&r.text("booking")?)
                .map_err(|e| corrupt(format!("pending booking {ticket}: {e}")))?;
            Ok((ticket, booking))
        })
        .collect()
}

/// The seals of these tickets that are in the chain.
async fn ticket_seals(conn: &mut PgConnection, tickets: Vec<u64>) -> Result<HashMap<u64, TicketSeal>, sqlx::Error> {
    let mut seals = HashMap::new();
    if tickets.is_empty() {
        return Ok(seals);
    }
    let mut s = Stmt::new(Dialect::Postgres, "SELECT ticket, sequence, at FROM audit_log WHERE ");
    s.any_of("ticket", List::Ints(tickets.into_iter().map(int).collect()));
    for r in conn.fetch(&s).await? {
        let seal = TicketSeal { sequence: row::sequence(r.int("sequence")?)?, at: r.time("at")? };
        seals.insert(row::sequence(r.int("ticket")?)?, seal);
    }
    Ok(seals)
}

/// A booking another instance's pass sealed, rebuilt from the chain: its
/// audit record's predecessor gives the head it was sealed after.
pub(crate) async fn resealed(
    conn: &mut PgConnection,
    ticket: u64,
    booking: PendingBooking,
) -> Result<Sealed, sqlx::Error> {
    let mut s = Stmt::new(
        Dialect::Postgres,
        "SELECT a.sequence, COALESCE(p.sequence, 0) AS p_sequence, p.hash AS p_hash, p.at AS p_at \
         FROM audit_log a LEFT JOIN audit_log p ON p.sequence = a.sequence - 1 WHERE a.ticket = ",
    );
    s.bind(Value::Int(int(ticket)));
    let rows = conn.fetch(&s).await?;
    let r = rows.first().ok_or_else(|| corrupt(format!("ticket {ticket} is neither pending nor sealed")))?;
    let sequence = row::sequence(r.int("sequence")?)?;
    let head = if sequence == 1 {
        AuditHead::default()
    } else {
        let before = row::sequence(r.int("p_sequence")?)?;
        if before + 1 != sequence {
            return Err(corrupt(format!("the audit record before {sequence} is missing")));
        }
        AuditHead { sequence: before, hash: row::digest(r.bytes("p_hash")?)?, at: r.opt_time("p_at")? }
    };
    let seals = ticket_seals(conn, booking.read.tickets().collect()).await?;
    seal_one(head, booking, &seals)
}
