//! One run of list elements in a [`Pack`], sized as Redis sizes a
//! listpack, and the `list-max-listpack-size` limit nodes are held to.

use bytes::Bytes;

use super::End;
use crate::collection::EncodingLimits;
use crate::numeric::parse_i64;
use crate::pack::Pack;

/// Charged per quicklist node on top of its bytes: the node's `Pack`
/// header and its slot in the deque.
pub(super) const NODE_OVERHEAD: usize = size_of::<Node>() + size_of::<usize>();

/// A listpack's header (total bytes, element count) and end marker.
const LP_EMPTY: usize = 7;

/// `list-max-listpack-size`'s negative size classes, as in Redis.
const SIZE_CLASSES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// A count-limited node is still held under this many bytes (Redis's
/// `SIZE_SAFETY_LIMIT`).
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Redis's over-estimate of one more entry's bytes when deciding whether a
/// node has room (`SIZE_ESTIMATE_OVERHEAD`).
const SIZE_ESTIMATE_OVERHEAD: usize = 8;

/// The bytes Redis's listpack spends on `item`: an integer-looking string
/// is stored as an integer of 1 to 9 bytes, other strings behind a 1, 2
/// or 5 byte header, and every entry ends with its length backwards.
pub(crate) fn lp_entry_size(item: &[u8]) -> usize {
    let encoded = match parse_i64(item) {
        Some(n) if (0..=127).contains(&n) => 1,
        Some(n) if (-4096..=4095).contains(&n) => 2,
        Some(n) if (-32768..=32767).contains(&n) => 3,
        Some(n) if (-8_388_608..=8_388_607).contains(&n) => 4,
        Some(n) if i32::try_from(n).is_ok() => 5,
        Some(_) => 9,
        None if item.len() < 64 => 1 + item.len(),
        None if item.len() < 4096 => 2 + item.len(),
        None => 5 + item.len(),
    };
    let backlen = match encoded {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    encoded + backlen
}

/// How big a node may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Limit {
    /// At most this many entries (and [`SIZE_SAFETY_LIMIT`] bytes).
    Entries(usize),
    /// At most this many listpack bytes.
    Bytes(usize),
}

impl Limit {
    /// The limit `list-max-listpack-size` sets.
    pub fn of(limits: &EncodingLimits) -> Limit {
        let fill = limits.list_max_listpack_size;
        if fill >= 0 {
            Limit::Entries(usize::try_from(fill).unwrap_or(usize::MAX).max(1))
        } else {
            let class = usize::try_from(fill.unsigned_abs() - 1).unwrap_or(usize::MAX);
            Limit::Bytes(SIZE_CLASSES[class.min(SIZE_CLASSES.len() - 1)])
        }
    }

    /// Whether a node of `bytes` listpack bytes and `count` entries is over
    /// the limit (Redis's `quicklistNodeExceedsLimit`).
    pub fn exceeded(self, bytes: usize, count: usize) -> bool {
        match self {
            Limit::Bytes(max) => bytes > max,
            Limit::Entries(max) => bytes > SIZE_SAFETY_LIMIT || count > max,
        }
    }

    /// Whether `node` takes one more entry of `len` bytes; an entry too big
    /// for any node gets a node of its own.
    pub fn allows_insert(self, node: &Node, len: usize) -> bool {
        let large = match self {
            Limit::Bytes(max) => len > max,
            Limit::Entries(_) => len > SIZE_SAFETY_LIMIT,
        };
        !large && !self.exceeded(node.lp_bytes + len + SIZE_ESTIMATE_OVERHEAD, node.len() + 1)
    }

    /// Whether a lone node is small enough (half the limit) for its list
    /// to go back to a listpack.
    pub fn fits_half(self, bytes: usize, count: usize) -> bool {
        match self {
            Limit::Bytes(max) => bytes <= max / 2,
            Limit::Entries(max) => count <= max / 2,
        }
    }
}

/// A run of elements with its size as Redis would count it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pack: Pack,
    lp_bytes: usize,
}

impl Default for Node {
    fn default() -> Node {
        Node::new()
    }
}

impl Node {
    /// An empty node.
    pub fn new() -> Node {
        Node {
            pack: Pack::new(),
            lp_bytes: LP_EMPTY,
        }
    }

    pub fn len(&self) -> usize {
        self.pack.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pack.len() == 0
    }

    /// Bytes this node holds (what memory accounting charges).
    pub fn byte_len(&self) -> usize {
        self.pack.byte_len()
    }

    /// Bytes Redis's listpack would take for the same elements.
    pub fn lp_bytes(&self) -> usize {
        self.lp_bytes
    }

    /// Elements front to back.
    pub fn items(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.pack.iter().map(|e| e.bytes)
    }

    /// Elements back to front (a pack only walks forward: its entries'
    /// places are collected first).
    pub fn items_rev(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let all: Vec<&[u8]> = self.items().collect();
        all.into_iter().rev()
    }

    pub fn get(&self, at: usize) -> Option<&[u8]> {
        self.items().nth(at)
    }

    pub fn push(&mut self, end: End, item: &[u8]) {
        match end {
            End::Left => self.pack.insert(0, &[item]),
            End::Right => self.pack.push(&[item]),
        }
        self.lp_bytes += lp_entry_size(item);
    }

