use bytes::Bytes;
use kiln_net::{OwnedArgs, Protocol, Reply};
use kiln_store::Record;
use smallvec::SmallVec;

use super::*;
use crate::commands::testbed::TestBed;
use crate::shared::{Shared, tests_support};
use kiln_net::transport::PortKind;

fn owned(parts: &[&str]) -> OwnedArgs {
    OwnedArgs::new(parts.iter().map(|p| p.as_bytes()))
}

fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

fn bulk(s: &str) -> Reply {
    TestBed::bulk(s)
}

// ---- parsers ------------------------------------------------------------------

#[test]
fn copy_options() {
    let parse = |parts: &[&str]| parse_copy_options(owned(parts).args());
    assert_eq!(parse(&["COPY", "a", "b"]), Ok(false));
    assert_eq!(parse(&["COPY", "a", "b", "replace"]), Ok(true));
    assert_eq!(parse(&["COPY", "a", "b", "DB", "0", "REPLACE"]), Ok(true));
    assert_eq!(
        parse(&["COPY", "a", "b", "DB", "1"]),
        Err(Reply::error("ERR DB index is out of range"))
    );
    assert_eq!(
        parse(&["COPY", "a", "b", "DB", "x"]),
        Err(errors::NOT_INTEGER)
    );
    assert_eq!(
        parse(&["COPY", "a", "b", "DB", "4294967296"]),
        Err(Reply::error("ERR value is out of range"))
    );
    assert_eq!(parse(&["COPY", "a", "b", "DB"]), Err(errors::SYNTAX));
    assert_eq!(parse(&["COPY", "a", "b", "FOO"]), Err(errors::SYNTAX));
    assert_eq!(
        parse(&["COPY", "a", "a"]),
        Err(Reply::error(
            "ERR source and destination objects are the same"
        ))
    );
}

// ---- through the table --------------------------------------------------------

