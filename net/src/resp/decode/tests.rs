use proptest::prelude::*;

use super::*;
use crate::resp::{Protocol, encode};

fn one(input: &[u8]) -> Reply {
    match decode(input) {
        Ok(Some((reply, used))) => {
            assert_eq!(
                used,
                input.len(),
                "consumed for {:?}",
                String::from_utf8_lossy(input)
            );
            reply
        }
        other => panic!("{:?} -> {other:?}", String::from_utf8_lossy(input)),
    }
}

fn err(input: &[u8]) -> DecodeError {
    match decode(input) {
        Err(e) => e,
        other => panic!("{:?} -> {other:?}", String::from_utf8_lossy(input)),
    }
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn resp2_types() {
    assert_eq!(one(b"+OK\r\n"), Reply::OK);
    assert_eq!(one(b"+\r\n"), Reply::status(""));
    assert_eq!(
        one(b"-ERR unknown command\r\n"),
        Reply::error("ERR unknown command")
    );
    assert_eq!(one(b":0\r\n"), Reply::Integer(0));
    assert_eq!(one(b":-42\r\n"), Reply::Integer(-42));
    assert_eq!(one(b":+7\r\n"), Reply::Integer(7));
    assert_eq!(one(b":9223372036854775807\r\n"), Reply::Integer(i64::MAX));
    assert_eq!(one(b":-9223372036854775808\r\n"), Reply::Integer(i64::MIN));
    assert_eq!(one(b"$5\r\nhello\r\n"), bulk("hello"));
    assert_eq!(one(b"$0\r\n\r\n"), bulk(""));
    assert_eq!(one(b"$4\r\na\r\nb\r\n"), bulk("a\r\nb"));
    assert_eq!(one(b"$-1\r\n"), Reply::Nil);
    assert_eq!(one(b"*-1\r\n"), Reply::NilArray);
    assert_eq!(one(b"*0\r\n"), Reply::Array(vec![]));
    assert_eq!(
        one(b"*3\r\n:1\r\n$1\r\nx\r\n*1\r\n$-1\r\n"),
        Reply::Array(vec![
            Reply::Integer(1),
            bulk("x"),
            Reply::Array(vec![Reply::Nil])
        ])
    );
}

#[test]
fn resp3_types() {
    assert_eq!(one(b"_\r\n"), Reply::Nil);
    assert_eq!(one(b",1.5\r\n"), Reply::Double(1.5));
    assert_eq!(one(b",-2\r\n"), Reply::Double(-2.0));
    assert_eq!(one(b",1e300\r\n"), Reply::Double(1e300));
    assert_eq!(one(b",inf\r\n"), Reply::Double(f64::INFINITY));
    assert_eq!(one(b",-inf\r\n"), Reply::Double(f64::NEG_INFINITY));
    assert!(matches!(one(b",nan\r\n"), Reply::Double(d) if d.is_nan()));
    assert_eq!(one(b"#t\r\n"), Reply::Boolean(true));
    assert_eq!(one(b"#f\r\n"), Reply::Boolean(false));
    assert_eq!(
        one(b"(3492890328409238509324850943850943825024385\r\n"),
        Reply::BigNumber("3492890328409238509324850943850943825024385".into())
    );
    assert_eq!(one(b"(-1\r\n"), Reply::BigNumber("-1".into()));
    assert_eq!(
        one(b"=15\r\ntxt:Some string\r\n"),
        Reply::Verbatim("txt", Bytes::from_static(b"Some string"))
    );
    assert_eq!(
        one(b"=6\r\nmkd:# \r\n"),
        Reply::Verbatim("mkd", Bytes::from_static(b"# "))
    );
    assert_eq!(
        one(b"=5\r\nabc:x\r\n"),
        Reply::Verbatim("txt", Bytes::from_static(b"x"))
    );
    assert_eq!(
        one(b"!21\r\nSYNTAX invalid syntax\r\n"),
        Reply::error("SYNTAX invalid syntax")
    );
    assert_eq!(
        one(b"%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n#f\r\n"),
        Reply::Map(vec![
            (Reply::status("first"), Reply::Integer(1)),
            (bulk("second"), Reply::Boolean(false))
        ])
    );
    assert_eq!(one(b"%0\r\n"), Reply::Map(vec![]));
    assert_eq!(
        one(b"~2\r\n:1\r\n_\r\n"),
        Reply::Set(vec![Reply::Integer(1), Reply::Nil])
    );
    assert_eq!(
        one(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
        Reply::Push(vec![bulk("message"), bulk("ch"), bulk("hi")])
    );
}

#[test]
fn attributes_are_skipped() {
    assert_eq!(
        one(b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n:7\r\n"),
        Reply::Integer(7)
    );
    assert_eq!(
        one(b"*2\r\n|0\r\n:1\r\n:2\r\n"),
        Reply::Array(vec![Reply::Integer(1), Reply::Integer(2)])
    );
    assert_eq!(one(b"|0\r\n|0\r\n+x\r\n"), Reply::status("x"));
}

#[test]
fn reports_bytes_consumed_of_the_first_value() {
    assert_eq!(
        decode(b":1\r\n:2\r\n").unwrap(),
        Some((Reply::Integer(1), 4))
    );
    assert_eq!(
        decode(b"*1\r\n+a\r\n+b\r\n").unwrap(),
        Some((Reply::Array(vec![Reply::status("a")]), 8))
    );
}

#[test]
fn zero_copy_bulk() {
    let buf = Bytes::from_static(b"*2\r\n$3\r\nabc\r\n=7\r\ntxt:xyz\r\n");
    let (reply, _) = decode_bytes(&buf).unwrap().unwrap();
    let Reply::Array(items) = reply else { panic!() };
    let Reply::Bulk(b) = &items[0] else { panic!() };
    assert_eq!(b.as_ptr(), buf[8..].as_ptr());
    let Reply::Verbatim("txt", v) = &items[1] else {
        panic!()
    };
    assert_eq!(v.as_ptr(), buf[21..].as_ptr());
}

#[test]
fn every_split_point_is_incomplete_then_complete() {
    let stream: &[u8] =
        b"+OK\r\n-ERR x\r\n:12\r\n$5\r\nhel\rl\r\n$-1\r\n*-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n\
        _\r\n,3.25\r\n#t\r\n(12345\r\n=8\r\ntxt:abcd\r\n%1\r\n+k\r\n~1\r\n:2\r\n>1\r\n+p\r\n\
        |1\r\n+a\r\n+b\r\n:9\r\n!3\r\nERR\r\n*0\r\n";
    let mut expected = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let (reply, used) = decode(&stream[at..]).unwrap().unwrap();
        expected.push((at, reply, used));
        at += used;
    }
    assert_eq!(expected.len(), 17);
    for (start, reply, used) in &expected {
        let frame = &stream[*start..];
        for cut in 0..*used {
            assert_eq!(
                decode(&frame[..cut]).unwrap(),
                None,
                "value at {start}, cut {cut}"
            );
        }
        // A resumable scanner fed one byte more per call agrees.
        let mut scanner = FrameScanner::new();
        for cut in 0..*used {
            assert_eq!(scanner.scan(&frame[..cut]).unwrap(), None);
        }
        assert_eq!(scanner.scan(frame).unwrap(), Some(*used));
        let (again, n) = decode(&frame[..*used]).unwrap().unwrap();
        assert_eq!((&again, n), (reply, *used));
    }
}

#[test]
fn invalid_input() {
    assert_eq!(err(b"?\r\n"), DecodeError::InvalidType('?'));
    assert_eq!(err(b":12a\r\n"), DecodeError::InvalidInteger);
    assert_eq!(
        err(b":99999999999999999999\r\n"),
        DecodeError::InvalidInteger
    );
    assert_eq!(err(b":1\rx"), DecodeError::MissingCrlf("integer"));
    assert_eq!(err(b"$3\r\nabcde"), DecodeError::MissingCrlf("bulk string"));
    assert_eq!(decode(b"$3\r\nabc").unwrap(), None);
    assert_eq!(decode(b"$3\r\nabc\r").unwrap(), None);
    assert_eq!(err(b"$3\r\nabcd"), DecodeError::MissingCrlf("bulk string"));
    assert_eq!(
        err(b"$3\r\nabc\rx"),
        DecodeError::MissingCrlf("bulk string")
    );
    assert_eq!(
        err(b"$-2\r\n"),
        DecodeError::NegativeLength {
            kind: "bulk string",
            len: -2
        }
    );
    assert_eq!(err(b"$x\r\n"), DecodeError::InvalidLength("bulk string"));
    assert_eq!(err(b"$?\r\n"), DecodeError::Streamed);
    assert_eq!(
        err(b"%-1\r\n"),
        DecodeError::NegativeLength {
            kind: "map",
            len: -1
        }
    );
    assert_eq!(err(b"#x\r\n"), DecodeError::InvalidBoolean);
    assert_eq!(err(b"#tt"), DecodeError::InvalidBoolean);
    assert_eq!(err(b"_x"), DecodeError::InvalidNull);
    assert_eq!(err(b",abc\r\n"), DecodeError::InvalidDouble);
    assert_eq!(err(b",infinity\r\n"), DecodeError::InvalidDouble);
    assert_eq!(err(b"(12a\r\n"), DecodeError::InvalidBigNumber);
    assert_eq!(err(b"=3\r\ntxt\r\n"), DecodeError::InvalidVerbatim);
    assert_eq!(err(b"=4\r\ntxtx\r\n"), DecodeError::InvalidVerbatim);
    // A length line can't run on forever waiting for its CRLF.
    assert_eq!(err(&[b'*'; 100]), DecodeError::LineTooLong("array"));
    assert_eq!(
        err(b"$1111111111111111111111111111111111111"),
        DecodeError::LineTooLong("bulk string")
    );
}

#[test]
fn caps_before_allocating() {
    assert_eq!(
        err(b"$536870913\r\n"),
        DecodeError::BulkTooLong(536_870_913)
    );
    assert_eq!(decode(b"$536870912\r\nabc").unwrap(), None);
    assert_eq!(
        err(b"*4294967297\r\n"),
        DecodeError::AggregateTooLong(4_294_967_297)
    );
    // A huge announced count with few elements present is just incomplete.
    assert_eq!(decode(b"*4294967296\r\n:1\r\n:2\r\n").unwrap(), None);
    assert_eq!(decode(b"%4294967296\r\n").unwrap(), None);
}

#[test]
fn nesting_is_limited() {
    let nested = |depth: usize| {
        let mut v = b"*1\r\n".repeat(depth);
        v.extend_from_slice(b":1\r\n");
        v
    };
    assert!(matches!(decode(&nested(MAX_DEPTH)), Ok(Some(_))));
    assert_eq!(
        decode(&nested(MAX_DEPTH + 1)).unwrap_err(),
        DecodeError::TooDeep
    );
    // Deep input that never completes still errors, without recursion.
    assert_eq!(
        decode(&b"*1\r\n".repeat(100_000)).unwrap_err(),
        DecodeError::TooDeep
    );
    assert_eq!(
        decode(&b"|1\r\n".repeat(200)).unwrap_err(),
        DecodeError::TooDeep
    );
    let mut empty_at_limit = b"*1\r\n".repeat(MAX_DEPTH);
    empty_at_limit.extend_from_slice(b"*0\r\n");
    assert_eq!(decode(&empty_at_limit).unwrap_err(), DecodeError::TooDeep);
}

fn text_line() -> impl Strategy<Value = String> {
    "[^\r\n]{0,20}"
}

fn arb_reply() -> impl Strategy<Value = Reply> {
    let leaf = prop_oneof![
        text_line().prop_map(|s| Reply::Status(s.into())),
        text_line().prop_map(|s| Reply::Error(s.into())),
        any::<i64>().prop_map(Reply::Integer),
        prop::collection::vec(any::<u8>(), 0..24).prop_map(|b| Reply::Bulk(b.into())),
        Just(Reply::Nil),
        prop::num::f64::NORMAL.prop_map(Reply::Double),
        Just(Reply::Double(0.0)),
        Just(Reply::Double(f64::INFINITY)),
        Just(Reply::Double(f64::NEG_INFINITY)),
        any::<bool>().prop_map(Reply::Boolean),
        prop::collection::vec(any::<u8>(), 0..24).prop_map(|b| Reply::Verbatim("txt", b.into())),
        "-?[1-9][0-9]{0,40}".prop_map(Reply::BigNumber),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Reply::Array),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Reply::Set),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Reply::Push),
            prop::collection::vec((inner.clone(), inner), 0..4).prop_map(Reply::Map),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
        let _ = decode_bytes(&Bytes::from(bytes));
    }

    #[test]
    fn mangled_frames_never_panic(reply in arb_reply(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut buf = Vec::new();
        encode(&reply, Protocol::Resp3, &mut buf);
        let i = at.index(buf.len());
        buf[i] = byte;
        let _ = decode(&buf);
        let _ = decode(&buf[..i]);
    }

    #[test]
    fn round_trips_through_encode(reply in arb_reply(), trailing in prop::collection::vec(any::<u8>(), 0..8)) {
        let mut buf = Vec::new();
        encode(&reply, Protocol::Resp3, &mut buf);
        let len = buf.len();
        buf.extend_from_slice(&trailing);
        let (decoded, used) = decode(&buf).unwrap().unwrap();
        prop_assert_eq!(used, len);
        prop_assert_eq!(&decoded, &reply);
        let bytes = Bytes::from(buf);
        prop_assert_eq!(decode_bytes(&bytes).unwrap().unwrap(), (reply.clone(), len));
        prop_assert_eq!(decode(&bytes[..len - 1]).unwrap(), None);
    }
}
