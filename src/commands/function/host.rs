//! The host API a storage function calls, over this core's shard of the
//! calling tenant's keyspace.

use std::panic::AssertUnwindSafe;

use bytes::Bytes;
use kiln_functions::{Host, HostError};
use kiln_net::{Args, OwnedArgs, Reply};
use kiln_store::{ENTRY_OVERHEAD, SetOptions, Shard, StoreError};

use crate::commands::{CommandSpec, Ctx, Flags, Lookup, Route, errors, lookup, wrong_arity};
use crate::core::stats::CoreStats;
use crate::shared::Shared;
use crate::tenant::{Growth, TenantId, Usage};

/// The host API over this core's shard for one call.
pub struct ShardHost<'a> {
    pub(super) shard: &'a mut Shard,
    pub(super) shared: &'a Shared,
    pub(super) stats: &'a mut CoreStats,
    pub(super) core: usize,
    pub(super) tenant: TenantId,
    pub(super) read_only: bool,
    /// The shard's memory as last published (see [`ShardHost::publish`]).
    pub(super) published: usize,
}

/// Accounted bytes of the longest integer `kiln.incr` can store.
const INTEGER_BYTES: usize = 20;

/// The error a function gets for a key another core owns.
const NOT_LOCAL: Reply = Reply::error(
    "CROSSSLOT Function accessed a key owned by another core; keep a function's keys together with a hash tag",
);
/// A write from a function called with `FCALL_RO`.
const READ_ONLY: Reply = Reply::error("ERR Write commands are not allowed from read-only scripts.");
/// A command functions may not run (or, for FCALL and FUNCTION, nest).
pub(super) const NOT_ALLOWED: Reply =
    Reply::error("ERR This command is not allowed from storage functions");

impl ShardHost<'_> {
    /// Whether this core owns `key`.
    fn local(&self, key: &[u8]) -> Result<(), Reply> {
        if self.shared.slots.owner_of(key) == self.core {
            Ok(())
        } else {
            Err(NOT_LOCAL)
        }
    }

    /// Whether the call may write. `growth`: what a write that may grow
    /// memory would add (`None` for one that cannot, such as a delete); it
    /// is refused with `-OOM` unless it fits the tenant's quotas and the
    /// server's `maxmemory` ([`Shared::admits`]).
    fn may_write(&self, growth: Option<Growth>) -> Result<(), Reply> {
        if self.read_only {
            return Err(READ_ONLY);
        }
        if let Some(growth) = growth
            && !self.shared.admits(self.tenant, growth)
        {
            let usage = self.shared.tenants.usage(self.core, self.tenant);
            Usage::bump(&usage.rejected);
            return Err(errors::OOM);
        }
        Ok(())
    }

    /// [`ShardHost::local`] and [`ShardHost::may_write`] for a host call
    /// writing `key`; `value_bytes`: the bytes it stores there (`None`: it
    /// frees memory). A write that may grow memory counts the key and
    /// value bytes, and one key (with its entry) if the key is absent.
    fn writable(&mut self, key: &[u8], value_bytes: Option<usize>) -> Result<(), HostError> {
        self.local(key).map_err(host_error)?;
        let growth = value_bytes.map(|bytes| self.key_growth(key, bytes));
        self.may_write(growth).map_err(host_error)
    }

    /// What storing `value_bytes` under `key` may add.
    fn key_growth(&mut self, key: &[u8], value_bytes: usize) -> Growth {
        let growth = Growth::default().bytes(key.len() + value_bytes);
        if self.shard.peek_record(key).is_some() {
            growth
        } else {
            growth.new_key(ENTRY_OVERHEAD)
        }
    }

    /// Makes the call's writes so far visible to the next check, in this
    /// call and on the other cores: this core's figures for the tenant and
    /// its memory gauge. (The engine publishes the exact figures again when
    /// the call returns.)
    fn publish(&mut self) {
        let memory = self.shard.used_memory();
        if memory == self.published {
            return;
        }
        let usage = self.shared.tenants.usage(self.core, self.tenant);
        usage.publish(memory, self.shard.len());
        Usage::shift(
            &self.shared.memory[self.core],
            self.published as u64,
            memory as u64,
        );
        self.published = memory;
    }

    /// Checks a `kiln.call` command against what functions may run. A
    /// `DENYOOM` command may add the bytes of its arguments, and one key
    /// for each of its keys that does not exist yet.
    fn admit(&mut self, spec: &CommandSpec, args: Args<'_>) -> Result<(), Reply> {
        if !spec.arity_ok(args.len()) {
            return Err(wrong_arity(spec));
        }
        let keyed = matches!(spec.route, Route::Keys(_));
        if !keyed || spec.flags.has(Flags::NOSCRIPT) || spec.flags.has(Flags::ADMIN) {
            return Err(NOT_ALLOWED);
        }
        // The tenant's command rules hold inside its functions too (as
        // Redis checks ACLs inside scripts): a read-only user's function
        // cannot write.
        let tenants = &self.shared.tenants;
        if !tenants.may_run(self.tenant, spec, args) {
            return Err(crate::commands::no_permission(
                &tenants.name(self.tenant),
                spec,
            ));
        }
        for key in spec.keys.positions_in(args) {
            self.local(args.get(key))?;
        }
        if !spec.flags.has(Flags::WRITE) {
            return Ok(());
        }
        let growth = spec.flags.has(Flags::DENYOOM).then(|| {
            let bytes = args.iter().skip(1).map(<[u8]>::len).sum();
            spec.keys
                .positions_in(args)
                .filter(|&at| self.shard.peek_record(args.get(at)).is_none())
                .fold(Growth::default().bytes(bytes), |g, _| {
                    g.new_key(ENTRY_OVERHEAD)
                })
        });
        self.may_write(growth)
    }
}

