//! Reading RESP2 / RESP3 values: the client side of the protocol, and what
//! tests use to check the bytes a server wrote.
//!
//! [`decode`] parses one value from the start of a buffer and returns it with
//! the number of bytes it took, or `Ok(None)` while the buffer holds only part
//! of a value: short input is never an error, at any split point.
//!
//! Decoding is two passes over one tokenizer, like mini-redis's
//! `Frame::check` / `Frame::parse`:
//!
//! 1. [`FrameScanner`] walks the tokens without allocating to learn whether a
//!    whole frame is there. It is resumable: a client that calls it again after
//!    every read continues from the last complete element, so a large reply
//!    arriving in many reads is scanned once, not once per read.
//! 2. The builder turns the complete frame into a [`Reply`]. With
//!    [`decode_bytes`], bulk strings are zero-copy slices of the input.
//!
//! Every length is checked against a cap before it is trusted, aggregates
//! reserve at most [`MAX_PREALLOC`] elements up front and grow as elements
//! actually parse, and nesting is limited to [`MAX_DEPTH`] so hostile input can
//! neither exhaust memory nor overflow the stack.

use std::borrow::Cow;

use bytes::Bytes;

use super::Reply;

/// Longest bulk string (`$`, `!`, `=`) accepted: 512 MiB, Redis's
/// `proto-max-bulk-len` default.
pub const MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Largest element count an aggregate header may announce.
pub const MAX_AGGREGATE_LEN: u64 = 1 << 32;
/// Deepest nesting of aggregates (and attributes) accepted.
pub const MAX_DEPTH: usize = 128;
/// Most elements an aggregate reserves before its elements have parsed.
pub const MAX_PREALLOC: usize = 1024;

/// Longest line holding a length, an integer or a boolean.
const MAX_NUMBER_LINE: usize = 32;
/// Longest line holding a double.
const MAX_DOUBLE_LINE: usize = 512;
/// Longest simple string, simple error or big number line.
const MAX_TEXT_LINE: usize = MAX_BULK_LEN;

