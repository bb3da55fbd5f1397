//! Set commands as `impl Shard` operations: SADD, SREM, SMEMBERS,
//! SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER, SMOVE, SINTER, SUNION,
//! SDIFF (and their STORE forms), SINTERCARD, SSCAN.
//!
//! The multi-key operations read every key on this shard (the command
//! layer routes them to one core).

use std::borrow::Cow;

use bytes::Bytes;

use super::Set;
use crate::collection::{owned, random_indices};
use crate::error::StoreError;
use crate::glob::glob_match;
use crate::shard::Shard;

/// Which combination SINTER / SUNION / SDIFF make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    /// Members in every set.
    Inter,
    /// Members in any set.
    Union,
    /// Members of the first set in none of the others.
    Diff,
}

/// Combines `sets` (a missing key is an empty set). SINTER walks the
/// smallest set and stops at `limit` members (0 = no limit, SINTERCARD's
/// LIMIT); the others ignore the limit.
fn combine(sets: &[Option<&Set>], op: SetOp, limit: usize) -> Vec<Bytes> {
    match op {
        SetOp::Inter => {
            if sets.iter().any(Option::is_none) || sets.is_empty() {
                return Vec::new();
            }
            let mut all: Vec<&Set> = sets.iter().flatten().copied().collect();
            all.sort_by_key(|s| s.len());
            let (first, rest) = all.split_first().expect("not empty");
            let mut out = Vec::new();
            for m in first.iter() {
                if rest.iter().all(|s| s.contains(&m)) {
                    out.push(owned(&m));
                    if limit != 0 && out.len() >= limit {
                        break;
                    }
                }
            }
            out
        }
        SetOp::Union => {
            let mut seen = indexmap::IndexSet::<Cow<'_, [u8]>, ahash::RandomState>::default();
            for s in sets.iter().flatten() {
                seen.extend(s.iter());
            }
            seen.into_iter().map(|m| owned(&m)).collect()
        }
        SetOp::Diff => {
            let Some(Some(first)) = sets.first() else {
                return Vec::new();
            };
            first
                .iter()
                .filter(|m| sets[1..].iter().flatten().all(|s| !s.contains(m)))
                .map(|m| owned(&m))
                .collect()
        }
    }
}

impl Shard {
    /// SADD: how many of the members are new.
    pub fn sadd(&mut self, key: &[u8], members: &[&[u8]]) -> Result<usize, StoreError> {
        let Some(first) = members.first() else {
            return Ok(0);
        };
        let hint = members.len();
        self.upsert_coll(
            key,
            |limits| Set::for_members(first, hint, limits),
            |s, limits| members.iter().filter(|m| s.add(m, limits)).count(),
        )
    }

    /// SREM: how many of the members were removed.
    pub fn srem(&mut self, key: &[u8], members: &[&[u8]]) -> Result<usize, StoreError> {
        let n = self.modify_coll(key, |s: &mut Set, _| {
            members.iter().filter(|m| s.remove(m)).count()
        })?;
        Ok(n.unwrap_or(0))
    }

    /// SMEMBERS.
    pub fn smembers(&mut self, key: &[u8]) -> Result<Vec<Bytes>, StoreError> {
        Ok(self
            .read_coll::<Set>(key)?
            .map_or_else(Vec::new, |s| s.iter().map(|m| owned(&m)).collect()))
    }

    /// SISMEMBER.
    pub fn sismember(&mut self, key: &[u8], member: &[u8]) -> Result<bool, StoreError> {
        Ok(self
            .read_coll::<Set>(key)?
            .is_some_and(|s| s.contains(member)))
    }

    /// SMISMEMBER: one answer per member.
    pub fn smismember<'a>(
        &mut self,
        key: &[u8],
        members: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<bool>, StoreError> {
        let s = self.read_coll::<Set>(key)?;
        Ok(members
            .into_iter()
            .map(|m| s.is_some_and(|s| s.contains(m)))
            .collect())
    }

    /// SCARD.
    pub fn scard(&mut self, key: &[u8]) -> Result<usize, StoreError> {
        Ok(self.read_coll::<Set>(key)?.map_or(0, Set::len))
    }

