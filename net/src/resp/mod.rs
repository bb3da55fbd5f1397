//! RESP2 / RESP3: request framing, reply encoding, reply decoding.
//!
//! - [`request`]: splits a connection's read buffer into commands (multibulk
//!   and inline) without copying argument bytes; a partial frame is "need
//!   more", never an error; lengths are capped before anything is allocated.
//! - [`encode`]: writes a [`Reply`] in the connection's [`Protocol`].
//! - [`decode`]: reads any RESP2/RESP3 value back (clients and tests).

pub mod decode;
pub mod encode;
pub mod reply;
pub mod request;

pub use decode::{DecodeError, FrameScanner, decode, decode_bytes};
pub use encode::{encode, encode_request, write_bulk};
pub use reply::Reply;
pub use request::{Args, OwnedArgs, ParseLimits, ProtocolError, RequestParser, split_args};

/// The protocol version a connection speaks, chosen with `HELLO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default for a new connection.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}
