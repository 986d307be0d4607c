//! Runs N client tasks against a [`Workload`] for a bounded time and
//! measures what they got done.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::BenchError;
use crate::latency::{Latency, Recorder};
use crate::zipf::Picker;

/// The two customer accounts of one command, by index: `(from, to)` (the
/// transfer's sides, or the split entry's payer and payee).
pub type Pair = (usize, usize);

/// Something that moves money between its accounts, by index.
#[async_trait]
pub trait Workload: Send + Sync + 'static {
    /// One call: for each pair a transfer of a fixed small amount (or, for
    /// the ledger's split workload, an entry of three postings from the
    /// pair's payer), all or none, under the unique key `key`; committed
    /// when this returns `Ok`.
    async fn transfers(&self, pairs: &[Pair], key: &str) -> Result<(), BenchError>;
}

/// How one run is driven.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Concurrent client tasks, each with one command in flight.
    pub clients: usize,
    /// Commands (pairs) per call (1 to `ledger_core::BATCH_SIZE_MAX`).
    pub batch_size: usize,
    /// Unmeasured time first.
    pub warmup: Duration,
    /// Measured time.
    pub duration: Duration,
    /// Draws the accounts of each transfer.
    pub picker: Arc<Picker>,
    /// Client `i` draws from `seed + i`.
    pub seed: u64,
    /// Prefix of every idempotency key of the run (unique per run).
    pub tag: String,
}

/// What a run got done in its measured time.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Commands (transfers or entries, `batch_size` per call) committed in
    /// the measured time.
    pub commands: u64,
    /// Calls (of `batch_size` commands) that failed in the measured time.
    pub errors: u64,
    /// The first failure, if any.
    pub first_error: Option<String>,
    /// The measured time actually elapsed.
    pub elapsed: Duration,
    /// Latencies of the committed calls.
    pub latency: Latency,
    /// Their histogram, to merge with another process's.
    pub recorder: Recorder,
}

impl Measurement {
    /// Committed commands per second.
    pub fn per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.commands as f64 / secs } else { 0.0 }
    }

    /// Two measurements of one run made side by side (two processes on
    /// one store): commands, errors and latencies added up, over the longer
    /// of the two measured times.
    pub fn merge(mut self, other: Measurement) -> Measurement {
        self.commands += other.commands;
        self.errors += other.errors;
        self.first_error = self.first_error.or(other.first_error);
        self.elapsed = self.elapsed.max(other.elapsed);
        self.recorder.merge(&other.recorder);
        self.latency = self.recorder.summary();
        self
    }
}

struct ClientResult {
    recorder: Recorder,
    errors: u64,
    first_error: Option<String>,
}

/// Runs the plan and returns the measurement of its measured window.
pub async fn drive(workload: Arc<dyn Workload>, plan: &RunPlan) -> Result<Measurement, BenchError> {
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let batch_size = plan.batch_size.max(1);
    let mut tasks = Vec::with_capacity(plan.clients);
    for client in 0..plan.clients {
        let workload = workload.clone();
        let picker = plan.picker.clone();
        let seed = plan.seed.wrapping_add(client as u64);
        let tag = format!("{}-{client}", plan.tag);
        tasks.push(tokio::spawn(async move {
            client_loop(workload, (picker, batch_size), seed, tag, measure_from, end).await
        }));
    }
    let mut recorder = Recorder::new();
    let (mut errors, mut first_error) = (0, None);
    for task in tasks {
        let result = task.await.map_err(|e| BenchError::Baseline(format!("a client task failed: {e}")))?;
        recorder.merge(&result.recorder);
        errors += result.errors;
        first_error = first_error.or(result.first_error);
    }
    let elapsed = Instant::now().saturating_duration_since(measure_from).max(Duration::from_micros(1));
    let commands = recorder.len().saturating_mul(batch_size as u64);
    Ok(Measurement { commands, errors, first_error, elapsed, latency: recorder.summary(), recorder })
}

async fn client_loop(
    workload: Arc<dyn Workload>,
    (picker, batch_size): (Arc<Picker>, usize),
    seed: u64,
    tag: String,
    measure_from: Instant,
    end: Instant,
) -> ClientResult {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut result = ClientResult { recorder: Recorder::new(), errors: 0, first_error: None };
    let mut n: u64 = 0;
    let mut pairs = Vec::with_capacity(batch_size);
    loop {
        let began = Instant::now();
        if began >= end {
            return result;
        }
        pairs.clear();
        pairs.extend((0..batch_size).map(|_| picker.pair(&mut rng)));
        n += 1;
        let outcome = workload.transfers(&pairs, &format!("{tag}-{n}")).await;
        if began < measure_from {
            continue;
        }
        match outcome {
            Ok(()) => result.recorder.record(began.elapsed()),
            Err(error) => {
                result.errors += 1;
                result.first_error.get_or_insert_with(|| error.to_string());
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::zipf::Skew;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// Counts calls; fails every third.
    struct Counting(AtomicU64);

    #[async_trait]
    impl Workload for Counting {
        async fn transfers(&self, pairs: &[Pair], _key: &str) -> Result<(), BenchError> {
            assert_eq!(pairs.len(), 1);
            assert!(pairs.iter().all(|(from, to)| from != to));
            tokio::time::sleep(Duration::from_millis(1)).await;
            if self.0.fetch_add(1, Ordering::Relaxed) % 3 == 2 {
                return Err(BenchError::Baseline("refused".into()));
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn drive_counts_successes_and_failures_of_every_client_and_stops_on_time() {
        let plan = RunPlan {
            clients: 4,
            batch_size: 1,
            warmup: Duration::from_millis(20),
            duration: Duration::from_millis(200),
            picker: Arc::new(Picker::new(10, Skew::Zipf, 1.0)),
            seed: 1,
            tag: "t".into(),
        };
        let started = Instant::now();
        let m = drive(Arc::new(Counting(AtomicU64::new(0))), &plan).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(m.commands > 20, "{m:?}");
        assert!(m.errors > 5 && m.errors < m.commands, "{m:?}");
        assert_eq!(m.first_error.as_deref(), Some("baseline state: refused"));
        assert!(m.per_second() > 0.0 && m.latency.p50_micros >= 1000, "{m:?}");
    }
}
