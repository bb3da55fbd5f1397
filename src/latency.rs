//! The latency monitor (`LATENCY LATEST / HISTORY / RESET / DOCTOR`): for
//! each event, the spikes at or over `latency-monitor-threshold`
//! milliseconds, kept per core as Redis keeps them (one sample per second,
//! the worst of that second, the last [`SAMPLES`] seconds with a spike,
//! and the worst ever) and merged when read.
//!
//! Kiln's events:
//!
//! | event | what took that long |
//! |---|---|
//! | `command` | a command not flagged `fast` (FCALL included) |
//! | `fast-command` | a command flagged `fast` |
//! | `expire-cycle` | one core's active expiry pass (a tick) |
//! | `aof-write` | a core's group commit of its log (`appendfsync everysec` / `no`) |
//! | `aof-fsync-always` | the same with `appendfsync always` (the fsync included) |
//! | `aof-rewrite-step` | one turn's step of a core's log rewrite (`BGREWRITEAOF`) |
//! | `snapshot-step` | one turn's step of a core's snapshot walk (`BGSAVE`) |
//!
//! Each core writes only its own monitor (an uncontended lock); a reader
//! merges them: for each second the worst of the cores, for each event the
//! worst ever.

use std::collections::BTreeMap;

/// Samples kept per event (Redis's `LATENCY_TS_LEN`).
pub const SAMPLES: usize = 160;

/// One second's worst spike of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// Unix seconds.
    pub time: u64,
    /// Milliseconds.
    pub ms: u64,
}

/// One event's spikes on one core.
#[derive(Debug, Clone)]
pub struct Series {
    /// The worst spike ever (until a reset).
    pub max: u64,
    /// Oldest first; at most [`SAMPLES`], one per second.
    pub samples: std::collections::VecDeque<Sample>,
}

/// One core's latency monitor.
#[derive(Debug, Default)]
pub struct LatencyMonitor {
    events: BTreeMap<&'static str, Series>,
}

impl LatencyMonitor {
    /// Records a spike of `ms` of `event` at unix second `time`.
    pub fn add(&mut self, event: &'static str, time: u64, ms: u64) {
        let series = self.events.entry(event).or_insert_with(|| Series {
            max: 0,
            samples: std::collections::VecDeque::with_capacity(SAMPLES),
        });
        series.max = series.max.max(ms);
        match series.samples.back_mut() {
            Some(last) if last.time == time => last.ms = last.ms.max(ms),
            _ => {
                if series.samples.len() == SAMPLES {
                    series.samples.pop_front();
                }
                series.samples.push_back(Sample { time, ms });
            }
        }
    }

    /// Forgets every event (`names` empty) or those named; the names it
    /// forgot.
    pub fn reset(&mut self, names: &[&[u8]]) -> Vec<&'static str> {
        if names.is_empty() {
            let all: Vec<&'static str> = self.events.keys().copied().collect();
            self.events.clear();
            return all;
        }
        let doomed: Vec<&'static str> = self
            .events
            .keys()
            .copied()
            .filter(|e| names.iter().any(|n| n == &e.as_bytes()))
            .collect();
        for e in &doomed {
            self.events.remove(e);
        }
        doomed
    }

    /// Its events.
    pub fn events(&self) -> impl Iterator<Item = (&'static str, &Series)> {
        self.events.iter().map(|(k, v)| (*k, v))
    }
}

/// Several cores' monitors as one: per event the worst ever and, for each
/// second, the worst sample of the cores (the last [`SAMPLES`] seconds).
pub fn merge<'a>(
    monitors: impl Iterator<Item = &'a LatencyMonitor>,
) -> BTreeMap<&'static str, Series> {
    let mut merged: BTreeMap<&'static str, (u64, BTreeMap<u64, u64>)> = BTreeMap::new();
    for monitor in monitors {
        for (name, series) in monitor.events() {
            let (max, seconds) = merged.entry(name).or_default();
            *max = (*max).max(series.max);
            for s in &series.samples {
                let ms = seconds.entry(s.time).or_default();
                *ms = (*ms).max(s.ms);
            }
        }
    }
    merged
        .into_iter()
        .map(|(name, (max, seconds))| {
            let skip = seconds.len().saturating_sub(SAMPLES);
            let samples = seconds
                .into_iter()
                .skip(skip)
                .map(|(time, ms)| Sample { time, ms })
                .collect();
            (name, Series { max, samples })
        })
        .collect()
}

