//! kiln-functions: the function layer.
//!
//! - [`library`]: the `#!js name=<lib>` format.
//! - [`Registry`]: the source of truth — per tenant, libraries and their
//!   functions; shared read-mostly by every core (a `DashMap` of immutable
//!   per-tenant snapshots keyed by [`TenantId`], each stamped with a
//!   version), persisted under the data directory (one file per tenant
//!   name, written by a thread of its own, [`persist`]) and reloaded at
//!   startup. The server binds each tenant's id to its name
//!   ([`Registry::bind`]); names appear nowhere else in this crate.
//! - [`FunctionRuntime`]: one per core — that core's tenant isolates in an LRU
//!   bounded by count and memory, FCALL dispatch, and the logic of the
//!   `FUNCTION` subcommands, all scoped to the calling tenant.
//! - [`CpuShare`]: how much of each core a tenant's functions may use over
//!   time (a token bucket per tenant per core), so one tenant cannot take a
//!   core from the others with calls that each stay within their budget.
//! - [`dump`]: the `FUNCTION DUMP` / `RESTORE` payload.

pub mod dump;
mod error;
pub mod library;
pub mod persist;
mod registry;
mod runtime;
mod share;

pub use error::FunctionError;
pub use registry::{Library, Registry, RegistryLimits, RestorePolicy, TenantLibraries};
pub use runtime::{Call, FunctionRuntime, IsolateChurn, IsolateCounts, RuntimeLimits};
pub use share::CpuShare;

pub use kiln_isolates::{
    CallOptions, FunctionFlags, FunctionMeta, Host, HostError, Limits, TriggerMeta,
};
pub use kiln_store::TenantId;
