//! Eviction under `maxmemory-policy`: every policy keeps memory under the
//! bound with the keys its rule says (LRU keeps the recently used, LFU the
//! often used, volatile-ttl drops the nearest deadline first, volatile-*
//! never touch a key without one), a tenant's own policy evicts only its
//! own keys, and an eviction is what a `DEL` is to the log and to the
//! tenant's listeners.

mod common;

use std::time::Duration;

use common::{Raw, TestServer, bulk, eventually, info_field, keyspace_dump, tenant_field};
use kiln_net::Reply;

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
const VALUE: &str = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

/// Sends `commands` pipelined in batches and returns every reply.
fn pipeline(conn: &mut Raw, commands: &[Vec<String>]) -> Vec<Reply> {
    let mut replies = Vec::with_capacity(commands.len());
    for batch in commands.chunks(200) {
        for cmd in batch {
            let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
            conn.send(&args);
        }
        for _ in batch {
            replies.push(conn.read_reply().expect("a reply"));
        }
    }
    replies
}

fn sets(prefix: &str, range: std::ops::Range<usize>) -> Vec<Vec<String>> {
    range
        .map(|i| vec!["SET".into(), format!("{prefix}{i}"), VALUE.into()])
        .collect()
}

fn gets(prefix: &str, range: std::ops::Range<usize>) -> Vec<Vec<String>> {
    range
        .map(|i| vec!["GET".into(), format!("{prefix}{i}")])
        .collect()
}

/// How many of `prefix0..prefix<n>` still exist.
fn surviving(conn: &mut Raw, prefix: &str, n: usize) -> usize {
    let exists: Vec<Vec<String>> = (0..n)
        .map(|i| vec!["EXISTS".into(), format!("{prefix}{i}")])
        .collect();
    pipeline(conn, &exists)
        .into_iter()
        .filter(|r| *r == Reply::Integer(1))
        .count()
}

/// The metrics endpoint's text (an HTTP/1.0 GET on loopback).
fn scrape(port: &str) -> String {
    use std::io::{Read, Write};
    let mut http = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    http.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut text = String::new();
    http.read_to_string(&mut text).unwrap();
    text
}

/// A server with `maxmemory` bytes and `policy`.
fn server(maxmemory: &str, policy: &str) -> (TestServer, Raw) {
    let server = TestServer::start_with(&[
        "--maxmemory",
        maxmemory,
        "--maxmemory-policy",
        policy,
        "--save",
        "",
    ]);
    let conn = server.connect();
    (server, conn)
}

/// Writes 1,000 hot keys, then 20,000 cold ones in rounds, reading every
/// hot key between rounds; how many hot keys are left, checking memory
/// stayed bounded and every write was answered OK.
fn hot_keys_left_after_cold_writes(policy: &str) -> usize {
    let (_server, mut conn) = server("1mb", policy);
    assert!(
        pipeline(&mut conn, &sets("hot:", 0..1000))
            .iter()
            .all(|r| *r == Reply::OK)
    );
    for round in 0..10 {
        pipeline(&mut conn, &gets("hot:", 0..1000));
        let from = round * 2000;
        let replies = pipeline(&mut conn, &sets("cold:", from..from + 2000));
        assert!(
            replies.iter().all(|r| *r == Reply::OK),
            "{policy}: a write refused"
        );
    }
    // Eviction a time limit cut short finishes between turns.
    let bounded = eventually(Duration::from_secs(5), || {
        info_field(&mut conn, "used_memory") <= 1 << 20
    });
    assert!(bounded, "{policy}: used_memory over maxmemory");
    let evicted = info_field(&mut conn, "evicted_keys");
    assert!(evicted >= 10_000, "{policy}: only {evicted} keys evicted");
    let dbsize = match conn.cmd(&["DBSIZE"]) {
        Reply::Integer(n) => n as u64,
        other => panic!("DBSIZE {other:?}"),
    };
    assert_eq!(
        dbsize + evicted,
        21_000,
        "{policy}: every key written is kept or evicted"
    );
    surviving(&mut conn, "hot:", 1000)
}

#[test]
fn allkeys_lru_keeps_the_recently_read_keys() {
    let lru = hot_keys_left_after_cold_writes("allkeys-lru");
    let random = hot_keys_left_after_cold_writes("allkeys-random");
    // About 5,000 keys fit: random eviction keeps about a quarter of the
    // hot keys, LRU nearly all of them.
    assert!(lru >= 900, "allkeys-lru kept {lru} of 1000 hot keys");
    assert!(
        random <= 600,
        "allkeys-random kept {random} of 1000 hot keys"
    );
}

