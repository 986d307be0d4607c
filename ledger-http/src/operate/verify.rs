//! `ledger-http verify`: the whole-store check, reported for people.

use std::process::ExitCode;

use ledger_core::{Actor, Ledger};

use super::OperateError;
use crate::storage::StorageUrl;

/// Verifies the store and prints a report: exit 0 when sound, 1 if not.
pub(super) async fn run(ledger: Ledger, url: StorageUrl) -> Result<ExitCode, OperateError> {
    let report = ledger.verify_integrity(&Actor::System).await?;
    println!("verify: {url}");
    println!(
        "  {} accounts, {} transactions, {} postings, {} changes in the feed",
        report.accounts, report.transactions, report.postings, report.changes
    );
    match report.audit_head {
        Some(head) => println!("  audit chain: verified, {} records", head.sequence),
        None => println!("  audit chain: DOES NOT VERIFY"),
    }
    if report.is_ok() {
        println!("OK: the store is sound");
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &report.problems {
        println!("  problem: {problem}");
    }
    if report.more_problems > 0 {
        println!("  ... and {} more problems", report.more_problems);
    }
    println!("FAILED: {} problems", report.problems.len() as u64 + report.more_problems);
    Ok(ExitCode::from(1))
}
