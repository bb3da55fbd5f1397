//! The hostile-function fuzzer: library sources built from a grammar of
//! hostile pieces — patched built-ins, throws of odd values, sparse and
//! huge array-likes, Proxies, getters and `toString`/`valueOf`/
//! `Symbol.toPrimitive` traps, huge strings and typed arrays,
//! WebAssembly, `Atomics.wait`, promise and microtask loops — loaded and
//! called through the function runtime, as the server does.
//!
//! Each case asserts that the process survives, that the load and every
//! call end within their budget plus a bounded slack, that resident
//! memory stays within the caps plus a bounded slack, and that another
//! tenant on the same runtime is still served afterwards. A bounded
//! proptest, so it runs with every `cargo test` (and so in CI), from a
//! fixed seed, so a run never fails on a case no earlier run tried:
//! `KILN_HOSTILE_CASES=N` runs more cases, `KILN_HOSTILE_SEED=N` others.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_functions::{
    Call, CallOptions, CpuShare, FunctionRuntime, Limits, Registry, RegistryLimits, RuntimeLimits,
    TenantId,
};
use kiln_isolates::MemoryHost;
use kiln_net::Reply;
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, RngSeed};

/// The well-behaved tenant and the hostile one.
const GOOD: TenantId = TenantId::new(1, 0);
const EVIL: TenantId = TenantId::new(2, 0);
const CALL_BUDGET: Duration = Duration::from_millis(50);
const LOAD_BUDGET: Duration = Duration::from_millis(100);
const HEAP_CAP: usize = 32 << 20;
/// How far past its budget a call or load may end: the watchdog's tick,
/// a host operation in flight, and a loaded CI machine.
const TIME_SLACK: Duration = Duration::from_millis(1500);
/// Resident memory allowed above what the process held before the cases.
const RSS_SLACK: u64 = 768 << 20;

/// Top-level statements: built-ins patched before the host uses them.
const PRELUDES: &[&str] = &[
    "",
    "Array.from = () => { for (;;) {} };",
    "ArrayBuffer.prototype.transferToImmutable = function () { return this; };",
    "Object.defineProperty(Array.prototype, Symbol.iterator, { get() { for (;;) {} } });",
    "RegExp.prototype.exec = () => null; RegExp.prototype.test = () => true;",
    "Set.prototype.has = () => true; Map.prototype.get = () => { for (;;) {} };",
    "globalThis.String = function () { for (;;) {} };",
    "Object.prototype.toString = function () { for (;;) {} };",
    "Object.defineProperty(Object.prototype, 'flags', { get() { for (;;) {} } });",
    "Error.prototype.toString = function () { for (;;) {} };",
    "Promise.prototype.then = function () { for (;;) {} };",
    "Function.prototype.call = function () { for (;;) {} };",
    "Object.getOwnPropertyDescriptor = Object.getPrototypeOf = Reflect.apply = () => { for (;;) {} };",
    "Object.defineProperty(Object.prototype, 'length', { get() { return 2 ** 40; } });",
];

/// Values a function returns, throws or passes to the host.
const VALUES: &[&str] = &[
    "(() => { const a = []; a.length = 2 ** 32 - 1; return a; })()",
    "(() => { const a = []; a.length = 6e7; return a; })()",
    "new Proxy([], { get(t, k) { return k === 'length' ? 2 ** 32 - 1 : 1; } })",
    "new Proxy({}, { ownKeys() { for (;;) {} } })",
    "({ get x() { for (;;) {} } })",
    "({ toString() { for (;;) {} }, valueOf() { for (;;) {} } })",
    "({ [Symbol.toPrimitive]() { for (;;) {} } })",
    "'x'.repeat(2 ** 27)",
    "new Uint8Array(2 ** 30)",
    "(() => { const a = [1]; a[0] = a; return a; })()",
    "new Map([[{ toString() { for (;;) {} } }, 1]])",
    "Symbol('s')",
    "() => 1",
    "10n ** 30n",
    "(typeof WebAssembly === 'undefined' ? 'no wasm' : new WebAssembly.Memory({ initial: 30000 }))",
    "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000)",
    "new Array(2e7).fill(0)",
    "Array.from({ length: 2 ** 32 - 1 })",
    // V8's C++ walks of a length never checked for termination: this one
    // held its core for more than 10 minutes, the sort aborted the process.
    "Array.prototype.indexOf.call({ length: 2 ** 40 }, 1)",
    "Array.prototype.sort.call({ length: 2 ** 28 })",
    "({ length: 2 ** 40, [Symbol.isConcatSpreadable]: true })",
    // 1 to the guard's read of its length, 2^40 to any later one.
    "(() => { let n = 0; return { get length() { return n++ ? 2 ** 40 : 1; } }; })()",
    "'x'.repeat(2 ** 28).split('')",
    "new Uint8Array(2 ** 24).toLocaleString()",
];

