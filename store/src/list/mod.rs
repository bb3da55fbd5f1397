//! The list type, with Redis 7.2's two encodings behind one API.
//!
//! - **listpack**: every element in one [`Node`], while the list stays
//!   within `list-max-listpack-size`.
//! - **quicklist**: a deque of nodes, each within that same limit, so a
//!   push or pop at either end touches one small node and an index walks
//!   node lengths before it reads a node.
//!
//! The limit is Redis's: a positive `list-max-listpack-size` is entries per
//! node, a negative one a size class (-1 = 4 KiB ... -5 = 64 KiB). Sizes are
//! measured as Redis measures a listpack ([`lp_entry_size`]), so a list
//! converts at the same push as in Redis and `OBJECT ENCODING` agrees. A
//! quicklist goes back to a listpack when it has shrunk to one node of at
//! most half the limit (Redis's `listTypeTryConvertQuicklist`).

mod node;
mod ops;

use std::collections::VecDeque;

use bytes::Bytes;

use crate::collection::{COLLECTION_OVERHEAD, Collection, EncodingLimits};
use crate::record::Value;
pub use ops::LposOptions;

use node::{Limit, NODE_OVERHEAD, Node};

/// A Redis list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    Pack(Node),
    Quick {
        nodes: VecDeque<Node>,
        /// Elements in all nodes.
        len: usize,
        /// Sum of the nodes' encoded bytes.
        bytes: usize,
    },
}

impl Default for List {
    fn default() -> List {
        List::new()
    }
}

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (`LEFT`, index 0).
    Left,
    /// The tail (`RIGHT`, index -1).
    Right,
}

impl List {
    /// An empty, compact list.
    pub fn new() -> List {
        List {
            repr: Repr::Pack(Node::new()),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(node) => node.len(),
            Repr::Quick { len, .. } => *len,
        }
    }

