//! [`Client`]: the main connection, the slot map, one lazy connection per
//! node, and the redirect loop.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use kiln_net::Reply;
use kiln_net::resp::encode_request;

use crate::connection::NodeConnection;
use crate::routing::{self, KeyRoute};
use crate::slots::{NodeAddr, SlotTable};
use crate::{Error, Redirect};

/// Most `MOVED` / `ASK` redirections followed for one command.
pub const MAX_REDIRECTS: usize = 5;

/// Connection settings, shared by every connection a [`Client`] opens.
#[derive(Debug, Clone)]
pub(crate) struct ClientConfig {
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) resp3: bool,
    pub(crate) name: Option<String>,
    pub(crate) db: i64,
    pub(crate) cluster: bool,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            user: None,
            password: None,
            resp3: false,
            name: None,
            db: 0,
            cluster: true,
            connect_timeout: None,
            read_timeout: None,
            write_timeout: None,
        }
    }
}

/// Configures a [`Client`] before connecting.
///
/// ```no_run
/// use std::time::Duration;
/// let client = kiln_client::Client::builder()
///     .user("tenant1")
///     .password("secret")
///     .resp3(true)
///     .connect_timeout(Duration::from_secs(2))
///     .connect("127.0.0.1:7379")?;
/// # Ok::<(), kiln_client::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientBuilder {
    config: ClientConfig,
}

impl ClientBuilder {
    /// A builder with defaults: no auth, RESP2, cluster routing on, no timeouts.
    pub fn new() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The user (tenant) to authenticate as; needs [`password`](Self::password).
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.config.user = Some(user.into());
        self
    }

    /// The password: `AUTH [user] password`, or `HELLO 3 AUTH` with RESP3.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.config.password = Some(password.into());
        self
    }

    /// Speak RESP3 (`HELLO 3`) on every connection.
    pub fn resp3(mut self, on: bool) -> Self {
        self.config.resp3 = on;
        self
    }

    /// `CLIENT SETNAME` on every connection.
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.config.name = Some(name.into());
        self
    }

    /// `SELECT` this database on every connection.
    pub fn database(mut self, db: i64) -> Self {
        self.config.db = db;
        self
    }

    /// Route keyed commands to the owning core (default on). Off: everything
    /// goes to the main connection and `MOVED` errors are returned as errors.
    pub fn cluster(mut self, on: bool) -> Self {
        self.config.cluster = on;
        self
    }

    /// Give up connecting after this long.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = Some(timeout);
        self
    }

    /// Fail a read that waits longer than this (the connection is dropped).
    /// Blocking commands ([`Client::blpop`]...) wait their own timeout on
    /// top of it.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.config.read_timeout = Some(timeout);
        self
    }

    /// Fail a write that blocks longer than this (the connection is dropped).
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.config.write_timeout = Some(timeout);
        self
    }

    /// Connects to the main port, runs the handshake and loads the slot map.
    pub fn connect(self, addr: impl ToSocketAddrs) -> Result<Client, Error> {
        let main_addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        let main = NodeConnection::open(&main_addrs, &self.config)?;
        let mut client = Client {
            config: self.config,
            main_addrs,
            main: Some(main),
            cluster: None,
            scratch: Vec::new(),
            blocking_read_timeout: None,
            transaction_state: TransactionState::default(),
        };
        if client.config.cluster {
            client.refresh_slots()?;
        }
        Ok(client)
    }
}

/// A node's connection slot in the cluster table.
enum NodeConn {
    /// Not opened yet (or dropped after an error).
    Closed,
    /// The node is the main port itself; use the main connection.
    Main,
    Open(NodeConnection),
}

/// The routing table and the per-node connections, index-aligned with
/// [`SlotTable::nodes`].
struct Cluster {
    map: SlotTable,
    conns: Vec<NodeConn>,
}

impl Cluster {
    fn sync_conns(&mut self) {
        self.conns
            .resize_with(self.map.nodes().len(), || NodeConn::Closed);
    }
}

/// Where one request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Main,
    Node(usize),
}

