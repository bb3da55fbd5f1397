//! Operating figures: per-command accounting on each core, Redis's
//! `commandstats` / `latencystats` / `LATENCY HISTOGRAM` layouts, and the
//! Prometheus endpoint.
//!
//! ```text
//!  core k (owns by value)                         kiln-metrics thread
//!   CoreStats.commands: CommandStats ──┐           GET /metrics
//!   CoreStats.turns: TurnTimes         │ tick:       │ locks one slot at a time,
//!                                      ├─ try_lock ─► Shared.metrics[k]: Mutex<Arc<CoreSnapshot>>
//!   Tenants usage atomics (memory, keys, commands, cpu) ──────────► read directly
//! ```
//!
//! A core never waits for the endpoint: it swaps its snapshot in with
//! `try_lock` and, when the endpoint holds the slot, tries again next tick.
//! The endpoint holds a slot only to clone an `Arc`.
//!
//! Modules: [`accounting`] (the per-core table), [`latency`] (Redis's
//! layouts and the form parts travel in), [`endpoint`] (the HTTP thread
//! and the exposition).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kiln_net::Reply;
use kiln_net::transport::NetCounters;
use kiln_store::TenantId;

pub mod accounting;
pub mod endpoint;
pub mod latency;

use accounting::{FunctionRow, FunctionTotals};

/// Why a command was refused before it ran (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Wrong number of arguments.
    Arity,
    /// Not authenticated.
    Auth,
    /// The tenant may not run it (`NOPERM`).
    Permission,
    /// Over the tenant's quota or the server's `maxmemory` (`OOM`).
    Memory,
    /// Its keys are on another core or span cores (`MOVED`, `CROSSSLOT`).
    WrongCore,
    /// The append-only log cannot take writes (`MISCONF`).
    Persistence,
    /// Anything else (a function's read-only call, loading...).
    Other,
}

impl Rejection {
    /// Every reason, in index order.
    pub const ALL: [Rejection; 7] = [
        Rejection::Arity,
        Rejection::Auth,
        Rejection::Permission,
        Rejection::Memory,
        Rejection::WrongCore,
        Rejection::Persistence,
        Rejection::Other,
    ];

    /// The reason of a refusal, from its error reply's code.
    pub fn of(reply: &Reply) -> Rejection {
        let Reply::Error(text) = reply else {
            return Rejection::Other;
        };
        let code = text.split(' ').next().unwrap_or("");
        match code {
            "NOAUTH" => Rejection::Auth,
            "NOPERM" => Rejection::Permission,
            "OOM" => Rejection::Memory,
            "MOVED" | "ASK" | "CROSSSLOT" | "TRYAGAIN" | "CLUSTERDOWN" => Rejection::WrongCore,
            "MISCONF" => Rejection::Persistence,
            "ERR" if text.starts_with("ERR wrong number of arguments") => Rejection::Arity,
            _ => Rejection::Other,
        }
    }

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Rejection::Arity => "arity",
            Rejection::Auth => "auth",
            Rejection::Permission => "permission",
            Rejection::Memory => "memory",
            Rejection::WrongCore => "wrong_core",
            Rejection::Persistence => "persistence",
            Rejection::Other => "other",
        }
    }
}

/// Event-loop turn durations, power-of-two buckets of microseconds: bucket
/// `i` counts turns of at most `2^i` µs; the last, everything longer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TurnTimes {
    /// Turns per bucket (not cumulative).
    pub buckets: [u64; TURN_BUCKETS],
    /// Their total time, in nanoseconds.
    pub nanos: u64,
}

/// Buckets of [`TurnTimes`]: up to 2^20 µs (about a second), then the rest.
pub const TURN_BUCKETS: usize = 22;

impl TurnTimes {
    /// Records one turn.
    pub fn record(&mut self, took: Duration) {
        let us = took.as_micros() as u64;
        // ceil(log2(us)), 0 for 0 and 1 µs.
        let bucket = (u64::BITS - us.saturating_sub(1).leading_zeros()) as usize;
        self.buckets[bucket.min(TURN_BUCKETS - 1)] += 1;
        self.nanos += took.as_nanos() as u64;
    }

    /// The upper bound of bucket `i`, in seconds (`None` for the last).
    pub fn bound(i: usize) -> Option<f64> {
        (i + 1 < TURN_BUCKETS).then(|| (1u64 << i) as f64 / 1e6)
    }
}

