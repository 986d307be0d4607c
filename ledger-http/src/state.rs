//! What every handler shares: the ledger, the event source, metrics,
//! settings and the shutdown signal.

use std::sync::Arc;
use std::time::Duration;

use ledger_core::identity::{HashParams, Notifier};
use ledger_core::{Clock, Ledger, LedgerConfig, LedgerError, Store, UserId};
use tokio_util::sync::CancellationToken;

use crate::events::{EventSource, LocalEvents};
use crate::metrics::Metrics;
use crate::publish::Sinks;
use crate::rate_limit::{Limiter, PayeeLookups, RateLimit};

/// The request timeout when none is configured.
pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);

/// How often an open event stream re-checks its session by default.
pub const EVENT_SESSION_CHECK_DEFAULT: Duration = Duration::from_secs(30);

/// How many profile changes an event stream may fall behind before it
/// misses some (it then learns of the next one at its session check).
const USER_CHANGES_CAPACITY: usize = 256;

/// HTTP-level settings (the ledger's own live in [`LedgerConfig`]).
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Whether cookies get the `Secure` attribute (set it behind HTTPS).
    pub cookie_secure: bool,
    /// How long a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// The shared secret of the transactions webhook; `None` disables it.
    pub webhook_secret: Option<WebhookSecret>,
    /// How often an open event stream re-checks its session (a stream ends
    /// soon after logout or revocation).
    pub event_session_check: Duration,
    /// Development only: a KYC submission is approved at once by the
    /// system (`--dev-auto-approve-kyc`). Off by default; logged at WARN
    /// on start and shown in the dashboard.
    pub dev_auto_approve_kyc: bool,
}

impl HttpSettings {
    /// The same settings, with `cookie_secure` set.
    pub fn cookie_secure(mut self, cookie_secure: bool) -> HttpSettings {
        self.cookie_secure = cookie_secure;
        self
    }

    /// The same settings, with `request_timeout` set.
    pub fn request_timeout(mut self, request_timeout: Duration) -> HttpSettings {
        self.request_timeout = request_timeout;
        self
    }

    /// The same settings, with `webhook_secret` set.
    pub fn webhook_secret(mut self, webhook_secret: Option<WebhookSecret>) -> HttpSettings {
        self.webhook_secret = webhook_secret;
        self
    }

    /// The same settings, with `dev_auto_approve_kyc` set.
    pub fn dev_auto_approve_kyc(mut self, on: bool) -> HttpSettings {
        self.dev_auto_approve_kyc = on;
        self
    }

    /// The same settings, with `event_session_check` set.
    pub fn event_session_check(mut self, event_session_check: Duration) -> HttpSettings {
        self.event_session_check = event_session_check;
        self
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            cookie_secure: false,
            request_timeout: REQUEST_TIMEOUT_DEFAULT,
            webhook_secret: None,
            event_session_check: EVENT_SESSION_CHECK_DEFAULT,
            dev_auto_approve_kyc: false,
        }
    }
}

/// The webhook's shared secret. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// Wraps a secret; an empty one is refused (it would accept anyone).
    pub fn new(secret: impl Into<String>) -> Option<WebhookSecret> {
        let secret = secret.into();
        (!secret.is_empty()).then_some(WebhookSecret(secret))
    }

    /// The secret's bytes, to key the HMAC.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// Why the state could not be built.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The ledger did not open (its store failed).
    #[error("cannot open the ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// The metrics registry refused a metric (a bug in a metric's name).
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The shared state of the service. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    ledger: Ledger,
    events: Arc<dyn EventSource>,
    metrics: Metrics,
    settings: HttpSettings,
    limiter: Option<Arc<Limiter>>,
    shutdown: CancellationToken,
    publishing: Sinks,
    user_changes: tokio::sync::broadcast::Sender<UserId>,
    payee_lookups: PayeeLookups,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("ledger", &self.inner.ledger).field("settings", &self.inner.settings).finish()
    }
}

impl AppState {
    /// A builder over a store, with production defaults.
    pub fn builder(store: Arc<dyn Store>) -> AppStateBuilder {
        AppStateBuilder {
            store,
            config: LedgerConfig::default(),
            notifier: None,
            settings: HttpSettings::default(),
            events: None,
            rate_limit: None,
            clock: None,
        }
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.inner.ledger
    }

