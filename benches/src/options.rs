//! The harness's command-line options.

use std::path::PathBuf;

use serde::Serialize;

use crate::zipf::Skew;

/// The PostgreSQL database the harness uses when none is given.
pub const POSTGRES_URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/ledger_bench";

/// A storage backend of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// `MemoryStore`: one mutex, no disk.
    Memory,
    /// `SledStore` in a temporary directory.
    Sled,
    /// `SqlStore` on a SQLite file in a temporary directory.
    Sqlite,
    /// `SqlStore` on PostgreSQL (`--postgres-url`), in a fresh schema.
    Postgres,
}

impl Backend {
    /// The lower-case name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Sled => "sled",
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How hard an acknowledged commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Each acknowledged commit is on disk: sled flush-on-commit, SQLite
    /// WAL `synchronous=FULL`, PostgreSQL `synchronous_commit=on`.
    Strict,
    /// Commits may be acknowledged before they are on disk: sled relaxed
    /// (background flush), PostgreSQL `synchronous_commit=off`. The ledger's
    /// SQLite store has no relaxed mode.
    Relaxed,
}

/// Whether the ledger coalesces concurrent commands into one storage commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupCommitMode {
    /// Only with group commit.
    On,
    /// Only without it: one storage transaction per command.
    Off,
    /// Both, side by side.
    Both,
}

impl GroupCommitMode {
    /// The settings to run, off first.
    pub fn settings(self) -> Vec<bool> {
        match self {
            GroupCommitMode::On => vec![true],
            GroupCommitMode::Off => vec![false],
            GroupCommitMode::Both => vec![false, true],
        }
    }
}

/// What one ledger command does, as a row of the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// One transfer of [`crate::backend::TRANSFER_AMOUNT`] between two
    /// customer accounts: one posting.
    #[default]
    Transfer,
    /// One entry of three postings from one customer account: to another
    /// customer account, to a fee ledger account and to a tax ledger account
    /// (see [`crate::backend::SPLIT_AMOUNTS`]).
    Split,
}

impl WorkloadKind {
    /// The lower-case name used in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Transfer => "transfer",
            WorkloadKind::Split => "split",
        }
    }

    /// Postings (source to destination, each a debit line and a credit
    /// line) one command of this workload moves.
    pub fn postings(self) -> u64 {
        match self {
            WorkloadKind::Transfer => 1,
            WorkloadKind::Split => 3,
        }
    }
}

/// Which workloads the ledger runs (`--workload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkloadMode {
    /// One transfer per command (and the baselines).
    Transfer,
    /// One 3-posting split entry per command; the baselines, which are
    /// transfer-only, do not run.
    Split,
    /// Both, each split run straight after the transfer run it is compared
    /// with.
    Both,
}

impl WorkloadMode {
    /// The workloads to run, transfer first.
    pub fn kinds(self) -> Vec<WorkloadKind> {
        match self {
            WorkloadMode::Transfer => vec![WorkloadKind::Transfer],
            WorkloadMode::Split => vec![WorkloadKind::Split],
            WorkloadMode::Both => vec![WorkloadKind::Transfer, WorkloadKind::Split],
        }
    }
}

