//! `CLIENT KILL`: its filters, read in Redis's order with its errors, and
//! the plan that runs it on every core of the port (each core closes its
//! own connections: `Engine::kill_clients`).

use std::time::Instant;

use kiln_net::{Args, Reply};

use crate::commands::plan::{Finish, Finishing, Job, Output, Plan, Planning};
use crate::commands::{Ctx, errors};

/// Which connections `CLIENT KILL` closes: those matching every filter
/// given (and, for a tenant, only its own: the engine scopes it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kill {
    /// `ID`.
    pub id: Option<u64>,
    /// `ADDR` (or the old form's `ip:port`): the peer address.
    pub addr: Option<Vec<u8>>,
    /// `LADDR`: the local address the client connected to.
    pub laddr: Option<Vec<u8>>,
    /// `USER`.
    pub user: Option<String>,
    /// `TYPE`: pub/sub clients or the others; `MASTER`/`REPLICA` match
    /// nobody (Kiln has no replication).
    pub kind: Option<KillType>,
    /// `MAXAGE`: connected longer than this many seconds.
    pub max_age: Option<u64>,
    /// The client sending it: skipped with `SKIPME yes` (the default of
    /// the filter form), else closed after its reply.
    pub caller: Option<u64>,
    /// Skip the caller.
    pub skip_caller: bool,
}

/// `CLIENT KILL TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillType {
    /// Not subscribed.
    Normal,
    /// Subscribed to something.
    Pubsub,
    /// A replication link: none in Kiln.
    Replication,
}

impl Kill {
    /// Whether `session` is one to close, `now`.
    pub fn matches(&self, session: &crate::session::Session, now: Instant) -> bool {
        let skipped = self.skip_caller && Some(session.id) == self.caller;
        let kind_ok = match self.kind {
            None => true,
            Some(KillType::Normal) => !session.subscribed.any(),
            Some(KillType::Pubsub) => session.subscribed.any(),
            Some(KillType::Replication) => false,
        };
        let addr_is = |want: &Option<Vec<u8>>, addr: std::net::SocketAddr| {
            want.as_ref()
                .is_none_or(|w| w[..] == *addr.to_string().as_bytes())
        };
        !skipped
            && kind_ok
            && self.id.is_none_or(|id| id == session.id)
            && addr_is(&self.addr, session.peer)
            && addr_is(&self.laddr, session.local)
            && self.user.as_ref().is_none_or(|u| *u == session.user)
            && self
                .max_age
                .is_none_or(|age| now.duration_since(session.created).as_secs() > age)
    }
}

/// Reads `CLIENT KILL`'s filters in Redis's order and with its errors;
/// `caller` is the client sending it.
pub fn parse_kill(
    args: Args<'_>,
    caller: u64,
    user_exists: impl Fn(&str) -> bool,
) -> Result<Kill, Reply> {
    let mut kill = Kill {
        caller: Some(caller),
        ..Kill::default()
    };
    if args.len() == 3 {
        // The old form: one address, the caller included.
        kill.addr = Some(args.get(2).to_vec());
        return Ok(kill);
    }
    if !args.len().is_multiple_of(2) {
        return Err(errors::SYNTAX);
    }
    kill.skip_caller = true;
    for at in (2..args.len()).step_by(2) {
        let (option, value) = (args.get(at), args.get(at + 1));
        let is = |name: &str| option.eq_ignore_ascii_case(name.as_bytes());
        if is("id") {
            let id = kiln_store::numeric::parse_i64(value)
                .filter(|&n| n > 0)
                .ok_or(Reply::error("ERR client-id should be greater than 0"))?;
            kill.id = Some(id as u64);
        } else if is("type") {
            kill.kind = Some(match () {
                _ if value.eq_ignore_ascii_case(b"normal") => KillType::Normal,
                _ if value.eq_ignore_ascii_case(b"pubsub") => KillType::Pubsub,
                _ if [&b"master"[..], b"slave", b"replica"]
                    .iter()
                    .any(|t| value.eq_ignore_ascii_case(t)) =>
                {
                    KillType::Replication
                }
                _ => {
                    return Err(Reply::error_owned(format!(
                        "ERR Unknown client type '{}'",
                        String::from_utf8_lossy(value)
                    )));
                }
            });
        } else if is("addr") {
            kill.addr = Some(value.to_vec());
        } else if is("laddr") {
            kill.laddr = Some(value.to_vec());
        } else if is("user") {
            let name = String::from_utf8_lossy(value).into_owned();
            if !user_exists(&name) {
                return Err(Reply::error_owned(format!("ERR No such user '{name}'")));
            }
            kill.user = Some(name);
        } else if is("skipme") {
            kill.skip_caller = match () {
                _ if value.eq_ignore_ascii_case(b"yes") => true,
                _ if value.eq_ignore_ascii_case(b"no") => false,
                _ => return Err(errors::SYNTAX),
            };
        } else if is("maxage") {
            let age = kiln_store::numeric::parse_i64(value)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or(errors::NOT_INTEGER)?;
            kill.max_age = Some(age);
        } else {
            return Err(errors::SYNTAX);
        }
    }
    Ok(kill)
}

