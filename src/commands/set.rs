//! Set commands: SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP,
//! SRANDMEMBER, SMOVE, SINTER, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF,
//! SDIFFSTORE, SINTERCARD, SSCAN.
//!
//! ```text
//! SPOP key [count]                SRANDMEMBER key [count]
//! SINTERCARD numkeys key [key ...] [LIMIT limit]
//! ```
//!
//! Set-valued replies (SMEMBERS, SINTER..., SPOP with a count) are RESP3
//! sets; SRANDMEMBER, whose negative count repeats members, is an array.
//! The multi-key commands need all their keys on one core: on this phase
//! the main port answers `-CROSSSLOT` when they are not (use a hash tag).

use kiln_net::{Args, Reply};
use kiln_store::{SetOp, Shard};

use super::collection::{
    bulks, element_scan, parse_numkeys, parse_random_count, positive_count, reply,
};
use super::gather;
use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, int_arg};
use crate::command;

const READ_FAST: &[&str] = &["@read", "@set", "@fast"];
const READ_SLOW: &[&str] = &["@read", "@set", "@slow"];
const WRITE_FAST: &[&str] = &["@write", "@set", "@fast"];
const WRITE_SLOW: &[&str] = &["@write", "@set", "@slow"];
const RO_FAST: Flags = Flags::READONLY.with(Flags::FAST);
const WRITE_FAST_FLAGS: Flags = Flags::WRITE.with(Flags::FAST);
const GROWS: Flags = Flags::WRITE.with(Flags::DENYOOM);
const ONE_CORE: Route = Route::Keys(KeyRouting::SameCore);
/// Keys on several cores are gathered on the main port ([`gather`]).
const GATHERED: Route = Route::Keys(KeyRouting::Planned(gather::algebra_plan));
const ALL_KEYS: KeySpec = KeySpec::range(1, -1, 1);

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("sadd", -3, GROWS.with(Flags::FAST), WRITE_FAST, KeySpec::FIRST, ONE_CORE, sadd,
        "set", "1.0.0", "Adds one or more members to a set. Creates the key if it doesn't exist."),
    command!("srem", -3, WRITE_FAST_FLAGS, WRITE_FAST, KeySpec::FIRST, ONE_CORE, srem,
        "set", "1.0.0", "Removes one or more members from a set. Deletes the set if the last member was removed."),
    command!("smembers", 2, Flags::READONLY, READ_SLOW, KeySpec::FIRST, ONE_CORE, smembers,
        "set", "1.0.0", "Returns all members of a set."),
    command!("sismember", 3, RO_FAST, READ_FAST, KeySpec::FIRST, ONE_CORE, sismember,
        "set", "1.0.0", "Determines whether a member belongs to a set."),
    command!("smismember", -3, RO_FAST, READ_FAST, KeySpec::FIRST, ONE_CORE, smismember,
        "set", "6.2.0", "Determines whether multiple members belong to a set."),
    command!("scard", 2, RO_FAST, READ_FAST, KeySpec::FIRST, ONE_CORE, scard,
        "set", "1.0.0", "Returns the number of members in a set."),
    command!("spop", -2, WRITE_FAST_FLAGS, WRITE_FAST, KeySpec::FIRST, ONE_CORE, spop,
        "set", "1.0.0", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped."),
    command!("srandmember", -2, Flags::READONLY, READ_SLOW, KeySpec::FIRST, ONE_CORE, srandmember,
        "set", "1.0.0", "Get one or multiple random members from a set"),
    command!("smove", 4, WRITE_FAST_FLAGS, WRITE_FAST, KeySpec::range(1, 2, 1), Route::Keys(KeyRouting::Planned(gather::smove_plan)), smove,
        "set", "1.0.0", "Moves a member from one set to another."),
    command!("sinter", -2, Flags::READONLY, READ_SLOW, ALL_KEYS, GATHERED, sinter,
        "set", "1.0.0", "Returns the intersect of multiple sets."),
    command!("sinterstore", -3, GROWS, WRITE_SLOW, ALL_KEYS, GATHERED, sinterstore,
        "set", "1.0.0", "Stores the intersect of multiple sets in a key."),
    command!("sunion", -2, Flags::READONLY, READ_SLOW, ALL_KEYS, GATHERED, sunion,
        "set", "1.0.0", "Returns the union of multiple sets."),
    command!("sunionstore", -3, GROWS, WRITE_SLOW, ALL_KEYS, GATHERED, sunionstore,
        "set", "1.0.0", "Stores the union of multiple sets in a key."),
    command!("sdiff", -2, Flags::READONLY, READ_SLOW, ALL_KEYS, GATHERED, sdiff,
        "set", "1.0.0", "Returns the difference of multiple sets."),
    command!("sdiffstore", -3, GROWS, WRITE_SLOW, ALL_KEYS, GATHERED, sdiffstore,
        "set", "1.0.0", "Stores the difference of multiple sets in a key."),
    command!("sintercard", -3, Flags::READONLY, READ_SLOW, KeySpec::counted(1), GATHERED, sintercard,
        "set", "7.0.0", "Returns the number of members of the intersect of multiple sets."),
    command!("sscan", -3, Flags::READONLY, READ_SLOW, KeySpec::FIRST, ONE_CORE, sscan,
        "set", "2.8.0", "Iterates over members of a set."),
];

