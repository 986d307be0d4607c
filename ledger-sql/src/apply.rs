//! [`Store::apply`](ledger_core::Store::apply) for both databases: one storage
//! transaction per call; per batch, load the snapshot, let
//! [`decide`] judge it, write what it says (batch by batch here, or for the
//! whole call at once in [`group`]).
//!
//! The backends differ only in how the storage transaction starts (its
//! `BEGIN` statement), which failures are worth running the whole call
//! again, and (SQLite) an in-process gate; see [`transact`].

use std::time::Duration;

use ledger_core::{
    AuditHead, BatchOutcome, Decision, Keys, Snapshot, StorageErrorKind, UserId, WriteBatch, Writes, decide,
};
use sqlx::{Database, Pool};

use crate::group;
use crate::notify::Changed;
use crate::queries::{
    self, ACCOUNTS_INSERT, AUDIT_INSERT, IDEMPOTENCY_INSERT, POSTINGS_INSERT, RESET_TOKENS_INSERT, SESSIONS_INSERT,
    TRANSACTIONS_INSERT, USERS_INSERT,
};
use crate::row;
use crate::session::{Cells, Session, corrupt};
use crate::stmt::{Dialect, Stmt, Value};

/// How many times a call is run in all when it keeps failing retryably.
pub(crate) const ATTEMPTS_MAX: u32 = 8;

/// The scale of retry pauses: the n-th retry waits about `BASE * 2^n` ms.
const BACKOFF_BASE_MILLIS: u64 = 2;

/// Runs `batches` in one storage transaction opened with `begin`, running the
/// whole call again (up to [`ATTEMPTS_MAX`] times in all, with jittered
/// exponential backoff) while `retryable` says the failure left nothing
/// behind and is worth another try.
pub(crate) async fn transact<DB>(
    pool: &Pool<DB>,
    begin: &'static str,
    batches: &[WriteBatch],
    retryable: fn(&sqlx::Error) -> bool,
    notify: Option<&str>,
) -> Result<Vec<BatchOutcome>, CallFailed>
where
    DB: Database,
    DB::Connection: Session,
{
    let retryable = move |failed: &CallFailed| retryable(&failed.error);
    with_retries("a ledger commit", retryable, || transact_once(pool, begin, batches, notify)).await
}

/// A failed call and whether it failed at `COMMIT`, the one point where a
/// failure leaves its outcome unknown (before it, the database rolls the
/// transaction back; see [`CallFailed::kind`]).
#[derive(Debug)]
pub(crate) struct CallFailed {
    pub(crate) error: sqlx::Error,
    pub(crate) at_commit: bool,
}

impl CallFailed {
    fn before_commit(error: sqlx::Error) -> CallFailed {
        CallFailed { error, at_commit: false }
    }

    /// What the failure says about the call's writes: unknown at `COMMIT`
    /// (unless the database said it rolled back: a serialization failure);
    /// before it, refused when the database refused the data (SQLSTATE
    /// classes 22 and 23 on PostgreSQL; constraint, size and type errors on
    /// SQLite), else unavailable.
    pub(crate) fn kind(&self, refused: fn(&sqlx::Error) -> bool) -> StorageErrorKind {
        if self.at_commit && !crate::error::rolled_back(&self.error) {
            StorageErrorKind::Unknown
        } else if refused(&self.error) {
            StorageErrorKind::Refused
        } else {
            StorageErrorKind::Unavailable
        }
    }
}

