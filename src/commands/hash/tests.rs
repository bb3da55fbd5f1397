use kiln_net::Reply;

use crate::commands::testbed::TestBed;

fn bulk(s: &str) -> Reply {
    TestBed::bulk(s)
}

#[test]
fn set_get_and_counts() {
    let mut bed = TestBed::new();
    assert_eq!(
        bed.run(&["HSET", "h", "a", "1", "b", "2"]),
        Reply::Integer(2)
    );
    assert_eq!(bed.run(&["HSET", "h", "a", "3"]), Reply::Integer(0));
    assert_eq!(
        bed.run(&["HSET", "h", "a"]),
        Reply::error("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(bed.run(&["HMSET", "h", "c", "4"]), Reply::OK);
    assert_eq!(bed.run(&["HGET", "h", "a"]), bulk("3"));
    assert_eq!(bed.run(&["HGET", "h", "zz"]), Reply::Nil);
    assert_eq!(
        bed.run(&["HMGET", "h", "a", "zz", "c"]),
        Reply::Array(vec![bulk("3"), Reply::Nil, bulk("4")])
    );
    assert_eq!(bed.run(&["HLEN", "h"]), Reply::Integer(3));
    assert_eq!(bed.run(&["HSTRLEN", "h", "a"]), Reply::Integer(1));
    assert_eq!(bed.run(&["HEXISTS", "h", "b"]), Reply::Integer(1));
    assert_eq!(
        bed.run(&["HGETALL", "h"]),
        Reply::Map(vec![
            (bulk("a"), bulk("3")),
            (bulk("b"), bulk("2")),
            (bulk("c"), bulk("4"))
        ])
    );
    assert_eq!(
        bed.run(&["HKEYS", "h"]),
        Reply::Array(vec![bulk("a"), bulk("b"), bulk("c")])
    );
    assert_eq!(bed.run(&["HVALS", "nope"]), Reply::Array(vec![]));
    assert_eq!(
        bed.run(&["HDEL", "h", "a", "b", "c", "d"]),
        Reply::Integer(3)
    );
    assert_eq!(bed.run(&["EXISTS", "h"]), Reply::Integer(0));
}

#[test]
fn increments_and_wrongtype() {
    let mut bed = TestBed::new();
    assert_eq!(
        bed.run(&["HINCRBY", "h", "n", "x"]),
        Reply::error("ERR value is not an integer or out of range")
    );
    assert_eq!(bed.run(&["HINCRBY", "h", "n", "5"]), Reply::Integer(5));
    assert_eq!(bed.run(&["HINCRBYFLOAT", "h", "n", "0.5"]), bulk("5.5"));
    assert_eq!(
        bed.run(&["HINCRBY", "h", "n", "1"]),
        Reply::error("ERR hash value is not an integer")
    );
    assert_eq!(
        bed.run(&["HINCRBYFLOAT", "h", "n", "inf"]),
        Reply::error("ERR value is NaN or Infinity")
    );
    bed.run(&["SET", "s", "v"]);
    let wrong = Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value");
    for cmd in [
        &["HGET", "s", "f"][..],
        &["HSET", "s", "f", "v"],
        &["HLEN", "s"],
        &["HGETALL", "s"],
        &["HSCAN", "s", "0"],
        &["HRANDFIELD", "s"],
        &["HDEL", "s", "f"],
    ] {
        assert_eq!(bed.run(cmd), wrong, "{cmd:?}");
    }
    assert_eq!(bed.run(&["TYPE", "h"]), Reply::status("hash"));
    assert_eq!(bed.run(&["OBJECT", "ENCODING", "h"]), bulk("listpack"));
}

#[test]
fn randfield_and_scan() {
    let mut bed = TestBed::new();
    assert_eq!(bed.run(&["HRANDFIELD", "h"]), Reply::Nil);
    assert_eq!(bed.run(&["HRANDFIELD", "h", "3"]), Reply::Array(vec![]));
    bed.run(&["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(
        bed.run(&["HRANDFIELD", "h", "5", "WITHVALUES"]),
        Reply::Pairs(vec![(bulk("a"), bulk("1")), (bulk("b"), bulk("2"))])
    );
    let Reply::Array(many) = bed.run(&["HRANDFIELD", "h", "-5"]) else {
        panic!()
    };
    assert_eq!(many.len(), 5);
    assert_eq!(
        bed.run(&["HRANDFIELD", "h", "1", "x"]),
        Reply::error("ERR syntax error")
    );
    assert!(matches!(
        bed.run(&["HRANDFIELD", "h", "-9223372036854775808"]),
        Reply::Error(_)
    ));
    assert_eq!(
        bed.run(&["HSCAN", "h", "0", "MATCH", "a"]),
        Reply::Array(vec![bulk("0"), Reply::Array(vec![bulk("a"), bulk("1")])])
    );
    assert_eq!(
        bed.run(&["HSCAN", "h", "x"]),
        Reply::error("ERR invalid cursor")
    );
    assert_eq!(
        bed.run(&["HSCAN", "h", "0", "COUNT", "0"]),
        Reply::error("ERR syntax error")
    );
    assert_eq!(
        bed.run(&["HSCAN", "nope", "0", "COUNT", "0"]),
        Reply::Array(vec![bulk("0"), Reply::Array(vec![])])
    );
}
