//! Stream commands as `impl Shard` operations: XADD, XRANGE, XREVRANGE,
//! XLEN, XDEL, XTRIM, XREAD, XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM,
//! XAUTOCLAIM, XINFO, XSETID.
//!
//! The command layer parses the arguments (and answers syntax errors);
//! these check the key, the groups and the IDs and answer Redis's errors as
//! [`StreamError`]s.

use bytes::Bytes;

use super::{Consumer, Entry, Group, Pending, Stream, StreamId};
use crate::collection::{EncodingLimits, owned};
use crate::error::StoreError;
use crate::shard::Shard;

/// Why a stream operation was refused: a store error (WRONGTYPE) or one of
/// the stream's own, as the full error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamError {
    /// A generic store error.
    Store(StoreError),
    /// An error reply, prefix included.
    Reply(String),
}

impl From<StoreError> for StreamError {
    fn from(e: StoreError) -> StreamError {
        StreamError::Store(e)
    }
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Store(e) => e.fmt(f),
            StreamError::Reply(s) => f.write_str(s),
        }
    }
}

fn err(text: &str) -> StreamError {
    StreamError::Reply(text.to_owned())
}

/// `NOGROUP No such key 'k' or consumer group 'g'` with Redis's `suffix`.
pub fn no_group(key: &[u8], group: &[u8], suffix: &str) -> StreamError {
    StreamError::Reply(format!(
        "NOGROUP No such key '{}' or consumer group '{}'{suffix}",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

const SMALLER: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";

/// The ID an XADD asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdSpec {
    /// `*`: from the clock.
    Auto,
    /// `<ms>-*`: this ms, the next sequence.
    Ms(u64),
    /// An explicit ID.
    Exact(StreamId),
}

/// What a trim keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimKind {
    /// `MAXLEN n`: at most n entries.
    MaxLen(u64),
    /// `MINID id`: no entry below id.
    MinId(StreamId),
}

/// A trim: `MAXLEN|MINID [=|~] threshold [LIMIT count]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    /// What to keep.
    pub kind: TrimKind,
    /// `~`: whole blocks only.
    pub approx: bool,
    /// Most entries one trim removes (`0`: no limit).
    pub limit: u64,
}

/// XADD's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XAddOptions {
    /// `NOMKSTREAM`.
    pub nomkstream: bool,
    /// The ID.
    pub id: IdSpec,
    /// The trim to run after adding.
    pub trim: Option<Trim>,
}

/// Where XGROUP CREATE / SETID puts the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupStart {
    /// `$`: the stream's last ID.
    Last,
    /// An explicit ID.
    Id(StreamId),
}

/// What XREADGROUP reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadGroupStart {
    /// `>`: entries never delivered to the group.
    New,
    /// The consumer's pending entries after this ID.
    History(StreamId),
}

/// XCLAIM's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClaimOptions {
    /// The delivery time to set (from IDLE or TIME), `None` now.
    pub delivery_time: Option<i64>,
    /// `RETRYCOUNT`.
    pub retry_count: Option<u64>,
    /// `FORCE`.
    pub force: bool,
    /// `JUSTID`.
    pub justid: bool,
    /// `LASTID`.
    pub last_id: Option<StreamId>,
}

/// XPENDING's summary form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSummary {
    /// Pending entries.
    pub count: u64,
    /// Smallest and largest pending IDs.
    pub bounds: Option<(StreamId, StreamId)>,
    /// Consumers with pending entries, and how many.
    pub consumers: Vec<(Bytes, u64)>,
}

/// A group as XINFO GROUPS shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// Name.
    pub name: Bytes,
    /// Consumers.
    pub consumers: u64,
    /// Pending entries.
    pub pending: u64,
    /// Last delivered ID.
    pub last_delivered: StreamId,
    /// Entries read, `None` when unknown.
    pub entries_read: Option<u64>,
    /// Lag, `None` when unknown.
    pub lag: Option<u64>,
}

/// A consumer as XINFO CONSUMERS shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerInfo {
    /// Name.
    pub name: Bytes,
    /// Pending entries.
    pub pending: u64,
    /// ms since it was last seen.
    pub idle: u64,
    /// ms since it was last active, `None` never.
    pub inactive: Option<u64>,
}

