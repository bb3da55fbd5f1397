//! List commands as `impl Shard` operations: LPUSH, RPUSH, LPUSHX, RPUSHX,
//! LPOP, RPOP, LRANGE, LINDEX, LSET, LINSERT, LLEN, LREM, LTRIM, LPOS,
//! LMOVE (RPOPLPUSH), LMPOP.
//!
//! Each checks the key's type before it changes anything and follows
//! Redis's order of checks (LMOVE: a missing source is nil before the
//! destination's type is looked at).

use bytes::Bytes;

use super::{End, List};
use crate::collection::rank_interval;
use crate::error::StoreError;
use crate::shard::Shard;

/// LPOS's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LposOptions {
    /// Which match to start from: 1 the first from the head, -1 the first
    /// from the tail (never 0).
    pub rank: i64,
    /// Matches to return: `None` for a single one, `Some(0)` for all.
    pub count: Option<usize>,
    /// Elements to look at, 0 for all.
    pub maxlen: usize,
}

/// The `index`-th element from the head (`index < 0`: from the tail).
fn position(len: usize, index: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let at = if index < 0 { index + len } else { index };
    usize::try_from(at).ok().filter(|&at| (at as i64) < len)
}

impl Shard {
    /// LPUSH / RPUSH (`only_existing`: LPUSHX / RPUSHX): the list's length
    /// afterwards, 0 when `only_existing` and the key is missing.
    pub fn list_push(
        &mut self,
        key: &[u8],
        end: End,
        items: &[&[u8]],
        only_existing: bool,
    ) -> Result<usize, StoreError> {
        let push = |l: &mut List, limits: &_| {
            l.push(end, items, limits);
            l.len()
        };
        if only_existing {
            return Ok(self.modify_coll(key, push)?.unwrap_or(0));
        }
        self.upsert_coll(key, |_| List::new(), push)
    }

    /// LPOP / RPOP: up to `count` elements from `end`; `None` for a missing
    /// key.
    pub fn list_pop(
        &mut self,
        key: &[u8],
        end: End,
        count: usize,
    ) -> Result<Option<Vec<Bytes>>, StoreError> {
        self.modify_coll(key, |l: &mut List, limits| l.pop(end, count, limits))
    }

    /// LRANGE.
    pub fn lrange(&mut self, key: &[u8], start: i64, stop: i64) -> Result<Vec<Bytes>, StoreError> {
        let Some(list) = self.read_coll::<List>(key)? else {
            return Ok(Vec::new());
        };
        let (lo, hi) = rank_interval(list.len(), start, stop);
        Ok(if lo == hi {
            Vec::new()
        } else {
            list.range(lo, hi - 1)
        })
    }

    /// LINDEX.
    pub fn lindex(&mut self, key: &[u8], index: i64) -> Result<Option<Bytes>, StoreError> {
        Ok(self
            .read_coll::<List>(key)?
            .and_then(|l| position(l.len(), index).and_then(|at| l.get(at))))
    }

    /// LSET: `ERR no such key` for a missing key, `ERR index out of range`
    /// past either end.
    pub fn lset(&mut self, key: &[u8], index: i64, item: &[u8]) -> Result<(), StoreError> {
        let set = self.modify_coll(key, |l: &mut List, limits| {
            position(l.len(), index).is_some_and(|at| l.set(at, item, limits))
        })?;
        match set {
            None => Err(StoreError::NoSuchKey),
            Some(false) => Err(StoreError::IndexOutOfRange),
            Some(true) => Ok(()),
        }
    }

    /// LINSERT: the new length, -1 without the pivot, 0 for a missing key.
    pub fn linsert(
        &mut self,
        key: &[u8],
        before: bool,
        pivot: &[u8],
        item: &[u8],
    ) -> Result<i64, StoreError> {
        let n = self.modify_coll(key, |l: &mut List, limits| {
            if l.insert(pivot, item, before, limits) {
                l.len() as i64
            } else {
                -1
            }
        })?;
        Ok(n.unwrap_or(0))
    }

