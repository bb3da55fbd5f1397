//! Sorted-set commands as `impl Shard` operations: ZADD, ZINCRBY, ZREM,
//! ZSCORE, ZMSCORE, ZCARD, ZCOUNT, ZLEXCOUNT, the ZRANGE family and
//! ZRANGESTORE, ZRANK / ZREVRANK, ZPOPMIN / ZPOPMAX, ZMPOP, ZRANDMEMBER,
//! ZUNION / ZINTER / ZDIFF (and STORE forms), ZINTERCARD, the ZREMRANGEBY*
//! commands and ZSCAN.
//!
//! Rank arguments arrive as Redis gives them (negative counts from the end)
//! and are clamped here, as `zrangeGenericCommand` does.

use ahash::RandomState;
use bytes::Bytes;
use indexmap::IndexMap;

use super::index::cmp_entry;
use super::{LexRange, ScoreRange, ZSet};
use crate::collection::{random_indices, rank_interval};
use crate::error::StoreError;
use crate::glob::glob_match;
use crate::record::Value;
use crate::set::Set;
use crate::shard::Shard;

type Scored = Vec<(Bytes, f64)>;

/// ZADD's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZAddFlags {
    /// NX: only add new members.
    pub nx: bool,
    /// XX: only update existing members.
    pub xx: bool,
    /// GT: only update when the new score is greater.
    pub gt: bool,
    /// LT: only update when the new score is less.
    pub lt: bool,
    /// CH: count changed members too.
    pub ch: bool,
    /// INCR: add to the score (one pair) and return it.
    pub incr: bool,
}

/// What ZADD answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ZAddOutcome {
    /// Members added (and with CH, changed).
    Count(usize),
    /// INCR: the new score, `None` when a condition stopped it.
    Score(Option<f64>),
}

/// How ZUNION / ZINTER combine a member's scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregate {
    /// The weighted sum (NaN, from `inf + -inf`, becomes 0 as in Redis).
    #[default]
    Sum,
    /// The smallest weighted score.
    Min,
    /// The largest weighted score.
    Max,
}

/// Which combination of sorted sets (or sets, whose members score 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZOp {
    /// Members in any input.
    Union,
    /// Members in every input.
    Inter,
    /// Members of the first input in no other (scores from the first).
    Diff,
}

/// What a ZRANGE selects.
#[derive(Debug, Clone, PartialEq)]
pub enum ZRangeBy {
    /// Ranks `start..=stop`, negative counting from the end.
    Rank(i64, i64),
    /// A score interval.
    Score(ScoreRange),
    /// A lex interval.
    Lex(LexRange),
}

fn aggregate(agg: Aggregate, old: f64, new: f64) -> f64 {
    match agg {
        Aggregate::Sum => {
            let s = old + new;
            if s.is_nan() { 0.0 } else { s }
        }
        Aggregate::Min => old.min(new),
        Aggregate::Max => old.max(new),
    }
}

fn weighted(score: f64, weight: f64) -> f64 {
    let v = score * weight;
    if v.is_nan() { 0.0 } else { v }
}

/// One input of a combination.
#[derive(Clone, Copy)]
enum Src<'a> {
    Missing,
    Sorted(&'a ZSet),
    Plain(&'a Set),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Sorted(z) => z.len(),
            Src::Plain(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Sorted(z) => z.score(member),
            Src::Plain(s) => s.contains(member).then_some(1.0),
        }
    }

    fn entries(&self) -> Scored {
        match self {
            Src::Missing => Vec::new(),
            Src::Sorted(z) => z.entries(),
            Src::Plain(s) => s
                .iter()
                .map(|m| (Bytes::copy_from_slice(&m), 1.0))
                .collect(),
        }
    }
}

