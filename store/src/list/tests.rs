use std::collections::VecDeque;

use proptest::prelude::*;

use super::*;
use crate::StoreError;
use crate::collection::rank_interval;
use crate::shard::{Shard, ShardConfig};

fn limits(size: i64) -> EncodingLimits {
    EncodingLimits {
        list_max_listpack_size: size,
        ..EncodingLimits::default()
    }
}

fn items(l: &List) -> Vec<Vec<u8>> {
    l.iter().map(<[u8]>::to_vec).collect()
}

fn list_of(n: usize, l: &EncodingLimits) -> List {
    let mut list = List::new();
    for i in 0..n {
        list.push(End::Right, &[i.to_string().as_bytes()], l);
    }
    list
}

#[test]
fn listpack_converts_at_the_entry_limit_and_back_at_half() {
    let l = limits(4);
    let mut list = list_of(4, &l);
    assert_eq!(list.encoding(), "listpack");
    list.push(End::Left, &[b"x"], &l);
    assert_eq!((list.encoding(), list.len()), ("quicklist", 5));
    assert_eq!(items(&list)[0], b"x");
    list.pop(End::Left, 1, &l);
    assert_eq!(list.encoding(), "quicklist", "one node of 4: not yet half");
    list.pop(End::Right, 2, &l);
    assert_eq!(list.encoding(), "listpack");
    assert_eq!(items(&list), vec![b"0".to_vec(), b"1".to_vec()]);
}

#[test]
fn byte_limit_counts_as_redis_and_splits_nodes() {
    let l = limits(-1); // 4 KiB nodes
    let mut list = List::new();
    let big = vec![b'v'; 1000];
    for _ in 0..4 {
        list.push(End::Right, &[&big], &l);
    }
    assert_eq!(list.encoding(), "listpack");
    list.push(End::Right, &[&big], &l);
    assert_eq!(list.encoding(), "quicklist");
    for _ in 0..20 {
        list.push(End::Right, &[&big], &l);
    }
    let Repr::Quick { nodes, len, bytes } = &list.repr else {
        panic!("a quicklist");
    };
    assert_eq!(*len, 25);
    assert!(
        nodes.len() >= 7,
        "4 KiB nodes of 1 KB items: {}",
        nodes.len()
    );
    assert!(nodes.iter().all(|n| n.lp_bytes() <= 4096));
    assert_eq!(*bytes, nodes.iter().map(Node::byte_len).sum::<usize>());
    // An element bigger than any node gets a node of its own.
    let huge = vec![b'h'; 10_000];
    list.push(End::Left, &[&huge], &l);
    assert_eq!(list.get(0).as_deref(), Some(&huge[..]));
    assert_eq!(list.len(), 26);
}

#[test]
fn index_insert_set_remove_across_nodes() {
    let l = limits(3);
    let mut list = list_of(10, &l);
    assert_eq!(list.encoding(), "quicklist");
    assert_eq!(list.get(7).as_deref(), Some(&b"7"[..]));
    assert_eq!(list.get(10), None);
    assert!(list.insert(b"5", b"five-", true, &l));
    assert!(list.insert(b"5", b"-five", false, &l));
    assert!(!list.insert(b"nope", b"x", true, &l));
    assert!(list.set(0, b"zero", &l));
    assert!(!list.set(12, b"x", &l));
    assert_eq!(
        list.range(4, 7),
        ["4", "five-", "5", "-five"].map(Bytes::from).to_vec()
    );
    list.push(End::Right, &[b"5", b"5"], &l);
    assert_eq!(list.remove(b"5", -2, &l), 2);
    assert_eq!(list.remove(b"5", 0, &l), 1);
    assert_eq!(list.len(), 11);
    list.retain_range(2, 4, &l);
    assert_eq!(items(&list), [b"2".to_vec(), b"3".to_vec(), b"4".to_vec()]);
    assert_eq!(list.encoding(), "quicklist", "3 entries: over half of 3");
    list.pop(End::Left, 2, &l);
    assert_eq!(list.encoding(), "listpack");
    list.retain_range(5, 1, &l);
    assert!(list.is_empty());
}

