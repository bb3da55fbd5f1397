//! Point-in-time snapshots of a shard without a fork and without a copy.
//!
//! A snapshot encodes the shard's records as they were when it began,
//! while the shard keeps serving writes: the walk visits the table's
//! positions from the last down, a slice at a time, and every primitive
//! that changes or removes a record the walk has not reached yet encodes
//! that record first (Dragonfly's versioned snapshots, with the walk's
//! position as the version). So memory does not double as with a fork:
//! only what a write is about to change is encoded early.
//!
//! The table removes by moving its last entry into the hole, and inserts
//! at the end; so a position at or past the walk's holds a record the
//! walk has written or one born after the snapshot began, and positions
//! below it hold records still to write — except those written early, or
//! moved down from the written part, which `done` names so the walk skips
//! them. A flush hands the whole old table to the snapshot (nothing of the
//! new one belongs to it), which walks it to the end undisturbed.

use std::collections::HashSet;

use bytes::Bytes;
use indexmap::IndexMap;

use crate::Record;
use crate::shard::{RandomState, Shard};

/// How a record is encoded into the snapshot's bytes (the persistence
/// layer's format; the store knows none).
pub type Encode = fn(out: &mut Vec<u8>, key: &[u8], record: &Record);

/// A snapshot of one shard, under way.
pub(crate) struct Snapshot {
    encode: Encode,
    /// Positions below this are still to write.
    left: usize,
    /// Keys at positions below `left` that are written already.
    done: HashSet<Bytes, RandomState>,
    /// The table a flush replaced while the walk was under way.
    frozen: Option<IndexMap<Bytes, Record, RandomState>>,
    /// Encoded records not yet taken by [`Shard::take_snapshot_bytes`].
    out: Vec<u8>,
    /// Records written.
    records: u64,
}

impl Shard {
    /// Begins a snapshot of the shard as it is now; records are encoded by
    /// `encode` as the walk or a write reaches them.
    pub fn begin_snapshot(&mut self, encode: Encode) {
        self.snapshot = Some(Box::new(Snapshot {
            encode,
            left: self.table.len(),
            done: HashSet::with_hasher(RandomState::new()),
            frozen: None,
            out: Vec::new(),
            records: 0,
        }));
    }

    /// Whether a snapshot is under way (its walk not finished, or its
    /// bytes not all taken).
    pub fn snapshotting(&self) -> bool {
        self.snapshot.is_some()
    }

    /// Walks up to `count` positions; `true` once the walk is done. Its
    /// bytes are taken with [`Shard::take_snapshot_bytes`], which ends it.
    pub fn snapshot_step(&mut self, count: usize) -> bool {
        let now = self.now_ms;
        let Some(snap) = self.snapshot.as_deref_mut() else {
            return true;
        };
        let table = snap.frozen.as_ref().unwrap_or(&self.table);
        for _ in 0..count {
            if snap.left == 0 {
                break;
            }
            snap.left -= 1;
            let (key, record) = table
                .get_index(snap.left)
                .expect("position below the table's end");
            if snap.done.remove(key) || record.is_expired_at(now) {
                continue;
            }
            (snap.encode)(&mut snap.out, key, record);
            snap.records += 1;
        }
        if snap.left == 0 {
            snap.frozen = None;
            snap.done = HashSet::default();
        }
        snap.left == 0
    }

    /// The bytes encoded since the last call; once the walk is done, the
    /// last of them, and the snapshot ends (`None` without one). The
    /// second value is the number of records written so far.
    pub fn take_snapshot_bytes(&mut self) -> Option<(Vec<u8>, u64)> {
        let snap = self.snapshot.as_deref_mut()?;
        let bytes = std::mem::take(&mut snap.out);
        let records = snap.records;
        if snap.left == 0 {
            self.snapshot = None;
        }
        Some((bytes, records))
    }

    /// Drops a snapshot under way (the save failed or was cancelled).
    pub fn cancel_snapshot(&mut self) {
        self.snapshot = None;
    }

    /// Before the record at `idx` changes or goes: if the walk has not
    /// written it, it is written now, as it is.
    pub(crate) fn snapshot_before_write(&mut self, idx: usize) {
        let now = self.now_ms;
        let Some(snap) = self.snapshot.as_deref_mut() else {
            return;
        };
        if snap.frozen.is_some() || idx >= snap.left {
            return;
        }
        let (key, record) = self.table.get_index(idx).expect("index in bounds");
        if snap.done.contains(key) {
            return;
        }
        snap.done.insert(key.clone());
        if !record.is_expired_at(now) {
            (snap.encode)(&mut snap.out, key, record);
            snap.records += 1;
        }
    }

