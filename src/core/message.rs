//! Messages between cores.

use kiln_net::Reply;

use super::fanout::{Job, Output};
use crate::tenant::TenantId;

/// Where an output must go: a part of a request in a connection's reply
/// queue on some core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Core holding the connection.
    pub core: usize,
    /// The connection's slab key on that core.
    pub conn: usize,
    /// The client id, so a reply for a closed connection whose slot was
    /// reused is dropped rather than misdelivered.
    pub client_id: u64,
    /// The request's sequence number on that connection.
    pub seq: u64,
    /// Which part of the request's plan.
    pub part: usize,
    /// Who the request runs as: every job of its plan acts on this
    /// tenant's keyspace on the core that runs it.
    pub tenant: TenantId,
}

/// What one core sends another in one mailbox push: every message for that
/// core from one turn of the sender's event loop, so a burst of forwarded
/// requests costs one queue operation and at most one wake-up.
pub type Batch = Vec<Msg>;

/// A cross-core message.
#[derive(Debug)]
pub enum Msg {
    /// Run `job` here and send the output to `origin`.
    Run {
        /// The work.
        job: Job,
        /// Where the output goes.
        origin: Origin,
    },
    /// A job's output, arriving back at the origin.
    Done {
        /// The request part it answers.
        origin: Origin,
        /// The output.
        output: Output,
    },
}

impl Msg {
    /// A reply-only output message.
    pub fn reply(origin: Origin, reply: Reply) -> Msg {
        Msg::Done {
            origin,
            output: Output::Reply(reply),
        }
    }
}
