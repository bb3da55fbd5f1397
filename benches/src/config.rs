//! Command-line flags, named and defaulted as memtier_benchmark names them,
//! and their validation into a [`BenchConfig`] the runner can use directly.

use std::time::Duration;

use clap::Parser;

use crate::BenchError;
use crate::keys::{KeyPattern, KeyRange};
use crate::workload::{Ratio, Template};

/// memtier_benchmark's flags. A memtier command line works with the binary
/// name changed; flags memtier has that kiln-bench does not are rejected by
/// clap rather than silently ignored.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "kiln-bench",
    version,
    about = "A memtier_benchmark-compatible load generator for Redis-protocol servers"
)]
pub struct BenchArgs {
    /// Server address.
    #[arg(short = 's', long = "server", default_value = "127.0.0.1")]
    pub server: String,
    /// Server port.
    #[arg(short = 'p', long = "port", default_value_t = 6379)]
    pub port: u16,
    /// Protocol: redis/resp2 or resp3 (resp3 sends HELLO 3 on connect).
    #[arg(short = 'P', long = "protocol", default_value = "redis")]
    pub protocol: String,
    /// Password, or `user:password`, sent with AUTH (or HELLO) on connect.
    #[arg(short = 'a', long = "authenticate")]
    pub authenticate: Option<String>,
    /// Threads; each runs one event loop.
    #[arg(short = 't', long = "threads", default_value_t = 4)]
    pub threads: usize,
    /// Clients per thread.
    #[arg(short = 'c', long = "clients", default_value_t = 50)]
    pub clients: usize,
    /// Requests per client, or `allkeys` (one pass over the key range, shared by all clients).
    #[arg(short = 'n', long = "requests", default_value = "10000")]
    pub requests: String,
    /// Seconds to run, instead of a request count.
    #[arg(long = "test-time")]
    pub test_time: Option<u64>,
    /// SET:GET ratio.
    #[arg(long = "ratio", default_value = "1:10")]
    pub ratio: String,
    /// Requests each connection keeps in flight.
    #[arg(long = "pipeline", default_value_t = 1)]
    pub pipeline: usize,
    /// Value size in bytes.
    #[arg(short = 'd', long = "data-size", default_value_t = 32)]
    pub data_size: usize,
    /// Value sizes drawn uniformly from `min-max`.
    #[arg(long = "data-size-range")]
    pub data_size_range: Option<String>,
    /// Random value bytes instead of a repeated character.
    #[arg(short = 'R', long = "random-data")]
    pub random_data: bool,
    /// Key prefix.
    #[arg(long = "key-prefix", default_value = "memtier-")]
    pub key_prefix: String,
    /// Smallest key number.
    #[arg(long = "key-minimum", default_value_t = 0)]
    pub key_minimum: u64,
    /// Largest key number.
    #[arg(long = "key-maximum", default_value_t = 10_000_000)]
    pub key_maximum: u64,
    /// SET:GET key patterns: R random, S sequential, G gaussian, Z zipf, P parallel.
    #[arg(long = "key-pattern", default_value = "R:R")]
    pub key_pattern: String,
    /// Gaussian standard deviation (default: range / 6).
    #[arg(long = "key-stddev")]
    pub key_stddev: Option<f64>,
    /// Gaussian median (default: middle of the range).
    #[arg(long = "key-median")]
    pub key_median: Option<f64>,
    /// Zipf exponent, in (0, 5).
    #[arg(long = "key-zipf-exp", default_value_t = 1.0)]
    pub key_zipf_exp: f64,
    /// A different random seed for every client.
    #[arg(long = "distinct-client-seed")]
    pub distinct_client_seed: bool,
    /// Seed from the clock instead of the fixed default.
    #[arg(long = "randomize")]
    pub randomize: bool,
    /// SETs carry `EX n` with n drawn from `min-max` seconds.
    #[arg(long = "expiry-range")]
    pub expiry_range: Option<String>,
    /// An arbitrary command with `__key__` and `__data__` placeholders (repeatable).
    #[arg(long = "command")]
    pub command: Vec<String>,
    /// Weight of the preceding --command (default 1).
    #[arg(long = "command-ratio")]
    pub command_ratio: Vec<u32>,
    /// Key pattern of the preceding --command (default R).
    #[arg(long = "command-key-pattern")]
    pub command_key_pattern: Vec<String>,
    /// Route each request to the node owning its key (CLUSTER SLOTS); count MOVED/ASK.
    #[arg(long = "cluster-mode")]
    pub cluster_mode: bool,
    /// Write the results as JSON to this file.
    #[arg(long = "json-out-file")]
    pub json_out_file: Option<String>,
    /// Write HDR latency distributions to `<prefix>_FULL_RUN_<n>.txt` / `.hgrm`.
    #[arg(long = "hdr-file-prefix")]
    pub hdr_file_prefix: Option<String>,
    /// Percentiles to report, comma-separated.
    #[arg(long = "print-percentiles", default_value = "50,99,99.9")]
    pub print_percentiles: String,
    /// Leave out the latency distribution.
    #[arg(long = "hide-histogram")]
    pub hide_histogram: bool,
    /// Number of full runs.
    #[arg(short = 'x', long = "run-count", default_value_t = 1)]
    pub run_count: usize,
    /// Print nothing while running.
    #[arg(long = "hide-progress")]
    pub hide_progress: bool,
}

