//! The harness's error type.

use ledger_core::{LedgerError, StorageError};

/// Why a benchmark run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The ledger refused or failed a command.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// An amount literal was refused.
    #[error("amount: {0}")]
    Money(#[from] ledger_core::MoneyError),
    /// A store failed outside a ledger command.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// A baseline's database failed.
    #[error("baseline database: {0}")]
    Sql(#[from] sqlx::Error),
    /// The raw sled baseline failed.
    #[error("baseline sled: {0}")]
    Sled(#[from] sled::Error),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// JSON could not be written or read.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// The HTTP service answered unexpectedly or could not be reached.
    #[error("http: {0}")]
    Http(String),
    /// The chart could not be drawn.
    #[error("chart: {0}")]
    Chart(String),
    /// The options ask for something this build cannot do.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A ledger invariant does not hold after a run.
    #[error("invariant broken: {0}")]
    Invariant(String),
    /// A bar was missed (`--check-bars`).
    #[error("bar missed: {0}")]
    BarMissed(String),
    /// A second ledger process (`--instances`) failed.
    #[error("instance: {0}")]
    Instance(String),
    /// A baseline found its own state inconsistent (a bug in the harness).
    #[error("baseline state: {0}")]
    Baseline(String),
}

impl BenchError {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> BenchError {
        BenchError::Io { context: context.into(), source }
    }
}

impl From<reqwest::Error> for BenchError {
    fn from(error: reqwest::Error) -> Self {
        BenchError::Http(error.to_string())
    }
}
