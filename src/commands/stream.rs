//! Stream commands: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD,
//! XREADGROUP, XGROUP (CREATE, CREATECONSUMER, DELCONSUMER, DESTROY, SETID,
//! HELP), XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO (STREAM, GROUPS,
//! CONSUMERS, HELP), XSETID.
//!
//! ```text
//! XADD key [NOMKSTREAM] [MAXLEN | MINID [= | ~] threshold [LIMIT count]] * | id field value [field value ...]
//! XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
//! XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]
//! ```
//!
//! XREAD and XREADGROUP with BLOCK wait as the blocking pops do
//! ([`super::blocking`]): on the core owning their streams (which must
//! share one core), woken by an XADD from any client of the tenant. `$` is
//! resolved to the stream's last ID when the read blocks, so the parked
//! request waits for entries after it. XREAD returns a map in RESP3, and
//! the XINFO replies are maps.
//!
//! A non-blocking XREAD of streams on several cores (the main port) reads
//! one part per core and joins the parts in the order the streams were
//! named, as MGET does; like MGET's, the parts are not one instant.
//! XREADGROUP's streams must share a core: its parts would each move
//! entries into a group's pending list, and one part's NOGROUP could not
//! undo another's delivery.

use bytes::Bytes;
use kiln_net::{Args, Reply};
use kiln_store::{
    ClaimOptions, GroupStart, IdSpec, ReadGroupStart, StreamError, StreamId, Trim, TrimKind,
    XAddOptions,
};

use super::plan::{Finish, Finishing, Job, Output, Plan, Planning};
use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, store_error};
use crate::command;
use kiln_net::OwnedArgs;
use smallvec::SmallVec;

