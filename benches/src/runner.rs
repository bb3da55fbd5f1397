//! The run: one event loop per thread, each driving its share of the
//! clients over non-blocking sockets, plus the main thread printing a
//! progress line every second.
//!
//! ```text
//!  main thread ── spawns ──► worker 0: mio Poll ─► clients 0..c ─► Conn (1, or 1 per node)
//!   │ progress line           worker 1: mio Poll ─► clients 0..c ─► Conn ...
//!   └─ reads each worker's Live atomics; merges their Stats at the end
//! ```
//!
//! A client keeps up to `--pipeline` requests in flight on each of its
//! connections. When replies arrive it queues as many new requests as were
//! answered and writes them in one system call.

use std::io;
use std::net::{TcpStream as StdStream, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use kiln_net::slot::key_slot;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::BenchError;
use crate::cluster::{Topology, setup_commands};
use crate::config::{BenchConfig, Limit};
use crate::conn::{Conn, InFlight, Outcome, classify};
use crate::keys::{Key, KeyGen};
use crate::report::{Progress, RunResult};
use crate::stats::{Live, Stats};
use crate::workload::{HitKind, Schedule};

/// Runs one benchmark (one of `-x` runs) and returns its figures.
pub fn run(config: &Arc<BenchConfig>, run_number: usize) -> Result<RunResult, BenchError> {
    let topology = if config.cluster_mode {
        Topology::discover(config)?
    } else {
        Topology::single(&config.addr)
    };
    let topology = Arc::new(topology);
    let barrier = Arc::new(Barrier::new(config.threads + 1));
    let (done_tx, done_rx) = mpsc::channel();
    let lives: Vec<Arc<Live>> = (0..config.threads).map(|_| Arc::default()).collect();
    let handles: Vec<_> = lives
        .iter()
        .enumerate()
        .map(|(thread, live)| {
            let (config, topology, barrier, live, done) = (
                config.clone(),
                topology.clone(),
                barrier.clone(),
                live.clone(),
                done_tx.clone(),
            );
            std::thread::Builder::new()
                .name(format!("kiln-bench-{thread}"))
                .spawn(move || {
                    let worker = LoadThread::connect(&config, &topology, thread, live);
                    barrier.wait();
                    let result = worker.and_then(LoadThread::run);
                    let _ = done.send(());
                    result
                })
                .map_err(BenchError::Io)
        })
        .collect::<Result<_, _>>()?;
    drop(done_tx);
    barrier.wait();
    let mut progress = Progress::new(config, run_number);
    let mut finished = 0;
    while finished < config.threads {
        match done_rx.recv_timeout(progress.until_next()) {
            Ok(()) => finished += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => progress.tick(&lives),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let mut result = RunResult::new(config);
    for handle in handles {
        let (stats, elapsed) = handle.join().map_err(|_| BenchError::Panicked)??;
        result.add_thread(&stats, elapsed);
    }
    progress.finish(&lives, result.duration);
    Ok(result)
}

/// One thread's clients.
struct ThreadClients {
    /// Connection index per node (one entry unless in cluster mode).
    conns: Vec<usize>,
    rng: SmallRng,
    keys: Vec<KeyGen>,
    schedule: Schedule,
    /// Requests queued so far.
    sent: u64,
    /// A request whose connection was full: (template, key number).
    held: Option<(usize, u64)>,
    /// Scratch for the key of a cluster-routed request.
    key: Vec<u8>,
}

/// One thread: its poll, connections, clients and figures.
struct LoadThread {
    config: Arc<BenchConfig>,
    poll: Poll,
    conns: Vec<Conn>,
    clients: Vec<ThreadClients>,
    /// Per template.
    stats: Vec<Stats>,
    live: Arc<Live>,
    /// This thread's copy, corrected by MOVED replies.
    slots: Vec<u16>,
    nodes: Vec<String>,
    /// Value bytes; requests send a prefix of it.
    data: Vec<u8>,
}

impl LoadThread {
    /// Opens and registers every connection and queues the setup commands.
    fn connect(
        config: &Arc<BenchConfig>,
        topology: &Topology,
        thread: usize,
        live: Arc<Live>,
    ) -> Result<LoadThread, BenchError> {
        let poll = Poll::new().map_err(BenchError::Io)?;
        let mut setup = Vec::new();
        let setup_cmds = setup_commands(config);
        for cmd in &setup_cmds {
            kiln_net::resp::encode_request(cmd, &mut setup);
        }
        let total_clients = (config.threads * config.clients) as u64;
        let mut conns = Vec::with_capacity(config.clients * topology.nodes.len());
        let mut clients = Vec::with_capacity(config.clients);
        for c in 0..config.clients {
            let id = (thread * config.clients + c) as u64;
            let mut client_conns = Vec::with_capacity(topology.nodes.len());
            for node in &topology.nodes {
                let mut stream = open(node)?;
                let token = Token(conns.len());
                poll.registry()
                    .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                    .map_err(BenchError::Io)?;
                client_conns.push(conns.len());
                conns.push(Conn::new(
                    stream,
                    clients.len(),
                    setup.clone(),
                    setup_cmds.len(),
                    config.pipeline,
                ));
            }
            let seed = if config.distinct_client_seed {
                config.seed.wrapping_add(id)
            } else {
                config.seed
            };
            clients.push(ThreadClients {
                conns: client_conns,
                rng: SmallRng::seed_from_u64(seed),
                keys: config
                    .templates
                    .iter()
                    .map(|t| KeyGen::new(t.pattern, &config.keys, id, total_clients))
                    .collect(),
                schedule: Schedule::new(config.templates.iter().map(|t| t.ratio)),
                sent: 0,
                held: None,
                key: Vec::with_capacity(config.key_prefix.len() + 20),
            });
        }
        let mut data = vec![b'x'; config.data_size.1];
        if config.random_data {
            SmallRng::seed_from_u64(config.seed ^ thread as u64).fill_bytes(&mut data);
        }
        Ok(LoadThread {
            config: config.clone(),
            poll,
            conns,
            clients,
            stats: config.templates.iter().map(|_| Stats::default()).collect(),
            live,
            slots: topology.slots.clone(),
            nodes: topology.nodes.clone(),
            data,
        })
    }

    /// Runs until every client has its replies (or the time is up).
    fn run(mut self) -> Result<(Vec<Stats>, Duration), BenchError> {
        let start = Instant::now();
        let deadline = match self.config.limit {
            Limit::Time(d) => Some(start + d),
            Limit::Requests(_) => None,
        };
        for c in 0..self.clients.len() {
            self.fill(c, start);
            self.flush_client(c)?;
        }
        let mut events = Events::with_capacity(1024);
        let mut finished = vec![false; self.clients.len()];
        let mut left = self.clients.len();
        while left > 0 {
            let timeout = deadline.map_or(Duration::from_secs(1), |d| {
                d.saturating_duration_since(Instant::now())
            });
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(BenchError::Io(e)),
            }
            for event in &events {
                let i = event.token().0;
                if event.is_writable() {
                    self.conns[i].flush()?;
                }
                if event.is_readable() {
                    self.read(i)?;
                    let c = self.conns[i].client;
                    self.fill(c, Instant::now());
                    self.flush_client(c)?;
                    if !finished[c] && self.client_done(c) {
                        finished[c] = true;
                        left -= 1;
                    }
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        Ok((self.stats, start.elapsed()))
    }

    /// Reads connection `i` and counts its replies.
    fn read(&mut self, i: usize) -> Result<(), BenchError> {
        let LoadThread {
            conns,
            clients,
            stats,
            live,
            slots,
            nodes,
            config,
            ..
        } = self;
        let clients_conns = &clients[conns[i].client].conns;
        conns[i].read(|frame, request: InFlight, now| {
            let t = request.template as usize;
            let latency = now.saturating_duration_since(request.sent);
            let bytes = request.bytes as u64 + frame.len() as u64;
            let s = &mut stats[t];
            s.ops += 1;
            s.bytes += bytes;
            s.record(latency);
            live.add(bytes, latency);
            let kind = config.templates[t].kind;
            match classify(frame) {
                Outcome::Value if kind == HitKind::Get => s.hits += 1,
                Outcome::Nil if kind == HitKind::Get => s.misses += 1,
                Outcome::Value | Outcome::Nil => {}
                Outcome::Moved => {
                    s.moved += 1;
                    follow_moved(frame, nodes, clients_conns.len(), slots);
                }
                Outcome::Ask => s.ask += 1,
                Outcome::Error => s.error(frame),
            }
        })
    }

    /// Queues requests for client `c` until its connection is full or its
    /// request budget (or time) is spent.
    fn fill(&mut self, c: usize, now: Instant) {
        let LoadThread {
            config,
            conns,
            clients,
            slots,
            data,
            ..
        } = self;
        let client = &mut clients[c];
        let budget = match config.limit {
            Limit::Requests(n) => n,
            Limit::Time(_) => u64::MAX,
        };
        while client.sent < budget {
            let (t, number) = match client.held.take() {
                Some(held) => held,
                None => {
                    let t = client.schedule.pick();
                    (t, client.keys[t].next(&mut client.rng))
                }
            };
            let template = &config.templates[t];
            let node = if client.conns.len() > 1 && template.has_key() {
                client.key.clear();
                Key::new(&config.key_prefix, number).write(&mut client.key);
                slots[key_slot(&client.key) as usize] as usize
            } else {
                0
            };
            let conn = &mut conns[client.conns[node]];
            if conn.in_flight.len() >= config.pipeline {
                client.held = Some((t, number));
                break;
            }
            let size = match config.data_size {
                (lo, hi) if lo == hi => hi,
                (lo, hi) => client.rng.random_range(lo..=hi),
            };
            let expiry = match template.expiry {
                (0, 0) => 0,
                (lo, hi) => client.rng.random_range(lo..=hi),
            };
            let before = conn.out.len();
            template.encode(
                &mut Key::new(&config.key_prefix, number),
                &data[..size],
                expiry,
                &mut conn.out,
            );
            conn.in_flight.push_back(InFlight {
                template: t as u16,
                bytes: (conn.out.len() - before) as u32,
                sent: now,
            });
            client.sent += 1;
        }
    }

    fn flush_client(&mut self, c: usize) -> Result<(), BenchError> {
        for &i in &self.clients[c].conns {
            self.conns[i].flush()?;
        }
        Ok(())
    }

    /// Whether client `c` has sent its budget and has every reply.
    fn client_done(&self, c: usize) -> bool {
        let client = &self.clients[c];
        matches!(self.config.limit, Limit::Requests(n) if client.sent >= n)
            && client
                .conns
                .iter()
                .all(|&i| self.conns[i].in_flight.is_empty())
    }
}

/// Connects a blocking socket (simple, once per connection) and hands it to mio.
fn open(addr: &str) -> Result<TcpStream, BenchError> {
    let connect = || -> io::Result<StdStream> {
        let target = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
        let stream = StdStream::connect(target)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        Ok(stream)
    };
    connect()
        .map(TcpStream::from_std)
        .map_err(|e| BenchError::Connect(addr.to_string(), e))
}

/// Points the slot named in `-MOVED <slot> <addr>` at that node, if this
/// client has a connection to it.
fn follow_moved(frame: &[u8], nodes: &[String], connected: usize, slots: &mut [u16]) {
    let mut words = frame[1..].trim_ascii_end().split(|&b| b == b' ').skip(1);
    let (Some(slot), Some(addr)) = (words.next(), words.next()) else {
        return;
    };
    let slot: Option<usize> = std::str::from_utf8(slot).ok().and_then(|s| s.parse().ok());
    let node = nodes.iter().position(|n| n.as_bytes() == addr);
    if let (Some(slot), Some(node)) = (slot, node)
        && slot < slots.len()
        && node < connected
    {
        slots[slot] = node as u16;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moved_repoints_known_nodes_only() {
        let nodes = vec!["127.0.0.1:7001".to_string(), "127.0.0.1:7002".to_string()];
        let mut slots = vec![0u16; 16384];
        follow_moved(b"-MOVED 3999 127.0.0.1:7002\r\n", &nodes, 2, &mut slots);
        assert_eq!(slots[3999], 1);
        follow_moved(b"-MOVED 4000 127.0.0.1:9999\r\n", &nodes, 2, &mut slots);
        follow_moved(b"-MOVED 99999 127.0.0.1:7002\r\n", &nodes, 2, &mut slots);
        follow_moved(b"-MOVED\r\n", &nodes, 2, &mut slots);
        assert_eq!(slots[4000], 0);
    }
}