/// XINFO STREAM's facts (the FULL form reads the groups too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Entries.
    pub length: u64,
    /// Blocks (Redis's radix tree keys).
    pub blocks: u64,
    /// Last generated ID.
    pub last_id: StreamId,
    /// Largest deleted ID.
    pub max_deleted: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// First ID (`0-0` empty) and last live ID.
    pub recorded_first: StreamId,
    /// Groups.
    pub groups: u64,
    /// First and last entries (non-FULL), or the first `count` entries
    /// (FULL).
    pub first: Option<Entry>,
    /// Last entry.
    pub last: Option<Entry>,
    /// FULL: the entries.
    pub entries: Vec<Entry>,
    /// FULL: the groups, each with its PEL and consumers.
    pub full_groups: Vec<(Bytes, Group, Option<u64>)>,
}

fn new_stream(_: &EncodingLimits) -> Stream {
    Stream::new()
}

impl Stream {
    /// The ID XADD would give, or its error.
    fn next_id(&self, spec: IdSpec, now: u64) -> Result<StreamId, StreamError> {
        let last = self.last_id;
        match spec {
            IdSpec::Auto => {
                if now > last.ms {
                    Ok(StreamId::new(now, 0))
                } else {
                    last.next().ok_or_else(|| err(SMALLER))
                }
            }
            IdSpec::Ms(ms) => {
                let id = if ms == last.ms {
                    if last.seq == u64::MAX {
                        return Err(err(SMALLER));
                    }
                    StreamId::new(ms, last.seq + 1)
                } else {
                    StreamId::new(ms, 0)
                };
                if id > last { Ok(id) } else { Err(err(SMALLER)) }
            }
            IdSpec::Exact(id) => {
                if id > last {
                    Ok(id)
                } else {
                    Err(err(SMALLER))
                }
            }
        }
    }

    /// Runs a trim; how many entries it removed.
    pub(crate) fn trim(&mut self, trim: Trim) -> u64 {
        let limit = trim.limit;
        let mut deleted = 0u64;
        loop {
            if let TrimKind::MaxLen(max) = trim.kind
                && self.length <= max
            {
                break;
            }
            let Some((&key, block)) = self.blocks.iter().next() else {
                break;
            };
            let entries = u64::from(block.live);
            let drop_whole = match trim.kind {
                TrimKind::MaxLen(max) => self.length - entries >= max,
                TrimKind::MinId(min) => block.last < min,
            };
            if drop_whole {
                if limit > 0 && deleted + entries > limit {
                    break;
                }
                let mem = block.mem();
                self.blocks.remove(&key);
                self.blocks_mem -= mem;
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if trim.approx {
                break;
            }
            let block = self.blocks.get_mut(&key).expect("first block");
            for slot in block.slots() {
                if slot.deleted {
                    continue;
                }
                let done = match trim.kind {
                    TrimKind::MaxLen(max) => self.length <= max,
                    TrimKind::MinId(min) => slot.id >= min,
                };
                if done {
                    break;
                }
                block.mark_deleted(&slot);
                self.length -= 1;
                deleted += 1;
            }
            break;
        }
        deleted
    }

    /// Moves (or adds) pending entry `id` of `group` to `consumer`.
    fn assign(group: &mut Group, id: StreamId, consumer: &Bytes, now: u64, reset: bool) {
        if let Some(p) = group.pel.get_mut(&id) {
            if p.consumer != *consumer {
                if let Some(old) = group.consumers.get_mut(&p.consumer) {
                    old.pending.remove(&id);
                }
                p.consumer = consumer.clone();
            }
            if reset {
                p.delivery_time = now;
                p.delivery_count = 1;
            }
        } else {
            group.pel.insert(
                id,
                Pending {
                    consumer: consumer.clone(),
                    delivery_time: now,
                    delivery_count: 1,
                },
            );
        }
        if let Some(c) = group.consumers.get_mut(consumer) {
            c.pending.insert(id);
        }
    }
}

type Fields = Vec<(Bytes, Bytes)>;
/// Entries as a group read or claim answers them: fields `None` for a
/// deleted entry (or a JUSTID claim).
type Delivered = Vec<(StreamId, Option<Fields>)>;

impl Shard {
    /// XADD: the new entry's ID, `None` when NOMKSTREAM found no key.
    pub fn xadd(
        &mut self,
        key: &[u8],
        options: XAddOptions,
        fields: &[(&[u8], &[u8])],
    ) -> Result<Option<(StreamId, u64)>, StreamError> {
        if let IdSpec::Exact(id) = options.id
            && id.is_zero()
        {
            return Err(err("ERR The ID specified in XADD must be greater than 0-0"));
        }
        let now = self.now();
        let exists = self.peek_coll::<Stream>(key)?.is_some();
        if !exists && options.nomkstream {
            return Ok(None);
        }
        let check = |s: &Stream| -> Result<StreamId, StreamError> {
            if s.last_id == StreamId::MAX {
                return Err(err(
                    "ERR The stream has exhausted the last possible ID, unable to add more items",
                ));
            }
            s.next_id(options.id, now)
        };
        if !exists {
            // Check before creating: a failed XADD leaves no key.
            check(&Stream::new())?;
        }
        let out = self.upsert_coll(key, new_stream, |s: &mut Stream, _| {
            let id = check(s)?;
            s.append(id, fields);
            let trimmed = options.trim.map_or(0, |t| s.trim(t));
            Ok::<_, StreamError>((id, trimmed))
        })??;
        self.signal_ready(key);
        Ok(Some(out))
    }

