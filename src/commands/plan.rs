//! Cross-core work: a request that needs other cores becomes a [`Plan`] of
//! per-core [`Job`]s, whose [`Output`]s come back to the origin core and are
//! combined (or continued into the next step) there.
//!
//! ```text
//!  origin core                         owner cores
//!  ───────────                         ───────────
//!  MGET a b c ─ plan ─┬─ Job MGET a c ──► core 0 ─┐
//!                     └─ Job MGET b ────► core 1 ─┤ Output
//!  slot in reply queue ◄── combine ◄──────────────┘
//! ```
//!
//! The origin keeps the request's place in the connection's reply queue, so
//! replies still leave in request order.

use bytes::Bytes;
use kiln_net::{Args, OwnedArgs, Protocol, Reply};
use kiln_store::Record;
use smallvec::SmallVec;

use crate::commands::CommandSpec;
use crate::shared::Shared;
use crate::tenant::TenantId;
use kiln_net::transport::PortKind;

/// Work one core does for another.
#[derive(Debug)]
pub enum Job {
    /// Run a command against the owner's shard (no routing, no session):
    /// the command as the origin looked it up, and its arguments.
    Command(&'static CommandSpec, OwnedArgs),
    /// Read a record whole (cross-core RENAME / COPY).
    PeekRecord(Bytes),
    /// Store a record; replies `:1` if written, `:0` if the key existed and
    /// `replace` was false.
    PutRecord {
        /// Destination key.
        key: Bytes,
        /// The record.
        record: Record,
        /// Overwrite an existing key.
        replace: bool,
    },
    /// Delete `key` only if it still holds exactly `record` (the value a
    /// cross-core RENAME copied), so a write that raced the rename survives.
    DelIfSame {
        /// The key.
        key: Bytes,
        /// What it held when copied.
        record: Record,
    },
    /// Deliver a message to this core's subscribers; replies how many got it.
    Publish(crate::commands::pubsub::Publish),
    /// Answer a `PUBSUB` question about this core's subscribers.
    Pubsub(crate::commands::pubsub::Query),
    /// Close this core's connections `CLIENT KILL` names; replies how
    /// many.
    Kill(Box<crate::commands::client::Kill>),
    /// Write this core's whole part of a snapshot now (`SAVE`).
    Save,
    /// Pause this core's clients, or end a pause (`CLIENT PAUSE`,
    /// `CLIENT UNPAUSE`); replies `+OK`.
    Pause(crate::commands::client::pause::PauseOp),
}

/// What a job produced.
#[derive(Debug)]
pub enum Output {
    /// A reply.
    Reply(Reply),
    /// A reply the owner encoded for the client (a single-part plan's
    /// reply passes through): the job's own argument buffer, reused, and
    /// given back to the origin's pool once copied out.
    Encoded(Vec<u8>),
    /// A record (or none) for [`Job::PeekRecord`].
    Record(Option<Record>),
}

impl Output {
    /// The reply, or an internal error for a record or encoded bytes.
    pub fn into_reply(self) -> Reply {
        match self {
            Output::Reply(r) => r,
            Output::Encoded(_) => Reply::error("ERR internal: unexpected encoded reply"),
            Output::Record(_) => Reply::error("ERR internal: unexpected record"),
        }
    }
}

/// A plan's `(core, job)` pairs; one lives inline (a forwarded request).
pub type Parts = SmallVec<[(usize, Job); 1]>;

/// Combines the outputs of all parts into the client's reply.
pub type CombineFn = fn(&Finishing<'_>, Vec<Output>) -> Reply;
/// Turns one step's outputs into the next step, or the final reply (`Err`).
pub type ContinueFn = fn(&Finishing<'_>, Vec<Output>) -> Result<Plan, Reply>;
/// Builds a command-specific plan, or replies at once (`Err`).
pub type PlannerFn = fn(&Planning<'_>, Args<'_>) -> Result<Plan, Reply>;

/// What happens when every part has answered.
#[derive(Clone, Copy)]
pub enum Finish {
    /// The only part's reply is the reply.
    Single,
    /// Combine the parts' outputs.
    Combine(CombineFn),
    /// Start another step.
    Continue(ContinueFn),
}

/// Jobs to run on cores, and what to do with their outputs.
pub struct Plan {
    /// `(core, job)` pairs.
    pub parts: Parts,
    /// For split commands: which of the original keys (by ordinal) each
    /// part carries, so a combine can put replies back in place.
    pub part_keys: Vec<SmallVec<[usize; 4]>>,
    /// Outputs carried from an earlier step, prepended to this step's.
    pub carry: Vec<Output>,
    /// What to do with the outputs.
    pub finish: Finish,
}

impl Plan {
    /// One job on one core, its reply passed through.
    pub fn single(core: usize, job: Job) -> Plan {
        let mut parts = Parts::new();
        parts.push((core, job));
        Plan {
            parts,
            part_keys: Vec::new(),
            carry: Vec::new(),
            finish: Finish::Single,
        }
    }

    /// Jobs whose outputs `finish` handles.
    pub fn new(parts: impl IntoIterator<Item = (usize, Job)>, finish: Finish) -> Plan {
        Plan {
            parts: parts.into_iter().collect(),
            part_keys: Vec::new(),
            carry: Vec::new(),
            finish,
        }
    }
}

/// What a planner may consult.
pub struct Planning<'a> {
    /// Shared state (slot map).
    pub shared: &'a Shared,
    /// The receiving core.
    pub core: usize,
    /// The listener the request came through.
    pub port_kind: PortKind,
    /// Our address as the client sees it (for a `MOVED` reply).
    pub local: std::net::SocketAddr,
    /// The command's spec.
    pub spec: &'static CommandSpec,
    /// The id of the client that sent it.
    pub client: u64,
}

impl<'a> Planning<'a> {
    /// A planning as core `core` does it for a client of `port_kind`
    /// reaching it on loopback (unit tests).
    #[cfg(test)]
    pub fn on(
        shared: &'a Shared,
        core: usize,
        port_kind: PortKind,
        spec: &'static CommandSpec,
    ) -> Planning<'a> {
        Planning {
            shared,
            core,
            port_kind,
            local: ([127, 0, 0, 1], 7379).into(),
            spec,
            client: 0,
        }
    }

    /// The cores an all-cores command runs on from this port: every core
    /// on the main port, this one on a core port (a cluster node answers
    /// for its own slots only).
    pub fn cores(&self) -> Vec<usize> {
        match self.port_kind {
            PortKind::Main => (0..self.shared.cores()).collect(),
            PortKind::Core => vec![self.core],
        }
    }
}

/// What a combine or continuation sees.
pub struct Finishing<'a> {
    /// The request's command.
    pub spec: &'static CommandSpec,
    /// The original request.
    pub args: &'a OwnedArgs,
    /// The client's protocol.
    pub protocol: Protocol,
    /// See [`Plan::part_keys`].
    pub part_keys: &'a [SmallVec<[usize; 4]>],
    /// The core each part ran on.
    pub part_cores: &'a [usize],
    /// Shared state.
    pub shared: &'a Shared,
    /// The origin core.
    pub core: usize,
    /// Who the request runs as.
    pub tenant: TenantId,
}

