//! HyperLogLog on strings: PFADD, PFCOUNT, PFMERGE, in Redis's string
//! representation, so a value moves between Redis and Kiln with GET / SET.
//!
//! ```text
//! "HYLL" | encoding (0 dense, 1 sparse) | 3 zero bytes | cached count (u64 LE,
//!        top bit set: stale) | registers
//! ```
//!
//! 16384 registers of 6 bits. Dense: the registers packed low bit first
//! (12288 bytes). Sparse: runs of registers as opcodes, `00xxxxxx` (1..=64
//! zeros), `01xxxxxx yyyyyyyy` (1..=16384 zeros), `1vvvvvxx` (1..=4
//! registers holding 1..=32). A sparse value that would exceed
//! [`SPARSE_MAX_BYTES`] or needs a register above 32 becomes dense.
//!
//! Here a value is decoded to its registers, changed, and encoded again
//! (sparse runs written canonically); counting is Redis 7's estimator
//! (Ertl's improved raw estimate, `sigma` and `tau`).

use bytes::Bytes;

use crate::error::StoreError;
use crate::shard::Shard;
use crate::strings::{SetExpire, SetOptions};

/// log2 of the register count.
const P: u32 = 14;
/// Registers per HyperLogLog.
pub const REGISTERS: usize = 1 << P;
/// Bits of hash left after the register index.
const Q: usize = 64 - P as usize;
/// Header bytes.
const HEADER: usize = 16;
/// A dense value's length.
pub const DENSE_LEN: usize = HEADER + REGISTERS * 6 / 8;
/// Redis's `hll-sparse-max-bytes` default: a longer sparse value is dense.
pub const SPARSE_MAX_BYTES: usize = 3000;
/// The largest register a sparse value holds.
const SPARSE_MAX_VALUE: u8 = 32;
/// MurmurHash64A's seed in Redis's HyperLogLog.
const SEED: u64 = 0xadc8_3b19;

const DENSE: u8 = 0;
const SPARSE: u8 = 1;

/// Redis's MurmurHash64A (blocks read little endian on every machine).
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().unwrap_or([0; 8]));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element lands in and the run length it offers there.
fn position(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// One HyperLogLog's registers and how it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hll {
    /// One value 0..=63 per register.
    pub registers: Vec<u8>,
    /// Stored dense (it stays dense).
    pub dense: bool,
    /// The cached count, when the header's is valid.
    pub cached: Option<u64>,
}

/// Why a string is not usable as a HyperLogLog.
fn not_hll() -> StoreError {
    StoreError::NotHll
}

impl Hll {
    /// An empty, sparse HyperLogLog (count 0 cached).
    pub fn new() -> Hll {
        Hll {
            registers: vec![0; REGISTERS],
            dense: false,
            cached: Some(0),
        }
    }

    /// Reads a stored value: [`StoreError::NotHll`] if the header is not a
    /// HyperLogLog's, [`StoreError::CorruptHll`] if its registers do not
    /// decode.
    pub fn decode(value: &[u8]) -> Result<Hll, StoreError> {
        let cached = cached_count(value)?;
        let dense = value[4] == DENSE;
        let body = &value[HEADER..];
        let mut registers = vec![0u8; REGISTERS];
        if dense {
            for (i, r) in registers.iter_mut().enumerate() {
                *r = dense_get(body, i);
            }
        } else {
            let mut at = 0usize;
            let mut i = 0usize;
            while i < body.len() {
                let op = body[i];
                let (run, value) = if op & 0xc0 == 0 {
                    i += 1;
                    (usize::from(op & 0x3f) + 1, 0)
                } else if op & 0xc0 == 0x40 {
                    let low = *body.get(i + 1).ok_or(StoreError::CorruptHll)?;
                    i += 2;
                    ((usize::from(op & 0x3f) << 8 | usize::from(low)) + 1, 0)
                } else {
                    i += 1;
                    (usize::from(op & 0x3) + 1, ((op >> 2) & 0x1f) + 1)
                };
                let end = at + run;
                if end > REGISTERS {
                    return Err(StoreError::CorruptHll);
                }
                registers[at..end].fill(value);
                at = end;
            }
            if at != REGISTERS {
                return Err(StoreError::CorruptHll);
            }
        }
        Ok(Hll {
            registers,
            dense,
            cached,
        })
    }

