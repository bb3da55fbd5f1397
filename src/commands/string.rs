//! String commands: GET, SET, SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX,
//! APPEND, STRLEN, GETRANGE, SETRANGE, INCR, INCRBY, INCRBYFLOAT, DECR,
//! DECRBY, MGET, MSET, MSETNX.
//!
//! ```text
//! SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]
//! GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]
//! MSETNX key value [key value ...]
//! ```
//!
//! Deadlines are resolved here to absolute unix ms against the shard's clock
//! ([`resolve_deadline`]), with Redis's overflow checks; the shard only ever
//! sees absolute times.

use bytes::Bytes;
use kiln_net::{Args, OwnedArgs, Reply};
use kiln_store::{ExpireUpdate, SetCondition, SetExpire, SetOptions};

use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, int_arg, store_error};
use crate::command;
use crate::commands::plan::{self as fanout, Finish, Finishing, Job, Output, Plan, Planning};
use crate::shared::Shared;

const READ: &[&str] = &["@read", "@string", "@fast"];
const WRITE_FAST: &[&str] = &["@write", "@string", "@fast"];
const WRITE_SLOW: &[&str] = &["@write", "@string", "@slow"];
const GROWS: Flags = Flags::WRITE.with(Flags::DENYOOM);
const GROWS_FAST: Flags = GROWS.with(Flags::FAST);
const ONE_KEY: Route = Route::Keys(KeyRouting::SameCore);

