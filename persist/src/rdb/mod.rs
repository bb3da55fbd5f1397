//! One value in Redis's RDB serialization: the payload of `DUMP` and
//! `RESTORE`, so values move between Kiln and Redis either way.
//!
//! A payload is the value's RDB type byte and body, then the RDB version
//! (2 bytes, little-endian) and a CRC-64 (Jones, as Redis's `crc64`) of
//! everything before it. Kiln writes the plain encodings every Redis since
//! 2.x loads (version 10, Redis 7.0's; a stream as Redis 7.0 writes it,
//! type 19) and reads every encoding Redis 5 to 7.2 write: integer and LZF
//! strings, ziplists, listpacks, intsets, quicklists, streams (types 15,
//! 19, 21, in [`stream`]'s module). A payload is untrusted input: every length is checked
//! against the bytes that are left before anything is allocated.
//!
//! [`file`] holds whole keyspaces in Redis's RDB file format, built on the
//! same value encoding.

mod compact;
pub mod file;
mod stream;

use compact::{intset, listpack, lzf_compress, lzf_decompress, ziplist};

use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use kiln_store::{Stream, Value};

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
const TYPE_MODULE: u8 = 6;
const TYPE_MODULE_2: u8 = 7;
const TYPE_STREAM: u8 = 15;
const TYPE_STREAM_2: u8 = 19;
const TYPE_STREAM_3: u8 = 21;

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
    /// A type Kiln has no counterpart for (module values).
    #[error("Bad data format")]
    Unsupported(&'static str),
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
    /// A stream, built and checked as it was read (its groups need its
    /// entries to make sense).
    Stream(Box<Stream>),
}

/// `value` as a `DUMP` payload.
pub fn dump(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    put_value(&mut out, value);
    out.extend_from_slice(&WRITE_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Appends `value`'s RDB type byte and body, as `DUMP` holds it.
fn put_value(out: &mut Vec<u8>, value: &Value) {
    out.push(value_type(value));
    put_body(out, value);
}

/// The RDB type byte Kiln writes for `value`.
pub(crate) fn value_type(value: &Value) -> u8 {
    match value {
        Value::String(_) => TYPE_STRING,
        Value::List(_) => TYPE_LIST,
        Value::Set(_) => TYPE_SET,
        Value::Hash(_) => TYPE_HASH,
        Value::ZSet(_) => TYPE_ZSET_2,
        // Redis 7.0's (7.2's type 21 adds consumers' active time, which
        // 7.0 cannot load).
        Value::Stream(_) => TYPE_STREAM_2,
    }
}

/// Appends `value`'s body in the encoding [`value_type`] names.
pub(crate) fn put_body(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) => put_string(out, s),
        Value::List(list) => {
            put_len(out, list.len() as u64);
            list.iter().for_each(|item| put_string(out, item));
        }
        Value::Set(set) => {
            put_len(out, set.len() as u64);
            set.iter().for_each(|m| put_string(out, &m));
        }
        Value::Hash(hash) => {
            put_len(out, hash.len() as u64);
            for (field, value) in hash.iter() {
                put_string(out, field);
                put_string(out, value);
            }
        }
        Value::Stream(s) => stream::put_stream(out, s),
        Value::ZSet(zset) => {
            let entries = zset.entries();
            put_len(out, entries.len() as u64);
            for (member, score) in entries {
                put_string(out, &member);
                out.extend_from_slice(&score.to_le_bytes());
            }
        }
    }
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
    let mut input = Input::new(&payload[..body_len], budget);
    let value = input.value()?;
    if value.is_empty() || !input.data.is_empty() {
        return Err(RdbError::BadFormat);
    }
    Ok(value)
}

impl Payload {
    /// Whether it is a collection without elements (which no valid RDB
    /// value is).
    pub fn is_empty(&self) -> bool {
        match self {
            Payload::String(_) => false,
            Payload::List(v) | Payload::Set(v) => v.is_empty(),
            Payload::Hash(v) => v.is_empty(),
            Payload::ZSet(v) => v.is_empty(),
            // A stream stays a key when its last entry goes.
            Payload::Stream(_) => false,
        }
    }
}

pub(crate) fn put_len(out: &mut Vec<u8>, len: u64) {
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

/// Whether strings are written LZF-compressed (`rdbcompression`, on by
/// default as in Redis): one setting for the whole process, as Redis's.
static COMPRESSION: AtomicBool = AtomicBool::new(true);

/// Turns `rdbcompression` on or off for every payload and file written
/// from now on (reading takes either).
pub fn set_compression(on: bool) {
    COMPRESSION.store(on, Ordering::Relaxed);
}

/// Whether `rdbcompression` is on.
pub fn compression() -> bool {
    COMPRESSION.load(Ordering::Relaxed)
}

pub(crate) fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_string_as(out, s, compression());
}

