//! Whole-server behaviour over real sockets: expiry, protocol errors,
//! authentication, memory limits, RESP3, shutdown.

mod common;

use std::time::Duration;

use common::{Raw, TestServer, bulk, eventually};
use kiln_net::Reply;

#[test]
fn expired_keys_disappear() {
    let server = TestServer::start();
    let mut conn = server.connect();
    for core in 0..2 {
        let key = server.key_on_core(core, "ttl");
        assert_eq!(conn.cmd(&["SET", &key, "v", "PX", "50"]), Reply::OK);
        let Reply::Integer(pttl) = conn.cmd(&["PTTL", &key]) else {
            panic!()
        };
        assert!((0..=50).contains(&pttl));
        assert!(
            eventually(Duration::from_secs(5), || conn.cmd(&["GET", &key])
                == Reply::Nil),
            "key on core {core} never expired"
        );
        assert_eq!(conn.cmd(&["EXISTS", &key]), Reply::Integer(0));
    }
    // Active expiry reclaims keys nobody reads again.
    for i in 0..100 {
        conn.cmd(&["SET", &format!("active:{i}"), "v", "PX", "20"]);
    }
    assert!(eventually(Duration::from_secs(10), || conn
        .cmd(&["DBSIZE"])
        == Reply::Integer(0)));
}

#[test]
fn oversize_bulk_header_is_a_protocol_error_and_others_keep_working() {
    let server = TestServer::start();
    let mut other = server.connect();
    assert_eq!(other.cmd(&["SET", "k", "v"]), Reply::OK);

    let mut bad = server.connect();
    bad.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$600000000\r\n");
    assert_eq!(
        bad.read_reply(),
        Some(Reply::error("ERR Protocol error: invalid bulk length"))
    );
    assert!(bad.is_closed());

    let mut bad = server.connect();
    bad.send_raw(b"*1\r\n+PING\r\n");
    assert_eq!(
        bad.read_reply(),
        Some(Reply::error("ERR Protocol error: expected '$', got '+'"))
    );
    assert!(bad.is_closed());

    assert_eq!(other.cmd(&["GET", "k"]), bulk("v"));
}

#[test]
fn inline_commands_and_errors_match_redis() {
    let server = TestServer::start();
    let mut conn = server.connect();
    conn.send_raw(b"SET greeting \"hello world\"\r\nGET greeting\r\n");
    assert_eq!(conn.read_reply(), Some(Reply::OK));
    assert_eq!(conn.read_reply(), Some(bulk("hello world")));
    assert_eq!(
        conn.cmd(&["GET"]),
        Reply::error("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        conn.cmd(&["NOSUCH", "a"]),
        Reply::error("ERR unknown command 'NOSUCH', with args beginning with: 'a' ")
    );
    assert_eq!(conn.cmd(&["SET", "n", "x"]), Reply::OK);
    assert_eq!(
        conn.cmd(&["INCR", "n"]),
        Reply::error("ERR value is not an integer or out of range")
    );
    assert_eq!(
        conn.cmd(&["SET", "k", "v", "NX", "XX"]),
        Reply::error("ERR syntax error")
    );
}

#[test]
fn requirepass_gates_commands() {
    let server = TestServer::start_with(&["--requirepass", "s3cret"]);
    let mut conn = Raw::connect(server.addr);
    assert_eq!(
        conn.cmd(&["GET", "k"]),
        Reply::error("NOAUTH Authentication required.")
    );
    assert_eq!(
        conn.cmd(&["AUTH", "wrong"]),
        Reply::error("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(conn.cmd(&["AUTH", "default", "s3cret"]), Reply::OK);
    assert_eq!(conn.cmd(&["SET", "k", "v"]), Reply::OK);
    // Unauthenticated clients may not send big frames (as in Redis).
    let mut stranger = Raw::connect(server.addr);
    stranger.send_raw(b"*20\r\n");
    assert_eq!(
        stranger.read_reply(),
        Some(Reply::error(
            "ERR Protocol error: unauthenticated multibulk length"
        ))
    );
}

#[test]
fn maxmemory_refuses_writes_but_serves_reads() {
    let server = TestServer::start_with(&["--maxmemory", "2mb"]);
    let mut conn = server.connect();
    let value = "x".repeat(64 * 1024);
    let mut refused = false;
    for i in 0..200 {
        match conn.cmd(&["SET", &format!("big:{i}"), &value]) {
            Reply::Status(s) if s == "OK" => {}
            Reply::Error(e) => {
                assert_eq!(e, "OOM command not allowed when used memory > 'maxmemory'.");
                refused = true;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(refused, "2 MB limit never reached with 12 MB of writes");
    assert_eq!(conn.cmd(&["STRLEN", "big:0"]), Reply::Integer(64 * 1024));
    assert_eq!(
        conn.cmd(&["DEL", "big:0", "big:1", "big:2"]),
        Reply::Integer(3)
    );
}

#[test]
fn hello_3_switches_to_resp3() {
    let server = TestServer::start();
    let mut conn = server.connect();
    let Reply::Map(fields) = conn.cmd(&["HELLO", "3", "SETNAME", "tester"]) else {
        panic!("HELLO 3 reply is not a map")
    };
    assert!(fields.contains(&(bulk("proto"), Reply::Integer(3))));
    assert_eq!(conn.cmd(&["GET", "missing"]), Reply::Nil);
    assert_eq!(conn.cmd(&["CLIENT", "GETNAME"]), bulk("tester"));
    let Reply::Verbatim(_, info) = conn.cmd(&["INFO", "keyspace"]) else {
        panic!()
    };
    assert!(String::from_utf8_lossy(&info).contains("# Keyspace"));
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let server = TestServer::start();
    let mut conn = server.connect();
    assert_eq!(conn.cmd(&["SET", "k", "v"]), Reply::OK);
    let status = server.stop();
    assert!(status.success(), "{status:?}");
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let server = TestServer::start_with(&["--timeout", "1"]);
    let mut idle = server.connect();
    assert_eq!(idle.cmd(&["PING"]), Reply::status("PONG"));
    // The read blocks until the server closes the socket (or the 10 s
    // read timeout fails the test).
    assert!(idle.is_closed());
    let mut fresh = server.connect();
    assert_eq!(fresh.cmd(&["PING"]), Reply::status("PONG"));
}

#[test]
fn config_set_applies_on_every_core() {
    let server = TestServer::start();
    let mut admin = server.connect();
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "1kb"]), Reply::OK);
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "maxmemory"]),
        Reply::Array(vec![bulk("maxmemory"), bulk("1024")])
    );
    // Fill past the limit through one core, then write on both cores.
    let filler = "x".repeat(4096);
    admin.cmd(&["SET", "filler", &filler]);
    for core in 0..2 {
        let key = server.key_on_core(core, "after");
        assert_eq!(
            admin.cmd(&["SET", &key, "v"]),
            Reply::error("OOM command not allowed when used memory > 'maxmemory'.")
        );
    }
    assert_eq!(admin.cmd(&["CONFIG", "SET", "maxmemory", "0"]), Reply::OK);
    assert_eq!(admin.cmd(&["SET", "after", "v"]), Reply::OK);
}

