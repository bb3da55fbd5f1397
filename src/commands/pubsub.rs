//! Pub/Sub: `SUBSCRIBE`, `PSUBSCRIBE`, `SSUBSCRIBE` and their `UN` forms,
//! `PUBLISH`, `SPUBLISH` and `PUBSUB` — the table entries, the plans that
//! reach every core's subscribers, and how their answers combine.
//!
//! Channels belong to a tenant: the engine keys every subscription by the
//! subscriber's tenant, so one tenant's `PUBLISH` never reaches another's
//! subscribers and `PUBSUB` lists only the caller's channels. A subscriber
//! is registered on the core serving its connection (`engine::pubsub`); a
//! publish is one [`Job::Publish`] per core that has subscribers, each
//! answering how many of its clients got the message.

use bytes::Bytes;
use kiln_net::transport::PortKind;
use kiln_net::{Args, Reply};

use super::plan::{CombineFn, Finish, Finishing, Job, Output, Plan, Planning};
use super::{CommandSpec, Ctx, Flags, KeySpec, Route, errors, help_or_unknown};
use crate::command;

const SUBSCRIBER: Flags = Flags::NOSCRIPT
    .with(Flags::LOADING)
    .with(Flags::STALE)
    .with(Flags::PUBSUB);
const SLOW: &[&str] = &["@pubsub", "@slow"];
const FAST: &[&str] = &["@pubsub", "@fast"];
const QUIET: Flags = Flags::LOADING.with(Flags::STALE);

#[rustfmt::skip]
const PUBSUB_SUBCOMMANDS: &[CommandSpec] = &[
    command!("pubsub|channels", -2, QUIET, SLOW, KeySpec::NONE, Route::Planned(query_plan), engine_only,
        "pubsub", "2.8.0", "Returns the active channels."),
    command!("pubsub|numsub", -2, QUIET, SLOW, KeySpec::NONE, Route::Planned(query_plan), engine_only,
        "pubsub", "2.8.0", "Returns a count of subscribers to channels."),
    command!("pubsub|numpat", 2, QUIET, SLOW, KeySpec::NONE, Route::Planned(query_plan), engine_only,
        "pubsub", "2.8.0", "Returns a count of unique pattern subscriptions."),
    command!("pubsub|shardchannels", -2, QUIET, SLOW, KeySpec::NONE, Route::Planned(query_plan), engine_only,
        "pubsub", "7.0.0", "Returns the active shard channels."),
    command!("pubsub|shardnumsub", -2, QUIET, SLOW, KeySpec::NONE, Route::Planned(query_plan), engine_only,
        "pubsub", "7.0.0", "Returns the count of subscribers of shard channels."),
    command!("pubsub|help", 2, QUIET, SLOW, KeySpec::NONE, Route::Local, pubsub_help,
        "pubsub", "6.2.0", "Returns helpful text about the different subcommands."),
];

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("subscribe", -2, SUBSCRIBER, SLOW, KeySpec::NONE, Route::Local, engine_only,
        "pubsub", "2.0.0", "Listens for messages published to channels."),
    command!("unsubscribe", -1, SUBSCRIBER, SLOW, KeySpec::NONE, Route::Local, engine_only,
        "pubsub", "2.0.0", "Stops listening to messages posted to channels."),
    command!("psubscribe", -2, SUBSCRIBER, SLOW, KeySpec::NONE, Route::Local, engine_only,
        "pubsub", "2.0.0", "Listens for messages published to channels that match one or more patterns."),
    command!("punsubscribe", -1, SUBSCRIBER, SLOW, KeySpec::NONE, Route::Local, engine_only,
        "pubsub", "2.0.0", "Stops listening to messages published to channels that match one or more patterns."),
    command!("ssubscribe", -2, SUBSCRIBER, SLOW, KeySpec::NONE, Route::Local, engine_only,
        "pubsub", "7.0.0", "Listens for messages published to shard channels."),
    command!("sunsubscribe", -1, SUBSCRIBER, SLOW, KeySpec::NONE, Route::Local, engine_only,
        "pubsub", "7.0.0", "Stops listening to messages posted to shard channels."),
    command!("publish", 3, QUIET.with(Flags::FAST).with(Flags::MAY_REPLICATE), FAST, KeySpec::NONE, Route::Planned(publish_plan), engine_only,
        "pubsub", "2.0.0", "Posts a message to a channel."),
    command!("spublish", 3, QUIET.with(Flags::FAST).with(Flags::MAY_REPLICATE), FAST, KeySpec::NONE, Route::Planned(spublish_plan), engine_only,
        "pubsub", "7.0.0", "Post a message to a shard channel"),
    command!("pubsub", -2, Flags::NONE, SLOW, KeySpec::NONE, Route::Local, pubsub_unknown,
        "pubsub", "2.8.0", "A container for Pub/Sub commands.", subcommands: PUBSUB_SUBCOMMANDS),
];

