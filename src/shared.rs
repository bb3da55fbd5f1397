//! What every core reads and (rarely) changes: runtime configuration, the
//! slot map, the cores' mailboxes and memory gauges (keys and values, and
//! client output buffers, per core).
//!
//! Nothing here is on a lock-protected data path: numbers are atomics read
//! with relaxed loads, the slot map never changes after start, and the one
//! lock (the password) is read only at connect and AUTH time.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use kiln_net::slot::SLOT_COUNT;
use kiln_net::transport::Bell;
use kiln_persist::aof::Fsync;
use kiln_store::EncodingLimits;

use crate::config::{ClientClass, OutputBufferLimit, OutputBufferLimits, Settings};
use crate::tenant::{Growth, ServerMemory, TenantId, Tenants};

/// Redis's default `slowlog-log-slower-than`: 10 ms.
pub const SLOWLOG_SLOWER_THAN: i64 = 10_000;
/// Redis's default `slowlog-max-len`.
pub const SLOWLOG_MAX_LEN: u64 = 128;

/// Settings `CONFIG SET` may change while the server runs.
#[derive(Debug)]
pub struct LiveSettings {
    /// `maxmemory` in bytes; 0 = no limit.
    pub maxmemory: AtomicU64,
    /// `proto-max-bulk-len`.
    pub proto_max_bulk_len: AtomicU64,
    /// `client-query-buffer-limit`.
    pub client_query_buffer_limit: AtomicU64,
    /// `maxclients`.
    pub maxclients: AtomicU64,
    /// `timeout` in seconds; 0 = never close idle clients.
    pub timeout: AtomicU64,
    /// `client-output-buffer-limit`, one per [`ClientClass`].
    output_limits: [OutputLimitCell; 3],
    /// `client-pipeline-limit`: requests in flight per client before reading pauses.
    pub client_pipeline_limit: AtomicU64,
    /// `partial-request-timeout` in seconds; 0 = no limit.
    pub partial_request_timeout: AtomicU64,
    /// `requirepass`; `None` = no password.
    pub requirepass: RwLock<Option<Arc<str>>>,
    /// The collections' encoding thresholds (`hash-max-listpack-entries`...).
    encoding: RwLock<EncodingLimits>,
    /// `appendfsync` ([`LiveSettings::fsync_code`]).
    pub appendfsync: AtomicU64,
    /// Bumped by every change of `encoding`: a core compares it (one relaxed
    /// load per command) and re-reads the limits only when it moved.
    encoding_generation: AtomicU64,
    /// `slowlog-log-slower-than` in microseconds; negative: log nothing.
    pub slowlog_slower_than: std::sync::atomic::AtomicI64,
    /// `slowlog-max-len`: entries each core keeps.
    pub slowlog_max_len: AtomicU64,
    /// `latency-monitor-threshold` in milliseconds; 0: the latency monitor
    /// records nothing.
    pub latency_threshold_ms: AtomicU64,
    /// `loglevel` as last set (at start, or by `CONFIG SET`).
    pub loglevel: RwLock<String>,
    /// `maxmemory-policy` ([`kiln_store::Policy::code`]).
    pub maxmemory_policy: AtomicU64,
    /// `maxmemory-samples`: keys sampled per eviction.
    pub maxmemory_samples: AtomicU64,
    /// `lfu-log-factor`.
    pub lfu_log_factor: AtomicU64,
    /// `lfu-decay-time`, minutes.
    pub lfu_decay_time: AtomicU64,
}

impl LiveSettings {
    /// `appendfsync` now.
    pub fn appendfsync(&self) -> Fsync {
        match self.appendfsync.load(Ordering::Relaxed) {
            0 => Fsync::Always,
            2 => Fsync::No,
            _ => Fsync::EverySec,
        }
    }

    /// How `appendfsync` is kept in its atomic.
    pub fn fsync_code(fsync: Fsync) -> u64 {
        match fsync {
            Fsync::Always => 0,
            Fsync::EverySec => 1,
            Fsync::No => 2,
        }
    }

