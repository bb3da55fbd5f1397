//! Tenants end to end: authentication (raw RESP and the real `redis-cli`),
//! isolation of keyspaces through every command in the table (also for a
//! tenant given `+@all`), per-tenant quotas, operator-only commands, and
//! ACL changes that apply on every core and survive a restart. The command
//! rules and powers in detail are in `tenant_powers.rs`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Raw, TestServer, bulk, eventually};
use kiln_net::Reply;

use common::{ADMIN_PASSWORD, login};
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn config(dir: &Path, tenants: &[(&str, &str, &str)]) -> String {
    common::tenant_config(dir, tenants)
}

fn start(config: &str) -> TestServer {
    common::start_with_config(config)
}

fn two_tenants(dir: &Path) -> TestServer {
    start(&config(
        dir,
        &[
            ("t1", "pw1", "limits = { maxmemory = \"64kb\" }"),
            ("t2", "pw2", ""),
        ],
    ))
}

#[test]
fn auth_forms_and_errors_match_redis() {
    let dir = tempfile::tempdir().unwrap();
    let server = two_tenants(dir.path());
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd(&["GET", "k"]),
        Reply::error("NOAUTH Authentication required.")
    );
    let wrongpass = Reply::error("WRONGPASS invalid username-password pair or user is disabled.");
    assert_eq!(conn.cmd(&["AUTH", "t1", "nope"]), wrongpass);
    assert_eq!(conn.cmd(&["AUTH", "nobody", "pw1"]), wrongpass);
    assert_eq!(conn.cmd(&["AUTH", "wrong"]), wrongpass);
    let Reply::Map(_) = conn.cmd(&["HELLO", "3", "AUTH", "t1", "pw1"]) else {
        panic!("HELLO AUTH as a tenant")
    };
    assert_eq!(conn.cmd(&["ACL", "WHOAMI"]), bulk("t1"));
    assert_eq!(conn.cmd(&["AUTH", ADMIN_PASSWORD]), Reply::OK);
    assert_eq!(conn.cmd(&["ACL", "WHOAMI"]), bulk("default"));
}

#[test]
fn redis_cli_logs_in_as_a_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let server = two_tenants(dir.path());
    let port = server.addr.port().to_string();
    let cli = |user: &str, password: &str, args: &[&str]| {
        let out = Command::new("redis-cli")
            .args([
                "-p",
                &port,
                "--user",
                user,
                "--pass",
                password,
                "--no-auth-warning",
            ])
            .args(args)
            .output()
            .expect("redis-cli must be installed (apt-get install redis-tools)");
        String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr)
    };
    assert_eq!(cli("t1", "pw1", &["set", "cli:k", "from t1"]), "OK\n");
    assert_eq!(cli("t1", "pw1", &["get", "cli:k"]), "from t1\n");
    assert_eq!(cli("t2", "pw2", &["get", "cli:k"]), "\n");
    assert_eq!(cli("t2", "pw2", &["acl", "whoami"]), "t2\n");
    let denied = cli("t1", "wrong", &["get", "cli:k"]);
    assert!(denied.contains("WRONGPASS"), "{denied}");
}