#[test]
fn allkeys_lfu_keeps_the_often_read_keys_and_reports_their_counters() {
    let (_server, mut conn) = server("1mb", "allkeys-lfu");
    assert!(
        pipeline(&mut conn, &sets("hot:", 0..1000))
            .iter()
            .all(|r| *r == Reply::OK)
    );
    for _ in 0..30 {
        pipeline(&mut conn, &gets("hot:", 0..1000));
    }
    let Reply::Integer(freq) = conn.cmd(&["OBJECT", "FREQ", "hot:1"]) else {
        panic!("OBJECT FREQ")
    };
    assert!(
        freq > 5,
        "30 reads raise the counter past a new key's 5: {freq}"
    );
    assert!(
        matches!(conn.cmd(&["OBJECT", "IDLETIME", "hot:1"]), Reply::Error(e) if e.contains("LFU maxmemory policy is selected")),
        "IDLETIME is not tracked under LFU"
    );
    let replies = pipeline(&mut conn, &sets("cold:", 0..20_000));
    assert!(replies.iter().all(|r| *r == Reply::OK));
    let hot = surviving(&mut conn, "hot:", 1000);
    assert!(hot >= 950, "allkeys-lfu kept {hot} of 1000 hot keys");
    assert!(eventually(Duration::from_secs(5), || info_field(
        &mut conn,
        "used_memory"
    ) <= 1 << 20));
}

#[test]
fn volatile_policies_never_touch_keys_without_a_deadline() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let (_server, mut conn) = server("0", policy);
        // Every key on one core ({t}), so that core's eviction is the one
        // the bound is waiting for.
        let keep: Vec<Vec<String>> = (0..3000)
            .map(|i| vec!["SET".into(), format!("{{t}}keep{i}"), VALUE.into()])
            .collect();
        pipeline(&mut conn, &keep);
        let volatile: Vec<Vec<String>> = (0..1000)
            .map(|i| {
                let ttl = (10_000 + i).to_string();
                vec![
                    "SET".into(),
                    format!("{{t}}ttl{i}"),
                    VALUE.into(),
                    "EX".into(),
                    ttl,
                ]
            })
            .collect();
        pipeline(&mut conn, &volatile);
        let used = info_field(&mut conn, "used_memory");
        // Room for everything but about 500 keys.
        let bound = used - 500 * 210;
        assert_eq!(
            conn.cmd(&["CONFIG", "SET", "maxmemory", &bound.to_string()]),
            Reply::OK
        );
        assert_eq!(conn.cmd(&["SET", "{t}trigger", "x"]), Reply::OK, "{policy}");
        let bounded = eventually(Duration::from_secs(5), || {
            info_field(&mut conn, "used_memory") <= bound
        });
        assert!(bounded, "{policy}");
        assert_eq!(
            surviving(&mut conn, "{t}keep", 3000),
            3000,
            "{policy} evicted a persistent key"
        );
        let left = surviving(&mut conn, "{t}ttl", 1000);
        assert!(
            (300..=700).contains(&left),
            "{policy} left {left} of 1000 volatile keys"
        );
        if policy == "volatile-ttl" {
            // The nearest deadlines go first (as Redis, by sampling): of
            // the 100 nearest, few are left; of the 100 furthest, nearly all.
            let near = (0..100)
                .filter(|i| conn.cmd(&["EXISTS", &format!("{{t}}ttl{i}")]) == Reply::Integer(1))
                .count();
            let far = (900..1000)
                .filter(|i| conn.cmd(&["EXISTS", &format!("{{t}}ttl{i}")]) == Reply::Integer(1))
                .count();
            assert!(
                near <= 25 && far >= 90,
                "volatile-ttl kept {near} near and {far} far"
            );
        }
        // Once the volatile keys are gone the bound holds by refusing.
        assert_eq!(conn.cmd(&["CONFIG", "SET", "maxmemory", "1000"]), Reply::OK);
        // (A write may go ahead while eviction is still under way.)
        let refused = eventually(Duration::from_secs(5), || {
            conn.cmd(&["SET", "{t}more", VALUE]) == Reply::error(OOM)
        });
        assert!(refused, "{policy}: nothing left to evict, yet writes go on");
        assert_eq!(surviving(&mut conn, "{t}ttl", 1000), 0, "{policy}");
        assert_eq!(surviving(&mut conn, "{t}keep", 3000), 3000, "{policy}");
    }
}

