//! Transactions on a core: `MULTI` queues, `WATCH` registers on the keys'
//! cores, and `EXEC` runs the queue atomically, on one core or several.
//!
//! ```text
//!  one core (or core port)        several cores (main port)
//!  ───────────────────────        ─────────────────────────────────────────────
//!  EXEC ─► watches intact? ─►     EXEC ─► Lock core a ─► Lock core b ... ─► Lock+Run last
//!          run the queue in           (ascending core order; each lock is granted
//!          this turn                   once its keys are free, the watches checked)
//!                                  ─► Run on every other core ─► combine ─► reply
//! ```
//!
//! Across cores nothing is global: each core locks only the transaction's
//! keys there (its tenant's whole keyspace there for a keyless command such
//! as `DBSIZE`), and only while the transaction is under way. Cores are
//! locked in ascending order and a lock is granted whole or not at all, so
//! two transactions never wait for each other in a cycle. While a key is
//! locked, any other command on it (a client's, another core's job, another
//! transaction's lock) waits in this core's queue, in arrival order, and
//! runs when the lock goes; commands on other keys go on. A core holds a
//! lock from its grant to its part's run: the time the transaction takes
//! to lock the cores after it, then one message.
//!
//! Each core runs its part in one turn, so no client sees part of a
//! transaction: a reader of several cores' keys either reads under its own
//! transaction (and waits for the locks) or reads the cores one at a time,
//! as any main-port multi-key read does (see the README).

use std::collections::HashMap;

use bytes::Bytes;
use kiln_net::transport::{Clients, Connection, PortKind, Post};
use kiln_net::{Args, OwnedArgs, Reply};
use smallvec::SmallVec;

use super::locks::{Deferred, Holding, Locks};
use super::message::{Msg, Origin, Waiting};
use super::{Engine, loading};
use crate::commands::execute::admit_client;
use crate::commands::plan::{Finish, Finishing, Job, Output};
use crate::commands::transaction::{self as tx, Placement};
use crate::commands::{
    self, Caller, CombineFn, Command, CommandSpec, Executed, Lookup, Out, Route, errors,
};
use crate::session::{Held, Multi};
use crate::tenant::{Growth, TenantId};

/// A transaction (or a `WATCH` of keys on other cores), named by the core
/// coordinating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxId {
    core: usize,
    n: u64,
}

/// Which command of a transaction, and which of its parts, a job answers.
pub type Slot = (usize, usize);

/// What one core runs of a transaction, in the transaction's order.
#[derive(Debug, Default)]
pub struct Batch {
    tenant: TenantId,
    jobs: Vec<TxJob>,
}

/// One job of a core's part of a transaction.
#[derive(Debug)]
struct TxJob {
    /// Where its reply goes in EXEC's answer.
    slot: Slot,
    job: Job,
    /// A whole queued command, not one core's part of a split one: it
    /// counts as a call of its command where it runs, as Redis counts each
    /// command EXEC runs.
    whole: bool,
}

/// A core's part in a transaction, as its coordinator asks for it.
#[derive(Debug)]
pub enum TxOp {
    /// Watch `keys` of `tenant` for `client`, then report.
    Watch {
        /// The tenant.
        tenant: TenantId,
        /// The watching client.
        client: u64,
        /// Its keys on this core.
        keys: Vec<Bytes>,
    },
    /// Lock `keys` (and the client's watched keys here) once they are
    /// free, check the client's watches, report; with `run`, run it at once
    /// (and release, unless `hold`).
    Lock {
        /// The tenant.
        tenant: TenantId,
        /// The client whose watches are checked.
        client: u64,
        /// The transaction's keys here.
        keys: Vec<Bytes>,
        /// A keyless command runs here: lock the tenant's whole keyspace.
        whole: bool,
        /// The part to run straight away.
        run: Option<Batch>,
        /// With `run`: keep the locks until released (other cores have
        /// yet to lock).
        hold: bool,
    },
    /// Run the part under the locks granted, release, report.
    Run(Batch),
    /// The transaction will come here: the client's later work waits.
    Expect {
        /// The client.
        client: u64,
    },
    /// The transaction is aborted: release what it holds here and forget
    /// the client's watches.
    Release {
        /// The client.
        client: u64,
    },
}

/// A core's answer to its coordinator.
#[derive(Debug)]
pub enum TxReport {
    /// The keys are watched.
    Watched,
    /// Locked; `intact`: the client's watches here held (nothing is
    /// locked when they did not).
    Locked {
        /// The watches held.
        intact: bool,
    },
    /// The part ran (or, when the watches broke, did not), and its locks
    /// are released.
    Ran {
        /// The watches held.
        intact: bool,
        /// Each job's reply.
        replies: Vec<(Slot, Reply)>,
    },
}

