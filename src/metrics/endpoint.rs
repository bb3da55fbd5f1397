//! The Prometheus endpoint: `GET /metrics` on its own thread
//! (`kiln-metrics`), in the Prometheus text format (0.0.4) written by
//! `prometheus-client`, over `tiny_http`.
//!
//! Every scrape reads the tenants' usage atomics and each core's latest
//! [`CoreSnapshot`]; it never touches a core's own state, so it answers
//! while every core is busy (the cores' figures are then as of their last
//! publication).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::{CoreSnapshot, Rejection, TenantSnapshot, TurnTimes};
use crate::commands;
use crate::shared::{LiveSettings, Shared};
use crate::stats::CoreStats;
use crate::tenant::TenantId;

/// Builds what core `stats` publishes now.
pub fn snapshot(
    stats: &CoreStats,
    functions: &kiln_functions::FunctionRuntime,
    now: Instant,
) -> CoreSnapshot {
    let isolates = functions.isolate_stats();
    let tenants = stats
        .commands
        .all()
        .map(|(tenant, rows)| TenantSnapshot {
            tenant,
            commands: rows
                .rows()
                .iter()
                .map(|r| (r.id, r.calls, r.failed, r.nanos))
                .collect(),
            rejected: rows.rejections(),
            functions: rows.functions().to_vec(),
            totals: rows.totals(),
            isolate: functions.has_isolate(tenant),
            churn: functions.isolate_churn(tenant),
        })
        .collect();
    CoreSnapshot {
        at: Some(now),
        commands: stats.commands_processed,
        forwarded: stats.forwarded_requests,
        messages_received: stats.messages_received,
        messages_sent: stats.messages_sent,
        errors: stats.error_replies,
        rejected_connections: stats.rejected_connections,
        net: stats.net,
        isolates: (
            isolates.kept as u64,
            isolates.heap_bytes as u64,
            isolates.created,
            isolates.evicted,
            isolates.throttled,
        ),
        turns: stats.turns,
        tenants,
    }
}

/// Binds `addr` and serves `GET /metrics` there on a thread of its own
/// until the server stops.
pub fn start(
    shared: Arc<Shared>,
    addr: SocketAddr,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let server = tiny_http::Server::http(addr).map_err(std::io::Error::other)?;
    std::thread::Builder::new()
        .name("kiln-metrics".into())
        .spawn(move || serve(&server, &shared))
}

fn serve(server: &tiny_http::Server, shared: &Arc<Shared>) {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Figures(Arc::clone(shared))));
    while !shared.shutdown.load(Ordering::Relaxed) {
        let request = match server.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "metrics endpoint: accept failed");
                continue;
            }
        };
        let path = request.url().split('?').next().unwrap_or("");
        let response = match (request.method(), path) {
            (tiny_http::Method::Get, "/metrics") => {
                let mut body = String::new();
                match prometheus_client::encoding::prometheus_text::encode(&mut body, &registry) {
                    Ok(()) => text(
                        200,
                        body,
                        prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
                    ),
                    Err(_) => text(500, "encoding failed\n".into(), "text/plain"),
                }
            }
            (tiny_http::Method::Get, _) => text(404, "try /metrics\n".into(), "text/plain"),
            _ => text(405, "GET only\n".into(), "text/plain"),
        };
        // A scraper that went away is its own problem.
        let _ = request.respond(response);
    }
}

fn text(
    status: u16,
    body: String,
    content_type: &str,
) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes())
        .expect("a valid header");
    tiny_http::Response::from_string(body)
        .with_status_code(status)
        .with_header(header)
}

/// The collector every scrape runs.
struct Figures(Arc<Shared>);

impl std::fmt::Debug for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Figures")
    }
}

