//! Eviction: before a command runs, memory over a bound that has an
//! evicting `maxmemory-policy` is brought back under it by removing keys
//! of this core, as Redis's `performEvictions` does before each command.
//!
//! Two bounds, each with its own policy:
//! - the server's `maxmemory` with the server's `maxmemory-policy`: any
//!   tenant's keys on this core may go (the operator's choice), sampled
//!   over every keyspace here ([`kiln_store::Keyspaces::evict_one`]);
//! - a tenant's `maxmemory` quota with the tenant's own policy
//!   (`ACL SETUSER t maxmemory-policy=allkeys-lru`): only that tenant's
//!   keys on this core go. A tenant without a policy gets `-OOM` as before.
//!
//! Memory is counted across cores (each core publishes its figures after
//! every write), but a core removes only its own keys: its excess over an
//! even share of the bound ([`to_free`]), so the split between cores stays
//! even; keys spread over cores by hash, so every core evicts its part as
//! its own writes arrive (and on its tick). A core works until that is
//! freed, nothing here qualifies (the command then meets the admission
//! check's `-OOM`), or [`EVICTION_TIME_LIMIT`] passes (the command goes
//! ahead and eviction goes on between turns).
//!
//! Each removal is what a `DEL` would be: logged to the append-only log,
//! seen by `WATCH`, told to the tenant as an `evicted` keyspace event (and
//! its triggers), and counted in `evicted_keys`.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use kiln_store::{AccessMode, EventKind, Evicted, KeyEvent, class};

use super::Engine;
use crate::shared::LiveSettings;
use crate::tenant::{TenantId, Usage};

/// Longest one command waits for eviction (Redis's default tenacity gives
/// about half a millisecond before it goes on in the background).
const EVICTION_TIME_LIMIT: Duration = Duration::from_millis(1);

/// Past `max / SLACK_DIVISOR` over a bound, every core frees the whole
/// overage (see [`to_free`]).
const SLACK_DIVISOR: u64 = 32;

/// Evictions between two looks at the clock.
const EVICTIONS_PER_CLOCK_CHECK: u32 = 16;

/// Eviction cut short by its time limit, to go on between turns.
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// The server's bound.
    server: bool,
    /// Tenants' quotas.
    tenants: Vec<TenantId>,
}

impl Pending {
    /// Whether anything waits.
    pub(super) fn any(&self) -> bool {
        self.server || !self.tenants.is_empty()
    }
}

/// How one bound's eviction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Within the bound: not over it, or brought back under it.
    Settled,
    /// Out of time with memory still over the bound; goes on between turns.
    CutShort,
    /// Over the bound with nothing here left to evict.
    Exhausted,
}

impl Engine {
    /// Brings memory under the bounds a command of `tenant` is checked
    /// against, where their policies allow (see the module docs); whether
    /// those bounds let the command go ahead: unless this core found
    /// nothing to evict, they do, even if another core's write has pushed
    /// memory over again since (or eviction goes on between turns), as in
    /// Redis. The bounds without a policy still refuse.
    #[inline]
    pub(super) fn evict_for(&mut self, tenant: TenantId) -> bool {
        if self.loading.is_some() || self.paused.any() {
            // Nothing is evicted while the data comes back, nor while
            // clients are paused, as in Redis.
            return false;
        }
        let mut admit = true;
        let runtime = &self.shared.runtime;
        if LiveSettings::get(&runtime.maxmemory) != 0 && runtime.policy().evicts() {
            match self.evict_for_server() {
                Outcome::Settled => {}
                Outcome::CutShort => self.evicting.server = true,
                Outcome::Exhausted => admit = false,
            }
        }
        if self.shared.tenants.policy(tenant).evicts() {
            match self.evict_for_tenant(tenant) {
                Outcome::Settled => {}
                Outcome::CutShort if !self.evicting.tenants.contains(&tenant) => {
                    self.evicting.tenants.push(tenant);
                }
                Outcome::CutShort => {}
                Outcome::Exhausted => admit = false,
            }
        }
        admit
    }

