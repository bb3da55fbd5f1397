//! Tenant powers end to end: command rules (`+@all`, `-@all +@read`,
//! `+get`, `-@dangerous`, `+cmd|sub`...) choose which commands a tenant
//! may run in its own keyspace, and nothing more; acting on other tenants
//! or on the server takes the operator power, which only `default`, config
//! `operator = true` and an operator's `+@operator` give. `ACL LOG` and
//! `ACL DRYRUN` as Redis 7.2 has them, per tenant; rules and powers
//! surviving a restart through the tenant file.

mod common;

use std::path::Path;

use common::{Raw, TestServer, bulk};
use kiln::tenant::{digest, hex};
use kiln_net::Reply;

use common::{ADMIN_PASSWORD, login, start_with_config, tenant_config};

fn config(dir: &Path, tenants: &[(&str, &str, &str)]) -> String {
    common::tenant_config(dir, tenants)
}

fn start(config: &str) -> TestServer {
    common::start_with_config(config)
}

/// A server with tenant `t1` (password `pw1`) from the config file, and the
/// `default` user logged in.
fn server_with_t1(dir: &Path) -> (TestServer, Raw) {
    let server = start(&config(dir, &[("t1", "pw1", "")]));
    let admin = login(&server, "default", ADMIN_PASSWORD);
    (server, admin)
}

/// Creates `name` (password `pw`) with `rules`, as the `default` user.
fn setuser(admin: &mut Raw, name: &str, rules: &[&str]) {
    let mut args = vec!["ACL", "SETUSER", name, "on", ">pw"];
    args.extend_from_slice(rules);
    assert_eq!(admin.cmd(&args), Reply::OK, "{args:?}");
}

fn noperm(user: &str, command: &str) -> Reply {
    Reply::Error(
        format!("NOPERM User {user} has no permissions to run the '{command}' command").into(),
    )
}

/// One field of a RESP2 map reply (a flat array of names and values).
fn field(reply: &Reply, name: &str) -> Reply {
    let Reply::Array(items) = reply else {
        panic!("not a map: {reply:?}")
    };
    let at = items
        .chunks(2)
        .position(|pair| pair[0] == bulk(name))
        .unwrap_or_else(|| panic!("no {name} in {reply:?}"));
    items[2 * at + 1].clone()
}

fn text(reply: &Reply) -> String {
    match reply {
        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Reply::Status(s) | Reply::Error(s) => s.to_string(),
        other => panic!("not text: {other:?}"),
    }
}

fn entries(reply: Reply) -> Vec<Reply> {
    let Reply::Array(items) = reply else {
        panic!("not an array: {reply:?}")
    };
    items
}

#[test]
fn a_plus_all_tenants_flushall_and_flushdb_empty_only_its_own_keyspace() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut admin) = server_with_t1(dir.path());
    setuser(&mut admin, "app", &["~*", "+@all"]);
    let mut t1 = login(&server, "t1", "pw1");
    let mut app = login(&server, "app", "pw");
    for core in 0..2 {
        let key = server.key_on_core(core, "k:");
        for conn in [&mut t1, &mut app, &mut admin] {
            assert_eq!(conn.cmd(&["SET", &key, "v"]), Reply::OK);
        }
    }
    assert_eq!(app.cmd(&["FLUSHALL"]), Reply::OK);
    assert_eq!(app.cmd(&["DBSIZE"]), Reply::Integer(0));
    assert_eq!(t1.cmd(&["DBSIZE"]), Reply::Integer(2), "t1's keys");
    assert_eq!(admin.cmd(&["DBSIZE"]), Reply::Integer(2), "default's keys");
    assert_eq!(app.cmd(&["SET", "again", "v"]), Reply::OK);
    assert_eq!(app.cmd(&["FLUSHDB", "SYNC"]), Reply::OK);
    assert_eq!(app.cmd(&["DBSIZE"]), Reply::Integer(0));
    assert_eq!(t1.cmd(&["DBSIZE"]), Reply::Integer(2));
}

