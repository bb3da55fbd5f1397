//! The native half of the `kiln` API, bound into each tenant context.
//!
//! Each binding finds the running call's [`CallState`] in the isolate's slot
//! and goes through its [`Host`], which checks keys against the tenant's
//! keyspace and this core. `exists`, `del` and `put` also have V8 fast API
//! variants (`build_fast`), which optimized JavaScript calls without the
//! generic callback machinery; they throw through a callback scope like the
//! slow path does. Bindings that return objects (`get`, `mget`, `call`...)
//! cannot be fast calls: V8's fast path does not allocate JavaScript values.

use std::borrow::Cow;
use std::ffi::c_void;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::Bytes;
use kiln_net::OwnedArgs;
use v8::MapFnTo;
use v8::fast_api::{CFunction, CFunctionInfo, FastApiCallbackOptions, Int64Representation, Type};

use crate::convert::{self, BytesError};
use crate::host::{Host, HostError};
use crate::limits::{Limits, show_size};
use crate::types::FunctionFlags;
use crate::watchdog::Watch;

/// Most keys one `kiln.mget` reads.
const MAX_MGET_KEYS: u32 = 1 << 20;
/// Most arguments one `kiln.call` passes (command name included).
const MAX_CALL_ARGS: i32 = 1 << 20;
/// Most functions one library registers (the registry's per-tenant cap is
/// usually far lower; this bounds what a load can pile up before that).
const MAX_LIBRARY_FUNCTIONS: usize = 1 << 16;
/// Longest function name, in characters.
const MAX_NAME_CHARS: usize = 256;
/// Longest function description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 64 << 10;
/// Most entries in a registration's `flags` (there are five flags).
const MAX_FLAGS: u32 = 16;

/// Per-isolate state every binding reaches through the isolate slot.
pub(crate) struct CallState {
    /// The running call's host; `None` between calls, so a binding that
    /// escaped its call (a stored closure run later) throws instead of
    /// touching the store.
    host: Option<NonNull<dyn Host>>,
    /// The running call's keys and arguments (`kiln.rawKeys()`/`rawArgs()`),
    /// borrowed for the call: copied only if a function asks for them.
    keys: Vec<RawSlice>,
    args: Vec<RawSlice>,
    /// The functions the library being loaded has registered so far; `None`
    /// outside a load, when `kiln.registerFunction` throws.
    registering: Option<Vec<Registration>>,
    /// The isolate's limits: what bindings accept from JavaScript.
    limits: Limits,
    /// The core's watch: a binding does no host work once the call it runs
    /// in is past its budget.
    watch: Arc<Watch>,
    /// Bytes of records currently lent to JavaScript as views, and of the
    /// copies `rawKeys()`/`rawArgs()` handed out (memory outside the V8
    /// heap, held to the heap cap).
    pub(crate) lent: Arc<AtomicUsize>,
    /// Counters for tests and benchmarks.
    pub(crate) counters: Arc<Counters>,
}

/// One function a library registered, as `kiln.registerFunction` checked
/// and recorded it: host-owned, so reading it runs no JavaScript.
pub(crate) struct Registration {
    pub(crate) name: String,
    pub(crate) function: v8::Global<v8::Function>,
    pub(crate) flags: FunctionFlags,
    pub(crate) description: Option<String>,
    /// For a key trigger (`kiln.onKeyEvent`): the key prefix and events
    /// it fires on. The loader names it.
    pub(crate) trigger: Option<(String, Vec<String>)>,
}

/// A byte slice borrowed for the length of one call (see
/// [`CallState::begin`]).
#[derive(Clone, Copy)]
struct RawSlice(*const u8, usize);

impl RawSlice {
    fn of(bytes: &[u8]) -> RawSlice {
        RawSlice(bytes.as_ptr(), bytes.len())
    }

    /// # Safety
    /// The slice it was made from must still be alive.
    unsafe fn get<'a>(self) -> &'a [u8] {
        // SAFETY: per the caller, the original slice is alive.
        unsafe { std::slice::from_raw_parts(self.0, self.1) }
    }
}

/// How the host API has been used, for tests and benchmarks.
#[derive(Debug, Default)]
pub struct Counters {
    /// `kiln.get` results handed out as views over the record's own bytes.
    pub zero_copy_views: AtomicU64,
    /// Bindings entered through the fast API path.
    pub fast_calls: AtomicU64,
    /// Bindings entered through the generic callback path.
    pub slow_calls: AtomicU64,
}

