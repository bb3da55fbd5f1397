//! The engine: what a core serves — its tenants' keyspaces, its function
//! runtime, its counters — as the [`Service`] its transport worker runs.
//!
//! ```text
//!   Worker<Engine> (kiln_net::transport)
//!     request(conn, args) ─► lookup ─► commands::execute(Caller::Client) ─► reply │ plan
//!     message(Run job)    ─► commands::execute(Caller::Job) ─► Done → origin
//!     message(Done)       ─► the waiting request's place in its reply queue
//! ```
//!
//! Every command runs through [`commands::execute`], whoever asked; the
//! engine adds what only a core has: where a plan's jobs go and how their
//! outputs come back in request order ([`message`]), the clients' unsent
//! replies charged to their tenants ([`Engine::charge_output`]), and the
//! periodic work (expiry, deleted tenants, figures).

pub mod blocked;
mod evict;
mod load_rdb;
pub mod loading;
mod locks;
pub mod message;
mod monitors;
mod paused;
pub mod pubsub;
mod rewrite;
mod snapshot;
pub mod transaction;
pub mod triggers;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kiln_net::resp::encode;
use kiln_net::transport::{
    Accepted, ClientLimits, Clients, Closed, Connection, NetCounters, Post, Service,
};
use kiln_net::{Args, OwnedArgs, Protocol, Reply};
use kiln_store::{Keyspaces, Shard, ShardConfig};

use crate::commands::blocking::Timeout;
use crate::commands::plan::{Finish, Finishing, Job, Output, Plan};
use crate::commands::transaction::runs_inside_multi as transaction_runs_now;
use crate::commands::{
    self, Caller, Command, CommandSpec, ENCODE_IN_JOB_MAX, Executed, Flags, Lookup, Out, Route,
    Site, errors,
};
use crate::journal::Journal;
use crate::session::{ClientView, Held, Session};
use crate::shared::{LiveSettings, Shared, unix_ms};
use crate::stats::{CoreStats, OpsMeter};
use crate::tenant::{Growth, TenantId, Usage};
use blocked::Blocked;
pub use message::{Msg, Origin, Waiting};

/// Active expiry work per tick (keys examined).
const EXPIRE_CHECKS_PER_TICK: usize = 2000;
/// Buffers kept for forwarded requests' arguments and replies.
const POOLED_BUFFERS: usize = 1024;
/// A buffer that grew past this is not kept.
const POOLED_BUFFER_MAX: usize = 64 * 1024;

/// Everything a core owns except its connections.
pub struct Engine {
    /// This core's index.
    pub id: usize,
    /// This core's records: one shard per tenant.
    pub keyspaces: Keyspaces,
    /// Shared state.
    pub shared: Arc<Shared>,
    /// Counters.
    pub stats: CoreStats,
    /// This core's tenant isolates and function dispatch.
    pub functions: kiln_functions::FunctionRuntime,
    /// The last plain (not sub-) command looked up.
    last_spec: Option<&'static CommandSpec>,
    /// The turn's clock.
    now: Instant,
    ops: OpsMeter,
    /// Buffers for forwarded requests, so a steady flow allocates nothing.
    buffers: Vec<Vec<u8>>,
    /// The generation of the encoding thresholds this core's shards use.
    encoding_generation: u64,
    /// Clients blocked on this core's keys.
    blocked: Blocked,
    /// This core's append-only log (empty with `appendonly no`).
    pub journal: Journal,
    /// The log being replayed at start.
    loading: Option<loading::Loading>,
    /// The locked log directory, held for the server's lifetime once
    /// loading is done (its flock keeps a second server out).
    aof_dir: Option<std::sync::Arc<std::sync::Mutex<kiln_persist::aof::AofDir>>>,
    /// A rewrite of this core's log under way (`BGREWRITEAOF`).
    rewrite: Option<rewrite::Rewrite>,
    /// The transactions this core coordinates, and their locks here.
    transactions: transaction::Transactions,
    /// This core's clients' pub/sub subscriptions.
    subscriptions: pubsub::Subscriptions,
    /// This core's part of an RDB snapshot under way (`BGSAVE`).
    snapshot: Option<snapshot::CoreSnapshot>,
    /// Eviction to go on with between turns.
    evicting: evict::Pending,
    /// The job running now came from a `CLIENT NO-TOUCH` client.
    job_no_touch: bool,
    /// The command running is a blocked request served again
    /// ([`Site::woken`]).
    serving_waiter: bool,
    /// The tick removed keys (active expiry, eviction) that blocked
    /// clients may wait on: serve them at the next timer.
    serve_ready_soon: bool,
    /// `CLIENT PAUSE` on this core and the requests it holds.
    paused: paused::Paused,
    /// This core's `MONITOR` connections (key, client id).
    monitor_conns: Vec<(usize, u64)>,
    /// When this core last published its figures for the metrics
    /// endpoint (`None`: the endpoint is off).
    metrics_published: Option<Instant>,
}

