//! Cluster commands: `CLUSTER SLOTS`, `SHARDS`, `NODES`, `INFO`, `KEYSLOT`,
//! `MYID`, `HELP`, and the connection-mode commands cluster clients send:
//! `READONLY`, `READWRITE`, `ASKING`.
//!
//! Each core is one master node owning a contiguous slot range
//! ([`crate::shared::SlotMap`]). The topology is fixed at start and there
//! are no replicas, no cluster bus (bus port 0) and no failover, so every
//! node is always `connected` and every slot `ok`.

use kiln_net::{Args, Reply};

use super::client::text_reply;
use super::{CommandSpec, Ctx, Flags, KeySpec, Route};
use crate::shared::Node;
use crate::{client_session, command};

const FLAGS: Flags = Flags::LOADING.with(Flags::STALE);
const SLOW: &[&str] = &["@slow"];
const CONNECTION: &[&str] = &["@fast", "@connection"];

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("cluster", -2, Flags::NONE, SLOW, KeySpec::NONE, Route::Local, cluster,
        "cluster", "3.0.0", "A container for Redis Cluster commands.", subcommands: SUBCOMMANDS),
    command!("readonly", 1, FLAGS.with(Flags::FAST), CONNECTION, KeySpec::NONE, Route::Local, ok,
        "cluster", "3.0.0", "Enables read-only queries for a connection to a Redis Cluster replica node."),
    command!("readwrite", 1, FLAGS.with(Flags::FAST), CONNECTION, KeySpec::NONE, Route::Local, ok,
        "cluster", "3.0.0", "Enables read-write queries for a connection to a Redis Cluster replica node."),
    command!("asking", 1, Flags::FAST, CONNECTION, KeySpec::NONE, Route::Local, ok,
        "cluster", "3.0.0", "Signals that a cluster client is following an -ASK redirect."),
];

// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    command!("cluster|slots", 2, FLAGS, SLOW, KeySpec::NONE, Route::Local, slots,
        "cluster", "3.0.0", "Returns the mapping of cluster slots to nodes."),
    command!("cluster|shards", 2, FLAGS, SLOW, KeySpec::NONE, Route::Local, shards,
        "cluster", "7.0.0", "Returns the mapping of cluster slots to shards."),
    command!("cluster|nodes", 2, FLAGS, SLOW, KeySpec::NONE, Route::Local, nodes,
        "cluster", "3.0.0", "Returns the cluster configuration for a node."),
    command!("cluster|info", 2, FLAGS, SLOW, KeySpec::NONE, Route::Local, info,
        "cluster", "3.0.0", "Returns information about the state of a node."),
    command!("cluster|keyslot", 3, FLAGS, SLOW, KeySpec::NONE, Route::Local, keyslot,
        "cluster", "3.0.0", "Returns the hash slot for a key."),
    command!("cluster|myid", 2, FLAGS, SLOW, KeySpec::NONE, Route::Local, myid,
        "cluster", "3.0.0", "Returns the ID of a node."),
    command!("cluster|help", 2, FLAGS, SLOW, KeySpec::NONE, Route::Local, cluster,
        "cluster", "5.0.0", "Returns helpful text about the different subcommands."),
];

const HELP: &[&str] = &[
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port@bus-port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
];

/// `CLUSTER HELP`, or the unknown-subcommand error.
fn cluster(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    super::help_or_unknown(args, "CLUSTER", HELP)
}

/// `READONLY`, `READWRITE`, `ASKING`: there are no replicas and slots never
/// migrate, so these change nothing.
fn ok(_: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::OK
}

/// The IP announced to this client.
fn ip(ctx: &mut Ctx<'_>) -> String {
    let main = ctx.shared.main_addr;
    let local = ctx.session().map_or(main, |s| s.local);
    ctx.shared.slots.ip_for(local).to_string()
}