    /// SPOP: removes and returns up to `count` random members (all of
    /// them, in the set's order, when `count` covers the set); `None` for a
    /// missing key.
    pub fn spop(&mut self, key: &[u8], count: usize) -> Result<Option<Vec<Bytes>>, StoreError> {
        let len = match self.peek_coll::<Set>(key)? {
            Some(s) => s.len(),
            None => return Ok(None),
        };
        if count >= len {
            let all = self.smembers(key)?;
            self.remove_emptied(key);
            return Ok(Some(all));
        }
        let mut rng_picks = Vec::with_capacity(count);
        for left in (len - count + 1..=len).rev() {
            rng_picks.push(rand::Rng::random_range(&mut self.rng, 0..left));
        }
        self.modify_coll(key, |s: &mut Set, _| {
            rng_picks.into_iter().map(|i| s.remove_at(i)).collect()
        })
    }

    /// SRANDMEMBER with Redis's count rule (see `random_indices`); `None`
    /// for a missing key.
    pub fn srandmember(
        &mut self,
        key: &[u8],
        count: i64,
    ) -> Result<Option<Vec<Bytes>>, StoreError> {
        let len = match self.read_coll::<Set>(key)? {
            Some(s) => s.len(),
            None => return Ok(None),
        };
        let picks = random_indices(&mut self.rng, len, count);
        Ok(self.peek_coll::<Set>(key)?.map(|s| s.pick(&picks)))
    }

    /// SMOVE: moves `member` from `src` to `dst` (created if missing);
    /// whether it was in `src`. A missing `src` is 0 before anything is
    /// checked; then WRONGTYPE if either key holds another type (Redis's
    /// order).
    pub fn smove(&mut self, src: &[u8], dst: &[u8], member: &[u8]) -> Result<bool, StoreError> {
        let present = match self.peek_coll::<Set>(src)? {
            Some(s) => s.contains(member),
            None => return Ok(false),
        };
        self.peek_coll::<Set>(dst)?;
        if src == dst || !present {
            return Ok(present);
        }
        self.modify_coll(src, |s: &mut Set, _| s.remove(member))?;
        self.upsert_coll(
            dst,
            |limits| Set::for_members(member, 1, limits),
            |s, limits| s.add(member, limits),
        )?;
        Ok(true)
    }

    /// SINTER / SUNION / SDIFF over `keys` (see [`SetOp`]); `limit` bounds
    /// an intersection (0 = none).
    pub fn set_combine(
        &mut self,
        keys: &[&[u8]],
        op: SetOp,
        limit: usize,
    ) -> Result<Vec<Bytes>, StoreError> {
        let sets = self.read_many::<Set>(keys)?;
        Ok(combine(&sets, op, limit))
    }

    /// The STORE forms: the combination is stored at `dst` (replacing
    /// whatever was there, deleting it when empty); returns its size.
    pub fn set_combine_store(
        &mut self,
        dst: &[u8],
        keys: &[&[u8]],
        op: SetOp,
    ) -> Result<usize, StoreError> {
        let members = self.set_combine(keys, op, 0)?;
        let limits = self.config.encoding;
        let mut set = match members.first() {
            Some(first) => Set::for_members(first, members.len(), &limits),
            None => Set::new(),
        };
        for m in &members {
            set.add(m, &limits);
        }
        let n = set.len();
        self.store_coll(dst, set);
        Ok(n)
    }

    /// SSCAN step: the next cursor and the members visited (all of a
    /// compact set at once), matching `pattern`.
    pub fn sscan(
        &mut self,
        key: &[u8],
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> Result<(u64, Vec<Bytes>), StoreError> {
        let Some(s) = self.read_coll::<Set>(key)? else {
            return Ok((0, Vec::new()));
        };
        let (next, mut items) = s.scan(cursor, count);
        if let Some(p) = pattern.filter(|p| *p != b"*") {
            items.retain(|m| glob_match(p, m, false));
        }
        Ok((next, items))
    }
}
