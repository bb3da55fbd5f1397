//! RDB snapshots end to end: Kiln's `dump.rdb` loads into `redis-server`
//! and Redis's into Kiln, key by key; every tenant's keys and TTLs come
//! back from a snapshot after `kill -9`; a snapshot taken under writes is
//! of one instant; a corrupt file stops the start with its offset; and
//! `SHUTDOWN SAVE|NOSAVE` do what they say.

mod common;

use std::path::Path;
use std::time::Duration;

use common::redis::Redis;
use common::streams;
use common::{Raw, TestServer, eventually, info_field, keyspace_dump, run_to_failure};
use kiln_net::Reply;

fn start(dir: &Path, extra: &[&str]) -> TestServer {
    let dir = dir.display().to_string();
    let mut args = vec!["--dir", &dir];
    args.extend_from_slice(extra);
    let server = TestServer::start_with(&args);
    server.wait_loaded();
    server
}

/// Every type, in its compact and its big encodings, with deadlines, a
/// binary key, integers and a long compressible string.
fn fill(conn: &mut Raw, prefix: &str) {
    let k = |s: &str| format!("{prefix}{s}");
    let ok = |reply: Reply| assert!(!matches!(reply, Reply::Error(_)), "{reply:?}");
    ok(conn.cmd(&["SET", &k("int"), "12345"]));
    ok(conn.cmd(&["SET", &k("neg"), "-7"]));
    ok(conn.cmd(&["SET", &k("long"), &"abc".repeat(400)]));
    ok(conn.cmd(&["SET", &k("ttl"), "v", "EX", "100000"]));
    ok(conn.cmd(&["SET", &k("bin\x00\x01"), "\x00\x02"]));
    ok(conn.cmd(&["RPUSH", &k("list"), "a", "1", "b"]));
    ok(conn.cmd(&["HSET", &k("hash"), "f", "v", "n", "1"]));
    ok(conn.cmd(&["SADD", &k("ints"), "1", "2", "300000"]));
    ok(conn.cmd(&["SADD", &k("set"), "x", "y"]));
    ok(conn.cmd(&["ZADD", &k("zset"), "1.5", "m", "-inf", "n", "3", "o"]));
    let many: Vec<String> = (0..300).map(|i| format!("item-{i}")).collect();
    let mut args = vec!["RPUSH".to_string(), k("biglist")];
    args.extend(many.iter().cloned());
    ok(conn.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    let mut args = vec!["SADD".to_string(), k("bigset")];
    args.extend(many.iter().cloned());
    ok(conn.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    let mut args = vec!["HSET".to_string(), k("bighash")];
    for item in &many {
        args.extend([item.clone(), format!("{item}-value")]);
    }
    ok(conn.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    let mut args = vec!["ZADD".to_string(), k("bigzset")];
    for (i, item) in many.iter().enumerate() {
        args.extend([format!("{}", i as f64 / 4.0), item.clone()]);
    }
    ok(conn.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    ok(conn.cmd(&["PEXPIRE", &k("bighash"), "90000000"]));
}

/// Waits for the background save under way to end, and checks it worked.
fn wait_saved(conn: &mut Raw, saves: u64) {
    assert!(
        eventually(Duration::from_secs(30), || info_field(conn, "rdb_saves")
            >= saves),
        "the background save never ended"
    );
    let Reply::Bulk(info) = conn.cmd(&["INFO", "persistence"]) else {
        panic!("INFO")
    };
    let info = String::from_utf8_lossy(&info).into_owned();
    assert!(info.contains("rdb_last_bgsave_status:ok\r\n"), "{info}");
    assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
}

#[test]
fn a_kiln_snapshot_loads_into_redis_and_a_redis_snapshot_into_kiln() {
    let dir = tempfile::tempdir().unwrap();
    let kiln = start(dir.path(), &[]);
    let mut conn = kiln.connect();
    fill(&mut conn, "");
    let kiln_keys = keyspace_dump(&mut conn);
    assert_eq!(conn.cmd(&["SAVE"]), Reply::OK);
    drop(kiln);

    let path = dir.path().display().to_string();
    let redis = Redis::start_with(&["--dir", &path, "--dbfilename", "dump.rdb"]);
    let mut r = redis.connect();
    assert_eq!(keyspace_dump(&mut r), kiln_keys, "Redis read Kiln's file");

    // Redis's own file, with its compact encodings (listpacks, intsets,
    // quicklists) and its integer and LZF strings.
    drop(redis);
    let other = tempfile::tempdir().unwrap();
    let other_path = other.path().display().to_string();
    let redis = Redis::start_with(&["--dir", &other_path]);
    let mut r = redis.connect();
    fill(&mut r, "r:");
    let redis_keys = keyspace_dump(&mut r);
    assert_eq!(r.cmd(&["SAVE"]), Reply::OK);
    drop(redis);
    let kiln = start(other.path(), &[]);
    assert_eq!(
        keyspace_dump(&mut kiln.connect()),
        redis_keys,
        "Kiln read Redis's file"
    );
}

/// The facts of every stream key, in key order.
fn stream_facts(conn: &mut Raw, keys: &[String]) -> Vec<(String, Reply)> {
    keys.iter().flat_map(|k| streams::facts(conn, k)).collect()
}

fn assert_same(got: &[(String, Reply)], want: &[(String, Reply)], what: &str) {
    assert_eq!(got.len(), want.len());
    for ((command, got), (_, want)) in got.iter().zip(want) {
        assert_eq!(got, want, "{what}: {command}");
    }
}

#[test]
fn streams_in_a_kiln_snapshot_load_into_redis_and_back_into_kiln() {
    let dir = tempfile::tempdir().unwrap();
    let no_log = ["--appendonly", "no"];
    let kiln = start(dir.path(), &no_log);
    let mut conn = kiln.connect();
    // Streams on both cores: each core writes its own part of the file.
    let mut keys = Vec::new();
    for core in 0..2 {
        let (key, empty) = (kiln.key_on_core(core, "st"), kiln.key_on_core(core, "se"));
        streams::fill(&mut conn, &key, &empty);
        keys.extend([key, empty]);
    }
    keys.sort();
    let before = stream_facts(&mut conn, &keys);
    assert_eq!(
        conn.cmd(&["BGSAVE"]),
        Reply::Status("Background saving started".into())
    );
    wait_saved(&mut conn, 1);
    // SIGKILL: no save on the way out, no log; only the snapshot has them.
    kiln.kill();

    // Redis 7.0 loads the file, checking each listpack deeply.
    let path = dir.path().display().to_string();
    let redis = Redis::start_with(&[
        "--dir",
        &path,
        "--dbfilename",
        "dump.rdb",
        "--sanitize-dump-payload",
        "yes",
    ]);
    let mut r = redis.connect();
    assert_eq!(r.cmd(&["DBSIZE"]), Reply::Integer(4));
    assert_same(
        &stream_facts(&mut r, &keys),
        &before,
        "Redis read Kiln's file",
    );
    drop(redis);

    let kiln = start(dir.path(), &no_log);
    let mut conn = kiln.connect();
    assert_same(
        &stream_facts(&mut conn, &keys),
        &before,
        "Kiln read its own file",
    );
    // The stream goes on where it was: IDs, groups, pending entries.
    assert_eq!(
        conn.cmd(&["XADD", &keys[2], "1-0", "f", "v"]),
        Reply::error(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item"
        )
    );
    let Reply::Array(read) = conn.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "STREAMS",
        &keys[2],
        "0",
    ]) else {
        panic!("XREADGROUP")
    };
    assert!(!read.is_empty());
}

#[test]
fn a_redis_snapshot_with_streams_loads_into_kiln() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().display().to_string();
    let redis = Redis::start_with(&["--dir", &path]);
    let mut r = redis.connect();
    streams::fill(&mut r, "st", "se");
    let keys = vec!["se".to_string(), "st".to_string()];
    let before = stream_facts(&mut r, &keys);
    assert_eq!(r.cmd(&["SAVE"]), Reply::OK);
    drop(redis);
    let kiln = start(dir.path(), &["--appendonly", "no"]);
    assert_same(
        &stream_facts(&mut kiln.connect(), &keys),
        &before,
        "Kiln read Redis's file",
    );
}

#[test]
fn every_tenant_and_ttl_comes_back_from_a_background_save_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all"]),
        Reply::OK
    );
    let mut app = common::login(&server, "app", "pw");
    for (conn, prefix) in [(&mut admin, "op:"), (&mut app, "app:")] {
        fill(conn, prefix);
        for core in 0..2 {
            let key = server.key_on_core(core, prefix);
            assert_eq!(conn.cmd(&["SET", &key, "on-core"]), Reply::OK);
        }
        conn.cmd(&["SET", &format!("{prefix}gone"), "v", "PX", "1"]);
    }
    let before = (keyspace_dump(&mut admin), keyspace_dump(&mut app));
    assert_eq!(
        admin.cmd(&["BGSAVE"]),
        Reply::Status("Background saving started".into())
    );
    wait_saved(&mut admin, 1);
    // After the snapshot: not in it, so gone after the crash.
    assert_eq!(app.cmd(&["SET", "app:later", "x"]), Reply::OK);
    server.kill();

    let server = start(dir.path(), &[]);
    let mut admin = server.connect();
    let mut app = common::login(&server, "app", "pw");
    let without_gone = |mut keys: std::collections::BTreeMap<String, String>, prefix: &str| {
        keys.remove(&format!("{prefix}gone"));
        keys
    };
    assert_eq!(keyspace_dump(&mut admin), without_gone(before.0, "op:"));
    assert_eq!(keyspace_dump(&mut app), without_gone(before.1, "app:"));
    assert_eq!(app.cmd(&["EXISTS", "app:later"]), Reply::Integer(0));
}

