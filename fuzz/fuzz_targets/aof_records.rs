//! The append-only log reader on arbitrary file contents: never panics,
//! never allocates past what it read, reports records in file order, and
//! what it reads back, written out again, reads back the same (so replay
//! sees the commands that were written).

#![no_main]

use kiln_persist::aof::{Encoder, ReadError, Records};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut encoded = Encoder::default();
    let mut records = Vec::new();
    let mut last_offset = None;
    for item in Records::new(data) {
        match item {
            Ok(record) => {
                assert!(last_offset.is_none_or(|at| record.offset > at), "in order");
                assert!(record.offset < data.len() as u64);
                last_offset = Some(record.offset);
                encoded.append_iter(record.args.len(), record.args.iter().map(|a| &a[..]));
                records.push(record.args);
            }
            Err(ReadError::Truncated { offset } | ReadError::Corrupt { offset, .. }) => {
                assert!(offset <= data.len() as u64);
                assert!(last_offset.is_none_or(|at| offset > at));
            }
            Err(ReadError::Io(e)) => panic!("reading a slice failed: {e}"),
        }
    }
    let again: Vec<_> = Records::new(encoded.bytes())
        .map(|r| r.expect("what the encoder wrote reads back").args)
        .collect();
    assert_eq!(again, records);
});
