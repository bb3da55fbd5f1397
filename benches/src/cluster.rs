//! Cluster topology: which node serves each hash slot, read once with
//! `CLUSTER SLOTS` before the run (blocking I/O; off the hot path).

use std::io::{Read, Write};
use std::net::TcpStream;

use kiln_net::Reply;
use kiln_net::resp::{decode, encode_request};

use crate::BenchError;
use crate::config::BenchConfig;

/// Number of Redis Cluster hash slots.
pub const SLOTS: usize = 16384;

/// Nodes and the slot → node map.
#[derive(Debug, Clone)]
pub struct Topology {
    /// `host:port` of each node.
    pub nodes: Vec<String>,
    /// Index into `nodes` for every slot.
    pub slots: Vec<u16>,
}

impl Topology {
    /// One node serving every slot (the non-cluster case).
    pub fn single(addr: &str) -> Topology {
        Topology {
            nodes: vec![addr.to_string()],
            slots: vec![0; SLOTS],
        }
    }

    /// Asks the seed node in `config` for CLUSTER SLOTS.
    pub fn discover(config: &BenchConfig) -> Result<Topology, BenchError> {
        let mut conn = TcpStream::connect(&config.addr)
            .map_err(|e| BenchError::Connect(config.addr.clone(), e))?;
        for setup in setup_commands(config) {
            if let Reply::Error(e) = call(&mut conn, &setup)? {
                return Err(BenchError::Setup(e.into_owned()));
            }
        }
        let reply = call(&mut conn, &["CLUSTER".into(), "SLOTS".into()])?;
        let seed_host = config.addr.rsplit_once(':').map_or("127.0.0.1", |(h, _)| h);
        Topology::from_reply(&reply, seed_host)
    }

    /// Builds the map from a CLUSTER SLOTS reply; an empty host means the seed's.
    pub fn from_reply(reply: &Reply, seed_host: &str) -> Result<Topology, BenchError> {
        let bad = |why: &str| BenchError::Setup(format!("unexpected CLUSTER SLOTS reply: {why}"));
        let Reply::Array(ranges) = reply else {
            return Err(match reply {
                Reply::Error(e) => {
                    BenchError::Setup(format!("CLUSTER SLOTS: {e} (is the server a cluster?)"))
                }
                _ => bad("not an array"),
            });
        };
        let mut topology = Topology {
            nodes: Vec::new(),
            slots: vec![u16::MAX; SLOTS],
        };
        for range in ranges {
            let Reply::Array(fields) = range else {
                return Err(bad("range is not an array"));
            };
            let (
                Some(Reply::Integer(first)),
                Some(Reply::Integer(last)),
                Some(Reply::Array(master)),
            ) = (fields.first(), fields.get(1), fields.get(2))
            else {
                return Err(bad("range fields"));
            };
            let (Some(Reply::Bulk(host)), Some(Reply::Integer(port))) =
                (master.first(), master.get(1))
            else {
                return Err(bad("node fields"));
            };
            let host = std::str::from_utf8(host).map_err(|_| bad("host"))?;
            let host = if host.is_empty() || host == "?" {
                seed_host
            } else {
                host
            };
            let node = topology.node_index(&format!("{host}:{port}"));
            let (first, last) = (*first as usize, *last as usize);
            if first > last || last >= SLOTS {
                return Err(bad("slot range"));
            }
            topology.slots[first..=last].fill(node);
        }
        if topology.slots.contains(&u16::MAX) {
            return Err(BenchError::Setup(
                "CLUSTER SLOTS leaves some slots unserved".into(),
            ));
        }
        Ok(topology)
    }

    /// The index of `addr`, added if new.
    pub fn node_index(&mut self, addr: &str) -> u16 {
        match self.nodes.iter().position(|n| n == addr) {
            Some(i) => i as u16,
            None => {
                self.nodes.push(addr.to_string());
                (self.nodes.len() - 1) as u16
            }
        }
    }
}

/// What each connection sends before the benchmark: `HELLO 3` (with AUTH)
/// for RESP3, else `AUTH` when a password is set.
pub fn setup_commands(config: &BenchConfig) -> Vec<Vec<String>> {
    let auth: Vec<String> = match &config.auth {
        Some((Some(user), password)) => vec![user.clone(), password.clone()],
        Some((None, password)) => vec!["default".into(), password.clone()],
        None => Vec::new(),
    };
    if config.resp3 {
        let mut hello = vec!["HELLO".to_string(), "3".into()];
        if !auth.is_empty() {
            hello.push("AUTH".into());
            hello.extend(auth);
        }
        vec![hello]
    } else if let Some((user, password)) = &config.auth {
        let mut cmd = vec!["AUTH".to_string()];
        cmd.extend(user.clone());
        cmd.push(password.clone());
        vec![cmd]
    } else {
        Vec::new()
    }
}

/// One blocking request/reply.
fn call(conn: &mut TcpStream, args: &[String]) -> Result<Reply, BenchError> {
    let mut out = Vec::new();
    encode_request(args, &mut out);
    conn.write_all(&out).map_err(BenchError::Io)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some((reply, _)) =
            decode(&buf).map_err(|e| BenchError::Setup(format!("bad reply: {e}")))?
        {
            return Ok(reply);
        }
        let n = conn.read(&mut chunk).map_err(BenchError::Io)?;
        if n == 0 {
            return Err(BenchError::Setup("server closed the connection".into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn range(first: i64, last: i64, host: &'static str, port: i64) -> Reply {
        Reply::Array(vec![
            Reply::Integer(first),
            Reply::Integer(last),
            Reply::Array(vec![
                Reply::Bulk(Bytes::from_static(host.as_bytes())),
                Reply::Integer(port),
            ]),
        ])
    }

    #[test]
    fn slots_map_to_nodes() {
        let reply = Reply::Array(vec![
            range(0, 8191, "10.0.0.1", 7000),
            range(8192, 16383, "", 7001),
            range(100, 200, "10.0.0.1", 7000),
        ]);
        let t = Topology::from_reply(&reply, "seed").unwrap();
        assert_eq!(t.nodes, vec!["10.0.0.1:7000", "seed:7001"]);
        assert_eq!(
            (t.slots[0], t.slots[8191], t.slots[8192], t.slots[16383]),
            (0, 0, 1, 1)
        );
    }

    #[test]
    fn gaps_and_errors_are_refused() {
        assert!(Topology::from_reply(&Reply::Array(vec![range(0, 100, "h", 1)]), "s").is_err());
        assert!(
            Topology::from_reply(
                &Reply::error("ERR This instance has cluster support disabled"),
                "s"
            )
            .is_err()
        );
        assert!(Topology::from_reply(&Reply::Array(vec![range(0, 16384, "h", 1)]), "s").is_err());
    }
}
