//! The one way a command runs: as a tenant, on this core, for a caller —
//! a client of this core, a job another core (or this one) planned, or a
//! storage function's `kiln.call`.
//!
//! [`execute`] applies every rule once, in Redis's order: arity,
//! authentication, the tenant's permission for the command (denials go to
//! its `ACL LOG`), key ownership (this core, another core, or a
//! `MOVED`/`CROSSSLOT` on a core port), memory and quotas for commands that
//! may grow memory, then runs the command with panics contained and
//! accounts for it (commands, rejections, errors, the tenant's CPU time).
//!
//! | rule | client | job | function |
//! |---|---|---|---|
//! | arity | ✓ | ✓ | ✓ |
//! | authenticated | ✓ | (origin) | (FCALL) |
//! | tenant may run it | ✓ | (origin) | ✓ |
//! | keys | routed / MOVED | owned | here, or an error |
//! | memory | before | before | before, counting its bytes |
//! | counted in `commands` | ✓ | (origin) | — |
//! | shown to `MONITOR` (if it runs) | ✓ | (origin) | ✓ (`lua`) |
//! | latency monitor, slow log | ✓ | ✓ | (in its FCALL) |

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::time::Instant;

use kiln_net::{Args, Reply};
use kiln_store::{ENTRY_OVERHEAD, Others, Shard};

use super::blocking::{Timeout, Unblock};
use super::plan::Plan;
use super::route::{self, Routed};
use super::{CommandSpec, Ctx, Flags, Out, Route, errors, no_permission, wrong_arity};
use crate::journal::Journal;
use crate::session::{ClientView, Session};
use crate::shared::Shared;
use crate::stats::CoreStats;
use crate::tenant::log::{Event, Reason};
use crate::tenant::{Growth, TenantId, Usage};

/// Who a command runs for.
pub enum Caller<'a> {
    /// A client of this core: its session (connection commands change it).
    Client(&'a mut Session),
    /// A part of a request the origin core admitted and routed here; the
    /// clients of this core, for a command that lists them
    /// ([`Flags::CLIENTS`]).
    Job(&'a [ClientView<'a>]),
    /// A client's whole request the origin core admitted and forwarded
    /// here, the owner of its keys: a job, accounted for here by command
    /// (`INFO commandstats`) since this is where it runs whole.
    Forwarded(&'a [ClientView<'a>]),
    /// A storage function running on this core (`kiln.call`); it may only
    /// write when not called with `FCALL_RO`.
    Function {
        /// Called through `FCALL_RO`.
        read_only: bool,
    },
}

/// What a command running on this core may use: the calling tenant's shard
/// here, and the core's shared parts.
pub struct Site<'a> {
    /// This core's index.
    pub core: usize,
    /// The calling tenant's shard on this core.
    pub shard: &'a mut Shard,
    /// The other tenants' shards on this core, for an operator.
    pub others: Option<Others<'a>>,
    /// State shared by every core.
    pub shared: &'a Shared,
    /// This core's counters.
    pub stats: &'a mut CoreStats,
    /// This core's function runtime; `None` inside a storage function
    /// (functions do not nest).
    pub functions: Option<&'a mut kiln_functions::FunctionRuntime>,
    /// The clients blocked on this core, for `CLIENT UNBLOCK`; `None`
    /// where no command can reach them (scratch shards, functions).
    pub waiters: Option<&'a mut dyn Unblock>,
    /// This core's log, where writes go; `None` where nothing may be
    /// logged (scratch shards, a replay of the log itself).
    pub journal: Option<&'a mut Journal>,
    /// Eviction on this core made room for the command (or goes on
    /// between turns): a write over a bound whose policy evicts goes
    /// ahead, as in Redis, even if another core has filled the room since.
    pub evicting: bool,
    /// The command is a blocked request run again because one of its keys
    /// changed (Redis's reprocessing of a blocked client).
    pub woken: bool,
}

