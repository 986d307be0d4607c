//! `ledger-http import`: a dump file read twice. The first pass checks all
//! of it (header and version, every line a record, the dump's order, the
//! trailer's counts and digest) and writes nothing; only a sound file gets
//! the second pass, which imports its records into an empty store in
//! chunks.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledger_core::dump::{DumpOrder, DumpRecord, Import, SectionCounts, ensure_empty};
use ledger_core::{Digest, Store};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::DumpFileError;
use super::format::{FORMAT, Header, LINE_BYTES_MAX, Trailer, VERSION, is_trailer};

/// What the check of a sound file found.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// Its header.
    pub header: Header,
    /// Its records, by section.
    pub counts: SectionCounts,
    /// The SHA-256 of every byte before its trailer.
    pub sha256: Digest,
}

/// A dump file's lines, numbered from 1, hashed until the trailer.
struct Lines {
    path: PathBuf,
    reader: BufReader<File>,
    line: Vec<u8>,
    number: u64,
    hash: Sha256,
}

impl Lines {
    fn open(path: &Path) -> Result<Lines, DumpFileError> {
        let file = File::open(path).map_err(|source| DumpFileError::Io { path: path.to_path_buf(), source })?;
        Ok(Lines {
            path: path.to_path_buf(),
            reader: BufReader::new(file),
            line: Vec::new(),
            number: 0,
            hash: Sha256::new(),
        })
    }

    /// Reads the next line ([`Lines::text`]); `false` at the end of the
    /// file. A last line without a newline means the file was cut.
    fn next(&mut self) -> Result<bool, DumpFileError> {
        self.line.clear();
        let limit = (LINE_BYTES_MAX + 1) as u64;
        let read = (&mut self.reader).take(limit).read_until(b'\n', &mut self.line);
        let read = read.map_err(|source| DumpFileError::Io { path: self.path.clone(), source })?;
        if read == 0 {
            return Ok(false);
        }
        self.number += 1;
        match self.line.last() {
            Some(b'\n') => {}
            _ if self.line.len() > LINE_BYTES_MAX => {
                return Err(DumpFileError::BadLine { line: self.number, reason: "the line is too long".into() });
            }
            _ => return Err(DumpFileError::Truncated { line: self.number }),
        }
        if !is_trailer(&self.line) {
            self.hash.update(&self.line);
        }
        Ok(true)
    }

    /// The line read last, without its newline.
    fn text(&self) -> &[u8] {
        self.line.strip_suffix(b"\n").unwrap_or(&self.line)
    }

    fn digest(&self) -> Digest {
        Digest(self.hash.clone().finalize().into())
    }
}

/// The part of a header every version keeps.
#[derive(Deserialize)]
struct Probe {
    format: Option<String>,
    version: Option<u32>,
}

/// Reads and checks the header line.
fn header(lines: &mut Lines) -> Result<Header, DumpFileError> {
    if !lines.next()? {
        return Err(DumpFileError::NotADump);
    }
    let first = lines.text();
    let probe: Probe = serde_json::from_slice(first).map_err(|_| DumpFileError::NotADump)?;
    if probe.format.as_deref() != Some(FORMAT) {
        return Err(DumpFileError::NotADump);
    }
    match probe.version {
        Some(VERSION) => {}
        found => return Err(DumpFileError::UnsupportedVersion { found: found.unwrap_or(0), supported: VERSION }),
    }
    serde_json::from_slice(first).map_err(bad_line(1))
}

/// A parse error as a line's reason: what is wrong and at which column
/// (serde's own "at line 1" would name the line within the line).
fn reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let what = text.rsplit_once(" at line ").map_or(text.as_str(), |(what, _)| what);
    format!("{what}, at column {}", error.column())
}

fn bad_line(number: u64) -> impl Fn(serde_json::Error) -> DumpFileError {
    move |error| DumpFileError::BadLine { line: number, reason: reason(&error) }
}

fn record(line: &[u8], number: u64) -> Result<DumpRecord, DumpFileError> {
    serde_json::from_slice(line).map_err(bad_line(number))
}

/// Checks a whole dump file without importing anything.
pub fn check(path: &Path) -> Result<Checked, DumpFileError> {
    let mut lines = Lines::open(path)?;
    let header = header(&mut lines)?;
    let mut order = DumpOrder::new();
    let trailer: Trailer = loop {
        if !lines.next()? {
            return Err(DumpFileError::Truncated { line: lines.number });
        }
        let (number, line) = (lines.number, lines.text());
        if is_trailer(line) {
            break serde_json::from_slice(line).map_err(bad_line(number))?;
        }
        let record = record(line, number)?;
        order.check(&record).map_err(|source| DumpFileError::Order { line: number, source })?;
    };
    if lines.next()? {
        return Err(DumpFileError::AfterTrailer { line: lines.number });
    }
    let sha256 = lines.digest();
    if sha256 != trailer.sha256 {
        return Err(DumpFileError::DigestMismatch);
    }
    let counts = order.counts().clone();
    let sections = counts.keys().chain(trailer.counts.keys());
    for section in sections.copied().collect::<std::collections::BTreeSet<_>>() {
        let (expected, found) = (trailer.counts.get(&section).copied(), counts.get(&section).copied());
        if expected != found {
            let (expected, found) = (expected.unwrap_or(0), found.unwrap_or(0));
            return Err(DumpFileError::CountMismatch { section, expected, found });
        }
    }
    if trailer.records != counts.values().sum::<u64>() {
        return Err(DumpFileError::BadLine {
            line: lines.number,
            reason: "the trailer's record count is wrong".into(),
        });
    }
    Ok(Checked { header, counts, sha256 })
}

/// Imports a dump file into an empty store: refuses a store that holds
/// anything, then checks the whole file ([`check`]) and imports only a
/// sound one. What the file held.
pub async fn import(store: Arc<dyn Store>, path: &Path) -> Result<Checked, DumpFileError> {
    ensure_empty(store.as_ref()).await?;
    let checked = check(path)?;
    let mut lines = Lines::open(path)?;
    header(&mut lines)?;
    let mut import = Import::new(store);
    loop {
        if !lines.next()? {
            return Err(DumpFileError::ChangedDuringImport);
        }
        let (number, line) = (lines.number, lines.text());
        if is_trailer(line) {
            break;
        }
        let record = record(line, number).map_err(|_| DumpFileError::ChangedDuringImport)?;
        import.push(record).await.map_err(|source| match source {
            ledger_core::dump::DumpError::Storage(_) => DumpFileError::Dump(source),
            _ => DumpFileError::ChangedDuringImport,
        })?;
    }
    let counts = import.finish().await?;
    if lines.digest() != checked.sha256 || counts != checked.counts {
        return Err(DumpFileError::ChangedDuringImport);
    }
    Ok(checked)
}
