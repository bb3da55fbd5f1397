//! Bitmaps on strings: SETBIT, GETBIT, BITCOUNT, BITPOS (Redis 7.2's
//! semantics: arguments are checked before the key is looked up).
//!
//! ```text
//! SETBIT key offset 0|1           BITCOUNT key [start end [BYTE|BIT]]
//! GETBIT key offset               BITPOS key 0|1 [start [end [BYTE|BIT]]]
//! BITOP AND|OR|XOR|NOT destkey key [key ...]
//! ```
//!
//! BITOP's keys may live on several cores: on the main port it is planned
//! like SUNIONSTORE (copies of the sources, the operation on a scratch
//! shard, the result written on the destination's core; see `gather`).
//!
//! An offset is refused past `proto-max-bulk-len` bytes, and the zero bytes
//! a SETBIT would add are charged to the tenant before they are allocated.

use kiln_net::{Args, Reply};
use kiln_store::{BitOp, BitRange, BitUnit, FieldKind, FieldOp, Overflow};

use super::{
    CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, gather, int_arg, store_error,
};
use crate::command;
use crate::commands::execute::admit_growth;
use crate::shared::LiveSettings;
use crate::tenant::Growth;

const ONE_KEY: Route = Route::Keys(KeyRouting::SameCore);
const GATHERED: Route = Route::Keys(KeyRouting::Planned(gather::algebra_plan));
const BAD_OFFSET: Reply = Reply::error("ERR bit offset is not an integer or out of range");

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("setbit", 4, Flags::WRITE.with(Flags::DENYOOM), &["@write", "@bitmap", "@slow"], KeySpec::FIRST, ONE_KEY, setbit,
        "bitmap", "2.2.0", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist."),
    command!("getbit", 3, Flags::READONLY.with(Flags::FAST), &["@read", "@bitmap", "@fast"], KeySpec::FIRST, ONE_KEY, getbit,
        "bitmap", "2.2.0", "Returns a bit value by offset."),
    command!("bitcount", -2, Flags::READONLY, &["@read", "@bitmap", "@slow"], KeySpec::FIRST, ONE_KEY, bitcount,
        "bitmap", "2.6.0", "Counts the number of set bits (population counting) in a string."),
    command!("bitfield", -2, Flags::WRITE.with(Flags::DENYOOM), &["@write", "@bitmap", "@slow"], KeySpec::FIRST, ONE_KEY, bitfield,
        "bitmap", "3.2.0", "Performs arbitrary bitfield integer operations on strings."),
    command!("bitfield_ro", -2, Flags::READONLY.with(Flags::FAST), &["@read", "@bitmap", "@fast"], KeySpec::FIRST, ONE_KEY, bitfield_ro,
        "bitmap", "6.0.0", "Performs arbitrary read-only bitfield integer operations on strings."),
    command!("bitpos", -3, Flags::READONLY, &["@read", "@bitmap", "@slow"], KeySpec::FIRST, ONE_KEY, bitpos,
        "bitmap", "2.8.7", "Finds the first set (1) or clear (0) bit in a string."),
    command!("bitop", -4, Flags::WRITE.with(Flags::DENYOOM), &["@write", "@bitmap", "@slow"], KeySpec::range(2, -1, 1), GATHERED, bitop,
        "bitmap", "2.6.0", "Performs bitwise operations on multiple strings, and stores the result."),
];

/// A bit offset: non-negative and within `proto-max-bulk-len` bytes.
fn offset(ctx: &Ctx<'_>, arg: &[u8]) -> Result<u64, Reply> {
    let max_bytes = LiveSettings::get(&ctx.shared.runtime.proto_max_bulk_len);
    kiln_store::numeric::parse_i64(arg)
        .and_then(|n| u64::try_from(n).ok())
        .filter(|&n| n >> 3 < max_bytes)
        .ok_or(BAD_OFFSET)
}