#[test]
fn tenant_at_its_memory_quota_gets_oom_while_another_writes() {
    let dir = tempfile::tempdir().unwrap();
    let server = two_tenants(dir.path());
    let mut a = login(&server, "t1", "pw1");
    let mut b = login(&server, "t2", "pw2");
    let value = "x".repeat(1000);
    // 64kb of 1000-byte values is reached within 100 writes.
    let mut written = 0;
    let refused = (0..100).find_map(|i| {
        let key = format!("a:{i}");
        match a.cmd(&["SET", &key, &value]) {
            Reply::Status(_) => {
                written += 1;
                None
            }
            other => Some(other),
        }
    });
    assert_eq!(refused, Some(Reply::error(OOM)));
    assert!(written > 30, "only {written} writes before OOM");
    // Keys land on both cores: the quota is the sum.
    assert_eq!(a.cmd(&["DBSIZE"]), Reply::Integer(written));
    for i in 0..200 {
        let key = format!("b:{i}");
        assert_eq!(
            b.cmd(&["SET", &key, &value]),
            Reply::OK,
            "tenant B write {i}"
        );
    }
    let Reply::Bulk(info) = a.cmd(&["INFO", "tenant"]) else {
        panic!()
    };
    let info = String::from_utf8_lossy(&info);
    assert!(info.contains("tenant_name:t1\r\n"), "{info}");
    assert!(info.contains("tenant_rejected_commands:1\r\n"), "{info}");
    assert!(info.contains("tenant_maxmemory:65536\r\n"), "{info}");
    // Reads and deletes still work; freed memory admits writes again.
    assert_eq!(a.cmd(&["GET", "a:0"]), bulk(&value));
    assert_eq!(a.cmd(&["DEL", "a:0", "a:1", "a:2"]), Reply::Integer(3));
    assert_eq!(a.cmd(&["SET", "a:again", "small"]), Reply::OK);
}

#[test]
fn tenant_maxclients_limits_its_authenticated_connections() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&config(
        dir.path(),
        &[
            ("t1", "pw1", "limits = { maxclients = 2 }"),
            ("t2", "pw2", ""),
        ],
    ));
    let first = login(&server, "t1", "pw1");
    let _second = login(&server, "t1", "pw1");
    let mut third = server.connect();
    assert_eq!(
        third.cmd(&["AUTH", "t1", "pw1"]),
        Reply::error("ERR max number of clients reached")
    );
    let _others = login(&server, "t2", "pw2");
    drop(first);
    assert!(eventually(Duration::from_secs(5), || {
        third.cmd(&["AUTH", "t1", "pw1"]) == Reply::OK
    }));
    let Reply::Bulk(info) = third.cmd(&["INFO", "clients"]) else {
        panic!()
    };
    let info = String::from_utf8_lossy(&info);
    assert!(
        info.contains("connected_clients:2\r\n"),
        "own clients only: {info}"
    );
}

#[test]
fn admin_commands_need_an_admin() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&config(
        dir.path(),
        &[("t1", "pw1", ""), ("ops", "opspw", "admin = true")],
    ));
    let mut t1 = login(&server, "t1", "pw1");
    assert_eq!(
        t1.cmd(&["CONFIG", "SET", "maxmemory", "1"]),
        Reply::error("NOPERM User t1 has no permissions to run the 'config|set' command")
    );
    assert_eq!(
        t1.cmd(&["ACL", "SETUSER", "x", "on"]),
        Reply::error("NOPERM User t1 has no permissions to run the 'acl|setuser' command")
    );
    let mut ops = login(&server, "ops", "opspw");
    assert_eq!(ops.cmd(&["CONFIG", "SET", "timeout", "0"]), Reply::OK);
    // CLIENT LIST: a tenant sees its own connections, an admin everyone's.
    let lines = |conn: &mut Raw| match conn.cmd(&["CLIENT", "LIST"]) {
        Reply::Bulk(text) => String::from_utf8_lossy(&text).lines().count(),
        other => panic!("{other:?}"),
    };
    assert_eq!(lines(&mut t1), 1);
    assert!(lines(&mut ops) >= 2);
    let Reply::Bulk(info) = ops.cmd(&["INFO", "tenants"]) else {
        panic!()
    };
    let info = String::from_utf8_lossy(&info);
    assert!(info.starts_with("# Tenants\r\ndefault:"), "{info}");
    assert!(
        info.contains("\r\nt1:used_memory=0,keys=0,connected_clients=1,"),
        "{info}"
    );
    let Reply::Bulk(info) = t1.cmd(&["INFO", "tenants"]) else {
        panic!()
    };
    assert!(info.is_empty(), "tenants see no other tenant");
    // An admin's FLUSHALL empties every tenant.
    assert_eq!(t1.cmd(&["SET", "k", "v"]), Reply::OK);
    assert_eq!(ops.cmd(&["FLUSHALL"]), Reply::OK);
    assert_eq!(t1.cmd(&["EXISTS", "k"]), Reply::Integer(0));
}

