//! The cluster slot map: which node (core) serves each of the 16384 slots,
//! as `CLUSTER SLOTS` reports it.

use std::fmt;

use kiln_net::Reply;
use kiln_net::slot::SLOT_COUNT;

use crate::Error;

/// A node's address as the cluster advertises it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeAddr {
    /// Host name or IP address.
    pub host: String,
    /// TCP port (for Kiln, the core's own port).
    pub port: u16,
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// One node of a `CLUSTER SLOTS` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    /// Where to connect.
    pub addr: NodeAddr,
    /// The node id, when the server sends one.
    pub id: Option<String>,
}

/// A contiguous range of slots and the nodes serving it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRange {
    /// First slot of the range.
    pub start: u16,
    /// Last slot of the range (inclusive).
    pub end: u16,
    /// The node that owns the range.
    pub primary: ClusterNode,
    /// Replicas of the range, if any.
    pub replicas: Vec<ClusterNode>,
}

/// Slot → node table built from `CLUSTER SLOTS`.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotTable {
    ranges: Vec<SlotRange>,
    /// Distinct primaries, in order of first appearance.
    nodes: Vec<NodeAddr>,
    /// Index into `nodes` for each slot, or [`UNASSIGNED`].
    owner: Box<[u16]>,
}

const UNASSIGNED: u16 = u16::MAX;

impl fmt::Debug for SlotTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlotTable")
            .field("ranges", &self.ranges)
            .field("nodes", &self.nodes)
            .finish()
    }
}

impl Default for SlotTable {
    fn default() -> Self {
        SlotTable {
            ranges: Vec::new(),
            nodes: Vec::new(),
            owner: vec![UNASSIGNED; SLOT_COUNT].into_boxed_slice(),
        }
    }
}

impl SlotTable {
    /// Parses a `CLUSTER SLOTS` reply (Redis 7 shape: an array of
    /// `[start, end, [host, port, id, metadata...], replicas...]`). A node
    /// whose host is empty or `?` gets `default_host`, the host the reply came
    /// from.
    pub fn from_reply(reply: &Reply, default_host: &str) -> Result<SlotTable, Error> {
        let entries =
            aggregate(reply).ok_or_else(|| bad("CLUSTER SLOTS reply is not an array", reply))?;
        let mut ranges = Vec::with_capacity(entries.len());
        for entry in entries {
            let fields =
                aggregate(entry).ok_or_else(|| bad("slot range is not an array", entry))?;
            let [start, end, primary, replicas @ ..] = fields else {
                return Err(bad("slot range needs start, end and a node", entry));
            };
            let start = slot(start)?;
            let end = slot(end)?;
            if start > end {
                return Err(bad("slot range ends before it starts", entry));
            }
            ranges.push(SlotRange {
                start,
                end,
                primary: node(primary, default_host)?,
                replicas: replicas
                    .iter()
                    .map(|r| node(r, default_host))
                    .collect::<Result<_, _>>()?,
            });
        }
        Ok(SlotTable::from_ranges(ranges))
    }

    /// Builds the table from slot ranges; later ranges win where they overlap.
    pub fn from_ranges(ranges: Vec<SlotRange>) -> SlotTable {
        let mut map = SlotTable::default();
        for range in &ranges {
            let index = map.node_index_or_insert(&range.primary.addr);
            for slot in range.start..=range.end {
                map.assign(slot, index);
            }
        }
        map.ranges = ranges;
        map
    }

    /// The ranges as the server reported them.
    pub fn ranges(&self) -> &[SlotRange] {
        &self.ranges
    }

    /// The distinct primary nodes.
    pub fn nodes(&self) -> &[NodeAddr] {
        &self.nodes
    }

    /// Whether no slot is assigned.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node serving `slot`.
    pub fn node_for_slot(&self, slot: u16) -> Option<&NodeAddr> {
        self.node_index(slot).map(|i| &self.nodes[i])
    }

    /// Index into [`nodes`](Self::nodes) of the node serving `slot`.
    pub fn node_index(&self, slot: u16) -> Option<usize> {
        match self.owner.get(usize::from(slot)) {
            Some(&UNASSIGNED) | None => None,
            Some(&i) => Some(usize::from(i)),
        }
    }

    /// The index of `addr` in [`nodes`](Self::nodes), adding it if new.
    pub(crate) fn node_index_or_insert(&mut self, addr: &NodeAddr) -> usize {
        match self.nodes.iter().position(|n| n == addr) {
            Some(i) => i,
            None => {
                self.nodes.push(addr.clone());
                self.nodes.len() - 1
            }
        }
    }

    /// Records that `slot` is served by node `index` (after a `MOVED`).
    pub(crate) fn assign(&mut self, slot: u16, index: usize) {
        if let (Some(entry), Ok(index)) =
            (self.owner.get_mut(usize::from(slot)), u16::try_from(index))
            && index != UNASSIGNED
        {
            *entry = index;
        }
    }
}

fn aggregate(reply: &Reply) -> Option<&[Reply]> {
    match reply {
        Reply::Array(items) | Reply::Set(items) => Some(items),
        _ => None,
    }
}

