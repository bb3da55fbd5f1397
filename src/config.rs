//! Settings: one struct filled from defaults, then the TOML file
//! (`--config kiln.toml`), then command-line flags, each overriding the last.
//!
//! Names follow Redis's configuration directives where Redis has one
//! (`maxmemory`, `proto-max-bulk-len`, `requirepass`...), in the file and as
//! `--flags` alike. Sizes accept Redis's units (`100mb`, `1gb`, `512k`).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;
use kiln_persist::aof::Fsync;
use kiln_store::EncodingLimits;
use serde::Deserialize;
use thiserror::Error;

use crate::save::SavePoints;
use crate::tenant::TenantConfig;

/// A setting that could not be read.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for these settings.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
    /// A value is out of range.
    #[error("invalid setting {name}: {reason}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// Why.
        reason: String,
    },
}

/// Command-line flags and config-file keys: every field optional, so a
/// layer only overrides what it sets.
#[derive(Debug, Default, Clone, Parser, Deserialize)]
#[command(
    name = "kiln-server",
    version,
    about = "Kiln: an in-memory key-value server with storage functions, speaking the Redis protocol"
)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Options {
    /// TOML config file; flags given on the command line override it.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// Main port: serves every key, forwarding between cores (0 = any free port).
    #[arg(long)]
    pub port: Option<u16>,
    /// Number of cores (threads); default: available parallelism.
    #[arg(long)]
    pub cores: Option<usize>,
    /// First per-core port (cluster node ports are P..P+cores-1); default port+1 (0 = any free ports).
    #[arg(long)]
    pub core_port_base: Option<u16>,
    /// Address announced in CLUSTER replies (default: the address the client connected to).
    #[arg(long)]
    pub cluster_announce_ip: Option<IpAddr>,
    /// Password for the `default` user (AUTH).
    #[arg(long)]
    pub requirepass: Option<String>,
    /// Memory limit for keys and values (e.g. `2gb`); 0 = none.
    #[arg(long, value_parser = parse_size_arg)]
    #[serde(default, deserialize_with = "de_size")]
    pub maxmemory: Option<u64>,
    /// What happens at maxmemory: Redis's policies (`noeviction`, `allkeys-lru`, ...).
    #[arg(long)]
    pub maxmemory_policy: Option<String>,
    /// Largest bulk string a client may send.
    #[arg(long, value_parser = parse_size_arg)]
    #[serde(default, deserialize_with = "de_size")]
    pub proto_max_bulk_len: Option<u64>,
    /// Largest unprocessed input buffered per client.
    #[arg(long, value_parser = parse_size_arg)]
    #[serde(default, deserialize_with = "de_size")]
    pub client_query_buffer_limit: Option<u64>,
    /// Most simultaneous clients.
    #[arg(long)]
    pub maxclients: Option<u64>,
    /// Output buffer limits per client class: `<class> <hard> <soft> <soft-seconds>`
    /// repeated (`normal`, `replica`/`slave`, `pubsub`); classes not given keep their defaults.
    #[arg(long, value_parser = parse_output_limit_arg)]
    #[serde(default, deserialize_with = "de_output_limit")]
    pub client_output_buffer_limit: Option<OutputBufferLimits>,
    /// Most requests of one client a core holds in flight before it stops reading that client.
    #[arg(long)]
    pub client_pipeline_limit: Option<u64>,
    /// Close a client whose unfinished request has been arriving this many seconds (0 = never).
    #[arg(long)]
    pub partial_request_timeout: Option<u64>,
    /// Close clients idle for this many seconds (0 = never).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Background task frequency per second (active expiry, idle checks).
    #[arg(long)]
    pub hz: Option<u64>,
    /// Port of the Prometheus endpoint (`GET /metrics`), on the bind
    /// address; 0 = off (the default; 9121 is a suggested port).
    #[arg(long)]
    pub metrics_port: Option<u16>,
    /// Most storage functions the metrics endpoint names per tenant and
    /// core; calls of the rest are counted as `other`.
    #[arg(long)]
    pub metrics_function_labels: Option<usize>,
    /// Pin core k's thread to CPU k (where the OS allows). Off by default:
    /// measured on a 2-CPU host shared with its clients, pinning cost a
    /// third of the throughput; turn it on for hosts dedicated to Kiln.
    #[arg(long)]
    pub pin_threads: Option<bool>,
    /// Log level: Redis's `debug`, `verbose`, `notice`, `warning`,
    /// `nothing`, or a tracing filter (`info`, `kiln=trace`...).
    #[arg(long)]
    pub loglevel: Option<String>,
    /// Where the log goes: empty for standard output, else a file the
    /// server appends to (as Redis's `logfile`).
    #[arg(long)]
    pub logfile: Option<String>,
    /// Record latency spikes of at least this many milliseconds
    /// (`LATENCY LATEST`...); 0 = off.
    #[arg(long)]
    pub latency_monitor_threshold: Option<u64>,
    /// Keep every write in an append-only log, one per core, and replay it
    /// at start (`yes`/`no`).
    #[arg(long, value_parser = parse_yes_no)]
    #[serde(default, deserialize_with = "de_yes_no")]
    pub appendonly: Option<bool>,
    /// When the log reaches the disk: `always` (before a write's reply),
    /// `everysec` (once a second) or `no` (when the kernel decides).
    #[arg(long, value_parser = parse_fsync)]
    #[serde(default, deserialize_with = "de_fsync")]
    pub appendfsync: Option<Fsync>,
    /// The log's directory, inside `dir`.
    #[arg(long)]
    pub appenddirname: Option<String>,
    /// The first part of every log file's name.
    #[arg(long)]
    pub appendfilename: Option<String>,
    /// When to snapshot the keyspaces into `dbfilename`: pairs of seconds
    /// and changes (`"3600 1 300 100"`), `""` for never. Redis's default
    /// schedule once a data directory (`dir`) is given; none without.
    #[arg(long)]
    pub save: Option<String>,
    /// The snapshot's file name, in `dir` (`dump.rdb`).
    #[arg(long)]
    pub dbfilename: Option<String>,
    /// Write strings LZF-compressed in snapshots and `DUMP` payloads
    /// (`yes`, Redis's default) or plain (`no`).
    #[arg(long, value_parser = parse_yes_no)]
    #[serde(default, deserialize_with = "de_yes_no")]
    pub rdbcompression: Option<bool>,
    /// Load a log whose last record is torn (a crash mid-write), cutting
    /// it off with a warning (`yes`), or refuse to start (`no`).
    #[arg(long, value_parser = parse_yes_no)]
    #[serde(default, deserialize_with = "de_yes_no")]
    pub aof_load_truncated: Option<bool>,
    /// Rewrite a core's log once it has grown by this percentage of its
    /// base since the last rewrite (0 = never on its own).
    #[arg(long)]
    pub auto_aof_rewrite_percentage: Option<u64>,
    /// ... but not before it is this big (e.g. `64mb`).
    #[arg(long, value_parser = parse_size_arg)]
    #[serde(default, deserialize_with = "de_size")]
    pub auto_aof_rewrite_min_size: Option<u64>,
    /// Fields a hash keeps in its compact (listpack) encoding.
    #[arg(long)]
    pub hash_max_listpack_entries: Option<usize>,
    /// Longest field or value a compact hash keeps (e.g. `64`, `1kb`).
    #[arg(long, value_parser = parse_size_arg)]
    #[serde(default, deserialize_with = "de_size")]
    pub hash_max_listpack_value: Option<u64>,
    /// Members an integer set (intset) keeps.
    #[arg(long)]
    pub set_max_intset_entries: Option<usize>,
    /// Members a set keeps in its compact (listpack) encoding.
    #[arg(long)]
    pub set_max_listpack_entries: Option<usize>,
    /// Longest member a compact set keeps.
    #[arg(long, value_parser = parse_size_arg)]
    #[serde(default, deserialize_with = "de_size")]
    pub set_max_listpack_value: Option<u64>,
    /// Members a sorted set keeps in its compact (listpack) encoding.
    #[arg(long)]
    pub zset_max_listpack_entries: Option<usize>,
    /// Longest member a compact sorted set keeps.
    #[arg(long, value_parser = parse_size_arg)]
    #[serde(default, deserialize_with = "de_size")]
    pub zset_max_listpack_value: Option<u64>,
    /// A list node's size: positive, entries; -1..-5, 4 to 64 KiB.
    #[arg(long, allow_hyphen_values = true)]
    pub list_max_listpack_size: Option<i64>,
    /// Where runtime tenant changes (`ACL SETUSER` / `DELUSER`) are written;
    /// when it exists at start its tenants replace the `[[tenant]]` tables.
    #[arg(long)]
    pub tenant_file: Option<PathBuf>,
    /// Most tenants the server can hold (besides `default`).
    #[arg(long)]
    pub max_tenants: Option<usize>,
    /// `[[tenant]]` tables of the config file.
    #[arg(skip)]
    #[serde(default)]
    pub tenant: Vec<TenantConfig>,
    /// Directory for data files (the function registry, `functions/`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Longest one storage-function call may run, in milliseconds, before it
    /// is terminated.
    #[arg(long)]
    pub function_cpu_budget: Option<u64>,
    /// Longest a library's top level may run at FUNCTION LOAD, in milliseconds.
    #[arg(long)]
    pub function_load_timeout: Option<u64>,
    /// Heap cap of one tenant's isolate (and of its ArrayBuffers).
    #[arg(long, value_parser = parse_size_arg)]
    #[serde(default, deserialize_with = "de_size")]
    pub function_heap_limit: Option<u64>,
    /// Largest library source FUNCTION LOAD accepts.
    #[arg(long, value_parser = parse_size_arg)]
    #[serde(default, deserialize_with = "de_size")]
    pub function_max_library_size: Option<u64>,
    /// Most functions one tenant may register.
    #[arg(long)]
    pub function_max_functions: Option<u64>,
    /// Most tenant isolates one core keeps (least recently used are evicted).
    #[arg(long)]
    pub function_isolates_per_core: Option<u64>,
    /// Most V8 heap one core's isolates may hold together before the least
    /// recently used are evicted.
    #[arg(long, value_parser = parse_size_arg)]
    #[serde(default, deserialize_with = "de_size")]
    pub function_isolates_memory: Option<u64>,
    /// Percent of each core a tenant's storage functions may use over time
    /// (1–100; operators always get the whole core).
    #[arg(long)]
    pub function_cpu_share: Option<u32>,
}