    fn new(settings: &Settings) -> LiveSettings {
        LiveSettings {
            maxmemory: AtomicU64::new(settings.maxmemory),
            proto_max_bulk_len: AtomicU64::new(settings.proto_max_bulk_len),
            client_query_buffer_limit: AtomicU64::new(settings.client_query_buffer_limit),
            maxclients: AtomicU64::new(settings.maxclients),
            timeout: AtomicU64::new(settings.timeout),
            output_limits: ClientClass::ALL
                .map(|class| OutputLimitCell::new(settings.client_output_buffer_limit.get(class))),
            client_pipeline_limit: AtomicU64::new(settings.client_pipeline_limit),
            partial_request_timeout: AtomicU64::new(settings.partial_request_timeout),
            requirepass: RwLock::new(settings.requirepass.as_deref().map(Arc::from)),
            encoding: RwLock::new(settings.encoding),
            encoding_generation: AtomicU64::new(0),
            appendfsync: AtomicU64::new(LiveSettings::fsync_code(settings.aof.fsync)),
            slowlog_slower_than: std::sync::atomic::AtomicI64::new(SLOWLOG_SLOWER_THAN),
            slowlog_max_len: AtomicU64::new(SLOWLOG_MAX_LEN),
            latency_threshold_ms: AtomicU64::new(settings.latency_monitor_threshold),
            loglevel: RwLock::new(settings.loglevel.clone()),
            maxmemory_policy: AtomicU64::new(u64::from(
                kiln_store::Policy::parse(&settings.maxmemory_policy)
                    .unwrap_or_default()
                    .code(),
            )),
            maxmemory_samples: AtomicU64::new(5),
            lfu_log_factor: AtomicU64::new(10),
            lfu_decay_time: AtomicU64::new(1),
        }
    }

    /// The server's `maxmemory-policy` now.
    pub fn policy(&self) -> kiln_store::Policy {
        kiln_store::Policy::from_code(self.maxmemory_policy.load(Ordering::Relaxed) as u8)
    }

    /// `lfu-log-factor` and `lfu-decay-time` now.
    pub fn lfu_params(&self) -> kiln_store::LfuParams {
        kiln_store::LfuParams {
            log_factor: self.lfu_log_factor.load(Ordering::Relaxed) as u32,
            decay_minutes: self.lfu_decay_time.load(Ordering::Relaxed) as u32,
        }
    }

    /// The encoding thresholds in force, and their generation.
    pub fn encoding_limits(&self) -> (EncodingLimits, u64) {
        let limits = *self.encoding.read().unwrap_or_else(|e| e.into_inner());
        (limits, self.encoding_generation.load(Ordering::Acquire))
    }

    /// The generation of the encoding thresholds (see [`Self::encoding_limits`]).
    pub fn encoding_generation(&self) -> u64 {
        self.encoding_generation.load(Ordering::Relaxed)
    }

    /// Changes the encoding thresholds (`CONFIG SET`).
    pub fn update_encoding_limits(&self, change: impl FnOnce(&mut EncodingLimits)) {
        let mut limits = self.encoding.write().unwrap_or_else(|e| e.into_inner());
        change(&mut limits);
        self.encoding_generation.fetch_add(1, Ordering::Release);
    }

    /// The password clients must give, if any.
    pub fn requirepass(&self) -> Option<Arc<str>> {
        self.requirepass
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The `client-output-buffer-limit` of normal clients in force.
    pub fn output_buffer_limit(&self) -> OutputBufferLimit {
        self.output_limits[ClientClass::Normal as usize].get()
    }

    /// The `client-output-buffer-limit` of replicas (Kiln's monitors).
    pub fn replica_output_buffer_limit(&self) -> OutputBufferLimit {
        self.output_limits[ClientClass::Replica as usize].get()
    }

    /// The `client-output-buffer-limit` of pub/sub subscribers.
    pub fn pubsub_output_buffer_limit(&self) -> OutputBufferLimit {
        self.output_limits[ClientClass::Pubsub as usize].get()
    }

    /// The `client-output-buffer-limit` of every class.
    pub fn output_buffer_limits(&self) -> OutputBufferLimits {
        let mut limits = OutputBufferLimits::DEFAULT;
        for class in ClientClass::ALL {
            *limits.get_mut(class) = self.output_limits[class as usize].get();
        }
        limits
    }

    /// Sets the `client-output-buffer-limit` (each part is read on its
    /// own; a client checked mid-change sees old and new parts, harmlessly).
    pub fn set_output_buffer_limits(&self, limits: OutputBufferLimits) {
        for class in ClientClass::ALL {
            self.output_limits[class as usize].set(limits.get(class));
        }
    }

    /// Reads an atomic setting.
    pub fn get(value: &AtomicU64) -> u64 {
        value.load(Ordering::Relaxed)
    }
}

/// One class's `client-output-buffer-limit`, as atomics every core reads.
#[derive(Debug)]
struct OutputLimitCell {
    hard: AtomicU64,
    soft: AtomicU64,
    soft_seconds: AtomicU64,
}

impl OutputLimitCell {
    fn new(limit: OutputBufferLimit) -> OutputLimitCell {
        OutputLimitCell {
            hard: AtomicU64::new(limit.hard),
            soft: AtomicU64::new(limit.soft),
            soft_seconds: AtomicU64::new(limit.soft_seconds),
        }
    }

