//! `INFO`: each core reports its counters as integers; the origin sums them
//! and formats Redis-style sections.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use kiln_net::{Args, Reply};
use kiln_store::Shard;

use crate::commands::client::text_reply;
use crate::commands::connection::REDIS_VERSION;
use crate::commands::{Ctx, Finishing, Output};
use crate::journal::Journal;
use crate::metrics::latency;
use crate::shared::{LiveSettings, Shared};
use crate::stats::CoreStats;
use crate::tenant::{DEFAULT_USER, TenantId, Tenants};

/// The server's figures, summed over the cores that answered.
#[derive(Debug, Default, Clone)]
struct ServerFigures {
    stats: CoreStats,
    /// Open connections on the cores reported (a gauge every core
    /// publishes for `maxclients`, not a counter of its own).
    connected_clients: u64,
    keys: u64,
    volatile: u64,
    /// Sum of each core's `avg_ttl × volatile`, to weight the average.
    ttl_weight: u64,
    /// Keys and values.
    used_memory: u64,
    /// Unsent replies buffered for clients.
    clients_memory: u64,
    hits: u64,
    misses: u64,
    expired: u64,
    /// Bytes in the cores' current log files.
    aof_size: u64,
    /// Cores whose last log write failed.
    aof_failed: u64,
    /// Cores rewriting their log.
    aof_rewriting: u64,
    /// Log rewrites finished.
    aof_rewrites: u64,
    /// Cores whose last rewrite failed.
    aof_rewrite_failed: u64,
    /// Bytes in the cores' base files.
    aof_base_size: u64,
    /// The caller's key triggers that ran.
    triggers_run: u64,
    /// The caller's key triggers that failed.
    trigger_failures: u64,
    /// The caller's key triggers not run (depth limit, turn cap).
    triggers_dropped: u64,
    /// Keys evicted for a memory bound.
    evicted: u64,
}

/// Number of shard figures after the [`CoreStats`] fields.
const SHARD_FIELDS: usize = 18;

/// One core's part: its counters, then the caller's shard's figures and
/// the client output buffers it counts. An operator's memory, client buffers
/// and hit/miss/expiry counters cover every tenant; its key counts, like
/// its DBSIZE, its own. A tenant's client buffers are its connections'.
pub(super) fn info_part(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let mine = std::iter::once(&*ctx.shard);
    let counted: Vec<&Shard> = mine
        .chain(ctx.others.iter().flat_map(|o| o.iter()))
        .collect();
    let sum = |f: fn(&Shard) -> u64| counted.iter().map(|s| f(s)).sum::<u64>();
    let clients = if ctx.shared.tenants.is_operator(ctx.tenant) {
        ctx.shared.clients[ctx.core].load(std::sync::atomic::Ordering::Relaxed)
    } else {
        let usage = ctx.shared.tenants.usage(ctx.core, ctx.tenant);
        usage.output.load(std::sync::atomic::Ordering::Relaxed)
    };
    // The caller's own triggers on this core.
    let usage = ctx.shared.tenants.usage(ctx.core, ctx.tenant);
    let load =
        |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
    let log = ctx.journal.as_deref().and_then(Journal::status);
    let rewrites = ctx.journal.as_deref().map(|j| j.rewrites);
    let shard = [
        ctx.shard.len() as u64,
        ctx.shard.volatile_len() as u64,
        ctx.shard.avg_ttl_ms(),
        sum(|s| s.used_memory() as u64),
        sum(|s| s.stats().keyspace_hits),
        sum(|s| s.stats().keyspace_misses),
        sum(|s| s.stats().expired_keys),
        clients,
        log.as_ref().map_or(0, |s| s.size),
        u64::from(log.is_some_and(|s| s.error.is_some())),
        u64::from(rewrites.is_some_and(|r| r.in_progress || r.requested)),
        rewrites.map_or(0, |r| r.done),
        u64::from(rewrites.is_some_and(|r| r.last_failed)),
        rewrites.map_or(0, |r| r.base_size),
        load(&usage.triggers_run),
        load(&usage.trigger_failures),
        load(&usage.triggers_dropped),
        sum(|s| s.stats().evicted_keys),
    ];
    let mut stats = CoreStats::from_fields(&ctx.stats.to_fields());
    if let Some(runtime) = ctx.functions.as_deref() {
        let isolates = runtime.isolate_stats();
        stats.isolates = isolates.kept as u64;
        stats.isolate_heap_bytes = isolates.heap_bytes as u64;
        stats.isolates_created = isolates.created;
        stats.isolates_evicted = isolates.evicted;
        stats.function_calls_throttled = isolates.throttled;
    }
    let fields = stats.to_fields().into_iter().chain(shard.map(|v| v as i64));
    let mut part: Vec<Reply> = fields.map(Reply::Integer).collect();
    if wants_command_figures(args.iter().skip(1), ctx.tenant) {
        part.push(command_figures(ctx));
    }
    Reply::Array(part)
}

