//! `ledger-bench http --baseline`: the service priced against a minimal
//! axum server ([`super::axum_baseline`]) under the same load generator, in
//! one sitting, and its transfer latency at half of its peak rate.
//!
//! 1. ledger-http is spawned on `--storage` (default: a fresh SQLite file
//!    in a temporary directory, the service's default store kind), the
//!    users set up, and one real balance response read: the baseline
//!    answers with exactly those bytes.
//! 2. Balance reads only (closed loop, `--clients`, `--seconds`) against
//!    the service and against the baseline, after one unmeasured second on
//!    each, in `--rounds` pairs, each pair in the opposite order of the one
//!    before. The ratio is the median of the pairs' ratios.
//! 3. Transfers only, closed loop: the peak transfer rate.
//! 4. Transfers only, open loop at half that rate, `--rounds` times: the
//!    median of the runs' p99s, each counted from when a request was due
//!    (one run's p99 rests on its slowest hundredth, so it scatters).

use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use super::api::{Api, LoadUser};
use super::load::{Measured, Phase, measure, set_up};
use super::{HttpArgs, SpawnedServer};
use crate::BenchError;
use crate::bars::{self, BarResult};
use crate::report::Machine;
use crate::rounds::{Spread, alternated, within_noise};

/// Seconds of balance reads on each server before the measured rounds.
const WARMUP_SECONDS: f64 = 1.0;

/// Which server a run loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Server {
    /// ledger-http.
    Ledger,
    /// The minimal axum server.
    Baseline,
}

impl Server {
    fn label(self) -> &'static str {
        match self {
            Server::Ledger => "ledger-http",
            Server::Baseline => "axum baseline",
        }
    }
}

/// One measured run of the sitting.
#[derive(Debug, Clone, Serialize)]
pub struct HttpRun {
    /// `reads`, `transfers at peak` or `transfers at half of peak`.
    pub name: &'static str,
    /// Which server.
    pub server: Server,
    /// The pair of read runs, or the half-of-peak run, it is (none for the
    /// peak).
    pub round: Option<usize>,
    /// How it was loaded.
    #[serde(skip)]
    pub phase: Phase,
    /// The open-loop rate asked for, if any.
    pub rate: Option<f64>,
    /// What it measured.
    pub measured: Measured,
}

/// What the sitting measured.
#[derive(Debug, Clone, Serialize)]
pub struct HttpComparison {
    /// Where.
    pub machine: Machine,
    /// The service's storage.
    pub storage: String,
    /// Clients, seconds, rounds, seed.
    pub settings: serde_json::Value,
    /// Bytes of the balance response both servers answered with.
    pub body_bytes: usize,
    /// Every measured run, in order.
    pub runs: Vec<HttpRun>,
    /// Balance reads per second of the service over the baseline's, per pair.
    pub read_ratio: Spread,
    /// The service's read rates over the pairs.
    pub ledger_reads: Spread,
    /// The baseline's.
    pub baseline_reads: Spread,
    /// Whether either side's spread is wider than the ratio's distance from 1.
    pub within_noise: bool,
    /// Transfers per second, closed loop.
    pub peak_transfers_per_second: f64,
    /// Transfer p99 at half of that rate, in milliseconds: the median of
    /// the rounds'.
    pub half_peak_p99_ms: f64,
    /// The rounds' transfer p99s at half of peak, in milliseconds.
    pub half_peak_p99s_ms: Spread,
    /// The bars.
    pub bars: Vec<BarResult>,
}

/// Runs the sitting; `log` hears progress lines.
pub async fn run(args: &HttpArgs, log: &mut dyn FnMut(&str)) -> Result<HttpComparison, BenchError> {
    let dir =
        tempfile::Builder::new().prefix("ledger-bench-http-").tempdir().map_err(|e| BenchError::io("temp dir", e))?;
    let storage = match &args.storage {
        Some(storage) => storage.clone(),
        None => format!("sqlite:{}", dir.path().join("ledger.sqlite3").display()),
    };
    let ledger = SpawnedServer::ledger(args, &storage).await?;
    log(&format!("ledger-http at {} on {storage}; setting up {} users", ledger.url, args.users));
    let result = sitting(args, &storage, &ledger, log).await;
    ledger.stop().await;
    result
}

