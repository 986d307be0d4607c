//! The audit log: append-only, hash-chained, committed with the change it records.
//!
//! Record `n` carries the hash of record `n - 1` and its own hash over its
//! fields and that link. [`verify_chain`] recomputes every hash, so altering
//! any field, removing or reordering a record, breaks the chain at that point.
//! Removing records from the end is only caught against a head kept elsewhere
//! (pass it as `expected_head`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod metadata;

use crate::digest::{Digest, Hasher};
use crate::error::LedgerError;
use crate::stored_text::audit_text;
use metadata::AuditMetadata;

/// The most audit records one query returns.
pub const AUDIT_PAGE_SIZE_MAX: usize = 1000;

/// Whether the audited action took effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AuditOutcome {
    /// The change was committed.
    Accepted,
    /// The command was refused; nothing else changed.
    Rejected {
        /// The error's stable code.
        code: String,
        /// The error's message.
        reason: String,
    },
}

impl AuditOutcome {
    /// The outcome of a refused command.
    pub fn rejected(error: &LedgerError) -> AuditOutcome {
        AuditOutcome::Rejected { code: error.code().to_owned(), reason: error.to_string() }
    }
}

/// An audit record before the store places it in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDraft {
    /// Who acted (`system`, `user:<id>`).
    pub actor: String,
    /// What was attempted (`deposit`, `transfer`, `account.freeze`, ...).
    pub action: String,
    /// What it was aimed at (`account:<id>`, `hold:<id>`, ...).
    pub target: String,
    /// Request metadata and command details.
    pub metadata: AuditMetadata,
}

impl AuditDraft {
    /// A draft with no metadata.
    pub fn new(actor: impl Into<String>, action: impl Into<String>, target: impl Into<String>) -> AuditDraft {
        AuditDraft { actor: actor.into(), action: action.into(), target: target.into(), metadata: AuditMetadata::new() }
    }

    /// Adds one metadata entry.
    pub fn with(mut self, key: &str, value: impl ToString) -> AuditDraft {
        self.metadata.insert(key, value.to_string());
        self
    }
}

/// An audit record booked but not yet placed in the chain: what was
/// attempted, how it ended and when. Sealing it after a head gives it its
/// sequence and its link ([`AuditEntry::seal`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Who acted, what was attempted, on what, with which details.
    pub draft: AuditDraft,
    /// Accepted, or rejected with a reason.
    pub outcome: AuditOutcome,
    /// When it was booked.
    pub at: DateTime<Utc>,
}

impl AuditEntry {
    /// Places the entry after `head` ([`AuditRecord::seal`]).
    pub fn seal(self, head: AuditHead) -> AuditRecord {
        AuditRecord::seal(head, self.draft, self.outcome, self.at)
    }
}

/// The end of the chain: what the next record links to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuditHead {
    /// Sequence of the last record (0 when the log is empty).
    pub sequence: u64,
    /// Hash of the last record ([`Digest::ZERO`] when empty).
    pub hash: Digest,
    /// When the last record was written (`None` when the log is empty):
    /// the next commit is never earlier (see `decide`'s commit time).
    pub at: Option<DateTime<Utc>>,
}

/// A record in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 1, without gaps.
    pub sequence: u64,
    /// When it was committed.
    pub at: DateTime<Utc>,
    /// Who acted.
    pub actor: String,
    /// What was attempted.
    pub action: String,
    /// What it was aimed at.
    pub target: String,
    /// Accepted, or rejected with a reason.
    pub outcome: AuditOutcome,
    /// Request metadata and command details.
    pub metadata: AuditMetadata,
    /// Hash of the previous record.
    pub prev_hash: Digest,
    /// Hash of this record's fields and `prev_hash`.
    pub hash: Digest,
}

