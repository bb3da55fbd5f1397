//! [`TenantId`]: who a keyspace, a request or a function library belongs
//! to, as one small `Copy` value every crate shares.

use std::fmt;

/// A tenant: its slot index plus that slot's generation.
///
/// The index addresses the tenant's keyspace on every core ([`crate::Keyspaces`]
/// is one shard per index) and its library set in the function registry;
/// the generation tells a tenant apart from an earlier one of the same slot,
/// deleted since: the server bumps it when it deletes a tenant, so sessions,
/// in-flight jobs and function calls that still carry the old id find
/// nothing of the new tenant's. Small and `Copy`, so sessions, cross-core
/// jobs and function calls carry it by value; the tenant's *name* lives only
/// where a human or a file needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct TenantId {
    index: u32,
    generation: u32,
}

impl TenantId {
    /// The `default` user (slot 0, never deleted).
    pub const DEFAULT: TenantId = TenantId {
        index: 0,
        generation: 0,
    };

    /// The id of slot `index` at `generation` (as a core's keyspaces list
    /// them). An index past `u32::MAX` saturates (no server has that many
    /// tenant slots).
    pub const fn new(index: usize, generation: u32) -> TenantId {
        let index = if index > u32::MAX as usize {
            u32::MAX
        } else {
            index as u32
        };
        TenantId { index, generation }
    }

    /// The slot index (keyspace index on every core).
    pub fn index(self) -> usize {
        self.index as usize
    }

    /// The slot's generation when this id was issued.
    pub fn generation(self) -> u32 {
        self.generation
    }

    /// Whether this is the `default` user.
    pub fn is_default(self) -> bool {
        self.index == 0
    }
}

/// `index.generation`, as logs show it.
impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.index, self.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_tell_ids_of_one_slot_apart() {
        let old = TenantId::new(3, 0);
        let new = TenantId::new(3, 1);
        assert_eq!(old.index(), new.index());
        assert_ne!(old, new);
        assert!(TenantId::DEFAULT.is_default() && !old.is_default());
        assert_eq!(new.to_string(), "3.1");
    }
}
