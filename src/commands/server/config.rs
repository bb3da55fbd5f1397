//! `CONFIG GET`, `SET`, `RESETSTAT`, `REWRITE`, `HELP`: parameters read from
//! the settings and [`LiveSettings`]; `SET` writes the runtime atomics every core
//! reads, so a change through any core applies everywhere.

use std::sync::atomic::{AtomicU64, Ordering};

use kiln_net::{Args, Reply};

use kiln_persist::aof::Fsync;
use kiln_store::EncodingLimits;

use crate::commands::Ctx;
use crate::config::{MAX_CLIENTS, MAX_PIPELINE_LIMIT, MAX_TIMEOUT_SECS, OutputBufferLimits};
use crate::shared::{LiveSettings, Shared};
use crate::stats::CoreStats;

const CONFIG_HELP: &[&str] = &[
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
];

/// `CONFIG HELP`, or the unknown-subcommand error.
pub(super) fn config(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    crate::commands::help_or_unknown(args, "CONFIG", CONFIG_HELP)
}

/// How `CONFIG SET` treats a parameter.
#[derive(Clone, Copy)]
enum ParamKind {
    /// Read-only after start.
    Immutable,
    /// A size with units, within bounds, stored in a runtime atomic.
    Size(fn(&LiveSettings) -> &AtomicU64, u64, u64),
    /// A plain integer within bounds, stored in a runtime atomic.
    Int(fn(&LiveSettings) -> &AtomicU64, u64, u64),
    /// `requirepass`.
    Password,
    /// `maxclients`: the open-file limit is raised to fit first.
    Clients,
    /// `client-output-buffer-limit` in Redis's class/hard/soft/seconds form.
    OutputBuffer,
    /// The calling tenant's `notify-keyspace-events`: each tenant has its
    /// own (see [`own_config`]).
    TenantEvents,
    /// `slowlog-log-slower-than`: microseconds, -1 and up (negative: off).
    SlowerThan,
    /// `save`: the snapshot schedule.
    Save,
    /// `maxmemory-policy`: one of Redis's eviction policies.
    Policy,
    /// Changes only at start: `CONFIG SET` accepts the value it has.
    AtStart,
    /// `appendfsync`: `always`, `everysec` or `no`.
    Fsync,
    /// `rdbcompression`: `yes` or `no`, for the whole process.
    Compression,
    /// `loglevel`: one of Redis's names, applied to the log at once.
    LogLevel,
    /// A collection encoding threshold: a plain integer, or a memory value
    /// (`1kb`) when `memory`, within `min..=max`.
    Encoding {
        set: fn(&mut EncodingLimits, i64),
        min: i64,
        max: i64,
        memory: bool,
    },
}

/// A `CONFIG` parameter: its name, how to read it, how to set it.
struct Param {
    name: &'static str,
    get: fn(&Shared) -> String,
    kind: ParamKind,
}

/// An encoding threshold's `CONFIG` parameter, read from the live limits.
macro_rules! encoding_param {
    ($name:literal, $field:ident, $ty:ty, $min:expr, $max:expr, $memory:expr) => {
        Param {
            name: $name,
            get: |s| s.runtime.encoding_limits().0.$field.to_string(),
            kind: ParamKind::Encoding {
                // In range by `min..=max`, checked before it is set.
                set: |limits, n| limits.$field = n as $ty,
                min: $min,
                max: $max,
                memory: $memory,
            },
        }
    };
}

/// Redis's bound of a `size_t` threshold (`LONG_MAX`).
const SIZE_MAX: i64 = i64::MAX;
/// Redis's bounds of `list-max-listpack-size` (an `int`).
const LIST_FILL: (i64, i64) = (i32::MIN as i64, i32::MAX as i64);