#[test]
fn acl_changes_apply_on_every_core_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &[("t1", "pw1", "")]);
    let server = start(&config);
    let mut admin = login(&server, "default", ADMIN_PASSWORD);
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "t3", "on", ">pw3", "maxkeys=3"]),
        Reply::OK
    );
    // Every core's port accepts the new tenant at once.
    for core in &server.core_addrs {
        let mut conn = Raw::connect(*core);
        assert_eq!(conn.cmd(&["AUTH", "t3", "pw3"]), Reply::OK);
    }
    let mut t3 = login(&server, "t3", "pw3");
    let keys: Vec<String> = (0..3).map(|i| server.key_on_core(i % 2, "t3:")).collect();
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(t3.cmd(&["SET", &format!("{key}{i}"), "v"]), Reply::OK);
    }
    assert_eq!(t3.cmd(&["SET", "one-more", "v"]), Reply::error(OOM));
    let Reply::Array(user) = admin.cmd(&["ACL", "GETUSER", "t3"]) else {
        panic!("GETUSER")
    };
    assert_eq!(user[0], bulk("flags"));
    assert_eq!(
        admin.cmd(&["ACL", "USERS"]),
        Reply::Array(vec![bulk("default"), bulk("t1"), bulk("t3")])
    );
    assert_eq!(admin.cmd(&["ACL", "DELUSER", "t1"]), Reply::Integer(1));
    drop(server);

    let server = start(&config);
    let mut t3 = login(&server, "t3", "pw3");
    assert_eq!(t3.cmd(&["SET", "after-restart", "v"]), Reply::OK);
    let mut conn = server.connect();
    assert_eq!(
        conn.cmd(&["AUTH", "t1", "pw1"]),
        Reply::error("WRONGPASS invalid username-password pair or user is disabled.")
    );
    // Deleting a tenant closes its connections.
    let mut admin = login(&server, "default", ADMIN_PASSWORD);
    assert_eq!(admin.cmd(&["ACL", "DELUSER", "t3"]), Reply::Integer(1));
    t3.send(&["PING"]);
    assert!(
        t3.read_reply().is_none(),
        "a deleted tenant's connection closes"
    );
    assert!(eventually(Duration::from_secs(5), || {
        admin.cmd(&["ACL", "USERS"]) == Reply::Array(vec![bulk("default")])
    }));
}

/// Tenant B runs every command of the table (and every subcommand), with
/// tenant A's key names, A's user name and keyspace-wide arguments, before
/// and after A writes its keys. Each reply B gets must be the same either
/// way; a reply that varies by itself (TIME, INFO...) must at least never
/// carry A's values. A's keys must all survive B's sweep.
#[test]
fn tenant_b_cannot_observe_tenant_a_through_any_command() {
    let dir = tempfile::tempdir().unwrap();
    let server = two_tenants(dir.path());
    let b = login(&server, "t2", "pw2");
    b_sweeps_every_command_past_a(&server, b);
}

/// The same sweep by a tenant made with the line every Redis tutorial
/// shows, `ACL SETUSER b on >pw ~* +@all`: all of the table's commands
/// are its to run, and still none of them reaches tenant A — not A's keys,
/// nor A's password and rules, nor A's functions — nor the server.
#[test]
fn a_plus_all_tenant_cannot_observe_or_change_tenant_a_through_any_command() {
    let dir = tempfile::tempdir().unwrap();
    let server = two_tenants(dir.path());
    let mut admin = login(&server, "default", ADMIN_PASSWORD);
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "b", "on", ">pw", "~*", "+@all"]),
        Reply::OK
    );
    let b = login(&server, "b", "pw");
    b_sweeps_every_command_past_a(&server, b);
}