fn setbit(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let offset = match offset(ctx, args.get(2)) {
        Ok(offset) => offset,
        Err(e) => return e,
    };
    let on = match args.get(3) {
        b"1" => true,
        b"0" => false,
        _ => return Reply::error("ERR bit is not an integer or out of range"),
    };
    let key = args.get(1);
    // The zero bytes it adds count against the tenant before they exist.
    // Looked up as a write: no hit or miss is counted (or notified).
    let len = ctx
        .shard
        .peek_record(key)
        .and_then(|r| r.value.as_string().map(|v| v.len()))
        .unwrap_or(0) as u64;
    let needed = (offset / 8 + 1).saturating_sub(len);
    if needed > 0 {
        let growth = Growth::default().bytes(needed as usize);
        if let Err(refusal) = admit_growth(ctx.shared, ctx.core, ctx.tenant, growth) {
            return refusal;
        }
    }
    match ctx.shard.set_bit(key, offset, on) {
        Ok(old) => Reply::Integer(i64::from(old)),
        Err(e) => store_error(e),
    }
}

fn getbit(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match offset(ctx, args.get(2)) {
        Ok(offset) => match ctx.shard.get_bit(args.get(1), offset) {
            Ok(bit) => Reply::Integer(i64::from(bit)),
            Err(e) => store_error(e),
        },
        Err(e) => e,
    }
}

/// `start [end [BYTE|BIT]]` from `args[at..]`; `end_required` for BITCOUNT.
fn range(args: Args<'_>, at: usize, end_required: bool) -> Result<Option<BitRange>, Reply> {
    let rest = args.len() - at;
    if rest == 0 {
        return Ok(None);
    }
    if rest > 3 || (end_required && rest == 1) {
        return Err(errors::SYNTAX);
    }
    let start = int_arg(args.get(at))?;
    let end = if rest >= 2 {
        Some(int_arg(args.get(at + 1))?)
    } else {
        None
    };
    let unit = match rest {
        3 if args.get(at + 2).eq_ignore_ascii_case(b"BYTE") => BitUnit::Byte,
        3 if args.get(at + 2).eq_ignore_ascii_case(b"BIT") => BitUnit::Bit,
        3 => return Err(errors::SYNTAX),
        _ => BitUnit::Byte,
    };
    Ok(Some(BitRange { start, end, unit }))
}

fn bitcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match range(args, 2, true) {
        Ok(range) => match ctx.shard.bit_count(args.get(1), range) {
            Ok(n) => Reply::Integer(n as i64),
            Err(e) => store_error(e),
        },
        Err(e) => e,
    }
}

fn bitpos(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let bit = match args.get(2) {
        b"1" => true,
        b"0" => false,
        _ => return Reply::error("ERR The bit argument must be 1 or 0."),
    };
    match range(args, 3, false) {
        Ok(range) => match ctx.shard.bit_pos(args.get(1), bit, range) {
            Ok(n) => Reply::Integer(n),
            Err(e) => store_error(e),
        },
        Err(e) => e,
    }
}

/// Most operations one BITFIELD may carry (each takes at least three
/// arguments, so a request within the argument limits never reaches it;
/// it bounds the reply all the same).
const MAX_FIELD_OPS: usize = 1 << 20;

/// `i<bits>` (1..=64) or `u<bits>` (1..=63).
fn field_type(arg: &[u8]) -> Result<(bool, u32), Reply> {
    let bad = Reply::error(
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
    );
    let (signed, digits) = match arg.split_first() {
        Some((b'i' | b'I', rest)) => (true, rest),
        Some((b'u' | b'U', rest)) => (false, rest),
        _ => return Err(bad),
    };
    let bits = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse::<u32>().ok())
        .filter(|&b| b >= 1 && (b <= 63 || (signed && b == 64)));
    bits.map(|b| (signed, b)).ok_or(bad)
}

/// A field offset: bits, or `#n` fields of `bits`; the field must end
/// within `proto-max-bulk-len` bytes.
fn field_offset(ctx: &Ctx<'_>, arg: &[u8], bits: u32) -> Result<u64, Reply> {
    let (scaled, digits) = match arg.strip_prefix(b"#") {
        Some(rest) => (true, rest),
        None => (false, arg),
    };
    let max_bits = LiveSettings::get(&ctx.shared.runtime.proto_max_bulk_len).saturating_mul(8);
    kiln_store::numeric::parse_i64(digits)
        .and_then(|n| u64::try_from(n).ok())
        .and_then(|n| {
            if scaled {
                n.checked_mul(u64::from(bits))
            } else {
                Some(n)
            }
        })
        .filter(|&n| n.saturating_add(u64::from(bits)) <= max_bits)
        .ok_or(BAD_OFFSET)
}

