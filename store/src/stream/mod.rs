//! The stream type: an append-only log of entries keyed by `ms-seq` IDs,
//! with consumer groups.
//!
//! # Representation
//!
//! Entries live in *blocks* (a `BTreeMap` keyed by each block's first ID),
//! as Redis keeps a radix tree of listpacks. A block is one packed byte
//! buffer of up to [`BLOCK_MAX_ENTRIES`] entries or [`BLOCK_MAX_BYTES`]
//! bytes; each entry is
//!
//! ```text
//! flags:u8  ms-delta:varint  seq:varint  [n:varint field:(len bytes)...]  value:(len bytes)...
//! ```
//!
//! with its ms stored as a delta against the block's first ID, and its field
//! names left out (flag [`SAME_FIELDS`]) when they equal those of the
//! block's first entry, the block's *master* entry. A deleted entry is only
//! flagged; a block whose entries are all deleted is dropped, and trimming
//! drops whole blocks (the `~` form stops at a block boundary, as Redis's
//! does at a node).
//!
//! Consumer groups keep Redis's state: the last delivered ID, the
//! entries-read counter (for the lag), the pending entries list (PEL) by
//! ID, and the consumers with their own PEL.

mod ops;
mod parts;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bytes::Bytes;

use crate::collection::{COLLECTION_OVERHEAD, Collection};
use crate::record::Value;

pub use ops::{
    ClaimOptions, ConsumerInfo, GroupInfo, GroupStart, IdSpec, PendingSummary, ReadGroupStart,
    StreamError, StreamInfo, Trim, TrimKind, XAddOptions, no_group,
};
pub use parts::{BadStream, BlockEntry, BlockView, StreamBuilder};

/// Entries a block holds at most (Redis's `stream-node-max-entries`).
pub const BLOCK_MAX_ENTRIES: usize = 100;
/// Bytes a block grows to at most (Redis's `stream-node-max-bytes`).
pub const BLOCK_MAX_BYTES: usize = 4096;
/// Heap bytes charged per block on top of its buffer.
const BLOCK_OVERHEAD: usize = 64;
/// Charged per pending entry (the group's PEL and the consumer's).
const PEL_OVERHEAD: usize = 80;
/// Charged per group and per consumer, on top of its name.
const GROUP_OVERHEAD: usize = 96;

const DELETED: u8 = 1;
const SAME_FIELDS: u8 = 2;

/// A stream entry ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The smallest ID, `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// `ms-seq`.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, `None` past the largest.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, `None` below `0-0`.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// Whether it is `0-0`.
    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// Parses `ms-seq` or `ms` (with `missing_seq` as the sequence).
    pub fn parse(arg: &[u8], missing_seq: u64) -> Option<StreamId> {
        let text = std::str::from_utf8(arg).ok()?;
        let (ms, seq) = match text.split_once('-') {
            Some((ms, seq)) => (ms, Some(seq)),
            None => (text, None),
        };
        let ms = parse_u64(ms)?;
        let seq = match seq {
            Some(s) => parse_u64(s)?,
            None => missing_seq,
        };
        Some(StreamId::new(ms, seq))
    }
}

/// An unsigned decimal as Redis's `string2ull` reads it (digits only,
/// at most 20 of them, no sign).
fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A stream entry as read out: its ID and field-value pairs.
pub type Entry = (StreamId, Vec<(Bytes, Bytes)>);

