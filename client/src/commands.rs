//! The typed API: one method per command, Rust types in and out.
//!
//! Every method builds its arguments and goes through [`Client::cmd`], so
//! routing, redirections and error replies work the same as for raw commands.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use kiln_net::Reply;

use crate::functions::{FunctionRestorePolicy, LibraryInfo};
use crate::options::{ExpireIf, Expiry, GetExExpiry, ScanOptions, SetIf, SetReply, SetWithOptions};
use crate::slots::SlotTable;
use crate::{Client, Error, Pipeline};

/// An argument: borrowed key/value bytes or a formatted number.
pub(crate) type ArgBytes<'a> = Cow<'a, [u8]>;

pub(crate) fn b(bytes: &(impl AsRef<[u8]> + ?Sized)) -> ArgBytes<'_> {
    Cow::Borrowed(bytes.as_ref())
}

pub(crate) fn n(number: impl ToString) -> ArgBytes<'static> {
    Cow::Owned(number.to_string().into_bytes())
}

pub(crate) fn s(word: &'static str) -> ArgBytes<'static> {
    Cow::Borrowed(word.as_bytes())
}

/// BITOP's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOperation {
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `XOR`
    Xor,
    /// `NOT` (of one key)
    Not,
}

impl BitOperation {
    fn word(self) -> &'static str {
        match self {
            BitOperation::And => "AND",
            BitOperation::Or => "OR",
            BitOperation::Xor => "XOR",
            BitOperation::Not => "NOT",
        }
    }
}

/// Iterates over the keyspace with `SCAN`; made by [`Client::scan_iter`].
pub struct ScanIter<'c> {
    client: &'c mut Client,
    options: ScanOptions,
    cursor: u64,
    batch: std::vec::IntoIter<Bytes>,
    done: bool,
}

