use kiln_net::{OwnedArgs, Reply};

use super::*;
use crate::commands::testbed::TestBed;
use crate::shared::tests_support;
use kiln_net::transport::PortKind;

const NOW: u64 = 1_000_000;

fn owned(parts: &[&str]) -> OwnedArgs {
    OwnedArgs::new(parts.iter().map(|p| p.as_bytes()))
}

fn set_opts(parts: &[&str]) -> Result<SetOptions, Reply> {
    parse_set_options(owned(parts).args(), NOW)
}

fn bulk(s: &str) -> Reply {
    TestBed::bulk(s)
}

fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

fn err(msg: &'static str) -> Reply {
    Reply::error(msg)
}

// ---- parsers ------------------------------------------------------------------

#[test]
fn deadlines_resolve_like_redis() {
    assert_eq!(
        resolve_deadline(b"10", TimeUnit::Ex, NOW, "set"),
        Ok(NOW + 10_000)
    );
    assert_eq!(
        resolve_deadline(b"10", TimeUnit::Px, NOW, "set"),
        Ok(NOW + 10)
    );
    assert_eq!(
        resolve_deadline(b"10", TimeUnit::ExAt, NOW, "set"),
        Ok(10_000)
    );
    assert_eq!(resolve_deadline(b"10", TimeUnit::PxAt, NOW, "set"), Ok(10));
    let invalid = Err(err("ERR invalid expire time in 'set' command"));
    for bad in [&b"0"[..], b"-1", b"9223372036854776"] {
        assert_eq!(resolve_deadline(bad, TimeUnit::Ex, NOW, "set"), invalid);
    }
    // Adding now overflows.
    assert_eq!(
        resolve_deadline(b"9223372036854775807", TimeUnit::Px, NOW, "set"),
        invalid
    );
    assert_eq!(
        resolve_deadline(b"9223372036854775807", TimeUnit::PxAt, NOW, "set"),
        Ok(i64::MAX as u64)
    );
    assert_eq!(
        resolve_deadline(b"1x", TimeUnit::Ex, NOW, "set"),
        Err(errors::NOT_INTEGER)
    );
    assert_eq!(
        resolve_deadline(b"0", TimeUnit::Px, NOW, "getex"),
        Err(err("ERR invalid expire time in 'getex' command"))
    );
}

#[test]
fn set_options() {
    let plain = SetOptions::default();
    assert_eq!(set_opts(&["SET", "k", "v"]), Ok(plain));
    assert_eq!(
        set_opts(&["SET", "k", "v", "nx", "GET", "px", "5"]),
        Ok(SetOptions {
            condition: SetCondition::IfAbsent,
            expire: SetExpire::At(NOW + 5),
            get: true,
        })
    );
    assert_eq!(
        set_opts(&["SET", "k", "v", "XX", "KEEPTTL"]),
        Ok(SetOptions {
            condition: SetCondition::IfPresent,
            expire: SetExpire::Keep,
            get: false,
        })
    );
    // Repeating an option is allowed; the last value wins.
    assert_eq!(
        set_opts(&["SET", "k", "v", "EX", "1", "EX", "2", "NX", "NX"]).map(|o| o.expire),
        Ok(SetExpire::At(NOW + 2000))
    );
    assert_eq!(
        set_opts(&["SET", "k", "v", "EXAT", "5"]).map(|o| o.expire),
        Ok(SetExpire::At(5000))
    );
    assert_eq!(
        set_opts(&["SET", "k", "v", "PXAT", "5"]).map(|o| o.expire),
        Ok(SetExpire::At(5))
    );
}

#[test]
fn set_option_conflicts_are_syntax_errors() {
    for bad in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "XX", "NX"],
        &["SET", "k", "v", "EX", "1", "PX", "1"],
        &["SET", "k", "v", "PXAT", "1", "EXAT", "1"],
        &["SET", "k", "v", "EX", "1", "KEEPTTL"],
        &["SET", "k", "v", "KEEPTTL", "PX", "1"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "FOO"],
    ] {
        assert_eq!(set_opts(bad), Err(errors::SYNTAX), "{bad:?}");
    }
    // Syntax is checked before the deadline's value.
    assert_eq!(
        set_opts(&["SET", "k", "v", "EX", "0", "BAD"]),
        Err(errors::SYNTAX)
    );
    assert_eq!(
        set_opts(&["SET", "k", "v", "EX", "0"]),
        Err(err("ERR invalid expire time in 'set' command"))
    );
}

