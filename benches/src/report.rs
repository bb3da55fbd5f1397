//! Results as memtier_benchmark prints them: the per-second progress line,
//! the `ALL STATS` table, the latency distribution, the JSON file and the
//! HDR percentile files.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::config::{BenchConfig, Limit};
use crate::stats::{Live, Stats};

/// One run's figures.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// One row per command template (`Sets`, `Gets`, or `--command` names).
    pub rows: Vec<(String, Stats)>,
    /// Wall time of the slowest thread.
    pub duration: Duration,
    /// Cluster mode: show MOVED/ASK columns.
    pub cluster: bool,
    /// Rows are memtier's Sets/Gets (a `Waits` row is printed too).
    pub set_get: bool,
    /// Percentiles to print.
    pub percentiles: Vec<f64>,
}

impl RunResult {
    /// An empty result for `config`.
    pub fn new(config: &BenchConfig) -> RunResult {
        RunResult {
            rows: config
                .templates
                .iter()
                .map(|t| (t.name.clone(), Stats::default()))
                .collect(),
            duration: Duration::ZERO,
            cluster: config.cluster_mode,
            set_get: config.set_get,
            percentiles: config.percentiles.clone(),
        }
    }

    /// Adds one thread's per-template stats.
    pub fn add_thread(&mut self, stats: &[Stats], elapsed: Duration) {
        for ((_, row), thread) in self.rows.iter_mut().zip(stats) {
            row.merge(thread);
        }
        self.duration = self.duration.max(elapsed);
    }

    /// Adds another run (for the aggregate of `-x` runs): counts add and
    /// durations add, so rates are the average over all runs.
    pub fn absorb(&mut self, other: &RunResult) {
        for ((_, row), theirs) in self.rows.iter_mut().zip(&other.rows) {
            row.merge(&theirs.1);
        }
        self.duration += other.duration;
    }

    /// Every row merged.
    pub fn totals(&self) -> Stats {
        let mut total = Stats::default();
        for (_, row) in &self.rows {
            total.merge(row);
        }
        total
    }

