//! Events out: every committed change, read from the store's change feed
//! (the outbox), published to NATS JetStream, RabbitMQ and signed webhooks.
//!
//! Each sink runs in a task of its own ([`publisher`]) under a lease, so one
//! instance at a time publishes it, with a durable cursor in the ledger's
//! storage moved only past what the sink confirmed: at least once, in
//! commit order per sink, every repeat byte-identical. See `docs/events.md`.

pub mod amqp;
pub mod event;
pub mod lease;
pub mod nats;
pub mod publisher;
pub mod settings;
pub mod sink;
pub mod status;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

pub use event::{Event, EventBalance, EventDto};
pub use settings::{PublishFlags, PublishSettings, SettingsError};
pub use sink::{Sink, SinkError};
pub use status::{DegradedSink, SinkStatus, Sinks};

use crate::state::AppState;

/// How long the start-up check of a broker may take.
const STARTUP_CHECK: Duration = Duration::from_secs(5);

/// Why publishing could not start.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A broker answered, and its set-up contradicts ours.
    #[error("{sink}: {source}")]
    Sink {
        /// The sink.
        sink: String,
        /// What is wrong.
        source: SinkError,
    },
}

/// The running publishers; [`Publishing::stopped`] waits for them after shutdown.
#[derive(Debug, Default)]
pub struct Publishing {
    tasks: Vec<JoinHandle<()>>,
}

impl Publishing {
    /// Waits (at most `grace`) for every publisher to stop; they stop when
    /// the state's shutdown token is cancelled.
    pub async fn stopped(self, grace: Duration) {
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(?grace, "publishers still running after the grace period");
        }
    }
}

/// Starts a publisher per sink. A broker that is down at start is no
/// error (its events wait in the outbox); one whose set-up contradicts
/// ours is.
pub async fn start(state: &AppState, settings: PublishSettings) -> Result<Publishing, StartError> {
    let sinks = state.publishing();
    sinks.set_degraded_after(settings.degraded_after);
    // Random per process: the lease's holder.
    let holder = format!("instance-{}", uuid::Uuid::now_v7());
    let mut publishing = Publishing::default();
    if let Some(nats) = settings.nats {
        publishing.tasks.push(spawn(state, &holder, nats::NatsSink::new(nats)).await?);
    }
    if let Some(amqp) = settings.amqp {
        publishing.tasks.push(spawn(state, &holder, amqp::AmqpSink::new(amqp)).await?);
    }
    if let Some(secret) = settings.webhook_secret {
        for url in settings.webhooks {
            let sink = webhook::WebhookSink::new(url, secret.clone())
                .map_err(|source| StartError::Sink { sink: "webhook".to_owned(), source })?;
            publishing.tasks.push(spawn(state, &holder, sink).await?);
        }
    }
    Ok(publishing)
}

async fn spawn<S: Sink>(state: &AppState, holder: &str, mut sink: S) -> Result<JoinHandle<()>, StartError> {
    let name = sink.name().to_owned();
    match tokio::time::timeout(STARTUP_CHECK, sink.prepare()).await {
        Ok(Ok(())) => tracing::info!(sink = %name, "publishing sink ready"),
        Ok(Err(source @ SinkError::Misconfigured(_))) => return Err(StartError::Sink { sink: name, source }),
        Ok(Err(error)) => tracing::warn!(sink = %name, %error, "sink not reachable at start; its events wait"),
        Err(_) => tracing::warn!(sink = %name, "sink did not answer at start; its events wait"),
    }
    state.metrics().sink_registered(&name);
    let status = Arc::new(SinkStatus::new(name, state.metrics().clone()));
    state.publishing().register(status.clone());
    let publisher =
        publisher::Publisher::new(sink, state.ledger().clone(), status, holder.to_owned(), state.shutdown().clone());
    Ok(tokio::spawn(publisher.run()))
}
