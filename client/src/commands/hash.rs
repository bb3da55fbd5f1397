//! Hash commands, for [`Client`](crate::Client) and [`Pipeline`](crate::Pipeline).

use std::collections::HashMap;

use bytes::Bytes;

use super::{
    ArgBytes, b, boolean, byte_map, byte_pairs, bytes_list, float, int, n, opt_bytes,
    opt_bytes_list, s,
};

/// `name key field...`
fn key_and<'a, F: AsRef<[u8]>>(
    name: &'static str,
    key: &'a [u8],
    fields: &'a [F],
) -> Vec<ArgBytes<'a>> {
    let mut args = Vec::with_capacity(fields.len() + 2);
    args.extend([s(name), b(key)]);
    args.extend(fields.iter().map(b));
    args
}

typed_commands! {
    /// `HSET key field value [field value ...]` → how many fields were added
    /// (not counting the ones overwritten).
    fn hset(
        key: impl AsRef<[u8]>,
        pairs: &[(impl AsRef<[u8]>, impl AsRef<[u8]>)],
    ) -> i64 = int => {
        let mut args = Vec::with_capacity(pairs.len() * 2 + 2);
        args.extend([s("HSET"), b(&key)]);
        for (field, value) in pairs {
            args.extend([b(field), b(value)]);
        }
        args
    }

    /// `HSETNX key field value` → whether the field was set (it did not exist).
    fn hsetnx(key: impl AsRef<[u8]>, field: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> bool
        = boolean => { vec![s("HSETNX"), b(&key), b(&field), b(&value)] }

    /// `HGET key field`
    fn hget(key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Option<Bytes> = opt_bytes => {
        vec![s("HGET"), b(&key), b(&field)]
    }

    /// `HMGET key field...` → one value (or `None`) per field.
    fn hmget(key: impl AsRef<[u8]>, fields: &[impl AsRef<[u8]>]) -> Vec<Option<Bytes>>
        = opt_bytes_list => { key_and("HMGET", key.as_ref(), fields) }

    /// `HGETALL key` → every field and value (a RESP3 map or RESP2's flat array).
    fn hgetall(key: impl AsRef<[u8]>) -> HashMap<Bytes, Bytes> = byte_map => {
        vec![s("HGETALL"), b(&key)]
    }

    /// `HDEL key field...` → how many fields were removed.
    fn hdel(key: impl AsRef<[u8]>, fields: &[impl AsRef<[u8]>]) -> i64 = int => {
        key_and("HDEL", key.as_ref(), fields)
    }

    /// `HEXISTS key field`
    fn hexists(key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> bool = boolean => {
        vec![s("HEXISTS"), b(&key), b(&field)]
    }

    /// `HLEN key` → the number of fields.
    fn hlen(key: impl AsRef<[u8]>) -> i64 = int => { vec![s("HLEN"), b(&key)] }

    /// `HSTRLEN key field` → the length of the field's value (0 if missing).
    fn hstrlen(key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> i64 = int => {
        vec![s("HSTRLEN"), b(&key), b(&field)]
    }

    /// `HKEYS key` → the field names.
    fn hkeys(key: impl AsRef<[u8]>) -> Vec<Bytes> = bytes_list => { vec![s("HKEYS"), b(&key)] }

    /// `HVALS key` → the values.
    fn hvals(key: impl AsRef<[u8]>) -> Vec<Bytes> = bytes_list => { vec![s("HVALS"), b(&key)] }

    /// `HINCRBY key field delta` → the new value.
    fn hincrby(key: impl AsRef<[u8]>, field: impl AsRef<[u8]>, delta: i64) -> i64 = int => {
        vec![s("HINCRBY"), b(&key), b(&field), n(delta)]
    }

    /// `HINCRBYFLOAT key field delta` → the new value.
    fn hincrbyfloat(key: impl AsRef<[u8]>, field: impl AsRef<[u8]>, delta: f64) -> f64
        = float => { vec![s("HINCRBYFLOAT"), b(&key), b(&field), n(delta)] }

    /// `HRANDFIELD key` → one random field, `None` if the hash is empty.
    fn hrandfield(key: impl AsRef<[u8]>) -> Option<Bytes> = opt_bytes => {
        vec![s("HRANDFIELD"), b(&key)]
    }

    /// `HRANDFIELD key count` → up to `count` distinct fields; a negative
    /// count returns exactly `-count` fields, possibly repeated.
    fn hrandfield_count(key: impl AsRef<[u8]>, count: i64) -> Vec<Bytes> = bytes_list => {
        vec![s("HRANDFIELD"), b(&key), n(count)]
    }

    /// `HRANDFIELD key count WITHVALUES` → fields with their values (counted
    /// as [`hrandfield_count`](Self::hrandfield_count)).
    fn hrandfield_withvalues(key: impl AsRef<[u8]>, count: i64) -> Vec<(Bytes, Bytes)>
        = byte_pairs => { vec![s("HRANDFIELD"), b(&key), n(count), s("WITHVALUES")] }
}
