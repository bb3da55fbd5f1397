//! The RDB file reader on arbitrary file contents: never panics, never
//! allocates past what the file holds (its window grows only as far as the
//! bytes read), moves forward with every item, and ends — at `EOF` with its
//! checksum, or with an error at an offset inside the file.

#![no_main]

use kiln_persist::rdb::file::{FileReader, LoadError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = FileReader::new(data, 1 << 20) else {
        return;
    };
    let mut at = reader.offset();
    loop {
        match reader.next_item() {
            Ok(Some(_)) => {
                assert!(reader.offset() > at, "every item moves the reader on");
                at = reader.offset();
            }
            Ok(None) => break,
            Err(LoadError::Corrupt { offset, .. }) => {
                assert!(offset <= data.len() as u64);
                break;
            }
            Err(LoadError::Io(e)) => panic!("reading a slice failed: {e}"),
        }
    }
    assert!(reader.offset() <= data.len() as u64);
});
