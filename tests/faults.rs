//! Fault and load tests: clients that misbehave (hold thousands of idle
//! connections, trickle requests, never read, vanish mid-pipeline) against
//! the real server. Each asserts that service to everyone else continues
//! and that nothing acknowledged is lost. Loopback only, bounded in count
//! and time, self-stopping.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Raw, TestServer, bulk, eventually, info_field, rss_bytes};
use kiln_net::Reply;
use kiln_net::resp::encode_request;

/// A SET then a GET of a fresh value; the client that must keep working.
fn set_get(conn: &mut Raw, round: usize) {
    let value = format!("v{round}");
    assert_eq!(conn.cmd(&["SET", "busy", &value]), Reply::OK);
    assert_eq!(conn.cmd(&["GET", "busy"]), bulk(&value));
}

/// Raises this process's open-file limit to at least `want`, as far as
/// the hard limit allows; returns the limit now in force.
fn raise_nofile(want: u64) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read or write one valid rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < want {
            limit.rlim_cur = want.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
    }
    limit.rlim_cur
}

#[test]
fn five_thousand_idle_connections_do_not_stop_a_busy_client() {
    const IDLE: usize = 5000;
    assert!(
        raise_nofile(IDLE as u64 + 200) > IDLE as u64 + 100,
        "the test process cannot open {IDLE} sockets"
    );
    let server = TestServer::start();
    let mut busy = server.connect();
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        idle.push(TcpStream::connect(server.addr).expect("idle connect"));
        if i % 500 == 0 {
            set_get(&mut busy, i);
        }
    }
    // Every idle socket was accepted and is held (not refused, not closed).
    assert!(
        eventually(
            Duration::from_secs(20),
            || info_field(&mut busy, "connected_clients") as usize > IDLE
        ),
        "the server did not hold {IDLE} idle connections"
    );
    for round in 0..1000 {
        set_get(&mut busy, round);
    }
    // The idle ones still work when they wake up.
    for stream in idle.iter().step_by(500) {
        let mut conn = Raw::from_stream(stream.try_clone().unwrap());
        assert_eq!(conn.cmd(&["PING"]), Reply::status("PONG"));
    }
    assert_eq!(info_field(&mut busy, "rejected_connections"), 0);
}

#[test]
fn slowloris_clients_are_closed_and_others_are_unaffected() {
    const SLOW: usize = 200;
    raise_nofile(SLOW as u64 + 100);
    let server = TestServer::start_with(&["--partial-request-timeout", "1"]);
    let mut busy = server.connect();
    // One frame, far longer than the test lasts at a byte per 100 ms.
    let mut frame = Vec::new();
    encode_request(&["SET", "slow", &"x".repeat(200)], &mut frame);
    let mut slow: Vec<Option<TcpStream>> = (0..SLOW)
        .map(|_| {
            let s = TcpStream::connect(server.addr).unwrap();
            s.set_nonblocking(true).unwrap();
            Some(s)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut round = 0;
    while slow.iter().any(Option::is_some) {
        assert!(Instant::now() < deadline, "slowloris clients still open");
        assert!(round < frame.len(), "a trickled frame completed");
        for entry in slow.iter_mut() {
            let Some(stream) = entry else { continue };
            if closed_without_reply(stream) || stream.write_all(&frame[round..=round]).is_err() {
                *entry = None;
            }
        }
        set_get(&mut busy, round);
        round += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.connect().cmd(&["GET", "slow"]) == Reply::Nil);
    set_get(&mut busy, round);
}

/// For a non-blocking socket: true once the server closed it; a reply
/// (which a partial request must never get) fails the test.
fn closed_without_reply(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => panic!("a partial request got a reply"),
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

#[test]
fn a_client_that_never_reads_is_cut_off_and_memory_stays_bounded() {
    /// What the server may hold at most: its baseline, the 512 KiB value
    /// and a few MB of buffers (measured: about 11 MiB). The unread replies
    /// total 100,000 × 512 KiB = 51 GB.
    const RSS_BOUND: u64 = 64 << 20;
    const GETS: usize = 100_000;
    let server = TestServer::start_with(&["--client-output-buffer-limit", "normal 64mb 1mb 1"]);
    let mut other = server.connect();
    let value = "v".repeat(512 * 1024);
    assert_eq!(other.cmd(&["SET", "big", &value]), Reply::OK);

    let mut flood = TcpStream::connect(server.addr).unwrap();
    let writer = std::thread::spawn(move || {
        let mut chunk = Vec::new();
        for _ in 0..1000 {
            encode_request(&["GET", "big"], &mut chunk);
        }
        // Stops at the first failed write (the server reset the socket);
        // the whole pipeline may also fit in the kernel's buffers.
        for _ in 0..GETS / 1000 {
            if flood.write_all(&chunk).is_err() {
                break;
            }
        }
        flood
    });
    let mut peak = 0;
    let cut_off = eventually(Duration::from_secs(30), || {
        peak = peak.max(rss_bytes(server.pid()));
        info_field(&mut other, "client_output_buffer_limit_disconnections") == 1
    });
    assert!(cut_off, "the client was never disconnected");
    eprintln!("server peak RSS while flooded: {} MiB", peak >> 20);
    assert!(
        peak < RSS_BOUND,
        "server RSS reached {peak} bytes (bound {RSS_BOUND})"
    );
    // The socket is dead: at most what was in flight arrives, then EOF or
    // a reset (never the 51 GB of replies).
    let mut flood = writer.join().unwrap();
    flood
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut received = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match flood.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                panic!("the flooding connection is still open")
            }
            Err(_) => break,
        }
        assert!(received < 256 << 20, "replies kept coming");
    }
    assert_eq!(other.cmd(&["STRLEN", "big"]), Reply::Integer(512 * 1024));
}

#[test]
fn sets_acknowledged_before_a_client_dies_are_all_stored() {
    const SETS: usize = 50_000;
    const READ_BEFORE_DEATH: usize = 20_000;
    let server = TestServer::start();
    let stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            for batch in (0..SETS).collect::<Vec<_>>().chunks(500) {
                let mut wire = Vec::new();
                for i in batch {
                    let (key, value) = (format!("key:{i}"), format!("value:{i}"));
                    encode_request(&["SET", &key, &value], &mut wire);
                }
                // Half a batch at a time: the death may fall mid-frame.
                let (a, b) = wire.split_at(wire.len() / 2 + 7);
                for part in [a, b] {
                    if stop.load(Ordering::Relaxed) || stream.write_all(part).is_err() {
                        return;
                    }
                }
            }
        })
    };
    let mut reader = Raw::from_stream(stream);
    for _ in 0..READ_BEFORE_DEATH {
        assert_eq!(reader.read_reply(), Some(Reply::OK));
    }
    // Die abruptly: RST, not FIN, with requests still in flight.
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    reader.abort();

    let mut check = server.connect();
    let keys: Vec<String> = (0..SETS).map(|i| format!("key:{i}")).collect();
    for (n, batch) in keys.chunks(1000).enumerate() {
        let mut args = vec!["MGET"];
        args.extend(batch.iter().map(String::as_str));
        let Reply::Array(values) = check.cmd(&args) else {
            panic!("MGET")
        };
        for (j, value) in values.into_iter().enumerate() {
            let i = n * 1000 + j;
            let expected = bulk(&format!("value:{i}"));
            if i < READ_BEFORE_DEATH {
                assert_eq!(value, expected, "acknowledged SET {i} lost");
            } else {
                assert!(
                    value == expected || value == Reply::Nil,
                    "key:{i} = {value:?}"
                );
            }
        }
    }
}