impl CallState {
    pub(crate) fn new(limits: Limits, watch: Arc<Watch>) -> CallState {
        CallState {
            host: None,
            keys: Vec::new(),
            args: Vec::new(),
            registering: None,
            limits,
            watch,
            lent: Arc::default(),
            counters: Arc::default(),
        }
    }

    /// Makes `host`, `keys` and `args` visible to the bindings until
    /// [`CallState::end`].
    ///
    /// # Safety
    /// `host` must stay valid and unaliased, and `keys` and `args` alive,
    /// until `end` is called.
    pub(crate) unsafe fn begin(&mut self, host: &mut dyn Host, keys: &[&[u8]], args: &[&[u8]]) {
        // SAFETY: the lifetime is erased here and restored by the caller's
        // guarantee that `end` runs before `host` goes away.
        let host: NonNull<dyn Host + '_> = NonNull::from(host);
        self.host =
            Some(unsafe { std::mem::transmute::<NonNull<dyn Host + '_>, NonNull<dyn Host>>(host) });
        self.keys.clear();
        self.keys.extend(keys.iter().map(|k| RawSlice::of(k)));
        self.args.clear();
        self.args.extend(args.iter().map(|a| RawSlice::of(a)));
    }

    /// Ends the call: the bindings lose the host.
    pub(crate) fn end(&mut self) {
        self.host = None;
        self.keys.clear();
        self.args.clear();
    }

    /// Lets `kiln.registerFunction` record functions until
    /// [`CallState::end_load`].
    pub(crate) fn begin_load(&mut self) {
        self.registering = Some(Vec::new());
    }

    /// What was registered since [`CallState::begin_load`], in order.
    pub(crate) fn end_load(&mut self) -> Vec<Registration> {
        self.registering.take().unwrap_or_default()
    }
}

/// The running call's host, or the error a binding throws outside a call.
///
/// A call past its budget (or stopped by `FUNCTION KILL`) gets no host:
/// [`Watch::expired`] has requested its termination, and the binding
/// returns without doing the work.
fn host(isolate: &mut v8::Isolate) -> Result<&mut dyn Host, HostError> {
    let state = isolate
        .get_slot_mut::<CallState>()
        .ok_or_else(not_in_call)?;
    let Some(mut host) = state.host else {
        return Err(not_in_call());
    };
    if state.watch.expired() {
        return Err(HostError::new("ERR the function ran past its budget"));
    }
    // SAFETY: `begin`'s contract keeps the host valid while it is set.
    Ok(unsafe { host.as_mut() })
}

/// The isolate's limits.
fn limits(isolate: &v8::Isolate) -> Limits {
    isolate
        .get_slot::<CallState>()
        .map_or_else(Limits::default, |state| state.limits)
}

fn not_in_call() -> HostError {
    HostError::new("ERR the kiln API can only be used while a function runs")
}

/// Counts one entry into a binding.
fn count(isolate: &v8::Isolate, pick: fn(&Counters) -> &AtomicU64) {
    if let Some(state) = isolate.get_slot::<CallState>() {
        pick(&state.counters).fetch_add(1, Ordering::Relaxed);
    }
}

/// Throws `message` as an `Error` into the running JavaScript (unless it
/// is being terminated: nothing may catch that).
pub(crate) fn throw(scope: &mut v8::PinScope<'_, '_>, message: &str) {
    if scope.is_execution_terminating() {
        return;
    }
    let text = convert::v8_string(scope, message.as_bytes());
    let error = v8::Exception::error(scope, text);
    scope.throw_exception(error);
}

/// Builds the object passed to `__kilnInstall`.
/// With `fast_api` off every binding takes the generic callback path (the
/// benchmarks compare the two).
pub(crate) fn bindings<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    fast_api: bool,
) -> v8::Local<'s, v8::Object> {
    let object = v8::Object::new(scope);
    let slow: [(&str, v8::FunctionCallback); 10] = [
        ("registerFunction", register_function.map_fn_to()),
        ("onKeyEvent", on_key_event.map_fn_to()),
        ("get", get.map_fn_to()),
        ("getString", get_string.map_fn_to()),
        ("putTtl", put_ttl.map_fn_to()),
        ("incr", incr.map_fn_to()),
        ("mget", mget.map_fn_to()),
        ("call", call.map_fn_to()),
        ("rawKeys", raw_keys.map_fn_to()),
        ("rawArgs", raw_args.map_fn_to()),
    ];
    for (name, callback) in slow {
        let function = v8::FunctionTemplate::builder_raw(callback).build(scope);
        install(scope, object, name, function);
    }
    let fast: [(&str, v8::FunctionCallback, &'static [CFunction]); 3] = [
        ("exists", exists.map_fn_to(), &[FAST_EXISTS]),
        ("del", del.map_fn_to(), &[FAST_DEL]),
        ("put", put.map_fn_to(), &[FAST_PUT]),
    ];
    for (name, callback, fast) in fast {
        let builder = v8::FunctionTemplate::builder_raw(callback);
        let function = if fast_api {
            builder.build_fast(scope, fast)
        } else {
            builder.build(scope)
        };
        install(scope, object, name, function);
    }
    object
}

fn install(
    scope: &mut v8::PinScope<'_, '_>,
    object: v8::Local<'_, v8::Object>,
    name: &str,
    template: v8::Local<'_, v8::FunctionTemplate>,
) {
    let function = template
        .get_function(scope)
        .expect("a native binding instantiates");
    let key = convert::v8_string(scope, name.as_bytes());
    object.set(scope, key.into(), function.into());
}

/// Runs `op` on the host with the bytes of `key`, throwing its error.
fn with_key<'s, T>(
    scope: &mut v8::PinScope<'s, '_>,
    key: v8::Local<'_, v8::Value>,
    op: impl FnOnce(&mut dyn Host, &[u8]) -> Result<T, HostError>,
) -> Option<T> {
    let limits = limits(scope);
    let cap = limits.max_arg_bytes.min(limits.host_call_bytes());
    let mut buf = [MaybeUninit::<u8>::uninit(); KEY_BUF];
    let key = if key.is_string() {
        let text = key.cast::<v8::String>();
        // Measured before it is copied: a UTF-16 unit is one to three UTF-8
        // bytes, so only a string near the cap needs counting.
        let units = text.length();
        if units > cap || (units.saturating_mul(3) > cap && text.utf8_length(scope) > cap) {
            throw(scope, &too_long("a key", cap));
            return None;
        }
        // Keys are short: read them into a stack buffer, not the heap.
        match text.to_rust_cow_lossy(scope, &mut buf) {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        }
    } else {
        match convert::value_bytes(scope, key, cap) {
            Ok(bytes) => Cow::Owned(bytes),
            Err(BytesError::TooLong) => {
                throw(scope, &too_long("a key", cap));
                return None;
            }
            Err(BytesError::NotBytes) => {
                throw(scope, "ERR keys must be strings, numbers or Uint8Arrays");
                return None;
            }
        }
    };
    let result = host(scope).and_then(|host| guarded(|| op(host, &key)));
    match result {
        Ok(value) => Some(value),
        Err(HostError(message)) => {
            throw(scope, &message);
            None
        }
    }
}

