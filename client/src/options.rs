//! Option, builder and reply types of the typed API (`SET`, `GETEX`,
//! `EXPIRE`, `SCAN`, the sorted-set builders [`ZAdd`] and [`ZRange`], score
//! and lex bounds, list ends), kept apart from the methods that use them.

use std::marker::PhantomData;

use bytes::Bytes;
use kiln_net::Reply;

use crate::commands::{ArgBytes, b, bytes_list, n, s, scored};
use crate::{Client, Error};

/// The expiry part of `SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// `EX seconds`
    Ex(u64),
    /// `PX milliseconds`
    Px(u64),
    /// `EXAT unix-seconds`
    ExAt(u64),
    /// `PXAT unix-milliseconds`
    PxAt(u64),
    /// `KEEPTTL`: keep the key's current time to live.
    KeepTtl,
}

/// The condition part of `SET`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetIf {
    /// `NX`: only if the key does not exist.
    Nx,
    /// `XX`: only if the key exists.
    Xx,
}

/// Options of [`Client::set_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetWithOptions {
    /// `EX` / `PX` / `EXAT` / `PXAT` / `KEEPTTL`.
    pub expire: Option<Expiry>,
    /// `NX` / `XX`.
    pub condition: Option<SetIf>,
    /// `GET`: return the previous value.
    pub get: bool,
}

/// What [`Client::set_with`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetReply {
    /// The value was written (`OK`).
    Written,
    /// `NX` / `XX` prevented the write (nil).
    NotWritten,
    /// With `get`: the previous value (`None` if the key did not exist).
    Previous(Option<Bytes>),
}

/// The expiry part of `GETEX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetExExpiry {
    /// `EX seconds`
    Ex(u64),
    /// `PX milliseconds`
    Px(u64),
    /// `EXAT unix-seconds`
    ExAt(u64),
    /// `PXAT unix-milliseconds`
    PxAt(u64),
    /// `PERSIST`: remove the time to live.
    Persist,
}

/// The condition of `EXPIRE` and friends (Redis 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireIf {
    /// Only if the key has no expiry.
    Nx,
    /// Only if the key has an expiry.
    Xx,
    /// Only if the new expiry is later.
    Gt,
    /// Only if the new expiry is sooner.
    Lt,
}

impl ExpireIf {
    pub(crate) fn word(self) -> &'static str {
        match self {
            ExpireIf::Nx => "NX",
            ExpireIf::Xx => "XX",
            ExpireIf::Gt => "GT",
            ExpireIf::Lt => "LT",
        }
    }
}

/// Options of [`Client::scan`]: `MATCH`, `COUNT`, `TYPE`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// `MATCH pattern`
    pub pattern: Option<Vec<u8>>,
    /// `COUNT hint`
    pub count: Option<u64>,
    /// `TYPE type`
    pub key_type: Option<String>,
}

impl ScanOptions {
    /// Only keys matching this glob pattern.
    pub fn pattern(mut self, pattern: impl AsRef<[u8]>) -> Self {
        self.pattern = Some(pattern.as_ref().to_vec());
        self
    }

    /// How much work each call should do.
    pub fn count(mut self, count: u64) -> Self {
        self.count = Some(count);
        self
    }

    /// Only keys of this type (`string`, ...).
    pub fn key_type(mut self, key_type: impl Into<String>) -> Self {
        self.key_type = Some(key_type.into());
        self
    }
}

/// One end of a score range (`ZCOUNT`, `ZRANGE ... BYSCORE`,
/// `ZREMRANGEBYSCORE`), written as Redis expects it: `1.5`, `(1.5`, `-inf`,
/// `+inf`. A plain `f64` converts to an inclusive bound (infinities to
/// `-inf` / `+inf`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScoreBound {
    /// `score`: scores equal to it are in the range.
    Inclusive(f64),
    /// `(score`: scores equal to it are not.
    Exclusive(f64),
    /// `-inf`
    NegInf,
    /// `+inf`
    PosInf,
}

impl ScoreBound {
    /// The argument as sent.
    pub fn to_arg(&self) -> String {
        fn number(score: f64) -> String {
            if score == f64::INFINITY {
                "+inf".into()
            } else if score == f64::NEG_INFINITY {
                "-inf".into()
            } else {
                score.to_string()
            }
        }
        match *self {
            ScoreBound::Inclusive(score) => number(score),
            ScoreBound::Exclusive(score) => format!("({}", number(score)),
            ScoreBound::NegInf => "-inf".into(),
            ScoreBound::PosInf => "+inf".into(),
        }
    }
}

