//! Bitmaps on strings: SETBIT, GETBIT, BITCOUNT, BITPOS (Redis 7.2's
//! semantics: arguments are checked before the key is looked up).
//!
//! ```text
//! SETBIT key offset 0|1           BITCOUNT key [start end [BYTE|BIT]]
//! GETBIT key offset               BITPOS key 0|1 [start [end [BYTE|BIT]]]
//! ```
//!
//! An offset is refused past `proto-max-bulk-len` bytes, and the zero bytes
//! a SETBIT would add are charged to the tenant before they are allocated.

use kiln_net::{Args, Reply};
use kiln_store::{BitRange, BitUnit};

use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, int_arg, store_error};
use crate::command;
use crate::commands::execute::admit_growth;
use crate::shared::LiveSettings;
use crate::tenant::Growth;

const ONE_KEY: Route = Route::Keys(KeyRouting::SameCore);
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
    command!("bitpos", -3, Flags::READONLY, &["@read", "@bitmap", "@slow"], KeySpec::FIRST, ONE_KEY, bitpos,
        "bitmap", "2.8.7", "Finds the first set (1) or clear (0) bit in a string."),
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
    let len = ctx.shard.strlen(key).unwrap_or(0) as u64;
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
