//! The ordered index of a big sorted set: an order-statistic treap over
//! `(score, member)`, in an arena.
//!
//! Every node keeps its subtree's size, so rank → element (`select`),
//! element → rank (`rank`) and "how many elements sort below this bound"
//! (`count_prefix`, what score and lex ranges reduce to) are O(log n)
//! expected, as are insert and remove (split / merge by key).
//!
//! Why a treap rather than Redis's skiplist or a B-tree: it is the smallest
//! structure with O(log n) rank and order operations that needs no `unsafe`
//! and no pointers (nodes are arena slots addressed by `u32`, 40% smaller
//! than pointers on 64-bit and friendly to the allocator: one vector, not
//! one allocation per node). Random priorities keep it balanced in
//! expectation whatever order scores arrive in (sorted input, the common
//! leaderboard case, does not degrade it), and depth stays around
//! 2.5·log₂ n, so the recursive split / merge is shallow. A B-tree would
//! have better cache behaviour for scans; it is a possible later step
//! behind the same API.

use std::cmp::Ordering;

use bytes::Bytes;

const NIL: u32 = u32::MAX;

/// Redis's sorted-set order: by score, then by member bytes.
pub(crate) fn cmp_entry(a_score: f64, a: &[u8], b_score: f64, b: &[u8]) -> Ordering {
    if a_score < b_score {
        Ordering::Less
    } else if a_score > b_score {
        Ordering::Greater
    } else {
        a.cmp(b)
    }
}

#[derive(Debug, Clone)]
struct Node {
    score: f64,
    member: Bytes,
    priority: u32,
    left: u32,
    right: u32,
    size: u32,
}

/// Order-statistic treap of `(score, member)`.
#[derive(Debug, Clone)]
pub(crate) struct ScoreIndex {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    seed: u64,
}

