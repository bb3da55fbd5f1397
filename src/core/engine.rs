//! The engine: everything a core owns except its connections — the
//! tenants' keyspaces, counters and queued local jobs — and the per-request
//! path: parse, look up, check, route, execute or plan, reply.
//!
//! [`Engine::exec`] is the one way a command runs: "this table command, as
//! tenant T, against this core's shard of T's keyspace", with T's quotas
//! enforced and its usage published. Sessions, forwarded jobs and (later)
//! storage functions all go through it.
//!
//! The engine also keeps the books on connections' unsent replies
//! ([`Engine::charge_output`]): each is charged to its tenant's `output`
//! figure and to this core's client memory, which `used_memory`, the
//! quotas and `maxmemory` count.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use kiln_net::resp::ParseLimits;
use kiln_net::{Args, Reply};
use kiln_store::Keyspaces;
use slab::Slab;

use super::conn::{self, Connection, Waiting};
use super::fanout::{self, Finish, Job, Plan, Planning};
use super::limits::{Breach, ClientLimits};
use super::message::{Batch, Msg, Origin};
use super::stats::CoreStats;
use crate::commands::{self, CommandSpec, Ctx, Flags, KeyRouting, Lookup, Route, errors};
use crate::session::{PortKind, Session};
use crate::shared::Shared;
use crate::tenant::{Growth, TenantId, Usage};

/// Everything a core owns except its connections, so a connection can be
/// borrowed while commands run against the shard.
pub struct Engine {
    /// This core's index.
    pub id: usize,
    /// This core's records: one shard per tenant.
    pub keyspaces: Keyspaces,
    /// Shared state.
    pub shared: Arc<Shared>,
    /// Counters.
    pub stats: CoreStats,
    pub(super) local_jobs: VecDeque<(Job, Origin)>,
    /// The last plain (not sub-) command looked up.
    last_spec: Option<&'static CommandSpec>,
    /// Messages for other cores, sent together at the end of the turn.
    pub(super) outbox: Vec<Batch>,
    pub(super) now: Instant,
    /// This core's tenant isolates and function dispatch.
    pub functions: kiln_functions::Runtime,
}

/// What routing decided for a request.
enum Routed {
    /// Run on this core now.
    Here,
    /// Answer at once.
    Reply(Reply),
    /// Needs other cores (or a per-core job on this one).
    Plan(Plan),
}

impl Engine {
    /// A fresh engine for core `id`.
    pub(super) fn new(id: usize, keyspaces: Keyspaces, shared: Arc<Shared>) -> Engine {
        let functions = kiln_functions::Runtime::new(
            shared.functions.clone(),
            shared.settings.functions.runtime,
        );
        Engine {
            id,
            keyspaces,
            functions,
            outbox: (0..shared.cores()).map(|_| Batch::new()).collect(),
            shared,
            stats: CoreStats::default(),
            local_jobs: VecDeque::new(),
            last_spec: None,
            now: Instant::now(),
        }
    }

    /// Decides where a request runs.
    fn route(&self, spec: &'static CommandSpec, args: Args<'_>, session: &Session) -> Routed {
        let port_kind = session.port_kind;
        let planning = || Planning {
            shared: &self.shared,
            core: self.id,
            port_kind,
            spec,
        };
        let planned = |result: Result<Plan, Reply>| match result {
            Ok(plan) => Routed::Plan(plan),
            Err(reply) => Routed::Reply(reply),
        };
        match spec.route {
            Route::Local => Routed::Here,
            Route::AllCores(combine) => {
                Routed::Plan(fanout::all_cores(planning().cores(), args, combine))
            }
            Route::Planned(planner) => planned(planner(&planning(), args)),
            Route::Keys(routing) => {
                let mut positions = spec.keys.positions_in(args);
                let Some(first) = positions.next() else {
                    return Routed::Here;
                };
                let slots = &self.shared.slots;
                if port_kind == PortKind::Core {
                    return self.route_as_cluster_node(args, first, positions, session.local);
                }
                let owner = slots.owner_of(args.get(first));
                if positions.all(|p| slots.owner_of(args.get(p)) == owner) {
                    return if owner == self.id {
                        Routed::Here
                    } else {
                        Routed::Plan(Plan::single(owner, Job::Command(args.to_owned_args())))
                    };
                }
                match routing {
                    KeyRouting::SameCore => Routed::Reply(errors::CROSSSLOT),
                    // An incomplete key/value list must fail whole, before
                    // any core writes its part.
                    KeyRouting::Split(_) if !complete_groups(spec, args.len()) => {
                        Routed::Reply(commands::wrong_arity(spec))
                    }
                    KeyRouting::Split(combine) => {
                        Routed::Plan(fanout::split_by_owner(&planning(), args, combine))
                    }
                    KeyRouting::Planned(planner) => planned(planner(&planning(), args)),
                }
            }
        }
    }

