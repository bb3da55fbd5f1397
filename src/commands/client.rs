//! `CLIENT` and its subcommands: `ID`, `GETNAME`, `SETNAME`, `SETINFO`,
//! `INFO`, `LIST`, `UNBLOCK`, `NO-EVICT`, `NO-TOUCH`, `HELP`.
//!
//! `UNBLOCK` runs on every core (a client may wait on any of them) and
//! answers 1 where it found the client. Everything else but `LIST` runs on
//! the receiving core against the caller's
//! session. `CLIENT LIST` runs once per core: each core describes its own
//! connections and the origin concatenates the parts: a tenant's own, or
//! for an operator everyone's. `NO-EVICT` takes the operator power (a
//! connection exempt from eviction weighs on everyone), and so do `PAUSE`
//! and `UNPAUSE` (a pause stops every tenant). `KILL` and `PAUSE` run on
//! every core ([`kill`], [`pause`]). `REPLY` and tracking are not
//! implemented.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use kiln_net::{Args, Protocol, Reply};

use super::connection::validate_name;
use super::{CommandSpec, Ctx, Finishing, Flags, KeySpec, Output, Route, errors};
use crate::{client_session, command};

mod kill;
pub mod pause;

pub use kill::{Kill, KillType, parse_kill};
use kill::{kill_plan, planned_only};

const ACL: &[&str] = &["@slow", "@connection"];
const FLAGS: Flags = Flags::NOSCRIPT.with(Flags::LOADING).with(Flags::STALE);

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("client", -2, Flags::NONE, &["@slow"], KeySpec::NONE, Route::Local, client,
        "connection", "2.4.0", "A container for client connection commands.", subcommands: SUBCOMMANDS),
];

// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
const SUBCOMMANDS: &[CommandSpec] = &[
    command!("client|id", 2, FLAGS, ACL, KeySpec::NONE, Route::Local, id,
        "connection", "5.0.0", "Returns the unique client ID of the connection."),
    command!("client|getname", 2, FLAGS, ACL, KeySpec::NONE, Route::Local, getname,
        "connection", "2.6.9", "Returns the name of the connection."),
    command!("client|setname", 3, FLAGS, ACL, KeySpec::NONE, Route::Local, setname,
        "connection", "2.6.9", "Sets the connection name."),
    command!("client|setinfo", 4, FLAGS, ACL, KeySpec::NONE, Route::Local, setinfo,
        "connection", "7.2.0", "Sets information specific to the client or connection."),
    command!("client|info", 2, FLAGS, ACL, KeySpec::NONE, Route::Local, info,
        "connection", "6.2.0", "Returns information about the connection."),
    command!("client|list", -2, Flags::ADMIN.with(FLAGS).with(Flags::CLIENTS), &["@admin", "@slow", "@dangerous", "@connection"], KeySpec::NONE, Route::AllCores(concat_client_lists), list,
        "connection", "2.4.0", "Lists open connections."),
    command!("client|unblock", -3, Flags::ADMIN.with(FLAGS), &["@admin", "@slow", "@dangerous", "@connection"], KeySpec::NONE, Route::AllCores(super::plan::sum_integers), unblock,
        "connection", "5.0.0", "Unblocks a client blocked by a blocking command from a different connection."),
    command!("client|kill", -3, Flags::ADMIN.with(FLAGS), &["@admin", "@slow", "@dangerous", "@connection"], KeySpec::NONE, Route::Planned(kill_plan), planned_only,
        "connection", "2.4.0", "Terminates open connections."),
    command!("client|pause", -3, Flags::ADMIN.with(Flags::OPERATOR).with(FLAGS), &["@admin", "@slow", "@dangerous", "@connection"], KeySpec::NONE, Route::Planned(pause::pause_plan), pause::planned_only,
        "connection", "3.0.0", "Suspends commands processing."),
    command!("client|unpause", 2, Flags::ADMIN.with(Flags::OPERATOR).with(FLAGS), &["@admin", "@slow", "@dangerous", "@connection"], KeySpec::NONE, Route::Planned(pause::unpause_plan), pause::planned_only,
        "connection", "6.2.0", "Resumes processing commands from paused clients."),
    command!("client|no-evict", 3, Flags::ADMIN.with(Flags::OPERATOR).with(FLAGS), &["@admin", "@slow", "@dangerous", "@connection"], KeySpec::NONE, Route::Local, on_off,
        "connection", "7.0.0", "Sets the client eviction mode of the connection."),
    command!("client|no-touch", 3, FLAGS, ACL, KeySpec::NONE, Route::Local, on_off,
        "connection", "7.2.0", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys."),
    command!("client|help", 2, Flags::LOADING.with(Flags::STALE), ACL, KeySpec::NONE, Route::Local, client,
        "connection", "5.0.0", "Returns helpful text about the different subcommands."),
];

const HELP: &[&str] = &[
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Return clients with the given IDs.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "    * MAXAGE <maxage>",
    "      Kill connections older than the specified age.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
];

/// `CLIENT HELP`, or the unknown-subcommand error.
fn client(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    super::help_or_unknown(args, "CLIENT", HELP)
}

/// `CLIENT UNBLOCK id [TIMEOUT | ERROR]`, run on every core: 1 where the
/// client waited (a tenant reaches only its own clients), 0 elsewhere.
fn unblock(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let id = match super::int_arg(args.get(2)) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let error = match args.try_get(3) {
        None => false,
        Some(w) if w.eq_ignore_ascii_case(b"timeout") => false,
        Some(w) if w.eq_ignore_ascii_case(b"error") && args.len() == 4 => true,
        Some(_) => return Reply::error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    let scope = (!ctx.is_operator()).then_some(ctx.tenant);
    let unblocked = u64::try_from(id).is_ok_and(|id| {
        ctx.waiters
            .as_deref_mut()
            .is_some_and(|w| w.unblock(id, scope, error))
    });
    Reply::Integer(i64::from(unblocked))
}

fn id(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::Integer(client_session!(ctx).id as i64)
}

fn getname(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::bulk_or_nil(client_session!(ctx).name.clone())
}

/// `CLIENT SETNAME name`; an empty name removes it.
fn setname(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let name = args.get(2);
    if let Err(reply) = validate_name(name) {
        return reply;
    }
    client_session!(ctx).name = (!name.is_empty()).then(|| Bytes::copy_from_slice(name));
    Reply::OK
}

/// Which library attribute `CLIENT SETINFO` sets.
#[derive(Debug, PartialEq, Eq)]
enum LibAttr {
    Name,
    Version,
}

fn parse_lib_attr(attr: &[u8]) -> Result<LibAttr, Reply> {
    if attr.eq_ignore_ascii_case(b"LIB-NAME") {
        Ok(LibAttr::Name)
    } else if attr.eq_ignore_ascii_case(b"LIB-VER") {
        Ok(LibAttr::Version)
    } else {
        Err(Reply::error_owned(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        )))
    }
}

/// `CLIENT SETINFO LIB-NAME|LIB-VER value`
fn setinfo(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let attr = match parse_lib_attr(args.get(2)) {
        Ok(attr) => attr,
        Err(reply) => return reply,
    };
    let value = args.get(3);
    if validate_name(value).is_err() {
        return Reply::error_owned(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(args.get(2))
        ));
    }
    let value = (!value.is_empty()).then(|| Bytes::copy_from_slice(value));
    let session = client_session!(ctx);
    match attr {
        LibAttr::Name => session.lib_name = value,
        LibAttr::Version => session.lib_ver = value,
    }
    Reply::OK
}

