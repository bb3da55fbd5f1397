//! Storage functions end to end: the real server, driven by raw RESP,
//! redis-rs and `redis-cli -x`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use common::{Raw, TestServer, bulk};
use kiln_net::Reply;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/functions");

fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{EXAMPLES}/{name}")).expect("example library")
}

fn err(text: &str) -> Reply {
    Reply::error_owned(text.to_owned())
}

fn load(conn: &mut Raw, code: &str) -> Reply {
    conn.cmd(&["FUNCTION", "LOAD", code])
}

const LIB: &str = "#!js name=lib\n\
    kiln.registerFunction('echo', (keys, args) => [keys, args]);\n\
    kiln.registerFunction('get', (keys) => kiln.getString(keys[0]), { flags: ['no-writes'] });\n\
    kiln.registerFunction('set', (keys, args) => { kiln.put(keys[0], args[0]); return 'OK'; });\n\
    kiln.registerFunction('fail', (keys, args) => { throw new Error(args[0]); });\n\
    kiln.registerFunction('touch', (keys, args) => kiln.getString(args[0]));\n\
    kiln.registerFunction('call', (keys, args) => kiln.call(...args));";

#[test]
fn load_list_replace_delete_flush() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert_eq!(load(&mut c, LIB), bulk("lib"));
    assert_eq!(load(&mut c, LIB), err("ERR Library 'lib' already exists"));
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", "REPLACE", LIB]), bulk("lib"));
    assert_eq!(
        c.cmd(&["FUNCTION", "LOAD", "BOGUS", LIB]),
        err("ERR Unknown option given: BOGUS")
    );
    assert_eq!(
        load(
            &mut c,
            "#!js name=other\nkiln.registerFunction('echo', () => 1);"
        ),
        err("ERR Function echo already exists")
    );
    assert_eq!(
        load(&mut c, "no metadata"),
        err("ERR Missing library metadata")
    );
    assert_eq!(
        load(&mut c, "#!lua name=x\n"),
        err("ERR Engine 'lua' not found")
    );
    assert_eq!(
        load(&mut c, "#!js name=empty\n1;"),
        err("ERR No functions registered")
    );
    let Reply::Error(syntax) = load(
        &mut c,
        "#!js name=bad\nkiln.registerFunction('f', () => {\n  return )\n});",
    ) else {
        panic!("a syntax error loads")
    };
    assert!(
        syntax.starts_with("ERR Error compiling library 'bad': bad:3:10: SyntaxError"),
        "{syntax}"
    );

    let Reply::Array(libraries) = c.cmd(&["FUNCTION", "LIST"]) else {
        panic!("list")
    };
    assert_eq!(libraries.len(), 1);
    let Reply::Array(fields) = &libraries[0] else {
        panic!("RESP2 flattens the map")
    };
    assert_eq!(
        &fields[..4],
        &[
            bulk("library_name"),
            bulk("lib"),
            bulk("engine"),
            bulk("JS")
        ]
    );
    let Reply::Array(with_code) = c.cmd(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "l*"])
    else {
        panic!()
    };
    let Reply::Array(fields) = &with_code[0] else {
        panic!()
    };
    assert_eq!(fields[6..], [bulk("library_code"), bulk(LIB)]);
    assert_eq!(
        c.cmd(&["FUNCTION", "LIST", "LIBRARYNAME", "x*"]),
        Reply::Array(vec![])
    );
    assert_eq!(
        c.cmd(&["FUNCTION", "LIST", "LIBRARYNAME"]),
        err("ERR library name argument was not given")
    );

    assert_eq!(
        c.cmd(&["FUNCTION", "DELETE", "nope"]),
        err("ERR Library not found")
    );
    assert_eq!(c.cmd(&["FUNCTION", "DELETE", "lib"]), Reply::OK);
    assert_eq!(
        c.cmd(&["FCALL", "echo", "0"]),
        err("ERR Function not found")
    );
    assert_eq!(load(&mut c, LIB), bulk("lib"));
    assert_eq!(c.cmd(&["FUNCTION", "FLUSH", "ASYNC"]), Reply::OK);
    assert_eq!(c.cmd(&["FUNCTION", "LIST"]), Reply::Array(vec![]));
    assert_eq!(
        c.cmd(&["FUNCTION", "FLUSH", "LATER"]),
        err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    );
}

