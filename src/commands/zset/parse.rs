//! Argument parsing of the sorted-set commands: score and lex range items,
//! ZADD's flags, ZRANGE's options, and ZUNION / ZINTER / ZDIFF's inputs,
//! with Redis's error texts.

use kiln_net::{Args, Reply};
use kiln_store::numeric::parse_f64;
use kiln_store::{Aggregate, LexBound, LexRange, ScoreRange, ZAddFlags, ZRangeBy};

use crate::commands::{errors, int_arg};

/// `ERR min or max is not a float`
const NOT_FLOAT_RANGE: Reply = Reply::error("ERR min or max is not a float");
/// `ERR min or max not valid string range item`
const NOT_LEX_RANGE: Reply = Reply::error("ERR min or max not valid string range item");

/// A score for ZADD / ZINCRBY: a float, not NaN.
pub fn score(arg: &[u8]) -> Result<f64, Reply> {
    parse_f64(arg).ok_or(errors::NOT_FLOAT)
}

/// One end of a score range: `1.5`, `(1.5`, `-inf`, `+inf`.
fn score_item(arg: &[u8]) -> Result<(f64, bool), Reply> {
    let (text, exclusive) = match arg.split_first() {
        Some((b'(', rest)) => (rest, true),
        _ => (arg, false),
    };
    parse_f64(text)
        .map(|v| (v, exclusive))
        .ok_or(NOT_FLOAT_RANGE)
}

/// `min max` as a score range (Redis's `zslParseRange`).
pub fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
    let (min, min_exclusive) = score_item(min)?;
    let (max, max_exclusive) = score_item(max)?;
    Ok(ScoreRange {
        min,
        min_exclusive,
        max,
        max_exclusive,
    })
}

fn lex_item(arg: &[u8]) -> Result<LexBound, Reply> {
    match arg.split_first() {
        Some((b'+', [])) => Ok(LexBound::Max),
        Some((b'-', [])) => Ok(LexBound::Min),
        Some((b'[', rest)) => Ok(LexBound::Inclusive(rest.to_vec())),
        Some((b'(', rest)) => Ok(LexBound::Exclusive(rest.to_vec())),
        _ => Err(NOT_LEX_RANGE),
    }
}

/// `min max` as a lex range (Redis's `zslParseLexRange`).
pub fn lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, Reply> {
    Ok(LexRange {
        min: lex_item(min)?,
        max: lex_item(max)?,
    })
}

