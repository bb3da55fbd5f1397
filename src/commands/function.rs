//! Storage functions: `FCALL`, `FCALL_RO` and the `FUNCTION` subcommands,
//! each acting as the calling tenant.
//!
//! The logic lives in `kiln-functions`; this file parses arguments and
//! implements the host API over this core's shard ([`ShardHost`]): a
//! function reaches only keys this core owns, writes only when its flags
//! allow, and through `kiln.call` runs only keyed data commands. Each write
//! that may grow memory is checked before it happens against the tenant's
//! quotas and `maxmemory`, counting what it would add, and published after
//! it, so one call cannot write past a quota.

use std::panic::AssertUnwindSafe;

use bytes::Bytes;
use kiln_functions::{Call, CallOptions, Host, HostError, RestorePolicy};
use kiln_net::{Args, OwnedArgs, Reply};
use kiln_store::{ENTRY_OVERHEAD, SetOptions, Shard, StoreError};
use smallvec::SmallVec;

use super::{
    CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Lookup, Route, errors, help_or_unknown, lookup,
    wrong_arity,
};
use crate::command;
use crate::core::stats::CoreStats;
use crate::shared::Shared;
use crate::tenant::{Growth, TenantId, Usage};

const SCRIPTING: &[&str] = &["@slow", "@scripting"];
/// Redis puts the `FUNCTION` subcommands that change libraries in `@write`.
const SCRIPTING_WRITE: &[&str] = &["@write", "@slow", "@scripting"];
const WRITE_NOSCRIPT: Flags = Flags::WRITE.with(Flags::NOSCRIPT);

/// `FUNCTION`'s subcommands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
static FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    command!("function|load", -3, WRITE_NOSCRIPT.with(Flags::DENYOOM), SCRIPTING_WRITE, KeySpec::NONE, Route::Local,
        function_load, "scripting", "7.0.0", "Creates a library."),
    command!("function|delete", 3, WRITE_NOSCRIPT, SCRIPTING_WRITE, KeySpec::NONE, Route::Local,
        function_delete, "scripting", "7.0.0", "Deletes a library and its functions."),
    command!("function|flush", -2, WRITE_NOSCRIPT, SCRIPTING_WRITE, KeySpec::NONE, Route::Local,
        function_flush, "scripting", "7.0.0", "Deletes all libraries and functions."),
    command!("function|list", -2, Flags::NOSCRIPT, SCRIPTING, KeySpec::NONE, Route::Local,
        function_list, "scripting", "7.0.0", "Returns information about all libraries."),
    command!("function|dump", 2, Flags::NOSCRIPT, SCRIPTING, KeySpec::NONE, Route::Local,
        function_dump, "scripting", "7.0.0", "Dumps all libraries into a serialized binary payload."),
    command!("function|restore", -3, WRITE_NOSCRIPT.with(Flags::DENYOOM), SCRIPTING_WRITE, KeySpec::NONE, Route::Local,
        function_restore, "scripting", "7.0.0", "Restores all libraries from a payload."),
    command!("function|stats", 2, Flags::NOSCRIPT, SCRIPTING, KeySpec::NONE, Route::Local,
        function_stats, "scripting", "7.0.0", "Returns information about a function during execution."),
    command!("function|kill", 2, Flags::NOSCRIPT, SCRIPTING, KeySpec::NONE, Route::Local,
        function_kill, "scripting", "7.0.0", "Terminates a function during execution."),
    command!("function|help", 2, Flags::LOADING.with(Flags::STALE), SCRIPTING, KeySpec::NONE, Route::Local,
        function_container, "scripting", "7.0.0", "Returns helpful text about the different subcommands."),
];

/// The scripting family.
#[rustfmt::skip]
pub static COMMANDS: &[CommandSpec] = &[
    command!("fcall", -3, Flags::NOSCRIPT.with(Flags::STALE), SCRIPTING, KeySpec::counted(2),
        Route::Keys(KeyRouting::SameCore), fcall, "scripting", "7.0.0", "Invokes a function."),
    command!("fcall_ro", -3, Flags::NOSCRIPT.with(Flags::STALE).with(Flags::READONLY), SCRIPTING, KeySpec::counted(2),
        Route::Keys(KeyRouting::SameCore), fcall_ro, "scripting", "7.0.0", "Invokes a read-only function."),
    command!("function", -2, Flags::NONE, SCRIPTING, KeySpec::NONE, Route::Local, function_container,
        "scripting", "7.0.0", "A container for function commands.", subcommands: FUNCTION_SUBCOMMANDS),
];