async fn sitting(
    args: &HttpArgs,
    storage: &str,
    ledger: &SpawnedServer,
    log: &mut dyn FnMut(&str),
) -> Result<HttpComparison, BenchError> {
    let api = Api::new(&ledger.url, args.clients)?;
    let users: Arc<Vec<LoadUser>> = Arc::new(set_up(&api, args).await?);
    let body = match users.first() {
        Some(user) => api.balance_body(user).await?,
        None => return Err(BenchError::Http("no load users".into())),
    };
    let baseline = SpawnedServer::baseline(args, &body).await?;
    log(&format!("axum baseline at {}, answering {} bytes", baseline.url, body.len()));
    let base_api = Api::new(&baseline.url, args.clients)?;
    let reads = Phase { clients: args.clients, seconds: args.seconds, read_percent: 100, rate: None };
    let mut runs = Vec::new();
    let outcome = async {
        for api in [&api, &base_api] {
            measure(api, &users, &Phase { seconds: WARMUP_SECONDS, ..reads }, args.seed, None).await?;
        }
        for round in 0..args.rounds as usize {
            for server in alternated(&[Server::Ledger, Server::Baseline], round) {
                let target = if server == Server::Ledger { &api } else { &base_api };
                let measured = measure(target, &users, &reads, args.seed, None).await?;
                let per_second = measured.kind("balance").map_or(0.0, |k| k.per_second);
                log(&format!("reads, round {}: {} {per_second:.0}/s", round + 1, server.label()));
                runs.push(HttpRun { name: "reads", server, round: Some(round), phase: reads, rate: None, measured });
            }
        }
        Ok::<(), BenchError>(())
    }
    .await;
    baseline.stop().await;
    outcome?;

    let transfers = Phase { read_percent: 0, ..reads };
    let measured = measure(&api, &users, &transfers, args.seed, None).await?;
    let peak = measured.kind("transfer").map_or(0.0, |k| k.per_second);
    log(&format!("transfers at peak (closed loop): {peak:.0}/s"));
    runs.push(HttpRun {
        name: "transfers at peak",
        server: Server::Ledger,
        round: None,
        phase: transfers,
        rate: None,
        measured,
    });
    let half = Phase { rate: Some(peak / 2.0), ..transfers };
    for round in 0..args.rounds as usize {
        let measured = measure(&api, &users, &half, args.seed, None).await?;
        let p99_ms = transfer_p99_ms(&measured);
        log(&format!(
            "transfers at half of peak ({:.0}/s, open loop), round {}: p99 {p99_ms:.2} ms",
            peak / 2.0,
            round + 1
        ));
        runs.push(HttpRun {
            name: HALF_PEAK,
            server: Server::Ledger,
            round: Some(round),
            phase: half,
            rate: half.rate,
            measured,
        });
    }
    summarize(args, storage, body.len(), runs, peak)
}

/// The name of the runs at half of the peak transfer rate.
const HALF_PEAK: &str = "transfers at half of peak";

/// A run's transfer p99 in milliseconds; not a number if no transfer was
/// answered.
fn transfer_p99_ms(measured: &Measured) -> f64 {
    measured.kind("transfer").map_or(f64::NAN, |k| k.latency.p99_micros as f64 / 1000.0)
}

/// Whether a measurement's rounds scatter across a bar's threshold: some
/// round on each side of it, so one run more could flip the verdict.
fn straddles(threshold: f64, rounds: &Spread) -> bool {
    rounds.min < threshold && threshold <= rounds.max
}

