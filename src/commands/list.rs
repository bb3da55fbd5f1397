//! List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LRANGE, LINDEX,
//! LSET, LINSERT, LLEN, LREM, LTRIM, LPOS, LMOVE, RPOPLPUSH, LMPOP (the
//! blocking forms live in `blocking`).
//!
//! ```text
//! LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
//! LMOVE source destination LEFT | RIGHT LEFT | RIGHT
//! LMPOP numkeys key [key ...] LEFT | RIGHT [COUNT count]
//! ```
//!
//! Arguments are checked in Redis's order, which decides which error a
//! bad request gets: LRANGE, LTRIM, LREM and LPOS parse their numbers
//! before looking at the key; LINDEX and LSET look at the key first (a
//! missing key with a bad index is nil, or `no such key`). On the main
//! port LMOVE, RPOPLPUSH and LMPOP work across cores ([`gather`]).

use bytes::Bytes;
use kiln_net::{Args, Reply};
use kiln_store::{End, LposOptions, StoreError};

use super::collection::{bulks, parse_mpop, positive_count, reply};
use super::gather;
use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, int_arg, store_error};
use crate::command;

const READ_FAST: &[&str] = &["@read", "@list", "@fast"];
const READ_SLOW: &[&str] = &["@read", "@list", "@slow"];
const WRITE_FAST: &[&str] = &["@write", "@list", "@fast"];
const WRITE_SLOW: &[&str] = &["@write", "@list", "@slow"];
const RO: Flags = Flags::READONLY;
const RO_FAST: Flags = Flags::READONLY.with(Flags::FAST);
const W_FAST: Flags = Flags::WRITE.with(Flags::FAST);
const GROWS: Flags = Flags::WRITE.with(Flags::DENYOOM);
const ONE_CORE: Route = Route::Keys(KeyRouting::SameCore);
const K1: KeySpec = KeySpec::FIRST;
const TWO_KEYS: KeySpec = KeySpec::range(1, 2, 1);
/// A move between keys of two cores pops on one and pushes on the other.
const MOVED: Route = Route::Keys(KeyRouting::Planned(gather::lmove_plan));

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("lpush", -3, GROWS.with(Flags::FAST), WRITE_FAST, K1, ONE_CORE, lpush,
        "list", "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist."),
    command!("rpush", -3, GROWS.with(Flags::FAST), WRITE_FAST, K1, ONE_CORE, rpush,
        "list", "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist."),
    command!("lpushx", -3, GROWS.with(Flags::FAST), WRITE_FAST, K1, ONE_CORE, lpushx,
        "list", "2.2.0", "Prepends one or more elements to a list only when the list exists."),
    command!("rpushx", -3, GROWS.with(Flags::FAST), WRITE_FAST, K1, ONE_CORE, rpushx,
        "list", "2.2.0", "Appends an element to a list only when the list exists."),
    command!("lpop", -2, W_FAST, WRITE_FAST, K1, ONE_CORE, lpop,
        "list", "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped."),
    command!("rpop", -2, W_FAST, WRITE_FAST, K1, ONE_CORE, rpop,
        "list", "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped."),
    command!("lrange", 4, RO, READ_SLOW, K1, ONE_CORE, lrange,
        "list", "1.0.0", "Returns a range of elements from a list."),
    command!("lindex", 3, RO, READ_SLOW, K1, ONE_CORE, lindex,
        "list", "1.0.0", "Returns an element from a list by its index."),
    command!("lset", 4, GROWS, WRITE_SLOW, K1, ONE_CORE, lset,
        "list", "1.0.0", "Sets the value of an element in a list by its index."),
    command!("linsert", 5, GROWS, WRITE_SLOW, K1, ONE_CORE, linsert,
        "list", "2.2.0", "Inserts an element before or after another element in a list."),
    command!("llen", 2, RO_FAST, READ_FAST, K1, ONE_CORE, llen,
        "list", "1.0.0", "Returns the length of a list."),
    command!("lrem", 4, Flags::WRITE, WRITE_SLOW, K1, ONE_CORE, lrem,
        "list", "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed."),
    command!("ltrim", 4, Flags::WRITE, WRITE_SLOW, K1, ONE_CORE, ltrim,
        "list", "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed."),
    command!("lpos", -3, RO, READ_SLOW, K1, ONE_CORE, lpos,
        "list", "6.0.6", "Returns the index of matching elements in a list."),
    command!("lmove", 5, GROWS, WRITE_SLOW, TWO_KEYS, MOVED, lmove,
        "list", "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved."),
    command!("rpoplpush", 3, GROWS, WRITE_SLOW, TWO_KEYS, MOVED, rpoplpush,
        "list", "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped."),
    command!("lmpop", -4, Flags::WRITE, WRITE_SLOW, KeySpec::counted(1), Route::Keys(KeyRouting::Planned(gather::mpop_plan)), lmpop,
        "list", "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped."),
];

