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
use crate::backend::{
    LedgerWorkload, durability_label, fund_accounts, ledger_config, open_accounts, open_split_accounts, open_store,
};
use crate::bars;
use crate::baseline;
use crate::driver::{Measurement, RunPlan, Workload, drive};
use crate::instance::{self, Instance, InstanceSpec};
use crate::invariants::{Expected, check_balances_expecting};
use crate::options::{Backend, CompareArgs, Durability, WorkloadKind};
use crate::report::{InvariantRow, Machine, Report, Row, System};
use crate::rounds::alternated;
use crate::zipf::Picker;

/// Runs everything the options ask for; `log` hears progress lines.
pub async fn run(args: &CompareArgs, log: &mut dyn FnMut(&str)) -> Result<Report, BenchError> {
    check_instances(args)?;
    let mut report = Report::new(Machine::detect(), settings(args), vec![]);
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
    report.bars = if !args.process_counts().contains(&1) {
        // The bars are defined for one ledger process per store.
        bars::BARS.iter().map(|bar| bar.judge(None)).collect()
    } else {
        bars::from_summary(&report.summary, |backend| {
            let backend = args.backends.iter().find(|b| b.name() == backend)?;
            durability_label(*backend, Durability::Strict)
        })
    };
    Ok(report)
}

/// `--instances` above 1 runs on PostgreSQL, the transfer workload, and
/// at least one client per process.
fn check_instances(args: &CompareArgs) -> Result<(), BenchError> {
    let instances = args.processes_max();
    if instances <= 1 {
        return Ok(());
    }
    if args.backends.iter().any(|&b| b != Backend::Postgres) {
        return Err(BenchError::Unsupported(format!(
            "--instances {instances}: several ledger processes share a store on PostgreSQL only (--backends postgres)"
        )));
    }
    if args.workload.kinds().contains(&WorkloadKind::Split) {
        return Err(BenchError::Unsupported(format!("--instances {instances} runs the transfer workload only")));
    }
    if args.clients.iter().any(|&c| c < instances) {
        return Err(BenchError::Unsupported(format!("--instances {instances} needs at least one client per process")));
    }
    Ok(())
}

/// Where one run belongs: a backend in a durability mode, at a client
/// count, in an entry of `--clients` and a round of `--rounds`.
struct RunSite<'a> {
    backend: Backend,
    durability: Durability,
    label: &'a str,
    clients: usize,
    round: usize,
    repeat: usize,
    warmup: bool,
}

impl RunSite<'_> {
    fn row(
        &self,
        args: &CompareArgs,
        (system, workload, instances): (System, WorkloadKind, usize),
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
            repeat: self.repeat,
            warmup: self.warmup,
            instances,
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
            gc_ratio: None,
        }
    }

    /// The prefix of this site's idempotency keys (see [`run_tag`]).
    fn tag(&self, step: Step) -> String {
        run_tag((self.round, self.repeat, self.warmup), self.clients, step)
    }
}

/// One setting of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Step {
    /// The ledger with group commit on or off, running a workload, in a
    /// number of processes.
    Ledger(bool, WorkloadKind, usize),
    /// The per-transaction baseline.
    Baseline,
    /// The grouped baseline.
    Grouped,
}

/// The settings of one round at `clients`, in their order on even rounds:
/// the ledger's (group commit off first; each split run beside its
/// transfer run; each process count of `--instances` beside the others),
/// then the baseline and the grouped baseline.
fn steps(args: &CompareArgs, backend: Backend, clients: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    for group_commit in args.group_commit.settings() {
        for workload in args.workload.kinds() {
            steps.extend(args.process_counts().into_iter().map(|n| Step::Ledger(group_commit, workload, n)));
        }
    }
    let baselines =
        !args.no_baselines && args.workload.kinds().contains(&WorkloadKind::Transfer) && baseline::exists(backend);
    if baselines {
        steps.push(Step::Baseline);
        if clients > 1 && args.group_commit.settings().contains(&true) {
            steps.push(Step::Grouped);
        }
    }
    steps
}

/// The rounds at each client count: `(round, warm-up)`. Without
/// `--rounds`, one counted round; with `--rounds N`, a warm-up round and N
/// counted ones.
fn rounds(args: &CompareArgs) -> Vec<(usize, bool)> {
    match args.rounds {
        None => vec![(0, false)],
        Some(n) => std::iter::once((0, true)).chain((0..n as usize).map(|r| (r, false))).collect(),
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
        let steps = steps(args, backend, clients);
        for (repeat, warmup) in rounds(args) {
            if args.rounds.is_some() {
                let what =
                    if warmup { "warm-up round (not counted)".to_owned() } else { format!("round {}", repeat + 1) };
                log(&format!("{} clients={clients}: {what}", backend.name()));
            }
            let site = RunSite { backend, durability, label, clients, round, repeat, warmup };
            for step in alternated(&steps, repeat) {
                let row = run_step(args, &site, step, picker, report, log).await?;
                report.rows.push(row);
            }
        }
    }
    Ok(())
}