/// A command to run: its spec (looked up once, where it arrived), its
/// arguments, and who it runs as.
#[derive(Clone, Copy)]
pub struct Command<'a> {
    /// The command.
    pub spec: &'static CommandSpec,
    /// Its arguments, name first.
    pub args: Args<'a>,
    /// The tenant it acts as.
    pub tenant: TenantId,
}

/// What became of a command.
pub enum Executed {
    /// Its reply (or the reply refusing it).
    Reply(Reply),
    /// Its reply went straight to the output ([`Out`]).
    Written,
    /// It runs whole on another core, the owner of its keys (client
    /// requests only).
    Forward(usize),
    /// It needs other cores: the plan to send (client requests only).
    Elsewhere(Plan),
    /// It found nothing to pop and waits, for its keys on this core or
    /// until the timeout (`None`: forever); clients and jobs only. The
    /// reply is what it answers if it may not wait (inside `EXEC`).
    Block(Timeout, Reply, Option<Vec<bytes::Bytes>>),
}

/// The error a function gets for a key another core owns.
pub const NOT_LOCAL: Reply = Reply::error(
    "CROSSSLOT Function accessed a key owned by another core; keep a function's keys together with a hash tag",
);
/// A write from a function called with `FCALL_RO`.
pub const READ_ONLY: Reply =
    Reply::error("ERR Write commands are not allowed from read-only scripts.");
/// A command functions may not run (or, for FCALL and FUNCTION, nest).
pub const NOT_ALLOWED: Reply =
    Reply::error("ERR This command is not allowed from storage functions");

/// Runs `cmd` for `caller` at `site`, every rule applied (see the module
/// docs); `out` is where a command may write its reply directly.
pub fn execute<'a>(
    mut site: Site<'a>,
    cmd: Command<'_>,
    mut caller: Caller<'a>,
    out: Out<'a>,
) -> Executed {
    let Command { spec, args, tenant } = cmd;
    let counted = matches!(caller, Caller::Client(_));
    if counted {
        Usage::bump(&site.shared.tenants.usage(site.core, tenant).commands);
    }
    let refused = match &mut caller {
        Caller::Client(session) => admit_client(site.shared, cmd, session),
        Caller::Job(_) | Caller::Forwarded(_) => Ok(()),
        Caller::Function { read_only } => admit_function(&mut site, cmd, *read_only),
    };
    if let Err(reply) = refused {
        site.stats.error_replies += 1;
        site.stats.commands.rejected(tenant, spec, &reply);
        return Executed::Reply(reply);
    }
    // MONITOR shows what runs, as Redis: not what was refused (arity,
    // permission, MOVED, OOM), and a forwarded command where it arrived.
    let monitored = site.shared.monitors.load(Ordering::Relaxed) > 0;
    if let Caller::Client(session) = &caller {
        match route::route(site.shared, site.core, spec, args, session) {
            Routed::Here => {}
            Routed::Owner(core) => {
                if monitored {
                    feed_monitors(&mut site, cmd, &caller);
                }
                site.stats.forwarded_requests += 1;
                // Counted once here; not counted again where it runs.
                site.stats.commands_processed += 1;
                return Executed::Forward(core);
            }
            Routed::Reply(reply) => {
                if reply.is_error() {
                    // MOVED, CROSSSLOT...: refused before it ran, as Redis
                    // counts a cluster redirection.
                    site.stats.error_replies += 1;
                    site.stats.commands.rejected(tenant, spec, &reply);
                } else {
                    site.stats.commands.ran(tenant, spec, None, false);
                }
                return Executed::Reply(reply);
            }
            Routed::Plan(plan) => {
                if monitored {
                    feed_monitors(&mut site, cmd, &caller);
                }
                if matches!(spec.route, Route::Keys(_)) {
                    site.stats.forwarded_requests += 1;
                }
                // Counted once here; its parts are not counted where they run.
                site.stats.commands_processed += 1;
                if !matches!(plan.finish, crate::commands::plan::Finish::Single) {
                    // Its parts run on several cores: one call, counted
                    // here, untimed. A single job is counted where it runs.
                    site.stats.commands.ran(tenant, spec, None, false);
                }
                return Executed::Elsewhere(plan);
            }
        }
    }
    if spec.flags.has(Flags::WRITE)
        && let Some(refusal) = site.journal.as_deref().and_then(Journal::refusal)
    {
        // As Redis: nothing is written that the log could not keep.
        site.stats.error_replies += 1;
        site.stats.commands.rejected(tenant, spec, &refusal);
        return Executed::Reply(refusal);
    }
    let function = matches!(caller, Caller::Function { .. });
    if !function
        && spec.flags.has(Flags::DENYOOM)
        && !site
            .shared
            .admits_unless_evicting(tenant, Growth::UNKNOWN, site.evicting)
    {
        site.stats.error_replies += 1;
        site.stats.commands.rejected(tenant, spec, &errors::OOM);
        Usage::bump(&site.shared.tenants.usage(site.core, tenant).rejected);
        return Executed::Reply(errors::OOM);
    }
    if counted {
        // A job was counted where its request arrived.
        site.stats.commands_processed += 1;
    }
    if monitored {
        feed_monitors(&mut site, cmd, &caller);
    }
    run(site, cmd, caller, out)
}