#[test]
fn a_plus_all_tenant_manages_no_user_not_even_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut admin) = server_with_t1(dir.path());
    setuser(
        &mut admin,
        "app",
        &["~*", "+@all", "+@admin", "allcommands"],
    );
    let mut app = login(&server, "app", "pw");
    let refused: &[(&[&str], &str)] = &[
        (&["ACL", "LIST"], "acl|list"),
        (&["ACL", "USERS"], "acl|users"),
        (&["ACL", "GETUSER", "t1"], "acl|getuser"),
        (&["ACL", "GETUSER", "app"], "acl|getuser"),
        (
            &["ACL", "SETUSER", "t1", "resetpass", ">mine"],
            "acl|setuser",
        ),
        (&["ACL", "SETUSER", "app", "+@operator"], "acl|setuser"),
        (
            &["ACL", "SETUSER", "new", "on", ">x", "+@all"],
            "acl|setuser",
        ),
        (&["ACL", "DELUSER", "t1"], "acl|deluser"),
        (&["ACL", "DRYRUN", "t1", "get", "k"], "acl|dryrun"),
    ];
    for (request, command) in refused {
        assert_eq!(app.cmd(request), noperm("app", command), "{request:?}");
    }
    assert_eq!(app.cmd(&["ACL", "WHOAMI"]), bulk("app"));
    let mut t1 = server.connect();
    assert_eq!(t1.cmd(&["AUTH", "t1", "pw1"]), Reply::OK, "t1's password");
    assert_eq!(t1.cmd(&["AUTH", "t1", "mine"]), Reply::error(WRONGPASS));
    let user = admin.cmd(&["ACL", "GETUSER", "app"]);
    assert_eq!(field(&user, "commands"), bulk("+@all"), "no power gained");
    assert_eq!(
        admin.cmd(&["ACL", "USERS"]),
        Reply::Array(vec![bulk("app"), bulk("default"), bulk("t1")])
    );
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

#[test]
fn a_plus_all_tenant_has_no_power_over_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut admin) = server_with_t1(dir.path());
    setuser(&mut admin, "app", &["~*", "+@all"]);
    let mut app = login(&server, "app", "pw");
    let refused: &[(&[&str], &str)] = &[
        (&["CONFIG", "SET", "maxmemory", "1"], "config|set"),
        (&["CONFIG", "GET", "requirepass"], "config|get"),
        (&["CONFIG", "RESETSTAT"], "config|resetstat"),
        (&["CONFIG", "REWRITE"], "config|rewrite"),
        (&["SHUTDOWN", "NOSAVE"], "shutdown"),
        (&["DEBUG", "SLEEP", "0"], "debug"),
        (&["CLIENT", "NO-EVICT", "on"], "client|no-evict"),
    ];
    for (request, command) in refused {
        assert_eq!(app.cmd(request), noperm("app", command), "{request:?}");
    }
    assert_eq!(admin.cmd(&["PING"]), Reply::status("PONG"), "still up");
    assert_eq!(
        admin.cmd(&["CONFIG", "GET", "maxmemory"]),
        Reply::Array(vec![bulk("maxmemory"), bulk("0")])
    );
    // What it may run covers its own connections and figures only.
    let Reply::Bulk(clients) = app.cmd(&["CLIENT", "LIST"]) else {
        panic!()
    };
    assert_eq!(String::from_utf8_lossy(&clients).lines().count(), 1);
    assert_eq!(app.cmd(&["INFO", "tenants"]), bulk(""));
    assert!(!app.cmd(&["CONFIG", "HELP"]).is_error());
}

#[test]
fn a_read_only_user_reads_and_gets_redis_noperm_for_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut admin) = server_with_t1(dir.path());
    setuser(&mut admin, "ro", &["~*", "-@all", "+@read"]);
    let mut ro = login(&server, "ro", "pw");
    let (k0, k1) = (server.key_on_core(0, "k:"), server.key_on_core(1, "k:"));
    assert_eq!(ro.cmd(&["GET", &k0]), Reply::Nil);
    assert_eq!(
        ro.cmd(&["MGET", &k0, &k1]),
        Reply::Array(vec![Reply::Nil, Reply::Nil])
    );
    assert_eq!(ro.cmd(&["DBSIZE"]), Reply::Integer(0));
    assert_eq!(ro.cmd(&["EXISTS", &k0, &k1]), Reply::Integer(0));
    assert_eq!(
        ro.cmd(&["SET", &k0, "v"]),
        Reply::error("NOPERM User ro has no permissions to run the 'set' command")
    );
    assert_eq!(ro.cmd(&["MSET", &k0, "v", &k1, "v"]), noperm("ro", "mset"));
    assert_eq!(ro.cmd(&["DEL", &k0]), noperm("ro", "del"));
    assert_eq!(ro.cmd(&["FLUSHALL"]), noperm("ro", "flushall"));
    // Redis exempts only what a connection needs before it is logged in.
    assert_eq!(ro.cmd(&["PING"]), noperm("ro", "ping"));
    assert_eq!(ro.cmd(&["ACL", "WHOAMI"]), noperm("ro", "acl|whoami"));
    assert!(matches!(ro.cmd(&["HELLO", "2"]), Reply::Array(_)));
    assert_eq!(ro.cmd(&["AUTH", "ro", "pw"]), Reply::OK);
    let user = admin.cmd(&["ACL", "GETUSER", "ro"]);
    assert_eq!(field(&user, "commands"), bulk("-@all +@read"));
    assert_eq!(ro.cmd(&["RESET"]), Reply::status("RESET"));
}

