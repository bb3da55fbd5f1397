//! Pub/sub against the real server: messages reach subscribers on every
//! core from publishers on any core, channels belong to their tenant, a
//! subscriber that does not read is cut off by the `pubsub` output limit,
//! core ports route shard channels as Redis Cluster does, and redis-cli
//! works as a subscriber.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    Raw, TestServer, bulk, eventually, info_field, login, start_with_config, tenant_config,
};
use kiln_net::Reply;

fn message(channel: &str, payload: &str) -> Reply {
    Reply::Array(vec![bulk("message"), bulk(channel), bulk(payload)])
}

fn subscribe(conn: &mut Raw, channel: &str, count: i64) {
    assert_eq!(
        conn.cmd(&["SUBSCRIBE", channel]),
        Reply::Array(vec![
            bulk("subscribe"),
            bulk(channel),
            Reply::Integer(count)
        ])
    );
}

#[test]
fn a_message_reaches_subscribers_on_every_core_once() {
    let server = TestServer::start();
    let mut subscribers = [server.connect_on_core(0), server.connect_on_core(1)];
    for s in &mut subscribers {
        subscribe(s, "news", 1);
    }
    for core in 0..2 {
        let mut publisher = server.connect_on_core(core);
        let text = format!("from core {core}");
        assert_eq!(
            publisher.cmd(&["PUBLISH", "news", &text]),
            Reply::Integer(2),
            "every subscriber counted"
        );
        for s in &mut subscribers {
            assert_eq!(s.read_reply(), Some(message("news", &text)));
        }
    }
    // A core port's PUBLISH reaches every core too (Redis Cluster
    // broadcasts publishes).
    let mut core_port = Raw::connect(server.core_addrs[1]);
    assert_eq!(
        core_port.cmd(&["PUBLISH", "news", "via core 1"]),
        Reply::Integer(2)
    );
    for s in &mut subscribers {
        assert_eq!(s.read_reply(), Some(message("news", "via core 1")));
    }
    // Nobody left: nothing is sent, 0 receivers.
    for s in &mut subscribers {
        assert_eq!(
            s.cmd(&["UNSUBSCRIBE"]),
            Reply::Array(vec![bulk("unsubscribe"), bulk("news"), Reply::Integer(0)])
        );
    }
    assert_eq!(core_port.cmd(&["PUBLISH", "news", "x"]), Reply::Integer(0));
}

#[test]
fn channels_belong_to_their_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let config = tenant_config(dir.path(), &[("t1", "p1", ""), ("t2", "p2", "")]);
    let server = start_with_config(&config);
    let mut t1_sub = login(&server, "t1", "p1");
    let mut t2_sub = login(&server, "t2", "p2");
    subscribe(&mut t1_sub, "orders", 1);
    subscribe(&mut t2_sub, "orders", 1);
    assert_eq!(
        t2_sub.cmd(&["PSUBSCRIBE", "*"]),
        Reply::Array(vec![bulk("psubscribe"), bulk("*"), Reply::Integer(2)])
    );
    let mut t1 = login(&server, "t1", "p1");
    assert_eq!(t1.cmd(&["PUBLISH", "orders", "t1's"]), Reply::Integer(1));
    assert_eq!(t1_sub.read_reply(), Some(message("orders", "t1's")));
    assert_eq!(
        t1.cmd(&["PUBSUB", "NUMSUB", "orders"]),
        Reply::Array(vec![bulk("orders"), Reply::Integer(1)])
    );
    assert_eq!(t1.cmd(&["PUBSUB", "NUMPAT"]), Reply::Integer(0));
    assert_eq!(
        t1.cmd(&["PUBSUB", "CHANNELS"]),
        Reply::Array(vec![bulk("orders")])
    );
    // t2's subscriber got nothing from t1: its next reply is its own PING.
    assert_eq!(
        t2_sub.cmd(&["PING"]),
        Reply::Array(vec![bulk("pong"), bulk("")])
    );
    let mut t2 = login(&server, "t2", "p2");
    assert_eq!(t2.cmd(&["PUBLISH", "orders", "t2's"]), Reply::Integer(2));
    assert_eq!(t2_sub.read_reply(), Some(message("orders", "t2's")));
    assert_eq!(
        t2_sub.read_reply(),
        Some(Reply::Array(vec![
            bulk("pmessage"),
            bulk("*"),
            bulk("orders"),
            bulk("t2's")
        ]))
    );
    assert_eq!(
        t1_sub.cmd(&["PING", "still here"]),
        Reply::Array(vec![bulk("pong"), bulk("still here")])
    );
}

