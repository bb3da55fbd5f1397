//! Keyspace notifications and key triggers against the real server:
//! events of keys on either core reach subscribers on either core, each
//! tenant hears only its own keys and sets its own flags, active expiry
//! publishes `expired`; a trigger runs after a change, its chain stops at
//! the depth limit, a runaway trigger is stopped at its budget while the
//! core keeps serving, triggers belong to their tenant and survive a
//! restart with their library.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{
    Raw, TestServer, bulk, eventually, info_field, login, start_with_config, tenant_config,
};
use kiln_net::Reply;

/// `(channel, payload)` of a pattern message, or `None` for anything else.
fn pmessage(reply: Option<Reply>) -> Option<(String, String)> {
    let Some(Reply::Array(parts)) = reply else {
        return None;
    };
    match parts.as_slice() {
        [
            Reply::Bulk(kind),
            _,
            Reply::Bulk(channel),
            Reply::Bulk(payload),
        ] if &kind[..] == b"pmessage" => Some((
            String::from_utf8_lossy(channel).into_owned(),
            String::from_utf8_lossy(payload).into_owned(),
        )),
        _ => None,
    }
}

fn psubscribe(conn: &mut Raw, pattern: &str) {
    assert_eq!(
        conn.cmd(&["PSUBSCRIBE", pattern]),
        Reply::Array(vec![bulk("psubscribe"), bulk(pattern), Reply::Integer(1)])
    );
}

fn set_flags(conn: &mut Raw, flags: &str) {
    assert_eq!(
        conn.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]),
        Reply::OK
    );
}

