//! What cores send each other, and the state a request keeps while other
//! cores answer it.

use kiln_net::{OwnedArgs, Protocol, Reply};
use smallvec::SmallVec;

use super::transaction::{TxId, TxOp, TxReport};
use crate::commands::CommandSpec;
use crate::commands::plan::{Finish, Job, Output, Parts, Plan};
use crate::tenant::TenantId;

/// Where an output must go: a part of a request in a connection's reply
/// queue on some core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// Core holding the connection.
    pub core: usize,
    /// The connection's key on that core.
    pub conn: usize,
    /// The client id, so a reply for a closed connection whose key was
    /// reused is dropped rather than misdelivered.
    pub client_id: u64,
    /// The request's sequence number on that connection.
    pub seq: u64,
    /// Which part of the request's plan.
    pub part: usize,
    /// Who the request runs as: every job of its plan acts on this
    /// tenant's keyspace on the core that runs it.
    pub tenant: TenantId,
    /// The protocol the reply is encoded in, for a job whose reply passes
    /// through unchanged ([`Output::Encoded`]); `None` when the origin
    /// combines the parts' typed replies.
    pub encode: Option<Protocol>,
    /// The client asked `CLIENT NO-TOUCH`: the job leaves access stamps
    /// alone.
    pub no_touch: bool,
}

/// A cross-core message.
#[derive(Debug)]
pub enum Msg {
    /// Run `job` here and send the output to `origin`.
    Run {
        /// The work.
        job: Job,
        /// Where the output goes.
        origin: Origin,
    },
    /// A job's output, arriving back at the origin.
    Done {
        /// The request part it answers.
        origin: Origin,
        /// The output.
        output: Output,
    },
    /// Client `client_id`'s connection closed: drop what it waits for
    /// (a blocking pop parked on this core).
    Cancel {
        /// The client.
        client_id: u64,
    },
    /// A transaction's request to this core (lock, run, release, watch).
    Tx {
        /// The transaction, named by its coordinating core.
        id: TxId,
        /// What to do.
        op: TxOp,
    },
    /// A core's report to the core coordinating transaction `id`.
    TxReport {
        /// The transaction.
        id: TxId,
        /// The reporting core.
        core: usize,
        /// The report.
        report: TxReport,
    },
    /// A message a storage function published, for this core's subscribers.
    Publish {
        /// The publishing tenant.
        tenant: TenantId,
        /// The message.
        publish: crate::commands::pubsub::Publish,
    },
    /// Client `client_id` stopped watching its keys on this core.
    Unwatch {
        /// The client.
        client_id: u64,
    },
    /// This core's pause ran out: run the requests it parked.
    Resume,
    /// Commands another core (or this one) admitted in one turn, for this
    /// core's `MONITOR` clients.
    Monitor(crate::monitor::Batch),
}

/// A request waiting for other cores: its place in the connection's reply
/// queue holds this until the last part answers.
pub struct Waiting {
    /// The request's command.
    pub spec: &'static CommandSpec,
    outputs: SmallVec<[Option<Output>; 2]>,
    remaining: usize,
    /// The original request (empty when its one reply passes through).
    pub args: OwnedArgs,
    /// See [`Plan::part_keys`].
    pub part_keys: Vec<SmallVec<[usize; 4]>>,
    /// The core each part runs on.
    pub part_cores: SmallVec<[usize; 2]>,
    carry: Vec<Output>,
    /// What happens once every part answered.
    pub finish: Finish,
    /// Protocol when the request arrived (its reply is encoded in it).
    pub protocol: Protocol,
}

impl Waiting {
    /// A waiting request for `plan`'s parts; the jobs are returned for
    /// sending.
    pub fn start(
        spec: &'static CommandSpec,
        plan: Plan,
        args: OwnedArgs,
        protocol: Protocol,
    ) -> (Waiting, Parts) {
        let mut waiting = Waiting {
            spec,
            outputs: SmallVec::new(),
            remaining: 0,
            args,
            part_keys: Vec::new(),
            part_cores: SmallVec::new(),
            carry: Vec::new(),
            finish: Finish::Single,
            protocol,
        };
        let jobs = waiting.restart(plan);
        (waiting, jobs)
    }

    /// A request answered later by one output from this core: a blocked
    /// command parked here.
    pub fn parked(spec: &'static CommandSpec, protocol: Protocol) -> Waiting {
        let mut outputs = SmallVec::new();
        outputs.push(None);
        Waiting {
            spec,
            outputs,
            remaining: 1,
            args: OwnedArgs::default(),
            part_keys: Vec::new(),
            part_cores: SmallVec::new(),
            carry: Vec::new(),
            finish: Finish::Single,
            protocol,
        }
    }

    /// Begins the next step of a continued plan.
    pub fn restart(&mut self, plan: Plan) -> Parts {
        self.remaining = plan.parts.len();
        self.outputs.clear();
        self.outputs.extend((0..plan.parts.len()).map(|_| None));
        self.part_cores.clear();
        self.part_cores.extend(plan.parts.iter().map(|(c, _)| *c));
        self.part_keys = plan.part_keys;
        self.carry = plan.carry;
        self.finish = plan.finish;
        plan.parts
    }

    /// Records part `part`'s output; true when it was the last.
    pub fn fill(&mut self, part: usize, output: Output) -> bool {
        if let Some(slot) = self.outputs.get_mut(part)
            && slot.is_none()
        {
            *slot = Some(output);
            self.remaining -= 1;
        }
        self.remaining == 0
    }

    /// The outputs in part order, carried ones first.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        let mut all = std::mem::take(&mut self.carry);
        all.extend(
            self.outputs
                .drain(..)
                .map(|o| o.unwrap_or(Output::Reply(Reply::Nil))),
        );
        all
    }

    /// The only part's output, for a plan whose reply passes through.
    pub fn take_single(&mut self) -> Option<Output> {
        self.outputs.first_mut().and_then(Option::take)
    }
}
