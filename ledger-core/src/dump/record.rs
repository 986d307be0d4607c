//! What a dump holds: [`DumpRecord`]s, each of one [`Section`], in the
//! dump's order (sections in [`Section::ALL`]'s order, records in each by
//! their natural key: [`DumpRecord::order_key`]).

use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::audit::AuditRecord;
use crate::change::Change;
use crate::idempotency::IdempotencyRecord;
use crate::identity::{ResetToken, Session, User};
use crate::posting::Posting;
use crate::transaction::Transaction;

/// A part of a dump. A dump lists its sections in the order of
/// [`Section::ALL`], so that a record's section comes after those it refers
/// to (a session after its user, a posting after its transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Section {
    /// Users, by id.
    Users,
    /// Sessions, by id.
    Sessions,
    /// Password-reset tokens, by digest.
    ResetTokens,
    /// Accounts, by id.
    Accounts,
    /// Transactions (holds included, in whatever status), by sequence.
    Transactions,
    /// Postings with their running balances, by account id, then sequence.
    Postings,
    /// Idempotency records, by key (byte order).
    Idempotency,
    /// The audit log with its hashes, by sequence.
    Audit,
    /// The change feed, by sequence.
    Changes,
    /// The sinks' cursors, by sink name (byte order).
    SinkCursors,
}

impl Section {
    /// Every section, in dump order.
    pub const ALL: [Section; 10] = [
        Section::Users,
        Section::Sessions,
        Section::ResetTokens,
        Section::Accounts,
        Section::Transactions,
        Section::Postings,
        Section::Idempotency,
        Section::Audit,
        Section::Changes,
        Section::SinkCursors,
    ];

    /// The section's name in a dump (`reset_tokens`).
    pub fn name(self) -> &'static str {
        match self {
            Section::Users => "users",
            Section::Sessions => "sessions",
            Section::ResetTokens => "reset_tokens",
            Section::Accounts => "accounts",
            Section::Transactions => "transactions",
            Section::Postings => "postings",
            Section::Idempotency => "idempotency",
            Section::Audit => "audit",
            Section::Changes => "changes",
            Section::SinkCursors => "sink_cursors",
        }
    }
}

impl std::fmt::Display for Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A sink's confirmed position in the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkCursor {
    /// The sink's name.
    pub sink: String,
    /// The sequence up to which it confirmed delivery.
    pub sequence: u64,
}

/// One stored record, tagged with its section: `{"section": "users",
/// "record": {...}}` in a self-describing format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "section", content = "record")]
#[non_exhaustive]
pub enum DumpRecord {
    /// A user (password digest included).
    #[serde(rename = "users")]
    User(User),
    /// A session (its token's digest, never the token).
    #[serde(rename = "sessions")]
    Session(Session),
    /// A password-reset token's record (its digest).
    #[serde(rename = "reset_tokens")]
    ResetToken(ResetToken),
    /// An account with its balances.
    #[serde(rename = "accounts")]
    Account(Account),
    /// A transaction in its current state.
    #[serde(rename = "transactions")]
    Transaction(Transaction),
    /// A posting with its running balance.
    #[serde(rename = "postings")]
    Posting(Posting),
    /// An idempotency record.
    #[serde(rename = "idempotency")]
    Idempotency(IdempotencyRecord),
    /// An audit record with its hashes.
    #[serde(rename = "audit")]
    Audit(AuditRecord),
    /// A change of the feed (boxed: it carries the accounts it touched).
    #[serde(rename = "changes")]
    Change(Box<Change>),
    /// A sink's cursor.
    #[serde(rename = "sink_cursors")]
    SinkCursor(SinkCursor),
}

impl DumpRecord {
    /// The record with every decimal of its own in its shortest form
    /// (`12.5`, not `12.50`): stores keep a decimal's scale differently
    /// (SQLite in fixed units), and a dump must read alike from every
    /// backend. A change keeps its bytes: its body is what was published.
    pub fn canonical(self) -> DumpRecord {
        match self {
            DumpRecord::Account(mut a) => {
                a.balance.posted = a.balance.posted.normalize();
                a.balance.pending = a.balance.pending.normalize();
                a.overdraft_limit = a.overdraft_limit.normalize();
                a.ledger_floor = a.ledger_floor.map(|f| f.normalize());
                DumpRecord::Account(a)
            }
            DumpRecord::Transaction(mut t) => {
                t.amount = t.amount.normalize();
                t.captured_amount = t.captured_amount.map(|c| c.normalize());
                t.reversed_amount = t.reversed_amount.normalize();
                for leg in &mut t.legs {
                    leg.amount = leg.amount.normalize();
                }
                DumpRecord::Transaction(t)
            }
            DumpRecord::Posting(mut p) => {
                p.amount = p.amount.normalize();
                p.balance_after = p.balance_after.normalize();
                DumpRecord::Posting(p)
            }
            other => other,
        }
    }

    /// The record's section.
    pub fn section(&self) -> Section {
        match self {
            DumpRecord::User(_) => Section::Users,
            DumpRecord::Session(_) => Section::Sessions,
            DumpRecord::ResetToken(_) => Section::ResetTokens,
            DumpRecord::Account(_) => Section::Accounts,
            DumpRecord::Transaction(_) => Section::Transactions,
            DumpRecord::Posting(_) => Section::Postings,
            DumpRecord::Idempotency(_) => Section::Idempotency,
            DumpRecord::Audit(_) => Section::Audit,
            DumpRecord::Change(_) => Section::Changes,
            DumpRecord::SinkCursor(_) => Section::SinkCursors,
        }
    }

    /// The record's place in a dump: its section, then its natural key as
    /// bytes whose order is the key's order (ids and digests as bytes,
    /// sequences big-endian, text as UTF-8). Two records of a dump never
    /// share one, and a dump lists them in ascending order.
    pub fn order_key(&self) -> (Section, Vec<u8>) {
        let key = match self {
            DumpRecord::User(u) => u.id.as_uuid().as_bytes().to_vec(),
            DumpRecord::Session(s) => s.id.0.as_bytes().to_vec(),
            DumpRecord::ResetToken(t) => t.token_digest.0.to_vec(),
            DumpRecord::Account(a) => a.id.as_uuid().as_bytes().to_vec(),
            DumpRecord::Transaction(t) => t.sequence.to_be_bytes().to_vec(),
            DumpRecord::Posting(p) => {
                let mut key = p.account_id.as_uuid().as_bytes().to_vec();
                key.extend_from_slice(&p.sequence.to_be_bytes());
                key
            }
            DumpRecord::Idempotency(r) => r.key.as_str().as_bytes().to_vec(),
            DumpRecord::Audit(r) => r.sequence.to_be_bytes().to_vec(),
            DumpRecord::Change(c) => c.sequence.to_be_bytes().to_vec(),
            DumpRecord::SinkCursor(c) => c.sink.as_bytes().to_vec(),
        };
        (self.section(), key)
    }
}