#[test]
fn shard_commands_follow_redis() {
    let mut shard = Shard::new(ShardConfig::default());
    assert_eq!(shard.list_push(b"k", End::Left, &[b"a"], true), Ok(0));
    assert_eq!(shard.len(), 0);
    assert_eq!(
        shard.list_push(b"k", End::Left, &[b"a", b"b"], false),
        Ok(2)
    );
    assert_eq!(shard.list_push(b"k", End::Right, &[b"c"], true), Ok(3));
    assert_eq!(
        shard.lrange(b"k", 0, -1).unwrap(),
        ["b", "a", "c"].map(Bytes::from)
    );
    assert_eq!(shard.lrange(b"k", -100, 100).unwrap().len(), 3);
    assert_eq!(shard.lrange(b"k", 2, 1).unwrap(), Vec::<Bytes>::new());
    assert_eq!(shard.lindex(b"k", -1), Ok(Some(Bytes::from("c"))));
    assert_eq!(shard.lindex(b"k", 3), Ok(None));
    assert_eq!(shard.lset(b"k", -4, b"x"), Err(StoreError::IndexOutOfRange));
    assert_eq!(shard.lset(b"nokey", 0, b"x"), Err(StoreError::NoSuchKey));
    assert_eq!(shard.linsert(b"nokey", true, b"a", b"x"), Ok(0));
    assert_eq!(
        shard.lmove(b"k", b"d", End::Right, End::Left),
        Ok(Some(Bytes::from("c")))
    );
    assert_eq!(shard.lmove(b"nokey", b"d", End::Right, End::Left), Ok(None));
    shard
        .set(b"s", Bytes::from("str"), Default::default())
        .unwrap();
    assert_eq!(
        shard.list_push(b"s", End::Left, &[b"a"], false),
        Err(StoreError::WrongType)
    );
    assert_eq!(
        shard.lmove(b"k", b"s", End::Left, End::Left),
        Err(StoreError::WrongType)
    );
    assert_eq!(shard.llen(b"k"), Ok(2), "a refused move pops nothing");
    assert_eq!(
        shard.lmpop(&[b"none", b"s"], End::Left, 1),
        Err(StoreError::WrongType)
    );
    assert_eq!(
        shard.lmpop(&[b"none", b"d", b"k"], End::Left, 5),
        Ok(Some((Bytes::from("d"), vec![Bytes::from("c")])))
    );
    assert_eq!(
        shard.list_pop(b"k", End::Right, 10),
        Ok(Some(["a", "b"].map(Bytes::from).to_vec()))
    );
    assert_eq!(shard.len(), 1, "emptied lists are deleted");
    assert_eq!(
        shard.used_memory(),
        crate::shard::entry_cost(b"s", &crate::Record::string(Bytes::from("str")))
    );
}

#[test]
fn lpos_ranks_counts_and_maxlen() {
    let mut shard = Shard::new(ShardConfig::default());
    let all: Vec<&[u8]> = [b"a", b"b", b"c", b"1", b"2", b"3", b"c", b"c"]
        .map(|i| &i[..])
        .to_vec();
    shard.list_push(b"k", End::Right, &all, false).unwrap();
    let lpos = |shard: &mut Shard, rank, count, maxlen| {
        shard
            .lpos(
                b"k",
                b"c",
                LposOptions {
                    rank,
                    count,
                    maxlen,
                },
            )
            .unwrap()
    };
    assert_eq!(lpos(&mut shard, 1, None, 0), Some(vec![2]));
    assert_eq!(lpos(&mut shard, 2, None, 0), Some(vec![6]));
    assert_eq!(lpos(&mut shard, -1, None, 0), Some(vec![7]));
    assert_eq!(lpos(&mut shard, 1, Some(0), 0), Some(vec![2, 6, 7]));
    assert_eq!(lpos(&mut shard, -2, Some(0), 0), Some(vec![6, 2]));
    assert_eq!(lpos(&mut shard, 1, Some(2), 0), Some(vec![2, 6]));
    assert_eq!(lpos(&mut shard, 1, Some(0), 3), Some(vec![2]));
    assert_eq!(lpos(&mut shard, -1, Some(0), 2), Some(vec![7, 6]));
    assert_eq!(lpos(&mut shard, 4, None, 0), Some(vec![]));
    assert_eq!(
        shard.lpos(
            b"nokey",
            b"c",
            LposOptions {
                rank: 1,
                count: None,
                maxlen: 0
            }
        ),
        Ok(None)
    );
}

#[test]
fn memory_is_charged_per_element() {
    let mut shard = Shard::new(ShardConfig::default());
    shard.list_push(b"k", End::Right, &[b"a"], false).unwrap();
    let one = shard.used_memory();
    shard
        .list_push(b"k", End::Right, &[&[b'x'; 1000]], false)
        .unwrap();
    assert!(shard.used_memory() >= one + 1000);
    shard.list_pop(b"k", End::Right, 1).unwrap();
    assert_eq!(shard.used_memory(), one);
}

#[derive(Debug, Clone)]
enum Op {
    Push(bool, u16),
    Pop(bool, u8),
    Set(i16, u16),
    Insert(bool, u16, u16),
    Remove(i8, u16),
    Trim(i16, i16),
}

fn item(i: u16) -> Vec<u8> {
    match i % 3 {
        0 => i.to_string().into_bytes(),
        1 => format!("e{}", i % 20).into_bytes(),
        _ => vec![b'z'; 200 + usize::from(i) % 300],
    }
}