/// How a run ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// Each client sends this many requests.
    Requests(u64),
    /// Every client sends until this much time has passed.
    Time(Duration),
}

/// Validated settings for one benchmark.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// `host:port` of the server (in cluster mode: the seed node).
    pub addr: String,
    /// Send `HELLO 3` on connect.
    pub resp3: bool,
    /// AUTH user and password.
    pub auth: Option<(Option<String>, String)>,
    /// Event-loop threads.
    pub threads: usize,
    /// Clients per thread.
    pub clients: usize,
    /// When to stop.
    pub limit: Limit,
    /// Requests in flight per connection.
    pub pipeline: usize,
    /// Commands to send, and how often.
    pub templates: Vec<Template>,
    /// Value sizes, inclusive.
    pub data_size: (usize, usize),
    /// Random value bytes.
    pub random_data: bool,
    /// Key prefix.
    pub key_prefix: Vec<u8>,
    /// Key numbers and their distribution parameters.
    pub keys: KeyRange,
    /// Seed for the first client (others add their index when distinct).
    pub seed: u64,
    /// Every client gets a different seed.
    pub distinct_client_seed: bool,
    /// Route by slot to every node.
    pub cluster_mode: bool,
    /// Percentiles to report.
    pub percentiles: Vec<f64>,
    /// Print per-second progress.
    pub progress: bool,
    /// Named rows are the default SET/GET pair (memtier's Sets/Gets/Waits table).
    pub set_get: bool,
}

impl BenchArgs {
    /// Checks the flags and builds the run settings.
    pub fn config(&self) -> Result<BenchConfig, BenchError> {
        let keys = KeyRange {
            min: self.key_minimum,
            max: self.key_maximum,
            median: self.key_median,
            stddev: self.key_stddev,
            zipf_exp: self.key_zipf_exp,
        };
        keys.validate()?;
        if self.threads == 0 || self.clients == 0 || self.pipeline == 0 || self.run_count == 0 {
            return Err(BenchError::Flag(
                "threads, clients, pipeline and run-count must be at least 1".into(),
            ));
        }
        let limit = match self.test_time {
            Some(secs) => Limit::Time(Duration::from_secs(secs)),
            // One pass over the range shared by all clients (with `P`, each its own part).
            None if self.requests == "allkeys" => Limit::Requests(
                keys.len()
                    .div_ceil((self.threads * self.clients).max(1) as u64),
            ),
            None => Limit::Requests(parse_num(&self.requests, "requests")?),
        };
        let data_size = match &self.data_size_range {
            Some(range) => parse_range(range, "data-size-range")?,
            None => (self.data_size, self.data_size),
        };
        if data_size.1 == 0 || data_size.0 > data_size.1 || data_size.1 > 64 << 20 {
            return Err(BenchError::Flag(
                "data size must be 1..=64MiB with min <= max".into(),
            ));
        }
        let expiry = self
            .expiry_range
            .as_deref()
            .map(|r| parse_range::<u64>(r, "expiry-range"))
            .transpose()?;
        let set_get = self.command.is_empty();
        let templates = if set_get {
            let ratio: Ratio = self.ratio.parse()?;
            let (set_pattern, get_pattern) = split_pair(&self.key_pattern)?;
            Template::set_get(ratio, set_pattern, get_pattern, expiry)
        } else {
            self.commands()?
        };
        let protocol = self.protocol.to_ascii_lowercase();
        let resp3 = match protocol.as_str() {
            "redis" | "resp2" => false,
            "resp3" => true,
            other => {
                return Err(BenchError::Flag(format!(
                    "unsupported protocol {other:?}: use resp2 or resp3"
                )));
            }
        };
        Ok(BenchConfig {
            addr: format!("{}:{}", self.server, self.port),
            resp3,
            auth: self.authenticate.as_deref().map(parse_auth),
            threads: self.threads,
            clients: self.clients,
            limit,
            pipeline: self.pipeline,
            templates,
            data_size,
            random_data: self.random_data,
            key_prefix: self.key_prefix.as_bytes().to_vec(),
            keys,
            seed: if self.randomize { clock_seed() } else { 5381 },
            distinct_client_seed: self.distinct_client_seed,
            cluster_mode: self.cluster_mode,
            percentiles: parse_percentiles(&self.print_percentiles)?,
            progress: !self.hide_progress,
            set_get,
        })
    }

    /// The `--command` templates with their ratios and key patterns; a
    /// missing ratio or pattern takes memtier's default (1, R).
    fn commands(&self) -> Result<Vec<Template>, BenchError> {
        if self.command_ratio.len() > self.command.len()
            || self.command_key_pattern.len() > self.command.len()
        {
            return Err(BenchError::Flag(
                "more --command-ratio/--command-key-pattern than --command".into(),
            ));
        }
        self.command
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let ratio = self.command_ratio.get(i).copied().unwrap_or(1);
                let pattern = match self.command_key_pattern.get(i) {
                    Some(p) => p.parse()?,
                    None => KeyPattern::Random,
                };
                Template::parse(text, ratio, pattern)
            })
            .collect()
    }
}

