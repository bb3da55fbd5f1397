//! The command table: every command's name, arity, flags, key positions and
//! routing, declared once.
//!
//! A request's life: [`lookup`] finds its [`CommandSpec`] (a subcommand's own
//! spec for `CLIENT SETNAME`, `CLUSTER SLOTS`...), the core checks arity,
//! authentication and memory, and then [`Route`] says where it runs:
//!
//! - [`Route::Local`]: on the core that received it (connection commands).
//! - [`Route::Keys`]: on the core owning its keys. When a multi-key command's
//!   keys live on several cores, the main port splits it ([`KeyRouting`]); a
//!   core port answers `-CROSSSLOT` / `-MOVED` as a Redis Cluster node would.
//! - [`Route::AllCores`]: once per core (this core only on a core port), the
//!   parts combined into one reply.
//! - [`Route::Planned`]: a command-specific [`Plan`] (SCAN's cursor walk).
//!
//! Wherever it runs, [`CommandSpec::run`] executes the command against one
//! core's shard and returns a typed [`Reply`]; cross-core orchestration lives
//! in [`crate::commands::plan`], never in command code.
//!
//! One file per command family holds argument parsing, the `run` functions
//! and their unit tests.

pub mod acl;
pub mod bits;
pub mod blocking;
pub mod client;
pub mod cluster;
pub mod collection;
pub mod command;
pub mod connection;
pub mod ctx;
pub mod dump;
pub mod execute;
pub mod expire;
pub mod function;
pub mod gather;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod keys;
pub mod latency;
pub mod list;
pub mod monitor;
pub mod plan;
pub mod pubsub;
pub mod route;
pub mod scan;
pub mod server;
pub mod set;
pub mod slowlog;
pub mod sort;
pub mod stream;
pub mod string;
pub mod syntax;
pub mod transaction;
pub mod zset;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::iter::StepBy;
use std::ops::RangeInclusive;
use std::sync::LazyLock;

use kiln_net::{Args, Reply};
use kiln_store::StoreError;

pub use ctx::{Ctx, ENCODE_IN_JOB_MAX, Encoder, Out};
pub use execute::{Caller, Command, Executed, Site, execute};
pub use plan::{CombineFn, Finishing, Job, Output, Plan, PlannerFn, Planning};

/// Executes a command on this core: parse the arguments, act on the shard,
/// build the reply.
pub type CommandFn = fn(&mut Ctx<'_>, Args<'_>) -> Reply;

/// Flags as `COMMAND INFO` reports them, plus Kiln's routing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flags(u16);

impl Flags {
    /// Modifies the keyspace.
    pub const WRITE: Flags = Flags(1);
    /// Only reads.
    pub const READONLY: Flags = Flags(1 << 1);
    /// May grow memory: refused with -OOM over `maxmemory`.
    pub const DENYOOM: Flags = Flags(1 << 2);
    /// O(1) or O(log N).
    pub const FAST: Flags = Flags(1 << 3);
    /// Allowed before authentication (AUTH, HELLO, QUIT...).
    pub const NO_AUTH: Flags = Flags(1 << 4);
    /// Administrative.
    pub const ADMIN: Flags = Flags(1 << 5);
    /// Allowed while loading / stale (reported only).
    pub const LOADING: Flags = Flags(1 << 6);
    /// Allowed while stale (reported only).
    pub const STALE: Flags = Flags(1 << 7);
    /// Not allowed from scripts (reported only).
    pub const NOSCRIPT: Flags = Flags(1 << 8);
    /// Kiln's own: acts on other tenants or on the server itself, so only a
    /// caller holding the operator power may run it, whatever its command
    /// rules allow. Not reported by `COMMAND INFO` (Redis has no such flag).
    pub const OPERATOR: Flags = Flags(1 << 9);
    /// Kiln's own: lists this core's clients, so a job running it gets
    /// them ([`Ctx::clients`]). Not reported by `COMMAND INFO`.
    pub const CLIENTS: Flags = Flags(1 << 10);
    /// May block the client (BLPOP...): its connection reads no further
    /// request until it is answered.
    pub const BLOCKING: Flags = Flags(1 << 11);
    /// Kiln's own: a transaction command (`MULTI`, `EXEC`, `WATCH`...),
    /// which the engine runs itself. Not reported by `COMMAND INFO`.
    pub const TRANSACTION: Flags = Flags(1 << 12);
    /// Kiln's own: a subscription command (`SUBSCRIBE`...), which the
    /// engine runs itself. Not reported by `COMMAND INFO`.
    pub const PUBSUB: Flags = Flags(1 << 13);
    /// May be propagated although not flagged `write` (PUBLISH, PFCOUNT,
    /// FCALL): held by `CLIENT PAUSE WRITE`, as Redis's `may-replicate`.
    /// Not reported by `COMMAND INFO` yet.
    pub const MAY_REPLICATE: Flags = Flags(1 << 14);
    /// No flags.
    pub const NONE: Flags = Flags(0);