#[test]
fn getex_options() {
    type ParsedSet = (bool, Option<(TimeUnit, Vec<u8>)>);
    fn parse(parts: &[&str]) -> Result<ParsedSet, Reply> {
        let args = owned(parts);
        let o = parse_string_options(args.args(), 2, OptionsOf::GetEx)?;
        Ok((o.persist, o.expire.map(|(u, a)| (u, a.to_vec()))))
    }
    assert_eq!(parse(&["GETEX", "k"]), Ok((false, None)));
    assert_eq!(parse(&["GETEX", "k", "persist"]), Ok((true, None)));
    assert_eq!(
        parse(&["GETEX", "k", "EXAT", "9"]),
        Ok((false, Some((TimeUnit::ExAt, b"9".to_vec()))))
    );
    for bad in [
        &["GETEX", "k", "PERSIST", "EX", "1"][..],
        &["GETEX", "k", "EX", "1", "PERSIST"],
        &["GETEX", "k", "NX"],
        &["GETEX", "k", "GET"],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "k", "PX"],
    ] {
        assert_eq!(parse(bad), Err(errors::SYNTAX), "{bad:?}");
    }
}

#[test]
fn small_parsers() {
    assert_eq!(parse_offset(b"7"), Ok(7));
    assert_eq!(parse_offset(b"-1"), Err(err("ERR offset is out of range")));
    assert_eq!(parse_offset(b"x"), Err(errors::NOT_INTEGER));
    assert_eq!(decrement(b"5"), Ok(-5));
    assert_eq!(decrement(b"-9223372036854775807"), Ok(i64::MAX));
    assert_eq!(
        decrement(b"-9223372036854775808"),
        Err(err("ERR decrement would overflow"))
    );
    assert_eq!(
        check_pairs(owned(&["MSET", "a", "1"]).args(), "mset"),
        Ok(())
    );
    assert_eq!(
        check_pairs(owned(&["MSET", "a", "1", "b"]).args(), "mset"),
        Err(err("ERR wrong number of arguments for 'mset' command"))
    );
}

// ---- through the table --------------------------------------------------------

#[test]
fn get_set_and_options() {
    let mut bed = TestBed::new();
    assert_eq!(bed.run(&["GET", "k"]), Reply::Nil);
    assert_eq!(bed.run(&["SET", "k", "v"]), Reply::OK);
    assert_eq!(bed.run(&["GET", "k"]), bulk("v"));
    assert_eq!(bed.run(&["SET", "k", "w", "NX"]), Reply::Nil);
    assert_eq!(bed.run(&["SET", "k", "w", "NX", "GET"]), bulk("v"));
    assert_eq!(bed.run(&["SET", "k", "w", "XX", "GET"]), bulk("v"));
    assert_eq!(bed.run(&["SET", "n", "w", "XX"]), Reply::Nil);
    assert_eq!(bed.run(&["SET", "n", "w", "GET"]), Reply::Nil);
    assert_eq!(bed.run(&["GET", "n"]), bulk("w"));
    assert_eq!(bed.run(&["SET", "k", "x", "EX", "10"]), Reply::OK);
    assert_eq!(bed.run(&["PTTL", "k"]), int(10_000));
    assert_eq!(bed.run(&["SET", "k", "y", "KEEPTTL"]), Reply::OK);
    assert_eq!(bed.run(&["PTTL", "k"]), int(10_000));
    assert_eq!(bed.run(&["SET", "k", "z"]), Reply::OK);
    assert_eq!(bed.run(&["PTTL", "k"]), int(-1));
    assert_eq!(
        bed.run(&["SET", "k", "z", "PX", "-5"]),
        err("ERR invalid expire time in 'set' command")
    );
    assert_eq!(
        bed.run(&["SET", "k", "z", "EX", "abc"]),
        errors::NOT_INTEGER
    );
    assert_eq!(bed.run(&["SET", "k", "z", "NX", "XX"]), errors::SYNTAX);
    // A past EXAT writes a key that is at once gone.
    assert_eq!(bed.run(&["SET", "k", "z", "EXAT", "1"]), Reply::OK);
    assert_eq!(bed.run(&["GET", "k"]), Reply::Nil);
    assert_eq!(
        bed.run(&["SET", "k"]),
        err("ERR wrong number of arguments for 'set' command")
    );
}

