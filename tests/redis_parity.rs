//! The same command script against a real `redis-server` and Kiln's main
//! port; every reply must match. `.ci/run` installs redis-server (Debian).

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Raw, TestServer};
use kiln_net::Reply;

/// A throwaway redis-server on a free loopback port, killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server); .ci/run installs it");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::park_timeout(Duration::from_millis(10));
        }
        Redis { child, port }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Commands whose replies must be identical. Keys are spread over both
/// cores, so the main port's forwarding and splitting are exercised too.
const SCRIPT: &[&[&str]] = &[
    &["SET", "a", "1"],
    &["SET", "b", "hello", "NX"],
    &["SET", "b", "again", "NX"],
    &["SET", "b", "world", "XX", "GET"],
    &["SET", "nope", "x", "XX"],
    &["SET", "c", "v", "EX", "0"],
    &["SET", "c", "v", "EX", "-5"],
    &["SET", "c", "v", "PX", "abc"],
    &["SET", "c", "v", "NX", "XX"],
    &["SET", "c", "v", "EX", "10", "PX", "10"],
    &["SET", "c", "v", "KEEPTTL", "EX", "10"],
    &["SET"],
    &["GET", "a"],
    &["GET", "missing"],
    &["GET", "a", "b"],
    &["INCR", "a"],
    &["INCRBY", "a", "10"],
    &["INCRBY", "a", "x"],
    &["DECRBY", "a", "-9223372036854775808"],
    &["INCR", "b"],
    &["SET", "big", "9223372036854775807"],
    &["INCR", "big"],
    &["INCRBYFLOAT", "f", "10.5"],
    &["INCRBYFLOAT", "f", "0.1"],
    // Redis computes in long double: 10.6 + 5.0e3 prints as
    // 5010.60000000000000009 there, 5010.6 here (f64). Exact sums agree.
    &["INCRBYFLOAT", "f2", "5.0e3"],
    &["INCRBYFLOAT", "f2", "-2.5"],
    &["INCRBYFLOAT", "f", "abc"],
    &["APPEND", "s", "Hello"],
    &["APPEND", "s", " World"],
    &["STRLEN", "s"],
    &["STRLEN", "missing"],
    &["GETRANGE", "s", "0", "3"],
    &["GETRANGE", "s", "-3", "-1"],
    &["GETRANGE", "s", "5", "2"],
    &["GETRANGE", "s", "0", "-100"],
    &["SETRANGE", "s", "6", "Redis"],
    &["SETRANGE", "pad", "5", "x"],
    &["GET", "pad"],
    &["SETRANGE", "s", "-1", "x"],
    &["SETRANGE", "empty", "3", ""],
    &["EXISTS", "empty"],
    &["GETSET", "a", "100"],
    &["GETDEL", "a"],
    &["GETDEL", "a"],
    &["SETNX", "n1", "1"],
    &["SETNX", "n1", "2"],
    &["SETEX", "ex", "100", "v"],
    &["SETEX", "ex", "0", "v"],
    &["PSETEX", "pex", "100000", "v"],
    &["TTL", "ex"],
    &["TTL", "missing"],
    &["TTL", "n1"],
    &["PERSIST", "ex"],
    &["TTL", "ex"],
    &["EXPIRE", "ex", "100", "NX"],
    &["EXPIRE", "ex", "200", "NX"],
    &["EXPIRE", "ex", "50", "GT"],
    &["EXPIRE", "ex", "50", "LT"],
    &["EXPIRE", "ex", "50", "NX", "XX"],
    &["EXPIRE", "ex", "50", "GT", "LT"],
    &["EXPIRE", "ex", "50", "FOO"],
    &["TTL", "ex"],
    &["EXPIRE", "n1", "-1"],
    &["EXISTS", "n1"],
    &["EXPIRETIME", "missing"],
    &["EXPIRETIME", "b"],
    &["GETEX", "b", "PERSIST"],
    &["GETEX", "b", "EX", "0"],
    &["GETEX", "missing", "EX", "10"],
    &["MSET", "m1", "1", "m2", "2", "m3", "3", "m4", "4"],
    &["MSET", "m1", "1", "m2"],
    &["MGET", "m1", "m2", "missing", "m3", "m4"],
    &["MSETNX", "m1", "x", "new1", "y"],
    &["MSETNX", "new1", "x", "new2", "y"],
    &["EXISTS", "m1", "m2", "m1", "missing"],
    &["DEL", "m1", "m2", "missing"],
    &["UNLINK", "m3"],
    &["TOUCH", "m4", "m3"],
    &["TYPE", "m4"],
    &["TYPE", "missing"],
    &["OBJECT", "ENCODING", "m4"],
    // (Redis reports "raw" for any string APPEND or SETRANGE touched; Kiln
    // derives the encoding from the value, so compare freshly SET values.)
    &[
        "SET",
        "long",
        "0123456789012345678901234567890123456789012345",
    ],
    &["OBJECT", "ENCODING", "long"],
    &["SET", "short", "abc"],
    &["OBJECT", "ENCODING", "short"],
    &["OBJECT", "ENCODING", "missing"],
    &["RENAME", "missing", "x"],
    &["RENAME", "m4", "m5"],
    &["GET", "m5"],
    &["RENAMENX", "m5", "s"],
    &["RENAMENX", "m5", "m6"],
    &["COPY", "m6", "m7"],
    &["COPY", "m6", "m7"],
    &["COPY", "m6", "m7", "REPLACE"],
    &["COPY", "m6", "m6"],
    &["GET", "m7"],
    &["PING"],
    &["PING", "hi"],
    &["ECHO", "x"],
    &["ECHO"],
    &["SELECT", "0"],
    &["SELECT", "x"],
    &["NOSUCHCMD", "a", "b"],
    &["CLIENT", "SETNAME", "bad name"],
    &["CLIENT", "SETNAME", "good"],
    &["CLIENT", "GETNAME"],
    &["CLIENT", "NOSUCH"],
    &["CONFIG", "GET", "maxmemory-policy"],
    &["CONFIG", "GET", "appendonly"],
    &["CONFIG", "SET", "nosuch", "1"],
    &["AUTH", "x"],
    &["SET", "ov", "v", "EX", "9223372036854775807"],
    &["SET", "ov", "v", "PX", "9223372036854775807"],
    &["SET", "ov", "v", "EXAT", "1"],
    &["EXISTS", "ov"],
    &["SET", "ov", "v"],
    &["EXPIRE", "ov", "9223372036854775807"],
    &["PEXPIREAT", "ov", "-1"],
    &["EXISTS", "ov"],
    &["SETRANGE", "ov", "536870912", "x"],
    &["SETRANGE", "ov", "9223372036854775807", "x"],
    &["INCRBYFLOAT", "f3", "inf"],
    &["SET", "fl", "1.5"],
    &["INCRBY", "fl", "1"],
    &["INCRBYFLOAT", "fl", "1"],
    &["GETRANGE", "s", "-100", "100"],
    &[
        "GETRANGE",
        "s",
        "9223372036854775807",
        "-9223372036854775808",
    ],
    &["GETRANGE", "s", "x", "1"],
    &["APPEND", "newapp", ""],
    &["EXISTS", "newapp"],
    &["MSETNX", "dup", "1", "dup", "2"],
    &["GET", "dup"],
    &["RENAME", "dup", "dup"],
    &["RENAMENX", "dup", "dup"],
    &["RENAME", "nokey", "nokey"],
    &["COPY", "dup", "x", "DB", "x"],
    &["COPY", "dup", "x", "FOO"],
    &["OBJECT", "FREQ", "dup"],
    &["OBJECT"],
    &["GETEX", "dup", "PXAT", "1"],
    &["EXISTS", "dup"],
    &["GETEX", "s", "EX", "10", "PX", "10"],
    &["GETEX", "s", "PERSIST", "EX", "1"],
    &["SETEX", "se", "x", "v"],
    &["SETEX", "se", "9223372036854775807", "v"],
    &["PSETEX", "se", "-1", "v"],
    &["EXPIRE", "s", "100", "GT"],
    &["TTL", "s"],
    &["EXPIRE", "s", "100", "XX", "LT"],
    &["TTL", "s"],
    &["PERSIST", "missing"],
    &["TYPE"],
    &["DEL"],
    &["MGET"],
    &["KEYS", "s*"],
    &["SCAN", "x"],
    &["SCAN", "0", "COUNT", "0"],
    &["SCAN", "0", "COUNT", "x"],
    &["SCAN", "0", "FOO", "bar"],
    &["ECHO", "a", "b"],
    &["PING", "a", "b"],
    &["HELLO", "4"],
    &["HELLO", "x"],
    &["CONFIG", "GET"],
    &["CONFIG", "SET", "maxmemory"],
    &["CONFIG", "SET", "maxmemory", "abc"],
    &["FLUSHALL", "FOO"],
    &["FLUSHALL"],
    &["DBSIZE"],
    &["KEYS", "*"],
    &["RANDOMKEY"],
];