/// `LATENCY DOCTOR`'s report, in Redis's words where it has them.
pub fn doctor(events: &BTreeMap<&'static str, Series>, threshold_ms: u64) -> String {
    if events.is_empty() && threshold_ms == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    if events.is_empty() {
        return "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep tonight.\n".into();
    }
    let mut report = String::from(
        "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n",
    );
    for (i, (name, series)) in events.iter().enumerate() {
        let n = series.samples.len().max(1) as u64;
        let sum: u64 = series.samples.iter().map(|s| s.ms).sum();
        let avg = sum / n;
        let mad = series
            .samples
            .iter()
            .map(|s| s.ms.abs_diff(avg))
            .sum::<u64>()
            / n;
        let (first, last) = (
            series.samples.front().map_or(0, |s| s.time),
            series.samples.back().map_or(0, |s| s.time),
        );
        let period = (last - first) as f64 / n as f64;
        report.push_str(&format!(
            "{}. {name}: {} latency spikes (average {avg}ms, mean deviation {mad}ms, period {period:.2} sec). Worst all time event {}ms.\n",
            i + 1,
            series.samples.len(),
            series.max
        ));
    }
    report.push_str(
        "\nI have a few advices for you:\n\n- Check with SLOWLOG GET which commands ran long; a storage function spinning shows as 'command' (FCALL).\n- 'aof-*' events mean the disk is slow to take the append-only log: see appendfsync.\n",
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_second_worst_kept() {
        let mut m = LatencyMonitor::default();
        m.add("command", 100, 5);
        m.add("command", 100, 9);
        m.add("command", 100, 2);
        m.add("command", 101, 3);
        let (_, s) = m.events().next().unwrap();
        assert_eq!(s.max, 9);
        assert_eq!(
            s.samples.iter().copied().collect::<Vec<_>>(),
            vec![Sample { time: 100, ms: 9 }, Sample { time: 101, ms: 3 }]
        );
        for t in 0..(SAMPLES as u64 + 10) {
            m.add("fast-command", 1000 + t, 1);
        }
        let fast = m.events().find(|(n, _)| *n == "fast-command").unwrap().1;
        assert_eq!(fast.samples.len(), SAMPLES);
        assert_eq!(fast.samples.front().unwrap().time, 1010);
        assert_eq!(m.reset(&[b"nosuch"]), Vec::<&str>::new());
        assert_eq!(m.reset(&[b"command"]), vec!["command"]);
        assert_eq!(m.reset(&[]), vec!["fast-command"]);
        assert_eq!(m.events().count(), 0);
    }

    #[test]
    fn cores_merge_by_second() {
        let (mut a, mut b) = (LatencyMonitor::default(), LatencyMonitor::default());
        a.add("command", 10, 4);
        b.add("command", 10, 7);
        b.add("command", 12, 1);
        a.add("expire-cycle", 11, 2);
        let merged = merge([&a, &b].into_iter());
        let command = &merged["command"];
        assert_eq!(command.max, 7);
        assert_eq!(
            command.samples.iter().copied().collect::<Vec<_>>(),
            vec![Sample { time: 10, ms: 7 }, Sample { time: 12, ms: 1 }]
        );
        assert_eq!(merged["expire-cycle"].max, 2);
        let report = doctor(&merged, 1);
        assert!(report.contains("1. command: 2 latency spikes"), "{report}");
        assert!(doctor(&BTreeMap::new(), 0).starts_with("I'm sorry, Dave"));
        assert!(doctor(&BTreeMap::new(), 5).starts_with("Dave, no latency spike"));
    }
}
