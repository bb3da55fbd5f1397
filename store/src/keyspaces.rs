//! Per-tenant keyspaces on one core: one [`Shard`] per tenant, so a tenant's
//! keys live apart from every other tenant's while slot routing still uses
//! the key the client sent.
//!
//! A keyspace is addressed by the tenant's slot `index` and the
//! `generation` of that slot: when a tenant is deleted and its slot reused,
//! the newer generation finds a fresh, empty shard, and a late job of the
//! deleted tenant (an older generation) finds nothing.

use crate::collection::EncodingLimits;
use crate::shard::{Shard, ShardConfig};

/// One tenant's shard on this core.
struct Space {
    generation: u32,
    shard: Shard,
}

/// Every tenant's shard on one core, created on first use.
pub struct Keyspaces {
    config: ShardConfig,
    spaces: Vec<Option<Space>>,
    now_ms: u64,
    /// Eviction candidates over every keyspace, for the server's policy.
    pub(crate) pool: crate::evict::EvictionPool,
    /// Where a random eviction looks first (they take turns).
    pub(crate) next_random: usize,
    /// Where the next sampling round starts.
    pub(crate) next_sampled: usize,
}

impl std::fmt::Debug for Keyspaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspaces")
            .field("spaces", &self.spaces.iter().flatten().count())
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

/// The keyspaces other than the caller's, for the one command that reaches
/// past its own (an admin's `FLUSHALL`).
pub struct Others<'a> {
    before: &'a mut [Option<Space>],
    after: &'a mut [Option<Space>],
}

impl Others<'_> {
    /// Every other keyspace's shard.
    pub fn iter(&self) -> impl Iterator<Item = &Shard> {
        let spaces = self.before.iter().chain(self.after.iter()).flatten();
        spaces.map(|space| &space.shard)
    }

    /// Every other keyspace's shard, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Shard> {
        let spaces = self.before.iter_mut().chain(self.after.iter_mut());
        spaces.flatten().map(|space| &mut space.shard)
    }

    /// Accounted memory of every other keyspace.
    pub fn used_memory(&self) -> usize {
        self.iter().map(Shard::used_memory).sum()
    }

    /// Empties every other keyspace; returns how many keys there were.
    pub fn flush(&mut self) -> usize {
        self.iter_mut().map(Shard::flush).sum()
    }
}

impl Keyspaces {
    /// No keyspaces yet; each shard is built with `config`.
    pub fn new(config: ShardConfig) -> Keyspaces {
        Keyspaces {
            config,
            spaces: Vec::new(),
            now_ms: 0,
            pool: Default::default(),
            next_random: 0,
            next_sampled: 0,
        }
    }

    /// Sets the cached clock every shard handed out will use (see
    /// [`Shard::set_now`]); O(1) however many tenants there are.
    pub fn set_now(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    /// Changes the collections' encoding thresholds of every shard, and of
    /// those made later (see [`Shard::set_encoding_limits`]).
    pub fn set_encoding_limits(&mut self, limits: EncodingLimits) {
        self.config.encoding = limits;
        for space in self.spaces.iter_mut().flatten() {
            space.shard.set_encoding_limits(limits);
        }
    }

    /// The shard of tenant slot `index` at `generation`, created empty on
    /// first use or when the slot was reused by a newer tenant; `None` for
    /// a generation older than the one here (a job of a deleted tenant).
    pub fn get_mut(&mut self, index: usize, generation: u32) -> Option<&mut Shard> {
        self.split_mut(index, generation).map(|(shard, _)| shard)
    }

    /// [`Self::get_mut`], plus every other keyspace.
    pub fn split_mut(&mut self, index: usize, generation: u32) -> Option<(&mut Shard, Others<'_>)> {
        if self.spaces.len() <= index {
            self.spaces.resize_with(index + 1, || None);
        }
        let slot = &mut self.spaces[index];
        match slot {
            Some(space) if space.generation > generation => return None,
            Some(space) if space.generation == generation => {}
            _ => {
                *slot = Some(Space {
                    generation,
                    shard: Shard::new(self.config.clone()),
                })
            }
        }
        let (before, rest) = self.spaces.split_at_mut(index);
        let (mine, after) = rest.split_first_mut()?;
        let shard = &mut mine.as_mut()?.shard;
        shard.set_now(self.now_ms);
        Some((shard, Others { before, after }))
    }

    /// The shard of `index` if it exists at `generation`, without creating it.
    pub fn get(&self, index: usize, generation: u32) -> Option<&Shard> {
        match self.spaces.get(index)? {
            Some(space) if space.generation == generation => Some(&space.shard),
            _ => None,
        }
    }

    /// Slots in the keyspace table (some may be empty).
    pub(crate) fn space_count(&self) -> usize {
        self.spaces.len()
    }

    /// The keyspace in slot `index`, if any, with its generation; its
    /// clock set to this core's.
    pub(crate) fn space_mut(&mut self, index: usize) -> Option<(u32, &mut Shard)> {
        let now = self.now_ms;
        let space = self.spaces.get_mut(index)?.as_mut()?;
        space.shard.set_now(now);
        Some((space.generation, &mut space.shard))
    }

    /// Accounted memory of every keyspace on this core.
    pub fn used_memory(&self) -> usize {
        self.iter().map(|(_, _, shard)| shard.used_memory()).sum()
    }

    /// Every keyspace, to change: `(index, generation, shard)`.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (usize, u32, &mut Shard)> {
        self.spaces
            .iter_mut()
            .enumerate()
            .filter_map(|(i, s)| s.as_mut().map(|s| (i, s.generation, &mut s.shard)))
    }

