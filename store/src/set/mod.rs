//! The set type, with Redis 7.2's three encodings behind one API.
//!
//! - **intset**: a sorted vector of integers, while every member is a
//!   canonical 64-bit integer and there are at most `set-max-intset-entries`.
//! - **listpack**: members in one [`Pack`], in insertion order, while there
//!   are at most `set-max-listpack-entries` of at most
//!   `set-max-listpack-value` bytes.
//! - **hashtable**: an `IndexSet`, whose dense index gives SSCAN SCAN's
//!   cursor guarantee and SPOP / SRANDMEMBER O(1) random picks.
//!
//! Conversions follow Redis's `setTypeAdd`: an intset that gets a
//! non-integer becomes a listpack if it would still fit one, else a table;
//! an intset past its limit becomes a table. Sets never convert back.

mod ops;

pub use ops::SetOp;

use std::borrow::Cow;

use ahash::RandomState;
use bytes::Bytes;
use indexmap::IndexSet;

use crate::collection::{COLLECTION_OVERHEAD, Collection, EncodingLimits, owned, scan_slots};
use crate::numeric::parse_i64;
use crate::pack::Pack;
use crate::record::Value;

/// Charged per member of a table-encoded set: its `Bytes` handle and the
/// set's hash and index words.
const TABLE_ENTRY_OVERHEAD: usize = size_of::<Bytes>() + 2 * size_of::<usize>();

/// Longest text of an i64 (`-9223372036854775808`).
const MAX_INT_TEXT: usize = 20;

/// A Redis set.
#[derive(Debug, Clone)]
pub struct Set {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Ints(Vec<i64>),
    Pack(Pack),
    Table {
        set: IndexSet<Bytes, RandomState>,
        /// Sum of member lengths.
        bytes: usize,
    },
}

impl PartialEq for Set {
    fn eq(&self, other: &Set) -> bool {
        self.len() == other.len() && self.iter().all(|m| other.contains(&m))
    }
}

impl Eq for Set {}

impl Default for Set {
    fn default() -> Set {
        Set::new()
    }
}

fn int_text(n: i64) -> Vec<u8> {
    n.to_string().into_bytes()
}

impl Set {
    /// An empty intset (Redis's `createIntsetObject`), which the first
    /// non-integer converts.
    pub fn new() -> Set {
        Set {
            repr: Repr::Ints(Vec::new()),
        }
    }