impl AuditRecord {
    /// Places a draft after `head`, with its outcome. Every text field is
    /// stored in its bounded, escaped form ([`audit_text`]), so a record is
    /// storable on every backend whatever raw input it quotes.
    pub fn seal(head: AuditHead, draft: AuditDraft, outcome: AuditOutcome, at: DateTime<Utc>) -> AuditRecord {
        let outcome = match outcome {
            AuditOutcome::Rejected { code, reason } => {
                AuditOutcome::Rejected { code: storable(code), reason: storable(reason) }
            }
            accepted => accepted,
        };
        let metadata = if draft.metadata.iter().any(|(k, v)| needs_cleaning(k) || needs_cleaning(v)) {
            draft.metadata.iter().map(|(k, v)| (audit_text(k).into_owned(), audit_text(v).into_owned())).collect()
        } else {
            draft.metadata
        };
        let mut record = AuditRecord {
            sequence: head.sequence + 1,
            at,
            actor: storable(draft.actor),
            action: storable(draft.action),
            target: storable(draft.target),
            outcome,
            metadata,
            prev_hash: head.hash,
            hash: Digest::ZERO,
        };
        record.hash = record.compute_hash();
        record
    }

    /// The hash this record should carry.
    pub fn compute_hash(&self) -> Digest {
        let mut h = Hasher::new("ledger.audit.v1");
        h.u64(self.sequence).time(self.at).str(&self.actor).str(&self.action).str(&self.target);
        match &self.outcome {
            AuditOutcome::Accepted => h.str("accepted"),
            AuditOutcome::Rejected { code, reason } => h.str("rejected").str(code).str(reason),
        };
        h.u64(self.metadata.len() as u64);
        for (k, v) in self.metadata.iter() {
            h.str(k).str(v);
        }
        h.digest(&self.prev_hash);
        h.finish()
    }

    /// The head this record makes.
    pub fn head(&self) -> AuditHead {
        AuditHead { sequence: self.sequence, hash: self.hash, at: Some(self.at) }
    }
}

/// `text` in the form the audit log stores, reusing it when it is already so.
fn storable(text: String) -> String {
    match audit_text(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(cleaned) => cleaned,
    }
}

fn needs_cleaning(text: &str) -> bool {
    matches!(audit_text(text), std::borrow::Cow::Owned(_))
}

/// Where and how the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainBreak {
    /// A record's sequence is not one more than the previous one's.
    #[error("record {found} follows {previous}: a record is missing or out of order")]
    Gap {
        /// The previous record's sequence.
        previous: u64,
        /// This record's sequence.
        found: u64,
    },
    /// A record does not link to the previous record's hash.
    #[error("record {sequence} does not link to its predecessor")]
    BrokenLink {
        /// The record.
        sequence: u64,
    },
    /// A record's hash does not match its contents.
    #[error("record {sequence} was altered")]
    Altered {
        /// The record.
        sequence: u64,
    },
    /// The chain ends somewhere other than the expected head.
    #[error("the log ends at {found}, expected {expected}")]
    WrongHead {
        /// Sequence the caller expected.
        expected: u64,
        /// Sequence found.
        found: u64,
    },
}

/// Incrementally verifies records fed in order, from the first.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    head: AuditHead,
}

impl ChainVerifier {
    /// Starts at the beginning of the log.
    pub fn new() -> ChainVerifier {
        ChainVerifier::default()
    }

    /// Checks the next record.
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        if record.sequence != self.head.sequence + 1 {
            return Err(ChainBreak::Gap { previous: self.head.sequence, found: record.sequence });
        }
        if record.prev_hash != self.head.hash {
            return Err(ChainBreak::BrokenLink { sequence: record.sequence });
        }
        if record.compute_hash() != record.hash {
            return Err(ChainBreak::Altered { sequence: record.sequence });
        }
        self.head = record.head();
        Ok(())
    }

    /// The head reached so far.
    pub fn head(&self) -> AuditHead {
        self.head
    }

    /// Checks that the log ended where the caller expected.
    pub fn finish(self, expected_head: Option<AuditHead>) -> Result<AuditHead, ChainBreak> {
        match expected_head {
            Some(expected) if expected != self.head => {
                Err(ChainBreak::WrongHead { expected: expected.sequence, found: self.head.sequence })
            }
            _ => Ok(self.head),
        }
    }
}

