//! Sorted-set commands: ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD, ZCOUNT,
//! ZLEXCOUNT, ZRANGE, ZRANGESTORE, ZRANGEBYSCORE, ZREVRANGEBYSCORE,
//! ZRANGEBYLEX, ZREVRANGEBYLEX, ZREVRANGE, ZRANK, ZREVRANK, ZPOPMIN,
//! ZPOPMAX, ZMPOP, ZRANDMEMBER, ZUNION, ZINTER, ZDIFF, ZUNIONSTORE,
//! ZINTERSTORE, ZDIFFSTORE, ZINTERCARD, ZREMRANGEBYSCORE, ZREMRANGEBYRANK,
//! ZREMRANGEBYLEX, ZSCAN.
//!
//! ```text
//! ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
//! ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
//! ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX]
//! ```
//!
//! Scores are RESP3 doubles (bulk strings in RESP2); WITHSCORES replies are
//! `[member, score]` pairs in RESP3, flat in RESP2. ZRANK's WITHSCORE is
//! Redis 7.2's. Multi-key commands need their keys on one core on this
//! phase (`-CROSSSLOT` otherwise).

mod parse;

use bytes::Bytes;
use kiln_net::{Args, Reply};
use kiln_store::{Shard, ZAddOutcome, ZOp, ZRangeBy};

use self::parse::RangeKind;
use super::collection::{
    bulks, element_scan, parse_mpop, parse_random_count, positive_count, reply,
};
use super::gather;
use super::set::parse_card_limit;
use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, int_arg};
use crate::command;

