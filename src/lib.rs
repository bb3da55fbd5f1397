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
//! Threads, all named:
//! - `kiln-core-<k>`, one per core: a [`kiln_net::transport::Worker`]
//!   running this crate's [`engine::Engine`] — its connections, its shard
//!   of every tenant's keyspace, its V8 isolates.
//! - the main thread, which starts the cores and waits for them to stop;
//! - a signal thread (SIGINT/SIGTERM start the shutdown);
//! - `kiln-watchdog` (kiln-isolates), which terminates storage functions
//!   past their CPU budget;
//! - `kiln-functions-writer` (kiln-functions), which puts changed tenants'
//!   libraries on disk;
//! - `kiln-metrics`, with `metrics-port` set: the Prometheus endpoint,
//!   reading what the cores publish ([`metrics`]).
//!
//! Only the core threads touch records.
//!
//! Modules, in the order a request meets them:
//! - [`server`]: binds listeners, spawns one worker per core; [`server::Handle`].
//! - [`engine`]: the [`kiln_net::transport::Service`] each worker runs:
//!   looks a request up, hands it to [`commands::execute`], sends plans'
//!   jobs to other cores and puts their outputs back in request order.
//! - [`commands`]: the command table, the one execution path
//!   ([`commands::execute`]: every rule for clients, jobs and storage
//!   functions alike), routing, cross-core plans, one module per family.
//! - [`session`]: what a connection's commands see of it.
//! - [`tenant`]: tenants — identity, rules, quotas, the shared registry.
//! - [`shared`]: read-mostly state shared by cores (runtime settings, slot map).
//! - [`stats`]: per-core counters.
//! - [`slowlog`], [`latency`]: the slow log and the latency monitor, one
//!   per core, merged when read.
//! - [`monitor`]: `MONITOR`'s lines and how a core's batch reaches every
//!   core's monitors.
//! - [`metrics`]: per-command accounting, INFO commandstats / latencystats,
//!   the Prometheus endpoint.
//! - [`config`]: settings from defaults, TOML file and flags.
//! - [`fdlimit`]: the open-file limit raised to fit `maxclients`.
//!
//! Dependencies point one way: `engine` → `commands` → `session`,
//! `tenant`, `shared`; the transport (`kiln_net::transport`) knows none of
//! them.

#![warn(missing_docs)]

pub mod commands;
pub mod config;
pub mod engine;
pub mod fdlimit;
pub mod journal;
pub mod latency;
pub mod metrics;
pub mod monitor;
pub mod notify;
pub mod save;
pub mod server;
pub mod session;
pub mod shared;
pub mod slowlog;
pub mod stats;
pub mod tenant;
pub mod watches;

pub use config::{Options, Settings};
pub use server::{Handle, Server, ShutdownTrigger};
