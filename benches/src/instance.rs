//! Several ledger processes on one PostgreSQL schema (`--instances N`).
//!
//! The harness seeds the schema, then re-executes its own binary N - 1
//! times in the hidden subcommand `ledger-bench instance`. Each child opens
//! its own `SqlStore` on the same schema and its own `Ledger` (so its own
//! group commit), over the same seeded accounts in the same order (read
//! from a file the parent writes), prints `ready`, waits for a line on its
//! stdin, drives its share of the clients for the same warm-up and measured
//! time as the parent, and prints its measurement as one JSON line
//! (latencies as histogram counts, so the parent merges the distributions,
//! not their percentiles). The parent drives the first share itself and
//! adds the others' measurements to its own; it checks the invariants once
//! every process has finished.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use ledger_core::{AccountId, Actor, Ledger};
use ledger_sql::{SqlOptions, SqlStore};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::BenchError;
use crate::backend::{LEDGER_SCHEMA, LedgerWorkload, ledger_config, postgres_connections, postgres_url};
use crate::driver::{Measurement, RunPlan, Workload, drive};
use crate::latency::Recorder;
use crate::options::{CompareArgs, Durability};
use crate::zipf::{Picker, Skew};

/// How long a child may take to open its store and say `ready`.
const READY_SECS_MAX: u64 = 60;
/// What a child prints once it can start.
const READY: &str = "ready";

/// How many account reads a child has in flight while it learns the accounts.
const LEARN_CONCURRENCY: usize = 16;

/// How `clients` split over `instances` processes: as evenly as they go,
/// the first processes taking one more.
pub fn shares(clients: usize, instances: usize) -> Vec<usize> {
    let instances = instances.max(1);
    (0..instances).map(|i| clients / instances + usize::from(i < clients % instances)).collect()
}

/// What one more process runs.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    /// Its durability mode.
    pub durability: Durability,
    /// Its ledger's group commit.
    pub group_commit: bool,
    /// Its clients.
    pub clients: usize,
    /// The harness-wide number of its first client (client `i` draws from
    /// `seed + first_client + i`, so no two processes draw the same stream).
    pub first_client: usize,
    /// The prefix of its idempotency keys.
    pub tag: String,
}

/// `ledger-bench instance` (hidden): one more ledger process on the
/// harness's PostgreSQL schema. Not for direct use.
#[derive(Debug, Clone, clap::Args)]
pub struct InstanceArgs {
    /// The PostgreSQL database (the harness passes it in the environment).
    #[arg(long, env = "LEDGER_BENCH_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: String,
    /// Durability of its sessions.
    #[arg(long, value_enum)]
    pub durability: Durability,
    /// A JSON list of the seeded accounts' ids, in the parent's order.
    #[arg(long)]
    pub accounts_file: PathBuf,
    /// Its clients.
    #[arg(long)]
    pub clients: usize,
    /// See [`InstanceSpec::first_client`].
    #[arg(long)]
    pub first_client: usize,
    /// Commands per call.
    #[arg(long)]
    pub batch_size: usize,
    /// How accounts are drawn.
    #[arg(long, value_enum)]
    pub skew: Skew,
    /// The Zipf exponent.
    #[arg(long)]
    pub zipf_exponent: f64,
    /// Measured seconds.
    #[arg(long)]
    pub seconds: f64,
    /// Unmeasured seconds first.
    #[arg(long)]
    pub warmup_seconds: f64,
    /// Group commit in its ledger.
    #[arg(long, action = clap::ArgAction::Set)]
    pub group_commit: bool,
    /// `GroupCommit::wait_micros`, if given to the parent.
    #[arg(long)]
    pub group_commit_wait_micros: Option<u64>,
    /// The parent's seed.
    #[arg(long)]
    pub seed: u64,
    /// The prefix of its idempotency keys.
    #[arg(long)]
    pub tag: String,
    /// Whether its store books apart from sealing.
    #[arg(long, action = clap::ArgAction::Set)]
    pub book_apart: bool,
}

/// A measurement on its way from a child to the parent.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    commands: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed_micros: u64,
    /// Latency histogram: (microseconds, count).
    latencies: Vec<(u64, u64)>,
}