const READ_FAST: &[&str] = &["@read", "@sortedset", "@fast"];
const READ_SLOW: &[&str] = &["@read", "@sortedset", "@slow"];
const WRITE_FAST: &[&str] = &["@write", "@sortedset", "@fast"];
const WRITE_SLOW: &[&str] = &["@write", "@sortedset", "@slow"];
const RO: Flags = Flags::READONLY;
const RO_FAST: Flags = Flags::READONLY.with(Flags::FAST);
const W_FAST: Flags = Flags::WRITE.with(Flags::FAST);
const GROWS: Flags = Flags::WRITE.with(Flags::DENYOOM);
const ONE_CORE: Route = Route::Keys(KeyRouting::SameCore);
/// Keys on several cores are gathered on the main port ([`gather`]).
const GATHERED: Route = Route::Keys(KeyRouting::Planned(gather::algebra_plan));
const K1: KeySpec = KeySpec::FIRST;
const STORE_KEYS: KeySpec = KeySpec::first_then_counted(1, 2);

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("zadd", -4, GROWS.with(Flags::FAST), WRITE_FAST, K1, ONE_CORE, zadd,
        "sorted_set", "1.2.0", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist."),
    command!("zincrby", 4, GROWS.with(Flags::FAST), WRITE_FAST, K1, ONE_CORE, zincrby,
        "sorted_set", "1.2.0", "Increments the score of a member in a sorted set."),
    command!("zrem", -3, W_FAST, WRITE_FAST, K1, ONE_CORE, zrem,
        "sorted_set", "1.2.0", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed."),
    command!("zscore", 3, RO_FAST, READ_FAST, K1, ONE_CORE, zscore,
        "sorted_set", "1.2.0", "Returns the score of a member in a sorted set."),
    command!("zmscore", -3, RO_FAST, READ_FAST, K1, ONE_CORE, zmscore,
        "sorted_set", "6.2.0", "Returns the score of one or more members in a sorted set."),
    command!("zcard", 2, RO_FAST, READ_FAST, K1, ONE_CORE, zcard,
        "sorted_set", "1.2.0", "Returns the number of members in a sorted set."),
    command!("zcount", 4, RO_FAST, READ_FAST, K1, ONE_CORE, zcount,
        "sorted_set", "2.0.0", "Returns the count of members in a sorted set that have scores within a range."),
    command!("zlexcount", 4, RO_FAST, READ_FAST, K1, ONE_CORE, zlexcount,
        "sorted_set", "2.8.9", "Returns the number of members in a sorted set within a lexicographical range."),
    command!("zrange", -4, RO, READ_SLOW, K1, ONE_CORE, zrange,
        "sorted_set", "1.2.0", "Returns members in a sorted set within a range of indexes."),
    command!("zrangestore", -5, GROWS, WRITE_SLOW, KeySpec::range(1, 2, 1), GATHERED, zrangestore,
        "sorted_set", "6.2.0", "Stores a range of members from sorted set in a key."),
    command!("zrangebyscore", -4, RO, READ_SLOW, K1, ONE_CORE, zrangebyscore,
        "sorted_set", "1.0.5", "Returns members in a sorted set within a range of scores."),
    command!("zrevrangebyscore", -4, RO, READ_SLOW, K1, ONE_CORE, zrevrangebyscore,
        "sorted_set", "2.2.0", "Returns members in a sorted set within a range of scores in reverse order."),
    command!("zrangebylex", -4, RO, READ_SLOW, K1, ONE_CORE, zrangebylex,
        "sorted_set", "2.8.9", "Returns members in a sorted set within a lexicographical range."),
    command!("zrevrangebylex", -4, RO, READ_SLOW, K1, ONE_CORE, zrevrangebylex,
        "sorted_set", "2.8.9", "Returns members in a sorted set within a lexicographical range in reverse order."),
    command!("zrevrange", -4, RO, READ_SLOW, K1, ONE_CORE, zrevrange,
        "sorted_set", "1.2.0", "Returns members in a sorted set within a range of indexes in reverse order."),
    command!("zrank", -3, RO_FAST, READ_FAST, K1, ONE_CORE, zrank,
        "sorted_set", "2.0.0", "Returns the index of a member in a sorted set ordered by ascending scores."),
    command!("zrevrank", -3, RO_FAST, READ_FAST, K1, ONE_CORE, zrevrank,
        "sorted_set", "2.0.0", "Returns the index of a member in a sorted set ordered by descending scores."),
    command!("zpopmin", -2, W_FAST, WRITE_FAST, K1, ONE_CORE, zpopmin,
        "sorted_set", "5.0.0", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    command!("zpopmax", -2, W_FAST, WRITE_FAST, K1, ONE_CORE, zpopmax,
        "sorted_set", "5.0.0", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped."),
    command!("zmpop", -4, Flags::WRITE, WRITE_SLOW, KeySpec::counted(1), Route::Keys(KeyRouting::Planned(gather::mpop_plan)), zmpop,
        "sorted_set", "7.0.0", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped."),
    command!("zrandmember", -2, RO, READ_SLOW, K1, ONE_CORE, zrandmember,
        "sorted_set", "6.2.0", "Returns one or more random members from a sorted set."),
    command!("zunion", -3, RO, READ_SLOW, KeySpec::counted(1), GATHERED, zunion,
        "sorted_set", "6.2.0", "Returns the union of multiple sorted sets."),
    command!("zinter", -3, RO, READ_SLOW, KeySpec::counted(1), GATHERED, zinter,
        "sorted_set", "6.2.0", "Returns the intersect of multiple sorted sets."),
    command!("zdiff", -3, RO, READ_SLOW, KeySpec::counted(1), GATHERED, zdiff,
        "sorted_set", "6.2.0", "Returns the difference between multiple sorted sets."),
    command!("zunionstore", -4, GROWS, WRITE_SLOW, STORE_KEYS, GATHERED, zunionstore,
        "sorted_set", "2.0.0", "Stores the union of multiple sorted sets in a key."),
    command!("zinterstore", -4, GROWS, WRITE_SLOW, STORE_KEYS, GATHERED, zinterstore,
        "sorted_set", "2.0.0", "Stores the intersect of multiple sorted sets in a key."),
    command!("zdiffstore", -4, GROWS, WRITE_SLOW, STORE_KEYS, GATHERED, zdiffstore,
        "sorted_set", "6.2.0", "Stores the difference of multiple sorted sets in a key."),
    command!("zintercard", -3, RO, READ_SLOW, KeySpec::counted(1), GATHERED, zintercard,
        "sorted_set", "7.0.0", "Returns the number of members of the intersect of multiple sorted sets."),
    command!("zremrangebyscore", 4, Flags::WRITE, WRITE_SLOW, K1, ONE_CORE, zremrangebyscore,
        "sorted_set", "1.2.0", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed."),
    command!("zremrangebyrank", 4, Flags::WRITE, WRITE_SLOW, K1, ONE_CORE, zremrangebyrank,
        "sorted_set", "2.0.0", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed."),
    command!("zremrangebylex", 4, Flags::WRITE, WRITE_SLOW, K1, ONE_CORE, zremrangebylex,
        "sorted_set", "2.8.9", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed."),
    command!("zscan", -3, RO, READ_SLOW, K1, ONE_CORE, zscan,
        "sorted_set", "2.8.0", "Iterates over members and scores of a sorted set."),
];

/// `COMMAND DOCS` argument syntax of this family.
pub const SYNTAX: &[(&str, &str)] = &[
    (
        "zadd",
        "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]",
    ),
    ("zincrby", "key increment member"),
    ("zrem", "key member [member ...]"),
    ("zscore", "key member"),
    ("zmscore", "key member [member ...]"),
    ("zcard", "key"),
    ("zcount", "key min max"),
    ("zlexcount", "key min max"),
    (
        "zrange",
        "key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]",
    ),
    (
        "zrangestore",
        "dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]",
    ),
    (
        "zrangebyscore",
        "key min max [WITHSCORES] [LIMIT offset count]",
    ),
    (
        "zrevrangebyscore",
        "key max min [WITHSCORES] [LIMIT offset count]",
    ),
    ("zrangebylex", "key min max [LIMIT offset count]"),
    ("zrevrangebylex", "key max min [LIMIT offset count]"),
    ("zrevrange", "key start stop [WITHSCORES]"),
    ("zrank", "key member [WITHSCORE]"),
    ("zrevrank", "key member [WITHSCORE]"),
    ("zpopmin", "key [count]"),
    ("zpopmax", "key [count]"),
    ("zmpop", "numkeys key [key ...] MIN | MAX [COUNT count]"),
    ("zrandmember", "key [count [WITHSCORES]]"),
    (
        "zunion",
        "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]",
    ),
    (
        "zinter",
        "numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]",
    ),
    ("zdiff", "numkeys key [key ...] [WITHSCORES]"),
    (
        "zunionstore",
        "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]",
    ),
    (
        "zinterstore",
        "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM | MIN | MAX]",
    ),
    ("zdiffstore", "destination numkeys key [key ...]"),
    ("zintercard", "numkeys key [key ...] [LIMIT limit]"),
    ("zremrangebyscore", "key min max"),
    ("zremrangebyrank", "key start stop"),
    ("zremrangebylex", "key min max"),
    ("zscan", "key cursor [MATCH pattern] [COUNT count]"),
];

/// Members, or with scores `[member, score]` pairs.
fn scored(items: Vec<(Bytes, f64)>, with_scores: bool) -> Reply {
    if with_scores {
        Reply::Pairs(
            items
                .into_iter()
                .map(|(m, s)| (Reply::Bulk(m), Reply::Double(s)))
                .collect(),
        )
    } else {
        bulks(items.into_iter().map(|(m, _)| m))
    }
}

fn zadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let (flags, from) = match parse::zadd_flags(args) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut items = Vec::with_capacity((args.len() - from) / 2);
    for i in (from..args.len()).step_by(2) {
        match parse::score(args.get(i)) {
            Ok(s) => items.push((s, args.get(i + 1))),
            Err(e) => return e,
        }
    }
    reply(
        ctx.shard.zadd(args.get(1), &items, flags),
        |out| match out {
            ZAddOutcome::Count(n) => Reply::Integer(n as i64),
            ZAddOutcome::Score(s) => s.map_or(Reply::Nil, Reply::Double),
        },
    )
}

fn zincrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let delta = match parse::score(args.get(2)) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let flags = kiln_store::ZAddFlags {
        incr: true,
        ..Default::default()
    };
    reply(
        ctx.shard.zadd(args.get(1), &[(delta, args.get(3))], flags),
        |out| match out {
            ZAddOutcome::Score(Some(s)) => Reply::Double(s),
            _ => Reply::Nil,
        },
    )
}

fn zrem(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let members: Vec<&[u8]> = args.iter().skip(2).collect();
    reply(ctx.shard.zrem(args.get(1), &members), |n| {
        Reply::Integer(n as i64)
    })
}

fn zscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.zscore(args.get(1), args.get(2)), |s| {
        s.map_or(Reply::Nil, Reply::Double)
    })
}

fn zmscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.zmscore(args.get(1), args.iter().skip(2)), |v| {
        Reply::Array(
            v.into_iter()
                .map(|s| s.map_or(Reply::Nil, Reply::Double))
                .collect(),
        )
    })
}

fn zcard(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply(ctx.shard.zcard(args.get(1)), |n| Reply::Integer(n as i64))
}

fn zcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match parse::score_range(args.get(2), args.get(3)) {
        Ok(r) => reply(ctx.shard.zcount(args.get(1), &r), |n| {
            Reply::Integer(n as i64)
        }),
        Err(e) => e,
    }
}

