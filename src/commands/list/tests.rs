use kiln_net::Reply;

use crate::commands::testbed::TestBed;

fn bulk(s: &str) -> Reply {
    TestBed::bulk(s)
}

fn bulks(items: &[&str]) -> Reply {
    Reply::Array(items.iter().map(|s| bulk(s)).collect())
}

#[test]
fn push_pop_range_and_encodings() {
    let mut bed = TestBed::new();
    assert_eq!(bed.run(&["RPUSH", "l", "a", "b", "c"]), Reply::Integer(3));
    assert_eq!(bed.run(&["LPUSH", "l", "z"]), Reply::Integer(4));
    assert_eq!(
        bed.run(&["LRANGE", "l", "0", "-1"]),
        bulks(&["z", "a", "b", "c"])
    );
    assert_eq!(bed.run(&["OBJECT", "ENCODING", "l"]), bulk("listpack"));
    assert_eq!(bed.run(&["LPOP", "l"]), bulk("z"));
    assert_eq!(bed.run(&["RPOP", "l", "2"]), bulks(&["c", "b"]));
    assert_eq!(bed.run(&["LPOP", "l", "0"]), Reply::Array(vec![]));
    assert_eq!(bed.run(&["LPOP", "nokey", "0"]), Reply::NilArray);
    assert_eq!(bed.run(&["LPOP", "nokey"]), Reply::Nil);
    assert_eq!(
        bed.run(&["LPOP", "l", "-1"]),
        Reply::error("ERR value is out of range, must be positive")
    );
    assert_eq!(
        bed.run(&["LPOP", "l", "1", "2"]),
        Reply::error("ERR wrong number of arguments for 'lpop' command")
    );
    assert_eq!(bed.run(&["RPOP", "l", "5"]), bulks(&["a"]));
    assert_eq!(bed.run(&["EXISTS", "l"]), Reply::Integer(0));
    assert_eq!(bed.run(&["LPUSHX", "l", "x"]), Reply::Integer(0));
    let big = "v".repeat(9000);
    assert_eq!(bed.run(&["RPUSH", "l", &big]), Reply::Integer(1));
    assert_eq!(bed.run(&["OBJECT", "ENCODING", "l"]), bulk("quicklist"));
}

#[test]
fn argument_order_decides_the_error() {
    let mut bed = TestBed::new();
    bed.run(&["SET", "s", "x"]);
    let wrongtype =
        Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value");
    let not_int = Reply::error("ERR value is not an integer or out of range");
    assert_eq!(bed.run(&["LINDEX", "nokey", "x"]), Reply::Nil);
    assert_eq!(bed.run(&["LINDEX", "s", "x"]), wrongtype);
    assert_eq!(
        bed.run(&["LSET", "nokey", "x", "v"]),
        Reply::error("ERR no such key")
    );
    assert_eq!(bed.run(&["LSET", "s", "x", "v"]), wrongtype);
    assert_eq!(bed.run(&["LRANGE", "nokey", "x", "1"]), not_int);
    assert_eq!(bed.run(&["LRANGE", "s", "0", "1"]), wrongtype);
    bed.run(&["RPUSH", "l", "a"]);
    assert_eq!(bed.run(&["LINDEX", "l", "x"]), not_int);
    assert_eq!(
        bed.run(&["LSET", "l", "1", "v"]),
        Reply::error("ERR index out of range")
    );
    assert_eq!(
        bed.run(&["LINSERT", "l", "middle", "a", "b"]),
        Reply::error("ERR syntax error")
    );
    assert_eq!(
        bed.run(&["LINSERT", "l", "AFTER", "a", "b"]),
        Reply::Integer(2)
    );
    assert_eq!(
        bed.run(&["LINSERT", "l", "AFTER", "q", "b"]),
        Reply::Integer(-1)
    );
    assert_eq!(
        bed.run(&["LREM", "l", "-9223372036854775808", "a"]),
        Reply::error(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
        )
    );
    assert_eq!(
        bed.run(&["LMOVE", "l", "d", "UP", "LEFT"]),
        Reply::error("ERR syntax error")
    );
    assert_eq!(bed.run(&["LMOVE", "l", "s", "LEFT", "LEFT"]), wrongtype);
    assert_eq!(
        bed.run(&["LMOVE", "nokey", "s", "LEFT", "LEFT"]),
        Reply::Nil
    );
}

#[test]
fn lpos_and_lmpop() {
    let mut bed = TestBed::new();
    bed.run(&["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"]);
    assert_eq!(bed.run(&["LPOS", "l", "c"]), Reply::Integer(2));
    assert_eq!(
        bed.run(&["LPOS", "l", "c", "RANK", "-1"]),
        Reply::Integer(7)
    );
    assert_eq!(
        bed.run(&["LPOS", "l", "c", "COUNT", "0", "RANK", "2"]),
        Reply::Array(vec![Reply::Integer(6), Reply::Integer(7)])
    );
    assert_eq!(bed.run(&["LPOS", "l", "c", "MAXLEN", "2"]), Reply::Nil);
    assert_eq!(
        bed.run(&["LPOS", "nokey", "c", "COUNT", "1"]),
        Reply::Array(vec![])
    );
    assert!(
        matches!(bed.run(&["LPOS", "l", "c", "RANK", "0"]), Reply::Error(e) if e.starts_with("ERR RANK can't be zero"))
    );
    assert_eq!(
        bed.run(&["LPOS", "l", "c", "COUNT", "-1"]),
        Reply::error("ERR COUNT can't be negative")
    );
    assert_eq!(
        bed.run(&["LPOS", "l", "c", "MAXLEN"]),
        Reply::error("ERR syntax error")
    );
    assert_eq!(
        bed.run(&["LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "2"]),
        Reply::Array(vec![bulk("l"), bulks(&["c", "c"])])
    );
    assert_eq!(bed.run(&["LMPOP", "1", "nokey", "LEFT"]), Reply::NilArray);
    assert_eq!(
        bed.run(&["LMPOP", "0", "l", "LEFT"]),
        Reply::error("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        bed.run(&["LMPOP", "1", "l", "LEFT", "COUNT", "0"]),
        Reply::error("ERR count should be greater than 0")
    );
    assert_eq!(
        bed.run(&["LMPOP", "3", "l", "LEFT"]),
        Reply::error("ERR syntax error")
    );
}
