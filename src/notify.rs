//! Keyspace notifications: `notify-keyspace-events`, per tenant, with
//! Redis's event classes, event names and channels.
//!
//! While a tenant wants events (its notification flags, or a key trigger
//! of its functions), its shard records what happens to keys
//! ([`kiln_store::events`]): the store notes what no command names (`new`,
//! `expired`, the `del` of an emptied collection, `keymiss`), and
//! [`command_events`] adds what each command names, from its arguments
//! and reply, after it ran. [`publishes`] turns a command's events into
//! the messages Redis publishes:
//!
//! ```text
//! PUBLISH __keyspace@0__:<key>   <event>     (flag K)
//! PUBLISH __keyevent@0__:<event> <key>       (flag E)
//! ```
//!
//! They go through the tenant's pub/sub (another tenant never sees them),
//! once the command is done.

use bytes::{BufMut, Bytes, BytesMut};
use kiln_net::{Args, Reply};
use kiln_store::{KeyEvent, Shard, class};

use crate::commands::CommandSpec;
use crate::commands::pubsub::{Kind, Publish};

/// The letters of `notify-keyspace-events`, as Redis reads them.
const LETTERS: &[(u8, u16)] = &[
    (b'A', class::ALL),
    (b'g', class::GENERIC),
    (b'$', class::STRING),
    (b'l', class::LIST),
    (b's', class::SET),
    (b'h', class::HASH),
    (b'z', class::ZSET),
    (b'x', class::EXPIRED),
    (b'e', class::EVICTED),
    (b'K', class::KEYSPACE),
    (b'E', class::KEYEVENT),
    (b't', class::STREAM),
    (b'm', class::KEY_MISS),
    (b'd', class::MODULE),
    (b'n', class::NEW),
];

/// The error for a letter that is not a class (Redis's text).
pub const INVALID_FLAGS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// The flags a `notify-keyspace-events` value names; `None` for an unknown
/// letter.
pub fn parse_flags(value: &[u8]) -> Option<u16> {
    value.iter().try_fold(0, |flags, letter| {
        LETTERS
            .iter()
            .find(|(l, _)| l == letter)
            .map(|(_, bits)| flags | bits)
    })
}

/// `flags` written as Redis writes them (`CONFIG GET`): `A` for all the
/// classes it covers, then `K`, `E` and `m`.
pub fn format_flags(flags: u16) -> String {
    let mut out = String::new();
    if flags & class::ALL == class::ALL {
        out.push('A');
    } else {
        let classes = [
            ('g', class::GENERIC),
            ('$', class::STRING),
            ('l', class::LIST),
            ('s', class::SET),
            ('h', class::HASH),
            ('z', class::ZSET),
            ('x', class::EXPIRED),
            ('e', class::EVICTED),
            ('t', class::STREAM),
            ('d', class::MODULE),
            ('n', class::NEW),
        ];
        out.extend(classes.iter().filter(|(_, b)| flags & b != 0).map(|p| p.0));
    }
    for (letter, bits) in [
        ('K', class::KEYSPACE),
        ('E', class::KEYEVENT),
        ('m', class::KEY_MISS),
    ] {
        if flags & bits != 0 {
            out.push(letter);
        }
    }
    out
}

/// Whether `flags` publish anything at all: a channel kind and a class.
pub fn publishing(flags: u16) -> bool {
    flags & (class::KEYSPACE | class::KEYEVENT) != 0
        && flags & !(class::KEYSPACE | class::KEYEVENT) != 0
}

/// The messages `events` publish under `flags`, in order.
pub fn publishes(flags: u16, events: &[KeyEvent], mut send: impl FnMut(Publish)) {
    for event in events {
        let (bits, name) = event.kind.class_and_name();
        if flags & bits == 0 {
            continue;
        }
        if flags & class::KEYSPACE != 0 {
            send(Publish {
                kind: Kind::Channel,
                channel: channel(b"__keyspace@0__:", &event.key),
                message: Bytes::from_static(name.as_bytes()),
            });
        }
        if flags & class::KEYEVENT != 0 {
            send(Publish {
                kind: Kind::Channel,
                channel: channel(b"__keyevent@0__:", name.as_bytes()),
                message: event.key.clone(),
            });
        }
    }
}