    /// Total operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        per_sec(self.totals().ops, self.duration)
    }

    /// The table memtier prints under `title` (`ALL STATS`, `BEST RUN RESULTS`, ...).
    pub fn table(&self, title: &str) -> String {
        let mut header = format!(
            "{:<8}{:>12} {:>12} {:>12}",
            "Type", "Ops/sec", "Hits/sec", "Misses/sec"
        );
        if self.cluster {
            let _ = write!(header, " {:>12} {:>12}", "MOVED/sec", "ASK/sec");
        }
        let _ = write!(header, " {:>15}", "Avg. Latency");
        for p in &self.percentiles {
            let _ = write!(header, " {:>15}", format!("p{p} Latency"));
        }
        let _ = write!(header, " {:>12} ", "KB/sec");
        let width = header.len();
        let mut out = format!(
            "{title}\n{}\n{header}\n{}\n",
            "=".repeat(width),
            "-".repeat(width)
        );
        for (name, row) in &self.rows {
            out += &self.line(name, row, true);
        }
        if self.set_get {
            out += &self.waits_line();
        }
        out += &self.line("Totals", &self.totals(), true);
        out
    }

    /// One table row.
    fn line(&self, name: &str, s: &Stats, hits: bool) -> String {
        let secs = self.duration.as_secs_f64().max(f64::MIN_POSITIVE);
        let mut line = format!("{:<8}{:>12.2}", name, s.ops as f64 / secs);
        let counted = hits && (s.hits + s.misses > 0 || name == "Gets" || name == "Totals");
        for count in [s.hits, s.misses] {
            if counted {
                let _ = write!(line, " {:>12.2}", count as f64 / secs);
            } else {
                let _ = write!(line, " {:>12}", "---");
            }
        }
        if self.cluster {
            let _ = write!(
                line,
                " {:>12.2} {:>12.2}",
                s.moved as f64 / secs,
                s.ask as f64 / secs
            );
        }
        let _ = write!(line, " {:>15.5}", s.avg_ms());
        for p in &self.percentiles {
            let _ = write!(line, " {:>15.5}", s.percentile_ms(*p));
        }
        let _ = writeln!(line, " {:>12.2} ", s.bytes as f64 / 1024.0 / secs);
        line
    }

    /// memtier's WAIT row: kiln-bench sends no WAIT, so it is always empty.
    fn waits_line(&self) -> String {
        let mut line = format!("{:<8}{:>12.2} {:>12} {:>12}", "Waits", 0.0, "---", "---");
        if self.cluster {
            let _ = write!(line, " {:>12} {:>12}", "---", "---");
        }
        for _ in 0..=self.percentiles.len() {
            let _ = write!(line, " {:>15}", "---");
        }
        let _ = writeln!(line, " {:>12} ", "---");
        line
    }

    /// memtier's "Request Latency Distribution": each recorded latency
    /// bucket with the cumulative percentage at or below it.
    pub fn distribution(&self) -> String {
        let mut out = format!(
            "\n\nRequest Latency Distribution\n{:<8}{:>12}{:>16}\n{}\n",
            "Type",
            "<= msec",
            "Percent",
            "-".repeat(72)
        );
        for (name, row) in &self.rows {
            if row.latency.is_empty() {
                continue;
            }
            let label = match name.as_str() {
                "Sets" => "SET",
                "Gets" => "GET",
                other => other,
            };
            for v in row.latency.iter_recorded() {
                let _ = writeln!(
                    out,
                    "{:<8}{:>12.3}{:>16.3}",
                    label,
                    v.value_iterated_to() as f64 / 1000.0,
                    v.percentile()
                );
            }
            out += "---\n";
        }
        out
    }

    /// The figures as memtier's JSON object for one table.
    pub fn json(&self) -> Value {
        let mut table = Map::new();
        for (name, row) in &self.rows {
            table.insert(name.clone(), self.row_json(row));
        }
        table.insert("Totals".into(), self.row_json(&self.totals()));
        table.insert(
            "Runtime".into(),
            json!({ "Total duration": self.duration.as_millis() as u64, "Time unit": "MILLISECONDS" }),
        );
        Value::Object(table)
    }

    fn row_json(&self, s: &Stats) -> Value {
        let secs = self.duration.as_secs_f64().max(f64::MIN_POSITIVE);
        let percentiles: Map<String, Value> = self
            .percentiles
            .iter()
            .map(|p| (format!("p{p:.2}"), json!(s.percentile_ms(*p))))
            .collect();
        json!({
            "Count": s.ops,
            "Ops/sec": s.ops as f64 / secs,
            "Hits": s.hits,
            "Hits/sec": s.hits as f64 / secs,
            "Misses": s.misses,
            "Misses/sec": s.misses as f64 / secs,
            "MOVED": s.moved,
            "MOVED/sec": s.moved as f64 / secs,
            "ASK": s.ask,
            "ASK/sec": s.ask as f64 / secs,
            "Errors": s.errors,
            "Latency": s.avg_ms(),
            "Average Latency": s.avg_ms(),
            "Min Latency": if s.latency.is_empty() { 0.0 } else { s.latency.min() as f64 / 1000.0 },
            "Max Latency": if s.latency.is_empty() { 0.0 } else { s.latency.max() as f64 / 1000.0 },
            "KB/sec": s.bytes as f64 / 1024.0 / secs,
            "Percentile Latencies": percentiles,
        })
    }
}

/// The classic HdrHistogram percentile distribution text (values in
/// milliseconds), as memtier writes to `--hdr-file-prefix` files.
pub fn percentile_file(s: &Stats) -> String {
    let h = &s.latency;
    let mut out = format!(
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if !h.is_empty() {
        for v in h.iter_quantiles(5) {
            let q = v.quantile_iterated_to();
            let inverse = if q < 1.0 {
                format!("{:>14.2}", 1.0 / (1.0 - q))
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "{:>12.3} {:>2.12} {:>10} {}",
                v.value_iterated_to() as f64 / 1000.0,
                q,
                h.count_between(0, v.value_iterated_to()),
                inverse
            );
        }
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]\n#[Max     = {:>12.3}, Total count    = {:>12}]",
        s.avg_ms(),
        if h.is_empty() {
            0.0
        } else {
            h.stdev() / 1000.0
        },
        if h.is_empty() {
            0.0
        } else {
            h.max() as f64 / 1000.0
        },
        h.len()
    );
    out
}

