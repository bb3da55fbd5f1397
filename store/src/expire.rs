//! Deadlines: EXPIRE-family with NX / XX / GT / LT, TTL / PTTL / EXPIRETIME,
//! PERSIST, and active expiry.
//!
//! Lazy expiry (every lookup reaps a dead key first) keeps reads correct;
//! active expiry only reclaims memory held by dead keys nobody reads. It
//! samples the volatile index, never the whole table, so its cost does not
//! grow with the number of keys that live forever.

use crate::shard::Shard;

/// Keys sampled per round of active expiry (Redis's
/// `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`).
const SAMPLE_SIZE: usize = 20;

/// Another round runs while more than this share of a sample was expired,
/// in percent (Redis's `ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE`).
const ACCEPTABLE_STALE_PERCENT: usize = 10;

/// Volatile keys looked at by [`Shard::avg_ttl_ms`].
const AVG_TTL_SAMPLES: usize = 64;

/// The flag of an EXPIRE-family command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpireCondition {
    /// No flag.
    #[default]
    Always,
    /// NX: only if the key has no deadline.
    Nx,
    /// XX: only if the key has a deadline.
    Xx,
    /// GT: only if the new deadline is later. No deadline counts as
    /// infinitely late, so GT never applies to a persistent key.
    Gt,
    /// LT: only if the new deadline is earlier. No deadline counts as
    /// infinitely late, so LT always applies to a persistent key.
    Lt,
}

/// A key's deadline as TTL / PTTL / EXPIRETIME report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// No such key (Redis replies -2).
    Missing,
    /// The key never expires (-1).
    Persistent,
    /// Absolute deadline, unix ms; the command layer subtracts
    /// [`Shard::now`] for TTL / PTTL.
    At(u64),
}

impl Shard {
    /// EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT with `at_ms` already absolute.
    /// True when the deadline was set, or when the key was deleted because
    /// `at_ms` is not in the future and the condition held; false when the
    /// key is missing or the condition failed.
    pub fn expire_at(&mut self, key: &[u8], at_ms: u64, cond: ExpireCondition) -> bool {
        let Some(idx) = self.live_index(key) else {
            return false;
        };
        let current = self.table[idx].expire_at;
        let allowed = match cond {
            ExpireCondition::Always => true,
            ExpireCondition::Nx => current.is_none(),
            ExpireCondition::Xx => current.is_some(),
            ExpireCondition::Gt => matches!(current, Some(t) if at_ms > t),
            ExpireCondition::Lt => current.is_none_or(|t| at_ms < t),
        };
        if !allowed {
            return false;
        }
        if at_ms <= self.now_ms {
            self.remove_for_deadline(idx);
        } else {
            self.set_deadline(idx, Some(at_ms));
        }
        true
    }

    /// The key's deadline. Counts as a read for hit / miss statistics, as
    /// Redis's TTL does.
    pub fn ttl(&mut self, key: &[u8]) -> Ttl {
        match self.read_index(key) {
            None => Ttl::Missing,
            Some(idx) => match self.table[idx].expire_at {
                None => Ttl::Persistent,
                Some(t) => Ttl::At(t),
            },
        }
    }

    /// The key's deadline as stored, touching neither statistics nor
    /// expiry (the log records it after a write that set it).
    pub fn deadline(&self, key: &[u8]) -> Option<u64> {
        self.table.get(key).and_then(|record| record.expire_at)
    }

    /// PERSIST: removes the deadline; true if there was one.
    pub fn persist(&mut self, key: &[u8]) -> bool {
        let Some(idx) = self.live_index(key) else {
            return false;
        };
        if self.table[idx].expire_at.is_none() {
            return false;
        }
        self.set_deadline(idx, None);
        true
    }

