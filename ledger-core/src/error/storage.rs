//! [`StorageError`]: a store's failure, and what it says about the writes
//! of the call that failed ([`StorageErrorKind`]).

use std::sync::Arc;

/// What a storage failure says about the writes of the call that failed.
///
/// Group commit reads it: a call that failed before committing for a cause
/// that belongs to one of its batches ([`StorageErrorKind::Refused`]) is
/// applied again without sharing that batch's fate, so one batch never fails
/// its group. Only a failure while committing leaves the outcome unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// The storage refused the data the call writes (a constraint or an
    /// encoding error), before committing: nothing was applied, and the
    /// call's batches applied apart may pass.
    Refused,
    /// The storage could not be reached, or failed before committing for a
    /// cause that is not the data's (a lost connection): nothing was applied,
    /// and a later try may pass.
    Unavailable,
    /// A failure while committing, or one the backend cannot place: the
    /// call may or may not have applied; a replay of its idempotency keys
    /// tells.
    #[default]
    Unknown,
}

/// A failure of the storage backend, carrying the backend's name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{backend} storage error: {message}")]
pub struct StorageError {
    /// Which backend failed (`memory`, `sled`, `postgres`, ...).
    pub backend: &'static str,
    /// What failed, for logs (never shown to end users).
    pub message: String,
    /// What the failure says about the call's writes.
    pub kind: StorageErrorKind,
    /// The backend's own error.
    #[source]
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl StorageError {
    /// A storage error with a message and no source, of unknown outcome.
    pub fn new(backend: &'static str, message: impl Into<String>) -> StorageError {
        StorageError { backend, message: message.into(), kind: StorageErrorKind::Unknown, source: None }
    }

    /// A storage error wrapping the backend's error, of unknown outcome.
    pub fn with_source(
        backend: &'static str,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StorageError {
        StorageError {
            backend,
            message: message.into(),
            kind: StorageErrorKind::Unknown,
            source: Some(Arc::new(source)),
        }
    }

    /// The same error, classified as `kind`.
    pub fn of_kind(self, kind: StorageErrorKind) -> StorageError {
        StorageError { kind, ..self }
    }

    /// Whether nothing of the failed call was applied.
    pub fn nothing_applied(&self) -> bool {
        matches!(self.kind, StorageErrorKind::Refused | StorageErrorKind::Unavailable)
    }
}

impl PartialEq for StorageError {
    fn eq(&self, other: &Self) -> bool {
        self.backend == other.backend && self.message == other.message && self.kind == other.kind
    }
}