#[test]
fn setnx_setex_psetex_getset() {
    let mut bed = TestBed::new();
    assert_eq!(bed.run(&["SETNX", "k", "a"]), int(1));
    assert_eq!(bed.run(&["SETNX", "k", "b"]), int(0));
    assert_eq!(bed.run(&["GET", "k"]), bulk("a"));
    assert_eq!(bed.run(&["SETEX", "k", "5", "c"]), Reply::OK);
    assert_eq!(bed.run(&["PTTL", "k"]), int(5000));
    assert_eq!(bed.run(&["PSETEX", "k", "5", "d"]), Reply::OK);
    assert_eq!(bed.run(&["PTTL", "k"]), int(5));
    assert_eq!(
        bed.run(&["SETEX", "k", "0", "c"]),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        bed.run(&["PSETEX", "k", "-1", "c"]),
        err("ERR invalid expire time in 'psetex' command")
    );
    assert_eq!(bed.run(&["GETSET", "k", "e"]), bulk("d"));
    assert_eq!(bed.run(&["PTTL", "k"]), int(-1));
    assert_eq!(bed.run(&["GETSET", "new", "e"]), Reply::Nil);
}

#[test]
fn getdel_and_getex() {
    let mut bed = TestBed::new();
    bed.run(&["SET", "k", "v"]);
    assert_eq!(bed.run(&["GETEX", "k"]), bulk("v"));
    assert_eq!(bed.run(&["GETEX", "k", "EX", "100"]), bulk("v"));
    assert_eq!(bed.run(&["TTL", "k"]), int(100));
    assert_eq!(bed.run(&["GETEX", "k", "PERSIST"]), bulk("v"));
    assert_eq!(bed.run(&["TTL", "k"]), int(-1));
    assert_eq!(bed.run(&["GETEX", "k", "PXAT", "2000000"]), bulk("v"));
    assert_eq!(bed.run(&["PTTL", "k"]), int(1_000_000));
    assert_eq!(
        bed.run(&["GETEX", "k", "EX", "0"]),
        err("ERR invalid expire time in 'getex' command")
    );
    // Redis checks the deadline only on an existing key.
    assert_eq!(bed.run(&["GETEX", "missing", "EX", "0"]), Reply::Nil);
    assert_eq!(
        bed.run(&["GETEX", "k", "PERSIST", "EX", "1"]),
        errors::SYNTAX
    );
    // A past deadline returns the value and deletes the key.
    assert_eq!(bed.run(&["GETEX", "k", "EXAT", "1"]), bulk("v"));
    assert_eq!(bed.run(&["EXISTS", "k"]), int(0));
    bed.run(&["SET", "k", "v"]);
    assert_eq!(bed.run(&["GETDEL", "k"]), bulk("v"));
    assert_eq!(bed.run(&["GETDEL", "k"]), Reply::Nil);
}

