//! Memory bounds a hostile tenant must not get past: quotas inside one
//! storage-function call (checked before each host write, counting what it
//! adds), unsent replies charged to their tenant and counted in
//! `used_memory`, and `client-output-buffer-limit` cutting slow readers off.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{Raw, TestServer, bulk, eventually, info_field, tenant_field};
use kiln_net::Reply;

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
const MIB: u64 = 1 << 20;
/// A CPU budget (ms) no call here comes near, even in a debug build: the
/// calls must stop at a memory bound, not at the watchdog.
const BUDGET: &str = "2000";

/// Host writes of every kind, each generating its keys beside `keys[0]`'s
/// hash tag `{q}` so they live on the core the call runs on.
const LIB: &str = r#"#!js name=quota
kiln.registerFunction('mset', (keys, args) => {
  const value = 'x'.repeat(Number(args[1]));
  const parts = ['MSET'];
  for (let i = 0; i < Number(args[0]); i++) parts.push(`{q}m${i}`, value);
  return kiln.call(...parts);
});
kiln.registerFunction('puts', (keys, args) => {
  const value = 'x'.repeat(Number(args[1]));
  for (let i = 0; i < Number(args[0]); i++) kiln.put(`{q}p${i}`, value);
  return 'done';
});
kiln.registerFunction('incrs', (keys, args) => {
  for (let i = 0; i < Number(args[0]); i++) kiln.incr(`{q}i${i}`);
  return 'done';
});
kiln.registerFunction('dels', (keys, args) => {
  let n = 0;
  for (let i = 0; i < Number(args[0]); i++) n += kiln.del(`{q}p${i}`) ? 1 : 0;
  return n;
});"#;

fn oom() -> Reply {
    Reply::error(OOM)
}

/// Creates tenant `name` (password `pw`, not an admin) with `limits`
/// (`maxmemory=1mb` ...) through the admin connection, and logs in as it.
fn tenant(server: &TestServer, admin: &mut Raw, name: &str, limits: &[&str]) -> Raw {
    let mut rule = vec!["ACL", "SETUSER", name, "on", ">pw", "~*"];
    rule.extend_from_slice(limits);
    assert_eq!(admin.cmd(&rule), Reply::OK);
    let mut conn = server.connect();
    assert_eq!(conn.cmd(&["AUTH", name, "pw"]), Reply::OK);
    conn
}

fn fcall(conn: &mut Raw, function: &str, args: &[&str]) -> Reply {
    let mut parts = vec!["FCALL", function, "1", "{q}anchor"];
    parts.extend_from_slice(args);
    conn.cmd(&parts)
}

#[test]
fn one_kiln_call_mset_cannot_write_past_the_tenants_quota() {
    let server = TestServer::start_with(&["--maxmemory", "50mb", "--function-cpu-budget", BUDGET]);
    let mut admin = server.connect();
    let mut t1 = tenant(&server, &mut admin, "t1", &["maxmemory=1mb", "maxkeys=10"]);
    assert_eq!(t1.cmd(&["FUNCTION", "LOAD", LIB]), bulk("quota"));
    // 150 values of 200 KB in one MSET: 30 MB for a 1 MB quota.
    assert_eq!(fcall(&mut t1, "mset", &["150", "200000"]), oom());
    assert_eq!(t1.cmd(&["DBSIZE"]), Reply::Integer(0));
    assert!(tenant_field(&mut t1, "used_memory") < MIB);
    // Eleven small keys pass the memory quota but not the key quota.
    assert_eq!(fcall(&mut t1, "mset", &["11", "10"]), oom());
    assert_eq!(t1.cmd(&["DBSIZE"]), Reply::Integer(0));
    // What fits is written.
    assert_eq!(fcall(&mut t1, "mset", &["3", "1000"]), bulk("OK"));
    assert_eq!(t1.cmd(&["DBSIZE"]), Reply::Integer(3));
    assert_eq!(tenant_field(&mut t1, "rejected_commands"), 2);
    assert!(info_field(&mut admin, "used_memory") < 2 * MIB);
}

