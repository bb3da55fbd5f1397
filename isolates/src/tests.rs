//! Tests against real V8 isolates, with a [`MemoryHost`] standing in
//! for a core's shard (the server's end-to-end tests use the real one).

use std::time::{Duration, Instant};

use bytes::Bytes;
use kiln_net::Reply;
use kiln_store::TenantId;

use crate::{
    CallError, CallOptions, LibrarySource, Limits, LoadError, MemoryHost, TenantIsolate, Watch,
};

/// The tenant every test isolate belongs to.
const T1: TenantId = TenantId::DEFAULT;

/// A host whose `other:` keys live on another core.
fn host() -> MemoryHost {
    MemoryHost::with_foreign_prefix(b"other:")
}

fn isolate_with(code: &str, limits: Limits) -> TenantIsolate {
    let mut isolate = TenantIsolate::new(T1, limits, Watch::new());
    isolate
        .install(
            &[LibrarySource {
                name: "lib",
                code,
                code_cache: None,
            }],
            1,
        )
        .expect("library loads");
    isolate
}

/// The default limits with a CPU budget no debug build comes near (the
/// default is a few milliseconds): only the tests about budgets use one.
fn test_limits() -> Limits {
    Limits {
        cpu_budget: Duration::from_secs(2),
        ..Limits::default()
    }
}

fn isolate(code: &str) -> TenantIsolate {
    isolate_with(code, test_limits())
}

fn call(
    isolate: &mut TenantIsolate,
    host: &mut MemoryHost,
    name: &str,
    keys: &[&str],
    args: &[&str],
) -> Result<Reply, CallError> {
    let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    isolate.call(name, &keys, &args, host, CallOptions::default())
}

/// Runs library `lib` of `code` in a scratch context (`FUNCTION LOAD`'s check).
fn inspect(iso: &mut TenantIsolate, code: &str) -> Result<crate::LoadedLibrary, LoadError> {
    iso.inspect(LibrarySource {
        name: "lib",
        code,
        code_cache: None,
    })
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn returns_convert_like_lua_replies() {
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('f', (keys, args) => {\n\
           switch (args[0]) {\n\
             case 'str': return 'hi';\n\
             case 'int': return 42;\n\
             case 'float': return 1.5;\n\
             case 'true': return true;\n\
             case 'false': return false;\n\
             case 'null': return null;\n\
             case 'undef': return undefined;\n\
             case 'arr': return [1, 'a', [null]];\n\
             case 'bytes': return new Uint8Array([0, 255]);\n\
             case 'obj': return { a: 1, b: 'x' };\n\
             case 'big': return 2n ** 62n;\n\
             case 'cycle': { const a = []; a.push(a); return a; }\n\
             case 'keys': return keys;\n\
           }\n\
         });",
    );
    let mut host = host();
    let mut f = |arg: &str| call(&mut iso, &mut host, "f", &["k1", "k2"], &[arg]).unwrap();
    assert_eq!(f("str"), bulk("hi"));
    assert_eq!(f("int"), Reply::Integer(42));
    assert_eq!(f("float"), Reply::Double(1.5));
    assert_eq!(f("true"), Reply::Integer(1));
    assert_eq!(f("false"), Reply::Nil);
    assert_eq!(f("null"), Reply::Nil);
    assert_eq!(f("undef"), Reply::Nil);
    assert_eq!(
        f("arr"),
        Reply::Array(vec![
            Reply::Integer(1),
            bulk("a"),
            Reply::Array(vec![Reply::Nil])
        ])
    );
    assert_eq!(f("bytes"), Reply::Bulk(Bytes::from_static(&[0, 255])));
    assert_eq!(
        f("obj"),
        Reply::Map(vec![(bulk("a"), Reply::Integer(1)), (bulk("b"), bulk("x"))])
    );
    assert_eq!(f("big"), Reply::Integer(1 << 62));
    assert!(f("cycle").is_error());
    assert_eq!(f("keys"), Reply::Array(vec![bulk("k1"), bulk("k2")]));
}