#[test]
fn a_snapshot_taken_under_writes_is_of_one_instant() {
    const PAIRS: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--save", ""]);
    let mut conn = server.connect();
    // Pairs of keys that one MSET always writes together, on both cores:
    // any instant has x == y for every pair. Every x is created before
    // every y, so a walk meets a pair's two halves far apart, turns apart.
    let tags = ["a", "b"];
    for (tag, half) in tags.iter().flat_map(|t| [(t, "x"), (t, "y")]) {
        for chunk in (0..PAIRS).collect::<Vec<_>>().chunks(1000) {
            let mut args = vec!["MSET".to_string()];
            for i in chunk {
                args.extend([format!("{{{tag}}}{half}{i}"), "0".into()]);
            }
            assert_eq!(
                conn.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>()),
                Reply::OK
            );
        }
    }
    let mut writer = server.connect();
    assert_eq!(
        conn.cmd(&["BGSAVE"]),
        Reply::Status("Background saving started".into())
    );
    // Rounds of pair writes while the cores walk their shards.
    let mut sent = 0;
    'rounds: for round in 1..=20 {
        for i in (0..PAIRS).step_by(97) {
            for tag in tags {
                let value = round.to_string();
                writer.send(&[
                    "MSET",
                    &format!("{{{tag}}}x{i}"),
                    &value,
                    &format!("{{{tag}}}y{i}"),
                    &value,
                ]);
                sent += 1;
            }
            if sent % 64 == 0 {
                for _ in 0..64 {
                    assert_eq!(writer.read_reply(), Some(Reply::OK));
                }
                sent = 0;
                if info_field(&mut conn, "rdb_bgsave_in_progress") == 0 {
                    break 'rounds;
                }
            }
        }
    }
    for _ in 0..sent {
        assert_eq!(writer.read_reply(), Some(Reply::OK));
    }
    wait_saved_at_least_once(&mut conn);
    server.kill();

    let server = start(dir.path(), &["--save", ""]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd(&["DBSIZE"]), Reply::Integer(4 * PAIRS as i64));
    for tag in tags {
        for chunk in (0..PAIRS).collect::<Vec<_>>().chunks(1000) {
            let mut args = vec!["MGET".to_string()];
            for i in chunk {
                args.extend([format!("{{{tag}}}x{i}"), format!("{{{tag}}}y{i}")]);
            }
            let Reply::Array(values) =
                conn.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
            else {
                panic!("MGET")
            };
            for (pair, i) in values.chunks(2).zip(chunk) {
                assert_eq!(pair[0], pair[1], "pair {tag}:{i} is of two instants");
            }
        }
    }
}