fn put_varint(buf: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    while let Some(&b) = buf.get(*pos) {
        *pos += 1;
        if shift < 64 {
            n |= u64::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    n
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    put_varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let len = get_varint(buf, pos) as usize;
    let start = (*pos).min(buf.len());
    let end = start.saturating_add(len).min(buf.len());
    *pos = end;
    &buf[start..end]
}

/// A packed run of entries (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    buf: Vec<u8>,
    first: StreamId,
    last: StreamId,
    /// Entries in the buffer, deleted ones included.
    count: u32,
    /// Entries not deleted.
    live: u32,
    /// Field names of the master (first) entry.
    master: Vec<Bytes>,
}

/// One entry's place in a block's buffer.
#[derive(Debug, Clone, Copy)]
struct Slot {
    id: StreamId,
    deleted: bool,
    /// Offset of the flags byte.
    at: usize,
    /// Offset of the payload (after the ID).
    payload: usize,
    same: bool,
}

impl Block {
    fn new(id: StreamId, fields: &[(&[u8], &[u8])]) -> Block {
        let mut block = Block {
            buf: Vec::with_capacity(64),
            first: id,
            last: id,
            count: 0,
            live: 0,
            master: fields
                .iter()
                .map(|(f, _)| Bytes::copy_from_slice(f))
                .collect(),
        };
        block.push(id, fields);
        block
    }

    fn push(&mut self, id: StreamId, fields: &[(&[u8], &[u8])]) {
        let same = self.count > 0
            && fields.len() == self.master.len()
            && fields
                .iter()
                .zip(&self.master)
                .all(|((f, _), m)| *f == &m[..]);
        self.buf.push(if same { SAME_FIELDS } else { 0 });
        put_varint(&mut self.buf, id.ms - self.first.ms);
        put_varint(&mut self.buf, id.seq);
        if !same {
            put_varint(&mut self.buf, fields.len() as u64);
            for (f, _) in fields {
                put_bytes(&mut self.buf, f);
            }
        }
        for (_, v) in fields {
            put_bytes(&mut self.buf, v);
        }
        self.last = id;
        self.count += 1;
        self.live += 1;
    }

    fn is_full(&self) -> bool {
        self.count as usize >= BLOCK_MAX_ENTRIES || self.buf.len() >= BLOCK_MAX_BYTES
    }

    fn mem(&self) -> usize {
        self.buf.capacity()
            + BLOCK_OVERHEAD
            + self.master.iter().map(|m| m.len() + 32).sum::<usize>()
    }

    /// Every entry's place, in ID order.
    fn slots(&self) -> Vec<Slot> {
        let mut out = Vec::with_capacity(self.count as usize);
        let mut pos = 0;
        let buf = &self.buf[..];
        while pos < buf.len() {
            let at = pos;
            let flags = buf[pos];
            pos += 1;
            let ms = self.first.ms.wrapping_add(get_varint(buf, &mut pos));
            let seq = get_varint(buf, &mut pos);
            let payload = pos;
            let same = flags & SAME_FIELDS != 0;
            let n = if same {
                self.master.len()
            } else {
                let n = get_varint(buf, &mut pos) as usize;
                for _ in 0..n {
                    get_bytes(buf, &mut pos);
                }
                n
            };
            for _ in 0..n {
                get_bytes(buf, &mut pos);
            }
            out.push(Slot {
                id: StreamId::new(ms, seq),
                deleted: flags & DELETED != 0,
                at,
                payload,
                same,
            });
        }
        out
    }

    fn fields(&self, slot: &Slot) -> Vec<(Bytes, Bytes)> {
        let buf = &self.buf[..];
        let mut pos = slot.payload;
        let names: Vec<Bytes> = if slot.same {
            self.master.clone()
        } else {
            let n = get_varint(buf, &mut pos) as usize;
            (0..n.min(buf.len()))
                .map(|_| Bytes::copy_from_slice(get_bytes(buf, &mut pos)))
                .collect()
        };
        names
            .into_iter()
            .map(|name| (name, Bytes::copy_from_slice(get_bytes(buf, &mut pos))))
            .collect()
    }

    fn mark_deleted(&mut self, slot: &Slot) {
        self.buf[slot.at] |= DELETED;
        self.live -= 1;
    }
}

/// A pending entry of a group: delivered, not yet acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The consumer it was last delivered to.
    pub consumer: Bytes,
    /// When it was last delivered (unix ms).
    pub delivery_time: u64,
    /// How many times it was delivered.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// When it last tried anything (unix ms).
    pub seen_time: u64,
    /// When it last read or claimed something (unix ms), `None` never.
    pub active_time: Option<u64>,
    /// Its pending entries.
    pub pending: BTreeSet<StreamId>,
}