    /// Both sets of flags.
    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Whether every flag in `other` is set.
    pub const fn has(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names `COMMAND INFO` lists.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        const NAMES: [(Flags, &str); 10] = [
            (Flags::WRITE, "write"),
            (Flags::READONLY, "readonly"),
            (Flags::DENYOOM, "denyoom"),
            (Flags::ADMIN, "admin"),
            (Flags::NOSCRIPT, "noscript"),
            (Flags::BLOCKING, "blocking"),
            (Flags::LOADING, "loading"),
            (Flags::STALE, "stale"),
            (Flags::NO_AUTH, "no_auth"),
            (Flags::FAST, "fast"),
        ];
        NAMES
            .into_iter()
            .filter(move |(f, _)| self.has(*f))
            .map(|(_, n)| n)
    }
}

/// The key indices [`KeySpec::positions_in`] yields.
pub type KeyPositions =
    std::iter::Chain<StepBy<RangeInclusive<usize>>, StepBy<RangeInclusive<usize>>>;

/// Where a command's keys are, as Redis's legacy `(first, last, step)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Index of the first key; 0 = no keys.
    pub first: usize,
    /// Index of the last key; negative counts from the end (-1 = last arg).
    pub last: isize,
    /// Distance between keys (2 for MSET's key, value pairs).
    pub step: usize,
    /// For commands whose keys follow a count (`FCALL f numkeys key...`):
    /// the count's index; 0 otherwise. Redis calls these "movablekeys" and
    /// reports `(0, 0, 0)` as their legacy range.
    pub numkeys_at: usize,
    /// XREAD / XREADGROUP: the keys are the first half of the arguments
    /// after the `STREAMS` keyword (Redis's `keyword` begin-search).
    pub streams: bool,
}

impl KeySpec {
    /// No keys.
    pub const NONE: KeySpec = KeySpec::range(0, 0, 0);
    /// Exactly argument 1.
    pub const FIRST: KeySpec = KeySpec::range(1, 1, 1);

    /// Keys at `first..=last` every `step`.
    pub const fn range(first: usize, last: isize, step: usize) -> KeySpec {
        KeySpec {
            first,
            last,
            step,
            numkeys_at: 0,
            streams: false,
        }
    }

    /// The keys after `STREAMS`: its first half.
    pub const STREAMS: KeySpec = KeySpec {
        first: 0,
        last: 0,
        step: 0,
        numkeys_at: 0,
        streams: true,
    };

    /// Keys counted by the argument at `numkeys_at`, right after it.
    pub const fn counted(numkeys_at: usize) -> KeySpec {
        KeySpec {
            first: 0,
            last: 0,
            step: 0,
            numkeys_at,
            streams: false,
        }
    }

    /// A destination key at `first` followed by keys counted by the
    /// argument at `numkeys_at` (`ZUNIONSTORE dst numkeys key...`).
    pub const fn first_then_counted(first: usize, numkeys_at: usize) -> KeySpec {
        KeySpec {
            first,
            last: first as isize,
            step: 1,
            numkeys_at,
            streams: false,
        }
    }

