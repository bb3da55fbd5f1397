use std::collections::BTreeSet;

use bytes::Bytes;
use kiln_net::{OwnedArgs, Reply};
use kiln_store::{SetOptions, Shard, ShardConfig};

use super::*;
use crate::commands::testbed::TestBed;
use crate::commands::{Caller, Lookup, Out, Site, lookup};
use crate::shared::{Shared, tests_support};
use crate::stats::CoreStats;

fn owned(parts: &[&str]) -> OwnedArgs {
    OwnedArgs::new(parts.iter().map(|p| p.as_bytes()))
}

fn bulk(s: &str) -> Reply {
    TestBed::bulk(s)
}

use crate::commands::testbed::finishing;

fn planning(shared: &Shared, port_kind: PortKind) -> Planning<'_> {
    Planning::on(
        shared,
        1,
        port_kind,
        COMMANDS.iter().find(|c| c.name == "scan").unwrap(),
    )
}

fn words(job: &Job) -> Vec<String> {
    let Job::Command(_, args) = job else {
        panic!("{job:?}")
    };
    args.args()
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

// ---- parsers and cursors ----------------------------------------------------------

#[test]
fn scan_arguments() {
    let parse = |parts: &[&str]| {
        parse_scan(owned(parts).args()).map(|s| {
            (
                s.cursor,
                s.count,
                s.pattern.map(<[u8]>::to_vec),
                s.type_name.map(<[u8]>::to_vec),
            )
        })
    };
    assert_eq!(parse(&["SCAN", "0"]), Ok((0, 10, None, None)));
    assert_eq!(
        parse(&[
            "SCAN",
            "18446744073709551615",
            "match",
            "a*",
            "COUNT",
            "5",
            "TYPE",
            "string",
            "COUNT",
            "7"
        ]),
        Ok((u64::MAX, 7, Some(b"a*".to_vec()), Some(b"string".to_vec())))
    );
    let invalid = Err(Reply::error("ERR invalid cursor"));
    for bad in ["-1", "x", "", "1.5", "18446744073709551616"] {
        assert_eq!(parse(&["SCAN", bad]), invalid, "{bad}");
    }
    assert_eq!(parse(&["SCAN", "x", "BAD"]), invalid);
    assert_eq!(parse(&["SCAN", "0", "COUNT", "0"]), Err(errors::SYNTAX));
    assert_eq!(parse(&["SCAN", "0", "COUNT", "-3"]), Err(errors::SYNTAX));
    assert_eq!(
        parse(&["SCAN", "0", "COUNT", "x"]),
        Err(errors::NOT_INTEGER)
    );
    assert_eq!(parse(&["SCAN", "0", "COUNT"]), Err(errors::SYNTAX));
    assert_eq!(parse(&["SCAN", "0", "FOO", "bar"]), Err(errors::SYNTAX));
}

#[test]
fn cursor_encoding() {
    assert_eq!(decode_cursor(0), (0, 0));
    assert_eq!(decode_cursor((7 << 10) | 3), (3, 7));
    assert_eq!(decode_cursor(1023), (1023, 0));
    // Core 0 went on: its cursor above the core bits.
    assert_eq!(encode_next(0, 7, 4), (7 << 10));
    assert_eq!(encode_next(2, 5, 4), (5 << 10) | 2);
    // Core done: the next core from its start, then 0 after the last.
    assert_eq!(encode_next(0, 0, 4), 1);
    assert_eq!(encode_next(2, 0, 4), 3);
    assert_eq!(encode_next(3, 0, 4), 0);
    for (core, next) in [(0, 1), (3, 99), (1023, 12345)] {
        assert_eq!(decode_cursor(encode_next(core, next, 1024)), (core, next));
    }
}

#[test]
fn main_port_plan_targets_the_cursor_core() {
    let shared = tests_support::shared(2);
    let p = planning(&shared, PortKind::Main);
    let args = owned(&[
        "SCAN",
        &((9 << 10) | 1).to_string(),
        "MATCH",
        "k*",
        "COUNT",
        "3",
    ]);
    let plan = scan_plan(&p, args.args()).ok().unwrap();
    assert_eq!(plan.parts.len(), 1);
    assert_eq!(plan.parts[0].0, 1);
    assert_eq!(
        words(&plan.parts[0].1),
        ["SCAN", "9", "MATCH", "k*", "COUNT", "3"]
    );
    assert!(matches!(plan.finish, Finish::Continue(_)));

    let past_last = owned(&["SCAN", "2"]);
    assert_eq!(
        scan_plan(&p, past_last.args()).err(),
        Some(Reply::Array(vec![bulk("0"), Reply::Array(vec![])]))
    );
    let bad = owned(&["SCAN", "0", "COUNT", "0"]);
    assert_eq!(scan_plan(&p, bad.args()).err(), Some(errors::SYNTAX));
}

#[test]
fn core_port_plan_passes_the_cursor_through() {
    let shared = tests_support::shared(2);
    let p = planning(&shared, PortKind::Core);
    let args = owned(&["SCAN", "5121", "TYPE", "string"]);
    let plan = scan_plan(&p, args.args()).ok().unwrap();
    assert_eq!(plan.parts.len(), 1);
    assert_eq!(plan.parts[0].0, 1);
    assert_eq!(words(&plan.parts[0].1), ["SCAN", "5121", "TYPE", "string"]);
    assert!(matches!(plan.finish, Finish::Single));
}

#[test]
fn steps_reencode_and_walk_on_past_finished_cores() {
    let shared = tests_support::shared(3);
    let args = owned(&["SCAN", "0", "COUNT", "2"]);
    // Outputs as a step sees them: the carried keys, then the core's page.
    let outputs = |carried: &[&str], cursor: &str, keys: &[&str]| {
        let list = |ks: &[&str]| Reply::Array(ks.iter().map(|k| bulk(k)).collect());
        vec![
            Output::Reply(list(carried)),
            Output::Reply(Reply::Array(vec![bulk(cursor), list(keys)])),
        ]
    };
    let step = |core: usize, out| scan_step(&finishing(&args, &[core], &shared), out);
    // Core 0 has more: its cursor comes back, tagged with the core.
    assert_eq!(
        step(0, outputs(&[], "4", &["a"])).err(),
        Some(Reply::Array(vec![
            bulk("4096"),
            Reply::Array(vec![bulk("a")])
        ]))
    );
    // Core 0 is done and the page is short of COUNT: go on to core 1.
    let next = step(0, outputs(&[], "0", &["b"])).ok().unwrap();
    assert_eq!(next.parts[0].0, 1);
    assert_eq!(words(&next.parts[0].1), ["SCAN", "0", "COUNT", "2"]);
    // Core 1 fills the page: stop there, cursor at core 2's start.
    assert_eq!(
        step(1, outputs(&["b"], "0", &["c"])).err(),
        Some(Reply::Array(vec![
            bulk("2"),
            Reply::Array(vec![bulk("b"), bulk("c")])
        ]))
    );
    // The last core done: cursor 0.
    assert_eq!(
        step(2, outputs(&[], "0", &["d"])).err(),
        Some(Reply::Array(vec![bulk("0"), Reply::Array(vec![bulk("d")])]))
    );
    // Errors pass through; nonsense is reported.
    assert_eq!(
        step(
            0,
            vec![
                Output::Reply(Reply::Array(vec![])),
                Output::Reply(errors::SYNTAX)
            ]
        )
        .err(),
        Some(errors::SYNTAX)
    );
    assert!(
        step(0, vec![Output::Reply(Reply::Array(vec![bulk("x")]))])
            .err()
            .is_some_and(|r| r.is_error())
    );
}

// ---- a whole walk over real shards ---------------------------------------------------

/// Runs a job's command against `shard` as its owner core would.
fn run_on(shard: &mut Shard, shared: &Shared, core: usize, job: &Job) -> Output {
    let Job::Command(_, args) = job else {
        panic!("{job:?}")
    };
    let Lookup::Found(spec) = lookup(args.args()) else {
        panic!()
    };
    let mut stats = CoreStats::default();
    let site = Site {
        core,
        shard,
        others: None,
        shared,
        stats: &mut stats,
        functions: None,
        waiters: None,
        evicting: false,
        woken: false,
        journal: None,
    };
    let tenant = crate::tenant::TenantId::DEFAULT;
    let mut ctx = Ctx::new(site, tenant, Caller::Job(&[]), Out::Value);
    Output::Reply((spec.run)(&mut ctx, args.args()))
}

#[test]
fn main_port_walk_visits_every_key_on_every_core() {
    let cores = 3;
    let shared = tests_support::shared(cores);
    let mut shards: Vec<Shard> = (0..cores)
        .map(|_| Shard::new(ShardConfig::default()))
        .collect();
    let mut expected = BTreeSet::new();
    for i in 0..40 {
        let key = format!("key:{i}");
        let owner = shared.slots.owner_of(key.as_bytes());
        shards[owner]
            .set(
                key.as_bytes(),
                Bytes::from_static(b"v"),
                SetOptions::default(),
            )
            .unwrap();
        if i & 1 == 0 {
            expected.insert(key);
        }
        shards[owner]
            .set(
                format!("other:{i}").as_bytes(),
                Bytes::from_static(b"v"),
                SetOptions::default(),
            )
            .unwrap();
    }
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    for _ in 0..100 {
        let args = owned(&["SCAN", &cursor, "MATCH", "key:*[02468]", "COUNT", "4"]);
        let mut plan = scan_plan(&planning(&shared, PortKind::Main), args.args())
            .ok()
            .unwrap();
        // Run the plan's steps as the cores would until it replies.
        let reply = loop {
            let (core, job) = &plan.parts[0];
            let out = run_on(&mut shards[*core], &shared, *core, job);
            let Finish::Continue(step) = plan.finish else {
                panic!()
            };
            let mut outputs = std::mem::take(&mut plan.carry);
            outputs.push(out);
            match step(&finishing(&args, &[*core], &shared), outputs) {
                Ok(next) => plan = next,
                Err(Reply::Array(reply)) => break reply,
                Err(other) => panic!("{other:?}"),
            }
        };
        let [Reply::Bulk(next), Reply::Array(keys)] = &reply[..] else {
            panic!("{reply:?}")
        };
        for k in keys {
            let Reply::Bulk(k) = k else { panic!() };
            seen.insert(String::from_utf8(k.to_vec()).unwrap());
        }
        cursor = String::from_utf8(next.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(cursor, "0", "the walk ended");
    assert_eq!(seen, expected);
}

// ---- through the table ------------------------------------------------------------

#[test]
fn keys_randomkey_scan_on_one_core() {
    let mut bed = TestBed::new();
    assert_eq!(bed.run(&["RANDOMKEY"]), Reply::Nil);
    assert_eq!(bed.run(&["KEYS", "*"]), Reply::Array(vec![]));
    bed.run(&["MSET", "one", "1", "two", "2", "three", "3"]);
    let Reply::Array(mut keys) = bed.run(&["KEYS", "t*"]) else {
        panic!()
    };
    keys.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(keys, vec![bulk("three"), bulk("two")]);
    let random = bed.run(&["RANDOMKEY"]);
    assert!([bulk("one"), bulk("two"), bulk("three")].contains(&random));
    let Reply::Array(reply) = bed.run(&["SCAN", "0", "COUNT", "100", "TYPE", "STRING"]) else {
        panic!()
    };
    assert_eq!(reply[0], bulk("0"));
    assert!(matches!(&reply[1], Reply::Array(k) if k.len() == 3));
    assert_eq!(
        bed.run(&["SCAN", "0", "TYPE", "hash"]),
        Reply::Array(vec![bulk("0"), Reply::Array(vec![])])
    );
    assert_eq!(
        bed.run(&["SCAN", "abc"]),
        Reply::error("ERR invalid cursor")
    );
    assert_eq!(
        bed.run(&["KEYS"]),
        Reply::error("ERR wrong number of arguments for 'keys' command")
    );
}

#[test]
fn pick_random_chooses_among_present_keys() {
    let shared = tests_support::shared(2);
    let args = owned(&["RANDOMKEY"]);
    let f = finishing(&args, &[], &shared);
    assert_eq!(
        pick_random(
            &f,
            vec![Output::Reply(Reply::Nil), Output::Reply(Reply::Nil)]
        ),
        Reply::Nil
    );
    assert_eq!(
        pick_random(
            &f,
            vec![Output::Reply(Reply::Nil), Output::Reply(bulk("k"))]
        ),
        bulk("k")
    );
    let mut picked = BTreeSet::new();
    for _ in 0..200 {
        let out = vec![
            Output::Reply(bulk("a")),
            Output::Reply(Reply::Nil),
            Output::Reply(bulk("b")),
        ];
        picked.insert(format!("{:?}", pick_random(&f, out)));
    }
    assert_eq!(picked.len(), 2);
    assert_eq!(
        pick_random(&f, vec![Output::Reply(errors::OOM)]),
        errors::OOM
    );
}
