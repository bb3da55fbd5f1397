//! kiln-bench's hot path allocates nothing: the allocations of a whole run,
//! counted by a global allocator, do not grow with the number of requests.
//! (A separate test binary, so the counting allocator sees only this test.)

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use common::TestServer;

/// Counts allocations, then defers to the system allocator.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed unchanged to `System`, which upholds the contract.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by one kiln-bench run of `requests` per client.
fn allocations(server: &TestServer, requests: u64, extra: &str) -> u64 {
    let line = format!(
        "kiln-bench --hide-progress --hide-histogram -p {} -t 2 -c 10 -n {requests} \
         --ratio=1:3 --key-maximum=1000 --data-size-range=10-200 --expiry-range=100-200 {extra}",
        server.addr.port()
    );
    let args = kiln_bench::BenchArgs::try_parse_from(line.split_whitespace()).unwrap();
    let mut out = Vec::with_capacity(64 * 1024);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    kiln_bench::run_all(&args, &mut out).expect("benchmark runs");
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn allocations_do_not_grow_with_requests() {
    let server = TestServer::start();
    for extra in ["--pipeline=1", "--pipeline=8"] {
        allocations(&server, 50, extra); // warm lazily initialised statics
        let small = allocations(&server, 100, extra);
        let large = allocations(&server, 2_000, extra);
        // 2 × 10 × 1,900 more requests; allow a few buffer regrowths.
        assert!(
            large <= small + 100,
            "{extra}: {small} allocations for 2,000 requests, {large} for 40,000"
        );
    }
}