/// `CLUSTER SLOTS`: `[start, end, [ip, port, id, {}]]` per node.
fn slots(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    let ip = ip(ctx);
    let entries = ctx
        .shared
        .slots
        .nodes
        .iter()
        .map(|node| {
            Reply::Array(vec![
                Reply::Integer(node.first_slot.into()),
                Reply::Integer(node.last_slot.into()),
                Reply::Array(vec![
                    Reply::bulk_from(&ip),
                    Reply::Integer(node.port.into()),
                    Reply::bulk_from(&node.id),
                    Reply::Map(Vec::new()),
                ]),
            ])
        })
        .collect();
    Reply::Array(entries)
}

fn map(fields: Vec<(&str, Reply)>) -> Reply {
    Reply::Map(
        fields
            .into_iter()
            .map(|(k, v)| (Reply::bulk_from(k), v))
            .collect(),
    )
}

/// `CLUSTER SHARDS`: one shard per node, each with its slot range and
/// its single (master) node.
fn shards(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    let ip = ip(ctx);
    let entries = ctx
        .shared
        .slots
        .nodes
        .iter()
        .map(|node| {
            let member = map(vec![
                ("id", Reply::bulk_from(&node.id)),
                ("port", Reply::Integer(node.port.into())),
                ("ip", Reply::bulk_from(&ip)),
                ("endpoint", Reply::bulk_from(&ip)),
                ("role", Reply::bulk_from("master")),
                ("replication-offset", Reply::Integer(0)),
                ("health", Reply::bulk_from("online")),
            ]);
            map(vec![
                (
                    "slots",
                    Reply::Array(vec![
                        Reply::Integer(node.first_slot.into()),
                        Reply::Integer(node.last_slot.into()),
                    ]),
                ),
                ("nodes", Reply::Array(vec![member])),
            ])
        })
        .collect();
    Reply::Array(entries)
}

/// The `CLUSTER NODES` text: one line per node, `myself` on `me`'s.
fn nodes_text(nodes: &[Node], ip: &str, me: usize) -> String {
    let mut text = String::new();
    for (core, node) in nodes.iter().enumerate() {
        let flags = if core == me {
            "myself,master"
        } else {
            "master"
        };
        let range = if node.first_slot == node.last_slot {
            node.first_slot.to_string()
        } else {
            format!("{}-{}", node.first_slot, node.last_slot)
        };
        text.push_str(&format!(
            "{} {ip}:{}@0 {flags} - 0 0 {} connected {range}\n",
            node.id,
            node.port,
            core + 1
        ));
    }
    text
}

/// `CLUSTER NODES`, as seen by the core serving the request.
fn nodes(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    let ip = ip(ctx);
    let text = nodes_text(&ctx.shared.slots.nodes, &ip, ctx.core);
    Reply::Bulk(text.into())
}

/// The `CLUSTER INFO` text for `nodes` nodes, seen from core `me`.
fn info_text(nodes: usize, me: usize) -> String {
    format!(
        "cluster_state:ok\r\n\
         cluster_slots_assigned:16384\r\n\
         cluster_slots_ok:16384\r\n\
         cluster_slots_pfail:0\r\n\
         cluster_slots_fail:0\r\n\
         cluster_known_nodes:{nodes}\r\n\
         cluster_size:{nodes}\r\n\
         cluster_current_epoch:{nodes}\r\n\
         cluster_my_epoch:{}\r\n\
         cluster_stats_messages_sent:0\r\n\
         cluster_stats_messages_received:0\r\n\
         total_cluster_links_buffer_limit_exceeded:0\r\n",
        me + 1
    )
}

/// `CLUSTER INFO`
fn info(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    let text = info_text(ctx.shared.slots.nodes.len(), ctx.core);
    let protocol = client_session!(ctx).protocol;
    text_reply(protocol, text.into())
}

/// `CLUSTER KEYSLOT key`
fn keyslot(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    Reply::Integer(kiln_net::slot::key_slot(args.get(2)).into())
}