    /// Goes on with eviction cut short before (between turns), and covers
    /// a core that sees no commands while the server is over its bound
    /// (on each tick).
    pub(super) fn evict_between_turns(&mut self) {
        if self.loading.is_some() || self.paused.any() {
            return;
        }
        let runtime = &self.shared.runtime;
        let server = LiveSettings::get(&runtime.maxmemory) != 0 && runtime.policy().evicts();
        self.evicting.server = server && self.evict_for_server() == Outcome::CutShort;
        let mut tenants = std::mem::take(&mut self.evicting.tenants);
        tenants.retain(|&t| {
            self.shared.tenants.policy(t).evicts() && self.evict_for_tenant(t) == Outcome::CutShort
        });
        self.evicting.tenants = tenants;
    }

    /// The server's `maxmemory`: keys of any tenant on this core.
    fn evict_for_server(&mut self) -> Outcome {
        let shared = &self.shared;
        let max = LiveSettings::get(&shared.runtime.maxmemory);
        let load = |gauges: &[std::sync::atomic::AtomicU64]| gauges[self.id].load(Relaxed);
        let here = load(&shared.memory) + load(&shared.clients);
        let over = to_free(shared.used_memory(), max, here, shared.cores());
        if over == 0 {
            return Outcome::Settled;
        }
        let policy = self.shared.runtime.policy();
        let samples = self.eviction_samples();
        let (evicted, outcome) = evict_until(over, || self.keyspaces.evict_one(policy, samples));
        self.evicted(evicted);
        outcome
    }

    /// `tenant`'s own quota: its keys on this core.
    fn evict_for_tenant(&mut self, tenant: TenantId) -> Outcome {
        let tenants = &self.shared.tenants;
        let max = tenants.limits(tenant).maxmemory;
        if max == 0 {
            return Outcome::Settled;
        }
        let usage = tenants.usage(self.id, tenant);
        let here = usage.memory.load(Relaxed) + usage.output.load(Relaxed);
        let used = max + tenants.memory_over(tenant);
        let over = to_free(used, max, here, self.shared.cores());
        if over == 0 {
            return Outcome::Settled;
        }
        let policy = self.shared.tenants.policy(tenant);
        let samples = self.eviction_samples();
        let Some(shard) = self.shard_of(tenant) else {
            return Outcome::Settled;
        };
        let (mut evicted, outcome) = evict_until(over, || shard.evict_one(policy, samples));
        for e in &mut evicted {
            // A shard's own eviction does not know its keyspace.
            (e.space, e.generation) = (tenant.index(), tenant.generation());
        }
        self.evicted(evicted);
        outcome
    }

    fn eviction_samples(&self) -> usize {
        LiveSettings::get(&self.shared.runtime.maxmemory_samples).max(1) as usize
    }

    /// Tells the log, `WATCH`, the tenant's listeners and the figures
    /// what eviction removed.
    fn evicted(&mut self, evicted: Vec<Evicted>) {
        if evicted.is_empty() {
            return;
        }
        for e in &evicted {
            let tenant = TenantId::new(e.space, e.generation);
            Usage::bump(&self.shared.tenants.usage(self.id, tenant).evicted);
            self.journal.effect(&self.shared, tenant, &[b"DEL", &e.key]);
            if self.shared.tenants.wants_events(tenant) {
                let event = KeyEvent {
                    key: e.key.clone(),
                    kind: EventKind::Named(class::EVICTED, "evicted"),
                };
                self.journal.key_events(&self.shared, tenant, &[event]);
            }
        }
        self.publish_memory();
        let mut tenants: Vec<TenantId> = evicted
            .iter()
            .map(|e| TenantId::new(e.space, e.generation))
            .collect();
        tenants.dedup();
        tenants.into_iter().for_each(|t| self.publish_usage(t));
    }

    /// Sets how each keyspace here stamps its records: LFU counters when
    /// the policy that governs it (the tenant's own, else the server's) is
    /// an LFU one, access times otherwise. Run every tick, so a
    /// `CONFIG SET maxmemory-policy` or an `ACL SETUSER` takes effect
    /// within one.
    pub(super) fn follow_access_modes(&mut self) {
        let runtime = &self.shared.runtime;
        let (server, lfu) = (runtime.policy(), runtime.lfu_params());
        let tenants = &self.shared.tenants;
        for (index, generation, shard) in self.keyspaces.iter_mut() {
            let own = tenants.policy(TenantId::new(index, generation));
            let governing = if own.evicts() { own } else { server };
            let mode = AccessMode::for_policy(governing, lfu);
            if shard.access_mode() != mode {
                shard.set_access_mode(mode);
            }
        }
    }
}

