//! Brokers and the webhook endpoint behind proxies the test stops: down at
//! start, back, gone mid-stream, back. Money commands succeed promptly
//! throughout, `/health` stays 200 and names the failing sinks, and every
//! event arrives once the sinks are back.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ledger_core::Store;
use reqwest::Url;
use serde_json::Value;

use super::proxy::Proxy;
use super::receivers::{AmqpQueue, WebhookReceiver, delete_nats_stream, nats_stream};
use super::*;
use crate::common::Server;

/// The slowest a money command may be while sinks are down.
const PROMPT: Duration = Duration::from_secs(2);

/// A proxy to the host and port of `url`, and `url` pointing at the proxy.
async fn proxied(url: &str) -> (Proxy, String) {
    let mut parsed = Url::parse(url).unwrap();
    let target: SocketAddr = parsed.socket_addrs(|| None).unwrap()[0];
    let proxy = Proxy::stopped(target).await;
    parsed.set_port(Some(proxy.address.port())).unwrap();
    parsed.set_host(Some("127.0.0.1")).unwrap();
    (proxy, parsed.to_string())
}

async fn health(base: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{base}/health")).await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sinks_that_are_down_delay_events_but_never_money_commands() {
    let nats = broker("LEDGER_TEST_NATS_URL", "NATS JetStream");
    let amqp = broker("LEDGER_TEST_AMQP_URL", "RabbitMQ");
    let run = unique();
    let (stream, prefix, exchange) = (format!("O{run}"), format!("o{run}"), format!("ledger-outage-{run}"));
    let hook = WebhookReceiver::start(SECRET, 0).await;
    let (hook_proxy, hook_url) = proxied(&hook.url).await;
    let mut proxies = vec![hook_proxy];
    let mut publish = vec![("LEDGER_PUBLISH_WEBHOOK", hook_url.clone())];
    let mut sinks = vec![format!("webhook:{hook_url}")];
    if let Some(url) = &nats {
        let (proxy, via) = proxied(url).await;
        proxies.push(proxy);
        publish.extend([
            ("LEDGER_PUBLISH_NATS", via),
            ("LEDGER_PUBLISH_NATS_STREAM", stream.clone()),
            ("LEDGER_PUBLISH_NATS_SUBJECT_PREFIX", prefix.clone()),
        ]);
        sinks.push(format!("nats:{stream}"));
    }
    let queue = match &amqp {
        Some(url) => {
            let (proxy, via) = proxied(url).await;
            proxies.push(proxy);
            publish.extend([("LEDGER_PUBLISH_AMQP", via), ("LEDGER_PUBLISH_AMQP_EXCHANGE", exchange.clone())]);
            sinks.push(format!("amqp:{exchange}"));
            Some(AmqpQueue::bind(url, &exchange).await)
        }
        None => None,
    };
    publish.push(("LEDGER_PUBLISH_DEGRADED_AFTER_SECS", "1".to_owned()));
    let dir = tempfile::tempdir().unwrap();
    let storage = format!("sled:{}", dir.path().join("data").display());
    let admin = format!("root{run}@example.com");
    let envs = envs(&storage, &admin, &publish);

    // Every sink is down at start: the service starts and serves anyway.
    let server = Server::start(&[], &envs);
    let people = customers(&server.url, &admin).await;
    let (ok, slowest) = load(&server.url, &people, 4, Instant::now() + Duration::from_secs(2)).await;
    assert!(ok > 10 && slowest < PROMPT, "{ok} commands, the slowest {slowest:?}");

    // Failing past the threshold: named in /health, which stays 200.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = health(&server.url).await;
        assert_eq!(status, 200, "{body}");
        let named: Vec<&str> =
            body["degraded_sinks"].as_array().unwrap().iter().filter_map(|s| s["sink"].as_str()).collect();
        if sinks.iter().all(|s| named.contains(&s.as_str())) {
            assert!(body["degraded_sinks"][0]["failing_since"].is_string(), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "not all sinks degraded: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = reqwest::get(format!("{}/metrics", server.url)).await.unwrap().text().await.unwrap();
    let client = reqwest::Client::new();
    for sink in &sinks {
        assert!(lag(&client, &server.url, sink).await.unwrap() > 0, "{sink} shows no lag");
        assert!(metrics.contains(&format!("ledger_publish_failures_total{{sink=\"{sink}\"}}")), "{metrics}");
        let seconds = format!("ledger_publish_lag_seconds{{sink=\"{sink}\"}} ");
        let lag_seconds: f64 = metrics.lines().find_map(|l| l.strip_prefix(&seconds)).unwrap().parse().unwrap();
        assert!(lag_seconds > 0.0, "{sink}: {lag_seconds}");
    }

    // Back: events flow; then gone again mid-stream, while commands go on.
    for proxy in &mut proxies {
        proxy.resume().await;
    }
    let loading = tokio::spawn({
        let (base, people) = (server.url.clone(), people.clone());
        async move { load(&base, &people, 4, Instant::now() + Duration::from_secs(4)).await }
    });
    eventually("the webhook receives again", Duration::from_secs(20), || !hook.accepted().is_empty()).await;
    for proxy in &mut proxies {
        proxy.stop().await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for proxy in &mut proxies {
        proxy.resume().await;
    }
    let (ok, slowest) = loading.await.unwrap();
    assert!(ok > 10 && slowest < PROMPT, "{ok} commands, the slowest {slowest:?}");

    wait_caught_up(&server.url, &sinks, Duration::from_secs(40)).await;
    let (status, body) = health(&server.url).await;
    assert_eq!((status, body["degraded_sinks"].as_array().map(Vec::len)), (200, Some(0)), "{body}");
    assert!(server.terminate().success());

    let store = ledger_sled::SledStore::open(dir.path().join("data")).unwrap();
    let outbox = outbox(&store as &dyn Store).await;
    assert_delivered("webhook", &hook.accepted(), &outbox, |_| "/hook".to_owned());
    assert_eq!(hook.bad_signatures(), 0);
    if let Some(url) = &nats {
        let repeats = assert_delivered("nats", &nats_stream(url, &stream).await, &outbox, |k| format!("{prefix}.{k}"));
        assert_eq!(repeats, 0, "the stream holds repeats");
        delete_nats_stream(url, &stream).await;
    }
    if let Some(queue) = queue {
        eventually("every event in the queue", Duration::from_secs(10), || queue.arrivals().len() >= outbox.len())
            .await;
        assert_delivered("amqp", &queue.arrivals(), &outbox, str::to_owned);
        queue.delete().await;
    }
}
