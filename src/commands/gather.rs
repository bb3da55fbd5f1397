//! Multi-key collection commands whose keys live on several cores, on the
//! main port: the set and sorted-set algebra (SINTER, SUNIONSTORE,
//! ZINTERCARD, ZRANGESTORE...) and BITOP, the moves between two keys (SMOVE, LMOVE,
//! RPOPLPUSH) and the pops from the first non-empty of several keys
//! (LMPOP, ZMPOP).
//!
//! ```text
//!  SUNIONSTORE d a b    core of a ◄─ PeekRecord a ─┐
//!                       core of b ◄─ PeekRecord b ─┤ step 1: copies of the sources
//!  origin: SUNIONSTORE d a b on a scratch shard ◄──┘ step 2: the command itself
//!                       core of d ◄─ PutRecord d (or DEL d when empty)
//! ```
//!
//! The algebra runs the command's own code over a scratch shard holding
//! copies of its sources, so its semantics, errors and reply are exactly
//! the one-core ones; a STORE form then writes the result to the
//! destination's core (which checks memory there, as any write does).
//!
//! What is atomic: each source is read at one instant of its own core, and
//! the destination is written in one step; the sources are not read at the
//! same instant, and a reader may see the destination before or after the
//! write, never half of it. A move (SMOVE) checks both types, removes the
//! member on the source's core, then adds it on the destination's core; a
//! reader in between sees the member in neither set, and if the add fails
//! (a type changed meanwhile, or memory) the member goes back to the source.
//! LMOVE does the same with an element (popped, pushed, or pushed back at
//! the end it left). LMPOP / ZMPOP ask each key's core in turn, in the
//! order of the keys; each pop is atomic on its core, and a key that
//! fills after its turn was asked is not revisited.

use bytes::Bytes;
use kiln_net::{Args, OwnedArgs, Reply};
use kiln_store::{Shard, ShardConfig, StoreError};

use super::plan::{Finish, Finishing, Job, Output, Plan, Planning};
use super::{Caller, CommandSpec, Ctx, Flags, KeySpec, Out, Site, spec_named};
use crate::stats::CoreStats;

/// Planner of a read-only or STORE algebra command: copies of every source
/// from its core, then [`run_gathered`].
pub fn algebra_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    let mut sources: Vec<&[u8]> = Vec::new();
    for key in sources_of(p.spec, args) {
        if !sources.contains(&key) {
            sources.push(key);
        }
    }
    let parts = sources.into_iter().map(|key| {
        let core = p.shared.slots.owner_of(key);
        (core, Job::PeekRecord(Bytes::copy_from_slice(key)))
    });
    Ok(Plan::new(parts, Finish::Continue(run_gathered)))
}

/// The keys a command reads: all of them, but for a STORE form (a write)
/// the first, which is its destination (PFMERGE reads its destination too).
fn sources_of<'a>(spec: &CommandSpec, args: Args<'a>) -> impl Iterator<Item = &'a [u8]> {
    let skip = usize::from(spec.flags.has(Flags::WRITE) && spec.name != "pfmerge");
    spec.keys
        .positions_in(args)
        .skip(skip)
        .map(move |pos| args.get(pos))
}

/// Runs the command over the gathered copies; a read's reply is the reply,
/// a STORE form continues by writing its destination.
fn run_gathered(f: &Finishing<'_>, outputs: Vec<Output>) -> Result<Plan, Reply> {
    let args = f.args.args();
    let mut scratch = Shard::new(ShardConfig {
        max_value_len: f.shared.settings.proto_max_bulk_len as usize,
        encoding: f.shared.runtime.encoding_limits().0,
    });
    let mut sources: Vec<&[u8]> = Vec::new();
    for key in sources_of(f.spec, args) {
        if !sources.contains(&key) {
            sources.push(key);
        }
    }
    for (key, output) in sources.into_iter().zip(outputs) {
        match output {
            Output::Record(Some(record)) => {
                scratch.put_record(key, record, true);
            }
            Output::Record(None) => {}
            other => return Err(other.into_reply()),
        }
    }
    let reply = run_on(f, &mut scratch, args);
    if !f.spec.flags.has(Flags::WRITE) || reply.is_error() {
        return Err(reply);
    }
    // The destination is the first key (BITOP's comes after its operation).
    let dest = f
        .spec
        .keys
        .positions_in(args)
        .next()
        .map_or(args.get(1), |at| args.get(at));
    let job = match scratch.peek_record(dest) {
        Some(record) => Job::PutRecord {
            key: Bytes::copy_from_slice(dest),
            record,
            replace: true,
        },
        // An empty result deletes the destination, as on one core.
        None => Job::Command(spec("del"), OwnedArgs::new([&b"del"[..], dest])),
    };
    let mut plan = Plan::new(
        [(f.shared.slots.owner_of(dest), job)],
        Finish::Combine(stored),
    );
    plan.carry = vec![Output::Reply(reply)];
    Ok(plan)
}

