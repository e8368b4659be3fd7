//! A map from register keys to values, for state that every replica touches on every
//! operation: keys are drawn from `0..keys` and are usually few, so the low keys sit in a
//! vector indexed by key and only the others in a B-tree. Equality, iteration and `Debug` are
//! those of the map (in key order), whichever side holds a key.

use crate::protocol::Key;
use std::collections::BTreeMap;
use std::fmt;

/// Keys below this live in the vector by default (grown to the highest one used, so a state
/// machine of a few keys stays a few words, and 10,000 clients' maps stay small).
pub const DENSE_KEYS: Key = 64;

/// A map from keys to `V`; see the module documentation. Keys below `DENSE` live in the
/// vector.
#[derive(Clone)]
pub struct KeyMap<V, const DENSE: Key = DENSE_KEYS> {
    dense: Vec<Option<V>>,
    sparse: BTreeMap<Key, V>,
}

impl<V, const DENSE: Key> Default for KeyMap<V, DENSE> {
    fn default() -> Self {
        KeyMap {
            dense: Vec::new(),
            sparse: BTreeMap::new(),
        }
    }
}

impl<V, const DENSE: Key> KeyMap<V, DENSE> {
    /// An empty map.
    pub fn new() -> KeyMap<V, DENSE> {
        KeyMap::default()
    }

    /// The value of `key`, if it has one.
    #[inline]
    pub fn get(&self, key: Key) -> Option<&V> {
        if key < DENSE {
            self.dense.get(key as usize)?.as_ref()
        } else {
            self.sparse.get(&key)
        }
    }

    /// The value of `key`, if it has one, to change.
    #[inline]
    pub fn get_mut(&mut self, key: Key) -> Option<&mut V> {
        if key < DENSE {
            self.dense.get_mut(key as usize)?.as_mut()
        } else {
            self.sparse.get_mut(&key)
        }
    }

    /// Sets `key` to `value`.
    #[inline]
    pub fn insert(&mut self, key: Key, value: V) {
        if key < DENSE {
            let index = key as usize;
            if index >= self.dense.len() {
                self.dense.resize_with(index + 1, || None);
            }
            self.dense[index] = Some(value);
        } else {
            self.sparse.insert(key, value);
        }
    }

    /// The value of `key`, set to `make()` first if it has none.
    #[inline]
    pub fn get_or_insert_with(&mut self, key: Key, make: impl FnOnce() -> V) -> &mut V {
        if key < DENSE {
            let index = key as usize;
            if index >= self.dense.len() {
                self.dense.resize_with(index + 1, || None);
            }
            self.dense[index].get_or_insert_with(make)
        } else {
            self.sparse.entry(key).or_insert_with(make)
        }
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &V)> {
        let dense = (self.dense.iter().enumerate())
            .filter_map(|(key, value)| Some((key as Key, value.as_ref()?)));
        dense.chain(self.sparse.iter().map(|(key, value)| (*key, value)))
    }
}

impl<V: PartialEq, const DENSE: Key> PartialEq for KeyMap<V, DENSE> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl<V: Eq, const DENSE: Key> Eq for KeyMap<V, DENSE> {}

impl<V: fmt::Debug, const DENSE: Key> fmt::Debug for KeyMap<V, DENSE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_btree_map_on_either_side_of_the_dense_keys() {
        let mut map: KeyMap<i64> = KeyMap::new();
        let mut reference = BTreeMap::new();
        let keys = [3, 0, 63, 64, 65, 1_000_000, 3, 64, 7, 0];
        for (step, key) in keys.into_iter().enumerate() {
            assert_eq!(map.get(key), reference.get(&key), "before step {step}");
            if step % 3 == 2 {
                *map.get_or_insert_with(key, || 0) += 10;
                *reference.entry(key).or_insert(0) += 10;
            } else {
                map.insert(key, step as i64);
                reference.insert(key, step as i64);
            }
            if let Some(value) = map.get_mut(key) {
                *value += 1;
            }
            *reference.get_mut(&key).unwrap() += 1;
            let entries: Vec<(Key, i64)> = map.iter().map(|(k, v)| (k, *v)).collect();
            let expected: Vec<(Key, i64)> = reference.iter().map(|(k, v)| (*k, *v)).collect();
            assert_eq!(entries, expected, "after step {step}");
            assert_eq!(format!("{map:?}"), format!("{reference:?}"));
        }
        assert_eq!(map.get(5), None);
        assert_eq!(map.get(200), None);
    }

    #[test]
    fn equality_ignores_how_far_the_vector_grew() {
        let mut grown: KeyMap<i64> = KeyMap::new();
        grown.insert(40, 1);
        let mut other: KeyMap<i64> = KeyMap::new();
        other.insert(40, 1);
        grown.insert(50, 2);
        assert_ne!(grown, other);
        other.insert(50, 2);
        assert_eq!(grown, other);
        let mut short = KeyMap::<i64>::new();
        short.insert(1, 9);
        let mut long = KeyMap::<i64>::new();
        long.insert(1, 9);
        long.insert(30, 0);
        long.dense[30] = None;
        assert_eq!(short, long);
    }
}