#[test]
fn a_subscriber_that_does_not_read_is_cut_off_by_the_pubsub_limit() {
    let server = TestServer::start();
    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 256kb 64kb 1"
        ]),
        Reply::OK
    );
    let mut reader = server.connect();
    subscribe(&mut reader, "firehose", 1);
    let mut stalled = server.connect();
    subscribe(&mut stalled, "firehose", 1);
    // A normal client with the same backlog would be under its (larger)
    // limit: only the subscriber's class applies.
    let payload = "x".repeat(16 * 1024);
    let before = info_field(&mut admin, "client_output_buffer_limit_disconnections");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut receivers = 2;
    let mut sent = 0;
    while receivers == 2 {
        assert!(
            Instant::now() < deadline,
            "the stalled subscriber was never cut off"
        );
        let Reply::Integer(n) = admin.cmd(&["PUBLISH", "firehose", &payload]) else {
            panic!("PUBLISH")
        };
        receivers = n;
        sent += 1;
        // The reader keeps up.
        assert!(matches!(reader.read_reply(), Some(Reply::Array(_))));
    }
    assert_eq!(receivers, 1, "the reader stays");
    assert!(
        sent * payload.len() > 64 * 1024,
        "cut at the limit, not before"
    );
    assert!(eventually(Duration::from_secs(5), || {
        info_field(&mut admin, "client_output_buffer_limit_disconnections") > before
    }));
    // What it was sent before the cut, then the end of the stream.
    while stalled.read_reply().is_some() {}
    assert!(stalled.is_closed());
}

#[test]
fn core_ports_route_shard_channels_by_slot() {
    let server = TestServer::start();
    let mine = server.key_on_core(0, "events-");
    let theirs = server.key_on_core(1, "feed-");
    let mut core0 = Raw::connect(server.core_addrs[0]);
    let Reply::Error(moved) = core0.cmd(&["SSUBSCRIBE", &theirs]) else {
        panic!("another core's shard channel")
    };
    assert!(moved.starts_with("MOVED "), "{moved}");
    let Reply::Error(moved) = core0.cmd(&["SPUBLISH", &theirs, "x"]) else {
        panic!("another core's shard channel")
    };
    assert!(moved.starts_with("MOVED "), "{moved}");
    assert_eq!(
        core0.cmd(&["SSUBSCRIBE", &mine]),
        Reply::Array(vec![bulk("ssubscribe"), bulk(&mine), Reply::Integer(1)])
    );
    // A main-port publisher reaches it.
    let mut main = server.connect();
    assert_eq!(main.cmd(&["SPUBLISH", &mine, "hi"]), Reply::Integer(1));
    assert_eq!(
        core0.read_reply(),
        Some(Reply::Array(vec![
            bulk("smessage"),
            bulk(&mine),
            bulk("hi")
        ]))
    );
    // A plain PUBLISH on the same name is another channel.
    assert_eq!(main.cmd(&["PUBLISH", &mine, "hi"]), Reply::Integer(0));
}

#[test]
fn redis_cli_subscribes_and_gets_messages() {
    let server = TestServer::start();
    let mut cli = Command::new("redis-cli")
        .args(["-p", &server.addr.port().to_string(), "SUBSCRIBE", "alerts"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli must be installed (.ci/run installs it)");
    let mut lines = BufReader::new(cli.stdout.take().unwrap()).lines();
    let mut publisher = server.connect();
    // Subscribed once the server counts it.
    assert!(eventually(Duration::from_secs(10), || {
        publisher.cmd(&["PUBSUB", "NUMSUB", "alerts"])
            == Reply::Array(vec![bulk("alerts"), Reply::Integer(1)])
    }));
    assert_eq!(
        publisher.cmd(&["PUBLISH", "alerts", "disk full"]),
        Reply::Integer(1)
    );
    let seen: Vec<String> = lines.by_ref().take(6).map(Result::unwrap).collect();
    let _ = cli.kill();
    let _ = cli.wait();
    assert_eq!(
        seen,
        ["subscribe", "alerts", "1", "message", "alerts", "disk full"]
    );
}

#[test]
fn a_function_publishes_after_its_writes() {
    let server = TestServer::start();
    let mut admin = server.connect();
    let lib = "#!js name=events\n\
        kiln.registerFunction('order', (keys, args) => {\n\
          kiln.put(keys[0], args[0]);\n\
          kiln.publish('orders', args[0]);\n\
          return kiln.call('PUBLISH', 'orders', 'second');\n\
        });\n\
        kiln.registerFunction('peek', () => { kiln.publish('orders', 'ro'); return 1; }, { flags: ['no-writes'] });";
    assert_eq!(admin.cmd(&["FUNCTION", "LOAD", lib]), bulk("events"));
    let mut subscribers = [server.connect_on_core(0), server.connect_on_core(1)];
    for s in &mut subscribers {
        subscribe(s, "orders", 1);
    }
    for core in 0..2 {
        let key = server.key_on_core(core, "order-");
        // kiln.call's PUBLISH answers 0: receivers on other cores are not
        // known while the function runs.
        assert_eq!(
            admin.cmd(&["FCALL", "order", "1", &key, "o-1"]),
            Reply::Integer(0)
        );
        for s in &mut subscribers {
            assert_eq!(s.read_reply(), Some(message("orders", "o-1")));
            assert_eq!(s.read_reply(), Some(message("orders", "second")));
        }
        // The write is there for whoever got the message.
        let mut reader = server.connect();
        assert_eq!(reader.cmd(&["GET", &key]), bulk("o-1"));
    }
    assert_eq!(admin.cmd(&["FCALL_RO", "peek", "0"]), Reply::Integer(1));
    for s in &mut subscribers {
        assert_eq!(s.read_reply(), Some(message("orders", "ro")));
    }
}