    /// A core port behaves as a Redis Cluster node: keys must share one slot,
    /// and that slot must be ours.
    fn route_as_cluster_node(
        &self,
        args: Args<'_>,
        first: usize,
        mut rest: impl Iterator<Item = usize>,
        local: SocketAddr,
    ) -> Routed {
        let slot = kiln_net::slot::key_slot(args.get(first));
        if rest.any(|p| kiln_net::slot::key_slot(args.get(p)) != slot) {
            return Routed::Reply(errors::CROSSSLOT);
        }
        let owner = self.shared.slots.owner(slot);
        if owner == self.id {
            Routed::Here
        } else {
            Routed::Reply(moved(&self.shared, slot, owner, local))
        }
    }

    /// Runs a client's command as `tenant` against this core's shard of the
    /// tenant's keyspace, counting it in `total_commands_processed`. Writes
    /// that may grow memory are refused with `-OOM` over the server's
    /// `maxmemory` or the tenant's quota, checked as Redis checks a client's
    /// command: against the figures before it ([`Growth::UNKNOWN`]).
    pub fn exec(
        &mut self,
        spec: &'static CommandSpec,
        args: Args<'_>,
        tenant: TenantId,
        session: Option<&mut Session>,
        clients: Option<&Slab<Connection>>,
    ) -> Reply {
        self.run_command(spec, args, tenant, session, clients, true)
    }

    /// Runs one core's part of a request that arrived on another core (or
    /// was split here): as [`Engine::exec`], but not counted again — the
    /// receiving core counted the request once.
    pub fn exec_part(
        &mut self,
        spec: &'static CommandSpec,
        args: Args<'_>,
        tenant: TenantId,
        clients: &Slab<Connection>,
    ) -> Reply {
        self.run_command(spec, args, tenant, None, Some(clients), false)
    }

    fn run_command(
        &mut self,
        spec: &'static CommandSpec,
        args: Args<'_>,
        tenant: TenantId,
        session: Option<&mut Session>,
        clients: Option<&Slab<Connection>>,
        count: bool,
    ) -> Reply {
        let tenants = &self.shared.tenants;
        if spec.flags.has(Flags::DENYOOM) && !self.shared.admits(tenant, Growth::UNKNOWN) {
            self.stats.error_replies += 1;
            Usage::bump(&tenants.usage(self.id, tenant).rejected);
            return errors::OOM;
        }
        let operator = tenants.is_operator(tenant);
        let Some((shard, others)) = self
            .keyspaces
            .split_mut(tenant.index(), tenant.generation())
        else {
            self.stats.error_replies += 1;
            return errors::USER_DELETED;
        };
        if count {
            self.stats.commands_processed += 1;
        }
        let memory_before = shard.used_memory();
        let mut ctx = Ctx {
            shard,
            tenant,
            others: operator.then_some(others),
            shared: &self.shared,
            core: self.id,
            session,
            stats: &mut self.stats,
            clients,
            functions: Some(&mut self.functions),
        };
        // A bug in one command must not take the core (and every client on
        // it) down: answer an error, log it, keep serving. The shard stays
        // memory-safe; the command's own effect may be partial.
        let run = std::panic::AssertUnwindSafe(|| (spec.run)(&mut ctx, args));
        let reply = std::panic::catch_unwind(run).unwrap_or_else(|_| {
            tracing::error!(core = self.id, command = spec.name, "command panicked");
            Reply::error_owned(format!("ERR internal error in '{}' (logged)", spec.name))
        });
        if reply.is_error() {
            self.stats.error_replies += 1;
        }
        let memory_after = self.shard_of(tenant).map(|s| s.used_memory());
        if spec.flags.has(Flags::WRITE) || memory_after != Some(memory_before) {
            // Other cores check maxmemory and quotas against these figures;
            // publish them before the reply can prompt the client's next write
            // (FCALL writes without the WRITE flag).
            self.publish_memory();
            self.publish_usage(tenant);
        }
        reply
    }