/// `COMMAND DOCS` argument syntax of this family.
pub const SYNTAX: &[(&str, &str)] = &[
    ("lpush", "key element [element ...]"),
    ("rpush", "key element [element ...]"),
    ("lpushx", "key element [element ...]"),
    ("rpushx", "key element [element ...]"),
    ("lpop", "key [count]"),
    ("rpop", "key [count]"),
    ("lrange", "key start stop"),
    ("lindex", "key index"),
    ("lset", "key index element"),
    ("linsert", "key BEFORE | AFTER pivot element"),
    ("llen", "key"),
    ("lrem", "key count element"),
    ("ltrim", "key start stop"),
    (
        "lpos",
        "key element [RANK rank] [COUNT num-matches] [MAXLEN len]",
    ),
    ("lmove", "source destination LEFT | RIGHT LEFT | RIGHT"),
    ("rpoplpush", "source destination"),
    ("lmpop", "numkeys key [key ...] LEFT | RIGHT [COUNT count]"),
];

/// `LEFT` or `RIGHT` (any case), else a syntax error.
pub(crate) fn parse_end(arg: &[u8]) -> Result<End, Reply> {
    if arg.eq_ignore_ascii_case(b"left") {
        Ok(End::Left)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Ok(End::Right)
    } else {
        Err(errors::SYNTAX)
    }
}

/// An integer within `-LONG_MAX..=LONG_MAX` (LREM's count, LPOS's rank),
/// with Redis's wording for `LONG_MIN`.
fn symmetric_int(arg: &[u8]) -> Result<i64, Reply> {
    match int_arg(arg)? {
        i64::MIN => Err(Reply::error(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        )),
        n => Ok(n),
    }
}

fn elements(args: Args<'_>) -> Vec<&[u8]> {
    args.iter().skip(2).collect()
}

fn push(ctx: &mut Ctx<'_>, args: Args<'_>, end: End, only_existing: bool) -> Reply {
    reply(
        ctx.shard
            .list_push(args.get(1), end, &elements(args), only_existing),
        |n| Reply::Integer(n as i64),
    )
}

fn lpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    push(ctx, args, End::Left, false)
}

fn rpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    push(ctx, args, End::Right, false)
}

fn lpushx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    push(ctx, args, End::Left, true)
}

fn rpushx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    push(ctx, args, End::Right, true)
}

/// `LPOP key`: an element or nil. `LPOP key count`: an array (empty for a
/// count of 0), a null array for a missing key.
fn pop(ctx: &mut Ctx<'_>, args: Args<'_>, end: End, name: &str) -> Reply {
    let key = args.get(1);
    match args.len() {
        2 => reply(ctx.shard.list_pop(key, end, 1), |popped| {
            popped
                .and_then(|mut v| v.pop())
                .map_or(Reply::Nil, Reply::Bulk)
        }),
        3 => {
            let count = match positive_count(args.get(2)) {
                Ok(n) => n,
                Err(e) => return e,
            };
            if count == 0 {
                return reply(ctx.shard.llen(key), |n| {
                    if n == 0 {
                        Reply::NilArray
                    } else {
                        Reply::Array(Vec::new())
                    }
                });
            }
            reply(ctx.shard.list_pop(key, end, count), |popped| {
                popped.map_or(Reply::NilArray, bulks)
            })
        }
        _ => Reply::error_owned(format!(
            "ERR wrong number of arguments for '{name}' command"
        )),
    }
}

fn lpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    pop(ctx, args, End::Left, "lpop")
}

fn rpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    pop(ctx, args, End::Right, "rpop")
}

fn lrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let (start, stop) = match (int_arg(args.get(2)), int_arg(args.get(3))) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    reply(ctx.shard.lrange(args.get(1), start, stop), bulks)
}

/// The reply to an index that does not parse, in Redis's order: what a
/// missing key (`missing`) or another type answers comes first.
fn bad_index(ctx: &mut Ctx<'_>, key: &[u8], missing: Reply, parse_error: Reply) -> Reply {
    match ctx.shard.llen(key) {
        Ok(0) => missing,
        Ok(_) => parse_error,
        Err(e) => store_error(e),
    }
}

