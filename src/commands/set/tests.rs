use kiln_net::Reply;

use crate::commands::testbed::TestBed;

fn bulk(s: &str) -> Reply {
    TestBed::bulk(s)
}

fn set_of(items: &[&str]) -> Reply {
    Reply::Set(items.iter().map(|s| bulk(s)).collect())
}

#[test]
fn add_members_and_combinations() {
    let mut bed = TestBed::new();
    assert_eq!(
        bed.run(&["SADD", "{s}a", "3", "1", "2", "1"]),
        Reply::Integer(3)
    );
    assert_eq!(bed.run(&["SMEMBERS", "{s}a"]), set_of(&["1", "2", "3"]));
    assert_eq!(bed.run(&["OBJECT", "ENCODING", "{s}a"]), bulk("intset"));
    assert_eq!(bed.run(&["SADD", "{s}b", "2", "x"]), Reply::Integer(2));
    assert_eq!(bed.run(&["OBJECT", "ENCODING", "{s}b"]), bulk("listpack"));
    assert_eq!(bed.run(&["SINTER", "{s}a", "{s}b"]), set_of(&["2"]));
    assert_eq!(bed.run(&["SDIFF", "{s}a", "{s}b"]), set_of(&["1", "3"]));
    assert_eq!(
        bed.run(&["SUNIONSTORE", "{s}c", "{s}a", "{s}b"]),
        Reply::Integer(4)
    );
    assert_eq!(bed.run(&["SCARD", "{s}c"]), Reply::Integer(4));
    assert_eq!(
        bed.run(&["SINTERCARD", "2", "{s}a", "{s}c", "LIMIT", "2"]),
        Reply::Integer(2)
    );
    assert_eq!(
        bed.run(&["SINTERCARD", "0", "{s}a"]),
        Reply::error("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        bed.run(&["SINTERCARD", "3", "{s}a"]),
        Reply::error("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        bed.run(&["SINTERCARD", "1", "{s}a", "LIMIT", "-1"]),
        Reply::error("ERR LIMIT can't be negative")
    );
    assert_eq!(
        bed.run(&["SMISMEMBER", "{s}a", "1", "9"]),
        Reply::Array(vec![Reply::Integer(1), Reply::Integer(0)])
    );
    assert_eq!(bed.run(&["SMOVE", "{s}a", "{s}b", "1"]), Reply::Integer(1));
    assert_eq!(bed.run(&["SISMEMBER", "{s}b", "1"]), Reply::Integer(1));
    assert_eq!(bed.run(&["SREM", "{s}a", "2", "3"]), Reply::Integer(2));
    assert_eq!(bed.run(&["EXISTS", "{s}a"]), Reply::Integer(0));
}

#[test]
fn pops_random_members_and_errors() {
    let mut bed = TestBed::new();
    assert_eq!(bed.run(&["SPOP", "s"]), Reply::Nil);
    assert_eq!(bed.run(&["SPOP", "s", "3"]), Reply::Set(vec![]));
    assert_eq!(bed.run(&["SRANDMEMBER", "s", "3"]), Reply::Array(vec![]));
    bed.run(&["SADD", "s", "a", "b", "c"]);
    assert_eq!(
        bed.run(&["SPOP", "s", "-1"]),
        Reply::error("ERR value is out of range, must be positive")
    );
    assert_eq!(
        bed.run(&["SPOP", "s", "1", "2"]),
        Reply::error("ERR syntax error")
    );
    let Reply::Array(many) = bed.run(&["SRANDMEMBER", "s", "-7"]) else {
        panic!()
    };
    assert_eq!(many.len(), 7);
    let Reply::Set(two) = bed.run(&["SPOP", "s", "2"]) else {
        panic!()
    };
    assert_eq!(two.len(), 2);
    assert_eq!(bed.run(&["SCARD", "s"]), Reply::Integer(1));
    bed.run(&["SET", "str", "v"]);
    let wrong = Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value");
    for cmd in [
        &["SADD", "str", "a"][..],
        &["SMEMBERS", "str"],
        &["SPOP", "str", "0"],
        &["SINTER", "nokey", "str"],
        &["SMOVE", "s", "str", "a"],
        &["SSCAN", "str", "0"],
    ] {
        assert_eq!(bed.run(cmd), wrong, "{cmd:?}");
    }
    assert_eq!(bed.run(&["TYPE", "s"]), Reply::status("set"));
}