#[test]
fn dump_and_restore_with_each_policy() {
    let server = TestServer::start();
    let mut c = server.connect();
    load(&mut c, LIB);
    let Reply::Bulk(payload) = c.cmd(&["FUNCTION", "DUMP"]) else {
        panic!("dump")
    };
    let mut restore = |policy: &[u8]| {
        let mut args: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &payload];
        if !policy.is_empty() {
            args.push(policy);
        }
        c.cmd_bytes(&args)
    };
    assert_eq!(restore(b""), err("ERR Library 'lib' already exists"));
    assert_eq!(restore(b"REPLACE"), Reply::OK);
    assert_eq!(
        restore(b"MERGE"),
        err("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    );
    assert_eq!(c.cmd(&["FUNCTION", "FLUSH"]), Reply::OK);
    let mut restore = |policy: &[u8]| {
        let mut args: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", &payload];
        if !policy.is_empty() {
            args.push(policy);
        }
        c.cmd_bytes(&args)
    };
    assert_eq!(restore(b""), Reply::OK);
    assert_eq!(restore(b"FLUSH"), Reply::OK);
    assert_eq!(
        c.cmd(&["FCALL", "echo", "1", "k", "a"]),
        Reply::Array(vec![
            Reply::Array(vec![bulk("k")]),
            Reply::Array(vec![bulk("a")])
        ])
    );
    assert_eq!(
        c.cmd(&["FUNCTION", "RESTORE", "garbage"]),
        err("ERR payload version or checksum are wrong")
    );
}

#[test]
fn fcall_arguments_results_and_errors() {
    let server = TestServer::start();
    let mut c = server.connect();
    load(&mut c, LIB);
    assert_eq!(c.cmd(&["FCALL", "set", "1", "{t}k", "v"]), bulk("OK"));
    assert_eq!(c.cmd(&["FCALL_RO", "get", "1", "{t}k"]), bulk("v"));
    assert_eq!(c.cmd(&["GET", "{t}k"]), bulk("v"));
    assert_eq!(
        c.cmd(&["FCALL_RO", "set", "1", "{t}k", "w"]),
        err("ERR Can not execute a script with write flag using *_ro command.")
    );
    assert_eq!(c.cmd(&["FCALL", "fail", "0", "boom"]), err("ERR boom"));
    assert_eq!(
        c.cmd(&["FCALL", "fail", "0", "WRONGTYPE not a list"]),
        err("WRONGTYPE not a list")
    );
    assert_eq!(
        c.cmd(&["FCALL", "echo", "x"]),
        err("ERR Bad number of keys provided")
    );
    assert_eq!(
        c.cmd(&["FCALL", "echo", "3", "a"]),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        c.cmd(&["FCALL", "echo", "-1"]),
        err("ERR Number of keys can't be negative")
    );
    assert_eq!(
        c.cmd(&["FCALL", "nope", "0"]),
        err("ERR Function not found")
    );
    assert_eq!(
        c.cmd(&["FCALL", "call", "1", "{t}x", "SET", "{t}x", "1"]),
        bulk("OK")
    );
    assert_eq!(
        c.cmd(&["FCALL", "call", "1", "{t}x", "INCRBY", "{t}x", "41"]),
        Reply::Integer(42)
    );
    assert_eq!(
        c.cmd(&["FCALL", "call", "0", "FLUSHALL"]),
        err("ERR This command is not allowed from storage functions")
    );
    assert_eq!(
        c.cmd(&["FCALL", "call", "0", "FCALL", "echo", "0"]),
        err("ERR This command is not allowed from storage functions")
    );
    assert_eq!(
        c.cmd(&["FCALL", "call", "0", "NOSUCH"]),
        err("ERR unknown command 'NOSUCH', with args beginning with: ")
    );
}

#[test]
fn fcall_runs_on_the_core_owning_its_keys() {
    let server = TestServer::start();
    let mut c = server.connect();
    load(&mut c, LIB);
    let (k0, k1) = (server.key_on_core(0, "a"), server.key_on_core(1, "b"));
    // The main port forwards to the owner, whichever core received it.
    for key in [&k0, &k1] {
        assert_eq!(c.cmd(&["FCALL", "set", "1", key, "v"]), bulk("OK"));
        assert_eq!(c.cmd(&["GET", key]), bulk("v"));
    }
    assert_eq!(
        c.cmd(&["FCALL", "echo", "2", &k0, &k1]),
        err("CROSSSLOT Keys in request don't hash to the same slot")
    );
    // A key the function reaches on its own must be on its core too.
    let Reply::Error(e) = c.cmd(&["FCALL", "touch", "1", &k0, &k1]) else {
        panic!("cross-core read")
    };
    assert!(e.starts_with("CROSSSLOT"), "{e}");
    // A core port answers MOVED for another core's key, as a cluster node does.
    let mut core0 = Raw::connect(server.core_addrs[0]);
    let Reply::Error(moved) = core0.cmd(&["FCALL", "set", "1", &k1, "v"]) else {
        panic!("moved")
    };
    assert!(moved.starts_with("MOVED "), "{moved}");
    assert_eq!(core0.cmd(&["FCALL", "set", "1", &k0, "w"]), bulk("OK"));
}

#[test]
fn an_endless_loop_is_stopped_while_the_other_core_keeps_serving() {
    let server = TestServer::start_with(&["--function-cpu-budget", "400"]);
    let mut c = server.connect();
    load(
        &mut c,
        "#!js name=spin\nkiln.registerFunction('spin', () => { for (;;) {} });",
    );
    let spinning_key = server.key_on_core(0, "spin");
    // Core 1 keeps answering until the spinning call on core 0 returns.
    let mut other = Raw::connect(server.core_addrs[1]);
    let key = server.key_on_core(1, "live");
    let (reply, done, replies) = common::served_during(
        Raw::connect(server.addr),
        &["FCALL", "spin", "1", &spinning_key],
        &mut other,
        &key,
    );
    assert_eq!(
        reply,
        err("ERR Function 'spin' was terminated: it ran past its 400 ms CPU budget")
    );
    // The call ran for at least its 400 ms budget before `done`, so replies
    // in the 300 ms before `done` arrived while it was spinning.
    let window = done - Duration::from_millis(300);
    assert!(
        replies.iter().any(|at| *at > window),
        "core 1 did not answer while core 0 spun"
    );
    assert_eq!(
        c.cmd(&["PING"]),
        Reply::status("PONG"),
        "core 0 serves again"
    );
}

#[test]
fn function_kill_stops_a_call_on_another_core() {
    let server = TestServer::start_with(&["--function-cpu-budget", "20000"]);
    let mut c = Raw::connect(server.core_addrs[1]);
    load(
        &mut c,
        "#!js name=spin\nkiln.registerFunction('spin', () => { for (;;) {} });",
    );
    assert_eq!(
        c.cmd(&["FUNCTION", "KILL"]),
        err("NOTBUSY No scripts in execution right now.")
    );
    let addr = server.core_addrs[0];
    let spinner = thread::spawn(move || Raw::connect(addr).cmd(&["FCALL", "spin", "0"]));
    assert!(common::eventually(Duration::from_secs(10), || c
        .cmd(&["FUNCTION", "KILL"])
        == Reply::OK));
    assert_eq!(
        spinner.join().unwrap(),
        err("ERR Script killed by user with FUNCTION KILL")
    );
}

#[test]
fn a_heap_bomb_is_an_error_and_the_server_stays_up() {
    let server = TestServer::start_with(&[
        "--function-heap-limit",
        "32mb",
        "--function-cpu-budget",
        "20000",
    ]);
    let mut c = server.connect();
    load(
        &mut c,
        "#!js name=bomb\nkiln.registerFunction('bomb', () => { const a = []; for (;;) a.push(new Array(1e6).fill(1.5)); });\nkiln.registerFunction('ok', () => 'fine');",
    );
    assert_eq!(
        c.cmd(&["FCALL", "bomb", "0"]),
        err("ERR Function 'bomb' was terminated: it exceeded the 32 MiB heap limit")
    );
    assert_eq!(c.cmd(&["PING"]), Reply::status("PONG"));
    // The condemned isolate is rebuilt on next use.
    assert_eq!(c.cmd(&["FCALL", "ok", "0"]), bulk("fine"));
}

#[test]
fn functions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let server = TestServer::start_with(&["--dir", dir_arg]);
    let mut c = server.connect();
    assert_eq!(load(&mut c, &example("counter.js")), bulk("counter"));
    assert_eq!(c.cmd(&["FCALL", "hit", "1", "visits"]), Reply::Integer(1));
    assert!(server.stop().success());
    let server = TestServer::start_with(&["--dir", dir_arg]);
    let mut c = server.connect();
    // The stop saved a snapshot (a data directory brings Redis's save
    // schedule), so the key is back as well as the library.
    assert_eq!(
        c.cmd(&["FCALL", "hit", "1", "visits"]),
        Reply::Integer(2),
        "keys and functions both survive"
    );
    let Reply::Array(libraries) = c.cmd(&["FUNCTION", "LIST"]) else {
        panic!()
    };
    assert_eq!(libraries.len(), 1);
}

