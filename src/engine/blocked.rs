//! The clients blocked on this core's keys (BLPOP and the other blocking
//! pops), in the order they blocked.
//!
//! ```text
//!  BLPOP k 0 ─► nothing to pop ─► park (job, origin) ─► shard.watch(k)
//!  LPUSH k v ─► shard reports k created ─► run the first waiter on k again
//!                                          ├─ served: answer its origin
//!                                          └─ still empty: keep waiting
//!  timeout / CLIENT UNBLOCK ─► answer a null array (or -UNBLOCKED)
//! ```
//!
//! A waiter is the parked request itself: the job as any core would run
//! it (a client's request on this core, or one forwarded here) and where
//! its answer goes. Being served re-runs it, so it answers exactly what the
//! command answers when something is there; nothing is copied out early.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use kiln_net::{OwnedArgs, Reply};

use kiln_net::Args;
use kiln_net::transport::{Connection, Post};
use kiln_store::Shard;

use super::Engine;
use super::message::{Msg, Origin, Waiting};
use crate::commands::CommandSpec;
use crate::commands::blocking::{Timeout, UNBLOCKED, Unblock};
use crate::commands::plan::Output;
use crate::session::Held;
use crate::tenant::TenantId;

/// A parked request.
pub struct Waiter {
    /// The blocking command.
    pub spec: &'static CommandSpec,
    /// Its arguments.
    pub args: OwnedArgs,
    /// Where its answer goes.
    pub origin: Origin,
    /// When it stops waiting; `None` never.
    deadline: Option<Instant>,
    /// The keys it waits for (its tenant's, on this core).
    keys: Vec<Bytes>,
}

/// This core's blocked clients.
#[derive(Default)]
pub struct Blocked {
    /// Waiters by id; ids grow, so this is the order they blocked in.
    waiters: BTreeMap<u64, Waiter>,
    /// The waiters on each key, first blocked first.
    by_key: HashMap<(TenantId, Bytes), VecDeque<u64>>,
    /// Deadlines, earliest first.
    deadlines: BTreeSet<(Instant, u64)>,
    next_id: u64,
    /// Waiters answered outside the engine's own calls (CLIENT UNBLOCK),
    /// for the engine to send, with the keys they left without a waiter.
    answered: Vec<(Origin, Output, Vec<Bytes>)>,
}

impl Blocked {
    /// Whether any client waits here.
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// Parks a request on `keys` until `deadline`; returns the keys that
    /// had no waiter yet (the shard must start watching them).
    pub fn park(
        &mut self,
        spec: &'static CommandSpec,
        args: OwnedArgs,
        origin: Origin,
        keys: Vec<Bytes>,
        deadline: Option<Instant>,
    ) -> Vec<Bytes> {
        let id = self.next_id;
        self.next_id += 1;
        let mut fresh = Vec::new();
        for key in &keys {
            let queue = self.by_key.entry((origin.tenant, key.clone())).or_default();
            if queue.is_empty() {
                fresh.push(key.clone());
            }
            if !queue.contains(&id) {
                queue.push_back(id);
            }
        }
        if let Some(at) = deadline {
            self.deadlines.insert((at, id));
        }
        self.waiters.insert(
            id,
            Waiter {
                spec,
                args,
                origin,
                deadline,
                keys,
            },
        );
        fresh
    }

    /// The first waiter on `tenant`'s `key`, taken out of the registry;
    /// the keys nobody waits for any more come back with it (to unwatch).
    pub fn take_first(&mut self, tenant: TenantId, key: &Bytes) -> Option<(Waiter, Vec<Bytes>)> {
        let id = *self.by_key.get(&(tenant, key.clone()))?.front()?;
        self.remove(id)
    }

