//! A real Kiln server for the typed-API tests, started in-process with
//! `kiln::Server::start` on free loopback ports (listening when `start`
//! returns), two cores, stopped on drop.

#![allow(dead_code)] // each test file uses its own part

use bytes::Bytes;
use kiln::{Handle, Server, Settings};
use kiln_client::{Client, Reply};

pub struct TestServer {
    handle: Option<Handle>,
    /// Its data directory (kiln-cli's tests keep its history file there).
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl TestServer {
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temporary data directory");
        let settings = Settings {
            port: 0,
            cores: 2,
            core_port_base: 0,
            loglevel: "warn".into(),
            dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        let handle = Server::start(settings).expect("start the server");
        let port = handle.addr().port();
        TestServer {
            handle: Some(handle),
            dir,
            port,
        }
    }

    /// A client speaking RESP3 or RESP2, routing keys to their cores.
    pub fn client(&self, resp3: bool) -> Client {
        Client::builder()
            .resp3(resp3)
            .connect(("127.0.0.1", self.port))
            .expect("connect")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
        }
    }
}

/// A key whose slot core `core` of two owns (each owns half the slots),
/// named after `prefix`.
pub fn key_on_core(prefix: &str, core: usize) -> String {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| usize::from(kiln_net::slot::key_slot(k.as_bytes())) / 8192 == core)
        .expect("a key in every half")
}

pub fn b(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// Sorted byte strings, for replies in no particular order.
pub fn sorted(mut list: Vec<Bytes>) -> Vec<Bytes> {
    list.sort();
    list
}

pub fn bulk(text: &str) -> Reply {
    Reply::bulk_from(text)
}

/// A score as each protocol sends it: a double in RESP3, a bulk string in RESP2.
pub fn score(resp3: bool, value: f64, text: &str) -> Reply {
    if resp3 {
        Reply::Double(value)
    } else {
        bulk(text)
    }
}