fn zlexcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match parse::lex_range(args.get(2), args.get(3)) {
        Ok(r) => reply(ctx.shard.zlexcount(args.get(1), &r), |n| {
            Reply::Integer(n as i64)
        }),
        Err(e) => e,
    }
}

fn range_generic(ctx: &mut Ctx<'_>, args: Args<'_>, kind: RangeKind, rev: Option<bool>) -> Reply {
    match parse::range_request(args, 1, kind, rev, false) {
        Ok(r) => reply(
            ctx.shard
                .zrange(args.get(1), &r.by, r.rev, r.offset, r.limit),
            |items| scored(items, r.with_scores),
        ),
        Err(e) => e,
    }
}

fn zrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    range_generic(ctx, args, RangeKind::Auto, None)
}

fn zrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    range_generic(ctx, args, RangeKind::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    range_generic(ctx, args, RangeKind::Score, Some(true))
}

fn zrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    range_generic(ctx, args, RangeKind::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    range_generic(ctx, args, RangeKind::Lex, Some(true))
}

fn zrevrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    range_generic(ctx, args, RangeKind::Rank, Some(true))
}

fn zrangestore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match parse::range_request(args, 2, RangeKind::Auto, None, true) {
        Ok(r) => reply(
            ctx.shard
                .zrangestore(args.get(1), args.get(2), &r.by, r.rev, r.offset, r.limit),
            |n| Reply::Integer(n as i64),
        ),
        Err(e) => e,
    }
}

