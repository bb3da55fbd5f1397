//! Cores as cluster shards: forwarding on the main port, MOVED and
//! CROSSSLOT on core ports, replies in request order across cores.

mod common;

use common::{Raw, TestServer, bulk};
use kiln_client::Client;
use kiln_net::Reply;

#[test]
fn cluster_slots_lists_one_node_per_core() {
    let server = TestServer::start();
    assert_eq!(server.core_addrs.len(), 2);
    let mut conn = server.connect();
    let Reply::Array(ranges) = conn.cmd(&["CLUSTER", "SLOTS"]) else {
        panic!()
    };
    let bounds: Vec<(Reply, Reply)> = ranges
        .into_iter()
        .map(|r| match r {
            Reply::Array(p) => (p[0].clone(), p[1].clone()),
            _ => panic!(),
        })
        .collect();
    assert_eq!(
        bounds,
        vec![
            (Reply::Integer(0), Reply::Integer(8191)),
            (Reply::Integer(8192), Reply::Integer(16383))
        ]
    );
    assert_eq!(
        conn.cmd(&["CLUSTER", "KEYSLOT", "foo"]),
        Reply::Integer(12182)
    );
}

#[test]
fn pipelined_requests_alternating_cores_come_back_in_order() {
    let server = TestServer::start();
    let keys: Vec<String> = (0..200)
        .map(|i| server.key_on_core(i % 2, &format!("order:{i}:")))
        .collect();
    let mut conn = server.connect();
    // One write holding 400 commands: SETs then GETs, alternating owners.
    let mut wire = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        kiln_net::resp::encode_request(&["SET", key.as_str(), &format!("v{i}")], &mut wire);
    }
    for key in &keys {
        kiln_net::resp::encode_request(&["GET", key.as_str()], &mut wire);
    }
    conn.send_raw(&wire);
    for _ in &keys {
        assert_eq!(conn.read_reply(), Some(Reply::OK));
    }
    for i in 0..keys.len() {
        assert_eq!(conn.read_reply(), Some(bulk(&format!("v{i}"))), "reply {i}");
    }
}

#[test]
fn a_pipelined_read_sees_the_multi_step_write_before_it() {
    let server = TestServer::start();
    let (src, dst) = (server.key_on_core(0, "src"), server.key_on_core(1, "dst"));
    let mut conn = server.connect();
    assert_eq!(conn.cmd(&["ZADD", &src, "1", "a"]), Reply::Integer(1));
    // ZUNIONSTORE gathers then writes (two steps); the ZUNION and RENAME
    // after it in the same write must run after it, as in Redis.
    let mut wire = Vec::new();
    for round in 0..20 {
        let member = format!("m{round}");
        kiln_net::resp::encode_request(&["ZADD", &src, "2", &member], &mut wire);
        kiln_net::resp::encode_request(&["ZUNIONSTORE", &dst, "1", &src], &mut wire);
        kiln_net::resp::encode_request(&["ZCARD", &dst], &mut wire);
        kiln_net::resp::encode_request(&["ZINTERCARD", "2", &src, &dst], &mut wire);
    }
    conn.send_raw(&wire);
    for round in 0..20 {
        assert_eq!(conn.read_reply(), Some(Reply::Integer(1)));
        let n = round + 2;
        assert_eq!(conn.read_reply(), Some(Reply::Integer(n)));
        assert_eq!(
            conn.read_reply(),
            Some(Reply::Integer(n)),
            "ZCARD, round {round}"
        );
        assert_eq!(
            conn.read_reply(),
            Some(Reply::Integer(n)),
            "ZINTERCARD, round {round}"
        );
    }
}

#[test]
fn a_half_closed_client_gets_its_multi_step_answers() {
    let server = TestServer::start();
    let (src, dst) = (server.key_on_core(0, "hsrc"), server.key_on_core(1, "hdst"));
    let mut conn = server.connect();
    assert_eq!(conn.cmd(&["SADD", &src, "a", "b"]), Reply::Integer(2));
    conn.send(&["SUNIONSTORE", &dst, &src]);
    conn.send(&["SCARD", &dst]);
    conn.finish_writing();
    assert_eq!(conn.read_reply(), Some(Reply::Integer(2)));
    assert_eq!(conn.read_reply(), Some(Reply::Integer(2)));
    assert!(conn.is_closed());
}

