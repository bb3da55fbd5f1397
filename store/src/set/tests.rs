use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::StoreError;
use crate::shard::{Shard, ShardConfig};

fn limits(ints: usize, entries: usize, value: usize) -> EncodingLimits {
    EncodingLimits {
        set_max_intset_entries: ints,
        set_max_listpack_entries: entries,
        set_max_listpack_value: value,
        ..EncodingLimits::default()
    }
}

fn members(s: &Set) -> BTreeSet<Vec<u8>> {
    s.iter().map(|m| m.to_vec()).collect()
}

#[test]
fn intset_sorted_then_listpack_then_table() {
    let l = limits(4, 6, 8);
    let mut s = Set::for_members(b"3", 3, &l);
    assert_eq!(s.encoding(), "intset");
    for m in ["3", "-1", "10", "3"] {
        s.add(m.as_bytes(), &l);
    }
    let order: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
    assert_eq!(order, [b"-1".to_vec(), b"3".to_vec(), b"10".to_vec()]);
    assert!(!s.contains(b"03"), "not canonical: not the integer 3");
    assert!(s.add(b"abc", &l));
    assert_eq!(s.encoding(), "listpack");
    assert!(s.contains(b"10") && s.contains(b"abc"));
    for m in ["d", "e"] {
        s.add(m.as_bytes(), &l);
    }
    assert_eq!((s.len(), s.encoding()), (6, "listpack"));
    s.add(b"f", &l);
    assert_eq!((s.len(), s.encoding()), (7, "hashtable"));
    assert!(s.remove(b"abc"));
    assert!(!s.remove(b"abc"));
    assert_eq!(s.len(), 6);
}

#[test]
fn intset_past_its_limit_or_long_member_becomes_a_table() {
    let l = limits(2, 128, 4);
    let mut s = Set::new();
    s.add(b"1", &l);
    s.add(b"2", &l);
    assert_eq!(s.encoding(), "intset");
    s.add(b"3", &l);
    assert_eq!(s.encoding(), "hashtable");
    let mut s = Set::new();
    s.add(b"1", &l);
    s.add(b"long-member", &l);
    assert_eq!(s.encoding(), "hashtable");
    assert_eq!(
        Set::for_members(b"a", 500, &limits(512, 128, 64)).encoding(),
        "hashtable"
    );
    assert_eq!(
        Set::for_members(b"1", 500, &limits(512, 128, 64)).encoding(),
        "intset"
    );
}

#[test]
fn shard_ops_count_memory_and_delete_empty_sets() {
    let mut s = Shard::new(ShardConfig::default());
    assert_eq!(s.sadd(b"s", &[b"a", b"b", b"a"]), Ok(2));
    assert!(s.used_memory() > 0);
    assert_eq!(s.srem(b"s", &[b"a", b"zz"]), Ok(1));
    assert_eq!(s.scard(b"s"), Ok(1));
    assert_eq!(
        s.spop(b"s", 5).unwrap(),
        Some(vec![Bytes::from_static(b"b")])
    );
    assert_eq!(s.len(), 0);
    assert_eq!(s.used_memory(), 0);
    s.sadd(b"a", &[b"1", b"2", b"3"]).unwrap();
    s.sadd(b"b", &[b"2", b"3", b"4"]).unwrap();
    let sorted = |mut v: Vec<Bytes>| {
        v.sort();
        v
    };
    let b = |x: &'static str| Bytes::from_static(x.as_bytes());
    assert_eq!(
        sorted(s.set_combine(&[b"a", b"b"], SetOp::Inter, 0).unwrap()),
        [b("2"), b("3")]
    );
    assert_eq!(
        s.set_combine(&[b"a", b"b"], SetOp::Inter, 1).unwrap().len(),
        1
    );
    assert_eq!(
        s.set_combine(&[b"a", b"b"], SetOp::Union, 0).unwrap().len(),
        4
    );
    assert_eq!(
        s.set_combine(&[b"a", b"b"], SetOp::Diff, 0).unwrap(),
        [b("1")]
    );
    assert_eq!(
        s.set_combine(&[b"a", b"nokey"], SetOp::Inter, 0)
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        s.set_combine_store(b"d", &[b"a", b"b"], SetOp::Union),
        Ok(4)
    );
    assert_eq!(s.object_encoding(b"d"), Some("intset"));
    assert_eq!(s.set_combine_store(b"d", &[b"nokey"], SetOp::Union), Ok(0));
    assert!(!s.exists(b"d"));
    assert_eq!(s.smove(b"a", b"c", b"1"), Ok(true));
    assert_eq!(s.smove(b"a", b"c", b"1"), Ok(false));
    assert_eq!(s.smembers(b"c").unwrap(), [b("1")]);
    s.set(b"str", b("x"), Default::default()).unwrap();
    assert_eq!(s.smove(b"a", b"str", b"2"), Err(StoreError::WrongType));
    assert_eq!(
        s.set_combine(&[b"nokey", b"str"], SetOp::Inter, 0),
        Err(StoreError::WrongType)
    );
    assert_eq!(s.sadd(b"str", &[b"x"]), Err(StoreError::WrongType));
    s.assert_consistent();
}