/// `CLUSTER MYID`: the node id of the core serving the request.
fn myid(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::bulk_from(&ctx.shared.slots.nodes[ctx.core].id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testbed::TestBed;

    #[test]
    fn nodes_lines() {
        let nodes = vec![
            Node {
                id: "a".repeat(40),
                port: 7380,
                first_slot: 0,
                last_slot: 8191,
            },
            Node {
                id: "b".repeat(40),
                port: 7381,
                first_slot: 8192,
                last_slot: 16383,
            },
        ];
        let text = nodes_text(&nodes, "10.0.0.1", 1);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!(
                "{} 10.0.0.1:7380@0 master - 0 0 1 connected 0-8191",
                "a".repeat(40)
            )
        );
        assert_eq!(
            lines[1],
            format!(
                "{} 10.0.0.1:7381@0 myself,master - 0 0 2 connected 8192-16383",
                "b".repeat(40)
            )
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn info_fields() {
        let text = info_text(4, 2);
        assert!(text.starts_with("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n"));
        assert!(text.contains("\r\ncluster_known_nodes:4\r\ncluster_size:4\r\ncluster_current_epoch:4\r\ncluster_my_epoch:3\r\n"));
        assert!(text.ends_with("total_cluster_links_buffer_limit_exceeded:0\r\n"));
        assert_eq!(text.lines().count(), 12);
    }

    #[test]
    fn slots_shape() {
        let mut bed = TestBed::new();
        let Reply::Array(entries) = bed.run(&["CLUSTER", "SLOTS"]) else {
            panic!()
        };
        assert_eq!(entries.len(), 2);
        let node = &bed.shared.slots.nodes[1];
        assert_eq!(
            entries[1],
            Reply::Array(vec![
                Reply::Integer(node.first_slot.into()),
                Reply::Integer(16383),
                Reply::Array(vec![
                    TestBed::bulk("127.0.0.1"),
                    Reply::Integer(node.port.into()),
                    TestBed::bulk(&node.id),
                    Reply::Map(Vec::new()),
                ]),
            ])
        );
    }

    #[test]
    fn shards_shape() {
        let mut bed = TestBed::new();
        let Reply::Array(shards) = bed.run(&["CLUSTER", "SHARDS"]) else {
            panic!()
        };
        assert_eq!(shards.len(), 2);
        let Reply::Map(fields) = &shards[0] else {
            panic!()
        };
        assert_eq!(fields[0].0, TestBed::bulk("slots"));
        assert_eq!(
            fields[0].1,
            Reply::Array(vec![Reply::Integer(0), Reply::Integer(8191)])
        );
        let Reply::Array(members) = &fields[1].1 else {
            panic!()
        };
        let Reply::Map(node) = &members[0] else {
            panic!()
        };
        let names: Vec<_> = node.iter().map(|(k, _)| k.clone()).collect();
        let expected: Vec<_> = [
            "id",
            "port",
            "ip",
            "endpoint",
            "role",
            "replication-offset",
            "health",
        ]
        .iter()
        .map(|n| TestBed::bulk(n))
        .collect();
        assert_eq!(names, expected);
    }

    #[test]
    fn small_commands() {
        let mut bed = TestBed::new();
        assert_eq!(
            bed.run(&["CLUSTER", "KEYSLOT", "foo"]),
            Reply::Integer(12182)
        );
        assert_eq!(
            bed.run(&["CLUSTER", "KEYSLOT", "{user1000}.following"]),
            Reply::Integer(3443)
        );
        let id = bed.shared.slots.nodes[0].id.clone();
        assert_eq!(bed.run(&["CLUSTER", "MYID"]), TestBed::bulk(&id));
        let Reply::Bulk(nodes) = bed.run(&["CLUSTER", "NODES"]) else {
            panic!()
        };
        assert!(nodes.starts_with(format!("{id} 127.0.0.1:").as_bytes()));
        assert!(matches!(bed.run(&["CLUSTER", "INFO"]), Reply::Bulk(_)));
        assert_eq!(bed.run(&["READONLY"]), Reply::OK);
        assert_eq!(bed.run(&["READWRITE"]), Reply::OK);
        assert_eq!(bed.run(&["ASKING"]), Reply::OK);
        assert!(matches!(bed.run(&["CLUSTER", "HELP"]), Reply::Array(_)));
        assert_eq!(
            bed.run(&["CLUSTER", "FOO"]),
            Reply::error("ERR unknown subcommand 'FOO'. Try CLUSTER HELP.")
        );
    }
}