/// Runs `f`'s command on `shard`, as the request's tenant, on the origin.
fn run_on(f: &Finishing<'_>, shard: &mut Shard, args: Args<'_>) -> Reply {
    // The scratch shard's figures are nobody's: its counters are dropped.
    let mut stats = CoreStats::default();
    let site = Site {
        core: f.core,
        shard,
        others: None,
        shared: f.shared,
        stats: &mut stats,
        functions: None,
        waiters: None,
        evicting: false,
        woken: false,
        journal: None,
    };
    let mut ctx = Ctx::new(site, f.tenant, Caller::Job(&[]), Out::Value);
    (f.spec.run)(&mut ctx, args)
}

/// The STORE form's reply (carried), unless writing the destination failed.
fn stored(_: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    let mut outputs = outputs.into_iter().map(Output::into_reply);
    match (outputs.next(), outputs.next()) {
        (Some(_), Some(err @ Reply::Error(_))) => err,
        (Some(reply), Some(_)) => reply,
        _ => Reply::error("ERR internal: unexpected store step"),
    }
}

/// A command of the table by name (the table holds every name used here).
fn spec(name: &str) -> &'static CommandSpec {
    spec_named(name).unwrap_or_else(|| panic!("command table lacks {name}"))
}

/// One job running `words` as a command on the core owning `key`.
fn command_on(f: &Finishing<'_>, key: &[u8], words: &[&[u8]]) -> (usize, Job) {
    let name = std::str::from_utf8(words[0]).unwrap_or_default();
    let job = Job::Command(spec(name), OwnedArgs::new(words.iter().copied()));
    (f.shared.slots.owner_of(key), job)
}

// ---- SMOVE ---------------------------------------------------------------------

/// SMOVE source destination member: both types first (WRONGTYPE before
/// anything changes).
pub fn smove_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    let type_of = |key: &[u8]| {
        let job = Job::Command(spec("type"), OwnedArgs::new([&b"type"[..], key]));
        (p.shared.slots.owner_of(key), job)
    };
    Ok(Plan::new(
        [type_of(args.get(1)), type_of(args.get(2))],
        Finish::Continue(smove_take),
    ))
}

/// A missing source moves nothing (whatever the destination holds, as
/// Redis answers); else both must be sets: remove the member from the source.
fn smove_take(f: &Finishing<'_>, outputs: Vec<Output>) -> Result<Plan, Reply> {
    let args = f.args.args();
    let mut types = outputs.into_iter().map(Output::into_reply);
    let (Some(source), Some(destination)) = (types.next(), types.next()) else {
        return Err(Reply::error("ERR internal: unexpected TYPE step"));
    };
    if matches!(&source, Reply::Status(t) if t == "none") {
        return Err(Reply::Integer(0));
    }
    for reply in [source, destination] {
        match reply {
            Reply::Status(t) if t == "set" || t == "none" => {}
            err @ Reply::Error(_) => return Err(err),
            _ => return Err(super::store_error(StoreError::WrongType)),
        }
    }
    let (src, member) = (args.get(1), args.get(3));
    Ok(Plan::new(
        [command_on(f, src, &[b"srem", src, member])],
        Finish::Continue(smove_put),
    ))
}

/// Removed: add it to the destination (a member the source did not hold
/// moves nothing).
fn smove_put(f: &Finishing<'_>, outputs: Vec<Output>) -> Result<Plan, Reply> {
    let args = f.args.args();
    match outputs.into_iter().next().map(Output::into_reply) {
        Some(Reply::Integer(1)) => {}
        Some(other @ (Reply::Integer(_) | Reply::Error(_))) => return Err(other),
        _ => return Err(Reply::error("ERR internal: unexpected SREM reply")),
    }
    let (dst, member) = (args.get(2), args.get(3));
    Ok(Plan::new(
        [command_on(f, dst, &[b"sadd", dst, member])],
        Finish::Continue(smove_done),
    ))
}

