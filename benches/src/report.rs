//! The harness's results: rows, the markdown table, the JSON document.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::BenchError;
use crate::invariants::BalanceCheck;
use crate::latency::Latency;

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
    fn label(self) -> &'static str {
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
    /// How acknowledged commits reach the disk.
    pub durability: String,
    /// Whether the ledger coalesced commits (`None` for baselines).
    pub group_commit: Option<bool>,
    /// Concurrent clients.
    pub clients: usize,
    /// Which entry of `--clients` this run measured (from 0), so a client
    /// count given twice pairs each ledger run with the baseline run beside it.
    pub round: usize,
    /// Transfers per command (one atomic batch, one storage transaction).
    pub batch_size: usize,
    /// Transfers committed in the measured time.
    pub transfers: u64,
    /// Transfers that failed in the measured time.
    pub errors: u64,
    /// The first failure's message.
    pub first_error: Option<String>,
    /// The measured time.
    pub seconds: f64,
    /// Committed transfers per second.
    pub transfers_per_second: f64,
    /// Latency percentiles of committed transfers.
    pub latency: Latency,
    /// Ledger and grouped baseline rows: transfers per second over the
    /// baseline's with the same backend, durability, clients, batch size and
    /// round.
    pub baseline_ratio: Option<f64>,
    /// Ledger rows with group commit: transfers per second over the grouped
    /// baseline's with the same backend, durability, clients,
    /// batch size and round.
    #[serde(default)]
    pub grouped_ratio: Option<f64>,
}

impl Row {
    /// Whether `other` measured the same backend, durability, clients, batch
    /// size and round.
    fn pairs_with(&self, other: &Row) -> bool {
        self.backend == other.backend
            && self.durability == other.durability
            && self.clients == other.clients
            && self.round == other.round
            && self.batch_size == other.batch_size
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
    /// Its concurrent clients.
    pub clients: usize,
    /// Its position in the `--clients` list.
    pub round: usize,
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
}

impl Report {
    /// Fills each ledger and grouped baseline row's ratio against its
    /// baseline row, and each group-commit ledger row's against its grouped
    /// baseline row.
    pub fn compute_ratios(&mut self) {
        let of = |system: System, rows: &[Row]| rows.iter().filter(|r| r.system == system).cloned().collect();
        let baselines: Vec<Row> = of(System::Baseline, &self.rows);
        let grouped: Vec<Row> = of(System::GroupedBaseline, &self.rows);
        let ratio = |row: &Row, to: &[Row]| {
            to.iter()
                .find(|b| b.pairs_with(row))
                .filter(|b| b.transfers_per_second > 0.0)
                .map(|b| row.transfers_per_second / b.transfers_per_second)
        };
        for row in self.rows.iter_mut() {
            if row.system != System::Baseline {
                row.baseline_ratio = ratio(row, &baselines);
            }
            if row.system == System::Ledger && row.group_commit == Some(true) {
                row.grouped_ratio = ratio(row, &grouped);
            }
        }
    }

