//! How to open a store: where, how hard to push acknowledged writes to disk,
//! and how much memory sled's page cache may hold.

use std::path::{Path, PathBuf};

/// When an acknowledged [`apply`](ledger_core::Store::apply) reaches the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every `apply` flushes (and fsyncs) sled's log before returning, so an
    /// acknowledged command survives a crash or power loss. The default.
    #[default]
    Flush,
    /// `apply` returns once the change is committed in memory; sled's
    /// background flusher writes it out within about half a second
    /// (`flush_every_ms`, 500 by default) and on a clean drop. A crash may lose
    /// the last moments of acknowledged commands, never part of one. Opt in for
    /// throughput when the caller can tolerate that (tests, caches, replayable
    /// imports).
    Relaxed,
}

/// sled's own default page cache size: 1 GiB.
pub const CACHE_CAPACITY_DEFAULT_BYTES: u64 = 1024 * 1024 * 1024;

/// The smallest page cache a config accepts (smaller is raised to it): 16 MiB.
pub const CACHE_CAPACITY_MIN_BYTES: u64 = 16 * 1024 * 1024;

/// Where and how to open a [`SledStore`](crate::SledStore).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SledConfig {
    /// The database directory (created if missing).
    pub path: PathBuf,
    /// When acknowledged writes reach the disk.
    pub durability: Durability,
    /// The most bytes of tree pages sled keeps cached in memory (sled's
    /// `cache_capacity`). The process holds more than this: sled also keeps
    /// a small entry per page of the whole database in memory, so that part
    /// grows with the data.
    pub cache_capacity_bytes: u64,
}

impl SledConfig {
    /// A config for `path` with the defaults: [`Durability::Flush`] and a
    /// page cache of [`CACHE_CAPACITY_DEFAULT_BYTES`].
    pub fn new(path: impl AsRef<Path>) -> SledConfig {
        SledConfig {
            path: path.as_ref().to_path_buf(),
            durability: Durability::default(),
            cache_capacity_bytes: CACHE_CAPACITY_DEFAULT_BYTES,
        }
    }

    /// The same config with a page cache of `bytes` (at least
    /// [`CACHE_CAPACITY_MIN_BYTES`]).
    pub fn cache_capacity_bytes(mut self, bytes: u64) -> SledConfig {
        self.cache_capacity_bytes = bytes.max(CACHE_CAPACITY_MIN_BYTES);
        self
    }

    /// The sled configuration this opens the database with.
    pub(crate) fn sled(&self) -> sled::Config {
        sled::Config::new().path(&self.path).cache_capacity(self.cache_capacity_bytes)
    }

    /// The same config with another durability.
    pub fn durability(mut self, durability: Durability) -> SledConfig {
        self.durability = durability;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_cache_size_reaches_sled_and_is_never_below_the_minimum() {
        let default = SledConfig::new("/tmp/ledger-sled-config");
        assert_eq!(default.sled().cache_capacity, CACHE_CAPACITY_DEFAULT_BYTES);
        assert_eq!(default.sled().path, PathBuf::from("/tmp/ledger-sled-config"));
        let small = default.clone().cache_capacity_bytes(64 * 1024 * 1024);
        assert_eq!(small.sled().cache_capacity, 64 * 1024 * 1024);
        assert_eq!(default.cache_capacity_bytes(1).sled().cache_capacity, CACHE_CAPACITY_MIN_BYTES);
    }
}
