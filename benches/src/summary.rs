//! The report's summary over rounds: per setting (a system, group commit
//! setting and workload at a backend, durability, client count and batch
//! size), the median and spread of its commands per second over the
//! counted rounds (warm-up rows are left out); per pair of settings, the
//! ratio of their medians and the median of their per-round ratios (each
//! round's two runs measured minutes apart at most), flagged when either
//! side's rounds scatter wider than the difference the ratio claims.

use std::fmt::Write as _;

use serde::Serialize;

use crate::options::WorkloadKind;
use crate::report::{Row, System, gc_label};
use crate::rounds::{Spread, median, within_noise};

/// Where a setting ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    /// The backend.
    pub backend: String,
    /// Its durability mode, as the tables say it.
    pub durability: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Commands per call.
    pub batch_size: usize,
}

impl Place {
    fn of(row: &Row) -> Place {
        Place {
            backend: row.backend.clone(),
            durability: row.durability.clone(),
            clients: row.clients,
            batch_size: row.batch_size,
        }
    }
}

/// What ran at a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// Ledger, baseline or grouped baseline.
    pub system: System,
    /// The ledger's group commit (`None` for baselines).
    pub group_commit: Option<bool>,
    /// Transfer or split.
    pub workload: WorkloadKind,
    /// Ledger processes sharing the store (`--instances`; 1 for baselines).
    pub instances: usize,
}

impl Setting {
    /// A ledger setting, in one process.
    pub const fn ledger(group_commit: bool, workload: WorkloadKind) -> Setting {
        Setting { system: System::Ledger, group_commit: Some(group_commit), workload, instances: 1 }
    }

    /// A baseline setting (transfers, no group commit of the ledger's).
    pub const fn baseline(system: System) -> Setting {
        Setting { system, group_commit: None, workload: WorkloadKind::Transfer, instances: 1 }
    }

    /// The same setting in `instances` ledger processes (baselines stay
    /// one process).
    pub const fn in_processes(self, instances: usize) -> Setting {
        match self.system {
            System::Ledger => Setting { instances, ..self },
            _ => self,
        }
    }

    fn of(row: &Row) -> Setting {
        Setting { system: row.system, group_commit: row.group_commit, workload: row.workload, instances: row.instances }
    }

    /// How the tables name it: `ledger gc on`, `ledger split gc off`,
    /// `ledger gc on x2 processes`, `baseline`, `grouped baseline`.
    pub fn label(&self) -> String {
        let label = match (self.system, self.workload) {
            (System::Ledger, WorkloadKind::Transfer) => format!("ledger gc {}", gc_label(self.group_commit)),
            (System::Ledger, WorkloadKind::Split) => format!("ledger split gc {}", gc_label(self.group_commit)),
            (system, _) => system.label().to_owned(),
        };
        if self.instances > 1 { format!("{label} x{} processes", self.instances) } else { label }
    }
}

/// One setting over the counted rounds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingSummary {
    /// Where.
    pub place: Place,
    /// What.
    pub setting: Setting,
    /// Commands per second over the rounds.
    pub commands_per_second: Spread,
    /// The median of the rounds' p99 latencies, in milliseconds.
    pub p99_ms: f64,
}

/// Which of the report's ratios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RatioKind {
    /// Over the per-transaction baseline (`x baseline`).
    Baseline,
    /// Group commit ledger over the grouped baseline (`x grouped`).
    Grouped,
    /// Split ledger over transfer ledger (`x transfer`).
    Split,
    /// Group commit on over off (`x gc off`).
    GroupCommit,
    /// Several ledger processes over one (`x one process`), the same
    /// setting otherwise.
    Processes,
}

/// The ratios the summary looks for at every place and ledger process
/// count (their ledger settings moved to that count), numerator first.
const RATIOS: [(RatioKind, Setting, Setting); 8] = {
    use WorkloadKind::{Split, Transfer};
    let baseline = Setting::baseline(System::Baseline);
    let grouped = Setting::baseline(System::GroupedBaseline);
    [
        (RatioKind::Baseline, Setting::ledger(false, Transfer), baseline),
        (RatioKind::Baseline, Setting::ledger(true, Transfer), baseline),
        (RatioKind::Baseline, grouped, baseline),
        (RatioKind::Grouped, Setting::ledger(true, Transfer), grouped),
        (RatioKind::Split, Setting::ledger(false, Split), Setting::ledger(false, Transfer)),
        (RatioKind::Split, Setting::ledger(true, Split), Setting::ledger(true, Transfer)),
        (RatioKind::GroupCommit, Setting::ledger(true, Transfer), Setting::ledger(false, Transfer)),
        (RatioKind::GroupCommit, Setting::ledger(true, Split), Setting::ledger(false, Split)),
    ]
};

