//! The storage-function calls of `kiln-client` against the real server:
//! load, FCALL / FCALL_RO routed to the core owning their keys, FUNCTION
//! LIST parsed in RESP2 and RESP3, delete, and a dump/restore round trip.

mod common;

use common::TestServer;
use kiln_client::cli::snippet;
use kiln_client::{Client, Error, FunctionInfo, FunctionRestorePolicy, LibraryInfo, Reply};

/// The example counter library: `hit` and `count` (no-writes, described).
const COUNTER: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/functions/counter.js"
));

const TOOLS: &str = "#!js name=tools\n\
    kiln.registerFunction('echo', (keys, args) => [keys, args], { flags: ['no-writes', 'allow-stale'] });\n\
    kiln.registerFunction('fail', (keys, args) => { throw new Error(args[0]); });\n";

const NONE: &[&str] = &[];

/// `kiln_forwarded_requests` from INFO: commands a core sent on to another.
fn forwarded(client: &mut Client) -> u64 {
    let info = client.info(Some("stats")).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("kiln_forwarded_requests:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("kiln_forwarded_requests in INFO")
}

fn counter_info(code: bool) -> LibraryInfo {
    LibraryInfo {
        name: "counter".into(),
        engine: "JS".into(),
        functions: vec![
            FunctionInfo {
                name: "hit".into(),
                description: None,
                flags: vec![],
            },
            FunctionInfo {
                name: "count".into(),
                description: Some("The current count (0 when absent)".into()),
                flags: vec!["no-writes".into()],
            },
        ],
        code: code.then(|| COUNTER.to_owned()),
    }
}

#[test]
fn fcall_goes_straight_to_the_core_owning_its_keys() {
    let server = TestServer::start();
    let mut client = Client::connect(server.addr).unwrap();
    assert_eq!(client.function_load(COUNTER, false).unwrap(), "counter");
    assert_eq!(client.function_load(TOOLS, false).unwrap(), "tools");
    let before = forwarded(&mut client);
    for core in 0..2 {
        let key = server.key_on_core(core, "visits");
        assert_eq!(
            client.fcall("hit", &[&key], &["5"]).unwrap(),
            Reply::Integer(5)
        );
        assert_eq!(
            client.fcall("hit", &[&key], NONE).unwrap(),
            Reply::Integer(6)
        );
        assert_eq!(
            client.fcall_ro("count", &[&key], NONE).unwrap(),
            Reply::Integer(6)
        );
        assert_eq!(client.get(&key).unwrap().as_deref(), Some(&b"6"[..]));
    }
    // Several keys sharing a slot through a hash tag, and no keys at all.
    let echoed = client.fcall_ro("echo", &["{t}a", "{t}b"], &["x"]).unwrap();
    assert_eq!(
        echoed,
        Reply::Array(vec![
            Reply::Array(vec![common::bulk("{t}a"), common::bulk("{t}b")]),
            Reply::Array(vec![common::bulk("x")]),
        ])
    );
    assert_eq!(
        client.fcall("echo", NONE, NONE).unwrap(),
        Reply::Array(vec![Reply::Array(vec![]), Reply::Array(vec![])])
    );
    // Pipelined calls go to their cores too, replies in order.
    let keys = [
        server.key_on_core(0, "visits"),
        server.key_on_core(1, "visits"),
    ];
    let replies = client
        .pipeline()
        .fcall("hit", &[&keys[0]], &["10"])
        .fcall_ro("count", &[&keys[1]], NONE)
        .fcall("hit", &[&keys[1]], &["10"])
        .fcall_ro("count", &[&keys[0]], NONE)
        .query()
        .unwrap();
    assert_eq!(replies, [16, 6, 16, 16].map(Reply::Integer));
    assert_eq!(forwarded(&mut client), before, "FCALL was forwarded");

    // Keys in two slots of one core go by the main port, which runs the call
    // on that core; keys on two cores cannot meet in one call.
    let (a, b) = (server.key_on_core(1, "a"), server.key_on_core(1, "b"));
    assert_ne!(
        kiln_net::slot::key_slot(a.as_bytes()),
        kiln_net::slot::key_slot(b.as_bytes())
    );
    assert_eq!(
        client.fcall_ro("echo", &[&a, &b], NONE).unwrap(),
        Reply::Array(vec![
            Reply::Array(vec![common::bulk(&a), common::bulk(&b)]),
            Reply::Array(vec![]),
        ])
    );
    let (a, b) = (server.key_on_core(0, "a"), server.key_on_core(1, "b"));
    let apart = client.fcall_ro("echo", &[&a, &b], NONE).unwrap_err();
    assert_eq!(apart.code(), Some("CROSSSLOT"), "{apart}");
    let before = forwarded(&mut client);

    // The same calls through the main port alone get forwarded: the check
    // above can tell.
    let mut unrouted = Client::builder()
        .cluster(false)
        .connect(server.addr)
        .unwrap();
    for core in 0..2 {
        let key = server.key_on_core(core, "visits");
        unrouted.fcall("hit", &[&key], NONE).unwrap();
    }
    assert!(forwarded(&mut client) > before);

    // Errors: a thrown Error, a write through FCALL_RO, an unknown function.
    let thrown = client.fcall("fail", NONE, &["boom"]).unwrap_err();
    assert_eq!(thrown.to_string(), "ERR boom");
    let coded = client.fcall("fail", NONE, &["NOPE not today"]).unwrap_err();
    assert_eq!(coded.code(), Some("NOPE"));
    let key = server.key_on_core(1, "visits");
    let read_only = client.fcall_ro("hit", &[&key], NONE).unwrap_err();
    assert_eq!(read_only.code(), Some("ERR"));
    let missing = client.fcall("nope", NONE, NONE).unwrap_err();
    assert_eq!(missing.to_string(), "ERR Function not found");
    // 16, one more by the unrouted client, none by the refused FCALL_RO.
    assert_eq!(client.get(&key).unwrap().as_deref(), Some(&b"17"[..]));
}

#[test]
fn load_errors_name_the_place_in_the_library() {
    let server = TestServer::start();
    let mut client = Client::connect(server.addr).unwrap();
    let bad = "#!js name=bad\nkiln.registerFunction('f', () => {\n  return )\n});";
    let Err(Error::Server { code, message }) = client.function_load(bad, false) else {
        panic!("a syntax error loads")
    };
    assert_eq!(code, "ERR");
    let located = snippet::locate(&message).expect("a location");
    assert_eq!(located.headline, "Error compiling library 'bad'");
    assert_eq!(
        (
            located.location.library,
            located.location.line,
            located.location.column
        ),
        ("bad", 3, 10)
    );
    assert!(located.message.starts_with("SyntaxError"), "{message}");

    client.function_load(COUNTER, false).unwrap();
    let taken = client.function_load(COUNTER, false).unwrap_err();
    assert_eq!(taken.to_string(), "ERR Library 'counter' already exists");
    assert_eq!(client.function_load(COUNTER, true).unwrap(), "counter");
}

#[test]
fn list_delete_dump_and_restore() {
    let server = TestServer::start();
    let mut resp2 = Client::connect(server.addr).unwrap();
    let mut resp3 = Client::builder().resp3(true).connect(server.addr).unwrap();
    resp2.function_load(COUNTER, false).unwrap();
    resp2.function_load(TOOLS, false).unwrap();

    for client in [&mut resp2, &mut resp3] {
        let all = client.function_list(None, false).unwrap();
        let mut names: Vec<&str> = all.iter().map(|l| l.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["counter", "tools"]);
        let tools = all.iter().find(|l| l.name == "tools").unwrap();
        assert_eq!(tools.functions[0].flags, ["no-writes", "allow-stale"]);
        assert_eq!(tools.functions[1].name, "fail");
        assert_eq!(
            client.function_list(Some("c*"), false).unwrap(),
            [counter_info(false)]
        );
        assert_eq!(
            client.function_list(Some("count?r"), true).unwrap(),
            [counter_info(true)]
        );
        assert_eq!(client.function_list(Some("x*"), true).unwrap(), []);
    }

    let payload = resp2.function_dump().unwrap();
    let listed = |client: &mut Client| {
        let mut all = client.function_list(None, true).unwrap();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    };
    let original = listed(&mut resp2);

    resp2.function_delete("tools").unwrap();
    assert_eq!(listed(&mut resp2), [counter_info(true)]);
    let gone = resp2.function_delete("tools").unwrap_err();
    assert_eq!(gone.to_string(), "ERR Library not found");

    // APPEND refuses names already loaded; REPLACE and FLUSH do not.
    let clash = resp2
        .function_restore(&payload, FunctionRestorePolicy::Append)
        .unwrap_err();
    assert_eq!(clash.code(), Some("ERR"));
    resp2
        .function_restore(&payload, FunctionRestorePolicy::Replace)
        .unwrap();
    assert_eq!(listed(&mut resp2), original);

    resp2.function_flush().unwrap();
    assert_eq!(listed(&mut resp2), []);
    resp2
        .function_restore(&payload, FunctionRestorePolicy::Append)
        .unwrap();
    assert_eq!(listed(&mut resp2), original);
    resp2.function_delete("counter").unwrap();
    resp2
        .function_restore(&payload, FunctionRestorePolicy::Flush)
        .unwrap();
    assert_eq!(listed(&mut resp3), original);

    let corrupt = resp2
        .function_restore(b"not a payload", FunctionRestorePolicy::Flush)
        .unwrap_err();
    assert_eq!(corrupt.code(), Some("ERR"));
    assert_eq!(listed(&mut resp2), original);
}
