//! The main port's request path allocates nothing per request in the
//! steady state, for GET and SET, whether the key's core is the one the
//! connection landed on or the other one (forwarded, pipelined or not).
//!
//! The server runs in this test process (a separate test binary, so the
//! counting allocator sees only this test), and the client writes
//! pre-encoded requests and reads replies into a fixed buffer, so every
//! allocation counted is the server's. The allocations of a whole run do
//! not grow with the number of requests: a run of 20,000 requests allocates
//! at most a few dozen times more than a run of 2,000 (buffers settling,
//! the once-a-tick work). SET stores the value it receives, which takes one
//! allocation of its own per request: the test allows exactly that.

use std::io::{Read, Write};
use std::net::TcpStream;

use clap::Parser;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

/// Two keys, owned by core 0 and by core 1 (hash tags pick the slot).
fn keys_on_both_cores() -> [String; 2] {
    let mut found: [Option<String>; 2] = [None, None];
    for i in 0.. {
        let key = format!("k{i}");
        let slot = kiln_net::slot::key_slot(key.as_bytes());
        // Two cores split the slots in half.
        let core = usize::from(slot >= 8192);
        found[core].get_or_insert(key);
        if found.iter().all(Option::is_some) {
            break;
        }
    }
    found.map(Option::unwrap)
}

/// A client sending `batch` pre-encoded requests at a time and reading
/// exactly their replies (`reply_len` bytes each) into a fixed buffer.
struct RawClient {
    stream: TcpStream,
    requests: Vec<u8>,
    expected: usize,
    buf: Vec<u8>,
}

impl RawClient {
    fn new(server: &kiln::Handle, request: &[u8], reply: &[u8], batch: usize) -> RawClient {
        let stream = TcpStream::connect(server.addr()).unwrap();
        stream.set_nodelay(true).unwrap();
        RawClient {
            stream,
            requests: request.repeat(batch),
            expected: reply.len() * batch,
            buf: vec![0; reply.len() * batch],
        }
    }

    /// Sends `rounds` batches, each after the previous one's replies.
    fn run(&mut self, rounds: usize) {
        for _ in 0..rounds {
            self.stream.write_all(&self.requests).unwrap();
            self.stream
                .read_exact(&mut self.buf[..self.expected])
                .unwrap();
        }
    }
}

/// Allocations of `rounds` batches by `client`.
fn allocations(client: &mut RawClient, rounds: usize) -> u64 {
    let before = counting_alloc::allocations();
    client.run(rounds);
    counting_alloc::allocations() - before
}

fn encode(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    kiln_net::resp::encode_request(parts, &mut out);
    out
}

#[test]
fn get_and_set_allocate_nothing_per_request_local_or_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let options = kiln::Options::try_parse_from([
        "kiln-server",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--core-port-base",
        "0",
        "--cores",
        "2",
        "--dir",
        &dir.path().display().to_string(),
    ])
    .unwrap();
    let server = kiln::Server::start(options.resolve().unwrap()).unwrap();
    let keys = keys_on_both_cores();
    let value = "v".repeat(100);
    for key in &keys {
        let set = encode(&["SET", key, &value]);
        let get = encode(&["GET", key]);
        let got = format!("$100\r\n{value}\r\n").into_bytes();
        for batch in [1, 16] {
            // The connection lands on either core: over both keys, both
            // paths (run here, forwarded) are measured.
            for (name, request, reply, per_request) in [
                ("SET", &set, &b"+OK\r\n"[..], 1),
                ("GET", &get, &got[..], 0),
            ] {
                let mut client = RawClient::new(&server, request, reply, batch);
                client.run(200); // warm: buffers and pools reach their size
                let small = allocations(&mut client, 100);
                let large = allocations(&mut client, 1_000);
                let extra = (1_000 - 100) * batch as u64 * per_request;
                assert!(
                    large <= small + extra + 64,
                    "{name} {key} pipeline {batch}: {small} allocations for {} requests, \
                     {large} for {} (allowed {} more)",
                    100 * batch,
                    1_000 * batch,
                    extra + 64
                );
            }
        }
    }
    server.shutdown();
}
