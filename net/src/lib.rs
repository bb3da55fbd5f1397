//! kiln-net: the bytes between a client and a core.
//!
//! ```text
//!   socket ──read──► read buffer ──RequestParser──► Args (slices, no copy) ──► command layer
//!   socket ◄─write── write buffer ◄──encode── Reply ◄───────────────────────────┘
//!
//!   core A ──Mailbox::send──► [lock-free queue + mio::Waker] ──drain──► core B
//! ```
//!
//! This crate knows nothing about stores, commands or V8. It provides:
//!
//! - [`resp`]: RESP2/RESP3 request framing, reply encoding and decoding.
//! - [`slot`]: Redis Cluster hash slots (CRC16 and hash tags).
//! - [`mailbox`]: the queue + waker pair cores use to exchange messages.
//! - [`transport`]: a core's event loop and connections, behind the
//!   [`transport::Service`] trait the engine implements.

#![warn(missing_docs)]

pub mod mailbox;
pub mod resp;
pub mod slot;
pub mod transport;

pub use mailbox::Mailbox;
pub use resp::{Args, OwnedArgs, Protocol, Reply};

/// Parses a signed 64-bit integer exactly as Redis's `string2ll`: an optional
/// `-`, then digits without leading zeros (a lone `0` is fine), no spaces, no
/// `+`, at most 20 bytes, no overflow.
///
/// Used for `*<count>` / `$<len>` headers only. Command arguments go through
/// `kiln_store::numeric`, the same rules; this crate keeps its own few lines
/// so the protocol layer depends on no other Kiln crate.
pub(crate) fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits {
        [] => return None,
        [b'0'] => return (!negative).then_some(0),
        [b'0', ..] => return None,
        _ => {}
    }
    let mut magnitude: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        if magnitude > i64::MAX as u64 + 1 {
            None
        } else {
            Some((magnitude as i64).wrapping_neg())
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_like_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1.0",
            b"9223372036854775808",
            b"abc",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
