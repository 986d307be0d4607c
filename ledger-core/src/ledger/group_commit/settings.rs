//! Group commit's settings, their bounds, and its own failures.

/// The default for [`GroupCommit::batches_max`]: past a few hundred batches
/// the fixed cost of a commit (an fsync of milliseconds) is already spread to
/// a small share of each batch's own work, while a larger group only holds
/// the store's commit lock longer and makes its last caller wait longer.
pub const GROUP_COMMIT_BATCHES_DEFAULT: usize = 256;

/// The most batches a group may ever be configured to carry.
pub const GROUP_COMMIT_BATCHES_CAP: usize = 4096;

/// The longest a leader may be configured to wait for company: 10 ms.
pub const GROUP_COMMIT_WAIT_MICROS_MAX: u64 = 10_000;

/// The wait the HTTP service and the benchmark harness give a leader: 300 µs.
/// With 8 concurrent callers the callers answered by one commit re-announce
/// their next command within a few hundred microseconds; waiting for them
/// made groups fuller and commits fewer: +24% to +46% transfers/s on
/// PostgreSQL and +28% to +43% on SQLite, sled unchanged (`docs/benchmarks.md`).
/// A lone caller never waits. Not the [`Default`], which never waits, because
/// a wait needs Tokio's time driver, which an embedder's runtime may lack.
pub const GROUP_COMMIT_WAIT_MICROS_SERVICE: u64 = 300;

/// Group commit settings of a [`Ledger`](crate::Ledger).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// The most batches one `Store::apply` call carries (capped at
    /// [`GROUP_COMMIT_BATCHES_CAP`]); 0 or 1 disables group commit.
    pub batches_max: usize,
    /// How long a leader may wait for announced money commands still on
    /// their way to the queue, in microseconds (capped at
    /// [`GROUP_COMMIT_WAIT_MICROS_MAX`]); 0 never waits, and groups form only
    /// from callers who arrive while a commit is in flight. A leader with no
    /// command on its way commits at once. A wait needs Tokio's time driver.
    pub wait_micros: u64,
}

impl GroupCommit {
    /// The same settings, with `batches_max` set.
    pub fn batches_max(mut self, batches_max: usize) -> GroupCommit {
        self.batches_max = batches_max;
        self
    }

    /// The same settings, with `wait_micros` set.
    pub fn wait_micros(mut self, wait_micros: u64) -> GroupCommit {
        self.wait_micros = wait_micros;
        self
    }
}

impl GroupCommit {
    /// Every caller applies its own batches in its own `Store::apply` call.
    pub const DISABLED: GroupCommit = GroupCommit { batches_max: 1, wait_micros: 0 };

    /// Whether batches of different callers may share a commit.
    pub fn is_enabled(&self) -> bool {
        self.batches_max > 1
    }

    pub(super) fn capped(self) -> GroupCommit {
        GroupCommit {
            batches_max: self.batches_max.min(GROUP_COMMIT_BATCHES_CAP),
            wait_micros: self.wait_micros.min(GROUP_COMMIT_WAIT_MICROS_MAX),
        }
    }
}

impl Default for GroupCommit {
    /// Enabled, up to [`GROUP_COMMIT_BATCHES_DEFAULT`] batches, no waiting.
    fn default() -> Self {
        GroupCommit { batches_max: GROUP_COMMIT_BATCHES_DEFAULT, wait_micros: 0 }
    }
}

/// Why the group commit machinery itself failed a caller. Reported as the
/// source of a [`StorageError`](crate::StorageError): like a storage failure, it is never a verdict
/// on the command, and a replay of the idempotency key tells what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GroupCommitError {
    /// The queue's lock was poisoned by a panic.
    #[error("the group commit queue's lock is poisoned")]
    Poisoned,
    /// The commit carrying the batches was dropped before it finished (its
    /// leader was cancelled outside a Tokio runtime); the outcome is unknown.
    #[error("the commit carrying this command was abandoned; its outcome is unknown")]
    Abandoned,
    /// The store answered with the wrong number of outcomes.
    #[error("the store returned {found} outcomes for {expected} batches")]
    OutcomeCount {
        /// Batches applied.
        expected: usize,
        /// Outcomes returned.
        found: usize,
    },
}