/// A blocking client for Kiln (or any Redis / Redis Cluster node).
///
/// Holds the main connection plus one lazily opened connection per core, and
/// sends each command to the core owning its key's slot. Not `Sync`: use one
/// client per thread.
pub struct Client {
    pub(crate) config: ClientConfig,
    pub(crate) main_addrs: Vec<SocketAddr>,
    main: Option<NodeConnection>,
    /// `None`: no cluster routing (disabled, or the server is not a cluster).
    cluster: Option<Cluster>,
    /// Reused buffer for encoding requests.
    scratch: Vec<u8>,
    /// During a blocking command: the read timeout its connections use
    /// instead of `config.read_timeout`.
    blocking_read_timeout: Option<Option<Duration>>,
    /// Between a `WATCH` or `MULTI` sent with [`Client::cmd`] and the
    /// `EXEC`, `DISCARD`, `UNWATCH` or `RESET` that ends it: every command
    /// goes to the main connection, where the transaction lives.
    transaction_state: TransactionState,
}

/// What the commands sent with [`Client::cmd`] opened of a transaction.
#[derive(Debug, Default, Clone, Copy)]
struct TransactionState {
    multi: bool,
    watching: bool,
}

impl TransactionState {
    /// Whether commands must go to the main connection.
    fn pinned(self) -> bool {
        self.multi || self.watching
    }

    /// Follows command `name` (Redis queues everything inside MULTI but
    /// EXEC, DISCARD, WATCH, MULTI, QUIT and RESET).
    fn follow(&mut self, name: &[u8]) {
        let is = |word: &str| name.eq_ignore_ascii_case(word.as_bytes());
        if is("MULTI") {
            self.multi = true;
        } else if is("WATCH") && !self.multi {
            self.watching = true;
        } else if is("EXEC") || is("DISCARD") || is("RESET") || (is("UNWATCH") && !self.multi) {
            *self = TransactionState::default();
        }
    }
}

impl Client {
    /// Connects with default settings. See [`Client::builder`] for auth,
    /// RESP3 and timeouts.
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Client, Error> {
        ClientBuilder::new().connect(addr)
    }

    /// A [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// The current routing table, `None` when commands all go to the main
    /// connection (cluster routing off, or the server is not a cluster).
    pub fn slot_map(&self) -> Option<&SlotTable> {
        self.cluster.as_ref().map(|c| &c.map)
    }

    /// Whether this client speaks RESP3.
    pub fn is_resp3(&self) -> bool {
        self.config.resp3
    }

    /// The database selected on every connection.
    pub fn database(&self) -> i64 {
        self.config.db
    }

    /// Runs a command; an error reply becomes [`Error::Server`].
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, Error> {
        match self.cmd_reply(args)? {
            Reply::Error(text) => Err(Error::from_server_text(&text)),
            reply => Ok(reply),
        }
    }

    /// Runs a command and returns the reply as is, error replies included.
    pub fn cmd_reply<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, Error> {
        let route = routing::route(args);
        // A transaction's commands, and the one ending it, go where it lives.
        let pinned = self.transaction_state.pinned();
        if let Some(name) = args.first() {
            self.transaction_state.follow(name.as_ref());
        }
        let target = if pinned {
            Target::Main
        } else {
            self.target(route)
        };
        let mut encoded = std::mem::take(&mut self.scratch);
        encoded.clear();
        encode_request(args, &mut encoded);
        let reply = self.execute(target, false, &encoded);
        self.scratch = encoded;
        let reply = reply?;
        // Keep every connection (and future ones) on the selected database.
        if let (Some(name), Some(db), Reply::Status(_)) = (args.first(), args.get(1), &reply)
            && name.as_ref().eq_ignore_ascii_case(b"SELECT")
            && let Some(db) = std::str::from_utf8(db.as_ref())
                .ok()
                .and_then(|d| d.parse().ok())
        {
            self.config.db = db;
            self.close_node_connections();
        }
        Ok(reply)
    }

    /// Sends one command to the main connection, whatever its keys.
    pub(crate) fn main_cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, Error> {
        let mut encoded = Vec::new();
        encode_request(args, &mut encoded);
        match self.roundtrip(Target::Main, false, &encoded)? {
            Reply::Error(text) => Err(Error::from_server_text(&text)),
            reply => Ok(reply),
        }
    }

