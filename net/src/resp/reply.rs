//! The reply value: what a command answers, and what a client decodes.
//!
//! One enum serves both directions so that encode → decode is a round trip
//! (checked by a property test in [`super::decode`]).

use std::borrow::Cow;

use bytes::Bytes;

/// A RESP value. Commands build these; [`super::encode`] writes them in the
/// connection's protocol version, and [`super::decode`] reads them back.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK` — a simple string (no CR or LF inside).
    Status(Cow<'static, str>),
    /// `-ERR message` — the whole text, error code first (`"ERR syntax error"`).
    Error(Cow<'static, str>),
    /// `:42`
    Integer(i64),
    /// `$5\r\nhello` — binary-safe bulk string.
    Bulk(Bytes),
    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// The null array: `*-1` in RESP2, `_` in RESP3.
    NilArray,
    /// `*N` — an array.
    Array(Vec<Reply>),
    /// `%N` in RESP3; a flat array of key, value, key, value... in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// `~N` in RESP3; an array in RESP2.
    Set(Vec<Reply>),
    /// Pairs that may repeat a key (ZRANGE WITHSCORES, HRANDFIELD
    /// WITHVALUES): an array of 2-element arrays in RESP3, one flat array of
    /// first, second, first, second... in RESP2, as Redis 7 replies.
    Pairs(Vec<(Reply, Reply)>),
    /// A map whose RESP2 form is an array of `[key, value]` arrays rather
    /// than a flat array (XREAD, XREADGROUP): `%N` in RESP3.
    KeyedArrays(Vec<(Reply, Reply)>),
    /// `,3.14` in RESP3; a bulk string in RESP2.
    Double(f64),
    /// `#t` in RESP3; the integer 1 or 0 in RESP2.
    Boolean(bool),
    /// `=15\r\ntxt:...` in RESP3 (the three-letter format first); a bulk string in RESP2.
    Verbatim(&'static str, Bytes),
    /// `(123...` in RESP3; a bulk string in RESP2.
    BigNumber(String),
    /// `>N` — an out-of-band push (RESP3 only; an array in RESP2).
    Push(Vec<Reply>),
}

impl Reply {
    /// `+OK`, the most common reply.
    pub const OK: Reply = Reply::Status(Cow::Borrowed("OK"));

    /// An error reply from a static message such as `"ERR syntax error"`.
    pub const fn error(message: &'static str) -> Reply {
        Reply::Error(Cow::Borrowed(message))
    }

    /// An error reply from a formatted message.
    pub fn error_owned(message: String) -> Reply {
        Reply::Error(Cow::Owned(message))
    }

    /// A status reply from a static string.
    pub const fn status(text: &'static str) -> Reply {
        Reply::Status(Cow::Borrowed(text))
    }

    /// A bulk reply copied from a byte slice.
    pub fn bulk_from(bytes: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(bytes.as_ref()))
    }

    /// A bulk reply, or nil for `None`.
    pub fn bulk_or_nil(value: Option<Bytes>) -> Reply {
        value.map_or(Reply::Nil, Reply::Bulk)
    }

    /// The bytes of text this reply carries, summed over its elements: a
    /// lower bound on its encoded size, found without encoding it (a
    /// connection checks a reply against its output limit first).
    pub fn payload_len(&self) -> usize {
        match self {
            Reply::Status(s) | Reply::Error(s) => s.len(),
            Reply::Bulk(b) | Reply::Verbatim(_, b) => b.len(),
            Reply::BigNumber(n) => n.len(),
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                items.iter().map(Reply::payload_len).sum()
            }
            Reply::Map(pairs) | Reply::Pairs(pairs) | Reply::KeyedArrays(pairs) => pairs
                .iter()
                .map(|(k, v)| k.payload_len() + v.payload_len())
                .sum(),
            Reply::Integer(_)
            | Reply::Nil
            | Reply::NilArray
            | Reply::Double(_)
            | Reply::Boolean(_) => 0,
        }
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

impl From<i64> for Reply {
    fn from(n: i64) -> Self {
        Reply::Integer(n)
    }
}

impl From<bool> for Reply {
    /// Redis commands that answer "did it happen" reply `:1` / `:0`.
    fn from(b: bool) -> Self {
        Reply::Integer(b as i64)
    }
}

impl From<Bytes> for Reply {
    fn from(b: Bytes) -> Self {
        Reply::Bulk(b)
    }
}