/// A transaction this core coordinates (or a `WATCH` waiting for cores).
enum Coordinated {
    Watch { at: ClientAt, remaining: usize },
    Exec(Box<Exec>),
}

/// The client a coordinated request answers.
#[derive(Clone, Copy)]
struct ClientAt {
    conn: usize,
    client: u64,
    seq: u64,
}

/// An `EXEC` across cores under way.
struct Exec {
    at: ClientAt,
    tenant: TenantId,
    /// The cores taking part, ascending: the order they lock in.
    order: Vec<usize>,
    /// Each core's part (taken when sent) and what it locks.
    parts: Vec<(Batch, Vec<Bytes>, bool)>,
    /// Cores locked so far.
    locked: usize,
    /// The cores where the client watches keys.
    watching: SmallVec<[usize; 2]>,
    /// Cores that ran their part as they locked, and hold their locks
    /// until every core has run.
    ran_early: SmallVec<[usize; 2]>,
    /// Parts sent to run after every core locked, not reported yet.
    runs_pending: usize,
    /// The commands, for connection commands run at the end and for
    /// combining split ones.
    commands: Vec<Queued>,
}

/// One queued command as `EXEC` runs it.
struct Queued {
    spec: Option<&'static CommandSpec>,
    args: OwnedArgs,
    /// Its reply, once known.
    reply: Option<Reply>,
    /// A command in parts on several cores: how they combine, and each
    /// part's output.
    split: Option<Split>,
    /// A connection command, run at the end with the session.
    with_session: bool,
}

struct Split {
    combine: CombineFn,
    part_keys: Vec<SmallVec<[usize; 4]>>,
    part_cores: Vec<usize>,
    outputs: Vec<Option<Output>>,
}

/// This core's transactions: the ones it coordinates and its locks.
#[derive(Default)]
pub struct Transactions {
    coordinated: HashMap<TxId, Coordinated>,
    next: u64,
    /// The locks transactions hold on this core.
    pub locks: Locks,
}

impl Engine {
    /// Runs `MULTI`, `EXEC`, `DISCARD`, `WATCH` or `UNWATCH` for `conn`.
    pub(super) fn transaction_command(
        &mut self,
        conn: &mut Connection<Engine>,
        spec: &'static CommandSpec,
        args: Args<'_>,
        post: &mut Post<Msg>,
    ) {
        if !self.admit_engine_command(conn, spec, args) {
            return;
        }
        // Counted as Redis counts them (untimed: WATCH and EXEC finish on
        // other cores). EXEC fails without MULTI or after an error while
        // queueing (EXECABORT); a WATCH abort is its nil, not a failure.
        let failed = match spec.name {
            "exec" => conn.session.multi.as_ref().is_none_or(|m| m.failed),
            "watch" => conn.session.multi.is_some(),
            "multi" => conn.session.multi.is_some(),
            "discard" => conn.session.multi.is_none(),
            _ => false,
        };
        let tenant = conn.session.tenant;
        self.stats.commands.ran(tenant, spec, None, failed);
        let protocol = conn.session.protocol;
        let reply = match spec.name {
            "multi" if conn.session.multi.is_some() => tx::NESTED,
            "multi" => {
                conn.session.multi = Some(Multi::default());
                Reply::OK
            }
            "discard" if conn.session.multi.take().is_none() => tx::DISCARD_WITHOUT_MULTI,
            "discard" | "unwatch" => {
                self.unwatch_everywhere(conn, post);
                Reply::OK
            }
            "watch" if conn.session.multi.is_some() => tx::WATCH_IN_MULTI,
            "watch" => return self.watch_keys(conn, spec, args, post),
            "exec" => return self.exec(conn, spec, args, post),
            _ => errors::NOT_HERE,
        };
        self.stats.error_replies += u64::from(reply.is_error());
        conn.replies.push(&reply, protocol);
    }

    /// Admits a client's command the engine runs itself (transactions,
    /// pub/sub, a request deferred for a lock) as `execute` admits any
    /// other: arity, authentication, the tenant's rules; false after
    /// answering the refusal.
    pub(super) fn admit_engine_command(
        &mut self,
        conn: &mut Connection<Engine>,
        spec: &'static CommandSpec,
        args: Args<'_>,
    ) -> bool {
        let cmd = Command {
            spec,
            args,
            tenant: conn.session.tenant,
        };
        if let Err(reply) = admit_client(&self.shared, cmd, &mut conn.session) {
            self.stats.error_replies += 1;
            conn.replies.push(&reply, conn.session.protocol);
            return false;
        }
        if spec.name != "exec" {
            // EXEC shows after the commands it runs, as in Redis.
            self.monitor(conn, cmd);
        }
        self.stats.commands_processed += 1;
        true
    }