    /// Offers `element`; whether a register grew.
    pub fn add(&mut self, element: &[u8]) -> bool {
        let (index, run) = position(element);
        if self.registers[index] < run {
            self.registers[index] = run;
            self.cached = None;
            true
        } else {
            false
        }
    }

    /// Takes the larger of each register of `other`.
    pub fn merge(&mut self, other: &Hll) {
        for (mine, theirs) in self.registers.iter_mut().zip(&other.registers) {
            if *theirs > *mine {
                *mine = *theirs;
                self.cached = None;
            }
        }
        self.dense |= other.dense;
    }

    /// Redis 7's estimate of the distinct elements offered.
    pub fn count(&self) -> u64 {
        let mut histogram = [0u32; 64];
        for &r in &self.registers {
            histogram[usize::from(r & 63)] += 1;
        }
        let m = REGISTERS as f64;
        let mut z = m * tau((m - f64::from(histogram[Q + 1])) / m);
        for j in (1..=Q).rev() {
            z += f64::from(histogram[j]);
            z *= 0.5;
        }
        z += m * sigma(f64::from(histogram[0]) / m);
        let alpha_inf = 0.5 / std::f64::consts::LN_2;
        (alpha_inf * m * m / z).round() as u64
    }

    /// The stored form: sparse while it may be, else dense; the cached
    /// count written, or marked stale.
    pub fn encode(&self) -> Vec<u8> {
        let sparse = if self.dense {
            None
        } else {
            sparse_body(&self.registers)
        };
        let mut out = Vec::with_capacity(sparse.as_ref().map_or(DENSE_LEN, |s| HEADER + s.len()));
        out.extend_from_slice(b"HYLL");
        out.push(if sparse.is_some() { SPARSE } else { DENSE });
        out.extend_from_slice(&[0, 0, 0]);
        let card = self.cached.map_or(1 << 63, |c| c & !(1 << 63));
        out.extend_from_slice(&card.to_le_bytes());
        match sparse {
            Some(body) => out.extend_from_slice(&body),
            None => {
                out.resize(DENSE_LEN, 0);
                for (i, &r) in self.registers.iter().enumerate() {
                    dense_set(&mut out[HEADER..], i, r);
                }
            }
        }
        out
    }
}

impl Default for Hll {
    fn default() -> Self {
        Hll::new()
    }
}

/// The count a stored value's header caches, if valid (its header checked).
fn cached_count(value: &[u8]) -> Result<Option<u64>, StoreError> {
    if value.len() < HEADER || &value[..4] != b"HYLL" || value[4] > SPARSE {
        return Err(not_hll());
    }
    if value[4] == DENSE && value.len() != DENSE_LEN {
        return Err(not_hll());
    }
    let card = u64::from_le_bytes(value[8..16].try_into().map_err(|_| not_hll())?);
    Ok((card >> 63 == 0).then_some(card))
}

/// Register `i` of a dense body.
fn dense_get(body: &[u8], i: usize) -> u8 {
    let bit = i * 6;
    let (byte, shift) = (bit / 8, bit % 8);
    let low = u16::from(body[byte]);
    let high = u16::from(body.get(byte + 1).copied().unwrap_or(0));
    (((low | high << 8) >> shift) & 63) as u8
}

/// Sets register `i` of a dense body to `value`.
fn dense_set(body: &mut [u8], i: usize, value: u8) {
    let bit = i * 6;
    let (byte, shift) = (bit / 8, bit % 8);
    let word = u16::from(value & 63) << shift;
    let mask = 63u16 << shift;
    body[byte] = (body[byte] & !(mask as u8)) | word as u8;
    if let Some(next) = body.get_mut(byte + 1) {
        *next = (*next & !((mask >> 8) as u8)) | (word >> 8) as u8;
    }
}