/// One setting's run at a site.
async fn run_step(
    args: &CompareArgs,
    site: &RunSite<'_>,
    step: Step,
    picker: &Arc<Picker>,
    report: &mut Report,
    log: &mut dyn FnMut(&str),
) -> Result<Row, BenchError> {
    let RunSite { backend, durability, clients, .. } = *site;
    match step {
        Step::Ledger(group_commit, workload, processes) => {
            let m = run_ledger(args, site, (group_commit, workload, processes), picker, report, log).await?;
            Ok(site.row(args, (System::Ledger, workload, processes), Some(group_commit), m))
        }
        Step::Baseline => {
            let sizes = (clients, args.batch_size);
            let baseline = baseline::open(backend, durability, &args.postgres_url, args.accounts, sizes)
                .await?
                .ok_or_else(|| BenchError::Baseline(format!("{} has no baseline", backend.name())))?;
            let m = drive(baseline, &plan(args, picker, clients, site.tag(step))).await?;
            log(&format!("{} baseline clients={clients}: {:.0}/s", backend.name(), m.per_second()));
            Ok(site.row(args, (System::Baseline, WorkloadKind::Transfer, 1), None, m))
        }
        Step::Grouped => {
            let m = run_grouped_baseline(args, site, picker).await?;
            log(&format!(
                "{} grouped baseline, {clients} commands a transaction: {:.0}/s",
                backend.name(),
                m.per_second()
            ));
            Ok(site.row(args, (System::GroupedBaseline, WorkloadKind::Transfer, 1), None, m))
        }
    }
}

/// Group commit by hand at `clients`: one client committing `clients`
/// hand-written commands (each of `--batch-size` transfers, with its own key
/// and audit record) per storage transaction.
async fn run_grouped_baseline(
    args: &CompareArgs,
    site: &RunSite<'_>,
    picker: &Arc<Picker>,
) -> Result<Measurement, BenchError> {
    let RunSite { backend, durability, clients, .. } = *site;
    let sizes = (1, args.batch_size);
    let Some(baseline) = baseline::open(backend, durability, &args.postgres_url, args.accounts, sizes).await? else {
        return Err(BenchError::Baseline(format!("{} has no baseline to group", backend.name())));
    };
    let mut plan = plan(args, picker, 1, site.tag(Step::Grouped));
    plan.batch_size = clients.saturating_mul(args.batch_size);
    drive(baseline, &plan).await
}

/// One ledger run of a workload in `processes` ledger processes on a fresh
/// store (for the split workload, with its fee and tax ledger accounts
/// opened after seeding); afterwards
/// checks that the store's balances sum to zero over every account, the
/// ledger accounts included, and that the fee and tax accounts hold exactly
/// their share of every split entry committed.
async fn run_ledger(
    args: &CompareArgs,
    site: &RunSite<'_>,
    (group_commit, workload, processes): (bool, WorkloadKind, usize),
    picker: &Arc<Picker>,
    report: &mut Report,
    log: &mut dyn FnMut(&str),
) -> Result<Measurement, BenchError> {
    let RunSite { backend, durability, label, clients, round, repeat, warmup } = *site;
    log(&format!("{} ({label}): seeding {} accounts", backend.name(), args.accounts));
    let opened = open_store(backend, durability, &args.postgres_url, clients, args.book_apart).await?;
    // Opened by a ledger that groups its commits (fast with group commit
    // off too), funded by the ledger measured: planning the deposits teaches
    // it every account's immutable facts, as a service that has served its
    // accounts before knows them. A ledger that did not would read each
    // account the first time a transfer met it, most of them after the
    // warm-up (10,000 accounts drawn by Zipf), a cost the baselines never pay.
    let seeder = Ledger::builder(opened.store.clone()).open().await?;
    let ledger = Ledger::builder(opened.store.clone())
        .config(ledger_config(group_commit, args.group_commit_wait_micros))
        .open()
        .await?;
    let accounts = Arc::new(open_accounts(&seeder, args.accounts).await?);
    fund_accounts(&ledger, &accounts).await?;
    let mut expected = Expected { accounts: accounts.to_vec(), balances: vec![] };
    let split = match workload {
        WorkloadKind::Transfer => None,
        WorkloadKind::Split => Some(open_split_accounts(&seeder).await?),
    };
    let ledger_workload = Arc::new(match split {
        None => LedgerWorkload::new(ledger, accounts.clone())?,
        Some(split) => {
            expected.accounts.extend([split.fee, split.tax]);
            LedgerWorkload::split(ledger, accounts.clone(), split)?
        }
    });
    let tag = site.tag(Step::Ledger(group_commit, workload, processes));
    // With `--instances N`, N - 1 more processes drive their share of the
    // clients on the same schema and accounts, started together with this one.
    let shares = instance::shares(clients, processes);
    let mut others = Vec::new();
    for (i, &share) in shares.iter().enumerate().skip(1) {
        let first_client = shares[..i].iter().sum::<usize>();
        let spec = InstanceSpec { durability, group_commit, clients: share, first_client, tag: format!("{tag}-i{i}") };
        others.push(Instance::spawn(args, &spec, &accounts).await?);
    }
    for other in &mut others {
        other.go().await?;
    }
    let mut m = drive(ledger_workload.clone() as Arc<dyn Workload>, &plan(args, picker, shares[0], tag)).await?;
    for other in others {
        m = m.merge(other.finish().await?);
    }
    let name = match workload {
        WorkloadKind::Transfer => String::new(),
        WorkloadKind::Split => format!(" {}", workload.name()),
    };
    let processes = if shares.len() > 1 { format!(" in {} processes", shares.len()) } else { String::new() };
    log(&format!(
        "{} ledger{name} gc={group_commit} clients={clients}{processes}: {:.0}/s",
        backend.name(),
        m.per_second()
    ));
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
        repeat,
        warmup,
        check,
    });
    Ok(m)
}

