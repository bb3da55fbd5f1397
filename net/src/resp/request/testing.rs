//! Parsing a whole byte stream the way a connection does, for the parser's
//! property tests and the `resp_request` fuzz target (feature `testing`).

use super::{ParseLimits, ProtocolError, RequestParser};

/// One command found in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Framed as a multibulk array (`*...`), not an inline line.
    pub multibulk: bool,
    /// Its arguments.
    pub args: Vec<Vec<u8>>,
}

/// Feeds `input` to one parser `chunk` bytes at a time, keeping unparsed
/// bytes at the front of the buffer as a connection does. Returns the
/// commands found and how parsing stopped: the protocol error, or `None`
/// when the rest is an incomplete frame.
///
/// # Panics
/// If the parser reports consuming no bytes or more than it was given.
pub fn parse_in_chunks(
    limits: ParseLimits,
    input: &[u8],
    chunk: usize,
) -> (Vec<Parsed>, Option<ProtocolError>) {
    let chunk = chunk.max(1);
    let mut parser = RequestParser::new(limits);
    let (mut start, mut fed) = (0, chunk.min(input.len()));
    let mut commands = Vec::new();
    loop {
        let buf = &input[start..fed];
        match parser.parse(buf) {
            Ok(Some(n)) => {
                assert!(n > 0 && n <= buf.len(), "consumed {n} of {}", buf.len());
                commands.push(Parsed {
                    multibulk: buf[0] == b'*',
                    args: parser.args(buf).iter().map(<[u8]>::to_vec).collect(),
                });
                start += n;
            }
            Ok(None) if fed < input.len() => fed = (fed + chunk).min(input.len()),
            Ok(None) => return (commands, None),
            Err(err) => return (commands, Some(err)),
        }
    }
}