/// The same command on each of `cores`, combined.
pub fn all_cores(p: &Planning<'_>, args: Args<'_>, combine: CombineFn) -> Plan {
    let parts = p
        .cores()
        .into_iter()
        .map(|core| (core, Job::Command(p.spec, args.to_owned_args())));
    Plan::new(parts, Finish::Combine(combine))
}

/// Splits a multi-key command into one sub-command per owning core: the
/// command name, then each of that core's keys followed by the `step - 1`
/// arguments after it (MSET's values).
pub fn split_by_owner(p: &Planning<'_>, args: Args<'_>, combine: CombineFn) -> Plan {
    let keys = p.spec.keys;
    let step = keys.step.max(1);
    let mut parts: Vec<(usize, OwnedArgs)> = Vec::new();
    let mut part_keys: Vec<SmallVec<[usize; 4]>> = Vec::new();
    for (ordinal, pos) in keys.positions_in(args).enumerate() {
        let core = p.shared.slots.owner_of(args.get(pos));
        let i = match parts.iter().position(|(c, _)| *c == core) {
            Some(i) => i,
            None => {
                parts.push((core, OwnedArgs::new([args.get(0)])));
                part_keys.push(SmallVec::new());
                parts.len() - 1
            }
        };
        for arg in pos..(pos + step).min(args.len()) {
            parts[i].1.push(args.get(arg));
        }
        part_keys[i].push(ordinal);
    }
    Plan {
        parts: parts
            .into_iter()
            .map(|(core, a)| (core, Job::Command(p.spec, a)))
            .collect(),
        part_keys,
        carry: Vec::new(),
        finish: Finish::Combine(combine),
    }
}

/// Combine: the first error, else the sum of integer replies (DEL, EXISTS...).
pub fn sum_integers(_: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    let mut total = 0i64;
    for out in outputs {
        match out.into_reply() {
            Reply::Integer(n) => total = total.saturating_add(n),
            err @ Reply::Error(_) => return err,
            _ => return Reply::error("ERR internal: expected an integer part"),
        }
    }
    Reply::Integer(total)
}

/// Combine: the first error, else `+OK` (MSET, FLUSHALL...).
pub fn all_ok(_: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    outputs
        .into_iter()
        .map(Output::into_reply)
        .find(Reply::is_error)
        .unwrap_or(Reply::OK)
}

/// Combine: concatenate array replies (KEYS).
pub fn concat_arrays(_: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    let mut all = Vec::new();
    for out in outputs {
        match out.into_reply() {
            Reply::Array(items) => all.extend(items),
            err @ Reply::Error(_) => return err,
            _ => return Reply::error("ERR internal: expected an array part"),
        }
    }
    Reply::Array(all)
}

