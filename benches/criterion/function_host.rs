//! A storage function's host calls on one core, through the real command
//! path (`kiln.call` runs the command table's HGET as the tenant, the
//! same way a client's HGET runs) against `kiln.getString`'s direct read,
//! without the network: `FCALL` of a function that makes 100 calls.
//!
//! Run: `cargo bench --features fuzzing --bench function_host`
//! (the `fuzzing` feature exposes the command test bed).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kiln::commands::testbed::TestBed;

const LIBRARY: &str = "#!js name=hostbench\n\
    kiln.registerFunction('hget100', (keys) => { let n = 0; for (let i = 0; i < 100; i++) n += kiln.call('HGET', keys[0], 'field').length; return n; });\n\
    kiln.registerFunction('get100', (keys) => { let n = 0; for (let i = 0; i < 100; i++) n += kiln.getString(keys[0]).length; return n; });\n\
    kiln.registerFunction('lindex100', (keys) => { let n = 0; for (let i = 0; i < 100; i++) n += kiln.call('LINDEX', keys[0], '5').length; return n; });";

fn host_calls(c: &mut Criterion) {
    let mut bed = TestBed::new();
    let loaded = bed.run(&["FUNCTION", "LOAD", LIBRARY]);
    assert_eq!(loaded, TestBed::bulk("hostbench"), "the library loads");
    let value = "v".repeat(64);
    bed.run(&["SET", "{b}s", &value]);
    bed.run(&["HSET", "{b}h", "field", &value, "other", "x"]);
    let items: Vec<String> = (0..10).map(|i| format!("{value}{i}")).collect();
    let mut push = vec!["RPUSH", "{b}l"];
    push.extend(items.iter().map(String::as_str));
    bed.run(&push);
    for (name, function, key) in [
        ("fcall/get_string_x100", "get100", "{b}s"),
        ("fcall/call_hget_x100", "hget100", "{b}h"),
        ("fcall/call_lindex_x100", "lindex100", "{b}l"),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| black_box(bed.run(&["FCALL", function, "1", key])))
        });
    }
}

criterion_group!(benches, host_calls);
criterion_main!(benches);
