//! One tenant's isolate on one core: its context, its libraries' functions,
//! its limits.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kiln_net::Reply;
use kiln_store::TenantId;

use crate::api::{self, CallState, Counters, Registration};
use crate::convert;
use crate::host::Host;
use crate::limits::Limits;
use crate::memory::{BufferBudget, HeapGuard};
use crate::types::{
    CallError, CallOptions, FunctionFlags, FunctionMeta, IsolateStats, LibrarySource, LoadError,
    LoadedLibrary, TriggerMeta,
};
use crate::watchdog::{StopCause, Watch};

struct Registered {
    function: v8::Global<v8::Function>,
    flags: FunctionFlags,
    /// A key trigger: called as `fn(key, event)`, not `fn(keys, args)`.
    trigger: bool,
    /// The library that registered it ([`TenantIsolate::extend`] drops a
    /// library's functions by this name).
    library: Arc<str>,
}

/// One tenant's isolate on one core.
///
/// Field order matters: V8 handles drop before the isolate they belong to.
pub struct TenantIsolate {
    functions: HashMap<String, Registered>,
    context: v8::Global<v8::Context>,
    version: Option<u64>,
    condemned: bool,
    fast_api: bool,
    limits: Limits,
    tenant: TenantId,
    heap_guard: Box<HeapGuard>,
    buffers: Arc<BufferBudget>,
    lent: Arc<AtomicUsize>,
    counters: Arc<Counters>,
    watch: Arc<Watch>,
    handle: v8::IsolateHandle,
    /// Locked (and entered) for each use: a core keeps many isolates on its
    /// thread, and only shared isolates may be entered and disposed in any
    /// order.
    isolate: v8::SharedIsolate,
}

/// What running a batch of libraries gave.
struct LoadBatch {
    /// The libraries that loaded, in order, with what each registered.
    loaded: Vec<(LoadedLibrary, Vec<Registration>)>,
    /// Why the next one failed, if one did (the rest did not run).
    error: Option<LoadError>,
    /// Whether the heap limit was hit (the isolate must be dropped).
    heap_hit: bool,
}

/// Refuses WebAssembly compilation: wasm memories and code live outside
/// the heap and `ArrayBuffer` caps (a `WebAssembly.Memory` grew to 2.6 GB
/// while the isolate reported 1.5 MB).
unsafe extern "C" fn no_wasm(
    _context: v8::Local<v8::Context>,
    _source: v8::Local<v8::String>,
) -> bool {
    false
}

impl TenantIsolate {
    /// A fresh isolate for `tenant` from the startup snapshot, with its
    /// heap limit, allocator and callbacks set, watched by `watch`.
    pub fn new(tenant: TenantId, limits: Limits, watch: Arc<Watch>) -> TenantIsolate {
        TenantIsolate::with_fast_api(tenant, limits, watch, true)
    }

    /// [`TenantIsolate::new`], choosing whether host bindings offer V8
    /// fast API calls (always, outside benchmarks).
    pub fn with_fast_api(
        tenant: TenantId,
        limits: Limits,
        watch: Arc<Watch>,
        fast_api: bool,
    ) -> TenantIsolate {
        crate::platform::init();
        let heap = limits.heap_bytes.max(Limits::MIN_HEAP_BYTES);
        let (buffers, allocator) = BufferBudget::allocator(heap);
        let params = v8::CreateParams::default()
            .snapshot_blob(crate::snapshot::blob().into())
            .heap_limits(0, heap)
            .array_buffer_allocator(allocator);
        let mut isolate = v8::Isolate::new(params);
        let heap_guard = HeapGuard::install(&mut isolate, heap);
        isolate.set_microtasks_policy(v8::MicrotasksPolicy::Explicit);
        isolate.set_capture_stack_trace_for_uncaught_exceptions(true, 16);
        // `Atomics.wait` would block the core's thread (on a
        // SharedArrayBuffer nothing else can notify): make it throw.
        isolate.set_allow_atomics_wait(false);
        isolate.set_allow_wasm_code_generation_callback(no_wasm);
        let state = CallState::new(limits, watch.clone());
        let (lent, counters) = (state.lent.clone(), state.counters.clone());
        isolate.set_slot(state);
        let context = fresh_context(&mut isolate, fast_api);
        let handle = isolate.thread_safe_handle();
        // SAFETY: no `Global::open` reference is live, the isolate is still
        // on the thread that created it, and its slot state is only ever
        // used from the thread that locks it.
        let isolate = match unsafe { isolate.try_into_shared() } {
            Ok(isolate) => isolate,
            Err(error) => panic!(
                "a fresh tenant isolate could not be shared: {:?}",
                error.kind()
            ),
        };
        TenantIsolate {
            functions: HashMap::new(),
            context,
            version: None,
            condemned: false,
            fast_api,
            limits,
            tenant,
            heap_guard,
            buffers,
            lent,
            counters,
            watch,
            handle,
            isolate,
        }
    }

