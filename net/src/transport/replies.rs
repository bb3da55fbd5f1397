//! A connection's replies, in request order.
//!
//! Most replies are encoded straight into the write buffer. A request that
//! other cores answer takes a place in the queue ([`Replies::push_pending`])
//! holding the service's pending state `P`; replies to later requests wait
//! behind it, encoded into one shared buffer (`held`), and leave with it
//! once it is resolved. Nothing here allocates per reply: the buffers keep
//! their capacity, and the queue's slots hold `P` inline.
//!
//! ```text
//!  queue:  [Pending P] [Held 5] [Held 9] [Pending P] [Late 4]
//!  held:   ─────────── 5 bytes ─ 9 bytes ───────────────────   (FIFO)
//!  late:   ──────────────────────────────────────── 4 bytes ─   (resolved out of order)
//! ```

use std::collections::VecDeque;
use std::io::{self, Write};

use mio::net::TcpStream;

use super::conn::{READ_CHUNK, SHRINK_ABOVE};
use super::limits::Breach;
use crate::resp::encode;
use crate::{Protocol, Reply};

/// One place in the reply order.
enum Slot<P> {
    /// Waiting for other cores.
    Pending(P),
    /// Encoded: the next `len` unread bytes of `held`.
    Held(usize),
    /// Encoded after a later slot was (resolved out of order): `late[at..at + len]`.
    Late {
        /// Offset in `late`.
        at: usize,
        /// Length.
        len: usize,
    },
}

/// Write side: encoded replies not yet written, and the queue of replies
/// that must wait for earlier ones.
pub struct Replies<P> {
    buf: Vec<u8>,
    written: usize,
    queue: VecDeque<Slot<P>>,
    /// Sequence number of `queue[0]`.
    base_seq: u64,
    /// Bytes of `Held` slots, oldest first from `held_read`.
    held: Vec<u8>,
    held_read: usize,
    /// Bytes of `Late` slots; emptied when no `Late` slot is left.
    late: Vec<u8>,
    late_slots: usize,
    /// Encoded bytes in `Held` and `Late` slots.
    queued_bytes: usize,
    /// The hard output buffer limit (0 = none): a reply that would reach it
    /// is not encoded, and the connection is marked for closing.
    hard_limit: usize,
    /// What the connection's owner may still hold in unsent replies
    /// (`usize::MAX` = no limit): a reply that would pass it is refused the
    /// same way.
    room: usize,
    /// Which limit refused a reply; the connection must close.
    overflowed: Option<Breach>,
}

impl<P> Replies<P> {
    pub(super) fn new() -> Replies<P> {
        Replies {
            buf: Vec::with_capacity(READ_CHUNK),
            written: 0,
            queue: VecDeque::new(),
            base_seq: 0,
            held: Vec::new(),
            held_read: 0,
            late: Vec::new(),
            late_slots: 0,
            queued_bytes: 0,
            hard_limit: 0,
            room: usize::MAX,
            overflowed: None,
        }
    }

    /// Appends a reply after every earlier one.
    pub fn push(&mut self, reply: &Reply, protocol: Protocol) {
        self.push_with(reply.payload_len(), |out| encode(reply, protocol, out));
    }

    /// Appends a reply that `write` encodes, after every earlier one;
    /// `payload`: its size as [`Reply::payload_len`] counts it, checked
    /// against the limits before anything is written. False when a limit
    /// refused it.
    pub fn push_with(&mut self, payload: usize, write: impl FnOnce(&mut Vec<u8>)) -> bool {
        if self.refuses(payload) {
            return false;
        }
        if self.queue.is_empty() {
            write(&mut self.buf);
        } else {
            let before = self.held.len();
            write(&mut self.held);
            let len = self.held.len() - before;
            self.queued_bytes += len;
            self.queue.push_back(Slot::Held(len));
        }
        true
    }

    /// Whether a reply of `payload` bytes would take the output buffer to
    /// the hard limit, or past the room; if so the connection is marked
    /// overflowed and the reply is dropped before it is encoded (an MGET of
    /// one big value a thousand times never materialises).
    fn refuses(&mut self, payload: usize) -> bool {
        if self.overflowed.is_none() {
            let after = self.output_len().saturating_add(payload);
            if self.hard_limit > 0 && after >= self.hard_limit {
                self.overflowed = Some(Breach::OutputHard);
            } else if after > self.room {
                self.overflowed = Some(Breach::TenantOutput);
            }
        }
        self.overflowed.is_some()
    }

