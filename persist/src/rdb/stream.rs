//! A stream's RDB body, as Redis 7.0 writes it (`RDB_TYPE_STREAM_LISTPACKS_2`)
//! and as Redis 5 to 7.2 write it for reading (types 15, 19, 21).
//!
//! ```text
//! blocks:len  (master-id:string(16 bytes, big-endian ms, seq)  listpack:string)...
//! length:len  last-id:len,len
//! [19+] first-id:len,len  max-deleted-id:len,len  entries-added:len
//! groups:len  (name:string  last-id:len,len  [19+] entries-read:len
//!              pel:len (id:16 raw  delivery-time:8 LE  delivery-count:len)...
//!              consumers:len (name:string  seen-time:8 LE  [21] active-time:8 LE
//!                             pel:len (id:16 raw)...)...)...
//! ```
//!
//! Each listpack is one of Redis's stream nodes: a master entry (live
//! count, deleted count, the master field names, a 0), then per entry its
//! flags, ms and seq as differences from the master ID, its fields (only
//! the values when flag SAMEFIELDS says the names are the master's) and
//! the count of listpack elements it took. Kiln writes each of its blocks
//! as one such node, deleted entries flagged as Redis keeps them; it reads
//! deleted entries and drops them (the largest deleted ID and the count of
//! entries added keep what they tell). Kiln writes no active time (type 19
//! has none): a consumer read back is active when it was last seen, as
//! Redis 7.2 assumes loading a 7.0 file.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use kiln_store::{Consumer, Group, Pending, Stream, StreamBuilder, StreamId};

use super::compact::{ListpackWriter, listpack};
use super::{Input, RdbError, TYPE_STREAM, TYPE_STREAM_2, TYPE_STREAM_3, put_len, put_string};

const DELETED: i64 = 1;
const SAME_FIELDS: i64 = 2;
/// What a group's `entries-read` of -1 (unknown) is written as.
const UNKNOWN_READS: u64 = u64::MAX;
/// Bytes one group PEL entry takes at least (ID, time, a 1-byte count).
const PEL_ENTRY_MIN: usize = 25;

/// Appends `stream`'s body (type 19).
pub(super) fn put_stream(out: &mut Vec<u8>, stream: &Stream) {
    put_stream_as(out, stream, TYPE_STREAM_2);
}

/// Appends `stream`'s body as type `kind` writes it: 15 leaves out the
/// metadata and entries-read counters Redis 7.0 added, 21 adds each
/// consumer's active time (its seen time when it never was active).
/// Kiln writes 19; the tests read the others back.
fn put_stream_as(out: &mut Vec<u8>, stream: &Stream, kind: u8) {
    put_len(out, stream.blocks().count() as u64);
    for block in stream.blocks() {
        put_string(out, &raw_id(block.first()));
        let master = block.master_fields();
        let mut lp = ListpackWriter::new();
        lp.int(block.live() as i64);
        lp.int(block.deleted() as i64);
        lp.int(master.len() as i64);
        master.iter().for_each(|f| lp.string(f));
        lp.int(0);
        let base = block.first();
        for (id, deleted, fields) in block.entries() {
            let same =
                fields.len() == master.len() && fields.iter().zip(master).all(|((f, _), m)| f == m);
            let flags = if deleted { DELETED } else { 0 } | if same { SAME_FIELDS } else { 0 };
            lp.int(flags);
            // Differences as Redis takes them: unsigned, wrapping, read
            // back as signed.
            lp.int(id.ms.wrapping_sub(base.ms) as i64);
            lp.int(id.seq.wrapping_sub(base.seq) as i64);
            let n = fields.len() as i64;
            if same {
                fields.iter().for_each(|(_, v)| lp.string(v));
                lp.int(n + 3);
            } else {
                lp.int(n);
                for (f, v) in &fields {
                    lp.string(f);
                    lp.string(v);
                }
                lp.int(2 * n + 4);
            }
        }
        put_string(out, &lp.finish());
    }
    put_len(out, stream.len());
    put_id(out, stream.last_id());
    if kind != TYPE_STREAM {
        put_id(out, stream.first_id());
        put_id(out, stream.max_deleted_id());
        put_len(out, stream.entries_added());
    }
    put_len(out, stream.groups().len() as u64);
    for (name, group) in stream.groups() {
        put_string(out, name);
        put_id(out, group.last_id);
        if kind != TYPE_STREAM {
            put_len(out, group.entries_read.unwrap_or(UNKNOWN_READS));
        }
        put_len(out, group.pel.len() as u64);
        for (id, pending) in &group.pel {
            out.extend_from_slice(&raw_id(*id));
            out.extend_from_slice(&pending.delivery_time.to_le_bytes());
            put_len(out, pending.delivery_count);
        }
        put_len(out, group.consumers.len() as u64);
        for (name, consumer) in &group.consumers {
            put_string(out, name);
            out.extend_from_slice(&consumer.seen_time.to_le_bytes());
            if kind == TYPE_STREAM_3 {
                let active = consumer.active_time.unwrap_or(consumer.seen_time);
                out.extend_from_slice(&active.to_le_bytes());
            }
            put_len(out, consumer.pending.len() as u64);
            for id in &consumer.pending {
                out.extend_from_slice(&raw_id(*id));
            }
        }
    }
}

