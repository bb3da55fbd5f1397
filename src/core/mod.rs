//! One core: a thread that owns, by value, its event loop, its listeners,
//! its connections and its shard of the keyspace.
//!
//! ```text
//!   Core ── poll (mio) ── main listener (SO_REUSEPORT, shared port)
//!    │                 └─ core listener (this core's cluster-node port)
//!    ├── conns: Slab<Connection>      input → parse → route → reply queue
//!    └── engine: Engine
//!          ├── keyspaces: Keyspaces   this core's records, a shard per tenant (no locks)
//!          ├── stats: CoreStats
//!          └── local_jobs             plan parts addressed to this core
//!   inbox: Mailbox<Batch> ◄── other cores: Run(job) / Done(output), batched per turn
//! ```
//!
//! A request whose keys this core owns runs at once and its reply is
//! encoded straight into the connection's write buffer. Anything else
//! becomes a [`fanout::Plan`] whose jobs travel by mailbox; the reply waits
//! in the connection's queue so replies still leave in request order.
//!
//! Modules: [`engine`] (the per-request path: parse, look up, route,
//! execute or plan), [`conn`] (buffers and the ordered reply queue),
//! [`limits`] (what one client may hold, and what happens past it),
//! [`fanout`] (plans, jobs and combines), [`message`] (what cores send each
//! other), [`stats`] (counters INFO sums).

pub mod conn;
pub mod engine;
pub mod fanout;
pub mod limits;
pub mod message;
pub mod stats;

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kiln_net::resp::ParseLimits;
use kiln_net::{Mailbox, Reply};
use kiln_store::{Keyspaces, Shard, ShardConfig};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::commands::{self, Lookup, Route, errors};
use crate::session::{PortKind, Session};
use crate::shared::{Runtime, Shared, unix_ms};
use crate::tenant::{Growth, TenantId};
use conn::{Connection, Filled};
use engine::Engine;
use fanout::{Finish, Finishing, Job, Output};
use limits::{Breach, ClientLimits};
use message::{Batch, Msg, Origin};
use stats::OpsMeter;

const WAKER: Token = Token(0);
const MAIN_LISTENER: Token = Token(1);
const CORE_LISTENER: Token = Token(2);
const FIRST_CONN: usize = 3;

/// Active expiry work per cron tick (keys examined).
const EXPIRE_CHECKS_PER_TICK: usize = 2000;

/// A core, ready to run on its own thread.
pub struct Core {
    engine: Engine,
    poll: Poll,
    inbox: Arc<Mailbox<Batch>>,
    main_listener: TcpListener,
    core_listener: TcpListener,
    conns: Slab<Connection>,
    dirty: Vec<usize>,
    ops: OpsMeter,
}

/// What a core needs to be built; made on the main thread before spawning.
pub struct CoreParts {
    /// The core's index.
    pub id: usize,
    /// Its poll, with the mailbox waker registered at token 0.
    pub poll: Poll,
    /// Its SO_REUSEPORT listener on the main port.
    pub main_listener: TcpListener,
    /// Its own port's listener.
    pub core_listener: TcpListener,
}

impl Core {
    /// Assembles a core and registers its listeners.
    pub fn new(parts: CoreParts, shared: Arc<Shared>) -> io::Result<Core> {
        let CoreParts {
            id,
            poll,
            mut main_listener,
            mut core_listener,
        } = parts;
        poll.registry()
            .register(&mut main_listener, MAIN_LISTENER, Interest::READABLE)?;
        poll.registry()
            .register(&mut core_listener, CORE_LISTENER, Interest::READABLE)?;
        let keyspaces = Keyspaces::new(ShardConfig {
            max_value_len: shared.settings.proto_max_bulk_len as usize,
        });
        Ok(Core {
            inbox: Arc::clone(&shared.mailboxes[id]),
            engine: Engine::new(id, keyspaces, shared),
            poll,
            main_listener,
            core_listener,
            conns: Slab::new(),
            dirty: Vec::new(),
            ops: OpsMeter::default(),
        })
    }

