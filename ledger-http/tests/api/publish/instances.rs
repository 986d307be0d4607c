//! Two instances on one PostgreSQL database: one publishes each sink (the
//! lease); when it is SIGKILLed the other takes over and every committed
//! change, through either instance, still arrives in order.

use std::time::{Duration, Instant};

use ledger_sql::SqlStore;
use sqlx::Connection;

use super::receivers::WebhookReceiver;
use super::*;
use crate::common::Server;

/// `published_total` of `sink` on the instance at `base`.
async fn published(client: &reqwest::Client, base: &str, sink: &str) -> u64 {
    let Ok(response) = client.get(format!("{base}/metrics")).send().await else { return 0 };
    let text = response.text().await.unwrap_or_default();
    let prefix = format!("ledger_publish_published_total{{sink=\"{sink}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_the_publishing_instance_dies_the_other_takes_over() {
    let Some(url) = broker("LEDGER_TEST_POSTGRES_URL", "PostgreSQL two-instance") else { return };
    let run = unique();
    let database = format!("ledger_pub_{run}");
    let mut admin_conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {database}")).execute(&mut admin_conn).await.unwrap();
    let mut storage = reqwest::Url::parse(&url).unwrap();
    storage.set_path(&database);
    let storage = storage.to_string();

    let hook = WebhookReceiver::start(SECRET, 0).await;
    let sink = format!("webhook:{}", hook.url);
    let publish = [("LEDGER_PUBLISH_WEBHOOK", hook.url.clone())];
    let admin = format!("root{run}@example.com");
    let envs = envs(&storage, &admin, &publish);
    let first = Server::start(&[], &envs);
    let second = Server::start(&[], &envs);
    let people = customers(&first.url, &admin).await;

    // Load through both; find the publisher.
    let until = Instant::now() + Duration::from_secs(2);
    let (a, b) = tokio::join!(load(&first.url, &people, 2, until), load(&second.url, &people, 2, until));
    assert!(a.0 + b.0 > 10, "{a:?} {b:?}");
    let client = reqwest::Client::new();
    let mut servers = [Some(first), Some(second)];
    let deadline = Instant::now() + Duration::from_secs(20);
    let publisher = loop {
        let counts = [
            published(&client, &servers[0].as_ref().unwrap().url, &sink).await,
            published(&client, &servers[1].as_ref().unwrap().url, &sink).await,
        ];
        if counts.iter().any(|&n| n > 0) {
            assert!(counts.contains(&0), "both instances published: {counts:?}");
            break usize::from(counts[1] > 0);
        }
        assert!(Instant::now() < deadline, "nobody publishes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // SIGKILL the publisher mid-stream; commands go on through the other.
    drop(servers[publisher].take());
    let survivor = servers[1 - publisher].take().unwrap();
    let (ok, _) = load(&survivor.url, &people, 2, Instant::now() + Duration::from_secs(2)).await;
    assert!(ok > 5);
    // The lease expires (10 s) and the survivor takes the sink over.
    wait_caught_up(&survivor.url, std::slice::from_ref(&sink), Duration::from_secs(40)).await;
    assert!(published(&client, &survivor.url, &sink).await > 0, "the survivor never published");
    assert!(survivor.terminate().success());

    let store = SqlStore::connect(&storage).await.unwrap();
    let outbox = outbox(&store).await;
    drop(store);
    let repeats = assert_delivered("webhook", &hook.accepted(), &outbox, |_| "/hook".to_owned());
    eprintln!("two instances: {} events, {repeats} repeats", outbox.len());
    let drop_db = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
    sqlx::query(&drop_db).execute(&mut admin_conn).await.unwrap();
}
