//! Keyspace iteration: KEYS, RANDOMKEY, SCAN.
//!
//! ```text
//! SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
//! ```
//!
//! On the main port SCAN walks the cores one after another. Its cursor packs
//! the core into the low [`CORE_BITS`] bits and that core's own cursor above
//! them:
//!
//! ```text
//!   cursor = (per_core_cursor << 10) | core        (0 = core 0, from the start)
//!   core k says "done" (0)  →  next cursor = k + 1, or 0 after the last core
//! ```
//!
//! On a core port (a cluster node) the cursor is that core's own, unchanged.

use kiln_net::{Args, OwnedArgs, Reply};
use rand::Rng;

use super::{CommandSpec, Ctx, Flags, KeySpec, Route, errors, int_arg};
use crate::command;
use crate::commands::plan::{self as fanout, Finish, Finishing, Job, Output, Plan, Planning};
use kiln_net::transport::PortKind;

/// Low bits of a main-port cursor that name the core (so at most 1024 cores).
pub const CORE_BITS: u32 = 10;
const CORE_MASK: u64 = (1 << CORE_BITS) - 1;
/// SCAN's COUNT when none is given.
const DEFAULT_COUNT: usize = 10;

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("keys", 2, Flags::READONLY, &["@keyspace", "@read", "@slow", "@dangerous"], KeySpec::NONE,
        Route::AllCores(fanout::concat_arrays), keys,
        "generic", "1.0.0", "Returns all key names that match a pattern."),
    command!("randomkey", 1, Flags::READONLY, &["@keyspace", "@read", "@slow"], KeySpec::NONE,
        Route::AllCores(pick_random), randomkey,
        "generic", "1.0.0", "Returns a random key name from the database."),
    command!("scan", -2, Flags::READONLY, &["@keyspace", "@read", "@slow"], KeySpec::NONE,
        Route::Planned(scan_plan), scan,
        "generic", "2.8.0", "Iterates over the key names in the database."),
];

fn keys(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    Reply::Array(
        ctx.shard
            .keys(args.get(1))
            .into_iter()
            .map(Reply::Bulk)
            .collect(),
    )
}

fn randomkey(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::bulk_or_nil(ctx.shard.random_key())
}

/// Combine for RANDOMKEY: one of the cores' keys, each non-empty core equally
/// likely (so not uniform over keys when cores hold different numbers).
fn pick_random(_: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    let mut found = Vec::new();
    for out in outputs {
        match out.into_reply() {
            Reply::Nil => {}
            err @ Reply::Error(_) => return err,
            key => found.push(key),
        }
    }
    if found.is_empty() {
        return Reply::Nil;
    }
    let i = rand::rng().random_range(0..found.len());
    found.swap_remove(i)
}

/// SCAN's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScanArgs<'a> {
    cursor: u64,
    count: usize,
    pattern: Option<&'a [u8]>,
    type_name: Option<&'a [u8]>,
}

/// An unsigned decimal cursor (Redis's `string2ull`), or `ERR invalid cursor`.
fn parse_cursor(arg: &[u8]) -> Result<u64, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(Reply::error("ERR invalid cursor"))
}