    /// The state shared with the other cores.
    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.engine.shared)
    }

    /// Runs the event loop until shutdown.
    pub fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        let hz = self.engine.shared.settings.hz.max(1);
        let tick = Duration::from_millis(1000 / hz);
        let mut next_cron = Instant::now() + tick;
        while !self.engine.shared.shutting_down() {
            let timeout = next_cron.saturating_duration_since(Instant::now());
            if let Err(err) = self.poll.poll(&mut events, Some(timeout))
                && err.kind() != io::ErrorKind::Interrupted
            {
                tracing::error!(core = self.engine.id, %err, "poll failed; core stopping");
                break;
            }
            self.engine.now = Instant::now();
            self.engine.keyspaces.set_now(unix_ms());
            for event in events.iter() {
                match event.token() {
                    WAKER => self.drain_inbox(),
                    MAIN_LISTENER => self.accept(PortKind::Main),
                    CORE_LISTENER => self.accept(PortKind::Core),
                    Token(t) => {
                        let key = t - FIRST_CONN;
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.on_readable(key, event.is_read_closed() || event.is_error());
                        }
                        if event.is_writable() {
                            self.on_writable(key);
                        }
                    }
                }
            }
            // The waker may coalesce; never leave queued messages behind.
            if !self.inbox.is_empty() {
                self.drain_inbox();
            }
            self.run_local_jobs();
            // Everything this turn produced for other cores leaves now,
            // before this core can block in poll.
            self.engine.flush_outbox();
            self.flush_dirty();
            // Writing may have resumed a paused reader, whose requests
            // made more jobs: they must not wait for the next poll timeout.
            while !self.engine.local_jobs.is_empty() {
                self.run_local_jobs();
                self.flush_dirty();
            }
            self.engine.flush_outbox();
            self.engine.publish_memory();
            if Instant::now() >= next_cron {
                self.cron();
                next_cron = Instant::now() + tick;
            }
        }
        self.close_all();
    }

    /// Periodic work: active expiry, deleted tenants' keyspaces, usage
    /// figures, throughput sampling, client limits.
    fn cron(&mut self) {
        let stats = &mut self.engine.stats;
        self.ops.sample(Instant::now(), stats.commands_processed);
        stats.instantaneous_ops_per_sec = self.ops.per_sec();
        self.engine.keyspaces.set_now(unix_ms());
        self.engine
            .keyspaces
            .active_expire_cycle(EXPIRE_CHECKS_PER_TICK);
        self.sweep_tenants();
        self.close_deleted_tenants();
        self.engine.publish_memory();
        self.police_clients();
    }

    /// Closes every client over a limit it can reach by doing nothing:
    /// a stuck output buffer, a request trickling in, idleness.
    fn police_clients(&mut self) {
        let limits = ClientLimits::load(&self.engine.shared.runtime);
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

    /// Drops the keyspaces of deleted tenants and republishes every
    /// tenant's figures (expiry and an admin's FLUSHALL change them without
    /// a write of the tenant's own).
    fn sweep_tenants(&mut self) {
        let engine = &mut self.engine;
        let tenants = &engine.shared.tenants;
        let dropped = engine
            .keyspaces
            .retain(|index, generation| tenants.is_current(TenantId::new(index, generation)));
        for index in dropped {
            tenants
                .usage(engine.id, TenantId::new(index, 0))
                .publish(0, 0);
        }
        let live: Vec<TenantId> = engine
            .keyspaces
            .iter()
            .map(|(index, generation, _)| TenantId::new(index, generation))
            .collect();
        for tenant in live {
            engine.publish_usage(tenant);
        }
    }

    /// Closes the connections of deleted tenants, as Redis closes a deleted
    /// user's clients (a busy one is closed at its next command already).
    fn close_deleted_tenants(&mut self) {
        let tenants = &self.engine.shared.tenants;
        let deleted: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                !c.session.tenant.is_default() && !tenants.is_current(c.session.tenant)
            })
            .map(|(k, _)| k)
            .collect();
        for key in deleted {
            self.close(key);
        }
    }

    fn drain_inbox(&mut self) {
        let inbox = Arc::clone(&self.inbox);
        inbox.drain(|msgs| {
            msgs.into_iter().for_each(|msg| match msg {
                Msg::Run { job, origin } => {
                    let output = self.run_job(job, origin.tenant);
                    self.deliver(origin, output);
                }
                Msg::Done { origin, output } => self.deliver(origin, output),
            })
        });
    }

    fn run_local_jobs(&mut self) {
        while let Some((job, origin)) = self.engine.local_jobs.pop_front() {
            let output = self.run_job(job, origin.tenant);
            self.deliver(origin, output);
        }
    }

    /// Executes a job for some origin (possibly this core) as `tenant`.
    fn run_job(&mut self, job: Job, tenant: TenantId) -> Output {
        let engine = &mut self.engine;
        if let Job::Command(args) = &job {
            return match commands::lookup(args.args()) {
                // Connection commands need the client's session, which
                // only the receiving core has; plans never send them.
                Lookup::Found(spec) if matches!(spec.route, Route::Local) => Output::Reply(
                    Reply::error("ERR internal: connection command sent to another core"),
                ),
                Lookup::Found(spec) => {
                    Output::Reply(engine.exec_part(spec, args.args(), tenant, &self.conns))
                }
                Lookup::Unknown(reply) => Output::Reply(reply),
            };
        }
        let over = !engine.shared.admits(tenant, Growth::UNKNOWN);
        let Some(shard) = engine.shard_of(tenant) else {
            return Output::Reply(errors::USER_DELETED);
        };
        let output = record_job(shard, job, over);
        engine.publish_usage(tenant);
        output
    }

    /// Routes a job's output to its request, finishing or continuing the
    /// request when it was the last part.
    fn deliver(&mut self, origin: Origin, output: Output) {
        if origin.core != self.engine.id {
            self.engine.outbox[origin.core].push(Msg::Done { origin, output });
            return;
        }
        let Some(conn) = self.conns.get_mut(origin.conn) else {
            return;
        };
        if conn.session.id != origin.client_id {
            return;
        }
        let Some(waiting) = conn.replies.deliver(origin.seq, origin.part, output) else {
            return;
        };
        let outputs = waiting.take_outputs();
        let finishing = Finishing {
            args: &waiting.args,
            protocol: waiting.protocol,
            part_keys: &waiting.part_keys,
            part_cores: &waiting.part_cores,
            shared: &self.engine.shared,
            core: self.engine.id,
            tenant: origin.tenant,
        };
        let next = match waiting.finish {
            Finish::Single => Err(outputs
                .into_iter()
                .next()
                .map_or(Reply::Nil, Output::into_reply)),
            Finish::Combine(combine) => Err(combine(&finishing, outputs)),
            Finish::Continue(step) => step(&finishing, outputs),
        };
        match next {
            Err(reply) => {
                self.engine.stats.error_replies += u64::from(reply.is_error());
                let hard = self.engine.shared.runtime.output_buffer_limit().hard;
                self.engine.arm_output_limits(conn, hard);
                conn.replies.resolve(origin.seq, &reply);
                self.engine.charge_output(conn);
                if let Some(breach) = conn.replies.overflowed() {
                    return self.drop_client(origin.conn, breach);
                }
                self.dirty.push(origin.conn);
            }
            Ok(plan) => {
                let jobs = waiting.restart(plan);
                for (part, (core, job)) in jobs.into_iter().enumerate() {
                    self.engine.send_job(core, job, Origin { part, ..origin });
                }
            }
        }
    }

    fn accept(&mut self, kind: PortKind) {
        loop {
            let listener = match kind {
                PortKind::Main => &self.main_listener,
                PortKind::Core => &self.core_listener,
            };
            let (mut socket, peer) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    // EMFILE and friends: try again on the next event.
                    tracing::warn!(core = self.engine.id, %err, "accept failed");
                    return;
                }
            };
            let shared = Arc::clone(&self.engine.shared);
            if shared.total_connections() >= Runtime::get(&shared.runtime.maxclients) {
                self.engine.stats.rejected_connections += 1;
                let _ = io::Write::write(&mut socket, b"-ERR max number of clients reached\r\n");
                continue;
            }
            let _ = socket.set_nodelay(true);
            let local = socket.local_addr().unwrap_or(shared.main_addr);
            let entry = self.conns.vacant_entry();
            let token = Token(entry.key() + FIRST_CONN);
            if let Err(err) = self
                .poll
                .registry()
                .register(&mut socket, token, Interest::READABLE)
            {
                tracing::warn!(%err, "cannot register connection");
                continue;
            }
            let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
            let needs_auth = shared.runtime.requirepass().is_some();
            let session = Session::new(id, peer, local, kind, self.engine.id, needs_auth);
            entry.insert(Connection::new(socket, session, ParseLimits::default()));
            self.engine.stats.connections_received += 1;
            shared.connections[self.engine.id].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reads and handles input. `closing`: the peer's FIN (or an error) came
    /// with this event, so keep reading to EOF even if a read drains the socket.
    fn on_readable(&mut self, key: usize, closing: bool) {
        loop {
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            conn.peer_closed |= closing;
            if conn.read_paused || conn.session.close_after_reply {
                break;
            }
            match conn.fill() {
                Ok(Filled::Bytes { n, drained }) => {
                    self.engine.stats.net_input_bytes += n as u64;
                    if let Err(breach) = self.engine.process_input(key, conn) {
                        return self.drop_client(key, breach);
                    }
                    if drained && !conn.peer_closed {
                        break;
                    }
                }
                Ok(Filled::WouldBlock) => break,
                Ok(Filled::Eof) | Err(_) => {
                    // Answer what already arrived before closing (a client
                    // may half-close after its last request).
                    self.run_local_jobs();
                    return self.close(key);
                }
            }
        }
        self.run_local_jobs();
        self.flush(key);
    }

    fn on_writable(&mut self, key: usize) {
        self.flush(key);
    }

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        for key in dirty.drain(..) {
            self.flush(key);
        }
        self.dirty = dirty;
    }

    /// Writes what is ready; resumes a paused reader; closes a connection
    /// that asked to close once its replies are out.
    fn flush(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        match conn.flush() {
            Ok(n) => self.engine.stats.net_output_bytes += n as u64,
            Err(_) => return self.close(key),
        }
        self.engine.charge_output(conn);
        let unsent = conn.replies.unsent() > 0;
        // The soft limit needs the buffer over it continuously: a drain
        // below it restarts the clock even between two checks.
        let soft = self.engine.shared.runtime.output_buffer_limit().soft;
        if (conn.replies.output_len() as u64) < soft.max(1) {
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
                return self.close(key);
            }
            conn.wants_write = unsent;
        }
        if conn.session.close_after_reply && !unsent && conn.replies.queued() == 0 {
            return self.close(key);
        }
        if conn.read_paused && !ClientLimits::load(&self.engine.shared.runtime).backpressured(conn)
        {
            conn.read_paused = false;
            // Edge-triggered: bytes may be waiting in our buffer or the
            // socket with no new event coming.
            if let Err(breach) = self.engine.process_input(key, conn) {
                return self.drop_client(key, breach);
            }
            self.on_readable(key, false);
        }
    }

    /// Closes a client that broke a limit, logging and counting why.
    fn drop_client(&mut self, key: usize, breach: Breach) {
        if let Some(conn) = self.conns.get(key) {
            breach.log(conn.session.id, conn.session.peer);
        }
        let stats = &mut self.engine.stats;
        match breach {
            Breach::QueryBuffer => stats.query_buffer_limit_disconnections += 1,
            Breach::OutputHard | Breach::OutputSoft | Breach::TenantOutput => {
                stats.output_buffer_limit_disconnections += 1
            }
            Breach::PartialRequest | Breach::Idle => {}
        }
        self.close(key);
    }

    fn close(&mut self, key: usize) {
        if let Some(mut conn) = self.conns.try_remove(key) {
            self.engine.discharge_output(&mut conn);
            let _ = self.poll.registry().deregister(&mut conn.socket);
            self.engine.shared.tenants.disconnect(conn.session.tenant);
            self.engine.shared.connections[self.engine.id].fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn close_all(&mut self) {
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            if let Some(conn) = self.conns.get_mut(key) {
                let _ = conn.flush();
            }
            self.close(key);
        }
    }
}

/// Runs a record job (cross-core RENAME / COPY) on one tenant's shard;
/// `over`: the server or the tenant is over its memory limit.
fn record_job(shard: &mut Shard, job: Job, over: bool) -> Output {
    match job {
        Job::Command(_) => Output::Reply(Reply::error("ERR internal: command as a record job")),
        Job::PeekRecord(key) => Output::Record(shard.peek_record(&key)),
        Job::PutRecord {
            key,
            record,
            replace,
        } if !over => Output::Reply(shard.put_record(&key, record, replace).into()),
        Job::PutRecord { .. } => Output::Reply(errors::OOM),
        Job::DelIfSame { key, record } => {
            let same = shard
                .peek_record(&key)
                .is_some_and(|current| same_record(&current, &record));
            Output::Reply((same && shard.del(&key)).into())
        }
    }
}

/// Whether two records are the same stored value (same bytes in memory, not
/// merely equal), for a rename that must not delete a newer write.
fn same_record(a: &kiln_store::Record, b: &kiln_store::Record) -> bool {
    let kiln_store::Value::String(x) = &a.value;
    let kiln_store::Value::String(y) = &b.value;
    x.as_ptr() == y.as_ptr() && x.len() == y.len() && a.expire_at == b.expire_at
}
