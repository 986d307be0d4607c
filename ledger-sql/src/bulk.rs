//! The one writer of [`Writes`]: what an apply call stages, gathered batch
//! by batch and written in a few statements per table (multi-row inserts of
//! what is new, one update per table of the final state of what changed). A
//! row created by one batch and changed by a later one is inserted once, in
//! its final state.
//!
//! Rows go in the order foreign keys need (accounts, transactions,
//! postings; users, sessions, reset tokens) and audit records in sequence
//! order, rejections included.

use std::collections::{BTreeMap, HashMap};

use ledger_core::identity::{ResetToken, Session, SessionId, User};
use ledger_core::{
    Account, AccountId, AuditRecord, Change, Digest, IdempotencyRecord, Posting, Transaction, TransactionId, UserId,
    Writes,
};

use crate::bulk_sql::{
    self, ACCOUNT_TRANSACTIONS_INSERT, ACCOUNTS_INSERT, ACCOUNTS_UPDATE, AUDIT_INSERT, CHANGES_INSERT,
    IDEMPOTENCY_INSERT, POSTINGS_INSERT, RESET_TOKENS_INSERT, RESET_TOKENS_UPDATE, SESSIONS_INSERT, SESSIONS_UPDATE,
    TRANSACTION_METADATA_INSERT, TRANSACTIONS_INSERT, TRANSACTIONS_UPDATE, USERS_INSERT, USERS_UPDATE,
};
use crate::row;
use crate::session::{Session as DbSession, corrupt, run_all};
use crate::stmt::{Stmt, Value, int};

/// Rows of one table to insert (new) or update (existing), by key, each in
/// its latest state.
#[derive(Debug)]
struct Rows<K, V> {
    new: Vec<V>,
    position: HashMap<K, usize>,
    changed: BTreeMap<K, V>,
}

impl<K, V> Default for Rows<K, V> {
    fn default() -> Self {
        Rows { new: Vec::new(), position: HashMap::new(), changed: BTreeMap::new() }
    }
}