/// One ratio over the counted rounds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RatioSummary {
    /// Where.
    pub place: Place,
    /// Which ratio.
    pub kind: RatioKind,
    /// Over what.
    pub numerator: Setting,
    /// Under what.
    pub denominator: Setting,
    /// The numerator's median commands per second over the denominator's.
    pub of_medians: f64,
    /// Each round's ratio (the two runs of one round), median and spread:
    /// the ratio the bars and the flag use.
    pub paired: Spread,
    /// The numerator's rounds.
    pub numerator_spread: Spread,
    /// The denominator's rounds.
    pub denominator_spread: Spread,
    /// Whether either side's relative spread is wider than the paired
    /// median's distance from 1.
    pub within_noise: bool,
}

/// Medians, spreads and ratios over the counted rounds of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Summary {
    /// Every setting measured, in the order first measured.
    pub settings: Vec<SettingSummary>,
    /// Every ratio both of whose sides were measured.
    pub ratios: Vec<RatioSummary>,
}

impl Summary {
    /// The summary of a report's rows (warm-up rows left out).
    pub fn of(rows: &[Row]) -> Summary {
        let counted: Vec<&Row> = rows.iter().filter(|r| !r.warmup).collect();
        let mut places: Vec<Place> = Vec::new();
        for row in &counted {
            let place = Place::of(row);
            if !places.contains(&place) {
                places.push(place);
            }
        }
        let mut summary = Summary::default();
        for place in places {
            let here: Vec<&Row> = counted.iter().copied().filter(|r| Place::of(r) == place).collect();
            let mut settings: Vec<Setting> = Vec::new();
            for row in &here {
                if !settings.contains(&Setting::of(row)) {
                    settings.push(Setting::of(row));
                }
            }
            for &setting in &settings {
                let runs: Vec<&Row> = here.iter().copied().filter(|r| Setting::of(r) == setting).collect();
                let rates: Vec<f64> = runs.iter().map(|r| r.commands_per_second).collect();
                let p99: Vec<f64> = runs.iter().map(|r| r.latency.p99_micros as f64 / 1000.0).collect();
                let (Some(spread), Some(p99_ms)) = (Spread::of(&rates), median(&p99)) else { continue };
                summary.settings.push(SettingSummary {
                    place: place.clone(),
                    setting,
                    commands_per_second: spread,
                    p99_ms,
                });
            }
            summary.ratios.extend(ratios_at(&place, &here, &settings));
        }
        summary
    }

    /// The ratio of `numerator` over `denominator` of `kind` at a place
    /// (one command per call), if measured.
    pub fn find(
        &self,
        backend: &str,
        durability: &str,
        clients: usize,
        kind: RatioKind,
        numerator: Setting,
    ) -> Option<&RatioSummary> {
        self.ratios.iter().find(|r| {
            r.place.backend == backend
                && r.place.durability == durability
                && r.place.clients == clients
                && r.place.batch_size == 1
                && r.kind == kind
                && r.numerator == numerator
        })
    }

    /// The most counted rounds any setting has.
    pub fn rounds(&self) -> usize {
        self.settings.iter().map(|s| s.commands_per_second.rounds).max().unwrap_or(0)
    }