/// The sweep of [`tenant_b_cannot_observe_tenant_a_through_any_command`]:
/// B is logged in, A is `t1`.
fn b_sweeps_every_command_past_a(server: &TestServer, mut b: Raw) {
    let mut a = login(server, "t1", "pw1");
    let mut admin = login(server, "default", ADMIN_PASSWORD);
    // Every command goes into the slow log, A's writes of the marker too:
    // B's `SLOWLOG GET` must show none of them. (With the default 10 ms
    // threshold, whether one of B's own probes lands there depends on the
    // machine's speed.)
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        Reply::OK
    );
    let lib = "#!js name=alib\nkiln.registerFunction('f', () => 'a');";
    assert_eq!(a.cmd(&["FUNCTION", "LOAD", lib]), bulk("alib"));
    let a_functions = a.cmd(&["FUNCTION", "LIST", "WITHCODE"]);
    let a_user = admin.cmd(&["ACL", "GETUSER", "t1"]);
    let k0 = server.key_on_core(0, "secret:");
    let k1 = server.key_on_core(1, "secret:");
    let probes = probes(&k0, &k1);

    let sweep = |b: &mut Raw| -> Vec<Reply> {
        probes
            .iter()
            .map(|probe| {
                assert_eq!(b.cmd(&["FLUSHDB"]), Reply::OK);
                let args: Vec<&str> = probe.iter().map(String::as_str).collect();
                without_clocks(b.cmd(&args))
            })
            .collect()
    };
    let before = sweep(&mut b);
    let again = sweep(&mut b);
    let marker = "value-of-tenant-a";
    assert_eq!(a.cmd(&["SET", &k0, &format!("{marker}:0")]), Reply::OK);
    assert_eq!(
        a.cmd(&["SET", &k1, &format!("{marker}:1"), "EX", "1000"]),
        Reply::OK
    );
    for i in 0..20 {
        assert_eq!(
            a.cmd(&["SET", &format!("secret-more:{i}"), marker]),
            Reply::OK
        );
    }
    let after = sweep(&mut b);

    for (i, probe) in probes.iter().enumerate() {
        if before[i] == again[i] {
            assert_eq!(after[i], before[i], "{probe:?} saw tenant A's keys");
        } else {
            let text = format!("{:?}", after[i]);
            assert!(!text.contains(marker), "{probe:?} leaked A's value: {text}");
        }
    }
    let Reply::Bulk(keyspace) = b.cmd(&["INFO", "keyspace"]) else {
        panic!()
    };
    assert_eq!(&keyspace[..], b"# Keyspace\r\n");
    assert_eq!(a.cmd(&["DBSIZE"]), Reply::Integer(22));
    assert_eq!(a.cmd(&["GET", &k0]), bulk(&format!("{marker}:0")));
    let Reply::Integer(ttl) = a.cmd(&["TTL", &k1]) else {
        panic!()
    };
    assert!(ttl > 900, "A's deadline survived B's sweep");
    assert_eq!(a.cmd(&["FUNCTION", "LIST", "WITHCODE"]), a_functions);
    assert_eq!(admin.cmd(&["ACL", "GETUSER", "t1"]), a_user);
    let mut again = server.connect();
    assert_eq!(again.cmd(&["AUTH", "t1", "pw1"]), Reply::OK, "A's password");
    assert_eq!(admin.cmd(&["PING"]), Reply::status("PONG"), "the server");
}

/// The reply with `CLIENT LIST` / `CLIENT INFO`'s `age=` and `idle=`
/// fields dropped: they tick with the clock, not with anyone's keys.
fn without_clocks(reply: Reply) -> Reply {
    let Reply::Bulk(text) = &reply else {
        return reply;
    };
    let text = String::from_utf8_lossy(text);
    if !text.contains(" age=") {
        return reply;
    }
    let kept: Vec<&str> = text
        .split(' ')
        .filter(|field| !field.starts_with("age=") && !field.starts_with("idle="))
        .collect();
    Reply::bulk_from(kept.join(" "))
}

