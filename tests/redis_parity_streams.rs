//! Streams against a real `redis-server` (7.0 here; 7.2-only fields are
//! masked), `DUMP` of a stream moving between the two, and blocking XREAD
//! / XREADGROUP across cores.

mod common;

use std::time::{Duration, Instant};

use common::redis::Redis;
use common::streams;
use common::{Raw, TestServer};
use kiln_net::Reply;

/// Time fields (idle times, delivery times) differ between two servers:
/// integers that look like a time or a small idle are masked in XINFO and
/// XPENDING replies.
fn mask_times(reply: &mut Reply, name: &str) {
    fn walk(r: &mut Reply, mask_next: bool) {
        match r {
            Reply::Integer(n) if mask_next => *n = -7,
            Reply::Array(items) => {
                let mut mask = false;
                for item in items.iter_mut() {
                    walk(item, mask);
                    mask = matches!(item, Reply::Bulk(b) if [&b"idle"[..], b"inactive", b"seen-time", b"active-time"].contains(&&b[..]));
                }
            }
            Reply::Map(pairs) => {
                for (k, v) in pairs.iter_mut() {
                    let m = matches!(k, Reply::Bulk(b) if [&b"idle"[..], b"inactive", b"seen-time", b"active-time"].contains(&&b[..]));
                    walk(v, m);
                }
            }
            _ => {}
        }
    }
    walk(reply, false);
    if name == "XPENDING" {
        // Extended rows: [id, consumer, idle, count].
        if let Reply::Array(rows) = reply {
            for row in rows {
                if let Reply::Array(parts) = row
                    && parts.len() == 4
                    && let Reply::Integer(n) = &mut parts[2]
                {
                    *n = -7;
                }
            }
        }
    }
    if name == "XINFO" {
        // Redis 7.0 has no active-time / inactive (7.2): drop them from both.
        strip_72(reply);
    }
}

/// Removes the fields Redis 7.2 added to XINFO (active-time, inactive),
/// and delivery times inside FULL's PELs.
fn strip_72(reply: &mut Reply) {
    match reply {
        Reply::Array(items) => {
            let mut out = Vec::new();
            let mut skip = false;
            for mut item in std::mem::take(items) {
                if skip {
                    skip = false;
                    continue;
                }
                if matches!(&item, Reply::Bulk(b) if &b[..] == b"active-time" || &b[..] == b"inactive")
                {
                    skip = true;
                    continue;
                }
                strip_72(&mut item);
                out.push(item);
            }
            *items = out;
        }
        Reply::Map(pairs) => {
            pairs.retain(|(k, _)| !matches!(k, Reply::Bulk(b) if &b[..] == b"active-time" || &b[..] == b"inactive"));
            for (_, v) in pairs.iter_mut() {
                strip_72(v);
            }
        }
        _ => {}
    }
}

fn compare(resp3: bool, script: &[&[&str]]) {
    compare_on(&TestServer::start(), resp3, script);
}

/// [`compare`] against a Kiln already started (whose cores a script's keys
/// were chosen for).
fn compare_on(kiln: &TestServer, resp3: bool, script: &[&[&str]]) {
    let redis = Redis::start();
    let mut r = Raw::connect(format!("127.0.0.1:{}", redis.port).parse().unwrap());
    let mut k = kiln.connect();
    if resp3 {
        r.cmd(&["HELLO", "3"]);
        k.cmd(&["HELLO", "3"]);
    }
    common::redis::assert_same_replies(&mut r, &mut k, script, mask_times);
}

