//! `ledger-http export` and `import`: a store to a dump file and back,
//! reported for people.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use ledger_core::Store;
use ledger_core::dump::SectionCounts;

use super::OperateError;
use crate::dump_file;
use crate::storage::StorageUrl;

/// `12 users, 3 sessions, ...`: the counts in words.
fn counted(counts: &SectionCounts) -> String {
    let parts: Vec<String> = counts.iter().map(|(section, n)| format!("{n} {section}")).collect();
    if parts.is_empty() { "no records".to_owned() } else { parts.join(", ") }
}

/// Writes the store's dump to `to` and says what it holds.
pub(super) async fn export(store: &Arc<dyn Store>, url: &StorageUrl, to: &Path) -> Result<ExitCode, OperateError> {
    let counts = dump_file::export(store.clone(), to).await?;
    println!("export: {url} -> {}", to.display());
    println!("  {} records: {}", counts.values().sum::<u64>(), counted(&counts));
    println!("OK: the dump is complete");
    Ok(ExitCode::SUCCESS)
}

/// Imports the dump at `from` into the (empty) store and says what it held.
pub(super) async fn import(store: &Arc<dyn Store>, url: &StorageUrl, from: &Path) -> Result<(), OperateError> {
    let checked = dump_file::import(store.clone(), from).await?;
    println!("import: {} -> {url}", from.display());
    println!(
        "  from a {} store, dumped {}",
        checked.header.source_backend,
        checked.header.created_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    println!("  {} records: {}", checked.counts.values().sum::<u64>(), counted(&checked.counts));
    Ok(())
}