/// Runs a command read back from this core's log as `cmd.tenant`. Nothing
/// is admitted again (it was when it first ran, and a restart must not drop
/// what today's limits would refuse) and nothing is logged (`site.journal`
/// is `None`).
pub fn replay(site: Site<'_>, cmd: Command<'_>) -> Executed {
    if !cmd.spec.arity_ok(cmd.args.len()) {
        return Executed::Reply(wrong_arity(cmd.spec));
    }
    run(site, cmd, Caller::Job(&[]), Out::Value)
}

/// Runs an admitted command, containing a panic and accounting for it.
fn run<'a>(site: Site<'a>, cmd: Command<'_>, caller: Caller<'a>, out: Out<'a>) -> Executed {
    let Command { spec, args, tenant } = cmd;
    let (core, shared) = (site.core, site.shared);
    // A function's own commands are inside the FCALL's time already.
    let timed = !matches!(caller, Caller::Function { .. });
    let started = timed.then(Instant::now);
    // What happens to keys is recorded only for a tenant that listens
    // (notifications, triggers), and never while the log replays.
    let listening = site.journal.is_some() && shared.tenants.wants_events(tenant);
    let owns_events = listening && site.shard.record_events();
    let mark = site.shard.begin_command_events();
    let mut ctx = Ctx::new(site, tenant, caller, out);
    // A bug in one command must not take the core (and every client on it)
    // down, nor unwind into V8's frames under a storage function: answer an
    // error, log it, keep serving. The shard stays memory-safe; the
    // command's own effect may be partial.
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| (spec.run)(&mut ctx, args)));
    let written = ctx.out.written();
    let blocks = ctx.blocks.take();
    let block_args = ctx.block_args.take();
    let reply = result.unwrap_or_else(|_| {
        tracing::error!(core, command = spec.name, "command panicked");
        Reply::error_owned(format!("ERR internal error in '{}' (logged)", spec.name))
    });
    if spec.flags.has(Flags::WRITE)
        && !reply.is_error()
        && blocks.is_none()
        && let Some(journal) = ctx.journal.as_deref_mut()
    {
        journal.command(shared, ctx.shard, tenant, (spec, args), &reply);
    }
    if listening {
        if !reply.is_error() && blocks.is_none() {
            crate::notify::command_events(ctx.shard, spec, args, &reply);
        }
        ctx.shard.end_command_events(mark);
        if owns_events && let Some(journal) = ctx.journal.as_deref_mut() {
            journal.key_events(shared, tenant, &ctx.shard.take_events());
        }
    }
    // Counted by command where it runs whole: a client's request here, one
    // forwarded here, a function's `kiln.call` (untimed: inside the FCALL).
    // One that blocks counts when it is served (it runs again then, as a
    // forwarded request), as Redis counts a blocked command once.
    let blocked = blocks.is_some() && !reply.is_error();
    let accounted = !matches!(ctx.caller, Caller::Job(_)) && !blocked;
    let failed = reply.is_error();
    let spent = started.map(|started| started.elapsed());
    if accounted {
        let nanos = spent.map(|d| d.as_nanos() as u64);
        ctx.stats.commands.ran(tenant, spec, nanos, failed);
    }
    if let Some(spent) = spent {
        let usage = shared.tenants.usage(core, tenant);
        Usage::add(&usage.cpu_ns, spent.as_nanos() as u64);
        let slower_than = shared.runtime.slowlog_slower_than.load(Ordering::Relaxed);
        // A command on every core (INFO, DBSIZE...) is logged by none of
        // its parts: one entry per core would repeat it. Nor is the log's
        // replay at start (it has no journal), as Redis does not log
        // loading.
        let whole = !matches!(spec.route, Route::AllCores(_)) && ctx.journal.is_some();
        if whole && slower_than >= 0 && spent.as_micros() >= slower_than as u128 {
            log_slow(shared, core, (tenant, args), spent, &ctx.caller);
        }
        if whole {
            let event = if spec.flags.has(Flags::FAST) {
                "fast-command"
            } else {
                "command"
            };
            shared.note_latency(core, event, spent);
        }
    }
    if let (Some(timeout), false) = (blocks, reply.is_error()) {
        return Executed::Block(timeout, reply, block_args);
    }
    if written {
        return Executed::Written;
    }
    if reply.is_error() {
        ctx.stats.error_replies += 1;
    }
    Executed::Reply(reply)
}