    /// Sets the limits replies are checked against as they are queued: the
    /// hard output buffer limit (0 = none) and the room left to the
    /// connection's owner (`usize::MAX` = none).
    pub fn set_limits(&mut self, hard: usize, room: usize) {
        self.hard_limit = hard;
        self.room = room;
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
    pub fn push_pending(&mut self, pending: P) -> u64 {
        let seq = self.base_seq + self.queue.len() as u64;
        self.queue.push_back(Slot::Pending(pending));
        seq
    }

    /// The pending state of request `seq`, if it is still waiting.
    pub fn pending_mut(&mut self, seq: u64) -> Option<&mut P> {
        let index = usize::try_from(seq.checked_sub(self.base_seq)?).ok()?;
        match self.queue.get_mut(index)? {
            Slot::Pending(p) => Some(p),
            Slot::Held(_) | Slot::Late { .. } => None,
        }
    }

    /// Replaces pending request `seq` with its final reply, then moves
    /// every ready reply at the front of the queue into the write buffer.
    pub fn resolve(&mut self, seq: u64, reply: &Reply, protocol: Protocol) {
        self.resolve_with(seq, reply.payload_len(), |out| encode(reply, protocol, out));
    }

    /// [`Replies::resolve`] with the reply already encoded.
    pub fn resolve_encoded(&mut self, seq: u64, encoded: &[u8]) {
        self.resolve_with(seq, encoded.len(), |out| out.extend_from_slice(encoded));
    }

    fn resolve_with(&mut self, seq: u64, payload: usize, write: impl FnOnce(&mut Vec<u8>)) {
        if self.pending_mut(seq).is_none() || self.refuses(payload) {
            return;
        }
        let index = (seq - self.base_seq) as usize;
        if index == 0 {
            // The usual case: the oldest request completes; its reply goes
            // straight to the write buffer.
            write(&mut self.buf);
            self.queue.pop_front();
            self.base_seq += 1;
        } else {
            let at = self.late.len();
            write(&mut self.late);
            let len = self.late.len() - at;
            self.queued_bytes += len;
            self.late_slots += 1;
            self.queue[index] = Slot::Late { at, len };
        }
        self.release_ready();
    }

    /// Moves the encoded replies at the front of the queue to the write buffer.
    fn release_ready(&mut self) {
        loop {
            match self.queue.front() {
                Some(&Slot::Held(len)) => {
                    let from = self.held_read;
                    self.buf.extend_from_slice(&self.held[from..from + len]);
                    self.held_read += len;
                    self.queued_bytes -= len;
                }
                Some(&Slot::Late { at, len }) => {
                    self.buf.extend_from_slice(&self.late[at..at + len]);
                    self.queued_bytes -= len;
                    self.late_slots -= 1;
                }
                Some(Slot::Pending(_)) | None => break,
            }
            self.queue.pop_front();
            self.base_seq += 1;
        }
        if self.held_read == self.held.len() {
            self.held.clear();
            self.held_read = 0;
        } else if self.held_read > self.held.len() / 2 {
            // A queue that never empties: drop the read half.
            self.held.drain(..self.held_read);
            self.held_read = 0;
        }
        if self.late_slots == 0 {
            self.late.clear();
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
    pub(super) fn flush(&mut self, socket: &mut TcpStream) -> io::Result<usize> {
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
            if self.queue.is_empty() {
                shrink(&mut self.held);
                shrink(&mut self.late);
            }
        }
        Ok(total)
    }

    /// The write buffer's contents not yet written (tests).
    #[cfg(test)]
    fn unsent_bytes(&self) -> &[u8] {
        &self.buf[self.written..]
    }
}

/// Gives back a buffer one burst grew past [`SHRINK_ABOVE`].
fn shrink(buf: &mut Vec<u8>) {
    if buf.capacity() > SHRINK_ABOVE {
        *buf = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_leave_in_request_order() {
        let mut r: Replies<u8> = Replies::new();
        r.push(&Reply::Integer(1), Protocol::Resp2);
        let seq = r.push_pending(0);
        r.push(&Reply::Integer(3), Protocol::Resp2);
        assert_eq!(r.unsent_bytes(), b":1\r\n");
        assert_eq!(r.output_len(), 8);
        r.resolve(seq, &Reply::Integer(2), Protocol::Resp2);
        assert_eq!(r.unsent_bytes(), b":1\r\n:2\r\n:3\r\n");
        assert_eq!((r.queued(), r.output_len()), (0, 12));
    }

    #[test]
    fn out_of_order_resolution_keeps_request_order() {
        let mut r: Replies<u8> = Replies::new();
        let first = r.push_pending(1);
        r.push(&Reply::Integer(2), Protocol::Resp2);
        let third = r.push_pending(3);
        r.push(&Reply::Integer(4), Protocol::Resp2);
        r.resolve(third, &Reply::Integer(3), Protocol::Resp2);
        assert_eq!(r.unsent_bytes(), b"");
        assert_eq!(r.queued(), 4);
        r.resolve_encoded(first, b":1\r\n");
        assert_eq!(r.unsent_bytes(), b":1\r\n:2\r\n:3\r\n:4\r\n");
        assert_eq!((r.queued(), r.output_len()), (0, 16));
        assert!(r.held.is_empty() && r.late.is_empty());
    }

    #[test]
    fn a_reply_past_a_limit_is_refused_unencoded() {
        let big = Reply::bulk_from("x".repeat(100));
        let mut r: Replies<u8> = Replies::new();
        r.set_limits(0, 150);
        r.push(&big, Protocol::Resp2);
        assert_eq!((r.overflowed(), r.output_len()), (None, 108));
        r.push(&big, Protocol::Resp2);
        assert_eq!(
            (r.overflowed(), r.output_len()),
            (Some(Breach::TenantOutput), 108)
        );
        let mut r: Replies<u8> = Replies::new();
        r.set_limits(100, usize::MAX);
        r.push(&big, Protocol::Resp2);
        assert_eq!(
            (r.overflowed(), r.output_len()),
            (Some(Breach::OutputHard), 0)
        );
    }

    #[test]
    fn stale_and_duplicate_resolutions_are_ignored() {
        let mut r: Replies<u8> = Replies::new();
        let seq = r.push_pending(0);
        assert!(r.pending_mut(seq + 5).is_none());
        assert!(r.pending_mut(seq).is_some());
        r.resolve(seq, &Reply::OK, Protocol::Resp2);
        assert!(r.pending_mut(seq).is_none());
        r.resolve(seq, &Reply::Integer(9), Protocol::Resp2);
        assert_eq!(r.unsent_bytes(), b"+OK\r\n");
    }
}
