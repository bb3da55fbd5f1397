//! Redis's text and reply layouts for command figures: `INFO
//! commandstats` and `latencystats` lines, `LATENCY HISTOGRAM` buckets;
//! and the form a core's figures travel in to the core that merges them.

use std::collections::BTreeMap;

use kiln_net::Reply;

use super::accounting::{CommandRow, Latency, TenantRows, new_latency, record_ns};
use crate::commands;

/// `latency-tracking-info-percentiles`' default.
pub const PERCENTILES: [f64; 3] = [50.0, 99.0, 99.9];

/// One command's figures merged over cores (and, for an operator, tenants).
#[derive(Debug, Clone, Default)]
pub struct Merged {
    /// Calls.
    pub calls: u64,
    /// Nanoseconds spent.
    pub nanos: u64,
    /// Rejected calls.
    pub rejected: u64,
    /// Failed calls.
    pub failed: u64,
    /// Latencies, if any call was timed.
    pub latency: Option<Latency>,
}

/// Merged figures by full command name (`get`, `config|get`), sorted.
pub type ByCommand = BTreeMap<&'static str, Merged>;

/// Adds `rows` (one tenant's, one core's) into `into`.
pub fn merge_rows(into: &mut ByCommand, rows: &TenantRows) {
    for row in rows.rows() {
        add_row(into, row);
    }
}

fn add_row(into: &mut ByCommand, row: &CommandRow) {
    let Some(entry) = commands::catalog().get(row.id as usize) else {
        return;
    };
    let merged = into.entry(entry.spec.name).or_default();
    merged.calls += row.calls;
    merged.nanos += row.nanos;
    merged.rejected += row.rejected;
    merged.failed += row.failed;
    if let Some(h) = &row.latency {
        let into = merged.latency.get_or_insert_with(new_latency);
        // Same bounds on both sides: adding cannot fail.
        let _ = into.add(&**h);
    }
}

/// One core's part as a reply: per command `[name, calls, nanos, rejected,
/// failed, [value, count, ...]]`, the histogram as its recorded values.
pub fn to_reply(figures: &ByCommand) -> Reply {
    let rows = figures.iter().map(|(name, m)| {
        let values = m.latency.iter().flat_map(|h| {
            h.iter_recorded().flat_map(|v| {
                [
                    Reply::Integer(v.value_iterated_to() as i64),
                    Reply::Integer(v.count_at_value() as i64),
                ]
            })
        });
        Reply::Array(vec![
            Reply::Bulk(bytes::Bytes::from_static(name.as_bytes())),
            Reply::Integer(m.calls as i64),
            Reply::Integer(m.nanos as i64),
            Reply::Integer(m.rejected as i64),
            Reply::Integer(m.failed as i64),
            Reply::Array(values.collect()),
        ])
    });
    Reply::Array(rows.collect())
}

/// Adds a part made by [`to_reply`] into `into`; anything else is skipped.
pub fn add_reply(into: &mut ByCommand, part: &Reply) {
    let Reply::Array(rows) = part else {
        return;
    };
    for row in rows {
        let Reply::Array(fields) = row else { continue };
        let [
            Reply::Bulk(name),
            calls,
            nanos,
            rejected,
            failed,
            Reply::Array(values),
        ] = &fields[..]
        else {
            continue;
        };
        let Some(spec) = std::str::from_utf8(name)
            .ok()
            .and_then(commands::spec_named)
        else {
            continue;
        };
        let n = |r: &Reply| {
            if let Reply::Integer(v) = r {
                (*v).max(0) as u64
            } else {
                0
            }
        };
        let merged = into.entry(spec.name).or_default();
        merged.calls += n(calls);
        merged.nanos += n(nanos);
        merged.rejected += n(rejected);
        merged.failed += n(failed);
        if !values.is_empty() {
            let h = merged.latency.get_or_insert_with(new_latency);
            for pair in values.chunks_exact(2) {
                record_ns(h, n(&pair[0]), n(&pair[1]));
            }
        }
    }
}

/// `cmdstat_get:calls=2,usec=15,usec_per_call=7.50,rejected_calls=0,failed_calls=0`
/// (Redis's name for a subcommand is `config|get`).
pub fn commandstat_line(name: &str, m: &Merged) -> Option<String> {
    if m.calls == 0 && m.rejected == 0 && m.failed == 0 {
        return None;
    }
    let usec = m.nanos / 1000;
    let per_call = if m.calls == 0 {
        0.0
    } else {
        usec as f64 / m.calls as f64
    };
    Some(format!(
        "cmdstat_{name}:calls={},usec={usec},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}",
        m.calls, m.rejected, m.failed
    ))
}

/// `latency_percentiles_usec_get:p50=1.003,p99=3.007,p99.9=3.007`, as
/// Redis's `fillPercentileDistributionLatencies`.
pub fn latencystat_line(name: &str, h: &Latency) -> String {
    let fields: Vec<String> = PERCENTILES
        .iter()
        .map(|p| {
            let us = h.value_at_quantile(p / 100.0) as f64 / 1000.0;
            format!("p{}={us:.3}", trim_percentile(*p))
        })
        .collect();
    format!("latency_percentiles_usec_{name}:{}", fields.join(","))
}