/// RESP3 shapes: nulls, maps, doubles-as-bulk, booleans-free replies.
const RESP3_SCRIPT: &[&[&str]] = &[
    &["GET", "missing"],
    &["SET", "k", "v"],
    &["SET", "k", "w", "GET"],
    &["MGET", "k", "missing"],
    &["INCRBYFLOAT", "f", "1.5"],
    &["CONFIG", "GET", "maxmemory-policy"],
    &["CONFIG", "GET", "save"],
    &["EXPIRE", "k", "100"],
    &["TTL", "k"],
    &["GETEX", "missing"],
    &["SET", "k", "v", "XX", "NX"],
    &["CLIENT", "GETNAME"],
    &["TYPE", "k"],
    &["OBJECT", "ENCODING", "missing"],
    &["KEYS", "nothing*"],
    &["SCAN", "0", "MATCH", "nothing*"],
    &["FLUSHALL"],
];

/// The ACL subset tenants are managed with: replies and errors as Redis's.
const ACL_SCRIPT: &[&[&str]] = &[
    &["ACL", "WHOAMI"],
    &["ACL", "SETUSER", "alice", "on", ">p1"],
    &["ACL", "SETUSER", "alice", "bogus"],
    &["ACL", "SETUSER", "alice", "#abc"],
    &["ACL", "SETUSER", "bob", "off", "nopass", "resetpass"],
    &["ACL", "USERS"],
    &["AUTH", "alice", "wrong"],
    &["AUTH", "nobody", "p1"],
    &["AUTH", "bob", "anything"],
    &["HELLO", "3", "AUTH", "alice", "wrong"],
    &["ACL", "GETUSER", "nobody"],
    &["ACL", "CAT", "nosuch"],
    &["ACL", "DELUSER", "default"],
    &["ACL", "DELUSER", "alice", "bob", "nobody"],
    &["AUTH", "alice", "p1"],
    &["ACL", "USERS"],
    &["ACL", "WHOAMI"],
];

