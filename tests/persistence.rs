//! The append-only log end to end: what a client was told is written comes
//! back after a crash (`kill -9`), for every type and tenant on both cores;
//! a torn tail is cut, corruption and a second server are refused, and a
//! full disk turns writes into `-MISCONF` until it has room again.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Raw, TestServer, keyspace_dump, run_to_failure, text};
use kiln_net::Reply;

fn start(dir: &Path, fsync: &str, extra: &[&str]) -> TestServer {
    let dir = dir.display().to_string();
    let mut args = vec!["--dir", &dir, "--appendonly", "yes", "--appendfsync", fsync];
    args.extend_from_slice(extra);
    let server = TestServer::start_with(&args);
    server.wait_loaded();
    server
}

fn login(server: &TestServer, user: &str) -> Raw {
    let mut conn = server.connect();
    assert_eq!(conn.cmd(&["AUTH", user, "pw"]), Reply::OK);
    conn
}

const LIBRARY: &str = "#!js name=journal\n\
    kiln.registerFunction('stamp', (keys, args) => {\n\
      kiln.put(keys[0], String(Math.random()));\n\
      kiln.call('HSET', keys[1], 'at', String(Date.now()));\n\
      kiln.incr(keys[2], 5);\n\
      kiln.del(keys[3]);\n\
      return 'OK';\n\
    });";

#[test]
fn every_type_and_tenant_comes_back_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "always", &[]);
    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all"]),
        Reply::OK
    );
    let mut app = login(&server, "app");
    let (a, b) = (server.key_on_core(0, "k"), server.key_on_core(1, "k"));
    for conn in [&mut admin, &mut app] {
        for key in [&a, &b] {
            conn.cmd(&["SET", &format!("{key}:s"), "v", "EX", "1000"]);
            conn.cmd(&["INCRBYFLOAT", &format!("{key}:f"), "0.1"]);
            conn.cmd(&["RPUSH", &format!("{key}:l"), "a", "b", "c"]);
            conn.cmd(&["LPOP", &format!("{key}:l")]);
            conn.cmd(&["HSET", &format!("{key}:h"), "f", "1", "g", "2"]);
            conn.cmd(&["HINCRBY", &format!("{key}:h"), "f", "10"]);
            conn.cmd(&["SADD", &format!("{key}:set"), "x", "y", "z", "w"]);
            conn.cmd(&["SPOP", &format!("{key}:set"), "2"]);
            conn.cmd(&["ZADD", &format!("{key}:z"), "1.5", "m", "-inf", "n"]);
            conn.cmd(&["ZINCRBY", &format!("{key}:z"), "0.25", "m"]);
            conn.cmd(&["SET", &format!("{key}:gone"), "v", "PX", "1"]);
            conn.cmd(&["SET", &format!("{key}:del"), "v"]);
            conn.cmd(&["DEL", &format!("{key}:del")]);
            conn.cmd(&["EXPIRE", &format!("{key}:h"), "5000"]);
        }
        // Across cores: the record moves (logged as the commands that
        // rebuild it on the destination, and a DEL at the source).
        assert_eq!(
            conn.cmd(&["RENAME", &format!("{a}:h"), &format!("{b}:moved")]),
            Reply::OK
        );
        conn.cmd(&[
            "SUNIONSTORE",
            &format!("{a}:union"),
            &format!("{a}:set"),
            &format!("{b}:set"),
        ]);
        // A function's writes are logged as their effects, not the FCALL.
        assert!(matches!(
            conn.cmd(&["FUNCTION", "LOAD", "REPLACE", LIBRARY]),
            Reply::Bulk(_)
        ));
        let k = |s: &str| format!("{{fn}}{s}");
        conn.cmd(&["SET", &k("old"), "x"]);
        assert_eq!(
            conn.cmd(&["FCALL", "stamp", "4", &k("r"), &k("h"), &k("n"), &k("old")]),
            Reply::Bulk("OK".into())
        );
    }
    std::thread::sleep(Duration::from_millis(5)); // let the PX 1 keys expire
    let before = (keyspace_dump(&mut admin), keyspace_dump(&mut app));
    assert!(before.0.len() > 15 && before.1.len() > 15, "{before:?}");
    assert!(
        !before
            .0
            .keys()
            .any(|k| k.ends_with(":gone") || k.ends_with(":del"))
    );
    server.kill();

    let server = start(dir.path(), "always", &[]);
    let mut admin = server.connect();
    let mut app = login(&server, "app");
    assert_eq!(before.0, keyspace_dump(&mut admin));
    assert_eq!(before.1, keyspace_dump(&mut app));
    let Reply::Bulk(info) = admin.cmd(&["INFO", "persistence"]) else {
        panic!("INFO")
    };
    let info = String::from_utf8_lossy(&info);
    assert!(
        info.contains("aof_enabled:1") && info.contains("aof_last_write_status:ok"),
        "{info}"
    );
}

