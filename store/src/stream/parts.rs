//! A stream taken apart and put back together, for encoders that write it
//! as Redis's RDB does (a run of packed blocks, the metadata, the groups)
//! and decoders that read it back from untrusted bytes.
//!
//! [`Stream::blocks`] shows each block as it is packed, deleted entries
//! included, so an encoder can write one listpack per block. A
//! [`StreamBuilder`] takes entries in ID order and the metadata and groups
//! after them, and refuses — never panics on — parts that break the
//! stream's invariants: IDs not rising, a last ID below an entry, fewer
//! entries added than there are, a pending entry without its consumer.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::{Block, Group, Stream, StreamId};

/// One block of a stream as it is packed.
#[derive(Debug, Clone, Copy)]
pub struct BlockView<'a> {
    block: &'a Block,
}

/// An entry of a block: its ID, whether it is deleted, its fields.
pub type BlockEntry = (StreamId, bool, Vec<(Bytes, Bytes)>);

impl<'a> BlockView<'a> {
    /// The block's first ID (deleted or not): Redis's master ID.
    pub fn first(&self) -> StreamId {
        self.block.first
    }

    /// The field names of the block's first entry (Redis's master fields).
    pub fn master_fields(&self) -> &'a [Bytes] {
        &self.block.master
    }

    /// Entries not deleted.
    pub fn live(&self) -> u64 {
        u64::from(self.block.live)
    }

    /// Entries deleted but still in the block.
    pub fn deleted(&self) -> u64 {
        u64::from(self.block.count - self.block.live)
    }

    /// Every entry, deleted ones included, in ID order.
    pub fn entries(&self) -> Vec<BlockEntry> {
        self.block
            .slots()
            .into_iter()
            .map(|slot| (slot.id, slot.deleted, self.block.fields(&slot)))
            .collect()
    }
}

impl Stream {
    /// The blocks, in ID order.
    pub fn blocks(&self) -> impl Iterator<Item = BlockView<'_>> {
        self.blocks.values().map(|block| BlockView { block })
    }

    /// Sets each group's unknown entries-read counter to the estimate Redis
    /// makes for a group read from a file older than the counter
    /// (`streamEstimateDistanceFromFirstEverEntry` of its last ID).
    pub fn estimate_unknown_reads(&mut self) {
        let estimates: Vec<(Bytes, Option<u64>)> = self
            .groups
            .iter()
            .filter(|(_, g)| g.entries_read.is_none())
            .map(|(name, g)| (name.clone(), self.entries_upto(g.last_id)))
            .collect();
        for (name, estimate) in estimates {
            if let Some(group) = self.groups.get_mut(&name) {
                group.entries_read = estimate;
            }
        }
    }
}

/// Why a [`StreamBuilder`] refused its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("inconsistent stream: {0}")]
pub struct BadStream(pub &'static str);

/// Builds a stream from its parts: entries in ID order, then
/// [`StreamBuilder::finish`] with the metadata and groups.
#[derive(Debug, Default)]
pub struct StreamBuilder {
    stream: Stream,
}

impl StreamBuilder {
    /// A builder of an empty stream.
    pub fn new() -> StreamBuilder {
        StreamBuilder::default()
    }

    /// Adds an entry; its ID must be above `0-0` and above the last one.
    pub fn push(&mut self, id: StreamId, fields: &[(Bytes, Bytes)]) -> Result<(), BadStream> {
        if id.is_zero() || (self.stream.entries_added > 0 && id <= self.stream.last_id) {
            return Err(BadStream("entry IDs do not rise"));
        }
        let refs: Vec<(&[u8], &[u8])> = fields.iter().map(|(f, v)| (&f[..], &v[..])).collect();
        self.stream.append(id, &refs);
        Ok(())
    }

    /// Entries pushed so far.
    pub fn len(&self) -> u64 {
        self.stream.length
    }

    /// Whether no entry was pushed.
    pub fn is_empty(&self) -> bool {
        self.stream.length == 0
    }

    /// The stream, with its last ID, its count of entries ever added, its
    /// largest deleted ID and its groups, each checked against the
    /// entries and against each other.
    pub fn finish(
        self,
        last_id: StreamId,
        entries_added: u64,
        max_deleted: StreamId,
        groups: BTreeMap<Bytes, Group>,
    ) -> Result<Stream, BadStream> {
        let mut stream = self.stream;
        if stream.entries_added > 0 && last_id < stream.last_id {
            return Err(BadStream("the last ID is below an entry"));
        }
        if entries_added < stream.length {
            return Err(BadStream("fewer entries added than the stream holds"));
        }
        if max_deleted > last_id {
            return Err(BadStream("the largest deleted ID is above the last ID"));
        }
        for group in groups.values() {
            check_group(group)?;
        }
        stream.set_meta(last_id, entries_added, max_deleted);
        stream.groups = groups;
        stream.recount_groups();
        Ok(stream)
    }
}

/// A group's PEL and its consumers' PELs name the same entries, each
/// owned by the consumer that lists it.
fn check_group(group: &Group) -> Result<(), BadStream> {
    let mut owned = 0usize;
    for (name, consumer) in &group.consumers {
        for id in &consumer.pending {
            match group.pel.get(id) {
                Some(p) if p.consumer == *name => owned += 1,
                _ => return Err(BadStream("a consumer's pending entry is not the group's")),
            }
        }
    }
    if owned != group.pel.len() {
        return Err(BadStream("a pending entry has no consumer"));
    }
    Ok(())
}
