//! SCAN over the table's dense index.
//!
//! The cursor walks slots in descending order: cursor 0 starts at the last
//! slot, a cursor `c > 0` means "slot `c - 1` is next", and 0 comes back once
//! slot 0 has been visited. The table only ever appends at the end and
//! removes with `swap_remove`, which moves the *last* entry down into the
//! hole. So a key that is present for the whole scan either was visited
//! already or sits at or below the next slot, and it can only move down:
//! every such key is returned at least once (duplicates are possible), which
//! is Redis's guarantee. Reaping an expired key at the slot being visited is
//! itself such a removal, so SCAN reaps as Redis's does.

use bytes::Bytes;

use crate::glob::glob_match;
use crate::record::{Record, copy_out};
use crate::shard::Shard;

impl Shard {
    /// SCAN: examines up to `count` slots (at least one, like Redis's
    /// buckets) from `cursor`, returns the next cursor (0 when done) and the
    /// live keys among them that match `pattern` (glob) and `type_name`
    /// (compared without case, as Redis does).
    pub fn scan(
        &mut self,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
        type_name: Option<&[u8]>,
    ) -> (u64, Vec<Bytes>) {
        let len = self.table.len();
        if len == 0 {
            return (0, Vec::new());
        }
        let last = len - 1;
        let mut next = if cursor == 0 {
            last
        } else {
            usize::try_from(cursor - 1).map_or(last, |c| c.min(last))
        };
        // A bare "*" filters nothing (and must also let the empty key through,
        // which the glob itself would not).
        let pattern = pattern.filter(|p| *p != b"*");
        let mut keys = Vec::new();
        for _ in 0..count.max(1) {
            let record = &self.table[next];
            if record.is_expired_at(self.now_ms) {
                self.expire_at_index(next);
            } else {
                let key = self
                    .table
                    .get_index(next)
                    .map(|(k, _)| k)
                    .expect("slot in bounds");
                let type_ok = type_name
                    .is_none_or(|t| t.eq_ignore_ascii_case(record.value.type_name().as_bytes()));
                if type_ok && pattern.is_none_or(|p| glob_match(p, key, false)) {
                    keys.push(copy_out(key));
                }
            }
            if next == 0 {
                return (0, keys);
            }
            next -= 1;
            // Reaping may have shrunk the table below the next slot.
            if next >= self.table.len() {
                match self.table.len() {
                    0 => return (0, keys),
                    n => next = n - 1,
                }
            }
        }
        (next as u64 + 1, keys)
    }