#[test]
fn example_libraries_work() {
    let server = TestServer::start();
    let mut c = server.connect();
    for file in ["counter.js", "json_doc.js", "friends.js"] {
        assert!(
            matches!(load(&mut c, &example(file)), Reply::Bulk(_)),
            "{file} loads"
        );
    }
    assert_eq!(
        c.cmd(&["FCALL", "hit", "1", "hits", "5", "60000"]),
        Reply::Integer(5)
    );
    assert_eq!(c.cmd(&["FCALL", "hit", "1", "hits"]), Reply::Integer(6));
    assert!(matches!(c.cmd(&["PTTL", "hits"]), Reply::Integer(ms) if ms > 0 && ms <= 60000));
    assert_eq!(
        c.cmd(&["FCALL_RO", "count", "1", "hits"]),
        Reply::Integer(6)
    );

    assert_eq!(
        c.cmd(&["FCALL", "json_set", "1", "doc", "address.city", "\"Lyon\""]),
        bulk(r#"{"address":{"city":"Lyon"}}"#)
    );
    assert_eq!(
        c.cmd(&["FCALL", "json_set", "1", "doc", "name", "\"Ada\""]),
        bulk(r#"{"address":{"city":"Lyon"},"name":"Ada"}"#)
    );
    assert_eq!(
        c.cmd(&["FCALL_RO", "json_get", "1", "doc", "address"]),
        bulk(r#"{"city":"Lyon"}"#)
    );
    assert_eq!(
        c.cmd(&["FCALL_RO", "json_get", "1", "doc", "nope.x"]),
        Reply::Nil
    );
    c.cmd(&["SET", "notjson", "{"]);
    assert_eq!(
        c.cmd(&["FCALL_RO", "json_get", "1", "notjson", "a"]),
        err("WRONGTYPE the value at this key is not a JSON document")
    );

    for (user, friends) in [
        ("alice", vec!["bob", "carol"]),
        ("bob", vec!["dave"]),
        ("carol", vec!["erin", "dave"]),
    ] {
        let key = format!("{{g}}:friends:{user}");
        let mut args = vec!["FCALL", "befriend", "1", &key];
        args.extend(friends.iter().copied());
        assert!(matches!(c.cmd(&args), Reply::Integer(_)));
    }
    let fof = c.cmd(&["FCALL_RO", "friends_of_friends", "1", "{g}:friends:alice"]);
    assert_eq!(fof, Reply::Array(vec![bulk("dave"), bulk("erin")]));
    let fof = c.cmd(&["FCALL_RO", "friends_of_friends", "1", "{g}:friends:dave"]);
    assert_eq!(fof, Reply::Array(vec![bulk("alice"), bulk("erin")]));
}

#[test]
fn redis_cli_loads_from_stdin_and_redis_rs_calls() {
    let server = TestServer::start();
    let port = server.addr.port().to_string();
    let mut cli = Command::new("redis-cli")
        .args(["-p", &port, "-x", "FUNCTION", "LOAD"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli is installed (.ci/run installs redis-tools)");
    cli.stdin
        .take()
        .unwrap()
        .write_all(example("counter.js").as_bytes())
        .unwrap();
    let out = cli.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "counter");

    let client = redis::Client::open(format!("redis://{}/", server.addr)).unwrap();
    let mut con = client.get_connection().unwrap();
    let n: i64 = redis::cmd("FCALL")
        .arg("hit")
        .arg(1)
        .arg("rs")
        .arg(3)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 3);
    let n: i64 = redis::cmd("FCALL_RO")
        .arg("count")
        .arg(1)
        .arg("rs")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 3);
    let listed: redis::Value = redis::cmd("FUNCTION").arg("LIST").query(&mut con).unwrap();
    assert!(format!("{listed:?}").contains("counter"));
    let error = redis::cmd("FCALL_RO")
        .arg("hit")
        .arg(1)
        .arg("rs")
        .query::<i64>(&mut con)
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("Can not execute a script with write flag"),
        "{error}"
    );
}

#[test]
fn info_reports_each_cores_isolates() {
    let server = TestServer::start();
    let mut c = server.connect();
    load(&mut c, LIB);
    for core in 0..2 {
        let key = server.key_on_core(core, "i");
        assert_eq!(c.cmd(&["FCALL", "set", "1", &key, "v"]), bulk("OK"));
    }
    let Reply::Bulk(info) = c.cmd(&["INFO", "functions"]) else {
        panic!("info")
    };
    let info = String::from_utf8_lossy(&info);
    assert!(info.starts_with("# Functions\r\n"), "{info}");
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {info}"))
    };
    // FUNCTION LOAD made an isolate on the core that took it; the calls
    // made sure each core has its own.
    assert_eq!(field("functions_isolates"), 2);
    assert_eq!(field("functions_isolates_created"), 2);
    assert_eq!(field("functions_isolates_evicted"), 0);
    assert!(field("functions_isolates_heap_bytes") > 0);
}