impl From<f64> for ScoreBound {
    fn from(score: f64) -> Self {
        ScoreBound::Inclusive(score)
    }
}

impl From<i64> for ScoreBound {
    fn from(score: i64) -> Self {
        ScoreBound::Inclusive(score as f64)
    }
}

/// One end of a lexicographical range (`ZRANGE ... BYLEX`, `ZLEXCOUNT`,
/// `ZREMRANGEBYLEX`): `[member`, `(member`, `-` or `+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `[member`
    Inclusive(Vec<u8>),
    /// `(member`
    Exclusive(Vec<u8>),
    /// `-`: before every member.
    Min,
    /// `+`: after every member.
    Max,
}

impl LexBound {
    /// `[member`
    pub fn inclusive(member: impl AsRef<[u8]>) -> Self {
        LexBound::Inclusive(member.as_ref().to_vec())
    }

    /// `(member`
    pub fn exclusive(member: impl AsRef<[u8]>) -> Self {
        LexBound::Exclusive(member.as_ref().to_vec())
    }

    /// The argument as sent.
    pub fn to_arg(&self) -> Vec<u8> {
        let (lead, member): (u8, &[u8]) = match self {
            LexBound::Inclusive(m) => (b'[', m),
            LexBound::Exclusive(m) => (b'(', m),
            LexBound::Min => return b"-".to_vec(),
            LexBound::Max => return b"+".to_vec(),
        };
        let mut arg = Vec::with_capacity(member.len() + 1);
        arg.push(lead);
        arg.extend_from_slice(member);
        arg
    }
}

/// Members with their scores, in the server's order.
pub type ScoredMembers = Vec<(Bytes, f64)>;

/// The existence condition of `ZADD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZAddIf {
    Nx,
    Xx,
}

/// The score comparison of `ZADD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZAddCompare {
    Gt,
    Lt,
}

/// `ZADD key [NX|XX] [GT|LT] [CH] score member...`, built up and then run
/// on a client or queued on a pipeline:
///
/// ```no_run
/// use kiln_client::ZAdd;
/// # let mut client = kiln_client::Client::connect("127.0.0.1:7379")?;
/// let added = ZAdd::new("board").gt().ch().member(10.0, "ann").member(7.5, "bob").run(&mut client)?;
/// let zadd = kiln_client::zadd("board").nx().member(1.0, "cy");
/// client.pipeline().zadd_with(&zadd).zcard("board").query()?;
/// // ZADD ... INCR: the new score, `None` when a condition stopped it.
/// let score = client.zincr(&ZAdd::new("board").xx().member(2.0, "ann"))?;
/// # Ok::<(), kiln_client::Error>(())
/// ```
///
/// A later `nx()` / `xx()` replaces an earlier one, and so do `gt()` /
/// `lt()`; combinations Redis refuses (`NX` with `GT`) are the server's
/// error.
#[derive(Debug, Clone, PartialEq)]
pub struct ZAdd {
    key: Vec<u8>,
    condition: Option<ZAddIf>,
    compare: Option<ZAddCompare>,
    changed: bool,
    members: Vec<(f64, Vec<u8>)>,
}

/// A [`ZAdd`] for `key` (the same as [`ZAdd::new`]).
pub fn zadd(key: impl AsRef<[u8]>) -> ZAdd {
    ZAdd::new(key)
}

impl ZAdd {
    /// `ZADD key` with no members yet.
    pub fn new(key: impl AsRef<[u8]>) -> ZAdd {
        ZAdd {
            key: key.as_ref().to_vec(),
            condition: None,
            compare: None,
            changed: false,
            members: Vec::new(),
        }
    }

    /// `NX`: only add new members, never update.
    pub fn nx(mut self) -> Self {
        self.condition = Some(ZAddIf::Nx);
        self
    }

    /// `XX`: only update existing members, never add.
    pub fn xx(mut self) -> Self {
        self.condition = Some(ZAddIf::Xx);
        self
    }

    /// `GT`: only update a score to a greater one.
    pub fn gt(mut self) -> Self {
        self.compare = Some(ZAddCompare::Gt);
        self
    }

