//! One core's per-tenant, per-command figures: calls, time, rejections,
//! failures and a latency histogram per command (Redis's `commandstats`
//! and `latencystats`), and calls per storage function.
//!
//! Owned by the core (a field of [`crate::stats::CoreStats`]), written on
//! the request path without locks or allocation once a tenant's row for a
//! command exists; read by INFO / LATENCY parts on the same core and copied
//! into the core's published snapshot for the metrics endpoint.

use hdrhistogram::Histogram;
use kiln_net::Reply;
use kiln_store::TenantId;

use super::Rejection;
use crate::commands::{self, CommandSpec};

/// The histogram's bounds, in nanoseconds, as Redis's
/// `LATENCY_HISTOGRAM_MIN_VALUE` / `MAX_VALUE` / `PRECISION`: a slower
/// command is recorded as taking one second.
const LOWEST_NS: u64 = 1;
const HIGHEST_NS: u64 = 1_000_000_000;
const SIGFIGS: u8 = 2;

/// A latency histogram in nanoseconds.
pub type Latency = Histogram<u32>;

/// A fresh histogram with Redis's bounds.
pub fn new_latency() -> Latency {
    // The bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGFIGS).expect("valid histogram bounds")
}

/// Records `ns` in `h`, clamped to the histogram's range as Redis does.
pub fn record_ns(h: &mut Latency, ns: u64, count: u64) {
    let count = u32::try_from(count).unwrap_or(u32::MAX);
    h.saturating_record_n(ns.clamp(LOWEST_NS, HIGHEST_NS), count);
}

/// One command's figures for one tenant on one core.
#[derive(Debug, Clone)]
pub struct CommandRow {
    /// The command's id in [`commands::catalog`].
    pub id: u16,
    /// Times it ran (failed runs included), as Redis's `calls`.
    pub calls: u64,
    /// Time spent running it, in nanoseconds.
    pub nanos: u64,
    /// Times it was refused before running (`rejected_calls`).
    pub rejected: u64,
    /// Times it ran and answered an error (`failed_calls`).
    pub failed: u64,
    /// Its latencies; `None` until it first ran timed here.
    pub latency: Option<Box<Latency>>,
}

/// Why a function call was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Killed {
    /// It ran past its CPU budget.
    Budget,
    /// It exhausted its heap.
    Heap,
    /// `FUNCTION KILL`.
    Kill,
}

impl Killed {
    /// Every reason, in [`FunctionTotals::killed`] order.
    pub const ALL: [Killed; 3] = [Killed::Budget, Killed::Heap, Killed::Kill];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Killed::Budget => "budget",
            Killed::Heap => "heap",
            Killed::Kill => "function_kill",
        }
    }

    /// Why a call that answered `error` was stopped, if it was: the
    /// runtime's `CallError` messages (kiln-isolates `types.rs`).
    pub fn from_error(error: &str) -> Option<Killed> {
        if error.starts_with("ERR Script killed by user") {
            Some(Killed::Kill)
        } else if !error.starts_with("ERR Function '") || !error.contains("was terminated") {
            None
        } else if error.ends_with("CPU budget") {
            Some(Killed::Budget)
        } else if error.ends_with("heap limit") {
            Some(Killed::Heap)
        } else {
            None
        }
    }
}

/// The label of the functions folded together past the cap.
pub const OTHER: &str = "other";

/// Calls of one function (or of [`OTHER`]) for one tenant on one core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRow {
    /// Its library (`other` for the folded row).
    pub library: String,
    /// Its name (`other` for the folded row).
    pub function: String,
    /// Calls.
    pub calls: u64,
    /// Time spent in them, in nanoseconds.
    pub nanos: u64,
}

/// A tenant's function figures that are not per function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunctionTotals {
    /// Calls stopped, by [`Killed::ALL`] order.
    pub killed: [u64; 3],
}

/// One tenant's figures on one core.
#[derive(Debug, Clone, Default)]
pub struct TenantRows {
    generation: u32,
    /// Row index + 1 per command id (0: no row yet); empty until the
    /// tenant's first command here.
    index: Box<[u16]>,
    rows: Vec<CommandRow>,
    functions: Vec<FunctionRow>,
    totals: FunctionTotals,
    rejections: [u64; 7],
}