fn raw_id(id: StreamId) -> [u8; 16] {
    let mut raw = [0; 16];
    raw[..8].copy_from_slice(&id.ms.to_be_bytes());
    raw[8..].copy_from_slice(&id.seq.to_be_bytes());
    raw
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_len(out, id.ms);
    put_len(out, id.seq);
}

impl Input<'_> {
    /// A stream's body, of type `kind` (15, 19 or 21).
    pub(super) fn stream(&mut self, kind: u8) -> Result<Stream, RdbError> {
        let mut builder = StreamBuilder::new();
        // A node is at least a 16-byte key and a listpack's 7 bytes.
        let nodes = self.count(1 + 16 + 1 + 7)?;
        for _ in 0..nodes {
            let key = self.raw_string()?;
            let master = parse_raw_id(&key)?;
            let items = self.blob(listpack)?;
            self.node(&mut builder, master, &items)?;
        }
        let length = self.u64_len()?;
        let last_id = self.id()?;
        let (max_deleted, entries_added) = if kind == TYPE_STREAM {
            (StreamId::MIN, length)
        } else {
            let _first = self.id()?;
            (self.id()?, self.u64_len()?)
        };
        if length != builder.len() {
            return Err(RdbError::BadFormat);
        }
        let mut groups = BTreeMap::new();
        // A group is at least a name, an ID, two counts.
        for _ in 0..self.count(5)? {
            let name = self.string()?;
            let group = self.group(kind)?;
            if groups.insert(name, group).is_some() {
                return Err(RdbError::BadFormat);
            }
        }
        let mut stream = builder
            .finish(last_id, entries_added, max_deleted, groups)
            .map_err(|_| RdbError::BadFormat)?;
        if kind == TYPE_STREAM {
            stream.estimate_unknown_reads();
        }
        Ok(stream)
    }

    fn group(&mut self, kind: u8) -> Result<Group, RdbError> {
        let last_id = self.id()?;
        let entries_read = match kind {
            TYPE_STREAM => None,
            _ => Some(self.u64_len()?).filter(|&n| n != UNKNOWN_READS),
        };
        let mut pel = BTreeMap::new();
        for _ in 0..self.count(PEL_ENTRY_MIN)? {
            let id = parse_raw_id(self.take(16)?)?;
            let delivery_time = self.time()?;
            let delivery_count = self.u64_len()?;
            let pending = Pending {
                consumer: Bytes::new(),
                delivery_time,
                delivery_count,
            };
            if pel.insert(id, pending).is_some() {
                return Err(RdbError::BadFormat);
            }
        }
        let mut consumers = BTreeMap::new();
        // A consumer is at least a name, its seen time and a count.
        for _ in 0..self.count(10)? {
            let name = self.string()?;
            let seen_time = self.time()?;
            let active_time = if kind == TYPE_STREAM_3 {
                self.time()?
            } else {
                seen_time
            };
            let mut pending = BTreeSet::new();
            for _ in 0..self.count(16)? {
                let id = parse_raw_id(self.take(16)?)?;
                // Each entry of the group's PEL is one consumer's.
                match pel.get_mut(&id) {
                    Some(p) if p.consumer.is_empty() => p.consumer = name.clone(),
                    _ => return Err(RdbError::BadFormat),
                }
                pending.insert(id);
            }
            let consumer = Consumer {
                seen_time,
                active_time: Some(active_time),
                pending,
            };
            if consumers.insert(name, consumer).is_some() {
                return Err(RdbError::BadFormat);
            }
        }
        Ok(Group {
            last_id,
            entries_read,
            pel,
            consumers,
        })
    }

    /// A length that is a number, not a count of what follows.
    fn u64_len(&mut self) -> Result<u64, RdbError> {
        self.plain_len().map(|n| n as u64)
    }

    fn id(&mut self) -> Result<StreamId, RdbError> {
        Ok(StreamId::new(self.u64_len()?, self.u64_len()?))
    }

    /// Redis's millisecond time: 8 bytes, little-endian.
    fn time(&mut self) -> Result<u64, RdbError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