#[test]
fn command_and_subcommand_rules_apply_left_to_right() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut admin) = server_with_t1(dir.path());
    // A new user given command rules starts from Redis's `-@all`.
    setuser(&mut admin, "g", &["+get"]);
    let mut g = login(&server, "g", "pw");
    assert_eq!(g.cmd(&["GET", "k"]), Reply::Nil);
    assert_eq!(g.cmd(&["EXISTS", "k"]), noperm("g", "exists"));
    assert_eq!(g.cmd(&["SET", "k", "v"]), noperm("g", "set"));
    let user = admin.cmd(&["ACL", "GETUSER", "g"]);
    assert_eq!(field(&user, "commands"), bulk("-@all +get"));

    setuser(
        &mut admin,
        "c",
        &["-@all", "+client|id", "+@connection", "-ping"],
    );
    let mut c = login(&server, "c", "pw");
    assert!(matches!(c.cmd(&["CLIENT", "ID"]), Reply::Integer(_)));
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), Reply::Nil);
    assert_eq!(c.cmd(&["ECHO", "x"]), bulk("x"));
    assert_eq!(c.cmd(&["PING"]), noperm("c", "ping"));
    assert_eq!(c.cmd(&["GET", "k"]), noperm("c", "get"));

    setuser(
        &mut admin,
        "s",
        &["+@all", "-select", "+select|0", "-client|list"],
    );
    let mut s = login(&server, "s", "pw");
    assert_eq!(s.cmd(&["SELECT", "0"]), Reply::OK);
    assert_eq!(s.cmd(&["SELECT", "1"]), noperm("s", "select"));
    assert_eq!(s.cmd(&["CLIENT", "LIST"]), noperm("s", "client|list"));
    assert!(matches!(s.cmd(&["CLIENT", "ID"]), Reply::Integer(_)));
    let user = admin.cmd(&["ACL", "GETUSER", "s"]);
    assert_eq!(
        field(&user, "commands"),
        bulk("+@all -select +select|0 -client|list")
    );
    // A rule for a server power allows the command; the power stays apart.
    setuser(&mut admin, "cg", &["-@all", "+config|get"]);
    let mut cg = login(&server, "cg", "pw");
    assert_eq!(
        cg.cmd(&["CONFIG", "GET", "maxmemory"]),
        noperm("cg", "config|get")
    );

    let bad = |admin: &mut Raw, rule: &str, why: &str| {
        assert_eq!(
            admin.cmd(&["ACL", "SETUSER", "g", rule]),
            Reply::Error(format!("ERR Error in ACL SETUSER modifier '{rule}': {why}").into())
        );
    };
    bad(
        &mut admin,
        "+nosuch",
        "Unknown command or category name in ACL",
    );
    bad(
        &mut admin,
        "-@nosuch",
        "Unknown command or category name in ACL",
    );
    bad(
        &mut admin,
        "+config|get|x",
        "Allowing first-arg of a subcommand is not supported",
    );
    let user = admin.cmd(&["ACL", "GETUSER", "g"]);
    assert_eq!(
        field(&user, "commands"),
        bulk("-@all +get"),
        "all or nothing"
    );
}

#[test]
fn minus_dangerous_keeps_the_rest_and_later_rules_widen_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut admin) = server_with_t1(dir.path());
    setuser(&mut admin, "safe", &["~*", "+@all", "-@dangerous"]);
    let mut safe = login(&server, "safe", "pw");
    assert_eq!(safe.cmd(&["SET", "k", "v"]), Reply::OK);
    assert_eq!(safe.cmd(&["GET", "k"]), bulk("v"));
    assert_eq!(safe.cmd(&["FLUSHALL"]), noperm("safe", "flushall"));
    assert_eq!(safe.cmd(&["KEYS", "*"]), noperm("safe", "keys"));
    assert_eq!(safe.cmd(&["INFO"]), noperm("safe", "info"));
    assert_eq!(admin.cmd(&["ACL", "SETUSER", "safe", "+info"]), Reply::OK);
    assert!(matches!(safe.cmd(&["INFO", "keyspace"]), Reply::Bulk(_)));
    let user = admin.cmd(&["ACL", "GETUSER", "safe"]);
    assert_eq!(field(&user, "commands"), bulk("+@all -@dangerous +info"));
}