#[test]
fn a_loop_of_host_writes_stops_at_the_quota() {
    let server = TestServer::start_with(&["--maxmemory", "50mb", "--function-cpu-budget", BUDGET]);
    let mut admin = server.connect();
    let mut t1 = tenant(&server, &mut admin, "t1", &["maxmemory=1mb"]);
    assert_eq!(t1.cmd(&["FUNCTION", "LOAD", LIB]), bulk("quota"));
    // Each put is checked with what it adds, against the figures the
    // call's own earlier puts published.
    assert_eq!(fcall(&mut t1, "puts", &["150", "200000"]), oom());
    let Reply::Integer(stored) = t1.cmd(&["DBSIZE"]) else {
        panic!("DBSIZE")
    };
    assert!((1..=5).contains(&stored), "{stored} keys of 200 KB");
    assert!(tenant_field(&mut t1, "used_memory") <= MIB);
    // Deleting stays allowed at the quota; then the space is there again.
    assert_eq!(fcall(&mut t1, "dels", &["150"]), Reply::Integer(stored));
    assert_eq!(fcall(&mut t1, "puts", &["4", "200000"]), bulk("done"));

    let mut t2 = tenant(&server, &mut admin, "t2", &["maxkeys=10"]);
    assert_eq!(t2.cmd(&["FUNCTION", "LOAD", LIB]), bulk("quota"));
    assert_eq!(fcall(&mut t2, "incrs", &["50"]), oom());
    assert_eq!(t2.cmd(&["DBSIZE"]), Reply::Integer(10));
    // At the key quota, existing keys may still be written.
    assert_eq!(fcall(&mut t2, "incrs", &["10"]), bulk("done"));
    assert_eq!(t2.cmd(&["GET", "{q}i9"]), bulk("2"));
}

#[test]
fn host_writes_stop_at_the_servers_maxmemory() {
    let server = TestServer::start_with(&["--maxmemory", "5mb", "--function-cpu-budget", BUDGET]);
    let mut admin = server.connect();
    assert_eq!(admin.cmd(&["FUNCTION", "LOAD", LIB]), bulk("quota"));
    assert_eq!(fcall(&mut admin, "puts", &["150", "200000"]), oom());
    assert!(info_field(&mut admin, "used_memory") <= 5 * MIB);
    assert_eq!(fcall(&mut admin, "mset", &["30", "200000"]), oom());
    assert!(info_field(&mut admin, "used_memory") <= 5 * MIB);
}

/// A connection that reads as little as it can: a 4 KiB receive buffer,
/// so the kernel holds little of what the server sends it.
fn slow_reader(addr: SocketAddr) -> Raw {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    Raw::from_stream(TcpStream::from(socket))
}

/// True once the server has closed `conn`: what it sent before arrives,
/// then the end of the stream (or a reset), well before the read timeout.
fn closed(conn: &mut Raw) -> bool {
    let start = Instant::now();
    while conn.read_reply().is_some() {}
    start.elapsed() < Duration::from_secs(9)
}

/// `client_output_buffer_limit_disconnections` as an admin sees it.
fn output_disconnections(admin: &mut Raw) -> u64 {
    info_field(admin, "client_output_buffer_limit_disconnections")
}

#[test]
fn unsent_replies_count_as_the_tenants_memory() {
    const VALUE: u64 = 16 * MIB;
    let server = TestServer::start();
    let mut admin = server.connect();
    let mut t1 = tenant(&server, &mut admin, "t1", &["maxmemory=50mb"]);
    let value = "v".repeat(VALUE as usize);
    assert_eq!(t1.cmd(&["SET", "big", &value]), Reply::OK);
    assert_eq!(t1.cmd(&["SET", "small", "1"]), Reply::OK);
    let data = info_field(&mut admin, "used_memory");
    assert_eq!(info_field(&mut admin, "mem_clients_normal"), 0);

    // Three clients ask for the 16 MiB value and never read: ~48 MiB of
    // replies wait in the server (the kernel takes at most a few MiB).
    let mut readers = Vec::new();
    for n in 1..=3u64 {
        let mut reader = slow_reader(server.addr);
        assert_eq!(reader.cmd(&["AUTH", "t1", "pw"]), Reply::OK);
        reader.send(&["GET", "big"]);
        readers.push(reader);
        assert!(
            eventually(Duration::from_secs(10), || {
                info_field(&mut admin, "mem_clients_normal") >= n * (VALUE - 4 * MIB)
            }),
            "reply {n} is not counted"
        );
    }
    let buffered = info_field(&mut admin, "mem_clients_normal");
    assert!(info_field(&mut admin, "used_memory") >= data + buffered);
    assert!(tenant_field(&mut t1, "mem_clients_normal") >= 3 * (VALUE - 4 * MIB));
    // Data and unsent replies together pass the 50 MiB quota: writes are
    // refused, reads and deletes go on.
    assert_eq!(t1.cmd(&["SET", "small", "2"]), oom());
    assert_eq!(t1.cmd(&["GET", "small"]), bulk("1"));
    // A fourth reply would take the tenant's unsent replies past its
    // quota: that client is closed, the reply never built.
    let mut fourth = slow_reader(server.addr);
    assert_eq!(fourth.cmd(&["AUTH", "t1", "pw"]), Reply::OK);
    fourth.send(&["GET", "big"]);
    assert!(closed(&mut fourth));
    assert_eq!(output_disconnections(&mut admin), 1);
    // Another tenant and the admin are not held back by t1's buffers.
    let mut t2 = tenant(&server, &mut admin, "t2", &[]);
    assert_eq!(t2.cmd(&["SET", "k", "v"]), Reply::OK);

    drop(readers);
    assert!(eventually(Duration::from_secs(10), || {
        info_field(&mut admin, "mem_clients_normal") == 0
    }));
    assert_eq!(t1.cmd(&["SET", "small", "2"]), Reply::OK);
    assert_eq!(tenant_field(&mut t1, "mem_clients_normal"), 0);
}

