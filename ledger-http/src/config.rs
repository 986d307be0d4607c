//! Command-line flags, each with an environment twin. With none given the
//! service serves on 127.0.0.1:8080 over the embedded store in
//! `./ledger-data` (SQLite; see [`StorageUrl::embedded`]).

use std::net::SocketAddr;

use clap::Parser;
use clap::builder::TypedValueParser as _;

use crate::publish::{PublishFlags, PublishSettings, SettingsError};
use crate::storage::{EMBEDDED_DIR, StorageOptions, StorageUrl};

/// The default of `--sled-cache-mib`: sled's own default, 1 GiB.
const SLED_CACHE_MIB_DEFAULT: u64 = crate::storage::SLED_CACHE_DEFAULT_BYTES / MIB;
/// The smallest `--sled-cache-mib`: the store's minimum, 16 MiB (checked
/// against `ledger_sled` in the tests).
const SLED_CACHE_MIB_MIN: u64 = 16;
/// The largest `--sled-cache-mib`: 64 GiB.
const SLED_CACHE_MIB_MAX: u64 = 64 * 1024;
const MIB: u64 = 1024 * 1024;

/// `ledger-http`: the ledger's HTTP service.
#[derive(Debug, Clone, Parser)]
#[command(name = "ledger-http", version, about)]
pub struct Config {
    /// A TOML file with any of these settings under their flag names
    /// (`bind = "0.0.0.0:8080"`); flags and environment variables override it.
    #[arg(long, env = "LEDGER_CONFIG")]
    pub config: Option<std::path::PathBuf>,

    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "LEDGER_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Storage: `memory:`, `sled:PATH`, `sqlite:PATH` or `postgres://...`
    /// [default: the embedded store in ./ledger-data: SQLite in
    /// ledger.sqlite3, or the sled database the directory already holds]
    #[arg(long, env = "LEDGER_STORAGE")]
    pub storage: Option<StorageUrl>,

    /// A PostgreSQL read replica (`postgres://...`: a hot standby, or a
    /// proxy's replica port) serving history, balance history, statements
    /// and audit reads, which may then lag the primary by the replication
    /// delay; balances and everything a command decides on stay on
    /// `--storage`, which must then be PostgreSQL too.
    #[arg(long, env = "LEDGER_STORAGE_READ", value_parser = parse_read_replica)]
    pub storage_read: Option<StorageUrl>,

    /// Shared secret of the transactions webhook (HMAC-SHA256); without it
    /// the webhook answers 503.
    #[arg(long, env = "LEDGER_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// Email of an admin to create at start if absent.
    #[arg(long, env = "LEDGER_BOOTSTRAP_ADMIN_EMAIL", requires = "bootstrap_admin_password")]
    pub bootstrap_admin_email: Option<String>,

    /// Password of that admin (used only when it is created).
    #[arg(long, env = "LEDGER_BOOTSTRAP_ADMIN_PASSWORD", hide_env_values = true, requires = "bootstrap_admin_email")]
    pub bootstrap_admin_password: Option<String>,

    /// DEVELOPMENT ONLY: approve every KYC submission at once, as the
    /// system, so a fresh start without an admin is usable. Never in
    /// production: identity goes unchecked. Logged at WARN and shown in
    /// the dashboard.
    #[arg(long, env = "LEDGER_DEV_AUTO_APPROVE_KYC")]
    pub dev_auto_approve_kyc: bool,

    /// Mark cookies `Secure` (set this when served over HTTPS).
    #[arg(long, env = "LEDGER_COOKIE_SECURE")]
    pub cookie_secure: bool,

    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "LEDGER_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Sustained requests per second per client address (0 disables the limit).
    #[arg(long, env = "LEDGER_RATE_LIMIT_PER_SECOND", default_value_t = 50)]
    pub rate_limit_per_second: u32,

    /// Burst allowance per client address above the sustained rate.
    #[arg(long, env = "LEDGER_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,

    /// Seconds between sweeps that release expired holds.
    #[arg(long, env = "LEDGER_HOLD_SWEEP_SECS", default_value_t = 5)]
    pub hold_sweep_secs: u64,