    /// Every keyspace: `(index, generation, shard)`.
    pub fn iter(&self) -> impl Iterator<Item = (usize, u32, &Shard)> {
        self.spaces
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s.generation, &s.shard)))
    }

    /// Drops the keyspaces `live(index, generation)` rejects (deleted
    /// tenants), giving their memory back; returns the indices dropped.
    pub fn retain(&mut self, mut live: impl FnMut(usize, u32) -> bool) -> Vec<usize> {
        let mut dropped = Vec::new();
        for (i, slot) in self.spaces.iter_mut().enumerate() {
            if slot.as_ref().is_some_and(|s| !live(i, s.generation)) {
                *slot = None;
                dropped.push(i);
            }
        }
        dropped
    }

    /// Active expiry over every keyspace, `max_checks` per keyspace that has
    /// volatile keys; returns the keys removed.
    pub fn active_expire_cycle(&mut self, max_checks: usize) -> usize {
        let now = self.now_ms;
        self.spaces
            .iter_mut()
            .flatten()
            .filter(|s| s.shard.volatile_len() > 0)
            .map(|s| {
                s.shard.set_now(now);
                s.shard.active_expire_cycle(max_checks)
            })
            .sum()
    }

    /// Zeroes every keyspace's INFO counters (`CONFIG RESETSTAT`).
    pub fn reset_stats(&mut self) {
        self.spaces
            .iter_mut()
            .flatten()
            .for_each(|s| s.shard.reset_stats());
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn set(shard: &mut Shard, key: &'static str) {
        shard
            .set(key.as_bytes(), Bytes::from_static(b"v"), Default::default())
            .unwrap();
    }

    #[test]
    fn tenants_do_not_share_keys() {
        let mut ks = Keyspaces::new(ShardConfig::default());
        set(ks.get_mut(0, 0).unwrap(), "k");
        assert!(ks.get_mut(1, 0).unwrap().get(b"k").unwrap().is_none());
        assert!(ks.get_mut(0, 0).unwrap().get(b"k").unwrap().is_some());
        assert_eq!(ks.iter().count(), 2);
    }

    #[test]
    fn a_reused_slot_starts_empty_and_old_generations_find_nothing() {
        let mut ks = Keyspaces::new(ShardConfig::default());
        set(ks.get_mut(3, 1).unwrap(), "k");
        assert!(ks.get_mut(3, 2).unwrap().get(b"k").unwrap().is_none());
        assert!(ks.get_mut(3, 1).is_none());
        assert!(ks.get(3, 2).is_some());
    }

    #[test]
    fn others_flush_leaves_the_caller_alone() {
        let mut ks = Keyspaces::new(ShardConfig::default());
        for i in 0..3 {
            set(ks.get_mut(i, 0).unwrap(), "k");
        }
        let (mine, mut others) = ks.split_mut(1, 0).unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(others.flush(), 2);
        assert_eq!(ks.used_memory(), ks.get(1, 0).unwrap().used_memory());
    }

    #[test]
    fn retain_drops_dead_tenants() {
        let mut ks = Keyspaces::new(ShardConfig::default());
        set(ks.get_mut(0, 0).unwrap(), "k");
        set(ks.get_mut(1, 0).unwrap(), "k");
        assert_eq!(ks.retain(|i, _| i == 0), vec![1]);
        assert_eq!(ks.iter().count(), 1);
    }
}
