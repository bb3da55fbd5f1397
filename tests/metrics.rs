//! Operating figures end to end: the Prometheus endpoint scraped and
//! parsed by the official Python client's text parser after a known
//! workload from two tenants; the endpoint answering while every core
//! runs a spinning function; `INFO commandstats` / `latencystats`,
//! `LATENCY HISTOGRAM` and `INFO tenant`, with their tenant scoping; and
//! the commandstats layout side by side with a real redis-server.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::redis::Redis;
use common::{ADMIN_PASSWORD, Raw, TestServer, free_port, login, tenant_config};
use kiln_net::Reply;

fn bulk(s: &str) -> Reply {
    Reply::Bulk(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

fn text(reply: Reply) -> String {
    match reply {
        Reply::Bulk(b) | Reply::Verbatim(_, b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

/// Two tenants (functions allowed), the endpoint on, at most two
/// function labels per tenant.
fn start(dir: &std::path::Path, metrics_port: u16, extra: &[&str]) -> TestServer {
    let config = tenant_config(
        dir,
        &[
            ("t1", "pw1", "limits = { function-cpu-budget = 3000 }"),
            ("t2", "pw2", ""),
        ],
    );
    let port = metrics_port.to_string();
    let mut args = vec![
        "--config",
        &config,
        "--requirepass",
        ADMIN_PASSWORD,
        "--metrics-port",
        &port,
        "--metrics-function-labels",
        "2",
    ];
    args.extend_from_slice(extra);
    TestServer::start_with(&args)
}

/// One sample: its labels and value.
type Samples = Vec<(String, BTreeMap<String, String>, f64)>;

struct Scrape {
    families: BTreeMap<String, String>,
    samples: Samples,
    content_type: String,
}

impl Scrape {
    /// The value of `name` with exactly `labels`, if present.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && *l == want)
            .map(|s| s.2)
    }

    /// The label names every sample of `name` carries.
    fn label_sets(&self, name: &str) -> Vec<Vec<String>> {
        let mut sets: Vec<Vec<String>> = self
            .samples
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, l, _)| l.keys().cloned().collect())
            .collect();
        sets.sort();
        sets.dedup();
        sets
    }

    /// Every sample of `name` whose `label` is `value`.
    fn with(&self, name: &str, label: &str, value: &str) -> Vec<&BTreeMap<String, String>> {
        self.samples
            .iter()
            .filter(|(n, l, _)| n == name && l.get(label).map(String::as_str) == Some(value))
            .map(|s| &s.1)
            .collect()
    }
}

/// Scrapes `port` through Python's `prometheus_client` parser.
fn scrape(port: u16) -> Scrape {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/metrics_scrape.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}/metrics"))
        .output()
        .expect("python3 runs (.ci/run installs prometheus-client)");
    assert!(
        output.status.success(),
        "scrape failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let families = json["families"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let samples = json["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let labels = s[1]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            (
                s[0].as_str().unwrap().to_string(),
                labels,
                s[2].as_f64().unwrap(),
            )
        })
        .collect();
    Scrape {
        families,
        samples,
        content_type: json["content_type"].as_str().unwrap().to_string(),
    }
}

/// Scrapes until every core's published figures are newer than
/// `finished` (cores publish every 200 ms), or 20 s pass.
fn scrape_after(port: u16, finished: Instant) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // A snapshot younger than this, at the scrape, was taken after `finished`.
        let since = finished.elapsed().as_secs_f64();
        let s = scrape(port);
        let fresh = ["0", "1"].iter().all(|core| {
            s.value("kiln_core_snapshot_age_seconds", &[("core", core)])
                .is_some_and(|age| (0.0..since).contains(&age))
        });
        if fresh || Instant::now() > deadline {
            return s;
        }
    }
}

/// A plain HTTP GET, for the busy-cores test (no Python start-up time).
fn http_get(port: u16, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.to_string(), body.to_string())
}