/// Every command and subcommand in the table, each with argument lists
/// that name A's keys (on both cores), A's user name (`t1`: ACL SETUSER,
/// DELUSER, GETUSER, DRYRUN...) or the whole keyspace. Commands that
/// change the connection itself (QUIT, RESET, AUTH, HELLO) are left out:
/// they touch no keyspace.
fn probes(k0: &str, k1: &str) -> Vec<Vec<String>> {
    let tails: Vec<Vec<&str>> = vec![
        vec![],
        vec![k0],
        vec![k1],
        vec![k0, k1],
        vec![k1, k0],
        vec![k0, "v"],
        vec![k0, "0"],
        vec![k0, "0", "-1"],
        vec![k0, k1, "0"],
        vec![k0, "v", k1, "v"],
        vec!["*"],
        vec!["secret:*"],
        vec!["0"],
        vec!["0", "MATCH", "*", "COUNT", "1000"],
        vec!["t1"],
        vec!["t1", "on", "nopass", "resetpass", ">mine"],
        vec!["t1", "get", k0],
    ];
    let mut names: Vec<(&str, bool)> = Vec::new();
    for spec in kiln::commands::table() {
        let blocking = spec.flags.has(kiln::commands::Flags::BLOCKING);
        names.push((spec.name, blocking));
        names.extend(spec.subcommands.iter().map(|s| (s.name, false)));
    }
    names
        .into_iter()
        // Commands that change the connection's mode, or answer once per
        // argument, are swept by their own tests: MULTI
        // (tests/transactions.rs: a tenant's transactions and watches),
        // the subscriptions (tests/pubsub.rs: channels) and MONITOR
        // (tests/operating.rs: a tenant's monitor sees only its own).
        .filter(|(n, _)| {
            let subscription = n.ends_with("subscribe");
            !subscription
                && !matches!(
                    *n,
                    "quit" | "reset" | "auth" | "hello" | "multi" | "monitor"
                )
        })
        .flat_map(|(name, blocking)| {
            tails.iter().map(move |tail| {
                // A blocking pop waits 10 ms at most, never for ever.
                let timeout = blocking.then_some("0.01");
                name.split('|')
                    .chain(tail.iter().copied())
                    .chain(timeout)
                    .map(String::from)
                    .collect()
            })
        })
        .collect()
}

/// Storage functions run as the tenant that calls them: its libraries, its
/// keyspace (also when the main port forwards the call to another core) and
/// its memory quota.
#[test]
fn functions_run_as_the_calling_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let server = two_tenants(dir.path());
    let mut a = login(&server, "t1", "pw1");
    let mut b = login(&server, "t2", "pw2");
    let lib = "#!js name=tlib\n\
        kiln.registerFunction('put', (keys, args) => { kiln.put(keys[0], args[0]); return 'OK'; });\n\
        kiln.registerFunction('get', (keys) => kiln.getString(keys[0]), { flags: ['no-writes'] });";
    assert_eq!(a.cmd(&["FUNCTION", "LOAD", lib]), bulk("tlib"));
    assert_eq!(
        b.cmd(&["FCALL", "get", "1", "k"]),
        Reply::error("ERR Function not found")
    );
    assert_eq!(b.cmd(&["FUNCTION", "LIST"]), Reply::Array(Vec::new()));
    assert_eq!(b.cmd(&["FUNCTION", "LOAD", lib]), bulk("tlib"));
    for core in 0..2 {
        let key = server.key_on_core(core, "fk:");
        assert_eq!(a.cmd(&["FCALL", "put", "1", &key, "from-a"]), bulk("OK"));
        assert_eq!(a.cmd(&["GET", &key]), bulk("from-a"));
        assert_eq!(b.cmd(&["GET", &key]), Reply::Nil);
        assert_eq!(b.cmd(&["FCALL_RO", "get", "1", &key]), Reply::Nil);
        assert_eq!(a.cmd(&["FCALL_RO", "get", "1", &key]), bulk("from-a"));
    }
    let value = "x".repeat(1000);
    let refused =
        (0..100).find_map(
            |i| match a.cmd(&["FCALL", "put", "1", &format!("q{i}"), &value]) {
                Reply::Bulk(_) => None,
                other => Some(other),
            },
        );
    let Some(Reply::Error(text)) = refused else {
        panic!("{refused:?}")
    };
    assert!(text.starts_with("OOM command not allowed"), "{text}");
    assert_eq!(b.cmd(&["FCALL", "put", "1", "b-key", &value]), bulk("OK"));
    // A tenant deleted and created again under its name starts empty.
    let mut admin = login(&server, "default", ADMIN_PASSWORD);
    assert_eq!(admin.cmd(&["ACL", "DELUSER", "t2"]), Reply::Integer(1));
    assert_eq!(
        admin.cmd(&["ACL", "SETUSER", "t2", "on", ">pw2"]),
        Reply::OK
    );
    let mut b = login(&server, "t2", "pw2");
    assert_eq!(b.cmd(&["FUNCTION", "LIST"]), Reply::Array(Vec::new()));
    assert_eq!(b.cmd(&["GET", "b-key"]), Reply::Nil);
}

