//! The append-only log reader on arbitrary file contents: never panics,
//! never allocates past what it read, and what it reads back re-encodes to
//! exactly the bytes it consumed (so replay sees the commands written).

#![no_main]

use kiln_persist::aof::{Encoder, ReadError, Records};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut encoded = Encoder::default();
    let mut end = 0u64;
    for item in Records::new(data) {
        match item {
            Ok(record) => {
                assert_eq!(record.offset, end, "records are contiguous");
                encoded.append_iter(record.args.len(), record.args.iter().map(|a| &a[..]));
                end = encoded.bytes().len() as u64;
            }
            Err(ReadError::Truncated { offset }) => {
                assert_eq!(offset, end);
                assert!(offset < data.len() as u64);
            }
            Err(ReadError::Corrupt { offset, .. }) => assert!(offset >= end),
            Err(ReadError::Io(e)) => panic!("reading a slice failed: {e}"),
        }
    }
    assert_eq!(encoded.bytes(), &data[..end as usize]);
});
