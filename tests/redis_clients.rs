//! Real Redis clients against Kiln: redis-rs (plain and cluster) and the
//! `redis-cli` binary (Debian's redis-tools; `.ci/run` installs it).

mod common;

use std::process::Command;

use common::TestServer;
use redis::Commands;

#[test]
fn redis_rs_plain_connection_on_the_main_port() {
    let server = TestServer::start();
    let client = redis::Client::open(format!("redis://{}/", server.addr)).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = con.set("rs:key", "value").unwrap();
    let got: String = con.get("rs:key").unwrap();
    assert_eq!(got, "value");
    let n: i64 = con.incr("rs:counter", 5).unwrap();
    assert_eq!(n, 5);
    let _: () = con.set_ex("rs:ttl", "v", 100).unwrap();
    let ttl: i64 = con.ttl("rs:ttl").unwrap();
    assert!((99..=100).contains(&ttl));
    let values: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["rs:key", "nope", "rs:counter"])
        .query(&mut con)
        .unwrap();
    assert_eq!(values, vec![Some("value".into()), None, Some("5".into())]);
    let (a, b): (String, i64) = redis::pipe()
        .get("rs:key")
        .get("rs:counter")
        .query(&mut con)
        .unwrap();
    assert_eq!((a.as_str(), b), ("value", 5));
}

#[test]
fn redis_rs_cluster_client_on_the_core_ports() {
    let server = TestServer::start();
    let nodes: Vec<String> = server
        .core_addrs
        .iter()
        .map(|a| format!("redis://{a}/"))
        .collect();
    let client = redis::cluster::ClusterClient::new(nodes).unwrap();
    let mut con = client.get_connection().unwrap();
    for i in 0..50 {
        let _: () = con.set(format!("cluster:{i}"), i).unwrap();
    }
    for i in 0..50 {
        let v: i64 = con.get(format!("cluster:{i}")).unwrap();
        assert_eq!(v, i);
    }
    let _: () = con.set("{tag}:a", "1").unwrap();
    let _: () = con.set("{tag}:b", "2").unwrap();
    let both: Vec<String> = con.mget(&["{tag}:a", "{tag}:b"]).unwrap();
    assert_eq!(both, vec!["1", "2"]);
    // Everything landed where the main port can see it.
    let plain = redis::Client::open(format!("redis://{}/", server.addr)).unwrap();
    let mut main = plain.get_connection().unwrap();
    let size: i64 = redis::cmd("DBSIZE").query(&mut main).unwrap();
    assert_eq!(size, 52);
}

