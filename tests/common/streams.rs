//! Streams that exercise every part of their RDB encoding, and what a
//! client sees of them, to compare two servers (or one before and after a
//! restart) that hold them.

use kiln_net::Reply;

use super::Raw;

fn ok(reply: Reply) {
    assert!(!matches!(reply, Reply::Error(_)), "{reply:?}");
}

fn cmd(conn: &mut Raw, args: &[String]) -> Reply {
    conn.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `key`: 230 entries over several blocks (the same fields, other
/// fields, long and integer-looking values), a whole block's worth and a
/// few others deleted, two groups with pending entries over two consumers
/// (one acknowledged), a consumer with none. `empty`: no entries, a group,
/// its counters set by XSETID.
pub fn fill(conn: &mut Raw, key: &str, empty: &str) {
    for i in 1..=230u64 {
        let id = format!("{}-{}", 1_000 + i * 7, i % 4);
        let v = i.to_string();
        let mut args = vec!["XADD".to_string(), key.to_string(), id];
        match i % 3 {
            0 => args.extend(["a".into(), v, "b".into(), "-12345678901".into()]),
            1 => args.extend(["a".into(), v, "long".into(), "x".repeat(i as usize * 3)]),
            _ => args.extend([
                "other".into(),
                "".into(),
                "a".into(),
                v,
                "c".into(),
                "7".into(),
            ]),
        }
        ok(cmd(conn, &args));
    }
    let mut del = vec!["XDEL".to_string(), key.to_string()];
    for i in [3u64, 50, 51, 52, 120].into_iter().chain(101..=200) {
        del.push(format!("{}-{}", 1_000 + i * 7, i % 4));
    }
    ok(cmd(conn, &del));
    ok(conn.cmd(&["XGROUP", "CREATE", key, "g1", "0"]));
    ok(conn.cmd(&["XGROUP", "CREATE", key, "g2", "1070-2"]));
    for (group, consumer, count) in [
        ("g1", "alice", "5"),
        ("g1", "bob", "3"),
        ("g2", "carol", "2"),
    ] {
        ok(conn.cmd(&[
            "XREADGROUP",
            "GROUP",
            group,
            consumer,
            "COUNT",
            count,
            "STREAMS",
            key,
            ">",
        ]));
    }
    ok(conn.cmd(&["XACK", key, "g1", "1007-1"]));
    ok(conn.cmd(&["XGROUP", "CREATECONSUMER", key, "g1", "idle"]));
    ok(conn.cmd(&[
        "XGROUP",
        "CREATE",
        empty,
        "g",
        "5-5",
        "MKSTREAM",
        "ENTRIESREAD",
        "3",
    ]));
    ok(conn.cmd(&[
        "XSETID",
        empty,
        "90-1",
        "ENTRIESADDED",
        "42",
        "MAXDELETEDID",
        "80-0",
    ]));
}

/// Whether `name` labels a time that runs on (an idle time) or one
/// Redis 7.0 does not have (7.2's active time).
fn is_clock(name: &Reply) -> bool {
    matches!(name, Reply::Bulk(b) if [&b"idle"[..], b"inactive", b"active-time"].contains(&&b[..]))
}

/// Blocks are a server's own choice: their counts are masked.
fn is_layout(name: &Reply) -> bool {
    matches!(name, Reply::Bulk(b) if [&b"radix-tree-keys"[..], b"radix-tree-nodes"].contains(&&b[..]))
}

fn mask(reply: &mut Reply) {
    match reply {
        Reply::Array(items) => {
            let mut out = Vec::new();
            let mut drop_next = false;
            let mut mask_next = false;
            for mut item in std::mem::take(items) {
                if drop_next {
                    drop_next = false;
                    continue;
                }
                if mask_next {
                    mask_next = false;
                    item = Reply::Integer(-7);
                }
                if matches!(&item, Reply::Bulk(b) if &b[..] == b"active-time" || &b[..] == b"inactive")
                {
                    drop_next = true;
                    continue;
                }
                mask_next = is_clock(&item) || is_layout(&item);
                mask(&mut item);
                out.push(item);
            }
            *items = out;
        }
        Reply::Map(pairs) => {
            pairs.retain(|(k, _)| !matches!(k, Reply::Bulk(b) if &b[..] == b"active-time" || &b[..] == b"inactive"));
            for (k, v) in pairs.iter_mut() {
                if is_clock(k) || is_layout(k) {
                    *v = Reply::Integer(-7);
                }
                mask(v);
            }
        }
        _ => {}
    }
}

/// What a client sees of stream `key` and its groups `g1`, `g2`, `g`:
/// entries, XINFO STREAM FULL (delivery and seen times exact, idle times
/// and block counts masked), XINFO GROUPS and CONSUMERS, XPENDING in both
/// forms.
pub fn facts(conn: &mut Raw, key: &str) -> Vec<(String, Reply)> {
    let mut out = Vec::new();
    let mut ask = |args: &[&str]| {
        let mut reply = conn.cmd(args);
        if args[0] == "XPENDING" && args.len() > 3 {
            // Extended rows: [id, consumer, idle, count].
            if let Reply::Array(rows) = &mut reply {
                for row in rows {
                    if let Reply::Array(parts) = row
                        && parts.len() == 4
                    {
                        parts[2] = Reply::Integer(-7);
                    }
                }
            }
        }
        mask(&mut reply);
        // Errors name the key: the same stream may be under another name.
        if let Reply::Error(text) = &mut reply {
            *text = text.replace(&format!("'{key}'"), "'KEY'").into();
        }
        out.push((args.join(" "), reply));
    };
    ask(&["TYPE", key]);
    ask(&["XLEN", key]);
    ask(&["XRANGE", key, "-", "+"]);
    ask(&["XINFO", "STREAM", key, "FULL"]);
    ask(&["XINFO", "GROUPS", key]);
    for group in ["g1", "g2", "g"] {
        ask(&["XINFO", "CONSUMERS", key, group]);
        ask(&["XPENDING", key, group]);
        ask(&["XPENDING", key, group, "-", "+", "1000"]);
    }
    out
}
