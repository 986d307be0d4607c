//! Grouped apply: all the batches of one call decided against rows loaded
//! once, their writes deferred to a few bulk statements ([`bulk`]).
//!
//! The batch-by-batch path ([`apply_each`](crate::apply::apply_each)) costs
//! about eight round trips per batch, which group commit would multiply by
//! the group's size. Here the call first loads (and on PostgreSQL locks, in
//! id order) the union of its batches' accounts, holds and users and reads
//! all their idempotency records, one query per key kind. Each batch is
//! then decided, in order, against a [`Snapshot`] cut from that cache, and
//! its writes are folded back in, so batch k sees batches 1..k-1 exactly as
//! it would if they had been written: the snapshot holds precisely the rows
//! the per-batch path would have read for its keys. Rare key kinds (account
//! numbers, emails, sessions, reset tokens) send the whole call down the
//! per-batch path, which remains the reference.

use std::collections::{BTreeSet, HashMap};

use ledger_core::id::IdMap;
use ledger_core::identity::User;
use ledger_core::{
    Account, AccountId, AuditHead, BatchOutcome, Decision, IdempotencyKey, IdempotencyRecord, Keys, Snapshot,
    Transaction, TransactionId, UserId, WriteBatch, Writes, decide,
};

use crate::apply::Applied;
use crate::bulk::{self, Bulk};
use crate::notify::Changed;
use crate::queries;
use crate::row;
use crate::session::{Cells, Session};
use crate::stmt::Stmt;

/// A call of fewer batches takes the per-batch path: for one batch the
/// grouped path would save one round trip at most (the two account updates
/// become one), and the per-batch statements are the simplest to plan.
const GROUP_BATCHES_MIN: usize = 2;

/// Keys per prefetch query, well below SQLite's 32766 placeholders (on
/// PostgreSQL the list is one array). Chunks are taken in key order, so
/// rows are still locked in id order.
const KEYS_PER_QUERY_MAX: usize = 1000;

/// Applies `batches` grouped, from the audit head `start` (already locked).
/// `None` if the call must take the per-batch path instead; nothing has
/// been written then (only rows read and locked, which that path reads again).
pub(crate) async fn apply<S: Session>(
    s: &mut S,
    batches: &[WriteBatch],
    start: AuditHead,
) -> Result<Option<Applied>, sqlx::Error> {
    let keys: Vec<Keys> = batches.iter().map(WriteBatch::keys).collect();
    if batches.len() < GROUP_BATCHES_MIN || !keys.iter().all(groupable) {
        return Ok(None);
    }
    let mut cache = Cache::load(s, &keys, start).await?;
    let mut pending = Bulk::default();
    let mut changed = Changed::default();
    let mut outcomes = Vec::with_capacity(batches.len());
    for (batch, keys) in batches.iter().zip(&keys) {
        let decision = decide(batch, cache.snapshot(keys));
        match &decision {
            Decision::Commit(writes) => {
                if !bulk::covers(writes) {
                    return Ok(None);
                }
                pending.add(writes);
                cache.fold(writes);
                changed.add(writes);
            }
            Decision::Reject { audit, .. } => {
                pending.add_rejection(audit);
                cache.head = audit.head();
            }
            Decision::Replay(_) => {}
        }
        outcomes.push(BatchOutcome::from(decision));
    }
    pending.write(s).await?;
    Ok(Some(Applied { outcomes, head: cache.head, changed }))
}

/// Whether a batch names only the key kinds the cache holds.
fn groupable(keys: &Keys) -> bool {
    keys.account_numbers.is_empty()
        && keys.owners.is_empty()
        && keys.emails.is_empty()
        && keys.sessions.is_empty()
        && keys.sessions_of.is_empty()
        && keys.reset_tokens.is_empty()
}