    /// `LT`: only update a score to a lower one.
    pub fn lt(mut self) -> Self {
        self.compare = Some(ZAddCompare::Lt);
        self
    }

    /// `CH`: reply with how many members were added or changed, not only added.
    pub fn ch(mut self) -> Self {
        self.changed = true;
        self
    }

    /// Adds a `score member` pair.
    pub fn member(mut self, score: f64, member: impl AsRef<[u8]>) -> Self {
        self.members.push((score, member.as_ref().to_vec()));
        self
    }

    /// Adds several `score member` pairs.
    pub fn members<M: AsRef<[u8]>>(mut self, members: &[(f64, M)]) -> Self {
        self.members.extend(
            members
                .iter()
                .map(|(score, m)| (*score, m.as_ref().to_vec())),
        );
        self
    }

    /// Runs it: [`Client::zadd_with`].
    pub fn run(&self, client: &mut Client) -> Result<i64, Error> {
        client.zadd_with(self)
    }

    /// The arguments, `ZADD` first; with `incr`, `INCR` after the flags.
    pub(crate) fn args(&self, incr: bool) -> Vec<ArgBytes<'_>> {
        let mut args = Vec::with_capacity(self.members.len() * 2 + 6);
        args.extend([s("ZADD"), b(&self.key)]);
        match self.condition {
            Some(ZAddIf::Nx) => args.push(s("NX")),
            Some(ZAddIf::Xx) => args.push(s("XX")),
            None => {}
        }
        match self.compare {
            Some(ZAddCompare::Gt) => args.push(s("GT")),
            Some(ZAddCompare::Lt) => args.push(s("LT")),
            None => {}
        }
        if self.changed {
            args.push(s("CH"));
        }
        if incr {
            args.push(s("INCR"));
        }
        for (score, member) in &self.members {
            args.extend([score_arg(*score), b(member)]);
        }
        args
    }
}

/// A score argument (`+inf` / `-inf` for the infinities).
pub(crate) fn score_arg(score: f64) -> ArgBytes<'static> {
    ArgBytes::Owned(ScoreBound::Inclusive(score).to_arg().into_bytes())
}

/// What a [`ZRange`] selects by.
#[derive(Debug, Clone, PartialEq)]
enum RangeBy {
    Index(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound, LexBound),
}

/// The reply of a [`ZRange`] without scores: members only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Members;

/// The reply of a [`ZRange`] after [`ZRange::with_scores`]: members and scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WithScores;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Members {}
    impl Sealed for super::WithScores {}
}

/// What a [`ZRange`] returns: `Vec<Bytes>` ([`Members`]) or
/// `Vec<(Bytes, f64)>` ([`WithScores`]).
pub trait RangeReply: sealed::Sealed {
    /// The converted reply.
    type Output;
    /// Whether `WITHSCORES` is sent.
    const WITH_SCORES: bool;
    /// Converts the server's reply.
    fn convert(reply: Reply) -> Result<Self::Output, Error>;
}

impl RangeReply for Members {
    type Output = Vec<Bytes>;
    const WITH_SCORES: bool = false;
    fn convert(reply: Reply) -> Result<Vec<Bytes>, Error> {
        bytes_list(reply)
    }
}

impl RangeReply for WithScores {
    type Output = Vec<(Bytes, f64)>;
    const WITH_SCORES: bool = true;
    fn convert(reply: Reply) -> Result<Vec<(Bytes, f64)>, Error> {
        scored(reply)
    }
}

/// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count]
/// [WITHSCORES]`, built up and run on a client or queued on a pipeline:
///
/// ```no_run
/// use kiln_client::{ScoreBound, ZRange};
/// # let mut client = kiln_client::Client::connect("127.0.0.1:7379")?;
/// let top: Vec<(bytes::Bytes, f64)> = ZRange::new("board").rev().index(0, 9).with_scores().run(&mut client)?;
/// let passing = kiln_client::zrange("board")
///     .by_score(ScoreBound::Exclusive(50.0), ScoreBound::PosInf)
///     .limit(0, 100)
///     .run(&mut client)?;
/// # Ok::<(), kiln_client::Error>(())
/// ```
///
/// Without a range it is every member (`0 -1`). Score and lex bounds are
/// always given low end first: with [`rev`](Self::rev) they are sent high
/// end first, as Redis expects of `ZRANGE ... BYSCORE REV`. Index ranges are
/// positions in the order asked for, as in Redis.
#[derive(Debug, Clone, PartialEq)]
pub struct ZRange<S = Members> {
    key: Vec<u8>,
    by: RangeBy,
    rev: bool,
    limit: Option<(i64, i64)>,
    scores: PhantomData<S>,
}

