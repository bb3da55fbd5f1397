//! Generic key commands: DEL, UNLINK, EXISTS, TOUCH, TYPE, OBJECT
//! (ENCODING, REFCOUNT, HELP), RENAME, RENAMENX, COPY.
//!
//! ```text
//! RENAME src dst              COPY src dst [DB 0] [REPLACE]
//! ```
//!
//! RENAME and COPY run on one core when both keys live there; otherwise
//! their planners move the whole record between cores (see
//! [`rename_plan`] and [`copy_plan`] for what that promises).

use kiln_net::{Args, Reply};

use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, store_error};
use crate::command;
use crate::commands::plan::{self as fanout, Finish, Finishing, Job, Output, Plan, Planning};

const SUM: Route = Route::Keys(KeyRouting::Split(fanout::sum_integers));
const ONE_KEY: Route = Route::Keys(KeyRouting::SameCore);
const ALL_KEYS: KeySpec = KeySpec::range(1, -1, 1);
const READ_FAST: Flags = Flags::READONLY.with(Flags::FAST);

#[rustfmt::skip]
const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    command!("object|encoding", 3, Flags::READONLY, &["@keyspace", "@read", "@slow"],
        KeySpec::range(2, 2, 1), ONE_KEY, object_encoding,
        "generic", "2.2.3", "Returns the internal encoding of a Redis object."),
    command!("object|refcount", 3, Flags::READONLY, &["@keyspace", "@read", "@slow"],
        KeySpec::range(2, 2, 1), ONE_KEY, object_refcount,
        "generic", "2.2.3", "Returns the reference count of a value of a key."),
    command!("object|freq", 3, Flags::READONLY, &["@keyspace", "@read", "@slow"],
        KeySpec::range(2, 2, 1), ONE_KEY, object_freq,
        "generic", "4.0.0", "Returns the logarithmic access frequency counter of a Redis object."),
    command!("object|idletime", 3, Flags::READONLY, &["@keyspace", "@read", "@slow"],
        KeySpec::range(2, 2, 1), ONE_KEY, object_idletime,
        "generic", "2.2.3", "Returns the time since the last access to a Redis object."),
    command!("object|help", 2, Flags::LOADING.with(Flags::STALE), &["@keyspace", "@slow"],
        KeySpec::NONE, Route::Local, object_help,
        "generic", "6.2.0", "Returns helpful text about the different subcommands."),
];

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("del", -2, Flags::WRITE, &["@keyspace", "@write", "@slow"], ALL_KEYS, SUM, del,
        "generic", "1.0.0", "Deletes one or more keys."),
    command!("unlink", -2, Flags::WRITE.with(Flags::FAST), &["@keyspace", "@write", "@fast"], ALL_KEYS,
        SUM, del, "generic", "4.0.0", "Asynchronously deletes one or more keys."),
    command!("exists", -2, READ_FAST, &["@keyspace", "@read", "@fast"], ALL_KEYS, SUM, exists,
        "generic", "1.0.0", "Determines whether one or more keys exist."),
    command!("touch", -2, READ_FAST, &["@keyspace", "@read", "@fast"], ALL_KEYS, SUM, touch,
        "generic", "3.2.1",
        "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    command!("type", 2, READ_FAST, &["@keyspace", "@read", "@fast"], KeySpec::FIRST, ONE_KEY, key_type,
        "generic", "1.0.0", "Determines the type of value stored at a key."),
    command!("object", -2, Flags::NONE, &["@slow"], KeySpec::NONE, Route::Local,
        object_unknown, "generic", "2.2.3", "A container for object introspection commands.",
        subcommands: OBJECT_SUBCOMMANDS),
    command!("rename", 3, Flags::WRITE, &["@keyspace", "@write", "@slow"], KeySpec::range(1, 2, 1),
        Route::Keys(KeyRouting::Planned(rename_plan)), rename,
        "generic", "1.0.0", "Renames a key and overwrites the destination."),
    command!("renamenx", 3, Flags::WRITE.with(Flags::FAST), &["@keyspace", "@write", "@fast"],
        KeySpec::range(1, 2, 1), Route::Keys(KeyRouting::Planned(rename_plan)), renamenx,
        "generic", "1.0.0", "Renames a key only when the target key name doesn't exist."),
    command!("copy", -3, Flags::WRITE.with(Flags::DENYOOM), &["@keyspace", "@write", "@slow"],
        KeySpec::range(1, 2, 1), Route::Keys(KeyRouting::Planned(copy_plan)), copy,
        "generic", "6.2.0", "Copies the value of a key to a new key."),
];