/// One tenant's endless loop is stopped at that tenant's own CPU budget
/// while another tenant, served by the other core, keeps getting replies;
/// and no function can reach another tenant's keys, not even through
/// `kiln.call`.
#[test]
fn a_tenants_runaway_function_stops_at_its_budget_and_cannot_reach_others() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&config(
        dir.path(),
        &[
            ("t1", "pw1", "limits = { function-cpu-budget = 300 }"),
            ("t2", "pw2", ""),
        ],
    ));
    let mut a = login(&server, "t1", "pw1");
    let lib = "#!js name=lib\n\
        kiln.registerFunction('spin', () => { for (;;) {} });\n\
        kiln.registerFunction('peek', (keys) => [kiln.getString(keys[0]), kiln.call('GET', keys[0]), kiln.exists(keys[0])]);";
    assert_eq!(a.cmd(&["FUNCTION", "LOAD", lib]), bulk("lib"));
    let mut b = login(&server, "t2", "pw2");
    assert_eq!(b.cmd(&["FUNCTION", "LOAD", lib]), bulk("lib"));

    let secret = server.key_on_core(1, "secret:");
    assert_eq!(a.cmd(&["SET", &secret, "a-only"]), Reply::OK);
    let seen_by_b = b.cmd(&["FCALL", "peek", "1", &secret]);
    assert_eq!(
        seen_by_b,
        Reply::Array(vec![Reply::Nil, Reply::Nil, Reply::Nil])
    );
    let seen_by_a = a.cmd(&["FCALL", "peek", "1", &secret]);
    assert_eq!(
        seen_by_a,
        Reply::Array(vec![bulk("a-only"), bulk("a-only"), Reply::Integer(1)])
    );

    let spin_key = server.key_on_core(0, "spin:");
    let mut other = Raw::connect(server.core_addrs[1]);
    assert_eq!(other.cmd(&["AUTH", "t2", "pw2"]), Reply::OK);
    let key = server.key_on_core(1, "live:");
    let spinner = login(&server, "t1", "pw1");
    let (reply, done, replies) = common::served_during(
        spinner,
        &["FCALL", "spin", "1", &spin_key],
        &mut other,
        &key,
    );
    assert_eq!(
        reply,
        Reply::error("ERR Function 'spin' was terminated: it ran past its 300 ms CPU budget")
    );
    let window = done - Duration::from_millis(200);
    assert!(
        replies.iter().any(|at| *at > window),
        "tenant t2 waited on t1's loop"
    );
    // t2's budget is the server default, not t1's.
    let mut admin = login(&server, "default", ADMIN_PASSWORD);
    let Reply::Array(fields) = admin.cmd(&["ACL", "GETUSER", "t1"]) else {
        panic!("getuser")
    };
    assert!(format!("{fields:?}").contains("function-cpu-budget"));
}
