//! Hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HGETALL, HDEL, HEXISTS,
//! HLEN, HSTRLEN, HKEYS, HVALS, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN.
//!
//! ```text
//! HSET key field value [field value ...]
//! HRANDFIELD key [count [WITHVALUES]]
//! HSCAN key cursor [MATCH pattern] [COUNT count]
//! ```
//!
//! HGETALL is a map in RESP3; HRANDFIELD WITHVALUES an array of
//! `[field, value]` pairs in RESP3 (fields may repeat), flat in RESP2.

use kiln_net::{Args, Reply};
use kiln_store::Shard;

use super::collection::{bulks, element_scan, parse_random_count, reply};
use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, int_arg, wrong_arity};
use crate::command;

const READ_FAST: &[&str] = &["@read", "@hash", "@fast"];
const READ_SLOW: &[&str] = &["@read", "@hash", "@slow"];
const WRITE_FAST: &[&str] = &["@write", "@hash", "@fast"];
const RO_FAST: Flags = Flags::READONLY.with(Flags::FAST);
const GROWS_FAST: Flags = Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST);
const ONE_KEY: Route = Route::Keys(KeyRouting::SameCore);

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("hset", -4, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, hset,
        "hash", "2.0.0", "Creates or modifies the value of a field in a hash."),
    command!("hsetnx", 4, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, hsetnx,
        "hash", "2.0.0", "Sets the value of a field in a hash only when the field doesn't exist."),
    command!("hmset", -4, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, hmset,
        "hash", "2.0.0", "Sets the values of multiple fields."),
    command!("hget", 3, RO_FAST, READ_FAST, KeySpec::FIRST, ONE_KEY, hget,
        "hash", "2.0.0", "Returns the value of a field in a hash."),
    command!("hmget", -3, RO_FAST, READ_FAST, KeySpec::FIRST, ONE_KEY, hmget,
        "hash", "2.0.0", "Returns the values of all fields in a hash."),
    command!("hgetall", 2, Flags::READONLY, READ_SLOW, KeySpec::FIRST, ONE_KEY, hgetall,
        "hash", "2.0.0", "Returns all fields and values in a hash."),
    command!("hdel", -3, Flags::WRITE.with(Flags::FAST), WRITE_FAST, KeySpec::FIRST, ONE_KEY, hdel,
        "hash", "2.0.0", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain."),
    command!("hexists", 3, RO_FAST, READ_FAST, KeySpec::FIRST, ONE_KEY, hexists,
        "hash", "2.0.0", "Determines whether a field exists in a hash."),
    command!("hlen", 2, RO_FAST, READ_FAST, KeySpec::FIRST, ONE_KEY, hlen,
        "hash", "2.0.0", "Returns the number of fields in a hash."),
    command!("hstrlen", 3, RO_FAST, READ_FAST, KeySpec::FIRST, ONE_KEY, hstrlen,
        "hash", "3.2.0", "Returns the length of the value of a field."),
    command!("hkeys", 2, Flags::READONLY, READ_SLOW, KeySpec::FIRST, ONE_KEY, hkeys,
        "hash", "2.0.0", "Returns all fields in a hash."),
    command!("hvals", 2, Flags::READONLY, READ_SLOW, KeySpec::FIRST, ONE_KEY, hvals,
        "hash", "2.0.0", "Returns all values in a hash."),
    command!("hincrby", 4, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, hincrby,
        "hash", "2.0.0", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist."),
    command!("hincrbyfloat", 4, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, hincrbyfloat,
        "hash", "2.6.0", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist."),
    command!("hrandfield", -2, Flags::READONLY, READ_SLOW, KeySpec::FIRST, ONE_KEY, hrandfield,
        "hash", "6.2.0", "Returns one or more random fields from a hash."),
    command!("hscan", -3, Flags::READONLY, READ_SLOW, KeySpec::FIRST, ONE_KEY, hscan,
        "hash", "2.8.0", "Iterates over fields and values of a hash."),
];

/// `COMMAND DOCS` argument syntax of this family.
pub const SYNTAX: &[(&str, &str)] = &[
    ("hset", "key field value [field value ...]"),
    ("hsetnx", "key field value"),
    ("hmset", "key field value [field value ...]"),
    ("hget", "key field"),
    ("hmget", "key field [field ...]"),
    ("hgetall", "key"),
    ("hdel", "key field [field ...]"),
    ("hexists", "key field"),
    ("hlen", "key"),
    ("hstrlen", "key field"),
    ("hkeys", "key"),
    ("hvals", "key"),
    ("hincrby", "key field increment"),
    ("hincrbyfloat", "key field increment"),
    ("hrandfield", "key [count [WITHVALUES]]"),
    ("hscan", "key cursor [MATCH pattern] [COUNT count]"),
];

/// Field, value pairs from argument 2 on, or the arity error.
/// Borrowed field, value pairs of a request.
type FieldValues<'a> = Vec<(&'a [u8], &'a [u8])>;

fn pairs<'a>(ctx_name: &CommandSpec, args: Args<'a>) -> Result<FieldValues<'a>, Reply> {
    if !args.len().is_multiple_of(2) {
        return Err(wrong_arity(ctx_name));
    }
    Ok((2..args.len())
        .step_by(2)
        .map(|i| (args.get(i), args.get(i + 1)))
        .collect())
}