    /// The results as a markdown table.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "| backend | durability | system | group commit | clients | batch | transfers/s | p50 ms | p99 ms | p99.9 ms | errors | x baseline | x grouped |\n\
             |---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let ms = |micros: u64| format!("{:.2}", micros as f64 / 1000.0);
        for r in &self.rows {
            let system = r.system.label();
            let gc = match r.group_commit {
                Some(true) => "on",
                Some(false) => "off",
                None => "-",
            };
            let times = |ratio: Option<f64>| ratio.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}x"));
            let (ratio, grouped) = (times(r.baseline_ratio), times(r.grouped_ratio));
            let _ = writeln!(
                out,
                "| {} | {} | {system} | {gc} | {} | {} | {:.0} | {} | {} | {} | {} | {ratio} | {grouped} |",
                r.backend,
                r.durability,
                r.clients,
                r.batch_size,
                r.transfers_per_second,
                ms(r.latency.p50_micros),
                ms(r.latency.p99_micros),
                ms(r.latency.p999_micros),
                r.errors,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(system: System, clients: usize, tps: f64) -> Row {
        Row {
            round: 0,
            backend: "sqlite".into(),
            system,
            durability: "WAL".into(),
            group_commit: (system == System::Ledger).then_some(false),
            clients,
            batch_size: 1,
            transfers: 10,
            errors: 0,
            first_error: None,
            seconds: 1.0,
            transfers_per_second: tps,
            latency: Latency { p50_micros: 1500, p99_micros: 2000, p999_micros: 2500, max_micros: 3000 },
            baseline_ratio: None,
            grouped_ratio: None,
        }
    }

    #[test]
    fn ratios_pair_ledger_rows_with_the_baseline_of_the_same_clients() {
        let mut report = Report {
            machine: Machine::default(),
            settings: serde_json::Value::Null,
            rows: vec![
                row(System::Ledger, 1, 50.0),
                row(System::Baseline, 1, 100.0),
                row(System::Ledger, 8, 300.0),
                row(System::Baseline, 8, 200.0),
                row(System::Ledger, 64, 1.0),
            ],
            invariants: vec![],
        };
        report.compute_ratios();
        let ratios: Vec<Option<f64>> = report.rows.iter().map(|r| r.baseline_ratio).collect();
        assert_eq!(ratios, vec![Some(0.5), None, Some(1.5), None, None]);
        let table = report.markdown();
        assert!(
            table.contains("| sqlite | WAL | ledger | off | 1 | 1 | 50 | 1.50 | 2.00 | 2.50 | 0 | 0.50x | - |"),
            "{table}"
        );
        assert!(table.contains("| sqlite | WAL | baseline | - | 8 | 1 | 200 |"), "{table}");
    }

    #[test]
    fn a_repeated_client_count_pairs_each_ledger_run_with_its_own_round_baseline() {
        let in_round = |round, system, tps| Row { round, ..row(system, 64, tps) };
        let mut report = Report {
            machine: Machine::default(),
            settings: serde_json::Value::Null,
            rows: vec![
                in_round(0, System::Ledger, 300.0),
                in_round(0, System::Baseline, 100.0),
                in_round(1, System::Ledger, 300.0),
                in_round(1, System::Baseline, 200.0),
            ],
            invariants: vec![],
        };
        report.compute_ratios();
        let ratios: Vec<Option<f64>> = report.rows.iter().map(|r| r.baseline_ratio).collect();
        assert_eq!(ratios, vec![Some(3.0), None, Some(1.5), None]);
    }

    #[test]
    fn group_commit_rows_are_priced_against_the_grouped_baseline_too() {
        let gc = |on, tps| Row { group_commit: Some(on), ..row(System::Ledger, 64, tps) };
        let mut report = Report {
            machine: Machine::default(),
            settings: serde_json::Value::Null,
            rows: vec![
                gc(false, 150.0),
                gc(true, 600.0),
                row(System::Baseline, 64, 200.0),
                row(System::GroupedBaseline, 64, 800.0),
            ],
            invariants: vec![],
        };
        report.compute_ratios();
        let ratios: Vec<(Option<f64>, Option<f64>)> =
            report.rows.iter().map(|r| (r.baseline_ratio, r.grouped_ratio)).collect();
        assert_eq!(ratios, vec![(Some(0.75), None), (Some(3.0), Some(0.75)), (None, None), (Some(4.0), None)]);
        let table = report.markdown();
        assert!(table.contains("| ledger | on | 64 | 1 | 600 | 1.50 | 2.00 | 2.50 | 0 | 3.00x | 0.75x |"), "{table}");
        assert!(
            table.contains("| grouped baseline | - | 64 | 1 | 800 | 1.50 | 2.00 | 2.50 | 0 | 4.00x | - |"),
            "{table}"
        );
    }
}