/// A [`ZRange`] of `key` (the same as [`ZRange::new`]).
pub fn zrange(key: impl AsRef<[u8]>) -> ZRange {
    ZRange::new(key)
}

impl ZRange {
    /// Every member of `key`, by rank.
    pub fn new(key: impl AsRef<[u8]>) -> ZRange {
        ZRange {
            key: key.as_ref().to_vec(),
            by: RangeBy::Index(0, -1),
            rev: false,
            limit: None,
            scores: PhantomData,
        }
    }

    /// `WITHSCORES`: return `(member, score)` pairs.
    pub fn with_scores(self) -> ZRange<WithScores> {
        ZRange {
            key: self.key,
            by: self.by,
            rev: self.rev,
            limit: self.limit,
            scores: PhantomData,
        }
    }
}

impl<S: RangeReply> ZRange<S> {
    /// Ranks `start..=stop` (negative from the end).
    pub fn index(mut self, start: i64, stop: i64) -> Self {
        self.by = RangeBy::Index(start, stop);
        self
    }

    /// `BYSCORE`: scores from `min` to `max`.
    pub fn by_score(mut self, min: impl Into<ScoreBound>, max: impl Into<ScoreBound>) -> Self {
        self.by = RangeBy::Score(min.into(), max.into());
        self
    }

    /// `BYLEX`: members from `min` to `max` (for members of equal scores).
    pub fn by_lex(mut self, min: LexBound, max: LexBound) -> Self {
        self.by = RangeBy::Lex(min, max);
        self
    }

    /// `REV`: highest score first.
    pub fn rev(mut self) -> Self {
        self.rev = true;
        self
    }

    /// `LIMIT offset count` (`BYSCORE` / `BYLEX` only; a negative count is
    /// no limit).
    pub fn limit(mut self, offset: i64, count: i64) -> Self {
        self.limit = Some((offset, count));
        self
    }

    /// Runs it: [`Client::zrange_with`].
    pub fn run(&self, client: &mut Client) -> Result<S::Output, Error> {
        client.zrange_with(self)
    }

    /// `start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count]`, after the
    /// command's name and keys.
    pub(crate) fn push_range<'a>(&'a self, args: &mut Vec<ArgBytes<'a>>) {
        match &self.by {
            RangeBy::Index(start, stop) => args.extend([n(start), n(stop)]),
            RangeBy::Score(min, max) => {
                let (first, second) = if self.rev { (max, min) } else { (min, max) };
                args.extend([
                    ArgBytes::Owned(first.to_arg().into_bytes()),
                    ArgBytes::Owned(second.to_arg().into_bytes()),
                    s("BYSCORE"),
                ]);
            }
            RangeBy::Lex(min, max) => {
                let (first, second) = if self.rev { (max, min) } else { (min, max) };
                args.extend([
                    ArgBytes::Owned(first.to_arg()),
                    ArgBytes::Owned(second.to_arg()),
                    s("BYLEX"),
                ]);
            }
        }
        if self.rev {
            args.push(s("REV"));
        }
        if let Some((offset, count)) = self.limit {
            args.extend([s("LIMIT"), n(offset), n(count)]);
        }
    }

    /// `ZRANGE key ...`
    pub(crate) fn args(&self) -> Vec<ArgBytes<'_>> {
        let mut args = vec![s("ZRANGE"), b(&self.key)];
        self.push_range(&mut args);
        if S::WITH_SCORES {
            args.push(s("WITHSCORES"));
        }
        args
    }

    /// `ZRANGESTORE destination key ...`
    pub(crate) fn store_args<'a>(&'a self, destination: &'a [u8]) -> Vec<ArgBytes<'a>> {
        let mut args = vec![s("ZRANGESTORE"), b(destination), b(&self.key)];
        self.push_range(&mut args);
        args
    }
}

/// How `ZUNION` / `ZINTER` combine the scores of a member in several sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Aggregate {
    /// `SUM` (Redis's default).
    #[default]
    Sum,
    /// `MIN`
    Min,
    /// `MAX`
    Max,
}

