//! The shard: the key table, the index of keys with a deadline, the cached
//! clock, memory accounting and the primitives every command goes through.
//!
//! All mutation of the table funnels through a handful of `pub(crate)`
//! primitives here (`insert_new`, `remove_at`, `replace_value`,
//! `set_deadline`, `modify_coll`, `flush`), so the volatile index,
//! `used_memory` and a snapshot under way ([`crate::snapshot`]) can only
//! change together with the table.

pub(crate) use ahash::RandomState;
use std::mem::size_of;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use crate::collection::EncodingLimits;
use crate::record::{Record, Value};

/// Memory charged per key on top of the key and value lengths: the table
/// slot (key handle, record, stored hash) plus one index word. It is an
/// estimate of the table's own footprint, not what the allocator reports; it
/// exists so quotas and INFO see something that grows and shrinks exactly with
/// the data.
pub const ENTRY_OVERHEAD: usize = size_of::<Bytes>() + size_of::<Record>() + 2 * size_of::<usize>();

/// Extra memory charged per key that has a deadline: its slot in the volatile
/// index (a second handle on the same key allocation, hash, index word).
pub const VOLATILE_OVERHEAD: usize = size_of::<Bytes>() + 2 * size_of::<usize>();

/// Tunables of a shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardConfig {
    /// Largest string a command may build (Redis's `proto-max-bulk-len`);
    /// APPEND and SETRANGE past it fail with `StoreError::TooLarge`.
    pub max_value_len: usize,
    /// Where collections switch from their compact to their big encoding.
    pub encoding: EncodingLimits,
}

impl Default for ShardConfig {
    fn default() -> ShardConfig {
        ShardConfig {
            max_value_len: 512 * 1024 * 1024,
            encoding: EncodingLimits::default(),
        }
    }
}

/// Counters for `INFO stats`, named after Redis's fields.
#[derive(Default, Clone, Debug)]
pub struct ShardStats {
    /// Successful lookups of a key by a reading command (`keyspace_hits`).
    pub keyspace_hits: u64,
    /// Lookups of a missing or expired key by a reading command.
    pub keyspace_misses: u64,
    /// Keys removed because their deadline passed, lazily or actively.
    pub expired_keys: u64,
    /// Running estimate of the share (0.0..=1.0) of volatile keys that are
    /// already expired but not yet reaped, from active expiry's samples; INFO
    /// prints it as a percentage.
    pub expired_stale_perc: f64,
    /// Active expiry cycles that stopped on their check budget while the
    /// sample was still more than 10% stale.
    pub expired_time_cap_reached_count: u64,
    /// Keys removed to bring memory under a bound (`evicted_keys`).
    pub evicted_keys: u64,
}

/// One core's partition of the keyspace, owned by value by that core's thread.
pub struct Shard {
    pub(crate) config: ShardConfig,
    /// Every key. Keys come from untrusted clients, so the hash is keyed
    /// with per-table random seeds (aHash's `RandomState`): an attacker who
    /// cannot learn the seed cannot choose colliding keys. aHash rather than
    /// std's SipHash-1-3 because hashing is on every lookup: measured on the
    /// 100k-key shard bench, a miss went from 91 ns to 48 ns.
    pub(crate) table: IndexMap<Bytes, Record, RandomState>,
    /// The keys that have a deadline, sharing the table's key allocations.
    /// Active expiry samples only this, so its cost does not depend on how
    /// many keys live forever.
    pub(crate) volatile: IndexSet<Bytes, RandomState>,
    pub(crate) now_ms: u64,
    pub(crate) used_memory: usize,
    pub(crate) stats: ShardStats,
    pub(crate) rng: SmallRng,
    /// Keys blocked clients wait for ([`Shard::watch`]).
    watched: IndexSet<Bytes, RandomState>,
    /// Watched keys created since [`Shard::take_ready`] last ran.
    ready: Vec<Bytes>,
    /// The events of the running commands, while the command layer asks
    /// for them (see [`crate::events`]).
    pub(crate) recording: Option<Box<crate::events::Recording>>,
    /// A snapshot under way ([`crate::snapshot`]).
    pub(crate) snapshot: Option<Box<crate::snapshot::Snapshot>>,
    /// How lookups stamp records (see [`crate::evict`]).
    pub(crate) access: crate::evict::AccessMode,
    /// Lookups leave stamps alone (`CLIENT NO-TOUCH`).
    pub(crate) no_touch: bool,
    /// This shard's eviction candidates, for its tenant's own policy.
    pub(crate) pool: Option<Box<crate::evict::EvictionPool>>,
}

