//! `ledger-http export`: a store's records streamed page by page into a
//! new file, written under a temporary name beside it and renamed into
//! place once complete, so a failed export leaves no file under the name.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use ledger_core::dump::{DumpOrder, Export, SectionCounts};
use ledger_core::{Digest, Store};
use sha2::{Digest as _, Sha256};

use super::DumpFileError;
use super::format::{FORMAT, Header, Trailer, VERSION, line, record_line};

/// Writes every record of `store` to a new file at `to`; the records
/// written, by section.
pub async fn export(store: Arc<dyn Store>, to: &Path) -> Result<SectionCounts, DumpFileError> {
    if to.exists() {
        return Err(DumpFileError::Exists(to.to_path_buf()));
    }
    let partial = partial_path(to);
    let written = write(store, &partial).await;
    let renamed = written.and_then(|counts| {
        std::fs::rename(&partial, to).map_err(|source| DumpFileError::Io { path: to.to_path_buf(), source })?;
        Ok(counts)
    });
    if renamed.is_err() {
        // Best effort: the partial file is never under the final name.
        let _ = std::fs::remove_file(&partial);
    }
    renamed
}

/// `.NAME.partial` beside `to`.
fn partial_path(to: &Path) -> PathBuf {
    let name = to.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "dump".to_owned());
    to.with_file_name(format!(".{name}.partial"))
}

/// A file being written and the hash of what went into it.
struct Out {
    path: PathBuf,
    file: BufWriter<File>,
    hash: Sha256,
}

impl Out {
    fn io(&self, source: std::io::Error) -> DumpFileError {
        DumpFileError::Io { path: self.path.clone(), source }
    }

    fn put(&mut self, bytes: &[u8], hashed: bool) -> Result<(), DumpFileError> {
        if hashed {
            self.hash.update(bytes);
        }
        self.file.write_all(bytes).map_err(|e| self.io(e))
    }
}

fn encoding(error: serde_json::Error) -> DumpFileError {
    DumpFileError::Io { path: PathBuf::new(), source: std::io::Error::other(error) }
}

async fn write(store: Arc<dyn Store>, path: &Path) -> Result<SectionCounts, DumpFileError> {
    let io = |source| DumpFileError::Io { path: path.to_path_buf(), source };
    let file = OpenOptions::new().write(true).create(true).truncate(true).open(path).map_err(io)?;
    let mut out = Out { path: path.to_path_buf(), file: BufWriter::new(file), hash: Sha256::new() };
    let header = Header {
        format: FORMAT.to_owned(),
        version: VERSION,
        created_at: Utc::now(),
        source_backend: store.backend().to_owned(),
    };
    out.put(&line(&header).map_err(encoding)?, true)?;
    let mut order = DumpOrder::new();
    let mut export = Export::new(store);
    let mut records = 0u64;
    while let Some(page) = export.next_page().await? {
        for record in &page {
            // The store's order is the dump's: checked, so a backend that
            // broke it is caught here rather than by the import.
            order.check(record)?;
            out.put(&record_line(record).map_err(encoding)?, true)?;
            records += 1;
        }
    }
    let counts = order.counts().clone();
    let sha256 = Digest(out.hash.clone().finalize().into());
    let trailer = Trailer { trailer: FORMAT.to_owned(), records, counts: counts.clone(), sha256 };
    out.put(&line(&trailer).map_err(encoding)?, false)?;
    out.file.flush().map_err(|e| out.io(e))?;
    out.file.get_ref().sync_all().map_err(|e| out.io(e))?;
    Ok(counts)
}