#[test]
fn thrown_errors_become_error_replies() {
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('plain', () => { throw new Error('boom'); });\n\
         kiln.registerFunction('coded', () => { throw new Error('WRONGTYPE Operation against a key'); });\n\
         kiln.registerFunction('string', () => { throw 'raw'; });\n\
         kiln.registerFunction('host', () => kiln.get('other:x'));\n\
         kiln.registerFunction('caught', () => { try { kiln.get('other:x'); } catch (e) { return e.message; } });",
    );
    let mut host = host();
    assert_eq!(
        call(&mut iso, &mut host, "plain", &[], &[]).unwrap(),
        Reply::error("ERR boom")
    );
    assert_eq!(
        call(&mut iso, &mut host, "coded", &[], &[]).unwrap(),
        Reply::error("WRONGTYPE Operation against a key")
    );
    assert_eq!(
        call(&mut iso, &mut host, "string", &[], &[]).unwrap(),
        Reply::error("ERR raw")
    );
    assert_eq!(
        call(&mut iso, &mut host, "host", &[], &[]).unwrap(),
        Reply::error("CROSSSLOT Keys in request don't hash to the same slot")
    );
    assert_eq!(
        call(&mut iso, &mut host, "caught", &[], &[]).unwrap(),
        bulk("CROSSSLOT Keys in request don't hash to the same slot")
    );
    assert_eq!(
        call(&mut iso, &mut host, "missing", &[], &[]),
        Err(CallError::NotFound)
    );
}

#[test]
fn host_api_reads_and_writes_through_the_host() {
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('rmw', (keys, args) => {\n\
           const n = kiln.incr(keys[0], Number(args[0]));\n\
           kiln.put(keys[1], 'v' + n);\n\
           kiln.put(keys[2], new Uint8Array([1, 2, 3]), { ttlMs: 1000 });\n\
           return [n, kiln.getString(keys[1]), kiln.exists(keys[2]), kiln.del(keys[2]), kiln.exists(keys[2]),\n\
                   kiln.mget(keys[0], keys[1], 'nope'), kiln.call('PING'), kiln.call('STRLEN', keys[1])];\n\
         });",
    );
    let mut host = host();
    let reply = call(&mut iso, &mut host, "rmw", &["n", "s", "b"], &["5"]).unwrap();
    assert_eq!(
        reply,
        Reply::Array(vec![
            Reply::Integer(5),
            bulk("v5"),
            Reply::Integer(1),
            Reply::Integer(1),
            Reply::Nil,
            Reply::Array(vec![bulk("5"), bulk("v5"), Reply::Nil]),
            bulk("PONG"),
            Reply::Integer(2),
        ])
    );
    assert_eq!(
        host.data.get(b"s".as_slice()),
        Some(&Bytes::from_static(b"v5"))
    );
}

#[test]
fn get_lends_the_stored_bytes_read_only_without_copying() {
    let mut iso = isolate(
        "#!js name=lib\n\
         let kept = null;\n\
         kiln.registerFunction('peek', (keys) => {\n\
           const view = kiln.get(keys[0]);\n\
           view[0] = 0x7a;\n\
           kept = view;\n\
           return [view.length, view[0], view.buffer.immutable === true];\n\
         });\n\
         kiln.registerFunction('later', () => kept[1]);",
    );
    let mut host = host();
    let value = Bytes::from(vec![b'a'; 4096]);
    host.data.insert(b"k".to_vec(), value.clone());
    let reply = call(&mut iso, &mut host, "peek", &["k"], &[]).unwrap();
    assert_eq!(
        reply,
        Reply::Array(vec![
            Reply::Integer(4096),
            Reply::Integer(b'a' as i64),
            Reply::Integer(1)
        ])
    );
    assert_eq!(
        value[0], b'a',
        "the record was not written through the view"
    );
    let stats = iso.stats();
    assert_eq!(stats.zero_copy_views, 1);
    assert_eq!(stats.lent, 4096, "the view shares the record's 4096 bytes");
    assert_eq!(
        call(&mut iso, &mut host, "later", &[], &[]).unwrap(),
        Reply::Integer(b'a' as i64)
    );
}

#[test]
fn a_view_is_over_the_records_own_memory() {
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('keep', (keys) => { globalThis.view = kiln.get(keys[0]); return 1; });",
    );
    let mut host = host();
    let value = Bytes::from(vec![7u8; 1000]);
    host.data.insert(b"k".to_vec(), value.clone());
    call(&mut iso, &mut host, "keep", &["k"], &[]).unwrap();
    let data = iso.global_view_data("view");
    assert_eq!(
        data,
        Some(value.as_ptr() as usize),
        "kiln.get returned a copy"
    );
}

