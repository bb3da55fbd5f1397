//! Operating Kiln: `CLIENT PAUSE` / `UNPAUSE` across cores, `MONITOR`
//! and its tenant scoping, the latency monitor, the log file — against the
//! real server, and the replies Redis gives side by side with a real
//! `redis-server`.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{ADMIN_PASSWORD, Raw, TestServer, login};
use kiln_net::Reply;

fn bulk(s: &str) -> Reply {
    Reply::Bulk(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

fn text(reply: Reply) -> String {
    match reply {
        Reply::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        Reply::Status(s) => s.into_owned(),
        Reply::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("not text: {other:?}"),
    }
}

#[test]
fn pause_write_holds_writes_on_every_core_while_reads_run() {
    let server = TestServer::start();
    let keys = [server.key_on_core(0, "p"), server.key_on_core(1, "p")];
    let mut op = server.connect_on_core(0);
    let lib = "#!js name=ro\nkiln.registerFunction('get', (keys) => kiln.getString(keys[0]), { flags: ['no-writes'] });";
    assert_eq!(op.cmd(&["FUNCTION", "LOAD", lib]), bulk("ro"));
    let mut writers = [server.connect_on_core(0), server.connect_on_core(1)];
    let mut readers = [server.connect_on_core(0), server.connect_on_core(1)];

    let ids: Vec<i64> = writers
        .iter_mut()
        .map(|w| match w.cmd(&["CLIENT", "ID"]) {
            Reply::Integer(id) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(op.cmd(&["CLIENT", "PAUSE", "60000", "WRITE"]), Reply::OK);
    for (writer, key) in writers.iter_mut().zip(&keys) {
        writer.send(&["SET", key, "v"]);
    }
    // Both writes arrive and are held (CLIENT LIST shows them blocked, as
    // Redis does), one on each core; reads go on meanwhile.
    let mut list = server.connect();
    assert!(common::eventually(Duration::from_secs(10), || {
        let clients = text(list.cmd(&["CLIENT", "LIST"]));
        ids.iter().all(|id| {
            clients.contains(&format!("id={id} "))
                && clients
                    .lines()
                    .any(|l| l.starts_with(&format!("id={id} ")) && l.contains(" flags=b "))
        })
    }));
    for (reader, key) in readers.iter_mut().zip(&keys) {
        assert_eq!(reader.cmd(&["GET", key]), Reply::Nil);
        assert_eq!(reader.cmd(&["PING"]), Reply::status("PONG"));
    }
    let mut main = server.connect();
    assert_eq!(
        main.cmd(&["MGET", &keys[0], &keys[1]]),
        Reply::Array(vec![Reply::Nil, Reply::Nil])
    );
    // A function that declares no writes is not held; PUBLISH is.
    assert_eq!(readers[0].cmd(&["FCALL", "get", "1", &keys[0]]), Reply::Nil);
    let mut publisher = server.connect_on_core(1);
    let Reply::Integer(publisher_id) = publisher.cmd(&["CLIENT", "ID"]) else {
        panic!()
    };
    publisher.send(&["PUBLISH", "ch", "m"]);
    assert!(common::eventually(Duration::from_secs(10), || {
        text(list.cmd(&["CLIENT", "LIST", "ID", &publisher_id.to_string()])).contains(" flags=b ")
    }));

    assert_eq!(op.cmd(&["CLIENT", "UNPAUSE"]), Reply::OK);
    for writer in &mut writers {
        assert_eq!(writer.read_reply(), Some(Reply::OK));
    }
    assert_eq!(publisher.read_reply(), Some(Reply::Integer(0)));
    for (reader, key) in readers.iter_mut().zip(&keys) {
        assert_eq!(reader.cmd(&["GET", key]), bulk("v"));
    }

    // A pause ends by itself: the write is answered, no sooner.
    let paused_at = Instant::now();
    assert_eq!(op.cmd(&["CLIENT", "PAUSE", "300", "WRITE"]), Reply::OK);
    writers[1].send(&["SET", &keys[1], "w"]);
    assert_eq!(writers[1].read_reply(), Some(Reply::OK));
    assert!(
        paused_at.elapsed() >= Duration::from_millis(290),
        "answered after {:?}",
        paused_at.elapsed()
    );
    assert_eq!(readers[1].cmd(&["GET", &keys[1]]), bulk("w"));
}

#[test]
fn a_paused_blocking_pop_is_not_blocked_yet_and_a_pause_in_multi_starts_after_exec() {
    let server = TestServer::start();
    let list = server.key_on_core(1, "l");
    let mut op = server.connect();
    let mut popper = server.connect();
    let Reply::Integer(id) = popper.cmd(&["CLIENT", "ID"]) else {
        panic!()
    };
    let id = id.to_string();
    assert_eq!(op.cmd(&["CLIENT", "PAUSE", "600000", "WRITE"]), Reply::OK);
    popper.send(&["BLPOP", &list, "0"]);
    assert!(common::eventually(Duration::from_secs(10), || {
        text(op.cmd(&["CLIENT", "LIST", "ID", &id])).contains(" flags=b ")
    }));
    // As in Redis: CLIENT UNBLOCK does not reach a client a pause holds.
    assert_eq!(
        op.cmd(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]),
        Reply::Integer(0)
    );
    assert_eq!(op.cmd(&["CLIENT", "UNPAUSE"]), Reply::OK);
    // Now it waits on its list, and UNBLOCK reaches it.
    assert!(common::eventually(Duration::from_secs(10), || {
        op.cmd(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"]) == Reply::Integer(1)
    }));
    assert_eq!(popper.read_reply(), Some(Reply::NilArray));

    // A pause queued in a transaction starts once the transaction ran.
    let (a, b, c) = (
        server.key_on_core(0, "tx-a"),
        server.key_on_core(1, "tx-b"),
        server.key_on_core(0, "tx-c"),
    );
    assert_eq!(op.cmd(&["MULTI"]), Reply::OK);
    assert_eq!(op.cmd(&["SET", &a, "1"]), Reply::status("QUEUED"));
    assert_eq!(
        op.cmd(&["CLIENT", "PAUSE", "600000", "WRITE"]),
        Reply::status("QUEUED")
    );
    assert_eq!(op.cmd(&["SET", &b, "1"]), Reply::status("QUEUED"));
    assert_eq!(
        op.cmd(&["EXEC"]),
        Reply::Array(vec![Reply::OK, Reply::OK, Reply::OK])
    );
    let mut writer = server.connect();
    let Reply::Integer(writer_id) = writer.cmd(&["CLIENT", "ID"]) else {
        panic!()
    };
    writer.send(&["SET", &c, "1"]);
    assert!(common::eventually(Duration::from_secs(10), || {
        text(op.cmd(&["CLIENT", "LIST", "ID", &writer_id.to_string()])).contains(" flags=b ")
    }));
    assert_eq!(
        op.cmd(&["MGET", &a, &b, &c]),
        Reply::Array(vec![bulk("1"), bulk("1"), Reply::Nil])
    );
    // And one lifted in a transaction releases what it held.
    assert_eq!(op.cmd(&["MULTI"]), Reply::OK);
    assert_eq!(op.cmd(&["CLIENT", "UNPAUSE"]), Reply::status("QUEUED"));
    assert_eq!(op.cmd(&["EXEC"]), Reply::Array(vec![Reply::OK]));
    assert_eq!(writer.read_reply(), Some(Reply::OK));
}

#[test]
fn pause_all_holds_reads_and_the_operator_can_lift_it() {
    let server = TestServer::start();
    let key = server.key_on_core(1, "a");
    let mut op = server.connect_on_core(1);
    let mut reader = server.connect_on_core(1);
    assert_eq!(reader.cmd(&["SET", &key, "1"]), Reply::OK);

    // ALL (the default mode) holds reads too, until the pause ends.
    let paused_at = Instant::now();
    assert_eq!(op.cmd(&["CLIENT", "PAUSE", "300"]), Reply::OK);
    reader.send(&["GET", &key]);
    assert_eq!(reader.read_reply(), Some(bulk("1")));
    assert!(paused_at.elapsed() >= Duration::from_millis(290));

    // A long pause: the reader waits, the core still serves the
    // operator's CLIENT UNPAUSE, which releases it.
    assert_eq!(op.cmd(&["CLIENT", "PAUSE", "600000", "ALL"]), Reply::OK);
    reader.send(&["GET", &key]);
    reader.send(&["PING"]);
    // A later WRITE pause does not weaken a pause under way.
    assert_eq!(op.cmd(&["CLIENT", "PAUSE", "10", "WRITE"]), Reply::OK);
    let unpaused_at = Instant::now();
    assert_eq!(op.cmd(&["CLIENT", "UNPAUSE"]), Reply::OK);
    assert_eq!(reader.read_reply(), Some(bulk("1")));
    assert_eq!(reader.read_reply(), Some(Reply::status("PONG")));
    assert!(unpaused_at.elapsed() < Duration::from_secs(10));
    // Syntax errors are answered at once, paused or not.
    assert_eq!(op.cmd(&["CLIENT", "PAUSE", "600000"]), Reply::OK);
    assert_eq!(
        reader.cmd(&["GET"]),
        Reply::error("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(op.cmd(&["CLIENT", "UNPAUSE"]), Reply::OK);
    // The longest pause there is: every core takes it (and lifts it).
    assert_eq!(
        op.cmd(&["CLIENT", "PAUSE", "9000000000000000000", "WRITE"]),
        Reply::OK
    );
    assert_eq!(reader.cmd(&["GET", &key]), bulk("1"));
    assert_eq!(op.cmd(&["CLIENT", "UNPAUSE"]), Reply::OK);
    assert_eq!(reader.cmd(&["SET", &key, "2"]), Reply::OK);
}

#[test]
fn no_key_expires_while_paused() {
    let server = TestServer::start();
    let mut conn = server.connect_on_core(0);
    for i in 0..20 {
        let key = server.key_on_core(0, &format!("e{i}-"));
        assert_eq!(conn.cmd(&["SET", &key, "v", "PX", "1"]), Reply::OK);
    }
    assert_eq!(conn.cmd(&["CLIENT", "PAUSE", "600000", "WRITE"]), Reply::OK);
    // Hold the core past several ticks: active expiry would reap them all.
    assert_eq!(conn.cmd(&["DEBUG", "SLEEP", "0.5"]), Reply::OK);
    assert_eq!(conn.cmd(&["PING"]), Reply::status("PONG"));
    assert_eq!(conn.cmd(&["DBSIZE"]), Reply::Integer(20));
    let info = text(conn.cmd(&["INFO", "stats"]));
    assert!(info.contains("expired_keys:0\r\n"), "{info}");
    assert_eq!(conn.cmd(&["CLIENT", "UNPAUSE"]), Reply::OK);
    assert!(common::eventually(Duration::from_secs(10), || {
        conn.cmd(&["DBSIZE"]) == Reply::Integer(0)
    }));
}

fn tenants_server(dir: &std::path::Path) -> TestServer {
    common::start_with_config(&common::tenant_config(
        dir,
        &[("t1", "pw1", ""), ("t2", "pw2", "")],
    ))
}

#[test]
fn a_tenant_may_not_pause_nor_read_the_latency_monitor() {
    let dir = tempfile::tempdir().unwrap();
    let server = tenants_server(dir.path());
    let mut t1 = login(&server, "t1", "pw1");
    for (args, name) in [
        (&["CLIENT", "PAUSE", "100"][..], "client|pause"),
        (&["CLIENT", "UNPAUSE"][..], "client|unpause"),
        (&["LATENCY", "LATEST"][..], "latency|latest"),
        (&["LATENCY", "RESET"][..], "latency|reset"),
    ] {
        assert_eq!(
            t1.cmd(args),
            Reply::error_owned(format!(
                "NOPERM User t1 has no permissions to run the '{name}' command"
            ))
        );
    }
    // Nothing was paused.
    assert_eq!(t1.cmd(&["SET", "k", "v"]), Reply::OK);
    let mut ops = login(&server, "default", ADMIN_PASSWORD);
    assert_eq!(ops.cmd(&["CLIENT", "PAUSE", "10"]), Reply::OK);
    assert_eq!(ops.cmd(&["LATENCY", "LATEST"]), Reply::Array(vec![]));
}

/// Reads monitor lines until one ends with `tail`; every line read.
fn lines_until(monitor: &mut Raw, tail: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        match monitor.read_reply() {
            Some(Reply::Status(line)) => {
                let done = line.ends_with(tail);
                lines.push(line.into_owned());
                if done {
                    return lines;
                }
            }
            other => panic!("monitor got {other:?} before {tail}; lines: {lines:?}"),
        }
    }
}

/// Checks Redis's line shape: `<secs>.<6 digits> [0 <source>] "arg"...`;
/// returns the source and the quoted arguments.
fn parse_line(line: &str) -> (String, String) {
    let (time, rest) = line.split_once(' ').expect("time");
    let (secs, micros) = time.split_once('.').expect("secs.micros");
    assert!(secs.parse::<u64>().unwrap() > 1_600_000_000, "{line}");
    assert!(
        micros.len() == 6 && micros.bytes().all(|b| b.is_ascii_digit()),
        "{line}"
    );
    let rest = rest.strip_prefix("[0 ").expect("[0 ");
    let (source, args) = rest.split_once("] ").expect("]");
    (source.to_string(), args.to_string())
}

#[test]
fn monitor_lines_and_tenant_scoping_across_cores() {
    let dir = tempfile::tempdir().unwrap();
    let server = tenants_server(dir.path());
    let key = [server.key_on_core(0, "m"), server.key_on_core(1, "m")];
    let mut ops_monitor = server.connect_on_core_as(0, Some(("default", ADMIN_PASSWORD)));
    assert_eq!(ops_monitor.cmd(&["MONITOR"]), Reply::OK);
    let mut t2_monitor = server.connect_on_core_as(0, Some(("t2", "pw2")));
    assert_eq!(t2_monitor.cmd(&["MONITOR"]), Reply::OK);

    // Tenant t1 on each core, and on the main port wherever it lands (a
    // key of the other core is forwarded).
    let mut t1 = [
        server.connect_on_core_as(0, Some(("t1", "pw1"))),
        server.connect_on_core_as(1, Some(("t1", "pw1"))),
    ];
    for (conn, key) in t1.iter_mut().zip(&key) {
        assert_eq!(conn.cmd(&["SET", key, "a \"b\"\n"]), Reply::OK);
    }
    let mut t1_main = login(&server, "t1", "pw1");
    assert_eq!(t1_main.cmd(&["GET", &key[1]]), bulk("a \"b\"\n"));
    // A storage function's own commands show as Lua's do in Redis.
    let lib = "#!js name=mon\nkiln.registerFunction('put', (keys, args) => kiln.call('SET', keys[0], args[0]));";
    assert_eq!(t1[0].cmd(&["FUNCTION", "LOAD", lib]), bulk("mon"));
    t1[0].cmd(&["FCALL", "put", "1", &key[0], "fn"]);
    let seen = lines_until(&mut ops_monitor, &format!("\"SET\" \"{}\" \"fn\"", key[0]));
    let find = |args: &str| {
        seen.iter()
            .map(|l| parse_line(l))
            .find(|(_, a)| a == args)
            .unwrap_or_else(|| panic!("no {args} in {seen:?}"))
    };
    for k in &key {
        let (source, _) = find(&format!(r#""SET" "{k}" "a \"b\"\n""#));
        assert!(source.starts_with("127.0.0.1:"), "{source}");
    }
    find(&format!(r#""GET" "{}""#, key[1]));
    find(&format!(r#""FCALL" "put" "1" "{}" "fn""#, key[0]));
    assert_eq!(find(&format!(r#""SET" "{}" "fn""#, key[0])).0, "lua");
    let logins: Vec<&String> = seen.iter().filter(|l| l.contains("\"AUTH\"")).collect();
    assert!(
        logins.len() >= 3,
        "t1 logged in three times at least: {seen:?}"
    );
    for line in logins {
        assert!(
            line.ends_with("\"AUTH\" \"(redacted)\" \"(redacted)\""),
            "{line}"
        );
    }
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("MONITOR") || l.contains("pw1"))
    );

    // Passwords are redacted; the operator sees a login as it happens.
    let mut late = server.connect_on_core_as(0, Some(("t2", "pw2")));
    assert_eq!(late.cmd(&["AUTH", "t2", "pw2"]), Reply::OK);
    let seen = lines_until(&mut ops_monitor, "\"AUTH\" \"(redacted)\" \"(redacted)\"");
    assert!(!seen.last().unwrap().contains("pw2"));

    // Tenant t2's monitor sees its own commands and none of t1's, which
    // reached its core before this one.
    assert_eq!(late.cmd(&["SET", "t2-marker", "x"]), Reply::OK);
    let t2_seen = lines_until(&mut t2_monitor, "\"SET\" \"t2-marker\" \"x\"");
    assert!(
        !t2_seen
            .iter()
            .any(|l| l.contains(&key[0]) || l.contains(&key[1]) || l.contains("FCALL")),
        "t2's monitor saw t1's commands: {t2_seen:?}"
    );
    lines_until(&mut ops_monitor, "\"SET\" \"t2-marker\" \"x\"");
    // Admin commands are not shown (as in Redis).
    assert!(matches!(late.cmd(&["CLIENT", "LIST"]), Reply::Bulk(_)));
    assert_eq!(late.cmd(&["SET", "t2-after-info", "x"]), Reply::OK);
    let t2_seen = lines_until(&mut t2_monitor, "\"t2-after-info\" \"x\"");
    assert_eq!(t2_seen.len(), 1, "{t2_seen:?}");
}

#[test]
fn a_monitor_that_does_not_read_is_disconnected() {
    let server = TestServer::start();
    let mut op = server.connect();
    assert_eq!(
        op.cmd(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "replica 256kb 0 0"
        ]),
        Reply::OK
    );
    let mut monitor = server.connect();
    assert_eq!(monitor.cmd(&["MONITOR"]), Reply::OK);
    let value = "x".repeat(16 * 1024);
    // 64 MiB of lines, far past the limit and any socket buffer.
    let mut writer = server.connect();
    let rss_before = common::rss_bytes(server.pid());
    for round in 0..64 {
        for i in 0..64 {
            writer.send(&["SET", &format!("k{i}"), &value]);
        }
        for _ in 0..64 {
            assert_eq!(writer.read_reply(), Some(Reply::OK), "round {round}");
        }
    }
    // Drain what the socket holds: the server closed its end.
    let mut stream = monitor.into_stream();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut chunk = vec![0u8; 1 << 20];
    let mut received = 0usize;
    let closed = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => received += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    assert!(
        closed,
        "the monitor is still connected after {received} bytes"
    );
    assert!(received < 48 << 20, "{received} bytes reached the monitor");
    let rss_after = common::rss_bytes(server.pid());
    eprintln!(
        "slow monitor: cut off after {received} bytes reached it; server RSS {} -> {} MiB",
        rss_before >> 20,
        rss_after >> 20
    );
    // The 64 MiB it did not take never piled up in the server.
    assert!(
        rss_after < rss_before + (32 << 20),
        "RSS grew from {rss_before} to {rss_after}"
    );
    let info = text(op.cmd(&["INFO", "stats"]));
    assert!(
        !info.contains("client_output_buffer_limit_disconnections:0\r\n"),
        "{info}"
    );
    assert_eq!(writer.cmd(&["GET", "k1"]).payload_len(), value.len());
}

#[test]
fn latency_monitor_records_slow_commands_on_every_core() {
    let server = TestServer::start();
    let mut conns = [server.connect_on_core(0), server.connect_on_core(1)];
    // Off by default: nothing recorded.
    assert_eq!(conns[0].cmd(&["DEBUG", "SLEEP", "0.02"]), Reply::OK);
    assert_eq!(conns[0].cmd(&["LATENCY", "LATEST"]), Reply::Array(vec![]));
    assert_eq!(
        conns[0].cmd(&["CONFIG", "GET", "latency-monitor-threshold"]),
        Reply::Array(vec![bulk("latency-monitor-threshold"), bulk("0")])
    );
    assert_eq!(
        conns[0].cmd(&["CONFIG", "SET", "latency-monitor-threshold", "1"]),
        Reply::OK
    );
    assert_eq!(conns[0].cmd(&["DEBUG", "SLEEP", "0.02"]), Reply::OK);
    assert_eq!(conns[1].cmd(&["DEBUG", "SLEEP", "0.04"]), Reply::OK);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let Reply::Array(latest) = conns[0].cmd(&["LATENCY", "LATEST"]) else {
        panic!()
    };
    let command = latest
        .iter()
        .find(|e| matches!(e, Reply::Array(f) if f[0] == bulk("command")))
        .unwrap_or_else(|| panic!("{latest:?}"));
    let Reply::Array(fields) = command else {
        unreachable!()
    };
    let [
        _,
        Reply::Integer(at),
        Reply::Integer(last),
        Reply::Integer(max),
    ] = fields[..]
    else {
        panic!("{fields:?}")
    };
    assert!((now - 5..=now).contains(&at), "{at} vs {now}");
    assert!(last >= 20 && max >= 40, "{fields:?}");
    let Reply::Array(history) = conns[1].cmd(&["LATENCY", "HISTORY", "command"]) else {
        panic!()
    };
    let samples: Vec<(i64, i64)> = history
        .iter()
        .map(|s| match s {
            Reply::Array(pair) => match pair[..] {
                [Reply::Integer(t), Reply::Integer(ms)] => (t, ms),
                _ => panic!("{history:?}"),
            },
            _ => panic!("{history:?}"),
        })
        .collect();
    assert!(samples.iter().any(|&(_, ms)| ms >= 40), "{samples:?}");
    assert!(samples.windows(2).all(|w| w[0].0 < w[1].0), "{samples:?}");
    let doctor = text(conns[0].cmd(&["LATENCY", "DOCTOR"]));
    assert!(doctor.contains("command: "), "{doctor}");
    assert_eq!(
        conns[0].cmd(&["LATENCY", "HISTORY", "nosuch"]),
        Reply::Array(vec![])
    );
    // Off again (so nothing new comes in), then forgotten.
    assert_eq!(
        conns[0].cmd(&["CONFIG", "SET", "latency-monitor-threshold", "0"]),
        Reply::OK
    );
    assert!(matches!(conns[1].cmd(&["LATENCY", "RESET"]), Reply::Integer(n) if n >= 1));
    assert_eq!(conns[0].cmd(&["LATENCY", "LATEST"]), Reply::Array(vec![]));
    // HISTOGRAM is per-command accounting, not the monitor: still there.
    let Reply::Array(histogram) = conns[0].cmd(&["LATENCY", "HISTOGRAM", "debug"]) else {
        panic!("LATENCY HISTOGRAM")
    };
    assert_eq!(histogram.first(), Some(&Reply::bulk_from("debug")));
}

/// A line of a monitor with its time and client port replaced, for
/// comparing Kiln's with Redis's.
fn normalized(line: &str) -> String {
    let (source, args) = parse_line(line);
    let source = if source.starts_with("127.0.0.1:") {
        "127.0.0.1:PORT"
    } else {
        &source
    };
    format!("T [0 {source}] {args}")
}

fn monitor_script(conn: &mut Raw) -> Vec<Reply> {
    vec![
        conn.cmd(&["SET", "k", "a b\"c\\\r\n\t"]),
        conn.cmd_bytes(&[b"SET", b"bin", b"\x00\x01\x7f\xff"]),
        conn.cmd(&["GET", "k"]),
        conn.cmd(&["INCRBY", "n", "12"]),
        // Refused: shown by neither.
        conn.cmd(&["GET"]),
        conn.cmd(&["NOSUCHCOMMAND", "x"]),
        conn.cmd(&["MULTI"]),
        conn.cmd(&["SET", "t", "1"]),
        conn.cmd(&["GET", "t"]),
        conn.cmd(&["CLIENT", "SETNAME", "tx"]),
        conn.cmd(&["exec"]),
        conn.cmd(&["MULTI"]),
        conn.cmd(&["MONITOR"]),
        conn.cmd(&["EXEC"]),
        conn.cmd(&["PING"]),
        conn.cmd(&["SUBSCRIBE", "ch"]),
        conn.cmd(&["UNSUBSCRIBE", "ch"]),
        conn.cmd(&["AUTH", "nosuchpassword"]),
        // The server's version and the client id differ: only the form.
        Reply::Integer(i64::from(matches!(
            conn.cmd(&["HELLO", "2", "AUTH", "default", "nosuchpassword"]),
            Reply::Array(_)
        ))),
        conn.cmd(&["SET", "last", "1"]),
    ]
}

#[test]
fn parity_with_redis_monitor_latency_and_pause_errors() {
    let redis = common::redis::Redis::start_with(&["--enable-debug-command", "yes"]);
    let server = TestServer::start();
    let targets = [redis.connect(), server.connect()];
    let mut lines = Vec::new();
    let mut replies = Vec::new();
    for mut conn in targets {
        let mut monitor = match lines.len() {
            0 => redis.connect(),
            _ => server.connect(),
        };
        assert_eq!(monitor.cmd(&["MONITOR"]), Reply::OK);
        let script = monitor_script(&mut conn);
        let seen = lines_until(&mut monitor, "\"SET\" \"last\" \"1\"");
        lines.push(seen.iter().map(|l| normalized(l)).collect::<Vec<_>>());
        let mut got = script;
        for args in [
            &["CLIENT", "PAUSE"][..],
            &["CLIENT", "PAUSE", "x"][..],
            &["CLIENT", "PAUSE", "1.5"][..],
            &["CLIENT", "PAUSE", "-1"][..],
            &["CLIENT", "PAUSE", "10", "READ"][..],
            &["CLIENT", "PAUSE", "x", "READ"][..],
            &["CLIENT", "PAUSE", "10", "ALL", "x"][..],
            // Not `CLIENT PAUSE 9223372036854775807`: Redis 7.2 answers
            // `timeout is out of range` (so does Kiln); the 7.0 here
            // overflows and pauses nobody.
            &["CLIENT", "PAUSE", "0", "WRITE"][..],
            &["CLIENT", "UNPAUSE", "x"][..],
            &["CLIENT", "UNPAUSE"][..],
            &["LATENCY", "LATEST"][..],
            &["LATENCY", "DOCTOR"][..],
            &["LATENCY", "HISTORY"][..],
            &["LATENCY", "RESET"][..],
            // 10 ms: a debug build's ordinary commands stay under it.
            &["CONFIG", "SET", "latency-monitor-threshold", "10"][..],
            // Not `CONFIG SET loglevel loud`: Redis 7.2 lists `nothing`
            // among the levels (so does Kiln), the 7.0 here does not.
            &["CONFIG", "SET", "loglevel", "Notice"][..],
            &["CONFIG", "GET", "loglevel"][..],
            &["DEBUG", "SLEEP", "0.03"][..],
        ] {
            got.push(conn.cmd(args));
        }
        // LATEST's shape: one [event, time, latest, max] for the sleep.
        let latest = conn.cmd(&["LATENCY", "LATEST"]);
        let Reply::Array(events) = &latest else {
            panic!("{latest:?}")
        };
        let shape: Vec<String> = events
            .iter()
            .map(|e| match e {
                Reply::Array(f) => match &f[..] {
                    [
                        Reply::Bulk(name),
                        Reply::Integer(_),
                        Reply::Integer(l),
                        Reply::Integer(m),
                    ] if *l >= 30 && *m >= 30 => {
                        format!("{}: ok", String::from_utf8_lossy(name))
                    }
                    other => format!("{other:?}"),
                },
                other => format!("{other:?}"),
            })
            .collect();
        got.push(Reply::Array(shape.iter().map(|s| bulk(s)).collect()));
        let history = conn.cmd(&["LATENCY", "HISTORY", "command"]);
        got.push(Reply::Integer(match history {
            Reply::Array(h) => h.len() as i64,
            _ => -1,
        }));
        got.push(conn.cmd(&["LATENCY", "RESET", "command", "nosuch"]));
        replies.push(got);
    }
    assert_eq!(
        lines[0], lines[1],
        "MONITOR lines (left: Redis's, right: Kiln's)"
    );
    assert_eq!(
        replies[0], replies[1],
        "replies (left: Redis's, right: Kiln's)"
    );
}

#[test]
fn logfile_has_the_startup_line_and_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("kiln.log");
    let config = dir.path().join("kiln.toml");
    std::fs::write(&config, "hz = 10\n").unwrap();
    // Appended to, as Redis's logfile: an earlier line stays.
    std::fs::write(&log, "earlier line\n").unwrap();
    let port = common::free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kiln-server"))
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--core-port-base", "0", "--cores", "2", "--save", ""])
        .args(["--dir", &dir.path().display().to_string()])
        .args(["--config", &config.display().to_string()])
        .args([
            "--loglevel",
            "notice",
            "--logfile",
            &log.display().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let ready = common::wait_ready(&mut child, addr);
    let read = || std::fs::read(&log).unwrap_or_default();
    let logged = ready
        && common::eventually(Duration::from_secs(10), || {
            String::from_utf8_lossy(&read()).contains("ready to accept connections")
        });
    let mut conn = Raw::connect(addr);
    let info = if ready {
        text(conn.cmd(&["INFO", "server"]))
    } else {
        String::new()
    };
    let level = conn.cmd(&["CONFIG", "GET", "loglevel"]);
    // CONFIG SET loglevel applies at once: a snapshot's info lines are
    // left out at `warning`, written at `notice`.
    let snapshot = |conn: &mut Raw| {
        assert_eq!(
            conn.cmd(&["BGSAVE"]),
            Reply::status("Background saving started")
        );
        assert!(common::eventually(Duration::from_secs(20), || {
            text(conn.cmd(&["INFO", "persistence"])).contains("rdb_bgsave_in_progress:0\r\n")
        }));
    };
    let bad_level = conn.cmd(&["CONFIG", "SET", "loglevel", "loud"]);
    assert_eq!(
        conn.cmd(&["CONFIG", "SET", "loglevel", "WARNING"]),
        Reply::OK
    );
    let quiet_level = conn.cmd(&["CONFIG", "GET", "loglevel"]);
    snapshot(&mut conn);
    let quiet = String::from_utf8_lossy(&read()).contains("snapshot started");
    assert_eq!(
        conn.cmd(&["CONFIG", "SET", "loglevel", "notice"]),
        Reply::OK
    );
    snapshot(&mut conn);
    let loud = common::eventually(Duration::from_secs(10), || {
        String::from_utf8_lossy(&read()).contains("snapshot started")
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(logged, "log: {}", String::from_utf8_lossy(&read()));
    let bytes = read();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("earlier line\n"), "{text}");
    assert!(!bytes.contains(&0x1b), "escape bytes in the log: {text}");
    assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    assert!(text.contains("kiln.toml"), "{text}");
    let canonical = std::fs::canonicalize(&config).unwrap();
    assert!(
        info.contains(&format!("config_file:{}\r\n", canonical.display())),
        "{info}"
    );
    assert!(info.contains("executable:"), "{info}");
    assert!(info.contains(&format!("tcp_port:{port}\r\n")), "{info}");
    assert!(info.contains("kiln_core_ports:"), "{info}");
    assert_eq!(level, Reply::Array(vec![bulk("loglevel"), bulk("notice")]));
    assert_eq!(
        bad_level,
        Reply::error(
            "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning, nothing"
        )
    );
    assert_eq!(
        quiet_level,
        Reply::Array(vec![bulk("loglevel"), bulk("warning")])
    );
    assert!(!quiet, "an info line at loglevel warning: {text}");
    assert!(loud, "no info line back at loglevel notice: {text}");
}
