//! One client connection: its socket, its input buffer and parser, its
//! session, and its replies — kept in request order even when some requests
//! are answered by other cores.
//!
//! The three parts are separate fields so the core can parse from the input
//! buffer while it changes the session and appends replies.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Instant;

use kiln_net::resp::{ParseLimits, ProtocolError, RequestParser, encode};
use kiln_net::{Args, OwnedArgs, Protocol, Reply};
use mio::net::TcpStream;
use smallvec::SmallVec;

use super::fanout::{Finish, Output, Plan};
use super::limits::Breach;
use crate::session::Session;
use crate::tenant::TenantId;

/// Bytes read from the socket per `read` call (and the buffer's base size).
const READ_CHUNK: usize = 16 * 1024;
/// Buffers grown past this by one large request shrink back when empty.
const SHRINK_ABOVE: usize = 1024 * 1024;

/// Read side: bytes received but not yet parsed into whole commands.
pub struct Input {
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

/// A request waiting for other cores.
pub struct Waiting {
    outputs: SmallVec<[Option<Output>; 2]>,
    remaining: usize,
    /// The original request.
    pub args: OwnedArgs,
    /// See [`Plan::part_keys`].
    pub part_keys: Vec<SmallVec<[usize; 4]>>,
    /// The core each part runs on.
    pub part_cores: SmallVec<[usize; 2]>,
    carry: Vec<Output>,
    /// What happens once every part answered.
    pub finish: Finish,
    /// Protocol when the request arrived (its reply is encoded in it).
    pub protocol: Protocol,
}

impl Waiting {
    /// A waiting slot for `plan`'s parts; the jobs are returned for sending.
    pub fn start(
        plan: Plan,
        args: OwnedArgs,
        protocol: Protocol,
    ) -> (Box<Waiting>, Vec<(usize, super::fanout::Job)>) {
        let mut waiting = Box::new(Waiting {
            outputs: SmallVec::new(),
            remaining: 0,
            args,
            part_keys: Vec::new(),
            part_cores: SmallVec::new(),
            carry: Vec::new(),
            finish: Finish::Single,
            protocol,
        });
        let jobs = waiting.restart(plan);
        (waiting, jobs)
    }

    /// Begins the next step of a continued plan.
    pub fn restart(&mut self, plan: Plan) -> Vec<(usize, super::fanout::Job)> {
        self.remaining = plan.parts.len();
        self.outputs = (0..plan.parts.len()).map(|_| None).collect();
        self.part_cores = plan.parts.iter().map(|(c, _)| *c).collect();
        self.part_keys = plan.part_keys;
        self.carry = plan.carry;
        self.finish = plan.finish;
        plan.parts
    }

    /// Records part `part`'s output; true when it was the last.
    fn fill(&mut self, part: usize, output: Output) -> bool {
        if let Some(slot) = self.outputs.get_mut(part)
            && slot.is_none()
        {
            *slot = Some(output);
            self.remaining -= 1;
        }
        self.remaining == 0
    }

    /// The outputs in part order, carried ones first.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        let mut all = std::mem::take(&mut self.carry);
        all.extend(
            self.outputs
                .drain(..)
                .map(|o| o.unwrap_or(Output::Reply(Reply::Nil))),
        );
        all
    }
}

/// One place in the reply order.
enum Slot {
    /// Encoded and ready to send once everything before it is.
    Ready(Vec<u8>),
    /// Waiting for other cores.
    Waiting(Box<Waiting>),
}

/// Write side: encoded replies not yet written, and the queue of replies
/// that must wait for earlier ones.
pub struct Replies {
    buf: Vec<u8>,
    written: usize,
    queue: VecDeque<Slot>,
    /// Sequence number of `queue[0]`.
    base_seq: u64,
    /// Encoded bytes held in `Ready` slots of the queue.
    queued_bytes: usize,
    /// The hard output buffer limit (0 = none): a reply that would reach it
    /// is not encoded, and the connection is marked for closing.
    hard_limit: usize,
    /// What the connection's tenant may still hold in unsent replies here
    /// (its memory quota less its other connections' output; `usize::MAX`
    /// = no quota): a reply that would pass it is refused the same way.
    tenant_room: usize,
    /// Which limit refused a reply; the connection must close.
    overflowed: Option<Breach>,
}

