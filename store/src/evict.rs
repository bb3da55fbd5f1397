//! Eviction: Redis's `maxmemory-policy` choices, the access stamp every
//! record carries, and the sampled approximation of LRU / LFU.
//!
//! Every [`Record`] has a 32-bit `access` stamp, read as the shard's
//! [`AccessMode`] says:
//! - **LRU**: the cached clock (unix ms) truncated to 32 bits. Idle time is
//!   the wrapping difference, so it aliases after 49.7 days (Redis's 24-bit
//!   seconds clock aliases after 194 days), and it is exact to the
//!   millisecond rather than to the second.
//! - **LFU**: Redis's layout widened by a byte: the top 24 bits are the
//!   minute the counter last decayed, the low 8 bits a logarithmic access
//!   counter. A hit increments it with probability `1 / ((c - 5) *
//!   lfu-log-factor + 1)` (so 255 takes about a million hits at factor
//!   10); it loses one per `lfu-decay-time` minutes without hits; new keys
//!   start at 5 so they are not the first to go.
//!
//! A shard follows one mode at a time; switching policy reinterprets the
//! stamps (as Redis does with its `lru` field), which settles within a few
//! accesses.
//!
//! Choosing a victim samples `maxmemory-samples` keys (from all keys or
//! from those with a deadline) and offers them to an [`EvictionPool`] of the
//! 16 best candidates seen so far; the best one still present is removed.
//! The pool outlives one eviction, so over time the choice approaches true
//! LRU / LFU at a fixed cost per eviction.

use bytes::Bytes;
use rand::Rng;

use crate::record::Record;
use crate::shard::Shard;

/// Candidates an [`EvictionPool`] keeps (Redis's `EVPOOL_SIZE`).
pub const POOL_SIZE: usize = 16;

/// Keyspaces a server-wide eviction samples per round (Redis samples
/// each of its 16 databases).
pub const SPACES_PER_ROUND: usize = 16;

/// A new key's LFU counter (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT_VAL: u8 = 5;

/// What to do when memory is over its bound: Redis's `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Policy {
    /// Refuse writes with `-OOM`.
    #[default]
    NoEviction = 0,
    /// Evict the least recently used of all keys.
    AllKeysLru = 1,
    /// Evict the least frequently used of all keys.
    AllKeysLfu = 2,
    /// Evict any key.
    AllKeysRandom = 3,
    /// Evict the least recently used key with a deadline.
    VolatileLru = 4,
    /// Evict the least frequently used key with a deadline.
    VolatileLfu = 5,
    /// Evict any key with a deadline.
    VolatileRandom = 6,
    /// Evict the key with a deadline nearest to now.
    VolatileTtl = 7,
}

const POLICIES: [(Policy, &str); 8] = [
    (Policy::NoEviction, "noeviction"),
    (Policy::AllKeysLru, "allkeys-lru"),
    (Policy::AllKeysLfu, "allkeys-lfu"),
    (Policy::AllKeysRandom, "allkeys-random"),
    (Policy::VolatileLru, "volatile-lru"),
    (Policy::VolatileLfu, "volatile-lfu"),
    (Policy::VolatileRandom, "volatile-random"),
    (Policy::VolatileTtl, "volatile-ttl"),
];

impl Policy {
    /// The policy Redis names `name` (case-insensitive).
    pub fn parse(name: &str) -> Option<Policy> {
        POLICIES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(p, _)| *p)
    }

    /// Redis's name for it.
    pub fn name(self) -> &'static str {
        POLICIES[self as usize].1
    }

    /// The policy stored as `code` by [`Policy::code`] (`NoEviction` for
    /// anything else).
    pub fn from_code(code: u8) -> Policy {
        POLICIES
            .get(code as usize)
            .map_or(Policy::NoEviction, |p| p.0)
    }

    /// A small integer for an atomic.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Whether it tracks access frequency (Redis's `MAXMEMORY_FLAG_LFU`).
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// Whether it chooses only among keys with a deadline.
    pub fn is_volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    /// Whether it evicts at all.
    pub fn evicts(self) -> bool {
        self != Policy::NoEviction
    }
}

/// The LFU tunables (`lfu-log-factor`, `lfu-decay-time` in minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LfuParams {
    /// How hard the counter is to raise; Redis's default 10.
    pub log_factor: u32,
    /// Minutes without access per point of decay; 0 = never decays.
    pub decay_minutes: u32,
}

