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
use crate::session::Session as DbSession;
use crate::stmt::{Dialect, Value, int};
use crate::write_steps::WriteSteps;

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
        self.steps(S::DIALECT)?.run(s).await
    }

    /// The statements that write it all, in the order foreign keys need;
    /// empties the bulk.
    pub(crate) fn steps(&mut self, d: Dialect) -> Result<WriteSteps, sqlx::Error> {
        let staged = std::mem::take(self);
        let mut w = WriteSteps::default();
        let opened =
            |a: &Account| row::account_values(a, int(staged.opened_seq.get(&a.id).copied().unwrap_or_default()));
        insert(&mut w, d, ACCOUNTS_INSERT, staged.accounts.new.iter().map(opened).collect())?;
        update(&mut w, d, ACCOUNTS_UPDATE, staged.accounts.changed.values().map(row::account_update_values).collect())?;
        insert(&mut w, d, TRANSACTIONS_INSERT, staged.transactions.new.iter().map(row::transaction_values).collect())?;
        insert(&mut w, d, ACCOUNT_TRANSACTIONS_INSERT, history_rows(&staged.transactions.new))?;
        insert(&mut w, d, TRANSACTION_METADATA_INSERT, metadata_rows(&staged.transactions.new))?;
        let transactions = staged.transactions.changed.values().map(row::transaction_update_values).collect();
        update(&mut w, d, TRANSACTIONS_UPDATE, transactions)?;
        insert(&mut w, d, POSTINGS_INSERT, staged.postings.iter().map(row::posting_values).collect())?;
        let changes = staged.changes.iter().map(row::change_values).collect::<Result<_, _>>()?;
        insert(&mut w, d, CHANGES_INSERT, changes)?;
        let records = staged.idempotency.iter().map(row::idempotency_values).collect::<Result<_, _>>()?;
        insert(&mut w, d, IDEMPOTENCY_INSERT, records)?;
        insert(&mut w, d, USERS_INSERT, staged.users.new.iter().map(row::user_values).collect())?;
        update(&mut w, d, USERS_UPDATE, staged.users.changed.values().map(row::user_update_values).collect())?;
        insert(&mut w, d, SESSIONS_INSERT, staged.sessions.new.iter().map(row::session_values).collect())?;
        let sessions = staged.sessions.changed.values().map(row::session_update_values).collect();
        update(&mut w, d, SESSIONS_UPDATE, sessions)?;
        let tokens = staged.reset_tokens.new.iter().map(row::reset_token_values).collect();
        insert(&mut w, d, RESET_TOKENS_INSERT, tokens)?;
        let tokens = staged.reset_tokens.changed.values().map(row::reset_token_update_values).collect();
        update(&mut w, d, RESET_TOKENS_UPDATE, tokens)?;
        let audit = staged.audit.iter().map(row::audit_values).collect::<Result<_, _>>()?;
        insert(&mut w, d, AUDIT_INSERT, audit)?;
        Ok(w)
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

/// Adds the inserts of new rows of a table (nothing for no rows).
pub(crate) fn insert(
    w: &mut WriteSteps,
    d: Dialect,
    (table, columns): (&str, &str),
    rows: Vec<Vec<Value>>,
) -> Result<(), sqlx::Error> {
    w.inserts(bulk_sql::insert_rows(d, table, columns, rows)?);
    Ok(())
}

/// Adds the updates of rows with distinct keys, each loaded (and locked) by
/// the call: together they must change exactly that many rows, or the
/// table changed under the lock.
pub(crate) fn update(
    w: &mut WriteSteps,
    d: Dialect,
    (table, columns): (&'static str, &str),
    rows: Vec<Vec<Value>>,
) -> Result<(), sqlx::Error> {
    let expected = rows.len() as u64;
    w.updates(table, expected, bulk_sql::update_rows(d, table, columns, rows)?);
    Ok(())
}