    /// Seconds between checks that an open event stream's session is still
    /// live (a stream ends this soon after logout or revocation).
    #[arg(long, env = "LEDGER_EVENT_SESSION_CHECK_SECS", default_value_t = 30)]
    pub event_session_check_secs: u64,

    /// Seconds in-flight requests get to finish after a shutdown signal.
    #[arg(long, env = "LEDGER_SHUTDOWN_GRACE_SECS", default_value_t = 30)]
    pub shutdown_grace_secs: u64,

    /// Do not announce PostgreSQL commits with `pg_notify` (for CockroachDB or
    /// YugabyteDB); live events then reach only the committing instance.
    #[arg(long, env = "LEDGER_NO_PG_NOTIFY")]
    pub no_pg_notify: bool,

    /// The most commands one storage transaction carries when concurrent
    /// requests are committed together (group commit); 0 or 1 disables it.
    #[arg(
        long,
        env = "LEDGER_GROUP_COMMIT_MAX",
        default_value_t = ledger_core::GROUP_COMMIT_BATCHES_DEFAULT,
        value_parser = clap::value_parser!(u16).range(0..=ledger_core::GROUP_COMMIT_BATCHES_CAP as i64).map(usize::from),
    )]
    pub group_commit_max: usize,

    /// With group commit: how long, in microseconds (0 to 10000), a commit
    /// may wait for money commands already on their way, so that they join
    /// it rather than the next one; a lone request never waits.
    #[arg(
        long,
        env = "LEDGER_GROUP_COMMIT_WAIT_MICROS",
        default_value_t = ledger_core::GROUP_COMMIT_WAIT_MICROS_SERVICE,
        value_parser = clap::value_parser!(u64).range(0..=ledger_core::GROUP_COMMIT_WAIT_MICROS_MAX),
    )]
    pub group_commit_wait_micros: u64,

    /// sled storage: the MiB of tree pages its cache keeps in memory (16 to
    /// 65536). The process holds more: sled also keeps a small entry per page
    /// of the whole database in memory.
    #[arg(
        long,
        env = "LEDGER_SLED_CACHE_MIB",
        default_value_t = SLED_CACHE_MIB_DEFAULT,
        value_parser = clap::value_parser!(u64).range(SLED_CACHE_MIB_MIN..=SLED_CACHE_MIB_MAX),
    )]
    pub sled_cache_mib: u64,

    /// Publish every committed change to NATS JetStream at this server
    /// (`nats://127.0.0.1:4222`).
    #[arg(long, env = "LEDGER_PUBLISH_NATS")]
    pub publish_nats: Option<String>,

    /// The JetStream stream events go to (created if absent, with the
    /// subjects `<prefix>.>`).
    #[arg(long, env = "LEDGER_PUBLISH_NATS_STREAM", default_value = crate::publish::settings::NATS_STREAM_DEFAULT)]
    pub publish_nats_stream: String,

    /// Events go to the subject `<prefix>.<type>`.
    #[arg(long, env = "LEDGER_PUBLISH_NATS_SUBJECT_PREFIX", default_value = crate::publish::settings::NATS_SUBJECT_PREFIX_DEFAULT)]
    pub publish_nats_subject_prefix: String,

    /// Publish every committed change to RabbitMQ at this URL
    /// (`amqp://guest:guest@127.0.0.1:5672/%2f`).
    #[arg(long, env = "LEDGER_PUBLISH_AMQP", hide_env_values = true)]
    pub publish_amqp: Option<String>,

    /// The durable topic exchange events go to (declared if absent).
    #[arg(long, env = "LEDGER_PUBLISH_AMQP_EXCHANGE", default_value = crate::publish::settings::AMQP_EXCHANGE_DEFAULT)]
    pub publish_amqp_exchange: String,

    /// POST every committed change, signed, to this URL (repeatable; the
    /// environment twin is comma-separated). https, or http to a loopback
    /// address.
    #[arg(long = "publish-webhook", env = "LEDGER_PUBLISH_WEBHOOK", value_delimiter = ',')]
    pub publish_webhooks: Vec<String>,

    /// The secret outgoing webhooks are signed with (HMAC-SHA256).
    #[arg(long, env = "LEDGER_PUBLISH_WEBHOOK_SECRET", hide_env_values = true)]
    pub publish_webhook_secret: Option<String>,

    /// Seconds a sink may fail before `/health` reports it degraded.
    #[arg(long, env = "LEDGER_PUBLISH_DEGRADED_AFTER_SECS", default_value_t = 60)]
    pub publish_degraded_after_secs: u64,

    /// Log format: `text` or `json`.
    #[arg(long, env = "LEDGER_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
}

