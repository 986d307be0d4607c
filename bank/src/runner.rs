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
use crate::error::BankError;
use crate::nemesis::{self, Tally};
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
        (_, Some(database)) => (database.url(), Location::Sql(database.url())),
        (_, None) => return Err(BankError::Options("PostgreSQL backend without a database".into())),
    };
    let spec = |name: &str| ServiceSpec {
        binary: binary.clone(),
        storage: storage.clone(),
        admin_email: ADMIN_EMAIL.to_owned(),
        log: workdir.path().join(format!("{name}.log")),
    };
    let mut instances = Vec::new();
    for index in 0..options.backend.instances() {
        instances.push(Arc::new(Mutex::new(Instance::start(spec(&format!("ledger-http-{index}"))).await?)));
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
    let (records, tally) = drive(options, seed, context, &instances, database.clone()).await;
    let tally = tally?;

    let mut stop_failures = Vec::new();
    for instance in &instances {
        let status = instance.lock().await.terminate().await?;
        if !status.success() {
            stop_failures.push(format!("an instance stopped by SIGTERM exited with {status}"));
        }
    }
    drop(instances);
    let mut observed = observe_after_clean_restart(&api, spec("ledger-http-final"), &customers).await?;
    let ops: Vec<_> = records.iter().map(|r| &r.op).collect();
    observed.store = Some(store_evidence::gather(&location, &ops).await?);

    let mut report = checker::check(&records, &observed);
    for failure in stop_failures {
        report.fail(failure);
    }
    let kept = options.keep.then(|| workdir.keep());
    Ok(Summary { backend: options.backend, seed, report, tally, kept })
}

/// Clients and nemesis at once; every client finishes its last operation.
async fn drive(
    options: &Options,
    seed: u64,
    context: ClientContext,
    instances: &[Arc<Mutex<Instance>>],
    database: Option<Arc<ThrowawayPostgres>>,
) -> (Vec<OpRecord>, Result<Tally, BankError>) {
    let run = Duration::from_secs(options.seconds);
    let db_restarts = if database.is_some() { options.db_restarts } else { 0 };
    let faults = nemesis::schedule(&mut StdRng::seed_from_u64(seed), run, instances.len(), options.kills, db_restarts);
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
    tokio::join!(gather, nemesis::unleash(faults, start, instances, database))
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
