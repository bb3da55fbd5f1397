//! Hostile JavaScript against the real server: values that claim huge
//! sizes, thrown values whose `toString` never returns, replaced built-ins
//! and a patched `transferToImmutable`. Each of these aborted the process,
//! hung a core or rewrote a stored value before the isolate layer treated
//! every tenant value as hostile.

mod common;

use std::time::{Duration, Instant};

use common::{Raw, TestServer, bulk};
use kiln_net::Reply;

fn load(conn: &mut Raw, code: &str) -> Reply {
    conn.cmd(&["FUNCTION", "LOAD", code])
}

fn error_text(reply: &Reply) -> String {
    match reply {
        Reply::Error(text) => text.to_string(),
        other => panic!("expected an error reply, got {other:?}"),
    }
}

/// The server's peak resident memory (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

/// Every core still answers.
fn assert_every_core_serves(server: &TestServer) {
    for addr in &server.core_addrs {
        assert_eq!(
            Raw::connect(*addr).cmd(&["PING"]),
            Reply::status("PONG"),
            "core at {addr} stopped serving"
        );
    }
}

const HUGE: &str = "#!js name=huge\n\
const sparse = (n) => { const a = []; a.length = n; return a; };\n\
kiln.registerFunction('mget_list', () => kiln.mget(sparse(2 ** 32 - 1)));\n\
kiln.registerFunction('mget_spread', () => kiln.mget(...sparse(2 ** 32 - 1)));\n\
kiln.registerFunction('sparse', () => sparse(2 ** 32 - 1));\n\
kiln.registerFunction('holes', () => sparse(6e7));\n\
kiln.registerFunction('ok', () => 'fine');";

#[test]
fn huge_lengths_answer_errors_and_the_server_stays_up() {
    let server = TestServer::start_with(&["--function-cpu-budget", "2000"]);
    let mut c = server.connect();
    assert_eq!(load(&mut c, HUGE), bulk("huge"));
    let started = Instant::now();
    assert_eq!(
        c.cmd(&["FCALL", "mget_list", "0"]),
        Reply::error("ERR kiln.mget takes at most 1048576 keys")
    );
    // The tenant's own spread of 2^32 arguments runs out of its heap (or V8
    // refuses it); either way an error, and the isolate is rebuilt.
    let spread = c.cmd(&["FCALL", "mget_spread", "0"]);
    assert!(spread.is_error(), "{spread:?}");
    for name in ["sparse", "holes"] {
        assert_eq!(
            c.cmd(&["FCALL", name, "0"]),
            Reply::error("ERR Function reply exceeds the 64 MiB reply limit"),
            "{name}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(c.cmd(&["FCALL", "ok", "0"]), bulk("fine"));
    assert_every_core_serves(&server);
    // Before, kiln.mget(a) asked for 34 GB at once (an abort) and the holes
    // became 60M nil replies (2.4 GB).
    let peak = peak_rss(server.pid());
    assert!(peak < 512 << 20, "peak RSS {} MiB", peak >> 20);
}

#[test]
fn a_load_whose_exception_never_stringifies_answers_within_its_budget() {
    let server = TestServer::start_with(&["--function-load-timeout", "300"]);
    let mut c = server.connect();
    let libraries = [
        "#!js name=trap\nthrow { toString() { for (;;) {} } };",
        "#!js name=trap\nconst e = new Error('x');\nObject.defineProperty(e, 'message', { get() { for (;;) {} } });\nthrow e;",
        "#!js name=trap\nArray.from = () => { for (;;) {} };\nconst x = 1;",
    ];
    for code in libraries {
        let started = Instant::now();
        let reply = load(&mut c, code);
        let text = error_text(&reply);
        assert!(
            text.starts_with("ERR Error registering functions: trap:")
                || text == "ERR No functions registered",
            "{text}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(1000),
            "{code}: answered after {:?}",
            started.elapsed()
        );
        assert_every_core_serves(&server);
    }
    // A library that replaced Array.from (which registration once called)
    // still loads, and its function works.
    let patched = "#!js name=patched\n\
                   Array.from = () => { for (;;) {} };\n\
                   Array.prototype[Symbol.iterator] = function* () { for (;;) {} };\n\
                   kiln.registerFunction('still', () => 'works');";
    let started = Instant::now();
    assert_eq!(load(&mut c, patched), bulk("patched"));
    assert!(started.elapsed() < Duration::from_millis(1000));
    assert_eq!(c.cmd(&["FCALL", "still", "0"]), bulk("works"));
}

#[test]
fn a_thrown_trap_in_a_call_does_not_hold_its_core() {
    let server = TestServer::start_with(&["--function-cpu-budget", "200"]);
    let mut c = server.connect();
    let code = "#!js name=calls\n\
                kiln.registerFunction('trap', () => { throw { toString() { for (;;) {} } }; });";
    assert_eq!(load(&mut c, code), bulk("calls"));
    let key = server.key_on_core(0, "trap");
    let mut other = Raw::connect(server.core_addrs[1]);
    let live = server.key_on_core(1, "live");
    let (reply, _done, _replies) = common::served_during(
        server.connect(),
        &["FCALL", "trap", "1", &key],
        &mut other,
        &live,
    );
    assert_eq!(reply, Reply::error("ERR [object Object]"));
    assert_every_core_serves(&server);
}

#[test]
fn a_read_only_call_cannot_write_a_stored_value_through_its_view() {
    let server = TestServer::start_with(&["--function-cpu-budget", "1000"]);
    let mut c = server.connect();
    let code = "#!js name=views\n\
                ArrayBuffer.prototype.transferToImmutable = function () { return this; };\n\
                kiln.registerFunction('scribble', (keys) => {\n\
                  const view = kiln.get(keys[0]);\n\
                  try { view.fill(0x7a); } catch (e) {}\n\
                  view[0] = 0x7a;\n\
                  return [view.buffer.immutable === true, String.fromCharCode(view[0])];\n\
                }, { flags: ['no-writes'] });";
    assert_eq!(load(&mut c, code), bulk("views"));
    assert_eq!(c.cmd(&["SET", "{v}k", "aaaaaaaa"]), Reply::OK);
    assert_eq!(
        c.cmd(&["FCALL_RO", "scribble", "1", "{v}k"]),
        Reply::Array(vec![Reply::Integer(1), bulk("a")])
    );
    assert_eq!(c.cmd(&["GET", "{v}k"]), bulk("aaaaaaaa"));
}