impl TenantRows {
    fn row(&mut self, id: usize) -> &mut CommandRow {
        if self.index.is_empty() {
            self.index = vec![0; commands::catalog().len()].into_boxed_slice();
        }
        let at = match self.index.get(id).copied() {
            Some(0) | None => {
                self.rows.push(CommandRow {
                    id: id as u16,
                    calls: 0,
                    nanos: 0,
                    rejected: 0,
                    failed: 0,
                    latency: None,
                });
                let at = self.rows.len();
                if let Some(slot) = self.index.get_mut(id) {
                    *slot = at as u16;
                }
                at
            }
            Some(at) => at as usize,
        };
        &mut self.rows[at - 1]
    }

    fn used(&self) -> bool {
        !self.index.is_empty() || !self.functions.is_empty()
    }

    /// The commands with figures, in first-use order.
    pub fn rows(&self) -> &[CommandRow] {
        &self.rows
    }

    /// The functions with figures.
    pub fn functions(&self) -> &[FunctionRow] {
        &self.functions
    }

    /// Killed calls.
    pub fn totals(&self) -> FunctionTotals {
        self.totals
    }

    /// Rejected commands by [`Rejection::ALL`] order.
    pub fn rejections(&self) -> [u64; 7] {
        self.rejections
    }
}

/// One core's figures, per tenant slot.
#[derive(Debug, Clone, Default)]
pub struct CommandStats {
    tenants: Vec<TenantRows>,
}

impl CommandStats {
    fn tenant(&mut self, tenant: TenantId) -> &mut TenantRows {
        let index = tenant.index();
        if index >= self.tenants.len() {
            self.tenants.resize_with(index + 1, TenantRows::default);
        }
        let rows = &mut self.tenants[index];
        if rows.generation != tenant.generation() {
            // The slot's tenant was deleted and the slot reused.
            *rows = TenantRows {
                generation: tenant.generation(),
                ..TenantRows::default()
            };
        }
        rows
    }

    /// `spec` ran for `tenant` in `nanos` (`None`: not timed here), and
    /// answered an error if `failed`.
    pub fn ran(&mut self, tenant: TenantId, spec: &CommandSpec, nanos: Option<u64>, failed: bool) {
        let Some(id) = commands::spec_id(spec) else {
            return;
        };
        let row = self.tenant(tenant).row(id);
        row.calls += 1;
        row.failed += u64::from(failed);
        if let Some(ns) = nanos {
            row.nanos += ns;
            record_ns(
                row.latency.get_or_insert_with(|| Box::new(new_latency())),
                ns,
                1,
            );
        }
    }

    /// `spec` was refused for `tenant` before it ran, with `refusal`.
    pub fn rejected(&mut self, tenant: TenantId, spec: &CommandSpec, refusal: &Reply) {
        let reason = Rejection::of(refusal);
        let rows = self.tenant(tenant);
        rows.rejections[reason as usize] += 1;
        if let Some(id) = commands::spec_id(spec) {
            rows.row(id).rejected += 1;
        }
    }

    /// A call of `library.function` for `tenant` took `nanos`; at most
    /// `cap` functions are told apart per tenant (the rest count as
    /// [`OTHER`]); `killed` says why it was stopped, if it was.
    pub fn function_called(
        &mut self,
        tenant: TenantId,
        (library, function): (&str, &str),
        nanos: u64,
        killed: Option<Killed>,
        cap: usize,
    ) {
        let rows = self.tenant(tenant);
        if let Some(why) = killed {
            rows.totals.killed[why as usize] += 1;
        }
        let found = rows
            .functions
            .iter()
            .position(|r| r.function == function && r.library == library);
        let at = match found {
            Some(at) => at,
            None => {
                let named = rows.functions.iter().filter(|r| r.library != OTHER).count();
                let (library, function) = if named < cap {
                    (library, function)
                } else {
                    (OTHER, OTHER)
                };
                match rows
                    .functions
                    .iter()
                    .position(|r| r.function == function && r.library == library)
                {
                    Some(at) => at,
                    None => {
                        rows.functions.push(FunctionRow {
                            library: library.into(),
                            function: function.into(),
                            calls: 0,
                            nanos: 0,
                        });
                        rows.functions.len() - 1
                    }
                }
            }
        };
        let row = &mut rows.functions[at];
        row.calls += 1;
        row.nanos += nanos;
    }