    /// Indices of the keys in `args`: [`KeySpec::positions`], or for a
    /// counted spec the fixed keys before the count (if any) and the keys its
    /// count names (none when the count is not a valid non-negative integer
    /// within the arguments; the command itself reports that).
    pub fn positions_in(self, args: Args<'_>) -> KeyPositions {
        #[allow(clippy::reversed_empty_ranges)] // deliberately empty
        let none = (1..=0).step_by(1);
        if self.streams {
            let at = (1..args.len()).find(|&i| args.get(i).eq_ignore_ascii_case(b"streams"));
            let (first, last) = match at {
                Some(at)
                    if (args.len() - at - 1) >= 2 && (args.len() - at - 1).is_multiple_of(2) =>
                {
                    (at + 1, at + (args.len() - at - 1) / 2)
                }
                _ => (1, 0),
            };
            return none.chain((first..=last).step_by(1));
        }
        if self.numkeys_at == 0 {
            return self.positions(args.len()).chain(none);
        }
        let fixed = if self.first == 0 {
            none
        } else {
            self.positions(args.len())
        };
        let at = self.numkeys_at;
        let count = (at < args.len())
            .then(|| kiln_store::numeric::parse_i64(args.get(at)))
            .flatten()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| at + n < args.len());
        let (first, last) = match count {
            Some(n) if n > 0 => (at + 1, at + n),
            _ => (1, 0),
        };
        fixed.chain((first..=last).step_by(1))
    }

    /// Indices of the keys in a request of `argc` arguments.
    pub fn positions(self, argc: usize) -> StepBy<RangeInclusive<usize>> {
        let last = if self.last < 0 {
            argc as isize + self.last
        } else {
            (self.last).min(argc as isize - 1)
        };
        let (first, last) = if self.first == 0 || last < self.first as isize {
            (1, 0)
        } else {
            (self.first, last as usize)
        };
        (first..=last).step_by(self.step.max(1))
    }
}

/// Where a command runs.
#[derive(Clone, Copy)]
pub enum Route {
    /// On the receiving core, with the session.
    Local,
    /// On the core that owns the keys.
    Keys(KeyRouting),
    /// On every core (main port) or this core (core port); parts combined.
    AllCores(CombineFn),
    /// A command-specific plan.
    Planned(PlannerFn),
}

/// What the main port does when a command's keys span several cores.
#[derive(Clone, Copy)]
pub enum KeyRouting {
    /// Single-key command, or one whose keys must share a core:
    /// `-CROSSSLOT` when they don't.
    SameCore,
    /// One sub-command per core over its keys (each key with the `step - 1`
    /// arguments after it), the replies combined.
    Split(CombineFn),
    /// A command-specific plan (cross-core RENAME, COPY, MSETNX).
    Planned(PlannerFn),
}

/// One command (or subcommand) of the table.
pub struct CommandSpec {
    /// Lower-case name (`get`, or `client|setname` for a subcommand).
    pub name: &'static str,
    /// Redis arity: `N` exactly N arguments, `-N` at least N (name included).
    pub arity: i32,
    /// Flags.
    pub flags: Flags,
    /// ACL categories, as `COMMAND INFO` lists them (`@read`...).
    pub acl: &'static [&'static str],
    /// Key positions.
    pub keys: KeySpec,
    /// Where it runs.
    pub route: Route,
    /// Executes on one core.
    pub run: CommandFn,
    /// `COMMAND DOCS` group (`string`, `generic`, `server`...).
    pub group: &'static str,
    /// `COMMAND DOCS` summary.
    pub summary: &'static str,
    /// Redis version that introduced the command.
    pub since: &'static str,
    /// Subcommands (`CLIENT SETNAME`...); when non-empty, `run` handles only
    /// an unknown subcommand or HELP.
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// Whether running it takes the operator power ([`Flags::OPERATOR`]).
    pub fn needs_operator(&self) -> bool {
        self.flags.has(Flags::OPERATOR)
    }

    /// Whether it has the ACL category `category` (`"read"`, no `@`).
    pub fn in_category(&self, category: &str) -> bool {
        self.acl
            .iter()
            .any(|c| c.strip_prefix('@') == Some(category))
    }

    /// Whether `argc` arguments satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}

