//! List commands, for [`Client`] and [`Pipeline`](crate::Pipeline), and the
//! blocking list and sorted-set pops ([`Client`] only).
//!
//! # Blocking commands and the read timeout
//!
//! `BLPOP`, `BRPOP`, `BLMOVE`, `BLMPOP`, `BZPOPMIN`, `BZPOPMAX` and `BZMPOP`
//! wait on the server for up to their `timeout`. A client built with
//! [`ClientBuilder::read_timeout`](crate::ClientBuilder::read_timeout) would
//! otherwise give up (and drop the connection) before the server answers, so
//! for the duration of such a call the socket's read timeout becomes the
//! command's timeout plus the configured read timeout, and no timeout at all
//! for `timeout` zero (block forever). The next call restores it. They are not
//! offered on [`Pipeline`](crate::Pipeline): a blocked command would hold back
//! the replies of every command queued behind it on that connection.

use std::time::Duration;

use bytes::Bytes;
use kiln_net::Reply;

use super::zset::{opt_key_member_score, popped_scored};
use super::{
    ArgBytes, b, bytes, bytes_list, bytes_list_or_nil, counted_keys, int, int_list, n, ok,
    opt_bytes, opt_int, opt_tuple, s, seconds,
};
use crate::options::{Direction, InsertPosition, LposOptions, MinMax, ScoredMembers};
use crate::{Client, Error};

/// `name key element...`
fn key_and<'a, E: AsRef<[u8]>>(
    name: &'static str,
    key: &'a [u8],
    elements: &'a [E],
) -> Vec<ArgBytes<'a>> {
    let mut args = Vec::with_capacity(elements.len() + 2);
    args.extend([s(name), b(key)]);
    args.extend(elements.iter().map(b));
    args
}

/// `[key, element]` of `BLPOP` / `BRPOP`, or nil on timeout.
fn opt_key_element(reply: Reply) -> Result<Option<(Bytes, Bytes)>, Error> {
    match opt_tuple(reply)? {
        Some([key, element]) => Ok(Some((bytes(key)?, bytes(element)?))),
        None => Ok(None),
    }
}

/// `[key, [element, ...]]` of `LMPOP` / `BLMPOP`, or nil.
fn popped(reply: Reply) -> Result<Option<(Bytes, Vec<Bytes>)>, Error> {
    match opt_tuple(reply)? {
        Some([key, elements]) => Ok(Some((bytes(key)?, bytes_list(elements)?))),
        None => Ok(None),
    }
}

/// `name numkeys key... LEFT|RIGHT COUNT count`, after `pre` (BLMPOP's timeout).
fn mpop_args<'a>(
    name: &'static str,
    pre: Option<ArgBytes<'static>>,
    keys: &'a [impl AsRef<[u8]>],
    end: &'static str,
    count: u64,
) -> Vec<ArgBytes<'a>> {
    let mut args = vec![s(name)];
    args.extend(pre);
    counted_keys(&mut args, keys);
    args.extend([s(end), s("COUNT"), n(count)]);
    args
}