impl Engine {
    /// A fresh engine for core `id`.
    pub fn new(id: usize, shared: Arc<Shared>) -> Engine {
        let keyspaces = Keyspaces::new(ShardConfig {
            max_value_len: shared.settings.proto_max_bulk_len as usize,
            encoding: shared.runtime.encoding_limits().0,
        });
        let functions = kiln_functions::FunctionRuntime::new(
            shared.functions.clone(),
            shared.settings.functions.runtime,
        );
        let shared_metrics_on = shared.settings.metrics_port != 0;
        Engine {
            id,
            keyspaces,
            functions,
            shared,
            stats: CoreStats::default(),
            last_spec: None,
            now: Instant::now(),
            ops: OpsMeter::default(),
            buffers: Vec::new(),
            encoding_generation: 0,
            blocked: Blocked::default(),
            journal: Journal::default(),
            loading: None,
            aof_dir: None,
            rewrite: None,
            transactions: transaction::Transactions::default(),
            subscriptions: pubsub::Subscriptions::default(),
            snapshot: None,
            evicting: evict::Pending::default(),
            job_no_touch: false,
            serving_waiter: false,
            serve_ready_soon: false,
            paused: paused::Paused::default(),
            monitor_conns: Vec::new(),
            metrics_published: (shared_metrics_on).then(Instant::now),
        }
    }

    /// Takes up changed encoding thresholds (`CONFIG SET`, on any core)
    /// before the next command runs.
    fn follow_encoding_limits(&mut self) {
        let settings = &self.shared.runtime;
        if settings.encoding_generation() != self.encoding_generation {
            let (limits, generation) = settings.encoding_limits();
            self.keyspaces.set_encoding_limits(limits);
            self.encoding_generation = generation;
        }
    }

    /// Runs `cmd` for `caller` here, as [`commands::execute`] does, and
    /// publishes the tenant's figures when it changed memory.
    pub fn execute(&mut self, cmd: Command<'_>, caller: Caller<'_>, out: Out<'_>) -> Executed {
        self.follow_encoding_limits();
        let tenant = cmd.tenant;
        let evicting = self.evict_for(tenant);
        let operator = self.shared.tenants.is_operator(tenant);
        let Some((shard, others)) = self
            .keyspaces
            .split_mut(tenant.index(), tenant.generation())
        else {
            self.stats.error_replies += 1;
            return Executed::Reply(errors::USER_DELETED);
        };
        let memory_before = shard.used_memory();
        // `CLIENT NO-TOUCH`: the command leaves access stamps alone, but
        // for `TOUCH` itself (as Redis).
        let asked = self.job_no_touch || matches!(&caller, Caller::Client(s) if s.no_touch);
        let no_touch = asked && cmd.spec.name != "touch";
        if no_touch {
            shard.set_no_touch(true);
        }
        let site = Site {
            core: self.id,
            shard,
            others: operator.then_some(others),
            shared: &self.shared,
            stats: &mut self.stats,
            functions: Some(&mut self.functions),
            waiters: Some(&mut self.blocked),
            journal: Some(&mut self.journal),
            evicting,
            woken: self.serving_waiter,
        };
        let executed = commands::execute(site, cmd, caller, out);
        if no_touch && let Some(shard) = self.shard_of(tenant) {
            shard.set_no_touch(false);
        }
        let memory_after = self.shard_of(tenant).map(|s| s.used_memory());
        if cmd.spec.flags.has(Flags::WRITE) || memory_after != Some(memory_before) {
            // Other cores check maxmemory and quotas against these figures;
            // publish them before the reply can prompt the client's next
            // write (FCALL writes without the WRITE flag).
            self.publish_memory();
            self.publish_usage(tenant);
        }
        executed
    }

    /// This core's shard of `tenant`'s keyspace (created on first use);
    /// `None` for a tenant deleted since `tenant` was issued.
    pub fn shard_of(&mut self, tenant: TenantId) -> Option<&mut Shard> {
        self.keyspaces.get_mut(tenant.index(), tenant.generation())
    }

    /// Makes this core's memory use visible to every core.
    fn publish_memory(&self) {
        self.shared.memory[self.id].store(self.keyspaces.used_memory() as u64, Ordering::Relaxed);
        self.shared.saves.changes[self.id].store(self.journal.changes, Ordering::Relaxed);
    }

    /// Offers this core's figures to the metrics endpoint, when it is on and
    /// the last offer is [`crate::metrics::PUBLISH_EVERY`] old.
    fn publish_metrics(&mut self) {
        let Some(last) = self.metrics_published else {
            return;
        };
        let now = Instant::now();
        if now.saturating_duration_since(last) < crate::metrics::PUBLISH_EVERY {
            return;
        }
        let snapshot = crate::metrics::endpoint::snapshot(&self.stats, &self.functions, now);
        if self.shared.metrics.offer(self.id, snapshot) {
            self.metrics_published = Some(now);
        }
    }

    /// Makes `tenant`'s memory and key count on this core visible to every
    /// core (its quotas are checked against the sum).
    fn publish_usage(&self, tenant: TenantId) {
        let usage = self.shared.tenants.usage(self.id, tenant);
        let (memory, keys) = self
            .keyspaces
            .get(tenant.index(), tenant.generation())
            .map_or((0, 0), |s| (s.used_memory(), s.len()));
        usage.publish(memory, keys);
    }

    /// Charges `conn`'s unsent replies (its output buffer now, a
    /// transaction's queued commands, its subscriptions) to its
    /// tenant's figures and to this core's client memory, replacing what
    /// was charged for it before (to the same tenant, or to the one it was
    /// logged in as), then sets the room its next replies have.
    fn charge_output(&self, conn: &mut Connection<Engine>) {
        // A transaction's queue waits on the server as unsent replies do.
        // Subscriptions too, while they last.
        let queued = conn.session.multi.as_ref().map_or(0, |m| m.bytes);
        let subscribed = conn.session.subscribed.bytes();
        let bytes = conn.replies.output_len() + queued + subscribed;
        self.charge(&mut conn.session, bytes);
        self.arm_output_limits(conn);
    }

