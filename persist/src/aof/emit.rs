//! A stored record as the commands that rebuild it: what the log records
//! for a record another core moved here (cross-core RENAME, COPY, STORE
//! forms), and what a rewrite writes.

use kiln_store::{Record, Value};

/// Elements per command, as Redis's rewrite (`AOF_REWRITE_ITEMS_PER_CMD`):
/// a big collection becomes several bounded commands.
pub const ITEMS_PER_COMMAND: usize = 64;

/// Calls `out` with each command that, run on a shard without `key`,
/// rebuilds `record` there: the value's commands, then `PEXPIREAT` for a
/// deadline.
pub fn emit_record(key: &[u8], record: &Record, mut out: impl FnMut(&[&[u8]])) {
    match &record.value {
        Value::String(value) => out(&[b"SET", key, value]),
        Value::Hash(hash) => {
            let mut pairs = hash.iter();
            chunked(b"HSET", key, &mut out, |args| {
                let (field, value) = pairs.next()?;
                args.push(field.to_vec());
                args.push(value.to_vec());
                Some(())
            });
        }
        Value::List(list) => {
            let mut items = list.iter();
            chunked(b"RPUSH", key, &mut out, |args| {
                args.push(items.next()?.to_vec());
                Some(())
            });
        }
        Value::Set(set) => {
            let mut members = set.iter();
            chunked(b"SADD", key, &mut out, |args| {
                args.push(members.next()?.into_owned());
                Some(())
            });
        }
        Value::ZSet(zset) => {
            let mut entries = zset.entries().into_iter();
            chunked(b"ZADD", key, &mut out, |args| {
                let (member, score) = entries.next()?;
                args.push(score_text(score).into_bytes());
                args.push(member.to_vec());
                Some(())
            });
        }
        Value::Stream(stream) => emit_stream(key, stream, &mut out),
    }
    if let Some(at) = record.expire_at {
        out(&[b"PEXPIREAT", key, itoa::Buffer::new().format(at).as_bytes()]);
    }
}

/// A stream as `XADD key <id> field value...` per entry, then
/// `XSETID` (its last ID, entries added, largest deleted ID), each group as
/// `XGROUP CREATE ... ENTRIESREAD`, its consumers as `XGROUP
/// CREATECONSUMER` and each pending entry as `XCLAIM ... FORCE JUSTID` with
/// its delivery time and count (what Redis's AOF rewrite writes).
fn emit_stream(key: &[u8], stream: &kiln_store::Stream, out: &mut impl FnMut(&[&[u8]])) {
    let all = stream.range(
        kiln_store::StreamId::MIN,
        kiln_store::StreamId::MAX,
        0,
        false,
    );
    if all.is_empty() {
        // An empty stream still exists: make it, then drop the entry.
        let id = b"1-1";
        out(&[b"XADD", key, b"MAXLEN", b"0", id, b"x", b"y"]);
    }
    for (id, fields) in &all {
        let id = id.to_string();
        let mut args: Vec<&[u8]> = vec![b"XADD", key, id.as_bytes()];
        for (f, v) in fields {
            args.push(f);
            args.push(v);
        }
        out(&args);
    }
    let last = stream.last_id().to_string();
    let added = stream.entries_added().to_string();
    let deleted = stream.max_deleted_id().to_string();
    out(&[
        b"XSETID",
        key,
        last.as_bytes(),
        b"ENTRIESADDED",
        added.as_bytes(),
        b"MAXDELETEDID",
        deleted.as_bytes(),
    ]);
    for (name, group) in stream.groups() {
        let last = group.last_id.to_string();
        let read = group
            .entries_read
            .map_or_else(|| "-1".to_owned(), |n| n.to_string());
        out(&[
            b"XGROUP",
            b"CREATE",
            key,
            name,
            last.as_bytes(),
            b"ENTRIESREAD",
            read.as_bytes(),
        ]);
        for consumer in group.consumers.keys() {
            out(&[b"XGROUP", b"CREATECONSUMER", key, name, consumer]);
        }
        for (id, pending) in &group.pel {
            emit_claim(
                key,
                name,
                id.to_string().as_bytes(),
                pending,
                last.as_bytes(),
                out,
            );
        }
    }
}