#[test]
fn registration_errors_use_redis_messages() {
    let mut iso = TenantIsolate::new(T1, Limits::default(), Watch::new());
    let mut load = |code: &str| inspect(&mut iso, code);
    assert_eq!(
        load("#!js name=lib\nconst x = 1;").unwrap_err(),
        LoadError::NoFunctions {
            library: "lib".into()
        }
    );
    let dup = load(
        "#!js name=lib\nkiln.registerFunction('f', () => 1);\nkiln.registerFunction('f', () => 2);",
    )
    .unwrap_err();
    assert!(
        matches!(&dup, LoadError::Run { message, location, .. } if message.contains("Function already exists in the library") && location == "lib:3:6"),
        "{dup:?}"
    );
    let flag = load("#!js name=lib\nkiln.registerFunction('f', () => 1, { flags: ['bogus'] });")
        .unwrap_err();
    assert!(
        matches!(&flag, LoadError::Run { message, .. } if message.contains("Unknown flag given: bogus")),
        "{flag:?}"
    );
    let name = load("#!js name=lib\nkiln.registerFunction('a-b', () => 1);").unwrap_err();
    assert!(
        matches!(&name, LoadError::Run { message, .. } if message.contains("Function names can only contain")),
        "{name:?}"
    );
    let syntax = load("#!js name=lib\n\nlet = = 3;").unwrap_err();
    assert!(
        matches!(&syntax, LoadError::Compile { location, message, .. } if location == "lib:3:7" && message.starts_with("SyntaxError")),
        "{syntax:?}"
    );
    let ok = load("#!js name=lib\nkiln.registerFunction('g', () => 1, { flags: ['no-writes'], description: 'd' });").unwrap();
    assert_eq!(ok.functions[0].name, "g");
    assert!(ok.functions[0].flags.no_writes);
    assert_eq!(ok.functions[0].description.as_deref(), Some("d"));
    assert!(ok.code_cache.is_some());
}

#[test]
fn key_triggers_register_checked_and_run_with_key_and_event() {
    let mut iso = TenantIsolate::new(T1, Limits::default(), Watch::new());
    let mut load = |code: &str| inspect(&mut iso, code);
    let refusals = [
        (
            "kiln.onKeyEvent({ prefix: 'a' }, 1);",
            "the second argument must be a function",
        ),
        (
            "kiln.onKeyEvent('a', () => 1);",
            "options must be an object",
        ),
        (
            "kiln.onKeyEvent({ prefix: 7 }, () => 1);",
            "prefix must be a string",
        ),
        (
            "kiln.onKeyEvent({ prefix: 'x'.repeat(1025) }, () => 1);",
            "prefix must be a string",
        ),
        (
            "kiln.onKeyEvent({ events: 'set' }, () => 1);",
            "events must be an array",
        ),
        (
            "kiln.onKeyEvent({ events: new Array(33).fill('set') }, () => 1);",
            "events must be an array",
        ),
        (
            "kiln.onKeyEvent({ events: ['SET'] }, () => 1);",
            "not an event name",
        ),
        (
            "for (let i = 0; i < 65; i++) kiln.onKeyEvent({}, () => 1);",
            "at most 64 triggers",
        ),
    ];
    for (code, want) in refusals {
        let error = load(&format!("#!js name=lib\n{code}")).unwrap_err();
        assert!(
            matches!(&error, LoadError::Run { message, .. } if message.contains(want)),
            "{code}: {error:?}"
        );
    }
    let loaded = load(
        "#!js name=lib\nkiln.onKeyEvent({ prefix: 'user:', events: ['set', 'del'] }, () => 1);\nkiln.onKeyEvent(null, () => 1);",
    )
    .unwrap();
    assert!(
        loaded.functions.is_empty(),
        "triggers are not FCALL-able functions"
    );
    assert_eq!(loaded.triggers.len(), 2);
    let (first, second) = (&loaded.triggers[0], &loaded.triggers[1]);
    assert_eq!(first.function, "lib@0");
    assert!(first.fires_on(b"user:1", "set") && first.fires_on(b"user:1", "del"));
    assert!(!first.fires_on(b"user:1", "expired") && !first.fires_on(b"order:1", "set"));
    assert!(
        second.fires_on(b"any", "expired"),
        "no events: every change"
    );
    assert!(!second.fires_on(b"any", "new") && !second.fires_on(b"any", "keymiss"));
    // Installed, a trigger is called as fn(key, event).
    let mut iso = isolate(
        "#!js name=lib\nkiln.onKeyEvent({}, (key, event) => { kiln.put('seen', key + ' ' + event); });",
    );
    let mut host = host();
    assert_eq!(
        call(&mut iso, &mut host, "lib@0", &["k"], &["set"]),
        Ok(Reply::Nil)
    );
    assert_eq!(
        call(&mut iso, &mut host, "get", &[], &[]),
        Err(CallError::NotFound)
    );
    let mut check =
        isolate("#!js name=check\nkiln.registerFunction('get', () => kiln.getString('seen'));");
    assert_eq!(
        call(&mut check, &mut host, "get", &[], &[]),
        Ok(bulk("k set"))
    );
}