impl Consumer {
    fn new(now: u64) -> Consumer {
        Consumer {
            seen_time: now,
            active_time: None,
            pending: BTreeSet::new(),
        }
    }
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The last ID delivered to the group.
    pub last_id: StreamId,
    /// Entries the group read, `None` when unknown (Redis's -1).
    pub entries_read: Option<u64>,
    /// Pending entries by ID.
    pub pel: BTreeMap<StreamId, Pending>,
    /// Consumers by name.
    pub consumers: BTreeMap<Bytes, Consumer>,
}

impl Group {
    fn mem(&self) -> usize {
        GROUP_OVERHEAD
            + self.pel.len() * PEL_OVERHEAD
            + self
                .consumers
                .keys()
                .map(|n| n.len() + GROUP_OVERHEAD)
                .sum::<usize>()
    }
}

/// A Redis stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stream {
    blocks: BTreeMap<StreamId, Block>,
    length: u64,
    last_id: StreamId,
    max_deleted: StreamId,
    entries_added: u64,
    /// Groups by name (XINFO GROUPS lists them in this order, as Redis's
    /// radix tree does).
    groups: BTreeMap<Bytes, Group>,
    /// Bytes of the blocks.
    blocks_mem: usize,
    /// Bytes of the groups.
    groups_mem: usize,
}

impl Stream {
    /// An empty stream.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Number of entries (XLEN).
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether it holds no entry (an empty stream still exists as a key).
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The last ID ever added (or set by XSETID).
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// The largest ID deleted so far.
    pub fn max_deleted_id(&self) -> StreamId {
        self.max_deleted
    }

    /// Entries added over the stream's life.
    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// The groups, by name.
    pub fn groups(&self) -> &BTreeMap<Bytes, Group> {
        &self.groups
    }

    /// `OBJECT ENCODING`.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Payload bytes charged to the tenant.
    pub fn mem(&self) -> usize {
        COLLECTION_OVERHEAD + self.blocks_mem + self.groups_mem
    }

    /// Appends an entry whose ID is greater than the last one.
    fn append(&mut self, id: StreamId, fields: &[(&[u8], &[u8])]) {
        debug_assert!(id > self.last_id || (self.entries_added == 0 && id > StreamId::MIN));
        match self.blocks.values_mut().next_back() {
            Some(block) if !block.is_full() => {
                self.blocks_mem -= block.mem();
                block.push(id, fields);
                self.blocks_mem += block.mem();
            }
            last => {
                if let Some(block) = last {
                    // Sealed: give back the growth slack.
                    self.blocks_mem -= block.mem();
                    block.buf.shrink_to_fit();
                    self.blocks_mem += block.mem();
                }
                let block = Block::new(id, fields);
                self.blocks_mem += block.mem();
                self.blocks.insert(id, block);
            }
        }
        self.length += 1;
        self.last_id = id;
        self.entries_added += 1;
    }

    /// The first live entry's ID, `0-0` for an empty stream.
    pub fn first_id(&self) -> StreamId {
        self.blocks
            .values()
            .find_map(|b| b.slots().into_iter().find(|s| !s.deleted).map(|s| s.id))
            .unwrap_or(StreamId::MIN)
    }

