//! [`Rows`]: the state a group of batches may read, loaded at once, as the
//! batches decided so far left it.

use std::collections::{BTreeSet, HashMap};

use crate::account::Account;
use crate::audit::AuditHead;
use crate::id::{AccountId, IdMap, TransactionId, UserId};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};
use crate::identity::User;
use crate::transaction::Transaction;
use crate::write_batch::{Keys, Snapshot, Writes};

/// The rows the union of a group's keys names: those that exist (an absent
/// key is an absent row). A backend loads accounts, holds, users and
/// idempotency records this way ([`Staging::head_and_rows`]); a batch
/// naming any other key kind is loaded on its own.
///
/// [`Staging::head_and_rows`]: crate::store::apply::Staging::head_and_rows
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// Accounts, by id.
    pub accounts: IdMap<AccountId, Account>,
    /// Holds (and other transactions), by id.
    pub transactions: IdMap<TransactionId, Transaction>,
    /// Users, by id.
    pub users: IdMap<UserId, User>,
    /// Idempotency records, by key.
    pub idempotency: HashMap<IdempotencyKey, IdempotencyRecord>,
    /// The end of the audit chain (set by the loop).
    pub(crate) head: AuditHead,
}

impl Rows {
    /// The rows, starting from `head`.
    pub(crate) fn with_head(self, head: AuditHead) -> Rows {
        Rows { head, ..self }
    }

    /// What loading `keys` on their own would give now: the named rows that
    /// exist.
    pub(crate) fn snapshot(&self, keys: &Keys) -> Snapshot {
        Snapshot {
            accounts: pick(&self.accounts, &keys.accounts),
            transactions: pick(&self.transactions, &keys.transactions),
            users: pick(&self.users, &keys.users),
            idempotency: keys.idempotency.as_ref().and_then(|key| self.idempotency.get(key).cloned()),
            ..Snapshot::default()
        }
    }

    /// Takes in what a committed batch wrote, as later batches must see it.
    pub(crate) fn fold(&mut self, w: &Writes) {
        self.take_in(w);
        self.head = w.audit.head();
    }

    /// Takes in the rows a batch wrote, sealed or only booked (the head
    /// stays where it is).
    pub(crate) fn take_in<Audit>(&mut self, w: &Writes<Audit>) {
        for account in w.accounts() {
            self.accounts.insert(account.id, account.clone());
        }
        for transaction in w.transactions() {
            self.transactions.insert(transaction.id, transaction.clone());
        }
        for user in w.new_users.iter().chain(&w.updated_users) {
            self.users.insert(user.id, user.clone());
        }
        if let Some(record) = &w.idempotency {
            self.idempotency.insert(record.key.clone(), record.clone());
        }
    }
}

/// Whether a batch's keys are all of the kinds [`Rows`] holds.
pub fn rows_hold(keys: &Keys) -> bool {
    keys.account_numbers.is_empty()
        && keys.owners.is_empty()
        && keys.account_codes.is_empty()
        && keys.emails.is_empty()
        && keys.sessions.is_empty()
        && keys.sessions_of.is_empty()
        && keys.reset_tokens.is_empty()
}

/// The entries of `rows` named in `ids` (those that exist).
fn pick<K: Copy + Eq + std::hash::Hash, V: Clone>(rows: &IdMap<K, V>, ids: &BTreeSet<K>) -> IdMap<K, V> {
    ids.iter().filter_map(|id| rows.get(id).map(|row| (*id, row.clone()))).collect()
}