/// The names and order of an `ACL LOG` entry's fields in Redis 7.2.
const LOG_FIELDS: [&str; 10] = [
    "count",
    "reason",
    "context",
    "object",
    "username",
    "age-seconds",
    "client-info",
    "entry-id",
    "timestamp-created",
    "timestamp-last-updated",
];

#[test]
fn acl_log_records_denials_and_failed_auth_for_their_own_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut admin) = server_with_t1(dir.path());
    setuser(&mut admin, "ro", &["~*", "-@all", "+@read", "+acl|log"]);
    let mut ro = login(&server, "ro", "pw");
    let mut t1 = login(&server, "t1", "pw1");
    assert_eq!(ro.cmd(&["ACL", "LOG"]), Reply::Array(Vec::new()));
    assert_eq!(ro.cmd(&["SET", "k", "v"]), noperm("ro", "set"));
    assert_eq!(ro.cmd(&["SET", "k", "w"]), noperm("ro", "set"));
    assert_eq!(ro.cmd(&["DEL", "k"]), noperm("ro", "del"));
    assert_eq!(ro.cmd(&["AUTH", "t1", "guess"]), Reply::error(WRONGPASS));
    assert_eq!(
        t1.cmd(&["CONFIG", "SET", "timeout", "1"]),
        noperm("t1", "config|set")
    );
    let mut stranger = server.connect();
    assert_eq!(
        stranger.cmd(&["AUTH", "ro", "guess"]),
        Reply::error(WRONGPASS)
    );

    let log = entries(ro.cmd(&["ACL", "LOG"]));
    assert_eq!(log.len(), 3, "ro's own entries only: {log:?}");
    let Reply::Array(first) = &log[0] else {
        panic!()
    };
    let names: Vec<Reply> = first.iter().step_by(2).cloned().collect();
    assert_eq!(names, LOG_FIELDS.map(bulk).to_vec());
    let summary = |e: &Reply| {
        (
            field(e, "count"),
            text(&field(e, "reason")),
            text(&field(e, "context")),
            text(&field(e, "object")),
            text(&field(e, "username")),
        )
    };
    let one = Reply::Integer(1);
    assert_eq!(
        summary(&log[0]),
        (
            one.clone(),
            "auth".into(),
            "toplevel".into(),
            "AUTH".into(),
            "t1".into()
        )
    );
    assert_eq!(
        summary(&log[1]),
        (
            one,
            "command".into(),
            "toplevel".into(),
            "del".into(),
            "ro".into()
        )
    );
    assert_eq!(
        summary(&log[2]),
        (
            Reply::Integer(2),
            "command".into(),
            "toplevel".into(),
            "set".into(),
            "ro".into()
        ),
        "identical denials group"
    );
    let set = &log[2];
    let age: f64 = text(&field(set, "age-seconds")).parse().unwrap();
    assert!((0.0..60.0).contains(&age), "{age}");
    let info = text(&field(set, "client-info"));
    assert!(
        info.contains(" cmd=set ") && info.contains(" user=ro "),
        "{info}"
    );
    let (Reply::Integer(created), Reply::Integer(updated)) = (
        field(set, "timestamp-created"),
        field(set, "timestamp-last-updated"),
    ) else {
        panic!()
    };
    assert!(created > 1_600_000_000_000 && updated >= created);
    let ids: Vec<Reply> = log.iter().map(|e| field(e, "entry-id")).collect();
    assert_eq!(ids, [2, 1, 0].map(Reply::Integer).to_vec(), "ro's own ids");
    assert_eq!(entries(ro.cmd(&["ACL", "LOG", "1"])).len(), 1);
    assert_eq!(
        ro.cmd(&["ACL", "LOG", "x"]),
        Reply::error("ERR value is not an integer or out of range")
    );

    // The operator sees everyone's, the stranger's failed AUTH included.
    let all = entries(admin.cmd(&["ACL", "LOG"]));
    let objects: Vec<(String, String)> = all
        .iter()
        .map(|e| (text(&field(e, "object")), text(&field(e, "username"))))
        .collect();
    assert_eq!(
        objects,
        [
            ("AUTH", "ro"),
            ("config|set", "t1"),
            ("AUTH", "t1"),
            ("del", "ro"),
            ("set", "ro")
        ]
        .map(|(o, u)| (o.to_string(), u.to_string()))
        .to_vec()
    );
    assert_eq!(ro.cmd(&["ACL", "LOG", "RESET"]), Reply::OK);
    assert_eq!(ro.cmd(&["ACL", "LOG"]), Reply::Array(Vec::new()));
    assert_eq!(entries(admin.cmd(&["ACL", "LOG"])).len(), 2, "others' stay");
    assert_eq!(admin.cmd(&["ACL", "LOG", "RESET"]), Reply::OK);
    assert_eq!(admin.cmd(&["ACL", "LOG"]), Reply::Array(Vec::new()));
}