const SCRIPT: &[&[&str]] = &[
    // IDs and XADD's errors.
    &["XADD", "s", "1-1", "a", "1", "b", "2"],
    &["XADD", "s", "1-1", "a", "1"],
    &["XADD", "s", "1-0", "a", "1"],
    &["XADD", "s", "0-0", "a", "1"],
    &["XADD", "fresh", "0-0", "a", "1"],
    &["EXISTS", "fresh"],
    &["XADD", "s", "1-*", "a", "3"],
    &["XADD", "s", "5", "a", "4", "b", "5"],
    &["XADD", "s", "5-*", "c", "6"],
    &["XADD", "s", "abc", "a", "1"],
    &["XADD", "s", "1-x", "a", "1"],
    &["XADD", "s", "-", "a", "1"],
    &["XADD", "s", "18446744073709551616-0", "a", "1"],
    &["XADD", "s", "7-1", "odd"],
    &["XADD", "s", "MAXLEN", "-1", "8-0", "a", "1"],
    &["XADD", "s", "MAXLEN", "~", "x", "8-0", "a", "1"],
    &["XADD", "s", "MAXLEN", "1", "LIMIT", "10", "8-0", "a", "1"],
    &["XADD", "s", "MAXLEN", "1", "MINID", "1", "8-0", "a", "1"],
    &["XADD", "s", "LIMIT", "10", "8-0", "a", "1"],
    &["XADD", "nokey", "NOMKSTREAM", "1-1", "a", "1"],
    &["EXISTS", "nokey"],
    &["XADD", "s", "10-0", "f", "v"],
    &["XADD", "s", "11-0", "f", "v"],
    &["XADD", "s", "12-0", "f", "v"],
    &["XLEN", "s"],
    &["XLEN", "missing"],
    // Ranges.
    &["XRANGE", "s", "-", "+"],
    &["XRANGE", "s", "-", "+", "COUNT", "2"],
    &["XRANGE", "s", "(1-1", "5"],
    &["XRANGE", "s", "5", "5"],
    &["XRANGE", "s", "(5-1", "+", "COUNT", "0"],
    &["XRANGE", "s", "-", "+", "COUNT", "-1"],
    &[
        "XRANGE",
        "s",
        "(18446744073709551615-18446744073709551615",
        "+",
    ],
    &["XRANGE", "s", "x", "+"],
    &["XRANGE", "s", "-", "+", "LIMIT", "1"],
    &["XREVRANGE", "s", "+", "-", "COUNT", "3"],
    &["XREVRANGE", "s", "(11", "(1-1"],
    &["XRANGE", "missing", "-", "+"],
    // Delete and trim.
    &["XDEL", "s", "1-2", "99-0", "1-2"],
    &["XDEL", "s", "bad"],
    &["XTRIM", "s", "MAXLEN", "4"],
    &["XRANGE", "s", "-", "+"],
    &["XTRIM", "s", "MINID", "11"],
    &["XTRIM", "s", "MAXLEN", "~", "0"],
    &["XTRIM", "s", "FOO", "1"],
    &["XTRIM", "s", "MAXLEN", "=", "0", "LIMIT", "1"],
    &["XTRIM", "s", "LIMIT", "1"],
    &["XLEN", "s"],
    // XREAD.
    &["XADD", "r", "1-0", "a", "1"],
    &["XADD", "r", "2-0", "b", "2"],
    &["XREAD", "STREAMS", "r", "0"],
    &["XREAD", "COUNT", "1", "STREAMS", "r", "r", "0", "1"],
    &["XREAD", "STREAMS", "r", "$"],
    &["XREAD", "STREAMS", "r"],
    &["XREAD", "STREAMS", "r", ">"],
    &["XREAD", "GROUP", "g", "c", "STREAMS", "r", "0"],
    &["XREAD", "NOACK", "STREAMS", "r", "0"],
    &["XREAD", "STREAMS", "missing", "0"],
    &["XREAD", "COUNT", "x", "STREAMS", "r", "0"],
    // Groups.
    &["XGROUP", "CREATE", "r", "g", "0"],
    &["XGROUP", "CREATE", "r", "g", "0"],
    &["XGROUP", "CREATE", "nostream", "g", "$"],
    &["XGROUP", "CREATE", "nostream", "g", "$", "MKSTREAM"],
    // A group on a stream MKSTREAM made: entries-read is nil.
    &["XINFO", "GROUPS", "nostream"],
    &["XGROUP", "CREATE", "r", "g2", "$", "ENTRIESREAD", "-5"],
    &["XGROUP", "CREATE", "r", "g3", "bad"],
    &["XGROUP", "CREATECONSUMER", "r", "g", "alice"],
    &["XGROUP", "CREATECONSUMER", "r", "g", "alice"],
    &["XGROUP", "CREATECONSUMER", "r", "nog", "alice"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "1",
        "STREAMS",
        "r",
        ">",
    ],
    &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "r", ">"],
    &["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "r", ">"],
    &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "r", "0"],
    &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "r", "$"],
    &["XREADGROUP", "GROUP", "nog", "alice", "STREAMS", "r", ">"],
    &[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "STREAMS",
        "missing",
        ">",
    ],
    &["XREADGROUP", "STREAMS", "r", ">"],
    &["XPENDING", "r", "g"],
    &["XPENDING", "r", "g", "-", "+", "10"],
    &["XPENDING", "r", "g", "-", "+", "10", "bob"],
    &["XPENDING", "r", "g", "IDLE", "0", "-", "+", "10"],
    &["XPENDING", "r", "nog"],
    &["XPENDING", "r", "g", "-", "+", "-1"],
    &["XDEL", "r", "1-0"],
    &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "r", "0"],
    &["XACK", "r", "g", "2-0", "2-0", "9-0"],
    &["XACK", "r", "g", "bad"],
    &["XPENDING", "r", "g"],
    // Claims.
    &["XADD", "r", "3-0", "c", "3"],
    &["XADD", "r", "4-0", "d", "4"],
    &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "r", ">"],
    &["XCLAIM", "r", "g", "bob", "0", "3-0"],
    &["XCLAIM", "r", "g", "bob", "0", "4-0", "JUSTID"],
    &[
        "XCLAIM",
        "r",
        "g",
        "bob",
        "0",
        "4-0",
        "RETRYCOUNT",
        "7",
        "JUSTID",
    ],
    &["XCLAIM", "r", "g", "bob", "999999999", "3-0"],
    &["XCLAIM", "r", "g", "bob", "x", "3-0"],
    &["XCLAIM", "r", "g", "bob", "0", "3-0", "BOGUS"],
    &["XCLAIM", "r", "nog", "bob", "0", "3-0"],
    &["XCLAIM", "r", "g", "carol", "0", "2-0", "FORCE", "JUSTID"],
    &["XPENDING", "r", "g", "-", "+", "10"],
    &["XAUTOCLAIM", "r", "g", "dave", "0", "0", "COUNT", "1"],
    &[
        "XAUTOCLAIM",
        "r",
        "g",
        "dave",
        "0",
        "0",
        "COUNT",
        "1",
        "JUSTID",
    ],
    &["XAUTOCLAIM", "r", "g", "dave", "0", "(3-0"],
    &["XAUTOCLAIM", "r", "g", "dave", "0", "0", "COUNT", "0"],
    &["XAUTOCLAIM", "r", "g", "dave", "0", "0", "BOGUS"],
    &["XDEL", "r", "4-0"],
    &["XAUTOCLAIM", "r", "g", "erin", "0", "0"],
    &["XPENDING", "r", "g"],
    // A deleted consumer's pending entries go with it.
    &["XGROUP", "DELCONSUMER", "r", "g", "erin"],
    &["XGROUP", "DELCONSUMER", "r", "g", "nobody"],
    &["XPENDING", "r", "g"],
    &["XINFO", "GROUPS", "r"],
    &["XINFO", "CONSUMERS", "r", "g"],
    &["XINFO", "CONSUMERS", "r", "nog"],
    &["XINFO", "STREAM", "r"],
    &["XINFO", "STREAM", "r", "FULL"],
    &["XINFO", "STREAM", "missing"],
    &["XGROUP", "SETID", "r", "g", "0", "ENTRIESREAD", "0"],
    &["XGROUP", "SETID", "r", "nog", "0"],
    &["XINFO", "GROUPS", "r"],
    &["XGROUP", "DESTROY", "r", "g"],
    &["XGROUP", "DESTROY", "r", "g"],
    &["XGROUP", "FOO"],
    // XSETID.
    // (Redis 7.0 checks the top item before the largest deleted ID; 7.2+
    // the other way round, as Kiln does: no case with both here.)
    &["XSETID", "r", "100-0", "ENTRIESADDED", "1"],
    &[
        "XSETID",
        "r",
        "100-0",
        "ENTRIESADDED",
        "50",
        "MAXDELETEDID",
        "200-0",
    ],
    &[
        "XSETID",
        "r",
        "100-0",
        "ENTRIESADDED",
        "50",
        "MAXDELETEDID",
        "5-0",
    ],
    &["XSETID", "missing", "1-0"],
    &["XINFO", "STREAM", "r"],
    &["XADD", "r", "99-0", "a", "1"],
    // Types.
    &["SET", "str", "x"],
    &["XADD", "str", "1-1", "a", "1"],
    &["XRANGE", "str", "-", "+"],
    &["XLEN", "str"],
    &["TYPE", "r"],
    &["OBJECT", "ENCODING", "r"],
];

