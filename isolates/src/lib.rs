//! kiln-isolates: Kiln's V8 embedding.
//!
//! One [`TenantIsolate`] per tenant per core runs that tenant's storage
//! functions. It starts from a startup snapshot that already holds the `kiln`
//! API scaffolding ([`snapshot`]), binds the trusted host API over the core's
//! shard through the [`Host`] trait (fast API calls where V8 allows them),
//! and enforces the tenant's [`Limits`]: a CPU budget per call enforced by the
//! process-wide [`Watchdog`], and a heap cap whose breach terminates the call
//! and condemns the isolate instead of aborting the process.
//!
//! The crate knows nothing of registries, tenants' keyspaces or routing: the
//! server implements [`Host`] for the duration of one call, and the function
//! layer decides which libraries an isolate holds. Of a tenant it knows only
//! its [`kiln_store::TenantId`], to tell whose call `FUNCTION KILL` stops.

mod api;
mod convert;
mod host;
mod isolate;
mod limits;
mod memory;
mod memory_host;
mod platform;
pub mod snapshot;
mod types;
mod watchdog;

pub use api::Counters;
pub use host::{Host, HostError};
pub use isolate::TenantIsolate;
pub use limits::Limits;
pub use memory_host::MemoryHost;
pub use platform::init;
pub use types::{
    CallError, CallOptions, FunctionFlags, FunctionMeta, IsolateStats, LibrarySource, LoadError,
    LoadedLibrary, TriggerMeta,
};
pub use watchdog::{StopCause, Watch, Watchdog};

#[cfg(test)]
mod tests;