const LIB: &str = "#!js name=lib\n\
    kiln.registerFunction('f1', () => 1);\n\
    kiln.registerFunction('f2', () => 2);\n\
    kiln.registerFunction('f3', () => 3);\n\
    kiln.registerFunction('spin', () => { for (;;) {} });";

#[test]
fn the_endpoint_counts_each_tenants_workload_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start(dir.path(), port, &[]);
    // t1: 3 SET, 2 GET (keys on both cores, so some are forwarded), one
    // arity refusal, one failed INCR, one function loaded and called.
    let mut a = login(&server, "t1", "pw1");
    for k in 0..3 {
        let key = server.key_on_core(k % 2, &format!("a{k}:"));
        assert_eq!(a.cmd(&["SET", &key, "x"]), Reply::OK);
    }
    let key0 = server.key_on_core(0, "a0:");
    let key1 = server.key_on_core(1, "a1:");
    assert_eq!(a.cmd(&["GET", &key0]), bulk("x"));
    assert_eq!(a.cmd(&["GET", &key1]), bulk("x"));
    assert!(a.cmd(&["GET"]).is_error());
    assert!(a.cmd(&["INCR", &key0]).is_error());
    assert_eq!(a.cmd(&["FUNCTION", "LOAD", LIB]), bulk("lib"));
    assert_eq!(a.cmd(&["FCALL", "f1", "0"]), Reply::Integer(1));
    // t2: 5 SET, and three functions past the cap of two labels.
    let mut b = login(&server, "t2", "pw2");
    for k in 0..5 {
        let key = server.key_on_core(k % 2, &format!("b{k}:"));
        assert_eq!(b.cmd(&["SET", &key, "y"]), Reply::OK);
    }
    assert_eq!(b.cmd(&["FUNCTION", "LOAD", LIB]), bulk("lib"));
    for f in ["f1", "f2", "f3", "f3"] {
        assert!(!b.cmd(&["FCALL", f, "0"]).is_error());
    }

    let s = scrape_after(port, Instant::now());
    assert!(
        s.content_type.starts_with("text/plain; version=0.0.4"),
        "{}",
        s.content_type
    );
    let cmd = |tenant: &str, command: &str| {
        s.value(
            "kiln_tenant_commands_total",
            &[("tenant", tenant), ("command", command)],
        )
    };
    assert_eq!(cmd("t1", "set"), Some(3.0));
    assert_eq!(cmd("t1", "get"), Some(0.0 + 2.0));
    assert_eq!(cmd("t1", "incr"), Some(1.0));
    // AUTH runs before the connection is the tenant's: `default` counts it.
    assert_eq!(cmd("t1", "auth"), None);
    assert!(cmd("default", "auth").unwrap() >= 2.0);
    assert_eq!(cmd("t1", "function|load"), Some(1.0));
    assert_eq!(cmd("t2", "set"), Some(5.0));
    assert_eq!(cmd("t2", "fcall"), Some(4.0));
    assert_eq!(cmd("t2", "get"), None, "t2 ran no GET");
    let failures = |tenant: &str, command: &str| {
        s.value(
            "kiln_tenant_command_failures_total",
            &[("tenant", tenant), ("command", command)],
        )
    };
    assert_eq!(failures("t1", "incr"), Some(1.0));
    assert_eq!(failures("t1", "set"), Some(0.0));
    let rejected = |tenant: &str, reason: &str| {
        s.value(
            "kiln_tenant_rejected_commands_total",
            &[("tenant", tenant), ("reason", reason)],
        )
    };
    assert_eq!(rejected("t1", "arity"), Some(1.0));
    assert_eq!(rejected("t2", "arity"), None);
    let calls = |tenant: &str, library: &str, function: &str| {
        s.value(
            "kiln_tenant_function_calls_total",
            &[
                ("tenant", tenant),
                ("library", library),
                ("function", function),
            ],
        )
    };
    assert_eq!(calls("t1", "lib", "f1"), Some(1.0));
    assert_eq!(calls("t2", "lib", "f1"), Some(1.0));
    assert_eq!(calls("t2", "lib", "f2"), Some(1.0));
    assert_eq!(calls("t2", "lib", "f3"), None, "past the cap of 2");
    assert_eq!(calls("t2", "other", "other"), Some(2.0));
    assert_eq!(s.value("kiln_tenant_keys", &[("tenant", "t1")]), Some(3.0));
    assert_eq!(s.value("kiln_tenant_keys", &[("tenant", "t2")]), Some(5.0));
    assert_eq!(
        s.value("kiln_tenant_connections", &[("tenant", "t1")]),
        Some(1.0)
    );
    assert!(
        s.value("kiln_tenant_memory_bytes", &[("tenant", "t1")])
            .unwrap()
            > 0.0
    );
    assert!(
        s.value(
            "kiln_tenant_function_cpu_seconds_total",
            &[("tenant", "t1"), ("library", "lib"), ("function", "f1")]
        )
        .unwrap()
            > 0.0
    );
    assert!(
        s.value("kiln_tenant_isolates", &[("tenant", "t1")])
            .unwrap()
            >= 1.0
    );

    // Label sets, as the README documents them.
    let sets = |name: &str, labels: &[&str]| {
        let want: Vec<String> = {
            let mut v: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(s.label_sets(name), vec![want], "{name}");
    };
    sets("kiln_tenant_commands_total", &["tenant", "command"]);
    sets("kiln_tenant_command_seconds_total", &["tenant", "command"]);
    sets("kiln_tenant_rejected_commands_total", &["tenant", "reason"]);
    sets(
        "kiln_tenant_function_calls_total",
        &["tenant", "library", "function"],
    );
    sets("kiln_tenant_keys", &["tenant"]);
    sets("kiln_tenant_memory_bytes", &["tenant"]);
    sets("kiln_core_commands_total", &["core"]);
    sets("kiln_core_connections", &["core"]);
    sets("kiln_core_memory_bytes", &["core"]);
    sets("kiln_core_mailbox_messages_received_total", &["core"]);
    sets("kiln_core_mailbox_messages_sent_total", &["core"]);
    // Keys on both cores: some requests were forwarded by message.
    let sent: f64 = ["0", "1"]
        .iter()
        .map(|c| {
            s.value("kiln_core_mailbox_messages_sent_total", &[("core", c)])
                .unwrap()
        })
        .sum();
    assert!(sent > 0.0);
    let over_cores = |name: &str| -> f64 {
        ["0", "1"]
            .iter()
            .map(|c| s.value(name, &[("core", c)]).unwrap())
            .sum()
    };
    assert_eq!(over_cores("kiln_core_keys"), 8.0, "3 keys of t1, 5 of t2");
    assert_eq!(over_cores("kiln_core_connections"), 2.0);
    assert!(over_cores("kiln_core_commands_total") >= 20.0);
    sets("kiln_uptime_seconds", &[]);
    sets("kiln_maxclients", &[]);
    assert_eq!(
        s.families.get("kiln_tenant_commands").map(String::as_str),
        Some("counter")
    );
    assert_eq!(
        s.families
            .get("kiln_core_loop_turn_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    assert_eq!(
        s.families.get("kiln_tenant_keys").map(String::as_str),
        Some("gauge")
    );
    assert_eq!(
        s.with("kiln_build_info", "version", env!("CARGO_PKG_VERSION"))
            .len(),
        1
    );
    for core in ["0", "1"] {
        assert_eq!(s.with("kiln_core_commands_total", "core", core).len(), 1);
        let inf = s
            .samples
            .iter()
            .find(|(n, l, _)| {
                n == "kiln_core_loop_turn_seconds_bucket"
                    && l.get("core").map(String::as_str) == Some(core)
                    && l.get("le").map(String::as_str) == Some("+Inf")
            })
            .map(|x| x.2);
        assert!(inf.unwrap() > 0.0, "core {core} counted its loop turns");
    }

    // The tenant's own view: INFO tenant, its figures only.
    let own = text(a.cmd(&["INFO", "tenant"]));
    assert!(own.contains("tenant_name:t1\r\n"), "{own}");
    assert!(own.contains("tenant_keys:3\r\n"), "{own}");
    assert!(own.contains("tenant_function_calls:1\r\n"), "{own}");
    assert!(
        own.contains("tenant_function_calls_killed_budget:0\r\n"),
        "{own}"
    );
    assert!(!own.contains("t2"), "{own}");
    let theirs = text(b.cmd(&["INFO", "tenant"]));
    assert!(theirs.contains("tenant_keys:5\r\n"), "{theirs}");
    assert!(theirs.contains("tenant_function_calls:4\r\n"), "{theirs}");
    // Not a way into others' figures.
    assert!(!text(b.cmd(&["INFO", "tenants"])).contains("t1"));
}

/// A tenant's network figures are the bytes of its connections' requests
/// and replies, exactly: AUTH's request counts for `default` (the
/// connection was not the tenant's yet), its `+OK` for the tenant.
#[test]
fn a_tenants_network_bytes_are_its_requests_and_replies() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start(dir.path(), port, &[]);
    let mut t = login(&server, "t2", "pw2");
    let value = "v".repeat(1000);
    let key = server.key_on_core(1, "net");
    assert_eq!(t.cmd(&["SET", &key, &value]), Reply::OK);
    assert_eq!(t.cmd(&["GET", &key]), bulk(&value));
    let resp = |args: &[&str]| -> u64 {
        let mut n = format!("*{}\r\n", args.len()).len();
        for a in args {
            n += format!("${}\r\n", a.len()).len() + a.len() + 2;
        }
        n as u64
    };
    let sent = resp(&["SET", &key, &value]) + resp(&["GET", &key]);
    let answered = "+OK\r\n".len() * 2 + "$1000\r\n".len() + 1000 + 2;
    let info = text(t.cmd(&["INFO", "tenant"]));
    let field = |name: &str| -> u64 {
        let prefix = format!("{name}:");
        info.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{name} in {info}"))
            .parse()
            .unwrap()
    };
    // The INFO request itself was read before it ran; its reply not yet.
    let info_request = resp(&["INFO", "tenant"]);
    assert_eq!(field("tenant_net_input_bytes"), sent + info_request);
    assert_eq!(field("tenant_net_output_bytes"), answered as u64);
    let s = scrape_after(port, Instant::now());
    let series = |name: &str| s.value(name, &[("tenant", "t2")]).unwrap() as u64;
    assert_eq!(
        series("kiln_tenant_net_input_bytes_total"),
        sent + info_request
    );
    assert!(series("kiln_tenant_net_output_bytes_total") > answered as u64);
    assert_eq!(
        s.value("kiln_tenant_net_input_bytes_total", &[("tenant", "t1")]),
        Some(0.0),
        "t1 sent nothing"
    );
}

