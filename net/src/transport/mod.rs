//! The transport: one worker per core owning its event loop, listeners and
//! connections, behind a [`Service`] interface the engine implements.
//!
//! ```text
//!   Worker<S> ── mio Poll ── main listener (SO_REUSEPORT, shared port)
//!    │                    └─ core listener (this core's cluster-node port)
//!    ├── Slab<Connection<S>>   socket → Input → parse ─► S::request(conn, args, post)
//!    │                         socket ◄─ Replies<S::Pending> (request order kept)
//!    ├── Post<S::Msg>          messages for other cores, one batch per core per turn
//!    └── service: S            ◄─ S::message(msg, clients, post) for every arrival
//! ```
//!
//! The worker knows bytes, sockets, buffers and the client limits; it knows
//! nothing of commands, tenants or stores. The service knows requests and
//! never touches a socket: it sees a connection as its own session
//! ([`Service::Session`]), a reply queue and a few figures
//! ([`ConnFacts`]). This is the shape of Dragonfly's `ServiceInterface` and
//! Pelikan's core/worker split.
//!
//! Modules: [`conn`] (a connection and its input), [`replies`] (reply
//! order), [`limits`] (what a client may hold), `worker` (the loop) and
//! [`post`] (cross-core batching over [`crate::Mailbox`]).

pub mod conn;
pub mod limits;
pub mod post;
pub mod replies;
mod worker;

use std::net::SocketAddr;
use std::time::Instant;

pub use conn::{ConnFacts, Connection};
pub use limits::{Breach, ClientLimits, OUTPUT_PAUSE_MARK, OutputBufferLimit};
pub use post::{Bell, Exchange, Post};
pub use replies::Replies;
pub use worker::{Clients, Worker, WorkerParts};

use crate::Args;

/// Which listener a connection arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// The main port: any key, forwarded between cores as needed.
    Main,
    /// A core's own port: a cluster node serving its slots.
    Core,
}

/// A connection being accepted, as the service sees it.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    /// The id the worker gives it (unique over the server's life).
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address as the client sees it.
    pub local: SocketAddr,
    /// The listener it came through.
    pub port: PortKind,
}

/// Why a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The peer closed it, or the socket failed.
    Peer,
    /// The session asked to close once its replies were out (QUIT, a
    /// protocol error).
    Done,
    /// It broke a client limit.
    Breach(Breach),
    /// The service closed it ([`Clients::close`]).
    Service,
    /// The worker is stopping.
    Shutdown,
}

/// Per-connection state the service keeps, with the few facts the worker
/// needs from it.
pub trait ClientState {
    /// Whether the request parser should apply the authenticated limits
    /// (an unauthenticated client's request is capped small).
    fn authenticated(&self) -> bool;
    /// Whether the connection should close once its replies are written
    /// (no more requests are read).
    fn closing(&self) -> bool;
    /// Whether the service holds this client's next requests back: a
    /// blocking command (BLPOP...) waits, and as in Redis nothing the
    /// client sent after it runs before it is answered. Reading resumes
    /// when the service delivers that answer.
    fn holds_input(&self) -> bool {
        false
    }
    /// Whether what it waits for is other clients' data (a blocking pop):
    /// such a client that goes away is closed at once, as Redis frees it,
    /// rather than answered first as a half-closed client is.
    fn blocked(&self) -> bool {
        false
    }
    /// Whether it is a pub/sub subscriber: its unsent output is held to
    /// the `pubsub` class of `client-output-buffer-limit`.
    fn subscriber(&self) -> bool {
        false
    }
    /// Whether it monitors (`MONITOR`): as Redis holds monitors, its
    /// unsent output is held to the `replica` class of
    /// `client-output-buffer-limit`, and `timeout` does not close it.
    fn monitor(&self) -> bool {
        false
    }
}

/// Counters the worker keeps in the service (so `INFO` can read them).
#[derive(Debug, Default, Clone, Copy)]
pub struct NetCounters {
    /// Connections accepted.
    pub connections_received: u64,
    /// Bytes read from clients.
    pub input_bytes: u64,
    /// Bytes written to clients.
    pub output_bytes: u64,
    /// Protocol errors that closed a connection.
    pub protocol_errors: u64,
    /// Clients closed at the query buffer limit.
    pub query_buffer_limit_disconnections: u64,
    /// Clients closed at an output buffer limit.
    pub output_buffer_limit_disconnections: u64,
}

/// What a worker asks of the service it runs: the engine implements it.
///
/// Every method runs on the worker's own thread; none may block.
pub trait Service: Sized {
    /// The service's per-connection state.
    type Session: ClientState;
    /// A request other cores are answering: it holds the request's place
    /// in its connection's reply order until the service resolves it.
    type Pending;
    /// What cores send each other.
    type Msg: Send;

    /// Whether the worker should stop.
    fn stopping(&self) -> bool;

    /// The worker woke up (from poll) at `now`; every callback until the
    /// next wake-up belongs to this turn.
    fn wake(&mut self, now: Instant);

    /// A connection arrived: its session, or `Err(reply)` to refuse it
    /// with that (pre-encoded) error line.
    fn open(&mut self, accepted: &Accepted) -> Result<Self::Session, &'static [u8]>;

    /// The client limits in force now.
    fn limits(&self) -> ClientLimits;

    /// Handles one complete request from `conn`.
    fn request(&mut self, conn: &mut Connection<Self>, args: Args<'_>, post: &mut Post<Self::Msg>);

    /// Handles a message from another core (or from this one's own queue).
    fn message(
        &mut self,
        msg: Self::Msg,
        clients: &mut Clients<'_, Self>,
        post: &mut Post<Self::Msg>,
    );

    /// `conn`'s unsent output changed size (replies queued or written).
    fn output_changed(&mut self, conn: &mut Connection<Self>);

    /// `input` bytes were read from, or `output` bytes written to, the
    /// client of `session` (besides the per-core [`NetCounters`]), so a
    /// service can count them per client or per tenant.
    fn transferred(&mut self, _session: &Self::Session, _input: u64, _output: u64) {}

    /// Periodic work (`hz` times a second).
    fn tick(&mut self, clients: &mut Clients<'_, Self>);

    /// The end of a turn: everything this turn produced was handled.
    fn end_turn(&mut self);

    /// `conn` is closing, for `why`; `post` reaches the cores that may
    /// hold work for it.
    fn closed(&mut self, conn: &mut Connection<Self>, why: Closed, post: &mut Post<Self::Msg>);

    /// The earliest instant [`Service::timers`] has work for (a blocked
    /// client's timeout), so the worker wakes for it.
    fn next_timer(&self) -> Option<Instant> {
        None
    }

    /// Time-driven work that fell due by `now`; what it answers goes out
    /// through `post` (to this core too).
    fn timers(&mut self, now: Instant, post: &mut Post<Self::Msg>) {
        let _ = (now, post);
    }

    /// Makes durable what this turn wrote, before its replies and
    /// messages leave (a write-ahead log's group commit).
    fn commit(&mut self) {}

    /// Whether replies must wait for [`Service::commit`] (what they answer
    /// is not durable yet); the worker holds every connection's output
    /// until this turns false.
    fn holds_replies(&self) -> bool {
        false
    }

    /// The worker's counters.
    fn counters(&mut self) -> &mut NetCounters;
}
