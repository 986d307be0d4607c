//! Both databases' side of dumps: every record of a section in its
//! canonical order, and restoring dumped records with their index rows in
//! one storage transaction per chunk (the audit head moved to the last
//! restored record, so the next commit continues the chain; the schema has
//! no serial columns or sequences to advance: every sequence comes from
//! the audit sequence).

use ledger_core::dump::DumpChunk;
use ledger_core::identity::SessionId;
use ledger_core::{Account, Digest, IdempotencyKey};
use sqlx::{Database, Pool};

use crate::bulk::{history_rows, insert, metadata_rows};
use crate::bulk_sql::{
    ACCOUNT_TRANSACTIONS_INSERT, ACCOUNTS_INSERT, AUDIT_INSERT, CHANGES_INSERT, IDEMPOTENCY_INSERT, POSTINGS_INSERT,
    RESET_TOKENS_INSERT, SESSIONS_INSERT, TRANSACTION_METADATA_INSERT, TRANSACTIONS_INSERT, USERS_INSERT,
};
use crate::queries;
use crate::row::{self, IDEMPOTENCY_COLUMNS, RESET_TOKEN_COLUMNS, SESSION_COLUMNS, TRANSACTION_COLUMNS};
use crate::session::Session;
use crate::stmt::{Dialect, Stmt, Value, int};
use crate::write_steps::WriteSteps;

/// Sealed transactions with sequence above `after`, oldest first
/// (`transactions_sequence_key`).
pub(crate) fn transactions_after(d: Dialect, after: Option<u64>, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {TRANSACTION_COLUMNS} FROM transactions"));
    s.push(" WHERE sequence > ").bind(Value::Int(int(after.unwrap_or(0))));
    s.push(" ORDER BY sequence").limit(limit);
    s
}

/// Sessions with ids above `after`, in id order (primary key).
pub(crate) fn sessions(d: Dialect, after: Option<SessionId>, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {SESSION_COLUMNS} FROM sessions"));
    if let Some(after) = after {
        s.push(" WHERE id > ").bind(Value::Uuid(after.0));
    }
    s.push(" ORDER BY id").limit(limit);
    s
}

/// Reset tokens with digests above `after`, in digest order (primary key).
pub(crate) fn reset_tokens(d: Dialect, after: Option<Digest>, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {RESET_TOKEN_COLUMNS} FROM reset_tokens"));
    if let Some(after) = after {
        s.push(" WHERE token_digest > ").bind(Value::Bytes(after.0.to_vec()));
    }
    s.push(" ORDER BY token_digest").limit(limit);
    s
}

/// Text compared byte by byte: PostgreSQL's "C" collation (a database's
/// default collation may order by locale); SQLite's default is already
/// bytewise.
fn bytewise(d: Dialect) -> &'static str {
    match d {
        Dialect::Postgres => " COLLATE \"C\"",
        Dialect::Sqlite => "",
    }
}

/// Idempotency records with keys above `after`, in the keys' byte order.
pub(crate) fn idempotency_records(d: Dialect, after: Option<&IdempotencyKey>, limit: usize) -> Stmt {
    let mut s = Stmt::new(d, &format!("SELECT {IDEMPOTENCY_COLUMNS} FROM idempotency"));
    if let Some(after) = after {
        s.push(&format!(" WHERE key{} > ", bytewise(d))).bind(Value::Text(after.as_str().to_owned()));
    }
    s.push(&format!(" ORDER BY key{}", bytewise(d))).limit(limit);
    s
}

/// Every sink cursor, in the sinks' byte order.
pub(crate) fn sink_cursors(d: Dialect) -> Stmt {
    Stmt::new(d, &format!("SELECT sink, sequence FROM sink_cursors ORDER BY sink{}", bytewise(d)))
}

/// Writes dumped records with their index rows inside an open storage
/// transaction, in the order foreign keys need, and moves the audit head.
pub(crate) async fn restore_in<S: Session>(s: &mut S, chunk: &DumpChunk) -> Result<(), sqlx::Error> {
    let (d, mut w) = (S::DIALECT, WriteSteps::default());
    insert(&mut w, d, USERS_INSERT, chunk.users.iter().map(row::user_values).collect())?;
    insert(&mut w, d, SESSIONS_INSERT, chunk.sessions.iter().map(row::session_values).collect())?;
    insert(&mut w, d, RESET_TOKENS_INSERT, chunk.reset_tokens.iter().map(row::reset_token_values).collect())?;
    let opened = |(i, a): (usize, &Account)| row::account_values(a, int(chunk.accounts_position + i as u64));
    insert(&mut w, d, ACCOUNTS_INSERT, chunk.accounts.iter().enumerate().map(opened).collect())?;
    insert(&mut w, d, TRANSACTIONS_INSERT, chunk.transactions.iter().map(row::transaction_values).collect())?;
    insert(&mut w, d, ACCOUNT_TRANSACTIONS_INSERT, history_rows(&chunk.transactions))?;
    insert(&mut w, d, TRANSACTION_METADATA_INSERT, metadata_rows(&chunk.transactions))?;
    insert(&mut w, d, POSTINGS_INSERT, chunk.postings.iter().map(row::posting_values).collect())?;
    let records = chunk.idempotency.iter().map(row::idempotency_values).collect::<Result<_, _>>()?;
    insert(&mut w, d, IDEMPOTENCY_INSERT, records)?;
    let audit = chunk.audit.iter().map(row::audit_values).collect::<Result<_, _>>()?;
    insert(&mut w, d, AUDIT_INSERT, audit)?;
    if let Some(last) = chunk.audit.last() {
        w.updates("audit_head", 1, vec![queries::write_audit_head(d, last.head())]);
    }
    let changes = chunk.changes.iter().map(row::change_values).collect::<Result<_, _>>()?;
    insert(&mut w, d, CHANGES_INSERT, changes)?;
    // Upserts of distinct sinks: inserts that may update, never counted.
    w.inserts(chunk.sink_cursors.iter().map(|c| queries::advance_sink_cursor(d, &c.sink, c.sequence)).collect());
    w.run(s).await
}

/// [`restore_in`] in a storage transaction of its own, opened with `begin`.
pub(crate) async fn restore<DB>(pool: &Pool<DB>, begin: &'static str, chunk: &DumpChunk) -> Result<(), sqlx::Error>
where
    DB: Database,
    DB::Connection: Session,
{
    let mut db_tx = pool.begin_with(begin).await?;
    restore_in(&mut *db_tx, chunk).await?;
    db_tx.commit().await
}