    /// Sends each other core the messages this turn produced for it.
    pub(super) fn flush_outbox(&mut self) {
        for (core, batch) in self.outbox.iter_mut().enumerate() {
            if !batch.is_empty() {
                self.shared.mailboxes[core].send(std::mem::take(batch));
            }
        }
    }

    /// Makes this core's memory use visible to every core.
    pub(super) fn publish_memory(&self) {
        self.shared.memory[self.id].store(self.keyspaces.used_memory() as u64, Ordering::Relaxed);
    }

    /// This core's shard of `tenant`'s keyspace (created on first use);
    /// `None` for a tenant deleted since `tenant` was issued.
    pub fn shard_of(&mut self, tenant: TenantId) -> Option<&mut kiln_store::Shard> {
        self.keyspaces.get_mut(tenant.index(), tenant.generation())
    }

    /// Makes `tenant`'s memory and key count on this core visible to every
    /// core (its quotas are checked against the sum).
    pub(super) fn publish_usage(&self, tenant: TenantId) {
        let usage = self.shared.tenants.usage(self.id, tenant);
        let (memory, keys) = self
            .keyspaces
            .get(tenant.index(), tenant.generation())
            .map_or((0, 0), |s| (s.used_memory(), s.len()));
        usage.publish(memory, keys);
    }

    /// Charges `conn`'s unsent replies (its output buffer now) to its
    /// tenant's figures and to this core's client memory, replacing what
    /// was charged for it before (to the same tenant, or to the one it was
    /// logged in as).
    pub(super) fn charge_output(&self, conn: &mut Connection) {
        self.charge(conn, conn.session.tenant, conn.replies.output_len());
    }

    /// Takes back everything charged for a connection that is closing.
    pub(super) fn discharge_output(&self, conn: &mut Connection) {
        self.charge(conn, conn.session.tenant, 0);
    }

    fn charge(&self, conn: &mut Connection, tenant: TenantId, bytes: usize) {
        let (was_tenant, was) = conn.charged;
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
        conn.charged = (tenant, bytes);
    }

