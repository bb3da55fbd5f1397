//! The client's one error type, and the parsing of cluster redirections.

use std::io;

use kiln_net::resp::DecodeError;

/// Everything a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection failed (refused, reset, closed, timed out). The broken
    /// connection is dropped; the next call opens a new one.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The server answered with an error reply, such as `ERR syntax error` or
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`.
    #[error("{code}{}{message}", if .message.is_empty() { "" } else { " " })]
    Server {
        /// The error's first word: `ERR`, `WRONGTYPE`, `NOAUTH`, `MOVED`...
        code: String,
        /// The rest of the error text.
        message: String,
    },
    /// The server sent bytes that are not RESP.
    #[error("protocol error: {0}")]
    Protocol(#[from] DecodeError),
    /// A reply of a shape the called method does not expect.
    #[error("unexpected reply: {0}")]
    UnexpectedReply(String),
    /// A command was redirected (`MOVED` / `ASK`) more than
    /// [`MAX_REDIRECTS`](crate::MAX_REDIRECTS) times.
    #[error("too many cluster redirections")]
    TooManyRedirects,
    /// [`Client::transaction`](crate::Client::transaction) found its
    /// watched keys changed this many times in a row, and gave up.
    #[error("transaction aborted {0} times by changes to its watched keys")]
    TransactionAborted(usize),
    /// The address resolved to nothing.
    #[error("address resolved to no socket address")]
    NoAddress,
}

impl Error {
    /// The error code of a server error reply (`"ERR"`, `"WRONGTYPE"`...),
    /// `None` for client-side failures.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Server { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Builds [`Error::Server`] from an error reply's text (`"ERR message"`).
    pub fn from_server_text(text: &str) -> Error {
        let (code, message) = text.split_once(' ').unwrap_or((text, ""));
        Error::Server {
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }

    /// Whether the connection this error came from can no longer be used.
    pub(crate) fn breaks_connection(&self) -> bool {
        matches!(self, Error::Io(_) | Error::Protocol(_))
    }
}

/// A Redis Cluster redirection error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// `MOVED <slot> <host>:<port>`: the slot now lives on that node.
    Moved {
        /// The key's slot.
        slot: u16,
        /// Host of the owning node; empty means "the host you reached".
        host: String,
        /// Port of the owning node.
        port: u16,
    },
    /// `ASK <slot> <host>:<port>`: ask that node this once, after `ASKING`.
    Ask {
        /// The key's slot.
        slot: u16,
        /// Host of the node to ask; empty means "the host you reached".
        host: String,
        /// Port of the node to ask.
        port: u16,
    },
}

impl Redirect {
    /// Parses an error reply's text; `None` if it is not a redirection.
    pub fn parse(text: &str) -> Option<Redirect> {
        let mut words = text.split(' ');
        let kind = words.next()?;
        if kind != "MOVED" && kind != "ASK" {
            return None;
        }
        let slot: u16 = words.next()?.parse().ok()?;
        if usize::from(slot) >= kiln_net::slot::SLOT_COUNT {
            return None;
        }
        let (host, port) = words.next()?.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        // IPv6 endpoints may come bracketed.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_owned();
        Some(if kind == "MOVED" {
            Redirect::Moved { slot, host, port }
        } else {
            Redirect::Ask { slot, host, port }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_error_keeps_its_code() {
        let e = Error::from_server_text(
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        );
        assert_eq!(e.code(), Some("WRONGTYPE"));
        assert_eq!(
            e.to_string(),
            "WRONGTYPE Operation against a key holding the wrong kind of value"
        );
        let e = Error::from_server_text("NOAUTH");
        assert_eq!(e.code(), Some("NOAUTH"));
        assert_eq!(e.to_string(), "NOAUTH");
        assert_eq!(Error::TooManyRedirects.code(), None);
    }

    #[test]
    fn parses_redirections() {
        assert_eq!(
            Redirect::parse("MOVED 3999 127.0.0.1:6381"),
            Some(Redirect::Moved {
                slot: 3999,
                host: "127.0.0.1".into(),
                port: 6381
            })
        );
        assert_eq!(
            Redirect::parse("ASK 1 example.com:7000"),
            Some(Redirect::Ask {
                slot: 1,
                host: "example.com".into(),
                port: 7000
            })
        );
        assert_eq!(
            Redirect::parse("MOVED 16383 ::1:7001"),
            Some(Redirect::Moved {
                slot: 16383,
                host: "::1".into(),
                port: 7001
            })
        );
        assert_eq!(
            Redirect::parse("MOVED 5 [::1]:7001"),
            Some(Redirect::Moved {
                slot: 5,
                host: "::1".into(),
                port: 7001
            })
        );
        assert_eq!(
            Redirect::parse("MOVED 7 :7002"),
            Some(Redirect::Moved {
                slot: 7,
                host: String::new(),
                port: 7002
            })
        );
        assert_eq!(Redirect::parse("MOVED 16384 h:1"), None);
        assert_eq!(Redirect::parse("MOVED x h:1"), None);
        assert_eq!(Redirect::parse("MOVED 1 h"), None);
        assert_eq!(Redirect::parse("ERR MOVED 1 h:1"), None);
        assert_eq!(
            Redirect::parse("CROSSSLOT Keys in request don't hash to the same slot"),
            None
        );
    }
}
