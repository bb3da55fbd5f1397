//! Hash commands as `impl Shard` operations: HSET, HSETNX, HGET, HMGET,
//! HGETALL, HDEL, HEXISTS, HLEN, HSTRLEN, HKEYS, HVALS, HINCRBY,
//! HINCRBYFLOAT, HRANDFIELD, HSCAN.

use bytes::Bytes;

use super::Hash;
use crate::collection::{owned, random_indices};
use crate::error::StoreError;
use crate::numeric::{format_f64, parse_f64, parse_i64};
use crate::shard::Shard;

type Pairs = Vec<(Bytes, Bytes)>;

fn new_hash(_: &crate::collection::EncodingLimits) -> Hash {
    Hash::new()
}

impl Shard {
    /// HSET: sets each field, creating the hash; returns how many fields
    /// are new.
    pub fn hset<'a>(
        &mut self,
        key: &[u8],
        pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<usize, StoreError> {
        self.upsert_coll(key, new_hash, |h, limits| {
            pairs
                .into_iter()
                .filter(|(f, v)| h.insert(f, v, limits))
                .count()
        })
    }

    /// HSETNX: sets `field` only if it is absent; whether it did.
    pub fn hsetnx(&mut self, key: &[u8], field: &[u8], value: &[u8]) -> Result<bool, StoreError> {
        self.upsert_coll(key, new_hash, |h, limits| {
            h.get(field).is_none() && h.insert(field, value, limits)
        })
    }

    /// HGET.
    pub fn hget(&mut self, key: &[u8], field: &[u8]) -> Result<Option<Bytes>, StoreError> {
        Ok(self
            .read_coll::<Hash>(key)?
            .and_then(|h| h.get(field))
            .map(owned))
    }

    /// HMGET: one answer per field, in order.
    pub fn hmget<'a>(
        &mut self,
        key: &[u8],
        fields: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<Option<Bytes>>, StoreError> {
        let h = self.read_coll::<Hash>(key)?;
        Ok(fields
            .into_iter()
            .map(|f| h.and_then(|h| h.get(f)).map(owned))
            .collect())
    }

    /// HGETALL: every field and value (empty for a missing key).
    pub fn hgetall(&mut self, key: &[u8]) -> Result<Pairs, StoreError> {
        Ok(self.read_coll::<Hash>(key)?.map_or_else(Vec::new, |h| {
            h.iter().map(|(f, v)| (owned(f), owned(v))).collect()
        }))
    }

    /// HKEYS.
    pub fn hkeys(&mut self, key: &[u8]) -> Result<Vec<Bytes>, StoreError> {
        Ok(self
            .read_coll::<Hash>(key)?
            .map_or_else(Vec::new, |h| h.iter().map(|(f, _)| owned(f)).collect()))
    }

    /// HVALS.
    pub fn hvals(&mut self, key: &[u8]) -> Result<Vec<Bytes>, StoreError> {
        Ok(self
            .read_coll::<Hash>(key)?
            .map_or_else(Vec::new, |h| h.iter().map(|(_, v)| owned(v)).collect()))
    }

    /// HDEL: how many of the fields were removed; an emptied hash is deleted.
    pub fn hdel<'a>(
        &mut self,
        key: &[u8],
        fields: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<usize, StoreError> {
        let removed = self.modify_coll(key, |h: &mut Hash, _| {
            fields.into_iter().filter(|f| h.remove(f)).count()
        })?;
        Ok(removed.unwrap_or(0))
    }

    /// HEXISTS.
    pub fn hexists(&mut self, key: &[u8], field: &[u8]) -> Result<bool, StoreError> {
        Ok(self
            .read_coll::<Hash>(key)?
            .is_some_and(|h| h.get(field).is_some()))
    }

    /// HLEN.
    pub fn hlen(&mut self, key: &[u8]) -> Result<usize, StoreError> {
        Ok(self.read_coll::<Hash>(key)?.map_or(0, Hash::len))
    }

    /// HSTRLEN: length of the field's value, 0 if missing.
    pub fn hstrlen(&mut self, key: &[u8], field: &[u8]) -> Result<usize, StoreError> {
        Ok(self
            .read_coll::<Hash>(key)?
            .and_then(|h| h.get(field))
            .map_or(0, <[u8]>::len))
    }

    /// HINCRBY: adds `delta` to the integer in `field` (0 if missing).
    pub fn hincrby(&mut self, key: &[u8], field: &[u8], delta: i64) -> Result<i64, StoreError> {
        self.upsert_coll(key, new_hash, |h, limits| {
            let current = match h.get(field) {
                Some(v) => parse_i64(v).ok_or(StoreError::HashNotInteger)?,
                None => 0,
            };
            let next = current.checked_add(delta).ok_or(StoreError::Overflow)?;
            h.insert(field, next.to_string().as_bytes(), limits);
            Ok(next)
        })?
    }

    /// HINCRBYFLOAT: adds `delta` to the float in `field` (0 if missing);
    /// returns the stored text.
    pub fn hincrbyfloat(
        &mut self,
        key: &[u8],
        field: &[u8],
        delta: f64,
    ) -> Result<Bytes, StoreError> {
        self.upsert_coll(key, new_hash, |h, limits| {
            let current = match h.get(field) {
                Some(v) => parse_f64(v).ok_or(StoreError::HashNotFloat)?,
                None => 0.0,
            };
            let next = current + delta;
            if !next.is_finite() {
                return Err(StoreError::NanOrInfinity);
            }
            let text = Bytes::from(format_f64(next));
            h.insert(field, &text, limits);
            Ok(text)
        })?
    }

    /// HRANDFIELD: `count` as Redis reads it (see `random_indices`); `None`
    /// for a missing key.
    pub fn hrandfield(&mut self, key: &[u8], count: i64) -> Result<Option<Pairs>, StoreError> {
        let len = match self.read_coll::<Hash>(key)? {
            Some(h) => h.len(),
            None => return Ok(None),
        };
        let picks = random_indices(&mut self.rng, len, count);
        Ok(self.peek_coll::<Hash>(key)?.map(|h| h.pick(&picks)))
    }

    /// HSCAN step: the next cursor and the fields and values it visited
    /// (all of a compact hash at once, as Redis), matching `pattern`.
    pub fn hscan(
        &mut self,
        key: &[u8],
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> Result<(u64, Pairs), StoreError> {
        let Some(h) = self.read_coll::<Hash>(key)? else {
            return Ok((0, Vec::new()));
        };
        let (next, mut items) = h.scan(cursor, count);
        if let Some(p) = pattern.filter(|p| *p != b"*") {
            items.retain(|(f, _)| crate::glob::glob_match(p, f, false));
        }
        Ok((next, items))
    }
}