    fn get(&self) -> OutputBufferLimit {
        OutputBufferLimit {
            hard: LiveSettings::get(&self.hard),
            soft: LiveSettings::get(&self.soft),
            soft_seconds: LiveSettings::get(&self.soft_seconds),
        }
    }

    fn set(&self, limit: OutputBufferLimit) {
        self.hard.store(limit.hard, Ordering::Relaxed);
        self.soft.store(limit.soft, Ordering::Relaxed);
        self.soft_seconds
            .store(limit.soft_seconds, Ordering::Relaxed);
    }
}

/// One core as a cluster node.
#[derive(Debug, Clone)]
pub struct Node {
    /// 40 hex characters, stable for the life of the process.
    pub id: String,
    /// The core's own port.
    pub port: u16,
    /// First slot owned.
    pub first_slot: u16,
    /// Last slot owned (inclusive).
    pub last_slot: u16,
}

/// Which core owns which slot: contiguous ranges, fixed at start.
#[derive(Debug)]
pub struct SlotMap {
    owner: Box<[u16]>,
    /// One node per core, in core order.
    pub nodes: Vec<Node>,
    /// Address announced in CLUSTER replies; `None` = the address the client
    /// connected to.
    pub announce_ip: Option<IpAddr>,
}

impl SlotMap {
    /// Splits the slots evenly over cores listening on `ports`.
    pub fn new(ports: &[u16], announce_ip: Option<IpAddr>, run_id: &str) -> SlotMap {
        let cores = ports.len();
        let start = |k: usize| (k * SLOT_COUNT / cores) as u16;
        let nodes: Vec<Node> = ports
            .iter()
            .enumerate()
            .map(|(k, &port)| Node {
                id: node_id(run_id, k),
                port,
                first_slot: start(k),
                last_slot: start(k + 1) - 1,
            })
            .collect();
        let mut owner = vec![0u16; SLOT_COUNT].into_boxed_slice();
        for (k, node) in nodes.iter().enumerate() {
            owner[node.first_slot as usize..=node.last_slot as usize].fill(k as u16);
        }
        SlotMap {
            owner,
            nodes,
            announce_ip,
        }
    }

    /// The core owning `slot`.
    pub fn owner(&self, slot: u16) -> usize {
        self.owner[slot as usize & (SLOT_COUNT - 1)] as usize
    }

    /// The core owning `key`.
    pub fn owner_of(&self, key: &[u8]) -> usize {
        self.owner(kiln_net::slot::key_slot(key))
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.nodes.len()
    }

    /// The IP to announce to a client connected to `local`.
    pub fn ip_for(&self, local: SocketAddr) -> IpAddr {
        self.announce_ip.unwrap_or(local.ip())
    }
}

/// A node id derived from the run id: distinct per core, 40 hex digits.
fn node_id(run_id: &str, core: usize) -> String {
    let mut id: String = run_id.chars().take(36).collect();
    id.push_str(&format!("{core:04x}"));
    id
}

/// A fresh 40-hex-digit id (Redis's run_id).
pub fn random_hex_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
        .collect()
}