    fn charge(&self, session: &mut Session, bytes: usize) {
        let tenant = session.tenant;
        let (was_tenant, was) = session.charged;
        if (was_tenant, was) == (tenant, bytes) {
            return;
        }
        let tenants = &self.shared.tenants;
        if was_tenant.index() == tenant.index() {
            Usage::shift(
                &tenants.usage(self.id, tenant).output,
                was as u64,
                bytes as u64,
            );
        } else {
            Usage::shift(&tenants.usage(self.id, was_tenant).output, was as u64, 0);
            Usage::shift(&tenants.usage(self.id, tenant).output, 0, bytes as u64);
        }
        Usage::shift(&self.shared.clients[self.id], was as u64, bytes as u64);
        session.charged = (tenant, bytes);
    }

    /// Sets the limits `conn`'s next replies are checked against as they
    /// are queued: the hard output buffer limit, and for a tenant with a
    /// memory quota what is left of it after its other connections' unsent
    /// replies (on every core).
    fn arm_output_limits(&self, conn: &mut Connection<Engine>) {
        let runtime = &self.shared.runtime;
        let hard = if conn.session.monitor.is_some() {
            // Redis holds a monitor to the replica class's limit.
            runtime.replica_output_buffer_limit().hard
        } else if conn.session.subscribed.any() {
            runtime.pubsub_output_buffer_limit().hard
        } else {
            runtime.output_buffer_limit().hard
        };
        let tenant = conn.session.tenant;
        let (charged_to, held) = conn.session.charged;
        let held = if charged_to.index() == tenant.index() {
            held as u64
        } else {
            0
        };
        let room = self.shared.tenants.output_room(tenant, held);
        let room = room.map_or(usize::MAX, |r| usize::try_from(r).unwrap_or(usize::MAX));
        conn.replies
            .set_limits(usize::try_from(hard).unwrap_or(usize::MAX), room);
    }

    /// The spec of a request, looked up once (pipelines and workloads
    /// repeat the same command: one comparison beats lowercasing and
    /// hashing its name again).
    fn lookup(&mut self, args: Args<'_>) -> Result<&'static CommandSpec, Reply> {
        if let Some(spec) = self.last_spec
            && args.get(0).eq_ignore_ascii_case(spec.name.as_bytes())
        {
            return Ok(spec);
        }
        match commands::lookup(args) {
            Lookup::Found(spec) => {
                if spec.subcommands.is_empty() && !spec.name.contains('|') {
                    self.last_spec = Some(spec);
                }
                Ok(spec)
            }
            Lookup::Unknown(reply) => Err(reply),
        }
    }

    /// An empty buffer from the pool.
    fn buffer(&mut self) -> Vec<u8> {
        self.buffers.pop().unwrap_or_default()
    }

    /// Gives a buffer back to the pool.
    fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.buffers.len() < POOLED_BUFFERS && buf.capacity() <= POOLED_BUFFER_MAX {
            buf.clear();
            self.buffers.push(buf);
        }
    }

    /// Sends a plan's jobs, each to its core.
    fn send_jobs(&mut self, jobs: commands::plan::Parts, origin: Origin, post: &mut Post<Msg>) {
        for (part, (core, job)) in jobs.into_iter().enumerate() {
            post.send(
                core,
                Msg::Run {
                    job,
                    origin: Origin { part, ..origin },
                },
            );
        }
    }

    /// Runs a job another core (or this one) sent, and routes its output.
    fn run_message(
        &mut self,
        job: Job,
        origin: Origin,
        clients: &mut Clients<'_, Engine>,
        post: &mut Post<Msg>,
    ) {
        if let Job::Pause(op) = job {
            let resume = self.paused.apply(op, self.now, unix_ms());
            self.deliver(origin, Output::Reply(Reply::OK), clients, post);
            if resume {
                self.resume_parked(clients, post);
            }
            return;
        }
        if let Some(output) = self.run_job(job, origin, clients) {
            self.deliver(origin, output, clients, post);
        }
        self.serve_blocked(origin.tenant, post);
    }

