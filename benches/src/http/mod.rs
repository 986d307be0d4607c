//! HTTP load: a bounded mix of balance reads and transfers from N clients
//! against a running `ledger-http` (or one this process spawns on port 0),
//! with the server's resident memory sampled throughout.
//!
//! Set-up per user: register, log in, open a checking account, have the
//! admin verify KYC (outgoing transfers need it), and fund the account
//! through the signed deposit webhook. Traffic goes to 127.0.0.1 only and
//! stops after `--seconds`.

mod api;
pub mod axum_baseline;
pub mod comparison;
mod load;
mod rss;
mod server;

pub use comparison::HttpComparison;
pub use load::{HttpReport, KindStats, Measured, Phase, run};
pub use rss::RssSample;
pub use server::SpawnedServer;

use std::path::PathBuf;

/// `ledger-bench http`: load a ledger-http service.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// A running service's base URL (e.g. http://127.0.0.1:8080). Without
    /// it, `--server-bin` is spawned on 127.0.0.1 port 0.
    #[arg(long)]
    pub url: Option<String>,
    /// The ledger-http binary to spawn (default: `ledger-http` next to this binary).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Storage of the spawned service (default `memory:`; with `--baseline`,
    /// a fresh SQLite file in a temporary directory: the service's default
    /// store kind).
    #[arg(long)]
    pub storage: Option<String>,
    /// Measure the service beside a minimal axum server answering a fixed
    /// JSON body (`ledger-bench-http-baseline`) under the same load
    /// generator: balance reads against both (alternated, `--rounds`
    /// times), then the peak transfer rate, then transfers at half of it
    /// (open loop, `--rounds` times) for the median of their p99s; prints
    /// the ratio and the HTTP bars.
    #[arg(long, conflicts_with = "url")]
    pub baseline: bool,
    /// The baseline server binary to spawn (default: `ledger-bench-http-baseline`
    /// next to this binary).
    #[arg(long)]
    pub baseline_bin: Option<PathBuf>,
    /// With `--baseline`: pairs of balance-read runs (service, baseline),
    /// each pair in the opposite order of the one before, and runs of
    /// transfers at half of peak (the p99 bar takes their median).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
    /// Requests per second over all clients, sent on a fixed schedule
    /// (open loop; latency counts from when a request was due); without it,
    /// each client sends as soon as its last answer came (closed loop).
    #[arg(long)]
    pub rate: Option<f64>,
    /// With `--baseline`: exit non-zero when an HTTP bar is missed.
    #[arg(long)]
    pub check_bars: bool,
    /// The service's process id, to sample its memory when `--url` is given.
    #[arg(long)]
    pub pid: Option<u32>,
    /// The admin who verifies users' KYC (a spawned service is started with it).
    #[arg(long, env = "LEDGER_BOOTSTRAP_ADMIN_EMAIL", default_value = "bench-admin@example.com")]
    pub admin_email: String,
    /// The admin's password.
    #[arg(
        long,
        env = "LEDGER_BOOTSTRAP_ADMIN_PASSWORD",
        default_value = "bench admin password 2026",
        hide_env_values = true
    )]
    pub admin_password: String,
    /// The webhook secret (a spawned service is started with it).
    #[arg(long, env = "LEDGER_WEBHOOK_SECRET", default_value = "bench-webhook-secret", hide_env_values = true)]
    pub webhook_secret: String,
    /// Users (each with one funded account).
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Measured seconds of load.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Percentage of requests that are balance reads (the rest are transfers).
    #[arg(long, default_value_t = 80)]
    pub read_percent: u8,
    /// Seconds between memory samples.
    #[arg(long, default_value_t = 1.0)]
    pub rss_interval_seconds: f64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

impl HttpArgs {
    /// The storage of a spawned service without `--baseline`.
    pub fn storage(&self) -> String {
        self.storage.clone().unwrap_or_else(|| "memory:".to_owned())
    }
}
