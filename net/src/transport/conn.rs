//! One client connection: its socket, its input buffer and parser, the
//! service's session, and its replies — kept in request order even when
//! some requests are answered by other cores.
//!
//! The parts are separate fields so the worker can parse from the input
//! buffer while the service changes the session and appends replies.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;

use super::replies::Replies;
use super::{ClientState, PortKind, Service};
use crate::Args;
use crate::resp::{ParseLimits, ProtocolError, RequestParser};

/// Bytes read from the socket per `read` call (and the buffer's base size).
pub(super) const READ_CHUNK: usize = 16 * 1024;
/// Buffers grown past this by one large request shrink back when empty.
pub(super) const SHRINK_ABOVE: usize = 1024 * 1024;

/// Read side: bytes received but not yet parsed into whole commands.
#[derive(Default)]
pub(super) struct Input {
    /// Splits commands out of `buf[start..end]`.
    pub parser: RequestParser,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// What a read from the socket found.
pub enum Filled {
    /// Some bytes arrived. `drained` when they did not fill the space
    /// offered, so the socket had nothing more at that moment: with
    /// edge-triggered polling, later data raises a new event, and the
    /// read that would only return EAGAIN can be skipped.
    Bytes {
        /// How many.
        n: usize,
        /// The socket buffer was emptied.
        drained: bool,
    },
    /// Nothing more for now.
    WouldBlock,
    /// The peer closed its side.
    Eof,
}

impl Input {
    fn new(limits: ParseLimits) -> Input {
        Input {
            parser: RequestParser::new(limits),
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
        }
    }

    /// The unparsed bytes.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Looks for the next whole command in the unparsed bytes.
    pub fn parse(&mut self) -> Result<Option<usize>, ProtocolError> {
        self.parser.parse(&self.buf[self.start..self.end])
    }

    /// The arguments of the command the last [`Input::parse`] found.
    pub fn args(&self) -> Args<'_> {
        self.parser.args(&self.buf[self.start..self.end])
    }

    /// Marks `n` bytes as parsed.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > SHRINK_ABOVE {
                self.buf = vec![0; READ_CHUNK];
            }
        }
    }

    /// Bytes buffered and not yet parsed (`CLIENT LIST qbuf=`).
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Reads once from `socket` into free space, making room first: the
    /// unparsed tail moves to the front, and the buffer grows (to fit a
    /// large bulk argument in one go when the parser knows its size).
    fn fill(&mut self, socket: &mut TcpStream) -> io::Result<Filled> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                let want = self.parser.bulk_remaining(self.pending()).unwrap_or(0);
                let grow = want.max(self.buf.len()).max(READ_CHUNK);
                // A fresh zeroed allocation, not `resize`: the allocator
                // hands back untouched pages, which become resident only as
                // bytes arrive. A client that declares a 512 MB argument
                // and sends nothing costs address space, not memory.
                let mut bigger = vec![0; self.buf.len() + grow];
                bigger[..self.end].copy_from_slice(&self.buf[..self.end]);
                self.buf = bigger;
            }
        }
        let space = self.buf.len() - self.end;
        match socket.read(&mut self.buf[self.end..]) {
            Ok(0) => Ok(Filled::Eof),
            Ok(n) => {
                self.end += n;
                Ok(Filled::Bytes {
                    n,
                    drained: n < space,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Filled::WouldBlock),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Filled::Bytes {
                n: 0,
                drained: false,
            }),
            Err(e) => Err(e),
        }
    }
}

/// A client connection owned by one worker.
pub struct Connection<S: Service> {
    pub(super) socket: TcpStream,
    pub(super) input: Input,
    /// The service's state for this client (identity, protocol...).
    pub session: S::Session,
    /// Replies in request order.
    pub replies: Replies<S::Pending>,
    /// The connection's key among its worker's connections; with
    /// [`Connection::id`], what a reply arriving later is addressed to.
    pub key: usize,
    /// The client's id, unique over the server's life (`CLIENT ID`).
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// Our address as the client sees it.
    pub local: SocketAddr,
    /// The listener it came through.
    pub port: PortKind,
    /// When it last sent a request.
    pub last_active: Instant,
    /// Reading stopped until replies drain (backpressure).
    pub read_paused: bool,
    /// Registered for WRITABLE events.
    pub wants_write: bool,
    /// The peer's FIN was seen: read to EOF whenever reading resumes.
    pub peer_closed: bool,
    /// Since when the output buffer has been over the soft limit.
    pub over_soft_since: Option<Instant>,
    /// Since when the request now arriving has been incomplete (reset by
    /// every complete request and while reading is paused).
    pub partial_since: Option<Instant>,
    /// A malformed request arrived: close once the error reply is out.
    pub(super) protocol_error: bool,
}

/// What the service may read about a connection besides its session
/// (`CLIENT LIST`'s buffer and idle figures).
#[derive(Debug, Clone, Copy)]
pub struct ConnFacts {
    /// The client's id.
    pub id: u64,
    /// Unparsed input bytes (`qbuf`).
    pub query_buf: usize,
    /// Unsent reply bytes, those waiting behind an unfinished request
    /// included (`omem`).
    pub output_buf: usize,
    /// When it last sent a request.
    pub last_active: Instant,
}

impl<S: Service> Connection<S> {
    /// Wraps an accepted socket.
    pub(super) fn new(
        socket: TcpStream,
        key: usize,
        accepted: &super::Accepted,
        session: S::Session,
    ) -> Connection<S> {
        Connection {
            socket,
            input: Input::new(ParseLimits::default()),
            session,
            replies: Replies::new(),
            key,
            id: accepted.id,
            peer: accepted.peer,
            local: accepted.local,
            port: accepted.port,
            last_active: Instant::now(),
            read_paused: false,
            wants_write: false,
            peer_closed: false,
            over_soft_since: None,
            partial_since: None,
            protocol_error: false,
        }
    }

    /// Whether no more requests are read: the session asked to close, or a
    /// malformed request arrived.
    pub fn done_reading(&self) -> bool {
        self.protocol_error || self.session.closing()
    }

    /// The connection's figures.
    pub fn facts(&self) -> ConnFacts {
        ConnFacts {
            id: self.id,
            query_buf: self.input.len(),
            output_buf: self.replies.output_len(),
            last_active: self.last_active,
        }
    }

    /// Reads once from the socket.
    pub(super) fn fill(&mut self) -> io::Result<Filled> {
        self.input.fill(&mut self.socket)
    }

    /// Writes pending replies; returns bytes written.
    pub(super) fn flush(&mut self) -> io::Result<usize> {
        self.replies.flush(&mut self.socket)
    }
}
