//! The request framer on arbitrary bytes: never panics, every consumed
//! length is within the input, declared lengths obey the limits, and the
//! same bytes arriving in pieces give the same commands as arriving whole.

#![no_main]

use kiln_net::resp::request::INLINE_MAX;
use kiln_net::resp::{ParseLimits, ProtocolError, RequestParser};
use libfuzzer_sys::fuzz_target;

/// The commands found, then how parsing stopped (an error, or `None` when
/// the rest was an incomplete frame).
type Outcome = (Vec<Vec<Vec<u8>>>, Option<ProtocolError>);

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    // The first byte picks the limits, so small caps are hit often.
    let limits = ParseLimits {
        max_bulk_len: 1 + usize::from(knobs & 0x3f),
        max_multibulk_len: 1 + usize::from(knobs >> 6) * 4,
        authenticated: knobs & 0x20 == 0,
    };
    let whole = parse_all(limits, input, input.len().max(1));
    // Split delivery may only differ once a line outgrows INLINE_MAX, where
    // "too big" depends on when the newline arrives (as in Redis).
    if input.len() <= INLINE_MAX {
        for chunk in [1, 2, 7, 64] {
            assert_eq!(parse_all(limits, input, chunk), whole, "chunk {chunk}");
        }
    }
});

/// Feeds `input` to one parser `chunk` bytes at a time, the way a
/// connection does: the unparsed tail stays at the front of the buffer.
fn parse_all(limits: ParseLimits, input: &[u8], chunk: usize) -> Outcome {
    let mut parser = RequestParser::new(limits);
    let (mut start, mut fed) = (0, chunk.min(input.len()));
    let mut commands = Vec::new();
    loop {
        let buf = &input[start..fed];
        match parser.parse(buf) {
            Ok(Some(consumed)) => {
                assert!(consumed > 0 && consumed <= buf.len());
                let args: Vec<Vec<u8>> = parser.args(buf).iter().map(<[u8]>::to_vec).collect();
                if buf[0] == b'*' {
                    assert!(args.len() <= limits.max_multibulk_len);
                    assert!(args.iter().all(|a| a.len() <= limits.max_bulk_len));
                    if !limits.authenticated {
                        assert!(args.len() <= 10);
                    }
                }
                commands.push(args);
                start += consumed;
            }
            Ok(None) if fed < input.len() => fed = (fed + chunk).min(input.len()),
            Ok(None) => return (commands, None),
            Err(err) => return (commands, Some(err)),
        }
    }
}
