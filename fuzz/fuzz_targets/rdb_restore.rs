//! `RESTORE`'s payload decoder on arbitrary bytes, checksummed so the
//! fuzzer reaches the decoder: never panics, and never decodes more than
//! its budget.

#![no_main]

use kiln_persist::rdb::{Payload, crc64, restore};
use kiln_store::StreamId;
use libfuzzer_sys::fuzz_target;

const BUDGET: usize = 1 << 20;

fuzz_target!(|body: &[u8]| {
    let mut payload = body.to_vec();
    payload.extend_from_slice(&10u16.to_le_bytes());
    let crc = crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    let Ok(value) = restore(&payload, BUDGET) else {
        return;
    };
    let decoded: usize = match &value {
        Payload::String(s) => s.len(),
        Payload::List(items) | Payload::Set(items) => items.iter().map(|i| i.len() + 16).sum(),
        Payload::Hash(pairs) => pairs.iter().map(|(f, v)| f.len() + v.len() + 32).sum(),
        Payload::ZSet(entries) => entries.iter().map(|(m, _)| m.len() + 16).sum(),
        Payload::Stream(stream) => stream
            .range(StreamId::MIN, StreamId::MAX, 0, false)
            .iter()
            .flat_map(|(_, fields)| fields)
            .map(|(f, v)| f.len() + v.len() + 32)
            .sum(),
    };
    assert!(decoded <= BUDGET + 16, "decoded {decoded} bytes");
});