/// Why a buffer does not hold a valid RESP value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The first byte of a value is not a RESP2/RESP3 type marker.
    #[error("invalid RESP type byte {0:?}")]
    InvalidType(char),
    /// A line ends in CR not followed by LF, or a bulk string's payload is not
    /// followed by CRLF.
    #[error("expected CRLF after {0}")]
    MissingCrlf(&'static str),
    /// A line is longer than its type allows (a length, number or boolean line).
    #[error("{0} line too long")]
    LineTooLong(&'static str),
    /// A length is not an integer.
    #[error("invalid {0} length")]
    InvalidLength(&'static str),
    /// A length is negative (other than the RESP2 null `-1`).
    #[error("negative {kind} length {len}")]
    NegativeLength {
        /// The value kind whose length was negative.
        kind: &'static str,
        /// The length announced.
        len: i64,
    },
    /// A bulk string longer than [`MAX_BULK_LEN`].
    #[error("bulk length {0} exceeds the {MAX_BULK_LEN}-byte limit")]
    BulkTooLong(i64),
    /// An aggregate announcing more than [`MAX_AGGREGATE_LEN`] elements.
    #[error("aggregate length {0} exceeds the {MAX_AGGREGATE_LEN}-element limit")]
    AggregateTooLong(i64),
    /// Aggregates nested deeper than [`MAX_DEPTH`].
    #[error("aggregates nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A `:` line that is not a 64-bit integer.
    #[error("invalid integer")]
    InvalidInteger,
    /// A `,` line that is not a double.
    #[error("invalid double")]
    InvalidDouble,
    /// A `#` line other than `t` or `f`.
    #[error("invalid boolean")]
    InvalidBoolean,
    /// A `(` line that is not an optionally signed run of digits.
    #[error("invalid big number")]
    InvalidBigNumber,
    /// A `_` null with something before its CRLF.
    #[error("invalid null")]
    InvalidNull,
    /// A `=` verbatim string without its `xxx:` format prefix.
    #[error("invalid verbatim string")]
    InvalidVerbatim,
    /// RESP3 streamed strings and aggregates (`$?`, `*?`) are not supported.
    #[error("streamed RESP3 values are not supported")]
    Streamed,
}

/// Decodes one value from the start of `buf`: `Ok(Some((value, consumed)))`,
/// or `Ok(None)` if `buf` holds only the beginning of a value. Bulk strings are
/// copied out of `buf`; see [`decode_bytes`] for zero-copy slices.
pub fn decode(buf: &[u8]) -> Result<Option<(Reply, usize)>, DecodeError> {
    decode_from(buf, None)
}

/// Like [`decode`], but bulk strings in the result are slices of `buf` (no
/// copy; they keep `buf`'s allocation alive).
pub fn decode_bytes(buf: &Bytes) -> Result<Option<(Reply, usize)>, DecodeError> {
    decode_from(buf, Some(buf))
}

fn decode_from(buf: &[u8], src: Option<&Bytes>) -> Result<Option<(Reply, usize)>, DecodeError> {
    let Some(len) = FrameScanner::new().scan(buf)? else {
        return Ok(None);
    };
    let mut builder = Builder {
        buf: &buf[..len],
        src,
        pos: 0,
    };
    match builder.value(0) {
        Ok(reply) => Ok(Some((reply, len))),
        Err(TokenStop::Invalid(e)) => Err(e),
        // The scanner saw a whole frame; the builder reads the same tokens.
        Err(TokenStop::Incomplete) => Ok(None),
    }
}

/// Finds where a frame ends without building it, resuming across calls.
///
/// Call [`scan`](Self::scan) with the same buffer, grown by each read, until it
/// returns the frame's length; the scanner then resets for the next frame. Do
/// not drop bytes from the front of the buffer between calls that return
/// `Ok(None)`.
#[derive(Debug, Default, Clone)]
pub struct FrameScanner {
    /// Start of the first token not yet scanned.
    pos: usize,
    /// Elements still expected by each open aggregate, outermost first.
    open: Vec<u64>,
}

impl FrameScanner {
    /// A scanner at the start of a frame.
    pub fn new() -> FrameScanner {
        FrameScanner::default()
    }

    /// `Ok(Some(len))` when `buf` starts with a complete frame of `len` bytes,
    /// `Ok(None)` when more bytes are needed.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, DecodeError> {
        loop {
            let (token, next) = match token(buf, self.pos) {
                Ok(t) => t,
                Err(TokenStop::Incomplete) => return Ok(None),
                Err(TokenStop::Invalid(e)) => {
                    self.reset();
                    return Err(e);
                }
            };
            if let Some(children) = token.children() {
                if self.open.len() >= MAX_DEPTH {
                    self.reset();
                    return Err(DecodeError::TooDeep);
                }
                self.pos = next;
                if children > 0 {
                    self.open.push(children);
                    continue;
                }
            }
            self.pos = next;
            // One element completed; close every aggregate it completes.
            loop {
                match self.open.last_mut() {
                    None => {
                        let len = self.pos;
                        self.reset();
                        return Ok(Some(len));
                    }
                    Some(left) => {
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                        self.open.pop();
                    }
                }
            }
        }
    }

    /// Forgets any partial progress.
    pub fn reset(&mut self) {
        self.pos = 0;
        self.open.clear();
    }
}

/// Why tokenizing stopped: more bytes needed, or bad bytes.
enum TokenStop {
    Incomplete,
    Invalid(DecodeError),
}

impl From<DecodeError> for TokenStop {
    fn from(e: DecodeError) -> Self {
        TokenStop::Invalid(e)
    }
}

/// One RESP token: a whole scalar, or an aggregate's header.
enum Token<'a> {
    Status(&'a [u8]),
    Error(&'a [u8]),
    Integer(i64),
    /// Byte range of the payload in the buffer.
    Bulk(usize, usize),
    Nil,
    NilArray,
    Double(f64),
    Boolean(bool),
    Verbatim(&'static str, usize, usize),
    BigNumber(&'a [u8]),
    Array(u64),
    Map(u64),
    Set(u64),
    Push(u64),
    /// `|N`: N key/value pairs of metadata, then the value they describe.
    Attribute(u64),
}

impl Token<'_> {
    /// For an aggregate header, how many values follow as its elements.
    fn children(&self) -> Option<u64> {
        match *self {
            Token::Array(n) | Token::Set(n) | Token::Push(n) => Some(n),
            Token::Map(n) => Some(n * 2),
            // The attribute's pairs, then the value it annotates.
            Token::Attribute(n) => Some(n * 2 + 1),
            _ => None,
        }
    }
}

/// Reads the token starting at `pos`; returns it and the position after it.
fn token(buf: &[u8], pos: usize) -> Result<(Token<'_>, usize), TokenStop> {
    let Some(&kind) = buf.get(pos) else {
        return Err(TokenStop::Incomplete);
    };
    let start = pos + 1;
    match kind {
        b'+' => {
            line(buf, start, MAX_TEXT_LINE, "simple string").map(|(l, n)| (Token::Status(l), n))
        }
        b'-' => line(buf, start, MAX_TEXT_LINE, "simple error").map(|(l, n)| (Token::Error(l), n)),
        b':' => {
            let (l, next) = line(buf, start, MAX_NUMBER_LINE, "integer")?;
            let n = parse_int(l).ok_or(DecodeError::InvalidInteger)?;
            Ok((Token::Integer(n), next))
        }
        b'$' | b'!' | b'=' => blob(buf, kind, start),
        b'*' | b'%' | b'~' | b'>' | b'|' => {
            let what = match kind {
                b'*' => "array",
                b'%' => "map",
                b'~' => "set",
                b'>' => "push",
                _ => "attribute",
            };
            let (l, next) = line(buf, start, MAX_NUMBER_LINE, what)?;
            if l == b"?" {
                return Err(DecodeError::Streamed.into());
            }
            let n = parse_int(l).ok_or(DecodeError::InvalidLength(what))?;
            if n == -1 && kind == b'*' {
                return Ok((Token::NilArray, next));
            }
            if n < 0 {
                return Err(DecodeError::NegativeLength { kind: what, len: n }.into());
            }
            if n as u64 > MAX_AGGREGATE_LEN {
                return Err(DecodeError::AggregateTooLong(n).into());
            }
            let n = n as u64;
            let token = match kind {
                b'*' => Token::Array(n),
                b'%' => Token::Map(n),
                b'~' => Token::Set(n),
                b'>' => Token::Push(n),
                _ => Token::Attribute(n),
            };
            Ok((token, next))
        }
        b'_' => {
            let (l, next) = line(buf, start, 0, "null")
                .map_err(|e| too_long_as(e, DecodeError::InvalidNull))?;
            if !l.is_empty() {
                return Err(DecodeError::InvalidNull.into());
            }
            Ok((Token::Nil, next))
        }
        b',' => {
            let (l, next) = line(buf, start, MAX_DOUBLE_LINE, "double")?;
            Ok((
                Token::Double(parse_double(l).ok_or(DecodeError::InvalidDouble)?),
                next,
            ))
        }
        b'#' => {
            let (l, next) = line(buf, start, 1, "boolean")
                .map_err(|e| too_long_as(e, DecodeError::InvalidBoolean))?;
            match l {
                b"t" => Ok((Token::Boolean(true), next)),
                b"f" => Ok((Token::Boolean(false), next)),
                _ => Err(DecodeError::InvalidBoolean.into()),
            }
        }
        b'(' => {
            let (l, next) = line(buf, start, MAX_TEXT_LINE, "big number")?;
            let digits = l
                .strip_prefix(b"-")
                .or_else(|| l.strip_prefix(b"+"))
                .unwrap_or(l);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(DecodeError::InvalidBigNumber.into());
            }
            Ok((Token::BigNumber(l), next))
        }
        other => Err(DecodeError::InvalidType(other as char).into()),
    }
}

/// `$`, `!` and `=`: a length line, the payload, CRLF.
fn blob(buf: &[u8], kind: u8, start: usize) -> Result<(Token<'_>, usize), TokenStop> {
    let what = match kind {
        b'$' => "bulk string",
        b'!' => "blob error",
        _ => "verbatim string",
    };
    let (l, data) = line(buf, start, MAX_NUMBER_LINE, what)?;
    if l == b"?" {
        return Err(DecodeError::Streamed.into());
    }
    let n = parse_int(l).ok_or(DecodeError::InvalidLength(what))?;
    if n == -1 && kind == b'$' {
        return Ok((Token::Nil, data));
    }
    if n < 0 {
        return Err(DecodeError::NegativeLength { kind: what, len: n }.into());
    }
    if n as u64 > MAX_BULK_LEN as u64 {
        return Err(DecodeError::BulkTooLong(n).into());
    }
    let end = data + n as usize;
    let Some(tail) = buf.get(end..end + 2) else {
        // Everything that did arrive must still be consistent.
        if buf.len() > end && buf[end] != b'\r' {
            return Err(DecodeError::MissingCrlf(what).into());
        }
        return Err(TokenStop::Incomplete);
    };
    if tail != b"\r\n" {
        return Err(DecodeError::MissingCrlf(what).into());
    }
    let token = match kind {
        b'$' => Token::Bulk(data, end),
        b'!' => Token::Error(&buf[data..end]),
        _ => {
            if n < 4 || buf[data + 3] != b':' {
                return Err(DecodeError::InvalidVerbatim.into());
            }
            let format = match &buf[data..data + 3] {
                b"mkd" => "mkd",
                _ => "txt",
            };
            Token::Verbatim(format, data + 4, end)
        }
    };
    Ok((token, end + 2))
}

/// The line starting at `start` (without its CRLF) and the position after the
/// CRLF. A line longer than `limit` is an error even before its CRLF arrives.
fn line<'a>(
    buf: &'a [u8],
    start: usize,
    limit: usize,
    what: &'static str,
) -> Result<(&'a [u8], usize), TokenStop> {
    let rest = buf.get(start..).unwrap_or_default();
    let window = &rest[..rest.len().min(limit.saturating_add(1))];
    match window.iter().position(|&b| b == b'\r') {
        Some(cr) => match rest.get(cr + 1) {
            Some(b'\n') => Ok((&rest[..cr], start + cr + 2)),
            Some(_) => Err(DecodeError::MissingCrlf(what).into()),
            None => Err(TokenStop::Incomplete),
        },
        None if rest.len() > limit => Err(DecodeError::LineTooLong(what).into()),
        None => Err(TokenStop::Incomplete),
    }
}

fn too_long_as(stop: TokenStop, instead: DecodeError) -> TokenStop {
    match stop {
        TokenStop::Invalid(DecodeError::LineTooLong(_)) => TokenStop::Invalid(instead),
        other => other,
    }
}

/// An optionally signed decimal integer that fits an `i64`.
fn parse_int(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        let d = i64::from(c - b'0');
        n = n.checked_mul(10)?;
        n = if negative {
            n.checked_sub(d)?
        } else {
            n.checked_add(d)?
        };
    }
    Some(n)
}

