//! Connection commands: `PING`, `ECHO`, `HELLO`, `AUTH`, `QUIT`, `RESET`,
//! `SELECT`.
//!
//! All run on the receiving core against the client's [`Session`]; none
//! touches the keyspace.
//!
//! [`Session`]: crate::session::Session

use kiln_net::{Args, Protocol, Reply};

use super::{CommandSpec, Ctx, Flags, KeySpec, Route, errors};
use crate::shared::Shared;
use crate::tenant::{DEFAULT_USER, Denied, TenantId, digest};
use crate::{client_session, command};
use kiln_net::transport::PortKind;
use subtle::ConstantTimeEq;

const ACL: &[&str] = &["@fast", "@connection"];
/// HELLO, AUTH, QUIT, RESET: allowed before authentication.
const PRE_AUTH: Flags = Flags::NOSCRIPT
    .with(Flags::LOADING)
    .with(Flags::STALE)
    .with(Flags::FAST)
    .with(Flags::NO_AUTH);

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("ping", -1, Flags::FAST, ACL, KeySpec::NONE, Route::Local, ping,
        "connection", "1.0.0", "Returns the server's liveliness response."),
    command!("echo", 2, Flags::LOADING.with(Flags::STALE).with(Flags::FAST), ACL, KeySpec::NONE, Route::Local, echo,
        "connection", "1.0.0", "Returns the given string."),
    command!("hello", -1, PRE_AUTH, ACL, KeySpec::NONE, Route::Local, hello,
        "connection", "6.0.0", "Handshakes with the Redis server."),
    command!("auth", -2, PRE_AUTH, ACL, KeySpec::NONE, Route::Local, auth,
        "connection", "1.0.0", "Authenticates the connection."),
    command!("quit", -1, PRE_AUTH, ACL, KeySpec::NONE, Route::Local, quit,
        "connection", "1.0.0", "Closes the connection."),
    command!("reset", 1, PRE_AUTH, ACL, KeySpec::NONE, Route::Local, reset,
        "connection", "6.2.0", "Resets the connection."),
    command!("select", 2, Flags::LOADING.with(Flags::STALE).with(Flags::FAST), ACL, KeySpec::NONE, Route::Local, select,
        "connection", "2.0.0", "Changes the selected database."),
];

/// The Redis version Kiln reports: the protocol level clients may rely on.
pub const REDIS_VERSION: &str = "7.2.4";

/// `PING [message]`: `+PONG`, or the message as a bulk string.
fn ping(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match args.len() {
        1 => Reply::status("PONG"),
        2 => Reply::bulk_from(args.get(1)),
        _ => Reply::error("ERR wrong number of arguments for 'ping' command"),
    }
}

/// `ECHO message`
fn echo(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    Reply::bulk_from(args.get(1))
}

/// What `HELLO` asked for.
#[derive(Debug, PartialEq, Eq)]
struct HelloRequest<'a> {
    protocol: Option<Protocol>,
    auth: Option<(&'a [u8], &'a [u8])>,
    name: Option<&'a [u8]>,
}

