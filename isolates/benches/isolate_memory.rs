//! Resident memory of idle tenant isolates: creates 200 isolates, each with
//! a small library installed and called once, and prints the growth of the
//! process's RSS and of V8's heap per isolate.
//!
//! Run: `cargo bench -p kiln-isolates --bench isolate_memory`.

use kiln_isolates::{CallOptions, LibrarySource, Limits, MemoryHost, TenantIsolate, Watch};
use kiln_store::TenantId;

const ISOLATES: usize = 200;
const LIBRARY: &str = "#!js name=idle\nkiln.registerFunction('hit', (keys) => kiln.incr(keys[0]));";

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    // Warm V8 and the snapshot so one-time costs are not counted per isolate.
    let watch = Watch::new();
    drop(TenantIsolate::new(
        TenantId::DEFAULT,
        Limits::default(),
        watch.clone(),
    ));
    let before = rss_bytes();
    let mut host = MemoryHost::default();
    let mut heap = 0;
    let isolates: Vec<TenantIsolate> = (0..ISOLATES)
        .map(|i| {
            let mut iso = TenantIsolate::new(TenantId::new(i, 0), Limits::default(), watch.clone());
            iso.install(
                &[LibrarySource {
                    name: "idle",
                    code: LIBRARY,
                    code_cache: None,
                }],
                1,
            )
            .unwrap();
            iso.call("hit", &[b"k"], &[], &mut host, CallOptions::default())
                .unwrap();
            heap += iso.heap_size();
            iso
        })
        .collect();
    let after = rss_bytes();
    println!(
        "{ISOLATES} idle isolates: RSS +{:.2} MiB per isolate, V8 heap {:.2} MiB per isolate",
        (after.saturating_sub(before)) as f64 / ISOLATES as f64 / (1 << 20) as f64,
        heap as f64 / ISOLATES as f64 / (1 << 20) as f64,
    );
    drop(isolates);
}
