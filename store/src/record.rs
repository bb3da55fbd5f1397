//! What a key maps to: a typed value plus its deadline.

use bytes::Bytes;

use crate::hash::Hash;
use crate::list::List;
use crate::set::Set;
use crate::stream::Stream;
use crate::zset::ZSet;

/// A stored value: a string or one of Redis's collection types. The
/// collections are boxed so a string record stays as small as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A Redis string: arbitrary bytes. `Bytes` so a reader (a reply, a JS
    /// view) shares the stored buffer instead of copying it.
    String(Bytes),
    /// A hash.
    Hash(Box<Hash>),
    /// A list.
    List(Box<List>),
    /// A set.
    Set(Box<Set>),
    /// A sorted set.
    ZSet(Box<ZSet>),
    /// A stream.
    Stream(Box<Stream>),
}

impl Value {
    /// The name Redis's `TYPE` command (and `SCAN ... TYPE`) uses for it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The string payload, or `None` for a non-string value.
    pub fn as_string(&self) -> Option<&Bytes> {
        match self {
            Value::String(b) => Some(b),
            _ => None,
        }
    }

    /// Payload bytes, the part of the value that memory accounting charges:
    /// a string's length, a collection's elements and their per-element
    /// overhead (maintained as it changes, so this is O(1)).
    pub fn payload_len(&self) -> usize {
        match self {
            Value::String(b) => b.len(),
            Value::Hash(h) => h.mem(),
            Value::List(l) => l.mem(),
            Value::Set(s) => s.mem(),
            Value::ZSet(z) => z.mem(),
            Value::Stream(s) => s.mem(),
        }
    }

    /// `OBJECT ENCODING` of a collection (`None` for a string, whose
    /// encoding depends on its contents).
    pub fn collection_encoding(&self) -> Option<&'static str> {
        match self {
            Value::String(_) => None,
            Value::Hash(h) => Some(h.encoding()),
            Value::List(l) => Some(l.encoding()),
            Value::Set(s) => Some(s.encoding()),
            Value::ZSet(z) => Some(z.encoding()),
            Value::Stream(s) => Some(s.encoding()),
        }
    }

    /// Whether `other` is this very stored value, not merely an equal one:
    /// a string by its buffer's identity; a collection (whose clone is a
    /// deep copy) by equal contents, the closest a copy can come.
    pub fn is_same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::String(x), Value::String(y)) => x.as_ptr() == y.as_ptr() && x.len() == y.len(),
            (a, b) => a == b,
        }
    }
}

/// Values and keys up to this many bytes leave the shard as copies rather
/// than shared references; see [`copy_out`].
pub const COPY_OUT_MAX: usize = 256;

/// A reader's handle on stored bytes (a GET reply, a key in a SCAN page).
///
/// Stored bytes are written as plain vectors; `bytes` gives such a buffer a
/// reference count only when it is first shared, with a separate ~32-byte
/// allocation that then lives as long as the value. Sharing every value on
/// its first read would grow memory per key by that much (measured: +24 MB
/// over 750k keys after one GET pass). Small values are copied instead (as
/// cheap as the refcount); large ones are shared, where the copy would cost
/// more than the header.
pub fn copy_out(bytes: &Bytes) -> Bytes {
    if bytes.len() <= COPY_OUT_MAX {
        Bytes::copy_from_slice(bytes)
    } else {
        bytes.clone()
    }
}

/// A sub-range of stored bytes, under the same copy-or-share rule.
pub fn copy_out_slice(bytes: &Bytes, range: std::ops::RangeInclusive<usize>) -> Bytes {
    if range.end() - range.start() < COPY_OUT_MAX {
        Bytes::copy_from_slice(&bytes[range])
    } else {
        bytes.slice(range)
    }
}

/// A key's whole state, and what travels between cores for a cross-core
/// RENAME or COPY. Cloning a string record is cheap (a `Bytes` refcount); a
/// collection's clone copies its elements.
#[derive(Debug, Clone)]
pub struct Record {
    /// The value.
    pub value: Value,
    /// Absolute deadline in unix milliseconds; `None` never expires.
    pub expire_at: Option<u64>,
    /// When (LRU) or how often (LFU) it was last accessed, as the shard's
    /// access mode reads it (see `evict`). The shard sets it when it
    /// stores the record; it is not part of a record's identity.
    pub access: u32,
}

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        self.value == other.value && self.expire_at == other.expire_at
    }
}

impl Eq for Record {}

impl Record {
    /// A record of `value` with deadline `expire_at`; the shard stamps its
    /// access when it stores it.
    pub fn new(value: Value, expire_at: Option<u64>) -> Record {
        Record {
            value,
            expire_at,
            access: 0,
        }
    }

    /// A string record without a deadline.
    pub fn string(value: Bytes) -> Record {
        Record {
            value: Value::String(value),
            expire_at: None,
            access: 0,
        }
    }

    /// Whether the record is dead at `now_ms` (a deadline equal to now counts
    /// as passed, as in Redis's `keyIsExpired`).
    pub fn is_expired_at(&self, now_ms: u64) -> bool {
        matches!(self.expire_at, Some(t) if t <= now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_name_and_payload() {
        let v = Value::String(Bytes::from_static(b"abc"));
        assert_eq!(v.type_name(), "string");
        assert_eq!(v.payload_len(), 3);
        assert_eq!(v.as_string().map(|b| &b[..]), Some(&b"abc"[..]));
    }

    #[test]
    fn expiry_boundary_is_inclusive() {
        let mut r = Record::string(Bytes::from_static(b"x"));
        assert!(!r.is_expired_at(u64::MAX));
        r.expire_at = Some(100);
        assert!(!r.is_expired_at(99));
        assert!(r.is_expired_at(100));
        assert!(r.is_expired_at(101));
    }
}
