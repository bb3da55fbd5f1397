//! `Client::subscribe` against a real two-core Kiln server: messages over
//! RESP2 and RESP3, patterns and shard channels, and a subscriber that
//! comes back subscribed after the server cut its connection.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, bulk};
use kiln_client::{Message, Reply};

fn message(channel: &str, payload: &str) -> Message {
    Message {
        channel: channel.as_bytes().to_vec().into(),
        pattern: None,
        shard: false,
        payload: payload.as_bytes().to_vec().into(),
    }
}

/// Publishes `payload` until `receivers` clients get it (a subscription
/// is in place once the server counts it).
fn publish_when_subscribed(
    c: &mut kiln_client::Client,
    channel: &str,
    payload: &str,
    receivers: i64,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let numsub = c.cmd(&["PUBSUB", "NUMSUB", channel]).unwrap();
        if numsub == Reply::Array(vec![bulk(channel), Reply::Integer(receivers)]) {
            break;
        }
        assert!(Instant::now() < deadline, "never subscribed: {numsub:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        c.cmd(&["PUBLISH", channel, payload]).unwrap(),
        Reply::Integer(receivers)
    );
}

#[test]
fn a_subscriber_gets_messages_patterns_and_shard_messages() {
    let server = TestServer::start();
    for resp3 in [false, true] {
        let mut c = server.client(resp3);
        let mut sub = c.subscribe(&["news"]).unwrap();
        publish_when_subscribed(&mut c, "news", "first", 1);
        assert_eq!(sub.next_message().unwrap(), message("news", "first"));

        sub.psubscribe(&["n*"]).unwrap();
        sub.ssubscribe(&["{s}feed"]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.cmd(&["PUBSUB", "NUMPAT"]).unwrap() != Reply::Integer(1) {
            assert!(Instant::now() < deadline);
        }
        assert_eq!(
            c.cmd(&["PUBLISH", "news", "both"]).unwrap(),
            Reply::Integer(2)
        );
        assert_eq!(sub.next_message().unwrap(), message("news", "both"));
        let by_pattern = sub.next_message().unwrap();
        assert_eq!(by_pattern.pattern.as_deref(), Some(&b"n*"[..]));
        assert_eq!(
            c.cmd(&["SPUBLISH", "{s}feed", "s"]).unwrap(),
            Reply::Integer(1)
        );
        let shard = sub.next_message().unwrap();
        assert!(shard.shard && shard.payload.as_ref() == b"s", "{shard:?}");

        sub.unsubscribe(&["news"]).unwrap();
        sub.punsubscribe(&["n*"]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.cmd(&["PUBLISH", "news", "gone"]).unwrap() != Reply::Integer(0) {
            assert!(Instant::now() < deadline);
        }
        assert_eq!(
            sub.next_within(Some(Duration::from_millis(50))).unwrap(),
            None
        );
    }
}

#[test]
fn a_cut_subscriber_reconnects_and_subscribes_again() {
    let server = TestServer::start();
    let mut c = server.client(false);
    let mut sub = c.subscribe(&["jobs"]).unwrap();
    publish_when_subscribed(&mut c, "jobs", "before", 1);
    assert_eq!(sub.next_message().unwrap(), message("jobs", "before"));
    // A message past the pubsub class's hard limit cuts the subscriber.
    c.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 1kb 0 0",
    ])
    .unwrap();
    c.cmd(&["PUBLISH", "jobs", &"x".repeat(4096)]).unwrap();
    // Reading finds the connection gone, reconnects and resubscribes.
    assert_eq!(
        sub.next_within(Some(Duration::from_millis(200))).unwrap(),
        None
    );
    c.cmd(&[
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 32mb 8mb 60",
    ])
    .unwrap();
    publish_when_subscribed(&mut c, "jobs", "after", 1);
    assert_eq!(sub.next_message().unwrap(), message("jobs", "after"));
}