/// The result of looking a request up in the table.
pub enum Lookup {
    /// Found.
    Found(&'static CommandSpec),
    /// No such command: the Redis error reply.
    Unknown(Reply),
}

/// The spec of a command or subcommand by its full lower-case name
/// (`get`, `client|list`).
pub fn spec_named(name: &str) -> Option<&'static CommandSpec> {
    catalog_id(name).map(|id| catalog()[id].spec)
}

/// Every top-level command.
pub fn table() -> &'static [&'static CommandSpec] {
    static TABLE: LazyLock<Vec<&'static CommandSpec>> = LazyLock::new(|| {
        let mut all: Vec<&'static CommandSpec> = Vec::new();
        for family in [
            connection::COMMANDS,
            string::COMMANDS,
            keys::COMMANDS,
            dump::COMMANDS,
            bits::COMMANDS,
            hll::COMMANDS,
            expire::COMMANDS,
            scan::COMMANDS,
            server::COMMANDS,
            client::COMMANDS,
            cluster::COMMANDS,
            command::COMMANDS,
            acl::COMMANDS,
            function::COMMANDS,
            hash::COMMANDS,
            list::COMMANDS,
            blocking::COMMANDS,
            sort::COMMANDS,
            set::COMMANDS,
            zset::COMMANDS,
            stream::COMMANDS,
            geo::COMMANDS,
            transaction::COMMANDS,
            pubsub::COMMANDS,
            slowlog::COMMANDS,
            latency::COMMANDS,
            monitor::COMMANDS,
        ] {
            all.extend(family.iter());
        }
        all
    });
    &TABLE
}

/// Command names by their lower-case name. The set of keys is fixed and
/// ours, so a cheap non-keyed hash (FNV-1a) is safe here and is measurably
/// faster than SipHash on this per-request lookup.
type NameMap = HashMap<&'static str, &'static CommandSpec, BuildHasherDefault<Fnv1a>>;

fn by_name() -> &'static NameMap {
    static MAP: LazyLock<NameMap> =
        LazyLock::new(|| table().iter().map(|c| (c.name, *c)).collect());
    &MAP
}

/// The ACL categories Redis 7 defines, in `ACL CAT`'s order. A rule may
/// name any of them (`+@list` is valid and, in Kiln, allows nothing); the
/// table's `acl` lists only use these.
pub const ACL_CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// One spec of the table with its place in it: what ACL command rules
/// address. Its index in [`catalog`] is its command id.
#[derive(Debug)]
pub struct CatalogEntry {
    /// The spec.
    pub spec: &'static CommandSpec,
    /// The container's id, for a subcommand.
    pub parent: Option<usize>,
    /// The ids of its subcommands (empty for a plain command).
    pub subcommands: std::ops::Range<usize>,
}

impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every command and subcommand of the table, each container followed by
/// its subcommands, in table order.
pub fn catalog() -> &'static [CatalogEntry] {
    static CATALOG: LazyLock<Vec<CatalogEntry>> = LazyLock::new(|| {
        let mut all = Vec::new();
        for spec in table() {
            let id = all.len();
            let subs = id + 1..id + 1 + spec.subcommands.len();
            all.push(CatalogEntry {
                spec,
                parent: None,
                subcommands: subs.clone(),
            });
            all.extend(spec.subcommands.iter().map(|sub| CatalogEntry {
                spec: sub,
                parent: Some(id),
                subcommands: 0..0,
            }));
        }
        all
    });
    &CATALOG
}

/// The command id of a full lower-case name (`get`, `config|get`).
pub fn catalog_id(name: &str) -> Option<usize> {
    type IdMap = HashMap<&'static str, usize, BuildHasherDefault<Fnv1a>>;
    static IDS: LazyLock<IdMap> = LazyLock::new(|| {
        catalog()
            .iter()
            .enumerate()
            .map(|(id, e)| (e.spec.name, id))
            .collect()
    });
    IDS.get(name).copied()
}