type Labels = Vec<(&'static str, String)>;

/// One family of series.
struct Family {
    name: &'static str,
    help: &'static str,
    unit: Option<Unit>,
    kind: MetricType,
    series: Vec<(Labels, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str, kind: MetricType) -> Family {
        Family {
            name,
            help,
            unit: None,
            kind,
            series: Vec::new(),
        }
    }

    fn unit(mut self, unit: Unit) -> Family {
        self.unit = Some(unit);
        self
    }

    fn add(&mut self, labels: Labels, value: impl Into<f64>) {
        self.series.push((labels, value.into()));
    }

    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut metric =
            encoder.encode_descriptor(self.name, self.help, self.unit.as_ref(), self.kind)?;
        for (labels, value) in &self.series {
            let mut one = metric.encode_family(labels)?;
            match self.kind {
                MetricType::Counter => one.encode_counter::<NoLabelSet, f64, f64>(value, None)?,
                _ => one.encode_gauge(value)?,
            }
        }
        Ok(())
    }
}

/// `u64` as a sample value (exact below 2^53).
fn n(v: u64) -> f64 {
    v as f64
}

fn tenant_label(names: &BTreeMap<usize, String>, id: TenantId) -> Option<String> {
    names.get(&id.index()).cloned()
}

impl Collector for Figures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let shared = &self.0;
        let cores = shared.metrics.read();
        // Tenants by slot index, `default` included; rows of a slot whose
        // tenant was deleted since are skipped.
        let mut names: BTreeMap<usize, String> = BTreeMap::new();
        names.insert(0, crate::tenant::DEFAULT_USER.into());
        let mut live = vec![TenantId::new(0, 0)];
        for (id, user) in shared.tenants.list() {
            names.insert(id.index(), user.name.clone());
            live.push(id);
        }
        let current = |id: TenantId| id.is_default() || shared.tenants.is_current(id);

        // Server.
        let mut info =
            encoder.encode_descriptor("kiln_build", "Kiln's version.", None, MetricType::Info)?;
        info.encode_info(&vec![
            ("version", env!("CARGO_PKG_VERSION").to_string()),
            (
                "redis_version",
                commands::connection::REDIS_VERSION.to_string(),
            ),
        ])?;
        let mut server = vec![
            Family::new(
                "kiln_uptime",
                "Time since the server started.",
                MetricType::Gauge,
            )
            .unit(Unit::Seconds),
            Family::new("kiln_cores", "Cores (threads) serving.", MetricType::Gauge),
            Family::new(
                "kiln_maxmemory",
                "The maxmemory limit (0: none).",
                MetricType::Gauge,
            )
            .unit(Unit::Bytes),
            Family::new(
                "kiln_maxclients",
                "The maxclients limit.",
                MetricType::Gauge,
            ),
            Family::new("kiln_max_tenants", "Tenant slots.", MetricType::Gauge),
        ];
        server[0].add(vec![], shared.started.elapsed().as_secs_f64());
        server[1].add(vec![], n(shared.cores() as u64));
        server[2].add(vec![], n(LiveSettings::get(&shared.runtime.maxmemory)));
        server[3].add(vec![], n(LiveSettings::get(&shared.runtime.maxclients)));
        server[4].add(vec![], n(shared.settings.max_tenants as u64));
        for family in &server {
            family.encode(&mut encoder)?;
        }

        // Per tenant, from the usage atomics.
        let mut gauges = [
            Family::new(
                "kiln_tenant_keys",
                "Keys in the tenant's keyspace.",
                MetricType::Gauge,
            ),
            Family::new(
                "kiln_tenant_memory",
                "Accounted memory of the tenant's keys and unsent replies.",
                MetricType::Gauge,
            )
            .unit(Unit::Bytes),
            Family::new(
                "kiln_tenant_connections",
                "The tenant's authenticated connections.",
                MetricType::Gauge,
            ),
            Family::new(
                "kiln_tenant_isolates",
                "Cores holding an isolate of the tenant.",
                MetricType::Gauge,
            ),
        ];
        let mut counters = [
            Family::new(
                "kiln_tenant_requests",
                "Commands the tenant's connections sent.",
                MetricType::Counter,
            ),
            Family::new(
                "kiln_tenant_cpu",
                "Core time spent running the tenant's commands.",
                MetricType::Counter,
            )
            .unit(Unit::Seconds),
            Family::new(
                "kiln_tenant_evicted_keys",
                "Keys evicted from the tenant's keyspace for a memory bound.",
                MetricType::Counter,
            ),
            Family::new(
                "kiln_tenant_net_input",
                "Bytes read from the tenant's connections.",
                MetricType::Counter,
            )
            .unit(Unit::Bytes),
            Family::new(
                "kiln_tenant_net_output",
                "Bytes written to the tenant's connections.",
                MetricType::Counter,
            )
            .unit(Unit::Bytes),
        ];
        let mut isolates: BTreeMap<usize, u64> = BTreeMap::new();
        for core in &cores {
            for t in core.tenants.iter().filter(|t| t.isolate) {
                *isolates.entry(t.tenant.index()).or_default() += 1;
            }
        }
        for &id in &live {
            let Some(name) = tenant_label(&names, id) else {
                continue;
            };
            let f = shared.tenants.figures(id);
            let label = || vec![("tenant", name.clone())];
            gauges[0].add(label(), n(f.keys));
            gauges[1].add(label(), n(f.memory + f.output));
            gauges[2].add(label(), n(f.connections));
            gauges[3].add(label(), n(isolates.get(&id.index()).copied().unwrap_or(0)));
            counters[0].add(label(), n(f.commands));
            counters[1].add(label(), f.cpu_us as f64 / 1e6);
            counters[2].add(label(), n(f.evicted));
            counters[3].add(label(), n(f.net_input));
            counters[4].add(label(), n(f.net_output));
        }
        for family in gauges.iter().chain(&counters) {
            family.encode(&mut encoder)?;
        }

        // Per tenant, from the cores' snapshots, merged over cores.
        let mut commands: BTreeMap<(usize, &'static str), (u64, u64, u64)> = BTreeMap::new();
        let mut rejected: BTreeMap<(usize, usize), u64> = BTreeMap::new();
        let mut functions: BTreeMap<(usize, String, String), (u64, u64)> = BTreeMap::new();
        let mut killed: BTreeMap<(usize, usize), u64> = BTreeMap::new();
        let mut churn: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
        for core in &cores {
            for t in core.tenants.iter().filter(|t| current(t.tenant)) {
                let index = t.tenant.index();
                for &(id, calls, failed, nanos) in &t.commands {
                    let Some(entry) = commands::catalog().get(id as usize) else {
                        continue;
                    };
                    let row = commands.entry((index, entry.spec.name)).or_default();
                    row.0 += calls;
                    row.1 += failed;
                    row.2 += nanos;
                }
                for (reason, &count) in t.rejected.iter().enumerate().filter(|(_, c)| **c > 0) {
                    *rejected.entry((index, reason)).or_default() += count;
                }
                for f in &t.functions {
                    let row = functions
                        .entry((index, f.library.clone(), f.function.clone()))
                        .or_default();
                    row.0 += f.calls;
                    row.1 += f.nanos;
                }
                for (reason, &count) in t.totals.killed.iter().enumerate().filter(|(_, c)| **c > 0)
                {
                    *killed.entry((index, reason)).or_default() += count;
                }
                if t.churn != Default::default() {
                    let row = churn.entry(index).or_default();
                    row.0 += t.churn.created;
                    row.1 += t.churn.evicted;
                }
            }
        }
        let mut by_command = [
            Family::new(
                "kiln_tenant_commands",
                "Commands run, by command (Redis's commandstats calls).",
                MetricType::Counter,
            ),
            Family::new(
                "kiln_tenant_command_failures",
                "Commands that ran and answered an error.",
                MetricType::Counter,
            ),
            Family::new(
                "kiln_tenant_command",
                "Time spent running commands, by command.",
                MetricType::Counter,
            )
            .unit(Unit::Seconds),
        ];
        for (&(index, command), &(calls, failed, nanos)) in &commands {
            let Some(tenant) = names.get(&index) else {
                continue;
            };
            let labels = || vec![("tenant", tenant.clone()), ("command", command.to_string())];
            by_command[0].add(labels(), n(calls));
            by_command[1].add(labels(), n(failed));
            by_command[2].add(labels(), nanos as f64 / 1e9);
        }
        let mut refused = Family::new(
            "kiln_tenant_rejected_commands",
            "Commands refused before they ran, by reason.",
            MetricType::Counter,
        );
        for (&(index, reason), &count) in &rejected {
            let Some(tenant) = names.get(&index) else {
                continue;
            };
            refused.add(
                vec![
                    ("tenant", tenant.clone()),
                    ("reason", Rejection::ALL[reason].label().into()),
                ],
                n(count),
            );
        }
        let mut calls = Family::new(
            "kiln_tenant_function_calls",
            "Storage function calls, by library and function (past the per-tenant cap: other).",
            MetricType::Counter,
        );
        let mut cpu = Family::new(
            "kiln_tenant_function_cpu",
            "Time spent in storage function calls.",
            MetricType::Counter,
        )
        .unit(Unit::Seconds);
        for ((index, library, function), &(count, nanos)) in &functions {
            let Some(tenant) = names.get(index) else {
                continue;
            };
            let labels = || {
                vec![
                    ("tenant", tenant.clone()),
                    ("library", library.clone()),
                    ("function", function.clone()),
                ]
            };
            calls.add(labels(), n(count));
            cpu.add(labels(), nanos as f64 / 1e9);
        }
        let mut stopped = Family::new(
            "kiln_tenant_function_calls_killed",
            "Storage function calls stopped, by reason (budget, heap, function_kill).",
            MetricType::Counter,
        );
        for (&(index, reason), &count) in &killed {
            let Some(tenant) = names.get(&index) else {
                continue;
            };
            let why = super::accounting::Killed::ALL[reason].label();
            stopped.add(
                vec![("tenant", tenant.clone()), ("reason", why.into())],
                n(count),
            );
        }
        let mut isolates = [
            Family::new(
                "kiln_tenant_isolates_created",
                "Isolates built for the tenant (a first call on a core, or after an eviction).",
                MetricType::Counter,
            ),
            Family::new(
                "kiln_tenant_isolates_evicted",
                "The tenant's isolates evicted to make room for another tenant's.",
                MetricType::Counter,
            ),
        ];
        for (index, &(created, evicted)) in &churn {
            let Some(tenant) = names.get(index) else {
                continue;
            };
            isolates[0].add(vec![("tenant", tenant.clone())], n(created));
            isolates[1].add(vec![("tenant", tenant.clone())], n(evicted));
        }
        let all = [&refused, &calls, &cpu, &stopped, &isolates[0], &isolates[1]];
        for family in by_command.iter().chain(all) {
            family.encode(&mut encoder)?;
        }

        // Per core: each family beside how a core's value is read.
        type Read = fn(&Shared, usize, &CoreSnapshot, &[TenantId]) -> f64;
        let gauge = |name, help| Family::new(name, help, MetricType::Gauge);
        let counter = |name, help| Family::new(name, help, MetricType::Counter);
        let mut per_core: Vec<(Family, Read)> = vec![
            (
                gauge("kiln_core_connections", "Open connections."),
                |sh, k, _, _| n(sh.connections[k].load(Ordering::Relaxed)),
            ),
            (
                gauge("kiln_core_keys", "Keys of every tenant on the core."),
                |sh, k, _, live| {
                    n(live
                        .iter()
                        .map(|&id| sh.tenants.usage(k, id).keys.load(Ordering::Relaxed))
                        .sum())
                },
            ),
            (
                gauge("kiln_core_memory", "Accounted memory of the core's keys.").unit(Unit::Bytes),
                |sh, k, _, _| n(sh.memory[k].load(Ordering::Relaxed)),
            ),
            (
                gauge("kiln_core_isolates", "Isolates the core keeps."),
                |_, _, c, _| n(c.isolates.0),
            ),
            (
                gauge("kiln_core_isolate_heap", "Their V8 heap, as last weighed.")
                    .unit(Unit::Bytes),
                |_, _, c, _| n(c.isolates.1),
            ),
            (
                counter("kiln_core_commands", "Commands processed."),
                |_, _, c, _| n(c.commands),
            ),
            (
                counter(
                    "kiln_core_error_replies",
                    "Commands answered with an error.",
                ),
                |_, _, c, _| n(c.errors),
            ),
            (
                counter(
                    "kiln_core_forwarded_requests",
                    "Requests sent to the owning core.",
                ),
                |_, _, c, _| n(c.forwarded),
            ),
            (
                counter(
                    "kiln_core_mailbox_messages_received",
                    "Messages handled (the core's own to itself included).",
                ),
                |_, _, c, _| n(c.messages_received),
            ),
            (
                counter(
                    "kiln_core_mailbox_messages_sent",
                    "Messages sent to other cores.",
                ),
                |_, _, c, _| n(c.messages_sent),
            ),
            (
                counter("kiln_core_connections_received", "Connections accepted."),
                |_, _, c, _| n(c.net.connections_received),
            ),
            (
                counter(
                    "kiln_core_rejected_connections",
                    "Connections refused at maxclients.",
                ),
                |_, _, c, _| n(c.rejected_connections),
            ),
            (
                counter("kiln_core_net_input", "Bytes read from clients.").unit(Unit::Bytes),
                |_, _, c, _| n(c.net.input_bytes),
            ),
            (
                counter("kiln_core_net_output", "Bytes written to clients.").unit(Unit::Bytes),
                |_, _, c, _| n(c.net.output_bytes),
            ),
            (
                counter("kiln_core_isolates_created", "Isolates created."),
                |_, _, c, _| n(c.isolates.2),
            ),
            (
                counter(
                    "kiln_core_isolates_evicted",
                    "Isolates evicted to make room.",
                ),
                |_, _, c, _| n(c.isolates.3),
            ),
            (
                counter(
                    "kiln_core_function_calls_throttled",
                    "Function calls refused over the tenant's CPU share.",
                ),
                |_, _, c, _| n(c.isolates.4),
            ),
            (
                gauge(
                    "kiln_core_snapshot_age",
                    "Age of the core's published figures (a busy core publishes late).",
                )
                .unit(Unit::Seconds),
                |_, _, c, _| c.at.map_or(-1.0, |at| at.elapsed().as_secs_f64()),
            ),
        ];
        for (k, snap) in cores.iter().enumerate() {
            for (family, read) in &mut per_core {
                family.add(vec![("core", k.to_string())], read(shared, k, snap, &live));
            }
        }
        for (family, _) in &per_core {
            family.encode(&mut encoder)?;
        }
        let mut turns = encoder.encode_descriptor(
            "kiln_core_loop_turn",
            "Event-loop iteration time.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (k, snap) in cores.iter().enumerate() {
            let buckets: Vec<(f64, u64)> = snap
                .turns
                .buckets
                .iter()
                .enumerate()
                .map(|(i, &c)| (TurnTimes::bound(i).unwrap_or(f64::INFINITY), c))
                .collect();
            let count = snap.turns.buckets.iter().sum();
            let labels = vec![("core", k.to_string())];
            turns
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(
                    snap.turns.nanos as f64 / 1e9,
                    count,
                    &buckets,
                    None,
                )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_encode_with_prometheus_names() {
        let mut registry = Registry::default();
        #[derive(Debug)]
        struct One;
        impl Collector for One {
            fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
                let mut f = Family::new("kiln_tenant_command", "Time.", MetricType::Counter)
                    .unit(Unit::Seconds);
                f.add(vec![("tenant", "a".into()), ("command", "get".into())], 0.5);
                f.encode(&mut encoder)?;
                let mut g = Family::new("kiln_tenant_keys", "Keys.", MetricType::Gauge);
                g.add(vec![("tenant", "a\"b".into())], 3.0);
                g.encode(&mut encoder)
            }
        }
        registry.register_collector(Box::new(One));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).unwrap();
        assert!(
            out.contains("# TYPE kiln_tenant_command_seconds_total counter\n"),
            "{out}"
        );
        assert!(
            out.contains("kiln_tenant_command_seconds_total{tenant=\"a\",command=\"get\"} 0.5\n"),
            "{out}"
        );
        assert!(
            out.contains("kiln_tenant_keys{tenant=\"a\\\"b\"} 3"),
            "{out}"
        );
    }
}
