//! Request framing: commands out of a connection's read buffer.
//!
//! A client sends either a multibulk array of bulk strings
//! (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or an inline line (`GET k\r\n`, what a
//! person types into telnet). [`RequestParser::parse`] looks at the bytes the
//! connection has buffered so far and either finds one whole command, says it
//! needs more bytes, or reports the protocol error Redis would report.
//!
//! Multibulk arguments are never copied: the parser records spans into the
//! caller's buffer and [`Args`] hands out `&[u8]` slices of it. Progress through
//! a long frame is kept between calls, so a frame that arrives in a thousand
//! reads is scanned once, not a thousand times. Every length is checked against
//! [`ParseLimits`] before it is trusted; the parser itself never allocates in
//! proportion to a length the client claims.

use std::fmt;

use thiserror::Error;

/// Longest inline command, and longest `*<count>` / `$<len>` header line
/// (Redis's `PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX: usize = 64 * 1024;

/// Bounds on what a client may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseLimits {
    /// Largest bulk argument (`proto-max-bulk-len`, 512 MiB by default).
    pub max_bulk_len: usize,
    /// Largest argument count of one command (Redis: `INT_MAX`).
    pub max_multibulk_len: usize,
    /// Unauthenticated connections may only send tiny frames, as in Redis:
    /// at most 10 arguments of at most 16 KiB each.
    pub authenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            authenticated: true,
        }
    }
}

/// A malformed request. The connection answers `-ERR <Display>` and closes,
/// as Redis does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// An inline command longer than [`INLINE_MAX`] without a newline.
    #[error("Protocol error: too big inline request")]
    InlineTooBig,
    /// Quotes in an inline command that never close.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// A `*<count>` line longer than [`INLINE_MAX`].
    #[error("Protocol error: too big mbulk count string")]
    MultibulkCountTooBig,
    /// `*<count>` that is not a number or is out of range.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// An array element that is not a bulk string.
    #[error("Protocol error: expected '$', got '{}'", *.0 as char)]
    ExpectedBulk(u8),
    /// A `$<len>` line longer than [`INLINE_MAX`].
    #[error("Protocol error: too big bulk count string")]
    BulkCountTooBig,
    /// `$<len>` that is not a number, negative or over `proto-max-bulk-len`.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// More than 10 arguments before authentication.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// An argument over 16 KiB before authentication.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

/// Where one argument lies: in the read buffer (multibulk) or in the
/// parser's own scratch (inline, which may need unescaping).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        // Buffers are capped well below 4 GiB (query buffer limit), so
        // offsets fit; saturate rather than wrap if a caller ever breaks that.
        Span {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }
}

/// Progress through a multibulk frame that has not fully arrived.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    /// Offset of the next unparsed byte.
    pos: usize,
    /// Arguments the frame declared (0 = header not read yet).
    declared: usize,
}

/// Splits commands out of a read buffer. One per connection; it remembers how
/// far it got into a partial frame, so the caller must pass the same buffer
/// again (with more bytes appended) until a frame completes.
#[derive(Debug, Default)]
pub struct RequestParser {
    limits: ParseLimits,
    spans: Vec<Span>,
    inline: Vec<u8>,
    is_inline: bool,
    pending: Pending,
}

/// The arguments of one command, borrowed from the read buffer (or the
/// parser's inline scratch). Argument 0 is the command name.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    buf: &'a [u8],
    spans: &'a [Span],
}

impl<'a> Args<'a> {
    /// Number of arguments, the command name included.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True for an empty command (`*0\r\n` or a blank line); callers skip it.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i`.
    ///
    /// # Panics
    /// If `i >= len()`; command code checks arity first.
    pub fn get(&self, i: usize) -> &'a [u8] {
        let s = self.spans[i];
        &self.buf[s.start as usize..s.end as usize]
    }

    /// Argument `i`, or `None` past the end.
    pub fn try_get(&self, i: usize) -> Option<&'a [u8]> {
        (i < self.spans.len()).then(|| self.get(i))
    }

    /// All arguments in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let buf = self.buf;
        self.spans
            .iter()
            .map(move |s| &buf[s.start as usize..s.end as usize])
    }

    /// Total argument bytes (for accounting and forwarding).
    pub fn byte_len(&self) -> usize {
        self.spans.iter().map(|s| (s.end - s.start) as usize).sum()
    }
}

impl fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|a| String::from_utf8_lossy(a)))
            .finish()
    }
}

/// Arguments that own their bytes: a command travelling to another core, or
/// one built by the server itself. Borrow them as [`Args`] with
/// [`OwnedArgs::args`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OwnedArgs {
    buf: Vec<u8>,
    spans: smallvec::SmallVec<[Span; 6]>,
}

