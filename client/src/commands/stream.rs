//! Stream commands, for [`Client`](crate::Client) and [`Pipeline`](crate::Pipeline).
//!
//! Entries come back as [`StreamEntry`]: the ID and the field-value pairs
//! (`None` for an entry deleted while it was pending, in XREADGROUP's
//! history form). XREAD / XREADGROUP give each stream's key with its
//! entries, in either protocol.

use bytes::Bytes;
use kiln_net::Reply;

use super::{ArgBytes, b, int, items, items_or_nil, n, ok, pairs, s, unexpected};
use crate::Error;

/// One stream entry: its ID and fields (`None`: deleted since delivery).
pub type StreamEntry = (Bytes, Option<Vec<(Bytes, Bytes)>>);

/// A stream's key and its entries, as XREAD / XREADGROUP answer.
pub type StreamRead = Vec<(Bytes, Vec<StreamEntry>)>;

fn entry(reply: Reply) -> Result<StreamEntry, Error> {
    let mut parts = items(reply)?.into_iter();
    let id = match parts.next() {
        Some(Reply::Bulk(id)) => id,
        other => return Err(unexpected("a stream ID", &other.unwrap_or(Reply::Nil))),
    };
    let fields = match parts.next() {
        Some(Reply::Nil | Reply::NilArray) | None => None,
        Some(list) => {
            let flat = items(list)?;
            let mut out = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(Reply::Bulk(f)), Some(Reply::Bulk(v))) = (it.next(), it.next()) {
                out.push((f, v));
            }
            Some(out)
        }
    };
    Ok((id, fields))
}

pub(crate) fn entries(reply: Reply) -> Result<Vec<StreamEntry>, Error> {
    items_or_nil(reply)?.into_iter().map(entry).collect()
}

pub(crate) fn read(reply: Reply) -> Result<StreamRead, Error> {
    // RESP3: a map; RESP2: an array of [key, entries] arrays; nil: nothing.
    let list = match reply {
        Reply::Nil | Reply::NilArray => return Ok(Vec::new()),
        Reply::Array(list) if list.iter().all(|r| matches!(r, Reply::Array(_))) => list
            .into_iter()
            .map(|pair| match items(pair)?.as_slice() {
                [k, v] => Ok((k.clone(), v.clone())),
                other => Err(unexpected(
                    "a [key, entries] pair",
                    &Reply::Array(other.to_vec()),
                )),
            })
            .collect::<Result<Vec<_>, Error>>()?,
        other => pairs(other)?,
    };
    list.into_iter()
        .map(|(k, v)| match k {
            Reply::Bulk(k) => Ok((k, entries(v)?)),
            other => Err(unexpected("a stream key", &other)),
        })
        .collect()
}

fn id_of(reply: Reply) -> Result<Bytes, Error> {
    match reply {
        Reply::Bulk(id) => Ok(id),
        other => Err(unexpected("the new entry's ID", &other)),
    }
}

fn streams_args<'a>(
    mut args: Vec<ArgBytes<'a>>,
    keys: &'a [(impl AsRef<[u8]>, impl AsRef<[u8]>)],
) -> Vec<ArgBytes<'a>> {
    args.push(s("STREAMS"));
    args.extend(keys.iter().map(|(k, _)| b(k)));
    args.extend(keys.iter().map(|(_, id)| b(id)));
    args
}

typed_commands! {
    /// `XADD key id field value [field value ...]` (`id` may be `*`) → the
    /// entry's ID.
    fn xadd(
        key: impl AsRef<[u8]>,
        id: impl AsRef<[u8]>,
        fields: &[(impl AsRef<[u8]>, impl AsRef<[u8]>)],
    ) -> Bytes = id_of => {
        let mut args = Vec::with_capacity(fields.len() * 2 + 3);
        args.extend([s("XADD"), b(&key), b(&id)]);
        for (f, v) in fields {
            args.extend([b(f), b(v)]);
        }
        args
    }

    /// `XLEN key`
    fn xlen(key: impl AsRef<[u8]>) -> i64 = int => { vec![s("XLEN"), b(&key)] }

    /// `XRANGE key start end [COUNT count]` (`count` 0: all).
    fn xrange(key: impl AsRef<[u8]>, start: impl AsRef<[u8]>, end: impl AsRef<[u8]>, count: u64)
        -> Vec<StreamEntry> = entries => {
        let mut args = vec![s("XRANGE"), b(&key), b(&start), b(&end)];
        if count > 0 {
            args.extend([s("COUNT"), n(count)]);
        }
        args
    }

    /// `XREVRANGE key end start [COUNT count]` (`count` 0: all).
    fn xrevrange(key: impl AsRef<[u8]>, end: impl AsRef<[u8]>, start: impl AsRef<[u8]>, count: u64)
        -> Vec<StreamEntry> = entries => {
        let mut args = vec![s("XREVRANGE"), b(&key), b(&end), b(&start)];
        if count > 0 {
            args.extend([s("COUNT"), n(count)]);
        }
        args
    }

    /// `XDEL key id...` → how many were deleted.
    fn xdel(key: impl AsRef<[u8]>, ids: &[impl AsRef<[u8]>]) -> i64 = int => {
        let mut args = vec![s("XDEL"), b(&key)];
        args.extend(ids.iter().map(b));
        args
    }

    /// `XREAD [COUNT count] STREAMS key... id...` (`count` 0: all), from
    /// `(key, id)` pairs.
    fn xread(keys: &[(impl AsRef<[u8]>, impl AsRef<[u8]>)], count: u64) -> StreamRead = read => {
        let mut args = vec![s("XREAD")];
        if count > 0 {
            args.extend([s("COUNT"), n(count)]);
        }
        streams_args(args, keys)
    }

    /// `XREADGROUP GROUP group consumer [COUNT count] STREAMS key... id...`
    /// (`id` `>` for new entries).
    fn xreadgroup(
        group: impl AsRef<[u8]>,
        consumer: impl AsRef<[u8]>,
        keys: &[(impl AsRef<[u8]>, impl AsRef<[u8]>)],
        count: u64,
    ) -> StreamRead = read => {
        let mut args = vec![s("XREADGROUP"), s("GROUP"), b(&group), b(&consumer)];
        if count > 0 {
            args.extend([s("COUNT"), n(count)]);
        }
        streams_args(args, keys)
    }

    /// `XACK key group id...` → how many were pending.
    fn xack(key: impl AsRef<[u8]>, group: impl AsRef<[u8]>, ids: &[impl AsRef<[u8]>]) -> i64 = int => {
        let mut args = vec![s("XACK"), b(&key), b(&group)];
        args.extend(ids.iter().map(b));
        args
    }

    /// `XGROUP CREATE key group id [MKSTREAM]`
    fn xgroup_create(key: impl AsRef<[u8]>, group: impl AsRef<[u8]>, id: impl AsRef<[u8]>, mkstream: bool)
        -> () = ok => {
        let mut args = vec![s("XGROUP"), s("CREATE"), b(&key), b(&group), b(&id)];
        if mkstream {
            args.push(s("MKSTREAM"));
        }
        args
    }

    /// `XPENDING key group` → the number of pending entries (the summary's
    /// first element).
    fn xpending_count(key: impl AsRef<[u8]>, group: impl AsRef<[u8]>) -> i64 = |r| {
        items(r)?.into_iter().next().map_or(Ok(0), int)
    } => {
        vec![s("XPENDING"), b(&key), b(&group)]
    }
}
