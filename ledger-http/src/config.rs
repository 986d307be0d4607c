//! Command-line flags, each with an environment twin. With none given the
//! service serves on 127.0.0.1:8080 over a sled store in `./ledger-data`.

use std::net::SocketAddr;

use clap::Parser;

use crate::storage::StorageUrl;

/// `ledger-http`: the ledger's HTTP service.
#[derive(Debug, Clone, Parser)]
#[command(name = "ledger-http", version, about)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "LEDGER_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Storage: `memory:`, `sled:PATH`, `sqlite:PATH` or `postgres://...`.
    #[arg(long, env = "LEDGER_STORAGE", default_value = "sled:./ledger-data")]
    pub storage: StorageUrl,

    /// Shared secret of the transactions webhook (HMAC-SHA256); without it
    /// the webhook answers 503.
    #[arg(long, env = "LEDGER_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// Email of an admin to create at start if absent.
    #[arg(long, env = "LEDGER_BOOTSTRAP_ADMIN_EMAIL", requires = "bootstrap_admin_password")]
    pub bootstrap_admin_email: Option<String>,

    /// Password of that admin (used only when it is created).
    #[arg(long, env = "LEDGER_BOOTSTRAP_ADMIN_PASSWORD", hide_env_values = true, requires = "bootstrap_admin_email")]
    pub bootstrap_admin_password: Option<String>,

    /// Mark cookies `Secure` (set this when served over HTTPS).
    #[arg(long, env = "LEDGER_COOKIE_SECURE")]
    pub cookie_secure: bool,

    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "LEDGER_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Sustained requests per second per client address (0 disables the limit).
    #[arg(long, env = "LEDGER_RATE_LIMIT_PER_SECOND", default_value_t = 50)]
    pub rate_limit_per_second: u32,

    /// Burst allowance per client address above the sustained rate.
    #[arg(long, env = "LEDGER_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,

    /// Seconds between sweeps that release expired holds.
    #[arg(long, env = "LEDGER_HOLD_SWEEP_SECS", default_value_t = 5)]
    pub hold_sweep_secs: u64,

    /// Seconds between checks that an open event stream's session is still
    /// live (a stream ends this soon after logout or revocation).
    #[arg(long, env = "LEDGER_EVENT_SESSION_CHECK_SECS", default_value_t = 30)]
    pub event_session_check_secs: u64,

    /// Seconds in-flight requests get to finish after a shutdown signal.
    #[arg(long, env = "LEDGER_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// Do not announce PostgreSQL commits with `pg_notify` (for CockroachDB or
    /// YugabyteDB); live events then reach only the committing instance.
    #[arg(long, env = "LEDGER_NO_PG_NOTIFY")]
    pub no_pg_notify: bool,

    /// Log format: `text` or `json`.
    #[arg(long, env = "LEDGER_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}
