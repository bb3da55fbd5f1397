//! Which keys a command touches, and so which slot (and core) it goes to.
//!
//! A small table of the key positions of the commands Kiln serves, in the
//! shape of Redis's `first key, last key, step` command specs. A command whose
//! keys all hash to one slot goes to the node owning it; keys spread over
//! several slots go to the main port, which splits and gathers them (a core
//! port would refuse with `CROSSSLOT`); keyless commands go to the main port.

use kiln_net::slot::key_slot;

/// Where a command should be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRoute {
    /// No keys (or an unknown command): the main connection.
    Keyless,
    /// Every key hashes to this slot.
    Slot(u16),
    /// Keys in several slots: the main connection.
    CrossSlot,
}

/// Key positions: `args[first..end]` stepping by `step`, after `args[extra]`
/// if set (the destination of `ZUNIONSTORE dst numkeys key...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeyPositions {
    first: usize,
    end: usize,
    step: usize,
    extra: Option<usize>,
}

impl KeyPositions {
    fn indices(self) -> impl Iterator<Item = usize> {
        self.extra
            .into_iter()
            .chain((self.first..self.end.max(self.first)).step_by(self.step))
    }
}

/// The count at `args[at]` of `numkeys key...`, and the end of those keys;
/// `None` if it is not a number or counts past the arguments (the server
/// rejects it; let the main port say so).
fn counted<A: AsRef<[u8]>>(args: &[A], at: usize) -> Option<usize> {
    let numkeys: usize = std::str::from_utf8(args.get(at)?.as_ref())
        .ok()?
        .parse()
        .ok()?;
    let end = numkeys.checked_add(at + 1)?;
    (end <= args.len()).then_some(end)
}