/// The command id of a spec from the table (its place in [`catalog`]),
/// found by its address rather than by hashing its name: a binary search
/// over the table's spec addresses, for per-request accounting. A spec
/// that is not in the table (an internal one) falls back to its name.
pub fn spec_id(spec: &CommandSpec) -> Option<usize> {
    static BY_ADDRESS: LazyLock<Vec<(usize, usize)>> = LazyLock::new(|| {
        let mut all: Vec<(usize, usize)> = catalog()
            .iter()
            .enumerate()
            .map(|(id, e)| (std::ptr::from_ref(e.spec) as usize, id))
            .collect();
        all.sort_unstable();
        all
    });
    let address = std::ptr::from_ref(spec) as usize;
    match BY_ADDRESS.binary_search_by_key(&address, |&(a, _)| a) {
        Ok(at) => Some(BY_ADDRESS[at].1),
        Err(_) => catalog_id(spec.name),
    }
}

/// FNV-1a, for short trusted keys.
#[derive(Default)]
struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

/// Finds the spec for a request (the subcommand's spec where there is one).
pub fn lookup(args: Args<'_>) -> Lookup {
    let name = args.get(0);
    let spec = lowercase(name, |lower| by_name().get(lower).copied());
    let Some(spec) = spec else {
        return Lookup::Unknown(unknown_command(args));
    };
    if spec.subcommands.is_empty() || args.len() < 2 {
        return Lookup::Found(spec);
    }
    let sub = args.get(1);
    let found = spec.subcommands.iter().find(|s| {
        let short = s.name.split_once('|').map_or(s.name, |(_, sub)| sub);
        short.as_bytes().eq_ignore_ascii_case(sub)
    });
    match found {
        Some(sub) => Lookup::Found(sub),
        // The container's own `run` answers HELP and unknown subcommands.
        None => Lookup::Found(spec),
    }
}

/// Runs `f` on the ASCII-lowercased `name` without allocating for normal
/// command names.
fn lowercase<T>(name: &[u8], f: impl FnOnce(&str) -> Option<T>) -> Option<T> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    std::str::from_utf8(lower).ok().and_then(f)
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' `, exactly as
/// Redis words it.
pub fn unknown_command(args: Args<'_>) -> Reply {
    let mut msg = format!(
        "ERR unknown command '{}', with args beginning with: ",
        truncated(args.get(0), 128)
    );
    let mut budget = 128usize;
    for arg in args.iter().skip(1) {
        if budget == 0 {
            break;
        }
        let shown = truncated(arg, budget);
        budget = budget.saturating_sub(shown.len());
        msg.push_str(&format!("'{shown}' "));
    }
    Reply::error_owned(msg)
}

/// `ERR unknown subcommand 'x'. Try CLIENT HELP.`
pub fn unknown_subcommand(args: Args<'_>) -> Reply {
    Reply::error_owned(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        truncated(args.get(1), 128),
        String::from_utf8_lossy(args.get(0)).to_uppercase()
    ))
}

/// What a container command (CLIENT, CLUSTER, CONFIG...) answers itself:
/// its HELP text, or the unknown-subcommand error.
pub fn help_or_unknown(args: Args<'_>, container: &str, help: &'static [&'static str]) -> Reply {
    if args.len() == 2 && args.get(1).eq_ignore_ascii_case(b"HELP") {
        command::help(container, help)
    } else {
        unknown_subcommand(args)
    }
}

/// `NOPERM User t1 has no permissions to run the 'config|set' command`, as
/// Redis 7.2 words it.
pub fn no_permission(user: &str, spec: &CommandSpec) -> Reply {
    Reply::error_owned(format!(
        "NOPERM User {user} has no permissions to run the '{}' command",
        spec.name
    ))
}

/// `ERR wrong number of arguments for 'get' command`
pub fn wrong_arity(spec: &CommandSpec) -> Reply {
    Reply::error_owned(format!(
        "ERR wrong number of arguments for '{}' command",
        spec.name
    ))
}

fn truncated(bytes: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(max)]).into_owned()
}

