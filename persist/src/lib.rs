//! Kiln's persistence: what a core writes to disk so a restart brings its
//! keyspaces back. It knows the store's types and files, nothing of the
//! network or the engine: the engine hands it commands to log and replays
//! what it reads back.
//!
//! - [`aof`]: one append-only log per core, in Redis 7's multi-part layout
//!   (a manifest naming a base and incremental files), with a record naming
//!   the tenant each command acts as.
//! - [`rdb`]: Redis's RDB serialization: one value (the payload of `DUMP`
//!   and `RESTORE`) and whole keyspaces in `dump.rdb` files.

pub mod aof;
pub mod rdb;
