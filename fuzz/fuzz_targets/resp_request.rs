//! The request framer on arbitrary bytes: never panics, every consumed
//! length is within the input, declared lengths obey the limits, and the
//! same bytes arriving in pieces give the same commands as arriving whole.

#![no_main]

use kiln_net::resp::ParseLimits;
use kiln_net::resp::request::INLINE_MAX;
use kiln_net::resp::request::testing::parse_in_chunks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    // The first byte picks the limits, so small caps are hit often.
    let limits = ParseLimits {
        max_bulk_len: 1 + usize::from(knobs & 0x1f),
        max_multibulk_len: 1 + usize::from(knobs >> 6) * 4,
        authenticated: knobs & 0x20 == 0,
    };
    let (commands, error) = parse_in_chunks(limits, input, input.len());
    for command in commands.iter().filter(|c| c.multibulk) {
        assert!(command.args.len() <= limits.max_multibulk_len);
        assert!(command.args.iter().all(|a| a.len() <= limits.max_bulk_len));
        assert!(limits.authenticated || command.args.len() <= 10);
    }
    let whole = (commands, error);
    // Split delivery may only differ once a line outgrows INLINE_MAX, where
    // "too big" depends on when the newline arrives (as in Redis).
    if input.len() <= INLINE_MAX {
        for chunk in [1, 2, 7, 64] {
            assert_eq!(
                parse_in_chunks(limits, input, chunk),
                whole,
                "chunk {chunk}"
            );
        }
    }
});
