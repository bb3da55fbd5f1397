//! Per-connection state that commands read and change: identity, protocol
//! version, authentication, name — what `CLIENT INFO` shows.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use kiln_net::Protocol;

use crate::tenant::{DEFAULT_USER, TenantId};

/// Which listener a connection arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// The main port: any key, forwarded between cores as needed.
    Main,
    /// A core's own port: a cluster node serving its slots.
    Core,
}

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
    /// When it last sent a command.
    pub last_active: Instant,
    /// The last command's name (`CLIENT LIST cmd=`).
    pub last_command: &'static str,
    /// Close once the pending replies are written (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// The core serving it.
    pub core: usize,
}

impl Session {
    /// A new session; `needs_auth` when a password is configured.
    pub fn new(
        id: u64,
        peer: SocketAddr,
        local: SocketAddr,
        port_kind: PortKind,
        core: usize,
        needs_auth: bool,
    ) -> Session {
        let now = Instant::now();
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
            created: now,
            last_active: now,
            last_command: "NULL",
            close_after_reply: false,
            core,
        }
    }

    /// `RESET`: back to a fresh connection's state, keeping identity.
    pub fn reset(&mut self, needs_auth: bool) {
        self.name = None;
        self.protocol = Protocol::Resp2;
        self.authenticated = !needs_auth;
        self.user = DEFAULT_USER.into();
        self.tenant = TenantId::DEFAULT;
    }

    /// One line of `CLIENT LIST` / `CLIENT INFO`, in Redis's field order.
    pub fn info_line(&self, now: Instant, query_buf: usize, out_buf: usize) -> String {
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
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={} kiln-core={}",
            self.id,
            self.peer,
            self.local,
            name,
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_active).as_secs(),
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