/// `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID
/// last`: the command that puts pending entry `id` of `group` back as it
/// is (its consumer, delivery time and count), for a rewrite and for the
/// log of a command that delivered or claimed it.
pub fn emit_claim(
    key: &[u8],
    group: &[u8],
    id: &[u8],
    pending: &kiln_store::Pending,
    last: &[u8],
    out: &mut impl FnMut(&[&[u8]]),
) {
    let time = pending.delivery_time.to_string();
    let count = pending.delivery_count.to_string();
    out(&[
        b"XCLAIM",
        key,
        group,
        &pending.consumer,
        b"0",
        id,
        b"TIME",
        time.as_bytes(),
        b"RETRYCOUNT",
        count.as_bytes(),
        b"FORCE",
        b"JUSTID",
        b"LASTID",
        last,
    ]);
}

/// Runs `verb key <items>` commands of up to [`ITEMS_PER_COMMAND`] items,
/// each item pushed by `next` (which answers `None` at the end).
fn chunked(
    verb: &[u8],
    key: &[u8],
    out: &mut impl FnMut(&[&[u8]]),
    mut next: impl FnMut(&mut Vec<Vec<u8>>) -> Option<()>,
) {
    let mut items: Vec<Vec<u8>> = Vec::new();
    loop {
        items.clear();
        let mut ended = false;
        for _ in 0..ITEMS_PER_COMMAND {
            if next(&mut items).is_none() {
                ended = true;
                break;
            }
        }
        if items.is_empty() {
            return;
        }
        let mut args: Vec<&[u8]> = Vec::with_capacity(items.len() + 2);
        args.push(verb);
        args.push(key);
        args.extend(items.iter().map(Vec::as_slice));
        out(&args);
        if ended {
            return;
        }
    }
}

/// A score as text that parses back to the same double.
fn score_text(score: f64) -> String {
    if score.is_infinite() {
        return if score > 0.0 { "inf" } else { "-inf" }.into();
    }
    ryu::Buffer::new().format(score).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kiln_store::{EncodingLimits, Hash, List, ZSet};

    fn commands(key: &[u8], record: &Record) -> Vec<Vec<Vec<u8>>> {
        let mut all = Vec::new();
        emit_record(key, record, |args| {
            all.push(args.iter().map(|a| a.to_vec()).collect())
        });
        all
    }

    #[test]
    fn a_string_with_a_deadline() {
        let record = Record {
            value: Value::String(Bytes::from("v")),
            expire_at: Some(1234),
            access: 0,
        };
        let got = commands(b"k", &record);
        assert_eq!(got[0], [b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]);
        assert_eq!(
            got[1],
            [b"PEXPIREAT".to_vec(), b"k".to_vec(), b"1234".to_vec()]
        );
    }

    #[test]
    fn big_collections_become_bounded_commands() {
        let limits = EncodingLimits::default();
        let mut list = List::new();
        let items: Vec<Vec<u8>> = (0..130).map(|i| i.to_string().into_bytes()).collect();
        let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
        list.push(kiln_store::End::Right, &refs, &limits);
        let got = commands(
            b"l",
            &Record {
                value: Value::List(Box::new(list)),
                expire_at: None,
                access: 0,
            },
        );
        assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [66, 66, 4]);
        assert_eq!(got[2][3], b"129");

        let mut hash = Hash::new();
        hash.insert(b"f", b"v", &limits);
        let got = commands(
            b"h",
            &Record {
                value: Value::Hash(Box::new(hash)),
                expire_at: None,
                access: 0,
            },
        );
        assert_eq!(
            got,
            [[
                b"HSET".to_vec(),
                b"h".to_vec(),
                b"f".to_vec(),
                b"v".to_vec()
            ]]
        );
    }

    #[test]
    fn scores_keep_every_bit() {
        let limits = EncodingLimits::default();
        let mut zset = ZSet::new();
        for (m, s) in [
            (&b"a"[..], 0.1 + 0.2),
            (b"b", f64::INFINITY),
            (b"c", -1e300),
        ] {
            zset.insert(m, s, &limits);
        }
        let got = commands(
            b"z",
            &Record {
                value: Value::ZSet(Box::new(zset)),
                expire_at: None,
                access: 0,
            },
        );
        let scores: Vec<f64> = got[0][2..]
            .chunks(2)
            .map(|p| match &p[0][..] {
                b"inf" => f64::INFINITY,
                t => std::str::from_utf8(t).unwrap().parse().unwrap(),
            })
            .collect();
        assert!(scores.contains(&(0.1 + 0.2)));
        assert!(scores.contains(&-1e300));
        assert!(scores.contains(&f64::INFINITY));
    }
}
