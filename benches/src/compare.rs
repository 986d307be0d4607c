//! The comparison harness: for each backend and durability mode, the ledger
//! and its baseline at each client count, interleaved so that each ratio
//! compares runs made moments apart on the same (shared) machine.

use std::sync::Arc;
use std::time::Duration;

use ledger_core::Ledger;

use crate::BenchError;
use crate::backend::{LedgerWorkload, durability_label, ledger_config, open_store, seed_accounts};
use crate::baseline;
use crate::driver::{Measurement, RunPlan, Workload, drive};
use crate::invariants::check_balances;
use crate::options::{Backend, CompareArgs, Durability};
use crate::report::{InvariantRow, Machine, Report, Row, System};
use crate::zipf::Picker;

/// Runs everything the options ask for; `log` hears progress lines.
pub async fn run(args: &CompareArgs, log: &mut dyn FnMut(&str)) -> Result<Report, BenchError> {
    let mut report = Report { machine: Machine::detect(), settings: settings(args), rows: vec![], invariants: vec![] };
    let picker = Arc::new(Picker::new(args.accounts, args.skew, args.zipf_exponent));
    for &backend in &args.backends {
        for &durability in &args.durability {
            let Some(label) = durability_label(backend, durability) else {
                log(&format!("{}: no {durability:?} durability mode, skipped", backend.name()));
                continue;
            };
            run_backend(args, backend, durability, label, &picker, &mut report, log).await?;
        }
    }
    report.compute_ratios();
    Ok(report)
}

async fn run_backend(
    args: &CompareArgs,
    backend: Backend,
    durability: Durability,
    label: &str,
    picker: &Arc<Picker>,
    report: &mut Report,
    log: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    let clients_max = args.clients.iter().copied().max().unwrap_or(1);
    log(&format!("{} ({label}): seeding {} accounts", backend.name(), args.accounts));
    let opened = open_store(backend, durability, &args.postgres_url, clients_max).await?;
    let accounts = Arc::new(seed_accounts(&Ledger::builder(opened.store.clone()).open().await?, args.accounts).await?);
    let baseline = if args.no_baselines {
        None
    } else {
        baseline::open(backend, durability, &args.postgres_url, args.accounts, clients_max).await?
    };
    let row = |system, group_commit, clients, m: Measurement| Row {
        backend: backend.name().to_owned(),
        system,
        durability: label.to_owned(),
        group_commit,
        clients,
        batch_size: args.batch_size,
        transfers: m.transfers,
        errors: m.errors,
        first_error: m.first_error.clone(),
        seconds: m.elapsed.as_secs_f64(),
        transfers_per_second: m.per_second(),
        latency: m.latency,
        baseline_ratio: None,
    };
    for &clients in &args.clients {
        for group_commit in args.group_commit.settings() {
            let ledger = Ledger::builder(opened.store.clone()).config(ledger_config(group_commit)).open().await?;
            let workload: Arc<dyn Workload> = Arc::new(LedgerWorkload::new(ledger, accounts.clone())?);
            let tag = format!("c{clients}-g{}", u8::from(group_commit));
            let m = drive(workload, &plan(args, picker, clients, tag)).await?;
            log(&format!("{} ledger gc={group_commit} clients={clients}: {:.0}/s", backend.name(), m.per_second()));
            report.rows.push(row(System::Ledger, Some(group_commit), clients, m));
        }
        if let Some(baseline) = &baseline {
            let m = drive(baseline.clone(), &plan(args, picker, clients, format!("c{clients}"))).await?;
            log(&format!("{} baseline clients={clients}: {:.0}/s", backend.name(), m.per_second()));
            report.rows.push(row(System::Baseline, None, clients, m));
        }
    }
    let check = check_balances(opened.store.as_ref()).await?;
    log(&format!("{} ({label}): balances sum to zero: {}", backend.name(), check.balanced));
    report.invariants.push(InvariantRow { backend: backend.name().to_owned(), durability: label.to_owned(), check });
    Ok(())
}

fn plan(args: &CompareArgs, picker: &Arc<Picker>, clients: usize, tag: String) -> RunPlan {
    RunPlan {
        clients,
        batch_size: args.batch_size,
        warmup: Duration::from_secs_f64(args.warmup_seconds.max(0.0)),
        duration: Duration::from_secs_f64(args.seconds.max(0.01)),
        picker: picker.clone(),
        seed: args.seed,
        tag,
    }
}

fn settings(args: &CompareArgs) -> serde_json::Value {
    serde_json::json!({
        "backends": args.backends,
        "clients": args.clients,
        "batch_size": args.batch_size,
        "accounts": args.accounts,
        "skew": args.skew,
        "zipf_exponent": args.zipf_exponent,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup_seconds,
        "durability": args.durability,
        "group_commit": format!("{:?}", args.group_commit).to_lowercase(),
        "baselines": !args.no_baselines,
        "seed": args.seed,
    })
}