/// Whether `INFO` with `requested` sections prints anything from the
/// cores' command figures: `commandstats`, `latencystats`, or the caller's
/// own `# Tenant` section (by default for a tenant, see [`tenant_sections`]).
fn wants_command_figures<'a>(requested: impl Iterator<Item = &'a [u8]>, tenant: TenantId) -> bool {
    let requested: Vec<String> = requested
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let asked = |name: &str| requested.iter().any(|r| r == name);
    let default = requested.is_empty() || asked("default");
    [
        "commandstats",
        "latencystats",
        "tenant",
        "all",
        "everything",
    ]
    .iter()
    .any(|s| asked(s))
        || (default && !tenant.is_default())
}

/// This core's command figures in the caller's scope (an operator: every
/// tenant's; a tenant: its own), then the caller's own function figures:
/// `[commands, [calls, nanos, killed...]]`.
fn command_figures(ctx: &Ctx<'_>) -> Reply {
    let operator = ctx.shared.tenants.is_operator(ctx.tenant);
    let mut figures = latency::ByCommand::new();
    for (tenant, rows) in ctx.stats.commands.all() {
        if operator || tenant == ctx.tenant {
            latency::merge_rows(&mut figures, rows);
        }
    }
    let own = ctx.stats.commands.of(ctx.tenant);
    let functions = own.map_or(&[][..], |rows| rows.functions());
    let killed = own.map_or([0; 3], |rows| rows.totals().killed);
    let totals = [
        functions.iter().map(|f| f.calls).sum::<u64>(),
        functions.iter().map(|f| f.nanos).sum::<u64>(),
    ]
    .into_iter()
    .chain(killed)
    .map(|v| Reply::Integer(v as i64))
    .collect();
    Reply::Array(vec![latency::to_reply(&figures), Reply::Array(totals)])
}

/// The caller's function figures summed over cores: calls, nanoseconds,
/// calls killed by [`crate::metrics::accounting::Killed::ALL`] order.
#[derive(Debug, Default, Clone, Copy)]
struct FunctionFigures {
    calls: u64,
    nanos: u64,
    killed: [u64; 3],
}

impl ServerFigures {
    /// Adds one core's [`info_part`] output.
    fn add_part(&mut self, part: &[i64]) {
        let n = part.len().saturating_sub(SHARD_FIELDS);
        self.stats.add(&CoreStats::from_fields(&part[..n]));
        let f = |i: usize| part.get(n + i).copied().unwrap_or(0).max(0) as u64;
        self.keys += f(0);
        self.volatile += f(1);
        self.ttl_weight += f(2).saturating_mul(f(1));
        self.used_memory += f(3);
        self.hits += f(4);
        self.misses += f(5);
        self.expired += f(6);
        self.clients_memory += f(7);
        self.aof_size += f(8);
        self.aof_failed += f(9);
        self.aof_rewriting += f(10);
        self.aof_rewrites += f(11);
        self.aof_rewrite_failed += f(12);
        self.aof_base_size += f(13);
        self.triggers_run += f(14);
        self.trigger_failures += f(15);
        self.triggers_dropped += f(16);
        self.evicted += f(17);
    }
}

