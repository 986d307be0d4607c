//! Storage selection: `--storage` URLs to stores.
//!
//! | URL | store |
//! |---|---|
//! | `memory:` | [`MemoryStore`], gone when the process ends |
//! | `sled:PATH` | [`SledStore`] in the directory `PATH` (created if missing) |
//! | `sqlite:PATH`, `postgres://...` | `ledger_sql::SqlStore` (migrated on connect; a SQLite file and its directory are created if missing) |
//!
//! With no `--storage` the service opens the embedded store in
//! [`EMBEDDED_DIR`] ([`StorageUrl::embedded`]): SQLite, whose memory stays
//! bounded however much the ledger holds, unless that directory already
//! holds a sled database from before SQLite was the default, which is then
//! served as it is rather than starting an empty ledger beside it.
//!
//! On PostgreSQL, live events come from `LISTEN`/`NOTIFY`
//! ([`OpenedStore::event_source`]), so that several instances on one
//! database each see every commit.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use futures::future::BoxFuture;
#[cfg(feature = "postgres")]
use ledger_core::ReadReplicaStore;
use ledger_core::{MemoryStore, StorageError, Store};
#[cfg(feature = "sled")]
use ledger_sled::{SledConfig, SledStore};
#[cfg(feature = "postgres")]
use ledger_sql::SqlOptions;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use ledger_sql::SqlStore;

use crate::events::EventSource;
#[cfg(feature = "postgres")]
use crate::shared_events::SharedEvents;

/// sled's page cache by default, 1 GiB (sled's own default; checked
/// against `ledger_sled` where it is compiled in).
pub const SLED_CACHE_DEFAULT_BYTES: u64 = 1 << 30;

/// A parsed `--storage` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageUrl {
    /// `memory:`.
    Memory,
    /// `sled:PATH`.
    Sled(PathBuf),
    /// `sqlite:PATH` (the URL as given, for sqlx).
    Sqlite(String),
    /// `postgres://...` or `postgresql://...` (the URL as given).
    Postgres(String),
}

/// The directory of the embedded store opened when no `--storage` is given.
pub const EMBEDDED_DIR: &str = "./ledger-data";
/// The SQLite file of the embedded store, inside its directory.
pub const EMBEDDED_SQLITE_FILE: &str = "ledger.sqlite3";

impl StorageUrl {
    /// The embedded store in `dir`: a sled database already there (the
    /// default store before SQLite) or else SQLite in
    /// `dir/`[`EMBEDDED_SQLITE_FILE`] (sled in `dir` in a build without
    /// SQLite, memory in one with neither).
    pub fn embedded(dir: &Path) -> StorageUrl {
        let sqlite = || StorageUrl::Sqlite(format!("sqlite:{}", dir.join(EMBEDDED_SQLITE_FILE).display()));
        if holds_sled_database(dir) || (!cfg!(feature = "sqlite") && cfg!(feature = "sled")) {
            StorageUrl::Sled(dir.to_path_buf())
        } else if cfg!(feature = "sqlite") {
            sqlite()
        } else {
            StorageUrl::Memory
        }
    }
}

/// Whether `dir` holds a sled 0.34 database (its `conf` and `db` files).
fn holds_sled_database(dir: &Path) -> bool {
    dir.join("conf").is_file() && dir.join("db").is_file()
}

impl FromStr for StorageUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<StorageUrl, String> {
        if text == "memory:" || text == "memory" {
            return Ok(StorageUrl::Memory);
        }
        if let Some(path) = text.strip_prefix("sled:") {
            if path.is_empty() {
                return Err("`sled:` needs a directory, as in `sled:./ledger-data`".into());
            }
            return Ok(StorageUrl::Sled(PathBuf::from(path)));
        }
        if text.starts_with("sqlite:") {
            return Ok(StorageUrl::Sqlite(text.to_owned()));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(StorageUrl::Postgres(text.to_owned()));
        }
        Err(format!("unknown storage `{text}`: use `memory:`, `sled:PATH`, `sqlite:PATH` or `postgres://...`"))
    }
}

impl std::fmt::Display for StorageUrl {
    /// The URL without secrets (a PostgreSQL password never reaches a log).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageUrl::Memory => f.write_str("memory:"),
            StorageUrl::Sled(path) => write!(f, "sled:{}", path.display()),
            StorageUrl::Sqlite(url) => f.write_str(url),
            StorageUrl::Postgres(url) => match url.split_once('@') {
                Some((_, host)) => write!(f, "postgres://***@{host}"),
                None => f.write_str(url),
            },
        }
    }
}

