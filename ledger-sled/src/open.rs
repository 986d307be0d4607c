//! Opening a store: the directory checks, sled's lock, the trees.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use ledger_core::StorageError;
use ledger_core::store::lease::LocalLeases;

use crate::account_cache::AccountCache;
use crate::config::SledConfig;
use crate::error::{self, BACKEND};
use crate::store::{Inner, SledStore};
use crate::trees::Trees;

impl SledStore {
    /// Opens (creating if missing) the database at `path` with
    /// [`Durability::Flush`].
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, StorageError> {
        SledStore::open_with(SledConfig::new(path))
    }

    /// Opens (creating if missing) the database a config names.
    ///
    /// Fails with a [`StorageError`] (never a panic) when the path is not a
    /// directory sled can use, holds something other than a ledger database,
    /// or is locked by another open store.
    pub fn open_with(config: SledConfig) -> Result<SledStore, StorageError> {
        SledStore::open_inner(config, None)
    }

    /// A store in a fresh temporary directory, deleted when the last clone
    /// drops: for tests and throwaway runs. Uses [`Durability::Flush`], so it
    /// behaves (and performs) like a real one.
    pub fn temporary() -> Result<SledStore, StorageError> {
        let dir = tempfile::Builder::new()
            .prefix("ledger-sled-")
            .tempdir()
            .map_err(|e| StorageError::with_source(BACKEND, "cannot create a temporary directory", e))?;
        SledStore::open_inner(SledConfig::new(dir.path()), Some(dir))
    }

    fn open_inner(config: SledConfig, temp_dir: Option<tempfile::TempDir>) -> Result<SledStore, StorageError> {
        let path = config.path.display().to_string();
        refuse_non_sled_directory(&config.path)?;
        let existed = config.path.join("conf").is_file();
        let db = match open_waiting_for_lock(&config) {
            Ok(Ok(db)) => db,
            Ok(Err(source)) => return Err(error::sled(&format!("cannot open a sled database at {path}"), source)),
            Err(_) => {
                return Err(StorageError::new(
                    BACKEND,
                    format!("cannot open a sled database at {path}: sled failed on its files (not a sled database?)"),
                ));
            }
        };
        let trees =
            Trees::open(db, existed).map_err(|e| StorageError { message: format!("{path}: {}", e.message), ..e })?;
        let inner = Inner {
            path: config.path,
            trees,
            durability: config.durability,
            writer: Mutex::new(()),
            commit_gate: RwLock::new(()),
            accounts: AccountCache::default(),
            flush_failed: AtomicBool::new(false),
            leases: LocalLeases::default(),
            #[cfg(test)]
            fail_next_flush: AtomicBool::new(false),
            temp_dir,
        };
        Ok(SledStore { inner: Arc::new(inner) })
    }
}

/// How long an open waits for sled's directory lock before reporting the
/// database locked.
const LOCK_WAIT: Duration = Duration::from_millis(1000);
/// The pause between two tries at the lock.
const LOCK_RETRY: Duration = Duration::from_millis(10);

/// Opens the sled database at `path`, waiting up to [`LOCK_WAIT`] for its
/// lock: a store dropped a moment ago in this process can still hold it while
/// sled's I/O threads finish (sled's own tests wait on the lock for the same
/// reason). `Err(_)` outside is a panic inside sled: sled 0.34 checks parts of
/// its recovery with asserts rather than errors, and a damaged directory must
/// not take the caller's process down.
fn open_waiting_for_lock(config: &SledConfig) -> std::thread::Result<sled::Result<sled::Db>> {
    let started = Instant::now();
    loop {
        let opened = catch_unwind(AssertUnwindSafe(|| config.sled().open()));
        // sled 0.34 reports a held lock only in the text of an `Io` error.
        let locked = matches!(&opened, Ok(Err(sled::Error::Io(e))) if e.to_string().contains("could not acquire lock"));
        if !locked || started.elapsed() >= LOCK_WAIT {
            return opened;
        }
        std::thread::sleep(LOCK_RETRY);
    }
}

/// Refuses a path that is not a directory, or a non-empty directory without
/// sled's `conf` file. sled itself would start a fresh database there,
/// treating files it does not recognise as a torn log and writing over them.
fn refuse_non_sled_directory(path: &Path) -> Result<(), StorageError> {
    let shown = path.display();
    match std::fs::read_dir(path).map(|mut entries| entries.next().is_some()) {
        Ok(true) if !path.join("conf").is_file() => Err(StorageError::new(
            BACKEND,
            format!("{shown} is not a sled database: the directory is not empty and has no sled conf file"),
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::with_source(BACKEND, format!("cannot open a sled database at {shown}"), e)),
    }
}