#[test]
fn acl_dryrun_answers_for_oneself_and_for_anyone_to_an_operator() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut admin) = server_with_t1(dir.path());
    setuser(&mut admin, "ro", &["~*", "-@all", "+@read", "+acl|dryrun"]);
    let mut ro = login(&server, "ro", "pw");
    assert_eq!(ro.cmd(&["ACL", "DRYRUN", "ro", "GET", "k"]), Reply::OK);
    assert_eq!(
        ro.cmd(&["ACL", "DRYRUN", "ro", "SET", "k", "v"]),
        bulk("User ro has no permissions to run the 'set' command")
    );
    assert_eq!(
        ro.cmd(&["ACL", "DRYRUN", "t1", "GET", "k"]),
        noperm("ro", "acl|dryrun")
    );
    assert_eq!(
        ro.cmd(&["ACL", "DRYRUN", "nobody", "GET", "k"]),
        noperm("ro", "acl|dryrun"),
        "a tenant does not learn who exists"
    );
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "ro", "set", "k", "v"]),
        bulk("User ro has no permissions to run the 'set' command")
    );
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "t1", "set", "k", "v"]),
        Reply::OK
    );
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "t1", "config", "set", "timeout", "1"]),
        bulk("User t1 has no permissions to run the 'config|set' command"),
        "t1 may run every command, but has no power over the server"
    );
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "default", "shutdown"]),
        Reply::OK
    );
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "nobody", "get", "k"]),
        Reply::error("ERR User 'nobody' not found")
    );
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "ro", "nosuch"]),
        Reply::error("ERR Command 'nosuch' not found")
    );
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "ro", "config", "nosuch"]),
        Reply::error("ERR Command 'config' not found")
    );
    assert_eq!(
        admin.cmd(&["ACL", "DRYRUN", "ro", "get"]),
        Reply::error("ERR wrong number of arguments for 'get' command")
    );
    // The dry run ran nothing.
    assert_eq!(admin.cmd(&["DBSIZE"]), Reply::Integer(0));
}

#[test]
fn operators_come_from_the_config_or_from_another_operator() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&config(
        dir.path(),
        &[
            ("t1", "pw1", ""),
            ("ops", "opspw", "operator = true"),
            ("legacy", "legacypw", "admin = true"),
            (
                "narrow",
                "narrowpw",
                "operator = true\ncommands = \"-@all +@read +config\"",
            ),
        ],
    ));
    let mut t1 = login(&server, "t1", "pw1");
    assert_eq!(t1.cmd(&["SET", "k", "v"]), Reply::OK);
    for (name, password) in [("ops", "opspw"), ("legacy", "legacypw")] {
        let mut op = login(&server, name, password);
        assert_eq!(
            op.cmd(&["CONFIG", "SET", "timeout", "0"]),
            Reply::OK,
            "{name}"
        );
        assert!(
            matches!(op.cmd(&["ACL", "LIST"]), Reply::Array(_)),
            "{name}"
        );
    }
    let mut narrow = login(&server, "narrow", "narrowpw");
    assert_eq!(
        narrow.cmd(&["CONFIG", "GET", "timeout"]),
        Reply::Array(vec![bulk("timeout"), bulk("0")])
    );
    assert_eq!(
        narrow.cmd(&["ACL", "LIST"]),
        noperm("narrow", "acl|list"),
        "its rules"
    );

    let mut ops = login(&server, "ops", "opspw");
    assert_eq!(ops.cmd(&["ACL", "SETUSER", "t1", "+@operator"]), Reply::OK);
    assert!(matches!(t1.cmd(&["ACL", "USERS"]), Reply::Array(_)));
    let user = ops.cmd(&["ACL", "GETUSER", "t1"]);
    assert_eq!(field(&user, "commands"), bulk("+@all +@operator"));
    assert_eq!(ops.cmd(&["ACL", "SETUSER", "t1", "-@operator"]), Reply::OK);
    assert_eq!(t1.cmd(&["ACL", "USERS"]), noperm("t1", "acl|users"));
    // An operator's FLUSHALL empties every tenant.
    assert_eq!(ops.cmd(&["FLUSHALL"]), Reply::OK);
    assert_eq!(t1.cmd(&["EXISTS", "k"]), Reply::Integer(0));
}

