//! `--instances 1,2` end to end on PostgreSQL: the real binary starts a
//! second ledger process beside itself, both settings run in every round,
//! and the report carries the `x one process` ratio with the books checked
//! after every run. Needs `LEDGER_TEST_POSTGRES_URL` (the harness drops and
//! re-creates its own schemas, `bench_ledger` and `bench_baseline`, there).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn one_and_two_processes_run_side_by_side_and_the_report_has_their_ratio() {
    let Ok(url) = std::env::var("LEDGER_TEST_POSTGRES_URL") else {
        eprintln!("skipped: two ledger processes on PostgreSQL (set LEDGER_TEST_POSTGRES_URL to run)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_ledger-bench"))
        .args(["--backends", "postgres", "--instances", "1,2", "--clients", "4", "--group-commit", "on"])
        .args(["--rounds", "1", "--seconds", "0.5", "--warmup-seconds", "0.1", "--accounts", "50", "--no-baselines"])
        .arg("--postgres-url")
        .arg(&url)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));

    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = report["rows"].as_array().unwrap();
    let processes: Vec<(u64, bool)> =
        rows.iter().map(|r| (r["instances"].as_u64().unwrap(), r["warmup"].as_bool().unwrap())).collect();
    // A warm-up round and one counted round (in the same order), each with
    // one and then two processes.
    assert_eq!(processes, vec![(1, true), (2, true), (1, false), (2, false)], "{stdout}");
    assert!(rows.iter().all(|r| r["commands"].as_u64().unwrap() > 0 && r["errors"] == 0), "{stdout}");
    let invariants = report["invariants"].as_array().unwrap();
    assert_eq!(invariants.len(), 4);
    assert!(invariants.iter().all(|i| i["check"]["balanced"] == true), "{stdout}");
    let ratio = report["summary"]["ratios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "processes")
        .unwrap_or_else(|| panic!("no x one process ratio: {stdout}"));
    assert_eq!(
        (ratio["numerator"]["instances"].as_u64(), ratio["denominator"]["instances"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(ratio["paired"]["median"].as_f64().unwrap() > 0.0);
    assert!(stdout.contains("| ledger gc on x2 processes / ledger gc on |"), "{stdout}");
    let bar = |id: &str| report["bars"].as_array().unwrap().iter().find(|b| b["bar"]["id"] == id).cloned().unwrap();
    assert!(bar("pg-gc-8")["measured"].is_null(), "no 8-client run");
}