/// `ledger-bench [compare options]`: ledger against baseline on each backend.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// Backends to measure.
    #[arg(long, value_delimiter = ',', default_value = "memory,sled,sqlite,postgres")]
    pub backends: Vec<Backend>,
    /// Concurrent client tasks, one run per value.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    pub clients: Vec<usize>,
    /// What each ledger command does: `transfer` (one transfer), `split`
    /// (one entry of three postings: payer to payee, to a fee ledger account
    /// and to a tax ledger account), or `both`, side by side with the
    /// split/transfer ratio. The baselines are transfer-only.
    #[arg(long, value_enum, default_value = "transfer")]
    pub workload: WorkloadMode,
    /// Customer accounts to spread transfers over.
    #[arg(long, default_value_t = 10_000)]
    pub accounts: usize,
    /// Commands (transfers, or split entries) per call: 1 runs
    /// `Ledger::execute` per command; more runs `Ledger::execute_batch` (all
    /// or none, one idempotency key and one audit record per call), and the
    /// baselines write as many transfers in one storage transaction.
    #[arg(long, default_value_t = 1, value_parser = batch_size)]
    pub batch_size: usize,
    /// How accounts are drawn.
    #[arg(long, value_enum, default_value = "zipf")]
    pub skew: Skew,
    /// The Zipf exponent `s` (weight of account k is 1/k^s).
    #[arg(long, default_value_t = 1.0)]
    pub zipf_exponent: f64,
    /// Measured seconds per run (after the warmup).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Unmeasured seconds before each run.
    #[arg(long, default_value_t = 2.0)]
    pub warmup_seconds: f64,
    /// Durability modes to run where a backend has them.
    #[arg(long, value_delimiter = ',', default_value = "strict")]
    pub durability: Vec<Durability>,
    /// Group commit in the ledger.
    #[arg(long, value_enum, default_value = "off")]
    pub group_commit: GroupCommitMode,
    /// With group commit: how long a leader may wait for announced commands
    /// on their way (`GroupCommit::wait_micros`); if not given, the
    /// service's (`GROUP_COMMIT_WAIT_MICROS_SERVICE`, 300 µs), so the harness
    /// measures the ledger as ledger-http runs it.
    #[arg(long)]
    pub group_commit_wait_micros: Option<u64>,
    /// Skip the hand-written baselines.
    #[arg(long)]
    pub no_baselines: bool,
    /// PostgreSQL: the ledger books apart from sealing
    /// (`SqlOptions::book_apart`) instead of holding the audit head for
    /// each whole commit.
    #[arg(long)]
    pub book_apart: bool,
    /// Run every setting (ledger group commit off and on, split, baseline,
    /// grouped baseline) N times at each client count, in an order reversed
    /// on every other round, after one uncounted warm-up round; the report
    /// adds each setting's median and spread and each ratio's median over
    /// rounds. Without it: one round, no warm-up round (as before).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: Option<u32>,
    /// Ledger processes sharing the store (PostgreSQL only), one setting
    /// per value: 2 runs a second `ledger-bench` process, with its own group
    /// commit, on the same schema and seeded accounts, each driving half of
    /// the clients. `1,2` runs both in every round, side by side, and
    /// reports the `x one process` ratio of each count over one process.
    #[arg(long, value_delimiter = ',', default_value = "1", value_parser = clap::value_parser!(u32).range(1..=8))]
    pub instances: Vec<u32>,
    /// Exit non-zero when a measured bar is missed (bars the run did not
    /// measure are listed, not failed).
    #[arg(long)]
    pub check_bars: bool,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// PostgreSQL database (the harness creates and drops its own schemas).
    #[arg(long, env = "LEDGER_BENCH_POSTGRES_URL", default_value = POSTGRES_URL_DEFAULT)]
    pub postgres_url: String,
    /// Write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Draw the chart (SVG) here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

/// Parses `--batch-size`: 1 to [`ledger_core::BATCH_SIZE_MAX`].
fn batch_size(text: &str) -> Result<usize, String> {
    let max = ledger_core::BATCH_SIZE_MAX;
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from 1 to {max}")),
    }
}

impl CompareArgs {
    /// The process counts of `--instances`, each once, in the order given.
    pub fn process_counts(&self) -> Vec<usize> {
        let mut counts: Vec<usize> = Vec::new();
        for &n in &self.instances {
            if !counts.contains(&(n as usize)) {
                counts.push(n as usize);
            }
        }
        counts
    }

    /// The most ledger processes any setting runs.
    pub fn processes_max(&self) -> usize {
        self.process_counts().into_iter().max().unwrap_or(1)
    }

    /// Small settings for tests: given backends, 1 and 4 clients, 50
    /// accounts, half a second of warmup-free load.
    pub fn tiny(backends: Vec<Backend>) -> CompareArgs {
        CompareArgs {
            backends,
            clients: vec![1, 4],
            workload: WorkloadMode::Transfer,
            accounts: 50,
            batch_size: 1,
            skew: Skew::Zipf,
            zipf_exponent: 1.0,
            seconds: 0.5,
            warmup_seconds: 0.1,
            durability: vec![Durability::Strict],
            group_commit: GroupCommitMode::Off,
            group_commit_wait_micros: None,
            no_baselines: false,
            book_apart: false,
            rounds: None,
            instances: vec![1],
            check_bars: false,
            seed: 42,
            postgres_url: POSTGRES_URL_DEFAULT.to_owned(),
            json: None,
            svg: None,
        }
    }
}
