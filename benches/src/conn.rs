//! One non-blocking connection: an output buffer of encoded requests, an
//! input buffer scanned frame by frame, and the queue of requests in flight
//! with their send times. Buffers are kept and reused, so a request costs no
//! allocation once they have grown to the working size.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Instant;

use kiln_net::resp::FrameScanner;
use mio::net::TcpStream;

use crate::BenchError;

/// Initial input buffer; doubled when one reply does not fit.
const READ_BUF: usize = 64 * 1024;

/// A request waiting for its reply.
#[derive(Debug, Clone, Copy)]
pub struct InFlight {
    /// Template index.
    pub template: u16,
    /// Request bytes.
    pub bytes: u32,
    /// When it was queued for writing.
    pub sent: Instant,
}

/// What a reply said, as far as the counters care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A value (or any non-nil, non-error reply).
    Value,
    /// Nil.
    Nil,
    /// `-MOVED slot host:port`.
    Moved,
    /// `-ASK slot host:port`.
    Ask,
    /// Any other error.
    Error,
}

/// Classifies one complete reply frame without building it.
pub fn classify(frame: &[u8]) -> Outcome {
    match frame {
        [b'_', ..] | [b'$', b'-', ..] | [b'*', b'-', ..] => Outcome::Nil,
        [b'-', rest @ ..] if rest.starts_with(b"MOVED ") => Outcome::Moved,
        [b'-', rest @ ..] if rest.starts_with(b"ASK ") => Outcome::Ask,
        [b'-' | b'!', ..] => Outcome::Error,
        _ => Outcome::Value,
    }
}

/// One connection to one node.
pub struct Conn {
    /// The socket.
    pub stream: TcpStream,
    /// Owning client.
    pub client: usize,
    /// Encoded requests not yet written.
    pub out: Vec<u8>,
    written: usize,
    input: Vec<u8>,
    /// Start of the unparsed input.
    start: usize,
    /// End of the bytes read.
    filled: usize,
    scanner: FrameScanner,
    /// Requests sent, oldest first.
    pub in_flight: VecDeque<InFlight>,
    /// Replies to setup commands (HELLO, AUTH) still to skip.
    pub setup: usize,
}

impl Conn {
    /// Wraps a connected socket; `setup` is the number of setup commands
    /// already encoded in `out`.
    pub fn new(
        stream: TcpStream,
        client: usize,
        out: Vec<u8>,
        setup: usize,
        pipeline: usize,
    ) -> Conn {
        Conn {
            stream,
            client,
            out,
            written: 0,
            input: vec![0; READ_BUF],
            start: 0,
            filled: 0,
            scanner: FrameScanner::new(),
            in_flight: VecDeque::with_capacity(pipeline),
            setup,
        }
    }

    /// Writes as much of `out` as the socket takes.
    pub fn flush(&mut self) -> Result<(), BenchError> {
        while self.written < self.out.len() {
            match self.stream.write(&self.out[self.written..]) {
                Ok(0) => return Err(BenchError::Closed),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(BenchError::Io(e)),
            }
        }
        self.out.clear();
        self.written = 0;
        Ok(())
    }

    /// Reads until the socket is drained, handing every complete reply
    /// frame to `on_reply` with its request and the time the read returned.
    /// Setup replies are checked here and not passed on; RESP3 pushes are
    /// skipped.
    pub fn read(
        &mut self,
        mut on_reply: impl FnMut(&[u8], InFlight, Instant),
    ) -> Result<(), BenchError> {
        loop {
            if self.filled == self.input.len() {
                self.make_room();
            }
            let space = self.input.len() - self.filled;
            let n = match self.stream.read(&mut self.input[self.filled..]) {
                Ok(0) => return Err(BenchError::Closed),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(BenchError::Io(e)),
            };
            self.filled += n;
            let now = Instant::now();
            while let Some(len) = self
                .scanner
                .scan(&self.input[self.start..self.filled])
                .map_err(|e| BenchError::Protocol(e.to_string()))?
            {
                let frame = &self.input[self.start..self.start + len];
                self.start += len;
                if self.setup > 0 {
                    self.setup -= 1;
                    if frame[0] == b'-' {
                        return Err(BenchError::Setup(
                            String::from_utf8_lossy(&frame[1..len - 2]).into_owned(),
                        ));
                    }
                } else if frame[0] != b'>' {
                    let request = self
                        .in_flight
                        .pop_front()
                        .ok_or_else(|| BenchError::Protocol("a reply nobody asked for".into()))?;
                    on_reply(frame, request, now);
                }
            }
            if self.start == self.filled {
                self.start = 0;
                self.filled = 0;
            }
            // A short read drained the socket: the next bytes raise a new
            // edge, so the extra read that would only say WouldBlock is skipped.
            if n < space {
                return Ok(());
            }
        }
    }

    /// Moves the unparsed tail to the front, or doubles the buffer when the
    /// tail already fills it (one reply larger than the buffer).
    fn make_room(&mut self) {
        if self.start > 0 {
            self.input.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        } else {
            self.input.resize(self.input.len() * 2, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_classify() {
        assert_eq!(classify(b"$-1\r\n"), Outcome::Nil);
        assert_eq!(classify(b"_\r\n"), Outcome::Nil);
        assert_eq!(classify(b"*-1\r\n"), Outcome::Nil);
        assert_eq!(classify(b"$0\r\n\r\n"), Outcome::Value);
        assert_eq!(classify(b"+OK\r\n"), Outcome::Value);
        assert_eq!(classify(b"-MOVED 3999 127.0.0.1:6381\r\n"), Outcome::Moved);
        assert_eq!(classify(b"-ASK 3999 127.0.0.1:6381\r\n"), Outcome::Ask);
        assert_eq!(classify(b"-ERR wrong\r\n"), Outcome::Error);
        assert_eq!(classify(b"!3\r\nerr\r\n"), Outcome::Error);
    }
}
