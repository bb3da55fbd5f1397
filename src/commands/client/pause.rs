//! `CLIENT PAUSE timeout [WRITE | ALL]` and `CLIENT UNPAUSE`: their
//! arguments, read in Redis's order with its errors, the plans that set
//! the pause on every core (each core keeps its own, so the check on a
//! request is a field of the core, not a shared atomic), and the rule of
//! which requests a pause holds ([`holds`]).
//!
//! A paused request is parked by the engine (`engine::paused`): its core
//! goes on serving everyone else and runs it when the pause ends. Pausing
//! is an operator power ([`crate::commands::Flags::OPERATOR`]): it stops
//! every tenant, so a tenant gets `NOPERM`.

use kiln_net::{Args, Reply};

use crate::commands::plan::{Finish, Job, Plan, Planning, all_ok};
use crate::commands::{CommandSpec, Flags, Lookup};
use crate::shared::Shared;
use crate::tenant::TenantId;

/// What a pause holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseMode {
    /// Commands that may write (flagged `write` or `may-replicate`, a
    /// function that does not declare `no-writes`, an `EXEC` of such).
    Write,
    /// Every command.
    All,
}

/// What one core is told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseOp {
    /// Pause until `until_ms` (unix ms) in `mode`; an earlier pause still
    /// under way keeps its later end and its stricter mode, as Redis does.
    Pause {
        /// When it ends, unix ms.
        until_ms: u64,
        /// What it holds.
        mode: PauseMode,
    },
    /// End any pause now.
    Unpause,
}

/// Reads `CLIENT PAUSE timeout [WRITE | ALL]` as Redis 7.2 does (the mode
/// first, then the timeout) at `now_ms`.
pub fn parse_pause(args: Args<'_>, now_ms: u64) -> Result<PauseOp, Reply> {
    if args.len() > 4 {
        return Err(Reply::error_owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(args.get(1))
        )));
    }
    let mode = match args.try_get(3) {
        None => PauseMode::All,
        Some(m) if m.eq_ignore_ascii_case(b"write") => PauseMode::Write,
        Some(m) if m.eq_ignore_ascii_case(b"all") => PauseMode::All,
        Some(_) => return Err(Reply::error("ERR CLIENT PAUSE mode must be WRITE or ALL")),
    };
    let timeout = kiln_store::numeric::parse_i64(args.get(2)).ok_or(Reply::error(
        "ERR timeout is not an integer or out of range",
    ))?;
    if timeout < 0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    let until_ms = (timeout as u64)
        .checked_add(now_ms)
        .filter(|&t| t <= i64::MAX as u64)
        .ok_or(Reply::error("ERR timeout is out of range"))?;
    Ok(PauseOp::Pause { until_ms, mode })
}

/// `CLIENT PAUSE` on every core (on a core port too: a pause is the
/// server's), answered once every core paused.
pub(super) fn pause_plan(p: &Planning<'_>, args: Args<'_>) -> Result<Plan, Reply> {
    let op = parse_pause(args, crate::shared::unix_ms())?;
    Ok(every_core(p.shared, op))
}

/// `CLIENT UNPAUSE` on every core.
pub(super) fn unpause_plan(p: &Planning<'_>, _: Args<'_>) -> Result<Plan, Reply> {
    Ok(every_core(p.shared, PauseOp::Unpause))
}

fn every_core(shared: &Shared, op: PauseOp) -> Plan {
    let parts = (0..shared.cores()).map(|core| (core, Job::Pause(op)));
    Plan::new(parts, Finish::Combine(all_ok))
}

/// Whether a pause in `mode` holds a client's request (`spec`, `args`, as
/// `tenant`; `queued`: the commands of its transaction, for `EXEC`).
/// `CLIENT PAUSE` and `CLIENT UNPAUSE` themselves are never held, so an
/// operator can always lift a pause (in Redis a `PAUSE ALL` holds them
/// too, and only its timeout ends it).
pub fn holds<'q>(
    mode: PauseMode,
    spec: &CommandSpec,
    args: Args<'_>,
    tenant: TenantId,
    shared: &Shared,
    queued: impl Iterator<Item = Args<'q>>,
) -> bool {
    if spec.name == "client|pause" || spec.name == "client|unpause" {
        return false;
    }
    match mode {
        PauseMode::All => true,
        PauseMode::Write if spec.name == "exec" => queued.into_iter().any(|q| {
            matches!(crate::commands::lookup(q), Lookup::Found(s) if may_write(s, q, tenant, shared))
        }),
        PauseMode::Write => may_write(spec, args, tenant, shared),
    }
}