const FUNCTION_HELP: &[&str] = &[
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries.",
    "FCALL <FUNCTION NAME> <NUMKEYS> <KEY1> .. <KEYN> <ARG1> .. <ARGN>",
    "    Call a function. (FCALL is a command of its own, as in Redis.)",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "STATS",
    "    Return information about the current function running.",
    "KILL",
    "    Kill the current running function (of your tenant, on another core).",
    "DUMP",
    "    Return a serialized payload representing the current libraries.",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload.",
];

/// The function limits of the calling tenant: its own budgets where its
/// settings give them, the server's `function-*` settings elsewhere.
fn function_limits(ctx: &Ctx<'_>) -> kiln_functions::Limits {
    let defaults = ctx.shared.settings.functions.limits;
    ctx.shared.tenants.limits(ctx.tenant).functions(defaults)
}

/// The share of this core the calling tenant's functions may use:
/// operators get the whole core, tenants the `function-cpu-share`
/// setting.
fn cpu_share(ctx: &Ctx<'_>) -> kiln_functions::CpuShare {
    if ctx.is_operator() {
        kiln_functions::CpuShare::WHOLE_CORE
    } else {
        ctx.shared.settings.functions.cpu_share
    }
}

/// The name of the tenant a command acts as: the session's user, or for a
/// command forwarded from another core, the tenant its job carries.
fn tenant(ctx: &Ctx<'_>) -> String {
    ctx.session
        .as_ref()
        .map_or_else(|| ctx.shared.tenants.name(ctx.tenant), |s| s.user.clone())
}

/// Runs `f` on the function runtime; an error when a storage function is
/// the caller (functions do not nest).
fn with_runtime(
    ctx: &mut Ctx<'_>,
    f: impl FnOnce(&mut kiln_functions::Runtime, &str) -> Reply,
) -> Reply {
    let tenant = tenant(ctx);
    match ctx.functions.as_deref_mut() {
        Some(runtime) => f(runtime, &tenant),
        None => NOT_ALLOWED,
    }
}

fn function_container(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    help_or_unknown(args, "FUNCTION", FUNCTION_HELP)
}

fn function_load(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let mut replace = false;
    let mut at = 2;
    while at < args.len() - 1 {
        let option = args.get(at);
        if !option.eq_ignore_ascii_case(b"replace") {
            return Reply::error_owned(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(option)
            ));
        }
        replace = true;
        at += 1;
    }
    let (limits, share) = (function_limits(ctx), cpu_share(ctx));
    let code = args.get(args.len() - 1);
    with_runtime(ctx, |runtime, tenant| {
        runtime.load(tenant, limits, share, code, replace)
    })
}

fn function_delete(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let name = args.get(2);
    with_runtime(ctx, |runtime, tenant| runtime.delete(tenant, name))
}

fn function_flush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    if args.len() > 3 {
        return errors::SYNTAX;
    }
    if args.len() == 3
        && !(args.get(2).eq_ignore_ascii_case(b"sync")
            || args.get(2).eq_ignore_ascii_case(b"async"))
    {
        return Reply::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    }
    with_runtime(ctx, |runtime, tenant| runtime.flush(tenant))
}

fn function_list(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let (mut with_code, mut pattern) = (false, None);
    let mut at = 2;
    while at < args.len() {
        let arg = args.get(at);
        if !with_code && arg.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && arg.eq_ignore_ascii_case(b"libraryname") {
            if at + 1 >= args.len() {
                return Reply::error("ERR library name argument was not given");
            }
            at += 1;
            pattern = Some(args.get(at));
        } else {
            return errors::SYNTAX;
        }
        at += 1;
    }
    with_runtime(ctx, |runtime, tenant| {
        runtime.list(tenant, pattern, with_code)
    })
}

fn function_dump(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    with_runtime(ctx, |runtime, tenant| runtime.dump(tenant))
}

fn function_restore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    if args.len() > 4 {
        return errors::SYNTAX;
    }
    let policy = match args.iter().nth(3) {
        None => RestorePolicy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"append") => RestorePolicy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"replace") => RestorePolicy::Replace,
        Some(p) if p.eq_ignore_ascii_case(b"flush") => RestorePolicy::Flush,
        Some(_) => {
            return Reply::error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            );
        }
    };
    let (limits, share) = (function_limits(ctx), cpu_share(ctx));
    let payload = args.get(2);
    with_runtime(ctx, |runtime, tenant| {
        runtime.restore(tenant, limits, share, payload, policy)
    })
}

fn function_stats(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    with_runtime(ctx, |runtime, tenant| runtime.stats(tenant))
}

fn function_kill(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    with_runtime(ctx, |runtime, tenant| runtime.kill(tenant))
}