/// One writer's user, counter key, and every value the counter was
/// acknowledged at, with when.
type Acked = (String, String, Vec<(i64, Instant)>);

/// Writers on both cores, as two tenants, until the server dies under
/// them (a `kill -9` from the test).
fn write_until_crash(server: &TestServer) -> Vec<Acked> {
    let mut admin = server.connect();
    admin.cmd(&["ACL", "SETUSER", "w", "on", ">pw", "~*", "+@all"]);
    let mut writers = Vec::new();
    for user in ["default", "w"] {
        for core in 0..2 {
            for n in 0..2 {
                let key = server.key_on_core(core, &format!("counter{n}-"));
                let mut conn = if user == "default" {
                    server.connect()
                } else {
                    login(server, user)
                };
                let user = user.to_owned();
                writers.push(std::thread::spawn(move || {
                    let mut acked = Vec::new();
                    // The server dies under us: what was read counts.
                    loop {
                        conn.send(&["INCR", &key]);
                        match conn.read_reply() {
                            Some(Reply::Integer(v)) => acked.push((v, Instant::now())),
                            _ => break,
                        }
                    }
                    (user, key, acked)
                }));
            }
        }
    }
    writers.into_iter().map(|w| w.join().unwrap()).collect()
}

/// Kills `pid` with SIGKILL after `after`; returns when it did.
fn kill_9_after(pid: u32, after: Duration) -> std::thread::JoinHandle<Instant> {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let at = Instant::now();
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
        at
    })
}

fn counters_after_restart(dir: &Path, fsync: &str) -> BTreeMap<(String, String), i64> {
    let server = start(dir, fsync, &[]);
    let mut out = BTreeMap::new();
    let mut admin = server.connect();
    let mut w = login(&server, "w");
    for (user, conn) in [("default", &mut admin), ("w", &mut w)] {
        let reply = conn.cmd(&["KEYS", "counter*"]);
        let Reply::Array(keys) = reply else {
            panic!("KEYS as {user}: {reply:?}")
        };
        for key in keys.iter().map(text) {
            let value = text(&conn.cmd(&["GET", &key])).parse().unwrap();
            out.insert((user.to_owned(), key), value);
        }
    }
    out
}

#[test]
fn kill_9_under_appendfsync_always_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "always", &[]);
    let killer = kill_9_after(server.pid(), Duration::from_millis(1500));
    let results = write_until_crash(&server);
    killer.join().unwrap();
    drop(server);
    let after = counters_after_restart(dir.path(), "always");
    let mut writes = 0;
    for (user, key, acked) in results {
        let Some(&(last, _)) = acked.last() else {
            continue;
        };
        writes += acked.len();
        let got = after
            .get(&(user.clone(), key.clone()))
            .copied()
            .unwrap_or(0);
        // At least what was acknowledged; at most one more (sent, applied
        // and logged, but the reply never arrived).
        assert!(
            got == last || got == last + 1,
            "{user} {key}: acked {last}, found {got}"
        );
    }
    assert!(writes > 100, "too few writes to mean anything: {writes}");
}

