//! Tenants: authenticated users, each with its own keyspace, quotas and
//! functions.
//!
//! ```text
//!  Tenants (one, shared by every core)
//!   ├─ users: RwLock<Vec<Option<User>>>   names, password digests, rules,
//!   │                                     limits: read at AUTH / ACL / INFO
//!   ├─ slots: [TenantSlot]                per tenant index: generation,
//!   │                                     operator power, allowed commands,
//!   │                                     limits, connections — atomics read
//!   │                                     on the request path, never locked
//!   ├─ usage: [core][index] → Usage       memory, output, keys, commands,
//!   │                                     rejected: each row written by its
//!   │                                     own core only
//!   ├─ log: AclLog                        ACL LOG, per tenant (locked; only
//!   │                                     denials and ACL LOG touch it)
//!   └─ functions: Registry                told of each tenant created and
//!                                         deleted, under the users lock
//! ```
//!
//! A [`TenantId`] is a slot index plus the slot's generation: deleting a
//! tenant bumps the generation, so its sessions and in-flight jobs are
//! recognised as stale when the slot is reused. Index 0 is the `default`
//! user (password: `requirepass`), an operator with every command.
//!
//! **Two separate things decide what a request may do.** Its user's
//! command rules ([`rules`]: `+@all`, `-@write`, `+get`...) choose which
//! commands of the table it may run — always inside its own keyspace and
//! limits. The **operator power** ([`User::operator`]) is what lets a
//! request reach beyond its tenant: other users (ACL), the server (CONFIG,
//! SHUTDOWN, DEBUG), everyone's FLUSHALL, CLIENT LIST, INFO and ACL LOG.
//! `default` has it, as do tenants the config file marks `operator = true`
//! and users an operator gives `+@operator`; no command rule grants it.
//! [`Tenants::may_run`] is the one check of both.
//!
//! Runtime changes (`ACL SETUSER` / `DELUSER`) take the users lock, update
//! the slot atomics — so every core sees them at once — and rewrite the
//! tenant file atomically (temporary file, fsync, rename).
//!
//! [`user`] holds one tenant's settings: [`TenantLimits`], [`TenantConfig`],
//! [`User`] and the `ACL SETUSER` [`Rule`]s; [`rules`] its command rules;
//! [`log`] the ACL log; [`quota`] the memory rule every write that may grow
//! memory is checked against ([`Tenants::admits`]).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub mod log;
mod quota;
pub mod rules;
mod user;

pub use log::AclLog;
pub use quota::{Growth, ServerMemory};
pub use rules::{CommandRule, CommandRules};
pub use user::{Digest32, Rule, TenantConfig, TenantLimits, User, digest, hex, parse_rules};

use crate::commands::{self, CommandSpec, Flags};
use kiln_net::Args;

/// Who a request runs as (defined in `kiln-store`, shared by every crate).
pub use kiln_store::TenantId;

/// The name of the built-in user.
pub const DEFAULT_USER: &str = "default";

/// What the tenant file holds.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    #[serde(default)]
    tenant: Vec<TenantConfig>,
}

/// A tenant configuration that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TenantError {
    /// A password digest is not 64 hex digits.
    #[error(
        "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
    )]
    BadHash,
    /// Two tenants share a name, or a tenant is called `default`.
    #[error("tenant name '{0}' is reserved or used twice")]
    Name(String),
    /// More tenants than slots.
    #[error("too many tenants (max-tenants is {0})")]
    Full(usize),
    /// A tenant table's `commands` holds a rule that cannot be used.
    #[error("tenant '{tenant}': bad command rule '{rule}': {why}")]
    Rule {
        /// The tenant.
        tenant: String,
        /// The rule.
        rule: String,
        /// Why.
        why: String,
    },
    /// The tenant file could not be read or written.
    #[error("tenant file {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What every core reads per request about a tenant slot.
