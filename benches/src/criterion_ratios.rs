//! Ratios between criterion cases measured in one run, read from the
//! estimates criterion writes (`<criterion dir>/<group>/<case>/new/estimates.json`):
//! how the `history` bench's balances over time compare, per backend, with
//! reading the current balance in the same group (`ledger-bench
//! history-ratios`). A check on measured numbers, not a timed unit test.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::BenchError;
use crate::fixture::BACKENDS;

/// The `history` case every ratio divides by: the current balance.
pub const HISTORY_BASELINE: &str = "current_balance";

/// The `history` cases held to [`HISTORY_BAR`] times [`HISTORY_BASELINE`].
pub const HISTORY_CASES: [&str; 2] = ["balance_as_of_random_instant", "balance_history_page_100"];

/// The most a [`HISTORY_CASES`] case may cost, as a multiple of the current
/// balance on the same backend.
pub const HISTORY_BAR: f64 = 2.0;

/// Estimates that differ in age by more than this are not from one run.
const ONE_RUN_SECS: u64 = 600;

/// Where criterion writes: `CRITERION_HOME` if set, else `<target dir>/criterion`.
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home);
    }
    let target = option_env!("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
    target.join("criterion")
}

/// One case's estimate: criterion's median and its confidence interval, in
/// nanoseconds, and when criterion wrote it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// The median time per iteration.
    pub median_ns: f64,
    /// The low end of the median's confidence interval.
    pub low_ns: f64,
    /// Its high end.
    pub high_ns: f64,
    /// When the estimate was written.
    pub written: SystemTime,
}

/// A case's estimate in `dir`, `None` if criterion has not measured it.
/// Criterion writes a group `a/b` to a directory `a_b`.
pub fn estimate(dir: &Path, group: &str, case: &str) -> Result<Option<Estimate>, BenchError> {
    let path = dir.join(group.replace('/', "_")).join(case).join("new").join("estimates.json");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(BenchError::io(format!("reading {}", path.display()), e)),
    };
    let written = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .map_err(|e| BenchError::io(format!("reading the time of {}", path.display()), e))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let median = &json["median"];
    let number = |value: &serde_json::Value| {
        value.as_f64().ok_or_else(|| BenchError::Unsupported(format!("{}: no median estimate", path.display())))
    };
    Ok(Some(Estimate {
        median_ns: number(&median["point_estimate"])?,
        low_ns: number(&median["confidence_interval"]["lower_bound"])?,
        high_ns: number(&median["confidence_interval"]["upper_bound"])?,
        written,
    }))
}

/// One backend's history cases against its current balance.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRatios {
    /// The backend's name (the group is `history/<backend>`).
    pub backend: &'static str,
    /// [`HISTORY_BASELINE`].
    pub current: Estimate,
    /// Each of [`HISTORY_CASES`], if measured.
    pub cases: Vec<(&'static str, Option<Estimate>)>,
}

impl HistoryRatios {
    /// A case's median over the current balance's.
    pub fn ratio(&self, case: &str) -> Option<f64> {
        let (_, estimate) = self.cases.iter().find(|(name, _)| *name == case)?;
        estimate.map(|e| e.median_ns / self.current.median_ns)
    }

    /// Whether every estimate of the row was written within one run.
    pub fn one_run(&self) -> bool {
        let times = self.cases.iter().filter_map(|(_, e)| e.map(|e| e.written)).chain([self.current.written]);
        let (Some(first), Some(last)) = (times.clone().min(), times.max()) else { return true };
        last.duration_since(first).is_ok_and(|d| d.as_secs() <= ONE_RUN_SECS)
    }

    /// Whether every measured case is within [`HISTORY_BAR`].
    pub fn within_bar(&self) -> bool {
        HISTORY_CASES.iter().all(|case| self.ratio(case).is_none_or(|r| r <= HISTORY_BAR))
    }
}

/// The history ratios of every backend criterion measured under `dir`.
pub fn history_ratios(dir: &Path) -> Result<Vec<HistoryRatios>, BenchError> {
    let mut rows = Vec::new();
    for backend in BACKENDS {
        let group = format!("history/{}", backend.name());
        let Some(current) = estimate(dir, &group, HISTORY_BASELINE)? else { continue };
        let mut cases = Vec::new();
        for case in HISTORY_CASES {
            cases.push((case, estimate(dir, &group, case)?));
        }
        rows.push(HistoryRatios { backend: backend.name(), current, cases });
    }
    Ok(rows)
}