/// The error for a key, value or argument over `cap` bytes.
fn too_long(what: &str, cap: usize) -> String {
    format!("ERR {what} exceeds the {} argument limit", show_size(cap))
}

/// Keys up to this many UTF-8 bytes are read without allocating.
const KEY_BUF: usize = 256;

/// Runs a host operation, turning a panic into an error: a Rust panic must
/// never unwind through V8's frames (that would abort the process).
fn guarded<T>(op: impl FnOnce() -> Result<T, HostError>) -> Result<T, HostError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(op)).unwrap_or_else(|_| {
        Err(HostError::new(
            "ERR internal error in the kiln host API (logged)",
        ))
    })
}

fn count_slow(scope: &v8::PinScope<'_, '_>) {
    count(scope, |c| &c.slow_calls);
}

// ---- registerFunction ---------------------------------------------------------

/// `kiln.registerFunction(name, fn[, { flags, description }])`, checked
/// here rather than in JavaScript: the tenant's code runs before and around
/// it and may have replaced any built-in a script would use. The function
/// is recorded in the isolate's slot, which the loader reads without
/// running any JavaScript. Error texts are Redis's where Redis has one.
fn register_function(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let loading = scope
        .get_slot::<CallState>()
        .and_then(|state| state.registering.as_ref())
        .map(Vec::len);
    let Some(registered) = loading else {
        return throw(
            scope,
            "kiln.registerFunction can only be called on FUNCTION LOAD command",
        );
    };
    let Some(name) = function_name(scope, args.get(0)) else {
        return throw(
            scope,
            "Function names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        );
    };
    let function = args.get(1);
    if !function.is_function() {
        return throw(
            scope,
            "kiln.registerFunction: the second argument must be a function",
        );
    }
    let duplicate = scope
        .get_slot::<CallState>()
        .and_then(|state| state.registering.as_ref())
        .is_some_and(|list| list.iter().any(|r| r.name == name));
    if duplicate {
        return throw(scope, "Function already exists in the library");
    }
    if registered >= MAX_LIBRARY_FUNCTIONS {
        return throw(
            scope,
            &format!(
                "kiln.registerFunction: a library may register at most {MAX_LIBRARY_FUNCTIONS} functions"
            ),
        );
    }
    let Some((flags, description)) = registration_options(scope, args.get(2)) else {
        return;
    };
    let function = v8::Global::new(scope, function.cast::<v8::Function>());
    register(
        scope,
        Registration {
            name,
            function,
            flags,
            description,
            trigger: None,
        },
    );
}

/// Adds `registration` to what the library being loaded registered.
fn register(scope: &mut v8::PinScope<'_, '_>, registration: Registration) {
    if let Some(list) = scope
        .get_slot_mut::<CallState>()
        .and_then(|state| state.registering.as_mut())
    {
        list.push(registration);
    }
}

/// Most key triggers one library may register.
const MAX_LIBRARY_TRIGGERS: usize = 64;
/// Longest trigger key prefix, in characters.
const MAX_PREFIX_CHARS: usize = 1024;
/// Most events one trigger may name.
const MAX_TRIGGER_EVENTS: u32 = 32;
/// Longest event name (Redis's longest is `zremrangebyscore`).
const MAX_EVENT_CHARS: usize = 32;

/// `kiln.onKeyEvent({ prefix, events }, fn)`: after a change to a key of
/// the tenant that starts with `prefix` (default: every key), of one of
/// `events` (default: every event), `fn(key, event)` runs on the key's
/// core. Checked here, as `registerFunction` is: the options are the
/// tenant's object (its getters run under the load budget) and each value
/// read is bounded before it is copied.
fn on_key_event(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    let triggers = scope
        .get_slot::<CallState>()
        .and_then(|state| state.registering.as_ref())
        .map(|list| list.iter().filter(|r| r.trigger.is_some()).count());
    let Some(triggers) = triggers else {
        return throw(
            scope,
            "kiln.onKeyEvent can only be called on FUNCTION LOAD command",
        );
    };
    if triggers >= MAX_LIBRARY_TRIGGERS {
        return throw(
            scope,
            &format!(
                "kiln.onKeyEvent: a library may register at most {MAX_LIBRARY_TRIGGERS} triggers"
            ),
        );
    }
    let function = args.get(1);
    if !function.is_function() {
        return throw(
            scope,
            "kiln.onKeyEvent: the second argument must be a function",
        );
    }
    let Some((prefix, events)) = trigger_options(scope, args.get(0)) else {
        return;
    };
    let function = v8::Global::new(scope, function.cast::<v8::Function>());
    let registration = Registration {
        name: String::new(),
        function,
        flags: FunctionFlags::default(),
        description: None,
        trigger: Some((prefix, events)),
    };
    register(scope, registration);
}

/// The prefix and events of `kiln.onKeyEvent`'s options; `None` after
/// throwing.
fn trigger_options(
    scope: &mut v8::PinScope<'_, '_>,
    options: v8::Local<'_, v8::Value>,
) -> Option<(String, Vec<String>)> {
    if options.is_null_or_undefined() {
        return Some((String::new(), Vec::new()));
    }
    if !options.is_object() || options.is_function() {
        throw(scope, "kiln.onKeyEvent: options must be an object");
        return None;
    }
    let options: v8::Local<v8::Object> = options.cast();
    let key = convert::v8_string(scope, b"prefix");
    let prefix = options.get(scope, key.into())?;
    let prefix = if prefix.is_null_or_undefined() {
        String::new()
    } else if prefix.is_string() && prefix.cast::<v8::String>().length() <= MAX_PREFIX_CHARS {
        prefix.to_rust_string_lossy(scope)
    } else {
        throw(
            scope,
            &format!(
                "kiln.onKeyEvent: prefix must be a string of at most {MAX_PREFIX_CHARS} characters"
            ),
        );
        return None;
    };
    let key = convert::v8_string(scope, b"events");
    let list = options.get(scope, key.into())?;
    let mut events = Vec::new();
    if list.is_null_or_undefined() {
        return Some((prefix, events));
    }
    if !list.is_array() || list.cast::<v8::Array>().length() > MAX_TRIGGER_EVENTS {
        throw(
            scope,
            &format!(
                "kiln.onKeyEvent: events must be an array of at most {MAX_TRIGGER_EVENTS} event names"
            ),
        );
        return None;
    }
    let list: v8::Local<v8::Array> = list.cast();
    for i in 0..list.length() {
        let event = list.get_index(scope, i)?;
        let name = (event.is_string() && event.cast::<v8::String>().length() <= MAX_EVENT_CHARS)
            .then(|| event.to_rust_string_lossy(scope))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        match name {
            Some(name) => events.push(name),
            None => {
                let shown = convert::describe_value(scope, event);
                throw(
                    scope,
                    &format!("kiln.onKeyEvent: not an event name: {shown}"),
                );
                return None;
            }
        }
    }
    Some((prefix, events))
}

/// A valid function name: a string primitive of ASCII letters, digits and
/// `_`, of 1 to [`MAX_NAME_CHARS`] characters.
fn function_name(
    scope: &mut v8::PinScope<'_, '_>,
    name: v8::Local<'_, v8::Value>,
) -> Option<String> {
    if !name.is_string() {
        return None;
    }
    let name: v8::Local<v8::String> = name.cast();
    if name.length() == 0 || name.length() > MAX_NAME_CHARS {
        return None;
    }
    let name = name.to_rust_string_lossy(scope);
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        .then_some(name)
}

/// The flags and description of a registration's options object; `None`
/// after throwing (or when a getter threw).
fn registration_options(
    scope: &mut v8::PinScope<'_, '_>,
    options: v8::Local<'_, v8::Value>,
) -> Option<(FunctionFlags, Option<String>)> {
    let mut flags = FunctionFlags::default();
    if options.is_null_or_undefined() {
        return Some((flags, None));
    }
    if !options.is_object() || options.is_function() {
        throw(scope, "kiln.registerFunction: options must be an object");
        return None;
    }
    let options: v8::Local<v8::Object> = options.cast();
    // Reading the tenant's own object may run its getters: that is its code,
    // under the load budget, and the values are checked below.
    let key = convert::v8_string(scope, b"flags");
    let list = options.get(scope, key.into())?;
    if !list.is_null_or_undefined() {
        if !list.is_array() {
            throw(
                scope,
                "kiln.registerFunction: flags must be an array of strings",
            );
            return None;
        }
        let list: v8::Local<v8::Array> = list.cast();
        if list.length() > MAX_FLAGS {
            throw(
                scope,
                &format!("kiln.registerFunction: at most {MAX_FLAGS} flags may be given"),
            );
            return None;
        }
        for i in 0..list.length() {
            let flag = list.get_index(scope, i)?;
            // Flag names are short: a long string is unknown without being
            // copied.
            let name = (flag.is_string() && flag.cast::<v8::String>().length() <= 32)
                .then(|| flag.to_rust_string_lossy(scope));
            match name.as_deref().and_then(FunctionFlags::named) {
                Some(set) => set(&mut flags),
                None => {
                    let shown = convert::describe_value(scope, flag);
                    throw(scope, &format!("Unknown flag given: {shown}"));
                    return None;
                }
            }
        }
    }
    let key = convert::v8_string(scope, b"description");
    let description = options.get(scope, key.into())?;
    if description.is_null_or_undefined() {
        return Some((flags, None));
    }
    if !description.is_string() || description.cast::<v8::String>().length() > MAX_DESCRIPTION_CHARS
    {
        throw(
            scope,
            &format!(
                "kiln.registerFunction: description must be a string of at most {MAX_DESCRIPTION_CHARS} characters"
            ),
        );
        return None;
    }
    Some((flags, Some(description.to_rust_string_lossy(scope))))
}

// ---- get / getString / mget -------------------------------------------------

/// The deleter of a view's backing store: gives back the record's bytes.
unsafe extern "C" fn drop_lent(_data: *mut c_void, len: usize, owner: *mut c_void) {
    // SAFETY: `owner` is the `Box<Lent>` leaked by `lend`, dropped once here.
    let lent = unsafe { Box::from_raw(owner.cast::<Lent>()) };
    lent.counter.fetch_sub(len, Ordering::Relaxed);
}

/// Bytes outside the V8 heap kept alive while JavaScript holds a buffer of
/// them, counted in [`CallState::lent`].
struct Lent {
    _bytes: LentBytes,
    counter: Arc<AtomicUsize>,
}

enum LentBytes {
    /// A record's own bytes, shared with the store: JavaScript only sees
    /// them through `transferToImmutable()`, so they are never written.
    Record(Bytes),
    /// A copy that belongs to JavaScript alone, which may write it.
    Copy(Vec<u8>),
}

/// An `ArrayBuffer` over `bytes` without copying them.
fn lend<'s>(scope: &mut v8::PinScope<'s, '_>, bytes: LentBytes) -> v8::Local<'s, v8::ArrayBuffer> {
    let Some(state) = scope.get_slot::<CallState>() else {
        return v8::ArrayBuffer::new(scope, 0);
    };
    let counter = state.lent.clone();
    let mut bytes = bytes;
    let (ptr, len) = match &mut bytes {
        LentBytes::Record(record) => {
            state
                .counters
                .zero_copy_views
                .fetch_add(1, Ordering::Relaxed);
            (record.as_ptr() as *mut u8, record.len())
        }
        LentBytes::Copy(copy) => (copy.as_mut_ptr(), copy.len()),
    };
    if len == 0 {
        return v8::ArrayBuffer::new(scope, 0);
    }
    counter.fetch_add(len, Ordering::Relaxed);
    let owner = Box::into_raw(Box::new(Lent {
        _bytes: bytes,
        counter,
    }));
    // SAFETY: `ptr..ptr+len` is owned by the bytes inside `owner` (moving a
    // `Bytes` or `Vec` does not move its buffer), which live until V8 calls
    // `drop_lent`. A record's bytes are only written if JavaScript gets the
    // buffer itself, and `kiln.get` hands it only a `transferToImmutable()`
    // of it.
    let store = unsafe {
        v8::ArrayBuffer::new_backing_store_from_ptr(ptr.cast(), len, drop_lent, owner.cast())
    };
    v8::ArrayBuffer::with_backing_store(scope, &store.make_shared())
}

fn get(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    rv: v8::ReturnValue<v8::Value>,
) {
    read_value(scope, args, rv, |scope, bytes| {
        lend(scope, LentBytes::Record(bytes)).into()
    });
}

fn get_string(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    rv: v8::ReturnValue<v8::Value>,
) {
    read_value(scope, args, rv, |scope, bytes| {
        convert::v8_string(scope, &bytes).into()
    });
}

/// Reads the value at the first argument and returns it as `present` makes
/// it, or `null`.
fn read_value(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
    present: for<'s> fn(&mut v8::PinScope<'s, '_>, Bytes) -> v8::Local<'s, v8::Value>,
) {
    count_slow(scope);
    match with_key(scope, args.get(0), |host, key| host.get(key)) {
        Some(Some(bytes)) => rv.set(present(scope, bytes)),
        Some(None) => rv.set_null(),
        None => {}
    }
}

/// `kiln.mget(k1, k2...)` or `kiln.mget([k1, k2...])`: strings or `null`s.
///
/// An array is walked one element at a time (its `length` is whatever the
/// tenant set, `2**32 - 1` for an empty array), and only up to
/// [`MAX_MGET_KEYS`].
fn mget(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    count_slow(scope);
    let first = args.get(0);
    let list = (args.length() == 1 && first.is_array()).then(|| first.cast::<v8::Array>());
    let count = match list {
        Some(list) => list.length(),
        None => args.length().max(0) as u32,
    };
    if count > MAX_MGET_KEYS {
        return throw(
            scope,
            &format!("ERR kiln.mget takes at most {MAX_MGET_KEYS} keys"),
        );
    }
    let mut values = Vec::new();
    for i in 0..count {
        if scope.is_execution_terminating() {
            return;
        }
        let key = match list {
            // `None`: a getter threw, or execution is terminating.
            Some(list) => match list.get_index(scope, i) {
                Some(key) => key,
                None => return,
            },
            None => args.get(i as i32),
        };
        let Some(value) = with_key(scope, key, |host, key| host.get(key)) else {
            return;
        };
        values.push(match value {
            Some(bytes) => convert::v8_string(scope, &bytes).into(),
            None => v8::null(scope).into(),
        });
    }
    rv.set(v8::Array::new_with_elements(scope, &values).into());
}

// ---- put / incr / call ------------------------------------------------------

fn put_value(
    scope: &mut v8::PinScope<'_, '_>,
    key: v8::Local<'_, v8::Value>,
    value: v8::Local<'_, v8::Value>,
    ttl_ms: Option<u64>,
) {
    let limits = limits(scope);
    let cap = limits.max_arg_bytes.min(limits.host_call_bytes());
    let value = match convert::value_bytes(scope, value, cap) {
        Ok(value) => Bytes::from(value),
        Err(BytesError::TooLong) => return throw(scope, &too_long("a value", cap)),
        Err(BytesError::NotBytes) => {
            return throw(scope, "ERR values must be strings, numbers or Uint8Arrays");
        }
    };
    with_key(scope, key, |host, key| host.put(key, value, ttl_ms));
}

fn put(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    count_slow(scope);
    put_value(scope, args.get(0), args.get(1), None);
}

fn put_ttl(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    _rv: v8::ReturnValue<v8::Value>,
) {
    count_slow(scope);
    let ttl = args.get(2).integer_value(scope).filter(|ms| *ms > 0);
    let Some(ttl) = ttl else {
        return throw(scope, "ERR invalid expire time in 'kiln.put'");
    };
    put_value(scope, args.get(0), args.get(1), Some(ttl as u64));
}

fn incr(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    count_slow(scope);
    let by = args.get(1);
    let delta = if by.is_null_or_undefined() {
        Some(1)
    } else if by.is_big_int() {
        Some(by.cast::<v8::BigInt>().i64_value())
            .filter(|(_, exact)| *exact)
            .map(|(n, _)| n)
    } else {
        by.number_value(scope)
            .filter(|n| n.fract() == 0.0 && n.abs() < 9.2e18)
            .map(|n| n as i64)
    };
    let Some(delta) = delta else {
        return throw(scope, "ERR value is not an integer or out of range");
    };
    if let Some(n) = with_key(scope, args.get(0), |host, key| host.incr(key, delta)) {
        rv.set(convert::integer(scope, n));
    }
}

/// `kiln.call(command, ...args)`: at most [`MAX_CALL_ARGS`] arguments, each
/// at most `max_arg_bytes` and together at most
/// [`Limits::host_call_bytes`], each measured before it is copied.
fn call(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    count_slow(scope);
    if args.length() > MAX_CALL_ARGS {
        return throw(
            scope,
            &format!("ERR kiln.call takes at most {MAX_CALL_ARGS} arguments"),
        );
    }
    let limits = limits(scope);
    let mut left = limits.host_call_bytes();
    // One buffer for every argument: the command runs on views into it.
    let mut command = OwnedArgs::default();
    for i in 0..args.length() {
        if scope.is_execution_terminating() {
            return;
        }
        let cap = limits.max_arg_bytes.min(left);
        match convert::value_bytes(scope, args.get(i), cap) {
            Ok(arg) => {
                left -= arg.len();
                command.push(&arg);
            }
            Err(BytesError::TooLong) if cap < limits.max_arg_bytes => {
                return throw(
                    scope,
                    &format!(
                        "ERR kiln.call arguments exceed the {} limit of one call",
                        show_size(limits.host_call_bytes())
                    ),
                );
            }
            Err(BytesError::TooLong) => {
                return throw(scope, &too_long("a kiln.call argument", cap));
            }
            Err(BytesError::NotBytes) => {
                return throw(
                    scope,
                    "ERR Command arguments must be strings, numbers or Uint8Arrays",
                );
            }
        }
    }
    if command.args().is_empty() {
        return throw(
            scope,
            "ERR Please specify at least one argument for this call",
        );
    }
    let reply = match host(scope).and_then(|host| guarded(|| Ok(host.call(command.args())))) {
        Ok(reply) => reply,
        Err(HostError(message)) => return throw(scope, &message),
    };
    match convert::from_reply(scope, &reply) {
        Ok(value) => rv.set(value),
        Err(message) => throw(scope, &message),
    }
}

fn raw_keys(
    scope: &mut v8::PinScope<'_, '_>,
    _args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    if let Some(list) = raw_list(scope, |state| &state.keys) {
        rv.set(list.into());
    }
}

fn raw_args(
    scope: &mut v8::PinScope<'_, '_>,
    _args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    if let Some(list) = raw_list(scope, |state| &state.args) {
        rv.set(list.into());
    }
}

/// The running call's keys or args as `Uint8Array`s (copies: they may be
/// kept). The copies live outside the V8 heap, so they are counted with
/// lent views and refused once they would take those past the heap cap.
fn raw_list<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    pick: fn(&CallState) -> &Vec<RawSlice>,
) -> Option<v8::Local<'s, v8::Array>> {
    let state = scope.get_slot::<CallState>()?;
    if state.host.is_none() {
        return Some(v8::Array::new(scope, 0));
    }
    if state.watch.expired() {
        return None;
    }
    let raws = pick(state).clone();
    // SAFETY (for each `get` below): a call is running (`host` is set), so
    // `begin`'s contract keeps its keys and args alive.
    let total = raws
        .iter()
        .map(|raw| raw.1)
        .fold(0usize, usize::saturating_add);
    let cap = state.limits.heap_bytes;
    if state.lent.load(Ordering::Relaxed).saturating_add(total) > cap {
        throw(
            scope,
            &format!(
                "ERR kiln.rawKeys()/rawArgs() copies would exceed the {} heap limit",
                show_size(cap)
            ),
        );
        return None;
    }
    let mut values = Vec::with_capacity(raws.len());
    for raw in raws {
        let copy = unsafe { raw.get() }.to_vec();
        let len = copy.len();
        let buffer = lend(scope, LentBytes::Copy(copy));
        let view = v8::Uint8Array::new(scope, buffer, 0, len)?;
        values.push(view.into());
    }
    Some(v8::Array::new_with_elements(scope, &values))
}