    /// After the entry at `idx` was removed and the last one (at `last`)
    /// moved into its place: a written record moved below the walk is
    /// marked, and the walk never looks past the table's end.
    pub(crate) fn snapshot_after_remove(&mut self, idx: usize, last: usize) {
        let Some(snap) = self.snapshot.as_deref_mut() else {
            return;
        };
        if snap.frozen.is_some() {
            return;
        }
        if idx < last && last >= snap.left && idx < snap.left {
            let (key, _) = self.table.get_index(idx).expect("moved entry");
            snap.done.insert(key.clone());
        }
        snap.left = snap.left.min(self.table.len());
    }

    /// A flush is replacing `old`: the walk keeps it, as it was.
    pub(crate) fn snapshot_flushed(&mut self, old: IndexMap<Bytes, Record, RandomState>) {
        if let Some(snap) = self.snapshot.as_deref_mut()
            && snap.frozen.is_none()
            && snap.left > 0
        {
            snap.frozen = Some(old);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::{SetOptions, ShardConfig, Value};

    /// A test encoding: key length, key, value length, value.
    fn encode(out: &mut Vec<u8>, key: &[u8], record: &Record) {
        let value = record.value.as_string().expect("strings only");
        for part in [key, &value[..]] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
    }

    fn decode(mut bytes: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
        fn part(bytes: &mut &[u8]) -> Vec<u8> {
            let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
            let part = bytes[4..4 + len].to_vec();
            *bytes = &bytes[4 + len..];
            part
        }
        let mut out = BTreeMap::new();
        while !bytes.is_empty() {
            let (key, value) = (part(&mut bytes), part(&mut bytes));
            assert!(
                out.insert(key.clone(), value).is_none(),
                "{key:?} written twice"
            );
        }
        out
    }

    fn contents(shard: &mut Shard) -> BTreeMap<Vec<u8>, Vec<u8>> {
        shard
            .keys(b"*")
            .into_iter()
            .map(|k| (k.to_vec(), shard.get(&k).unwrap().unwrap().to_vec()))
            .collect()
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, u8),
        Append(u8),
        Del(u8),
        Rename(u8, u8),
        Flush,
        Walk(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..40, any::<u8>()).prop_map(|(k, v)| Op::Set(k, v)),
            2 => (0u8..40).prop_map(Op::Append),
            3 => (0u8..40).prop_map(Op::Del),
            1 => (0u8..40, 0u8..40).prop_map(|(a, b)| Op::Rename(a, b)),
            1 => Just(Op::Flush),
            3 => (1u8..8).prop_map(Op::Walk),
        ]
    }

    proptest! {
        /// Whatever writes run while the walk goes on, the snapshot holds
        /// exactly the records of the moment it began, each once.
        #[test]
        fn a_snapshot_is_the_shard_as_it_began(
            initial in proptest::collection::vec((0u8..40, any::<u8>()), 0..40),
            ops in proptest::collection::vec(op(), 0..120),
        ) {
            let mut shard = Shard::new(ShardConfig::default());
            for (k, v) in initial {
                shard.set(&[k], Bytes::from(vec![v]), SetOptions::default()).unwrap();
            }
            let want = contents(&mut shard);
            shard.begin_snapshot(encode);
            let mut bytes = Vec::new();
            for op in ops {
                match op {
                    Op::Set(k, v) => { shard.set(&[k], Bytes::from(vec![v]), SetOptions::default()).unwrap(); }
                    Op::Append(k) => { let _ = shard.append(&[k], b"+"); }
                    Op::Del(k) => { shard.del(&[k]); }
                    Op::Rename(a, b) => { let _ = shard.rename(&[a], &[b], false); }
                    Op::Flush => { shard.flush(); }
                    Op::Walk(n) => { shard.snapshot_step(usize::from(n)); }
                }
                if let Some((more, _)) = shard.take_snapshot_bytes() {
                    bytes.extend(more);
                }
                if !shard.snapshotting() {
                    break;
                }
            }
            while !shard.snapshot_step(16) {}
            if let Some((more, _)) = shard.take_snapshot_bytes() {
                bytes.extend(more);
            }
            prop_assert!(!shard.snapshotting());
            prop_assert_eq!(decode(&bytes), want);
        }
    }

    #[test]
    fn a_shard_without_a_snapshot_pays_nothing_and_keeps_its_keys() {
        let mut shard = Shard::new(ShardConfig::default());
        shard
            .set(b"k", Bytes::from_static(b"v"), SetOptions::default())
            .unwrap();
        assert!(shard.take_snapshot_bytes().is_none());
        assert!(shard.snapshot_step(10));
        shard.begin_snapshot(encode);
        assert!(shard.snapshot_step(10));
        let (bytes, records) = shard.take_snapshot_bytes().unwrap();
        assert_eq!(records, 1);
        assert_eq!(decode(&bytes).len(), 1);
        assert!(!shard.snapshotting());
        assert_eq!(shard.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
        let _ = Value::String(Bytes::new());
    }
}
