//! What every collection type shares: the conversion thresholds, and the
//! shard's read / update / store primitives over a typed value, which keep
//! memory accounting and empty-key removal in one place.
//!
//! A collection charges [`Value::payload_len`] as it grows and shrinks, per
//! element: an update measures the value before and after and moves
//! `used_memory` by the difference, so tenant quotas see every HSET, not only
//! the key's creation. A collection left empty by an update is deleted, as
//! Redis deletes an emptied key.

use bytes::Bytes;

use crate::error::StoreError;
use crate::record::{Record, Value};
use crate::shard::Shard;

/// Redis's conversion thresholds between the compact and the big encoding
/// of each type, with Redis's defaults; `CONFIG SET` changes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodingLimits {
    /// `hash-max-listpack-entries`: fields a compact hash may hold.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`: longest field or value a compact hash holds.
    pub hash_max_listpack_value: usize,
    /// `set-max-intset-entries`: members an integer set may hold.
    pub set_max_intset_entries: usize,
    /// `set-max-listpack-entries`: members a compact set may hold.
    pub set_max_listpack_entries: usize,
    /// `set-max-listpack-value`: longest member a compact set holds.
    pub set_max_listpack_value: usize,
    /// `zset-max-listpack-entries`: members a compact sorted set may hold.
    pub zset_max_listpack_entries: usize,
    /// `zset-max-listpack-value`: longest member a compact sorted set holds.
    pub zset_max_listpack_value: usize,
    /// `list-max-listpack-size`: positive, entries per compact list;
    /// -1..=-5, its size in bytes (4, 8, 16, 32, 64 KiB).
    pub list_max_listpack_size: i64,
}

impl Default for EncodingLimits {
    fn default() -> EncodingLimits {
        EncodingLimits {
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            list_max_listpack_size: -2,
        }
    }
}

/// Heap bytes charged for a collection's own header (the boxed type and
/// its encoding's bookkeeping), on top of its elements.
pub(crate) const COLLECTION_OVERHEAD: usize = 48;

/// A collection type stored in a [`Value`] variant.
pub(crate) trait Collection: Sized {
    /// The collection, if `value` holds this type.
    fn of(value: &Value) -> Option<&Self>;
    /// The collection to change, if `value` holds this type.
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
    /// Wraps it into a value.
    fn into_value(self) -> Value;
    /// Whether it holds no element (and so must not stay in the table).
    fn is_empty(&self) -> bool;
}

impl Shard {
    /// The collection at a live `key` for a reading command (counts hits and
    /// misses); `Ok(None)` when missing, WRONGTYPE for another type.
    pub(crate) fn read_coll<T: Collection>(
        &mut self,
        key: &[u8],
    ) -> Result<Option<&T>, StoreError> {
        match self.read_index(key) {
            Some(idx) => T::of(&self.table[idx].value)
                .map(Some)
                .ok_or(StoreError::WrongType),
            None => Ok(None),
        }
    }

    /// As [`Self::read_coll`] for a write path (no hit / miss counting).
    pub(crate) fn peek_coll<T: Collection>(
        &mut self,
        key: &[u8],
    ) -> Result<Option<&T>, StoreError> {
        match self.live_index(key) {
            Some(idx) => T::of(&self.table[idx].value)
                .map(Some)
                .ok_or(StoreError::WrongType),
            None => Ok(None),
        }
    }

