//! The comparison harness: for each backend and durability mode, the ledger
//! and its baseline at each client count, interleaved so that each ratio
//! compares runs made moments apart on the same (shared) machine, each run
//! on a freshly seeded store of its own. Where group commit runs, a grouped
//! baseline beside them measures group commit written by hand. With
//! `--workload both`, each split run comes straight after the transfer run
//! it is compared with (same backend, group commit, clients and round); the
//! baselines are transfer-only.

use std::sync::Arc;
use std::time::Duration;

use ledger_core::Ledger;

use crate::BenchError;
use crate::backend::{LedgerWorkload, durability_label, ledger_config, open_split_accounts, open_store, seed_accounts};
use crate::baseline;
use crate::driver::{Measurement, RunPlan, Workload, drive};
use crate::invariants::{Expected, check_balances_expecting};
use crate::options::{Backend, CompareArgs, Durability, WorkloadKind};
use crate::report::{InvariantRow, Machine, Report, Row, System};
use crate::zipf::Picker;

/// Runs everything the options ask for; `log` hears progress lines.
pub async fn run(args: &CompareArgs, log: &mut dyn FnMut(&str)) -> Result<Report, BenchError> {
    let mut report = Report { machine: Machine::detect(), settings: settings(args), rows: vec![], invariants: vec![] };
    let picker = Arc::new(Picker::new(args.accounts, args.skew, args.zipf_exponent));
    if !args.no_baselines && !args.workload.kinds().contains(&WorkloadKind::Transfer) {
        log("the baselines are transfer-only: none run with --workload split");
    }
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
    fn row(
        &self,
        args: &CompareArgs,
        (system, workload): (System, WorkloadKind),
        group_commit: Option<bool>,
        m: Measurement,
    ) -> Row {
        Row {
            backend: self.backend.name().to_owned(),
            system,
            workload,
            durability: self.label.to_owned(),
            group_commit,
            clients: self.clients,
            round: self.round,
            batch_size: args.batch_size,
            commands: m.commands,
            errors: m.errors,
            first_error: m.first_error.clone(),
            seconds: m.elapsed.as_secs_f64(),
            commands_per_second: m.per_second(),
            postings_per_second: m.per_second() * workload.postings() as f64,
            latency: m.latency,
            baseline_ratio: None,
            grouped_ratio: None,
            split_ratio: None,
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
            for workload in args.workload.kinds() {
                let m = run_ledger(args, &site, (group_commit, workload), picker, report, log).await?;
                report.rows.push(site.row(args, (System::Ledger, workload), Some(group_commit), m));
            }
        }
        if args.no_baselines || !args.workload.kinds().contains(&WorkloadKind::Transfer) {
            continue;
        }
        let sizes = (clients, args.batch_size);
        let Some(baseline) = baseline::open(backend, durability, &args.postgres_url, args.accounts, sizes).await?
        else {
            continue;
        };
        let m = drive(baseline, &plan(args, picker, clients, run_tag(round, clients, None))).await?;
        log(&format!("{} baseline clients={clients}: {:.0}/s", backend.name(), m.per_second()));
        report.rows.push(site.row(args, (System::Baseline, WorkloadKind::Transfer), None, m));
        if clients > 1 && args.group_commit.settings().contains(&true) {
            let m = run_grouped_baseline(args, &site, picker).await?;
            log(&format!(
                "{} grouped baseline, {clients} commands a transaction: {:.0}/s",
                backend.name(),
                m.per_second()
            ));
            report.rows.push(site.row(args, (System::GroupedBaseline, WorkloadKind::Transfer), None, m));
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

/// One ledger run of a workload on a fresh store (for the split workload,
/// with its fee and tax ledger accounts opened after seeding); afterwards
/// checks that the store's balances sum to zero over every account, the
/// ledger accounts included, and that the fee and tax accounts hold exactly
/// their share of every split entry committed.
async fn run_ledger(
    args: &CompareArgs,
    site: &RunSite<'_>,
    (group_commit, workload): (bool, WorkloadKind),
    picker: &Arc<Picker>,
    report: &mut Report,
    log: &mut dyn FnMut(&str),
) -> Result<Measurement, BenchError> {
    let RunSite { backend, durability, label, clients, round } = *site;
    log(&format!("{} ({label}): seeding {} accounts", backend.name(), args.accounts));
    let opened = open_store(backend, durability, &args.postgres_url, clients).await?;
    let seeder = Ledger::builder(opened.store.clone()).open().await?;
    let accounts = Arc::new(seed_accounts(&seeder, args.accounts).await?);
    let mut expected = Expected { accounts: accounts.to_vec(), balances: vec![] };
    let split = match workload {
        WorkloadKind::Transfer => None,
        WorkloadKind::Split => Some(open_split_accounts(&seeder).await?),
    };
    let ledger = Ledger::builder(opened.store.clone())
        .config(ledger_config(group_commit, args.group_commit_wait_micros))
        .open()
        .await?;
    let ledger_workload = Arc::new(match split {
        None => LedgerWorkload::new(ledger, accounts)?,
        Some(split) => {
            expected.accounts.extend([split.fee, split.tax]);
            LedgerWorkload::split(ledger, accounts, split)?
        }
    });
    let tag = run_tag(round, clients, Some((group_commit, workload)));
    let m = drive(ledger_workload.clone() as Arc<dyn Workload>, &plan(args, picker, clients, tag)).await?;
    let name = match workload {
        WorkloadKind::Transfer => String::new(),
        WorkloadKind::Split => format!(" {}", workload.name()),
    };
    log(&format!("{} ledger{name} gc={group_commit} clients={clients}: {:.0}/s", backend.name(), m.per_second()));
    expected.balances = ledger_workload.expected_ledger_balances();
    let check = check_balances_expecting(opened.store.as_ref(), &expected).await?;
    log(&format!(
        "{} ({label}): balances sum to zero: {}; accounts listed: {} ({} missing){}",
        backend.name(),
        check.balanced,
        check.accounts,
        check.missing,
        match workload {
            WorkloadKind::Transfer => String::new(),
            WorkloadKind::Split => format!(
                "; fee and tax hold {} whole splits: {}",
                ledger_workload.committed(),
                check.mismatches.is_empty()
            ),
        }
    ));
    report.invariants.push(InvariantRow {
        backend: backend.name().to_owned(),
        durability: label.to_owned(),
        group_commit,
        workload,
        clients,
        round,
        check,
    });
    Ok(m)
}

/// The prefix of one run's idempotency keys: unique per round, client count,
/// system and workload, so no run replays another's commands (a replay
/// costs a read, not a write, and would flatter the run).
fn run_tag(round: usize, clients: usize, ledger: Option<(bool, WorkloadKind)>) -> String {
    match ledger {
        Some((on, WorkloadKind::Transfer)) => format!("r{round}-c{clients}-g{}", u8::from(on)),
        Some((on, WorkloadKind::Split)) => format!("r{round}-c{clients}-g{}-split", u8::from(on)),
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
        "workload": args.workload.kinds(),
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
        // `--clients 64,64 --group-commit both --workload both`: ten runs,
        // one key space each.
        let ledger = [false, true]
            .into_iter()
            .flat_map(|on| [WorkloadKind::Transfer, WorkloadKind::Split].into_iter().map(move |w| Some((on, w))));
        let systems: Vec<_> = ledger.chain([None]).collect();
        let runs = [0, 1].into_iter().flat_map(|round| systems.iter().map(move |&s| run_tag(round, 64, s)));
        let tags: HashSet<String> = runs.collect();
        assert_eq!(tags.len(), 10, "{tags:?}");
    }
}