fn parse_num<T: std::str::FromStr>(text: &str, flag: &str) -> Result<T, BenchError> {
    text.trim()
        .parse()
        .map_err(|_| BenchError::Flag(format!("--{flag}: {text:?} is not a number")))
}

/// `min-max`, inclusive.
fn parse_range<T: std::str::FromStr + PartialOrd>(
    text: &str,
    flag: &str,
) -> Result<(T, T), BenchError> {
    let (a, b) = text
        .split_once('-')
        .ok_or_else(|| BenchError::Flag(format!("--{flag}: expected min-max, got {text:?}")))?;
    let range = (parse_num(a, flag)?, parse_num(b, flag)?);
    if range.0 > range.1 {
        return Err(BenchError::Flag(format!("--{flag}: min is above max")));
    }
    Ok(range)
}

/// `S:R` → (SET pattern, GET pattern).
fn split_pair(text: &str) -> Result<(KeyPattern, KeyPattern), BenchError> {
    let (a, b) = text.split_once(':').ok_or_else(|| {
        BenchError::Flag(format!("--key-pattern: expected SET:GET, got {text:?}"))
    })?;
    Ok((a.parse()?, b.parse()?))
}

/// `password` or `user:password`.
fn parse_auth(text: &str) -> (Option<String>, String) {
    match text.split_once(':') {
        Some((user, password)) => (Some(user.to_string()), password.to_string()),
        None => (None, text.to_string()),
    }
}

/// `50,99,99.9` → sorted, each in (0, 100].
pub fn parse_percentiles(text: &str) -> Result<Vec<f64>, BenchError> {
    let mut out = text
        .split(',')
        .map(|p| {
            let value: f64 = parse_num(p, "print-percentiles")?;
            if value > 0.0 && value <= 100.0 {
                Ok(value)
            } else {
                Err(BenchError::Flag(format!(
                    "--print-percentiles: {value} is not in (0, 100]"
                )))
            }
        })
        .collect::<Result<Vec<f64>, BenchError>>()?;
    out.sort_by(f64::total_cmp);
    out.dedup();
    Ok(out)
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> BenchArgs {
        BenchArgs::try_parse_from(std::iter::once("kiln-bench").chain(line.split_whitespace()))
            .unwrap()
    }

    #[test]
    fn memtier_command_line_parses() {
        let a = args(
            "-s 10.0.0.1 -p 7379 -P resp3 -t 2 -c 100 -n 5000 --ratio=1:4 --pipeline=16 -d 100 \
             --key-pattern=S:G --key-prefix=k: --key-maximum=999 --print-percentiles=50,99.99 \
             --hide-histogram -x 3",
        );
        let c = a.config().unwrap();
        assert_eq!(c.addr, "10.0.0.1:7379");
        assert!(c.resp3);
        assert_eq!((c.threads, c.clients, c.pipeline), (2, 100, 16));
        assert_eq!(c.limit, Limit::Requests(5000));
        assert_eq!(c.data_size, (100, 100));
        assert_eq!(c.percentiles, vec![50.0, 99.99]);
        assert_eq!(c.templates.len(), 2);
        assert_eq!(c.templates[0].ratio, 1);
        assert_eq!(c.templates[1].ratio, 4);
        assert_eq!(c.templates[0].pattern, KeyPattern::Sequential);
        assert_eq!(c.templates[1].pattern, KeyPattern::Gaussian);
    }

    #[test]
    fn commands_take_their_ratio_and_pattern() {
        let a =
            args("--command=SET__key__ --command-ratio=2 --command-key-pattern=S --command=GET");
        // clap splits on whitespace above; a template with spaces is checked in workload.
        let c = a.config().unwrap();
        assert!(!c.set_get);
        assert_eq!(c.templates[0].ratio, 2);
        assert_eq!(c.templates[0].pattern, KeyPattern::Sequential);
        assert_eq!(c.templates[1].ratio, 1);
        assert_eq!(c.templates[1].pattern, KeyPattern::Random);
    }

    #[test]
    fn bad_flags_are_errors() {
        for line in [
            "--ratio=0:0",
            "--ratio=1",
            "--key-pattern=Q:R",
            "--data-size-range=10-5",
            "-P memcache_text",
            "-n lots",
            "--print-percentiles=0",
            "--key-minimum=10 --key-maximum=5",
            "--pipeline=0",
        ] {
            assert!(args(line).config().is_err(), "{line}");
        }
    }

    #[test]
    fn auth_splits_user() {
        assert_eq!(parse_auth("pw"), (None, "pw".into()));
        assert_eq!(parse_auth("u:pw"), (Some("u".into()), "pw".into()));
    }

    #[test]
    fn allkeys_is_one_pass() {
        let c = args("-n allkeys -t 2 -c 3 --key-minimum=1 --key-maximum=100")
            .config()
            .unwrap();
        assert_eq!(c.limit, Limit::Requests(17));
    }
}
