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
//! - `sort`: SORT / SORT_RO ([`SortOptions`]).
//! - `keyspaces`: [`Keyspaces`], one shard per tenant on a core.
//! - `tenant_id`: [`TenantId`], the tenant identity every crate shares
//!   (keyspaces, sessions, jobs, the function registry and runtime).
//! - `keys`: generic key commands (DEL, EXISTS, RENAME, COPY, KEYS, ...).
//! - `expire`: EXPIRE-family, TTL, PERSIST and active expiry.
//! - `scan`: SCAN and its cursor guarantee.
//! - [`glob`]: Redis's glob matcher.
//! - `numeric`: Redis's integer / float parsing and float printing.
#![warn(missing_docs)]

mod bits;
mod collection;
mod error;
mod expire;
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
mod sort;
mod strings;
mod tenant_id;
mod zset;

#[cfg(test)]
mod model_tests;

pub use bits::{BitOp, BitRange, BitUnit, FieldKind, FieldOp, Overflow};
pub use collection::{EncodingLimits, MAX_RANDOM_DRAWS};
pub use error::StoreError;
pub use expire::{ExpireCondition, Ttl};
pub use hash::Hash;
pub use keyspaces::{Keyspaces, Others};
pub use list::{End, List, LposOptions};
pub use record::{COPY_OUT_MAX, Record, Value, copy_out, copy_out_slice};
pub use set::{Set, SetOp};
pub use shard::{ENTRY_OVERHEAD, Shard, ShardConfig, ShardStats, VOLATILE_OVERHEAD};
pub use sort::{MAX_SORT_OUTPUT, SortOptions};
pub use strings::{ExpireUpdate, SetCondition, SetExpire, SetOptions, SetOutcome};
pub use tenant_id::TenantId;
pub use zset::{
    Aggregate, LexBound, LexRange, ScoreRange, ZAddFlags, ZAddOutcome, ZOp, ZRangeBy, ZSet,
};