/// Redis's `is_may_replicate_command`: flagged `write` or `may-replicate`,
/// except a function call whose function declares `no-writes`.
fn may_write(spec: &CommandSpec, args: Args<'_>, tenant: TenantId, shared: &Shared) -> bool {
    if spec.flags.has(Flags::WRITE) {
        return true;
    }
    if !spec.flags.has(Flags::MAY_REPLICATE) {
        return false;
    }
    if spec.name != "fcall" {
        return true;
    }
    let libraries = shared.functions.tenant(tenant);
    let function = std::str::from_utf8(args.get(1))
        .ok()
        .and_then(|name| libraries.function(name));
    // An unknown function is held as Redis holds it (its reply waits too).
    function.is_none_or(|f| !f.flags.no_writes)
}

/// A command the engine always plans: it never runs as itself.
pub(super) fn planned_only(_: &mut crate::commands::Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::error("ERR internal: CLIENT PAUSE and UNPAUSE run as plans")
}

#[cfg(test)]
mod tests {
    use kiln_net::OwnedArgs;

    use super::*;

    fn args(parts: &[&str]) -> OwnedArgs {
        OwnedArgs::new(parts.iter().map(|p| p.as_bytes()))
    }

    #[test]
    fn pause_arguments() {
        let parse = |parts: &[&str]| parse_pause(args(parts).args(), 1000);
        assert_eq!(
            parse(&["CLIENT", "PAUSE", "500"]),
            Ok(PauseOp::Pause {
                until_ms: 1500,
                mode: PauseMode::All
            })
        );
        assert_eq!(
            parse(&["client", "pause", "0", "write"]),
            Ok(PauseOp::Pause {
                until_ms: 1000,
                mode: PauseMode::Write
            })
        );
        assert_eq!(
            parse(&["CLIENT", "PAUSE", "10", "ALL"]),
            Ok(PauseOp::Pause {
                until_ms: 1010,
                mode: PauseMode::All
            })
        );
        assert_eq!(
            parse(&["CLIENT", "PAUSE", "10", "read"]),
            Err(Reply::error("ERR CLIENT PAUSE mode must be WRITE or ALL"))
        );
        // The mode is read before the timeout.
        assert_eq!(
            parse(&["CLIENT", "PAUSE", "x", "read"]),
            Err(Reply::error("ERR CLIENT PAUSE mode must be WRITE or ALL"))
        );
        assert_eq!(
            parse(&["CLIENT", "PAUSE", "1.5"]),
            Err(Reply::error(
                "ERR timeout is not an integer or out of range"
            ))
        );
        assert_eq!(
            parse(&["CLIENT", "PAUSE", "-1"]),
            Err(Reply::error("ERR timeout is negative"))
        );
        assert_eq!(
            parse(&["CLIENT", "PAUSE", "9223372036854775807"]),
            Err(Reply::error("ERR timeout is out of range"))
        );
        assert_eq!(
            parse(&["CLIENT", "pause", "1", "all", "x"]),
            Err(Reply::error(
                "ERR unknown subcommand or wrong number of arguments for 'pause'. Try CLIENT HELP."
            ))
        );
    }

    #[test]
    fn what_a_pause_holds() {
        let shared = crate::shared::tests_support::shared(1);
        let tenant = TenantId::DEFAULT;
        let holds_in = |mode, parts: &[&str], queued: &[&[&str]]| {
            let request = args(parts);
            let Lookup::Found(spec) = crate::commands::lookup(request.args()) else {
                panic!("{parts:?}")
            };
            let queued: Vec<OwnedArgs> = queued.iter().map(|q| args(q)).collect();
            holds(
                mode,
                spec,
                request.args(),
                tenant,
                &shared,
                queued.iter().map(OwnedArgs::args),
            )
        };
        let w = PauseMode::Write;
        assert!(holds_in(w, &["SET", "k", "v"], &[]));
        assert!(!holds_in(w, &["GET", "k"], &[]));
        assert!(holds_in(w, &["PUBLISH", "c", "m"], &[]));
        assert!(holds_in(w, &["PFCOUNT", "h"], &[]));
        assert!(holds_in(w, &["FCALL", "nosuch", "0"], &[]));
        assert!(!holds_in(w, &["FCALL_RO", "f", "0"], &[]));
        assert!(holds_in(w, &["EXEC"], &[&["GET", "a"], &["INCR", "a"]]));
        assert!(!holds_in(w, &["EXEC"], &[&["GET", "a"], &["PING"]]));
        assert!(!holds_in(w, &["CLIENT", "UNPAUSE"], &[]));
        let all = PauseMode::All;
        assert!(holds_in(all, &["GET", "k"], &[]));
        assert!(holds_in(all, &["PING"], &[]));
        assert!(!holds_in(all, &["CLIENT", "UNPAUSE"], &[]));
        assert!(!holds_in(all, &["client", "pause", "10", "write"], &[]));
    }
}
