use super::*;

fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
    let mut parser = RequestParser::new(ParseLimits::default());
    let mut buf = input;
    let mut out = Vec::new();
    while let Some(n) = parser.parse(buf)? {
        let args = parser.args(buf);
        if !args.is_empty() {
            out.push(args.iter().map(<[u8]>::to_vec).collect());
        }
        buf = &buf[n..];
    }
    Ok(out)
}

fn cmd(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

#[test]
fn multibulk_and_inline() {
    let got = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nSET a \"b c\"\r\nPING\n").unwrap();
    assert_eq!(
        got,
        vec![
            cmd(&["GET", "k"]),
            cmd(&["SET", "a", "b c"]),
            cmd(&["PING"])
        ]
    );
}

#[test]
fn binary_bulk_is_verbatim() {
    let got = parse_all(b"*2\r\n$4\r\na\r\n\0\r\n$0\r\n\r\n").unwrap();
    assert_eq!(got, vec![vec![b"a\r\n\0".to_vec(), Vec::new()]]);
}

#[test]
fn every_split_point_of_a_pipeline() {
    let input: &[u8] =
        b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n*1\r\n$4\r\nPING\r\nECHO 'x y'\r\n*0\r\n*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
    let expected = parse_all(input).unwrap();
    assert_eq!(expected.len(), 4);
    for split in 0..=input.len() {
        // Feed the bytes in two reads, as a socket might deliver them.
        let mut parser = RequestParser::new(ParseLimits::default());
        let mut buf: Vec<u8> = input[..split].to_vec();
        let mut got = Vec::new();
        let mut fed = split;
        loop {
            match parser.parse(&buf).unwrap() {
                Some(n) => {
                    let args = parser.args(&buf);
                    if !args.is_empty() {
                        got.push(args.iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
                    }
                    buf.drain(..n);
                }
                None if fed < input.len() => {
                    buf.extend_from_slice(&input[fed..]);
                    fed = input.len();
                }
                None => break,
            }
        }
        assert_eq!(got, expected, "split at {split}");
    }
}

#[test]
fn byte_at_a_time() {
    let input: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$10\r\n0123456789\r\n";
    let mut parser = RequestParser::new(ParseLimits::default());
    for end in 1..input.len() {
        assert_eq!(parser.parse(&input[..end]).unwrap(), None, "end {end}");
    }
    assert_eq!(parser.parse(input).unwrap(), Some(input.len()));
    assert_eq!(parser.args(input).get(2), b"0123456789");
}

#[test]
fn protocol_errors_match_redis() {
    let err = |input: &[u8]| parse_all(input).unwrap_err().to_string();
    assert_eq!(err(b"*x\r\n"), "Protocol error: invalid multibulk length");
    assert_eq!(
        err(b"*3000000000\r\n"),
        "Protocol error: invalid multibulk length"
    );
    assert_eq!(
        err(b"*1\r\n+foo\r\n"),
        "Protocol error: expected '$', got '+'"
    );
    assert_eq!(err(b"*1\r\n$-5\r\n"), "Protocol error: invalid bulk length");
    assert_eq!(
        err(b"*1\r\n$629145600\r\n"),
        "Protocol error: invalid bulk length"
    );
    assert_eq!(
        err(b"*1\r\n$abc\r\n"),
        "Protocol error: invalid bulk length"
    );
    assert_eq!(
        err(b"SET \"a b\r\n"),
        "Protocol error: unbalanced quotes in request"
    );
    assert_eq!(
        err(b"GET \"a\"b\r\n"),
        "Protocol error: unbalanced quotes in request"
    );
    let long = vec![b'a'; INLINE_MAX + 1];
    assert_eq!(err(&long), "Protocol error: too big inline request");
    let mut count = b"*".to_vec();
    count.extend(std::iter::repeat_n(b'1', INLINE_MAX + 1));
    assert_eq!(err(&count), "Protocol error: too big mbulk count string");
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(std::iter::repeat_n(b'1', INLINE_MAX + 1));
    assert_eq!(err(&bulk), "Protocol error: too big bulk count string");
}

#[test]
fn oversize_header_is_rejected_before_the_body_arrives() {
    // A 600 MB bulk header with no body: the error comes at once.
    let mut parser = RequestParser::new(ParseLimits::default());
    let r = parser.parse(b"*2\r\n$3\r\nSET\r\n$600000000\r\n");
    assert_eq!(r, Err(ProtocolError::InvalidBulkLength));
}

#[test]
fn huge_declared_count_allocates_nothing_up_front() {
    let mut parser = RequestParser::new(ParseLimits::default());
    assert_eq!(parser.parse(b"*2000000000\r\n$1\r\na\r\n").unwrap(), None);
    assert!(parser.spans.capacity() < 1024);
}

#[test]
fn unauthenticated_limits() {
    let limits = ParseLimits {
        authenticated: false,
        ..ParseLimits::default()
    };
    let mut parser = RequestParser::new(limits);
    assert_eq!(
        parser.parse(b"*11\r\n"),
        Err(ProtocolError::UnauthenticatedMultibulkLength)
    );
    let mut parser = RequestParser::new(limits);
    assert_eq!(
        parser.parse(b"*1\r\n$16385\r\n"),
        Err(ProtocolError::UnauthenticatedBulkLength)
    );
}

#[test]
fn empty_commands_are_consumed() {
    let mut parser = RequestParser::new(ParseLimits::default());
    assert_eq!(parser.parse(b"*0\r\n").unwrap(), Some(4));
    assert!(parser.args(b"").is_empty());
    assert_eq!(parser.parse(b"*-1\r\n").unwrap(), Some(5));
    assert_eq!(parser.parse(b"   \r\n").unwrap(), Some(5));
    assert!(parser.args(b"").is_empty());
}

#[test]
fn split_args_like_redis_cli() {
    let s = |l: &str| split_args(l.as_bytes());
    assert_eq!(s("set a b"), Some(cmd(&["set", "a", "b"])));
    assert_eq!(
        s("  set   \"a b\"  'c d' "),
        Some(cmd(&["set", "a b", "c d"]))
    );
    assert_eq!(s(r#""\x41\n\"" 'it\'s'"#), Some(cmd(&["A\n\"", "it's"])));
    assert_eq!(s(r#"a"b c"d"#), None);
    assert_eq!(s(r#"a"b c""#), Some(cmd(&["ab c"])));
    assert_eq!(s("\"open"), None);
    assert_eq!(s("'open"), None);
    assert_eq!(s(""), Some(vec![]));
    assert_eq!(s(r#""\xZZ""#), Some(cmd(&["xZZ"])));
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let mut parser = RequestParser::new(ParseLimits::default());
        let mut buf = &input[..];
        while let Ok(Some(n)) = parser.parse(buf) {
            let args = parser.args(buf);
            for a in args.iter() { let _ = a.len(); }
            proptest::prop_assert!(n > 0 && n <= buf.len());
            buf = &buf[n..];
        }
    }

    #[test]
    fn encoded_requests_parse_back(
        cmds in proptest::collection::vec(
            proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..40), 1..6),
            1..6),
        split in 0usize..2000,
    ) {
        let mut wire = Vec::new();
        for c in &cmds { crate::resp::encode_request(c, &mut wire); }
        let split = split % (wire.len() + 1);
        let mut parser = RequestParser::new(ParseLimits::default());
        let mut buf = wire[..split].to_vec();
        let mut got = Vec::new();
        let mut fed = split;
        loop {
            match parser.parse(&buf).unwrap() {
                Some(n) => {
                    got.push(parser.args(&buf).iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
                    buf.drain(..n);
                }
                None if fed < wire.len() => { buf.extend_from_slice(&wire[fed..]); fed = wire.len(); }
                None => break,
            }
        }
        proptest::prop_assert_eq!(got, cmds);
    }
}

/// Frames, fragments of frames and noise: inputs that reach deep into the
/// parser far more often than uniform random bytes.
fn wire_soup() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let piece = prop_oneof![
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 0..5).prop_map(
            |args| {
                let mut wire = Vec::new();
                crate::resp::encode_request(&args, &mut wire);
                wire
            }
        ),
        proptest::sample::select(vec![
            &b"*"[..],
            b"$",
            b"\r\n",
            b"*-1\r\n",
            b"$-1\r\n",
            b"*2147483648\r\n",
            b"$99999999999\r\n",
            b"\"",
            b"'",
            b"\\x4",
            b" ",
            b"PING\r\n",
            b"\0",
        ])
        .prop_map(<[u8]>::to_vec),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest::proptest! {
    /// With tight limits, whatever the bytes: no panic, and the same
    /// commands and error whether the bytes come whole or split.
    #[test]
    fn split_delivery_parses_like_whole_delivery(
        input in wire_soup(),
        max_bulk_len in 1usize..40,
        max_multibulk_len in 1usize..8,
        authenticated in proptest::bool::ANY,
        chunk in 1usize..16,
    ) {
        let limits = ParseLimits { max_bulk_len, max_multibulk_len, authenticated };
        let whole = testing::parse_in_chunks(limits, &input, input.len());
        proptest::prop_assert_eq!(testing::parse_in_chunks(limits, &input, chunk), whole);
    }
}