fn per_sec(count: u64, duration: Duration) -> f64 {
    count as f64 / duration.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// The line memtier redraws every second on stderr.
pub struct Progress {
    enabled: bool,
    run: usize,
    threads: usize,
    /// Requests the run will send in total (request-count runs).
    total: Option<u64>,
    test_time: Option<Duration>,
    start: Instant,
    next: Instant,
    last: (Instant, u64, u64, u64),
}

impl Progress {
    /// Starts timing now.
    pub fn new(config: &BenchConfig, run: usize) -> Progress {
        let now = Instant::now();
        let (total, test_time) = match config.limit {
            Limit::Requests(n) => (Some(n * (config.threads * config.clients) as u64), None),
            Limit::Time(d) => (None, Some(d)),
        };
        Progress {
            enabled: config.progress,
            run,
            threads: config.threads,
            total,
            test_time,
            start: now,
            next: now + Duration::from_secs(1),
            last: (now, 0, 0, 0),
        }
    }

    /// Time until the next line is due.
    pub fn until_next(&self) -> Duration {
        self.next.saturating_duration_since(Instant::now())
    }

    /// Prints the line for the second just ended.
    pub fn tick(&mut self, lives: &[Arc<Live>]) {
        self.next += Duration::from_secs(1);
        self.print(lives, self.start.elapsed(), '\r');
    }

    /// Prints the final line and ends it.
    pub fn finish(&mut self, lives: &[Arc<Live>], duration: Duration) {
        self.print(lives, duration, '\n');
        if self.enabled {
            eprintln!();
        }
    }

    fn print(&mut self, lives: &[Arc<Live>], elapsed: Duration, end: char) {
        let (ops, bytes, latency) = lives
            .iter()
            .map(|l| l.read())
            .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        let now = Instant::now();
        let (then, ops0, bytes0, latency0) = self.last;
        self.last = (now, ops, bytes, latency);
        if !self.enabled {
            return;
        }
        let interval = now.duration_since(then);
        let percent = match (self.total, self.test_time) {
            (Some(total), _) => ops as f64 * 100.0 / total.max(1) as f64,
            (_, Some(t)) => (elapsed.as_secs_f64() * 100.0 / t.as_secs_f64().max(1e-9)).min(100.0),
            _ => 0.0,
        };
        let line = progress_line(&ProgressFigures {
            run: self.run,
            percent,
            secs: elapsed.as_secs(),
            threads: self.threads,
            ops,
            ops_per_sec: per_sec(ops - ops0, interval),
            avg_ops_per_sec: per_sec(ops, elapsed),
            bytes_per_sec: per_sec(bytes - bytes0, interval),
            avg_bytes_per_sec: per_sec(bytes, elapsed),
            latency_ms: mean_ms(latency - latency0, ops - ops0),
            avg_latency_ms: mean_ms(latency, ops),
        });
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "{line}{end}");
        let _ = err.flush();
    }
}

fn mean_ms(latency_us: u64, ops: u64) -> f64 {
    if ops == 0 {
        0.0
    } else {
        latency_us as f64 / ops as f64 / 1000.0
    }
}

/// What one progress line shows.
#[derive(Debug, Clone, Copy)]
pub struct ProgressFigures {
    /// Run number (`-x`).
    pub run: usize,
    /// Share of the run done.
    pub percent: f64,
    /// Seconds since the start.
    pub secs: u64,
    /// Threads.
    pub threads: usize,
    /// Operations so far.
    pub ops: u64,
    /// Operations per second over the last interval.
    pub ops_per_sec: f64,
    /// Operations per second since the start.
    pub avg_ops_per_sec: f64,
    /// Bytes per second over the last interval.
    pub bytes_per_sec: f64,
    /// Bytes per second since the start.
    pub avg_bytes_per_sec: f64,
    /// Mean latency over the last interval.
    pub latency_ms: f64,
    /// Mean latency since the start.
    pub avg_latency_ms: f64,
}

/// memtier's progress line.
pub fn progress_line(f: &ProgressFigures) -> String {
    format!(
        "[RUN #{} {:.0}%, {:>3} secs] {:>2} threads: {:>11} ops, {:>7} (avg: {:>7}) ops/sec, {}/sec (avg: {}/sec), {:>5.2} (avg: {:>5.2}) msec latency",
        f.run,
        f.percent,
        f.secs,
        f.threads,
        f.ops,
        f.ops_per_sec as u64,
        f.avg_ops_per_sec as u64,
        human_bytes(f.bytes_per_sec),
        human_bytes(f.avg_bytes_per_sec),
        f.latency_ms,
        f.avg_latency_ms
    )
}