    /// Shows a command the engine admitted itself to `MONITOR`, if anyone
    /// monitors.
    fn monitor(&mut self, conn: &Connection<Engine>, cmd: Command<'_>) {
        if self
            .shared
            .monitors
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0
        {
            let source = crate::monitor::Source::Client(conn.session.peer);
            commands::execute::monitor(&mut self.journal, cmd, source);
        }
    }

    /// Queues a command inside `MULTI`: `+QUEUED`, or the error that will
    /// make `EXEC` answer `EXECABORT`.
    pub(super) fn queue_command(
        &mut self,
        conn: &mut Connection<Engine>,
        spec: &'static CommandSpec,
        args: Args<'_>,
    ) {
        let session = &mut conn.session;
        let cmd = Command {
            spec,
            args,
            tenant: session.tenant,
        };
        let bytes: usize = args.iter().map(<[u8]>::len).sum();
        let limit =
            crate::shared::LiveSettings::get(&self.shared.runtime.client_query_buffer_limit);
        let queued_bytes = session.multi.as_ref().map_or(0, |m| m.bytes) + bytes;
        let tenant = session.tenant;
        let admitted = tx::admit_queued(&self.shared, self.id, cmd, session).and_then(|()| {
            // The queue is the tenant's memory until EXEC: charged to it
            // (with the client's unsent replies) and held to its quota.
            if queued_bytes as u64 > limit {
                Err(tx::TOO_BIG)
            } else if !self.shared.admits(tenant, Growth::default().bytes(bytes)) {
                Err(errors::OOM)
            } else {
                Ok(())
            }
        });
        let Some(multi) = session.multi.as_mut() else {
            return;
        };
        let reply = match admitted {
            Ok(()) => {
                multi.queued.push(args.to_owned_args());
                multi.bytes = queued_bytes;
                tx::QUEUED
            }
            Err(reply) => {
                multi.failed = true;
                self.stats.error_replies += 1;
                reply
            }
        };
        conn.replies.push(&reply, session.protocol);
        self.charge_output(conn);
    }

    /// Defers a client's request whose keys (all on this core) a
    /// transaction holds: its reply keeps its place, its connection reads
    /// nothing more until it ran. True if deferred (or refused).
    pub(super) fn defer_if_locked(
        &mut self,
        conn: &mut Connection<Engine>,
        spec: &'static CommandSpec,
        args: Args<'_>,
    ) -> bool {
        let Route::Keys(_) = spec.route else {
            return false;
        };
        let tenant = conn.session.tenant;
        let slots = &self.shared.slots;
        let mut keys = spec
            .keys
            .positions_in(args)
            .map(|at| args.get(at))
            .peekable();
        if keys.peek().is_none() || !keys.clone().all(|k| slots.owner_of(k) == self.id) {
            // Routing forwards or refuses it; the owner checks its locks.
            return false;
        }
        if !self.transactions.locks.holds(conn.id, tenant, keys) {
            return false;
        }
        if !self.admit_engine_command(conn, spec, args) {
            return true;
        }
        let protocol = conn.session.protocol;
        let seq = conn.replies.push_pending(Waiting::parked(spec, protocol));
        conn.session.held = Some(Held {
            seq,
            blocking: false,
        });
        let origin = self.origin(conn, seq, tenant, Some(protocol));
        let job_args = OwnedArgs::from_buffer(self.buffer(), args.iter());
        self.transactions
            .locks
            .defer(conn.id, Deferred::Job(Job::Command(spec, job_args), origin));
        true
    }

    /// Whether a job must wait for a transaction's locks; if so it is
    /// queued here (given back otherwise).
    pub(super) fn defer_job(&mut self, job: Job, origin: Origin) -> Option<(Job, Origin)> {
        let locks = &mut self.transactions.locks;
        if locks.is_idle() {
            return Some((job, origin));
        }
        let held = match &job {
            Job::Command(spec, args) => {
                let args = args.args();
                locks.holds(
                    origin.client_id,
                    origin.tenant,
                    spec.keys.positions_in(args).map(|at| args.get(at)),
                )
            }
            Job::PeekRecord(key) | Job::PutRecord { key, .. } | Job::DelIfSame { key, .. } => {
                locks.holds(origin.client_id, origin.tenant, std::iter::once(&key[..]))
            }
            Job::Publish(_) | Job::Pubsub(_) | Job::Kill(_) | Job::Pause(_) | Job::Save => false,
        };
        if !held {
            return Some((job, origin));
        }
        locks.defer(origin.client_id, Deferred::Job(job, origin));
        None
    }