type Flush = Box<dyn Fn() -> BoxFuture<'static, Result<(), StorageError>> + Send + Sync>;

/// An open store, and how to flush it at shutdown.
pub struct OpenedStore {
    /// The store.
    pub store: Arc<dyn Store>,
    flush: Option<Flush>,
    /// PostgreSQL: the store again, to listen on.
    #[cfg(feature = "postgres")]
    postgres: Option<Arc<SqlStore>>,
}

impl std::fmt::Debug for OpenedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedStore").field("backend", &self.store.backend()).finish()
    }
}

impl OpenedStore {
    /// A store with nothing to flush.
    pub fn new(store: Arc<dyn Store>) -> OpenedStore {
        OpenedStore {
            store,
            flush: None,
            #[cfg(feature = "postgres")]
            postgres: None,
        }
    }

    /// The event source for this store: PostgreSQL's `LISTEN`/`NOTIFY`
    /// ([`SharedEvents`], so that every instance on the database sees every
    /// commit), or `None` for the ledger's in-process channel (memory, sled,
    /// SQLite: one process per store).
    pub async fn event_source(&self) -> Result<Option<Arc<dyn EventSource>>, StorageError> {
        #[cfg(feature = "postgres")]
        if let Some(store) = &self.postgres {
            return Ok(Some(Arc::new(SharedEvents::start(store.clone()).await?)));
        }
        Ok(None)
    }

    /// Writes everything committed to durable storage (a no-op for stores
    /// that need none).
    pub async fn flush(&self) -> Result<(), StorageError> {
        match &self.flush {
            Some(flush) => flush().await,
            None => Ok(()),
        }
    }
}

/// How to open the stores that take settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageOptions {
    /// Whether PostgreSQL commits announce themselves for live events across
    /// instances; turn it off for PostgreSQL-wire engines without
    /// `pg_notify` (CockroachDB, YugabyteDB), and live events then reach
    /// only the instance that committed them.
    pub pg_notify: bool,
    /// sled: the bytes of tree pages its cache keeps in memory.
    pub sled_cache_bytes: u64,
}

impl Default for StorageOptions {
    /// `pg_notify` on, sled's default cache.
    fn default() -> Self {
        StorageOptions { pg_notify: true, sled_cache_bytes: SLED_CACHE_DEFAULT_BYTES }
    }
}

/// Opens the store a URL names, with `options`. A store this build was
/// compiled without (its cargo feature off) is a clear error.
pub async fn open(url: &StorageUrl, options: StorageOptions) -> Result<OpenedStore, StorageError> {
    match url {
        StorageUrl::Memory => Ok(OpenedStore::new(Arc::new(MemoryStore::new()))),
        #[cfg(feature = "sled")]
        StorageUrl::Sled(path) => open_sled(sled_config(path, options)).await,
        // Every SQL commit is durable when it returns: nothing to flush.
        #[cfg(feature = "sqlite")]
        StorageUrl::Sqlite(url) => Ok(OpenedStore::new(Arc::new(SqlStore::connect(url).await?))),
        #[cfg(feature = "postgres")]
        StorageUrl::Postgres(url) => {
            let pg_notify = options.pg_notify;
            let store = Arc::new(SqlStore::connect_with(url, SqlOptions::default().notify(pg_notify)).await?);
            let postgres = pg_notify.then(|| store.clone());
            Ok(OpenedStore { store, flush: None, postgres })
        }
        #[allow(unreachable_patterns)] // every store is compiled in
        other => {
            let _ = options;
            Err(StorageError::new(
                "storage",
                format!("this build of ledger-http has no support for {other}: rebuild it with that store's feature"),
            ))
        }
    }
}

/// Puts a PostgreSQL read replica beside an opened PostgreSQL primary
/// ([`ReadReplicaStore`]): the replica is opened read-only (no migration;
/// its schema must be current) and must answer now, so a wrong URL stops
/// the start with a clear error.
#[cfg(feature = "postgres")]
pub async fn with_read_replica(
    mut opened: OpenedStore,
    primary: &StorageUrl,
    replica: &StorageUrl,
) -> Result<OpenedStore, StorageError> {
    let (StorageUrl::Postgres(_), StorageUrl::Postgres(url)) = (primary, replica) else {
        return Err(StorageError::new(
            "storage",
            format!("--storage-read {replica} needs PostgreSQL for both --storage and --storage-read"),
        ));
    };
    let options = SqlOptions::default().notify(false).read_only(true);
    let store = SqlStore::connect_with(url, options)
        .await
        .map_err(|e| StorageError::new("storage", format!("read replica {replica}: {}", e.message)))?;
    store.ping().await.map_err(|e| StorageError::new("storage", format!("read replica {replica}: {}", e.message)))?;
    opened.store = Arc::new(ReadReplicaStore::new(opened.store.clone(), Arc::new(store)));
    Ok(opened)
}

