//! Hostile tenants: every value from JavaScript (a length, a getter, a
//! patched built-in, a Proxy, a `toString` trap) is an attack on the host.
//! Each test here failed (or aborted the process, or hung) before the
//! isolate treated them so.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kiln_net::Reply;

use super::{bulk, call, host, isolate, isolate_with, test_limits};
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
    let mut iso = TenantIsolate::new("t1", limits, Watch::new());
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
    let mut iso = TenantIsolate::new("t1", test_limits(), Watch::new());
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
    let mut iso = TenantIsolate::new("t1", test_limits(), Watch::new());
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
    let mut iso = TenantIsolate::new("t1", limits, Watch::new());
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
    let mut iso = TenantIsolate::new("t1", test_limits(), Watch::new());
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
    fn call(&mut self, args: &[Bytes]) -> Reply {
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
