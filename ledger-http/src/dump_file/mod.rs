//! The dump file: a store's records ([`ledger_core::dump`]) as JSON Lines,
//! behind a header and ahead of a trailer that counts them and carries the
//! SHA-256 of every byte before it, so a truncated or altered file is
//! refused before anything is imported. `ledger-http export` writes one
//! ([`writer`]), `ledger-http import` reads one ([`reader`]); the lines
//! themselves are in [`mod@format`].

pub mod format;
pub mod reader;
pub mod writer;

use std::path::PathBuf;

use ledger_core::StorageError;
use ledger_core::dump::{DumpError, Section};

pub use reader::{Checked, check, import};
pub use writer::export;

/// Why a dump file could not be written, read or imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpFileError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// Export would replace a file.
    #[error("{0} already exists: export writes a new file (choose another name or remove it)")]
    Exists(PathBuf),
    /// The first line is not a ledger dump's header.
    #[error("line 1: not a ledger dump (no `ledger-dump` header)")]
    NotADump,
    /// A dump of a format version this program does not read.
    #[error("line 1: dump format version {found} is not supported (this program reads version {supported})")]
    UnsupportedVersion {
        /// The file's version.
        found: u32,
        /// The version this program reads.
        supported: u32,
    },
    /// The file ends before its trailer.
    #[error("the file is truncated: it ends at line {line} without its trailer; nothing was imported")]
    Truncated {
        /// The last line read.
        line: u64,
    },
    /// A line that is not a record of a dump.
    #[error("line {line}: not a valid record ({reason}); nothing was imported")]
    BadLine {
        /// The line's number (1-based).
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A record out of the dump's order.
    #[error("line {line}: {source}; nothing was imported")]
    Order {
        /// The line's number (1-based).
        line: u64,
        /// The order it breaks.
        source: DumpError,
    },
    /// Lines after the trailer.
    #[error("line {line}: data after the trailer; nothing was imported")]
    AfterTrailer {
        /// The first line after the trailer.
        line: u64,
    },
    /// The records do not match the trailer's counts.
    #[error("the trailer counts {expected} {section} records but the file holds {found}; nothing was imported")]
    CountMismatch {
        /// The section.
        section: Section,
        /// What the trailer says.
        expected: u64,
        /// What the file holds.
        found: u64,
    },
    /// The bytes before the trailer do not hash to its digest.
    #[error("the file was altered: its SHA-256 does not match its trailer's; nothing was imported")]
    DigestMismatch,
    /// The file changed between the check and the import.
    #[error(
        "the file changed while it was being imported: the target store holds part of it; start again on a new store"
    )]
    ChangedDuringImport,
    /// The store refused the import (not empty) or failed.
    #[error("{0}")]
    Dump(#[from] DumpError),
}

impl From<StorageError> for DumpFileError {
    fn from(error: StorageError) -> Self {
        DumpFileError::Dump(DumpError::Storage(error))
    }
}