fn channel(prefix: &[u8], rest: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(prefix.len() + rest.len());
    out.put_slice(prefix);
    out.put_slice(rest);
    out.freeze()
}

/// Records the events `spec` names for what it did with `args`, answering
/// `reply` (not an error) on `shard`, as Redis's command notifies them.
/// Store-level events (`new`, `expired`, the `del` of an emptied
/// collection, `keymiss`) are the store's; `DEL`/`UNLINK` name theirs as
/// they delete, and `ZADD` in the store, which alone knows whether a
/// score changed.
pub fn command_events(shard: &mut Shard, spec: &CommandSpec, args: Args<'_>, reply: &Reply) {
    use class::{GENERIC, HASH, LIST, SET, STRING, ZSET};
    let name = spec.name;
    let key = |at: usize| (at < args.len()).then(|| args.get(at));
    let count = match reply {
        Reply::Integer(n) => *n,
        _ => 0,
    };
    let nil = matches!(reply, Reply::Nil | Reply::NilArray) || is_empty_array(reply);
    macro_rules! emit {
        ($key:expr, $class:expr, $event:expr) => {
            if let Some(key) = $key {
                shard.push_event(key, $class, $event, true);
            }
        };
    }
    match name {
        "set" if set_wrote(args, reply) => {
            emit!(key(1), STRING, "set");
            if has_word(args, 3, &["ex", "px", "exat", "pxat"]) {
                emit!(key(1), GENERIC, "expire");
            }
        }
        "setnx" if count == 0 => {}
        "setnx" | "getset" => emit!(key(1), STRING, "set"),
        "setex" | "psetex" => {
            emit!(key(1), STRING, "set");
            emit!(key(1), GENERIC, "expire");
        }
        "append" => emit!(key(1), STRING, "append"),
        "setrange" if !args.get(3).is_empty() => emit!(key(1), STRING, "setrange"),
        "incr" | "decr" | "incrby" | "decrby" => emit!(key(1), STRING, "incrby"),
        "incrbyfloat" => emit!(key(1), STRING, "incrbyfloat"),
        "getdel" if !nil => emit!(key(1), GENERIC, "del"),
        "getex" if !nil => {
            if has_word(args, 2, &["persist"]) {
                emit!(key(1), GENERIC, "persist");
            } else if has_word(args, 2, &["ex", "px", "exat", "pxat"]) {
                // A deadline already past deletes the key instead.
                let gone = shard.stored(args.get(1)).is_none();
                emit!(key(1), GENERIC, if gone { "del" } else { "expire" });
            }
        }
        "setbit" => emit!(key(1), STRING, "setbit"),
        "bitfield" if has_word(args, 2, &["set", "incrby"]) => emit!(key(1), STRING, "setbit"),
        "bitop" if count > 0 => emit!(key(2), STRING, "set"),
        "pfadd" if count > 0 => emit!(key(1), STRING, "pfadd"),
        "pfmerge" => emit!(key(1), STRING, "pfadd"),
        "expire" | "pexpire" | "expireat" | "pexpireat" if count > 0 => {
            // A deadline already past deletes the key instead.
            let gone = shard.stored(args.get(1)).is_none();
            emit!(key(1), GENERIC, if gone { "del" } else { "expire" });
        }
        "persist" if count > 0 => emit!(key(1), GENERIC, "persist"),
        "rename" | "renamenx" => {
            let renamed = matches!(reply, Reply::Status(_)) || count > 0;
            if renamed && args.get(1) != args.get(2) {
                emit!(key(1), GENERIC, "rename_from");
                emit!(key(2), GENERIC, "rename_to");
            }
        }
        "copy" if count > 0 => emit!(key(2), GENERIC, "copy_to"),
        "restore" => emit!(key(1), GENERIC, "restore"),
        "sort" if count > 0 => {
            if let Some(at) = word_at(args, 2, "store") {
                emit!(key(at + 1), LIST, "sortstore");
            }
        }
        "lpush" | "lpushx" if count > 0 => emit!(key(1), LIST, "lpush"),
        "rpush" | "rpushx" if count > 0 => emit!(key(1), LIST, "rpush"),
        "lpop" | "rpop" if !nil => emit!(key(1), LIST, name),
        "linsert" if count > 0 => emit!(key(1), LIST, "linsert"),
        "lset" => emit!(key(1), LIST, "lset"),
        "lrem" if count > 0 => emit!(key(1), LIST, "lrem"),
        // Notified whenever the list existed, trimmed to nothing or not.
        "ltrim" if shard.stored(args.get(1)).is_some() || shard.emptied(args.get(1)) => {
            emit!(key(1), LIST, "ltrim");
        }
        "lmove" | "blmove" | "rpoplpush" | "brpoplpush" if !nil => {
            let (from, to) = match name {
                "lmove" | "blmove" => (side(args.get(3)), side(args.get(4))),
                _ => ("rpop", "lpop"),
            };
            emit!(key(2), LIST, if to == "lpop" { "lpush" } else { "rpush" });
            emit!(key(1), LIST, from);
        }
        "blpop" | "brpop" => {
            if let Some(popped) = first_bulk(reply) {
                emit!(
                    Some(popped),
                    LIST,
                    if name == "blpop" { "lpop" } else { "rpop" }
                );
            }
        }
        "lmpop" | "blmpop" | "zmpop" | "bzmpop" => {
            let (class, event) = match (name, mpop_side(args)) {
                ("lmpop" | "blmpop", true) => (LIST, "lpop"),
                ("lmpop" | "blmpop", false) => (LIST, "rpop"),
                (_, true) => (ZSET, "zpopmin"),
                (_, false) => (ZSET, "zpopmax"),
            };
            emit!(first_bulk(reply), class, event);
        }
        "hset" | "hmset" => emit!(key(1), HASH, "hset"),
        "hsetnx" if count > 0 => emit!(key(1), HASH, "hset"),
        "hdel" if count > 0 => emit!(key(1), HASH, "hdel"),
        "hincrby" => emit!(key(1), HASH, "hincrby"),
        "hincrbyfloat" => emit!(key(1), HASH, "hincrbyfloat"),
        "sadd" if count > 0 => emit!(key(1), SET, "sadd"),
        "srem" if count > 0 => emit!(key(1), SET, "srem"),
        "spop" if !nil => emit!(key(1), SET, "spop"),
        "smove" if count > 0 && args.get(1) != args.get(2) => {
            emit!(key(1), SET, "srem");
            // Redis adds to the destination after deleting an emptied source.
            shard.push_event(args.get(2), SET, "sadd", false);
        }
        "sinterstore" | "sunionstore" | "sdiffstore" if count > 0 => emit!(key(1), SET, name),
        "zincrby" => {} // the store names `zincr`
        "zrem" if count > 0 => emit!(key(1), ZSET, "zrem"),
        "zremrangebyscore" | "zremrangebyrank" | "zremrangebylex" if count > 0 => {
            emit!(key(1), ZSET, name);
        }
        "zpopmin" | "zpopmax" if !nil => emit!(key(1), ZSET, name),
        "bzpopmin" | "bzpopmax" => emit!(first_bulk(reply), ZSET, &name[1..]),
        "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore" if count > 0 => {
            emit!(key(1), ZSET, name);
        }
        // GEOADD's `zadd` is the store's (ZADD's own rule).
        "geosearchstore" if count > 0 => emit!(key(1), ZSET, "geosearchstore"),
        "georadius" | "georadiusbymember" if count > 0 => {
            // The last STORE / STOREDIST wins, as Redis reads them.
            let at = (6..args.len()).rev().find(|&at| {
                let w = args.get(at - 1);
                w.eq_ignore_ascii_case(b"store") || w.eq_ignore_ascii_case(b"storedist")
            });
            if let Some(at) = at {
                emit!(key(at), ZSET, "georadiusstore");
            }
        }
        _ => {}
    }
}

