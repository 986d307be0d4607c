//! [`IdempotencyIndex`]: the memory store's idempotency records, by key.
//!
//! A `HashSet` of records kept each whole record in its table, so every
//! time the table doubled it moved all of them into fresh memory and hashed
//! every key again with SipHash: a fifth of a one-command transfer's time.
//! Here the records sit in a [`ChunkedVec`], where they never move, and the
//! table holds only each record's hash and position, so growing it rehashes
//! nothing and moves 16 bytes per record. Keys are client-chosen text, so
//! the hash stays the standard DoS-resistant one.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use super::chunked_vec::ChunkedVec;
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};

/// Idempotency records, found by their key.
#[derive(Debug, Default)]
pub(crate) struct IdempotencyIndex<S = RandomState> {
    hasher: S,
    /// (hash of the record's key, the record's position in `records`).
    table: HashTable<(u64, usize)>,
    records: ChunkedVec<IdempotencyRecord>,
}

impl<S: BuildHasher> IdempotencyIndex<S> {
    /// The record for `key`.
    pub fn get(&self, key: &IdempotencyKey) -> Option<&IdempotencyRecord> {
        let position = self.position(self.hasher.hash_one(key), key)?;
        self.records.get(position)
    }

    /// Stores `record`, in place of the one with the same key if any.
    pub fn insert(&mut self, record: IdempotencyRecord) {
        let hash = self.hasher.hash_one(&record.key);
        match self.position(hash, &record.key) {
            Some(position) => {
                if let Some(slot) = self.records.get_mut(position) {
                    *slot = record;
                }
            }
            None => {
                let position = self.records.len();
                self.records.push(record);
                self.table.insert_unique(hash, (hash, position), |(hash, _)| *hash);
            }
        }
    }

    /// Every record, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &IdempotencyRecord> {
        self.records.range(0, self.records.len())
    }

    /// The number of records.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    fn position(&self, hash: u64, key: &IdempotencyKey) -> Option<usize> {
        let records = &self.records;
        let is_key = |(h, position): &(u64, usize)| *h == hash && records.get(*position).is_some_and(|r| &r.key == key);
        self.table.find(hash, is_key).map(|(_, position)| *position)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::hash::{BuildHasherDefault, Hasher};

    use chrono::Utc;

    use super::*;
    use crate::digest::Digest;
    use crate::id::TransactionId;

    fn record(key: &str, transactions: usize) -> IdempotencyRecord {
        IdempotencyRecord {
            key: IdempotencyKey::new(key).unwrap(),
            fingerprint: Digest::default(),
            transaction_ids: (0..transactions).map(|_| TransactionId::new()).collect(),
            created_at: Utc::now(),
        }
    }

    fn key(text: &str) -> IdempotencyKey {
        IdempotencyKey::new(text).unwrap()
    }

    #[test]
    fn every_record_is_found_by_its_key_and_no_other() {
        let mut index = IdempotencyIndex::<RandomState>::default();
        let records: Vec<_> = (0..20_000).map(|i| record(&format!("key-{i}"), 1)).collect();
        for r in &records {
            index.insert(r.clone());
        }
        assert_eq!(index.len(), records.len());
        for r in &records {
            assert_eq!(index.get(&r.key), Some(r));
        }
        assert_eq!(index.get(&key("key-20000")), None);
        assert_eq!(index.get(&key("key-")), None);
    }

    #[test]
    fn a_second_record_for_a_key_replaces_the_first() {
        let mut index = IdempotencyIndex::<RandomState>::default();
        index.insert(record("same", 1));
        let second = record("same", 3);
        index.insert(second.clone());
        assert_eq!(index.len(), 1);
        assert_eq!(index.get(&key("same")), Some(&second));
    }

    /// Every key hashes alike: lookups must compare keys, not hashes.
    #[derive(Default)]
    struct Colliding;

    impl Hasher for Colliding {
        fn finish(&self) -> u64 {
            7
        }
        fn write(&mut self, _: &[u8]) {}
    }

    #[test]
    fn keys_with_equal_hashes_are_told_apart() {
        let mut index = IdempotencyIndex::<BuildHasherDefault<Colliding>>::default();
        let records: Vec<_> = (0..300).map(|i| record(&format!("c-{i}"), 1)).collect();
        for r in &records {
            index.insert(r.clone());
        }
        for r in &records {
            assert_eq!(index.get(&r.key), Some(r));
        }
        assert_eq!(index.get(&key("c-300")), None);
        index.insert(record("c-5", 2));
        assert_eq!(index.len(), 300);
        assert_eq!(index.get(&key("c-5")).unwrap().transaction_ids.len(), 2);
    }
}