    /// The limits it runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The registry version its functions come from (`None` before the
    /// first [`TenantIsolate::install`] or [`TenantIsolate::extend`]).
    pub fn version(&self) -> Option<u64> {
        self.version
    }

    /// Whether it hit its heap limit and must be dropped.
    pub fn is_condemned(&self) -> bool {
        self.condemned
    }

    /// Memory and usage figures.
    pub fn stats(&mut self) -> IsolateStats {
        let heap = self.isolate.lock().get_heap_statistics();
        IsolateStats {
            used_heap: heap.used_heap_size(),
            total_heap: heap.total_heap_size(),
            array_buffers: self.buffers.used(),
            lent: self.lent.load(Ordering::Relaxed),
            zero_copy_views: self.counters.zero_copy_views.load(Ordering::Relaxed),
            fast_calls: self.counters.fast_calls.load(Ordering::Relaxed),
            slow_calls: self.counters.slow_calls.load(Ordering::Relaxed),
        }
    }

    /// Runs one library in a scratch context and reports what it
    /// registered; the live context is untouched (`FUNCTION LOAD`'s check).
    pub fn inspect(&mut self, library: LibrarySource<'_>) -> Result<LoadedLibrary, LoadError> {
        let mut loaded = self.inspect_all(&[library])?;
        Ok(loaded.remove(0))
    }