proptest! {
    /// A list answers alike whichever encoding holds it, across
    /// conversions both ways, and as a plain deque would.
    #[test]
    fn encodings_agree(ops in proptest::collection::vec(
        prop_oneof![
            4 => (any::<bool>(), any::<u16>()).prop_map(|(l, i)| Op::Push(l, i)),
            2 => (any::<bool>(), 0u8..5).prop_map(|(l, n)| Op::Pop(l, n)),
            1 => (-30i16..30, any::<u16>()).prop_map(|(at, i)| Op::Set(at, i)),
            1 => (any::<bool>(), any::<u16>(), any::<u16>()).prop_map(|(b, p, i)| Op::Insert(b, p, i)),
            1 => (-3i8..3, any::<u16>()).prop_map(|(n, i)| Op::Remove(n, i)),
            1 => (-40i16..40, -40i16..40).prop_map(|(a, b)| Op::Trim(a, b)),
        ], 0..300)) {
        let all = [limits(-2), limits(3), limits(-1), limits(0)];
        let mut lists = [List::new(), List::new(), List::new(), List::new()];
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        for op in &ops {
            match *op {
                Op::Push(left, i) => {
                    let end = if left { End::Left } else { End::Right };
                    if left { model.push_front(item(i)) } else { model.push_back(item(i)) }
                    for (list, l) in lists.iter_mut().zip(&all) {
                        list.push(end, &[&item(i)], l);
                    }
                }
                Op::Pop(left, n) => {
                    let end = if left { End::Left } else { End::Right };
                    let want: Vec<Vec<u8>> = (0..n)
                        .filter_map(|_| if left { model.pop_front() } else { model.pop_back() })
                        .collect();
                    for (list, l) in lists.iter_mut().zip(&all) {
                        let got: Vec<Vec<u8>> = list.pop(end, n.into(), l).iter().map(|b| b.to_vec()).collect();
                        prop_assert_eq!(&got, &want);
                    }
                }
                Op::Set(at, i) => {
                    let index = usize::try_from(at).ok().filter(|&a| a < model.len());
                    if let Some(a) = index { model[a] = item(i); }
                    for (list, l) in lists.iter_mut().zip(&all) {
                        prop_assert_eq!(index.is_some_and(|a| list.set(a, &item(i), l)), index.is_some());
                    }
                }
                Op::Insert(before, p, i) => {
                    let at = model.iter().position(|e| *e == item(p));
                    if let Some(a) = at { model.insert(if before { a } else { a + 1 }, item(i)); }
                    for (list, l) in lists.iter_mut().zip(&all) {
                        prop_assert_eq!(list.insert(&item(p), &item(i), before, l), at.is_some());
                    }
                }
                Op::Remove(n, i) => {
                    let target = item(i);
                    let mut keep: Vec<bool> = vec![true; model.len()];
                    let order: Vec<usize> = if n < 0 { (0..model.len()).rev().collect() } else { (0..model.len()).collect() };
                    let limit = if n == 0 { usize::MAX } else { n.unsigned_abs().into() };
                    let mut gone = 0;
                    for idx in order {
                        if gone < limit && model[idx] == target { keep[idx] = false; gone += 1; }
                    }
                    model = model.into_iter().zip(keep).filter(|(_, k)| *k).map(|(e, _)| e).collect();
                    for (list, l) in lists.iter_mut().zip(&all) {
                        prop_assert_eq!(list.remove(&target, n.into(), l), gone);
                    }
                }
                Op::Trim(a, b) => {
                    let (lo, hi) = rank_interval(model.len(), a.into(), b.into());
                    model = model.into_iter().skip(lo).take(hi - lo).collect();
                    for (list, l) in lists.iter_mut().zip(&all) {
                        if lo == hi { list.retain_range(1, 0, l) } else { list.retain_range(lo, hi - 1, l) }
                    }
                }
            }
            let want: Vec<Vec<u8>> = model.iter().cloned().collect();
            for list in &lists {
                prop_assert_eq!(list.len(), model.len());
                prop_assert_eq!(&items(list), &want);
                let mut back: Vec<Vec<u8>> = list.iter_rev().map(<[u8]>::to_vec).collect();
                back.reverse();
                prop_assert_eq!(&back, &want);
                if let Repr::Quick { nodes, bytes, .. } = &list.repr {
                    prop_assert_eq!(*bytes, nodes.iter().map(Node::byte_len).sum::<usize>());
                    prop_assert!(nodes.iter().all(|n| !n.is_empty()));
                }
            }
        }
        for list in &lists {
            if !model.is_empty() {
                let mid = model.len() / 2;
                prop_assert_eq!(list.get(mid).map(|b| b.to_vec()), Some(model[mid].clone()));
                let got: Vec<Vec<u8>> = list.range(mid, model.len() - 1).iter().map(|b| b.to_vec()).collect();
                prop_assert_eq!(got, model.iter().skip(mid).cloned().collect::<Vec<_>>());
            }
        }
    }
}