/// `50` for 50.0, `99.9` for 99.9 (C's `%f` with trailing zeros trimmed).
fn trim_percentile(p: f64) -> String {
    let text = format!("{p:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `LATENCY HISTOGRAM`'s buckets: cumulative counts at power-of-two
/// microsecond steps from 1024 ns, each named by its bucket's highest
/// value in microseconds, only where the count grew (Redis's
/// `fillCommandCDF` over `hdr_iter_log_init(.., 1024, 2)`).
pub fn cumulative_buckets(h: &Latency) -> Vec<(u64, u64)> {
    let total = h.len();
    let mut out = Vec::new();
    let mut previous = 0;
    let mut level: u64 = 1024;
    while previous < total && level <= h.high() {
        let cumulative = h.count_between(0, level);
        if cumulative > previous {
            out.push((h.highest_equivalent(level) / 1000, cumulative));
        }
        previous = cumulative;
        level *= 2;
    }
    if previous < total {
        // Values clamped to the histogram's top: the last bucket.
        out.push((h.highest_equivalent(h.high()) / 1000, total));
    }
    out
}

/// One command's `LATENCY HISTOGRAM` entry: `{calls, histogram_usec: {..}}`.
pub fn histogram_reply(h: &Latency) -> Reply {
    let buckets = cumulative_buckets(h)
        .into_iter()
        .map(|(us, n)| (Reply::Integer(us as i64), Reply::Integer(n as i64)))
        .collect();
    Reply::Map(vec![
        (Reply::bulk_from("calls"), Reply::Integer(h.len() as i64)),
        (Reply::bulk_from("histogram_usec"), Reply::Map(buckets)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values_ns: &[u64]) -> Latency {
        let mut h = new_latency();
        for &v in values_ns {
            record_ns(&mut h, v, 1);
        }
        h
    }

    #[test]
    fn commandstat_line_has_redis_fields() {
        let m = Merged {
            calls: 4,
            nanos: 10_000,
            rejected: 1,
            failed: 2,
            latency: None,
        };
        assert_eq!(
            commandstat_line("get", &m).unwrap(),
            "cmdstat_get:calls=4,usec=10,usec_per_call=2.50,rejected_calls=1,failed_calls=2"
        );
        assert_eq!(commandstat_line("set", &Merged::default()), None);
        let rejected_only = Merged {
            rejected: 3,
            ..Merged::default()
        };
        assert_eq!(
            commandstat_line("set", &rejected_only).unwrap(),
            "cmdstat_set:calls=0,usec=0,usec_per_call=0.00,rejected_calls=3,failed_calls=0"
        );
    }

    #[test]
    fn percentiles_read_as_redis_prints_them() {
        // Redis's documented example: 1 µs calls read as 1.003.
        let h = histogram(&[1000; 100]);
        assert_eq!(
            latencystat_line("set", &h),
            "latency_percentiles_usec_set:p50=1.003,p99=1.003,p99.9=1.003"
        );
        assert_eq!(trim_percentile(99.9), "99.9");
        assert_eq!(trim_percentile(50.0), "50");
    }

    #[test]
    fn buckets_are_cumulative_powers_of_two() {
        // 3 calls near 1 µs, one at 3 µs, one at 40 µs.
        let h = histogram(&[500, 900, 1000, 3000, 40_000]);
        assert_eq!(cumulative_buckets(&h), [(1, 3), (4, 4), (66, 5)]);
        // Redis's documented keys: 1, 2, 4, 8, 16, 33.
        let h = histogram(&[1000, 2000, 4000, 8000, 16_000, 32_000]);
        let keys: Vec<u64> = cumulative_buckets(&h).iter().map(|b| b.0).collect();
        assert_eq!(keys, [1, 2, 4, 8, 16, 33]);
        // A clamped value lands in the top bucket.
        let h = histogram(&[5_000_000_000]);
        assert_eq!(cumulative_buckets(&h).last().unwrap().1, 1);
    }

    #[test]
    fn parts_round_trip() {
        let mut figures = ByCommand::new();
        figures.insert(
            "get",
            Merged {
                calls: 2,
                nanos: 3000,
                rejected: 0,
                failed: 1,
                latency: Some(histogram(&[1000, 2000])),
            },
        );
        let part = to_reply(&figures);
        let mut merged = ByCommand::new();
        add_reply(&mut merged, &part);
        add_reply(&mut merged, &part);
        let get = &merged["get"];
        assert_eq!((get.calls, get.nanos, get.failed), (4, 6000, 2));
        assert_eq!(get.latency.as_ref().unwrap().len(), 4);
        add_reply(&mut merged, &Reply::Integer(1));
        assert_eq!(merged.len(), 1);
    }
}
