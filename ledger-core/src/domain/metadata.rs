//! [`Metadata`]: the application's own key-value details on a transaction
//! or an account (an order id, a merchant reference), bounded and printable,
//! part of a command's idempotency fingerprint and searchable in history.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::digest::Hasher;
use crate::error::LedgerError;

/// The most keys one metadata map holds.
pub const METADATA_KEYS_MAX: usize = 16;
/// The most characters of a key.
pub const METADATA_KEY_LEN_MAX: usize = 64;
/// The most characters of a value.
pub const METADATA_VALUE_LEN_MAX: usize = 256;
/// The most key-value pairs one history filter may name.
pub const METADATA_FILTER_PAIRS_MAX: usize = 4;

/// A bounded map of string to string, in key order. Keys are
/// `[a-z0-9_.-]{1,64}`; values at most 256 characters, without control
/// characters; at most 16 keys. Built only through [`Metadata::new`] or
/// deserialization, both of which check every entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Metadata(BTreeMap<String, String>);

impl Metadata {
    /// A checked map from pairs; a later duplicate key replaces an earlier one.
    pub fn new<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Metadata, LedgerError> {
        let map: BTreeMap<String, String> = pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        if map.len() > METADATA_KEYS_MAX {
            return Err(LedgerError::InvalidMetadata("at most 16 keys"));
        }
        for (key, value) in &map {
            check_key(key)?;
            check_value(value)?;
        }
        Ok(Metadata(map))
    }

    /// No entries.
    pub fn empty() -> Metadata {
        Metadata::default()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether every pair of `wanted` is in this map.
    pub fn contains_all(&self, wanted: &[(String, String)]) -> bool {
        wanted.iter().all(|(k, v)| self.get(k) == Some(v.as_str()))
    }

    /// Feeds the entries, in key order, to an idempotency fingerprint.
    pub(crate) fn fingerprint(&self, h: &mut Hasher) {
        h.u64(self.0.len() as u64);
        for (k, v) in &self.0 {
            h.str(k).str(v);
        }
    }
}

/// Checks a metadata key: `[a-z0-9_.-]{1,64}`.
pub fn check_key(key: &str) -> Result<(), LedgerError> {
    let valid = !key.is_empty()
        && key.len() <= METADATA_KEY_LEN_MAX
        && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-'));
    if valid { Ok(()) } else { Err(LedgerError::InvalidMetadata("keys are 1 to 64 of a-z, 0-9, _ . -")) }
}

/// Checks a metadata value: at most 256 characters, no control characters.
pub fn check_value(value: &str) -> Result<(), LedgerError> {
    if value.chars().count() > METADATA_VALUE_LEN_MAX || value.chars().any(char::is_control) {
        return Err(LedgerError::InvalidMetadata("values are at most 256 printable characters"));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, String>::deserialize(deserializer)?;
        Metadata::new(map).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_values_and_counts_are_bounded() {
        assert!(Metadata::new([("order_id", "A-1"), ("shop.region", "eu-west")]).is_ok());
        for key in ["", "Order", "a b", "é", &"k".repeat(65)] {
            assert!(Metadata::new([(key, "v")]).is_err(), "{key:?}");
        }
        assert!(Metadata::new([("k", "x".repeat(256))]).is_ok());
        assert!(Metadata::new([("k", "x".repeat(257))]).is_err());
        assert!(Metadata::new([("k", "a\nb")]).is_err());
        assert!(Metadata::new([("k", "nul\0")]).is_err());
        let many: Vec<(String, String)> = (0..17).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(Metadata::new(many.clone()).is_err());
        assert!(Metadata::new(many[..16].to_vec()).is_ok());
    }

    #[test]
    fn deserialising_checks_as_building_does() {
        let ok: Result<Metadata, _> = serde_json::from_str(r#"{"order_id":"A-1"}"#);
        assert_eq!(ok.ok().and_then(|m| m.get("order_id").map(str::to_owned)), Some("A-1".to_owned()));
        let bad: Result<Metadata, _> = serde_json::from_str(r#"{"Order":"A-1"}"#);
        assert!(bad.is_err());
    }
}
