//! Each client limit against the real server: what happens when it is hit
//! (README "Limits"), and that everyone else keeps being served.

mod common;

use std::time::Duration;

use common::{Raw, TestServer, bulk, eventually, info_field, rss_bytes};
use kiln_net::Reply;

#[test]
fn maxclients_refuses_one_more_client_with_redis_error() {
    let server = TestServer::start_with(&["--maxclients", "3"]);
    let mut first = server.connect();
    // The readiness probes' connections close asynchronously.
    assert!(eventually(Duration::from_secs(10), || info_field(
        &mut first,
        "connected_clients"
    ) == 1));
    let mut held: Vec<Raw> = (0..2).map(|_| server.connect()).collect();
    for conn in &mut held {
        assert_eq!(conn.cmd(&["PING"]), Reply::status("PONG"));
    }
    let mut refused = server.connect();
    assert_eq!(
        refused.read_reply(),
        Some(Reply::error("ERR max number of clients reached"))
    );
    assert!(refused.is_closed());
    assert_eq!(info_field(&mut first, "rejected_connections"), 1);
    drop(held);
    assert!(eventually(Duration::from_secs(10), || {
        server.connect().cmd(&["PING"]) == Reply::status("PONG")
    }));
}

#[test]
fn a_reply_over_the_hard_output_limit_closes_the_client_unencoded() {
    let server = TestServer::start_with(&["--client-output-buffer-limit", "normal 1mb 0 0"]);
    let mut other = server.connect();
    let value = "v".repeat(600 * 1024);
    assert_eq!(other.cmd(&["SET", "{t}big", &value]), Reply::OK);
    let mut greedy = server.connect();
    assert_eq!(
        greedy.cmd(&["STRLEN", "{t}big"]),
        Reply::Integer(600 * 1024)
    );
    assert_eq!(greedy.cmd(&["GET", "{t}big"]), bulk(&value));
    // 1.2 MB in one reply: refused before it is built, and the client goes.
    greedy.send(&["MGET", "{t}big", "{t}big"]);
    assert_eq!(greedy.read_reply(), None);
    assert_eq!(
        info_field(&mut other, "client_output_buffer_limit_disconnections"),
        1
    );
    assert_eq!(other.cmd(&["STRLEN", "{t}big"]), Reply::Integer(600 * 1024));
}

#[test]
fn the_query_buffer_limit_closes_a_client_sending_an_oversized_request() {
    let server = TestServer::start_with(&["--client-query-buffer-limit", "1mb"]);
    let mut other = server.connect();
    let mut greedy = server.connect();
    greedy.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    greedy.send_raw_until_closed(&vec![b'x'; 1200 * 1024]);
    assert!(greedy.is_closed());
    assert_eq!(
        info_field(&mut other, "client_query_buffer_limit_disconnections"),
        1
    );
    assert_eq!(other.cmd(&["EXISTS", "k"]), Reply::Integer(0));
}

#[test]
fn the_pipeline_limit_pauses_reading_without_losing_order() {
    let server = TestServer::start();
    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "client-pipeline-limit", "1"]),
        Reply::OK
    );
    // Keys on both cores: from the main port, half are forwarded, so each
    // waits in the connection's queue and reading pauses at every one.
    let keys: Vec<String> = (0..200)
        .map(|i| server.key_on_core(i % 2, &format!("p{i}:")))
        .collect();
    let mut pipeliner = server.connect();
    for (i, key) in keys.iter().enumerate() {
        pipeliner.send(&["SET", key, &i.to_string()]);
        pipeliner.send(&["GET", key]);
    }
    for i in 0..keys.len() {
        assert_eq!(pipeliner.read_reply(), Some(Reply::OK));
        assert_eq!(pipeliner.read_reply(), Some(bulk(&i.to_string())));
    }
}

#[test]
fn a_declared_argument_length_costs_no_memory_until_it_arrives() {
    const CLIENTS: usize = 4;
    let server = TestServer::start();
    let mut other = server.connect();
    let before = rss_bytes(server.pid());
    let mut claimers: Vec<Raw> = (0..CLIENTS).map(|_| server.connect()).collect();
    for claimer in &mut claimers {
        // 400 MB announced, 64 KB sent: the buffer grows for the whole
        // argument at once, but its pages stay untouched.
        claimer.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\n");
        claimer.send_raw(&vec![b'x'; 64 * 1024]);
    }
    // Wait until the server has read what each claimer sent.
    let buffered = |other: &mut Raw| {
        let Reply::Bulk(list) = other.cmd(&["CLIENT", "LIST"]) else {
            panic!("CLIENT LIST")
        };
        String::from_utf8_lossy(&list)
            .split_whitespace()
            .filter_map(|field| field.strip_prefix("qbuf="))
            .filter(|n| n.parse::<usize>().is_ok_and(|n| n >= 64 * 1024))
            .count()
    };
    assert!(eventually(Duration::from_secs(10), || buffered(&mut other) == CLIENTS));
    let grown = rss_bytes(server.pid()).saturating_sub(before);
    assert!(grown < 64 << 20, "RSS grew by {grown} bytes");
    assert_eq!(other.cmd(&["DBSIZE"]), Reply::Integer(0));
}