/// `1.62MB`, `12.00KB`, `512.00B`, as memtier shows rates.
pub fn human_bytes(bytes: f64) -> String {
    if bytes >= 1024.0 * 1024.0 {
        format!("{:.2}MB", bytes / 1024.0 / 1024.0)
    } else if bytes >= 1024.0 {
        format!("{:.2}KB", bytes / 1024.0)
    } else {
        format!("{bytes:.2}B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(cluster: bool) -> RunResult {
        let mut sets = Stats::default();
        let mut gets = Stats::default();
        for _ in 0..100 {
            sets.ops += 1;
            sets.bytes += 1024;
            sets.record(Duration::from_micros(500));
        }
        for i in 0..1000 {
            gets.ops += 1;
            if i % 4 == 0 {
                gets.hits += 1
            } else {
                gets.misses += 1
            }
            gets.record(Duration::from_micros(1000));
        }
        gets.moved = 20;
        RunResult {
            rows: vec![("Sets".into(), sets), ("Gets".into(), gets)],
            duration: Duration::from_secs(2),
            cluster,
            set_get: true,
            percentiles: vec![50.0, 99.0, 99.9],
        }
    }

    #[test]
    fn all_stats_table_matches_memtier_layout() {
        let table = result(false).table("ALL STATS");
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "ALL STATS");
        assert!(lines[1].chars().all(|c| c == '='));
        assert_eq!(
            lines[2],
            "Type         Ops/sec     Hits/sec   Misses/sec    Avg. Latency     p50 Latency     p99 Latency   p99.9 Latency       KB/sec "
        );
        assert_eq!(lines[1].len(), lines[2].len());
        assert_eq!(
            lines[4],
            "Sets           50.00          ---          ---         0.50000         0.50000         0.50000         0.50000        50.00 "
        );
        assert_eq!(
            lines[5],
            "Gets          500.00       125.00       375.00         1.00000         1.00000         1.00000         1.00000         0.00 "
        );
        assert!(lines[6].starts_with("Waits           0.00          ---"));
        assert!(
            lines[7].starts_with("Totals        550.00       125.00       375.00         0.95455")
        );
        assert_eq!(lines.len(), 8);
        assert!(
            lines[4..].iter().all(|l| l.len() == lines[2].len()),
            "{table}"
        );
    }

    #[test]
    fn cluster_mode_adds_moved_and_ask() {
        let table = result(true).table("ALL STATS");
        assert!(table.contains("   MOVED/sec      ASK/sec    Avg. Latency"));
        assert!(
            table
                .lines()
                .nth(5)
                .unwrap()
                .contains("375.00        10.00         0.00")
        );
    }

    #[test]
    fn json_carries_counts_and_percentiles() {
        let json = result(false).json();
        assert_eq!(json["Gets"]["Count"], 1000);
        assert_eq!(json["Gets"]["Hits"], 250);
        assert_eq!(json["Gets"]["Misses"], 750);
        assert_eq!(json["Totals"]["Count"], 1100);
        assert_eq!(json["Sets"]["Ops/sec"], 50.0);
        assert_eq!(json["Gets"]["Percentile Latencies"]["p99.90"], 1.0);
        assert_eq!(json["Runtime"]["Total duration"], 2000);
    }

    #[test]
    fn progress_line_matches_memtier() {
        let line = progress_line(&ProgressFigures {
            run: 1,
            percent: 42.4,
            secs: 3,
            threads: 4,
            ops: 123_456,
            ops_per_sec: 41_000.7,
            avg_ops_per_sec: 41_152.0,
            bytes_per_sec: 1.5 * 1024.0 * 1024.0,
            avg_bytes_per_sec: 2048.0,
            latency_ms: 0.8149,
            avg_latency_ms: 0.8,
        });
        assert_eq!(
            line,
            "[RUN #1 42%,   3 secs]  4 threads:      123456 ops,   41000 (avg:   41152) ops/sec, 1.50MB/sec (avg: 2.00KB/sec),  0.81 (avg:  0.80) msec latency"
        );
    }

    #[test]
    fn aggregate_of_runs_averages_rates() {
        let mut total = result(false);
        total.absorb(&result(false));
        assert_eq!(total.duration, Duration::from_secs(4));
        assert!((total.ops_per_sec() - 550.0).abs() < 1e-9);
    }

    #[test]
    fn distribution_and_percentile_file_list_buckets() {
        let r = result(false);
        let dist = r.distribution();
        assert!(
            dist.contains("SET            0.500         100.000"),
            "{dist}"
        );
        assert!(
            dist.contains("GET            1.000         100.000"),
            "{dist}"
        );
        let file = percentile_file(&r.rows[1].1);
        assert!(
            file.contains("#[Max     =        1.000, Total count    =         1000]"),
            "{file}"
        );
    }
}