/// `CLIENT KILL` on every core of the port (each closes its own
/// connections), the counts summed.
pub(super) fn kill_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    let kill = parse_kill(args, p.client, |name| {
        p.shared.tenants.id_of(name).is_some()
    })?;
    let parts = p
        .cores()
        .into_iter()
        .map(|core| (core, Job::Kill(Box::new(kill.clone()))));
    Ok(Plan::new(parts, Finish::Combine(kill_combine)))
}

/// The cores' counts; the old `CLIENT KILL ip:port` form answers `+OK`,
/// or an error when nobody was there.
fn kill_combine(f: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    match crate::commands::plan::sum_integers(f, outputs) {
        Reply::Integer(0) if f.args.args().len() == 3 => Reply::error("ERR No such client"),
        Reply::Integer(_) if f.args.args().len() == 3 => Reply::OK,
        reply => reply,
    }
}

/// A command the engine always plans: it never runs as itself.
pub(super) fn planned_only(_: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::error("ERR internal: CLIENT KILL runs as a plan")
}

#[cfg(test)]
mod tests {
    use kiln_net::OwnedArgs;

    use super::*;

    fn args(parts: &[&str]) -> OwnedArgs {
        OwnedArgs::new(parts.iter().map(|p| p.as_bytes()))
    }

    #[test]
    fn kill_filters() {
        let parse = |parts: &[&str]| parse_kill(args(parts).args(), 9, |u| u == "t1");
        let old = parse(&["CLIENT", "KILL", "1.2.3.4:5"]).unwrap();
        assert_eq!(old.addr.as_deref(), Some(&b"1.2.3.4:5"[..]));
        assert!(!old.skip_caller, "the old form may name the caller");
        let new = parse(&[
            "client", "kill", "USER", "t1", "maxage", "30", "TYPE", "PubSub",
        ])
        .unwrap();
        assert!(new.skip_caller);
        assert_eq!(new.caller, Some(9));
        assert_eq!(new.user.as_deref(), Some("t1"));
        assert_eq!((new.max_age, new.kind), (Some(30), Some(KillType::Pubsub)));
        let me = parse(&["CLIENT", "KILL", "ID", "9", "SKIPME", "no"]).unwrap();
        assert_eq!((me.id, me.skip_caller), (Some(9), false));
        assert_eq!(
            parse(&["CLIENT", "KILL", "MAXAGE", "-1"]),
            Err(errors::NOT_INTEGER)
        );
        assert_eq!(
            parse(&["CLIENT", "KILL", "USER", "t2"]),
            Err(Reply::error("ERR No such user 't2'"))
        );
    }
}
