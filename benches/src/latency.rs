//! Latency percentiles from an HDR histogram of microseconds.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The slowest latency recorded exactly: one minute, in microseconds.
pub const LATENCY_MICROS_MAX: u64 = 60_000_000;
/// Significant decimal digits the histogram keeps.
const SIGNIFICANT_DIGITS: u8 = 3;

/// A histogram of operation latencies in microseconds.
#[derive(Debug, Clone)]
pub struct Recorder {
    histogram: Histogram<u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Recorder {
        // Bounds and digits are constants within hdrhistogram's limits.
        let histogram = Histogram::new_with_bounds(1, LATENCY_MICROS_MAX, SIGNIFICANT_DIGITS)
            .unwrap_or_else(|_| Histogram::new(SIGNIFICANT_DIGITS).unwrap_or_else(|_| unreachable!("3 digits")));
        Recorder { histogram }
    }

    /// Records one latency (clamped into the histogram's range).
    pub fn record(&mut self, elapsed: std::time::Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).clamp(1, LATENCY_MICROS_MAX);
        self.histogram.saturating_record(micros);
    }

    /// Adds another recorder's samples.
    pub fn merge(&mut self, other: &Recorder) {
        // Same bounds on both sides, so adding cannot fail; saturate if it did.
        if self.histogram.add(&other.histogram).is_err() {
            for v in other.histogram.iter_recorded() {
                self.histogram.saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
    }

    /// The recorded values (microseconds) and their counts, to send to
    /// another process.
    pub fn counts(&self) -> Vec<(u64, u64)> {
        self.histogram.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect()
    }

    /// A recorder of values and counts from [`Recorder::counts`].
    pub fn from_counts(counts: &[(u64, u64)]) -> Recorder {
        let mut recorder = Recorder::new();
        for &(micros, count) in counts {
            recorder.histogram.saturating_record_n(micros.clamp(1, LATENCY_MICROS_MAX), count);
        }
        recorder
    }

    /// How many samples.
    pub fn len(&self) -> u64 {
        self.histogram.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// The percentiles the reports show.
    pub fn summary(&self) -> Latency {
        let q = |q: f64| self.histogram.value_at_quantile(q);
        Latency { p50_micros: q(0.50), p99_micros: q(0.99), p999_micros: q(0.999), max_micros: self.histogram.max() }
    }
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Latency {
    /// Median.
    pub p50_micros: u64,
    /// 99th percentile.
    pub p99_micros: u64,
    /// 99.9th percentile.
    pub p999_micros: u64,
    /// Slowest.
    pub max_micros: u64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn percentiles_come_from_the_recorded_distribution() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        for i in 1..=990 {
            a.record(Duration::from_micros(i % 100 + 1));
        }
        for _ in 0..10 {
            b.record(Duration::from_millis(50));
        }
        a.merge(&b);
        let s = a.summary();
        assert_eq!(a.len(), 1000);
        assert!(s.p50_micros <= 60, "{s:?}");
        assert!(s.p99_micros <= 101, "{s:?}");
        assert!(s.p999_micros >= 49_000, "{s:?}");
    }

    #[test]
    fn counts_carry_a_recorder_to_another_process_unchanged() {
        let mut r = Recorder::new();
        for i in 1..=500 {
            r.record(Duration::from_micros(i * 7));
        }
        let copy = Recorder::from_counts(&r.counts());
        assert_eq!((copy.len(), copy.summary()), (r.len(), r.summary()));
    }

    #[test]
    fn latencies_beyond_the_range_are_clamped_not_lost() {
        let mut r = Recorder::new();
        r.record(Duration::from_secs(3600));
        r.record(Duration::ZERO);
        assert_eq!(r.len(), 2);
        assert!(r.summary().max_micros >= LATENCY_MICROS_MAX - LATENCY_MICROS_MAX / 500);
    }
}
