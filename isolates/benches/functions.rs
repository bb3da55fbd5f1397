//! Storage-function costs on one core, without the network:
//!
//! - `call/trivial`: Rust → JavaScript → Rust for a function that returns a
//!   constant (the floor under every FCALL);
//! - `host/exists_{fast,slow}`: one `kiln.exists` from optimized JavaScript,
//!   through V8's fast API path and through the generic callback;
//! - `host/get_view` vs `host/get_string`: reading a 4 KiB value as a
//!   zero-copy view and as a copied string;
//! - `isolate/cold_start`: a tenant isolate from the snapshot with one
//!   library installed, without and with its code cache.
//!
//! Run: `cargo bench -p kiln-isolates --bench functions`.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use kiln_isolates::{CallOptions, LibrarySource, Limits, MemoryHost, TenantIsolate, Watch};
use kiln_store::TenantId;

const LIBRARY: &str = "#!js name=bench\n\
    kiln.registerFunction('noop', () => 1);\n\
    kiln.registerFunction('exists', (keys, args) => {\n\
      let n = 0;\n\
      for (let i = 0; i < 1000; i++) if (kiln.exists(keys[0])) n++;\n\
      return n;\n\
    });\n\
    kiln.registerFunction('view', (keys) => { let n = 0; for (let i = 0; i < 100; i++) n += kiln.get(keys[0]).length; return n; });\n\
    kiln.registerFunction('string', (keys) => { let n = 0; for (let i = 0; i < 100; i++) n += kiln.getString(keys[0]).length; return n; });";

fn isolate(fast_api: bool) -> TenantIsolate {
    // The benchmark's loops of 1000 host calls are not what the default
    // 5 ms call budget is for (a machine busy with the benchmark's own
    // warm-up can push a cold first call past it).
    let limits = Limits {
        cpu_budget: std::time::Duration::from_secs(10),
        ..Limits::default()
    };
    let mut isolate =
        TenantIsolate::with_fast_api(TenantId::new(1, 0), limits, Watch::new(), fast_api);
    let source = LibrarySource {
        name: "bench",
        code: LIBRARY,
        code_cache: None,
    };
    isolate
        .install(&[source], 1)
        .expect("the benchmark library loads");
    isolate
}

fn calls(c: &mut Criterion) {
    let mut host = MemoryHost::default();
    host.data
        .insert(b"k".to_vec(), Bytes::from(vec![b'x'; 4096]));
    let key: &[u8] = b"k";
    let mut fast = isolate(true);
    let mut slow = isolate(false);
    let run = |iso: &mut TenantIsolate, name: &str, host: &mut MemoryHost| {
        black_box(
            iso.call(name, &[key], &[], host, CallOptions::default())
                .unwrap(),
        )
    };
    c.bench_function("call/trivial", |b| {
        b.iter(|| run(&mut fast, "noop", &mut host))
    });
    // 1000 host calls per iteration: divide by 1000 for one call.
    c.bench_function("host/exists_fast_x1000", |b| {
        b.iter(|| run(&mut fast, "exists", &mut host))
    });
    c.bench_function("host/exists_slow_x1000", |b| {
        b.iter(|| run(&mut slow, "exists", &mut host))
    });
    // 100 reads of a 4 KiB value per iteration.
    c.bench_function("host/get_view_4k_x100", |b| {
        b.iter(|| run(&mut fast, "view", &mut host))
    });
    c.bench_function("host/get_string_4k_x100", |b| {
        b.iter(|| run(&mut fast, "string", &mut host))
    });
}

fn cold_start(c: &mut Criterion) {
    let watch = Watch::new();
    let cache = isolate(true)
        .install(
            &[LibrarySource {
                name: "bench",
                code: LIBRARY,
                code_cache: None,
            }],
            2,
        )
        .unwrap()[0]
        .code_cache
        .clone();
    let mut group = c.benchmark_group("isolate");
    group.sample_size(30);
    group.bench_function("cold_start", |b| {
        b.iter(|| {
            let mut iso = TenantIsolate::new(TenantId::new(1, 0), Limits::default(), watch.clone());
            iso.install(
                &[LibrarySource {
                    name: "bench",
                    code: LIBRARY,
                    code_cache: None,
                }],
                1,
            )
            .unwrap();
            black_box(iso)
        })
    });
    group.bench_function("cold_start_code_cache", |b| {
        b.iter(|| {
            let mut iso = TenantIsolate::new(TenantId::new(1, 0), Limits::default(), watch.clone());
            let source = LibrarySource {
                name: "bench",
                code: LIBRARY,
                code_cache: cache.as_deref(),
            };
            iso.install(&[source], 1).unwrap();
            black_box(iso)
        })
    });
    group.finish();
}

criterion_group!(benches, calls, cold_start);
criterion_main!(benches);
