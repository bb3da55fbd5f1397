//! Per-connection state that commands read and change: identity, protocol
//! version, authentication, name — what `CLIENT INFO` shows.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use kiln_net::transport::{Accepted, ConnFacts};
use kiln_net::{OwnedArgs, Protocol};
use smallvec::SmallVec;

pub use kiln_net::transport::PortKind;

use crate::tenant::{DEFAULT_USER, TenantId};

/// One client's session.
#[derive(Debug)]
pub struct Session {
    /// Unique across the server (`CLIENT ID`).
    pub id: u64,
    /// `CLIENT SETNAME` / `HELLO ... SETNAME`.
    pub name: Option<Bytes>,
    /// RESP version in use.
    pub protocol: Protocol,
    /// Whether AUTH succeeded (or no password is set).
    pub authenticated: bool,
    /// The authenticated user's name.
    pub user: String,
    /// The tenant the connection's commands run as ([`TenantId::DEFAULT`]
    /// until it authenticates as a tenant).
    pub tenant: TenantId,
    /// `CLIENT SETINFO LIB-NAME`.
    pub lib_name: Option<Bytes>,
    /// `CLIENT SETINFO LIB-VER`.
    pub lib_ver: Option<Bytes>,
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address as the client sees it.
    pub local: SocketAddr,
    /// The listener it came through.
    pub port_kind: PortKind,
    /// When it connected.
    pub created: Instant,
    /// The last command's name (`CLIENT LIST cmd=`).
    pub last_command: &'static str,
    /// Close once the pending replies are written (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// The core serving it.
    pub core: usize,
    /// The request its later ones wait for: they are not read until it is
    /// answered.
    pub held: Option<Held>,
    /// Inside `MULTI`: the commands queued since, until `EXEC` or `DISCARD`.
    pub multi: Option<Multi>,
    /// A request `CLIENT PAUSE` holds: it runs when the pause ends, and
    /// nothing more is read from the client until then.
    pub parked: Option<OwnedArgs>,
    /// `MONITOR`: what it sees (`Some(None)`: every tenant).
    pub monitor: Option<crate::monitor::Scope>,
    /// `CLIENT NO-EVICT on`. Kiln evicts no client, so it is only shown
    /// (`flags=e`).
    pub no_evict: bool,
    /// `CLIENT NO-TOUCH on`: its commands should leave keys' access times
    /// alone (`flags=T`). The store keeps no access times yet, so nothing
    /// reads it but `CLIENT LIST`.
    pub no_touch: bool,
    /// The cores where this client watches keys (`WATCH`), ascending.
    pub watching: SmallVec<[usize; 2]>,
    /// What it subscribes to (pub/sub).
    pub subscribed: Subscribed,
    /// `RESET` ran: the engine drops the client's watches and
    /// subscriptions.
    pub reset_pending: bool,
    /// The unsent output last charged to a tenant's figures, and to whom
    /// (the engine's books; see `Engine::charge_output`).
    pub(crate) charged: (TenantId, usize),
}

/// What a client subscribes to, by kind.
#[derive(Debug, Default)]
pub struct Subscribed {
    /// `SUBSCRIBE` channels.
    pub channels: HashSet<Bytes, ahash::RandomState>,
    /// `PSUBSCRIBE` patterns.
    pub patterns: HashSet<Bytes, ahash::RandomState>,
    /// `SSUBSCRIBE` shard channels.
    pub shard: HashSet<Bytes, ahash::RandomState>,
}

impl Subscribed {
    /// Whether it subscribes to anything (RESP2's subscribed mode).
    pub fn any(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty())
    }

    /// The count `SUBSCRIBE`'s replies carry: channels and patterns.
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// What its subscriptions hold on the server (the names, here and in
    /// the core's registry, and an entry for each), charged to its tenant.
    pub fn bytes(&self) -> usize {
        [&self.channels, &self.patterns, &self.shard]
            .iter()
            .flat_map(|set| set.iter())
            .map(|name| 2 * name.len() + SUBSCRIPTION_OVERHEAD)
            .sum()
    }
}

/// Memory charged per subscription beyond its name: the set and registry
/// entries (handles, hashes, the subscriber's place).
pub const SUBSCRIPTION_OVERHEAD: usize = 96;

/// A transaction being queued (`MULTI` ... `EXEC`).
#[derive(Debug, Default)]
pub struct Multi {
    /// The commands queued, in order.
    pub queued: Vec<OwnedArgs>,
    /// Their bytes, held to the client's query buffer limit.
    pub bytes: usize,
    /// A command was refused while queueing: `EXEC` answers `EXECABORT`.
    pub failed: bool,
}

/// A request that holds back the client's next ones until it is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Its place in the connection's reply queue.
    pub seq: u64,
    /// A blocking command (BLPOP...), as `CLIENT LIST` flags it (`b`),
    /// rather than a plan of several steps.
    pub blocking: bool,
}