fn redis_cli(args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(args)
        .output()
        .expect("redis-cli must be installed (apt-get install redis-tools); .ci/run installs it");
    assert!(
        out.status.success(),
        "redis-cli {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn redis_cli_plain_and_following_moved() {
    let server = TestServer::start();
    let port = server.addr.port().to_string();
    let p = |args: &[&str]| {
        let mut all = vec!["-p", port.as_str()];
        all.extend_from_slice(args);
        redis_cli(&all)
    };
    assert_eq!(p(&["ping"]), "PONG\n");
    assert_eq!(p(&["set", "cli:k", "hello world"]), "OK\n");
    assert_eq!(p(&["get", "cli:k"]), "hello world\n");
    assert_eq!(p(&["incrby", "cli:n", "7"]), "7\n");
    assert_eq!(p(&["dbsize"]), "2\n");
    assert!(p(&["cluster", "slots"]).lines().count() >= 2 * 6);
    assert!(p(&["info", "server"]).contains("redis_version:"));

    // On a core port, -c follows MOVED to the other core.
    let theirs = server.key_on_core(1, "moved:");
    let core0 = server.core_addrs[0].port().to_string();
    assert_eq!(
        redis_cli(&["-c", "-p", &core0, "set", &theirs, "v1"]),
        "OK\n"
    );
    assert_eq!(redis_cli(&["-c", "-p", &core0, "get", &theirs]), "v1\n");
    // Without -c the redirect is shown as the error it is.
    let out = redis_cli(&["-p", &core0, "get", &theirs]);
    assert!(out.starts_with("MOVED "), "{out}");
}

#[test]
fn redis_rs_hashes_sets_and_sorted_sets() {
    use std::collections::{HashMap, HashSet};
    let server = TestServer::start();
    let client = redis::Client::open(format!("redis://{}/", server.addr)).unwrap();
    let mut con = client.get_connection().unwrap();
    let () = con
        .hset_multiple("rs:h", &[("name", "kiln"), ("visits", "1")])
        .unwrap();
    let visits: i64 = con.hincr("rs:h", "visits", 41).unwrap();
    assert_eq!(visits, 42);
    let all: HashMap<String, String> = con.hgetall("rs:h").unwrap();
    assert_eq!(all["name"], "kiln");
    assert_eq!(all["visits"], "42");
    let added: i64 = con.sadd("rs:s", &["a", "b", "c"]).unwrap();
    assert_eq!(added, 3);
    let members: HashSet<String> = con.smembers("rs:s").unwrap();
    assert_eq!(members, ["a", "b", "c"].map(String::from).into());
    let is: bool = con.sismember("rs:s", "b").unwrap();
    assert!(is);
    let _: i64 = con
        .zadd_multiple("rs:z", &[(10.0, "ann"), (20.0, "bob"), (15.0, "cat")])
        .unwrap();
    let board: Vec<(String, f64)> = con.zrevrange_withscores("rs:z", 0, 1).unwrap();
    assert_eq!(board, vec![("bob".into(), 20.0), ("cat".into(), 15.0)]);
    let rank: Option<i64> = con.zrank("rs:z", "cat").unwrap();
    assert_eq!(rank, Some(1));
    // Keys on both cores: the main port gathers them.
    let (a, b) = (
        server.key_on_core(0, "rs:sa"),
        server.key_on_core(1, "rs:sb"),
    );
    let _: i64 = con.sadd(&a, &["1", "2"]).unwrap();
    let _: i64 = con.sadd(&b, &["2", "3"]).unwrap();
    let both: HashSet<String> = con.sinter(&[&a, &b]).unwrap();
    assert_eq!(both, ["2"].map(String::from).into());
    let err = con.sadd::<_, _, i64>("rs:h", "x").unwrap_err();
    assert_eq!(err.code(), Some("WRONGTYPE"));
}

#[test]
fn redis_rs_lists_and_blocking_pops() {
    let server = TestServer::start();
    let client = redis::Client::open(format!("redis://{}/", server.addr)).unwrap();
    let mut con = client.get_connection().unwrap();
    let (src, dst) = (
        server.key_on_core(0, "rs:q"),
        server.key_on_core(1, "rs:done"),
    );
    let n: i64 = con.rpush(&src, &["j1", "j2", "j3"]).unwrap();
    assert_eq!(n, 3);
    let all: Vec<String> = con.lrange(&src, 0, -1).unwrap();
    assert_eq!(all, ["j1", "j2", "j3"]);
    // Across cores: popped on one, pushed on the other.
    let moved: String = con
        .lmove(&src, &dst, redis::Direction::Left, redis::Direction::Right)
        .unwrap();
    assert_eq!(moved, "j1");
    let head: Option<String> = con.lindex(&dst, 0).unwrap();
    assert_eq!(head.as_deref(), Some("j1"));
    let popped: Vec<String> = con.rpop(&src, std::num::NonZeroUsize::new(5)).unwrap();
    assert_eq!(popped, ["j3", "j2"]);
    // A blocking pop, served by another connection's push.
    let waiter = {
        let client = client.clone();
        let src = src.clone();
        std::thread::spawn(move || {
            let mut con = client.get_connection().unwrap();
            let got: Option<(String, String)> = con.blpop(&src, 10.0).unwrap();
            got
        })
    };
    while !waiter.is_finished() {
        let _: i64 = con.rpush(&src, "late").unwrap();
        std::thread::park_timeout(std::time::Duration::from_millis(20));
    }
    assert_eq!(waiter.join().unwrap(), Some((src.clone(), "late".into())));
    let none: Option<(String, String)> = con.blpop("rs:never", 0.05).unwrap();
    assert_eq!(none, None);
}
