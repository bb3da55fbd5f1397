//! Deadline commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL,
//! EXPIRETIME, PEXPIRETIME, PERSIST.
//!
//! ```text
//! EXPIRE key seconds [NX | XX | GT | LT]     TTL key  → -2 missing, -1 no deadline
//! ```
//!
//! Unlike SET's EX, EXPIRE accepts zero and negative times: a deadline not
//! in the future deletes the key (when the condition holds).

use kiln_net::{Args, Reply};
use kiln_store::{ExpireCondition, Ttl};

use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, int_arg};
use crate::command;

const ONE_KEY: Route = Route::Keys(KeyRouting::SameCore);
const WRITE: Flags = Flags::WRITE.with(Flags::FAST);
const READ: Flags = Flags::READONLY.with(Flags::FAST);
const WRITE_ACL: &[&str] = &["@keyspace", "@write", "@fast"];
const READ_ACL: &[&str] = &["@keyspace", "@read", "@fast"];

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("expire", -3, WRITE, WRITE_ACL, KeySpec::FIRST, ONE_KEY, expire,
        "generic", "1.0.0", "Sets the expiration time of a key in seconds."),
    command!("pexpire", -3, WRITE, WRITE_ACL, KeySpec::FIRST, ONE_KEY, pexpire,
        "generic", "2.6.0", "Sets the expiration time of a key in milliseconds."),
    command!("expireat", -3, WRITE, WRITE_ACL, KeySpec::FIRST, ONE_KEY, expireat,
        "generic", "1.2.0", "Sets the expiration time of a key to a Unix timestamp."),
    command!("pexpireat", -3, WRITE, WRITE_ACL, KeySpec::FIRST, ONE_KEY, pexpireat,
        "generic", "2.6.0", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    command!("ttl", 2, READ, READ_ACL, KeySpec::FIRST, ONE_KEY, ttl,
        "generic", "1.0.0", "Returns the expiration time in seconds of a key."),
    command!("pttl", 2, READ, READ_ACL, KeySpec::FIRST, ONE_KEY, pttl,
        "generic", "2.6.0", "Returns the expiration time in milliseconds of a key."),
    command!("expiretime", 2, READ, READ_ACL, KeySpec::FIRST, ONE_KEY, expiretime,
        "generic", "7.0.0", "Returns the expiration time of a key as a Unix timestamp."),
    command!("pexpiretime", 2, READ, READ_ACL, KeySpec::FIRST, ONE_KEY, pexpiretime,
        "generic", "7.0.0", "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    command!("persist", 2, WRITE, WRITE_ACL, KeySpec::FIRST, ONE_KEY, persist,
        "generic", "2.2.0", "Removes the expiration time of a key."),
];

/// EXPIRE's flags as the store applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Condition {
    /// NX, XX, GT or LT.
    when: ExpireCondition,
    /// XX together with LT: the key must already have a deadline, which the
    /// store's LT alone does not require.
    needs_deadline: bool,
}

