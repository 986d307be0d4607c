//! RabbitMQ (AMQP 0-9-1): each event to the durable topic exchange with the
//! event's type as routing key, persistent, `message_id` = `event_id`;
//! delivered once the broker's publisher confirm (ack) arrives.
//!
//! The exchange routes to the queues bound to it when the event arrives:
//! bind a durable queue before events flow (RabbitMQ drops what no queue
//! takes, and still confirms it).

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::publisher_confirm::Confirmation;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

use super::event::Event;
use super::settings::AmqpSettings;
use super::sink::{Sink, SinkError};

/// AMQP's delivery mode for messages the broker writes to disk.
const PERSISTENT: u8 = 2;

/// The RabbitMQ sink.
pub struct AmqpSink {
    settings: AmqpSettings,
    name: String,
    open: Option<(Connection, Channel)>,
}

impl AmqpSink {
    /// A sink that connects on first use.
    pub fn new(settings: AmqpSettings) -> AmqpSink {
        let name = format!("amqp:{}", settings.exchange);
        AmqpSink { settings, name, open: None }
    }
}

/// A broker's refusal (a channel or connection exception such as
/// PRECONDITION_FAILED for an exchange of another kind) is an operator's
/// matter; anything else is the network.
fn classify(what: &str, error: lapin::Error) -> SinkError {
    match error.kind() {
        lapin::ErrorKind::ProtocolError(refusal) => SinkError::Misconfigured(format!("{what}: {refusal}")),
        _ => SinkError::Unreachable(format!("{what}: {error}")),
    }
}

impl Sink for AmqpSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn prepare(&mut self) -> Result<(), SinkError> {
        if let Some((connection, channel)) = &self.open {
            if connection.status().connected() && channel.status().connected() {
                return Ok(());
            }
        }
        self.open = None;
        let properties = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio);
        let connection = Connection::connect(&self.settings.url, properties)
            .await
            .map_err(|e| SinkError::Unreachable(format!("cannot connect: {e}")))?;
        let channel = connection.create_channel().await.map_err(|e| classify("cannot open a channel", e))?;
        channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| classify("confirm.select", e))?;
        let options = ExchangeDeclareOptions { durable: true, auto_delete: false, ..Default::default() };
        channel
            .exchange_declare(&self.settings.exchange, ExchangeKind::Topic, options, FieldTable::default())
            .await
            .map_err(|e| classify("cannot declare the exchange (a durable topic exchange)", e))?;
        self.open = Some((connection, channel));
        Ok(())
    }

    async fn send(&mut self, event: &Event) -> Result<(), SinkError> {
        let (_, channel) = self.open.as_ref().ok_or_else(|| SinkError::Unreachable("not connected".to_owned()))?;
        let properties = BasicProperties::default()
            .with_delivery_mode(PERSISTENT)
            .with_message_id(event.id.as_str().into())
            .with_content_type("application/json".into());
        let confirm = channel
            .basic_publish(
                &self.settings.exchange,
                event.kind.as_str(),
                BasicPublishOptions::default(),
                &event.body,
                properties,
            )
            .await
            .map_err(|e| classify("publish", e))?;
        match confirm.await.map_err(|e| classify("publisher confirm", e))? {
            Confirmation::Ack(_) => Ok(()),
            Confirmation::Nack(_) => Err(SinkError::Refused("the broker nacked the message".to_owned())),
            Confirmation::NotRequested => Err(SinkError::Refused("publisher confirms are off".to_owned())),
        }
    }

    fn reset(&mut self) {
        // Dropping closes nothing politely; the broker notices the socket go.
        self.open = None;
    }
}
