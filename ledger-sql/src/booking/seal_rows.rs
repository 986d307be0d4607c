//! What one seal pass writes, from the sealed bookings in seal order: the
//! log rows their bookings left out (postings, history, metadata, changes,
//! the audit records, each under its sealed sequence) and the restamps of
//! the state rows they wrote under placeholders and booked times (ticket
//! order is seal order, so a later booking's values win a merge). Written
//! once (a new row's sequence and creation time, a revocation, a use, a
//! key's record): set outright. Rewritable (`updated_at`): set, and the
//! row's ticket cleared, only where the row still carries this booking's
//! ticket, so a later booking's write is never undone.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger_core::identity::SessionId;
use ledger_core::{AccountId, Digest, SEQUENCE_STRIDE, Sealed, TransactionId, UserId, Writes};

use crate::bulk::{history_rows, insert, metadata_rows};
use crate::bulk_sql::{
    ACCOUNT_TRANSACTIONS_INSERT, CHANGES_INSERT, POSTINGS_INSERT, TRANSACTION_METADATA_INSERT, unnest,
};
use crate::row::{self, AUDIT_COLUMNS};
use crate::stmt::{Dialect, List, Stmt, Value, int};
use crate::write_steps::WriteSteps;

/// The stamps a pass gives one account or transaction.
#[derive(Debug, Default)]
struct Stamps {
    /// A new row's sealed sequence (`opened_seq` of an account), else 0.
    sequence: u64,
    /// A new row's sealed creation time.
    created_at: Option<DateTime<Utc>>,
    /// The last writer in this pass and the time its seal gave the row.
    writer: u64,
    updated_at: Option<DateTime<Utc>>,
}

/// Everything a pass restamps, merged by key.
#[derive(Debug, Default)]
pub(crate) struct SealRows {
    accounts: BTreeMap<AccountId, Stamps>,
    transactions: BTreeMap<TransactionId, Stamps>,
    users: BTreeMap<UserId, (u64, DateTime<Utc>)>,
    sessions: BTreeMap<SessionId, Option<DateTime<Utc>>>,
    reset_tokens: BTreeMap<Digest, Option<DateTime<Utc>>>,
    idempotency: BTreeMap<String, DateTime<Utc>>,
    /// The log rows, in seal order: postings, history, metadata, changes.
    postings: Vec<Vec<Value>>,
    history: Vec<Vec<Value>>,
    metadata: Vec<Vec<Value>>,
    changes: Vec<Vec<Value>>,
    /// Every audit record with its booking's ticket.
    audit: Vec<Vec<Value>>,
    /// The tickets sealed.
    tickets: Vec<i64>,
}

impl SealRows {
    /// Adds the next sealed booking.
    pub(crate) fn add(&mut self, ticket: u64, sealed: &Sealed) -> Result<(), sqlx::Error> {
        self.tickets.push(int(ticket));
        let record = match sealed {
            Sealed::Committed(writes) => {
                self.stamp(ticket, writes);
                self.log(writes)?;
                &writes.audit
            }
            Sealed::Refused(record) => record,
        };
        let mut values = row::audit_values(record)?;
        values.push(Value::Int(int(ticket)));
        self.audit.push(values);
        Ok(())
    }

    /// Keeps a booking's log rows, as the statements will write them.
    fn log(&mut self, w: &Writes) -> Result<(), sqlx::Error> {
        self.postings.extend(w.postings.iter().map(row::posting_values));
        self.history.extend(history_rows(&w.new_transactions));
        self.metadata.extend(metadata_rows(&w.new_transactions));
        for change in &w.changes {
            self.changes.push(row::change_values(change)?);
        }
        Ok(())
    }

    fn stamp(&mut self, ticket: u64, w: &Writes) {
        let base = w.audit.sequence * SEQUENCE_STRIDE;
        for (i, a) in w.new_accounts.iter().enumerate() {
            let stamps = self.accounts.entry(a.id).or_default();
            (stamps.sequence, stamps.created_at) = (base + i as u64, Some(a.created_at));
        }
        for a in w.new_accounts.iter().chain(&w.updated_accounts) {
            let stamps = self.accounts.entry(a.id).or_default();
            (stamps.writer, stamps.updated_at) = (ticket, Some(a.updated_at));
        }
        for t in &w.new_transactions {
            let stamps = self.transactions.entry(t.id).or_default();
            (stamps.sequence, stamps.created_at) = (t.sequence, Some(t.created_at));
        }
        for t in w.new_transactions.iter().chain(&w.updated_transactions) {
            let stamps = self.transactions.entry(t.id).or_default();
            (stamps.writer, stamps.updated_at) = (ticket, Some(t.updated_at));
        }
        for u in w.new_users.iter().chain(&w.updated_users) {
            self.users.insert(u.id, (ticket, u.updated_at));
        }
        for s in &w.updated_sessions {
            self.sessions.insert(s.id, s.revoked_at);
        }
        for t in &w.updated_reset_tokens {
            self.reset_tokens.insert(t.token_digest, t.used_at);
        }
        if let Some(r) = &w.idempotency {
            self.idempotency.insert(r.key.as_str().to_owned(), r.created_at);
        }
    }

