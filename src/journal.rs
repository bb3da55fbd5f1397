//! What a core's writes leave in its append-only log ([`kiln_persist::aof`]),
//! and the rules that make replaying the log rebuild the same keyspaces.
//!
//! A write is logged after it ran, in the order it ran on its core, as the
//! command itself with three kinds of exceptions, so replay never depends on
//! the clock or on chance:
//! - a command that resolves a deadline against "now" (`EXPIRE`, `SET ..
//!   EX`, `GETEX`...) is followed by `PEXPIREAT key <absolute ms>` (replay
//!   runs with the clock stopped at zero, as Redis does not expire keys while
//!   loading, then fixes the deadline);
//! - `SPOP` is logged as the `SREM` of what it popped;
//! - storage functions are logged as their effects: each command
//!   `kiln.call` ran and each `kiln.put`/`del`/`incr`, never the `FCALL`;
//!   a record another core moved here (cross-core `RENAME`, `COPY`, STORE
//!   forms) is logged as the commands that rebuild it.

use std::collections::HashMap;

use kiln_net::{Args, Reply};
use kiln_persist::aof::{Log, LogStatus, emit_record};
use kiln_store::{Record, Shard};

use crate::commands::{CommandSpec, Flags, Route};
use crate::shared::Shared;
use crate::tenant::TenantId;

/// Commands whose deadline depends on when they ran.
const RELATIVE_DEADLINE: &[&str] = &[
    "expire", "pexpire", "set", "setex", "psetex", "getex", "restore",
];

/// A core's log, or nothing when `appendonly` is off.
#[derive(Default)]
pub struct Journal {
    log: Option<Log>,
    /// The tenant the log's last record named.
    tenant: Option<TenantId>,
    /// The names of the tenants this log has records of, so a deleted
    /// tenant's keyspace can be logged as emptied once it has no name.
    names: HashMap<TenantId, String>,
}

impl Journal {
    /// Logging into `log`.
    pub fn new(log: Log) -> Journal {
        Journal {
            log: Some(log),
            tenant: None,
            names: HashMap::new(),
        }
    }

    /// The log, when there is one.
    pub fn log(&self) -> Option<&Log> {
        self.log.as_ref()
    }

    /// The log, to commit or reconfigure.
    pub fn log_mut(&mut self) -> Option<&mut Log> {
        self.log.as_mut()
    }

    /// The `-MISCONF` refusal writes get while the log cannot be written.
    pub fn refusal(&self) -> Option<Reply> {
        let error = self.log.as_ref()?.error()?;
        Some(Reply::error_owned(format!(
            "MISCONF Errors writing to the AOF file: {error}"
        )))
    }

    /// The log's state, for `INFO persistence`.
    pub fn status(&self) -> Option<LogStatus> {
        self.log.as_ref().map(Log::status)
    }

    /// Makes the log's next records act as `tenant`; the log, if any.
    fn as_tenant(&mut self, shared: &Shared, tenant: TenantId) -> Option<&mut Log> {
        let log = self.log.as_mut()?;
        if self.tenant != Some(tenant) {
            let name = self
                .names
                .entry(tenant)
                .or_insert_with(|| shared.tenants.name(tenant));
            log.select(name);
            self.tenant = Some(tenant);
        }
        Some(log)
    }

    /// Logs that the keyspace of the deleted tenant in slot `index` is
    /// gone, so a replay does not hand its keys to a later tenant of the
    /// same name.
    pub fn dropped(&mut self, index: usize) {
        let Some(log) = self.log.as_mut() else {
            return;
        };
        let gone: Vec<TenantId> = self
            .names
            .keys()
            .copied()
            .filter(|t| t.index() == index)
            .collect();
        for tenant in gone {
            if let Some(name) = self.names.remove(&tenant) {
                log.select(&name);
                log.append(&[b"FLUSHDB"]);
            }
        }
        // The next record names its tenant again.
        self.tenant = None;
    }

    /// Logs a write `spec` ran with `args` and answered `reply` (not an
    /// error) for `tenant`, on `shard`.
    pub fn command(
        &mut self,
        shared: &Shared,
        shard: &Shard,
        tenant: TenantId,
        (spec, args): (&CommandSpec, Args<'_>),
        reply: &Reply,
    ) {
        if !logged(spec) {
            return;
        }
        let Some(log) = self.as_tenant(shared, tenant) else {
            return;
        };
        if spec.name == "spop" {
            return log_popped(log, args.get(1), reply);
        }
        log.append_iter(args.len(), args.iter());
        if RELATIVE_DEADLINE.contains(&spec.name)
            && let Some(at) = shard.deadline(args.get(1))
        {
            log.append(&[
                b"PEXPIREAT",
                args.get(1),
                itoa::Buffer::new().format(at).as_bytes(),
            ]);
        }
    }

    /// Logs one command a storage function's host call amounts to.
    pub fn effect(&mut self, shared: &Shared, tenant: TenantId, args: &[&[u8]]) {
        if let Some(log) = self.as_tenant(shared, tenant) {
            log.append(args);
        }
    }

    /// Logs that `key` now holds `record` (written over whatever it held).
    pub fn record(&mut self, shared: &Shared, tenant: TenantId, key: &[u8], record: &Record) {
        if let Some(log) = self.as_tenant(shared, tenant) {
            log.append(&[b"DEL", key]);
            emit_record(key, record, |args| log.append(args));
        }
    }
}

/// Whether a write command belongs in the log: data commands, not the
/// connection, function and tenant commands (functions and tenants are kept
/// in their own registry).
fn logged(spec: &CommandSpec) -> bool {
    spec.flags.has(Flags::WRITE) && !matches!(spec.route, Route::Local)
}

/// `SPOP key [count]` as `SREM key <popped>`: replay pops the same members.
fn log_popped(log: &mut Log, key: &[u8], reply: &Reply) {
    let members: Vec<&[u8]> = match reply {
        Reply::Bulk(member) => vec![member],
        Reply::Array(items) | Reply::Set(items) => items
            .iter()
            .filter_map(|r| match r {
                Reply::Bulk(member) => Some(&member[..]),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if members.is_empty() {
        return;
    }
    let args = [&b"SREM"[..], key]
        .into_iter()
        .chain(members.iter().copied());
    log.append_iter(members.len() + 2, args);
}
