//! What the binary does: open the store, build the state, bootstrap the
//! admin, bind, print the address, serve until SIGTERM or Ctrl-C, let
//! in-flight requests finish, stop background work (the hold sweeper, the
//! event publishers), flush the store.

use std::io::Write;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use ledger_core::identity::HashParams;
use ledger_core::{Actor, GroupCommit, LedgerConfig, LedgerError, Registration};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::rate_limit::RateLimit;
use crate::state::{AppState, HttpSettings, StateError, WebhookSecret};
use crate::{app, storage};

/// How long publishers get to store their cursors at shutdown.
const PUBLISHERS_STOP_GRACE: Duration = Duration::from_secs(5);

/// Whether any admin exists. Users are read in id order (oldest first), so
/// an admin made at the first start is found on the first page; at most
/// `ADMIN_SCAN_PAGES` pages are read, and a store too large to tell is taken
/// to have one.
async fn any_admin(ledger: &ledger_core::Ledger) -> bool {
    const ADMIN_SCAN_PAGES: usize = 20;
    const PAGE: usize = 200;
    let mut after = None;
    for _ in 0..ADMIN_SCAN_PAGES {
        let Ok(users) = ledger.users(&ledger_core::Actor::System, after, PAGE).await else { return true };
        if users.iter().any(|user| user.role == ledger_core::identity::Role::Admin) {
            return true;
        }
        match users.last() {
            Some(last) if users.len() == PAGE => after = Some(last.id),
            _ => return false,
        }
    }
    true
}

