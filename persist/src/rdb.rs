//! One value in Redis's RDB serialization: the payload of `DUMP` and
//! `RESTORE`, so values move between Kiln and Redis either way.
//!
//! A payload is the value's RDB type byte and body, then the RDB version
//! (2 bytes, little-endian) and a CRC-64 (Jones, as Redis's `crc64`) of
//! everything before it. Kiln writes the plain encodings every Redis since
//! 2.x loads (version 10, Redis 7.0's) and reads every encoding Redis 7.0
//! and 7.2 write: integer and LZF strings, ziplists, listpacks, intsets,
//! quicklists. A payload is untrusted input: every length is checked
//! against the bytes that are left before anything is allocated.

use bytes::Bytes;
use kiln_store::Value;

/// The RDB version Kiln writes (Redis 7.0's, which 7.2 also loads).
pub const WRITE_VERSION: u16 = 10;
/// The newest RDB version Kiln reads (Redis 7.2's).
pub const READ_VERSION: u16 = 11;

const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_LIST_ZIPLIST: u8 = 10;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_ZSET_ZIPLIST: u8 = 12;
const TYPE_HASH_ZIPLIST: u8 = 13;
const TYPE_LIST_QUICKLIST: u8 = 14;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
const TYPE_SET_LISTPACK: u8 = 20;

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdbError {
    /// The version or checksum does not match (Redis's own wording).
    #[error("DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    /// The body is not a value Kiln can hold.
    #[error("Bad data format")]
    BadFormat,
    /// The value would take more than the caller's budget once decoded.
    #[error("the restored value would exceed proto-max-bulk-len once decoded")]
    TooBig,
}

/// What each decoded element is charged beyond its bytes (its handle).
const ITEM_OVERHEAD: usize = 16;

/// A value read from a payload, as plain parts for the store to build.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A string.
    String(Bytes),
    /// A list's items, head first.
    List(Vec<Bytes>),
    /// A set's members.
    Set(Vec<Bytes>),
    /// A hash's fields and values.
    Hash(Vec<(Bytes, Bytes)>),
    /// A sorted set's members and scores.
    ZSet(Vec<(Bytes, f64)>),
}

/// `value` as a `DUMP` payload.
pub fn dump(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Value::String(s) => {
            out.push(TYPE_STRING);
            put_string(&mut out, s);
        }
        Value::List(list) => {
            out.push(TYPE_LIST);
            put_len(&mut out, list.len() as u64);
            list.iter().for_each(|item| put_string(&mut out, item));
        }
        Value::Set(set) => {
            out.push(TYPE_SET);
            put_len(&mut out, set.len() as u64);
            set.iter().for_each(|m| put_string(&mut out, &m));
        }
        Value::Hash(hash) => {
            out.push(TYPE_HASH);
            put_len(&mut out, hash.len() as u64);
            for (field, value) in hash.iter() {
                put_string(&mut out, field);
                put_string(&mut out, value);
            }
        }
        Value::ZSet(zset) => {
            out.push(TYPE_ZSET_2);
            let entries = zset.entries();
            put_len(&mut out, entries.len() as u64);
            for (member, score) in entries {
                put_string(&mut out, &member);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
    }
    out.extend_from_slice(&WRITE_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The value in a `RESTORE` payload, checked, refused with
/// [`RdbError::TooBig`] once its decoded elements (each charged its bytes
/// and a handle) pass `budget` bytes: compressed strings and compact
/// encodings expand, and the caller bounds how far.
pub fn restore(payload: &[u8], budget: usize) -> Result<Payload, RdbError> {
    let Some(body_len) = payload.len().checked_sub(10) else {
        return Err(RdbError::VersionOrChecksum);
    };
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    let crc = u64::from_le_bytes(payload[body_len + 2..].try_into().expect("8 bytes"));
    if version > READ_VERSION || crc64(&payload[..body_len + 2]) != crc {
        return Err(RdbError::VersionOrChecksum);
    }
    let mut input = Input {
        data: &payload[..body_len],
        budget,
    };
    let value = input.value()?;
    let empty = match &value {
        Payload::String(_) => false,
        Payload::List(v) | Payload::Set(v) => v.is_empty(),
        Payload::Hash(v) => v.is_empty(),
        Payload::ZSet(v) => v.is_empty(),
    };
    if empty || !input.data.is_empty() {
        return Err(RdbError::BadFormat);
    }
    Ok(value)
}

fn put_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8]);
    } else if len <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// CRC-64/Jones, reflected, as Redis's `crc64` (check value
