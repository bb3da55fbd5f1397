//! One core's event loop: accept, read, parse, hand requests to the
//! service, carry messages between cores, write replies in order, enforce
//! the client limits.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::conn::{Filled, READ_CHUNK};
use super::post::Exchange;
use super::{
    Accepted, Breach, ClientState, Closed, Connection, NetCounters, PortKind, Post, Service,
};
use crate::Reply;
use crate::resp::ParseLimits;

const WAKER: Token = Token(0);
const MAIN_LISTENER: Token = Token(1);
const CORE_LISTENER: Token = Token(2);
const FIRST_CONN: usize = 3;

/// What a worker is built from, made before its thread starts.
pub struct WorkerParts<M> {
    /// The core's index.
    pub core: usize,
    /// Its poll, with its mailbox's waker registered at token 0.
    pub poll: Poll,
    /// Its SO_REUSEPORT listener on the main port.
    pub main_listener: TcpListener,
    /// Its own port's listener.
    pub core_listener: TcpListener,
    /// Every core's mailbox.
    pub exchange: Arc<Exchange<M>>,
    /// Where client ids come from (shared by all workers).
    pub next_client_id: Arc<std::sync::atomic::AtomicU64>,
    /// Periodic work per second.
    pub hz: u64,
}

/// Most bytes one readable event reads from one client (see
/// [`Worker::on_readable`]): one read of [`READ_CHUNK`]'s size, as Redis
/// reads a client once per event. A client that streams requests faster
/// than they run gets its replies each turn, and the core's other clients
/// are served between its reads (`benches/streaming-fairness.sh`).
const READ_BUDGET: usize = READ_CHUNK;

/// A core's event loop around a service.
pub struct Worker<S: Service> {
    service: S,
    poll: Poll,
    main_listener: TcpListener,
    core_listener: TcpListener,
    conns: Slab<Connection<S>>,
    dirty: Vec<usize>,
    /// Connections whose output waits for the service's commit.
    held: Vec<usize>,
    closing: Vec<usize>,
    /// Connections that used their turn's read budget with input still
    /// arriving: read again next turn, after this turn's replies leave.
    rereads: Vec<usize>,
    post: Post<S::Msg>,
    next_client_id: Arc<std::sync::atomic::AtomicU64>,
    tick: Duration,
}

/// A service's view of a worker's connections while it handles a message
/// or a tick.
pub struct Clients<'a, S: Service> {
    conns: &'a mut Slab<Connection<S>>,
    dirty: &'a mut Vec<usize>,
    closing: &'a mut Vec<usize>,
}

impl<S: Service> Clients<'_, S> {
    /// Connection `key` if it is still client `id` (a key is reused after
    /// its connection closes); marked for writing.
    pub fn get_mut(&mut self, key: usize, id: u64) -> Option<&mut Connection<S>> {
        let conn = self.conns.get_mut(key).filter(|c| c.id == id)?;
        self.dirty.push(key);
        Some(conn)
    }

    /// Every connection.
    pub fn iter(&self) -> impl Iterator<Item = &Connection<S>> {
        self.conns.iter().map(|(_, c)| c)
    }

    /// Every connection, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Connection<S>> {
        self.conns.iter_mut().map(|(_, c)| c)
    }

    /// Closes connection `key` once the current callback returns.
    pub fn close(&mut self, key: usize) {
        self.closing.push(key);
    }
}

impl<S: Service> Worker<S> {
    /// Registers the listeners; `service` runs on the calling thread from
    /// [`Worker::run`] on.
    pub fn new(parts: WorkerParts<S::Msg>, service: S) -> io::Result<Worker<S>> {
        let WorkerParts {
            core,
            poll,
            mut main_listener,
            mut core_listener,
            exchange,
            next_client_id,
            hz,
        } = parts;
        poll.registry()
            .register(&mut main_listener, MAIN_LISTENER, Interest::READABLE)?;
        poll.registry()
            .register(&mut core_listener, CORE_LISTENER, Interest::READABLE)?;
        Ok(Worker {
            service,
            poll,
            main_listener,
            core_listener,
            conns: Slab::new(),
            dirty: Vec::new(),
            held: Vec::new(),
            closing: Vec::new(),
            rereads: Vec::new(),
            post: Post::new(core, exchange),
            next_client_id,
            tick: Duration::from_millis(1000 / hz.max(1)),
        })
    }

