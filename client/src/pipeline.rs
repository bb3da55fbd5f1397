//! Pipelines: many commands, one write per node, replies back in order.

use std::ops::Range;

use kiln_net::Reply;
use kiln_net::resp::encode_request;

use crate::client::Target;
use crate::commands::fcall_args;
use crate::routing::{self, KeyRoute};
use crate::{Client, Error, Redirect};

/// A batch of commands sent together. Built with [`Client::pipeline`]:
///
/// ```no_run
/// # let mut client = kiln_client::Client::connect("127.0.0.1:7379")?;
/// let replies = client.pipeline().set("a", "1").incr("counter").get("a").query()?;
/// # Ok::<(), kiln_client::Error>(())
/// ```
///
/// [`query`](Self::query) groups the commands by the node that owns their
/// keys, writes each group with one `write_all`, reads each node's replies and
/// returns them in the order the commands were added. An error reply is an
/// element of the result ([`Reply::Error`]), not a failure of the pipeline;
/// `MOVED` / `ASK` replies are retried one by one.
///
/// The commands for one node run in the order they were added; commands for
/// different nodes do not wait for each other. A cross-core command (say
/// `SINTER` of keys on two cores, sent to the main port) may run before an
/// `SADD` queued ahead of it for a core: query the writes first.
///
/// The hash, set, sorted-set and list commands have the same methods here as
/// on [`Client`] (declared once for both), builders included:
/// `pipe.hset("h", &[("f", "v")]).zadd_with(&zadd("z").member(1.0, "m"))`.
/// Their replies come back raw; the blocking pops are [`Client`]-only.
pub struct Pipeline<'c> {
    client: &'c mut Client,
    /// Every command, encoded back to back.
    encoded: Vec<u8>,
    commands: Vec<(KeyRoute, Range<usize>)>,
}

impl<'c> Pipeline<'c> {
    pub(crate) fn new(client: &'c mut Client) -> Pipeline<'c> {
        Pipeline {
            client,
            encoded: Vec::new(),
            commands: Vec::new(),
        }
    }

    /// Adds a command.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> &mut Self {
        let start = self.encoded.len();
        encode_request(args, &mut self.encoded);
        self.commands
            .push((routing::route(args), start..self.encoded.len()));
        self
    }

    /// Number of queued commands.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether no command is queued.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Drops the queued commands.
    pub fn clear(&mut self) {
        self.encoded.clear();
        self.commands.clear();
    }

    /// `SET key value`
    pub fn set(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.cmd(&[b"SET".as_slice(), key.as_ref(), value.as_ref()])
    }

    /// `SET key value EX seconds`
    pub fn set_ex(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        seconds: u64,
    ) -> &mut Self {
        let seconds = seconds.to_string();
        self.cmd(&[
            b"SET".as_slice(),
            key.as_ref(),
            value.as_ref(),
            b"EX",
            seconds.as_bytes(),
        ])
    }