    /// Queues a blocked client's request that a push made ready while a
    /// transaction holds one of its keys: it runs again when the lock goes
    /// (and blocks again if it finds nothing). `Err` gives the arguments
    /// back when nothing holds it.
    pub(super) fn defer_waiter(
        &mut self,
        spec: &'static CommandSpec,
        args: OwnedArgs,
        origin: Origin,
    ) -> Result<(), OwnedArgs> {
        match self.defer_job(Job::Command(spec, args), origin) {
            None => Ok(()),
            Some((Job::Command(_, args), _)) => Err(args),
            Some(_) => unreachable!("a command job comes back as one"),
        }
    }

    /// `WATCH key...`: each key watched on its core; `+OK` once all are.
    fn watch_keys(
        &mut self,
        conn: &mut Connection<Engine>,
        spec: &'static CommandSpec,
        args: Args<'_>,
        post: &mut Post<Msg>,
    ) {
        let session = &conn.session;
        let (tenant, protocol, client) = (session.tenant, session.protocol, conn.id);
        let keys = (1..args.len()).map(|at| args.get(at));
        if session.port_kind == PortKind::Core
            && let Some(refusal) = commands::route::refuse_on_core_port(
                &self.shared,
                self.id,
                args,
                1..args.len(),
                session.local,
            )
        {
            self.stats.error_replies += 1;
            return conn.replies.push(&refusal, protocol);
        }
        let mut by_core: Vec<(usize, Vec<Bytes>)> = Vec::new();
        for key in keys {
            let core = self.shared.slots.owner_of(key);
            match by_core.iter_mut().find(|(c, _)| *c == core) {
                Some((_, keys)) => keys.push(Bytes::copy_from_slice(key)),
                None => by_core.push((core, vec![Bytes::copy_from_slice(key)])),
            }
        }
        let mut remote = 0;
        let id = self.next_tx_id();
        for (core, keys) in by_core {
            if !conn.session.watching.contains(&core) {
                conn.session.watching.push(core);
                conn.session.watching.sort_unstable();
            }
            if core == self.id {
                self.watch_here(client, tenant, &keys);
            } else {
                remote += 1;
                let op = TxOp::Watch {
                    tenant,
                    client,
                    keys,
                };
                post.send(core, Msg::Tx { id, op });
            }
        }
        if remote == 0 {
            return conn.replies.push(&Reply::OK, protocol);
        }
        // Answered once every core has the watch; the client's later
        // requests to those cores follow the watch there.
        let seq = conn.replies.push_pending(Waiting::parked(spec, protocol));
        let at = ClientAt {
            conn: conn.key,
            client,
            seq,
        };
        self.transactions.coordinated.insert(
            id,
            Coordinated::Watch {
                at,
                remaining: remote,
            },
        );
    }

    fn watch_here(&mut self, client: u64, tenant: TenantId, keys: &[Bytes]) {
        for key in keys {
            let exists = self
                .shard_of(tenant)
                .is_some_and(|s| s.peek_record(key).is_some());
            self.journal.watches.watch(client, tenant, key, exists);
        }
    }

    /// Forgets every watch of `conn`'s client, on every core it watched on.
    pub(super) fn unwatch_everywhere(
        &mut self,
        conn: &mut Connection<Engine>,
        post: &mut Post<Msg>,
    ) {
        for core in std::mem::take(&mut conn.session.watching) {
            if core == self.id {
                self.journal.watches.unwatch(conn.id);
            } else {
                post.send(core, Msg::Unwatch { client_id: conn.id });
            }
        }
    }

    fn next_tx_id(&mut self) -> TxId {
        self.transactions.next += 1;
        TxId {
            core: self.id,
            n: self.transactions.next,
        }
    }

    /// Whether `client`'s watches on this core broke.
    fn watches_broken(&mut self, client: u64) -> bool {
        let Engine {
            journal, keyspaces, ..
        } = self;
        journal.watches.broken(client, |tenant, key| {
            keyspaces
                .get_mut(tenant.index(), tenant.generation())
                .is_some_and(|s| s.peek_record(key).is_some())
        })
    }