    /// Two markdown tables: settings (median, min-max, rounds) and ratios.
    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "Per setting over the counted rounds (warm-up rounds left out):\n\n\
             | backend | durability | clients | batch | setting | median commands/s | min-max | rounds | median p99 ms |\n\
             |---|---|---:|---:|---|---:|---:|---:|---:|\n",
        );
        for s in &self.settings {
            let p = &s.place;
            let c = &s.commands_per_second;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.0} | {:.0}-{:.0} | {} | {:.2} |",
                p.backend,
                p.durability,
                p.clients,
                p.batch_size,
                s.setting.label(),
                c.median,
                c.min,
                c.max,
                c.rounds,
                s.p99_ms,
            );
        }
        out.push_str(
            "\nRatios: the median of the per-round ratios (each round's two runs) with their min-max, and the \
             ratio of the medians; flagged when either side's spread, (max - min) / median, is wider than the \
             ratio's distance from 1:\n\n\
             | backend | durability | clients | batch | ratio | median per-round | min-max | of medians | spread over | spread under | |\n\
             |---|---|---:|---:|---|---:|---:|---:|---:|---:|---|\n",
        );
        for r in &self.ratios {
            let p = &r.place;
            let flag = if r.within_noise { "⚠ within noise" } else { "" };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} / {} | {:.2}x | {:.2}-{:.2} | {:.2}x | {:.0}% | {:.0}% | {flag} |",
                p.backend,
                p.durability,
                p.clients,
                p.batch_size,
                r.numerator.label(),
                r.denominator.label(),
                r.paired.median,
                r.paired.min,
                r.paired.max,
                r.of_medians,
                r.numerator_spread.relative() * 100.0,
                r.denominator_spread.relative() * 100.0,
            );
        }
        out
    }
}

/// Every ratio at a place whose two sides ran there: [`RATIOS`] at each
/// ledger process count, then each setting of several processes over the
/// same setting in one.
fn ratios_at(place: &Place, here: &[&Row], settings: &[Setting]) -> Vec<RatioSummary> {
    let mut counts: Vec<usize> = Vec::new();
    for setting in settings.iter().filter(|s| s.system == System::Ledger) {
        if !counts.contains(&setting.instances) {
            counts.push(setting.instances);
        }
    }
    let mut ratios = Vec::new();
    for &n in &counts {
        for (kind, numerator, denominator) in RATIOS {
            ratios.extend(ratio(place, here, (kind, numerator.in_processes(n), denominator.in_processes(n))));
        }
    }
    for &setting in settings.iter().filter(|s| s.instances > 1) {
        ratios.extend(ratio(place, here, (RatioKind::Processes, setting, setting.in_processes(1))));
    }
    ratios
}