/// Which channels a subscription or a message is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `SUBSCRIBE` / `PUBLISH` channels (and `PSUBSCRIBE` patterns).
    Channel,
    /// `SSUBSCRIBE` / `SPUBLISH` shard channels.
    Shard,
}

/// A message for a core's subscribers of `channel`.
#[derive(Debug)]
pub struct Publish {
    /// Plain or shard channel.
    pub kind: Kind,
    /// The channel.
    pub channel: Bytes,
    /// The message.
    pub message: Bytes,
}

/// What `PUBSUB` asks each core.
#[derive(Debug, Clone)]
pub enum Query {
    /// The channels with subscribers here, matching `pattern` if given.
    Channels {
        /// Plain or shard channels.
        kind: Kind,
        /// A glob.
        pattern: Option<Bytes>,
    },
    /// The subscriber count of each of `channels` here.
    NumSub {
        /// Plain or shard channels.
        kind: Kind,
        /// The channels.
        channels: Vec<Bytes>,
    },
    /// The patterns subscribed to here.
    Patterns,
}

/// The five subscription commands and the query commands run in the
/// engine; this is their table entry's function, reached only where no
/// engine runs them (a test bed).
fn engine_only(_: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::error("ERR pub/sub commands run only on a client connection")
}

fn pubsub_unknown(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    help_or_unknown(args, "PUBSUB", HELP)
}

fn pubsub_help(_: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    super::command::help("PUBSUB", HELP)
}

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
];

/// The cores a message or a question goes to: every core that has
/// subscribers now (a core gains its first one only through a client's
/// `SUBSCRIBE`, which it counts before answering it).
fn subscribed_cores(p: &Planning<'_>) -> Vec<usize> {
    (0..p.shared.cores())
        .filter(|&core| p.shared.has_subscribers(core))
        .collect()
}

/// `PUBLISH channel message`: one job per core with subscribers, whatever
/// port it came through (Redis Cluster broadcasts a publish too); the
/// reply counts every client that got it.
fn publish_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    publish_to(p, Kind::Channel, args)
}

/// `SPUBLISH shardchannel message`: as a key, the channel's slot belongs
/// to one core; a core port refuses another core's channel (`MOVED`).
fn spublish_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    if let Some(moved) = shard_channel_elsewhere(p, args.get(1)) {
        return Err(moved);
    }
    publish_to(p, Kind::Shard, args)
}

/// On a core port, the `MOVED` of a shard channel another core owns.
pub fn shard_channel_elsewhere(p: &Planning<'_>, channel: &[u8]) -> Option<Reply> {
    if p.port_kind != PortKind::Core {
        return None;
    }
    let slot = kiln_net::slot::key_slot(channel);
    let owner = p.shared.slots.owner(slot);
    (owner != p.core).then(|| super::route::moved(p.shared, slot, owner, p.local))
}