    /// Removes up to `count` elements from `end`, handing them to `out`
    /// in the order they leave.
    pub fn pop(&mut self, end: End, count: usize, out: Option<&mut Vec<Bytes>>) {
        let count = count.min(self.len());
        let first = match end {
            End::Left => 0,
            End::Right => self.len() - count,
        };
        let offset = self.pack.offset_of(first);
        let mut gone: Vec<&[u8]> = Vec::new();
        let mut next = offset;
        for _ in 0..count {
            let (item, after) = self.pack.at(next);
            gone.push(item);
            next = after;
        }
        let freed: usize = gone.iter().map(|i| lp_entry_size(i)).sum();
        if let Some(out) = out {
            match end {
                End::Left => out.extend(gone.iter().map(|i| Bytes::copy_from_slice(i))),
                End::Right => out.extend(gone.iter().rev().map(|i| Bytes::copy_from_slice(i))),
            }
        }
        self.pack.remove(offset, count);
        self.lp_bytes -= freed;
    }

    pub fn replace(&mut self, at: usize, item: &[u8]) {
        let offset = self.pack.offset_of(at);
        self.lp_bytes = self.lp_bytes - lp_entry_size(self.pack.at(offset).0) + lp_entry_size(item);
        self.pack.replace(offset, item);
    }

    /// Inserts `item` before element `at` (`len()`: at the end).
    pub fn insert(&mut self, at: usize, item: &[u8]) {
        let offset = self.pack.offset_of(at);
        self.pack.insert(offset, &[item]);
        self.lp_bytes += lp_entry_size(item);
    }

    /// Removes `count` elements from element `at`.
    pub fn remove(&mut self, at: usize, count: usize) {
        let offset = self.pack.offset_of(at);
        let mut freed = 0;
        let mut next = offset;
        for _ in 0..count.min(self.len() - at) {
            let (item, after) = self.pack.at(next);
            freed += lp_entry_size(item);
            next = after;
        }
        self.pack.remove(offset, count);
        self.lp_bytes -= freed;
    }

    /// Moves elements `at..` into a new node.
    pub fn split_off(&mut self, at: usize) -> Node {
        let mut tail = Node::new();
        for item in self.items().skip(at) {
            tail.push(End::Right, item);
        }
        self.remove(at, self.len() - at);
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_sizes_follow_redis_listpack() {
        assert_eq!(lp_entry_size(b"7"), 2);
        assert_eq!(lp_entry_size(b"-1"), 3);
        assert_eq!(lp_entry_size(b"40000"), 5);
        assert_eq!(lp_entry_size(b"1234567890123"), 10);
        // Not canonical integers: strings.
        assert_eq!(lp_entry_size(b"007"), 5);
        assert_eq!(lp_entry_size(b"abc"), 5);
        assert_eq!(lp_entry_size(&[b'x'; 100]), 102 + 1);
        assert_eq!(lp_entry_size(&[b'x'; 5000]), 5005 + 2);
    }

    #[test]
    fn limits_read_list_max_listpack_size() {
        let mut limits = EncodingLimits::default();
        assert_eq!(Limit::of(&limits), Limit::Bytes(8192));
        limits.list_max_listpack_size = -5;
        assert_eq!(Limit::of(&limits), Limit::Bytes(65536));
        limits.list_max_listpack_size = -9;
        assert_eq!(Limit::of(&limits), Limit::Bytes(65536));
        limits.list_max_listpack_size = 0;
        assert_eq!(Limit::of(&limits), Limit::Entries(1));
        limits.list_max_listpack_size = 4;
        let four = Limit::of(&limits);
        assert!(four.exceeded(10, 5) && !four.exceeded(10, 4));
        assert!(four.exceeded(SIZE_SAFETY_LIMIT + 1, 1));
        assert!(four.fits_half(1 << 20, 2) && !four.fits_half(0, 3));
    }

    #[test]
    fn node_edits_keep_redis_size() {
        let mut node = Node::new();
        for item in [&b"a"[..], b"12", b"ccc"] {
            node.push(End::Right, item);
        }
        node.push(End::Left, b"z");
        let sum = |n: &Node| LP_EMPTY + n.items().map(lp_entry_size).sum::<usize>();
        assert_eq!(node.lp_bytes(), sum(&node));
        let mut out = Vec::new();
        node.pop(End::Right, 2, Some(&mut out));
        assert_eq!(out, vec![Bytes::from("ccc"), Bytes::from("12")]);
        node.replace(0, b"yyyy");
        node.insert(1, b"mid");
        assert_eq!(
            node.items().collect::<Vec<_>>(),
            vec![&b"yyyy"[..], b"mid", b"a"]
        );
        assert_eq!(node.lp_bytes(), sum(&node));
        let tail = node.split_off(1);
        assert_eq!(tail.items().collect::<Vec<_>>(), vec![&b"mid"[..], b"a"]);
        assert_eq!(node.lp_bytes(), sum(&node));
        assert_eq!(tail.lp_bytes(), sum(&tail));
        assert_eq!(node.items_rev().collect::<Vec<_>>(), vec![&b"yyyy"[..]]);
    }
}