/// Combine: put each part's array elements back at their keys' places (MGET).
pub fn scatter_by_key(f: &Finishing<'_>, outputs: Vec<Output>) -> Reply {
    let total: usize = f.part_keys.iter().map(|k| k.len()).sum();
    let mut slots = vec![Reply::Nil; total];
    for (part, out) in outputs.into_iter().enumerate() {
        match out.into_reply() {
            Reply::Array(items) => {
                for (item, &ordinal) in items.into_iter().zip(&f.part_keys[part]) {
                    slots[ordinal] = item;
                }
            }
            err @ Reply::Error(_) => return err,
            _ => return Reply::error("ERR internal: expected an array part"),
        }
    }
    Reply::Array(slots)
}

/// Runs a record job (cross-core RENAME / COPY) on one tenant's shard;
/// `over`: the server or the tenant is over its memory limit.
pub fn record_job(shard: &mut kiln_store::Shard, job: Job, over: bool) -> Output {
    match job {
        Job::Command(..)
        | Job::Publish(_)
        | Job::Pubsub(_)
        | Job::Kill(_)
        | Job::Pause(_)
        | Job::Save => Output::Reply(Reply::error("ERR internal: not a record job")),
        Job::PeekRecord(key) => Output::Record(shard.peek_record(&key)),
        Job::PutRecord {
            key,
            record,
            replace,
        } if !over => Output::Reply(shard.put_record(&key, record, replace).into()),
        Job::PutRecord { .. } => Output::Reply(crate::commands::errors::OOM),
        Job::DelIfSame { key, record } => {
            let same = shard
                .peek_record(&key)
                .is_some_and(|current| same_record(&current, &record));
            Output::Reply((same && shard.del(&key)).into())
        }
    }
}

/// Whether two records are the same stored value (same bytes in memory, not
/// merely equal), for a rename that must not delete a newer write.
fn same_record(a: &Record, b: &Record) -> bool {
    a.value.is_same(&b.value) && a.expire_at == b.expire_at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finishing<'a>(
        args: &'a OwnedArgs,
        part_keys: &'a [SmallVec<[usize; 4]>],
        shared: &'a Shared,
    ) -> Finishing<'a> {
        Finishing {
            spec: crate::commands::spec_named("mget").unwrap(),
            args,
            protocol: Protocol::Resp2,
            part_keys,
            part_cores: &[],
            shared,
            core: 0,
            tenant: TenantId::DEFAULT,
        }
    }

    fn test_shared() -> Shared {
        crate::shared::tests_support::shared(2)
    }

    #[test]
    fn scatter_restores_key_order() {
        let shared = test_shared();
        let args = OwnedArgs::new([&b"MGET"[..], b"a", b"b", b"c"]);
        let keys: Vec<SmallVec<[usize; 4]>> =
            vec![SmallVec::from_slice(&[0, 2]), SmallVec::from_slice(&[1])];
        let f = finishing(&args, &keys, &shared);
        let outputs = vec![
            Output::Reply(Reply::Array(vec![Reply::bulk_from("A"), Reply::Nil])),
            Output::Reply(Reply::Array(vec![Reply::bulk_from("B")])),
        ];
        assert_eq!(
            scatter_by_key(&f, outputs),
            Reply::Array(vec![
                Reply::bulk_from("A"),
                Reply::bulk_from("B"),
                Reply::Nil
            ])
        );
    }

    #[test]
    fn sums_and_errors() {
        let shared = test_shared();
        let args = OwnedArgs::new([&b"DEL"[..]]);
        let f = finishing(&args, &[], &shared);
        let ints = vec![
            Output::Reply(Reply::Integer(2)),
            Output::Reply(Reply::Integer(3)),
        ];
        assert_eq!(sum_integers(&f, ints), Reply::Integer(5));
        let with_err = vec![
            Output::Reply(Reply::OK),
            Output::Reply(Reply::error("OOM x")),
        ];
        assert_eq!(all_ok(&f, with_err), Reply::error("OOM x"));
    }

    #[test]
    fn split_groups_keys_with_their_values() {
        let shared = test_shared();
        let spec = crate::commands::spec_named("mset").unwrap();
        let p = Planning::on(&shared, 0, PortKind::Main, spec);
        // Find two keys on different cores.
        let (a, b) = crate::shared::tests_support::keys_on_cores(&shared);
        let args = OwnedArgs::new([
            &b"MSET"[..],
            a.as_bytes(),
            b"1",
            b.as_bytes(),
            b"2",
            a.as_bytes(),
            b"3",
        ]);
        let plan = split_by_owner(&p, args.args(), all_ok);
        assert_eq!(plan.parts.len(), 2);
        let Job::Command(_, first) = &plan.parts[0].1 else {
            panic!()
        };
        let got: Vec<&[u8]> = first.args().iter().collect();
        assert_eq!(
            got,
            vec![&b"MSET"[..], a.as_bytes(), b"1", a.as_bytes(), b"3"]
        );
        assert_eq!(plan.part_keys[0].as_slice(), &[0, 2]);
        assert_eq!(plan.part_keys[1].as_slice(), &[1]);
    }
}