    /// Sets the limits `conn`'s next replies are checked against as they
    /// are queued: the hard output buffer limit, and for a tenant with a
    /// memory quota what is left of it after its other connections' unsent
    /// replies (on every core).
    pub(super) fn arm_output_limits(&self, conn: &mut Connection, hard: u64) {
        let tenant = conn.session.tenant;
        let (charged_to, held) = conn.charged;
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

    /// Sends a plan part to its core (or queues it here).
    pub(super) fn send_job(&mut self, core: usize, job: Job, origin: Origin) {
        if core == self.id {
            self.local_jobs.push_back((job, origin));
        } else {
            self.outbox[core].push(Msg::Run { job, origin });
        }
    }

    /// Handles one complete request from connection `key`.
    fn handle(
        &mut self,
        key: usize,
        conn_session: &mut Session,
        replies: &mut conn::Replies,
        args: Args<'_>,
    ) {
        conn_session.last_active = self.now;
        let spec = match self.last_spec {
            // Pipelines and workloads repeat the same command; one
            // comparison beats lowercasing and hashing its name again.
            Some(spec) if args.get(0).eq_ignore_ascii_case(spec.name.as_bytes()) => spec,
            _ => match commands::lookup(args) {
                Lookup::Found(spec) => {
                    if spec.subcommands.is_empty() && !spec.name.contains('|') {
                        self.last_spec = Some(spec);
                    }
                    spec
                }
                Lookup::Unknown(reply) => {
                    self.stats.error_replies += 1;
                    return replies.push(&reply, conn_session.protocol);
                }
            },
        };
        let tenants = &self.shared.tenants;
        let tenant = conn_session.tenant;
        if !tenant.is_default() && !tenants.is_current(tenant) {
            // Its user was deleted: Redis closes such connections.
            conn_session.close_after_reply = true;
            return;
        }
        Usage::bump(&tenants.usage(self.id, tenant).commands);
        let refused = if !spec.arity_ok(args.len()) {
            Some(commands::wrong_arity(spec))
        } else if !conn_session.authenticated && !spec.flags.has(Flags::NO_AUTH) {
            Some(errors::NOAUTH)
        } else if !tenants.may_run(tenant, spec, args) {
            // As Redis does: the refused command shows in the client's
            // info, and the refusal in its tenant's ACL LOG.
            conn_session.last_command = spec.name;
            let event = crate::tenant::log::Event {
                reason: crate::tenant::log::Reason::Command,
                object: spec.name.into(),
                username: conn_session.user.clone(),
                client_info: conn_session.info_line(self.now, 0, 0),
            };
            tenants.log().add(tenant, event);
            Some(commands::no_permission(&conn_session.user, spec))
        } else {
            None
        };
        if let Some(reply) = refused {
            self.stats.error_replies += 1;
            return replies.push(&reply, conn_session.protocol);
        }
        conn_session.last_command = spec.name;
        match self.route(spec, args, conn_session) {
            Routed::Here => {
                let reply = self.exec(spec, args, tenant, Some(conn_session), None);
                replies.push(&reply, conn_session.protocol);
            }
            Routed::Reply(reply) => {
                self.stats.error_replies += u64::from(reply.is_error());
                replies.push(&reply, conn_session.protocol);
            }
            Routed::Plan(plan) => {
                let finish_kind = plan.finish;
                // Keyed requests that had to leave this core: what a
                // cluster-aware client avoids.
                if matches!(spec.route, Route::Keys(_)) {
                    self.stats.forwarded_requests += 1;
                }
                // Counted once here; its parts are not counted where they run.
                self.stats.commands_processed += 1;
                let (waiting, jobs) =
                    Waiting::start(plan, keep_args(&finish_kind, args), conn_session.protocol);
                let seq = replies.push_waiting(waiting);
                for (part, (core, job)) in jobs.into_iter().enumerate() {
                    let origin = Origin {
                        core: self.id,
                        conn: key,
                        client_id: conn_session.id,
                        seq,
                        part,
                        tenant,
                    };
                    self.send_job(core, job, origin);
                }
            }
        }
    }

    /// Parses and handles every complete request buffered on `conn`, until
    /// the input runs out or backpressure pauses reading, then charges the
    /// replies it queued. `Err` when the connection must close now (a limit
    /// in [`ClientLimits`] was hit).
    pub(super) fn process_input(
        &mut self,
        key: usize,
        conn: &mut Connection,
    ) -> Result<(), Breach> {
        let result = self.handle_input(key, conn);
        self.charge_output(conn);
        result
    }

    fn handle_input(&mut self, key: usize, conn: &mut Connection) -> Result<(), Breach> {
        let limits = ClientLimits::load(&self.shared.runtime);
        self.arm_output_limits(conn, limits.output.hard);
        let tenant = conn.session.tenant;
        let parse_limits = ParseLimits {
            max_bulk_len: limits.max_bulk_len,
            authenticated: conn.session.authenticated,
            ..ParseLimits::default()
        };
        loop {
            limits.check_output(conn, self.now)?;
            if conn.session.close_after_reply || limits.backpressured(conn) {
                conn.read_paused = !conn.session.close_after_reply;
                conn.partial_since = None;
                return Ok(());
            }
            let Connection {
                input,
                session,
                replies,
                ..
            } = conn;
            if input.parser.limits() != parse_limits {
                input.parser.set_limits(parse_limits);
            }
            match input.parse() {
                Ok(Some(consumed)) => {
                    let args = input.args();
                    if !args.is_empty() {
                        self.handle(key, session, replies, args);
                    }
                    input.consume(consumed);
                    conn.partial_since = None;
                    // AUTH may have lifted the unauthenticated limits, and
                    // changed the tenant whose room replies are checked against.
                    if conn.session.authenticated != parse_limits.authenticated
                        || conn.session.tenant != tenant
                    {
                        return self.handle_input(key, conn);
                    }
                }
                Ok(None) => {
                    if input.len() > limits.query_buffer {
                        return Err(Breach::QueryBuffer);
                    }
                    conn.read_paused = false;
                    if conn.input.is_empty() {
                        conn.partial_since = None;
                    } else {
                        conn.partial_since.get_or_insert(self.now);
                    }
                    return Ok(());
                }
                Err(err) => {
                    self.stats.protocol_errors += 1;
                    let reply = Reply::error_owned(format!("ERR {err}"));
                    replies.push(&reply, session.protocol);
                    session.close_after_reply = true;
                    return Ok(());
                }
            }
        }
    }
}

/// The request as a combine or continuation will see it; a plan whose
/// single reply passes through never looks, so nothing is copied for it.
fn keep_args(finish: &Finish, args: Args<'_>) -> kiln_net::OwnedArgs {
    match finish {
        Finish::Single => kiln_net::OwnedArgs::default(),
        Finish::Combine(_) | Finish::Continue(_) => args.to_owned_args(),
    }
}

/// Whether the arguments after the first key form whole groups of `step`
/// (MSET's key, value pairs).
fn complete_groups(spec: &CommandSpec, argc: usize) -> bool {
    let step = spec.keys.step.max(1);
    argc >= spec.keys.first && (argc - spec.keys.first).is_multiple_of(step)
}

/// `-MOVED <slot> <ip>:<port>`; the IP is the one the client reached us on
/// (`local`) unless one is announced.
pub fn moved(shared: &Shared, slot: u16, owner: usize, local: SocketAddr) -> Reply {
    let ip = shared.slots.ip_for(local);
    Reply::error_owned(format!(
        "MOVED {slot} {ip}:{}",
        shared.slots.nodes[owner].port
    ))
}

#[cfg(test)]
mod tests {
    use kiln_net::OwnedArgs;
    use kiln_store::ShardConfig;