impl Replies {
    fn new() -> Replies {
        Replies {
            buf: Vec::with_capacity(READ_CHUNK),
            written: 0,
            queue: VecDeque::new(),
            base_seq: 0,
            queued_bytes: 0,
            hard_limit: 0,
            tenant_room: usize::MAX,
            overflowed: None,
        }
    }

    /// Appends a reply after every earlier one.
    pub fn push(&mut self, reply: &Reply, protocol: Protocol) {
        if self.refuses(reply) {
            return;
        }
        if self.queue.is_empty() {
            encode(reply, protocol, &mut self.buf);
        } else {
            let mut bytes = Vec::new();
            encode(reply, protocol, &mut bytes);
            self.queued_bytes += bytes.len();
            self.queue.push_back(Slot::Ready(bytes));
        }
    }

    /// Whether `reply` would take the output buffer to the hard limit, or
    /// past the tenant's room; if so the connection is marked overflowed
    /// and the reply is dropped before it is encoded (an MGET of one big
    /// value a thousand times never materialises).
    fn refuses(&mut self, reply: &Reply) -> bool {
        if self.overflowed.is_none() {
            let after = self.output_len().saturating_add(reply.payload_len());
            if self.hard_limit > 0 && after >= self.hard_limit {
                self.overflowed = Some(Breach::OutputHard);
            } else if after > self.tenant_room {
                self.overflowed = Some(Breach::TenantOutput);
            }
        }
        self.overflowed.is_some()
    }

    /// Sets the limits replies are checked against as they are queued: the
    /// hard output buffer limit (0 = none) and the tenant's room
    /// (`usize::MAX` = none).
    pub fn set_limits(&mut self, hard: usize, tenant_room: usize) {
        self.hard_limit = hard;
        self.tenant_room = tenant_room;
    }

    /// The limit a reply was refused for, if one was: the connection must
    /// close.
    pub fn overflowed(&self) -> Option<Breach> {
        self.overflowed
    }

    /// The client's output buffer: encoded replies not yet written, those
    /// waiting behind an unfinished request included.
    pub fn output_len(&self) -> usize {
        self.unsent() + self.queued_bytes
    }

    /// Reserves the next place for a reply other cores will complete;
    /// returns its sequence number.
    pub fn push_waiting(&mut self, waiting: Box<Waiting>) -> u64 {
        let seq = self.base_seq + self.queue.len() as u64;
        self.queue.push_back(Slot::Waiting(waiting));
        seq
    }

    /// Delivers part of request `seq`; returns the waiting request when all
    /// its parts are in (the caller finishes or continues it).
    pub fn deliver(&mut self, seq: u64, part: usize, output: Output) -> Option<&mut Waiting> {
        let index = seq.checked_sub(self.base_seq)? as usize;
        match self.queue.get_mut(index)? {
            Slot::Waiting(w) => w.fill(part, output).then_some(&mut **w),
            Slot::Ready(_) => None,
        }
    }

    /// Replaces waiting request `seq` with its final reply, then moves every
    /// ready reply at the front of the queue into the write buffer.
    pub fn resolve(&mut self, seq: u64, reply: &Reply) {
        let Some(index) = seq.checked_sub(self.base_seq) else {
            return;
        };
        let protocol = match self.queue.get(index as usize) {
            Some(Slot::Waiting(w)) => w.protocol,
            _ => return,
        };
        if self.refuses(reply) {
            return;
        }
        if index == 0 {
            // The usual case: the oldest request completes; its reply goes
            // straight to the write buffer.
            encode(reply, protocol, &mut self.buf);
            self.queue.pop_front();
            self.base_seq += 1;
        } else {
            let mut bytes = Vec::new();
            encode(reply, protocol, &mut bytes);
            self.queued_bytes += bytes.len();
            self.queue[index as usize] = Slot::Ready(bytes);
        }
        while let Some(Slot::Ready(_)) = self.queue.front() {
            if let Some(Slot::Ready(bytes)) = self.queue.pop_front() {
                self.queued_bytes -= bytes.len();
                self.buf.extend_from_slice(&bytes);
                self.base_seq += 1;
            }
        }
    }

    /// Requests still waiting for other cores, or queued behind them.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Encoded bytes not yet written.
    pub fn unsent(&self) -> usize {
        self.buf.len() - self.written
    }

