//! The PostgreSQL side of a booking call ([`BookingStaging`]): each batch's
//! rows locked (accounts, holds, users, sessions, tokens) or claimed (an
//! advisory lock per account number, code, owner, email and idempotency
//! key, which the audit head used to serialise), the unsealed writers of
//! what it read noted, and its verdict staged under a ticket taken after
//! those locks: its state rows under placeholder sequences, marked with the
//! ticket, and a `pending` row for the sealer. Log rows (postings,
//! history, metadata, changes, the audit record) are the sealer's to write.

use std::mem;

use ledger_core::{Booking, BookingStaging, Keys, Snapshot, StorageError, Unsealed, Verdict};
use sqlx::PgConnection;

use crate::booking::pending::{PendingBooking, UnsealedReads, placed, placeholder};
use crate::bulk::{insert, update};
use crate::bulk_sql::{IDEMPOTENCY_INSERT, RESET_TOKENS_INSERT, RESET_TOKENS_UPDATE, SESSIONS_INSERT, SESSIONS_UPDATE};
use crate::load;
use crate::queries;
use crate::row::{
    self, ACCOUNT_COLUMNS, ACCOUNT_INSERT_COLUMNS, ACCOUNT_UPDATE_COLUMNS, TRANSACTION_COLUMNS,
    TRANSACTION_UPDATE_COLUMNS, USER_COLUMNS, USER_UPDATE_COLUMNS,
};
use crate::session::{Cells, Session, corrupt};
use crate::stmt::{Dialect, List, Stmt, Value, int};
use crate::write_steps::WriteSteps;

/// A booking call's staging, inside its storage transaction.
pub(crate) struct PgBooking<'c> {
    conn: &'c mut PgConnection,
    /// What is staged and not yet sent.
    steps: WriteSteps,
    /// The unsealed writers of what the batch being judged loaded.
    read: UnsealedReads,
    /// Every booking and refusal staged, with its ticket, in call order.
    pub(crate) booked: Vec<(u64, PendingBooking)>,
    /// The database's own error behind a failed step (see `apply.rs`).
    pub(crate) failure: Option<sqlx::Error>,
}