impl Default for LfuParams {
    fn default() -> LfuParams {
        LfuParams {
            log_factor: 10,
            decay_minutes: 1,
        }
    }
}

/// How a shard stamps the records it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessMode {
    /// Last access time (every policy but the LFU ones).
    #[default]
    Lru,
    /// Logarithmic access frequency.
    Lfu(LfuParams),
}

impl AccessMode {
    /// The mode `policy` needs, with `lfu` for the LFU ones.
    pub fn for_policy(policy: Policy, lfu: LfuParams) -> AccessMode {
        if policy.is_lfu() {
            AccessMode::Lfu(lfu)
        } else {
            AccessMode::Lru
        }
    }
}

/// The minute clock LFU stamps use: 24 bits of unix minutes.
fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xFF_FFFF) as u32
}

/// Minutes from `then` to `now` on the 24-bit minute clock.
fn minutes_since(then: u32, now: u32) -> u32 {
    now.wrapping_sub(then) & 0xFF_FFFF
}

/// The stamp a new record gets in `mode` at `now_ms`.
pub fn fresh_stamp(mode: AccessMode, now_ms: u64) -> u32 {
    match mode {
        AccessMode::Lru => now_ms as u32,
        AccessMode::Lfu(_) => (lfu_minutes(now_ms) << 8) | u32::from(LFU_INIT_VAL),
    }
}

/// The LFU counter of `stamp` after the decay due at `now_ms` (what
/// `OBJECT FREQ` answers).
pub fn lfu_decayed(stamp: u32, params: LfuParams, now_ms: u64) -> u8 {
    let counter = (stamp & 0xFF) as u8;
    if params.decay_minutes == 0 {
        return counter;
    }
    let periods = minutes_since(stamp >> 8, lfu_minutes(now_ms)) / params.decay_minutes;
    counter.saturating_sub(periods.min(255) as u8)
}

/// One logarithmic increment of `counter` given the uniform draw `r` in
/// `[0, 1)`: certain up to [`LFU_INIT_VAL`], then ever less likely.
pub fn lfu_increment(counter: u8, log_factor: u32, r: f64) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = f64::from(counter.saturating_sub(LFU_INIT_VAL));
    let p = 1.0 / (base * f64::from(log_factor) + 1.0);
    if r < p { counter + 1 } else { counter }
}

/// Milliseconds since the LRU `stamp` at `now_ms`.
pub fn lru_idle_ms(stamp: u32, now_ms: u64) -> u64 {
    u64::from((now_ms as u32).wrapping_sub(stamp))
}

/// One candidate: how good a victim it is (higher is better), and where.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    score: u64,
    key: Bytes,
    /// The keyspace it is in (0 for a pool over one shard).
    space: usize,
    generation: u32,
}

/// The best eviction candidates seen so far, best last (Redis's
/// `EvictionPoolLRU`).
#[derive(Debug, Default)]
pub struct EvictionPool {
    entries: Vec<Candidate>,
}

impl EvictionPool {
    /// Offers a candidate; kept if the pool has room or it beats the worst.
    fn offer(&mut self, score: u64, key: &[u8], space: usize, generation: u32) {
        let full = self.entries.len() >= POOL_SIZE;
        if full && self.entries[0].score >= score {
            return;
        }
        // Already pooled (sampled again): refresh its score in place.
        if let Some(at) = self
            .entries
            .iter()
            .position(|c| c.space == space && c.generation == generation && c.key == key)
        {
            self.entries.remove(at);
        } else if full {
            self.entries.remove(0);
        }
        let at = self.entries.partition_point(|c| c.score < score);
        let candidate = Candidate {
            score,
            key: Bytes::copy_from_slice(key),
            space,
            generation,
        };
        self.entries.insert(at, candidate);
    }

    /// Takes the best candidate.
    fn pop(&mut self) -> Option<Candidate> {
        self.entries.pop()
    }

    /// Number of candidates held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds no candidate.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every candidate (after a policy change).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

/// A key removed by eviction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evicted {
    /// The keyspace it was in (0 for [`Shard::evict_one`]).
    pub space: usize,
    /// That keyspace's generation.
    pub generation: u32,
    /// The key.
    pub key: Bytes,
    /// Accounted bytes it freed.
    pub freed: usize,
}

impl Shard {
    /// Sets how records are stamped from now on (see the module docs).
    pub fn set_access_mode(&mut self, mode: AccessMode) {
        if self.access != mode {
            self.access = mode;
            if let Some(pool) = &mut self.pool {
                pool.clear();
            }
        }
    }

