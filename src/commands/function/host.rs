//! The host API a storage function calls, over this core's shard of the
//! calling tenant's keyspace.

use bytes::Bytes;
use kiln_functions::{Host, HostError};
use kiln_net::{Args, Reply};
use kiln_store::{ENTRY_OVERHEAD, SetOptions, Shard, StoreError, class};

use crate::commands::execute::{NOT_LOCAL, READ_ONLY, admit_growth};
use crate::commands::pubsub::{Kind, Publish};
use crate::commands::{Caller, Command, CommandSpec, Executed, Lookup, Out, Site, execute, lookup};
use crate::journal::Journal;
use crate::shared::Shared;
use crate::stats::CoreStats;
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
    /// The command `kiln.call` ran last.
    pub(super) last_spec: Option<&'static CommandSpec>,
    /// This core's log: the function's writes are logged as their effects.
    pub(super) journal: Option<&'a mut Journal>,
}

/// Most bytes of messages one function call may publish (they wait in
/// the core's outbox until the call's command is done).
pub const PUBLISHED_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Accounted bytes of the longest integer `kiln.incr` can store.
const INTEGER_BYTES: usize = 20;

pub(super) use crate::commands::execute::NOT_ALLOWED;

impl ShardHost<'_> {
    /// `kiln.publish` (or `kiln.call('PUBLISH', ...)`): the message waits
    /// in the outbox and goes to the tenant's subscribers on every core
    /// once the function's command is done, after its writes; the reply
    /// is 0 (receivers on other cores are not known yet).
    fn publish_message(&mut self, spec: &'static CommandSpec, args: Args<'_>) -> Reply {
        if !spec.arity_ok(args.len()) {
            return crate::commands::wrong_arity(spec);
        }
        if !self.shared.tenants.may_run(self.tenant, spec, args) {
            let name = self.shared.tenants.name(self.tenant);
            return crate::commands::no_permission(&name, spec);
        }
        let Some(journal) = self.journal.as_deref_mut() else {
            return NOT_ALLOWED;
        };
        let queued: usize = journal
            .outbox
            .iter()
            .map(|(_, p)| p.channel.len() + p.message.len())
            .sum();
        if queued + args.get(1).len() + args.get(2).len() > PUBLISHED_BYTES_MAX {
            return Reply::error("ERR this call published more than 64 MiB of messages");
        }
        let kind = if spec.name == "spublish" {
            Kind::Shard
        } else {
            Kind::Channel
        };
        let publish = Publish {
            kind,
            channel: Bytes::copy_from_slice(args.get(1)),
            message: Bytes::copy_from_slice(args.get(2)),
        };
        journal.outbox.push((self.tenant, publish));
        Reply::Integer(0)
    }

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
        if let Some(refusal) = self.journal.as_deref().and_then(Journal::refusal) {
            return Err(refusal);
        }
        match growth {
            Some(growth) => admit_growth(self.shared, self.core, self.tenant, growth),
            None => Ok(()),
        }
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

    /// Logs a host call's write as the command it amounts to.
    fn log(&mut self, args: &[&[u8]]) {
        if let Some(journal) = self.journal.as_deref_mut() {
            journal.effect(self.shared, self.tenant, args);
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
        let result = self.shard.set(key, value.clone(), options);
        self.publish();
        result.map_err(store_error)?;
        let deadline = self
            .shard
            .deadline(key)
            .map(|at| itoa::Buffer::new().format(at).to_owned());
        match &deadline {
            Some(at) => self.log(&[b"SET", key, &value, b"PXAT", at.as_bytes()]),
            None => self.log(&[b"SET", key, &value]),
        }
        self.shard.push_event(key, class::STRING, "set", true);
        if ttl_ms.is_some() {
            self.shard.push_event(key, class::GENERIC, "expire", true);
        }
        Ok(())
    }

    fn del(&mut self, key: &[u8]) -> Result<bool, HostError> {
        // Deleting frees memory: allowed over the quota, as DEL is.
        self.writable(key, None)?;
        let deleted = self.shard.del(key);
        self.publish();
        if deleted {
            self.log(&[b"DEL", key]);
            self.shard.push_event(key, class::GENERIC, "del", true);
        }
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
        let value = result.map_err(store_error)?;
        self.log(&[b"INCRBY", key, itoa::Buffer::new().format(delta).as_bytes()]);
        self.shard.push_event(key, class::STRING, "incrby", true);
        Ok(value)
    }

    fn call(&mut self, args: Args<'_>) -> Reply {
        // A function calls the same command over and over: one comparison
        // beats lowercasing and hashing its name again (as the engine does).
        let spec = match self.last_spec {
            Some(spec) if args.get(0).eq_ignore_ascii_case(spec.name.as_bytes()) => spec,
            _ => match lookup(args) {
                Lookup::Found(spec) => {
                    if spec.subcommands.is_empty() && !spec.name.contains('|') {
                        self.last_spec = Some(spec);
                    }
                    spec
                }
                Lookup::Unknown(reply) => return reply,
            },
        };
        if matches!(spec.name, "publish" | "spublish") {
            return self.publish_message(spec, args);
        }
        let site = Site {
            core: self.core,
            shard: &mut *self.shard,
            others: None,
            shared: self.shared,
            stats: &mut *self.stats,
            functions: None,
            waiters: None,
            evicting: false,
            woken: false,
            journal: self.journal.as_deref_mut(),
        };
        let command = Command {
            spec,
            args,
            tenant: self.tenant,
        };
        let caller = Caller::Function {
            read_only: self.read_only,
        };
        let reply = match execute(site, command, caller, Out::Value) {
            Executed::Reply(reply) => reply,
            // A function never waits (`Ctx::block` answers it at once).
            Executed::Written
            | Executed::Forward(_)
            | Executed::Elsewhere(_)
            | Executed::Block(..) => {
                Reply::error("ERR internal: a function's command left its core")
            }
        };
        self.publish();
        reply
    }
}
