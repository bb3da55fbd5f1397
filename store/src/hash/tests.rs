use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::StoreError;
use crate::shard::{Shard, ShardConfig};

fn limits(entries: usize, value: usize) -> EncodingLimits {
    EncodingLimits {
        hash_max_listpack_entries: entries,
        hash_max_listpack_value: value,
        ..EncodingLimits::default()
    }
}

fn sorted(h: &Hash) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
    v.sort();
    v
}

#[test]
fn compact_hash_keeps_insertion_order_and_converts_on_entries() {
    let l = limits(3, 64);
    let mut h = Hash::new();
    assert!(h.insert(b"b", b"1", &l));
    assert!(h.insert(b"a", b"2", &l));
    assert!(!h.insert(b"b", b"3", &l));
    assert_eq!(h.encoding(), "listpack");
    let order: Vec<&[u8]> = h.iter().map(|(f, _)| f).collect();
    assert_eq!(order, [&b"b"[..], b"a"]);
    assert_eq!(h.get(b"b"), Some(&b"3"[..]));
    assert!(h.insert(b"c", b"", &l));
    assert_eq!(h.encoding(), "listpack");
    assert!(h.insert(b"d", b"4", &l));
    assert_eq!(h.encoding(), "hashtable");
    assert_eq!(h.len(), 4);
    assert!(h.remove(b"a"));
    assert!(!h.remove(b"a"));
    assert_eq!(h.encoding(), "hashtable", "never converts back");
    assert_eq!(h.get(b"c"), Some(&b""[..]));
}

#[test]
fn long_field_or_value_converts() {
    let l = limits(128, 4);
    let mut h = Hash::new();
    h.insert(b"f", b"1234", &l);
    assert_eq!(h.encoding(), "listpack");
    h.insert(b"f", b"12345", &l);
    assert_eq!(h.encoding(), "hashtable");
    let mut h = Hash::new();
    h.insert(b"fffff", b"1", &l);
    assert_eq!(h.encoding(), "hashtable");
    assert_eq!(h.get(b"fffff"), Some(&b"1"[..]));
}

#[test]
fn memory_tracks_each_field() {
    let mut s = Shard::new(ShardConfig::default());
    assert_eq!(s.hset(b"h", [(&b"f"[..], &b"v"[..])]), Ok(1));
    let one = s.used_memory();
    s.hset(b"h", [(&b"g"[..], &b"vvvv"[..])]).unwrap();
    assert!(s.used_memory() > one);
    s.hdel(b"h", [&b"g"[..]]).unwrap();
    assert_eq!(s.used_memory(), one);
    s.hdel(b"h", [&b"f"[..]]).unwrap();
    assert_eq!(s.used_memory(), 0);
    assert_eq!(s.len(), 0, "an emptied hash is deleted");
    s.assert_consistent();
}

#[test]
fn increments_and_errors() {
    let mut s = Shard::new(ShardConfig::default());
    assert_eq!(s.hincrby(b"h", b"n", 5), Ok(5));
    assert_eq!(s.hincrby(b"h", b"n", -7), Ok(-2));
    assert_eq!(s.hincrby(b"h", b"n", i64::MIN), Err(StoreError::Overflow));
    s.hset(b"h", [(&b"s"[..], &b"abc"[..])]).unwrap();
    assert_eq!(s.hincrby(b"h", b"s", 1), Err(StoreError::HashNotInteger));
    assert_eq!(
        s.hincrbyfloat(b"h", b"s", 1.0),
        Err(StoreError::HashNotFloat)
    );
    assert_eq!(
        s.hincrbyfloat(b"h", b"f", 1.5).unwrap(),
        Bytes::from_static(b"1.5")
    );
    assert!(s.hincrbyfloat(b"h", b"f", f64::MAX).unwrap().len() > 3);
    assert_eq!(
        s.hincrbyfloat(b"h", b"f", f64::MAX),
        Err(StoreError::NanOrInfinity)
    );
    assert_eq!(s.hincrby(b"new", b"n", 0), Ok(0));
    s.set(b"str", Bytes::from_static(b"x"), Default::default())
        .unwrap();
    assert_eq!(s.hget(b"str", b"f"), Err(StoreError::WrongType));
    assert_eq!(
        s.hset(b"str", [(&b"f"[..], &b"v"[..])]),
        Err(StoreError::WrongType)
    );
    assert_eq!(s.hincrby(b"bad", b"n", 1), Ok(1));
    assert_eq!(s.hincrby(b"bad", b"n", i64::MAX), Err(StoreError::Overflow));
    assert_eq!(
        s.hget(b"bad", b"n").unwrap(),
        Some(Bytes::from_static(b"1"))
    );
    s.assert_consistent();
}

