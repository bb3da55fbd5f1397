//! kiln-bench's hot path allocates nothing: the allocations of a whole run,
//! counted by a global allocator, do not grow with the number of requests.
//! (A separate test binary, so the counting allocator sees only this test.)

mod common;

use clap::Parser;
use common::TestServer;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

/// Allocations made by one kiln-bench run of `requests` per client.
fn allocations(server: &TestServer, requests: u64, extra: &str) -> u64 {
    let line = format!(
        "kiln-bench --hide-progress --hide-histogram -p {} -t 2 -c 10 -n {requests} \
         --ratio=1:3 --key-maximum=1000 --data-size-range=10-200 --expiry-range=100-200 {extra}",
        server.addr.port()
    );
    let args = kiln_bench::BenchArgs::try_parse_from(line.split_whitespace()).unwrap();
    let mut out = Vec::with_capacity(64 * 1024);
    let before = counting_alloc::allocations();
    kiln_bench::run_all(&args, &mut out).expect("benchmark runs");
    counting_alloc::allocations() - before
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
