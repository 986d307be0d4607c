//! `ledger-bank`: the Jepsen-style bank test. Starts `ledger-http` on a
//! backend, drives it with concurrent clients while a nemesis SIGKILLs it
//! (and crashes PostgreSQL), then checks that nothing acknowledged was lost
//! and nothing was applied twice. Prints one summary line; exits 1 when a
//! property failed, 2 when the run itself could not be carried out.

mod checker;
mod client;
mod cluster;
mod error;
mod nemesis;
mod observed;
mod op;
mod options;
mod postgres;
mod reader;
mod runner;
mod service;
mod setup;
mod store_evidence;
mod workload;

use std::process::ExitCode;

use clap::Parser;

use crate::options::Options;
use crate::runner::Summary;

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    match runner::run(&options).await {
        Ok(summary) => {
            for failure in &summary.report.failures {
                eprintln!("bank: FAILED: {failure}");
            }
            if let Some(dir) = &summary.kept {
                eprintln!("bank: logs and data kept in {}", dir.display());
            }
            println!("{}", summary_line(&summary, &options));
            if summary.report.passed() { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(error) => {
            eprintln!("bank: backend={} could not run: {error}", options.backend.name());
            ExitCode::from(2)
        }
    }
}

/// The one summary line.
fn summary_line(summary: &Summary, options: &Options) -> String {
    let r = &summary.report;
    let cluster = summary.cluster.map_or_else(String::new, |c| {
        format!(
            " failovers={} promotion_ms_max={} rejoin_ms_max={} write_outage_max_ms={} replica_lag_max_bytes={} \
             http_500={} http_503={} http_503_without_retry_after={}",
            summary.tally.failovers,
            summary.tally.promotion_ms_max,
            summary.tally.rejoin_ms_max,
            c.write_outage_max_ms,
            c.replica_lag_max_bytes,
            c.server_errors,
            c.unavailable,
            c.unavailable_without_retry_after,
        )
    });
    format!(
        "bank: backend={} seed={} clients={} seconds={} attempted={} acknowledged={} rejected={} indeterminate={} \
         indeterminate_applied={} retried={} lost={} duplicated={} phantom={} crashes={} db_restarts={}{cluster} failures={} result={}",
        summary.backend.name(),
        summary.seed,
        options.clients,
        options.seconds,
        r.attempted,
        r.acknowledged,
        r.rejected,
        r.indeterminate,
        r.indeterminate_applied,
        r.retried,
        r.lost,
        r.duplicated,
        r.phantom,
        summary.tally.crashes,
        summary.tally.db_restarts,
        r.failure_count,
        if r.passed() { "ok" } else { "FAILED" },
    )
}