#[test]
fn libraries_keep_their_top_level_names_apart() {
    let mut iso = TenantIsolate::new(T1, Limits::default(), Watch::new());
    let a = "#!js name=a\nconst n = 1;\nkiln.registerFunction('fa', () => n);";
    let b = "#!js name=b\nconst n = 2;\nkiln.registerFunction('fb', () => n);";
    iso.install(
        &[
            LibrarySource {
                name: "a",
                code: a,
                code_cache: None,
            },
            LibrarySource {
                name: "b",
                code: b,
                code_cache: None,
            },
        ],
        7,
    )
    .unwrap();
    let mut host = host();
    assert_eq!(
        call(&mut iso, &mut host, "fa", &[], &[]).unwrap(),
        Reply::Integer(1)
    );
    assert_eq!(
        call(&mut iso, &mut host, "fb", &[], &[]).unwrap(),
        Reply::Integer(2)
    );
    assert_eq!(iso.version(), Some(7));
}

#[test]
fn read_only_calls_refuse_functions_that_may_write() {
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('w', () => 1);\n\
         kiln.registerFunction('r', () => 2, { flags: ['no-writes'] });",
    );
    let mut host = host();
    let ro = CallOptions { read_only: true };
    assert_eq!(
        iso.call("w", &[], &[], &mut host, ro).unwrap(),
        Reply::error("ERR Can not execute a script with write flag using *_ro command.")
    );
    assert_eq!(
        iso.call("r", &[], &[], &mut host, ro).unwrap(),
        Reply::Integer(2)
    );
}

#[test]
fn an_endless_loop_is_stopped_at_its_budget_and_the_isolate_keeps_working() {
    let limits = Limits {
        cpu_budget: Duration::from_millis(30),
        ..Limits::default()
    };
    let mut iso = isolate_with(
        "#!js name=lib\nkiln.registerFunction('spin', () => { for (;;) {} });\nkiln.registerFunction('ok', () => 'fine');",
        limits,
    );
    let mut host = host();
    let started = Instant::now();
    let error = call(&mut iso, &mut host, "spin", &[], &[]).unwrap_err();
    assert_eq!(
        error,
        CallError::Timeout {
            function: "spin".into(),
            budget_ms: 30
        }
    );
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert!(!iso.is_condemned());
    assert_eq!(
        call(&mut iso, &mut host, "ok", &[], &[]).unwrap(),
        bulk("fine")
    );
}

#[test]
fn a_library_that_never_finishes_loading_is_stopped() {
    let limits = Limits {
        load_budget: Duration::from_millis(30),
        ..Limits::default()
    };
    let mut iso = TenantIsolate::new(T1, limits, Watch::new());
    let error = iso
        .inspect(LibrarySource {
            name: "lib",
            code: "#!js name=lib\nwhile (true) {}",
            code_cache: None,
        })
        .unwrap_err();
    assert_eq!(
        error,
        LoadError::Timeout {
            library: "lib".into(),
            budget_ms: 30
        }
    );
}

#[test]
fn a_heap_bomb_condemns_the_isolate_not_the_process() {
    let limits = Limits {
        heap_bytes: 16 << 20,
        ..test_limits()
    };
    let mut iso = isolate_with(
        "#!js name=lib\nkiln.registerFunction('bomb', () => { const a = []; for (;;) a.push(new Array(1e6).fill(1.5)); });",
        limits,
    );
    let mut host = host();
    let error = call(&mut iso, &mut host, "bomb", &[], &[]).unwrap_err();
    assert_eq!(
        error,
        CallError::Heap {
            function: "bomb".into(),
            heap_mib: 16
        }
    );
    assert!(iso.is_condemned());
}

