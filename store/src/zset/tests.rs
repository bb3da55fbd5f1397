use proptest::prelude::*;

use super::*;
use crate::StoreError;
use crate::shard::{Shard, ShardConfig};

fn limits(entries: usize, value: usize) -> EncodingLimits {
    EncodingLimits {
        zset_max_listpack_entries: entries,
        zset_max_listpack_value: value,
        ..EncodingLimits::default()
    }
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn score_range(min: f64, max: f64) -> ScoreRange {
    ScoreRange {
        min,
        min_exclusive: false,
        max,
        max_exclusive: false,
    }
}

#[test]
fn compact_order_and_conversion() {
    let l = limits(3, 8);
    let mut z = ZSet::new();
    assert!(z.insert(b"b", 2.0, &l));
    assert!(z.insert(b"a", 2.0, &l));
    assert!(z.insert(b"c", 1.0, &l));
    assert!(!z.insert(b"c", 3.0, &l));
    assert_eq!(
        z.entries(),
        vec![(b("a"), 2.0), (b("b"), 2.0), (b("c"), 3.0)]
    );
    assert_eq!(z.encoding(), "listpack");
    assert_eq!(z.rank(b"b"), Some((1, 2.0)));
    z.insert(b"d", f64::NEG_INFINITY, &l);
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(z.rank(b"d"), Some((0, f64::NEG_INFINITY)));
    assert_eq!(z.range(1, 3), vec![(b("a"), 2.0), (b("b"), 2.0)]);
    let mut z = ZSet::new();
    z.insert(b"a-long-member", 1.0, &l);
    assert_eq!(z.encoding(), "skiplist");
    assert_eq!(
        ZSet::with_hint(200, 1, &EncodingLimits::default()).encoding(),
        "skiplist"
    );
}

#[test]
fn zadd_flags_follow_redis() {
    let mut s = Shard::new(ShardConfig::default());
    let add = |s: &mut Shard, items: &[(f64, &[u8])], flags| s.zadd(b"z", items, flags).unwrap();
    let plain = ZAddFlags::default();
    assert_eq!(
        add(&mut s, &[(1.0, b"a"), (2.0, b"b")], plain),
        ZAddOutcome::Count(2)
    );
    let ch = ZAddFlags { ch: true, ..plain };
    assert_eq!(
        add(&mut s, &[(5.0, b"a"), (2.0, b"b"), (3.0, b"c")], ch),
        ZAddOutcome::Count(2)
    );
    let gt = ZAddFlags {
        gt: true,
        ch: true,
        ..plain
    };
    assert_eq!(
        add(&mut s, &[(4.0, b"a"), (6.0, b"b")], gt),
        ZAddOutcome::Count(1)
    );
    let xx = ZAddFlags { xx: true, ..plain };
    assert_eq!(add(&mut s, &[(1.0, b"new")], xx), ZAddOutcome::Count(0));
    let nx_incr = ZAddFlags {
        nx: true,
        incr: true,
        ..plain
    };
    assert_eq!(
        add(&mut s, &[(1.0, b"a")], nx_incr),
        ZAddOutcome::Score(None)
    );
    let incr = ZAddFlags {
        incr: true,
        ..plain
    };
    assert_eq!(
        add(&mut s, &[(1.5, b"a")], incr),
        ZAddOutcome::Score(Some(6.5))
    );
    assert_eq!(s.zscore(b"z", b"a"), Ok(Some(6.5)));
    add(&mut s, &[(f64::INFINITY, b"i")], plain);
    assert_eq!(
        s.zadd(b"z", &[(f64::NEG_INFINITY, b"i")], incr),
        Err(StoreError::ScoreNan)
    );
    assert_eq!(
        s.zadd(b"nokey", &[(1.0, b"a")], xx),
        Ok(ZAddOutcome::Count(0))
    );
    assert!(!s.exists(b"nokey"));
    s.assert_consistent();
}

#[test]
fn ranges_by_rank_score_and_lex() {
    let mut s = Shard::new(ShardConfig::default());
    let items: Vec<(f64, Vec<u8>)> = (0..10)
        .map(|i| (f64::from(i), vec![b'a' + i as u8]))
        .collect();
    let refs: Vec<(f64, &[u8])> = items.iter().map(|(sc, m)| (*sc, &m[..])).collect();
    s.zadd(b"z", &refs, ZAddFlags::default()).unwrap();
    let names = |v: Vec<(Bytes, f64)>| {
        v.into_iter()
            .map(|(m, _)| String::from_utf8(m.to_vec()).unwrap())
            .collect::<String>()
    };
    let r = |s: &mut Shard, by: ZRangeBy, rev, off, lim| {
        names(s.zrange(b"z", &by, rev, off, lim).unwrap())
    };
    assert_eq!(r(&mut s, ZRangeBy::Rank(0, 2), false, 0, -1), "abc");
    assert_eq!(r(&mut s, ZRangeBy::Rank(-3, -1), false, 0, -1), "hij");
    assert_eq!(r(&mut s, ZRangeBy::Rank(0, 1), true, 0, -1), "ji");
    assert_eq!(r(&mut s, ZRangeBy::Rank(5, 100), false, 0, -1), "fghij");
    assert_eq!(r(&mut s, ZRangeBy::Rank(-100, 0), false, 0, -1), "a");
    assert_eq!(r(&mut s, ZRangeBy::Rank(3, 2), false, 0, -1), "");
    assert_eq!(
        r(&mut s, ZRangeBy::Score(score_range(2.0, 4.0)), false, 0, -1),
        "cde"
    );
    let ex = ScoreRange {
        min_exclusive: true,
        max_exclusive: true,
        ..score_range(2.0, 5.0)
    };
    assert_eq!(r(&mut s, ZRangeBy::Score(ex), false, 0, -1), "de");
    assert_eq!(
        r(&mut s, ZRangeBy::Score(score_range(2.0, 8.0)), true, 1, 2),
        "hg"
    );
    assert_eq!(
        r(&mut s, ZRangeBy::Score(score_range(2.0, 8.0)), false, -1, 2),
        ""
    );
    assert_eq!(
        r(
            &mut s,
            ZRangeBy::Score(score_range(f64::NEG_INFINITY, f64::INFINITY)),
            false,
            8,
            -5
        ),
        "ij"
    );
    assert_eq!(s.zcount(b"z", &score_range(5.0, 1.0)), Ok(0));
    s.zadd(
        b"l",
        &[(0.0, b"a"), (0.0, b"b"), (0.0, b"c"), (0.0, b"d")],
        ZAddFlags::default(),
    )
    .unwrap();
    let lex = |min, max| LexRange { min, max };
    assert_eq!(s.zlexcount(b"l", &lex(LexBound::Min, LexBound::Max)), Ok(4));
    assert_eq!(
        s.zlexcount(
            b"l",
            &lex(
                LexBound::Exclusive(b"a".to_vec()),
                LexBound::Inclusive(b"c".to_vec())
            )
        ),
        Ok(2)
    );
    assert_eq!(s.zlexcount(b"l", &lex(LexBound::Max, LexBound::Min)), Ok(0));
    assert_eq!(s.zremrange(b"z", &ZRangeBy::Rank(0, -2)), Ok(9));
    assert_eq!(s.zcard(b"z"), Ok(1));
    assert_eq!(s.zrank(b"l", b"c", true), Ok(Some((1, 0.0))));
    assert_eq!(
        s.zpop(b"l", 2, true).unwrap(),
        vec![(b("d"), 0.0), (b("c"), 0.0)]
    );
    assert_eq!(
        s.zpop(b"l", 5, false).unwrap(),
        vec![(b("a"), 0.0), (b("b"), 0.0)]
    );
    assert!(!s.exists(b"l"));
    s.assert_consistent();
}

#[test]
fn combinations_take_sets_weights_and_aggregates() {
    let mut s = Shard::new(ShardConfig::default());
    s.zadd(b"a", &[(1.0, b"x"), (2.0, b"y")], ZAddFlags::default())
        .unwrap();
    s.sadd(b"s", &[b"y", b"z"]).unwrap();
    let u = s
        .zcombine(&[b"a", b"s"], &[2.0, 10.0], Aggregate::Sum, ZOp::Union, 0)
        .unwrap();
    assert_eq!(u, vec![(b("x"), 2.0), (b("z"), 10.0), (b("y"), 14.0)]);
    let i = s
        .zcombine(&[b"a", b"s"], &[], Aggregate::Max, ZOp::Inter, 0)
        .unwrap();
    assert_eq!(i, vec![(b("y"), 2.0)]);
    let d = s
        .zcombine(&[b"a", b"s"], &[], Aggregate::Sum, ZOp::Diff, 0)
        .unwrap();
    assert_eq!(d, vec![(b("x"), 1.0)]);
    s.zadd(b"inf", &[(f64::INFINITY, b"x")], ZAddFlags::default())
        .unwrap();
    let n = s
        .zcombine(
            &[b"inf", b"a"],
            &[1.0, -f64::INFINITY],
            Aggregate::Sum,
            ZOp::Inter,
            0,
        )
        .unwrap();
    assert_eq!(n, vec![(b("x"), 0.0)], "inf + -inf is 0");
    assert_eq!(
        s.zcombine_store(b"d", &[b"a", b"nokey"], &[], Aggregate::Sum, ZOp::Inter),
        Ok(0)
    );
    assert_eq!(
        s.zcombine_store(b"d", &[b"a", b"s"], &[], Aggregate::Sum, ZOp::Union),
        Ok(3)
    );
    assert_eq!(s.object_encoding(b"d"), Some("listpack"));
    s.set(b"str", b("v"), Default::default()).unwrap();
    assert_eq!(
        s.zcombine(&[b"nokey", b"str"], &[], Aggregate::Sum, ZOp::Union, 0),
        Err(StoreError::WrongType)
    );
    assert_eq!(
        s.zmpop(&[b"nokey", b"a"], 1, false).unwrap(),
        Some((b("a"), vec![(b("x"), 1.0)]))
    );
    assert_eq!(
        s.zmpop(&[b"str", b"a"], 1, false),
        Err(StoreError::WrongType)
    );
    s.assert_consistent();
}

#[derive(Debug, Clone)]
enum Op {
    Add(u8, i8),
    Remove(u8),
    RemoveRanks(u8, u8),
}

proptest! {
    /// A sorted set answers alike whichever encoding holds it, across the
    /// conversion, and agrees with a sorted model.
    #[test]
    fn encodings_agree(ops in proptest::collection::vec(
        prop_oneof![
            5 => (0u8..60, -5i8..5).prop_map(|(m, s)| Op::Add(m, s)),
            2 => (0u8..60).prop_map(Op::Remove),
            1 => (0u8..30, 0u8..5).prop_map(|(a, n)| Op::RemoveRanks(a, n)),
        ], 0..200), lo in -6i8..6, width in 0i8..8) {
        let all = [limits(6, 64), limits(usize::MAX, usize::MAX), limits(0, 0)];
        let mut sets = [ZSet::new(), ZSet::new(), ZSet::new()];
        let mut model: Vec<(Bytes, f64)> = Vec::new();
        let member = |m: u8| Bytes::from(format!("m{m:02}"));
        for op in &ops {
            match *op {
                Op::Add(m, sc) => {
                    let score = f64::from(sc) / 2.0;
                    let was = model.iter().position(|e| e.0 == member(m));
                    if let Some(i) = was { model.remove(i); }
                    model.push((member(m), score));
                    for (z, l) in sets.iter_mut().zip(&all) {
                        prop_assert_eq!(z.insert(&member(m), score, l), was.is_none());
                    }
                }
                Op::Remove(m) => {
                    let was = model.iter().position(|e| e.0 == member(m));
                    if let Some(i) = was { model.remove(i); }
                    for z in &mut sets {
                        prop_assert_eq!(z.remove(&member(m)), was.is_some());
                    }
                }
                Op::RemoveRanks(a, n) => {
                    model.sort_by(|x, y| cmp_entry(x.1, &x.0, y.1, &y.0));
                    let a = usize::from(a);
                    let end = (a + usize::from(n)).min(model.len());
                    let gone = end.saturating_sub(a);
                    if a < end { model.drain(a..end); }
                    for z in &mut sets {
                        prop_assert_eq!(z.remove_range(a, a + usize::from(n)), gone);
                    }
                }
            }
        }
        model.sort_by(|x, y| cmp_entry(x.1, &x.0, y.1, &y.0));
        let range = score_range(f64::from(lo) / 2.0, f64::from(lo + width) / 2.0);
        let in_range = model.iter().filter(|e| e.1 >= range.min && e.1 <= range.max).count();
        for z in &sets {
            prop_assert_eq!(&z.entries(), &model);
            let (a, b) = range.ranks(z);
            prop_assert_eq!(b - a, in_range);
            for (rank, (m, sc)) in model.iter().enumerate() {
                prop_assert_eq!(z.rank(m), Some((rank, *sc)));
                prop_assert_eq!(z.score(m), Some(*sc));
            }
        }
    }
}