/// The ratio, spreads and bars of a sitting's runs.
fn summarize(
    args: &HttpArgs,
    storage: &str,
    body_bytes: usize,
    runs: Vec<HttpRun>,
    peak: f64,
) -> Result<HttpComparison, BenchError> {
    let reads_of = |server: Server| -> Vec<(usize, f64)> {
        runs.iter()
            .filter(|r| r.name == "reads" && r.server == server)
            .filter_map(|r| Some((r.round?, r.measured.kind("balance")?.per_second)))
            .collect()
    };
    let (ledger, baseline) = (reads_of(Server::Ledger), reads_of(Server::Baseline));
    let pairs: Vec<f64> = ledger
        .iter()
        .filter_map(|(round, l)| {
            baseline.iter().find(|(r, _)| r == round).filter(|(_, b)| *b > 0.0).map(|(_, b)| l / b)
        })
        .collect();
    let rates = |side: &[(usize, f64)]| side.iter().map(|(_, v)| *v).collect::<Vec<_>>();
    let missing = || BenchError::Http("no balance reads were measured".into());
    let read_ratio = Spread::of(&pairs).ok_or_else(missing)?;
    let ledger_reads = Spread::of(&rates(&ledger)).ok_or_else(missing)?;
    let baseline_reads = Spread::of(&rates(&baseline)).ok_or_else(missing)?;
    let noisy = within_noise(read_ratio.median, &ledger_reads, &baseline_reads);
    let p99s: Vec<f64> = runs.iter().filter(|r| r.name == HALF_PEAK).map(|r| transfer_p99_ms(&r.measured)).collect();
    // A run with no transfer answered has no p99: the bar fails.
    let half_peak_p99s_ms =
        Spread::of(&p99s).unwrap_or(Spread { median: f64::NAN, min: f64::NAN, max: f64::NAN, rounds: p99s.len() });
    // The latency bar is set on the service's default store, SQLite.
    let p99 = storage.starts_with("sqlite:").then_some(half_peak_p99s_ms.median);
    let bars = bars::BARS
        .iter()
        .map(|bar| match bar.id {
            id if id == bars::HTTP_READS.id => BarResult { within_noise: noisy, ..bar.judge(Some(read_ratio.median)) },
            id if id == bars::HTTP_TRANSFER_P99.id => {
                BarResult { within_noise: straddles(bar.threshold, &half_peak_p99s_ms), ..bar.judge(p99) }
            }
            _ => bar.judge(None),
        })
        .collect();
    Ok(HttpComparison {
        machine: Machine::detect(),
        storage: storage.to_owned(),
        settings: serde_json::json!({
            "clients": args.clients, "users": args.users, "seconds": args.seconds, "rounds": args.rounds, "seed": args.seed,
        }),
        body_bytes,
        runs,
        read_ratio,
        ledger_reads,
        baseline_reads,
        within_noise: noisy,
        peak_transfers_per_second: peak,
        half_peak_p99_ms: half_peak_p99s_ms.median,
        half_peak_p99s_ms,
        bars,
    })
}