impl OwnedArgs {
    /// Copies `parts` into one allocation.
    pub fn new<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> OwnedArgs {
        let mut owned = OwnedArgs::default();
        for part in parts {
            owned.push(part);
        }
        owned
    }

    /// Appends one argument.
    pub fn push(&mut self, part: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(part);
        self.spans.push(Span::new(start, self.buf.len()));
    }

    /// Copies `parts` into `buf` (emptied first), reusing its capacity: a
    /// pooled buffer makes a copy that does not allocate.
    pub fn from_buffer<'a>(
        mut buf: Vec<u8>,
        parts: impl IntoIterator<Item = &'a [u8]>,
    ) -> OwnedArgs {
        buf.clear();
        let mut owned = OwnedArgs {
            buf,
            spans: smallvec::SmallVec::new(),
        };
        for part in parts {
            owned.push(part);
        }
        owned
    }

    /// The buffer the arguments were copied into, for reuse.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// The arguments as [`Args`].
    pub fn args(&self) -> Args<'_> {
        Args {
            buf: &self.buf,
            spans: &self.spans,
        }
    }
}

impl fmt::Debug for OwnedArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.args().fmt(f)
    }
}

impl<'a> Args<'a> {
    /// Copies these arguments so they can leave the read buffer.
    pub fn to_owned_args(&self) -> OwnedArgs {
        OwnedArgs::new(self.iter())
    }
}

impl RequestParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: ParseLimits) -> RequestParser {
        RequestParser {
            limits,
            ..RequestParser::default()
        }
    }

    /// Changes the limits (after `AUTH`, or `CONFIG SET proto-max-bulk-len`).
    pub fn set_limits(&mut self, limits: ParseLimits) {
        self.limits = limits;
    }

    /// The limits in force.
    pub fn limits(&self) -> ParseLimits {
        self.limits
    }

    /// Looks for one whole command at the start of `buf`.
    ///
    /// Returns `Ok(Some(consumed))` when a command is complete (read it with
    /// [`RequestParser::args`] before changing `buf`, then drop `consumed`
    /// bytes), `Ok(None)` when more bytes are needed, or the protocol error.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if buf.is_empty() {
            return Ok(None);
        }
        if buf[0] == b'*' {
            self.parse_multibulk(buf)
        } else {
            self.parse_inline(buf)
        }
    }

    /// The arguments of the command the last successful [`parse`](Self::parse)
    /// found in `buf`.
    pub fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        Args {
            buf: if self.is_inline { &self.inline } else { buf },
            spans: &self.spans,
        }
    }

    /// Bytes still missing from the bulk argument being read, if one is in
    /// flight: lets the connection grow its buffer once for a large value.
    pub fn bulk_remaining(&self, buf: &[u8]) -> Option<usize> {
        let last = self.spans.last()?;
        (self.pending.declared > 0 && (last.end as usize) > buf.len())
            .then(|| last.end as usize + 2 - buf.len())
    }

    fn parse_multibulk(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        self.is_inline = false;
        if self.pending.declared == 0 {
            self.spans.clear();
            let Some((count, next)) = header_line(buf, 0, ProtocolError::MultibulkCountTooBig)?
            else {
                return Ok(None);
            };
            let count = parse_int(count).ok_or(ProtocolError::InvalidMultibulkLength)?;
            if count > self.limits.max_multibulk_len as i64 || count > i32::MAX as i64 {
                return Err(ProtocolError::InvalidMultibulkLength);
            }
            if !self.limits.authenticated && count > 10 {
                return Err(ProtocolError::UnauthenticatedMultibulkLength);
            }
            if count <= 0 {
                return Ok(Some(next));
            }
            self.pending = Pending {
                pos: next,
                declared: count as usize,
            };
        }
        // A span pushed for a bulk whose body had not arrived yet is
        // re-checked here before reading further headers.
        if let Some(last) = self.spans.last()
            && last.end as usize + 2 > buf.len()
        {
            return Ok(None);
        }
        while self.spans.len() < self.pending.declared {
            let pos = self.pending.pos;
            let Some((len, body)) = header_line(buf, pos, ProtocolError::BulkCountTooBig)? else {
                return Ok(None);
            };
            if buf[pos] != b'$' {
                return Err(ProtocolError::ExpectedBulk(buf[pos]));
            }
            let len = parse_int(len).ok_or(ProtocolError::InvalidBulkLength)?;
            if len < 0 || len as u64 > self.limits.max_bulk_len as u64 {
                return Err(ProtocolError::InvalidBulkLength);
            }
            if !self.limits.authenticated && len > 16384 {
                return Err(ProtocolError::UnauthenticatedBulkLength);
            }
            let end = body + len as usize;
            self.spans.push(Span::new(body, end));
            // Like Redis, the two bytes after the body are skipped unchecked.
            self.pending.pos = end + 2;
            if self.pending.pos > buf.len() {
                return Ok(None);
            }
        }
        let consumed = self.pending.pos;
        self.pending = Pending::default();
        Ok(Some(consumed))
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        self.is_inline = true;
        self.pending = Pending::default();
        let Some(newline) = memchr(b'\n', buf) else {
            if buf.len() > INLINE_MAX {
                return Err(ProtocolError::InlineTooBig);
            }
            return Ok(None);
        };
        let mut line = &buf[..newline];
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        self.spans.clear();
        self.inline.clear();
        split_into(line, &mut self.inline, &mut self.spans)
            .map_err(|()| ProtocolError::UnbalancedQuotes)?;
        Ok(Some(newline + 1))
    }
}