    /// `EXEC`: runs the queue, here in this turn when every key is this
    /// core's and free, else across the cores owning them.
    fn exec(
        &mut self,
        conn: &mut Connection<Engine>,
        spec: &'static CommandSpec,
        exec_args: Args<'_>,
        post: &mut Post<Msg>,
    ) {
        let protocol = conn.session.protocol;
        let exec_cmd = Command {
            spec,
            args: exec_args,
            tenant: conn.session.tenant,
        };
        let Some(multi) = conn.session.multi.take() else {
            self.monitor(conn, exec_cmd);
            self.stats.error_replies += 1;
            return conn.replies.push(&tx::EXEC_WITHOUT_MULTI, protocol);
        };
        if multi.failed {
            self.monitor(conn, exec_cmd);
            self.unwatch_everywhere(conn, post);
            self.stats.error_replies += 1;
            return conn.replies.push(&tx::EXECABORT, protocol);
        }
        let tenant = conn.session.tenant;
        let mut commands = Vec::with_capacity(multi.queued.len());
        let mut batches: Vec<(usize, Batch)> = Vec::new();
        for (i, args) in multi.queued.into_iter().enumerate() {
            let mut queued = Queued {
                spec: None,
                args: OwnedArgs::default(),
                reply: None,
                split: None,
                with_session: false,
            };
            let spec = match commands::lookup(args.args()) {
                Lookup::Found(spec) => spec,
                Lookup::Unknown(reply) => {
                    queued.reply = Some(reply);
                    commands.push(queued);
                    continue;
                }
            };
            queued.spec = Some(spec);
            let cmd = Command {
                spec,
                args: args.args(),
                tenant,
            };
            // The tenant's rules may have changed since it was queued.
            if let Err(reply) = admit_client(&self.shared, cmd, &mut conn.session) {
                queued.reply = Some(reply);
                commands.push(queued);
                continue;
            }
            let placed = tx::place(&self.shared, self.id, spec, args.args(), &conn.session);
            if !matches!(placed, Placement::Refused(_)) {
                // As Redis, a transaction's commands show in their order,
                // after its MULTI, before its EXEC (a connection command
                // runs later, with the session, and is not shown again).
                self.monitor(conn, cmd);
            }
            match placed {
                Placement::Session => {
                    queued.with_session = true;
                    queued.args = args;
                }
                Placement::Core(core) => batch_of(&mut batches, core).jobs.push(TxJob {
                    slot: (i, 0),
                    job: Job::Command(spec, args),
                    whole: true,
                }),
                Placement::Parts(plan) => {
                    let Finish::Combine(combine) = plan.finish else {
                        unreachable!("placed in parts only when combined")
                    };
                    let part_cores = plan.parts.iter().map(|(c, _)| *c).collect();
                    let n = plan.parts.len();
                    for (part, (core, job)) in plan.parts.into_iter().enumerate() {
                        batch_of(&mut batches, core).jobs.push(TxJob {
                            slot: (i, part),
                            job,
                            whole: false,
                        });
                    }
                    queued.split = Some(Split {
                        combine,
                        part_keys: plan.part_keys,
                        part_cores,
                        outputs: (0..n).map(|_| None).collect(),
                    });
                    queued.args = args;
                }
                Placement::Refused(reply) => queued.reply = Some(reply),
            }
            commands.push(queued);
        }
        self.monitor(conn, exec_cmd);
        self.stats.commands_processed += commands.len() as u64;
        let watching = std::mem::take(&mut conn.session.watching);
        for &core in &watching {
            batch_of(&mut batches, core);
        }
        batches.sort_unstable_by_key(|(core, _)| *core);
        let order: Vec<usize> = batches.iter().map(|(core, _)| *core).collect();
        let parts: Vec<(Batch, Vec<Bytes>, bool)> = batches
            .into_iter()
            .map(|(_, mut batch)| {
                batch.tenant = tenant;
                let (keys, whole) = locked_keys(&batch);
                (batch, keys, whole)
            })
            .collect();
        let mut exec = Exec {
            at: ClientAt {
                conn: conn.key,
                client: conn.id,
                seq: 0,
            },
            tenant,
            order,
            parts,
            locked: 0,
            watching: watching.clone(),
            ran_early: SmallVec::new(),
            runs_pending: 0,
            commands,
        };
        if self.runs_here_now(&exec) {
            let intact = !self.watches_broken(conn.id);
            self.journal.watches.unwatch(conn.id);
            let reply = if intact {
                if let Some((batch, _, _)) = exec.parts.pop() {
                    let replies = self.run_batch(batch);
                    exec.fill(replies);
                    self.serve_blocked(tenant, post);
                }
                self.finish_exec(&mut exec, conn)
            } else {
                Reply::NilArray
            };
            return conn.replies.push(&reply, conn.session.protocol);
        }
        exec.at.seq = conn.replies.push_pending(Waiting::parked(spec, protocol));
        let id = self.next_tx_id();
        // The client's next requests to these cores wait there for this
        // transaction's part, so none overtakes it.
        for &core in &exec.order {
            if core == self.id {
                self.transactions.locks.expect(conn.id, id);
            } else {
                let op = TxOp::Expect { client: conn.id };
                post.send(core, Msg::Tx { id, op });
            }
        }
        self.lock_next(id, &mut exec, post);
        self.transactions
            .coordinated
            .insert(id, Coordinated::Exec(Box::new(exec)));
    }