/// How many bytes this core should free for a bound of `max` with `used`
/// in use on every core, `here` of them on this one, out of `cores`.
///
/// A core frees its own excess over an even share of the bound (never more
/// than the whole overage); a core at or under its share leaves the rest to
/// the cores over theirs, which evict at their next write or tick. That is
/// the pull back to balance: were each core to free the whole overage, the
/// split between cores would drift as a random walk, and the core left with
/// the smaller part would keep its keys for ever less time (the hit rate of
/// a Zipf cache fell from 75% to 63% in 500,000 requests). Past a slack of
/// 1/32 of the bound, every core frees the overage, so a core without
/// writes cannot let memory run far over.
fn to_free(used: u64, max: u64, here: u64, cores: usize) -> u64 {
    let over = used.saturating_sub(max);
    if over == 0 || over > max / SLACK_DIVISOR {
        return over;
    }
    let share = max / cores.max(1) as u64;
    over.min(here.saturating_sub(share))
}

/// Calls `evict_one` until what it freed covers `over` bytes
/// ([`Outcome::Settled`]), it finds nothing more ([`Outcome::Exhausted`]),
/// or [`EVICTION_TIME_LIMIT`] passes ([`Outcome::CutShort`]).
fn evict_until(
    over: u64,
    mut evict_one: impl FnMut() -> Option<Evicted>,
) -> (Vec<Evicted>, Outcome) {
    let deadline = Instant::now() + EVICTION_TIME_LIMIT;
    let mut evicted = Vec::new();
    let mut freed = 0u64;
    while freed < over {
        let Some(e) = evict_one() else {
            return (evicted, Outcome::Exhausted);
        };
        freed += e.freed as u64;
        evicted.push(e);
        if (evicted.len() as u32).is_multiple_of(EVICTIONS_PER_CLOCK_CHECK)
            && Instant::now() >= deadline
        {
            let outcome = if freed < over {
                Outcome::CutShort
            } else {
                Outcome::Settled
            };
            return (evicted, outcome);
        }
    }
    (evicted, Outcome::Settled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_frees_its_excess_over_its_share_and_past_the_slack_the_overage() {
        // 2 cores, a bound of 3,200: shares of 1,600, a slack of 100.
        assert_eq!(to_free(3_000, 3_200, 2_000, 2), 0, "within the bound");
        assert_eq!(to_free(3_250, 3_200, 1_700, 2), 50, "the overage, at most");
        assert_eq!(
            to_free(3_250, 3_200, 1_620, 2),
            20,
            "its excess over its share"
        );
        assert_eq!(
            to_free(3_250, 3_200, 1_500, 2),
            0,
            "under its share: the other core's turn"
        );
        assert_eq!(
            to_free(3_400, 3_200, 1_500, 2),
            200,
            "past the slack: the whole overage"
        );
        assert_eq!(to_free(50, 0, 50, 2), 50, "a bound of 0 is over at once");
    }

    #[test]
    fn evict_until_stops_when_enough_is_freed_or_nothing_is_left() {
        let one = || Evicted {
            space: 0,
            generation: 0,
            key: bytes::Bytes::from_static(b"k"),
            freed: 100,
        };
        let mut left = 10;
        let (got, outcome) = evict_until(250, || {
            left -= 1;
            Some(one())
        });
        assert_eq!(
            (got.len(), outcome),
            (3, Outcome::Settled),
            "300 bytes cover 250"
        );
        assert_eq!(left, 7);
        let mut left = 2;
        let (got, outcome) = evict_until(1_000, || {
            (left > 0).then(|| {
                left -= 1;
                one()
            })
        });
        assert_eq!((got.len(), outcome), (2, Outcome::Exhausted));
        assert!(evict_until(0, || Some(one())).0.is_empty());
        let (got, outcome) = evict_until(u64::MAX, || {
            std::thread::sleep(Duration::from_micros(100));
            Some(one())
        });
        assert_eq!(outcome, Outcome::CutShort, "out of time, still over");
        assert!(got.len() >= EVICTIONS_PER_CLOCK_CHECK as usize);
    }
}