    use super::*;
    use crate::commands::KeySpec;

    fn explode(_: &mut Ctx<'_>, _: Args<'_>) -> Reply {
        panic!("a bug in a command")
    }

    static EXPLODING: CommandSpec = crate::command!(
        "explode",
        1,
        Flags::NONE,
        &[],
        KeySpec::NONE,
        Route::Local,
        explode,
        "server",
        "0.0.0",
        "Panics (test only)."
    );

    #[test]
    fn a_panicking_command_answers_an_error_and_the_core_goes_on() {
        let shared = Arc::new(crate::shared::tests_support::shared(1));
        let mut engine = Engine::new(0, Keyspaces::new(ShardConfig::default()), shared);
        let args = OwnedArgs::new([&b"explode"[..]]);
        let reply = engine.exec(&EXPLODING, args.args(), TenantId::DEFAULT, None, None);
        assert_eq!(
            reply,
            Reply::error("ERR internal error in 'explode' (logged)")
        );
        assert_eq!(engine.stats.error_replies, 1);
        let get = OwnedArgs::new([&b"GET"[..], b"k"]);
        let Lookup::Found(spec) = commands::lookup(get.args()) else {
            panic!()
        };
        assert_eq!(
            engine.exec(spec, get.args(), TenantId::DEFAULT, None, None),
            Reply::Nil
        );
    }

    #[test]
    fn exec_acts_on_the_callers_keyspace_and_quota() {
        let mut shared = crate::shared::tests_support::shared(1);
        let quota = crate::tenant::TenantConfig {
            name: "small".into(),
            nopass: true,
            enabled: true,
            limits: crate::tenant::TenantLimits {
                maxkeys: 1,
                ..Default::default()
            },
            ..Default::default()
        };
        shared.tenants = crate::tenant::Tenants::new(&[quota], None, 2, 1).unwrap();
        let small = shared.tenants.authenticate(b"small", b"").unwrap();
        let mut engine = Engine::new(0, Keyspaces::new(ShardConfig::default()), Arc::new(shared));
        let run = |engine: &mut Engine, tenant, parts: &[&str]| {
            let args = OwnedArgs::new(parts.iter().map(|p| p.as_bytes()));
            let Lookup::Found(spec) = commands::lookup(args.args()) else {
                panic!()
            };
            engine.exec(spec, args.args(), tenant, None, None)
        };
        assert_eq!(run(&mut engine, small, &["SET", "k", "mine"]), Reply::OK);
        assert_eq!(
            run(&mut engine, TenantId::DEFAULT, &["GET", "k"]),
            Reply::Nil
        );
        assert_eq!(run(&mut engine, small, &["SET", "k2", "v"]), errors::OOM);
        assert_eq!(
            run(&mut engine, TenantId::DEFAULT, &["SET", "k2", "v"]),
            Reply::OK
        );
        assert_eq!(
            run(&mut engine, small, &["GET", "k"]),
            Reply::bulk_from("mine")
        );
        let usage = engine.shared.tenants.figures(small);
        assert_eq!((usage.keys, usage.rejected), (1, 1));
    }
}