/// Whether `SET` wrote: without `GET` its reply says so; with `GET` (which
/// answers the old value) only `NX` on an existing key or `XX` on a
/// missing one did not.
fn set_wrote(args: Args<'_>, reply: &Reply) -> bool {
    if !has_word(args, 3, &["get"]) {
        return !matches!(reply, Reply::Nil);
    }
    let existed = !matches!(reply, Reply::Nil);
    !(has_word(args, 3, &["nx"]) && existed || has_word(args, 3, &["xx"]) && !existed)
}

/// Whether an argument from `from` on is one of `words`, in any case.
fn has_word(args: Args<'_>, from: usize, words: &[&str]) -> bool {
    args.iter()
        .skip(from)
        .any(|a| words.iter().any(|w| a.eq_ignore_ascii_case(w.as_bytes())))
}

/// Where `word` first appears from `from` on.
fn word_at(args: Args<'_>, from: usize, word: &str) -> Option<usize> {
    (from..args.len()).find(|&at| args.get(at).eq_ignore_ascii_case(word.as_bytes()))
}

/// `LEFT` → the pop event of that side's end.
fn side(word: &[u8]) -> &'static str {
    if word.eq_ignore_ascii_case(b"left") {
        "lpop"
    } else {
        "rpop"
    }
}