typed_commands! {
    /// `LPUSH key element...` → the list's new length.
    fn lpush(key: impl AsRef<[u8]>, elements: &[impl AsRef<[u8]>]) -> i64 = int => {
        key_and("LPUSH", key.as_ref(), elements)
    }

    /// `RPUSH key element...` → the list's new length.
    fn rpush(key: impl AsRef<[u8]>, elements: &[impl AsRef<[u8]>]) -> i64 = int => {
        key_and("RPUSH", key.as_ref(), elements)
    }

    /// `LPUSHX key element...`: only onto an existing list → its length (0 if none).
    fn lpushx(key: impl AsRef<[u8]>, elements: &[impl AsRef<[u8]>]) -> i64 = int => {
        key_and("LPUSHX", key.as_ref(), elements)
    }

    /// `RPUSHX key element...`: only onto an existing list → its length (0 if none).
    fn rpushx(key: impl AsRef<[u8]>, elements: &[impl AsRef<[u8]>]) -> i64 = int => {
        key_and("RPUSHX", key.as_ref(), elements)
    }

    /// `LPOP key` → the head, removed; `None` if the list is empty.
    fn lpop(key: impl AsRef<[u8]>) -> Option<Bytes> = opt_bytes => { vec![s("LPOP"), b(&key)] }

    /// `LPOP key count` → up to `count` elements from the head (none if missing).
    fn lpop_count(key: impl AsRef<[u8]>, count: u64) -> Vec<Bytes> = bytes_list_or_nil => {
        vec![s("LPOP"), b(&key), n(count)]
    }

    /// `RPOP key` → the tail, removed; `None` if the list is empty.
    fn rpop(key: impl AsRef<[u8]>) -> Option<Bytes> = opt_bytes => { vec![s("RPOP"), b(&key)] }

    /// `RPOP key count` → up to `count` elements from the tail, last first.
    fn rpop_count(key: impl AsRef<[u8]>, count: u64) -> Vec<Bytes> = bytes_list_or_nil => {
        vec![s("RPOP"), b(&key), n(count)]
    }

    /// `LRANGE key start stop` (inclusive, negative from the end).
    fn lrange(key: impl AsRef<[u8]>, start: i64, stop: i64) -> Vec<Bytes> = bytes_list => {
        vec![s("LRANGE"), b(&key), n(start), n(stop)]
    }

    /// `LINDEX key index`
    fn lindex(key: impl AsRef<[u8]>, index: i64) -> Option<Bytes> = opt_bytes => {
        vec![s("LINDEX"), b(&key), n(index)]
    }

    /// `LSET key index element`
    fn lset(key: impl AsRef<[u8]>, index: i64, element: impl AsRef<[u8]>) -> () = ok => {
        vec![s("LSET"), b(&key), n(index), b(&element)]
    }

    /// `LINSERT key BEFORE|AFTER pivot element` → the new length, -1 if the
    /// pivot was not found, 0 if the key does not exist.
    fn linsert(
        key: impl AsRef<[u8]>,
        position: InsertPosition,
        pivot: impl AsRef<[u8]>,
        element: impl AsRef<[u8]>,
    ) -> i64 = int => {
        vec![s("LINSERT"), b(&key), s(position.word()), b(&pivot), b(&element)]
    }

    /// `LLEN key`
    fn llen(key: impl AsRef<[u8]>) -> i64 = int => { vec![s("LLEN"), b(&key)] }

    /// `LREM key count element` → how many were removed (`count` > 0 from the
    /// head, < 0 from the tail, 0 all).
    fn lrem(key: impl AsRef<[u8]>, count: i64, element: impl AsRef<[u8]>) -> i64 = int => {
        vec![s("LREM"), b(&key), n(count), b(&element)]
    }

    /// `LTRIM key start stop`: keep only that range.
    fn ltrim(key: impl AsRef<[u8]>, start: i64, stop: i64) -> () = ok => {
        vec![s("LTRIM"), b(&key), n(start), n(stop)]
    }

    /// `LPOS key element [RANK rank] [MAXLEN len]` → the index of the match.
    fn lpos(key: impl AsRef<[u8]>, element: impl AsRef<[u8]>, options: &LposOptions)
        -> Option<i64> = opt_int => {
        let mut args = vec![s("LPOS"), b(&key), b(&element)];
        options.push_args(&mut args);
        args
    }

    /// `LPOS key element [RANK rank] COUNT count [MAXLEN len]` → the indexes of
    /// up to `count` matches (0: all).
    fn lpos_count(
        key: impl AsRef<[u8]>,
        element: impl AsRef<[u8]>,
        count: u64,
        options: &LposOptions,
    ) -> Vec<i64> = int_list => {
        let mut args = vec![s("LPOS"), b(&key), b(&element), s("COUNT"), n(count)];
        options.push_args(&mut args);
        args
    }

    /// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT` → the element moved,
    /// `None` if the source is empty.
    fn lmove(
        source: impl AsRef<[u8]>,
        destination: impl AsRef<[u8]>,
        from: Direction,
        to: Direction,
    ) -> Option<Bytes> = opt_bytes => {
        vec![s("LMOVE"), b(&source), b(&destination), s(from.word()), s(to.word())]
    }

    /// `RPOPLPUSH source destination` (`LMOVE source destination RIGHT LEFT`).
    fn rpoplpush(source: impl AsRef<[u8]>, destination: impl AsRef<[u8]>) -> Option<Bytes>
        = opt_bytes => { vec![s("RPOPLPUSH"), b(&source), b(&destination)] }

    /// `LMPOP numkeys key... LEFT|RIGHT COUNT count` → the first non-empty key
    /// and up to `count` elements popped from it.
    fn lmpop(keys: &[impl AsRef<[u8]>], from: Direction, count: u64)
        -> Option<(Bytes, Vec<Bytes>)> = popped => {
        mpop_args("LMPOP", None, keys, from.word(), count)
    }
}

