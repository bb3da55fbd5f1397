//! Transactions against the real server: atomic across cores on the main
//! port (a bank transfer whose total never changes), `WATCH` broken by
//! other clients on any core, by expiry and by flushes but not by another
//! tenant, commands that wait for a transaction's locks, and core ports
//! refusing other cores' keys as Redis Cluster does.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Raw, TestServer, bulk, login, start_with_config, tenant_config};
use kiln_net::Reply;

const ACCOUNTS: usize = 8;
const BALANCE: i64 = 1000;

fn int(reply: &Reply) -> i64 {
    match reply {
        Reply::Bulk(b) => std::str::from_utf8(b).unwrap().parse().unwrap(),
        Reply::Integer(n) => *n,
        other => panic!("not a number: {other:?}"),
    }
}

/// Runs `commands` inside MULTI/EXEC on `conn`; EXEC's reply.
fn transaction(conn: &mut Raw, commands: &[&[&str]]) -> Reply {
    assert_eq!(conn.cmd(&["MULTI"]), Reply::OK);
    for command in commands {
        assert_eq!(conn.cmd(command), Reply::status("QUEUED"), "{command:?}");
    }
    conn.cmd(&["EXEC"])
}

#[test]
fn a_bank_transfer_across_cores_never_changes_the_total() {
    let server = TestServer::start();
    // Accounts alternate between the two cores.
    let accounts: Vec<String> = (0..ACCOUNTS)
        .map(|i| server.key_on_core(i % 2, &format!("acct{i}-")))
        .collect();
    let mut setup = server.connect();
    for account in &accounts {
        assert_eq!(
            setup.cmd(&["SET", account, &BALANCE.to_string()]),
            Reply::OK
        );
    }
    let accounts = Arc::new(accounts);
    let stop = Arc::new(AtomicBool::new(false));
    let (moves, reads) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut threads = Vec::new();
    // Movers and readers on both cores' connections.
    for t in 0..4 {
        let mut conn = server.connect_on_core(t % 2);
        let (accounts, stop, moves) = (accounts.clone(), stop.clone(), moves.clone());
        threads.push(std::thread::spawn(move || {
            let mut n = t;
            while !stop.load(Ordering::Relaxed) {
                n = n.wrapping_mul(2_654_435_761).wrapping_add(12345) % 1_000_003;
                let from = &accounts[n % ACCOUNTS];
                let to = &accounts[(n / ACCOUNTS + 1 + n % ACCOUNTS) % ACCOUNTS];
                let amount = (n % 50).to_string();
                let reply = transaction(
                    &mut conn,
                    &[&["DECRBY", from, &amount], &["INCRBY", to, &amount]],
                );
                assert!(
                    matches!(reply, Reply::Array(ref r) if r.len() == 2),
                    "{reply:?}"
                );
                moves.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Careful movers: WATCH both accounts, read the balance, move only
    // what is there (a WATCH abort retries). Their cores lock without
    // running until every core is locked.
    for t in 0..2 {
        let mut conn = server.connect_on_core(t % 2);
        let (accounts, stop, moves) = (accounts.clone(), stop.clone(), moves.clone());
        threads.push(std::thread::spawn(move || {
            let mut n = 7 + t;
            while !stop.load(Ordering::Relaxed) {
                n = n.wrapping_mul(2_654_435_761).wrapping_add(12345) % 1_000_003;
                let from = &accounts[n % ACCOUNTS];
                let to = &accounts[(n / ACCOUNTS + 1 + n % ACCOUNTS) % ACCOUNTS];
                assert_eq!(conn.cmd(&["WATCH", from, to]), Reply::OK);
                let amount = int(&conn.cmd(&["GET", from])).min(30).to_string();
                let reply = transaction(
                    &mut conn,
                    &[&["DECRBY", from, &amount], &["INCRBY", to, &amount]],
                );
                if reply != Reply::NilArray {
                    assert!(
                        matches!(reply, Reply::Array(ref r) if r.len() == 2),
                        "{reply:?}"
                    );
                    moves.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for core in 0..2 {
        let mut conn = server.connect_on_core(core);
        let (accounts, stop, reads) = (accounts.clone(), stop.clone(), reads.clone());
        threads.push(std::thread::spawn(move || {
            let gets: Vec<Vec<&str>> = accounts.iter().map(|a| vec!["GET", a.as_str()]).collect();
            let gets: Vec<&[&str]> = gets.iter().map(Vec::as_slice).collect();
            while !stop.load(Ordering::Relaxed) {
                let Reply::Array(balances) = transaction(&mut conn, &gets) else {
                    panic!("EXEC")
                };
                let total: i64 = balances.iter().map(int).sum();
                assert_eq!(total, BALANCE * ACCOUNTS as i64, "{balances:?}");
                reads.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Plain commands on the same keys meet the transactions' locks.
    {
        let mut conn = server.connect();
        let (accounts, stop) = (accounts.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for account in accounts.iter() {
                    assert!(!conn.cmd(&["INCRBY", account, "0"]).is_error());
                    assert!(matches!(conn.cmd(&["GET", account]), Reply::Bulk(_)));
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("a client failed");
    }
    let total: i64 = accounts.iter().map(|a| int(&setup.cmd(&["GET", a]))).sum();
    assert_eq!(total, BALANCE * ACCOUNTS as i64);
    assert!(moves.load(Ordering::Relaxed) > 0 && reads.load(Ordering::Relaxed) > 0);
}

#[test]
fn watch_is_broken_by_any_client_on_any_core() {
    let server = TestServer::start();
    for (watcher_core, key_core) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
        let key = server.key_on_core(key_core, &format!("w{watcher_core}{key_core}-"));
        let other = server.key_on_core(1 - key_core, &format!("other{watcher_core}{key_core}-"));
        let mut watcher = server.connect_on_core(watcher_core);
        let mut writer = server.connect_on_core(1 - watcher_core);
        assert_eq!(watcher.cmd(&["SET", &key, "0"]), Reply::OK);

        assert_eq!(watcher.cmd(&["WATCH", &key, &other]), Reply::OK);
        assert_eq!(writer.cmd(&["INCR", &key]), Reply::Integer(1));
        assert_eq!(
            transaction(
                &mut watcher,
                &[&["SET", &key, "tx"], &["SET", &other, "tx"]]
            ),
            Reply::NilArray,
            "watcher on core {watcher_core}, key on core {key_core}"
        );
        assert_eq!(watcher.cmd(&["GET", &key]), bulk("1"));
        assert_eq!(watcher.cmd(&["GET", &other]), Reply::Nil, "nothing ran");

        // EXEC ended the watch: the next transaction runs.
        assert_eq!(writer.cmd(&["INCR", &key]), Reply::Integer(2));
        assert_eq!(
            transaction(&mut watcher, &[&["GET", &key]]),
            Reply::Array(vec![bulk("2")])
        );

        // A write to another key leaves the watch intact.
        assert_eq!(watcher.cmd(&["WATCH", &key]), Reply::OK);
        assert_eq!(writer.cmd(&["SET", &other, "x"]), Reply::OK);
        assert_eq!(
            transaction(&mut watcher, &[&["INCR", &key]]),
            Reply::Array(vec![Reply::Integer(3)])
        );
    }
}

#[test]
fn watch_is_broken_by_expiry_deletion_and_flushes() {
    let server = TestServer::start();
    let mut conn = server.connect();
    let mut other = server.connect();
    let (a, b) = (server.key_on_core(0, "a"), server.key_on_core(1, "b"));
    let breakers: &[(&str, &[&str])] = &[
        ("expiry", &["PEXPIRE", "KEY", "1"]),
        ("DEL", &["DEL", "KEY"]),
        ("UNLINK", &["UNLINK", "KEY"]),
        ("FLUSHDB", &["FLUSHDB"]),
        ("FLUSHALL", &["FLUSHALL"]),
        ("RENAME", &["RENAME", "KEY", "renamed"]),
        ("function", &["FCALL", "touch", "1", "KEY"]),
    ];
    assert!(matches!(
        conn.cmd(&[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            "#!js name=w\nkiln.registerFunction('touch', (keys) => kiln.put(keys[0], 'f'));"
        ]),
        Reply::Bulk(_)
    ));
    for key in [&a, &b] {
        for (what, breaker) in breakers {
            assert_eq!(conn.cmd(&["SET", key, "v"]), Reply::OK);
            assert_eq!(conn.cmd(&["WATCH", key]), Reply::OK);
            let command: Vec<&str> = breaker
                .iter()
                .map(|w| if *w == "KEY" { key.as_str() } else { w })
                .collect();
            assert!(!other.cmd(&command).is_error(), "{what}");
            if *what == "expiry" {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert_eq!(
                transaction(&mut conn, &[&["SET", "{x}marker", "1"]]),
                Reply::NilArray,
                "{what} on {key}"
            );
        }
        // A flush of a watched key that did not exist changes nothing
        // (as in Redis 7).
        conn.cmd(&["DEL", key]);
        assert_eq!(conn.cmd(&["WATCH", key]), Reply::OK);
        assert_eq!(other.cmd(&["FLUSHDB"]), Reply::OK);
        assert_eq!(
            transaction(&mut conn, &[&["SET", key, "1"]]),
            Reply::Array(vec![Reply::OK])
        );
    }
}

#[test]
fn a_tenants_watch_is_not_broken_by_another_tenants_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = tenant_config(dir.path(), &[("t1", "p1", ""), ("t2", "p2", "")]);
    let server = start_with_config(&config);
    let mut t1 = login(&server, "t1", "p1");
    let mut t2 = login(&server, "t2", "p2");
    let key = server.key_on_core(1, "shared-name");
    assert_eq!(t1.cmd(&["WATCH", &key]), Reply::OK);
    assert_eq!(t2.cmd(&["SET", &key, "t2"]), Reply::OK);
    assert_eq!(t2.cmd(&["FLUSHALL"]), Reply::OK);
    assert_eq!(
        transaction(&mut t1, &[&["SET", &key, "t1"]]),
        Reply::Array(vec![Reply::OK])
    );
    assert_eq!(t1.cmd(&["GET", &key]), bulk("t1"));
    assert_eq!(t2.cmd(&["GET", &key]), Reply::Nil);
}

#[test]
fn core_ports_refuse_other_cores_keys_and_abort_the_transaction() {
    let server = TestServer::start();
    let mut core0 = Raw::connect(server.core_addrs[0]);
    let (mine, theirs) = (
        server.key_on_core(0, "mine"),
        server.key_on_core(1, "theirs"),
    );
    assert_eq!(core0.cmd(&["MULTI"]), Reply::OK);
    assert_eq!(core0.cmd(&["SET", &mine, "1"]), Reply::status("QUEUED"));
    let Reply::Error(moved) = core0.cmd(&["SET", &theirs, "1"]) else {
        panic!("a key of core 1 on core 0's port")
    };
    assert!(moved.starts_with("MOVED "), "{moved}");
    assert!(matches!(core0.cmd(&["EXEC"]), Reply::Error(e) if e.starts_with("EXECABORT")));
    assert_eq!(core0.cmd(&["GET", &mine]), Reply::Nil);
    let Reply::Error(moved) = core0.cmd(&["WATCH", &theirs]) else {
        panic!("WATCH of another core's key")
    };
    assert!(moved.starts_with("MOVED "), "{moved}");
    // Its own keys work as anywhere.
    assert_eq!(
        transaction(&mut core0, &[&["SET", &mine, "1"], &["INCR", &mine]]),
        Reply::Array(vec![Reply::OK, Reply::Integer(2)])
    );
}

#[test]
fn a_command_waits_for_the_transaction_holding_its_key_and_keeps_its_order() {
    let server = TestServer::start();
    let (a, b) = (server.key_on_core(0, "a"), server.key_on_core(1, "b"));
    let mut conn = server.connect();
    // A pipeline: a transaction over both cores, then plain commands on
    // its keys from the same client; each sees the transaction whole.
    conn.send(&["MULTI"]);
    conn.send(&["SET", &a, "1"]);
    conn.send(&["SET", &b, "1"]);
    conn.send(&["INCR", &a]);
    conn.send(&["EXEC"]);
    conn.send(&["GET", &a]);
    conn.send(&["GET", &b]);
    let replies: Vec<Reply> = (0..7).map(|_| conn.read_reply().unwrap()).collect();
    assert_eq!(
        replies,
        vec![
            Reply::OK,
            Reply::status("QUEUED"),
            Reply::status("QUEUED"),
            Reply::status("QUEUED"),
            Reply::Array(vec![Reply::OK, Reply::OK, Reply::Integer(2)]),
            bulk("2"),
            bulk("1"),
        ]
    );
    // Many clients' transactions on the same two keys, pipelined: all run,
    // none twice.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut clients: Vec<Raw> = (0..8).map(|_| server.connect()).collect();
    for client in &mut clients {
        for _ in 0..50 {
            client.send(&["MULTI"]);
            client.send(&["INCR", &a]);
            client.send(&["INCR", &b]);
            client.send(&["EXEC"]);
        }
    }
    for client in &mut clients {
        for _ in 0..50 * 4 {
            assert!(client.read_reply().is_some());
            assert!(Instant::now() < deadline, "transactions stalled");
        }
    }
    assert_eq!(conn.cmd(&["GET", &a]), bulk(&(2 + 400).to_string()));
    assert_eq!(conn.cmd(&["GET", &b]), bulk(&(1 + 400).to_string()));
}

#[test]
fn a_client_that_leaves_mid_transaction_releases_its_keys() {
    let server = TestServer::start();
    let (a, b) = (server.key_on_core(0, "a"), server.key_on_core(1, "b"));
    for _ in 0..20 {
        let mut gone = server.connect();
        gone.send(&["MULTI"]);
        gone.send(&["INCR", &a]);
        gone.send(&["INCR", &b]);
        gone.send(&["EXEC"]);
        gone.abort();
    }
    let mut conn = server.connect();
    let reply = transaction(&mut conn, &[&["INCR", &a], &["INCR", &b]]);
    let Reply::Array(counts) = reply else {
        panic!("EXEC")
    };
    // Each left client's EXEC ran whole or not at all.
    assert_eq!(int(&counts[0]), int(&counts[1]), "{counts:?}");
}
