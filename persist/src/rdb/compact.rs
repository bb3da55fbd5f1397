//! Redis's compact encodings inside RDB values — intsets, listpacks,
//! ziplists — and LZF-compressed strings, decoded into plain items. Every
//! length is checked against the blob before anything is allocated. A
//! [`ListpackWriter`] builds listpacks (a stream's blocks are written as
//! them).

use bytes::Bytes;

use super::{RdbError, int_text};

/// An intset blob: encoding width (2, 4, 8), count, little-endian ints.
pub(super) fn intset(blob: &[u8]) -> Result<Vec<Bytes>, RdbError> {
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
pub(super) fn listpack(blob: &[u8]) -> Result<Vec<Bytes>, RdbError> {
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
        at += size + backlen_size(size);
    }
    if at + 1 != blob.len() {
        return Err(bad);
    }
    Ok(out)
}

/// The size of a listpack entry's back-length, for an entry of `size`
/// bytes: the size in 7-bit groups, with Redis's bounds
/// (`lpEncodeBacklen`: 16383 already takes three).
fn backlen_size(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..=16_382 => 2,
        16_383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Builds a listpack: integers in the smallest encoding that holds them,
/// strings as strings (Redis reads either).
pub(super) struct ListpackWriter {
    buf: Vec<u8>,
    count: usize,
}

impl ListpackWriter {
    pub(super) fn new() -> ListpackWriter {
        ListpackWriter {
            buf: vec![0; 6],
            count: 0,
        }
    }

    pub(super) fn int(&mut self, n: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&n) {
            self.buf.push(n as u8);
        } else if (-4096..=4095).contains(&n) {
            let raw = (n as u16) & 0x1fff;
            self.buf
                .extend_from_slice(&[0xc0 | (raw >> 8) as u8, raw as u8]);
        } else if let Ok(n) = i16::try_from(n) {
            self.buf.push(0xf1);
            self.buf.extend_from_slice(&n.to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&n) {
            self.buf.push(0xf2);
            self.buf.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
        } else if let Ok(n) = i32::try_from(n) {
            self.buf.push(0xf3);
            self.buf.extend_from_slice(&n.to_le_bytes());
        } else {
            self.buf.push(0xf4);
            self.buf.extend_from_slice(&n.to_le_bytes());
        }
        self.end_entry(start);
    }

    pub(super) fn string(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf
                .extend_from_slice(&[0xe0 | (n >> 8) as u8, n as u8]);
        } else {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        self.end_entry(start);
    }

    /// Appends the back-length of the entry that began at `start`: the
    /// most significant group first, every group but that one flagged.
    fn end_entry(&mut self, start: usize) {
        let size = (self.buf.len() - start) as u64;
        let groups = backlen_size(size as usize);
        for i in (0..groups).rev() {
            let group = ((size >> (7 * i)) & 0x7f) as u8;
            self.buf
                .push(if i == groups - 1 { group } else { group | 0x80 });
        }
        self.count += 1;
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xff);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        // Redis's element count saturates at 65535 ("unknown, count them").
        let count = u16::try_from(self.count).unwrap_or(u16::MAX);
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// A ziplist blob's entries, as strings (integers as their text).
pub(super) fn ziplist(blob: &[u8]) -> Result<Vec<Bytes>, RdbError> {
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

/// LZF compression in liblzf's format (what Redis writes for a string
/// when `rdbcompression` is on): `None` unless the result fits in
/// `max_out` bytes. Greedy: a 3-byte hash finds the last position that
/// began the same 3 bytes, within LZF's 8 KiB window; a match runs up to
/// LZF's 264 bytes.
pub(super) fn lzf_compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    const HASH_BITS: u32 = 14;
    const MAX_LITERAL: usize = 32;
    const MAX_OFFSET: usize = 1 << 13;
    const MAX_MATCH: usize = (1 << 8) + (1 << 3);
    let hash = |at: usize| {
        let v = u32::from_be_bytes([0, input[at], input[at + 1], input[at + 2]]);
        (v.wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize
    };
    let literals = |out: &mut Vec<u8>, run: &[u8]| {
        for chunk in run.chunks(MAX_LITERAL) {
            out.push((chunk.len() - 1) as u8);
            out.extend_from_slice(chunk);
        }
    };
    let mut out = Vec::with_capacity(max_out.min(input.len()));
    // Position + 1 of the last place each hash was seen (0: never).
    let mut last = vec![0usize; 1 << HASH_BITS];
    let (mut at, mut run_start) = (0, 0);
    while at + 2 < input.len() {
        let h = hash(at);
        let seen = std::mem::replace(&mut last[h], at + 1);
        let candidate = seen
            .checked_sub(1)
            .filter(|&from| at - from <= MAX_OFFSET && input[from..from + 3] == input[at..at + 3]);
        let Some(from) = candidate else {
            at += 1;
            continue;
        };
        let longest = (input.len() - at).min(MAX_MATCH);
        let mut len = 3;
        while len < longest && input[from + len] == input[at + len] {
            len += 1;
        }
        literals(&mut out, &input[run_start..at]);
        let (l, offset) = (len - 2, at - from - 1);
        if l < 7 {
            out.push(((l << 5) | (offset >> 8)) as u8);
        } else {
            out.push(((7 << 5) | (offset >> 8)) as u8);
            out.push((l - 7) as u8);
        }
        out.push(offset as u8);
        if out.len() > max_out {
            return None;
        }
        at += len;
        run_start = at;
    }
    literals(&mut out, &input[run_start..]);
    (out.len() <= max_out).then_some(out)
}

/// LZF decompression into exactly `len` bytes.
pub(super) fn lzf_decompress(input: &[u8], len: usize) -> Result<Vec<u8>, RdbError> {
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