/// The reply for a store error.
pub fn store_error(err: StoreError) -> Reply {
    Reply::error_owned(err.to_string())
}

/// Common error replies, worded as Redis words them.
pub mod errors {
    use kiln_net::Reply;

    /// `ERR syntax error`
    pub const SYNTAX: Reply = Reply::error("ERR syntax error");
    /// `ERR value is not an integer or out of range`
    pub const NOT_INTEGER: Reply = Reply::error("ERR value is not an integer or out of range");
    /// `ERR value is not a valid float`
    pub const NOT_FLOAT: Reply = Reply::error("ERR value is not a valid float");
    /// `NOAUTH Authentication required.`
    pub const NOAUTH: Reply = Reply::error("NOAUTH Authentication required.");
    /// `OOM command not allowed when used memory > 'maxmemory'.`
    pub const OOM: Reply = Reply::error("OOM command not allowed when used memory > 'maxmemory'.");
    /// `WRONGPASS invalid username-password pair or user is disabled.`
    pub const WRONGPASS: Reply =
        Reply::error("WRONGPASS invalid username-password pair or user is disabled.");
    /// A connection command that reached a caller without a connection.
    pub const NO_SESSION: Reply = Reply::error("ERR internal: connection command without a client");
    /// A job whose command asked to run on yet another core.
    pub const NOT_HERE: Reply = Reply::error("ERR internal: a forwarded command left its core");
    /// A job of a tenant deleted while it was in flight.
    pub const USER_DELETED: Reply = Reply::error("ERR the user of this connection was deleted");
    /// `CROSSSLOT Keys in request don't hash to the same slot`
    pub const CROSSSLOT: Reply =
        Reply::error("CROSSSLOT Keys in request don't hash to the same slot");
}

/// Parses an integer argument, or the Redis "not an integer" error.
pub fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    kiln_store::numeric::parse_i64(arg).ok_or(errors::NOT_INTEGER)
}