/// A RESP3 double: decimal or exponent notation, `inf`, `-inf`, `nan`.
fn parse_double(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    match text {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        "nan" | "-nan" => Some(f64::NAN),
        // Rust's parser also takes "infinity" and friends; nothing sends them.
        _ if text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')) =>
        {
            text.parse().ok()
        }
        _ => None,
    }
}

fn text(bytes: &[u8]) -> Cow<'static, str> {
    Cow::Owned(String::from_utf8_lossy(bytes).into_owned())
}

/// Builds a [`Reply`] from a buffer already known to hold a complete frame.
struct Builder<'a> {
    buf: &'a [u8],
    /// When set, `buf` is this `Bytes` and bulk strings slice it.
    src: Option<&'a Bytes>,
    pos: usize,
}

impl Builder<'_> {
    /// The value at `pos`, inside `depth` enclosing aggregates.
    fn value(&mut self, mut depth: usize) -> Result<Reply, TokenStop> {
        loop {
            let (token, next) = token(self.buf, self.pos)?;
            self.pos = next;
            if token.children().is_some() && depth >= MAX_DEPTH {
                return Err(DecodeError::TooDeep.into());
            }
            return Ok(match token {
                Token::Status(l) => Reply::Status(text(l)),
                Token::Error(l) => Reply::Error(text(l)),
                Token::Integer(n) => Reply::Integer(n),
                Token::Bulk(start, end) => Reply::Bulk(self.bytes(start, end)),
                Token::Nil => Reply::Nil,
                Token::NilArray => Reply::NilArray,
                Token::Double(d) => Reply::Double(d),
                Token::Boolean(b) => Reply::Boolean(b),
                Token::Verbatim(format, start, end) => {
                    Reply::Verbatim(format, self.bytes(start, end))
                }
                Token::BigNumber(l) => Reply::BigNumber(String::from_utf8_lossy(l).into_owned()),
                Token::Array(n) => Reply::Array(self.values(n, depth + 1)?),
                Token::Set(n) => Reply::Set(self.values(n, depth + 1)?),
                Token::Push(n) => Reply::Push(self.values(n, depth + 1)?),
                Token::Map(n) => {
                    let mut pairs = Vec::with_capacity(prealloc(n));
                    for _ in 0..n {
                        let key = self.value(depth + 1)?;
                        let value = self.value(depth + 1)?;
                        pairs.push((key, value));
                    }
                    Reply::Map(pairs)
                }
                Token::Attribute(n) => {
                    // Metadata the caller did not ask for: parse and drop it,
                    // then return the value it annotates (one level deeper,
                    // as the scanner counts it).
                    depth += 1;
                    for _ in 0..n * 2 {
                        self.value(depth)?;
                    }
                    continue;
                }
            });
        }
    }

    fn values(&mut self, n: u64, depth: usize) -> Result<Vec<Reply>, TokenStop> {
        let mut items = Vec::with_capacity(prealloc(n));
        for _ in 0..n {
            items.push(self.value(depth)?);
        }
        Ok(items)
    }

    fn bytes(&self, start: usize, end: usize) -> Bytes {
        match self.src {
            Some(src) => src.slice(start..end),
            None => Bytes::copy_from_slice(&self.buf[start..end]),
        }
    }
}

fn prealloc(n: u64) -> usize {
    n.min(MAX_PREALLOC as u64) as usize
}

#[cfg(test)]
mod tests;
