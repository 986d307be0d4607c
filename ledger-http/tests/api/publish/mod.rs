//! Events out, end to end against the real binary and the real brokers:
//! under load and SIGKILLs every committed change reaches each sink, in
//! sequence order, repeats byte-identical, nothing else; a broker that is
//! down delays events and never slows a money command.
//!
//! NATS and RabbitMQ run when `LEDGER_TEST_NATS_URL` and
//! `LEDGER_TEST_AMQP_URL` name them (`.ci/run` sets both); the webhook
//! sink always runs.

mod crash;
mod instances;
mod outage;
mod proxy;
mod receivers;
mod startup;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ledger_core::{CHANGES_PAGE_MAX, Change, Store};
use ledger_http::publish::Event;
use serde_json::json;

use crate::common::{Client, PASSWORD, User, unique};
use receivers::Arrival;

pub const SECRET: &str = "whsec_outgoing";

/// The broker URL in `variable`, or a note that the broker's part is skipped.
pub fn broker(variable: &str, what: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: the {what} part (set {variable} to run it)");
            None
        }
    }
}

/// Every change the store holds, in sequence order.
pub async fn outbox(store: &dyn Store) -> Vec<Change> {
    let mut all: Vec<Change> = Vec::new();
    loop {
        let after = all.last().map_or(0, |c| c.sequence);
        let page = store.changes_after(after, CHANGES_PAGE_MAX).await.unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// Asserts what `sink` delivered is the outbox: deduplicated by event id
/// (first occurrence kept) exactly the outbox in sequence order, each body
/// the change's rendering, any repeat byte-identical, routed by its type.
/// Returns how many repeats there were.
pub fn assert_delivered(sink: &str, arrivals: &[Arrival], outbox: &[Change], route: impl Fn(&str) -> String) -> usize {
    let mut first: HashMap<&str, &Arrival> = HashMap::new();
    let mut order = Vec::new();
    for arrival in arrivals {
        match first.get(arrival.id.as_str()) {
            Some(earlier) => assert_eq!(earlier.body, arrival.body, "{sink}: a repeat of {} differs", arrival.id),
            None => {
                first.insert(&arrival.id, arrival);
                order.push(arrival);
            }
        }
    }
    let ids = |list: &[&Arrival]| list.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
    let expected: Vec<String> = outbox.iter().map(Change::event_id).collect();
    assert_eq!(ids(&order), expected, "{sink}: the first arrivals are not the outbox in order");
    for (arrival, change) in order.iter().zip(outbox) {
        let event = Event::render(change).unwrap();
        assert_eq!(arrival.body, event.body, "{sink}: {} is not the change as committed", arrival.id);
        assert_eq!(arrival.route, route(change.kind.as_str()), "{sink}: {} routed wrong", arrival.id);
    }
    arrivals.len() - order.len()
}

/// The sink's lag in events as `/metrics` shows it.
pub async fn lag(client: &reqwest::Client, base: &str, sink: &str) -> Option<u64> {
    let text = client.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
    let prefix = format!("ledger_publish_lag_events{{sink=\"{sink}\"}} ");
    text.lines().find_map(|line| line.strip_prefix(&prefix)).and_then(|n| n.trim().parse().ok())
}

/// Waits (at most `limit`) until every sink's lag is 0.
pub async fn wait_caught_up(base: &str, sinks: &[String], limit: Duration) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + limit;
    for sink in sinks {
        loop {
            if lag(&client, base, sink).await == Some(0) {
                break;
            }
            assert!(Instant::now() < deadline, "{sink} did not catch up within {limit:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Polls `condition` every 50 ms until it holds; panics after `limit`.
pub async fn eventually(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two verified customers with a USD account each: (user, account id, account number).
pub async fn customers(base: &str, admin: &str) -> Vec<(User, String, String)> {
    let client = Client::http(base, admin);
    let mut people = Vec::new();
    for name in ["payer", "payee"] {
        let user = client.user(&client.email(name)).await;
        client.verify(&user).await;
        let (id, number) = client.account(&user, "USD").await;
        people.push((user, id, number));
    }
    people
}

/// Money commands from `tasks` concurrent clients until `until` or until
/// the service stops answering: deposits, transfers both ways, holds
/// captured or voided. Returns the answers that were 2xx, and the slowest.
pub async fn load(base: &str, people: &[(User, String, String)], tasks: usize, until: Instant) -> (usize, Duration) {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let base = base.to_owned();
        let people = people.to_vec();
        handles.push(tokio::spawn(async move {
            let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
            let (mut ok, mut slowest) = (0, Duration::ZERO);
            let mut step = task;
            while Instant::now() < until {
                let (me, other) = (&people[step % 2], &people[(step + 1) % 2]);
                let started = Instant::now();
                let Ok(done) = operation(&http, &base, me, other, step).await else { break };
                slowest = slowest.max(started.elapsed());
                ok += usize::from(done);
                step += 1;
            }
            (ok, slowest)
        }));
    }
    let mut total = (0, Duration::ZERO);
    for handle in handles {
        let (ok, slowest) = handle.await.unwrap();
        total = (total.0 + ok, total.1.max(slowest));
    }
    total
}

/// One money command (two for a hold); `Err` when the service is gone.
async fn operation(
    http: &reqwest::Client,
    base: &str,
    (me, account, _): &(User, String, String),
    (_, _, to_number): &(User, String, String),
    step: usize,
) -> Result<bool, reqwest::Error> {
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{base}{path}")).bearer_auth(&me.token).header("idempotency-key", unique()).json(&body).send()
    };
    let response = match step % 4 {
        0 | 1 => post("/api/transactions/deposits", json!({"account_id": account, "amount": "5.00"})).await?,
        2 => {
            let body = json!({"from_account_id": account, "to_account_number": to_number, "amount": "1.25"});
            post("/api/transactions/transfers", body).await?
        }
        _ => {
            let placed = post("/api/holds", json!({"account_id": account, "amount": "0.50"})).await?;
            if !placed.status().is_success() {
                return Ok(false);
            }
            let hold: serde_json::Value = placed.json().await?;
            let id = hold["id"].as_str().unwrap_or_default().to_owned();
            let end = if step % 8 == 3 { "capture" } else { "void" };
            post(&format!("/api/holds/{id}/{end}"), json!({})).await?
        }
    };
    Ok(response.status().is_success())
}

/// The binary's environment: sled at `storage`, an admin, no rate limit,
/// and the publishing flags given.
pub fn envs<'a>(
    storage: &'a str,
    admin: &'a str,
    publish: &'a [(&'static str, String)],
) -> Vec<(&'static str, &'a str)> {
    let mut envs = vec![
        ("LEDGER_STORAGE", storage),
        ("LEDGER_BOOTSTRAP_ADMIN_EMAIL", admin),
        ("LEDGER_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD),
        ("LEDGER_RATE_LIMIT_PER_SECOND", "0"),
        ("LEDGER_PUBLISH_WEBHOOK_SECRET", SECRET),
    ];
    envs.extend(publish.iter().map(|(k, v)| (*k, v.as_str())));
    envs
}
