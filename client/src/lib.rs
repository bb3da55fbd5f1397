//! kiln-client: a blocking Rust client for Kiln, and the `kiln-cli` tool.
//!
//! Kiln's cores act as Redis Cluster shards. The main port serves any key
//! (forwarding internally to the owning core), and `CLUSTER SLOTS` advertises
//! one node per core, each at its own port. This client uses both:
//!
//! ```text
//!   Client ──► main connection ──── keyless commands, multi-key commands
//!     │                              spanning slots, CLUSTER SLOTS
//!     │ slot map (16384 entries, from CLUSTER SLOTS)
//!     ├──► core 0 connection ─┐
//!     ├──► core 1 connection ─┼── a command whose keys share one slot goes
//!     └──► core N connection ─┘   straight to the core owning it (no hop)
//! ```
//!
//! # Routing
//!
//! - On connect the client runs `AUTH` / `HELLO 3` if configured, then reads
//!   `CLUSTER SLOTS` into a slot → node table. Per-node connections open lazily,
//!   with the same handshake. A server without cluster support (plain Redis)
//!   gets everything on the main connection.
//! - [`routing`] knows the key positions of the commands Kiln serves. Keys all
//!   in one slot → that slot's node; keys in several slots → the main port,
//!   which splits and gathers (a core port would answer `CROSSSLOT`); no keys →
//!   the main port.
//! - `-MOVED slot host:port` patches the table, reloads it with `CLUSTER
//!   SLOTS` and retries; `-ASK` retries once on the named node after `ASKING`.
//!   At most [`MAX_REDIRECTS`] redirections, then [`Error::TooManyRedirects`].
//! - A broken connection fails the call with [`Error::Io`] and is dropped; the
//!   next call reconnects.
//!
//! # Example
//!
//! ```no_run
//! use kiln_client::{Client, Expiry, SetWithOptions};
//!
//! let mut client = Client::connect("127.0.0.1:7379")?;
//! client.set("greeting", "hello")?;
//! assert_eq!(client.get("greeting")?.as_deref(), Some(&b"hello"[..]));
//! client.set_with("session", "x", &SetWithOptions { expire: Some(Expiry::Ex(60)), ..Default::default() })?;
//!
//! // One write per core, replies in the order the commands were added.
//! let replies = client.pipeline().incr("hits").get("greeting").query()?;
//! assert_eq!(replies.len(), 2);
//!
//! // Hashes, sets, sorted sets and lists, typed; the builders work on both.
//! client.hset("user:1", &[("name", "ann"), ("lang", "en")])?;
//! kiln_client::zadd("board").gt().member(42.0, "ann").run(&mut client)?;
//! let top = kiln_client::zrange("board").rev().index(0, 2).with_scores().run(&mut client)?;
//!
//! // Anything else, raw.
//! let reply = client.cmd(&["OBJECT", "ENCODING", "greeting"])?;
//! # Ok::<(), kiln_client::Error>(())
//! ```
//!
//! # Modules
//!
//! - [`Client`] / [`ClientBuilder`]: connections, routing, redirections.
//! - [`Pipeline`]: batched commands.
//! - the typed command methods on [`Client`] (strings, keys, hashes, sets,
//!   sorted sets, lists); their option and builder types ([`SetWithOptions`],
//!   [`ScanOptions`], [`ZAdd`], [`ZRange`], [`ScoreBound`]...) in `options`.
//! - storage functions: [`Client::function_load`], [`Client::fcall`] (routed
//!   by its keys like any keyed command), [`Client::function_list`] →
//!   [`LibraryInfo`], dump and restore ([`FunctionRestorePolicy`]).
//! - [`slots`]: the parsed `CLUSTER SLOTS` map.
//! - [`routing`]: key positions per command.
//! - [`cli`]: `kiln-cli`, with redis-cli's reply formatting.

#![warn(missing_docs)]

pub mod cli;
mod client;
mod commands;
mod connection;
mod error;
mod functions;
mod options;
mod pipeline;
pub mod routing;
pub mod slots;
mod subscriber;
mod transaction;

pub(crate) use client::ClientConfig;
pub use client::{Client, ClientBuilder, MAX_REDIRECTS};
pub use commands::geo::{GeoAdd, GeoMember, GeoSearch, GeoUnit};
pub use commands::stream::{StreamEntry, StreamRead};
pub use commands::{BitOperation, ScanIter};
pub use error::{Error, Redirect};
pub use functions::{FunctionInfo, FunctionRestorePolicy, LibraryInfo};
pub use kiln_net::Reply;
pub use options::{
    Aggregate, Direction, ExpireIf, Expiry, GetExExpiry, InsertPosition, LexBound, LposOptions,
    Members, MinMax, RangeReply, ScanOptions, ScoreBound, ScoredMembers, SetIf, SetReply,
    SetWithOptions, WithScores, ZAdd, ZCombineOptions, ZRange, zadd, zrange,
};
pub use pipeline::Pipeline;
pub use slots::{ClusterNode, NodeAddr, SlotRange, SlotTable};
pub use subscriber::{Message, RECONNECT_ATTEMPTS, Subscriber};
pub use transaction::{MAX_TRANSACTION_ATTEMPTS, Transaction};
