//! The audit log's query, page and verification.
//!
//! Amounts cross JSON as strings ("12.50"), never as numbers; request
//! bodies refuse unknown fields.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger_core::audit::{AuditOutcome, AuditRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /api/audit` query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Records after this sequence (from `next_after`; default 0).
    pub after: Option<u64>,
    /// Newest first instead (admins only): records before this sequence,
    /// from `next_before`; `0` starts at the newest record. Not with `after`.
    pub before: Option<u64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<usize>,
}

/// An audit record.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditRecordDto {
    /// Position in the log, from 1.
    pub sequence: u64,
    /// When committed.
    pub at: DateTime<Utc>,
    /// Who acted (`system`, `user:<id>`).
    pub actor: String,
    /// What was attempted.
    pub action: String,
    /// What it was aimed at.
    pub target: String,
    /// `accepted` or `rejected`.
    pub outcome: String,
    /// For a rejection: the error code.
    pub code: Option<String>,
    /// For a rejection: why.
    pub reason: Option<String>,
    /// Request metadata and command details.
    pub metadata: BTreeMap<String, String>,
    /// Hash of the previous record (hex).
    pub prev_hash: String,
    /// Hash of this record (hex).
    pub hash: String,
}

impl From<&AuditRecord> for AuditRecordDto {
    fn from(r: &AuditRecord) -> AuditRecordDto {
        let (outcome, code, reason) = match &r.outcome {
            AuditOutcome::Accepted => ("accepted", None, None),
            AuditOutcome::Rejected { code, reason } => ("rejected", Some(code.clone()), Some(reason.clone())),
        };
        AuditRecordDto {
            sequence: r.sequence,
            at: r.at,
            actor: r.actor.clone(),
            action: r.action.clone(),
            target: r.target.clone(),
            outcome: outcome.to_owned(),
            code,
            reason,
            metadata: r.metadata.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            prev_hash: r.prev_hash.to_string(),
            hash: r.hash.to_string(),
        }
    }
}

/// A page of audit records, oldest first (newest first with `before`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// The records.
    pub items: Vec<AuditRecordDto>,
    /// Pass as `after` for the next page; `null` when this page was not full.
    pub next_after: Option<u64>,
    /// With `before`: pass as `before` for the next (older) page; `null` at the oldest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
    /// For admins: who the page's actors and targets are, by their
    /// `user:<id>` or `account:<id>` name ("Alice Archer <alice@example.com>",
    /// "Checking 1234 5678 9012").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<String, String>,
}

/// The result of verifying the audit chain.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditVerification {
    /// Whether every record's hash and link verify.
    pub valid: bool,
    /// The last verified record's sequence (when valid).
    pub sequence: Option<u64>,
    /// The last verified record's hash (when valid).
    pub hash: Option<String>,
    /// Where and how the chain is broken (when not valid).
    pub error: Option<String>,
}