#[test]
fn rules_and_powers_survive_a_restart_in_the_tenant_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &[("t1", "pw1", "")]);
    let server = start(&config);
    let mut admin = login(&server, "default", ADMIN_PASSWORD);
    setuser(&mut admin, "ro", &["~*", "-@all", "+@read"]);
    setuser(&mut admin, "ops", &["+@operator"]);
    setuser(
        &mut admin,
        "mixed",
        &["+@all", "-@dangerous", "+info", "-select", "+select|0"],
    );
    let described = |admin: &mut Raw| {
        ["t1", "ro", "ops", "mixed"]
            .map(|name| field(&admin.cmd(&["ACL", "GETUSER", name]), "commands"))
    };
    let before = described(&mut admin);
    assert_eq!(
        before,
        [
            "+@all",
            "-@all +@read",
            "+@all +@operator",
            "+@all -@dangerous +info -select +select|0"
        ]
        .map(bulk)
    );
    drop(server);
    let file = std::fs::read_to_string(dir.path().join("tenants.toml")).unwrap();
    assert!(file.contains("commands = \"-@all +@read\""), "{file}");
    assert!(file.contains("operator = true"), "{file}");

    let server = start(&config);
    let mut admin = login(&server, "default", ADMIN_PASSWORD);
    assert_eq!(described(&mut admin), before);
    let mut ro = login(&server, "ro", "pw");
    assert_eq!(ro.cmd(&["SET", "k", "v"]), noperm("ro", "set"));
    let mut ops = login(&server, "ops", "pw");
    assert_eq!(ops.cmd(&["CONFIG", "SET", "timeout", "0"]), Reply::OK);
    let mut mixed = login(&server, "mixed", "pw");
    assert_eq!(mixed.cmd(&["SELECT", "1"]), noperm("mixed", "select"));
    assert_eq!(mixed.cmd(&["SELECT", "0"]), Reply::OK);
}

/// A tenant file written by older Kiln says `admin = true` for every user
/// given `+@all`. Loaded now, that makes an operator only of a tenant the
/// config file declares one; the others keep their commands, not the power.
#[test]
fn an_old_tenant_files_admin_flag_is_trusted_only_where_the_config_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &[("ops", "opspw", "admin = true")]);
    let old = ["ops", "app"]
        .map(|name| {
            format!(
                "[[tenant]]\nname = \"{name}\"\npasswords = [\"{}\"]\nenabled = true\nadmin = true\n",
                hex(&digest(b"pw"))
            )
        })
        .join("\n");
    std::fs::write(dir.path().join("tenants.toml"), old).unwrap();
    let server = start(&config);
    let mut app = login(&server, "app", "pw");
    assert_eq!(app.cmd(&["SET", "k", "v"]), Reply::OK, "its commands stay");
    assert_eq!(app.cmd(&["ACL", "LIST"]), noperm("app", "acl|list"));
    assert_eq!(app.cmd(&["FLUSHALL"]), Reply::OK);
    let mut ops = login(&server, "ops", "pw");
    assert!(matches!(ops.cmd(&["ACL", "LIST"]), Reply::Array(_)));
}

#[test]
fn acl_cat_lists_redis_categories_and_the_tables_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, mut admin) = server_with_t1(dir.path());
    let Reply::Array(cats) = admin.cmd(&["ACL", "CAT"]) else {
        panic!()
    };
    assert_eq!(cats.len(), 21);
    assert_eq!(
        (&cats[0], &cats[20]),
        (&bulk("keyspace"), &bulk("scripting"))
    );
    let Reply::Array(read) = admin.cmd(&["ACL", "CAT", "READ"]) else {
        panic!()
    };
    assert!(read.contains(&bulk("get")) && !read.contains(&bulk("set")));
    let Reply::Array(list) = admin.cmd(&["ACL", "CAT", "list"]) else {
        panic!()
    };
    assert!(list.contains(&bulk("lpush")) && list.contains(&bulk("blpop")));
    let Reply::Array(stream) = admin.cmd(&["ACL", "CAT", "stream"]) else {
        panic!()
    };
    assert!(stream.contains(&bulk("xadd")) && stream.contains(&bulk("xreadgroup")));
    assert_eq!(
        admin.cmd(&["ACL", "CAT", "Operator"]),
        Reply::error("ERR Unknown category 'Operator'")
    );
}