/// Keeps an admitted command's `MONITOR` line for the end of the turn (see
/// [`crate::monitor`]): a client's where it arrived, a function's where it
/// runs; a job was shown where it arrived, and `admin` commands never are.
fn feed_monitors(site: &mut Site<'_>, cmd: Command<'_>, caller: &Caller<'_>) {
    use crate::monitor::Source;
    let source = match caller {
        Caller::Client(session) => Source::Client(session.peer),
        Caller::Function { .. } => Source::Function,
        Caller::Job(_) | Caller::Forwarded(_) => return,
    };
    if let Some(journal) = site.journal.as_deref_mut()
        && !journal.in_exec_session
    {
        monitor(journal, cmd, source);
    }
}

/// Keeps `cmd`'s `MONITOR` line (unless it is flagged `admin`) for the end
/// of the turn; for the commands the engine admits itself (MULTI, EXEC and
/// the commands EXEC runs, the subscriptions). Call it only while
/// someone monitors ([`Shared::monitors`]).
pub fn monitor(journal: &mut Journal, cmd: Command<'_>, source: crate::monitor::Source) {
    use crate::monitor::{Line, format_line};
    if cmd.spec.flags.has(Flags::ADMIN) {
        return;
    }
    let unix_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    journal.monitored.push(Line {
        tenant: cmd.tenant,
        text: format_line(unix_us, source, cmd.args).into(),
    });
}

