//! The reads behind the [`Store`](ledger_core::Store) trait, synchronous over the trees: the
//! store runs them behind the commit gate (see `store.rs`).

use std::collections::BinaryHeap;
use std::ops::Bound;

use chrono::{DateTime, Utc};
use ledger_core::identity::{Email, ResetToken, Session, SessionId, User};
use ledger_core::{
    Account, AccountCode, AccountId, AccountNumber, AuditRecord, Change, Digest, HistoryFilter, IdempotencyKey,
    IdempotencyRecord, Posting, PostingRange, StorageError, Transaction, TransactionId, UserId,
};

use crate::codec::decode;
use crate::error::{self, corrupt};
use crate::keys;
use crate::store::Inner;

impl Inner {
    /// An account: cached, else as stored.
    pub(crate) fn account(&self, id: AccountId) -> Result<Option<Account>, StorageError> {
        match self.accounts.get(id) {
            Some(account) => Ok(Some(account)),
            None => self.stored_account(id),
        }
    }

    /// An account as the `accounts` tree holds it.
    pub(crate) fn stored_account(&self, id: AccountId) -> Result<Option<Account>, StorageError> {
        let bytes = self.trees.accounts.get(keys::account(id)).map_err(|e| error::sled("reading an account", e))?;
        bytes.map(|b| decode("an account", &b)).transpose()
    }

