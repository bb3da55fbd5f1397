//! `SLOWLOG GET [count]`, `LEN`, `RESET`, `HELP`: each core answers from
//! its own log ([`crate::slowlog`]), scoped to the caller's tenant unless
//! it is an operator; the parts are merged newest first.

use kiln_net::{Args, Reply};

use super::plan::{Finishing, Output, all_ok, sum_integers};
use super::{CommandSpec, Ctx, Flags, KeySpec, Route, help_or_unknown};
use crate::command;
use crate::slowlog::SlowLog;
use crate::tenant::TenantId;

const ACL: &[&str] = &["@admin", "@slow", "@dangerous"];
const FLAGS: Flags = Flags::ADMIN.with(Flags::LOADING).with(Flags::STALE);

/// `SLOWLOG GET` without a count: Redis's default.
const DEFAULT_COUNT: usize = 10;

// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    command!("slowlog|get", -2, FLAGS, ACL, KeySpec::NONE, Route::AllCores(merge_entries), get,
        "server", "2.2.12", "Returns the slow log's entries."),
    command!("slowlog|len", 2, FLAGS, ACL, KeySpec::NONE, Route::AllCores(sum_integers), len,
        "server", "2.2.12", "Returns the number of entries in the slow log."),
    command!("slowlog|reset", 2, FLAGS, ACL, KeySpec::NONE, Route::AllCores(all_ok), reset,
        "server", "2.2.12", "Clears all entries from the slow log."),
    command!("slowlog|help", 2, Flags::LOADING.with(Flags::STALE), &["@slow"], KeySpec::NONE, Route::Local, container,
        "server", "6.2.0", "Show helpful text about the different subcommands"),
];

/// This family's commands.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("slowlog", -2, Flags::NONE, &["@slow"], KeySpec::NONE, Route::Local, container,
        "server", "2.2.12", "A container for slow log commands.", subcommands: SUBCOMMANDS),
];

const HELP: &[&str] = &[
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
];

fn container(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    help_or_unknown(args, "SLOWLOG", HELP)
}

/// The entries the caller may see: its tenant's, an operator everyone's.
fn scope(ctx: &Ctx<'_>) -> Option<TenantId> {
    (!ctx.is_operator()).then_some(ctx.tenant)
}

fn with_log<R>(ctx: &Ctx<'_>, f: impl FnOnce(&mut SlowLog) -> R) -> R {
    f(&mut ctx.shared.slowlogs[ctx.core]
        .lock()
        .unwrap_or_else(|e| e.into_inner()))
}

/// How many entries `SLOWLOG GET` asks for (`None`: all).
fn count(args: Args<'_>) -> Result<Option<usize>, Reply> {
    let Some(word) = args.try_get(2) else {
        return Ok(Some(DEFAULT_COUNT));
    };
    if args.len() > 3 {
        return Err(Reply::error_owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
            String::from_utf8_lossy(args.get(1))
        )));
    }
    match kiln_store::numeric::parse_i64(word) {
        Some(-1) => Ok(None),
        Some(n) if n >= 0 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
        // A word that is no number gets the same error, as in Redis.
        _ => Err(Reply::error(
            "ERR count should be greater than or equal to -1",
        )),
    }
}

fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let count = match count(args) {
        Ok(count) => count,
        Err(reply) => return reply,
    };
    let scope = scope(ctx);
    with_log(ctx, |log| {
        let entries = log.entries(scope).take(count.unwrap_or(usize::MAX));
        Reply::Array(entries.map(|e| e.reply()).collect())
    })
}

fn len(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    let scope = scope(ctx);
    with_log(ctx, |log| Reply::Integer(log.entries(scope).count() as i64))
}

fn reset(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    let scope = scope(ctx);
    with_log(ctx, |log| log.reset(scope));
    Reply::OK
}

/// The cores' entries, newest (highest id) first, at most the count asked.
fn merge_entries(f: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    let count = match count(f.args.args()) {
        Ok(count) => count,
        Err(reply) => return reply,
    };
    let mut all = Vec::new();
    for out in outputs {
        match out.into_reply() {
            Reply::Array(entries) => all.extend(entries),
            err @ Reply::Error(_) => return err,
            _ => return Reply::error("ERR internal: expected slow log entries"),
        }
    }
    let id = |entry: &Reply| match entry {
        Reply::Array(fields) => match fields.first() {
            Some(Reply::Integer(id)) => *id,
            _ => 0,
        },
        _ => 0,
    };
    all.sort_by_key(|entry| std::cmp::Reverse(id(entry)));
    all.truncate(count.unwrap_or(usize::MAX));
    Reply::Array(all)
}
