use super::*;
use crate::shard::{Shard, ShardConfig};

fn add(
    s: &mut Shard,
    key: &[u8],
    id: IdSpec,
    fields: &[(&[u8], &[u8])],
) -> Result<StreamId, StreamError> {
    s.xadd(
        key,
        XAddOptions {
            nomkstream: false,
            id,
            trim: None,
        },
        fields,
    )
    .map(|r| r.expect("created").0)
}

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

#[test]
fn ids_parse_as_redis() {
    assert_eq!(StreamId::parse(b"1-2", 0), Some(id(1, 2)));
    assert_eq!(StreamId::parse(b"5", 7), Some(id(5, 7)));
    assert_eq!(
        StreamId::parse(b"18446744073709551615-18446744073709551615", 0),
        Some(StreamId::MAX)
    );
    assert_eq!(StreamId::parse(b"18446744073709551616", 0), None);
    assert_eq!(StreamId::parse(b"-1", 0), None);
    assert_eq!(StreamId::parse(b"1-", 0), None);
    assert_eq!(StreamId::parse(b"+1", 0), None);
    assert_eq!(StreamId::MAX.next(), None);
    assert_eq!(id(1, u64::MAX).next(), Some(id(2, 0)));
    assert_eq!(id(2, 0).prev(), Some(id(1, u64::MAX)));
}

#[test]
fn add_range_delete_across_blocks() {
    let mut s = Shard::new(ShardConfig::default());
    for i in 1..=250u64 {
        let v = i.to_string();
        add(
            &mut s,
            b"k",
            IdSpec::Exact(id(i, 0)),
            &[(b"f", v.as_bytes()), (b"g", b"x")],
        )
        .unwrap();
    }
    assert_eq!(s.xlen(b"k").unwrap(), 250);
    let all = s
        .xrange(b"k", StreamId::MIN, StreamId::MAX, 0, false)
        .unwrap();
    assert_eq!(all.len(), 250);
    assert_eq!(all[99].1[0].1, Bytes::from_static(b"100"));
    let rev = s.xrange(b"k", id(95, 0), id(105, 0), 3, true).unwrap();
    assert_eq!(
        rev.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![id(105, 0), id(104, 0), id(103, 0)]
    );
    assert_eq!(
        s.xdel(b"k", &[id(100, 0), id(100, 0), id(999, 0)]).unwrap(),
        1
    );
    assert_eq!(s.xlen(b"k").unwrap(), 249);
    assert!(
        s.xrange(b"k", id(100, 0), id(100, 0), 0, false)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        add(&mut s, b"k", IdSpec::Exact(id(250, 0)), &[(b"f", b"v")]),
        Err(StreamError::Reply(SMALLER_TEXT.into()))
    );
    assert_eq!(
        add(&mut s, b"k", IdSpec::Ms(250), &[(b"f", b"v")]).unwrap(),
        id(250, 1)
    );
}

const SMALLER_TEXT: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";

#[test]
fn trims_exact_and_by_block() {
    let mut s = Shard::new(ShardConfig::default());
    for i in 1..=300u64 {
        add(&mut s, b"k", IdSpec::Exact(id(i, 0)), &[(b"f", b"v")]).unwrap();
    }
    let approx = Trim {
        kind: TrimKind::MaxLen(150),
        approx: true,
        limit: 0,
    };
    // Whole blocks of 100 only: 300 -> 200.
    assert_eq!(s.xtrim(b"k", approx).unwrap(), 100);
    let exact = Trim {
        kind: TrimKind::MaxLen(150),
        approx: false,
        limit: 0,
    };
    assert_eq!(s.xtrim(b"k", exact).unwrap(), 50);
    assert_eq!(s.xlen(b"k").unwrap(), 150);
    let minid = Trim {
        kind: TrimKind::MinId(id(290, 0)),
        approx: false,
        limit: 0,
    };
    assert_eq!(s.xtrim(b"k", minid).unwrap(), 139);
    assert_eq!(s.stream(b"k").unwrap().unwrap().first_id(), id(290, 0));
}

#[test]
fn groups_deliver_ack_and_claim() {
    let mut s = Shard::new(ShardConfig::default());
    s.set_now(1000);
    for i in 1..=5u64 {
        add(&mut s, b"k", IdSpec::Exact(id(i, 0)), &[(b"f", b"v")]).unwrap();
    }
    s.xgroup_create(b"k", b"g", GroupStart::Id(StreamId::MIN), false, None)
        .unwrap();
    assert!(matches!(
        s.xgroup_create(b"k", b"g", GroupStart::Last, false, None),
        Err(StreamError::Reply(e)) if e.starts_with("BUSYGROUP")
    ));
    let got = s
        .xreadgroup(b"k", b"g", b"alice", ReadGroupStart::New, 2, false)
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 2);
    let summary = s.xpending_summary(b"k", b"g").unwrap();
    assert_eq!(summary.count, 2);
    assert_eq!(summary.consumers, vec![(Bytes::from_static(b"alice"), 2)]);
    assert_eq!(s.xack(b"k", b"g", &[id(1, 0)]).unwrap(), 1);
    s.set_now(5000);
    let claimed = s
        .xclaim(
            b"k",
            b"g",
            b"bob",
            1000,
            &[id(2, 0)],
            ClaimOptions::default(),
        )
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let rows = s
        .xpending(b"k", b"g", None, StreamId::MIN, StreamId::MAX, 10, None)
        .unwrap();
    assert_eq!(rows, vec![(id(2, 0), Bytes::from_static(b"bob"), 0, 2)]);
    // A deleted pending entry is reported by XAUTOCLAIM and dropped.
    s.xreadgroup(b"k", b"g", b"alice", ReadGroupStart::New, 0, false)
        .unwrap();
    s.xdel(b"k", &[id(3, 0)]).unwrap();
    s.set_now(9000);
    let (cursor, got, deleted) = s
        .xautoclaim(b"k", b"g", b"carol", 10, StreamId::MIN, 2, true)
        .unwrap();
    assert_eq!(deleted, vec![id(3, 0)]);
    assert_eq!(got.len(), 1);
    assert_eq!(cursor, id(4, 0));
    assert_eq!(s.xgroup_delconsumer(b"k", b"g", b"alice").unwrap(), 2);
    let groups = s.xinfo_groups(b"k").unwrap();
    assert_eq!(groups[0].pending, 1);
}