/// `0xe9c6d914c4b8d9ca` for "123456789").
pub fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5; // 0xad93d23594c935a9 reflected
    static TABLE: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = [0u64; 256];
        for (i, slot) in table.iter_mut().enumerate() {
            let mut crc = i as u64;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
            *slot = crc;
        }
        table
    });
    data.iter().fold(0u64, |crc, &b| {
        table[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// The unread part of a payload.
struct Input<'a> {
    data: &'a [u8],
    /// Decoded bytes still allowed.
    budget: usize,
}

/// A length or an integer-encoded string, as RDB's length prefix says.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        if n > self.data.len() {
            return Err(RdbError::BadFormat);
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    /// Charges decoded items against the budget.
    fn charge(&mut self, items: &[Bytes]) -> Result<(), RdbError> {
        for item in items {
            self.budget = self
                .budget
                .checked_sub(item.len() + ITEM_OVERHEAD)
                .ok_or(RdbError::TooBig)?;
        }
        Ok(())
    }

    /// A blob of compact-encoded items, decoded and charged.
    fn blob(
        &mut self,
        decode: fn(&[u8]) -> Result<Vec<Bytes>, RdbError>,
    ) -> Result<Vec<Bytes>, RdbError> {
        let blob = self.string()?;
        let items = decode(&blob)?;
        self.charge(&items)?;
        Ok(items)
    }

    fn byte(&mut self) -> Result<u8, RdbError> {
        Ok(self.take(1)?[0])
    }

    fn raw_len(&mut self) -> Result<Len, RdbError> {
        let first = self.byte()?;
        Ok(match first >> 6 {
            0 => Len::Plain(u64::from(first & 0x3f)),
            1 => Len::Plain((u64::from(first & 0x3f) << 8) | u64::from(self.byte()?)),
            2 if first == 0x80 => Len::Plain(u64::from(u32::from_be_bytes(
                self.take(4)?.try_into().expect("4 bytes"),
            ))),
            2 if first == 0x81 => Len::Plain(u64::from_be_bytes(
                self.take(8)?.try_into().expect("8 bytes"),
            )),
            2 => return Err(RdbError::BadFormat),
            _ => Len::Encoded(first & 0x3f),
        })
    }

    /// A count of elements: each takes at least `min_bytes` of what is
    /// left, so a huge count in a short payload is refused before any
    /// allocation.
    fn count(&mut self, min_bytes: usize) -> Result<usize, RdbError> {
        match self.raw_len()? {
            Len::Plain(n) if n <= (self.data.len() / min_bytes.max(1)) as u64 => Ok(n as usize),
            _ => Err(RdbError::BadFormat),
        }
    }

    fn string(&mut self) -> Result<Bytes, RdbError> {
        let s = self.raw_string()?;
        self.charge(std::slice::from_ref(&s))?;
        Ok(s)
    }

    fn raw_string(&mut self) -> Result<Bytes, RdbError> {
        match self.raw_len()? {
            Len::Plain(n) => {
                let n = usize::try_from(n).map_err(|_| RdbError::BadFormat)?;
                Ok(Bytes::copy_from_slice(self.take(n)?))
            }
            Len::Encoded(0) => Ok(int_text(i64::from(self.byte()? as i8))),
            Len::Encoded(1) => {
                let b = self.take(2)?;
                Ok(int_text(i64::from(i16::from_le_bytes([b[0], b[1]]))))
            }
            Len::Encoded(2) => {
                let b = self.take(4)?;
                Ok(int_text(i64::from(i32::from_le_bytes(
                    b.try_into().expect("4"),
                ))))
            }
            Len::Encoded(3) => {
                let compressed = self.plain_len()?;
                let len = self.plain_len()?;
                let data = self.take(compressed)?;
                if len > self.budget {
                    return Err(RdbError::TooBig);
                }
                lzf_decompress(data, len).map(Bytes::from)
            }
            Len::Encoded(_) => Err(RdbError::BadFormat),
        }
    }

    fn plain_len(&mut self) -> Result<usize, RdbError> {
        match self.raw_len()? {
            Len::Plain(n) => usize::try_from(n).map_err(|_| RdbError::BadFormat),
            Len::Encoded(_) => Err(RdbError::BadFormat),
        }
    }

    fn value(&mut self) -> Result<Payload, RdbError> {
        let kind = self.byte()?;
        Ok(match kind {
            TYPE_STRING => Payload::String(self.string()?),
            TYPE_LIST | TYPE_SET => {
                let n = self.count(1)?;
                let items = (0..n).map(|_| self.string()).collect::<Result<_, _>>()?;
                if kind == TYPE_LIST {
                    Payload::List(items)
                } else {
                    Payload::Set(items)
                }
            }
            TYPE_HASH => {
                let n = self.count(2)?;
                let pairs = (0..n)
                    .map(|_| Ok((self.string()?, self.string()?)))
                    .collect::<Result<_, _>>()?;
                Payload::Hash(pairs)
            }
            TYPE_ZSET | TYPE_ZSET_2 => {
                let n = self.count(2)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let member = self.string()?;
                    let score = if kind == TYPE_ZSET_2 {
                        f64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes"))
                    } else {
                        self.text_score()?
                    };
                    entries.push((member, checked_score(score)?));
                }
                Payload::ZSet(entries)
            }
            TYPE_SET_INTSET => Payload::Set(self.blob(intset)?),
            TYPE_LIST_ZIPLIST => Payload::List(self.blob(ziplist)?),
            TYPE_ZSET_ZIPLIST => Payload::ZSet(scored(self.blob(ziplist)?)?),
            TYPE_HASH_ZIPLIST => Payload::Hash(paired(self.blob(ziplist)?)?),
            TYPE_HASH_LISTPACK => Payload::Hash(paired(self.blob(listpack)?)?),
            TYPE_ZSET_LISTPACK => Payload::ZSet(scored(self.blob(listpack)?)?),
            TYPE_SET_LISTPACK => Payload::Set(self.blob(listpack)?),
            TYPE_LIST_QUICKLIST | TYPE_LIST_QUICKLIST_2 => {
                let nodes = self.count(1)?;
                let mut items = Vec::new();
                for _ in 0..nodes {
                    if kind == TYPE_LIST_QUICKLIST {
                        items.extend(self.blob(ziplist)?);
                        continue;
                    }
                    match self.plain_len()? {
                        // A plain node: one big item.
                        1 => items.push(self.string()?),
                        2 => items.extend(self.blob(listpack)?),
                        _ => return Err(RdbError::BadFormat),
                    }
                }
                Payload::List(items)
            }
            _ => return Err(RdbError::BadFormat),
        })
    }

    /// RDB_TYPE_ZSET's score: a length byte (253 NaN, 254 +inf, 255 -inf)
    /// then that many ASCII bytes.
    fn text_score(&mut self) -> Result<f64, RdbError> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => std::str::from_utf8(self.take(usize::from(n))?)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(RdbError::BadFormat),
        }
    }
}