/// Declares a [`CommandSpec`] with the common defaults filled in.
#[macro_export]
macro_rules! command {
    ($name:literal, $arity:expr, $flags:expr, $acl:expr, $keys:expr, $route:expr, $run:expr,
     $group:literal, $since:literal, $summary:literal $(, subcommands: $subs:expr)? $(,)?) => {
        $crate::commands::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: $acl,
            keys: $keys,
            route: $route,
            run: $run,
            group: $group,
            summary: $summary,
            since: $since,
            subcommands: $crate::command!(@subs $($subs)?),
        }
    };
    (@subs) => { &[] };
    (@subs $subs:expr) => { $subs };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_positions() {
        let collect = |k: KeySpec, argc| k.positions(argc).collect::<Vec<_>>();
        assert_eq!(collect(KeySpec::FIRST, 2), vec![1]);
        assert_eq!(collect(KeySpec::NONE, 3), Vec::<usize>::new());
        assert_eq!(collect(KeySpec::range(1, -1, 1), 4), vec![1, 2, 3]);
        assert_eq!(collect(KeySpec::range(1, -1, 2), 5), vec![1, 3]);
        assert_eq!(collect(KeySpec::range(1, 2, 1), 3), vec![1, 2]);
        assert_eq!(collect(KeySpec::range(2, 2, 1), 2), Vec::<usize>::new());
        let args =
            kiln_net::OwnedArgs::new([&b"zunionstore"[..], b"d", b"2", b"a", b"b", b"WEIGHTS"]);
        let keys: Vec<usize> = KeySpec::first_then_counted(1, 2)
            .positions_in(args.args())
            .collect();
        assert_eq!(keys, vec![1, 3, 4]);
        let keys: Vec<usize> = KeySpec::counted(1).positions_in(args.args()).collect();
        assert_eq!(keys, Vec::<usize>::new(), "'d' is no count");
    }

    #[test]
    fn table_names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for spec in table() {
            assert!(seen.insert(spec.name), "duplicate {}", spec.name);
            assert_eq!(spec.name, spec.name.to_lowercase());
            for sub in spec.subcommands {
                assert!(
                    sub.name.starts_with(&format!("{}|", spec.name)),
                    "{}",
                    sub.name
                );
            }
        }
    }

    #[test]
    fn categories_are_redis_ones_and_powers_are_the_servers() {
        for entry in catalog() {
            for category in entry.spec.acl {
                let name = category.strip_prefix('@').unwrap_or(category);
                assert!(
                    ACL_CATEGORIES.contains(&name),
                    "{}: {category}",
                    entry.spec.name
                );
            }
            assert_eq!(
                catalog_id(entry.spec.name).map(|id| catalog()[id].spec.name),
                Some(entry.spec.name)
            );
        }
        let mut powers: Vec<&str> = catalog()
            .iter()
            .filter(|e| e.spec.needs_operator())
            .map(|e| e.spec.name)
            .collect();
        powers.sort_unstable();
        assert_eq!(
            powers,
            [
                "acl|deluser",
                "acl|getuser",
                "acl|list",
                "acl|setuser",
                "acl|users",
                "bgrewriteaof",
                "bgsave",
                "client|no-evict",
                "client|pause",
                "client|unpause",
                "config|get",
                "config|resetstat",
                "config|rewrite",
                "config|set",
                "debug",
                "latency|doctor",
                "latency|history",
                "latency|latest",
                "latency|reset",
                "save",
                "shutdown",
            ]
        );
    }

    proptest::proptest! {
        /// Every command in the table, fed arguments from a vocabulary of
        /// awkward values (options, huge and negative numbers, globs, empty
        /// strings), answers without panicking.
        #[test]
        fn no_command_panics_on_odd_arguments(
            picks in proptest::collection::vec((0usize..1000, proptest::collection::vec(0usize..VOCABULARY.len(), 0..7)), 40),
        ) {
            let mut bed = testbed::TestBed::new();
            let names: Vec<String> = table()
                .iter()
                .flat_map(|c| std::iter::once(c.name).chain(c.subcommands.iter().map(|s| s.name)))
                .filter(|n| !matches!(*n, "shutdown" | "debug" | "debug|sleep"))
                .map(String::from)
                .collect();
            for (which, words) in picks {
                let name = &names[which % names.len()];
                let mut parts: Vec<&str> = name.split('|').collect();
                parts.extend(words.iter().map(|&w| VOCABULARY[w]));
                let _ = bed.run(&parts);
            }
        }
    }

    const VOCABULARY: &[&str] = &[
        "",
        "k",
        "k2",
        "{k}x",
        "0",
        "1",
        "-1",
        "10",
        "-100",
        "3.5",
        "-inf",
        "nan",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "EX",
        "PX",
        "EXAT",
        "PXAT",
        "NX",
        "XX",
        "GT",
        "LT",
        "GET",
        "KEEPTTL",
        "PERSIST",
        "MATCH",
        "COUNT",
        "TYPE",
        "*",
        "[a-",
        "\\",
        "REPLACE",
        "DB",
        "AUTH",
        "SETNAME",
        "default",
        "2",
        "3",
        "LIB-NAME",
        "ON",
        "ID",
        "maxmemory",
        "timeout",
        "100mb",
        "string",
        "WITHSCORES",
        "WITHVALUES",
        "WITHSCORE",
        "BYSCORE",
        "BYLEX",
        "REV",
        "LIMIT",
        "WEIGHTS",
        "AGGREGATE",
        "MIN",
        "MAX",
        "INCR",
        "CH",
        "+inf",
        "(1",
        "[a",
        "-",
        "+",
    ];

    #[test]
    fn unknown_command_wording() {
        let args = kiln_net::OwnedArgs::new([&b"FOO"[..], b"a", b"b"]);
        assert_eq!(
            unknown_command(args.args()),
            Reply::error("ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")
        );
    }
}

/// A core's worth of state for command unit tests (and the `command_args`
/// fuzz target, through the `fuzzing` feature): runs a command through the
/// table against a real shard, as if it arrived on core 0's main port.
#[cfg(any(test, feature = "fuzzing"))]
pub mod testbed;