    /// Whether `exec` may run here in this turn: it needs no other core
    /// and no lock here stands in its way.
    fn runs_here_now(&self, exec: &Exec) -> bool {
        let locks = &self.transactions.locks;
        match (exec.order.as_slice(), exec.parts.first()) {
            ([], _) => true,
            ([core], Some((_, keys, whole))) if *core == self.id => {
                if locks.is_idle() {
                    return true;
                }
                let mut keys = keys.clone();
                keys.extend(self.journal.watches.keys_of(exec.at.client, exec.tenant));
                !locks.has_queued(exec.at.client)
                    && !locks.expects_any(exec.at.client)
                    && locks.free(exec.at.client, exec.tenant, &keys, *whole)
            }
            _ => false,
        }
    }

    /// Asks the next core in `exec`'s order for its lock. A core with no
    /// watches of the client after it in the order runs its part as it
    /// locks (nothing later can abort the transaction) and holds the lock
    /// until the end; the last core runs and releases at once.
    fn lock_next(&mut self, id: TxId, exec: &mut Exec, post: &mut Post<Msg>) {
        let k = exec.locked;
        let last = k + 1 == exec.order.len();
        let early = !exec.order[k + 1..]
            .iter()
            .any(|core| exec.watching.contains(core));
        let (batch, keys, whole) = &mut exec.parts[k];
        let op = TxOp::Lock {
            tenant: exec.tenant,
            client: exec.at.client,
            keys: std::mem::take(keys),
            whole: *whole,
            run: early.then(|| std::mem::take(batch)),
            hold: !last,
        };
        if early && !last {
            exec.ran_early.push(exec.order[k]);
        }
        post.send(exec.order[k], Msg::Tx { id, op });
    }

    /// A core's report on transaction `id`, which this core coordinates.
    pub(super) fn tx_report(
        &mut self,
        id: TxId,
        core: usize,
        report: TxReport,
        clients: &mut Clients<'_, Engine>,
        post: &mut Post<Msg>,
    ) {
        let Some(coordinated) = self.transactions.coordinated.remove(&id) else {
            return;
        };
        let mut exec = match coordinated {
            Coordinated::Watch { at, remaining } if remaining > 1 => {
                let remaining = remaining - 1;
                let again = Coordinated::Watch { at, remaining };
                self.transactions.coordinated.insert(id, again);
                return;
            }
            Coordinated::Watch { at, .. } => return self.answer(at, &Reply::OK, clients),
            Coordinated::Exec(exec) => exec,
        };
        let locking = exec.locked < exec.order.len();
        match report {
            TxReport::Watched => {}
            TxReport::Locked { intact: false } | TxReport::Ran { intact: false, .. } => {
                // Every other core releases what it holds and forgets the
                // client's watches (EXEC ends them, run or not). No core
                // ran its part: one runs early only when no core after it
                // has watches that could break.
                let client = exec.at.client;
                for &other in exec.order.iter().filter(|&&c| c != core) {
                    post.send(
                        other,
                        Msg::Tx {
                            id,
                            op: TxOp::Release { client },
                        },
                    );
                }
                return self.answer(exec.at, &Reply::NilArray, clients);
            }
            TxReport::Locked { intact: true } => {
                exec.locked += 1;
                self.lock_next(id, &mut exec, post);
            }
            TxReport::Ran {
                intact: true,
                replies,
            } => {
                exec.fill(replies);
                if locking {
                    exec.locked += 1;
                }
                if exec.locked < exec.order.len() {
                    self.lock_next(id, &mut exec, post);
                } else if locking {
                    // The last core ran: every core is locked. The cores
                    // that ran early release; the others run theirs now.
                    let client = exec.at.client;
                    for k in 0..exec.order.len() - 1 {
                        let core = exec.order[k];
                        let op = if exec.ran_early.contains(&core) {
                            TxOp::Release { client }
                        } else {
                            exec.runs_pending += 1;
                            TxOp::Run(std::mem::take(&mut exec.parts[k].0))
                        };
                        post.send(core, Msg::Tx { id, op });
                    }
                } else {
                    exec.runs_pending -= 1;
                }
                if exec.locked == exec.order.len() && exec.runs_pending == 0 {
                    let at = exec.at;
                    let Some(conn) = clients.get_mut(at.conn, at.client) else {
                        return;
                    };
                    let reply = self.finish_exec(&mut exec, conn);
                    return self.answer(at, &reply, clients);
                }
            }
        }
        self.transactions
            .coordinated
            .insert(id, Coordinated::Exec(exec));
    }

    /// Answers the request `at` waits for, if its client is still here.
    fn answer(&mut self, at: ClientAt, reply: &Reply, clients: &mut Clients<'_, Engine>) {
        let Some(conn) = clients.get_mut(at.conn, at.client) else {
            return;
        };
        self.stats.error_replies += u64::from(reply.is_error());
        let protocol = conn.session.protocol;
        conn.replies.resolve(at.seq, reply, protocol);
        conn.session.release(at.seq);
        self.charge_output(conn);
    }