const READ: &[&str] = &["@read", "@stream", "@slow"];
const READ_FAST: &[&str] = &["@read", "@stream", "@fast"];
const WRITE: &[&str] = &["@write", "@stream", "@slow"];
const WRITE_FAST: &[&str] = &["@write", "@stream", "@fast"];
const BLOCK_READ: &[&str] = &["@read", "@stream", "@slow", "@blocking"];
const BLOCK_WRITE: &[&str] = &["@write", "@stream", "@slow", "@blocking"];
const ONE_CORE: Route = Route::Keys(KeyRouting::SameCore);
const GATHERED: Route = Route::Keys(KeyRouting::Planned(xread_plan));
const K1: KeySpec = KeySpec::FIRST;
const K2: KeySpec = KeySpec::range(2, 2, 1);
const GROWS: Flags = Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST);

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("xadd", -5, GROWS, WRITE_FAST, K1, ONE_CORE, xadd,
        "stream", "5.0.0", "Appends a new message to a stream. Creates the key if it doesn't exist."),
    command!("xrange", -4, Flags::READONLY, READ, K1, ONE_CORE, xrange,
        "stream", "5.0.0", "Returns the messages from a stream within a range of IDs."),
    command!("xrevrange", -4, Flags::READONLY, READ, K1, ONE_CORE, xrevrange,
        "stream", "5.0.0", "Returns the messages from a stream within a range of IDs in reverse order."),
    command!("xlen", 2, Flags::READONLY.with(Flags::FAST), READ_FAST, K1, ONE_CORE, xlen,
        "stream", "5.0.0", "Return the number of messages in a stream."),
    command!("xdel", -3, Flags::WRITE.with(Flags::FAST), WRITE_FAST, K1, ONE_CORE, xdel,
        "stream", "5.0.0", "Returns the number of messages after removing them from a stream."),
    command!("xtrim", -4, Flags::WRITE, WRITE, K1, ONE_CORE, xtrim,
        "stream", "5.0.0", "Deletes messages from the beginning of a stream."),
    command!("xread", -4, Flags::READONLY.with(Flags::BLOCKING), BLOCK_READ, KeySpec::STREAMS, GATHERED, xread,
        "stream", "5.0.0", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise."),
    command!("xreadgroup", -7, Flags::WRITE.with(Flags::BLOCKING), BLOCK_WRITE, KeySpec::STREAMS, ONE_CORE, xreadgroup,
        "stream", "5.0.0", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise."),
    command!("xack", -4, Flags::WRITE.with(Flags::FAST), WRITE_FAST, K1, ONE_CORE, xack,
        "stream", "5.0.0", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream."),
    command!("xpending", -3, Flags::READONLY, READ, K1, ONE_CORE, xpending,
        "stream", "5.0.0", "Returns the information and entries from a stream consumer group's pending entries list."),
    command!("xclaim", -6, Flags::WRITE.with(Flags::FAST), WRITE_FAST, K1, ONE_CORE, xclaim,
        "stream", "5.0.0", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member."),
    command!("xautoclaim", -6, Flags::WRITE.with(Flags::FAST), WRITE_FAST, K1, ONE_CORE, xautoclaim,
        "stream", "6.2.0", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member."),
    command!("xsetid", -3, Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST), WRITE_FAST, K1, ONE_CORE, xsetid,
        "stream", "5.0.0", "An internal command for replicating stream values."),
    command!("xgroup", -2, Flags::NONE, &["@slow"], KeySpec::NONE, Route::Local, container,
        "stream", "5.0.0", "A container for consumer groups commands.", subcommands: XGROUP),
    command!("xinfo", -2, Flags::NONE, &["@slow"], KeySpec::NONE, Route::Local, container,
        "stream", "5.0.0", "A container for stream introspection commands.", subcommands: XINFO),
];

// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
const XGROUP: &[CommandSpec] = &[
    command!("xgroup|create", -5, Flags::WRITE.with(Flags::DENYOOM), WRITE, K2, ONE_CORE, xgroup_create,
        "stream", "5.0.0", "Creates a consumer group."),
    command!("xgroup|createconsumer", 5, Flags::WRITE.with(Flags::DENYOOM), WRITE, K2, ONE_CORE, xgroup_createconsumer,
        "stream", "6.2.0", "Creates a consumer in a consumer group."),
    command!("xgroup|delconsumer", 5, Flags::WRITE, WRITE, K2, ONE_CORE, xgroup_delconsumer,
        "stream", "5.0.0", "Deletes a consumer from a consumer group."),
    command!("xgroup|destroy", 4, Flags::WRITE, WRITE, K2, ONE_CORE, xgroup_destroy,
        "stream", "5.0.0", "Destroys a consumer group."),
    command!("xgroup|setid", -5, Flags::WRITE, WRITE, K2, ONE_CORE, xgroup_setid,
        "stream", "5.0.0", "Sets the last-delivered ID of a consumer group."),
    command!("xgroup|help", 2, Flags::LOADING.with(Flags::STALE), &["@stream", "@slow"], KeySpec::NONE, Route::Local, xgroup_help,
        "stream", "5.0.0", "Returns helpful text about the different subcommands."),
];

// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
const XINFO: &[CommandSpec] = &[
    command!("xinfo|stream", -3, Flags::READONLY, READ, K2, ONE_CORE, xinfo_stream,
        "stream", "5.0.0", "Returns information about a stream."),
    command!("xinfo|groups", 3, Flags::READONLY, READ, K2, ONE_CORE, xinfo_groups,
        "stream", "5.0.0", "Returns a list of the consumer groups of a stream."),
    command!("xinfo|consumers", 4, Flags::READONLY, READ, K2, ONE_CORE, xinfo_consumers,
        "stream", "5.0.0", "Returns a list of the consumers in a consumer group."),
    command!("xinfo|help", 2, Flags::LOADING.with(Flags::STALE), &["@stream", "@slow"], KeySpec::NONE, Route::Local, xinfo_help,
        "stream", "5.0.0", "Returns helpful text about the different subcommands."),
];

/// `COMMAND DOCS` argument syntax of this family.
pub const SYNTAX: &[(&str, &str)] = &[
    (
        "xadd",
        "key [NOMKSTREAM] [MAXLEN | MINID [= | ~] threshold [LIMIT count]] * | id field value [field value ...]",
    ),
    ("xrange", "key start end [COUNT count]"),
    ("xrevrange", "key end start [COUNT count]"),
    ("xlen", "key"),
    ("xdel", "key id [id ...]"),
    (
        "xtrim",
        "key MAXLEN | MINID [= | ~] threshold [LIMIT count]",
    ),
    (
        "xread",
        "[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]",
    ),
    (
        "xreadgroup",
        "GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]",
    ),
    ("xack", "key group id [id ...]"),
    (
        "xpending",
        "key group [[IDLE min-idle-time] start end count [consumer]]",
    ),
    (
        "xclaim",
        "key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]",
    ),
    (
        "xautoclaim",
        "key group consumer min-idle-time start [COUNT count] [JUSTID]",
    ),
    (
        "xsetid",
        "key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]",
    ),
    ("xgroup", ""),
    (
        "xgroup|create",
        "key group id | $ [MKSTREAM] [ENTRIESREAD entries-read]",
    ),
    ("xgroup|createconsumer", "key group consumer"),
    ("xgroup|delconsumer", "key group consumer"),
    ("xgroup|destroy", "key group"),
    (
        "xgroup|setid",
        "key group id | $ [ENTRIESREAD entries-read]",
    ),
    ("xgroup|help", ""),
    ("xinfo", ""),
    ("xinfo|stream", "key [FULL [COUNT count]]"),
    ("xinfo|groups", "key"),
    ("xinfo|consumers", "key group"),
    ("xinfo|help", ""),
];

const INVALID_ID: Reply =
    Reply::error("ERR Invalid stream ID specified as stream command argument");

fn stream_error(e: StreamError) -> Reply {
    match e {
        StreamError::Store(e) => store_error(e),
        StreamError::Reply(text) => Reply::error_owned(text),
    }
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(Bytes::from(id.to_string()))
}

/// A strict ID (`-` and `+` refused): `ms[-seq]`, a missing seq `0`.
fn strict_id(arg: &[u8]) -> Result<StreamId, Reply> {
    StreamId::parse(arg, 0).ok_or(INVALID_ID)
}

/// An interval bound: `-`, `+`, `(id` (exclusive), `ms[-seq]` with the
/// missing seq `missing`.
fn bound(arg: &[u8], missing: u64, start: bool) -> Result<StreamId, Reply> {
    match arg {
        b"-" => return Ok(StreamId::MIN),
        b"+" => return Ok(StreamId::MAX),
        _ => {}
    }
    if let Some(rest) = arg.strip_prefix(b"(") {
        let id = StreamId::parse(rest, missing).ok_or(INVALID_ID)?;
        return if start {
            id.next()
                .ok_or(Reply::error("ERR invalid start ID for the interval"))
        } else {
            id.prev()
                .ok_or(Reply::error("ERR invalid end ID for the interval"))
        };
    }
    StreamId::parse(arg, missing).ok_or(INVALID_ID)
}

fn entry_reply((id, fields): (StreamId, Vec<(Bytes, Bytes)>)) -> Reply {
    Reply::Array(vec![
        id_reply(id),
        Reply::Array(
            fields
                .into_iter()
                .flat_map(|(f, v)| [Reply::Bulk(f), Reply::Bulk(v)])
                .collect(),
        ),
    ])
}

fn maybe_entry_reply((id, fields): (StreamId, Option<Vec<(Bytes, Bytes)>>)) -> Reply {
    match fields {
        Some(f) => entry_reply((id, f)),
        None => Reply::Array(vec![id_reply(id), Reply::NilArray]),
    }
}

/// A non-negative integer option, or `ERR value is not an integer...`.
fn u64_arg(arg: &[u8]) -> Result<i64, Reply> {
    super::int_arg(arg)
}

/// Parses a trim clause at `args[*i]` (MAXLEN / MINID); `None` when the
/// argument is something else.
fn parse_trim(
    args: Args<'_>,
    i: &mut usize,
    trim: &mut Option<Trim>,
    limit: &mut Option<i64>,
) -> Result<bool, Reply> {
    let word = args.get(*i);
    let maxlen = word.eq_ignore_ascii_case(b"maxlen");
    let minid = word.eq_ignore_ascii_case(b"minid");
    if word.eq_ignore_ascii_case(b"limit") && *i + 1 < args.len() {
        let n = u64_arg(args.get(*i + 1))?;
        if n < 0 {
            return Err(Reply::error("ERR The LIMIT argument must be >= 0."));
        }
        *limit = Some(n);
        *i += 2;
        return Ok(true);
    }
    if !(maxlen || minid) || *i + 1 >= args.len() {
        return Ok(false);
    }
    if trim.is_some() {
        return Err(Reply::error(
            "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
        ));
    }
    let mut at = *i + 1;
    let mut approx = false;
    match args.get(at) {
        b"~" if at + 1 < args.len() => {
            approx = true;
            at += 1;
        }
        b"=" if at + 1 < args.len() => at += 1,
        _ => {}
    }
    let kind = if maxlen {
        let n = u64_arg(args.get(at))?;
        if n < 0 {
            return Err(Reply::error("ERR The MAXLEN argument must be >= 0."));
        }
        TrimKind::MaxLen(n as u64)
    } else {
        TrimKind::MinId(strict_id(args.get(at))?)
    };
    *trim = Some(Trim {
        kind,
        approx,
        limit: 0,
    });
    *i = at + 1;
    Ok(true)
}

/// The trim's LIMIT rules, after every option was read.
fn finish_trim(trim: &mut Option<Trim>, limit: Option<i64>) -> Result<(), Reply> {
    match (trim.as_mut(), limit) {
        (None, Some(_)) => Err(Reply::error(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        )),
        (Some(t), Some(_)) if !t.approx => Err(Reply::error(
            "ERR syntax error, LIMIT cannot be used without the special ~ option",
        )),
        (Some(t), Some(n)) => {
            t.limit = n as u64;
            Ok(())
        }
        (Some(t), None) if t.approx => {
            // Redis's default: 100 times stream-node-max-entries.
            t.limit = 100 * kiln_store::stream_block_entries() as u64;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Where XADD's ID argument is (after its options), if the options parse.
pub fn xadd_id_at(args: Args<'_>) -> Option<usize> {
    let mut i = 2;
    let (mut trim, mut limit) = (None, None);
    while i < args.len() {
        if args.get(i).eq_ignore_ascii_case(b"nomkstream") {
            i += 1;
            continue;
        }
        match parse_trim(args, &mut i, &mut trim, &mut limit) {
            Ok(true) => continue,
            Ok(false) => break,
            Err(_) => return None,
        }
    }
    (i < args.len()).then_some(i)
}

fn xadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let mut i = 2;
    let mut nomkstream = false;
    let mut trim = None;
    let mut limit = None;
    while i < args.len() {
        if args.get(i).eq_ignore_ascii_case(b"nomkstream") {
            nomkstream = true;
            i += 1;
            continue;
        }
        match parse_trim(args, &mut i, &mut trim, &mut limit) {
            Ok(true) => continue,
            Ok(false) => break,
            Err(e) => return e,
        }
    }
    if let Err(e) = finish_trim(&mut trim, limit) {
        return e;
    }
    if i >= args.len() {
        return super::wrong_arity(spec("xadd"));
    }
    let id_arg = args.get(i);
    let id = if id_arg == b"*" {
        IdSpec::Auto
    } else if let Some(ms) = id_arg.strip_suffix(b"-*") {
        match StreamId::parse(ms, 0) {
            Some(id) if !ms.contains(&b'-') => IdSpec::Ms(id.ms),
            _ => return INVALID_ID,
        }
    } else {
        match strict_id(id_arg) {
            Ok(id) => IdSpec::Exact(id),
            Err(e) => return e,
        }
    };
    let rest = args.len() - i - 1;
    if rest < 2 || rest % 2 == 1 {
        return super::wrong_arity(spec("xadd"));
    }
    let fields: Vec<(&[u8], &[u8])> = (i + 1..args.len())
        .step_by(2)
        .map(|j| (args.get(j), args.get(j + 1)))
        .collect();
    let options = XAddOptions {
        nomkstream,
        id,
        trim,
    };
    match ctx.shard.xadd(args.get(1), options, &fields) {
        Ok(Some((id, trimmed))) => {
            ctx.notify(kiln_store::class::STREAM, "xadd", args.get(1));
            if trimmed > 0 {
                ctx.notify(kiln_store::class::STREAM, "xtrim", args.get(1));
            }
            id_reply(id)
        }
        Ok(None) => Reply::Nil,
        Err(e) => stream_error(e),
    }
}

fn spec(name: &str) -> &'static CommandSpec {
    COMMANDS
        .iter()
        .find(|c| c.name == name)
        .expect("a command of this family")
}

fn range(ctx: &mut Ctx<'_>, args: Args<'_>, rev: bool) -> Reply {
    let (a, b) = (args.get(2), args.get(3));
    let (start_arg, end_arg) = if rev { (b, a) } else { (a, b) };
    let start = match bound(start_arg, 0, true) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let end = match bound(end_arg, u64::MAX, false) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut count = 0usize;
    match args.len() {
        4 => {}
        6 if args.get(4).eq_ignore_ascii_case(b"count") => match super::int_arg(args.get(5)) {
            // Redis answers a null array for COUNT 0 or below.
            Ok(n) if n <= 0 => return Reply::NilArray,
            Ok(n) => count = n as usize,
            Err(e) => return e,
        },
        _ => return errors::SYNTAX,
    }
    // A negative COUNT is no limit in Redis (`count < 0` means all).
    match ctx.shard.xrange(args.get(1), start, end, count, rev) {
        Ok(entries) => Reply::Array(entries.into_iter().map(entry_reply).collect()),
        Err(e) => store_error(e),
    }
}

fn xrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    range(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    range(ctx, args, true)
}

fn xlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match ctx.shard.xlen(args.get(1)) {
        Ok(n) => Reply::Integer(n as i64),
        Err(e) => store_error(e),
    }
}

fn ids_from(args: Args<'_>, from: usize) -> Result<Vec<StreamId>, Reply> {
    (from..args.len()).map(|i| strict_id(args.get(i))).collect()
}

fn xdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let ids = match ids_from(args, 2) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    match ctx.shard.xdel(args.get(1), &ids) {
        Ok(n) => {
            if n > 0 {
                ctx.notify(kiln_store::class::STREAM, "xdel", args.get(1));
            }
            Reply::Integer(n as i64)
        }
        Err(e) => store_error(e),
    }
}

fn xtrim(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let mut i = 2;
    let mut trim = None;
    let mut limit = None;
    while i < args.len() {
        match parse_trim(args, &mut i, &mut trim, &mut limit) {
            Ok(true) => {}
            Ok(false) => return errors::SYNTAX,
            Err(e) => return e,
        }
    }
    if trim.is_none() && limit.is_none() {
        return Reply::error("ERR syntax error, XTRIM must be called with a trimming strategy");
    }
    if let Err(e) = finish_trim(&mut trim, limit) {
        return e;
    }
    let Some(trim) = trim else {
        return errors::SYNTAX;
    };
    match ctx.shard.xtrim(args.get(1), trim) {
        Ok(n) => {
            if n > 0 {
                ctx.notify(kiln_store::class::STREAM, "xtrim", args.get(1));
            }
            Reply::Integer(n as i64)
        }
        Err(e) => store_error(e),
    }
}

/// XREAD / XREADGROUP's options.
struct ReadArgs<'a> {
    count: usize,
    block: Option<super::blocking::Timeout>,
    group: Option<(&'a [u8], &'a [u8])>,
    noack: bool,
    /// Index of the first key.
    keys_at: usize,
    streams: usize,
}

fn parse_read(args: Args<'_>, group_cmd: bool) -> Result<ReadArgs<'_>, Reply> {
    let mut out = ReadArgs {
        count: 0,
        block: None,
        group: None,
        noack: false,
        keys_at: 0,
        streams: 0,
    };
    let name = if group_cmd { "xreadgroup" } else { "xread" };
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - i - 1;
        let o = args.get(i);
        if o.eq_ignore_ascii_case(b"block") && more > 0 {
            let ms = super::int_arg(args.get(i + 1))
                .map_err(|_| Reply::error("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return Err(Reply::error("ERR timeout is negative"));
            }
            out.block = Some((ms > 0).then(|| std::time::Duration::from_millis(ms as u64)));
            i += 2;
        } else if o.eq_ignore_ascii_case(b"count") && more > 0 {
            let n = super::int_arg(args.get(i + 1))?;
            out.count = n.max(0) as usize;
            i += 2;
        } else if o.eq_ignore_ascii_case(b"streams") && more > 0 {
            let rest = args.len() - i - 1;
            if !rest.is_multiple_of(2) {
                // Redis 7.2's words (7.0 names XREAD for both commands).
                let symbol = if group_cmd { '>' } else { '$' };
                return Err(Reply::error_owned(format!(
                    "ERR Unbalanced '{name}' list of streams: for each stream key an ID or '{symbol}' must be specified."
                )));
            }
            out.keys_at = i + 1;
            out.streams = rest / 2;
            break;
        } else if o.eq_ignore_ascii_case(b"group") && more >= 2 {
            if !group_cmd {
                return Err(Reply::error(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.group = Some((args.get(i + 1), args.get(i + 2)));
            i += 3;
        } else if o.eq_ignore_ascii_case(b"noack") {
            if !group_cmd {
                return Err(Reply::error(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            out.noack = true;
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    if out.keys_at == 0 {
        return Err(errors::SYNTAX);
    }
    if group_cmd && out.group.is_none() {
        return Err(Reply::error("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(out)
}

/// `[[key, entries], ...]`, a map in RESP3.
fn read_reply(found: Vec<(Bytes, Reply)>) -> Reply {
    if found.is_empty() {
        return Reply::NilArray;
    }
    Reply::KeyedArrays(
        found
            .into_iter()
            .map(|(k, v)| (Reply::Bulk(k), v))
            .collect(),
    )
}

/// A blocked XREADGROUP whose stream was deleted (or replaced by another
/// type) while it waited.
const STREAM_GONE: Reply = Reply::error("UNBLOCKED the stream key no longer exists");
/// A blocked XREADGROUP whose group was destroyed while it waited.
const GROUP_GONE: Reply =
    Reply::error("NOGROUP the consumer group this client was blocked on no longer exists");

/// XREAD given `>`, which only XREADGROUP takes.
const GREATER_IN_XREAD: Reply = Reply::error(
    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
);

fn xread(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let read = match parse_read(args, false) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let mut ids = Vec::with_capacity(read.streams.min(1024));
    let mut dollar = false;
    for n in 0..read.streams {
        let key = args.get(read.keys_at + n);
        let arg = args.get(read.keys_at + read.streams + n);
        let id = match arg {
            b"$" => {
                dollar = true;
                match ctx.shard.xlast_id(key) {
                    Ok(id) => id,
                    Err(e) => return store_error(e),
                }
            }
            b">" => return GREATER_IN_XREAD,
            _ => match strict_id(arg) {
                Ok(id) => id,
                Err(e) => return e,
            },
        };
        ids.push(id);
    }
    let mut found = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let key = args.get(read.keys_at + n);
        match ctx.shard.xread(key, *id, read.count) {
            Ok(Some(entries)) if !entries.is_empty() => found.push((
                Bytes::copy_from_slice(key),
                Reply::Array(entries.into_iter().map(entry_reply).collect()),
            )),
            Ok(_) => {}
            Err(e) => return store_error(e),
        }
    }
    if found.is_empty()
        && let Some(timeout) = read.block
    {
        if dollar {
            // Wait for entries after the IDs `$` stood for now.
            let mut rewritten: Vec<Bytes> = args.iter().map(Bytes::copy_from_slice).collect();
            for (n, id) in ids.iter().enumerate() {
                rewritten[read.keys_at + read.streams + n] = Bytes::from(id.to_string());
            }
            ctx.block_args = Some(rewritten);
        }
        return ctx.block(timeout, Reply::NilArray);
    }
    read_reply(found)
}

/// XREAD of streams on several cores: one `XREAD [COUNT n] STREAMS` per
/// core over its streams and their IDs, joined by [`xread_join`]. The
/// options and every ID are checked here first, so a malformed request
/// fails whole, whichever core would have seen the bad ID. A blocking
/// read waits on one core: BLOCK across cores stays `-CROSSSLOT`.
fn xread_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    let read = parse_read(args, false)?;
    if read.block.is_some() {
        return Err(errors::CROSSSLOT);
    }
    let ids_at = read.keys_at + read.streams;
    for n in 0..read.streams {
        match args.get(ids_at + n) {
            b"$" => {}
            b">" => return Err(GREATER_IN_XREAD),
            id => {
                strict_id(id)?;
            }
        }
    }
    let mut parts: Vec<(usize, SmallVec<[usize; 4]>)> = Vec::new();
    for n in 0..read.streams {
        let core = p.shared.slots.owner_of(args.get(read.keys_at + n));
        match parts.iter_mut().find(|(c, _)| *c == core) {
            Some((_, streams)) => streams.push(n),
            None => parts.push((core, SmallVec::from_slice(&[n]))),
        }
    }
    let jobs = parts.iter().map(|(core, streams)| {
        let mut part = OwnedArgs::new((0..read.keys_at).map(|i| args.get(i)));
        for &n in streams {
            part.push(args.get(read.keys_at + n));
        }
        for &n in streams {
            part.push(args.get(ids_at + n));
        }
        (*core, Job::Command(p.spec, part))
    });
    let mut plan = Plan::new(jobs, Finish::Combine(xread_join));
    plan.part_keys = parts.into_iter().map(|(_, streams)| streams).collect();
    Ok(plan)
}

/// Joins the parts of a cross-core XREAD: each part answers its streams
/// that have entries, in its order, so a stream's place is found by name
/// among the part's streams. The first error wins; no entries anywhere is
/// the null array, as one core answers.
fn xread_join(f: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    let args = f.args.args();
    let Ok(read) = parse_read(args, false) else {
        return Reply::error("ERR internal: cross-core XREAD lost its options");
    };
    let mut found: Vec<Option<(Reply, Reply)>> = (0..read.streams).map(|_| None).collect();
    for (part, out) in outputs.into_iter().enumerate() {
        let pairs = match out.into_reply() {
            Reply::NilArray => continue,
            Reply::KeyedArrays(pairs) => pairs,
            err @ Reply::Error(_) => return err,
            _ => return Reply::error("ERR internal: expected an XREAD part"),
        };
        let mut streams = f.part_keys[part].iter();
        for (key, entries) in pairs {
            let Reply::Bulk(name) = &key else {
                return Reply::error("ERR internal: expected a stream name");
            };
            let Some(&n) = streams.find(|&&n| args.get(read.keys_at + n) == &name[..]) else {
                return Reply::error("ERR internal: an XREAD part named another stream");
            };
            found[n] = Some((key, entries));
        }
    }
    let found: Vec<(Reply, Reply)> = found.into_iter().flatten().collect();
    if found.is_empty() {
        Reply::NilArray
    } else {
        Reply::KeyedArrays(found)
    }
}

fn xreadgroup(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let read = match parse_read(args, true) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let (group, consumer) = read.group.expect("checked");
    let mut starts = Vec::with_capacity(read.streams.min(1024));
    for n in 0..read.streams {
        let key = args.get(read.keys_at + n);
        // The key and group are checked before the IDs, as Redis does.
        // A blocked read run again after its stream or group went away
        // says so (Redis 7 answers its blocked readers these), rather
        // than waiting on for entries that cannot come.
        match ctx.shard.stream(key) {
            Ok(Some(s)) if s.groups().contains_key(group) => {}
            Ok(Some(_)) if ctx.woken => return GROUP_GONE,
            Ok(None) | Err(_) if ctx.woken => return STREAM_GONE,
            Ok(_) => {
                return stream_error(kiln_store::stream_no_group(
                    key,
                    group,
                    " in XREADGROUP with GROUP option",
                ));
            }
            Err(e) => return store_error(e),
        }
        let arg = args.get(read.keys_at + read.streams + n);
        let start = match arg {
            b">" => ReadGroupStart::New,
            b"$" | b"+" => {
                return Reply::error_owned(format!(
                    "ERR The {} ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The {} ID would just return an empty result set.",
                    char::from(arg[0]),
                    char::from(arg[0])
                ));
            }
            _ => match strict_id(arg) {
                Ok(id) => ReadGroupStart::History(id),
                Err(e) => return e,
            },
        };
        starts.push(start);
    }
    let mut found = Vec::new();
    for (n, start) in starts.iter().enumerate() {
        let key = args.get(read.keys_at + n);
        match ctx
            .shard
            .xreadgroup(key, group, consumer, *start, read.count, read.noack)
        {
            Ok(Some(entries)) => found.push((
                Bytes::copy_from_slice(key),
                Reply::Array(entries.into_iter().map(maybe_entry_reply).collect()),
            )),
            Ok(None) => {}
            Err(e) => return stream_error(e),
        }
    }
    if found.is_empty()
        && let Some(timeout) = read.block
    {
        return ctx.block(timeout, Reply::NilArray);
    }
    read_reply(found)
}

fn xack(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let ids = match ids_from(args, 3) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    match ctx.shard.xack(args.get(1), args.get(2), &ids) {
        Ok(n) => Reply::Integer(n as i64),
        Err(e) => store_error(e),
    }
}

fn xpending(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let (key, group) = (args.get(1), args.get(2));
    if args.len() == 3 {
        return match ctx.shard.xpending_summary(key, group) {
            Ok(s) => match s.bounds {
                None => Reply::Array(vec![
                    Reply::Integer(0),
                    Reply::Nil,
                    Reply::Nil,
                    Reply::NilArray,
                ]),
                Some((lo, hi)) => Reply::Array(vec![
                    Reply::Integer(s.count as i64),
                    id_reply(lo),
                    id_reply(hi),
                    Reply::Array(
                        s.consumers
                            .into_iter()
                            .map(|(name, n)| {
                                Reply::Array(vec![
                                    Reply::Bulk(name),
                                    Reply::Bulk(Bytes::from(n.to_string())),
                                ])
                            })
                            .collect(),
                    ),
                ]),
            },
            Err(e) => stream_error(e),
        };
    }
    let mut i = 3;
    let mut min_idle = None;
    if args.get(i).eq_ignore_ascii_case(b"idle") && args.len() >= 8 {
        match super::int_arg(args.get(i + 1)) {
            Ok(n) => min_idle = Some(n.max(0) as u64),
            Err(e) => return e,
        }
        i += 2;
    }
    if args.len() < i + 3 || args.len() > i + 4 {
        return errors::SYNTAX;
    }
    let count = match super::int_arg(args.get(i + 2)) {
        Ok(n) => n.max(0) as usize,
        Err(e) => return e,
    };
    let start = match bound(args.get(i), 0, true) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let end = match bound(args.get(i + 1), u64::MAX, false) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let consumer = args.try_get(i + 3);
    match ctx
        .shard
        .xpending(key, group, min_idle, start, end, count, consumer)
    {
        Ok(rows) => Reply::Array(
            rows.into_iter()
                .map(|(id, consumer, idle, n)| {
                    Reply::Array(vec![
                        id_reply(id),
                        Reply::Bulk(consumer),
                        Reply::Integer(idle as i64),
                        Reply::Integer(n as i64),
                    ])
                })
                .collect(),
        ),
        Err(e) => stream_error(e),
    }
}

type Delivered = Vec<(StreamId, Option<Vec<(Bytes, Bytes)>>)>;

fn claimed_reply(entries: Delivered, justid: bool) -> Reply {
    Reply::Array(
        entries
            .into_iter()
            .map(|(id, fields)| match (justid, fields) {
                (false, Some(f)) => entry_reply((id, f)),
                _ => id_reply(id),
            })
            .collect(),
    )
}

fn xclaim(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let (key, group, consumer) = (args.get(1), args.get(2), args.get(3));
    match ctx.shard.stream(key) {
        Ok(Some(s)) if s.groups().contains_key(group) => {}
        Ok(_) => return stream_error(kiln_store::stream_no_group(key, group, "")),
        Err(e) => return store_error(e),
    }
    let min_idle = match super::int_arg(args.get(4)) {
        Ok(n) => n.max(0) as u64,
        Err(_) => return Reply::error("ERR Invalid min-idle-time argument for XCLAIM"),
    };
    let mut j = 5;
    let mut ids = Vec::new();
    while j < args.len() {
        match StreamId::parse(args.get(j), 0) {
            Some(id) => ids.push(id),
            None => break,
        }
        j += 1;
    }
    let now = ctx.shard.now() as i64;
    let mut options = ClaimOptions::default();
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args.get(j);
        let int = |at: usize, what: &str| {
            super::int_arg(args.get(at)).map_err(|_| {
                Reply::error_owned(format!("ERR Invalid {what} option argument for XCLAIM"))
            })
        };
        if opt.eq_ignore_ascii_case(b"force") {
            options.force = true;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            options.justid = true;
        } else if opt.eq_ignore_ascii_case(b"idle") && more > 0 {
            j += 1;
            match int(j, "IDLE") {
                Ok(ms) => options.delivery_time = Some(now.saturating_sub(ms)),
                Err(e) => return e,
            }
        } else if opt.eq_ignore_ascii_case(b"time") && more > 0 {
            j += 1;
            match int(j, "TIME") {
                Ok(t) => options.delivery_time = Some(t),
                Err(e) => return e,
            }
        } else if opt.eq_ignore_ascii_case(b"retrycount") && more > 0 {
            j += 1;
            match int(j, "RETRYCOUNT") {
                Ok(n) => options.retry_count = Some(n.max(0) as u64),
                Err(e) => return e,
            }
        } else if opt.eq_ignore_ascii_case(b"lastid") && more > 0 {
            j += 1;
            match strict_id(args.get(j)) {
                Ok(id) => options.last_id = Some(id),
                Err(e) => return e,
            }
        } else {
            return Reply::error_owned(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            ));
        }
        j += 1;
    }
    match ctx
        .shard
        .xclaim(key, group, consumer, min_idle, &ids, options)
    {
        Ok(entries) => claimed_reply(entries, options.justid),
        Err(e) => stream_error(e),
    }
}

fn xautoclaim(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let (key, group, consumer) = (args.get(1), args.get(2), args.get(3));
    let min_idle = match super::int_arg(args.get(4)) {
        Ok(n) => n.max(0) as u64,
        Err(_) => return Reply::error("ERR Invalid min-idle-time argument for XAUTOCLAIM"),
    };
    let start = match bound(args.get(5), 0, true) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut count = 100usize;
    let mut justid = false;
    let mut j = 6;
    // Redis's bound: LONG_MAX / max(sizeof(streamID), attempts factor).
    let max_count = i64::MAX / 16;
    while j < args.len() {
        let opt = args.get(j);
        if opt.eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            match super::int_arg(args.get(j + 1)) {
                Ok(n) if (1..=max_count).contains(&n) => count = n as usize,
                _ => return Reply::error("ERR COUNT must be > 0"),
            }
            j += 2;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            justid = true;
            j += 1;
        } else {
            return errors::SYNTAX;
        }
    }
    match ctx
        .shard
        .xautoclaim(key, group, consumer, min_idle, start, count, justid)
    {
        Ok((cursor, claimed, deleted)) => Reply::Array(vec![
            id_reply(cursor),
            claimed_reply(claimed, justid),
            Reply::Array(deleted.into_iter().map(id_reply).collect()),
        ]),
        Err(e) => stream_error(e),
    }
}

fn xsetid(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let id = match strict_id(args.get(2)) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut entries_added = None;
    let mut max_deleted = None;
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"entriesadded") && i + 1 < args.len() {
            match super::int_arg(args.get(i + 1)) {
                Ok(n) if n >= 0 => entries_added = Some(n as u64),
                Ok(_) => return Reply::error("ERR entries_added must be positive"),
                Err(e) => return e,
            }
        } else if opt.eq_ignore_ascii_case(b"maxdeletedid") && i + 1 < args.len() {
            match strict_id(args.get(i + 1)) {
                Ok(md) => max_deleted = Some(md),
                Err(e) => return e,
            }
        } else {
            return errors::SYNTAX;
        }
        i += 2;
    }
    match ctx
        .shard
        .xsetid(args.get(1), id, entries_added, max_deleted)
    {
        Ok(()) => {
            ctx.notify(kiln_store::class::STREAM, "xsetid", args.get(1));
            Reply::OK
        }
        Err(e) => stream_error(e),
    }
}

fn container(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let name = String::from_utf8_lossy(args.get(0)).to_ascii_uppercase();
    let help = if name == "XGROUP" {
        XGROUP_HELP
    } else {
        XINFO_HELP
    };
    super::help_or_unknown(args, &name, help)
}

fn xgroup_help(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    container(ctx, args)
}

fn xinfo_help(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    container(ctx, args)
}

const XGROUP_HELP: &[&str] = &[
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
];

const XINFO_HELP: &[&str] = &[
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
];

/// `<id|$>` and `[MKSTREAM] [ENTRIESREAD n]` of CREATE / SETID.
fn group_start(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    create: bool,
) -> Result<(GroupStart, bool, Option<u64>), Reply> {
    let start = if args.get(4) == b"$" {
        GroupStart::Last
    } else {
        GroupStart::Id(strict_id(args.get(4))?)
    };
    let mut mkstream = false;
    let mut entries_read = None;
    let mut i = 5;
    while i < args.len() {
        let opt = args.get(i);
        if create && opt.eq_ignore_ascii_case(b"mkstream") {
            mkstream = true;
            i += 1;
        } else if opt.eq_ignore_ascii_case(b"entriesread") && i + 1 < args.len() {
            let n = super::int_arg(args.get(i + 1))?;
            if n < -1 {
                return Err(Reply::error(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            entries_read = (n >= 0).then_some(n as u64);
            i += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let _ = ctx;
    Ok((start, mkstream, entries_read))
}

fn xgroup_create(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let (start, mkstream, entries_read) = match group_start(ctx, args, true) {
        Ok(p) => p,
        Err(e) => return e,
    };
    match ctx
        .shard
        .xgroup_create(args.get(2), args.get(3), start, mkstream, entries_read)
    {
        Ok(()) => {
            ctx.notify(kiln_store::class::STREAM, "xgroup-create", args.get(2));
            Reply::OK
        }
        Err(e) => stream_error(e),
    }
}

fn xgroup_setid(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let (start, _, entries_read) = match group_start(ctx, args, false) {
        Ok(p) => p,
        Err(e) => return e,
    };
    match ctx
        .shard
        .xgroup_setid(args.get(2), args.get(3), start, entries_read)
    {
        Ok(()) => {
            ctx.notify(kiln_store::class::STREAM, "xgroup-setid", args.get(2));
            Reply::OK
        }
        Err(e) => stream_error(e),
    }
}

fn xgroup_destroy(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match ctx.shard.xgroup_destroy(args.get(2), args.get(3)) {
        Ok(gone) => {
            if gone {
                ctx.notify(kiln_store::class::STREAM, "xgroup-destroy", args.get(2));
            }
            Reply::Integer(i64::from(gone))
        }
        Err(e) => stream_error(e),
    }
}

fn xgroup_createconsumer(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match ctx
        .shard
        .xgroup_createconsumer(args.get(2), args.get(3), args.get(4))
    {
        Ok(new) => {
            if new {
                ctx.notify(
                    kiln_store::class::STREAM,
                    "xgroup-createconsumer",
                    args.get(2),
                );
            }
            Reply::Integer(i64::from(new))
        }
        Err(e) => stream_error(e),
    }
}

fn xgroup_delconsumer(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match ctx
        .shard
        .xgroup_delconsumer(args.get(2), args.get(3), args.get(4))
    {
        Ok(n) => {
            ctx.notify(kiln_store::class::STREAM, "xgroup-delconsumer", args.get(2));
            Reply::Integer(n as i64)
        }
        Err(e) => stream_error(e),
    }
}

fn field(name: &'static str, value: Reply) -> (Reply, Reply) {
    (Reply::bulk_from(name), value)
}

fn opt_int(n: Option<u64>) -> Reply {
    n.map_or(Reply::Nil, |n| Reply::Integer(n as i64))
}

fn xinfo_stream(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let full = match args.len() {
        3 => None,
        4 if args.get(3).eq_ignore_ascii_case(b"full") => Some(10),
        6 if args.get(3).eq_ignore_ascii_case(b"full")
            && args.get(4).eq_ignore_ascii_case(b"count") =>
        {
            match super::int_arg(args.get(5)) {
                Ok(n) => Some(n.max(0) as usize),
                Err(e) => return e,
            }
        }
        _ => return errors::SYNTAX,
    };
    let now = ctx.shard.now();
    let info = match ctx.shard.xinfo_stream(args.get(2), full) {
        Ok(i) => i,
        Err(e) => return stream_error(e),
    };
    let mut map = vec![
        field("length", Reply::Integer(info.length as i64)),
        field("radix-tree-keys", Reply::Integer(info.blocks as i64)),
        field("radix-tree-nodes", Reply::Integer((info.blocks + 1) as i64)),
        field("last-generated-id", id_reply(info.last_id)),
        field("max-deleted-entry-id", id_reply(info.max_deleted)),
        field("entries-added", Reply::Integer(info.entries_added as i64)),
        field("recorded-first-entry-id", id_reply(info.recorded_first)),
    ];
    let entry = |e: Option<kiln_store::StreamEntry>| e.map_or(Reply::Nil, entry_reply);
    if full.is_none() {
        map.push(field("groups", Reply::Integer(info.groups as i64)));
        map.push(field("first-entry", entry(info.first)));
        map.push(field("last-entry", entry(info.last)));
        return Reply::Map(map);
    }
    map.push(field(
        "entries",
        Reply::Array(info.entries.into_iter().map(entry_reply).collect()),
    ));
    let limit = full.unwrap_or(0);
    let take = |n: usize| if limit == 0 { n } else { n.min(limit) };
    let groups = info
        .full_groups
        .into_iter()
        .map(|(name, g, lag)| {
            let pel = g
                .pel
                .iter()
                .take(take(g.pel.len()))
                .map(|(id, p)| {
                    Reply::Array(vec![
                        id_reply(*id),
                        Reply::Bulk(p.consumer.clone()),
                        Reply::Integer(p.delivery_time as i64),
                        Reply::Integer(p.delivery_count as i64),
                    ])
                })
                .collect();
            let consumers = g
                .consumers
                .iter()
                .map(|(cname, c)| {
                    let pending = c
                        .pending
                        .iter()
                        .take(take(c.pending.len()))
                        .filter_map(|id| g.pel.get(id).map(|p| (id, p)))
                        .map(|(id, p)| {
                            Reply::Array(vec![
                                id_reply(*id),
                                Reply::Integer(p.delivery_time as i64),
                                Reply::Integer(p.delivery_count as i64),
                            ])
                        })
                        .collect();
                    Reply::Map(vec![
                        field("name", Reply::Bulk(cname.clone())),
                        field("seen-time", Reply::Integer(c.seen_time as i64)),
                        field(
                            "active-time",
                            Reply::Integer(c.active_time.map_or(-1, |t| t as i64)),
                        ),
                        field("pel-count", Reply::Integer(c.pending.len() as i64)),
                        field("pending", Reply::Array(pending)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                field("name", Reply::Bulk(name)),
                field("last-delivered-id", id_reply(g.last_id)),
                field("entries-read", opt_int(g.entries_read)),
                field("lag", opt_int(lag)),
                field("pel-count", Reply::Integer(g.pel.len() as i64)),
                field("pending", Reply::Array(pel)),
                field("consumers", Reply::Array(consumers)),
            ])
        })
        .collect();
    let _ = now;
    map.push(field("groups", Reply::Array(groups)));
    Reply::Map(map)
}

fn xinfo_groups(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match ctx.shard.xinfo_groups(args.get(2)) {
        Ok(groups) => Reply::Array(
            groups
                .into_iter()
                .map(|g| {
                    Reply::Map(vec![
                        field("name", Reply::Bulk(g.name)),
                        field("consumers", Reply::Integer(g.consumers as i64)),
                        field("pending", Reply::Integer(g.pending as i64)),
                        field("last-delivered-id", id_reply(g.last_delivered)),
                        field("entries-read", opt_int(g.entries_read)),
                        field("lag", opt_int(g.lag)),
                    ])
                })
                .collect(),
        ),
        Err(e) => stream_error(e),
    }
}

fn xinfo_consumers(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match ctx.shard.xinfo_consumers(args.get(2), args.get(3)) {
        Ok(consumers) => Reply::Array(
            consumers
                .into_iter()
                .map(|c| {
                    Reply::Map(vec![
                        field("name", Reply::Bulk(c.name)),
                        field("pending", Reply::Integer(c.pending as i64)),
                        field("idle", Reply::Integer(c.idle as i64)),
                        field(
                            "inactive",
                            Reply::Integer(c.inactive.map_or(-1, |t| t as i64)),
                        ),
                    ])
                })
                .collect(),
        ),
        Err(e) => stream_error(e),
    }
}

/// Logs a stream write as its effects (see [`crate::journal`]); whether it
/// did (otherwise the command is logged as it is).
pub fn log_effects(
    log: &mut kiln_persist::aof::Log,
    shard: &kiln_store::Shard,
    spec: &CommandSpec,
    args: Args<'_>,
    reply: &Reply,
) -> bool {
    let key = args.get(1);
    match spec.name {
        "xadd" => {
            let (Some(at), Reply::Bulk(id)) = (xadd_id_at(args), reply) else {
                return true; // NOMKSTREAM found nothing: nothing to log.
            };
            let mut words: Vec<&[u8]> = vec![b"XADD", key, id];
            words.extend((at + 1..args.len()).map(|i| args.get(i)));
            log.append(&words);
            if at > 2 && (2..at).any(|i| !args.get(i).eq_ignore_ascii_case(b"nomkstream")) {
                log_exact_trim(log, shard, key);
            }
            true
        }
        "xtrim" => {
            log_exact_trim(log, shard, key);
            true
        }
        "xreadgroup" => {
            let Ok(read) = parse_read(args, true) else {
                return true;
            };
            let (group, consumer) = read.group.expect("parsed");
            let Reply::KeyedArrays(found) = reply else {
                // Nothing delivered; the consumer may be new.
                for n in 0..read.streams {
                    let key = args.get(read.keys_at + n);
                    log.append(&[b"XGROUP", b"CREATECONSUMER", key, group, consumer]);
                }
                return true;
            };
            for (k, entries) in found {
                let (Reply::Bulk(k), Reply::Array(entries)) = (k, entries) else {
                    continue;
                };
                log.append(&[b"XGROUP", b"CREATECONSUMER", k, group, consumer]);
                let ids = entries.iter().filter_map(|e| match e {
                    Reply::Array(parts) => match parts.first() {
                        Some(Reply::Bulk(id)) => Some(id.clone()),
                        _ => None,
                    },
                    _ => None,
                });
                log_claims(log, shard, k, group, ids);
                if let Some(s) = stored_stream(shard, k)
                    && let Some(g) = s.groups().get(group)
                {
                    let last = g.last_id.to_string();
                    let read = g
                        .entries_read
                        .map_or_else(|| "-1".to_owned(), |n| n.to_string());
                    log.append(&[
                        b"XGROUP",
                        b"SETID",
                        k,
                        group,
                        last.as_bytes(),
                        b"ENTRIESREAD",
                        read.as_bytes(),
                    ]);
                }
            }
            true
        }
        "xclaim" | "xautoclaim" => {
            let group = args.get(2);
            log.append(&[b"XGROUP", b"CREATECONSUMER", key, group, args.get(3)]);
            let (claimed, deleted) = match (spec.name, reply) {
                ("xclaim", Reply::Array(items)) => (items.as_slice(), &[][..]),
                ("xautoclaim", Reply::Array(parts)) if parts.len() == 3 => {
                    match (&parts[1], &parts[2]) {
                        (Reply::Array(c), Reply::Array(d)) => (c.as_slice(), d.as_slice()),
                        _ => return true,
                    }
                }
                _ => return true,
            };
            let id_of = |r: &Reply| match r {
                Reply::Bulk(id) => Some(id.clone()),
                Reply::Array(parts) => match parts.first() {
                    Some(Reply::Bulk(id)) => Some(id.clone()),
                    _ => None,
                },
                _ => None,
            };
            log_claims(log, shard, key, group, claimed.iter().filter_map(id_of));
            let gone: Vec<Bytes> = deleted.iter().filter_map(id_of).collect();
            if !gone.is_empty() {
                let mut words: Vec<&[u8]> = vec![b"XACK", key, group];
                words.extend(gone.iter().map(|b| &b[..]));
                log.append(&words);
            }
            true
        }
        _ => false,
    }
}

fn stored_stream<'a>(shard: &'a kiln_store::Shard, key: &[u8]) -> Option<&'a kiln_store::Stream> {
    match shard.stored(key).map(|r| &r.value) {
        Some(kiln_store::Value::Stream(s)) => Some(s),
        _ => None,
    }
}

/// An approximate or counted trim, replayed exactly: keep what it kept.
fn log_exact_trim(log: &mut kiln_persist::aof::Log, shard: &kiln_store::Shard, key: &[u8]) {
    if let Some(s) = stored_stream(shard, key) {
        if s.is_empty() {
            log.append(&[b"XTRIM", key, b"MAXLEN", b"0"]);
        } else {
            let first = s.first_id().to_string();
            log.append(&[b"XTRIM", key, b"MINID", first.as_bytes()]);
        }
    }
}

/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID
/// last` for each of `ids` still pending, as it is now.
fn log_claims(
    log: &mut kiln_persist::aof::Log,
    shard: &kiln_store::Shard,
    key: &[u8],
    group: &[u8],
    ids: impl Iterator<Item = Bytes>,
) {
    let Some(s) = stored_stream(shard, key) else {
        return;
    };
    let Some(g) = s.groups().get(group) else {
        return;
    };
    let last = g.last_id.to_string();
    for id in ids {
        let Some(p) = StreamId::parse(&id, 0).and_then(|i| g.pel.get(&i)) else {
            continue;
        };
        kiln_persist::aof::emit_claim(key, group, &id, p, last.as_bytes(), &mut |args| {
            log.append(args)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_read_as_redis() {
        assert_eq!(bound(b"-", 0, true), Ok(StreamId::MIN));
        assert_eq!(bound(b"5", u64::MAX, false), Ok(StreamId::new(5, u64::MAX)));
        assert_eq!(bound(b"(5-1", 0, true), Ok(StreamId::new(5, 2)));
        assert_eq!(
            bound(b"(0-0", 0, false),
            Err(Reply::error("ERR invalid end ID for the interval"))
        );
        assert_eq!(bound(b"x", 0, true), Err(INVALID_ID));
        assert_eq!(strict_id(b"-"), Err(INVALID_ID));
    }

    #[test]
    fn unbalanced_stream_lists_answer_in_redis_7_2_words() {
        let args = kiln_net::OwnedArgs::new([&b"XREAD"[..], b"STREAMS", b"a", b"b", b"0"]);
        assert_eq!(
            parse_read(args.args(), false).err(),
            Some(Reply::error(
                "ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified."
            ))
        );
        let args = kiln_net::OwnedArgs::new([
            &b"XREADGROUP"[..],
            b"GROUP",
            b"g",
            b"c",
            b"STREAMS",
            b"a",
            b"b",
            b">",
        ]);
        assert_eq!(
            parse_read(args.args(), true).err(),
            Some(Reply::error(
                "ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified."
            ))
        );
    }
}
