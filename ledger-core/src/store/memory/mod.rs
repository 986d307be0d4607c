//! The in-memory store: the reference backend, for tests, examples and benches.
//!
//! One mutex guards all state, so `apply` is trivially atomic and isolated.
//! Nothing survives the process.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::Account;
use crate::account_code::AccountCode;
use crate::account_number::AccountNumber;
use crate::audit::{AuditHead, AuditRecord};
use crate::change::Change;
use crate::store::apply::{Staging, apply_batches_now};
use crate::store::lease::LocalLeases;
mod account_postings;
mod chunked_vec;
mod dump;
mod idempotency_index;
mod journal;

use crate::balance_query::{PostingCursor, PostingRange};
use crate::digest::Digest;
use crate::dump::{DumpChunk, SinkCursor};
use crate::error::StorageError;
use crate::id::{AccountId, IdMap, TransactionId, UserId};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};
use crate::identity::{Email, ResetToken, Session, SessionId, User};
use crate::posting::Posting;
use crate::query::HistoryFilter;
use crate::store::Store;
use crate::transaction::{Transaction, TransactionStatus};
use crate::write_batch::{BatchOutcome, Keys, Snapshot, WriteBatch, Writes};
use account_postings::AccountPostings;
use chunked_vec::ChunkedVec;
use idempotency_index::IdempotencyIndex;
use journal::Journal;

const BACKEND: &str = "memory";

/// A store that keeps everything in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    leases: LocalLeases,
}

#[derive(Debug, Default)]
struct State {
    /// Accounts by id: hashed, because every command plans and decides by id.
    accounts: IdMap<AccountId, Account>,
    /// Every account id, in order, for listing pages.
    account_ids: BTreeSet<AccountId>,
    by_number: IdMap<AccountNumber, AccountId>,
    /// Ledger accounts by code, in code order (listing pages by it).
    by_code: BTreeMap<AccountCode, AccountId>,
    /// Sequences of the transactions carrying each metadata pair, ascending.
    by_metadata: HashMap<(String, String), Vec<u64>>,
    by_owner: IdMap<UserId, Vec<AccountId>>,
    transactions: Journal,
    sequence_of: IdMap<TransactionId, u64>,
    /// Sequences of each account's transactions, ascending: commits are
    /// serialized and sequences grow with them, so appending keeps the order.
    history_of: IdMap<AccountId, Vec<u64>>,
    postings_of: IdMap<AccountId, AccountPostings>,
    idempotency: IdempotencyIndex,
    holds_by_expiry: BTreeSet<(DateTime<Utc>, TransactionId)>,
    audit: ChunkedVec<AuditRecord>,
    users: BTreeMap<UserId, User>,
    user_by_email: HashMap<Email, UserId>,
    sessions: IdMap<SessionId, Session>,
    session_by_token: IdMap<Digest, SessionId>,
    sessions_of: IdMap<UserId, Vec<SessionId>>,
    reset_tokens: IdMap<Digest, ResetToken>,
    /// The change feed, in sequence order.
    changes: ChunkedVec<Change>,
    sink_cursors: HashMap<String, u64>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave half a batch behind:
        // writes happen only after `decide` returned, in infallible steps.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The memory store's side of an apply call: the state itself, under the
/// store's lock for the whole call, so a load sees what the call staged.
struct Staged<'a>(&'a mut State);

impl Staging for Staged<'_> {
    async fn audit_head(&mut self) -> Result<AuditHead, StorageError> {
        Ok(self.0.audit.last().map(AuditRecord::head).unwrap_or_default())
    }

    async fn load(&mut self, keys: &Keys) -> Result<Snapshot, StorageError> {
        Ok(self.0.snapshot(keys))
    }

    async fn stage(&mut self, writes: &Writes) -> Result<(), StorageError> {
        self.0.write(writes.clone());
        Ok(())
    }

    async fn stage_rejection(&mut self, audit: &AuditRecord) -> Result<(), StorageError> {
        self.0.audit.push(audit.clone());
        Ok(())
    }
}

