//! The sled store's side of dumps: every record of a section in its
//! canonical order (the trees' key order), and restoring dumped records
//! with every index tree, in one sled transaction per chunk.

use std::collections::BTreeMap;
use std::ops::Bound;

use ledger_core::dump::{DumpChunk, SinkCursor};
use ledger_core::identity::{ResetToken, Session, SessionId};
use ledger_core::{Digest, IdempotencyKey, IdempotencyRecord, StorageError, Transaction, UserId};
use serde::de::DeserializeOwned;
use sled::Tree;

use crate::codec::{decode, encode};
use crate::error;
use crate::keys;
use crate::store::Inner;
use crate::trees::{Staged, encode_head};

/// The values of `tree` after the key `after` (from the start without
/// one), in key order, at most `limit`.
fn page<T: DeserializeOwned>(
    tree: &Tree,
    after: Option<Vec<u8>>,
    limit: usize,
    what: &str,
) -> Result<Vec<T>, StorageError> {
    let start = after.map_or(Bound::Unbounded, Bound::Excluded);
    tree.range::<Vec<u8>, _>((start, Bound::Unbounded))
        .take(limit)
        .map(|entry| {
            let (_, bytes) = entry.map_err(|e| error::sled(&format!("reading {what}"), e))?;
            decode(what, &bytes)
        })
        .collect()
}

impl Inner {
    pub(crate) fn transactions_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Transaction>, StorageError> {
        page(&self.trees.transactions, after.map(|s| keys::sequence(s).to_vec()), limit, "a transaction")
    }

    pub(crate) fn sessions_page(&self, after: Option<SessionId>, limit: usize) -> Result<Vec<Session>, StorageError> {
        page(&self.trees.sessions, after.map(|id| keys::session(id).to_vec()), limit, "a session")
    }

    pub(crate) fn reset_tokens_page(
        &self,
        after: Option<Digest>,
        limit: usize,
    ) -> Result<Vec<ResetToken>, StorageError> {
        page(&self.trees.reset_tokens, after.map(|d| keys::digest(&d).to_vec()), limit, "a reset token")
    }

    pub(crate) fn idempotency_page(
        &self,
        after: Option<IdempotencyKey>,
        limit: usize,
    ) -> Result<Vec<IdempotencyRecord>, StorageError> {
        let after = after.map(|key| key.as_str().as_bytes().to_vec());
        page(&self.trees.idempotency, after, limit, "an idempotency record")
    }

    pub(crate) fn sink_cursors(&self) -> Result<Vec<SinkCursor>, StorageError> {
        self.trees
            .sink_cursors
            .iter()
            .map(|entry| {
                let (sink, cursor) = entry.map_err(|e| error::sled("reading the sink cursors", e))?;
                let sink = String::from_utf8(sink.to_vec()).map_err(|_| error::corrupt("a sink name is not UTF-8"))?;
                Ok(SinkCursor { sink, sequence: keys::sequence_suffix(&cursor)? })
            })
            .collect()
    }

    /// Writes dumped records and their indexes in one sled transaction, as
    /// the one writer, then flushes (per the store's durability).
    pub(crate) fn restore(&self, chunk: &DumpChunk) -> Result<(), StorageError> {
        self.check_flushed()?;
        let _writer = self.writer();
        let mut staged = Staged::new(&self.trees, &self.accounts);
        staged.restore(chunk)?;
        {
            let _gate = self.write_gate();
            self.trees.commit(staged)?;
        }
        self.sync()
    }
}

impl Staged<'_> {
    /// Stages dumped records with the index entries `write` gives new ones.
    fn restore(&mut self, chunk: &DumpChunk) -> Result<(), StorageError> {
        for user in &chunk.users {
            self.user_emails.insert(keys::email(&user.email), &keys::user(user.id));
            self.users.insert(keys::user(user.id), encode("a user", user)?);
        }
        let mut live: BTreeMap<UserId, Vec<SessionId>> = BTreeMap::new();
        for (i, session) in chunk.sessions.iter().enumerate() {
            self.session_tokens.insert(keys::digest(&session.token_digest), &keys::session(session.id));
            let order = chunk.sessions_position + i as u64;
            self.user_sessions.insert(&keys::user_session(session.user_id, order, session.id)[..], &[]);
            if session.revoked_at.is_none() {
                live.entry(session.user_id).or_default().push(session.id);
            }
            self.sessions.insert(keys::session(session.id), encode("a session", session)?);
        }
        for (user, opened) in live {
            let mut ids = match self.live_sessions.get(keys::user(user))? {
                Some(bytes) => keys::session_list_ids(&bytes)?,
                None => Vec::new(),
            };
            ids.extend(opened);
            self.live_sessions.insert(keys::user(user), keys::session_list(&ids));
        }
        for token in &chunk.reset_tokens {
            self.reset_tokens.insert(keys::digest(&token.token_digest), encode("a reset token", token)?);
        }
        for (i, account) in chunk.accounts.iter().enumerate() {
            self.insert_new_account(account, chunk.accounts_position + i as u64)?;
        }
        for t in &chunk.transactions {
            self.insert_new_transaction(t)?;
        }
        for p in &chunk.postings {
            self.account_postings.insert(keys::account_sequence(p.account_id, p.sequence), encode("a posting", p)?);
            self.posting_times.insert(&keys::account_time_sequence(p.account_id, p.at, p.sequence)[..], &[][..]);
        }
        for record in &chunk.idempotency {
            self.idempotency.insert(record.key.as_str().as_bytes(), encode("an idempotency record", record)?);
        }
        for record in &chunk.audit {
            self.audit.insert(keys::sequence(record.sequence), encode("an audit record", record)?);
            self.audit_by_actor.insert(keys::actor_sequence(&record.actor, record.sequence), &[]);
        }
        if let Some(last) = chunk.audit.last() {
            self.meta.insert(keys::META_AUDIT_HEAD, encode_head(last.head()));
        }
        for change in &chunk.changes {
            self.changes.insert(keys::sequence(change.sequence), encode("a change", change)?);
        }
        for cursor in &chunk.sink_cursors {
            self.sink_cursors.insert(cursor.sink.as_bytes(), &keys::sequence(cursor.sequence)[..]);
        }
        Ok(())
    }
}