    pub(crate) fn account_by_number(&self, number: AccountNumber) -> Result<Option<Account>, StorageError> {
        let id = self
            .trees
            .account_numbers
            .get(keys::number(number))
            .map_err(|e| error::sled("reading the account number index", e))?;
        match id {
            Some(id) => self.account(AccountId::from_uuid(keys::uuid_suffix(&id)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn account_by_code(&self, code: &AccountCode) -> Result<Option<Account>, StorageError> {
        let id = self
            .trees
            .account_codes
            .get(code.as_str().as_bytes())
            .map_err(|e| error::sled("reading the account code index", e))?;
        match id {
            Some(id) => self.account(AccountId::from_uuid(keys::uuid_suffix(&id)?)),
            None => Ok(None),
        }
    }

    pub(crate) fn ledger_accounts(
        &self,
        after: Option<&AccountCode>,
        limit: usize,
    ) -> Result<Vec<Account>, StorageError> {
        let start = match after {
            Some(after) => Bound::Excluded(after.as_str().as_bytes().to_vec()),
            None => Bound::Unbounded,
        };
        self.trees
            .account_codes
            .range::<Vec<u8>, _>((start, Bound::Unbounded))
            .take(limit)
            .map(|entry| {
                let (_, id) = entry.map_err(|e| error::sled("listing ledger accounts", e))?;
                self.account(AccountId::from_uuid(keys::uuid_suffix(&id)?))?
                    .ok_or_else(|| corrupt("the code index names a missing account"))
            })
            .collect()
    }

    pub(crate) fn accounts_by_owner(&self, owner: UserId) -> Result<Vec<Account>, StorageError> {
        let mut accounts = Vec::new();
        for entry in self.trees.accounts_by_owner.scan_prefix(keys::user(owner)) {
            let (key, _) = entry.map_err(|e| error::sled("reading the owner index", e))?;
            let id = AccountId::from_uuid(keys::uuid_suffix(&key)?);
            accounts.push(self.account(id)?.ok_or_else(|| corrupt("the owner index names a missing account"))?);
        }
        Ok(accounts)
    }

    pub(crate) fn accounts(&self, after: Option<AccountId>, limit: usize) -> Result<Vec<Account>, StorageError> {
        let start = match after {
            Some(after) => Bound::Excluded(keys::account(after)),
            None => Bound::Unbounded,
        };
        self.trees
            .accounts
            .range::<[u8; keys::ID_LEN], _>((start, Bound::Unbounded))
            .take(limit)
            .map(|entry| {
                let (_, bytes) = entry.map_err(|e| error::sled("listing accounts", e))?;
                decode("an account", &bytes)
            })
            .collect()
    }

    pub(crate) fn transaction_at(&self, seq: u64) -> Result<Option<Transaction>, StorageError> {
        let bytes =
            self.trees.transactions.get(keys::sequence(seq)).map_err(|e| error::sled("reading a transaction", e))?;
        bytes.map(|b| decode("a transaction", &b)).transpose()
    }

    pub(crate) fn transaction(&self, id: TransactionId) -> Result<Option<Transaction>, StorageError> {
        let seq = self
            .trees
            .transaction_ids
            .get(keys::transaction(id))
            .map_err(|e| error::sled("reading the transaction id index", e))?;
        match seq {
            Some(seq) => self.transaction_at(keys::sequence_suffix(&seq)?),
            None => Ok(None),
        }
    }

    /// History, newest first. Without an account filter it walks the
    /// transactions tree backwards; with one it merges the accounts' history
    /// indexes backwards, so it reads only transactions of those accounts.
    pub(crate) fn transactions(
        &self,
        filter: &HistoryFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Transaction>, StorageError> {
        let below = before.unwrap_or(u64::MAX);
        let mut found = Vec::new();
        let mut keep = |t: Transaction| {
            if filter.matches(&t) {
                found.push(t);
            }
            found.len() < limit
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        if let Some((key, value)) = filter.metadata.first() {
            // The first pair's index drives; `keep` checks the rest.
            let start = keys::metadata_pair_sequence(key, value, 0);
            let end = keys::metadata_pair_sequence(key, value, below);
            for entry in self.trees.metadata_index.range(start..end).rev() {
                let (index_key, _) = entry.map_err(|e| error::sled("reading the metadata index", e))?;
                let t = self
                    .transaction_at(keys::sequence_suffix(&index_key)?)?
                    .ok_or_else(|| corrupt("the metadata index names a missing transaction"))?;
                if !keep(t) {
                    break;
                }
            }
        } else if filter.accounts.is_empty() {
            for entry in self.trees.transactions.range(..keys::sequence(below)).rev() {
                let (_, bytes) = entry.map_err(|e| error::sled("reading history", e))?;
                if !keep(decode("a transaction", &bytes)?) {
                    break;
                }
            }
        } else {
            let mut merge = DescendingMerge::new(&self.trees.account_history, &filter.accounts, below)?;
            while let Some(seq) = merge.next()? {
                let t = self
                    .transaction_at(seq)?
                    .ok_or_else(|| corrupt("the history index names a missing transaction"))?;
                if !keep(t) {
                    break;
                }
            }
        }
        Ok(found)
    }

    pub(crate) fn postings(
        &self,
        account: AccountId,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Posting>, StorageError> {
        let start = match after {
            Some(after) => Bound::Excluded(keys::account_sequence(account, after)),
            None => Bound::Included(keys::account_sequence(account, 0)),
        };
        let end = Bound::Included(keys::account_sequence(account, u64::MAX));
        self.trees
            .account_postings
            .range((start, end))
            .take(limit)
            .map(|entry| {
                let (_, bytes) = entry.map_err(|e| error::sled("reading postings", e))?;
                decode("a posting", &bytes)
            })
            .collect()
    }

    /// The last posting of `account` committed at or before `at`: one
    /// backward step in `posting_times`, one point read.
    pub(crate) fn posting_as_of(&self, account: AccountId, at: DateTime<Utc>) -> Result<Option<Posting>, StorageError> {
        let start = keys::account_time_sequence(account, ledger_core::clock::instant_min(), 0);
        let end = keys::account_time_sequence(account, at, u64::MAX);
        let Some(entry) = self.trees.posting_times.range(start..=end).next_back() else { return Ok(None) };
        let (key, _) = entry.map_err(|e| error::sled("reading posting times", e))?;
        self.posting(account, keys::sequence_suffix(&key)?).map(Some)
    }

    /// An account's postings in `range`, through `posting_times`.
    pub(crate) fn postings_in(&self, range: &PostingRange, limit: usize) -> Result<Vec<Posting>, StorageError> {
        let key = |at: DateTime<Utc>, seq: u64| keys::account_time_sequence(range.account, at, seq).to_vec();
        let mut start = Bound::Included(key(range.from.unwrap_or_else(ledger_core::clock::instant_min), 0));
        let mut end = match range.until {
            Some(until) => Bound::Excluded(key(until, 0)),
            None => Bound::Included(key(ledger_core::clock::instant_max(), u64::MAX)),
        };
        if let Some(after) = range.after {
            // The cursor narrows the side it moves from, unless that is narrower already.
            let past = key(after.at, after.sequence);
            let bound_key = |bound: &Bound<Vec<u8>>| match bound {
                Bound::Included(k) | Bound::Excluded(k) => k.clone(),
                Bound::Unbounded => Vec::new(),
            };
            if range.newest_first && past <= bound_key(&end) {
                end = Bound::Excluded(past);
            } else if !range.newest_first && past >= bound_key(&start) {
                start = Bound::Excluded(past);
            }
        }
        let entries = self.trees.posting_times.range((start, end));
        let keys: Box<dyn Iterator<Item = _>> =
            if range.newest_first { Box::new(entries.rev()) } else { Box::new(entries) };
        keys.take(limit)
            .map(|entry| {
                let (key, _) = entry.map_err(|e| error::sled("reading posting times", e))?;
                self.posting(range.account, keys::sequence_suffix(&key)?)
            })
            .collect()
    }

    /// One stored posting.
    fn posting(&self, account: AccountId, sequence: u64) -> Result<Posting, StorageError> {
        let bytes = self
            .trees
            .account_postings
            .get(keys::account_sequence(account, sequence))
            .map_err(|e| error::sled("reading a posting", e))?
            .ok_or_else(|| corrupt("the time index names a missing posting"))?;
        decode("a posting", &bytes)
    }

    pub(crate) fn idempotency_record(&self, key: &IdempotencyKey) -> Result<Option<IdempotencyRecord>, StorageError> {
        let bytes = self
            .trees
            .idempotency
            .get(key.as_str().as_bytes())
            .map_err(|e| error::sled("reading an idempotency record", e))?;
        bytes.map(|b| decode("an idempotency record", &b)).transpose()
    }

    pub(crate) fn audit_records(&self, after: u64, limit: usize) -> Result<Vec<AuditRecord>, StorageError> {
        self.trees
            .audit
            .range((Bound::Excluded(keys::sequence(after)), Bound::Unbounded))
            .take(limit)
            .map(|entry| {
                let (_, bytes) = entry.map_err(|e| error::sled("reading the audit log", e))?;
                decode("an audit record", &bytes)
            })
            .collect()
    }

    pub(crate) fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<Change>, StorageError> {
        self.trees
            .changes
            .range((Bound::Excluded(keys::sequence(after)), Bound::Unbounded))
            .take(limit)
            .map(|entry| {
                let (_, bytes) = entry.map_err(|e| error::sled("reading the change feed", e))?;
                decode("a change", &bytes)
            })
            .collect()
    }

    /// Counts by walking the range: a lag is what the sinks have yet to
    /// send, which they keep short.
    pub(crate) fn changes_count_after(&self, after: u64) -> Result<u64, StorageError> {
        let mut count = 0u64;
        for entry in self.trees.changes.range((Bound::Excluded(keys::sequence(after)), Bound::Unbounded)).keys() {
            entry.map_err(|e| error::sled("counting the change feed", e))?;
            count += 1;
        }
        Ok(count)
    }

    pub(crate) fn sink_cursor(&self, sink: &str) -> Result<u64, StorageError> {
        let bytes =
            self.trees.sink_cursors.get(sink.as_bytes()).map_err(|e| error::sled("reading a sink cursor", e))?;
        bytes.map_or(Ok(0), |bytes| keys::sequence_suffix(&bytes))
    }

    pub(crate) fn expired_holds(&self, at: DateTime<Utc>, limit: usize) -> Result<Vec<Transaction>, StorageError> {
        self.trees
            .holds_by_expiry
            .range(..=keys::expiry_upper(at))
            .take(limit)
            .map(|entry| {
                let (_, seq) = entry.map_err(|e| error::sled("reading the hold expiry index", e))?;
                self.transaction_at(keys::sequence_suffix(&seq)?)?
                    .ok_or_else(|| corrupt("the expiry index names a missing hold"))
            })
            .collect()
    }

    pub(crate) fn audit_records_by_actor(
        &self,
        actor: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        let start = Bound::Excluded(keys::actor_sequence(actor, after));
        let end = Bound::Included(keys::actor_sequence(actor, u64::MAX));
        self.trees
            .audit_by_actor
            .range((start, end))
            .take(limit)
            .map(|entry| {
                let (key, _) = entry.map_err(|e| error::sled("reading the audit actor index", e))?;
                let bytes = self
                    .trees
                    .audit
                    .get(keys::sequence(keys::sequence_suffix(&key)?))
                    .map_err(|e| error::sled("reading the audit log", e))?
                    .ok_or_else(|| corrupt("the audit actor index names a missing record"))?;
                decode("an audit record", &bytes)
            })
            .collect()
    }

    pub(crate) fn user(&self, id: UserId) -> Result<Option<User>, StorageError> {
        let bytes = self.trees.users.get(keys::user(id)).map_err(|e| error::sled("reading a user", e))?;
        bytes.map(|b| decode("a user", &b)).transpose()
    }

    pub(crate) fn user_by_email(&self, email: &Email) -> Result<Option<User>, StorageError> {
        let id =
            self.trees.user_emails.get(keys::email(email)).map_err(|e| error::sled("reading the email index", e))?;
        match id {
            Some(id) => Ok(Some(
                self.user(UserId::from_uuid(keys::uuid_suffix(&id)?))?
                    .ok_or_else(|| corrupt("the email index names a missing user"))?,
            )),
            None => Ok(None),
        }
    }

    pub(crate) fn users(&self, after: Option<UserId>, limit: usize) -> Result<Vec<User>, StorageError> {
        let start = match after {
            Some(after) => Bound::Excluded(keys::user(after)),
            None => Bound::Unbounded,
        };
        self.trees
            .users
            .range::<[u8; keys::ID_LEN], _>((start, Bound::Unbounded))
            .take(limit)
            .map(|entry| {
                let (_, bytes) = entry.map_err(|e| error::sled("listing users", e))?;
                decode("a user", &bytes)
            })
            .collect()
    }

    pub(crate) fn session(&self, id: SessionId) -> Result<Option<Session>, StorageError> {
        let bytes = self.trees.sessions.get(keys::session(id)).map_err(|e| error::sled("reading a session", e))?;
        bytes.map(|b| decode("a session", &b)).transpose()
    }

    pub(crate) fn session_by_token(&self, token: &Digest) -> Result<Option<Session>, StorageError> {
        let id = self
            .trees
            .session_tokens
            .get(keys::digest(token))
            .map_err(|e| error::sled("reading the session token index", e))?;
        match id {
            Some(id) => Ok(Some(
                self.session(SessionId(keys::uuid_suffix(&id)?))?
                    .ok_or_else(|| corrupt("the session token index names a missing session"))?,
            )),
            None => Ok(None),
        }
    }

    /// A user's sessions, newest (last committed) first.
    pub(crate) fn sessions_of(&self, user: UserId, limit: usize) -> Result<Vec<Session>, StorageError> {
        self.trees
            .user_sessions
            .scan_prefix(keys::user(user))
            .rev()
            .take(limit)
            .map(|entry| {
                let (key, _) = entry.map_err(|e| error::sled("reading the user session index", e))?;
                self.session(SessionId(keys::uuid_suffix(&key)?))?
                    .ok_or_else(|| corrupt("the user session index names a missing session"))
            })
            .collect()
    }

    pub(crate) fn reset_token(&self, token: &Digest) -> Result<Option<ResetToken>, StorageError> {
        let bytes =
            self.trees.reset_tokens.get(keys::digest(token)).map_err(|e| error::sled("reading a reset token", e))?;
        bytes.map(|b| decode("a reset token", &b)).transpose()
    }
}

/// Merges several accounts' history index ranges into one stream of
/// sequences, highest first, each once (a transfer between two filtered
/// accounts is indexed under both).
struct DescendingMerge {
    ranges: Vec<std::iter::Rev<sled::Iter>>,
    heads: BinaryHeap<(u64, usize)>,
    last: Option<u64>,
}

impl DescendingMerge {
    fn new(index: &sled::Tree, accounts: &[AccountId], below: u64) -> Result<DescendingMerge, StorageError> {
        let ranges = accounts
            .iter()
            .map(|a| index.range(keys::account_sequence(*a, 0)..keys::account_sequence(*a, below)).rev())
            .collect();
        let mut merge = DescendingMerge { ranges, heads: BinaryHeap::new(), last: None };
        for i in 0..merge.ranges.len() {
            merge.advance(i)?;
        }
        Ok(merge)
    }

    /// Pulls range `i`'s next sequence into the heap.
    fn advance(&mut self, i: usize) -> Result<(), StorageError> {
        if let Some(entry) = self.ranges.get_mut(i).and_then(Iterator::next) {
            let (key, _) = entry.map_err(|e| error::sled("reading the history index", e))?;
            self.heads.push((keys::sequence_suffix(&key)?, i));
        }
        Ok(())
    }

    fn next(&mut self) -> Result<Option<u64>, StorageError> {
        while let Some((seq, i)) = self.heads.pop() {
            self.advance(i)?;
            if self.last != Some(seq) {
                self.last = Some(seq);
                return Ok(Some(seq));
            }
        }
        Ok(None)
    }
}