    /// Walks up to `count` slots from `cursor` in [`Shard::scan`]'s order
    /// (so a record present for the whole walk is seen at least once,
    /// perhaps twice), calling `visit` with each record not expired; returns
    /// the next cursor, 0 when done. Changes nothing: a log rewrite walks a
    /// shard between requests with it.
    pub fn walk(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &Record)) -> u64 {
        let len = self.table.len();
        if len == 0 {
            return 0;
        }
        let last = len - 1;
        let mut next = if cursor == 0 {
            last
        } else {
            usize::try_from(cursor - 1).map_or(last, |c| c.min(last))
        };
        for _ in 0..count.max(1) {
            let (key, record) = self.table.get_index(next).expect("slot in bounds");
            if !record.is_expired_at(self.now_ms) {
                visit(key, record);
            }
            if next == 0 {
                return 0;
            }
            next -= 1;
        }
        next as u64 + 1
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashSet};

    use proptest::prelude::*;

    use super::*;
    use crate::shard::ShardConfig;
    use crate::strings::{SetExpire, SetOptions};

    const NOW: u64 = 10_000;

    fn shard() -> Shard {
        let mut s = Shard::new(ShardConfig::default());
        s.set_now(NOW);
        s
    }

    fn put(s: &mut Shard, k: &[u8], expire: SetExpire) {
        let opts = SetOptions {
            expire,
            ..SetOptions::default()
        };
        s.set(k, Bytes::from_static(b"v"), opts).unwrap();
    }

    fn full_scan(
        s: &mut Shard,
        count: usize,
        pattern: Option<&[u8]>,
        ty: Option<&[u8]>,
    ) -> Vec<Bytes> {
        let mut cursor = 0;
        let mut all = Vec::new();
        let mut calls = 0;
        loop {
            let (next, keys) = s.scan(cursor, count, pattern, ty);
            all.extend(keys);
            calls += 1;
            assert!(calls < 100_000, "scan does not terminate");
            if next == 0 {
                return all;
            }
            cursor = next;
        }
    }

    #[test]
    fn empty_shard() {
        let mut s = shard();
        assert_eq!(s.scan(0, 10, None, None), (0, vec![]));
        assert_eq!(s.scan(12345, 10, None, None), (0, vec![]));
    }

    #[test]
    fn full_scan_returns_each_key_once_without_changes() {
        let mut s = shard();
        for i in 0..1000 {
            put(&mut s, format!("k{i}").as_bytes(), SetExpire::Clear);
        }
        put(&mut s, b"", SetExpire::Clear);
        for count in [1, 7, 10, 5000] {
            let got = full_scan(&mut s, count, None, None);
            assert_eq!(got.len(), 1001);
            assert_eq!(got.iter().collect::<HashSet<_>>().len(), 1001);
        }
        let (cursor, keys) = s.scan(0, 0, None, None);
        assert_eq!(keys.len(), 1, "COUNT 0 still examines one slot");
        assert_eq!(cursor, 1000);
    }

    #[test]
    fn match_and_type_filters() {
        let mut s = shard();
        for i in 0..100 {
            put(&mut s, format!("user:{i}").as_bytes(), SetExpire::Clear);
            put(&mut s, format!("item:{i}").as_bytes(), SetExpire::Clear);
        }
        assert_eq!(full_scan(&mut s, 10, Some(b"user:*"), None).len(), 100);
        assert_eq!(full_scan(&mut s, 10, Some(b"user:1?"), None).len(), 10);
        assert_eq!(
            full_scan(&mut s, 10, Some(b"*"), Some(b"STRING")).len(),
            200
        );
        assert_eq!(full_scan(&mut s, 10, None, Some(b"list")).len(), 0);
        assert_eq!(full_scan(&mut s, 10, None, Some(b"nosuchtype")).len(), 0);
    }

    #[test]
    fn out_of_range_cursor_is_clamped() {
        let mut s = shard();
        for i in 0..10 {
            put(&mut s, format!("k{i}").as_bytes(), SetExpire::Clear);
        }
        let (next, keys) = s.scan(u64::MAX, 3, None, None);
        assert_eq!(keys.len(), 3);
        assert_eq!(next, 7);
    }

    #[test]
    fn expired_keys_are_skipped_and_reaped() {
        let mut s = shard();
        for i in 0..50 {
            let expire = if i % 2 == 0 {
                SetExpire::At(NOW + 1)
            } else {
                SetExpire::Clear
            };
            put(&mut s, format!("k{i}").as_bytes(), expire);
        }
        s.set_now(NOW + 1);
        let got: BTreeSet<Bytes> = full_scan(&mut s, 3, None, None).into_iter().collect();
        assert_eq!(got.len(), 25);
        assert_eq!(s.len(), 25, "scan reaped the expired keys it visited");
        s.assert_consistent();
    }

    #[derive(Debug, Clone)]
    enum ScanOp {
        Insert(u16),
        Delete(u16),
        InsertExpiring(u16),
        Tick,
        Scan(usize),
    }

    fn op() -> impl Strategy<Value = ScanOp> {
        prop_oneof![
            3 => (0u16..400).prop_map(ScanOp::Insert),
            3 => (0u16..400).prop_map(ScanOp::Delete),
            1 => (0u16..400).prop_map(ScanOp::InsertExpiring),
            1 => Just(ScanOp::Tick),
            4 => (1usize..20).prop_map(ScanOp::Scan),
        ]
    }

    fn apply(s: &mut Shard, op: &ScanOp, stable: &mut BTreeSet<u16>) {
        match *op {
            ScanOp::Insert(i) => put(s, &key(i), SetExpire::Clear),
            ScanOp::InsertExpiring(i) => {
                // The key will expire: it no longer counts as present throughout.
                stable.remove(&i);
                let at = s.now() + 1;
                put(s, &key(i), SetExpire::At(at));
            }
            ScanOp::Delete(i) => {
                stable.remove(&i);
                s.del(&key(i));
            }
            ScanOp::Tick => {
                let now = s.now();
                s.set_now(now + 1);
            }
            ScanOp::Scan(_) => unreachable!("scans are driven by the test"),
        }
    }

    fn key(i: u16) -> Vec<u8> {
        format!("key:{i}").into_bytes()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Every key present (and live) from the first SCAN call to the last
        /// is returned at least once, whatever inserts, deletes and expiries
        /// happen in between.
        #[test]
        fn scan_returns_every_key_present_throughout(
            initial in proptest::collection::btree_set(0u16..400, 0..200),
            ops in proptest::collection::vec(op(), 0..300),
        ) {
            let mut s = shard();
            for &i in &initial {
                put(&mut s, &key(i), SetExpire::Clear);
            }
            // Keys that have stayed untouched since the scan began.
            let mut stable: BTreeSet<u16> = initial.clone();
            let mut seen: HashSet<Bytes> = HashSet::new();
            let mut cursor = 0;
            let mut started = false;
            let mut finished = false;
            for op in &ops {
                if let ScanOp::Scan(count) = *op {
                    if finished {
                        continue;
                    }
                    let (next, keys) = s.scan(cursor, count, None, None);
                    started = true;
                    seen.extend(keys);
                    cursor = next;
                    if cursor == 0 {
                        finished = true;
                    }
                } else if !started {
                    // Before the scan starts, changes decide the initial set.
                    apply(&mut s, op, &mut stable);
                    if let ScanOp::Insert(i) = *op {
                        stable.insert(i);
                    }
                } else {
                    apply(&mut s, op, &mut stable);
                }
                s.assert_consistent();
            }
            while !finished {
                let (next, keys) = s.scan(cursor, 5, None, None);
                seen.extend(keys);
                cursor = next;
                finished = cursor == 0;
            }
            for i in stable {
                prop_assert!(seen.contains(&key(i)[..]), "key:{} missed", i);
            }
        }
    }
}