impl From<&Measurement> for Wire {
    fn from(m: &Measurement) -> Wire {
        Wire {
            commands: m.commands,
            errors: m.errors,
            first_error: m.first_error.clone(),
            elapsed_micros: u64::try_from(m.elapsed.as_micros()).unwrap_or(u64::MAX),
            latencies: m.recorder.counts(),
        }
    }
}

impl From<Wire> for Measurement {
    fn from(w: Wire) -> Measurement {
        let recorder = Recorder::from_counts(&w.latencies);
        Measurement {
            commands: w.commands,
            errors: w.errors,
            first_error: w.first_error,
            elapsed: Duration::from_micros(w.elapsed_micros),
            latency: recorder.summary(),
            recorder,
        }
    }
}

/// A child ledger process, ready to start; killed when dropped.
pub struct Instance {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    /// The accounts file, removed when the run is over.
    _accounts: tempfile::NamedTempFile,
}

impl Instance {
    /// Starts one more process on the harness's schema and waits until it
    /// has opened its store and ledger.
    pub async fn spawn(
        args: &CompareArgs,
        spec: &InstanceSpec,
        accounts: &[AccountId],
    ) -> Result<Instance, BenchError> {
        let mut file = tempfile::NamedTempFile::new().map_err(|e| BenchError::io("accounts file", e))?;
        file.write_all(&serde_json::to_vec(accounts)?).map_err(|e| BenchError::io("accounts file", e))?;
        let exe = std::env::current_exe().map_err(|e| BenchError::io("finding this executable", e))?;
        let durability = match spec.durability {
            Durability::Strict => "strict",
            Durability::Relaxed => "relaxed",
        };
        let skew = match args.skew {
            Skew::Uniform => "uniform",
            Skew::Zipf => "zipf",
        };
        let mut command = Command::new(&exe);
        command
            .arg("instance")
            .args(["--durability", durability, "--skew", skew, "--tag", &spec.tag])
            .arg("--accounts-file")
            .arg(file.path())
            .args(["--clients", &spec.clients.to_string(), "--first-client", &spec.first_client.to_string()])
            .args(["--batch-size", &args.batch_size.to_string(), "--zipf-exponent", &args.zipf_exponent.to_string()])
            .args(["--seconds", &args.seconds.to_string(), "--warmup-seconds", &args.warmup_seconds.to_string()])
            .args(["--group-commit", &spec.group_commit.to_string(), "--seed", &args.seed.to_string()])
            .args(["--book-apart", &args.book_apart.to_string()]);
        if let Some(wait) = args.group_commit_wait_micros {
            command.args(["--group-commit-wait-micros", &wait.to_string()]);
        }
        let mut child = command
            .env("LEDGER_BENCH_POSTGRES_URL", &args.postgres_url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::io(format!("starting {}", exe.display()), e))?;
        let missing = || BenchError::Instance("no pipe to the child process".into());
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let mut lines = BufReader::new(child.stdout.take().ok_or_else(missing)?).lines();
        let ready = tokio::time::timeout(Duration::from_secs(READY_SECS_MAX), lines.next_line()).await;
        match ready {
            Ok(Ok(Some(line))) if line.trim() == READY => Ok(Instance { child, stdin, lines, _accounts: file }),
            Ok(Ok(other)) => Err(BenchError::Instance(format!("the child process said {other:?}, not {READY:?}"))),
            Ok(Err(e)) => Err(BenchError::io("reading the child process", e)),
            Err(_) => Err(BenchError::Instance(format!("the child process was not ready in {READY_SECS_MAX} s"))),
        }
    }

    /// Tells the process to start driving.
    pub async fn go(&mut self) -> Result<(), BenchError> {
        self.stdin.write_all(b"go\n").await.map_err(|e| BenchError::io("starting the child process", e))?;
        self.stdin.flush().await.map_err(|e| BenchError::io("starting the child process", e))
    }