const PARAMS: &[Param] = &[
    Param {
        name: "bind",
        get: |s| s.settings.bind.to_string(),
        kind: ParamKind::Immutable,
    },
    Param {
        name: "port",
        get: |s| s.main_addr.port().to_string(),
        kind: ParamKind::Immutable,
    },
    Param {
        name: "cores",
        get: |s| s.cores().to_string(),
        kind: ParamKind::Immutable,
    },
    Param {
        name: "core-port-base",
        get: |s| s.settings.core_port_base.to_string(),
        kind: ParamKind::Immutable,
    },
    Param {
        name: "cluster-announce-ip",
        get: |s| {
            s.settings
                .cluster_announce_ip
                .map(|ip| ip.to_string())
                .unwrap_or_default()
        },
        kind: ParamKind::Immutable,
    },
    Param {
        name: "requirepass",
        get: |s| s.runtime.requirepass().as_deref().unwrap_or("").to_owned(),
        kind: ParamKind::Password,
    },
    Param {
        name: "maxmemory",
        get: |s| LiveSettings::get(&s.runtime.maxmemory).to_string(),
        kind: ParamKind::Size(|r| &r.maxmemory, 0, u64::MAX),
    },
    Param {
        name: "notify-keyspace-events",
        // Read per tenant in `config_get`.
        get: |_| String::new(),
        kind: ParamKind::TenantEvents,
    },
    Param {
        name: "slowlog-log-slower-than",
        get: |s| {
            s.runtime
                .slowlog_slower_than
                .load(Ordering::Relaxed)
                .to_string()
        },
        kind: ParamKind::SlowerThan,
    },
    Param {
        name: "slowlog-max-len",
        get: |s| LiveSettings::get(&s.runtime.slowlog_max_len).to_string(),
        kind: ParamKind::Int(|r| &r.slowlog_max_len, 0, i64::MAX as u64),
    },
    Param {
        name: "latency-monitor-threshold",
        get: |s| LiveSettings::get(&s.runtime.latency_threshold_ms).to_string(),
        kind: ParamKind::Int(|r| &r.latency_threshold_ms, 0, i64::MAX as u64),
    },
    Param {
        name: "logfile",
        get: |s| s.settings.logfile.clone(),
        kind: ParamKind::Immutable,
    },
    Param {
        name: "loglevel",
        get: |s| {
            s.runtime
                .loglevel
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        },
        kind: ParamKind::LogLevel,
    },
    Param {
        name: "maxmemory-policy",
        get: |s| s.runtime.policy().name().into(),
        kind: ParamKind::Policy,
    },
    Param {
        name: "maxmemory-samples",
        get: |s| LiveSettings::get(&s.runtime.maxmemory_samples).to_string(),
        kind: ParamKind::Int(|r| &r.maxmemory_samples, 1, 64),
    },
    Param {
        name: "lfu-log-factor",
        get: |s| LiveSettings::get(&s.runtime.lfu_log_factor).to_string(),
        kind: ParamKind::Int(|r| &r.lfu_log_factor, 0, i32::MAX as u64),
    },
    Param {
        name: "lfu-decay-time",
        get: |s| LiveSettings::get(&s.runtime.lfu_decay_time).to_string(),
        kind: ParamKind::Int(|r| &r.lfu_decay_time, 0, i32::MAX as u64),
    },
    Param {
        name: "proto-max-bulk-len",
        get: |s| LiveSettings::get(&s.runtime.proto_max_bulk_len).to_string(),
        kind: ParamKind::Size(|r| &r.proto_max_bulk_len, 1024, u32::MAX as u64 / 2),
    },
    Param {
        name: "client-query-buffer-limit",
        get: |s| LiveSettings::get(&s.runtime.client_query_buffer_limit).to_string(),
        kind: ParamKind::Size(
            |r| &r.client_query_buffer_limit,
            1024 * 1024,
            u32::MAX as u64 - 1,
        ),
    },
    Param {
        name: "maxclients",
        get: |s| LiveSettings::get(&s.runtime.maxclients).to_string(),
        kind: ParamKind::Clients,
    },
    Param {
        name: "timeout",
        get: |s| LiveSettings::get(&s.runtime.timeout).to_string(),
        kind: ParamKind::Int(|r| &r.timeout, 0, MAX_TIMEOUT_SECS),
    },
    Param {
        name: "client-output-buffer-limit",
        get: |s| s.runtime.output_buffer_limits().to_string(),
        kind: ParamKind::OutputBuffer,
    },
    Param {
        name: "client-pipeline-limit",
        get: |s| LiveSettings::get(&s.runtime.client_pipeline_limit).to_string(),
        kind: ParamKind::Int(|r| &r.client_pipeline_limit, 1, MAX_PIPELINE_LIMIT),
    },
    Param {
        name: "partial-request-timeout",
        get: |s| LiveSettings::get(&s.runtime.partial_request_timeout).to_string(),
        kind: ParamKind::Int(|r| &r.partial_request_timeout, 0, MAX_TIMEOUT_SECS),
    },
    Param {
        name: "hz",
        get: |s| s.settings.hz.to_string(),
        kind: ParamKind::Immutable,
    },
    Param {
        name: "metrics-port",
        get: |s| s.settings.metrics_port.to_string(),
        kind: ParamKind::Immutable,
    },
    Param {
        name: "metrics-function-labels",
        get: |s| s.settings.metrics_function_labels.to_string(),
        kind: ParamKind::Immutable,
    },
    Param {
        name: "databases",
        get: |_| "1".into(),
        kind: ParamKind::Immutable,
    },
    Param {
        name: "save",
        get: |s| s.saves.points().to_string(),
        kind: ParamKind::Save,
    },
    Param {
        name: "dbfilename",
        get: |s| s.settings.dbfilename.clone(),
        kind: ParamKind::AtStart,
    },
    Param {
        name: "rdbcompression",
        get: |_| yes_no(kiln_persist::rdb::compression()),
        kind: ParamKind::Compression,
    },
    Param {
        name: "appendonly",
        get: |s| yes_no(s.settings.aof.enabled),
        kind: ParamKind::AtStart,
    },
    Param {
        name: "appendfsync",
        get: |s| s.runtime.appendfsync().to_string(),
        kind: ParamKind::Fsync,
    },
    Param {
        name: "appenddirname",
        get: |s| s.settings.aof.dirname.clone(),
        kind: ParamKind::Immutable,
    },
    Param {
        name: "appendfilename",
        get: |s| s.settings.aof.filename.clone(),
        kind: ParamKind::Immutable,
    },
    Param {
        name: "aof-load-truncated",
        get: |s| yes_no(s.settings.aof.load_truncated),
        kind: ParamKind::Immutable,
    },
    Param {
        name: "auto-aof-rewrite-percentage",
        get: |s| s.settings.aof.auto_rewrite_percentage.to_string(),
        kind: ParamKind::AtStart,
    },
    Param {
        name: "auto-aof-rewrite-min-size",
        get: |s| s.settings.aof.auto_rewrite_min_size.to_string(),
        kind: ParamKind::AtStart,
    },
    encoding_param!(
        "hash-max-listpack-entries",
        hash_max_listpack_entries,
        usize,
        0,
        SIZE_MAX,
        false
    ),
    encoding_param!(
        "hash-max-ziplist-entries",
        hash_max_listpack_entries,
        usize,
        0,
        SIZE_MAX,
        false
    ),
    encoding_param!(
        "hash-max-listpack-value",
        hash_max_listpack_value,
        usize,
        0,
        SIZE_MAX,
        true
    ),
    encoding_param!(
        "hash-max-ziplist-value",
        hash_max_listpack_value,
        usize,
        0,
        SIZE_MAX,
        true
    ),
    encoding_param!(
        "set-max-intset-entries",
        set_max_intset_entries,
        usize,
        0,
        SIZE_MAX,
        false
    ),
    encoding_param!(
        "set-max-listpack-entries",
        set_max_listpack_entries,
        usize,
        0,
        SIZE_MAX,
        false
    ),
    encoding_param!(
        "set-max-listpack-value",
        set_max_listpack_value,
        usize,
        0,
        SIZE_MAX,
        true
    ),
    encoding_param!(
        "zset-max-listpack-entries",
        zset_max_listpack_entries,
        usize,
        0,
        SIZE_MAX,
        false
    ),
    encoding_param!(
        "zset-max-ziplist-entries",
        zset_max_listpack_entries,
        usize,
        0,
        SIZE_MAX,
        false
    ),
    encoding_param!(
        "zset-max-listpack-value",
        zset_max_listpack_value,
        usize,
        0,
        SIZE_MAX,
        true
    ),
    encoding_param!(
        "zset-max-ziplist-value",
        zset_max_listpack_value,
        usize,
        0,
        SIZE_MAX,
        true
    ),
    encoding_param!(
        "list-max-listpack-size",
        list_max_listpack_size,
        i64,
        LIST_FILL.0,
        LIST_FILL.1,
        false
    ),
    encoding_param!(
        "list-max-ziplist-size",
        list_max_listpack_size,
        i64,
        LIST_FILL.0,
        LIST_FILL.1,
        false
    ),
];