impl Iterator for ScanIter<'_> {
    type Item = Result<Bytes, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(key) = self.batch.next() {
                return Some(Ok(key));
            }
            if self.done {
                return None;
            }
            match self.client.scan(self.cursor, &self.options) {
                Ok((cursor, keys)) => {
                    self.cursor = cursor;
                    self.done = cursor == 0;
                    self.batch = keys.into_iter();
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

pub(crate) fn unexpected(expected: &str, reply: &Reply) -> Error {
    let mut shown = format!("{reply:?}");
    shown.truncate(200);
    Error::UnexpectedReply(format!("expected {expected}, got {shown}"))
}

pub(crate) fn ok(reply: Reply) -> Result<(), Error> {
    match reply {
        Reply::Status(_) => Ok(()),
        other => Err(unexpected("OK", &other)),
    }
}

pub(crate) fn int(reply: Reply) -> Result<i64, Error> {
    match reply {
        Reply::Integer(n) => Ok(n),
        Reply::Boolean(b) => Ok(i64::from(b)),
        other => Err(unexpected("an integer", &other)),
    }
}

pub(crate) fn boolean(reply: Reply) -> Result<bool, Error> {
    match reply {
        Reply::Integer(n) => Ok(n != 0),
        Reply::Boolean(b) => Ok(b),
        other => Err(unexpected("an integer", &other)),
    }
}

pub(crate) fn opt_bytes(reply: Reply) -> Result<Option<Bytes>, Error> {
    match reply {
        Reply::Bulk(b) | Reply::Verbatim(_, b) => Ok(Some(b)),
        Reply::Status(s) => Ok(Some(Bytes::from(s.into_owned()))),
        Reply::Nil | Reply::NilArray => Ok(None),
        other => Err(unexpected("a bulk string", &other)),
    }
}

pub(crate) fn bytes(reply: Reply) -> Result<Bytes, Error> {
    match opt_bytes(reply)? {
        Some(b) => Ok(b),
        None => Err(unexpected("a bulk string", &Reply::Nil)),
    }
}

pub(crate) fn string(reply: Reply) -> Result<String, Error> {
    bytes(reply).map(|b| String::from_utf8_lossy(&b).into_owned())
}

pub(crate) fn float(reply: Reply) -> Result<f64, Error> {
    match reply {
        Reply::Double(d) => Ok(d),
        Reply::Integer(n) => Ok(n as f64),
        Reply::Bulk(b) => std::str::from_utf8(&b)
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .ok_or_else(|| unexpected("a float", &Reply::Bulk(b))),
        other => Err(unexpected("a float", &other)),
    }
}

pub(crate) fn items(reply: Reply) -> Result<Vec<Reply>, Error> {
    match reply {
        Reply::Array(items) | Reply::Set(items) => Ok(items),
        other => Err(unexpected("an array", &other)),
    }
}

pub(crate) fn bytes_list(reply: Reply) -> Result<Vec<Bytes>, Error> {
    items(reply)?.into_iter().map(bytes).collect()
}

/// An optional float: nil (RESP2's `$-1`, RESP3's `_`) is `None`.
pub(crate) fn opt_float(reply: Reply) -> Result<Option<f64>, Error> {
    match reply {
        Reply::Nil | Reply::NilArray => Ok(None),
        other => float(other).map(Some),
    }
}

pub(crate) fn opt_int(reply: Reply) -> Result<Option<i64>, Error> {
    match reply {
        Reply::Nil | Reply::NilArray => Ok(None),
        other => int(other).map(Some),
    }
}

/// An array, or nil as no elements (`LPOP key count` of a missing key).
pub(crate) fn items_or_nil(reply: Reply) -> Result<Vec<Reply>, Error> {
    match reply {
        Reply::Nil | Reply::NilArray => Ok(Vec::new()),
        other => items(other),
    }
}

pub(crate) fn bytes_list_or_nil(reply: Reply) -> Result<Vec<Bytes>, Error> {
    items_or_nil(reply)?.into_iter().map(bytes).collect()
}

pub(crate) fn opt_bytes_list(reply: Reply) -> Result<Vec<Option<Bytes>>, Error> {
    items(reply)?.into_iter().map(opt_bytes).collect()
}

pub(crate) fn int_list(reply: Reply) -> Result<Vec<i64>, Error> {
    items(reply)?.into_iter().map(int).collect()
}

pub(crate) fn bool_list(reply: Reply) -> Result<Vec<bool>, Error> {
    items(reply)?.into_iter().map(boolean).collect()
}

/// Pairs in any of the shapes Redis sends them: a RESP3 map, a RESP3 array
/// of 2-element arrays (`ZRANGE ... WITHSCORES`, `HRANDFIELD ... WITHVALUES`),
/// or RESP2's flat `[first, second, first, second, ...]`. Nil is no pairs.
pub(crate) fn pairs(reply: Reply) -> Result<Vec<(Reply, Reply)>, Error> {
    let list = match reply {
        Reply::Map(pairs) | Reply::Pairs(pairs) | Reply::KeyedArrays(pairs) => return Ok(pairs),
        Reply::Nil | Reply::NilArray => return Ok(Vec::new()),
        Reply::Array(list) | Reply::Set(list) => list,
        other => return Err(unexpected("pairs", &other)),
    };
    if matches!(list.first(), Some(Reply::Array(_))) {
        list.into_iter()
            .map(|pair| match pair {
                Reply::Array(two) if two.len() == 2 => {
                    let mut two = two.into_iter();
                    Ok((
                        two.next().unwrap_or(Reply::Nil),
                        two.next().unwrap_or(Reply::Nil),
                    ))
                }
                other => Err(unexpected("a 2-element array", &other)),
            })
            .collect()
    } else if list.len() % 2 == 0 {
        let mut flat = list.into_iter();
        let mut out = Vec::with_capacity(flat.len() / 2);
        while let (Some(first), Some(second)) = (flat.next(), flat.next()) {
            out.push((first, second));
        }
        Ok(out)
    } else {
        Err(unexpected("pairs", &Reply::Array(list)))
    }
}

/// Field, value pairs (`HGETALL`, `HRANDFIELD ... WITHVALUES`).
pub(crate) fn byte_pairs(reply: Reply) -> Result<Vec<(Bytes, Bytes)>, Error> {
    pairs(reply)?
        .into_iter()
        .map(|(first, second)| Ok((bytes(first)?, bytes(second)?)))
        .collect()
}

pub(crate) fn byte_map(reply: Reply) -> Result<HashMap<Bytes, Bytes>, Error> {
    Ok(byte_pairs(reply)?.into_iter().collect())
}

/// Member, score pairs: scores are RESP3 doubles or RESP2 bulk strings.
pub(crate) fn scored(reply: Reply) -> Result<Vec<(Bytes, f64)>, Error> {
    pairs(reply)?
        .into_iter()
        .map(|(member, score)| Ok((bytes(member)?, float(score)?)))
        .collect()
}

/// Exactly `N` elements of an array; nil (a timeout, an empty source) is `None`.
pub(crate) fn opt_tuple<const N: usize>(reply: Reply) -> Result<Option<[Reply; N]>, Error> {
    match reply {
        Reply::Nil | Reply::NilArray => Ok(None),
        Reply::Array(list) if list.len() == N => Ok(list.try_into().ok()),
        other => Err(unexpected(&format!("an array of {N}"), &other)),
    }
}

pub(crate) fn with_keys<'a, K: AsRef<[u8]>>(
    name: &'static str,
    keys: &'a [K],
) -> Vec<ArgBytes<'a>> {
    let mut args = Vec::with_capacity(keys.len() + 1);
    args.push(s(name));
    args.extend(keys.iter().map(b));
    args
}