    /// `GET key`
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.cmd(&[b"GET".as_slice(), key.as_ref()])
    }

    /// `DEL key...`
    pub fn del<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> &mut Self {
        self.cmd(&with_keys(b"DEL", keys))
    }

    /// `EXISTS key...`
    pub fn exists<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> &mut Self {
        self.cmd(&with_keys(b"EXISTS", keys))
    }

    /// `MGET key...`
    pub fn mget<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> &mut Self {
        self.cmd(&with_keys(b"MGET", keys))
    }

    /// `INCR key`
    pub fn incr(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.cmd(&[b"INCR".as_slice(), key.as_ref()])
    }

    /// `INCRBY key delta`
    pub fn incr_by(&mut self, key: impl AsRef<[u8]>, delta: i64) -> &mut Self {
        let delta = delta.to_string();
        self.cmd(&[b"INCRBY".as_slice(), key.as_ref(), delta.as_bytes()])
    }

    /// `DECR key`
    pub fn decr(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.cmd(&[b"DECR".as_slice(), key.as_ref()])
    }

    /// `EXPIRE key seconds`
    pub fn expire(&mut self, key: impl AsRef<[u8]>, seconds: i64) -> &mut Self {
        let seconds = seconds.to_string();
        self.cmd(&[b"EXPIRE".as_slice(), key.as_ref(), seconds.as_bytes()])
    }

    /// `TTL key`
    pub fn ttl(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.cmd(&[b"TTL".as_slice(), key.as_ref()])
    }

    /// `FCALL function numkeys key... arg...`, sent with the other commands
    /// for the core owning its keys.
    pub fn fcall<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &mut self,
        function: &str,
        keys: &[K],
        args: &[A],
    ) -> &mut Self {
        self.cmd(&fcall_args("FCALL", function, keys, args))
    }

    /// `FCALL_RO function numkeys key... arg...`
    pub fn fcall_ro<K: AsRef<[u8]>, A: AsRef<[u8]>>(
        &mut self,
        function: &str,
        keys: &[K],
        args: &[A],
    ) -> &mut Self {
        self.cmd(&fcall_args("FCALL_RO", function, keys, args))
    }

    /// Sends every queued command and returns the replies in order; the
    /// pipeline is empty afterwards and can be reused.
    ///
    /// An I/O failure fails the whole call, and every connection that still had
    /// replies pending is dropped (so no later call reads a stale reply).
    pub fn query(&mut self) -> Result<Vec<Reply>, Error> {
        let commands = std::mem::take(&mut self.commands);
        let encoded = std::mem::take(&mut self.encoded);
        let result = self.run(&commands, &encoded);
        // Keep the allocations for reuse.
        self.commands = commands;
        self.encoded = encoded;
        self.clear();
        result
    }

    fn run(
        &mut self,
        commands: &[(KeyRoute, Range<usize>)],
        encoded: &[u8],
    ) -> Result<Vec<Reply>, Error> {
        let client = &mut *self.client;
        let targets: Vec<Target> = commands
            .iter()
            .map(|(route, _)| client.target(*route))
            .collect();
        let groups = group_by_target(&targets);

        let mut batch = Vec::new();
        for (sent, (target, indices)) in groups.iter().enumerate() {
            batch.clear();
            for &i in indices {
                batch.extend_from_slice(&encoded[commands[i].1.clone()]);
            }
            let written = client
                .conn(*target)
                .and_then(|conn| conn.send(&batch).map_err(Error::from));
            if let Err(e) = written {
                drop_targets(client, groups[..=sent].iter().map(|g| g.0));
                return Err(e);
            }
        }

        let mut replies: Vec<Option<Reply>> = vec![None; commands.len()];
        for (group, (target, indices)) in groups.iter().enumerate() {
            for &i in indices {
                match client.conn(*target).and_then(|conn| conn.read_reply()) {
                    Ok(reply) => replies[i] = Some(reply),
                    Err(e) => {
                        drop_targets(client, groups[group..].iter().map(|g| g.0));
                        return Err(e);
                    }
                }
            }
        }

        // Redirected commands: patch the table for all, reload it once, then
        // retry each on its own.
        let redirects: Vec<(usize, Redirect)> = if client.config.cluster {
            replies
                .iter()
                .enumerate()
                .filter_map(|(i, r)| match r {
                    Some(Reply::Error(text)) => Redirect::parse(text).map(|r| (i, r)),
                    _ => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        if !redirects.is_empty() {
            let retries: Vec<(usize, Target, bool)> = redirects
                .iter()
                .map(|(i, redirect)| {
                    let (target, asking) = client.follow(redirect, false);
                    (*i, target, asking)
                })
                .collect();
            if redirects
                .iter()
                .any(|(_, r)| matches!(r, Redirect::Moved { .. }))
            {
                client.refresh_after_moved();
            }
            for ((i, redirect), (_, target, asking)) in redirects.iter().zip(retries) {
                // After the reload, MOVED commands go where the new map says.
                let target = match redirect {
                    Redirect::Moved { slot, .. } => client.target(KeyRoute::Slot(*slot)),
                    Redirect::Ask { .. } => target,
                };
                replies[*i] =
                    Some(client.execute(target, asking, &encoded[commands[*i].1.clone()])?);
            }
        }
        Ok(replies
            .into_iter()
            .map(|r| r.unwrap_or(Reply::Nil))
            .collect())
    }
}

fn with_keys<'k, K: AsRef<[u8]>>(name: &'static [u8], keys: &'k [K]) -> Vec<&'k [u8]> {
    let mut args = Vec::with_capacity(keys.len() + 1);
    args.push(name);
    args.extend(keys.iter().map(AsRef::as_ref));
    args
}

fn drop_targets(client: &mut Client, targets: impl Iterator<Item = Target>) {
    for target in targets {
        client.drop_conn(target);
    }
}

/// Groups command indices by target, targets in order of first use and
/// indices in command order: the order replies arrive on each connection.
pub(crate) fn group_by_target<T: PartialEq + Copy>(targets: &[T]) -> Vec<(T, Vec<usize>)> {
    let mut groups: Vec<(T, Vec<usize>)> = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        match groups.iter_mut().find(|(t, _)| t == target) {
            Some((_, indices)) => indices.push(i),
            None => groups.push((*target, vec![i])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_first_use_and_command_order() {
        let targets = [
            Target::Node(2),
            Target::Main,
            Target::Node(2),
            Target::Node(0),
            Target::Main,
            Target::Node(2),
        ];
        let groups = group_by_target(&targets);
        assert_eq!(
            groups,
            vec![
                (Target::Node(2), vec![0, 2, 5]),
                (Target::Main, vec![1, 4]),
                (Target::Node(0), vec![3])
            ]
        );
        // Scattering each group's replies back by index restores the order.
        let mut out = vec![None; targets.len()];
        for (target, indices) in &groups {
            for (n, &i) in indices.iter().enumerate() {
                out[i] = Some((*target, n));
            }
        }
        let expected = [
            (Target::Node(2), 0),
            (Target::Main, 0),
            (Target::Node(2), 1),
            (Target::Node(0), 0),
            (Target::Main, 1),
            (Target::Node(2), 2),
        ];
        assert_eq!(
            out.into_iter().map(Option::unwrap).collect::<Vec<_>>(),
            expected
        );
        assert!(group_by_target::<Target>(&[]).is_empty());
    }
}
