//! What a command sees while it runs: its [`Ctx`] (shard, tenant, caller,
//! counters) and where its reply may go ([`Out`], an [`Encoder`]).

use kiln_net::Reply;
use kiln_net::resp::write_bulk;
use kiln_store::{Others, Shard};

use super::blocking::{Timeout, Unblock};
use super::{Caller, Site};
use crate::journal::Journal;
use crate::session::{ClientView, Session};
use crate::shared::Shared;
use crate::stats::CoreStats;
use crate::tenant::TenantId;

/// What a command may touch while it runs on a core. Built in one place,
/// [`execute`], for every caller.
pub struct Ctx<'a> {
    /// This core's shard of the calling tenant's keyspace.
    pub shard: &'a mut Shard,
    /// Who the command runs as.
    pub tenant: TenantId,
    /// The other tenants' keyspaces on this core, present only when the
    /// caller holds the operator power (whose `FLUSHALL` empties them all).
    pub others: Option<Others<'a>>,
    /// State shared by all cores (configuration, slot map).
    pub shared: &'a Shared,
    /// Index of the core running the command.
    pub core: usize,
    /// Who asked: a client of this core (with its session), a job planned
    /// on some core, or a storage function.
    pub caller: Caller<'a>,
    /// This core's counters (INFO; CONFIG RESETSTAT clears them).
    pub stats: &'a mut CoreStats,
    /// This core's function runtime; `None` for commands a storage
    /// function runs through `kiln.call` (which cannot nest functions).
    pub functions: Option<&'a mut kiln_functions::FunctionRuntime>,
    /// Where a command may encode its reply directly ([`Out::bulk`]).
    pub out: Out<'a>,
    /// The clients blocked on this core (`CLIENT UNBLOCK`), if reachable.
    pub waiters: Option<&'a mut dyn Unblock>,
    /// This core's log, when the command's writes are logged.
    pub journal: Option<&'a mut Journal>,
    /// Set by [`Ctx::block`]: the command waits, this long.
    pub(crate) blocks: Option<Timeout>,
    /// Set by a blocking command that must wait with other arguments than
    /// it ran with (XREAD's `$`, resolved to the ID it stood for).
    pub(crate) block_args: Option<Vec<bytes::Bytes>>,
    /// A blocked request run again because one of its keys changed: a
    /// command may answer for a key that went away (XREADGROUP) instead
    /// of waiting again.
    pub woken: bool,
}

