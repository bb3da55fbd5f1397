//! HyperLogLog on strings, in Redis's representation (see
//! `kiln_store::hll`): PFADD, PFCOUNT, PFMERGE.
//!
//! ```text
//! PFADD key [element ...]     PFCOUNT key [key ...]     PFMERGE destkey [sourcekey ...]
//! ```
//!
//! PFCOUNT of several keys and PFMERGE gather their keys from every core on
//! the main port (as SUNIONSTORE does, `gather`); PFMERGE reads its
//! destination too. PFCOUNT is a read (Redis flags it so too): the count it
//! caches in a single key's header is not logged, and a count gathered from
//! other cores is not cached.

use kiln_net::{Args, Reply};

use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, gather, store_error};
use crate::command;

const ONE_KEY: Route = Route::Keys(KeyRouting::SameCore);
const GATHERED: Route = Route::Keys(KeyRouting::Planned(gather::algebra_plan));

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("pfadd", -2, Flags::WRITE.with(Flags::DENYOOM).with(Flags::FAST), &["@write", "@hyperloglog", "@fast"], KeySpec::FIRST, ONE_KEY, pfadd,
        "hyperloglog", "2.8.9", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist."),
    command!("pfcount", -2, Flags::READONLY.with(Flags::MAY_REPLICATE), &["@read", "@hyperloglog", "@slow"], KeySpec::range(1, -1, 1), GATHERED, pfcount,
        "hyperloglog", "2.8.9", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s)."),
    command!("pfmerge", -2, Flags::WRITE.with(Flags::DENYOOM), &["@write", "@hyperloglog", "@slow"], KeySpec::range(1, -1, 1), GATHERED, pfmerge,
        "hyperloglog", "2.8.9", "Merges one or more HyperLogLog values into a single key."),
];

fn pfadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let elements: Vec<&[u8]> = args.iter().skip(2).collect();
    match ctx.shard.pf_add(args.get(1), &elements) {
        Ok(changed) => Reply::Integer(i64::from(changed)),
        Err(e) => store_error(e),
    }
}

fn pfcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let keys: Vec<&[u8]> = args.iter().skip(1).collect();
    match ctx.shard.pf_count(&keys) {
        Ok(n) => Reply::Integer(n as i64),
        Err(e) => store_error(e),
    }
}

fn pfmerge(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let sources: Vec<&[u8]> = args.iter().skip(2).collect();
    match ctx.shard.pf_merge(args.get(1), &sources) {
        Ok(()) => Reply::OK,
        Err(e) => store_error(e),
    }
}
