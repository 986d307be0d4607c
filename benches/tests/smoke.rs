//! The harness end to end on memory and SQLite with tiny sizes: rows with
//! throughput, JSON and SVG written, and the ledger's books balanced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ledger_bench::options::{Backend, CompareArgs, Durability, GroupCommitMode};
use ledger_bench::report::System;
use ledger_bench::{chart, compare};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_measures_memory_and_sqlite_against_the_baseline_and_keeps_the_books_balanced() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = CompareArgs::tiny(vec![Backend::Memory, Backend::Sqlite]);
    args.group_commit = GroupCommitMode::Both;
    args.json = Some(dir.path().join("report.json"));
    let mut log = Vec::new();
    let report = compare::run(&args, &mut |line: &str| log.push(line.to_owned())).await.unwrap();

    let ledger_rows: Vec<_> = report.rows.iter().filter(|r| r.system == System::Ledger).collect();
    let baseline_rows: Vec<_> = report.rows.iter().filter(|r| r.system == System::Baseline).collect();
    assert_eq!(ledger_rows.len(), 8, "memory and sqlite, 1 and 4 clients, group commit off and on: {:?}", report.rows);
    assert_eq!(ledger_rows.iter().filter(|r| r.group_commit == Some(true)).count(), 4);
    assert_eq!(baseline_rows.len(), 2, "only sqlite has a baseline: {:?}", report.rows);
    let grouped: Vec<_> = report.rows.iter().filter(|r| r.system == System::GroupedBaseline).collect();
    assert_eq!(grouped.len(), 1, "sqlite at 4 clients, beside group commit: {:?}", report.rows);
    assert!(grouped[0].backend == "sqlite" && grouped[0].clients == 4 && grouped[0].baseline_ratio.is_some());
    for row in &report.rows {
        assert!(row.transfers > 0 && row.transfers_per_second > 0.0, "{row:?}");
        assert_eq!(row.errors, 0, "{row:?}");
        assert!(row.latency.p50_micros > 0 && row.latency.p50_micros <= row.latency.p999_micros, "{row:?}");
    }
    for row in &ledger_rows {
        assert_eq!(row.baseline_ratio.is_some(), row.backend == "sqlite", "{row:?}");
        let grouped_row = row.backend == "sqlite" && row.clients == 4 && row.group_commit == Some(true);
        assert_eq!(row.grouped_ratio.is_some(), grouped_row, "{row:?}");
    }
    assert_eq!(report.invariants.len(), 8, "one check per ledger run, each on its own store");
    for invariant in &report.invariants {
        assert!(invariant.check.balanced, "{invariant:?}");
        // 50 customer accounts plus the settlement accounts.
        assert!(invariant.check.accounts > 50, "{invariant:?}");
    }

    report.write_json(args.json.as_ref().unwrap()).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(args.json.as_ref().unwrap()).unwrap()).unwrap();
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(11));
    assert_eq!(json["rows"][0]["backend"], "memory");
    assert!(json["rows"][0]["transfers_per_second"].as_f64().unwrap() > 0.0);

    let svg = dir.path().join("chart.svg");
    chart::draw(&report, &svg).unwrap();
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("sqlite baseline"), "{}", &svg[..svg.len().min(200)]);

    let table = report.markdown();
    assert!(table.contains("| sqlite | WAL, synchronous=FULL | ledger | off | 4 |"), "{table}");
    assert!(log.iter().any(|l| l.contains("balances sum to zero: true")), "{log:?}");
}

#[tokio::test]
async fn backends_without_a_relaxed_mode_are_skipped_not_mislabelled() {
    let mut args = CompareArgs::tiny(vec![Backend::Memory, Backend::Sqlite]);
    args.durability = vec![Durability::Relaxed];
    let mut log = Vec::new();
    let report = compare::run(&args, &mut |line: &str| log.push(line.to_owned())).await.unwrap();
    assert!(report.rows.is_empty(), "{:?}", report.rows);
    assert_eq!(log.iter().filter(|l| l.contains("no Relaxed durability mode, skipped")).count(), 2, "{log:?}");
}