/// Each isolate a core builds or evicts is counted for its tenant: with
/// room for one isolate per core, two tenants taking turns on one core
/// evict each other, and the tenants' counts add up to the cores'.
#[test]
fn isolates_created_and_evicted_are_counted_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start(dir.path(), port, &["--function-isolates-per-core", "1"]);
    let mut t1 = server.connect_on_core_as(0, Some(("t1", "pw1")));
    let mut t2 = server.connect_on_core_as(0, Some(("t2", "pw2")));
    assert_eq!(t1.cmd(&["FUNCTION", "LOAD", LIB]), bulk("lib"));
    assert_eq!(t2.cmd(&["FUNCTION", "LOAD", LIB]), bulk("lib"));
    for _ in 0..3 {
        assert_eq!(t1.cmd(&["FCALL", "f1", "0"]), Reply::Integer(1));
        assert_eq!(t2.cmd(&["FCALL", "f2", "0"]), Reply::Integer(2));
    }
    let s = scrape_after(port, Instant::now());
    let tenant = |name: &str, tenant: &str| s.value(name, &[("tenant", tenant)]).unwrap_or(0.0);
    let cores = |name: &str| -> f64 {
        ["0", "1"]
            .iter()
            .map(|c| s.value(name, &[("core", c)]).unwrap())
            .sum()
    };
    for t in ["t1", "t2"] {
        // Every call but t1's first found the other tenant's isolate.
        assert!(
            tenant("kiln_tenant_isolates_created_total", t) >= 3.0,
            "{t}"
        );
        assert!(
            tenant("kiln_tenant_isolates_evicted_total", t) >= 2.0,
            "{t}"
        );
    }
    for what in ["created", "evicted"] {
        let per_tenant: f64 = ["t1", "t2", "default"]
            .iter()
            .map(|t| tenant(&format!("kiln_tenant_isolates_{what}_total"), t))
            .sum();
        assert_eq!(
            per_tenant,
            cores(&format!("kiln_core_isolates_{what}_total")),
            "{what}"
        );
    }
}