    /// Whether it has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING`'s name for the current encoding.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Quick { .. } => "quicklist",
        }
    }

    /// Accounted bytes.
    pub fn mem(&self) -> usize {
        COLLECTION_OVERHEAD
            + match &self.repr {
                Repr::Pack(node) => node.byte_len(),
                Repr::Quick { nodes, bytes, .. } => bytes + nodes.len() * NODE_OVERHEAD,
            }
    }

    /// Converts a listpack that `items` would push past the limit into a
    /// quicklist first (Redis's `listTypeTryConversionAppend`).
    fn grow_for(&mut self, items: &[&[u8]], limits: &EncodingLimits) {
        let Repr::Pack(node) = &mut self.repr else {
            return;
        };
        let add: usize = items.iter().map(|i| i.len()).sum();
        let limit = Limit::of(limits);
        if limit.exceeded(node.lp_bytes() + add, node.len() + items.len()) {
            let node = std::mem::take(node);
            let (len, bytes) = (node.len(), node.byte_len());
            let mut nodes = VecDeque::new();
            if len > 0 {
                nodes.push_back(node);
            }
            self.repr = Repr::Quick { nodes, len, bytes };
        }
    }

    /// Converts a quicklist that shrank to one small node back into a
    /// listpack (Redis's `listTypeTryConvertQuicklist`, shrinking).
    fn shrink(&mut self, limits: &EncodingLimits) {
        let Repr::Quick { nodes, .. } = &mut self.repr else {
            return;
        };
        if nodes.len() > 1 {
            return;
        }
        let limit = Limit::of(limits);
        let fits = nodes
            .front()
            .is_none_or(|n| limit.fits_half(n.lp_bytes(), n.len()));
        if fits {
            let node = nodes.pop_front().unwrap_or_default();
            self.repr = Repr::Pack(node);
        }
    }

    /// Pushes `items` one by one at `end` (so `LPUSH a b` leaves `b` first).
    pub fn push(&mut self, end: End, items: &[&[u8]], limits: &EncodingLimits) {
        self.grow_for(items, limits);
        match &mut self.repr {
            Repr::Pack(node) => {
                for item in items {
                    node.push(end, item);
                }
            }
            Repr::Quick { nodes, len, bytes } => {
                let limit = Limit::of(limits);
                for item in items {
                    let room = match end {
                        End::Left => nodes.front(),
                        End::Right => nodes.back(),
                    }
                    .is_some_and(|n| limit.allows_insert(n, item.len()));
                    if !room {
                        match end {
                            End::Left => nodes.push_front(Node::new()),
                            End::Right => nodes.push_back(Node::new()),
                        }
                    }
                    let node = match end {
                        End::Left => nodes.front_mut(),
                        End::Right => nodes.back_mut(),
                    }
                    .expect("a node with room");
                    let before = node.byte_len();
                    node.push(end, item);
                    *bytes = *bytes - before + node.byte_len();
                    *len += 1;
                }
            }
        }
    }

    /// Removes up to `count` elements from `end`, in the order they leave
    /// (the head first for [`End::Left`], the tail first for the right).
    pub fn pop(&mut self, end: End, count: usize, limits: &EncodingLimits) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(count.min(self.len()));
        self.take(end, count, Some(&mut out), limits);
        out
    }

    /// Removes up to `count` elements from `end`, handing them to `out`.
    fn take(
        &mut self,
        end: End,
        count: usize,
        mut out: Option<&mut Vec<Bytes>>,
        limits: &EncodingLimits,
    ) {
        let mut left = count.min(self.len());
        match &mut self.repr {
            Repr::Pack(node) => node.pop(end, left, out),
            Repr::Quick { nodes, len, bytes } => {
                while left > 0 {
                    let node = match end {
                        End::Left => nodes.front_mut(),
                        End::Right => nodes.back_mut(),
                    }
                    .expect("elements left");
                    let before = (node.len(), node.byte_len());
                    node.pop(end, left, out.as_deref_mut());
                    let gone = before.0 - node.len();
                    left -= gone;
                    *len -= gone;
                    *bytes = *bytes - before.1 + node.byte_len();
                    if node.is_empty() {
                        match end {
                            End::Left => nodes.pop_front(),
                            End::Right => nodes.pop_back(),
                        };
                    }
                }
            }
        }
        self.shrink(limits);
    }

    /// The node holding element `index` (`< len()`) and its index there.
    fn locate(&self, index: usize) -> (usize, usize) {
        match &self.repr {
            Repr::Pack(_) => (0, index),
            Repr::Quick { nodes, .. } => {
                let mut left = index;
                for (i, node) in nodes.iter().enumerate() {
                    if left < node.len() {
                        return (i, left);
                    }
                    left -= node.len();
                }
                unreachable!("index {index} within the list")
            }
        }
    }

    fn node(&self, i: usize) -> &Node {
        match &self.repr {
            Repr::Pack(node) => node,
            Repr::Quick { nodes, .. } => &nodes[i],
        }
    }

    /// Runs `f` on node `i`, keeping the totals and dropping the node if it
    /// is left empty; a node `f` grew past the limit is split in two.
    fn with_node<R>(
        &mut self,
        i: usize,
        limits: &EncodingLimits,
        f: impl FnOnce(&mut Node) -> R,
    ) -> R {
        match &mut self.repr {
            Repr::Pack(node) => f(node),
            Repr::Quick { nodes, len, bytes } => {
                let node = &mut nodes[i];
                let before = (node.len(), node.byte_len());
                let out = f(node);
                *len = *len - before.0 + node.len();
                *bytes = *bytes - before.1 + node.byte_len();
                if node.is_empty() {
                    nodes.remove(i);
                } else if node.len() > 1 && Limit::of(limits).exceeded(node.lp_bytes(), node.len())
                {
                    let tail = node.split_off(node.len() / 2);
                    nodes.insert(i + 1, tail);
                }
                out
            }
        }
    }

    /// The element at `index` (`< len()`).
    pub fn get(&self, index: usize) -> Option<Bytes> {
        if index >= self.len() {
            return None;
        }
        let (n, at) = self.locate(index);
        self.node(n).get(at).map(Bytes::copy_from_slice)
    }

    /// Elements `start..=end` (`start <= end < len()`), forward; whole
    /// nodes before `start` are skipped by their lengths.
    pub fn range(&self, start: usize, end: usize) -> Vec<Bytes> {
        let want = end + 1 - start;
        let mut skip = start;
        let mut out = Vec::with_capacity(want);
        for node in self.nodes() {
            if skip >= node.len() {
                skip -= node.len();
                continue;
            }
            let room = want - out.len();
            out.extend(
                node.items()
                    .skip(skip)
                    .take(room)
                    .map(Bytes::copy_from_slice),
            );
            skip = 0;
            if out.len() == want {
                break;
            }
        }
        out
    }

    fn nodes(&self) -> impl DoubleEndedIterator<Item = &Node> + '_ {
        let (single, many) = match &self.repr {
            Repr::Pack(node) => (Some(node), None),
            Repr::Quick { nodes, .. } => (None, Some(nodes.iter())),
        };
        single.into_iter().chain(many.into_iter().flatten())
    }

    /// Every element, head to tail.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.nodes().flat_map(Node::items)
    }

    /// Every element, tail to head.
    pub fn iter_rev(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.nodes().rev().flat_map(Node::items_rev)
    }

    /// Replaces element `index`; false past the end.
    pub fn set(&mut self, index: usize, item: &[u8], limits: &EncodingLimits) -> bool {
        if index >= self.len() {
            return false;
        }
        self.grow_for(&[item], limits);
        let (n, at) = self.locate(index);
        self.with_node(n, limits, |node| node.replace(at, item));
        self.shrink(limits);
        true
    }

    /// Inserts `item` next to the first `pivot` (before it, or after);
    /// false when there is no such element.
    pub fn insert(
        &mut self,
        pivot: &[u8],
        item: &[u8],
        before: bool,
        limits: &EncodingLimits,
    ) -> bool {
        let Some(index) = self.iter().position(|e| e == pivot) else {
            return false;
        };
        self.grow_for(&[item], limits);
        let (n, at) = self.locate(index);
        let at = if before { at } else { at + 1 };
        self.with_node(n, limits, |node| node.insert(at, item));
        true
    }

    /// Removes elements equal to `item`: the first `count` from the head
    /// (`count > 0`), the last `-count` from the tail (`count < 0`), or all
    /// (`0`). Returns how many went.
    pub fn remove(&mut self, item: &[u8], count: i64, limits: &EncodingLimits) -> usize {
        let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        let matches: Vec<usize> = if count < 0 {
            let len = self.len();
            let mut m: Vec<usize> = self
                .iter_rev()
                .enumerate()
                .filter(|(_, e)| *e == item)
                .map(|(i, _)| len - 1 - i)
                .take(limit)
                .collect();
            m.reverse();
            m
        } else {
            let take = if count == 0 { usize::MAX } else { limit };
            self.iter()
                .enumerate()
                .filter(|(_, e)| *e == item)
                .map(|(i, _)| i)
                .take(take)
                .collect()
        };
        // Back to front, so earlier indexes stay valid.
        for &index in matches.iter().rev() {
            let (n, at) = self.locate(index);
            self.with_node(n, limits, |node| node.remove(at, 1));
        }
        self.shrink(limits);
        matches.len()
    }

    /// Keeps only elements `start..=end` (`start > end` empties the list).
    pub fn retain_range(&mut self, start: usize, end: usize, limits: &EncodingLimits) {
        let len = self.len();
        let (front, back) = if start > end || start >= len {
            (len, 0)
        } else {
            (start, len - 1 - end.min(len - 1))
        };
        self.take(End::Left, front, None, limits);
        self.take(End::Right, back, None, limits);
    }
}

impl Collection for List {
    fn of(value: &Value) -> Option<&List> {
        match value {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    fn of_mut(value: &mut Value) -> Option<&mut List> {
        match value {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    fn into_value(self) -> Value {
        Value::List(Box::new(self))
    }

    fn is_empty(&self) -> bool {
        List::is_empty(self)
    }
}

#[cfg(test)]
mod tests;
