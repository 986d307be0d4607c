//! A shared map with a fixed bound on its entries that starts over when
//! full: the shape of the ledger's caches (account facts for planning, a
//! backend's decoded accounts), whose every entry can be read again from the
//! store, so dropping all of them at once costs a few reads and needs no
//! bookkeeping per read.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// At most `entries_max` entries behind one mutex; cloned out on reads.
#[derive(Debug)]
pub struct BoundedMap<K, V> {
    map: Mutex<Map<K, V>>,
    entries_max: usize,
}

impl<K: Eq + Hash, V: Clone> BoundedMap<K, V> {
    /// An empty map that holds at most `entries_max` entries (at least one).
    pub fn new(entries_max: usize) -> BoundedMap<K, V> {
        BoundedMap { map: Mutex::new(Map::default()), entries_max: entries_max.max(1) }
    }

    /// The value at `key`, if held.
    pub fn get(&self, key: &K) -> Option<V> {
        self.lock().get(key).cloned()
    }

    /// Sets the value at `key`. A new key in a full map first empties it;
    /// replacing a held key's value never does.
    pub fn insert(&self, key: K, value: V) {
        let mut map = self.lock();
        if map.len() >= self.entries_max && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, value);
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Map<K, V>> {
        // Nothing that can panic runs under the lock, so a poisoned map is
        // still consistent.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_starts_over_and_never_exceeds_its_bound() {
        let map = BoundedMap::new(3);
        for key in 0..3 {
            map.insert(key, key * 10);
        }
        assert_eq!((0..3).map(|key| map.get(&key)).collect::<Vec<_>>(), [Some(0), Some(10), Some(20)]);
        map.insert(3, 30);
        assert_eq!(map.get(&3), Some(30));
        assert!((0..3).all(|key| map.get(&key).is_none()), "the full map started over");
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn replacing_a_held_value_does_not_count_as_a_new_entry() {
        let map = BoundedMap::new(2);
        map.insert("first", 1);
        map.insert("second", 2);
        map.insert("second", 3);
        assert_eq!(map.get(&"second"), Some(3));
        assert_eq!(map.get(&"first"), Some(1));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn a_bound_of_zero_still_holds_one_entry() {
        let map = BoundedMap::new(0);
        assert!(map.is_empty());
        map.insert(1, 'a');
        assert_eq!(map.get(&1), Some('a'));
        map.insert(2, 'b');
        assert_eq!((map.get(&1), map.get(&2)), (None, Some('b')));
    }
}
