//! The sorted-set type, with Redis's two encodings behind one API.
//!
//! - **listpack**: member, score pairs in one [`Pack`], kept in order
//!   (score, then member); every operation is a short linear walk.
//! - **skiplist** (Redis's name, which `OBJECT ENCODING` reports): a
//!   member → score `IndexMap` (O(1) ZSCORE; its dense index gives ZSCAN
//!   SCAN's cursor guarantee and ZRANDMEMBER O(1) picks) plus the ordered
//!   [`index::ScoreIndex`] for O(log n) rank and range operations.
//!
//! A sorted set converts when it passes `zset-max-listpack-entries` members
//! or receives a member longer than `zset-max-listpack-value`; like Redis it
//! converts back only when a STORE command builds a new one that fits.
//! Positions are ranks: 0 is the lowest score.

mod index;
pub(crate) mod ops;
mod range;

use ahash::RandomState;
use bytes::Bytes;
use indexmap::IndexMap;

use crate::collection::{COLLECTION_OVERHEAD, Collection, EncodingLimits, owned, scan_slots};
use crate::pack::Pack;
use crate::record::Value;
use index::{NODE_SIZE, ScoreIndex, cmp_entry};

pub use ops::{Aggregate, ZAddFlags, ZAddOutcome, ZOp, ZRangeBy};
pub use range::{LexBound, LexRange, ScoreRange};

/// Charged per member of a big sorted set: its map entry (handle, score,
/// hash, index word) and its index node.
const TREE_ENTRY_OVERHEAD: usize =
    size_of::<Bytes>() + size_of::<f64>() + 2 * size_of::<usize>() + NODE_SIZE;

/// A Redis sorted set.
#[derive(Debug, Clone)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Pack(Pack),
    Tree {
        map: IndexMap<Bytes, f64, RandomState>,
        index: ScoreIndex,
        /// Sum of member lengths.
        bytes: usize,
    },
}

impl PartialEq for ZSet {
    fn eq(&self, other: &ZSet) -> bool {
        self.len() == other.len()
            && self
                .entries()
                .iter()
                .zip(other.entries())
                .all(|((m, s), (n, t))| *m == n && s.to_bits() == t.to_bits())
    }
}

impl Eq for ZSet {}

impl Default for ZSet {
    fn default() -> ZSet {
        ZSet::new()
    }
}

fn score_of(bytes: &[u8]) -> f64 {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[..8]);
    f64::from_le_bytes(raw)
}

/// Pairs of a pack: (member, score, offset of the member entry).
fn pack_pairs(p: &Pack) -> impl Iterator<Item = (&[u8], f64, usize)> {
    let mut it = p.iter();
    std::iter::from_fn(move || {
        let m = it.next()?;
        let s = it.next()?;
        Some((m.bytes, score_of(s.bytes), m.offset))
    })
}

impl ZSet {
    /// An empty, compact sorted set.
    pub fn new() -> ZSet {
        ZSet {
            repr: Repr::Pack(Pack::new()),
        }
    }

    /// An empty set in the encoding Redis's `zsetTypeCreate` picks for
    /// about `hint` members, the longest `longest` bytes.
    pub fn with_hint(hint: usize, longest: usize, limits: &EncodingLimits) -> ZSet {
        if hint <= limits.zset_max_listpack_entries && longest <= limits.zset_max_listpack_value {
            ZSet::new()
        } else {
            ZSet {
                repr: Repr::Tree {
                    map: IndexMap::with_capacity_and_hasher(hint.min(1 << 16), RandomState::new()),
                    index: ScoreIndex::default(),
                    bytes: 0,
                },
            }
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(p) => p.len() / 2,
            Repr::Tree { map, .. } => map.len(),
        }
    }

