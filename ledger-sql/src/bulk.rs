//! The writes of a grouped call ([`group`](crate::group)), gathered batch
//! by batch and written at the end in a few statements per table: multi-row
//! inserts of what is new, one update per table of the final state of what
//! changed. A row created by one batch and changed by a later one is
//! inserted once, in its final state.
//!
//! Rows go in the order foreign keys need (accounts, transactions,
//! postings) and audit records in sequence order, rejections included.

use std::collections::{BTreeMap, HashMap};

use ledger_core::identity::User;
use ledger_core::{
    Account, AccountId, AuditRecord, IdempotencyRecord, Posting, Transaction, TransactionId, UserId, Writes,
};

use crate::apply::run_all;
use crate::queries::{
    self, ACCOUNTS_INSERT, ACCOUNTS_UPDATE, AUDIT_INSERT, IDEMPOTENCY_INSERT, POSTINGS_INSERT, TRANSACTIONS_INSERT,
    TRANSACTIONS_UPDATE, USERS_UPDATE,
};
use crate::row;
use crate::session::{Session, corrupt};
use crate::stmt::Value;

/// Whether bulk writes cover everything a commit wrote. Only changes to
/// existing users are covered among identity rows: the ops that create
/// users or touch sessions and reset tokens name keys that keep a call off
/// the grouped path, so anything else means that assumption broke, and
/// the call is better run batch by batch.
pub(crate) fn covers(w: &Writes) -> bool {
    w.new_users.is_empty()
        && w.new_sessions.is_empty()
        && w.updated_sessions.is_empty()
        && w.new_reset_tokens.is_empty()
        && w.updated_reset_tokens.is_empty()
}

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

impl<K: Copy + Ord + std::hash::Hash, V> Rows<K, V> {
    /// A row a batch created.
    fn created(&mut self, key: K, row: V) {
        self.position.insert(key, self.new.len());
        self.new.push(row);
    }

    /// A row's new state: replaces the pending insert if a batch of this
    /// call created it, else the pending update.
    fn changed(&mut self, key: K, row: V) {
        match self.position.get(&key) {
            Some(&i) => self.new[i] = row,
            None => {
                self.changed.insert(key, row);
            }
        }
    }
}

/// Everything a grouped call will write.
#[derive(Debug, Default)]
pub(crate) struct Bulk {
    accounts: Rows<AccountId, Account>,
    /// `opened_seq` of each new account, from the batch that opened it.
    opened_seq: HashMap<AccountId, u64>,
    transactions: Rows<TransactionId, Transaction>,
    users: Rows<UserId, User>,
    postings: Vec<Posting>,
    idempotency: Vec<IdempotencyRecord>,
    audit: Vec<AuditRecord>,
}

impl Bulk {
    /// Adds a committed batch's writes (see [`covers`]).
    pub(crate) fn add(&mut self, w: &Writes) {
        let base = w.audit.sequence * ledger_core::SEQUENCE_STRIDE;
        for (i, account) in w.new_accounts.iter().enumerate() {
            self.opened_seq.insert(account.id, base + i as u64);
            self.accounts.created(account.id, account.clone());
        }
        for account in &w.updated_accounts {
            self.accounts.changed(account.id, account.clone());
        }
        for transaction in &w.new_transactions {
            self.transactions.created(transaction.id, transaction.clone());
        }
        for transaction in &w.updated_transactions {
            self.transactions.changed(transaction.id, transaction.clone());
        }
        for user in &w.updated_users {
            self.users.changed(user.id, user.clone());
        }
        self.postings.extend(w.postings.iter().cloned());
        self.idempotency.extend(w.idempotency.iter().cloned());
        self.audit.push(w.audit.clone());
    }

    /// Adds a rejected batch's audit record.
    pub(crate) fn add_rejection(&mut self, audit: &AuditRecord) {
        self.audit.push(audit.clone());
    }

    /// Writes it all.
    pub(crate) async fn write<S: Session>(self, s: &mut S) -> Result<(), sqlx::Error> {
        let d = S::DIALECT;
        let opened = |a: &Account| row::account_values(a, self.opened_seq.get(&a.id).copied().unwrap_or_default());
        let accounts = self.accounts.new.iter().map(opened).collect();
        run_all(s, queries::insert_rows(d, ACCOUNTS_INSERT.0, ACCOUNTS_INSERT.1, accounts)?).await?;
        let accounts = self.accounts.changed.values().map(row::account_update_values).collect();
        update(s, ACCOUNTS_UPDATE, "accounts", accounts).await?;
        let transactions = self.transactions.new.iter().map(row::transaction_values).collect();
        run_all(s, queries::insert_rows(d, TRANSACTIONS_INSERT.0, TRANSACTIONS_INSERT.1, transactions)?).await?;
        let transactions = self.transactions.changed.values().map(row::transaction_update_values).collect();
        update(s, TRANSACTIONS_UPDATE, "transactions", transactions).await?;
        let postings = self.postings.iter().map(row::posting_values).collect();
        run_all(s, queries::insert_rows(d, POSTINGS_INSERT.0, POSTINGS_INSERT.1, postings)?).await?;
        let records = self.idempotency.iter().map(row::idempotency_values).collect::<Result<_, _>>()?;
        run_all(s, queries::insert_rows(d, IDEMPOTENCY_INSERT.0, IDEMPOTENCY_INSERT.1, records)?).await?;
        let users = self.users.changed.values().map(row::user_update_values).collect();
        update(s, USERS_UPDATE, "users", users).await?;
        let audit = self.audit.iter().map(row::audit_values).collect::<Result<_, _>>()?;
        run_all(s, queries::insert_rows(d, AUDIT_INSERT.0, AUDIT_INSERT.1, audit)?).await
    }
}

/// Updates rows with distinct keys, each loaded (and locked) by the call:
/// together the statements must change exactly that many rows, or the
/// table changed under the lock.
async fn update<S: Session>(
    s: &mut S,
    (table, columns): (&str, &str),
    what: &str,
    rows: Vec<Vec<Value>>,
) -> Result<(), sqlx::Error> {
    let expected = rows.len() as u64;
    let mut changed = 0;
    for statement in queries::update_rows(S::DIALECT, table, columns, rows)? {
        changed += s.execute(&statement).await?;
    }
    if changed == expected {
        Ok(())
    } else {
        Err(corrupt(format!("updating {expected} {what} changed {changed} rows")))
    }
}