/// MSET, named so core/fanout.rs's unit test can split a request with it.
#[rustfmt::skip]
const MSET: CommandSpec = command!(
    "mset", -3, GROWS, WRITE_SLOW, KeySpec::range(1, -1, 2),
    Route::Keys(KeyRouting::Split(fanout::all_ok)), mset,
    "string", "1.0.1", "Atomically creates or modifies the string values of one or more keys."
);

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("get", 2, Flags::READONLY.with(Flags::FAST), READ, KeySpec::FIRST, ONE_KEY, get,
        "string", "1.0.0", "Returns the string value of a key."),
    command!("set", -3, GROWS, WRITE_SLOW, KeySpec::FIRST, ONE_KEY, set,
        "string", "1.0.0",
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    command!("setnx", 3, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, setnx,
        "string", "1.0.0", "Set the string value of a key only when the key doesn't exist."),
    command!("setex", 4, GROWS, WRITE_SLOW, KeySpec::FIRST, ONE_KEY, setex,
        "string", "2.0.0",
        "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
    command!("psetex", 4, GROWS, WRITE_SLOW, KeySpec::FIRST, ONE_KEY, psetex,
        "string", "2.6.0",
        "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
    command!("getset", 3, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, getset,
        "string", "1.0.0", "Returns the previous string value of a key after setting it to a new value."),
    command!("getdel", 2, Flags::WRITE.with(Flags::FAST), WRITE_FAST, KeySpec::FIRST, ONE_KEY, getdel,
        "string", "6.2.0", "Returns the string value of a key after deleting the key."),
    command!("getex", -2, Flags::WRITE.with(Flags::FAST), WRITE_FAST, KeySpec::FIRST, ONE_KEY, getex,
        "string", "6.2.0", "Returns the string value of a key after setting its expiration time."),
    command!("append", 3, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, append,
        "string", "2.0.0",
        "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    command!("strlen", 2, Flags::READONLY.with(Flags::FAST), READ, KeySpec::FIRST, ONE_KEY, strlen,
        "string", "2.2.0", "Returns the length of a string value."),
    command!("getrange", 4, Flags::READONLY, &["@read", "@string", "@slow"], KeySpec::FIRST, ONE_KEY,
        getrange, "string", "2.4.0", "Returns a substring of the string stored at a key."),
    command!("setrange", 4, GROWS, WRITE_SLOW, KeySpec::FIRST, ONE_KEY, setrange,
        "string", "2.2.0",
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
    command!("incr", 2, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, incr,
        "string", "1.0.0",
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    command!("incrby", 3, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, incrby,
        "string", "1.0.0",
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    command!("incrbyfloat", 3, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, incrbyfloat,
        "string", "2.6.0",
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    command!("decr", 2, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, decr,
        "string", "1.0.0",
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    command!("decrby", 3, GROWS_FAST, WRITE_FAST, KeySpec::FIRST, ONE_KEY, decrby,
        "string", "1.0.0",
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    command!("mget", -2, Flags::READONLY.with(Flags::FAST), READ, KeySpec::range(1, -1, 1),
        Route::Keys(KeyRouting::Split(fanout::scatter_by_key)), mget,
        "string", "1.0.0", "Atomically returns the string values of one or more keys."),
    MSET,
    command!("msetnx", -3, GROWS, WRITE_SLOW, KeySpec::range(1, -1, 2),
        Route::Keys(KeyRouting::Planned(msetnx_plan)), msetnx,
        "string", "1.0.1",
        "Atomically modifies the string values of one or more keys only when all keys don't exist."),
];

// ---- argument parsing -----------------------------------------------------

/// How an EX-family argument counts time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeUnit {
    /// EX: seconds from now.
    Ex,
    /// PX: milliseconds from now.
    Px,
    /// EXAT: unix seconds.
    ExAt,
    /// PXAT: unix milliseconds.
    PxAt,
}

impl TimeUnit {
    fn from_option(opt: &[u8]) -> Option<TimeUnit> {
        [
            (&b"ex"[..], TimeUnit::Ex),
            (b"px", TimeUnit::Px),
            (b"exat", TimeUnit::ExAt),
            (b"pxat", TimeUnit::PxAt),
        ]
        .into_iter()
        .find(|(name, _)| opt.eq_ignore_ascii_case(name))
        .map(|(_, unit)| unit)
    }
}

/// SET / GETEX style deadline (Redis's `getExpireMillisecondsOrReply`): a
/// positive integer, converted to absolute unix ms; zero, negative or
/// overflowing → `ERR invalid expire time in '<command>' command`.
pub(crate) fn resolve_deadline(
    amount: &[u8],
    unit: TimeUnit,
    now: u64,
    command: &str,
) -> Result<u64, Reply> {
    let invalid = || Reply::error_owned(format!("ERR invalid expire time in '{command}' command"));
    let n = int_arg(amount)?;
    let seconds = matches!(unit, TimeUnit::Ex | TimeUnit::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(invalid());
    }
    let ms = if seconds { n * 1000 } else { n };
    let at = match unit {
        TimeUnit::Ex | TimeUnit::Px => ms.checked_add(i64::try_from(now).map_err(|_| invalid())?),
        TimeUnit::ExAt | TimeUnit::PxAt => Some(ms),
    };
    at.filter(|&t| t > 0).map(|t| t as u64).ok_or_else(invalid)
}

/// Which command's options [`parse_string_options`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OptionsOf {
    Set,
    GetEx,
}

/// SET's and GETEX's options before their deadline is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct StringOptions<'a> {
    condition: SetCondition,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<(TimeUnit, &'a [u8])>,
}

/// Redis 7's `parseExtendedStringArgumentsOrReply`: options from `args[from]`
/// on; a repeated option is fine, a conflicting one (NX with XX, two kinds
/// of deadline, KEEPTTL or PERSIST with a deadline) is a syntax error.
fn parse_string_options<'a>(
    args: Args<'a>,
    from: usize,
    of: OptionsOf,
) -> Result<StringOptions<'a>, Reply> {
    let mut o = StringOptions::default();
    let mut i = from;
    while i < args.len() {
        let opt = args.get(i);
        let is = |name: &str| opt.eq_ignore_ascii_case(name.as_bytes());
        let set = of == OptionsOf::Set;
        if is("nx") && set && o.condition != SetCondition::IfPresent {
            o.condition = SetCondition::IfAbsent;
        } else if is("xx") && set && o.condition != SetCondition::IfAbsent {
            o.condition = SetCondition::IfPresent;
        } else if is("get") && set {
            o.get = true;
        } else if is("keepttl") && set && o.expire.is_none() {
            o.keep_ttl = true;
        } else if is("persist") && !set && o.expire.is_none() {
            o.persist = true;
        } else {
            let unit = TimeUnit::from_option(opt).filter(|&unit| {
                !o.keep_ttl
                    && !o.persist
                    && o.expire.is_none_or(|(u, _)| u == unit)
                    && i + 1 < args.len()
            });
            let Some(unit) = unit else {
                return Err(errors::SYNTAX);
            };
            o.expire = Some((unit, args.get(i + 1)));
            i += 1;
        }
        i += 1;
    }
    Ok(o)
}

/// Parses and resolves SET's options against `now`.
fn parse_set_options(args: Args<'_>, now: u64) -> Result<SetOptions, Reply> {
    let o = parse_string_options(args, 3, OptionsOf::Set)?;
    let expire = match o.expire {
        Some((unit, amount)) => SetExpire::At(resolve_deadline(amount, unit, now, "set")?),
        None if o.keep_ttl => SetExpire::Keep,
        None => SetExpire::Clear,
    };
    Ok(SetOptions {
        condition: o.condition,
        expire,
        get: o.get,
    })
}

/// SETRANGE's offset: an integer, not negative.
fn parse_offset(arg: &[u8]) -> Result<usize, Reply> {
    let n = int_arg(arg)?;
    usize::try_from(n).map_err(|_| Reply::error("ERR offset is out of range"))
}

/// DECRBY's amount, negated: `i64::MIN` cannot be.
fn decrement(arg: &[u8]) -> Result<i64, Reply> {
    int_arg(arg)?
        .checked_neg()
        .ok_or(Reply::error("ERR decrement would overflow"))
}

/// MSET / MSETNX need key, value pairs.
fn check_pairs(args: Args<'_>, name: &str) -> Result<(), Reply> {
    // Key, value pairs after the name make an odd count.
    if args.len() < 3 || args.len() & 1 == 0 {
        return Err(Reply::error_owned(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    Ok(())
}

fn value(args: Args<'_>, i: usize) -> Bytes {
    Bytes::copy_from_slice(args.get(i))
}

fn reply_or_error<T>(result: Result<T, Reply>, f: impl FnOnce(T) -> Reply) -> Reply {
    result.map_or_else(|e| e, f)
}

// ---- commands ---------------------------------------------------------------

fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match ctx.shard.get_ref(args.get(1)) {
        Ok(Some(value)) => ctx.out.bulk(value),
        Ok(None) => Reply::Nil,
        Err(err) => store_error(err),
    }
}

fn set(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let opts = match parse_set_options(args, ctx.shard.now()) {
        Ok(opts) => opts,
        Err(reply) => return reply,
    };
    match ctx.shard.set(args.get(1), value(args, 2), opts) {
        Err(err) => store_error(err),
        Ok(outcome) if opts.get => Reply::bulk_or_nil(outcome.old),
        Ok(outcome) if outcome.written => Reply::OK,
        Ok(_) => Reply::Nil,
    }
}

fn setnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let opts = SetOptions {
        condition: SetCondition::IfAbsent,
        ..SetOptions::default()
    };
    ctx.shard
        .set(args.get(1), value(args, 2), opts)
        .map_or_else(store_error, |o| o.written.into())
}

fn set_with_deadline(ctx: &mut Ctx<'_>, args: Args<'_>, unit: TimeUnit, name: &str) -> Reply {
    let at = match resolve_deadline(args.get(2), unit, ctx.shard.now(), name) {
        Ok(at) => at,
        Err(reply) => return reply,
    };
    let opts = SetOptions {
        expire: SetExpire::At(at),
        ..SetOptions::default()
    };
    ctx.shard
        .set(args.get(1), value(args, 3), opts)
        .map_or_else(store_error, |_| Reply::OK)
}

fn setex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    set_with_deadline(ctx, args, TimeUnit::Ex, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    set_with_deadline(ctx, args, TimeUnit::Px, "psetex")
}

fn getset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let opts = SetOptions {
        get: true,
        ..SetOptions::default()
    };
    ctx.shard
        .set(args.get(1), value(args, 2), opts)
        .map_or_else(store_error, |o| Reply::bulk_or_nil(o.old))
}

fn getdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    ctx.shard
        .get_del(args.get(1))
        .map_or_else(store_error, Reply::bulk_or_nil)
}

fn getex(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let o = match parse_string_options(args, 2, OptionsOf::GetEx) {
        Ok(o) => o,
        Err(reply) => return reply,
    };
    let update = match o.expire {
        None if o.persist => Ok(ExpireUpdate::Persist),
        None => Ok(ExpireUpdate::Unchanged),
        Some((unit, amount)) => {
            resolve_deadline(amount, unit, ctx.shard.now(), "getex").map(ExpireUpdate::At)
        }
    };
    match update {
        Ok(update) => ctx
            .shard
            .get_ex(args.get(1), update)
            .map_or_else(store_error, Reply::bulk_or_nil),
        // Redis validates the deadline only once it found a string there.
        Err(invalid) => match ctx.shard.get(args.get(1)) {
            Ok(None) => Reply::Nil,
            Ok(Some(_)) => invalid,
            Err(err) => store_error(err),
        },
    }
}

fn append(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    ctx.shard
        .append(args.get(1), args.get(2))
        .map_or_else(store_error, |n| Reply::Integer(n as i64))
}

fn strlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    ctx.shard
        .strlen(args.get(1))
        .map_or_else(store_error, |n| Reply::Integer(n as i64))
}

fn getrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let range = int_arg(args.get(2)).and_then(|start| Ok((start, int_arg(args.get(3))?)));
    reply_or_error(range, |(start, end)| {
        ctx.shard
            .get_range(args.get(1), start, end)
            .map_or_else(store_error, Reply::Bulk)
    })
}

fn setrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply_or_error(parse_offset(args.get(2)), |offset| {
        ctx.shard
            .set_range(args.get(1), offset, args.get(3))
            .map_or_else(store_error, |n| Reply::Integer(n as i64))
    })
}