fn count(args: Args<'_>, mut f: impl FnMut(&[u8]) -> bool) -> Reply {
    Reply::Integer(args.iter().skip(1).filter(|key| f(key)).count() as i64)
}

fn del(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    count(args, |key| {
        let deleted = ctx.shard.del(key);
        if deleted {
            ctx.notify(kiln_store::class::GENERIC, "del", key);
        }
        deleted
    })
}

/// Counts a key named twice twice, as Redis does.
fn exists(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    count(args, |key| ctx.shard.exists(key))
}

fn touch(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    count(args, |key| ctx.shard.touch(key))
}

fn key_type(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    Reply::status(ctx.shard.key_type(args.get(1)).unwrap_or("none"))
}

/// OBJECT with a subcommand it does not have (HELP has its own spec).
fn object_unknown(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    super::unknown_subcommand(args)
}

fn object_encoding(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    ctx.shard
        .object_encoding(args.get(2))
        .map_or(Reply::Nil, Reply::bulk_from)
}

/// Values are never shared between keys, so an existing key's count is 1
/// (Redis reports `INT_MAX` for its shared small integers).
fn object_refcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    if ctx.shard.exists(args.get(2)) {
        Reply::Integer(1)
    } else {
        Reply::Nil
    }
}

/// `OBJECT FREQ`: the key's decayed LFU counter, when its keyspace
/// follows an LFU policy (the tenant's own, or the server's); Redis's
/// error otherwise.
fn object_freq(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let lfu = matches!(ctx.shard.access_mode(), kiln_store::AccessMode::Lfu(_));
    match ctx.shard.object_freq(args.get(2)) {
        None => Reply::Nil,
        Some(freq) if lfu => Reply::Integer(i64::from(freq)),
        Some(_) => Reply::error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ),
    }
}

/// `OBJECT IDLETIME`: seconds since the key was last read or written
/// (without counting this lookup); Redis's error under an LFU policy.
fn object_idletime(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let lfu = matches!(ctx.shard.access_mode(), kiln_store::AccessMode::Lfu(_));
    match ctx.shard.object_idle_seconds(args.get(2)) {
        None => Reply::Nil,
        Some(_) if lfu => Reply::error(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ),
        Some(idle) => Reply::Integer(idle as i64),
    }
}

fn object_help(_: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Print this help.",
    ];
    Reply::Array(LINES.iter().map(|&l| Reply::status(l)).collect())
}

// ---- RENAME / RENAMENX --------------------------------------------------------

/// RENAMENX rather than RENAME, from the request's name.
fn is_nx(args: Args<'_>) -> bool {
    args.get(0).eq_ignore_ascii_case(b"renamenx")
}

/// What a successful rename replies.
fn renamed(args: Args<'_>) -> Reply {
    if is_nx(args) {
        Reply::Integer(1)
    } else {
        Reply::OK
    }
}

fn rename_on_shard(ctx: &mut Ctx<'_>, args: Args<'_>, nx: bool) -> Reply {
    match ctx.shard.rename(args.get(1), args.get(2), nx) {
        Ok(true) if !nx => Reply::OK,
        Ok(done) => done.into(),
        Err(err) => store_error(err),
    }
}

