//! The harness end to end with tiny sizes: on memory and SQLite, rows with
//! throughput, JSON and SVG written, and the ledger's books balanced; on
//! memory and sled, the split workload beside the transfer one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ledger_bench::options::{Backend, CompareArgs, Durability, GroupCommitMode, WorkloadKind, WorkloadMode};
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
        assert!(row.commands > 0 && row.commands_per_second > 0.0, "{row:?}");
        assert_eq!(row.workload, WorkloadKind::Transfer, "{row:?}");
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
    assert!(json["rows"][0]["commands_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(json["rows"][0]["workload"], "transfer");

    let svg = dir.path().join("chart.svg");
    chart::draw(&report, &svg).unwrap();
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("sqlite baseline"), "{}", &svg[..svg.len().min(200)]);

    let table = report.markdown();
    assert!(table.contains("| sqlite | WAL, synchronous=FULL | transfer | ledger | off | 4 |"), "{table}");
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

/// `--workload both` on memory and sled, 2 clients: each split run (one
/// entry of three postings per command) beside its transfer run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_workload_runs_beside_transfers_on_memory_and_sled_and_keeps_the_books_whole() {
    let mut args = CompareArgs::tiny(vec![Backend::Memory, Backend::Sled]);
    args.workload = WorkloadMode::Both;
    args.clients = vec![2];
    args.seconds = 0.25;
    args.warmup_seconds = 0.05;
    let mut log = Vec::new();
    let report = compare::run(&args, &mut |line: &str| log.push(line.to_owned())).await.unwrap();

    let ledger = |workload| report.rows.iter().filter(move |r| r.system == System::Ledger && r.workload == workload);
    assert_eq!(ledger(WorkloadKind::Transfer).count(), 2, "{:?}", report.rows);
    assert_eq!(ledger(WorkloadKind::Split).count(), 2, "{:?}", report.rows);
    let baselines: Vec<_> = report.rows.iter().filter(|r| r.system != System::Ledger).collect();
    assert!(baselines.len() == 1 && baselines[0].workload == WorkloadKind::Transfer, "sled's only: {baselines:?}");
    for row in &report.rows {
        assert!(row.commands > 0 && row.commands_per_second > 0.0, "{row:?}");
        assert_eq!(row.errors, 0, "{row:?}");
        let postings = row.commands_per_second * row.workload.postings() as f64;
        assert!((row.postings_per_second - postings).abs() < 1e-6, "{row:?}");
    }
    for split in ledger(WorkloadKind::Split) {
        assert!(split.split_ratio.is_some_and(|x| x > 0.0), "priced against its transfer run: {split:?}");
        assert_eq!((split.baseline_ratio, split.grouped_ratio), (None, None), "baselines are transfer-only: {split:?}");
    }
    let sled_transfer = ledger(WorkloadKind::Transfer).find(|r| r.backend == "sled").unwrap();
    assert!(sled_transfer.baseline_ratio.is_some() && sled_transfer.split_ratio.is_none(), "{sled_transfer:?}");

    assert_eq!(report.invariants.len(), 4, "one check per ledger run: {:?}", report.invariants);
    for invariant in &report.invariants {
        let check = &invariant.check;
        assert!(check.holds() && check.balanced && check.missing == 0, "{invariant:?}");
        assert_eq!(check.sums.get("USD").map(String::as_str), Some("0"), "{invariant:?}");
        assert_eq!(check.kinds.get("checking"), Some(&50), "{invariant:?}");
        if invariant.workload == WorkloadKind::Transfer {
            assert_eq!(check.kinds.get("ledger"), None, "{invariant:?}");
            continue;
        }
        // The fee and tax ledger accounts are in the sum, and hold 0.15 and
        // 0.05 of every committed split: 3 to 1, never a split in part.
        assert_eq!(check.kinds.get("ledger"), Some(&2), "{invariant:?}");
        let balance = |code: &str| check.coded.get(code).unwrap().parse::<rust_decimal::Decimal>().unwrap();
        let (fee, tax) = (balance("revenue:fees"), balance("liabilities:tax"));
        assert!(tax > rust_decimal::Decimal::ZERO && fee == tax * rust_decimal::Decimal::from(3), "{invariant:?}");
    }

    let table = report.markdown();
    assert!(table.contains("| memory | in memory | split | ledger | off | 2 | 1 |"), "{table}");
    assert!(table.contains("| sled | flush on commit | split | ledger | off | 2 | 1 |"), "{table}");
    assert!(table.contains("| split/transfer commands | split/transfer postings |"), "{table}");
    assert!(table.contains("| sled | flush on commit | off | 2 | 1 | 0 |"), "a ratio row per backend: {table}");
    assert!(log.iter().any(|l| l.contains("whole splits: true")), "{log:?}");
}