    /// XRANGE / XREVRANGE over `start..=end`.
    pub fn xrange(
        &mut self,
        key: &[u8],
        start: StreamId,
        end: StreamId,
        count: usize,
        rev: bool,
    ) -> Result<Vec<Entry>, StoreError> {
        Ok(self
            .read_coll::<Stream>(key)?
            .map(|s| s.range(start, end, count, rev))
            .unwrap_or_default())
    }

    /// XLEN.
    pub fn xlen(&mut self, key: &[u8]) -> Result<u64, StoreError> {
        Ok(self.read_coll::<Stream>(key)?.map_or(0, Stream::len))
    }

    /// The stream at `key`, for the command layer's own reads (XINFO's
    /// formatting, the log's rewrite of XREADGROUP).
    pub fn stream(&mut self, key: &[u8]) -> Result<Option<&Stream>, StoreError> {
        self.peek_coll::<Stream>(key)
    }

    /// XDEL: how many of `ids` were there.
    pub fn xdel(&mut self, key: &[u8], ids: &[StreamId]) -> Result<u64, StoreError> {
        Ok(self
            .modify_coll(key, |s: &mut Stream, _| {
                ids.iter().filter(|id| s.delete(**id)).count() as u64
            })?
            .unwrap_or(0))
    }

    /// XTRIM: how many entries went.
    pub fn xtrim(&mut self, key: &[u8], trim: Trim) -> Result<u64, StoreError> {
        Ok(self
            .modify_coll(key, |s: &mut Stream, _| s.trim(trim))?
            .unwrap_or(0))
    }

    /// XREAD of one stream: entries after `after`, at most `count` (0 all);
    /// `None` for a missing key.
    pub fn xread(
        &mut self,
        key: &[u8],
        after: StreamId,
        count: usize,
    ) -> Result<Option<Vec<Entry>>, StoreError> {
        Ok(self.read_coll::<Stream>(key)?.map(|s| match after.next() {
            Some(start) => s.range(start, StreamId::MAX, count, false),
            None => Vec::new(),
        }))
    }

    /// The last ID of the stream at `key` (`0-0` when missing), for `$`.
    pub fn xlast_id(&mut self, key: &[u8]) -> Result<StreamId, StoreError> {
        Ok(self
            .peek_coll::<Stream>(key)?
            .map_or(StreamId::MIN, Stream::last_id))
    }