/// What INFO reports about the process and configuration.
#[derive(Debug, Clone, PartialEq)]
struct Environment {
    os: String,
    pid: u32,
    run_id: String,
    port: u16,
    now_us: u64,
    uptime_s: u64,
    hz: u64,
    executable: String,
    config_file: String,
    core_ports: String,
    cores: usize,
    maxclients: u64,
    maxmemory: u64,
    policy: &'static str,
    rss: Option<u64>,
    cpu_sys_us: u64,
    cpu_user_us: u64,
    aof_enabled: bool,
    loading: bool,
    save: crate::save::SaveInfo,
}

impl Environment {
    fn read(shared: &Shared) -> Environment {
        let (cpu_sys_us, cpu_user_us) = cpu_times_us();
        Environment {
            os: os_name(),
            pid: std::process::id(),
            run_id: shared.run_id.clone(),
            port: shared.main_addr.port(),
            now_us: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64),
            uptime_s: shared.started.elapsed().as_secs(),
            hz: shared.settings.hz,
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            config_file: shared
                .settings
                .config_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            core_ports: shared
                .slots
                .nodes
                .iter()
                .map(|n| n.port.to_string())
                .collect::<Vec<_>>()
                .join(","),
            cores: shared.cores(),
            maxclients: LiveSettings::get(&shared.runtime.maxclients),
            maxmemory: LiveSettings::get(&shared.runtime.maxmemory),
            policy: shared.runtime.policy().name(),
            rss: resident_bytes(),
            cpu_sys_us,
            cpu_user_us,
            aof_enabled: shared.settings.aof.enabled,
            loading: shared.loading.load(std::sync::atomic::Ordering::Relaxed) > 0,
            save: shared.saves.info(),
        }
    }
}

/// `Linux 6.1.0 x86_64`, as Redis prints `uname`.
fn os_name() -> String {
    let read = |p| {
        std::fs::read_to_string(p)
            .map(|s: String| s.trim().to_owned())
            .ok()
    };
    match (
        read("/proc/sys/kernel/ostype"),
        read("/proc/sys/kernel/osrelease"),
    ) {
        (Some(ty), Some(rel)) => format!("{ty} {rel} {}", std::env::consts::ARCH),
        _ => format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
    }
}

/// Resident set size from `/proc/self/status`, where available.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// System and user CPU time of the whole process, in microseconds.
fn cpu_times_us() -> (u64, u64) {
    // SAFETY: getrusage only writes the struct we pass, which lives for the
    // call; an all-zero `rusage` is a valid value.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return (0, 0);
        }
        usage
    };
    let us = |t: libc::timeval| t.tv_sec.max(0) as u64 * 1_000_000 + t.tv_usec.max(0) as u64;
    (us(usage.ru_stime), us(usage.ru_utime))
}

/// Redis's `bytesToHuman`: `512B`, `1.50K`, `2.00M`...
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["K", "M", "G", "T", "P"];
    if n < 1024 {
        return format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2}{}", UNITS[unit])
}

/// INFO's sections, in output order (Redis's order: commandstats and
/// latencystats after cpu).
const SECTIONS: [&str; 12] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "latencystats",
    "cluster",
    "functions",
    "keyspace",
];

/// Sections only `INFO all`, `INFO everything` or their own name print
/// (as Redis 7.2: default INFO leaves them out).
const NOT_DEFAULT: [&str; 2] = ["commandstats", "latencystats"];

/// Which sections `INFO [section ...]` asks for, in output order.
fn selected_sections<'a>(requested: impl Iterator<Item = &'a [u8]>) -> Vec<&'static str> {
    let requested: Vec<String> = requested
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let default = requested.is_empty() || requested.iter().any(|s| s == "default");
    let all = requested
        .iter()
        .any(|s| matches!(s.as_str(), "all" | "everything"));
    SECTIONS
        .into_iter()
        .filter(|s| {
            all || (default && !NOT_DEFAULT.contains(s)) || requested.iter().any(|r| r == s)
        })
        .collect()
}