/// `--workload split --batch-size 3`: three entries per `execute_batch`, and
/// the baselines (transfer-only) left out.
#[tokio::test]
async fn split_entries_batch_like_transfers_and_skip_the_transfer_only_baselines() {
    let mut args = CompareArgs::tiny(vec![Backend::Memory, Backend::Sled]);
    args.workload = WorkloadMode::Split;
    args.batch_size = 3;
    args.clients = vec![2];
    args.seconds = 0.2;
    args.warmup_seconds = 0.0;
    let mut log = Vec::new();
    let report = compare::run(&args, &mut |line: &str| log.push(line.to_owned())).await.unwrap();
    assert_eq!(report.rows.len(), 2, "{:?}", report.rows);
    for row in &report.rows {
        assert!(row.system == System::Ledger && row.workload == WorkloadKind::Split, "{row:?}");
        assert!(row.commands > 0 && row.commands % 3 == 0 && row.errors == 0, "{row:?}");
        assert_eq!(row.split_ratio, None, "no transfer run to compare with: {row:?}");
    }
    assert!(report.invariants.iter().all(|i| i.check.holds()), "{:?}", report.invariants);
    assert!(log.iter().any(|l| l.contains("baselines are transfer-only")), "{log:?}");
    assert!(!report.markdown().contains("split/transfer"), "{}", report.markdown());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_run_a_warm_up_then_alternate_the_settings_and_the_summary_judges_the_bars() {
    let mut args = CompareArgs::tiny(vec![Backend::Memory, Backend::Sqlite]);
    args.clients = vec![1];
    args.seconds = 0.3;
    args.group_commit = GroupCommitMode::Both;
    args.rounds = Some(2);
    let report = compare::run(&args, &mut |_: &str| {}).await.unwrap();

    // Memory: ledger off and on; SQLite: those and the baseline. Each a
    // warm-up round and two counted ones.
    assert_eq!(report.rows.len(), (2 + 3) * 3, "{:?}", report.rows);
    assert_eq!(report.rows.iter().filter(|r| r.warmup).count(), 5);
    let sqlite: Vec<_> = report.rows.iter().filter(|r| r.backend == "sqlite").collect();
    let order = |warmup: bool, repeat: usize| -> Vec<(System, Option<bool>)> {
        sqlite.iter().filter(|r| r.warmup == warmup && r.repeat == repeat).map(|r| (r.system, r.group_commit)).collect()
    };
    let forward = vec![(System::Ledger, Some(false)), (System::Ledger, Some(true)), (System::Baseline, None)];
    assert_eq!(order(true, 0), forward, "the warm-up round runs in the first round's order");
    assert_eq!(order(false, 0), forward);
    assert_eq!(order(false, 1), forward.into_iter().rev().collect::<Vec<_>>(), "odd rounds run in reverse");

    let on = ledger_bench::summary::Setting::ledger(true, WorkloadKind::Transfer);
    let durability = "WAL, synchronous=FULL";
    let gc = report.summary.find("sqlite", durability, 1, ledger_bench::summary::RatioKind::GroupCommit, on).unwrap();
    assert_eq!((gc.paired.rounds, gc.numerator_spread.rounds), (2, 2), "warm-up rows are not counted: {gc:?}");
    let sqlite_bar = report.bars.iter().find(|b| b.bar.id == "sqlite-gc-1").unwrap();
    assert_eq!(sqlite_bar.measured, Some(gc.paired.median));
    assert!(
        report.bars.iter().filter(|b| b.bar.id != "sqlite-gc-1").all(|b| b.measured.is_none()),
        "{:?}",
        report.bars
    );
    let table = report.markdown();
    assert!(table.contains("Per setting over the counted rounds"), "{table}");
    assert!(table.contains("| ledger gc on / ledger gc off |"), "{table}");
    assert!(table.contains("(warm-up)"), "{table}");
    assert!(table.contains("| SQLite, 1 client: ledger group commit on / off |"), "{table}");
    assert!(report.invariants.iter().all(|i| i.check.holds()), "{:?}", report.invariants);
}
