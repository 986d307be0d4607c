//! Mapping sled, serde and task failures to [`StorageError`]s named "sled".

use ledger_core::StorageError;

/// The backend name every error and health report carries.
pub(crate) const BACKEND: &str = "sled";

/// A sled failure, with what we were doing when it happened.
pub(crate) fn sled(context: &str, source: sled::Error) -> StorageError {
    StorageError::with_source(BACKEND, context.to_owned(), source)
}

/// Stored bytes that do not decode: the database was changed by something
/// other than this crate, or is damaged.
pub(crate) fn corrupt(what: &str) -> StorageError {
    StorageError::new(BACKEND, format!("corrupt data: {what}"))
}

/// A value that failed to encode or decode as JSON.
pub(crate) fn json(what: &str, source: serde_json::Error) -> StorageError {
    StorageError::with_source(BACKEND, format!("cannot encode or decode {what}"), source)
}

/// A blocking task that did not finish (it panicked or the runtime is shutting down).
pub(crate) fn join(source: tokio::task::JoinError) -> StorageError {
    StorageError::with_source(BACKEND, "blocking storage task failed", source)
}