impl HttpComparison {
    /// The sitting as markdown: every run, the ratio, the bars.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "ledger-http on {} against a minimal axum server answering the same {}-byte balance body, \
             same load generator over 127.0.0.1:\n\n\
             | run | server | round | target/s | ok | errors | per second | p50 ms | p99 ms | p99.9 ms |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            self.storage, self.body_bytes
        );
        let ms = |m: u64| m as f64 / 1000.0;
        for run in &self.runs {
            let kind = if run.name == "reads" { "balance" } else { "transfer" };
            let Some(k) = run.measured.kind(kind) else { continue };
            let round = run.round.map_or_else(|| "-".to_owned(), |r| (r + 1).to_string());
            let rate = run.rate.map_or_else(|| "closed loop".to_owned(), |r| format!("{r:.0}"));
            let _ = writeln!(
                out,
                "| {} | {} | {round} | {rate} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
                run.name,
                run.server.label(),
                k.ok,
                k.errors,
                k.per_second,
                ms(k.latency.p50_micros),
                ms(k.latency.p99_micros),
                ms(k.latency.p999_micros),
            );
        }
        let r = &self.read_ratio;
        let _ = writeln!(
            out,
            "\nBalance reads / baseline: {:.2}x (median of {} pairs, {:.2}-{:.2}; medians {:.0} / {:.0}/s, spreads {:.0}% / {:.0}%){}",
            r.median,
            r.rounds,
            r.min,
            r.max,
            self.ledger_reads.median,
            self.baseline_reads.median,
            self.ledger_reads.relative() * 100.0,
            self.baseline_reads.relative() * 100.0,
            if self.within_noise { " ⚠ within noise" } else { "" },
        );
        let p99s = &self.half_peak_p99s_ms;
        let _ = writeln!(
            out,
            "Transfers: peak {:.0}/s (closed loop); at half of it, open loop: p99 {:.2} ms (median of {} runs, {:.2}-{:.2})\n\nBars:\n",
            self.peak_transfers_per_second, p99s.median, p99s.rounds, p99s.min, p99s.max
        );
        out.push_str(&bars::markdown(&self.bars));
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::bars::Verdict;
    use crate::http::load::KindStats;
    use crate::latency::Latency;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        http: HttpArgs,
    }

    /// A run that measured `per_second` of `kind` with this p99.
    fn run(
        name: &'static str,
        server: Server,
        round: Option<usize>,
        kind: &'static str,
        per_second: f64,
        p99_ms: u64,
    ) -> HttpRun {
        let latency = Latency {
            p50_micros: 1_000,
            p99_micros: p99_ms * 1_000,
            p999_micros: p99_ms * 1_000,
            max_micros: p99_ms * 1_000,
        };
        let stats = KindStats { kind, ok: 100, errors: 0, first_error: None, per_second, latency };
        let phase = Phase { clients: 1, seconds: 1.0, read_percent: 0, rate: None };
        let measured = Measured { seconds: 1.0, kinds: vec![stats], rss: Vec::new() };
        HttpRun { name, server, round, phase, rate: None, measured }
    }

    /// A sitting whose half-of-peak runs had these p99s.
    fn sitting_with(p99s_ms: &[u64]) -> HttpComparison {
        let args = Cli::parse_from(["http"]).http;
        let mut runs = vec![
            run("reads", Server::Ledger, Some(0), "balance", 100.0, 1),
            run("reads", Server::Baseline, Some(0), "balance", 400.0, 1),
            run("transfers at peak", Server::Ledger, None, "transfer", 50.0, 5),
        ];
        for (round, p99) in p99s_ms.iter().enumerate() {
            runs.push(run(HALF_PEAK, Server::Ledger, Some(round), "transfer", 25.0, *p99));
        }
        summarize(&args, "sqlite:/tmp/x", 10, runs, 50.0).unwrap()
    }

    fn p99_bar(comparison: &HttpComparison) -> BarResult {
        comparison.bars.iter().find(|b| b.bar.id == bars::HTTP_TRANSFER_P99.id).unwrap().clone()
    }

    #[test]
    fn the_half_peak_p99_is_the_median_of_the_rounds_and_flagged_when_they_straddle_the_bar() {
        let mixed = sitting_with(&[8, 14, 9]);
        assert_eq!(mixed.half_peak_p99_ms, 9.0);
        assert_eq!((mixed.half_peak_p99s_ms.min, mixed.half_peak_p99s_ms.max), (8.0, 14.0));
        let bar = p99_bar(&mixed);
        assert_eq!(bar.verdict, Verdict::Pass);
        assert!(bar.within_noise, "a round on each side of 10 ms");
        let slow = p99_bar(&sitting_with(&[11, 12, 30]));
        assert_eq!((slow.verdict, slow.within_noise), (Verdict::Fail, false));
        let fast = p99_bar(&sitting_with(&[7]));
        assert_eq!((fast.verdict, fast.within_noise), (Verdict::Pass, false));
        assert_eq!(sitting_with(&[7]).read_ratio.median, 0.25);
    }
}