/// The resolved settings the server runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Address to listen on.
    pub bind: IpAddr,
    /// Main port.
    pub port: u16,
    /// Number of cores.
    pub cores: usize,
    /// First core port; 0 = any free port per core.
    pub core_port_base: u16,
    /// Address announced in CLUSTER replies.
    pub cluster_announce_ip: Option<IpAddr>,
    /// Password for `default`.
    pub requirepass: Option<String>,
    /// Memory limit (0 = none).
    pub maxmemory: u64,
    /// `maxmemory-policy`, as Redis names it.
    pub maxmemory_policy: String,
    /// Largest bulk string.
    pub proto_max_bulk_len: u64,
    /// Largest buffered input per client.
    pub client_query_buffer_limit: u64,
    /// Most clients.
    pub maxclients: u64,
    /// Output buffer limits per client class.
    pub client_output_buffer_limit: OutputBufferLimits,
    /// Requests in flight per client before reading pauses.
    pub client_pipeline_limit: u64,
    /// Seconds a partial request may take to arrive (0 = no limit).
    pub partial_request_timeout: u64,
    /// Idle timeout in seconds.
    pub timeout: u64,
    /// Background task frequency.
    pub hz: u64,
    /// Prometheus endpoint port (0 = off).
    pub metrics_port: u16,
    /// Functions named per tenant in metrics before the rest fold into `other`.
    pub metrics_function_labels: usize,
    /// Pin core threads.
    pub pin_threads: bool,
    /// Log filter.
    pub loglevel: String,
    /// Log file; empty = standard output.
    pub logfile: String,
    /// `latency-monitor-threshold` at start, milliseconds (0 = off).
    pub latency_monitor_threshold: u64,
    /// The config file the server was started with, if any.
    pub config_file: Option<PathBuf>,
    /// The append-only log.
    pub aof: AofSettings,
    /// The tenant file, if any.
    pub tenant_file: Option<PathBuf>,
    /// Tenant capacity.
    pub max_tenants: usize,
    /// Tenants declared in the config file.
    pub tenants: Vec<TenantConfig>,
    /// Data directory.
    pub dir: PathBuf,
    /// `save`: the snapshot schedule at start.
    pub save: SavePoints,
    /// `dbfilename`.
    pub dbfilename: String,
    /// `rdbcompression`: strings LZF-compressed in snapshots and DUMP.
    pub rdbcompression: bool,
    /// Storage-function limits.
    pub functions: FunctionSettings,
    /// Where collections leave their compact encodings.
    pub encoding: EncodingLimits,
}