    /// XGROUP CREATE.
    pub fn xgroup_create(
        &mut self,
        key: &[u8],
        group: &[u8],
        start: GroupStart,
        mkstream: bool,
        entries_read: Option<u64>,
    ) -> Result<(), StreamError> {
        let existed = self.peek_coll::<Stream>(key)?.is_some();
        if !existed && !mkstream {
            return Err(err(
                "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
            ));
        }
        self.upsert_coll(key, new_stream, |s: &mut Stream, _| {
            if s.groups.contains_key(group) {
                return Err(err("BUSYGROUP Consumer Group name already exists"));
            }
            let (last_id, read) = match start {
                // As Redis 7: `$` of a stream that exists has read all its
                // entries; of one MKSTREAM makes, the count is unknown
                // (nil), unless ENTRIESREAD gives it.
                GroupStart::Last if existed => (s.last_id, Some(s.entries_added)),
                GroupStart::Last => (s.last_id, entries_read),
                GroupStart::Id(id) => (id, entries_read),
            };
            s.groups.insert(
                owned(group),
                Group {
                    last_id,
                    entries_read: read,
                    pel: Default::default(),
                    consumers: Default::default(),
                },
            );
            s.recount_groups();
            Ok(())
        })?
    }

    /// XGROUP SETID.
    pub fn xgroup_setid(
        &mut self,
        key: &[u8],
        group: &[u8],
        start: GroupStart,
        entries_read: Option<u64>,
    ) -> Result<(), StreamError> {
        self.modify_coll(key, |s: &mut Stream, _| {
            let (last, added) = (s.last_id, s.entries_added);
            let g = s
                .groups
                .get_mut(group)
                .ok_or_else(|| no_such_group(key, group))?;
            match start {
                GroupStart::Last => {
                    g.last_id = last;
                    g.entries_read = entries_read.or(Some(added));
                }
                GroupStart::Id(id) => {
                    g.last_id = id;
                    g.entries_read = entries_read;
                }
            }
            Ok(())
        })?
        .ok_or_else(group_needs_key)?
    }

    /// XGROUP DESTROY: whether the group was there.
    pub fn xgroup_destroy(&mut self, key: &[u8], group: &[u8]) -> Result<bool, StreamError> {
        let gone = self
            .modify_coll(key, |s: &mut Stream, _| {
                let gone = s.groups.remove(group).is_some();
                s.recount_groups();
                gone
            })?
            .ok_or_else(group_needs_key)?;
        if gone {
            // Readers blocked on the group must learn it is gone.
            self.signal_ready(key);
        }
        Ok(gone)
    }

