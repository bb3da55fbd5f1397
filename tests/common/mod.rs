//! Starts the real `kiln-server` binary on free loopback ports and talks raw
//! RESP to it. Readiness is a successful PING, never a sleep.

#![allow(dead_code)]

pub mod redis;
pub mod streams;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiln_net::Reply;
use kiln_net::resp::{decode, encode_request};

/// A `kiln-server` child process, killed on drop.
pub struct TestServer {
    child: Child,
    /// Its data directory, removed on drop unless the test passed its own.
    _dir: Option<tempfile::TempDir>,
    /// Main port.
    pub addr: SocketAddr,
    /// Each core's port, in core order (from CLUSTER SLOTS).
    pub core_addrs: Vec<SocketAddr>,
}

impl TestServer {
    /// Two cores, any free ports.
    pub fn start() -> TestServer {
        TestServer::start_with(&[])
    }

    /// Starts with extra flags. The main port is probed free and passed in;
    /// core ports are chosen by the OS and learned from CLUSTER SLOTS.
    pub fn start_with(extra: &[&str]) -> TestServer {
        let own_dir = !extra.contains(&"--dir");
        // The default 5 ms function budget is wall-clock time; a debug
        // server on a machine busy with the rest of the suite can spend it
        // on a function's first call. Tests of the budget pass their own.
        let budget: &[&str] = if extra.contains(&"--function-cpu-budget") {
            &[]
        } else {
            &["--function-cpu-budget", "1000"]
        };
        let mut dir = own_dir.then(|| tempfile::tempdir().expect("temporary data directory"));
        let dir_flag: Vec<String> = match &dir {
            Some(dir) => vec!["--dir".into(), dir.path().display().to_string()],
            None => Vec::new(),
        };
        for _attempt in 0..5 {
            let port = free_port();
            let mut child = Command::new(env!("CARGO_BIN_EXE_kiln-server"))
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--core-port-base",
                    "0",
                    "--cores",
                    "2",
                    "--pin-threads",
                    "false",
                ])
                .args(["--loglevel", "warn"])
                .args(&dir_flag)
                .args(budget)
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn kiln-server");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            if wait_ready(&mut child, addr) {
                let mut server = TestServer {
                    child,
                    _dir: dir.take(),
                    addr,
                    core_addrs: Vec::new(),
                };
                let password = extra
                    .iter()
                    .position(|a| *a == "--requirepass")
                    .and_then(|i| extra.get(i + 1));
                server.core_addrs = server.discover_cores(password.copied());
                return server;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("kiln-server did not start");
    }

    fn discover_cores(&self, password: Option<&str>) -> Vec<SocketAddr> {
        let mut conn = self.connect();
        if let Some(password) = password {
            assert_eq!(conn.cmd(&["AUTH", password]), Reply::OK);
        }
        let Reply::Array(ranges) = conn.cmd(&["CLUSTER", "SLOTS"]) else {
            panic!("CLUSTER SLOTS is not an array")
        };
        ranges
            .into_iter()
            .map(|range| {
                let Reply::Array(parts) = range else {
                    panic!("range")
                };
                let Reply::Array(node) = &parts[2] else {
                    panic!("node")
                };
                let (Reply::Bulk(ip), Reply::Integer(port)) = (&node[0], &node[1]) else {
                    panic!("node address")
                };
                format!("{}:{port}", String::from_utf8_lossy(ip))
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    /// A raw connection to the main port.
    pub fn connect(&self) -> Raw {
        Raw::connect(self.addr)
    }

    /// A main-port connection accepted by core `core` (the kernel spreads
    /// them; the server says which core took one).
    pub fn connect_on_core(&self, core: usize) -> Raw {
        self.connect_on_core_as(core, None)
    }

    /// [`TestServer::connect_on_core`] logged in as `(user, password)`.
    pub fn connect_on_core_as(&self, core: usize, login: Option<(&str, &str)>) -> Raw {
        for _ in 0..200 {
            let mut conn = self.connect();
            if let Some((user, password)) = login {
                assert_eq!(conn.cmd(&["AUTH", user, password]), Reply::OK, "{user}");
            }
            let Reply::Bulk(info) = conn.cmd(&["CLIENT", "INFO"]) else {
                panic!("CLIENT INFO")
            };
            if String::from_utf8_lossy(&info).contains(&format!("kiln-core={core}")) {
                return conn;
            }
        }
        panic!("no main-port connection landed on core {core}");
    }

    /// A key owned by core `core` (found by asking the server).
    pub fn key_on_core(&self, core: usize, prefix: &str) -> String {
        let per_core = 16384 / self.core_addrs.len();
        let (lo, hi) = (core * per_core, (core + 1) * per_core);
        (0..)
            .map(|i| format!("{prefix}{i}"))
            .find(|k| {
                let slot = kiln_net::slot::key_slot(k.as_bytes()) as usize;
                slot >= lo && slot < hi
            })
            .unwrap()
    }

    /// The process id (for RSS checks).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until every core has loaded its log (`INFO persistence`
    /// reports `loading:0`); commands answer `-LOADING` until then.
    pub fn wait_loaded(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut conn = self.connect();
        loop {
            if let Reply::Bulk(text) = conn.cmd(&["INFO", "persistence"])
                && String::from_utf8_lossy(&text)
                    .lines()
                    .any(|line| line == "loading:0")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server never finished loading"
            );
            std::thread::park_timeout(Duration::from_millis(10));
        }
    }

    /// Kills the server with SIGKILL, as a crash would, and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        send_sigterm(self.child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::yield_now();
            std::thread::park_timeout(Duration::from_millis(10));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn send_sigterm(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

/// Runs `kiln-server` with `args` where it must refuse to run (a corrupt
/// log, a locked directory): its exit status and what it printed, once it
/// exits (within 30 s, or the test fails).
pub fn run_to_failure(args: &[&str]) -> (std::process::ExitStatus, String) {
    let port = free_port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln-server"))
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--core-port-base",
            "0",
        ])
        .args(["--cores", "2", "--loglevel", "warn"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kiln-server");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("kiln-server kept running");
        }
        std::thread::park_timeout(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    (status, stderr)
}

/// A port free on loopback now (another process may take it before use).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Polls until the server answers PING or exits.
pub fn wait_ready(child: &mut Child, addr: SocketAddr) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        if let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let mut raw = Raw::from_stream(stream);
            // Any reply will do: PONG, or NOAUTH when a password is set.
            if raw.try_cmd(&["PING"]).is_some() {
                return true;
            }
        }
        std::thread::park_timeout(Duration::from_millis(20));
    }
    false
}