/// Whether an `*MPOP` pops from the left (`LEFT` / `MIN`).
fn mpop_side(args: Args<'_>) -> bool {
    has_word(args, 2, &["left", "min"])
}

/// The key a blocking or multi-key pop answered from: its reply's first
/// element.
fn first_bulk(reply: &Reply) -> Option<&[u8]> {
    match reply {
        Reply::Array(items) => match items.first() {
            Some(Reply::Bulk(key)) => Some(key),
            _ => None,
        },
        _ => None,
    }
}

fn is_empty_array(reply: &Reply) -> bool {
    matches!(reply, Reply::Array(items) | Reply::Set(items) if items.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_and_print_as_redis_does() {
        assert_eq!(parse_flags(b""), Some(0));
        assert_eq!(
            parse_flags(b"KEA"),
            Some(class::ALL | class::KEYSPACE | class::KEYEVENT)
        );
        assert_eq!(format_flags(parse_flags(b"KEA").unwrap()), "AKE");
        assert_eq!(format_flags(parse_flags(b"Eg$lshzxetd").unwrap()), "AE");
        assert_eq!(format_flags(parse_flags(b"Kgx").unwrap()), "gxK");
        assert_eq!(format_flags(parse_flags(b"nmE").unwrap()), "nEm");
        assert_eq!(format_flags(parse_flags(b"AmnKE").unwrap()), "AKEm");
        assert_eq!(parse_flags(b"KEq"), None);
        assert!(!publishing(parse_flags(b"A").unwrap()));
        assert!(!publishing(parse_flags(b"KE").unwrap()));
        assert!(publishing(parse_flags(b"Kx").unwrap()));
    }

    #[test]
    fn an_event_publishes_on_the_channels_its_flags_ask_for() {
        let events = [
            KeyEvent {
                key: Bytes::from_static(b"k"),
                kind: kiln_store::EventKind::Named(class::STRING, "set"),
            },
            KeyEvent {
                key: Bytes::from_static(b"k"),
                kind: kiln_store::EventKind::Expired,
            },
        ];
        let mut sent = Vec::new();
        publishes(parse_flags(b"KE$").unwrap(), &events, |p| {
            sent.push((p.channel, p.message));
        });
        let want = [
            (&b"__keyspace@0__:k"[..], &b"set"[..]),
            (b"__keyevent@0__:set", b"k"),
        ];
        assert_eq!(sent.len(), 2);
        for ((channel, message), (c, m)) in sent.iter().zip(want) {
            assert_eq!((&channel[..], &message[..]), (c, m));
        }
    }
}
