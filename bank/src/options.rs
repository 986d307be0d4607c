//! Command-line flags. The defaults are the short mode CI runs; raise
//! `--seconds` and `--kills` (and `--clients`) for a longer run.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// `ledger-bank`: the bank test against the real `ledger-http` binary.
#[derive(Debug, Clone, Parser)]
#[command(name = "ledger-bank", version, about)]
pub struct Options {
    /// Storage under test; `postgres-2` runs two service instances on one database.
    #[arg(long, value_enum, default_value_t = Backend::Sled)]
    pub backend: Backend,

    /// Concurrent clients, each issuing one operation at a time.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,

    /// How long clients issue new operations, in seconds.
    #[arg(long, default_value_t = 12)]
    pub seconds: u64,

    /// How many times the nemesis SIGKILLs a service instance (and restarts it).
    #[arg(long, default_value_t = 3)]
    pub kills: usize,

    /// PostgreSQL backends: how many times the database itself is crashed
    /// (`pg_ctl restart -m immediate`) during the run.
    #[arg(long, default_value_t = 1)]
    pub db_restarts: usize,

    /// Seed of the workload and of the nemesis schedule (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,

    /// The `ledger-http` binary (default: next to this binary).
    #[arg(long)]
    pub ledger_http: Option<PathBuf>,

    /// Customers; each has one account per currency.
    #[arg(long, default_value_t = 4)]
    pub accounts: usize,

    /// Currencies of the accounts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "USD,EUR")]
    pub currencies: Vec<String>,

    /// Keep the service logs and data directory and print where they are.
    #[arg(long)]
    pub keep: bool,

    /// `cluster`: service instances on the cluster (default 2).
    #[arg(long, default_value_t = 2)]
    pub instances: usize,

    /// `cluster`: the URL of the primary (HAProxy's primary port), which
    /// the instances use as `--storage`.
    #[arg(long, required_if_eq("backend", "cluster"))]
    pub cluster_url: Option<String>,

    /// `cluster`: a read replica URL (HAProxy's replica port), which the
    /// instances use as `--storage-read`.
    #[arg(long)]
    pub cluster_read_url: Option<String>,

    /// `cluster`: the nodes, comma-separated, each `PATRONI_REST_URL=DATA_DIR`
    /// (the REST API tells which node leads; the data directory's
    /// `postmaster.pid` which process to kill).
    #[arg(long, value_delimiter = ',', required_if_eq("backend", "cluster"))]
    pub cluster_nodes: Vec<String>,

    /// `cluster`: how many times the primary's postmaster is SIGKILLed
    /// (each a failover: Patroni promotes the sync standby).
    #[arg(long, default_value_t = 2)]
    pub failovers: usize,
}

/// The storage a run drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// sled in a temporary directory.
    Sled,
    /// SQLite in a temporary file.
    Sqlite,
    /// A throwaway PostgreSQL server, one service instance.
    Postgres,
    /// A throwaway PostgreSQL server, two service instances.
    #[value(name = "postgres-2")]
    Postgres2,
    /// A running Patroni cluster behind HAProxy (`.ci/ha.sh` starts one),
    /// `--instances` service instances, primaries killed by the nemesis.
    Cluster,
}

impl Backend {
    /// The name printed in the summary line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sled => "sled",
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Postgres2 => "postgres-2",
            Backend::Cluster => "cluster",
        }
    }

    /// How many service instances share the storage (`cluster`: as asked).
    pub fn instances(self, asked: usize) -> usize {
        match self {
            Backend::Postgres2 => 2,
            Backend::Cluster => asked.max(1),
            _ => 1,
        }
    }

    /// Whether the run starts its own PostgreSQL server.
    pub fn is_postgres(self) -> bool {
        matches!(self, Backend::Postgres | Backend::Postgres2)
    }
}