/// `name key... timeout`
fn keys_then_timeout<'a>(
    name: &'static str,
    keys: &'a [impl AsRef<[u8]>],
    timeout: Duration,
) -> Vec<ArgBytes<'a>> {
    let mut args = Vec::with_capacity(keys.len() + 2);
    args.push(s(name));
    args.extend(keys.iter().map(b));
    args.push(seconds(timeout));
    args
}

/// Blocking pops.
///
/// They wait on the server for up to their `timeout` (zero: forever). With a
/// [`read_timeout`](crate::ClientBuilder::read_timeout), the socket waits the
/// command's timeout plus the read timeout for their reply (no limit for
/// zero), so a server that answers at the end of the wait is not mistaken
/// for a dead one; the next command has the configured read timeout again.
/// Not on [`Pipeline`](crate::Pipeline): a blocked command holds back every
/// reply queued behind it on its connection.
impl Client {
    /// `BLPOP key... timeout` → the key and the head popped from the first
    /// non-empty list, waiting up to `timeout` (zero: forever); `None` on
    /// timeout.
    pub fn blpop(
        &mut self,
        keys: &[impl AsRef<[u8]>],
        timeout: Duration,
    ) -> Result<Option<(Bytes, Bytes)>, Error> {
        opt_key_element(self.cmd_blocking(&keys_then_timeout("BLPOP", keys, timeout), timeout)?)
    }

    /// `BRPOP key... timeout`: [`blpop`](Self::blpop) from the tail.
    pub fn brpop(
        &mut self,
        keys: &[impl AsRef<[u8]>],
        timeout: Duration,
    ) -> Result<Option<(Bytes, Bytes)>, Error> {
        opt_key_element(self.cmd_blocking(&keys_then_timeout("BRPOP", keys, timeout), timeout)?)
    }

    /// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`: [`lmove`](Self::lmove)
    /// that waits for an element; `None` on timeout.
    pub fn blmove(
        &mut self,
        source: impl AsRef<[u8]>,
        destination: impl AsRef<[u8]>,
        from: Direction,
        to: Direction,
        timeout: Duration,
    ) -> Result<Option<Bytes>, Error> {
        let args = [
            s("BLMOVE"),
            b(&source),
            b(&destination),
            s(from.word()),
            s(to.word()),
            seconds(timeout),
        ];
        opt_bytes(self.cmd_blocking(&args, timeout)?)
    }

    /// `BLMPOP timeout numkeys key... LEFT|RIGHT COUNT count`: [`lmpop`](Self::lmpop)
    /// that waits; `None` on timeout.
    pub fn blmpop(
        &mut self,
        keys: &[impl AsRef<[u8]>],
        from: Direction,
        count: u64,
        timeout: Duration,
    ) -> Result<Option<(Bytes, Vec<Bytes>)>, Error> {
        let args = mpop_args("BLMPOP", Some(seconds(timeout)), keys, from.word(), count);
        popped(self.cmd_blocking(&args, timeout)?)
    }

    /// `BZPOPMIN key... timeout` → the key, member and score popped from the
    /// first non-empty sorted set; `None` on timeout.
    pub fn bzpopmin(
        &mut self,
        keys: &[impl AsRef<[u8]>],
        timeout: Duration,
    ) -> Result<Option<(Bytes, Bytes, f64)>, Error> {
        let args = keys_then_timeout("BZPOPMIN", keys, timeout);
        opt_key_member_score(self.cmd_blocking(&args, timeout)?)
    }

    /// `BZPOPMAX key... timeout`: [`bzpopmin`](Self::bzpopmin) for the highest score.
    pub fn bzpopmax(
        &mut self,
        keys: &[impl AsRef<[u8]>],
        timeout: Duration,
    ) -> Result<Option<(Bytes, Bytes, f64)>, Error> {
        let args = keys_then_timeout("BZPOPMAX", keys, timeout);
        opt_key_member_score(self.cmd_blocking(&args, timeout)?)
    }

    /// `BZMPOP timeout numkeys key... MIN|MAX COUNT count`: [`zmpop`](Self::zmpop)
    /// that waits; `None` on timeout.
    pub fn bzmpop(
        &mut self,
        keys: &[impl AsRef<[u8]>],
        end: MinMax,
        count: u64,
        timeout: Duration,
    ) -> Result<Option<(Bytes, ScoredMembers)>, Error> {
        let args = mpop_args("BZMPOP", Some(seconds(timeout)), keys, end.word(), count);
        popped_scored(self.cmd_blocking(&args, timeout)?)
    }
}
