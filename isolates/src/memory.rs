//! An isolate's memory caps: the near-heap-limit guard that stops a call
//! instead of letting V8 abort the process, and the counting allocator that
//! holds `ArrayBuffer`s to a budget.

use std::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Shared with V8's callbacks: set when the heap limit was hit.
pub(crate) struct HeapGuard {
    handle: v8::IsolateHandle,
    hit: AtomicBool,
    /// What each time V8 reaches the limit adds to it; see
    /// [`near_heap_limit`].
    grant: usize,
}

/// The `ArrayBuffer` allocator's budget.
pub(crate) struct BufferBudget {
    used: AtomicUsize,
    cap: usize,
}

/// The largest single object V8 allocates: a string of `String::kMaxLength`
/// (2^29 - 24) two-byte characters, a `FixedArray` or dictionary of its
/// maximum length. V8 calls [`near_heap_limit`] once for an allocation that
/// failed and then retries it once; if the new limit still cannot hold it,
/// V8 aborts the process (`CALL_AND_RETRY_LAST`). So every grant must be
/// able to hold this.
const LARGEST_V8_OBJECT: usize = 1 << 30;

/// Near the heap limit: mark the isolate (it is dropped after the call),
/// stop the JavaScript, and raise the limit by a fixed grant so V8 can
/// unwind, or finish an allocation already under way, instead of aborting
/// the process.
///
/// The grant is a limit, not memory: a plain JavaScript loop stops at its
/// next interrupt check, so its heap stays near the cap. Only C++ builtins
/// that never check for termination keep allocating, and each further hit
/// adds the same grant again (linear, never doubling). A smaller grant
/// (32 MiB was tried) made V8 abort the process on `Array.from({length:
/// 3e7})`, `toReversed`, `with`, spreading `keys()` and dictionary-backed
/// `fill`, each of which asks for one object of hundreds of MiB right after
/// the first hit.
extern "C" fn near_heap_limit(data: *mut c_void, current: usize, _initial: usize) -> usize {
    // SAFETY: `data` is the `HeapGuard` boxed in the `TenantIsolate`, which
    // outlives its isolate's callbacks.
    let guard = unsafe { &*data.cast::<HeapGuard>() };
    guard.hit.store(true, Ordering::Relaxed);
    guard.handle.terminate_execution();
    current.saturating_add(guard.grant)
}

unsafe extern "C" fn buffer_alloc(budget: &BufferBudget, len: usize) -> *mut c_void {
    if !reserve(budget, len) {
        return std::ptr::null_mut();
    }
    // SAFETY: plain calloc; freed by `buffer_free`.
    unsafe { libc::calloc(len.max(1), 1) }
}

unsafe extern "C" fn buffer_alloc_uninit(budget: &BufferBudget, len: usize) -> *mut c_void {
    if !reserve(budget, len) {
        return std::ptr::null_mut();
    }
    // SAFETY: plain malloc; freed by `buffer_free`.
    unsafe { libc::malloc(len.max(1)) }
}

unsafe extern "C" fn buffer_free(budget: &BufferBudget, data: *mut c_void, len: usize) {
    budget.used.fetch_sub(len, Ordering::Relaxed);
    // SAFETY: `data` came from `buffer_alloc`/`buffer_alloc_uninit`.
    unsafe { libc::free(data) }
}

unsafe extern "C" fn buffer_drop(budget: *const BufferBudget) {
    // SAFETY: the allocator holds one `Arc` reference, released here.
    drop(unsafe { Arc::from_raw(budget) });
}

static BUFFER_VTABLE: v8::RustAllocatorVtable<BufferBudget> = v8::RustAllocatorVtable {
    allocate: buffer_alloc,
    allocate_uninitialized: buffer_alloc_uninit,
    free: buffer_free,
    drop: buffer_drop,
};

fn reserve(budget: &BufferBudget, len: usize) -> bool {
    budget
        .used
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
            used.checked_add(len).filter(|n| *n <= budget.cap)
        })
        .is_ok()
}

impl HeapGuard {
    /// A guard registered as `isolate`'s near-heap-limit callback, for a
    /// heap capped at `cap` bytes. The box must outlive the isolate's
    /// callbacks (the isolate's owner keeps it).
    pub(crate) fn install(isolate: &mut v8::OwnedIsolate, cap: usize) -> Box<HeapGuard> {
        // Room to unwind on top of the largest single allocation.
        let unwind = (cap / 2).max(16 << 20);
        let guard = Box::new(HeapGuard {
            handle: isolate.thread_safe_handle(),
            hit: AtomicBool::new(false),
            grant: LARGEST_V8_OBJECT + unwind,
        });
        isolate.add_near_heap_limit_callback(
            near_heap_limit,
            &*guard as *const HeapGuard as *mut c_void,
        );
        guard
    }

    /// Whether the heap limit was reached.
    pub(crate) fn was_hit(&self) -> bool {
        self.hit.load(Ordering::Relaxed)
    }
}

impl BufferBudget {
    /// A budget of `cap` bytes and a V8 allocator that keeps to it.
    pub(crate) fn allocator(cap: usize) -> (Arc<BufferBudget>, v8::UniqueRef<v8::Allocator>) {
        let budget = Arc::new(BufferBudget {
            used: AtomicUsize::new(0),
            cap,
        });
        // SAFETY: the allocator owns one reference to `budget`, released by
        // `buffer_drop`; the vtable matches `BufferBudget`.
        let allocator =
            unsafe { v8::new_rust_allocator(Arc::into_raw(budget.clone()), &BUFFER_VTABLE) };
        (budget, allocator)
    }

    /// Bytes allocated now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}