/// A `--storage-read` value: PostgreSQL only (a replica of the primary).
fn parse_read_replica(text: &str) -> Result<StorageUrl, String> {
    match text.parse::<StorageUrl>()? {
        url @ StorageUrl::Postgres(_) => Ok(url),
        _ => Err("a read replica is a PostgreSQL URL (`postgres://...`)".into()),
    }
}

impl Config {
    /// The store to open: `--storage`, or else the embedded store in
    /// [`EMBEDDED_DIR`].
    pub fn storage_url(&self) -> StorageUrl {
        match &self.storage {
            Some(url) => url.clone(),
            None => StorageUrl::embedded(std::path::Path::new(EMBEDDED_DIR)),
        }
    }

    /// The event sinks these flags enable, checked.
    pub fn publish_settings(&self) -> Result<PublishSettings, SettingsError> {
        PublishSettings::from_flags(PublishFlags {
            nats: self.publish_nats.clone(),
            nats_stream: Some(self.publish_nats_stream.clone()),
            nats_subject_prefix: Some(self.publish_nats_subject_prefix.clone()),
            amqp: self.publish_amqp.clone(),
            amqp_exchange: Some(self.publish_amqp_exchange.clone()),
            webhooks: self.publish_webhooks.clone(),
            webhook_secret: self.publish_webhook_secret.clone(),
            degraded_after: Some(std::time::Duration::from_secs(self.publish_degraded_after_secs)),
        })
    }