    /// How records are stamped.
    pub fn access_mode(&self) -> AccessMode {
        self.access
    }

    /// With `true`, lookups stop updating access stamps (`CLIENT NO-TOUCH`,
    /// `OBJECT`), until called with `false`.
    pub fn set_no_touch(&mut self, no_touch: bool) {
        self.no_touch = no_touch;
    }

    /// Updates the access stamp of the record at `idx`: on every read and
    /// write lookup. A store of four bytes for LRU; LFU adds a decay and
    /// one random draw.
    #[inline]
    pub(crate) fn touch_at(&mut self, idx: usize) {
        if self.no_touch {
            return;
        }
        let now = self.now_ms;
        match self.access {
            AccessMode::Lru => self.table[idx].access = now as u32,
            AccessMode::Lfu(params) => {
                let r: f64 = self.rng.random();
                let record = &mut self.table[idx];
                let counter = lfu_decayed(record.access, params, now);
                let counter = lfu_increment(counter, params.log_factor, r);
                record.access = (lfu_minutes(now) << 8) | u32::from(counter);
            }
        }
    }

    /// `OBJECT FREQ`: the decayed LFU counter of a live `key`, without
    /// touching it. `None` when absent.
    pub fn object_freq(&mut self, key: &[u8]) -> Option<u8> {
        let idx = self.live_index_untouched(key)?;
        let params = match self.access {
            AccessMode::Lfu(p) => p,
            AccessMode::Lru => LfuParams::default(),
        };
        Some(lfu_decayed(self.table[idx].access, params, self.now_ms))
    }

    /// `OBJECT IDLETIME`: seconds since a live `key` was last accessed,
    /// without touching it. `None` when absent.
    pub fn object_idle_seconds(&mut self, key: &[u8]) -> Option<u64> {
        let idx = self.live_index_untouched(key)?;
        Some(lru_idle_ms(self.table[idx].access, self.now_ms) / 1000)
    }

    /// How good a victim `record` is under `policy` (higher goes first).
    fn eviction_score(&self, policy: Policy, record: &Record) -> u64 {
        match policy {
            Policy::VolatileTtl => u64::MAX - record.expire_at.unwrap_or(u64::MAX),
            _ => match self.access {
                AccessMode::Lru => lru_idle_ms(record.access, self.now_ms),
                AccessMode::Lfu(params) => {
                    u64::from(255 - lfu_decayed(record.access, params, self.now_ms))
                }
            },
        }
    }

    /// Offers `samples` random keys (of those with a deadline, for a
    /// volatile policy) to `pool` as from keyspace `(space, generation)`.
    fn sample_into(
        &mut self,
        policy: Policy,
        samples: usize,
        pool: &mut EvictionPool,
        (space, generation): (usize, u32),
    ) {
        let from = if policy.is_volatile() {
            self.volatile.len()
        } else {
            self.table.len()
        };
        if from == 0 {
            return;
        }
        // Every key when there are no more than the sample (so a small
        // keyspace is exact); otherwise random picks.
        let every = samples >= from;
        for n in 0..samples.min(from) {
            let pick = if every {
                n
            } else {
                self.rng.random_range(0..from)
            };
            let idx = if policy.is_volatile() {
                let key = &self.volatile[pick];
                match self.table.get_index_of(&key[..]) {
                    Some(idx) => idx,
                    None => continue,
                }
            } else {
                pick
            };
            let (key, record) = self.table.get_index(idx).expect("index in bounds");
            let score = self.eviction_score(policy, record);
            pool.offer(score, key, space, generation);
        }
    }

    /// A random victim under a random policy, by index.
    fn random_victim(&mut self, policy: Policy) -> Option<usize> {
        if policy.is_volatile() {
            if self.volatile.is_empty() {
                return None;
            }
            let pick = self.rng.random_range(0..self.volatile.len());
            let key = self.volatile[pick].clone();
            self.table.get_index_of(&key[..])
        } else if self.table.is_empty() {
            None
        } else {
            Some(self.rng.random_range(0..self.table.len()))
        }
    }

    /// Removes the entry at `idx` for eviction, counting it.
    fn evict_at(&mut self, idx: usize, space: usize, generation: u32) -> Evicted {
        let before = self.used_memory;
        let (key, _) = self.remove_at(idx);
        self.stats.evicted_keys += 1;
        Evicted {
            space,
            generation,
            key,
            freed: before - self.used_memory,
        }
    }

