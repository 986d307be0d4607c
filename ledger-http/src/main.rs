//! The `ledger-http` binary: parses the command line (flags have
//! environment twins), sets up logging and serves ([`ledger_http::server::run`])
//! or runs an operator command ([`ledger_http::operate`]).

use std::process::ExitCode;

use clap::FromArgMatches;
use ledger_http::cli::{Cli, Command};
use ledger_http::config_file::{self, ConfigFileError};

/// mimalloc rather than the system allocator: a request allocates on a
/// runtime worker and SQLite's rows are built on the store's connection
/// threads, and glibc's malloc pays for frees across threads (about a
/// sixth of the service's CPU under a read load, `perf record`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let matches = match config_file::parse_matches(std::env::args_os().collect()) {
        Ok(matches) => matches,
        Err(ConfigFileError::Clap(error)) => error.exit(),
        Err(error) => {
            eprintln!("ledger-http: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(print) = config_file::print_matches(&matches) {
        print!("{}", config_file::effective(print));
        return ExitCode::SUCCESS;
    }
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let config = match cli.command {
        None => cli.serve,
        Some(Command::Serve(config)) => config,
        Some(Command::Admin(command)) => return operator(ledger_http::operate::admin(command).await),
        Some(Command::Verify(store)) => return operator(ledger_http::operate::verify(store).await),
        Some(Command::Export { to, store }) => return operator(ledger_http::operate::export(store, to).await),
        Some(Command::Import { from, store }) => return operator(ledger_http::operate::import(store, from).await),
        Some(Command::Config(_)) => return ExitCode::SUCCESS,
    };
    // Held until the service stops: dropping it flushes buffered traces.
    let _telemetry = match ledger_http::telemetry::init(config.log_format == "json") {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("ledger-http: {error}");
            return ExitCode::FAILURE;
        }
    };
    match ledger_http::server::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "ledger-http failed");
            eprintln!("ledger-http: {error}");
            ExitCode::FAILURE
        }
    }
}

/// An operator command's exit: its own code, or 2 with the error in words.
fn operator(outcome: Result<ExitCode, ledger_http::operate::OperateError>) -> ExitCode {
    outcome.unwrap_or_else(|error| {
        eprintln!("ledger-http: {error}");
        ExitCode::from(2)
    })
}
