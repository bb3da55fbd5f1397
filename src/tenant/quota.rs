//! The memory rule: whether a write fits its tenant's quotas and the
//! server's `maxmemory`. Every write that may grow memory asks
//! [`Tenants::admits`] first — client commands (`DENYOOM`), cross-core
//! record jobs and storage functions' host writes alike.
//!
//! What counts against a bound is what INFO's `used_memory` counts: keys +
//! values ([`kiln_store::Shard::used_memory`]) plus the unsent replies
//! buffered for clients (`mem_clients_normal`), each core's last published
//! figures summed.

use std::sync::atomic::Ordering;

use super::{TenantId, Tenants};

/// What a write would add: bytes of memory and keys. A caller that cannot
/// tell (a client command, checked as Redis checks it: against the figures
/// before it runs) passes [`Growth::UNKNOWN`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Growth {
    /// Bytes the write may add.
    pub bytes: u64,
    /// Keys the write may create.
    pub keys: u64,
}

impl Growth {
    /// A write whose size is not known beforehand: refused once a bound is
    /// already passed (Redis's `DENYOOM` rule), or when the tenant holds
    /// its `maxkeys` (the write might add one).
    pub const UNKNOWN: Growth = Growth { bytes: 0, keys: 1 };

    /// Adds `bytes` bytes.
    pub fn bytes(self, bytes: usize) -> Growth {
        Growth {
            bytes: self.bytes.saturating_add(bytes as u64),
            ..self
        }
    }

    /// Adds one new key of `entry_bytes` accounted bytes.
    pub fn new_key(self, entry_bytes: usize) -> Growth {
        Growth {
            keys: self.keys + 1,
            ..self.bytes(entry_bytes)
        }
    }
}

/// The server-wide bound: memory used on every core (data and client
/// buffers) against `maxmemory` (0 = none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerMemory {
    /// Bytes in use, as INFO `used_memory`.
    pub used: u64,
    /// `maxmemory`; 0 = no limit.
    pub max: u64,
}

impl Tenants {
    /// Whether a write by `id` that adds `growth` fits: the server's
    /// memory plus `growth.bytes` stays within `maxmemory`, and the
    /// tenant's memory (its keys and values plus its clients' unsent
    /// replies, every core summed) plus `growth.bytes` within its
    /// `maxmemory`, its keys plus `growth.keys` within its `maxkeys`.
    /// A bound of 0 is no bound.
    pub fn admits(&self, id: TenantId, growth: Growth, server: ServerMemory) -> bool {
        self.admits_unless_evicting(id, growth, server, false)
    }

    /// [`Tenants::admits`], where with `evicting` the tenant's memory
    /// quota does not refuse when the tenant's policy evicts (eviction is
    /// bringing it down).
    pub fn admits_unless_evicting(
        &self,
        id: TenantId,
        growth: Growth,
        server: ServerMemory,
        evicting: bool,
    ) -> bool {
        if server.max != 0 && server.used.saturating_add(growth.bytes) > server.max {
            return false;
        }
        let slot = self.slot(id);
        let skip_memory = evicting && self.policy(id).evicts();
        let (maxmemory, maxkeys) = (
            if skip_memory {
                0
            } else {
                slot.maxmemory.load(Ordering::Relaxed)
            },
            slot.maxkeys.load(Ordering::Relaxed),
        );
        if maxmemory == 0 && maxkeys == 0 {
            return true;
        }
        let f = self.figures(id);
        let memory = f.memory.saturating_add(f.output);
        (maxmemory == 0 || memory.saturating_add(growth.bytes) <= maxmemory)
            && (maxkeys == 0 || f.keys.saturating_add(growth.keys) <= maxkeys)
    }

    /// How many bytes `id`'s memory (keys, values and unsent replies,
    /// every core summed) is over its `maxmemory`; 0 within it or without
    /// a quota.
    pub fn memory_over(&self, id: TenantId) -> u64 {
        let maxmemory = self.slot(id).maxmemory.load(Ordering::Relaxed);
        if maxmemory == 0 {
            return 0;
        }
        let f = self.figures(id);
        f.memory.saturating_add(f.output).saturating_sub(maxmemory)
    }

    /// How many more bytes of unsent replies `id`'s connections may hold,
    /// `held` of them already counted for the asking connection: what is
    /// left of its `maxmemory` after every other connection's pending
    /// output. `None` when it has no memory quota.
    pub fn output_room(&self, id: TenantId, held: u64) -> Option<u64> {
        let maxmemory = self.slot(id).maxmemory.load(Ordering::Relaxed);
        if maxmemory == 0 {
            return None;
        }
        let others = self.output(id).saturating_sub(held);
        Some(maxmemory.saturating_sub(others))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::tenant;
    use super::*;

    const NO_MAX: ServerMemory = ServerMemory { used: 0, max: 0 };

    #[test]
    fn quotas_sum_every_core_and_count_what_a_write_adds() {
        let mut c = tenant("t", "p");
        c.limits.maxmemory = 100;
        c.limits.maxkeys = 3;
        let t = Tenants::new(&[c], None, 4, 2).unwrap();
        let id = t.authenticate(b"t", b"p").unwrap();
        t.usage(0, id).memory.store(60, Ordering::Relaxed);
        assert!(t.admits(id, Growth::UNKNOWN, NO_MAX));
        assert!(t.admits(id, Growth::default().bytes(40), NO_MAX));
        assert!(!t.admits(id, Growth::default().bytes(41), NO_MAX));
        t.usage(1, id).output.store(30, Ordering::Relaxed);
        assert!(!t.admits(id, Growth::default().bytes(11), NO_MAX));
        t.usage(1, id).memory.store(20, Ordering::Relaxed);
        assert!(!t.admits(id, Growth::UNKNOWN, NO_MAX));
        t.usage(1, id).output.store(0, Ordering::Relaxed);
        t.usage(0, id).keys.store(2, Ordering::Relaxed);
        assert!(t.admits(id, Growth::default().new_key(1), NO_MAX));
        assert!(!t.admits(id, Growth::default().new_key(1).new_key(1), NO_MAX));
        assert!(t.admits(TenantId::DEFAULT, Growth::default().bytes(1 << 40), NO_MAX));
    }

    #[test]
    fn the_server_bound_counts_the_write_too() {
        let t = Tenants::none(1);
        let server = ServerMemory { used: 90, max: 100 };
        assert!(t.admits(TenantId::DEFAULT, Growth::UNKNOWN, server));
        assert!(t.admits(TenantId::DEFAULT, Growth::default().bytes(10), server));
        assert!(!t.admits(TenantId::DEFAULT, Growth::default().bytes(11), server));
        let over = ServerMemory {
            used: 101,
            max: 100,
        };
        assert!(!t.admits(TenantId::DEFAULT, Growth::UNKNOWN, over));
    }

    #[test]
    fn output_room_is_the_quota_left_after_other_connections() {
        let mut c = tenant("t", "p");
        c.limits.maxmemory = 100;
        let t = Tenants::new(&[c], None, 4, 2).unwrap();
        let id = t.authenticate(b"t", b"p").unwrap();
        assert_eq!(t.output_room(TenantId::DEFAULT, 0), None);
        t.usage(0, id).output.store(30, Ordering::Relaxed);
        t.usage(1, id).output.store(50, Ordering::Relaxed);
        assert_eq!(t.output_room(id, 30), Some(50));
        assert_eq!(t.output_room(id, 0), Some(20));
        t.usage(1, id).output.store(500, Ordering::Relaxed);
        assert_eq!(t.output_room(id, 0), Some(0));
    }
}
