//! Idempotency: a client key per money-moving command, so nothing applies twice.
//!
//! The store keeps, per key, a fingerprint of the command and the ids of the
//! transactions it created, written in the same atomic commit as the command.
//! A replay (same key, same fingerprint) returns those transactions; the same
//! key with another fingerprint is [`LedgerError::IdempotencyConflict`].
//! Rejected commands store no key: a client may retry after fixing the cause
//! (say, after a deposit covers an earlier insufficient-funds rejection).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::LedgerError;
use crate::id::TransactionId;

/// The most characters in an idempotency key.
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 128;

/// A client-chosen key: 1 to 128 printable ASCII characters, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks and wraps a key.
    pub fn new(key: impl Into<String>) -> Result<IdempotencyKey, LedgerError> {
        let key = key.into();
        let printable = key.bytes().all(|b| b.is_ascii_graphic());
        if key.is_empty() || key.len() > IDEMPOTENCY_KEY_LEN_MAX || !printable {
            return Err(LedgerError::InvalidIdempotencyKey);
        }
        Ok(IdempotencyKey(key))
    }

    /// The key as stored: prefixed with the actor, so keys of different
    /// users never collide (and a conflict never reveals another user's key).
    pub fn scoped(&self, actor: &crate::identity::Actor) -> IdempotencyKey {
        IdempotencyKey(format!("{}/{}", actor.audit_name(), self.0))
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = LedgerError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        IdempotencyKey::new(value)
    }
}

impl From<IdempotencyKey> for String {
    fn from(value: IdempotencyKey) -> Self {
        value.0
    }
}

/// What a command claims: its key and the fingerprint of its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// The client's key.
    pub key: IdempotencyKey,
    /// SHA-256 of the command's canonical encoding.
    pub fingerprint: Digest,
}

/// A stored key: what was asked and what it produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// The client's key.
    pub key: IdempotencyKey,
    /// Fingerprint of the command that first used the key.
    pub fingerprint: Digest,
    /// The transactions it created or changed, in command order.
    pub transaction_ids: Vec<TransactionId>,
    /// When it was committed.
    pub created_at: DateTime<Utc>,
}

/// What a claim means against the stored record for its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay<'a> {
    /// The key is new: apply the command.
    Fresh,
    /// The same command was applied before: return its result.
    Same(&'a IdempotencyRecord),
    /// The key was used for another command.
    Conflict,
}

impl IdempotencyClaim {
    /// Compares the claim with what the store holds for its key.
    pub fn check<'a>(&self, stored: Option<&'a IdempotencyRecord>) -> Replay<'a> {
        match stored {
            None => Replay::Fresh,
            Some(record) if record.fingerprint == self.fingerprint => Replay::Same(record),
            Some(_) => Replay::Conflict,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bounded_printable_ascii() {
        assert!(IdempotencyKey::new("order-42").is_ok());
        assert!(IdempotencyKey::new("k".repeat(IDEMPOTENCY_KEY_LEN_MAX)).is_ok());
        for bad in [String::new(), "a b".into(), "é".into(), "x\n".into(), "k".repeat(IDEMPOTENCY_KEY_LEN_MAX + 1)] {
            assert_eq!(IdempotencyKey::new(bad), Err(LedgerError::InvalidIdempotencyKey));
        }
    }

    #[test]
    fn claims_distinguish_fresh_same_and_conflict() {
        let key = IdempotencyKey::new("k").unwrap_or_else(|_| unreachable!());
        let claim = IdempotencyClaim { key: key.clone(), fingerprint: Digest([1; 32]) };
        let record =
            IdempotencyRecord { key, fingerprint: Digest([1; 32]), transaction_ids: vec![], created_at: Utc::now() };
        assert_eq!(claim.check(None), Replay::Fresh);
        assert_eq!(claim.check(Some(&record)), Replay::Same(&record));
        let other = IdempotencyRecord { fingerprint: Digest([2; 32]), ..record.clone() };
        assert_eq!(claim.check(Some(&other)), Replay::Conflict);
    }
}