// ---- exists / del: slow and fast ---------------------------------------------

fn exists(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    count_slow(scope);
    if let Some(found) = with_key(scope, args.get(0), |host, key| host.exists(key)) {
        rv.set_bool(found);
    }
}

fn del(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    count_slow(scope);
    if let Some(found) = with_key(scope, args.get(0), |host, key| host.del(key)) {
        rv.set_bool(found);
    }
}

const BOOL_OF_KEY: CFunctionInfo = CFunctionInfo::new(
    Type::Bool.as_info(),
    &[
        Type::V8Value.as_info(),
        Type::V8Value.as_info(),
        Type::CallbackOptions.as_info(),
    ],
    Int64Representation::Number,
);

const FAST_EXISTS: CFunction = CFunction::new(fast_exists as _, &BOOL_OF_KEY);
const FAST_DEL: CFunction = CFunction::new(fast_del as _, &BOOL_OF_KEY);
const FAST_PUT: CFunction = CFunction::new(
    fast_put as _,
    &CFunctionInfo::new(
        Type::Void.as_info(),
        &[
            Type::V8Value.as_info(),
            Type::V8Value.as_info(),
            Type::V8Value.as_info(),
            Type::CallbackOptions.as_info(),
        ],
        Int64Representation::Number,
    ),
);