/// One tenant's figures on one core, as published.
#[derive(Debug, Clone, Default)]
pub struct TenantSnapshot {
    /// The tenant.
    pub tenant: TenantId,
    /// Per command id: calls, failed calls, nanoseconds.
    pub commands: Vec<(u16, u64, u64, u64)>,
    /// Rejected commands by [`Rejection::ALL`] order.
    pub rejected: [u64; 7],
    /// Per function.
    pub functions: Vec<FunctionRow>,
    /// Killed calls.
    pub totals: FunctionTotals,
    /// Whether the tenant has an isolate on this core.
    pub isolate: bool,
    /// Its isolates this core created and evicted.
    pub churn: kiln_functions::IsolateChurn,
}

/// What a core publishes for the endpoint.
#[derive(Debug, Clone, Default)]
pub struct CoreSnapshot {
    /// When (None: never published).
    pub at: Option<Instant>,
    /// Commands processed.
    pub commands: u64,
    /// Requests forwarded to other cores.
    pub forwarded: u64,
    /// Cross-core messages handled.
    pub messages_received: u64,
    /// Messages sent to other cores.
    pub messages_sent: u64,
    /// Error replies.
    pub errors: u64,
    /// Connections refused at `maxclients`.
    pub rejected_connections: u64,
    /// The transport's counters.
    pub net: NetCounters,
    /// Isolates kept, their heap, created, evicted, throttled calls.
    pub isolates: (u64, u64, u64, u64, u64),
    /// Turn times.
    pub turns: TurnTimes,
    /// Per tenant.
    pub tenants: Vec<TenantSnapshot>,
}

/// Where each core's latest snapshot waits for the endpoint.
#[derive(Debug)]
pub struct Published {
    slots: Box<[Mutex<Arc<CoreSnapshot>>]>,
}

impl Published {
    /// Empty slots for `cores` cores.
    pub fn new(cores: usize) -> Published {
        Published {
            slots: (0..cores).map(|_| Mutex::default()).collect(),
        }
    }

    /// Core `core` offers `snapshot`; `false` when the endpoint held the
    /// slot (the core never waits: it offers again later).
    pub fn offer(&self, core: usize, snapshot: CoreSnapshot) -> bool {
        let Some(slot) = self.slots.get(core) else {
            return false;
        };
        match slot.try_lock() {
            Ok(mut held) => {
                *held = Arc::new(snapshot);
                true
            }
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                *poisoned.into_inner() = Arc::new(snapshot);
                true
            }
            Err(std::sync::TryLockError::WouldBlock) => false,
        }
    }

    /// Every core's latest snapshot (the endpoint's side).
    pub fn read(&self) -> Vec<Arc<CoreSnapshot>> {
        self.slots
            .iter()
            .map(|slot| Arc::clone(&slot.lock().unwrap_or_else(|e| e.into_inner())))
            .collect()
    }
}

/// How often a core publishes while the endpoint is on.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(200);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_are_told_by_their_code() {
        let of = |s: &'static str| Rejection::of(&Reply::error(s));
        assert_eq!(
            of("NOPERM User a has no permissions"),
            Rejection::Permission
        );
        assert_eq!(of("OOM command not allowed"), Rejection::Memory);
        assert_eq!(of("MOVED 12 127.0.0.1:7001"), Rejection::WrongCore);
        assert_eq!(of("CROSSSLOT Keys in request"), Rejection::WrongCore);
        assert_eq!(of("NOAUTH Authentication required."), Rejection::Auth);
        assert_eq!(
            of("ERR wrong number of arguments for 'get' command"),
            Rejection::Arity
        );
        assert_eq!(of("ERR something"), Rejection::Other);
        assert_eq!(Rejection::of(&Reply::OK), Rejection::Other);
    }

    #[test]
    fn turn_buckets_are_powers_of_two() {
        let mut t = TurnTimes::default();
        for us in [0, 1, 2, 3, 4, 5, 1000, 10_000_000] {
            t.record(Duration::from_micros(us));
        }
        assert_eq!(&t.buckets[..4], &[2, 1, 2, 1]);
        assert_eq!(t.buckets[10], 1); // 1000 µs ≤ 1024
        assert_eq!(t.buckets[TURN_BUCKETS - 1], 1);
        assert_eq!(TurnTimes::bound(0), Some(1e-6));
        assert_eq!(TurnTimes::bound(TURN_BUCKETS - 1), None);
    }

    #[test]
    fn a_held_slot_is_skipped_not_waited_for() {
        let published = Published::new(2);
        let held = published.slots[1].lock().unwrap();
        assert!(published.offer(
            0,
            CoreSnapshot {
                commands: 3,
                ..CoreSnapshot::default()
            }
        ));
        assert!(!published.offer(1, CoreSnapshot::default()));
        drop(held);
        let read = published.read();
        assert_eq!(read[0].commands, 3);
        assert!(!published.offer(7, CoreSnapshot::default()));
    }
}
