//! Counters and HDR latency histograms: per command inside each thread
//! (no sharing on the hot path), merged after the run; plus the few atomics
//! the progress line reads once a second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

/// Largest latency recorded exactly, in microseconds (longer ones saturate).
const MAX_LATENCY_US: u64 = 60_000_000;

/// One command's figures.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Replies received.
    pub ops: u64,
    /// Replies that found a value (read commands only).
    pub hits: u64,
    /// Nil replies to read commands.
    pub misses: u64,
    /// `-MOVED` replies.
    pub moved: u64,
    /// `-ASK` replies.
    pub ask: u64,
    /// Other error replies.
    pub errors: u64,
    /// The first of them, to tell the user what went wrong.
    pub first_error: Option<String>,
    /// Request plus reply bytes.
    pub bytes: u64,
    /// Latency from write to complete reply, in microseconds.
    pub latency: Histogram<u64>,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            ops: 0,
            hits: 0,
            misses: 0,
            moved: 0,
            ask: 0,
            errors: 0,
            first_error: None,
            bytes: 0,
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("static histogram bounds"),
        }
    }
}

impl Stats {
    /// Records one latency (saturating at the histogram's top).
    pub fn record(&mut self, latency: Duration) {
        let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        self.latency.saturating_record(us);
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Stats) {
        self.ops += other.ops;
        self.hits += other.hits;
        self.misses += other.misses;
        self.moved += other.moved;
        self.ask += other.ask;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
        self.bytes += other.bytes;
        self.latency
            .add(&other.latency)
            .expect("histograms share bounds");
    }

    /// Counts an error reply; only the first one's text is kept (the one
    /// allocation an error costs).
    pub fn error(&mut self, frame: &[u8]) {
        self.errors += 1;
        if self.first_error.is_none() {
            let text = frame.get(1..).unwrap_or_default().trim_ascii_end();
            self.first_error = Some(String::from_utf8_lossy(text).into_owned());
        }
    }

    /// Mean latency in milliseconds (0 with no samples).
    pub fn avg_ms(&self) -> f64 {
        if self.latency.is_empty() {
            0.0
        } else {
            self.latency.mean() / 1000.0
        }
    }

    /// The latency below which `percentile`% of requests completed, in milliseconds.
    pub fn percentile_ms(&self, percentile: f64) -> f64 {
        if self.latency.is_empty() {
            return 0.0;
        }
        self.latency.value_at_quantile(percentile / 100.0) as f64 / 1000.0
    }
}

/// Running totals a thread publishes for the progress line.
#[derive(Debug, Default)]
pub struct Live {
    /// Replies received.
    pub ops: AtomicU64,
    /// Request and reply bytes.
    pub bytes: AtomicU64,
    /// Sum of latencies in microseconds.
    pub latency_us: AtomicU64,
}

impl Live {
    /// Adds one completed request. Only the owning thread writes, so relaxed
    /// load-and-store is enough and avoids a locked instruction per request.
    pub fn add(&self, bytes: u64, latency: Duration) {
        bump(&self.ops, 1);
        bump(&self.bytes, bytes);
        bump(&self.latency_us, latency.as_micros() as u64);
    }

    /// Current (ops, bytes, latency sum).
    pub fn read(&self) -> (u64, u64, u64) {
        (
            self.ops.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.latency_us.load(Ordering::Relaxed),
        )
    }
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Ordering::Relaxed) + by, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(latencies_us: impl IntoIterator<Item = u64>) -> Stats {
        let mut s = Stats::default();
        for us in latencies_us {
            s.ops += 1;
            s.record(Duration::from_micros(us));
        }
        s
    }

    #[test]
    fn percentiles_of_a_uniform_spread() {
        let s = with(1..=10_000);
        // HDR with 3 significant digits is within 0.1%.
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
        assert!(
            close(s.percentile_ms(50.0), 5.0),
            "{}",
            s.percentile_ms(50.0)
        );
        assert!(
            close(s.percentile_ms(99.0), 9.9),
            "{}",
            s.percentile_ms(99.0)
        );
        assert!(
            close(s.percentile_ms(99.9), 9.99),
            "{}",
            s.percentile_ms(99.9)
        );
        assert!(close(s.percentile_ms(100.0), 10.0));
        assert!(close(s.avg_ms(), 5.0005));
    }

    #[test]
    fn one_slow_request_shows_only_in_the_tail() {
        let s = with(std::iter::repeat_n(100, 999).chain([50_000]));
        assert!((s.percentile_ms(99.0) - 0.1).abs() < 0.001);
        assert!((s.percentile_ms(99.95) - 50.0).abs() < 0.05);
    }

    #[test]
    fn merge_adds_counts_and_samples() {
        let mut a = with([100, 200]);
        a.hits = 1;
        let mut b = with([300]);
        b.misses = 1;
        b.bytes = 10;
        a.merge(&b);
        assert_eq!((a.ops, a.hits, a.misses, a.bytes), (3, 1, 1, 10));
        assert_eq!(a.latency.len(), 3);
        assert!((a.avg_ms() - 0.2).abs() < 0.001);
    }

    #[test]
    fn empty_and_huge_latencies_do_not_panic() {
        let mut s = Stats::default();
        assert_eq!(s.percentile_ms(99.0), 0.0);
        assert_eq!(s.avg_ms(), 0.0);
        s.record(Duration::from_secs(3600));
        s.record(Duration::ZERO);
        assert_eq!(s.latency.len(), 2);
    }

    #[test]
    fn the_first_error_is_kept() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        b.error(b"-NOAUTH Authentication required.\r\n");
        b.error(b"-ERR other\r\n");
        a.merge(&b);
        assert_eq!(a.errors, 2);
        assert_eq!(
            a.first_error.as_deref(),
            Some("NOAUTH Authentication required.")
        );
    }

    #[test]
    fn live_counters_accumulate() {
        let live = Live::default();
        live.add(10, Duration::from_micros(5));
        live.add(20, Duration::from_micros(7));
        assert_eq!(live.read(), (2, 30, 12));
    }
}
