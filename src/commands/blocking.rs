//! The blocking pops: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX, BZMPOP.
//!
//! Each is its non-blocking form when something is there to pop. When
//! nothing is, the command asks to wait ([`Ctx::block`]): the engine parks
//! the request on the core that owns its keys (a client's own core, or the
//! owner a main-port request was forwarded to), and runs it again, in the
//! order clients blocked, when one of its keys is created by any client of
//! the tenant; or answers a null array when the timeout passes. The
//! client's connection reads nothing more until then (as in Redis), while
//! its core goes on serving everyone else. A storage function cannot wait:
//! it gets the null array at once.
//!
//! The keys of one blocking pop must live on one core (`-CROSSSLOT`
//! otherwise, on the main port as on a core port: a wait spread over cores
//! could pop on two of them). BLMOVE and BRPOPLPUSH may move to a
//! destination on another core: they wait on the source's core, then push
//! as LMOVE does across cores.
//!
//! ```text
//! BLPOP key [key ...] timeout           BLMOVE source destination LEFT | RIGHT LEFT | RIGHT timeout
//! BLMPOP timeout numkeys key [key ...] LEFT | RIGHT [COUNT count]
//! BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]
//! ```

use std::time::Duration;

use kiln_net::{Args, Reply};
use kiln_store::End;

use super::collection::{parse_mpop, reply};
use super::list::{mpop_reply, parse_end};
use super::zset::{parse_zmpop, zmpop_reply};
use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, gather};
use crate::command;
use crate::tenant::TenantId;

/// How long a blocked command waits: `None` for ever (a timeout of 0).
pub type Timeout = Option<Duration>;

/// The blocked clients of a core, as `CLIENT UNBLOCK` reaches them.
pub trait Unblock {
    /// Ends client `client`'s wait on this core, if it waits here and (for
    /// `tenant` `Some`) belongs to that tenant: answered as a timeout, or
    /// with the `-UNBLOCKED` error for `error`. Whether it was waiting.
    fn unblock(&mut self, client: u64, tenant: Option<TenantId>, error: bool) -> bool;
}

/// The error `CLIENT UNBLOCK id ERROR` answers the blocked client.
pub const UNBLOCKED: Reply = Reply::error("UNBLOCKED client unblocked via CLIENT UNBLOCK");

const LIST_ACL: &[&str] = &["@write", "@list", "@slow", "@blocking"];
const ZSET_ACL: &[&str] = &["@write", "@sortedset", "@fast", "@blocking"];
const ZSET_SLOW_ACL: &[&str] = &["@write", "@sortedset", "@slow", "@blocking"];
const BLOCKS: Flags = Flags::WRITE.with(Flags::BLOCKING);
const BLOCKS_FAST: Flags = BLOCKS.with(Flags::FAST);
const ONE_CORE: Route = Route::Keys(KeyRouting::SameCore);
/// Every key but the trailing timeout.
const KEYS_THEN_TIMEOUT: KeySpec = KeySpec::range(1, -2, 1);

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("blpop", -3, BLOCKS, LIST_ACL, KEYS_THEN_TIMEOUT, ONE_CORE, blpop,
        "list", "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    command!("brpop", -3, BLOCKS, LIST_ACL, KEYS_THEN_TIMEOUT, ONE_CORE, brpop,
        "list", "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    command!("blmove", 6, BLOCKS.with(Flags::DENYOOM), LIST_ACL, KeySpec::range(1, 2, 1), Route::Keys(KeyRouting::Planned(gather::blmove_plan)), blmove,
        "list", "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved."),
    command!("brpoplpush", 4, BLOCKS.with(Flags::DENYOOM), LIST_ACL, KeySpec::range(1, 2, 1), Route::Keys(KeyRouting::Planned(gather::blmove_plan)), brpoplpush,
        "list", "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped."),
    command!("blmpop", -5, BLOCKS, LIST_ACL, KeySpec::counted(2), ONE_CORE, blmpop,
        "list", "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped."),
    command!("bzpopmin", -3, BLOCKS_FAST, ZSET_ACL, KEYS_THEN_TIMEOUT, ONE_CORE, bzpopmin,
        "sorted_set", "5.0.0", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
    command!("bzpopmax", -3, BLOCKS_FAST, ZSET_ACL, KEYS_THEN_TIMEOUT, ONE_CORE, bzpopmax,
        "sorted_set", "5.0.0", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped."),
    command!("bzmpop", -5, BLOCKS, ZSET_SLOW_ACL, KeySpec::counted(2), ONE_CORE, bzmpop,
        "sorted_set", "7.0.0", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped."),
];

/// `COMMAND DOCS` argument syntax of this family.
pub const SYNTAX: &[(&str, &str)] = &[
    ("blpop", "key [key ...] timeout"),
    ("brpop", "key [key ...] timeout"),
    (
        "blmove",
        "source destination LEFT | RIGHT LEFT | RIGHT timeout",
    ),
    ("brpoplpush", "source destination timeout"),
    (
        "blmpop",
        "timeout numkeys key [key ...] LEFT | RIGHT [COUNT count]",
    ),
    ("bzpopmin", "key [key ...] timeout"),
    ("bzpopmax", "key [key ...] timeout"),
    (
        "bzmpop",
        "timeout numkeys key [key ...] MIN | MAX [COUNT count]",
    ),
];

/// A timeout in seconds, as Redis's `getTimeoutFromObjectOrReply` reads
/// it: a float, rounded up to milliseconds; 0 waits for ever.
pub fn parse_timeout(arg: &[u8]) -> Result<Timeout, Reply> {
    let seconds = kiln_store::numeric::parse_f64(arg)
        .ok_or(Reply::error("ERR timeout is not a float or out of range"))?;
    let ms = (seconds * 1000.0).ceil();
    if ms > i64::MAX as f64 {
        return Err(Reply::error("ERR timeout is out of range"));
    }
    if ms < 0.0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    Ok((ms > 0.0).then(|| Duration::from_millis(ms as u64)))
}

/// The keys of a `key [key ...] timeout` command.
fn leading_keys(args: Args<'_>) -> Vec<&[u8]> {
    args.iter().skip(1).take(args.len() - 2).collect()
}

fn pop_one(ctx: &mut Ctx<'_>, args: Args<'_>, end: End) -> Reply {
    let timeout = match parse_timeout(args.get(args.len() - 1)) {
        Ok(t) => t,
        Err(e) => return e,
    };
    match ctx.shard.lmpop(&leading_keys(args), end, 1) {
        Ok(Some((key, mut items))) => match items.pop() {
            Some(item) => Reply::Array(vec![Reply::Bulk(key), Reply::Bulk(item)]),
            None => Reply::NilArray,
        },
        Ok(None) => ctx.block(timeout, Reply::NilArray),
        Err(e) => super::store_error(e),
    }
}

/// `BLPOP key [key ...] timeout`: `[key, element]`.
fn blpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    pop_one(ctx, args, End::Left)
}

fn brpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    pop_one(ctx, args, End::Right)
}

