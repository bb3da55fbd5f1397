//! Sorted-set commands, for [`Client`](crate::Client) and
//! [`Pipeline`](crate::Pipeline).
//!
//! Scores come back as RESP3 doubles or RESP2 bulk strings (`"1.5"`,
//! `"inf"`); both are `f64` here. Member/score lists come as RESP3 pairs or
//! RESP2's flat `member, score, ...`; both are `Vec<(Bytes, f64)>`.

use bytes::Bytes;
use kiln_net::Reply;

use super::{
    ArgBytes, b, bytes, bytes_list, counted_keys, float, int, items, n, opt_bytes, opt_float,
    opt_int, opt_tuple, s, scored, unexpected,
};
use crate::Error;
use crate::options::{
    LexBound, Members, MinMax, RangeReply, ScoreBound, ScoredMembers, ZAdd, ZCombineOptions,
    ZRange, score_arg,
};

/// `name key member...`
fn key_and<'a, M: AsRef<[u8]>>(
    name: &'static str,
    key: &'a [u8],
    members: &'a [M],
) -> Vec<ArgBytes<'a>> {
    let mut args = Vec::with_capacity(members.len() + 2);
    args.extend([s(name), b(key)]);
    args.extend(members.iter().map(b));
    args
}

fn bound(bound: impl Into<ScoreBound>) -> ArgBytes<'static> {
    ArgBytes::Owned(bound.into().to_arg().into_bytes())
}

fn lex(bound: &LexBound) -> ArgBytes<'static> {
    ArgBytes::Owned(bound.to_arg())
}

/// `name [destination] numkeys key... [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]`
fn combine_args<'a>(
    name: &'static str,
    destination: Option<&'a [u8]>,
    keys: &'a [impl AsRef<[u8]>],
    options: Option<&ZCombineOptions>,
    with_scores: bool,
) -> Vec<ArgBytes<'a>> {
    let mut args = vec![s(name)];
    args.extend(destination.map(b));
    counted_keys(&mut args, keys);
    if let Some(options) = options {
        options.push_args(&mut args);
    }
    if with_scores {
        args.push(s("WITHSCORES"));
    }
    args
}

fn opt_scores(reply: Reply) -> Result<Vec<Option<f64>>, Error> {
    items(reply)?.into_iter().map(opt_float).collect()
}

/// `[rank, score]` of `ZRANK ... WITHSCORE`, or nil.
fn opt_rank_score(reply: Reply) -> Result<Option<(i64, f64)>, Error> {
    match opt_tuple(reply)? {
        Some([rank, score]) => Ok(Some((int(rank)?, float(score)?))),
        None => Ok(None),
    }
}

/// `[key, [[member, score], ...]]` of `ZMPOP` / `BZMPOP`, or nil.
pub(crate) fn popped_scored(reply: Reply) -> Result<Option<(Bytes, ScoredMembers)>, Error> {
    match opt_tuple(reply)? {
        Some([key, members]) => Ok(Some((bytes(key)?, scored(members)?))),
        None => Ok(None),
    }
}

/// `[key, member, score]` of `BZPOPMIN` / `BZPOPMAX`, or nil on timeout.
pub(crate) fn opt_key_member_score(reply: Reply) -> Result<Option<(Bytes, Bytes, f64)>, Error> {
    match opt_tuple(reply)? {
        Some([key, member, score]) => Ok(Some((bytes(key)?, bytes(member)?, float(score)?))),
        None => Ok(None),
    }
}

/// `ZADD ... INCR`: a score, or nil when a condition stopped the update.
fn incr_reply(reply: Reply) -> Result<Option<f64>, Error> {
    match reply {
        Reply::Array(_) => Err(unexpected("a score", &reply)),
        other => opt_float(other),
    }
}