    /// Runs each library in a scratch context of its own and reports what
    /// each registered; the live context is untouched. All of them run
    /// under one load budget (`FUNCTION LOAD` and `RESTORE` have one budget
    /// per command); the first failure is the error.
    pub fn inspect_all(
        &mut self,
        libraries: &[LibrarySource<'_>],
    ) -> Result<Vec<LoadedLibrary>, LoadError> {
        let batch = self.run_libraries(false, libraries, self.limits.load_budget);
        self.condemned |= batch.heap_hit;
        match batch.error {
            Some(error) => Err(error),
            None => Ok(batch.loaded.into_iter().map(|(meta, _)| meta).collect()),
        }
    }

    /// Replaces the live context with a fresh one holding `libraries`, and
    /// records `version`. All of them run under one load budget. On error
    /// the isolate has no functions.
    pub fn install(
        &mut self,
        libraries: &[LibrarySource<'_>],
        version: u64,
    ) -> Result<Vec<LoadedLibrary>, LoadError> {
        self.functions.clear();
        self.context = fresh_context(&mut self.isolate.lock(), self.fast_api);
        self.version = Some(version);
        let result = self.add_libraries(libraries);
        if result.is_err() {
            self.functions.clear();
        }
        result
    }

    /// Keeps the live context and its state: drops the functions of the
    /// libraries named in `remove` (and of those in `add`, which replace
    /// them), runs `add` in the live context under one load budget, and
    /// records `version`: only what changed runs. On error the failed library
    /// (named by [`LoadError::library`]) registers nothing; the libraries
    /// of `add` before it stay added.
    pub fn extend(
        &mut self,
        add: &[LibrarySource<'_>],
        remove: &[&str],
        version: u64,
    ) -> Result<Vec<LoadedLibrary>, LoadError> {
        // A library added again replaces its old functions too.
        let mut drop: HashSet<&str> = remove.iter().copied().collect();
        drop.extend(add.iter().map(|library| library.name));
        self.functions
            .retain(|_, registered| !drop.contains(&*registered.library));
        self.version = Some(version);
        self.add_libraries(add)
    }

    /// Runs `libraries` in the live context and registers the functions of
    /// each one that loaded. They passed `FUNCTION LOAD` within the load
    /// budget together, so they get twice that here: a busy machine does
    /// not make a library that fits fail (and be quarantined), while one
    /// that turned bad since its load is still stopped.
    fn add_libraries(
        &mut self,
        libraries: &[LibrarySource<'_>],
    ) -> Result<Vec<LoadedLibrary>, LoadError> {
        let batch = self.run_libraries(true, libraries, self.limits.load_budget * 2);
        self.condemned |= batch.heap_hit;
        let mut loaded = Vec::with_capacity(batch.loaded.len());
        for ((meta, functions), library) in batch.loaded.into_iter().zip(libraries) {
            let name: Arc<str> = Arc::from(library.name);
            self.functions.extend(functions.into_iter().map(|r| {
                let registered = Registered {
                    function: r.function,
                    flags: r.flags,
                    trigger: r.trigger.is_some(),
                    library: name.clone(),
                };
                (r.name, registered)
            }));
            loaded.push(meta);
        }
        match batch.error {
            Some(error) => Err(error),
            None => Ok(loaded),
        }
    }

    /// Runs `libraries` in order, in the live context or each in a scratch
    /// context of its own, under one arm of `budget`, until one fails.
    fn run_libraries(
        &self,
        live: bool,
        libraries: &[LibrarySource<'_>],
        budget: Duration,
    ) -> LoadBatch {
        let mut locker = self.isolate.lock();
        let armed = self.watch.arm(self.handle.clone(), None, budget);
        let mut batch = LoadBatch {
            loaded: Vec::with_capacity(libraries.len()),
            error: None,
            heap_hit: false,
        };
        for library in libraries {
            let context = match live {
                true => self.context.clone(),
                false => match new_context(&mut locker, self.fast_api) {
                    Some(context) => context,
                    None => {
                        // The budget ran out between two libraries.
                        batch.error = Some(LoadError::Timeout {
                            library: library.name.to_owned(),
                            budget_ms: budget.as_millis(),
                        });
                        break;
                    }
                },
            };
            match self.run_library(&mut locker, &context, *library, budget) {
                Ok(loaded) => batch.loaded.push(loaded),
                Err(error) => {
                    batch.error = Some(error);
                    break;
                }
            }
        }
        // Disarmed only now: reading what a library threw may run into its
        // side effects too.
        drop(armed);
        batch.heap_hit = self.after_load(&mut locker);
        batch
    }

    /// Clears a termination left by the load; whether the heap limit was
    /// hit (the isolate must then be dropped).
    fn after_load(&self, isolate: &mut v8::Isolate) -> bool {
        isolate.cancel_terminate_execution();
        if let Some(state) = isolate.get_slot_mut::<CallState>() {
            state.end_load();
        }
        self.heap_guard.was_hit()
    }

    /// Compiles and runs one library in `context`. The caller has armed the
    /// watch and keeps it armed until after this returns: every step here
    /// may run tenant code or its side effects (compiling, the top level,
    /// reading what it threw).
    fn run_library(
        &self,
        isolate: &mut v8::Isolate,
        context: &v8::Global<v8::Context>,
        library: LibrarySource<'_>,
        budget: Duration,
    ) -> Result<(LoadedLibrary, Vec<Registration>), LoadError> {
        let heap_mib = self.limits.heap_bytes >> 20;
        let heap_guard = &self.heap_guard;
        let timeout = || LoadError::Timeout {
            library: library.name.to_owned(),
            budget_ms: budget.as_millis(),
        };
        if self.watch.stopped().is_some() {
            return Err(timeout());
        }
        v8::scope!(let scope, isolate);
        let context = v8::Local::new(scope, context);
        let scope = &mut v8::ContextScope::new(scope, context);
        v8::tc_scope!(let tc, scope);

        if let Some(state) = tc.get_slot_mut::<CallState>() {
            state.begin_load();
        }
        let wrapped = wrap(library.code);
        let source_text = convert::v8_string(tc, wrapped.as_bytes());
        let name = convert::v8_string(tc, library.name.as_bytes());
        let origin = v8::ScriptOrigin::new(
            tc,
            name.into(),
            0,
            0,
            false,
            0,
            None,
            false,
            false,
            false,
            None,
        );
        let (mut source, options) = match library.code_cache {
            Some(cache) => (
                v8::script_compiler::Source::new_with_cached_data(
                    source_text,
                    Some(&origin),
                    v8::CachedData::new(cache),
                ),
                v8::script_compiler::CompileOptions::ConsumeCodeCache,
            ),
            None => (
                v8::script_compiler::Source::new(source_text, Some(&origin)),
                v8::script_compiler::CompileOptions::NoCompileOptions,
            ),
        };
        let script = v8::script_compiler::compile(
            tc,
            &mut source,
            options,
            v8::script_compiler::NoCacheReason::NoReason,
        );
        let Some(script) = script else {
            if self.watch.stopped().is_some() || tc.has_terminated() {
                return Err(timeout());
            }
            let (exception, message) = (tc.exception(), tc.message());
            let (location, message) = describe(tc, library.name, exception, message);
            return Err(LoadError::Compile {
                library: library.name.to_owned(),
                location,
                message,
            });
        };
        let cache_rejected = source.get_cached_data().is_some_and(|c| c.rejected());
        let code_cache = (library.code_cache.is_none() || cache_rejected)
            .then(|| script.get_unbound_script(tc).create_code_cache())
            .flatten()
            .map(|cache| cache.to_vec());

        let receiver = v8::undefined(tc).into();
        let body = script.run(tc).filter(|f| f.is_function());
        let ran = body.and_then(|body| body.cast::<v8::Function>().call(tc, receiver, &[]));
        let mut registrations = tc
            .get_slot_mut::<CallState>()
            .map(CallState::end_load)
            .unwrap_or_default();
        if ran.is_none() {
            if heap_guard.was_hit() {
                return Err(LoadError::Heap {
                    library: library.name.to_owned(),
                    heap_mib,
                });
            }
            if self.watch.stopped().is_some() || tc.has_terminated() {
                return Err(timeout());
            }
            let (exception, message) = (tc.exception(), tc.message());
            let (location, message) = describe(tc, library.name, exception, message);
            return Err(LoadError::Run {
                library: library.name.to_owned(),
                location,
                message,
            });
        }
        if registrations.is_empty() {
            return Err(LoadError::NoFunctions {
                library: library.name.to_owned(),
            });
        }
        let (mut functions, mut triggers) = (Vec::new(), Vec::new());
        for r in &mut registrations {
            match &r.trigger {
                Some((prefix, events)) => {
                    r.name = format!("{}@{}", library.name, triggers.len());
                    triggers.push(TriggerMeta {
                        function: r.name.clone(),
                        prefix: prefix.clone(),
                        events: events.clone(),
                    });
                }
                None => functions.push(FunctionMeta {
                    name: r.name.clone(),
                    flags: r.flags,
                    description: r.description.clone(),
                }),
            }
        }
        Ok((
            LoadedLibrary {
                functions,
                triggers,
                code_cache,
            },
            registrations,
        ))
    }

    /// Calls function `name` with `keys` and `args`, the store reached
    /// through `host`; the function's reply, or why there is none.
    pub fn call(
        &mut self,
        name: &str,
        keys: &[&[u8]],
        args: &[&[u8]],
        host: &mut dyn Host,
        options: CallOptions,
    ) -> Result<Reply, CallError> {
        let Some(registered) = self.functions.get(name) else {
            return Err(CallError::NotFound);
        };
        if options.read_only && !registered.flags.no_writes {
            return Ok(Reply::error(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        let budget = self.limits.cpu_budget;
        let mut locker = self.isolate.lock();
        let function = registered.function.clone();
        let trigger = registered.trigger;
        let state = locker
            .get_slot_mut::<CallState>()
            .expect("the call state is set at creation");
        // SAFETY: `end` runs below, before `host`, `keys` and `args` go out
        // of scope.
        unsafe { state.begin(host, keys, args) };
        let armed = self
            .watch
            .arm(self.handle.clone(), Some(self.tenant), budget);
        let outcome = self.run_call(&mut locker, &function, keys, args, trigger);
        let stopped = armed.disarm();
        if let Some(state) = locker.get_slot_mut::<CallState>() {
            state.end();
        }
        locker.cancel_terminate_execution();
        drop(function);
        drop(locker);
        if self.heap_guard.was_hit() || self.lent.load(Ordering::Relaxed) > self.limits.heap_bytes {
            self.condemned = true;
            return Err(CallError::Heap {
                function: name.to_owned(),
                heap_mib: self.limits.heap_bytes >> 20,
            });
        }
        // A call the watchdog stopped answers as stopped even if it returned
        // something: a host binding that refused work past the deadline
        // throws before V8 gets to deliver the termination.
        match (outcome, stopped) {
            (_, Some(StopCause::Killed)) => Err(CallError::Killed),
            (Some(reply), None) => Ok(reply),
            (_, _) => Err(CallError::Timeout {
                function: name.to_owned(),
                budget_ms: budget.as_millis(),
            }),
        }
    }

    /// Runs the function; `None` when execution was terminated.
    fn run_call(
        &self,
        isolate: &mut v8::Isolate,
        function: &v8::Global<v8::Function>,
        keys: &[&[u8]],
        args: &[&[u8]],
        trigger: bool,
    ) -> Option<Reply> {
        v8::scope!(let scope, isolate);
        let context = v8::Local::new(scope, &self.context);
        let scope = &mut v8::ContextScope::new(scope, context);
        v8::tc_scope!(let tc, scope);
        let function = v8::Local::new(tc, function);
        let (keys, args): (v8::Local<v8::Value>, v8::Local<v8::Value>) = match (trigger, keys, args)
        {
            // A trigger gets its key and event as strings.
            (true, [key], [event]) => (
                convert::v8_string(tc, key).into(),
                convert::v8_string(tc, event).into(),
            ),
            _ => (string_array(tc, keys).into(), string_array(tc, args).into()),
        };
        let receiver = v8::undefined(tc).into();
        let result = function.call(tc, receiver, &[keys, args]);
        if tc.has_terminated() {
            return None;
        }
        let Some(mut result) = result else {
            let exception = tc.exception().unwrap_or_else(|| v8::undefined(tc).into());
            let message = convert::error_message(tc, exception);
            return Some(convert::error_reply(&message));
        };
        tc.perform_microtask_checkpoint();
        if tc.has_terminated() {
            return None;
        }
        if result.is_promise() {
            let promise: v8::Local<v8::Promise> = result.cast();
            match promise.state() {
                v8::PromiseState::Fulfilled => result = promise.result(tc),
                v8::PromiseState::Rejected => {
                    let reason = promise.result(tc);
                    let message = convert::error_message(tc, reason);
                    return Some(convert::error_reply(&message));
                }
                v8::PromiseState::Pending => {
                    return Some(Reply::error(
                        "ERR a function returned a promise that did not settle during the call",
                    ));
                }
            }
        }
        let reply = convert::to_reply(tc, result, self.limits.reply_bytes);
        if tc.has_terminated() || tc.is_execution_terminating() {
            return None;
        }
        match reply {
            Some(reply) => Some(reply),
            // A getter threw while the value was read.
            None => {
                let exception = tc.exception().unwrap_or_else(|| v8::undefined(tc).into());
                let message = convert::error_message(tc, exception);
                Some(convert::error_reply(&message))
            }
        }
    }

    /// Total V8 heap the isolate holds: what an LRU weighs it by.
    pub fn heap_size(&mut self) -> usize {
        self.isolate.lock().get_heap_statistics().total_heap_size()
    }

    /// The address of the bytes a global typed array views (tests check
    /// that `kiln.get` lent a record's own memory).
    #[cfg(test)]
    pub(crate) fn global_view_data(&mut self, name: &str) -> Option<usize> {
        let mut locker = self.isolate.lock();
        v8::scope!(let scope, &mut *locker);
        let context = v8::Local::new(scope, &self.context);
        let scope = &mut v8::ContextScope::new(scope, context);
        let key = convert::v8_string(scope, name.as_bytes());
        let value = context.global(scope).get(scope, key.into())?;
        let view: v8::Local<v8::ArrayBufferView> = value.try_into().ok()?;
        Some(view.data() as usize)
    }
}

/// A new context from the snapshot with the native bindings attached and
/// `WebAssembly` removed; `None` when the bootstrap was stopped (the
/// watchdog fired while a load budget was armed).
fn new_context(isolate: &mut v8::Isolate, fast_api: bool) -> Option<v8::Global<v8::Context>> {
    v8::scope!(let scope, isolate);
    let context = v8::Context::new(scope, Default::default());
    let scope = &mut v8::ContextScope::new(scope, context);
    let global = context.global(scope);
    // No tenant code has run in this context yet: looking globals up and
    // calling the bootstrap is safe here.
    let wasm = convert::v8_string(scope, b"WebAssembly");
    global.delete(scope, wasm.into());
    let key = convert::v8_string(scope, b"__kilnInstall");
    let install: v8::Local<v8::Function> = global
        .get(scope, key.into())
        .filter(|f| f.is_function())
        .expect("the snapshot defines __kilnInstall")
        .cast();
    let bindings = api::bindings(scope, fast_api);
    let receiver = v8::undefined(scope).into();
    install.call(scope, receiver, &[bindings.into()])?;
    Some(v8::Global::new(scope, context))
}

/// [`new_context`] where no watchdog is armed and no tenant code has run,
/// so nothing can stop the bootstrap.
fn fresh_context(isolate: &mut v8::Isolate, fast_api: bool) -> v8::Global<v8::Context> {
    new_context(isolate, fast_api).expect("__kilnInstall runs unless terminated")
}

/// Wraps a library so its top-level declarations are its own: the metadata
/// line becomes a comment on the wrapper's first line, so line and column
/// numbers in errors match the text the user wrote.
fn wrap(code: &str) -> String {
    let mut wrapped = String::with_capacity(code.len() + 32);
    wrapped.push_str("(function(){//");
    wrapped.push_str(code);
    wrapped.push_str("\n})");
    wrapped
}

/// `(location, message)` of a caught exception: `library:line:column` of
/// the innermost frame in the library's own code, and the exception's text
/// (`SyntaxError: Unexpected identifier 'x'`; a plain `Error` without its
/// `Error: ` prefix).
fn describe(
    scope: &mut v8::PinScope<'_, '_>,
    library: &str,
    exception: Option<v8::Local<'_, v8::Value>>,
    message: Option<v8::Local<'_, v8::Message>>,
) -> (String, String) {
    // Never `toString` the exception: `throw { toString() { for (;;) {} } }`
    // would run tenant code (V8's detail string runs none).
    let text = match exception {
        Some(exception) => convert::describe_value(scope, exception),
        None => "unknown error".to_owned(),
    };
    let text = text
        .strip_prefix("Error: ")
        .map(str::to_owned)
        .unwrap_or(text);
    let Some(message) = message else {
        return (library.to_owned(), text);
    };
    let frames = message.get_stack_trace(scope).map(|trace| {
        (0..trace.get_frame_count())
            .filter_map(|i| trace.get_frame(scope, i))
            .find(|frame| {
                frame
                    .get_script_name(scope)
                    .is_some_and(|n| n.to_rust_string_lossy(scope) == library)
            })
            .map(|frame| (frame.get_line_number(), frame.get_column()))
    });
    let (line, column) = match frames.flatten() {
        Some(position) => position,
        None => (
            message.get_line_number(scope).unwrap_or(0),
            message.get_start_column() + 1,
        ),
    };
    (format!("{library}:{line}:{column}"), text)
}

/// A JavaScript array of strings.
fn string_array<'s>(scope: &v8::PinScope<'s, '_>, items: &[&[u8]]) -> v8::Local<'s, v8::Array> {
    let values: Vec<v8::Local<v8::Value>> = items
        .iter()
        .map(|item| convert::v8_string(scope, item).into())
        .collect();
    v8::Array::new_with_elements(scope, &values)
}
