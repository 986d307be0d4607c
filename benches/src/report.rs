//! The harness's results: rows, the markdown table, the JSON document.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::BenchError;
use crate::bars::{self, BarResult};
use crate::invariants::BalanceCheck;
use crate::latency::Latency;
use crate::options::WorkloadKind;
use crate::summary::Summary;

/// What a row measured: the ledger, or a hand-written baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    /// `Ledger::execute` over a store.
    Ledger,
    /// The same writes by hand, no ledger logic, one command per storage
    /// transaction from each client.
    Baseline,
    /// The same writes by hand, `clients` commands per storage transaction
    /// from one client: group commit written by hand, at that many clients.
    GroupedBaseline,
}

impl System {
    /// The name the table prints.
    pub fn label(self) -> &'static str {
        match self {
            System::Ledger => "ledger",
            System::Baseline => "baseline",
            System::GroupedBaseline => "grouped baseline",
        }
    }
}

/// One measured run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// `memory`, `sled`, `sqlite` or `postgres`.
    pub backend: String,
    /// Ledger or baseline.
    pub system: System,
    /// What each command did: a transfer (every baseline row) or a split
    /// entry of three postings.
    #[serde(default)]
    pub workload: WorkloadKind,
    /// How acknowledged commits reach the disk.
    pub durability: String,
    /// Whether the ledger coalesced commits (`None` for baselines).
    pub group_commit: Option<bool>,
    /// Concurrent clients.
    pub clients: usize,
    /// Which entry of `--clients` this run measured (from 0), so a client
    /// count given twice pairs each ledger run with the baseline run beside it.
    pub round: usize,
    /// Which of `--rounds` this run belongs to (from 0); the warm-up round,
    /// if any, is 0 too and marked `warmup`.
    #[serde(default)]
    pub repeat: usize,
    /// Whether this run is the warm-up round `--rounds` runs first on a
    /// fresh sitting: reported, never counted in medians or ratios.
    #[serde(default)]
    pub warmup: bool,
    /// Ledger processes that shared the store (`--instances`; 1 for every
    /// baseline row).
    #[serde(default = "one")]
    pub instances: usize,
    /// Commands per call (one atomic batch, one storage transaction).
    pub batch_size: usize,
    /// Commands (transfers, or split entries) committed in the measured time.
    #[serde(alias = "transfers")]
    pub commands: u64,
    /// Calls (of `batch_size` commands) that failed in the measured time.
    pub errors: u64,
    /// The first failure's message.
    pub first_error: Option<String>,
    /// The measured time.
    pub seconds: f64,
    /// Committed commands per second.
    #[serde(alias = "transfers_per_second")]
    pub commands_per_second: f64,
    /// Committed postings per second: commands per second times the
    /// workload's postings per command (1 for a transfer, 3 for a split).
    #[serde(default)]
    pub postings_per_second: f64,
    /// Latency percentiles of committed calls.
    pub latency: Latency,
    /// Transfer ledger rows and grouped baseline rows: commands per second
    /// over the baseline's with the same backend, durability, clients, batch
    /// size and round. `None` for split rows: the baselines are
    /// transfer-only.
    pub baseline_ratio: Option<f64>,
    /// Transfer ledger rows with group commit: commands per second over the
    /// grouped baseline's with the same backend, durability, clients,
    /// batch size and round.
    #[serde(default)]
    pub grouped_ratio: Option<f64>,
    /// Split ledger rows: commands per second over the transfer ledger row's
    /// with the same backend, durability, group commit, clients, batch size
    /// and round (measured just before it). Postings per second compare at
    /// three times this.
    #[serde(default)]
    pub split_ratio: Option<f64>,
    /// Ledger rows with group commit: commands per second over the ledger
    /// row's without it, same workload, backend, durability, clients, batch
    /// size and round.
    #[serde(default)]
    pub gc_ratio: Option<f64>,
}

fn one() -> usize {
    1
}

impl Row {
    /// The system as the table prints it: warm-up runs and runs of several
    /// ledger processes say so.
    fn label(&self) -> String {
        let mut label = self.system.label().to_owned();
        if self.instances > 1 {
            label.push_str(&format!(" x{} processes", self.instances));
        }
        if self.warmup {
            label.push_str(" (warm-up)");
        }
        label
    }

    /// Whether `other` measured the same backend, durability, clients, batch
    /// size and round.
    fn pairs_with(&self, other: &Row) -> bool {
        self.backend == other.backend
            && self.durability == other.durability
            && self.clients == other.clients
            && self.round == other.round
            && self.repeat == other.repeat
            && self.warmup == other.warmup
            && self.batch_size == other.batch_size
    }

