//! The far ends of the sinks, as a consumer would run them: a JetStream
//! stream read back message by message, an exclusive RabbitMQ queue bound
//! to the exchange, and a webhook endpoint that verifies every signature
//! and fails some requests on purpose.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_nats::jetstream;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use lapin::options::{BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};
use sha2::Sha256;

/// One message as a sink delivered it: its id as the transport carried it
/// (Nats-Msg-Id, message_id, the body's `event_id`), its routing (subject,
/// routing key, path) and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub id: String,
    pub route: String,
    pub body: Bytes,
}

/// Everything the stream `name` holds, in stream order.
pub async fn nats_stream(url: &str, name: &str) -> Vec<Arrival> {
    let client = async_nats::connect(url).await.unwrap();
    let context = jetstream::new(client);
    let mut stream = context.get_stream(name).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut arrivals = Vec::new();
    for sequence in 1..=last {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let id = message.headers.get(async_nats::header::NATS_MESSAGE_ID).map(|v| v.as_str().to_owned());
        let id = id.unwrap_or_else(|| format!("no Nats-Msg-Id, {:?}", message.headers));
        arrivals.push(Arrival { id, route: message.subject.to_string(), body: message.payload });
    }
    arrivals
}

/// Deletes a test's stream.
pub async fn delete_nats_stream(url: &str, name: &str) {
    let client = async_nats::connect(url).await.unwrap();
    let _ = jetstream::new(client).delete_stream(name).await;
}

/// An exclusive queue bound with `#` to the test's exchange (declared as
/// the service declares it), collecting every delivery.
pub struct AmqpQueue {
    connection: Connection,
    exchange: String,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

impl AmqpQueue {
    /// Declares the exchange and binds the queue before the service runs, so
    /// nothing published is routed nowhere.
    pub async fn bind(url: &str, exchange: &str) -> AmqpQueue {
        let properties = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio);
        let connection = Connection::connect(url, properties).await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        let options = ExchangeDeclareOptions { durable: true, auto_delete: false, ..Default::default() };
        channel.exchange_declare(exchange, ExchangeKind::Topic, options, FieldTable::default()).await.unwrap();
        let queue_options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
        let queue = channel.queue_declare("", queue_options, FieldTable::default()).await.unwrap();
        let queue = queue.name().as_str().to_owned();
        channel.queue_bind(&queue, exchange, "#", QueueBindOptions::default(), FieldTable::default()).await.unwrap();
        let consume = BasicConsumeOptions { no_ack: true, exclusive: true, ..Default::default() };
        let mut consumer = channel.basic_consume(&queue, "test", consume, FieldTable::default()).await.unwrap();
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let sink = arrivals.clone();
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let id = delivery.properties.message_id().as_ref().map(|s| s.as_str().to_owned()).unwrap_or_default();
                let persistent = *delivery.properties.delivery_mode() == Some(2);
                let id = if persistent { id } else { format!("NOT PERSISTENT {id}") };
                let route = delivery.routing_key.as_str().to_owned();
                sink.lock().unwrap().push(Arrival { id, route, body: Bytes::from(delivery.data) });
            }
        });
        AmqpQueue { connection, exchange: exchange.to_owned(), arrivals }
    }

    /// What arrived so far, in arrival order.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().unwrap().clone()
    }

    /// Deletes the test's exchange and closes.
    pub async fn delete(self) {
        if let Ok(channel) = self.connection.create_channel().await {
            let _ = channel.exchange_delete(&self.exchange, Default::default()).await;
        }
        let _ = self.connection.close(200, "done").await;
    }
}

/// A webhook endpoint on 127.0.0.1: verifies each request's signature
/// (independently of the service's code), answers 500 to every
/// `fail_every`-th request (0: never) and records what it accepted.
pub struct WebhookReceiver {
    pub url: String,
    state: Arc<Receiver>,
}

struct Receiver {
    secret: Vec<u8>,
    fail_every: u64,
    requests: AtomicU64,
    bad_signatures: AtomicU64,
    accepted: Mutex<Vec<Arrival>>,
}

impl WebhookReceiver {
    pub async fn start(secret: &str, fail_every: u64) -> WebhookReceiver {
        let state = Arc::new(Receiver {
            secret: secret.as_bytes().to_vec(),
            fail_every,
            requests: AtomicU64::new(0),
            bad_signatures: AtomicU64::new(0),
            accepted: Mutex::new(Vec::new()),
        });
        let handler_state = state.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = handler_state.clone();
                async move { state.receive(&headers, body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        WebhookReceiver { url: format!("http://{address}/hook"), state }
    }

    /// The requests it accepted (2xx), in order.
    pub fn accepted(&self) -> Vec<Arrival> {
        self.state.accepted.lock().unwrap().clone()
    }

    /// Requests it answered 500 on purpose.
    pub fn refused_on_purpose(&self) -> u64 {
        let requests = self.state.requests.load(Ordering::SeqCst);
        requests.checked_div(self.state.fail_every).unwrap_or(0)
    }

    /// Requests whose signature did not verify.
    pub fn bad_signatures(&self) -> u64 {
        self.state.bad_signatures.load(Ordering::SeqCst)
    }
}

impl Receiver {
    fn receive(&self, headers: &HeaderMap, body: Bytes) -> StatusCode {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let signature = headers.get("ledger-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let json = headers.get("content-type").is_some_and(|v| v == "application/json");
        if !json || !verify(&self.secret, signature, &body) {
            self.bad_signatures.fetch_add(1, Ordering::SeqCst);
            return StatusCode::UNAUTHORIZED;
        }
        if self.fail_every != 0 && n % self.fail_every == 0 {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        let id = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["event_id"].as_str().map(str::to_owned))
            .unwrap_or_default();
        self.accepted.lock().unwrap().push(Arrival { id, route: "/hook".to_owned(), body });
        StatusCode::NO_CONTENT
    }
}

/// `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, within five minutes.
fn verify(secret: &[u8], header: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header.split_once(',') else { return false };
    let (Some(t), Some(v1)) = (t.strip_prefix("t="), v1.strip_prefix("v1=")) else { return false };
    let Ok(seconds) = t.parse::<i64>() else { return false };
    if (chrono::Utc::now().timestamp() - seconds).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::decode(v1).is_ok_and(|given| mac.verify_slice(&given).is_ok())
}