/// BITFIELD's operations, all checked before any runs.
fn field_ops(ctx: &Ctx<'_>, args: Args<'_>, read_only: bool) -> Result<Vec<FieldOp>, Reply> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut at = 2;
    while at < args.len() {
        let word = args.get(at);
        let left = args.len() - at - 1;
        if word.eq_ignore_ascii_case(b"OVERFLOW") && left >= 1 {
            let policy = args.get(at + 1);
            overflow = if policy.eq_ignore_ascii_case(b"WRAP") {
                Overflow::Wrap
            } else if policy.eq_ignore_ascii_case(b"SAT") {
                Overflow::Sat
            } else if policy.eq_ignore_ascii_case(b"FAIL") {
                Overflow::Fail
            } else {
                return Err(Reply::error("ERR Invalid OVERFLOW type specified"));
            };
            at += 2;
            continue;
        }
        let get = word.eq_ignore_ascii_case(b"GET");
        let set = word.eq_ignore_ascii_case(b"SET");
        let incr = word.eq_ignore_ascii_case(b"INCRBY");
        let needs = if get { 2 } else { 3 };
        if !(get || set || incr) || left < needs {
            return Err(errors::SYNTAX);
        }
        let (signed, bits) = field_type(args.get(at + 1))?;
        let offset = field_offset(ctx, args.get(at + 2), bits)?;
        let kind = if get {
            FieldKind::Get
        } else {
            let value = int_arg(args.get(at + 3))?;
            if read_only {
                return Err(Reply::error(
                    "ERR BITFIELD_RO only supports the GET subcommand",
                ));
            }
            if set {
                FieldKind::Set(value)
            } else {
                FieldKind::IncrBy(value)
            }
        };
        if ops.len() == MAX_FIELD_OPS {
            return Err(errors::SYNTAX);
        }
        ops.push(FieldOp {
            kind,
            signed,
            bits,
            offset,
            overflow,
        });
        at += needs + 1;
    }
    Ok(ops)
}

fn run_bitfield(ctx: &mut Ctx<'_>, args: Args<'_>, read_only: bool) -> Reply {
    let ops = match field_ops(ctx, args, read_only) {
        Ok(ops) => ops,
        Err(e) => return e,
    };
    let key = args.get(1);
    let end = ops
        .iter()
        .filter(|op| op.kind != FieldKind::Get)
        .map(|op| (op.offset + u64::from(op.bits)).div_ceil(8))
        .max()
        .unwrap_or(0);
    // Looked up as a write: no hit or miss is counted (or notified).
    let len = ctx
        .shard
        .peek_record(key)
        .and_then(|r| r.value.as_string().map(|v| v.len()))
        .unwrap_or(0) as u64;
    if end > len {
        let growth = Growth::default().bytes((end - len) as usize);
        if let Err(refusal) = admit_growth(ctx.shared, ctx.core, ctx.tenant, growth) {
            return refusal;
        }
    }
    match ctx.shard.bitfield(key, &ops) {
        Ok(answers) => Reply::Array(
            answers
                .into_iter()
                .map(|a| a.map_or(Reply::Nil, Reply::Integer))
                .collect(),
        ),
        Err(e) => store_error(e),
    }
}

fn bitfield(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    run_bitfield(ctx, args, false)
}

fn bitfield_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    run_bitfield(ctx, args, true)
}

/// BITOP op destkey key...: the operation and the key count are checked
/// before any key is read.
fn bitop(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let word = args.get(1);
    let op = if word.eq_ignore_ascii_case(b"AND") {
        BitOp::And
    } else if word.eq_ignore_ascii_case(b"OR") {
        BitOp::Or
    } else if word.eq_ignore_ascii_case(b"XOR") {
        BitOp::Xor
    } else if word.eq_ignore_ascii_case(b"NOT") {
        BitOp::Not
    } else {
        return errors::SYNTAX;
    };
    if op == BitOp::Not && args.len() != 4 {
        return Reply::error("ERR BITOP NOT must be called with a single source key.");
    }
    let sources: Vec<&[u8]> = args.iter().skip(3).collect();
    match ctx.shard.bit_op(op, args.get(2), &sources) {
        Ok(len) => Reply::Integer(len as i64),
        Err(e) => store_error(e),
    }
}