fn publish_to(p: &Planning<'_>, kind: Kind, args: Args<'_>) -> Result<Plan, Reply> {
    let cores = subscribed_cores(p);
    if cores.is_empty() {
        return Err(Reply::Integer(0));
    }
    let (channel, message) = (
        Bytes::copy_from_slice(args.get(1)),
        Bytes::copy_from_slice(args.get(2)),
    );
    let parts = cores.into_iter().map(|core| {
        let publish = Publish {
            kind,
            channel: channel.clone(),
            message: message.clone(),
        };
        (core, Job::Publish(publish))
    });
    Ok(Plan::new(parts, Finish::Combine(super::plan::sum_integers)))
}

/// `PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB`: each core
/// with subscribers answers for them; the answers are merged.
fn query_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    let name = p.spec.name;
    let kind = if name.starts_with("pubsub|shard") {
        Kind::Shard
    } else {
        Kind::Channel
    };
    let rest = || (2..args.len()).map(|i| Bytes::copy_from_slice(args.get(i)));
    let (query, combine): (Query, CombineFn) = match name {
        "pubsub|channels" | "pubsub|shardchannels" if args.len() > 3 => {
            return Err(Reply::error_owned(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                String::from_utf8_lossy(args.get(1))
            )));
        }
        "pubsub|channels" | "pubsub|shardchannels" => (
            Query::Channels {
                kind,
                pattern: rest().next(),
            },
            merge_channels,
        ),
        "pubsub|numsub" | "pubsub|shardnumsub" => (
            Query::NumSub {
                kind,
                channels: rest().collect(),
            },
            sum_counts,
        ),
        _ => (Query::Patterns, count_unique),
    };
    let cores = subscribed_cores(p);
    if cores.is_empty() {
        // Nobody subscribes anywhere: the answer needs no core.
        return Err(match query {
            Query::NumSub { channels, .. } => Reply::Array(
                channels
                    .into_iter()
                    .flat_map(|c| [Reply::Bulk(c), Reply::Integer(0)])
                    .collect(),
            ),
            Query::Patterns => Reply::Integer(0),
            Query::Channels { .. } => Reply::Array(Vec::new()),
        });
    }
    let parts = cores
        .into_iter()
        .map(|core| (core, Job::Pubsub(query.clone())));
    Ok(Plan::new(parts, Finish::Combine(combine)))
}

/// Combine: the union of the cores' channel lists.
fn merge_channels(_: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    match union(outputs) {
        Ok(all) => Reply::Array(all.into_iter().map(Reply::Bulk).collect()),
        Err(reply) => reply,
    }
}

/// Combine: how many distinct patterns the cores list (`NUMPAT`).
fn count_unique(_: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    match union(outputs) {
        Ok(all) => Reply::Integer(all.len() as i64),
        Err(reply) => reply,
    }
}

fn union(outputs: Vec<Output>) -> Result<Vec<Bytes>, Reply> {
    let mut all: Vec<Bytes> = Vec::new();
    for output in outputs {
        match output.into_reply() {
            Reply::Array(items) => all.extend(items.into_iter().filter_map(|i| match i {
                Reply::Bulk(b) => Some(b),
                _ => None,
            })),
            err @ Reply::Error(_) => return Err(err),
            _ => return Err(Reply::error("ERR internal: expected a channel list")),
        }
    }
    all.sort_unstable();
    all.dedup();
    Ok(all)
}

/// Combine: channel, count pairs summed over the cores (`NUMSUB`).
fn sum_counts(_: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    let mut sums: Vec<Reply> = Vec::new();
    for output in outputs {
        match output.into_reply() {
            Reply::Array(items) if sums.is_empty() => sums = items,
            Reply::Array(items) => {
                for (sum, item) in sums.iter_mut().zip(items) {
                    if let (Reply::Integer(total), Reply::Integer(n)) = (sum, item) {
                        *total += n;
                    }
                }
            }
            err @ Reply::Error(_) => return err,
            _ => return errors::NOT_HERE,
        }
    }
    Reply::Array(sums)
}