/// The sparse opcodes of `registers`, or `None` when it must be dense.
fn sparse_body(registers: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < registers.len() {
        let value = registers[i];
        let run = registers[i..].iter().take_while(|&&r| r == value).count();
        if value == 0 {
            if run <= 64 {
                out.push((run - 1) as u8);
            } else {
                let n = run - 1;
                out.push(0x40 | (n >> 8) as u8);
                out.push(n as u8);
            }
        } else {
            if value > SPARSE_MAX_VALUE {
                return None;
            }
            let mut left = run;
            while left > 0 {
                let n = left.min(4);
                out.push(0x80 | ((value - 1) << 2) | (n - 1) as u8);
                left -= n;
            }
        }
        if HEADER + out.len() > SPARSE_MAX_BYTES {
            return None;
        }
        i += run;
    }
    Some(out)
}

/// Ertl's sigma.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

/// Ertl's tau.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == before {
            return z / 3.0;
        }
    }
}

impl Shard {
    /// The HyperLogLog at `key`, if any (WRONGTYPE for another type);
    /// looked up as a write (no hit or miss counted) when `write`.
    fn hll_at(&mut self, key: &[u8], write: bool) -> Result<Option<Hll>, StoreError> {
        let found = if write {
            self.live_index(key)
        } else {
            self.read_index(key)
        };
        match found {
            Some(idx) => Hll::decode(self.string_at(idx)?).map(Some),
            None => Ok(None),
        }
    }

    /// Stores `hll` at `key`, keeping its deadline.
    fn put_hll(&mut self, key: &[u8], hll: &Hll) -> Result<(), StoreError> {
        let opts = SetOptions {
            expire: SetExpire::Keep,
            ..SetOptions::default()
        };
        self.set(key, Bytes::from(hll.encode()), opts).map(|_| ())
    }

    /// PFADD: offers `elements`; whether the key was created or a register
    /// grew.
    pub fn pf_add(&mut self, key: &[u8], elements: &[&[u8]]) -> Result<bool, StoreError> {
        let (mut hll, created) = match self.hll_at(key, true)? {
            Some(hll) => (hll, false),
            None => (Hll::new(), true),
        };
        let mut changed = created;
        for element in elements {
            changed |= hll.add(element);
        }
        if changed {
            self.put_hll(key, &hll)?;
        }
        Ok(changed)
    }

    /// PFCOUNT: the estimate of one key (its cached count, refreshed when
    /// stale) or of the union of several (missing keys count as empty).
    pub fn pf_count(&mut self, keys: &[&[u8]]) -> Result<u64, StoreError> {
        if let [key] = keys {
            // A valid cached count answers before the registers are read.
            if let Some(idx) = self.read_index(key)
                && let Some(count) = cached_count(self.string_at(idx)?)?
            {
                return Ok(count);
            }
            let Some(mut hll) = self.hll_at(key, false)? else {
                return Ok(0);
            };
            let count = hll.count();
            hll.cached = Some(count);
            self.put_hll(key, &hll)?;
            return Ok(count);
        }
        let mut union = Hll::new();
        for key in keys {
            if let Some(hll) = self.hll_at(key, false)? {
                union.merge(&hll);
            }
        }
        Ok(union.count())
    }

