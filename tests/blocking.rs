//! Blocking pops against the real server: a waiter is served by a push
//! from any client of its tenant (on any core's connection), in the order
//! clients blocked; timeouts, `CLIENT UNBLOCK`, closed clients, the
//! requests a blocked client sent after its pop, and the main port's rule
//! for keys on several cores.

mod common;

use std::time::{Duration, Instant};

use common::{Raw, TestServer, bulk, eventually, login, tenant_config};
use kiln_net::Reply;

const WAIT: Duration = Duration::from_secs(10);

fn client_id(conn: &mut Raw) -> i64 {
    let Reply::Integer(id) = conn.cmd(&["CLIENT", "ID"]) else {
        panic!("CLIENT ID")
    };
    id
}

/// How many clients `CLIENT LIST` shows blocked (`flags=b`).
fn blocked_clients(conn: &mut Raw) -> usize {
    let Reply::Bulk(list) = conn.cmd(&["CLIENT", "LIST"]) else {
        panic!("CLIENT LIST")
    };
    String::from_utf8_lossy(&list)
        .lines()
        .filter(|l| l.contains(" flags=b "))
        .count()
}

/// Waits until `n` clients are blocked, as `watcher` sees it.
fn until_blocked(watcher: &mut Raw, n: usize) {
    let blocked = eventually(WAIT, || blocked_clients(watcher) == n);
    assert!(
        blocked,
        "{n} clients never blocked: {:?}",
        watcher.cmd(&["CLIENT", "LIST"])
    );
}

fn pair(key: &str, item: &str) -> Reply {
    Reply::Array(vec![bulk(key), bulk(item)])
}

#[test]
fn a_push_on_another_cores_connection_serves_the_waiter() {
    let server = TestServer::start();
    for (waiter_core, pusher_core) in [(0, 1), (1, 0)] {
        // The key lives on the pusher's core: the waiter's request was
        // forwarded there and waits there; the push runs there.
        let key = server.key_on_core(pusher_core, &format!("q{waiter_core}-"));
        let mut waiter = server.connect_on_core(waiter_core);
        let mut pusher = server.connect_on_core(pusher_core);
        waiter.send(&["BLPOP", &key, "0"]);
        until_blocked(&mut pusher, 1);
        assert_eq!(pusher.cmd(&["RPUSH", &key, "a", "b"]), Reply::Integer(2));
        assert_eq!(waiter.read_reply(), Some(pair(&key, "a")));
        assert_eq!(
            pusher.cmd(&["LRANGE", &key, "0", "-1"]),
            Reply::Array(vec![bulk("b")])
        );
        // And the other way round: the waiter's own core owns the key.
        let key = server.key_on_core(waiter_core, &format!("own{waiter_core}-"));
        waiter.send(&["BRPOP", &key, "0"]);
        until_blocked(&mut pusher, 1);
        assert_eq!(pusher.cmd(&["LPUSH", &key, "x"]), Reply::Integer(1));
        assert_eq!(waiter.read_reply(), Some(pair(&key, "x")));
        assert_eq!(pusher.cmd(&["EXISTS", &key]), Reply::Integer(0));
    }
}

#[test]
fn waiters_are_served_in_the_order_they_blocked() {
    let server = TestServer::start();
    let key = server.key_on_core(1, "fifo");
    let mut watcher = server.connect();
    let mut waiters: Vec<Raw> = (0..3).map(|_| server.connect()).collect();
    for (n, waiter) in waiters.iter_mut().enumerate() {
        waiter.send(&["BLPOP", &key, "0"]);
        until_blocked(&mut watcher, n + 1);
    }
    assert_eq!(watcher.cmd(&["RPUSH", &key, "1", "2"]), Reply::Integer(2));
    assert_eq!(waiters[0].read_reply(), Some(pair(&key, "1")));
    assert_eq!(waiters[1].read_reply(), Some(pair(&key, "2")));
    until_blocked(&mut watcher, 1);
    assert_eq!(watcher.cmd(&["LPUSH", &key, "3"]), Reply::Integer(1));
    assert_eq!(waiters[2].read_reply(), Some(pair(&key, "3")));
}