#[test]
fn acl_replies_match_redis_7() {
    compare(&[], ACL_SCRIPT);
}

#[test]
fn replies_match_redis_7() {
    compare(&[], SCRIPT);
}

#[test]
fn resp3_replies_match_redis_7() {
    compare(&["HELLO", "3"], RESP3_SCRIPT);
}

/// Runs `setup` (reply not compared) then `script` on both servers.
fn compare(setup: &[&str], script: &[&[&str]]) {
    let redis = Redis::start();
    let kiln = TestServer::start();
    let mut r = Raw::connect(format!("127.0.0.1:{}", redis.port).parse().unwrap());
    let mut k = kiln.connect();
    if !setup.is_empty() {
        r.cmd(setup);
        k.cmd(setup);
    }
    let mut mismatches = Vec::new();
    for command in script {
        let (mut want, mut got) = (r.cmd(command), k.cmd(command));
        if command[0].eq_ignore_ascii_case("KEYS") {
            // KEYS promises no order (both servers walk hash tables).
            sort_array(&mut want);
            sort_array(&mut got);
        }
        if want != got {
            mismatches.push(format!("{command:?}\n  redis: {want:?}\n  kiln:  {got:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

fn sort_array(reply: &mut Reply) {
    if let Reply::Array(items) = reply {
        items.sort_by_key(|item| format!("{item:?}"));
    }
}