#[test]
fn bitmap_and_hyperloglog_commands_run_through_kiln_call() {
    let server = TestServer::start();
    let mut c = server.connect();
    load(&mut c, LIB);
    let call = |c: &mut Raw, words: &[&str]| {
        let mut args = vec!["FCALL", "call", "1", "{t}b"];
        args.extend_from_slice(words);
        c.cmd(&args)
    };
    assert_eq!(
        call(&mut c, &["SETBIT", "{t}b", "7", "1"]),
        Reply::Integer(0)
    );
    assert_eq!(call(&mut c, &["GETBIT", "{t}b", "7"]), Reply::Integer(1));
    assert_eq!(call(&mut c, &["BITCOUNT", "{t}b"]), Reply::Integer(1));
    assert_eq!(call(&mut c, &["BITPOS", "{t}b", "1"]), Reply::Integer(7));
    assert_eq!(
        call(
            &mut c,
            &[
                "BITFIELD", "{t}b", "INCRBY", "u8", "0", "2", "GET", "u4", "4"
            ]
        ),
        Reply::Array(vec![Reply::Integer(3), Reply::Integer(3)])
    );
    assert_eq!(
        call(&mut c, &["BITFIELD_RO", "{t}b", "GET", "u8", "0"]),
        Reply::Array(vec![Reply::Integer(3)])
    );
    assert_eq!(
        call(&mut c, &["BITOP", "NOT", "{t}b", "{t}b"]),
        Reply::Integer(1)
    );
    assert_eq!(
        c.cmd(&["GET", "{t}b"]),
        Reply::Bulk(bytes::Bytes::from_static(&[0xfc]))
    );
    assert_eq!(
        call(&mut c, &["PFADD", "{t}h", "a", "b"]),
        Reply::Integer(1)
    );
    assert_eq!(call(&mut c, &["PFCOUNT", "{t}h"]), Reply::Integer(2));
    assert_eq!(call(&mut c, &["PFMERGE", "{t}m", "{t}h"]), bulk("OK"));
    assert_eq!(
        call(&mut c, &["PFCOUNT", "{t}m", "{t}h"]),
        Reply::Integer(2)
    );
}

