//! Blocking commands and the client's read timeout, against a stand-in
//! server that answers every request late (no list support needed).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use kiln_client::{Client, Direction, Error};

/// Accepts one connection and answers each request with `reply` after
/// `delay`; returns the port and, when the client hangs up, the requests.
fn late_server(delay: Duration, reply: &'static [u8]) -> (u16, thread::JoinHandle<Vec<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut requests = Vec::new();
        let mut buf = [0u8; 4096];
        // Each request arrives in one write, and the next only after its reply.
        while let Ok(read) = stream.read(&mut buf) {
            if read == 0 {
                break;
            }
            requests.push(buf[..read].to_vec());
            thread::sleep(delay);
            if stream.write_all(reply).is_err() {
                break;
            }
        }
        requests
    });
    (port, handle)
}

fn client(port: u16, read_timeout: Duration) -> Client {
    Client::builder()
        .cluster(false)
        .read_timeout(read_timeout)
        .connect(("127.0.0.1", port))
        .unwrap()
}

#[test]
fn a_blocking_call_waits_past_the_read_timeout() {
    let (port, server) = late_server(Duration::from_millis(500), b"*-1\r\n");
    let mut c = client(port, Duration::from_millis(150));
    let start = Instant::now();
    // The server may take the whole second asked for: the socket waits
    // 1 s + 150 ms, so this late nil is a timeout reply, not an error.
    assert_eq!(c.blpop(&["k"], Duration::from_secs(1)).unwrap(), None);
    assert!(start.elapsed() >= Duration::from_millis(450));
    assert_eq!(
        c.blmove(
            "a",
            "b",
            Direction::Left,
            Direction::Right,
            Duration::from_millis(1500)
        )
        .unwrap(),
        None
    );
    // Zero blocks forever: no read timeout at all for that call.
    assert_eq!(c.brpop(&["k"], Duration::ZERO).unwrap(), None);
    // An ordinary command has the configured timeout again.
    let err = c.cmd(&["LLEN", "k"]).unwrap_err();
    assert!(matches!(&err, Error::Io(_)), "{err}");
    drop(c);
    let requests = server.join().unwrap();
    assert_eq!(
        requests[..3],
        [
            b"*3\r\n$5\r\nBLPOP\r\n$1\r\nk\r\n$1\r\n1\r\n".to_vec(),
            b"*6\r\n$6\r\nBLMOVE\r\n$1\r\na\r\n$1\r\nb\r\n$4\r\nLEFT\r\n$5\r\nRIGHT\r\n$3\r\n1.5\r\n"
                .to_vec(),
            b"*3\r\n$5\r\nBRPOP\r\n$1\r\nk\r\n$1\r\n0\r\n".to_vec(),
        ]
    );
}

#[test]
fn the_margin_is_the_read_timeout() {
    // The server answers 400 ms after a 100 ms timeout: later than the
    // command's timeout plus a 150 ms read timeout, so the read gives up.
    let (port, _server) = late_server(Duration::from_millis(400), b"*-1\r\n");
    let mut c = client(port, Duration::from_millis(150));
    let start = Instant::now();
    let err = c.bzpopmin(&["z"], Duration::from_millis(100)).unwrap_err();
    assert!(matches!(&err, Error::Io(_)), "{err}");
    assert!(start.elapsed() < Duration::from_millis(390));
}