/// State shared by every core.
pub struct Shared {
    /// The settings the server started with.
    pub settings: Settings,
    /// Cores still loading their log (`INFO persistence` `loading`).
    pub loading: AtomicUsize,
    /// Why the server stopped, when a core could not go on (a corrupt log).
    fatal: Mutex<Option<String>>,
    /// Settings changeable at runtime.
    pub runtime: LiveSettings,
    /// Slot ownership and node identities.
    pub slots: SlotMap,
    /// Wakes every core (shutdown).
    pub bell: Arc<dyn Bell>,
    /// Each core's accounted memory of keys and values, published after
    /// every batch (and after each host write of a storage function).
    pub memory: Vec<AtomicU64>,
    /// Each core's unsent replies, over all its connections (INFO
    /// `mem_clients_normal`), updated as replies are queued and written.
    pub clients: Vec<AtomicU64>,
    /// Each core's connection count (for `maxclients`).
    pub connections: Vec<AtomicU64>,
    /// Each core's pub/sub subscriptions (channels, patterns and shard
    /// channels of its clients): a publish goes only to cores with some.
    pub subscriptions: Vec<AtomicU64>,
    /// Source of client ids (unique across cores).
    pub next_client_id: Arc<AtomicU64>,
    /// Set once to stop every core.
    pub shutdown: AtomicBool,
    /// Main port address.
    pub main_addr: SocketAddr,
    /// Redis-style run id.
    pub run_id: String,
    /// When the server started.
    pub started: Instant,
    /// Wall clock at start, unix seconds.
    pub started_unix: u64,
    /// The tenant registry.
    pub tenants: Tenants,
    /// Every tenant's function libraries (read-mostly; see
    /// [`kiln_functions::Registry`]).
    pub functions: Arc<kiln_functions::Registry>,
    /// Each core's slow log (locked only by a slow command of that core
    /// and by `SLOWLOG`), and the counter numbering their entries.
    pub slowlogs: Vec<Mutex<crate::slowlog::SlowLog>>,
    /// The next slow log entry's id.
    pub slowlog_ids: AtomicU64,
    /// Each core's latest figures for the metrics endpoint.
    pub metrics: crate::metrics::Published,
    /// Each core's latency monitor (locked by that core for a spike and
    /// by `LATENCY`; see [`crate::latency`]).
    pub latency: Vec<Mutex<crate::latency::LatencyMonitor>>,
    /// `MONITOR` clients on the whole server: the one load a command pays
    /// while nobody monitors (see [`crate::monitor`]).
    pub monitors: AtomicUsize,
    /// `MONITOR` clients of each core: a core's batch of monitored
    /// commands goes only to cores with some.
    pub core_monitors: Vec<AtomicU64>,
    /// RDB snapshots: the schedule, the save under way, the last outcome.
    pub saves: crate::save::Saves,
}

impl Shared {
    /// The same state over a registry loaded from disk, every tenant
    /// bound in it (which attaches their saved libraries).
    pub fn with_registry(self, functions: kiln_functions::Registry) -> Shared {
        let functions = Arc::new(functions);
        self.tenants.bind_functions(Arc::clone(&functions));
        Shared { functions, ..self }
    }

