//! Dumps: a complete copy of a store as a stream of records, for backup
//! and restore and to move a ledger from one backend to another.
//!
//! A dump lists every record of every [`Section`] (users, sessions, reset
//! tokens, accounts, transactions, postings with their running balances,
//! idempotency records, the audit log with its hashes, the change feed,
//! sink cursors; not leases, which expire on their own), sections in a
//! fixed order and records in each by their natural key, so the same
//! ledger gives the same records from any backend. [`Export`] reads them
//! from a store page by page; [`Import`] writes them verbatim into an
//! empty store ([`ensure_empty`]) chunk by chunk through
//! [`Store::restore`](crate::Store::restore), after which the store's
//! audit chain is the same chain and new commits continue it.
//!
//! This module knows records, not files: the file format (JSON Lines with a
//! header and a digest trailer) belongs to the program that writes files
//! (`ledger-http export` and `import`).

mod chunk;
mod export;
mod import;
mod record;

pub use chunk::DumpChunk;
pub use export::{EXPORT_PAGE_RECORDS, Export};
pub use import::{DumpOrder, IMPORT_CHUNK_RECORDS, Import, SectionCounts, ensure_empty};
pub use record::{DumpRecord, Section, SinkCursor};

use crate::error::StorageError;

/// Why a dump could not be imported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// The target store already holds records.
    #[error("the target store is not empty (it holds {section}): import only into a new, empty store")]
    NotEmpty {
        /// A section in which the store holds records.
        section: Section,
    },
    /// A record of a section that should have come earlier.
    #[error("a record of section {section} after section {after}: sections are out of order")]
    SectionOutOfOrder {
        /// The record's section.
        section: Section,
        /// The section of the record before it.
        after: Section,
    },
    /// A record not after the one before it in its section's order (or a duplicate).
    #[error("a record of section {section} out of order or repeated")]
    RecordOutOfOrder {
        /// The record's section.
        section: Section,
    },
    /// The store failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
}