#[test]
fn array_buffers_are_held_to_the_budget() {
    let limits = Limits {
        heap_bytes: 16 << 20,
        ..test_limits()
    };
    let mut iso = isolate_with(
        "#!js name=lib\nkiln.registerFunction('big', () => { try { new ArrayBuffer(64 * 1024 * 1024); return 'allocated'; } catch (e) { return e.constructor.name; } });",
        limits,
    );
    let mut host = host();
    assert_eq!(
        call(&mut iso, &mut host, "big", &[], &[]).unwrap_err(),
        CallError::Heap {
            function: "big".into(),
            heap_mib: 16
        }
    );
    assert!(iso.is_condemned());
}

#[test]
fn the_store_is_out_of_reach_while_loading_and_registration_after_it() {
    let mut iso = isolate(
        "#!js name=lib\n\
         let atLoad;\n\
         try { kiln.get('k'); } catch (e) { atLoad = e.message; }\n\
         kiln.registerFunction('atLoad', () => atLoad);\n\
         kiln.registerFunction('reg', () => { kiln.registerFunction('x', () => 1); });",
    );
    let mut host = host();
    assert_eq!(
        call(&mut iso, &mut host, "atLoad", &[], &[]).unwrap(),
        bulk("ERR the kiln API can only be used while a function runs")
    );
    assert_eq!(
        call(&mut iso, &mut host, "reg", &[], &[]).unwrap(),
        Reply::error("ERR kiln.registerFunction can only be called on FUNCTION LOAD command")
    );
}

#[test]
fn a_code_cache_is_accepted_on_reinstall() {
    let code = "#!js name=lib\nkiln.registerFunction('f', () => 41 + 1);";
    let mut first = TenantIsolate::new(T1, Limits::default(), Watch::new());
    let cache = first
        .install(
            &[LibrarySource {
                name: "lib",
                code,
                code_cache: None,
            }],
            1,
        )
        .unwrap()[0]
        .code_cache
        .clone()
        .unwrap();
    let mut second = TenantIsolate::new(T1, Limits::default(), Watch::new());
    let loaded = second
        .install(
            &[LibrarySource {
                name: "lib",
                code,
                code_cache: Some(&cache),
            }],
            1,
        )
        .unwrap();
    assert!(
        loaded[0].code_cache.is_none(),
        "the cache was rejected and the library recompiled"
    );
    assert_eq!(
        call(&mut second, &mut host(), "f", &[], &[]).unwrap(),
        Reply::Integer(42)
    );
}

#[test]
fn raw_keys_and_args_are_binary_safe() {
    let mut iso = isolate(
        "#!js name=lib\nkiln.registerFunction('raw', () => [kiln.rawKeys()[0], kiln.rawArgs()[0]]);",
    );
    let mut host = host();
    let key: &[u8] = &[0xff, 0x00];
    let arg: &[u8] = &[0xc3];
    let reply = iso
        .call("raw", &[key], &[arg], &mut host, CallOptions::default())
        .unwrap();
    assert_eq!(
        reply,
        Reply::Array(vec![
            Reply::Bulk(Bytes::from_static(&[0xff, 0x00])),
            Reply::Bulk(Bytes::from_static(&[0xc3]))
        ])
    );
}

#[test]
fn many_isolates_share_a_thread_in_any_order() {
    let code = "#!js name=lib\nlet n = 0;\nkiln.registerFunction('next', () => ++n);";
    let mut isolates: Vec<TenantIsolate> = (0..4).map(|_| isolate(code)).collect();
    let mut host = host();
    for round in 1..=3 {
        for iso in isolates.iter_mut().rev() {
            assert_eq!(
                call(iso, &mut host, "next", &[], &[]).unwrap(),
                Reply::Integer(round)
            );
        }
    }
    // Dropped neither in creation order nor in its reverse.
    let second = isolates.remove(1);
    drop(isolates.remove(2));
    drop(second);
    assert_eq!(
        call(&mut isolates[0], &mut host, "next", &[], &[]).unwrap(),
        Reply::Integer(4)
    );
}

