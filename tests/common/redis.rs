//! A throwaway `redis-server` beside Kiln, for parity and file
//! interchange tests. `.ci/run` installs it (Debian's package).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kiln_net::Reply;

use super::Raw;

/// A throwaway redis-server on a free loopback port, killed on drop.
pub struct Redis {
    child: Child,
    /// Its port.
    pub port: u16,
}

impl Redis {
    /// Starts one and waits until the server on its port is this child
    /// (its `process_id`): another test's server may have taken the port
    /// between probing it free and redis-server binding it.
    pub fn start() -> Redis {
        Redis::start_with(&[])
    }

    /// [`Redis::start`] with more arguments (`--dir`, `--dbfilename`...).
    pub fn start_with(extra: &[&str]) -> Redis {
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(extra)
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server must be installed (apt-get install redis-server); .ci/run installs it");
            if Redis::serves(&mut child, port) {
                return Redis { child, port };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start");
    }

    fn serves(child: &mut Child, port: u16) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = format!("process_id:{}\r\n", child.id());
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return false;
            }
            if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                // Another process may hold the port (and answer nothing).
                let mut conn = Raw::from_stream(stream);
                conn.send(&["INFO", "server"]);
                let info = conn.read_reply();
                return matches!(info, Some(Reply::Bulk(text)) if String::from_utf8_lossy(&text).contains(&pid));
            }
            std::thread::park_timeout(Duration::from_millis(10));
        }
        false
    }
}

impl Redis {
    /// A connection to it.
    pub fn connect(&self) -> Raw {
        Raw::connect(format!("127.0.0.1:{}", self.port).parse().unwrap())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each command of `script` to Redis (`redis`) and to Kiln (`kiln`),
/// passes both replies through `normalize` (with the command's name in
/// upper case) and fails listing every command whose replies differ.
pub fn assert_same_replies(
    redis: &mut Raw,
    kiln: &mut Raw,
    script: &[&[&str]],
    mut normalize: impl FnMut(&mut Reply, &str),
) {
    let mut mismatches = Vec::new();
    for command in script {
        let (mut want, mut got) = (redis.cmd(command), kiln.cmd(command));
        let name = command[0].to_ascii_uppercase();
        normalize(&mut want, &name);
        normalize(&mut got, &name);
        if want != got {
            mismatches.push(format!("{command:?}\n  redis: {want:?}\n  kiln:  {got:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
