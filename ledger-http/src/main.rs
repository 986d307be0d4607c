//! The `ledger-http` binary: parses flags (and their environment twins),
//! sets up logging and runs [`ledger_http::server::run`].

use std::process::ExitCode;

use clap::Parser;
use ledger_http::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
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