    /// One active expiry cycle, Redis style: sample 20 keys with a deadline
    /// at random, delete the expired ones, and go again while more than 10%
    /// of the sample was expired, until `max_checks` keys have been examined.
    /// Returns how many keys it deleted.
    pub fn active_expire_cycle(&mut self, max_checks: usize) -> usize {
        use rand::Rng;

        let mut checked = 0;
        let mut removed = 0;
        let mut sampled_total = 0;
        let mut expired_total = 0;
        while !self.volatile.is_empty() && checked < max_checks {
            let round = SAMPLE_SIZE
                .min(self.volatile.len())
                .min(max_checks - checked);
            let mut expired = 0;
            for _ in 0..round {
                if self.volatile.is_empty() {
                    break;
                }
                let v = self.rng.random_range(0..self.volatile.len());
                let idx = self
                    .table
                    .get_index_of(&self.volatile[v][..])
                    .expect("volatile key is in the table");
                if self.table[idx].is_expired_at(self.now_ms) {
                    self.expire_at_index(idx);
                    expired += 1;
                }
            }
            checked += round;
            sampled_total += round;
            expired_total += expired;
            removed += expired;
            if expired * 100 <= round * ACCEPTABLE_STALE_PERCENT {
                break;
            }
            if checked >= max_checks {
                self.stats.expired_time_cap_reached_count += 1;
            }
        }
        if sampled_total > 0 {
            // Redis's smoothing: 5% weight to this cycle's observation.
            let current = expired_total as f64 / sampled_total as f64;
            self.stats.expired_stale_perc = current * 0.05 + self.stats.expired_stale_perc * 0.95;
        }
        removed
    }