    /// Runs `f` on the collection at `key`, charging what it grows or frees
    /// and deleting the key if it is left empty; `Ok(None)` for a missing
    /// key, WRONGTYPE (before anything changes) for another type.
    pub(crate) fn modify_coll<T: Collection, R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(&mut T, &EncodingLimits) -> R,
    ) -> Result<Option<R>, StoreError> {
        let limits = self.config.encoding;
        let Some(idx) = self.live_index(key) else {
            return Ok(None);
        };
        self.snapshot_before_write(idx);
        let value = &mut self.table[idx].value;
        let before = value.payload_len();
        let coll = T::of_mut(value).ok_or(StoreError::WrongType)?;
        let out = f(coll, &limits);
        let empty = coll.is_empty();
        let after = value.payload_len();
        self.used_memory = self.used_memory - before + after;
        if empty {
            let (key, _) = self.remove_at(idx);
            self.note(&key, crate::events::EventKind::Emptied);
        }
        Ok(Some(out))
    }

    /// [`Self::modify_coll`], but a missing key runs `f` on the new
    /// collection `make` builds; the key exists afterwards only if that
    /// collection is not empty (a failed HINCRBY creates nothing).
    pub(crate) fn upsert_coll<T: Collection, R>(
        &mut self,
        key: &[u8],
        make: impl FnOnce(&EncodingLimits) -> T,
        f: impl FnOnce(&mut T, &EncodingLimits) -> R,
    ) -> Result<R, StoreError> {
        let limits = self.config.encoding;
        if self.live_index(key).is_some() {
            return self
                .modify_coll(key, f)
                .map(|out| out.expect("key is live"));
        }
        let mut coll = make(&limits);
        let out = f(&mut coll, &limits);
        if !coll.is_empty() {
            self.insert_new(
                Bytes::copy_from_slice(key),
                Record {
                    value: coll.into_value(),
                    expire_at: None,
                    access: 0,
                },
            );
        }
        Ok(out)
    }

    /// The collections at several keys of this shard for a reading
    /// command, each `None` when missing; WRONGTYPE if any holds another
    /// type. Every key is looked up (and reaped if expired) before any is
    /// borrowed, since reaping moves the table's slots.
    pub(crate) fn read_many<T: Collection>(
        &mut self,
        keys: &[&[u8]],
    ) -> Result<Vec<Option<&T>>, StoreError> {
        for key in keys {
            self.read_index(key);
        }
        keys.iter()
            .map(|key| match self.table.get(*key) {
                Some(record) => T::of(&record.value).map(Some).ok_or(StoreError::WrongType),
                None => Ok(None),
            })
            .collect()
    }

    /// Removes a collection a command took every element of.
    pub(crate) fn remove_emptied(&mut self, key: &[u8]) {
        if let Some(idx) = self.live_index(key) {
            let (key, _) = self.remove_at(idx);
            self.note(&key, crate::events::EventKind::Emptied);
        }
    }

    /// Stores `coll` at `key` whatever the key held (the STORE commands),
    /// without a deadline; an empty one deletes the key.
    pub(crate) fn store_coll<T: Collection>(&mut self, key: &[u8], coll: T) {
        if let Some(idx) = self.live_index(key) {
            if coll.is_empty() {
                // An empty result deletes the destination (Redis's `del`).
                let (key, _) = self.remove_at(idx);
                self.note(&key, crate::events::EventKind::Emptied);
            } else {
                // Overwritten in place: the key is not new.
                self.replace_value(idx, coll.into_value());
                self.set_deadline(idx, None);
            }
            return;
        }
        if !coll.is_empty() {
            self.insert_new(
                Bytes::copy_from_slice(key),
                Record {
                    value: coll.into_value(),
                    expire_at: None,
                    access: 0,
                },
            );
        }
    }

    /// The thresholds new and growing collections convert at.
    pub fn encoding_limits(&self) -> EncodingLimits {
        self.config.encoding
    }

    /// Changes the thresholds (`CONFIG SET`); existing collections keep
    /// their encoding until they next grow past one, as in Redis.
    pub fn set_encoding_limits(&mut self, limits: EncodingLimits) {
        self.config.encoding = limits;
    }
}

/// Normalises a Redis count: the draws a random-member command makes.
/// Repeated draws (a negative count) are capped so that a hostile count
/// cannot make the server build an unbounded reply.
pub const MAX_RANDOM_DRAWS: u64 = 1 << 24;

/// Cursor walk over a dense index of `len` slots, as SCAN's (see
/// `scan.rs`): descending, `cursor - 1` next, 0 when done. Returns the
/// slots to visit (high to low) and the next cursor.
pub(crate) fn scan_slots(len: usize, cursor: u64, count: usize) -> (Vec<usize>, u64) {
    if len == 0 {
        return (Vec::new(), 0);
    }
    let last = len - 1;
    let start = if cursor == 0 {
        last
    } else {
        usize::try_from(cursor - 1).map_or(last, |c| c.min(last))
    };
    let n = count.max(1).min(start + 1);
    let slots: Vec<usize> = (0..n).map(|i| start - i).collect();
    let next = if start + 1 == n {
        0
    } else {
        (start - n + 1) as u64
    };
    (slots, next)
}

/// Redis's clamping of a rank interval over `len` members, as `lo..hi`
/// (LRANGE, LTRIM, ZRANGE, ZREMRANGEBYRANK): negative positions count from
/// the end; an empty interval is `(0, 0)`.
pub(crate) fn rank_interval(len: usize, start: i64, stop: i64) -> (usize, usize) {
    let len = len as i64;
    let (mut start, mut stop) = (start, stop);
    if start < 0 {
        start += len;
    }
    if stop < 0 {
        stop += len;
    }
    start = start.max(0);
    if start > stop || start >= len {
        return (0, 0);
    }
    stop = stop.min(len - 1);
    (start as usize, stop as usize + 1)
}

/// Builds a whole value from bytes, for the compact encodings' copies.
pub(crate) fn owned(bytes: &[u8]) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

/// Positions for a random-member command over `len` elements: for
/// `count >= 0`, `min(count, len)` distinct ones (all, in order, when the
/// count covers the collection); for `count < 0`, `|count|` independent
/// draws, repeats allowed. The caller bounds a negative count (see
/// [`MAX_RANDOM_DRAWS`]).
pub(crate) fn random_indices(rng: &mut impl rand::Rng, len: usize, count: i64) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    if count >= 0 {
        let want = usize::try_from(count).unwrap_or(usize::MAX);
        if want >= len {
            return (0..len).collect();
        }
        return rand::seq::index::sample(rng, len, want).into_vec();
    }
    let draws = usize::try_from(count.unsigned_abs().min(MAX_RANDOM_DRAWS)).unwrap_or(0);
    (0..draws).map(|_| rng.random_range(0..len)).collect()
}
