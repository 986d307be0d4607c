//! What a sink is: somewhere events go, one at a time, each confirmed
//! before the next, so the order a consumer sees is commit order.

use std::future::Future;

use super::event::Event;

/// Why a delivery failed. Logged and counted, never shown to API clients.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The broker or endpoint could not be reached, or the connection broke.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// It answered but did not take the event (a nack, a non-2xx status).
    #[error("refused: {0}")]
    Refused(String),
    /// Its set-up contradicts ours (a stream with other subjects, an
    /// exchange of another type): retrying cannot help until an operator acts.
    #[error("misconfigured: {0}")]
    Misconfigured(String),
    /// No confirmation in time.
    #[error("no confirmation within {0:?}")]
    TimedOut(std::time::Duration),
    /// The event could not be encoded (a bug).
    #[error("cannot encode the event: {0}")]
    Encode(String),
}

/// A destination for events (NATS JetStream, RabbitMQ, a webhook).
///
/// **Contract:** `send` returns `Ok` only once the destination confirmed
/// it keeps the event (a JetStream ack, a publisher confirm, a 2xx); only
/// then does the publisher move the sink's cursor past it.
pub trait Sink: Send + 'static {
    /// The sink's name: its cursor is `<name>`, its lease `publish:<name>`.
    fn name(&self) -> &str;

    /// Connects and declares what it needs, unless it already has.
    fn prepare(&mut self) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Delivers one event and waits for the destination's confirmation.
    fn send(&mut self, event: &Event) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Drops the connection after a failure, so the next `prepare` starts afresh.
    fn reset(&mut self);
}