fn rename(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    rename_on_shard(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    rename_on_shard(ctx, args, true)
}

/// RENAME / RENAMENX across cores, as copy-then-delete: peek the record on
/// src's core, put it on dst's core, then delete src only if it still holds
/// that very record. A reader can briefly see both keys, never neither; a
/// write to src that races the rename survives it (the delete compares the
/// stored bytes' identity, not their contents).
fn rename_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    let src = args.get(1);
    let job = Job::PeekRecord(bytes::Bytes::copy_from_slice(src));
    Ok(Plan::new(
        vec![(p.shared.slots.owner_of(src), job)],
        Finish::Continue(rename_put),
    ))
}

fn rename_put(f: &Finishing<'_>, mut outputs: Vec<Output>) -> Result<Plan, Reply> {
    let args = f.args.args();
    let Some(Output::Record(Some(record))) = outputs.pop() else {
        return Err(store_error(kiln_store::StoreError::NoSuchKey));
    };
    let dst = args.get(2);
    let job = Job::PutRecord {
        key: bytes::Bytes::copy_from_slice(dst),
        record: record.clone(),
        replace: !is_nx(args),
    };
    let mut plan = Plan::new(
        vec![(f.shared.slots.owner_of(dst), job)],
        Finish::Continue(rename_del),
    );
    plan.carry = vec![Output::Record(Some(record))];
    Ok(plan)
}

fn rename_del(f: &Finishing<'_>, outputs: Vec<Output>) -> Result<Plan, Reply> {
    let args = f.args.args();
    let mut outputs = outputs.into_iter();
    let (Some(Output::Record(Some(record))), Some(put)) = (outputs.next(), outputs.next()) else {
        return Err(Reply::error("ERR internal: unexpected rename step"));
    };
    match put.into_reply() {
        Reply::Integer(1) => {}
        Reply::Integer(_) => return Err(Reply::Integer(0)),
        other => return Err(other),
    }
    let src = args.get(1);
    let job = Job::DelIfSame {
        key: bytes::Bytes::copy_from_slice(src),
        record,
    };
    Ok(Plan::new(
        vec![(f.shared.slots.owner_of(src), job)],
        Finish::Combine(rename_done),
    ))
}

/// Whether src was still the copied record or had been rewritten, the rename
/// happened.
fn rename_done(f: &Finishing<'_>, _: Vec<Output>) -> Reply {
    renamed(f.args.args())
}

// ---- COPY ---------------------------------------------------------------------

/// COPY's options: `REPLACE`, and `DB n` where only database 0 exists.
fn parse_copy_options(args: Args<'_>) -> Result<bool, Reply> {
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if opt.eq_ignore_ascii_case(b"db") && i + 1 < args.len() {
            let db = super::int_arg(args.get(i + 1))?;
            if i32::try_from(db).is_err() {
                return Err(Reply::error("ERR value is out of range"));
            }
            if db != 0 {
                return Err(Reply::error("ERR DB index is out of range"));
            }
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    if args.get(1) == args.get(2) {
        return Err(Reply::error(
            "ERR source and destination objects are the same",
        ));
    }
    Ok(replace)
}

fn copy(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match parse_copy_options(args) {
        Ok(replace) => ctx.shard.copy(args.get(1), args.get(2), replace).into(),
        Err(reply) => reply,
    }
}

/// COPY across cores: peek src's record, put it on dst's core. Like any
/// read-then-write across cores, a write to src between the steps may or may
/// not be in the copy.
fn copy_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    parse_copy_options(args)?;
    let src = args.get(1);
    let job = Job::PeekRecord(bytes::Bytes::copy_from_slice(src));
    Ok(Plan::new(
        vec![(p.shared.slots.owner_of(src), job)],
        Finish::Continue(copy_put),
    ))
}

fn copy_put(f: &Finishing<'_>, mut outputs: Vec<Output>) -> Result<Plan, Reply> {
    let args = f.args.args();
    let Some(Output::Record(Some(record))) = outputs.pop() else {
        return Err(Reply::Integer(0));
    };
    let replace = parse_copy_options(args)?;
    let dst = args.get(2);
    let job = Job::PutRecord {
        key: bytes::Bytes::copy_from_slice(dst),
        record,
        replace,
    };
    Ok(Plan::single(f.shared.slots.owner_of(dst), job))
}

#[cfg(test)]
mod tests;