#[test]
fn timeouts_answer_a_null_array_in_both_protocols() {
    let server = TestServer::start();
    let mut conn = server.connect();
    let started = Instant::now();
    assert_eq!(conn.cmd(&["BLPOP", "none", "0.05"]), Reply::NilArray);
    assert!(started.elapsed() >= Duration::from_millis(50));
    assert_eq!(
        conn.cmd(&["BLMOVE", "none", "d", "LEFT", "LEFT", "0.01"]),
        Reply::NilArray
    );
    assert_eq!(conn.cmd(&["BZPOPMIN", "none", "0.01"]), Reply::NilArray);
    assert_eq!(
        conn.cmd(&["BLMPOP", "0.01", "1", "none", "LEFT"]),
        Reply::NilArray
    );
    conn.cmd(&["HELLO", "3"]);
    conn.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nnone\r\n$4\r\n0.01\r\n");
    assert_eq!(conn.read_reply(), Some(Reply::Nil), "RESP3 null: `_`");
    assert_eq!(
        conn.cmd(&["BLPOP", "none", "-1"]),
        Reply::error("ERR timeout is negative")
    );
    assert_eq!(
        conn.cmd(&["BLPOP", "none", "soon"]),
        Reply::error("ERR timeout is not a float or out of range")
    );
    assert_eq!(conn.cmd(&["PING"]), Reply::Status("PONG".into()));
}

#[test]
fn a_blocked_client_runs_nothing_it_sent_after_its_pop() {
    let server = TestServer::start();
    let key = server.key_on_core(0, "held");
    let mut waiter = server.connect();
    let mut other = server.connect();
    waiter.send(&["BLPOP", &key, "0"]);
    waiter.send(&["SET", "after", "1"]);
    until_blocked(&mut other, 1);
    assert_eq!(other.cmd(&["GET", "after"]), Reply::Nil);
    assert_eq!(other.cmd(&["RPUSH", &key, "v"]), Reply::Integer(1));
    assert_eq!(waiter.read_reply(), Some(pair(&key, "v")));
    assert_eq!(waiter.read_reply(), Some(Reply::OK));
    assert_eq!(other.cmd(&["GET", "after"]), bulk("1"));
}

#[test]
fn client_unblock_answers_a_timeout_or_an_error() {
    let server = TestServer::start();
    let key = server.key_on_core(1, "ub");
    let mut admin = server.connect();
    let mut waiter = server.connect_on_core(0);
    let id = client_id(&mut waiter).to_string();
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), Reply::Integer(0));
    waiter.send(&["BLPOP", &key, "0"]);
    until_blocked(&mut admin, 1);
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &id, "LATER"]),
        Reply::error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    );
    assert_eq!(admin.cmd(&["CLIENT", "UNBLOCK", &id]), Reply::Integer(1));
    assert_eq!(waiter.read_reply(), Some(Reply::NilArray));
    waiter.send(&["BZPOPMAX", &key, "0"]);
    until_blocked(&mut admin, 1);
    assert_eq!(
        admin.cmd(&["CLIENT", "UNBLOCK", &id, "ERROR"]),
        Reply::Integer(1)
    );
    assert_eq!(
        waiter.read_reply(),
        Some(Reply::error(
            "UNBLOCKED client unblocked via CLIENT UNBLOCK"
        ))
    );
    assert_eq!(admin.cmd(&["RPUSH", &key, "kept"]), Reply::Integer(1));
    assert_eq!(admin.cmd(&["LLEN", &key]), Reply::Integer(1));
}

#[test]
fn a_tenant_reaches_only_its_own_blocked_clients() {
    let dir = tempfile::tempdir().unwrap();
    let config = tenant_config(dir.path(), &[("t1", "p1", ""), ("t2", "p2", "")]);
    let server = common::start_with_config(&config);
    let mut t1 = login(&server, "t1", "p1");
    let mut t2 = login(&server, "t2", "p2");
    let id = client_id(&mut t1).to_string();
    t1.send(&["BLPOP", "k", "0"]);
    let mut admin = login(&server, "default", common::ADMIN_PASSWORD);
    until_blocked(&mut admin, 1);
    // t2's push is to its own `k`: t1 keeps waiting; t2 cannot unblock it.
    assert_eq!(t2.cmd(&["RPUSH", "k", "t2"]), Reply::Integer(1));
    assert_eq!(t2.cmd(&["CLIENT", "UNBLOCK", &id]), Reply::Integer(0));
    assert_eq!(blocked_clients(&mut admin), 1);
    let mut t1b = login(&server, "t1", "p1");
    assert_eq!(t1b.cmd(&["RPUSH", "k", "t1"]), Reply::Integer(1));
    assert_eq!(t1.read_reply(), Some(pair("k", "t1")));
    assert_eq!(
        t2.cmd(&["LRANGE", "k", "0", "-1"]),
        Reply::Array(vec![bulk("t2")])
    );
}