/// `COMMAND DOCS` argument syntax of this family.
pub const SYNTAX: &[(&str, &str)] = &[
    ("sadd", "key member [member ...]"),
    ("srem", "key member [member ...]"),
    ("smembers", "key"),
    ("sismember", "key member"),
    ("smismember", "key member [member ...]"),
    ("scard", "key"),
    ("spop", "key [count]"),
    ("srandmember", "key [count]"),
    ("smove", "source destination member"),
    ("sinter", "key [key ...]"),
    ("sinterstore", "destination key [key ...]"),
    ("sunion", "key [key ...]"),
    ("sunionstore", "destination key [key ...]"),
    ("sdiff", "key [key ...]"),
    ("sdiffstore", "destination key [key ...]"),
    ("sintercard", "numkeys key [key ...] [LIMIT limit]"),
    ("sscan", "key cursor [MATCH pattern] [COUNT count]"),
];

fn set_reply(members: Vec<bytes::Bytes>) -> Reply {
    Reply::Set(members.into_iter().map(Reply::Bulk).collect())
}

fn from(args: Args<'_>, first: usize) -> Vec<&[u8]> {
    args.iter().skip(first).collect()
}

fn sadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.sadd(args.get(1), &from(args, 2)), |n| {
        Reply::Integer(n as i64)
    })
}

fn srem(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.srem(args.get(1), &from(args, 2)), |n| {
        Reply::Integer(n as i64)
    })
}

fn smembers(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.smembers(args.get(1)), set_reply)
}

fn sismember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.sismember(args.get(1), args.get(2)), Reply::from)
}

fn smismember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(
        ctx.shard.smismember(args.get(1), args.iter().skip(2)),
        |v| Reply::Array(v.into_iter().map(Reply::from).collect()),
    )
}

fn scard(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.scard(args.get(1)), |n| Reply::Integer(n as i64))
}

/// `SPOP key`: a member or nil. `SPOP key count`: a set of up to `count`
/// members, empty for a missing key.
fn spop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match args.len() {
        2 => reply(ctx.shard.spop(args.get(1), 1), |v| {
            v.and_then(|mut v| v.pop()).map_or(Reply::Nil, Reply::Bulk)
        }),
        3 => {
            let count = match positive_count(args.get(2)) {
                Ok(n) => n,
                Err(e) => return e,
            };
            if count == 0 {
                return reply(ctx.shard.scard(args.get(1)), |_| Reply::Set(Vec::new()));
            }
            reply(ctx.shard.spop(args.get(1), count), |v| {
                set_reply(v.unwrap_or_default())
            })
        }
        _ => errors::SYNTAX,
    }
}

/// `SRANDMEMBER key`: a member or nil; with a count an array.
fn srandmember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match args.len() {
        2 => reply(ctx.shard.srandmember(args.get(1), 1), |v| {
            v.and_then(|mut v| v.pop()).map_or(Reply::Nil, Reply::Bulk)
        }),
        3 => match parse_random_count(args.get(2)) {
            Ok(count) => reply(ctx.shard.srandmember(args.get(1), count), |v| {
                bulks(v.unwrap_or_default())
            }),
            Err(e) => e,
        },
        _ => errors::SYNTAX,
    }
}

fn smove(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(
        ctx.shard.smove(args.get(1), args.get(2), args.get(3)),
        Reply::from,
    )
}

fn combine(ctx: &mut Ctx<'_>, args: Args<'_>, op: SetOp) -> Reply {
    reply(ctx.shard.set_combine(&from(args, 1), op, 0), set_reply)
}

fn combine_store(ctx: &mut Ctx<'_>, args: Args<'_>, op: SetOp) -> Reply {
    reply(
        ctx.shard.set_combine_store(args.get(1), &from(args, 2), op),
        |n| Reply::Integer(n as i64),
    )
}

fn sinter(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    combine(ctx, args, SetOp::Inter)
}

fn sinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    combine_store(ctx, args, SetOp::Inter)
}

fn sunion(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    combine(ctx, args, SetOp::Union)
}

fn sunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    combine_store(ctx, args, SetOp::Union)
}

fn sdiff(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    combine(ctx, args, SetOp::Diff)
}

fn sdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    combine_store(ctx, args, SetOp::Diff)
}

/// `LIMIT limit` after a counted key list (SINTERCARD, ZINTERCARD).
pub(crate) fn parse_card_limit(args: Args<'_>, from: usize) -> Result<usize, Reply> {
    let mut limit = 0;
    let mut i = from;
    while i < args.len() {
        if args.get(i).eq_ignore_ascii_case(b"limit") && i + 1 < args.len() {
            let n = int_arg(args.get(i + 1))
                .ok()
                .filter(|&n| n >= 0)
                .ok_or(Reply::error("ERR LIMIT can't be negative"))?;
            limit = usize::try_from(n).unwrap_or(usize::MAX);
            i += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    Ok(limit)
}

fn sintercard(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let too_many = Reply::error("ERR Number of keys can't be greater than number of args");
    let parsed = parse_numkeys(args, 1, "ERR numkeys should be greater than 0", too_many)
        .and_then(|n| Ok((n, parse_card_limit(args, 2 + n)?)));
    let (n, limit) = match parsed {
        Ok(p) => p,
        Err(e) => return e,
    };
    let keys: Vec<&[u8]> = args.iter().skip(2).take(n).collect();
    reply(ctx.shard.set_combine(&keys, SetOp::Inter, limit), |v| {
        Reply::Integer(v.len() as i64)
    })
}

/// SSCAN: `[cursor, [member, ...]]`.
fn sscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    element_scan(ctx.shard, args, Shard::scard, Shard::sscan, |m| {
        [Reply::Bulk(m)]
    })
}

#[cfg(test)]
mod tests;
