//! Bit operations on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITFIELD,
//! BITOP.
//!
//! Bit 0 is the most significant bit of byte 0, as in Redis. Ranges follow
//! Redis 7: inclusive, negative counts from the end, in bytes or (`BIT`) in
//! bits, clamped to the string.

use bytes::Bytes;

use crate::error::StoreError;
use crate::shard::Shard;
use crate::strings::SetOptions;

/// The unit of a BITCOUNT / BITPOS range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitUnit {
    /// Whole bytes (the default).
    Byte,
    /// Single bits.
    Bit,
}

/// An inclusive range as a command gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    /// First index (negative counts from the end).
    pub start: i64,
    /// Last index; `None` runs to the end (BITPOS with a start only).
    pub end: Option<i64>,
    /// Bytes or bits.
    pub unit: BitUnit,
}

impl Shard {
    /// SETBIT: sets bit `offset` to `on`, growing the string with zero
    /// bytes (refused past `max_value_len`); returns the bit it had.
    pub fn set_bit(&mut self, key: &[u8], offset: u64, on: bool) -> Result<bool, StoreError> {
        let byte = usize::try_from(offset / 8).map_err(|_| StoreError::TooLarge)?;
        let mask = 0x80u8 >> (offset % 8);
        self.edit_string(key, byte + 1, |buf| {
            let old = buf[byte] & mask != 0;
            if on {
                buf[byte] |= mask;
            } else {
                buf[byte] &= !mask;
            }
            old
        })
    }

    /// GETBIT: bit `offset` of the string (0 past its end or when missing).
    pub fn get_bit(&mut self, key: &[u8], offset: u64) -> Result<bool, StoreError> {
        let Some(idx) = self.read_index(key) else {
            return Ok(false);
        };
        let value = self.string_at(idx)?;
        let byte = usize::try_from(offset / 8).unwrap_or(usize::MAX);
        Ok(value
            .get(byte)
            .is_some_and(|b| b & (0x80 >> (offset % 8)) != 0))
    }

    /// BITCOUNT: set bits in `range` (the whole string without one).
    pub fn bit_count(&mut self, key: &[u8], range: Option<BitRange>) -> Result<u64, StoreError> {
        let Some(idx) = self.read_index(key) else {
            return Ok(0);
        };
        let value = self.string_at(idx)?;
        let Some((first, last)) = bit_span(value.len(), range) else {
            return Ok(0);
        };
        Ok(count_ones(value, first, last))
    }

    /// BITPOS: the first bit equal to `bit` in `range`, or -1. Looking for
    /// a 0 without an explicit end, a string of ones answers the bit just
    /// past it (Redis's rule: the string is as if padded with zeros).
    pub fn bit_pos(
        &mut self,
        key: &[u8],
        bit: bool,
        range: Option<BitRange>,
    ) -> Result<i64, StoreError> {
        let Some(idx) = self.read_index(key) else {
            return Ok(if bit { -1 } else { 0 });
        };
        let value = self.string_at(idx)?;
        let open_end = range.is_none_or(|r| r.end.is_none());
        let Some((first, last)) = bit_span(value.len(), range) else {
            return Ok(-1);
        };
        let found = (first..=last).find(|&at| bit_at(value, at) == bit);
        Ok(match found {
            Some(at) => at as i64,
            None if !bit && open_end => ((last / 8 + 1) * 8) as i64,
            None => -1,
        })
    }
}

/// BITOP's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    /// AND of every source (a shorter source counts as zero bytes).
    And,
    /// OR of every source.
    Or,
    /// XOR of every source.
    Xor,
    /// NOT of the one source.
    Not,
}

impl Shard {
    /// BITOP: `op` over `sources` (a missing one is an empty string, any
    /// other type is WRONGTYPE before anything changes) into `dest`, which
    /// becomes a string without a deadline, or is deleted when the result
    /// is empty. Returns the result's length (the longest source's).
    pub fn bit_op(
        &mut self,
        op: BitOp,
        dest: &[u8],
        sources: &[&[u8]],
    ) -> Result<usize, StoreError> {
        let mut values: Vec<Bytes> = Vec::with_capacity(sources.len());
        for key in sources {
            if let Some(idx) = self.read_index(key) {
                values.push(self.string_at(idx)?.clone());
            } else {
                values.push(Bytes::new());
            }
        }
        let out = combine(op, &values);
        if out.is_empty() {
            self.remove_emptied(dest);
            return Ok(0);
        }
        let len = out.len();
        self.set(dest, Bytes::from(out), SetOptions::default())?;
        Ok(len)
    }
}