fn fcall(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    call(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    call(ctx, args, true)
}

/// `FCALL[_RO] function numkeys key... arg...` on the core owning the keys.
fn call(ctx: &mut Ctx<'_>, args: Args<'_>, read_only: bool) -> Reply {
    let tenant = tenant(ctx);
    let libraries = ctx.shared.functions.tenant(&tenant);
    let Some(name) = std::str::from_utf8(args.get(1))
        .ok()
        .filter(|n| libraries.functions.contains_key(*n))
    else {
        return Reply::error("ERR Function not found");
    };
    let Some(numkeys) = kiln_store::numeric::parse_i64(args.get(2)) else {
        return Reply::error("ERR Bad number of keys provided");
    };
    if numkeys > args.len() as i64 - 3 {
        return Reply::error("ERR Number of keys can't be greater than number of args");
    }
    let Ok(numkeys) = usize::try_from(numkeys) else {
        return Reply::error("ERR Number of keys can't be negative");
    };
    let parts: SmallVec<[&[u8]; 8]> = args.iter().skip(3).collect();
    let (keys, rest) = parts.split_at(numkeys);
    let (limits, share) = (function_limits(ctx), cpu_share(ctx));
    let Some(runtime) = ctx.functions.as_deref_mut() else {
        return NOT_ALLOWED;
    };
    let mut host = ShardHost {
        published: ctx.shard.used_memory(),
        shard: &mut *ctx.shard,
        shared: ctx.shared,
        stats: &mut *ctx.stats,
        core: ctx.core,
        tenant: ctx.tenant,
        read_only,
    };
    // The engine publishes the memory this call changed (see `Engine::exec`).
    let call = Call {
        tenant: &tenant,
        libraries: &libraries,
        limits,
        share,
        function: name,
        keys,
        args: rest,
        options: CallOptions { read_only },
    };
    runtime.call(call, &mut host)
}

/// The host API over this core's shard for one call.
pub struct ShardHost<'a> {
    shard: &'a mut Shard,
    shared: &'a Shared,
    stats: &'a mut CoreStats,
    core: usize,
    tenant: TenantId,
    read_only: bool,
    /// The shard's memory as last published (see [`ShardHost::publish`]).
    published: usize,
}

/// Accounted bytes of the longest integer `kiln.incr` can store.
const INTEGER_BYTES: usize = 20;

/// The error a function gets for a key another core owns.
const NOT_LOCAL: Reply = Reply::error(
    "CROSSSLOT Function accessed a key owned by another core; keep a function's keys together with a hash tag",
);
/// A write from a function called with `FCALL_RO`.
const READ_ONLY: Reply = Reply::error("ERR Write commands are not allowed from read-only scripts.");
/// A command functions may not run (or, for FCALL and FUNCTION, nest).
const NOT_ALLOWED: Reply = Reply::error("ERR This command is not allowed from storage functions");

impl ShardHost<'_> {
    /// Whether this core owns `key`.
    fn local(&self, key: &[u8]) -> Result<(), Reply> {
        if self.shared.slots.owner_of(key) == self.core {
            Ok(())
        } else {
            Err(NOT_LOCAL)
        }
    }

    /// Whether the call may write. `growth`: what a write that may grow
    /// memory would add (`None` for one that cannot, such as a delete); it
    /// is refused with `-OOM` unless it fits the tenant's quotas and the
    /// server's `maxmemory` ([`Shared::admits`]).
    fn may_write(&self, growth: Option<Growth>) -> Result<(), Reply> {
        if self.read_only {
            return Err(READ_ONLY);
        }
        if let Some(growth) = growth
            && !self.shared.admits(self.tenant, growth)
        {
            let usage = self.shared.tenants.usage(self.core, self.tenant);
            Usage::bump(&usage.rejected);
            return Err(errors::OOM);
        }
        Ok(())
    }

    /// [`ShardHost::local`] and [`ShardHost::may_write`] for a host call
    /// writing `key`; `value_bytes`: the bytes it stores there (`None`: it
    /// frees memory). A write that may grow memory counts the key and
    /// value bytes, and one key (with its entry) if the key is absent.
    fn writable(&mut self, key: &[u8], value_bytes: Option<usize>) -> Result<(), HostError> {
        self.local(key).map_err(host_error)?;
        let growth = value_bytes.map(|bytes| self.key_growth(key, bytes));
        self.may_write(growth).map_err(host_error)
    }

    /// What storing `value_bytes` under `key` may add.
    fn key_growth(&mut self, key: &[u8], value_bytes: usize) -> Growth {
        let growth = Growth::default().bytes(key.len() + value_bytes);
        if self.shard.peek_record(key).is_some() {
            growth
        } else {
            growth.new_key(ENTRY_OVERHEAD)
        }
    }

    /// Makes the call's writes so far visible to the next check, in this
    /// call and on the other cores: this core's figures for the tenant and
    /// its memory gauge. (The engine publishes the exact figures again when
    /// the call returns.)
    fn publish(&mut self) {
        let memory = self.shard.used_memory();
        if memory == self.published {
            return;
        }
        let usage = self.shared.tenants.usage(self.core, self.tenant);
        usage.publish(memory, self.shard.len());
        Usage::shift(
            &self.shared.memory[self.core],
            self.published as u64,
            memory as u64,
        );
        self.published = memory;
    }

    /// Checks a `kiln.call` command against what functions may run. A
    /// `DENYOOM` command may add the bytes of its arguments, and one key
    /// for each of its keys that does not exist yet.
    fn admit(&mut self, spec: &CommandSpec, args: Args<'_>) -> Result<(), Reply> {
        if !spec.arity_ok(args.len()) {
            return Err(wrong_arity(spec));
        }
        let keyed = matches!(spec.route, Route::Keys(_));
        if !keyed || spec.flags.has(Flags::NOSCRIPT) || spec.flags.has(Flags::ADMIN) {
            return Err(NOT_ALLOWED);
        }
        // The tenant's command rules hold inside its functions too (as
        // Redis checks ACLs inside scripts): a read-only user's function
        // cannot write.
        let tenants = &self.shared.tenants;
        if !tenants.may_run(self.tenant, spec, args) {
            return Err(super::no_permission(&tenants.name(self.tenant), spec));
        }
        for key in spec.keys.positions_in(args) {
            self.local(args.get(key))?;
        }
        if !spec.flags.has(Flags::WRITE) {
            return Ok(());
        }
        let growth = spec.flags.has(Flags::DENYOOM).then(|| {
            let bytes = args.iter().skip(1).map(<[u8]>::len).sum();
            spec.keys
                .positions_in(args)
                .filter(|&at| self.shard.peek_record(args.get(at)).is_none())
                .fold(Growth::default().bytes(bytes), |g, _| {
                    g.new_key(ENTRY_OVERHEAD)
                })
        });
        self.may_write(growth)
    }
}

