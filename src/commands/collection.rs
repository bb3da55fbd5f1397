//! What the collection families (hash, set, zset, list) share: their
//! element-scan arguments (HSCAN, SSCAN, ZSCAN), random-count parsing, and
//! the WRONGTYPE-aware reply helpers.

use bytes::Bytes;
use kiln_net::{Args, Reply};
use kiln_store::{MAX_RANDOM_DRAWS, Shard, StoreError};

use super::{errors, int_arg, store_error};

/// SCAN's COUNT when none is given.
const DEFAULT_COUNT: usize = 10;

/// HSCAN / SSCAN / ZSCAN options after the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElementScan<'a> {
    /// The cursor.
    pub cursor: u64,
    /// COUNT, at least 1.
    pub count: usize,
    /// MATCH.
    pub pattern: Option<&'a [u8]>,
}

/// An unsigned decimal cursor (Redis's `string2ull`), or `ERR invalid cursor`.
pub fn parse_cursor(arg: &[u8]) -> Result<u64, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(Reply::error("ERR invalid cursor"))
}

/// Redis's `scanGenericCommand` options for a key's elements: MATCH and
/// COUNT (at least 1), later ones winning; TYPE and anything else are a
/// syntax error.
pub fn parse_element_scan(args: Args<'_>, cursor: u64) -> Result<ElementScan<'_>, Reply> {
    let mut scan = ElementScan {
        cursor,
        count: DEFAULT_COUNT,
        pattern: None,
    };
    let mut i = 3;
    while i < args.len() {
        let (opt, value) = (args.get(i), args.try_get(i + 1).ok_or(errors::SYNTAX)?);
        if opt.eq_ignore_ascii_case(b"count") {
            let n = int_arg(value)?;
            scan.count = usize::try_from(n)
                .ok()
                .filter(|&n| n >= 1)
                .ok_or(errors::SYNTAX)?;
        } else if opt.eq_ignore_ascii_case(b"match") {
            scan.pattern = Some(value);
        } else {
            return Err(errors::SYNTAX);
        }
        i += 2;
    }
    Ok(scan)
}

/// A store's walk of one key's elements: `(key, cursor, count, pattern)`
/// to the next cursor and a batch.
pub type ElementScanFn<T> =
    fn(&mut Shard, &[u8], u64, usize, Option<&[u8]>) -> Result<(u64, Vec<T>), StoreError>;

/// HSCAN / SSCAN / ZSCAN `key cursor [MATCH pattern] [COUNT count]`: the
/// cursor is checked first, a missing key is an empty scan before the
/// options are (as Redis orders it); `len` says whether the key holds
/// anything (and of the right type), `scan` walks it, and `flatten` turns
/// each element into its replies.
pub fn element_scan<T, R: IntoIterator<Item = Reply>>(
    shard: &mut Shard,
    args: Args<'_>,
    len: fn(&mut Shard, &[u8]) -> Result<usize, StoreError>,
    scan: ElementScanFn<T>,
    flatten: impl FnMut(T) -> R,
) -> Reply {
    let cursor = match parse_cursor(args.get(2)) {
        Ok(c) => c,
        Err(e) => return e,
    };
    match len(shard, args.get(1)) {
        Ok(0) => return scan_reply(0, Vec::new()),
        Ok(_) => {}
        Err(e) => return store_error(e),
    }
    let options = match parse_element_scan(args, cursor) {
        Ok(s) => s,
        Err(e) => return e,
    };
    reply(
        scan(
            shard,
            args.get(1),
            options.cursor,
            options.count,
            options.pattern,
        ),
        |(next, items)| scan_reply(next, items.into_iter().flat_map(flatten).collect()),
    )
}

/// A scan reply: `[cursor, [elements...]]`.
pub fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::bulk_from(cursor.to_string()),
        Reply::Array(items),
    ])
}

/// The count of HRANDFIELD / SRANDMEMBER / ZRANDMEMBER: an integer within
/// `-LONG_MAX..=LONG_MAX` (Redis's range and wording), and for a negative
/// one at most [`MAX_RANDOM_DRAWS`] draws, so a hostile count cannot build
/// an unbounded reply.
pub fn parse_random_count(arg: &[u8]) -> Result<i64, Reply> {
    let n = int_arg(arg)?;
    if n == i64::MIN {
        return Err(Reply::error(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if n < 0 && n.unsigned_abs() > MAX_RANDOM_DRAWS {
        return Err(Reply::error("ERR value is out of range"));
    }
    Ok(n)
}

/// A bulk reply per element.
pub fn bulks(items: impl IntoIterator<Item = Bytes>) -> Reply {
    Reply::Array(items.into_iter().map(Reply::Bulk).collect())
}

/// The reply of a store result: `ok` on success, the store's error text
/// (WRONGTYPE...) otherwise.
pub fn reply<T>(result: Result<T, StoreError>, ok: impl FnOnce(T) -> Reply) -> Reply {
    match result {
        Ok(v) => ok(v),
        Err(e) => store_error(e),
    }
}

/// A non-negative count argument (`SPOP key count`, `LPOP key count`):
/// `ERR value is out of range, must be positive` otherwise.
pub fn positive_count(arg: &[u8]) -> Result<usize, Reply> {
    let n =
        int_arg(arg).map_err(|_| Reply::error("ERR value is out of range, must be positive"))?;
    usize::try_from(n).map_err(|_| Reply::error("ERR value is out of range, must be positive"))
}

/// `numkeys` of SINTERCARD / LMPOP / ZMPOP: an integer of at least 1 (`message`
/// otherwise) and no more than the arguments after it (`too_many`).
pub fn parse_numkeys(
    args: Args<'_>,
    at: usize,
    message: &'static str,
    too_many: Reply,
) -> Result<usize, Reply> {
    let n = int_arg(args.get(at))
        .ok()
        .filter(|&n| n > 0)
        .ok_or(Reply::error(message))?;
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > args.len() - at - 1 {
        return Err(too_many);
    }
    Ok(n)
}

/// The `numkeys key... <where> [COUNT count]` of LMPOP / ZMPOP and their
/// blocking forms, from `numkeys_at`: the keys, the end `which` reads
/// (LEFT | RIGHT, MIN | MAX; a syntax error otherwise) and the count (1
/// by default), checked in Redis's order.
pub fn parse_mpop<'a, W>(
    args: Args<'a>,
    numkeys_at: usize,
    which: fn(&[u8]) -> Result<W, Reply>,
) -> Result<(Vec<&'a [u8]>, W, usize), Reply> {
    let n = parse_numkeys(
        args,
        numkeys_at,
        "ERR numkeys should be greater than 0",
        errors::SYNTAX,
    )?;
    let mut i = numkeys_at + 1 + n;
    let end = which(args.try_get(i).ok_or(errors::SYNTAX)?)?;
    i += 1;
    let mut count = None;
    while i < args.len() {
        if count.is_none() && args.get(i).eq_ignore_ascii_case(b"count") && i + 1 < args.len() {
            let c = int_arg(args.get(i + 1))
                .ok()
                .filter(|&c| c > 0)
                .ok_or(Reply::error("ERR count should be greater than 0"))?;
            count = Some(usize::try_from(c).unwrap_or(usize::MAX));
            i += 2;
        } else {
            return Err(errors::SYNTAX);
        }
    }
    let keys = args.iter().skip(numkeys_at + 1).take(n).collect();
    Ok((keys, end, count.unwrap_or(1)))
}