    /// The entries with IDs in `start..=end`, in order (reversed for
    /// `rev`), at most `count` (`0`: all).
    pub fn range(&self, start: StreamId, end: StreamId, count: usize, rev: bool) -> Vec<Entry> {
        let mut out = Vec::new();
        if start > end {
            return out;
        }
        let take = |out: &mut Vec<Entry>, block: &Block, slots: Vec<Slot>| -> bool {
            for slot in slots {
                if slot.deleted || slot.id < start || slot.id > end {
                    continue;
                }
                out.push((slot.id, block.fields(&slot)));
                if count > 0 && out.len() >= count {
                    return true;
                }
            }
            false
        };
        // The block that may hold `start` begins at or before it.
        let from = self
            .blocks
            .range(..=start)
            .next_back()
            .map_or(start, |(k, _)| *k);
        if rev {
            for block in self.blocks.range(from..=end).map(|(_, b)| b).rev() {
                let mut slots = block.slots();
                slots.reverse();
                if take(&mut out, block, slots) {
                    break;
                }
            }
        } else {
            for block in self.blocks.range(from..=end).map(|(_, b)| b) {
                if take(&mut out, block, block.slots()) {
                    break;
                }
            }
        }
        out
    }

    /// The fields of entry `id`, if it is there.
    pub fn get(&self, id: StreamId) -> Option<Vec<(Bytes, Bytes)>> {
        let (_, block) = self.blocks.range(..=id).next_back()?;
        let slot = block
            .slots()
            .into_iter()
            .find(|s| s.id == id && !s.deleted)?;
        Some(block.fields(&slot))
    }

    /// Deletes entry `id`; whether it was there.
    fn delete(&mut self, id: StreamId) -> bool {
        let Some((&key, block)) = self.blocks.range_mut(..=id).next_back() else {
            return false;
        };
        let Some(slot) = block.slots().into_iter().find(|s| s.id == id && !s.deleted) else {
            return false;
        };
        block.mark_deleted(&slot);
        if block.live == 0 {
            let mem = block.mem();
            self.blocks.remove(&key);
            self.blocks_mem -= mem;
        }
        self.length -= 1;
        if id > self.max_deleted {
            self.max_deleted = id;
        }
        true
    }

    fn recount_groups(&mut self) {
        self.groups_mem = self
            .groups
            .iter()
            .map(|(name, g)| name.len() + g.mem())
            .sum();
    }

    /// Whether a deleted entry may lie in `start..=end` (Redis's
    /// `streamRangeHasTombstones`).
    fn has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        self.length > 0
            && !self.max_deleted.is_zero()
            && start <= self.max_deleted
            && self.max_deleted <= end
    }

    /// How many entries were added up to and including `id`, when it can
    /// be known (Redis's `streamEstimateDistanceFromFirstEverEntry`).
    fn entries_upto(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if !id.is_zero() && id < self.max_deleted {
            return None;
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let first = self.first_id();
        if self.max_deleted.is_zero() || self.max_deleted < first {
            if id < first {
                return Some(self.entries_added - self.length);
            } else if id == first {
                return Some(self.entries_added - self.length + 1);
            }
        }
        None
    }

    /// A group's lag: entries added after its last delivered one, when it
    /// can be known.
    pub fn lag(&self, group: &Group) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if let Some(read) = group.entries_read
            && !self.has_tombstones(group.last_id, StreamId::MAX)
        {
            return Some(self.entries_added.saturating_sub(read));
        }
        self.entries_upto(group.last_id)
            .map(|read| self.entries_added.saturating_sub(read))
    }

    /// Rebuilds a stream from its parts (RDB and tests).
    pub fn set_meta(&mut self, last_id: StreamId, entries_added: u64, max_deleted: StreamId) {
        self.last_id = last_id;
        self.entries_added = entries_added;
        self.max_deleted = max_deleted;
    }
}

impl Collection for Stream {
    fn of(value: &Value) -> Option<&Stream> {
        match value {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }

    fn of_mut(value: &mut Value) -> Option<&mut Stream> {
        match value {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }

    fn into_value(self) -> Value {
        Value::Stream(Box::new(self))
    }

    /// A stream stays a key when its last entry goes (as in Redis).
    fn is_empty(&self) -> bool {
        false
    }
}
