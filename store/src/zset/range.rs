//! Score and lex ranges (ZRANGEBYSCORE, ZRANGEBYLEX, ZCOUNT...), reduced to
//! rank intervals of a [`ZSet`].

use super::ZSet;

/// A score interval, each end inclusive or exclusive (`(1` in Redis).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// Lower end.
    pub min: f64,
    /// Whether `min` itself is out.
    pub min_exclusive: bool,
    /// Upper end.
    pub max: f64,
    /// Whether `max` itself is out.
    pub max_exclusive: bool,
}

/// One end of a lex interval: `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    Min,
    /// `+`: above every member.
    Max,
    /// `[m`: from / up to `m`, included.
    Inclusive(Vec<u8>),
    /// `(m`: from / up to `m`, excluded.
    Exclusive(Vec<u8>),
}

/// A lex interval. Like Redis, it is meaningful when every member has the
/// same score (the order is then by member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    /// Lower end.
    pub min: LexBound,
    /// Upper end.
    pub max: LexBound,
}

impl ScoreRange {
    /// The ranks `lo..hi` of the members within the range.
    pub(crate) fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let lo = if self.min_exclusive {
            z.count_prefix(|s, _| s <= self.min)
        } else {
            z.count_prefix(|s, _| s < self.min)
        };
        let hi = if self.max_exclusive {
            z.count_prefix(|s, _| s < self.max)
        } else {
            z.count_prefix(|s, _| s <= self.max)
        };
        (lo, hi.max(lo))
    }
}

/// Members sorting strictly below (`or_equal`: at or below) a lex bound.
fn below(z: &ZSet, bound: &LexBound, or_equal: bool) -> usize {
    match bound {
        LexBound::Min => 0,
        LexBound::Max => z.len(),
        LexBound::Inclusive(m) if or_equal => z.count_prefix(|_, x| x <= &m[..]),
        LexBound::Inclusive(m) => z.count_prefix(|_, x| x < &m[..]),
        LexBound::Exclusive(m) if or_equal => z.count_prefix(|_, x| x < &m[..]),
        LexBound::Exclusive(m) => z.count_prefix(|_, x| x <= &m[..]),
    }
}

impl LexRange {
    /// The ranks `lo..hi` of the members within the range.
    pub(crate) fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let lo = below(z, &self.min, false);
        let hi = below(z, &self.max, true);
        (lo, hi.max(lo))
    }
}