#[test]
fn kill_9_under_appendfsync_everysec_loses_at_most_the_last_two_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "everysec", &[]);
    let killer = kill_9_after(server.pid(), Duration::from_millis(3500));
    let results = write_until_crash(&server);
    let killed_at = killer.join().unwrap();
    drop(server);
    let after = counters_after_restart(dir.path(), "everysec");
    for (user, key, acked) in results {
        let got = after
            .get(&(user.clone(), key.clone()))
            .copied()
            .unwrap_or(0);
        let safe = acked
            .iter()
            .filter(|(_, at)| *at + Duration::from_secs(2) < killed_at)
            .map(|(v, _)| *v)
            .max()
            .unwrap_or(0);
        let last = acked.last().map_or(0, |(v, _)| *v);
        assert!(
            got >= safe && got <= last + 1,
            "{user} {key}: safe {safe}, last {last}, found {got}"
        );
    }
}

fn incr_file(dir: &Path, core: usize) -> PathBuf {
    dir.join(format!(
        "appendonlydir/appendonly.aof.core{core}.1.incr.aof"
    ))
}

#[test]
fn a_torn_tail_is_cut_and_corruption_is_refused_with_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "everysec", &[]);
    let key = server.key_on_core(0, "t");
    let mut conn = server.connect();
    conn.cmd(&["SET", &key, "kept"]);
    assert_eq!(server.stop().code(), Some(0));
    let file = incr_file(dir.path(), 0);
    let whole = std::fs::read(&file).unwrap();
    // A crash mid-write: half a record at the end.
    let mut torn = whole.clone();
    torn.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nx");
    std::fs::write(&file, &torn).unwrap();

    let d = dir.path().display().to_string();
    let strict = [
        "--dir",
        &d,
        "--appendonly",
        "yes",
        "--aof-load-truncated",
        "no",
    ];
    let (status, stderr) = run_to_failure(&strict);
    assert!(!status.success());
    assert!(
        stderr.contains(&file.display().to_string()) && stderr.contains("incomplete"),
        "{stderr}"
    );

    let server = start(dir.path(), "everysec", &[]);
    assert_eq!(
        server.connect().cmd(&["GET", &key]),
        Reply::Bulk("kept".into())
    );
    drop(server);
    assert_eq!(
        std::fs::read(&file).unwrap(),
        whole,
        "the torn record is cut off"
    );

    // A flipped byte inside a record is corruption, wherever it is.
    let mut bad = whole.clone();
    let at = bad.len() - 8;
    bad[at] = b'!';
    std::fs::write(&file, &bad).unwrap();
    let (status, stderr) = run_to_failure(&["--dir", &d, "--appendonly", "yes"]);
    assert!(!status.success());
    assert!(
        stderr.contains(&file.display().to_string()) && stderr.contains("offset"),
        "{stderr}"
    );
}

#[test]
fn a_second_server_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = start(dir.path(), "everysec", &[]);
    let d = dir.path().display().to_string();
    let (status, stderr) = run_to_failure(&["--dir", &d, "--appendonly", "yes"]);
    assert!(!status.success());
    assert!(stderr.contains("another Kiln server"), "{stderr}");
}