/// The INFO text: `# Section` headers, `field:value` lines ending in CRLF,
/// sections separated by an empty line.
fn format_info(
    sections: &[&str],
    fig: &ServerFigures,
    env: &Environment,
    commands: &latency::ByCommand,
) -> String {
    let mut out = String::new();
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let mut title = section.to_string();
        title[..1].make_ascii_uppercase();
        if *section == "cpu" {
            title = "CPU".into();
        }
        let _ = write!(out, "# {title}\r\n");
        if *section == "commandstats" || *section == "latencystats" {
            for (name, merged) in commands {
                let line = match (*section, &merged.latency) {
                    ("commandstats", _) => latency::commandstat_line(name, merged),
                    (_, Some(h)) => Some(latency::latencystat_line(name, h)),
                    _ => None,
                };
                if let Some(line) = line {
                    let _ = write!(out, "{line}\r\n");
                }
            }
            continue;
        }
        let lines: Vec<(&str, String)> = match *section {
            "server" => vec![
                ("redis_version", REDIS_VERSION.into()),
                ("redis_git_sha1", "00000000".into()),
                ("redis_git_dirty", "0".into()),
                ("redis_mode", "standalone".into()),
                ("os", env.os.clone()),
                ("arch_bits", "64".into()),
                ("multiplexing_api", "epoll".into()),
                ("process_id", env.pid.to_string()),
                ("run_id", env.run_id.clone()),
                ("tcp_port", env.port.to_string()),
                ("server_time_usec", env.now_us.to_string()),
                ("uptime_in_seconds", env.uptime_s.to_string()),
                ("uptime_in_days", (env.uptime_s / 86400).to_string()),
                ("hz", env.hz.to_string()),
                ("configured_hz", env.hz.to_string()),
                ("executable", env.executable.clone()),
                ("config_file", env.config_file.clone()),
                ("kiln_version", env!("CARGO_PKG_VERSION").into()),
                ("kiln_cores", env.cores.to_string()),
                ("kiln_core_ports", env.core_ports.clone()),
            ],
            "clients" => vec![
                ("connected_clients", fig.connected_clients.to_string()),
                ("maxclients", env.maxclients.to_string()),
                ("blocked_clients", "0".into()),
                ("tracking_clients", "0".into()),
            ],
            "memory" => {
                // As in Redis, used memory includes client buffers.
                let used = fig.used_memory + fig.clients_memory;
                let mut lines = vec![
                    ("used_memory", used.to_string()),
                    ("used_memory_human", human_bytes(used)),
                ];
                if let Some(rss) = env.rss {
                    lines.push(("used_memory_rss", rss.to_string()));
                    lines.push(("used_memory_rss_human", human_bytes(rss)));
                }
                lines.extend([
                    ("used_memory_dataset", fig.used_memory.to_string()),
                    ("mem_clients_slaves", "0".into()),
                    ("mem_clients_normal", fig.clients_memory.to_string()),
                    ("maxmemory", env.maxmemory.to_string()),
                    ("maxmemory_human", human_bytes(env.maxmemory)),
                    ("maxmemory_policy", env.policy.into()),
                ]);
                lines
            }
            "persistence" => {
                let flag = |on: bool| u8::from(on).to_string();
                let status = |failed: bool| if failed { "err" } else { "ok" }.to_string();
                vec![
                    ("loading", flag(env.loading)),
                    ("async_loading", "0".into()),
                    (
                        "rdb_changes_since_last_save",
                        env.save.changes_since_last_save.to_string(),
                    ),
                    ("rdb_bgsave_in_progress", flag(env.save.in_progress)),
                    ("rdb_last_save_time", env.save.last_save.to_string()),
                    ("rdb_last_bgsave_status", status(!env.save.last_ok)),
                    ("rdb_last_bgsave_time_sec", env.save.last_secs.to_string()),
                    (
                        "rdb_current_bgsave_time_sec",
                        env.save.current_secs.to_string(),
                    ),
                    ("rdb_saves", env.save.saves.to_string()),
                    ("aof_enabled", flag(env.aof_enabled)),
                    ("aof_rewrite_in_progress", flag(fig.aof_rewriting > 0)),
                    ("aof_rewrite_scheduled", "0".into()),
                    ("aof_last_write_status", status(fig.aof_failed > 0)),
                    (
                        "aof_last_bgrewrite_status",
                        status(fig.aof_rewrite_failed > 0),
                    ),
                    ("aof_rewrites", fig.aof_rewrites.to_string()),
                    (
                        "aof_current_size",
                        (fig.aof_base_size + fig.aof_size).to_string(),
                    ),
                    ("aof_base_size", fig.aof_base_size.to_string()),
                ]
            }
            "stats" => vec![
                (
                    "total_connections_received",
                    fig.stats.net.connections_received.to_string(),
                ),
                (
                    "total_commands_processed",
                    fig.stats.commands_processed.to_string(),
                ),
                (
                    "instantaneous_ops_per_sec",
                    fig.stats.instantaneous_ops_per_sec.to_string(),
                ),
                (
                    "total_net_input_bytes",
                    fig.stats.net.input_bytes.to_string(),
                ),
                (
                    "total_net_output_bytes",
                    fig.stats.net.output_bytes.to_string(),
                ),
                (
                    "rejected_connections",
                    fig.stats.rejected_connections.to_string(),
                ),
                (
                    "client_query_buffer_limit_disconnections",
                    fig.stats.net.query_buffer_limit_disconnections.to_string(),
                ),
                (
                    "client_output_buffer_limit_disconnections",
                    fig.stats.net.output_buffer_limit_disconnections.to_string(),
                ),
                ("expired_keys", fig.expired.to_string()),
                ("evicted_keys", fig.evicted.to_string()),
                ("keyspace_hits", fig.hits.to_string()),
                ("keyspace_misses", fig.misses.to_string()),
                ("total_error_replies", fig.stats.error_replies.to_string()),
                (
                    "kiln_forwarded_requests",
                    fig.stats.forwarded_requests.to_string(),
                ),
                (
                    "kiln_protocol_errors",
                    fig.stats.net.protocol_errors.to_string(),
                ),
            ],
            "replication" => vec![
                ("role", "master".into()),
                ("connected_slaves", "0".into()),
                ("master_repl_offset", "0".into()),
            ],
            "cpu" => {
                let secs = |us: u64| format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
                vec![
                    ("used_cpu_sys", secs(env.cpu_sys_us)),
                    ("used_cpu_user", secs(env.cpu_user_us)),
                ]
            }
            "cluster" => vec![("cluster_enabled", "1".into())],
            "functions" => vec![
                ("functions_isolates", fig.stats.isolates.to_string()),
                (
                    "functions_isolates_heap_bytes",
                    fig.stats.isolate_heap_bytes.to_string(),
                ),
                (
                    "functions_isolates_created",
                    fig.stats.isolates_created.to_string(),
                ),
                (
                    "functions_isolates_evicted",
                    fig.stats.isolates_evicted.to_string(),
                ),
                (
                    "functions_calls_throttled",
                    fig.stats.function_calls_throttled.to_string(),
                ),
                ("functions_triggers_run", fig.triggers_run.to_string()),
                (
                    "functions_trigger_failures",
                    fig.trigger_failures.to_string(),
                ),
                (
                    "functions_triggers_dropped",
                    fig.triggers_dropped.to_string(),
                ),
            ],
            _ if fig.keys > 0 => {
                let avg_ttl = fig.ttl_weight.checked_div(fig.volatile).unwrap_or(0);
                let db = format!(
                    "keys={},expires={},avg_ttl={avg_ttl}",
                    fig.keys, fig.volatile
                );
                vec![("db0", db)]
            }
            _ => Vec::new(),
        };
        for (name, value) in lines {
            let _ = write!(out, "{name}:{value}\r\n");
        }
    }
    out
}