/// A minimal blocking RESP connection for tests.
pub struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Connects with a 10 s read timeout (a hung server fails the test).
    pub fn connect(addr: SocketAddr) -> Raw {
        Raw::from_stream(TcpStream::connect(addr).expect("connect"))
    }

    /// Wraps a connected stream (10 s read timeout).
    pub fn from_stream(stream: TcpStream) -> Raw {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    /// Whether bytes of a reply arrived that were not read yet, without
    /// waiting for any.
    pub fn has_input(&mut self) -> bool {
        if !self.buf.is_empty() {
            return true;
        }
        self.stream.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let waiting = matches!(self.stream.peek(&mut byte),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        self.stream.set_nonblocking(false).unwrap();
        !waiting
    }

    /// Sends one command and reads its reply.
    pub fn cmd(&mut self, args: &[&str]) -> Reply {
        self.try_cmd(args).expect("reply")
    }

    fn try_cmd(&mut self, args: &[&str]) -> Option<Reply> {
        self.send(args);
        self.read_reply()
    }

    /// Sends one command of binary arguments and reads its reply.
    pub fn cmd_bytes(&mut self, args: &[&[u8]]) -> Reply {
        let mut out = Vec::new();
        encode_request(args, &mut out);
        self.stream.write_all(&out).expect("write");
        self.read_reply().expect("reply")
    }

    /// Sends without reading.
    pub fn send(&mut self, args: &[&str]) {
        let mut out = Vec::new();
        encode_request(args, &mut out);
        self.stream.write_all(&out).expect("write");
    }

    /// Writes raw bytes to a server expected to close the connection part
    /// way: a write refused because it did is not an error.
    pub fn send_raw_until_closed(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ),
                "write: {e}"
            );
        }
    }

    /// The connection's socket (what was buffered but not decoded is lost).
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }

    /// Half-closes: no more requests (the server still answers).
    pub fn finish_writing(&mut self) {
        self.stream
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
    }

    /// Writes raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads one reply; `None` on EOF or timeout.
    pub fn read_reply(&mut self) -> Option<Reply> {
        loop {
            if let Ok(Some((reply, used))) = decode(&self.buf) {
                self.buf.drain(..used);
                return Some(reply);
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Drops the connection abruptly: a reset, as when a client process is
    /// killed with requests in flight (no orderly FIN).
    pub fn abort(self) {
        let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
    }

    /// True once the server has closed the connection: an orderly end of
    /// stream, or a reset (a socket closed with our bytes still unread in
    /// it is reset by the kernel instead of ended).
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
            ),
        }
    }
}

/// Sends `request` on its own connection from another thread (a request
/// that holds its core, such as a long FCALL) while `other` keeps setting
/// `key`. Returns the request's reply, when it arrived, and when each of
/// `other`'s replies arrived meanwhile.
pub fn served_during(
    mut conn: Raw,
    request: &[&str],
    other: &mut Raw,
    key: &str,
) -> (Reply, Instant, Vec<Instant>) {
    let request: Vec<String> = request.iter().map(|a| a.to_string()).collect();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let blocked = std::thread::spawn(move || {
        let args: Vec<&str> = request.iter().map(String::as_str).collect();
        let reply = conn.cmd(&args);
        done_tx.send(Instant::now()).unwrap();
        reply
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut replies = Vec::new();
    let done = loop {
        if let Ok(done) = done_rx.try_recv() {
            break done;
        }
        assert!(Instant::now() < deadline, "the request never finished");
        assert_eq!(other.cmd(&["SET", key, "v"]), Reply::OK);
        replies.push(Instant::now());
    };
    (blocked.join().unwrap(), done, replies)
}

/// Polls `f` until it returns true or `limit` passes.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::park_timeout(Duration::from_millis(5));
    }
    false
}