#[test]
fn append_strlen_ranges() {
    let mut bed = TestBed::new();
    assert_eq!(bed.run(&["APPEND", "k", "Hello"]), int(5));
    assert_eq!(bed.run(&["APPEND", "k", " World"]), int(11));
    assert_eq!(bed.run(&["STRLEN", "k"]), int(11));
    assert_eq!(bed.run(&["STRLEN", "nope"]), int(0));
    assert_eq!(bed.run(&["GETRANGE", "k", "0", "4"]), bulk("Hello"));
    assert_eq!(bed.run(&["GETRANGE", "k", "-5", "-1"]), bulk("World"));
    assert_eq!(bed.run(&["GETRANGE", "k", "5", "1"]), bulk(""));
    assert_eq!(bed.run(&["GETRANGE", "nope", "0", "-1"]), bulk(""));
    assert_eq!(bed.run(&["GETRANGE", "k", "a", "1"]), errors::NOT_INTEGER);
    assert_eq!(bed.run(&["GETRANGE", "k", "0", "1.5"]), errors::NOT_INTEGER);
    assert_eq!(bed.run(&["SETRANGE", "k", "6", "Redis"]), int(11));
    assert_eq!(bed.run(&["GET", "k"]), bulk("Hello Redis"));
    assert_eq!(bed.run(&["SETRANGE", "z", "3", "x"]), int(4));
    assert_eq!(bed.run(&["GET", "z"]), Reply::bulk_from(b"\0\0\0x"));
    assert_eq!(
        bed.run(&["SETRANGE", "k", "-1", "x"]),
        err("ERR offset is out of range")
    );
    assert_eq!(bed.run(&["SETRANGE", "k", "x", "x"]), errors::NOT_INTEGER);
    assert_eq!(
        bed.run(&["SETRANGE", "k", "536870912", "x"]),
        err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    );
}

#[test]
fn counters() {
    let mut bed = TestBed::new();
    assert_eq!(bed.run(&["INCR", "n"]), int(1));
    assert_eq!(bed.run(&["INCRBY", "n", "10"]), int(11));
    assert_eq!(bed.run(&["DECR", "n"]), int(10));
    assert_eq!(bed.run(&["DECRBY", "n", "20"]), int(-10));
    assert_eq!(
        bed.run(&["DECRBY", "n", "-9223372036854775808"]),
        err("ERR decrement would overflow")
    );
    assert_eq!(bed.run(&["INCRBY", "n", "x"]), errors::NOT_INTEGER);
    bed.run(&["SET", "n", "9223372036854775807"]);
    assert_eq!(
        bed.run(&["INCR", "n"]),
        err("ERR increment or decrement would overflow")
    );
    bed.run(&["SET", "s", "abc"]);
    assert_eq!(bed.run(&["INCR", "s"]), errors::NOT_INTEGER);
    assert_eq!(bed.run(&["INCRBYFLOAT", "f", "10.5"]), bulk("10.5"));
    assert_eq!(bed.run(&["INCRBYFLOAT", "f", "0.1"]), bulk("10.6"));
    assert_eq!(bed.run(&["INCRBYFLOAT", "f", "-5.0e3"]), bulk("-4989.4"));
    assert_eq!(bed.run(&["INCRBYFLOAT", "f", "x"]), errors::NOT_FLOAT);
    assert_eq!(bed.run(&["INCRBYFLOAT", "f", "nan"]), errors::NOT_FLOAT);
    assert_eq!(
        bed.run(&["INCRBYFLOAT", "f", "inf"]),
        err("ERR increment would produce NaN or Infinity")
    );
    assert_eq!(bed.run(&["INCRBYFLOAT", "s", "1"]), errors::NOT_FLOAT);
    // The deadline survives an increment.
    bed.run(&["SET", "t", "1", "EX", "100"]);
    assert_eq!(bed.run(&["INCR", "t"]), int(2));
    assert_eq!(bed.run(&["TTL", "t"]), int(100));
}