/// The bytes BITOP `op` makes of `values` (as long as the longest).
fn combine(op: BitOp, values: &[Bytes]) -> Vec<u8> {
    let len = values.iter().map(Bytes::len).max().unwrap_or(0);
    let Some((first, rest)) = values.split_first() else {
        return Vec::new();
    };
    let mut out = vec![0u8; len];
    out[..first.len()].copy_from_slice(first);
    match op {
        BitOp::Not => out.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for value in rest {
                for (i, b) in out.iter_mut().enumerate() {
                    *b &= value.get(i).copied().unwrap_or(0);
                }
            }
        }
        BitOp::Or | BitOp::Xor => {
            for value in rest {
                for (b, v) in out.iter_mut().zip(value.iter()) {
                    if op == BitOp::Or {
                        *b |= v;
                    } else {
                        *b ^= v;
                    }
                }
            }
        }
    }
    out
}

/// One BITFIELD operation on a field of `bits` bits (1..=64 signed,
/// 1..=63 unsigned) at bit `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldOp {
    /// What it does.
    pub kind: FieldKind,
    /// Two's complement or unsigned.
    pub signed: bool,
    /// Width.
    pub bits: u32,
    /// First bit.
    pub offset: u64,
    /// What a SET or INCRBY past the field's range does.
    pub overflow: Overflow,
}

/// A BITFIELD operation's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Read the field.
    Get,
    /// Write a value, answering the old one.
    Set(i64),
    /// Add to the field, answering the new value.
    IncrBy(i64),
}

/// BITFIELD's `OVERFLOW` policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Modulo the field's range (the default).
    Wrap,
    /// Clamp to the field's minimum or maximum.
    Sat,
    /// Leave the field and answer nil.
    Fail,
}

impl Shard {
    /// BITFIELD / BITFIELD_RO: runs `ops` in order, one answer each (`None`
    /// where `OVERFLOW FAIL` stopped a write). With any write, the string
    /// is first grown with zero bytes to hold every written field (as
    /// Redis does, even when an overflow then fails); reads past the end
    /// read zeros, and reads alone create nothing.
    pub fn bitfield(
        &mut self,
        key: &[u8],
        ops: &[FieldOp],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let writes_to = ops
            .iter()
            .filter(|op| op.kind != FieldKind::Get)
            .map(|op| (op.offset + u64::from(op.bits)).div_ceil(8))
            .max();
        let Some(len) = writes_to else {
            let Some(idx) = self.read_index(key) else {
                return Ok(ops.iter().map(|_| Some(0)).collect());
            };
            let value = self.string_at(idx)?;
            return Ok(ops.iter().map(|op| Some(read_field(value, op))).collect());
        };
        let len = usize::try_from(len).map_err(|_| StoreError::TooLarge)?;
        self.edit_string(key, len, |buf| {
            ops.iter().map(|op| run_field(buf, op)).collect()
        })
    }
}

/// The field `op` names, as its type reads it.
fn read_field(bytes: &[u8], op: &FieldOp) -> i64 {
    let raw = (0..u64::from(op.bits)).fold(0u64, |acc, i| {
        let at = op.offset + i;
        let bit = usize::try_from(at / 8)
            .ok()
            .and_then(|byte| bytes.get(byte))
            .is_some_and(|b| b & (0x80 >> (at % 8)) != 0);
        (acc << 1) | u64::from(bit)
    });
    if op.signed && op.bits < 64 && raw >> (op.bits - 1) & 1 == 1 {
        (raw | (u64::MAX << op.bits)) as i64
    } else {
        raw as i64
    }
}

