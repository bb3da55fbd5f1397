//! Transactions: `MULTI`, `EXEC`, `DISCARD`, `WATCH`, `UNWATCH` — the
//! commands, the rules a command meets while it is queued, and where each
//! queued command runs when `EXEC` comes.
//!
//! The engine runs these five itself (`engine::transaction`): `EXEC` and
//! `WATCH` need the cores owning the keys, which a command function cannot
//! reach. Their table entries give them their names, arity, flags and ACL
//! categories, as for every other command.

use kiln_net::transport::PortKind;
use kiln_net::{Args, Reply};

use super::execute::admit_client;
use super::plan::{Finish, Plan};
use super::route::{self, Routed};
use super::{Command, CommandSpec, Ctx, Flags, KeySpec, Route, errors};
use crate::command;
use crate::session::Session;
use crate::shared::Shared;
use crate::tenant::Growth;

const FAST: &[&str] = &["@fast", "@transaction"];
const SLOW: &[&str] = &["@slow", "@transaction"];
const CONTROL: Flags = Flags::NOSCRIPT.with(Flags::STALE).with(Flags::TRANSACTION);

/// This family's commands.
// One line per command reads as a table; rustfmt would spread each over ten.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    command!("multi", 1, CONTROL.with(Flags::FAST), FAST, KeySpec::NONE, Route::Local, engine_only,
        "transactions", "1.2.0", "Starts a transaction."),
    command!("exec", 1, CONTROL, SLOW, KeySpec::NONE, Route::Local, engine_only,
        "transactions", "1.2.0", "Executes all commands in a transaction."),
    command!("discard", 1, CONTROL.with(Flags::FAST), FAST, KeySpec::NONE, Route::Local, engine_only,
        "transactions", "2.0.0", "Discards a transaction."),
    command!("watch", -2, CONTROL.with(Flags::FAST), FAST, KeySpec::range(1, -1, 1), Route::Local, engine_only,
        "transactions", "2.2.0", "Monitors changes to keys to determine the execution of a transaction."),
    command!("unwatch", 1, CONTROL.with(Flags::FAST), FAST, KeySpec::NONE, Route::Local, engine_only,
        "transactions", "2.2.0", "Forgets about watched keys of a transaction."),
];

/// `+QUEUED`
pub const QUEUED: Reply = Reply::status("QUEUED");
/// `EXEC` after a command was refused while queueing.
pub const EXECABORT: Reply =
    Reply::error("EXECABORT Transaction discarded because of previous errors.");
/// `MULTI` inside `MULTI`.
pub const NESTED: Reply = Reply::error("ERR MULTI calls can not be nested");
/// `EXEC` outside `MULTI`.
pub const EXEC_WITHOUT_MULTI: Reply = Reply::error("ERR EXEC without MULTI");
/// `DISCARD` outside `MULTI`.
pub const DISCARD_WITHOUT_MULTI: Reply = Reply::error("ERR DISCARD without MULTI");
/// `WATCH` inside `MULTI`.
pub const WATCH_IN_MULTI: Reply = Reply::error("ERR WATCH inside MULTI is not allowed");
/// A command a transaction cannot queue (`SUBSCRIBE`...).
pub const NOT_IN_MULTI: Reply = Reply::error("ERR Command not allowed inside a transaction");
/// A transaction grown past the client's query buffer limit.
pub const TOO_BIG: Reply =
    Reply::error("ERR transaction too big: its queued commands exceed client-query-buffer-limit");
/// A command of several steps across cores, inside a transaction.
pub const STEPS_ACROSS_CORES: Reply = Reply::error(
    "CROSSSLOT this command's keys are on several cores and it runs in steps, which a transaction cannot hold together; put its keys under one hash tag",
);

/// The table's entry point for the five: reached only where no engine
/// runs them (a test bed), never by a client.
fn engine_only(_: &mut Ctx<'_>, _: Args<'_>) -> Reply {
    Reply::error("ERR transaction commands run only on a client connection")
}

/// Whether a command is run straight away inside `MULTI` rather than
/// queued: the transaction's own commands, `QUIT` and `RESET`.
pub fn runs_inside_multi(spec: &CommandSpec) -> bool {
    spec.flags.has(Flags::TRANSACTION) || matches!(spec.name, "quit" | "reset")
}

/// The checks a command meets as it is queued, in Redis's order: arity,
/// authentication, the tenant's command rules, where its keys are (a
/// `MOVED` or `CROSSSLOT` refuses it now), and memory for one that may grow
/// it. A refusal makes `EXEC` answer `EXECABORT`.
pub fn admit_queued(
    shared: &Shared,
    core: usize,
    cmd: Command<'_>,
    session: &mut Session,
) -> Result<(), Reply> {
    admit_client(shared, cmd, session)?;
    if let Placement::Refused(reply) = place(shared, core, cmd.spec, cmd.args, session) {
        return Err(reply);
    }
    if cmd.spec.flags.has(Flags::DENYOOM) && !shared.admits(cmd.tenant, Growth::UNKNOWN) {
        return Err(errors::OOM);
    }
    Ok(())
}

/// Where a queued command runs when `EXEC` comes.
pub enum Placement {
    /// A connection command: on the client's core, with its session.
    Session,
    /// Whole, on this core.
    Core(usize),
    /// In parts on several cores, their replies combined as outside a
    /// transaction (`MGET`, `DEL`, `DBSIZE` over cores).
    Parts(Plan),
    /// Nowhere: this is its reply.
    Refused(Reply),
}

/// Where `spec` with `args`, queued by `session`'s client on core `core`,
/// runs (routing as outside a transaction).
pub fn place(
    shared: &Shared,
    core: usize,
    spec: &'static CommandSpec,
    args: Args<'_>,
    session: &Session,
) -> Placement {
    if matches!(spec.route, Route::Local) {
        return Placement::Session;
    }
    match route::route(shared, core, spec, args, session) {
        Routed::Here => Placement::Core(core),
        Routed::Owner(owner) => Placement::Core(owner),
        Routed::Reply(reply) => Placement::Refused(reply),
        Routed::Plan(plan) => match plan.finish {
            Finish::Combine(_) => Placement::Parts(plan),
            Finish::Single => match plan.parts.as_slice() {
                [(owner, _)] => Placement::Core(*owner),
                _ => Placement::Refused(STEPS_ACROSS_CORES),
            },
            Finish::Continue(_) if session.port_kind == PortKind::Core => {
                Placement::Refused(errors::CROSSSLOT)
            }
            Finish::Continue(_) => Placement::Refused(STEPS_ACROSS_CORES),
        },
    }
}
