//! Opening a store from a URL: which database it names, and the options.

use std::time::Duration;

use ledger_core::StorageError;

#[cfg(feature = "postgres")]
use crate::postgres::PgBackend;
#[cfg(feature = "sqlite")]
use crate::sqlite::SqliteBackend;
use crate::store::{Inner, SqlStore};

/// The backend name used for errors before the URL names a database.
const UNKNOWN_BACKEND: &str = "sql";

/// How a [`SqlStore`] connects. Build it from the defaults, setting what
/// differs (it may gain settings, so it is not built field by field):
///
/// ```
/// let options = ledger_sql::SqlOptions::default().max_connections(4);
/// # let _ = options;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlOptions {
    /// The most connections the pool opens (default 10).
    pub max_connections: u32,
    /// How long connecting may take, and how long a call waits for a free
    /// pooled connection (default 10 s).
    pub connect_timeout: Duration,
    /// PostgreSQL only: the schema holding the ledger's tables (its
    /// `search_path`). It must exist. Default: the server's default
    /// (usually `public`).
    pub schema: Option<String>,
    /// PostgreSQL only: announce every commit with `pg_notify` so that
    /// [`SqlStore::listen`] hears it in every process (default `true`). Turn
    /// it off for engines without `LISTEN`/`NOTIFY` (CockroachDB,
    /// YugabyteDB); see the [crate docs](crate#change-notifications-postgresql).
    pub notify: bool,
    /// PostgreSQL only: open a read replica (a hot standby, or a proxy in
    /// front of standbys): no migration is run and every storage
    /// transaction is read-only; the schema must already be at this build's
    /// newest version, or opening fails saying so (default `false`).
    pub read_only: bool,
    /// PostgreSQL only: book each call apart from sealing it (ARCHITECTURE.md,
    /// "PostgreSQL without one commit lock"): the call's storage
    /// transaction locks only the rows its batches name, and a seal pass,
    /// shared by every caller waiting then, holds the audit head to place
    /// them in the chain. Outcomes and guarantees are the same; writers of
    /// disjoint rows stop queueing behind one lock. Measured slower than
    /// the default with group commit on a 2-core machine
    /// (`docs/benchmarks.md`, "Booking apart, measured"), hence off
    /// (default `false`).
    pub book_apart: bool,
}

impl SqlOptions {
    /// The same options, with `max_connections` set.
    pub fn max_connections(mut self, max_connections: u32) -> SqlOptions {
        self.max_connections = max_connections;
        self
    }

    /// The same options, with `connect_timeout` set.
    pub fn connect_timeout(mut self, connect_timeout: Duration) -> SqlOptions {
        self.connect_timeout = connect_timeout;
        self
    }

    /// The same options, with `schema` set.
    pub fn schema(mut self, schema: Option<String>) -> SqlOptions {
        self.schema = schema;
        self
    }

    /// The same options, with `notify` set.
    pub fn notify(mut self, notify: bool) -> SqlOptions {
        self.notify = notify;
        self
    }

    /// The same options, with `read_only` set.
    pub fn read_only(mut self, read_only: bool) -> SqlOptions {
        self.read_only = read_only;
        self
    }

    /// The same options, with `book_apart` set.
    pub fn book_apart(mut self, book_apart: bool) -> SqlOptions {
        self.book_apart = book_apart;
        self
    }
}

impl Default for SqlOptions {
    fn default() -> Self {
        SqlOptions {
            max_connections: 10,
            connect_timeout: Duration::from_secs(10),
            schema: None,
            notify: true,
            read_only: false,
            book_apart: false,
        }
    }
}

/// The database a storage URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Postgres,
    Sqlite,
}

/// Reads the scheme of a URL. Never echoes the URL, which may hold a password.
fn scheme(url: &str) -> Result<Scheme, StorageError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Scheme::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Scheme::Sqlite)
    } else {
        let shown = url.split_once(':').map_or("no scheme", |(scheme, _)| scheme);
        Err(StorageError::new(
            UNKNOWN_BACKEND,
            format!("unsupported storage URL ({shown}): expected postgres://, postgresql:// or sqlite:PATH"),
        ))
    }
}

impl SqlStore {
    /// Opens the database a URL names, with default [`SqlOptions`]:
    /// `postgres://user@host:port/db` (or `postgresql://`), or `sqlite:PATH`
    /// (the file is created if missing). Applies the schema migrations.
    ///
    /// Fails with a [`StorageError`] naming the cause when the URL is
    /// malformed, the database cannot be reached, or its schema is newer
    /// than this build.
    pub async fn connect(url: &str) -> Result<SqlStore, StorageError> {
        SqlStore::connect_with(url, SqlOptions::default()).await
    }

    /// Opens the database a URL names, with options.
    pub async fn connect_with(url: &str, options: SqlOptions) -> Result<SqlStore, StorageError> {
        let inner = match scheme(url)? {
            #[cfg(feature = "postgres")]
            Scheme::Postgres => Inner::Postgres(PgBackend::connect(url, &options).await?),
            #[cfg(feature = "sqlite")]
            Scheme::Sqlite => Inner::Sqlite(SqliteBackend::connect(url, &options).await?),
            #[allow(unreachable_patterns)] // every database is compiled in
            missing => {
                let _ = options;
                return Err(StorageError::new(
                    UNKNOWN_BACKEND,
                    format!("this build has no {missing:?} support: enable ledger-sql's feature for it"),
                ));
            }
        };
        Ok(SqlStore::new(inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_recognised_and_urls_never_echoed() {
        assert_eq!(scheme("postgres://u@h/db").ok(), Some(Scheme::Postgres));
        assert_eq!(scheme("postgresql://u@h/db").ok(), Some(Scheme::Postgres));
        assert_eq!(scheme("sqlite:ledger.db").ok(), Some(Scheme::Sqlite));
        let error = scheme("mysql://root:secret@h/db").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("unsupported storage URL (mysql)"), "{error}");
        assert!(!error.contains("secret"), "{error}");
        assert!(scheme("ledger.db").is_err());
    }
}