fn write_field(bytes: &mut [u8], op: &FieldOp, value: i64) {
    let value = value as u64;
    for i in 0..u64::from(op.bits) {
        let at = op.offset + i;
        let mask = 0x80u8 >> (at % 8);
        let byte = &mut bytes[(at / 8) as usize];
        if value >> (u64::from(op.bits) - 1 - i) & 1 == 1 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// Runs one operation on a buffer that holds its field.
fn run_field(bytes: &mut [u8], op: &FieldOp) -> Option<i64> {
    let old = read_field(bytes, op);
    let (target, incr, answer_old) = match op.kind {
        FieldKind::Get => return Some(old),
        FieldKind::Set(value) => (value, 0, true),
        FieldKind::IncrBy(incr) => (old, incr, false),
    };
    let (overflowed, wrapped) = if op.signed {
        signed_overflow(target, incr, op.bits, op.overflow)
    } else {
        unsigned_overflow(target as u64, incr, op.bits, op.overflow)
    };
    if overflowed && op.overflow == Overflow::Fail {
        return None;
    }
    let new = if overflowed {
        wrapped
    } else {
        target.wrapping_add(incr)
    };
    write_field(bytes, op, new);
    Some(if answer_old { old } else { new })
}

/// Whether `value + incr` leaves a signed field of `bits`, and what WRAP or
/// SAT make of it (Redis's `checkSignedBitfieldOverflow`).
fn signed_overflow(value: i64, incr: i64, bits: u32, policy: Overflow) -> (bool, i64) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let sum = value.checked_add(incr);
    let (over, under) = match sum {
        Some(sum) => (sum > max, sum < min),
        None => (incr > 0, incr < 0),
    };
    if !over && !under {
        return (false, 0);
    }
    let limited = match policy {
        Overflow::Sat if over => max,
        Overflow::Sat => min,
        _ => {
            let raw = (value as u64).wrapping_add(incr as u64);
            if bits == 64 {
                raw as i64
            } else if raw >> (bits - 1) & 1 == 1 {
                (raw | (u64::MAX << bits)) as i64
            } else {
                (raw & !(u64::MAX << bits)) as i64
            }
        }
    };
    (true, limited)
}

/// The same for an unsigned field of `bits` (at most 63): a value past
/// its maximum (a negative SET) overflows too.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, policy: Overflow) -> (bool, i64) {
    let max = (1u64 << bits) - 1;
    let over = value > max || (incr > 0 && incr as u64 > max - value);
    let under = !over && incr < 0 && incr.unsigned_abs() > value;
    if !over && !under {
        return (false, 0);
    }
    let limited = match policy {
        Overflow::Sat if over => max,
        Overflow::Sat => 0,
        _ => value.wrapping_add(incr as u64) & max,
    };
    (true, limited as i64)
}

/// Whether bit `at` of `bytes` is set.
fn bit_at(bytes: &[u8], at: u64) -> bool {
    bytes[(at / 8) as usize] & (0x80 >> (at % 8)) != 0
}

/// Set bits from bit `first` to bit `last`, inclusive: whole bytes by
/// popcount, the partial ends bit by bit.
fn count_ones(bytes: &[u8], first: u64, last: u64) -> u64 {
    let (first_byte, last_byte) = ((first / 8) as usize, (last / 8) as usize);
    let head = 0xffu8 >> (first % 8);
    let tail = 0xffu8 << (7 - last % 8);
    if first_byte == last_byte {
        return u64::from((bytes[first_byte] & head & tail).count_ones());
    }
    let middle: u64 = bytes[first_byte + 1..last_byte]
        .iter()
        .map(|b| u64::from(b.count_ones()))
        .sum();
    u64::from((bytes[first_byte] & head).count_ones())
        + middle
        + u64::from((bytes[last_byte] & tail).count_ones())
}

