//! The load run: set-up, N clients for S seconds, memory samples, report.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::api::{Api, LoadUser};
use super::rss::{self, RssSample};
use super::{HttpArgs, SpawnedServer};
use crate::BenchError;
use crate::latency::{Latency, Recorder};
use crate::report::Machine;

/// What each user's account is funded with.
const FUNDING: &str = "1000000.00";
/// What each load transfer moves.
const LOAD_TRANSFER: &str = "0.01";
/// Users set up concurrently (registration hashes a password: slow on purpose).
const SETUP_CONCURRENCY: usize = 4;

/// Results of one request kind.
#[derive(Debug, Clone, Serialize)]
pub struct KindStats {
    /// `balance` or `transfer`.
    pub kind: &'static str,
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests answered otherwise, or failed.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
    /// 2xx requests per second.
    pub per_second: f64,
    /// Latency of 2xx requests.
    pub latency: Latency,
}

/// What a load run measured.
#[derive(Debug, Clone, Serialize)]
pub struct HttpReport {
    /// Where.
    pub machine: Machine,
    /// The service's URL.
    pub url: String,
    /// Clients, users, seconds, read share.
    pub settings: serde_json::Value,
    /// The measured time.
    pub seconds: f64,
    /// All 2xx requests per second.
    pub requests_per_second: f64,
    /// Per request kind.
    pub kinds: Vec<KindStats>,
    /// The server's memory over the run (empty without a pid).
    pub rss: Vec<RssSample>,
}

impl HttpReport {
    /// The results as markdown.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "{:.0} requests/s over {:.1} s against {}\n\n| request | ok | errors | per second | p50 ms | p99 ms | p99.9 ms |\n|---|---:|---:|---:|---:|---:|---:|\n",
            self.requests_per_second, self.seconds, self.url
        );
        let ms = |m: u64| m as f64 / 1000.0;
        for k in &self.kinds {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
                k.kind,
                k.ok,
                k.errors,
                k.per_second,
                ms(k.latency.p50_micros),
                ms(k.latency.p99_micros),
                ms(k.latency.p999_micros)
            );
        }
        if let (Some(first), Some(last)) = (self.rss.first(), self.rss.last()) {
            let middle = self.rss[self.rss.len() / 2];
            let _ = writeln!(
                out,
                "\nserver RSS (KiB) start {} / middle {} / end {}; peak (VmHWM) {} at start, {} at the end",
                first.rss_kib, middle.rss_kib, last.rss_kib, first.hwm_kib, last.hwm_kib
            );
        }
        out
    }
}

#[derive(Default)]
struct Tally {
    recorder: Recorder,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.recorder.merge(&other.recorder);
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
    }

    fn note(&mut self, began: Instant, outcome: Result<reqwest::StatusCode, BenchError>) {
        match outcome {
            Ok(status) if status.is_success() => self.recorder.record(began.elapsed()),
            Ok(status) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| format!("HTTP {status}"));
            }
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert_with(|| error.to_string());
            }
        }
    }

    fn stats(self, kind: &'static str, seconds: f64) -> KindStats {
        KindStats {
            kind,
            ok: self.recorder.len(),
            errors: self.errors,
            first_error: self.first_error,
            per_second: self.recorder.len() as f64 / seconds,
            latency: self.recorder.summary(),
        }
    }
}

/// Runs the load the options describe; `log` hears progress lines.
pub async fn run(args: &HttpArgs, log: &mut dyn FnMut(&str)) -> Result<HttpReport, BenchError> {
    let spawned = match &args.url {
        Some(_) => None,
        None => Some(SpawnedServer::ledger(args, &args.storage()).await?),
    };
    let url = args.url.clone().or_else(|| spawned.as_ref().map(|s| s.url.clone())).unwrap_or_default();
    let pid = args.pid.or_else(|| spawned.as_ref().map(|s| s.pid));
    log(&format!("target {url} (pid {pid:?}); setting up {} users", args.users));
    let result = load(args, &url, pid, log).await;
    if let Some(server) = spawned {
        server.stop().await;
    }
    result
}

async fn load(
    args: &HttpArgs,
    url: &str,
    pid: Option<u32>,
    log: &mut dyn FnMut(&str),
) -> Result<HttpReport, BenchError> {
    let api = Api::new(url, args.clients)?;
    let users = Arc::new(set_up(&api, args).await?);
    log(&format!("{} users funded; loading with {} clients for {} s", users.len(), args.clients, args.seconds));
    let phase =
        Phase { clients: args.clients, seconds: args.seconds, read_percent: args.read_percent, rate: args.rate };
    let sampled = pid.map(|pid| (pid, args.rss_interval_seconds));
    let measured = measure(&api, &users, &phase, args.seed, sampled).await?;
    Ok(HttpReport {
        machine: Machine::detect(),
        url: url.to_owned(),
        settings: serde_json::json!({
            "clients": args.clients, "users": args.users, "seconds": args.seconds,
            "read_percent": args.read_percent, "rate": args.rate, "seed": args.seed, "storage": args.storage(),
        }),
        seconds: measured.seconds,
        requests_per_second: measured.requests_per_second(),
        kinds: measured.kinds,
        rss: measured.rss,
    })
}

/// One stretch of load: how many clients, how long, what mix, how fast.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// Concurrent clients, each with one request in flight.
    pub clients: usize,
    /// Measured seconds.
    pub seconds: f64,
    /// Percentage of balance reads (the rest are transfers).
    pub read_percent: u8,
    /// Requests per second over all clients (open loop: each client sends
    /// on a fixed schedule and a request's latency counts from when it was
    /// due), or as fast as answers come (`None`: closed loop).
    pub rate: Option<f64>,
}