#[test]
fn random_fields_follow_redis_counts() {
    let mut s = Shard::new(ShardConfig::default());
    for i in 0..10 {
        s.hset(b"h", [(format!("f{i}").as_bytes(), &b"v"[..])])
            .unwrap();
    }
    assert_eq!(s.hrandfield(b"missing", 3), Ok(None));
    assert_eq!(s.hrandfield(b"h", 0).unwrap().unwrap().len(), 0);
    let some = s.hrandfield(b"h", 4).unwrap().unwrap();
    let mut names: Vec<_> = some.iter().map(|p| p.0.clone()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4, "distinct");
    assert_eq!(s.hrandfield(b"h", 100).unwrap().unwrap().len(), 10);
    assert_eq!(s.hrandfield(b"h", -30).unwrap().unwrap().len(), 30);
}

#[test]
fn hscan_of_a_table_visits_every_field() {
    let mut s = Shard::new(ShardConfig::default());
    for i in 0..300 {
        s.hset(b"h", [(format!("f{i}").as_bytes(), &b"v"[..])])
            .unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0;
    loop {
        let (next, items) = s.hscan(b"h", cursor, 7, None).unwrap();
        seen.extend(items.into_iter().map(|(f, _)| f));
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(seen.len(), 300);
    let (next, items) = s.hscan(b"h", 0, 1000, Some(b"f1?")).unwrap();
    assert_eq!((next, items.len()), (0, 10));
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, u8),
    Del(u8),
}

fn field(i: u8) -> Vec<u8> {
    // Some fields are long enough to pass a small value threshold.
    if i.is_multiple_of(7) {
        vec![b'x'; 10 + i as usize % 5]
    } else {
        vec![b'a' + i % 26, i]
    }
}

proptest! {
    /// A hash answers alike whichever encoding holds it, across the
    /// conversion: one that converts early, one that never converts and
    /// one that starts as a table, against a model map.
    #[test]
    fn encodings_agree(ops in proptest::collection::vec(
        prop_oneof![
            (0u8..40, 0u8..50).prop_map(|(f, v)| Op::Set(f, v)),
            (0u8..40).prop_map(Op::Del),
        ], 0..200)) {
        let all = [limits(4, 8), limits(usize::MAX, usize::MAX), limits(0, 0)];
        let mut hashes = [Hash::new(), Hash::new(), Hash::new()];
        let mut model = BTreeMap::new();
        for op in &ops {
            match *op {
                Op::Set(f, v) => {
                    let value = vec![b'v'; v as usize % 12];
                    let new = model.insert(field(f), value.clone()).is_none();
                    for (h, l) in hashes.iter_mut().zip(&all) {
                        prop_assert_eq!(h.insert(&field(f), &value, l), new);
                    }
                }
                Op::Del(f) => {
                    let was = model.remove(&field(f)).is_some();
                    for h in &mut hashes {
                        prop_assert_eq!(h.remove(&field(f)), was);
                    }
                }
            }
            for h in &hashes {
                prop_assert_eq!(h.len(), model.len());
            }
        }
        let want: Vec<_> = model.into_iter().collect();
        for h in &hashes {
            prop_assert_eq!(&sorted(h), &want);
            for (f, v) in &want {
                prop_assert_eq!(h.get(f), Some(&v[..]));
            }
        }
        prop_assert_eq!(&hashes[0], &hashes[2]);
        prop_assert_eq!(hashes[2].encoding(), if want.is_empty() { hashes[2].encoding() } else { "hashtable" });
    }
}