/// `[WEIGHTS weight...] [AGGREGATE SUM|MIN|MAX]` of `ZUNION`, `ZINTER` and
/// their `STORE` forms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZCombineOptions {
    /// One multiplier per key (empty: all 1).
    pub weights: Vec<f64>,
    /// How scores combine (`None`: the server's default, `SUM`).
    pub aggregate: Option<Aggregate>,
}

impl ZCombineOptions {
    /// `WEIGHTS weight...`, one per key.
    pub fn weights(mut self, weights: &[f64]) -> Self {
        self.weights = weights.to_vec();
        self
    }

    /// `AGGREGATE SUM|MIN|MAX`
    pub fn aggregate(mut self, aggregate: Aggregate) -> Self {
        self.aggregate = Some(aggregate);
        self
    }

    pub(crate) fn push_args(&self, args: &mut Vec<ArgBytes<'_>>) {
        if !self.weights.is_empty() {
            args.push(s("WEIGHTS"));
            args.extend(self.weights.iter().map(|w| score_arg(*w)));
        }
        match self.aggregate {
            Some(Aggregate::Sum) => args.extend([s("AGGREGATE"), s("SUM")]),
            Some(Aggregate::Min) => args.extend([s("AGGREGATE"), s("MIN")]),
            Some(Aggregate::Max) => args.extend([s("AGGREGATE"), s("MAX")]),
            None => {}
        }
    }
}

/// Which end `ZMPOP` / `BZMPOP` pop from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinMax {
    /// `MIN`: lowest scores first.
    Min,
    /// `MAX`: highest scores first.
    Max,
}

impl MinMax {
    pub(crate) fn word(self) -> &'static str {
        match self {
            MinMax::Min => "MIN",
            MinMax::Max => "MAX",
        }
    }
}

/// An end of a list: `LEFT` (the head) or `RIGHT` (the tail), for `LMOVE`,
/// `LMPOP` and their blocking forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `LEFT`: the head (index 0).
    Left,
    /// `RIGHT`: the tail (index -1).
    Right,
}

impl Direction {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Direction::Left => "LEFT",
            Direction::Right => "RIGHT",
        }
    }
}

/// Where `LINSERT` puts the element relative to the pivot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertPosition {
    /// `BEFORE pivot`
    Before,
    /// `AFTER pivot`
    After,
}

impl InsertPosition {
    pub(crate) fn word(self) -> &'static str {
        match self {
            InsertPosition::Before => "BEFORE",
            InsertPosition::After => "AFTER",
        }
    }
}

/// `[RANK rank] [MAXLEN len]` of `LPOS` (`COUNT` is
/// [`Client::lpos_count`]'s own argument, since it changes the reply).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LposOptions {
    /// `RANK rank`: skip to the rank-th match (negative: from the tail).
    pub rank: Option<i64>,
    /// `MAXLEN len`: compare at most this many elements.
    pub maxlen: Option<u64>,
}

impl LposOptions {
    /// `RANK rank`
    pub fn rank(mut self, rank: i64) -> Self {
        self.rank = Some(rank);
        self
    }

    /// `MAXLEN len`
    pub fn maxlen(mut self, maxlen: u64) -> Self {
        self.maxlen = Some(maxlen);
        self
    }