    /// The row locks a pass takes before writing, table by table in the
    /// order bookings lock (accounts, holds, users, sessions, tokens) and
    /// by key within each: a pass waits for a booking that holds a row it
    /// restamps, never the other way round in a cycle.
    pub(crate) fn locks(&self) -> Vec<Stmt> {
        let uuids = |ids: Vec<uuid::Uuid>| List::Uuids(ids);
        let mut locks = Vec::new();
        let mut lock = |table: &str, key: &str, list: List, empty: bool| {
            if !empty {
                let mut s = Stmt::new(Dialect::Postgres, &format!("SELECT 1 AS locked FROM {table} WHERE "));
                s.any_of(key, list).push(&format!(" ORDER BY {key}")).for_update();
                locks.push(s);
            }
        };
        let accounts = uuids(self.accounts.keys().map(|id| *id.as_uuid()).collect());
        lock("accounts", "id", accounts, self.accounts.is_empty());
        let transactions = uuids(self.transactions.keys().map(|id| *id.as_uuid()).collect());
        lock("transactions", "id", transactions, self.transactions.is_empty());
        lock("users", "id", uuids(self.users.keys().map(|id| *id.as_uuid()).collect()), self.users.is_empty());
        lock("sessions", "id", uuids(self.sessions.keys().map(|id| id.0).collect()), self.sessions.is_empty());
        let tokens = List::Bytes(self.reset_tokens.keys().map(|d| d.0.to_vec()).collect());
        lock("reset_tokens", "token_digest", tokens, self.reset_tokens.is_empty());
        locks
    }

    /// The pass's writes, ending with the `pending` rows it sealed deleted
    /// (all of them, or the statement fails).
    pub(crate) fn steps(self) -> Result<WriteSteps, sqlx::Error> {
        let d = Dialect::Postgres;
        let mut w = WriteSteps::default();
        insert(&mut w, d, POSTINGS_INSERT, self.postings)?;
        insert(&mut w, d, ACCOUNT_TRANSACTIONS_INSERT, self.history)?;
        insert(&mut w, d, TRANSACTION_METADATA_INSERT, self.metadata)?;
        insert(&mut w, d, CHANGES_INSERT, self.changes)?;
        insert(&mut w, d, ("audit_log", &format!("{AUDIT_COLUMNS}, ticket")), self.audit)?;
        let rewritten = "updated_at = CASE WHEN t.ticket = v.ticket THEN v.updated_at ELSE t.updated_at END, \
             ticket = CASE WHEN t.ticket = v.ticket THEN NULL ELSE t.ticket END";
        let placed = |column: &str| {
            format!(
                "{column} = CASE WHEN v.sequence > 0 THEN v.sequence ELSE t.{column} END, \
                 created_at = COALESCE(v.created_at, t.created_at), {rewritten}"
            )
        };
        let stamped = |id: uuid::Uuid, s: &Stamps| {
            vec![
                Value::Uuid(id),
                Value::Int(int(s.sequence)),
                Value::OptTime(s.created_at),
                Value::Int(int(s.writer)),
                Value::OptTime(s.updated_at),
            ]
        };
        let columns = ["id", "sequence", "created_at", "ticket", "updated_at"];
        let accounts = self.accounts.iter().map(|(id, s)| stamped(*id.as_uuid(), s)).collect();
        restamp(&mut w, "accounts", &placed("opened_seq"), &columns, accounts)?;
        let transactions = self.transactions.iter().map(|(id, s)| stamped(*id.as_uuid(), s)).collect();
        restamp(&mut w, "transactions", &placed("sequence"), &columns, transactions)?;
        let users = self
            .users
            .iter()
            .map(|(id, (writer, at))| vec![Value::Uuid(*id.as_uuid()), Value::Int(int(*writer)), Value::Time(*at)]);
        restamp(&mut w, "users", rewritten, &["id", "ticket", "updated_at"], users.collect())?;
        let sessions = self.sessions.iter().map(|(id, at)| vec![Value::Uuid(id.0), Value::OptTime(*at)]);
        restamp(&mut w, "sessions", "revoked_at = v.revoked_at", &["id", "revoked_at"], sessions.collect())?;
        let tokens =
            self.reset_tokens.iter().map(|(digest, at)| vec![Value::Bytes(digest.0.to_vec()), Value::OptTime(*at)]);
        restamp(&mut w, "reset_tokens", "used_at = v.used_at", &["token_digest", "used_at"], tokens.collect())?;
        let records = self.idempotency.iter().map(|(key, at)| vec![Value::Text(key.clone()), Value::Time(*at)]);
        restamp(&mut w, "idempotency", "created_at = v.created_at", &["key", "created_at"], records.collect())?;
        let sealed = self.tickets.len() as u64;
        let mut delete = Stmt::new(d, "DELETE FROM pending WHERE ");
        delete.any_of("ticket", List::Ints(self.tickets));
        w.updates("pending", sealed, vec![delete]);
        Ok(w)
    }
}

/// Adds `UPDATE table AS t SET sets FROM UNNEST(...) AS v(columns) WHERE
/// t.key = v.key`, the key being the first column (nothing for no rows).
/// Its row count is not checked: a rewritable stamp may match no row.
fn restamp(
    w: &mut WriteSteps,
    table: &str,
    sets: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut s = Stmt::new(Dialect::Postgres, &format!("UPDATE {table} AS t SET {sets} FROM "));
    unnest(&mut s, rows, columns.len())?;
    s.push(&format!(" AS v({}) WHERE t.{key} = v.{key}", columns.join(", "), key = columns[0]));
    w.unchecked(vec![s]);
    Ok(())
}
