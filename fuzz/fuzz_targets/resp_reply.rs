//! The reply decoder (kiln-client's side of RESP2/RESP3) on arbitrary bytes:
//! never panics, agrees with the frame scanner on each frame's length, and
//! the scanner resumed over a growing buffer finds the same length.

#![no_main]

use bytes::Bytes;
use kiln_net::resp::{FrameScanner, decode, decode_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let whole = FrameScanner::new().scan(data);
    let decoded = decode(data);
    let zero_copy = decode_bytes(&Bytes::copy_from_slice(data));
    match (&whole, &decoded) {
        (Ok(Some(len)), Ok(Some((_, used)))) => assert_eq!(len, used),
        (Ok(None), Ok(None)) | (Err(_), Err(_)) => {}
        _ => panic!("scanner {whole:?} but decoder {decoded:?}"),
    }
    assert_eq!(
        decoded.as_ref().ok().map(|r| r.as_ref().map(|(_, n)| *n)),
        zero_copy.as_ref().ok().map(|r| r.as_ref().map(|(_, n)| *n))
    );
    let mut scanner = FrameScanner::new();
    for end in 1..=data.len() {
        match scanner.scan(&data[..end]) {
            Ok(None) => continue,
            resumed => {
                assert_eq!(resumed.ok(), whole.clone().ok(), "resumed at {end}");
                return;
            }
        }
    }
});