/// The append-only log's settings (Redis's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofSettings {
    /// `appendonly`.
    pub enabled: bool,
    /// `appendfsync`.
    pub fsync: Fsync,
    /// `appenddirname`.
    pub dirname: String,
    /// `appendfilename`.
    pub filename: String,
    /// `aof-load-truncated`.
    pub load_truncated: bool,
    /// `auto-aof-rewrite-percentage`.
    pub auto_rewrite_percentage: u64,
    /// `auto-aof-rewrite-min-size`, bytes.
    pub auto_rewrite_min_size: u64,
}

impl AofSettings {
    /// Whether a core's log of `size` bytes, whose base was `base` bytes
    /// after the last rewrite, is due for an automatic rewrite (Redis's
    /// rule: past the minimum size and grown by the percentage).
    pub fn rewrite_due(&self, size: u64, base: u64) -> bool {
        self.auto_rewrite_percentage > 0
            && size >= self.auto_rewrite_min_size
            && size.saturating_sub(base).saturating_mul(100)
                >= base.max(1).saturating_mul(self.auto_rewrite_percentage)
    }
}

impl Default for AofSettings {
    fn default() -> AofSettings {
        AofSettings {
            enabled: false,
            fsync: Fsync::EverySec,
            dirname: "appendonlydir".into(),
            filename: "appendonly.aof".into(),
            load_truncated: true,
            auto_rewrite_percentage: 100,
            auto_rewrite_min_size: 64 << 20,
        }
    }
}

/// Limits on storage functions (the `function-*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FunctionSettings {
    /// Per tenant, per call and per isolate.
    pub limits: kiln_functions::Limits,
    /// Per tenant, on what it loads.
    pub registry: kiln_functions::RegistryLimits,
    /// Per core, on the isolates it keeps.
    pub runtime: kiln_functions::RuntimeLimits,
    /// Per tenant, on each core over time.
    pub cpu_share: kiln_functions::CpuShare,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 7379,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            core_port_base: 7380,
            cluster_announce_ip: None,
            requirepass: None,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            maxclients: 10_000,
            client_output_buffer_limit: OutputBufferLimits::DEFAULT,
            client_pipeline_limit: 1024,
            partial_request_timeout: 30,
            timeout: 0,
            hz: 10,
            metrics_port: 0,
            metrics_function_labels: 32,
            pin_threads: false,
            loglevel: "info".into(),
            logfile: String::new(),
            latency_monitor_threshold: 0,
            config_file: None,
            aof: AofSettings::default(),
            tenant_file: None,
            max_tenants: 1024,
            tenants: Vec::new(),
            dir: PathBuf::from("."),
            save: SavePoints::default(),
            dbfilename: "dump.rdb".into(),
            rdbcompression: true,
            functions: FunctionSettings::default(),
            encoding: EncodingLimits::default(),
        }
    }
}