/// ZADD's flags and where its score, member pairs start.
pub fn zadd_flags(args: Args<'_>) -> Result<(ZAddFlags, usize), Reply> {
    let mut f = ZAddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        let is = |w: &str| a.eq_ignore_ascii_case(w.as_bytes());
        if is("nx") {
            f.nx = true;
        } else if is("xx") {
            f.xx = true;
        } else if is("gt") {
            f.gt = true;
        } else if is("lt") {
            f.lt = true;
        } else if is("ch") {
            f.ch = true;
        } else if is("incr") {
            f.incr = true;
        } else {
            break;
        }
        i += 1;
    }
    let pairs = args.len() - i;
    if pairs == 0 || !pairs.is_multiple_of(2) {
        return Err(errors::SYNTAX);
    }
    if f.nx && f.xx {
        return Err(Reply::error(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(Reply::error(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && pairs > 2 {
        return Err(Reply::error(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    Ok((f, i))
}

/// Which range a ZRANGE-family command reads, before parsing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeKind {
    /// ZRANGE: decided by BYSCORE / BYLEX, ranks otherwise.
    Auto,
    /// Ranks.
    Rank,
    /// Scores.
    Score,
    /// Lex.
    Lex,
}

/// A parsed ZRANGE-family request.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeRequest {
    /// What to select.
    pub by: ZRangeBy,
    /// Descending.
    pub rev: bool,
    /// LIMIT offset (0 without LIMIT).
    pub offset: i64,
    /// LIMIT count (-1 without LIMIT: all).
    pub limit: i64,
    /// WITHSCORES.
    pub with_scores: bool,
}

/// Redis's `zrangeGenericCommand` parsing: `key min max` at `at` (the
/// source key's index), then options; `rev` / `kind` fixed by the legacy
/// commands or left to the options (ZRANGE); `store` refuses WITHSCORES.
pub fn range_request(
    args: Args<'_>,
    at: usize,
    kind: RangeKind,
    rev: Option<bool>,
    store: bool,
) -> Result<RangeRequest, Reply> {
    let (mut kind, mut direction) = (kind, rev);
    let (mut offset, mut limit, mut with_scores) = (0i64, -1i64, false);
    let mut i = at + 3;
    while i < args.len() {
        let a = args.get(i);
        let is = |w: &str| a.eq_ignore_ascii_case(w.as_bytes());
        let left = args.len() - i - 1;
        if !store && is("withscores") {
            with_scores = true;
        } else if is("limit") && left >= 2 {
            offset = int_arg(args.get(i + 1))?;
            limit = int_arg(args.get(i + 2))?;
            i += 2;
        } else if rev.is_none() && direction.is_none() && is("rev") {
            direction = Some(true);
        } else if kind == RangeKind::Auto && is("bylex") {
            kind = RangeKind::Lex;
        } else if kind == RangeKind::Auto && is("byscore") {
            kind = RangeKind::Score;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    let rev = direction.unwrap_or(false);
    if kind == RangeKind::Auto {
        kind = RangeKind::Rank;
    }
    if (offset != 0 || limit != -1) && kind == RangeKind::Rank {
        return Err(Reply::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if with_scores && kind == RangeKind::Lex {
        return Err(Reply::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let (mut min, mut max) = (args.get(at + 1), args.get(at + 2));
    if rev && kind != RangeKind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let by = match kind {
        RangeKind::Score => ZRangeBy::Score(score_range(min, max)?),
        RangeKind::Lex => ZRangeBy::Lex(lex_range(min, max)?),
        _ => ZRangeBy::Rank(int_arg(min)?, int_arg(max)?),
    };
    Ok(RangeRequest {
        by,
        rev,
        offset,
        limit,
        with_scores,
    })
}

/// ZUNION / ZINTER / ZDIFF (and STORE) inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Combination<'a> {
    /// The input keys.
    pub keys: Vec<&'a [u8]>,
    /// WEIGHTS (empty: all 1).
    pub weights: Vec<f64>,
    /// AGGREGATE.
    pub aggregate: Aggregate,
    /// WITHSCORES.
    pub with_scores: bool,
}

/// Redis's `zunionInterDiffGenericCommand` parsing: numkeys at `at`, its
/// keys, then WEIGHTS (not for ZDIFF), AGGREGATE (not for ZDIFF) and
/// WITHSCORES (not for the STORE forms). `name` is the command's, for the
/// "at least 1 input key" error.
pub fn combination<'a>(
    args: Args<'a>,
    at: usize,
    name: &str,
    diff: bool,
    store: bool,
) -> Result<Combination<'a>, Reply> {
    let n = int_arg(args.get(at))?;
    if n < 1 {
        return Err(Reply::error_owned(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n > args.len() - at - 1 {
        return Err(errors::SYNTAX);
    }
    let keys: Vec<&[u8]> = (at + 1..=at + n).map(|i| args.get(i)).collect();
    let mut c = Combination {
        keys,
        weights: Vec::new(),
        aggregate: Aggregate::Sum,
        with_scores: false,
    };
    let mut i = at + 1 + n;
    while i < args.len() {
        let a = args.get(i);
        let is = |w: &str| a.eq_ignore_ascii_case(w.as_bytes());
        let left = args.len() - i - 1;
        if !diff && is("weights") && left >= n {
            c.weights = (i + 1..=i + n)
                .map(|j| {
                    parse_f64(args.get(j)).ok_or(Reply::error("ERR weight value is not a float"))
                })
                .collect::<Result<_, _>>()?;
            i += n;
        } else if !diff && is("aggregate") && left >= 1 {
            let agg = args.get(i + 1);
            c.aggregate = if agg.eq_ignore_ascii_case(b"sum") {
                Aggregate::Sum
            } else if agg.eq_ignore_ascii_case(b"min") {
                Aggregate::Min
            } else if agg.eq_ignore_ascii_case(b"max") {
                Aggregate::Max
            } else {
                return Err(errors::SYNTAX);
            };
            i += 1;
        } else if !store && is("withscores") {
            c.with_scores = true;
        } else {
            return Err(errors::SYNTAX);
        }
        i += 1;
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use kiln_net::OwnedArgs;

    use super::*;

    fn args(parts: &[&str]) -> OwnedArgs {
        OwnedArgs::new(parts.iter().map(|p| p.as_bytes()))
    }

    #[test]
    fn range_items() {
        assert_eq!(score_item(b"(1.5"), Ok((1.5, true)));
        assert_eq!(score_item(b"-inf"), Ok((f64::NEG_INFINITY, false)));
        assert_eq!(score_item(b"+inf"), Ok((f64::INFINITY, false)));
        assert_eq!(score_item(b"nan"), Err(NOT_FLOAT_RANGE));
        assert_eq!(score_item(b"("), Err(NOT_FLOAT_RANGE));
        assert_eq!(lex_item(b"[a"), Ok(LexBound::Inclusive(b"a".to_vec())));
        assert_eq!(lex_item(b"("), Ok(LexBound::Exclusive(Vec::new())));
        assert_eq!(lex_item(b"a"), Err(NOT_LEX_RANGE));
        assert_eq!(lex_item(b"+a"), Err(NOT_LEX_RANGE));
    }

    #[test]
    fn zrange_options() {
        let a = args(&[
            "zrange",
            "k",
            "(5",
            "1",
            "BYSCORE",
            "REV",
            "LIMIT",
            "1",
            "2",
            "WITHSCORES",
        ]);
        let r = range_request(a.args(), 1, RangeKind::Auto, None, false).unwrap();
        assert!(r.rev && r.with_scores);
        assert_eq!((r.offset, r.limit), (1, 2));
        assert_eq!(r.by, ZRangeBy::Score(score_range(b"1", b"(5").unwrap()));
        let a = args(&["zrange", "k", "0", "1", "LIMIT", "0", "1"]);
        assert!(range_request(a.args(), 1, RangeKind::Auto, None, false).is_err());
        let a = args(&["zrange", "k", "0", "1", "LIMIT", "0", "-1"]);
        assert!(range_request(a.args(), 1, RangeKind::Auto, None, false).is_ok());
        let a = args(&["zrangebyscore", "k", "0", "1", "BYSCORE"]);
        assert_eq!(
            range_request(a.args(), 1, RangeKind::Score, Some(false), false),
            Err(errors::SYNTAX)
        );
    }

    #[test]
    fn combination_options() {
        let a = args(&[
            "zunion",
            "2",
            "a",
            "b",
            "WEIGHTS",
            "1",
            "2",
            "AGGREGATE",
            "MAX",
            "WITHSCORES",
        ]);
        let c = combination(a.args(), 1, "zunion", false, false).unwrap();
        assert_eq!(
            (c.keys.len(), c.weights, c.aggregate, c.with_scores),
            (2, vec![1.0, 2.0], Aggregate::Max, true)
        );
        let a = args(&["zdiff", "1", "a", "WEIGHTS", "1"]);
        assert_eq!(
            combination(a.args(), 1, "zdiff", true, false),
            Err(errors::SYNTAX)
        );
        let a = args(&["zunion", "0", "a"]);
        assert!(combination(a.args(), 1, "zunion", false, false).is_err());
    }
}