/// The parameters each tenant has its own value of.
const TENANT_PARAMS: &[&str] = &["notify-keyspace-events"];

/// Whether `CONFIG GET`/`SET` names only the caller's own parameters
/// (`notify-keyspace-events`): then it is not an operator power, and any
/// tenant whose command rules allow `CONFIG` may run it (apps written for
/// Redis turn their notifications on themselves).
pub fn own_config(spec: &crate::commands::CommandSpec, args: Args<'_>) -> bool {
    let own = |name: &[u8]| {
        TENANT_PARAMS
            .iter()
            .any(|p| p.as_bytes().eq_ignore_ascii_case(name))
    };
    match spec.name {
        "config|get" => args.len() > 2 && args.iter().skip(2).all(own),
        "config|set" => args.len() > 3 && args.iter().skip(2).step_by(2).all(own),
        _ => false,
    }
}

/// A parameter's value as the calling tenant sees it.
fn value_of(param: &Param, ctx: &Ctx<'_>) -> String {
    match param.kind {
        ParamKind::TenantEvents => {
            crate::notify::format_flags(ctx.shared.tenants.notify_flags(ctx.tenant))
        }
        _ => (param.get)(ctx.shared),
    }
}

fn yes_no(on: bool) -> String {
    if on { "yes" } else { "no" }.into()
}

