//! Per-tenant resource limits for storage functions.

use std::time::Duration;

/// What one tenant's code may use on one core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one `FCALL` while it runs on the core thread;
    /// the watchdog terminates the call when it is spent.
    pub cpu_budget: Duration,
    /// Budget for running a library's top level at `FUNCTION LOAD`.
    pub load_budget: Duration,
    /// Cap on the isolate's V8 heap. `ArrayBuffer` memory (including views
    /// over records that outlive a call) has a budget of the same size.
    pub heap_bytes: usize,
}

impl Limits {
    /// Redis's `busy-reply-threshold` is 5 s; a storage function sits on the
    /// request path, and a call holds its core (every other tenant there)
    /// for as long as it runs, so Kiln's default is far tighter: with one
    /// tenant calling a function near this budget back to back, another
    /// tenant's GET p99 on the same core stays under 5 ms
    /// (`benches/noisy-neighbour.sh`).
    pub const DEFAULT_CPU_BUDGET: Duration = Duration::from_millis(5);
    /// Redis's FUNCTION LOAD timeout.
    pub const DEFAULT_LOAD_BUDGET: Duration = Duration::from_millis(500);
    /// Default heap cap per isolate.
    pub const DEFAULT_HEAP_BYTES: usize = 64 << 20;
    /// The smallest heap cap V8 can start an isolate in.
    pub const MIN_HEAP_BYTES: usize = 8 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_budget: Self::DEFAULT_CPU_BUDGET,
            load_budget: Self::DEFAULT_LOAD_BUDGET,
            heap_bytes: Self::DEFAULT_HEAP_BYTES,
        }
    }
}