    /// The settings `storage::open` takes from these flags.
    pub fn storage_options(&self) -> StorageOptions {
        StorageOptions { pg_notify: !self.no_pg_notify, sled_cache_bytes: self.sled_cache_mib.saturating_mul(MIB) }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("ledger-http").chain(args.iter().copied()))
    }

    #[test]
    fn storage_read_takes_only_a_postgres_url_and_its_env_twin() {
        let given = parse(&["--storage", "postgres://p/db", "--storage-read", "postgres://r/db"]).unwrap();
        assert_eq!(given.storage_read, Some(StorageUrl::Postgres("postgres://r/db".into())));
        assert_eq!(parse(&[]).unwrap().storage_read, None);
        for wrong in ["sqlite:replica.db", "memory:", "mysql://r/db"] {
            let error = parse(&["--storage-read", wrong]).unwrap_err().to_string();
            assert!(error.contains("--storage-read"), "{error}");
        }
    }

    #[test]
    fn group_commit_wait_defaults_to_the_services_and_refuses_above_the_max() {
        let wait = |args: &[&str]| parse(args).map(|c| c.group_commit_wait_micros);
        assert_eq!(wait(&[]).ok(), Some(ledger_core::GROUP_COMMIT_WAIT_MICROS_SERVICE));
        assert_eq!(wait(&["--group-commit-wait-micros", "0"]).ok(), Some(0));
        assert!(wait(&["--group-commit-wait-micros", "10001"]).is_err());
        assert!(wait(&["--group-commit-wait-micros", "-1"]).is_err());
    }

    #[test]
    fn group_commit_max_defaults_accepts_zero_and_refuses_above_the_cap() {
        assert_eq!(parse(&[]).unwrap().group_commit_max, ledger_core::GROUP_COMMIT_BATCHES_DEFAULT);
        assert_eq!(parse(&["--group-commit-max", "0"]).unwrap().group_commit_max, 0);
        let cap = ledger_core::GROUP_COMMIT_BATCHES_CAP.to_string();
        assert_eq!(
            parse(&["--group-commit-max", &cap]).unwrap().group_commit_max,
            ledger_core::GROUP_COMMIT_BATCHES_CAP
        );
        let above = (ledger_core::GROUP_COMMIT_BATCHES_CAP + 1).to_string();
        assert!(parse(&["--group-commit-max", &above]).is_err());
        assert!(parse(&["--group-commit-max", "-1"]).is_err());
    }

    #[test]
    fn sled_cache_defaults_to_sleds_own_and_refuses_sizes_out_of_range() {
        assert_eq!(parse(&[]).unwrap().sled_cache_mib, 1024);
        assert_eq!(parse(&["--sled-cache-mib", "16"]).unwrap().sled_cache_mib, 16);
        assert_eq!(parse(&["--sled-cache-mib", "65536"]).unwrap().sled_cache_mib, 65536);
        for refused in ["15", "65537", "0", "-1", "1GiB"] {
            assert!(parse(&["--sled-cache-mib", refused]).is_err(), "{refused}");
        }
        let command = Config::command();
        let arg = command.get_arguments().find(|a| a.get_id() == "sled_cache_mib").unwrap();
        assert_eq!(arg.get_env(), Some(std::ffi::OsStr::new("LEDGER_SLED_CACHE_MIB")));
    }

    #[test]
    fn storage_options_carry_the_sled_cache_in_bytes_and_the_pg_notify_switch() {
        let defaults = parse(&[]).unwrap().storage_options();
        assert_eq!(defaults, StorageOptions::default());
        let set = parse(&["--sled-cache-mib", "128", "--no-pg-notify"]).unwrap().storage_options();
        assert_eq!(set, StorageOptions { pg_notify: false, sled_cache_bytes: 128 * 1024 * 1024 });
    }

    #[test]
    fn storage_is_the_flag_when_given_and_else_the_embedded_store() {
        let given = parse(&["--storage", "sled:./elsewhere"]).unwrap();
        assert_eq!(given.storage_url(), StorageUrl::Sled("./elsewhere".into()));
        let default = parse(&[]).unwrap();
        assert_eq!(default.storage, None);
        assert_eq!(default.storage_url(), StorageUrl::embedded(std::path::Path::new("./ledger-data")));
    }

    #[test]
    fn publishing_flags_have_environment_twins_and_webhooks_split_on_commas() {
        let command = Config::command();
        for (id, env) in [
            ("publish_nats", "LEDGER_PUBLISH_NATS"),
            ("publish_amqp", "LEDGER_PUBLISH_AMQP"),
            ("publish_webhooks", "LEDGER_PUBLISH_WEBHOOK"),
            ("publish_webhook_secret", "LEDGER_PUBLISH_WEBHOOK_SECRET"),
        ] {
            let arg = command.get_arguments().find(|a| a.get_id() == id).unwrap();
            assert_eq!(arg.get_env(), Some(std::ffi::OsStr::new(env)), "{id}");
        }
        let config = parse(&[
            "--publish-webhook",
            "http://127.0.0.1:1/a,https://example.com/b",
            "--publish-webhook",
            "https://example.com/c",
            "--publish-webhook-secret",
            "s",
        ])
        .unwrap();
        let settings = config.publish_settings().unwrap();
        assert_eq!(settings.webhooks.len(), 3);
        assert_eq!(settings.nats, None);
        let defaults =
            parse(&["--publish-nats", "nats://127.0.0.1:4222", "--publish-amqp", "amqp://127.0.0.1"]).unwrap();
        let settings = defaults.publish_settings().unwrap();
        assert_eq!(settings.nats.map(|n| (n.stream, n.subject_prefix)), Some(("LEDGER".into(), "ledger".into())));
        assert_eq!(settings.amqp.map(|a| a.exchange), Some("ledger".into()));
        let insecure = parse(&["--publish-webhook", "http://example.com/", "--publish-webhook-secret", "s"]).unwrap();
        assert!(insecure.publish_settings().is_err());
        let unsigned = parse(&["--publish-webhook", "https://example.com/"]).unwrap();
        assert!(unsigned.publish_settings().is_err());
    }

    #[test]
    fn group_commit_max_has_an_environment_twin() {
        let command = Config::command();
        let arg = command.get_arguments().find(|a| a.get_id() == "group_commit_max").unwrap();
        assert_eq!(arg.get_env(), Some(std::ffi::OsStr::new("LEDGER_GROUP_COMMIT_MAX")));
    }
}