impl Options {
    /// Reads the file named by `--config`, if any, under these flags.
    pub fn resolve(self) -> Result<Settings, ConfigError> {
        let file = match &self.config {
            Some(path) => Options::from_file(path)?,
            None => Options::default(),
        };
        file.overridden_by(self).into_settings()
    }

    /// Parses a TOML config file.
    pub fn from_file(path: &std::path::Path) -> Result<Options, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// `self` with every field `over` sets replaced.
    pub fn overridden_by(self, over: Options) -> Options {
        // Tenant tables come from the file only.
        let tenant = self.tenant;
        macro_rules! merge {
            ($($field:ident),*) => { Options { $($field: over.$field.or(self.$field),)* tenant } };
        }
        merge!(
            config,
            bind,
            port,
            cores,
            core_port_base,
            cluster_announce_ip,
            requirepass,
            maxmemory,
            maxmemory_policy,
            proto_max_bulk_len,
            client_query_buffer_limit,
            maxclients,
            client_output_buffer_limit,
            client_pipeline_limit,
            partial_request_timeout,
            timeout,
            hz,
            metrics_port,
            metrics_function_labels,
            pin_threads,
            loglevel,
            logfile,
            latency_monitor_threshold,
            appendonly,
            appendfsync,
            appenddirname,
            appendfilename,
            save,
            dbfilename,
            rdbcompression,
            aof_load_truncated,
            auto_aof_rewrite_percentage,
            auto_aof_rewrite_min_size,
            tenant_file,
            max_tenants,
            dir,
            function_cpu_budget,
            function_load_timeout,
            function_heap_limit,
            function_max_library_size,
            function_max_functions,
            function_isolates_per_core,
            function_isolates_memory,
            function_cpu_share,
            hash_max_listpack_entries,
            hash_max_listpack_value,
            set_max_intset_entries,
            set_max_listpack_entries,
            set_max_listpack_value,
            zset_max_listpack_entries,
            zset_max_listpack_value,
            list_max_listpack_size
        )
    }

    /// Fills unset fields with defaults and validates.
    pub fn into_settings(self) -> Result<Settings, ConfigError> {
        let d = Settings::default();
        let port = self.port.unwrap_or(d.port);
        let default_base = if port == 0 { 0 } else { port.saturating_add(1) };
        let functions = self.function_settings(d.functions);
        let encoding = self.encoding_limits(d.encoding);
        let save = match &self.save {
            Some(text) => SavePoints::parse(text).map_err(|why| ConfigError::Invalid {
                name: "save",
                reason: why.to_lowercase(),
            })?,
            None if self.dir.is_some() => SavePoints::redis_default(),
            None => SavePoints::default(),
        };
        let s = Settings {
            bind: self.bind.unwrap_or(d.bind),
            port,
            cores: self.cores.unwrap_or(d.cores),
            core_port_base: self.core_port_base.unwrap_or(default_base),
            cluster_announce_ip: self.cluster_announce_ip,
            requirepass: self.requirepass.filter(|p| !p.is_empty()),
            maxmemory: self.maxmemory.unwrap_or(d.maxmemory),
            maxmemory_policy: self.maxmemory_policy.unwrap_or(d.maxmemory_policy),
            proto_max_bulk_len: self.proto_max_bulk_len.unwrap_or(d.proto_max_bulk_len),
            client_query_buffer_limit: self
                .client_query_buffer_limit
                .unwrap_or(d.client_query_buffer_limit),
            maxclients: self.maxclients.unwrap_or(d.maxclients),
            client_output_buffer_limit: self
                .client_output_buffer_limit
                .unwrap_or(d.client_output_buffer_limit),
            client_pipeline_limit: self
                .client_pipeline_limit
                .unwrap_or(d.client_pipeline_limit),
            partial_request_timeout: self
                .partial_request_timeout
                .unwrap_or(d.partial_request_timeout),
            timeout: self.timeout.unwrap_or(d.timeout),
            hz: self.hz.unwrap_or(d.hz),
            metrics_port: self.metrics_port.unwrap_or(d.metrics_port),
            metrics_function_labels: self
                .metrics_function_labels
                .unwrap_or(d.metrics_function_labels),
            pin_threads: self.pin_threads.unwrap_or(d.pin_threads),
            loglevel: self.loglevel.unwrap_or(d.loglevel),
            logfile: self.logfile.unwrap_or(d.logfile),
            latency_monitor_threshold: self
                .latency_monitor_threshold
                .unwrap_or(d.latency_monitor_threshold),
            config_file: self
                .config
                .as_ref()
                .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())),
            aof: AofSettings {
                enabled: self.appendonly.unwrap_or(d.aof.enabled),
                fsync: self.appendfsync.unwrap_or(d.aof.fsync),
                dirname: self.appenddirname.unwrap_or(d.aof.dirname),
                filename: self.appendfilename.unwrap_or(d.aof.filename),
                load_truncated: self.aof_load_truncated.unwrap_or(d.aof.load_truncated),
                auto_rewrite_percentage: self
                    .auto_aof_rewrite_percentage
                    .unwrap_or(d.aof.auto_rewrite_percentage),
                auto_rewrite_min_size: self
                    .auto_aof_rewrite_min_size
                    .unwrap_or(d.aof.auto_rewrite_min_size),
            },
            // With a log or snapshots, tenants must outlive a restart as
            // their keys do: `ACL SETUSER`s are kept beside the data unless
            // told otherwise.
            tenant_file: self.tenant_file.or_else(|| {
                let dir = self.dir.clone().unwrap_or_else(|| d.dir.clone());
                (self.appendonly == Some(true) || !save.0.is_empty())
                    .then(|| dir.join("tenants.toml"))
            }),
            max_tenants: self.max_tenants.unwrap_or(d.max_tenants),
            tenants: self.tenant,
            functions,
            encoding,
            dir: self.dir.unwrap_or(d.dir),
            save,
            dbfilename: self.dbfilename.unwrap_or(d.dbfilename),
            rdbcompression: self.rdbcompression.unwrap_or(d.rdbcompression),
        };
        s.validate()?;
        Ok(s)
    }
}