impl std::fmt::Debug for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shard")
            .field("keys", &self.table.len())
            .field("volatile", &self.volatile.len())
            .field("used_memory", &self.used_memory)
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

/// Accounted size of one entry, the single formula `used_memory` sums.
pub(crate) fn entry_cost(key: &[u8], record: &Record) -> usize {
    let volatile = if record.expire_at.is_some() {
        VOLATILE_OVERHEAD
    } else {
        0
    };
    ENTRY_OVERHEAD + key.len() + record.value.payload_len() + volatile
}

fn wall_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Shard {
    /// An empty shard. Its clock starts at the wall clock; the owning core
    /// then advances it with [`Shard::set_now`].
    pub fn new(config: ShardConfig) -> Shard {
        Shard {
            config,
            table: IndexMap::with_hasher(RandomState::new()),
            volatile: IndexSet::with_hasher(RandomState::new()),
            now_ms: wall_clock_ms(),
            used_memory: 0,
            stats: ShardStats::default(),
            rng: SmallRng::from_rng(&mut rand::rng()),
            watched: IndexSet::with_hasher(RandomState::new()),
            ready: Vec::new(),
            recording: None,
            snapshot: None,
            access: crate::evict::AccessMode::default(),
            no_touch: false,
            pool: None,
        }
    }

    /// Sets the cached clock (unix ms) that every expiry decision uses. The
    /// core sets it once per event-loop batch, like Redis's cached `mstime`,
    /// so all commands of a batch agree on "now" and no syscall is paid per
    /// command; tests set it to make expiry deterministic.
    pub fn set_now(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    /// The cached clock, unix ms.
    pub fn now(&self) -> u64 {
        self.now_ms
    }

    /// The configuration this shard was built with.
    pub fn config(&self) -> &ShardConfig {
        &self.config
    }

    /// Number of keys, counting expired ones not yet reaped (as Redis's
    /// DBSIZE does).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the shard holds no key at all (reaped or not).
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Number of keys with a deadline (INFO keyspace `expires`).
    pub fn volatile_len(&self) -> usize {
        self.volatile.len()
    }

    /// Accounted memory: for each key, key length + value length +
    /// [`ENTRY_OVERHEAD`] (+ [`VOLATILE_OVERHEAD`] if it has a deadline).
    /// Spare capacity kept for APPEND is not charged. Maintained in O(1) per
    /// operation.
    pub fn used_memory(&self) -> usize {
        self.used_memory
    }

    /// The INFO stats counters.
    pub fn stats(&self) -> &ShardStats {
        &self.stats
    }

    /// Zeroes the INFO stats counters (`CONFIG RESETSTAT`).
    pub fn reset_stats(&mut self) {
        self.stats = ShardStats::default();
    }

    /// Removes every key (FLUSHDB); returns how many there were.
    pub fn flush(&mut self) -> usize {
        let n = self.table.len();
        // Fresh tables rather than clear(): a flush after a spike should give
        // the memory back.
        let old = std::mem::replace(&mut self.table, IndexMap::with_hasher(RandomState::new()));
        self.signal_streams_gone(&old);
        self.snapshot_flushed(old);
        self.volatile = IndexSet::with_hasher(RandomState::new());
        self.used_memory = 0;
        n
    }

    // ---- primitives -------------------------------------------------------

    /// Index of `key` if it is live; an expired entry is reaped first (lazy
    /// expiry). Does not touch hit/miss counters: write paths use this.
    /// Counts as an access of the key (its LRU / LFU stamp).
    #[inline]
    pub(crate) fn live_index(&mut self, key: &[u8]) -> Option<usize> {
        let idx = self.live_index_untouched(key)?;
        self.touch_at(idx);
        Some(idx)
    }

    /// [`Self::live_index`] without counting an access (`OBJECT`, peeks).
    pub(crate) fn live_index_untouched(&mut self, key: &[u8]) -> Option<usize> {
        let idx = self.table.get_index_of(key)?;
        if self.table[idx].is_expired_at(self.now_ms) {
            self.expire_at_index(idx);
            return None;
        }
        Some(idx)
    }

    /// [`Self::live_index`] for reading commands, which count
    /// `keyspace_hits` / `keyspace_misses` the way Redis's `lookupKeyRead` does.
    pub(crate) fn read_index(&mut self, key: &[u8]) -> Option<usize> {
        let found = self.live_index(key);
        if found.is_some() {
            self.stats.keyspace_hits += 1;
        } else {
            self.stats.keyspace_misses += 1;
            self.note_miss(key);
        }
        found
    }

    /// Removes the entry at `idx` because its deadline passed.
    pub(crate) fn expire_at_index(&mut self, idx: usize) {
        let key = self.remove_for_deadline(idx);
        self.note(&key, crate::events::EventKind::Expired);
    }

    /// Removes the entry at `idx` for a deadline a command set in the past
    /// (`EXPIRE key 0`): counted as expired, notified by the command as a
    /// deletion, as Redis does.
    pub(crate) fn remove_for_deadline(&mut self, idx: usize) -> Bytes {
        let (key, _) = self.remove_at(idx);
        self.stats.expired_keys += 1;
        key
    }

    /// Removes the entry at `idx` (O(1): the last entry moves into the hole,
    /// which is what SCAN's descending cursor is built around).
    pub(crate) fn remove_at(&mut self, idx: usize) -> (Bytes, Record) {
        self.snapshot_before_write(idx);
        let last = self.table.len() - 1;
        let (key, record) = self.table.swap_remove_index(idx).expect("index in bounds");
        self.snapshot_after_remove(idx, last);
        if record.expire_at.is_some() {
            self.volatile.swap_remove(&key);
        }
        self.used_memory -= entry_cost(&key, &record);
        if matches!(record.value, Value::Stream(_)) {
            self.signal_ready(&key);
        }
        (key, record)
    }

    /// Removes a live `key`, returning its record.
    pub(crate) fn remove_live(&mut self, key: &[u8]) -> Option<Record> {
        let idx = self.live_index(key)?;
        Some(self.remove_at(idx).1)
    }

    /// Inserts a key known to be absent and returns its index. Takes the key
    /// as `Bytes` so callers copy a borrowed key only on this path.
    pub(crate) fn insert_new(&mut self, key: Bytes, mut record: Record) -> usize {
        record.access = crate::evict::fresh_stamp(self.access, self.now_ms);
        self.used_memory += entry_cost(&key, &record);
        if record.expire_at.is_some() {
            self.volatile.insert(key.clone());
        }
        if !self.watched.is_empty() && self.watched.contains(&key) {
            self.ready.push(key.clone());
        }
        self.note(&key, crate::events::EventKind::New);
        let (idx, old) = self.table.insert_full(key, record);
        debug_assert!(old.is_none(), "insert_new on a present key");
        idx
    }

    /// Reports `key` through [`Shard::take_ready`] whenever it is created,
    /// by any command (a push, a move, a rename, a STORE...): blocked
    /// clients wait for it. Redis signals the same event (`dbAdd`).
    pub fn watch(&mut self, key: Bytes) {
        self.watched.insert(key);
    }

    /// Stops reporting `key`.
    pub fn unwatch(&mut self, key: &[u8]) {
        self.watched.swap_remove(key);
    }

    /// Reports a watched `key` through [`Shard::take_ready`] although it
    /// was not created: a stream that grew (XADD), lost a group, or went
    /// away (deleted, flushed, overwritten by another type) wakes its
    /// blocked readers, as Redis 7 signals a deleted stream.
    pub(crate) fn signal_ready(&mut self, key: &[u8]) {
        if !self.watched.is_empty()
            && let Some(key) = self.watched.get(key)
            && !self.ready.contains(key)
        {
            self.ready.push(key.clone());
        }
    }

    /// Reports every watched key that held a stream in `old` (a table a
    /// flush took away): their blocked group readers learn it is gone.
    fn signal_streams_gone(&mut self, old: &IndexMap<Bytes, Record, RandomState>) {
        if self.watched.is_empty() {
            return;
        }
        let gone: Vec<Bytes> = self
            .watched
            .iter()
            .filter(
                |key| matches!(old.get(&key[..]), Some(r) if matches!(r.value, Value::Stream(_))),
            )
            .cloned()
            .collect();
        for key in gone {
            self.signal_ready(&key);
        }
    }

    /// Whether a watched key is waiting for [`Shard::take_ready`].
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The watched keys created since the last call, in creation order.
    pub fn take_ready(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.ready)
    }

    /// Swaps the value at `idx`, keeping the deadline; returns the old value.
    pub(crate) fn replace_value(&mut self, idx: usize, value: Value) -> Value {
        self.snapshot_before_write(idx);
        let record = &mut self.table[idx];
        self.used_memory += value.payload_len();
        self.used_memory -= record.value.payload_len();
        let was_stream = matches!(record.value, Value::Stream(_));
        let old = std::mem::replace(&mut record.value, value);
        if was_stream && !matches!(self.table[idx].value, Value::Stream(_)) {
            let key = self
                .table
                .get_index(idx)
                .expect("index in bounds")
                .0
                .clone();
            self.signal_ready(&key);
        }
        old
    }

    /// Sets or clears the deadline of the entry at `idx`, keeping the
    /// volatile index in step.
    pub(crate) fn set_deadline(&mut self, idx: usize, expire_at: Option<u64>) {
        self.snapshot_before_write(idx);
        let (key, record) = self.table.get_index_mut(idx).expect("index in bounds");
        match (record.expire_at.is_some(), expire_at.is_some()) {
            (false, true) => {
                self.volatile.insert(key.clone());
                self.used_memory += VOLATILE_OVERHEAD;
            }
            (true, false) => {
                self.volatile.swap_remove(&key[..]);
                self.used_memory -= VOLATILE_OVERHEAD;
            }
            _ => {}
        }
        record.expire_at = expire_at;
    }

    /// Recomputes what the incremental bookkeeping claims and panics on any
    /// difference: memory, the volatile index and its key sharing.
    #[cfg(test)]
    pub(crate) fn assert_consistent(&self) {
        let mut memory = 0;
        let mut volatile = 0;
        for (key, record) in &self.table {
            memory += entry_cost(key, record);
            if record.expire_at.is_some() {
                volatile += 1;
                assert!(
                    self.volatile.contains(&key[..]),
                    "volatile index misses a key"
                );
            }
        }
        assert_eq!(memory, self.used_memory, "used_memory drifted");
        assert_eq!(
            volatile,
            self.volatile.len(),
            "volatile index has stale keys"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard() -> Shard {
        let mut s = Shard::new(ShardConfig::default());
        s.set_now(1_000);
        s
    }

    #[test]
    fn default_config_is_redis_proto_max_bulk_len() {
        assert_eq!(ShardConfig::default().max_value_len, 512 * 1024 * 1024);
    }

    #[test]
    fn clock_is_cached() {
        let mut s = shard();
        assert_eq!(s.now(), 1_000);
        s.set_now(5);
        assert_eq!(s.now(), 5);
    }

    #[test]
    fn primitives_keep_memory_and_volatile_index_in_step() {
        let mut s = shard();
        let idx = s.insert_new(
            Bytes::from_static(b"k"),
            Record::string(Bytes::from_static(b"vv")),
        );
        assert_eq!(s.used_memory(), ENTRY_OVERHEAD + 3);
        s.set_deadline(idx, Some(2_000));
        assert_eq!(s.volatile_len(), 1);
        assert_eq!(s.used_memory(), ENTRY_OVERHEAD + VOLATILE_OVERHEAD + 3);
        s.replace_value(idx, Value::String(Bytes::from_static(b"vvvv")));
        assert_eq!(s.used_memory(), ENTRY_OVERHEAD + VOLATILE_OVERHEAD + 5);
        s.assert_consistent();
        s.set_deadline(idx, None);
        assert_eq!(s.volatile_len(), 0);
        s.assert_consistent();
        s.remove_at(idx);
        assert_eq!(s.used_memory(), 0);
        assert!(s.is_empty());
    }

    #[test]
    fn lazy_expiry_counts_and_reaps() {
        let mut s = shard();
        let mut r = Record::string(Bytes::from_static(b"v"));
        r.expire_at = Some(1_500);
        s.insert_new(Bytes::from_static(b"k"), r);
        assert!(s.live_index(b"k").is_some());
        s.set_now(1_500);
        assert_eq!(s.len(), 1, "not reaped before it is looked at");
        assert!(s.read_index(b"k").is_none());
        assert_eq!(s.len(), 0);
        assert_eq!(s.volatile_len(), 0);
        assert_eq!(s.stats().expired_keys, 1);
        assert_eq!(s.stats().keyspace_hits, 0);
        assert_eq!(s.stats().keyspace_misses, 1);
        assert_eq!(s.used_memory(), 0);
    }

    #[test]
    fn flush_empties_everything() {
        let mut s = shard();
        for i in 0..10u8 {
            let mut r = Record::string(Bytes::from(vec![i; 3]));
            if i % 2 == 0 {
                r.expire_at = Some(10_000);
            }
            s.insert_new(Bytes::from(vec![i]), r);
        }
        assert_eq!(s.flush(), 10);
        assert!(s.is_empty());
        assert_eq!(s.volatile_len(), 0);
        assert_eq!(s.used_memory(), 0);
        s.assert_consistent();
    }
}