    /// `tenant`'s figures here, if it has any.
    pub fn of(&self, tenant: TenantId) -> Option<&TenantRows> {
        self.tenants
            .get(tenant.index())
            .filter(|rows| rows.generation == tenant.generation() && rows.used())
    }

    /// Every tenant's figures here, with its slot index and generation.
    pub fn all(&self) -> impl Iterator<Item = (TenantId, &TenantRows)> {
        self.tenants
            .iter()
            .enumerate()
            .filter(|(_, rows)| rows.used())
            .map(|(index, rows)| (TenantId::new(index, rows.generation), rows))
    }

    /// `CONFIG RESETSTAT`: forgets every figure.
    pub fn reset(&mut self) {
        self.tenants.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> &'static CommandSpec {
        commands::spec_named(name).unwrap()
    }

    #[test]
    fn rows_are_per_tenant_and_command() {
        let mut stats = CommandStats::default();
        let (a, b) = (TenantId::new(1, 0), TenantId::new(2, 0));
        stats.ran(a, spec("get"), Some(1500), false);
        stats.ran(a, spec("get"), Some(2500), true);
        stats.rejected(a, spec("set"), &Reply::error("OOM command not allowed"));
        stats.ran(b, spec("config|get"), None, false);
        let rows = stats.of(a).unwrap().rows();
        assert_eq!(rows.len(), 2);
        let get = &rows[0];
        assert_eq!(commands::catalog()[get.id as usize].spec.name, "get");
        assert_eq!(
            (get.calls, get.nanos, get.failed, get.rejected),
            (2, 4000, 1, 0)
        );
        assert_eq!(get.latency.as_ref().unwrap().len(), 2);
        assert_eq!((rows[1].calls, rows[1].rejected), (0, 1));
        let memory = Rejection::Memory as usize;
        assert_eq!(stats.of(a).unwrap().rejections()[memory], 1);
        let config = &stats.of(b).unwrap().rows()[0];
        assert_eq!(
            commands::catalog()[config.id as usize].spec.name,
            "config|get"
        );
        assert!(config.latency.is_none());
        // A reused slot starts afresh.
        assert!(stats.of(TenantId::new(1, 1)).is_none());
        stats.ran(TenantId::new(1, 1), spec("get"), None, false);
        assert_eq!(stats.of(TenantId::new(1, 1)).unwrap().rows()[0].calls, 1);
        stats.reset();
        assert!(stats.of(b).is_none());
    }

    #[test]
    fn functions_past_the_cap_fold_into_other() {
        let mut stats = CommandStats::default();
        let t = TenantId::new(3, 0);
        for f in ["a", "b", "c", "a"] {
            stats.function_called(t, ("lib", f), 10, None, 2);
        }
        stats.function_called(t, ("lib", "d"), 5, Some(Killed::Budget), 2);
        let rows = stats.of(t).map_or(&[][..], |r| r.functions());
        let got: Vec<(&str, &str, u64, u64)> = rows
            .iter()
            .map(|r| (r.library.as_str(), r.function.as_str(), r.calls, r.nanos))
            .collect();
        assert_eq!(
            got,
            [
                ("lib", "a", 2, 20),
                ("lib", "b", 1, 10),
                (OTHER, OTHER, 2, 15)
            ]
        );
        assert_eq!(stats.of(t).unwrap().totals().killed, [1, 0, 0]);
    }

    #[test]
    fn kill_reasons_come_from_the_runtime_errors() {
        let budget = "ERR Function 'spin' was terminated: it ran past its 50 ms CPU budget";
        let heap = "ERR Function 'grow' was terminated: it exceeded the 64 MiB heap limit";
        assert_eq!(Killed::from_error(budget), Some(Killed::Budget));
        assert_eq!(Killed::from_error(heap), Some(Killed::Heap));
        assert_eq!(
            Killed::from_error("ERR Script killed by user with FUNCTION KILL"),
            Some(Killed::Kill)
        );
        assert_eq!(Killed::from_error("ERR Function 'x' threw"), None);
    }
}