fn wait_saved_at_least_once(conn: &mut Raw) {
    assert!(
        eventually(Duration::from_secs(60), || info_field(conn, "rdb_saves")
            >= 1
            && info_field(conn, "rdb_bgsave_in_progress") == 0),
        "the background save never ended"
    );
}

#[test]
fn a_corrupt_snapshot_stops_the_start_with_its_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let mut conn = server.connect();
    fill(&mut conn, "");
    assert_eq!(conn.cmd(&["SAVE"]), Reply::OK);
    drop(server);
    let file = dir.path().join("dump.rdb");
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    std::fs::write(&file, &bytes).unwrap();
    let path = dir.path().display().to_string();
    let (status, output) = run_to_failure(&["--dir", &path]);
    assert!(!status.success());
    assert!(
        output.contains("dump.rdb is corrupt") && output.contains("at offset"),
        "{output}"
    );
}

#[test]
fn shutdown_save_writes_a_snapshot_and_nosave_does_not() {
    let dir = tempfile::tempdir().unwrap();
    // No schedule: only SHUTDOWN SAVE writes.
    let server = start(dir.path(), &["--save", ""]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd(&["CONFIG", "GET", "save"]), array(&["save", ""]));
    assert_eq!(conn.cmd(&["SET", "k", "first"]), Reply::OK);
    assert_eq!(conn.cmd(&["SHUTDOWN", "SAVE"]), Reply::OK);
    assert!(server.stop().success());
    assert!(dir.path().join("dump.rdb").exists());

    let server = start(dir.path(), &["--save", ""]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd(&["GET", "k"]), Reply::bulk_from("first"));
    assert_eq!(conn.cmd(&["CONFIG", "SET", "save", "100 1"]), Reply::OK);
    assert_eq!(
        conn.cmd(&["CONFIG", "GET", "save"]),
        array(&["save", "100 1"])
    );
    assert_eq!(conn.cmd(&["SET", "k", "second"]), Reply::OK);
    assert_eq!(conn.cmd(&["SHUTDOWN", "NOSAVE"]), Reply::OK);
    assert!(server.stop().success());

    let server = start(dir.path(), &["--save", ""]);
    let mut conn = server.connect();
    assert_eq!(conn.cmd(&["GET", "k"]), Reply::bulk_from("first"));
    assert_eq!(
        conn.cmd(&["CONFIG", "SET", "save", "100"]),
        Reply::error(
            "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
        )
    );
    // With a schedule, SIGTERM saves as Redis does.
    assert_eq!(conn.cmd(&["CONFIG", "SET", "save", "3600 1"]), Reply::OK);
    assert_eq!(conn.cmd(&["SET", "k", "third"]), Reply::OK);
    assert!(server.stop().success());
    let server = start(dir.path(), &["--save", ""]);
    assert_eq!(
        server.connect().cmd(&["GET", "k"]),
        Reply::bulk_from("third")
    );
}