/// Combine for `INFO`: sums the cores' parts and formats the sections asked
/// for.
pub(super) fn info_combine(f: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    let mut figures = ServerFigures::default();
    let mut commands = latency::ByCommand::new();
    let mut functions = FunctionFigures::default();
    for out in outputs {
        match out.into_reply() {
            Reply::Array(mut items) => {
                if let Some(Reply::Array(extra)) = items.last() {
                    if let [by_command, Reply::Array(totals)] = &extra[..] {
                        latency::add_reply(&mut commands, by_command);
                        let n = |i: usize| match totals.get(i) {
                            Some(Reply::Integer(v)) => (*v).max(0) as u64,
                            _ => 0,
                        };
                        functions.calls += n(0);
                        functions.nanos += n(1);
                        for (k, killed) in functions.killed.iter_mut().enumerate() {
                            *killed += n(2 + k);
                        }
                    }
                    items.pop();
                }
                let part: Vec<i64> = items
                    .iter()
                    .map(|r| if let Reply::Integer(n) = r { *n } else { 0 })
                    .collect();
                figures.add_part(&part);
            }
            err @ Reply::Error(_) => return err,
            _ => return Reply::error("ERR internal: expected an array part"),
        }
    }
    figures.connected_clients = f
        .part_cores
        .iter()
        .map(|&core| f.shared.connections[core].load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    let mut env = Environment::read(f.shared);
    let tenants = &f.shared.tenants;
    let operator = tenants.is_operator(f.tenant);
    if !operator {
        // A tenant sees its own clients, commands and quota, not the server's.
        let own = tenants.figures(f.tenant);
        figures.connected_clients = own.connections;
        figures.stats.commands_processed = own.commands;
        let limits = tenants.limits(f.tenant);
        env.maxmemory = limits.maxmemory;
        env.policy = limits.maxmemory_policy.0.name();
    }
    let args = f.args.args();
    let sections = selected_sections(args.iter().skip(1));
    let mut text = format_info(&sections, &figures, &env, &commands);
    for section in tenant_sections(args.iter().skip(1), f.tenant, operator) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        text.push_str(&tenant_section(section, tenants, f.tenant));
        if section == "tenant" {
            text.push_str(&function_lines(&functions));
        }
    }
    text_reply(f.protocol, text.into())
}

