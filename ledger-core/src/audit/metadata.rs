//! [`AuditMetadata`]: the key-value details of an audit record, kept sorted
//! by key in one small vector.
//!
//! A record carries one to a handful of entries (the idempotency key, the
//! request id). A `BTreeMap` with one entry allocates a whole node, about
//! 540 bytes, kept for every record in the memory store and allocated again
//! by every clone of a record. Sorted order is part of the record's hash, so
//! iteration stays in key order, as a `BTreeMap`'s did.

use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Key-value details of an audit record, sorted by key, keys unique.
///
/// Serializes as a map (a JSON object), exactly as a `BTreeMap<String,
/// String>` does, so stored records read back unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditMetadata {
    entries: Vec<(String, String)>,
}

impl AuditMetadata {
    /// No entries.
    pub fn new() -> AuditMetadata {
        AuditMetadata::default()
    }

    /// Sets `key` to `value`, replacing an earlier value of the same key.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        match self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key.as_str())) {
            Ok(i) => {
                if let Some(entry) = self.entries.get_mut(i) {
                    entry.1 = value.into();
                }
            }
            Err(i) => self.entries.insert(i, (key, value.into())),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        let i = self.entries.binary_search_by(|(k, _)| k.as_str().cmp(key)).ok()?;
        self.entries.get(i).map(|(_, v)| v.as_str())
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for AuditMetadata {
    /// Later entries replace earlier ones with the same key, as in a map.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut metadata = AuditMetadata::new();
        for (k, v) in entries {
            metadata.insert(k, v);
        }
        metadata
    }
}

impl Serialize for AuditMetadata {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for AuditMetadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MetadataVisitor)
    }
}

struct MetadataVisitor;

impl<'de> Visitor<'de> for MetadataVisitor {
    type Value = AuditMetadata;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of strings to strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<AuditMetadata, A::Error> {
        let mut metadata = AuditMetadata::new();
        while let Some((k, v)) = access.next_entry::<String, String>()? {
            metadata.insert(k, v);
        }
        Ok(metadata)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use super::*;

    fn pairs(metadata: &AuditMetadata) -> Vec<(&str, &str)> {
        metadata.iter().collect()
    }

    #[test]
    fn entries_iterate_in_key_order_whatever_the_insertion_order() {
        let metadata: AuditMetadata =
            [("request_id", "r"), ("amount", "1.00"), ("idempotency_key", "k")].into_iter().collect();
        assert_eq!(pairs(&metadata), [("amount", "1.00"), ("idempotency_key", "k"), ("request_id", "r")]);
    }

    #[test]
    fn inserting_an_existing_key_replaces_its_value() {
        let mut metadata = AuditMetadata::new();
        metadata.insert("k", "1");
        metadata.insert("k", "2");
        assert_eq!(metadata.len(), 1);
        assert_eq!(metadata.get("k"), Some("2"));
        assert_eq!(metadata.get("missing"), None);
    }

    #[test]
    fn json_is_the_same_as_a_btreemaps_both_ways() {
        let map: BTreeMap<String, String> =
            [("b".to_owned(), "2".to_owned()), ("a".to_owned(), "1".to_owned())].into_iter().collect();
        let metadata: AuditMetadata = map.clone().into_iter().collect();
        let json = serde_json::to_string(&map).unwrap();
        assert_eq!(serde_json::to_string(&metadata).unwrap(), json);
        assert_eq!(serde_json::from_str::<AuditMetadata>(&json).unwrap(), metadata);
        // Stored records may list keys in any order; reading sorts them.
        assert_eq!(serde_json::from_str::<AuditMetadata>(r#"{"b":"2","a":"1"}"#).unwrap(), metadata);
    }

    #[test]
    fn reading_refuses_anything_but_a_map_of_strings() {
        assert!(serde_json::from_str::<AuditMetadata>(r#"{"a":1}"#).is_err());
        assert!(serde_json::from_str::<AuditMetadata>(r#"[["a","1"]]"#).is_err());
    }
}