#[test]
fn a_read_only_users_functions_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let (server, mut admin) = server_with_t1(dir.path());
    setuser(
        &mut admin,
        "ro",
        &["~*", "-@all", "+@read", "+fcall", "+function|load"],
    );
    let mut ro = login(&server, "ro", "pw");
    let library = "#!js name=sneaky\n\
        kiln.registerFunction('write', (keys) => kiln.call('SET', keys[0], 'x'));\n\
        kiln.registerFunction('read', (keys) => kiln.call('GET', keys[0]));";
    assert_eq!(ro.cmd(&["FUNCTION", "LOAD", library]), bulk("sneaky"));
    assert_eq!(
        ro.cmd(&["FCALL", "write", "1", "k"]),
        noperm("ro", "set"),
        "kiln.call runs under the caller's command rules"
    );
    assert_eq!(ro.cmd(&["FCALL", "read", "1", "k"]), Reply::Nil);
    assert_eq!(ro.cmd(&["EXISTS", "k"]), Reply::Integer(0));
}

#[test]
fn client_kill_closes_connections_on_every_core_and_a_tenant_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let config = tenant_config(dir.path(), &[("t1", "p1", ""), ("t2", "p2", "")]);
    let server = start_with_config(&config);
    let admin = || {
        let mut c = server.connect();
        assert_eq!(c.cmd(&["AUTH", ADMIN_PASSWORD]), Reply::OK);
        c
    };
    let id_of = |c: &mut Raw| match c.cmd(&["CLIENT", "ID"]) {
        Reply::Integer(id) => id.to_string(),
        other => panic!("{other:?}"),
    };
    // An operator reaches connections of every core and tenant.
    let mut op = admin();
    let info = |c: &mut Raw, field: &str| match c.cmd(&["CLIENT", "INFO"]) {
        Reply::Bulk(line) => String::from_utf8_lossy(&line)
            .split_whitespace()
            .find_map(|f| f.strip_prefix(field).map(str::to_owned))
            .unwrap(),
        other => panic!("{other:?}"),
    };
    // One t2 connection served by each core.
    let mut on_core: Vec<Option<Raw>> = vec![None, None];
    for _ in 0..64 {
        let mut c = login(&server, "t2", "p2");
        let core: usize = info(&mut c, "kiln-core=").parse().unwrap();
        on_core[core].get_or_insert(c);
        if on_core.iter().all(Option::is_some) {
            break;
        }
    }
    for c in on_core
        .iter_mut()
        .map(|c| c.as_mut().expect("a connection on each core"))
    {
        let id = id_of(c);
        assert_eq!(op.cmd(&["CLIENT", "KILL", "ID", &id]), Reply::Integer(1));
        assert!(c.is_closed(), "client {id} closed");
    }
    // The old form names a peer address and answers +OK, or an error.
    let mut t1_a = login(&server, "t1", "p1");
    let addr = info(&mut t1_a, "addr=");
    assert_eq!(op.cmd(&["CLIENT", "KILL", &addr]), Reply::OK);
    assert!(t1_a.is_closed());
    assert_eq!(
        op.cmd(&["CLIENT", "KILL", &addr]),
        Reply::Error("ERR No such client".into())
    );
    // A tenant reaches only its own connections, and skips itself unless
    // told not to (then it is closed after the reply).
    let mut t1 = login(&server, "t1", "p1");
    let mut t1_other = login(&server, "t1", "p1");
    let mut t2 = login(&server, "t2", "p2");
    let t2_id = id_of(&mut t2);
    assert_eq!(t1.cmd(&["CLIENT", "KILL", "ID", &t2_id]), Reply::Integer(0));
    assert_eq!(t1.cmd(&["CLIENT", "KILL", "USER", "t2"]), Reply::Integer(0));
    assert_eq!(t2.cmd(&["PING"]), Reply::Status("PONG".into()));
    assert_eq!(
        t1.cmd(&["CLIENT", "KILL", "TYPE", "normal"]),
        Reply::Integer(1)
    );
    assert!(t1_other.is_closed());
    assert_eq!(
        t1.cmd(&["PING"]),
        Reply::Status("PONG".into()),
        "SKIPME yes by default"
    );
    let me = id_of(&mut t1);
    assert_eq!(
        t1.cmd(&["CLIENT", "KILL", "ID", &me, "SKIPME", "no"]),
        Reply::Integer(1)
    );
    assert!(t1.is_closed(), "closed after its reply");
    assert_eq!(t2.cmd(&["PING"]), Reply::Status("PONG".into()));
    // MAXAGE: nobody here is a day old.
    assert_eq!(
        op.cmd(&["CLIENT", "KILL", "MAXAGE", "86400"]),
        Reply::Integer(0)
    );
}