    /// Runs the event loop until the service says stop.
    pub fn run(mut self) -> S {
        let mut events = Events::with_capacity(1024);
        let mut next_tick = Instant::now() + self.tick;
        let mut held = false;
        while !self.service.stopping() {
            let wake_at = match self.service.next_timer() {
                Some(timer) => timer.min(next_tick),
                None => next_tick,
            };
            let timeout = if !self.rereads.is_empty() {
                // Input waits on a socket that will raise no new event
                // (edge-triggered): only look for others' events.
                Duration::ZERO
            } else if held {
                // A full mailbox kept a batch: try again soon.
                Duration::from_millis(1)
            } else {
                wake_at.saturating_duration_since(Instant::now())
            };
            if let Err(err) = self.poll.poll(&mut events, Some(timeout))
                && err.kind() != io::ErrorKind::Interrupted
            {
                tracing::error!(core = self.post.core(), %err, "poll failed; core stopping");
                break;
            }
            self.service.wake(Instant::now());
            for event in events.iter() {
                match event.token() {
                    WAKER => self.receive(),
                    MAIN_LISTENER => self.accept(PortKind::Main),
                    CORE_LISTENER => self.accept(PortKind::Core),
                    Token(t) => {
                        let key = t - FIRST_CONN;
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.on_readable(key, event.is_read_closed() || event.is_error());
                        }
                        if event.is_writable() {
                            self.flush(key);
                        }
                    }
                }
            }
            // Those that read their fill last turn, after the others'.
            for key in std::mem::take(&mut self.rereads) {
                self.on_readable(key, false);
            }
            // The waker may coalesce; never leave queued messages behind.
            if self.post.inbox_waiting() {
                self.receive();
            }
            let now = Instant::now();
            if self.service.next_timer().is_some_and(|t| t <= now) {
                self.service.timers(now, &mut self.post);
            }
            self.run_local();
            // What this turn wrote is made durable before anything it
            // answered leaves: messages to other cores, then replies.
            self.service.commit();
            // Everything this turn produced for other cores leaves now,
            // before this core can block in poll.
            self.post.flush();
            self.flush_dirty();
            // Writing may have resumed a paused reader, whose requests
            // made more messages: they must not wait for the next poll.
            while self.post.has_local() {
                self.run_local();
                self.flush_dirty();
            }
            self.service.commit();
            held = self.post.flush();
            self.service.end_turn();
            if Instant::now() >= next_tick {
                self.on_tick();
                next_tick = Instant::now() + self.tick;
            }
        }
        self.close_all();
        self.service
    }

    fn clients(&mut self) -> (&mut S, Clients<'_, S>, &mut Post<S::Msg>) {
        let clients = Clients {
            conns: &mut self.conns,
            dirty: &mut self.dirty,
            closing: &mut self.closing,
        };
        (&mut self.service, clients, &mut self.post)
    }

    /// Hands every message that arrived to the service.
    fn receive(&mut self) {
        self.post.begin_receive();
        while let Some(mut batch) = self.post.take_batch() {
            for msg in batch.drain(..) {
                let (service, mut clients, post) = self.clients();
                service.message(msg, &mut clients, post);
            }
            self.post.recycle(batch);
        }
        self.close_marked(Closed::Service);
    }

    /// Hands the messages this core sent itself to the service.
    fn run_local(&mut self) {
        while let Some(msg) = self.post.next_local() {
            let (service, mut clients, post) = self.clients();
            service.message(msg, &mut clients, post);
        }
        self.close_marked(Closed::Service);
    }

    /// Periodic work: the service's, then every limit a client can break
    /// by doing nothing (a stuck output buffer, a request trickling in,
    /// idleness).
    fn on_tick(&mut self) {
        let (service, mut clients, _) = self.clients();
        service.tick(&mut clients);
        self.close_marked(Closed::Service);
        let limits = self.service.limits();
        let now = Instant::now();
        let breaches: Vec<(usize, Breach)> = self
            .conns
            .iter_mut()
            .filter_map(|(key, conn)| limits.police(conn, now).err().map(|b| (key, b)))
            .collect();
        for (key, breach) in breaches {
            self.drop_client(key, breach);
        }
    }

    fn close_marked(&mut self, why: Closed) {
        while let Some(key) = self.closing.pop() {
            self.close(key, why);
        }
    }

    fn accept(&mut self, port: PortKind) {
        loop {
            let listener = match port {
                PortKind::Main => &self.main_listener,
                PortKind::Core => &self.core_listener,
            };
            let (mut socket, peer) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    // EMFILE and friends: try again on the next event.
                    tracing::warn!(core = self.post.core(), %err, "accept failed");
                    return;
                }
            };
            let accepted = Accepted {
                id: self
                    .next_client_id
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                peer,
                local: socket.local_addr().unwrap_or(peer),
                port,
            };
            let session = match self.service.open(&accepted) {
                Ok(session) => session,
                Err(refusal) => {
                    let _ = io::Write::write(&mut socket, refusal);
                    continue;
                }
            };
            let _ = socket.set_nodelay(true);
            let entry = self.conns.vacant_entry();
            let key = entry.key();
            let registered = self.poll.registry().register(
                &mut socket,
                Token(key + FIRST_CONN),
                Interest::READABLE,
            );
            let mut conn = Connection::new(socket, key, &accepted, session);
            if let Err(err) = registered {
                tracing::warn!(%err, "cannot register connection");
                self.service.closed(&mut conn, Closed::Peer, &mut self.post);
                continue;
            }
            entry.insert(conn);
            self.service.counters().connections_received += 1;
        }
    }

    /// Reads and handles input. `closing`: the peer's FIN (or an error) came
    /// with this event, so keep reading to EOF even if a read drains the socket.
    /// One call reads at most [`READ_BUDGET`] bytes: a client that streams
    /// faster than its requests run is read again next turn, so its replies
    /// leave and the core's other clients are served in between (as Redis
    /// reads a client once per event).
    fn on_readable(&mut self, key: usize, closing: bool) {
        let mut budget = READ_BUDGET;
        loop {
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            conn.peer_closed |= closing;
            if conn.peer_closed && conn.session.blocked() {
                // A blocked client that went away: nothing it waits for
                // can reach it (Redis frees it on EOF too).
                return self.close(key, Closed::Peer);
            }
            if conn.read_paused || conn.done_reading() {
                break;
            }
            match conn.fill() {
                Ok(Filled::Bytes { n, drained }) => {
                    self.service.counters().input_bytes += n as u64;
                    self.service.transferred(&conn.session, n as u64, 0);
                    if let Err(breach) = self.process_input(key) {
                        return self.drop_client(key, breach);
                    }
                    let Some(conn) = self.conns.get(key) else {
                        return;
                    };
                    if drained && !conn.peer_closed {
                        break;
                    }
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        self.rereads.push(key);
                        break;
                    }
                }
                Ok(Filled::WouldBlock) => break,
                Ok(Filled::Eof) => {
                    // Answer what already arrived before closing (a client
                    // may half-close after its last request): the
                    // connection closes once every reply, those other cores
                    // owe it too, is written (`flush`).
                    self.run_local();
                    if let Some(conn) = self.conns.get_mut(key) {
                        conn.peer_closed = true;
                    }
                    return self.dirty.push(key);
                }
                Err(_) => {
                    self.run_local();
                    return self.close(key, Closed::Peer);
                }
            }
        }
        self.run_local();
        // Replies leave at the end of the turn, after the service commits
        // what their requests wrote (a reply must never overtake its log
        // write, whatever the fsync policy).
        self.dirty.push(key);
    }

    /// Parses and hands over every complete request buffered on `key`,
    /// until the input runs out or backpressure pauses reading; `Err` when
    /// the connection must close now.
    fn process_input(&mut self, key: usize) -> Result<(), Breach> {
        let limits = self.service.limits();
        let now = Instant::now();
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        let result = loop {
            if let Err(breach) = limits.check_output(conn, now) {
                break Err(breach);
            }
            if conn.done_reading() || limits.backpressured(conn) || conn.session.holds_input() {
                conn.read_paused = !conn.done_reading();
                conn.partial_since = None;
                break Ok(());
            }
            let parse_limits = ParseLimits {
                max_bulk_len: limits.max_bulk_len,
                authenticated: conn.session.authenticated(),
                ..ParseLimits::default()
            };
            if conn.input.parser.limits() != parse_limits {
                conn.input.parser.set_limits(parse_limits);
            }
            match conn.input.parse() {
                Ok(Some(consumed)) => {
                    conn.last_active = now;
                    // The request's bytes stay in the input buffer while the
                    // service handles it: the arguments are slices of it.
                    let input = std::mem::take(&mut conn.input);
                    let args = input.args();
                    if !args.is_empty() {
                        self.service.request(conn, args, &mut self.post);
                    }
                    conn.input = input;
                    conn.input.consume(consumed);
                    conn.partial_since = None;
                }
                Ok(None) => {
                    if conn.input.len() > limits.query_buffer {
                        break Err(Breach::QueryBuffer);
                    }
                    conn.read_paused = false;
                    if conn.input.is_empty() {
                        conn.partial_since = None;
                    } else {
                        conn.partial_since.get_or_insert(now);
                    }
                    break Ok(());
                }
                Err(err) => {
                    self.service.counters().protocol_errors += 1;
                    let reply = Reply::error_owned(format!("ERR {err}"));
                    conn.replies.push(&reply, crate::Protocol::Resp2);
                    conn.protocol_error = true;
                    break Ok(());
                }
            }
        };
        self.service.output_changed(conn);
        result
    }

    fn flush_dirty(&mut self) {
        // Flushing can resume a paused reader whose new replies mark their
        // connection dirty again: go on until nothing is left to write.
        loop {
            self.service.commit();
            if !self.service.holds_replies() {
                self.dirty.append(&mut self.held);
            }
            if self.dirty.is_empty() {
                return;
            }
            let mut dirty = std::mem::take(&mut self.dirty);
            dirty.sort_unstable();
            dirty.dedup();
            for key in dirty.drain(..) {
                self.flush(key);
            }
            if self.dirty.is_empty() {
                // Keep the allocation for the next turn.
                self.dirty = dirty;
            }
        }
    }

    /// Writes what is ready; resumes a paused reader; closes a connection
    /// that asked to close once its replies are out.
    fn flush(&mut self, key: usize) {
        if self.service.holds_replies() {
            // Written at the end of the turn, once the service committed.
            return self.held.push(key);
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if let Some(breach) = conn.replies.overflowed() {
            return self.drop_client(key, breach);
        }
        match conn.flush() {
            Ok(n) => {
                self.service.counters().output_bytes += n as u64;
                if n > 0 {
                    self.service.transferred(&conn.session, 0, n as u64);
                }
            }
            Err(_) => return self.close(key, Closed::Peer),
        }
        self.service.output_changed(conn);
        let limits = self.service.limits();
        let unsent = conn.replies.unsent() > 0;
        // The soft limit needs the buffer over it continuously: a drain
        // below it restarts the clock even between two checks.
        if (conn.replies.output_len() as u64) < limits.output_of(conn).soft.max(1) {
            conn.over_soft_since = None;
        }
        if unsent != conn.wants_write {
            let interest = if unsent {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let token = Token(key + FIRST_CONN);
            if self
                .poll
                .registry()
                .reregister(&mut conn.socket, token, interest)
                .is_err()
            {
                return self.close(key, Closed::Peer);
            }
            conn.wants_write = unsent;
        }
        // Done: it asked to close, or its peer stopped sending and every
        // request it sent has run (reading is not held back).
        let finished = conn.done_reading() || (conn.peer_closed && !conn.read_paused);
        if finished && !unsent && conn.replies.queued() == 0 {
            return self.close(key, Closed::Done);
        }
        if conn.read_paused && !limits.backpressured(conn) && !conn.session.holds_input() {
            conn.read_paused = false;
            // Edge-triggered: bytes may be waiting in our buffer or the
            // socket with no new event coming.
            if let Err(breach) = self.process_input(key) {
                return self.drop_client(key, breach);
            }
            self.on_readable(key, false);
        }
    }

    /// Closes a client that broke a limit, logging and counting why.
    fn drop_client(&mut self, key: usize, breach: Breach) {
        if let Some(conn) = self.conns.get(key) {
            breach.log(conn.id, conn.peer);
        }
        let counters = self.service.counters();
        match breach {
            Breach::QueryBuffer => counters.query_buffer_limit_disconnections += 1,
            Breach::OutputHard | Breach::OutputSoft | Breach::TenantOutput => {
                counters.output_buffer_limit_disconnections += 1
            }
            Breach::PartialRequest | Breach::Idle => {}
        }
        self.close(key, Closed::Breach(breach));
    }

    fn close(&mut self, key: usize, why: Closed) {
        if let Some(mut conn) = self.conns.try_remove(key) {
            let _ = self.poll.registry().deregister(&mut conn.socket);
            self.service.closed(&mut conn, why, &mut self.post);
        }
    }

    fn close_all(&mut self) {
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            if let Some(conn) = self.conns.get_mut(key) {
                let _ = conn.flush();
            }
            self.close(key, Closed::Shutdown);
        }
    }
}

impl NetCounters {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &NetCounters) {
        self.connections_received += other.connections_received;
        self.input_bytes += other.input_bytes;
        self.output_bytes += other.output_bytes;
        self.protocol_errors += other.protocol_errors;
        self.query_buffer_limit_disconnections += other.query_buffer_limit_disconnections;
        self.output_buffer_limit_disconnections += other.output_buffer_limit_disconnections;
    }
}
