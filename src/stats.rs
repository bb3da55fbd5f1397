//! Per-core counters, summed across cores by INFO.

use std::time::Instant;

use kiln_net::transport::NetCounters;

/// Counters one core keeps about its own work.
#[derive(Debug, Default, Clone)]
pub struct CoreStats {
    /// What the transport counts: connections, bytes, protocol errors and
    /// limit disconnections.
    pub net: NetCounters,
    /// Connections refused at `maxclients`.
    pub rejected_connections: u64,
    /// Commands executed on this core (forwarded ones included).
    pub commands_processed: u64,
    /// Keyed requests this core had to send to the owning core(s).
    pub forwarded_requests: u64,
    /// Commands answered with an error.
    pub error_replies: u64,
    /// Commands per second, averaged over the last [`OPS_SAMPLES`] cron ticks.
    pub instantaneous_ops_per_sec: u64,
    /// Tenant isolates the core keeps (a gauge, filled in for INFO).
    pub isolates: u64,
    /// Their V8 heap, as last weighed (a gauge, filled in for INFO).
    pub isolate_heap_bytes: u64,
    /// Tenant isolates created.
    pub isolates_created: u64,
    /// Tenant isolates evicted to make room.
    pub isolates_evicted: u64,
    /// Function calls refused because their tenant had spent its CPU share.
    pub function_calls_throttled: u64,
    /// Cross-core messages this core handled (its own to itself included).
    pub messages_received: u64,
    /// Messages this core sent to other cores (as of its last request or
    /// message).
    pub messages_sent: u64,
    /// Per tenant and command: calls, time, rejections, failures, latency.
    pub commands: crate::metrics::accounting::CommandStats,
    /// How long the event loop's turns took (kept while the metrics
    /// endpoint is on).
    pub turns: crate::metrics::TurnTimes,
}

impl CoreStats {
    /// The counters as integers in a fixed order, to travel as a reply.
    pub fn to_fields(&self) -> [i64; 16] {
        [
            self.net.connections_received as i64,
            self.rejected_connections as i64,
            self.commands_processed as i64,
            self.forwarded_requests as i64,
            self.net.input_bytes as i64,
            self.net.output_bytes as i64,
            self.error_replies as i64,
            self.net.protocol_errors as i64,
            self.instantaneous_ops_per_sec as i64,
            self.net.query_buffer_limit_disconnections as i64,
            self.net.output_buffer_limit_disconnections as i64,
            self.isolates as i64,
            self.isolate_heap_bytes as i64,
            self.isolates_created as i64,
            self.isolates_evicted as i64,
            self.function_calls_throttled as i64,
        ]
    }

    /// Rebuilds counters from [`CoreStats::to_fields`] output.
    pub fn from_fields(fields: &[i64]) -> CoreStats {
        let f = |i: usize| fields.get(i).copied().unwrap_or(0).max(0) as u64;
        CoreStats {
            net: NetCounters {
                connections_received: f(0),
                input_bytes: f(4),
                output_bytes: f(5),
                protocol_errors: f(7),
                query_buffer_limit_disconnections: f(9),
                output_buffer_limit_disconnections: f(10),
            },
            rejected_connections: f(1),
            commands_processed: f(2),
            forwarded_requests: f(3),
            error_replies: f(6),
            instantaneous_ops_per_sec: f(8),
            isolates: f(11),
            isolate_heap_bytes: f(12),
            isolates_created: f(13),
            isolates_evicted: f(14),
            function_calls_throttled: f(15),
            ..CoreStats::default()
        }
    }

    /// Adds another core's counters.
    pub fn add(&mut self, other: &CoreStats) {
        self.net.add(&other.net);
        self.rejected_connections += other.rejected_connections;
        self.commands_processed += other.commands_processed;
        self.forwarded_requests += other.forwarded_requests;
        self.error_replies += other.error_replies;
        self.instantaneous_ops_per_sec += other.instantaneous_ops_per_sec;
        self.isolates += other.isolates;
        self.isolate_heap_bytes += other.isolate_heap_bytes;
        self.isolates_created += other.isolates_created;
        self.isolates_evicted += other.isolates_evicted;
        self.function_calls_throttled += other.function_calls_throttled;
    }
}

/// How many throughput samples [`OpsMeter`] averages (as Redis's
/// `STATS_METRIC_SAMPLES`).
pub const OPS_SAMPLES: usize = 16;

/// Commands per second over the last few cron ticks, the way Redis computes
/// `instantaneous_ops_per_sec`.
#[derive(Debug, Default)]
pub struct OpsMeter {
    samples: [u64; OPS_SAMPLES],
    next: usize,
    last: Option<(Instant, u64)>,
}

impl OpsMeter {
    /// Records that `total` commands had run by `now`.
    pub fn sample(&mut self, now: Instant, total: u64) {
        if let Some((then, before)) = self.last {
            let ms = now.saturating_duration_since(then).as_millis() as u64;
            if let Some(rate) = (total.saturating_sub(before) * 1000).checked_div(ms) {
                self.samples[self.next] = rate;
                self.next = (self.next + 1) % OPS_SAMPLES;
            }
        }
        self.last = Some((now, total));
    }

    /// The average rate over the samples.
    pub fn per_sec(&self) -> u64 {
        self.samples.iter().sum::<u64>() / OPS_SAMPLES as u64
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ops_meter_averages_recent_rates() {
        let mut meter = OpsMeter::default();
        let start = Instant::now();
        meter.sample(start, 0);
        assert_eq!(meter.per_sec(), 0);
        for tick in 1..=OPS_SAMPLES as u64 {
            meter.sample(start + Duration::from_millis(100 * tick), 500 * tick);
        }
        assert_eq!(meter.per_sec(), 5000);
        let roundtrip = CoreStats::from_fields(
            &CoreStats {
                instantaneous_ops_per_sec: 7,
                ..CoreStats::default()
            }
            .to_fields(),
        );
        assert_eq!(roundtrip.instantaneous_ops_per_sec, 7);
    }
}