    /// Writes as much as the socket takes. Returns bytes written; `Ok` with
    /// bytes still unsent means the socket is full (wait for WRITABLE).
    fn flush(&mut self, socket: &mut TcpStream) -> io::Result<usize> {
        let mut total = 0;
        while self.written < self.buf.len() {
            match socket.write(&self.buf[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n;
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.written == self.buf.len() {
            self.buf.clear();
            self.written = 0;
            if self.buf.capacity() > SHRINK_ABOVE {
                self.buf = Vec::with_capacity(READ_CHUNK);
            }
        }
        Ok(total)
    }
}

/// A client connection owned by one core.
pub struct Connection {
    /// The socket.
    pub socket: TcpStream,
    /// Received bytes and the parser.
    pub input: Input,
    /// Session state commands see.
    pub session: Session,
    /// Replies in request order.
    pub replies: Replies,
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
    /// The unsent output last charged to a tenant's figures, and to whom
    /// (see `Engine::charge_output`).
    pub charged: (TenantId, usize),
}

impl Connection {
    /// Wraps an accepted socket.
    pub fn new(socket: TcpStream, session: Session, limits: ParseLimits) -> Connection {
        Connection {
            socket,
            input: Input::new(limits),
            session,
            replies: Replies::new(),
            read_paused: false,
            wants_write: false,
            peer_closed: false,
            over_soft_since: None,
            partial_since: None,
            charged: (TenantId::DEFAULT, 0),
        }
    }

    /// Reads once from the socket.
    pub fn fill(&mut self) -> io::Result<Filled> {
        self.input.fill(&mut self.socket)
    }

    /// Writes pending replies; returns bytes written.
    pub fn flush(&mut self) -> io::Result<usize> {
        self.replies.flush(&mut self.socket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fanout::Job;

    fn waiting(parts: usize) -> Box<Waiting> {
        let plan = Plan::new(
            (0..parts)
                .map(|c| (c, Job::Command(OwnedArgs::new([&b"PING"[..]]))))
                .collect(),
            Finish::Single,
        );
        Waiting::start(plan, OwnedArgs::new([&b"PING"[..]]), Protocol::Resp2).0
    }

    #[test]
    fn replies_leave_in_request_order() {
        let mut r = Replies::new();
        r.push(&Reply::Integer(1), Protocol::Resp2);
        let seq = r.push_waiting(waiting(2));
        r.push(&Reply::Integer(3), Protocol::Resp2);
        assert_eq!(r.buf, b":1\r\n");
        assert!(r.deliver(seq, 1, Output::Reply(Reply::Nil)).is_none());
        assert!(r.deliver(seq, 0, Output::Reply(Reply::Nil)).is_some());
        r.resolve(seq, &Reply::Integer(2));
        assert_eq!(r.buf, b":1\r\n:2\r\n:3\r\n");
        assert_eq!(r.queued(), 0);
    }

    #[test]
    fn a_reply_past_a_limit_is_refused_unencoded() {
        let big = Reply::bulk_from("x".repeat(100));
        let mut r = Replies::new();
        r.set_limits(0, 150);
        r.push(&big, Protocol::Resp2);
        assert_eq!((r.overflowed(), r.output_len()), (None, 108));
        r.push(&big, Protocol::Resp2);
        assert_eq!(
            (r.overflowed(), r.output_len()),
            (Some(Breach::TenantOutput), 108)
        );
        let mut r = Replies::new();
        r.set_limits(100, usize::MAX);
        r.push(&big, Protocol::Resp2);
        assert_eq!(
            (r.overflowed(), r.output_len()),
            (Some(Breach::OutputHard), 0)
        );
    }

    #[test]
    fn stale_and_duplicate_deliveries_are_ignored() {
        let mut r = Replies::new();
        let seq = r.push_waiting(waiting(1));
        assert!(r.deliver(seq + 5, 0, Output::Reply(Reply::Nil)).is_none());
        assert!(r.deliver(seq, 3, Output::Reply(Reply::Nil)).is_none());
        assert!(r.deliver(seq, 0, Output::Reply(Reply::Nil)).is_some());
        r.resolve(seq, &Reply::OK);
        assert!(r.deliver(seq, 0, Output::Reply(Reply::Nil)).is_none());
        assert_eq!(r.buf, b"+OK\r\n");
    }
}