/// Why the service stopped with an error.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store did not open or flush.
    #[error("storage: {0}")]
    Storage(#[from] ledger_core::StorageError),
    /// The state could not be built.
    #[error(transparent)]
    State(#[from] StateError),
    /// The bootstrap admin could not be created.
    #[error("cannot create the bootstrap admin: {0}")]
    Bootstrap(LedgerError),
    /// The publishing flags are wrong.
    #[error(transparent)]
    PublishSettings(#[from] crate::publish::SettingsError),
    /// A sink's broker contradicts its settings.
    #[error("publishing: {0}")]
    Publish(#[from] crate::publish::StartError),
    /// Binding or serving failed.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
}

/// Puts the read replica beside the primary (a build without PostgreSQL has none).
async fn open_read_replica(
    opened: storage::OpenedStore,
    primary: &storage::StorageUrl,
    replica: &storage::StorageUrl,
) -> Result<storage::OpenedStore, ServeError> {
    #[cfg(feature = "postgres")]
    {
        Ok(storage::with_read_replica(opened, primary, replica).await?)
    }
    #[cfg(not(feature = "postgres"))]
    {
        let _ = (opened, primary);
        Err(ServeError::Storage(ledger_core::StorageError::new(
            "storage",
            format!("--storage-read {replica}: this build has no PostgreSQL"),
        )))
    }
}

/// Runs the service until a shutdown signal.
pub async fn run(config: Config) -> Result<(), ServeError> {
    let publish = config.publish_settings()?;
    let url = config.storage_url();
    if config.storage.is_none() && matches!(url, storage::StorageUrl::Sled(_)) {
        tracing::warn!(
            "no --storage, and {} holds a sled database from an earlier version: serving it with sled \
             (pass --storage sled:{} to say so and silence this)",
            storage::EMBEDDED_DIR,
            storage::EMBEDDED_DIR
        );
    }
    tracing::info!(storage = %url, "opening storage");
    let mut opened = storage::open(&url, config.storage_options()).await?;
    if let Some(replica) = &config.storage_read {
        tracing::info!(replica = %replica, "history, statements and audit reads from a read replica");
        opened = open_read_replica(opened, &url, replica).await?;
    }
    let settings = HttpSettings {
        cookie_secure: config.cookie_secure,
        request_timeout: Duration::from_secs(config.request_timeout_secs),
        webhook_secret: config.webhook_secret.and_then(WebhookSecret::new),
        event_session_check: Duration::from_secs(config.event_session_check_secs.max(1)),
        dev_auto_approve_kyc: config.dev_auto_approve_kyc,
    };
    if settings.dev_auto_approve_kyc {
        tracing::warn!(
            "DEVELOPMENT MODE: --dev-auto-approve-kyc approves every KYC submission without review; never use it in production"
        );
    }
    if settings.webhook_secret.is_none() {
        tracing::info!("no LEDGER_WEBHOOK_SECRET: the transactions webhook answers 503");
    }
    let rate_limit = NonZeroU32::new(config.rate_limit_per_second).map(|per_second| RateLimit {
        per_second,
        burst: NonZeroU32::new(config.rate_limit_burst).unwrap_or(per_second),
    });
    let group_commit =
        GroupCommit::default().batches_max(config.group_commit_max).wait_micros(config.group_commit_wait_micros);
    let ledger_config = LedgerConfig::default().password_hash(HashParams::RECOMMENDED).group_commit(group_commit);
    let mut builder =
        AppState::builder(opened.store.clone()).ledger_config(ledger_config).settings(settings).rate_limit(rate_limit);
    if let Some(events) = opened.event_source().await? {
        tracing::info!("live events: PostgreSQL LISTEN/NOTIFY, shared by every instance on the database");
        builder = builder.events(events);
    }
    let state = builder.build().await?;
    if let (Some(email), Some(password)) = (config.bootstrap_admin_email, config.bootstrap_admin_password) {
        let admin = Registration { email, password, full_name: "Administrator".into() };
        let admin = state.ledger().bootstrap_admin(admin).await.map_err(ServeError::Bootstrap)?;
        tracing::info!(admin = %admin.email, "bootstrap admin present");
    }
    if !any_admin(state.ledger()).await {
        tracing::warn!(
            "no admin exists yet, so KYC submissions wait with nobody to review them: create one with \
             `ledger-http admin create --email you@example.com` (same --storage), start with \
             --bootstrap-admin-email/--bootstrap-admin-password, or, in development only, --dev-auto-approve-kyc"
        );
    }

    let publishing = crate::publish::start(&state, publish).await?;

    let listener = TcpListener::bind(config.bind).await?;
    let address = listener.local_addr()?;
    // Tests and scripts read this line to find the port.
    println!("listening on http://{address}");
    std::io::stdout().flush()?;
    tracing::info!(%address, "ready");

    let shutdown = state.shutdown().clone();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let sweeper = spawn_sweeper(state.clone(), Duration::from_secs(config.hold_sweep_secs.max(1)));

    let service = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let served = tokio::select! {
        served = server.into_future() => served,
        () = async { shutdown.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(?grace, "requests still running after the grace period; stopping anyway");
            Ok(())
        }
    };
    if let Err(error) = sweeper.await {
        tracing::warn!(%error, "the hold sweeper ended abnormally");
    }
    publishing.stopped(PUBLISHERS_STOP_GRACE).await;
    opened.flush().await?;
    tracing::info!("stopped; storage flushed");
    served.map_err(ServeError::Io)
}

/// Cancels `token` on Ctrl-C or SIGTERM.
async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
        () = token.cancelled() => {}
    }
    token.cancel();
}

/// Releases expired holds every `every` (and trims the rate limiter's
/// memory) until shutdown.
pub fn spawn_sweeper(state: AppState, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = state.shutdown().cancelled() => return,
                _ = ticks.tick() => {}
            }
            match state.ledger().expire_holds(&Actor::System).await {
                Ok(0) => {}
                Ok(released) => tracing::info!(released, "released expired holds"),
                Err(error) => tracing::warn!(%error, "hold expiry sweep failed"),
            }
            if let Some(limiter) = state.limiter() {
                limiter.forget_idle_clients();
            }
        }
    })
}