/// Nanoseconds as criterion prints them: ns, us or ms, three significant digits.
pub fn duration(ns: f64) -> String {
    let (value, unit) = match ns {
        ns if ns >= 1e6 => (ns / 1e6, "ms"),
        ns if ns >= 1e3 => (ns / 1e3, "us"),
        ns => (ns, "ns"),
    };
    let decimals = match value {
        v if v >= 100.0 => 0,
        v if v >= 10.0 => 1,
        _ => 2,
    };
    format!("{value:.decimals$} {unit}")
}

/// The rows as a markdown table: medians with their intervals, the ratios,
/// and whether each row meets the bar.
pub fn markdown(rows: &[HistoryRatios]) -> String {
    let mut out = String::from(
        "| backend | current_balance | balance_as_of_random_instant | balance_history_page_100 | as_of/current | page/current | within 2x |\n\
         |---|---:|---:|---:|---:|---:|---|\n",
    );
    let shown = |e: &Estimate| format!("{} [{}, {}]", duration(e.median_ns), duration(e.low_ns), duration(e.high_ns));
    for row in rows {
        let mut line = format!("| {} | {} |", row.backend, shown(&row.current));
        for (_, estimate) in &row.cases {
            line.push_str(&format!(" {} |", estimate.as_ref().map_or_else(|| "not measured".to_owned(), shown)));
        }
        for case in HISTORY_CASES {
            line.push_str(&format!(" {} |", row.ratio(case).map_or_else(|| "-".to_owned(), |r| format!("{r:.2}x"))));
        }
        let verdict = match (row.within_bar(), row.one_run()) {
            (_, false) => "? (estimates from different runs)",
            (true, true) => "yes",
            (false, true) => "**no**",
        };
        line.push_str(&format!(" {verdict} |\n"));
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn write(dir: &Path, group: &str, case: &str, median: f64) {
        let case_dir = dir.join(group).join(case).join("new");
        std::fs::create_dir_all(&case_dir).unwrap();
        let json = serde_json::json!({
            "mean": {"point_estimate": median, "confidence_interval": {"lower_bound": 0.0, "upper_bound": 0.0}},
            "median": {
                "point_estimate": median,
                "confidence_interval": {"lower_bound": median * 0.9, "upper_bound": median * 1.1},
            },
        });
        std::fs::write(case_dir.join("estimates.json"), json.to_string()).unwrap();
    }

    #[test]
    fn ratios_divide_each_case_by_the_current_balance_of_its_backend() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "history_sled", HISTORY_BASELINE, 1000.0);
        write(dir.path(), "history_sled", HISTORY_CASES[0], 1500.0);
        write(dir.path(), "history_sled", HISTORY_CASES[1], 2500.0);
        write(dir.path(), "history_sqlite", HISTORY_BASELINE, 2_000_000.0);
        write(dir.path(), "history_sqlite", HISTORY_CASES[0], 3_000_000.0);
        let rows = history_ratios(dir.path()).unwrap();
        let backends: Vec<_> = rows.iter().map(|r| r.backend).collect();
        assert_eq!(backends, ["sled", "sqlite"], "memory and postgres were not measured");
        assert_eq!(rows[0].ratio(HISTORY_CASES[0]), Some(1.5));
        assert_eq!(rows[0].ratio(HISTORY_CASES[1]), Some(2.5));
        assert!(!rows[0].within_bar());
        assert_eq!(rows[1].ratio(HISTORY_CASES[1]), None);
        assert!(rows[1].within_bar() && rows[1].one_run());
        let table = markdown(&rows);
        assert!(table.contains("| sled | 1.00 us [900 ns, 1.10 us] | 1.50 us"), "{table}");
        assert!(table.contains("| 1.50x | 2.50x | **no** |"), "{table}");
        assert!(table.contains("| sqlite | 2.00 ms [1.80 ms, 2.20 ms] | 3.00 ms [2.70 ms, 3.30 ms] | not measured"));
    }
}
