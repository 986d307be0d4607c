//! What stops the start: publishing flags that cannot work, and a broker
//! whose set-up contradicts ours (a stream with other subjects, an exchange
//! of another kind). The binary exits non-zero and says why.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use lapin::options::ExchangeDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties, ExchangeKind};

use super::*;

/// Runs the binary on a memory store with `envs`; asserts it exits with
/// an error within 20 s and returns what it wrote to stderr.
fn refused_start(envs: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ledger-http"));
    command.args(["--bind", "127.0.0.1:0", "--storage", "memory:"]).stdout(Stdio::null()).stderr(Stdio::piped());
    for (key, value) in envs {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the binary started although it should have refused");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    stderr
}

#[test]
fn bad_publishing_flags_stop_the_start() {
    let stderr =
        refused_start(&[("LEDGER_PUBLISH_WEBHOOK", "http://example.com/hook"), ("LEDGER_PUBLISH_WEBHOOK_SECRET", "s")]);
    assert!(stderr.contains("http only to a loopback address"), "{stderr}");
    let stderr = refused_start(&[("LEDGER_PUBLISH_WEBHOOK", "https://example.com/hook")]);
    assert!(stderr.contains("--publish-webhook-secret"), "{stderr}");
    let stderr =
        refused_start(&[("LEDGER_PUBLISH_NATS", "nats://127.0.0.1:4222"), ("LEDGER_PUBLISH_NATS_STREAM", "a.b")]);
    assert!(stderr.contains("--publish-nats-stream"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_with_other_subjects_stops_the_start() {
    let Some(url) = broker("LEDGER_TEST_NATS_URL", "NATS JetStream") else { return };
    let stream = format!("S{}", unique());
    let context = jetstream::new(async_nats::connect(url.as_str()).await.unwrap());
    let config = jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("other{stream}.>")],
        ..Default::default()
    };
    context.create_stream(config).await.unwrap();
    let (u, s) = (url.clone(), stream.clone());
    let stderr = tokio::task::spawn_blocking(move || {
        refused_start(&[("LEDGER_PUBLISH_NATS", u.as_str()), ("LEDGER_PUBLISH_NATS_STREAM", s.as_str())])
    })
    .await;
    let _ = context.delete_stream(&stream).await;
    let stderr = stderr.unwrap();
    assert!(stderr.contains(&format!("the JetStream stream {stream} exists with subjects")), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_of_another_kind_stops_the_start() {
    let Some(url) = broker("LEDGER_TEST_AMQP_URL", "RabbitMQ") else { return };
    let exchange = format!("ledger-fanout-{}", unique());
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio);
    let connection = Connection::connect(&url, properties).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let options = ExchangeDeclareOptions { durable: true, ..Default::default() };
    channel.exchange_declare(&exchange, ExchangeKind::Fanout, options, FieldTable::default()).await.unwrap();
    let (u, e) = (url.clone(), exchange.clone());
    let stderr = tokio::task::spawn_blocking(move || {
        refused_start(&[("LEDGER_PUBLISH_AMQP", u.as_str()), ("LEDGER_PUBLISH_AMQP_EXCHANGE", e.as_str())])
    })
    .await;
    let _ = channel.exchange_delete(&exchange, Default::default()).await;
    let stderr = stderr.unwrap();
    assert!(stderr.contains("misconfigured") && stderr.contains("PRECONDITION"), "{stderr}");
}
