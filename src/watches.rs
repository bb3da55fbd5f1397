//! `WATCH`: the keys clients of any core watch on this core, flagged by
//! every write to them.
//!
//! A watch lives on the core owning its key, beside the writes that break
//! it: the core's [`crate::journal::Journal`] (the one place every write of
//! a command, a storage function or a cross-core move passes) flags the
//! watchers of each key it writes, so no write waits on a message. `EXEC`
//! asks each core whether its client's watches there still hold, as it
//! locks them.
//!
//! What a write cannot flag is checked at `EXEC`: a key that existed when
//! it was watched and is gone (it expired, or a flush emptied it), or one
//! that did not exist and does now. This is Redis 7's rule too: flushing or
//! expiring a watched key aborts the transaction only if the key existed.

use std::collections::HashMap;

use bytes::Bytes;
use smallvec::SmallVec;

use crate::tenant::TenantId;

/// One client's watches on this core.
#[derive(Debug, Default)]
struct ClientWatches {
    /// Its keys, with whether each existed when it was watched.
    keys: Vec<(TenantId, Bytes, bool)>,
    /// A write touched one of them.
    dirty: bool,
}

/// The watched keys on this core.
#[derive(Debug, Default)]
pub struct Watches {
    by_client: Map<u64, ClientWatches>,
    /// Each tenant's watched keys and their watchers.
    by_key: Map<TenantId, Map<Bytes, SmallVec<[u64; 2]>>>,
}

/// Keys come from clients: maps are seeded (aHash), as the shard's are.
type Map<K, V> = HashMap<K, V, ahash::RandomState>;

impl Watches {
    /// Whether nobody watches anything here (every write checks this first).
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Client `client` watches `tenant`'s `key`, which exists or not now.
    pub fn watch(&mut self, client: u64, tenant: TenantId, key: &[u8], exists: bool) {
        let mine = self.by_client.entry(client).or_default();
        if mine.keys.iter().any(|(t, k, _)| *t == tenant && k == key) {
            return;
        }
        let key = Bytes::copy_from_slice(key);
        mine.keys.push((tenant, key.clone(), exists));
        let watched = self.by_key.entry(tenant).or_default();
        watched.entry(key).or_default().push(client);
    }

    /// A write changed `tenant`'s `key`: its watchers' transactions abort.
    pub fn touch(&mut self, tenant: TenantId, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        let Some(clients) = self.by_key.get(&tenant).and_then(|keys| keys.get(key)) else {
            return;
        };
        for client in clients {
            if let Some(mine) = self.by_client.get_mut(client) {
                mine.dirty = true;
            }
        }
    }

    /// Whether `client`'s watches here are broken: a write touched one, or
    /// one's existence changed since it was watched (`exists` answers for
    /// a key now).
    pub fn broken(&self, client: u64, mut exists: impl FnMut(TenantId, &[u8]) -> bool) -> bool {
        self.by_client.get(&client).is_some_and(|mine| {
            mine.dirty
                || mine
                    .keys
                    .iter()
                    .any(|(tenant, key, existed)| exists(*tenant, key) != *existed)
        })
    }

    /// The keys `client` watches here, of `tenant`.
    pub fn keys_of(&self, client: u64, tenant: TenantId) -> Vec<Bytes> {
        self.by_client.get(&client).map_or_else(Vec::new, |mine| {
            mine.keys
                .iter()
                .filter(|(t, _, _)| *t == tenant)
                .map(|(_, k, _)| k.clone())
                .collect()
        })
    }

    /// Forgets `client`'s watches here (`UNWATCH`, `EXEC`, `DISCARD`, a
    /// closed connection).
    pub fn unwatch(&mut self, client: u64) {
        let Some(mine) = self.by_client.remove(&client) else {
            return;
        };
        for (tenant, key, _) in mine.keys {
            let Some(watched) = self.by_key.get_mut(&tenant) else {
                continue;
            };
            if let Some(clients) = watched.get_mut(&key) {
                clients.retain(|c| *c != client);
                if clients.is_empty() {
                    watched.remove(&key);
                }
            }
            if watched.is_empty() {
                self.by_key.remove(&tenant);
            }
        }
    }

    /// Number of keys watched here.
    pub fn watched_keys(&self) -> usize {
        self.by_key.values().map(HashMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TenantId = TenantId::DEFAULT;

    #[test]
    fn a_write_breaks_only_its_keys_watchers() {
        let mut w = Watches::default();
        w.watch(1, T, b"a", true);
        w.watch(2, T, b"b", true);
        w.touch(T, b"a");
        assert!(w.broken(1, |_, _| true));
        assert!(!w.broken(2, |_, _| true));
        w.unwatch(1);
        w.unwatch(2);
        assert!(w.is_empty());
        assert!(!w.broken(1, |_, _| true));
    }

    #[test]
    fn existence_changes_break_a_watch() {
        let mut w = Watches::default();
        w.watch(1, T, b"gone", true);
        w.watch(2, T, b"new", false);
        assert!(w.broken(1, |_, _| false), "expired or flushed");
        assert!(w.broken(2, |_, _| true), "created");
        assert!(!w.broken(2, |_, _| false));
    }

    #[test]
    fn tenants_keep_their_own_keys() {
        let mut w = Watches::default();
        let other = TenantId::new(3, 1);
        w.watch(1, T, b"k", true);
        w.touch(other, b"k");
        assert!(!w.broken(1, |_, _| true));
        assert_eq!(w.keys_of(1, T), vec![Bytes::from_static(b"k")]);
        assert!(w.keys_of(1, other).is_empty());
    }
}
