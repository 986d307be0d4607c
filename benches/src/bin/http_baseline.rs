//! `ledger-bench-http-baseline`: the minimal axum server `ledger-bench http
//! --baseline` measures beside ledger-http (see
//! `ledger_bench::http::axum_baseline`). Like ledger-http, it runs on
//! `#[tokio::main]` and mimalloc.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

/// The allocator ledger-http runs on, so the ratio does not price it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Answers `GET /api/accounts/{id}/balance` with a fixed JSON body.
#[derive(Debug, Parser)]
#[command(name = "ledger-bench-http-baseline", version)]
struct Args {
    /// Where to listen (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// The JSON body every balance read is answered with.
    #[arg(long)]
    body: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match ledger_bench::http::axum_baseline::serve(args.bind, args.body).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ledger-bench-http-baseline: {error}");
            ExitCode::FAILURE
        }
    }
}