impl Options {
    /// The collections' encoding thresholds over `d`.
    fn encoding_limits(&self, d: EncodingLimits) -> EncodingLimits {
        let size =
            |v: Option<u64>, d: usize| v.map_or(d, |v| usize::try_from(v).unwrap_or(usize::MAX));
        EncodingLimits {
            hash_max_listpack_entries: self
                .hash_max_listpack_entries
                .unwrap_or(d.hash_max_listpack_entries),
            hash_max_listpack_value: size(self.hash_max_listpack_value, d.hash_max_listpack_value),
            set_max_intset_entries: self
                .set_max_intset_entries
                .unwrap_or(d.set_max_intset_entries),
            set_max_listpack_entries: self
                .set_max_listpack_entries
                .unwrap_or(d.set_max_listpack_entries),
            set_max_listpack_value: size(self.set_max_listpack_value, d.set_max_listpack_value),
            zset_max_listpack_entries: self
                .zset_max_listpack_entries
                .unwrap_or(d.zset_max_listpack_entries),
            zset_max_listpack_value: size(self.zset_max_listpack_value, d.zset_max_listpack_value),
            list_max_listpack_size: self
                .list_max_listpack_size
                .unwrap_or(d.list_max_listpack_size),
        }
    }

    /// The `function-*` settings over `d`.
    fn function_settings(&self, d: FunctionSettings) -> FunctionSettings {
        let ms = std::time::Duration::from_millis;
        let size =
            |v: Option<u64>, d: usize| v.map_or(d, |v| usize::try_from(v).unwrap_or(usize::MAX));
        FunctionSettings {
            limits: kiln_functions::Limits {
                cpu_budget: self.function_cpu_budget.map_or(d.limits.cpu_budget, ms),
                load_budget: self.function_load_timeout.map_or(d.limits.load_budget, ms),
                heap_bytes: size(self.function_heap_limit, d.limits.heap_bytes),
                ..d.limits
            },
            registry: kiln_functions::RegistryLimits {
                max_library_bytes: size(
                    self.function_max_library_size,
                    d.registry.max_library_bytes,
                ),
                max_functions: size(self.function_max_functions, d.registry.max_functions),
            },
            runtime: kiln_functions::RuntimeLimits {
                max_isolates: size(self.function_isolates_per_core, d.runtime.max_isolates),
                max_isolate_bytes: size(self.function_isolates_memory, d.runtime.max_isolate_bytes),
            },
            cpu_share: self
                .function_cpu_share
                .map_or(d.cpu_share, |percent| kiln_functions::CpuShare { percent }),
        }
    }
}

impl Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |name, reason: &str| {
            Err(ConfigError::Invalid {
                name,
                reason: reason.into(),
            })
        };
        if self.cores == 0 || self.cores > 1024 {
            return invalid("cores", "must be between 1 and 1024");
        }
        if self.core_port_base != 0 && usize::from(self.core_port_base) + self.cores > 65536 {
            return invalid("core-port-base", "core ports would pass 65535");
        }
        for (name, value) in [
            ("appenddirname", &self.aof.dirname),
            ("appendfilename", &self.aof.filename),
            ("dbfilename", &self.dbfilename),
        ] {
            if value.is_empty() || value.contains('/') || value.starts_with('.') {
                return invalid(name, "must be a plain file name, not a path");
            }
        }
        if kiln_store::Policy::parse(&self.maxmemory_policy).is_none() {
            return invalid(
                "maxmemory-policy",
                "must be one of noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl",
            );
        }
        if self.proto_max_bulk_len < 1024 || self.proto_max_bulk_len > u32::MAX as u64 / 2 {
            return invalid("proto-max-bulk-len", "must be between 1kb and 2gb");
        }
        if self.client_query_buffer_limit < 1024 * 1024
            || self.client_query_buffer_limit > u32::MAX as u64 - 1
        {
            return invalid("client-query-buffer-limit", "must be between 1mb and 4gb");
        }
        if self.maxclients == 0 || self.maxclients > MAX_CLIENTS {
            return invalid("maxclients", "must be between 1 and 1000000");
        }
        if self.client_pipeline_limit == 0 || self.client_pipeline_limit > MAX_PIPELINE_LIMIT {
            return invalid("client-pipeline-limit", "must be between 1 and 1000000");
        }
        if self.timeout > MAX_TIMEOUT_SECS {
            return invalid("timeout", "must be at most 2147483647 seconds");
        }
        if self.partial_request_timeout > MAX_TIMEOUT_SECS {
            return invalid(
                "partial-request-timeout",
                "must be at most 2147483647 seconds",
            );
        }
        if self.max_tenants > 1 << 20 {
            return invalid("max-tenants", "must be at most 1048576");
        }
        if self.hz == 0 || self.hz > 500 {
            return invalid("hz", "must be between 1 and 500");
        }
        let f = &self.functions;
        if f.limits.cpu_budget.is_zero() || f.limits.load_budget.is_zero() {
            return invalid(
                "function-cpu-budget",
                "function time limits must be at least 1 ms",
            );
        }
        if f.limits.heap_bytes < kiln_functions::Limits::MIN_HEAP_BYTES {
            return invalid("function-heap-limit", "must be at least 8mb");
        }
        if !(1..=100).contains(&f.cpu_share.percent) {
            return invalid("function-cpu-share", "must be between 1 and 100 (percent)");
        }
        if f.runtime.max_isolates == 0 {
            return invalid("function-isolates-per-core", "must be at least 1");
        }
        Ok(())
    }
}