/// A host error carrying an error reply's text.
fn host_error(reply: Reply) -> HostError {
    match reply {
        Reply::Error(text) => HostError::new(text),
        other => HostError::new(format!("ERR unexpected reply {other:?}")),
    }
}

fn store_error(error: StoreError) -> HostError {
    HostError::new(error.to_string())
}

impl Host for ShardHost<'_> {
    fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, HostError> {
        self.local(key).map_err(host_error)?;
        self.shard.get_shared(key).map_err(store_error)
    }

    fn put(&mut self, key: &[u8], value: Bytes, ttl_ms: Option<u64>) -> Result<(), HostError> {
        self.writable(key, Some(value.len()))?;
        let mut options = SetOptions::default();
        if let Some(ms) = ttl_ms {
            options.expire = kiln_store::SetExpire::At(self.shard.now().saturating_add(ms));
        }
        let result = self.shard.set(key, value, options);
        self.publish();
        result.map(drop).map_err(store_error)
    }

    fn del(&mut self, key: &[u8]) -> Result<bool, HostError> {
        // Deleting frees memory: allowed over the quota, as DEL is.
        self.writable(key, None)?;
        let deleted = self.shard.del(key);
        self.publish();
        Ok(deleted)
    }

    fn exists(&mut self, key: &[u8]) -> Result<bool, HostError> {
        self.local(key).map_err(host_error)?;
        Ok(self.shard.exists(key))
    }

    fn incr(&mut self, key: &[u8], delta: i64) -> Result<i64, HostError> {
        self.writable(key, Some(INTEGER_BYTES))?;
        let result = self.shard.incr_by(key, delta);
        self.publish();
        result.map_err(store_error)
    }

    fn call(&mut self, parts: &[Bytes]) -> Reply {
        let owned = OwnedArgs::new(parts.iter().map(|p| p.as_ref()));
        let args = owned.args();
        let spec = match lookup(args) {
            Lookup::Found(spec) => spec,
            Lookup::Unknown(reply) => return reply,
        };
        if let Err(reply) = self.admit(spec, args) {
            return reply;
        }
        let mut ctx = Ctx {
            shard: &mut *self.shard,
            tenant: self.tenant,
            others: None,
            shared: self.shared,
            core: self.core,
            session: None,
            stats: &mut *self.stats,
            clients: None,
            functions: None,
        };
        // A panic must not unwind into V8's frames: answer an error instead.
        let reply = std::panic::catch_unwind(AssertUnwindSafe(|| (spec.run)(&mut ctx, args)))
            .unwrap_or_else(|_| {
                tracing::error!(
                    command = spec.name,
                    "command panicked inside a storage function"
                );
                Reply::error_owned(format!("ERR internal error in '{}' (logged)", spec.name))
            });
        self.publish();
        reply
    }
}

#[cfg(test)]
mod tests;
