//! The lines of a dump file, version 1:
//!
//! ```text
//! {"format":"ledger-dump","version":1,"created_at":"2026-...Z","source_backend":"sqlite"}
//! {"section":"users","record":{...}}
//! ...                                    (one line per record, in dump order)
//! {"trailer":"ledger-dump","records":123,"counts":{"users":3,...},"sha256":"<hex>"}
//! ```
//!
//! Every line ends with a newline. The trailer's `sha256` is the SHA-256 of
//! every byte before the trailer line (the header and record lines with
//! their newlines); `counts` has the number of records of each section that
//! has any. Amounts are decimal strings, never floats.

use chrono::{DateTime, Utc};
use ledger_core::Digest;
use ledger_core::dump::{DumpRecord, SectionCounts};
use serde::{Deserialize, Serialize};

/// The `format` of a dump's header and the `trailer` of its trailer.
pub const FORMAT: &str = "ledger-dump";

/// The format version this program writes and reads.
pub const VERSION: u32 = 1;

/// The longest line a reader accepts (64 MiB): no record comes near it.
pub const LINE_BYTES_MAX: usize = 64 << 20;

/// The first line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// The format version.
    pub version: u32,
    /// When the export started.
    pub created_at: DateTime<Utc>,
    /// The backend the records came from (`memory`, `sled`, `sqlite`, `postgres`).
    pub source_backend: String,
}

/// The last line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trailer {
    /// Always [`FORMAT`]; also what tells the trailer from a record.
    pub trailer: String,
    /// How many records the file holds.
    pub records: u64,
    /// How many records of each section.
    pub counts: SectionCounts,
    /// The SHA-256 of every byte before this line.
    pub sha256: Digest,
}

/// What the start of a line says it is (the writer puts the distinguishing
/// key first).
pub fn is_trailer(line: &[u8]) -> bool {
    line.starts_with(b"{\"trailer\":")
}

/// A value as one line of JSON, newline included.
pub fn line<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut bytes = serde_json::to_vec(value)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// A record's line.
pub fn record_line(record: &DumpRecord) -> Result<Vec<u8>, serde_json::Error> {
    line(record)
}
