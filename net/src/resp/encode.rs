//! Writing replies (and requests) in RESP2 or RESP3.
//!
//! The `write_*` functions are the building blocks the command layer may also
//! call directly on a hot path (a GET reply is one [`write_bulk`]);
//! [`encode`] walks a whole [`Reply`].

use super::{Protocol, Reply};

/// Appends `reply` to `out` in protocol `proto`.
pub fn encode(reply: &Reply, proto: Protocol, out: &mut Vec<u8>) {
    let resp3 = proto == Protocol::Resp3;
    match reply {
        Reply::Status(s) => write_line(out, b'+', s.as_bytes()),
        Reply::Error(e) => write_line(out, b'-', e.as_bytes()),
        Reply::Integer(n) => write_int(out, *n),
        Reply::Bulk(b) => write_bulk(out, b),
        Reply::Nil if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
        Reply::NilArray if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
        Reply::Array(items) => {
            write_header(out, b'*', items.len());
            items.iter().for_each(|r| encode(r, proto, out));
        }
        Reply::Set(items) => {
            write_header(out, if resp3 { b'~' } else { b'*' }, items.len());
            items.iter().for_each(|r| encode(r, proto, out));
        }
        Reply::Push(items) => {
            write_header(out, if resp3 { b'>' } else { b'*' }, items.len());
            items.iter().for_each(|r| encode(r, proto, out));
        }
        Reply::Map(pairs) => {
            if resp3 {
                write_header(out, b'%', pairs.len());
            } else {
                write_header(out, b'*', pairs.len() * 2);
            }
            for (k, v) in pairs {
                encode(k, proto, out);
                encode(v, proto, out);
            }
        }
        Reply::KeyedArrays(pairs) => {
            if resp3 {
                write_header(out, b'%', pairs.len());
            } else {
                write_header(out, b'*', pairs.len());
            }
            for (k, v) in pairs {
                if !resp3 {
                    write_header(out, b'*', 2);
                }
                encode(k, proto, out);
                encode(v, proto, out);
            }
        }
        Reply::Pairs(pairs) => {
            if resp3 {
                write_header(out, b'*', pairs.len());
            } else {
                write_header(out, b'*', pairs.len() * 2);
            }
            for (a, b) in pairs {
                if resp3 {
                    write_header(out, b'*', 2);
                }
                encode(a, proto, out);
                encode(b, proto, out);
            }
        }
        Reply::Double(d) => {
            let mut buf = ryu::Buffer::new();
            let text = format_double(*d, &mut buf);
            if resp3 {
                write_line(out, b',', text.as_bytes());
            } else {
                write_bulk(out, text.as_bytes());
            }
        }
        Reply::Boolean(b) if resp3 => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
        Reply::Boolean(b) => write_int(out, *b as i64),
        Reply::Verbatim(format, text) if resp3 => {
            write_header(out, b'=', text.len() + 4);
            out.extend_from_slice(format.as_bytes());
            out.push(b':');
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Verbatim(_, text) => write_bulk(out, text),
        Reply::BigNumber(n) if resp3 => write_line(out, b'(', n.as_bytes()),
        Reply::BigNumber(n) => write_bulk(out, n.as_bytes()),
    }
}

/// Appends a request (`*N` of bulk strings), the form clients send.
pub fn encode_request<A: AsRef<[u8]>>(args: &[A], out: &mut Vec<u8>) {
    write_header(out, b'*', args.len());
    for a in args {
        write_bulk(out, a.as_ref());
    }
}

/// `$<len>\r\n<bytes>\r\n`
pub fn write_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    write_header(out, b'$', bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// `:<n>\r\n`
pub fn write_int(out: &mut Vec<u8>, n: i64) {
    out.push(b':');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// An aggregate or bulk header: `<kind><len>\r\n`.
pub fn write_header(out: &mut Vec<u8>, kind: u8, len: usize) {
    out.push(kind);
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A one-line reply (`+`, `-`, `,`, `(`). CR and LF would end the line early
/// and desynchronise the client, so they become spaces, as Redis does.
fn write_line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.push(kind);
    out.extend(
        text.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    out.extend_from_slice(b"\r\n");
}

/// [`format_double`] into an owned string (a score sent as a bulk string,
/// as ZSCAN does).
pub fn double_text(d: f64) -> String {
    let mut buf = ryu::Buffer::new();
    format_double(d, &mut buf).to_owned()
}

/// Doubles as Redis prints them: `inf`, `-inf`, `nan`, integers without a
/// fraction, otherwise the shortest text that reads back the same value.
pub fn format_double(d: f64, buf: &mut ryu::Buffer) -> &str {
    if d.is_nan() {
        "nan"
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }
    } else {
        let text = buf.format_finite(d);
        text.strip_suffix(".0").unwrap_or(text)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn enc(r: &Reply, proto: Protocol) -> String {
        let mut out = Vec::new();
        encode(r, proto, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn scalars() {
        use Protocol::*;
        assert_eq!(enc(&Reply::OK, Resp2), "+OK\r\n");
        assert_eq!(
            enc(&Reply::error("ERR bad\r\nthing"), Resp2),
            "-ERR bad  thing\r\n"
        );
        assert_eq!(enc(&Reply::Integer(-7), Resp2), ":-7\r\n");
        assert_eq!(
            enc(&Reply::Bulk(Bytes::from_static(b"hi")), Resp3),
            "$2\r\nhi\r\n"
        );
        assert_eq!(enc(&Reply::Nil, Resp2), "$-1\r\n");
        assert_eq!(enc(&Reply::Nil, Resp3), "_\r\n");
        assert_eq!(enc(&Reply::NilArray, Resp2), "*-1\r\n");
        assert_eq!(enc(&Reply::Double(1.5), Resp3), ",1.5\r\n");
        assert_eq!(enc(&Reply::Double(3.0), Resp2), "$1\r\n3\r\n");
        assert_eq!(enc(&Reply::Double(f64::INFINITY), Resp3), ",inf\r\n");
        assert_eq!(enc(&Reply::Boolean(true), Resp3), "#t\r\n");
        assert_eq!(enc(&Reply::Boolean(false), Resp2), ":0\r\n");
    }

    #[test]
    fn aggregates_by_protocol() {
        let map = Reply::Map(vec![(Reply::status("a"), Reply::Integer(1))]);
        assert_eq!(enc(&map, Protocol::Resp3), "%1\r\n+a\r\n:1\r\n");
        assert_eq!(enc(&map, Protocol::Resp2), "*2\r\n+a\r\n:1\r\n");
        let pairs = Reply::Pairs(vec![(Reply::Integer(1), Reply::Double(1.5))]);
        assert_eq!(enc(&pairs, Protocol::Resp3), "*1\r\n*2\r\n:1\r\n,1.5\r\n");
        assert_eq!(enc(&pairs, Protocol::Resp2), "*2\r\n:1\r\n$3\r\n1.5\r\n");
        let set = Reply::Set(vec![Reply::Integer(1)]);
        assert_eq!(enc(&set, Protocol::Resp3), "~1\r\n:1\r\n");
        assert_eq!(enc(&set, Protocol::Resp2), "*1\r\n:1\r\n");
        let v = Reply::Verbatim("txt", Bytes::from_static(b"hello"));
        assert_eq!(enc(&v, Protocol::Resp3), "=9\r\ntxt:hello\r\n");
        assert_eq!(enc(&v, Protocol::Resp2), "$5\r\nhello\r\n");
    }

    #[test]
    fn request_encoding() {
        let mut out = Vec::new();
        encode_request(&["SET", "k", ""], &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }
}