/// ZRANK / ZREVRANK `key member [WITHSCORE]`.
fn rank_generic(ctx: &mut Ctx<'_>, args: Args<'_>, rev: bool) -> Reply {
    let with_score = match args.len() {
        3 => false,
        4 if args.get(3).eq_ignore_ascii_case(b"withscore") => true,
        _ => return errors::SYNTAX,
    };
    reply(
        ctx.shard.zrank(args.get(1), args.get(2), rev),
        |found| match found {
            Some((rank, score)) if with_score => {
                Reply::Array(vec![Reply::Integer(rank as i64), Reply::Double(score)])
            }
            Some((rank, _)) => Reply::Integer(rank as i64),
            None if with_score => Reply::NilArray,
            None => Reply::Nil,
        },
    )
}

fn zrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    rank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    rank_generic(ctx, args, true)
}

/// ZPOPMIN / ZPOPMAX `key [count]`: without a count one flat
/// `[member, score]`; with one, pairs.
fn pop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool) -> Reply {
    let count = match args.len() {
        2 => None,
        3 => match positive_count(args.get(2)) {
            Ok(n) => Some(n),
            Err(e) => return e,
        },
        _ => return errors::SYNTAX,
    };
    reply(
        ctx.shard.zpop(args.get(1), count.unwrap_or(1), max),
        |items| match count {
            Some(_) => scored(items, true),
            None => Reply::Array(
                items
                    .into_iter()
                    .flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)])
                    .collect(),
            ),
        },
    )
}

fn zpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    pop_generic(ctx, args, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    pop_generic(ctx, args, true)
}

/// MIN or MAX: whether ZMPOP pops the highest scores.
fn parse_min_max(arg: &[u8]) -> Result<bool, Reply> {
    if arg.eq_ignore_ascii_case(b"min") {
        Ok(false)
    } else if arg.eq_ignore_ascii_case(b"max") {
        Ok(true)
    } else {
        Err(errors::SYNTAX)
    }
}

/// ZMPOP's (and BZMPOP's) `numkeys key... MIN | MAX [COUNT count]`
/// from `numkeys_at`: the keys, MAX, the count.
pub(crate) fn parse_zmpop(
    args: Args<'_>,
    numkeys_at: usize,
) -> Result<(Vec<&[u8]>, bool, usize), Reply> {
    parse_mpop(args, numkeys_at, parse_min_max)
}

/// nil, or `[key, [[member, score], ...]]` in both protocols.
pub(crate) fn zmpop_reply(found: Option<(Bytes, Vec<(Bytes, f64)>)>) -> Reply {
    match found {
        None => Reply::NilArray,
        Some((key, items)) => Reply::Array(vec![
            Reply::Bulk(key),
            Reply::Array(
                items
                    .into_iter()
                    .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                    .collect(),
            ),
        ]),
    }
}