#[test]
fn multi_key_on_one_core() {
    let mut bed = TestBed::new();
    assert_eq!(bed.run(&["MSET", "a", "1", "b", "2"]), Reply::OK);
    assert_eq!(
        bed.run(&["MGET", "a", "nope", "b"]),
        Reply::Array(vec![bulk("1"), Reply::Nil, bulk("2")])
    );
    assert_eq!(
        bed.run(&["MSET", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(bed.run(&["MSETNX", "a", "x", "c", "3"]), int(0));
    assert_eq!(bed.run(&["GET", "c"]), Reply::Nil);
    assert_eq!(bed.run(&["MSETNX", "c", "3", "d", "4", "c", "5"]), int(1));
    assert_eq!(
        bed.run(&["MGET", "c", "d"]),
        Reply::Array(vec![bulk("5"), bulk("4")])
    );
    assert_eq!(
        bed.run(&["MSETNX", "e"]),
        err("ERR wrong number of arguments for 'msetnx' command")
    );
    assert_eq!(
        bed.run(&["MSETNX", "e", "1", "f"]),
        err("ERR wrong number of arguments for 'msetnx' command")
    );
}

#[test]
fn table_entries() {
    let spec = |name: &str| COMMANDS.iter().find(|c| c.name == name).unwrap();
    assert_eq!(COMMANDS.len(), 20);
    assert!(spec("set").flags.has(Flags::DENYOOM));
    assert!(spec("get").flags.has(Flags::READONLY.with(Flags::FAST)));
    assert!(!spec("getdel").flags.has(Flags::DENYOOM));
    assert_eq!(spec("mset").keys, KeySpec::range(1, -1, 2));
    assert!(matches!(
        spec("msetnx").route,
        Route::Keys(KeyRouting::Planned(_))
    ));
    assert!(matches!(
        spec("mget").route,
        Route::Keys(KeyRouting::Split(_))
    ));
    assert!(COMMANDS.iter().all(|c| c.group == "string"));
}

// ---- cross-core MSETNX ----------------------------------------------------------

use crate::commands::testbed::finishing;

fn command_parts(plan: &Plan) -> Vec<(usize, Vec<String>)> {
    plan.parts
        .iter()
        .map(|(core, job)| {
            let Job::Command(_, args) = job else {
                panic!("{job:?}")
            };
            let words = args
                .args()
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            (*core, words)
        })
        .collect()
}

#[test]
fn msetnx_across_cores_checks_then_sets() {
    let shared = tests_support::shared(2);
    let (a, b) = tests_support::keys_on_cores(&shared);
    let spec = COMMANDS.iter().find(|c| c.name == "msetnx").unwrap();
    let p = Planning::on(&shared, 0, PortKind::Main, spec);
    let args = owned(&["MSETNX", &a, "1", &b, "2", &a, "3"]);
    let plan = msetnx_plan(&p, args.args()).unwrap();
    assert_eq!(
        command_parts(&plan),
        vec![
            (0, vec!["EXISTS".into(), a.clone(), a.clone()]),
            (1, vec!["EXISTS".into(), b.clone()])
        ]
    );
    let Finish::Continue(next) = plan.finish else {
        panic!()
    };
    let f = finishing(&args, &[0, 1], &shared);

    let some_exist = vec![Output::Reply(int(0)), Output::Reply(int(1))];
    assert_eq!(next(&f, some_exist).err(), Some(int(0)));
    let failed = vec![Output::Reply(int(0)), Output::Reply(errors::OOM)];
    assert_eq!(next(&f, failed).err(), Some(errors::OOM));

    let none = vec![Output::Reply(int(0)), Output::Reply(int(0))];
    let write = next(&f, none).ok().unwrap();
    assert_eq!(
        command_parts(&write),
        vec![
            (
                0,
                vec!["MSET".into(), a.clone(), "1".into(), a.clone(), "3".into()]
            ),
            (1, vec!["MSET".into(), b.clone(), "2".into()])
        ]
    );
    let Finish::Combine(done) = write.finish else {
        panic!()
    };
    assert_eq!(
        done(&f, vec![Output::Reply(Reply::OK), Output::Reply(Reply::OK)]),
        int(1)
    );
    assert_eq!(
        done(
            &f,
            vec![Output::Reply(Reply::OK), Output::Reply(errors::OOM)]
        ),
        errors::OOM
    );

    let odd = owned(&["MSETNX", &a, "1", &b]);
    assert_eq!(
        msetnx_plan(&p, odd.args()).err(),
        Some(err("ERR wrong number of arguments for 'msetnx' command"))
    );
}
