//! Pub/Sub on a core: its clients' subscriptions, and the delivery of a
//! published message to them.
//!
//! ```text
//!  SUBSCRIBE ch  ─► this core's registry: (tenant, ch) → its connections
//!  PUBLISH ch m  ─► one Job::Publish per core with subscribers ─► each core
//!                   pushes `message ch m` to its connections ─► counts summed
//! ```
//!
//! Subscriptions are keyed by tenant, so a tenant reaches only its own
//! subscribers. A message is written into each subscriber's output like a
//! reply (a RESP3 push, or RESP2's array), after whatever it is still owed,
//! and held to the `pubsub` class of `client-output-buffer-limit`: a
//! subscriber that does not read is cut off, never buffered for ever.

use std::collections::HashMap;

use bytes::Bytes;
use kiln_net::transport::{Clients, Connection, PortKind};
use kiln_net::{Args, Reply};
use std::sync::atomic::Ordering;

use super::Engine;
use crate::commands::pubsub::{Kind, Publish, Query};
use crate::commands::{CommandSpec, errors};
use crate::session::Session;
use crate::tenant::TenantId;

/// Keys come from clients: maps are seeded (aHash), as the shard's are.
type Map<K, V> = HashMap<K, V, ahash::RandomState>;

/// One subscribed connection of this core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Subscriber {
    conn: usize,
    client: u64,
}

/// This core's subscriptions.
#[derive(Default)]
pub struct Subscriptions {
    channels: Map<TenantId, Map<Bytes, Vec<Subscriber>>>,
    shard: Map<TenantId, Map<Bytes, Vec<Subscriber>>>,
    /// Patterns, with their subscribers, per tenant.
    patterns: Map<TenantId, Vec<(Bytes, Subscriber)>>,
}

impl Subscriptions {
    fn of(&mut self, kind: Kind) -> &mut Map<TenantId, Map<Bytes, Vec<Subscriber>>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Shard => &mut self.shard,
        }
    }

    fn add(&mut self, kind: Kind, tenant: TenantId, channel: &Bytes, who: Subscriber) {
        let subscribers = self.of(kind).entry(tenant).or_default();
        subscribers.entry(channel.clone()).or_default().push(who);
    }

    fn remove(&mut self, kind: Kind, tenant: TenantId, channel: &[u8], who: Subscriber) {
        let map = self.of(kind);
        let Some(channels) = map.get_mut(&tenant) else {
            return;
        };
        if let Some(subscribers) = channels.get_mut(channel) {
            subscribers.retain(|s| *s != who);
            if subscribers.is_empty() {
                channels.remove(channel);
            }
        }
        if channels.is_empty() {
            map.remove(&tenant);
        }
    }

    fn add_pattern(&mut self, tenant: TenantId, pattern: &Bytes, who: Subscriber) {
        self.patterns
            .entry(tenant)
            .or_default()
            .push((pattern.clone(), who));
    }

    fn remove_pattern(&mut self, tenant: TenantId, pattern: &[u8], who: Subscriber) {
        if let Some(patterns) = self.patterns.get_mut(&tenant) {
            patterns.retain(|(p, s)| !(p == pattern && *s == who));
            if patterns.is_empty() {
                self.patterns.remove(&tenant);
            }
        }
    }
}

/// Which subscription command ran.
#[derive(Clone, Copy)]
enum Verb {
    Subscribe(Kind),
    Unsubscribe(Kind),
    PSubscribe,
    PUnsubscribe,
}

impl Verb {
    fn named(name: &str) -> Option<Verb> {
        Some(match name {
            "subscribe" => Verb::Subscribe(Kind::Channel),
            "unsubscribe" => Verb::Unsubscribe(Kind::Channel),
            "ssubscribe" => Verb::Subscribe(Kind::Shard),
            "sunsubscribe" => Verb::Unsubscribe(Kind::Shard),
            "psubscribe" => Verb::PSubscribe,
            "punsubscribe" => Verb::PUnsubscribe,
            _ => return None,
        })
    }

    /// The word its replies start with.
    fn word(self) -> &'static str {
        match self {
            Verb::Subscribe(Kind::Channel) => "subscribe",
            Verb::Unsubscribe(Kind::Channel) => "unsubscribe",
            Verb::Subscribe(Kind::Shard) => "ssubscribe",
            Verb::Unsubscribe(Kind::Shard) => "sunsubscribe",
            Verb::PSubscribe => "psubscribe",
            Verb::PUnsubscribe => "punsubscribe",
        }
    }
}

/// `[word, channel, count]`, as a push in RESP3 (an array in RESP2).
fn notice(word: &'static str, channel: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk_from(word),
        channel.map_or(Reply::Nil, Reply::Bulk),
        Reply::Integer(count as i64),
    ])
}

/// What RESP2's subscribed mode allows besides the subscription commands.
pub fn allowed_when_subscribed(spec: &CommandSpec) -> bool {
    spec.flags.has(crate::commands::Flags::PUBSUB) || matches!(spec.name, "ping" | "quit" | "reset")
}