#[derive(Debug, Default)]
struct TenantSlot {
    generation: AtomicU32,
    live: AtomicBool,
    operator: AtomicBool,
    /// Every command of the table is allowed (the common case: one load).
    unrestricted: AtomicBool,
    /// The allowed commands, one bit per [`commands::catalog`] id. A
    /// reader racing an `ACL SETUSER` may see some bits old and some new:
    /// each command is then checked as just before or just after the
    /// change, as if the request had been ordered so.
    allowed: Box<[AtomicU64]>,
    /// Some `+cmd|arg` rule is in force: a command whose bit is clear is
    /// checked against the user's rules, under the users lock.
    first_args: AtomicBool,
    maxmemory: AtomicU64,
    maxkeys: AtomicU64,
    maxclients: AtomicU64,
    function_cpu_budget: AtomicU64,
    function_heap_limit: AtomicU64,
    /// `maxmemory-policy` ([`kiln_store::Policy::code`]).
    maxmemory_policy: std::sync::atomic::AtomicU8,
    connections: AtomicU64,
    /// What the tenant wants to hear of changes to its keys: its
    /// `notify-keyspace-events` flags (low 16 bits) and [`TRIGGERS`].
    events: AtomicU32,
}

/// [`TenantSlot::events`]: the tenant's functions have key triggers.
const TRIGGERS: u32 = 1 << 16;

impl TenantSlot {
    fn new() -> TenantSlot {
        let words = commands::catalog().len().div_ceil(64);
        TenantSlot {
            allowed: (0..words).map(|_| AtomicU64::new(0)).collect(),
            ..TenantSlot::default()
        }
    }

    fn publish(&self, user: &User) {
        self.operator.store(user.operator, Ordering::Relaxed);
        // Narrow first, widen last: a reader never sees the fast path open
        // over bits still being cleared.
        let unrestricted = user.commands.unrestricted();
        if !unrestricted {
            self.unrestricted.store(false, Ordering::Release);
        }
        for (word, bits) in self.allowed.iter().zip(user.commands.bits()) {
            word.store(*bits, Ordering::Release);
        }
        self.first_args
            .store(user.commands.has_first_args(), Ordering::Release);
        self.unrestricted.store(unrestricted, Ordering::Release);
        self.maxmemory
            .store(user.limits.maxmemory, Ordering::Relaxed);
        self.maxkeys.store(user.limits.maxkeys, Ordering::Relaxed);
        self.maxclients
            .store(user.limits.maxclients, Ordering::Relaxed);
        self.function_cpu_budget
            .store(user.limits.function_cpu_budget, Ordering::Relaxed);
        self.function_heap_limit
            .store(user.limits.function_heap_limit, Ordering::Relaxed);
        self.maxmemory_policy
            .store(user.limits.maxmemory_policy.0.code(), Ordering::Relaxed);
        self.live.store(true, Ordering::Release);
    }
}

/// One core's figures for one tenant; written only by that core.
#[derive(Debug, Default)]
pub struct Usage {
    /// Accounted memory of the tenant's keyspace on the core.
    pub memory: AtomicU64,
    /// Unsent replies buffered for the tenant's connections on the core
    /// (counted against its memory quota, and in the server's used memory).
    pub output: AtomicU64,
    /// Keys in it.
    pub keys: AtomicU64,
    /// Commands the tenant's connections on this core sent.
    pub commands: AtomicU64,
    /// Writes refused over the tenant's quota (or the server's maxmemory).
    pub rejected: AtomicU64,
    /// Time this core spent running the tenant's commands, in nanoseconds.
    pub cpu_ns: AtomicU64,
    /// Key triggers that ran on this core.
    pub triggers_run: AtomicU64,
    /// Key triggers that failed (threw, ran past their budget...).
    pub trigger_failures: AtomicU64,
    /// Key triggers not run: past the depth limit, or past a turn's cap.
    pub triggers_dropped: AtomicU64,
    /// Keys this core evicted from the tenant's keyspace.
    pub evicted: AtomicU64,
    /// Bytes this core read from the tenant's connections.
    pub net_input: AtomicU64,
    /// Bytes this core wrote to the tenant's connections.
    pub net_output: AtomicU64,
}