    pub(crate) fn push_args(&self, args: &mut Vec<ArgBytes<'_>>) {
        if let Some(rank) = self.rank {
            args.extend([s("RANK"), n(rank)]);
        }
        if let Some(maxlen) = self.maxlen {
            args.extend([s("MAXLEN"), n(maxlen)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(args: &[ArgBytes<'_>]) -> Vec<String> {
        args.iter()
            .map(|a| String::from_utf8(a.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn score_bounds_as_redis_writes_them() {
        assert_eq!(ScoreBound::from(1.5).to_arg(), "1.5");
        assert_eq!(ScoreBound::from(3_i64).to_arg(), "3");
        assert_eq!(ScoreBound::Exclusive(1.5).to_arg(), "(1.5");
        assert_eq!(ScoreBound::Exclusive(-2.0).to_arg(), "(-2");
        assert_eq!(ScoreBound::NegInf.to_arg(), "-inf");
        assert_eq!(ScoreBound::PosInf.to_arg(), "+inf");
        assert_eq!(ScoreBound::from(f64::INFINITY).to_arg(), "+inf");
        assert_eq!(ScoreBound::Exclusive(f64::NEG_INFINITY).to_arg(), "(-inf");
        assert_eq!(LexBound::inclusive("a").to_arg(), b"[a");
        assert_eq!(LexBound::exclusive(b"\xffz").to_arg(), b"(\xffz");
        assert_eq!(LexBound::Min.to_arg(), b"-");
        assert_eq!(LexBound::Max.to_arg(), b"+");
    }

    #[test]
    fn zadd_args() {
        let plain = ZAdd::new("z").member(1.0, "a").member(2.5, "b");
        assert_eq!(
            words(&plain.args(false)),
            ["ZADD", "z", "1", "a", "2.5", "b"]
        );
        // Flags in Redis's order, whatever order they were set in.
        let flagged = zadd("z").ch().gt().xx().member(f64::NEG_INFINITY, "m");
        assert_eq!(
            words(&flagged.args(false)),
            ["ZADD", "z", "XX", "GT", "CH", "-inf", "m"]
        );
        // The last of nx/xx and of gt/lt wins.
        let replaced = zadd("z").nx().xx().lt().gt().lt().member(0.0, "m");
        assert_eq!(
            words(&replaced.args(false)),
            ["ZADD", "z", "XX", "LT", "0", "m"]
        );
        assert_eq!(
            words(&zadd("z").nx().member(-3.0, "m").args(true)),
            ["ZADD", "z", "NX", "INCR", "-3", "m"]
        );
        let many = zadd("z")
            .members(&[(1.0, "a"), (2.0, "b")])
            .member(3.0, "c");
        assert_eq!(
            words(&many.args(false)),
            ["ZADD", "z", "1", "a", "2", "b", "3", "c"]
        );
    }

    #[test]
    fn zrange_args() {
        assert_eq!(words(&zrange("z").args()), ["ZRANGE", "z", "0", "-1"]);
        assert_eq!(
            words(&zrange("z").index(1, -2).rev().with_scores().args()),
            ["ZRANGE", "z", "1", "-2", "REV", "WITHSCORES"]
        );
        assert_eq!(
            words(
                &ZRange::new("z")
                    .by_score(ScoreBound::Exclusive(1.0), ScoreBound::PosInf)
                    .limit(2, 5)
                    .args()
            ),
            ["ZRANGE", "z", "(1", "+inf", "BYSCORE", "LIMIT", "2", "5"]
        );
        // REV sends the high end first; the builder takes low to high.
        assert_eq!(
            words(&zrange("z").by_score(1.0, 5.0).rev().args()),
            ["ZRANGE", "z", "5", "1", "BYSCORE", "REV"]
        );
        assert_eq!(
            words(
                &zrange("z")
                    .by_lex(LexBound::inclusive("a"), LexBound::Max)
                    .rev()
                    .limit(0, 10)
                    .args()
            ),
            ["ZRANGE", "z", "+", "[a", "BYLEX", "REV", "LIMIT", "0", "10"]
        );
        // with_scores keeps what was set before it; setters work after it.
        assert_eq!(
            words(&zrange("z").rev().with_scores().by_score(0.0, 1.0).args()),
            ["ZRANGE", "z", "1", "0", "BYSCORE", "REV", "WITHSCORES"]
        );
        assert_eq!(
            words(
                &zrange("src")
                    .by_score(ScoreBound::NegInf, 2.0)
                    .store_args(b"dst")
            ),
            ["ZRANGESTORE", "dst", "src", "-inf", "2", "BYSCORE"]
        );
    }

    #[test]
    fn option_args() {
        let mut args = Vec::new();
        ZCombineOptions::default().push_args(&mut args);
        assert!(args.is_empty());
        ZCombineOptions::default()
            .weights(&[2.0, 0.5])
            .aggregate(Aggregate::Max)
            .push_args(&mut args);
        assert_eq!(words(&args), ["WEIGHTS", "2", "0.5", "AGGREGATE", "MAX"]);
        let mut args = Vec::new();
        LposOptions::default()
            .maxlen(100)
            .rank(-1)
            .push_args(&mut args);
        assert_eq!(words(&args), ["RANK", "-1", "MAXLEN", "100"]);
        assert_eq!(Direction::Left.word(), "LEFT");
        assert_eq!(InsertPosition::After.word(), "AFTER");
        assert_eq!(MinMax::Max.word(), "MAX");
    }
}