#[test]
fn encoding_thresholds_set_through_one_core_apply_on_every_core() {
    let server = TestServer::start();
    let mut admin = server.connect();
    let set = [
        "CONFIG",
        "SET",
        "set-max-listpack-entries",
        "2",
        "set-max-listpack-value",
        "4",
    ];
    assert_eq!(admin.cmd(&set), Reply::OK);
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "set-max-listpack-entries"]),
        Reply::Array(vec![bulk("set-max-listpack-entries"), bulk("2")])
    );
    for core in 0..2 {
        let (small, big, long) = (
            server.key_on_core(core, "small"),
            server.key_on_core(core, "big"),
            server.key_on_core(core, "long"),
        );
        admin.cmd(&["SADD", &small, "a", "b"]);
        admin.cmd(&["SADD", &big, "a", "b", "c"]);
        admin.cmd(&["SADD", &long, "abcde"]);
        for (key, encoding) in [
            (&small, "listpack"),
            (&big, "hashtable"),
            (&long, "hashtable"),
        ] {
            assert_eq!(
                admin.cmd(&["OBJECT", "ENCODING", key]),
                bulk(encoding),
                "core {core}: {key}"
            );
        }
    }
}

#[test]
fn config_resetstat_clears_counters_on_every_core() {
    let server = TestServer::start();
    let mut conn = server.connect();
    for core in 0..2 {
        conn.cmd(&["GET", &server.key_on_core(core, "miss")]);
    }
    let stat = |conn: &mut Raw, name: &str| -> u64 {
        let Reply::Bulk(text) = conn.cmd(&["INFO", "stats"]) else {
            panic!()
        };
        String::from_utf8_lossy(&text)
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!("{name}:"))
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap()
    };
    assert_eq!(stat(&mut conn, "keyspace_misses"), 2);
    assert_eq!(conn.cmd(&["CONFIG", "RESETSTAT"]), Reply::OK);
    assert_eq!(stat(&mut conn, "keyspace_misses"), 0);
    // Each client request counts once, however many cores it touched.
    let before = stat(&mut conn, "total_commands_processed");
    let (k0, k1) = (server.key_on_core(0, "c"), server.key_on_core(1, "c"));
    assert_eq!(conn.cmd(&["MSET", &k0, "v", &k1, "v"]), Reply::OK);
    assert_eq!(conn.cmd(&["DBSIZE"]), Reply::Integer(2));
    assert_eq!(conn.cmd(&["GET", &k1]), common::bulk("v"));
    // MSET, DBSIZE, GET, and the INFO that reads the figure.
    assert_eq!(stat(&mut conn, "total_commands_processed"), before + 4);
}

#[test]
fn the_log_has_no_colour_codes_when_it_is_not_a_terminal() {
    // A port already taken: the server logs why it cannot start, and exits.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiln-server"))
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--core-port-base",
            "0",
        ])
        .args(["--dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("cannot start"), "{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a pipe: {log:?}");
}