#[test]
fn stream_replies_match_redis() {
    compare(false, SCRIPT);
}

#[test]
fn stream_resp3_replies_match_redis() {
    compare(
        true,
        &[
            &["XADD", "s", "1-1", "a", "1"],
            &["XREAD", "STREAMS", "s", "0"],
            &["XREAD", "STREAMS", "s", "$"],
            &["XGROUP", "CREATE", "s", "g", "0"],
            &["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
            &["XINFO", "GROUPS", "s"],
            &["XINFO", "STREAM", "s"],
            &["XINFO", "CONSUMERS", "s", "g"],
            &["XPENDING", "s", "g"],
            &["XAUTOCLAIM", "s", "g", "d", "0", "0"],
        ],
    );
}

/// A non-blocking XREAD of streams on both cores, through the main port,
/// answers as Redis does: streams in the order named, those without new
/// entries left out, nil when none has any, the first bad ID failing the
/// whole read; BLOCK across cores is refused, as for the blocking pops.
#[test]
fn xread_of_streams_on_both_cores_matches_redis() {
    let kiln = TestServer::start();
    let (a, b) = (kiln.key_on_core(0, "sa"), kiln.key_on_core(1, "sb"));
    let (c, s) = (kiln.key_on_core(1, "sc"), kiln.key_on_core(0, "str"));
    let script: Vec<Vec<&str>> = vec![
        vec!["XADD", &a, "1-0", "f", "a1"],
        vec!["XADD", &a, "2-0", "f", "a2"],
        vec!["XADD", &b, "1-5", "f", "b1"],
        vec!["XADD", &c, "9-0", "f", "c1"],
        vec!["SET", &s, "not a stream"],
        vec!["XREAD", "STREAMS", &a, &b, "0", "0"],
        vec!["XREAD", "STREAMS", &b, &a, "0", "0"],
        vec!["XREAD", "COUNT", "1", "STREAMS", &a, &b, &c, "0", "0", "0"],
        vec!["XREAD", "STREAMS", &a, &b, &c, "1", "1-5", "0"],
        vec!["XREAD", "STREAMS", &a, &b, "2", "1-5"],
        vec!["XREAD", "STREAMS", &a, &b, "$", "$"],
        vec!["XREAD", "STREAMS", &a, &b, &a, "0", "0", "1"],
        vec!["XREAD", "STREAMS", &a, "missing", &b, "0", "0", "0"],
        vec!["XREAD", "STREAMS", &a, &b, "0", "bad"],
        vec!["XREAD", "STREAMS", &a, &b, "0", ">"],
        vec!["XREAD", "STREAMS", &a, &s, "0", "0"],
    ];
    let script: Vec<&[&str]> = script.iter().map(Vec::as_slice).collect();
    compare_on(&kiln, false, &script);
    let (a3, b3) = (kiln.key_on_core(0, "ta"), kiln.key_on_core(1, "tb"));
    compare_on(
        &kiln,
        true,
        &[
            &["XADD", &a3, "1-0", "f", "a"],
            &["XADD", &b3, "1-0", "f", "b"],
            &["XREAD", "STREAMS", &a3, &b3, "0", "0"],
            &["XREAD", "STREAMS", &a3, &b3, "1", "1"],
        ],
    );
    let mut conn = kiln.connect();
    let blocked = conn.cmd(&["XREAD", "BLOCK", "10", "STREAMS", &a, &b, "0", "0"]);
    assert!(
        matches!(&blocked, Reply::Error(e) if e.starts_with("CROSSSLOT")),
        "{blocked:?}"
    );
}

/// DUMPs stream `key` on `from`, RESTOREs it on `to` as `<key>-moved`
/// and checks every fact of the copy equals the original's.
fn move_stream(from: &mut Raw, to: &mut Raw, key: &str, what: &str) {
    let Reply::Bulk(payload) = from.cmd(&["DUMP", key]) else {
        panic!("DUMP {key}: {what}")
    };
    let copy = format!("{key}-moved");
    assert_eq!(
        to.cmd_bytes(&[b"RESTORE", copy.as_bytes(), b"0", &payload]),
        Reply::OK,
        "{what}: {key}"
    );
    let (got, want) = (streams::facts(to, &copy), streams::facts(from, key));
    for ((command, got), (_, want)) in got.iter().zip(&want) {
        assert_eq!(got, want, "{what} of {key}: {command}");
    }
}

#[test]
fn dump_of_a_stream_restores_from_redis_into_kiln_and_back() {
    let redis = Redis::start();
    let kiln = TestServer::start();
    let mut r = redis.connect();
    let mut k = kiln.connect();
    // Redis checks every listpack of a payload deeply.
    assert_eq!(
        r.cmd(&["CONFIG", "SET", "sanitize-dump-payload", "yes"]),
        Reply::OK
    );
    streams::fill(&mut r, "st", "se");
    streams::fill(&mut k, "st", "se");
    for key in ["st", "se"] {
        // Redis's payload into Kiln, under another name, and Kiln's into Redis.
        move_stream(&mut r, &mut k, key, "Redis's DUMP in Kiln");
        move_stream(&mut k, &mut r, key, "Kiln's DUMP in Redis");
    }
    // A damaged stream payload is refused, as Redis refuses it.
    let Reply::Bulk(payload) = k.cmd(&["DUMP", "st"]) else {
        panic!("DUMP")
    };
    let cut = &payload[..payload.len() / 2];
    let refused = k.cmd_bytes(&[b"RESTORE", b"cut", b"0", cut]);
    assert!(matches!(refused, Reply::Error(_)), "{refused:?}");
}

/// Reads a reply (the connection gives up after 10 s).
fn reply_within(conn: &mut Raw, _secs: u64) -> Option<Reply> {
    conn.read_reply()
}

#[test]
fn blocked_reads_wake_from_another_core_and_time_out() {
    let kiln = TestServer::start();
    let key = kiln.key_on_core(1, "stream");
    let mut reader = kiln.connect_on_core(0);
    let mut group_reader = kiln.connect_on_core(0);
    let mut writer = kiln.connect_on_core(1);
    assert_eq!(
        writer.cmd(&["XADD", &key, "1-0", "f", "v"]),
        Reply::Bulk("1-0".into())
    );
    assert_eq!(writer.cmd(&["XGROUP", "CREATE", &key, "g", "$"]), Reply::OK);
    reader.send(&["XREAD", "BLOCK", "0", "STREAMS", &key, "$"]);
    group_reader.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "0",
        "STREAMS",
        &key,
        ">",
    ]);
    // Both are parked once CLIENT LIST shows them blocked on the owner.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let Reply::Bulk(list) = writer.cmd(&["CLIENT", "LIST"]) else {
            panic!("CLIENT LIST")
        };
        let text = String::from_utf8_lossy(&list);
        if text.matches("cmd=xread").count() + text.matches("cmd=xreadgroup").count() >= 2
            || Instant::now() > deadline
        {
            break;
        }
        std::thread::park_timeout(Duration::from_millis(5));
    }
    assert_eq!(
        writer.cmd(&["XADD", &key, "2-0", "f", "w"]),
        Reply::Bulk("2-0".into())
    );
    let entry = Reply::Array(vec![
        Reply::Bulk("2-0".into()),
        Reply::Array(vec![Reply::Bulk("f".into()), Reply::Bulk("w".into())]),
    ]);
    let want = Reply::Array(vec![Reply::Array(vec![
        Reply::Bulk(key.clone().into()),
        Reply::Array(vec![entry]),
    ])]);
    assert_eq!(reply_within(&mut reader, 10), Some(want.clone()));
    assert_eq!(reply_within(&mut group_reader, 10), Some(want));
    // Nothing arrives: the timeout answers a null array.
    reader.send(&["XREAD", "BLOCK", "50", "STREAMS", &key, "$"]);
    assert_eq!(reply_within(&mut reader, 10), Some(Reply::NilArray));
    group_reader.send(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "c",
        "BLOCK",
        "50",
        "STREAMS",
        &key,
        ">",
    ]);
    assert_eq!(reply_within(&mut group_reader, 10), Some(Reply::NilArray));
}