#[test]
fn events_of_keys_on_every_core_reach_subscribers_on_every_core() {
    let server = TestServer::start();
    let mut client = server.connect();
    set_flags(&mut client, "KE$g");
    let mut subscribers = [server.connect_on_core(0), server.connect_on_core(1)];
    for s in &mut subscribers {
        psubscribe(s, "__keyevent@0__:*");
    }
    let keys = [server.key_on_core(0, "k"), server.key_on_core(1, "k")];
    assert_eq!(
        client.cmd(&["MSET", &keys[0], "1", &keys[1], "2"]),
        Reply::OK
    );
    assert_eq!(
        client.cmd(&["DEL", &keys[0], &keys[1], "missing"]),
        Reply::Integer(2)
    );
    let want: BTreeSet<(String, String)> = keys
        .iter()
        .flat_map(|k| {
            [
                ("__keyevent@0__:set".to_string(), k.clone()),
                ("__keyevent@0__:del".to_string(), k.clone()),
            ]
        })
        .collect();
    for s in &mut subscribers {
        let got: BTreeSet<(String, String)> =
            (0..4).filter_map(|_| pmessage(s.read_reply())).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn each_tenant_hears_only_its_own_keys_and_sets_its_own_flags() {
    let dir = tempfile::tempdir().unwrap();
    let config = tenant_config(dir.path(), &[("t1", "p1", ""), ("t2", "p2", "")]);
    let server = start_with_config(&config);
    let mut t1 = login(&server, "t1", "p1");
    let mut t2 = login(&server, "t2", "p2");
    // A tenant sets and reads its own flags; the server's parameters stay
    // an operator's.
    set_flags(&mut t1, "KEA");
    assert_eq!(
        t1.cmd(&["CONFIG", "GET", "notify-keyspace-events"]),
        Reply::Array(vec![bulk("notify-keyspace-events"), bulk("AKE")])
    );
    assert_eq!(
        t2.cmd(&["CONFIG", "GET", "notify-keyspace-events"]),
        Reply::Array(vec![bulk("notify-keyspace-events"), bulk("")])
    );
    for refused in [
        &["CONFIG", "SET", "maxmemory", "1"][..],
        &["CONFIG", "GET", "*"],
        &[
            "CONFIG",
            "SET",
            "notify-keyspace-events",
            "KEA",
            "maxmemory",
            "1",
        ],
    ] {
        let reply = t1.cmd(refused);
        assert!(
            matches!(&reply, Reply::Error(e) if e.starts_with("NOPERM")),
            "{refused:?}: {reply:?}"
        );
    }
    let reply = t1.cmd(&["CONFIG", "SET", "notify-keyspace-events", "KEq"]);
    assert_eq!(
        reply,
        Reply::Error(
            "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()
        )
    );
    let mut t1_sub = login(&server, "t1", "p1");
    let mut t2_sub = login(&server, "t2", "p2");
    psubscribe(&mut t1_sub, "__key*__:*");
    psubscribe(&mut t2_sub, "__key*__:*");
    // t2 has no flags: its writes publish nothing, and t1's never reach it.
    assert_eq!(t2.cmd(&["SET", "shared", "2"]), Reply::OK);
    assert_eq!(t1.cmd(&["SET", "shared", "1"]), Reply::OK);
    assert_eq!(
        pmessage(t1_sub.read_reply()),
        Some(("__keyspace@0__:shared".into(), "set".into()))
    );
    assert_eq!(
        pmessage(t1_sub.read_reply()),
        Some(("__keyevent@0__:set".into(), "shared".into()))
    );
    set_flags(&mut t2, "E$");
    assert_eq!(t2.cmd(&["APPEND", "shared", "x"]), Reply::Integer(2));
    assert_eq!(
        pmessage(t2_sub.read_reply()),
        Some(("__keyevent@0__:append".into(), "shared".into())),
        "t2's first message is its own event"
    );
}

#[test]
fn active_expiry_publishes_expired() {
    let server = TestServer::start();
    let mut client = server.connect();
    set_flags(&mut client, "Ex");
    let key = server.key_on_core(1, "session");
    let mut subscriber = server.connect_on_core(0);
    psubscribe(&mut subscriber, "__keyevent@0__:expired");
    assert_eq!(client.cmd(&["SET", &key, "v", "PX", "30"]), Reply::OK);
    // Nobody reads the key again: the core's own expiry cycle finds it.
    assert_eq!(
        pmessage(subscriber.read_reply()),
        Some(("__keyevent@0__:expired".into(), key.clone()))
    );
    assert_eq!(info_field(&mut client, "expired_keys"), 1);
}

/// Loads `code` (a library named `lib`) and checks it loaded.
fn load(conn: &mut Raw, code: &str) {
    let library = format!("#!js name=lib\n{code}");
    assert_eq!(
        conn.cmd(&["FUNCTION", "LOAD", "REPLACE", &library]),
        bulk("lib")
    );
}

const COUNTER: &str = "kiln.registerFunction('noop', () => 1);\n\
    kiln.onKeyEvent({ prefix: 'order:', events: ['set', 'del'] }, (key, event) => {\n\
        kiln.incr(key + ':' + event, 1);\n\
    });";

fn integer(reply: Reply) -> i64 {
    match reply {
        Reply::Bulk(text) => String::from_utf8_lossy(&text).parse().unwrap(),
        Reply::Nil => 0,
        other => panic!("not a number: {other:?}"),
    }
}

#[test]
fn a_trigger_runs_after_each_matching_change_of_its_tenant_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = tenant_config(dir.path(), &[("t1", "p1", ""), ("t2", "p2", "")]);
    let server = start_with_config(&config);
    let mut t1 = login(&server, "t1", "p1");
    let mut t2 = login(&server, "t2", "p2");
    load(&mut t1, COUNTER);
    // The same names in another tenant's keyspace fire nothing of t1's.
    for _ in 0..3 {
        assert_eq!(t2.cmd(&["SET", "order:{7}", "x"]), Reply::OK);
    }
    for tag in ["{1}", "{2}", "{3}"] {
        let key = format!("order:{tag}");
        assert_eq!(t1.cmd(&["SET", &key, "a"]), Reply::OK);
        assert_eq!(t1.cmd(&["SET", &key, "b"]), Reply::OK);
        assert_eq!(t1.cmd(&["DEL", &key]), Reply::Integer(1));
        assert_eq!(t1.cmd(&["GET", &key]), Reply::Nil, "a read fires nothing");
        let count = |c: &mut Raw, event: &str| integer(c.cmd(&["GET", &format!("{key}:{event}")]));
        assert!(eventually(Duration::from_secs(5), || count(&mut t1, "set") == 2));
        assert!(eventually(Duration::from_secs(5), || count(&mut t1, "del") == 1));
    }
    assert_eq!(
        t2.cmd(&["GET", "order:{7}:set"]),
        Reply::Nil,
        "t2 has no triggers"
    );
    assert_eq!(t1.cmd(&["GET", "order:{7}:set"]), Reply::Nil);
    // A key outside the prefix fires nothing.
    assert_eq!(t1.cmd(&["SET", "other:{1}", "a"]), Reply::OK);
    assert_eq!(t1.cmd(&["EXISTS", "other:{1}:set"]), Reply::Integer(0));
    assert_eq!(info_field(&mut t1, "functions_trigger_failures"), 0);
    // Deleting the library stops its triggers.
    assert_eq!(t1.cmd(&["FUNCTION", "DELETE", "lib"]), Reply::OK);
    assert_eq!(t1.cmd(&["SET", "order:{1}", "c"]), Reply::OK);
    assert_eq!(integer(t1.cmd(&["GET", "order:{1}:set"])), 2);
}

#[test]
fn a_trigger_chain_stops_at_the_depth_limit() {
    let server = TestServer::start();
    let mut c = server.connect();
    // Each run changes the key again, which fires the trigger again.
    load(
        &mut c,
        "kiln.onKeyEvent({ prefix: 'chain' }, (key) => { kiln.incr(key, 1); });",
    );
    assert_eq!(c.cmd(&["SET", "chain", "0"]), Reply::OK);
    assert!(eventually(Duration::from_secs(5), || {
        info_field(&mut c, "functions_triggers_dropped") == 1
    }));
    assert_eq!(c.cmd(&["GET", "chain"]), bulk("8"), "depths 1 to 8 ran");
    assert_eq!(info_field(&mut c, "functions_triggers_run"), 8);
}

#[test]
fn a_runaway_trigger_is_stopped_at_its_budget_and_the_core_keeps_serving() {
    let server = TestServer::start_with(&["--function-cpu-budget", "20"]);
    let mut c = server.connect();
    load(
        &mut c,
        "kiln.onKeyEvent({ prefix: 'spin', events: ['set'] }, () => { for (;;) {} });",
    );
    let key = server.key_on_core(1, "spin");
    let mut reader = server.connect_on_core(1);
    assert_eq!(reader.cmd(&["SET", "{spin}", "kept"]), Reply::OK);
    for _ in 0..3 {
        // The client that made the change gets its reply, not the error.
        assert_eq!(c.cmd(&["SET", &key, "1"]), Reply::OK);
        assert_eq!(reader.cmd(&["GET", "{spin}"]), bulk("kept"));
    }
    assert_eq!(info_field(&mut c, "functions_trigger_failures"), 3);
    assert_eq!(info_field(&mut c, "functions_triggers_run"), 3);
}

#[test]
fn triggers_survive_a_restart_with_their_library() {
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let server = TestServer::start_with(&["--dir", dir_arg]);
    let mut c = server.connect();
    load(&mut c, COUNTER);
    assert!(server.stop().success());
    let server = TestServer::start_with(&["--dir", dir_arg]);
    let mut c = server.connect();
    assert_eq!(c.cmd(&["SET", "order:{9}", "a"]), Reply::OK);
    assert!(eventually(Duration::from_secs(5), || {
        integer(c.cmd(&["GET", "order:{9}:set"])) == 1
    }));
}

#[test]
fn a_fan_out_of_triggers_is_held_to_the_tenants_cpu_share() {
    let dir = tempfile::tempdir().unwrap();
    let config = tenant_config(dir.path(), &[("t1", "p1", "")]);
    let server = start_with_config(&config);
    let mut t1 = login(&server, "t1", "p1");
    // Each run writes four keys that fire it again, and spins a little:
    // thousands of runs, far more than the tenant's share of the core.
    load(
        &mut t1,
        "kiln.onKeyEvent({ prefix: '{f}' }, (key) => {\n\
            for (let i = 0; i < 4; i++) kiln.put(key + i, 'x');\n\
            for (let j = 0; j < 1e6; j++) {}\n\
        });",
    );
    assert_eq!(t1.cmd(&["SET", "{f}", "1"]), Reply::OK);
    let failures = info_field(&mut t1, "functions_trigger_failures");
    let dropped = info_field(&mut t1, "functions_triggers_dropped");
    // One refusal for CPU; the rest of that turn's triggers do not even
    // start (a core is held for the tenant's burst, not for thousands of
    // refused calls and their log lines).
    assert_eq!(failures, 1, "refused for CPU once the share is spent");
    assert!(
        dropped >= 100,
        "the rest of the turn's triggers are dropped: {dropped}"
    );
    let mut other = server.connect();
    assert_eq!(other.cmd(&["AUTH", common::ADMIN_PASSWORD]), Reply::OK);
    assert_eq!(other.cmd(&["SET", "{f}", "served"]), Reply::OK);
}
