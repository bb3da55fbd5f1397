//! Kiln: a multi-tenant in-memory key-value server that speaks the Redis
//! protocol, shared-nothing per core.
//!
//! ```text
//!            main port (SO_REUSEPORT: every core accepts)     core ports (one per core)
//!                 │                                                │
//!   ┌─────────────┼──────────────┐                 ┌───────────────┼─────────────┐
//!   │ core 0      ▼              │    Mailbox      │ core 1        ▼             │
//!   │ mio Poll ─ connections ────┼──── Run/Done ───┼── connections ─ mio Poll    │
//!   │ command table → Shard 0    │  (queue+waker)  │  Shard 1 ← command table    │
//!   │ slots 0..8191              │                 │  slots 8192..16383          │
//!   └────────────────────────────┘                 └─────────────────────────────┘
//! ```
//!
//! Each core is one thread owning its poll, its listeners, its connections
//! and its shard by value; there is no lock on the data path. A request for
//! a key another core owns travels there by mailbox and its reply comes back
//! in order. Core ports act as Redis Cluster nodes (MOVED, CROSSSLOT), so
//! cluster-aware clients go straight to the owning core.
//!
//! Threads: one per core (`kiln-core-<k>`), the main thread (it waits for
//! the cores to stop), a signal thread (SIGINT/SIGTERM start the shutdown),
//! and two from the function layer: the CPU watchdog
//! (`kiln-watchdog`, which terminates storage functions past their budget)
//! and the registry's writer (`kiln-functions-writer`, which puts changed
//! tenants' libraries on disk). Neither touches a core's data.
//!
//! Modules:
//! - [`config`]: settings from defaults, TOML file and flags.
//! - [`server`]: binds listeners, spawns cores; [`server::Handle`].
//! - [`core`]: the per-core event loop, connections, cross-core fan-out.
//! - [`fdlimit`]: the open-file limit raised to fit `maxclients`.
//! - [`commands`]: the command table and one module per command family.
//! - [`session`]: per-connection state.
//! - [`shared`]: read-mostly state shared by cores (runtime config, slot map).
//! - [`tenant`]: tenants — identity, limits, the shared registry.

#![warn(missing_docs)]

pub mod commands;
pub mod config;
pub mod engine;
pub mod fdlimit;
pub mod server;
pub mod session;
pub mod shared;
pub mod stats;
pub mod tenant;

pub use config::{Options, Settings};
pub use server::{Handle, Server, ShutdownTrigger};