/// How a value reaches the boundary.
const USES: &[&str] = &[
    "return V;",
    "throw V;",
    "return kiln.mget(...V);",
    "return kiln.mget(V);",
    "return kiln.call('SET', 'k', V);",
    "return kiln.call('MSET', ...V);",
    "kiln.put('k', V); return kiln.get('k');",
    "return kiln.getString(V);",
    "return Promise.resolve(V);",
    "return Promise.reject(V);",
    "(function loop() { return Promise.resolve().then(loop); })(); return V;",
    "const view = kiln.get('seed'); if (view) view[0] = 0; return V;",
    "return Array.prototype.forEach.call(V, (x) => x);",
    "return Array.prototype.unshift.call(V, 1);",
    "return Array.prototype.join.call(V, '');",
    "return [].concat(V, V).length;",
    "return [V].flat(Infinity).length;",
];

/// A library's top level may also end badly.
const ENDINGS: &[&str] = &[
    "",
    "",
    "throw { toString() { for (;;) {} } };",
    "throw Symbol('top');",
    "throw new Proxy({}, { get() { for (;;) {} } });",
    "for (;;) {}",
];

fn library(prelude: usize, value: usize, use_: usize, ending: usize) -> String {
    let body = USES[use_].replace('V', &format!("({})", VALUES[value]));
    format!(
        "#!js name=hostile\n{}\nkiln.registerFunction('f', (keys, args) => {{ {body} }});\n{}",
        PRELUDES[prelude], ENDINGS[ending]
    )
}

fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}

struct Bed {
    runtime: FunctionRuntime,
    host: MemoryHost,
    baseline_rss: u64,
}

impl Bed {
    fn new() -> Bed {
        let registry = Registry::in_memory(RegistryLimits::default());
        registry.bind(GOOD, "good");
        registry.bind(EVIL, "evil");
        let registry = Arc::new(registry);
        let mut runtime = FunctionRuntime::new(registry, RuntimeLimits::default());
        let good = b"#!js name=good\nkiln.registerFunction('ok', () => 'ok');";
        let loaded = runtime.load(GOOD, limits(), CpuShare::WHOLE_CORE, good, false);
        assert_eq!(loaded, Reply::bulk_from("good"));
        let mut host = MemoryHost::default();
        host.data
            .insert(b"seed".to_vec(), bytes::Bytes::from_static(b"seed"));
        let mut bed = Bed {
            runtime,
            host,
            baseline_rss: 0,
        };
        assert_eq!(bed.call(GOOD, "ok"), Reply::bulk_from("ok"));
        bed.baseline_rss = rss();
        bed
    }

    fn call(&mut self, tenant: TenantId, function: &str) -> Reply {
        let libraries = self.runtime.registry().tenant(tenant);
        let call = Call {
            tenant,
            libraries: &libraries,
            limits: limits(),
            share: CpuShare::WHOLE_CORE,
            function,
            keys: &[],
            args: &[],
            options: CallOptions::default(),
        };
        self.runtime.call(call, &mut self.host)
    }
}

fn limits() -> Limits {
    Limits {
        cpu_budget: CALL_BUDGET,
        load_budget: LOAD_BUDGET,
        heap_bytes: HEAP_CAP,
        ..Limits::default()
    }
}

fn cases() -> u32 {
    std::env::var("KILN_HOSTILE_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

/// The seed of the cases' random choices ("kiln" by default).
fn seed() -> u64 {
    std::env::var("KILN_HOSTILE_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x6b69_6c6e)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed()),
        ..ProptestConfig::default()
    })]

    #[test]
    fn hostile_libraries_never_take_the_runtime_down(
        prelude in 0..PRELUDES.len(),
        value in 0..VALUES.len(),
        use_ in 0..USES.len(),
        ending in 0..ENDINGS.len(),
    ) {
        thread_local! {
            static BED: std::cell::RefCell<Option<Bed>> = const { std::cell::RefCell::new(None) };
        }
        BED.with(|bed| {
            let mut bed = bed.borrow_mut();
            let bed = bed.get_or_insert_with(Bed::new);
            let code = library(prelude, value, use_, ending);
            let started = Instant::now();
            let loaded = bed.runtime.load(EVIL, limits(), CpuShare::WHOLE_CORE, code.as_bytes(), true);
            let took = started.elapsed();
            prop_assert!(took <= LOAD_BUDGET + TIME_SLACK, "load took {took:?}: {code}");
            if loaded == Reply::bulk_from("hostile") {
                for _ in 0..2 {
                    let started = Instant::now();
                    let reply = bed.call(EVIL, "f");
                    let took = started.elapsed();
                    // An install of the library (its top level again) and
                    // the call itself, each within its budget.
                    prop_assert!(
                        took <= LOAD_BUDGET + CALL_BUDGET + TIME_SLACK,
                        "call took {took:?}: {code} -> {reply:?}"
                    );
                }
            }
            let rss = rss();
            prop_assert!(
                rss <= bed.baseline_rss + RSS_SLACK,
                "resident memory {} MiB (from {} MiB): {code}",
                rss >> 20,
                bed.baseline_rss >> 20
            );
            prop_assert_eq!(bed.call(GOOD, "ok"), Reply::bulk_from("ok"), "neighbour served after: {}", code);
            prop_assert_eq!(bed.host.data.get(&b"seed"[..]).map(|v| &v[..]), Some(&b"seed"[..]), "a view wrote a record: {}", code);
            Ok(())
        })?;
    }
}