/// The prefix of one run's idempotency keys: unique per entry of
/// `--clients`, round of `--rounds` (the warm-up round its own), client
/// count, system and workload, so no run replays another's commands (a
/// replay costs a read, not a write, and would flatter the run).
fn run_tag((round, repeat, warmup): (usize, usize, bool), clients: usize, step: Step) -> String {
    let pass = if warmup { "w".to_owned() } else { format!("p{repeat}") };
    let prefix = format!("r{round}-{pass}-c{clients}");
    match step {
        Step::Ledger(on, WorkloadKind::Transfer, 1) => format!("{prefix}-g{}", u8::from(on)),
        Step::Ledger(on, WorkloadKind::Transfer, n) => format!("{prefix}-g{}-x{n}", u8::from(on)),
        Step::Ledger(on, WorkloadKind::Split, _) => format!("{prefix}-g{}-split", u8::from(on)),
        Step::Baseline => format!("{prefix}-baseline"),
        Step::Grouped => format!("{prefix}-grouped"),
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
        "rounds": args.rounds,
        "instances": args.process_counts(),
        "seed": args.seed,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::options::{GroupCommitMode, WorkloadMode};

    #[test]
    fn every_run_of_a_comparison_gets_its_own_idempotency_keys() {
        // `--clients 64,64 --group-commit both --workload both --rounds 2`:
        // per entry of --clients a warm-up round and two rounds of six runs.
        let mut args = CompareArgs::tiny(vec![Backend::Sqlite]);
        args.clients = vec![64, 64];
        args.group_commit = GroupCommitMode::Both;
        args.workload = WorkloadMode::Both;
        args.rounds = Some(2);
        let steps = steps(&args, Backend::Sqlite, 64);
        assert_eq!(steps.len(), 6, "{steps:?}");
        let passes = rounds(&args);
        assert_eq!(passes, vec![(0, true), (0, false), (1, false)]);
        let runs = (0..2).flat_map(|round| {
            let steps = &steps;
            passes.iter().flat_map(move |&(repeat, warmup)| {
                steps.iter().map(move |&step| run_tag((round, repeat, warmup), 64, step))
            })
        });
        let tags: HashSet<String> = runs.collect();
        assert_eq!(tags.len(), 2 * 3 * 6, "{tags:?}");
    }

    #[test]
    fn each_process_count_is_a_setting_of_the_round_with_keys_of_its_own() {
        let mut args = CompareArgs::tiny(vec![Backend::Postgres]);
        args.instances = vec![1, 2, 2];
        args.group_commit = GroupCommitMode::On;
        args.no_baselines = true;
        let steps = steps(&args, Backend::Postgres, 8);
        let transfer = WorkloadKind::Transfer;
        assert_eq!(steps, vec![Step::Ledger(true, transfer, 1), Step::Ledger(true, transfer, 2)]);
        let tags: HashSet<String> = steps.iter().map(|&step| run_tag((0, 0, false), 8, step)).collect();
        assert_eq!(tags.len(), 2, "{tags:?}");
    }

    #[test]
    fn without_rounds_there_is_one_counted_round_and_no_warm_up() {
        let args = CompareArgs::tiny(vec![Backend::Memory]);
        assert_eq!(rounds(&args), vec![(0, false)]);
        assert_eq!(steps(&args, Backend::Memory, 4), vec![Step::Ledger(false, WorkloadKind::Transfer, 1)]);
    }

    #[test]
    fn several_instances_run_on_postgres_only_with_a_client_each() {
        let mut args = CompareArgs::tiny(vec![Backend::Postgres]);
        args.instances = vec![2];
        args.clients = vec![8];
        assert!(check_instances(&args).is_ok());
        args.instances = vec![1, 2];
        assert!(check_instances(&args).is_ok());
        args.clients = vec![1, 8];
        assert!(check_instances(&args).is_err(), "two processes need two clients");
        args.clients = vec![8];
        args.backends = vec![Backend::Postgres, Backend::Sqlite];
        assert!(check_instances(&args).is_err());
    }
}