/// Redis's `scanGenericCommand` parsing: the cursor first, then MATCH, COUNT
/// (at least 1) and TYPE, later ones winning; anything else is a syntax error.
fn parse_scan(args: Args<'_>) -> Result<ScanArgs<'_>, Reply> {
    let mut scan = ScanArgs {
        cursor: parse_cursor(args.get(1))?,
        count: DEFAULT_COUNT,
        pattern: None,
        type_name: None,
    };
    let mut i = 2;
    while i < args.len() {
        let (opt, value) = (args.get(i), args.try_get(i + 1).ok_or(errors::SYNTAX)?);
        if opt.eq_ignore_ascii_case(b"count") {
            let n = int_arg(value)?;
            scan.count = usize::try_from(n)
                .ok()
                .filter(|&n| n >= 1)
                .ok_or(errors::SYNTAX)?;
        } else if opt.eq_ignore_ascii_case(b"match") {
            scan.pattern = Some(value);
        } else if opt.eq_ignore_ascii_case(b"type") {
            scan.type_name = Some(value);
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    Ok(scan)
}

/// Per-core SCAN: `[cursor, [keys...]]` over this core's shard.
fn scan(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let s = match parse_scan(args) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    let (next, keys) = ctx.shard.scan(s.cursor, s.count, s.pattern, s.type_name);
    scan_reply(next, keys.into_iter().map(Reply::Bulk).collect())
}

fn scan_reply(cursor: u64, keys: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::bulk_from(cursor.to_string()),
        Reply::Array(keys),
    ])
}

/// A main-port cursor as `(core, per-core cursor)`.
fn decode_cursor(cursor: u64) -> (usize, u64) {
    ((cursor & CORE_MASK) as usize, cursor >> CORE_BITS)
}

/// The main-port cursor after core `core` of `cores` answered `next`.
fn encode_next(core: usize, next: u64, cores: usize) -> u64 {
    match next {
        0 if core + 1 < cores => (core + 1) as u64,
        0 => 0,
        // A per-core cursor too large to shift would lose bits; the store's
        // cursors are slot numbers, far below 2^54.
        n => (n << CORE_BITS) | core as u64,
    }
}

/// Plans a SCAN step: one core, chosen by the cursor on the main port, this
/// core with the cursor as given on a core port.
fn scan_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    let s = parse_scan(args)?;
    if p.port_kind == PortKind::Core {
        return Ok(Plan::single(
            p.core,
            Job::Command(p.spec, args.to_owned_args()),
        ));
    }
    let (core, cursor) = decode_cursor(s.cursor);
    if core >= p.shared.cores() {
        return Err(scan_reply(0, Vec::new()));
    }
    Ok(core_step(p.spec, core, cursor, args, Vec::new()))
}

/// Scans `core` from its own `cursor` with the request's options; `found`
/// (keys from cores already finished in this call) rides along.
fn core_step(
    spec: &'static super::CommandSpec,
    core: usize,
    cursor: u64,
    args: Args<'_>,
    found: Vec<Reply>,
) -> Plan {
    let mut job = OwnedArgs::new([args.get(0), cursor.to_string().as_bytes()]);
    for arg in args.iter().skip(2) {
        job.push(arg);
    }
    let mut plan = Plan::new(
        [(core, Job::Command(spec, job))],
        Finish::Continue(scan_step),
    );
    plan.carry = vec![Output::Reply(Reply::Array(found))];
    plan
}

/// After one core's page: re-encode its cursor, or, when that core is done
/// and the page is short of COUNT, go on to the next core in the same call
/// (so an empty keyspace answers `0` at once, as Redis does).
fn scan_step(f: &Finishing<'_>, mut outputs: Vec<Output>) -> Result<Plan, Reply> {
    let (Some(&core), Some(out)) = (f.part_cores.first(), outputs.pop()) else {
        return Err(Reply::error("ERR internal: SCAN step without a part"));
    };
    let mut found = match outputs.pop().map(Output::into_reply) {
        Some(Reply::Array(keys)) => keys,
        _ => Vec::new(),
    };
    let (next, keys) = parse_page(out.into_reply())?;
    found.extend(keys);
    let count = parse_scan(f.args.args()).map_or(DEFAULT_COUNT, |s| s.count);
    let cores = f.shared.cores();
    if next == 0 && core + 1 < cores && found.len() < count {
        return Ok(core_step(f.spec, core + 1, 0, f.args.args(), found));
    }
    Err(scan_reply(encode_next(core, next, cores), found))
}

/// One core's `[cursor, [keys]]` reply, or the error it carried.
fn parse_page(reply: Reply) -> Result<(u64, Vec<Reply>), Reply> {
    let Reply::Array(parts) = reply else {
        return Err(if reply.is_error() {
            reply
        } else {
            Reply::error("ERR internal: malformed SCAN part")
        });
    };
    match <[Reply; 2]>::try_from(parts) {
        Ok([Reply::Bulk(cursor), Reply::Array(keys)]) => std::str::from_utf8(&cursor)
            .ok()
            .and_then(|c| c.parse::<u64>().ok())
            .map(|next| (next, keys))
            .ok_or(Reply::error("ERR internal: malformed SCAN part")),
        _ => Err(Reply::error("ERR internal: malformed SCAN part")),
    }
}

#[cfg(test)]
mod tests;