fn spec(name: &str) -> &'static CommandSpec {
    COMMANDS
        .iter()
        .find(|c| c.name == name)
        .expect("a command of this family")
}

fn hset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match pairs(spec("hset"), args) {
        Ok(p) => reply(ctx.shard.hset(args.get(1), p), |n| Reply::Integer(n as i64)),
        Err(e) => e,
    }
}

fn hmset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match pairs(spec("hmset"), args) {
        Ok(p) => reply(ctx.shard.hset(args.get(1), p), |_| Reply::OK),
        Err(e) => e,
    }
}

fn hsetnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(
        ctx.shard.hsetnx(args.get(1), args.get(2), args.get(3)),
        Reply::from,
    )
}

fn hget(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.hget(args.get(1), args.get(2)), Reply::bulk_or_nil)
}

fn hmget(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.hmget(args.get(1), args.iter().skip(2)), |v| {
        Reply::Array(v.into_iter().map(Reply::bulk_or_nil).collect())
    })
}

fn hgetall(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.hgetall(args.get(1)), |v| {
        Reply::Map(
            v.into_iter()
                .map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v)))
                .collect(),
        )
    })
}

fn hdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.hdel(args.get(1), args.iter().skip(2)), |n| {
        Reply::Integer(n as i64)
    })
}

fn hexists(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.hexists(args.get(1), args.get(2)), Reply::from)
}

fn hlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.hlen(args.get(1)), |n| Reply::Integer(n as i64))
}

fn hstrlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.hstrlen(args.get(1), args.get(2)), |n| {
        Reply::Integer(n as i64)
    })
}

fn hkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.hkeys(args.get(1)), bulks)
}

fn hvals(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.hvals(args.get(1)), bulks)
}

fn hincrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let delta = match int_arg(args.get(3)) {
        Ok(d) => d,
        Err(e) => return e,
    };
    reply(
        ctx.shard.hincrby(args.get(1), args.get(2), delta),
        Reply::Integer,
    )
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let Some(delta) = kiln_store::numeric::parse_f64(args.get(3)) else {
        return errors::NOT_FLOAT;
    };
    if !delta.is_finite() {
        return Reply::error("ERR value is NaN or Infinity");
    }
    reply(
        ctx.shard.hincrbyfloat(args.get(1), args.get(2), delta),
        Reply::Bulk,
    )
}

/// `HRANDFIELD key`: a field or nil; with a count an array (of pairs
/// WITHVALUES), empty for a missing key.
fn hrandfield(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    if args.len() == 2 {
        return reply(ctx.shard.hrandfield(args.get(1), 1), |v| {
            v.and_then(|mut v| v.pop())
                .map_or(Reply::Nil, |(f, _)| Reply::Bulk(f))
        });
    }
    let count = match parse_random_count(args.get(2)) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let with_values = match args.len() {
        3 => false,
        4 if args.get(3).eq_ignore_ascii_case(b"withvalues") => true,
        _ => return errors::SYNTAX,
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Reply::error("ERR value is out of range");
    }
    reply(ctx.shard.hrandfield(args.get(1), count), |v| {
        let v = v.unwrap_or_default();
        if with_values {
            Reply::Pairs(
                v.into_iter()
                    .map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v)))
                    .collect(),
            )
        } else {
            bulks(v.into_iter().map(|(f, _)| f))
        }
    })
}

/// HSCAN: `[cursor, [field, value, ...]]`.
fn hscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    element_scan(ctx.shard, args, Shard::hlen, Shard::hscan, |(f, v)| {
        [Reply::Bulk(f), Reply::Bulk(v)]
    })
}

#[cfg(test)]
mod tests;