/// One client of a core as a command listing clients sees it.
pub struct ClientView<'a> {
    /// Its session.
    pub session: &'a Session,
    /// Its buffers and idle time.
    pub facts: ConnFacts,
}

impl Session {
    /// The session of a connection core `core` accepted; `needs_auth`
    /// when a password is configured.
    pub fn accepted(accepted: &Accepted, core: usize, needs_auth: bool) -> Session {
        Session::new(
            accepted.id,
            accepted.peer,
            accepted.local,
            accepted.port,
            core,
            needs_auth,
        )
    }

    /// A new session; `needs_auth` when a password is configured.
    pub fn new(
        id: u64,
        peer: SocketAddr,
        local: SocketAddr,
        port_kind: PortKind,
        core: usize,
        needs_auth: bool,
    ) -> Session {
        Session {
            id,
            name: None,
            protocol: Protocol::Resp2,
            authenticated: !needs_auth,
            user: DEFAULT_USER.into(),
            tenant: TenantId::DEFAULT,
            lib_name: None,
            lib_ver: None,
            peer,
            local,
            port_kind,
            created: Instant::now(),
            last_command: "NULL",
            close_after_reply: false,
            core,
            held: None,
            multi: None,
            parked: None,
            monitor: None,
            no_evict: false,
            no_touch: false,
            watching: SmallVec::new(),
            subscribed: Subscribed::default(),
            reset_pending: false,
            charged: (TenantId::DEFAULT, 0),
        }
    }

    /// Request `seq` was answered: if the client's next requests waited
    /// for it, they may run.
    pub fn release(&mut self, seq: u64) {
        if self.held.is_some_and(|h| h.seq == seq) {
            self.held = None;
        }
    }

    /// `RESET`: back to a fresh connection's state, keeping identity.
    pub fn reset(&mut self, needs_auth: bool) {
        self.name = None;
        self.protocol = Protocol::Resp2;
        self.authenticated = !needs_auth;
        self.user = DEFAULT_USER.into();
        self.tenant = TenantId::DEFAULT;
        self.multi = None;
        self.no_evict = false;
        self.no_touch = false;
        self.reset_pending = true;
    }

    /// `CLIENT LIST`'s `flags=`, the letters in Redis 7.2's order (`N`
    /// for none). A request `CLIENT PAUSE` parked shows as blocked, as in
    /// Redis.
    fn flags(&self) -> String {
        let mut flags = String::new();
        let marks = [
            (self.monitor.is_some(), 'O'),
            (self.subscribed.any(), 'P'),
            (self.multi.is_some(), 'x'),
            (
                self.held.is_some_and(|h| h.blocking) || self.parked.is_some(),
                'b',
            ),
            (self.no_evict, 'e'),
            (self.no_touch, 'T'),
        ];
        flags.extend(marks.iter().filter(|(on, _)| *on).map(|(_, c)| c));
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }

    /// One line of `CLIENT LIST` / `CLIENT INFO`, in Redis's field order;
    /// `facts`: its connection's figures where known (0 and idle 0 if not).
    pub fn info_line(&self, now: Instant, facts: Option<ConnFacts>) -> String {
        let (query_buf, out_buf) = facts.map_or((0, 0), |f| (f.query_buf, f.output_buf));
        let last_active = facts.map_or(now, |f| f.last_active);
        let name = self
            .name
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let text = |b: &Option<Bytes>| {
            b.as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned()
        };
        format!(
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db=0 sub={} psub={} ssub={} multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={} kiln-core={}",
            self.id,
            self.peer,
            self.local,
            name,
            now.duration_since(self.created).as_secs(),
            now.saturating_duration_since(last_active).as_secs(),
            self.flags(),
            self.subscribed.channels.len(),
            self.subscribed.patterns.len(),
            self.subscribed.shard.len(),
            self.multi.as_ref().map_or(-1, |m| m.queued.len() as i64),
            query_buf,
            out_buf,
            self.last_command,
            self.user,
            if self.protocol == Protocol::Resp3 {
                3
            } else {
                2
            },
            text(&self.lib_name),
            text(&self.lib_ver),
            self.core,
        )
    }
}

impl kiln_net::transport::ClientState for Session {
    fn authenticated(&self) -> bool {
        self.authenticated
    }

    fn closing(&self) -> bool {
        self.close_after_reply
    }

    fn holds_input(&self) -> bool {
        self.held.is_some() || self.parked.is_some()
    }

    fn blocked(&self) -> bool {
        self.held.is_some_and(|h| h.blocking)
    }

    fn subscriber(&self) -> bool {
        self.subscribed.any()
    }

    fn monitor(&self) -> bool {
        self.monitor.is_some()
    }
}