#[test]
fn unsent_replies_count_against_the_servers_maxmemory() {
    const VALUE: u64 = 8 * MIB;
    let server = TestServer::start_with(&["--maxmemory", "24mb"]);
    let mut admin = server.connect();
    let value = "v".repeat(VALUE as usize);
    assert_eq!(admin.cmd(&["SET", "big", &value]), Reply::OK);
    let mut readers = Vec::new();
    for n in 1..=4u64 {
        let mut reader = slow_reader(server.addr);
        reader.send(&["GET", "big"]);
        readers.push(reader);
        assert!(eventually(Duration::from_secs(10), || {
            info_field(&mut admin, "mem_clients_normal") >= n * (VALUE - 4 * MIB)
        }));
    }
    assert!(eventually(Duration::from_secs(10), || {
        info_field(&mut admin, "used_memory") > 24 * MIB
    }));
    assert_eq!(admin.cmd(&["SET", "k", "v"]), oom());
    drop(readers);
    assert!(eventually(Duration::from_secs(10), || {
        admin.cmd(&["SET", "k", "v"]) == Reply::OK
    }));
}

#[test]
fn the_hard_output_limit_closes_a_client_that_does_not_read() {
    // The kernel takes a few MiB of a reply off the server's hands (about
    // 3 MiB on loopback, whatever the client's receive buffer); what stays
    // is what the limits see.
    let server = TestServer::start_with(&["--client-output-buffer-limit", "normal 8mb 0 0"]);
    let mut admin = server.connect();
    let value = "v".repeat(6 * MIB as usize);
    assert_eq!(admin.cmd(&["SET", "big", &value]), Reply::OK);
    // Under the hard limit the client may keep its reply unread.
    let mut reader = slow_reader(server.addr);
    reader.send(&["GET", "big"]);
    assert!(eventually(Duration::from_secs(10), || {
        info_field(&mut admin, "mem_clients_normal") >= MIB
    }));
    assert!(eventually(Duration::from_secs(10), || {
        info_field(&mut admin, "connected_clients") == 2
    }));
    assert_eq!(output_disconnections(&mut admin), 0);
    // The next reply would take it past 8 MiB: it is closed at once.
    reader.send(&["GET", "big"]);
    assert!(eventually(Duration::from_secs(10), || {
        output_disconnections(&mut admin) == 1
    }));
    assert!(closed(&mut reader));
    assert!(eventually(Duration::from_secs(10), || {
        info_field(&mut admin, "mem_clients_normal") == 0
    }));
}

#[test]
fn the_soft_output_limit_closes_a_client_that_stays_over_it() {
    let server = TestServer::start_with(&["--client-output-buffer-limit", "normal 0 1mb 2"]);
    let mut admin = server.connect();
    let value = "v".repeat(4 * MIB as usize);
    assert_eq!(admin.cmd(&["SET", "big", &value]), Reply::OK);
    let mut reader = slow_reader(server.addr);
    reader.send(&["GET", "big"]);
    assert!(eventually(Duration::from_secs(10), || {
        info_field(&mut admin, "mem_clients_normal") > MIB
    }));
    // Over the soft limit, but not yet for 2 seconds.
    assert_eq!(output_disconnections(&mut admin), 0);
    assert!(eventually(Duration::from_secs(10), || {
        output_disconnections(&mut admin) == 1
    }));
    assert!(closed(&mut reader));
    // A client that reads its reply is never closed.
    let mut fast = server.connect();
    for _ in 0..3 {
        assert_eq!(fast.cmd(&["STRLEN", "big"]), Reply::Integer(4 * MIB as i64));
        assert_eq!(fast.cmd(&["GET", "big"]), bulk(&value));
    }
    assert_eq!(output_disconnections(&mut admin), 1);
}