    /// Whether `policy` may evict the entry at `idx`.
    fn eligible(&self, policy: Policy, idx: usize) -> bool {
        !policy.is_volatile() || self.table[idx].expire_at.is_some()
    }

    /// Evicts one key of this shard under `policy` (sampling `samples`
    /// keys), using the shard's own pool. `None` when no key qualifies
    /// (empty, or no key with a deadline for a volatile policy).
    pub fn evict_one(&mut self, policy: Policy, samples: usize) -> Option<Evicted> {
        if !policy.evicts() {
            return None;
        }
        if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
            let idx = self.random_victim(policy)?;
            return Some(self.evict_at(idx, 0, 0));
        }
        let mut pool = self.pool.take().unwrap_or_default();
        let mut found = None;
        // A few rounds at most: a round only comes back empty-handed when
        // every pooled key went away since it was sampled.
        for _ in 0..4 {
            self.sample_into(policy, samples, &mut pool, (0, 0));
            while let Some(c) = pool.pop() {
                if let Some(idx) = self.table.get_index_of(&c.key[..])
                    && self.eligible(policy, idx)
                {
                    found = Some(idx);
                    break;
                }
            }
            if found.is_some() || self.table.is_empty() {
                break;
            }
        }
        self.pool = Some(pool);
        found.map(|idx| self.evict_at(idx, 0, 0))
    }
}

