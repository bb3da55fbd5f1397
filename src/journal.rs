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
//! - streams are logged as their effects: `XADD` with the ID it made
//!   (and an exact `XTRIM ... MINID` for its trim), `XREADGROUP`,
//!   `XCLAIM` and `XAUTOCLAIM` as `XCLAIM ... FORCE JUSTID` of each entry
//!   they delivered and `XGROUP SETID` of the group (as Redis propagates);
//! - storage functions are logged as their effects: each command
//!   `kiln.call` ran and each `kiln.put`/`del`/`incr`, never the `FCALL`;
//!   a record another core moved here (cross-core `RENAME`, `COPY`, STORE
//!   forms) is logged as the commands that rebuild it.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use kiln_net::{Args, OwnedArgs, Reply};
use kiln_persist::aof::{Log, LogStatus, emit_record};
use kiln_store::{Record, Shard};

use crate::commands::{CommandSpec, Flags, Route};
use crate::shared::Shared;
use crate::tenant::TenantId;
use crate::watches::Watches;

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
    /// While a rewrite walks this core's shards: what was written since it
    /// started, to write again at its end.
    touched: Option<Touched>,
    /// This core's log rewrites.
    pub rewrites: RewriteStats,
    /// The keys clients watch on this core: every write logged here
    /// flags their watchers, with the log on or off.
    pub watches: Watches,
    /// Messages storage functions published (`kiln.publish`), with their
    /// tenant: the engine sends them once the command that ran the
    /// function is done, so subscribers see them after its writes.
    pub outbox: Vec<(TenantId, crate::commands::pubsub::Publish)>,
    /// Key events that fire storage functions' triggers, in order; the
    /// engine runs them once the command that caused them is done.
    pub fired: std::collections::VecDeque<Fired>,
    /// How deep in a chain of triggers the running command is (0: a
    /// client's or a job's command).
    pub trigger_depth: u32,
    /// Writes this core ran (`rdb_changes_since_last_save` sums them).
    pub changes: u64,
    /// Commands admitted this turn, for `MONITOR` (only while someone
    /// monitors): the engine sends them at the end of the turn.
    pub monitored: Vec<crate::monitor::Line>,
    /// `EXEC` is running one of its connection commands: shown to
    /// `MONITOR` already, in its transaction's order; `MONITOR` itself is
    /// refused there (Redis's DENY BLOCKING).
    pub in_exec_session: bool,
}

/// A key event a tenant's trigger may be waiting for.
#[derive(Debug, Clone)]
pub struct Fired {
    /// Whose key.
    pub tenant: TenantId,
    /// The key.
    pub key: Bytes,
    /// The event (`set`, `del`, `expired`...).
    pub event: &'static str,
    /// The depth of the trigger it would run (1 for a client's change).
    pub depth: u32,
}

/// A core's log rewrites, for `INFO persistence`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RewriteStats {
    /// `BGREWRITEAOF` (or the automatic rule) asked for one.
    pub requested: bool,
    /// One is walking the shards.
    pub in_progress: bool,
    /// Rewrites finished.
    pub done: u64,
    /// The last one failed.
    pub last_failed: bool,
    /// Bytes of the base the last rewrite wrote (the log's size right after it).
    pub base_size: u64,
}

/// What the writes during a rewrite changed.
#[derive(Debug, Default)]
pub struct Touched {
    /// The keys written, with their tenant.
    pub keys: HashSet<(TenantId, Bytes)>,
    /// A write without keys (a flush) or a tenant's deletion: the walk
    /// must start over.
    pub restart: bool,
}

impl Journal {
    /// Logging into `log`.
    pub fn new(log: Log) -> Journal {
        Journal {
            log: Some(log),
            tenant: None,
            names: HashMap::new(),
            touched: None,
            rewrites: RewriteStats::default(),
            watches: Watches::default(),
            outbox: Vec::new(),
            fired: Default::default(),
            trigger_depth: 0,
            changes: 0,
            monitored: Vec::new(),
            in_exec_session: false,
        }
    }

    /// Takes what happened to `tenant`'s keys during a command: its
    /// keyspace notifications go to the outbox, its trigger events to
    /// [`Journal::fired`].
    pub fn key_events(
        &mut self,
        shared: &Shared,
        tenant: TenantId,
        events: &[kiln_store::KeyEvent],
    ) {
        if events.is_empty() {
            return;
        }
        let flags = shared.tenants.notify_flags(tenant);
        if crate::notify::publishing(flags)
            && (0..shared.cores()).any(|c| shared.has_subscribers(c))
        {
            let outbox = &mut self.outbox;
            crate::notify::publishes(flags, events, |p| outbox.push((tenant, p)));
        }
        if shared.tenants.has_triggers(tenant) {
            let depth = self.trigger_depth + 1;
            self.fired.extend(events.iter().map(|e| Fired {
                tenant,
                key: e.key.clone(),
                event: e.kind.class_and_name().1,
                depth,
            }));
        }
    }