/// `numkeys key...`, the counted keys of `SINTERCARD`, `ZUNION`, `LMPOP`...
pub(crate) fn counted_keys<'a, K: AsRef<[u8]>>(args: &mut Vec<ArgBytes<'a>>, keys: &'a [K]) {
    args.push(n(keys.len()));
    args.extend(keys.iter().map(b));
}

/// A blocking command's timeout in seconds, fractions allowed (`0` blocks
/// forever).
pub(crate) fn seconds(timeout: Duration) -> ArgBytes<'static> {
    if timeout.subsec_nanos() == 0 {
        n(timeout.as_secs())
    } else {
        n(timeout.as_secs_f64())
    }
}

/// Declares typed commands once for both [`Client`] and [`Pipeline`]:
///
/// ```text
/// /// `HGET key field`
/// fn hget(key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Option<Bytes> = opt_bytes => {
///     vec![s("HGET"), b(&key), b(&field)]
/// }
/// ```
///
/// The block builds the arguments. `Client::hget` sends them and converts
/// the reply with the function after `=`; `Pipeline::hget` queues them (its
/// reply comes back raw from [`Pipeline::query`]). Generic parameters go in
/// `fn name<T: Bound>(...)`.
macro_rules! typed_commands {
    ($(
        $(#[$doc:meta])*
        fn $name:ident $(<$($generic:ident: $bound:path),+>)? ($($param:ident: $ty:ty),* $(,)?)
            -> $out:ty = $convert:expr => $args:block
    )*) => {
        impl $crate::Client {
            $(
                $(#[$doc])*
                pub fn $name $(<$($generic: $bound),+>)? (&mut self, $($param: $ty),*)
                    -> Result<$out, $crate::Error>
                {
                    let args: Vec<$crate::commands::ArgBytes<'_>> = $args;
                    ($convert)(self.cmd(&args)?)
                }
            )*
        }

        impl $crate::Pipeline<'_> {
            $(
                $(#[$doc])*
                pub fn $name $(<$($generic: $bound),+>)? (&mut self, $($param: $ty),*) -> &mut Self {
                    let args: Vec<$crate::commands::ArgBytes<'_>> = $args;
                    self.cmd(&args)
                }
            )*
        }
    };
}

pub(crate) mod geo;
mod hash;
mod list;
mod set;
pub(crate) mod stream;
mod zset;

impl Client {
    /// A [`Pipeline`] on this client.
    pub fn pipeline(&mut self) -> Pipeline<'_> {
        Pipeline::new(self)
    }

    /// `PING` → `"PONG"`
    pub fn ping(&mut self) -> Result<String, Error> {
        string(self.cmd(&["PING"])?)
    }

    /// `ECHO message`
    pub fn echo(&mut self, message: impl AsRef<[u8]>) -> Result<Bytes, Error> {
        bytes(self.cmd(&[s("ECHO"), b(&message)])?)
    }

    /// `GET key`
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, Error> {
        opt_bytes(self.cmd(&[s("GET"), b(&key)])?)
    }

    /// `SET key value`
    pub fn set(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), Error> {
        ok(self.cmd(&[s("SET"), b(&key), b(&value)])?)
    }

    /// `SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT|KEEPTTL]`
    pub fn set_with(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: &SetWithOptions,
    ) -> Result<SetReply, Error> {
        let mut args = vec![s("SET"), b(&key), b(&value)];
        match options.condition {
            Some(SetIf::Nx) => args.push(s("NX")),
            Some(SetIf::Xx) => args.push(s("XX")),
            None => {}
        }
        if options.get {
            args.push(s("GET"));
        }
        match options.expire {
            Some(Expiry::Ex(t)) => args.extend([s("EX"), n(t)]),
            Some(Expiry::Px(t)) => args.extend([s("PX"), n(t)]),
            Some(Expiry::ExAt(t)) => args.extend([s("EXAT"), n(t)]),
            Some(Expiry::PxAt(t)) => args.extend([s("PXAT"), n(t)]),
            Some(Expiry::KeepTtl) => args.push(s("KEEPTTL")),
            None => {}
        }
        let reply = self.cmd(&args)?;
        match (options.get, reply) {
            (true, reply) => opt_bytes(reply).map(SetReply::Previous),
            (false, Reply::Status(_)) => Ok(SetReply::Written),
            (false, Reply::Nil | Reply::NilArray) => Ok(SetReply::NotWritten),
            (false, other) => Err(unexpected("OK or nil", &other)),
        }
    }

    /// `SETNX key value` → whether the key was set.
    pub fn setnx(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<bool, Error> {
        boolean(self.cmd(&[s("SETNX"), b(&key), b(&value)])?)
    }

    /// `SETEX key seconds value`
    pub fn setex(
        &mut self,
        key: impl AsRef<[u8]>,
        seconds: u64,
        value: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        ok(self.cmd(&[s("SETEX"), b(&key), n(seconds), b(&value)])?)
    }

    /// `PSETEX key milliseconds value`
    pub fn psetex(
        &mut self,
        key: impl AsRef<[u8]>,
        millis: u64,
        value: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        ok(self.cmd(&[s("PSETEX"), b(&key), n(millis), b(&value)])?)
    }

    /// `GETSET key value` → the previous value.
    pub fn getset(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<Bytes>, Error> {
        opt_bytes(self.cmd(&[s("GETSET"), b(&key), b(&value)])?)
    }

    /// `GETDEL key`
    pub fn getdel(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>, Error> {
        opt_bytes(self.cmd(&[s("GETDEL"), b(&key)])?)
    }

    /// `GETEX key [EX|PX|EXAT|PXAT|PERSIST]`
    pub fn getex(
        &mut self,
        key: impl AsRef<[u8]>,
        expiry: Option<GetExExpiry>,
    ) -> Result<Option<Bytes>, Error> {
        let mut args = vec![s("GETEX"), b(&key)];
        match expiry {
            Some(GetExExpiry::Ex(t)) => args.extend([s("EX"), n(t)]),
            Some(GetExExpiry::Px(t)) => args.extend([s("PX"), n(t)]),
            Some(GetExExpiry::ExAt(t)) => args.extend([s("EXAT"), n(t)]),
            Some(GetExExpiry::PxAt(t)) => args.extend([s("PXAT"), n(t)]),
            Some(GetExExpiry::Persist) => args.push(s("PERSIST")),
            None => {}
        }
        opt_bytes(self.cmd(&args)?)
    }

    /// `MGET key...` (keys on several cores are gathered by the main port).
    pub fn mget<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<Vec<Option<Bytes>>, Error> {
        opt_bytes_list(self.cmd(&with_keys("MGET", keys))?)
    }

    /// `MSET key value...`
    pub fn mset<K: AsRef<[u8]>, V: AsRef<[u8]>>(&mut self, pairs: &[(K, V)]) -> Result<(), Error> {
        ok(self.cmd(&pairs_args("MSET", pairs))?)
    }

    /// `MSETNX key value...` → whether all keys were set.
    pub fn msetnx<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &mut self,
        pairs: &[(K, V)],
    ) -> Result<bool, Error> {
        boolean(self.cmd(&pairs_args("MSETNX", pairs))?)
    }

    /// `APPEND key value` → the new length.
    pub fn append(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<i64, Error> {
        int(self.cmd(&[s("APPEND"), b(&key), b(&value)])?)
    }

    /// `STRLEN key`
    pub fn strlen(&mut self, key: impl AsRef<[u8]>) -> Result<i64, Error> {
        int(self.cmd(&[s("STRLEN"), b(&key)])?)
    }

    /// `GETRANGE key start end` (inclusive, negative from the end).
    pub fn getrange(
        &mut self,
        key: impl AsRef<[u8]>,
        start: i64,
        end: i64,
    ) -> Result<Bytes, Error> {
        bytes(self.cmd(&[s("GETRANGE"), b(&key), n(start), n(end)])?)
    }

    /// `SETRANGE key offset value` → the new length.
    pub fn setrange(
        &mut self,
        key: impl AsRef<[u8]>,
        offset: u64,
        value: impl AsRef<[u8]>,
    ) -> Result<i64, Error> {
        int(self.cmd(&[s("SETRANGE"), b(&key), n(offset), b(&value)])?)
    }

    /// `SETBIT key offset 0|1` → the bit it had.
    pub fn setbit(&mut self, key: impl AsRef<[u8]>, offset: u64, on: bool) -> Result<bool, Error> {
        boolean(self.cmd(&[s("SETBIT"), b(&key), n(offset), n(u8::from(on))])?)
    }

    /// `GETBIT key offset`
    pub fn getbit(&mut self, key: impl AsRef<[u8]>, offset: u64) -> Result<bool, Error> {
        boolean(self.cmd(&[s("GETBIT"), b(&key), n(offset)])?)
    }

    /// `BITCOUNT key`: the set bits of the whole string.
    pub fn bitcount(&mut self, key: impl AsRef<[u8]>) -> Result<i64, Error> {
        int(self.cmd(&[s("BITCOUNT"), b(&key)])?)
    }

    /// `BITOP op destkey key...` → the result's length. The keys may live
    /// on several cores on the main port.
    pub fn bitop<K: AsRef<[u8]>>(
        &mut self,
        op: BitOperation,
        dest: impl AsRef<[u8]>,
        keys: &[K],
    ) -> Result<i64, Error> {
        let mut args = vec![s("BITOP"), s(op.word()), b(&dest)];
        args.extend(keys.iter().map(b));
        int(self.cmd(&args)?)
    }

    /// `PFADD key element...` → whether the HyperLogLog changed.
    pub fn pfadd<E: AsRef<[u8]>>(
        &mut self,
        key: impl AsRef<[u8]>,
        elements: &[E],
    ) -> Result<bool, Error> {
        let mut args = vec![s("PFADD"), b(&key)];
        args.extend(elements.iter().map(b));
        boolean(self.cmd(&args)?)
    }

    /// `PFCOUNT key...` → the estimated distinct elements of their union.
    pub fn pfcount<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<i64, Error> {
        int(self.cmd(&with_keys("PFCOUNT", keys))?)
    }

    /// `PFMERGE destkey sourcekey...`
    pub fn pfmerge<K: AsRef<[u8]>>(
        &mut self,
        dest: impl AsRef<[u8]>,
        sources: &[K],
    ) -> Result<(), Error> {
        let mut args = vec![s("PFMERGE"), b(&dest)];
        args.extend(sources.iter().map(b));
        ok(self.cmd(&args)?)
    }

    /// `INCR key`
    pub fn incr(&mut self, key: impl AsRef<[u8]>) -> Result<i64, Error> {
        int(self.cmd(&[s("INCR"), b(&key)])?)
    }

    /// `INCRBY key delta`
    pub fn incr_by(&mut self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64, Error> {
        int(self.cmd(&[s("INCRBY"), b(&key), n(delta)])?)
    }

    /// `INCRBYFLOAT key delta`
    pub fn incr_by_float(&mut self, key: impl AsRef<[u8]>, delta: f64) -> Result<f64, Error> {
        float(self.cmd(&[s("INCRBYFLOAT"), b(&key), n(delta)])?)
    }

    /// `DECR key`
    pub fn decr(&mut self, key: impl AsRef<[u8]>) -> Result<i64, Error> {
        int(self.cmd(&[s("DECR"), b(&key)])?)
    }

    /// `DECRBY key delta`
    pub fn decr_by(&mut self, key: impl AsRef<[u8]>, delta: i64) -> Result<i64, Error> {
        int(self.cmd(&[s("DECRBY"), b(&key), n(delta)])?)
    }

    /// `DEL key...` → how many existed.
    pub fn del<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<i64, Error> {
        int(self.cmd(&with_keys("DEL", keys))?)
    }

    /// `UNLINK key...` → how many existed.
    pub fn unlink<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<i64, Error> {
        int(self.cmd(&with_keys("UNLINK", keys))?)
    }

    /// `EXISTS key...` → how many exist (a key named twice counts twice).
    pub fn exists<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<i64, Error> {
        int(self.cmd(&with_keys("EXISTS", keys))?)
    }

    /// `TOUCH key...` → how many exist.
    pub fn touch<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<i64, Error> {
        int(self.cmd(&with_keys("TOUCH", keys))?)
    }

    /// `TYPE key` → `"string"`, `"none"`, ...
    pub fn key_type(&mut self, key: impl AsRef<[u8]>) -> Result<String, Error> {
        string(self.cmd(&[s("TYPE"), b(&key)])?)
    }

    /// `RENAME key newkey`
    pub fn rename(
        &mut self,
        key: impl AsRef<[u8]>,
        new_key: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        ok(self.cmd(&[s("RENAME"), b(&key), b(&new_key)])?)
    }

    /// `RENAMENX key newkey` → whether it was renamed.
    pub fn renamenx(
        &mut self,
        key: impl AsRef<[u8]>,
        new_key: impl AsRef<[u8]>,
    ) -> Result<bool, Error> {
        boolean(self.cmd(&[s("RENAMENX"), b(&key), b(&new_key)])?)
    }

    /// `COPY source destination [REPLACE]` → whether it was copied.
    pub fn copy(
        &mut self,
        source: impl AsRef<[u8]>,
        destination: impl AsRef<[u8]>,
        replace: bool,
    ) -> Result<bool, Error> {
        let mut args = vec![s("COPY"), b(&source), b(&destination)];
        if replace {
            args.push(s("REPLACE"));
        }
        boolean(self.cmd(&args)?)
    }

    fn expire_cmd(
        &mut self,
        name: &'static str,
        key: &[u8],
        when: i64,
        condition: Option<ExpireIf>,
    ) -> Result<bool, Error> {
        let mut args = vec![s(name), b(key), n(when)];
        if let Some(c) = condition {
            args.push(s(c.word()));
        }
        boolean(self.cmd(&args)?)
    }

    /// `EXPIRE key seconds [NX|XX|GT|LT]` → whether the expiry was set.
    pub fn expire(
        &mut self,
        key: impl AsRef<[u8]>,
        seconds: i64,
        condition: Option<ExpireIf>,
    ) -> Result<bool, Error> {
        self.expire_cmd("EXPIRE", key.as_ref(), seconds, condition)
    }

    /// `PEXPIRE key milliseconds [NX|XX|GT|LT]`
    pub fn pexpire(
        &mut self,
        key: impl AsRef<[u8]>,
        millis: i64,
        condition: Option<ExpireIf>,
    ) -> Result<bool, Error> {
        self.expire_cmd("PEXPIRE", key.as_ref(), millis, condition)
    }

    /// `EXPIREAT key unix-seconds [NX|XX|GT|LT]`
    pub fn expireat(
        &mut self,
        key: impl AsRef<[u8]>,
        at: i64,
        condition: Option<ExpireIf>,
    ) -> Result<bool, Error> {
        self.expire_cmd("EXPIREAT", key.as_ref(), at, condition)
    }

    /// `PEXPIREAT key unix-milliseconds [NX|XX|GT|LT]`
    pub fn pexpireat(
        &mut self,
        key: impl AsRef<[u8]>,
        at: i64,
        condition: Option<ExpireIf>,
    ) -> Result<bool, Error> {
        self.expire_cmd("PEXPIREAT", key.as_ref(), at, condition)
    }

    /// `TTL key` → seconds left, -1 without expiry, -2 if missing.
    pub fn ttl(&mut self, key: impl AsRef<[u8]>) -> Result<i64, Error> {
        int(self.cmd(&[s("TTL"), b(&key)])?)
    }

    /// `PTTL key` → milliseconds left, -1 without expiry, -2 if missing.
    pub fn pttl(&mut self, key: impl AsRef<[u8]>) -> Result<i64, Error> {
        int(self.cmd(&[s("PTTL"), b(&key)])?)
    }

    /// `EXPIRETIME key` → unix seconds, -1 without expiry, -2 if missing.
    pub fn expiretime(&mut self, key: impl AsRef<[u8]>) -> Result<i64, Error> {
        int(self.cmd(&[s("EXPIRETIME"), b(&key)])?)
    }

    /// `PEXPIRETIME key` → unix milliseconds, -1 without expiry, -2 if missing.
    pub fn pexpiretime(&mut self, key: impl AsRef<[u8]>) -> Result<i64, Error> {
        int(self.cmd(&[s("PEXPIRETIME"), b(&key)])?)
    }

    /// `PERSIST key` → whether an expiry was removed.
    pub fn persist(&mut self, key: impl AsRef<[u8]>) -> Result<bool, Error> {
        boolean(self.cmd(&[s("PERSIST"), b(&key)])?)
    }

    /// `KEYS pattern` (all cores, through the main port).
    pub fn keys(&mut self, pattern: impl AsRef<[u8]>) -> Result<Vec<Bytes>, Error> {
        bytes_list(self.cmd(&[s("KEYS"), b(&pattern)])?)
    }

    /// `SCAN cursor [MATCH p] [COUNT n] [TYPE t]` → the next cursor (0 when
    /// done) and a batch of keys.
    pub fn scan(&mut self, cursor: u64, options: &ScanOptions) -> Result<(u64, Vec<Bytes>), Error> {
        let mut args = vec![s("SCAN"), n(cursor)];
        if let Some(p) = &options.pattern {
            args.extend([s("MATCH"), b(p)]);
        }
        if let Some(c) = options.count {
            args.extend([s("COUNT"), n(c)]);
        }
        if let Some(t) = &options.key_type {
            args.extend([s("TYPE"), b(t)]);
        }
        let reply = self.cmd(&args)?;
        let shown = format!("{reply:?}");
        let mut parts = items(reply)?.into_iter();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(cursor), Some(keys), None) => {
                let cursor = bytes(cursor)?;
                let cursor = std::str::from_utf8(&cursor)
                    .ok()
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| {
                        Error::UnexpectedReply(format!("invalid SCAN cursor in {shown}"))
                    })?;
                Ok((cursor, bytes_list(keys)?))
            }
            _ => Err(Error::UnexpectedReply(format!(
                "expected [cursor, keys], got {shown}"
            ))),
        }
    }

    /// Every key `SCAN` finds, fetched batch by batch.
    pub fn scan_iter(&mut self, options: ScanOptions) -> ScanIter<'_> {
        ScanIter {
            client: self,
            options,
            cursor: 0,
            batch: Vec::new().into_iter(),
            done: false,
        }
    }

    /// `RANDOMKEY`
    pub fn randomkey(&mut self) -> Result<Option<Bytes>, Error> {
        opt_bytes(self.cmd(&["RANDOMKEY"])?)
    }

    /// `DBSIZE` (the main port counts every core's keys).
    pub fn dbsize(&mut self) -> Result<i64, Error> {
        int(self.cmd(&["DBSIZE"])?)
    }

    /// `FLUSHALL`
    pub fn flushall(&mut self) -> Result<(), Error> {
        ok(self.cmd(&["FLUSHALL"])?)
    }

    /// `FLUSHDB`
    pub fn flushdb(&mut self) -> Result<(), Error> {
        ok(self.cmd(&["FLUSHDB"])?)
    }

    /// `INFO [section]`
    pub fn info(&mut self, section: Option<&str>) -> Result<String, Error> {
        let reply = match section {
            Some(section) => self.cmd(&["INFO", section])?,
            None => self.cmd(&["INFO"])?,
        };
        string(reply)
    }

    /// `CLUSTER SLOTS`, parsed (asks the server; [`Client::slot_map`] is the
    /// table the client routes with).
    pub fn cluster_slots(&mut self) -> Result<SlotTable, Error> {
        let reply = self.main_cmd(&["CLUSTER", "SLOTS"])?;
        SlotTable::from_reply(&reply, &self.main_host())
    }

    /// `SELECT db` on every connection, now and when reconnecting.
    pub fn select(&mut self, db: i64) -> Result<(), Error> {
        ok(self.cmd(&[s("SELECT"), n(db)])?)
    }

    /// `CLIENT SETNAME name` on every connection, now and when reconnecting.
    pub fn client_setname(&mut self, name: &str) -> Result<(), Error> {
        ok(self.main_cmd(&["CLIENT", "SETNAME", name])?)?;
        self.config.name = Some(name.to_owned());
        self.on_node_connections(&["CLIENT", "SETNAME", name]);
        Ok(())
    }

    /// `CLIENT GETNAME` of the main connection.
    pub fn client_getname(&mut self) -> Result<Option<String>, Error> {
        Ok(opt_bytes(self.main_cmd(&["CLIENT", "GETNAME"])?)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// `CLIENT ID` of the main connection.
    pub fn client_id(&mut self) -> Result<i64, Error> {
        int(self.main_cmd(&["CLIENT", "ID"])?)
    }

    /// `FUNCTION LOAD [REPLACE] code` → the library's name. A library that
    /// fails to compile or register is [`Error::Server`], whose message
    /// names the place (`Error compiling library 'lib': lib:3:10: ...`).
    pub fn function_load(
        &mut self,
        code: impl AsRef<[u8]>,
        replace: bool,
    ) -> Result<String, Error> {
        let reply = if replace {
            self.cmd(&[s("FUNCTION"), s("LOAD"), s("REPLACE"), b(&code)])?
        } else {
            self.cmd(&[s("FUNCTION"), s("LOAD"), b(&code)])?
        };
        string(reply)
    }

    /// `FCALL function numkeys key... arg...`, sent straight to the core
    /// owning the keys' slot, like any keyed command. Keys in several slots
    /// go to the main port, which runs the call on their core, or refuses
    /// keys of several cores with `CROSSSLOT`; no keys, any core. A
    /// function's thrown error is [`Error::Server`].
    ///
    /// ```no_run
    /// # let mut client = kiln_client::Client::connect("127.0.0.1:7379")?;
    /// let hits = client.fcall("hit", &["visits"], &["1"])?;
    /// let count = client.fcall_ro("count", &["visits"], &[] as &[&str])?;
    /// # Ok::<(), kiln_client::Error>(())
    /// ```
    pub fn fcall<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &mut self,
        function: &str,
        keys: &[K],
        args: &[A],
    ) -> Result<Reply, Error> {
        self.cmd(&fcall_args("FCALL", function, keys, args))
    }

    /// `FCALL_RO function numkeys key... arg...`: like [`Client::fcall`],
    /// for functions flagged `no-writes`.
    pub fn fcall_ro<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &mut self,
        function: &str,
        keys: &[K],
        args: &[A],
    ) -> Result<Reply, Error> {
        self.cmd(&fcall_args("FCALL_RO", function, keys, args))
    }

    /// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`, parsed.
    pub fn function_list(
        &mut self,
        pattern: Option<&str>,
        with_code: bool,
    ) -> Result<Vec<LibraryInfo>, Error> {
        let mut args = vec![s("FUNCTION"), s("LIST")];
        if let Some(pattern) = pattern {
            args.extend([s("LIBRARYNAME"), b(pattern)]);
        }
        if with_code {
            args.push(s("WITHCODE"));
        }
        LibraryInfo::list_from_reply(self.cmd(&args)?)
    }

    /// `FUNCTION DELETE library`
    pub fn function_delete(&mut self, library: &str) -> Result<(), Error> {
        ok(self.cmd(&["FUNCTION", "DELETE", library])?)
    }

    /// `FUNCTION FLUSH`: deletes every library of this user.
    pub fn function_flush(&mut self) -> Result<(), Error> {
        ok(self.cmd(&["FUNCTION", "FLUSH"])?)
    }

    /// `FUNCTION DUMP` → a payload for [`Client::function_restore`].
    pub fn function_dump(&mut self) -> Result<Bytes, Error> {
        bytes(self.cmd(&["FUNCTION", "DUMP"])?)
    }

    /// `FUNCTION RESTORE payload APPEND|REPLACE|FLUSH`
    pub fn function_restore(
        &mut self,
        payload: impl AsRef<[u8]>,
        policy: FunctionRestorePolicy,
    ) -> Result<(), Error> {
        ok(self.cmd(&[s("FUNCTION"), s("RESTORE"), b(&payload), s(policy.word())])?)
    }
}

fn pairs_args<'a, K: AsRef<[u8]>, V: AsRef<[u8]>>(
    name: &'static str,
    pairs: &'a [(K, V)],
) -> Vec<ArgBytes<'a>> {
    let mut args = Vec::with_capacity(pairs.len() * 2 + 1);
    args.push(s(name));
    for (k, v) in pairs {
        args.push(b(k));
        args.push(b(v));
    }
    args
}