    /// An empty set in the encoding Redis's `setTypeCreate` picks for a
    /// first member `first` and about `hint` members to come.
    pub fn for_members(first: &[u8], hint: usize, limits: &EncodingLimits) -> Set {
        let repr = if parse_i64(first).is_some() && hint <= limits.set_max_intset_entries {
            Repr::Ints(Vec::new())
        } else if hint <= limits.set_max_listpack_entries {
            Repr::Pack(Pack::new())
        } else {
            Repr::Table {
                set: IndexSet::with_capacity_and_hasher(hint.min(1 << 16), RandomState::new()),
                bytes: 0,
            }
        };
        Set { repr }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(v) => v.len(),
            Repr::Pack(p) => p.len(),
            Repr::Table { set, .. } => set.len(),
        }
    }

    /// Whether it has no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING`'s name for the current encoding.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Ints(_) => "intset",
            Repr::Pack(_) => "listpack",
            Repr::Table { .. } => "hashtable",
        }
    }

    /// Accounted bytes.
    pub fn mem(&self) -> usize {
        COLLECTION_OVERHEAD
            + match &self.repr {
                Repr::Ints(v) => v.len() * size_of::<i64>(),
                Repr::Pack(p) => p.byte_len(),
                Repr::Table { set, bytes } => bytes + set.len() * TABLE_ENTRY_OVERHEAD,
            }
    }

    /// Whether `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(v) => parse_i64(member).is_some_and(|n| v.binary_search(&n).is_ok()),
            Repr::Pack(p) => p.iter().any(|e| e.bytes == member),
            Repr::Table { set, .. } => set.contains(member),
        }
    }

    /// Adds `member`, converting as Redis does; true if it is new.
    pub fn add(&mut self, member: &[u8], limits: &EncodingLimits) -> bool {
        match &mut self.repr {
            Repr::Ints(v) => {
                if let Some(n) = parse_i64(member) {
                    let Err(at) = v.binary_search(&n) else {
                        return false;
                    };
                    v.insert(at, n);
                    if v.len() > limits.set_max_intset_entries {
                        self.convert_to_table();
                    }
                    return true;
                }
                let longest = v.iter().map(|n| int_text(*n).len()).max().unwrap_or(0);
                let fits = v.len() < limits.set_max_listpack_entries
                    && member.len() <= limits.set_max_listpack_value
                    && longest.min(MAX_INT_TEXT) <= limits.set_max_listpack_value;
                if fits {
                    self.convert_to_pack();
                } else {
                    self.convert_to_table();
                }
                self.add(member, limits)
            }
            Repr::Pack(p) => {
                if p.iter().any(|e| e.bytes == member) {
                    return false;
                }
                if p.len() < limits.set_max_listpack_entries
                    && member.len() <= limits.set_max_listpack_value
                {
                    p.push(&[member]);
                    return true;
                }
                self.convert_to_table();
                self.add(member, limits)
            }
            Repr::Table { set, bytes } => {
                if set.contains(member) {
                    return false;
                }
                *bytes += member.len();
                set.insert(owned(member));
                true
            }
        }
    }

    /// Removes `member`; whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(v) => match parse_i64(member).map(|n| v.binary_search(&n)) {
                Some(Ok(at)) => {
                    v.remove(at);
                    true
                }
                _ => false,
            },
            Repr::Pack(p) => match p.iter().find(|e| e.bytes == member) {
                Some(e) => {
                    let off = e.offset;
                    p.remove(off, 1);
                    true
                }
                None => false,
            },
            Repr::Table { set, bytes } => {
                if set.swap_remove(member) {
                    *bytes -= member.len();
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Removes and returns the member at position `index` (`< len()`).
    pub fn remove_at(&mut self, index: usize) -> Bytes {
        match &mut self.repr {
            Repr::Ints(v) => Bytes::from(int_text(v.remove(index))),
            Repr::Pack(p) => {
                let off = p.offset_of(index);
                let member = owned(p.at(off).0);
                p.remove(off, 1);
                member
            }
            Repr::Table { set, bytes } => {
                let member = set.swap_remove_index(index).expect("index in bounds");
                *bytes -= member.len();
                member
            }
        }
    }

    fn convert_to_pack(&mut self) {
        let mut p = Pack::new();
        for m in self.iter() {
            p.push(&[&m]);
        }
        self.repr = Repr::Pack(p);
    }

    fn convert_to_table(&mut self) {
        let mut set = IndexSet::with_capacity_and_hasher(self.len() + 1, RandomState::new());
        let mut bytes = 0;
        for m in self.iter() {
            bytes += m.len();
            set.insert(owned(&m));
        }
        self.repr = Repr::Table { set, bytes };
    }

    /// Every member in the encoding's order (ascending for an intset).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Cow<'_, [u8]>> + '_> {
        match &self.repr {
            Repr::Ints(v) => Box::new(v.iter().map(|n| Cow::Owned(int_text(*n)))),
            Repr::Pack(p) => Box::new(p.iter().map(|e| Cow::Borrowed(e.bytes))),
            Repr::Table { set, .. } => Box::new(set.iter().map(|m| Cow::Borrowed(&m[..]))),
        }
    }

    /// The members at positions `indices` (each `< len()`).
    pub fn pick(&self, indices: &[usize]) -> Vec<Bytes> {
        match &self.repr {
            Repr::Ints(v) => indices
                .iter()
                .map(|&i| Bytes::from(int_text(v[i])))
                .collect(),
            Repr::Pack(p) => {
                let all: Vec<&[u8]> = p.iter().map(|e| e.bytes).collect();
                indices.iter().map(|&i| owned(all[i])).collect()
            }
            Repr::Table { set, .. } => indices
                .iter()
                .filter_map(|&i| set.get_index(i))
                .map(|m| owned(m))
                .collect(),
        }
    }

    /// One SSCAN step: a compact set answers whole with cursor 0; a table
    /// walks its index like SCAN.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Bytes>) {
        match &self.repr {
            Repr::Table { set, .. } => {
                let (slots, next) = scan_slots(set.len(), cursor, count);
                let items = slots
                    .into_iter()
                    .filter_map(|i| set.get_index(i))
                    .map(|m| owned(m))
                    .collect();
                (next, items)
            }
            _ => (0, self.iter().map(|m| owned(&m)).collect()),
        }
    }
}

impl Collection for Set {
    fn of(value: &Value) -> Option<&Set> {
        match value {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    fn of_mut(value: &mut Value) -> Option<&mut Set> {
        match value {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }

    fn into_value(self) -> Value {
        Value::Set(Box::new(self))
    }

    fn is_empty(&self) -> bool {
        Set::is_empty(self)
    }
}

#[cfg(test)]
mod tests;
