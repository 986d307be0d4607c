//! Importing a dump: [`DumpOrder`] checks that records come in dump order
//! and counts them, [`ensure_empty`] refuses a store that holds anything,
//! and [`Import`] writes records to a store in chunks.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::dump::DumpError;
use crate::dump::chunk::DumpChunk;
use crate::dump::record::{DumpRecord, Section};
use crate::store::Store;

/// How many records an import writes per store call, unless told otherwise.
pub const IMPORT_CHUNK_RECORDS: usize = 1000;

/// How many records of each section a dump holds (sections without
/// records are left out).
pub type SectionCounts = BTreeMap<Section, u64>;

/// Checks that records come in dump order, one after the other: sections
/// in [`Section::ALL`]'s order, and within a section strictly ascending
/// [`DumpRecord::order_key`]s. Counts them by section.
#[derive(Debug, Default)]
pub struct DumpOrder {
    last: Option<(Section, Vec<u8>)>,
    counts: SectionCounts,
}

impl DumpOrder {
    /// A check of a dump's first record to come.
    pub fn new() -> DumpOrder {
        DumpOrder::default()
    }

    /// Checks that `record` may follow the records seen so far, and counts it.
    pub fn check(&mut self, record: &DumpRecord) -> Result<(), DumpError> {
        let key = record.order_key();
        if let Some(last) = &self.last
            && key <= *last
        {
            let section = key.0;
            return Err(if section < last.0 {
                DumpError::SectionOutOfOrder { section, after: last.0 }
            } else {
                DumpError::RecordOutOfOrder { section }
            });
        }
        *self.counts.entry(key.0).or_default() += 1;
        self.last = Some(key);
        Ok(())
    }

    /// The records seen, by section.
    pub fn counts(&self) -> &SectionCounts {
        &self.counts
    }
}

/// Fails with [`DumpError::NotEmpty`] unless the store holds no record of
/// any section. (A store a ledger was opened on holds the settlement
/// accounts and the audit record that created them: import into a new
/// store, before any ledger opens it.)
pub async fn ensure_empty(store: &dyn Store) -> Result<(), DumpError> {
    let found = if !store.users(None, 1).await?.is_empty() {
        Some(Section::Users)
    } else if !store.sessions(None, 1).await?.is_empty() {
        Some(Section::Sessions)
    } else if !store.reset_tokens(None, 1).await?.is_empty() {
        Some(Section::ResetTokens)
    } else if !store.accounts(None, 1).await?.is_empty() {
        Some(Section::Accounts)
    } else if !store.transactions_after(None, 1).await?.is_empty() {
        Some(Section::Transactions)
    } else if !store.idempotency_records(None, 1).await?.is_empty() {
        Some(Section::Idempotency)
    } else if !store.audit_records(0, 1).await?.is_empty() {
        Some(Section::Audit)
    } else if !store.changes_after(0, 1).await?.is_empty() {
        Some(Section::Changes)
    } else if !store.sink_cursors().await?.is_empty() {
        Some(Section::SinkCursors)
    } else {
        None
    };
    match found {
        Some(section) => Err(DumpError::NotEmpty { section }),
        None => Ok(()),
    }
}

/// Writes a dump's records, given in dump order, to a store, a chunk of
/// [`IMPORT_CHUNK_RECORDS`] at a time. Check the whole dump first (its
/// order with [`DumpOrder`], and whatever the file format guarantees) and
/// the store with [`ensure_empty`]: a failure halfway leaves the chunks
/// written so far.
pub struct Import {
    store: Arc<dyn Store>,
    chunk: DumpChunk,
    chunk_records: usize,
    order: DumpOrder,
}

impl Import {
    /// An import into `store`, [`IMPORT_CHUNK_RECORDS`] records per write.
    pub fn new(store: Arc<dyn Store>) -> Import {
        Import::with_chunk(store, IMPORT_CHUNK_RECORDS)
    }

    /// An import into `store`, `records` (at least 1) per write.
    pub fn with_chunk(store: Arc<dyn Store>, records: usize) -> Import {
        Import { store, chunk: DumpChunk::default(), chunk_records: records.max(1), order: DumpOrder::new() }
    }

    /// Adds the next record, writing a chunk when one is full.
    pub async fn push(&mut self, record: DumpRecord) -> Result<(), DumpError> {
        self.order.check(&record)?;
        self.chunk.push(record);
        if self.chunk.len() >= self.chunk_records {
            self.write().await?;
        }
        Ok(())
    }

    /// Writes what is left and lets the store refresh its statistics
    /// ([`Store::finish_restore`]); the records imported, by section.
    pub async fn finish(mut self) -> Result<SectionCounts, DumpError> {
        self.write().await?;
        self.store.finish_restore().await?;
        Ok(self.order.counts)
    }

    async fn write(&mut self) -> Result<(), DumpError> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let counts = self.order.counts();
        let written = |section: Section, in_chunk: usize| {
            counts.get(&section).copied().unwrap_or_default().saturating_sub(in_chunk as u64)
        };
        let mut chunk = std::mem::take(&mut self.chunk);
        chunk.sessions_position = written(Section::Sessions, chunk.sessions.len());
        chunk.accounts_position = written(Section::Accounts, chunk.accounts.len());
        self.store.restore(&chunk).await?;
        Ok(())
    }
}