/// RESP2's refusal of any other command in subscribed mode.
pub fn refused_when_subscribed(spec: &CommandSpec) -> Reply {
    Reply::error_owned(format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        spec.name
    ))
}

/// `PING [message]` in RESP2's subscribed mode: `["pong", message]`.
pub fn subscribed_ping(args: Args<'_>) -> Reply {
    let message = if args.len() > 1 { args.get(1) } else { b"" };
    Reply::Array(vec![Reply::bulk_from("pong"), Reply::bulk_from(message)])
}

impl Engine {
    /// Runs a subscription command for `conn`: one reply per channel or
    /// pattern, each with the client's count after it.
    pub(super) fn pubsub_command(
        &mut self,
        conn: &mut Connection<Engine>,
        spec: &'static CommandSpec,
        args: Args<'_>,
    ) {
        if !self.admit_engine_command(conn, spec, args) {
            return;
        }
        let protocol = conn.session.protocol;
        let Some(verb) = Verb::named(spec.name) else {
            return conn.replies.push(&errors::NOT_HERE, protocol);
        };
        if let Verb::Subscribe(Kind::Shard) = verb
            && let Some(refusal) = self.shard_channels_elsewhere(&conn.session, args)
        {
            self.stats.error_replies += 1;
            self.stats
                .commands
                .rejected(conn.session.tenant, spec, &refusal);
            return conn.replies.push(&refusal, protocol);
        }
        let names: Vec<Bytes> = (1..args.len())
            .map(|i| Bytes::copy_from_slice(args.get(i)))
            .collect();
        if let Verb::Subscribe(_) | Verb::PSubscribe = verb {
            // Subscriptions are the tenant's memory: held to its quota.
            let bytes = names
                .iter()
                .map(|n| 2 * n.len() + crate::session::SUBSCRIPTION_OVERHEAD)
                .sum();
            let growth = crate::tenant::Growth::default().bytes(bytes);
            if !self.shared.admits(conn.session.tenant, growth) {
                self.stats.error_replies += 1;
                self.stats
                    .commands
                    .rejected(conn.session.tenant, spec, &errors::OOM);
                return conn.replies.push(&errors::OOM, protocol);
            }
        }
        // Counted as a call (untimed), as Redis counts SUBSCRIBE and the rest.
        self.stats
            .commands
            .ran(conn.session.tenant, spec, None, false);
        let replies = self.subscribe(conn, verb, names);
        for reply in &replies {
            conn.replies.push(reply, protocol);
        }
        // Its output is now held to the pubsub class's limit (or not).
        self.charge_output(conn);
    }

    /// A core port takes only its own shard channels, all in one slot; the
    /// main port takes any.
    fn shard_channels_elsewhere(&self, session: &Session, args: Args<'_>) -> Option<Reply> {
        if session.port_kind != PortKind::Core {
            return None;
        }
        crate::commands::route::refuse_on_core_port(
            &self.shared,
            self.id,
            args,
            1..args.len(),
            session.local,
        )
    }

    /// Applies `verb` to `names` (none: every one the client has, for the
    /// unsubscribe forms); the replies.
    fn subscribe(
        &mut self,
        conn: &mut Connection<Engine>,
        verb: Verb,
        names: Vec<Bytes>,
    ) -> Vec<Reply> {
        let who = Subscriber {
            conn: conn.key,
            client: conn.id,
        };
        let tenant = conn.session.tenant;
        let subscribed = &mut conn.session.subscribed;
        let names = match verb {
            Verb::Unsubscribe(kind) if names.is_empty() => {
                let set = match kind {
                    Kind::Channel => &subscribed.channels,
                    Kind::Shard => &subscribed.shard,
                };
                set.iter().cloned().collect()
            }
            Verb::PUnsubscribe if names.is_empty() => subscribed.patterns.iter().cloned().collect(),
            _ => names,
        };
        let before = subscribed.channels.len() + subscribed.patterns.len() + subscribed.shard.len();
        let mut replies = Vec::with_capacity(names.len().max(1));
        for name in &names {
            let count = match verb {
                Verb::Subscribe(kind) => {
                    let set = match kind {
                        Kind::Channel => &mut subscribed.channels,
                        Kind::Shard => &mut subscribed.shard,
                    };
                    if set.insert(name.clone()) {
                        self.subscriptions.add(kind, tenant, name, who);
                    }
                    count_of(subscribed, kind)
                }
                Verb::Unsubscribe(kind) => {
                    let set = match kind {
                        Kind::Channel => &mut subscribed.channels,
                        Kind::Shard => &mut subscribed.shard,
                    };
                    if set.remove(name) {
                        self.subscriptions.remove(kind, tenant, name, who);
                    }
                    count_of(subscribed, kind)
                }
                Verb::PSubscribe => {
                    if subscribed.patterns.insert(name.clone()) {
                        self.subscriptions.add_pattern(tenant, name, who);
                    }
                    subscribed.count()
                }
                Verb::PUnsubscribe => {
                    if subscribed.patterns.remove(name) {
                        self.subscriptions.remove_pattern(tenant, name, who);
                    }
                    subscribed.count()
                }
            };
            replies.push(notice(verb.word(), Some(name.clone()), count));
        }
        if names.is_empty() {
            // Nothing to leave: one reply saying so.
            let kind = match verb {
                Verb::Unsubscribe(kind) | Verb::Subscribe(kind) => kind,
                Verb::PSubscribe | Verb::PUnsubscribe => Kind::Channel,
            };
            replies.push(notice(verb.word(), None, count_of(subscribed, kind)));
        }
        let after = subscribed.channels.len() + subscribed.patterns.len() + subscribed.shard.len();
        let counter = &self.shared.subscriptions[self.id];
        if after > before {
            counter.fetch_add((after - before) as u64, Ordering::Release);
        } else if before > after {
            counter.fetch_sub((before - after) as u64, Ordering::Release);
        }
        replies
    }

