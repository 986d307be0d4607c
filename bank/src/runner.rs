//! One bank run from start to verdict: storage (and a throwaway PostgreSQL
//! server), the service instances, the customers, the clients and the
//! nemesis at the same time, then a clean restart, the reads, the store
//! opened directly, and the checker. Every process and file is torn down
//! on the way out, also on failure (drop guards).

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::checker::{self, Report};
use crate::client::Api;
use crate::cluster::Cluster;
use crate::error::BankError;
use crate::nemesis::{self, FaultCounts, Tally};
use crate::observed::Observed;
use crate::op::OpRecord;
use crate::options::{Backend, Options};
use crate::postgres::ThrowawayPostgres;
use crate::service::{self, Endpoint, Instance, ServiceSpec};
use crate::setup::{self, Customer};
use crate::store_evidence::{self, Location};
use crate::workload::{self, ClientContext};
use crate::{reader, setup::login};

/// The bootstrap admin's email.
const ADMIN_EMAIL: &str = "bank-admin@example.com";

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The storage driven.
    pub backend: Backend,
    /// The seed used.
    pub seed: u64,
    /// The checker's verdict.
    pub report: Report,
    /// What the nemesis did.
    pub tally: Tally,
    /// Where the logs and data were kept (`--keep`).
    pub kept: Option<std::path::PathBuf>,
    /// On a cluster: what the failovers cost.
    pub cluster: Option<ClusterFigures>,
}

/// What a cluster run measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClusterFigures {
    /// The longest time no client had a write acknowledged, in milliseconds
    /// (the longest gap between consecutive acknowledgements, any client).
    pub write_outage_max_ms: u64,
    /// The largest replication lag Patroni reported during the run, in bytes.
    pub replica_lag_max_bytes: u64,
    /// 500 answers to money requests (there should be none).
    pub server_errors: usize,
    /// 503 answers to money requests.
    pub unavailable: usize,
    /// 503 answers without `Retry-After`.
    pub unavailable_without_retry_after: usize,
}