/// Which of Kiln's tenant sections `INFO [section ...]` asks for: `tenant`
/// (the caller's own figures; by default for tenants) and `tenants` (every
/// tenant, operators only; with `all` / `everything`).
fn tenant_sections<'a>(
    requested: impl Iterator<Item = &'a [u8]>,
    tenant: TenantId,
    operator: bool,
) -> Vec<&'static str> {
    let requested: Vec<String> = requested
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let asked = |name: &str| requested.iter().any(|r| r == name);
    let default = requested.is_empty() || asked("default");
    let all = asked("all") || asked("everything");
    let mut out = Vec::new();
    if asked("tenant") || ((default || all) && !tenant.is_default()) {
        out.push("tenant");
    }
    if operator && (asked("tenants") || all) {
        out.push("tenants");
    }
    out
}

/// The tenant's function figures, at the end of `# Tenant`.
fn function_lines(f: &FunctionFigures) -> String {
    let mut out = format!(
        "tenant_function_calls:{}\r\ntenant_function_cpu_usec:{}\r\n",
        f.calls,
        f.nanos / 1000
    );
    for (why, n) in crate::metrics::accounting::Killed::ALL.iter().zip(f.killed) {
        let _ = write!(out, "tenant_function_calls_killed_{}:{n}\r\n", why.label());
    }
    out
}