impl<K: Copy + Ord + std::hash::Hash, V: Clone> Rows<K, V> {
    /// Rows a batch created.
    fn created<'a>(&mut self, rows: impl IntoIterator<Item = &'a V>, key: impl Fn(&V) -> K)
    where
        V: 'a,
    {
        for row in rows {
            self.position.insert(key(row), self.new.len());
            self.new.push(row.clone());
        }
    }

    /// Rows' new states: each replaces its pending insert if a batch of
    /// this call created it, else its pending update.
    fn changed<'a>(&mut self, rows: impl IntoIterator<Item = &'a V>, key: impl Fn(&V) -> K)
    where
        V: 'a,
    {
        for row in rows {
            match self.position.get(&key(row)) {
                Some(&i) => self.new[i] = row.clone(),
                None => {
                    self.changed.insert(key(row), row.clone());
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.new.is_empty() && self.changed.is_empty()
    }
}

/// Everything staged and not yet written.
#[derive(Debug, Default)]
pub(crate) struct Bulk {
    accounts: Rows<AccountId, Account>,
    /// `opened_seq` of each new account, from the batch that opened it.
    opened_seq: HashMap<AccountId, u64>,
    transactions: Rows<TransactionId, Transaction>,
    postings: Vec<Posting>,
    changes: Vec<Change>,
    idempotency: Vec<IdempotencyRecord>,
    users: Rows<UserId, User>,
    sessions: Rows<SessionId, Session>,
    reset_tokens: Rows<Digest, ResetToken>,
    audit: Vec<AuditRecord>,
}

impl Bulk {
    /// Adds a committed batch's writes.
    pub(crate) fn add(&mut self, w: &Writes) {
        let base = w.audit.sequence * ledger_core::SEQUENCE_STRIDE;
        for (i, account) in w.new_accounts.iter().enumerate() {
            self.opened_seq.insert(account.id, base + i as u64);
        }
        self.accounts.created(&w.new_accounts, |a| a.id);
        self.accounts.changed(&w.updated_accounts, |a| a.id);
        self.transactions.created(&w.new_transactions, |t| t.id);
        self.transactions.changed(&w.updated_transactions, |t| t.id);
        self.postings.extend(w.postings.iter().cloned());
        self.changes.extend(w.changes.iter().cloned());
        self.idempotency.extend(w.idempotency.iter().cloned());
        self.users.created(&w.new_users, |u| u.id);
        self.users.changed(&w.updated_users, |u| u.id);
        self.sessions.created(&w.new_sessions, |s| s.id);
        self.sessions.changed(&w.updated_sessions, |s| s.id);
        self.reset_tokens.created(&w.new_reset_tokens, |t| t.token_digest);
        self.reset_tokens.changed(&w.updated_reset_tokens, |t| t.token_digest);
        self.audit.push(w.audit.clone());
    }

    /// Adds a rejected batch's audit record.
    pub(crate) fn add_rejection(&mut self, audit: &AuditRecord) {
        self.audit.push(audit.clone());
    }

    /// Whether nothing is staged.
    pub(crate) fn is_empty(&self) -> bool {
        self.audit.is_empty()
    }

    /// Writes it all and empties the bulk.
    pub(crate) async fn write<S: DbSession>(&mut self, s: &mut S) -> Result<(), sqlx::Error> {
        let staged = std::mem::take(self);
        let opened = |a: &Account| row::account_values(a, staged.opened_seq.get(&a.id).copied().unwrap_or_default());
        insert(s, ACCOUNTS_INSERT, staged.accounts.new.iter().map(opened).collect()).await?;
        update(s, ACCOUNTS_UPDATE, staged.accounts.changed.values().map(row::account_update_values).collect()).await?;
        insert(s, TRANSACTIONS_INSERT, staged.transactions.new.iter().map(row::transaction_values).collect()).await?;
        insert(s, ACCOUNT_TRANSACTIONS_INSERT, history_rows(&staged.transactions.new)).await?;
        insert(s, TRANSACTION_METADATA_INSERT, metadata_rows(&staged.transactions.new)).await?;
        let transactions = staged.transactions.changed.values().map(row::transaction_update_values).collect();
        update(s, TRANSACTIONS_UPDATE, transactions).await?;
        insert(s, POSTINGS_INSERT, staged.postings.iter().map(row::posting_values).collect()).await?;
        let changes = staged.changes.iter().map(row::change_values).collect::<Result<_, _>>()?;
        insert(s, CHANGES_INSERT, changes).await?;
        let records = staged.idempotency.iter().map(row::idempotency_values).collect::<Result<_, _>>()?;
        insert(s, IDEMPOTENCY_INSERT, records).await?;
        if !staged.users.is_empty() || !staged.sessions.is_empty() || !staged.reset_tokens.is_empty() {
            insert(s, USERS_INSERT, staged.users.new.iter().map(row::user_values).collect()).await?;
            update(s, USERS_UPDATE, staged.users.changed.values().map(row::user_update_values).collect()).await?;
            insert(s, SESSIONS_INSERT, staged.sessions.new.iter().map(row::session_values).collect()).await?;
            let sessions = staged.sessions.changed.values().map(row::session_update_values).collect();
            update(s, SESSIONS_UPDATE, sessions).await?;
            let tokens = staged.reset_tokens.new.iter().map(row::reset_token_values).collect();
            insert(s, RESET_TOKENS_INSERT, tokens).await?;
            let tokens = staged.reset_tokens.changed.values().map(row::reset_token_update_values).collect();
            update(s, RESET_TOKENS_UPDATE, tokens).await?;
        }
        let audit = staged.audit.iter().map(row::audit_values).collect::<Result<_, _>>()?;
        insert(s, AUDIT_INSERT, audit).await
    }
}

/// The history rows of new transactions: one per account each touches.
pub(crate) fn history_rows(transactions: &[Transaction]) -> Vec<Vec<Value>> {
    let row = |t: &Transaction, a: ledger_core::AccountId| vec![Value::Uuid(*a.as_uuid()), Value::Int(int(t.sequence))];
    transactions.iter().flat_map(|t| t.accounts().into_iter().map(move |a| row(t, a))).collect()
}

/// The metadata rows of new transactions: one per pair each carries.
pub(crate) fn metadata_rows(transactions: &[Transaction]) -> Vec<Vec<Value>> {
    let row = |t: &Transaction, (k, v): (&str, &str)| {
        vec![Value::Text(k.to_owned()), Value::Text(v.to_owned()), Value::Int(int(t.sequence))]
    };
    transactions.iter().flat_map(|t| t.metadata.iter().map(move |pair| row(t, pair))).collect()
}

/// Inserts new rows of a table (nothing for no rows).
pub(crate) async fn insert<S: DbSession>(
    s: &mut S,
    (table, columns): (&str, &str),
    rows: Vec<Vec<Value>>,
) -> Result<(), sqlx::Error> {
    run_all(s, bulk_sql::insert_rows(S::DIALECT, table, columns, rows)?).await
}

/// Updates rows with distinct keys, each loaded (and locked) by the call:
/// together the statements must change exactly that many rows, or the
/// table changed under the lock.
async fn update<S: DbSession>(
    s: &mut S,
    (table, columns): (&str, &str),
    rows: Vec<Vec<Value>>,
) -> Result<(), sqlx::Error> {
    let expected = rows.len() as u64;
    let mut changed = 0;
    let statements: Vec<Stmt> = bulk_sql::update_rows(S::DIALECT, table, columns, rows)?;
    for statement in &statements {
        changed += s.execute(statement).await?;
    }
    if changed == expected {
        Ok(())
    } else {
        Err(corrupt(format!("updating {expected} rows of {table} changed {changed}")))
    }
}