    /// Rough average remaining TTL of keys with a deadline, in ms, for INFO
    /// keyspace `avg_ttl`; 0 when there are none. Exact for up to 64 volatile
    /// keys, otherwise estimated from 64 evenly spaced slots of the volatile
    /// index (an estimate, as Redis's is). Already expired keys are ignored.
    pub fn avg_ttl_ms(&self) -> u64 {
        let n = self.volatile.len();
        if n == 0 {
            return 0;
        }
        let samples = n.min(AVG_TTL_SAMPLES);
        let (mut sum, mut counted) = (0u128, 0u128);
        for i in 0..samples {
            let key = &self.volatile[i * n / samples];
            if let Some(t) = self.table.get(&key[..]).and_then(|r| r.expire_at)
                && t > self.now_ms
            {
                sum += u128::from(t - self.now_ms);
                counted += 1;
            }
        }
        sum.checked_div(counted).map_or(0, |avg| avg as u64)
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::shard::ShardConfig;
    use crate::strings::{SetExpire, SetOptions};

    const NOW: u64 = 1_000_000;

    fn shard() -> Shard {
        let mut s = Shard::new(ShardConfig::default());
        s.set_now(NOW);
        s
    }

    fn set(s: &mut Shard, k: &[u8], ttl: Option<u64>) {
        let expire = ttl.map_or(SetExpire::Clear, |t| SetExpire::At(NOW + t));
        s.set(
            k,
            Bytes::from_static(b"v"),
            SetOptions {
                expire,
                ..SetOptions::default()
            },
        )
        .unwrap();
    }

    #[test]
    fn expire_and_ttl() {
        let mut s = shard();
        assert_eq!(s.ttl(b"k"), Ttl::Missing);
        assert!(!s.expire_at(b"k", NOW + 10, ExpireCondition::Always));
        set(&mut s, b"k", None);
        assert_eq!(s.ttl(b"k"), Ttl::Persistent);
        assert!(s.expire_at(b"k", NOW + 10, ExpireCondition::Always));
        assert_eq!(s.ttl(b"k"), Ttl::At(NOW + 10));
        s.set_now(NOW + 10);
        assert_eq!(s.ttl(b"k"), Ttl::Missing);
        assert_eq!(s.stats().expired_keys, 1);
        s.assert_consistent();
    }

    #[test]
    fn expire_in_the_past_deletes() {
        let mut s = shard();
        set(&mut s, b"k", Some(100));
        assert!(s.expire_at(b"k", NOW, ExpireCondition::Always));
        assert!(!s.exists(b"k"));
        set(&mut s, b"k", None);
        assert!(s.expire_at(b"k", 0, ExpireCondition::Always));
        assert!(!s.exists(b"k"));
        assert_eq!(s.volatile_len(), 0);
        s.assert_consistent();
    }

    #[test]
    fn nx_and_xx() {
        let mut s = shard();
        set(&mut s, b"k", None);
        assert!(!s.expire_at(b"k", NOW + 10, ExpireCondition::Xx));
        assert_eq!(s.ttl(b"k"), Ttl::Persistent);
        assert!(s.expire_at(b"k", NOW + 10, ExpireCondition::Nx));
        assert!(!s.expire_at(b"k", NOW + 20, ExpireCondition::Nx));
        assert_eq!(s.ttl(b"k"), Ttl::At(NOW + 10));
        assert!(s.expire_at(b"k", NOW + 20, ExpireCondition::Xx));
        assert_eq!(s.ttl(b"k"), Ttl::At(NOW + 20));
    }

    #[test]
    fn gt_and_lt_treat_no_ttl_as_infinite() {
        let mut s = shard();
        set(&mut s, b"k", None);
        assert!(!s.expire_at(b"k", NOW + 10, ExpireCondition::Gt));
        assert_eq!(s.ttl(b"k"), Ttl::Persistent);
        assert!(s.expire_at(b"k", NOW + 10, ExpireCondition::Lt));
        assert_eq!(s.ttl(b"k"), Ttl::At(NOW + 10));
        assert!(
            !s.expire_at(b"k", NOW + 10, ExpireCondition::Gt),
            "equal is not greater"
        );
        assert!(!s.expire_at(b"k", NOW + 5, ExpireCondition::Gt));
        assert!(s.expire_at(b"k", NOW + 20, ExpireCondition::Gt));
        assert!(
            !s.expire_at(b"k", NOW + 20, ExpireCondition::Lt),
            "equal is not less"
        );
        assert!(!s.expire_at(b"k", NOW + 30, ExpireCondition::Lt));
        assert!(s.expire_at(b"k", NOW + 15, ExpireCondition::Lt));
        assert_eq!(s.ttl(b"k"), Ttl::At(NOW + 15));
        // A failed condition never deletes, even for a past deadline.
        assert!(!s.expire_at(b"k", 1, ExpireCondition::Gt));
        assert!(s.exists(b"k"));
        assert!(s.expire_at(b"k", 1, ExpireCondition::Lt));
        assert!(!s.exists(b"k"));
    }

    #[test]
    fn persist() {
        let mut s = shard();
        assert!(!s.persist(b"k"));
        set(&mut s, b"k", None);
        assert!(!s.persist(b"k"));
        s.expire_at(b"k", NOW + 10, ExpireCondition::Always);
        assert!(s.persist(b"k"));
        assert_eq!(s.ttl(b"k"), Ttl::Persistent);
        assert_eq!(s.volatile_len(), 0);
        s.set_now(NOW + 100);
        assert!(s.exists(b"k"));
        s.assert_consistent();
    }

    #[test]
    fn active_cycle_reaps_expired_keys() {
        let mut s = shard();
        for i in 0..1000u32 {
            set(&mut s, format!("dead{i}").as_bytes(), Some(10));
        }
        for i in 0..100u32 {
            set(&mut s, format!("live{i}").as_bytes(), Some(1_000_000));
        }
        for i in 0..5000u32 {
            set(&mut s, format!("forever{i}").as_bytes(), None);
        }
        s.set_now(NOW + 10);
        let mut removed = 0;
        for _ in 0..1000 {
            removed += s.active_expire_cycle(200);
            if s.volatile_len() == 100 {
                break;
            }
        }
        // Sampling stops once under 10% of a sample is stale, so a few dead
        // keys may remain; most must be gone and no live one touched.
        assert!(removed >= 900, "removed {removed}");
        assert_eq!(s.len(), 5100 + 1000 - removed);
        assert_eq!(s.stats().expired_keys as usize, removed);
        for i in 0..100u32 {
            assert!(s.exists(format!("live{i}").as_bytes()));
        }
        assert!(s.stats().expired_stale_perc > 0.0);
        s.assert_consistent();
    }

    #[test]
    fn active_cycle_respects_its_budget() {
        let mut s = shard();
        for i in 0..1000u32 {
            set(&mut s, format!("dead{i}").as_bytes(), Some(1));
        }
        s.set_now(NOW + 1);
        let removed = s.active_expire_cycle(50);
        assert_eq!(
            removed, 50,
            "every sample is stale, the budget is the limit"
        );
        assert_eq!(s.stats().expired_time_cap_reached_count, 1);
        assert_eq!(s.active_expire_cycle(0), 0);
        // Nothing volatile: nothing to do, whatever the table holds.
        let mut s = shard();
        set(&mut s, b"forever", None);
        assert_eq!(s.active_expire_cycle(1000), 0);
    }

    #[test]
    fn avg_ttl() {
        let mut s = shard();
        assert_eq!(s.avg_ttl_ms(), 0);
        set(&mut s, b"a", Some(100));
        set(&mut s, b"b", Some(300));
        set(&mut s, b"c", None);
        assert_eq!(s.avg_ttl_ms(), 200);
        for i in 0..10_000u64 {
            set(&mut s, format!("k{i}").as_bytes(), Some(1000 + i % 1000));
        }
        let avg = s.avg_ttl_ms();
        assert!((1300..1700).contains(&avg), "estimate {avg}");
    }
}