#[test]
fn a_tenants_policy_evicts_only_its_own_keys() {
    let metrics_port = common::free_port().to_string();
    let server = TestServer::start_with(&["--save", "", "--metrics-port", &metrics_port]);
    let mut admin = server.connect();
    assert!(
        pipeline(&mut admin, &sets("admin:", 0..2000))
            .iter()
            .all(|r| *r == Reply::OK)
    );
    let rules = [
        (
            "lru",
            vec!["maxmemory=200kb", "maxmemory-policy=allkeys-lru"],
        ),
        ("plain", vec!["maxmemory=200kb"]),
    ];
    let mut conns = Vec::new();
    for (name, limits) in &rules {
        let mut rule = vec!["ACL", "SETUSER", name, "on", ">pw", "~*", "+@all"];
        rule.extend(limits.iter().copied());
        assert_eq!(admin.cmd(&rule), Reply::OK);
        let mut conn = server.connect();
        assert_eq!(conn.cmd(&["AUTH", name, "pw"]), Reply::OK);
        conns.push(conn);
    }
    let [lru, plain] = &mut conns[..] else {
        unreachable!()
    };
    // 5,000 keys of about 210 bytes: five times the quota.
    let replies = pipeline(lru, &sets("k", 0..5000));
    assert!(
        replies.iter().all(|r| *r == Reply::OK),
        "the policy makes room for every write"
    );
    let memory = tenant_field(lru, "used_memory");
    assert!(
        memory <= 200 * 1024,
        "tenant memory {memory} over its quota"
    );
    assert!(info_field(lru, "evicted_keys") >= 3000);
    let evicted = tenant_field(lru, "evicted_keys");
    assert!(evicted >= 3000, "INFO tenant: {evicted}");
    // The same count on the metrics endpoint, per tenant.
    let metrics = scrape(&metrics_port);
    let series = |tenant: &str| {
        let prefix = format!("kiln_tenant_evicted_keys_total{{tenant=\"{tenant}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix)?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no evicted series for {tenant}"))
    };
    assert_eq!(series("lru"), evicted as f64);
    assert_eq!(series("plain"), 0.0);
    assert_eq!(info_field(plain, "evicted_keys"), 0);
    // Without a policy the quota refuses.
    let replies = pipeline(plain, &sets("k", 0..5000));
    assert!(
        replies.contains(&Reply::error(OOM)),
        "no policy: -OOM at the quota"
    );
    assert_eq!(info_field(plain, "evicted_keys"), 0);
    // Nobody else's keys went.
    assert_eq!(surviving(&mut admin, "admin:", 2000), 2000);
    // A policy change through ACL SETUSER shows in ACL GETUSER's rules.
    let Reply::Array(list) = admin.cmd(&["ACL", "LIST"]) else {
        panic!("ACL LIST")
    };
    assert!(
        list.iter()
            .any(|u| common::text(u).contains("maxmemory-policy=allkeys-lru"))
    );
}