/// A small tmpfs, unmounted on drop; `None` where mounting is not allowed.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk(dir))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[test]
fn a_full_disk_refuses_writes_with_misconf_until_it_has_room() {
    let Some(disk) = SmallDisk::mount("2m") else {
        eprintln!("a_full_disk...: skipped, this machine does not let the test mount a tmpfs");
        return;
    };
    let server = start(disk.0.path(), "everysec", &[]);
    let mut conn = server.connect();
    let key = server.key_on_core(0, "d");
    assert_eq!(conn.cmd(&["SET", &key, "before"]), Reply::OK);
    // Fill the disk.
    let filler = disk.0.path().join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 4 << 20]);
    let value = "v".repeat(64 * 1024);
    let deadline = Instant::now() + Duration::from_secs(10);
    let refusal = loop {
        match conn.cmd(&["SET", &key, &value]) {
            Reply::Error(e) => break e.to_string(),
            _ => assert!(
                Instant::now() < deadline,
                "writes never failed on a full disk"
            ),
        }
    };
    assert!(
        refusal.starts_with("MISCONF") && refusal.contains("No space left"),
        "{refusal}"
    );
    // Reads keep working.
    assert!(matches!(conn.cmd(&["GET", &key]), Reply::Bulk(_)));
    let Reply::Bulk(info) = conn.cmd(&["INFO", "persistence"]) else {
        panic!("INFO")
    };
    assert!(String::from_utf8_lossy(&info).contains("aof_last_write_status:err"));
    // Room again: the log catches up, and writes are taken again.
    std::fs::remove_file(&filler).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while conn.cmd(&["SET", &key, "after"]) != Reply::OK {
        assert!(Instant::now() < deadline, "writes never recovered");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    let server = start(disk.0.path(), "everysec", &[]);
    let got = server.connect().cmd(&["GET", &key]);
    if got != Reply::Bulk("after".into()) {
        let log_dir = disk.0.path().join("appendonlydir");
        for entry in std::fs::read_dir(&log_dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let shown: String = String::from_utf8_lossy(&bytes)
                .replace(&"v".repeat(1024), "<1k v>")
                .chars()
                .take(3000)
                .collect();
            eprintln!("{}: {} bytes\n{shown}", path.display(), bytes.len());
        }
        panic!("after restart: {}", text(&got).len());
    }
}

/// `INFO persistence` as field → value.
fn persistence_info(conn: &mut Raw) -> BTreeMap<String, String> {
    let Reply::Bulk(info) = conn.cmd(&["INFO", "persistence"]) else {
        panic!("INFO")
    };
    String::from_utf8_lossy(&info)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Waits until the cores have finished `rewrites` rewrites in all, none
/// running.
fn wait_rewrites(conn: &mut Raw, rewrites: u64) -> BTreeMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = persistence_info(conn);
        if info["aof_rewrite_in_progress"] == "0"
            && info["aof_rewrites"].parse::<u64>().unwrap() >= rewrites
        {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "rewrites never finished: {info:?}"
        );
        std::thread::park_timeout(Duration::from_millis(10));
    }
}