impl<'c> PgBooking<'c> {
    /// A staging on an open storage transaction.
    pub(crate) fn new(conn: &'c mut PgConnection) -> PgBooking<'c> {
        PgBooking {
            conn,
            steps: WriteSteps::default(),
            read: UnsealedReads::default(),
            booked: Vec::new(),
            failure: None,
        }
    }

    /// Sends what is staged.
    pub(crate) async fn flush(&mut self) -> Result<(), sqlx::Error> {
        mem::take(&mut self.steps).run(self.conn).await
    }

    /// Keeps `error` for the caller and reports it to the loop.
    fn failed(&mut self, error: sqlx::Error) -> StorageError {
        let reported = StorageError::new(Dialect::Postgres.backend(), error.to_string());
        self.failure = Some(error);
        reported
    }

    async fn load_noting(&mut self, keys: &Keys) -> Result<Snapshot, sqlx::Error> {
        self.flush().await?;
        self.read = UnsealedReads::default();
        claim(self.conn, keys).await?;
        let mut snapshot = Snapshot::default();
        if !keys.accounts.is_empty() {
            for r in self.conn.fetch(&lock_accounts(keys)).await? {
                let account = row::account(&r)?;
                let (writer, opened_seq) = (r.int("ticket")?, r.int("opened_seq")?);
                if writer != 0 {
                    self.read.written.push((account.id, row::sequence(writer)?));
                }
                if let Some((opener, _)) = placed(opened_seq) {
                    self.read.opened.push((account.id, opener));
                }
                snapshot.accounts.insert(account.id, account);
            }
        }
        if !keys.transactions.is_empty() {
            for r in self.conn.fetch(&lock_transactions(keys)).await? {
                let transaction = row::transaction(&r)?;
                if let Some((creator, position)) = placed(r.int("placeholder")?) {
                    self.read.created.push((transaction.id, creator, position));
                }
                snapshot.transactions.insert(transaction.id, transaction);
            }
        }
        if !keys.sessions_of.is_empty() {
            // A login inserts a session after locking its user: locking the
            // users first keeps one from slipping past "revoke them all".
            self.conn.fetch(&queries::lock_users(Dialect::Postgres, &keys.sessions_of)).await?;
        }
        let rest = Keys { accounts: Default::default(), transactions: Default::default(), ..keys.clone() };
        let more = load::load_snapshot(self.conn, &rest).await?;
        Ok(Snapshot { accounts: snapshot.accounts, transactions: snapshot.transactions, ..more })
    }

    async fn stage_verdict(&mut self, verdict: &Verdict) -> Result<(), sqlx::Error> {
        let Some(unsealed) = Unsealed::of(verdict.clone()) else { return Ok(()) };
        let ticket = next_ticket(self.conn).await?;
        if let Unsealed::Booked(booking) = &unsealed {
            stage_rows(&mut self.steps, booking, ticket)?;
        }
        let pending = PendingBooking { unsealed, read: mem::take(&mut self.read) };
        let json = serde_json::to_string(&pending).map_err(|e| sqlx::Error::Encode(e.into()))?;
        insert(
            &mut self.steps,
            Dialect::Postgres,
            ("pending", "ticket, booking"),
            vec![vec![Value::Int(int(ticket)), Value::Text(json)]],
        )?;
        self.booked.push((ticket, pending));
        Ok(())
    }
}

impl BookingStaging for PgBooking<'_> {
    async fn load(&mut self, keys: &Keys) -> Result<Snapshot, StorageError> {
        let loaded = self.load_noting(keys).await;
        loaded.map_err(|error| self.failed(error))
    }

    async fn stage(&mut self, _index: usize, verdict: &Verdict) -> Result<(), StorageError> {
        let staged = self.stage_verdict(verdict).await;
        staged.map_err(|error| self.failed(error))
    }
}

/// The next ticket: taken after the batch's last lock.
async fn next_ticket(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let rows = conn.fetch(&Stmt::new(Dialect::Postgres, "SELECT nextval('tickets') AS ticket")).await?;
    let ticket = rows.first().ok_or_else(|| corrupt("nextval returned no row"))?.int("ticket")?;
    row::sequence(ticket)
}

/// Claims, in one order every booking follows, the values a batch may take
/// or count that no row lock covers: account numbers and codes, an owner's
/// account count, emails and the idempotency key. Transaction-scoped
/// advisory locks, keyed by a hash (two values that collide only wait for
/// each other).
async fn claim(conn: &mut PgConnection, keys: &Keys) -> Result<(), sqlx::Error> {
    let mut claims: Vec<String> = Vec::new();
    claims.extend(keys.account_numbers.iter().map(|n| format!("number:{}", n.as_u64())));
    claims.extend(keys.account_codes.iter().map(|c| format!("code:{}", c.as_str())));
    claims.extend(keys.owners.iter().map(|o| format!("owner:{o}")));
    claims.extend(keys.emails.iter().map(|e| format!("email:{}", e.as_str())));
    claims.extend(keys.idempotency.iter().map(|k| format!("key:{}", k.as_str())));
    if claims.is_empty() {
        return Ok(());
    }
    claims.sort();
    let mut s = Stmt::new(
        Dialect::Postgres,
        "SELECT count(pg_advisory_xact_lock(hashtextextended(c.claim, 0))) AS claimed \
         FROM (SELECT claim FROM UNNEST(",
    );
    s.bind(Value::TextArray(claims)).push("::text[]) WITH ORDINALITY AS u(claim, n) ORDER BY n) AS c");
    conn.fetch(&s).await.map(drop)
}

