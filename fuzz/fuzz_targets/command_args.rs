//! Command argument parsing on arbitrary requests: the bytes are framed as a
//! client's would be, and every command found runs through the command
//! table against a real shard (values capped at 1 MiB). No command may
//! panic, and every reply must encode in both protocols.

#![no_main]

use kiln::commands::testbed::TestBed;
use kiln_net::Protocol;
use kiln_net::resp::{ParseLimits, RequestParser, encode};
use kiln_store::ShardConfig;
use libfuzzer_sys::fuzz_target;

/// Largest value a command may build here (Kiln's default is 512 MiB).
const MAX_VALUE: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut bed = TestBed::with_shard_config(ShardConfig {
        max_value_len: MAX_VALUE,
        ..ShardConfig::default()
    });
    let mut parser = RequestParser::new(ParseLimits {
        max_bulk_len: MAX_VALUE,
        ..ParseLimits::default()
    });
    let mut buf = data;
    let mut out = Vec::new();
    while let Ok(Some(consumed)) = parser.parse(buf) {
        let args = parser.args(buf);
        // DEBUG SLEEP blocks by design.
        if !args.is_empty() && !args.get(0).eq_ignore_ascii_case(b"debug") {
            let reply = bed.run_args(args);
            encode(&reply, Protocol::Resp2, &mut out);
            encode(&reply, Protocol::Resp3, &mut out);
            out.clear();
        }
        buf = &buf[consumed..];
    }
});