impl State {
    fn snapshot(&self, keys: &Keys) -> Snapshot {
        Snapshot {
            accounts: keys.accounts.iter().filter_map(|id| self.accounts.get(id).map(|a| (*id, a.clone()))).collect(),
            transactions: keys
                .transactions
                .iter()
                .filter_map(|id| self.transaction(*id).map(|t| (*id, t.clone())))
                .collect(),
            taken_numbers: keys.account_numbers.iter().filter(|n| self.by_number.contains_key(n)).copied().collect(),
            taken_codes: keys.account_codes.iter().filter(|c| self.by_code.contains_key(*c)).cloned().collect(),
            owned_accounts: keys
                .owners
                .iter()
                .filter_map(|owner| self.by_owner.get(owner).map(|ids| (*owner, ids.len())))
                .collect(),
            idempotency: keys.idempotency.as_ref().and_then(|k| self.idempotency.get(k).cloned()),
            users: keys.users.iter().filter_map(|id| self.users.get(id).map(|u| (*id, u.clone()))).collect(),
            taken_emails: keys.emails.iter().filter(|e| self.user_by_email.contains_key(e)).cloned().collect(),
            sessions: self.snapshot_sessions(keys),
            reset_tokens: keys
                .reset_tokens
                .iter()
                .filter_map(|d| self.reset_tokens.get(d).map(|t| (*d, t.clone())))
                .collect(),
            // The apply loop keeps the head.
        }
    }

    fn snapshot_sessions(&self, keys: &Keys) -> IdMap<SessionId, Session> {
        let named = keys.sessions.iter().copied();
        let of_users = keys.sessions_of.iter().flat_map(|u| self.sessions_of.get(u).into_iter().flatten().copied());
        named
            .chain(of_users)
            .filter_map(|id| self.sessions.get(&id))
            .filter(|s| keys.sessions.contains(&s.id) || s.revoked_at.is_none())
            .map(|s| (s.id, s.clone()))
            .collect()
    }

    fn transaction(&self, id: TransactionId) -> Option<&Transaction> {
        self.sequence_of.get(&id).and_then(|seq| self.transactions.get(*seq))
    }

    fn write(&mut self, writes: Writes) {
        for account in writes.new_accounts {
            if let Some(code) = &account.code {
                self.by_code.insert(code.clone(), account.id);
            }
            self.by_number.insert(account.number, account.id);
            self.by_owner.entry(account.owner).or_default().push(account.id);
            self.account_ids.insert(account.id);
            self.accounts.insert(account.id, account);
        }
        for account in writes.updated_accounts {
            self.accounts.insert(account.id, account);
        }
        for t in writes.new_transactions {
            for account in t.accounts() {
                let history = self.history_of.entry(account).or_default();
                debug_assert!(history.last().is_none_or(|last| *last < t.sequence));
                history.push(t.sequence);
            }
            for (key, value) in t.metadata.iter() {
                self.by_metadata.entry((key.to_owned(), value.to_owned())).or_default().push(t.sequence);
            }
            if let (TransactionStatus::Pending, Some(expiry)) = (t.status, t.expires_at) {
                self.holds_by_expiry.insert((expiry, t.id));
            }
            self.sequence_of.insert(t.id, t.sequence);
            self.transactions.append(t);
        }
        for t in writes.updated_transactions {
            if let Some(expiry) = t.expires_at
                && t.status != TransactionStatus::Pending
            {
                self.holds_by_expiry.remove(&(expiry, t.id));
            }
            self.transactions.replace(t);
        }
        for p in writes.postings {
            self.postings_of.entry(p.account_id).or_default().push(p);
        }
        if let Some(record) = writes.idempotency {
            self.idempotency.insert(record);
        }
        self.audit.push(writes.audit);
        for change in writes.changes {
            debug_assert!(self.changes.last().is_none_or(|last| last.sequence < change.sequence));
            self.changes.push(change);
        }
        for user in writes.new_users {
            self.user_by_email.insert(user.email.clone(), user.id);
            self.users.insert(user.id, user);
        }
        for user in writes.updated_users {
            self.users.insert(user.id, user);
        }
        for session in writes.new_sessions {
            self.session_by_token.insert(session.token_digest, session.id);
            self.sessions_of.entry(session.user_id).or_default().push(session.id);
            self.sessions.insert(session.id, session);
        }
        for session in writes.updated_sessions {
            self.sessions.insert(session.id, session);
        }
        for token in writes.new_reset_tokens.into_iter().chain(writes.updated_reset_tokens) {
            self.reset_tokens.insert(token.token_digest, token);
        }
    }

