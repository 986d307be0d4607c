//! The loop each sink runs, in a task of its own: hold the sink's lease,
//! read its cursor, read the changes after it, deliver them in order and
//! move the cursor only past what the sink confirmed; wait for new
//! commits; on failure retry the same event with exponential backoff and
//! jitter. It only reads the ledger, so a failing sink slows no money
//! command and no other sink.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBuilder};
use ledger_core::Ledger;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::event::Event;
use super::lease::{LEASE_RENEW, Lease};
use super::sink::{Sink, SinkError};
use super::status::SinkStatus;

/// How many changes one read of the feed takes.
pub const PAGE_LEN: usize = 100;
/// The longest wait for new commits before reading the feed again (commits
/// by other instances are seen this late at worst).
pub const POLL: Duration = Duration::from_millis(200);
/// How long one delivery (connecting included) may take before it counts
/// as failed.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry's delay; each next one doubles, with jitter, up to [`RETRY_DELAY_MAX`].
pub const RETRY_DELAY_MIN: Duration = Duration::from_millis(100);
/// The longest delay between retries.
pub const RETRY_DELAY_MAX: Duration = Duration::from_secs(10);

/// One sink's publisher.
pub struct Publisher<S: Sink> {
    sink: S,
    ledger: Ledger,
    status: Arc<SinkStatus>,
    lease: Lease,
    shutdown: CancellationToken,
    /// What the store holds as the sink's cursor (as far as we know).
    stored: u64,
    /// The last sequence the sink confirmed.
    confirmed: u64,
}

impl<S: Sink> Publisher<S> {
    /// A publisher of `sink` for the instance `holder`.
    pub fn new(sink: S, ledger: Ledger, status: Arc<SinkStatus>, holder: String, shutdown: CancellationToken) -> Self {
        let lease = Lease::new(ledger.clone(), sink.name(), holder);
        Publisher { sink, ledger, status, lease, shutdown, stored: 0, confirmed: 0 }
    }

    /// Runs until shutdown.
    pub async fn run(mut self) {
        let shutdown = self.shutdown.clone();
        while !shutdown.is_cancelled() {
            match self.lease.try_take().await {
                Ok(true) => {
                    tracing::info!(sink = self.sink.name(), "publishing (lease taken)");
                    let lease = self.lease.clone();
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        lost = lease.keep() => {
                            tracing::warn!(sink = self.sink.name(), reason = %lost, "stopped publishing: the lease is lost");
                        }
                        () = self.publish_while_held() => {}
                    }
                    // Whatever was cut short, the next holder resumes from the store's cursor.
                    self.sink.reset();
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(sink = self.sink.name(), %error, "cannot take the lease"),
            }
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = tokio::time::sleep(LEASE_RENEW) => {}
            }
        }
        // Keep what was confirmed: a restart resends less.
        self.save_cursor().await;
    }

    /// Publishes for as long as the caller keeps polling (it stops polling
    /// when the lease is lost or at shutdown).
    async fn publish_while_held(&mut self) {
        let mut commits = self.ledger.subscribe();
        let mut backoff = backoff();
        let cursor = loop {
            match self.ledger.sink_cursor(self.sink.name()).await {
                Ok(cursor) => break cursor,
                Err(error) => {
                    tracing::warn!(sink = self.sink.name(), %error, "cannot read the sink's cursor");
                    tokio::time::sleep(backoff.next().unwrap_or(RETRY_DELAY_MAX)).await;
                }
            }
        };
        self.stored = cursor;
        self.confirmed = cursor;
        loop {
            let changes = match self.ledger.events_after(self.confirmed, PAGE_LEN).await {
                Ok(changes) => changes,
                Err(error) => {
                    tracing::warn!(sink = self.sink.name(), %error, "cannot read the change feed");
                    tokio::time::sleep(backoff.next().unwrap_or(RETRY_DELAY_MAX)).await;
                    continue;
                }
            };
            if changes.is_empty() {
                backoff = self::backoff();
                wait_for_commit(&mut commits).await;
                continue;
            }
            // A commit is visible to reads before group commit has synced
            // it (sled); publishing it then, a crash could take back what a
            // sink was told. The sync makes everything read so far durable.
            if let Err(error) = self.ledger.store().sync().await {
                tracing::warn!(sink = self.sink.name(), %error, "cannot make the changes read durable");
                tokio::time::sleep(backoff.next().unwrap_or(RETRY_DELAY_MAX)).await;
                continue;
            }
            backoff = self::backoff();
            for change in &changes {
                self.deliver(change).await;
                self.confirmed = change.sequence;
            }
            self.save_cursor().await;
        }
    }

    /// Delivers one change, retrying until the sink confirms it.
    async fn deliver(&mut self, change: &ledger_core::Change) {
        let mut delays = backoff();
        loop {
            let attempt = match Event::render(change) {
                Ok(event) => self.attempt(&event).await,
                Err(error) => Err(SinkError::Encode(error.to_string())),
            };
            match attempt {
                Ok(()) => {
                    self.status.published();
                    return;
                }
                Err(error) => {
                    self.sink.reset();
                    self.status.failed(self.ledger.now());
                    let delay = delays.next().unwrap_or(RETRY_DELAY_MAX);
                    tracing::warn!(sink = self.sink.name(), event = %change.event_id(), %error, ?delay, "delivery failed; retrying");
                    // What the sink confirmed so far survives a crash during the wait.
                    self.save_cursor().await;
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    async fn attempt(&mut self, event: &Event) -> Result<(), SinkError> {
        let sink = &mut self.sink;
        let delivery = async {
            sink.prepare().await?;
            sink.send(event).await
        };
        tokio::time::timeout(SEND_TIMEOUT, delivery).await.unwrap_or(Err(SinkError::TimedOut(SEND_TIMEOUT)))
    }

    /// Stores the cursor if the sink confirmed more than the store knows.
    async fn save_cursor(&mut self) {
        if self.confirmed <= self.stored {
            return;
        }
        match self.ledger.advance_sink_cursor(self.sink.name(), self.confirmed).await {
            Ok(()) => self.stored = self.confirmed,
            // Not fatal: those events are sent again after a restart.
            Err(error) => tracing::warn!(sink = self.sink.name(), %error, "cannot store the sink's cursor"),
        }
    }
}

/// Exponential delays with jitter, without end: a sink is retried until it
/// answers.
fn backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(RETRY_DELAY_MIN)
        .with_max_delay(RETRY_DELAY_MAX)
        .with_jitter()
        .without_max_times()
        .build()
}

/// Returns when this instance commits something, or after [`POLL`] (other
/// instances' commits show only in the feed).
async fn wait_for_commit(commits: &mut tokio::sync::broadcast::Receiver<ledger_core::LedgerEvent>) {
    let _ = tokio::time::timeout(POLL, async {
        match commits.recv().await {
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            // The ledger is gone: only the poll is left.
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    })
    .await;
}