/// Adds a command that ran `spent` to this core's slow log.
fn log_slow(
    shared: &Shared,
    core: usize,
    (tenant, args): (TenantId, Args<'_>),
    spent: std::time::Duration,
    caller: &Caller<'_>,
) {
    let (addr, name) = match caller {
        Caller::Client(session) => (
            session.peer.to_string(),
            session
                .name
                .as_deref()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default(),
        ),
        Caller::Job(_) | Caller::Forwarded(_) | Caller::Function { .. } => {
            (String::new(), String::new())
        }
    };
    let entry = crate::slowlog::Entry {
        id: shared.slowlog_ids.fetch_add(1, Ordering::Relaxed),
        time: crate::shared::unix_ms() / 1000,
        micros: spent.as_micros() as u64,
        args: crate::slowlog::cut_args(args),
        addr,
        name,
        tenant,
    };
    let max_len = shared.runtime.slowlog_max_len.load(Ordering::Relaxed) as usize;
    shared.slowlogs[core]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(entry, max_len);
}

/// A client's command: authenticated, and allowed to its tenant.
pub fn admit_client(shared: &Shared, cmd: Command<'_>, session: &mut Session) -> Result<(), Reply> {
    let Command { spec, args, tenant } = cmd;
    if !spec.arity_ok(args.len()) {
        return Err(wrong_arity(spec));
    }
    if !session.authenticated && !spec.flags.has(Flags::NO_AUTH) {
        return Err(errors::NOAUTH);
    }
    // Refused or not, it is the client's last command (`CLIENT LIST cmd=`).
    session.last_command = spec.name;
    if !shared.tenants.may_run(tenant, spec, args) {
        // As Redis does: the refusal shows in its tenant's ACL LOG.
        let client_info = session.info_line(Instant::now(), None);
        return Err(deny(shared, tenant, spec, &session.user, client_info));
    }
    Ok(())
}

/// A storage function's `kiln.call`: a keyed data command its tenant may
/// run, on keys this core owns, writing only when the call may write, and
/// only what fits the tenant's quotas and `maxmemory` — counting the bytes
/// of its arguments and one key for each of its keys that does not exist yet.
fn admit_function(site: &mut Site<'_>, cmd: Command<'_>, read_only: bool) -> Result<(), Reply> {
    let Command { spec, args, tenant } = cmd;
    if !spec.arity_ok(args.len()) {
        return Err(wrong_arity(spec));
    }
    let keyed = matches!(spec.route, Route::Keys(_));
    if !keyed || spec.flags.has(Flags::NOSCRIPT) || spec.flags.has(Flags::ADMIN) {
        return Err(NOT_ALLOWED);
    }
    // The tenant's command rules hold inside its functions too (as Redis
    // checks ACLs inside scripts): a read-only user's function cannot write.
    let tenants = &site.shared.tenants;
    if !tenants.may_run(tenant, spec, args) {
        let name = tenants.name(tenant);
        return Err(deny(site.shared, tenant, spec, &name, String::new()));
    }
    for at in spec.keys.positions_in(args) {
        if site.shared.slots.owner_of(args.get(at)) != site.core {
            return Err(NOT_LOCAL);
        }
    }
    if !spec.flags.has(Flags::WRITE) {
        return Ok(());
    }
    if read_only {
        return Err(READ_ONLY);
    }
    if spec.flags.has(Flags::DENYOOM) {
        let bytes = args.iter().skip(1).map(<[u8]>::len).sum();
        let growth = spec
            .keys
            .positions_in(args)
            .filter(|&at| site.shard.peek_record(args.get(at)).is_none())
            .fold(Growth::default().bytes(bytes), |g, _| {
                g.new_key(ENTRY_OVERHEAD)
            });
        admit_growth(site.shared, site.core, tenant, growth)?;
    }
    Ok(())
}

/// Refuses `growth` with `-OOM` unless it fits `tenant`'s quotas and the
/// server's `maxmemory`, counting the refusal.
pub fn admit_growth(
    shared: &Shared,
    core: usize,
    tenant: TenantId,
    growth: Growth,
) -> Result<(), Reply> {
    if shared.admits(tenant, growth) {
        return Ok(());
    }
    Usage::bump(&shared.tenants.usage(core, tenant).rejected);
    Err(errors::OOM)
}

/// The `NOPERM` reply for `spec`, logged in `tenant`'s `ACL LOG`.
fn deny(
    shared: &Shared,
    tenant: TenantId,
    spec: &CommandSpec,
    user: &str,
    client_info: String,
) -> Reply {
    let event = Event {
        reason: Reason::Command,
        object: spec.name.into(),
        username: user.into(),
        client_info,
    };
    shared.tenants.log().add(tenant, event);
    no_permission(user, spec)
}