/// Opens a sled store; opening reads and may recover the log: blocking file I/O.
#[cfg(feature = "sled")]
async fn open_sled(config: SledConfig) -> Result<OpenedStore, StorageError> {
    let store = tokio::task::spawn_blocking(move || SledStore::open_with(config))
        .await
        .map_err(|e| StorageError::with_source("sled", "the open task failed", e))??;
    let flushed = store.clone();
    let flush: Flush = Box::new(move || {
        let store = flushed.clone();
        Box::pin(async move { store.flush().await })
    });
    Ok(OpenedStore {
        store: Arc::new(store),
        flush: Some(flush),
        #[cfg(feature = "postgres")]
        postgres: None,
    })
}

/// How a `sled:PATH` store is opened with `options`.
#[cfg(feature = "sled")]
fn sled_config(path: &std::path::Path, options: StorageOptions) -> SledConfig {
    SledConfig::new(path).cache_capacity_bytes(options.sled_cache_bytes)
}

#[cfg(all(test, feature = "sled", feature = "sqlite"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_every_scheme() {
        assert_eq!("memory:".parse(), Ok(StorageUrl::Memory));
        assert_eq!("sled:./data".parse(), Ok(StorageUrl::Sled(PathBuf::from("./data"))));
        assert_eq!("sqlite:ledger.db".parse(), Ok(StorageUrl::Sqlite("sqlite:ledger.db".into())));
        assert_eq!("postgres://u:p@h/db".parse(), Ok(StorageUrl::Postgres("postgres://u:p@h/db".into())));
        assert!("sled:".parse::<StorageUrl>().is_err());
        assert!("mysql://x".parse::<StorageUrl>().is_err());
    }

    #[test]
    fn a_sled_store_opens_with_the_cache_the_options_give() {
        let options = StorageOptions { sled_cache_bytes: 32 * 1024 * 1024, ..StorageOptions::default() };
        let config = sled_config(std::path::Path::new("./data"), options);
        assert_eq!(config.path, PathBuf::from("./data"));
        assert_eq!(config.cache_capacity_bytes, 32 * 1024 * 1024);
        let default = sled_config(std::path::Path::new("./data"), StorageOptions::default());
        assert_eq!(default.cache_capacity_bytes, ledger_sled::CACHE_CAPACITY_DEFAULT_BYTES);
    }

    #[test]
    fn the_embedded_store_is_sqlite_in_its_directory_when_it_holds_no_sled_database() {
        let dir = tempfile::tempdir().unwrap();
        let expected = format!("sqlite:{}", dir.path().join("ledger.sqlite3").display());
        assert_eq!(StorageUrl::embedded(dir.path()), StorageUrl::Sqlite(expected.clone()));
        // A missing directory too: opening creates it.
        let missing = dir.path().join("not-yet");
        let url = StorageUrl::embedded(&missing);
        assert_eq!(url, StorageUrl::Sqlite(format!("sqlite:{}", missing.join("ledger.sqlite3").display())));
        // A SQLite store already there stays SQLite.
        std::fs::write(dir.path().join("ledger.sqlite3"), b"").unwrap();
        assert_eq!(StorageUrl::embedded(dir.path()), StorageUrl::Sqlite(expected));
    }

    #[test]
    fn the_embedded_store_is_the_sled_database_its_directory_already_holds() {
        let dir = tempfile::tempdir().unwrap();
        let sled_dir = dir.path().join("ledger-data");
        drop(SledStore::open(&sled_dir).unwrap());
        assert_eq!(StorageUrl::embedded(&sled_dir), StorageUrl::Sled(sled_dir.clone()));
        // Only a directory with both of sled's files counts.
        let half = dir.path().join("half");
        std::fs::create_dir(&half).unwrap();
        std::fs::write(half.join("conf"), b"").unwrap();
        assert!(matches!(StorageUrl::embedded(&half), StorageUrl::Sqlite(_)));
    }

    #[test]
    fn display_hides_passwords() {
        let url = StorageUrl::Postgres("postgres://user:secret@db:5432/ledger".into());
        assert_eq!(url.to_string(), "postgres://***@db:5432/ledger");
    }
}