/// Added: moved. Refused: the member goes back where it was, and the
/// client sees why the move failed.
fn smove_done(f: &Finishing<'_>, outputs: Vec<Output>) -> Result<Plan, Reply> {
    let args = f.args.args();
    let failure = match outputs.into_iter().next().map(Output::into_reply) {
        Some(Reply::Integer(_)) => return Err(Reply::Integer(1)),
        Some(err @ Reply::Error(_)) => err,
        _ => Reply::error("ERR internal: unexpected SADD reply"),
    };
    let (src, member) = (args.get(1), args.get(3));
    let mut plan = Plan::new(
        [command_on(f, src, &[b"sadd", src, member])],
        Finish::Combine(first_output),
    );
    plan.carry = vec![Output::Reply(failure)];
    Ok(plan)
}

/// The first output's reply (a carried one).
fn first_output(_: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    outputs
        .into_iter()
        .next()
        .map_or(Reply::error("ERR internal: no output"), Output::into_reply)
}

// ---- LMOVE, RPOPLPUSH ------------------------------------------------------------

/// LMOVE / RPOPLPUSH source destination: both types first (a missing
/// source is nil; WRONGTYPE before anything changes), as SMOVE.
pub fn lmove_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    if args.get(0).eq_ignore_ascii_case(b"lmove") {
        super::list::parse_end(args.get(3))?;
        super::list::parse_end(args.get(4))?;
    }
    let type_of = |key: &[u8]| {
        let job = Job::Command(spec("type"), OwnedArgs::new([&b"type"[..], key]));
        (p.shared.slots.owner_of(key), job)
    };
    Ok(Plan::new(
        [type_of(args.get(1)), type_of(args.get(2))],
        Finish::Continue(lmove_pop),
    ))
}

/// The ends a move pops from and pushes to: LMOVE's arguments, or
/// RPOPLPUSH's right and left.
fn move_ends(args: Args<'_>) -> (&'static [u8], &'static [u8]) {
    let word = |arg: &[u8]| -> &'static [u8] {
        if arg.eq_ignore_ascii_case(b"left") {
            b"l"
        } else {
            b"r"
        }
    };
    if args.get(0).eq_ignore_ascii_case(b"lmove") || args.get(0).eq_ignore_ascii_case(b"blmove") {
        (word(args.get(3)), word(args.get(4)))
    } else {
        (b"r", b"l")
    }
}

/// `LPOP` / `RPOP` (`end` `l` or `r`, `verb` `pop` or `push`).
fn list_verb(end: &[u8], verb: &[u8]) -> Vec<u8> {
    [end, verb].concat()
}

fn lmove_pop(f: &Finishing<'_>, outputs: Vec<Output>) -> Result<Plan, Reply> {
    let args = f.args.args();
    let mut types = outputs.into_iter().map(Output::into_reply);
    let (Some(source), Some(destination)) = (types.next(), types.next()) else {
        return Err(Reply::error("ERR internal: unexpected TYPE step"));
    };
    if matches!(&source, Reply::Status(t) if t == "none") {
        return Err(Reply::Nil);
    }
    for reply in [source, destination] {
        match reply {
            Reply::Status(t) if t == "list" || t == "none" => {}
            err @ Reply::Error(_) => return Err(err),
            _ => return Err(super::store_error(StoreError::WrongType)),
        }
    }
    let src = args.get(1);
    let pop = list_verb(move_ends(args).0, b"pop");
    Ok(Plan::new(
        [command_on(f, src, &[&pop, src])],
        Finish::Continue(lmove_push),
    ))
}

/// Popped: push it at the destination, carrying the element for the
/// reply (or for its way back).
fn lmove_push(f: &Finishing<'_>, outputs: Vec<Output>) -> Result<Plan, Reply> {
    let args = f.args.args();
    let item = match outputs.into_iter().next().map(Output::into_reply) {
        Some(Reply::Bulk(item)) => item,
        // A blocking move waited with BLPOP / BRPOP: `[key, element]`.
        Some(Reply::Array(mut popped)) if popped.len() == 2 => match popped.pop() {
            Some(Reply::Bulk(item)) => item,
            _ => return Err(Reply::error("ERR internal: unexpected BLPOP reply")),
        },
        Some(other @ (Reply::Nil | Reply::NilArray | Reply::Error(_))) => return Err(other),
        _ => return Err(Reply::error("ERR internal: unexpected POP reply")),
    };
    let dst = args.get(2);
    let push = list_verb(move_ends(args).1, b"push");
    let mut plan = Plan::new(
        [command_on(f, dst, &[&push, dst, &item])],
        Finish::Continue(lmove_done),
    );
    plan.carry = vec![Output::Reply(Reply::Bulk(item))];
    Ok(plan)
}