/// Combines inputs; `limit` stops an intersection early (0 = none).
fn combine(srcs: &[Src<'_>], weights: &[f64], agg: Aggregate, op: ZOp, limit: usize) -> Scored {
    let mut order: Vec<usize> = (0..srcs.len()).collect();
    let mut out: Scored = match op {
        ZOp::Diff => {
            let Some(first) = srcs.first() else {
                return Vec::new();
            };
            first
                .entries()
                .into_iter()
                .filter(|(m, _)| srcs[1..].iter().all(|s| s.score(m).is_none()))
                .collect()
        }
        ZOp::Inter => {
            if srcs.iter().any(|s| s.len() == 0) {
                return Vec::new();
            }
            order.sort_by_key(|&i| srcs[i].len());
            let mut out = Vec::new();
            'members: for (m, s) in srcs[order[0]].entries() {
                let mut score = weighted(s, weights[order[0]]);
                for &j in &order[1..] {
                    match srcs[j].score(&m) {
                        Some(other) => score = aggregate(agg, score, weighted(other, weights[j])),
                        None => continue 'members,
                    }
                }
                out.push((m, score));
                if limit != 0 && out.len() >= limit {
                    break;
                }
            }
            out
        }
        ZOp::Union => {
            order.sort_by_key(|&i| srcs[i].len());
            let mut acc: IndexMap<Bytes, f64, RandomState> = IndexMap::default();
            for &i in &order {
                for (m, s) in srcs[i].entries() {
                    let v = weighted(s, weights[i]);
                    match acc.get_mut(&m) {
                        Some(old) => *old = aggregate(agg, *old, v),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            acc.into_iter().collect()
        }
    };
    out.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
    out
}

/// A sorted set built from `items` in the encoding their size calls for.
pub(crate) fn build(items: &[(Bytes, f64)], limits: &crate::collection::EncodingLimits) -> ZSet {
    let longest = items.iter().map(|i| i.0.len()).max().unwrap_or(0);
    let mut z = ZSet::with_hint(items.len(), longest, limits);
    for (m, s) in items {
        z.insert(m, *s, limits);
    }
    z
}

impl Shard {
    /// ZADD (and, with `incr`, ZINCRBY) with Redis's per-member rules.
    pub fn zadd(
        &mut self,
        key: &[u8],
        items: &[(f64, &[u8])],
        flags: ZAddFlags,
    ) -> Result<ZAddOutcome, StoreError> {
        if flags.xx && self.peek_coll::<ZSet>(key)?.is_none() {
            return Ok(if flags.incr {
                ZAddOutcome::Score(None)
            } else {
                ZAddOutcome::Count(0)
            });
        }
        let longest = items.iter().map(|i| i.1.len()).max().unwrap_or(0);
        let hint = items.len();
        let mut touched = false;
        let outcome = self.upsert_coll(
            key,
            |limits| ZSet::with_hint(hint, longest, limits),
            |z, limits| {
                let (mut added, mut changed, mut last) = (0, 0, None);
                for &(score, member) in items {
                    last = None;
                    match z.score(member) {
                        Some(current) => {
                            if flags.nx {
                                continue;
                            }
                            let next = if flags.incr { current + score } else { score };
                            if next.is_nan() {
                                return Err(StoreError::ScoreNan);
                            }
                            if (flags.lt && next >= current) || (flags.gt && next <= current) {
                                continue;
                            }
                            if next != current {
                                z.insert(member, next, limits);
                                changed += 1;
                            }
                            last = Some(next);
                        }
                        None => {
                            if flags.xx {
                                continue;
                            }
                            z.insert(member, score, limits);
                            added += 1;
                            last = Some(score);
                        }
                    }
                }
                touched = added + changed > 0;
                Ok(if flags.incr {
                    ZAddOutcome::Score(last)
                } else if flags.ch {
                    ZAddOutcome::Count(added + changed)
                } else {
                    ZAddOutcome::Count(added)
                })
            },
        )??;
        if touched {
            // Only the store knows whether a score changed (Redis notifies
            // then, whatever the reply counts).
            let name = if flags.incr { "zincr" } else { "zadd" };
            self.push_event(key, crate::class::ZSET, name, true);
        }
        Ok(outcome)
    }

    /// ZREM: how many members were removed.
    pub fn zrem(&mut self, key: &[u8], members: &[&[u8]]) -> Result<usize, StoreError> {
        let n = self.modify_coll(key, |z: &mut ZSet, _| {
            members.iter().filter(|m| z.remove(m)).count()
        })?;
        Ok(n.unwrap_or(0))
    }

    /// ZSCORE.
    pub fn zscore(&mut self, key: &[u8], member: &[u8]) -> Result<Option<f64>, StoreError> {
        Ok(self.read_coll::<ZSet>(key)?.and_then(|z| z.score(member)))
    }

    /// ZMSCORE: one answer per member.
    pub fn zmscore<'a>(
        &mut self,
        key: &[u8],
        members: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<Option<f64>>, StoreError> {
        let z = self.read_coll::<ZSet>(key)?;
        Ok(members
            .into_iter()
            .map(|m| z.and_then(|z| z.score(m)))
            .collect())
    }

    /// ZCARD.
    pub fn zcard(&mut self, key: &[u8]) -> Result<usize, StoreError> {
        Ok(self.read_coll::<ZSet>(key)?.map_or(0, ZSet::len))
    }

    /// ZCOUNT.
    pub fn zcount(&mut self, key: &[u8], range: &ScoreRange) -> Result<usize, StoreError> {
        Ok(self.read_coll::<ZSet>(key)?.map_or(0, |z| {
            let (lo, hi) = range.ranks(z);
            hi - lo
        }))
    }

    /// ZLEXCOUNT.
    pub fn zlexcount(&mut self, key: &[u8], range: &LexRange) -> Result<usize, StoreError> {
        Ok(self.read_coll::<ZSet>(key)?.map_or(0, |z| {
            let (lo, hi) = range.ranks(z);
            hi - lo
        }))
    }

    /// The ZRANGE family: members selected `by`, in descending order with
    /// `rev`; for score and lex ranges `offset` members are skipped (a
    /// negative offset selects nothing) and at most `limit` returned
    /// (negative: no limit), as Redis's LIMIT.
    pub fn zrange(
        &mut self,
        key: &[u8],
        by: &ZRangeBy,
        rev: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Scored, StoreError> {
        Ok(self
            .read_coll::<ZSet>(key)?
            .map_or_else(Vec::new, |z| select(z, by, rev, offset, limit)))
    }

    /// ZRANGESTORE: stores the selection at `dst` (deleting it when the
    /// selection is empty); returns its size.
    pub fn zrangestore(
        &mut self,
        dst: &[u8],
        src: &[u8],
        by: &ZRangeBy,
        rev: bool,
        offset: i64,
        limit: i64,
    ) -> Result<usize, StoreError> {
        let items = self.zrange(src, by, rev, offset, limit)?;
        let z = build(&items, &self.config.encoding);
        self.store_coll(dst, z);
        Ok(items.len())
    }

    /// ZRANK / ZREVRANK: the rank and score of `member`.
    pub fn zrank(
        &mut self,
        key: &[u8],
        member: &[u8],
        rev: bool,
    ) -> Result<Option<(usize, f64)>, StoreError> {
        Ok(self.read_coll::<ZSet>(key)?.and_then(|z| {
            let (rank, score) = z.rank(member)?;
            Some((if rev { z.len() - 1 - rank } else { rank }, score))
        }))
    }

    /// The ZREMRANGEBY* commands: removes the members selected `by`; how many.
    pub fn zremrange(&mut self, key: &[u8], by: &ZRangeBy) -> Result<usize, StoreError> {
        let n = self.modify_coll(key, |z: &mut ZSet, _| {
            let (lo, hi) = ranks(z, by);
            z.remove_range(lo, hi)
        })?;
        Ok(n.unwrap_or(0))
    }

    /// ZPOPMIN / ZPOPMAX: removes up to `count` members from the low (or,
    /// with `max`, the high) end, in the order they are popped.
    pub fn zpop(&mut self, key: &[u8], count: usize, max: bool) -> Result<Scored, StoreError> {
        let popped = self.modify_coll(key, |z: &mut ZSet, _| {
            let len = z.len();
            let n = count.min(len);
            let (lo, hi) = if max { (len - n, len) } else { (0, n) };
            let mut items = z.range(lo, hi);
            z.remove_range(lo, hi);
            if max {
                items.reverse();
            }
            items
        })?;
        Ok(popped.unwrap_or_default())
    }

    /// ZMPOP: pops from the first of `keys` that is not empty, returning
    /// that key too; WRONGTYPE for a key of another type met before it.
    pub fn zmpop(
        &mut self,
        keys: &[&[u8]],
        count: usize,
        max: bool,
    ) -> Result<Option<(Bytes, Scored)>, StoreError> {
        for key in keys {
            if self.peek_coll::<ZSet>(key)?.is_some() {
                let items = self.zpop(key, count, max)?;
                return Ok(Some((Bytes::copy_from_slice(key), items)));
            }
        }
        Ok(None)
    }

    /// ZRANDMEMBER with Redis's count rule (see `random_indices`); a count
    /// covering the set gives all of it, highest first (Redis's order);
    /// `None` for a missing key.
    pub fn zrandmember(&mut self, key: &[u8], count: i64) -> Result<Option<Scored>, StoreError> {
        let len = match self.read_coll::<ZSet>(key)? {
            Some(z) => z.len(),
            None => return Ok(None),
        };
        if count >= 0 && usize::try_from(count).is_ok_and(|c| c >= len) {
            // The whole set, walked from the top as Redis's iterator does.
            let mut all = self.peek_coll::<ZSet>(key)?.map(ZSet::entries);
            if let Some(all) = &mut all {
                all.reverse();
            }
            return Ok(all);
        }
        let picks = random_indices(&mut self.rng, len, count);
        Ok(self.peek_coll::<ZSet>(key)?.map(|z| z.pick(&picks)))
    }

    /// ZSCAN step: the next cursor and the members and scores visited (all
    /// of a compact set at once), matching `pattern`.
    pub fn zscan(
        &mut self,
        key: &[u8],
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
    ) -> Result<(u64, Scored), StoreError> {
        let Some(z) = self.read_coll::<ZSet>(key)? else {
            return Ok((0, Vec::new()));
        };
        let (next, mut items) = z.scan(cursor, count);
        if let Some(p) = pattern.filter(|p| *p != b"*") {
            items.retain(|(m, _)| glob_match(p, m, false));
        }
        Ok((next, items))
    }

    /// ZUNION / ZINTER / ZDIFF over `keys` (sorted sets, or sets whose
    /// members score 1; a missing key is empty), each input's scores times
    /// its weight; ascending. `limit` bounds an intersection (ZINTERCARD).
    pub fn zcombine(
        &mut self,
        keys: &[&[u8]],
        weights: &[f64],
        agg: Aggregate,
        op: ZOp,
        limit: usize,
    ) -> Result<Scored, StoreError> {
        for key in keys {
            self.read_index(key);
        }
        let srcs = keys
            .iter()
            .map(|key| match self.table.get(*key).map(|r| &r.value) {
                None => Ok(Src::Missing),
                Some(Value::ZSet(z)) => Ok(Src::Sorted(z)),
                Some(Value::Set(s)) => Ok(Src::Plain(s)),
                Some(_) => Err(StoreError::WrongType),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ones;
        let weights = if weights.is_empty() {
            ones = vec![1.0; keys.len()];
            &ones[..]
        } else {
            weights
        };
        Ok(combine(&srcs, weights, agg, op, limit))
    }

    /// The STORE forms: the combination stored at `dst` (deleted when
    /// empty); returns its size.
    pub fn zcombine_store(
        &mut self,
        dst: &[u8],
        keys: &[&[u8]],
        weights: &[f64],
        agg: Aggregate,
        op: ZOp,
    ) -> Result<usize, StoreError> {
        let items = self.zcombine(keys, weights, agg, op, 0)?;
        let z = build(&items, &self.config.encoding);
        self.store_coll(dst, z);
        Ok(items.len())
    }
}

/// The ascending rank interval `by` selects.
fn ranks(z: &ZSet, by: &ZRangeBy) -> (usize, usize) {
    match by {
        ZRangeBy::Rank(start, stop) => rank_interval(z.len(), *start, *stop),
        ZRangeBy::Score(r) => r.ranks(z),
        ZRangeBy::Lex(r) => r.ranks(z),
    }
}

fn select(z: &ZSet, by: &ZRangeBy, rev: bool, offset: i64, limit: i64) -> Scored {
    if let ZRangeBy::Rank(start, stop) = by {
        if !rev {
            let (lo, hi) = rank_interval(z.len(), *start, *stop);
            return z.range(lo, hi);
        }
        // Ranks count from the top: rank i is ascending rank len-1-i.
        let (lo, hi) = rank_interval(z.len(), *start, *stop);
        let len = z.len();
        let mut items = z.range(len - hi, len - lo);
        items.reverse();
        return items;
    }
    let (lo, hi) = ranks(z, by);
    let n = hi - lo;
    let Ok(skip) = usize::try_from(offset) else {
        return Vec::new();
    };
    if skip >= n {
        return Vec::new();
    }
    let take = match usize::try_from(limit) {
        Ok(l) => l.min(n - skip),
        Err(_) => n - skip,
    };
    if rev {
        let mut items = z.range(hi - skip - take, hi - skip);
        items.reverse();
        items
    } else {
        z.range(lo + skip, lo + skip + take)
    }
}