#[test]
fn a_closed_waiter_pops_nothing() {
    let server = TestServer::start();
    let key = server.key_on_core(1, "gone");
    let mut admin = server.connect_on_core(0);
    let mut waiter = server.connect_on_core(0);
    waiter.send(&["BLPOP", &key, "0"]);
    until_blocked(&mut admin, 1);
    drop(waiter);
    until_blocked(&mut admin, 0);
    assert_eq!(admin.cmd(&["RPUSH", &key, "v"]), Reply::Integer(1));
    assert_eq!(admin.cmd(&["LLEN", &key]), Reply::Integer(1));
}

#[test]
fn moves_and_sorted_sets_wait_too() {
    let server = TestServer::start();
    let (src, dst) = (server.key_on_core(0, "src"), server.key_on_core(1, "dst"));
    let mut waiter = server.connect();
    let mut other = server.connect();
    // BLMOVE across cores waits on the source's core, then pushes.
    waiter.send(&["BLMOVE", &src, &dst, "LEFT", "RIGHT", "0"]);
    until_blocked(&mut other, 1);
    assert_eq!(other.cmd(&["RPUSH", &src, "m"]), Reply::Integer(1));
    assert_eq!(waiter.read_reply(), Some(bulk("m")));
    assert_eq!(
        other.cmd(&["LRANGE", &dst, "0", "-1"]),
        Reply::Array(vec![bulk("m")])
    );
    other.cmd(&["SET", "{z}str", "v"]);
    assert_eq!(
        waiter.cmd(&["BZPOPMIN", "{z}str", "0"]),
        Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    waiter.send(&["BZPOPMIN", "{z}a", "{z}b", "0"]);
    until_blocked(&mut other, 1);
    assert_eq!(
        other.cmd(&["ZADD", "{z}b", "2", "two", "1", "one"]),
        Reply::Integer(2)
    );
    assert_eq!(
        waiter.read_reply(),
        Some(Reply::Array(vec![bulk("{z}b"), bulk("one"), bulk("1")]))
    );
    waiter.send(&["BZMPOP", "0", "2", "{z}a", "{z}b", "MAX", "COUNT", "5"]);
    assert_eq!(
        waiter.read_reply(),
        Some(Reply::Array(vec![
            bulk("{z}b"),
            Reply::Array(vec![Reply::Array(vec![bulk("two"), bulk("2")])])
        ]))
    );
    waiter.send(&["BLMPOP", "0", "2", "{z}l", "{z}m", "RIGHT", "COUNT", "2"]);
    until_blocked(&mut other, 1);
    assert_eq!(
        other.cmd(&["RPUSH", "{z}m", "1", "2", "3"]),
        Reply::Integer(3)
    );
    assert_eq!(
        waiter.read_reply(),
        Some(Reply::Array(vec![
            bulk("{z}m"),
            Reply::Array(vec![bulk("3"), bulk("2")])
        ]))
    );
}

#[test]
fn one_pop_waits_on_one_core() {
    let server = TestServer::start();
    let (a, b) = (server.key_on_core(0, "a"), server.key_on_core(1, "b"));
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd(&["BLPOP", &a, &b, "0"]),
        Reply::error("CROSSSLOT Keys in request don't hash to the same slot")
    );
    // A storage function cannot wait: it gets the null array at once.
    let lib = "#!js name=waits\nkiln.registerFunction('pop', (keys) => kiln.call('BLPOP', keys[0], '0'));";
    assert_eq!(conn.cmd(&["FUNCTION", "LOAD", lib]), bulk("waits"));
    assert_eq!(conn.cmd(&["FCALL", "pop", "1", &a]), Reply::Nil);
}