/// Verifies a whole log given in order.
pub fn verify_chain<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    expected_head: Option<AuditHead>,
) -> Result<AuditHead, ChainBreak> {
    let mut verifier = ChainVerifier::new();
    for record in records {
        verifier.push(record)?;
    }
    verifier.finish(expected_head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<AuditRecord> {
        let mut head = AuditHead::default();
        (0..n)
            .map(|i| {
                let draft = AuditDraft::new("system", "deposit", format!("account:{i}")).with("amount", "1.00");
                let record = AuditRecord::seal(head, draft, AuditOutcome::Accepted, Utc::now());
                head = record.head();
                record
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let log = chain(5);
        let head = log.last().map(AuditRecord::head);
        assert_eq!(verify_chain(&log, head), Ok(log[4].head()));
    }

    #[test]
    fn an_altered_field_is_detected() {
        let mut log = chain(5);
        log[2].target = "account:evil".into();
        assert_eq!(verify_chain(&log, None), Err(ChainBreak::Altered { sequence: 3 }));
        let mut log = chain(5);
        log[1].outcome = AuditOutcome::Rejected { code: "x".into(), reason: "y".into() };
        assert_eq!(verify_chain(&log, None), Err(ChainBreak::Altered { sequence: 2 }));
    }

    #[test]
    fn a_removed_record_is_detected() {
        let mut log = chain(5);
        log.remove(2);
        assert_eq!(verify_chain(&log, None), Err(ChainBreak::Gap { previous: 2, found: 4 }));
    }

    #[test]
    fn a_rehashed_forgery_breaks_the_link() {
        let mut log = chain(5);
        log[2].target = "account:evil".into();
        log[2].hash = log[2].compute_hash();
        assert_eq!(verify_chain(&log, None), Err(ChainBreak::BrokenLink { sequence: 4 }));
    }

    #[test]
    fn a_records_hash_is_the_one_stored_logs_were_sealed_with() {
        // Computed when metadata was a BTreeMap: records sealed then must
        // still verify, so the hash may never change for the same fields.
        let at = DateTime::parse_from_rfc3339("2026-11-30T12:00:00.123456789Z").map(|t| t.with_timezone(&Utc));
        let draft =
            AuditDraft::new("user:x", "transfer", "account:y").with("request_id", "r-1").with("idempotency_key", "k-1");
        let head = AuditHead { sequence: 41, hash: Digest([7; 32]), at: None };
        let record = at.map(|at| AuditRecord::seal(head, draft, AuditOutcome::Accepted, at));
        assert_eq!(
            record.map(|r| r.hash.to_string()),
            Ok("58412c07efcf639cc3f963ab6714ae3f2eb19f79363bca26ff9fe2c226fea24c".to_owned())
        );
    }

    #[test]
    fn raw_input_is_sealed_escaped_and_bounded_and_still_verifies() {
        let hostile = format!("email:evil\0@example.com{}", "x".repeat(64 * 1024));
        let draft = AuditDraft::new("system", "auth.login", hostile.clone()).with("user_agent", "a\0b");
        let error = LedgerError::InvalidCredentials;
        let record = AuditRecord::seal(AuditHead::default(), draft, AuditOutcome::rejected(&error), Utc::now());
        assert!(record.target.starts_with("email:evil\\u{0}@example.com"), "{}", &record.target[..40]);
        assert_eq!(record.target.chars().count(), crate::stored_text::AUDIT_TEXT_LEN_MAX);
        assert_eq!(record.metadata.get("user_agent"), Some("a\\u{0}b"));
        assert!(crate::stored_text::is_storable(&record.target));
        assert_eq!(verify_chain([&record], Some(record.head())), Ok(record.head()));
    }

    #[test]
    fn a_truncated_tail_is_detected_against_the_known_head() {
        let log = chain(5);
        let head = log[4].head();
        assert_eq!(verify_chain(&log[..4], Some(head)), Err(ChainBreak::WrongHead { expected: 5, found: 4 }));
    }
}