#[test]
fn random_members_and_pops() {
    let mut s = Shard::new(ShardConfig::default());
    let many: Vec<Vec<u8>> = (0..300).map(|i| format!("m{i}").into_bytes()).collect();
    let refs: Vec<&[u8]> = many.iter().map(|m| &m[..]).collect();
    s.sadd(b"s", &refs).unwrap();
    assert_eq!(s.object_encoding(b"s"), Some("hashtable"));
    let picked = s.srandmember(b"s", 50).unwrap().unwrap();
    assert_eq!(picked.iter().collect::<BTreeSet<_>>().len(), 50);
    assert_eq!(s.srandmember(b"s", -500).unwrap().unwrap().len(), 500);
    let popped = s.spop(b"s", 100).unwrap().unwrap();
    assert_eq!(popped.iter().collect::<BTreeSet<_>>().len(), 100);
    assert_eq!(s.scard(b"s"), Ok(200));
    for m in &popped {
        assert_eq!(s.sismember(b"s", m), Ok(false));
    }
    s.assert_consistent();
}

#[derive(Debug, Clone)]
enum Op {
    Add(u16),
    Remove(u16),
    PopAt(u16),
}

fn member(i: u16) -> Vec<u8> {
    match i % 3 {
        0 => (i as i64 - 100).to_string().into_bytes(),
        1 => format!("m{i}").into_bytes(),
        _ => vec![b'z'; 5 + i as usize % 7],
    }
}

proptest! {
    /// A set answers alike whichever encoding holds it, across conversions.
    #[test]
    fn encodings_agree(ops in proptest::collection::vec(
        prop_oneof![
            4 => (0u16..120).prop_map(Op::Add),
            2 => (0u16..120).prop_map(Op::Remove),
            1 => any::<u16>().prop_map(Op::PopAt),
        ], 0..200), only_ints in any::<bool>()) {
        let all = [limits(5, 8, 8), limits(512, 128, 64), limits(0, 0, 0)];
        let mut sets = [Set::new(), Set::new(), Set::new()];
        let mut model = BTreeSet::new();
        let pick = |i: u16| if only_ints { (i as i64 - 60).to_string().into_bytes() } else { member(i) };
        for op in &ops {
            match *op {
                Op::Add(i) => {
                    let new = model.insert(pick(i));
                    for (s, l) in sets.iter_mut().zip(&all) {
                        prop_assert_eq!(s.add(&pick(i), l), new);
                    }
                }
                Op::Remove(i) => {
                    let was = model.remove(&pick(i));
                    for s in &mut sets {
                        prop_assert_eq!(s.remove(&pick(i)), was);
                    }
                }
                Op::PopAt(i) => {
                    if model.is_empty() { continue; }
                    // Positions differ by encoding: pop from one, remove from the others.
                    let at = i as usize % model.len();
                    let gone = sets[0].remove_at(at).to_vec();
                    prop_assert!(model.remove(&gone));
                    for s in &mut sets[1..] {
                        prop_assert!(s.remove(&gone));
                    }
                }
            }
            for s in &sets {
                prop_assert_eq!(s.len(), model.len());
            }
        }
        for s in &sets {
            prop_assert_eq!(&members(s), &model);
            for m in &model {
                prop_assert!(s.contains(m));
            }
            let (cursor, scanned) = s.scan(0, usize::MAX);
            prop_assert_eq!(cursor, 0);
            prop_assert_eq!(scanned.len(), model.len());
        }
        prop_assert_eq!(&sets[0], &sets[1]);
    }
}