/// [`put_string`] with compression chosen by the caller. As Redis: a
/// string longer than 20 bytes is written LZF-compressed (encoding 3:
/// compressed length, length, data) when that saves at least 4 bytes.
pub(crate) fn put_string_as(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if compress
        && s.len() > 20
        && let Some(packed) = lzf_compress(s, s.len() - 4)
    {
        out.push(0xc3);
        put_len(out, packed.len() as u64);
        put_len(out, s.len() as u64);
        out.extend_from_slice(&packed);
        return;
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// CRC-64/Jones, reflected, as Redis's `crc64` (check value
/// `0xe9c6d914c4b8d9ca` for "123456789").
pub fn crc64(data: &[u8]) -> u64 {
    crc64_update(0, data)
}

/// [`crc64`] continued over `data`: `crc64_update(crc64(a), b)` is the
/// CRC of `a` followed by `b`, so a file's checksum is kept as it streams.
pub fn crc64_update(crc: u64, data: &[u8]) -> u64 {
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
    data.iter().fold(crc, |crc, &b| {
        table[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// The unread part of a payload.
pub(crate) struct Input<'a> {
    pub(crate) data: &'a [u8],
    /// Decoded bytes still allowed.
    budget: usize,
    /// A read ran past the end of `data` (or a count past what is left):
    /// a file reader, which holds only part of its file, reads more and
    /// tries again.
    pub(crate) short: bool,
}

/// A length or an integer-encoded string, as RDB's length prefix says.
enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Input<'a> {
    pub(crate) fn new(data: &'a [u8], budget: usize) -> Input<'a> {
        Input {
            data,
            budget,
            short: false,
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], RdbError> {
        if n > self.data.len() {
            self.short = true;
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

    pub(crate) fn byte(&mut self) -> Result<u8, RdbError> {
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
            Len::Plain(_) => {
                self.short = true;
                Err(RdbError::BadFormat)
            }
            Len::Encoded(_) => Err(RdbError::BadFormat),
        }
    }

    pub(crate) fn string(&mut self) -> Result<Bytes, RdbError> {
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

    pub(crate) fn plain_len(&mut self) -> Result<usize, RdbError> {
        match self.raw_len()? {
            Len::Plain(n) => usize::try_from(n).map_err(|_| RdbError::BadFormat),
            Len::Encoded(_) => Err(RdbError::BadFormat),
        }
    }

    pub(crate) fn value(&mut self) -> Result<Payload, RdbError> {
        let kind = self.byte()?;
        self.value_of(kind)
    }

    /// A value's body, of RDB type `kind`.
    pub(crate) fn value_of(&mut self, kind: u8) -> Result<Payload, RdbError> {
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
            TYPE_MODULE | TYPE_MODULE_2 => return Err(RdbError::Unsupported("a module value")),
            TYPE_STREAM | TYPE_STREAM_2 | TYPE_STREAM_3 => {
                Payload::Stream(Box::new(self.stream(kind)?))
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

pub(crate) fn int_text(n: i64) -> Bytes {
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

#[cfg(test)]
mod tests {
    use kiln_store::{EncodingLimits, Hash, List, Set, ZSet};

    use super::*;

    const BUDGET: usize = 1 << 20;

    /// Inputs LZF meets: text, runs, repeats past its 8 KiB window and its
    /// 264-byte match limit, and bytes with nothing to find.
    fn lzf_inputs() -> Vec<Vec<u8>> {
        let mut noise = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.push(x as u8);
        }
        let text = b"the quick brown fox jumps over the lazy dog; ".repeat(40);
        let mut far = noise.clone();
        far.extend(vec![b'z'; 9000]);
        far.extend_from_slice(&noise[..300]);
        vec![
            text,
            vec![b'a'; 100_000],
            b"abcabcabcabcabcabcabcabcabcabcab".to_vec(),
            far,
            noise,
            b"0123456789012345678901".to_vec(),
        ]
    }

    #[test]
    fn lzf_round_trips_and_never_grows_past_its_bound() {
        for input in lzf_inputs() {
            if let Some(packed) = lzf_compress(&input, input.len() - 4) {
                assert!(packed.len() <= input.len() - 4);
                assert_eq!(lzf_decompress(&packed, input.len()).unwrap(), input);
            }
            // Any bound: either it fits and round-trips, or it is refused.
            for bound in [0, 1, 3, input.len() / 2] {
                if let Some(packed) = lzf_compress(&input, bound) {
                    assert!(packed.len() <= bound);
                    assert_eq!(lzf_decompress(&packed, input.len()).unwrap(), input);
                }
            }
        }
        // Compressible inputs do compress; noise does not.
        let inputs = lzf_inputs();
        assert!(lzf_compress(&inputs[0], inputs[0].len() - 4).unwrap().len() < 200);
        assert!(lzf_compress(&inputs[1], 99_996).unwrap().len() < 1_200);
        assert_eq!(lzf_compress(&inputs[4], inputs[4].len() - 4), None);
    }

    #[test]
    fn compressed_strings_read_back_and_short_or_incompressible_ones_stay_plain() {
        for input in lzf_inputs() {
            let mut out = Vec::new();
            put_string_as(&mut out, &input, true);
            let compressed = out[0] == 0xc3;
            assert_eq!(compressed, lzf_compress(&input, input.len() - 4).is_some());
            let mut read = Input::new(&out, input.len() * 2 + 64);
            assert_eq!(&read.string().unwrap()[..], &input[..]);
            assert!(read.data.is_empty());
        }
        // 20 bytes or fewer: plain, as Redis.
        let mut out = Vec::new();
        put_string_as(&mut out, &[b'a'; 20], true);
        assert_eq!(out[0], 20);
        let mut out = Vec::new();
        put_string_as(&mut out, &[b'a'; 21], false);
        assert_eq!(out[0], 21);
    }

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
    pub(super) fn sealed(body: &[u8]) -> Vec<u8> {
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
