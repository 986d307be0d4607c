//! Under concurrent money commands, with the service SIGKILLed and
//! restarted several times, every committed change arrives in each sink
//! (NATS JetStream, RabbitMQ, a webhook that sometimes answers 500), in
//! sequence order, repeats byte-identical, nothing that is not committed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger_core::Store;

use super::receivers::{AmqpQueue, WebhookReceiver, delete_nats_stream, nats_stream};
use super::*;
use crate::common::Server;

/// Restarts killed by SIGKILL mid-load.
const KILLS: usize = 3;
/// How long each run takes load before it is killed.
const RUN: Duration = Duration::from_millis(1500);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_committed_change_reaches_every_sink_in_order_across_sigkills() {
    let nats = broker("LEDGER_TEST_NATS_URL", "NATS JetStream");
    let amqp = broker("LEDGER_TEST_AMQP_URL", "RabbitMQ");
    let run = unique();
    let stream = format!("T{run}");
    let prefix = format!("t{run}");
    let exchange = format!("ledger-test-{run}");
    let queue = match &amqp {
        Some(url) => Some(AmqpQueue::bind(url, &exchange).await),
        None => None,
    };
    let hook = WebhookReceiver::start(SECRET, 25).await;

    let mut publish = vec![("LEDGER_PUBLISH_WEBHOOK", hook.url.clone())];
    let mut sinks = vec![format!("webhook:{}", hook.url)];
    if let Some(url) = &nats {
        publish.push(("LEDGER_PUBLISH_NATS", url.clone()));
        publish.push(("LEDGER_PUBLISH_NATS_STREAM", stream.clone()));
        publish.push(("LEDGER_PUBLISH_NATS_SUBJECT_PREFIX", prefix.clone()));
        sinks.push(format!("nats:{stream}"));
    }
    if let Some(url) = &amqp {
        publish.push(("LEDGER_PUBLISH_AMQP", url.clone()));
        publish.push(("LEDGER_PUBLISH_AMQP_EXCHANGE", exchange.clone()));
        sinks.push(format!("amqp:{exchange}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sled:{}", dir.path().join("data").display());
    let admin = format!("root{run}@example.com");
    let envs = envs(&storage, &admin, &publish);

    let mut people = None;
    let mut committed = 0;
    for _ in 0..KILLS {
        let server = Server::start(&[], &envs);
        let people = match &people {
            Some(people) => Arc::clone(people),
            None => Arc::clone(people.insert(Arc::new(customers(&server.url, &admin).await))),
        };
        let until = Instant::now() + RUN * 4;
        let load = tokio::spawn({
            let base = server.url.clone();
            async move { load(&base, &people, 4, until).await }
        });
        // Load for a while, then SIGKILL with commands and deliveries in flight.
        tokio::time::sleep(RUN).await;
        drop(server);
        let (ok, _) = load.await.unwrap();
        committed += ok;
    }
    assert!(committed > 20, "the load committed only {committed} commands");

    // A last run delivers what the killed ones left, then stops cleanly.
    let server = Server::start(&[], &envs);
    let started = Instant::now();
    wait_caught_up(&server.url, &sinks, Duration::from_secs(45)).await;
    eprintln!("caught up in {:?}", started.elapsed());
    assert!(server.terminate().success());

    let store = ledger_sled::SledStore::open(dir.path().join("data")).unwrap();
    let outbox = outbox(&store as &dyn Store).await;
    assert!(outbox.len() > committed, "{} changes for {committed} commands", outbox.len());

    let repeats = assert_delivered("webhook", &hook.accepted(), &outbox, |_| "/hook".to_owned());
    assert_eq!(hook.bad_signatures(), 0);
    assert!(hook.refused_on_purpose() > 0, "the receiver never forced a retry");
    eprintln!("webhook: {} events, {repeats} repeats, {} refused", outbox.len(), hook.refused_on_purpose());
    if let Some(url) = &nats {
        let arrivals = nats_stream(url, &stream).await;
        let repeats = assert_delivered("nats", &arrivals, &outbox, |kind| format!("{prefix}.{kind}"));
        // Nats-Msg-Id: JetStream kept each event once.
        assert_eq!(repeats, 0, "the stream holds repeats");
        delete_nats_stream(url, &stream).await;
    }
    if let Some(queue) = queue {
        eventually("every event in the queue", Duration::from_secs(10), || queue.arrivals().len() >= outbox.len())
            .await;
        let repeats = assert_delivered("amqp", &queue.arrivals(), &outbox, str::to_owned);
        eprintln!("amqp: {} events, {repeats} repeats", outbox.len());
        queue.delete().await;
    }
}