    /// Puts back a waiter that was run again and still found nothing, at
    /// the head of its keys' queues (it keeps its turn).
    pub fn put_back(&mut self, waiter: Waiter) -> Vec<Bytes> {
        let id = self.next_id;
        self.next_id += 1;
        let mut fresh = Vec::new();
        for key in &waiter.keys {
            let queue = self
                .by_key
                .entry((waiter.origin.tenant, key.clone()))
                .or_default();
            if queue.is_empty() {
                fresh.push(key.clone());
            }
            queue.push_front(id);
        }
        if let Some(at) = waiter.deadline {
            self.deadlines.insert((at, id));
        }
        self.waiters.insert(id, waiter);
        fresh
    }

    /// Removes waiter `id` from every index; the keys left without a
    /// waiter come back with it.
    fn remove(&mut self, id: u64) -> Option<(Waiter, Vec<Bytes>)> {
        let waiter = self.waiters.remove(&id)?;
        if let Some(at) = waiter.deadline {
            self.deadlines.remove(&(at, id));
        }
        let mut idle = Vec::new();
        for key in &waiter.keys {
            let slot = (waiter.origin.tenant, key.clone());
            if let Some(queue) = self.by_key.get_mut(&slot) {
                queue.retain(|&w| w != id);
                if queue.is_empty() {
                    self.by_key.remove(&slot);
                    idle.push(key.clone());
                }
            }
        }
        Some((waiter, idle))
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// The waiters whose deadline passed by `now`, removed, with the keys
    /// left without a waiter.
    pub fn expire(&mut self, now: Instant) -> Vec<(Waiter, Vec<Bytes>)> {
        let due: Vec<u64> = self
            .deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| *id)
            .collect();
        due.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    /// Removes every waiter of client `client` (its connection closed).
    pub fn cancel(&mut self, client: u64) -> Vec<(Waiter, Vec<Bytes>)> {
        let ids: Vec<u64> = self
            .waiters
            .iter()
            .filter(|(_, w)| w.origin.client_id == client)
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    /// Waiters answered by [`Unblock::unblock`]: where each answer goes,
    /// the answer, and the keys it left without a waiter.
    pub fn take_answered(&mut self) -> Vec<(Origin, Output, Vec<Bytes>)> {
        std::mem::take(&mut self.answered)
    }
}

/// The engine's side: parking, serving and releasing its blocked clients.
impl Engine {
    /// Parks a blocked request on its keys until they are created, its
    /// timeout passes, or its client goes.
    pub(super) fn park(
        &mut self,
        spec: &'static CommandSpec,
        args: OwnedArgs,
        origin: Origin,
        timeout: Timeout,
    ) {
        let keys = spec
            .keys
            .positions_in(args.args())
            .map(|at| bytes::Bytes::copy_from_slice(args.args().get(at)))
            .collect();
        let deadline = timeout.map(|t| self.now + t);
        let fresh = self.blocked.park(spec, args, origin, keys, deadline);
        self.watch(origin.tenant, fresh);
    }

    /// A client's blocking command found nothing: its reply keeps its
    /// place in the queue, its later requests wait, and the request is
    /// parked here (its keys are this core's).
    pub(super) fn block_client(
        &mut self,
        conn: &mut Connection<Engine>,
        spec: &'static CommandSpec,
        args: Args<'_>,
        timeout: Timeout,
    ) {
        let protocol = conn.session.protocol;
        let seq = conn.replies.push_pending(Waiting::parked(spec, protocol));
        conn.session.held = Some(Held {
            seq,
            blocking: true,
        });
        let origin = self.origin(conn, seq, conn.session.tenant, Some(protocol));
        let args = OwnedArgs::from_buffer(self.buffer(), args.iter());
        self.park(spec, args, origin, timeout);
    }

    pub(super) fn watch(&mut self, tenant: TenantId, keys: Vec<bytes::Bytes>) {
        if let Some(shard) = self.shard_of(tenant) {
            keys.into_iter().for_each(|key| shard.watch(key));
        }
    }

    pub(super) fn unwatch(&mut self, tenant: TenantId, keys: &[bytes::Bytes]) {
        if let Some(shard) = self.shard_of(tenant) {
            keys.iter().for_each(|key| shard.unwatch(key));
        }
    }

    /// Serves the clients blocked on `tenant`'s keys that commands just
    /// created, first blocked first: each runs again, and is answered if
    /// it popped (its own pops and pushes may create more keys), or keeps
    /// its turn if it still found nothing. Then sends what `CLIENT
    /// UNBLOCK` answered.
    pub(super) fn serve_blocked(&mut self, tenant: TenantId, post: &mut Post<Msg>) {
        while !self.blocked.is_empty() {
            let ready = self
                .shard_of(tenant)
                .map(Shard::take_ready)
                .unwrap_or_default();
            if ready.is_empty() {
                break;
            }
            for key in ready {
                self.serve_key(tenant, &key, post);
            }
        }
        for (origin, output, idle) in self.blocked.take_answered() {
            self.unwatch(origin.tenant, &idle);
            post.send(origin.core, Msg::Done { origin, output });
        }
    }

    /// Serves the clients blocked on keys that changed outside a command
    /// (the tick's active expiry, eviction between turns), tenant by
    /// tenant.
    pub(super) fn serve_ready(&mut self, post: &mut Post<Msg>) {
        if self.blocked.is_empty() {
            return;
        }
        let tenants: Vec<TenantId> = self
            .keyspaces
            .iter_mut()
            .filter(|(_, _, shard)| shard.has_ready())
            .map(|(index, generation, _)| TenantId::new(index, generation))
            .collect();
        for tenant in tenants {
            self.serve_blocked(tenant, post);
        }
    }

    pub(super) fn serve_key(&mut self, tenant: TenantId, key: &bytes::Bytes, post: &mut Post<Msg>) {
        while let Some((mut waiter, idle)) = self.blocked.take_first(tenant, key) {
            self.unwatch(tenant, &idle);
            let Waiter { spec, origin, .. } = waiter;
            // A transaction holding one of its keys goes first.
            match self.defer_waiter(spec, std::mem::take(&mut waiter.args), origin) {
                Ok(()) => continue,
                Err(args) => waiter.args = args,
            }
            self.serving_waiter = true;
            let output = self.job_output(spec, &waiter.args, origin, &[]);
            self.serving_waiter = false;
            match output {
                Ok(output) => {
                    self.recycle(waiter.args.into_buffer());
                    post.send(origin.core, Msg::Done { origin, output });
                }
                Err(_) => {
                    let fresh = self.blocked.put_back(waiter);
                    self.watch(tenant, fresh);
                    return;
                }
            }
        }
        if let Some(shard) = self.shard_of(tenant) {
            shard.unwatch(key);
        }
    }

    /// Drops `waiters` that stopped waiting unserved; with `post`, each is
    /// answered as a timeout (a cancelled one has nobody to answer).
    pub(super) fn release(
        &mut self,
        waiters: Vec<(Waiter, Vec<bytes::Bytes>)>,
        mut post: Option<&mut Post<Msg>>,
    ) {
        for (waiter, idle) in waiters {
            self.unwatch(waiter.origin.tenant, &idle);
            if let Some(post) = post.as_deref_mut() {
                let origin = waiter.origin;
                let output = timed_out();
                post.send(origin.core, Msg::Done { origin, output });
            }
            self.recycle(waiter.args.into_buffer());
        }
    }
}

/// The answer of a waiter that stops waiting without being served.
pub fn timed_out() -> Output {
    Output::Reply(Reply::NilArray)
}

impl Unblock for Blocked {
    fn unblock(&mut self, client: u64, tenant: Option<TenantId>, error: bool) -> bool {
        let ids: Vec<u64> = self
            .waiters
            .iter()
            .filter(|(_, w)| w.origin.client_id == client)
            .filter(|(_, w)| tenant.is_none_or(|t| t == w.origin.tenant))
            .map(|(id, _)| *id)
            .collect();
        let found = !ids.is_empty();
        for id in ids {
            if let Some((waiter, idle)) = self.remove(id) {
                let output = if error {
                    Output::Reply(UNBLOCKED)
                } else {
                    timed_out()
                };
                self.answered.push((waiter.origin, output, idle));
            }
        }
        found
    }
}