fn key_spec<A: AsRef<[u8]>>(args: &[A]) -> Option<KeyPositions> {
    let name = args.first()?.as_ref();
    let mut upper = [0u8; 24];
    let upper = upper.get_mut(..name.len())?;
    upper.copy_from_slice(name);
    upper.make_ascii_uppercase();
    let all = args.len();
    let spec = |first, end: usize, step| KeyPositions {
        first,
        end: end.min(all),
        step,
        extra: None,
    };
    Some(match &*upper {
        b"GET" | b"SET" | b"SETNX" | b"SETEX" | b"PSETEX" | b"GETSET" | b"GETDEL" | b"GETEX"
        | b"APPEND" | b"STRLEN" | b"GETRANGE" | b"SUBSTR" | b"SETRANGE" | b"INCR" | b"INCRBY"
        | b"INCRBYFLOAT" | b"DECR" | b"DECRBY" | b"EXPIRE" | b"PEXPIRE" | b"EXPIREAT"
        | b"PEXPIREAT" | b"TTL" | b"PTTL" | b"EXPIRETIME" | b"PEXPIRETIME" | b"PERSIST"
        | b"TYPE" | b"DUMP" | b"RESTORE" | b"SETBIT" | b"GETBIT" | b"BITCOUNT" | b"BITPOS"
        | b"BITFIELD" | b"BITFIELD_RO" => spec(1, 2, 1),
        b"BITOP" => spec(2, all, 1),
        b"PFADD" => spec(1, 2, 1),
        b"PFCOUNT" | b"PFMERGE" => spec(1, all, 1),
        // Hashes, sets, sorted sets and lists: one key first.
        b"HSET" | b"HSETNX" | b"HMSET" | b"HGET" | b"HMGET" | b"HGETALL" | b"HDEL" | b"HEXISTS"
        | b"HLEN" | b"HSTRLEN" | b"HKEYS" | b"HVALS" | b"HINCRBY" | b"HINCRBYFLOAT"
        | b"HRANDFIELD" | b"HSCAN" | b"SADD" | b"SREM" | b"SMEMBERS" | b"SISMEMBER"
        | b"SMISMEMBER" | b"SCARD" | b"SPOP" | b"SRANDMEMBER" | b"SSCAN" | b"ZADD" | b"ZINCRBY"
        | b"ZREM" | b"ZSCORE" | b"ZMSCORE" | b"ZCARD" | b"ZCOUNT" | b"ZLEXCOUNT" | b"ZRANGE"
        | b"ZRANGEBYSCORE" | b"ZREVRANGEBYSCORE" | b"ZRANGEBYLEX" | b"ZREVRANGEBYLEX"
        | b"ZREVRANGE" | b"ZRANK" | b"ZREVRANK" | b"ZPOPMIN" | b"ZPOPMAX" | b"ZRANDMEMBER"
        | b"ZREMRANGEBYSCORE" | b"ZREMRANGEBYRANK" | b"ZREMRANGEBYLEX" | b"ZSCAN" | b"LPUSH"
        | b"RPUSH" | b"LPUSHX" | b"RPUSHX" | b"LPOP" | b"RPOP" | b"LRANGE" | b"LINDEX"
        | b"LSET" | b"LINSERT" | b"LLEN" | b"LREM" | b"LTRIM" | b"LPOS" => spec(1, 2, 1),
        b"OBJECT" => spec(2, 3, 1),
        b"MGET" | b"DEL" | b"UNLINK" | b"EXISTS" | b"TOUCH" | b"SINTER" | b"SUNION" | b"SDIFF"
        | b"SINTERSTORE" | b"SUNIONSTORE" | b"SDIFFSTORE" => spec(1, all, 1),
        b"MSET" | b"MSETNX" => spec(1, all, 2),
        b"RENAME" | b"RENAMENX" | b"COPY" | b"SMOVE" | b"ZRANGESTORE" | b"LMOVE" | b"RPOPLPUSH"
        | b"BLMOVE" | b"BRPOPLPUSH" => spec(1, 3, 1),
        // key... timeout
        b"BLPOP" | b"BRPOP" | b"BZPOPMIN" | b"BZPOPMAX" => spec(1, all.saturating_sub(1), 1),
        b"SINTERCARD" | b"ZUNION" | b"ZINTER" | b"ZDIFF" | b"ZINTERCARD" | b"ZMPOP" | b"LMPOP" => {
            spec(2, counted(args, 1)?, 1)
        }
        b"BLMPOP" | b"BZMPOP" => spec(3, counted(args, 2)?, 1),
        b"ZUNIONSTORE" | b"ZINTERSTORE" | b"ZDIFFSTORE" => KeyPositions {
            extra: Some(1),
            ..spec(3, counted(args, 2)?, 1)
        },
        b"GEOADD"
        | b"GEODIST"
        | b"GEOHASH"
        | b"GEOPOS"
        | b"GEOSEARCH"
        | b"GEORADIUS_RO"
        | b"GEORADIUSBYMEMBER_RO" => spec(1, 2, 1),
        b"GEOSEARCHSTORE" => spec(1, 3, 1),
        // The STORE / STOREDIST destination (the last one wins) comes first.
        b"GEORADIUS" | b"GEORADIUSBYMEMBER" => KeyPositions {
            extra: (3..all).rev().find(|&at| {
                let word = args[at - 1].as_ref();
                word.eq_ignore_ascii_case(b"store") || word.eq_ignore_ascii_case(b"storedist")
            }),
            ..spec(1, 2, 1)
        },
        b"FCALL" | b"FCALL_RO" | b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" => {
            spec(3, counted(args, 2)?, 1)
        }
        _ => return None,
    })
}

/// The keys of a command, in order (empty for keyless and unknown commands).
pub fn command_keys<A: AsRef<[u8]>>(args: &[A]) -> Vec<&[u8]> {
    match key_spec(args) {
        Some(s) => s.indices().map(|i| args[i].as_ref()).collect(),
        None => Vec::new(),
    }
}

