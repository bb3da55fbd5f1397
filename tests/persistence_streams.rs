//! Streams in the append-only log: XADD `*` comes back with the IDs it
//! made, consumer groups with their consumers and pending entries, after a
//! `kill -9` and after a log rewrite (`BGREWRITEAOF`, built by `emit`).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Raw, TestServer};
use kiln_net::Reply;

fn start(dir: &Path) -> TestServer {
    let dir = dir.display().to_string();
    let server = TestServer::start_with(&[
        "--dir",
        &dir,
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]);
    server.wait_loaded();
    server
}

/// What must survive: entries, XINFO GROUPS, the PEL with its delivery
/// counts (idle times masked), XINFO STREAM's counters.
fn state(conn: &mut Raw, keys: &[String]) -> Vec<Reply> {
    let mut out = Vec::new();
    for key in keys {
        out.push(conn.cmd(&["XRANGE", key, "-", "+"]));
        out.push(conn.cmd(&["XINFO", "GROUPS", key]));
        let mut pel = conn.cmd(&["XPENDING", key, "g", "-", "+", "100"]);
        if let Reply::Array(rows) = &mut pel {
            for row in rows {
                if let Reply::Array(parts) = row {
                    parts[2] = Reply::Integer(0);
                }
            }
        }
        out.push(pel);
        let Reply::Array(info) = conn.cmd(&["XINFO", "STREAM", key]) else {
            panic!("XINFO STREAM")
        };
        out.push(Reply::Array(info.into_iter().take(14).collect()));
        out.push(conn.cmd(&["XINFO", "CONSUMERS", key, "g"]).to_owned());
    }
    // Idle times in XINFO CONSUMERS differ run to run: keep the names.
    for r in out.iter_mut() {
        if let Reply::Array(items) = r {
            for item in items {
                if let Reply::Array(fields) = item
                    && fields.first() == Some(&Reply::Bulk("name".into()))
                    && fields.len() == 8
                {
                    fields[5] = Reply::Integer(0);
                    fields[7] = Reply::Integer(0);
                }
            }
        }
    }
    out
}

/// Compares part by part, naming the first that differs (not the whole).
fn same(got: &[Reply], want: &[Reply], when: &str) {
    assert_eq!(got.len(), want.len(), "{when}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g != w {
            let (g, w) = (format!("{g:?}"), format!("{w:?}"));
            let at = g
                .bytes()
                .zip(w.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            let from = at.saturating_sub(200);
            panic!(
                "{when}: part {i} differs at {at}:\n  got  ...{}\n  want ...{}",
                &g[from..(at + 200).min(g.len())],
                &w[from..(at + 200).min(w.len())]
            );
        }
    }
}

fn wait_rewrite(conn: &mut Raw) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let Reply::Bulk(info) = conn.cmd(&["INFO", "persistence"]) else {
            panic!("INFO")
        };
        let info = String::from_utf8_lossy(&info).into_owned();
        if info.contains("aof_rewrite_in_progress:0") && !info.contains("aof_rewrites:0\r") {
            return;
        }
        assert!(Instant::now() < deadline, "no rewrite: {info}");
        std::thread::park_timeout(Duration::from_millis(10));
    }
}

#[test]
fn streams_come_back_after_kill_9_and_after_a_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let mut conn = server.connect();
    let keys = vec![server.key_on_core(0, "s"), server.key_on_core(1, "s")];
    for key in &keys {
        for i in 0..300 {
            let v = i.to_string();
            assert!(matches!(
                conn.cmd(&["XADD", key, "MAXLEN", "~", "150", "*", "n", &v, "k", "x"]),
                Reply::Bulk(_)
            ));
        }
        conn.cmd(&["XADD", key, "99999999999999-*", "last", "1"]);
        assert_eq!(conn.cmd(&["XGROUP", "CREATE", key, "g", "0"]), Reply::OK);
        conn.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "alice",
            "COUNT",
            "5",
            "STREAMS",
            key,
            ">",
        ]);
        conn.cmd(&[
            "XREADGROUP",
            "GROUP",
            "g",
            "bob",
            "COUNT",
            "3",
            "STREAMS",
            key,
            ">",
        ]);
        conn.cmd(&["XGROUP", "CREATECONSUMER", key, "g", "idle"]);
        let Reply::Array(first) = conn.cmd(&["XRANGE", key, "-", "+", "COUNT", "2"]) else {
            panic!("XRANGE")
        };
        let Reply::Array(entry) = &first[1] else {
            panic!()
        };
        let Reply::Bulk(second) = &entry[0] else {
            panic!()
        };
        let second = String::from_utf8_lossy(second).into_owned();
        conn.cmd(&["XCLAIM", key, "g", "bob", "0", &second]);
        conn.cmd(&["XAUTOCLAIM", key, "g", "carol", "0", "0", "COUNT", "2"]);
        let Reply::Array(firsts) = &first[0] else {
            panic!()
        };
        let Reply::Bulk(id) = &firsts[0] else {
            panic!()
        };
        let id = String::from_utf8_lossy(id).into_owned();
        conn.cmd(&["XACK", key, "g", &id]);
        // (A pending entry whose entry is deleted does not survive a
        // rewrite, in Redis either: XCLAIM FORCE skips deleted entries.)
        conn.cmd(&["XDEL", key, "99999999999999-0"]);
        conn.cmd(&["XGROUP", "CREATE", key, "later", "$"]);
    }
    let before = state(&mut conn, &keys);
    server.kill();

    let server = start(dir.path());
    let mut conn = server.connect();
    same(&state(&mut conn, &keys), &before, "after kill -9");
    assert_eq!(
        conn.cmd(&["BGREWRITEAOF"]),
        Reply::Status("Background append only file rewriting started".into())
    );
    wait_rewrite(&mut conn);
    server.kill();

    let server = start(dir.path());
    let mut conn = server.connect();
    same(&state(&mut conn, &keys), &before, "after a rewrite");
}