/// One ratio at a place: per round (runs with the same `--clients` entry
/// and the same round of `--rounds`), numerator over denominator.
fn ratio(
    place: &Place,
    here: &[&Row],
    (kind, numerator, denominator): (RatioKind, Setting, Setting),
) -> Option<RatioSummary> {
    let side = |setting: Setting| -> Vec<&Row> { here.iter().copied().filter(|r| Setting::of(r) == setting).collect() };
    let (over, under) = (side(numerator), side(denominator));
    let rates = |rows: &[&Row]| rows.iter().map(|r| r.commands_per_second).collect::<Vec<_>>();
    let (numerator_spread, denominator_spread) = (Spread::of(&rates(&over))?, Spread::of(&rates(&under))?);
    let paired: Vec<f64> = over
        .iter()
        .filter_map(|o| {
            let u = under.iter().find(|u| u.round == o.round && u.repeat == o.repeat)?;
            (u.commands_per_second > 0.0).then(|| o.commands_per_second / u.commands_per_second)
        })
        .collect();
    let paired = Spread::of(&paired)?;
    if denominator_spread.median <= 0.0 {
        return None;
    }
    Some(RatioSummary {
        place: place.clone(),
        kind,
        numerator,
        denominator,
        of_medians: numerator_spread.median / denominator_spread.median,
        within_noise: within_noise(paired.median, &numerator_spread, &denominator_spread),
        paired,
        numerator_spread,
        denominator_spread,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::latency::Latency;

    fn row(setting: Setting, repeat: usize, warmup: bool, tps: f64) -> Row {
        Row {
            backend: "sqlite".into(),
            system: setting.system,
            workload: setting.workload,
            durability: "WAL".into(),
            group_commit: setting.group_commit,
            clients: 1,
            round: 0,
            repeat,
            warmup,
            instances: 1,
            batch_size: 1,
            commands: 1,
            errors: 0,
            first_error: None,
            seconds: 1.0,
            commands_per_second: tps,
            postings_per_second: tps,
            latency: Latency { p50_micros: 1000, p99_micros: 2000, p999_micros: 3000, max_micros: 4000 },
            baseline_ratio: None,
            grouped_ratio: None,
            split_ratio: None,
            gc_ratio: None,
        }
    }

    const OFF: Setting = Setting::ledger(false, WorkloadKind::Transfer);
    const ON: Setting = Setting::ledger(true, WorkloadKind::Transfer);

    #[test]
    fn medians_leave_the_warm_up_out_and_ratios_pair_runs_of_the_same_round() {
        let rows = vec![
            row(OFF, 0, true, 10.0),
            row(ON, 0, true, 10.0),
            row(OFF, 0, false, 100.0),
            row(ON, 0, false, 110.0),
            row(ON, 1, false, 130.0),
            row(OFF, 1, false, 100.0),
            row(OFF, 2, false, 200.0),
            row(ON, 2, false, 180.0),
        ];
        let summary = Summary::of(&rows);
        assert_eq!(summary.rounds(), 3);
        let off = &summary.settings[0];
        assert_eq!((off.setting, off.commands_per_second.median, off.commands_per_second.min), (OFF, 100.0, 100.0));
        assert_eq!(off.commands_per_second.max, 200.0);
        let r = summary.find("sqlite", "WAL", 1, RatioKind::GroupCommit, ON).unwrap();
        // Per round: 1.1, 1.3, 0.9; median 1.1. Medians: 130 over 100.
        assert!((r.paired.median - 1.1).abs() < 1e-9, "{r:?}");
        assert!((r.of_medians - 1.3).abs() < 1e-9, "{r:?}");
        assert!(r.within_noise, "off scatters 100% of its median: {r:?}");
        assert!(
            summary
                .markdown()
                .contains("| ledger gc on / ledger gc off | 1.10x | 0.90-1.30 | 1.30x | 54% | 100% | ⚠ within noise |"),
            "{}",
            summary.markdown()
        );
    }

    #[test]
    fn several_processes_are_their_own_setting_over_one_process_and_beside_the_baselines() {
        let two = ON.in_processes(2);
        let base = Setting::baseline(System::Baseline);
        let in_processes =
            |setting: Setting, repeat, tps| Row { instances: setting.instances, ..row(setting, repeat, false, tps) };
        let rows = vec![
            in_processes(ON, 0, 100.0),
            in_processes(two, 0, 65.0),
            in_processes(base, 0, 50.0),
            in_processes(two, 1, 70.0),
            in_processes(ON, 1, 100.0),
            in_processes(base, 1, 50.0),
        ];
        let summary = Summary::of(&rows);
        assert_eq!(summary.settings.len(), 3, "{:?}", summary.settings);
        let r = summary.find("sqlite", "WAL", 1, RatioKind::Processes, two).unwrap();
        assert_eq!((r.numerator, r.denominator), (two, ON));
        assert!((r.paired.median - 0.675).abs() < 1e-9, "per round 0.65 and 0.70: {r:?}");
        // The baseline ratio of each process count pairs with its own runs.
        let one = summary.find("sqlite", "WAL", 1, RatioKind::Baseline, ON).unwrap();
        assert!((one.paired.median - 2.0).abs() < 1e-9, "{one:?}");
        let both = summary.find("sqlite", "WAL", 1, RatioKind::Baseline, two).unwrap();
        assert!((both.paired.median - 1.35).abs() < 1e-9, "{both:?}");
        assert!(summary.find("sqlite", "WAL", 1, RatioKind::Processes, ON).is_none(), "one process over itself");
        assert!(
            summary.markdown().contains("| ledger gc on x2 processes / ledger gc on | 0.68x |"),
            "{}",
            summary.markdown()
        );
    }

    #[test]
    fn a_ratio_clear_of_the_noise_is_not_flagged_and_one_missing_side_gives_no_ratio() {
        let base = Setting::baseline(System::Baseline);
        let rows = vec![
            row(ON, 0, false, 200.0),
            row(base, 0, false, 100.0),
            row(ON, 1, false, 204.0),
            row(base, 1, false, 101.0),
        ];
        let summary = Summary::of(&rows);
        let r = summary.find("sqlite", "WAL", 1, RatioKind::Baseline, ON).unwrap();
        assert!(!r.within_noise && (r.paired.median - 2.0).abs() < 0.02, "{r:?}");
        assert!(summary.find("sqlite", "WAL", 1, RatioKind::GroupCommit, ON).is_none());
        assert!(summary.find("sqlite", "WAL", 8, RatioKind::Baseline, ON).is_none());
    }
}