/// The arguments of each `SLOWLOG GET` entry.
fn slow_commands(reply: Reply) -> Vec<Vec<String>> {
    let Reply::Array(entries) = reply else {
        panic!("{reply:?}")
    };
    entries
        .into_iter()
        .map(|entry| match entry {
            Reply::Array(fields) => match &fields[3] {
                Reply::Array(args) => args
                    .iter()
                    .map(|a| match a {
                        Reply::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
                        other => panic!("{other:?}"),
                    })
                    .collect(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn slowlog_entries_belong_to_their_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let config = tenant_config(dir.path(), &[("t1", "p1", ""), ("t2", "p2", "")]);
    let server = start_with_config(&config);
    let mut op = server.connect();
    assert_eq!(op.cmd(&["AUTH", ADMIN_PASSWORD]), Reply::OK);
    assert_eq!(
        op.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        Reply::OK
    );
    let mut t1 = login(&server, "t1", "p1");
    let mut t2 = login(&server, "t2", "p2");
    let big = "x".repeat(200);
    let (k0, k1) = (server.key_on_core(0, "t1-"), server.key_on_core(1, "t1-"));
    assert_eq!(t1.cmd(&["SET", &k0, &big]), Reply::OK);
    assert_eq!(t1.cmd(&["GET", &k1]), Reply::Nil);
    assert_eq!(t2.cmd(&["SET", "t2-key", "v"]), Reply::OK);
    // Newest first, from both cores; only the caller's own.
    let mine = slow_commands(t1.cmd(&["SLOWLOG", "GET", "-1"]));
    let last_two: Vec<&str> = mine.iter().take(2).map(|c| c[0].as_str()).collect();
    assert_eq!(last_two, ["GET", "SET"], "{mine:?}");
    assert!(
        mine.iter().all(|c| !c.contains(&"t2-key".to_string())),
        "{mine:?}"
    );
    let set = mine.iter().find(|c| c[0] == "SET").unwrap();
    assert_eq!(set[2], format!("{}... (72 more bytes)", "x".repeat(128)));
    let everyone = slow_commands(op.cmd(&["SLOWLOG", "GET", "-1"]));
    assert!(everyone.iter().any(|c| c.contains(&"t2-key".to_string())));
    assert!(everyone.iter().any(|c| c.contains(&k1)));
    assert_eq!(slow_commands(t1.cmd(&["SLOWLOG", "GET", "1"])).len(), 1);
    // A tenant's RESET drops its own entries only.
    assert_eq!(t1.cmd(&["SLOWLOG", "RESET"]), Reply::OK);
    assert_eq!(t1.cmd(&["SLOWLOG", "LEN"]), Reply::Integer(0));
    let left = slow_commands(op.cmd(&["SLOWLOG", "GET", "-1"]));
    assert!(left.iter().any(|c| c.contains(&"t2-key".to_string())));
    assert!(left.iter().all(|c| !c.contains(&k1)));
    // slowlog-max-len bounds each core's log; -1 turns logging off.
    assert_eq!(
        op.cmd(&["CONFIG", "SET", "slowlog-max-len", "1"]),
        Reply::OK
    );
    for _ in 0..5 {
        for core in 0..2 {
            let key = server.key_on_core(core, "t2-");
            assert_eq!(t2.cmd(&["SET", &key, "v"]), Reply::OK);
        }
    }
    let Reply::Integer(n) = op.cmd(&["SLOWLOG", "LEN"]) else {
        panic!()
    };
    assert!(n <= 2, "one per core at most: {n}");
    assert_eq!(
        op.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]),
        Reply::OK
    );
    assert_eq!(op.cmd(&["SLOWLOG", "RESET"]), Reply::OK);
    assert_eq!(t2.cmd(&["SET", "t2-key", "v"]), Reply::OK);
    assert_eq!(op.cmd(&["SLOWLOG", "LEN"]), Reply::Integer(0));
}
