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
        Err(Stop::Invalid(e)) => Err(e),
        // The scanner saw a whole frame; the builder reads the same tokens.
        Err(Stop::Incomplete) => Ok(None),
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
                Err(Stop::Incomplete) => return Ok(None),
                Err(Stop::Invalid(e)) => {
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
enum Stop {
    Incomplete,
    Invalid(DecodeError),
}

impl From<DecodeError> for Stop {
    fn from(e: DecodeError) -> Self {
        Stop::Invalid(e)
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
fn token(buf: &[u8], pos: usize) -> Result<(Token<'_>, usize), Stop> {
    let Some(&kind) = buf.get(pos) else {
        return Err(Stop::Incomplete);
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
fn blob(buf: &[u8], kind: u8, start: usize) -> Result<(Token<'_>, usize), Stop> {
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
        return Err(Stop::Incomplete);
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
) -> Result<(&'a [u8], usize), Stop> {
    let rest = buf.get(start..).unwrap_or_default();
    let window = &rest[..rest.len().min(limit.saturating_add(1))];
    match window.iter().position(|&b| b == b'\r') {
        Some(cr) => match rest.get(cr + 1) {
            Some(b'\n') => Ok((&rest[..cr], start + cr + 2)),
            Some(_) => Err(DecodeError::MissingCrlf(what).into()),
            None => Err(Stop::Incomplete),
        },
        None if rest.len() > limit => Err(DecodeError::LineTooLong(what).into()),
        None => Err(Stop::Incomplete),
    }
}

fn too_long_as(stop: Stop, instead: DecodeError) -> Stop {
    match stop {
        Stop::Invalid(DecodeError::LineTooLong(_)) => Stop::Invalid(instead),
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
    fn value(&mut self, mut depth: usize) -> Result<Reply, Stop> {
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

    fn values(&mut self, n: u64, depth: usize) -> Result<Vec<Reply>, Stop> {
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
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::resp::{Protocol, encode};

    fn one(input: &[u8]) -> Reply {
        match decode(input) {
            Ok(Some((reply, used))) => {
                assert_eq!(
                    used,
                    input.len(),
                    "consumed for {:?}",
                    String::from_utf8_lossy(input)
                );
                reply
            }
            other => panic!("{:?} -> {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn err(input: &[u8]) -> DecodeError {
        match decode(input) {
            Err(e) => e,
            other => panic!("{:?} -> {other:?}", String::from_utf8_lossy(input)),
        }
    }

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn resp2_types() {
        assert_eq!(one(b"+OK\r\n"), Reply::OK);
        assert_eq!(one(b"+\r\n"), Reply::status(""));
        assert_eq!(
            one(b"-ERR unknown command\r\n"),
            Reply::error("ERR unknown command")
        );
        assert_eq!(one(b":0\r\n"), Reply::Integer(0));
        assert_eq!(one(b":-42\r\n"), Reply::Integer(-42));
        assert_eq!(one(b":+7\r\n"), Reply::Integer(7));
        assert_eq!(one(b":9223372036854775807\r\n"), Reply::Integer(i64::MAX));
        assert_eq!(one(b":-9223372036854775808\r\n"), Reply::Integer(i64::MIN));
        assert_eq!(one(b"$5\r\nhello\r\n"), bulk("hello"));
        assert_eq!(one(b"$0\r\n\r\n"), bulk(""));
        assert_eq!(one(b"$4\r\na\r\nb\r\n"), bulk("a\r\nb"));
        assert_eq!(one(b"$-1\r\n"), Reply::Nil);
        assert_eq!(one(b"*-1\r\n"), Reply::NilArray);
        assert_eq!(one(b"*0\r\n"), Reply::Array(vec![]));
        assert_eq!(
            one(b"*3\r\n:1\r\n$1\r\nx\r\n*1\r\n$-1\r\n"),
            Reply::Array(vec![
                Reply::Integer(1),
                bulk("x"),
                Reply::Array(vec![Reply::Nil])
            ])
        );
    }

    #[test]
    fn resp3_types() {
        assert_eq!(one(b"_\r\n"), Reply::Nil);
        assert_eq!(one(b",1.5\r\n"), Reply::Double(1.5));
        assert_eq!(one(b",-2\r\n"), Reply::Double(-2.0));
        assert_eq!(one(b",1e300\r\n"), Reply::Double(1e300));
        assert_eq!(one(b",inf\r\n"), Reply::Double(f64::INFINITY));
        assert_eq!(one(b",-inf\r\n"), Reply::Double(f64::NEG_INFINITY));
        assert!(matches!(one(b",nan\r\n"), Reply::Double(d) if d.is_nan()));
        assert_eq!(one(b"#t\r\n"), Reply::Boolean(true));
        assert_eq!(one(b"#f\r\n"), Reply::Boolean(false));
        assert_eq!(
            one(b"(3492890328409238509324850943850943825024385\r\n"),
            Reply::BigNumber("3492890328409238509324850943850943825024385".into())
        );
        assert_eq!(one(b"(-1\r\n"), Reply::BigNumber("-1".into()));
        assert_eq!(
            one(b"=15\r\ntxt:Some string\r\n"),
            Reply::Verbatim("txt", Bytes::from_static(b"Some string"))
        );
        assert_eq!(
            one(b"=6\r\nmkd:# \r\n"),
            Reply::Verbatim("mkd", Bytes::from_static(b"# "))
        );
        assert_eq!(
            one(b"=5\r\nabc:x\r\n"),
            Reply::Verbatim("txt", Bytes::from_static(b"x"))
        );
        assert_eq!(
            one(b"!21\r\nSYNTAX invalid syntax\r\n"),
            Reply::error("SYNTAX invalid syntax")
        );
        assert_eq!(
            one(b"%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n#f\r\n"),
            Reply::Map(vec![
                (Reply::status("first"), Reply::Integer(1)),
                (bulk("second"), Reply::Boolean(false))
            ])
        );
        assert_eq!(one(b"%0\r\n"), Reply::Map(vec![]));
        assert_eq!(
            one(b"~2\r\n:1\r\n_\r\n"),
            Reply::Set(vec![Reply::Integer(1), Reply::Nil])
        );
        assert_eq!(
            one(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
            Reply::Push(vec![bulk("message"), bulk("ch"), bulk("hi")])
        );
    }

    #[test]
    fn attributes_are_skipped() {
        assert_eq!(
            one(b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n:7\r\n"),
            Reply::Integer(7)
        );
        assert_eq!(
            one(b"*2\r\n|0\r\n:1\r\n:2\r\n"),
            Reply::Array(vec![Reply::Integer(1), Reply::Integer(2)])
        );
        assert_eq!(one(b"|0\r\n|0\r\n+x\r\n"), Reply::status("x"));
    }

    #[test]
    fn reports_bytes_consumed_of_the_first_value() {
        assert_eq!(
            decode(b":1\r\n:2\r\n").unwrap(),
            Some((Reply::Integer(1), 4))
        );
        assert_eq!(
            decode(b"*1\r\n+a\r\n+b\r\n").unwrap(),
            Some((Reply::Array(vec![Reply::status("a")]), 8))
        );
    }

    #[test]
    fn zero_copy_bulk() {
        let buf = Bytes::from_static(b"*2\r\n$3\r\nabc\r\n=7\r\ntxt:xyz\r\n");
        let (reply, _) = decode_bytes(&buf).unwrap().unwrap();
        let Reply::Array(items) = reply else { panic!() };
        let Reply::Bulk(b) = &items[0] else { panic!() };
        assert_eq!(b.as_ptr(), buf[8..].as_ptr());
        let Reply::Verbatim("txt", v) = &items[1] else {
            panic!()
        };
        assert_eq!(v.as_ptr(), buf[21..].as_ptr());
    }

    #[test]
    fn every_split_point_is_incomplete_then_complete() {
        let stream: &[u8] =
            b"+OK\r\n-ERR x\r\n:12\r\n$5\r\nhel\rl\r\n$-1\r\n*-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n\
            _\r\n,3.25\r\n#t\r\n(12345\r\n=8\r\ntxt:abcd\r\n%1\r\n+k\r\n~1\r\n:2\r\n>1\r\n+p\r\n\
            |1\r\n+a\r\n+b\r\n:9\r\n!3\r\nERR\r\n*0\r\n";
        let mut expected = Vec::new();
        let mut at = 0;
        while at < stream.len() {
            let (reply, used) = decode(&stream[at..]).unwrap().unwrap();
            expected.push((at, reply, used));
            at += used;
        }
        assert_eq!(expected.len(), 17);
        for (start, reply, used) in &expected {
            let frame = &stream[*start..];
            for cut in 0..*used {
                assert_eq!(
                    decode(&frame[..cut]).unwrap(),
                    None,
                    "value at {start}, cut {cut}"
                );
            }
            // A resumable scanner fed one byte more per call agrees.
            let mut scanner = FrameScanner::new();
            for cut in 0..*used {
                assert_eq!(scanner.scan(&frame[..cut]).unwrap(), None);
            }
            assert_eq!(scanner.scan(frame).unwrap(), Some(*used));
            let (again, n) = decode(&frame[..*used]).unwrap().unwrap();
            assert_eq!((&again, n), (reply, *used));
        }
    }

    #[test]
    fn invalid_input() {
        assert_eq!(err(b"?\r\n"), DecodeError::InvalidType('?'));
        assert_eq!(err(b":12a\r\n"), DecodeError::InvalidInteger);
        assert_eq!(
            err(b":99999999999999999999\r\n"),
            DecodeError::InvalidInteger
        );
        assert_eq!(err(b":1\rx"), DecodeError::MissingCrlf("integer"));
        assert_eq!(err(b"$3\r\nabcde"), DecodeError::MissingCrlf("bulk string"));
        assert_eq!(decode(b"$3\r\nabc").unwrap(), None);
        assert_eq!(decode(b"$3\r\nabc\r").unwrap(), None);
        assert_eq!(err(b"$3\r\nabcd"), DecodeError::MissingCrlf("bulk string"));
        assert_eq!(
            err(b"$3\r\nabc\rx"),
            DecodeError::MissingCrlf("bulk string")
        );
        assert_eq!(
            err(b"$-2\r\n"),
            DecodeError::NegativeLength {
                kind: "bulk string",
                len: -2
            }
        );
        assert_eq!(err(b"$x\r\n"), DecodeError::InvalidLength("bulk string"));
        assert_eq!(err(b"$?\r\n"), DecodeError::Streamed);
        assert_eq!(
            err(b"%-1\r\n"),
            DecodeError::NegativeLength {
                kind: "map",
                len: -1
            }
        );
        assert_eq!(err(b"#x\r\n"), DecodeError::InvalidBoolean);
        assert_eq!(err(b"#tt"), DecodeError::InvalidBoolean);
        assert_eq!(err(b"_x"), DecodeError::InvalidNull);
        assert_eq!(err(b",abc\r\n"), DecodeError::InvalidDouble);
        assert_eq!(err(b",infinity\r\n"), DecodeError::InvalidDouble);
        assert_eq!(err(b"(12a\r\n"), DecodeError::InvalidBigNumber);
        assert_eq!(err(b"=3\r\ntxt\r\n"), DecodeError::InvalidVerbatim);
        assert_eq!(err(b"=4\r\ntxtx\r\n"), DecodeError::InvalidVerbatim);
        // A length line can't run on forever waiting for its CRLF.
        assert_eq!(err(&[b'*'; 100]), DecodeError::LineTooLong("array"));
        assert_eq!(
            err(b"$1111111111111111111111111111111111111"),
            DecodeError::LineTooLong("bulk string")
        );
    }

    #[test]
    fn caps_before_allocating() {
        assert_eq!(
            err(b"$536870913\r\n"),
            DecodeError::BulkTooLong(536_870_913)
        );
        assert_eq!(decode(b"$536870912\r\nabc").unwrap(), None);
        assert_eq!(
            err(b"*4294967297\r\n"),
            DecodeError::AggregateTooLong(4_294_967_297)
        );
        // A huge announced count with few elements present is just incomplete.
        assert_eq!(decode(b"*4294967296\r\n:1\r\n:2\r\n").unwrap(), None);
        assert_eq!(decode(b"%4294967296\r\n").unwrap(), None);
    }

    #[test]
    fn nesting_is_limited() {
        let nested = |depth: usize| {
            let mut v = b"*1\r\n".repeat(depth);
            v.extend_from_slice(b":1\r\n");
            v
        };
        assert!(matches!(decode(&nested(MAX_DEPTH)), Ok(Some(_))));
        assert_eq!(
            decode(&nested(MAX_DEPTH + 1)).unwrap_err(),
            DecodeError::TooDeep
        );
        // Deep input that never completes still errors, without recursion.
        assert_eq!(
            decode(&b"*1\r\n".repeat(100_000)).unwrap_err(),
            DecodeError::TooDeep
        );
        assert_eq!(
            decode(&b"|1\r\n".repeat(200)).unwrap_err(),
            DecodeError::TooDeep
        );
        let mut empty_at_limit = b"*1\r\n".repeat(MAX_DEPTH);
        empty_at_limit.extend_from_slice(b"*0\r\n");
        assert_eq!(decode(&empty_at_limit).unwrap_err(), DecodeError::TooDeep);
    }

    fn text_line() -> impl Strategy<Value = String> {
        "[^\r\n]{0,20}"
    }

    fn arb_reply() -> impl Strategy<Value = Reply> {
        let leaf = prop_oneof![
            text_line().prop_map(|s| Reply::Status(s.into())),
            text_line().prop_map(|s| Reply::Error(s.into())),
            any::<i64>().prop_map(Reply::Integer),
            prop::collection::vec(any::<u8>(), 0..24).prop_map(|b| Reply::Bulk(b.into())),
            Just(Reply::Nil),
            prop::num::f64::NORMAL.prop_map(Reply::Double),
            Just(Reply::Double(0.0)),
            Just(Reply::Double(f64::INFINITY)),
            Just(Reply::Double(f64::NEG_INFINITY)),
            any::<bool>().prop_map(Reply::Boolean),
            prop::collection::vec(any::<u8>(), 0..24)
                .prop_map(|b| Reply::Verbatim("txt", b.into())),
            "-?[1-9][0-9]{0,40}".prop_map(Reply::BigNumber),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Reply::Array),
                prop::collection::vec(inner.clone(), 0..6).prop_map(Reply::Set),
                prop::collection::vec(inner.clone(), 0..6).prop_map(Reply::Push),
                prop::collection::vec((inner.clone(), inner), 0..4).prop_map(Reply::Map),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
            let _ = decode_bytes(&Bytes::from(bytes));
        }

        #[test]
        fn mangled_frames_never_panic(reply in arb_reply(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut buf = Vec::new();
            encode(&reply, Protocol::Resp3, &mut buf);
            let i = at.index(buf.len());
            buf[i] = byte;
            let _ = decode(&buf);
            let _ = decode(&buf[..i]);
        }

        #[test]
        fn round_trips_through_encode(reply in arb_reply(), trailing in prop::collection::vec(any::<u8>(), 0..8)) {
            let mut buf = Vec::new();
            encode(&reply, Protocol::Resp3, &mut buf);
            let len = buf.len();
            buf.extend_from_slice(&trailing);
            let (decoded, used) = decode(&buf).unwrap().unwrap();
            prop_assert_eq!(used, len);
            prop_assert_eq!(&decoded, &reply);
            let bytes = Bytes::from(buf);
            prop_assert_eq!(decode_bytes(&bytes).unwrap().unwrap(), (reply.clone(), len));
            prop_assert_eq!(decode(&bytes[..len - 1]).unwrap(), None);
        }
    }
}