    /// XGROUP CREATECONSUMER: whether the consumer is new.
    pub fn xgroup_createconsumer(
        &mut self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> Result<bool, StreamError> {
        let now = self.now();
        self.modify_coll(key, |s: &mut Stream, _| {
            let g = s
                .groups
                .get_mut(group)
                .ok_or_else(|| no_such_group(key, group))?;
            if g.consumers.contains_key(consumer) {
                return Ok(false);
            }
            g.consumers.insert(owned(consumer), Consumer::new(now));
            s.recount_groups();
            Ok(true)
        })?
        .ok_or_else(group_needs_key)?
    }

    /// XGROUP DELCONSUMER: the consumer's pending entries (now dropped).
    pub fn xgroup_delconsumer(
        &mut self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
    ) -> Result<u64, StreamError> {
        self.modify_coll(key, |s: &mut Stream, _| {
            let g = s
                .groups
                .get_mut(group)
                .ok_or_else(|| no_such_group(key, group))?;
            let Some(c) = g.consumers.remove(consumer) else {
                return Ok(0);
            };
            for id in &c.pending {
                g.pel.remove(id);
            }
            s.recount_groups();
            Ok(c.pending.len() as u64)
        })?
        .ok_or_else(group_needs_key)?
    }

    /// XREADGROUP of one stream: `None` when it has nothing new for `>`
    /// (the key is left out of the reply); history entries whose entry was
    /// deleted come with `None` fields.
    #[allow(clippy::too_many_arguments)]
    pub fn xreadgroup(
        &mut self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        start: ReadGroupStart,
        count: usize,
        noack: bool,
    ) -> Result<Option<Delivered>, StreamError> {
        let now = self.now();
        let suffix = " in XREADGROUP with GROUP option";
        if self.peek_coll::<Stream>(key)?.is_none() {
            return Err(no_group(key, group, suffix));
        }
        self.modify_coll(key, |s: &mut Stream, _| {
            if !s.groups.contains_key(group) {
                return Err(no_group(key, group, suffix));
            }
            let name = owned(consumer);
            let out = match start {
                ReadGroupStart::New => {
                    let last = s.groups[group].last_id;
                    let entries = match last.next() {
                        Some(from) => s.range(from, StreamId::MAX, count, false),
                        None => Vec::new(),
                    };
                    let mut read = s.groups[group].entries_read;
                    for (id, _) in &entries {
                        read = if read.is_some() && !s.has_tombstones(last, StreamId::MAX) {
                            read.map(|r| r + 1)
                        } else if s.entries_added > 0 {
                            s.entries_upto(*id)
                        } else {
                            read
                        };
                    }
                    let g = s.groups.get_mut(group).expect("checked");
                    let c = g
                        .consumers
                        .entry(name.clone())
                        .or_insert_with(|| Consumer::new(now));
                    c.seen_time = now;
                    if !entries.is_empty() {
                        c.active_time = Some(now);
                    }
                    if let Some((lastid, _)) = entries.last() {
                        g.last_id = *lastid;
                        g.entries_read = read;
                    }
                    if !noack {
                        for (id, _) in &entries {
                            Stream::assign(g, *id, &name, now, true);
                        }
                    }
                    if entries.is_empty() {
                        None
                    } else {
                        Some(entries.into_iter().map(|(id, f)| (id, Some(f))).collect())
                    }
                }
                ReadGroupStart::History(after) => {
                    let ids: Vec<StreamId> = {
                        let g = &s.groups[group];
                        match (g.consumers.get(consumer), after.next()) {
                            (Some(c), Some(from)) => c
                                .pending
                                .range(from..)
                                .take(if count == 0 { usize::MAX } else { count })
                                .copied()
                                .collect(),
                            _ => Vec::new(),
                        }
                    };
                    let found: Vec<(StreamId, Option<Fields>)> =
                        ids.iter().map(|id| (*id, s.get(*id))).collect();
                    let g = s.groups.get_mut(group).expect("checked");
                    let c = g
                        .consumers
                        .entry(name.clone())
                        .or_insert_with(|| Consumer::new(now));
                    c.seen_time = now;
                    for (id, fields) in &found {
                        if fields.is_some()
                            && let Some(p) = g.pel.get_mut(id)
                        {
                            p.delivery_time = now;
                            p.delivery_count += 1;
                        }
                    }
                    Some(found)
                }
            };
            s.recount_groups();
            Ok(out)
        })?
        .expect("key checked")
    }

    /// XACK: how many of `ids` were pending.
    pub fn xack(&mut self, key: &[u8], group: &[u8], ids: &[StreamId]) -> Result<u64, StoreError> {
        Ok(self
            .modify_coll(key, |s: &mut Stream, _| {
                let Some(g) = s.groups.get_mut(group) else {
                    return 0;
                };
                let mut n = 0;
                for id in ids {
                    if let Some(p) = g.pel.remove(id) {
                        if let Some(c) = g.consumers.get_mut(&p.consumer) {
                            c.pending.remove(id);
                        }
                        n += 1;
                    }
                }
                s.recount_groups();
                n
            })?
            .unwrap_or(0))
    }

    /// XPENDING key group (summary).
    pub fn xpending_summary(
        &mut self,
        key: &[u8],
        group: &[u8],
    ) -> Result<PendingSummary, StreamError> {
        let s = self
            .read_coll::<Stream>(key)?
            .ok_or_else(|| no_group(key, group, ""))?;
        let g = s
            .groups
            .get(group)
            .ok_or_else(|| no_group(key, group, ""))?;
        let bounds = match (g.pel.keys().next(), g.pel.keys().next_back()) {
            (Some(a), Some(b)) => Some((*a, *b)),
            _ => None,
        };
        Ok(PendingSummary {
            count: g.pel.len() as u64,
            bounds,
            consumers: g
                .consumers
                .iter()
                .filter(|(_, c)| !c.pending.is_empty())
                .map(|(n, c)| (n.clone(), c.pending.len() as u64))
                .collect(),
        })
    }

    /// XPENDING's extended form: `(id, consumer, idle ms, deliveries)`.
    #[allow(clippy::too_many_arguments)]
    pub fn xpending(
        &mut self,
        key: &[u8],
        group: &[u8],
        min_idle: Option<u64>,
        start: StreamId,
        end: StreamId,
        count: usize,
        consumer: Option<&[u8]>,
    ) -> Result<Vec<(StreamId, Bytes, u64, u64)>, StreamError> {
        let now = self.now();
        let s = self
            .read_coll::<Stream>(key)?
            .ok_or_else(|| no_group(key, group, ""))?;
        let g = s
            .groups
            .get(group)
            .ok_or_else(|| no_group(key, group, ""))?;
        if start > end || count == 0 {
            return Ok(Vec::new());
        }
        let row = |id: &StreamId, p: &Pending| {
            (
                *id,
                p.consumer.clone(),
                now.saturating_sub(p.delivery_time),
                p.delivery_count,
            )
        };
        let idle_ok =
            |p: &Pending| min_idle.is_none_or(|m| now.saturating_sub(p.delivery_time) >= m);
        Ok(match consumer {
            Some(name) => match g.consumers.get(name) {
                Some(c) => c
                    .pending
                    .range(start..=end)
                    .filter_map(|id| g.pel.get(id).map(|p| (id, p)))
                    .filter(|(_, p)| idle_ok(p))
                    .take(count)
                    .map(|(id, p)| row(id, p))
                    .collect(),
                None => Vec::new(),
            },
            None => g
                .pel
                .range(start..=end)
                .filter(|(_, p)| idle_ok(p))
                .take(count)
                .map(|(id, p)| row(id, p))
                .collect(),
        })
    }

    /// XCLAIM: the claimed entries (fields `None` with JUSTID).
    #[allow(clippy::too_many_arguments)]
    pub fn xclaim(
        &mut self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        min_idle: u64,
        ids: &[StreamId],
        options: ClaimOptions,
    ) -> Result<Vec<(StreamId, Option<Fields>)>, StreamError> {
        let now = self.now();
        if self.peek_coll::<Stream>(key)?.is_none() {
            return Err(no_group(key, group, ""));
        }
        self.modify_coll(key, |s: &mut Stream, _| {
            if !s.groups.contains_key(group) {
                return Err(no_group(key, group, ""));
            }
            // Redis clamps a future TIME to now; the log's replay runs
            // with the clock stopped at 0, and must keep the logged time.
            let delivery = match options.delivery_time {
                Some(t) if t >= 0 && (now == 0 || (t as u64) <= now) => t as u64,
                _ => now,
            };
            let name = owned(consumer);
            let mut out = Vec::new();
            let mut deleted = Vec::new();
            {
                let g = s.groups.get_mut(group).expect("checked");
                if let Some(last) = options.last_id
                    && last > g.last_id
                {
                    g.last_id = last;
                }
            }
            for id in ids {
                let fields = s.get(*id);
                let g = s.groups.get_mut(group).expect("checked");
                let exists = fields.is_some();
                if !g.pel.contains_key(id) {
                    if !(options.force && exists) {
                        continue;
                    }
                    g.pel.insert(
                        *id,
                        Pending {
                            consumer: name.clone(),
                            delivery_time: now,
                            delivery_count: 1,
                        },
                    );
                }
                if !exists {
                    deleted.push(*id);
                    continue;
                }
                let p = g.pel.get_mut(id).expect("present");
                if min_idle > 0 && now.saturating_sub(p.delivery_time) < min_idle {
                    continue;
                }
                let old = std::mem::replace(&mut p.consumer, name.clone());
                p.delivery_time = delivery;
                if let Some(n) = options.retry_count {
                    p.delivery_count = n;
                } else if !options.justid {
                    p.delivery_count += 1;
                }
                if old != name
                    && let Some(c) = g.consumers.get_mut(&old)
                {
                    c.pending.remove(id);
                }
                let c = g
                    .consumers
                    .entry(name.clone())
                    .or_insert_with(|| Consumer::new(now));
                c.pending.insert(*id);
                c.active_time = Some(now);
                out.push((*id, if options.justid { None } else { fields }));
            }
            let g = s.groups.get_mut(group).expect("checked");
            for id in deleted {
                if let Some(p) = g.pel.remove(&id)
                    && let Some(c) = g.consumers.get_mut(&p.consumer)
                {
                    c.pending.remove(&id);
                }
            }
            let c = g
                .consumers
                .entry(name.clone())
                .or_insert_with(|| Consumer::new(now));
            c.seen_time = now;
            s.recount_groups();
            Ok(out)
        })?
        .expect("key checked")
    }

    /// XAUTOCLAIM: the next cursor, the claimed entries (fields `None` with
    /// JUSTID) and the pending IDs whose entries were deleted.
    #[allow(clippy::type_complexity, clippy::too_many_arguments)]
    pub fn xautoclaim(
        &mut self,
        key: &[u8],
        group: &[u8],
        consumer: &[u8],
        min_idle: u64,
        start: StreamId,
        count: usize,
        justid: bool,
    ) -> Result<(StreamId, Vec<(StreamId, Option<Fields>)>, Vec<StreamId>), StreamError> {
        let now = self.now();
        if self.peek_coll::<Stream>(key)?.is_none() {
            return Err(no_group(key, group, ""));
        }
        self.modify_coll(key, |s: &mut Stream, _| {
            if !s.groups.contains_key(group) {
                return Err(no_group(key, group, ""));
            }
            let name = owned(consumer);
            let mut attempts = count.saturating_mul(10);
            let mut left = count;
            // Enough of the PEL to run every attempt and find the cursor.
            let ids: Vec<StreamId> = s.groups[group]
                .pel
                .range(start..)
                .take(attempts.saturating_add(1))
                .map(|(id, _)| *id)
                .collect();
            let entries: Vec<Option<Fields>> =
                ids.iter().take(attempts).map(|id| s.get(*id)).collect();
            let g = s.groups.get_mut(group).expect("checked");
            g.consumers
                .entry(name.clone())
                .or_insert_with(|| Consumer::new(now))
                .seen_time = now;
            let mut claimed = Vec::new();
            let mut deleted = Vec::new();
            let mut i = 0;
            while attempts > 0 && left > 0 && i < ids.len() {
                attempts -= 1;
                let id = ids[i];
                let fields = entries[i].clone();
                i += 1;
                let Some(fields) = fields else {
                    if let Some(p) = g.pel.remove(&id)
                        && let Some(c) = g.consumers.get_mut(&p.consumer)
                    {
                        c.pending.remove(&id);
                    }
                    deleted.push(id);
                    left -= 1;
                    continue;
                };
                let p = g.pel.get_mut(&id).expect("pending");
                if min_idle > 0 && now.saturating_sub(p.delivery_time) < min_idle {
                    continue;
                }
                let old = std::mem::replace(&mut p.consumer, name.clone());
                p.delivery_time = now;
                if !justid {
                    p.delivery_count += 1;
                }
                if old != name
                    && let Some(c) = g.consumers.get_mut(&old)
                {
                    c.pending.remove(&id);
                }
                let c = g.consumers.get_mut(&name).expect("created");
                c.pending.insert(id);
                c.active_time = Some(now);
                claimed.push((id, if justid { None } else { Some(fields) }));
                left -= 1;
            }
            let cursor = ids.get(i).copied().unwrap_or(StreamId::MIN);
            s.recount_groups();
            Ok((cursor, claimed, deleted))
        })?
        .expect("key checked")
    }

    /// XINFO GROUPS.
    pub fn xinfo_groups(&mut self, key: &[u8]) -> Result<Vec<GroupInfo>, StreamError> {
        let s = self
            .read_coll::<Stream>(key)?
            .ok_or_else(|| err("ERR no such key"))?;
        Ok(s.groups
            .iter()
            .map(|(name, g)| GroupInfo {
                name: name.clone(),
                consumers: g.consumers.len() as u64,
                pending: g.pel.len() as u64,
                last_delivered: g.last_id,
                entries_read: g.entries_read,
                lag: s.lag(g),
            })
            .collect())
    }

    /// XINFO CONSUMERS.
    pub fn xinfo_consumers(
        &mut self,
        key: &[u8],
        group: &[u8],
    ) -> Result<Vec<ConsumerInfo>, StreamError> {
        let now = self.now();
        let s = self
            .read_coll::<Stream>(key)?
            .ok_or_else(|| err("ERR no such key"))?;
        let g = s
            .groups
            .get(group)
            .ok_or_else(|| no_such_group(key, group))?;
        Ok(g.consumers
            .iter()
            .map(|(name, c)| ConsumerInfo {
                name: name.clone(),
                pending: c.pending.len() as u64,
                idle: now.saturating_sub(c.seen_time),
                inactive: c.active_time.map(|t| now.saturating_sub(t)),
            })
            .collect())
    }

    /// XINFO STREAM [FULL [COUNT n]] (`full`: `Some(count)`, 0 all).
    pub fn xinfo_stream(
        &mut self,
        key: &[u8],
        full: Option<usize>,
    ) -> Result<StreamInfo, StreamError> {
        let s = self
            .read_coll::<Stream>(key)?
            .ok_or_else(|| err("ERR no such key"))?;
        let first = s.range(StreamId::MIN, StreamId::MAX, 1, false).pop();
        let last = s.range(StreamId::MIN, StreamId::MAX, 1, true).pop();
        let mut info = StreamInfo {
            length: s.length,
            blocks: s.blocks.len() as u64,
            last_id: s.last_id,
            max_deleted: s.max_deleted,
            entries_added: s.entries_added,
            recorded_first: first.as_ref().map_or(StreamId::MIN, |e| e.0),
            groups: s.groups.len() as u64,
            first: None,
            last: None,
            entries: Vec::new(),
            full_groups: Vec::new(),
        };
        match full {
            None => {
                info.first = first;
                info.last = last;
            }
            Some(count) => {
                info.entries = s.range(StreamId::MIN, StreamId::MAX, count, false);
                info.full_groups = s
                    .groups
                    .iter()
                    .map(|(n, g)| (n.clone(), g.clone(), s.lag(g)))
                    .collect();
            }
        }
        Ok(info)
    }

    /// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id].
    pub fn xsetid(
        &mut self,
        key: &[u8],
        id: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) -> Result<(), StreamError> {
        self.modify_coll(key, |s: &mut Stream, _| {
            if let Some(md) = max_deleted
                && id < md
            {
                return Err(err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            if id < s.max_deleted {
                return Err(err(
                    "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
                ));
            }
            if s.length > 0 {
                let top = s.range(StreamId::MIN, StreamId::MAX, 1, true);
                if top.first().is_some_and(|(last, _)| id < *last) {
                    return Err(err(
                        "ERR The ID specified in XSETID is smaller than the target stream top item",
                    ));
                }
                if let Some(n) = entries_added
                    && n < s.length
                {
                    return Err(err(
                        "ERR The entries_added specified in XSETID is smaller than the target stream length",
                    ));
                }
            }
            s.last_id = id;
            if let Some(n) = entries_added {
                s.entries_added = n;
            }
            if let Some(md) = max_deleted {
                s.max_deleted = md;
            }
            Ok(())
        })?
        .ok_or(StreamError::Store(StoreError::NoSuchKey))?
    }

    /// Rebuild helper for the log and RDB: adds an entry with an exact ID
    /// to a stream (created if missing), without the XADD checks beyond
    /// order.
    pub fn stream_restore_entry(
        &mut self,
        key: &[u8],
        id: StreamId,
        fields: &[(&[u8], &[u8])],
    ) -> Result<(), StreamError> {
        self.xadd(
            key,
            XAddOptions {
                nomkstream: false,
                id: IdSpec::Exact(id),
                trim: None,
            },
            fields,
        )
        .map(|_| ())
    }
}

fn group_needs_key() -> StreamError {
    err(
        "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
    )
}

/// `NOGROUP No such consumer group 'g' for key name 'k'`.
pub fn no_such_group(key: &[u8], group: &[u8]) -> StreamError {
    StreamError::Reply(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}