    /// The reply of an `EXEC` whose parts all ran: connection commands run
    /// now, with the session; split commands' parts are combined.
    fn finish_exec(&mut self, exec: &mut Exec, conn: &mut Connection<Engine>) -> Reply {
        let mut replies = Vec::with_capacity(exec.commands.len());
        for queued in &mut exec.commands {
            let reply = match (queued.reply.take(), queued.spec, queued.split.take()) {
                (Some(reply), _, _) => reply,
                (None, Some(spec), _) if queued.with_session => {
                    let cmd = Command {
                        spec,
                        args: queued.args.args(),
                        tenant: conn.session.tenant,
                    };
                    self.journal.in_exec_session = true;
                    let executed = self.execute(cmd, Caller::Client(&mut conn.session), Out::Value);
                    self.journal.in_exec_session = false;
                    match executed {
                        Executed::Reply(reply) | Executed::Block(_, reply, _) => reply,
                        _ => errors::NOT_HERE,
                    }
                }
                (None, Some(spec), Some(split)) => {
                    let finishing = Finishing {
                        spec,
                        args: &queued.args,
                        protocol: conn.session.protocol,
                        part_keys: &split.part_keys,
                        part_cores: &split.part_cores,
                        shared: &self.shared,
                        core: self.id,
                        tenant: exec.tenant,
                    };
                    let outputs = split
                        .outputs
                        .into_iter()
                        .map(|o| o.unwrap_or(Output::Reply(Reply::Nil)))
                        .collect();
                    (split.combine)(&finishing, outputs)
                }
                (None, _, _) => errors::NOT_HERE,
            };
            replies.push(reply);
        }
        Reply::Array(replies)
    }

    /// A transaction's request to this core.
    pub(super) fn tx_op(
        &mut self,
        id: TxId,
        op: TxOp,
        clients: &mut Clients<'_, Engine>,
        post: &mut Post<Msg>,
    ) {
        match op {
            TxOp::Watch {
                tenant,
                client,
                keys,
            } => {
                self.watch_here(client, tenant, &keys);
                let report = TxReport::Watched;
                self.report(id, report, post);
            }
            lock @ TxOp::Lock { .. } => self.tx_lock(id, lock, clients, post),
            TxOp::Run(batch) => {
                let tenant = batch.tenant;
                let replies = self.run_batch(batch);
                self.transactions.locks.release(id);
                let report = TxReport::Ran {
                    intact: true,
                    replies,
                };
                self.report(id, report, post);
                self.serve_blocked(tenant, post);
                self.drain_deferred(clients, post);
            }
            TxOp::Expect { client } => self.transactions.locks.expect(client, id),
            TxOp::Release { client } => {
                let locks = &mut self.transactions.locks;
                locks.arrived(client, id);
                let waiting = locks.has_queued(client);
                self.journal.watches.unwatch(client);
                let released = self.transactions.locks.release(id);
                if let Some(tenant) = released {
                    self.serve_blocked(tenant, post);
                }
                if released.is_some() || waiting {
                    self.drain_deferred(clients, post);
                }
            }
        }
    }

    /// Sends `report` on transaction `id` to its coordinator.
    fn report(&self, id: TxId, report: TxReport, post: &mut Post<Msg>) {
        let core = self.id;
        post.send(id.core, Msg::TxReport { id, core, report });
    }

    /// Grants a lock once its keys are free (else it waits its turn),
    /// checking the client's watches here first; runs the part it brings.
    fn tx_lock(
        &mut self,
        id: TxId,
        op: TxOp,
        clients: &mut Clients<'_, Engine>,
        post: &mut Post<Msg>,
    ) {
        let TxOp::Lock {
            tenant,
            client,
            mut keys,
            whole,
            run,
            hold,
        } = op
        else {
            return;
        };
        let locks = &mut self.transactions.locks;
        // The client's work queued here since it was expected waits for
        // it; an earlier transaction of the client goes first.
        let waits = locks.expects_before(client, id);
        if !waits {
            keys.extend(self.journal.watches.keys_of(client, tenant));
            keys.sort_unstable();
            keys.dedup();
        }
        let locks = &mut self.transactions.locks;
        let behind_it = !waits && locks.has_queued(client);
        if !waits {
            locks.arrived(client, id);
        }
        if waits || !locks.free(client, tenant, &keys, whole) {
            let op = TxOp::Lock {
                tenant,
                client,
                keys,
                whole,
                run,
                hold,
            };
            return locks.defer(client, Deferred::Lock(id, op));
        }
        let intact = !self.watches_broken(client);
        self.journal.watches.unwatch(client);
        let holding = Holding {
            client,
            ran: run.is_some(),
            tenant,
            keys,
            whole,
        };
        let report = match (intact, run) {
            (false, Some(_)) => TxReport::Ran {
                intact,
                replies: Vec::new(),
            },
            (false, None) => TxReport::Locked { intact },
            (true, Some(batch)) => {
                if hold {
                    self.transactions.locks.acquire(id, holding);
                }
                let replies = self.run_batch(batch);
                if !hold {
                    // Held keys' waiters are served when the lock goes.
                    self.serve_blocked(tenant, post);
                }
                TxReport::Ran { intact, replies }
            }
            (true, None) => {
                self.transactions.locks.acquire(id, holding);
                TxReport::Locked { intact }
            }
        };
        self.report(id, report, post);
        if behind_it {
            self.drain_deferred(clients, post);
        }
    }