typed_commands! {
    /// `ZADD key [NX|XX] [GT|LT] [CH] score member...` from a [`ZAdd`] →
    /// how many members were added (with `CH`: added or changed).
    fn zadd_with(zadd: &ZAdd) -> i64 = int => { zadd.args(false) }

    /// `ZADD key [NX|XX] [GT|LT] INCR increment member` from a [`ZAdd`] with
    /// one member → the member's new score, `None` when `NX` / `XX` / `GT` /
    /// `LT` stopped it.
    fn zincr(zadd: &ZAdd) -> Option<f64> = incr_reply => { zadd.args(true) }

    /// `ZINCRBY key increment member` → the new score.
    fn zincrby(key: impl AsRef<[u8]>, increment: f64, member: impl AsRef<[u8]>) -> f64
        = float => { vec![s("ZINCRBY"), b(&key), score_arg(increment), b(&member)] }

    /// `ZREM key member...` → how many members were removed.
    fn zrem(key: impl AsRef<[u8]>, members: &[impl AsRef<[u8]>]) -> i64 = int => {
        key_and("ZREM", key.as_ref(), members)
    }

    /// `ZSCORE key member`
    fn zscore(key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Option<f64> = opt_float => {
        vec![s("ZSCORE"), b(&key), b(&member)]
    }

    /// `ZMSCORE key member...` → one score (or `None`) per member.
    fn zmscore(key: impl AsRef<[u8]>, members: &[impl AsRef<[u8]>]) -> Vec<Option<f64>>
        = opt_scores => { key_and("ZMSCORE", key.as_ref(), members) }

    /// `ZCARD key` → the number of members.
    fn zcard(key: impl AsRef<[u8]>) -> i64 = int => { vec![s("ZCARD"), b(&key)] }

    /// `ZCOUNT key min max` → how many scores are in the range.
    fn zcount(key: impl AsRef<[u8]>, min: impl Into<ScoreBound>, max: impl Into<ScoreBound>)
        -> i64 = int => { vec![s("ZCOUNT"), b(&key), bound(min), bound(max)] }

    /// `ZLEXCOUNT key min max` → how many members are in the lex range.
    fn zlexcount(key: impl AsRef<[u8]>, min: &LexBound, max: &LexBound) -> i64 = int => {
        vec![s("ZLEXCOUNT"), b(&key), lex(min), lex(max)]
    }

    /// `ZRANK key member` → its rank by ascending score, `None` if absent.
    fn zrank(key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Option<i64> = opt_int => {
        vec![s("ZRANK"), b(&key), b(&member)]
    }

    /// `ZRANK key member WITHSCORE` → its rank and score.
    fn zrank_withscore(key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Option<(i64, f64)>
        = opt_rank_score => { vec![s("ZRANK"), b(&key), b(&member), s("WITHSCORE")] }

    /// `ZREVRANK key member` → its rank by descending score.
    fn zrevrank(key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Option<i64> = opt_int => {
        vec![s("ZREVRANK"), b(&key), b(&member)]
    }

    /// `ZREVRANK key member WITHSCORE` → its rank by descending score, and score.
    fn zrevrank_withscore(key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Option<(i64, f64)>
        = opt_rank_score => { vec![s("ZREVRANK"), b(&key), b(&member), s("WITHSCORE")] }

    /// `ZRANGE key ...` from a [`ZRange`] → members, or `(member, score)`
    /// pairs after [`ZRange::with_scores`].
    fn zrange_with<S: RangeReply>(range: &ZRange<S>) -> S::Output = S::convert => {
        range.args()
    }

    /// `ZRANGESTORE destination key ...` from a [`ZRange`] → how many
    /// members were stored.
    fn zrangestore(destination: impl AsRef<[u8]>, range: &ZRange<Members>) -> i64 = int => {
        range.store_args(destination.as_ref())
    }

    /// `ZPOPMIN key count` → up to `count` lowest-scoring members, removed.
    fn zpopmin(key: impl AsRef<[u8]>, count: u64) -> Vec<(Bytes, f64)> = scored => {
        vec![s("ZPOPMIN"), b(&key), n(count)]
    }

    /// `ZPOPMAX key count` → up to `count` highest-scoring members, removed.
    fn zpopmax(key: impl AsRef<[u8]>, count: u64) -> Vec<(Bytes, f64)> = scored => {
        vec![s("ZPOPMAX"), b(&key), n(count)]
    }

    /// `ZMPOP numkeys key... MIN|MAX COUNT count` → the first non-empty
    /// key and up to `count` members popped from it.
    fn zmpop(keys: &[impl AsRef<[u8]>], end: MinMax, count: u64)
        -> Option<(Bytes, ScoredMembers)> = popped_scored => {
        let mut args = vec![s("ZMPOP")];
        counted_keys(&mut args, keys);
        args.extend([s(end.word()), s("COUNT"), n(count)]);
        args
    }

    /// `ZRANDMEMBER key` → a random member, `None` if empty.
    fn zrandmember(key: impl AsRef<[u8]>) -> Option<Bytes> = opt_bytes => {
        vec![s("ZRANDMEMBER"), b(&key)]
    }

    /// `ZRANDMEMBER key count` → up to `count` distinct members; a negative
    /// count returns exactly `-count`, possibly repeated.
    fn zrandmember_count(key: impl AsRef<[u8]>, count: i64) -> Vec<Bytes> = bytes_list => {
        vec![s("ZRANDMEMBER"), b(&key), n(count)]
    }

    /// `ZRANDMEMBER key count WITHSCORES`
    fn zrandmember_withscores(key: impl AsRef<[u8]>, count: i64) -> Vec<(Bytes, f64)>
        = scored => { vec![s("ZRANDMEMBER"), b(&key), n(count), s("WITHSCORES")] }

    /// `ZUNION numkeys key... [WEIGHTS ...] [AGGREGATE ...]` → members.
    fn zunion(keys: &[impl AsRef<[u8]>], options: &ZCombineOptions) -> Vec<Bytes>
        = bytes_list => { combine_args("ZUNION", None, keys, Some(options), false) }

    /// `ZUNION ... WITHSCORES` → members and combined scores.
    fn zunion_withscores(keys: &[impl AsRef<[u8]>], options: &ZCombineOptions)
        -> Vec<(Bytes, f64)> = scored => {
        combine_args("ZUNION", None, keys, Some(options), true)
    }

    /// `ZUNIONSTORE destination numkeys key... [WEIGHTS ...] [AGGREGATE ...]`
    /// → the size of the stored set.
    fn zunionstore(
        destination: impl AsRef<[u8]>,
        keys: &[impl AsRef<[u8]>],
        options: &ZCombineOptions,
    ) -> i64 = int => {
        combine_args("ZUNIONSTORE", Some(destination.as_ref()), keys, Some(options), false)
    }

    /// `ZINTER numkeys key... [WEIGHTS ...] [AGGREGATE ...]` → members.
    fn zinter(keys: &[impl AsRef<[u8]>], options: &ZCombineOptions) -> Vec<Bytes>
        = bytes_list => { combine_args("ZINTER", None, keys, Some(options), false) }

    /// `ZINTER ... WITHSCORES` → members and combined scores.
    fn zinter_withscores(keys: &[impl AsRef<[u8]>], options: &ZCombineOptions)
        -> Vec<(Bytes, f64)> = scored => {
        combine_args("ZINTER", None, keys, Some(options), true)
    }

    /// `ZINTERSTORE destination numkeys key... [WEIGHTS ...] [AGGREGATE ...]`
    /// → the size of the stored set.
    fn zinterstore(
        destination: impl AsRef<[u8]>,
        keys: &[impl AsRef<[u8]>],
        options: &ZCombineOptions,
    ) -> i64 = int => {
        combine_args("ZINTERSTORE", Some(destination.as_ref()), keys, Some(options), false)
    }

    /// `ZINTERCARD numkeys key... [LIMIT limit]` → the size of the
    /// intersection, counting stopped at `limit` (`None` or 0: no limit).
    fn zintercard(keys: &[impl AsRef<[u8]>], limit: Option<u64>) -> i64 = int => {
        let mut args = combine_args("ZINTERCARD", None, keys, None, false);
        if let Some(limit) = limit {
            args.extend([s("LIMIT"), n(limit)]);
        }
        args
    }

    /// `ZDIFF numkeys key...` → members of the first set in none of the others.
    fn zdiff(keys: &[impl AsRef<[u8]>]) -> Vec<Bytes> = bytes_list => {
        combine_args("ZDIFF", None, keys, None, false)
    }

    /// `ZDIFF numkeys key... WITHSCORES`
    fn zdiff_withscores(keys: &[impl AsRef<[u8]>]) -> Vec<(Bytes, f64)> = scored => {
        combine_args("ZDIFF", None, keys, None, true)
    }

    /// `ZDIFFSTORE destination numkeys key...` → the size of the stored set.
    fn zdiffstore(destination: impl AsRef<[u8]>, keys: &[impl AsRef<[u8]>]) -> i64 = int => {
        combine_args("ZDIFFSTORE", Some(destination.as_ref()), keys, None, false)
    }

    /// `ZREMRANGEBYSCORE key min max` → how many members were removed.
    fn zremrangebyscore(
        key: impl AsRef<[u8]>,
        min: impl Into<ScoreBound>,
        max: impl Into<ScoreBound>,
    ) -> i64 = int => {
        vec![s("ZREMRANGEBYSCORE"), b(&key), bound(min), bound(max)]
    }

    /// `ZREMRANGEBYRANK key start stop` → how many members were removed.
    fn zremrangebyrank(key: impl AsRef<[u8]>, start: i64, stop: i64) -> i64 = int => {
        vec![s("ZREMRANGEBYRANK"), b(&key), n(start), n(stop)]
    }

    /// `ZREMRANGEBYLEX key min max` → how many members were removed.
    fn zremrangebylex(key: impl AsRef<[u8]>, min: &LexBound, max: &LexBound) -> i64 = int => {
        vec![s("ZREMRANGEBYLEX"), b(&key), lex(min), lex(max)]
    }
}
