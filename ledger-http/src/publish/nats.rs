//! NATS JetStream: each event to `<prefix>.<type>` with `Nats-Msg-Id:
//! <event_id>`, so JetStream drops a re-send within the stream's duplicate
//! window; delivered once the stream's ack arrives.

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};

use super::event::Event;
use super::settings::NatsSettings;
use super::sink::{Sink, SinkError};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long JetStream requests (stream info, a publish's ack) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The JetStream sink.
pub struct NatsSink {
    settings: NatsSettings,
    name: String,
    context: Option<jetstream::Context>,
}

impl NatsSink {
    /// A sink that connects on first use.
    pub fn new(settings: NatsSettings) -> NatsSink {
        let name = format!("nats:{}", settings.stream);
        NatsSink { settings, name, context: None }
    }

    fn subjects(&self) -> Vec<String> {
        vec![format!("{}.>", self.settings.subject_prefix)]
    }

    /// Finds the stream, or creates it; one that exists with other subjects
    /// is an operator's decision we do not override.
    async fn ensure_stream(&self, context: &jetstream::Context) -> Result<(), SinkError> {
        let wanted = self.subjects();
        match context.get_stream(&self.settings.stream).await {
            Ok(stream) => {
                let subjects = &stream.cached_info().config.subjects;
                if *subjects == wanted {
                    Ok(())
                } else {
                    Err(SinkError::Misconfigured(format!(
                        "the JetStream stream {} exists with subjects {subjects:?}, not {wanted:?}; \
                         pick another --publish-nats-stream or change the stream",
                        self.settings.stream
                    )))
                }
            }
            Err(error) => match error.kind() {
                jetstream::context::GetStreamErrorKind::JetStream(js)
                    if js.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
                {
                    let config = stream::Config {
                        name: self.settings.stream.clone(),
                        subjects: wanted,
                        storage: stream::StorageType::File,
                        ..Default::default()
                    };
                    context.create_stream(config).await.map(drop).map_err(|e| match e.kind() {
                        jetstream::context::CreateStreamErrorKind::JetStream(js) => {
                            SinkError::Misconfigured(format!("cannot create the stream: {js}"))
                        }
                        _ => SinkError::Unreachable(format!("cannot create the stream: {e}")),
                    })
                }
                jetstream::context::GetStreamErrorKind::JetStream(js) => {
                    Err(SinkError::Misconfigured(format!("cannot read the stream: {js}")))
                }
                _ => Err(SinkError::Unreachable(format!("cannot read the stream: {error}"))),
            },
        }
    }
}

impl Sink for NatsSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn prepare(&mut self) -> Result<(), SinkError> {
        if self.context.is_some() {
            return Ok(());
        }
        // No reconnecting inside the client: a failed delivery resets the
        // sink and the publisher's backoff decides when to try again.
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(CONNECT_TIMEOUT)
            .max_reconnects(Some(1))
            .connect(self.settings.url.as_str())
            .await
            .map_err(|e| SinkError::Unreachable(e.to_string()))?;
        let mut context = jetstream::new(client);
        context.set_timeout(REQUEST_TIMEOUT);
        self.ensure_stream(&context).await?;
        self.context = Some(context);
        Ok(())
    }

    async fn send(&mut self, event: &Event) -> Result<(), SinkError> {
        let context = self.context.as_ref().ok_or_else(|| SinkError::Unreachable("not connected".to_owned()))?;
        let subject = format!("{}.{}", self.settings.subject_prefix, event.kind.as_str());
        let message = PublishMessage::build().payload(event.body.clone()).message_id(&event.id);
        let ack = context
            .send_publish(subject, message)
            .await
            .map_err(|e| SinkError::Unreachable(e.to_string()))?
            .await
            .map_err(|e| SinkError::Refused(e.to_string()))?;
        if ack.stream != self.settings.stream {
            // Another stream also captures our subjects and took the message.
            return Err(SinkError::Misconfigured(format!("stream {} acknowledged, not ours", ack.stream)));
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.context = None;
    }
}
