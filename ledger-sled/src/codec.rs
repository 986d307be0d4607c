//! Value encoding: JSON via serde. The core types use internally tagged enums
//! and `try_from = "String"` newtypes, which need a self-describing format;
//! JSON also keeps the database inspectable with any sled dump tool.

use ledger_core::StorageError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error;

/// Encodes a stored value.
pub(crate) fn encode<T: Serialize>(what: &str, value: &T) -> Result<Vec<u8>, StorageError> {
    serde_json::to_vec(value).map_err(|e| error::json(what, e))
}

/// Decodes a stored value.
pub(crate) fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| error::json(what, e))
}
