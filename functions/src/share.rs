//! Fair sharing of a core between tenants: each tenant's functions may use
//! a share of each core over time, metered by a token bucket per tenant per
//! core.
//!
//! A per-call budget bounds one call; it does not stop a tenant from
//! calling a function that runs just under it back to back and so taking
//! the whole core from every other tenant on it. The meter does: a tenant
//! may spend up to its share of [`CpuShare::WINDOW`] in one burst, then
//! only its share of the time that passes. A call is admitted while the
//! bucket holds any credit and charged what it actually took afterwards
//! (the bucket can go into debt by up to one call's budget), so a tenant
//! within its share never notices the meter.

use std::time::{Duration, Instant};

use kiln_net::Reply;

/// The share of one core a tenant's functions may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuShare {
    /// Percent of the core, 1–100; 100 is the whole core (never refused).
    pub percent: u32,
}

impl CpuShare {
    /// The whole core: calls are never refused for CPU.
    pub const WHOLE_CORE: CpuShare = CpuShare { percent: 100 };

    /// Kiln's default for tenants (operators get the whole core): with the
    /// default 5 ms call budget, the share that keeps a neighbour's GET p99
    /// under 5 ms with margin (`benches/noisy-neighbour.sh`).
    pub const DEFAULT_TENANT: CpuShare = CpuShare { percent: 25 };

    /// The longest burst a tenant may take at once is its share of this.
    pub const WINDOW: Duration = Duration::from_secs(1);

    fn burst(self) -> Duration {
        Self::WINDOW * self.percent / 100
    }

    /// The reply to a call refused for CPU; like Redis Cluster's
    /// `TRYAGAIN`, it tells a client to retry after a pause.
    pub fn refusal(self) -> Reply {
        Reply::error_owned(format!(
            "TRYAGAIN functions of this tenant used their {}% CPU share of this core; retry later",
            self.percent
        ))
    }
}

impl Default for CpuShare {
    fn default() -> Self {
        CpuShare::DEFAULT_TENANT
    }
}

/// One tenant's bucket on one core.
#[derive(Debug)]
pub(crate) struct ShareMeter {
    pub(crate) share: CpuShare,
    /// Credit left, in nanoseconds of core time; negative in debt.
    credit: i128,
    at: Instant,
}

impl ShareMeter {
    /// A full bucket.
    pub(crate) fn full(share: CpuShare, now: Instant) -> ShareMeter {
        ShareMeter {
            share,
            credit: share.burst().as_nanos() as i128,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_nanos() as i128;
        let earned = elapsed * self.share.percent as i128 / 100;
        let cap = self.share.burst().as_nanos() as i128;
        self.credit = (self.credit + earned).min(cap);
        self.at = now;
    }

    /// Whether a call may start now.
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        if self.share.percent >= 100 {
            return true;
        }
        self.refill(now);
        self.credit > 0
    }

    /// Charges `spent` of core time.
    pub(crate) fn charge(&mut self, spent: Duration) {
        if self.share.percent < 100 {
            self.credit -= spent.as_nanos() as i128;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_bursts_its_share_then_earns_it_back_at_its_rate() {
        let t0 = Instant::now();
        let share = CpuShare { percent: 25 };
        let mut meter = ShareMeter::full(share, t0);
        // 250 ms of burst: five 50 ms calls, the fifth ending in credit 0.
        for _ in 0..5 {
            assert!(meter.admit(t0));
            meter.charge(Duration::from_millis(50));
        }
        assert!(!meter.admit(t0), "the burst is spent");
        // 25% of 100 ms earns 25 ms of credit back.
        assert!(meter.admit(t0 + Duration::from_millis(100)));
        meter.charge(Duration::from_millis(50));
        assert!(!meter.admit(t0 + Duration::from_millis(100)));
        // Credit never exceeds one burst, however long the tenant idles.
        let later = t0 + Duration::from_secs(3600);
        assert!(meter.admit(later));
        meter.charge(Duration::from_millis(251));
        assert!(!meter.admit(later));
    }

    #[test]
    fn the_whole_core_is_never_refused() {
        let t0 = Instant::now();
        let mut meter = ShareMeter::full(CpuShare::WHOLE_CORE, t0);
        for _ in 0..100 {
            meter.charge(Duration::from_secs(1));
            assert!(meter.admit(t0));
        }
    }
}