    fn history(&self, filter: &HistoryFilter, before: Option<u64>, limit: usize) -> Vec<Transaction> {
        let below = before.unwrap_or(u64::MAX);
        let sequences: Box<dyn Iterator<Item = u64> + '_> = if let Some(pair) = filter.metadata.first() {
            // The first pair's index; the rest of the filter is checked below.
            let seqs = self.by_metadata.get(pair).map(Vec::as_slice).unwrap_or_default();
            Box::new(seqs[..seqs.partition_point(|seq| *seq < below)].iter().rev().copied())
        } else if filter.accounts.is_empty() {
            Box::new(self.transactions.below(below).rev().map(|t| t.sequence))
        } else {
            let lists = filter
                .accounts
                .iter()
                .filter_map(|account| self.history_of.get(account))
                .map(|seqs| &seqs[..seqs.partition_point(|seq| *seq < below)])
                .collect();
            Box::new(NewestFirst::new(lists))
        };
        sequences
            .filter_map(|seq| self.transactions.get(seq))
            .filter(|t| filter.matches(t))
            .take(limit)
            .cloned()
            .collect()
    }
}

/// The union of ascending sequence lists, newest first, each sequence once
/// (a transfer between two of the accounts is in both lists). Lazy: a page
/// reads only as far back as it needs, not an account's whole history.
struct NewestFirst<'a> {
    lists: Vec<&'a [u64]>,
    /// The last unread sequence of each non-empty list, with its list.
    heads: BinaryHeap<(u64, usize)>,
    last: Option<u64>,
}

impl<'a> NewestFirst<'a> {
    fn new(lists: Vec<&'a [u64]>) -> Self {
        let heads = lists.iter().enumerate().filter_map(|(i, list)| Some((*list.last()?, i))).collect();
        NewestFirst { lists, heads, last: None }
    }
}

impl Iterator for NewestFirst<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        loop {
            let (seq, i) = self.heads.pop()?;
            if let Some(list) = self.lists.get_mut(i)
                && let Some((_, rest)) = list.split_last()
            {
                *list = rest;
                if let Some(next) = rest.last() {
                    self.heads.push((*next, i));
                }
            }
            if self.last != Some(seq) {
                self.last = Some(seq);
                return Some(seq);
            }
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn apply(&self, batches: Vec<WriteBatch>) -> Result<Vec<BatchOutcome>, StorageError> {
        apply_batches_now(&mut Staged(&mut self.lock()), &batches)
    }

    async fn account(&self, id: AccountId) -> Result<Option<Account>, StorageError> {
        Ok(self.lock().accounts.get(&id).cloned())
    }

    async fn account_by_number(&self, number: AccountNumber) -> Result<Option<Account>, StorageError> {
        let state = self.lock();
        Ok(state.by_number.get(&number).and_then(|id| state.accounts.get(id)).cloned())
    }

    async fn account_by_code(&self, code: &AccountCode) -> Result<Option<Account>, StorageError> {
        let state = self.lock();
        Ok(state.by_code.get(code).and_then(|id| state.accounts.get(id)).cloned())
    }

    async fn ledger_accounts(&self, after: Option<&AccountCode>, limit: usize) -> Result<Vec<Account>, StorageError> {
        let state = self.lock();
        let range = match after {
            Some(after) => {
                state.by_code.range::<AccountCode, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            }
            None => state.by_code.range::<AccountCode, _>(..),
        };
        Ok(range.filter_map(|(_, id)| state.accounts.get(id)).take(limit).cloned().collect())
    }