/// Redis's `parseExtendedExpireArgumentsOrReply`: NX, XX, GT, LT in any
/// number and case; NX excludes the others, GT excludes LT. XX with GT is GT
/// (GT already needs a deadline); XX with LT is LT on keys with a deadline.
fn parse_condition(args: Args<'_>) -> Result<Condition, Reply> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in args.iter().skip(3) {
        let flag = match opt.to_ascii_lowercase().as_slice() {
            b"nx" => &mut nx,
            b"xx" => &mut xx,
            b"gt" => &mut gt,
            b"lt" => &mut lt,
            _ => {
                return Err(Reply::error_owned(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(opt)
                )));
            }
        };
        *flag = true;
    }
    if nx && (xx || gt || lt) {
        return Err(Reply::error(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Reply::error(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let when = match (nx, xx, gt, lt) {
        (true, ..) => ExpireCondition::Nx,
        (_, _, true, _) => ExpireCondition::Gt,
        (_, _, _, true) => ExpireCondition::Lt,
        (_, true, ..) => ExpireCondition::Xx,
        _ => ExpireCondition::Always,
    };
    Ok(Condition {
        when,
        needs_deadline: xx && lt,
    })
}

/// The absolute deadline in unix ms, Redis's way: `amount` (seconds when
/// `seconds`) plus `base`; any overflow is `ERR invalid expire time in
/// '<command>' command`. May be zero or negative (already passed).
fn absolute_ms(amount: &[u8], seconds: bool, base: i64, command: &str) -> Result<i64, Reply> {
    let invalid = || Reply::error_owned(format!("ERR invalid expire time in '{command}' command"));
    let n = int_arg(amount)?;
    let ms = if seconds {
        n.checked_mul(1000).ok_or_else(invalid)?
    } else {
        n
    };
    ms.checked_add(base).ok_or_else(invalid)
}

fn expire_generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    seconds: bool,
    relative: bool,
    command: &str,
) -> Reply {
    let cond = match parse_condition(args) {
        Ok(cond) => cond,
        Err(reply) => return reply,
    };
    let base = if relative {
        ctx.shard.now().min(i64::MAX as u64) as i64
    } else {
        0
    };
    let at = match absolute_ms(args.get(2), seconds, base, command) {
        Ok(at) => at,
        Err(reply) => return reply,
    };
    let key = args.get(1);
    if cond.needs_deadline
        && ctx
            .shard
            .peek_record(key)
            .and_then(|r| r.expire_at)
            .is_none()
    {
        return Reply::Integer(0);
    }
    ctx.shard.expire_at(key, at.max(0) as u64, cond.when).into()
}

fn expire(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    expire_generic(ctx, args, true, true, "expire")
}

fn pexpire(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    expire_generic(ctx, args, false, true, "pexpire")
}

fn expireat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    expire_generic(ctx, args, true, false, "expireat")
}

fn pexpireat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    expire_generic(ctx, args, false, false, "pexpireat")
}

/// TTL-family reply: -2 missing, -1 no deadline, else the remaining (or,
/// `absolute`, the deadline's) time, seconds rounded to nearest unless `ms`.
fn ttl_reply(ttl: Ttl, now: u64, ms: bool, absolute: bool) -> i64 {
    let at = match ttl {
        Ttl::Missing => return -2,
        Ttl::Persistent => return -1,
        Ttl::At(at) => at,
    };
    let left = if absolute { at } else { at.saturating_sub(now) };
    let left = left.min(i64::MAX as u64 - 500);
    (if ms { left } else { (left + 500) / 1000 }) as i64
}

fn ttl_generic(ctx: &mut Ctx<'_>, args: Args<'_>, ms: bool, absolute: bool) -> Reply {
    let ttl = ctx.shard.ttl(args.get(1));
    Reply::Integer(ttl_reply(ttl, ctx.shard.now(), ms, absolute))
}

fn ttl(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    ttl_generic(ctx, args, false, false)
}

fn pttl(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    ttl_generic(ctx, args, true, false)
}

fn expiretime(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    ttl_generic(ctx, args, false, true)
}

fn pexpiretime(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    ttl_generic(ctx, args, true, true)
}

fn persist(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    ctx.shard.persist(args.get(1)).into()
}

#[cfg(test)]
mod tests {
    use kiln_net::{OwnedArgs, Reply};

    use super::*;
    use crate::commands::testbed::TestBed;

    const NOW: i64 = 1_000_000;

    fn cond(parts: &[&str]) -> Result<Condition, Reply> {
        let owned = OwnedArgs::new(parts.iter().map(|p| p.as_bytes()));
        parse_condition(owned.args())
    }

    fn int(n: i64) -> Reply {
        Reply::Integer(n)
    }