fn lindex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match int_arg(args.get(2)) {
        Ok(index) => reply(ctx.shard.lindex(args.get(1), index), |item| {
            item.map_or(Reply::Nil, Reply::Bulk)
        }),
        Err(e) => bad_index(ctx, args.get(1), Reply::Nil, e),
    }
}

fn lset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match int_arg(args.get(2)) {
        Ok(index) => reply(ctx.shard.lset(args.get(1), index, args.get(3)), |()| {
            Reply::OK
        }),
        Err(e) => bad_index(ctx, args.get(1), store_error(StoreError::NoSuchKey), e),
    }
}

fn linsert(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let where_ = args.get(2);
    let before = if where_.eq_ignore_ascii_case(b"before") {
        true
    } else if where_.eq_ignore_ascii_case(b"after") {
        false
    } else {
        return errors::SYNTAX;
    };
    reply(
        ctx.shard
            .linsert(args.get(1), before, args.get(3), args.get(4)),
        Reply::Integer,
    )
}

fn llen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.llen(args.get(1)), |n| Reply::Integer(n as i64))
}

fn lrem(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match symmetric_int(args.get(2)) {
        Ok(count) => reply(ctx.shard.lrem(args.get(1), count, args.get(3)), |n| {
            Reply::Integer(n as i64)
        }),
        Err(e) => e,
    }
}

fn ltrim(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let (start, stop) = match (int_arg(args.get(2)), int_arg(args.get(3))) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    reply(ctx.shard.ltrim(args.get(1), start, stop), |()| Reply::OK)
}

/// A non-negative LPOS option, `ERR <message>` otherwise.
fn non_negative(arg: &[u8], message: &'static str) -> Result<usize, Reply> {
    int_arg(arg)
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(Reply::error(message))
}

fn parse_lpos(args: Args<'_>) -> Result<LposOptions, Reply> {
    let mut options = LposOptions {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut i = 3;
    while i < args.len() {
        let (opt, value) = (args.get(i), args.try_get(i + 1));
        match value {
            Some(v) if opt.eq_ignore_ascii_case(b"rank") => {
                options.rank = symmetric_int(v)?;
                if options.rank == 0 {
                    return Err(Reply::error(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                    ));
                }
            }
            Some(v) if opt.eq_ignore_ascii_case(b"count") => {
                options.count = Some(non_negative(v, "ERR COUNT can't be negative")?);
            }
            Some(v) if opt.eq_ignore_ascii_case(b"maxlen") => {
                options.maxlen = non_negative(v, "ERR MAXLEN can't be negative")?;
            }
            _ => return Err(errors::SYNTAX),
        }
        i += 2;
    }
    Ok(options)
}

/// LPOS: an index or nil; with COUNT an array (empty for a missing key).
fn lpos(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let options = match parse_lpos(args) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let index = |i: usize| Reply::Integer(i as i64);
    reply(
        ctx.shard.lpos(args.get(1), args.get(2), options),
        |found| match (found, options.count) {
            (found, Some(_)) => {
                Reply::Array(found.unwrap_or_default().into_iter().map(index).collect())
            }
            (Some(found), None) => found.first().map_or(Reply::Nil, |&i| index(i)),
            (None, None) => Reply::Nil,
        },
    )
}

fn move_between(ctx: &mut Ctx<'_>, args: Args<'_>, from: End, to: End) -> Reply {
    reply(
        ctx.shard.lmove(args.get(1), args.get(2), from, to),
        |item| item.map_or(Reply::Nil, Reply::Bulk),
    )
}

fn lmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match (parse_end(args.get(3)), parse_end(args.get(4))) {
        (Ok(from), Ok(to)) => move_between(ctx, args, from, to),
        (Err(e), _) | (_, Err(e)) => e,
    }
}

fn rpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    move_between(ctx, args, End::Right, End::Left)
}

/// `[key, [element, ...]]`, or a null array when nothing was popped.
pub(crate) fn mpop_reply(popped: Option<(Bytes, Vec<Bytes>)>) -> Reply {
    popped.map_or(Reply::NilArray, |(key, items)| {
        Reply::Array(vec![Reply::Bulk(key), bulks(items)])
    })
}

fn lmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match parse_mpop(args, 1, parse_end) {
        Ok((keys, end, count)) => reply(ctx.shard.lmpop(&keys, end, count), mpop_reply),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests;