/// Parses `HELLO [protover [AUTH user pass] [SETNAME name]]`.
fn parse_hello(args: Args<'_>) -> Result<HelloRequest<'_>, Reply> {
    let mut req = HelloRequest {
        protocol: None,
        auth: None,
        name: None,
    };
    if args.len() < 2 {
        return Ok(req);
    }
    let version = kiln_store::numeric::parse_i64(args.get(1)).ok_or(Reply::error(
        "ERR Protocol version is not an integer or out of range",
    ))?;
    req.protocol = Some(match version {
        2 => Protocol::Resp2,
        3 => Protocol::Resp3,
        _ => return Err(Reply::error("NOPROTO unsupported protocol version")),
    });
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            req.auth = Some((args.get(i + 1), args.get(i + 2)));
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            let name = args.get(i + 1);
            validate_name(name)?;
            req.name = Some(name);
            i += 2;
        } else {
            return Err(Reply::error_owned(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    Ok(req)
}

/// Client names and library names: printable ASCII without spaces.
pub fn validate_name(name: &[u8]) -> Result<(), Reply> {
    if name.iter().all(|&c| (b'!'..=b'~').contains(&c)) {
        Ok(())
    } else {
        Err(Reply::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ))
    }
}

/// `HELLO`: optionally authenticates, names the connection, switches the
/// protocol, and describes the server.
fn hello(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let req = match parse_hello(args) {
        Ok(req) => req,
        Err(reply) => return reply,
    };
    if let Some((user, pass)) = req.auth
        && let Err(reply) = authenticate(ctx, args.get(0), user, pass)
    {
        return reply;
    }
    let session = client_session!(ctx);
    if !session.authenticated {
        return Reply::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
    }
    if let Some(name) = req.name {
        session.name = (!name.is_empty()).then(|| bytes::Bytes::copy_from_slice(name));
    }
    if let Some(protocol) = req.protocol {
        session.protocol = protocol;
    }
    let field = |name: &str, value: Reply| (Reply::bulk_from(name), value);
    let mode = match session.port_kind {
        PortKind::Core => "cluster",
        PortKind::Main => "standalone",
    };
    Reply::Map(vec![
        field("server", Reply::bulk_from("redis")),
        field("version", Reply::bulk_from(REDIS_VERSION)),
        field(
            "proto",
            Reply::Integer(if session.protocol == Protocol::Resp3 {
                3
            } else {
                2
            }),
        ),
        field("id", Reply::Integer(session.id as i64)),
        field("mode", Reply::bulk_from(mode)),
        field("role", Reply::bulk_from("master")),
        field("modules", Reply::Array(Vec::new())),
    ])
}

/// `AUTH [username] password`
fn auth(ctx: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    let (user, pass) = match args.len() {
        2 => {
            if ctx.shared.runtime.requirepass().is_none() {
                return Reply::error(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                );
            }
            (&b"default"[..], args.get(1))
        }
        3 => (args.get(1), args.get(2)),
        _ => return errors::SYNTAX,
    };
    match authenticate(ctx, args.get(0), user, pass) {
        Ok(()) => Reply::OK,
        Err(reply) => reply,
    }
}

/// Checks `user`/`pass` — the `default` user against `requirepass`, any
/// other name against the tenant registry — and switches the session to
/// that user. As in Redis, with no password configured the default user
/// accepts any password; a failed attempt leaves the session as it was and
/// is logged (`ACL LOG`, reason `auth`, object `command` as typed) for the
/// tenant the connection is logged in as.
fn authenticate(ctx: &mut Ctx<'_>, command: &[u8], user: &[u8], pass: &[u8]) -> Result<(), Reply> {
    let tenants = &ctx.shared.tenants;
    let found = if user == DEFAULT_USER.as_bytes() {
        default_password_ok(ctx.shared, pass)
            .then_some(TenantId::DEFAULT)
            .ok_or(Denied::WrongPass)
    } else {
        tenants.authenticate(user, pass)
    };
    let tenant = match found {
        Ok(tenant) => tenant,
        Err(Denied::MaxClients) => return Err(Reply::error("ERR max number of clients reached")),
        Err(Denied::WrongPass) => {
            let Some(session) = ctx.session() else {
                return Err(errors::NO_SESSION);
            };
            let event = crate::tenant::log::Event {
                reason: crate::tenant::log::Reason::Auth,
                object: String::from_utf8_lossy(command).into_owned(),
                username: String::from_utf8_lossy(user).into_owned(),
                client_info: session.info_line(std::time::Instant::now(), None),
            };
            let owner = if session.authenticated {
                session.tenant
            } else {
                TenantId::DEFAULT
            };
            ctx.shared.tenants.log().add(owner, event);
            return Err(errors::WRONGPASS);
        }
    };
    let tenants = &ctx.shared.tenants;
    let name = tenants.name(tenant);
    let Some(session) = ctx.session() else {
        return Err(errors::NO_SESSION);
    };
    if session.authenticated {
        tenants.disconnect(session.tenant);
    }
    session.authenticated = true;
    session.tenant = tenant;
    session.user = name;
    Ok(())
}

/// Whether `pass` is `requirepass` (anything is, when none is set),
/// comparing SHA-256 digests in constant time.
fn default_password_ok(shared: &Shared, pass: &[u8]) -> bool {
    match shared.runtime.requirepass() {
        None => true,
        Some(expected) => bool::from(digest(expected.as_bytes()).ct_eq(&digest(pass))),
    }
}

/// `QUIT`: `+OK`, then the connection closes.
fn quit(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    client_session!(ctx).close_after_reply = true;
    Reply::OK
}

/// `RESET`: back to a new connection's state.
fn reset(ctx: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    let needs_auth = ctx.shared.runtime.requirepass().is_some();
    let tenants = &ctx.shared.tenants;
    let session = client_session!(ctx);
    if session.authenticated {
        tenants.disconnect(session.tenant);
    }
    session.reset(needs_auth);
    Reply::status("RESET")
}

/// `SELECT index`: Kiln has one database, 0.
fn select(_: &mut Ctx<'_>, args: Args<'_>) -> Reply {
    match super::int_arg(args.get(1)) {
        Ok(0) => Reply::OK,
        Ok(_) => Reply::error("ERR DB index is out of range"),
        Err(reply) => reply,
    }
}

#[cfg(test)]
mod tests {
    use kiln_net::OwnedArgs;

    use super::*;
    use crate::commands::testbed::TestBed;

    fn set_password(bed: &TestBed, pass: Option<&str>) {
        *bed.shared.runtime.requirepass.write().unwrap() = pass.map(Into::into);
    }

    #[test]
    fn hello_parsing() {
        let parse = |parts: &[&str]| {
            let owned = OwnedArgs::new(parts.iter().map(|p| p.as_bytes()));
            parse_hello(owned.args())
                .map(|r| (r.protocol, r.auth.is_some(), r.name.map(<[u8]>::to_vec)))
        };
        assert_eq!(parse(&["HELLO"]), Ok((None, false, None)));
        assert_eq!(
            parse(&["HELLO", "3", "auth", "default", "pw", "setname", "me"]),
            Ok((Some(Protocol::Resp3), true, Some(b"me".to_vec())))
        );
        assert_eq!(
            parse(&["HELLO", "4"]),
            Err(Reply::error("NOPROTO unsupported protocol version"))
        );
        assert_eq!(
            parse(&["HELLO", "x"]),
            Err(Reply::error(
                "ERR Protocol version is not an integer or out of range"
            ))
        );
        assert_eq!(
            parse(&["HELLO", "2", "AUTH", "default"]),
            Err(Reply::error("ERR Syntax error in HELLO option 'AUTH'"))
        );
        assert!(parse(&["HELLO", "2", "SETNAME", "a b"]).is_err());
    }

    #[test]
    fn ping_echo_select() {
        let mut bed = TestBed::new();
        assert_eq!(bed.run(&["PING"]), Reply::status("PONG"));
        assert_eq!(bed.run(&["PING", "hi"]), TestBed::bulk("hi"));
        assert_eq!(
            bed.run(&["PING", "a", "b"]),
            Reply::error("ERR wrong number of arguments for 'ping' command")
        );
        assert_eq!(bed.run(&["ECHO", "x"]), TestBed::bulk("x"));
        assert_eq!(bed.run(&["SELECT", "0"]), Reply::OK);
        assert_eq!(
            bed.run(&["SELECT", "1"]),
            Reply::error("ERR DB index is out of range")
        );
        assert_eq!(bed.run(&["SELECT", "x"]), errors::NOT_INTEGER);
    }

    #[test]
    fn hello_switches_protocol_and_describes_server() {
        let mut bed = TestBed::new();
        let Reply::Map(fields) = bed.run(&["HELLO", "3", "SETNAME", "app"]) else {
            panic!("expected a map")
        };
        assert_eq!(bed.session.protocol, Protocol::Resp3);
        assert_eq!(bed.session.name.as_deref(), Some(&b"app"[..]));
        let names: Vec<_> = fields.iter().map(|(k, _)| k.clone()).collect();
        let expected: Vec<_> = [
            "server", "version", "proto", "id", "mode", "role", "modules",
        ]
        .iter()
        .map(|n| TestBed::bulk(n))
        .collect();
        assert_eq!(names, expected);
        assert_eq!(fields[2].1, Reply::Integer(3));
        assert_eq!(fields[4].1, TestBed::bulk("standalone"));
        bed.run(&["HELLO", "2"]);
        assert_eq!(bed.session.protocol, Protocol::Resp2);
    }

    #[test]
    fn auth_without_password() {
        let mut bed = TestBed::new();
        assert!(
            matches!(bed.run(&["AUTH", "pw"]), Reply::Error(e) if e.starts_with("ERR AUTH <password> called"))
        );
        assert_eq!(bed.run(&["AUTH", "default", "anything"]), Reply::OK);
        assert_eq!(bed.run(&["AUTH", "bob", "anything"]), errors::WRONGPASS);
        assert_eq!(bed.run(&["AUTH", "a", "b", "c"]), errors::SYNTAX);
    }

    #[test]
    fn auth_with_password() {
        let mut bed = TestBed::new();
        set_password(&bed, Some("s3cret"));
        bed.session.authenticated = false;
        assert_eq!(bed.run(&["AUTH", "wrong"]), errors::WRONGPASS);
        assert!(!bed.session.authenticated);
        assert!(
            matches!(bed.run(&["HELLO", "3"]), Reply::Error(e) if e.starts_with("NOAUTH HELLO"))
        );
        assert_eq!(bed.session.protocol, Protocol::Resp2);
        assert!(matches!(
            bed.run(&["HELLO", "3", "AUTH", "default", "s3cret"]),
            Reply::Map(_)
        ));
        assert!(bed.session.authenticated);
        assert_eq!(bed.run(&["RESET"]), Reply::status("RESET"));
        assert!(!bed.session.authenticated);
        assert_eq!(bed.session.protocol, Protocol::Resp2);
        assert_eq!(bed.run(&["AUTH", "s3cret"]), Reply::OK);
        assert!(bed.session.authenticated);
    }

    #[test]
    fn quit_closes_after_reply() {
        let mut bed = TestBed::new();
        assert_eq!(bed.run(&["QUIT"]), Reply::OK);
        assert!(bed.session.close_after_reply);
    }

    #[test]
    fn auth_as_a_tenant() {
        let mut bed = TestBed::with_tenant("t1", "pw");
        assert_eq!(bed.run(&["AUTH", "t1", "nope"]), errors::WRONGPASS);
        assert_eq!(bed.session.tenant, TenantId::DEFAULT);
        assert_eq!(bed.run(&["AUTH", "t1", "pw"]), Reply::OK);
        assert_eq!(
            (bed.session.user.as_str(), bed.session.tenant.index()),
            ("t1", 1)
        );
        assert!(matches!(
            bed.run(&["HELLO", "3", "AUTH", "t1", "pw"]),
            Reply::Map(_)
        ));
        let tenants = &bed.shared.tenants;
        assert_eq!(tenants.figures(bed.session.tenant).connections, 1);
        let t1 = bed.session.tenant;
        assert_eq!(bed.run(&["RESET"]), Reply::status("RESET"));
        assert_eq!(bed.session.tenant, TenantId::DEFAULT);
        assert_eq!(bed.shared.tenants.figures(t1).connections, 0);
    }
}