/// `name function numkeys key... arg...`: the key positions
/// [`routing`](crate::routing) reads to pick the core.
pub(crate) fn fcall_args<'a, K: AsRef<[u8]>, A: AsRef<[u8]>>(
    name: &'static str,
    function: &'a str,
    keys: &'a [K],
    args: &'a [A],
) -> Vec<ArgBytes<'a>> {
    let mut all = Vec::with_capacity(3 + keys.len() + args.len());
    all.extend([s(name), b(function), n(keys.len())]);
    all.extend(keys.iter().map(b));
    all.extend(args.iter().map(b));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Reply {
        Reply::bulk_from(text)
    }

    #[test]
    fn pairs_in_every_shape() {
        let expected = vec![
            (Bytes::from("a"), Bytes::from("1")),
            (Bytes::from("b"), Bytes::from("2")),
        ];
        let flat = Reply::Array(vec![bulk("a"), bulk("1"), bulk("b"), bulk("2")]);
        let nested = Reply::Array(vec![
            Reply::Array(vec![bulk("a"), bulk("1")]),
            Reply::Array(vec![bulk("b"), bulk("2")]),
        ]);
        let map = Reply::Map(vec![(bulk("a"), bulk("1")), (bulk("b"), bulk("2"))]);
        for reply in [flat, nested, map] {
            assert_eq!(byte_pairs(reply).unwrap(), expected);
        }
        assert!(byte_pairs(Reply::Array(vec![])).unwrap().is_empty());
        assert!(byte_pairs(Reply::NilArray).unwrap().is_empty());
        assert!(byte_pairs(Reply::Array(vec![bulk("a")])).is_err());
        assert!(byte_pairs(Reply::Array(vec![Reply::Array(vec![bulk("a")])])).is_err());
        assert!(byte_pairs(Reply::Integer(1)).is_err());
    }

    #[test]
    fn scores_as_doubles_or_bulk_strings() {
        let resp2 = Reply::Array(vec![bulk("a"), bulk("1.5"), bulk("b"), bulk("inf")]);
        let resp3 = Reply::Array(vec![
            Reply::Array(vec![bulk("a"), Reply::Double(1.5)]),
            Reply::Array(vec![bulk("b"), Reply::Double(f64::INFINITY)]),
        ]);
        for reply in [resp2, resp3] {
            assert_eq!(
                scored(reply).unwrap(),
                [(Bytes::from("a"), 1.5), (Bytes::from("b"), f64::INFINITY)]
            );
        }
        assert_eq!(float(bulk("-inf")).unwrap(), f64::NEG_INFINITY);
        assert_eq!(opt_float(Reply::Nil).unwrap(), None);
        assert_eq!(opt_float(bulk("2")).unwrap(), Some(2.0));
        assert!(scored(Reply::Array(vec![bulk("a"), bulk("x")])).is_err());
    }

    #[test]
    fn tuples_and_nil() {
        let [a, b] = opt_tuple(Reply::Array(vec![bulk("k"), bulk("v")]))
            .unwrap()
            .unwrap();
        assert_eq!(
            (bytes(a).unwrap(), bytes(b).unwrap()),
            ("k".into(), "v".into())
        );
        assert!(opt_tuple::<2>(Reply::NilArray).unwrap().is_none());
        assert!(opt_tuple::<2>(Reply::Nil).unwrap().is_none());
        assert!(opt_tuple::<3>(Reply::Array(vec![bulk("k")])).is_err());
        assert!(bytes_list_or_nil(Reply::NilArray).unwrap().is_empty());
        assert_eq!(
            bool_list(Reply::Array(vec![Reply::Integer(1), Reply::Boolean(false)])).unwrap(),
            [true, false]
        );
    }

    #[test]
    fn timeouts_in_seconds() {
        let text = |d| String::from_utf8(seconds(d).into_owned()).unwrap();
        assert_eq!(text(Duration::ZERO), "0");
        assert_eq!(text(Duration::from_secs(5)), "5");
        assert_eq!(text(Duration::from_millis(1500)), "1.5");
        assert_eq!(text(Duration::from_millis(100)), "0.1");
    }
}
