//! A core's transaction locks: which keys (or whole keyspaces) the
//! transactions under way hold here, and the work waiting for them in
//! arrival order.
//!
//! A lock is granted whole or not at all; cores lock in ascending order
//! (see [`super::transaction`]), so no two transactions wait for each
//! other in a cycle. Once a transaction's part here ran, its client's
//! later work shares its locks (it runs after the transaction on every
//! core anyway); everyone else's waits.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::message::Origin;
use super::transaction::{TxId, TxOp};
use crate::commands::plan::Job;
use crate::tenant::TenantId;

/// Work waiting here for a transaction's locks, in arrival order.
pub(super) enum Deferred {
    /// A job (a client's request of this core, or another core's).
    Job(Job, Origin),
    /// Another transaction's lock.
    Lock(TxId, TxOp),
}

/// What one transaction holds on this core.
pub(super) struct Holding {
    pub(super) client: u64,
    /// Its part ran already (it holds until the other cores ran theirs).
    pub(super) ran: bool,
    pub(super) tenant: TenantId,
    pub(super) keys: Vec<Bytes>,
    pub(super) whole: bool,
}

/// Whose transactions hold a lock. Once its part here ran, a client's
/// transaction shares its locks with the client's later work: that runs
/// after it on every core anyway (see [`Locks::expect`]), and other
/// clients wait for them all.
#[derive(Debug, Clone, Copy)]
struct Owner {
    client: u64,
    count: usize,
    /// Holders whose part here has not run yet.
    unrun: usize,
}

impl Owner {
    /// Whether the lock stops `client`'s work.
    fn other(&self, client: u64) -> bool {
        self.client != client || self.unrun > 0
    }
}

/// A map keyed by what clients send: seeded per map (aHash), as the
/// shard's own tables are.
type Map<K, V> = HashMap<K, V, ahash::RandomState>;

/// This core's transaction locks and the work waiting for them.
#[derive(Default)]
pub struct Locks {
    /// Locked keys, per tenant.
    keys: Map<TenantId, Map<Bytes, Owner>>,
    /// Tenants whose whole keyspace here is locked.
    whole: Map<TenantId, Owner>,
    held: Map<TxId, Holding>,
    queue: VecDeque<Deferred>,
    /// Clients with work in the queue: their later work queues behind it.
    queued_clients: Map<u64, usize>,
    /// Transactions of a client that will reach this core (an `EXEC` under
    /// way elsewhere): the client's later work here waits for them, so a
    /// pipeline keeps its order without holding the client's input.
    expected: Map<u64, VecDeque<TxId>>,
    /// The queue is being run again ([`super::transaction`]'s drain): a
    /// release meanwhile only marks `released_while_draining`, and the
    /// drain goes round once more.
    pub(super) draining: bool,
    pub(super) released_while_draining: bool,
}

impl Locks {
    /// Nothing locked, nothing waiting: every command runs (checked first,
    /// on every request).
    pub fn is_idle(&self) -> bool {
        self.held.is_empty() && self.queue.is_empty() && self.expected.is_empty()
    }

    /// Whether `client` has work waiting in the queue.
    pub(super) fn has_queued(&self, client: u64) -> bool {
        self.queued_clients.contains_key(&client)
    }

    /// Whether `client` expects a transaction to reach this core.
    pub(super) fn expects_any(&self, client: u64) -> bool {
        self.expected.contains_key(&client)
    }

    /// Client `client`'s transaction `id` will reach this core.
    pub(super) fn expect(&mut self, client: u64, id: TxId) {
        self.expected.entry(client).or_default().push_back(id);
    }

    /// Whether `client` expects a transaction here before `id`.
    pub(super) fn expects_before(&self, client: u64, id: TxId) -> bool {
        self.expected
            .get(&client)
            .and_then(VecDeque::front)
            .is_some_and(|first| *first != id)
    }

    /// Transaction `id` of `client` reached this core (or ended).
    pub(super) fn arrived(&mut self, client: u64, id: TxId) {
        if let Some(queue) = self.expected.get_mut(&client) {
            queue.retain(|t| *t != id);
            if queue.is_empty() {
                self.expected.remove(&client);
            }
        }
    }

    /// Whether a lock of `keys` (of the whole keyspace, with `whole`) of
    /// `tenant` could be granted now.
    pub(super) fn free(&self, client: u64, tenant: TenantId, keys: &[Bytes], whole: bool) -> bool {
        if self.whole.get(&tenant).is_some_and(|o| o.other(client)) {
            return false;
        }
        match self.keys.get(&tenant) {
            None => true,
            Some(locked) if whole => locked.values().all(|o| !o.other(client)),
            Some(locked) => keys
                .iter()
                .all(|k| locked.get(k).is_none_or(|o| !o.other(client))),
        }
    }

    /// Whether work of `client` on `tenant`'s `keys` must wait (`keys`
    /// empty: a keyless command, which only a whole lock stops).
    pub(super) fn holds<'k>(
        &self,
        client: u64,
        tenant: TenantId,
        mut keys: impl Iterator<Item = &'k [u8]>,
    ) -> bool {
        self.queued_clients.contains_key(&client)
            || self.expected.contains_key(&client)
            || self.whole.get(&tenant).is_some_and(|o| o.other(client))
            || self
                .keys
                .get(&tenant)
                .is_some_and(|locked| keys.any(|k| locked.get(k).is_some_and(|o| o.other(client))))
    }

    pub(super) fn acquire(&mut self, id: TxId, holding: Holding) {
        let fresh = Owner {
            client: holding.client,
            count: 0,
            unrun: 0,
        };
        let unrun = usize::from(!holding.ran);
        let add = |owner: &mut Owner| {
            owner.count += 1;
            owner.unrun += unrun;
        };
        if holding.whole {
            add(self.whole.entry(holding.tenant).or_insert(fresh));
        }
        if !holding.keys.is_empty() {
            let locked = self.keys.entry(holding.tenant).or_default();
            for key in &holding.keys {
                add(locked.entry(key.clone()).or_insert(fresh));
            }
        }
        self.held.insert(id, holding);
    }

    /// Releases what `id` holds here; the tenant it held keys of.
    pub(super) fn release(&mut self, id: TxId) -> Option<TenantId> {
        let holding = self.held.remove(&id)?;
        let tenant = holding.tenant;
        let unrun = usize::from(!holding.ran);
        let last = |owner: &mut Owner| {
            owner.count -= 1;
            owner.unrun -= unrun;
            owner.count == 0
        };
        if holding.whole && self.whole.get_mut(&tenant).is_some_and(last) {
            self.whole.remove(&tenant);
        }
        if let Some(locked) = self.keys.get_mut(&tenant) {
            for key in &holding.keys {
                if locked.get_mut(key).is_some_and(last) {
                    locked.remove(key);
                }
            }
            if locked.is_empty() {
                self.keys.remove(&tenant);
            }
        }
        Some(tenant)
    }

    pub(super) fn defer(&mut self, client: u64, work: Deferred) {
        *self.queued_clients.entry(client).or_default() += 1;
        self.queue.push_back(work);
    }

    pub(super) fn take_queue(&mut self) -> VecDeque<Deferred> {
        self.queued_clients.clear();
        std::mem::take(&mut self.queue)
    }
}