#[test]
fn del_exists_touch() {
    let mut bed = TestBed::new();
    bed.run(&["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(bed.run(&["EXISTS", "a", "a", "nope", "b"]), int(3));
    assert_eq!(bed.run(&["TOUCH", "a", "nope"]), int(1));
    assert_eq!(bed.run(&["DEL", "a", "nope", "a"]), int(1));
    assert_eq!(bed.run(&["UNLINK", "b", "c"]), int(2));
    assert_eq!(bed.run(&["EXISTS", "a", "b", "c"]), int(0));
    assert_eq!(
        bed.run(&["DEL"]),
        Reply::error("ERR wrong number of arguments for 'del' command")
    );
}

#[test]
fn type_and_object() {
    let mut bed = TestBed::new();
    bed.run(&["SET", "s", "hello"]);
    bed.run(&["SET", "n", "12345"]);
    bed.run(&["SET", "long", &"x".repeat(45)]);
    assert_eq!(bed.run(&["TYPE", "s"]), Reply::status("string"));
    assert_eq!(bed.run(&["TYPE", "nope"]), Reply::status("none"));
    assert_eq!(bed.run(&["OBJECT", "ENCODING", "s"]), bulk("embstr"));
    assert_eq!(bed.run(&["object", "encoding", "n"]), bulk("int"));
    assert_eq!(bed.run(&["OBJECT", "ENCODING", "long"]), bulk("raw"));
    assert_eq!(bed.run(&["OBJECT", "ENCODING", "nope"]), Reply::Nil);
    assert_eq!(bed.run(&["OBJECT", "REFCOUNT", "s"]), int(1));
    assert_eq!(bed.run(&["OBJECT", "REFCOUNT", "nope"]), Reply::Nil);
    let Reply::Array(help) = bed.run(&["OBJECT", "HELP"]) else {
        panic!()
    };
    assert!(matches!(&help[0], Reply::Status(l) if l.starts_with("OBJECT <subcommand>")));
    assert_eq!(
        bed.run(&["OBJECT", "FOO", "s"]),
        Reply::error("ERR unknown subcommand 'FOO'. Try OBJECT HELP.")
    );
    assert_eq!(
        bed.run(&["OBJECT", "ENCODING"]),
        Reply::error("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        bed.run(&["OBJECT"]),
        Reply::error("ERR wrong number of arguments for 'object' command")
    );
}

#[test]
fn rename_on_one_core() {
    let mut bed = TestBed::new();
    assert_eq!(
        bed.run(&["RENAME", "a", "b"]),
        Reply::error("ERR no such key")
    );
    assert_eq!(
        bed.run(&["RENAMENX", "a", "b"]),
        Reply::error("ERR no such key")
    );
    bed.run(&["SET", "a", "1", "EX", "100"]);
    assert_eq!(bed.run(&["RENAME", "a", "b"]), Reply::OK);
    assert_eq!(bed.run(&["GET", "b"]), bulk("1"));
    assert_eq!(bed.run(&["TTL", "b"]), int(100));
    assert_eq!(bed.run(&["EXISTS", "a"]), int(0));
    bed.run(&["SET", "c", "2"]);
    assert_eq!(bed.run(&["RENAMENX", "b", "c"]), int(0));
    assert_eq!(bed.run(&["RENAMENX", "b", "d"]), int(1));
    assert_eq!(bed.run(&["RENAME", "d", "c"]), Reply::OK);
    assert_eq!(bed.run(&["GET", "c"]), bulk("1"));
    assert_eq!(bed.run(&["RENAME", "c", "c"]), Reply::OK);
    assert_eq!(bed.run(&["RENAMENX", "c", "c"]), int(0));
}

#[test]
fn copy_on_one_core() {
    let mut bed = TestBed::new();
    assert_eq!(bed.run(&["COPY", "a", "b"]), int(0));
    bed.run(&["SET", "a", "1", "PX", "500"]);
    assert_eq!(bed.run(&["COPY", "a", "b"]), int(1));
    assert_eq!(bed.run(&["PTTL", "b"]), int(500));
    bed.run(&["SET", "a", "2"]);
    assert_eq!(bed.run(&["COPY", "a", "b"]), int(0));
    assert_eq!(bed.run(&["COPY", "a", "b", "REPLACE"]), int(1));
    assert_eq!(bed.run(&["GET", "b"]), bulk("2"));
    assert_eq!(
        bed.run(&["COPY", "a", "a"]),
        Reply::error("ERR source and destination objects are the same")
    );
    assert_eq!(
        bed.run(&["COPY", "a", "c", "DB", "3"]),
        Reply::error("ERR DB index is out of range")
    );
}

#[test]
fn table_entries() {
    let spec = |name: &str| COMMANDS.iter().find(|c| c.name == name).unwrap();
    assert_eq!(spec("object").subcommands.len(), 5);
    assert_eq!(spec("rename").keys, KeySpec::range(1, 2, 1));
    assert!(spec("copy").flags.has(Flags::DENYOOM));
    assert!(matches!(
        spec("exists").route,
        Route::Keys(KeyRouting::Split(_))
    ));
    assert!(COMMANDS.iter().all(|c| c.group == "generic"));
}

// ---- cross-core plans -----------------------------------------------------------

struct Cross {
    shared: Shared,
    a: String,
    b: String,
}

impl Cross {
    fn new() -> Cross {
        let shared = tests_support::shared(2);
        let (a, b) = tests_support::keys_on_cores(&shared);
        Cross { shared, a, b }
    }

    fn planning(&self, name: &str) -> Planning<'_> {
        let spec = COMMANDS.iter().find(|c| c.name == name).unwrap();
        Planning::on(&self.shared, 0, PortKind::Main, spec)
    }

    fn finishing<'a>(&'a self, args: &'a OwnedArgs) -> Finishing<'a> {
        Finishing {
            spec: crate::commands::table()[0],
            args,
            protocol: Protocol::Resp2,
            part_keys: &[] as &[SmallVec<[usize; 4]>],
            part_cores: &[],
            shared: &self.shared,
            core: 0,
            tenant: crate::tenant::TenantId::DEFAULT,
        }
    }
}

fn record(v: &'static str) -> Record {
    Record::string(Bytes::from_static(v.as_bytes()))
}

fn continuation(plan: &Plan) -> ContinueFnPtr {
    let Finish::Continue(next) = plan.finish else {
        panic!("not a continuation")
    };
    next
}

type ContinueFnPtr = fn(&Finishing<'_>, Vec<Output>) -> Result<Plan, Reply>;

#[test]
fn rename_across_cores_copies_then_deletes() {
    let x = Cross::new();
    for (name, ok) in [("RENAME", Reply::OK), ("RENAMENX", int(1))] {
        let args = owned(&[name, &x.a, &x.b]);
        let f = x.finishing(&args);
        let plan = rename_plan(&x.planning(&name.to_lowercase()), args.args()).unwrap();
        assert!(matches!(&plan.parts[..], [(0, Job::PeekRecord(k))] if k == x.a.as_bytes()));

        let put = continuation(&plan)(&f, vec![Output::Record(Some(record("v")))])
            .ok()
            .unwrap();
        let [
            (
                1,
                Job::PutRecord {
                    key,
                    record: r,
                    replace,
                },
            ),
        ] = &put.parts[..]
        else {
            panic!()
        };
        assert_eq!(
            (key.as_ref(), r, *replace),
            (x.b.as_bytes(), &record("v"), name == "RENAME")
        );
        assert!(matches!(&put.carry[..], [Output::Record(Some(r))] if *r == record("v")));

        let carried = || Output::Record(Some(record("v")));
        let del = continuation(&put)(&f, vec![carried(), Output::Reply(int(1))])
            .ok()
            .unwrap();
        assert!(
            matches!(&del.parts[..], [(0, Job::DelIfSame { key, .. })] if key == x.a.as_bytes())
        );
        let Finish::Combine(done) = del.finish else {
            panic!()
        };
        assert_eq!(done(&f, vec![Output::Reply(int(1))]), ok);
        // A write that raced the rename kept src; the rename still happened.
        assert_eq!(done(&f, vec![Output::Reply(int(0))]), ok);

        assert_eq!(
            continuation(&put)(&f, vec![carried(), Output::Reply(int(0))]).err(),
            Some(int(0))
        );
        assert_eq!(
            continuation(&put)(&f, vec![carried(), Output::Reply(errors::OOM)]).err(),
            Some(errors::OOM)
        );
        assert_eq!(
            continuation(&plan)(&f, vec![Output::Record(None)]).err(),
            Some(Reply::error("ERR no such key"))
        );
    }
}

#[test]
fn copy_across_cores_peeks_then_puts() {
    let x = Cross::new();
    let args = owned(&["COPY", &x.a, &x.b, "REPLACE"]);
    let f = x.finishing(&args);
    let plan = copy_plan(&x.planning("copy"), args.args()).unwrap();
    assert!(matches!(&plan.parts[..], [(0, Job::PeekRecord(k))] if k == x.a.as_bytes()));
    assert_eq!(
        continuation(&plan)(&f, vec![Output::Record(None)]).err(),
        Some(int(0))
    );
    let put = continuation(&plan)(&f, vec![Output::Record(Some(record("v")))])
        .ok()
        .unwrap();
    assert!(matches!(put.finish, Finish::Single));
    let [
        (
            1,
            Job::PutRecord {
                key, replace: true, ..
            },
        ),
    ] = &put.parts[..]
    else {
        panic!()
    };
    assert_eq!(key.as_ref(), x.b.as_bytes());

    let bad = owned(&["COPY", &x.a, &x.b, "DB", "1"]);
    assert_eq!(
        copy_plan(&x.planning("copy"), bad.args()).err(),
        Some(Reply::error("ERR DB index is out of range"))
    );
}
