//! The values the isolate API takes and returns: library sources and
//! what loading them registered, call options, errors and figures.

/// A library as the function layer hands it over.
#[derive(Debug, Clone, Copy)]
pub struct LibrarySource<'a> {
    /// Its name, from the `#!js name=` line.
    pub name: &'a str,
    /// The whole text, metadata line included.
    pub code: &'a str,
    /// V8 code cache from an earlier compile of the same text, if any.
    pub code_cache: Option<&'a [u8]>,
}

/// Flags a function registers with (Redis's function flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunctionFlags {
    /// `no-writes`: callable by `FCALL_RO`; writes fail.
    pub no_writes: bool,
    /// `allow-oom`
    pub allow_oom: bool,
    /// `allow-stale`
    pub allow_stale: bool,
    /// `no-cluster`
    pub no_cluster: bool,
    /// `allow-cross-slot-keys`
    pub allow_cross_slot_keys: bool,
}

impl FunctionFlags {
    /// The flags' names, as `FUNCTION LIST` shows them.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.no_writes, "no-writes"),
            (self.allow_oom, "allow-oom"),
            (self.allow_stale, "allow-stale"),
            (self.no_cluster, "no-cluster"),
            (self.allow_cross_slot_keys, "allow-cross-slot-keys"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    /// Flags from their names; unknown names are ignored.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> FunctionFlags {
        let mut flags = FunctionFlags::default();
        for name in names {
            flags.set(name);
        }
        flags
    }

    /// Turns on the flag named `name`; unknown names are ignored.
    pub(crate) fn set(&mut self, name: &str) {
        if let Some(set) = FunctionFlags::named(name) {
            set(self);
        }
    }

    /// What turns on the flag named `name`, if it is one.
    pub(crate) fn named(name: &str) -> Option<fn(&mut FunctionFlags)> {
        Some(match name {
            "no-writes" => |f: &mut FunctionFlags| f.no_writes = true,
            "allow-oom" => |f: &mut FunctionFlags| f.allow_oom = true,
            "allow-stale" => |f: &mut FunctionFlags| f.allow_stale = true,
            "no-cluster" => |f: &mut FunctionFlags| f.no_cluster = true,
            "allow-cross-slot-keys" => |f: &mut FunctionFlags| f.allow_cross_slot_keys = true,
            _ => return None,
        })
    }
}

/// A registered function's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionMeta {
    /// Its name.
    pub name: String,
    /// Its flags.
    pub flags: FunctionFlags,
    /// Its description, if given.
    pub description: Option<String>,
}

/// A key trigger a library registered (`kiln.onKeyEvent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerMeta {
    /// The name the isolate keeps its function under: `<library>@<n>`,
    /// which no `FCALL` can name (function names have no `@`).
    pub function: String,
    /// The keys it fires for: those starting with this.
    pub prefix: String,
    /// The events it fires for (`set`, `del`, `expired`...); empty: every
    /// change, as `notify-keyspace-events A` means it — not `new` and not
    /// `keymiss` (a read), which only fire a trigger that names them.
    pub events: Vec<String>,
}

impl TriggerMeta {
    /// Whether a change `event` of `key` fires it.
    pub fn fires_on(&self, key: &[u8], event: &str) -> bool {
        let named = if self.events.is_empty() {
            !matches!(event, "new" | "keymiss")
        } else {
            self.events.iter().any(|e| e == event)
        };
        named && key.starts_with(self.prefix.as_bytes())
    }
}

/// What running a library produced.
#[derive(Debug, Clone)]
pub struct LoadedLibrary {
    /// The library's functions, in registration order.
    pub functions: Vec<FunctionMeta>,
    /// Its key triggers, in registration order.
    pub triggers: Vec<TriggerMeta>,
    /// A code cache for the library's text (present when it was compiled
    /// rather than read from a cache).
    pub code_cache: Option<Vec<u8>>,
}

/// Why a library failed to load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// A syntax error, with its position.
    #[error("Error compiling library '{library}': {location}: {message}")]
    Compile {
        library: String,
        location: String,
        message: String,
    },
    /// Its top level threw.
    #[error("Error registering functions: {location}: {message}")]
    Run {
        library: String,
        location: String,
        message: String,
    },
    /// Its top level ran past the load budget.
    #[error("FUNCTION LOAD timeout: library '{library}' ran longer than {budget_ms} ms")]
    Timeout { library: String, budget_ms: u128 },
    /// It exhausted the heap.
    #[error("library '{library}' exceeded the {heap_mib} MiB heap limit while loading")]
    Heap { library: String, heap_mib: usize },
    /// It registered nothing.
    #[error("No functions registered")]
    NoFunctions { library: String },
}

impl LoadError {
    /// The library that failed.
    pub fn library(&self) -> Option<&str> {
        match self {
            LoadError::Compile { library, .. }
            | LoadError::Run { library, .. }
            | LoadError::Timeout { library, .. }
            | LoadError::Heap { library, .. }
            | LoadError::NoFunctions { library } => Some(library),
        }
    }
}

/// Why a call failed (a thrown error is not a failure: it is a reply).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No function of that name is loaded.
    #[error("ERR Function not found")]
    NotFound,
    /// The watchdog terminated it.
    #[error("ERR Function '{function}' was terminated: it ran past its {budget_ms} ms CPU budget")]
    Timeout { function: String, budget_ms: u128 },
    /// `FUNCTION KILL` stopped it.
    #[error("ERR Script killed by user with FUNCTION KILL")]
    Killed,
    /// It exhausted the heap; the isolate is condemned.
    #[error("ERR Function '{function}' was terminated: it exceeded the {heap_mib} MiB heap limit")]
    Heap { function: String, heap_mib: usize },
}

/// Options of one call.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallOptions {
    /// `FCALL_RO`: a function without `no-writes` is refused.
    pub read_only: bool,
}

/// Memory and usage figures of an isolate.
#[derive(Debug, Clone, Copy, Default)]
pub struct IsolateStats {
    /// V8 heap in use.
    pub used_heap: usize,
    /// V8 heap reserved.
    pub total_heap: usize,
    /// `ArrayBuffer` bytes allocated by JavaScript.
    pub array_buffers: usize,
    /// Record bytes currently lent to JavaScript as views.
    pub lent: usize,
    /// `kiln.get` results given as zero-copy views, ever.
    pub zero_copy_views: u64,
    /// Host bindings entered through the fast API path, ever.
    pub fast_calls: u64,
    /// Host bindings entered through the generic callback path, ever.
    pub slow_calls: u64,
}
