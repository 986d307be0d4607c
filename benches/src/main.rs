//! `ledger-bench`: the backend comparison harness (default), the HTTP
//! load generator (`ledger-bench http`), and the ratios of the criterion
//! `history` bench's last run (`ledger-bench history-ratios`). See
//! `docs/benchmarks.md`.

use clap::{Parser, Subcommand};
use ledger_bench::http::HttpArgs;
use ledger_bench::instance::InstanceArgs;
use ledger_bench::options::CompareArgs;
use ledger_bench::{BenchError, bars, chart, compare, criterion_ratios, http, instance};

/// mimalloc rather than the system allocator: sled allocates and frees on
/// every insert, and glibc's allocator is about half its cost. The ledger
/// and the baselines share the process, so both run on it. Built without
/// transparent huge pages (the `no_thp` feature): the first touch of a huge
/// page zeroes 2 MiB at once, which stalled the growing memory store for
/// about 5 ms at its p99 and cost it a quarter of its throughput.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "ledger-bench",
    version,
    about = "Ledger benchmarks: backends against hand-written baselines, and HTTP load"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    compare: CompareArgs,
    /// Tokio worker threads (default: one per CPU; 1 runs everything on one
    /// current-thread runtime).
    #[arg(long, global = true)]
    threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load a ledger-http service with balance reads and transfers.
    Http(HttpArgs),
    /// Print, per backend, how the criterion `history` bench's balance as of
    /// an instant and 100-row balance-history page compare with the current
    /// balance measured in the same run; fails if a ratio exceeds 2x.
    HistoryRatios {
        /// Criterion's output directory (default: `CRITERION_HOME`, else
        /// `target/criterion`).
        #[arg(long)]
        criterion_dir: Option<std::path::PathBuf>,
    },
    /// One more ledger process of a `--instances` run (the harness starts
    /// it; not for direct use).
    #[command(hide = true)]
    Instance(InstanceArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Some(Command::HistoryRatios { criterion_dir }) = &cli.command {
        return history_ratios(criterion_dir.clone().unwrap_or_else(criterion_ratios::criterion_dir));
    }
    // One thread means one core: a current-thread runtime, no work stealing.
    let mut runtime = match cli.threads {
        Some(1) => tokio::runtime::Builder::new_current_thread(),
        Some(threads) => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(threads.max(1));
            builder
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    runtime.enable_all();
    let result = runtime.build().map_err(|e| BenchError::io("starting the runtime", e)).and_then(|rt| {
        rt.block_on(async {
            match &cli.command {
                Some(Command::Http(args)) => run_http(args).await,
                Some(Command::HistoryRatios { .. }) => Ok(()),
                Some(Command::Instance(args)) => instance::serve(args).await,
                None => run_compare(&cli.compare).await,
            }
        })
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ledger-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn progress(line: &str) {
    eprintln!("[{}] {line}", chrono::Utc::now().format("%H:%M:%S"));
}

async fn run_compare(args: &CompareArgs) -> Result<(), BenchError> {
    let report = compare::run(args, &mut progress).await?;
    println!("{}", report.markdown());
    if let Some(path) = &args.json {
        report.write_json(path)?;
    }
    if let Some(path) = &args.svg {
        chart::draw(&report, path)?;
    }
    if let Some(broken) = report.invariants.iter().find(|i| !i.check.holds()) {
        return Err(BenchError::Invariant(format!(
            "after a {} ledger run on {} ({} clients): balances sum to zero: {}; accounts not listed: {}; \
             wrong balances: {:?}",
            broken.workload.name(),
            broken.backend,
            broken.clients,
            broken.check.balanced,
            broken.check.missing,
            broken.check.mismatches,
        )));
    }
    if args.check_bars && bars::any_missed(&report.bars) {
        return Err(missed(&report.bars));
    }
    Ok(())
}

/// `ledger-bench http --baseline`: the service beside the axum baseline.
async fn run_http_comparison(args: &HttpArgs) -> Result<(), BenchError> {
    let comparison = http::comparison::run(args, &mut progress).await?;
    println!("{}", comparison.markdown());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&comparison)?;
        std::fs::write(path, text).map_err(|e| BenchError::io(format!("writing {}", path.display()), e))?;
    }
    if args.check_bars && bars::any_missed(&comparison.bars) {
        return Err(missed(&comparison.bars));
    }
    Ok(())
}

/// The error `--check-bars` exits with: the bars missed.
fn missed(results: &[bars::BarResult]) -> BenchError {
    let names: Vec<String> = results
        .iter()
        .filter(|r| r.verdict == bars::Verdict::Fail)
        .map(|r| format!("{} ({:.2} against {})", r.bar.name, r.measured.unwrap_or(f64::NAN), r.bar.threshold))
        .collect();
    BenchError::BarMissed(names.join("; "))
}

async fn run_http(args: &HttpArgs) -> Result<(), BenchError> {
    if args.baseline {
        return run_http_comparison(args).await;
    }
    let report = http::run(args, &mut progress).await?;
    println!("{}", report.markdown());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text).map_err(|e| BenchError::io(format!("writing {}", path.display()), e))?;
    }
    Ok(())
}

/// Prints the history bench's ratios; fails when a ratio exceeds the bar,
/// when nothing was measured, or when a row mixes runs.
fn history_ratios(dir: std::path::PathBuf) -> std::process::ExitCode {
    let rows = match criterion_ratios::history_ratios(&dir) {
        Ok(rows) => rows,
        Err(error) => {
            eprintln!("ledger-bench: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if rows.is_empty() {
        eprintln!(
            "ledger-bench: no history estimates under {} (run `cargo bench -p ledger-bench --bench history`)",
            dir.display()
        );
        return std::process::ExitCode::FAILURE;
    }
    println!("{}", criterion_ratios::markdown(&rows));
    if rows.iter().all(|row| row.within_bar() && row.one_run()) {
        std::process::ExitCode::SUCCESS
    } else {
        eprintln!("ledger-bench: a history case is over {}x the current balance", criterion_ratios::HISTORY_BAR);
        std::process::ExitCode::FAILURE
    }
}