/// `# Tenant` (the caller's figures and limits) or `# Tenants` (one line
/// per tenant, like `# Keyspace`).
fn tenant_section(section: &str, tenants: &Tenants, me: TenantId) -> String {
    let describe = |id: TenantId| {
        let f = tenants.figures(id);
        let mut fields = vec![
            ("used_memory", f.memory + f.output),
            ("keys", f.keys),
            ("connected_clients", f.connections),
            ("commands_processed", f.commands),
            ("rejected_commands", f.rejected),
            ("mem_clients_normal", f.output),
            ("used_cpu_usec", f.cpu_us),
            ("evicted_keys", f.evicted),
            ("net_input_bytes", f.net_input),
            ("net_output_bytes", f.net_output),
        ];
        fields.extend(tenants.limits(id).pairs());
        fields
    };
    let mut out = String::new();
    if section == "tenant" {
        let _ = write!(out, "# Tenant\r\ntenant_name:{}\r\n", tenants.name(me));
        for (name, value) in describe(me) {
            let _ = write!(out, "tenant_{name}:{value}\r\n");
        }
        return out;
    }
    out.push_str("# Tenants\r\n");
    let everyone = std::iter::once((TenantId::DEFAULT, DEFAULT_USER.to_string()))
        .chain(tenants.list().into_iter().map(|(id, user)| (id, user.name)));
    for (id, name) in everyone {
        let fields: Vec<String> = describe(id)
            .into_iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let _ = write!(out, "{name}:{}\r\n", fields.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use kiln_net::{OwnedArgs, Protocol};

    use super::*;
    use crate::commands::testbed::TestBed;

    fn args(parts: &[&str]) -> OwnedArgs {
        OwnedArgs::new(parts.iter().map(|p| p.as_bytes()))
    }

    fn env() -> Environment {
        Environment {
            os: "Linux 6.1.0 x86_64".into(),
            pid: 42,
            run_id: "r".repeat(40),
            port: 7379,
            now_us: 1,
            uptime_s: 90_000,
            hz: 10,
            executable: "/bin/kiln-server".into(),
            config_file: "/etc/kiln.toml".into(),
            core_ports: "7380,7381".into(),
            cores: 2,
            maxclients: 10_000,
            maxmemory: 3 << 20,
            policy: "noeviction",
            rss: Some(2048),
            cpu_sys_us: 1_500_000,
            cpu_user_us: 25,
            aof_enabled: true,
            loading: false,
            save: crate::save::SaveInfo {
                changes_since_last_save: 3,
                in_progress: false,
                last_save: 1_700_000_000,
                last_ok: true,
                last_secs: -1,
                current_secs: -1,
                saves: 0,
            },
        }
    }

    #[test]
    fn figures_sum_and_weight_ttl() {
        let mut fig = ServerFigures::default();
        let stats = |n: i64| CoreStats::from_fields(&[n; 9]).to_fields();
        let part =
            |n, shard: [i64; SHARD_FIELDS]| stats(n).into_iter().chain(shard).collect::<Vec<_>>();
        fig.add_part(&part(
            1,
            [
                10, 2, 100, 1000, 5, 6, 7, 100, 300, 0, 1, 2, 0, 1000, 3, 1, 0, 7,
            ],
        ));
        fig.add_part(&part(
            2,
            [4, 2, 300, 24, 1, 1, 1, 20, 200, 1, 0, 1, 1, 500, 2, 0, 1, 2],
        ));
        assert_eq!(fig.evicted, 9);
        assert_eq!(fig.stats.commands_processed, 3);
        assert_eq!((fig.keys, fig.volatile, fig.used_memory), (14, 4, 1024));
        assert_eq!(fig.clients_memory, 120);
        let memory = format_info(&["memory"], &fig, &env(), &Default::default());
        assert!(memory.contains("used_memory:1144\r\n"), "{memory}");
        assert!(memory.contains("used_memory_dataset:1024\r\n"), "{memory}");
        assert!(memory.contains("mem_clients_normal:120\r\n"), "{memory}");
        assert_eq!((fig.hits, fig.misses, fig.expired), (6, 7, 8));
        let text = format_info(&["keyspace"], &fig, &env(), &Default::default());
        assert_eq!(text, "# Keyspace\r\ndb0:keys=14,expires=4,avg_ttl=200\r\n");
        let functions = format_info(&["functions"], &fig, &env(), &Default::default());
        for line in [
            "functions_triggers_run:5",
            "functions_trigger_failures:1",
            "functions_triggers_dropped:1",
        ] {
            assert!(
                functions.contains(&format!("{line}\r\n")),
                "{line}: {functions}"
            );
        }
        let persistence = format_info(&["persistence"], &fig, &env(), &Default::default());
        assert!(persistence.contains("aof_enabled:1\r\n"), "{persistence}");
        for line in [
            "aof_current_size:2000",
            "aof_base_size:1500",
            "aof_rewrite_in_progress:1",
            "aof_rewrites:3",
            "aof_last_bgrewrite_status:err",
        ] {
            assert!(
                persistence.contains(&format!("{line}\r\n")),
                "{line}: {persistence}"
            );
        }
        assert!(
            persistence.contains("aof_last_write_status:err\r\n"),
            "{persistence}"
        );
    }

    #[test]
    fn info_text_layout() {
        let fig = ServerFigures::default();
        let all = format_info(
            &selected_sections(std::iter::empty()),
            &fig,
            &env(),
            &Default::default(),
        );
        assert!(all.starts_with("# Server\r\nredis_version:7.2.4\r\n"));
        assert!(all.contains("\r\nuptime_in_days:1\r\n"));
        assert!(all.contains("\r\n\r\n# Clients\r\nconnected_clients:0\r\nmaxclients:10000\r\n"));
        assert!(all.contains(
            "used_memory_human:0B\r\nused_memory_rss:2048\r\nused_memory_rss_human:2.00K\r\n"
        ));
        assert!(all.contains("maxmemory_human:3.00M\r\n"));
        assert!(all.contains("# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:0.000025\r\n"));
        assert!(all.contains("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"));
        assert!(all.contains("# Cluster\r\ncluster_enabled:1\r\n"));
        assert!(all.ends_with("\r\n\r\n# Keyspace\r\n"));
        let some = format_info(
            &selected_sections([&b"CLUSTER"[..], b"stats"].into_iter()),
            &fig,
            &env(),
            &Default::default(),
        );
        assert!(some.starts_with("# Stats\r\n") && some.contains("\r\n\r\n# Cluster\r\n"));
        assert_eq!(
            selected_sections([&b"nope"[..]].into_iter()),
            Vec::<&str>::new()
        );
        assert_eq!(
            selected_sections([&b"Everything"[..]].into_iter()).len(),
            SECTIONS.len()
        );
    }

    #[test]
    fn command_sections_only_when_asked() {
        let names = |req: &[&str]| selected_sections(req.iter().map(|s| s.as_bytes()));
        let default = names(&[]);
        assert!(!default.contains(&"commandstats") && !default.contains(&"latencystats"));
        assert_eq!(names(&["default"]), default);
        let all = names(&["all"]);
        let at = |name| all.iter().position(|s| *s == name).unwrap();
        assert!(at("cpu") < at("commandstats") && at("commandstats") < at("latencystats"));
        assert!(at("latencystats") < at("cluster"));
        assert_eq!(names(&["LatencyStats"]), ["latencystats"]);
        let mut commands = latency::ByCommand::new();
        let mut h = crate::metrics::accounting::new_latency();
        crate::metrics::accounting::record_ns(&mut h, 1000, 2);
        commands.insert(
            "get",
            latency::Merged {
                calls: 2,
                nanos: 2000,
                latency: Some(h),
                ..Default::default()
            },
        );
        commands.insert(
            "set",
            latency::Merged {
                rejected: 1,
                ..Default::default()
            },
        );
        let fig = ServerFigures::default();
        let text = format_info(&["commandstats", "latencystats"], &fig, &env(), &commands);
        assert_eq!(
            text,
            "# Commandstats\r\n\
             cmdstat_get:calls=2,usec=2,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n\
             cmdstat_set:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n\
             \r\n# Latencystats\r\n\
             latency_percentiles_usec_get:p50=1.003,p99=1.003,p99.9=1.003\r\n"
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(0), "0B");
        assert_eq!(human_bytes(1023), "1023B");
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(5 << 30), "5.00G");
    }

    #[test]
    fn info_runs_per_core_and_combines() {
        let mut bed = TestBed::new();
        bed.shard.flush();
        let Reply::Array(part) = bed.run(&["INFO"]) else {
            panic!()
        };
        assert_eq!(
            part.len(),
            CoreStats::default().to_fields().len() + SHARD_FIELDS
        );
        let request = args(&["INFO", "server"]);
        let f = Finishing {
            spec: crate::commands::table()[0],
            args: &request,
            protocol: Protocol::Resp3,
            part_keys: &[],
            part_cores: &[0],
            shared: &bed.shared,
            core: 0,
            tenant: crate::tenant::TenantId::DEFAULT,
        };
        let Reply::Verbatim("txt", text) =
            info_combine(&f, vec![Output::Reply(Reply::Array(part))])
        else {
            panic!()
        };
        assert!(text.starts_with(b"# Server\r\n"));
        assert!(!text.windows(9).any(|w| w == b"# Clients"));
    }
}