/// Runs `run` until it succeeds, fails for good, or has run [`ATTEMPTS_MAX`]
/// times, pausing with jittered exponential backoff between runs. Each run
/// must leave nothing behind when it fails retryably (a rolled-back
/// transaction, or one statement that did not apply).
pub(crate) async fn with_retries<T, E, F, Fut>(what: &str, retryable: impl Fn(&E) -> bool, mut run: F) -> Result<T, E>
where
    E: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let mut attempt = 1;
    loop {
        match run().await {
            Err(error) if attempt < ATTEMPTS_MAX && retryable(&error) => {
                tracing::debug!(?error, attempt, "retrying {what}");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

async fn transact_once<DB>(
    pool: &Pool<DB>,
    begin: &'static str,
    batches: &[WriteBatch],
    notify: Option<&str>,
) -> Result<Vec<BatchOutcome>, CallFailed>
where
    DB: Database,
    DB::Connection: Session,
{
    // Dropping `db_tx` on an early return (or if the caller drops this
    // future) rolls back before the connection is reused.
    let mut db_tx = pool.begin_with(begin).await.map_err(CallFailed::before_commit)?;
    let outcomes = apply_in(&mut *db_tx, batches, notify).await.map_err(CallFailed::before_commit)?;
    db_tx.commit().await.map_err(|error| CallFailed { error, at_commit: true })?;
    Ok(outcomes)
}

/// A pause of `BASE * 2^attempt`, scaled by a random factor in [0.5, 1.5) so
/// that colliding committers do not collide again.
fn backoff(attempt: u32) -> Duration {
    let nominal = BACKOFF_BASE_MILLIS.saturating_mul(1 << attempt.min(10));
    let jitter = rand::random_range(0.5..1.5);
    Duration::from_secs_f64(nominal as f64 * jitter / 1000.0)
}

/// What applying a call's batches produced, before the head is written back.
#[derive(Debug)]
pub(crate) struct Applied {
    /// One outcome per batch, in order.
    pub(crate) outcomes: Vec<BatchOutcome>,
    /// The audit head after the last batch.
    pub(crate) head: AuditHead,
    /// The ids the committed batches changed.
    pub(crate) changed: Changed,
}

/// Applies the batches inside an open storage transaction: grouped (rows
/// loaded once, writes in bulk, see [`group`]) when every batch allows it,
/// else batch by batch. With `notify` (PostgreSQL: the schema's name), the
/// ids the committed batches changed are announced with `pg_notify`, which
/// PostgreSQL delivers only if and when the transaction commits.
pub(crate) async fn apply_in<S: Session>(
    s: &mut S,
    batches: &[WriteBatch],
    notify: Option<&str>,
) -> Result<Vec<BatchOutcome>, sqlx::Error> {
    // First statement of every write: the head row's lock orders committers.
    let start = read_head(s).await?;
    let applied = match group::apply(s, batches, start).await? {
        Some(applied) => applied,
        None => apply_each(s, batches, start).await?,
    };
    if applied.head != start {
        s.execute(&queries::write_audit_head(S::DIALECT, applied.head)).await?;
    }
    if let Some(schema) = notify.filter(|_| S::DIALECT == Dialect::Postgres) {
        if let Some(statement) = applied.changed.statement(schema) {
            s.fetch(&statement).await?;
        }
    }
    Ok(applied.outcomes)
}

/// The reference path: per batch, load its snapshot, decide, write. Every
/// key kind is supported; each batch costs several round trips.
pub(crate) async fn apply_each<S: Session>(
    s: &mut S,
    batches: &[WriteBatch],
    start: AuditHead,
) -> Result<Applied, sqlx::Error> {
    let mut head = start;
    let mut outcomes = Vec::with_capacity(batches.len());
    let mut changed = Changed::default();
    for batch in batches {
        let snapshot = load_snapshot(s, &batch.keys(), head).await?;
        let decision = decide(batch, snapshot);
        match &decision {
            Decision::Commit(writes) => {
                write(s, writes).await?;
                changed.add(writes);
                head = writes.audit.head();
            }
            Decision::Reject { audit, .. } => {
                run_all(s, insert_audit(S::DIALECT, audit)?).await?;
                head = audit.head();
            }
            Decision::Replay(_) => {}
        }
        outcomes.push(BatchOutcome::from(decision));
    }
    Ok(Applied { outcomes, head, changed })
}

async fn read_head<S: Session>(s: &mut S) -> Result<AuditHead, sqlx::Error> {
    let rows = s.fetch(&queries::lock_audit_head(S::DIALECT)).await?;
    let row = rows.first().ok_or_else(|| corrupt("the audit_head row is missing"))?;
    Ok(AuditHead { sequence: row::sequence(row.int("sequence")?)?, hash: row::digest(row.bytes("hash")?)? })
}

/// Reads (and on PostgreSQL locks) the state a batch's keys name.
async fn load_snapshot<S: Session>(s: &mut S, keys: &Keys, audit_head: AuditHead) -> Result<Snapshot, sqlx::Error> {
    let d = S::DIALECT;
    let mut snapshot = Snapshot { audit_head, ..Snapshot::default() };
    if !keys.accounts.is_empty() {
        for r in s.fetch(&queries::lock_accounts(d, &keys.accounts)).await? {
            let account = row::account(&r)?;
            snapshot.accounts.insert(account.id, account);
        }
    }
    if !keys.transactions.is_empty() {
        for r in s.fetch(&queries::lock_transactions(d, &keys.transactions)).await? {
            let transaction = row::transaction(&r)?;
            snapshot.transactions.insert(transaction.id, transaction);
        }
    }
    if !keys.account_numbers.is_empty() {
        for r in s.fetch(&queries::taken_numbers(d, &keys.account_numbers)).await? {
            snapshot.taken_numbers.insert(row::account_number(r.int("number")?)?);
        }
    }
    if !keys.owners.is_empty() {
        for r in s.fetch(&queries::owner_account_counts(d, &keys.owners)).await? {
            let owner = UserId::from_uuid(r.uuid("owner")?);
            let count = usize::try_from(r.int("accounts")?).map_err(|_| corrupt("a negative account count"))?;
            snapshot.owned_accounts.insert(owner, count);
        }
    }
    if let Some(key) = &keys.idempotency {
        let rows = s.fetch(&queries::idempotency(d, key.as_str())).await?;
        snapshot.idempotency = rows.first().map(|r| row::idempotency(r)).transpose()?;
    }
    if !keys.users.is_empty() {
        for r in s.fetch(&queries::lock_users(d, &keys.users)).await? {
            let user = row::user(&r)?;
            snapshot.users.insert(user.id, user);
        }
    }
    if !keys.emails.is_empty() {
        for r in s.fetch(&queries::taken_emails(d, &keys.emails)).await? {
            snapshot.taken_emails.insert(row::email(r.text("email")?)?);
        }
    }
    // The sessions named (in any state), then every unrevoked session of the
    // users named; a session in both is read twice and kept once.
    if !keys.sessions.is_empty() {
        for r in s.fetch(&queries::lock_sessions(d, &keys.sessions)).await? {
            let session = row::session(&r)?;
            snapshot.sessions.insert(session.id, session);
        }
    }
    if !keys.sessions_of.is_empty() {
        for r in s.fetch(&queries::lock_live_sessions_of(d, &keys.sessions_of)).await? {
            let session = row::session(&r)?;
            snapshot.sessions.insert(session.id, session);
        }
    }
    if !keys.reset_tokens.is_empty() {
        for r in s.fetch(&queries::lock_reset_tokens(d, &keys.reset_tokens)).await? {
            let token = row::reset_token(&r)?;
            snapshot.reset_tokens.insert(token.token_digest, token);
        }
    }
    Ok(snapshot)
}

/// Writes everything a committed batch produced.
async fn write<S: Session>(s: &mut S, w: &Writes) -> Result<(), sqlx::Error> {
    let d = S::DIALECT;
    let base = w.audit.sequence * ledger_core::SEQUENCE_STRIDE;
    let accounts = w.new_accounts.iter().enumerate().map(|(i, a)| row::account_values(a, base + i as u64)).collect();
    run_all(s, queries::insert(d, ACCOUNTS_INSERT.0, ACCOUNTS_INSERT.1, accounts)).await?;
    for account in &w.updated_accounts {
        one_row(s.execute(&queries::update_account(d, account)).await?, "account", account.id)?;
    }
    let transactions = w.new_transactions.iter().map(row::transaction_values).collect();
    run_all(s, queries::insert(d, TRANSACTIONS_INSERT.0, TRANSACTIONS_INSERT.1, transactions)).await?;
    for transaction in &w.updated_transactions {
        one_row(s.execute(&queries::update_transaction(d, transaction)).await?, "transaction", transaction.id)?;
    }
    let postings = w.postings.iter().map(row::posting_values).collect();
    run_all(s, queries::insert(d, POSTINGS_INSERT.0, POSTINGS_INSERT.1, postings)).await?;
    if let Some(record) = &w.idempotency {
        let values = vec![row::idempotency_values(record)?];
        run_all(s, queries::insert(d, IDEMPOTENCY_INSERT.0, IDEMPOTENCY_INSERT.1, values)).await?;
    }
    write_identity(s, w).await?;
    run_all(s, insert_audit(d, &w.audit)?).await
}

/// Writes the users, sessions and reset tokens of a commit: users first,
/// which sessions and reset tokens reference.
async fn write_identity<S: Session>(s: &mut S, w: &Writes) -> Result<(), sqlx::Error> {
    let d = S::DIALECT;
    let users = w.new_users.iter().map(row::user_values).collect();
    run_all(s, queries::insert(d, USERS_INSERT.0, USERS_INSERT.1, users)).await?;
    for user in &w.updated_users {
        one_row(s.execute(&queries::update_user(d, user)).await?, "user", user.id)?;
    }
    let sessions = w.new_sessions.iter().map(row::session_values).collect();
    run_all(s, queries::insert(d, SESSIONS_INSERT.0, SESSIONS_INSERT.1, sessions)).await?;
    for session in &w.updated_sessions {
        one_row(s.execute(&queries::update_session(d, session)).await?, "session", session.id)?;
    }
    let tokens = w.new_reset_tokens.iter().map(row::reset_token_values).collect();
    run_all(s, queries::insert(d, RESET_TOKENS_INSERT.0, RESET_TOKENS_INSERT.1, tokens)).await?;
    for token in &w.updated_reset_tokens {
        one_row(s.execute(&queries::update_reset_token(d, token)).await?, "reset token", token.token_digest)?;
    }
    Ok(())
}

/// An update of a row the snapshot loaded (and locked) must change exactly
/// that row; anything else means the table changed under the lock.
fn one_row(changed: u64, what: &str, id: impl std::fmt::Display) -> Result<(), sqlx::Error> {
    if changed == 1 { Ok(()) } else { Err(corrupt(format!("updating {what} {id} changed {changed} rows"))) }
}

fn insert_audit(d: crate::stmt::Dialect, record: &ledger_core::AuditRecord) -> Result<Vec<Stmt>, sqlx::Error> {
    let values: Vec<Vec<Value>> = vec![row::audit_values(record)?];
    Ok(queries::insert(d, AUDIT_INSERT.0, AUDIT_INSERT.1, values))
}

/// Runs statements in order.
pub(crate) async fn run_all<S: Session>(s: &mut S, statements: Vec<Stmt>) -> Result<(), sqlx::Error> {
    for statement in &statements {
        s.execute(statement).await?;
    }
    Ok(())
}