impl Usage {
    /// Adds `n` to a counter only this core writes.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Adds one to a counter only this core writes: a plain load and store,
    /// no locked read-modify-write on the request path.
    pub fn bump(counter: &AtomicU64) {
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Publishes the tenant's keyspace figures on this core.
    pub fn publish(&self, memory: usize, keys: usize) {
        self.memory.store(memory as u64, Ordering::Relaxed);
        self.keys.store(keys as u64, Ordering::Relaxed);
    }

    /// Replaces `old` of a gauge only this core writes with `new` (the
    /// gauge may hold other contributions: a core's total of its
    /// connections' output, say).
    pub fn shift(gauge: &AtomicU64, old: u64, new: u64) {
        let now = gauge.load(Ordering::Relaxed);
        gauge.store(
            now.saturating_sub(old).saturating_add(new),
            Ordering::Relaxed,
        );
    }
}

/// A tenant's figures summed over cores (`INFO`, `INFO tenants`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TenantFigures {
    /// Accounted memory of keys and values.
    pub memory: u64,
    /// Unsent replies buffered for its connections.
    pub output: u64,
    /// Keys.
    pub keys: u64,
    /// Authenticated connections.
    pub connections: u64,
    /// Commands processed.
    pub commands: u64,
    /// Commands refused over quota.
    pub rejected: u64,
    /// Time spent running its commands, in microseconds.
    pub cpu_us: u64,
    /// Keys evicted from its keyspace (the server's policy or its own).
    pub evicted: u64,
    /// Bytes read from its connections (a request counts for the tenant
    /// the connection was when it arrived: AUTH's for the one before).
    pub net_input: u64,
    /// Bytes written to its connections.
    pub net_output: u64,
}

/// Why a connection may not authenticate as a tenant it has the password of.
#[derive(Debug, PartialEq, Eq)]
pub enum Denied {
    /// Wrong name or password, or the user is disabled.
    WrongPass,
    /// The tenant's `maxclients` is reached.
    MaxClients,
}

/// The registry of tenants, shared by every core.
pub struct Tenants {
    users: RwLock<Vec<Option<User>>>,
    /// The function registry, told of each tenant created or deleted
    /// ([`Tenants::bind_functions`]).
    functions: Mutex<Option<Arc<kiln_functions::Registry>>>,
    slots: Box<[TenantSlot]>,
    usage: Box<[Box<[Usage]>]>,
    file: Option<PathBuf>,
    log: AclLog,
}