    /// Drops every subscription of `conn`'s client (it closed, or `RESET`).
    pub(super) fn unsubscribe_all(&mut self, conn: &mut Connection<Engine>) {
        if !conn.session.subscribed.any() {
            return;
        }
        for verb in [
            Verb::Unsubscribe(Kind::Channel),
            Verb::Unsubscribe(Kind::Shard),
            Verb::PUnsubscribe,
        ] {
            self.subscribe(conn, verb, Vec::new());
        }
    }

    /// Delivers `publish` of `tenant` to this core's subscribers; how many
    /// deliveries there were (a client subscribed to the channel and to a
    /// matching pattern gets it twice, as in Redis).
    pub(super) fn deliver_publish(
        &mut self,
        tenant: TenantId,
        publish: &Publish,
        clients: &mut Clients<'_, Engine>,
    ) -> i64 {
        let Publish {
            kind,
            channel,
            message,
        } = publish;
        let mut targets: Vec<(Subscriber, Reply)> = Vec::new();
        let word = match kind {
            Kind::Channel => "message",
            Kind::Shard => "smessage",
        };
        let direct = match kind {
            Kind::Channel => &self.subscriptions.channels,
            Kind::Shard => &self.subscriptions.shard,
        };
        if let Some(subscribers) = direct.get(&tenant).and_then(|m| m.get(&channel[..])) {
            for who in subscribers {
                let push = Reply::Push(vec![
                    Reply::bulk_from(word),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(message.clone()),
                ]);
                targets.push((*who, push));
            }
        }
        if *kind == Kind::Channel
            && let Some(patterns) = self.subscriptions.patterns.get(&tenant)
        {
            for (pattern, who) in patterns {
                if kiln_store::glob::glob_match(pattern, channel, false) {
                    let push = Reply::Push(vec![
                        Reply::bulk_from("pmessage"),
                        Reply::Bulk(pattern.clone()),
                        Reply::Bulk(channel.clone()),
                        Reply::Bulk(message.clone()),
                    ]);
                    targets.push((*who, push));
                }
            }
        }
        let mut delivered = 0;
        for (who, push) in targets {
            let Some(conn) = clients.get_mut(who.conn, who.client) else {
                continue;
            };
            // Today's limits (CONFIG SET may have changed them) decide.
            self.arm_output_limits(conn);
            conn.replies.push(&push, conn.session.protocol);
            self.charge_output(conn);
            delivered += 1;
        }
        delivered
    }

    /// Answers a `PUBSUB` question for `tenant` from this core's clients.
    pub(super) fn pubsub_query(&self, tenant: TenantId, query: &Query) -> Reply {
        let subs = &self.subscriptions;
        let channels = |kind: Kind| match kind {
            Kind::Channel => subs.channels.get(&tenant),
            Kind::Shard => subs.shard.get(&tenant),
        };
        match query {
            Query::Channels { kind, pattern } => Reply::Array(
                channels(*kind)
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .filter(|c| {
                        pattern
                            .as_ref()
                            .is_none_or(|p| kiln_store::glob::glob_match(p, c, false))
                    })
                    .map(|c| Reply::Bulk(c.clone()))
                    .collect(),
            ),
            Query::NumSub {
                kind,
                channels: asked,
            } => Reply::Array(
                asked
                    .iter()
                    .flat_map(|c| {
                        let n = channels(*kind)
                            .and_then(|m| m.get(&c[..]))
                            .map_or(0, Vec::len);
                        [Reply::Bulk(c.clone()), Reply::Integer(n as i64)]
                    })
                    .collect(),
            ),
            Query::Patterns => Reply::Array(
                subs.patterns
                    .get(&tenant)
                    .into_iter()
                    .flatten()
                    .map(|(p, _)| Reply::Bulk(p.clone()))
                    .collect(),
            ),
        }
    }
}

/// The count an (un)subscribe reply of `kind` carries.
fn count_of(subscribed: &crate::session::Subscribed, kind: Kind) -> usize {
    match kind {
        Kind::Channel => subscribed.count(),
        Kind::Shard => subscribed.shard.len(),
    }
}