#[test]
fn the_endpoint_answers_while_every_core_spins() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start(dir.path(), port, &[]);
    let mut a = login(&server, "t1", "pw1");
    assert_eq!(a.cmd(&["FUNCTION", "LOAD", LIB]), bulk("lib"));
    // One spinner per core, on that core's own port with a key it owns.
    let spinners: Vec<_> = (0..2)
        .map(|core| {
            let mut conn = Raw::connect(server.core_addrs[core]);
            assert_eq!(conn.cmd(&["AUTH", "t1", "pw1"]), Reply::OK);
            let key = server.key_on_core(core, "spin:");
            conn.send(&["FCALL", "spin", "1", &key]);
            conn
        })
        .collect();
    let mut probes: Vec<Raw> = (0..2)
        .map(|core| Raw::connect(server.core_addrs[core]))
        .collect();
    let mut outstanding = [false; 2];
    let mut answered_while_busy = false;
    for _ in 0..100 {
        for (probe, sent) in probes.iter_mut().zip(&mut outstanding) {
            if !*sent {
                probe.send(&["PING"]);
                *sent = true;
            }
        }
        let (head, body) = http_get(port, "/metrics");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            body.contains("kiln_core_commands_total{core=\"1\"}"),
            "{body}"
        );
        // Both PINGs, sent before the scrape, are still unanswered after
        // it: both cores were running the spin throughout.
        let mut pending = true;
        for (probe, sent) in probes.iter_mut().zip(&mut outstanding) {
            if probe.has_input() {
                // That core had not started its spin yet: try again.
                assert_eq!(probe.read_reply(), Some(Reply::Status("PONG".into())));
                *sent = false;
                pending = false;
            }
        }
        if pending {
            answered_while_busy = true;
            break;
        }
    }
    assert!(
        answered_while_busy,
        "the scrape never overlapped two busy cores"
    );
    for mut spinner in spinners {
        let reply = spinner.read_reply().unwrap();
        assert_eq!(
            reply,
            Reply::error("ERR Function 'spin' was terminated: it ran past its 3000 ms CPU budget")
        );
    }
    let s = scrape_after(port, Instant::now());
    assert_eq!(
        s.value(
            "kiln_tenant_function_calls_killed_total",
            &[("tenant", "t1"), ("reason", "budget")]
        ),
        Some(2.0)
    );
    let (head, _) = http_get(port, "/nope");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