/// `CLIENT INFO`: this connection's `CLIENT LIST` line. Its buffers are not
/// visible from here (the connection is borrowed while the command runs), so
/// `qbuf` and `omem` read 0.
fn info(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    let session = client_session!(ctx);
    let mut line = session.info_line(Instant::now(), None);
    line.push('\n');
    text_reply(session.protocol, line.into())
}

/// `CLIENT NO-EVICT` / `NO-TOUCH on|off`: kept in the session and shown
/// by `CLIENT LIST` (`e`, `T`). Kiln evicts no client, and its store keeps
/// no access times yet for `NO-TOUCH` to spare.
fn on_off(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let arg = args.get(2);
    let on = if arg.eq_ignore_ascii_case(b"ON") {
        true
    } else if arg.eq_ignore_ascii_case(b"OFF") {
        false
    } else {
        return errors::SYNTAX;
    };
    let evict = args.get(1).eq_ignore_ascii_case(b"no-evict");
    let session = client_session!(ctx);
    if evict {
        session.no_evict = on;
    } else {
        session.no_touch = on;
    }
    Reply::OK
}

/// Which connections `CLIENT LIST` shows.
#[derive(Debug, PartialEq, Eq)]
enum ClientListFilter {
    All,
    /// `TYPE x`: Kiln's clients are all `normal`.
    Type {
        normal: bool,
    },
    Ids(Vec<u64>),
}

impl ClientListFilter {
    fn admits(&self, id: u64) -> bool {
        match self {
            ClientListFilter::All => true,
            ClientListFilter::Type { normal } => *normal,
            ClientListFilter::Ids(ids) => ids.contains(&id),
        }
    }
}

