//! How to open a store: where, and how hard to push acknowledged writes to disk.

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

/// Where and how to open a [`SledStore`](crate::SledStore).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SledConfig {
    /// The database directory (created if missing).
    pub path: PathBuf,
    /// When acknowledged writes reach the disk.
    pub durability: Durability,
}

impl SledConfig {
    /// A config for `path` with the default, [`Durability::Flush`].
    pub fn new(path: impl AsRef<Path>) -> SledConfig {
        SledConfig { path: path.as_ref().to_path_buf(), durability: Durability::default() }
    }

    /// The same config with another durability.
    pub fn durability(mut self, durability: Durability) -> SledConfig {
        self.durability = durability;
        self
    }
}