/// Where to send a command.
pub fn route<A: AsRef<[u8]>>(args: &[A]) -> KeyRoute {
    let Some(s) = key_spec(args) else {
        return KeyRoute::Keyless;
    };
    let mut keys = s.indices().map(|i| &args[i]);
    let Some(first) = keys.next() else {
        return KeyRoute::Keyless;
    };
    let slot = key_slot(first.as_ref());
    if keys.all(|k| key_slot(k.as_ref()) == slot) {
        KeyRoute::Slot(slot)
    } else {
        KeyRoute::CrossSlot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(line: &str) -> Vec<String> {
        let args: Vec<&str> = line.split(' ').collect();
        command_keys(&args)
            .into_iter()
            .map(|k| String::from_utf8(k.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn key_positions() {
        assert_eq!(keys("GET a"), ["a"]);
        assert_eq!(
            keys("GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 km"),
            ["d", "s"]
        );
        assert_eq!(
            keys("GEORADIUS s 1 2 3 km STORE d1 STOREDIST d"),
            ["d", "s"]
        );
        assert_eq!(keys("GEORADIUSBYMEMBER_RO s m 3 km"), ["s"]);
        assert_eq!(keys("get a"), ["a"]);
        assert_eq!(keys("SET a 1 EX 10"), ["a"]);
        assert_eq!(keys("GETRANGE k 0 -1"), ["k"]);
        assert_eq!(keys("SETBIT k 7 1"), ["k"]);
        assert_eq!(keys("BITOP AND d a b"), ["d", "a", "b"]);
        assert_eq!(keys("PFADD h x y"), ["h"]);
        assert_eq!(keys("PFMERGE d a b"), ["d", "a", "b"]);
        assert_eq!(keys("OBJECT ENCODING k"), ["k"]);
        assert_eq!(keys("OBJECT HELP"), Vec::<String>::new());
        assert_eq!(keys("MGET a b c"), ["a", "b", "c"]);
        assert_eq!(keys("DEL a b"), ["a", "b"]);
        assert_eq!(keys("TOUCH a b"), ["a", "b"]);
        assert_eq!(keys("MSET a 1 b 2"), ["a", "b"]);
        assert_eq!(keys("MSETNX a 1 b"), ["a", "b"]);
        assert_eq!(keys("RENAME a b"), ["a", "b"]);
        assert_eq!(keys("COPY a b REPLACE"), ["a", "b"]);
        assert_eq!(keys("FCALL f 2 a b x y"), ["a", "b"]);
        assert_eq!(keys("FCALL_RO f 0 x"), Vec::<String>::new());
        assert_eq!(keys("FCALL f 3 a b"), Vec::<String>::new());
        assert_eq!(keys("FCALL f x a"), Vec::<String>::new());
        assert_eq!(keys("GET"), Vec::<String>::new());
        assert_eq!(keys("PING"), Vec::<String>::new());
        assert_eq!(keys("AVERYLONGCOMMANDNAMEINDEED a"), Vec::<String>::new());
    }

    #[test]
    fn collection_key_positions() {
        assert_eq!(keys("HSET h f v g w"), ["h"]);
        assert_eq!(keys("zremrangebyscore z 1 2"), ["z"]);
        assert_eq!(keys("ZREVRANGEBYSCORE z 2 1"), ["z"]);
        assert_eq!(keys("LPOS l x RANK 2"), ["l"]);
        assert_eq!(keys("SMOVE a b m"), ["a", "b"]);
        assert_eq!(keys("ZRANGESTORE d s 0 -1"), ["d", "s"]);
        assert_eq!(keys("LMOVE a b LEFT RIGHT"), ["a", "b"]);
        assert_eq!(keys("BLMOVE a b LEFT RIGHT 0"), ["a", "b"]);
        assert_eq!(keys("SINTER a b c"), ["a", "b", "c"]);
        assert_eq!(keys("SUNIONSTORE d a b"), ["d", "a", "b"]);
        // The timeout after the keys is not a key.
        assert_eq!(keys("BLPOP a b 0"), ["a", "b"]);
        assert_eq!(keys("BZPOPMIN z 1.5"), ["z"]);
        assert_eq!(keys("BLPOP"), Vec::<String>::new());
        // numkeys key...
        assert_eq!(keys("SINTERCARD 2 a b LIMIT 3"), ["a", "b"]);
        assert_eq!(keys("ZUNION 2 a b WEIGHTS 1 2"), ["a", "b"]);
        assert_eq!(keys("LMPOP 1 l LEFT COUNT 2"), ["l"]);
        assert_eq!(keys("BLMPOP 0 2 a b RIGHT"), ["a", "b"]);
        assert_eq!(keys("BZMPOP 1 1 z MIN"), ["z"]);
        // destination numkeys key...
        assert_eq!(keys("ZUNIONSTORE d 2 a b AGGREGATE MAX"), ["d", "a", "b"]);
        assert_eq!(keys("ZDIFFSTORE d 1 a"), ["d", "a"]);
        // Counts the server would refuse: no keys, the main port answers.
        assert_eq!(keys("ZUNION 3 a b"), Vec::<String>::new());
        assert_eq!(keys("ZINTERSTORE d x a"), Vec::<String>::new());
        assert_eq!(keys("SINTERCARD"), Vec::<String>::new());
    }

    #[test]
    fn collection_routes() {
        let u = KeyRoute::Slot(key_slot(b"u"));
        assert_eq!(route(&["ZUNIONSTORE", "{u}d", "2", "{u}a", "{u}b"]), u);
        // The destination counts: in another slot, the main port gathers.
        assert_eq!(
            route(&["ZUNIONSTORE", "d", "2", "{u}a", "{u}b"]),
            KeyRoute::CrossSlot
        );
        assert_eq!(route(&["BLPOP", "{u}a", "{u}b", "5"]), u);
        assert_eq!(route(&["SINTER", "{u}a", "b"]), KeyRoute::CrossSlot);
        assert_eq!(route(&["HGET", "foo", "f"]), KeyRoute::Slot(12182));
    }

    #[test]
    fn routes() {
        assert_eq!(route(&["GET", "foo"]), KeyRoute::Slot(12182));
        assert_eq!(
            route(&["MGET", "{u}a", "{u}b"]),
            KeyRoute::Slot(key_slot(b"u"))
        );
        assert_eq!(route(&["MGET", "foo", "bar"]), KeyRoute::CrossSlot);
        assert_eq!(
            route(&["MSET", "{t}1", "x", "{t}2", "y"]),
            KeyRoute::Slot(key_slot(b"t"))
        );
        // FCALL's counted keys drive it; its arguments do not.
        assert_eq!(
            route(&["FCALL", "f", "2", "{u}a", "{u}b", "foo"]),
            KeyRoute::Slot(key_slot(b"u"))
        );
        assert_eq!(
            route(&["fcall_ro", "f", "1", "foo", "{u}b"]),
            KeyRoute::Slot(12182)
        );
        assert_eq!(
            route(&["FCALL", "f", "2", "foo", "bar"]),
            KeyRoute::CrossSlot
        );
        assert_eq!(route(&["FCALL", "f", "0", "foo"]), KeyRoute::Keyless);
        assert_eq!(route(&["FCALL", "f", "-1", "foo"]), KeyRoute::Keyless);
        assert_eq!(route(&["PING"]), KeyRoute::Keyless);
        assert_eq!(route(&["DBSIZE"]), KeyRoute::Keyless);
        assert_eq!(route::<&str>(&[]), KeyRoute::Keyless);
        assert_eq!(route(&["DEL"]), KeyRoute::Keyless);
        assert_eq!(
            route(&[b"GET".as_slice(), b"\xff\x00"]),
            KeyRoute::Slot(key_slot(b"\xff\x00"))
        );
    }
}