#[test]
fn memory_is_charged_and_compact() {
    let mut s = Shard::new(ShardConfig::default());
    let before = s.used_memory;
    for i in 1..=10_000u64 {
        let v = i.to_string();
        add(
            &mut s,
            b"k",
            IdSpec::Exact(id(1_700_000_000_000 + i, 0)),
            &[(b"a", v.as_bytes()), (b"b", b"xy"), (b"c", b"z")],
        )
        .unwrap();
    }
    let grown = s.used_memory - before;
    assert!(grown > 100_000, "charged {grown}");
    assert!(grown < 10_000 * 40, "charged {grown}");
}

#[test]
fn a_builder_keeps_the_invariants_and_refuses_what_breaks_them() {
    let fields = [(Bytes::from("f"), Bytes::from("v"))];
    let mut b = StreamBuilder::new();
    assert!(b.push(id(0, 0), &fields).is_err(), "0-0 is no entry ID");
    for ms in 1..=150 {
        b.push(id(ms, 0), &fields).unwrap();
    }
    assert!(b.push(id(150, 0), &fields).is_err(), "IDs rise");
    let group = |owner: &[u8], listed_by: &[u8]| {
        let mut g = Group {
            last_id: id(3, 0),
            entries_read: Some(3),
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        };
        g.pel.insert(
            id(2, 0),
            Pending {
                consumer: Bytes::copy_from_slice(owner),
                delivery_time: 7,
                delivery_count: 2,
            },
        );
        let mut c = Consumer::new(5);
        c.pending.insert(id(2, 0));
        g.consumers.insert(Bytes::copy_from_slice(listed_by), c);
        BTreeMap::from([(Bytes::from("g"), g)])
    };
    let s = b
        .finish(id(200, 0), 300, id(160, 0), group(b"c", b"c"))
        .unwrap();
    assert_eq!(
        (s.len(), s.last_id(), s.entries_added()),
        (150, id(200, 0), 300)
    );
    assert_eq!(s.max_deleted_id(), id(160, 0));
    assert!(s.blocks().count() >= 2, "entries fill blocks as XADD does");
    assert_eq!(s.range(StreamId::MIN, StreamId::MAX, 0, false).len(), 150);
    assert!(s.mem() > 150 * 2, "memory is charged");
    let build = |last, added, max_deleted, groups| {
        let mut b = StreamBuilder::new();
        b.push(id(10, 0), &fields).unwrap();
        b.finish(last, added, max_deleted, groups)
    };
    assert!(build(id(9, 0), 1, StreamId::MIN, BTreeMap::new()).is_err());
    assert!(build(id(10, 0), 0, StreamId::MIN, BTreeMap::new()).is_err());
    assert!(build(id(10, 0), 1, id(11, 0), BTreeMap::new()).is_err());
    assert!(build(id(10, 0), 1, StreamId::MIN, group(b"c", b"d")).is_err());
    assert!(build(id(10, 0), 1, StreamId::MIN, group(b"c", b"c")).is_ok());
}

#[test]
fn unknown_reads_are_estimated_as_redis_does_for_old_files() {
    let fields = [(Bytes::from("f"), Bytes::from("v"))];
    let mut b = StreamBuilder::new();
    for ms in 5..=9 {
        b.push(id(ms, 0), &fields).unwrap();
    }
    let group = |last| Group {
        last_id: last,
        entries_read: None,
        pel: BTreeMap::new(),
        consumers: BTreeMap::new(),
    };
    let groups = BTreeMap::from([
        (Bytes::from("before"), group(id(1, 0))),
        (Bytes::from("first"), group(id(5, 0))),
        (Bytes::from("inside"), group(id(7, 0))),
        (Bytes::from("last"), group(id(9, 0))),
    ]);
    let mut s = b.finish(id(9, 0), 5, StreamId::MIN, groups).unwrap();
    s.estimate_unknown_reads();
    let reads: Vec<Option<u64>> = s.groups().values().map(|g| g.entries_read).collect();
    // before, first, inside, last (by name).
    assert_eq!(reads, [Some(0), Some(1), None, Some(5)]);
}
