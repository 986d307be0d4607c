//! The comparison harness: for each backend and durability mode, the ledger
//! and its baseline at each client count, interleaved so that each ratio
//! compares runs made moments apart on the same (shared) machine, each run
//! on a freshly seeded store of its own. Where group commit runs, a grouped
//! baseline beside them measures group commit written by hand.

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

/// Where one run belongs: a backend in a durability mode, at a client
/// count, in a round.
struct RunSite<'a> {
    backend: Backend,
    durability: Durability,
    label: &'a str,
    clients: usize,
    round: usize,
}

impl RunSite<'_> {
    fn row(&self, args: &CompareArgs, system: System, group_commit: Option<bool>, m: Measurement) -> Row {
        Row {
            backend: self.backend.name().to_owned(),
            system,
            durability: self.label.to_owned(),
            group_commit,
            clients: self.clients,
            round: self.round,
            batch_size: args.batch_size,
            transfers: m.transfers,
            errors: m.errors,
            first_error: m.first_error.clone(),
            seconds: m.elapsed.as_secs_f64(),
            transfers_per_second: m.per_second(),
            latency: m.latency,
            baseline_ratio: None,
            grouped_ratio: None,
        }
    }
}

/// Every run of one backend and durability mode. Each run, ledger or
/// baseline, gets a freshly opened and seeded store of its own: a store that
/// earlier runs have grown is slower to write (sled's most of all), and
/// sharing one would make a row depend on the runs before it.
async fn run_backend(
    args: &CompareArgs,
    backend: Backend,
    durability: Durability,
    label: &str,
    picker: &Arc<Picker>,
    report: &mut Report,
    log: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    for (round, &clients) in args.clients.iter().enumerate() {
        let site = RunSite { backend, durability, label, clients, round };
        for group_commit in args.group_commit.settings() {
            let m = run_ledger(args, &site, group_commit, picker, report, log).await?;
            report.rows.push(site.row(args, System::Ledger, Some(group_commit), m));
        }
        if args.no_baselines {
            continue;
        }
        let sizes = (clients, args.batch_size);
        let Some(baseline) = baseline::open(backend, durability, &args.postgres_url, args.accounts, sizes).await?
        else {
            continue;
        };
        let m = drive(baseline, &plan(args, picker, clients, run_tag(round, clients, None))).await?;
        log(&format!("{} baseline clients={clients}: {:.0}/s", backend.name(), m.per_second()));
        report.rows.push(site.row(args, System::Baseline, None, m));
        if clients > 1 && args.group_commit.settings().contains(&true) {
            let m = run_grouped_baseline(args, &site, picker).await?;
            log(&format!(
                "{} grouped baseline, {clients} commands a transaction: {:.0}/s",
                backend.name(),
                m.per_second()
            ));
            report.rows.push(site.row(args, System::GroupedBaseline, None, m));
        }
    }
    Ok(())
}

/// Group commit by hand at `clients`: one client committing `clients`
/// hand-written commands (each of `--batch-size` transfers, with its own key
/// and audit record) per storage transaction.
async fn run_grouped_baseline(
    args: &CompareArgs,
    site: &RunSite<'_>,
    picker: &Arc<Picker>,
) -> Result<Measurement, BenchError> {
    let RunSite { backend, durability, clients, round, .. } = *site;
    let sizes = (1, args.batch_size);
    let Some(baseline) = baseline::open(backend, durability, &args.postgres_url, args.accounts, sizes).await? else {
        return Err(BenchError::Baseline(format!("{} has no baseline to group", backend.name())));
    };
    let mut plan = plan(args, picker, 1, format!("r{round}-c{clients}-grouped"));
    plan.batch_size = clients.saturating_mul(args.batch_size);
    drive(baseline, &plan).await
}

/// One ledger run on a fresh store; afterwards checks that the store's
/// balances sum to zero.
async fn run_ledger(
    args: &CompareArgs,
    site: &RunSite<'_>,
    group_commit: bool,
    picker: &Arc<Picker>,
    report: &mut Report,
    log: &mut dyn FnMut(&str),
) -> Result<Measurement, BenchError> {
    let RunSite { backend, durability, label, clients, round } = *site;
    log(&format!("{} ({label}): seeding {} accounts", backend.name(), args.accounts));
    let opened = open_store(backend, durability, &args.postgres_url, clients).await?;
    let accounts = Arc::new(seed_accounts(&Ledger::builder(opened.store.clone()).open().await?, args.accounts).await?);
    let ledger = Ledger::builder(opened.store.clone())
        .config(ledger_config(group_commit, args.group_commit_wait_micros))
        .open()
        .await?;
    let workload: Arc<dyn Workload> = Arc::new(LedgerWorkload::new(ledger, accounts)?);
    let m = drive(workload, &plan(args, picker, clients, run_tag(round, clients, Some(group_commit)))).await?;
    log(&format!("{} ledger gc={group_commit} clients={clients}: {:.0}/s", backend.name(), m.per_second()));
    let check = check_balances(opened.store.as_ref()).await?;
    log(&format!("{} ({label}): balances sum to zero: {}", backend.name(), check.balanced));
    report.invariants.push(InvariantRow {
        backend: backend.name().to_owned(),
        durability: label.to_owned(),
        group_commit,
        clients,
        round,
        check,
    });
    Ok(m)
}

/// The prefix of one run's idempotency keys: unique per round, client count
/// and system, so no run replays another's commands (a replay costs a read,
/// not a write, and would flatter the run).
fn run_tag(round: usize, clients: usize, group_commit: Option<bool>) -> String {
    match group_commit {
        Some(on) => format!("r{round}-c{clients}-g{}", u8::from(on)),
        None => format!("r{round}-c{clients}-baseline"),
    }
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
        "group_commit_wait_micros": args.group_commit_wait_micros,
        "baselines": !args.no_baselines,
        "seed": args.seed,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_run_of_a_comparison_gets_its_own_idempotency_keys() {
        // `--clients 64,64 --group-commit both`: six runs, one key space each.
        let runs = [0, 1]
            .into_iter()
            .flat_map(|round| [Some(false), Some(true), None].into_iter().map(move |gc| run_tag(round, 64, gc)));
        let tags: HashSet<String> = runs.collect();
        assert_eq!(tags.len(), 6, "{tags:?}");
    }
}