fn parse_raw_id(raw: &[u8]) -> Result<StreamId, RdbError> {
    if raw.len() != 16 {
        return Err(RdbError::BadFormat);
    }
    Ok(StreamId::new(
        u64::from_be_bytes(raw[..8].try_into().expect("8 bytes")),
        u64::from_be_bytes(raw[8..].try_into().expect("8 bytes")),
    ))
}

/// The elements of one stream node's listpack, read in order.
struct Elements<'a> {
    items: &'a [Bytes],
}

impl<'a> Elements<'a> {
    fn next(&mut self) -> Result<&'a Bytes, RdbError> {
        let (first, rest) = self.items.split_first().ok_or(RdbError::BadFormat)?;
        self.items = rest;
        Ok(first)
    }

    fn int(&mut self) -> Result<i64, RdbError> {
        std::str::from_utf8(self.next()?)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(RdbError::BadFormat)
    }

    /// A count of elements still to come (never more than are left).
    fn count(&mut self) -> Result<usize, RdbError> {
        let n = self.int()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.items.len())
            .ok_or(RdbError::BadFormat)
    }
}

impl Input<'_> {
    /// One node's entries, pushed in order; its counts checked. The listpack's
    /// items are charged already; an entry that shares the master's field
    /// names is charged them again (the stream holds them per entry, and a
    /// long name shared by many short entries would else expand unbounded).
    fn node(
        &mut self,
        builder: &mut StreamBuilder,
        master: StreamId,
        items: &[Bytes],
    ) -> Result<(), RdbError> {
        let bad = RdbError::BadFormat;
        let mut lp = Elements { items };
        let live = lp.int()?;
        let deleted = lp.int()?;
        let master_len = lp.count()?;
        let master_fields: Vec<Bytes> = (0..master_len)
            .map(|_| lp.next().cloned())
            .collect::<Result<_, _>>()?;
        if lp.int()? != 0 {
            return Err(bad);
        }
        let (mut seen_live, mut seen_deleted) = (0i64, 0i64);
        let mut fields = Vec::new();
        while !lp.items.is_empty() {
            let flags = lp.int()?;
            let ms = master.ms.wrapping_add(lp.int()? as u64);
            let seq = master.seq.wrapping_add(lp.int()? as u64);
            fields.clear();
            let elements = if flags & SAME_FIELDS != 0 {
                if lp.items.len() < master_len {
                    return Err(bad);
                }
                self.charge(&master_fields)?;
                for name in &master_fields {
                    fields.push((name.clone(), lp.next()?.clone()));
                }
                master_len + 3
            } else {
                let n = lp.count()?;
                if n > lp.items.len() / 2 {
                    return Err(bad);
                }
                for _ in 0..n {
                    fields.push((lp.next()?.clone(), lp.next()?.clone()));
                }
                2 * n + 4
            };
            if usize::try_from(lp.int()?).ok() != Some(elements) {
                return Err(bad);
            }
            if flags & DELETED != 0 {
                seen_deleted += 1;
            } else {
                seen_live += 1;
                builder
                    .push(StreamId::new(ms, seq), &fields)
                    .map_err(|_| bad.clone())?;
            }
        }
        // Redis never keeps an empty node.
        if seen_live != live || seen_deleted != deleted || live + deleted == 0 {
            return Err(bad);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use kiln_store::{
        GroupStart, IdSpec, ReadGroupStart, Shard, ShardConfig, StreamEntry, Value, XAddOptions,
    };

    use super::super::tests::sealed;
    use super::super::{Payload, dump, restore};
    use super::*;

    const BUDGET: usize = 1 << 24;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    fn add(shard: &mut Shard, key: &[u8], at: StreamId, fields: &[(&[u8], &[u8])]) {
        let options = XAddOptions {
            nomkstream: false,
            id: IdSpec::Exact(at),
            trim: None,
        };
        shard.xadd(key, options, fields).unwrap().unwrap();
    }

    fn stream_of(shard: &mut Shard, key: &[u8]) -> Stream {
        shard.stream(key).unwrap().expect("a stream").clone()
    }

    /// 250 entries over several blocks, of the same fields and of others,
    /// long and integer-looking values, some deleted (in the middle of a
    /// block, and a whole block's worth), two groups with pending entries
    /// over two consumers, a consumer with none, and a group whose
    /// entries-read is unknown.
    fn busy_stream() -> Stream {
        stream_with(250, 3)
    }

    /// [`busy_stream`] of `n` entries, the long values `stretch` bytes
    /// longer each time.
    fn stream_with(n: u64, stretch: usize) -> Stream {
        let mut shard = Shard::new(ShardConfig::default());
        shard.set_now(1_700_000_000_000);
        for i in 1..=n {
            let v = i.to_string();
            let long = "x".repeat(i as usize * stretch);
            let fields: Vec<(&[u8], &[u8])> = match i % 3 {
                0 => vec![(b"a", v.as_bytes()), (b"b", b"-12345678901")],
                1 => vec![(b"a", v.as_bytes()), (b"long", long.as_bytes())],
                _ => vec![(b"other", b""), (b"a", v.as_bytes()), (b"c", b"7")],
            };
            add(&mut shard, b"s", id(1_000 + i * 7, i % 4), &fields);
        }
        let gone: Vec<StreamId> = [3u64, 50, 51, 52, 120]
            .iter()
            .map(|&i| id(1_000 + i * 7, i % 4))
            .chain((101..=200).map(|i| id(1_000 + i * 7, i % 4)))
            .collect();
        shard.xdel(b"s", &gone).unwrap();
        shard
            .xgroup_create(b"s", b"g1", GroupStart::Id(StreamId::MIN), false, Some(0))
            .unwrap();
        shard
            .xgroup_create(b"s", b"g2", GroupStart::Id(id(1_070, 2)), false, None)
            .unwrap();
        shard.set_now(1_700_000_000_500);
        shard
            .xreadgroup(b"s", b"g1", b"alice", ReadGroupStart::New, 5, false)
            .unwrap();
        shard.set_now(1_700_000_001_000);
        shard
            .xreadgroup(b"s", b"g1", b"bob", ReadGroupStart::New, 3, false)
            .unwrap();
        shard
            .xreadgroup(b"s", b"g2", b"carol", ReadGroupStart::New, 2, false)
            .unwrap();
        shard.xgroup_createconsumer(b"s", b"g1", b"idle").unwrap();
        let first = shard.xrange(b"s", StreamId::MIN, StreamId::MAX, 1, false);
        shard.xack(b"s", b"g1", &[first.unwrap()[0].0]).unwrap();
        stream_of(&mut shard, b"s")
    }

    /// An empty stream with a group, its metadata set by XSETID.
    fn empty_stream() -> Stream {
        let mut shard = Shard::new(ShardConfig::default());
        shard
            .xgroup_create(b"e", b"g", GroupStart::Id(id(5, 5)), true, Some(3))
            .unwrap();
        shard
            .xsetid(b"e", id(90, 1), Some(42), Some(id(80, 0)))
            .unwrap();
        stream_of(&mut shard, b"e")
    }

    /// What a client can see of a stream (its blocks aside).
    #[derive(Debug, PartialEq)]
    struct Seen {
        entries: Vec<StreamEntry>,
        len: u64,
        first: StreamId,
        last: StreamId,
        max_deleted: StreamId,
        added: u64,
        groups: Vec<(Bytes, Group, Option<u64>)>,
    }

    /// `active_times`: whether consumers' active times are kept (type 21)
    /// or become their seen times (15, 19).
    fn seen(s: &Stream, active_times: bool) -> Seen {
        let groups = s
            .groups()
            .iter()
            .map(|(name, g)| {
                let lag = s.lag(g);
                let mut g = g.clone();
                for c in g.consumers.values_mut() {
                    if !active_times || c.active_time.is_none() {
                        c.active_time = Some(c.seen_time);
                    }
                }
                (name.clone(), g, lag)
            })
            .collect();
        Seen {
            entries: s.range(StreamId::MIN, StreamId::MAX, 0, false),
            len: s.len(),
            first: s.first_id(),
            last: s.last_id(),
            max_deleted: s.max_deleted_id(),
            added: s.entries_added(),
            groups,
        }
    }

    fn restored(payload: &[u8]) -> Stream {
        match restore(payload, BUDGET) {
            Ok(Payload::Stream(s)) => *s,
            other => panic!("not a stream: {other:?}"),
        }
    }

    fn body_as(s: &Stream, kind: u8) -> Vec<u8> {
        let mut body = vec![kind];
        put_stream_as(&mut body, s, kind);
        body
    }

    #[test]
    fn streams_round_trip_with_groups_and_metadata() {
        for s in [busy_stream(), empty_stream()] {
            let payload = dump(&Value::Stream(Box::new(s.clone())));
            assert_eq!(payload[0], TYPE_STREAM_2);
            let back = restored(&payload);
            assert_eq!(seen(&back, false), seen(&s, false));
            // Read back, it writes the same again but for the tombstones
            // it dropped: a second round trip is exact.
            let again = dump(&Value::Stream(Box::new(back.clone())));
            assert_eq!(seen(&restored(&again), false), seen(&back, false));
        }
        let busy = busy_stream();
        assert_eq!(busy.len(), 250 - 104);
        assert!(busy.blocks().count() >= 2, "several listpacks");
        assert!(busy.blocks().any(|b| b.deleted() > 0), "deleted entries");
        assert!(busy.max_deleted_id() > StreamId::MIN);
        assert!(busy.entries_added() > busy.len());
        let g1 = &busy.groups()[&Bytes::from("g1")];
        assert_eq!((g1.pel.len(), g1.consumers.len()), (7, 3));
        let empty = restored(&dump(&Value::Stream(Box::new(empty_stream()))));
        assert_eq!(
            (empty.len(), empty.last_id(), empty.entries_added()),
            (0, id(90, 1), 42)
        );
        assert_eq!(empty.max_deleted_id(), id(80, 0));
        assert_eq!(empty.groups()[&Bytes::from("g")].entries_read, Some(3));
    }

    #[test]
    fn redis_5_and_7_2_stream_types_are_read() {
        let s = busy_stream();
        // Type 21: the consumers' active times too.
        let back = restored(&sealed(&body_as(&s, TYPE_STREAM_3)));
        assert_eq!(seen(&back, true), seen(&s, true));
        // Type 15: no metadata; Redis's estimates stand in for it.
        let back = restored(&sealed(&body_as(&s, TYPE_STREAM)));
        assert_eq!(back.entries_added(), back.len());
        assert_eq!(back.max_deleted_id(), StreamId::MIN);
        assert_eq!(
            back.range(StreamId::MIN, StreamId::MAX, 0, false),
            s.range(StreamId::MIN, StreamId::MAX, 0, false)
        );
        // g1 starts before the first entry: it read none of those kept
        // (Redis's estimate); g2's last ID is inside the stream: unknown.
        let groups = back.groups();
        assert_eq!(groups[&Bytes::from("g2")].entries_read, None);
        assert_eq!(
            groups[&Bytes::from("g1")].pel,
            s.groups()[&Bytes::from("g1")].pel
        );
        let fresh = restored(&sealed(&body_as(&empty_stream(), TYPE_STREAM)));
        // An empty stream whose counter is its length (0): 0 read.
        assert_eq!(fresh.groups()[&Bytes::from("g")].entries_read, Some(0));
    }

    #[test]
    fn a_stream_cut_anywhere_is_refused_and_damage_never_panics() {
        let small = stream_with(40, 20);
        assert!(small.blocks().count() >= 2);
        for s in [small, empty_stream()] {
            let payload = dump(&Value::Stream(Box::new(s)));
            let body = &payload[..payload.len() - 10];
            for at in 0..body.len() {
                assert!(
                    restore(&sealed(&body[..at]), BUDGET).is_err(),
                    "cut at {at}"
                );
                // The checksum catches any flip in a payload...
                let mut bad = payload.clone();
                bad[at] ^= 0x01;
                assert!(restore(&bad, BUDGET).is_err(), "flipped byte {at}");
                // ...and the decoder, given the flip under a valid
                // checksum, refuses or reads something, never panics.
                for mask in [0x01, 0x80, 0xff] {
                    let mut bad = body.to_vec();
                    bad[at] ^= mask;
                    let _ = restore(&sealed(&bad), BUDGET);
                }
            }
        }
    }

    /// A node of one entry (`f` = `v`, the master's fields) that says it
    /// holds `live` entries and whose entry counts `count` listpack items.
    fn one_entry_node(live: i64, count: i64) -> Vec<u8> {
        let mut lp = ListpackWriter::new();
        for n in [live, 0, 1] {
            lp.int(n);
        }
        lp.string(b"f");
        lp.int(0);
        for n in [SAME_FIELDS, 0, 0] {
            lp.int(n);
        }
        lp.string(b"v");
        lp.int(count);
        lp.finish()
    }

    #[test]
    fn inconsistent_streams_are_refused() {
        let node = one_entry_node(1, 4);
        // One node of one entry 5-0, then length, last ID, first ID, max
        // deleted ID, entries added, no groups.
        let stream = |meta: &[u64], tail: &[u8]| {
            let mut body = vec![TYPE_STREAM_2, 1];
            put_string(&mut body, &raw_id(id(5, 0)));
            put_string(&mut body, &node);
            meta.iter().for_each(|&n| put_len(&mut body, n));
            body.extend_from_slice(tail);
            sealed(&body)
        };
        let good = restored(&stream(&[1, 5, 0, 5, 0, 0, 0, 1], &[0]));
        assert_eq!(
            good.range(StreamId::MIN, StreamId::MAX, 0, false),
            [(id(5, 0), vec![(Bytes::from("f"), Bytes::from("v"))])]
        );
        for (why, payload) in [
            ("length", stream(&[2, 5, 0, 5, 0, 0, 0, 1], &[0])),
            ("last ID below", stream(&[1, 4, 9, 5, 0, 0, 0, 1], &[0])),
            ("entries added", stream(&[1, 5, 0, 5, 0, 0, 0, 0], &[0])),
            ("max deleted", stream(&[1, 5, 0, 5, 0, 6, 0, 1], &[0])),
            // A group whose PEL entry no consumer owns.
            (
                "orphan PEL",
                stream(&[1, 5, 0, 5, 0, 0, 0, 1], &{
                    let mut g = vec![1];
                    put_string(&mut g, b"g");
                    g.extend_from_slice(&[0, 0, 0, 1]);
                    g.extend_from_slice(&raw_id(id(5, 0)));
                    g.extend_from_slice(&[0; 8]);
                    g.extend_from_slice(&[1, 0]);
                    g
                }),
            ),
            (
                "huge count",
                stream(&[1, 5, 0, 5, 0, 0, 0, 1], &[0x80, 0xff, 0xff, 0xff, 0xff]),
            ),
        ] {
            assert!(restore(&payload, BUDGET).is_err(), "{why}");
        }
        // A node whose lp-count or counts disagree with its entries.
        for (live, count) in [(2, 4), (1, 5)] {
            let mut body = vec![TYPE_STREAM_2, 1];
            put_string(&mut body, &raw_id(id(5, 0)));
            put_string(&mut body, &one_entry_node(live, count));
            [1, 5, 0, 5, 0, 0, 0, 1, 0]
                .iter()
                .for_each(|&n| put_len(&mut body, n));
            assert!(restore(&sealed(&body), BUDGET).is_err(), "{live} {count}");
        }
    }

    #[test]
    fn a_long_master_name_shared_by_many_entries_is_charged_per_entry() {
        // One 1000-byte field name, 500 entries of a 1-byte value each:
        // a 6 KB listpack that the stream holds as 500 KB.
        let name = vec![b'n'; 1000];
        let mut lp = ListpackWriter::new();
        for n in [500, 0, 1] {
            lp.int(n);
        }
        lp.string(&name);
        lp.int(0);
        for seq in 0..500 {
            for n in [SAME_FIELDS, 0, seq] {
                lp.int(n);
            }
            lp.string(b"v");
            lp.int(4);
        }
        let mut body = vec![TYPE_STREAM_2, 1];
        put_string(&mut body, &raw_id(id(5, 0)));
        put_string(&mut body, &lp.finish());
        [500, 5, 499, 5, 0, 0, 0, 500, 0]
            .iter()
            .for_each(|&n| put_len(&mut body, n));
        assert!(body.len() < 8_000);
        let payload = sealed(&body);
        assert_eq!(restored(&payload).len(), 500);
        assert_eq!(restore(&payload, 100_000), Err(RdbError::TooBig));
    }

    #[test]
    fn listpack_integers_and_strings_read_back() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            -4096,
            4095,
            4096,
            i64::from(i16::MIN),
            -(1 << 23),
            (1 << 23) - 1,
            1 << 23,
            i64::from(i32::MIN),
            i64::from(i32::MAX) + 1,
            i64::MIN,
            i64::MAX,
        ];
        let long = vec![b'y'; 20_000];
        // 5 header bytes and these: 16383, the first size whose
        // back-length takes three bytes.
        let mid = vec![b'z'; 16_378];
        let mut lp = ListpackWriter::new();
        ints.iter().for_each(|&n| lp.int(n));
        for s in [
            &b""[..],
            &[b'q'; 63],
            &[b'q'; 64],
            &[b'q'; 4095],
            &long,
            &mid,
        ] {
            lp.string(s);
        }
        let items = listpack(&lp.finish()).unwrap();
        let (numbers, strings) = items.split_at(ints.len());
        let want: Vec<Bytes> = ints.iter().map(|n| Bytes::from(n.to_string())).collect();
        assert_eq!(numbers, want);
        let lens: Vec<usize> = strings.iter().map(Bytes::len).collect();
        assert_eq!(lens, [0, 63, 64, 4095, 20_000, 16_378]);
    }
}