impl Default for ScoreIndex {
    fn default() -> ScoreIndex {
        ScoreIndex {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

/// Bytes one node costs in the arena.
pub(crate) const NODE_SIZE: usize = size_of::<Node>();

impl ScoreIndex {
    /// Number of elements.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.size(self.root)
    }

    fn size(&self, t: u32) -> usize {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size as usize
        }
    }

    fn fix(&mut self, t: u32) {
        let (l, r) = {
            let n = &self.nodes[t as usize];
            (n.left, n.right)
        };
        let size = 1 + self.size(l) + self.size(r);
        self.nodes[t as usize].size = size as u32;
    }

    fn next_priority(&mut self) -> u32 {
        // xorshift64*: priorities only need to be independent of the keys.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        (self.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// Splits `t` into (elements below the key, the rest); with `or_equal`
    /// the key itself goes left.
    fn split(&mut self, t: u32, score: f64, member: &[u8], or_equal: bool) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let n = &self.nodes[t as usize];
        let ord = cmp_entry(n.score, &n.member, score, member);
        let goes_left = ord == Ordering::Less || (or_equal && ord == Ordering::Equal);
        if goes_left {
            let right = n.right;
            let (a, b) = self.split(right, score, member, or_equal);
            self.nodes[t as usize].right = a;
            self.fix(t);
            (t, b)
        } else {
            let left = n.left;
            let (a, b) = self.split(left, score, member, or_equal);
            self.nodes[t as usize].left = b;
            self.fix(t);
            (a, t)
        }
    }

    /// Joins two treaps, every element of `a` below every element of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
            let right = self.nodes[a as usize].right;
            let m = self.merge(right, b);
            self.nodes[a as usize].right = m;
            self.fix(a);
            a
        } else {
            let left = self.nodes[b as usize].left;
            let m = self.merge(a, left);
            self.nodes[b as usize].left = m;
            self.fix(b);
            b
        }
    }

    /// Inserts an element known to be absent.
    pub fn insert(&mut self, score: f64, member: Bytes) {
        let priority = self.next_priority();
        let node = Node {
            score,
            member,
            priority,
            left: NIL,
            right: NIL,
            size: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.nodes[id as usize] = node;
                id
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        let (score, member) = {
            let n = &self.nodes[id as usize];
            (n.score, n.member.clone())
        };
        let (l, r) = self.split(self.root, score, &member, false);
        let left = self.merge(l, id);
        self.root = self.merge(left, r);
    }

    /// Removes an element; whether it was there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let (l, rest) = self.split(self.root, score, member, false);
        let (mid, r) = self.split(rest, score, member, true);
        let found = mid != NIL;
        if found {
            self.nodes[mid as usize].member = Bytes::new();
            self.free.push(mid);
        }
        self.root = self.merge(l, r);
        if self.root == NIL {
            // Empty: give the arena back.
            self.nodes = Vec::new();
            self.free = Vec::new();
        }
        found
    }

    /// How many leading elements (in order) satisfy `below`, which must be
    /// true for a prefix of the order and false after it.
    pub fn count_prefix(&self, below: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut count = 0;
        let mut t = self.root;
        while t != NIL {
            let n = &self.nodes[t as usize];
            if below(n.score, &n.member) {
                count += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    /// Rank (0-based) of an element present in the index.
    pub fn rank(&self, score: f64, member: &[u8]) -> usize {
        self.count_prefix(|s, m| cmp_entry(s, m, score, member) == Ordering::Less)
    }

    /// The element at `rank` (`< len()`).
    #[cfg(test)]
    pub fn select(&self, mut rank: usize) -> (f64, &Bytes) {
        let mut t = self.root;
        loop {
            let n = &self.nodes[t as usize];
            let left = self.size(n.left);
            match rank.cmp(&left) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return (n.score, &n.member),
                Ordering::Greater => {
                    rank -= left + 1;
                    t = n.right;
                }
            }
        }
    }

    /// Elements of ranks `start..end` in order, visiting only the subtrees
    /// that overlap the range: O(log n + k).
    pub fn range(&self, start: usize, end: usize) -> Vec<(f64, Bytes)> {
        let mut out = Vec::with_capacity(end.saturating_sub(start));
        self.collect(self.root, 0, start, end, &mut out);
        out
    }

    fn collect(
        &self,
        t: u32,
        offset: usize,
        start: usize,
        end: usize,
        out: &mut Vec<(f64, Bytes)>,
    ) {
        if t == NIL || start >= end {
            return;
        }
        let n = &self.nodes[t as usize];
        let here = offset + self.size(n.left);
        if start < here {
            self.collect(n.left, offset, start, end, out);
        }
        if (start..end).contains(&here) {
            out.push((n.score, n.member.clone()));
        }
        if end > here + 1 {
            self.collect(n.right, here + 1, start, end, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_selects_and_ranges_match_a_sorted_vector() {
        let mut idx = ScoreIndex::default();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        for i in 0..2000u32 {
            let score = f64::from((i * 7919) % 503) / 2.0;
            let member = format!("m{}", i % 1500).into_bytes();
            if model.iter().any(|(_, m)| *m == member) {
                continue;
            }
            idx.insert(score, Bytes::from(member.clone()));
            model.push((score, member));
        }
        model.sort_by(|a, b| cmp_entry(a.0, &a.1, b.0, &b.1));
        assert_eq!(idx.len(), model.len());
        for (rank, (s, m)) in model.iter().enumerate().step_by(37) {
            assert_eq!(idx.rank(*s, m), rank);
            let (gs, gm) = idx.select(rank);
            assert_eq!((gs, &gm[..]), (*s, &m[..]));
        }
        let got: Vec<_> = idx
            .range(10, 60)
            .into_iter()
            .map(|(s, m)| (s, m.to_vec()))
            .collect();
        assert_eq!(got, model[10..60].to_vec());
        assert_eq!(
            idx.count_prefix(|s, _| s < 100.0),
            model.iter().filter(|e| e.0 < 100.0).count()
        );
        for (s, m) in model.iter().step_by(2) {
            assert!(idx.remove(*s, m));
            assert!(!idx.remove(*s, m));
        }
        let rest: Vec<_> = model.iter().skip(1).step_by(2).cloned().collect();
        let got: Vec<_> = idx
            .range(0, idx.len())
            .into_iter()
            .map(|(s, m)| (s, m.to_vec()))
            .collect();
        assert_eq!(got, rest);
    }

    #[test]
    fn sorted_input_stays_shallow() {
        let mut idx = ScoreIndex::default();
        for i in 0..100_000 {
            idx.insert(f64::from(i), Bytes::from(format!("{i}")));
        }
        fn depth(idx: &ScoreIndex, t: u32) -> usize {
            if t == NIL {
                return 0;
            }
            let n = &idx.nodes[t as usize];
            1 + depth(idx, n.left).max(depth(idx, n.right))
        }
        assert!(
            depth(&idx, idx.root) < 80,
            "depth {}",
            depth(&idx, idx.root)
        );
        assert_eq!(idx.select(54_321).0, 54_321.0);
    }
}