    /// Runs a transaction's part here, each job as a job of its tenant;
    /// blocking commands answer what they answer on an empty key.
    fn run_batch(&mut self, batch: Batch) -> Vec<(Slot, Reply)> {
        let tenant = batch.tenant;
        let mut replies = Vec::with_capacity(batch.jobs.len());
        for TxJob { slot, job, whole } in batch.jobs {
            let reply = if self.loading.is_some() {
                loading::LOADING
            } else {
                match job {
                    Job::Command(spec, args) => {
                        let cmd = Command {
                            spec,
                            args: args.args(),
                            tenant,
                        };
                        let started = std::time::Instant::now();
                        let reply = match self.execute(cmd, Caller::Job(&[]), Out::Value) {
                            Executed::Reply(reply) | Executed::Block(_, reply, _) => reply,
                            _ => errors::NOT_HERE,
                        };
                        if whole {
                            let nanos = started.elapsed().as_nanos() as u64;
                            let failed = reply.is_error();
                            self.stats.commands.ran(tenant, spec, Some(nanos), failed);
                        }
                        reply
                    }
                    Job::Pause(op) => {
                        // Inside EXEC: the parked requests (if this ended a
                        // pause) run from the core's timers, next turn.
                        let now_ms = crate::shared::unix_ms();
                        if self.paused.apply(op, self.now, now_ms) {
                            self.paused.resume_soon = true;
                        }
                        Reply::OK
                    }
                    record => self.record_job(record, tenant).into_reply(),
                }
            };
            replies.push((slot, reply));
        }
        replies
    }

    /// Runs the work that waited for locks, in the order it came, now that
    /// a transaction released some; what still finds a lock waits again.
    fn drain_deferred(&mut self, clients: &mut Clients<'_, Engine>, post: &mut Post<Msg>) {
        if self.transactions.locks.draining {
            self.transactions.locks.released_while_draining = true;
            return;
        }
        self.transactions.locks.draining = true;
        loop {
            self.transactions.locks.released_while_draining = false;
            for work in self.transactions.locks.take_queue() {
                match work {
                    Deferred::Job(job, origin) => self.run_message(job, origin, clients, post),
                    Deferred::Lock(id, op) => self.tx_lock(id, op, clients, post),
                }
            }
            if !self.transactions.locks.released_while_draining {
                break;
            }
        }
        self.transactions.locks.draining = false;
    }
}

impl Exec {
    /// Records a core's replies in their commands' places.
    fn fill(&mut self, replies: Vec<(Slot, Reply)>) {
        for ((i, part), reply) in replies {
            let Some(queued) = self.commands.get_mut(i) else {
                continue;
            };
            match &mut queued.split {
                Some(split) => {
                    if let Some(slot) = split.outputs.get_mut(part) {
                        *slot = Some(Output::Reply(reply));
                    }
                }
                None => queued.reply = Some(reply),
            }
        }
    }
}

/// `core`'s part among `batches`, added if new.
fn batch_of(batches: &mut Vec<(usize, Batch)>, core: usize) -> &mut Batch {
    let i = match batches.iter().position(|(c, _)| *c == core) {
        Some(i) => i,
        None => {
            batches.push((core, Batch::default()));
            batches.len() - 1
        }
    };
    &mut batches[i].1
}

/// The keys a core's part locks, and whether it runs a keyless command
/// (which locks the tenant's whole keyspace there).
fn locked_keys(batch: &Batch) -> (Vec<Bytes>, bool) {
    let mut keys = Vec::new();
    let mut whole = false;
    for TxJob { job, .. } in &batch.jobs {
        if let Job::Command(spec, args) = job {
            let args = args.args();
            let before = keys.len();
            keys.extend(
                spec.keys
                    .positions_in(args)
                    .map(|at| Bytes::copy_from_slice(args.get(at))),
            );
            whole |= keys.len() == before;
        }
    }
    keys.sort_unstable();
    keys.dedup();
    (keys, whole)
}