    /// Whether it has no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING`'s name for the current encoding.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Tree { .. } => "skiplist",
        }
    }

    /// Accounted bytes.
    pub fn mem(&self) -> usize {
        COLLECTION_OVERHEAD
            + match &self.repr {
                Repr::Pack(p) => p.byte_len(),
                Repr::Tree { map, bytes, .. } => bytes + map.len() * TREE_ENTRY_OVERHEAD,
            }
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Pack(p) => pack_pairs(p).find(|e| e.0 == member).map(|e| e.1),
            Repr::Tree { map, .. } => map.get(member).copied(),
        }
    }

    /// Sets `member`'s score (adding it if new), converting first if the
    /// set would pass a threshold; true if the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &EncodingLimits) -> bool {
        let existed = self.remove(member);
        if let Repr::Pack(p) = &self.repr
            && (p.len() / 2 >= limits.zset_max_listpack_entries
                || member.len() > limits.zset_max_listpack_value)
        {
            self.convert_to_tree();
        }
        match &mut self.repr {
            Repr::Pack(p) => {
                let at = pack_pairs(p)
                    .find(|e| cmp_entry(e.1, e.0, score, member).is_gt())
                    .map_or(p.byte_len(), |e| e.2);
                p.insert(at, &[member, &score.to_le_bytes()]);
            }
            Repr::Tree { map, index, bytes } => {
                let m = owned(member);
                *bytes += m.len();
                map.insert(m.clone(), score);
                index.insert(score, m);
            }
        }
        !existed
    }

    /// Removes `member`; whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Pack(p) => {
                let found = pack_pairs(p).find(|e| e.0 == member).map(|e| e.2);
                match found {
                    Some(off) => {
                        p.remove(off, 2);
                        true
                    }
                    None => false,
                }
            }
            Repr::Tree { map, index, bytes } => match map.swap_remove(member) {
                Some(score) => {
                    index.remove(score, member);
                    *bytes -= member.len();
                    true
                }
                None => false,
            },
        }
    }

    fn convert_to_tree(&mut self) {
        let entries = self.entries();
        let mut map = IndexMap::with_capacity_and_hasher(entries.len() + 1, RandomState::new());
        let mut index = ScoreIndex::default();
        let mut bytes = 0;
        for (m, s) in entries {
            bytes += m.len();
            map.insert(m.clone(), s);
            index.insert(s, m);
        }
        self.repr = Repr::Tree { map, index, bytes };
    }

    /// Rank of `member` (ascending) and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Pack(p) => pack_pairs(p)
                .enumerate()
                .find(|(_, e)| e.0 == member)
                .map(|(i, e)| (i, e.1)),
            Repr::Tree { map, index, .. } => {
                let score = *map.get(member)?;
                Some((index.rank(score, member), score))
            }
        }
    }

    /// Members of ranks `start..end` (clamped to the set), ascending.
    pub fn range(&self, start: usize, end: usize) -> Vec<(Bytes, f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match &self.repr {
            Repr::Pack(p) => pack_pairs(p)
                .skip(start)
                .take(end - start)
                .map(|e| (owned(e.0), e.1))
                .collect(),
            Repr::Tree { index, .. } => index
                .range(start, end)
                .into_iter()
                .map(|(s, m)| (m, s))
                .collect(),
        }
    }

    /// Every member and score, ascending.
    pub fn entries(&self) -> Vec<(Bytes, f64)> {
        self.range(0, self.len())
    }

    /// How many leading members (in order) satisfy `below` (true for a
    /// prefix of the order, then false).
    pub(crate) fn count_prefix(&self, below: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Pack(p) => pack_pairs(p).take_while(|e| below(e.1, e.0)).count(),
            Repr::Tree { index, .. } => index.count_prefix(below),
        }
    }

    /// Removes the members of ranks `start..end`; how many.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        if let Repr::Pack(p) = &mut self.repr {
            let off = p.offset_of(start * 2);
            p.remove(off, (end - start) * 2);
            return end - start;
        }
        for (m, _) in self.range(start, end) {
            self.remove(&m);
        }
        end - start
    }

    /// The members and scores at map positions `indices` (each `< len()`),
    /// for random picks: ranks for a compact set, the member map's dense
    /// index for a big one (O(1) each).
    pub fn pick(&self, indices: &[usize]) -> Vec<(Bytes, f64)> {
        match &self.repr {
            Repr::Pack(_) => {
                let all = self.entries();
                indices.iter().map(|&i| all[i].clone()).collect()
            }
            Repr::Tree { map, .. } => indices
                .iter()
                .filter_map(|&i| map.get_index(i))
                .map(|(m, s)| (owned(m), *s))
                .collect(),
        }
    }

    /// One ZSCAN step: a compact set answers whole with cursor 0; a big one
    /// walks its member map like SCAN.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<(Bytes, f64)>) {
        match &self.repr {
            Repr::Pack(_) => (0, self.entries()),
            Repr::Tree { map, .. } => {
                let (slots, next) = scan_slots(map.len(), cursor, count);
                let items = slots
                    .into_iter()
                    .filter_map(|i| map.get_index(i))
                    .map(|(m, s)| (owned(m), *s))
                    .collect();
                (next, items)
            }
        }
    }
}

impl Collection for ZSet {
    fn of(value: &Value) -> Option<&ZSet> {
        match value {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }

    fn of_mut(value: &mut Value) -> Option<&mut ZSet> {
        match value {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }

    fn into_value(self) -> Value {
        Value::ZSet(Box::new(self))
    }

    fn is_empty(&self) -> bool {
        ZSet::is_empty(self)
    }
}

#[cfg(test)]
mod tests;
