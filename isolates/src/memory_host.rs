//! [`MemoryHost`]: a [`Host`] over a plain map, for tests, benchmarks and
//! trying the API without a server. The server's host is its shard.

use std::collections::HashMap;

use bytes::Bytes;
use kiln_net::{Args, Reply};

use crate::host::{Host, HostError};

/// String values in a `HashMap`. Keys that start with `foreign_prefix`
/// behave as keys another core owns (a `CROSSSLOT` error), so routing rules
/// can be exercised without a cluster.
#[derive(Debug, Default)]
pub struct MemoryHost {
    /// The values.
    pub data: HashMap<Vec<u8>, Bytes>,
    foreign_prefix: Option<Vec<u8>>,
}

impl MemoryHost {
    /// A host whose keys starting with `prefix` belong elsewhere.
    pub fn with_foreign_prefix(prefix: &[u8]) -> MemoryHost {
        MemoryHost {
            data: HashMap::new(),
            foreign_prefix: Some(prefix.to_vec()),
        }
    }

    fn check(&self, key: &[u8]) -> Result<(), HostError> {
        match &self.foreign_prefix {
            Some(prefix) if key.starts_with(prefix) => Err(HostError::new(
                "CROSSSLOT Keys in request don't hash to the same slot",
            )),
            _ => Ok(()),
        }
    }
}

impl Host for MemoryHost {
    fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, HostError> {
        self.check(key)?;
        Ok(self.data.get(key).cloned())
    }

    fn put(&mut self, key: &[u8], value: Bytes, _ttl_ms: Option<u64>) -> Result<(), HostError> {
        self.check(key)?;
        self.data.insert(key.to_vec(), value);
        Ok(())
    }

    fn del(&mut self, key: &[u8]) -> Result<bool, HostError> {
        self.check(key)?;
        Ok(self.data.remove(key).is_some())
    }

    fn exists(&mut self, key: &[u8]) -> Result<bool, HostError> {
        self.check(key)?;
        Ok(self.data.contains_key(key))
    }

    fn incr(&mut self, key: &[u8], delta: i64) -> Result<i64, HostError> {
        self.check(key)?;
        let old = match self.data.get(key) {
            Some(v) => std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| HostError::new("ERR value is not an integer or out of range"))?,
            None => 0,
        };
        let new = old
            .checked_add(delta)
            .ok_or_else(|| HostError::new("ERR increment or decrement would overflow"))?;
        self.data.insert(key.to_vec(), Bytes::from(new.to_string()));
        Ok(new)
    }

    /// Knows `PING` and `STRLEN key`.
    fn call(&mut self, args: Args<'_>) -> Reply {
        match args.get(0).to_ascii_uppercase().as_slice() {
            b"PING" => Reply::status("PONG"),
            b"STRLEN" if args.len() == 2 => {
                Reply::Integer(self.data.get(args.get(1)).map_or(0, |v| v.len() as i64))
            }
            _ => Reply::error("ERR unknown command"),
        }
    }
}