/// Runs the bank test as the options say.
pub async fn run(options: &Options) -> Result<Summary, BankError> {
    validate(options)?;
    let seed = options.seed.unwrap_or_else(seed_from_clock);
    let binary = match &options.ledger_http {
        Some(path) => path.clone(),
        None => service::default_binary()?,
    };
    if !binary.exists() {
        return Err(BankError::BinaryMissing(binary));
    }
    let workdir =
        tempfile::Builder::new().prefix("ledger-bank-").tempdir().map_err(|e| BankError::io("temp dir", e))?;
    let cluster = match options.backend {
        Backend::Cluster => Some(Arc::new(Cluster::new(&options.cluster_nodes)?)),
        _ => None,
    };
    // Declared before the instances, so it is dropped (stopped) after them.
    let database = if options.backend.is_postgres() {
        let started = tokio::task::spawn_blocking(ThrowawayPostgres::start)
            .await
            .map_err(|e| BankError::Startup(format!("the PostgreSQL start task failed: {e}")))??;
        Some(Arc::new(started))
    } else {
        None
    };
    let (storage, location) = match (options.backend, &database) {
        (Backend::Sled, _) => {
            let path = workdir.path().join("data");
            (format!("sled:{}", path.display()), Location::Sled(path))
        }
        (Backend::Sqlite, _) => {
            let url = format!("sqlite:{}", workdir.path().join("ledger.db").display());
            (url.clone(), Location::Sql(url))
        }
        (Backend::Cluster, _) => {
            let url = fresh_cluster_database(options, seed, cluster.as_deref()).await?;
            (url.clone(), Location::Sql(url))
        }
        (_, Some(database)) => (database.url(), Location::Sql(database.url())),
        (_, None) => return Err(BankError::Options("PostgreSQL backend without a database".into())),
    };
    let read_url = match (&options.cluster_read_url, options.backend) {
        (Some(url), Backend::Cluster) => Some(with_database(url, &storage)?),
        _ => None,
    };
    let spec = |name: &str, read: bool| ServiceSpec {
        binary: binary.clone(),
        storage: storage.clone(),
        storage_read: read_url.clone().filter(|_| read),
        admin_email: ADMIN_EMAIL.to_owned(),
        log: workdir.path().join(format!("{name}.log")),
    };
    let mut instances = Vec::new();
    for index in 0..options.backend.instances(options.instances) {
        instances.push(Arc::new(Mutex::new(Instance::start(spec(&format!("ledger-http-{index}"), true)).await?)));
    }
    let mut endpoints = Vec::new();
    for instance in &instances {
        endpoints.push(instance.lock().await.endpoint());
    }

    let api = Api::new()?;
    let base = endpoints[0].url();
    let admin = login(&api, &base, ADMIN_EMAIL).await?;
    let run_id = format!("{seed:x}");
    let customers =
        Arc::new(setup::customers(&api, &base, &admin, &run_id, options.accounts, &options.currencies).await?);

    let context = ClientContext { api: api.clone(), endpoints, customers: customers.clone(), run: run_id, seed };
    let answers = api.clone();
    let (records, tally, lag) = drive(options, seed, context, &instances, database.clone(), cluster.clone()).await;
    let tally = tally?;
    let cluster_figures = cluster.as_ref().map(|_| {
        let counts = answers.answers();
        ClusterFigures {
            write_outage_max_ms: write_outage_max_ms(&records),
            replica_lag_max_bytes: lag,
            server_errors: counts.server_errors.load(std::sync::atomic::Ordering::Relaxed),
            unavailable: counts.unavailable.load(std::sync::atomic::Ordering::Relaxed),
            unavailable_without_retry_after: counts
                .unavailable_without_retry_after
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    });

    let mut stop_failures = Vec::new();
    for instance in &instances {
        let status = instance.lock().await.terminate().await?;
        if !status.success() {
            stop_failures.push(format!("an instance stopped by SIGTERM exited with {status}"));
        }
    }
    drop(instances);
    // The final read is from the primary only: exact, whatever a replica lags.
    let mut observed = observe_after_clean_restart(&api, spec("ledger-http-final", false), &customers).await?;
    let ops: Vec<_> = records.iter().map(|r| &r.op).collect();
    observed.store = Some(store_evidence::gather(&location, &ops).await?);

    let mut report = checker::check(&records, &observed);
    for failure in stop_failures {
        report.fail(failure);
    }
    if let Some(figures) = &cluster_figures {
        // Storage out of reach is a 503 with Retry-After (or a success after
        // an internal retry), never a 500.
        if figures.server_errors > 0 {
            report.fail(format!("{} money requests were answered 500 during the run", figures.server_errors));
        }
        if options.failovers > 0 && tally.failovers < options.failovers {
            report.fail(format!("{} of {} failovers happened", tally.failovers, options.failovers));
        }
    }
    let kept = options.keep.then(|| workdir.keep());
    Ok(Summary { backend: options.backend, seed, report, tally, kept, cluster: cluster_figures })
}

/// Clients and nemesis at once; every client finishes its last operation.
async fn drive(
    options: &Options,
    seed: u64,
    context: ClientContext,
    instances: &[Arc<Mutex<Instance>>],
    database: Option<Arc<ThrowawayPostgres>>,
    cluster: Option<Arc<Cluster>>,
) -> (Vec<OpRecord>, Result<Tally, BankError>, u64) {
    let run = Duration::from_secs(options.seconds);
    let counts = FaultCounts {
        instances: instances.len(),
        kills: options.kills,
        db_restarts: if database.is_some() { options.db_restarts } else { 0 },
        failovers: if cluster.is_some() { options.failovers } else { 0 },
    };
    let faults = nemesis::schedule(&mut StdRng::seed_from_u64(seed), run, counts);
    let start = Instant::now();
    let mut clients = JoinSet::new();
    for index in 0..options.clients {
        clients.spawn(workload::run_client(context.clone(), index, start + run));
    }
    let gather = async {
        let mut records = Vec::new();
        while let Some(joined) = clients.join_next().await {
            match joined {
                Ok(mut own) => records.append(&mut own),
                Err(error) => eprintln!("bank: a client task failed: {error}"),
            }
        }
        records
    };
    let (stop_sampling, stopped) = tokio::sync::watch::channel(false);
    let lag = sample_lag(cluster.clone(), stopped);
    let nemesis = nemesis::unleash(faults, start, instances, database, cluster);
    let work = async {
        let joined = tokio::join!(gather, nemesis);
        let _ = stop_sampling.send(true);
        joined
    };
    let ((records, tally), lag) = tokio::join!(work, lag);
    (records, tally, lag)
}

/// How often the replication lag is sampled, in milliseconds.
const LAG_SAMPLE_MILLIS: u64 = 250;

/// The largest replication lag the cluster reports until `stop` turns true.
async fn sample_lag(cluster: Option<Arc<Cluster>>, mut stop: tokio::sync::watch::Receiver<bool>) -> u64 {
    let Some(cluster) = cluster else { return 0 };
    let mut max = 0;
    while !*stop.borrow() {
        max = max.max(cluster.lag_bytes().await.unwrap_or(0));
        let _ = tokio::time::timeout(Duration::from_millis(LAG_SAMPLE_MILLIS), stop.changed()).await;
    }
    max
}

/// The longest gap between consecutive acknowledgements of any client, in
/// milliseconds: how long writes were refused (or hung) at worst.
fn write_outage_max_ms(records: &[OpRecord]) -> u64 {
    let mut acknowledged: Vec<_> = records.iter().filter_map(|r| r.acknowledged_at).collect();
    acknowledged.sort();
    let gap = acknowledged.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default();
    u64::try_from(gap.as_millis()).unwrap_or(u64::MAX)
}

/// Creates a database of its own for this run on the cluster (so runs on
/// one cluster never see each other's transactions) and returns its URL.
/// Waits (bounded) for a leader first: a cluster may still be electing.
async fn fresh_cluster_database(options: &Options, seed: u64, cluster: Option<&Cluster>) -> Result<String, BankError> {
    use sqlx::Connection;
    let url = options.cluster_url.clone().ok_or_else(|| BankError::Options("cluster needs --cluster-url".into()))?;
    if let Some(cluster) = cluster {
        cluster.wait_for_leader(None).await?;
    }
    let name = format!("bank_{seed:x}");
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .map_err(|e| BankError::Cluster(format!("connecting to the primary: {e}")))?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .map_err(|e| BankError::Cluster(format!("creating database {name}: {e}")))?;
    let _ = conn.close().await;
    with_database(&url, &format!("/{name}"))
}

/// `url` with the database path of `other` (`postgres://h:p/db`).
fn with_database(url: &str, other: &str) -> Result<String, BankError> {
    let database = other.rsplit_once('/').map(|(_, db)| db).unwrap_or_default();
    let (base, _) = url.rsplit_once('/').ok_or_else(|| BankError::Options(format!("no database in {url}")))?;
    if database.is_empty() || base.ends_with('/') {
        return Err(BankError::Options(format!("no database in {url} or {other}")));
    }
    Ok(format!("{base}/{database}"))
}

/// Starts one fresh instance on the same storage, reads everything as the
/// admin, and stops it again with SIGTERM.
async fn observe_after_clean_restart(
    api: &Api,
    spec: ServiceSpec,
    customers: &[Customer],
) -> Result<Observed, BankError> {
    let mut instance = Instance::start(spec).await?;
    let base = Endpoint::url(&instance.endpoint());
    let read = async {
        let admin = login(api, &base, ADMIN_EMAIL).await?;
        reader::read(api, &base, &admin, customers).await
    }
    .await;
    let stopped = instance.terminate().await;
    let view = read?;
    let status = stopped?;
    let audit_over_http =
        if status.success() { view.audit } else { Err(format!("the final instance exited with {status} on SIGTERM")) };
    Ok(Observed {
        accounts: view.accounts,
        transactions: view.transactions,
        account_history: view.account_history,
        audit_over_http,
        store: None,
    })
}

fn validate(options: &Options) -> Result<(), BankError> {
    if options.clients == 0 || options.accounts < 2 || options.currencies.is_empty() {
        return Err(BankError::Options("need at least 1 client, 2 accounts and 1 currency".into()));
    }
    Ok(())
}

fn seed_from_clock() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(now.as_nanos() % u128::from(u64::MAX)).unwrap_or_default()
}