/// `CONFIG GET pattern [pattern ...]`: each matching parameter once.
pub(super) fn config_get(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let fields = PARAMS
        .iter()
        .filter(|p| {
            args.iter()
                .skip(2)
                .any(|pat| kiln_store::glob::glob_match(pat, p.name.as_bytes(), true))
        })
        .map(|p| (Reply::bulk_from(p.name), Reply::bulk_from(value_of(p, ctx))))
        .collect();
    Reply::Map(fields)
}

/// One validated `CONFIG SET` assignment.
enum Change {
    Number(fn(&LiveSettings) -> &AtomicU64, u64),
    Password(Option<String>),
    OutputBuffer(OutputBufferLimits),
    Encoding(fn(&mut EncodingLimits, i64), i64),
    TenantEvents(u16),
    SlowerThan(i64),
    /// A new `save` schedule.
    Save(crate::save::SavePoints),
    /// A new `loglevel`.
    LogLevel(String),
    /// `rdbcompression` on or off.
    Compression(bool),
    Nothing,
}

fn set_failed(name: &str, why: &str) -> Reply {
    Reply::error_owned(format!(
        "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ))
}

/// Validates every `name value` pair before anything is applied, so a
/// `CONFIG SET` changes all its parameters or none (as Redis 7 does).
/// `output`: the output buffer limits now (a class not named keeps its own).
fn parse_config_set(
    args: Args<'_>,
    shared: &Shared,
    output: OutputBufferLimits,
) -> Result<Vec<Change>, Reply> {
    let cores = shared.cores();
    // Names and values come in pairs after `CONFIG SET`.
    if args.len() & 1 == 1 {
        return Err(Reply::error(
            "ERR wrong number of arguments for 'config|set' command",
        ));
    }
    let mut params: Vec<&Param> = Vec::new();
    for i in (2..args.len()).step_by(2) {
        let name = args.get(i);
        let Some(param) = PARAMS
            .iter()
            .find(|p| p.name.as_bytes().eq_ignore_ascii_case(name))
        else {
            return Err(Reply::error_owned(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                String::from_utf8_lossy(name)
            )));
        };
        if matches!(param.kind, ParamKind::Immutable) {
            return Err(set_failed(param.name, "can't set immutable config"));
        }
        if params.iter().any(|p| p.name == param.name) {
            return Err(set_failed(param.name, "duplicate parameter"));
        }
        params.push(param);
    }
    let mut changes = Vec::new();
    for (param, i) in params.into_iter().zip((3..args.len()).step_by(2)) {
        let value = String::from_utf8_lossy(args.get(i));
        let current = (param.get)(shared);
        let in_range = |field, n: u64, min: u64, max: u64| {
            if (min..=max).contains(&n) {
                Ok(Change::Number(field, n))
            } else {
                Err(set_failed(
                    param.name,
                    &format!("argument must be between {min} and {max} inclusive"),
                ))
            }
        };
        let integer = || {
            let n = kiln_store::numeric::parse_i64(value.as_bytes()).ok_or_else(|| {
                set_failed(param.name, "argument couldn't be parsed into an integer")
            })?;
            // Negative numbers are out of every range here.
            Ok::<u64, Reply>(u64::try_from(n).unwrap_or(u64::MAX))
        };
        changes.push(match param.kind {
            ParamKind::Size(field, min, max) => {
                let n = crate::config::parse_size(&value)
                    .ok_or_else(|| set_failed(param.name, "argument must be a memory value"))?;
                in_range(field, n, min, max)?
            }
            ParamKind::Int(field, min, max) => in_range(field, integer()?, min, max)?,
            ParamKind::Clients => {
                let change = in_range(|r| &r.maxclients, integer()?, 1, MAX_CLIENTS)?;
                if let Change::Number(_, n) = change {
                    let fit = crate::fdlimit::raise_for(n, cores);
                    if fit < n {
                        return Err(set_failed(
                            param.name,
                            &format!(
                                "The operating system is not able to handle the specified number of clients, try with {fit}"
                            ),
                        ));
                    }
                }
                change
            }
            ParamKind::OutputBuffer => match output.parse_over(&value) {
                Ok(limits) => Change::OutputBuffer(limits),
                Err(why) => return Err(set_failed(param.name, why)),
            },
            ParamKind::Encoding {
                set,
                min,
                max,
                memory,
            } => {
                let n = if memory {
                    crate::config::parse_size(&value)
                        .and_then(|n| i64::try_from(n).ok())
                        .ok_or_else(|| set_failed(param.name, "argument must be a memory value"))?
                } else {
                    kiln_store::numeric::parse_i64(value.as_bytes()).ok_or_else(|| {
                        set_failed(param.name, "argument couldn't be parsed into an integer")
                    })?
                };
                if !(min..=max).contains(&n) {
                    return Err(set_failed(
                        param.name,
                        &format!("argument must be between {min} and {max} inclusive"),
                    ));
                }
                Change::Encoding(set, n)
            }
            ParamKind::SlowerThan => match kiln_store::numeric::parse_i64(value.as_bytes()) {
                Some(n) if n >= -1 => Change::SlowerThan(n),
                Some(_) => {
                    return Err(set_failed(
                        param.name,
                        &format!("argument must be between -1 and {} inclusive", i64::MAX),
                    ));
                }
                None => {
                    return Err(set_failed(
                        param.name,
                        "argument couldn't be parsed into an integer",
                    ));
                }
            },
            ParamKind::TenantEvents => match crate::notify::parse_flags(value.as_bytes()) {
                Some(flags) => Change::TenantEvents(flags),
                None => return Err(set_failed(param.name, crate::notify::INVALID_FLAGS)),
            },
            ParamKind::Save => match crate::save::SavePoints::parse(&value) {
                Ok(points) => Change::Save(points),
                Err(why) => return Err(set_failed(param.name, &why)),
            },
            ParamKind::Policy => match kiln_store::Policy::parse(&value) {
                Some(policy) => Change::Number(|r| &r.maxmemory_policy, u64::from(policy.code())),
                None => {
                    return Err(set_failed(
                        param.name,
                        "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
                    ));
                }
            },
            ParamKind::Password => Change::Password((!value.is_empty()).then(|| value.into_owned())),
            ParamKind::AtStart if value.eq_ignore_ascii_case(&current) => Change::Nothing,
            ParamKind::AtStart => {
                return Err(set_failed(
                    param.name,
                    "Kiln takes it only at start (config file or command line)",
                ));
            }
            ParamKind::LogLevel => {
                let level = value.to_ascii_lowercase();
                if !crate::config::REDIS_LOG_LEVELS.contains(&level.as_str()) {
                    return Err(set_failed(
                        param.name,
                        "argument(s) must be one of the following: debug, verbose, notice, warning, nothing",
                    ));
                }
                Change::LogLevel(level)
            }
            ParamKind::Fsync => match value.parse::<Fsync>() {
                Ok(fsync) => Change::Number(|r| &r.appendfsync, LiveSettings::fsync_code(fsync)),
                Err(_) => {
                    return Err(set_failed(
                        param.name,
                        "argument(s) must be one of the following: always, everysec, no",
                    ));
                }
            },
            ParamKind::Compression => match crate::config::parse_yes_no(&value) {
                Ok(on) => Change::Compression(on),
                Err(_) => {
                    return Err(set_failed(
                        param.name,
                        "argument must be 'yes' or 'no'",
                    ));
                }
            },
            ParamKind::Immutable => unreachable!("rejected above"),
        });
    }
    Ok(changes)
}

/// `CONFIG SET name value [name value ...]`
pub(super) fn config_set(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let output = ctx.shared.runtime.output_buffer_limits();
    let changes = match parse_config_set(args, ctx.shared, output) {
        Ok(changes) => changes,
        Err(reply) => return reply,
    };
    let runtime = &ctx.shared.runtime;
    for change in changes {
        match change {
            Change::Number(field, n) => field(runtime).store(n, Ordering::Relaxed),
            Change::Password(pass) => {
                *runtime
                    .requirepass
                    .write()
                    .unwrap_or_else(|e| e.into_inner()) = pass.map(Into::into);
            }
            Change::OutputBuffer(limits) => runtime.set_output_buffer_limits(limits),
            Change::Encoding(set, n) => runtime.update_encoding_limits(|limits| set(limits, n)),
            Change::SlowerThan(n) => runtime.slowlog_slower_than.store(n, Ordering::Relaxed),
            Change::Save(points) => ctx.shared.saves.set_points(points),
            Change::LogLevel(level) => {
                crate::config::reload_log_filter(&crate::config::log_filter(&level));
                *runtime.loglevel.write().unwrap_or_else(|e| e.into_inner()) = level;
            }
            Change::TenantEvents(flags) => ctx.shared.tenants.set_notify_flags(ctx.tenant, flags),
            Change::Compression(on) => kiln_persist::rdb::set_compression(on),
            Change::Nothing => {}
        }
    }
    Reply::OK
}

/// `CONFIG RESETSTAT`, one core's part (it runs on every core): zeroes the
/// counters INFO sums (connected clients is a gauge kept in shared state).
pub(super) fn config_resetstat(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    *ctx.stats = CoreStats::default();
    ctx.shard.reset_stats();
    // An operator's counters cover every tenant's keyspace.
    if let Some(others) = ctx.others.as_mut() {
        others.iter_mut().for_each(kiln_store::Shard::reset_stats);
    }
    Reply::OK
}

/// `CONFIG REWRITE`: Kiln's config file is TOML and never rewritten.
pub(super) fn config_rewrite(_: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::error("ERR The server is running without a config file")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testbed::TestBed;

    #[test]
    fn config_get_matches_globs_once() {
        let mut bed = TestBed::new();
        let reply = bed.run(&[
            "CONFIG",
            "GET",
            "maxmemory*",
            "maxmemory",
            "save",
            "appendonly",
        ]);
        let pairs = |names: &[(&str, &str)]| {
            Reply::Map(
                names
                    .iter()
                    .map(|(k, v)| (TestBed::bulk(k), TestBed::bulk(v)))
                    .collect(),
            )
        };
        assert_eq!(
            reply,
            pairs(&[
                ("maxmemory", "0"),
                ("maxmemory-policy", "noeviction"),
                ("maxmemory-samples", "5"),
                ("save", ""),
                ("appendonly", "no")
            ])
        );
        assert_eq!(
            bed.run(&["CONFIG", "GET", "nothing"]),
            Reply::Map(Vec::new())
        );
        assert_eq!(
            bed.run(&["CONFIG", "GET", "DATABASES"]),
            pairs(&[("databases", "1")])
        );
    }

    #[test]
    fn config_set_is_all_or_nothing() {
        let mut bed = TestBed::new();
        let rt = |bed: &TestBed| {
            (
                LiveSettings::get(&bed.shared.runtime.maxmemory),
                LiveSettings::get(&bed.shared.runtime.timeout),
            )
        };
        assert_eq!(
            bed.run(&["CONFIG", "SET", "maxmemory", "10mb", "timeout", "30"]),
            Reply::OK
        );
        assert_eq!(rt(&bed), (10 << 20, 30));
        assert_eq!(
            bed.run(&["CONFIG", "SET", "maxmemory", "1gb", "timeout", "x"]),
            Reply::error(
                "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"
            )
        );
        assert_eq!(rt(&bed), (10 << 20, 30));
        assert_eq!(
            bed.run(&["CONFIG", "SET", "port", "1"]),
            Reply::error(
                "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config"
            )
        );
        assert_eq!(
            bed.run(&["CONFIG", "SET", "foo", "1"]),
            Reply::error("ERR Unknown option or number of arguments for CONFIG SET - 'foo'")
        );
        assert_eq!(
            bed.run(&["CONFIG", "SET", "timeout", "1", "TIMEOUT", "2"]),
            Reply::error(
                "ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter"
            )
        );
        assert_eq!(
            bed.run(&["CONFIG", "SET", "maxmemory", "1x"]),
            Reply::error(
                "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"
            )
        );
        assert_eq!(
            bed.run(&["CONFIG", "SET", "timeout", "-1"]),
            Reply::error(
                "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive"
            )
        );
        assert!(
            bed.run(&["CONFIG", "SET", "maxmemory-policy", "lru"])
                .is_error()
        );
        assert_eq!(
            bed.run(&[
                "CONFIG",
                "SET",
                "maxmemory-policy",
                "noeviction",
                "save",
                ""
            ]),
            Reply::OK
        );
        assert_eq!(
            bed.run(&["CONFIG", "SET", "timeout"]),
            Reply::error("ERR wrong number of arguments for 'config|set' command")
        );
        assert_eq!(
            bed.run(&["CONFIG", "SET", "timeout", "1", "maxclients"]),
            Reply::error("ERR wrong number of arguments for 'config|set' command")
        );
        assert_eq!(bed.run(&["CONFIG", "SET", "requirepass", "pw"]), Reply::OK);
        assert_eq!(bed.shared.runtime.requirepass().as_deref(), Some("pw"));
        assert_eq!(
            bed.run(&["CONFIG", "GET", "requirepass"]),
            Reply::Map(vec![(TestBed::bulk("requirepass"), TestBed::bulk("pw"))])
        );
        assert_eq!(bed.run(&["CONFIG", "SET", "requirepass", ""]), Reply::OK);
        assert_eq!(bed.shared.runtime.requirepass(), None);
    }

    #[test]
    fn config_misc() {
        let mut bed = TestBed::new();
        assert_eq!(bed.run(&["CONFIG", "RESETSTAT"]), Reply::OK);
        assert_eq!(
            bed.run(&["CONFIG", "REWRITE"]),
            Reply::error("ERR The server is running without a config file")
        );
        assert!(matches!(bed.run(&["CONFIG", "HELP"]), Reply::Array(_)));
        assert_eq!(
            bed.run(&["CONFIG", "NOPE"]),
            Reply::error("ERR unknown subcommand 'NOPE'. Try CONFIG HELP.")
        );
    }

    #[test]
    fn client_limits_are_listed_and_settable() {
        let mut bed = TestBed::new();
        let get = |bed: &mut TestBed, name: &str| match bed.run(&["CONFIG", "GET", name]) {
            Reply::Map(pairs) if pairs.len() == 1 => pairs[0].1.clone(),
            other => panic!("{name}: {other:?}"),
        };
        for (name, default) in [
            ("maxclients", "10000"),
            ("timeout", "0"),
            ("client-query-buffer-limit", "1073741824"),
            ("proto-max-bulk-len", "536870912"),
            (
                "client-output-buffer-limit",
                "normal 1073741824 4194304 60 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
            ),
            ("client-pipeline-limit", "1024"),
            ("partial-request-timeout", "30"),
        ] {
            assert_eq!(get(&mut bed, name), TestBed::bulk(default), "{name}");
        }
        assert_eq!(
            bed.run(&[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "normal 2mb 1mb 5 pubsub 16mb 4mb 30",
                "client-pipeline-limit",
                "64",
                "partial-request-timeout",
                "3",
            ]),
            Reply::OK
        );
        assert_eq!(
            get(&mut bed, "client-output-buffer-limit"),
            TestBed::bulk(
                "normal 2097152 1048576 5 slave 268435456 67108864 60 pubsub 16777216 4194304 30"
            )
        );
        // A class not named keeps its limit, as in Redis.
        assert_eq!(
            bed.run(&[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "pubsub 32mb 8mb 60"
            ]),
            Reply::OK
        );
        assert_eq!(
            get(&mut bed, "client-output-buffer-limit"),
            TestBed::bulk(
                "normal 2097152 1048576 5 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
            )
        );
        assert_eq!(
            LiveSettings::get(&bed.shared.runtime.client_pipeline_limit),
            64
        );
        assert_eq!(
            LiveSettings::get(&bed.shared.runtime.partial_request_timeout),
            3
        );
        assert_eq!(
            bed.run(&["CONFIG", "SET", "client-output-buffer-limit", "normal 1 2"]),
            Reply::error(
                "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration."
            )
        );
        assert_eq!(
            bed.run(&["CONFIG", "SET", "client-pipeline-limit", "0"]),
            Reply::error(
                "ERR CONFIG SET failed (possibly related to argument 'client-pipeline-limit') - argument must be between 1 and 1000000 inclusive"
            )
        );
        assert_eq!(bed.run(&["CONFIG", "SET", "maxclients", "50"]), Reply::OK);
        assert_eq!(get(&mut bed, "maxclients"), TestBed::bulk("50"));
    }
}
