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
}

/// The `ArrayBuffer` allocator's budget.
pub(crate) struct BufferBudget {
    used: AtomicUsize,
    cap: usize,
}

/// Near the heap limit: stop the JavaScript, mark the isolate, and give V8
/// room to unwind rather than abort the process.
extern "C" fn near_heap_limit(data: *mut c_void, current: usize, _initial: usize) -> usize {
    // SAFETY: `data` is the `HeapGuard` boxed in the `TenantIsolate`, which
    // outlives its isolate's callbacks.
    let guard = unsafe { &*data.cast::<HeapGuard>() };
    guard.hit.store(true, Ordering::Relaxed);
    guard.handle.terminate_execution();
    current.saturating_mul(2)
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
    /// A guard registered as `isolate`'s near-heap-limit callback. The box
    /// must outlive the isolate's callbacks (the isolate's owner keeps it).
    pub(crate) fn install(isolate: &mut v8::OwnedIsolate) -> Box<HeapGuard> {
        let guard = Box::new(HeapGuard {
            handle: isolate.thread_safe_handle(),
            hit: AtomicBool::new(false),
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