/// The accounts a batch names, locked in id order, with their last unsealed
/// writer's ticket (0: none) and their `opened_seq`.
fn lock_accounts(keys: &Keys) -> Stmt {
    let sql = format!("SELECT {ACCOUNT_COLUMNS}, COALESCE(ticket, 0) AS ticket, opened_seq FROM accounts WHERE ");
    let mut s = Stmt::new(Dialect::Postgres, &sql);
    s.any_of("id", List::Uuids(keys.accounts.iter().map(|id| *id.as_uuid()).collect()));
    s.push(" ORDER BY id").for_update();
    s
}

/// The holds a batch names, locked in id order: an unsealed one reads with
/// sequence 0 (its seal gives the booking's copy the real one) and its
/// placeholder.
fn lock_transactions(keys: &Keys) -> Stmt {
    let columns = TRANSACTION_COLUMNS.replacen("sequence", "GREATEST(sequence, 0) AS sequence", 1);
    let sql = format!("SELECT {columns}, sequence AS placeholder FROM transactions WHERE ");
    let mut s = Stmt::new(Dialect::Postgres, &sql);
    s.any_of("id", List::Uuids(keys.transactions.iter().map(|id| *id.as_uuid()).collect()));
    s.push(" ORDER BY id").for_update();
    s
}

/// Stages a booking's state rows: new accounts and transactions under
/// placeholder sequences, and every account, transaction and user it writes
/// marked with its ticket, so its seal restamps only rows no later booking
/// rewrote.
fn stage_rows(w: &mut WriteSteps, b: &Booking, ticket: u64) -> Result<(), sqlx::Error> {
    let d = Dialect::Postgres;
    let marked = |mut values: Vec<Value>| {
        values.push(Value::Int(int(ticket)));
        values
    };
    let opened = b.new_accounts.iter().enumerate();
    let accounts = opened.map(|(i, a)| marked(row::account_values(a, placeholder(ticket, i as u64)))).collect();
    insert(w, d, ("accounts", &format!("{ACCOUNT_INSERT_COLUMNS}, ticket")), accounts)?;
    let accounts = b.updated_accounts.iter().map(|a| marked(row::account_update_values(a))).collect();
    update(w, d, ("accounts", &format!("{ACCOUNT_UPDATE_COLUMNS}, ticket")), accounts)?;
    let created = b.new_transactions.iter();
    let transactions =
        created.map(|t| marked(row::transaction_values_at(t, placeholder(ticket, t.sequence)))).collect();
    insert(w, d, ("transactions", &format!("{TRANSACTION_COLUMNS}, ticket")), transactions)?;
    let transactions = b.updated_transactions.iter().map(|t| marked(row::transaction_update_values(t))).collect();
    update(w, d, ("transactions", &format!("{TRANSACTION_UPDATE_COLUMNS}, ticket")), transactions)?;
    let records = b.idempotency.iter().map(row::idempotency_values).collect::<Result<_, _>>()?;
    insert(w, d, IDEMPOTENCY_INSERT, records)?;
    let users = b.new_users.iter().map(|u| marked(row::user_values(u))).collect();
    insert(w, d, ("users", &format!("{USER_COLUMNS}, ticket")), users)?;
    let users = b.updated_users.iter().map(|u| marked(row::user_update_values(u))).collect();
    update(w, d, ("users", &format!("{USER_UPDATE_COLUMNS}, ticket")), users)?;
    insert(w, d, SESSIONS_INSERT, b.new_sessions.iter().map(row::session_values).collect())?;
    update(w, d, SESSIONS_UPDATE, b.updated_sessions.iter().map(row::session_update_values).collect())?;
    insert(w, d, RESET_TOKENS_INSERT, b.new_reset_tokens.iter().map(row::reset_token_values).collect())?;
    update(w, d, RESET_TOKENS_UPDATE, b.updated_reset_tokens.iter().map(row::reset_token_update_values).collect())
}