#[test]
fn multi_key_commands_span_cores_on_the_main_port() {
    let server = TestServer::start();
    let a = server.key_on_core(0, "a");
    let b = server.key_on_core(1, "b");
    let c = server.key_on_core(0, "c");
    let mut conn = server.connect();
    assert_eq!(conn.cmd(&["MSET", &a, "1", &b, "2", &c, "3"]), Reply::OK);
    assert_eq!(
        conn.cmd(&["MGET", &b, "missing", &a, &c]),
        Reply::Array(vec![bulk("2"), Reply::Nil, bulk("1"), bulk("3")])
    );
    assert_eq!(
        conn.cmd(&["EXISTS", &a, &b, &b, "missing"]),
        Reply::Integer(3)
    );
    assert_eq!(conn.cmd(&["DBSIZE"]), Reply::Integer(3));
    assert_eq!(conn.cmd(&["DEL", &a, &b, "missing"]), Reply::Integer(2));
    assert_eq!(
        conn.cmd(&["MGET", &a, &b, &c]),
        Reply::Array(vec![Reply::Nil, Reply::Nil, bulk("3")])
    );
    assert_eq!(conn.cmd(&["MSETNX", &a, "x", &b, "y"]), Reply::Integer(1));
    assert_eq!(conn.cmd(&["MSETNX", &a, "x", &c, "y"]), Reply::Integer(0));
    // RENAME and COPY across cores.
    assert_eq!(conn.cmd(&["RENAME", &a, &b]), Reply::OK);
    assert_eq!(
        conn.cmd(&["MGET", &a, &b]),
        Reply::Array(vec![Reply::Nil, bulk("x")])
    );
    assert_eq!(conn.cmd(&["COPY", &b, &a]), Reply::Integer(1));
    assert_eq!(conn.cmd(&["GET", &a]), bulk("x"));
    let Reply::Array(keys) = conn.cmd(&["KEYS", "*"]) else {
        panic!()
    };
    assert_eq!(keys.len(), 3);
    // A key without its value fails whole: no core writes its part.
    let fresh = server.key_on_core(0, "fresh");
    assert_eq!(
        conn.cmd(&["MSET", &fresh, "1", &b]),
        Reply::error("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(conn.cmd(&["EXISTS", &fresh]), Reply::Integer(0));
}

#[test]
fn core_ports_answer_like_cluster_nodes() {
    let server = TestServer::start();
    let mine = server.key_on_core(0, "mine");
    let theirs = server.key_on_core(1, "theirs");
    let mut node0 = Raw::connect(server.core_addrs[0]);
    assert_eq!(node0.cmd(&["SET", &mine, "1"]), Reply::OK);
    let slot = kiln_net::slot::key_slot(theirs.as_bytes());
    assert_eq!(
        node0.cmd(&["GET", &theirs]),
        Reply::error_owned(format!("MOVED {slot} {}", server.core_addrs[1]))
    );
    let other_slot = server.key_on_core(0, "other");
    assert_eq!(
        node0.cmd(&["MGET", &mine, &other_slot]),
        Reply::error("CROSSSLOT Keys in request don't hash to the same slot")
    );
    // The main port gathers a set algebra over both cores; a node refuses.
    for command in [
        &["SUNIONSTORE", &mine, &other_slot][..],
        &["SMOVE", &mine, &other_slot, "m"],
        &["ZUNION", "2", &mine, &other_slot],
        &["BITOP", "OR", &mine, &other_slot],
        &["PFCOUNT", &mine, &other_slot],
        &["PFMERGE", &mine, &other_slot],
    ] {
        assert_eq!(
            node0.cmd(command),
            Reply::error("CROSSSLOT Keys in request don't hash to the same slot"),
            "{command:?}"
        );
    }
    let tagged = ["{user1}:a", "{user1}:b"];
    let owner = if server.core_addrs.len() > 1 && kiln_net::slot::key_slot(b"user1") >= 8192 {
        1
    } else {
        0
    };
    let mut node = Raw::connect(server.core_addrs[owner]);
    assert_eq!(
        node.cmd(&["MSET", tagged[0], "1", tagged[1], "2"]),
        Reply::OK
    );
    assert_eq!(
        node.cmd(&["MGET", tagged[0], tagged[1]]),
        Reply::Array(vec![bulk("1"), bulk("2")])
    );
    // Keys of one slot run on their node.
    assert_eq!(
        node.cmd(&["BITOP", "OR", "{user1}:or", tagged[0], tagged[1]]),
        Reply::Integer(1)
    );
    assert_eq!(node.cmd(&["GET", "{user1}:or"]), bulk("3"));
    assert_eq!(
        node.cmd(&["PFADD", "{user1}:h", "x", "y"]),
        Reply::Integer(1)
    );
    assert_eq!(node.cmd(&["PFMERGE", "{user1}:m", "{user1}:h"]), Reply::OK);
    assert_eq!(
        node.cmd(&["PFCOUNT", "{user1}:m", "{user1}:h"]),
        Reply::Integer(2)
    );
    // A node's DBSIZE counts only its own keys.
    let mut node1 = Raw::connect(server.core_addrs[1]);
    let own = node1.cmd(&["DBSIZE"]);
    let mut main = server.connect();
    let Reply::Integer(total) = main.cmd(&["DBSIZE"]) else {
        panic!()
    };
    let Reply::Integer(own) = own else { panic!() };
    assert!(own < total);
}

#[test]
fn scan_walks_every_core() {
    let server = TestServer::start();
    let mut client = Client::connect(server.addr).unwrap();
    let pairs: Vec<(String, String)> = (0..500)
        .map(|i| (format!("scan:{i}"), i.to_string()))
        .collect();
    client.mset(&pairs).unwrap();
    client.set("other", "x").unwrap();
    let mut conn = server.connect();
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let Reply::Array(page) = conn.cmd(&["SCAN", &cursor, "MATCH", "scan:*", "COUNT", "50"])
        else {
            panic!()
        };
        let Reply::Bulk(next) = &page[0] else {
            panic!()
        };
        let Reply::Array(keys) = &page[1] else {
            panic!()
        };
        for key in keys {
            let Reply::Bulk(k) = key else { panic!() };
            seen.insert(String::from_utf8(k.to_vec()).unwrap());
        }
        cursor = String::from_utf8(next.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 500);
}

#[test]
fn kiln_client_routes_by_slot_and_pipelines() {
    let server = TestServer::start();
    let mut client = Client::connect(server.addr).unwrap();
    assert_eq!(client.slot_map().map(|m| m.nodes().len()), Some(2));
    for i in 0..100 {
        client.set(format!("k{i}"), format!("v{i}")).unwrap();
    }
    let mut pipe = client.pipeline();
    for i in 0..100 {
        pipe.get(format!("k{i}"));
    }
    let replies = pipe.query().unwrap();
    for (i, r) in replies.into_iter().enumerate() {
        assert_eq!(r, bulk(&format!("v{i}")));
    }
    // Requests went straight to the owning cores: nothing was forwarded.
    let info = client.info(Some("stats")).unwrap();
    let forwarded: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("kiln_forwarded_requests:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("kiln_forwarded_requests in INFO");
    assert_eq!(forwarded, 0, "{info}");
}

#[test]
fn geosearchstore_gathers_its_source_on_the_main_port_and_a_node_refuses() {
    let server = TestServer::start();
    let src = server.key_on_core(1, "geo:src");
    let dst = server.key_on_core(0, "geo:dst");
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd(&[
            "GEOADD",
            &src,
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania"
        ]),
        Reply::Integer(2)
    );
    let search = |store: &str, from: &str| {
        vec![
            "GEOSEARCHSTORE".to_owned(),
            store.to_owned(),
            from.to_owned(),
            "FROMMEMBER".to_owned(),
            "Catania".to_owned(),
            "BYRADIUS".to_owned(),
            "200".to_owned(),
            "km".to_owned(),
            "STOREDIST".to_owned(),
        ]
    };
    let words = search(&dst, &src);
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    assert_eq!(conn.cmd(&args), Reply::Integer(2));
    assert_eq!(
        conn.cmd(&["ZRANGE", &dst, "0", "-1"]),
        Reply::Array(vec![bulk("Catania"), bulk("Palermo")])
    );
    // STOREDIST keeps the exact distance; GEODIST rounds it to 4 decimals.
    assert_eq!(
        conn.cmd(&["ZSCORE", &dst, "Palermo"]),
        bulk("166.27415156960032")
    );
    assert_eq!(
        conn.cmd(&["GEODIST", &src, "Catania", "Palermo", "km"]),
        bulk("166.2742")
    );
    // An empty result deletes the destination on its core.
    let words = [
        "GEOSEARCHSTORE",
        &dst,
        &src,
        "FROMLONLAT",
        "0",
        "0",
        "BYRADIUS",
        "1",
        "km",
    ];
    assert_eq!(conn.cmd(&words), Reply::Integer(0));
    assert_eq!(conn.cmd(&["EXISTS", &dst]), Reply::Integer(0));
    // A core port answers as a cluster node; GEORADIUS's STORE key (found
    // by keyword) must share the source's core.
    let crossslot = Reply::error("CROSSSLOT Keys in request don't hash to the same slot");
    let mut node1 = Raw::connect(server.core_addrs[1]);
    let words = search(&dst, &src);
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    assert_eq!(node1.cmd(&args), crossslot);
    assert_eq!(
        conn.cmd(&["GEORADIUS", &src, "15", "37", "200", "km", "STORE", &dst]),
        crossslot
    );
    let near = server.key_on_core(1, "geo:near");
    assert_eq!(
        conn.cmd(&["GEORADIUS", &src, "15", "37", "200", "km", "STORE", &near]),
        Reply::Integer(2)
    );
}