/// What one phase measured.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    /// The measured time.
    pub seconds: f64,
    /// Balance reads, then transfers.
    pub kinds: Vec<KindStats>,
    /// The server's memory over the phase (empty without a pid).
    pub rss: Vec<RssSample>,
}

impl Measured {
    /// All 2xx requests per second.
    pub fn requests_per_second(&self) -> f64 {
        self.kinds.iter().map(|k| k.per_second).sum()
    }

    /// The stats of one request kind (`balance` or `transfer`).
    pub fn kind(&self, kind: &str) -> Option<&KindStats> {
        self.kinds.iter().find(|k| k.kind == kind)
    }
}

/// Runs one phase of load against `api` with funded `users`; samples the
/// memory of `sampled`'s process every so many seconds.
pub async fn measure(
    api: &Api,
    users: &Arc<Vec<LoadUser>>,
    phase: &Phase,
    seed: u64,
    sampled: Option<(u32, f64)>,
) -> Result<Measured, BenchError> {
    let duration = Duration::from_secs_f64(phase.seconds.max(0.01));
    let started = Instant::now();
    let end = started + duration;
    let sampler = sampled.map(|(pid, every)| tokio::spawn(sample_rss(pid, started, end, every)));
    let clients = phase.clients.max(1);
    // Every phase its own idempotency keys: a key sent again would be a
    // replay, answered from the record without a write.
    let run = uuid::Uuid::now_v7().simple().to_string();
    // Each client's share of an open-loop rate, as the time between its sends.
    let interval = phase
        .rate
        .filter(|rate| *rate > 0.0 && rate.is_finite())
        .map(|rate| Duration::from_secs_f64(clients as f64 / rate));
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (api, users) = (api.clone(), users.clone());
        let (seed, read_percent) = (seed.wrapping_add(client as u64), phase.read_percent.min(100));
        // Clients' schedules are staggered over one interval.
        let schedule = interval.map(|every| (started + every.mul_f64(client as f64 / clients as f64), every));
        let setup = ClientSetup { client, seed, read_percent, schedule, end, keys: format!("load-{run}-{client}") };
        tasks.push(tokio::spawn(async move { client_loop(api, users, setup).await }));
    }
    let (mut reads, mut writes) = (Tally::default(), Tally::default());
    for task in tasks {
        let (r, w) = task.await.map_err(|e| BenchError::Http(format!("a client task failed: {e}")))?;
        reads.add(r);
        writes.add(w);
    }
    let seconds = started.elapsed().as_secs_f64();
    let rss = match sampler {
        Some(task) => task.await.map_err(|e| BenchError::Http(format!("the sampler failed: {e}")))?,
        None => Vec::new(),
    };
    Ok(Measured { seconds, kinds: vec![reads.stats("balance", seconds), writes.stats("transfer", seconds)], rss })
}

/// Registers, verifies and funds `args.users` users, a few at a time.
pub(super) async fn set_up(api: &Api, args: &HttpArgs) -> Result<Vec<LoadUser>, BenchError> {
    use futures::{StreamExt, TryStreamExt};
    let (admin, _) = api.login(&args.admin_email, &args.admin_password).await?;
    let run = uuid::Uuid::now_v7().simple().to_string();
    let new_user = |i: usize| {
        let (api, admin, run) = (api.clone(), admin.clone(), run.clone());
        let secret = args.webhook_secret.clone();
        async move {
            let user = api.new_user(&format!("load-{run}-{i}@example.com"), &admin).await?;
            api.webhook_deposit(&secret, &format!("load-{run}-{i}"), &user.number, FUNDING).await?;
            Ok::<LoadUser, BenchError>(user)
        }
    };
    futures::stream::iter(0..args.users.max(2)).map(new_user).buffered(SETUP_CONCURRENCY).try_collect().await
}

/// What one client task does.
struct ClientSetup {
    client: usize,
    seed: u64,
    read_percent: u8,
    /// Open loop: its first send and the time between sends.
    schedule: Option<(Instant, Duration)>,
    end: Instant,
    /// The prefix of its idempotency keys.
    keys: String,
}

async fn client_loop(api: Api, users: Arc<Vec<LoadUser>>, setup: ClientSetup) -> (Tally, Tally) {
    let ClientSetup { client, seed, read_percent, schedule, end, keys } = setup;
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut reads, mut writes) = (Tally::default(), Tally::default());
    let me = &users[client % users.len()];
    let mut n = 0u64;
    loop {
        // Open loop: the request is due at its slot, and its latency counts
        // from then, so a slow answer that delays the next send is charged.
        let began = match schedule {
            Some((first, every)) => {
                let due = first + every.mul_f64(n as f64);
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => Instant::now(),
        };
        if began >= end {
            break;
        }
        n += 1;
        if rng.random_range(0..100u8) < read_percent {
            reads.note(began, api.balance(me).await);
        } else {
            let to = &users[(client + 1 + rng.random_range(0..users.len() - 1)) % users.len()];
            let key = format!("{keys}-{n}");
            writes.note(began, api.transfer(me, &to.number, LOAD_TRANSFER, &key).await);
        }
    }
    (reads, writes)
}

async fn sample_rss(pid: u32, started: Instant, end: Instant, interval_seconds: f64) -> Vec<RssSample> {
    let interval = Duration::from_secs_f64(interval_seconds.max(0.05));
    let mut samples = Vec::new();
    loop {
        if let Some((rss_kib, hwm_kib)) = rss::read(pid) {
            let at_millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            samples.push(RssSample { at_millis, rss_kib, hwm_kib });
        }
        if Instant::now() >= end {
            return samples;
        }
        tokio::time::sleep(interval.min(end.saturating_duration_since(Instant::now()))).await;
    }
}