#[test]
fn config_get_prints_every_client_class() {
    let server = TestServer::start();
    let mut admin = server.connect();
    let get = |admin: &mut Raw| admin.cmd(&["CONFIG", "GET", "client-output-buffer-limit"]);
    let shown = |value: &str| Reply::Array(vec![bulk("client-output-buffer-limit"), bulk(value)]);
    assert_eq!(
        get(&mut admin),
        shown(
            "normal 1073741824 4194304 60 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        )
    );
    // Redis's defaults, set the way a Redis config sets them.
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 0 0"
        ]),
        Reply::OK
    );
    assert_eq!(
        get(&mut admin),
        shown("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
    );
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 16mb 4mb 30 replica 1gb 0 0"
        ]),
        Reply::OK
    );
    assert_eq!(
        get(&mut admin),
        shown("normal 0 0 0 slave 1073741824 0 0 pubsub 16777216 4194304 30")
    );
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 32mb 8mb 60"
        ]),
        Reply::OK
    );
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "master 1 2 3"
        ]),
        Reply::error(
            "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration."
        )
    );
    let started = TestServer::start_with(&["--client-output-buffer-limit", "pubsub 32mb 8mb 60"]);
    assert_eq!(
        get(&mut started.connect()),
        shown(
            "normal 1073741824 4194304 60 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        )
    );
}

#[test]
fn a_setbit_or_bitfield_far_out_is_refused_before_it_allocates() {
    let server = TestServer::start_with(&["--maxmemory", "50mb"]);
    let mut admin = server.connect();
    let mut t1 = tenant(&server, &mut admin, "t1", &["maxmemory=1mb"]);
    // 64 MiB of zero bytes would be needed: refused, and nothing was made.
    assert_eq!(t1.cmd(&["SETBIT", "far", "536870912", "1"]), oom());
    assert_eq!(
        t1.cmd(&["BITFIELD", "far", "SET", "u8", "536870912", "1"]),
        oom()
    );
    assert_eq!(t1.cmd(&["EXISTS", "far"]), Reply::Integer(0));
    assert!(tenant_field(&mut t1, "used_memory") < 1 << 20);
    // Within the quota it grows as Redis's does.
    assert_eq!(t1.cmd(&["SETBIT", "near", "8000", "1"]), Reply::Integer(0));
    assert_eq!(t1.cmd(&["STRLEN", "near"]), Reply::Integer(1001));
}

#[test]
fn bitmap_arguments_are_checked_before_the_key_as_in_redis_7_2() {
    let server = TestServer::start();
    let mut conn = server.connect();
    let syntax = Reply::error("ERR syntax error");
    assert_eq!(conn.cmd(&["BITCOUNT", "nosuchkey", "1"]), syntax);
    assert_eq!(
        conn.cmd(&["BITCOUNT", "nosuchkey", "0", "1", "BOGUS"]),
        syntax
    );
    assert_eq!(
        conn.cmd(&["BITPOS", "nosuchkey", "0", "a"]),
        Reply::error("ERR value is not an integer or out of range")
    );
}

#[test]
fn a_transactions_queue_is_the_tenants_memory() {
    let server = TestServer::start_with(&["--maxmemory", "50mb"]);
    let mut admin = server.connect();
    let mut t1 = tenant(&server, &mut admin, "t1", &["maxmemory=1mb"]);
    let value = "v".repeat(100 * 1024);
    assert_eq!(t1.cmd(&["MULTI"]), Reply::OK);
    // Queued commands hold their bytes until EXEC, in the tenant's figures.
    let mut refused = None;
    for i in 0..20 {
        match t1.cmd(&["ECHO", &value]) {
            Reply::Status(s) if s == "QUEUED" => {}
            other => {
                refused = Some((i, other));
                break;
            }
        }
    }
    let (at, reply) = refused.expect("a 1 MB tenant cannot queue 2 MB");
    assert_eq!(reply, oom());
    assert!((8..=11).contains(&at), "refused after about 1 MB, at {at}");
    assert!(matches!(t1.cmd(&["EXEC"]), Reply::Error(e) if e.starts_with("EXECABORT")));
    // Discarded: the tenant has its room back.
    assert_eq!(t1.cmd(&["SET", "k", &value]), Reply::OK);
}

#[test]
fn subscriptions_are_the_tenants_memory() {
    let server = TestServer::start_with(&["--maxmemory", "50mb"]);
    let mut admin = server.connect();
    let mut t1 = tenant(&server, &mut admin, "t1", &["maxmemory=1mb"]);
    let name = |i: usize| format!("{i:05}{}", "c".repeat(10 * 1024));
    // Each subscription holds its name twice: about 50 of 10 kB fit in 1 MB.
    let mut refused_at = None;
    for i in 0..100 {
        match t1.cmd(&["SUBSCRIBE", &name(i)]) {
            Reply::Array(_) => {}
            other => {
                assert_eq!(other, oom());
                refused_at = Some(i);
                break;
            }
        }
    }
    let at = refused_at.expect("a 1 MB tenant cannot hold 2 MB of subscriptions");
    assert!((40..=52).contains(&at), "refused after about 1 MB, at {at}");
    // Leaving them gives the room back.
    for i in 0..at {
        assert!(matches!(
            t1.cmd(&["UNSUBSCRIBE", &name(i)]),
            Reply::Array(_)
        ));
    }
    assert!(matches!(t1.cmd(&["SUBSCRIBE", &name(0)]), Reply::Array(_)));
}