    /// Whether `other` is the transfer ledger run this split ledger run is
    /// compared with: same place, same group commit setting.
    fn splits_against(&self, other: &Row) -> bool {
        self.system == System::Ledger
            && other.system == System::Ledger
            && self.workload == WorkloadKind::Split
            && other.workload == WorkloadKind::Transfer
            && self.group_commit == other.group_commit
            && self.pairs_with(other)
    }

    /// Whether `other` is the ledger run without group commit this group
    /// commit ledger run is compared with: same place, same workload, as
    /// many processes.
    fn groups_against(&self, other: &Row) -> bool {
        self.system == System::Ledger
            && other.system == System::Ledger
            && self.workload == other.workload
            && self.instances == other.instances
            && self.group_commit == Some(true)
            && other.group_commit == Some(false)
            && self.pairs_with(other)
    }
}

/// The ledger invariant after one ledger run (each run has its own store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvariantRow {
    /// The backend.
    pub backend: String,
    /// Its durability mode.
    pub durability: String,
    /// Whether the run used group commit.
    pub group_commit: bool,
    /// The run's workload.
    pub workload: WorkloadKind,
    /// Its concurrent clients.
    pub clients: usize,
    /// Its position in the `--clients` list.
    pub round: usize,
    /// Which of `--rounds` (from 0).
    pub repeat: usize,
    /// Whether it ran in the uncounted warm-up round.
    pub warmup: bool,
    /// What the check found.
    pub check: BalanceCheck,
}

/// The machine a report was measured on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Machine {
    /// CPU model name from /proc/cpuinfo.
    pub cpu: String,
    /// Logical CPUs available.
    pub cpus: usize,
    /// Total memory from /proc/meminfo.
    pub memory: String,
}

impl Machine {
    /// Reads the machine's description (empty fields where unknown).
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let field = |text: &str, name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        let cpus = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
        Machine { cpu: field(&cpuinfo, "model name"), cpus, memory: field(&meminfo, "MemTotal") }
    }
}

/// Everything one harness run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where.
    pub machine: Machine,
    /// The command line's settings, for the record.
    pub settings: serde_json::Value,
    /// Every run, in the order measured.
    pub rows: Vec<Row>,
    /// The invariant after each ledger run.
    pub invariants: Vec<InvariantRow>,
    /// Medians, spreads and ratios over the counted rounds.
    pub summary: Summary,
    /// The bars, measured or not.
    pub bars: Vec<BarResult>,
}

impl Report {
    /// A report of these rows, nothing computed yet.
    pub fn new(machine: Machine, settings: serde_json::Value, rows: Vec<Row>) -> Report {
        Report { machine, settings, rows, invariants: vec![], summary: Summary::default(), bars: vec![] }
    }

    /// Fills each transfer ledger and grouped baseline row's ratio against
    /// its baseline row, each group-commit transfer ledger row's against its
    /// grouped baseline row, each split ledger row's against its
    /// transfer ledger row, and each group commit ledger row's against the
    /// ledger row without it; then the summary over rounds.
    pub fn compute_ratios(&mut self) {
        let of = |system: System, rows: &[Row]| rows.iter().filter(|r| r.system == system).cloned().collect();
        let baselines: Vec<Row> = of(System::Baseline, &self.rows);
        let grouped: Vec<Row> = of(System::GroupedBaseline, &self.rows);
        let transfers: Vec<Row> = self
            .rows
            .iter()
            .filter(|r| r.system == System::Ledger && r.workload == WorkloadKind::Transfer)
            .cloned()
            .collect();
        let over = |row: &Row, to: Option<&Row>| {
            to.filter(|b| b.commands_per_second > 0.0).map(|b| row.commands_per_second / b.commands_per_second)
        };
        let ratio = |row: &Row, to: &[Row]| over(row, to.iter().find(|b| b.pairs_with(row)));
        let ungrouped: Vec<Row> =
            self.rows.iter().filter(|r| r.system == System::Ledger && r.group_commit == Some(false)).cloned().collect();
        for row in self.rows.iter_mut() {
            row.gc_ratio = over(row, ungrouped.iter().find(|off| row.groups_against(off)));
            if row.workload == WorkloadKind::Split {
                row.split_ratio = over(row, transfers.iter().find(|t| row.splits_against(t)));
                continue;
            }
            if row.system != System::Baseline {
                row.baseline_ratio = ratio(row, &baselines);
            }
            if row.system == System::Ledger && row.group_commit == Some(true) {
                row.grouped_ratio = ratio(row, &grouped);
            }
        }
        self.summary = Summary::of(&self.rows);
    }

