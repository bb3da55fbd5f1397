//! Key triggers (`kiln.onKeyEvent`): after a command is done, the changes
//! it made to keys of a tenant with triggers run the matching functions,
//! on the key's core, each as its own call with its own CPU budget.
//!
//! A trigger's writes are changes too and may fire further triggers, down
//! to [`MAX_TRIGGER_DEPTH`]; one turn runs at most [`MAX_TRIGGER_RUNS`],
//! so a fan-out cannot hold the core. What is not run is counted
//! (`functions_triggers_dropped`), what fails is counted and logged
//! (`functions_trigger_failures`) — never sent to the client whose command
//! fired it. Each run is charged to the tenant's CPU share like any call;
//! once a tenant is refused for CPU, its other triggers of that turn are
//! dropped without running, so a fan-out holds the core for no longer
//! than the tenant's burst. Triggers wait while a transaction holds locks on this core,
//! so none runs between a transaction's steps.

use std::sync::Arc;

use kiln_net::transport::Post;
use kiln_net::{OwnedArgs, Reply};
use smallvec::SmallVec;

use super::{Engine, Msg};
use crate::commands::function::TRIGGER;
use crate::commands::{Caller, Command, Executed, Out};
use crate::journal::Fired;
use crate::tenant::{TenantId, Usage};

/// How deep a chain of triggers may go: a trigger fired by a client's
/// change runs at depth 1; one fired by that trigger's writes at 2...
pub const MAX_TRIGGER_DEPTH: u32 = 8;

/// Most triggers one turn runs; the rest are dropped (and counted).
pub const MAX_TRIGGER_RUNS: usize = 4096;

/// What one round of triggers did, for the few log lines it writes.
#[derive(Default)]
struct Round {
    runs: usize,
    failures: usize,
    dropped: usize,
    /// Tenants refused for CPU this round: their other triggers wait for
    /// nothing and are dropped.
    throttled: SmallVec<[TenantId; 2]>,
}

impl Engine {
    /// Runs the triggers the last commands fired, then those their
    /// writes fired, in order. The log gets the first failure and the
    /// first drop of a round, then one line counting the rest: a tenant
    /// cannot flood it.
    pub(super) fn run_triggers(&mut self, post: &mut Post<Msg>) {
        if self.journal.fired.is_empty() || !self.transactions.locks.is_idle() {
            return;
        }
        let mut round = Round::default();
        while let Some(fired) = self.journal.fired.pop_front() {
            if !self.shared.tenants.is_current(fired.tenant) {
                continue;
            }
            let libraries = self.shared.functions.tenant(fired.tenant);
            let functions: SmallVec<[String; 2]> = libraries
                .triggers_for(&fired.key, fired.event)
                .map(|(_, trigger)| trigger.function.clone())
                .collect();
            for function in functions {
                let shared = Arc::clone(&self.shared);
                let usage = shared.tenants.usage(self.id, fired.tenant);
                let throttled = round.throttled.contains(&fired.tenant);
                if fired.depth > MAX_TRIGGER_DEPTH || round.runs >= MAX_TRIGGER_RUNS || throttled {
                    Usage::bump(&usage.triggers_dropped);
                    round.dropped += 1;
                    if round.dropped == 1 {
                        tracing::warn!(
                            tenant = %self.shared.tenants.name(fired.tenant),
                            trigger = %function,
                            depth = fired.depth,
                            "key trigger not run: past the depth limit, this turn's cap or the tenant's CPU share"
                        );
                    }
                    continue;
                }
                round.runs += 1;
                if let Some(error) = self.run_trigger(&fired, &function, post) {
                    Usage::bump(&usage.trigger_failures);
                    round.failures += 1;
                    if error.starts_with("TRYAGAIN") {
                        round.throttled.push(fired.tenant);
                    }
                    if round.failures == 1 {
                        tracing::warn!(
                            tenant = %self.shared.tenants.name(fired.tenant),
                            trigger = %function,
                            key = %String::from_utf8_lossy(&fired.key),
                            event = fired.event,
                            %error,
                            "key trigger failed"
                        );
                    }
                }
            }
        }
        if round.failures > 1 || round.dropped > 1 {
            tracing::warn!(
                failed = round.failures,
                dropped = round.dropped,
                "key triggers failed or not run this turn (the first of each logged above)"
            );
        }
    }

    /// Runs one trigger's function for `fired`; its error, if it failed.
    fn run_trigger(
        &mut self,
        fired: &Fired,
        function: &str,
        post: &mut Post<Msg>,
    ) -> Option<String> {
        let args = OwnedArgs::new([
            &b"trigger"[..],
            function.as_bytes(),
            &fired.key,
            fired.event.as_bytes(),
        ]);
        let cmd = Command {
            spec: &TRIGGER,
            args: args.args(),
            tenant: fired.tenant,
        };
        self.journal.trigger_depth = fired.depth;
        let executed = self.execute(cmd, Caller::Job(&[]), Out::Value);
        self.journal.trigger_depth = 0;
        let usage = self.shared.tenants.usage(self.id, fired.tenant);
        Usage::bump(&usage.triggers_run);
        // Its writes may wake clients blocked on the keys it created.
        self.serve_blocked(fired.tenant, post);
        match executed {
            Executed::Reply(Reply::Error(error)) => Some(error.into_owned()),
            _ => None,
        }
    }
}
