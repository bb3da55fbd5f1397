//! Hostile tenants: every value from JavaScript (a length, a getter, a
//! patched built-in, a Proxy, a `toString` trap) is an attack on the host.
//! Each test here failed (or aborted the process, or hung) before the
//! isolate treated them so.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kiln_net::Reply;

use super::{T1, bulk, call, host, isolate, isolate_with, test_limits};
use crate::{
    CallError, CallOptions, Host, HostError, LibrarySource, Limits, LoadError, MemoryHost,
    TenantIsolate, Watch,
};

fn library<'a>(name: &'a str, code: &'a str) -> LibrarySource<'a> {
    LibrarySource {
        name,
        code,
        code_cache: None,
    }
}

// ---- 1. allocations sized by tenant input ------------------------------------

#[test]
fn mget_of_a_huge_sparse_array_is_refused_not_allocated() {
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('list', () => { const a = []; a.length = 2 ** 32 - 1; return kiln.mget(a); });\n\
         kiln.registerFunction('spread', () => { const a = []; a.length = 2 ** 32 - 1; return kiln.mget(...a); });\n\
         kiln.registerFunction('ok', () => kiln.mget(['a', 'b']));",
    );
    let mut host = host();
    let started = Instant::now();
    let list = call(&mut iso, &mut host, "list", &[], &[]).unwrap();
    assert_eq!(
        list,
        Reply::error("ERR kiln.mget takes at most 1048576 keys")
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(!iso.is_condemned());
    assert_eq!(
        call(&mut iso, &mut host, "ok", &[], &[]).unwrap(),
        Reply::Array(vec![Reply::Nil, Reply::Nil])
    );
    // The spread is the tenant's own code: V8 runs out of heap making 2^32
    // arguments (or refuses them), and the process lives on.
    let started = Instant::now();
    match call(&mut iso, &mut host, "spread", &[], &[]) {
        Err(CallError::Heap { .. }) => assert!(iso.is_condemned()),
        Ok(reply) => assert!(reply.is_error(), "{reply:?}"),
        Err(other) => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_huge_sparse_reply_is_an_error_within_the_reply_limit() {
    let mut iso = isolate(
        "#!js name=lib\n\
         const sparse = (n) => { const a = []; a.length = n; return a; };\n\
         kiln.registerFunction('huge', () => sparse(2 ** 32 - 1));\n\
         kiln.registerFunction('holes', () => sparse(6e7));\n\
         kiln.registerFunction('nested', () => [[sparse(2e7)]]);\n\
         kiln.registerFunction('long', () => 'x'.repeat(2 ** 29 - 100));",
    );
    let mut host = host();
    for name in ["huge", "holes", "nested", "long"] {
        let started = Instant::now();
        let reply = call(&mut iso, &mut host, name, &[], &[]).unwrap();
        assert_eq!(
            reply,
            Reply::error("ERR Function reply exceeds the 64 MiB reply limit"),
            "{name}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{name} took {:?}",
            started.elapsed()
        );
    }
    assert!(!iso.is_condemned());
    let limits = Limits {
        reply_bytes: 8 << 20,
        ..test_limits()
    };
    let mut iso = isolate_with(
        "#!js name=lib\n\
         kiln.registerFunction('map', () => { const m = new Map(); for (let i = 0; i < 3e5; i++) m.set(i, i); return m; });\n\
         kiln.registerFunction('object', () => { const o = {}; for (let i = 0; i < 3e5; i++) o['k' + i] = i; return o; });",
        limits,
    );
    for name in ["map", "object"] {
        assert_eq!(
            call(&mut iso, &mut host, name, &[], &[]).unwrap(),
            Reply::error("ERR Function reply exceeds the 8 MiB reply limit"),
            "{name}"
        );
    }
}

#[test]
fn the_reply_limit_is_a_limit() {
    let limits = Limits {
        reply_bytes: 4096,
        ..test_limits()
    };
    let mut iso = isolate_with(
        "#!js name=lib\n\
         kiln.registerFunction('f', (keys, args) => 'x'.repeat(Number(args[0])));",
        limits,
    );
    let mut host = host();
    assert_eq!(
        call(&mut iso, &mut host, "f", &[], &["100"]).unwrap(),
        bulk(&"x".repeat(100))
    );
    assert_eq!(
        call(&mut iso, &mut host, "f", &[], &["5000"]).unwrap(),
        Reply::error("ERR Function reply exceeds the 4096 bytes reply limit")
    );
}

#[test]
fn a_terminated_getter_does_not_leave_rust_walking_the_array() {
    let limits = Limits {
        cpu_budget: Duration::from_millis(50),
        ..Limits::default()
    };
    let mut iso = isolate_with(
        "#!js name=lib\n\
         kiln.registerFunction('spin', () => {\n\
           const a = []; a.length = 2 ** 32 - 1;\n\
           Object.defineProperty(a, 5, { get() { for (;;) {} } });\n\
           return a;\n\
         });\n\
         kiln.registerFunction('proxy', () => new Proxy({}, { ownKeys() { for (;;) {} } }));\n\
         kiln.registerFunction('throws', () => ({ get a() { throw new Error('from a getter'); } }));\n\
         kiln.registerFunction('ok', () => 'fine');",
        limits,
    );
    let mut host = host();
    for name in ["spin", "proxy"] {
        let started = Instant::now();
        let error = call(&mut iso, &mut host, name, &[], &[]).unwrap_err();
        assert!(
            matches!(error, CallError::Timeout { .. }),
            "{name}: {error:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(1), "{name}");
    }
    assert_eq!(
        call(&mut iso, &mut host, "throws", &[], &[]).unwrap(),
        Reply::error("ERR from a getter")
    );
    assert_eq!(
        call(&mut iso, &mut host, "ok", &[], &[]).unwrap(),
        bulk("fine")
    );
}

#[test]
fn a_huge_call_argument_is_refused_before_it_is_copied() {
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('huge', () => kiln.call('SET', 'k', 'x'.repeat(2 ** 29 - 100)));\n\
         kiln.registerFunction('put', () => kiln.put('k', 'x'.repeat(2 ** 29 - 100)));\n\
         kiln.registerFunction('key', () => kiln.exists('k'.repeat(2 ** 29 - 100)));",
    );
    let mut host = host();
    let started = Instant::now();
    assert_eq!(
        call(&mut iso, &mut host, "huge", &[], &[]).unwrap(),
        Reply::error("ERR kiln.call arguments exceed the 64 MiB limit of one call")
    );
    assert_eq!(
        call(&mut iso, &mut host, "put", &[], &[]).unwrap(),
        Reply::error("ERR a value exceeds the 64 MiB argument limit")
    );
    assert_eq!(
        call(&mut iso, &mut host, "key", &[], &[]).unwrap(),
        Reply::error("ERR a key exceeds the 64 MiB argument limit")
    );
    // `repeat` makes a rope; measuring its UTF-8 would have flattened it
    // into a 512 MiB string first.
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        iso.stats().used_heap < 64 << 20,
        "a 512 MiB string was made: {} bytes of heap in use",
        iso.stats().used_heap
    );
    assert!(host.data.is_empty());
}

#[test]
fn call_arguments_are_held_to_max_arg_bytes_each() {
    let limits = Limits {
        max_arg_bytes: 1024,
        ..test_limits()
    };
    let mut iso = isolate_with(
        "#!js name=lib\n\
         kiln.registerFunction('f', (keys, args) => kiln.call('STRLEN', 'x'.repeat(Number(args[0]))));\n\
         kiln.registerFunction('view', () => kiln.call('STRLEN', new Uint8Array(2048)));",
        limits,
    );
    let mut host = host();
    assert_eq!(
        call(&mut iso, &mut host, "f", &[], &["1024"]).unwrap(),
        Reply::Integer(0)
    );
    assert_eq!(
        call(&mut iso, &mut host, "f", &[], &["1025"]).unwrap(),
        Reply::error("ERR a kiln.call argument exceeds the 1024 bytes argument limit")
    );
    assert_eq!(
        call(&mut iso, &mut host, "view", &[], &[]).unwrap(),
        Reply::error("ERR a kiln.call argument exceeds the 1024 bytes argument limit")
    );
}

#[test]
fn raw_copies_are_held_to_the_heap_cap() {
    let limits = Limits {
        heap_bytes: 16 << 20,
        ..test_limits()
    };
    let mut iso = isolate_with(
        "#!js name=lib\n\
         kiln.registerFunction('hoard', () => {\n\
           const kept = [];\n\
           try { for (;;) kept.push(kiln.rawArgs()); } catch (e) { return [kept.length, e.message]; }\n\
         });",
        limits,
    );
    let arg = vec![7u8; 1 << 20];
    let reply = iso
        .call("hoard", &[], &[&arg], &mut host(), CallOptions::default())
        .unwrap();
    assert_eq!(
        reply,
        Reply::Array(vec![
            Reply::Integer(16),
            bulk("ERR kiln.rawKeys()/rawArgs() copies would exceed the 16 MiB heap limit"),
        ])
    );
}

// ---- 2. a load that never ends -----------------------------------------------

#[test]
fn a_thrown_value_is_described_without_running_its_code() {
    let limits = Limits {
        load_budget: Duration::from_millis(300),
        ..test_limits()
    };
    let mut iso = TenantIsolate::new(T1, limits, Watch::new());
    let cases = [
        "#!js name=lib\nthrow { toString() { for (;;) {} } };",
        "#!js name=lib\nthrow { [Symbol.toPrimitive]() { for (;;) {} }, valueOf() { for (;;) {} } };",
        "#!js name=lib\nconst e = new Error('x');\nObject.defineProperty(e, 'message', { get() { for (;;) {} } });\nthrow e;",
        "#!js name=lib\nthrow new Proxy({}, { get() { for (;;) {} }, getPrototypeOf() { for (;;) {} } });",
    ];
    for code in cases {
        let started = Instant::now();
        let error = iso.inspect(library("lib", code)).unwrap_err();
        assert!(
            matches!(&error, LoadError::Run { library, .. } if library == "lib"),
            "{code}: {error:?}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(200),
            "{code}: {:?}",
            started.elapsed()
        );
    }
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('obj', () => { throw { toString() { for (;;) {} } }; });\n\
         kiln.registerFunction('err', () => { const e = new Error('x'); Object.defineProperty(e, 'message', { get() { for (;;) {} } }); throw e; });\n\
         kiln.registerFunction('proto', () => { class E extends Error {} E.prototype.message = 'from the prototype'; throw new E(); });\n\
         kiln.registerFunction('rejects', () => Promise.reject({ toString() { for (;;) {} } }));",
    );
    let mut host = host();
    let started = Instant::now();
    assert_eq!(
        call(&mut iso, &mut host, "obj", &[], &[]).unwrap(),
        Reply::error("ERR [object Object]")
    );
    assert_eq!(
        call(&mut iso, &mut host, "err", &[], &[]).unwrap(),
        Reply::error("ERR Error")
    );
    assert_eq!(
        call(&mut iso, &mut host, "proto", &[], &[]).unwrap(),
        Reply::error("ERR from the prototype")
    );
    assert_eq!(
        call(&mut iso, &mut host, "rejects", &[], &[]).unwrap(),
        Reply::error("ERR [object Object]")
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn replaced_built_ins_do_not_reach_registration() {
    let mut iso = TenantIsolate::new(T1, test_limits(), Watch::new());
    let loaded = iso
        .inspect(library(
            "lib",
            "#!js name=lib\n\
             Array.from = () => { for (;;) {} };\n\
             Array.prototype[Symbol.iterator] = function* () { for (;;) {} };\n\
             Map.prototype.set = Set.prototype.has = RegExp.prototype.test = RegExp.prototype.exec = () => { for (;;) {} };\n\
             String = () => { for (;;) {} };\n\
             Object.defineProperty(Array.prototype, 0, { get() { for (;;) {} }, set(v) { for (;;) {} } });\n\
             kiln.registerFunction('f', () => 1, { flags: ['no-writes'], description: 'd' });",
        ))
        .unwrap();
    assert_eq!(loaded.functions.len(), 1);
    assert_eq!(loaded.functions[0].name, "f");
    assert!(loaded.functions[0].flags.no_writes);
    assert_eq!(loaded.functions[0].description.as_deref(), Some("d"));
}

#[test]
fn patched_iterators_do_not_reach_the_api() {
    let mut iso = isolate(
        "#!js name=lib\n\
         Array.prototype[Symbol.iterator] = function* () { yield 'evil'; };\n\
         Array.isArray = () => false;\n\
         kiln.registerFunction('f', (keys) => [kiln.mget(keys[0], keys[1]), kiln.mget([keys[0]]), kiln.call('STRLEN', keys[0]), kiln.incr('n')]);",
    );
    let mut host = host();
    host.data.insert(b"a".to_vec(), Bytes::from_static(b"va"));
    assert_eq!(
        call(&mut iso, &mut host, "f", &["a", "b"], &[]).unwrap(),
        Reply::Array(vec![
            Reply::Array(vec![bulk("va"), Reply::Nil]),
            Reply::Array(vec![bulk("va")]),
            Reply::Integer(2),
            Reply::Integer(1),
        ])
    );
}

#[test]
fn registration_checks_its_arguments_in_rust() {
    let mut iso = TenantIsolate::new(T1, test_limits(), Watch::new());
    let mut load = |code: &str| iso.inspect(library("lib", code));
    let message = |error: LoadError| match error {
        LoadError::Run { message, .. } => message,
        other => panic!("{other:?}"),
    };
    let long_name = format!(
        "#!js name=lib\nkiln.registerFunction('{}', () => 1);",
        "a".repeat(257)
    );
    assert!(message(load(&long_name).unwrap_err()).contains("Function names can only contain"));
    assert!(
        message(
            load("#!js name=lib\nkiln.registerFunction(new String('f'), () => 1);").unwrap_err()
        )
        .contains("Function names can only contain")
    );
    assert_eq!(
        message(
            load("#!js name=lib\nkiln.registerFunction('f', () => 1, { flags: 'no-writes' });")
                .unwrap_err()
        ),
        "kiln.registerFunction: flags must be an array of strings"
    );
    assert_eq!(
        message(load("#!js name=lib\nkiln.registerFunction('f', () => 1, { flags: [{ toString() { for (;;) {} } }] });").unwrap_err()),
        "Unknown flag given: [object Object]"
    );
    assert_eq!(
        message(
            load("#!js name=lib\nkiln.registerFunction('f', () => 1, { description: 5 });")
                .unwrap_err()
        ),
        "kiln.registerFunction: description must be a string of at most 65536 characters"
    );
    assert_eq!(
        message(load("#!js name=lib\nkiln.registerFunction('f', 1);").unwrap_err()),
        "kiln.registerFunction: the second argument must be a function"
    );
}

#[test]
fn one_load_budget_covers_every_library_of_a_command() {
    let limits = Limits {
        load_budget: Duration::from_millis(150),
        ..test_limits()
    };
    let slow = |name: &str| {
        format!(
            "#!js name={name}\nconst t = Date.now(); while (Date.now() - t < 100) {{}}\nkiln.registerFunction('{name}', () => 1);"
        )
    };
    let (a, b) = (slow("a"), slow("b"));
    let libraries = [library("a", &a), library("b", &b)];
    let mut iso = TenantIsolate::new(T1, limits, Watch::new());
    let started = Instant::now();
    let error = iso.inspect_all(&libraries).unwrap_err();
    assert_eq!(
        error,
        LoadError::Timeout {
            library: "b".into(),
            budget_ms: 150
        }
    );
    assert_eq!(error.library(), Some("b"));
    assert!(started.elapsed() < Duration::from_millis(400));
    // Four of them are over any budget a reinstall gets: one arm covers
    // them all, so a later one times out, not each within a budget of its
    // own.
    let (c, d) = (slow("c"), slow("d"));
    let four = [
        library("a", &a),
        library("b", &b),
        library("c", &c),
        library("d", &d),
    ];
    let error = iso.install(&four, 1).unwrap_err();
    assert!(
        matches!(&error, LoadError::Timeout { library, .. } if library != "a"),
        "{error:?}"
    );
}

#[test]
fn extend_keeps_the_context_and_drops_what_it_replaces() {
    let mut iso = TenantIsolate::new(T1, test_limits(), Watch::new());
    let a = "#!js name=a\nglobalThis.shared = 'from a';\nkiln.registerFunction('fa', () => globalThis.shared);";
    let b = "#!js name=b\nkiln.registerFunction('fb', () => globalThis.shared + ' seen by b');";
    iso.install(&[library("a", a)], 1).unwrap();
    iso.extend(&[library("b", b)], &[], 2).unwrap();
    assert_eq!(iso.version(), Some(2));
    let mut host = host();
    assert_eq!(
        call(&mut iso, &mut host, "fb", &[], &[]).unwrap(),
        bulk("from a seen by b")
    );
    iso.extend(&[], &["a"], 3).unwrap();
    assert_eq!(
        call(&mut iso, &mut host, "fa", &[], &[]),
        Err(CallError::NotFound)
    );
    let bad = "#!js name=c\nkiln.registerFunction('fc', () => 1);\nthrow new Error('late');";
    let d = "#!js name=d\nkiln.registerFunction('fd', () => 1);";
    let error = iso
        .extend(&[library("d", d), library("c", bad)], &[], 4)
        .unwrap_err();
    assert_eq!(error.library(), Some("c"));
    assert_eq!(
        call(&mut iso, &mut host, "fd", &[], &[]).unwrap(),
        Reply::Integer(1)
    );
    assert_eq!(
        call(&mut iso, &mut host, "fc", &[], &[]),
        Err(CallError::NotFound)
    );
    assert_eq!(
        call(&mut iso, &mut host, "fb", &[], &[]).unwrap(),
        bulk("from a seen by b")
    );
}

// ---- 3. read-only views --------------------------------------------------------

#[test]
fn a_patched_transfer_cannot_make_a_view_writable() {
    let mut iso = isolate(
        "#!js name=lib\n\
         ArrayBuffer.prototype.transferToImmutable = function () { return this; };\n\
         ArrayBuffer.prototype.transfer = function () { return this; };\n\
         globalThis.Uint8Array = class extends Uint8Array { constructor(b) { super(b); } };\n\
         kiln.registerFunction('scribble', (keys) => {\n\
           const view = kiln.get(keys[0]);\n\
           view[0] = 0x7a;\n\
           try { new Uint8Array(view.buffer)[1] = 0x7a; } catch (e) {}\n\
           return [view[0], view.buffer.immutable === true];\n\
         }, { flags: ['no-writes'] });",
    );
    let mut host = host();
    let value = Bytes::from(vec![b'a'; 64]);
    host.data.insert(b"k".to_vec(), value.clone());
    let reply = iso
        .call(
            "scribble",
            &[b"k"],
            &[],
            &mut host,
            CallOptions { read_only: true },
        )
        .unwrap();
    assert_eq!(
        reply,
        Reply::Array(vec![Reply::Integer(b'a' as i64), Reply::Integer(1)])
    );
    assert_eq!(host.data[b"k".as_slice()], value);
    assert!(value.iter().all(|b| *b == b'a'), "the record was written");
}

// ---- 4. the heap cap -----------------------------------------------------------

#[test]
fn a_huge_fill_hits_the_heap_cap_and_condemns_the_isolate() {
    let limits = Limits {
        cpu_budget: Duration::from_secs(10),
        ..test_limits()
    };
    let mut iso = isolate_with(
        "#!js name=lib\n\
         kiln.registerFunction('fill', () => { new Array(1.5e8).fill(0); return 'survived'; });\n\
         kiln.registerFunction('small', () => new Array(5).fill(7, 1, -1));",
        limits,
    );
    let mut host = host();
    assert_eq!(
        call(&mut iso, &mut host, "small", &[], &[]).unwrap(),
        Reply::Array(vec![
            Reply::Nil,
            Reply::Integer(7),
            Reply::Integer(7),
            Reply::Integer(7),
            Reply::Nil
        ])
    );
    let started = Instant::now();
    let error = call(&mut iso, &mut host, "fill", &[], &[]).unwrap_err();
    assert_eq!(
        error,
        CallError::Heap {
            function: "fill".into(),
            heap_mib: 64
        }
    );
    assert!(iso.is_condemned());
    // It ran for seconds, in C++, past its termination before.
    // Before, it ran ~10 s (release) in C++ past its termination; the bound
    // leaves room for a loaded test machine.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn fill_keeps_its_meaning() {
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('f', () => {\n\
           const big = new Array(200000).fill(1, 10, -10);\n\
           const like = Array.prototype.fill.call({ length: 3 }, 'x');\n\
           return [Array.prototype.fill.length, Array.prototype.fill.name, big[9] === undefined, big[10], big[199989], big[199990] === undefined,\n\
                   [1, 2, 3].fill(0, -2), like[2], Object.keys([].fill.call({ length: -1 }, 0)).length];\n\
         });",
    );
    assert_eq!(
        call(&mut iso, &mut host(), "f", &[], &[]).unwrap(),
        Reply::Array(vec![
            Reply::Integer(1),
            bulk("fill"),
            Reply::Integer(1),
            Reply::Integer(1),
            Reply::Integer(1),
            Reply::Integer(1),
            Reply::Array(vec![
                Reply::Integer(1),
                Reply::Integer(0),
                Reply::Integer(0)
            ]),
            bulk("x"),
            Reply::Integer(1),
        ])
    );
}

#[test]
fn long_copies_by_built_ins_stop_at_the_heap_cap() {
    let limits = Limits {
        cpu_budget: Duration::from_secs(10),
        ..test_limits()
    };
    let cases = [
        ("from", "Array.from({ length: 2 ** 32 - 1 })"),
        ("reversed", "huge().toReversed()"),
        ("with", "huge().with(0, 1)"),
    ];
    for (name, expression) in cases {
        // A fresh isolate each: hitting the cap condemns it.
        let code = format!(
            "#!js name=lib\nconst huge = () => {{ const a = []; a.length = 2 ** 32 - 1; return a; }};\n\
             kiln.registerFunction('{name}', () => {expression}.length);"
        );
        let mut iso = isolate_with(&code, limits);
        let started = Instant::now();
        let error = call(&mut iso, &mut host(), name, &[], &[]).unwrap_err();
        assert!(matches!(error, CallError::Heap { .. }), "{name}: {error:?}");
        assert!(iso.is_condemned());
        // Each held its core for 12-13 s (release) before.
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{name}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn from_to_reversed_and_with_keep_their_meaning() {
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('f', () => {\n\
           const like = { length: 100000, 5: 'five' };\n\
           const big = Array.from(like, (v, k) => v ?? k);\n\
           const rev = Array.from({ length: 70000 }, (_, k) => k).toReversed();\n\
           const w = Array.from({ length: 70000 }, (_, k) => k).with(-1, 'last');\n\
           let range; try { [1, 2].with(5, 0); } catch (e) { range = e.constructor.name; }\n\
           let bigRange; try { Array.from({ length: 70000 }).with(70000, 0); } catch (e) { bigRange = e.constructor.name; }\n\
           return [big.length, big[5], big[6], rev[0], rev[69999], w[69999], w[0], range, bigRange,\n\
                   Array.from('ab').join(), Array.from(new Set([1, 2])).length, Array.from.length, [].with.length,\n\
                   Array.from([1, 2, 3]).toReversed().join(), Object.getOwnPropertyNames(big).length];\n\
         });",
    );
    assert_eq!(
        call(&mut iso, &mut host(), "f", &[], &[]).unwrap(),
        Reply::Array(vec![
            Reply::Integer(100000),
            bulk("five"),
            Reply::Integer(6),
            Reply::Integer(69999),
            Reply::Integer(0),
            bulk("last"),
            Reply::Integer(0),
            bulk("RangeError"),
            bulk("RangeError"),
            bulk("a,b"),
            Reply::Integer(2),
            Reply::Integer(1),
            Reply::Integer(2),
            bulk("3,2,1"),
            Reply::Integer(100001),
        ])
    );
}

// ---- 5. memory and blocking outside the caps ----------------------------------

#[test]
fn webassembly_is_absent_and_atomics_wait_does_not_block() {
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('wasm', () => [typeof WebAssembly, 'WebAssembly' in globalThis]);\n\
         kiln.registerFunction('wait', () => {\n\
           const cell = new Int32Array(new SharedArrayBuffer(4));\n\
           try { return Atomics.wait(cell, 0, 0, 10000); } catch (e) { return e.constructor.name; }\n\
         });",
    );
    let mut host = host();
    assert_eq!(
        call(&mut iso, &mut host, "wasm", &[], &[]).unwrap(),
        Reply::Array(vec![bulk("undefined"), Reply::Nil])
    );
    let started = Instant::now();
    assert_eq!(
        call(&mut iso, &mut host, "wait", &[], &[]).unwrap(),
        bulk("TypeError")
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

// ---- 6. host calls within the budget -------------------------------------------

/// A host whose reads take `delay` each, counting them.
struct SlowHost {
    inner: MemoryHost,
    delay: Duration,
    gets: usize,
}

impl Host for SlowHost {
    fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, HostError> {
        self.gets += 1;
        std::thread::sleep(self.delay);
        self.inner.get(key)
    }
    fn put(&mut self, key: &[u8], value: Bytes, ttl_ms: Option<u64>) -> Result<(), HostError> {
        self.inner.put(key, value, ttl_ms)
    }
    fn del(&mut self, key: &[u8]) -> Result<bool, HostError> {
        self.inner.del(key)
    }
    fn exists(&mut self, key: &[u8]) -> Result<bool, HostError> {
        self.inner.exists(key)
    }
    fn incr(&mut self, key: &[u8], delta: i64) -> Result<i64, HostError> {
        self.inner.incr(key, delta)
    }
    fn call(&mut self, args: kiln_net::Args<'_>) -> Reply {
        self.inner.call(args)
    }
}

#[test]
fn host_work_stops_at_the_deadline() {
    let limits = Limits {
        cpu_budget: Duration::from_millis(40),
        ..Limits::default()
    };
    let mut iso = isolate_with(
        "#!js name=lib\n\
         kiln.registerFunction('many', () => kiln.mget(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']));",
        limits,
    );
    let mut host = SlowHost {
        inner: MemoryHost::default(),
        delay: Duration::from_millis(20),
        gets: 0,
    };
    let error = iso
        .call("many", &[], &[], &mut host, CallOptions::default())
        .unwrap_err();
    assert_eq!(
        error,
        CallError::Timeout {
            function: "many".into(),
            budget_ms: 40
        }
    );
    assert!(host.gets <= 3, "{} reads after a 40 ms budget", host.gets);
}

#[test]
fn errors_from_limits_are_plain_replies() {
    // A thrown limit error is an Error a function may catch.
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('f', () => { const a = []; a.length = 2 ** 32 - 1; try { kiln.mget(a); } catch (e) { return e.message; } });",
    );
    let reply = call(&mut iso, &mut host(), "f", &[], &[]).unwrap();
    assert_eq!(reply, bulk("ERR kiln.mget takes at most 1048576 keys"));
}

// ---- 7. built-ins that walk a length -------------------------------------------

/// Receivers of a length no function could hold densely. A liar answers 1
/// to the first read of its length and more after: a guard that let the
/// built-in read it again would hand the built-in the long one.
const HUGE_RECEIVERS: &[(&str, &str)] = &[
    ("like", "({ length: 2 ** 40 })"),
    (
        "holey",
        "(() => { const a = []; a.length = 2 ** 32 - 1; return a; })()",
    ),
    (
        "getter liar",
        "(() => { let n = 0; return { get length() { return n++ ? 2 ** 40 : 1; } }; })()",
    ),
    (
        "valueOf liar",
        "(() => { let n = 0; return { length: { valueOf() { return n++ ? 2 ** 40 : 1; } } }; })()",
    ),
    (
        "proxy liar",
        "(() => { let n = 0; return new Proxy([], { get(t, k) { return k === 'length' ? (n++ ? 2 ** 30 : 1) : undefined; } }); })()",
    ),
];

/// Array.prototype methods, with arguments that make each walk the whole
/// length (push, pop and the find family were never a problem: O(1), or a
/// callback at every index).
const WALKS: &[(&str, &str)] = &[
    ("indexOf", "1"),
    ("lastIndexOf", "1"),
    ("includes", "1"),
    ("join", ""),
    ("join", "''"),
    ("toLocaleString", ""),
    ("reverse", ""),
    ("copyWithin", "0, 1"),
    ("slice", "1"),
    ("splice", "1, 1"),
    ("flat", ""),
    ("flatMap", "(x) => x"),
    ("sort", ""),
    ("toSorted", ""),
    ("toSpliced", "1, 1"),
    ("every", "() => true"),
    ("some", "() => false"),
    ("forEach", "() => {}"),
    ("map", "(x) => x"),
    ("filter", "() => true"),
    ("reduce", "(a) => a, 0"),
    ("reduceRight", "(a) => a, 0"),
    ("unshift", "1"),
    ("shift", ""),
    ("fill", "0"),
    ("toReversed", ""),
    ("with", "0, 1"),
    ("find", "() => false"),
    ("findLastIndex", "() => false"),
    ("push", "1"),
    ("pop", ""),
];

/// Other walks of a length, or of a string's length, that ran in C++.
const OTHER_WALKS: &[&str] = &[
    "[].concat({ length: 2 ** 40, [Symbol.isConcatSpreadable]: true })",
    "[].concat({ length: 2 ** 32 - 2, [Symbol.isConcatSpreadable]: true })",
    "[1, (() => { const a = []; a.length = 2 ** 32 - 1; return a; })()].flat()",
    "Array.from({ length: 2 ** 32 - 1 })",
    "(class extends Array {}).from({ length: 2 ** 32 - 1 })",
    "Array.from.call(function () {}, { length: 2 ** 32 - 1 })",
    "Array.prototype.indexOf.call('x'.repeat(2 ** 29 - 24), 'y')",
    "Array.prototype.forEach.call(Object.create(new Proxy({ length: 2 ** 40 }, {})), () => {})",
    "new Array(2 ** 21).fill(1.5).toLocaleString()",
    "new Uint8Array(2 ** 24).toLocaleString()",
    "new Uint8Array(2 ** 26).join()",
    "'x'.repeat(2 ** 28).split('')",
    "'x'.repeat(2 ** 27).split('x')",
    "'x'.repeat(2 ** 27).split(/x/)",
    "'x'.repeat(2 ** 29 - 24).match(/x/g)",
    "RegExp.prototype[Symbol.split].call(/(?:)/, 'x'.repeat(2 ** 27))",
];

/// How each walk ended: within the CPU budget, at the heap cap, or with the
/// RangeError the spec asks for (ArrayCreate over 2^32 - 1 elements, a
/// string over V8's maximum length).
fn ended_as_a_bounded_walk(outcome: &Result<Reply, CallError>) -> bool {
    match outcome {
        Err(CallError::Timeout { .. } | CallError::Heap { .. }) => true,
        Ok(Reply::Error(message)) => {
            message.starts_with("ERR Invalid array length")
                || message.starts_with("ERR Invalid string length")
        }
        _ => false,
    }
}

#[test]
fn walks_over_huge_lengths_end_within_the_budget() {
    // Before, `Array.prototype.indexOf.call({ length: 2 ** 40 }, 1)` held
    // its core for more than 10 minutes, as did most of these; sort of a
    // 2^30 proxy, split('') of 2^28 characters and match(/x/g) of 2^29
    // aborted the process.
    let limits = Limits {
        cpu_budget: Duration::from_millis(50),
        ..Limits::default()
    };
    let mut cases: Vec<(String, bool)> = Vec::new();
    for (receiver, make) in HUGE_RECEIVERS {
        for (method, args) in WALKS {
            let separator = if args.is_empty() { "" } else { ", " };
            // A liar's first answer (1) is what the method walks; push and
            // pop are O(1) however long.
            let any_outcome = receiver.contains("liar") || matches!(*method, "push" | "pop");
            cases.push((
                format!("Array.prototype.{method}.call({make}{separator}{args})"),
                any_outcome,
            ));
        }
    }
    cases.extend(OTHER_WALKS.iter().map(|e| (e.to_string(), false)));
    let code = cases
        .iter()
        .enumerate()
        .map(|(i, (expression, _))| {
            format!(
                "kiln.registerFunction('f{i}', () => {{ const r = {expression}; return typeof r === 'object' && r !== null ? 'object' : r; }});"
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let code = format!("#!js name=lib\n{code}");
    let mut iso = isolate_with(&code, limits);
    let mut host = host();
    for (i, (expression, any_outcome)) in cases.iter().enumerate() {
        if iso.is_condemned() {
            iso = isolate_with(&code, limits);
        }
        let started = Instant::now();
        let outcome = call(&mut iso, &mut host, &format!("f{i}"), &[], &[]);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "{expression} took {took:?}: {outcome:?}"
        );
        assert!(
            *any_outcome || ended_as_a_bounded_walk(&outcome),
            "{expression}: {outcome:?}"
        );
        if !matches!(outcome, Err(CallError::Heap { .. })) {
            assert!(!iso.is_condemned(), "{expression}");
        }
    }
}

/// A differential test of every guarded method's own loop: each call runs
/// on an array-like whose `length` is a data property (the built-in runs)
/// and on one whose `length` is a getter (read once, then the guard's
/// JavaScript version runs), both behind a Proxy that records every has,
/// get, set, define and delete (but reads and defines of `length`: a Set of
/// a data `length` defines it, of an accessor calls its setter). Results, final state and
/// records must match; the getter must run at most once a call.
const DIFFERENTIAL: &str = r#"
const log = [];
const trace = (target) => new Proxy(target, {
  has(t, k) { if (k !== 'length') log.push('has ' + String(k)); return Reflect.has(t, k); },
  get(t, k, r) { if (k !== 'length') log.push('get ' + String(k)); return Reflect.get(t, k, r); },
  set(t, k, v, r) { log.push('set ' + String(k)); return Reflect.set(t, k, v, r); },
  deleteProperty(t, k) { log.push('delete ' + String(k)); return Reflect.deleteProperty(t, k); },
  defineProperty(t, k, d) { if (k !== 'length') log.push('define ' + String(k)); return Reflect.defineProperty(t, k, d); },
});
let reads = 0;
const target = (d, getter) => {
  const o = {};
  for (let i = 0; i < d.length; i++) if (i in d) o[i] = d[i];
  let len = d.length;
  Object.defineProperty(o, 'length', getter
    ? { get() { reads++; return len; }, set(v) { len = v; }, configurable: true }
    : { value: len, writable: true, configurable: true });
  return o;
};
const ser = (v, depth = 0) => {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return 'function';
  if (typeof v !== 'object' || v === null) return String(v);
  if (depth > 3) return '...';
  const keys = Object.keys(v).filter((k) => k !== 'length');
  return (Array.isArray(v) ? 'A' : 'O') + '(' + ser(v.length) + ')' + '{' + keys.map((k) => k + ':' + ser(v[k], depth + 1)).join(',') + '}';
};
const vo = (n) => ({ valueOf() { log.push('valueOf ' + n); return n; } });
const cb = (ret) => function (v, i, o) { log.push('cb ' + ser(v) + ' ' + i + ' ' + typeof o); return typeof ret === 'function' ? ret(v, i) : ret; };
const data = [[1, 2, 3, 2, 1], [1, , 3, , 5, 2], [undefined, NaN, -0, 0, null, 'a', 10, '10', [1, [2]]], [], [7]];
const args = {
  indexOf: [[2], [2, 1], [2, -2], [undefined], [NaN], [-0], [1, vo(1)], [4, Infinity]],
  lastIndexOf: [[2], [2, 1], [2, -2], [undefined], [2, undefined], [1, vo(3)], [4, -Infinity]],
  includes: [[2], [2, 1], [undefined], [NaN], [-0], [1, vo(2)]],
  join: [[], ['-'], [undefined], [{ toString() { log.push('sep'); return '+'; } }], ['']],
  toLocaleString: [[]],
  reverse: [[]],
  copyWithin: [[0, 3], [1, 0], [0, 1, 3], [-2, 0], [2, 0, -1], [vo(1), vo(0), vo(2)]],
  slice: [[], [1], [1, 3], [-2], [2, 1], [vo(1), vo(3)]],
  splice: [[], [1], [1, 1], [1, 0, 'x', 'y'], [-2, 5, 'z'], [0, 3], [vo(1), vo(1), 'q']],
  toSpliced: [[], [1], [1, 1], [1, 0, 'x', 'y'], [-2, 5, 'z'], [vo(1), vo(1), 'q']],
  concat: [[], [[4, 5]], [1, [2, [3]]], [{ length: 2, 0: 'a', [Symbol.isConcatSpreadable]: true }]],
  flat: [[], [0], [2], [Infinity], [vo(1)]],
  flatMap: [[cb((v) => [v, [v]])], [cb((v, i) => i)], [5]],
  sort: [[], [(a, b) => { log.push('cmp ' + ser(a) + ' ' + ser(b)); return a - b; }], [5]],
  toSorted: [[], [(a, b) => { log.push('cmp ' + ser(a) + ' ' + ser(b)); return b > a ? 1 : b < a ? -1 : 0; }], [5]],
  every: [[cb(true)], [cb(false)], [cb((v) => v !== 3)], [undefined]],
  some: [[cb(false)], [cb((v) => v === 3)]],
  forEach: [[cb()], ['x']],
  map: [[cb((v) => [v])], [cb((v, i) => i * 2)]],
  filter: [[cb((v) => typeof v === 'number')]],
  reduce: [[(a, b, i) => { log.push('red ' + i); return String(a) + String(b); }], [(a, b, i) => { log.push('red ' + i); return String(a) + String(b); }, 'init']],
  reduceRight: [[(a, b, i) => { log.push('red ' + i); return String(a) + String(b); }], [(a, b, i) => { log.push('red ' + i); return String(a) + String(b); }, 'init']],
  shift: [[]],
  unshift: [[], ['a'], ['a', 'b', 'c']],
  fill: [[0], [0, 1, 3], ['f', -2]],
  toReversed: [[]],
  with: [[1, 'x'], [-1, 'y'], [10, 'z'], [vo(0), 'w']],
};
const mismatches = [];
let cases = 0;
for (const [method, lists] of Object.entries(args)) {
  for (const d of data) {
    for (const a of lists) {
      const outcome = (getter) => {
        const t = target(d, getter);
        const p = trace(t);
        log.length = 0;
        reads = 0;
        let result;
        try {
          const r = Array.prototype[method].apply(p, a);
          result = r === p ? 'receiver' : ser(r);
        } catch (e) {
          result = 'throws ' + e.constructor.name;
        }
        if (getter && reads > 1) result += ' (length read ' + reads + ' times)';
        return result + ' state ' + ser(t) + ' log ' + log.join(';');
      };
      const builtin = outcome(false);
      const guarded = outcome(true);
      cases++;
      if (builtin !== guarded) mismatches.push(method + ' ' + ser(d) + ' ' + a.length + '\n  built-in: ' + builtin + '\n  guard:    ' + guarded);
    }
  }
}
"#;

#[test]
fn guarded_built_ins_keep_their_meaning() {
    let code = format!(
        "#!js name=lib\n{DIFFERENTIAL}\n\
         kiln.registerFunction('differential', () => [cases, mismatches.join('\\n')]);"
    );
    let mut iso = isolate(&code);
    let reply = call(&mut iso, &mut host(), "differential", &[], &[]).unwrap();
    let Reply::Array(parts) = reply else {
        panic!("{reply:?}")
    };
    assert!(
        matches!(parts[0], Reply::Integer(n) if n > 400),
        "{parts:?}"
    );
    assert_eq!(parts[1], bulk(""), "{:?}", parts[1]);
}

#[test]
fn guarded_built_ins_keep_their_names_lengths_and_results() {
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('meta', () => {\n\
           const arity = { indexOf: 1, lastIndexOf: 1, includes: 1, join: 1, toLocaleString: 0, reverse: 0,\n\
             copyWithin: 2, slice: 2, splice: 2, concat: 1, flat: 0, flatMap: 1, sort: 1, toSorted: 1,\n\
             toSpliced: 2, every: 1, some: 1, forEach: 1, map: 1, filter: 1, reduce: 1, reduceRight: 1,\n\
             shift: 0, unshift: 1, fill: 1, toReversed: 0, with: 2 };\n\
           const TypedArray = Object.getPrototypeOf(Uint8Array.prototype);\n\
           const methods = Object.entries(arity).map(([name, length]) => [Array.prototype, name, name, length]);\n\
           methods.push([Array, 'from', 'from', 1], [String.prototype, 'split', 'split', 2],\n\
             [RegExp.prototype, Symbol.split, '[Symbol.split]', 2], [RegExp.prototype, Symbol.match, '[Symbol.match]', 1],\n\
             [TypedArray, 'join', 'join', 1], [TypedArray, 'toLocaleString', 'toLocaleString', 0]);\n\
           const wrong = [];\n\
           for (const [object, key, name, length] of methods) {\n\
             const d = Object.getOwnPropertyDescriptor(object, key);\n\
             const f = d.value;\n\
             const l = Object.getOwnPropertyDescriptor(f, 'length');\n\
             const n = Object.getOwnPropertyDescriptor(f, 'name');\n\
             let constructs = true; try { new f(); } catch { constructs = false; }\n\
             if (!d.writable || d.enumerable || !d.configurable || n.value !== name || l.value !== length\n\
                 || l.writable || l.enumerable || !l.configurable || n.writable || n.enumerable || 'prototype' in f || constructs) {\n\
               wrong.push(name);\n\
             }\n\
           }\n\
           return [wrong.join(), Object.keys(Array.prototype).length, Array.prototype.indexOf.name];\n\
         });\n\
         kiln.registerFunction('results', () => {\n\
           const a = [3, 1, 2, 1];\n\
           const cyclic = [1, 2]; cyclic.push(cyclic);\n\
           const out = [a.indexOf(1), a.lastIndexOf(1), a.includes(2), a.join('-'), [1, [2, 3]].toString(), cyclic.join(),\n\
             a.slice(1, 3).join(), [...a].sort().join(), a.toSorted((x, y) => y - x).join(), a.toSpliced(1, 2, 'x').join(),\n\
             a.map((x) => x * 2).join(), a.filter((x) => x > 1).join(), a.reduce((x, y) => x + y), a.concat([5], 6).join(),\n\
             [1, [2, [3]]].flat(Infinity).join(), [[1], [2]].flatMap((x) => x).join(), 'a,b,,c'.split(',').length,\n\
             'a1b22c'.split(/\\d+/).join('|'), 'a1b22c'.match(/\\d+/g).join('|'), new Uint8Array([1, 2]).join(), [1234.5].toLocaleString('en')];\n\
           const q = [1, 2, 3]; out.push(q.shift(), q.unshift(0, 0), q.join());\n\
           return out.join(' ');\n\
         });\n\
         kiln.registerFunction('long', () => {\n\
           // Longer than the built-ins' bound: each of these runs in the guard's loop, near an end.\n\
           // (Sparse: a dictionary-mode array, not 64 MiB of holes.)\n\
           const big = []; big[2 ** 23] = 'x'; big[5] = 'y';\n\
           const out = [big.indexOf('x', 2 ** 23 - 10), big.lastIndexOf('x'), big.lastIndexOf('y', 100), big.includes('x', -5),\n\
             big.some((v) => v === 'y'), big.every((v) => v !== 'y'), big.slice(-3).length, big.slice(-3)[2],\n\
             big.splice(2 ** 23, 1).join(), big.length, big.copyWithin(2 ** 23 - 2, 5, 6)[2 ** 23 - 2]];\n\
           const like = { length: 2 ** 40, [2 ** 40 - 1]: 'end' };\n\
           out.push(Array.prototype.indexOf.call(like, 'end', -1), Array.prototype.lastIndexOf.call(like, 'end'),\n\
             Array.prototype.includes.call(like, 'end', -3), Array.prototype.slice.call(like, -2).join('|'));\n\
           return out.join(' ');\n\
         });",
    );
    let mut host = host();
    assert_eq!(
        call(&mut iso, &mut host, "meta", &[], &[]).unwrap(),
        Reply::Array(vec![bulk(""), Reply::Integer(0), bulk("indexOf")])
    );
    assert_eq!(
        call(&mut iso, &mut host, "results", &[], &[]).unwrap(),
        bulk(
            "1 3 true 3-1-2-1 1,2,3 1,2, 1,2 1,1,2,3 3,2,1,1 3,x,1 6,2,4,2 3,2 7 3,1,2,1,5,6 \
             1,2,3 1,2 4 a|b|c 1|22 1,2 1,234.5 1 4 0,0,2,3"
        )
    );
    assert_eq!(
        call(&mut iso, &mut host, "long", &[], &[]).unwrap(),
        bulk(&format!(
            "{} {} 5 true true false 3 x x {} y {} {} true |end",
            1u64 << 23,
            1u64 << 23,
            1u64 << 23,
            (1u64 << 40) - 1,
            (1u64 << 40) - 1
        ))
    );
}

/// How long each expression in `KILN_SCAN` (one a line) holds its core
/// under a 50 ms budget. Run in release:
/// `KILN_SCAN='[].indexOf.call({ length: 2 ** 30 }, 1)' cargo test -p kiln-isolates --release -- --ignored --nocapture scan_figures`.
#[test]
#[ignore = "prints figures; run in release"]
fn scan_figures() {
    let Ok(expressions) = std::env::var("KILN_SCAN") else {
        return;
    };
    let budget_ms = std::env::var("KILN_SCAN_BUDGET_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(50);
    let limits = Limits {
        cpu_budget: Duration::from_millis(budget_ms),
        ..Limits::default()
    };
    for expression in expressions.lines().filter(|l| !l.trim().is_empty()) {
        let code = format!(
            "#!js name=lib\nkiln.registerFunction('f', () => {{ const r = {expression}; return typeof r === 'object' ? 'object' : r; }});"
        );
        let mut iso = isolate_with(&code, limits);
        let started = Instant::now();
        let outcome = call(&mut iso, &mut host(), "f", &[], &[]);
        println!(
            "scan {expression}: {:.0} ms, condemned {}, {outcome:?}",
            started.elapsed().as_secs_f64() * 1e3,
            iso.is_condemned()
        );
    }
}