#[test]
fn optimized_code_reaches_the_fast_api_path() {
    let mut iso = isolate(
        "#!js name=lib\n\
         kiln.registerFunction('loop', (keys) => { let n = 0; for (let i = 0; i < 20000; i++) if (kiln.exists(keys[0])) n++; return n; });",
    );
    let mut host = host();
    host.data.insert(b"k".to_vec(), Bytes::from_static(b"v"));
    for _ in 0..20 {
        assert_eq!(
            call(&mut iso, &mut host, "loop", &["k"], &[]).unwrap(),
            Reply::Integer(20000)
        );
    }
    let stats = iso.stats();
    assert!(
        stats.fast_calls > 0,
        "TurboFan never took the fast path ({} slow calls)",
        stats.slow_calls
    );
}

/// The heap bombs [`heap_bomb_figures`] measures, by name: the three of the
/// review first, then C++ built-ins that allocate without ever checking for
/// termination (measured to show what the heap grant must cover).
const HEAP_BOMBS: [(&str, &str); 12] = [
    ("array_fill", "new Array(1.5e8).fill(0); return 'survived';"),
    ("repeat", "return 'x'.repeat(2 ** 29 - 100).length;"),
    ("push_loop", "const a = []; for (;;) a.push({});"),
    (
        "flatten",
        "return '\\u4e00'.repeat(2 ** 29 - 24).charCodeAt(7);",
    ),
    ("array_from", "return Array.from({ length: 3e7 }).length;"),
    (
        "array_from_huge",
        "return Array.from({ length: 2 ** 32 - 1 }).length;",
    ),
    (
        "to_reversed_huge",
        "const a = []; a.length = 2 ** 32 - 1; return a.toReversed().length;",
    ),
    (
        "to_reversed",
        "const a = []; a.length = 3e7; return a.toReversed().length;",
    ),
    (
        "with",
        "const a = []; a.length = 3e7; return a.with(0, 1).length;",
    ),
    (
        "spread_keys",
        "const a = []; a.length = 3e7; return [...a.keys()].length;",
    ),
    (
        "map_grow",
        "const m = new Map(); for (let i = 0; ; i++) m.set(i, i);",
    ),
    (
        "dict_grow",
        "const o = {}; for (let i = 0; ; i++) o['k' + i] = i;",
    ),
];

/// A figure from `/proc/self/status` in bytes (`VmHWM`: peak RSS).
fn proc_status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB")?.trim().parse::<usize>().ok())
        .map_or(0, |kb| kb << 10)
}

/// Peak RSS and run time of each heap bomb against a 64 MiB cap (and a
/// 10 s CPU budget, so the heap is what stops them), each in a child
/// process of its own (peak RSS is per process; a child killed by V8's
/// fatal OOM is reported as such). Run in release:
/// `cargo test -p kiln-isolates --release -- --ignored --nocapture heap_bomb_figures`.
#[test]
#[ignore = "prints figures; run in release"]
fn heap_bomb_figures() {
    let exe = std::env::current_exe().unwrap();
    for (name, _) in HEAP_BOMBS {
        let output = std::process::Command::new(&exe)
            .args([
                "--exact",
                "tests::heap_bomb_one",
                "--ignored",
                "--nocapture",
            ])
            .env("KILN_HEAP_BOMB", name)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let figures = stdout
            .lines()
            .find(|line| line.starts_with("heap bomb"))
            .map_or_else(
                || format!("heap bomb {name}: the process died ({})", output.status),
                str::to_owned,
            );
        println!("{figures}");
    }
}

/// One heap bomb, named by `KILN_HEAP_BOMB` (run by [`heap_bomb_figures`]).
#[test]
#[ignore = "run by heap_bomb_figures"]
fn heap_bomb_one() {
    let Ok(name) = std::env::var("KILN_HEAP_BOMB") else {
        return;
    };
    let body = HEAP_BOMBS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, body)| body)
        .expect("a known heap bomb");
    let limits = Limits {
        cpu_budget: Duration::from_secs(10),
        ..Limits::default()
    };
    let code = format!("#!js name=lib\nkiln.registerFunction('bomb', () => {{ {body} }});");
    let mut iso = isolate_with(&code, limits);
    let before = proc_status_bytes("VmHWM");
    let started = Instant::now();
    let outcome = call(&mut iso, &mut host(), "bomb", &[], &[]);
    let elapsed = started.elapsed();
    let peak = proc_status_bytes("VmHWM");
    println!(
        "heap bomb {name}: {:.0} ms, peak RSS {} MiB (before the call {} MiB), condemned {}, {outcome:?}",
        elapsed.as_secs_f64() * 1e3,
        peak >> 20,
        before >> 20,
        iso.is_condemned(),
    );
}

mod hardening;
