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
use v8::MapFnTo;
use v8::fast_api::{CFunction, CFunctionInfo, FastApiCallbackOptions, Int64Representation, Type};

use crate::convert;
use crate::host::{Host, HostError};

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
    /// Bytes of records currently lent to JavaScript as views.
    pub(crate) lent: Arc<AtomicUsize>,
    /// Counters for tests and benchmarks.
    pub(crate) counters: Arc<Counters>,
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
    pub(crate) fn new() -> CallState {
        CallState {
            host: None,
            keys: Vec::new(),
            args: Vec::new(),
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
}

/// The running call's host, or the error a binding throws outside a call.
fn host(isolate: &mut v8::Isolate) -> Result<&mut dyn Host, HostError> {
    let state = isolate
        .get_slot_mut::<CallState>()
        .ok_or_else(not_in_call)?;
    match state.host {
        // SAFETY: `begin`'s contract keeps the host valid while it is set.
        Some(mut host) => Ok(unsafe { host.as_mut() }),
        None => Err(not_in_call()),
    }
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

/// Throws `message` as an `Error` into the running JavaScript.
pub(crate) fn throw(scope: &mut v8::PinScope<'_, '_>, message: &str) {
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
    let slow: [(&str, v8::FunctionCallback); 8] = [
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
    let mut buf = [MaybeUninit::<u8>::uninit(); KEY_BUF];
    let key = if key.is_string() {
        // Keys are short: read them into a stack buffer, not the heap.
        let text = key.cast::<v8::String>().to_rust_cow_lossy(scope, &mut buf);
        match text {
            Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
            Cow::Owned(text) => Cow::Owned(text.into_bytes()),
        }
    } else {
        match convert::value_bytes(scope, key) {
            Some(bytes) => Cow::Owned(bytes),
            None => {
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

// ---- get / getString / mget -------------------------------------------------

/// The deleter of a view's backing store: gives back the record's bytes.
unsafe extern "C" fn drop_lent(_data: *mut c_void, len: usize, owner: *mut c_void) {
    // SAFETY: `owner` is the `Box<Lent>` leaked by `lend`, dropped once here.
    let lent = unsafe { Box::from_raw(owner.cast::<Lent>()) };
    lent.counter.fetch_sub(len, Ordering::Relaxed);
}

/// A record's bytes kept alive while JavaScript holds a view of them.
struct Lent {
    _bytes: Bytes,
    counter: Arc<AtomicUsize>,
}

/// An `ArrayBuffer` over `bytes` without copying them.
fn lend<'s>(scope: &mut v8::PinScope<'s, '_>, bytes: Bytes) -> v8::Local<'s, v8::ArrayBuffer> {
    let Some(state) = scope.get_slot::<CallState>() else {
        return v8::ArrayBuffer::new(scope, 0);
    };
    let counter = state.lent.clone();
    state
        .counters
        .zero_copy_views
        .fetch_add(1, Ordering::Relaxed);
    counter.fetch_add(bytes.len(), Ordering::Relaxed);
    let (ptr, len) = (bytes.as_ptr(), bytes.len());
    let owner = Box::into_raw(Box::new(Lent {
        _bytes: bytes,
        counter,
    }));
    // SAFETY: `ptr..ptr+len` is owned by the `Bytes` inside `owner`, which
    // lives until V8 calls `drop_lent`. JavaScript only sees it through
    // `transferToImmutable()`, so it is never written.
    let store = unsafe {
        v8::ArrayBuffer::new_backing_store_from_ptr(
            ptr as *mut c_void,
            len,
            drop_lent,
            owner.cast(),
        )
    };
    v8::ArrayBuffer::with_backing_store(scope, &store.make_shared())
}

fn get(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    rv: v8::ReturnValue<v8::Value>,
) {
    read_value(scope, args, rv, |scope, bytes| lend(scope, bytes).into());
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

fn mget(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    count_slow(scope);
    let keys = args.get(0);
    if !keys.is_array() {
        return throw(scope, "ERR kiln.mget takes keys");
    }
    let keys: v8::Local<v8::Array> = keys.cast();
    let mut values = Vec::with_capacity(keys.length() as usize);
    for i in 0..keys.length() {
        let key = keys
            .get_index(scope, i)
            .unwrap_or_else(|| v8::undefined(scope).into());
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
    let Some(value) = convert::value_bytes(scope, value) else {
        return throw(scope, "ERR values must be strings, numbers or Uint8Arrays");
    };
    let value = Bytes::from(value);
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
    let delta = if by.is_big_int() {
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

fn call(
    scope: &mut v8::PinScope<'_, '_>,
    args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    count_slow(scope);
    let mut command = Vec::with_capacity(args.length() as usize);
    for i in 0..args.length() {
        let Some(arg) = convert::value_bytes(scope, args.get(i)) else {
            return throw(
                scope,
                "ERR Command arguments must be strings, numbers or Uint8Arrays",
            );
        };
        command.push(Bytes::from(arg));
    }
    if command.is_empty() {
        return throw(
            scope,
            "ERR Please specify at least one argument for this call",
        );
    }
    let reply = match host(scope).and_then(|host| guarded(|| Ok(host.call(&command)))) {
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
    rv.set(raw_list(scope, |state| &state.keys).into());
}

fn raw_args(
    scope: &mut v8::PinScope<'_, '_>,
    _args: v8::FunctionCallbackArguments,
    mut rv: v8::ReturnValue<v8::Value>,
) {
    rv.set(raw_list(scope, |state| &state.args).into());
}

/// The running call's keys or args as `Uint8Array`s (copies: they may be
/// kept).
fn raw_list<'s>(
    scope: &mut v8::PinScope<'s, '_>,
    pick: fn(&CallState) -> &Vec<RawSlice>,
) -> v8::Local<'s, v8::Array> {
    let items: Vec<Vec<u8>> = scope
        .get_slot::<CallState>()
        .filter(|state| state.host.is_some())
        // SAFETY: a call is running (`host` is set), so `begin`'s contract
        // keeps its keys and args alive.
        .map(|state| {
            pick(state)
                .iter()
                .map(|raw| unsafe { raw.get() }.to_vec())
                .collect()
        })
        .unwrap_or_default();
    let values: Vec<v8::Local<v8::Value>> = items
        .into_iter()
        .map(|item| {
            let len = item.len();
            let store = v8::ArrayBuffer::new_backing_store_from_vec(item).make_shared();
            let buffer = v8::ArrayBuffer::with_backing_store(scope, &store);
            v8::Uint8Array::new(scope, buffer, 0, len)
                .expect("a Uint8Array over a fresh buffer")
                .into()
        })
        .collect();
    v8::Array::new_with_elements(scope, &values)
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