    /// Waits for the process's measurement and for it to exit.
    pub async fn finish(mut self) -> Result<Measurement, BenchError> {
        let line = self.lines.next_line().await.map_err(|e| BenchError::io("reading the child process", e))?;
        let status = self.child.wait().await.map_err(|e| BenchError::io("waiting for the child process", e))?;
        let line = line
            .ok_or_else(|| BenchError::Instance(format!("the child process ended ({status}) with no measurement")))?;
        if !status.success() {
            return Err(BenchError::Instance(format!("the child process ended with {status}")));
        }
        Ok(serde_json::from_str::<Wire>(&line)?.into())
    }
}

/// The child's side: open, say `ready`, wait for the go, drive, report.
pub async fn serve(args: &InstanceArgs) -> Result<(), BenchError> {
    let text = std::fs::read_to_string(&args.accounts_file)
        .map_err(|e| BenchError::io(format!("reading {}", args.accounts_file.display()), e))?;
    let accounts: Vec<AccountId> = serde_json::from_str(&text)?;
    let options = SqlOptions::default()
        .max_connections(postgres_connections(args.clients))
        .schema(Some(LEDGER_SCHEMA.to_owned()))
        .notify(false)
        .book_apart(args.book_apart);
    let store = SqlStore::connect_with(&postgres_url(&args.postgres_url, args.durability), options).await?;
    let ledger = Ledger::builder(Arc::new(store))
        .config(ledger_config(args.group_commit, args.group_commit_wait_micros))
        .open()
        .await?;
    learn_accounts(&ledger, &accounts).await?;
    let picker = Arc::new(Picker::new(accounts.len(), args.skew, args.zipf_exponent));
    let workload = Arc::new(LedgerWorkload::new(ledger, Arc::new(accounts))?);
    println!("{READY}");
    std::io::stdout().flush().map_err(|e| BenchError::io("writing to the parent", e))?;
    let go = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    });
    let line = go.await.map_err(|e| BenchError::Instance(format!("waiting for the parent: {e}")))?;
    line.map_err(|e| BenchError::io("reading from the parent", e))?;
    let plan = RunPlan {
        clients: args.clients,
        batch_size: args.batch_size,
        warmup: Duration::from_secs_f64(args.warmup_seconds.max(0.0)),
        duration: Duration::from_secs_f64(args.seconds.max(0.01)),
        picker,
        seed: args.seed.wrapping_add(args.first_client as u64),
        tag: args.tag.clone(),
    };
    let m = drive(workload as Arc<dyn Workload>, &plan).await?;
    println!("{}", serde_json::to_string(&Wire::from(&m))?);
    std::io::stdout().flush().map_err(|e| BenchError::io("writing to the parent", e))
}

/// Reads each of `accounts` once through `ledger`, before the clock starts,
/// so that this process knows their immutable facts as the parent's ledger
/// (which funded them) does, and as a service that has served them before.
async fn learn_accounts(ledger: &Ledger, accounts: &[AccountId]) -> Result<(), BenchError> {
    futures::stream::iter(accounts)
        .map(|&id| ledger.account(&Actor::System, id))
        .buffer_unordered(LEARN_CONCURRENCY)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn clients_split_as_evenly_as_they_go() {
        assert_eq!(shares(8, 2), vec![4, 4]);
        assert_eq!(shares(9, 2), vec![5, 4]);
        assert_eq!(shares(1, 1), vec![1]);
        assert_eq!(shares(64, 3), vec![22, 21, 21]);
        assert_eq!(shares(5, 0), vec![5]);
    }

    #[test]
    fn a_measurement_crosses_the_pipe_with_its_latency_distribution() {
        let mut recorder = Recorder::new();
        for i in 1..=100 {
            recorder.record(Duration::from_micros(i * 100));
        }
        let m = Measurement {
            commands: 100,
            errors: 1,
            first_error: Some("x".into()),
            elapsed: Duration::from_millis(1500),
            latency: recorder.summary(),
            recorder,
        };
        let line = serde_json::to_string(&Wire::from(&m)).unwrap();
        let back: Measurement = serde_json::from_str::<Wire>(&line).unwrap().into();
        assert_eq!((back.commands, back.errors, back.elapsed, back.latency), (100, 1, m.elapsed, m.latency));
        let merged = back.merge(m);
        assert_eq!((merged.commands, merged.recorder.len()), (200, 200));
    }
}