/// Highest `maxclients` (file descriptors are raised to match at start).
pub const MAX_CLIENTS: u64 = 1_000_000;
/// Highest `client-pipeline-limit`.
pub const MAX_PIPELINE_LIMIT: u64 = 1_000_000;
/// Highest `timeout` and `partial-request-timeout`, in seconds (Redis's bound).
pub const MAX_TIMEOUT_SECS: u64 = i32::MAX as u64;

pub use kiln_net::transport::OutputBufferLimit;

/// Redis's client classes, in the order `CONFIG GET` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientClass {
    /// Every client Kiln has.
    Normal = 0,
    /// Replicas (`slave` or `replica`; Kiln has none).
    Replica = 1,
    /// Pub/sub subscribers.
    Pubsub = 2,
}

impl ClientClass {
    /// Every class, in `CONFIG GET` order.
    pub const ALL: [ClientClass; 3] = [
        ClientClass::Normal,
        ClientClass::Replica,
        ClientClass::Pubsub,
    ];

    /// The class called `name` as Redis names them (`master` is no class
    /// a limit can be set for).
    fn named(name: &str) -> Option<ClientClass> {
        match name.to_ascii_lowercase().as_str() {
            "normal" => Some(ClientClass::Normal),
            "replica" | "slave" => Some(ClientClass::Replica),
            "pubsub" => Some(ClientClass::Pubsub),
            _ => None,
        }
    }

    /// The name `CONFIG GET` prints (Redis 7 still says `slave`).
    fn name(self) -> &'static str {
        match self {
            ClientClass::Normal => "normal",
            ClientClass::Replica => "slave",
            ClientClass::Pubsub => "pubsub",
        }
    }
}

/// `client-output-buffer-limit` for every client class. Only `normal`
/// applies to Kiln's clients; `replica` and `pubsub` are kept and shown so a
/// Redis config line and `CONFIG GET` round-trip work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferLimits {
    classes: [OutputBufferLimit; 3],
}

impl OutputBufferLimits {
    /// Kiln's `normal` default ([`OutputBufferLimit::DEFAULT`]) and Redis's
    /// defaults for the others: `slave 256mb 64mb 60 pubsub 32mb 8mb 60`.
    pub const DEFAULT: OutputBufferLimits = OutputBufferLimits {
        classes: [
            OutputBufferLimit::DEFAULT,
            OutputBufferLimit {
                hard: 256 * 1024 * 1024,
                soft: 64 * 1024 * 1024,
                soft_seconds: 60,
            },
            OutputBufferLimit {
                hard: 32 * 1024 * 1024,
                soft: 8 * 1024 * 1024,
                soft_seconds: 60,
            },
        ],
    };

    /// One class's limit.
    pub fn get(&self, class: ClientClass) -> OutputBufferLimit {
        self.classes[class as usize]
    }

    /// One class's limit, to change.
    pub fn get_mut(&mut self, class: ClientClass) -> &mut OutputBufferLimit {
        &mut self.classes[class as usize]
    }

    /// The limit of normal clients (Kiln's only class).
    pub fn normal(&self) -> OutputBufferLimit {
        self.get(ClientClass::Normal)
    }

    /// Applies Redis's syntax, `<class> <hard> <soft> <soft-seconds>`
    /// repeated, over `self`: the classes given change, the others stay
    /// (as `CONFIG SET` does in Redis). Sizes take units. Nothing changes
    /// unless every group is valid; the error texts are Redis's.
    pub fn parse_over(self, text: &str) -> Result<OutputBufferLimits, &'static str> {
        let words: Vec<&str> = text.split_ascii_whitespace().collect();
        if words.is_empty() || !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.");
        }
        let mut limits = self;
        for group in words.chunks(4) {
            let Some(class) = ClientClass::named(group[0]) else {
                return Err("Invalid client class specified in buffer limit configuration.");
            };
            let (Some(hard), Some(soft), Ok(soft_seconds)) = (
                parse_size(group[1]),
                parse_size(group[2]),
                group[3].parse::<u64>(),
            ) else {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
                );
            };
            *limits.get_mut(class) = OutputBufferLimit {
                hard,
                soft,
                soft_seconds,
            };
        }
        Ok(limits)
    }
}

