//! Per-tenant resource limits for storage functions.

use std::time::Duration;

/// What one tenant's code may use on one core.
///
/// Beyond these figures, a tenant context never sees `WebAssembly` (its
/// memories and code live outside every cap here, and wasm code generation
/// is refused for the isolate), and `Atomics.wait` throws instead of
/// blocking the core's thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock budget of one `FCALL` while it runs on the core thread;
    /// the watchdog terminates the call when it is spent.
    pub cpu_budget: Duration,
    /// Budget for running libraries' top levels: one budget for a whole
    /// `FUNCTION LOAD` or `RESTORE` (or a reinstall), however many
    /// libraries it runs.
    pub load_budget: Duration,
    /// Cap on the isolate's V8 heap. `ArrayBuffer` memory (including views
    /// over records that outlive a call, and copies `kiln.rawKeys()` /
    /// `kiln.rawArgs()` hand out) has a budget of the same size. V8 lets a
    /// function that is being terminated, and one single young object, go
    /// past it; see `memory.rs` for how far.
    pub heap_bytes: usize,
    /// Cap on one function's reply: each reply element counts at least
    /// `size_of::<Reply>()` plus its payload bytes. A larger reply becomes
    /// `-ERR Function reply exceeds the <cap> reply limit`.
    pub reply_bytes: usize,
    /// Largest single key, value or `kiln.call` argument a function may
    /// hand the host (Redis's `proto-max-bulk-len`). The arguments of one
    /// host call together are held to [`Limits::host_call_bytes`].
    pub max_arg_bytes: usize,
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
    /// Default reply cap: as much as the default heap could hold.
    pub const DEFAULT_REPLY_BYTES: usize = Self::DEFAULT_HEAP_BYTES;
    /// Redis's default `proto-max-bulk-len`.
    pub const DEFAULT_MAX_ARG_BYTES: usize = 512 << 20;
    /// The smallest heap cap V8 can start an isolate in.
    pub const MIN_HEAP_BYTES: usize = 8 << 20;

    /// The most argument bytes one host call (`kiln.call`, `kiln.put`...)
    /// may carry in total: no more than the isolate could have held.
    pub fn host_call_bytes(&self) -> usize {
        self.heap_bytes.max(self.reply_bytes)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu_budget: Self::DEFAULT_CPU_BUDGET,
            load_budget: Self::DEFAULT_LOAD_BUDGET,
            heap_bytes: Self::DEFAULT_HEAP_BYTES,
            reply_bytes: Self::DEFAULT_REPLY_BYTES,
            max_arg_bytes: Self::DEFAULT_MAX_ARG_BYTES,
        }
    }
}

/// A byte size as limits messages show it: whole MiB when it is one.
pub(crate) fn show_size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}
