//! [`DumpChunk`]: consecutive records of a dump grouped by kind, what
//! [`Store::restore`](crate::Store::restore) writes in one go.

use crate::account::Account;
use crate::audit::AuditRecord;
use crate::change::Change;
use crate::dump::record::{DumpRecord, SinkCursor};
use crate::idempotency::IdempotencyRecord;
use crate::identity::{ResetToken, Session, User};
use crate::posting::Posting;
use crate::transaction::Transaction;

/// Consecutive records of a dump, grouped by kind, each list in dump order.
/// A store writes them verbatim (nothing is decided) with the indexes it
/// keeps for them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DumpChunk {
    /// Users.
    pub users: Vec<User>,
    /// Sessions.
    pub sessions: Vec<Session>,
    /// The position in the dump's sessions of `sessions[0]`: a store that
    /// orders a user's sessions by when they opened orders them by it.
    pub sessions_position: u64,
    /// Reset tokens.
    pub reset_tokens: Vec<ResetToken>,
    /// Accounts.
    pub accounts: Vec<Account>,
    /// The position in the dump's accounts of `accounts[0]`: a store that
    /// orders an owner's accounts by when they opened orders them by it.
    pub accounts_position: u64,
    /// Transactions.
    pub transactions: Vec<Transaction>,
    /// Postings.
    pub postings: Vec<Posting>,
    /// Idempotency records.
    pub idempotency: Vec<IdempotencyRecord>,
    /// Audit records: the last one becomes the store's audit head.
    pub audit: Vec<AuditRecord>,
    /// Changes of the feed.
    pub changes: Vec<Change>,
    /// Sink cursors.
    pub sink_cursors: Vec<SinkCursor>,
}

impl DumpChunk {
    /// Adds a record to its list.
    pub fn push(&mut self, record: DumpRecord) {
        match record {
            DumpRecord::User(u) => self.users.push(u),
            DumpRecord::Session(s) => self.sessions.push(s),
            DumpRecord::ResetToken(t) => self.reset_tokens.push(t),
            DumpRecord::Account(a) => self.accounts.push(a),
            DumpRecord::Transaction(t) => self.transactions.push(t),
            DumpRecord::Posting(p) => self.postings.push(p),
            DumpRecord::Idempotency(r) => self.idempotency.push(r),
            DumpRecord::Audit(r) => self.audit.push(r),
            DumpRecord::Change(c) => self.changes.push(*c),
            DumpRecord::SinkCursor(c) => self.sink_cursors.push(c),
        }
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.users.len()
            + self.sessions.len()
            + self.reset_tokens.len()
            + self.accounts.len()
            + self.transactions.len()
            + self.postings.len()
            + self.idempotency.len()
            + self.audit.len()
            + self.changes.len()
            + self.sink_cursors.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