impl<'a> Ctx<'a> {
    /// The context of one command as `tenant` at `site`, for `caller`.
    pub fn new(site: Site<'a>, tenant: TenantId, caller: Caller<'a>, out: Out<'a>) -> Ctx<'a> {
        let Site {
            core,
            shard,
            others,
            shared,
            stats,
            functions,
            waiters,
            journal,
            evicting: _,
            woken,
        } = site;
        Ctx {
            shard,
            tenant,
            others,
            shared,
            core,
            caller,
            stats,
            functions,
            out,
            waiters,
            journal,
            blocks: None,
            block_args: None,
            woken,
        }
    }

    /// A blocking command (BLPOP...) found nothing: a client or a job waits
    /// until one of its keys on this core is created or `timeout` passes,
    /// then runs again. A storage function cannot wait (as a Lua script
    /// cannot in Redis): it gets `empty`, which is otherwise ignored.
    pub fn block(&mut self, timeout: Timeout, empty: Reply) -> Reply {
        if !matches!(self.caller, Caller::Function { .. }) {
            self.blocks = Some(timeout);
        }
        empty
    }

    /// Names an event of the running command on `key` (for keyspace
    /// notifications and triggers; nothing unless the tenant listens).
    pub fn notify(&mut self, class: u16, event: &'static str, key: &[u8]) {
        self.shard.push_event(key, class, event, true);
    }

    /// Whether the caller holds the operator power: it may act beyond its
    /// own tenant (see [`crate::tenant`]). Command rules never grant it.
    pub fn is_operator(&self) -> bool {
        self.shared.tenants.is_operator(self.tenant)
    }

    /// The client's session, when a client of this core is the caller
    /// (always, for a [`Route::Local`] command: no other caller runs one).
    pub fn session(&mut self) -> Option<&mut Session> {
        match &mut self.caller {
            Caller::Client(session) => Some(session),
            Caller::Job(_) | Caller::Forwarded(_) | Caller::Function { .. } => None,
        }
    }

    /// This core's clients, for a command flagged [`Flags::CLIENTS`] run as
    /// a job (empty otherwise).
    pub fn clients(&self) -> &[ClientView<'_>] {
        match &self.caller {
            Caller::Job(clients) | Caller::Forwarded(clients) => clients,
            Caller::Client(_) | Caller::Function { .. } => &[],
        }
    }
}

/// The session of the client calling a connection command, or (never for
/// a [`Route::Local`] command, which only a client of this core can call)
/// an internal error reply from the enclosing command function.
#[macro_export]
macro_rules! client_session {
    ($ctx:expr) => {
        match $ctx.session() {
            Some(session) => session,
            None => return $crate::commands::errors::NO_SESSION,
        }
    };
}

/// Where a reply may be encoded directly.
pub enum Out<'a> {
    /// Nowhere: the reply is returned as a value (a combine needs it, or a
    /// storage function converts it).
    Value,
    /// Into `to`; `written` once a reply went there.
    Encode {
        /// The output.
        to: &'a mut (dyn Encoder + 'static),
        /// Whether the reply was written.
        written: bool,
    },
}

impl Out<'_> {
    /// Replies `value` as a bulk string: encoded straight into the
    /// client's output where there is one (no copy of the value in
    /// between), else as a [`Reply`]. Return what it returns.
    pub fn bulk(&mut self, value: &bytes::Bytes) -> Reply {
        if self.encode_bulk(value) {
            Reply::Nil
        } else {
            Reply::Bulk(kiln_store::copy_out(value))
        }
    }

    /// Encodes a bulk reply of `value` if there is an output; true if so.
    fn encode_bulk(&mut self, value: &[u8]) -> bool {
        match self {
            Out::Value => false,
            Out::Encode { to, .. } if !to.accepts(value.len()) => false,
            Out::Encode { to, written } => {
                // Refused by a client limit or not, the reply was handled:
                // the connection is closing.
                to.encode(value.len(), &mut |buf| write_bulk(buf, value));
                *written = true;
                true
            }
        }
    }

    /// Whether the reply was written here.
    pub fn written(&self) -> bool {
        matches!(self, Out::Encode { written: true, .. })
    }
}

/// Replies up to this many bytes are encoded where a forwarded job runs;
/// bigger ones travel back as a [`Reply`] sharing the stored bytes, so a
/// pipeline of large GETs is never copied before the client's output
/// limits have seen it.
pub const ENCODE_IN_JOB_MAX: usize = 4096;

/// An output a reply can be encoded into.
pub trait Encoder {
    /// Whether a reply of `payload` bytes should be encoded here at all
    /// (else it is returned as a value).
    fn accepts(&self, payload: usize) -> bool {
        let _ = payload;
        true
    }

    /// Encodes a reply of `payload` bytes with `write`, unless a limit
    /// refuses it; false if refused.
    fn encode(&mut self, payload: usize, write: &mut dyn FnMut(&mut Vec<u8>)) -> bool;
}

impl Encoder for Vec<u8> {
    fn accepts(&self, payload: usize) -> bool {
        payload <= ENCODE_IN_JOB_MAX
    }

    fn encode(&mut self, _: usize, write: &mut dyn FnMut(&mut Vec<u8>)) -> bool {
        write(self);
        true
    }
}

impl<P> Encoder for kiln_net::transport::Replies<P> {
    fn encode(&mut self, payload: usize, write: &mut dyn FnMut(&mut Vec<u8>)) -> bool {
        self.push_with(payload, write)
    }
}