/// Files in the log directory.
fn log_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn bgrewriteaof_compacts_each_cores_log_while_writes_go_on_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "everysec", &[]);
    let mut admin = server.connect();
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all"]),
        Reply::OK
    );
    let mut app = login(&server, "app");
    // Enough history that the rewrite takes many slices: counters
    // incremented often, collections of every type, deadlines.
    for conn in [&mut admin, &mut app] {
        for core in 0..2 {
            for i in 0..300 {
                let key = server.key_on_core(core, &format!("k{i}:"));
                conn.cmd(&["SET", &format!("{key}s"), &"x".repeat(100), "EX", "1000"]);
                conn.cmd(&["RPUSH", &format!("{key}l"), "a", "b", "c"]);
                conn.cmd(&["HSET", &format!("{key}h"), "f", "1", "g", "2"]);
                conn.cmd(&["SADD", &format!("{key}set"), "x", "y", &i.to_string()]);
                conn.cmd(&["ZADD", &format!("{key}z"), "1.5", "m", &i.to_string(), "n"]);
                for _ in 0..5 {
                    conn.cmd(&["INCR", &format!("{key}n")]);
                }
            }
        }
    }
    let sizes = |dir: &Path| -> u64 {
        log_files(dir)
            .iter()
            .filter(|n| n.ends_with(".aof"))
            .map(|n| {
                std::fs::metadata(dir.join("appendonlydir").join(n))
                    .unwrap()
                    .len()
            })
            .sum()
    };
    let before_size = sizes(dir.path());
    // Writers keep going during the rewrite: the keys they touch after the
    // walk passed them must be written again before the switch.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|core| {
            let stop = std::sync::Arc::clone(&stop);
            let mut conn = login(&server, "app");
            let keys: Vec<String> = (0..300)
                .map(|i| server.key_on_core(core, &format!("k{i}:")))
                .collect();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let key = &keys[n % keys.len()];
                    conn.cmd(&["INCR", &format!("{key}n")]);
                    conn.cmd(&["LPUSH", &format!("{key}l"), "w"]);
                    conn.cmd(&["DEL", &format!("{key}h")]);
                    n += 1;
                }
            })
        })
        .collect();
    assert_eq!(
        admin.cmd(&["BGREWRITEAOF"]),
        Reply::Status("Background append only file rewriting started".into())
    );
    let rewritten = wait_rewrites(&mut admin, 2);
    let base_size: u64 = rewritten["aof_base_size"].parse().unwrap();
    assert!(
        base_size > 0 && base_size < before_size,
        "base {base_size} bytes, log before {before_size}"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writers.into_iter().for_each(|w| w.join().unwrap());
    // Writes after the switch land in the new incremental files.
    app.cmd(&["SET", "after-rewrite", "1"]);
    let before = (keyspace_dump(&mut admin), keyspace_dump(&mut app));
    let files = log_files(dir.path());
    for core in 0..2 {
        let manifest = std::fs::read_to_string(
            dir.path()
                .join("appendonlydir")
                .join(format!("appendonly.aof.core{core}.manifest")),
        )
        .unwrap();
        assert!(
            manifest.contains(" type b") && manifest.lines().count() == 2,
            "{manifest}"
        );
        for line in manifest.lines() {
            let name = line.split(' ').nth(1).unwrap();
            assert!(files.iter().any(|f| f == name), "{name} in {files:?}");
        }
    }
    assert!(
        !files
            .iter()
            .any(|f| f.contains(".1.incr.") || f.starts_with("temp")),
        "old and temporary files are gone: {files:?}"
    );
    server.kill();

    let server = start(dir.path(), "everysec", &[]);
    let mut admin = server.connect();
    let mut app = login(&server, "app");
    assert_eq!(before.0, keyspace_dump(&mut admin));
    assert_eq!(before.1, keyspace_dump(&mut app));
    let info = persistence_info(&mut admin);
    assert_eq!(info["aof_base_size"], base_size.to_string(), "{info:?}");
}

#[test]
fn a_log_past_the_automatic_rule_is_rewritten_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        "no",
        &[
            "--auto-aof-rewrite-min-size",
            "256kb",
            "--auto-aof-rewrite-percentage",
            "100",
        ],
    );
    let mut conn = server.connect();
    let key = server.key_on_core(0, "big");
    let value = "v".repeat(1000);
    // ~600 kB of overwrites of one key: the rewrite keeps one SET.
    for _ in 0..600 {
        assert_eq!(conn.cmd(&["SET", &key, &value]), Reply::OK);
    }
    let info = wait_rewrites(&mut conn, 1);
    let current: u64 = info["aof_current_size"].parse().unwrap();
    // Without a rewrite the log holds every SET (~606 kB). The rule fires
    // once 256 kB are logged, while the writes go on; what follows the
    // rewrite stays logged until the rule fires again.
    assert!(current < 400 * 1024, "{info:?}");
    assert_eq!(info["aof_last_bgrewrite_status"], "ok");
    server.kill();
    let server = start(dir.path(), "no", &[]);
    assert_eq!(
        server.connect().cmd(&["GET", &key]),
        Reply::Bulk(value.into())
    );
}

#[test]
fn bgrewriteaof_without_a_log_is_refused() {
    let server = TestServer::start();
    let mut conn = server.connect();
    assert!(matches!(conn.cmd(&["BGREWRITEAOF"]), Reply::Error(e) if e.contains("appendonly no")));
}