/// `ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]`.
fn zmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match parse_zmpop(args, 1) {
        Ok((keys, max, count)) => reply(ctx.shard.zmpop(&keys, count, max), zmpop_reply),
        Err(e) => e,
    }
}

/// `ZRANDMEMBER key [count [WITHSCORES]]`, as HRANDFIELD.
fn zrandmember(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    if args.len() == 2 {
        return reply(ctx.shard.zrandmember(args.get(1), 1), |v| {
            v.and_then(|mut v| v.pop())
                .map_or(Reply::Nil, |(m, _)| Reply::Bulk(m))
        });
    }
    let count = match parse_random_count(args.get(2)) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let with_scores = match args.len() {
        3 => false,
        4 if args.get(3).eq_ignore_ascii_case(b"withscores") => true,
        _ => return errors::SYNTAX,
    };
    if with_scores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Reply::error("ERR value is out of range");
    }
    reply(ctx.shard.zrandmember(args.get(1), count), |v| {
        scored(v.unwrap_or_default(), with_scores)
    })
}

fn combine_generic(ctx: &mut Ctx<'_>, args: Args<'_>, op: ZOp, name: &str) -> Reply {
    match parse::combination(args, 1, name, op == ZOp::Diff, false) {
        Ok(c) => reply(
            ctx.shard.zcombine(&c.keys, &c.weights, c.aggregate, op, 0),
            |items| scored(items, c.with_scores),
        ),
        Err(e) => e,
    }
}

fn store_generic(ctx: &mut Ctx<'_>, args: Args<'_>, op: ZOp, name: &str) -> Reply {
    match parse::combination(args, 2, name, op == ZOp::Diff, true) {
        Ok(c) => reply(
            ctx.shard
                .zcombine_store(args.get(1), &c.keys, &c.weights, c.aggregate, op),
            |n| Reply::Integer(n as i64),
        ),
        Err(e) => e,
    }
}

fn zunion(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    combine_generic(ctx, args, ZOp::Union, "zunion")
}

fn zinter(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    combine_generic(ctx, args, ZOp::Inter, "zinter")
}

fn zdiff(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    combine_generic(ctx, args, ZOp::Diff, "zdiff")
}

fn zunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    store_generic(ctx, args, ZOp::Union, "zunionstore")
}

fn zinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    store_generic(ctx, args, ZOp::Inter, "zinterstore")
}

fn zdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    store_generic(ctx, args, ZOp::Diff, "zdiffstore")
}

/// ZINTERCARD: numkeys as ZINTER reads it, then `LIMIT` as SINTERCARD's.
fn zintercard(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let parsed = int_arg(args.get(1)).and_then(|n| {
        if n < 1 {
            return Err(Reply::error(
                "ERR at least 1 input key is needed for 'zintercard' command",
            ));
        }
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n > args.len() - 2 {
            return Err(errors::SYNTAX);
        }
        Ok((n, parse_card_limit(args, 2 + n)?))
    });
    let (n, limit) = match parsed {
        Ok(p) => p,
        Err(e) => return e,
    };
    let keys: Vec<&[u8]> = args.iter().skip(2).take(n).collect();
    reply(
        ctx.shard
            .zcombine(&keys, &[], kiln_store::Aggregate::Sum, ZOp::Inter, limit),
        |v| Reply::Integer(v.len() as i64),
    )
}

fn remrange(ctx: &mut Ctx<'_>, args: Args<'_>, by: Result<ZRangeBy, Reply>) -> Reply {
    match by {
        Ok(by) => reply(ctx.shard.zremrange(args.get(1), &by), |n| {
            Reply::Integer(n as i64)
        }),
        Err(e) => e,
    }
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let by = parse::score_range(args.get(2), args.get(3)).map(ZRangeBy::Score);
    remrange(ctx, args, by)
}

fn zremrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let by = parse::lex_range(args.get(2), args.get(3)).map(ZRangeBy::Lex);
    remrange(ctx, args, by)
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let by = int_arg(args.get(2)).and_then(|a| Ok(ZRangeBy::Rank(a, int_arg(args.get(3))?)));
    remrange(ctx, args, by)
}

/// ZSCAN: `[cursor, [member, score, ...]]`, scores as bulk strings in both
/// protocols (as Redis sends them).
fn zscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    element_scan(ctx.shard, args, Shard::zcard, Shard::zscan, |(m, s)| {
        [
            Reply::Bulk(m),
            Reply::bulk_from(kiln_net::resp::encode::double_text(s)),
        ]
    })
}

#[cfg(test)]
mod tests;
