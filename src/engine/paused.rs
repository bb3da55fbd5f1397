//! A core's part of `CLIENT PAUSE`: the pause in force here and the
//! requests it parked.
//!
//! Every core is told of a pause by a job (`Job::Pause`), so checking one
//! is a field of the core on each request, not a shared load. A request a
//! pause holds is kept in its session (`Session::parked`): the connection
//! reads nothing more (its later requests must not overtake it), the core
//! goes on serving everyone else, and when the pause ends — `CLIENT
//! UNPAUSE`, or its timeout, on which the core's timer sends it
//! `Msg::Resume` — the parked requests run as if they had just arrived.
//! While a pause is in force the core runs no active expiry (Redis 7
//! deletes no key while paused).

use std::time::{Duration, Instant};

use crate::commands::client::pause::{PauseMode, PauseOp};

/// The longest a pause lasts on a core's clock (any longer is for ever).
const CENTURY_MS: u64 = 100 * 365 * 86_400_000;

/// The pause on this core and the clients it holds.
#[derive(Default)]
pub struct Paused {
    pause: Option<Pause>,
    /// Connections (key, client id) with a parked request, in the order
    /// they were parked.
    pub(super) parked: Vec<(usize, u64)>,
    /// A pause ended where the parked requests could not run at once (a
    /// transaction's `CLIENT UNPAUSE`): the core's timers send
    /// `Msg::Resume`.
    pub(super) resume_soon: bool,
}

#[derive(Debug, Clone, Copy)]
struct Pause {
    end: Instant,
    until_ms: u64,
    mode: PauseMode,
}

impl Paused {
    /// Whether a pause may be in force (the check on every request).
    #[inline]
    pub fn any(&self) -> bool {
        self.pause.is_some()
    }

    /// The pause in force at `now`, if any.
    pub fn mode(&self, now: Instant) -> Option<PauseMode> {
        self.pause.filter(|p| p.end > now).map(|p| p.mode)
    }

    /// Applies `op` at `now` (`now_ms` on the unix clock); true when the
    /// parked requests should run now.
    pub fn apply(&mut self, op: PauseOp, now: Instant, now_ms: u64) -> bool {
        match op {
            PauseOp::Unpause => {
                self.pause = None;
                !self.parked.is_empty()
            }
            PauseOp::Pause { until_ms, mode } => {
                // As Redis: a pause under way keeps its later end and the
                // stricter of the two modes.
                let current = self.pause.filter(|p| p.end > now);
                let (until_ms, mode) = match current {
                    Some(p) => (p.until_ms.max(until_ms), p.mode.max(mode)),
                    None => (until_ms, mode),
                };
                // `CLIENT PAUSE 9223372036854775000` is valid: the core's
                // clock is not asked to count past a century.
                let wait = until_ms.saturating_sub(now_ms).min(CENTURY_MS);
                let end = now
                    .checked_add(Duration::from_millis(wait))
                    .unwrap_or(now + Duration::from_secs(86_400));
                self.pause = Some(Pause {
                    end,
                    until_ms,
                    mode,
                });
                // A pause of 0 ms (or one already over) releases at once.
                end <= now && !self.parked.is_empty()
            }
        }
    }

    /// When the core must wake to end the pause: only while it holds
    /// requests (an idle pause simply lapses).
    pub fn deadline(&self) -> Option<Instant> {
        self.pause
            .filter(|_| !self.parked.is_empty())
            .map(|p| p.end)
    }

    /// Forgets a pause that is over at `now` and holds nothing (one that
    /// holds requests ends by [`Paused::lapse`], which runs them).
    pub fn forget_if_idle(&mut self, now: Instant) {
        if self.parked.is_empty() && self.pause.is_some_and(|p| p.end <= now) {
            self.pause = None;
        }
    }

    /// Ends a pause whose time is up at `now`; true when parked requests
    /// are waiting to run.
    pub fn lapse(&mut self, now: Instant) -> bool {
        match self.pause {
            Some(p) if p.end <= now => {
                self.pause = None;
                !self.parked.is_empty()
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_end_and_stricter_mode_win() {
        let now = Instant::now();
        let mut p = Paused::default();
        let pause = |until_ms, mode| PauseOp::Pause { until_ms, mode };
        assert!(!p.apply(pause(1200, PauseMode::All), now, 1000));
        assert!(!p.apply(pause(1020, PauseMode::Write), now, 1000));
        p.forget_if_idle(now);
        assert!(p.any(), "still under way");
        assert_eq!(p.mode(now), Some(PauseMode::All));
        assert_eq!(
            p.mode(now + Duration::from_millis(150)),
            Some(PauseMode::All)
        );
        assert_eq!(p.mode(now + Duration::from_millis(200)), None);
        p.forget_if_idle(now + Duration::from_millis(200));
        assert!(!p.any());
        // Once over, a new pause starts afresh.
        let later = now + Duration::from_millis(300);
        p.apply(pause(1310, PauseMode::Write), later, 1300);
        assert_eq!(p.mode(later), Some(PauseMode::Write));
        assert_eq!(p.deadline(), None, "nothing parked: no timer");
        p.parked.push((3, 7));
        assert_eq!(p.deadline(), Some(later + Duration::from_millis(10)));
        assert!(!p.lapse(later));
        assert!(p.lapse(later + Duration::from_millis(10)));
        assert!(!p.any());
        p.apply(pause(5000, PauseMode::All), later, 1300);
        assert!(p.apply(PauseOp::Unpause, later, 1300));
        assert_eq!(p.mode(later), None);
    }

    #[test]
    fn the_longest_pause_does_not_overflow_the_clock() {
        let now = Instant::now();
        let mut p = Paused::default();
        let until_ms = i64::MAX as u64;
        p.apply(
            PauseOp::Pause {
                until_ms,
                mode: PauseMode::Write,
            },
            now,
            0,
        );
        assert_eq!(
            p.mode(now + Duration::from_secs(1 << 30)),
            Some(PauseMode::Write)
        );
        p.apply(
            PauseOp::Pause {
                until_ms,
                mode: PauseMode::All,
            },
            now,
            0,
        );
        assert_eq!(p.mode(now), Some(PauseMode::All));
    }
}