/// Shorthand for a bulk reply.
pub fn bulk(s: &str) -> Reply {
    Reply::bulk_from(s)
}

/// One numeric field of `INFO` (e.g. `connected_clients`).
pub fn info_field(conn: &mut Raw, field: &str) -> u64 {
    section_field(conn, &["INFO"], field)
}

/// One numeric field of the caller's `INFO tenant` (`tenant_<field>`).
pub fn tenant_field(conn: &mut Raw, field: &str) -> u64 {
    section_field(conn, &["INFO", "tenant"], &format!("tenant_{field}"))
}

fn section_field(conn: &mut Raw, info: &[&str], field: &str) -> u64 {
    let Reply::Bulk(text) = conn.cmd(info) else {
        panic!("INFO is not a bulk string")
    };
    let prefix = format!("{field}:");
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|line| line.strip_prefix(&prefix)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{info:?} has no numeric {field}"))
}

/// A process's resident memory in bytes (`VmRSS` of /proc/<pid>/status).
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// The `default` user's password in servers started by [`start_with_config`].
pub const ADMIN_PASSWORD: &str = "admin-pw";

/// Writes a config declaring `tenants` (`name`, password, extra TOML
/// lines) with the tenant file beside it; the config's path.
pub fn tenant_config(dir: &std::path::Path, tenants: &[(&str, &str, &str)]) -> String {
    let mut text = format!("tenant-file = \"{}\"\n", dir.join("tenants.toml").display());
    for (name, password, extra) in tenants {
        text.push_str(&format!(
            "[[tenant]]\nname = \"{name}\"\npasswords = [\"#{}\"]\n{extra}\n",
            kiln::tenant::hex(&kiln::tenant::digest(password.as_bytes()))
        ));
    }
    let path = dir.join("kiln.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A server from `config`, its `default` user's password [`ADMIN_PASSWORD`].
pub fn start_with_config(config: &str) -> TestServer {
    TestServer::start_with(&["--config", config, "--requirepass", ADMIN_PASSWORD])
}

/// A connection to the main port logged in as `user`.
pub fn login(server: &TestServer, user: &str, password: &str) -> Raw {
    let mut conn = server.connect();
    assert_eq!(conn.cmd(&["AUTH", user, password]), Reply::OK, "{user}");
    conn
}

/// A reply as text, arrays sorted (for order-free comparisons).
pub fn text(reply: &Reply) -> String {
    match reply {
        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Reply::Status(s) => s.to_string(),
        Reply::Integer(n) => n.to_string(),
        Reply::Nil => "(nil)".into(),
        Reply::Array(items) | Reply::Set(items) => {
            let mut parts: Vec<String> = items.iter().map(text).collect();
            parts.sort();
            format!("[{}]", parts.join(","))
        }
        other => format!("{other:?}"),
    }
}

/// Every key of the connection's tenant: type, contents (order-free for
/// sets and hashes), and absolute deadline.
pub fn keyspace_dump(conn: &mut Raw) -> std::collections::BTreeMap<String, String> {
    let Reply::Array(keys) = conn.cmd(&["KEYS", "*"]) else {
        panic!("KEYS")
    };
    let mut all = std::collections::BTreeMap::new();
    for key in keys.iter().map(text) {
        let kind = text(&conn.cmd(&["TYPE", &key]));
        let value = match kind.as_str() {
            "string" => conn.cmd(&["GET", &key]),
            "hash" => conn.cmd(&["HGETALL", &key]),
            "set" => conn.cmd(&["SMEMBERS", &key]),
            "list" => {
                // Order matters: keep it (text() would sort an array).
                let Reply::Array(items) = conn.cmd(&["LRANGE", &key, "0", "-1"]) else {
                    panic!("LRANGE")
                };
                Reply::Bulk(items.iter().map(text).collect::<Vec<_>>().join(",").into())
            }
            "zset" => {
                let Reply::Array(items) = conn.cmd(&["ZRANGE", &key, "0", "-1", "WITHSCORES"])
                else {
                    panic!("ZRANGE")
                };
                Reply::Bulk(items.iter().map(text).collect::<Vec<_>>().join(",").into())
            }
            other => panic!("type {other}"),
        };
        let deadline = text(&conn.cmd(&["PEXPIRETIME", &key]));
        all.insert(key, format!("{kind} {} @{deadline}", text(&value)));
    }
    all
}