/// Finds the `\r\n`-terminated header line at `start`. `None` if it has not
/// fully arrived; `too_big` if it is longer than any valid header.
fn header_line(
    buf: &[u8],
    start: usize,
    too_big: ProtocolError,
) -> Result<Option<(&[u8], usize)>, ProtocolError> {
    let window = &buf[start..buf.len().min(start + INLINE_MAX + 2)];
    match memchr(b'\r', window) {
        Some(cr) if cr + 1 < window.len() => Ok(Some((&window[..cr], start + cr + 2))),
        Some(_) => Ok(None),
        None if window.len() > INLINE_MAX => Err(too_big),
        None => Ok(None),
    }
}

/// The text after the type byte of a header line, as Redis's `string2ll`:
/// optional `-`, digits, no spaces, no leading `+`.
fn parse_int(line: &[u8]) -> Option<i64> {
    let digits = line.get(1..)?;
    crate::parse_i64(digits)
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Splits one line the way redis-cli and Redis inline commands do
/// (`sdssplitargs`): whitespace separates, `"..."` understands `\n \r \t \b
/// \a \xHH` escapes, `'...'` only `\'`. A closing quote must be followed by
/// whitespace or the end. `None` on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (mut bytes, mut spans) = (Vec::new(), Vec::new());
    split_into(line, &mut bytes, &mut spans).ok()?;
    Some(
        spans
            .iter()
            .map(|s| bytes[s.start as usize..s.end as usize].to_vec())
            .collect(),
    )
}

fn split_into(line: &[u8], out: &mut Vec<u8>, spans: &mut Vec<Span>) -> Result<(), ()> {
    // A NUL ends the line, as it ends the C string Redis splits.
    let line = &line[..memchr(0, line).unwrap_or(line.len())];
    let mut p = 0;
    loop {
        while p < line.len() && line[p].is_ascii_whitespace() {
            p += 1;
        }
        if p >= line.len() {
            return Ok(());
        }
        let start = out.len();
        p = split_one(line, p, out)?;
        spans.push(Span::new(start, out.len()));
    }
}

/// Reads one token starting at `p`, appends its bytes to `out`, returns the
/// position after it.
fn split_one(line: &[u8], mut p: usize, out: &mut Vec<u8>) -> Result<usize, ()> {
    #[derive(PartialEq)]
    enum Quote {
        None,
        Double,
        Single,
    }
    let at = |i: usize| line.get(i).copied();
    let mut quote = Quote::None;
    loop {
        match quote {
            Quote::Double => match at(p) {
                None => return Err(()),
                Some(b'\\') if at(p + 1) == Some(b'x') && hex2(at(p + 2), at(p + 3)).is_some() => {
                    out.push(hex2(at(p + 2), at(p + 3)).unwrap_or(0));
                    p += 3;
                }
                Some(b'\\') if at(p + 1).is_some() => {
                    p += 1;
                    out.push(match line[p] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        c => c,
                    });
                }
                Some(b'"') => {
                    if at(p + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                        return Err(());
                    }
                    return Ok(p + 1);
                }
                Some(c) => out.push(c),
            },
            Quote::Single => match at(p) {
                None => return Err(()),
                Some(b'\\') if at(p + 1) == Some(b'\'') => {
                    out.push(b'\'');
                    p += 1;
                }
                Some(b'\'') => {
                    if at(p + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                        return Err(());
                    }
                    return Ok(p + 1);
                }
                Some(c) => out.push(c),
            },
            Quote::None => match at(p) {
                None => return Ok(p),
                Some(c) if c.is_ascii_whitespace() => return Ok(p),
                Some(b'"') => quote = Quote::Double,
                Some(b'\'') => quote = Quote::Single,
                Some(c) => out.push(c),
            },
        }
        p += 1;
    }
}

fn hex2(hi: Option<u8>, lo: Option<u8>) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16);
    Some((digit(hi?)? * 16 + digit(lo?)?) as u8)
}

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;