    /// Executes a job for `origin` (possibly this core) as its tenant;
    /// `None` when it blocked (it is parked here until served) or waits
    /// for a transaction's locks.
    fn run_job(
        &mut self,
        job: Job,
        origin: Origin,
        clients: &mut Clients<'_, Engine>,
    ) -> Option<Output> {
        let (job, origin) = self.defer_job(job, origin)?;
        let loads = |spec: &CommandSpec| spec.flags.has(Flags::LOADING);
        if self.loading.is_some() && !matches!(&job, Job::Command(spec, _) if loads(spec)) {
            // Another core's request must not see a half-loaded keyspace.
            return Some(Output::Reply(loading::LOADING));
        }
        let (spec, args) = match job {
            Job::Command(spec, args) => (spec, args),
            Job::Publish(publish) => {
                let delivered = self.deliver_publish(origin.tenant, &publish, clients);
                return Some(Output::Reply(Reply::Integer(delivered)));
            }
            Job::Pubsub(query) => {
                return Some(Output::Reply(self.pubsub_query(origin.tenant, &query)));
            }
            Job::Kill(kill) => {
                return Some(Output::Reply(self.kill_clients(
                    origin.tenant,
                    &kill,
                    clients,
                )));
            }
            Job::Save => {
                let saved = self.save_part_now();
                let reply = match &saved {
                    Ok(()) => Reply::OK,
                    Err(why) => Reply::error_owned(format!("ERR {why}")),
                };
                self.shared.saves.part_done(saved);
                return Some(Output::Reply(reply));
            }
            record => return Some(self.record_job(record, origin.tenant)),
        };
        // Connection commands need the client's session, which only the
        // receiving core has; plans never send them.
        if matches!(spec.route, Route::Local) {
            return Some(Output::Reply(Reply::error(
                "ERR internal: connection command sent to another core",
            )));
        }
        let views: Vec<ClientView<'_>> = if spec.flags.has(Flags::CLIENTS) {
            clients
                .iter()
                .map(|c| ClientView {
                    session: &c.session,
                    facts: c.facts(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let output = self.job_output(spec, &args, origin, &views);
        drop(views);
        match output {
            Ok(output) => {
                self.recycle(args.into_buffer());
                Some(output)
            }
            Err((timeout, rewritten)) => {
                let args = match rewritten {
                    Some(words) => {
                        self.recycle(args.into_buffer());
                        OwnedArgs::from_buffer(self.buffer(), words.iter().map(|w| &w[..]))
                    }
                    None => args,
                };
                self.park(spec, args, origin, timeout);
                None
            }
        }
    }

    /// Runs a command job and turns its result into the output `origin`
    /// wants (encoded for a pass-through reply); `Err` when it blocks.
    fn job_output(
        &mut self,
        spec: &'static CommandSpec,
        args: &OwnedArgs,
        origin: Origin,
        views: &[ClientView<'_>],
    ) -> Result<Output, (Timeout, Option<Vec<bytes::Bytes>>)> {
        let cmd = Command {
            spec,
            args: args.args(),
            tenant: origin.tenant,
        };
        self.job_no_touch = origin.no_touch;
        let output = self.job_output_as(cmd, origin, views);
        self.job_no_touch = false;
        output
    }

    fn job_output_as(
        &mut self,
        cmd: Command<'_>,
        origin: Origin,
        views: &[ClientView<'_>],
    ) -> Result<Output, (Timeout, Option<Vec<bytes::Bytes>>)> {
        let Some(protocol) = origin.encode else {
            return match self.execute(cmd, Caller::Job(views), Out::Value) {
                Executed::Reply(reply) => Ok(Output::Reply(reply)),
                Executed::Block(timeout, _, rewritten) => Err((timeout, rewritten)),
                Executed::Written | Executed::Forward(_) | Executed::Elsewhere(_) => {
                    Ok(Output::Reply(errors::NOT_HERE))
                }
            };
        };
        let mut buf = self.buffer();
        let out = Out::Encode {
            to: &mut buf,
            written: false,
        };
        // Only a whole request forwarded here wants its reply encoded.
        let output = match self.execute(cmd, Caller::Forwarded(views), out) {
            Executed::Reply(reply) if reply.payload_len() > ENCODE_IN_JOB_MAX => {
                // Big replies go back sharing the stored bytes.
                self.recycle(buf);
                return Ok(Output::Reply(reply));
            }
            Executed::Reply(reply) => {
                encode(&reply, protocol, &mut buf);
                Output::Encoded(buf)
            }
            Executed::Written => Output::Encoded(buf),
            Executed::Block(timeout, _, rewritten) => {
                self.recycle(buf);
                return Err((timeout, rewritten));
            }
            Executed::Forward(_) | Executed::Elsewhere(_) => {
                encode(&errors::NOT_HERE, protocol, &mut buf);
                Output::Encoded(buf)
            }
        };
        Ok(output)
    }

    /// Where the answer to request `seq` of `conn` goes, as `tenant`.
    fn origin(
        &self,
        conn: &Connection<Engine>,
        seq: u64,
        tenant: TenantId,
        encode: Option<Protocol>,
    ) -> Origin {
        Origin {
            core: self.id,
            conn: conn.key,
            client_id: conn.id,
            seq,
            part: 0,
            tenant,
            encode,
            no_touch: conn.session.no_touch,
        }
    }

    /// Runs a record job (cross-core RENAME / COPY) on `tenant`'s shard.
    fn record_job(&mut self, job: Job, tenant: TenantId) -> Output {
        let over = !self.shared.admits(tenant, Growth::UNKNOWN);
        let written_key = match &job {
            Job::PutRecord { key, .. } | Job::DelIfSame { key, .. } => Some(key.clone()),
            Job::PeekRecord(_)
            | Job::Command(..)
            | Job::Publish(_)
            | Job::Pubsub(_)
            | Job::Kill(_)
            | Job::Pause(_)
            | Job::Save => None,
        };
        let Some(shard) = self.keyspaces.get_mut(tenant.index(), tenant.generation()) else {
            return Output::Reply(errors::USER_DELETED);
        };
        let output = commands::plan::record_job(shard, job, over);
        if let (Some(key), Output::Reply(Reply::Integer(1))) = (written_key, &output) {
            // What the key holds now: the record put, or nothing.
            match shard.stored(&key) {
                Some(record) => self.journal.record(&self.shared, tenant, &key, record),
                None => self.journal.effect(&self.shared, tenant, &[b"DEL", &key]),
            }
        }
        self.publish_memory();
        self.publish_usage(tenant);
        output
    }

    /// Routes a job's output to its request, finishing or continuing the
    /// request when it was the last part.
    fn deliver(
        &mut self,
        origin: Origin,
        output: Output,
        clients: &mut Clients<'_, Engine>,
        post: &mut Post<Msg>,
    ) {
        if origin.core != self.id {
            post.send(origin.core, Msg::Done { origin, output });
            return;
        }
        let Some(conn) = clients.get_mut(origin.conn, origin.client_id) else {
            if let Output::Encoded(buf) = output {
                self.recycle(buf);
            }
            return;
        };
        let Some(waiting) = conn.replies.pending_mut(origin.seq) else {
            return;
        };
        if !waiting.fill(origin.part, output) {
            return;
        }
        let protocol = waiting.protocol;
        let next = match waiting.finish {
            Finish::Single => match waiting.take_single() {
                Some(Output::Encoded(buf)) => {
                    self.stats.error_replies += u64::from(buf.first() == Some(&b'-'));
                    conn.replies.resolve_encoded(origin.seq, &buf);
                    conn.session.release(origin.seq);
                    self.recycle(buf);
                    self.charge_output(conn);
                    return;
                }
                single => Err(single.map_or(Reply::Nil, Output::into_reply)),
            },
            finish => {
                let outputs = waiting.take_outputs();
                let finishing = Finishing {
                    spec: waiting.spec,
                    args: &waiting.args,
                    protocol,
                    part_keys: &waiting.part_keys,
                    part_cores: &waiting.part_cores,
                    shared: &self.shared,
                    core: self.id,
                    tenant: origin.tenant,
                };
                match finish {
                    Finish::Combine(combine) => Err(combine(&finishing, outputs)),
                    Finish::Continue(step) => step(&finishing, outputs),
                    Finish::Single => unreachable!("matched above"),
                }
            }
        };
        match next {
            Err(reply) => {
                self.stats.error_replies += u64::from(reply.is_error());
                conn.replies.resolve(origin.seq, &reply, protocol);
                conn.session.release(origin.seq);
                self.charge_output(conn);
            }
            Ok(plan) => {
                let jobs = waiting.restart(plan);
                self.send_jobs(
                    jobs,
                    Origin {
                        encode: None,
                        ..origin
                    },
                    post,
                );
            }
        }
    }

    /// Drops the keyspaces of deleted tenants and republishes every
    /// tenant's figures (expiry and an admin's FLUSHALL change them without
    /// a write of the tenant's own).
    fn sweep_tenants(&mut self) {
        let tenants = &self.shared.tenants;
        let dropped = self
            .keyspaces
            .retain(|index, generation| tenants.is_current(TenantId::new(index, generation)));
        for index in dropped {
            tenants
                .usage(self.id, TenantId::new(index, 0))
                .publish(0, 0);
            self.journal.dropped(index);
        }
        let live: Vec<TenantId> = self
            .keyspaces
            .iter()
            .map(|(index, generation, _)| TenantId::new(index, generation))
            .collect();
        for tenant in live {
            self.publish_usage(tenant);
        }
    }
}

impl Engine {
    /// Serves one request of `conn`: a command run here, queued in a
    /// transaction, deferred for a lock, or sent to other cores.
    fn serve(&mut self, conn: &mut Connection<Engine>, args: Args<'_>, post: &mut Post<Msg>) {
        let spec = match self.lookup(args) {
            Ok(spec) => spec,
            Err(reply) => {
                self.stats.error_replies += 1;
                if let Some(multi) = conn.session.multi.as_mut() {
                    multi.failed = true;
                }
                return conn.replies.push(&reply, conn.session.protocol);
            }
        };
        if self.loading.is_some() && !spec.flags.has(Flags::LOADING) {
            self.stats.error_replies += 1;
            return conn.replies.push(&loading::LOADING, conn.session.protocol);
        }
        let tenant = conn.session.tenant;
        if !tenant.is_default() && !self.shared.tenants.is_current(tenant) {
            // Its user was deleted: Redis closes such connections.
            conn.session.close_after_reply = true;
            return;
        }
        if self.paused.any() && self.park_if_paused(conn, spec, args) {
            return;
        }
        if conn.session.protocol == Protocol::Resp2 && conn.session.subscribed.any() {
            // RESP2's subscribed mode: replies would mix with messages.
            if !pubsub::allowed_when_subscribed(spec) {
                self.stats.error_replies += 1;
                let refusal = pubsub::refused_when_subscribed(spec);
                return conn.replies.push(&refusal, Protocol::Resp2);
            }
            if spec.name == "ping" {
                self.stats.commands_processed += 1;
                return conn
                    .replies
                    .push(&pubsub::subscribed_ping(args), Protocol::Resp2);
            }
        }
        if spec.flags.has(Flags::TRANSACTION) {
            return self.transaction_command(conn, spec, args, post);
        }
        if spec.flags.has(Flags::PUBSUB) {
            if let Some(multi) = conn.session.multi.as_mut() {
                multi.failed = true;
                self.stats.error_replies += 1;
                let refusal = commands::transaction::NOT_IN_MULTI;
                return conn.replies.push(&refusal, conn.session.protocol);
            }
            return self.pubsub_command(conn, spec, args);
        }
        if conn.session.multi.is_some() && !transaction_runs_now(spec) {
            return self.queue_command(conn, spec, args);
        }
        if !self.transactions.locks.is_idle() && self.defer_if_locked(conn, spec, args) {
            return;
        }
        let cmd = Command { spec, args, tenant };
        let Connection {
            session, replies, ..
        } = conn;
        let out = Out::Encode {
            to: replies,
            written: false,
        };
        let executed = self.execute(cmd, Caller::Client(session), out);
        // In the protocol the command left (HELLO 3 answers in RESP3).
        let protocol = conn.session.protocol;
        let plan = match executed {
            Executed::Reply(reply) => {
                conn.replies.push(&reply, protocol);
                None
            }
            Executed::Written => None,
            Executed::Block(timeout, _, rewritten) => {
                match rewritten {
                    Some(words) => {
                        let owned = OwnedArgs::new(words.iter().map(|w| &w[..]));
                        self.block_client(conn, spec, owned.args(), timeout);
                    }
                    None => self.block_client(conn, spec, args, timeout),
                }
                None
            }
            Executed::Forward(owner) => {
                // A forwarded request's arguments travel in a pooled buffer.
                let job_args = OwnedArgs::from_buffer(self.buffer(), args.iter());
                Some(Plan::single(owner, Job::Command(spec, job_args)))
            }
            Executed::Elsewhere(plan) => Some(plan),
        };
        if let Some(plan) = plan {
            {
                let single = matches!(plan.finish, Finish::Single);
                let args = if single {
                    OwnedArgs::default()
                } else {
                    args.to_owned_args()
                };
                // A blocking command, or a plan of several steps, holds the
                // client's next requests until it is answered: they must
                // not overtake it (BLPOP ... LPUSH, ZUNIONSTORE ... ZUNION).
                let holds =
                    spec.flags.has(Flags::BLOCKING) || matches!(plan.finish, Finish::Continue(_));
                let (waiting, jobs) = Waiting::start(spec, plan, args, protocol);
                let seq = conn.replies.push_pending(waiting);
                if holds {
                    conn.session.held = Some(Held {
                        seq,
                        blocking: spec.flags.has(Flags::BLOCKING),
                    });
                }
                let origin = self.origin(conn, seq, tenant, single.then_some(protocol));
                self.send_jobs(jobs, origin, post);
            }
        }
        if spec.name == "monitor" {
            self.note_monitor(conn);
        }
        if std::mem::take(&mut conn.session.reset_pending) {
            self.unwatch_everywhere(conn, post);
            self.unsubscribe_all(conn);
            if conn.session.monitor.take().is_some() {
                commands::monitor::forget(&self.shared, self.id);
                self.drop_monitor(conn.id);
            }
        }
        if conn.session.tenant != tenant {
            // AUTH changed the tenant whose room replies are checked against.
            self.charge_output(conn);
        }
        self.serve_blocked(tenant, post);
    }

    /// Handles one message from another core (or this one).
    fn handle(&mut self, msg: Msg, clients: &mut Clients<'_, Engine>, post: &mut Post<Msg>) {
        match msg {
            Msg::Run { job, origin } => self.run_message(job, origin, clients, post),
            Msg::Done { origin, output } => self.deliver(origin, output, clients, post),
            Msg::Cancel { client_id } => {
                let gone = self.blocked.cancel(client_id);
                self.release(gone, None);
            }
            Msg::Tx { id, op } => self.tx_op(id, op, clients, post),
            Msg::TxReport { id, core, report } => self.tx_report(id, core, report, clients, post),
            Msg::Unwatch { client_id } => self.journal.watches.unwatch(client_id),
            Msg::Publish { tenant, publish } => {
                self.deliver_publish(tenant, &publish, clients);
            }
            Msg::Resume => self.resume_parked(clients, post),
            Msg::Monitor(batch) => self.deliver_monitored(&batch, clients),
        }
    }

    /// Parks `conn`'s request if a pause holds it: true if so. What Redis
    /// answers before its pause check (a wrong arity, `NOAUTH`, `NOPERM`)
    /// is answered at once.
    fn park_if_paused(
        &mut self,
        conn: &mut Connection<Engine>,
        spec: &'static CommandSpec,
        args: Args<'_>,
    ) -> bool {
        let Some(mode) = self.paused.mode(self.now) else {
            // Over: the next requests skip this check again.
            self.paused.forget_if_idle(self.now);
            return false;
        };
        let session = &conn.session;
        let refused = !spec.arity_ok(args.len())
            || (!session.authenticated && !spec.flags.has(Flags::NO_AUTH))
            || !self.shared.tenants.may_run(session.tenant, spec, args);
        let queued = session
            .multi
            .iter()
            .flat_map(|m| m.queued.iter().map(OwnedArgs::args));
        if refused
            || !commands::client::pause::holds(
                mode,
                spec,
                args,
                session.tenant,
                &self.shared,
                queued,
            )
        {
            return false;
        }
        conn.session.parked = Some(args.to_owned_args());
        self.paused.parked.push((conn.key, conn.id));
        true
    }

    /// The pause ended: runs the requests it parked, in the order they
    /// came (each connection then reads on).
    fn resume_parked(&mut self, clients: &mut Clients<'_, Engine>, post: &mut Post<Msg>) {
        for (key, id) in std::mem::take(&mut self.paused.parked) {
            let Some(conn) = clients.get_mut(key, id) else {
                continue;
            };
            if let Some(args) = conn.session.parked.take() {
                self.serve(conn, args.args(), post);
                self.after_commands(post);
            }
        }
    }

    /// `CLIENT KILL` on this core: closes the connections `kill` names
    /// that `tenant` may reach (its own; an operator's, everyone's); how
    /// many. The caller itself, if named, is closed after its reply.
    fn kill_clients(
        &mut self,
        tenant: TenantId,
        kill: &commands::client::Kill,
        clients: &mut Clients<'_, Engine>,
    ) -> Reply {
        let operator = self.shared.tenants.is_operator(tenant);
        let now = Instant::now();
        let mut doomed = Vec::new();
        let mut killed = 0;
        for conn in clients.iter_mut() {
            let session = &mut conn.session;
            if !(operator || session.tenant == tenant) || !kill.matches(session, now) {
                continue;
            }
            killed += 1;
            if Some(session.id) == kill.caller {
                session.close_after_reply = true;
            } else {
                doomed.push(conn.key);
            }
        }
        doomed.into_iter().for_each(|key| clients.close(key));
        Reply::Integer(killed)
    }

    /// Active expiry over every keyspace; what it removed is told to the
    /// tenants that listen (`expired` notifications and triggers).
    fn expire_actively(&mut self) {
        let tenants = &self.shared.tenants;
        for (index, generation, shard) in self.keyspaces.iter_mut() {
            if shard.volatile_len() > 0 && tenants.wants_events(TenantId::new(index, generation)) {
                shard.record_events();
            }
        }
        self.keyspaces.active_expire_cycle(EXPIRE_CHECKS_PER_TICK);
        for (index, generation, shard) in self.keyspaces.iter_mut() {
            if shard.is_recording() {
                let events = shard.take_events();
                self.journal
                    .key_events(&self.shared, TenantId::new(index, generation), &events);
            }
        }
    }

    /// What follows a command, once it is done: the key triggers it fired
    /// run, and what it (and they) published is sent.
    #[inline]
    fn after_commands(&mut self, post: &mut Post<Msg>) {
        // Almost always nothing: two length checks on every request.
        if self.journal.fired.is_empty() && self.journal.outbox.is_empty() {
            return;
        }
        self.run_triggers(post);
        self.send_published(post);
    }

    /// Whether work a command left waits for [`Engine::after_commands`]
    /// (active expiry runs outside any command).
    fn commands_left_work(&self) -> bool {
        !self.journal.outbox.is_empty()
            || (!self.journal.fired.is_empty() && self.transactions.locks.is_idle())
    }

    /// Sends what storage functions published during the last command to
    /// every core with subscribers (this one included).
    fn send_published(&mut self, post: &mut Post<Msg>) {
        if self.journal.outbox.is_empty() {
            return;
        }
        for (tenant, publish) in std::mem::take(&mut self.journal.outbox) {
            for core in 0..self.shared.cores() {
                if !self.shared.has_subscribers(core) {
                    continue;
                }
                let copy = commands::pubsub::Publish {
                    kind: publish.kind,
                    channel: publish.channel.clone(),
                    message: publish.message.clone(),
                };
                post.send(
                    core,
                    Msg::Publish {
                        tenant,
                        publish: copy,
                    },
                );
            }
        }
    }
}

impl Service for Engine {
    type Session = Session;
    type Pending = Waiting;
    type Msg = Msg;

    fn stopping(&self) -> bool {
        self.shared.shutting_down()
    }

    fn wake(&mut self, now: Instant) {
        self.now = now;
        self.keyspaces.set_now(unix_ms());
    }

    fn open(&mut self, accepted: &Accepted) -> Result<Session, &'static [u8]> {
        let shared = &self.shared;
        if shared.total_connections() >= LiveSettings::get(&shared.runtime.maxclients) {
            self.stats.rejected_connections += 1;
            return Err(b"-ERR max number of clients reached\r\n");
        }
        shared.connections[self.id].fetch_add(1, Ordering::Relaxed);
        let needs_auth = shared.runtime.requirepass().is_some();
        Ok(Session::accepted(accepted, self.id, needs_auth))
    }

    fn limits(&self) -> ClientLimits {
        let runtime = &self.shared.runtime;
        let seconds = |value| match LiveSettings::get(value) {
            0 => None,
            n => Some(Duration::from_secs(n)),
        };
        ClientLimits {
            max_bulk_len: LiveSettings::get(&runtime.proto_max_bulk_len) as usize,
            query_buffer: LiveSettings::get(&runtime.client_query_buffer_limit) as usize,
            pipeline: LiveSettings::get(&runtime.client_pipeline_limit) as usize,
            output: runtime.output_buffer_limit(),
            pubsub_output: runtime.pubsub_output_buffer_limit(),
            replica_output: runtime.replica_output_buffer_limit(),
            partial_request: seconds(&runtime.partial_request_timeout),
            idle: seconds(&runtime.timeout),
        }
    }

    fn request(&mut self, conn: &mut Connection<Engine>, args: Args<'_>, post: &mut Post<Msg>) {
        self.serve(conn, args, post);
        self.after_commands(post);
        self.stats.messages_sent = post.sent();
    }

    fn message(&mut self, msg: Msg, clients: &mut Clients<'_, Engine>, post: &mut Post<Msg>) {
        self.stats.messages_received += 1;
        self.handle(msg, clients, post);
        self.after_commands(post);
        self.stats.messages_sent = post.sent();
    }

    fn output_changed(&mut self, conn: &mut Connection<Engine>) {
        self.charge_output(conn);
    }

    fn transferred(&mut self, session: &Session, input: u64, output: u64) {
        // Only this core writes its row: plain loads and stores.
        let usage = self.shared.tenants.usage(self.id, session.tenant);
        if input > 0 {
            Usage::add(&usage.net_input, input);
        }
        if output > 0 {
            Usage::add(&usage.net_output, output);
        }
    }

    fn tick(&mut self, clients: &mut Clients<'_, Engine>) {
        self.ops
            .sample(Instant::now(), self.stats.commands_processed);
        self.stats.instantaneous_ops_per_sec = self.ops.per_sec();
        self.keyspaces.set_now(unix_ms());
        if self.loading.is_none() && self.paused.mode(Instant::now()).is_none() {
            // Nothing expires while loading (replay runs before deadlines),
            // nor while clients are paused (as Redis 7).
            let started = Instant::now();
            self.expire_actively();
            self.shared
                .note_latency(self.id, "expire-cycle", started.elapsed());
        }
        self.sweep_tenants();
        self.follow_access_modes();
        self.evict_between_turns();
        self.serve_ready_soon = !self.blocked.is_empty();
        if self.loading.is_none() {
            self.check_auto_rewrite();
            self.check_save_schedule();
        }
        // Deleted tenants' connections close, as Redis closes a deleted
        // user's clients (a busy one is closed at its next command already).
        let tenants = &self.shared.tenants;
        let deleted: Vec<usize> = clients
            .iter()
            .filter(|c| !c.session.tenant.is_default() && !tenants.is_current(c.session.tenant))
            .map(|c| c.key)
            .collect();
        deleted.into_iter().for_each(|key| clients.close(key));
        self.publish_memory();
        self.publish_metrics();
    }

    fn end_turn(&mut self) {
        self.publish_memory();
        if self.metrics_published.is_some() {
            self.stats.turns.record(self.now.elapsed());
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        if self.loading.is_some()
            || self.rewriting()
            || self.snapshot_pending()
            || self.commands_left_work()
            || self.evicting.any()
            || !self.journal.monitored.is_empty()
            || self.paused.resume_soon
            || self.serve_ready_soon
        {
            // Loading and rewriting go on between turns, without waiting
            // for events.
            return Some(self.now);
        }
        match (self.blocked.next_deadline(), self.paused.deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn timers(&mut self, now: Instant, post: &mut Post<Msg>) {
        if self.loading.is_some() {
            self.load_some();
        } else {
            if self.rewriting() {
                let started = Instant::now();
                self.rewrite_some();
                self.shared
                    .note_latency(self.id, "aof-rewrite-step", started.elapsed());
            }
            if self.snapshot_pending() {
                let started = Instant::now();
                self.snapshot_some();
                self.shared
                    .note_latency(self.id, "snapshot-step", started.elapsed());
            }
            if self.evicting.any() {
                self.evict_between_turns();
            }
            self.serve_ready_soon = false;
            self.serve_ready(post);
        }
        if self.paused.lapse(now) || std::mem::take(&mut self.paused.resume_soon) {
            // The parked requests need their connections: a message.
            post.send(self.id, Msg::Resume);
        }
        let due = self.blocked.expire(now);
        self.release(due, Some(post));
        self.after_commands(post);
        self.send_monitored(post);
    }

    fn commit(&mut self) {
        let fsync = self.shared.runtime.appendfsync();
        if let Some(log) = self.journal.log_mut() {
            log.set_fsync(fsync);
            let started = Instant::now();
            // A failure is kept in the log's status: writes get -MISCONF.
            let _ = log.commit();
            let event = match fsync {
                kiln_persist::aof::Fsync::Always => "aof-fsync-always",
                _ => "aof-write",
            };
            self.shared.note_latency(self.id, event, started.elapsed());
        }
    }

    fn holds_replies(&self) -> bool {
        self.journal
            .log()
            .is_some_and(kiln_persist::aof::Log::holds_replies)
    }

    fn closed(&mut self, conn: &mut Connection<Engine>, _: Closed, post: &mut Post<Msg>) {
        if conn.session.held.is_some_and(|h| h.blocking) {
            // Its request may wait on any core (forwarded to a key's owner).
            let client_id = conn.id;
            for core in 0..self.shared.cores() {
                post.send(core, Msg::Cancel { client_id });
            }
        }
        self.unwatch_everywhere(conn, post);
        self.unsubscribe_all(conn);
        if conn.session.monitor.take().is_some() {
            commands::monitor::forget(&self.shared, self.id);
            self.drop_monitor(conn.id);
        }
        self.charge(&mut conn.session, 0);
        self.shared.tenants.disconnect(conn.session.tenant);
        self.shared.connections[self.id].fetch_sub(1, Ordering::Relaxed);
    }

    fn counters(&mut self) -> &mut NetCounters {
        &mut self.stats.net
    }
}

#[cfg(test)]
mod tests;