fn move_blocking(ctx: &mut Ctx<'_>, args: Args<'_>, from: End, to: End, timeout: Timeout) -> Reply {
    match ctx.shard.lmove(args.get(1), args.get(2), from, to) {
        Ok(Some(item)) => Reply::Bulk(item),
        Ok(None) => ctx.block(timeout, Reply::Nil),
        Err(e) => super::store_error(e),
    }
}

fn blmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let parsed = parse_end(args.get(3))
        .and_then(|from| Ok((from, parse_end(args.get(4))?)))
        .and_then(|(from, to)| Ok((from, to, parse_timeout(args.get(5))?)));
    match parsed {
        Ok((from, to, timeout)) => move_blocking(ctx, args, from, to, timeout),
        Err(e) => e,
    }
}

fn brpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match parse_timeout(args.get(3)) {
        Ok(timeout) => move_blocking(ctx, args, End::Right, End::Left, timeout),
        Err(e) => e,
    }
}

/// `BLMPOP timeout numkeys key... LEFT | RIGHT [COUNT count]`: the options
/// are checked before the timeout, as Redis does.
fn blmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let parsed = parse_mpop(args, 2, parse_end)
        .and_then(|(keys, end, count)| Ok((keys, end, count, parse_timeout(args.get(1))?)));
    let (keys, end, count, timeout) = match parsed {
        Ok(p) => p,
        Err(e) => return e,
    };
    match ctx.shard.lmpop(&keys, end, count) {
        Ok(None) => ctx.block(timeout, Reply::NilArray),
        popped => reply(popped, mpop_reply),
    }
}

/// `BZPOPMIN key [key ...] timeout`: `[key, member, score]`.
fn zpop_one(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool) -> Reply {
    let timeout = match parse_timeout(args.get(args.len() - 1)) {
        Ok(t) => t,
        Err(e) => return e,
    };
    match ctx.shard.zmpop(&leading_keys(args), 1, max) {
        Ok(Some((key, mut items))) => match items.pop() {
            Some((member, score)) => Reply::Array(vec![
                Reply::Bulk(key),
                Reply::Bulk(member),
                Reply::Double(score),
            ]),
            None => Reply::NilArray,
        },
        Ok(None) => ctx.block(timeout, Reply::NilArray),
        Err(e) => super::store_error(e),
    }
}

fn bzpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    zpop_one(ctx, args, false)
}

fn bzpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    zpop_one(ctx, args, true)
}

fn bzmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let parsed = parse_zmpop(args, 2)
        .and_then(|(keys, max, count)| Ok((keys, max, count, parse_timeout(args.get(1))?)));
    let (keys, max, count, timeout) = match parsed {
        Ok(p) => p,
        Err(e) => return e,
    };
    match ctx.shard.zmpop(&keys, count, max) {
        Ok(None) => ctx.block(timeout, Reply::NilArray),
        popped => reply(popped, zmpop_reply),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_redis() {
        assert_eq!(parse_timeout(b"0"), Ok(None));
        assert_eq!(parse_timeout(b"0.0001"), Ok(Some(Duration::from_millis(1))));
        assert_eq!(parse_timeout(b"1.5"), Ok(Some(Duration::from_millis(1500))));
        assert_eq!(
            parse_timeout(b"-1"),
            Err(Reply::error("ERR timeout is negative"))
        );
        assert_eq!(
            parse_timeout(b"x"),
            Err(Reply::error("ERR timeout is not a float or out of range"))
        );
        assert_eq!(
            parse_timeout(b"nan"),
            Err(Reply::error("ERR timeout is not a float or out of range"))
        );
        assert_eq!(
            parse_timeout(b"inf"),
            Err(Reply::error("ERR timeout is out of range"))
        );
        assert_eq!(
            parse_timeout(b"1e300"),
            Err(Reply::error("ERR timeout is out of range"))
        );
    }
}