    /// Reloads the slot map with `CLUSTER SLOTS` from the main connection.
    /// An error reply (a server without cluster support) turns routing off.
    pub fn refresh_slots(&mut self) -> Result<(), Error> {
        let reply = match self.main_cmd(&["CLUSTER", "SLOTS"]) {
            Ok(reply) => reply,
            Err(Error::Server { .. }) => {
                self.cluster = None;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let map = SlotTable::from_reply(&reply, &self.main_host())?;
        if map.is_empty() {
            self.cluster = None;
            return Ok(());
        }
        // Keep the connections of nodes that are still there.
        let mut old = self.cluster.take();
        let conns = map
            .nodes()
            .iter()
            .map(|addr| {
                old.as_mut()
                    .and_then(|old| {
                        let i = old.map.nodes().iter().position(|n| n == addr)?;
                        Some(std::mem::replace(old.conns.get_mut(i)?, NodeConn::Closed))
                    })
                    .unwrap_or(NodeConn::Closed)
            })
            .collect();
        self.cluster = Some(Cluster { map, conns });
        Ok(())
    }

    /// The IP of the main port, for nodes advertised without a host.
    pub(crate) fn main_host(&self) -> String {
        let addr = self
            .main
            .as_ref()
            .map(NodeConnection::peer)
            .or_else(|| self.main_addrs.first().copied());
        addr.map_or_else(|| "127.0.0.1".to_owned(), |a| a.ip().to_string())
    }

    pub(crate) fn target(&self, route: KeyRoute) -> Target {
        if self.transaction_state.pinned() {
            // MULTI's queue and WATCH's keys belong to one connection.
            return Target::Main;
        }
        match (route, &self.cluster) {
            (KeyRoute::Slot(slot), Some(cluster)) => cluster
                .map
                .node_index(slot)
                .map_or(Target::Main, Target::Node),
            _ => Target::Main,
        }
    }

    /// Runs a command that waits up to `wait` on the server (`BLPOP`...,
    /// zero: forever). The configured read timeout would fire first, so
    /// while it runs the socket waits `wait` plus that timeout (no limit for
    /// zero); the next command's connection goes back to the configured one.
    pub(crate) fn cmd_blocking<A: AsRef<[u8]>>(
        &mut self,
        args: &[A],
        wait: Duration,
    ) -> Result<Reply, Error> {
        let Some(base) = self.config.read_timeout else {
            return self.cmd(args);
        };
        let extended = (!wait.is_zero()).then(|| base.saturating_add(wait));
        self.blocking_read_timeout = Some(extended);
        let reply = self.cmd(args);
        self.blocking_read_timeout = None;
        reply
    }

    /// The connection for `target`, opened if needed, with the read timeout
    /// of the command at hand.
    pub(crate) fn conn(&mut self, target: Target) -> Result<&mut NodeConnection, Error> {
        let timeout = self
            .blocking_read_timeout
            .unwrap_or(self.config.read_timeout);
        let conn = self.open_conn(target)?;
        conn.set_read_timeout(timeout)?;
        Ok(conn)
    }

    /// The connection for `target`, opened (with the handshake) if needed.
    fn open_conn(&mut self, target: Target) -> Result<&mut NodeConnection, Error> {
        if let (Target::Node(i), Some(cluster)) = (target, &mut self.cluster)
            && let Some(slot) = cluster.conns.get_mut(i)
        {
            if let NodeConn::Closed = slot {
                let addr = &cluster.map.nodes()[i];
                let addrs: Vec<SocketAddr> =
                    (addr.host.as_str(), addr.port).to_socket_addrs()?.collect();
                *slot = if addrs.iter().any(|a| self.main_addrs.contains(a)) {
                    NodeConn::Main
                } else {
                    NodeConn::Open(NodeConnection::open(&addrs, &self.config)?)
                };
            }
            if let NodeConn::Open(_) = slot {
                let Some(NodeConn::Open(conn)) =
                    self.cluster.as_mut().and_then(|c| c.conns.get_mut(i))
                else {
                    unreachable!("checked just above");
                };
                return Ok(conn);
            }
        }
        match self.main {
            Some(ref mut conn) => Ok(conn),
            None => {
                let conn = NodeConnection::open(&self.main_addrs, &self.config)?;
                Ok(self.main.insert(conn))
            }
        }
    }

    /// Forgets a broken connection; the next use reconnects.
    pub(crate) fn drop_conn(&mut self, target: Target) {
        if let (Target::Node(i), Some(cluster)) = (target, &mut self.cluster)
            && let Some(slot) = cluster.conns.get_mut(i)
            && !matches!(slot, NodeConn::Main)
        {
            *slot = NodeConn::Closed;
            return;
        }
        self.main = None;
    }

    /// Closes every per-node connection (not the main one); they reopen, with
    /// the current settings, on next use.
    fn close_node_connections(&mut self) {
        if let Some(cluster) = &mut self.cluster {
            for conn in &mut cluster.conns {
                if let NodeConn::Open(_) = conn {
                    *conn = NodeConn::Closed;
                }
            }
        }
    }

    /// Sends an encoded command on `target` (after `ASKING` if `asking`) and
    /// reads its reply. A connection that fails is dropped.
    pub(crate) fn roundtrip(
        &mut self,
        target: Target,
        asking: bool,
        encoded: &[u8],
    ) -> Result<Reply, Error> {
        let result = self.conn(target).and_then(|conn| {
            if asking {
                let mut both = b"*1\r\n$6\r\nASKING\r\n".to_vec();
                both.extend_from_slice(encoded);
                conn.send(&both)?;
                conn.read_reply()?;
            } else {
                conn.send(encoded)?;
            }
            conn.read_reply()
        });
        if let Err(e) = &result
            && e.breaks_connection()
        {
            self.drop_conn(target);
        }
        result
    }

    /// Runs an encoded command, following up to [`MAX_REDIRECTS`] redirections.
    pub(crate) fn execute(
        &mut self,
        mut target: Target,
        mut asking: bool,
        encoded: &[u8],
    ) -> Result<Reply, Error> {
        for _ in 0..=MAX_REDIRECTS {
            let reply = self.roundtrip(target, asking, encoded)?;
            let redirect = match &reply {
                Reply::Error(text) if self.config.cluster => Redirect::parse(text),
                _ => None,
            };
            let Some(redirect) = redirect else {
                return Ok(reply);
            };
            (target, asking) = self.follow(&redirect, true);
        }
        Err(Error::TooManyRedirects)
    }

    /// Applies a redirection to the routing table; returns where to retry.
    /// With `refresh`, a `MOVED` also reloads the whole slot map.
    pub(crate) fn follow(&mut self, redirect: &Redirect, refresh: bool) -> (Target, bool) {
        let (Redirect::Moved { slot, host, port } | Redirect::Ask { slot, host, port }) = redirect;
        let host = if host.is_empty() {
            self.main_host()
        } else {
            host.clone()
        };
        let addr = NodeAddr { host, port: *port };
        let cluster = self.cluster.get_or_insert_with(|| Cluster {
            map: SlotTable::default(),
            conns: Vec::new(),
        });
        let index = cluster.map.node_index_or_insert(&addr);
        match redirect {
            Redirect::Ask { .. } => {
                cluster.sync_conns();
                (Target::Node(index), true)
            }
            Redirect::Moved { .. } => {
                cluster.map.assign(*slot, index);
                cluster.sync_conns();
                if refresh {
                    self.refresh_after_moved();
                }
                (self.target(KeyRoute::Slot(*slot)), false)
            }
        }
    }

    /// Reloads the slot map after `MOVED`s, keeping the patched table if the
    /// reload fails: the retry itself will report a dead server.
    pub(crate) fn refresh_after_moved(&mut self) {
        let patched = self.cluster.as_ref().map(|c| c.map.clone());
        // A failed reload leaves the patched table in place; a server that
        // says it is not a cluster (any more) does not undo the redirect.
        let _ = self.refresh_slots();
        if self.cluster.is_none()
            && let Some(map) = patched
        {
            let mut cluster = Cluster {
                map,
                conns: Vec::new(),
            };
            cluster.sync_conns();
            self.cluster = Some(cluster);
        }
    }

    /// Runs `args` on every open per-node connection (after it ran on the
    /// main one), dropping the connections that fail.
    pub(crate) fn on_node_connections<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        if let Some(cluster) = &mut self.cluster {
            for slot in &mut cluster.conns {
                if let NodeConn::Open(conn) = slot
                    && !matches!(
                        conn.set_read_timeout(self.config.read_timeout)
                            .map_err(Error::from)
                            .and_then(|()| conn.request(args)),
                        Ok(r) if !r.is_error()
                    )
                {
                    *slot = NodeConn::Closed;
                }
            }
        }
    }
}