/// The inclusive span of bits `range` covers in a string of `len` bytes,
/// or `None` when it is empty.
fn bit_span(len: usize, range: Option<BitRange>) -> Option<(u64, u64)> {
    if len == 0 {
        return None;
    }
    let Some(range) = range else {
        return Some((0, len as u64 * 8 - 1));
    };
    let total = match range.unit {
        BitUnit::Byte => len as i64,
        BitUnit::Bit => len as i64 * 8,
    };
    let clamp = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let start = clamp(range.start);
    let end = clamp(range.end.unwrap_or(total - 1)).min(total - 1);
    if start > end {
        return None;
    }
    Some(match range.unit {
        BitUnit::Byte => (start as u64 * 8, end as u64 * 8 + 7),
        BitUnit::Bit => (start as u64, end as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::ShardConfig;

    fn bytes_range(start: i64, end: i64) -> Option<BitRange> {
        Some(BitRange {
            start,
            end: Some(end),
            unit: BitUnit::Byte,
        })
    }

    #[test]
    fn set_and_get_bits_grow_the_string_with_zeros() {
        let mut shard = Shard::new(ShardConfig::default());
        assert!(!shard.set_bit(b"k", 7, true).unwrap());
        assert!(shard.set_bit(b"k", 7, true).unwrap());
        assert!(!shard.set_bit(b"k", 17, true).unwrap());
        assert_eq!(shard.get(b"k").unwrap().unwrap(), &[0x01, 0x00, 0x40][..]);
        assert!(shard.get_bit(b"k", 17).unwrap());
        assert!(!shard.get_bit(b"k", 1 << 40).unwrap());
        assert!(shard.set_bit(b"k", 7, false).unwrap());
        assert_eq!(shard.bit_count(b"k", None).unwrap(), 1);
    }

    #[test]
    fn counts_and_positions_follow_redis_ranges() {
        let mut shard = Shard::new(ShardConfig::default());
        shard.set_range(b"s", 0, b"foobar").unwrap();
        assert_eq!(shard.bit_count(b"s", None).unwrap(), 26);
        assert_eq!(shard.bit_count(b"s", bytes_range(0, 0)).unwrap(), 4);
        assert_eq!(shard.bit_count(b"s", bytes_range(1, 1)).unwrap(), 6);
        assert_eq!(shard.bit_count(b"s", bytes_range(-2, -1)).unwrap(), 7);
        assert_eq!(shard.bit_count(b"s", bytes_range(4, 2)).unwrap(), 0);
        let bits = Some(BitRange {
            start: 5,
            end: Some(30),
            unit: BitUnit::Bit,
        });
        assert_eq!(shard.bit_count(b"s", bits).unwrap(), 17);
        shard.set_range(b"p", 0, b"\xff\xf0\x00").unwrap();
        assert_eq!(shard.bit_pos(b"p", false, None).unwrap(), 12);
        assert_eq!(shard.bit_pos(b"p", true, bytes_range(2, -1)).unwrap(), -1);
        shard.set_range(b"ones", 0, b"\xff\xff").unwrap();
        assert_eq!(shard.bit_pos(b"ones", false, None).unwrap(), 16);
        assert_eq!(
            shard.bit_pos(b"ones", false, bytes_range(0, -1)).unwrap(),
            -1
        );
        assert_eq!(shard.bit_pos(b"none", false, None).unwrap(), 0);
        assert_eq!(shard.bit_pos(b"none", true, None).unwrap(), -1);
    }

    fn field(kind: FieldKind, signed: bool, bits: u32, offset: u64, overflow: Overflow) -> FieldOp {
        FieldOp {
            kind,
            signed,
            bits,
            offset,
            overflow,
        }
    }

    #[test]
    fn bitfields_wrap_saturate_and_fail_as_redis() {
        let mut shard = Shard::new(ShardConfig::default());
        let ops = [
            field(FieldKind::Set(-1), true, 8, 0, Overflow::Wrap),
            field(FieldKind::Get, false, 8, 0, Overflow::Wrap),
            field(FieldKind::IncrBy(1), true, 8, 0, Overflow::Wrap),
            field(FieldKind::IncrBy(200), false, 8, 8, Overflow::Wrap),
            field(FieldKind::IncrBy(100), false, 8, 8, Overflow::Sat),
            field(FieldKind::IncrBy(1), false, 8, 8, Overflow::Fail),
            field(FieldKind::IncrBy(-300), true, 8, 16, Overflow::Sat),
            field(FieldKind::Set(300), false, 8, 24, Overflow::Wrap),
            field(FieldKind::Get, true, 64, 0, Overflow::Wrap),
        ];
        let got = shard.bitfield(b"f", &ops).unwrap();
        assert_eq!(
            got,
            [
                Some(0),
                Some(255),
                Some(0),
                Some(200),
                Some(255),
                None,
                Some(-128),
                Some(0),
                Some(0x00ff_802c_0000_0000),
            ]
        );
        assert_eq!(
            shard.get(b"f").unwrap().unwrap(),
            &[0x00, 0xff, 0x80, 0x2c][..]
        );
        // Reads alone create nothing.
        let get = [field(FieldKind::Get, false, 4, 100, Overflow::Wrap)];
        assert_eq!(shard.bitfield(b"none", &get).unwrap(), [Some(0)]);
        assert!(!shard.exists(b"none"));
    }

    /// BITOP's model: bit by bit, a bit past a source's end is 0.
    fn model(op: BitOp, values: &[Vec<u8>]) -> Vec<u8> {
        let len = values.iter().map(Vec::len).max().unwrap_or(0);
        (0..len * 8)
            .collect::<Vec<_>>()
            .chunks(8)
            .map(|bits| {
                bits.iter().fold(0u8, |byte, &at| {
                    let bit =
                        |v: &Vec<u8>| v.get(at / 8).is_some_and(|b| b & (0x80 >> (at % 8)) != 0);
                    let on = match op {
                        BitOp::And => values.iter().all(bit),
                        BitOp::Or => values.iter().any(bit),
                        BitOp::Xor => values.iter().filter(|v| bit(v)).count() % 2 == 1,
                        BitOp::Not => !bit(&values[0]),
                    };
                    byte | (u8::from(on) << (7 - at % 8))
                })
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn bitop_matches_a_bit_model(
            values in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..6), 1..4),
            which in 0usize..4,
        ) {
            let op = [BitOp::And, BitOp::Or, BitOp::Xor, BitOp::Not][which];
            let values = if op == BitOp::Not { values[..1].to_vec() } else { values };
            let mut shard = Shard::new(ShardConfig::default());
            let keys: Vec<Vec<u8>> = (0..values.len()).map(|i| format!("s{i}").into_bytes()).collect();
            for (key, value) in keys.iter().zip(&values) {
                if !value.is_empty() {
                    shard.set(key, Bytes::copy_from_slice(value), SetOptions::default()).unwrap();
                }
            }
            let sources: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            let want = model(op, &values);
            proptest::prop_assert_eq!(shard.bit_op(op, b"d", &sources).unwrap(), want.len());
            let got = shard.get(b"d").unwrap().map(|b| b.to_vec());
            proptest::prop_assert_eq!(got, (!want.is_empty()).then_some(want));
        }
    }

    #[test]
    fn bitop_checks_types_first_and_deletes_an_empty_result() {
        let mut shard = Shard::new(ShardConfig::default());
        shard
            .set(b"a", Bytes::from_static(b"\xff\x0f"), SetOptions::default())
            .unwrap();
        shard
            .set(b"d", Bytes::from_static(b"old"), SetOptions::default())
            .unwrap();
        shard.hset(b"h", [(&b"f"[..], &b"v"[..])]).unwrap();
        assert_eq!(
            shard.bit_op(BitOp::Or, b"d", &[b"a", b"h"]),
            Err(StoreError::WrongType)
        );
        assert_eq!(shard.get(b"d").unwrap().unwrap(), &b"old"[..]);
        assert_eq!(shard.bit_op(BitOp::Not, b"d", &[b"a"]).unwrap(), 2);
        assert_eq!(shard.get(b"d").unwrap().unwrap(), &[0x00, 0xf0][..]);
        assert_eq!(
            shard
                .bit_op(BitOp::And, b"d", &[b"none", b"other"])
                .unwrap(),
            0
        );
        assert!(!shard.exists(b"d"));
        // A hash destination is simply replaced.
        assert_eq!(shard.bit_op(BitOp::Xor, b"h", &[b"a", b"a"]).unwrap(), 2);
        assert_eq!(shard.get(b"h").unwrap().unwrap(), &[0, 0][..]);
    }
}