/// The stream worker example consumes with a consumer group and
/// acknowledges what it processed: nothing stays pending.
#[test]
fn stream_worker_example_reads_a_group_and_acks() {
    let server = TestServer::start();
    let mut c = server.connect();
    assert!(matches!(
        load(&mut c, &example("stream_worker.js")),
        Reply::Bulk(_)
    ));
    for (i, amount) in ["5", "7", "30"].iter().enumerate() {
        let id = format!("{}-1", i + 1);
        assert_eq!(
            c.cmd(&["XADD", "{orders}", &id, "amount", amount, "who", "x"]),
            bulk(&id)
        );
    }
    assert_eq!(
        c.cmd(&["XGROUP", "CREATE", "{orders}", "billing", "0"]),
        Reply::OK
    );
    let work = |c: &mut Raw, count: &str| {
        c.cmd(&[
            "FCALL",
            "work",
            "2",
            "{orders}",
            "{orders}:total",
            "billing",
            "w1",
            count,
        ])
    };
    assert_eq!(work(&mut c, "2"), Reply::Integer(2));
    assert_eq!(c.cmd(&["GET", "{orders}:total"]), bulk("12"));
    assert_eq!(work(&mut c, "10"), Reply::Integer(1));
    assert_eq!(work(&mut c, "10"), Reply::Integer(0));
    assert_eq!(c.cmd(&["GET", "{orders}:total"]), bulk("42"));
    let Reply::Array(summary) = c.cmd(&["XPENDING", "{orders}", "billing"]) else {
        panic!("XPENDING")
    };
    assert_eq!(summary[0], Reply::Integer(0));
}