    /// LLEN.
    pub fn llen(&mut self, key: &[u8]) -> Result<usize, StoreError> {
        Ok(self.read_coll::<List>(key)?.map_or(0, List::len))
    }

    /// LREM: how many elements equal to `item` went (see [`List::remove`]).
    pub fn lrem(&mut self, key: &[u8], count: i64, item: &[u8]) -> Result<usize, StoreError> {
        let n = self.modify_coll(key, |l: &mut List, limits| l.remove(item, count, limits))?;
        Ok(n.unwrap_or(0))
    }

    /// LTRIM: keeps `start..=stop` (Redis's clamping); an empty range
    /// deletes the key.
    pub fn ltrim(&mut self, key: &[u8], start: i64, stop: i64) -> Result<(), StoreError> {
        self.modify_coll(key, |l: &mut List, limits| {
            let (lo, hi) = rank_interval(l.len(), start, stop);
            if lo == hi {
                l.retain_range(1, 0, limits);
            } else {
                l.retain_range(lo, hi - 1, limits);
            }
        })?;
        Ok(())
    }

    /// LPOS: the matching indexes (at most one without a COUNT); `None` for
    /// a missing key.
    pub fn lpos(
        &mut self,
        key: &[u8],
        item: &[u8],
        options: LposOptions,
    ) -> Result<Option<Vec<usize>>, StoreError> {
        let Some(list) = self.read_coll::<List>(key)? else {
            return Ok(None);
        };
        let len = list.len();
        let skip = usize::try_from(options.rank.unsigned_abs() - 1).unwrap_or(usize::MAX);
        let want = match options.count {
            None => 1,
            Some(0) => usize::MAX,
            Some(n) => n,
        };
        let scanned = if options.maxlen == 0 {
            len
        } else {
            options.maxlen.min(len)
        };
        let matches = |it: &mut dyn Iterator<Item = &[u8]>| -> Vec<usize> {
            it.take(scanned)
                .enumerate()
                .filter(|(_, e)| *e == item)
                .map(|(i, _)| i)
                .skip(skip)
                .take(want)
                .collect()
        };
        Ok(Some(if options.rank > 0 {
            matches(&mut list.iter())
        } else {
            matches(&mut list.iter_rev())
                .into_iter()
                .map(|i| len - 1 - i)
                .collect()
        }))
    }

    /// LMOVE / RPOPLPUSH: pops from `src`'s `from` end and pushes at
    /// `dst`'s `to` end (the same key rotates); `None` when `src` is
    /// missing. WRONGTYPE on either key changes nothing.
    pub fn lmove(
        &mut self,
        src: &[u8],
        dst: &[u8],
        from: End,
        to: End,
    ) -> Result<Option<Bytes>, StoreError> {
        if self.peek_coll::<List>(src)?.is_none() {
            return Ok(None);
        }
        self.peek_coll::<List>(dst)?;
        let Some(mut popped) = self.list_pop(src, from, 1)? else {
            return Ok(None);
        };
        let Some(item) = popped.pop() else {
            return Ok(None);
        };
        self.list_push(dst, to, &[&item], false)?;
        Ok(Some(item))
    }

    /// LMPOP: up to `count` elements from `end` of the first non-empty list
    /// among `keys`, with its key; WRONGTYPE if a key before it holds
    /// another type.
    pub fn lmpop(
        &mut self,
        keys: &[&[u8]],
        end: End,
        count: usize,
    ) -> Result<Option<(Bytes, Vec<Bytes>)>, StoreError> {
        for key in keys {
            if self.peek_coll::<List>(key)?.is_some() {
                let items = self.list_pop(key, end, count)?.unwrap_or_default();
                return Ok(Some((Bytes::copy_from_slice(key), items)));
            }
        }
        Ok(None)
    }
}