fn array(items: &[&str]) -> Reply {
    Reply::Array(items.iter().map(|s| Reply::bulk_from(*s)).collect())
}

/// `rdbcompression` (on by default, as in Redis) writes long strings
/// LZF-compressed: the file is smaller, and Redis loads it; `CONFIG SET
/// rdbcompression no` writes them plain again.
#[test]
fn rdbcompression_writes_smaller_files_redis_loads_and_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let kiln = start(dir.path(), &[]);
    let mut conn = kiln.connect();
    fill(&mut conn, "");
    let kiln_keys = keyspace_dump(&mut conn);
    let setting = |conn: &mut Raw| conn.cmd(&["CONFIG", "GET", "rdbcompression"]);
    assert_eq!(setting(&mut conn), array(&["rdbcompression", "yes"]));
    assert_eq!(conn.cmd(&["SAVE"]), Reply::OK);
    let file = dir.path().join("dump.rdb");
    let compressed = std::fs::metadata(&file).unwrap().len();
    std::fs::copy(&file, dir.path().join("compressed.rdb")).unwrap();
    assert_eq!(
        conn.cmd(&["CONFIG", "SET", "rdbcompression", "no"]),
        Reply::OK
    );
    assert!(
        conn.cmd(&["CONFIG", "SET", "rdbcompression", "maybe"])
            .is_error()
    );
    assert_eq!(setting(&mut conn), array(&["rdbcompression", "no"]));
    assert_eq!(conn.cmd(&["SAVE"]), Reply::OK);
    let plain = std::fs::metadata(&file).unwrap().len();
    // The 1,200-byte "abc..." string alone shrinks to a few dozen bytes.
    assert!(
        plain > compressed + 1000,
        "plain {plain}, compressed {compressed}"
    );
    drop(kiln);

    let path = dir.path().display().to_string();
    let redis = Redis::start_with(&["--dir", &path, "--dbfilename", "compressed.rdb"]);
    assert_eq!(
        keyspace_dump(&mut redis.connect()),
        kiln_keys,
        "Redis read the compressed file"
    );
    drop(redis);
    let kiln = start(dir.path(), &["--rdbcompression", "no"]);
    let mut conn = kiln.connect();
    assert_eq!(setting(&mut conn), array(&["rdbcompression", "no"]));
    assert_eq!(
        keyspace_dump(&mut conn),
        kiln_keys,
        "Kiln read the plain file"
    );
}
