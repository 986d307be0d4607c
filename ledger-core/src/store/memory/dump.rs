//! The memory store's side of dumps: every record of a section in its
//! canonical order, and restoring dumped records with their indexes.

use crate::digest::Digest;
use crate::dump::{DumpChunk, SinkCursor};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};
use crate::identity::{ResetToken, Session, SessionId};
use crate::transaction::{Transaction, TransactionStatus};

use super::State;

/// The `limit` items with the smallest keys above `after`, in key order:
/// one pass over a hashed collection and a sort of the page only.
fn page_by<'a, T: Clone + 'a, K: Ord>(
    items: impl Iterator<Item = &'a T>,
    key: impl Fn(&T) -> K,
    after: Option<K>,
    limit: usize,
) -> Vec<T> {
    let mut page: Vec<&T> = items.filter(|item| after.as_ref().is_none_or(|after| key(item) > *after)).collect();
    if page.len() > limit && limit > 0 {
        page.select_nth_unstable_by(limit - 1, |a, b| key(a).cmp(&key(b)));
    }
    page.truncate(limit);
    page.sort_by_key(|item| key(item));
    page.into_iter().cloned().collect()
}

impl State {
    pub(super) fn transactions_after(&self, after: Option<u64>, limit: usize) -> Vec<Transaction> {
        let start = after.map_or(0, |after| self.transactions.0.partition_point(|t| t.sequence <= after));
        let end = start.saturating_add(limit).min(self.transactions.0.len());
        self.transactions.0.range(start, end.max(start)).cloned().collect()
    }

    pub(super) fn sessions_page(&self, after: Option<SessionId>, limit: usize) -> Vec<Session> {
        page_by(self.sessions.values(), |s| s.id, after, limit)
    }

    pub(super) fn reset_tokens_page(&self, after: Option<Digest>, limit: usize) -> Vec<ResetToken> {
        page_by(self.reset_tokens.values(), |t| t.token_digest, after, limit)
    }

    pub(super) fn idempotency_page(&self, after: Option<&IdempotencyKey>, limit: usize) -> Vec<IdempotencyRecord> {
        page_by(self.idempotency.iter(), |r| r.key.as_str().to_owned(), after.map(|k| k.as_str().to_owned()), limit)
    }

    pub(super) fn sink_cursors(&self) -> Vec<SinkCursor> {
        let mut cursors: Vec<SinkCursor> = self
            .sink_cursors
            .iter()
            .map(|(sink, sequence)| SinkCursor { sink: sink.clone(), sequence: *sequence })
            .collect();
        cursors.sort_by(|a, b| a.sink.cmp(&b.sink));
        cursors
    }

    /// Writes dumped records with their indexes, as `write` does for new ones.
    pub(super) fn restore(&mut self, chunk: &DumpChunk) {
        for user in &chunk.users {
            self.user_by_email.insert(user.email.clone(), user.id);
            self.users.insert(user.id, user.clone());
        }
        for session in &chunk.sessions {
            self.session_by_token.insert(session.token_digest, session.id);
            self.sessions_of.entry(session.user_id).or_default().push(session.id);
            self.sessions.insert(session.id, session.clone());
        }
        for token in &chunk.reset_tokens {
            self.reset_tokens.insert(token.token_digest, token.clone());
        }
        for account in &chunk.accounts {
            if let Some(code) = &account.code {
                self.by_code.insert(code.clone(), account.id);
            }
            self.by_number.insert(account.number, account.id);
            self.by_owner.entry(account.owner).or_default().push(account.id);
            self.account_ids.insert(account.id);
            self.accounts.insert(account.id, account.clone());
        }
        for t in &chunk.transactions {
            for account in t.accounts() {
                self.history_of.entry(account).or_default().push(t.sequence);
            }
            for (key, value) in t.metadata.iter() {
                self.by_metadata.entry((key.to_owned(), value.to_owned())).or_default().push(t.sequence);
            }
            if let (TransactionStatus::Pending, Some(expiry)) = (t.status, t.expires_at) {
                self.holds_by_expiry.insert((expiry, t.id));
            }
            self.sequence_of.insert(t.id, t.sequence);
            self.transactions.append(t.clone());
        }
        for p in &chunk.postings {
            self.postings_of.entry(p.account_id).or_default().push(p.clone());
        }
        for record in &chunk.idempotency {
            self.idempotency.insert(record.clone());
        }
        for record in &chunk.audit {
            self.audit.push(record.clone());
        }
        for change in &chunk.changes {
            self.changes.push(change.clone());
        }
        for cursor in &chunk.sink_cursors {
            self.sink_cursors.insert(cursor.sink.clone(), cursor.sequence);
        }
    }
}