#[test]
fn an_eviction_is_logged_watched_and_told_as_a_del() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().display().to_string();
    let flags = [
        "--dir",
        &path,
        "--appendonly",
        "yes",
        "--save",
        "",
        "--maxmemory",
        "300kb",
    ];
    let server = TestServer::start_with(&flags);
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]),
        Reply::OK
    );
    assert_eq!(
        conn.cmd(&["CONFIG", "GET", "maxmemory-policy"]),
        Reply::Array(vec![bulk("maxmemory-policy"), bulk("allkeys-lru")])
    );
    assert_eq!(
        conn.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Ee"]),
        Reply::OK
    );
    let mut events = server.connect();
    events.send(&["SUBSCRIBE", "__keyevent@0__:evicted"]);
    assert!(events.read_reply().is_some());
    let mut watcher = server.connect();
    assert_eq!(watcher.cmd(&["SET", "watched", "x"]), Reply::OK);
    assert_eq!(watcher.cmd(&["WATCH", "watched"]), Reply::OK);
    pipeline(&mut conn, &sets("k", 0..4000));
    let evicted = info_field(&mut conn, "evicted_keys");
    assert!(evicted > 2000);
    // The oldest key was among the first to go: the watch saw it.
    assert_eq!(conn.cmd(&["EXISTS", "watched"]), Reply::Integer(0));
    assert_eq!(watcher.cmd(&["MULTI"]), Reply::OK);
    assert_eq!(
        watcher.cmd(&["SET", "watched", "y"]),
        Reply::status("QUEUED")
    );
    assert_eq!(
        watcher.cmd(&["EXEC"]),
        Reply::NilArray,
        "an evicted watched key aborts EXEC"
    );
    let Some(Reply::Array(message)) = events.read_reply() else {
        panic!("evicted event")
    };
    assert_eq!(message[1], bulk("__keyevent@0__:evicted"));
    let before = keyspace_dump(&mut conn);
    drop((conn, events, watcher));
    assert!(server.stop().success());
    // No eviction while loading: every key kept comes back, none evicted.
    let server = TestServer::start_with(&flags);
    server.wait_loaded();
    let mut conn = server.connect();
    assert_eq!(
        keyspace_dump(&mut conn),
        before,
        "the log replays the evictions"
    );
}

#[test]
fn policy_settings_are_checked_as_redis_checks_them() {
    let (server, mut conn) = server("0", "noeviction");
    let Reply::Error(e) = conn.cmd(&["CONFIG", "SET", "maxmemory-policy", "lru"]) else {
        panic!("a bad policy is refused")
    };
    assert!(
        e.starts_with("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy')"),
        "{e}"
    );
    for (name, good, bad) in [
        ("maxmemory-samples", "10", "0"),
        ("lfu-log-factor", "5", "-1"),
        ("lfu-decay-time", "2", "x"),
    ] {
        assert_eq!(
            conn.cmd(&["CONFIG", "SET", name, good]),
            Reply::OK,
            "{name}"
        );
        assert_eq!(
            conn.cmd(&["CONFIG", "GET", name]),
            Reply::Array(vec![bulk(name), bulk(good)])
        );
        assert!(
            matches!(conn.cmd(&["CONFIG", "SET", name, bad]), Reply::Error(_)),
            "{name} {bad}"
        );
    }
    assert_eq!(conn.cmd(&["SET", "k", "v"]), Reply::OK);
    assert!(
        matches!(conn.cmd(&["OBJECT", "FREQ", "k"]), Reply::Error(e) if e.contains("An LFU maxmemory policy is not selected")),
    );
    // Idle time is the key's age, not readiness: wait it out.
    std::thread::sleep(Duration::from_millis(1100));
    let Reply::Integer(idle) = conn.cmd(&["OBJECT", "IDLETIME", "k"]) else {
        panic!("IDLETIME")
    };
    assert!((1..=3).contains(&idle), "idle {idle} s");
    assert_eq!(conn.cmd(&["GET", "k"]), bulk("v"));
    assert_eq!(
        conn.cmd(&["OBJECT", "IDLETIME", "k"]),
        Reply::Integer(0),
        "a read is an access"
    );
    // CLIENT NO-TOUCH: reads leave the stamps alone, on keys of either
    // core of the main port; TOUCH still touches.
    let mut quiet = server.connect();
    assert_eq!(quiet.cmd(&["CLIENT", "NO-TOUCH", "ON"]), Reply::OK);
    let keys = [server.key_on_core(0, "q"), server.key_on_core(1, "q")];
    for key in &keys {
        assert_eq!(conn.cmd(&["SET", key, "v"]), Reply::OK);
    }
    std::thread::sleep(Duration::from_millis(1100));
    for key in &keys {
        assert_eq!(quiet.cmd(&["GET", key]), bulk("v"));
        let idle = conn.cmd(&["OBJECT", "IDLETIME", key]);
        assert_ne!(idle, Reply::Integer(0), "a NO-TOUCH read of {key}");
    }
    assert_eq!(quiet.cmd(&["TOUCH", &keys[1]]), Reply::Integer(1));
    assert_eq!(
        conn.cmd(&["OBJECT", "IDLETIME", &keys[1]]),
        Reply::Integer(0),
        "TOUCH touches"
    );
    let Reply::Bulk(info) = conn.cmd(&["INFO", "memory"]) else {
        panic!("INFO")
    };
    assert!(String::from_utf8_lossy(&info).contains("maxmemory_policy:noeviction"));
}
