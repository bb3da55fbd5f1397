use kiln_net::Reply;

use crate::commands::testbed::TestBed;

fn bulk(s: &str) -> Reply {
    TestBed::bulk(s)
}

#[test]
fn add_range_and_scores() {
    let mut bed = TestBed::new();
    assert_eq!(
        bed.run(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]),
        Reply::Integer(3)
    );
    assert_eq!(
        bed.run(&["ZADD", "z", "NX", "XX", "1", "a"]),
        Reply::error("ERR XX and NX options at the same time are not compatible")
    );
    assert_eq!(
        bed.run(&["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        Reply::error("ERR INCR option supports a single increment-element pair")
    );
    assert_eq!(
        bed.run(&["ZADD", "z", "1", "a", "2"]),
        Reply::error("ERR syntax error")
    );
    assert_eq!(
        bed.run(&["ZADD", "z", "x", "a"]),
        Reply::error("ERR value is not a valid float")
    );
    assert_eq!(
        bed.run(&["ZADD", "z", "INCR", "1.5", "a"]),
        Reply::Double(2.5)
    );
    assert_eq!(bed.run(&["ZINCRBY", "z", "-1", "c"]), Reply::Double(2.0));
    assert_eq!(bed.run(&["ZSCORE", "z", "a"]), Reply::Double(2.5));
    assert_eq!(
        bed.run(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        Reply::Pairs(vec![
            (bulk("b"), Reply::Double(2.0)),
            (bulk("c"), Reply::Double(2.0)),
            (bulk("a"), Reply::Double(2.5)),
        ])
    );
    assert_eq!(
        bed.run(&["ZRANGE", "z", "+inf", "(2", "BYSCORE", "REV"]),
        Reply::Array(vec![bulk("a")])
    );
    assert_eq!(
        bed.run(&["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
        Reply::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    assert_eq!(
        bed.run(&["ZRANGEBYSCORE", "z", "x", "1"]),
        Reply::error("ERR min or max is not a float")
    );
    assert_eq!(
        bed.run(&["ZRANGEBYLEX", "z", "a", "+"]),
        Reply::error("ERR min or max not valid string range item")
    );
    assert_eq!(
        bed.run(&["ZRANK", "z", "a", "WITHSCORE"]),
        Reply::Array(vec![Reply::Integer(2), Reply::Double(2.5)])
    );
    assert_eq!(bed.run(&["ZREVRANK", "z", "a"]), Reply::Integer(0));
    assert_eq!(
        bed.run(&["ZRANK", "z", "nope", "WITHSCORE"]),
        Reply::NilArray
    );
    assert_eq!(bed.run(&["ZCOUNT", "z", "(2", "+inf"]), Reply::Integer(1));
    assert_eq!(
        bed.run(&["ZRANGESTORE", "d", "z", "0", "0"]),
        Reply::Integer(1)
    );
    assert_eq!(
        bed.run(&["ZPOPMAX", "z"]),
        Reply::Array(vec![bulk("a"), Reply::Double(2.5)])
    );
    assert_eq!(
        bed.run(&["ZPOPMIN", "z", "5"]),
        Reply::Pairs(vec![
            (bulk("b"), Reply::Double(2.0)),
            (bulk("c"), Reply::Double(2.0))
        ])
    );
    assert_eq!(bed.run(&["EXISTS", "z"]), Reply::Integer(0));
    assert_eq!(bed.run(&["TYPE", "d"]), Reply::status("zset"));
    assert_eq!(bed.run(&["OBJECT", "ENCODING", "d"]), bulk("listpack"));
}

#[test]
fn combinations_pops_and_wrongtype() {
    let mut bed = TestBed::new();
    bed.run(&["ZADD", "{z}a", "1", "x", "2", "y"]);
    bed.run(&["SADD", "{z}s", "y"]);
    assert_eq!(
        bed.run(&[
            "ZUNION",
            "2",
            "{z}a",
            "{z}s",
            "WEIGHTS",
            "1",
            "3",
            "WITHSCORES"
        ]),
        Reply::Pairs(vec![
            (bulk("x"), Reply::Double(1.0)),
            (bulk("y"), Reply::Double(5.0))
        ])
    );
    assert_eq!(
        bed.run(&[
            "ZINTERSTORE",
            "{z}d",
            "2",
            "{z}a",
            "{z}s",
            "AGGREGATE",
            "MIN"
        ]),
        Reply::Integer(1)
    );
    assert_eq!(bed.run(&["ZSCORE", "{z}d", "y"]), Reply::Double(1.0));
    assert_eq!(
        bed.run(&["ZINTERCARD", "2", "{z}a", "{z}s"]),
        Reply::Integer(1)
    );
    assert_eq!(
        bed.run(&["ZUNION", "0", "{z}a"]),
        Reply::error("ERR at least 1 input key is needed for 'zunion' command")
    );
    assert_eq!(
        bed.run(&["ZMPOP", "2", "{z}nokey", "{z}a", "MAX", "COUNT", "5"]),
        Reply::Array(vec![
            bulk("{z}a"),
            Reply::Array(vec![
                Reply::Array(vec![bulk("y"), Reply::Double(2.0)]),
                Reply::Array(vec![bulk("x"), Reply::Double(1.0)]),
            ]),
        ])
    );
    assert_eq!(bed.run(&["ZMPOP", "1", "{z}a", "MIN"]), Reply::NilArray);
    assert_eq!(
        bed.run(&["ZMPOP", "1", "{z}a", "MIN", "COUNT", "0"]),
        Reply::error("ERR count should be greater than 0")
    );
    bed.run(&["SET", "str", "v"]);
    let wrong = Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value");
    for cmd in [
        &["ZADD", "str", "1", "a"][..],
        &["ZRANGE", "str", "0", "1"],
        &["ZSCORE", "str", "a"],
        &["ZPOPMIN", "str"],
        &["ZSCAN", "str", "0"],
        &["ZRANDMEMBER", "str"],
        &["ZREMRANGEBYRANK", "str", "0", "1"],
    ] {
        assert_eq!(bed.run(cmd), wrong, "{cmd:?}");
    }
}