    async fn accounts_by_owner(&self, owner: UserId) -> Result<Vec<Account>, StorageError> {
        let state = self.lock();
        let ids = state.by_owner.get(&owner).map(Vec::as_slice).unwrap_or_default();
        Ok(ids.iter().filter_map(|id| state.accounts.get(id)).cloned().collect())
    }

    async fn accounts(&self, after: Option<AccountId>, limit: usize) -> Result<Vec<Account>, StorageError> {
        let state = self.lock();
        let range = match after {
            Some(after) => state.account_ids.range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => state.account_ids.range(..),
        };
        Ok(range.filter_map(|id| state.accounts.get(id)).take(limit).cloned().collect())
    }

    async fn transaction(&self, id: TransactionId) -> Result<Option<Transaction>, StorageError> {
        Ok(self.lock().transaction(id).cloned())
    }

    async fn transactions(
        &self,
        filter: &HistoryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Transaction>, StorageError> {
        Ok(self.lock().history(filter, before, limit))
    }

    async fn postings(
        &self,
        account: AccountId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Posting>, StorageError> {
        let state = self.lock();
        let Some(all) = state.postings_of.get(&account) else { return Ok(Vec::new()) };
        let start = after.map_or(0, |after| all.partition_point(|p| p.sequence <= after));
        Ok(all.range(start, usize::MAX).take(limit).cloned().collect())
    }

    async fn posting_as_of(&self, account: AccountId, at: DateTime<Utc>) -> Result<Option<Posting>, StorageError> {
        let state = self.lock();
        let Some(all) = state.postings_of.get(&account) else { return Ok(None) };
        Ok(all.as_of(at).cloned())
    }

    async fn postings_in(&self, range: &PostingRange, limit: usize) -> Result<Vec<Posting>, StorageError> {
        let state = self.lock();
        let Some(all) = state.postings_of.get(&range.account) else { return Ok(Vec::new()) };
        // Each bound is a prefix of the postings (they are in time and in
        // cursor order), so the range's ends are the tighter of its bounds.
        let cursor = |p: &Posting| PostingCursor::of(p);
        let from = range.from.map_or(0, |from| all.count_before(from));
        let start = match range.after.filter(|_| !range.newest_first) {
            Some(after) => from.max(all.partition_point(|p| cursor(p) <= after)),
            None => from,
        };
        let until = range.until.map_or(all.len(), |until| all.count_before(until));
        let end = match range.after.filter(|_| range.newest_first) {
            Some(after) => until.min(all.partition_point(|p| cursor(p) < after)),
            None => until,
        };
        let slice = all.range(start, end.max(start));
        let found: Vec<Posting> = if range.newest_first {
            slice.rev().take(limit).cloned().collect()
        } else {
            slice.take(limit).cloned().collect()
        };
        debug_assert!(found.iter().all(|p| range.contains(p)));
        Ok(found)
    }

    async fn idempotency_record(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StorageError> {
        Ok(self.lock().idempotency.get(key).cloned())
    }

    async fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StorageError> {
        let state = self.lock();
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        Ok(state.audit.range(start, usize::MAX).take(limit).cloned().collect())
    }

    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<Change>, StorageError> {
        let state = self.lock();
        let start = state.changes.partition_point(|c| c.sequence <= after);
        Ok(state.changes.range(start, usize::MAX).take(limit).cloned().collect())
    }

    async fn changes_count_after(&self, after: u64) -> Result<u64, StorageError> {
        let state = self.lock();
        let start = state.changes.partition_point(|c| c.sequence <= after);
        Ok(u64::try_from(state.changes.len() - start).unwrap_or(u64::MAX))
    }

    async fn sink_cursor(&self, sink: &str) -> Result<u64, StorageError> {
        Ok(self.lock().sink_cursors.get(sink).copied().unwrap_or(0))
    }

    async fn advance_sink_cursor(&self, sink: &str, to: u64) -> Result<(), StorageError> {
        let mut state = self.lock();
        let cursor = state.sink_cursors.entry(sink.to_owned()).or_default();
        *cursor = (*cursor).max(to);
        Ok(())
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StorageError> {
        Ok(self.leases.try_take(name, holder, now, until))
    }

    async fn expired_holds(&self, at: DateTime<Utc>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        let state = self.lock();
        Ok(state
            .holds_by_expiry
            .iter()
            .take_while(|(expiry, _)| *expiry <= at)
            .filter_map(|(_, id)| state.transaction(*id))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn audit_records_by_actor(
        &self,
        actor: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        let state = self.lock();
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        Ok(state.audit.range(start, usize::MAX).filter(|r| r.actor == actor).take(limit).cloned().collect())
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StorageError> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StorageError> {
        let state = self.lock();
        Ok(state.user_by_email.get(email).and_then(|id| state.users.get(id)).cloned())
    }

    async fn users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>, StorageError> {
        let state = self.lock();
        let range = match after {
            Some(after) => state.users.range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
            None => state.users.range(..),
        };
        Ok(range.take(limit).map(|(_, u)| u.clone()).collect())
    }

    async fn session_by_token(&self, token: &Digest) -> Result<Option<Session>, StorageError> {
        let state = self.lock();
        Ok(state.session_by_token.get(token).and_then(|id| state.sessions.get(id)).cloned())
    }

    async fn sessions_of(&self, user: UserId, limit: usize) -> Result<Vec<Session>, StorageError> {
        let state = self.lock();
        let ids = state.sessions_of.get(&user).map(Vec::as_slice).unwrap_or_default();
        Ok(ids.iter().rev().filter_map(|id| state.sessions.get(id)).take(limit).cloned().collect())
    }

    async fn touch_session(&self, id: SessionId, at: DateTime<Utc>) -> Result<(), StorageError> {
        let mut state = self.lock();
        if let Some(s) = state.sessions.get_mut(&id)
            && s.revoked_at.is_none()
            && s.last_seen_at < at
        {
            s.last_seen_at = at;
        }
        Ok(())
    }

    async fn reset_token(&self, token: &Digest) -> Result<Option<ResetToken>, StorageError> {
        Ok(self.lock().reset_tokens.get(token).cloned())
    }

    async fn ping(&self) -> Result<(), StorageError> {
        Ok(())
    }

    async fn transactions_after(&self, after: Option<u64>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        Ok(self.lock().transactions_after(after, limit))
    }

    async fn sessions(&self, after: Option<SessionId>, limit: usize) -> Result<Vec<Session>, StorageError> {
        Ok(self.lock().sessions_page(after, limit))
    }

    async fn reset_tokens(&self, after: Option<Digest>, limit: usize) -> Result<Vec<ResetToken>, StorageError> {
        Ok(self.lock().reset_tokens_page(after, limit))
    }

    async fn idempotency_records(
        &self,
        after: Option<&IdempotencyKey>,
        limit: usize,
    ) -> Result<Vec<IdempotencyRecord>, StorageError> {
        Ok(self.lock().idempotency_page(after, limit))
    }

    async fn sink_cursors(&self) -> Result<Vec<SinkCursor>, StorageError> {
        Ok(self.lock().sink_cursors())
    }

    async fn restore(&self, chunk: &DumpChunk) -> Result<(), StorageError> {
        self.lock().restore(chunk);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::NewestFirst;

    #[test]
    fn newest_first_merges_lists_descending_and_yields_a_shared_sequence_once() {
        let (a, b, empty) = (vec![1, 4, 9, 12], vec![2, 4, 10], vec![]);
        let merged: Vec<u64> = NewestFirst::new(vec![&a, &b, &empty]).collect();
        assert_eq!(merged, vec![12, 10, 9, 4, 2, 1]);
        assert_eq!(NewestFirst::new(vec![]).next(), None);
    }
}
