//! Where a client's request runs: here, on the cores owning its keys (a
//! plan), or nowhere (`-CROSSSLOT`, `-MOVED` on a core port).

use std::net::SocketAddr;

use kiln_net::transport::PortKind;
use kiln_net::{Args, Reply};

use super::plan::{self as fanout, Plan, Planning};
use super::{self as commands, CommandSpec, KeyRouting, Route, errors};
use crate::session::Session;
use crate::shared::Shared;

/// What routing decided for a request.
pub enum Routed {
    /// Run on this core now.
    Here,
    /// Run on the core owning every key (forwarded whole).
    Owner(usize),
    /// Answer at once.
    Reply(Reply),
    /// Needs other cores (or a per-core job on this one).
    Plan(Plan),
}

/// Decides where a request that arrived on core `core` runs.
pub fn route(
    shared: &Shared,
    core: usize,
    spec: &'static CommandSpec,
    args: Args<'_>,
    session: &Session,
) -> Routed {
    let port_kind = session.port_kind;
    let planning = || Planning {
        shared,
        core,
        port_kind,
        local: session.local,
        spec,
        client: session.id,
    };
    let planned = |result: Result<Plan, Reply>| match result {
        Ok(plan) => Routed::Plan(plan),
        Err(reply) => Routed::Reply(reply),
    };
    match spec.route {
        Route::Local => Routed::Here,
        Route::AllCores(combine) => Routed::Plan(fanout::all_cores(&planning(), args, combine)),
        Route::Planned(planner) => planned(planner(&planning(), args)),
        Route::Keys(routing) => {
            let mut positions = spec.keys.positions_in(args);
            let Some(first) = positions.next() else {
                return Routed::Here;
            };
            let slots = &shared.slots;
            if port_kind == PortKind::Core {
                return as_cluster_node(shared, core, args, first, positions, session.local);
            }
            let owner = slots.owner_of(args.get(first));
            if positions.all(|p| slots.owner_of(args.get(p)) == owner) {
                return if owner == core {
                    Routed::Here
                } else {
                    Routed::Owner(owner)
                };
            }
            match routing {
                KeyRouting::SameCore => Routed::Reply(errors::CROSSSLOT),
                // An incomplete key/value list must fail whole, before
                // any core writes its part.
                KeyRouting::Split(_) if !complete_groups(spec, args.len()) => {
                    Routed::Reply(commands::wrong_arity(spec))
                }
                KeyRouting::Split(combine) => {
                    Routed::Plan(fanout::split_by_owner(&planning(), args, combine))
                }
                KeyRouting::Planned(planner) => planned(planner(&planning(), args)),
            }
        }
    }
}

/// A core port behaves as a Redis Cluster node: keys must share one slot,
/// and that slot must be ours.
fn as_cluster_node(
    shared: &Shared,
    core: usize,
    args: Args<'_>,
    first: usize,
    mut rest: impl Iterator<Item = usize>,
    local: SocketAddr,
) -> Routed {
    let slot = kiln_net::slot::key_slot(args.get(first));
    if rest.any(|p| kiln_net::slot::key_slot(args.get(p)) != slot) {
        return Routed::Reply(errors::CROSSSLOT);
    }
    let owner = shared.slots.owner(slot);
    if owner == core {
        Routed::Here
    } else {
        Routed::Reply(moved(shared, slot, owner, local))
    }
}

/// On a core port, the refusal (`CROSSSLOT`, `MOVED`) of a request whose
/// keys, at `positions`, are not all in one slot of this core; `None` when
/// they are.
pub fn refuse_on_core_port(
    shared: &Shared,
    core: usize,
    args: Args<'_>,
    mut positions: impl Iterator<Item = usize>,
    local: SocketAddr,
) -> Option<Reply> {
    let first = positions.next()?;
    match as_cluster_node(shared, core, args, first, positions, local) {
        Routed::Reply(reply) => Some(reply),
        _ => None,
    }
}

/// Whether the arguments after the first key form whole groups of `step`
/// (MSET's key, value pairs).
fn complete_groups(spec: &CommandSpec, argc: usize) -> bool {
    let step = spec.keys.step.max(1);
    argc >= spec.keys.first && (argc - spec.keys.first).is_multiple_of(step)
}

/// `-MOVED <slot> <ip>:<port>`; the IP is the one the client reached us on
/// (`local`) unless one is announced.
pub fn moved(shared: &Shared, slot: u16, owner: usize, local: SocketAddr) -> Reply {
    let ip = shared.slots.ip_for(local);
    Reply::error_owned(format!(
        "MOVED {slot} {ip}:{}",
        shared.slots.nodes[owner].port
    ))
}