/// `cmdstat_<name>:...` lines of an INFO text, usec figures masked.
fn cmdstats(info: &str) -> BTreeMap<String, String> {
    info.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter_map(|l| l.split_once(':'))
        .map(|(name, fields)| {
            let masked: Vec<String> = fields
                .split(',')
                .map(|f| match f.split_once('=') {
                    Some((k @ ("usec" | "usec_per_call"), _)) => format!("{k}=*"),
                    _ => f.to_string(),
                })
                .collect();
            (name.to_string(), masked.join(","))
        })
        .collect()
}

#[test]
fn info_commandstats_latencystats_and_latency_histogram_are_scoped_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start(dir.path(), port, &[]);
    let mut admin = login(&server, "default", ADMIN_PASSWORD);
    let mut a = login(&server, "t1", "pw1");
    let mut b = login(&server, "t2", "pw2");
    for k in 0..2 {
        assert_eq!(
            a.cmd(&["SET", &server.key_on_core(k, "a:"), "1"]),
            Reply::OK
        );
    }
    assert_eq!(a.cmd(&["GET", &server.key_on_core(1, "a:")]), bulk("1"));
    assert_eq!(
        b.cmd(&["SET", &server.key_on_core(0, "b:"), "1"]),
        Reply::OK
    );

    // Default INFO has neither section, as Redis 7.2.
    let default = text(a.cmd(&["INFO"]));
    assert!(!default.contains("# Commandstats") && !default.contains("# Latencystats"));
    let all = text(admin.cmd(&["INFO", "all"]));
    assert!(all.contains("# Commandstats\r\n") && all.contains("# Latencystats\r\n"));
    assert!(all.find("# CPU").unwrap() < all.find("# Commandstats").unwrap());

    let mine = text(a.cmd(&["INFO", "commandstats"]));
    let stats = cmdstats(&mine);
    assert_eq!(
        stats["set"],
        "calls=2,usec=*,usec_per_call=*,rejected_calls=0,failed_calls=0"
    );
    assert_eq!(
        stats["get"],
        "calls=1,usec=*,usec_per_call=*,rejected_calls=0,failed_calls=0"
    );
    assert!(mine.starts_with("# Commandstats\r\ncmdstat_"), "{mine}");
    let line = mine
        .lines()
        .find(|l| l.starts_with("cmdstat_set:"))
        .unwrap();
    let fields: Vec<&str> = line[12..]
        .split(',')
        .map(|f| f.split('=').next().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "calls",
            "usec",
            "usec_per_call",
            "rejected_calls",
            "failed_calls"
        ]
    );
    let theirs = cmdstats(&text(b.cmd(&["INFO", "commandstats"])));
    assert_eq!(
        theirs["set"],
        "calls=1,usec=*,usec_per_call=*,rejected_calls=0,failed_calls=0"
    );
    assert!(!theirs.contains_key("get"), "t2 sees t1's GET: {theirs:?}");
    let server_wide = cmdstats(&text(admin.cmd(&["INFO", "commandstats"])));
    assert_eq!(
        server_wide["set"],
        "calls=3,usec=*,usec_per_call=*,rejected_calls=0,failed_calls=0"
    );

    let latency = text(a.cmd(&["INFO", "latencystats"]));
    let set_line = latency
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_set:"))
        .unwrap_or_else(|| panic!("{latency}"));
    let (_, values) = set_line.split_once(':').unwrap();
    let keys: Vec<&str> = values
        .split(',')
        .map(|kv| kv.split('=').next().unwrap())
        .collect();
    assert_eq!(keys, ["p50", "p99", "p99.9"]);
    for kv in values.split(',') {
        let v = kv.split('=').nth(1).unwrap();
        assert!(
            v.parse::<f64>().unwrap() > 0.0 && v.split('.').nth(1).unwrap().len() == 3,
            "{v}"
        );
    }

    // LATENCY HISTOGRAM: {command: {calls, histogram_usec: {bucket: cumulative}}}.
    let Reply::Array(entries) = a.cmd(&["LATENCY", "HISTOGRAM", "set", "get", "nosuch"]) else {
        panic!("histogram")
    };
    assert_eq!(entries.len(), 4, "{entries:?}");
    assert_eq!(entries[0], bulk("get"));
    assert_eq!(entries[2], bulk("set"));
    let Reply::Array(set) = &entries[3] else {
        panic!()
    };
    assert_eq!(
        set[..3],
        [bulk("calls"), Reply::Integer(2), bulk("histogram_usec")]
    );
    let Reply::Array(buckets) = &set[3] else {
        panic!()
    };
    assert!(!buckets.is_empty() && buckets.len() % 2 == 0);
    let counts: Vec<i64> = buckets
        .chunks(2)
        .map(|p| match (&p[0], &p[1]) {
            (Reply::Integer(us), Reply::Integer(n)) => {
                // Named by the top of a power-of-two bucket from 1024 ns.
                let us = *us as f64;
                let level = 1.024 * 2f64.powi((us / 1.024).log2().round() as i32);
                assert!(us >= level.floor() && us <= level * 1.02, "bucket {us}");
                *n
            }
            _ => panic!("{p:?}"),
        })
        .collect();
    assert!(
        counts.windows(2).all(|w| w[0] < w[1]),
        "cumulative: {counts:?}"
    );
    assert_eq!(*counts.last().unwrap(), 2);
    let Reply::Array(b_entries) = b.cmd(&["LATENCY", "HISTOGRAM"]) else {
        panic!()
    };
    let names: Vec<&Reply> = b_entries.iter().step_by(2).collect();
    assert!(
        names.contains(&&bulk("set")) && !names.contains(&&bulk("get")),
        "{names:?}"
    );
    assert!(a.cmd(&["LATENCY", "NOSUCH"]).is_error());

    // CONFIG RESETSTAT clears them.
    assert_eq!(admin.cmd(&["CONFIG", "RESETSTAT"]), Reply::OK);
    let after = cmdstats(&text(admin.cmd(&["INFO", "commandstats"])));
    assert!(!after.contains_key("set"), "{after:?}");
    assert_eq!(
        a.cmd(&["LATENCY", "HISTOGRAM", "set"]),
        Reply::Array(vec![])
    );
}