fn fast_exists(
    _recv: v8::Local<v8::Object>,
    key: v8::Local<v8::Value>,
    options: &FastApiCallbackOptions,
) -> bool {
    fast_key_op(key, options, |host, key| host.exists(key)).unwrap_or(false)
}

fn fast_del(
    _recv: v8::Local<v8::Object>,
    key: v8::Local<v8::Value>,
    options: &FastApiCallbackOptions,
) -> bool {
    fast_key_op(key, options, |host, key| host.del(key)).unwrap_or(false)
}

fn fast_put(
    _recv: v8::Local<v8::Object>,
    key: v8::Local<v8::Value>,
    value: v8::Local<v8::Value>,
    options: &FastApiCallbackOptions,
) {
    v8::callback_scope!(unsafe scope, options);
    count(scope, |c| &c.fast_calls);
    put_value(scope, key, value, None);
}

/// A fast call on one key: enters a callback scope (so it may throw) and
/// runs `op` like the slow path.
fn fast_key_op<T>(
    key: v8::Local<v8::Value>,
    options: &FastApiCallbackOptions,
    op: impl FnOnce(&mut dyn Host, &[u8]) -> Result<T, HostError>,
) -> Option<T> {
    v8::callback_scope!(unsafe scope, options);
    count(scope, |c| &c.fast_calls);
    with_key(scope, key, op)
}