/// Parses `CLIENT LIST [TYPE type] [ID id ...]` as Redis 7 does: one option.
fn parse_list(args: Args<'_>) -> Result<ClientListFilter, Reply> {
    if args.len() == 2 {
        return Ok(ClientListFilter::All);
    }
    let opt = args.get(2);
    if args.len() == 4 && opt.eq_ignore_ascii_case(b"TYPE") {
        let ty = String::from_utf8_lossy(args.get(3)).to_ascii_lowercase();
        return match ty.as_str() {
            "normal" => Ok(ClientListFilter::Type { normal: true }),
            "master" | "slave" | "replica" | "pubsub" => {
                Ok(ClientListFilter::Type { normal: false })
            }
            _ => Err(Reply::error_owned(format!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(args.get(3))
            ))),
        };
    }
    if args.len() > 3 && opt.eq_ignore_ascii_case(b"ID") {
        let ids = args
            .iter()
            .skip(3)
            .map(|arg| match super::int_arg(arg)? {
                n if n >= 1 => Ok(n as u64),
                _ => Err(Reply::error(
                    "ERR value is out of range, value must between 1 and 9223372036854775807",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(ClientListFilter::Ids(ids));
    }
    Err(errors::SYNTAX)
}

/// One core's part of `CLIENT LIST`: its connections, one line each.
fn list(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let filter = match parse_list(args) {
        Ok(filter) => filter,
        Err(reply) => return reply,
    };
    let now = Instant::now();
    let mut text = String::new();
    // A tenant sees its own connections; an operator sees everyone's.
    let everyone = ctx.is_operator();
    for client in ctx.clients() {
        let session = client.session;
        if filter.admits(session.id) && (everyone || session.tenant == ctx.tenant) {
            text.push_str(&session.info_line(now, Some(client.facts)));
            text.push('\n');
        }
    }
    Reply::Bulk(text.into())
}

/// Combine for `CLIENT LIST`: the cores' parts, in core order.
pub fn concat_client_lists(f: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    let mut all = BytesMut::new();
    for out in outputs {
        match out.into_reply() {
            Reply::Bulk(part) => all.extend_from_slice(&part),
            err @ Reply::Error(_) => return err,
            _ => return Reply::error("ERR internal: expected a bulk part"),
        }
    }
    text_reply(f.protocol, all.freeze())
}

/// Free text as Redis sends it: bulk in RESP2, verbatim `txt` in RESP3.
pub fn text_reply(protocol: Protocol, text: Bytes) -> Reply {
    match protocol {
        Protocol::Resp2 => Reply::Bulk(text),
        Protocol::Resp3 => Reply::Verbatim("txt", text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::testbed::TestBed;
    use crate::commands::{Caller, Out, Site};
    use crate::session::{ClientView, PortKind, Session};
    use kiln_net::OwnedArgs;

    fn args(parts: &[&str]) -> OwnedArgs {
        OwnedArgs::new(parts.iter().map(|p| p.as_bytes()))
    }

    #[test]
    fn list_filters() {
        let parse = |parts: &[&str]| parse_list(args(parts).args());
        assert_eq!(parse(&["CLIENT", "LIST"]), Ok(ClientListFilter::All));
        assert_eq!(
            parse(&["CLIENT", "LIST", "type", "NORMAL"]),
            Ok(ClientListFilter::Type { normal: true })
        );
        assert_eq!(
            parse(&["CLIENT", "LIST", "TYPE", "pubsub"]),
            Ok(ClientListFilter::Type { normal: false })
        );
        assert_eq!(
            parse(&["CLIENT", "LIST", "TYPE", "x"]),
            Err(Reply::error("ERR Unknown client type 'x'"))
        );
        assert_eq!(
            parse(&["CLIENT", "LIST", "ID", "3", "7"]),
            Ok(ClientListFilter::Ids(vec![3, 7]))
        );
        assert_eq!(
            parse(&["CLIENT", "LIST", "ID", "x"]),
            Err(errors::NOT_INTEGER)
        );
        assert!(parse(&["CLIENT", "LIST", "ID", "0"]).is_err());
        assert_eq!(parse(&["CLIENT", "LIST", "FOO"]), Err(errors::SYNTAX));
    }

    #[test]
    fn names_and_ids() {
        let mut bed = TestBed::new();
        assert_eq!(bed.run(&["CLIENT", "ID"]), Reply::Integer(1));
        assert_eq!(bed.run(&["CLIENT", "GETNAME"]), Reply::Nil);
        assert_eq!(bed.run(&["CLIENT", "SETNAME", "worker-1"]), Reply::OK);
        assert_eq!(bed.run(&["client", "getname"]), TestBed::bulk("worker-1"));
        assert_eq!(
            bed.run(&["CLIENT", "SETNAME", "a b"]),
            Reply::error("ERR Client names cannot contain spaces, newlines or special characters.")
        );
        assert_eq!(bed.run(&["CLIENT", "SETNAME", ""]), Reply::OK);
        assert_eq!(bed.run(&["CLIENT", "GETNAME"]), Reply::Nil);
        assert_eq!(
            bed.run(&["CLIENT", "SETNAME"]),
            Reply::error("ERR wrong number of arguments for 'client|setname' command")
        );
    }

    #[test]
    fn setinfo_and_info() {
        let mut bed = TestBed::new();
        assert_eq!(
            bed.run(&["CLIENT", "SETINFO", "lib-name", "redis-py"]),
            Reply::OK
        );
        assert_eq!(bed.run(&["CLIENT", "SETINFO", "LIB-VER", "5.0"]), Reply::OK);
        assert_eq!(
            bed.run(&["CLIENT", "SETINFO", "lib-foo", "x"]),
            Reply::error("ERR Unrecognized option 'lib-foo'")
        );
        assert_eq!(
            bed.run(&["CLIENT", "SETINFO", "lib-name", "a\nb"]),
            Reply::error("ERR lib-name cannot contain spaces, newlines or special characters.")
        );
        let Reply::Bulk(line) = bed.run(&["CLIENT", "INFO"]) else {
            panic!()
        };
        let line = String::from_utf8(line.to_vec()).unwrap();
        assert!(line.starts_with("id=1 "), "{line}");
        assert!(line.contains(" lib-name=redis-py lib-ver=5.0 "), "{line}");
        assert!(line.ends_with('\n'));
        bed.session.protocol = Protocol::Resp3;
        assert!(matches!(
            bed.run(&["CLIENT", "INFO"]),
            Reply::Verbatim("txt", _)
        ));
    }

    #[test]
    fn no_evict_no_touch_help_unknown() {
        let mut bed = TestBed::new();
        assert_eq!(bed.run(&["CLIENT", "NO-EVICT", "on"]), Reply::OK);
        assert_eq!(bed.run(&["CLIENT", "NO-TOUCH", "OFF"]), Reply::OK);
        assert!(bed.session.no_evict && !bed.session.no_touch);
        assert_eq!(bed.run(&["CLIENT", "NO-TOUCH", "on"]), Reply::OK);
        let Reply::Bulk(line) = bed.run(&["CLIENT", "INFO"]) else {
            panic!()
        };
        assert!(String::from_utf8_lossy(&line).contains(" flags=eT "));
        assert_eq!(bed.run(&["CLIENT", "NO-TOUCH", "maybe"]), errors::SYNTAX);
        let Reply::Array(lines) = bed.run(&["CLIENT", "HELP"]) else {
            panic!()
        };
        assert!(lines.len() > 4);
        assert_eq!(
            bed.run(&["CLIENT", "FOO"]),
            Reply::error("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")
        );
    }

    #[test]
    fn list_describes_each_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let sessions: Vec<Session> = [5, 9]
            .map(|id| Session::new(id, addr, addr, PortKind::Main, 0, false))
            .into();
        let clients: Vec<ClientView<'_>> = sessions
            .iter()
            .map(|session| ClientView {
                session,
                facts: kiln_net::transport::ConnFacts {
                    id: session.id,
                    query_buf: 0,
                    output_buf: 0,
                    last_active: Instant::now(),
                },
            })
            .collect();
        let mut bed = TestBed::new();
        let mut run = |parts: &[&str]| {
            let owned = args(parts);
            let site = Site {
                core: 0,
                shard: &mut bed.shard,
                others: None,
                shared: &bed.shared,
                stats: &mut bed.stats,
                functions: None,
                waiters: None,
                evicting: false,
                woken: false,
                journal: None,
            };
            let tenant = crate::tenant::TenantId::DEFAULT;
            let mut ctx = Ctx::new(site, tenant, Caller::Job(&clients), Out::Value);
            match list(&mut ctx, owned.args()) {
                Reply::Bulk(text) => String::from_utf8(text.to_vec()).unwrap(),
                other => panic!("{other:?}"),
            }
        };
        let all = run(&["CLIENT", "LIST"]);
        assert_eq!(all.lines().count(), 2);
        assert!(all.starts_with("id=5 ") && all.contains("\nid=9 ") && all.ends_with('\n'));
        assert!(run(&["CLIENT", "LIST", "ID", "9"]).starts_with("id=9 "));
        assert_eq!(run(&["CLIENT", "LIST", "TYPE", "master"]), "");

        let request = args(&["CLIENT", "LIST"]);
        let shared = crate::shared::tests_support::shared(2);
        let f = Finishing {
            spec: crate::commands::table()[0],
            args: &request,
            protocol: Protocol::Resp3,
            part_keys: &[],
            part_cores: &[0, 1],
            shared: &shared,
            core: 0,
            tenant: crate::tenant::TenantId::DEFAULT,
        };
        let parts = vec![
            Output::Reply(Reply::bulk_from("id=1\n")),
            Output::Reply(Reply::bulk_from("id=2\n")),
        ];
        assert_eq!(
            concat_client_lists(&f, parts),
            Reply::Verbatim("txt", Bytes::from_static(b"id=1\nid=2\n"))
        );
    }
}