/// A host error carrying an error reply's text.
fn host_error(reply: Reply) -> HostError {
    match reply {
        Reply::Error(text) => HostError::new(text),
        other => HostError::new(format!("ERR unexpected reply {other:?}")),
    }
}

fn store_error(error: StoreError) -> HostError {
    HostError::new(error.to_string())
}

impl Host for ShardHost<'_> {
    fn get(&mut self, key: &[u8]) -> Result<Option<Bytes>, HostError> {
        self.local(key).map_err(host_error)?;
        self.shard.get_shared(key).map_err(store_error)
    }

    fn put(&mut self, key: &[u8], value: Bytes, ttl_ms: Option<u64>) -> Result<(), HostError> {
        self.writable(key, Some(value.len()))?;
        let mut options = SetOptions::default();
        if let Some(ms) = ttl_ms {
            options.expire = kiln_store::SetExpire::At(self.shard.now().saturating_add(ms));
        }
        let result = self.shard.set(key, value, options);
        self.publish();
        result.map(drop).map_err(store_error)
    }

    fn del(&mut self, key: &[u8]) -> Result<bool, HostError> {
        // Deleting frees memory: allowed over the quota, as DEL is.
        self.writable(key, None)?;
        let deleted = self.shard.del(key);
        self.publish();
        Ok(deleted)
    }

    fn exists(&mut self, key: &[u8]) -> Result<bool, HostError> {
        self.local(key).map_err(host_error)?;
        Ok(self.shard.exists(key))
    }

    fn incr(&mut self, key: &[u8], delta: i64) -> Result<i64, HostError> {
        self.writable(key, Some(INTEGER_BYTES))?;
        let result = self.shard.incr_by(key, delta);
        self.publish();
        result.map_err(store_error)
    }

    fn call(&mut self, parts: &[Bytes]) -> Reply {
        let owned = OwnedArgs::new(parts.iter().map(|p| p.as_ref()));
        let args = owned.args();
        let spec = match lookup(args) {
            Lookup::Found(spec) => spec,
            Lookup::Unknown(reply) => return reply,
        };
        if let Err(reply) = self.admit(spec, args) {
            return reply;
        }
        let mut ctx = Ctx {
            shard: &mut *self.shard,
            tenant: self.tenant,
            others: None,
            shared: self.shared,
            core: self.core,
            session: None,
            stats: &mut *self.stats,
            clients: None,
            functions: None,
        };
        // A panic must not unwind into V8's frames: answer an error instead.
        let reply = std::panic::catch_unwind(AssertUnwindSafe(|| (spec.run)(&mut ctx, args)))
            .unwrap_or_else(|_| {
                tracing::error!(
                    command = spec.name,
                    "command panicked inside a storage function"
                );
                Reply::error_owned(format!("ERR internal error in '{}' (logged)", spec.name))
            });
        self.publish();
        reply
    }
}
