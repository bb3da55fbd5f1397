//! `DUMP` and `RESTORE`: a value as Redis's RDB payload, so a key moves
//! between Kiln and Redis (or between tenants, or servers) either way.
//!
//! ```text
//! DUMP key
//! RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
//! ```
//!
//! The payload format is [`kiln_persist::rdb`]'s. `IDLETIME` and `FREQ` are
//! checked as Redis checks them and otherwise ignored: Kiln keeps no access
//! clock or frequency per key.

use bytes::Bytes;
use kiln_net::{Args, Reply};
use kiln_persist::rdb::{self, Payload};
use kiln_store::{EncodingLimits, End, Hash, List, Record, Set, Value, ZSet};

use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, int_arg};
use crate::command;

const ONE_KEY: Route = Route::Keys(KeyRouting::SameCore);

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("dump", 2, Flags::READONLY, &["@keyspace", "@read", "@slow"], KeySpec::FIRST, ONE_KEY, dump,
        "generic", "2.6.0", "Returns a serialized representation of the value stored at a key."),
    command!("restore", -4, Flags::WRITE.with(Flags::DENYOOM), &["@keyspace", "@write", "@slow", "@dangerous"],
        KeySpec::FIRST, ONE_KEY, restore,
        "generic", "2.6.0", "Creates a key from the serialized representation of a value."),
];

fn dump(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match ctx.shard.peek_record(args.get(1)) {
        Some(record) => Reply::Bulk(rdb::dump(&record.value).into()),
        None => Reply::Nil,
    }
}

fn restore(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let (mut replace, mut absolute) = (false, false);
    let mut at = 4;
    while at < args.len() {
        let option = args.get(at);
        let value = (at + 1 < args.len()).then(|| args.get(at + 1));
        if option.eq_ignore_ascii_case(b"REPLACE") {
            replace = true;
        } else if option.eq_ignore_ascii_case(b"ABSTTL") {
            absolute = true;
        } else if option.eq_ignore_ascii_case(b"IDLETIME")
            && let Some(value) = value
        {
            match int_arg(value) {
                Ok(n) if n >= 0 => {}
                Ok(_) => return Reply::error("ERR Invalid IDLETIME value, must be >= 0"),
                Err(e) => return e,
            }
            at += 1;
        } else if option.eq_ignore_ascii_case(b"FREQ")
            && let Some(value) = value
        {
            match int_arg(value) {
                Ok(0..=255) => {}
                Ok(_) => {
                    return Reply::error("ERR Invalid FREQ value, must be >= 0 and <= 255");
                }
                Err(e) => return e,
            }
            at += 1;
        } else {
            return errors::SYNTAX;
        }
        at += 1;
    }
    let ttl = match int_arg(args.get(2)) {
        Ok(ttl) if ttl >= 0 => ttl as u64,
        Ok(_) => return Reply::error("ERR Invalid TTL value, must be >= 0"),
        Err(e) => return e,
    };
    let key = args.get(1);
    if !replace && ctx.shard.exists(key) {
        return Reply::error("BUSYKEY Target key name already exists.");
    }
    // A payload may expand (LZF, compact encodings): at most to what one
    // argument may be.
    let budget = crate::shared::LiveSettings::get(&ctx.shared.runtime.proto_max_bulk_len) as usize;
    let payload = match rdb::restore(args.get(3), budget) {
        Ok(payload) => payload,
        Err(e) => return Reply::error_owned(format!("ERR {e}")),
    };
    let now = ctx.shard.now();
    let expire_at = match (ttl, absolute) {
        (0, _) => None,
        (at, true) => Some(at),
        (ms, false) => Some(now.saturating_add(ms)),
    };
    let record = Record {
        value: build(payload, &ctx.shard.config().encoding),
        expire_at,
        access: 0,
    };
    // A deadline already past deletes the key, as Redis does.
    ctx.shard.put_record(key, record, true);
    Reply::OK
}

/// The store's value for a payload, in the encodings its size calls for.
pub(crate) fn build(payload: Payload, limits: &EncodingLimits) -> Value {
    match payload {
        Payload::String(s) => Value::String(s),
        Payload::List(items) => {
            let mut list = List::new();
            for chunk in items.chunks(128) {
                let refs: Vec<&[u8]> = chunk.iter().map(Bytes::as_ref).collect();
                list.push(End::Right, &refs, limits);
            }
            Value::List(Box::new(list))
        }
        Payload::Set(members) => {
            let mut set = Set::new();
            members.iter().for_each(|m| {
                set.add(m, limits);
            });
            Value::Set(Box::new(set))
        }
        Payload::Hash(pairs) => {
            let mut hash = Hash::new();
            pairs.iter().for_each(|(f, v)| {
                hash.insert(f, v, limits);
            });
            Value::Hash(Box::new(hash))
        }
        Payload::ZSet(entries) => {
            let mut zset = ZSet::new();
            entries.iter().for_each(|(m, score)| {
                zset.insert(m, *score, limits);
            });
            Value::ZSet(Box::new(zset))
        }
        Payload::Stream(stream) => Value::Stream(stream),
    }
}