fn incr_by(ctx: &mut Ctx<'_>, key: &[u8], delta: i64) -> Reply {
    ctx.shard
        .incr_by(key, delta)
        .map_or_else(store_error, Reply::Integer)
}

fn incr(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    incr_by(ctx, args.get(1), 1)
}

fn decr(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    incr_by(ctx, args.get(1), -1)
}

fn incrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply_or_error(int_arg(args.get(2)), |delta| {
        incr_by(ctx, args.get(1), delta)
    })
}

fn decrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply_or_error(decrement(args.get(2)), |delta| {
        incr_by(ctx, args.get(1), delta)
    })
}

fn incrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let delta = kiln_store::numeric::parse_f64(args.get(2)).ok_or(errors::NOT_FLOAT);
    reply_or_error(delta, |delta| {
        ctx.shard
            .incr_by_float(args.get(1), delta)
            .map_or_else(store_error, Reply::Bulk)
    })
}

fn mget(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    // A key holding another type reads as nil, as in Redis.
    let values = args
        .iter()
        .skip(1)
        .map(|key| ctx.shard.get(key).map_or(Reply::Nil, Reply::bulk_or_nil))
        .collect();
    Reply::Array(values)
}

/// Writes every pair; the caller has checked the count.
fn set_pairs(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    for i in (1..args.len()).step_by(2) {
        if let Err(err) = ctx
            .shard
            .set(args.get(i), value(args, i + 1), SetOptions::default())
        {
            return store_error(err);
        }
        ctx.notify(kiln_store::class::STRING, "set", args.get(i));
    }
    Reply::OK
}

