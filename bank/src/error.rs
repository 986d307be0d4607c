//! Why a bank run could not be carried out (as opposed to a run whose
//! checker found a violation, which is a [`crate::checker::Report`]).

use std::path::PathBuf;

/// A failure of the harness itself: setup, processes, reading the result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BankError {
    /// The `ledger-http` binary is not where it was looked for.
    #[error("no ledger-http binary at {0} (build it with `cargo build -p ledger-http`, or pass --ledger-http)")]
    BinaryMissing(PathBuf),
    /// A process (service, `initdb`, `pg_ctl`) could not be run.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A command ran but failed.
    #[error("{what} failed: {detail}")]
    Command {
        /// The command.
        what: String,
        /// Its exit status and output.
        detail: String,
    },
    /// The service did not come up.
    #[error("ledger-http did not start: {0}")]
    Startup(String),
    /// An HTTP call of the setup or of the final read failed.
    #[error("HTTP {what}: {detail}")]
    Http {
        /// The call.
        what: String,
        /// Status and body, or the transport error.
        detail: String,
    },
    /// The store could not be opened directly after the run.
    #[error("opening the store directly: {0}")]
    Storage(#[from] ledger_core::StorageError),
    /// The PostgreSQL cluster did not do what a failover needs in time.
    #[error("cluster: {0}")]
    Cluster(String),
    /// A flag combination that cannot run.
    #[error("invalid options: {0}")]
    Options(String),
}

impl BankError {
    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> BankError {
        BankError::Io { what: what.into(), source }
    }

    /// A failed HTTP call.
    pub fn http(what: impl Into<String>, detail: impl std::fmt::Display) -> BankError {
        BankError::Http { what: what.into(), detail: detail.to_string() }
    }
}