    #[test]
    fn condition_flags() {
        let c = |when, needs_deadline| {
            Ok(Condition {
                when,
                needs_deadline,
            })
        };
        assert_eq!(
            cond(&["EXPIRE", "k", "1"]),
            c(ExpireCondition::Always, false)
        );
        assert_eq!(
            cond(&["EXPIRE", "k", "1", "nx"]),
            c(ExpireCondition::Nx, false)
        );
        assert_eq!(
            cond(&["EXPIRE", "k", "1", "XX", "xx"]),
            c(ExpireCondition::Xx, false)
        );
        assert_eq!(
            cond(&["EXPIRE", "k", "1", "XX", "GT"]),
            c(ExpireCondition::Gt, false)
        );
        assert_eq!(
            cond(&["EXPIRE", "k", "1", "lt", "XX"]),
            c(ExpireCondition::Lt, true)
        );
        let nx_err = Err(Reply::error(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
        assert_eq!(cond(&["EXPIRE", "k", "1", "NX", "XX"]), nx_err);
        assert_eq!(cond(&["EXPIRE", "k", "1", "GT", "NX"]), nx_err);
        assert_eq!(
            cond(&["EXPIRE", "k", "1", "GT", "LT"]),
            Err(Reply::error(
                "ERR GT and LT options at the same time are not compatible"
            ))
        );
        assert_eq!(
            cond(&["EXPIRE", "k", "1", "ZZ"]),
            Err(Reply::error("ERR Unsupported option ZZ"))
        );
    }

    #[test]
    fn absolute_times_and_overflow() {
        assert_eq!(absolute_ms(b"10", true, NOW, "expire"), Ok(NOW + 10_000));
        assert_eq!(absolute_ms(b"-10", false, NOW, "pexpire"), Ok(NOW - 10));
        assert_eq!(absolute_ms(b"5", true, 0, "expireat"), Ok(5000));
        let bad = Err(Reply::error("ERR invalid expire time in 'expire' command"));
        assert_eq!(absolute_ms(b"9223372036854775", true, NOW, "expire"), bad);
        assert_eq!(absolute_ms(b"-9223372036854776", true, NOW, "expire"), bad);
        assert_eq!(
            absolute_ms(b"9223372036854775807", false, 1, "pexpire"),
            Err(Reply::error("ERR invalid expire time in 'pexpire' command"))
        );
        assert_eq!(
            absolute_ms(b"x", true, NOW, "expire"),
            Err(crate::commands::errors::NOT_INTEGER)
        );
    }

    #[test]
    fn ttl_rounding() {
        assert_eq!(ttl_reply(Ttl::Missing, 0, false, false), -2);
        assert_eq!(ttl_reply(Ttl::Persistent, 0, true, false), -1);
        assert_eq!(ttl_reply(Ttl::At(2_499), 1_000, false, false), 1);
        assert_eq!(ttl_reply(Ttl::At(2_500), 1_000, false, false), 2);
        assert_eq!(ttl_reply(Ttl::At(2_500), 1_000, true, false), 1_500);
        assert_eq!(ttl_reply(Ttl::At(900), 1_000, true, false), 0);
        assert_eq!(ttl_reply(Ttl::At(2_500), 1_000, true, true), 2_500);
        assert_eq!(ttl_reply(Ttl::At(2_500), 1_000, false, true), 3);
    }

    #[test]
    fn expire_then_ttl() {
        let mut bed = TestBed::new();
        assert_eq!(bed.run(&["EXPIRE", "k", "10"]), int(0));
        assert_eq!(bed.run(&["TTL", "k"]), int(-2));
        bed.run(&["SET", "k", "v"]);
        assert_eq!(bed.run(&["TTL", "k"]), int(-1));
        assert_eq!(bed.run(&["PEXPIRETIME", "k"]), int(-1));
        assert_eq!(bed.run(&["EXPIRE", "k", "10"]), int(1));
        assert_eq!(bed.run(&["TTL", "k"]), int(10));
        assert_eq!(bed.run(&["PTTL", "k"]), int(10_000));
        assert_eq!(bed.run(&["PEXPIRETIME", "k"]), int(NOW + 10_000));
        assert_eq!(bed.run(&["EXPIRETIME", "k"]), int(NOW / 1000 + 10));
        assert_eq!(bed.run(&["PEXPIRE", "k", "1500"]), int(1));
        assert_eq!(bed.run(&["PTTL", "k"]), int(1500));
        assert_eq!(bed.run(&["EXPIREAT", "k", "2000"]), int(1));
        assert_eq!(bed.run(&["PEXPIRETIME", "k"]), int(2_000_000));
        assert_eq!(bed.run(&["PEXPIREAT", "k", "1500000"]), int(1));
        assert_eq!(bed.run(&["PTTL", "k"]), int(500_000));
        assert_eq!(bed.run(&["PERSIST", "k"]), int(1));
        assert_eq!(bed.run(&["PERSIST", "k"]), int(0));
        assert_eq!(bed.run(&["TTL", "k"]), int(-1));
    }

    #[test]
    fn past_deadlines_delete() {
        let mut bed = TestBed::new();
        bed.run(&["SET", "a", "v"]);
        assert_eq!(bed.run(&["EXPIRE", "a", "-1"]), int(1));
        assert_eq!(bed.run(&["EXISTS", "a"]), int(0));
        bed.run(&["SET", "b", "v"]);
        assert_eq!(bed.run(&["PEXPIREAT", "b", "0"]), int(1));
        assert_eq!(bed.run(&["EXISTS", "b"]), int(0));
        bed.run(&["SET", "c", "v"]);
        assert_eq!(bed.run(&["EXPIREAT", "c", "-100"]), int(1));
        assert_eq!(bed.run(&["GET", "c"]), Reply::Nil);
    }

    #[test]
    fn conditions_through_the_table() {
        let mut bed = TestBed::new();
        bed.run(&["SET", "k", "v"]);
        assert_eq!(bed.run(&["EXPIRE", "k", "100", "XX"]), int(0));
        assert_eq!(bed.run(&["EXPIRE", "k", "100", "GT"]), int(0));
        assert_eq!(bed.run(&["EXPIRE", "k", "100", "XX", "LT"]), int(0));
        assert_eq!(bed.run(&["TTL", "k"]), int(-1));
        assert_eq!(bed.run(&["EXPIRE", "k", "100", "NX"]), int(1));
        assert_eq!(bed.run(&["EXPIRE", "k", "200", "NX"]), int(0));
        assert_eq!(bed.run(&["EXPIRE", "k", "50", "GT"]), int(0));
        assert_eq!(bed.run(&["EXPIRE", "k", "200", "gt"]), int(1));
        assert_eq!(bed.run(&["EXPIRE", "k", "300", "LT"]), int(0));
        assert_eq!(bed.run(&["EXPIRE", "k", "150", "XX", "LT"]), int(1));
        assert_eq!(bed.run(&["TTL", "k"]), int(150));
        bed.run(&["SET", "p", "v"]);
        assert_eq!(bed.run(&["EXPIRE", "p", "100", "LT"]), int(1));
        assert_eq!(
            bed.run(&["EXPIRE", "k", "1", "NX", "GT"]),
            Reply::error("ERR NX and XX, GT or LT options at the same time are not compatible")
        );
        assert_eq!(
            bed.run(&["EXPIRE", "k", "99999999999999999", "GT"]),
            Reply::error("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            bed.run(&["PEXPIRE", "k", "1.5"]),
            crate::commands::errors::NOT_INTEGER
        );
        assert_eq!(bed.run(&["TTL", "k"]), int(150));
    }

    #[test]
    fn expiry_is_lazy_on_read() {
        let mut bed = TestBed::new();
        bed.run(&["SET", "k", "v", "PX", "100"]);
        bed.shard.set_now(NOW as u64 + 99);
        assert_eq!(bed.run(&["PTTL", "k"]), int(1));
        assert_eq!(bed.run(&["TTL", "k"]), int(0));
        bed.shard.set_now(NOW as u64 + 100);
        assert_eq!(bed.run(&["PTTL", "k"]), int(-2));
    }

    #[test]
    fn arity() {
        let mut bed = TestBed::new();
        assert_eq!(
            bed.run(&["EXPIRE", "k"]),
            Reply::error("ERR wrong number of arguments for 'expire' command")
        );
        assert_eq!(
            bed.run(&["TTL", "k", "x"]),
            Reply::error("ERR wrong number of arguments for 'ttl' command")
        );
    }
}