/// Waits until `conn`'s server lists a client whose last command is
/// `cmd` (its request has reached the core that parks it).
fn wait_listed(conn: &mut Raw, cmd: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let Reply::Bulk(list) = conn.cmd(&["CLIENT", "LIST"]) else {
            panic!("CLIENT LIST")
        };
        if String::from_utf8_lossy(&list).contains(&format!("cmd={cmd} ")) {
            return;
        }
        assert!(Instant::now() < deadline, "no client ran {cmd}");
        std::thread::park_timeout(Duration::from_millis(5));
    }
}

/// A blocked XREADGROUP learns at once that its stream or group went away
/// (deleted, expired, unlinked, overwritten, flushed, group destroyed), with Redis's
/// errors, while a blocked XREAD on a deleted stream waits on until its
/// timeout, as in Redis. Kiln's reader and deleter sit on other cores
/// than the stream.
#[test]
fn blocked_group_reads_learn_their_stream_or_group_is_gone_as_in_redis() {
    let kiln = TestServer::start();
    let redis = Redis::start();
    let key = kiln.key_on_core(1, "gone");
    let enders: [&[&str]; 6] = [
        &["DEL", &key],
        // Active expiry removes it between commands.
        &["PEXPIRE", &key, "20"],
        &["UNLINK", &key],
        &["SET", &key, "a string now"],
        &["FLUSHALL"],
        &["XGROUP", "DESTROY", &key, "g"],
    ];
    for ender in enders {
        let mut replies = Vec::new();
        for (mut reader, mut writer) in [
            (redis.connect(), redis.connect()),
            (kiln.connect_on_core(0), kiln.connect_on_core(0)),
        ] {
            writer.cmd(&["DEL", &key]);
            writer.cmd(&["XADD", &key, "1-0", "f", "v"]);
            assert_eq!(writer.cmd(&["XGROUP", "CREATE", &key, "g", "$"]), Reply::OK);
            reader.send(&[
                "XREADGROUP",
                "GROUP",
                "g",
                "c",
                "BLOCK",
                "5000",
                "STREAMS",
                &key,
                ">",
            ]);
            wait_listed(&mut writer, "xreadgroup");
            writer.cmd(ender);
            let started = Instant::now();
            let reply = reader.read_reply();
            assert!(
                started.elapsed() < Duration::from_secs(4),
                "{ender:?} left the reader waiting"
            );
            replies.push(reply);
        }
        assert_eq!(replies[0], replies[1], "{ender:?}: redis, then kiln");
        assert!(
            matches!(&replies[1], Some(Reply::Error(_))),
            "{ender:?}: {:?}",
            replies[1]
        );
    }
    // XREAD is not told: it waits for entries until its timeout.
    for (mut reader, mut writer) in [
        (redis.connect(), redis.connect()),
        (kiln.connect_on_core(0), kiln.connect_on_core(0)),
    ] {
        writer.cmd(&["XADD", &key, "5-0", "f", "v"]);
        reader.send(&["XREAD", "BLOCK", "300", "STREAMS", &key, "$"]);
        wait_listed(&mut writer, "xread");
        writer.cmd(&["DEL", &key]);
        assert_eq!(reader.read_reply(), Some(Reply::NilArray));
    }
}