fn checked_score(score: f64) -> Result<f64, RdbError> {
    if score.is_nan() {
        Err(RdbError::BadFormat)
    } else {
        Ok(score)
    }
}

fn int_text(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

/// Pairs of (field, value) from a flat list.
fn paired(flat: Vec<Bytes>) -> Result<Vec<(Bytes, Bytes)>, RdbError> {
    if !flat.len().is_multiple_of(2) {
        return Err(RdbError::BadFormat);
    }
    let mut it = flat.into_iter();
    let mut out = Vec::with_capacity(it.len() / 2);
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

/// Pairs of (member, score) from a flat list of member, score text.
fn scored(flat: Vec<Bytes>) -> Result<Vec<(Bytes, f64)>, RdbError> {
    paired(flat)?
        .into_iter()
        .map(|(member, score)| {
            let score = std::str::from_utf8(&score)
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .ok_or(RdbError::BadFormat)?;
            Ok((member, checked_score(score)?))
        })
        .collect()
}

/// An intset blob: encoding width (2, 4, 8), count, little-endian ints.
fn intset(blob: &[u8]) -> Result<Vec<Bytes>, RdbError> {
    if blob.len() < 8 {
        return Err(RdbError::BadFormat);
    }
    let width = u32::from_le_bytes(blob[0..4].try_into().expect("4")) as usize;
    let count = u32::from_le_bytes(blob[4..8].try_into().expect("4")) as usize;
    if !matches!(width, 2 | 4 | 8) || blob.len() - 8 != count.saturating_mul(width) {
        return Err(RdbError::BadFormat);
    }
    Ok(blob[8..]
        .chunks_exact(width)
        .map(|c| {
            let n = match width {
                2 => i64::from(i16::from_le_bytes([c[0], c[1]])),
                4 => i64::from(i32::from_le_bytes(c.try_into().expect("4"))),
                _ => i64::from_le_bytes(c.try_into().expect("8")),
            };
            int_text(n)
        })
        .collect())
}

/// A listpack blob's entries, as strings (integers as their text).
fn listpack(blob: &[u8]) -> Result<Vec<Bytes>, RdbError> {
    let bad = RdbError::BadFormat;
    if blob.len() < 7
        || u32::from_le_bytes(blob[0..4].try_into().expect("4")) as usize != blob.len()
    {
        return Err(bad);
    }
    let mut at = 6;
    let mut out = Vec::new();
    loop {
        let b = *blob.get(at).ok_or(RdbError::BadFormat)?;
        if b == 0xff {
            break;
        }
        let get = |from: usize, n: usize| blob.get(from..from + n).ok_or(RdbError::BadFormat);
        let (item, size) = if b & 0x80 == 0 {
            (int_text(i64::from(b & 0x7f)), 1)
        } else if b & 0xc0 == 0x80 {
            let n = usize::from(b & 0x3f);
            (Bytes::copy_from_slice(get(at + 1, n)?), 1 + n)
        } else if b & 0xe0 == 0xc0 {
            let raw = (i64::from(b & 0x1f) << 8) | i64::from(get(at + 1, 1)?[0]);
            let n = if raw >= 1 << 12 { raw - (1 << 13) } else { raw };
            (int_text(n), 2)
        } else if b & 0xf0 == 0xe0 {
            let n = (usize::from(b & 0x0f) << 8) | usize::from(get(at + 1, 1)?[0]);
            (Bytes::copy_from_slice(get(at + 2, n)?), 2 + n)
        } else {
            match b {
                0xf0 => {
                    let n = u32::from_le_bytes(get(at + 1, 4)?.try_into().expect("4")) as usize;
                    (Bytes::copy_from_slice(get(at + 5, n)?), 5 + n)
                }
                0xf1 => {
                    let c = get(at + 1, 2)?;
                    (int_text(i64::from(i16::from_le_bytes([c[0], c[1]]))), 3)
                }
                0xf2 => {
                    let c = get(at + 1, 3)?;
                    let n = i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8;
                    (int_text(i64::from(n)), 4)
                }
                0xf3 => {
                    let c = get(at + 1, 4)?;
                    (
                        int_text(i64::from(i32::from_le_bytes(c.try_into().expect("4")))),
                        5,
                    )
                }
                0xf4 => {
                    let c = get(at + 1, 8)?;
                    (int_text(i64::from_le_bytes(c.try_into().expect("8"))), 9)
                }
                _ => return Err(bad),
            }
        };
        out.push(item);
        // The entry's back-length: its size in 7-bit groups.
        let backlen = match size {
            0..=127 => 1,
            128..=16_383 => 2,
            16_384..=2_097_151 => 3,
            2_097_152..=268_435_455 => 4,
            _ => 5,
        };
        at += size + backlen;
    }
    if at + 1 != blob.len() {
        return Err(bad);
    }
    Ok(out)
}

/// A ziplist blob's entries, as strings (integers as their text).
fn ziplist(blob: &[u8]) -> Result<Vec<Bytes>, RdbError> {
    let bad = RdbError::BadFormat;
    if blob.len() < 11
        || u32::from_le_bytes(blob[0..4].try_into().expect("4")) as usize != blob.len()
    {
        return Err(bad);
    }
    let mut at = 10;
    let mut out = Vec::new();
    let get = |from: usize, n: usize| blob.get(from..from + n).ok_or(RdbError::BadFormat);
    loop {
        let first = get(at, 1)?[0];
        if first == 0xff {
            break;
        }
        // The previous entry's length: 1 byte, or 0xfe and 4 bytes.
        at += if first == 0xfe { 5 } else { 1 };
        let enc = get(at, 1)?[0];
        let (item, size) = match enc >> 6 {
            0 => {
                let n = usize::from(enc & 0x3f);
                (Bytes::copy_from_slice(get(at + 1, n)?), 1 + n)
            }
            1 => {
                let n = (usize::from(enc & 0x3f) << 8) | usize::from(get(at + 1, 1)?[0]);
                (Bytes::copy_from_slice(get(at + 2, n)?), 2 + n)
            }
            2 => {
                let n = u32::from_be_bytes(get(at + 1, 4)?.try_into().expect("4")) as usize;
                (Bytes::copy_from_slice(get(at + 5, n)?), 5 + n)
            }
            _ => match enc {
                0xc0 => {
                    let c = get(at + 1, 2)?;
                    (int_text(i64::from(i16::from_le_bytes([c[0], c[1]]))), 3)
                }
                0xd0 => {
                    let c = get(at + 1, 4)?;
                    (
                        int_text(i64::from(i32::from_le_bytes(c.try_into().expect("4")))),
                        5,
                    )
                }
                0xe0 => {
                    let c = get(at + 1, 8)?;
                    (int_text(i64::from_le_bytes(c.try_into().expect("8"))), 9)
                }
                0xf0 => {
                    let c = get(at + 1, 3)?;
                    let n = i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8;
                    (int_text(i64::from(n)), 4)
                }
                0xfe => (int_text(i64::from(get(at + 1, 1)?[0] as i8)), 2),
                0xf1..=0xfd => (int_text(i64::from(enc & 0x0f) - 1), 1),
                _ => return Err(bad),
            },
        };
        out.push(item);
        at += size;
    }
    if at + 1 != blob.len() {
        return Err(bad);
    }
    Ok(out)
}

/// LZF decompression into exactly `len` bytes.
fn lzf_decompress(input: &[u8], len: usize) -> Result<Vec<u8>, RdbError> {
    let bad = RdbError::BadFormat;
    // Output is bounded by what LZF can expand to: at most ~264 bytes of
    // output per input byte (a 2-byte back reference copies up to 264).
    if len > input.len().saturating_mul(264) {
        return Err(bad);
    }
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            let lit = input.get(i..i + n).ok_or(RdbError::BadFormat)?;
            if out.len() + n > len {
                return Err(bad);
            }
            out.extend_from_slice(lit);
            i += n;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i).ok_or(RdbError::BadFormat)?);
                i += 1;
            }
            n += 2;
            let low = usize::from(*input.get(i).ok_or(RdbError::BadFormat)?);
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            if back > out.len() || out.len() + n > len {
                return Err(bad);
            }
            let from = out.len() - back;
            for k in 0..n {
                out.push(out[from + k]);
            }
        }
    }
    if out.len() != len {
        return Err(bad);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use kiln_store::{EncodingLimits, Hash, List, Set, ZSet};

    use super::*;

    const BUDGET: usize = 1 << 20;

    #[test]
    fn crc64_matches_redis() {
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn every_type_round_trips() {
        let limits = EncodingLimits::default();
        let mut list = List::new();
        list.push(kiln_store::End::Right, &[b"a", b"", b"123"], &limits);
        let mut set = Set::new();
        set.add(b"x", &limits);
        set.add(b"7", &limits);
        let mut hash = Hash::new();
        hash.insert(b"f", b"v", &limits);
        let mut zset = ZSet::new();
        zset.insert(b"m", 1.5, &limits);
        zset.insert(b"n", f64::NEG_INFINITY, &limits);
        let long = Bytes::from(vec![b'x'; 20_000]);
        let cases = [
            (Value::String(long.clone()), Payload::String(long)),
            (
                Value::List(Box::new(list)),
                Payload::List(vec!["a".into(), "".into(), "123".into()]),
            ),
            (
                Value::Hash(Box::new(hash)),
                Payload::Hash(vec![("f".into(), "v".into())]),
            ),
            (
                Value::ZSet(Box::new(zset)),
                Payload::ZSet(vec![("n".into(), f64::NEG_INFINITY), ("m".into(), 1.5)]),
            ),
        ];
        for (value, want) in cases {
            assert_eq!(restore(&dump(&value), BUDGET).unwrap(), want);
        }
        let Payload::Set(mut members) = restore(&dump(&Value::Set(Box::new(set))), BUDGET).unwrap()
        else {
            panic!("set")
        };
        members.sort();
        assert_eq!(members, [Bytes::from("7"), Bytes::from("x")]);
    }

    #[test]
    fn a_damaged_payload_is_refused_at_every_byte() {
        let payload = dump(&Value::String(Bytes::from_static(b"hello")));
        for at in 0..payload.len() {
            let mut bad = payload.clone();
            bad[at] ^= 0x01;
            assert!(restore(&bad, BUDGET).is_err(), "flipped byte {at}");
            assert!(restore(&payload[..at], BUDGET).is_err(), "cut at {at}");
        }
    }

    /// Wraps a body in a valid trailer.
    fn sealed(body: &[u8]) -> Vec<u8> {
        let mut out = body.to_vec();
        out.extend_from_slice(&11u16.to_le_bytes());
        let crc = crc64(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    #[test]
    fn redis_compact_encodings_are_read() {
        // A listpack of "a", 5, -3 (13-bit int), as a set (RDB 11).
        let mut lp = vec![0, 0, 0, 0, 3, 0];
        lp.extend_from_slice(&[0x81, b'a', 2]); // 6-bit string, backlen 2
        lp.extend_from_slice(&[5, 1]); // 7-bit uint
        lp.extend_from_slice(&[0xdf, 0xfd, 2]); // 13-bit int -3
        lp.push(0xff);
        let total = lp.len() as u32;
        lp[0..4].copy_from_slice(&total.to_le_bytes());
        let mut body = vec![TYPE_SET_LISTPACK];
        put_string(&mut body, &lp);
        assert_eq!(
            restore(&sealed(&body), BUDGET).unwrap(),
            Payload::Set(vec!["a".into(), "5".into(), "-3".into()])
        );
        // An intset of 2-byte ints.
        let mut is = vec![2, 0, 0, 0, 2, 0, 0, 0];
        is.extend_from_slice(&(-2i16).to_le_bytes());
        is.extend_from_slice(&300i16.to_le_bytes());
        let mut body = vec![TYPE_SET_INTSET];
        put_string(&mut body, &is);
        assert_eq!(
            restore(&sealed(&body), BUDGET).unwrap(),
            Payload::Set(vec!["-2".into(), "300".into()])
        );
        // An int-encoded string and an LZF one ("aaaaaaaaaa": literal a,
        // back reference of 9 at distance 1).
        assert_eq!(
            restore(&sealed(&[TYPE_STRING, 0xc1, 0x39, 0x30]), BUDGET).unwrap(),
            Payload::String("12345".into())
        );
        assert_eq!(
            restore(
                &sealed(&[TYPE_STRING, 0xc3, 5, 10, 0, b'a', 0xe0, 0, 0]),
                BUDGET
            )
            .unwrap(),
            Payload::String("aaaaaaaaaa".into())
        );
    }

    #[test]
    fn hostile_counts_and_lengths_allocate_nothing() {
        for body in [
            vec![
                TYPE_LIST, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
            vec![TYPE_STRING, 0x80, 0xff, 0xff, 0xff, 0xff],
            vec![TYPE_STRING, 0xc3, 1, 0x80, 0xff, 0xff, 0xff, 0xff, 0],
            vec![TYPE_LIST_QUICKLIST_2, 1, 9, 0],
            vec![TYPE_ZSET_2, 1, 1, b'm', 0, 0, 0, 0, 0, 0, 0xf8, 0x7f], // NaN
            vec![TYPE_LIST, 0],                                          // empty
            vec![42],
        ] {
            let refused = restore(&sealed(&body), BUDGET);
            assert!(
                matches!(refused, Err(RdbError::BadFormat | RdbError::TooBig)),
                "{body:?}: {refused:?}"
            );
        }
        let newer = {
            let mut out = vec![TYPE_STRING, 1, b'x'];
            out.extend_from_slice(&12u16.to_le_bytes());
            let crc = crc64(&out);
            out.extend_from_slice(&crc.to_le_bytes());
            out
        };
        assert_eq!(restore(&newer, BUDGET), Err(RdbError::VersionOrChecksum));
    }

    #[test]
    fn expansion_past_the_budget_is_refused() {
        // 10 bytes of LZF that expand to 10 bytes, under a 9-byte budget.
        let lzf = sealed(&[TYPE_STRING, 0xc3, 5, 10, 0, b'a', 0xe0, 0, 0]);
        assert_eq!(restore(&lzf, 9), Err(RdbError::TooBig));
        let list = dump(&Value::String(Bytes::from(vec![b'x'; 100])));
        assert_eq!(restore(&list, 100), Err(RdbError::TooBig));
        assert!(restore(&list, 100 + ITEM_OVERHEAD).is_ok());
    }
}
