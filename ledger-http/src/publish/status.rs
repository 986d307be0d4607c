//! How each sink is doing, for `/metrics` and `/health`: cursor and lag
//! (read from the store, so every instance reports the same), events
//! published and failures (this process's), and since when it fails.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger_core::Ledger;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::metrics::Metrics;

/// One sink's state in this process.
#[derive(Debug)]
pub struct SinkStatus {
    name: String,
    failing_since: Mutex<Option<DateTime<Utc>>>,
    metrics: Metrics,
}

impl SinkStatus {
    /// A sink that has not failed yet.
    pub fn new(name: String, metrics: Metrics) -> SinkStatus {
        SinkStatus { name, failing_since: Mutex::new(None), metrics }
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Counts an event the sink confirmed; the sink is no longer failing.
    pub fn published(&self) {
        self.metrics.sink_published(&self.name);
        *self.lock() = None;
    }

    /// Counts a failure; the sink fails since now unless it already did.
    pub fn failed(&self, now: DateTime<Utc>) {
        self.metrics.sink_failed(&self.name);
        self.lock().get_or_insert(now);
    }

    /// Since when the sink fails (`None`: it does not).
    pub fn failing_since(&self) -> Option<DateTime<Utc>> {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<DateTime<Utc>>> {
        self.failing_since.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A sink that has failed for longer than the threshold (`GET /health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DegradedSink {
    /// The sink (`nats:<stream>`, `amqp:<exchange>`, `webhook:<url>`).
    pub sink: String,
    /// When its current run of failures began.
    pub failing_since: DateTime<Utc>,
}

/// Every sink this process runs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sinks {
    inner: Arc<RwLock<SinksInner>>,
}

#[derive(Debug)]
struct SinksInner {
    sinks: Vec<Arc<SinkStatus>>,
    degraded_after: Duration,
}

impl Default for Sinks {
    fn default() -> Self {
        Sinks {
            inner: Arc::new(RwLock::new(SinksInner {
                sinks: Vec::new(),
                degraded_after: super::settings::DEGRADED_AFTER_DEFAULT,
            })),
        }
    }
}

impl Sinks {
    /// Adds a sink's status.
    pub fn register(&self, status: Arc<SinkStatus>) {
        self.write().sinks.push(status);
    }

    /// Sets how long a sink may fail before it is reported degraded.
    pub fn set_degraded_after(&self, after: Duration) {
        self.write().degraded_after = after;
    }

    /// Sinks failing for longer than the threshold at `now`.
    pub fn degraded(&self, now: DateTime<Utc>) -> Vec<DegradedSink> {
        let inner = self.read();
        let after = chrono::Duration::from_std(inner.degraded_after).unwrap_or(chrono::Duration::MAX);
        inner
            .sinks
            .iter()
            .filter_map(|sink| {
                let since = sink.failing_since()?;
                (now.signed_duration_since(since) >= after)
                    .then(|| DegradedSink { sink: sink.name().to_owned(), failing_since: since })
            })
            .collect()
    }

    /// Reads each sink's cursor and lag from the store into the metrics.
    /// A sink whose figures cannot be read keeps its last ones.
    pub async fn refresh_metrics(&self, ledger: &Ledger, metrics: &Metrics, now: DateTime<Utc>) {
        let names: Vec<String> = self.read().sinks.iter().map(|s| s.name().to_owned()).collect();
        for name in names {
            match lag(ledger, &name, now).await {
                Ok((cursor, events, seconds)) => metrics.sink_lag(&name, cursor, events, seconds),
                Err(error) => tracing::warn!(sink = %name, %error, "cannot read the sink's lag"),
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, SinksInner> {
        self.inner.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, SinksInner> {
        self.inner.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A sink's cursor, its lag in events, and in seconds (the age of the
/// oldest change it has not confirmed; 0 when none).
async fn lag(ledger: &Ledger, name: &str, now: DateTime<Utc>) -> Result<(u64, u64, f64), ledger_core::LedgerError> {
    let cursor = ledger.sink_cursor(name).await?;
    let events = ledger.events_count_after(cursor).await?;
    let oldest = ledger.events_after(cursor, 1).await?;
    let seconds = oldest
        .first()
        .map_or(0.0, |change| now.signed_duration_since(change.at).num_milliseconds().max(0) as f64 / 1000.0);
    Ok((cursor, events, seconds))
}
