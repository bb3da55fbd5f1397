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

use kiln_functions::{Call, CallOptions, RestorePolicy};
use kiln_net::{Args, Reply};
use smallvec::SmallVec;

use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, help_or_unknown};
use crate::command;
use crate::tenant::TenantId;
use host::NOT_ALLOWED;

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
    command!("fcall", -3, Flags::NOSCRIPT.with(Flags::STALE).with(Flags::MAY_REPLICATE), SCRIPTING, KeySpec::counted(2),
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

/// Runs `f` on the function runtime as the calling tenant (the session's,
/// or for a command forwarded from another core, the one its job
/// carries); an error when a storage function is the caller (functions do
/// not nest).
fn with_runtime(
    ctx: &mut Ctx<'_>,
    f: impl FnOnce(&mut kiln_functions::FunctionRuntime, TenantId) -> Reply,
) -> Reply {
    let tenant = ctx.tenant;
    match ctx.functions.as_deref_mut() {
        Some(runtime) => f(runtime, tenant),
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
    let reply = with_runtime(ctx, |runtime, tenant| {
        runtime.load(tenant, limits, share, code, replace)
    });
    note_triggers(ctx, reply)
}

/// Notes whether the caller's libraries register key triggers, after a
/// `FUNCTION` command that changed them; returns `reply`.
fn note_triggers(ctx: &mut Ctx<'_>, reply: Reply) -> Reply {
    let on = ctx.shared.functions.tenant(ctx.tenant).has_triggers();
    ctx.shared.tenants.set_triggers(ctx.tenant, on);
    reply
}

fn function_delete(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let name = args.get(2);
    let reply = with_runtime(ctx, |runtime, tenant| runtime.delete(tenant, name));
    note_triggers(ctx, reply)
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
    let reply = with_runtime(ctx, |runtime, tenant| runtime.flush(tenant));
    note_triggers(ctx, reply)
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
    let reply = with_runtime(ctx, |runtime, tenant| {
        runtime.restore(tenant, limits, share, payload, policy)
    });
    note_triggers(ctx, reply)
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
    let libraries = ctx.shared.functions.tenant(ctx.tenant);
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
    run_function(ctx, &libraries, name, keys, rest, read_only)
}

/// The internal command that runs a key trigger: `trigger <function> <key>
/// <event>`. It is not in the command table, so no client can send it;
/// the engine runs it as a job on the key's core (see
/// `engine::triggers`).
#[rustfmt::skip]
pub static TRIGGER: CommandSpec = command!("trigger", 4, Flags::NOSCRIPT, SCRIPTING, KeySpec::range(2, 2, 1),
    Route::Keys(KeyRouting::SameCore), trigger, "scripting", "7.0.0", "Runs a key trigger.");

/// Runs a trigger's function as `fn(key, event)`, writes allowed.
fn trigger(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let libraries = ctx.shared.functions.tenant(ctx.tenant);
    let Ok(name) = std::str::from_utf8(args.get(1)) else {
        return Reply::error("ERR Function not found");
    };
    run_function(ctx, &libraries, name, &[args.get(2)], &[args.get(3)], false)
}

/// Runs function `name` of `libraries` in the caller's isolate on this
/// core, with this core's shard as its store.
fn run_function(
    ctx: &mut Ctx<'_>,
    libraries: &kiln_functions::TenantLibraries,
    name: &str,
    keys: &[&[u8]],
    rest: &[&[u8]],
    read_only: bool,
) -> Reply {
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
        last_spec: None,
        journal: ctx.journal.as_deref_mut(),
    };
    // The engine publishes the memory this call changed (see `Engine::exec`).
    let call = Call {
        tenant: ctx.tenant,
        libraries,
        limits,
        share,
        function: name,
        keys,
        args: rest,
        options: CallOptions { read_only },
    };
    let started = std::time::Instant::now();
    let reply = runtime.call(call, &mut host);
    let nanos = started.elapsed().as_nanos() as u64;
    if let Some(library) = libraries.library_of(name) {
        let killed = match &reply {
            Reply::Error(text) => Killed::from_error(text),
            _ => None,
        };
        let cap = ctx.shared.settings.metrics_function_labels;
        ctx.stats
            .commands
            .function_called(ctx.tenant, (&library.name, name), nanos, killed, cap);
    }
    reply
}

mod host;

use crate::metrics::accounting::Killed;

pub use host::ShardHost;

#[cfg(test)]
mod tests;
