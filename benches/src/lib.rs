//! kiln-bench: a load generator for Redis-protocol servers with
//! memtier_benchmark's flags and output, built to cost the server, not
//! itself.
//!
//! Each thread runs one mio event loop over its clients' non-blocking
//! connections; requests are encoded straight into reused per-connection
//! buffers and replies are scanned in place, so the hot path allocates
//! nothing. Latency is measured from the moment a request is queued for
//! writing to the read that completes its reply, pipelined requests included,
//! and recorded in HDR histograms.
//!
//! # Layout
//! - [`config`]: the memtier flags and their validation.
//! - [`keys`]: key patterns (R, S, G, Z, P) and key formatting.
//! - [`workload`]: command templates, placeholders, the ratio schedule.
//! - [`cluster`]: CLUSTER SLOTS → slot map.
//! - [`conn`]: one non-blocking connection and reply classification.
//! - [`runner`]: the threads and their event loops.
//! - [`stats`]: counters and histograms.
//! - [`report`]: progress line, ALL STATS table, JSON, HDR files.

#![warn(missing_docs)]

pub mod cluster;
pub mod config;
pub mod conn;
pub mod keys;
pub mod report;
pub mod runner;
pub mod stats;
pub mod workload;

use std::io::Write;
use std::sync::Arc;

pub use config::{BenchArgs, BenchConfig};
pub use report::RunResult;

/// Everything that can stop a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A flag is malformed or out of range.
    #[error("{0}")]
    Flag(String),
    /// A connection could not be opened.
    #[error("connecting to {0}: {1}")]
    Connect(String, std::io::Error),
    /// A setup command (AUTH, HELLO, CLUSTER SLOTS) failed.
    #[error("setup failed: {0}")]
    Setup(String),
    /// The server sent bytes that are not RESP.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server closed a connection during the run.
    #[error("server closed the connection")]
    Closed,
    /// Socket or file I/O.
    #[error("I/O: {0}")]
    Io(std::io::Error),
    /// A worker thread panicked.
    #[error("a worker thread panicked")]
    Panicked,
}

/// Runs `-x` benchmarks and prints (and writes) the results as memtier
/// does; returns every run's figures.
pub fn run_all(args: &BenchArgs, out: &mut impl Write) -> Result<Vec<RunResult>, BenchError> {
    let config = Arc::new(args.config()?);
    let mut results = Vec::with_capacity(args.run_count);
    for run in 1..=args.run_count {
        if config.progress {
            eprintln!("[RUN #{run}] Preparing benchmark client...");
            eprintln!("[RUN #{run}] Launching threads now...");
        }
        let result = runner::run(&config, run)?;
        if let Some(prefix) = &args.hdr_file_prefix {
            write_hdr_files(prefix, run, &result)?;
        }
        results.push(result);
    }
    let tables = tables(&results);
    let mut text = String::new();
    let mut json = serde_json::Map::new();
    for (title, result) in &tables {
        text += &result.table(title);
        if !args.hide_histogram {
            text += &result.distribution();
        }
        text += "\n\n";
        json.insert(title.clone(), result.json());
    }
    out.write_all(text.as_bytes()).map_err(BenchError::Io)?;
    if let Some(path) = &args.json_out_file {
        json.insert(
            "configuration".into(),
            serde_json::json!({ "command line": std::env::args().collect::<Vec<_>>().join(" ") }),
        );
        let body = serde_json::to_string_pretty(&json).map_err(|e| BenchError::Io(e.into()))?;
        std::fs::write(path, body).map_err(BenchError::Io)?;
    }
    for (run, result) in results.iter().enumerate() {
        let totals = result.totals();
        if let Some(first) = &totals.first_error {
            eprintln!(
                "warning: run #{}: {} requests got error replies, the first: {first}",
                run + 1,
                totals.errors
            );
        }
    }
    Ok(results)
}

/// memtier's tables: `ALL STATS` for one run; best, worst and aggregated
/// average for several.
pub fn tables(results: &[RunResult]) -> Vec<(String, RunResult)> {
    match results {
        [] => Vec::new(),
        [only] => vec![("ALL STATS".into(), only.clone())],
        many => {
            let by_rate =
                |a: &&RunResult, b: &&RunResult| a.ops_per_sec().total_cmp(&b.ops_per_sec());
            let best = many.iter().max_by(by_rate).cloned();
            let worst = many.iter().min_by(by_rate).cloned();
            let mut average = many[0].clone();
            for other in &many[1..] {
                average.absorb(other);
            }
            let mut out = Vec::new();
            out.extend(best.map(|b| ("BEST RUN RESULTS".to_string(), b)));
            out.extend(worst.map(|w| ("WORST RUN RESULTS".to_string(), w)));
            out.push((
                format!("AGGREGATED AVERAGE RESULTS ({} runs)", many.len()),
                average,
            ));
            out
        }
    }
}

/// `<prefix>_FULL_RUN_<n>.txt` for all requests, plus one file per command.
fn write_hdr_files(prefix: &str, run: usize, result: &RunResult) -> Result<(), BenchError> {
    let base = format!("{prefix}_FULL_RUN_{run}");
    std::fs::write(
        format!("{base}.txt"),
        report::percentile_file(&result.totals()),
    )
    .map_err(BenchError::Io)?;
    for (name, row) in &result.rows {
        std::fs::write(format!("{base}_{name}.txt"), report::percentile_file(row))
            .map_err(BenchError::Io)?;
    }
    Ok(())
}
