//! `MONITOR`: every command a core admits, as one line in Redis's format,
//! sent to the monitoring clients of every core.
//!
//! ```text
//!   core 1: execute(GET k) ─► Journal::monitored (a line, its tenant)
//!   core 1, end of its turn ─► one Msg::Monitor(batch) per core with monitors
//!   core 0: each monitor connection gets the lines its scope admits
//! ```
//!
//! While nobody monitors, a command pays one relaxed load
//! ([`crate::shared::Shared::monitors`]). A line is made where the command
//! was admitted (the client's core; a storage function's `kiln.call` where
//! the function runs, shown as `lua`, as Redis shows a script's commands);
//! a core's lines of one turn travel as one shared batch, one message per
//! core that has monitors, not one per monitor per command. A monitor's
//! lines are replies on its connection, held to its output buffer limit:
//! a monitor that does not read is disconnected, as any client.
//!
//! Scope: an operator's monitor sees every tenant's commands; a tenant's
//! sees only its own. As in Redis, commands flagged `admin` are not shown
//! and `AUTH` / `HELLO ... AUTH` passwords read `(redacted)`.

use std::fmt::Write as _;
use std::sync::Arc;

use kiln_net::Args;

use crate::tenant::TenantId;

/// One monitored command.
#[derive(Debug, Clone)]
pub struct Line {
    /// Whose command it was.
    pub tenant: TenantId,
    /// The line, without `+` and CRLF.
    pub text: Arc<str>,
}

/// A core's monitored commands of one turn, shared by every core it goes to.
pub type Batch = Arc<Vec<Line>>;

/// Who ran a monitored command.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// A client, from this address.
    Client(std::net::SocketAddr),
    /// A storage function (`[0 lua]`, as Redis shows scripts).
    Function,
}

/// What a monitor sees: `None` every tenant (an operator), else one.
pub type Scope = Option<TenantId>;

/// Whether a monitor of `scope` sees `line`.
pub fn admits(scope: Scope, line: &Line) -> bool {
    scope.is_none_or(|t| t == line.tenant)
}

/// `args` as a monitor line at `unix_us`, in Redis's format:
/// `1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`.
pub fn format_line(unix_us: u64, source: Source, args: Args<'_>) -> String {
    let mut line = String::with_capacity(48 + args.iter().map(|a| a.len() + 3).sum::<usize>());
    let _ = write!(line, "{}.{:06} ", unix_us / 1_000_000, unix_us % 1_000_000);
    match source {
        Source::Client(addr) => {
            let _ = write!(line, "[0 {addr}]");
        }
        Source::Function => line.push_str("[0 lua]"),
    }
    let redacted = redacted(args);
    for (i, arg) in args.iter().enumerate() {
        line.push(' ');
        if redacted(i) {
            line.push_str("\"(redacted)\"");
        } else {
            quote(&mut line, arg);
        }
    }
    line
}

/// Which arguments Redis redacts: every argument of `AUTH`, the user and
/// password after `HELLO`'s `AUTH`.
fn redacted(args: Args<'_>) -> impl Fn(usize) -> bool {
    let name = args.get(0);
    let auth = name.eq_ignore_ascii_case(b"auth");
    let hello_auth = if name.eq_ignore_ascii_case(b"hello") {
        (2..args.len())
            .find(|&j| args.get(j).eq_ignore_ascii_case(b"auth") && j + 2 < args.len())
            .unwrap_or(usize::MAX)
    } else {
        usize::MAX
    };
    move |i| {
        (auth && i > 0)
            || (hello_auth != usize::MAX && (i == hello_auth + 1 || i == hello_auth + 2))
    }
}

/// Redis's `sdscatrepr`: the bytes in double quotes, escaped.
fn quote(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use kiln_net::OwnedArgs;

    use super::*;

    fn line(source: Source, parts: &[&[u8]]) -> String {
        let args = OwnedArgs::new(parts.iter().copied());
        format_line(1_339_518_083_107_412, source, args.args())
    }

    #[test]
    fn redis_format() {
        let addr: std::net::SocketAddr = "127.0.0.1:60866".parse().unwrap();
        assert_eq!(
            line(Source::Client(addr), &[b"keys", b"*"]),
            r#"1339518083.107412 [0 127.0.0.1:60866] "keys" "*""#
        );
        assert_eq!(
            line(
                Source::Function,
                &[b"SET", b"a\"b\\", b"\r\n\t\x07\x08\x00\xff "]
            ),
            r#"1339518083.107412 [0 lua] "SET" "a\"b\\" "\r\n\t\a\b\x00\xff ""#
        );
        let early = format_line(
            1_000_005,
            Source::Function,
            OwnedArgs::new([&b"PING"[..]]).args(),
        );
        assert_eq!(early, r#"1.000005 [0 lua] "PING""#);
    }

    #[test]
    fn passwords_are_redacted() {
        let addr: std::net::SocketAddr = "10.0.0.1:5".parse().unwrap();
        let src = Source::Client(addr);
        assert!(line(src, &[b"AUTH", b"pw"]).ends_with(r#" "AUTH" "(redacted)""#));
        assert!(
            line(src, &[b"auth", b"u", b"pw"]).ends_with(r#" "auth" "(redacted)" "(redacted)""#)
        );
        assert!(
            line(
                src,
                &[b"HELLO", b"3", b"AUTH", b"u", b"pw", b"SETNAME", b"n"]
            )
            .ends_with(r#" "HELLO" "3" "AUTH" "(redacted)" "(redacted)" "SETNAME" "n""#)
        );
        assert!(
            line(src, &[b"HELLO", b"3", b"AUTH", b"u"]).ends_with(r#" "HELLO" "3" "AUTH" "u""#)
        );
        assert!(line(src, &[b"GET", b"auth"]).ends_with(r#" "GET" "auth""#));
    }
}