    /// PFMERGE: the union of `dest` (if it exists) and `sources` into
    /// `dest`, dense if any of them is; every key is checked before `dest`
    /// changes.
    pub fn pf_merge(&mut self, dest: &[u8], sources: &[&[u8]]) -> Result<(), StoreError> {
        let mut union = self.hll_at(dest, false)?.unwrap_or_default();
        for key in sources {
            if let Some(hll) = self.hll_at(key, false)? {
                union.merge(&hll);
            }
        }
        union.cached = None;
        self.put_hll(dest, &union)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::ShardConfig;

    #[test]
    fn sparse_and_dense_round_trip() {
        let mut hll = Hll::new();
        assert_eq!(hll.encode(), b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        for i in 0..100 {
            hll.add(format!("e{i}").as_bytes());
        }
        let sparse = hll.encode();
        assert_eq!(sparse[4], SPARSE);
        let back = Hll::decode(&sparse).unwrap();
        assert_eq!(back.registers, hll.registers);
        assert_eq!(back.cached, None);
        let mut dense = hll.clone();
        dense.dense = true;
        let bytes = dense.encode();
        assert_eq!(bytes.len(), DENSE_LEN);
        assert_eq!(Hll::decode(&bytes).unwrap().registers, hll.registers);
        // Many elements outgrow the sparse limit.
        for i in 0..5000 {
            hll.add(format!("f{i}").as_bytes());
        }
        assert_eq!(hll.encode()[4], DENSE);
    }

    #[test]
    fn counts_are_close_and_cached() {
        let mut shard = Shard::new(ShardConfig::default());
        let items: Vec<Vec<u8>> = (0..10_000)
            .map(|i| format!("item{i}").into_bytes())
            .collect();
        let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
        assert!(shard.pf_add(b"h", &refs[..5000]).unwrap());
        assert!(!shard.pf_add(b"h", &refs[..10]).unwrap());
        let n = shard.pf_count(&[b"h"]).unwrap();
        assert!((4900..5100).contains(&n), "{n}");
        assert_eq!(
            Hll::decode(&shard.get(b"h").unwrap().unwrap())
                .unwrap()
                .cached,
            Some(n)
        );
        shard.pf_add(b"g", &refs[5000..]).unwrap();
        let both = shard.pf_count(&[b"h", b"g", b"none"]).unwrap();
        assert!((9800..10200).contains(&both), "{both}");
        shard.pf_merge(b"m", &[b"h", b"g"]).unwrap();
        assert_eq!(shard.pf_count(&[b"m"]).unwrap(), both);
        assert_eq!(shard.pf_count(&[b"none"]).unwrap(), 0);
        assert!(shard.pf_add(b"empty", &[]).unwrap());
        assert_eq!(shard.pf_count(&[b"empty"]).unwrap(), 0);
    }

    #[test]
    fn other_strings_and_corrupt_ones_are_refused() {
        let mut shard = Shard::new(ShardConfig::default());
        shard
            .set(b"s", Bytes::from_static(b"hello"), SetOptions::default())
            .unwrap();
        assert_eq!(shard.pf_add(b"s", &[b"x"]), Err(StoreError::NotHll));
        assert_eq!(shard.pf_count(&[b"s"]), Err(StoreError::NotHll));
        // A valid cached count answers without the registers, as in Redis.
        let cached = Bytes::from_static(b"HYLL\x01\0\0\0\x05\0\0\0\0\0\0\0\x7f");
        shard.set(b"c", cached, SetOptions::default()).unwrap();
        assert_eq!(shard.pf_count(&[b"c"]), Ok(5));
        assert_eq!(shard.pf_count(&[b"c", b"c"]), Err(StoreError::CorruptHll));
        let stale = Bytes::from_static(b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f");
        shard.set(b"c", stale, SetOptions::default()).unwrap();
        assert_eq!(shard.pf_count(&[b"c"]), Err(StoreError::CorruptHll));
        assert_eq!(shard.pf_add(b"c", &[b"x"]), Err(StoreError::CorruptHll));
        shard.hset(b"h", [(&b"f"[..], &b"v"[..])]).unwrap();
        assert_eq!(shard.pf_merge(b"d", &[b"h"]), Err(StoreError::WrongType));
        assert!(!shard.exists(b"d"));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_after_a_header_decode_or_fail_without_panicking(
            dense in proptest::prelude::any::<bool>(),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let mut value = b"HYLL".to_vec();
            value.push(u8::from(!dense));
            value.extend_from_slice(&[0; 11]);
            value.extend_from_slice(&body);
            if dense {
                value.resize(DENSE_LEN, 0x5a);
            }
            if let Ok(mut hll) = Hll::decode(&value) {
                hll.add(b"x");
                let again = Hll::decode(&hll.encode()).unwrap();
                proptest::prop_assert_eq!(again.registers, hll.registers);
            }
        }
    }
}