fn bad(what: &str, reply: &Reply) -> Error {
    let mut shown = format!("{reply:?}");
    shown.truncate(200);
    Error::UnexpectedReply(format!("{what}: {shown}"))
}

fn slot(reply: &Reply) -> Result<u16, Error> {
    match reply {
        Reply::Integer(n) if (0..SLOT_COUNT as i64).contains(n) => Ok(*n as u16),
        _ => Err(bad("invalid slot number", reply)),
    }
}

fn text(reply: &Reply) -> Option<String> {
    match reply {
        Reply::Bulk(b) | Reply::Verbatim(_, b) => Some(String::from_utf8_lossy(b).into_owned()),
        Reply::Status(s) => Some(s.to_string()),
        _ => None,
    }
}

fn node(reply: &Reply, default_host: &str) -> Result<ClusterNode, Error> {
    let fields = aggregate(reply).ok_or_else(|| bad("node is not an array", reply))?;
    let [host, port, rest @ ..] = fields else {
        return Err(bad("node needs a host and a port", reply));
    };
    let host = text(host).ok_or_else(|| bad("invalid node host", reply))?;
    let host = if host.is_empty() || host == "?" {
        default_host.to_owned()
    } else {
        host
    };
    let port = match port {
        Reply::Integer(p) => u16::try_from(*p).ok(),
        other => text(other).and_then(|p| p.parse().ok()),
    }
    .ok_or_else(|| bad("invalid node port", reply))?;
    Ok(ClusterNode {
        addr: NodeAddr { host, port },
        id: rest.first().and_then(text),
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn node_reply(host: &str, port: i64, id: &str) -> Reply {
        Reply::Array(vec![
            bulk(host),
            Reply::Integer(port),
            bulk(id),
            Reply::Map(vec![]),
        ])
    }

    #[test]
    fn parses_redis7_cluster_slots() {
        let reply = Reply::Array(vec![
            Reply::Array(vec![
                Reply::Integer(0),
                Reply::Integer(8191),
                node_reply("127.0.0.1", 7001, "aa"),
            ]),
            Reply::Array(vec![
                Reply::Integer(8192),
                Reply::Integer(16383),
                node_reply("", 7002, "bb"),
                node_reply("10.0.0.9", 7102, "cc"),
            ]),
        ]);
        let map = SlotTable::from_reply(&reply, "10.1.1.1").unwrap();
        assert_eq!(map.ranges().len(), 2);
        assert_eq!(map.ranges()[0].primary.id.as_deref(), Some("aa"));
        assert_eq!(
            map.ranges()[1].replicas[0].addr,
            NodeAddr {
                host: "10.0.0.9".into(),
                port: 7102
            }
        );
        assert_eq!(map.nodes().len(), 2);
        assert_eq!(map.node_for_slot(0).unwrap().to_string(), "127.0.0.1:7001");
        assert_eq!(map.node_for_slot(8191).unwrap().port, 7001);
        assert_eq!(
            map.node_for_slot(8192).unwrap().to_string(),
            "10.1.1.1:7002"
        );
        assert_eq!(map.node_for_slot(16383).unwrap().port, 7002);
        assert_eq!(map.node_for_slot(16384), None);
    }

    #[test]
    fn gaps_and_shared_nodes() {
        let reply = Reply::Array(vec![
            Reply::Array(vec![
                Reply::Integer(0),
                Reply::Integer(9),
                node_reply("h", 1, "a"),
            ]),
            Reply::Array(vec![
                Reply::Integer(20),
                Reply::Integer(29),
                node_reply("h", 1, "a"),
            ]),
        ]);
        let mut map = SlotTable::from_reply(&reply, "x").unwrap();
        assert_eq!(map.nodes().len(), 1);
        assert_eq!(map.node_index(5), Some(0));
        assert_eq!(map.node_index(15), None);
        assert_eq!(map.node_index(25), Some(0));
        let other = map.node_index_or_insert(&NodeAddr {
            host: "h".into(),
            port: 2,
        });
        map.assign(15, other);
        assert_eq!(map.node_for_slot(15).unwrap().port, 2);
    }

    #[test]
    fn rejects_malformed_replies() {
        assert!(SlotTable::from_reply(&Reply::Integer(1), "h").is_err());
        let bad_slot = Reply::Array(vec![Reply::Array(vec![
            Reply::Integer(0),
            Reply::Integer(16384),
            node_reply("h", 1, "a"),
        ])]);
        assert!(SlotTable::from_reply(&bad_slot, "h").is_err());
        let no_node = Reply::Array(vec![Reply::Array(vec![
            Reply::Integer(0),
            Reply::Integer(1),
        ])]);
        assert!(SlotTable::from_reply(&no_node, "h").is_err());
        let bad_port = Reply::Array(vec![Reply::Array(vec![
            Reply::Integer(0),
            Reply::Integer(1),
            node_reply("h", 70000, "a"),
        ])]);
        assert!(SlotTable::from_reply(&bad_port, "h").is_err());
        assert!(
            SlotTable::from_reply(&Reply::Array(vec![]), "h")
                .unwrap()
                .is_empty()
        );
    }
}