impl std::fmt::Display for OutputBufferLimits {
    /// As Redis's `CONFIG GET` shows it: every class, sizes in bytes,
    /// `normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, class) in ClientClass::ALL.into_iter().enumerate() {
            let limit = self.get(class);
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(
                f,
                "{} {} {} {}",
                class.name(),
                limit.hard,
                limit.soft,
                limit.soft_seconds
            )?;
        }
        Ok(())
    }
}

/// `yes`/`no` (Redis's booleans), or `true`/`false`.
pub fn parse_yes_no(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err(format!("'{text}' is not yes or no")),
    }
}

fn de_yes_no<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum YesNo {
        Bool(bool),
        Text(String),
    }
    match Option::<YesNo>::deserialize(d)? {
        None => Ok(None),
        Some(YesNo::Bool(b)) => Ok(Some(b)),
        Some(YesNo::Text(t)) => parse_yes_no(&t).map(Some).map_err(serde::de::Error::custom),
    }
}

fn parse_fsync(text: &str) -> Result<Fsync, String> {
    text.parse()
}

fn de_fsync<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Fsync>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

fn parse_output_limit_arg(text: &str) -> Result<OutputBufferLimits, String> {
    OutputBufferLimits::DEFAULT
        .parse_over(text)
        .map_err(Into::into)
}

fn de_output_limit<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<OutputBufferLimits>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => parse_output_limit_arg(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Parses a size with Redis's units: `1k` = 1000, `1kb` = 1024, up to `gb`.
pub fn parse_size(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

fn parse_size_arg(text: &str) -> Result<u64, String> {
    parse_size(text).ok_or_else(|| format!("invalid size '{text}' (examples: 0, 4096, 100mb, 2gb)"))
}

/// Deserializes a size with Redis units (a number or `"10mb"`).
pub fn de_size_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    de_size(d).map(Option::unwrap_or_default)
}

fn de_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Number(u64),
        Text(String),
    }
    match Option::<Size>::deserialize(d)? {
        None => Ok(None),
        Some(Size::Number(n)) => Ok(Some(n)),
        Some(Size::Text(t)) => parse_size(&t)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid size '{t}'"))),
    }
}

/// The `loglevel` names `CONFIG SET` takes (Redis's).
pub const REDIS_LOG_LEVELS: [&str; 5] = ["debug", "verbose", "notice", "warning", "nothing"];

/// Applies a new tracing filter to the process's log (`CONFIG SET loglevel`).
pub type LogReloader = Box<dyn Fn(&str) + Send + Sync>;

static LOG_RELOADER: std::sync::OnceLock<LogReloader> = std::sync::OnceLock::new();

/// Installs how `CONFIG SET loglevel` changes the log: the binary, which
/// owns the tracing subscriber, installs it once (a server embedded in a
/// test without one ignores the change).
pub fn set_log_reloader(reload: LogReloader) {
    let _ = LOG_RELOADER.set(reload);
}

/// Changes the log's filter, if a reloader is installed.
pub fn reload_log_filter(filter: &str) {
    if let Some(reload) = LOG_RELOADER.get() {
        reload(filter);
    }
}