/// The rows the call's batches may read, as the batches decided so far
/// left them: the rows that exist (absent keys are absent rows).
#[derive(Debug, Default)]
struct Cache {
    accounts: IdMap<AccountId, Account>,
    transactions: IdMap<TransactionId, Transaction>,
    users: IdMap<UserId, User>,
    idempotency: HashMap<IdempotencyKey, IdempotencyRecord>,
    head: AuditHead,
}

impl Cache {
    /// Loads the union of the batches' keys: accounts, holds and users
    /// locked in id order, then the idempotency records.
    async fn load<S: Session>(s: &mut S, keys: &[Keys], head: AuditHead) -> Result<Cache, sqlx::Error> {
        let d = S::DIALECT;
        let accounts: Vec<&AccountId> = union(keys.iter().flat_map(|k| &k.accounts));
        let holds: Vec<&TransactionId> = union(keys.iter().flat_map(|k| &k.transactions));
        let users: Vec<&UserId> = union(keys.iter().flat_map(|k| &k.users));
        let claimed: Vec<&str> = union(keys.iter().filter_map(|k| k.idempotency.as_ref()).map(IdempotencyKey::as_str));
        let accounts = fetch_chunked(s, &accounts, |c| queries::lock_accounts(d, c.iter().copied()), row::account);
        let accounts = accounts.await?.into_iter().map(|a| (a.id, a)).collect();
        let holds = fetch_chunked(s, &holds, |c| queries::lock_transactions(d, c.iter().copied()), row::transaction);
        let transactions = holds.await?.into_iter().map(|t| (t.id, t)).collect();
        let users = fetch_chunked(s, &users, |c| queries::lock_users(d, c.iter().copied()), row::user);
        let users = users.await?.into_iter().map(|u| (u.id, u)).collect();
        let records =
            fetch_chunked(s, &claimed, |c| queries::idempotency_records(d, c.iter().copied()), row::idempotency);
        let idempotency = records.await?.into_iter().map(|r| (r.key.clone(), r)).collect();
        Ok(Cache { accounts, transactions, users, idempotency, head })
    }

    /// What the per-batch path would load for `keys` now: the named rows
    /// that exist, and the head.
    fn snapshot(&self, keys: &Keys) -> Snapshot {
        Snapshot {
            accounts: pick(&self.accounts, &keys.accounts),
            transactions: pick(&self.transactions, &keys.transactions),
            users: pick(&self.users, &keys.users),
            idempotency: keys.idempotency.as_ref().and_then(|key| self.idempotency.get(key).cloned()),
            audit_head: self.head,
            ..Snapshot::default()
        }
    }

    /// Takes in what a committed batch wrote, as later batches must see it.
    fn fold(&mut self, w: &Writes) {
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
        self.head = w.audit.head();
    }
}

/// The distinct keys, in order: the order rows are locked in.
fn union<K: Ord>(keys: impl Iterator<Item = K>) -> Vec<K> {
    keys.collect::<BTreeSet<K>>().into_iter().collect()
}

/// Runs `query` for `keys` in chunks of [`KEYS_PER_QUERY_MAX`] (in key
/// order, so locks are still taken in that order) and maps every row.
async fn fetch_chunked<S: Session, K: Sync, T>(
    s: &mut S,
    keys: &[K],
    query: impl Fn(&[K]) -> Stmt,
    map: fn(&dyn Cells) -> Result<T, sqlx::Error>,
) -> Result<Vec<T>, sqlx::Error> {
    let mut rows = Vec::new();
    for chunk in keys.chunks(KEYS_PER_QUERY_MAX) {
        for r in s.fetch(&query(chunk)).await? {
            rows.push(map(&r)?);
        }
    }
    Ok(rows)
}

/// The entries of `rows` named in `ids` (those that exist).
fn pick<K: Copy + Eq + std::hash::Hash, V: Clone>(rows: &IdMap<K, V>, ids: &BTreeSet<K>) -> IdMap<K, V> {
    ids.iter().filter_map(|id| rows.get(id).map(|row| (*id, row.clone()))).collect()
}

#[cfg(test)]
mod tests;
