//! Kiln's storage layer: one core's shard of the keyspace.
//!
//! # Ownership
//!
//! ```text
//!   core 0 thread            core 1 thread            core N thread
//!  ┌───────────────┐        ┌───────────────┐        ┌───────────────┐
//!  │ worker loop   │        │ worker loop   │        │ worker loop   │
//!  │  └─ Shard     │  msg   │  └─ Shard     │  msg   │  └─ Shard     │
//!  │     (by value)│ <────> │     (by value)│ <────> │     (by value)│
//!  └───────────────┘        └───────────────┘        └───────────────┘
//! ```
//!
//! Each core thread owns exactly one [`Shard`] by value: no locks, no
//! `Arc<Mutex<_>>`. Operations take `&mut self` and return typed results
//! (`Option<Bytes>`, counts, [`StoreError`]); turning them into RESP replies
//! is the command layer's job. A key that belongs to another core is reached
//! by message; cross-core RENAME / COPY move a whole [`Record`] with
//! [`Shard::take`] / [`Shard::peek_record`] and [`Shard::put_record`].
//!
//! Values are `bytes::Bytes`: a read hands out a reference-counted view of
//! the stored buffer, never a copy, which is what lets a JS storage function
//! see a record without copying it. Time is a cached clock set by the core
//! once per event-loop batch ([`Shard::set_now`]), which also makes expiry
//! deterministic in tests.
//!
//! # Modules
//!
//! - `error`: [`StoreError`], whose messages are Redis's error replies.
//! - `record`: [`Value`] and [`Record`].
//! - `shard`: [`Shard`] itself — the key table, the volatile-key index, the
//!   clock, memory accounting, statistics and the mutation primitives.
//! - `strings`: string commands (GET, SET, APPEND, INCRBY, ...).
//! - `collection`: what the collection types share: [`EncodingLimits`], the
//!   typed read / update / store primitives that keep per-element memory
//!   accounting and empty-key removal in one place.
//! - `pack`: the listpack-like compact vector small collections live in.
//! - `hash`: [`Hash`] and the hash commands (HSET, HGET, HINCRBY, ...).
//! - `list`: [`List`] (listpack and quicklist) and the list commands
//!   (LPUSH, LRANGE, LMOVE, ...).
//! - `set`: [`Set`] and the set commands (SADD, SINTER, SPOP, ...).
//! - `zset`: [`ZSet`], its ordered index (an order-statistic treap) and the
//!   sorted-set commands (ZADD, ZRANGE, ZUNIONSTORE, ...).
//! - [`geo`]: geohash scores, distances and the radius / box search of
//!   the GEO commands, over sorted sets.
//! - `stream`: [`Stream`] (blocks of packed entries, consumer groups) and
//!   the stream commands (XADD, XRANGE, XREADGROUP, XCLAIM, ...).
//! - `sort`: SORT / SORT_RO ([`SortOptions`]).
//! - `keyspaces`: [`Keyspaces`], one shard per tenant on a core.
//! - `tenant_id`: [`TenantId`], the tenant identity every crate shares
//!   (keyspaces, sessions, jobs, the function registry and runtime).
//! - `keys`: generic key commands (DEL, EXISTS, RENAME, COPY, KEYS, ...).
//! - [`evict`]: `maxmemory-policy`, access stamps (LRU / LFU) and the
//!   sampled eviction pool.
//! - `expire`: EXPIRE-family, TTL, PERSIST and active expiry.
//! - `scan`: SCAN and its cursor guarantee.
//! - [`glob`]: Redis's glob matcher.
//! - `numeric`: Redis's integer / float parsing and float printing.
#![warn(missing_docs)]

mod bits;
mod collection;
mod error;
pub mod events;
pub mod evict;
mod expire;
pub mod geo;
pub mod glob;
mod hash;
pub mod hll;
mod keys;
mod keyspaces;
mod list;
pub mod numeric;
mod pack;
mod record;
mod scan;
mod set;
mod shard;
mod snapshot;
mod sort;
mod stream;
mod strings;
mod tenant_id;
mod zset;

#[cfg(test)]
mod model_tests;

pub use bits::{BitOp, BitRange, BitUnit, FieldKind, FieldOp, Overflow};
pub use collection::{EncodingLimits, MAX_RANDOM_DRAWS};
pub use error::StoreError;
pub use events::{EventKind, KeyEvent, class};
pub use evict::{AccessMode, Evicted, LfuParams, Policy};
pub use expire::{ExpireCondition, Ttl};
pub use hash::Hash;
pub use keyspaces::{Keyspaces, Others};
pub use list::{End, List, LposOptions};
pub use record::{COPY_OUT_MAX, Record, Value, copy_out, copy_out_slice};
pub use set::{Set, SetOp};
pub use shard::{ENTRY_OVERHEAD, Shard, ShardConfig, ShardStats, VOLATILE_OVERHEAD};
pub use snapshot::Encode;
pub use sort::{MAX_SORT_OUTPUT, SortOptions};
pub use stream::{
    BadStream, BlockEntry, BlockView, ClaimOptions, Consumer, ConsumerInfo, Entry as StreamEntry,
    Group, GroupInfo, GroupStart, IdSpec, Pending, PendingSummary, ReadGroupStart, Stream,
    StreamBuilder, StreamError, StreamId, StreamInfo, Trim, TrimKind, XAddOptions,
    no_group as stream_no_group,
};

/// Entries one stream block holds (Redis's `stream-node-max-entries`).
pub fn stream_block_entries() -> usize {
    stream::BLOCK_MAX_ENTRIES
}
pub use strings::{ExpireUpdate, SetCondition, SetExpire, SetOptions, SetOutcome};
pub use tenant_id::TenantId;
pub use zset::{
    Aggregate, LexBound, LexRange, ScoreRange, ZAddFlags, ZAddOutcome, ZOp, ZRangeBy, ZSet,
};