fn mset(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    reply_or_error(check_pairs(args, "mset"), |()| set_pairs(ctx, args))
}

/// MSETNX with every key on this core: atomic, since nothing else runs on
/// the shard between the check and the writes.
fn msetnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    if let Err(reply) = check_pairs(args, "msetnx") {
        return reply;
    }
    let any = (1..args.len())
        .step_by(2)
        .any(|i| ctx.shard.peek_record(args.get(i)).is_some());
    if any {
        return Reply::Integer(0);
    }
    match set_pairs(ctx, args) {
        Reply::Status(_) => Reply::Integer(1),
        err => err,
    }
}

// ---- cross-core MSETNX ------------------------------------------------------
//
// When the keys span cores, MSETNX is check-then-set: step 1 asks every
// owner core whether any of its keys exists, step 2 writes each core's pairs.
// It is NOT atomic across cores: a writer that creates one of the keys
// between the two steps is overwritten, and a reader can see some pairs
// written before others. The single-core form (`msetnx` above) is atomic.

/// One sub-command per owner core: `name` followed by that core's keys (and,
/// with `pairs`, each key's value).
fn per_owner(
    shared: &Shared,
    args: Args<'_>,
    name: &str,
    pairs: bool,
) -> Result<Vec<(usize, Job)>, Reply> {
    let spec = super::spec_named(&name.to_ascii_lowercase()).ok_or(super::errors::NOT_HERE)?;
    let name = name.as_bytes();
    let mut parts: Vec<(usize, OwnedArgs)> = Vec::new();
    for i in (1..args.len()).step_by(2) {
        let core = shared.slots.owner_of(args.get(i));
        let part = match parts.iter().position(|(c, _)| *c == core) {
            Some(p) => p,
            None => {
                parts.push((core, OwnedArgs::new([name])));
                parts.len() - 1
            }
        };
        parts[part].1.push(args.get(i));
        if pairs {
            parts[part].1.push(args.get(i + 1));
        }
    }
    let parts = parts
        .into_iter()
        .map(|(core, a)| (core, Job::Command(spec, a)))
        .collect();
    Ok(parts)
}

fn msetnx_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    check_pairs(args, "msetnx")?;
    let parts = per_owner(p.shared, args, "EXISTS", false)?;
    Ok(Plan::new(parts, Finish::Continue(msetnx_write)))
}

fn msetnx_write(f: &Finishing<'_>, outputs: Vec<Output>) -> Result<Plan, Reply> {
    match fanout::sum_integers(f, outputs) {
        Reply::Integer(0) => {
            let parts = per_owner(f.shared, f.args.args(), "MSET", true)?;
            Ok(Plan::new(parts, Finish::Combine(msetnx_done)))
        }
        Reply::Integer(_) => Err(Reply::Integer(0)),
        err => Err(err),
    }
}

fn msetnx_done(f: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    match fanout::all_ok(f, outputs) {
        Reply::Status(_) => Reply::Integer(1),
        err => err,
    }
}

#[cfg(test)]
mod tests;
