//! The health report.
//!
//! Amounts cross JSON as strings ("12.50"), never as numbers; request
//! bodies refuse unknown fields.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::publish::DegradedSink;

/// `GET /health`, `/health/live` and `/health/ready`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`; `degraded` (`/health`) or `unavailable` (`/health/ready`)
    /// while storage does not answer.
    pub status: String,
    /// The storage backend (`memory`, `sled`, ...).
    pub storage: String,
    /// The service's version.
    pub version: String,
    /// Event sinks failing for longer than the threshold
    /// (`--publish-degraded-after-secs`): their events wait in the outbox.
    /// They leave the service healthy.
    #[serde(default)]
    pub degraded_sinks: Vec<DegradedSink>,
}

/// `GET /api/config`: the service's settings a user should see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceConfig {
    /// Development mode: KYC submissions are approved at once without
    /// review (`--dev-auto-approve-kyc`). Never on in production.
    pub dev_auto_approve_kyc: bool,
}
