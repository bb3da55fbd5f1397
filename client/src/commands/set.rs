//! Set commands, for [`Client`](crate::Client) and [`Pipeline`](crate::Pipeline).
//!
//! Member lists come back as a RESP3 set (`~`) or a RESP2 array; both are a
//! `Vec<Bytes>` here, in the server's order.

use bytes::Bytes;

use super::{
    ArgBytes, b, bool_list, boolean, bytes_list, bytes_list_or_nil, counted_keys, int, n,
    opt_bytes, s, with_keys,
};

/// `name key member...`
fn key_and<'a, M: AsRef<[u8]>>(
    name: &'static str,
    key: &'a [u8],
    members: &'a [M],
) -> Vec<ArgBytes<'a>> {
    let mut args = Vec::with_capacity(members.len() + 2);
    args.extend([s(name), b(key)]);
    args.extend(members.iter().map(b));
    args
}

typed_commands! {
    /// `SADD key member...` → how many members were added.
    fn sadd(key: impl AsRef<[u8]>, members: &[impl AsRef<[u8]>]) -> i64 = int => {
        key_and("SADD", key.as_ref(), members)
    }

    /// `SREM key member...` → how many members were removed.
    fn srem(key: impl AsRef<[u8]>, members: &[impl AsRef<[u8]>]) -> i64 = int => {
        key_and("SREM", key.as_ref(), members)
    }

    /// `SMEMBERS key`
    fn smembers(key: impl AsRef<[u8]>) -> Vec<Bytes> = bytes_list => {
        vec![s("SMEMBERS"), b(&key)]
    }

    /// `SISMEMBER key member`
    fn sismember(key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> bool = boolean => {
        vec![s("SISMEMBER"), b(&key), b(&member)]
    }

    /// `SMISMEMBER key member...` → one answer per member.
    fn smismember(key: impl AsRef<[u8]>, members: &[impl AsRef<[u8]>]) -> Vec<bool>
        = bool_list => { key_and("SMISMEMBER", key.as_ref(), members) }

    /// `SCARD key` → the number of members.
    fn scard(key: impl AsRef<[u8]>) -> i64 = int => { vec![s("SCARD"), b(&key)] }

    /// `SPOP key` → a random member, removed; `None` if the set is empty.
    fn spop(key: impl AsRef<[u8]>) -> Option<Bytes> = opt_bytes => { vec![s("SPOP"), b(&key)] }

    /// `SPOP key count` → up to `count` random members, removed.
    fn spop_count(key: impl AsRef<[u8]>, count: u64) -> Vec<Bytes> = bytes_list_or_nil => {
        vec![s("SPOP"), b(&key), n(count)]
    }

    /// `SRANDMEMBER key` → a random member, `None` if the set is empty.
    fn srandmember(key: impl AsRef<[u8]>) -> Option<Bytes> = opt_bytes => {
        vec![s("SRANDMEMBER"), b(&key)]
    }

    /// `SRANDMEMBER key count` → up to `count` distinct members; a negative
    /// count returns exactly `-count`, possibly repeated.
    fn srandmember_count(key: impl AsRef<[u8]>, count: i64) -> Vec<Bytes> = bytes_list => {
        vec![s("SRANDMEMBER"), b(&key), n(count)]
    }

    /// `SMOVE source destination member` → whether it was moved.
    fn smove(
        source: impl AsRef<[u8]>,
        destination: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
    ) -> bool = boolean => {
        vec![s("SMOVE"), b(&source), b(&destination), b(&member)]
    }

    /// `SINTER key...` (keys on several cores are gathered by the main port).
    fn sinter(keys: &[impl AsRef<[u8]>]) -> Vec<Bytes> = bytes_list => {
        with_keys("SINTER", keys)
    }

    /// `SUNION key...`
    fn sunion(keys: &[impl AsRef<[u8]>]) -> Vec<Bytes> = bytes_list => {
        with_keys("SUNION", keys)
    }

    /// `SDIFF key...` → the members of the first set in none of the others.
    fn sdiff(keys: &[impl AsRef<[u8]>]) -> Vec<Bytes> = bytes_list => {
        with_keys("SDIFF", keys)
    }

    /// `SINTERSTORE destination key...` → the size of the stored set.
    fn sinterstore(destination: impl AsRef<[u8]>, keys: &[impl AsRef<[u8]>]) -> i64 = int => {
        key_and("SINTERSTORE", destination.as_ref(), keys)
    }

    /// `SUNIONSTORE destination key...` → the size of the stored set.
    fn sunionstore(destination: impl AsRef<[u8]>, keys: &[impl AsRef<[u8]>]) -> i64 = int => {
        key_and("SUNIONSTORE", destination.as_ref(), keys)
    }

    /// `SDIFFSTORE destination key...` → the size of the stored set.
    fn sdiffstore(destination: impl AsRef<[u8]>, keys: &[impl AsRef<[u8]>]) -> i64 = int => {
        key_and("SDIFFSTORE", destination.as_ref(), keys)
    }

    /// `SINTERCARD numkeys key... [LIMIT limit]` → the size of the
    /// intersection, counting stopped at `limit` (`None` or 0: no limit).
    fn sintercard(keys: &[impl AsRef<[u8]>], limit: Option<u64>) -> i64 = int => {
        let mut args = vec![s("SINTERCARD")];
        counted_keys(&mut args, keys);
        if let Some(limit) = limit {
            args.extend([s("LIMIT"), n(limit)]);
        }
        args
    }
}