    /// The results as markdown: the table of every run; when split rows
    /// ran beside transfer rows, a table of the split/transfer ratios; with
    /// rounds (`--rounds`, or a client count given twice) or several
    /// process counts (`--instances 1,2`), the summary over rounds; and the
    /// bars.
    pub fn markdown(&self) -> String {
        let mut out = self.runs_markdown();
        if self.summary.rounds() > 1 || self.rows.iter().any(|r| r.warmup) || self.several_process_counts() {
            out.push('\n');
            out.push_str(&self.summary.markdown());
        }
        if !self.bars.is_empty() {
            out.push_str("\nBars (issue 26; ratios are medians of per-round ratios):\n\n");
            out.push_str(&bars::markdown(&self.bars));
        }
        out
    }

    /// Whether the ledger ran with more than one process count
    /// (`--instances 1,2`), whose ratio only the summary shows.
    fn several_process_counts(&self) -> bool {
        let mut ledger = self.rows.iter().filter(|r| r.system == System::Ledger).map(|r| r.instances);
        let first = ledger.next();
        ledger.any(|n| Some(n) != first)
    }

    /// The table of every run, and the split/transfer table.
    fn runs_markdown(&self) -> String {
        let mut out = String::from(
            "| backend | durability | workload | system | group commit | clients | batch | commands/s | postings/s | p50 ms | p99 ms | p99.9 ms | errors | x baseline | x grouped | x transfer | x gc off |\n\
             |---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let ms = |micros: u64| format!("{:.2}", micros as f64 / 1000.0);
        for r in &self.rows {
            let system = r.label();
            let gc = gc_label(r.group_commit);
            let (ratio, grouped, split) = (times(r.baseline_ratio), times(r.grouped_ratio), times(r.split_ratio));
            let gc_ratio = times(r.gc_ratio);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {system} | {gc} | {} | {} | {:.0} | {:.0} | {} | {} | {} | {} | {ratio} | {grouped} | {split} | {gc_ratio} |",
                r.backend,
                r.durability,
                r.workload.name(),
                r.clients,
                r.batch_size,
                r.commands_per_second,
                r.postings_per_second,
                ms(r.latency.p50_micros),
                ms(r.latency.p99_micros),
                ms(r.latency.p999_micros),
                r.errors,
            );
        }
        let pairs: Vec<(&Row, &Row)> = self
            .rows
            .iter()
            .filter(|split| split.split_ratio.is_some())
            .filter_map(|split| Some((self.rows.iter().find(|t| split.splits_against(t))?, split)))
            .collect();
        if pairs.is_empty() {
            return out;
        }
        out.push_str(
            "\nSplit (one entry of 3 postings) against transfer (1 posting), ledger runs of the same backend, \
             group commit, clients and round, one straight after the other:\n\n\
             | backend | durability | group commit | clients | batch | round | transfer commands/s | split commands/s | split postings/s | split/transfer commands | split/transfer postings |\n\
             |---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for (transfer, split) in pairs {
            let ratio = split.split_ratio.unwrap_or_default();
            let postings = ratio * split.workload.postings() as f64 / transfer.workload.postings() as f64;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.0} | {ratio:.2}x | {postings:.2}x |",
                split.backend,
                split.durability,
                gc_label(split.group_commit),
                split.clients,
                split.batch_size,
                split.round,
                transfer.commands_per_second,
                split.commands_per_second,
                split.postings_per_second,
            );
        }
        out
    }

    /// Writes the report as pretty JSON.
    pub fn write_json(&self, path: &Path) -> Result<(), BenchError> {
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(path, text).map_err(|e| BenchError::io(format!("writing {}", path.display()), e))
    }
}

pub(crate) fn gc_label(group_commit: Option<bool>) -> &'static str {
    match group_commit {
        Some(true) => "on",
        Some(false) => "off",
        None => "-",
    }
}