    /// Asks for a rewrite of this core's log (`BGREWRITEAOF`).
    pub fn request_rewrite(&mut self) -> Result<(), Reply> {
        if self.log.is_none() {
            return Err(Reply::error(
                "ERR the append-only log is off on this server (appendonly no)",
            ));
        }
        if self.rewrites.in_progress || self.rewrites.requested {
            return Err(Reply::error(
                "ERR Background append only file rewriting already in progress",
            ));
        }
        self.rewrites.requested = true;
        Ok(())
    }

    /// Logs into `log` from now on: a rewrite's new incremental file.
    pub fn replace_log(&mut self, log: Log) {
        self.log = Some(log);
        self.tenant = None;
    }

    /// Starts (or stops, with `false`) noting the keys writes touch.
    pub fn track(&mut self, on: bool) {
        self.touched = on.then(Touched::default);
    }

    /// What was touched since [`Journal::track`] or the last take.
    pub fn take_touched(&mut self) -> Touched {
        self.touched
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Notes `key` of `tenant` as written.
    fn touch(&mut self, tenant: TenantId, key: &[u8]) {
        self.watches.touch(tenant, key);
        if let Some(touched) = &mut self.touched {
            touched.keys.insert((tenant, Bytes::copy_from_slice(key)));
        }
    }

    /// Notes the keys `spec` names in `args` as written; a keyless write
    /// restarts the walk.
    fn touch_keys(&mut self, tenant: TenantId, spec: &CommandSpec, args: Args<'_>) {
        let Some(touched) = &mut self.touched else {
            return;
        };
        let mut any = false;
        for at in spec.keys.positions_in(args) {
            touched
                .keys
                .insert((tenant, Bytes::copy_from_slice(args.get(at))));
            any = true;
        }
        touched.restart |= !any;
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
        if let Some(touched) = &mut self.touched {
            touched.restart = true;
        }
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
        if !logged(spec) || reads_only(spec, args) {
            return;
        }
        self.changes += 1;
        if !self.watches.is_empty() {
            for at in spec.keys.positions_in(args) {
                self.watches.touch(tenant, args.get(at));
            }
        }
        if self.log.is_none() {
            return;
        }
        self.touch_keys(tenant, spec, args);
        let Some(log) = self.as_tenant(shared, tenant) else {
            return;
        };
        if spec.name == "spop" {
            return log_popped(log, args.get(1), reply);
        }
        if spec.name.starts_with('x')
            && crate::commands::stream::log_effects(log, shard, spec, args, reply)
        {
            return;
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
        self.changes += 1;
        if let Some(key) = args.get(1) {
            // Every host call's effect names its one key first.
            self.watches.touch(tenant, key);
        }
        if self.touched.is_some() {
            let owned = OwnedArgs::new(args.iter().copied());
            match crate::commands::lookup(owned.args()) {
                crate::commands::Lookup::Found(spec) => {
                    self.touch_keys(tenant, spec, owned.args());
                }
                crate::commands::Lookup::Unknown(_) => {
                    if let Some(touched) = &mut self.touched {
                        touched.restart = true;
                    }
                }
            }
        }
        if let Some(log) = self.as_tenant(shared, tenant) {
            log.append(args);
        }
    }

    /// Logs that `key` now holds `record` (written over whatever it held).
    pub fn record(&mut self, shared: &Shared, tenant: TenantId, key: &[u8], record: &Record) {
        self.touch(tenant, key);
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

/// A write command that changed nothing by its arguments: BITFIELD with
/// only GET (and OVERFLOW) operations, which Redis does not propagate
/// either. (A parsed GET's type and offset, and OVERFLOW's policy, are
/// never `SET` or `INCRBY`, so any such word past the key is an operation.)
fn reads_only(spec: &CommandSpec, args: Args<'_>) -> bool {
    spec.name == "bitfield"
        && !args
            .iter()
            .skip(2)
            .any(|a| a.eq_ignore_ascii_case(b"SET") || a.eq_ignore_ascii_case(b"INCRBY"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::spec_named;

    #[test]
    fn a_bitfield_of_gets_only_is_not_logged() {
        let spec = spec_named("bitfield").unwrap();
        let args = |words: &[&str]| OwnedArgs::new(words.iter().map(|w| w.as_bytes()));
        let gets = args(&["BITFIELD", "set", "GET", "u8", "0", "OVERFLOW", "SAT"]);
        assert!(reads_only(spec, gets.args()));
        let set = args(&["bitfield", "k", "GET", "u8", "0", "set", "i4", "#1", "3"]);
        assert!(!reads_only(spec, set.args()));
        let incr = args(&["BITFIELD", "k", "INCRBY", "u8", "0", "1"]);
        assert!(!reads_only(spec, incr.args()));
        let setbit = OwnedArgs::new([&b"SETBIT"[..], b"k", b"1", b"1"]);
        assert!(!reads_only(spec_named("setbit").unwrap(), setbit.args()));
    }
}
