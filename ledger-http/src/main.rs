//! The `ledger-http` binary: parses the command line (flags have
//! environment twins), sets up logging and serves ([`ledger_http::server::run`])
//! or runs an operator command ([`ledger_http::operate`]).

use std::process::ExitCode;

use clap::Parser;
use ledger_http::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.command {
        None => cli.serve,
        Some(Command::Serve(config)) => config,
        Some(Command::Admin(command)) => return operator(ledger_http::operate::admin(command).await),
        Some(Command::Verify(store)) => return operator(ledger_http::operate::verify(store).await),
    };
    ledger_http::server::init_tracing(config.log_format == "json");
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