/// Pushed: the element is the reply. Refused: it goes back to the end of
/// the source it left, and the client sees why the move failed.
fn lmove_done(f: &Finishing<'_>, outputs: Vec<Output>) -> Result<Plan, Reply> {
    let args = f.args.args();
    let mut outputs = outputs.into_iter().map(Output::into_reply);
    let (Some(Reply::Bulk(item)), Some(pushed)) = (outputs.next(), outputs.next()) else {
        return Err(Reply::error("ERR internal: unexpected PUSH step"));
    };
    let failure = match pushed {
        Reply::Integer(_) => return Err(Reply::Bulk(item)),
        err @ Reply::Error(_) => err,
        _ => Reply::error("ERR internal: unexpected PUSH reply"),
    };
    let src = args.get(1);
    let back = list_verb(move_ends(args).0, b"push");
    let mut plan = Plan::new(
        [command_on(f, src, &[&back, src, &item])],
        Finish::Combine(first_output),
    );
    plan.carry = vec![Output::Reply(failure)];
    Ok(plan)
}

/// BLMOVE / BRPOPLPUSH source destination ... timeout across cores: the
/// destination's type first, then a BLPOP / BRPOP of the source on its
/// core (which waits there), then the push as for LMOVE.
pub fn blmove_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    let timeout = if args.get(0).eq_ignore_ascii_case(b"blmove") {
        super::list::parse_end(args.get(3))?;
        super::list::parse_end(args.get(4))?;
        args.get(5)
    } else {
        args.get(3)
    };
    super::blocking::parse_timeout(timeout)?;
    let dst = args.get(2);
    let job = Job::Command(spec("type"), OwnedArgs::new([&b"type"[..], dst]));
    Ok(Plan::new(
        [(p.shared.slots.owner_of(dst), job)],
        Finish::Continue(blmove_wait),
    ))
}

fn blmove_wait(f: &Finishing<'_>, outputs: Vec<Output>) -> Result<Plan, Reply> {
    let args = f.args.args();
    match outputs.into_iter().next().map(Output::into_reply) {
        Some(Reply::Status(t)) if t == "list" || t == "none" => {}
        Some(err @ Reply::Error(_)) => return Err(err),
        _ => return Err(super::store_error(StoreError::WrongType)),
    }
    let (src, timeout) = (args.get(1), args.get(args.len() - 1));
    let blocking_pop = [&b"b"[..], &list_verb(move_ends(args).0, b"pop")].concat();
    Ok(Plan::new(
        [command_on(f, src, &[&blocking_pop, src, timeout])],
        Finish::Continue(lmove_push),
    ))
}

// ---- LMPOP, ZMPOP --------------------------------------------------------------

/// LMPOP / ZMPOP numkeys key... across cores: the command with one key at
/// a time, on that key's core, in order, until one pops something (or
/// fails). The options are checked by the first one.
pub fn mpop_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    mpop_step(p.shared, args, 0)
}

/// The keys of an mpop request (`numkeys` at 1).
fn mpop_keys(args: Args<'_>) -> Vec<usize> {
    KeySpec::counted(1).positions_in(args).collect()
}

/// The command on key number `ordinal` alone: `name 1 key <options>`.
fn mpop_step(
    shared: &crate::shared::Shared,
    args: Args<'_>,
    ordinal: usize,
) -> Result<Plan, Reply> {
    let positions = mpop_keys(args);
    let Some(&at) = positions.get(ordinal) else {
        return Err(Reply::NilArray);
    };
    let key = args.get(at);
    let after = positions.last().map_or(args.len(), |last| last + 1);
    let mut words: Vec<&[u8]> = vec![args.get(0), b"1", key];
    words.extend(args.iter().skip(after));
    let name = std::str::from_utf8(args.get(0))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let job = Job::Command(spec(&name), OwnedArgs::new(words));
    let mut plan = Plan::new(
        [(shared.slots.owner_of(key), job)],
        Finish::Continue(mpop_next),
    );
    plan.carry = vec![Output::Reply(Reply::Integer(ordinal as i64))];
    Ok(plan)
}

fn mpop_next(f: &Finishing<'_>, outputs: Vec<Output>) -> Result<Plan, Reply> {
    let mut outputs = outputs.into_iter().map(Output::into_reply);
    let (Some(Reply::Integer(ordinal)), Some(popped)) = (outputs.next(), outputs.next()) else {
        return Err(Reply::error("ERR internal: unexpected MPOP step"));
    };
    match popped {
        Reply::NilArray => mpop_step(f.shared, f.args.args(), ordinal as usize + 1),
        done => Err(done),
    }
}