    /// Builds the shared state once listeners are bound.
    pub fn new(
        settings: Settings,
        slots: SlotMap,
        bell: Arc<dyn Bell>,
        cores: usize,
        main_addr: SocketAddr,
        run_id: String,
        tenants: Tenants,
    ) -> Shared {
        let functions = Arc::new(kiln_functions::Registry::in_memory(
            settings.functions.registry,
        ));
        tenants.bind_functions(Arc::clone(&functions));
        let started_unix = unix_ms() / 1000;
        Shared {
            saves: crate::save::Saves::new(cores, settings.save.clone(), started_unix),
            runtime: LiveSettings::new(&settings),
            settings,
            slots,
            bell,
            memory: (0..cores).map(|_| AtomicU64::new(0)).collect(),
            clients: (0..cores).map(|_| AtomicU64::new(0)).collect(),
            connections: (0..cores).map(|_| AtomicU64::new(0)).collect(),
            subscriptions: (0..cores).map(|_| AtomicU64::new(0)).collect(),
            next_client_id: Arc::new(AtomicU64::new(1)),
            shutdown: AtomicBool::new(false),
            loading: AtomicUsize::new(0),
            fatal: Mutex::new(None),
            main_addr,
            run_id,
            started: Instant::now(),
            started_unix,
            tenants,
            functions,
            slowlogs: (0..cores).map(|_| Mutex::default()).collect(),
            slowlog_ids: AtomicU64::new(0),
            metrics: crate::metrics::Published::new(cores),
            latency: (0..cores).map(|_| Mutex::default()).collect(),
            monitors: AtomicUsize::new(0),
            core_monitors: (0..cores).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Records that `event` took `spent` on `core`, if it reached
    /// `latency-monitor-threshold` (one relaxed load while that is 0).
    #[inline]
    pub fn note_latency(&self, core: usize, event: &'static str, spent: std::time::Duration) {
        let threshold = self.runtime.latency_threshold_ms.load(Ordering::Relaxed);
        if threshold == 0 {
            return;
        }
        let ms = spent.as_millis() as u64;
        if ms >= threshold {
            self.latency[core]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(event, unix_ms() / 1000, ms);
        }
    }

    /// Memory used on every core, as INFO `used_memory` counts it: keys and
    /// values plus client output buffers.
    pub fn used_memory(&self) -> u64 {
        let sum = |gauges: &[AtomicU64]| -> u64 {
            gauges.iter().map(|m| m.load(Ordering::Relaxed)).sum()
        };
        sum(&self.memory) + sum(&self.clients)
    }

    /// Whether a write by `tenant` that adds `growth` fits the tenant's
    /// quotas and the server's `maxmemory` (see [`Tenants::admits`]).
    pub fn admits(&self, tenant: TenantId, growth: Growth) -> bool {
        self.admits_unless_evicting(tenant, growth, false)
    }

    /// [`Shared::admits`] where, with `evicting` (this core's eviction has
    /// just made room, or goes on between turns), the memory bounds whose
    /// policy evicts do not refuse, as in Redis; the others still do.
    pub fn admits_unless_evicting(&self, tenant: TenantId, growth: Growth, evicting: bool) -> bool {
        let mut max = LiveSettings::get(&self.runtime.maxmemory);
        if evicting && self.runtime.policy().evicts() {
            max = 0;
        }
        let used = if max == 0 { 0 } else { self.used_memory() };
        let server = ServerMemory { used, max };
        self.tenants
            .admits_unless_evicting(tenant, growth, server, evicting)
    }

    /// Whether core `core`'s clients subscribe to anything.
    pub fn has_subscribers(&self, core: usize) -> bool {
        self.subscriptions[core].load(Ordering::Acquire) > 0
    }

    /// Connected clients across cores.
    pub fn total_connections(&self) -> u64 {
        self.connections
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Asks every core to stop.
    pub fn request_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        self.bell.ring_all();
    }

    /// Stops the server because it cannot go on safely (a corrupt log):
    /// the first reason is what the process exits with.
    pub fn fail(&self, why: String) {
        tracing::error!("{why}");
        self.fatal
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(why);
        self.request_shutdown();
    }

    /// Why the server stopped, if it failed.
    pub fn failure(&self) -> Option<String> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether shutdown was requested.
    pub fn shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.memory.len()
    }
}

/// Unix time in milliseconds.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_split_evenly_and_contiguously() {
        let map = SlotMap::new(&[7380, 7381, 7382], None, &random_hex_id());
        assert_eq!(map.nodes[0].first_slot, 0);
        assert_eq!(map.nodes[2].last_slot, 16383);
        for pair in map.nodes.windows(2) {
            assert_eq!(pair[0].last_slot + 1, pair[1].first_slot);
        }
        assert_eq!(map.owner(0), 0);
        assert_eq!(map.owner(16383), 2);
        assert_eq!(map.owner(map.nodes[1].first_slot), 1);
        let ids: std::collections::HashSet<_> = map.nodes.iter().map(|n| n.id.clone()).collect();
        assert_eq!(ids.len(), 3);
        assert!(map.nodes.iter().all(|n| n.id.len() == 40));
    }
}

/// Builders for unit tests (and fuzz targets) that need a [`Shared`] without
/// a running server.
#[cfg(any(test, feature = "fuzzing"))]
pub mod tests_support {
    use super::*;

    /// A `Shared` for `cores` cores whose mailboxes nobody drains.
    pub fn shared(cores: usize) -> Shared {
        let wakers = (0..cores)
            .map(|_| {
                let poll = mio::Poll::new().unwrap();
                // The poll may go; the waker's eventfd stays valid.
                mio::Waker::new(poll.registry(), mio::Token(0)).unwrap()
            })
            .collect();
        let exchange: kiln_net::transport::Exchange<()> =
            kiln_net::transport::Exchange::new(wakers);
        let ports: Vec<u16> = (0..cores as u16).map(|k| 17380 + k).collect();
        let run_id = random_hex_id();
        let mut settings = Settings {
            cores,
            ..Settings::default()
        };
        // The default 5 ms call budget is wall-clock time; a debug build on
        // a machine busy with the rest of the test suite can spend that on
        // a function's first call. Tests of the budget set their own.
        settings.functions.limits.cpu_budget = std::time::Duration::from_secs(1);
        Shared::new(
            settings,
            SlotMap::new(&ports, None, &run_id),
            Arc::new(exchange),
            cores,
            "127.0.0.1:17379".parse().unwrap(),
            run_id,
            Tenants::none(cores),
        )
    }

    /// Two keys owned by core 0 and core 1.
    pub fn keys_on_cores(shared: &Shared) -> (String, String) {
        let find = |core| {
            (0..)
                .map(|i| format!("key:{i}"))
                .find(|k| shared.slots.owner_of(k.as_bytes()) == core)
                .unwrap()
        };
        (find(0), find(1))
    }
}
