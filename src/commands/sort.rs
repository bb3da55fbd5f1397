//! SORT and SORT_RO: `SORT key [BY pattern] [LIMIT offset count]
//! [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]`.
//!
//! Options are read in Redis's order and with its errors. A pattern names
//! keys built from each element, so, as in Redis Cluster, a `BY` or `GET`
//! pattern must name keys in the sorted key's slot (a hash tag, e.g.
//! `SORT {u}ids BY {u}w_*`); `GET #` and a constant `BY` (no sorting)
//! name none. The STORE destination must live on the same core.

use kiln_net::slot::{key_slot, pattern_slot};
use kiln_net::{Args, Reply};
use kiln_store::SortOptions;

use super::collection::reply;
use super::{CommandSpec, Ctx, Flags, KeyRouting, KeySpec, Route, errors, int_arg};
use crate::command;

const ONE_CORE: Route = Route::Keys(KeyRouting::SameCore);

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("sort", -2, Flags::WRITE.with(Flags::DENYOOM), &["@write", "@set", "@sortedset", "@list", "@slow", "@dangerous"], KeySpec::FIRST, ONE_CORE, sort,
        "generic", "1.0.0", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result."),
    command!("sort_ro", -2, Flags::READONLY, &["@read", "@set", "@sortedset", "@list", "@slow", "@dangerous"], KeySpec::FIRST, ONE_CORE, sort_ro,
        "generic", "7.0.0", "Returns the sorted elements of a list, a set, or a sorted set."),
];

/// `COMMAND DOCS` argument syntax of this family.
pub const SYNTAX: &[(&str, &str)] = &[
    (
        "sort",
        "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]",
    ),
    (
        "sort_ro",
        "key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]",
    ),
];

/// The options, and the STORE destination (never for SORT_RO).
fn parse(args: Args<'_>, read_only: bool) -> Result<(SortOptions<'_>, Option<&[u8]>), Reply> {
    let key_slot = key_slot(args.get(1));
    let same_slot = |pattern: &[u8]| pattern_slot(pattern) == Some(key_slot);
    let mut options = SortOptions::default();
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let word = args.get(i);
        let left = args.len() - i - 1;
        let is = |name: &[u8]| word.eq_ignore_ascii_case(name);
        if is(b"asc") {
            options.desc = false;
        } else if is(b"desc") {
            options.desc = true;
        } else if is(b"alpha") {
            options.alpha = true;
        } else if is(b"limit") && left >= 2 {
            options.limit = Some((int_arg(args.get(i + 1))?, int_arg(args.get(i + 2))?));
            i += 2;
        } else if !read_only && is(b"store") && left >= 1 {
            store = Some(args.get(i + 1));
            i += 1;
        } else if is(b"by") && left >= 1 {
            let pattern = args.get(i + 1);
            if pattern.contains(&b'*') && !same_slot(pattern) {
                return Err(Reply::error(
                    "ERR BY option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.",
                ));
            }
            options.by = Some(pattern);
            i += 1;
        } else if is(b"get") && left >= 1 {
            let pattern = args.get(i + 1);
            if pattern != b"#" && !same_slot(pattern) {
                return Err(Reply::error(
                    "ERR GET option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.",
                ));
            }
            options.get.push(pattern);
            i += 1;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    Ok((options, store))
}

fn sort_generic(ctx: &mut Ctx<'_>, args: Args<'_>, read_only: bool) -> Reply {
    let (options, store) = match parse(args, read_only) {
        Ok(parsed) => parsed,
        Err(e) => return e,
    };
    let key = args.get(1);
    match store {
        Some(dst) if ctx.shared.slots.owner_of(dst) != ctx.core => errors::CROSSSLOT,
        Some(dst) => reply(ctx.shard.sort_store(key, dst, &options), |n| {
            Reply::Integer(n as i64)
        }),
        None => reply(ctx.shard.sort(key, &options, false), |out| {
            Reply::Array(
                out.into_iter()
                    .map(|v| v.map_or(Reply::Nil, Reply::Bulk))
                    .collect(),
            )
        }),
    }
}

fn sort(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    sort_generic(ctx, args, true)
}

#[cfg(test)]
mod tests {
    use kiln_net::Reply;

    use crate::commands::testbed::TestBed;

    #[test]
    fn patterns_must_stay_in_the_keys_slot() {
        let mut bed = TestBed::new();
        bed.run(&["RPUSH", "{u}ids", "2", "1"]);
        bed.run(&["SET", "{u}w_1", "9"]);
        assert!(matches!(
            bed.run(&["SORT", "{u}ids", "BY", "w_*"]),
            Reply::Error(e) if e.starts_with("ERR BY option of SORT denied in Cluster mode")
        ));
        assert!(matches!(
            bed.run(&["SORT", "{u}ids", "GET", "{other}w_*"]),
            Reply::Error(e) if e.starts_with("ERR GET option of SORT denied in Cluster mode")
        ));
        assert_eq!(
            bed.run(&[
                "SORT", "{u}ids", "BY", "{u}w_*", "GET", "#", "GET", "{u}w_*"
            ]),
            Reply::Array(vec![
                TestBed::bulk("2"),
                Reply::Nil,
                TestBed::bulk("1"),
                TestBed::bulk("9")
            ])
        );
        assert_eq!(
            bed.run(&["SORT", "{u}ids", "BY", "constant"]),
            Reply::Array(vec![TestBed::bulk("2"), TestBed::bulk("1")])
        );
        assert_eq!(
            bed.run(&["SORT_RO", "{u}ids", "STORE", "{u}d"]),
            Reply::error("ERR syntax error")
        );
    }
}