#[test]
fn commandstats_layout_matches_redis() {
    let redis = Redis::start();
    let mut r = Raw::connect(format!("127.0.0.1:{}", redis.port).parse().unwrap());
    let server = TestServer::start();
    let mut k = server.connect();
    for conn in [&mut r, &mut k] {
        assert_eq!(conn.cmd(&["SET", "a", "1"]), Reply::OK);
        assert_eq!(conn.cmd(&["SET", "b", "x"]), Reply::OK);
        assert_eq!(conn.cmd(&["GET", "a"]), bulk("1"));
        assert!(conn.cmd(&["GET"]).is_error());
        assert!(conn.cmd(&["INCR", "b"]).is_error());
        // EXEC's commands count one by one, on both cores for Kiln.
        assert_eq!(conn.cmd(&["MULTI"]), Reply::OK);
        for command in [
            &["SET", "c", "2"][..],
            &["INCR", "b"],
            &["INCR", "a"],
            &["GET", "c"],
        ] {
            assert_eq!(conn.cmd(command), Reply::status("QUEUED"));
        }
        assert!(!conn.cmd(&["EXEC"]).is_error());
    }
    for mut subscriber in [redis.connect(), server.connect()] {
        subscriber.cmd(&["SUBSCRIBE", "news"]);
        subscriber.cmd(&["UNSUBSCRIBE", "news"]);
    }
    let theirs = cmdstats(&text(r.cmd(&["INFO", "commandstats"])));
    let ours = cmdstats(&text(k.cmd(&["INFO", "commandstats"])));
    for name in [
        "set",
        "get",
        "incr",
        "multi",
        "exec",
        "subscribe",
        "unsubscribe",
    ] {
        assert_eq!(ours.get(name), theirs.get(name), "cmdstat_{name}");
    }
    assert_eq!(
        theirs["incr"],
        "calls=3,usec=*,usec_per_call=*,rejected_calls=0,failed_calls=2"
    );
    // LATENCY HISTOGRAM's shape: [name, [calls, n, histogram_usec, [...]]].
    let shape = |reply: Reply| match reply {
        Reply::Array(entries) => match &entries[..] {
            [name, Reply::Array(fields)] => (
                name.clone(),
                fields[0].clone(),
                fields[1].clone(),
                fields[2].clone(),
            ),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(
        shape(k.cmd(&["LATENCY", "HISTOGRAM", "get"])),
        shape(r.cmd(&["LATENCY", "HISTOGRAM", "get"]))
    );
}
