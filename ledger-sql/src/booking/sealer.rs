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
use std::sync::{Arc, Mutex};

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

/// A caller waiting for a pass: what that pass sealed, or why it failed.
type Answer = Result<Arc<SealedTickets>, String>;

/// The callers of one instance waiting for their bookings' seal, and the
/// turn to run a pass.
#[derive(Debug, Default)]
pub(crate) struct Sealer {
    waiting: Mutex<Vec<oneshot::Sender<Answer>>>,
    turn: tokio::sync::Mutex<()>,
}

impl Sealer {
    /// Waits for a pass that begins after this call (so after the caller's
    /// commit) and returns what it sealed; runs it if no one else does.
    pub(crate) async fn pass_after_now(&self, pool: &PgPool, notify: Option<&str>) -> Result<Arc<SealedTickets>, String> {
        loop {
            let (answer, mut answered) = oneshot::channel();
            self.waiting.lock().map_err(|_| "the sealer's queue is poisoned")?.push(answer);
            let turn = self.turn.lock().await;
            match answered.try_recv() {
                Ok(answer) => return answer,
                // The pass that took this waiter was dropped (its caller
                // went away mid-pass): wait for another.
                Err(oneshot::error::TryRecvError::Closed) => continue,
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let waiters = std::mem::take(&mut *self.waiting.lock().map_err(|_| "the sealer's queue is poisoned")?);
            let pass =
                crate::apply::with_retries("a seal pass", crate::error::postgres_retryable, || seal_pass(pool, notify))
                    .await;
            let answer: Answer = pass.map(Arc::new).map_err(|e| e.to_string());
            for waiter in waiters {
                let _ = waiter.send(answer.clone());
            }
            drop(turn);
            if let Ok(answer) = answered.try_recv() {
                return answer;
            }
        }
    }
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
    let (mut head, mut rows, mut changed, mut sealed) = (start, SealRows::default(), Changed::default(), SealedTickets::new());
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
        return Err(corrupt(format!("a booking read the writes of ticket {missing}, which is neither pending nor sealed")));
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
pub(crate) async fn resealed(conn: &mut PgConnection, ticket: u64, booking: PendingBooking) -> Result<Sealed, sqlx::Error> {
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
