//! kiln-bench against the real kiln-server: the counts it reports must be
//! the counts the server saw (INFO stats), on the main port with RESP2 and
//! on a core port in cluster mode with RESP3. Bounded request counts; no
//! timing assertions.

mod common;

use clap::Parser;
use common::{Raw, TestServer};
use kiln_bench::{BenchArgs, RunResult};
use kiln_net::Reply;

/// Reads `total_commands_processed`, `keyspace_hits` and `keyspace_misses`,
/// less what reading them costs: two back-to-back INFOs measure how many
/// commands one INFO adds (on Kiln's main port each core counts its share),
/// and every INFO this probe sent is taken off the processed count.
struct Probe {
    conn: Raw,
    infos: u64,
    per_info: u64,
}

impl Probe {
    fn new(server: &TestServer) -> Probe {
        let mut probe = Probe {
            conn: server.connect(),
            infos: 0,
            per_info: 0,
        };
        let first = probe.info()[0];
        let second = probe.info()[0];
        probe.per_info = second - first;
        probe
    }

    fn stats(&mut self) -> [u64; 3] {
        let [processed, hits, misses] = self.info();
        [processed - self.infos * self.per_info, hits, misses]
    }

    fn info(&mut self) -> [u64; 3] {
        self.infos += 1;
        let Reply::Bulk(text) = self.conn.cmd(&["INFO", "stats"]) else {
            panic!("INFO is not a bulk string")
        };
        let text = String::from_utf8(text.to_vec()).unwrap();
        let field = |name: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .unwrap_or_else(|| panic!("INFO has no {name}"))
                .trim()
                .parse()
                .unwrap()
        };
        [
            field("total_commands_processed"),
            field("keyspace_hits"),
            field("keyspace_misses"),
        ]
    }
}

/// Runs kiln-bench with `flags` (plus quiet output) and returns its one run
/// and the text it printed.
fn bench(flags: &str) -> (RunResult, String) {
    let line = format!("kiln-bench --hide-progress --hide-histogram {flags}");
    let args = BenchArgs::try_parse_from(line.split_whitespace()).expect("flags parse");
    let mut out = Vec::new();
    let mut runs = kiln_bench::run_all(&args, &mut out).expect("benchmark runs");
    assert_eq!(runs.len(), 1);
    (runs.remove(0), String::from_utf8(out).unwrap())
}

fn row<'a>(run: &'a RunResult, name: &str) -> &'a kiln_bench::stats::Stats {
    &run.rows.iter().find(|(n, _)| n == name).unwrap().1
}

#[test]
fn reported_counts_match_the_servers_stats() {
    let server = TestServer::start();
    let mut probe = Probe::new(&server);
    let before = probe.stats();
    let (run, text) = bench(&format!(
        "-p {} -t 2 -c 5 -n 300 --pipeline=4 --ratio=1:3 --key-maximum=400 -d 20",
        server.addr.port()
    ));
    let after = probe.stats();

    let (sets, gets, totals) = (row(&run, "Sets"), row(&run, "Gets"), run.totals());
    assert_eq!(totals.ops, 2 * 5 * 300);
    assert_eq!((sets.ops, gets.ops), (750, 2250));
    assert_eq!(gets.hits + gets.misses, gets.ops);
    assert!(
        gets.hits > 0 && gets.misses > 0,
        "hits {} misses {}",
        gets.hits,
        gets.misses
    );
    assert_eq!(totals.errors + totals.moved + totals.ask, 0);
    assert_eq!(after[0] - before[0], totals.ops);
    assert_eq!(after[1] - before[1], gets.hits);
    assert_eq!(after[2] - before[2], gets.misses);

    assert!(text.starts_with("ALL STATS\n"), "{text}");
    for label in ["Sets ", "Gets ", "Waits ", "Totals "] {
        assert!(
            text.lines().any(|l| l.starts_with(label)),
            "{label} row missing:\n{text}"
        );
    }
}

#[test]
fn cluster_mode_resp3_routes_every_request_to_its_core() {
    let server = TestServer::start();
    let mut probe = Probe::new(&server);
    let before = probe.stats();
    let json_path =
        std::env::temp_dir().join(format!("kiln-bench-test-{}.json", std::process::id()));
    let (run, _) = bench(&format!(
        "-p {} -P resp3 --cluster-mode -t 1 -c 3 -n 200 --pipeline=8 --ratio=1:1 --key-maximum=100 \
         --json-out-file={}",
        server.core_addrs[0].port(),
        json_path.display()
    ));
    let after = probe.stats();

    let totals = run.totals();
    let gets = row(&run, "Gets");
    assert_eq!(totals.ops, 3 * 200);
    assert_eq!(
        totals.errors + totals.moved + totals.ask,
        0,
        "routing missed"
    );
    // Setup: HELLO + CLUSTER SLOTS for discovery, HELLO on each of 3 clients × 2 cores.
    assert_eq!(after[0] - before[0], totals.ops + 2 + 6);
    assert_eq!(after[1] - before[1], gets.hits);
    assert_eq!(after[2] - before[2], gets.misses);

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    std::fs::remove_file(&json_path).unwrap();
    let table = &json["ALL STATS"];
    assert_eq!(table["Totals"]["Count"], 600);
    assert_eq!(table["Gets"]["Hits"], gets.hits);
    assert_eq!(table["Gets"]["Misses"], gets.misses);
    assert!(
        table["Totals"]["Percentile Latencies"]["p99.00"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}