impl std::fmt::Debug for Tenants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenants")
            .field("capacity", &self.slots.len())
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl Tenants {
    /// A registry of at most `capacity` tenants (besides `default`) for
    /// `cores` cores. Its tenants come from `file` when that exists (it is
    /// what earlier runtime changes wrote), else from `configured`; runtime
    /// changes are written to `file`.
    pub fn new(
        configured: &[TenantConfig],
        file: Option<&Path>,
        capacity: usize,
        cores: usize,
    ) -> Result<Tenants, TenantError> {
        let from_file = match file {
            Some(path) if path.exists() => Some(trust_legacy_admins(read_file(path)?, configured)),
            _ => None,
        };
        let configs = from_file.as_deref().unwrap_or(configured);
        let slots: Box<[TenantSlot]> = (0..=capacity).map(|_| TenantSlot::new()).collect();
        let mut users: Vec<Option<User>> = vec![None];
        let mut default = User::new(DEFAULT_USER);
        default.operator = true;
        default.commands = CommandRules::all();
        slots[0].publish(&default);
        for config in configs {
            let user = User::from_config(config)?;
            let taken = users.iter().flatten().any(|u| u.name == user.name);
            if taken || user.name == DEFAULT_USER || user.name.is_empty() {
                return Err(TenantError::Name(user.name));
            }
            if users.len() > capacity {
                return Err(TenantError::Full(capacity));
            }
            slots[users.len()].publish(&user);
            users.push(Some(user));
        }
        let usage = (0..cores)
            .map(|_| (0..=capacity).map(|_| Usage::default()).collect())
            .collect();
        Ok(Tenants {
            users: RwLock::new(users),
            functions: Mutex::new(None),
            slots,
            usage,
            file: file.map(Path::to_owned),
            log: AclLog::default(),
        })
    }

    /// No tenants: only `default` (tests, and servers without tenants).
    pub fn none(cores: usize) -> Tenants {
        Tenants::new(&[], None, 0, cores).expect("an empty registry is valid")
    }

    fn read(&self) -> RwLockReadGuard<'_, Vec<Option<User>>> {
        self.users.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Vec<Option<User>>> {
        self.users.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes `registry` the function registry of these tenants: it learns
    /// the id and name of `default` and of every tenant now, and from then
    /// on of each tenant `ACL SETUSER` creates (before anyone can log in as
    /// it) and each `ACL DELUSER` deletes (whose libraries go with it, so
    /// a tenant created later under the same name starts without them, as
    /// it starts without its keys). The users lock is held throughout, so
    /// the registry never sees a creation and a deletion out of order.
    pub fn bind_functions(&self, registry: Arc<kiln_functions::Registry>) {
        let users = self.write();
        self.bind_tenant(&registry, TenantId::DEFAULT, DEFAULT_USER);
        for (index, user) in users.iter().enumerate() {
            if let Some(user) = user {
                self.bind_tenant(&registry, self.id_at(index), &user.name);
            }
        }
        *self.functions() = Some(registry);
    }

    /// Binds `name`'s saved libraries to `id`, and notes whether they
    /// register key triggers.
    fn bind_tenant(&self, registry: &kiln_functions::Registry, id: TenantId, name: &str) {
        registry.bind(id, name);
        self.set_triggers(id, registry.tenant(id).has_triggers());
    }

    fn functions(&self) -> std::sync::MutexGuard<'_, Option<Arc<kiln_functions::Registry>>> {
        self.functions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn slot(&self, id: TenantId) -> &TenantSlot {
        &self.slots[id.index().min(self.slots.len() - 1)]
    }

    fn id_at(&self, index: usize) -> TenantId {
        TenantId::new(index, self.slots[index].generation.load(Ordering::Acquire))
    }

    /// Checks a tenant's name and password (not `default`'s: that is
    /// `requirepass`) and counts the connection against its `maxclients`.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Result<TenantId, Denied> {
        let users = self.read();
        let found = users.iter().enumerate().find_map(|(i, u)| {
            u.as_ref()
                .filter(|u| u.name.as_bytes() == name)
                .map(|u| (i, u))
        });
        // Hash even for an unknown name, so timing does not tell names apart.
        let ok = match found {
            Some((_, user)) => user.accepts(password),
            None => User::new("").accepts(password),
        };
        let (index, _) = found.filter(|_| ok).ok_or(Denied::WrongPass)?;
        let id = self.id_at(index);
        if !self.connect(id) {
            return Err(Denied::MaxClients);
        }
        Ok(id)
    }

    /// Counts a new connection of `id`; false (and not counted) when its
    /// `maxclients` is reached.
    fn connect(&self, id: TenantId) -> bool {
        let slot = self.slot(id);
        let before = slot.connections.fetch_add(1, Ordering::Relaxed);
        let max = slot.maxclients.load(Ordering::Relaxed);
        if max != 0 && before >= max {
            slot.connections.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// A connection of `id` closed or authenticated as someone else.
    pub fn disconnect(&self, id: TenantId) {
        if !id.is_default() && self.is_current(id) {
            self.slot(id).connections.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Whether `id` still names a live tenant (not deleted since issued).
    pub fn is_current(&self, id: TenantId) -> bool {
        let slot = self.slot(id);
        slot.live.load(Ordering::Acquire)
            && slot.generation.load(Ordering::Acquire) == id.generation()
    }

    /// `id`'s `notify-keyspace-events` flags ([`crate::notify`]).
    pub fn notify_flags(&self, id: TenantId) -> u16 {
        self.slot(id).events.load(Ordering::Relaxed) as u16
    }

    /// Sets `id`'s `notify-keyspace-events` flags.
    pub fn set_notify_flags(&self, id: TenantId, flags: u16) {
        let events = &self.slot(id).events;
        let triggers = events.load(Ordering::Relaxed) & TRIGGERS;
        events.store(triggers | u32::from(flags), Ordering::Relaxed);
    }

    /// Notes whether `id`'s functions register key triggers.
    pub fn set_triggers(&self, id: TenantId, on: bool) {
        let events = &self.slot(id).events;
        let flags = events.load(Ordering::Relaxed) & !TRIGGERS;
        events.store(flags | if on { TRIGGERS } else { 0 }, Ordering::Relaxed);
    }

    /// Whether `id`'s key triggers are on.
    pub fn has_triggers(&self, id: TenantId) -> bool {
        self.slot(id).events.load(Ordering::Relaxed) & TRIGGERS != 0
    }

    /// Whether `id`'s shards should record what happens to keys: it
    /// publishes keyspace notifications or has key triggers. One load,
    /// on every command of the tenant.
    pub fn wants_events(&self, id: TenantId) -> bool {
        let events = self.slot(id).events.load(Ordering::Relaxed);
        events & TRIGGERS != 0 || crate::notify::publishing(events as u16)
    }

    /// Whether `id` holds the operator power (acting on other tenants and
    /// on the server).
    pub fn is_operator(&self, id: TenantId) -> bool {
        self.is_current(id) && self.slot(id).operator.load(Ordering::Relaxed)
    }

    /// Whether `id` may run `spec` with `args` (the whole request, name
    /// first): its command rules allow the command, and if the command
    /// acts beyond the tenant ([`Flags::OPERATOR`]), `id` holds the
    /// operator power. Commands every connection needs before it is logged
    /// in (AUTH, HELLO, QUIT, RESET: Redis's `no-auth` flag) are always
    /// allowed, as in Redis; PING is not.
    pub fn may_run(&self, id: TenantId, spec: &CommandSpec, args: Args<'_>) -> bool {
        if spec.flags.has(Flags::NO_AUTH) {
            return true;
        }
        if spec.needs_operator()
            && !self.is_operator(id)
            && !commands::server::own_config(spec, args)
        {
            return false;
        }
        let slot = self.slot(id);
        if slot.unrestricted.load(Ordering::Acquire) {
            return true;
        }
        let Some(command) = commands::catalog_id(spec.name) else {
            return false;
        };
        let (word, bit) = (command / 64, 1u64 << (command % 64));
        if slot.allowed[word].load(Ordering::Acquire) & bit != 0 {
            return true;
        }
        if !slot.first_args.load(Ordering::Acquire) {
            return false;
        }
        let first = if spec.name.contains('|') { 2 } else { 1 };
        let arg = (first < args.len()).then(|| args.get(first));
        self.read()
            .get(id.index())
            .and_then(Option::as_ref)
            .is_some_and(|u| u.commands.allows(command, arg))
    }

    /// What `user` may run, as [`Tenants::may_run`] decides it for a
    /// connection of that user (`ACL DRYRUN`): `None` for no such user.
    pub fn user_may_run(&self, user: &str, spec: &CommandSpec, args: Args<'_>) -> Option<bool> {
        if user == DEFAULT_USER {
            return Some(true);
        }
        let users = self.read();
        let user = users.iter().flatten().find(|u| u.name == user)?;
        if spec.flags.has(Flags::NO_AUTH) {
            return Some(true);
        }
        if spec.needs_operator() && !user.operator && !commands::server::own_config(spec, args) {
            return Some(false);
        }
        let Some(command) = commands::catalog_id(spec.name) else {
            return Some(false);
        };
        let first = if spec.name.contains('|') { 2 } else { 1 };
        let arg = (first < args.len()).then(|| args.get(first));
        Some(user.commands.allows(command, arg))
    }

    /// The ACL log.
    pub fn log(&self) -> &AclLog {
        &self.log
    }

    /// `id`'s limits as every core sees them now.
    pub fn limits(&self, id: TenantId) -> TenantLimits {
        let slot = self.slot(id);
        TenantLimits {
            maxmemory: slot.maxmemory.load(Ordering::Relaxed),
            maxkeys: slot.maxkeys.load(Ordering::Relaxed),
            maxclients: slot.maxclients.load(Ordering::Relaxed),
            function_cpu_budget: slot.function_cpu_budget.load(Ordering::Relaxed),
            function_heap_limit: slot.function_heap_limit.load(Ordering::Relaxed),
            maxmemory_policy: user::TenantPolicy(self.policy(id)),
        }
    }

    /// `id`'s own `maxmemory-policy` (`NoEviction` when it has none).
    pub fn policy(&self, id: TenantId) -> kiln_store::Policy {
        kiln_store::Policy::from_code(self.slot(id).maxmemory_policy.load(Ordering::Relaxed))
    }

    /// Core `core`'s figures row for tenant `id`.
    pub fn usage(&self, core: usize, id: TenantId) -> &Usage {
        &self.usage[core][id.index().min(self.slots.len() - 1)]
    }

    /// `id`'s figures summed over cores.
    pub fn figures(&self, id: TenantId) -> TenantFigures {
        let sum = |f: fn(&Usage) -> &AtomicU64| {
            self.usage
                .iter()
                .map(|row| f(&row[id.index()]).load(Ordering::Relaxed))
                .sum()
        };
        TenantFigures {
            memory: sum(|u| &u.memory),
            output: sum(|u| &u.output),
            keys: sum(|u| &u.keys),
            commands: sum(|u| &u.commands),
            rejected: sum(|u| &u.rejected),
            cpu_us: sum(|u| &u.cpu_ns) / 1000,
            evicted: sum(|u| &u.evicted),
            net_input: sum(|u| &u.net_input),
            net_output: sum(|u| &u.net_output),
            connections: self.slot(id).connections.load(Ordering::Relaxed),
        }
    }

    /// Unsent replies of `id`'s connections, summed over cores.
    pub fn output(&self, id: TenantId) -> u64 {
        let index = id.index().min(self.slots.len() - 1);
        self.usage
            .iter()
            .map(|row| row[index].output.load(Ordering::Relaxed))
            .sum()
    }

    /// The name `id` authenticates as.
    pub fn name(&self, id: TenantId) -> String {
        if id.is_default() {
            return DEFAULT_USER.into();
        }
        self.read()
            .get(id.index())
            .and_then(|u| u.as_ref().map(|u| u.name.clone()))
            .unwrap_or_default()
    }

    /// Every live tenant with its id, `default` excluded, in slot order.
    pub fn list(&self) -> Vec<(TenantId, User)> {
        self.read()
            .iter()
            .enumerate()
            .filter_map(|(i, u)| u.clone().map(|u| (self.id_at(i), u)))
            .collect()
    }

    /// The current id of the tenant named `name` (`default` included).
    pub fn id_of(&self, name: &str) -> Option<TenantId> {
        if name == DEFAULT_USER {
            return Some(TenantId::DEFAULT);
        }
        let users = self.read();
        let index = users
            .iter()
            .position(|u| u.as_ref().is_some_and(|u| u.name == name))?;
        Some(self.id_at(index))
    }

    /// A tenant by name.
    pub fn get(&self, name: &str) -> Option<User> {
        self.read()
            .iter()
            .flatten()
            .find(|u| u.name == name)
            .cloned()
    }

    /// Creates or changes a tenant (`ACL SETUSER`): `change` sees the
    /// current user, or a new one as Redis creates it (disabled, `-@all`)
    /// and `true`. The change is visible to every core when this returns,
    /// and written to the tenant file.
    pub fn set_user(
        &self,
        name: &str,
        change: impl FnOnce(&mut User, bool),
    ) -> Result<(), TenantError> {
        if name == DEFAULT_USER || name.is_empty() {
            return Err(TenantError::Name(name.into()));
        }
        let mut users = self.write();
        let index = match users
            .iter()
            .position(|u| u.as_ref().is_some_and(|u| u.name == name))
        {
            Some(i) => i,
            None => {
                let free =
                    (1..self.slots.len()).find(|&i| users.get(i).is_none_or(Option::is_none));
                let i = free.ok_or(TenantError::Full(self.slots.len() - 1))?;
                if users.len() <= i {
                    users.resize(i + 1, None);
                }
                i
            }
        };
        let created = users[index].is_none();
        let mut user = users[index].clone().unwrap_or_else(|| User::new(name));
        change(&mut user, created);
        self.slots[index].publish(&user);
        if created && let Some(functions) = &*self.functions() {
            self.bind_tenant(functions, self.id_at(index), name);
        }
        users[index] = Some(user);
        self.save(&users)
    }

    /// Deletes tenants by name (`ACL DELUSER`); returns how many existed.
    /// Their connections are closed by their cores at their next command,
    /// their keyspaces dropped by each core's cron, and their function
    /// libraries dropped now (see [`Tenants::bind_functions`]).
    pub fn delete(&self, names: &[&str]) -> Result<usize, TenantError> {
        let mut users = self.write();
        let mut deleted = 0;
        for (i, user) in users.iter_mut().enumerate() {
            if user
                .as_ref()
                .is_some_and(|u| names.contains(&u.name.as_str()))
            {
                *user = None;
                let id = self.id_at(i);
                self.log.forget(id);
                if let Some(functions) = &*self.functions() {
                    functions.unbind(id);
                }
                let slot = &self.slots[i];
                slot.live.store(false, Ordering::Release);
                slot.generation.fetch_add(1, Ordering::AcqRel);
                slot.connections.store(0, Ordering::Relaxed);
                slot.events.store(0, Ordering::Relaxed);
                deleted += 1;
            }
        }
        if deleted > 0 {
            self.save(&users)?;
        }
        Ok(deleted)
    }

    /// Writes every tenant to the tenant file, atomically: a temporary file
    /// in the same directory, fsynced, renamed over the old one.
    fn save(&self, users: &[Option<User>]) -> Result<(), TenantError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let fail = |reason: String| TenantError::File {
            path: path.clone(),
            reason,
        };
        let file = TenantFile {
            tenant: users.iter().flatten().map(User::to_config).collect(),
        };
        let text = toml::to_string(&file).map_err(|e| fail(e.to_string()))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| fail(e.to_string()))?;
        tmp.write_all(text.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| fail(e.to_string()))?;
        tmp.persist(path).map_err(|e| fail(e.to_string()))?;
        // The rename itself survives a crash once the directory is synced.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Tenant-file tables as older Kiln wrote them carry `admin = true` for
/// any user given `+@all` — not only for the operators it was meant for.
/// Such a flag is kept only for a tenant the config file itself makes an
/// operator; the others load without the power (and a warning says how to
/// grant it). Tables written since carry `operator`, which only an operator
/// can set.
fn trust_legacy_admins(
    mut file: Vec<TenantConfig>,
    configured: &[TenantConfig],
) -> Vec<TenantConfig> {
    for table in file.iter_mut().filter(|t| t.admin && !t.operator) {
        let trusted = configured
            .iter()
            .any(|c| c.name == table.name && (c.operator || c.admin));
        if !trusted {
            tracing::warn!(
                tenant = %table.name,
                "the tenant file's `admin = true` (written by older Kiln for `+@all`) no longer makes an operator; give the power with `ACL SETUSER {} +@operator` or `operator = true` in the config file",
                table.name
            );
        }
        table.admin = false;
        table.operator = trusted;
    }
    file
}

fn read_file(path: &Path) -> Result<Vec<TenantConfig>, TenantError> {
    let fail = |reason: String| TenantError::File {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let file: TenantFile = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
    Ok(file.tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn tenant(name: &str, password: &str) -> TenantConfig {
        TenantConfig {
            name: name.into(),
            passwords: vec![hex(&digest(password.as_bytes()))],
            enabled: true,
            ..TenantConfig::default()
        }
    }

    #[test]
    fn authenticates_by_name_and_password() {
        let t = Tenants::new(&[tenant("t1", "p1"), tenant("t2", "p2")], None, 4, 2).unwrap();
        let id = t.authenticate(b"t1", b"p1").unwrap();
        assert_eq!(id.index(), 1);
        assert_eq!(t.authenticate(b"t1", b"p2"), Err(Denied::WrongPass));
        assert_eq!(t.authenticate(b"nobody", b"p1"), Err(Denied::WrongPass));
        assert_eq!(t.name(id), "t1");
        assert!(!t.is_operator(id));
        assert!(t.is_operator(TenantId::DEFAULT));
    }

    #[test]
    fn names_must_be_unique_and_not_default() {
        let twice = [tenant("a", "x"), tenant("a", "y")];
        assert!(matches!(
            Tenants::new(&twice, None, 4, 1),
            Err(TenantError::Name(_))
        ));
        assert!(Tenants::new(&[tenant("default", "x")], None, 4, 1).is_err());
        assert!(matches!(
            Tenants::new(&[tenant("a", "x"), tenant("b", "y")], None, 1, 1),
            Err(TenantError::Full(1))
        ));
    }

    #[test]
    fn maxclients_counts_authenticated_connections() {
        let mut c = tenant("t", "p");
        c.limits.maxclients = 1;
        let t = Tenants::new(&[c], None, 4, 1).unwrap();
        let id = t.authenticate(b"t", b"p").unwrap();
        assert_eq!(t.authenticate(b"t", b"p"), Err(Denied::MaxClients));
        t.disconnect(id);
        assert!(t.authenticate(b"t", b"p").is_ok());
    }

    #[test]
    fn changes_survive_a_restart_through_the_tenant_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenants.toml");
        let t = Tenants::new(&[tenant("a", "x")], Some(&path), 4, 1).unwrap();
        t.set_user("b", |u, _| {
            u.enabled = true;
            u.passwords.push(digest(b"y"));
            u.limits.maxkeys = 5;
        })
        .unwrap();
        let a = t.authenticate(b"a", b"x").unwrap();
        assert_eq!(t.delete(&["a"]).unwrap(), 1);
        assert!(!t.is_current(a));
        let again = Tenants::new(&[tenant("a", "x")], Some(&path), 4, 1).unwrap();
        assert!(again.get("a").is_none(), "the file wins over the config");
        assert_eq!(again.get("b").unwrap().limits.maxkeys, 5);
        assert!(again.authenticate(b"b", b"y").is_ok());
    }

    #[test]
    fn a_reused_slot_has_a_new_generation() {
        let t = Tenants::new(&[tenant("a", "x")], None, 4, 1).unwrap();
        let old = t.authenticate(b"a", b"x").unwrap();
        t.delete(&["a"]).unwrap();
        t.set_user("c", |u, _| {
            u.enabled = true;
            u.nopass = true;
        })
        .unwrap();
        let new = t.authenticate(b"c", b"").unwrap();
        assert_eq!(new.index(), old.index());
        assert_ne!(new, old);
        assert!(t.is_current(new) && !t.is_current(old));
    }

    fn library(name: &str) -> kiln_functions::Library {
        let function = kiln_functions::FunctionMeta {
            name: format!("{name}_f"),
            flags: kiln_functions::FunctionFlags::default(),
            description: None,
        };
        kiln_functions::Library::new(
            name.into(),
            Arc::from(format!("#!js name={name}")),
            vec![function],
            None,
        )
    }

    #[test]
    fn the_function_registry_learns_each_tenant_created_and_deleted() {
        let registry = Arc::new(kiln_functions::Registry::in_memory(Default::default()));
        let t = Tenants::new(&[tenant("a", "x")], None, 4, 1).unwrap();
        t.bind_functions(Arc::clone(&registry));
        let a = t.authenticate(b"a", b"x").unwrap();
        assert_eq!(registry.name(a).as_deref(), Some("a"));
        assert_eq!(
            registry.name(TenantId::DEFAULT).as_deref(),
            Some(DEFAULT_USER)
        );
        let open = |u: &mut User, _: bool| {
            u.enabled = true;
            u.nopass = true;
        };
        t.set_user("b", open).unwrap();
        let b = t.authenticate(b"b", b"").unwrap();
        assert_eq!(registry.name(b).as_deref(), Some("b"));
        registry.add(a, library("la"), false).unwrap();
        t.delete(&["a"]).unwrap();
        assert!(!registry.is_bound(a));
        assert!(registry.tenant(a).libraries.is_empty());
        // The slot's next tenant, even under the old name, is someone else.
        t.set_user("a", open).unwrap();
        let again = t.authenticate(b"a", b"").unwrap();
        assert_ne!(again, a);
        assert_eq!(registry.name(again).as_deref(), Some("a"));
        assert!(registry.tenant(again).libraries.is_empty());
    }

    #[test]
    fn saved_libraries_come_back_to_their_tenant_after_a_restart_but_not_after_a_delete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tenants.toml");
        let limits = kiln_functions::RegistryLimits::default();
        let open = |u: &mut User, _: bool| {
            u.enabled = true;
            u.nopass = true;
        };
        {
            let t = Tenants::new(&[tenant("a", "x")], Some(&path), 4, 1).unwrap();
            let registry = Arc::new(kiln_functions::Registry::open(dir.path(), limits).unwrap());
            t.bind_functions(Arc::clone(&registry));
            t.set_user("b", open).unwrap();
            let a = t.authenticate(b"a", b"x").unwrap();
            let b = t.authenticate(b"b", b"").unwrap();
            registry.add(a, library("la"), false).unwrap();
            registry.add(b, library("lb"), false).unwrap();
            registry
                .add(TenantId::DEFAULT, library("ld"), false)
                .unwrap();
            registry.sync();
        }
        {
            let t = Tenants::new(&[tenant("a", "x")], Some(&path), 4, 1).unwrap();
            let registry = Arc::new(kiln_functions::Registry::open(dir.path(), limits).unwrap());
            t.bind_functions(Arc::clone(&registry));
            let a = t.authenticate(b"a", b"x").unwrap();
            let b = t.authenticate(b"b", b"").unwrap();
            assert!(registry.tenant(a).function("la_f").is_some());
            assert!(registry.tenant(b).function("lb_f").is_some());
            assert!(
                registry
                    .tenant(TenantId::DEFAULT)
                    .function("ld_f")
                    .is_some()
            );
            t.delete(&["b"]).unwrap();
            registry.sync();
        }
        let t = Tenants::new(&[tenant("a", "x")], Some(&path), 4, 1).unwrap();
        let registry = Arc::new(kiln_functions::Registry::open(dir.path(), limits).unwrap());
        t.bind_functions(Arc::clone(&registry));
        t.set_user("b", open).unwrap();
        let b = t.authenticate(b"b", b"").unwrap();
        assert!(
            registry.tenant(b).libraries.is_empty(),
            "a deleted tenant's libraries do not come back"
        );
    }
}
