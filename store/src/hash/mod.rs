//! The hash type: field → value, with Redis's two encodings behind one API.
//!
//! - **listpack**: fields and values alternate in one [`Pack`], in insertion
//!   order; lookups scan it, which the thresholds keep short.
//! - **hashtable**: an `IndexMap`, whose dense index gives HSCAN the same
//!   cursor guarantee as SCAN and HRANDFIELD O(1) random picks.
//!
//! A hash converts to a table when it passes `hash-max-listpack-entries`
//! fields or receives a field or value longer than `hash-max-listpack-value`;
//! like Redis, it never converts back.

mod ops;

use ahash::RandomState;
use bytes::Bytes;
use indexmap::IndexMap;

use crate::collection::{COLLECTION_OVERHEAD, Collection, EncodingLimits, owned, scan_slots};
use crate::pack::Pack;
use crate::record::Value;

/// Charged per field of a table-encoded hash: two `Bytes` handles and the
/// map's hash and index words.
pub(crate) const TABLE_ENTRY_OVERHEAD: usize = 2 * size_of::<Bytes>() + 2 * size_of::<usize>();

/// A Redis hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hash {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Pack(Pack),
    Table {
        map: IndexMap<Bytes, Bytes, RandomState>,
        /// Sum of field and value lengths.
        bytes: usize,
    },
}

impl PartialEq for Repr {
    fn eq(&self, other: &Repr) -> bool {
        let a = Hash { repr: self.clone() };
        let b = Hash {
            repr: other.clone(),
        };
        a.len() == b.len() && a.iter().all(|(f, v)| b.get(f) == Some(v))
    }
}

impl Eq for Repr {}

impl Default for Hash {
    fn default() -> Hash {
        Hash::new()
    }
}

impl Hash {
    /// An empty, compact hash.
    pub fn new() -> Hash {
        Hash {
            repr: Repr::Pack(Pack::new()),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.len() / 2,
            Repr::Table { map, .. } => map.len(),
        }
    }

    /// Whether it has no field.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING`'s name for the current encoding.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Table { .. } => "hashtable",
        }
    }

    /// Accounted bytes.
    pub fn mem(&self) -> usize {
        COLLECTION_OVERHEAD
            + match &self.repr {
                Repr::Pack(p) => p.byte_len(),
                Repr::Table { map, bytes } => bytes + map.len() * TABLE_ENTRY_OVERHEAD,
            }
    }

    /// Byte offsets of `field`'s entry and of its value's in a pack.
    fn pack_find(p: &Pack, field: &[u8]) -> Option<(usize, usize)> {
        let mut it = p.iter();
        while let Some(f) = it.next() {
            let v = it.next()?;
            if f.bytes == field {
                return Some((f.offset, v.offset));
            }
        }
        None
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Pack(p) => Hash::pack_find(p, field).map(|(_, off)| p.at(off).0),
            Repr::Table { map, .. } => map.get(field).map(|v| &v[..]),
        }
    }

    /// Sets `field` to `value`, converting first if the hash would pass a
    /// threshold; true if the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8], limits: &EncodingLimits) -> bool {
        if let Repr::Pack(p) = &mut self.repr {
            let long = field.len() > limits.hash_max_listpack_value
                || value.len() > limits.hash_max_listpack_value;
            match Hash::pack_find(p, field) {
                Some((_, off)) if !long => {
                    p.replace(off, value);
                    return false;
                }
                None if !long && p.len() / 2 < limits.hash_max_listpack_entries => {
                    p.push(&[field, value]);
                    return true;
                }
                _ => self.convert_to_table(),
            }
        }
        let Repr::Table { map, bytes } = &mut self.repr else {
            unreachable!("converted above")
        };
        match map.get_mut(field) {
            Some(old) => {
                *bytes = *bytes - old.len() + value.len();
                *old = owned(value);
                false
            }
            None => {
                *bytes += field.len() + value.len();
                map.insert(owned(field), owned(value));
                true
            }
        }
    }

    /// Removes `field`; whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pack(p) => match Hash::pack_find(p, field) {
                Some((foff, _)) => {
                    p.remove(foff, 2);
                    true
                }
                None => false,
            },
            Repr::Table { map, bytes } => match map.swap_remove_entry(field) {
                Some((f, v)) => {
                    *bytes -= f.len() + v.len();
                    true
                }
                None => false,
            },
        }
    }

    fn convert_to_table(&mut self) {
        let Repr::Pack(p) = &self.repr else { return };
        let mut map = IndexMap::with_capacity_and_hasher(p.len() / 2 + 1, RandomState::new());
        let mut bytes = 0;
        let mut it = p.iter();
        while let (Some(f), Some(v)) = (it.next(), it.next()) {
            bytes += f.bytes.len() + v.bytes.len();
            map.insert(owned(f.bytes), owned(v.bytes));
        }
        self.repr = Repr::Table { map, bytes };
    }

    /// Every field and value, in the encoding's order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match &self.repr {
            Repr::Pack(p) => {
                let mut it = p.iter();
                Box::new(std::iter::from_fn(move || {
                    Some((it.next()?.bytes, it.next()?.bytes))
                }))
            }
            Repr::Table { map, .. } => Box::new(map.iter().map(|(f, v)| (&f[..], &v[..]))),
        }
    }

    /// The fields and values at positions `indices` (each `< len()`).
    pub fn pick(&self, indices: &[usize]) -> Vec<(Bytes, Bytes)> {
        match &self.repr {
            Repr::Pack(_) => {
                let all: Vec<(&[u8], &[u8])> = self.iter().collect();
                indices
                    .iter()
                    .map(|&i| (owned(all[i].0), owned(all[i].1)))
                    .collect()
            }
            Repr::Table { map, .. } => indices
                .iter()
                .filter_map(|&i| map.get_index(i))
                .map(|(f, v)| (owned(f), owned(v)))
                .collect(),
        }
    }

    /// One HSCAN step: a compact hash answers whole with cursor 0 (as
    /// Redis does); a table walks its index like SCAN.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<(Bytes, Bytes)>) {
        match &self.repr {
            Repr::Pack(_) => (0, self.iter().map(|(f, v)| (owned(f), owned(v))).collect()),
            Repr::Table { map, .. } => {
                let (slots, next) = scan_slots(map.len(), cursor, count);
                let items = slots
                    .into_iter()
                    .filter_map(|i| map.get_index(i))
                    .map(|(f, v)| (owned(f), owned(v)))
                    .collect();
                (next, items)
            }
        }
    }
}

impl Collection for Hash {
    fn of(value: &Value) -> Option<&Hash> {
        match value {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }

    fn of_mut(value: &mut Value) -> Option<&mut Hash> {
        match value {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }

    fn into_value(self) -> Value {
        Value::Hash(Box::new(self))
    }

    fn is_empty(&self) -> bool {
        Hash::is_empty(self)
    }
}

#[cfg(test)]
mod tests;