/// The tracing filter for a `loglevel`: Redis's level names map onto
/// tracing's levels (`debug` → `trace`, `verbose` → `debug`, `notice` →
/// `info`, `warning` → `warn`, `nothing` → `off`); anything else is taken
/// as a tracing filter itself (`info`, `kiln=trace,warn`).
pub fn log_filter(loglevel: &str) -> String {
    match loglevel.to_ascii_lowercase().as_str() {
        "debug" => "trace".into(),
        "verbose" => "debug".into(),
        "notice" => "info".into(),
        "warning" => "warn".into(),
        "nothing" => "off".into(),
        _ => loglevel.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_log_levels() {
        assert_eq!(log_filter("debug"), "trace");
        assert_eq!(log_filter("verbose"), "debug");
        assert_eq!(log_filter("NOTICE"), "info");
        assert_eq!(log_filter("warning"), "warn");
        assert_eq!(log_filter("nothing"), "off");
        assert_eq!(log_filter("warn"), "warn");
        assert_eq!(log_filter("kiln=trace,info"), "kiln=trace,info");
    }

    #[test]
    fn sizes_use_redis_units() {
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("1k"), Some(1000));
        assert_eq!(parse_size("1kb"), Some(1024));
        assert_eq!(parse_size("100MB"), Some(100 << 20));
        assert_eq!(parse_size("2gb"), Some(2 << 30));
        assert_eq!(parse_size("12x"), None);
        assert_eq!(parse_size("-1"), None);
    }

    #[test]
    fn flags_override_file_override_defaults() {
        let file: Options = toml::from_str(
            "port = 9000\nmaxmemory = \"1mb\"\ncores = 3\nrequirepass = \"s3cret\"\n",
        )
        .unwrap();
        let flags = Options::parse_from(["kiln-server", "--port", "9100", "--maxmemory", "2mb"]);
        let s = file.overridden_by(flags).into_settings().unwrap();
        assert_eq!(s.port, 9100);
        assert_eq!(s.core_port_base, 9101);
        assert_eq!(s.maxmemory, 2 << 20);
        assert_eq!(s.cores, 3);
        assert_eq!(s.requirepass.as_deref(), Some("s3cret"));
        assert_eq!(s.hz, 10);
    }

    #[test]
    fn encoding_thresholds_come_from_the_file_and_flags() {
        let file: Options = toml::from_str(
            "hash-max-listpack-entries = 7\nzset-max-listpack-value = \"1kb\"\nlist-max-listpack-size = 100\n",
        )
        .unwrap();
        let flags = Options::parse_from(["kiln-server", "--list-max-listpack-size", "-3"]);
        let s = file.overridden_by(flags).into_settings().unwrap();
        assert_eq!(s.encoding.hash_max_listpack_entries, 7);
        assert_eq!(s.encoding.zset_max_listpack_value, 1024);
        assert_eq!(s.encoding.list_max_listpack_size, -3);
        assert_eq!(
            s.encoding.set_max_intset_entries,
            EncodingLimits::default().set_max_intset_entries
        );
    }

    #[test]
    fn tenant_tables_are_read_from_the_file() {
        let file: Options = toml::from_str(concat!(
            "tenant-file = \"/tmp/t.toml\"\n",
            "[[tenant]]\nname = \"t1\"\nadmin = true\n",
            "passwords = [\"#2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\"]\n",
            "limits = { maxmemory = \"1mb\", maxkeys = 10 }\n",
        ))
        .unwrap();
        let s = file
            .overridden_by(Options::default())
            .into_settings()
            .unwrap();
        assert_eq!(s.tenants.len(), 1);
        assert_eq!(s.tenants[0].limits.maxmemory, 1 << 20);
        assert_eq!(s.tenants[0].limits.maxkeys, 10);
        assert!(s.tenants[0].admin && s.tenants[0].enabled);
        assert_eq!(
            s.tenant_file.as_deref(),
            Some(std::path::Path::new("/tmp/t.toml"))
        );
        assert!(toml::from_str::<Options>("[[tenant]]\nname = \"x\"\nquota = 1\n").is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<Options>("prot = 1").is_err());
        let bad = Options {
            maxmemory_policy: Some("allkeys-lru-ish".into()),
            ..Options::default()
        };
        assert!(bad.into_settings().is_err());
        let zero = Options {
            port: Some(0),
            ..Options::default()
        };
        assert_eq!(zero.into_settings().unwrap().core_port_base, 0);
    }

    #[test]
    fn output_buffer_limits_read_as_redis_writes_them() {
        let parse = |text| OutputBufferLimits::DEFAULT.parse_over(text);
        let limit = |hard, soft, soft_seconds| OutputBufferLimit {
            hard,
            soft,
            soft_seconds,
        };
        let ok = parse("normal 1mb 512kb 10").unwrap();
        assert_eq!(ok.normal(), limit(1 << 20, 512 << 10, 10));
        assert_eq!(
            ok.get(ClientClass::Pubsub),
            OutputBufferLimits::DEFAULT.get(ClientClass::Pubsub)
        );
        let all = parse("normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60").unwrap();
        assert_eq!(all.normal(), limit(0, 0, 0));
        assert_eq!(
            all.to_string(),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        let pubsub = parse("pubsub 1mb 2mb 3").unwrap();
        assert_eq!(pubsub.normal(), OutputBufferLimit::DEFAULT);
        assert_eq!(pubsub.get(ClientClass::Pubsub), limit(1 << 20, 2 << 20, 3));
        assert_eq!(
            parse("slave 1 2 3").unwrap().get(ClientClass::Replica),
            limit(1, 2, 3)
        );
        let wrong_number = Err("Wrong number of arguments in buffer limit configuration.");
        assert_eq!(parse("normal 1 2"), wrong_number);
        assert_eq!(parse(""), wrong_number);
        assert_eq!(
            parse("master 1 2 3"),
            Err("Invalid client class specified in buffer limit configuration.")
        );
        assert_eq!(
            parse("normal 1 2 3 normal 1x 2 3"),
            Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        );
        let file: Options = toml::from_str(
            "client-output-buffer-limit = \"normal 64mb 1mb 5\"\npartial-request-timeout = 0\n",
        )
        .unwrap();
        let s = file.into_settings().unwrap();
        assert_eq!(s.client_output_buffer_limit.normal().soft, 1 << 20);
        assert_eq!(s.partial_request_timeout, 0);
        assert_eq!(s.client_pipeline_limit, 1024);
        let flags = Options::parse_from([
            "kiln-server",
            "--client-output-buffer-limit",
            "normal 0 0 0",
            "--client-pipeline-limit",
            "16",
        ]);
        let s = flags.into_settings().unwrap();
        assert_eq!(s.client_output_buffer_limit.normal().hard, 0);
        assert_eq!(s.client_pipeline_limit, 16);
        let zero = Options {
            client_pipeline_limit: Some(0),
            ..Options::default()
        };
        assert!(zero.into_settings().is_err());
    }
}