    /// Where live events come from.
    pub fn events(&self) -> &Arc<dyn EventSource> {
        &self.inner.events
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// HTTP settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }

    /// The per-client rate limiter, if enabled.
    pub fn limiter(&self) -> Option<&Arc<Limiter>> {
        self.inner.limiter.as_ref()
    }

    /// The event sinks this process publishes (none unless started).
    pub fn publishing(&self) -> &Sinks {
        &self.inner.publishing
    }

    /// Users whose profile or KYC status this process just changed: their
    /// event streams send a `profile` event (other instances' changes are
    /// found by the streams' periodic session check).
    pub fn user_changes(&self) -> &tokio::sync::broadcast::Sender<UserId> {
        &self.inner.user_changes
    }

    /// Tells this user's open event streams that their profile changed.
    pub fn user_changed(&self, user: UserId) {
        // No stream listening is not an error.
        let _ = self.inner.user_changes.send(user);
    }

    /// The per-user budget of payee look-ups.
    pub fn payee_lookups(&self) -> &PayeeLookups {
        &self.inner.payee_lookups
    }

    /// Cancelled when the service shuts down: long-lived responses (event
    /// streams) and background tasks end on it so shutdown can finish.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }
}

/// Builds an [`AppState`].
pub struct AppStateBuilder {
    store: Arc<dyn Store>,
    config: LedgerConfig,
    notifier: Option<Arc<dyn Notifier>>,
    settings: HttpSettings,
    events: Option<Arc<dyn EventSource>>,
    rate_limit: Option<RateLimit>,
    clock: Option<Arc<dyn Clock>>,
}

impl AppStateBuilder {
    /// The ledger's configuration (tests pass cheap password hashing here).
    pub fn ledger_config(mut self, config: LedgerConfig) -> Self {
        self.config = config;
        self
    }

    /// Shortcut for tests: cheap argon2 parameters. Never in production.
    pub fn insecure_fast_password_hashing(mut self) -> Self {
        self.config.password_hash = HashParams::INSECURE_FAST_FOR_TESTS;
        self
    }

    /// Delivers password-reset tokens through this notifier (default: the log).
    pub fn notifier(mut self, notifier: Arc<dyn Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// HTTP settings. Replaces all of them, a webhook secret given earlier
    /// included: call [`AppStateBuilder::webhook_secret`] afterwards.
    pub fn settings(mut self, settings: HttpSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The webhook secret (`None` disables the webhook).
    pub fn webhook_secret(mut self, secret: Option<WebhookSecret>) -> Self {
        self.settings.webhook_secret = secret;
        self
    }

    /// Uses this event source instead of the ledger's in-process channel
    /// (for example one fed by PostgreSQL LISTEN/NOTIFY).
    pub fn events(mut self, events: Arc<dyn EventSource>) -> Self {
        self.events = Some(events);
        self
    }

    /// Limits requests per client address (off by default).
    pub fn rate_limit(mut self, rate_limit: Option<RateLimit>) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// Uses this clock instead of the system clock (tests move it to expire
    /// sessions, reset tokens and webhook signatures without sleeping).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Opens the ledger and builds the state.
    pub async fn build(self) -> Result<AppState, StateError> {
        let mut builder = Ledger::builder(self.store).config(self.config);
        if let Some(notifier) = self.notifier {
            builder = builder.notifier(notifier);
        }
        if let Some(clock) = self.clock {
            builder = builder.clock(clock);
        }
        let ledger = builder.open().await?;
        let events = self.events.unwrap_or_else(|| Arc::new(LocalEvents::new(ledger.clone())));
        let inner = Inner {
            ledger,
            events,
            metrics: Metrics::new()?,
            settings: self.settings,
            limiter: self.rate_limit.map(|limit| Arc::new(Limiter::new(limit))),
            shutdown: CancellationToken::new(),
            publishing: Sinks::default(),
            user_changes: tokio::sync::broadcast::channel(USER_CHANGES_CAPACITY).0,
            payee_lookups: PayeeLookups::new(),
        };
        Ok(AppState { inner: Arc::new(inner) })
    }
}