impl crate::keyspaces::Keyspaces {
    /// Evicts one key of any keyspace on this core under `policy`: Redis's
    /// pool over all databases, here over every tenant's shard. Random
    /// policies take turns over the keyspaces. `None` when no key
    /// qualifies.
    pub fn evict_one(&mut self, policy: Policy, samples: usize) -> Option<Evicted> {
        if !policy.evicts() {
            return None;
        }
        if matches!(policy, Policy::AllKeysRandom | Policy::VolatileRandom) {
            let n = self.space_count();
            let start = self.next_random;
            for step in 0..n {
                let at = (start + step) % n;
                if let Some((generation, shard)) = self.space_mut(at)
                    && let Some(idx) = shard.random_victim(policy)
                {
                    let evicted = shard.evict_at(idx, at, generation);
                    self.next_random = at + 1;
                    return Some(evicted);
                }
            }
            return None;
        }
        let mut pool = std::mem::take(&mut self.pool);
        let mut found = None;
        let n = self.space_count();
        for _ in 0..4 {
            // A window of keyspaces per round, moving on each time, so an
            // eviction costs the same with ten tenants or ten thousand;
            // the pool carries the best candidates from round to round.
            let start = self.next_sampled;
            for step in 0..n.min(SPACES_PER_ROUND) {
                let at = (start + step) % n;
                if let Some((generation, shard)) = self.space_mut(at) {
                    shard.sample_into(policy, samples, &mut pool, (at, generation));
                }
            }
            self.next_sampled = (start + SPACES_PER_ROUND) % n.max(1);
            while let Some(c) = pool.pop() {
                if let Some((generation, shard)) = self.space_mut(c.space)
                    && generation == c.generation
                    && let Some(idx) = shard.table.get_index_of(&c.key[..])
                    && shard.eligible(policy, idx)
                {
                    found = Some((c.space, idx));
                    break;
                }
            }
            if found.is_some() {
                break;
            }
        }
        self.pool = pool;
        let (at, idx) = found?;
        let (generation, shard) = self.space_mut(at)?;
        Some(shard.evict_at(idx, at, generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::ShardConfig;
    use crate::strings::SetOptions;

    fn shard(mode: AccessMode) -> Shard {
        let mut s = Shard::new(ShardConfig::default());
        s.set_now(1_000_000);
        s.set_access_mode(mode);
        s
    }

    fn put(s: &mut Shard, key: &str) {
        s.set(
            key.as_bytes(),
            Bytes::from_static(b"v"),
            SetOptions::default(),
        )
        .unwrap();
    }

    #[test]
    fn policies_parse_and_print_as_redis_names_them() {
        for (p, name) in POLICIES {
            assert_eq!(Policy::parse(name), Some(p));
            assert_eq!(p.name(), name);
            assert_eq!(Policy::from_code(p.code()), p);
        }
        assert_eq!(Policy::parse("ALLKEYS-LRU"), Some(Policy::AllKeysLru));
        assert_eq!(Policy::parse("lru"), None);
        assert!(Policy::VolatileLfu.is_lfu() && Policy::VolatileLfu.is_volatile());
        assert!(!Policy::AllKeysRandom.is_volatile());
    }

    #[test]
    fn lfu_increment_is_certain_up_to_the_initial_value_then_logarithmic() {
        assert_eq!(lfu_increment(0, 10, 0.999), 1);
        assert_eq!(lfu_increment(5, 10, 0.999), 6, "p = 1 at the initial value");
        // At counter 6 (base 1) with factor 10, p = 1/11.
        assert_eq!(lfu_increment(6, 10, 1.0 / 11.0 - 1e-9), 7);
        assert_eq!(lfu_increment(6, 10, 1.0 / 11.0 + 1e-9), 6);
        assert_eq!(lfu_increment(255, 10, 0.0), 255, "saturates");
        // Factor 0: every hit counts.
        assert_eq!(lfu_increment(100, 0, 0.999), 101);
    }

    #[test]
    fn lfu_increments_happen_with_the_log_factor_probability() {
        // p = 1 / ((c - 5) * factor + 1): at c = 15 and factor 10, 1/101.
        use rand::SeedableRng;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let draws = 200_000;
        let ups = (0..draws)
            .filter(|_| lfu_increment(15, 10, rng.random()) == 16)
            .count();
        let want = draws / 101;
        assert!(
            ups.abs_diff(want) < want / 10,
            "{ups} of {draws}, want ~{want}"
        );
        // Hits to climb from 5 to c sum (b * factor + 1) over b < c - 5:
        // ~1,920 to reach 25 at factor 10. A seeded run lands near it.
        let mut counter = LFU_INIT_VAL;
        let mut hits = 0;
        while counter < 25 {
            counter = lfu_increment(counter, 10, rng.random());
            hits += 1;
        }
        assert!((800..4_000).contains(&hits), "{hits} hits to reach 25");
    }

    #[test]
    fn lfu_counter_decays_one_per_period_and_never_below_zero() {
        let p = LfuParams::default();
        let t0 = 60_000 * 1_000;
        let stamp = (lfu_minutes(t0) << 8) | 20;
        assert_eq!(lfu_decayed(stamp, p, t0), 20);
        assert_eq!(lfu_decayed(stamp, p, t0 + 59_999), 20);
        assert_eq!(lfu_decayed(stamp, p, t0 + 3 * 60_000), 17);
        assert_eq!(lfu_decayed(stamp, p, t0 + 300 * 60_000), 0);
        let slow = LfuParams {
            decay_minutes: 10,
            ..p
        };
        assert_eq!(lfu_decayed(stamp, slow, t0 + 25 * 60_000), 18);
        let never = LfuParams {
            decay_minutes: 0,
            ..p
        };
        assert_eq!(lfu_decayed(stamp, never, t0 + 1_000 * 60_000), 20);
    }

    #[test]
    fn reads_and_writes_stamp_records() {
        let mut s = shard(AccessMode::Lru);
        put(&mut s, "k");
        s.set_now(1_005_000);
        assert_eq!(s.object_idle_seconds(b"k"), Some(5));
        assert_eq!(
            s.object_idle_seconds(b"k"),
            Some(5),
            "OBJECT does not touch"
        );
        s.get(b"k").unwrap();
        assert_eq!(s.object_idle_seconds(b"k"), Some(0));
        s.set_now(1_009_000);
        s.set_no_touch(true);
        s.get(b"k").unwrap();
        assert_eq!(s.object_idle_seconds(b"k"), Some(4), "NO-TOUCH");
        s.set_no_touch(false);
        put(&mut s, "k");
        assert_eq!(s.object_idle_seconds(b"k"), Some(0), "a write touches");
        assert_eq!(s.object_idle_seconds(b"nope"), None);

        let mut s = shard(AccessMode::Lfu(LfuParams::default()));
        put(&mut s, "k");
        assert_eq!(s.object_freq(b"k"), Some(LFU_INIT_VAL), "a new key");
        for _ in 0..200 {
            s.get(b"k").unwrap();
        }
        assert!(s.object_freq(b"k").unwrap() > 8);
    }

    #[test]
    fn the_pool_keeps_the_best_sixteen_best_last() {
        let mut pool = EvictionPool::default();
        for score in [
            5u64, 1, 9, 3, 7, 30, 2, 8, 4, 6, 10, 11, 12, 13, 14, 15, 16, 0,
        ] {
            pool.offer(score, format!("k{score}").as_bytes(), 0, 0);
        }
        assert_eq!(pool.len(), POOL_SIZE);
        pool.offer(9, b"k9", 0, 0);
        assert_eq!(pool.len(), POOL_SIZE, "a resampled key is not pooled twice");
        let order: Vec<u64> = std::iter::from_fn(|| pool.pop().map(|c| c.score)).collect();
        let want: Vec<u64> = vec![30, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2];
        assert_eq!(order, want);
    }

    #[test]
    fn lru_eviction_takes_the_idlest_keys_first() {
        let mut s = shard(AccessMode::Lru);
        for i in 0..100 {
            s.set_now(1_000_000 + i);
            put(&mut s, &format!("k{i}"));
        }
        // k0..k9 read last: the hot set.
        for i in 0..10 {
            s.set_now(2_000_000 + i);
            s.get(format!("k{i}").as_bytes()).unwrap();
        }
        for _ in 0..60 {
            s.evict_one(Policy::AllKeysLru, 5).unwrap();
        }
        s.assert_consistent();
        assert_eq!(s.stats().evicted_keys, 60);
        for i in 0..10 {
            assert!(s.peek_record(format!("k{i}").as_bytes()).is_some(), "k{i}");
        }
    }

    #[test]
    fn lfu_eviction_keeps_frequently_read_keys() {
        let mut s = shard(AccessMode::Lfu(LfuParams::default()));
        for i in 0..100 {
            put(&mut s, &format!("k{i}"));
        }
        for _ in 0..50 {
            for i in 0..10 {
                s.get(format!("k{i}").as_bytes()).unwrap();
            }
        }
        for _ in 0..80 {
            s.evict_one(Policy::AllKeysLfu, 5).unwrap();
        }
        for i in 0..10 {
            assert!(s.peek_record(format!("k{i}").as_bytes()).is_some(), "k{i}");
        }
    }

    #[test]
    fn volatile_policies_only_touch_keys_with_a_deadline() {
        for policy in [
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ] {
            let mut s = shard(AccessMode::for_policy(policy, LfuParams::default()));
            for i in 0..20 {
                put(&mut s, &format!("p{i}"));
            }
            for i in 0..10u64 {
                put(&mut s, &format!("v{i}"));
                s.expire_at(
                    format!("v{i}").as_bytes(),
                    5_000_000 + i * 1000,
                    crate::ExpireCondition::Always,
                );
            }
            let mut gone = Vec::new();
            while let Some(e) = s.evict_one(policy, 5) {
                gone.push(String::from_utf8(e.key.to_vec()).unwrap());
            }
            assert_eq!(gone.len(), 10, "{policy:?}");
            assert!(gone.iter().all(|k| k.starts_with('v')), "{policy:?}");
            assert_eq!(s.len(), 20);
            s.assert_consistent();
        }
        // Sampling generously, volatile-ttl goes in deadline order.
        let mut s = shard(AccessMode::Lru);
        for i in 0..10u64 {
            put(&mut s, &format!("v{i}"));
            let at = 5_000_000 + (10 - i) * 1000;
            s.expire_at(
                format!("v{i}").as_bytes(),
                at,
                crate::ExpireCondition::Always,
            );
        }
        let first = s.evict_one(Policy::VolatileTtl, 100).unwrap();
        assert_eq!(&first.key[..], b"v9");
        assert!(first.freed > 0);
    }

    #[test]
    fn the_core_pool_evicts_across_keyspaces() {
        let mut k = crate::Keyspaces::new(ShardConfig::default());
        k.set_now(1_000_000);
        for (space, t) in [(0usize, 1_000_000u64), (1, 3_000_000)] {
            k.set_now(t);
            let s = k.get_mut(space, 0).unwrap();
            for i in 0..20 {
                put(s, &format!("k{i}"));
            }
        }
        k.set_now(4_000_000);
        for _ in 0..20 {
            let e = k.evict_one(Policy::AllKeysLru, 5).unwrap();
            assert_eq!(e.space, 0, "the older keyspace goes first");
        }
        assert_eq!(k.get_mut(0, 0).unwrap().len(), 0);
        assert_eq!(k.get_mut(1, 0).unwrap().len(), 20);
        let e = k.evict_one(Policy::AllKeysRandom, 5).unwrap();
        assert_eq!(e.space, 1);
        assert!(k.evict_one(Policy::VolatileRandom, 5).is_none());
        assert!(k.evict_one(Policy::NoEviction, 5).is_none());
    }
}