pub(crate) fn times(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}x"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(system: System, clients: usize, tps: f64) -> Row {
        Row {
            round: 0,
            repeat: 0,
            warmup: false,
            instances: 1,
            backend: "sqlite".into(),
            system,
            workload: WorkloadKind::Transfer,
            durability: "WAL".into(),
            group_commit: (system == System::Ledger).then_some(false),
            clients,
            batch_size: 1,
            commands: 10,
            errors: 0,
            first_error: None,
            seconds: 1.0,
            commands_per_second: tps,
            postings_per_second: tps,
            latency: Latency { p50_micros: 1500, p99_micros: 2000, p999_micros: 2500, max_micros: 3000 },
            baseline_ratio: None,
            grouped_ratio: None,
            split_ratio: None,
            gc_ratio: None,
        }
    }

    #[test]
    fn ratios_pair_ledger_rows_with_the_baseline_of_the_same_clients() {
        let mut report = Report::new(
            Machine::default(),
            serde_json::Value::Null,
            vec![
                row(System::Ledger, 1, 50.0),
                row(System::Baseline, 1, 100.0),
                row(System::Ledger, 8, 300.0),
                row(System::Baseline, 8, 200.0),
                row(System::Ledger, 64, 1.0),
            ],
        );
        report.compute_ratios();
        let ratios: Vec<Option<f64>> = report.rows.iter().map(|r| r.baseline_ratio).collect();
        assert_eq!(ratios, vec![Some(0.5), None, Some(1.5), None, None]);
        let table = report.markdown();
        assert!(
            table.contains(
                "| sqlite | WAL | transfer | ledger | off | 1 | 1 | 50 | 50 | 1.50 | 2.00 | 2.50 | 0 | 0.50x | - | - |"
            ),
            "{table}"
        );
        assert!(table.contains("| sqlite | WAL | transfer | baseline | - | 8 | 1 | 200 | 200 |"), "{table}");
        assert!(!table.contains("Split"), "no split rows, no split table: {table}");
    }

    #[test]
    fn a_repeated_client_count_pairs_each_ledger_run_with_its_own_round_baseline() {
        let in_round = |round, system, tps| Row { round, ..row(system, 64, tps) };
        let mut report = Report::new(
            Machine::default(),
            serde_json::Value::Null,
            vec![
                in_round(0, System::Ledger, 300.0),
                in_round(0, System::Baseline, 100.0),
                in_round(1, System::Ledger, 300.0),
                in_round(1, System::Baseline, 200.0),
            ],
        );
        report.compute_ratios();
        let ratios: Vec<Option<f64>> = report.rows.iter().map(|r| r.baseline_ratio).collect();
        assert_eq!(ratios, vec![Some(3.0), None, Some(1.5), None]);
    }

    #[test]
    fn group_commit_rows_are_priced_against_the_grouped_baseline_too() {
        let gc = |on, tps| Row { group_commit: Some(on), ..row(System::Ledger, 64, tps) };
        let mut report = Report::new(
            Machine::default(),
            serde_json::Value::Null,
            vec![
                gc(false, 150.0),
                gc(true, 600.0),
                row(System::Baseline, 64, 200.0),
                row(System::GroupedBaseline, 64, 800.0),
            ],
        );
        report.compute_ratios();
        let ratios: Vec<(Option<f64>, Option<f64>)> =
            report.rows.iter().map(|r| (r.baseline_ratio, r.grouped_ratio)).collect();
        assert_eq!(ratios, vec![(Some(0.75), None), (Some(3.0), Some(0.75)), (None, None), (Some(4.0), None)]);
        let gc: Vec<Option<f64>> = report.rows.iter().map(|r| r.gc_ratio).collect();
        assert_eq!(gc, vec![None, Some(4.0), None, None], "group commit on over off, same clients and round");
        let table = report.markdown();
        assert!(
            table.contains("| ledger | on | 64 | 1 | 600 | 600 | 1.50 | 2.00 | 2.50 | 0 | 3.00x | 0.75x | - | 4.00x |"),
            "{table}"
        );
        assert!(
            table.contains("| grouped baseline | - | 64 | 1 | 800 | 800 | 1.50 | 2.00 | 2.50 | 0 | 4.00x | - | - |"),
            "{table}"
        );
    }

    #[test]
    fn split_rows_are_priced_against_the_transfer_run_of_the_same_group_commit_not_the_baseline() {
        let ledger = |workload, on, tps: f64| Row {
            workload,
            group_commit: Some(on),
            postings_per_second: tps * workload.postings() as f64,
            ..row(System::Ledger, 8, tps)
        };
        let mut report = Report::new(
            Machine::default(),
            serde_json::Value::Null,
            vec![
                ledger(WorkloadKind::Transfer, false, 400.0),
                ledger(WorkloadKind::Split, false, 300.0),
                ledger(WorkloadKind::Transfer, true, 1000.0),
                ledger(WorkloadKind::Split, true, 500.0),
                row(System::Baseline, 8, 200.0),
            ],
        );
        report.compute_ratios();
        let ratios: Vec<(Option<f64>, Option<f64>)> =
            report.rows.iter().map(|r| (r.baseline_ratio, r.split_ratio)).collect();
        assert_eq!(
            ratios,
            vec![(Some(2.0), None), (None, Some(0.75)), (Some(5.0), None), (None, Some(0.5)), (None, None)]
        );
        let table = report.markdown();
        assert!(
            table.contains(
                "| sqlite | WAL | split | ledger | off | 8 | 1 | 300 | 900 | 1.50 | 2.00 | 2.50 | 0 | - | - | 0.75x |"
            ),
            "{table}"
        );
        assert!(table.contains("| sqlite | WAL | off | 8 | 1 | 0 | 400 | 300 | 900 | 0.75x | 2.25x |"), "{table}");
        assert!(table.contains("| sqlite | WAL | on | 8 | 1 | 0 | 1000 | 500 | 1500 | 0.50x | 1.50x |"), "{table}");
    }
}
